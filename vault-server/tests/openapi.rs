//! The OpenAPI document covers every route the application serves.

use utoipa::OpenApi;
use vault_server::openapi::ApiDoc;
use vault_server::route_table;

#[test]
fn every_router_route_is_in_the_openapi_document() {
    let doc = ApiDoc::openapi();
    let mut missing = Vec::new();
    for r in route_table() {
        let op = doc
            .paths
            .paths
            .get(r.path)
            .and_then(|item| match r.method.as_str() {
                "GET" => item.get.as_ref(),
                "POST" => item.post.as_ref(),
                "PUT" => item.put.as_ref(),
                "PATCH" => item.patch.as_ref(),
                "DELETE" => item.delete.as_ref(),
                _ => None,
            });
        if op.is_none() {
            missing.push(format!("{} {}", r.method, r.path));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from OpenAPI: {missing:?}"
    );
}

#[test]
fn every_openapi_operation_is_routed() {
    let table = route_table();
    let doc = ApiDoc::openapi();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if op.is_some() {
                assert!(
                    table
                        .iter()
                        .any(|r| r.path == path && r.method.as_str() == method),
                    "documented but not routed: {method} {path}"
                );
            }
        }
    }
}

#[test]
fn the_problem_type_is_documented() {
    let doc = ApiDoc::openapi();
    let schemas = &doc.components.as_ref().unwrap().schemas;
    assert!(schemas.contains_key("Problem"));
    assert!(schemas.contains_key("FieldProblem"));
}
