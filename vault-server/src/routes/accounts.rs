//! Account administration (admins) and the roster (admins, security officers):
//! `POST /v1/accounts`, `POST /v1/accounts/{id}/disable`, `POST /v1/accounts/{id}/tokens`,
//! `GET /v1/accounts/roster`, and the emergency revokes
//! `POST /v1/accounts/{id}/revoke` and `POST /v1/tenants/{prefecture}/revoke` (C24).
//!
//! Account names may be names of persons, so every route here takes a stated purpose
//! (`account_management`, or `audit_review`/`incident_response` for security officers).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use vault_core::accounts::{Account, AccountId, CreatedBy, NewAccount, Principal};
use vault_core::audit::Outcome;

use super::ApiRoutes;
use crate::audit::AuditRecord;
use crate::authz::Capability;
use crate::error::{ApiError, FieldProblem};
use crate::extract::{ApiJson, Authorized, OptionalJson, Page, RequiredCapability};
use crate::state::AppState;

/// Routes of this module.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post("/v1/accounts", create_account)
        .post("/v1/accounts/{id}/disable", disable_account)
        .post("/v1/accounts/{id}/tokens", issue_token)
        .post("/v1/accounts/{id}/revoke", revoke_account)
        .get("/v1/accounts/roster", roster)
        .post("/v1/tenants/{prefecture}/revoke", revoke_tenant)
}

/// Capability marker: account administration.
#[derive(Debug)]
pub(crate) struct ManageAccounts;
impl RequiredCapability for ManageAccounts {
    const CAPABILITY: Capability = Capability::ManageAccounts;
    const ACTION: &'static str = "account.manage";
}

/// Capability marker: reading the roster.
#[derive(Debug)]
pub(crate) struct ViewRoster;
impl RequiredCapability for ViewRoster {
    const CAPABILITY: Capability = Capability::ViewRoster;
    const ACTION: &'static str = "account.roster";
}

/// Capability marker: emergency revoke.
#[derive(Debug)]
pub(crate) struct EmergencyRevoke;
impl RequiredCapability for EmergencyRevoke {
    const CAPABILITY: Capability = Capability::EmergencyRevoke;
    const ACTION: &'static str = "account.revoke";
}

/// A new account for one person or one calling system.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAccountRequest {
    /// Name of the person or system (unique, at most 200 characters).
    name: String,
    /// Role names of the policy (e.g. `exam_staff`).
    roles: Vec<String>,
    /// Prefecture codes `"01"`–`"47"`, or `["*"]` for all.
    prefectures: Vec<String>,
    /// Source networks in CIDR notation; absent or empty means any address.
    #[serde(default)]
    allowed_networks: Vec<String>,
    /// When the account stops working (RFC 3339); absent means never.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// The created account and its first token (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreateAccountResponse {
    /// Account id.
    account_id: Uuid,
    /// The bearer token; it is not stored and cannot be shown again.
    token: String,
    /// Token id (appears in the audit).
    token_id: Uuid,
    /// When the token expires.
    token_expires_at: Option<DateTime<Utc>>,
}

/// Options for a new token.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueTokenRequest {
    /// When the token expires (RFC 3339); default: now + `token_lifetime_days`,
    /// never later than the account's expiry.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// A new token (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssueTokenResponse {
    /// Token id (appears in the audit).
    token_id: Uuid,
    /// The bearer token; it is not stored and cannot be shown again.
    token: String,
    /// When the token expires.
    expires_at: Option<DateTime<Utc>>,
}

/// One account in the roster.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RosterEntry {
    account_id: Uuid,
    name: String,
    roles: Vec<String>,
    /// Prefecture codes or `["*"]`.
    prefectures: Vec<String>,
    allowed_networks: Vec<String>,
    /// `active` or `disabled`.
    status: &'static str,
    expires_at: Option<DateTime<Utc>>,
    /// Creator: an account id, `bootstrap` or `cli:USER`.
    created_by: String,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    /// Last successful authentication (minute resolution); null if never used.
    last_used_at: Option<DateTime<Utc>>,
}

impl From<Account> for RosterEntry {
    fn from(a: Account) -> Self {
        RosterEntry {
            account_id: a.id.0,
            prefectures: a.prefecture_codes(),
            allowed_networks: a.allowed_networks.iter().map(ToString::to_string).collect(),
            status: a.status.as_str(),
            name: a.name,
            roles: a.roles,
            expires_at: a.expires_at,
            created_by: a.created_by,
            created_at: a.created_at,
            disabled_at: a.disabled_at,
            last_used_at: a.last_used_at,
        }
    }
}

/// A page of the roster.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Roster {
    accounts: Vec<RosterEntry>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// Counts of an emergency revoke.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevokeResponse {
    /// Accounts whose tokens were revoked.
    accounts: u64,
    /// Tokens revoked by this call.
    tokens_revoked: u64,
}

