//! The application state shared by every handler.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;
use vault_core::accounts::Accounts;
use vault_core::audit::AuditLog;
use vault_core::crypto::Keyring;
use vault_core::store::Backend;
use vault_core::vault::Vault;

use crate::audit::{AuditRecord, AuditSink, ChainAuditSink};
use crate::auth::AuthThrottle;
use crate::authz::PolicyView;
use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Everything a request handler may need, cheap to clone (one `Arc`).
///
/// Fields: the database `backend`, the `accounts` service over it, the record facade
/// `vault` (which owns the audit log), the `settings` (limits), the `policy` view
/// (roles, purposes, capabilities), the `metrics`, the server's audit sink (appending
/// to the facade's audit log), the failed-authentication `throttle`, the concurrency
/// `limiter`, the `keyring` and the checkpoint files of the audit log.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    accounts: Accounts,
    vault: Vault,
    settings: Settings,
    policy: PolicyView,
    metrics: Arc<Metrics>,
    audit: Arc<dyn AuditSink>,
    throttle: AuthThrottle,
    limiter: Arc<Semaphore>,
    keyring: Arc<Keyring>,
    checkpoint_files: Vec<PathBuf>,
    audit_health: std::sync::Mutex<AuditHealth>,
    /// Key rotation and retention (set by `serve` when the keyring is a key file).
    lifecycle: std::sync::OnceLock<Arc<vault_core::lifecycle::Lifecycle>>,
}

/// What readiness last saw of the audit writer's counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AuditHealth {
    /// Failed appends at the last look.
    pub(crate) failures: u64,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.inner.backend.name())
            .finish_non_exhaustive()
    }
}

/// The parts [`AppState::new`] is built from.
pub struct StateParts {
    /// The database.
    pub backend: Backend,
    /// Limits of the HTTP application.
    pub settings: Settings,
    /// The policy in force (the same one the facade decides with).
    pub policy: PolicyView,
    /// The record facade, with the started audit log.
    pub vault: Vault,
    /// The keyring (its audit public key verifies checkpoints).
    pub keyring: Arc<Keyring>,
    /// Checkpoint files of the audit log (this instance's first), for `GET /v1/audit/verify`.
    pub checkpoint_files: Vec<PathBuf>,
}

impl std::fmt::Debug for StateParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateParts")
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a running service. Server-side audit records go to the facade's
    /// audit log.
    pub fn new(parts: StateParts) -> AppState {
        let StateParts {
            backend,
            settings,
            policy,
            vault,
            keyring,
            checkpoint_files,
        } = parts;
        let throttle = AuthThrottle::new(settings.auth_failure_limit, settings.auth_failure_window);
        let limiter = Arc::new(Semaphore::new(settings.max_concurrent_requests));
        let audit: Arc<dyn AuditSink> = Arc::new(ChainAuditSink::new(vault.audit().clone()));
        AppState {
            inner: Arc::new(Inner {
                accounts: Accounts::new(backend.clone()),
                backend,
                vault,
                settings,
                policy,
                metrics: Arc::new(Metrics::default()),
                audit,
                throttle,
                limiter,
                keyring,
                checkpoint_files,
                audit_health: std::sync::Mutex::new(AuditHealth::default()),
                lifecycle: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Attaches the lifecycle service (key rotation, retention); only the first call counts.
    pub fn set_lifecycle(&self, lifecycle: Arc<vault_core::lifecycle::Lifecycle>) {
        let _ = self.inner.lifecycle.set(lifecycle);
    }

    /// The lifecycle service, when the vault runs on a key file.
    pub fn lifecycle(&self) -> Option<&Arc<vault_core::lifecycle::Lifecycle>> {
        self.inner.lifecycle.get()
    }

    /// The database backend.
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The accounts service.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// The record facade.
    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// The audit log (shared by the facade and the server).
    pub fn audit_log(&self) -> &AuditLog {
        self.inner.vault.audit()
    }

    /// The limits in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The policy view (roles, purposes, capabilities).
    pub fn policy(&self) -> &PolicyView {
        &self.inner.policy
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The keyring loaded at start.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.inner.keyring
    }

    /// The audit log's checkpoint files.
    pub fn checkpoint_files(&self) -> &[PathBuf] {
        &self.inner.checkpoint_files
    }

    /// Whether an audit append failed since readiness last asked (then readiness
    /// tries an append of its own).
    pub(crate) fn audit_failed_since_last_look(&self) -> bool {
        let failures = self.audit_log().metrics().failures();
        // Only a counter: a poisoned lock is still usable.
        let mut h = self
            .inner
            .audit_health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let failed = failures > h.failures;
        h.failures = failures;
        failed
    }

    pub(crate) fn throttle(&self) -> &AuthThrottle {
        &self.inner.throttle
    }

    pub(crate) fn limiter(&self) -> &Arc<Semaphore> {
        &self.inner.limiter
    }

    /// Records an audit event and waits until it is durable; a failure is
    /// 503 `audit_unavailable` (fail closed). The role recorded is the first of the
    /// record's roles that may state its purpose.
    pub async fn audit(&self, rec: AuditRecord) -> Result<(), ApiError> {
        let role = match &rec.purpose {
            Some(p) => rec
                .roles
                .iter()
                .find(|r| self.policy().may_state_purpose(std::slice::from_ref(*r), p))
                .or(rec.roles.first()),
            None => rec.roles.first(),
        }
        .cloned();
        self.inner
            .audit
            .record(rec, role)
            .await
            .map_err(|_| ApiError::AuditUnavailable)
    }
}
