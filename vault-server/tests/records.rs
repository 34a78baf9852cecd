//! Black-box tests of the record and audit routes: the real `kentei-vault` binary over
//! HTTP, on SQLite and on PostgreSQL (harness: the `kentei-vault-tests` crate).
//!
//! The whole flow of the API contract, tenant scoping (C18), intake validation (C1),
//! My Number handling (C2), the role x purpose x endpoint matrix (C3), suspension
//! (C19), the audit listing, impact report and verification (C11, C13, C14), fail-closed
//! auditing, and a search for seeded personal values in logs, error bodies and the audit.

use std::time::Duration;

use kentei_vault_tests::{run_cli, Db, Vault, PURPOSE};
use reqwest::Method;
use serde_json::{json, Value};
use vault_core::model::MyNumber;

const BIN: &str = env!("CARGO_BIN_EXE_kentei-vault");

const NAME: &str = "山田 太郎";
const KANA: &str = "ヤマダ タロウ";
const BIRTH: &str = "1990-04-01";
const ADDRESS: &str = "東京都千代田区霞が関一丁目2番2号";
const PHONE: &str = "03-5253-1111";
const EMPLOYER: &str = "株式会社霞が関精機";

fn my_number(first11: &str) -> String {
    let check = MyNumber::check_digit(first11).expect("11 digits");
    format!("{first11}{check}")
}

/// A My Number with a wrong check digit.
fn bad_check_digit(first11: &str) -> String {
    let check = MyNumber::check_digit(first11).expect("11 digits");
    format!("{first11}{}", (check + 1) % 10)
}

fn examinee_body(prefecture: &str, number: &str) -> Value {
    json!({
        "prefecture_code": prefecture,
        "name": NAME,
        "name_kana": KANA,
        "birth_date": BIRTH,
        "sex": "male",
        "postal_code": "100-8916",
        "address": ADDRESS,
        "phone": PHONE,
        "my_number": number,
    })
}

fn application_body(prefecture: &str, exam_number: &str) -> Value {
    json!({
        "prefecture_code": prefecture,
        "fiscal_year": 2024,
        "exam_period": "1",
        "grade": "2",
        "trade_code": "1010",
        "work_code": "101001",
        "exam_category": "both",
        "exam_number": exam_number,
        "employer_name": EMPLOYER,
    })
}

fn qualification_body() -> Value {
    json!({"skilled_worker_number": "13-2024-0001", "passed_on": "2024-09-30"})
}

fn meister_body(prefecture: &str) -> Value {
    json!({
        "prefecture_code": prefecture,
        "name": "佐藤 一郎",
        "trades": ["旋盤"],
        "certification_number": "M-13-0001",
        "certified_on": "2015-06-01",
    })
}

/// One account of a test.
#[derive(Clone, Debug)]
struct Acct {
    id: String,
    token: String,
    token_id: String,
}

async fn account(v: &Vault, admin: &str, name: &str, role: &str, prefs: &[&str]) -> Acct {
    let a = v
        .create_account_json(
            admin,
            json!({"name": name, "roles": [role], "prefectures": prefs}),
        )
        .await;
    Acct {
        id: a["account_id"].as_str().expect("id").to_owned(),
        token: a["token"].as_str().expect("token").to_owned(),
        token_id: a["token_id"].as_str().expect("token_id").to_owned(),
    }
}

/// An answer: status, body (JSON, or `Null` when empty) and the raw body text.
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
    purpose: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut r = v.req(method, path, token, purpose);
    if let Some(b) = body {
        r = r.json(b);
    }
    let resp = r.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, json, text }
}

/// The vault with an admin, two exam staff (13 and 35), an identity verifier (13) and a
/// security officer.
struct World {
    v: Vault,
    admin: String,
    staff13: Acct,
    staff35: Acct,
    verifier: Acct,
    officer: Acct,
}

async fn world(db: Db) -> World {
    let v = Vault::start(BIN, db).await;
    let (_, admin) = v.first_admin().await;
    let staff13 = account(&v, &admin, "staff-13", "exam_staff", &["13"]).await;
    let staff35 = account(&v, &admin, "staff-35", "exam_staff", &["35"]).await;
    let verifier = account(&v, &admin, "verifier", "identity_verifier", &["13"]).await;
    let officer = account(&v, &admin, "officer", "security_officer", &["*"]).await;
    World {
        v,
        admin,
        staff13,
        staff35,
        verifier,
        officer,
    }
}

async fn register(v: &Vault, staff: &Acct, body: &Value) -> String {
    let a = call(
        v,
        Method::POST,
        "/v1/examinees",
        &staff.token,
        Some("exam_administration"),
        Some(body),
    )
    .await;
    assert_eq!(a.status, 201, "register: {}", a.text);
    a.json["examinee_id"]
        .as_str()
        .expect("examinee_id")
        .to_owned()
}

async fn add_application(v: &Vault, staff: &Acct, examinee: &str, body: &Value) -> String {
    let a = call(
        v,
        Method::POST,
        &format!("/v1/examinees/{examinee}/applications"),
        &staff.token,
        Some("exam_administration"),
        Some(body),
    )
    .await;
    assert_eq!(a.status, 201, "application: {}", a.text);
    a.json["application_id"]
        .as_str()
        .expect("application_id")
        .to_owned()
}

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({
        "from": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "to": (now + chrono::Duration::hours(1)).to_rfc3339(),
    })
}

