//! Flags as code: a document of flags (definitions and per-environment
//! configurations) and segments, kept in a repository and applied to a
//! running installation (`halyard import --flags`). An export is such a
//! document too.
//!
//! Applying is plan, then apply: [`Service::plan_flags`] compares the
//! document with the current state and validates the whole resulting state
//! of every environment (definitions, rules, segment and prerequisite
//! references) before anything is written, so a bad document changes
//! nothing. [`Service::apply_flags`] then makes each change through the
//! same use-cases as the admin API (audit log, change messages), with the
//! versions the plan read: a change made meanwhile by someone else stops the
//! apply with a version conflict instead of being overwritten, and applying
//! again picks up from there. Flags and segments the document does not
//! mention are left alone.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use halyard_common::eval::compile::check_definition;
use halyard_common::eval::environment::check_flag;
use halyard_common::eval::{CompiledFlag, CompiledSegment};
use halyard_common::model::{EnvironmentFlag, Flag, FlagConfig, Segment};
use serde::Deserialize;

use super::flags::{FlagUpdate, NewFlag};
use super::{Actor, Service, default_config};
use crate::error::Error;

/// The document: every field optional, unknown fields ignored (so an
/// export applies as is).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlagsDocument {
    /// Flags, each with configurations for some environments.
    #[serde(default)]
    pub flags: Vec<FlagCode>,
    /// Segments, by environment.
    #[serde(default)]
    pub environments: Vec<EnvironmentCode>,
}

/// A flag and its configurations.
#[derive(Debug, Clone, Deserialize)]
pub struct FlagCode {
    /// The definition (id, version and times, if present, are ignored).
    #[serde(flatten)]
    pub flag: Flag,
    /// Configurations by environment key; environments not listed keep
    /// theirs (a new flag starts disabled there).
    #[serde(default)]
    pub configs: BTreeMap<String, FlagConfig>,
}

/// An environment's segments.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentCode {
    /// The environment (it must exist).
    pub key: String,
    /// Its segments.
    #[serde(default)]
    pub segments: Vec<Segment>,
}

/// One change of a plan.
#[derive(Debug, Clone)]
pub enum Step {
    /// A new segment.
    CreateSegment {
        /// Environment.
        environment: String,
        /// The segment.
        segment: Segment,
    },
    /// A changed segment.
    UpdateSegment {
        /// Environment.
        environment: String,
        /// The version read.
        version: u64,
        /// The segment.
        segment: Segment,
    },
    /// A new flag (disabled everywhere until its configurations follow).
    CreateFlag(NewFlag),
    /// A changed definition.
    UpdateFlag {
        /// The flag.
        key: String,
        /// The version read.
        version: u64,
        /// The change.
        update: FlagUpdate,
    },
    /// A changed configuration.
    UpdateConfig {
        /// Environment.
        environment: String,
        /// The flag.
        key: String,
        /// The version read (1 for a flag the plan creates).
        version: u64,
        /// The configuration.
        config: FlagConfig,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateSegment {
                environment,
                segment,
            } => write!(f, "create segment {} in {environment}", segment.key),
            Step::UpdateSegment {
                environment,
                segment,
                ..
            } => write!(f, "update segment {} in {environment}", segment.key),
            Step::CreateFlag(new) => write!(f, "create flag {}", new.key),
            Step::UpdateFlag { key, update, .. } => {
                let fields: Vec<&str> = [
                    ("description", update.description.is_some()),
                    ("variations", update.variations.is_some()),
                    ("tags", update.tags.is_some()),
                ]
                .into_iter()
                .filter_map(|(field, changed)| changed.then_some(field))
                .collect();
                write!(f, "update flag {key}: {}", fields.join(", "))
            }
            Step::UpdateConfig {
                environment, key, ..
            } => write!(f, "configure flag {key} in {environment}"),
        }
    }
}

fn invalid(message: String, path: String) -> Error {
    Error::InvalidRequest {
        message,
        path: Some(path),
    }
}

/// A segment without what the store assigns (version, times).
fn segment_content(segment: &Segment) -> Segment {
    Segment {
        version: 0,
        created_at: None,
        updated_at: None,
        ..segment.clone()
    }
}

/// A configuration without its version.
fn config_content(config: &FlagConfig) -> FlagConfig {
    FlagConfig {
        version: 0,
        ..config.clone()
    }
}

/// `wanted`, if it differs from `held`.
fn changed<T: PartialEq + Clone>(held: &T, wanted: &T) -> Option<T> {
    (held != wanted).then(|| wanted.clone())
}

/// One environment as the plan will leave it.
struct Final {
    flags: Vec<EnvironmentFlag>,
    segments: Vec<Segment>,
}

