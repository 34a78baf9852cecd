//! Request extractors: the project's own JSON body, the authenticated caller, the
//! stated purpose and listing pages. Each rejects in the project's problem format.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use vault_core::accounts::{Account, Principal, TokenId};

use crate::error::{ApiError, FieldProblem};
use crate::state::AppState;

/// Name of the header that states the purpose of a call.
pub const PURPOSE_HEADER: &str = "vault-purpose";
/// Name of the request id header.
pub const REQUEST_ID_HEADER: &str = "vault-request-id";

/// A JSON body: malformed JSON is 400 `malformed`, a wrong shape (unknown field,
/// missing field, wrong type, invalid value) is 422 `validation` naming the field,
/// an oversized body 413. No error message contains a submitted value.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !json_type {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.settings().max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::Malformed("the request body could not be read".into())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body into `T`, mapping errors as [`ApiJson`] documents.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Malformed(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        ApiError::Validation(vec![classify_serde_error(&path, &msg)])
    })
}

/// Turns a serde error into a field name and code without keeping the message,
/// which may quote the submitted value.
fn classify_serde_error(path: &str, msg: &str) -> FieldProblem {
    let join = |name: &str| {
        if path == name || path.ends_with(&format!(".{name}")) {
            // serde_path_to_error already names the unknown key in the path.
            path.to_owned()
        } else if path.is_empty() || path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let here = if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    // The key named in these two messages is a field name sent or expected, not a value.
    if let Some(name) = backticked(msg, "unknown field `") {
        return FieldProblem::new(join(&name), "unknown_field");
    }
    if let Some(name) = backticked(msg, "missing field `") {
        return FieldProblem::new(join(&name), "required");
    }
    if msg.starts_with("invalid type") {
        return FieldProblem::new(here, "invalid_type");
    }
    if msg.starts_with("invalid length") {
        return FieldProblem::new(here, "invalid_length");
    }
    FieldProblem::new(here, "invalid")
}

fn backticked(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    let name = &rest[..rest.find('`')?];
    // Keep reports short and printable even for hostile keys.
    Some(name.chars().filter(|c| !c.is_control()).take(64).collect())
}

/// The authenticated caller of a protected route (inserted by the authentication
/// middleware).
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who the token belongs to.
    pub principal: Principal,
    /// The source address of the connection.
    pub source: IpAddr,
}

impl Caller {
    /// The actor id recorded in the audit: the account id, or `bootstrap`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::Account { account, .. } => account.id.to_string(),
            _ => "bootstrap".to_owned(),
        }
    }

    /// The named account, if the caller is one (not the bootstrap token).
    pub fn account(&self) -> Option<&Account> {
        match &self.principal {
            Principal::Account { account, .. } => Some(account),
            _ => None,
        }
    }

    /// The token used, if the caller is a named account.
    pub fn token_id(&self) -> Option<TokenId> {
        match &self.principal {
            Principal::Account { token_id, .. } => Some(*token_id),
            _ => None,
        }
    }

    /// The caller's roles; the bootstrap token acts as `admin` for its one call.
    pub fn roles(&self) -> Vec<String> {
        match &self.principal {
            Principal::Account { account, .. } => account.roles.clone(),
            _ => vec!["admin".to_owned()],
        }
    }

    /// The prefectures the caller may see (none for the bootstrap token). Record
    /// handlers pass this to the facade's `Actor`, whose store queries apply it.
    pub fn tenants(&self) -> vault_policy::TenantScope {
        match &self.principal {
            Principal::Account { account, .. } => account.tenants.clone(),
            _ => vault_policy::TenantScope::Only(Default::default()),
        }
    }

    /// The facade's view of this caller: account id, roles, prefectures, token, the
    /// current request id and the source address.
    pub fn vault_actor(&self) -> vault_core::vault::Actor {
        vault_core::vault::Actor {
            id: self.actor(),
            roles: self.roles(),
            tenants: self.tenants(),
            token_id: self.token_id().map(|t| t.to_string()),
            request_id: crate::error::current_request_id()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            source: Some(self.source),
        }
    }

    /// An audit record of `action` by this caller for `purpose`.
    pub fn audit_record(
        &self,
        action: &'static str,
        outcome: vault_core::audit::Outcome,
        purpose: &str,
    ) -> crate::audit::AuditRecord {
        let mut r = crate::audit::AuditRecord::new(action, outcome, self.source);
        r.actor = Some(self.actor());
        r.token_id = self.token_id().map(|t| t.to_string());
        r.roles = self.roles();
        r.purpose = Some(purpose.to_owned());
        r
    }

    /// Whether the caller is the bootstrap token.
    pub fn is_bootstrap(&self) -> bool {
        matches!(self.principal, Principal::Bootstrap { .. })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The purpose stated in `Vault-Purpose`, checked to be a purpose the policy knows.
/// Routes that read or write personal data take this extractor; a missing header is
/// 400 `purpose_required`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose(pub String);

impl FromRequestParts<AppState> for Purpose {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(PURPOSE_HEADER) else {
            return Err(ApiError::PurposeRequired(
                "this call reads or writes personal data: state the purpose in the `Vault-Purpose` header",
            ));
        };
        let p = v.to_str().unwrap_or("").trim();
        if p.is_empty() {
            return Err(ApiError::PurposeRequired(
                "the `Vault-Purpose` header is empty; state one purpose of the policy",
            ));
        }
        if !state.policy().is_purpose(p) {
            return Err(ApiError::PurposeRequired(
                "the `Vault-Purpose` header names no purpose of the policy",
            ));
        }
        Ok(Purpose(p.to_owned()))
    }
}

