//! Retention routes (保存期間と廃棄, C15, C20–C23): plans, second-person approval,
//! execution, erasure certificates, legal holds, and the meister intent answer.
//!
//! Operators (`plan_retention`, `execute_retention`, `manage_holds`) and approvers
//! (`approve_retention`) state the purpose `retention`; a meister coordinator records an
//! intent answer with `meister_dispatch`. The lifecycle service checks the policy again,
//! refuses the plan's creator as approver, re-checks every record under the policy in
//! force at execution, and audits each call. Answers carry ids and counts only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use vault_core::retention::{today_in_japan, IntentAnswer};

use super::keys::{lifecycle, lifecycle_error, to_json};
use super::ApiRoutes;
use crate::authz::Capability;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{
    ApiJson, Authorized, Caller, OptionalJson, PathParams, Purpose, RequiredCapability,
};
use crate::state::AppState;

/// Routes of this module.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post("/v1/admin/retention/plans", create_plan)
        .get("/v1/admin/retention/plans", list_plans)
        .get("/v1/admin/retention/plans/{plan_id}", get_plan)
        .post("/v1/admin/retention/plans/{plan_id}/approve", approve_plan)
        .post("/v1/admin/retention/plans/{plan_id}/execute", execute_plan)
        .get(
            "/v1/admin/retention/plans/{plan_id}/certificate",
            certificate,
        )
        .post("/v1/admin/retention/holds", place_hold)
        .get("/v1/admin/retention/holds", list_holds)
        .post("/v1/admin/retention/holds/{hold_id}/release", release_hold)
        .post("/v1/meisters/{meister_id}/intent", intent_answer)
}

macro_rules! capability {
    ($name:ident, $cap:ident, $action:literal) => {
        #[doc = concat!("Capability marker: `", $action, "`.")]
        #[derive(Debug)]
        pub(crate) struct $name;
        impl RequiredCapability for $name {
            const CAPABILITY: Capability = Capability::$cap;
            const ACTION: &'static str = $action;
        }
    };
}

capability!(PlanCap, PlanRetention, "retention.plan");
capability!(ReadCap, ReadRetention, "retention.plan.read");
capability!(ApproveCap, ApproveRetention, "retention.approve");
capability!(ExecuteCap, ExecuteRetention, "retention.execute");
capability!(HoldsCap, ManageHolds, "retention.hold");

/// A plan request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanRequest {
    /// The day periods are evaluated for (YYYY-MM-DD, JST); default today in Japan.
    #[serde(default)]
    as_of: Option<String>,
}

/// A legal hold to place.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldRequest {
    /// The subjects (examinee or meister ids) to hold.
    subject_ids: Vec<Uuid>,
    /// A case reference (no personal data), 1–200 characters.
    reason: String,
}

/// A meister's answer to the intent check (意向確認).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntentRequest {
    /// `continue` or `no_intent`.
    answer: String,
    /// The day the answer arrived (YYYY-MM-DD); default today in Japan.
    #[serde(default)]
    answered_on: Option<String>,
}

fn date(field: &str, v: Option<&str>) -> Result<NaiveDate, ApiError> {
    match v {
        None => Ok(today_in_japan(chrono::Utc::now())),
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::Validation(vec![FieldProblem::new(field, "invalid_date")])),
    }
}

/// Makes and stores a plan (dry run): only records whose period has passed on `as_of`,
/// held subjects left out.
#[utoipa::path(post, path = "/v1/admin/retention/plans", tag = "retention", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "retention")),
    request_body(content = PlanRequest, description = "optional"),
    responses(
        (status = 201, description = "the stored plan (ids and counts)", body = Object),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid as_of", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_plan(
    State(state): State<AppState>,
    auth: Authorized<PlanCap>,
    OptionalJson(req): OptionalJson<PlanRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let as_of = date("as_of", req.as_of.as_deref())?;
    let plan = lifecycle(&state)?
        .create_plan(&auth.caller.vault_actor(), as_of)
        .await
        .map_err(lifecycle_error)?;
    Ok((StatusCode::CREATED, to_json(&plan)?))
}

/// Lists the plans, newest first.
#[utoipa::path(get, path = "/v1/admin/retention/plans", tag = "retention", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "plans", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_plans(
    State(state): State<AppState>,
    auth: Authorized<PlanCap>,
) -> Result<Json<Value>, ApiError> {
    let plans = lifecycle(&state)?
        .list_plans(&auth.caller.vault_actor())
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(
        json!({ "plans": serde_json::to_value(plans).map_err(ApiError::internal)? }),
    ))
}

