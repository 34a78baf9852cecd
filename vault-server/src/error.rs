//! The one server error type, mapped once to `application/problem+json` (RFC 9457).
//!
//! Every failure a handler or middleware can report is an [`ApiError`]; its
//! [`IntoResponse`] builds the problem document with the stable `type` codes of the
//! API contract. Internal errors are logged with their cause and answered with a
//! generic body. No variant carries a submitted value.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The request id of the request being served (set by the request-id middleware).
    pub(crate) static REQUEST_ID: String;
}

/// The request id of the current request, if one is being served.
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// One invalid field: its name and a stable code, never its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field (JSON path for nested fields).
    pub field: String,
    /// Stable code: `required`, `unknown_field`, `invalid`, `invalid_type`, `unknown_role`, …
    pub code: String,
}

impl FieldProblem {
    /// A field problem.
    pub fn new(field: impl Into<String>, code: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            code: code.into(),
        }
    }
}

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable error code: `validation`, `malformed`, `unauthenticated`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `purpose_required`, `conflict`, `rate_limited`,
    /// `payload_too_large`, `unsupported_media_type`, `request_timeout`, `overloaded`,
    /// `audit_unavailable`, `unavailable`, `internal`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Short human-readable summary of the type.
    pub title: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong and, where possible, what to change. Never a submitted value.
    pub detail: String,
    /// The request id (`Vault-Request-Id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For `validation`: the invalid fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the body or a parameter is not well-formed.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 422: fields failed validation.
    #[error("validation failed")]
    Validation(Vec<FieldProblem>),
    /// 401: no, unknown, expired, revoked or disabled token.
    #[error("unauthenticated")]
    Unauthenticated,
    /// 403: role, purpose or source network forbids the call.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 400: the `Vault-Purpose` header is missing or names no known purpose.
    #[error("purpose required: {0}")]
    PurposeRequired(&'static str),
    /// 409.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 413.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the client may try again.
        retry_after_secs: u64,
    },
    /// 408: the request took longer than the configured request timeout.
    #[error("request timeout")]
    RequestTimeout,
    /// 503: more requests in flight than the configured limit.
    #[error("overloaded")]
    Overloaded,
    /// 503: the audit store could not record the event; no data is returned.
    #[error("audit unavailable")]
    AuditUnavailable,
    /// 503: the database is not writable (readiness).
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// 500: logged with its cause, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// An internal error; the cause is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(cause.to_string())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) | ApiError::PurposeRequired(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Overloaded | ApiError::AuditUnavailable | ApiError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable problem `type` code.
    pub fn type_code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed",
            ApiError::Validation(_) => "validation",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PurposeRequired(_) => "purpose_required",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::Overloaded => "overloaded",
            ApiError::AuditUnavailable => "audit_unavailable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "Malformed request",
            ApiError::Validation(_) => "Validation failed",
            ApiError::Unauthenticated => "Authentication required",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::PurposeRequired(_) => "Purpose required",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::RequestTimeout => "Request timeout",
            ApiError::Overloaded => "Service overloaded",
            ApiError::AuditUnavailable => "Audit unavailable",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Malformed(d) => d.clone(),
            ApiError::Validation(_) => {
                "one or more fields are invalid; see errors for the fields and codes".into()
            }
            ApiError::Unauthenticated => {
                "send a valid, active token as `Authorization: Bearer <token>`".into()
            }
            ApiError::Forbidden(d) => (*d).to_owned(),
            ApiError::NotFound => "no such resource".into(),
            ApiError::MethodNotAllowed => "this path does not accept this method".into(),
            ApiError::PurposeRequired(d) => (*d).to_owned(),
            ApiError::Conflict(d) => (*d).to_owned(),
            ApiError::PayloadTooLarge { limit } => {
                format!("the request body exceeds the limit of {limit} bytes")
            }
            ApiError::UnsupportedMediaType => "send the body as `application/json`".into(),
            ApiError::RateLimited { retry_after_secs } => format!(
                "too many failed authentications from this address; retry after {retry_after_secs} s"
            ),
            ApiError::RequestTimeout => "the request was not completed in time".into(),
            ApiError::Overloaded => "too many requests in flight; retry shortly".into(),
            ApiError::AuditUnavailable => {
                "the audit log cannot be written, so the request was not carried out".into()
            }
            ApiError::Unavailable(d) => (*d).to_owned(),
            ApiError::Internal(_) => "an internal error occurred; quote the request_id".into(),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        Problem {
            type_: self.type_code(),
            title: self.title(),
            status: self.status().as_u16(),
            detail: self.detail(),
            request_id: current_request_id(),
            errors: match self {
                ApiError::Validation(e) => e.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(request_id = current_request_id(), cause = %cause, "internal error");
        }
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Overloaded => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            ApiError::Unauthenticated => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}

