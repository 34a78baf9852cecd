//! Audit routes for security officers (C11, C13, C14): the event listing, chain
//! verification and the impact report. The roster is in `routes::accounts`.
//!
//! Each call needs a purpose whose grant holds the capability (`read_audit` for the
//! listing and verification, `incident_report` for the impact report; by default the
//! `security_officer` role with `audit_review` or `incident_response`). Each answered
//! call is itself audited (`audit.query`, `audit.verify`, `audit.impact`) before the
//! answer leaves; if that event cannot be written, nothing is answered (503).

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use vault_core::audit::{
    impact_report, query_events, verify, AuditError, EventFilter, Ident, ImpactBy, ImpactQuery,
    Label, Outcome, Problem as ChainProblem, RecordedEvent, VerifyOptions, VerifyReport, MAX_PAGE,
};
use vault_core::crypto::KeyProvider as _;

use super::ApiRoutes;
use crate::authz::Capability;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{ApiJson, Authorized, RequiredCapability};
use crate::state::AppState;

/// Routes of this module.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/v1/audit/events", list_events)
        .get("/v1/audit/verify", verify_chain)
        .post("/v1/audit/impact", impact)
}

/// Capability marker: reading the audit log.
#[derive(Debug)]
pub(crate) struct ReadAudit;
impl RequiredCapability for ReadAudit {
    const CAPABILITY: Capability = Capability::ReadAudit;
    const ACTION: &'static str = "audit.query";
}

/// Capability marker: verifying the audit chain.
#[derive(Debug)]
pub(crate) struct VerifyAudit;
impl RequiredCapability for VerifyAudit {
    const CAPABILITY: Capability = Capability::ReadAudit;
    const ACTION: &'static str = "audit.verify";
}

/// Capability marker: the impact report.
#[derive(Debug)]
pub(crate) struct ImpactReportCap;
impl RequiredCapability for ImpactReportCap {
    const CAPABILITY: Capability = Capability::ImpactReport;
    const ACTION: &'static str = "audit.impact";
}

/// Filters of the event listing; every given one must hold.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Events of this actor (an account id, `bootstrap`, `anonymous` or `system`).
    actor: Option<String>,
    /// Events that touched this subject (examinee or meister id; for `account.*`
    /// actions, an account id).
    subject: Option<String>,
    /// Events with this action (`examinee.read`, `auth.unknown_token`, …).
    action: Option<String>,
    /// Events with this outcome: `ok`, `denied`, `not_found`, `invalid`, `error`.
    outcome: Option<String>,
    /// Events made with this token id.
    token_id: Option<String>,
    /// At or after this time (RFC 3339).
    from: Option<String>,
    /// Before this time (RFC 3339).
    to: Option<String>,
    /// Page size; default `page_size_default`, capped at `page_size_max` (and 1000).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One audit event: ids and names only, never a personal value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventOut {
    /// Position in its chain.
    seq: u64,
    /// When it was recorded (UTC, microseconds).
    at: DateTime<Utc>,
    /// The account (or `bootstrap`, `anonymous`, `system`).
    actor: String,
    /// The role acted in.
    role: Option<String>,
    /// The stated purpose.
    purpose: Option<String>,
    /// What was done.
    action: String,
    /// Subjects touched (examinee/meister ids; account ids for `account.*`).
    subjects: Vec<Uuid>,
    /// Field names touched.
    fields: Vec<String>,
    /// `ok`, `denied`, `not_found`, `invalid` or `error`.
    outcome: String,
    /// The request id.
    request_id: Option<String>,
    /// The source address.
    source: Option<String>,
    /// The chain (one per server instance).
    chain: String,
    /// The prefecture of the record touched.
    tenant: Option<String>,
    /// The token used.
    token_id: Option<String>,
}

impl From<RecordedEvent> for EventOut {
    fn from(e: RecordedEvent) -> Self {
        EventOut {
            seq: e.seq,
            at: e.at,
            actor: e.actor.as_str().to_owned(),
            role: e.role.map(|r| r.as_str().to_owned()),
            purpose: e.purpose.map(|p| p.as_str().to_owned()),
            action: e.action.as_str().to_owned(),
            subjects: e.subjects,
            fields: e.fields.iter().map(|f| f.as_str().to_owned()).collect(),
            outcome: e.outcome.as_str().to_owned(),
            request_id: e.request_id.map(|r| r.as_str().to_owned()),
            source: e.source.map(|s| s.to_string()),
            chain: e.chain,
            tenant: e.tenant.map(|t| t.as_str().to_owned()),
            token_id: e.token_id.map(|t| t.as_str().to_owned()),
        }
    }
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventsPage {
    events: Vec<EventOut>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    next_cursor: Option<String>,
}

/// The result of verifying the audit chain(s) and checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerifyOut {
    /// True when nothing was found.
    ok: bool,
    /// Events checked.
    checked: u64,
    /// The first broken seq, or null.
    first_broken_seq: Option<u64>,
    /// The chain of the first problem.
    chain: Option<String>,
    /// The first problem: `edited`, `missing`, `reordered`, `truncated_after_checkpoint`,
    /// `bad_signature`, `checkpoint_mismatch`, `head_mismatch`, `subject_index_mismatch`,
    /// `checkpoint_file_unreadable`, `checkpoint_file_missing`.
    problem: Option<String>,
    /// Checkpoint files read.
    checkpoint_files_read: usize,
}

