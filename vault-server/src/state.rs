//! The application state shared by every handler.

use std::sync::Arc;

use tokio::sync::Semaphore;
use vault_core::accounts::Accounts;
use vault_core::crypto::Keyring;
use vault_core::store::Backend;

use crate::audit::{AuditRecord, AuditSink, LogAuditSink};
use crate::auth::AuthThrottle;
use crate::authz::PolicyView;
use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Everything a request handler may need, cheap to clone (one `Arc`).
///
/// Fields: the database `backend`, the `accounts` service over it, the `settings`
/// (limits), the `policy` view (roles, purposes, capabilities), the `metrics`, the
/// `audit` sink, the failed-authentication `throttle`, the concurrency `limiter` and
/// the `keyring`. The record facade (`vault_core::vault::Vault`) joins here when it is
/// merged.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    accounts: Accounts,
    settings: Settings,
    policy: PolicyView,
    metrics: Arc<Metrics>,
    audit: Arc<dyn AuditSink>,
    throttle: AuthThrottle,
    limiter: Arc<Semaphore>,
    keyring: Option<Arc<Keyring>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.inner.backend.name())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `backend` with the given limits, the default policy and the log audit sink.
    pub fn new(backend: Backend, settings: Settings) -> AppState {
        AppState::build(
            backend,
            settings,
            PolicyView::default(),
            Arc::new(LogAuditSink),
            None,
        )
    }

    /// State with an explicit policy and audit sink.
    pub fn build(
        backend: Backend,
        settings: Settings,
        policy: PolicyView,
        audit: Arc<dyn AuditSink>,
        keyring: Option<Arc<Keyring>>,
    ) -> AppState {
        let throttle = AuthThrottle::new(settings.auth_failure_limit, settings.auth_failure_window);
        let limiter = Arc::new(Semaphore::new(settings.max_concurrent_requests));
        AppState {
            inner: Arc::new(Inner {
                accounts: Accounts::new(backend.clone()),
                backend,
                settings,
                policy,
                metrics: Arc::new(Metrics::default()),
                audit,
                throttle,
                limiter,
                keyring,
            }),
        }
    }

    /// The database backend.
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The accounts service.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
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

    /// The keyring loaded at start (the key provider of the record facade); `None` in
    /// states built without keys (tests of the account routes).
    pub fn keyring(&self) -> Option<&Arc<Keyring>> {
        self.inner.keyring.as_ref()
    }

    pub(crate) fn throttle(&self) -> &AuthThrottle {
        &self.inner.throttle
    }

    pub(crate) fn limiter(&self) -> &Arc<Semaphore> {
        &self.inner.limiter
    }

    pub(crate) fn audit_queue_depth(&self) -> u64 {
        self.inner.audit.queue_depth()
    }

    /// Records an audit event and waits until it is durable; a failure is
    /// 503 `audit_unavailable` (fail closed) and counted.
    pub async fn audit(&self, rec: AuditRecord) -> Result<(), ApiError> {
        match self.inner.audit.record(rec).await {
            Ok(()) => Ok(()),
            Err(_) => {
                self.metrics().audit_failure();
                Err(ApiError::AuditUnavailable)
            }
        }
    }
}
