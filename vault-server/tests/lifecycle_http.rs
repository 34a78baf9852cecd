//! Black-box tests of the key and retention routes over HTTP, on SQLite and PostgreSQL:
//! rotation while the vault serves, destruction refused while in use, a retention run
//! with two people and a verifiable certificate, holds, the meister intent answer, and
//! who may not do what.

use std::time::Duration;

use kentei_vault_tests::{Db, Vault};
use reqwest::Method;
use serde_json::{json, Value};
use vault_core::model::MyNumber;

const BIN: &str = env!("CARGO_BIN_EXE_kentei-vault");
const NAME: &str = "山田 太郎";

struct Answer {
    status: u16,
    json: Value,
    text: String,
}

async fn call(
    v: &Vault,
    method: Method,
    path: &str,
    token: &str,
    purpose: &str,
    body: Option<Value>,
) -> Answer {
    let mut r = v.req(method, path, token, Some(purpose));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    Answer {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn token(v: &Vault, admin: &str, name: &str, role: &str, prefs: &[&str]) -> String {
    v.create_account(
        admin,
        json!({"name": name, "roles": [role], "prefectures": prefs}),
    )
    .await
    .1
}

fn my_number(first11: &str) -> String {
    format!(
        "{first11}{}",
        MyNumber::check_digit(first11).expect("11 digits")
    )
}

async fn examinee(v: &Vault, staff: &str, n: u32, fiscal_year: i32) -> (String, String) {
    let a = call(
        v,
        Method::POST,
        "/v1/examinees",
        staff,
        "exam_administration",
        Some(json!({
            "prefecture_code": "13", "name": NAME, "name_kana": "ヤマダ タロウ",
            "birth_date": "1990-04-01", "sex": "male",
            "my_number": my_number(&format!("{:011}", 23_456_000_000u64 + u64::from(n))),
        })),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.json["examinee_id"].as_str().unwrap().to_owned();
    let b = call(
        v,
        Method::POST,
        &format!("/v1/examinees/{id}/applications"),
        staff,
        "exam_administration",
        Some(json!({
            "prefecture_code": "13", "fiscal_year": fiscal_year, "exam_period": "1",
            "grade": "2", "trade_code": "1010", "work_code": "101001",
            "exam_category": "both", "exam_number": format!("E-{n:05}"),
        })),
    )
    .await;
    assert_eq!(b.status, 201, "{}", b.text);
    (id, b.json["application_id"].as_str().unwrap().to_owned())
}

async fn flow(db: Db) {
    let v = Vault::start(BIN, db).await;
    let (_, admin) = v.first_admin().await;
    let staff = token(&v, &admin, "staff-13", "exam_staff", &["13"]).await;
    let op = token(&v, &admin, "operator-1", "operator", &["*"]).await;
    let approver = token(&v, &admin, "approver-1", "retention_approver", &["*"]).await;
    let coord = token(&v, &admin, "coord-13", "meister_coordinator", &["13"]).await;
    let (old, old_app) = examinee(&v, &staff, 1, 2015).await;
    let (new, _) = examinee(&v, &staff, 2, 2024).await;

    // Keys: only the operator, only for key_management.
    assert_eq!(
        call(
            &v,
            Method::GET,
            "/v1/admin/keys",
            &staff,
            "exam_administration",
            None
        )
        .await
        .status,
        403
    );
    assert_eq!(
        call(&v, Method::GET, "/v1/admin/keys", &op, "retention", None)
            .await
            .status,
        403
    );
    let status = call(
        &v,
        Method::GET,
        "/v1/admin/keys",
        &op,
        "key_management",
        None,
    )
    .await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert!(status.json["audit_public_key"].as_str().is_some());
    let rot = call(
        &v,
        Method::POST,
        "/v1/admin/keys/general/rotate",
        &op,
        "key_management",
        None,
    )
    .await;
    assert_eq!(rot.status, 202, "{}", rot.text);
    assert_eq!(rot.json["to_version"], 2);
    // Reads go on; the old version cannot be destroyed until the job has re-wrapped.
    let read = call(
        &v,
        Method::GET,
        &format!("/v1/examinees/{old}"),
        &staff,
        "exam_administration",
        None,
    )
    .await;
    assert_eq!(read.json["name"], json!(NAME));
    let mut complete = false;
    for _ in 0..100 {
        let d = call(
            &v,
            Method::POST,
            "/v1/admin/keys/general/versions/1/destroy",
            &op,
            "key_management",
            None,
        )
        .await;
        if d.status == 200 {
            complete = true;
            break;
        }
        assert_eq!(d.status, 409, "{}", d.text);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        complete,
        "the background job re-wrapped every key within the wait"
    );
    let read = call(
        &v,
        Method::GET,
        &format!("/v1/examinees/{new}"),
        &staff,
        "exam_administration",
        None,
    )
    .await;
    assert_eq!(read.json["name"], json!(NAME), "{}", read.text);
    assert_eq!(
        call(
            &v,
            Method::POST,
            "/v1/admin/keys/general/versions/2/destroy",
            &op,
            "key_management",
            None
        )
        .await
        .status,
        409
    );
    assert_eq!(
        call(
            &v,
            Method::POST,
            "/v1/admin/keys/nope/rotate",
            &op,
            "key_management",
            None
        )
        .await
        .status,
        404
    );

    // Retention: plan, approval by a second person, execution, certificate.
    let plan = call(
        &v,
        Method::POST,
        "/v1/admin/retention/plans",
        &op,
        "retention",
        None,
    )
    .await;
    assert_eq!(plan.status, 201, "{}", plan.text);
    let plan_id = plan.json["plan"]["id"].as_str().unwrap().to_owned();
    let approve = format!("/v1/admin/retention/plans/{plan_id}/approve");
    assert_eq!(
        call(&v, Method::POST, &approve, &op, "retention", None)
            .await
            .status,
        403
    );
    assert_eq!(
        call(
            &v,
            Method::POST,
            &approve,
            &staff,
            "exam_administration",
            None
        )
        .await
        .status,
        403
    );
    let execute = format!("/v1/admin/retention/plans/{plan_id}/execute");
    assert_eq!(
        call(&v, Method::POST, &execute, &op, "retention", None)
            .await
            .status,
        409
    );
    let a = call(&v, Method::POST, &approve, &approver, "retention", None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let e = call(&v, Method::POST, &execute, &op, "retention", None).await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.json["state"], "executed");
    let cert = call(
        &v,
        Method::GET,
        &format!("/v1/admin/retention/plans/{plan_id}/certificate"),
        &approver,
        "retention",
        None,
    )
    .await;
    assert_eq!(cert.status, 200, "{}", cert.text);
    let public = hex::decode(status.json["audit_public_key"].as_str().unwrap()).unwrap();
    assert!(vault_core::retention::verify_certificate(
        &cert.text, &public
    ));
    let count = |target: &str| {
        cert.json["certificate"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["target"] == target)
            .map(|r| r["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(count("application"), 1);
    assert_eq!(count("my_number"), 1);
    assert_eq!(count("examinee_person"), 0);
    assert!(!cert.text.contains(NAME));
    // The application went; the examinee and the other subject stay.
    let gone = call(
        &v,
        Method::GET,
        &format!("/v1/applications/{old_app}"),
        &staff,
        "exam_administration",
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    for id in [&old, &new] {
        let r = call(
            &v,
            Method::GET,
            &format!("/v1/examinees/{id}"),
            &staff,
            "exam_administration",
            None,
        )
        .await;
        assert_eq!(r.status, 200);
    }

    // Holds.
    let h = call(
        &v,
        Method::POST,
        "/v1/admin/retention/holds",
        &op,
        "retention",
        Some(json!({"subject_ids": [new], "reason": "case 2026-1"})),
    )
    .await;
    assert_eq!(h.status, 201, "{}", h.text);
    let hold = h.json["hold_id"].as_str().unwrap().to_owned();
    let list = call(
        &v,
        Method::GET,
        "/v1/admin/retention/holds",
        &op,
        "retention",
        None,
    )
    .await;
    assert_eq!(list.json["holds"][0]["subject_ids"][0], json!(new));
    let r = call(
        &v,
        Method::POST,
        &format!("/v1/admin/retention/holds/{hold}/release"),
        &op,
        "retention",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call(
            &v,
            Method::POST,
            &format!("/v1/admin/retention/holds/{hold}/release"),
            &op,
            "retention",
            None
        )
        .await
        .status,
        409
    );

    // Meister intent: no open check yet is a 409; staff of exam data may not answer.
    let m = call(
        &v,
        Method::POST,
        "/v1/meisters",
        &coord,
        "meister_dispatch",
        Some(json!({
            "prefecture_code": "13", "name": "佐藤 一郎", "trades": ["旋盤"],
            "certification_number": "M-13-0001", "certified_on": "2024-06-01",
        })),
    )
    .await;
    assert_eq!(m.status, 201, "{}", m.text);
    let meister = m.json["meister_id"].as_str().unwrap().to_owned();
    let intent = format!("/v1/meisters/{meister}/intent");
    let body = json!({"answer": "continue"});
    assert_eq!(
        call(
            &v,
            Method::POST,
            &intent,
            &coord,
            "meister_dispatch",
            Some(body.clone())
        )
        .await
        .status,
        409
    );
    assert_eq!(
        call(
            &v,
            Method::POST,
            &intent,
            &coord,
            "meister_dispatch",
            Some(json!({"answer": "maybe"}))
        )
        .await
        .status,
        422
    );
    assert_ne!(
        call(
            &v,
            Method::POST,
            &intent,
            &staff,
            "exam_administration",
            Some(body)
        )
        .await
        .status,
        200
    );

    // What the operator saw never held personal values.
    assert!(!v.logs().contains(NAME));
}

#[tokio::test]
async fn keys_and_retention_over_http_on_sqlite() {
    flow(Db::Sqlite).await;
}

#[tokio::test]
async fn keys_and_retention_over_http_on_postgres() {
    flow(Db::Postgres).await;
}