/// The question of an impact report: exactly one of `actor` and `token_id`, and the
/// window `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImpactRequest {
    /// An account id (e.g. a former employee's or a compromised account).
    #[serde(default)]
    actor: Option<String>,
    /// A token id (e.g. a leaked token).
    #[serde(default)]
    token_id: Option<String>,
    /// Window start (RFC 3339).
    from: DateTime<Utc>,
    /// Window end (RFC 3339).
    to: DateTime<Utc>,
}

/// What the actor or token did to one subject.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SubjectImpactOut {
    /// The subject (examinee or meister id).
    subject: Uuid,
    /// Successful events about the subject (read, changed, revealed, found).
    accessed: u64,
    /// Refused or failed attempts about the subject.
    refused: u64,
    /// Field name -> successful events that touched it.
    fields: BTreeMap<String, u64>,
    /// Action -> events.
    actions: BTreeMap<String, u64>,
    /// First event about the subject in the window.
    first_at: DateTime<Utc>,
    /// Last event about the subject in the window.
    last_at: DateTime<Utc>,
}

/// The impact report (影響範囲の特定, C14) and whom to notify (本人への連絡).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImpactOut {
    /// Window start.
    from: DateTime<Utc>,
    /// Window end.
    to: DateTime<Utc>,
    /// Events of the actor or token in the window.
    events: u64,
    /// Of which refused or failed.
    refused: u64,
    /// Field name -> successful events that touched it, over all subjects.
    fields: BTreeMap<String, u64>,
    /// Every subject named in an event, with counts.
    subjects: Vec<SubjectImpactOut>,
    /// Subjects to notify: those with at least one successful event.
    notify: Vec<Uuid>,
}

fn invalid(field: &str, code: &str) -> ApiError {
    ApiError::Validation(vec![FieldProblem::new(field, code)])
}

fn audit_error(e: AuditError) -> ApiError {
    match e {
        AuditError::InvalidCursor => invalid("cursor", "invalid"),
        AuditError::InvalidQuery(_) => invalid("to", "before_from"),
        AuditError::Unavailable => ApiError::AuditUnavailable,
        other => ApiError::internal(other),
    }
}

fn parse_time(field: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| invalid(field, "invalid_datetime"))
    })
    .transpose()
}