/// The API contract end to end: init, bootstrap admin, accounts, intake with My
/// Number, application, search, resolve, reveal (identity verifier only), the
/// officer's audit listing, the impact report of the staff token (exactly the subjects
/// it read), disable -> 401, and a final checkpoint that `audit verify` accepts.
#[tokio::test]
async fn whole_flow_from_intake_to_disabled_staff() {
    for db in Db::BOTH {
        let mut w = world(db).await;
        let v = &w.v;
        let number = my_number("12345678901");
        let a = register(v, &w.staff13, &examinee_body("13", &number)).await;
        let b = register(
            v,
            &w.staff35,
            &examinee_body("35", &my_number("22345678901")),
        )
        .await;
        let app = add_application(v, &w.staff13, &a, &application_body("13", "EX-13-0042")).await;

        // Search by exam number: the examinee, within the caller's prefecture.
        let s = call(
            v,
            Method::POST,
            "/v1/examinees/search",
            &w.staff13.token,
            Some("exam_administration"),
            Some(&json!({"exam_number": "EX-13-0042"})),
        )
        .await;
        assert_eq!(s.status, 200, "{db:?}: {}", s.text);
        assert_eq!(s.json, json!({"results": [{"examinee_id": a}]}));

        // The staff view: the person and the application ids, never the My Number.
        let r = call(
            v,
            Method::GET,
            &format!("/v1/examinees/{a}"),
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["name"], json!(NAME));
        assert_eq!(r.json["address"], json!(ADDRESS));
        assert_eq!(r.json["applications"], json!([app]));
        assert!(r.json.get("my_number").is_none());
        assert!(!r.text.contains(&number));

        // The staff member tries the other prefecture's examinee: 404, audited as refused.
        let other = call(
            v,
            Method::GET,
            &format!("/v1/examinees/{b}"),
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(other.status, 404);

        // The application with its result.
        let put = call(
            v,
            Method::PUT,
            &format!("/v1/applications/{app}/result"),
            &w.staff13.token,
            Some("exam_administration"),
            Some(&json!({"written_score": 82, "pass": true})),
        )
        .await;
        assert_eq!(put.status, 204, "{}", put.text);
        let ga = call(
            v,
            Method::GET,
            &format!("/v1/applications/{app}"),
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(ga.status, 200, "{}", ga.text);
        assert_eq!(ga.json["exam_number"], "EX-13-0042");
        assert_eq!(ga.json["examinee_id"], json!(a));
        assert_eq!(ga.json["result"]["written_score"], 82);

        // Resolve by My Number (in the body), then reveal: identity verifier only.
        let res = call(
            v,
            Method::POST,
            "/v1/identity/resolve",
            &w.verifier.token,
            Some("identity_verification"),
            Some(&json!({"my_number": number})),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.json, json!({"examinee_id": a}));
        let reveal_path = format!("/v1/examinees/{a}/my-number");
        let shown = call(
            v,
            Method::GET,
            &reveal_path,
            &w.verifier.token,
            Some("identity_verification"),
            None,
        )
        .await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert_eq!(shown.json, json!({"my_number": number}));
        for purpose in ["exam_administration", "identity_verification"] {
            let refused = call(
                v,
                Method::GET,
                &reveal_path,
                &w.staff13.token,
                Some(purpose),
                None,
            )
            .await;
            assert_eq!(refused.status, 403, "staff reveal for {purpose}");
            assert!(!refused.text.contains(&number));
        }

        // The officer lists the staff member's events: names, never values.
        let events = v
            .audit_events(&w.officer.token, &format!("actor={}", w.staff13.id))
            .await;
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap_or(""))
            .collect();
        for expected in [
            "examinee.create",
            "application.create",
            "examinee.search",
            "examinee.read",
            "identity.reveal",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
        let read = events
            .iter()
            .find(|e| e["action"] == "examinee.read" && e["outcome"] == "ok")
            .expect("read event");
        assert_eq!(read["role"], "exam_staff");
        assert_eq!(read["purpose"], "exam_administration");
        assert_eq!(read["subjects"], json!([a]));
        assert!(read["fields"]
            .as_array()
            .expect("fields")
            .contains(&json!("name")));
        for key in ["seq", "at", "request_id", "source"] {
            assert!(!read[key].is_null(), "{key}");
        }
        let listing = serde_json::to_string(&events).expect("json");
        for value in [NAME, KANA, ADDRESS, PHONE, number.as_str(), BIRTH] {
            assert!(!listing.contains(value), "audit listing carries a value");
        }
        // The officer's own read is audited.
        let own = v
            .audit_events(
                &w.officer.token,
                &format!("actor={}&action=audit.query", w.officer.id),
            )
            .await;
        assert!(!own.is_empty(), "officer reads are audited");

        // Impact of the staff token: exactly the subject it read; the refused attempt on
        // the other prefecture's examinee is listed as refused and not to be notified.
        let mut q = window();
        q["token_id"] = json!(w.staff13.token_id);
        let imp = call(
            v,
            Method::POST,
            "/v1/audit/impact",
            &w.officer.token,
            Some("incident_response"),
            Some(&q),
        )
        .await;
        assert_eq!(imp.status, 200, "{}", imp.text);
        assert_eq!(imp.json["notify"], json!([a]));
        let accessed: Vec<&Value> = imp.json["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .filter(|s| s["accessed"].as_u64() > Some(0))
            .collect();
        assert_eq!(accessed.len(), 1);
        assert_eq!(accessed[0]["subject"], json!(a));
        assert!(accessed[0]["fields"]["name"].as_u64() >= Some(1));
        let refused = imp.json["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .find(|s| s["subject"] == json!(b))
            .expect("refused attempt listed");
        assert_eq!(refused["accessed"], 0);
        assert_eq!(refused["refused"], 1);

        // The chain verifies over HTTP.
        let ver = call(
            v,
            Method::GET,
            "/v1/audit/verify",
            &w.officer.token,
            Some("audit_review"),
            None,
        )
        .await;
        assert_eq!(ver.status, 200, "{}", ver.text);
        assert_eq!(ver.json["ok"], true, "{}", ver.text);
        assert!(ver.json["checked"].as_u64() > Some(10));
        assert!(ver.json["first_broken_seq"].is_null());

        // C10: disabled, the staff token is refused at once.
        let d = call(
            v,
            Method::POST,
            &format!("/v1/accounts/{}/disable", w.staff13.id),
            &w.admin,
            Some("account_management"),
            None,
        )
        .await;
        assert_eq!(d.status, 204);
        let after = call(
            v,
            Method::GET,
            &format!("/v1/examinees/{a}"),
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(after.status, 401);

        // SIGTERM: the audit log closes with a final checkpoint; the CLI verifies it.
        w.v.sigterm();
        let st = w.v.wait_exit(Duration::from_secs(20)).expect("exits");
        assert!(st.success(), "{db:?}");
        let out = verify_cli(&w.v);
        assert_eq!(out.code, 0, "{db:?}: {} {}", out.stdout, out.stderr);
        let report: Value = serde_json::from_str(out.stdout.trim()).expect("json");
        assert_eq!(report["ok"], true);
        let checkpoints =
            std::fs::read_to_string(w.v.data_dir.join("audit/checkpoints.jsonl")).expect("file");
        let last: Value =
            serde_json::from_str(checkpoints.lines().last().expect("a checkpoint")).expect("json");
        assert_eq!(
            last["seq"].as_u64(),
            report["checked"].as_u64(),
            "the final checkpoint covers the last event"
        );
    }
}

fn verify_cli(v: &Vault) -> kentei_vault_tests::Output {
    let dir = v.data_dir.to_str().expect("utf-8");
    let mut args = vec!["audit", "verify", "--data-dir", dir];
    if let Some(u) = &v.database_url {
        args.extend(["--database-url", u.as_str()]);
    }
    run_cli(&v.bin, &args, &[])
}

/// C18: staff of prefecture 13 never see a prefecture 35 record: a read is 404 exactly
/// like a missing record, and a search finds nothing.
#[tokio::test]
async fn cross_prefecture_read_is_not_found_and_search_is_empty() {
    for db in Db::BOTH {
        let w = world(db).await;
        let v = &w.v;
        let b = register(
            v,
            &w.staff35,
            &examinee_body("35", &my_number("32345678901")),
        )
        .await;
        add_application(v, &w.staff35, &b, &application_body("35", "EX-35-0001")).await;
        let read = |id: String| {
            let token = w.staff13.token.clone();
            async move {
                call(
                    v,
                    Method::GET,
                    &format!("/v1/examinees/{id}"),
                    &token,
                    Some("exam_administration"),
                    None,
                )
                .await
            }
        };
        let other = read(b.clone()).await;
        let missing = read(uuid::Uuid::new_v4().to_string()).await;
        assert_eq!(other.status, 404, "{db:?}");
        assert_eq!(missing.status, 404);
        for k in ["type", "title", "detail", "status"] {
            assert_eq!(other.json[k], missing.json[k], "{k}");
        }
        for search in [
            json!({"exam_number": "EX-35-0001"}),
            json!({"name_kana": KANA, "birth_date": BIRTH}),
        ] {
            let s = call(
                v,
                Method::POST,
                "/v1/examinees/search",
                &w.staff13.token,
                Some("exam_administration"),
                Some(&search),
            )
            .await;
            assert_eq!(s.status, 200, "{}", s.text);
            assert_eq!(s.json, json!({"results": []}), "{db:?}");
        }
        // The owner finds it.
        let s = call(
            v,
            Method::POST,
            "/v1/examinees/search",
            &w.staff35.token,
            Some("exam_administration"),
            Some(&json!({"exam_number": "EX-35-0001"})),
        )
        .await;
        assert_eq!(s.json, json!({"results": [{"examinee_id": b}]}));
    }
}

/// Ids that are not UUIDs answer 404 like unknown ones (not 400), so ids cannot be probed.
#[tokio::test]
async fn malformed_and_unknown_ids_are_404_alike() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    for path in [
        "/v1/examinees/not-a-uuid",
        "/v1/examinees/12345/my-number",
        "/v1/meisters/%E5%B1%B1",
        "/v1/applications/%00%01",
    ] {
        let a = call(
            v,
            Method::GET,
            path,
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(a.status, 404, "{path}: {}", a.text);
        assert_eq!(a.json["type"], "not_found");
    }
}

/// C1: an extra field, a bad My Number check digit and a bad prefecture code are 422
/// naming the field and a code; the body never contains the submitted value.
#[tokio::test]
async fn extra_field_bad_check_digit_and_bad_prefecture_are_422_without_the_value() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    let bad_number = bad_check_digit("42345678901");
    let mut extra = examinee_body("13", &my_number("42345678902"));
    extra["favourite_colour"] = json!("SECRET-COLOUR-VALUE");
    let mut bad_pref = examinee_body("13", &my_number("42345678903"));
    bad_pref["prefecture_code"] = json!("99");
    let cases = [
        (extra, "favourite_colour", "SECRET-COLOUR-VALUE"),
        (
            examinee_body("13", &bad_number),
            "my_number",
            bad_number.as_str(),
        ),
        (bad_pref, "prefecture_code", "\"99\""),
    ];
    for (body, field, value) in cases {
        let a = call(
            v,
            Method::POST,
            "/v1/examinees",
            &w.staff13.token,
            Some("exam_administration"),
            Some(&body),
        )
        .await;
        assert_eq!(a.status, 422, "{field}: {}", a.text);
        assert_eq!(a.json["type"], "validation");
        let errors = a.json["errors"].as_array().expect("errors");
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"].is_string()),
            "{field} in {errors:?}"
        );
        assert!(!a.text.contains(value), "the value is echoed: {}", a.text);
        for seeded in [NAME, KANA, ADDRESS, PHONE] {
            assert!(!a.text.contains(seeded));
        }
    }
    // Resolve with a bad check digit: 422 without the number.
    let a = call(
        v,
        Method::POST,
        "/v1/identity/resolve",
        &w.verifier.token,
        Some("identity_verification"),
        Some(&json!({"my_number": bad_number})),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert!(!a.text.contains(&bad_number));
}

/// C2, C12 and the no-values rule: seeded personal values never appear in the server's
/// log output, in any error body or in the audit listing — after the whole flow,
/// errors included, and a request id that looks like a My Number (which the server
/// replaces).
#[tokio::test]
async fn seeded_personal_values_never_appear_in_logs_errors_or_audit() {
    for db in Db::BOTH {
        let w = world(db).await;
        let v = &w.v;
        let number = my_number("52345678901");
        let seeded = [NAME, KANA, ADDRESS, PHONE, EMPLOYER, BIRTH, number.as_str()];
        let mut errors = Vec::new();
        let a = register(v, &w.staff13, &examinee_body("13", &number)).await;
        let app = add_application(v, &w.staff13, &a, &application_body("13", "EX-13-0777")).await;
        for (method, path, token, purpose, body) in [
            (
                Method::GET,
                format!("/v1/examinees/{a}"),
                &w.staff13,
                "exam_administration",
                None,
            ),
            (
                Method::GET,
                format!("/v1/applications/{app}"),
                &w.staff13,
                "exam_administration",
                None,
            ),
            (
                Method::POST,
                "/v1/examinees/search".to_owned(),
                &w.staff13,
                "exam_administration",
                Some(json!({"name_kana": KANA, "birth_date": BIRTH})),
            ),
            (
                Method::POST,
                "/v1/identity/resolve".to_owned(),
                &w.verifier,
                "identity_verification",
                Some(json!({"my_number": number})),
            ),
            (
                Method::PATCH,
                format!("/v1/examinees/{a}"),
                &w.staff13,
                "exam_administration",
                Some(json!({"address": ADDRESS, "reason": "転居"})),
            ),
        ] {
            let r = call(v, method, &path, &token.token, Some(purpose), body.as_ref()).await;
            assert!(r.status < 300, "{path}: {}", r.text);
        }
        // Failures of every kind, with seeded values in the requests.
        let mut with_extra = examinee_body("13", &number);
        with_extra[NAME] = json!(PHONE);
        for (method, path, token, purpose, body) in [
            (
                Method::POST,
                "/v1/examinees".to_owned(),
                &w.staff13,
                Some("exam_administration"),
                Some(with_extra),
            ),
            (
                Method::POST,
                "/v1/examinees".to_owned(),
                &w.staff13,
                Some("exam_administration"),
                Some(json!({"name": 7, "address": ADDRESS})),
            ),
            (
                Method::POST,
                "/v1/examinees".to_owned(),
                &w.staff35,
                Some("exam_administration"),
                Some(examinee_body("13", &number)),
            ),
            (
                Method::POST,
                "/v1/identity/resolve".to_owned(),
                &w.staff13,
                Some("exam_administration"),
                Some(json!({"my_number": number})),
            ),
            (
                Method::POST,
                "/v1/identity/resolve".to_owned(),
                &w.verifier,
                Some("identity_verification"),
                Some(json!({"my_number": number, "name": NAME})),
            ),
            (
                Method::POST,
                "/v1/examinees/search".to_owned(),
                &w.staff13,
                None,
                Some(json!({"name_kana": KANA, "birth_date": BIRTH})),
            ),
            (
                Method::POST,
                "/v1/examinees/search".to_owned(),
                &w.staff13,
                Some("exam_administration"),
                Some(json!({"name_kana": KANA, "birth_date": PHONE})),
            ),
            (
                Method::GET,
                format!("/v1/examinees/{a}/my-number"),
                &w.staff13,
                Some("exam_administration"),
                None,
            ),
            (
                Method::PATCH,
                format!("/v1/examinees/{a}"),
                &w.staff13,
                Some("exam_administration"),
                Some(json!({"phone": ADDRESS, "reason": NAME})),
            ),
            (
                Method::GET,
                format!("/v1/examinees/{a}"),
                &w.staff35,
                Some("exam_administration"),
                None,
            ),
        ] {
            let r = call(v, method, &path, &token.token, purpose, body.as_ref()).await;
            assert!(
                r.status >= 400,
                "{path}: expected an error, got {}",
                r.status
            );
            errors.push(r.text);
        }
        // A client request id that looks like a number is not taken over.
        let r = v
            .req(
                Method::GET,
                &format!("/v1/examinees/{a}"),
                &w.staff13.token,
                Some("exam_administration"),
            )
            .header("Vault-Request-Id", number.as_str())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        let echoed = r.headers()["vault-request-id"].to_str().expect("ascii");
        assert_ne!(echoed, number);
        let _ = r.text().await;

        let all = v.audit_events(&w.officer.token, "limit=500").await;
        assert!(all.len() >= 20, "the listing has the flow: {}", all.len());
        let audit = serde_json::to_string(&all).expect("json");
        let logs = v.logs();
        assert!(logs.contains("listening"), "logs were captured");
        for value in seeded {
            assert!(
                !logs.contains(value),
                "{db:?}: a seeded value is in the log output"
            );
            assert!(
                !audit.contains(value),
                "{db:?}: a seeded value is in the audit"
            );
            for e in &errors {
                assert!(
                    !e.contains(value),
                    "{db:?}: a seeded value is in an error: {e}"
                );
            }
        }
    }
}

/// C19: after suspension of use, reads for ordinary purposes are refused; answering the
/// person's own request (disclosure_request) still works; lifting it restores access.
#[tokio::test]
async fn suspended_examinee_is_refused_for_ordinary_purposes() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    let a = register(
        v,
        &w.staff13,
        &examinee_body("13", &my_number("62345678901")),
    )
    .await;
    let path = format!("/v1/examinees/{a}");
    let suspend = |on: bool| {
        let token = w.staff13.token.clone();
        let a = a.clone();
        async move {
            call(
                v,
                Method::POST,
                &format!("/v1/examinees/{a}/suspension"),
                &token,
                Some("disclosure_request"),
                Some(&json!({"suspended": on})),
            )
            .await
            .status
        }
    };
    let read = |purpose: &'static str| {
        let token = w.staff13.token.clone();
        let path = path.clone();
        async move {
            call(v, Method::GET, &path, &token, Some(purpose), None)
                .await
                .status
        }
    };
    assert_eq!(read("exam_administration").await, 200);
    assert_eq!(suspend(true).await, 204);
    assert_eq!(read("exam_administration").await, 403);
    assert_eq!(read("result_notification").await, 403);
    assert_eq!(read("disclosure_request").await, 200);
    assert_eq!(suspend(false).await, 204);
    assert_eq!(read("exam_administration").await, 200);
}

/// C21: a meister idle for more than three years is in the inactivity report, one
/// active last year is not.
#[tokio::test]
async fn inactive_meister_report_lists_only_the_idle_one() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    let coord = account(v, &w.admin, "coordinator", "meister_coordinator", &["13"]).await;
    let mut ids = Vec::new();
    for (date, kind) in [
        ("2021-05-01", "sme"),
        ("2025-05-01", "technical_high_school"),
    ] {
        let m = call(
            v,
            Method::POST,
            "/v1/meisters",
            &coord.token,
            Some("meister_dispatch"),
            Some(&meister_body("13")),
        )
        .await;
        assert_eq!(m.status, 201, "{}", m.text);
        let id = m.json["meister_id"].as_str().expect("id").to_owned();
        let act = call(
            v,
            Method::POST,
            &format!("/v1/meisters/{id}/activities"),
            &coord.token,
            Some("meister_dispatch"),
            Some(&json!({"date": date, "kind": kind, "host_name": "株式会社A", "trainee_person_days": 3})),
        )
        .await;
        assert_eq!(act.status, 201, "{}", act.text);
        assert!(act.json["activity_id"].is_string());
        ids.push(id);
    }
    let r = call(
        v,
        Method::GET,
        "/v1/meisters/inactive?as_of=2025-10-01",
        &coord.token,
        Some("meister_dispatch"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"as_of": "2025-10-01", "results": [{"meister_id": ids[0]}]})
    );
    let bad = call(
        v,
        Method::GET,
        "/v1/meisters/inactive?as_of=yesterday",
        &coord.token,
        Some("meister_dispatch"),
        None,
    )
    .await;
    assert_eq!(bad.status, 422);
    let m = call(
        v,
        Method::GET,
        &format!("/v1/meisters/{}", ids[1]),
        &coord.token,
        Some("meister_dispatch"),
        None,
    )
    .await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(m.json["name"], "佐藤 一郎");
}

