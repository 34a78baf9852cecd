//! The server's hook into the audit log (監査ログ).
//!
//! Record calls are audited by the facade (`vault_core::vault::Vault`) itself. The
//! server audits what happens outside it — failed authentications, account
//! administration, denials of its own routes and the security officers' audit
//! queries — by describing each as an [`AuditRecord`] and handing it to the
//! [`AuditSink`] in the state, waiting until it is durable before answering (fail
//! closed: an unwritable audit is 503 `audit_unavailable`).
//!
//! [`ChainAuditSink`] appends to the hash-chained `vault_core::audit::AuditLog`, the
//! same chain the facade writes. An [`AuditRecord`] holds ids and names only; the
//! conversion into an `AuditEvent` drops anything the audit types refuse (a value
//! that is not an identifier or a vocabulary name) rather than record it.

use std::net::IpAddr;

use futures::future::BoxFuture;
use uuid::Uuid;
use vault_core::audit::{AuditEvent, AuditLog, Ident, Label, Outcome, Tenant};

/// One audited event as the server sees it. Ids and names only, never personal values.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// What was attempted (`auth.unknown_token`, `account.create`, `audit.query`, …).
    pub action: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// The actor (account id or `bootstrap`), where known; `anonymous` otherwise.
    pub actor: Option<String>,
    /// The token used, where known.
    pub token_id: Option<String>,
    /// The actor's roles (the first that may state the purpose is recorded).
    pub roles: Vec<String>,
    /// The stated purpose, if any.
    pub purpose: Option<String>,
    /// Subjects of the action: examinee or meister ids, or for `account.*` actions the
    /// account ids concerned.
    pub subjects: Vec<Uuid>,
    /// The prefecture concerned (`tenant.revoke`), if any.
    pub tenant: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The source address.
    pub source: IpAddr,
}

impl AuditRecord {
    /// A record of `action` with `outcome` from `source`; everything else empty.
    pub fn new(action: &'static str, outcome: Outcome, source: IpAddr) -> AuditRecord {
        AuditRecord {
            action,
            outcome,
            actor: None,
            token_id: None,
            roles: Vec::new(),
            purpose: None,
            subjects: Vec::new(),
            tenant: None,
            request_id: crate::error::current_request_id(),
            source,
        }
    }

    /// The audit event for this record. `role` is the role recorded.
    fn into_event(self, role: Option<&str>) -> Result<AuditEvent, AuditUnavailable> {
        let actor = self
            .actor
            .as_deref()
            .and_then(|a| Ident::parse("actor", a).ok())
            .unwrap_or_else(Ident::anonymous);
        // Actions are written in this crate; one that breaks the label rules is a bug,
        // and an event that cannot be recorded fails the request.
        let action = Label::parse("action", self.action).map_err(|_| AuditUnavailable)?;
        let mut e = AuditEvent::new(actor, action, self.outcome)
            .subjects(self.subjects)
            .source(self.source);
        if let Some(r) = role.and_then(|r| Label::parse("role", r).ok()) {
            e = e.role(r);
        }
        if let Some(p) = self
            .purpose
            .as_deref()
            .and_then(|p| Label::parse("purpose", p).ok())
        {
            e = e.purpose(p);
        }
        if let Some(t) = self.tenant.as_deref().and_then(|t| Tenant::parse(t).ok()) {
            e = e.tenant(t);
        }
        if let Some(id) = self
            .request_id
            .as_deref()
            .and_then(|r| Ident::parse("request_id", r).ok())
        {
            e = e.request_id(id);
        }
        if let Some(t) = self
            .token_id
            .as_deref()
            .and_then(|t| Ident::parse("token_id", t).ok())
        {
            e = e.token_id(t);
        }
        Ok(e)
    }
}

/// The audit store could not record an event.
#[derive(Debug, thiserror::Error)]
#[error("audit store unavailable")]
pub struct AuditUnavailable;

/// Where the server's audit records go.
pub trait AuditSink: Send + Sync {
    /// Records one event; resolves once it is durable. `role` is the role to record.
    fn record(
        &self,
        rec: AuditRecord,
        role: Option<String>,
    ) -> BoxFuture<'_, Result<(), AuditUnavailable>>;
}

/// The sink of `serve`: appends to the hash-chained audit log.
#[derive(Clone, Debug)]
pub struct ChainAuditSink {
    log: AuditLog,
}

impl ChainAuditSink {
    /// A sink appending to `log`.
    pub fn new(log: AuditLog) -> ChainAuditSink {
        ChainAuditSink { log }
    }
}

impl AuditSink for ChainAuditSink {
    fn record(
        &self,
        rec: AuditRecord,
        role: Option<String>,
    ) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        Box::pin(async move {
            let event = rec.into_event(role.as_deref())?;
            self.log
                .append(event)
                .await
                .map(|_| ())
                .map_err(|_| AuditUnavailable)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> AuditRecord {
        AuditRecord::new(
            "auth.unknown_token",
            Outcome::Denied,
            "192.0.2.7".parse().unwrap(),
        )
    }

    #[test]
    fn a_valid_record_becomes_an_event() {
        let mut r = rec();
        r.actor = Some(Uuid::nil().to_string());
        r.purpose = Some("audit_review".into());
        r.tenant = Some("35".into());
        let e = r.into_event(Some("security_officer")).unwrap();
        assert_eq!(e.action_name().as_str(), "auth.unknown_token");
        assert_eq!(e.outcome_value(), Outcome::Denied);
    }

    #[test]
    fn values_that_are_not_identifiers_are_dropped_not_recorded() {
        let mut r = rec();
        r.actor = Some("山田 太郎".into());
        r.request_id = Some("123456789012".into());
        r.tenant = Some("99".into());
        let e = r.into_event(Some("Not A Role")).unwrap();
        let text = format!("{e:?}");
        assert_eq!(e.actor_id().as_str(), "anonymous");
        assert!(!text.contains("123456789012"), "{text}");
        assert!(!text.contains("山田"), "{text}");
        assert!(!text.contains("Not A Role"), "{text}");
    }
}
