//! Cross-cutting HTTP layers: request id, security headers, metrics and access log,
//! the global concurrency limit, the request timeout and the body-size limit.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, REQUEST_ID};
use crate::extract::REQUEST_ID_HEADER;
use crate::state::AppState;

/// A client's request id is used when the audit log can record it as an identifier
/// (1-64 of `A-Z a-z 0-9 _ . : -` with a letter and no run of more than 6 digits, or a
/// UUID); otherwise the server answers with its own. The rules keep numbers such as a
/// My Number or a phone number out of the logs and the audit.
fn acceptable_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    vault_core::audit::Ident::parse("request_id", s)
        .ok()
        .map(|id| id.as_str().to_owned())
}

/// Takes `Vault-Request-Id` from the request (when it is an acceptable identifier) or
/// generates one, makes it available to every inner layer and error,
/// and echoes it on the response.
pub(crate) async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    resp
}

/// Headers on every response: nothing is cached, sniffed, framed or executed.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Counts the request by route template and status, observes its latency and writes
/// one access-log line (no query string, no body, no header values).
pub(crate) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state
        .metrics()
        .observe_request(&route, &method, status, elapsed);
    tracing::info!(
        target: "kentei_vault::access",
        request_id = crate::error::current_request_id(),
        method = %method,
        route = %route,
        status,
        latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    resp
}

/// Global concurrency limit: beyond `max_concurrent_requests` in flight, 503
/// `overloaded` at once (health probes are exempt so that an overloaded instance
/// still answers its load balancer).
pub(crate) async fn limit_concurrency(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let Ok(_permit) = state.limiter().clone().try_acquire_owned() else {
        state.metrics().shed();
        return ApiError::Overloaded.into_response();
    };
    next.run(req).await
}

/// Request timeout: a request (reading its body included) that takes longer than
/// `request_timeout_secs` is answered 408 and dropped.
pub(crate) async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.settings().request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            state.metrics().timeout();
            ApiError::RequestTimeout.into_response()
        }
    }
}

/// Most bytes of an oversized body read and discarded before answering 413.
///
/// An HTTP/1.1 client that does not use `Expect: 100-continue` only reads the
/// answer once it has sent its body; closing on it mid-body makes it see a broken
/// pipe instead of the 413. Up to this many bytes are therefore drained (within the
/// request timeout); beyond it the connection is closed.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;

/// Refuses a declared body larger than `max_body_bytes` without handing it to any
/// handler (413); bodies without a length are cut at the same limit by the extractors.
pub(crate) async fn body_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use http_body_util::BodyExt as _;
    let limit = state.settings().max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(declared) = declared.filter(|n| *n > limit as u64) else {
        return next.run(req).await;
    };
    if declared <= DRAIN_LIMIT {
        let mut body = req.into_body();
        while let Some(Ok(_)) = body.frame().await {}
    }
    let mut resp = ApiError::PayloadTooLarge { limit }.into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 404 for every path no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// 405 for a known path with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
