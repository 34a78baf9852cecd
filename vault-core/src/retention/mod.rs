//! Retention (保存期間と廃棄): rule evaluation, plans, approval, the execution-time
//! re-check, erasure certificates, meister inactivity and policy-change impact.
//!
//! This module exists so that records are never deleted before their retention period
//! has passed (C15: the assessment's incident of ~11,000,000 records deleted early),
//! while records whose period has passed really go. A run is:
//!
//! 1. [`build_plan`]: a dry run listing only records due on its `as_of` day, subjects
//!    under a legal hold left out and counted, with a digest of its content;
//! 2. [`approve`]: a second person with the `retention_approver` role, never the
//!    plan's creator (C22);
//! 3. [`recheck`]: at execution time every planned record is evaluated again against
//!    the rules, records and holds of that moment; only those still due remain;
//! 4. the executor (outside this module) erases exactly the [`ExecutionSet`] and signs
//!    an [`ErasureCertificate`] (C20).
//!
//! The core is pure: its inputs are this module's own types ([`RuleSpec`], [`Candidate`],
//! [`LegalHolds`]); adapters from the policy, the store and the keyring live elsewhere.
//! No decision reads the clock: `as_of` and `now` are arguments (see [`today_in_japan`]).
//! Counting rules are in [`Period`] and `docs/retention.md`.

mod approval;
mod certificate;
mod execution;
mod impact;
mod meister;
mod period;
mod plan;
mod rules;

pub use approval::{approve, Approval, ApprovalError, ApprovedPlan, RETENTION_APPROVER_ROLE};
pub use certificate::{
    read_verified_certificate, verify_certificate, AuditSeqRange, CertificateError,
    CertificateSigner, CertifiedRule, ErasureCertificate, CERTIFICATE_FORMAT,
};
pub use execution::{recheck, ExecutionRule, ExecutionSet, SkipReason, SkippedRecord};
pub use impact::{shortened_impact, ImpactedRecord, ShortenedImpact};
pub use meister::{
    inactive_meisters, IntentAnswer, IntentCheck, MeisterEvent, MeisterStanding, MeisterStatus,
    MeisterTransitionError, UnknownMeisterStatus, MEISTER_INACTIVITY_PERIOD,
};
pub use period::{today_in_japan, FiscalYear, Period};
pub use plan::{
    build_plan, verify_digest, LegalHolds, PlanCounts, PlanRule, PlannedRecord, RetentionPlan,
};
pub use rules::{due_from, is_due, Candidate, ClockEvent, RetentionAction, RuleSpec, Target};

use uuid::Uuid;

/// Errors of planning, re-checking and impact analysis. Names rules, kinds and record
/// ids (random, not personal), never a value of a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// A rule has an empty name.
    #[error("a retention rule has an empty name")]
    EmptyRuleName,
    /// Two rules share a name.
    #[error("two retention rules are named `{name}`")]
    DuplicateRuleName {
        /// The name.
        name: String,
    },
    /// Two rules apply to the same target: which one governs would be unclear.
    #[error("two retention rules apply to `{target}`")]
    DuplicateRuleTarget {
        /// The target.
        target: Target,
    },
    /// A record is listed twice among the candidates.
    #[error("record {record_id} of kind `{kind}` is listed twice")]
    DuplicateCandidate {
        /// Its kind.
        kind: Target,
        /// Its id.
        record_id: Uuid,
    },
    /// No creating account was named.
    #[error("no account named as the plan's creator")]
    MissingActor,
    /// The plan could not be encoded for its digest.
    #[error("the plan could not be encoded")]
    Encoding,
}
