//! Checking flags and segments and building their evaluation-ready form.
//!
//! Everything that can be decided once is decided here: variation references
//! become indexes, id lists become hash sets, regexes, semvers and dates are
//! parsed, rollout weights become cumulative bucket bounds. A compiled flag
//! is immutable; evaluating it allocates nothing.

use std::collections::HashSet;

use serde_json::Value;

use super::date;
use super::regex::PortableRegex;
use super::semver::OwnedSemVer;
use crate::context::AttributeRef;
use crate::error::{ValidationError, ValidationErrorKind as K};
use crate::keys::{FlagKey, SegmentKey, VariationKey};
use crate::model::{
    Bucketing, Clause, EnvironmentFlag, Flag, FlagConfig, FlagKind, Operator, Rollout, Segment,
    Serve,
};

/// A set of strings with a fast, seeded hash (targets, segment lists, `in`).
pub(crate) type StrSet = HashSet<Box<str>, foldhash::fast::RandomState>;

fn str_set<'a>(items: impl IntoIterator<Item = &'a String>) -> StrSet {
    items.into_iter().map(|s| Box::from(s.as_str())).collect()
}

/// Compiled regexes by pattern, shared by the flags and segments of one
/// snapshot build, and seeded from a flag's previous version when a change
/// message replaces it. Compiling a regex costs tens of microseconds, and the
/// same patterns recur across flags; a compiled regex is immutable and cheap
/// to clone, so sharing it changes nothing observable.
#[derive(Debug, Default)]
pub struct CompileCache {
    regexes: std::collections::HashMap<Box<str>, PortableRegex>,
}

impl CompileCache {
    fn regex(&mut self, pattern: &str) -> Result<PortableRegex, super::regex::RegexError> {
        if let Some(regex) = self.regexes.get(pattern) {
            return Ok(regex.clone());
        }
        let regex = PortableRegex::parse(pattern)?;
        self.regexes.insert(pattern.into(), regex.clone());
        Ok(regex)
    }

    fn remember_clauses(&mut self, clauses: &[CompiledClause]) {
        for clause in clauses {
            if let Test::Matches(regexes) = &clause.test {
                for regex in regexes.iter() {
                    self.regexes
                        .entry(regex.as_str().into())
                        .or_insert_with(|| regex.clone());
                }
            }
        }
    }

    /// Makes `flag`'s compiled regexes available for reuse.
    pub fn remember_flag(&mut self, flag: &CompiledFlag) {
        for rule in flag.rules.iter() {
            self.remember_clauses(&rule.clauses);
        }
    }

    /// Makes `segment`'s compiled regexes available for reuse.
    pub fn remember_segment(&mut self, segment: &CompiledSegment) {
        for rule in segment.rules.iter() {
            self.remember_clauses(rule);
        }
    }
}

/// A flag ready to evaluate in one environment.
#[derive(Debug)]
pub struct CompiledFlag {
    pub(crate) source: EnvironmentFlag,
    pub(crate) off: usize,
    pub(crate) targets: Box<[CompiledTarget]>,
    pub(crate) rules: Box<[CompiledRule]>,
    pub(crate) default: CompiledServe,
}

#[derive(Debug)]
pub(crate) struct CompiledTarget {
    pub(crate) variation: usize,
    pub(crate) keys: StrSet,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) clauses: Box<[CompiledClause]>,
    pub(crate) serve: CompiledServe,
}

#[derive(Debug)]
pub(crate) enum CompiledServe {
    Variation(usize),
    Rollout(CompiledRollout),
}

#[derive(Debug)]
pub(crate) struct CompiledRollout {
    pub(crate) bucketing: Bucketing,
    /// v1: the flag key; v2: the salt (the flag key by default).
    pub(crate) salt: Box<str>,
    pub(crate) bucket_by: AttributeRef,
    /// `(exclusive upper bucket bound, variation index)`, ascending.
    pub(crate) ranges: Box<[(u32, usize)]>,
}

#[derive(Debug)]
pub(crate) struct CompiledClause {
    pub(crate) attribute: AttributeRef,
    pub(crate) negate: bool,
    pub(crate) test: Test,
}

