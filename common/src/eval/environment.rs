//! Checks that span more than one flag: prerequisite references, prerequisite
//! cycles and depth, segment references; and the reverse look-ups the control
//! plane needs to refuse deleting something still in use.
//!
//! Evaluation never depends on these checks for safety (a missing
//! prerequisite fails, a missing segment does not match, depth is bounded),
//! so edges accept any snapshot the compiler accepts; the control plane runs
//! them on every save so that such states are never written.

use std::collections::{HashMap, HashSet};

use super::MAX_PREREQUISITE_DEPTH;
use crate::error::{ValidationError, ValidationErrorKind as K};
use crate::model::{Clause, EnvironmentFlag, Operator, Segment};

/// Checks `flag`'s references against the rest of its environment.
///
/// `flags` is the environment's flags (an older version of `flag` among them
/// is ignored: `flag` stands in for it); `segments` its segments. Paths are
/// relative to the flag (`config.prerequisites[0].flag`).
pub fn check_flag(
    flag: &EnvironmentFlag,
    flags: &[EnvironmentFlag],
    segments: &[Segment],
) -> Result<(), ValidationError> {
    let key = flag.flag.key.as_str();
    let mut by_key: HashMap<&str, &EnvironmentFlag> =
        flags.iter().map(|f| (f.flag.key.as_str(), f)).collect();
    by_key.insert(key, flag);

    for (i, prerequisite) in flag.config.prerequisites.iter().enumerate() {
        let path = format!("config.prerequisites[{i}]");
        let Some(required) = by_key.get(prerequisite.flag.as_str()) else {
            return Err(ValidationError::new(
                format!("{path}.flag"),
                K::UnknownFlag(prerequisite.flag.to_string()),
            ));
        };
        if !required
            .flag
            .variations
            .iter()
            .any(|v| v.key == prerequisite.variation)
        {
            return Err(ValidationError::new(
                format!("{path}.variation"),
                K::UnknownVariation(prerequisite.variation.to_string()),
            ));
        }
    }
    check_prerequisite_graph(key, &by_key)?;

    let segment_keys: HashSet<&str> = segments.iter().map(|s| s.key.as_str()).collect();
    for (r, rule) in flag.config.rules.iter().enumerate() {
        check_segment_refs(&rule.clauses, &segment_keys)
            .map_err(|e| e.within(&format!("config.rules[{r}]")))?;
    }
    Ok(())
}

/// Checks every flag of an environment (e.g. before an import).
/// Paths start with `flags[i]`.
pub fn check_environment(
    flags: &[EnvironmentFlag],
    segments: &[Segment],
) -> Result<(), ValidationError> {
    for (i, flag) in flags.iter().enumerate() {
        check_flag(flag, flags, segments).map_err(|e| e.within(&format!("flags[{i}]")))?;
    }
    Ok(())
}

/// Walks the whole prerequisite graph (with `start` in its new form): finds
/// any cycle, and any chain longer than the evaluation limit, including
/// chains of other flags that `start` lengthens. O(flags + prerequisites).
fn check_prerequisite_graph(
    start: &str,
    by_key: &HashMap<&str, &EnvironmentFlag>,
) -> Result<(), ValidationError> {
    // Longest chain (in flags) from each finished flag.
    let mut height: HashMap<&str, usize> = HashMap::with_capacity(by_key.len());
    let mut roots: Vec<&str> = by_key.keys().copied().filter(|k| *k != start).collect();
    roots.sort_unstable();
    roots.insert(0, start);
    for root in roots {
        if height.contains_key(root) {
            continue;
        }
        // (flag, index of the next prerequisite to visit, tallest child so far)
        let mut stack: Vec<(&str, usize, usize)> = vec![(root, 0, 0)];
        while let Some(&mut (key, ref mut next, tallest)) = stack.last_mut() {
            let prerequisites = by_key
                .get(key)
                .map_or(&[][..], |f| &f.config.prerequisites[..]);
            let Some(prerequisite) = prerequisites.get(*next) else {
                let own = tallest + 1;
                if own > MAX_PREREQUISITE_DEPTH {
                    return Err(ValidationError::new(
                        "config.prerequisites",
                        K::PrerequisiteTooDeep(MAX_PREREQUISITE_DEPTH),
                    ));
                }
                height.insert(key, own);
                stack.pop();
                if let Some(parent) = stack.last_mut() {
                    parent.2 = parent.2.max(own);
                }
                continue;
            };
            *next += 1;
            let child = prerequisite.flag.as_str();
            if let Some(at) = stack.iter().position(|(k, _, _)| *k == child) {
                let mut chain: Vec<String> =
                    stack[at..].iter().map(|(k, _, _)| k.to_string()).collect();
                chain.push(child.to_owned());
                return Err(ValidationError::new(
                    "config.prerequisites",
                    K::PrerequisiteCycle(chain),
                ));
            }
            match height.get(child) {
                Some(&h) => {
                    let parent = stack.last_mut().expect("the current flag is on the stack");
                    parent.2 = parent.2.max(h);
                }
                // A missing flag is reported by the reference check.
                None if !by_key.contains_key(child) => {}
                None => stack.push((child, 0, 0)),
            }
        }
    }
    Ok(())
}

fn check_segment_refs(clauses: &[Clause], segments: &HashSet<&str>) -> Result<(), ValidationError> {
    for (c, clause) in clauses.iter().enumerate() {
        if clause.operator != Operator::InSegment {
            continue;
        }
        for (v, value) in clause.values.iter().enumerate() {
            let key = value.as_str().unwrap_or_default();
            if !segments.contains(key) {
                return Err(ValidationError::new(
                    format!("clauses[{c}].values[{v}]"),
                    K::UnknownSegment(key.to_owned()),
                ));
            }
        }
    }
    Ok(())
}

/// Keys of the flags that name `key` as a prerequisite.
pub fn flags_requiring<'a>(flags: &'a [EnvironmentFlag], key: &str) -> Vec<&'a str> {
    flags
        .iter()
        .filter(|f| {
            f.config
                .prerequisites
                .iter()
                .any(|p| p.flag.as_str() == key)
        })
        .map(|f| f.flag.key.as_str())
        .collect()
}

/// Keys of the flags with an `in_segment` clause naming `segment`.
pub fn flags_using_segment<'a>(flags: &'a [EnvironmentFlag], segment: &str) -> Vec<&'a str> {
    flags
        .iter()
        .filter(|f| {
            f.config.rules.iter().flat_map(|r| &r.clauses).any(|c| {
                c.operator == Operator::InSegment
                    && c.values.iter().any(|v| v.as_str() == Some(segment))
            })
        })
        .map(|f| f.flag.key.as_str())
        .collect()
}