impl Service {
    /// Compares `document` with the current state and returns the changes
    /// that make the state match it, after validating the whole resulting
    /// state of every environment. Errors name the document path.
    pub async fn plan_flags(&self, document: &FlagsDocument) -> Result<Vec<Step>, Error> {
        let environments = self.store.environments().await?;
        let known = |key: &str| environments.iter().any(|e| e.key.as_str() == key);
        let mut steps = Vec::new();
        let mut finals: BTreeMap<String, Final> = BTreeMap::new();
        for environment in &environments {
            let flags = self.all_flags_in(environment.id).await?;
            let segments = self.all_segments_in(environment.id).await?;
            finals.insert(
                environment.key.to_string(),
                Final {
                    flags: flags
                        .into_iter()
                        .map(|(flag, config)| EnvironmentFlag {
                            flag: flag.flag,
                            config: config.config,
                        })
                        .collect(),
                    segments: segments.into_iter().map(|s| s.segment).collect(),
                },
            );
        }

        for (i, environment) in document.environments.iter().enumerate() {
            let Some(current) = finals.get_mut(&environment.key) else {
                return Err(invalid(
                    format!("no environment {:?} here", environment.key),
                    format!("environments[{i}].key"),
                ));
            };
            for (j, segment) in environment.segments.iter().enumerate() {
                let path = format!("environments[{i}].segments[{j}]");
                CompiledSegment::compile(segment.clone()).map_err(|e| e.within(&path))?;
                match current.segments.iter_mut().find(|s| s.key == segment.key) {
                    None => {
                        current.segments.push(segment.clone());
                        steps.push(Step::CreateSegment {
                            environment: environment.key.clone(),
                            segment: segment.clone(),
                        });
                    }
                    Some(held) if segment_content(held) != segment_content(segment) => {
                        steps.push(Step::UpdateSegment {
                            environment: environment.key.clone(),
                            version: held.version,
                            segment: segment.clone(),
                        });
                        *held = segment.clone();
                    }
                    Some(_) => {}
                }
            }
        }

        let mut seen = HashMap::new();
        for (i, code) in document.flags.iter().enumerate() {
            let key = code.flag.key.to_string();
            if let Some(first) = seen.insert(key.clone(), i) {
                return Err(invalid(
                    format!("flag {key} is also flags[{first}]"),
                    format!("flags[{i}].key"),
                ));
            }
            check_definition(&code.flag).map_err(|e| e.within(&format!("flags[{i}]")))?;
            for environment in code.configs.keys() {
                if !known(environment) {
                    return Err(invalid(
                        format!("no environment {environment:?} here"),
                        format!("flags[{i}].configs.{environment}"),
                    ));
                }
            }
            let held = self.store.flag(&key).await?;
            let created = held.is_none();
            match held {
                None => steps.push(Step::CreateFlag(NewFlag {
                    key: code.flag.key.clone(),
                    description: code.flag.description.clone(),
                    kind: code.flag.kind,
                    variations: Some(code.flag.variations.clone()),
                    tags: code.flag.tags.clone(),
                })),
                Some(held) if held.flag.kind != code.flag.kind => {
                    return Err(invalid(
                        format!(
                            "flag {key} is a {} flag; a flag's kind cannot change",
                            held.flag.kind.as_str()
                        ),
                        format!("flags[{i}].kind"),
                    ));
                }
                Some(held) => {
                    let update = FlagUpdate {
                        description: changed(&held.flag.description, &code.flag.description),
                        variations: changed(&held.flag.variations, &code.flag.variations),
                        tags: changed(&held.flag.tags, &code.flag.tags),
                    };
                    if update.description.is_some()
                        || update.variations.is_some()
                        || update.tags.is_some()
                    {
                        steps.push(Step::UpdateFlag {
                            key: key.clone(),
                            version: held.flag.version,
                            update,
                        });
                    }
                }
            }
            for (environment, current) in &mut finals {
                let wanted = code.configs.get(environment);
                let index = current
                    .flags
                    .iter()
                    .position(|f| f.flag.key == code.flag.key);
                let held = index.map(|n| current.flags[n].config.clone());
                let config = match (wanted, &held) {
                    (Some(wanted), held) => {
                        if held
                            .as_ref()
                            .is_none_or(|h| config_content(h) != config_content(wanted))
                            || created
                        {
                            steps.push(Step::UpdateConfig {
                                environment: environment.clone(),
                                key: key.clone(),
                                version: held.as_ref().map_or(1, |h| h.version),
                                config: wanted.clone(),
                            });
                        }
                        wanted.clone()
                    }
                    (None, Some(held)) => held.clone(),
                    (None, None) => default_config(&code.flag),
                };
                let flag = EnvironmentFlag {
                    flag: code.flag.clone(),
                    config,
                };
                match index {
                    Some(n) => current.flags[n] = flag,
                    None => current.flags.push(flag),
                }
            }
        }

        // The whole resulting state of every environment, before any write.
        for (environment, current) in &finals {
            for flag in &current.flags {
                let path = match seen.get(flag.flag.key.as_str()) {
                    Some(i) => format!("flags[{i}].configs.{environment}"),
                    None => format!("{environment}: flag {}", flag.flag.key),
                };
                CompiledFlag::compile(flag.clone()).map_err(|e| e.within(&path))?;
                check_flag(flag, &current.flags, &current.segments).map_err(|e| e.within(&path))?;
            }
        }
        // Flags first is the order that keeps every step valid: segments
        // before the configurations that use them, flags before the
        // configurations that require them.
        steps.sort_by_key(|step| match step {
            Step::CreateSegment { .. } | Step::UpdateSegment { .. } => 0,
            Step::CreateFlag(_) => 1,
            Step::UpdateFlag { .. } => 2,
            Step::UpdateConfig { .. } => 3,
        });
        Ok(steps)
    }

    /// Makes the changes of a plan, in order (see the module docs).
    pub async fn apply_flags(&self, actor: &Actor, steps: Vec<Step>) -> Result<(), Error> {
        for step in steps {
            match step {
                Step::CreateSegment {
                    environment,
                    segment,
                } => {
                    self.create_segment(actor, &environment, segment).await?;
                }
                Step::UpdateSegment {
                    environment,
                    version,
                    segment,
                } => {
                    let key = segment.key.to_string();
                    self.update_segment(actor, &environment, &key, Some(version), segment)
                        .await?;
                }
                Step::CreateFlag(new) => {
                    self.create_flag(actor, new, Vec::new()).await?;
                }
                Step::UpdateFlag {
                    key,
                    version,
                    update,
                } => {
                    self.update_flag(actor, &key, Some(version), update).await?;
                }
                Step::UpdateConfig {
                    environment,
                    key,
                    version,
                    config,
                } => {
                    self.update_config(actor, &environment, &key, Some(version), config)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