/// Comparison of an ordered operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Cmp::Eq => ordering == Equal,
            Cmp::Lt => ordering == Less,
            Cmp::Lte => ordering != Greater,
            Cmp::Gt => ordering == Greater,
            Cmp::Gte => ordering != Less,
        }
    }

    pub(crate) fn holds_f64(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Test {
    In {
        strings: StrSet,
        numbers: Box<[f64]>,
        has_true: bool,
        has_false: bool,
    },
    StartsWith(Box<[Box<str>]>),
    EndsWith(Box<[Box<str>]>),
    Contains(Box<[Box<str>]>),
    Matches(Box<[PortableRegex]>),
    Semver(Cmp, Box<[OwnedSemVer]>),
    Number(Cmp, Box<[f64]>),
    /// `Lt` for `date_before`, `Gt` for `date_after`; operands in epoch ms.
    Date(Cmp, Box<[f64]>),
    Exists,
    InSegment(Box<[SegmentKey]>),
}

/// A segment ready to evaluate.
#[derive(Debug)]
pub struct CompiledSegment {
    pub(crate) source: Segment,
    pub(crate) included: StrSet,
    pub(crate) excluded: StrSet,
    pub(crate) rules: Box<[Box<[CompiledClause]>]>,
}

impl CompiledFlag {
    /// Checks `flag` on its own (cross-flag references are checked by
    /// [`super::environment::check_flag`]) and builds its evaluation-ready
    /// form. Error paths start with `flag.` or `config.`.
    pub fn compile(flag: EnvironmentFlag) -> Result<Self, ValidationError> {
        Self::compile_with(flag, &mut CompileCache::default())
    }

    /// [`compile`](Self::compile), reusing the regexes already in `cache`.
    pub fn compile_with(
        flag: EnvironmentFlag,
        cache: &mut CompileCache,
    ) -> Result<Self, ValidationError> {
        check_definition(&flag.flag).map_err(|e| e.within("flag"))?;
        let compiled =
            compile_config(&flag.flag, &flag.config, cache).map_err(|e| e.within("config"))?;
        let (off, targets, rules, default) = compiled;
        Ok(Self {
            source: flag,
            off,
            targets,
            rules,
            default,
        })
    }

    /// The flag's key.
    pub fn key(&self) -> &FlagKey {
        &self.source.flag.key
    }

    /// The flag's kind.
    pub fn kind(&self) -> FlagKind {
        self.source.flag.kind
    }

    /// Whether the flag is enabled in this environment.
    pub fn enabled(&self) -> bool {
        self.source.config.enabled
    }

    /// The model this was compiled from.
    pub fn source(&self) -> &EnvironmentFlag {
        &self.source
    }
}

/// Checks a flag definition alone: variations fit the kind and have unique keys.
/// Paths are relative to the flag (`variations[1].value`).
pub fn check_definition(flag: &Flag) -> Result<(), ValidationError> {
    if flag.variations.is_empty() {
        return Err(ValidationError::new(
            "variations",
            K::InvalidVariations("a flag needs at least one variation"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, variation) in flag.variations.iter().enumerate() {
        if !seen.insert(variation.key.as_str()) {
            return Err(ValidationError::new(
                format!("variations[{i}].key"),
                K::DuplicateKey(variation.key.to_string()),
            ));
        }
        if !flag.kind.admits(&variation.value) {
            let expected = match flag.kind {
                FlagKind::Boolean => "a boolean",
                FlagKind::String => "a string",
                FlagKind::Number => "a number",
                FlagKind::Json => "any JSON value",
            };
            return Err(ValidationError::new(
                format!("variations[{i}].value"),
                K::TypeMismatch { expected },
            ));
        }
    }
    if flag.kind == FlagKind::Boolean {
        let expected_pair = flag.variations.len() == 2
            && flag.variations.iter().all(|v| {
                matches!(
                    (v.key.as_str(), &v.value),
                    ("true", Value::Bool(true)) | ("false", Value::Bool(false))
                )
            });
        if !expected_pair {
            return Err(ValidationError::new(
                "variations",
                K::InvalidVariations(
                    "a boolean flag has exactly the variations {\"key\":\"true\",\"value\":true} and {\"key\":\"false\",\"value\":false}",
                ),
            ));
        }
    }
    Ok(())
}

type CompiledConfig = (
    usize,
    Box<[CompiledTarget]>,
    Box<[CompiledRule]>,
    CompiledServe,
);

fn compile_config(
    flag: &Flag,
    config: &FlagConfig,
    cache: &mut CompileCache,
) -> Result<CompiledConfig, ValidationError> {
    let variation = |key: &VariationKey, path: String| {
        flag.variations
            .iter()
            .position(|v| v.key == *key)
            .ok_or_else(|| ValidationError::new(path, K::UnknownVariation(key.to_string())))
    };
    let off = variation(&config.off_variation, "off_variation".into())?;

    let mut targets = Vec::with_capacity(config.targets.len());
    for (i, target) in config.targets.iter().enumerate() {
        let variation = variation(&target.variation, format!("targets[{i}].variation"))?;
        // An empty list can never match, so it must not make the flag need a
        // targeting key (legacy flags always carry one, often empty).
        if !target.values.is_empty() {
            targets.push(CompiledTarget {
                variation,
                keys: str_set(&target.values),
            });
        }
    }
    let targets = targets.into_boxed_slice();

    for (i, prerequisite) in config.prerequisites.iter().enumerate() {
        if prerequisite.flag == flag.key {
            return Err(ValidationError::new(
                format!("prerequisites[{i}].flag"),
                K::PrerequisiteCycle(vec![flag.key.to_string(), flag.key.to_string()]),
            ));
        }
    }

    let rules = config
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let at = |e: ValidationError| e.within(&format!("rules[{i}]"));
            Ok(CompiledRule {
                clauses: compile_clauses(&rule.clauses, true, cache).map_err(at)?,
                serve: compile_serve(flag, &rule.serve, &variation)
                    .map_err(|e| at(e.within("serve")))?,
            })
        })
        .collect::<Result<_, ValidationError>>()?;

    let default =
        compile_serve(flag, &config.default_serve, &variation).map_err(|e| e.within("default"))?;
    Ok((off, targets, rules, default))
}

fn compile_serve(
    flag: &Flag,
    serve: &Serve,
    variation: &impl Fn(&VariationKey, String) -> Result<usize, ValidationError>,
) -> Result<CompiledServe, ValidationError> {
    match serve {
        Serve::Variation(key) => Ok(CompiledServe::Variation(variation(
            key,
            "variation".into(),
        )?)),
        Serve::Rollout(rollout) => compile_rollout(flag, rollout, variation)
            .map(CompiledServe::Rollout)
            .map_err(|e| e.within("rollout")),
    }
}

fn compile_rollout(
    flag: &Flag,
    rollout: &Rollout,
    variation: &impl Fn(&VariationKey, String) -> Result<usize, ValidationError>,
) -> Result<CompiledRollout, ValidationError> {
    let salt = match (rollout.bucketing, &rollout.salt) {
        (Bucketing::V1, Some(_)) => {
            return Err(ValidationError::new(
                "salt",
                K::InvalidRollout("bucketing v1 always hashes the flag key; salt needs v2"),
            ));
        }
        (Bucketing::V2, Some(salt)) => salt.as_str(),
        (_, None) => flag.key.as_str(),
    };
    let bucket_by = match &rollout.bucket_by {
        None => AttributeRef::TargetingKey,
        Some(text) => AttributeRef::parse(text)
            .ok_or_else(|| ValidationError::new("bucket_by", K::InvalidAttribute(text.clone())))?,
    };
    let mut seen = HashSet::new();
    let mut upper: u64 = 0;
    let mut ranges = Vec::with_capacity(rollout.weights.len());
    for (i, weighted) in rollout.weights.iter().enumerate() {
        let path = format!("weights[{i}].variation");
        let index = variation(&weighted.variation, path.clone())?;
        if !seen.insert(index) {
            return Err(ValidationError::new(
                path,
                K::DuplicateKey(weighted.variation.to_string()),
            ));
        }
        upper += u64::from(weighted.weight);
        ranges.push((u32::try_from(upper).unwrap_or(u32::MAX), index));
    }
    let total = rollout.bucketing.total_weight();
    if upper != u64::from(total) {
        let version = match rollout.bucketing {
            Bucketing::V1 => "v1",
            Bucketing::V2 => "v2",
        };
        return Err(ValidationError::new(
            "weights",
            K::InvalidWeights {
                version,
                expected: total,
                actual: upper,
            },
        ));
    }
    Ok(CompiledRollout {
        bucketing: rollout.bucketing,
        salt: salt.into(),
        bucket_by,
        ranges: ranges.into_boxed_slice(),
    })
}

fn compile_clauses(
    clauses: &[Clause],
    allow_segments: bool,
    cache: &mut CompileCache,
) -> Result<Box<[CompiledClause]>, ValidationError> {
    clauses
        .iter()
        .enumerate()
        .map(|(i, clause)| {
            compile_clause(clause, allow_segments, cache)
                .map_err(|e| e.within(&format!("clauses[{i}]")))
        })
        .collect()
}

fn compile_clause(
    clause: &Clause,
    allow_segments: bool,
    cache: &mut CompileCache,
) -> Result<CompiledClause, ValidationError> {
    use Operator as O;
    let attribute = match (&clause.attribute, clause.operator) {
        (None, O::InSegment) => AttributeRef::TargetingKey,
        (Some(text), O::InSegment) if text != "targetingKey" => {
            return Err(ValidationError::new(
                "attribute",
                K::InvalidAttribute(format!("{text} (in_segment always uses targetingKey)")),
            ));
        }
        (None, _) => {
            return Err(ValidationError::new(
                "attribute",
                K::Malformed("missing field `attribute`".into()),
            ));
        }
        (Some(text), _) => AttributeRef::parse(text)
            .ok_or_else(|| ValidationError::new("attribute", K::InvalidAttribute(text.clone())))?,
    };
    let values = &clause.values;
    match (clause.operator, values.is_empty()) {
        (O::Exists, false) => return Err(ValidationError::new("values", K::UnexpectedValues)),
        (O::Exists, true) => {}
        (_, true) => return Err(ValidationError::new("values", K::EmptyValues)),
        (_, false) => {}
    }
    let test = match clause.operator {
        O::In => compile_in(values)?,
        O::StartsWith => Test::StartsWith(strings(values)?),
        O::EndsWith => Test::EndsWith(strings(values)?),
        O::Contains => Test::Contains(strings(values)?),
        O::Matches => Test::Matches(each(values, |i, v| {
            let pattern = string_at(i, v)?;
            cache
                .regex(pattern)
                .map_err(|e| ValidationError::new(format!("values[{i}]"), e.into()))
        })?),
        O::SemverEq => semver_test(Cmp::Eq, values)?,
        O::SemverLt => semver_test(Cmp::Lt, values)?,
        O::SemverLte => semver_test(Cmp::Lte, values)?,
        O::SemverGt => semver_test(Cmp::Gt, values)?,
        O::SemverGte => semver_test(Cmp::Gte, values)?,
        O::NumberEq => number_test(Cmp::Eq, values)?,
        O::NumberLt => number_test(Cmp::Lt, values)?,
        O::NumberLte => number_test(Cmp::Lte, values)?,
        O::NumberGt => number_test(Cmp::Gt, values)?,
        O::NumberGte => number_test(Cmp::Gte, values)?,
        O::DateBefore => date_test(Cmp::Lt, values)?,
        O::DateAfter => date_test(Cmp::Gt, values)?,
        O::Exists => Test::Exists,
        O::InSegment if !allow_segments => {
            return Err(ValidationError::new("operator", K::NestedSegment));
        }
        O::InSegment => Test::InSegment(each(values, |i, v| {
            SegmentKey::parse(string_at(i, v)?)
                .map_err(|e| ValidationError::new(format!("values[{i}]"), e.into()))
        })?),
    };
    Ok(CompiledClause {
        attribute,
        negate: clause.negate,
        test,
    })
}

fn each<T>(
    values: &[Value],
    mut f: impl FnMut(usize, &Value) -> Result<T, ValidationError>,
) -> Result<Box<[T]>, ValidationError> {
    values.iter().enumerate().map(|(i, v)| f(i, v)).collect()
}

fn string_at(i: usize, value: &Value) -> Result<&str, ValidationError> {
    value.as_str().ok_or_else(|| {
        ValidationError::new(
            format!("values[{i}]"),
            K::TypeMismatch {
                expected: "a string",
            },
        )
    })
}

fn strings(values: &[Value]) -> Result<Box<[Box<str>]>, ValidationError> {
    each(values, |i, v| string_at(i, v).map(Box::from))
}

fn compile_in(values: &[Value]) -> Result<Test, ValidationError> {
    let mut strings = StrSet::default();
    let mut numbers = Vec::new();
    let (mut has_true, mut has_false) = (false, false);
    for (i, value) in values.iter().enumerate() {
        match value {
            Value::String(s) => {
                strings.insert(s.as_str().into());
            }
            Value::Number(n) => numbers.push(n.as_f64().unwrap_or(f64::NAN)),
            Value::Bool(true) => has_true = true,
            Value::Bool(false) => has_false = true,
            _ => {
                return Err(ValidationError::new(
                    format!("values[{i}]"),
                    K::TypeMismatch {
                        expected: "a string, number or boolean",
                    },
                ));
            }
        }
    }
    Ok(Test::In {
        strings,
        numbers: numbers.into(),
        has_true,
        has_false,
    })
}

fn semver_test(cmp: Cmp, values: &[Value]) -> Result<Test, ValidationError> {
    let versions = each(values, |i, v| {
        let text = string_at(i, v)?;
        OwnedSemVer::parse(text).map_err(|_| {
            ValidationError::new(format!("values[{i}]"), K::InvalidSemver(text.into()))
        })
    })?;
    Ok(Test::Semver(cmp, versions))
}

fn number_test(cmp: Cmp, values: &[Value]) -> Result<Test, ValidationError> {
    let numbers = each(values, |i, v| {
        v.as_f64().ok_or_else(|| {
            ValidationError::new(
                format!("values[{i}]"),
                K::TypeMismatch {
                    expected: "a number",
                },
            )
        })
    })?;
    Ok(Test::Number(cmp, numbers))
}

fn date_test(cmp: Cmp, values: &[Value]) -> Result<Test, ValidationError> {
    let dates = each(values, |i, v| {
        let ms = match v {
            Value::String(s) => date::date_ms_from_str(s),
            Value::Number(n) => n.as_f64().and_then(date::date_ms_from_number),
            _ => {
                return Err(ValidationError::new(
                    format!("values[{i}]"),
                    K::TypeMismatch {
                        expected: "an RFC 3339 string or epoch milliseconds",
                    },
                ));
            }
        };
        ms.ok_or_else(|| {
            ValidationError::new(format!("values[{i}]"), K::InvalidDate(v.to_string()))
        })
    })?;
    Ok(Test::Date(cmp, dates))
}

impl CompiledSegment {
    /// Checks a segment and builds its evaluation-ready form.
    pub fn compile(segment: Segment) -> Result<Self, ValidationError> {
        Self::compile_with(segment, &mut CompileCache::default())
    }

    /// [`compile`](Self::compile), reusing the regexes already in `cache`.
    pub fn compile_with(
        segment: Segment,
        cache: &mut CompileCache,
    ) -> Result<Self, ValidationError> {
        let rules = segment
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                compile_clauses(&rule.clauses, false, cache)
                    .map_err(|e| e.within(&format!("rules[{i}]")))
            })
            .collect::<Result<_, ValidationError>>()?;
        Ok(Self {
            included: str_set(&segment.included),
            excluded: str_set(&segment.excluded),
            rules,
            source: segment,
        })
    }

    /// The segment's key.
    pub fn key(&self) -> &SegmentKey {
        &self.source.key
    }

    /// The model this was compiled from.
    pub fn source(&self) -> &Segment {
        &self.source
    }
}
