//! Flags as code: a document of flags (definitions and per-environment
//! configurations) and segments, kept in a repository and applied to a
//! running installation (`halyard import --flags`). An export is such a
//! document too.
//!
//! [`Service::plan_flags`] compares the document with the current state and
//! validates the whole resulting state of every environment (definitions,
//! rules, segment and prerequisite references). [`Service::apply_flags`]
//! plans again with every environment locked, then writes the whole plan in
//! one transaction, with an audit entry per change and one change message
//! per environment: the document is applied entirely or, if anything in it
//! is invalid, not at all. (One transaction rather than the admin API's
//! use-cases one by one: a definition change and the configurations that
//! follow it are only valid together, e.g. renamed variations.) Flags and
//! segments the document does not mention are left alone.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use halyard_common::eval::compile::check_definition;
use halyard_common::eval::environment::check_flag;
use halyard_common::eval::{CompiledFlag, CompiledSegment};
use halyard_common::model::{EnvironmentFlag, Flag, FlagConfig, Segment};
use serde::Deserialize;

use halyard_common::Change;
use uuid::Uuid;

use super::{Actor, Audit, EnvironmentChange, Service, commit, default_config, now};
use crate::error::Error;
use crate::store::{ConfigRecord, FlagRecord, SegmentRecord};

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
        /// The segment's id.
        id: Uuid,
        /// As it is.
        before: Segment,
        /// As it will be.
        segment: Segment,
    },
    /// A new flag, with its configuration in every environment.
    CreateFlag {
        /// The definition.
        flag: Flag,
        /// Its configuration per environment (the document's, else disabled).
        configs: BTreeMap<String, FlagConfig>,
    },
    /// A changed definition.
    UpdateFlag {
        /// The flag's id.
        id: Uuid,
        /// As it is.
        before: Flag,
        /// As it will be.
        flag: Flag,
    },
    /// A changed configuration of an existing flag.
    UpdateConfig {
        /// Environment.
        environment: String,
        /// The flag's id.
        id: Uuid,
        /// The flag.
        key: String,
        /// As it is.
        before: FlagConfig,
        /// As it will be.
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
            Step::CreateFlag { flag, configs } => {
                let enabled: Vec<&str> = configs
                    .iter()
                    .filter(|(_, c)| c.enabled)
                    .map(|(e, _)| e.as_str())
                    .collect();
                write!(f, "create flag {}", flag.key)?;
                if !enabled.is_empty() {
                    write!(f, " (on in {})", enabled.join(", "))?;
                }
                Ok(())
            }
            Step::UpdateFlag { before, flag, .. } => {
                let fields: Vec<&str> = [
                    ("description", before.description != flag.description),
                    ("variations", before.variations != flag.variations),
                    ("tags", before.tags != flag.tags),
                ]
                .into_iter()
                .filter_map(|(field, changed)| changed.then_some(field))
                .collect();
                write!(f, "update flag {}: {}", flag.key, fields.join(", "))
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
        let mut steps = Vec::new();
        let mut finals: BTreeMap<String, Final> = BTreeMap::new();
        let mut segment_ids: HashMap<(String, String), Uuid> = HashMap::new();
        let mut flag_ids: HashMap<String, Uuid> = HashMap::new();
        for environment in &environments {
            let env = environment.key.to_string();
            let mut flags = Vec::new();
            for (flag, config) in self.all_flags_in(environment.id).await? {
                flag_ids.insert(flag.flag.key.to_string(), flag.id);
                flags.push(EnvironmentFlag {
                    flag: flag.flag,
                    config: config.config,
                });
            }
            let mut segments = Vec::new();
            for segment in self.all_segments_in(environment.id).await? {
                segment_ids.insert((env.clone(), segment.segment.key.to_string()), segment.id);
                segments.push(segment.segment);
            }
            finals.insert(env, Final { flags, segments });
        }

        for (i, environment) in document.environments.iter().enumerate() {
            let Some(current) = finals.get_mut(&environment.key) else {
                return Err(invalid(
                    format!("no environment {:?} here", environment.key),
                    format!("environments[{i}].key"),
                ));
            };
            let mut seen = HashMap::new();
            for (j, segment) in environment.segments.iter().enumerate() {
                let path = format!("environments[{i}].segments[{j}]");
                if let Some(first) = seen.insert(segment.key.to_string(), j) {
                    return Err(invalid(
                        format!("segment {} is also segments[{first}]", segment.key),
                        format!("{path}.key"),
                    ));
                }
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
                            id: segment_ids[&(environment.key.clone(), segment.key.to_string())],
                            before: held.clone(),
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
            if let Some(environment) = code.configs.keys().find(|e| !finals.contains_key(*e)) {
                return Err(invalid(
                    format!("no environment {environment:?} here"),
                    format!("flags[{i}].configs.{environment}"),
                ));
            }
            let mut created = BTreeMap::new();
            for (environment, current) in &mut finals {
                let index = current
                    .flags
                    .iter()
                    .position(|f| f.flag.key == code.flag.key);
                let held = index.map(|n| current.flags[n].clone());
                if let Some(held) = &held
                    && held.flag.kind != code.flag.kind
                {
                    return Err(invalid(
                        format!(
                            "flag {key} is a {} flag; a flag's kind cannot change",
                            held.flag.kind.as_str()
                        ),
                        format!("flags[{i}].kind"),
                    ));
                }
                let wanted = code.configs.get(environment);
                let config = match (wanted, &held) {
                    (Some(wanted), Some(held)) => {
                        if config_content(&held.config) != config_content(wanted) {
                            steps.push(Step::UpdateConfig {
                                environment: environment.clone(),
                                id: flag_ids[&key],
                                key: key.clone(),
                                before: held.config.clone(),
                                config: wanted.clone(),
                            });
                        }
                        wanted.clone()
                    }
                    (Some(wanted), None) => wanted.clone(),
                    (None, Some(held)) => held.config.clone(),
                    (None, None) => default_config(&code.flag),
                };
                if held.is_none() {
                    created.insert(environment.clone(), config.clone());
                }
                let flag = EnvironmentFlag {
                    flag: code.flag.clone(),
                    config,
                };
                match index {
                    Some(n) => current.flags[n] = flag,
                    None => current.flags.push(flag),
                }
            }
            match flag_ids.get(&key) {
                None => steps.push(Step::CreateFlag {
                    flag: code.flag.clone(),
                    configs: created,
                }),
                Some(&id) => {
                    let before = self
                        .store
                        .flag_by_id(id)
                        .await?
                        .ok_or_else(|| Error::NotFound(format!("flag {key}")))?
                        .flag;
                    if definition_content(&before) != definition_content(&code.flag) {
                        steps.push(Step::UpdateFlag {
                            id,
                            before,
                            flag: code.flag.clone(),
                        });
                    }
                }
            }
        }

        // The whole resulting state of every environment.
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
        Ok(steps)
    }

    /// Plans `document` with every environment locked and writes the whole
    /// plan in one transaction (see the module docs); returns the changes.
    pub async fn apply_flags(
        &self,
        actor: &Actor,
        document: &FlagsDocument,
    ) -> Result<Vec<Step>, Error> {
        let mut tx = self.store.begin().await?;
        // Every change to flags, configurations and segments locks an
        // environment first: the plan below reads a state nobody changes
        // until this transaction ends.
        let environments = tx.environments_for_update().await?;
        let steps = self.plan_flags(document).await?;
        if steps.is_empty() {
            return Ok(steps);
        }
        let id_of = |key: &str| {
            environments
                .iter()
                .find(|e| e.key.as_str() == key)
                .map(|e| e.id)
                .ok_or_else(|| Error::NotFound(format!("environment {key}")))
        };
        let now = now();
        let mut audit = Vec::with_capacity(steps.len());
        let mut touched: HashMap<Uuid, (Vec<String>, Vec<String>)> = HashMap::new();
        let mut touch = |environment: Uuid, flag: Option<String>, segment: Option<String>| {
            let (flags, segments) = touched.entry(environment).or_default();
            flags.extend(flag);
            segments.extend(segment);
        };
        for step in &steps {
            match step {
                Step::CreateSegment {
                    environment,
                    segment,
                } => {
                    let segment = Segment {
                        version: 1,
                        created_at: Some(now),
                        updated_at: Some(now),
                        ..segment.clone()
                    };
                    let env = id_of(environment)?;
                    tx.insert_segment(&SegmentRecord {
                        id: Uuid::now_v7(),
                        environment_id: env,
                        segment: segment.clone(),
                    })
                    .await?;
                    touch(env, None, Some(segment.key.to_string()));
                    audit.push(
                        entry(actor, "segment.created", "segment", segment.key.as_ref())
                            .in_environment(environment)
                            .entry(None::<()>, Some(&segment)),
                    );
                }
                Step::UpdateSegment {
                    environment,
                    id,
                    before,
                    segment,
                } => {
                    let segment = Segment {
                        version: before.version + 1,
                        created_at: before.created_at,
                        updated_at: Some(now),
                        ..segment.clone()
                    };
                    let env = id_of(environment)?;
                    tx.update_segment(&SegmentRecord {
                        id: *id,
                        environment_id: env,
                        segment: segment.clone(),
                    })
                    .await?;
                    touch(env, None, Some(segment.key.to_string()));
                    audit.push(
                        entry(actor, "segment.updated", "segment", segment.key.as_ref())
                            .in_environment(environment)
                            .entry(Some(before), Some(&segment)),
                    );
                }
                Step::CreateFlag { flag, configs } => {
                    let id = Uuid::now_v7();
                    let flag = Flag {
                        id: Some(id.to_string()),
                        version: 1,
                        created_at: Some(now),
                        updated_at: Some(now),
                        ..flag.clone()
                    };
                    tx.insert_flag(&FlagRecord {
                        id,
                        flag: flag.clone(),
                    })
                    .await?;
                    for (environment, config) in configs {
                        let env = id_of(environment)?;
                        tx.upsert_config(&ConfigRecord {
                            flag_id: id,
                            environment_id: env,
                            config: FlagConfig {
                                version: 1,
                                ..config.clone()
                            },
                            updated_at: now,
                        })
                        .await?;
                        touch(env, Some(flag.key.to_string()), None);
                    }
                    let key = flag.key.to_string();
                    audit.push(
                        entry(actor, "flag.created", "flag", &key)
                            .for_flag(&key)
                            .entry(None::<()>, Some(&flag)),
                    );
                }
                Step::UpdateFlag { id, before, flag } => {
                    let flag = Flag {
                        id: before.id.clone(),
                        version: before.version + 1,
                        created_at: before.created_at,
                        updated_at: Some(now),
                        ..flag.clone()
                    };
                    tx.update_flag(&FlagRecord {
                        id: *id,
                        flag: flag.clone(),
                    })
                    .await?;
                    for environment in &environments {
                        touch(environment.id, Some(flag.key.to_string()), None);
                    }
                    let key = flag.key.to_string();
                    audit.push(
                        entry(actor, "flag.updated", "flag", &key)
                            .for_flag(&key)
                            .entry(Some(before), Some(&flag)),
                    );
                }
                Step::UpdateConfig {
                    environment,
                    id,
                    key,
                    before,
                    config,
                } => {
                    let config = FlagConfig {
                        version: before.version + 1,
                        ..config.clone()
                    };
                    let env = id_of(environment)?;
                    tx.upsert_config(&ConfigRecord {
                        flag_id: *id,
                        environment_id: env,
                        config: config.clone(),
                        updated_at: now,
                    })
                    .await?;
                    touch(env, Some(key.clone()), None);
                    audit.push(
                        entry(actor, "config.updated", "config", key)
                            .for_flag(key)
                            .in_environment(environment)
                            .entry(Some(before), Some(&config)),
                    );
                }
            }
        }
        // One message per environment with what is now stored.
        let mut changes = Vec::new();
        for environment in environments {
            let Some((flags, segments)) = touched.remove(&environment.id) else {
                continue;
            };
            let mut list = Vec::new();
            for segment in tx.environment_segments(environment.id).await? {
                if segments.contains(&segment.key.to_string()) {
                    list.push(Change::SegmentUpserted { segment });
                }
            }
            for flag in tx.environment_flags(environment.id).await? {
                if flags.contains(&flag.flag.key.to_string()) {
                    list.push(Change::FlagUpserted { flag });
                }
            }
            changes.push(EnvironmentChange {
                environment,
                changes: list,
            });
        }
        commit(tx, changes, audit).await?;
        Ok(steps)
    }
}

/// `wanted`'s definition without what the store assigns.
fn definition_content(flag: &Flag) -> Flag {
    Flag {
        id: None,
        version: 0,
        created_at: None,
        updated_at: None,
        ..flag.clone()
    }
}

fn entry<'a>(
    actor: &'a Actor,
    action: &'static str,
    resource: &'static str,
    key: &str,
) -> Audit<'a> {
    Audit {
        actor,
        action,
        resource,
        key: key.to_owned(),
        environment: None,
        flag: None,
    }
}

impl Audit<'_> {
    fn in_environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    fn for_flag(mut self, key: &str) -> Self {
        self.flag = Some(key.to_owned());
        self
    }
}
