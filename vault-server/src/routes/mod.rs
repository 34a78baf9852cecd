//! The HTTP routes, one module per area, each with a `router()`.
//!
//! Routes are registered through [`ApiRoutes`], which keeps a table of every
//! (method, path) next to the axum router; [`crate::route_table`] exposes it so a test
//! can check that every route is in the OpenAPI document.

pub(crate) mod accounts;
pub(crate) mod audit;
pub(crate) mod examinees;
pub(crate) mod keys;
pub(crate) mod meisters;
pub(crate) mod retention;
pub(crate) mod service;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

use crate::state::AppState;

/// One registered route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path template as in axum and OpenAPI (`/v1/accounts/{id}/disable`).
    pub path: &'static str,
}

/// A router plus the table of its routes.
pub(crate) struct ApiRoutes {
    router: Router<AppState>,
    table: Vec<RouteSpec>,
}

macro_rules! method_fn {
    ($name:ident, $filter:ident, $method:ident) => {
        // DELETE waits for the legal-hold routes.
        #[allow(dead_code)]
        pub(crate) fn $name<H, T>(self, path: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.add(Method::$method, MethodFilter::$filter, path, handler)
        }
    };
}

impl ApiRoutes {
    pub(crate) fn new() -> ApiRoutes {
        ApiRoutes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add<H, T>(
        mut self,
        method: Method,
        filter: MethodFilter,
        path: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteSpec { method, path });
        self
    }

    method_fn!(get, GET, GET);
    method_fn!(post, POST, POST);
    method_fn!(put, PUT, PUT);
    method_fn!(patch, PATCH, PATCH);
    method_fn!(delete, DELETE, DELETE);

    /// Adds every route of `other`.
    pub(crate) fn merge(mut self, other: ApiRoutes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.table)
    }
}