/// A qualification is recorded and revoked (合格取消) with `revoked_on` and
/// `revocation_reason` only; any other field in the revocation is 422.
#[tokio::test]
async fn qualification_is_revoked_with_date_and_reason_only() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    let a = register(
        v,
        &w.staff13,
        &examinee_body("13", &my_number("72345678901")),
    )
    .await;
    let q = call(
        v,
        Method::POST,
        &format!("/v1/examinees/{a}/qualifications"),
        &w.staff13.token,
        Some("exam_administration"),
        Some(&qualification_body()),
    )
    .await;
    assert_eq!(q.status, 201, "{}", q.text);
    let qid = q.json["qualification_id"].as_str().expect("id");
    let path = format!("/v1/examinees/{a}/qualifications/{qid}");
    let extra = call(
        v,
        Method::PATCH,
        &path,
        &w.staff13.token,
        Some("exam_administration"),
        Some(&json!({"revoked_on": "2025-01-10", "revocation_reason": "不正受検", "reissue_count": 2})),
    )
    .await;
    assert_eq!(extra.status, 422, "{}", extra.text);
    let ok = call(
        v,
        Method::PATCH,
        &path,
        &w.staff13.token,
        Some("exam_administration"),
        Some(&json!({"revoked_on": "2025-01-10", "revocation_reason": "不正受検"})),
    )
    .await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    // Another examinee's path with this qualification id: 404.
    let b = register(
        v,
        &w.staff13,
        &examinee_body("13", &my_number("72345678902")),
    )
    .await;
    let wrong = call(
        v,
        Method::PATCH,
        &format!("/v1/examinees/{b}/qualifications/{qid}"),
        &w.staff13.token,
        Some("exam_administration"),
        Some(&json!({"revoked_on": "2025-01-10", "revocation_reason": "不正受検"})),
    )
    .await;
    assert_eq!(wrong.status, 404);
}

