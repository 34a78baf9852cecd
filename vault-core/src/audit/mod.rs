//! The audit log (監査ログ): every access, change, search, resolve, reveal, export,
//! denial, failed authentication and administrative action, as a tamper-evident chain.
//!
//! - [`AuditEvent`] holds ids and names only; its types cannot carry a personal value.
//! - [`AuditLog`] appends through one writer task with group commit and answers only
//!   once the event is durable; if it cannot write, [`AuditError::Unavailable`].
//! - Each stored event carries SHA-256 over the previous hash and its canonical
//!   encoding; signed [`Checkpoint`]s (Ed25519) go to the database and to an
//!   append-only file outside it.
//! - [`verify`] recomputes every chain and checks checkpoints against the file.
//! - [`query_events`], [`impact_report`] and [`anomaly_report`] serve security officers.
//! - [`AuditLog::prune`] deletes old events up to a signed checkpoint.
//!
//! The format and the guarantees are described in `docs/audit.md`.

mod chain;
mod checkpoint;
mod error;
mod event;
mod postgres;
mod query;
mod signer;
mod sql;
mod sqlite;
mod sqlite_sync;
mod verify;
mod writer;

pub use checkpoint::{Checkpoint, CheckpointKind};
pub use error::AuditError;
pub use event::{AuditEvent, Ident, Label, Outcome, RecordedEvent, Tenant};
pub use query::{
    anomaly_report, impact_report, query_events, AnomalyOptions, AnomalyReport, DenialBurst,
    EventFilter, EventPage, ImpactBy, ImpactQuery, ImpactReport, OffHoursActivity, SubjectImpact,
    VolumeAnomaly, WorkingHours, MAX_PAGE,
};
pub use signer::{verify_checkpoint_signature, CheckpointSigner, Ed25519CheckpointSigner};
pub use verify::{verify, ChainSummary, Finding, Problem, VerifyOptions, VerifyReport};
pub use writer::{
    AuditConfig, AuditLog, AuditMetrics, PruneOutcome, PrunedChain, DEFAULT_COMMIT_DELAY,
};
