//! The evaluation engine: compiled, allocation-free flag evaluation.
//!
//! # Layout
//! - [`compile`]: checks a flag or segment and builds its evaluation-ready
//!   form (regexes, semvers and dates parsed, id lists hashed).
//! - [`evaluate`](mod@evaluate): the evaluation order of `docs/evaluation.md`.
//! - [`result`]: what an evaluation returns (value, variation, reason, error).
//! - [`regex`], [`semver`], [`date`]: the operand types whose meaning must be
//!   identical in every SDK language.
//! - [`environment`]: checks that span flags (prerequisite references and
//!   cycles, segment references), run by the control plane on save.

pub mod compile;
pub mod date;
pub mod environment;
pub mod evaluate;
pub mod regex;
pub mod result;
pub mod semver;

pub use compile::{CompiledFlag, CompiledSegment};
pub use evaluate::{Lookup, MAX_PREREQUISITE_DEPTH, evaluate_flag};
pub use result::{ErrorCode, Evaluation, Match, Reason, ReasonKind};