fn record(
    auth: &crate::extract::Caller,
    purpose: &str,
    action: &'static str,
    outcome: Outcome,
    subjects: Vec<Uuid>,
) -> AuditRecord {
    let mut r = auth.audit_record(action, outcome, purpose);
    r.subjects = subjects;
    r
}

fn creator(caller: &crate::extract::Caller) -> CreatedBy {
    match caller.account() {
        Some(a) => CreatedBy::Account(a.id),
        None => CreatedBy::Bootstrap,
    }
}

/// Unknown or malformed ids answer 404, like a missing account.
fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    raw.parse::<AccountId>().map_err(|_| ApiError::NotFound)
}

/// Creates an account and its first token. With the bootstrap token, only an account
/// holding `admin` can be created, once.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "account_management")),
    request_body = CreateAccountRequest,
    responses(
        (status = 201, description = "created; the token is shown only now", body = CreateAccountResponse),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "an account with this name exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many failed authentications", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    auth: Authorized<ManageAccounts>,
    ApiJson(body): ApiJson<CreateAccountRequest>,
) -> Result<(StatusCode, Json<CreateAccountResponse>), ApiError> {
    let caller = &auth.caller;
    if !state.policy().role_set_allowed(&body.roles) {
        return Err(ApiError::Validation(vec![FieldProblem::new(
            "roles",
            "separation_of_duties",
        )]));
    }
    let new = NewAccount {
        name: body.name,
        roles: body.roles,
        prefectures: body.prefectures,
        allowed_networks: body.allowed_networks,
        expires_at: body.expires_at,
    };
    let policy = state.policy().clone();
    let is_role = move |r: &str| policy.is_role(r);
    let token_expiry = Some(Utc::now() + state.settings().token_lifetime);
    let created = match &caller.principal {
        Principal::Bootstrap { bootstrap_id } => {
            if !new.roles.iter().any(|r| r == "admin") {
                return Err(ApiError::Validation(vec![FieldProblem::new(
                    "roles",
                    "bootstrap_requires_admin",
                )]));
            }
            state
                .accounts()
                .create_with_bootstrap(*bootstrap_id, new, &is_role, token_expiry)
                .await
        }
        _ => {
            state
                .accounts()
                .create(new, &is_role, &creator(caller), token_expiry)
                .await
        }
    };
    let (account, token) = match created {
        Ok(v) => v,
        Err(e) => {
            let e = ApiError::from(e);
            let outcome = match e {
                ApiError::Validation(_) | ApiError::Conflict(_) => Outcome::Invalid,
                ApiError::Unauthenticated => Outcome::Denied,
                _ => Outcome::Error,
            };
            state
                .audit(record(
                    caller,
                    &auth.purpose.0,
                    "account.create",
                    outcome,
                    vec![],
                ))
                .await?;
            return Err(e);
        }
    };
    state
        .audit(record(
            caller,
            &auth.purpose.0,
            "account.create",
            Outcome::Ok,
            vec![account.id.0],
        ))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateAccountResponse {
            account_id: account.id.0,
            token: token.expose_token().to_owned(),
            token_id: token.token_id.0,
            token_expires_at: token.expires_at,
        }),
    ))
}

/// Disables an account; its tokens stop working on the next request (C10).
#[utoipa::path(post, path = "/v1/accounts/{id}/disable", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id"),
           ("Vault-Purpose" = String, Header, description = "account_management")),
    responses(
        (status = 204, description = "disabled (also when it already was)"),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such account", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn disable_account(
    State(state): State<AppState>,
    auth: Authorized<ManageAccounts>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = account_id(&id)?;
    let r = state.accounts().disable(id, &creator(&auth.caller)).await;
    let outcome = match &r {
        Ok(()) => Outcome::Ok,
        Err(vault_core::accounts::AccountsError::NotFound) => Outcome::NotFound,
        Err(_) => Outcome::Error,
    };
    state
        .audit(record(
            &auth.caller,
            &auth.purpose.0,
            "account.disable",
            outcome,
            vec![id.0],
        ))
        .await?;
    r?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a new token for an active account (shown once).
#[utoipa::path(post, path = "/v1/accounts/{id}/tokens", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id"),
           ("Vault-Purpose" = String, Header, description = "account_management")),
    request_body(content = Option<IssueTokenRequest>, description = "optional; empty body for the default lifetime"),
    responses(
        (status = 201, description = "issued; the token is shown only now", body = IssueTokenResponse),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn issue_token(
    State(state): State<AppState>,
    auth: Authorized<ManageAccounts>,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<IssueTokenRequest>,
) -> Result<(StatusCode, Json<IssueTokenResponse>), ApiError> {
    let id = account_id(&id)?;
    let now = Utc::now();
    if body.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::Validation(vec![FieldProblem::new(
            "expires_at",
            "in_past",
        )]));
    }
    let expires = body
        .expires_at
        .or(Some(now + state.settings().token_lifetime));
    let r = state
        .accounts()
        .issue_token(id, expires, &creator(&auth.caller))
        .await;
    let subjects = vec![id.0];
    let outcome = match &r {
        Ok(_) => Outcome::Ok,
        Err(vault_core::accounts::AccountsError::NotFound) => Outcome::NotFound,
        Err(vault_core::accounts::AccountsError::Disabled) => Outcome::Invalid,
        Err(_) => Outcome::Error,
    };
    state
        .audit(record(
            &auth.caller,
            &auth.purpose.0,
            "account.token.issue",
            outcome,
            subjects,
        ))
        .await?;
    let t = r?;
    Ok((
        StatusCode::CREATED,
        Json(IssueTokenResponse {
            token_id: t.token_id.0,
            token: t.expose_token().to_owned(),
            expires_at: t.expires_at,
        }),
    ))
}

