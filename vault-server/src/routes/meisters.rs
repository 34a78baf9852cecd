//! Meister routes (ものづくりマイスター): registration, view-filtered reads, teaching
//! activities (活動実績) and the inactivity report (C21).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::examinees::clear_json;
use super::ApiRoutes;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{ApiJson, Caller, PathParams, Purpose};
use crate::openapi::records::{MeisterActivityFields, MeisterFields};
use crate::state::AppState;

/// Routes of this module.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post("/v1/meisters", create_meister)
        .get("/v1/meisters/inactive", inactive_meisters)
        .get("/v1/meisters/{meister_id}", read_meister)
        .post("/v1/meisters/{meister_id}/activities", add_activity)
}

/// A registered meister.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeisterCreated {
    /// The vault's id of the meister (マイスターID).
    meister_id: Uuid,
}

/// A recorded activity.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActivityCreated {
    /// The vault's id of the activity record.
    activity_id: Uuid,
}

/// Query of the inactivity report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InactiveQuery {
    /// The day the report is made for (YYYY-MM-DD); default: today in Japan (JST).
    as_of: Option<String>,
}

/// One meister of the inactivity report.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InactiveMeister {
    /// The meister.
    meister_id: Uuid,
}

/// Meisters with no activity (nor certification) within the policy's inactivity
/// period (3 years by default) before `as_of`, in the caller's prefectures.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InactiveReport {
    /// The day the report was made for.
    as_of: NaiveDate,
    /// The inactive meisters.
    results: Vec<InactiveMeister>,
}

/// Registers a meister (ものづくりマイスター).
#[utoipa::path(post, path = "/v1/meisters", tag = "meisters", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "meister_dispatch")),
    request_body = MeisterFields,
    responses(
        (status = 201, description = "registered", body = MeisterCreated),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the prefecture is outside the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_meister(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<MeisterCreated>), ApiError> {
    let r = state
        .vault()
        .register_meister(&caller.vault_actor(), &purpose, &body)
        .await;
    clear_json(&mut body);
    let meister_id = r?;
    Ok((StatusCode::CREATED, Json(MeisterCreated { meister_id })))
}

/// Reads a meister in the caller's view.
#[utoipa::path(get, path = "/v1/meisters/{meister_id}", tag = "meisters", security(("bearer" = [])),
    params(("meister_id" = Uuid, Path, description = "meister id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "meister_dispatch")),
    responses(
        (status = 200, description = "the meister in the caller's view", body = MeisterFields),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such meister in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written; no data", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read_meister(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
) -> Result<Json<Value>, ApiError> {
    let id = path.uuid(0)?;
    let view = state
        .vault()
        .read_meister(&caller.vault_actor(), &purpose, id)
        .await?;
    let mut fields = view.fields;
    fields
        .entry("meister_id".to_owned())
        .or_insert(Value::String(id.to_string()));
    Ok(Json(Value::Object(fields)))
}

/// Records a teaching activity of a meister: `date`, `kind`, `host_name`,
/// `trainee_person_days`.
#[utoipa::path(post, path = "/v1/meisters/{meister_id}/activities", tag = "meisters", security(("bearer" = [])),
    params(("meister_id" = Uuid, Path, description = "meister id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "meister_dispatch")),
    request_body = MeisterActivityFields,
    responses(
        (status = 201, description = "recorded", body = ActivityCreated),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such meister in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add_activity(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<ActivityCreated>), ApiError> {
    let id = path.uuid(0)?;
    let r = state
        .vault()
        .add_activity(&caller.vault_actor(), &purpose, id, &body)
        .await;
    clear_json(&mut body);
    let created = r?;
    let activity_id = Uuid::parse_str(&created)
        .map_err(|_| ApiError::internal("the facade answered an activity id that is not a UUID"))?;
    Ok((StatusCode::CREATED, Json(ActivityCreated { activity_id })))
}

/// Today's date in Japan (UTC+9), the default `as_of` of the inactivity report.
fn today_in_japan() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive()
}

/// Meisters with no activity within the policy's inactivity period (3 years by
/// default) before `as_of`: candidates for the intent check (意向確認, C21).
#[utoipa::path(get, path = "/v1/meisters/inactive", tag = "meisters", security(("bearer" = [])),
    params(InactiveQuery,
           ("Vault-Purpose" = String, Header, description = "meister_dispatch")),
    responses(
        (status = 200, description = "the report", body = InactiveReport),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "as_of is not a date", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn inactive_meisters(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    query: Result<Query<InactiveQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<InactiveReport>, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::Validation(vec![FieldProblem::new(
            "query", "invalid",
        )]));
    };
    let as_of = match q.as_of.as_deref() {
        None => today_in_japan(),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ApiError::Validation(vec![FieldProblem::new("as_of", "invalid_date")]))?,
    };
    let ids = state
        .vault()
        .inactive_meisters(&caller.vault_actor(), &purpose, as_of)
        .await?;
    Ok(Json(InactiveReport {
        as_of,
        results: ids
            .into_iter()
            .map(|meister_id| InactiveMeister { meister_id })
            .collect(),
    }))
}
