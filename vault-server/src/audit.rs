//! The server's hook into the audit log.
//!
//! Handlers and the authentication middleware describe what happened as an
//! [`AuditRecord`] and hand it to the [`AuditSink`] in the state, waiting for it to be
//! durable before answering (fail closed: an unwritable audit is 503
//! `audit_unavailable`). Until the audit module (hash chain, group commit) is merged,
//! [`LogAuditSink`] writes each record as a JSON log line with target
//! `kentei_vault::audit`; the adapter to `vault_core::audit::AuditLog::append` replaces
//! it in `serve` without changing any handler.

use std::net::IpAddr;

use futures::future::BoxFuture;

/// One audited event as the server sees it. Ids and names only, never personal values.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// What was attempted (`authenticate`, `account.create`, `account.disable`, …).
    pub action: &'static str,
    /// `ok`, `denied`, `not_found`, `invalid` or `error`.
    pub outcome: &'static str,
    /// The actor (account id or `bootstrap`), where known.
    pub actor: Option<String>,
    /// The token used, where known.
    pub token_id: Option<String>,
    /// The actor's roles.
    pub roles: Vec<String>,
    /// The stated purpose, if any.
    pub purpose: Option<String>,
    /// Subjects of the action (account ids, prefecture codes).
    pub subjects: Vec<String>,
    /// A stable reason code for denials and failures.
    pub reason: Option<&'static str>,
    /// The request id.
    pub request_id: Option<String>,
    /// The source address.
    pub source: IpAddr,
}

/// The audit store could not record an event.
#[derive(Debug, thiserror::Error)]
#[error("audit store unavailable")]
pub struct AuditUnavailable;

/// Where audit records go.
pub trait AuditSink: Send + Sync {
    /// Records one event; resolves once it is durable.
    fn record(&self, rec: AuditRecord) -> BoxFuture<'_, Result<(), AuditUnavailable>>;

    /// Events waiting to be written (for the `kentei_vault_audit_queue_depth` metric).
    fn queue_depth(&self) -> u64 {
        0
    }
}

/// Interim sink: one JSON log line per event on stderr (target `kentei_vault::audit`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogAuditSink;

impl AuditSink for LogAuditSink {
    fn record(&self, r: AuditRecord) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        tracing::info!(
            target: "kentei_vault::audit",
            action = r.action,
            outcome = r.outcome,
            actor = r.actor.as_deref(),
            token_id = r.token_id.as_deref(),
            roles = %r.roles.join(","),
            purpose = r.purpose.as_deref(),
            subjects = %r.subjects.join(","),
            reason = r.reason,
            request_id = r.request_id.as_deref(),
            source = %r.source,
            "audit"
        );
        Box::pin(async { Ok(()) })
    }
}