/// Query parameters of a listing: `limit` (capped by `page_size_max`) and `cursor`.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size; defaults to `page_size_default`, capped at `page_size_max`.
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Clone, Debug)]
pub struct Page {
    /// Rows to return (1..=page_size_max).
    pub limit: u32,
    /// Cursor of the previous page, if any.
    pub cursor: Option<String>,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Query(q) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Validation(vec![FieldProblem::new("query", "invalid")]))?;
        let s = state.settings();
        let limit = match q.limit {
            None => s.page_size_default,
            Some(0) => {
                return Err(ApiError::Validation(vec![FieldProblem::new(
                    "limit",
                    "too_small",
                )]))
            }
            Some(n) => n.min(s.page_size_max),
        };
        Ok(Page {
            limit,
            cursor: q.cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        n: u32,
    }

    fn problems(e: ApiError) -> Vec<FieldProblem> {
        match e {
            ApiError::Validation(v) => v,
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_400() {
        let e = parse_json::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse_json::<Body>(br#"{"name":"x","n":1,"extra":"SECRET"}"#).unwrap_err();
        assert_eq!(
            problems(e),
            vec![FieldProblem::new("extra", "unknown_field")]
        );
    }

    #[test]
    fn wrong_type_names_field_not_value() {
        let e = parse_json::<Body>(br#"{"name":"x","n":"SECRET-VALUE"}"#).unwrap_err();
        let body = serde_json::to_string(&e.problem()).unwrap();
        assert!(!body.contains("SECRET-VALUE"));
        assert_eq!(problems(e), vec![FieldProblem::new("n", "invalid_type")]);
    }

    #[test]
    fn missing_field_is_required() {
        let e = parse_json::<Body>(br#"{"name":"x"}"#).unwrap_err();
        assert_eq!(problems(e), vec![FieldProblem::new("n", "required")]);
    }
}

/// Marker for the capability an [`Authorized`] extractor demands.
pub trait RequiredCapability: Send + Sync + 'static {
    /// The capability.
    const CAPABILITY: crate::authz::Capability;
    /// Audit action name of a denial.
    const ACTION: &'static str;
}

/// The caller, with a stated purpose its roles may state and that grants the
/// capability `C`; otherwise 400 (no purpose) or 403 (forbidden, audited).
/// Handlers take it before the body, so an unauthorised caller learns nothing from
/// body validation.
#[derive(Debug)]
pub struct Authorized<C> {
    /// The authenticated caller.
    pub caller: Caller,
    /// The stated purpose.
    pub purpose: Purpose,
    _cap: std::marker::PhantomData<C>,
}

impl<C: RequiredCapability> FromRequestParts<AppState> for Authorized<C> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let purpose = Purpose::from_request_parts(parts, state).await?;
        let roles = caller.roles();
        let policy = state.policy();
        let reason = if !policy.may_state_purpose(&roles, &purpose.0) {
            Some("purpose_not_allowed")
        } else if !policy.has_capability(&roles, &purpose.0, C::CAPABILITY) {
            Some("role_forbidden")
        } else {
            None
        };
        if let Some(reason) = reason {
            let mut rec = crate::audit::AuditRecord::new(
                C::ACTION,
                vault_core::audit::Outcome::Denied,
                caller.source,
            );
            rec.actor = Some(caller.actor());
            rec.token_id = caller.token_id().map(|t| t.to_string());
            rec.roles = roles;
            rec.purpose = Some(purpose.0.clone());
            state.audit(rec).await?;
            return Err(ApiError::Forbidden(if reason == "purpose_not_allowed" {
                "the account's roles may not state this purpose"
            } else {
                "the account's roles do not allow this call for this purpose"
            }));
        }
        Ok(Authorized {
            caller,
            purpose,
            _cap: std::marker::PhantomData,
        })
    }
}

/// An optional JSON body: an empty body is `T::default()`, otherwise as [`ApiJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
            || (req.headers().get(CONTENT_TYPE).is_none()
                && req
                    .headers()
                    .get(axum::http::header::TRANSFER_ENCODING)
                    .is_none()
                && req
                    .headers()
                    .get(axum::http::header::CONTENT_LENGTH)
                    .is_none());
        if empty {
            return Ok(OptionalJson(T::default()));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| OptionalJson(v))
    }
}

/// The parameters of a record path (`/v1/examinees/{examinee_id}/…`), in order.
///
/// Any id that is not well-formed answers 404 `not_found`, exactly like an id that
/// does not exist, so that ids cannot be probed for their format.
#[derive(Debug)]
pub struct PathParams(Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<Vec<String>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| PathParams(v))
            .map_err(|_| ApiError::NotFound)
    }
}

impl PathParams {
    /// Parameter `i` as a UUID (a record id); otherwise 404.
    pub fn uuid(&self, i: usize) -> Result<uuid::Uuid, ApiError> {
        self.0
            .get(i)
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or(ApiError::NotFound)
    }

    /// Parameter `i` as text (an application id); otherwise 404.
    pub fn text(&self, i: usize) -> Result<&str, ApiError> {
        self.0.get(i).map(String::as_str).ok_or(ApiError::NotFound)
    }
}
