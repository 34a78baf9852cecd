//! Examinee routes (受検者): registration, view-filtered reads, corrections (訂正),
//! exact-match search, resolve by My Number, the My Number reveal, suspension of use
//! (利用停止), applications (受検申請), results (受検管理) and qualifications (合格者).
//!
//! Every handler takes the caller and the stated purpose before the body; the facade
//! (`vault_core::vault::Vault`) decides the view, applies the tenant scope, audits the
//! call (durably, before any plaintext is decrypted) and answers only the fields of
//! the view. My Number is accepted at registration and by resolve (in bodies only,
//! never in a URL) and leaves the vault only through `GET …/my-number`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use vault_core::vault::ExamineeSearch;
use vault_policy::RecordKind;
use zeroize::Zeroize;

use super::ApiRoutes;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{ApiJson, Caller, PathParams, Purpose};
use crate::openapi::records::{
    ApplicationFields, ExamineeCorrection, ExamineeFields, QualificationFields, ResultFields,
};
use crate::state::AppState;

/// Longest correction reason accepted, in characters.
const MAX_REASON_CHARS: usize = 1000;

/// Routes of this module.
pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post("/v1/examinees", create_examinee)
        .post("/v1/examinees/search", search_examinees)
        .get("/v1/examinees/{examinee_id}", read_examinee)
        .patch("/v1/examinees/{examinee_id}", correct_examinee)
        .get("/v1/examinees/{examinee_id}/my-number", reveal_my_number)
        .post("/v1/examinees/{examinee_id}/suspension", set_suspension)
        .post("/v1/examinees/{examinee_id}/applications", add_application)
        .post(
            "/v1/examinees/{examinee_id}/qualifications",
            add_qualification,
        )
        .patch(
            "/v1/examinees/{examinee_id}/qualifications/{qualification_id}",
            revoke_qualification,
        )
        .post("/v1/identity/resolve", resolve_identity)
        .get("/v1/applications/{application_id}", read_application)
        .put("/v1/applications/{application_id}/result", put_result)
}

/// A registered examinee.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExamineeCreated {
    /// The vault's id of the examinee (受検者ID).
    examinee_id: Uuid,
}

/// A registered application.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApplicationCreated {
    /// 申請受付ID: the one given in the body, or one the vault assigned.
    application_id: String,
}

/// A registered qualification.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QualificationCreated {
    /// The vault's id of the qualification record (for the revocation call).
    qualification_id: Uuid,
}

/// One of three exact-match searches: `exam_number`, or `application_id`, or
/// `name_kana` with `birth_date`.
///
/// Holds searched personal values: no `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchRequest {
    /// 受検番号.
    #[serde(default)]
    exam_number: Option<String>,
    /// 申請受付ID.
    #[serde(default)]
    application_id: Option<String>,
    /// ふりがな (katakana), with `birth_date`.
    #[serde(default)]
    name_kana: Option<String>,
    /// 生年月日 (ISO or 和暦), with `name_kana`.
    #[serde(default)]
    birth_date: Option<String>,
}

impl Drop for SearchRequest {
    fn drop(&mut self) {
        for v in [
            &mut self.exam_number,
            &mut self.application_id,
            &mut self.name_kana,
            &mut self.birth_date,
        ]
        .into_iter()
        .flatten()
        {
            v.zeroize();
        }
    }
}

/// One search hit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchHit {
    /// The examinee found.
    examinee_id: Uuid,
}

/// Examinees found within the caller's prefectures.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchResults {
    /// The hits (empty when none).
    results: Vec<SearchHit>,
}

/// A My Number to resolve to an examinee. Holds the number: no `Debug`, cleared on drop.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveRequest {
    /// 個人番号, 12 digits with its check digit.
    my_number: String,
}

impl Drop for ResolveRequest {
    fn drop(&mut self) {
        self.my_number.zeroize();
    }
}

/// The examinee a My Number belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Resolved {
    /// The examinee.
    examinee_id: Uuid,
}

/// A revealed My Number. Holds the number: no `Debug`, cleared on drop.
#[derive(Serialize, ToSchema)]
pub(crate) struct RevealedMyNumber {
    /// 個人番号, 12 digits.
    my_number: String,
}

impl Drop for RevealedMyNumber {
    fn drop(&mut self) {
        self.my_number.zeroize();
    }
}