/// A correction needs a reason; with one, the new value reads back.
#[tokio::test]
async fn correction_needs_a_reason_and_reads_back() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    let a = register(
        v,
        &w.staff13,
        &examinee_body("13", &my_number("82345678901")),
    )
    .await;
    let path = format!("/v1/examinees/{a}");
    let new_address = "島根県松江市殿町1番地";
    let no_reason = call(
        v,
        Method::PATCH,
        &path,
        &w.staff13.token,
        Some("exam_administration"),
        Some(&json!({"address": new_address})),
    )
    .await;
    assert_eq!(no_reason.status, 422);
    assert_eq!(no_reason.json["errors"][0]["field"], "reason");
    let ok = call(
        v,
        Method::PATCH,
        &path,
        &w.staff13.token,
        Some("exam_administration"),
        Some(&json!({"address": new_address, "reason": "転居届"})),
    )
    .await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    let r = call(
        v,
        Method::GET,
        &path,
        &w.staff13.token,
        Some("exam_administration"),
        None,
    )
    .await;
    assert_eq!(r.json["address"], new_address);
}

// ----- role x purpose x endpoint matrix (C3) ------------------------------------------

/// The ids the matrix calls use.
struct Fixture {
    examinee: String,
    application: String,
    qualification: String,
    meister: String,
    my_number: String,
}

