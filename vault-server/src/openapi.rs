//! The OpenAPI document of the service, generated from the handlers' annotations
//! (utoipa) and served at `GET /openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldProblem, Problem};
use crate::routes::{accounts, service};

/// The OpenAPI document. Every route of [`crate::route_table`] must appear here (a test
/// checks it).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "kentei-vault",
        description = "Records vault for 技能検定 examinee and ものづくりマイスター data. \
            Errors are application/problem+json (RFC 9457) with a stable `type` code. \
            Additions to the v1 contract: POST /v1/accounts/{id}/revoke and \
            POST /v1/tenants/{prefecture}/revoke (emergency revoke, C24)."
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
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&BearerAuth),
    tags(
        (name = "service", description = "health, readiness, metrics, this document"),
        (name = "accounts", description = "accounts, tokens, roster and emergency revoke"),
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
