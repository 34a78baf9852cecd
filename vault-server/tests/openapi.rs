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

#[test]
fn record_bodies_are_described_from_the_data_model() {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let ex = &schemas["ExamineeFields"];
    assert!(ex["properties"]["name_kana"]["description"]
        .as_str()
        .unwrap()
        .contains("ふりがな"));
    let required = ex["required"].as_array().unwrap();
    assert!(required.contains(&serde_json::json!("prefecture_code")));
    assert!(!required.contains(&serde_json::json!("examinee_id")));
    assert_eq!(ex["additionalProperties"], serde_json::json!(false));
    for s in [
        "ApplicationFields",
        "ResultFields",
        "QualificationFields",
        "MeisterFields",
        "MeisterActivityFields",
        "ExamineeCorrection",
    ] {
        assert!(schemas[s]["properties"].is_object(), "{s}");
    }
    assert_eq!(
        schemas["ExamineeCorrection"]["required"],
        serde_json::json!(["reason"])
    );
}

#[test]
fn record_operations_document_their_refusals() {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    for (path, method) in [
        ("/v1/examinees/{examinee_id}", "get"),
        ("/v1/examinees/{examinee_id}/my-number", "get"),
        ("/v1/applications/{application_id}", "get"),
        ("/v1/meisters/{meister_id}", "get"),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "401", "403", "404", "503"] {
            assert!(responses[status].is_object(), "{method} {path} {status}");
        }
    }
}