/// Lists audit events, newest first (C11). Never personal values.
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", security(("bearer" = [])),
    params(EventsQuery,
           ("Vault-Purpose" = String, Header, description = "audit_review or incident_response")),
    responses(
        (status = 200, description = "one page of events", body = EventsPage),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an invalid filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    auth: Authorized<ReadAudit>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventsPage>, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(invalid("query", "invalid"));
    };
    let filter = EventFilter {
        actor: q
            .actor
            .as_deref()
            .map(|a| Ident::parse("actor", a).map_err(|_| invalid("actor", "invalid")))
            .transpose()?,
        subject: q
            .subject
            .as_deref()
            .map(|s| Uuid::parse_str(s).map_err(|_| invalid("subject", "invalid")))
            .transpose()?,
        action: q
            .action
            .as_deref()
            .map(|a| Label::parse("action", a).map_err(|_| invalid("action", "invalid")))
            .transpose()?,
        token_id: q
            .token_id
            .as_deref()
            .map(|t| Ident::parse("token_id", t).map_err(|_| invalid("token_id", "invalid")))
            .transpose()?,
        outcome: q
            .outcome
            .as_deref()
            .map(|o| Outcome::from_str(o).map_err(|_| invalid("outcome", "invalid")))
            .transpose()?,
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
    };
    let s = state.settings();
    let limit = match q.limit {
        None => s.page_size_default,
        Some(0) => return Err(invalid("limit", "too_small")),
        Some(n) => n.min(s.page_size_max),
    }
    .min(MAX_PAGE);
    let page = query_events(state.backend(), &filter, limit, q.cursor.as_deref())
        .await
        .map_err(audit_error)?;
    let mut rec = auth
        .caller
        .audit_record(ReadAudit::ACTION, Outcome::Ok, &auth.purpose.0);
    rec.subjects = filter.subject.into_iter().collect();
    state.audit(rec).await?;
    Ok(Json(EventsPage {
        events: page.events.into_iter().map(EventOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The stable code of a chain problem and the seq it names, if any.
fn problem_code(p: ChainProblem) -> &'static str {
    match p {
        ChainProblem::Edited => "edited",
        ChainProblem::Missing => "missing",
        ChainProblem::Reordered => "reordered",
        ChainProblem::TruncatedAfterCheckpoint(_) => "truncated_after_checkpoint",
        ChainProblem::BadSignature(_) => "bad_signature",
        ChainProblem::CheckpointMismatch(_) => "checkpoint_mismatch",
        ChainProblem::HeadMismatch => "head_mismatch",
        ChainProblem::SubjectIndexMismatch => "subject_index_mismatch",
        ChainProblem::CheckpointFileUnreadable(_) => "checkpoint_file_unreadable",
        ChainProblem::CheckpointFileMissing => "checkpoint_file_missing",
        _ => "other",
    }
}

/// Verifies the audit chains, checkpoint signatures and checkpoint files (C13) of a
/// possibly running vault.
///
/// The chain head is read before the events; an event appended in between looks
/// like a head mismatch, so a report whose only findings are head mismatches is
/// taken again (at most three times in all) before it is answered.
pub(crate) async fn verify_settled(
    backend: &vault_core::store::Backend,
    opts: &VerifyOptions,
) -> Result<VerifyReport, AuditError> {
    let mut report = verify(backend, opts).await?;
    for _ in 0..2 {
        let only_head = !report.ok
            && report
                .findings
                .iter()
                .all(|f| f.problem == ChainProblem::HeadMismatch);
        if !only_head {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        report = verify(backend, opts).await?;
    }
    Ok(report)
}

/// What the verifier checks against: the checkpoint files and the keyring's audit
/// signing public key.
pub(crate) fn verify_options(
    keyring: &vault_core::crypto::Keyring,
    files: &[std::path::PathBuf],
) -> VerifyOptions {
    let signer = keyring.audit_signer();
    let mut opts = VerifyOptions::new().public_key(signer.key_id(), signer.public_key());
    for f in files {
        opts = opts.checkpoint_file(f.clone());
    }
    opts
}

/// The stable code of the first problem of a report.
pub(crate) fn first_problem(report: &VerifyReport) -> Option<&'static str> {
    report.problem.map(problem_code)
}

/// Verifies the audit chain(s), checkpoint signatures and checkpoint files (C13).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "audit_review or incident_response")),
    responses(
        (status = 200, description = "the verification result (also when broken)", body = VerifyOut),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify_chain(
    State(state): State<AppState>,
    auth: Authorized<VerifyAudit>,
) -> Result<Json<VerifyOut>, ApiError> {
    let opts = verify_options(state.keyring(), state.checkpoint_files());
    let report = verify_settled(state.backend(), &opts)
        .await
        .map_err(audit_error)?;
    let rec = auth.caller.audit_record(
        VerifyAudit::ACTION,
        if report.ok {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        &auth.purpose.0,
    );
    state.audit(rec).await?;
    Ok(Json(VerifyOut {
        ok: report.ok,
        checked: report.checked,
        first_broken_seq: report.first_broken_seq,
        problem: first_problem(&report).map(str::to_owned),
        chain: report.chain,
        checkpoint_files_read: report.checkpoint_files_read,
    }))
}

/// The impact report of an actor or a token over a window (C14): which subjects and
/// fields it touched, with counts, and whom to notify.
#[utoipa::path(post, path = "/v1/audit/impact", tag = "audit", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "incident_response or audit_review")),
    request_body = ImpactRequest,
    responses(
        (status = 200, description = "the report", body = ImpactOut),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not exactly one of actor and token_id, an invalid id, or to not after from", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn impact(
    State(state): State<AppState>,
    auth: Authorized<ImpactReportCap>,
    ApiJson(body): ApiJson<ImpactRequest>,
) -> Result<Json<ImpactOut>, ApiError> {
    let by = match (body.actor.as_deref(), body.token_id.as_deref()) {
        (Some(a), None) => {
            ImpactBy::Actor(Ident::parse("actor", a).map_err(|_| invalid("actor", "invalid"))?)
        }
        (None, Some(t)) => ImpactBy::Token(
            Ident::parse("token_id", t).map_err(|_| invalid("token_id", "invalid"))?,
        ),
        _ => return Err(invalid("body", "exactly_one_of_actor_token_id")),
    };
    if body.to <= body.from {
        return Err(invalid("to", "before_from"));
    }
    let q = ImpactQuery {
        by,
        from: body.from,
        to: body.to,
    };
    let r = impact_report(state.backend(), &q)
        .await
        .map_err(audit_error)?;
    let rec = auth
        .caller
        .audit_record(ImpactReportCap::ACTION, Outcome::Ok, &auth.purpose.0);
    state.audit(rec).await?;
    Ok(Json(ImpactOut {
        from: r.from,
        to: r.to,
        events: r.events,
        refused: r.refused,
        fields: r.fields,
        subjects: r
            .subjects
            .into_iter()
            .map(|s| SubjectImpactOut {
                subject: s.subject,
                accessed: s.accessed,
                refused: s.refused,
                fields: s.fields,
                actions: s.actions,
                first_at: s.first_at,
                last_at: s.last_at,
            })
            .collect(),
        notify: r.notify,
    }))
}