impl From<vault_core::accounts::AccountsError> for ApiError {
    fn from(e: vault_core::accounts::AccountsError) -> Self {
        use vault_core::accounts::AccountsError as E;
        match e {
            E::DuplicateName => ApiError::Conflict("an account with this name already exists"),
            E::NotFound => ApiError::NotFound,
            E::Disabled => ApiError::Conflict("the account is disabled"),
            E::BootstrapUsed => ApiError::Unauthenticated,
            E::Invalid(errs) => ApiError::Validation(
                errs.into_iter()
                    .map(|f| FieldProblem::new(f.field, f.code))
                    .collect(),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<vault_core::vault::VaultError> for ApiError {
    /// The one mapping of the record facade's errors: 403, 404, 422 (field names and
    /// codes only), 409, 503 `audit_unavailable`; anything else is logged (the error
    /// names no value) and answered 500 with a generic body.
    fn from(e: vault_core::vault::VaultError) -> Self {
        use vault_core::vault::VaultError as E;
        match e {
            E::Forbidden => {
                ApiError::Forbidden("the account's roles do not allow this call for this purpose")
            }
            E::NotFound => ApiError::NotFound,
            E::Invalid(errs) => ApiError::Validation(
                errs.0
                    .into_iter()
                    .map(|f| {
                        let field = if f.field.is_empty() {
                            "body".to_owned()
                        } else {
                            f.field
                        };
                        FieldProblem::new(field, f.code)
                    })
                    .collect(),
            ),
            E::Conflict(_) => ApiError::Conflict("a record with this identifier already exists"),
            E::Store(vault_core::store::StoreError::StaleVersion) => ApiError::Conflict(
                "the record was changed by another request; read it again and retry",
            ),
            E::AuditUnavailable => ApiError::AuditUnavailable,
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_core::model::{ValidationError, ValidationErrors};
    use vault_core::vault::VaultError;

    fn mapped(e: VaultError) -> (u16, &'static str, Problem) {
        let a = ApiError::from(e);
        (a.status().as_u16(), a.type_code(), a.problem())
    }

    #[test]
    fn facade_refusals_map_to_403_404_409_and_503() {
        assert_eq!(mapped(VaultError::Forbidden).0, 403);
        assert_eq!(mapped(VaultError::NotFound).0, 404);
        assert_eq!(mapped(VaultError::Conflict("index".into())).0, 409);
        assert_eq!(
            mapped(VaultError::Store(
                vault_core::store::StoreError::StaleVersion
            ))
            .0,
            409
        );
        let (status, ty, _) = mapped(VaultError::AuditUnavailable);
        assert_eq!((status, ty), (503, "audit_unavailable"));
    }

    #[test]
    fn facade_validation_is_422_with_field_names_and_codes() {
        let errs = ValidationErrors(vec![
            ValidationError {
                field: String::new(),
                code: "not_an_object",
            },
            ValidationError {
                field: "my_number".into(),
                code: "invalid_check_digit",
            },
        ]);
        let (status, ty, p) = mapped(VaultError::Invalid(errs));
        assert_eq!((status, ty), (422, "validation"));
        assert_eq!(
            p.errors,
            vec![
                FieldProblem::new("body", "not_an_object"),
                FieldProblem::new("my_number", "invalid_check_digit"),
            ]
        );
    }

    #[test]
    fn other_facade_failures_are_500_with_a_generic_detail() {
        let (status, ty, p) = mapped(VaultError::Crypto(
            vault_core::crypto::CryptoError::DecryptionFailed,
        ));
        assert_eq!((status, ty), (500, "internal"));
        assert!(!p.detail.contains("decryption"), "{}", p.detail);
    }
}
