//! The kentei-vault HTTP service and CLI.
//!
//! [`app`] builds the axum application from an [`AppState`]; [`server::serve`] runs it
//! on a TCP listener (optionally TLS) with header-read timeouts and graceful
//! shutdown; [`cli::run`] is the `kentei-vault` command line. Each area's routes
//! live in `routes::*` with a `router()`.
//!
//! Layers, outermost first: request id -> security headers -> metrics/access log ->
//! concurrency limit -> request timeout -> body limit -> (protected routes)
//! authentication -> handler. Handlers that touch personal data take the
//! [`extract::Purpose`] extractor (or [`extract::Authorized`], which includes it).
//!
//! Record routers (`routes::examinees`, `routes::meisters`) take `State<AppState>`,
//! [`extract::Caller`] and [`extract::Purpose`], then [`extract::ApiJson`] for the
//! body, and call the facade (`vault_core::vault::Vault`, in [`AppState::vault`]) with
//! [`extract::Caller::vault_actor`]; the facade decides the view, scopes by tenant and
//! audits. Its errors map once into [`error::ApiError`]. `routes::audit` serves the
//! security officers. Every handler carries `#[utoipa::path]` and is listed in
//! [`openapi::ApiDoc`] (a test checks that every route is documented).
//!
//! Audit: the facade audits record calls; the server audits failed
//! authentications, account administration, denials of its own routes and the
//! officers' queries through [`AppState::audit`], into the same hash-chained log.
//! A failed append fails the request with 503 `audit_unavailable`.

pub mod audit;
pub(crate) mod auth;
pub mod authz;
pub mod cli;
pub(crate) mod cli_lifecycle;
pub mod config;
pub mod error;
pub mod extract;
pub(crate) mod import;
pub mod keyring;
pub mod metrics;
pub(crate) mod middleware;
pub mod openapi;
pub mod policy_gate;
pub(crate) mod routes;
pub mod server;
pub mod state;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;

pub use routes::RouteSpec;
pub use state::{AppState, StateParts};

/// Routes that need a bearer token, each area as `routes::<area>::router()`.
fn protected_routes() -> routes::ApiRoutes {
    routes::accounts::router()
        .merge(routes::examinees::router())
        .merge(routes::meisters::router())
        .merge(routes::audit::router())
        .merge(routes::keys::router())
        .merge(routes::retention::router())
        .merge(routes::service::router())
}

/// Every (method, path) the application routes, public and protected.
pub fn route_table() -> Vec<RouteSpec> {
    let (_, mut table) = routes::service::public_router().into_parts();
    table.extend(protected_routes().into_parts().1);
    table
}

/// The HTTP application over `state`.
pub fn app(state: AppState) -> Router {
    let (public, _) = routes::service::public_router().into_parts();
    let (protected, _) = protected_routes().into_parts();
    let protected = protected.route_layer(from_fn_with_state(state.clone(), auth::authenticate));
    let limit = state.settings().max_body_bytes;
    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(state.clone(), middleware::body_limit))
        .layer(from_fn_with_state(state.clone(), middleware::timeout))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::limit_concurrency,
        ))
        .layer(from_fn_with_state(state.clone(), middleware::observe))
        .layer(from_fn(middleware::security_headers))
        .layer(from_fn(middleware::request_id))
        .with_state(state)
}
