//! Lifecycle (鍵と保存期間の運用): key rotation and destruction, retention runs (plan →
//! second-person approval → execution with crypto-shredding and a signed erasure
//! certificate), legal holds, meister intent checks, and backups.
//!
//! The pure rules live in [`crate::retention`] and [`crate::crypto`]; this module joins
//! them to the store, the keyring file, the policy in force and the audit log:
//!
//! - [`ManagedKeyring`]: the keyring the [`Vault`](crate::vault::Vault) uses, swapped
//!   atomically on rotation (the key file is saved before a new version is used), with a
//!   per-version usage counter (nonce budget) and the shred list that keeps shredded
//!   subjects unreadable in restored backups (`docs/decisions/0011-shred-list-for-backups.md`).
//! - [`Lifecycle`]: the operator-facing service. Every call takes an [`Actor`], checks a
//!   policy capability and writes audit events that carry ids and names only.
//! - Tables of `migrations/*/0004_lifecycle.sql` hold rotation checkpoints, usage
//!   counters, plans, progress, holds, retention clocks and intent checks.
//!
//! Operators never read personal data: nothing here returns or logs a field value. The
//! background jobs (re-wrap, re-index) decrypt inside vault-core only.

mod backup;
mod db;
mod keyring;
mod retention;
mod rotation;

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use uuid::Uuid;
use vault_policy::{Capability, Policy};

use crate::audit::{AuditError, AuditEvent, AuditLog, Ident, Label, Outcome};
use crate::crypto::CryptoError;
use crate::retention::{ApprovalError, CertificateError, RetentionError};
use crate::store::{open_store, Backend, Store, StoreError};
use crate::vault::Actor;

pub use backup::{backup_sqlite, reapply_shred_list, restore_sqlite, RestoreReport};
pub use keyring::{ManagedKeyring, ShredEntry, DEFAULT_WRAP_LIMIT};
pub use retention::{
    policy_rule_specs, HoldInfo, PlanState, PlanSummary, ShorteningCheck, StoredPlan,
};
pub use rotation::{KeyStatus, KeyVersionStatus, RotationProgress, RotationState};

/// The purpose stated for key operations.
pub const KEY_MANAGEMENT_PURPOSE: &str = "key_management";
/// The purpose stated for retention operations.
pub const RETENTION_PURPOSE: &str = "retention";