/// Sets or lifts the suspension of use (利用停止) of an examinee.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuspensionRequest {
    /// `true` suspends: afterwards only purposes the policy allows under suspension
    /// (`disclosure_request` by default) may touch the examinee's records. `false` lifts it.
    suspended: bool,
}

/// The revocation (合格取消) of a qualification.
///
/// Holds the reason text: no `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevocationRequest {
    /// 合格取消日 (ISO or 和暦).
    revoked_on: String,
    /// 合格取消理由.
    revocation_reason: String,
}

/// The record view as the JSON object of a response, with `id_field` set to `id`.
fn view_body(mut fields: Map<String, Value>, id_field: &str, id: String) -> Json<Value> {
    fields
        .entry(id_field.to_owned())
        .or_insert(Value::String(id));
    Json(Value::Object(fields))
}

/// Registers an examinee (受検者), optionally with their My Number, which goes to its
/// own compartment and is never answered by reads.
#[utoipa::path(post, path = "/v1/examinees", tag = "examinees", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "e.g. exam_administration, system_sync")),
    request_body = ExamineeFields,
    responses(
        (status = 201, description = "registered", body = ExamineeCreated),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids (also: a field outside the view)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the prefecture is outside the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields (names and codes only)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_examinee(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<ExamineeCreated>), ApiError> {
    let r = state
        .vault()
        .register_examinee(&caller.vault_actor(), &purpose, &body)
        .await;
    clear_json(&mut body);
    let examinee_id = r?;
    Ok((StatusCode::CREATED, Json(ExamineeCreated { examinee_id })))
}

/// Reads an examinee: the fields the role x purpose view allows (withheld fields are
/// absent, `my_number` never appears) and `applications`, the ids of their
/// applications in the caller's prefectures.
#[utoipa::path(get, path = "/v1/examinees/{examinee_id}", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    responses(
        (status = 200, description = "the examinee in the caller's view", body = ExamineeFields),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids, or use is suspended", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such examinee in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written; no data", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read_examinee(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
) -> Result<Json<Value>, ApiError> {
    let id = path.uuid(0)?;
    let view = state
        .vault()
        .read_examinee(&caller.vault_actor(), &purpose, id)
        .await?;
    Ok(view_body(view.fields, "examinee_id", id.to_string()))
}

/// Corrects (訂正) an examinee: the changed fields plus `reason`. The old values are
/// kept, encrypted, as history. `prefecture_code` and `my_number` cannot be corrected.
/// Answers 204.
#[utoipa::path(patch, path = "/v1/examinees/{examinee_id}", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration, disclosure_request")),
    request_body = ExamineeCorrection,
    responses(
        (status = 204, description = "corrected"),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such examinee in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "changed concurrently; read and retry", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields, or no reason", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn correct_examinee(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<StatusCode, ApiError> {
    let id = path.uuid(0)?;
    // A caller who may not state the purpose learns nothing from validation: the
    // facade refuses (and audits) it first.
    if state.policy().may_state_purpose(&caller.roles(), &purpose) {
        check_reason(&body)?;
    }
    let r = state
        .vault()
        .correct_subject(
            &caller.vault_actor(),
            &purpose,
            RecordKind::Examinee,
            id,
            &body,
        )
        .await;
    clear_json(&mut body);
    r?;
    Ok(StatusCode::NO_CONTENT)
}

/// A correction must say why: `reason`, a non-empty string of at most
/// [`MAX_REASON_CHARS`] characters.
fn check_reason(body: &Value) -> Result<(), ApiError> {
    let problem = match body.get("reason") {
        None | Some(Value::Null) => Some("required"),
        Some(Value::String(s)) if s.trim().is_empty() => Some("required"),
        Some(Value::String(s)) if s.chars().count() > MAX_REASON_CHARS => Some("too_long"),
        Some(Value::String(_)) => None,
        Some(_) => Some("invalid_type"),
    };
    match (body.is_object(), problem) {
        (false, _) => Err(ApiError::Validation(vec![FieldProblem::new(
            "body",
            "not_an_object",
        )])),
        (true, Some(code)) => Err(ApiError::Validation(vec![FieldProblem::new(
            "reason", code,
        )])),
        (true, None) => Ok(()),
    }
}

/// Exact-match search within the caller's prefectures: by `exam_number`, by
/// `application_id`, or by `name_kana` and `birth_date` together.
#[utoipa::path(post, path = "/v1/examinees/search", tag = "examinees", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "examinees found (possibly none)", body = SearchResults),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not exactly one search form, or an invalid value", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn search_examinees(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    ApiJson(mut body): ApiJson<SearchRequest>,
) -> Result<Json<SearchResults>, ApiError> {
    let query = match (
        body.exam_number.take(),
        body.application_id.take(),
        body.name_kana.take(),
        body.birth_date.take(),
    ) {
        (Some(n), None, None, None) => ExamineeSearch::ExamNumber(n),
        (None, Some(a), None, None) => ExamineeSearch::ApplicationId(a),
        (None, None, Some(name_kana), Some(birth_date)) => ExamineeSearch::KanaAndBirthDate {
            name_kana,
            birth_date,
        },
        (None, None, Some(_), None) => {
            return Err(ApiError::Validation(vec![FieldProblem::new(
                "birth_date",
                "required",
            )]))
        }
        (None, None, None, Some(_)) => {
            return Err(ApiError::Validation(vec![FieldProblem::new(
                "name_kana",
                "required",
            )]))
        }
        _ => {
            return Err(ApiError::Validation(vec![FieldProblem::new(
                "body",
                "exactly_one_search",
            )]))
        }
    };
    let ids = state
        .vault()
        .search_examinees(&caller.vault_actor(), &purpose, &query)
        .await;
    // The query holds the searched values; clear them before answering.
    match query {
        ExamineeSearch::ExamNumber(mut v) | ExamineeSearch::ApplicationId(mut v) => v.zeroize(),
        ExamineeSearch::KanaAndBirthDate {
            mut name_kana,
            mut birth_date,
        } => {
            name_kana.zeroize();
            birth_date.zeroize();
        }
    }
    Ok(Json(SearchResults {
        results: ids?
            .into_iter()
            .map(|examinee_id| SearchHit { examinee_id })
            .collect(),
    }))
}