/// One record endpoint of the matrix.
struct Endpoint {
    name: &'static str,
    method: Method,
    path: fn(&Fixture) -> String,
    body: fn(&Fixture) -> Option<Value>,
}

fn endpoints() -> Vec<Endpoint> {
    fn none(_: &Fixture) -> Option<Value> {
        None
    }
    vec![
        Endpoint {
            name: "create examinee",
            method: Method::POST,
            path: |_| "/v1/examinees".into(),
            // Identity, address and contact only: within every examinee-writing view.
            body: |_| {
                Some(
                    json!({"prefecture_code": "13", "name": "matrix", "name_kana": "マトリクス",
                            "birth_date": "1991-01-01", "phone": "03-0000-0000"}),
                )
            },
        },
        Endpoint {
            name: "read examinee",
            method: Method::GET,
            path: |f| format!("/v1/examinees/{}", f.examinee),
            body: none,
        },
        Endpoint {
            name: "correct examinee",
            method: Method::PATCH,
            path: |f| format!("/v1/examinees/{}", f.examinee),
            body: |_| Some(json!({"phone": "03-1111-2222", "reason": "matrix"})),
        },
        Endpoint {
            name: "search",
            method: Method::POST,
            path: |_| "/v1/examinees/search".into(),
            body: |_| Some(json!({"exam_number": "EX-13-0500"})),
        },
        Endpoint {
            name: "resolve",
            method: Method::POST,
            path: |_| "/v1/identity/resolve".into(),
            body: |f| Some(json!({"my_number": f.my_number})),
        },
        Endpoint {
            name: "reveal",
            method: Method::GET,
            path: |f| format!("/v1/examinees/{}/my-number", f.examinee),
            body: none,
        },
        Endpoint {
            name: "suspension",
            method: Method::POST,
            path: |f| format!("/v1/examinees/{}/suspension", f.examinee),
            // `false`: a permitted call leaves the fixture usable.
            body: |_| Some(json!({"suspended": false})),
        },
        Endpoint {
            name: "add application",
            method: Method::POST,
            path: |f| format!("/v1/examinees/{}/applications", f.examinee),
            // Exam fields only (no employment): within every application-writing view.
            body: |_| {
                Some(
                    json!({"prefecture_code": "13", "fiscal_year": 2024, "exam_period": "1",
                            "grade": "2", "trade_code": "1010", "work_code": "101001",
                            "exam_category": "both", "exam_number": "EX-13-0501"}),
                )
            },
        },
        Endpoint {
            name: "read application",
            method: Method::GET,
            path: |f| format!("/v1/applications/{}", f.application),
            body: none,
        },
        Endpoint {
            name: "put result",
            method: Method::PUT,
            path: |f| format!("/v1/applications/{}/result", f.application),
            body: |_| Some(json!({"written_score": 70})),
        },
        Endpoint {
            name: "add qualification",
            method: Method::POST,
            path: |f| format!("/v1/examinees/{}/qualifications", f.examinee),
            body: |_| Some(qualification_body()),
        },
        Endpoint {
            name: "revoke qualification",
            method: Method::PATCH,
            path: |f| {
                format!(
                    "/v1/examinees/{}/qualifications/{}",
                    f.examinee, f.qualification
                )
            },
            body: |_| Some(json!({"revoked_on": "2025-01-10", "revocation_reason": "matrix"})),
        },
        Endpoint {
            name: "create meister",
            method: Method::POST,
            path: |_| "/v1/meisters".into(),
            body: |_| Some(meister_body("13")),
        },
        Endpoint {
            name: "read meister",
            method: Method::GET,
            path: |f| format!("/v1/meisters/{}", f.meister),
            body: none,
        },
        Endpoint {
            name: "add activity",
            method: Method::POST,
            path: |f| format!("/v1/meisters/{}/activities", f.meister),
            body: |_| Some(json!({"date": "2025-05-01", "kind": "sme", "trainee_person_days": 1})),
        },
        Endpoint {
            name: "inactive meisters",
            method: Method::GET,
            path: |_| "/v1/meisters/inactive?as_of=2025-10-01".into(),
            body: none,
        },
    ]
}

