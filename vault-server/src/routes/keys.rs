//! Key management routes for operators (鍵管理): `GET /v1/admin/keys` (status),
//! `POST /v1/admin/keys/{key_id}/rotate`, `POST /v1/admin/keys/{key_id}/versions/{version}/destroy`.
//!
//! Each needs the purpose `key_management` and the `manage_keys` capability; the
//! lifecycle service audits every call (`key.status`, `key.rotate`, `key.destroy`).
//! Answers carry key ids, versions, states and counts only: no key material, no
//! personal data. The re-wrap job of a rotation runs in the background.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use vault_core::lifecycle::{Lifecycle, LifecycleError};
use vault_core::retention::ApprovalError;

use super::ApiRoutes;
use crate::authz::Capability;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Authorized, PathParams, RequiredCapability};
use crate::state::AppState;

/// Routes of this module.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/v1/admin/keys", key_status)
        .post("/v1/admin/keys/{key_id}/rotate", rotate_key)
        .post(
            "/v1/admin/keys/{key_id}/versions/{version}/destroy",
            destroy_key,
        )
}

/// Capability marker: key management.
#[derive(Debug)]
pub(crate) struct ManageKeys;
impl RequiredCapability for ManageKeys {
    const CAPABILITY: Capability = Capability::ManageKeys;
    const ACTION: &'static str = "key.manage";
}

/// The lifecycle service, or 503 when the vault runs without a key file.
pub(crate) fn lifecycle(state: &AppState) -> Result<&Arc<Lifecycle>, ApiError> {
    state.lifecycle().ok_or(ApiError::Unavailable(
        "key rotation and retention need the vault to run on a key file",
    ))
}

/// The one mapping of lifecycle errors to answers; none carries a value.
pub(crate) fn lifecycle_error(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Forbidden => {
            ApiError::Forbidden("the account's roles do not allow this call for this purpose")
        }
        LifecycleError::NotFound => ApiError::NotFound,
        LifecycleError::Invalid(field) => {
            ApiError::Validation(vec![FieldProblem::new(field, "invalid")])
        }
        LifecycleError::InvalidState(_) => {
            ApiError::Conflict("the plan, hold or key is not in a state that allows this")
        }
        LifecycleError::Approval(ApprovalError::CreatorCannotApprove) => {
            ApiError::Forbidden("the plan's creator cannot approve it")
        }
        LifecycleError::Approval(ApprovalError::MissingRole { .. }) => {
            ApiError::Forbidden("approving needs the retention_approver role")
        }
        LifecycleError::Approval(_) => {
            ApiError::Conflict("the plan no longer matches its digest or approval")
        }
        LifecycleError::KeyInUse { .. } => ApiError::Conflict(
            "the key version still protects data: let the rotation job finish first",
        ),
        LifecycleError::ShorteningNotAcknowledged { .. } => {
            ApiError::Conflict("the policy makes records due earlier and was not acknowledged")
        }
        LifecycleError::Unsupported(_) => ApiError::Conflict("not supported on this backend"),
        LifecycleError::AuditUnavailable => ApiError::AuditUnavailable,
        other => ApiError::internal(other),
    }
}

pub(crate) fn to_json(v: &impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(ApiError::internal)
}

/// Key status: versions, states, data-key counts, usage (nonce budget), age, rotation
/// jobs and the audit public key.
#[utoipa::path(get, path = "/v1/admin/keys", tag = "keys", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "key_management")),
    responses(
        (status = 200, description = "key status", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn key_status(
    State(state): State<AppState>,
    auth: Authorized<ManageKeys>,
) -> Result<Json<Value>, ApiError> {
    let status = lifecycle(&state)?
        .key_status(&auth.caller.vault_actor())
        .await
        .map_err(lifecycle_error)?;
    to_json(&status)
}

/// Rotates a key (`general`, `my_number` or `blind_index`): the new version is used at
/// once; the job re-wrapping existing data keys (or re-indexing) runs in the background.
#[utoipa::path(post, path = "/v1/admin/keys/{key_id}/rotate", tag = "keys", security(("bearer" = [])),
    params(("key_id" = String, Path, description = "general, my_number or blind_index"),
           ("Vault-Purpose" = String, Header, description = "key_management")),
    responses(
        (status = 202, description = "rotated; the job runs in the background", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    auth: Authorized<ManageKeys>,
    params: PathParams,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key_id = params.text(0)?;
    let life = lifecycle(&state)?;
    let job = life
        .rotate_key(&auth.caller.vault_actor(), key_id)
        .await
        .map_err(lifecycle_error)?;
    // Start the job now rather than at the next background tick.
    let runner = Arc::clone(life);
    tokio::spawn(async move {
        if let Err(e) = runner.run_rotations().await {
            tracing::warn!(error = %e, "rotation job stopped; the background task retries");
        }
    });
    Ok((StatusCode::ACCEPTED, to_json(&job)?))
}

/// Destroys an old key version once nothing depends on it (409 otherwise).
#[utoipa::path(post, path = "/v1/admin/keys/{key_id}/versions/{version}/destroy", tag = "keys",
    security(("bearer" = [])),
    params(("key_id" = String, Path, description = "general, my_number or blind_index"),
           ("version" = u32, Path, description = "the version to destroy"),
           ("Vault-Purpose" = String, Header, description = "key_management")),
    responses(
        (status = 200, description = "destroyed", body = Object),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such key version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "active, or still in use", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no key file, or the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn destroy_key(
    State(state): State<AppState>,
    auth: Authorized<ManageKeys>,
    params: PathParams,
) -> Result<Json<Value>, ApiError> {
    let key_id = params.text(0)?.to_owned();
    let version: u32 = params.text(1)?.parse().map_err(|_| ApiError::NotFound)?;
    lifecycle(&state)?
        .destroy_key(&auth.caller.vault_actor(), &key_id, version)
        .await
        .map_err(lifecycle_error)?;
    Ok(Json(serde_json::json!({
        "key_id": key_id,
        "version": version,
        "state": "destroyed",
    })))
}
