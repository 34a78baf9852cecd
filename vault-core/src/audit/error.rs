//! Errors of the audit log. Messages name fields and chains, never a value.

use crate::store::StoreError;

/// What went wrong in the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The event could not be made durable. The request must fail (HTTP 503
    /// `audit_unavailable`) and no data may be returned.
    #[error("audit log unavailable: the event was not recorded")]
    Unavailable,
    /// A name or identifier does not follow the rules of its type.
    #[error("invalid {field} for an audit event")]
    InvalidName {
        /// The event field (`actor`, `purpose`, ...).
        field: &'static str,
    },
    /// The audit configuration is not usable.
    #[error("invalid audit configuration: {0}")]
    Config(String),
    /// The database failed, or runs with settings too weak for the audit log.
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    /// The checkpoint file could not be read or written.
    #[error("checkpoint file {path}: {source}")]
    CheckpointFile {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored event could not be read back (run `audit verify`).
    #[error("stored audit event {chain}/{seq} cannot be decoded")]
    Corrupt {
        /// Chain of the event.
        chain: String,
        /// Sequence number of the event.
        seq: u64,
    },
    /// A paging cursor was not produced by this vault.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A query window or option is not usable.
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),
    /// Pruning would delete events younger than the audit retention period.
    #[error("audit events are kept at least {min_days} days; the cut is too recent")]
    RetentionNotReached {
        /// The configured minimum retention.
        min_days: u64,
    },
    /// The database's chain ends before a checkpoint that the checkpoint file records
    /// (a truncated log, or a database restored from an older backup). The writer does
    /// not start: continuing would fork the recorded history. Run `audit verify`.
    #[error(
        "chain {chain} ends at {head_seq} but the checkpoint file records seq {checkpoint_seq}"
    )]
    BehindCheckpointFile {
        /// The chain.
        chain: String,
        /// Last seq in the database.
        head_seq: u64,
        /// The checkpoint of the file beyond it (or not matching it).
        checkpoint_seq: u64,
    },
    /// The signing key could not be created or loaded.
    #[error("checkpoint signing key rejected")]
    SigningKey,
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Store(StoreError::from(e))
    }
}
