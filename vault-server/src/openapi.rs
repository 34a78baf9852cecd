//! The OpenAPI document of the service, generated from the handlers' annotations
//! (utoipa) and served at `GET /openapi.json`. Record bodies are described from the
//! data model (`vault_core::model::schema`) by [`records`].

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldProblem, Problem};
use crate::routes::{accounts, audit, examinees, keys, meisters, retention, service};

/// The OpenAPI document. Every route of [`crate::route_table`] must appear here (a test
/// checks it).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "kentei-vault",
        description = "Records vault for 技能検定 examinee and ものづくりマイスター data. \
            Errors are application/problem+json (RFC 9457) with a stable `type` code. \
            Every call that reads or writes personal data states its purpose in \
            `Vault-Purpose`. Additions to the v1 contract (see docs/api.md): \
            POST /v1/examinees/{examinee_id}/suspension (利用停止, C19), \
            POST /v1/accounts/{id}/revoke and POST /v1/tenants/{prefecture}/revoke \
            (emergency revoke, C24), the `outcome` and `token_id` filters of the audit \
            listing."
    ),
    paths(
        service::healthz,
        service::readyz,
        service::metrics,
        service::openapi,
        accounts::create_account,
        accounts::disable_account,
        accounts::issue_token,
        accounts::revoke_account,
        accounts::revoke_tenant,
        accounts::roster,
        examinees::create_examinee,
        examinees::read_examinee,
        examinees::correct_examinee,
        examinees::search_examinees,
        examinees::resolve_identity,
        examinees::reveal_my_number,
        examinees::set_suspension,
        examinees::add_application,
        examinees::read_application,
        examinees::put_result,
        examinees::add_qualification,
        examinees::revoke_qualification,
        meisters::create_meister,
        meisters::read_meister,
        meisters::add_activity,
        meisters::inactive_meisters,
        audit::list_events,
        audit::verify_chain,
        audit::impact,
        keys::key_status,
        keys::rotate_key,
        keys::destroy_key,
        retention::create_plan,
        retention::list_plans,
        retention::get_plan,
        retention::approve_plan,
        retention::execute_plan,
        retention::certificate,
        retention::place_hold,
        retention::list_holds,
        retention::release_hold,
        retention::intent_answer,
    ),
    components(schemas(
        Problem,
        FieldProblem,
        records::ExamineeFields,
        records::ExamineeCorrection,
        records::ApplicationFields,
        records::ResultFields,
        records::QualificationFields,
        records::MeisterFields,
        records::MeisterActivityFields,
        retention::PlanRequest,
        retention::HoldRequest,
        retention::IntentRequest,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "service", description = "health, readiness, metrics, this document"),
        (name = "accounts", description = "accounts, tokens, roster and emergency revoke"),
        (name = "examinees", description = "受検者, 受検申請, 受検管理, 合格者: view-filtered by role and purpose, scoped to the caller's prefectures"),
        (name = "meisters", description = "ものづくりマイスター and their activities"),
        (name = "audit", description = "audit events, chain verification and impact reports (security officers)"),
        (name = "keys", description = "key status, rotation and destruction (operators; docs/operations.md)"),
        (name = "retention", description = "retention plans, second-person approval, execution, erasure certificates and legal holds"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "account token `kv_…` (or the bootstrap token `kvb_…` for the first admin)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Schemas of record bodies, built from the data model: one property per field with
/// its 別添1 item name, field class and type. Requests and responses share them;
/// a response holds only the fields of the caller's view.
pub(crate) mod records {
    use std::borrow::Cow;

    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
    };
    use utoipa::openapi::RefOr;
    use utoipa::{PartialSchema, ToSchema};
    use vault_core::model::schema::{fields_of, FieldDef, FieldType};
    use vault_policy::RecordKind;

    fn field_schema(f: &FieldDef) -> Schema {
        let desc = format!(
            "{} (class `{}`){}",
            f.label_ja,
            f.class.as_str(),
            if f.vault_assigned {
                "; assigned by the vault, refused in requests"
            } else if f.name == "my_number" {
                "; accepted at registration only, never answered by reads"
            } else {
                ""
            }
        );
        let string = |format: Option<KnownFormat>| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(format.map(SchemaFormat::KnownFormat))
        };
        let b = match f.ty {
            FieldType::Int { .. } | FieldType::FiscalYear => {
                ObjectBuilder::new().schema_type(Type::Integer)
            }
            FieldType::Bool => ObjectBuilder::new().schema_type(Type::Boolean),
            FieldType::Date => string(Some(KnownFormat::Date)),
            FieldType::RecordId => string(Some(KnownFormat::Uuid)).read_only(Some(true)),
            FieldType::Trades => {
                return Schema::Array(
                    ArrayBuilder::new()
                        .items(ObjectBuilder::new().schema_type(Type::String))
                        .description(Some(desc))
                        .build(),
                )
            }
            _ => string(None),
        };
        Schema::Object(b.description(Some(desc)).build())
    }

    fn object(kind: RecordKind, with_required: bool, description: &str) -> ObjectBuilder {
        let mut o = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(description))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for f in fields_of(kind) {
            o = o.property(f.name, field_schema(f));
            if with_required && f.required && !f.vault_assigned {
                o = o.required(f.name);
            }
        }
        o
    }

    macro_rules! record_schema {
        ($name:ident, $kind:expr, $desc:literal) => {
            #[doc = $desc]
            pub(crate) struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    RefOr::T(Schema::Object(object($kind, true, $desc).build()))
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        };
    }

    record_schema!(
        ExamineeFields,
        RecordKind::Examinee,
        "An examinee (受検者). Unknown fields are refused (422). In answers, only the fields of the caller's view, never my_number, plus `applications` (ids)."
    );
    record_schema!(
        ApplicationFields,
        RecordKind::Application,
        "An application (受検申請). In answers, only the fields of the caller's view, plus `examinee_id` and `result` when allowed."
    );
    record_schema!(
        ResultFields,
        RecordKind::Result,
        "The result of an application (受検管理: attendance, scores, pass flags)."
    );
    record_schema!(
        QualificationFields,
        RecordKind::Qualification,
        "A qualification (合格者: 技能士番号, 合格日付, …)."
    );
    record_schema!(
        MeisterFields,
        RecordKind::Meister,
        "A ものづくりマイスター. In answers, only the fields of the caller's view."
    );
    record_schema!(
        MeisterActivityFields,
        RecordKind::MeisterActivity,
        "A teaching activity of a meister (活動実績)."
    );

    /// A correction (訂正) of an examinee: changed fields plus `reason`.
    pub(crate) struct ExamineeCorrection;

    impl PartialSchema for ExamineeCorrection {
        fn schema() -> RefOr<Schema> {
            let o = object(
                RecordKind::Examinee,
                false,
                "A correction (訂正): the changed fields of the examinee and `reason`. \
                 prefecture_code and my_number cannot be corrected.",
            )
            .property(
                "reason",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("why the record is corrected (kept, encrypted, with the history); 1-1000 characters")),
            )
            .required("reason");
            RefOr::T(Schema::Object(o.build()))
        }
    }

    impl ToSchema for ExamineeCorrection {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("ExamineeCorrection")
        }
    }
}