/// Finds the examinee with a My Number (sent in the body, never in a URL); the number
/// itself is not answered. Purpose `identity_verification`.
#[utoipa::path(post, path = "/v1/identity/resolve", tag = "examinees", security(("bearer" = [])),
    params(("Vault-Purpose" = String, Header, description = "identity_verification")),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "the examinee", body = Resolved),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no examinee with this number in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a valid My Number (the value is not echoed)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn resolve_identity(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<Json<Resolved>, ApiError> {
    let examinee_id = state
        .vault()
        .resolve_my_number(&caller.vault_actor(), &purpose, &body.my_number)
        .await?;
    Ok(Json(Resolved { examinee_id }))
}

/// Reveals an examinee's My Number to the roles and purposes the policy allows (by
/// default `identity_verifier` with `identity_verification`). The only response that
/// carries a My Number.
#[utoipa::path(get, path = "/v1/examinees/{examinee_id}/my-number", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "identity_verification")),
    responses(
        (status = 200, description = "the number", body = RevealedMyNumber),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose may not reveal it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such examinee, or no number on file", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written; no data", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn reveal_my_number(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
) -> Result<Json<RevealedMyNumber>, ApiError> {
    let id = path.uuid(0)?;
    let revealed = state
        .vault()
        .reveal_my_number(&caller.vault_actor(), &purpose, id)
        .await?;
    Ok(Json(RevealedMyNumber {
        my_number: revealed.expose_digits().to_owned(),
    }))
}

/// Sets or lifts the suspension of use (利用停止, C19) of an examinee. While
/// suspended, reads and writes for ordinary purposes are refused (403). Addition to
/// the v1 contract.
#[utoipa::path(post, path = "/v1/examinees/{examinee_id}/suspension", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "disclosure_request")),
    request_body = SuspensionRequest,
    responses(
        (status = 204, description = "set"),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such examinee in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn set_suspension(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(body): ApiJson<SuspensionRequest>,
) -> Result<StatusCode, ApiError> {
    let id = path.uuid(0)?;
    state
        .vault()
        .set_suspension(&caller.vault_actor(), &purpose, id, body.suspended)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds an application (受検申請) to an examinee. Answers its 申請受付ID: the one in
/// the body, or one the vault assigns.
#[utoipa::path(post, path = "/v1/examinees/{examinee_id}/applications", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    request_body = ApplicationFields,
    responses(
        (status = 201, description = "added", body = ApplicationCreated),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such examinee in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the application id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add_application(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<ApplicationCreated>), ApiError> {
    let id = path.uuid(0)?;
    let r = state
        .vault()
        .add_application(&caller.vault_actor(), &purpose, id, &body)
        .await;
    clear_json(&mut body);
    let application_id = r?;
    Ok((
        StatusCode::CREATED,
        Json(ApplicationCreated { application_id }),
    ))
}

/// Reads an application in the caller's view, with `examinee_id` and, when one
/// exists and the view allows, its `result`.
#[utoipa::path(get, path = "/v1/applications/{application_id}", tag = "examinees", security(("bearer" = [])),
    params(("application_id" = String, Path, description = "申請受付ID"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    responses(
        (status = 200, description = "the application in the caller's view", body = ApplicationFields),
        (status = 400, description = "missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such application in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written; no data", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read_application(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
) -> Result<Json<Value>, ApiError> {
    let application_id = path.text(0)?;
    let view = state
        .vault()
        .read_application(&caller.vault_actor(), &purpose, application_id)
        .await?;
    Ok(view_body(view.fields, "application_id", view.id))
}

/// Records or replaces the result (受検管理: attendance, scores, pass flags) of an
/// application. Answers 204.
#[utoipa::path(put, path = "/v1/applications/{application_id}/result", tag = "examinees", security(("bearer" = [])),
    params(("application_id" = String, Path, description = "申請受付ID"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    request_body = ResultFields,
    responses(
        (status = 204, description = "recorded"),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such application in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "changed concurrently; retry", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put_result(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<StatusCode, ApiError> {
    let application_id = path.text(0)?;
    let r = state
        .vault()
        .put_result(&caller.vault_actor(), &purpose, application_id, &body)
        .await;
    clear_json(&mut body);
    r?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a qualification (合格者: 技能士番号, 合格日付, …) to an examinee.
#[utoipa::path(post, path = "/v1/examinees/{examinee_id}/qualifications", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    request_body = QualificationFields,
    responses(
        (status = 201, description = "added", body = QualificationCreated),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such examinee in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add_qualification(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<QualificationCreated>), ApiError> {
    let id = path.uuid(0)?;
    let r = state
        .vault()
        .add_qualification(&caller.vault_actor(), &purpose, id, &body)
        .await;
    clear_json(&mut body);
    let created = r?;
    let qualification_id = Uuid::parse_str(&created).map_err(|_| {
        ApiError::internal("the facade answered a qualification id that is not a UUID")
    })?;
    Ok((
        StatusCode::CREATED,
        Json(QualificationCreated { qualification_id }),
    ))
}

/// Revokes a qualification (合格取消): `revoked_on` and `revocation_reason`, nothing
/// else. Answers 204.
#[utoipa::path(patch, path = "/v1/examinees/{examinee_id}/qualifications/{qualification_id}", tag = "examinees", security(("bearer" = [])),
    params(("examinee_id" = Uuid, Path, description = "examinee id; anything else is 404"),
           ("qualification_id" = Uuid, Path, description = "qualification id; anything else is 404"),
           ("Vault-Purpose" = String, Header, description = "e.g. exam_administration")),
    request_body = RevocationRequest,
    responses(
        (status = 204, description = "revoked"),
        (status = 400, description = "malformed body or missing purpose", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "role or purpose forbids", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such qualification of this examinee in the caller's prefectures", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "the audit log cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke_qualification(
    State(state): State<AppState>,
    caller: Caller,
    Purpose(purpose): Purpose,
    path: PathParams,
    ApiJson(body): ApiJson<RevocationRequest>,
) -> Result<StatusCode, ApiError> {
    let examinee_id = path.uuid(0)?;
    let qualification_id = path.uuid(1)?;
    let mut patch = serde_json::json!({
        "revoked_on": body.revoked_on,
        "revocation_reason": body.revocation_reason,
    });
    let r = state
        .vault()
        .revoke_qualification(
            &caller.vault_actor(),
            &purpose,
            examinee_id,
            qualification_id,
            &patch,
        )
        .await;
    clear_json(&mut patch);
    r?;
    Ok(StatusCode::NO_CONTENT)
}

/// Overwrites the strings of a JSON value that held submitted values (a best effort:
/// the JSON parser's own buffers are not reached).
pub(crate) fn clear_json(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(clear_json),
        Value::Object(m) => m.values_mut().for_each(clear_json),
        _ => {}
    }
}

impl Drop for RevocationRequest {
    fn drop(&mut self) {
        self.revoked_on.zeroize();
        self.revocation_reason.zeroize();
    }
}
