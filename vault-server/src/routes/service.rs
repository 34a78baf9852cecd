//! Service routes: health, readiness, metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use vault_core::audit::{AuditError, AuditEvent, Ident, Label, Outcome};
use vault_core::store::Backend;

use super::ApiRoutes;
use crate::error::{ApiError, Problem};
use crate::extract::Caller;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Routes without authentication (load-balancer probes).
pub(crate) fn public_router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/healthz", healthz)
        .get("/readyz", readyz)
}

/// Service routes that need a token.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/metrics", metrics)
        .get("/openapi.json", openapi)
}

/// Health or readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok` (healthz) or `ready` (readyz).
    status: &'static str,
    /// Database backend (`sqlite` or `postgres`), on readyz.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "the process is up", body = Status)))]
pub(crate) async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok",
        database: None,
    })
}

/// How long readiness waits for the audit writer to answer.
const AUDIT_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The database accepts writes and the audit log can be written: the writer answers
/// a checkpoint request (which signs a checkpoint only if events are unsigned), and if
/// the latest appends failed, a probe event (`service.readiness_probe` of `system`) is
/// appended to see whether they work again.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "ready to serve", body = Status),
        (status = 503, description = "database not writable, or the audit writer does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    let now = chrono::Utc::now().to_rfc3339();
    let sql_sqlite = "INSERT INTO vault_meta (key, value) VALUES ('readyz_probe', ?) \
                      ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    let sql_pg = "INSERT INTO vault_meta (key, value) VALUES ('readyz_probe', $1) \
                  ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    let r = match state.backend() {
        Backend::Sqlite(p) => sqlx::query(sql_sqlite)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
        Backend::Postgres(p) => sqlx::query(sql_pg).bind(now).execute(p).await.map(|_| ()),
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, "readiness probe: database not writable");
        return Err(ApiError::Unavailable("the database does not accept writes"));
    }
    let log = state.audit_log();
    let probe = async {
        if state.audit_failed_since_last_look() {
            let event = AuditEvent::new(
                Ident::system(),
                Label::parse("action", "service.readiness_probe")?,
                Outcome::Ok,
            );
            log.append(event).await.map(|_| ())
        } else {
            log.checkpoint_now().await.map(|_| ())
        }
    };
    match tokio::time::timeout(AUDIT_PROBE_TIMEOUT, probe).await {
        Ok(Ok(())) => Ok(Json(Status {
            status: "ready",
            database: Some(state.backend().name()),
        })),
        Ok(Err::<(), AuditError>(e)) => {
            tracing::warn!(error = %e, "readiness probe: the audit writer failed");
            Err(ApiError::Unavailable("the audit log cannot be written"))
        }
        Err(_) => {
            tracing::warn!("readiness probe: the audit writer did not answer in time");
            Err(ApiError::Unavailable("the audit log cannot be written"))
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "service", security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn metrics(State(state): State<AppState>, _caller: Caller) -> Response {
    let audit = state.audit_log().metrics();
    let mut resp = state.metrics().render(&audit).into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "service", security(("bearer" = [])),
    responses(
        (status = 200, description = "OpenAPI document", content_type = "application/json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn openapi(_caller: Caller) -> Response {
    Json(ApiDoc::openapi()).into_response()
}