/// Role, a purpose it may state, a purpose it may not, and the expected status of each
/// endpoint (in the order of [`endpoints`]) with the allowed purpose. With the
/// disallowed purpose every endpoint is 403.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str, [u16; 16])] = &[
    //                                            ex+  ex   patch srch res  rev  susp app+ app  res  q+   q-   m+   m    act  inact
    ("exam_staff", "exam_administration", "meister_dispatch",
        [201, 200, 204, 200, 403, 403, 403, 201, 200, 204, 201, 204, 403, 403, 403, 403]),
    ("exam_system", "system_sync", "identity_verification",
        [201, 200, 204, 200, 403, 403, 403, 201, 200, 204, 201, 204, 403, 403, 403, 403]),
    ("identity_verifier", "identity_verification", "exam_administration",
        [403, 200, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("meister_coordinator", "meister_dispatch", "exam_administration",
        [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 201, 200, 201, 200]),
    ("security_officer", "audit_review", "exam_administration",
        [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("admin", "account_management", "exam_administration",
        [403; 16]),
];

async fn fixture(v: &Vault, admin: &str) -> Fixture {
    let staff = account(v, admin, "fixture-staff", "exam_staff", &["13"]).await;
    let coord = account(v, admin, "fixture-coord", "meister_coordinator", &["13"]).await;
    let number = my_number("92345678901");
    let examinee = register(v, &staff, &examinee_body("13", &number)).await;
    let mut app = application_body("13", "EX-13-0500");
    app["application_id"] = json!("APP-13-0500");
    let application = add_application(v, &staff, &examinee, &app).await;
    let q = call(
        v,
        Method::POST,
        &format!("/v1/examinees/{examinee}/qualifications"),
        &staff.token,
        Some("exam_administration"),
        Some(&qualification_body()),
    )
    .await;
    assert_eq!(q.status, 201, "{}", q.text);
    let m = call(
        v,
        Method::POST,
        "/v1/meisters",
        &coord.token,
        Some("meister_dispatch"),
        Some(&meister_body("13")),
    )
    .await;
    assert_eq!(m.status, 201, "{}", m.text);
    Fixture {
        examinee,
        application,
        qualification: q.json["qualification_id"].as_str().expect("id").to_owned(),
        meister: m.json["meister_id"].as_str().expect("id").to_owned(),
        my_number: number,
    }
}

/// C3: every record endpoint called by each role with a purpose it may state and one
/// it may not, and without a purpose; the statuses match the policy. One server per
/// backend for the whole matrix.
#[tokio::test]
async fn role_purpose_endpoint_matrix() {
    for db in Db::BOTH {
        let v = Vault::start(BIN, db).await;
        let (_, admin) = v.first_admin().await;
        let f = fixture(&v, &admin).await;
        let eps = endpoints();
        let mut mismatches = Vec::new();
        for (role, allowed, disallowed, expected) in MATRIX {
            let prefs: &[&str] = if *role == "admin" || *role == "security_officer" {
                &["*"]
            } else {
                &["13"]
            };
            let acct = account(&v, &admin, &format!("matrix-{role}"), role, prefs).await;
            for (ep, want) in eps.iter().zip(expected.iter()) {
                for (purpose, want) in [(*allowed, *want), (*disallowed, 403)] {
                    let a = call(
                        &v,
                        ep.method.clone(),
                        &(ep.path)(&f),
                        &acct.token,
                        Some(purpose),
                        (ep.body)(&f).as_ref(),
                    )
                    .await;
                    if a.status != want {
                        mismatches.push(format!(
                            "{db:?} {role} / {purpose} / {}: want {want}, got {} {}",
                            ep.name, a.status, a.text
                        ));
                    }
                    if a.status == 403 {
                        assert_eq!(a.json["type"], "forbidden");
                    }
                }
            }
        }
        // Without a purpose every record endpoint is 400 purpose_required.
        let staff = account(&v, &admin, "matrix-no-purpose", "exam_staff", &["13"]).await;
        for ep in &eps {
            let a = call(
                &v,
                ep.method.clone(),
                &(ep.path)(&f),
                &staff.token,
                None,
                (ep.body)(&f).as_ref(),
            )
            .await;
            if a.status != 400 || a.json["type"] != "purpose_required" {
                mismatches.push(format!(
                    "{db:?} no purpose / {}: got {} {}",
                    ep.name, a.status, a.text
                ));
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
}

// ----- audit integrity ------------------------------------------------------------------

async fn sql(v: &Vault, statements: &[&str]) {
    use sqlx::{Connection, Executor};
    match &v.database_url {
        None => {
            let path = v.data_dir.join("vault.db");
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(Duration::from_secs(10));
            let mut c = sqlx::SqliteConnection::connect_with(&opts)
                .await
                .expect("sqlite");
            for s in statements {
                c.execute(*s).await.expect("sql");
            }
            c.close().await.expect("close");
        }
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.expect("pg");
            for s in statements {
                c.execute(*s).await.expect("sql");
            }
            c.close().await.expect("close");
        }
    }
}

/// C13: editing one audit row is found by `kentei-vault audit verify` at that row's seq
/// (exit 1); before the edit it verifies (exit 0).
#[tokio::test]
async fn edited_audit_row_is_found_by_audit_verify_at_that_seq() {
    for db in Db::BOTH {
        let mut w = world(db).await;
        let a = register(
            &w.v,
            &w.staff13,
            &examinee_body("13", &my_number("13345678901")),
        )
        .await;
        let r = call(
            &w.v,
            Method::GET,
            &format!("/v1/examinees/{a}"),
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        let events =
            w.v.audit_events(&w.officer.token, "action=examinee.read")
                .await;
        let seq = events[0]["seq"].as_u64().expect("seq");
        w.v.sigterm();
        assert!(w
            .v
            .wait_exit(Duration::from_secs(20))
            .expect("exits")
            .success());
        let before = verify_cli(&w.v);
        assert_eq!(before.code, 0, "{db:?}: {}", before.stderr);

        let update =
            format!("UPDATE audit_events SET action = 'examinee.search' WHERE seq = {seq}");
        let drop_trigger = match db {
            Db::Sqlite => "DROP TRIGGER audit_events_no_update",
            Db::Postgres => "DROP TRIGGER audit_events_no_update ON audit_events",
        };
        sql(&w.v, &[drop_trigger, &update]).await;

        let after = verify_cli(&w.v);
        assert_eq!(after.code, 1, "{db:?}: {}", after.stdout);
        let report: Value = serde_json::from_str(after.stdout.trim()).expect("json");
        assert_eq!(report["ok"], false);
        assert_eq!(report["first_broken_seq"].as_u64(), Some(seq), "{report}");
        assert_eq!(report["problem"], "edited");
        assert!(
            after.stderr.contains(&format!("at seq {seq}")),
            "{}",
            after.stderr
        );
    }
}

/// Fail closed: while the audit log cannot be written, a read answers 503
/// `audit_unavailable` without data and readiness fails; once it can, both recover.
#[tokio::test]
async fn unwritable_audit_fails_reads_with_503_and_no_data() {
    for db in Db::BOTH {
        let w = world(db).await;
        let v = &w.v;
        let a = register(
            v,
            &w.staff13,
            &examinee_body("13", &my_number("14345678901")),
        )
        .await;
        let block = match db {
            Db::Sqlite => vec![
                "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit blocked'); END",
            ],
            Db::Postgres => vec![
                "CREATE FUNCTION block_audit() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit blocked'; END $$",
                "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION block_audit()",
            ],
        };
        sql(v, &block).await;
        let path = format!("/v1/examinees/{a}");
        let r = call(
            v,
            Method::GET,
            &path,
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(r.status, 503, "{db:?}: {}", r.text);
        assert_eq!(r.json["type"], "audit_unavailable");
        assert!(!r.text.contains(NAME));
        // Denials must be audited too: a bad token is answered 503 as well.
        let bad = call(v, Method::GET, &path, "kv_not-a-token", None, None).await;
        assert_eq!(bad.status, 503);
        let ready = v.client.get(v.url("/readyz")).send().await.expect("send");
        assert_eq!(ready.status(), 503, "{db:?}");

        let unblock = match db {
            Db::Sqlite => vec!["DROP TRIGGER block_audit"],
            Db::Postgres => vec![
                "DROP TRIGGER block_audit ON audit_events",
                "DROP FUNCTION block_audit()",
            ],
        };
        sql(v, &unblock).await;
        let ready = v.client.get(v.url("/readyz")).send().await.expect("send");
        assert_eq!(ready.status(), 200, "{db:?}");
        let r = call(
            v,
            Method::GET,
            &path,
            &w.staff13.token,
            Some("exam_administration"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{db:?}: {}", r.text);
        let metrics = v
            .req(Method::GET, "/metrics", &w.admin, None)
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text");
        let failures = metrics
            .lines()
            .find_map(|l| l.strip_prefix("kentei_vault_audit_append_failures_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .expect("failure counter");
        assert!(failures >= 2, "{metrics}");
        assert!(metrics.contains("kentei_vault_audit_appended_total"));
    }
}

/// Audit routes are for security officers: staff and admins get 403 (audited), a
/// missing purpose is 400, a bad filter is 422 naming it.
#[tokio::test]
async fn audit_routes_are_for_security_officers() {
    let w = world(Db::Sqlite).await;
    let v = &w.v;
    for (token, purpose) in [
        (&w.staff13.token, "exam_administration"),
        (&w.admin, "account_management"),
        (&w.officer.token, "exam_administration"),
    ] {
        for (method, path) in [
            (Method::GET, "/v1/audit/events"),
            (Method::GET, "/v1/audit/verify"),
            (Method::POST, "/v1/audit/impact"),
        ] {
            let mut body = window();
            body["actor"] = json!(w.staff13.id);
            let a = call(v, method, path, token, Some(purpose), Some(&body)).await;
            assert_eq!(a.status, 403, "{path} {purpose}: {}", a.text);
        }
    }
    let a = call(
        v,
        Method::GET,
        "/v1/audit/events",
        &w.officer.token,
        None,
        None,
    )
    .await;
    assert_eq!(a.status, 400);
    let a = call(
        v,
        Method::GET,
        "/v1/audit/events?subject=not-a-uuid",
        &w.officer.token,
        Some("audit_review"),
        None,
    )
    .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json["errors"][0]["field"], "subject");
    let denied = v
        .audit_events(&w.officer.token, "outcome=denied&action=audit.query")
        .await;
    assert!(!denied.is_empty(), "refusals of audit routes are audited");
    let r = v
        .client
        .get(v.url("/v1/audit/events"))
        .bearer_auth(&w.officer.token)
        .header(PURPOSE, "incident_response")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}