/// Errors of lifecycle operations. They name ids, versions, states and counts, never a
/// personal value or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The actor's roles do not grant the capability for the purpose.
    #[error("forbidden")]
    Forbidden,
    /// No such plan, hold, key or subject.
    #[error("not found")]
    NotFound,
    /// The operation does not fit the current state (for example executing an unapproved plan).
    #[error("not allowed in the current state: {0}")]
    InvalidState(String),
    /// The input was refused; names the parameter.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// The plan could not be approved.
    #[error("approval refused: {0}")]
    Approval(#[from] ApprovalError),
    /// Planning or re-checking failed.
    #[error("retention: {0}")]
    Retention(#[from] RetentionError),
    /// The erasure certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// A key operation failed.
    #[error("key: {0}")]
    Crypto(#[from] CryptoError),
    /// The record store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A lifecycle table could not be read or written.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// A stored lifecycle row could not be decoded; names the column.
    #[error("corrupt lifecycle row: {0}")]
    Corrupt(&'static str),
    /// The audit event could not be made durable, so nothing was done.
    #[error("audit log unavailable")]
    AuditUnavailable,
    /// A key version is still in use and cannot be destroyed.
    #[error("key {key_id} version {version} still protects {in_use} item(s)")]
    KeyInUse {
        /// Key id.
        key_id: String,
        /// Version.
        version: u32,
        /// Data keys (or index entries) that still depend on it.
        in_use: u64,
    },
    /// A new policy would make records due earlier; loading it needs an acknowledgement.
    #[error("the new policy makes {records} record(s) due earlier; acknowledge to load it")]
    ShorteningNotAcknowledged {
        /// Records that would become due earlier.
        records: usize,
    },
    /// A file could not be read or written (backups, shred list).
    #[error("file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The backend does not support the operation (for example an online backup of
    /// PostgreSQL, which is taken with `pg_dump`).
    #[error("not supported on this backend: {0}")]
    Unsupported(&'static str),
}

impl From<sqlx::Error> for LifecycleError {
    fn from(e: sqlx::Error) -> Self {
        LifecycleError::Database(e)
    }
}

impl From<AuditError> for LifecycleError {
    fn from(_: AuditError) -> Self {
        LifecycleError::AuditUnavailable
    }
}

/// Settings of the lifecycle service.
#[derive(Clone, Debug)]
pub struct LifecycleConfig {
    /// Keys re-wrapped (or records re-indexed) per transaction of a rotation job.
    pub batch_size: u32,
    /// How long a meister has to answer an intent check (意向確認の回答期限).
    pub intent_answer_within: crate::retention::Period,
    /// Cryptoperiod of a KEK version in days (NIST SP 800-57): an active version older
    /// than this is rotated by the background job. `None`: no age limit.
    pub kek_max_age_days: Option<u32>,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            batch_size: 200,
            intent_answer_within: crate::retention::Period::months(1),
            kek_max_age_days: None,
        }
    }
}

/// The lifecycle service: key rotation, retention runs, holds, meister intent checks.
///
/// Build it over the same backend, keyring and audit log as the
/// [`Vault`](crate::vault::Vault); reads and writes through the vault go on while its
/// jobs run.
pub struct Lifecycle {
    backend: Backend,
    store: Arc<dyn Store>,
    keys: Arc<ManagedKeyring>,
    policy: RwLock<Arc<Policy>>,
    audit: AuditLog,
    config: LifecycleConfig,
    /// One runner of the rotation jobs at a time in this process (a second process is
    /// safe too, only wasteful).
    jobs: tokio::sync::Mutex<()>,
}

impl Lifecycle {
    /// Starts the service: loads the persisted key usage counters into the keyring.
    pub async fn start(
        backend: Backend,
        keys: Arc<ManagedKeyring>,
        policy: Arc<Policy>,
        audit: AuditLog,
        config: LifecycleConfig,
    ) -> Result<Lifecycle, LifecycleError> {
        let lifecycle = Lifecycle {
            store: open_store(backend.clone()),
            backend,
            keys,
            policy: RwLock::new(policy),
            audit,
            config,
            jobs: tokio::sync::Mutex::new(()),
        };
        lifecycle.load_usage().await?;
        Ok(lifecycle)
    }

    /// Runs [`Lifecycle::run_rotations`] (which also flushes the usage counters) every
    /// `every`, until the returned task is aborted: the background re-wrap and re-index
    /// jobs of a serving vault. Failures are logged (no personal data) and retried at
    /// the next tick.
    pub fn spawn_background(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.run_rotations().await {
                    tracing::warn!(error = %e, "rotation jobs did not complete; retrying later");
                }
            }
        })
    }

    /// The keyring this service manages.
    pub fn keys(&self) -> &Arc<ManagedKeyring> {
        &self.keys
    }

    /// The policy in force (retention decisions at execution time use it).
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fails with an audited refusal unless some role of `actor` holds `capability`
    /// when stating `purpose`.
    async fn authorize(
        &self,
        actor: &Actor,
        purpose: &'static str,
        capability: Capability,
        action: &'static str,
    ) -> Result<(), LifecycleError> {
        if self
            .policy()
            .has_capability(&actor.roles, purpose, capability)
        {
            return Ok(());
        }
        self.audit_event(actor, purpose, action, &[], &[], Outcome::Denied)
            .await?;
        Err(LifecycleError::Forbidden)
    }

    /// Appends an event of `actor` and waits until it is durable; returns its seq.
    async fn audit_event(
        &self,
        actor: &Actor,
        purpose: &'static str,
        action: &'static str,
        subjects: &[Uuid],
        fields: &[String],
        outcome: Outcome,
    ) -> Result<u64, LifecycleError> {
        let ident = Ident::parse("actor", &actor.id).unwrap_or_else(|_| Ident::anonymous());
        let mut event = AuditEvent::new(ident, action_label(action)?, outcome)
            .subjects(subjects.iter().copied())
            .fields(fields.iter().filter_map(|f| Label::parse("field", f).ok()));
        let policy = self.policy();
        if let Some(role) = actor
            .roles
            .iter()
            .find(|r| policy.may_state_purpose(std::slice::from_ref(*r), purpose))
            .or(actor.roles.first())
            .and_then(|r| Label::parse("role", r).ok())
        {
            event = event.role(role);
        }
        if let Ok(p) = Label::parse("purpose", purpose) {
            event = event.purpose(p);
        }
        if let Ok(id) = Ident::parse("request_id", &actor.request_id) {
            event = event.request_id(id);
        }
        if let Some(addr) = actor.source {
            event = event.source(addr);
        }
        Ok(self.audit.append(event).await?)
    }

    /// Appends an event of the vault itself (background jobs).
    async fn audit_system(
        &self,
        action: &'static str,
        purpose: &'static str,
        fields: &[String],
    ) -> Result<u64, LifecycleError> {
        let mut event = AuditEvent::new(Ident::system(), action_label(action)?, Outcome::Ok)
            .fields(fields.iter().filter_map(|f| Label::parse("field", f).ok()));
        if let Ok(p) = Label::parse("purpose", purpose) {
            event = event.purpose(p);
        }
        Ok(self.audit.append(event).await?)
    }
}

fn action_label(action: &'static str) -> Result<Label, LifecycleError> {
    Label::parse("action", action).map_err(|_| LifecycleError::AuditUnavailable)
}

/// A time as stored in lifecycle tables (RFC 3339 UTC, microseconds).
fn time_text(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(6)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(s: &str, column: &'static str) -> Result<DateTime<Utc>, LifecycleError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| LifecycleError::Corrupt(column))
}

fn parse_date(s: &str, column: &'static str) -> Result<NaiveDate, LifecycleError> {
    s.parse().map_err(|_| LifecycleError::Corrupt(column))
}

fn parse_uuid(s: &str, column: &'static str) -> Result<Uuid, LifecycleError> {
    Uuid::parse_str(s).map_err(|_| LifecycleError::Corrupt(column))
}