/// Emergency revoke of every token of one account (C24). The account stays active:
/// disable it as well if its holder must not get a new token.
#[utoipa::path(post, path = "/v1/accounts/{id}/revoke", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id"),
           ("Vault-Purpose" = String, Header, description = "account_management or incident_response")),
    responses(
        (status = 200, description = "revoked", body = RevokeResponse),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such account", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke_account(
    State(state): State<AppState>,
    auth: Authorized<EmergencyRevoke>,
    Path(id): Path<String>,
) -> Result<Json<RevokeResponse>, ApiError> {
    let id = account_id(&id)?;
    let r = state.accounts().revoke_account_tokens(id).await;
    let outcome = match &r {
        Ok(_) => Outcome::Ok,
        Err(vault_core::accounts::AccountsError::NotFound) => Outcome::NotFound,
        Err(_) => Outcome::Error,
    };
    state
        .audit(record(
            &auth.caller,
            &auth.purpose.0,
            "account.revoke",
            outcome,
            vec![id.0],
        ))
        .await?;
    let s = r?;
    Ok(Json(RevokeResponse {
        accounts: s.accounts,
        tokens_revoked: s.tokens,
    }))
}

/// Emergency revoke of every token of every account that names this prefecture
/// (C24). Accounts covering all prefectures (`*`) are not affected.
#[utoipa::path(post, path = "/v1/tenants/{prefecture}/revoke", tag = "accounts", security(("bearer" = [])),
    params(("prefecture" = String, Path, description = "prefecture code 01-47"),
           ("Vault-Purpose" = String, Header, description = "account_management or incident_response")),
    responses(
        (status = 200, description = "revoked", body = RevokeResponse),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a prefecture code", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke_tenant(
    State(state): State<AppState>,
    auth: Authorized<EmergencyRevoke>,
    Path(prefecture): Path<String>,
) -> Result<Json<RevokeResponse>, ApiError> {
    let r = state.accounts().revoke_tenant_tokens(&prefecture).await;
    let ok = r.is_ok();
    let mut rec = record(
        &auth.caller,
        &auth.purpose.0,
        "tenant.revoke",
        if ok { Outcome::Ok } else { Outcome::Invalid },
        vec![],
    );
    // Only a valid prefecture code is recorded (as the event's tenant).
    if ok {
        rec.tenant = Some(prefecture.clone());
    }
    state.audit(rec).await?;
    let s = r?;
    Ok(Json(RevokeResponse {
        accounts: s.accounts,
        tokens_revoked: s.tokens,
    }))
}

/// The roster of every account (C8): roles, prefectures, status, creator, creation
/// time and last use. Paged by `limit` (capped) and `cursor`.
#[utoipa::path(get, path = "/v1/accounts/roster", tag = "accounts", security(("bearer" = [])),
    params(crate::extract::PageQuery,
           ("Vault-Purpose" = String, Header, description = "account_management, audit_review or incident_response")),
    responses(
        (status = 200, description = "one page of the roster", body = Roster),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn roster(
    State(state): State<AppState>,
    auth: Authorized<ViewRoster>,
    page: Page,
) -> Result<Json<Roster>, ApiError> {
    let after = match &page.cursor {
        None => None,
        Some(c) => Some(
            c.parse::<AccountId>()
                .map_err(|_| ApiError::Validation(vec![FieldProblem::new("cursor", "invalid")]))?,
        ),
    };
    let accounts = state.accounts().roster(after, page.limit).await?;
    state
        .audit(record(
            &auth.caller,
            &auth.purpose.0,
            "account.roster",
            Outcome::Ok,
            vec![],
        ))
        .await?;
    let next_cursor = (accounts.len() == page.limit as usize)
        .then(|| accounts.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(Roster {
        accounts: accounts.into_iter().map(RosterEntry::from).collect(),
        next_cursor,
    }))
}

use crate::error::Problem;