/// One stored plan with its approval and certificate.
#[utoipa::path(get, path = "/v1/admin/retention/plans/{plan_id}", tag = "retention", security(("bearer" = [])),
    params(("plan_id" = Uuid, Path, description = "plan id"),
           ("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "the plan", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such plan", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_plan(
    State(state): State<AppState>,
    auth: Authorized<ReadCap>,
    params: PathParams,
) -> Result<Json<Value>, ApiError> {
    let plan = lifecycle(&state)?
        .get_plan(&auth.caller.vault_actor(), params.uuid(0)?)
        .await
        .map_err(lifecycle_error)?;
    to_json(&plan)
}

/// Approves a plan: a second person with `retention_approver`, never its creator (C22).
#[utoipa::path(post, path = "/v1/admin/retention/plans/{plan_id}/approve", tag = "retention", security(("bearer" = [])),
    params(("plan_id" = Uuid, Path, description = "plan id"),
           ("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "approved", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids, or the caller made the plan", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "not waiting for approval", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn approve_plan(
    State(state): State<AppState>,
    auth: Authorized<ApproveCap>,
    params: PathParams,
) -> Result<Json<Value>, ApiError> {
    let plan = lifecycle(&state)?
        .approve_plan(&auth.caller.vault_actor(), params.uuid(0)?)
        .await
        .map_err(lifecycle_error)?;
    to_json(&plan)
}

/// Executes an approved plan (re-checked under the policy in force; resumable) and
/// returns it with the signed erasure certificate.
#[utoipa::path(post, path = "/v1/admin/retention/plans/{plan_id}/execute", tag = "retention", security(("bearer" = [])),
    params(("plan_id" = Uuid, Path, description = "plan id"),
           ("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "executed", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "not approved, or the approval no longer holds", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn execute_plan(
    State(state): State<AppState>,
    auth: Authorized<ExecuteCap>,
    params: PathParams,
) -> Result<Json<Value>, ApiError> {
    let plan = lifecycle(&state)?
        .execute_plan(&auth.caller.vault_actor(), params.uuid(0)?)
        .await
        .map_err(lifecycle_error)?;
    to_json(&plan)
}

/// The signed erasure certificate of an executed plan (消去証明書, C20).
#[utoipa::path(get, path = "/v1/admin/retention/plans/{plan_id}/certificate", tag = "retention", security(("bearer" = [])),
    params(("plan_id" = Uuid, Path, description = "plan id"),
           ("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "{certificate, key_id, signature}", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such plan, or not executed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn certificate(
    State(state): State<AppState>,
    auth: Authorized<ReadCap>,
    params: PathParams,
) -> Result<Json<Value>, ApiError> {
    let signed = lifecycle(&state)?
        .certificate(&auth.caller.vault_actor(), params.uuid(0)?)
        .await
        .map_err(lifecycle_error)?;
    serde_json::from_str(&signed)
        .map(Json)
        .map_err(ApiError::internal)
}

/// Places a legal hold on subjects: none of their records is planned or erased until
/// it is released.
#[utoipa::path(post, path = "/v1/admin/retention/holds", tag = "retention", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "retention")),
    request_body = HoldRequest,
    responses(
        (status = 201, description = "placed", body = Object),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid subjects or reason", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn place_hold(
    State(state): State<AppState>,
    auth: Authorized<HoldsCap>,
    ApiJson(req): ApiJson<HoldRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let hold = lifecycle(&state)?
        .place_hold(&auth.caller.vault_actor(), &req.subject_ids, &req.reason)
        .await
        .map_err(lifecycle_error)?;
    Ok((StatusCode::CREATED, Json(json!({ "hold_id": hold }))))
}

/// Lists the legal holds, newest first.
#[utoipa::path(get, path = "/v1/admin/retention/holds", tag = "retention", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "holds", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_holds(
    State(state): State<AppState>,
    auth: Authorized<HoldsCap>,
) -> Result<Json<Value>, ApiError> {
    let holds = lifecycle(&state)?
        .list_holds(&auth.caller.vault_actor())
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(
        json!({ "holds": serde_json::to_value(holds).map_err(ApiError::internal)? }),
    ))
}

/// Releases a legal hold.
#[utoipa::path(post, path = "/v1/admin/retention/holds/{hold_id}/release", tag = "retention", security(("bearer" = [])),
    params(("hold_id" = Uuid, Path, description = "hold id"),
           ("Vault-Purpose" = String, Header, description = "retention")),
    responses(
        (status = 200, description = "released", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such hold", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already released", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn release_hold(
    State(state): State<AppState>,
    auth: Authorized<HoldsCap>,
    params: PathParams,
) -> Result<Json<Value>, ApiError> {
    let hold = params.uuid(0)?;
    lifecycle(&state)?
        .release_hold(&auth.caller.vault_actor(), hold)
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(json!({ "hold_id": hold, "released": true })))
}

/// Records a meister's answer to the open intent check (C21): `continue` by the
/// deadline keeps the meister active; `no_intent` deregisters (登録解除) and starts the
/// `meister_deregistered` period.
#[utoipa::path(post, path = "/v1/meisters/{meister_id}/intent", tag = "meisters", security(("bearer" = [])),
    params(("meister_id" = Uuid, Path, description = "meister id"),
           ("Vault-Purpose" = String, Header, description = "meister_dispatch")),
    request_body = IntentRequest,
    responses(
        (status = 200, description = "the meister's status after the answer", body = Object),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such meister in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "no open intent check", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid answer or date", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn intent_answer(
    State(state): State<AppState>,
    caller: Caller,
    purpose: Purpose,
    params: PathParams,
    ApiJson(req): ApiJson<IntentRequest>,
) -> Result<Json<Value>, ApiError> {
    let meister = params.uuid(0)?;
    let answer = match req.answer.as_str() {
        "continue" => IntentAnswer::Continue,
        "no_intent" => IntentAnswer::NoIntent,
        _ => {
            return Err(ApiError::Validation(vec![FieldProblem::new(
                "answer", "invalid",
            )]))
        }
    };
    let on = date("answered_on", req.answered_on.as_deref())?;
    let status = lifecycle(&state)?
        .record_intent_answer(&caller.vault_actor(), &purpose.0, meister, answer, on)
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(
        json!({ "meister_id": meister, "status": status.as_str() }),
    ))
}
