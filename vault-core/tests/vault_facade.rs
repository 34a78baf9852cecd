//! The facade end to end on both backends: views, tenants, suspension, My Number
//! compartment, corrections, audit before data, and no plaintext at rest.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::TestDb;
use serde_json::{json, Value};
use uuid::Uuid;
use vault_core::audit::{query_events, AuditConfig, AuditLog, EventFilter, Outcome};
use vault_core::crypto::{KeyProvider, Keyring};
use vault_core::model::MyNumber;
use vault_core::store::{open_store, Backend};
use vault_core::vault::{Actor, ExamineeSearch, Vault, VaultError};
use vault_policy::{Policy, TenantScope};

const NAME: &str = "山田 太郎";
const KANA: &str = "ヤマダ タロウ";
const ADDRESS: &str = "東京都千代田区霞が関一丁目2番2号";
const PHONE: &str = "03-5253-1111";
const EMPLOYER: &str = "株式会社霞が関精機";

fn my_number(first11: &str) -> String {
    let check = MyNumber::check_digit(first11).expect("11 digits");
    format!("{first11}{check}")
}

struct Harness {
    db: TestDb,
    vault: Vault,
    _dir: tempfile::TempDir,
}

async fn harness(db: TestDb) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = Keyring::generate().expect("keyring");
    let signer = Arc::new(keyring.audit_signer());
    let audit = AuditLog::start(
        db.backend.clone(),
        signer,
        AuditConfig::new("test", dir.path().join("checkpoints.jsonl")),
    )
    .await
    .expect("audit starts");
    let vault = Vault::new(
        open_store(db.backend.clone()),
        Arc::new(keyring),
        Arc::new(Policy::default_policy()),
        audit,
    );
    Harness {
        db,
        vault,
        _dir: dir,
    }
}

fn actor(id: &str, role: &str, prefectures: &[&str]) -> Actor {
    Actor {
        id: id.to_owned(),
        roles: vec![role.to_owned()],
        tenants: TenantScope::from_list(prefectures),
        token_id: None,
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        source: Some("127.0.0.1".parse().expect("ip")),
    }
}

fn staff(prefecture: &str) -> Actor {
    actor(&format!("staff-{prefecture}"), "exam_staff", &[prefecture])
}

fn examinee_body(prefecture: &str, number: &str) -> Value {
    json!({
        "prefecture_code": prefecture,
        "name": NAME,
        "name_kana": KANA,
        "birth_date": "1990-04-01",
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

async fn for_both<F, Fut>(test: F)
where
    F: Fn(Harness) -> Fut,
    Fut: std::future::Future<Output = Harness>,
{
    for db in [TestDb::sqlite().await, TestDb::postgres().await] {
        let h = test(harness(db).await).await;
        h.vault.audit().close().await;
        h.db.cleanup().await;
    }
}

#[tokio::test]
async fn registered_examinee_reads_back_in_the_staff_view_without_my_number() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("12345678901")),
            )
            .await
            .expect("register");
        let view = h
            .vault
            .read_examinee(&s, "exam_administration", id)
            .await
            .expect("read");
        assert_eq!(view.fields["name"], json!(NAME));
        assert_eq!(view.fields["address"], json!(ADDRESS));
        assert_eq!(view.fields["phone"], json!(PHONE));
        assert!(!view.fields.contains_key("my_number"));
        assert_eq!(view.fields["applications"], json!([]));
        h
    })
    .await;
}

#[tokio::test]
async fn a_narrower_purpose_withholds_fields_outside_its_view() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("12345678902")),
            )
            .await
            .expect("register");
        // result_notification grants identity, address, exam, result: no contact.
        let view = h
            .vault
            .read_examinee(&s, "result_notification", id)
            .await
            .expect("read");
        assert_eq!(view.fields["name"], json!(NAME));
        assert!(!view.fields.contains_key("phone"));
        h
    })
    .await;
}

#[tokio::test]
async fn a_purpose_the_role_may_not_state_is_forbidden_and_audited() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("22345678901")),
            )
            .await
            .expect("register");
        let err = h
            .vault
            .read_examinee(&s, "meister_dispatch", id)
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::Forbidden), "{err:?}");
        let page = query_events(
            &h.db.backend,
            &EventFilter {
                outcome: Some(Outcome::Denied),
                ..EventFilter::default()
            },
            10,
            None,
        )
        .await
        .expect("events");
        assert_eq!(page.events.len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn cross_prefecture_read_search_and_listing_are_not_found_or_empty() {
    for_both(|h| async move {
        let s35 = staff("35");
        let s13 = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s35,
                "exam_administration",
                &examinee_body("35", &my_number("32345678901")),
            )
            .await
            .expect("register");
        h.vault
            .add_application(
                &s35,
                "exam_administration",
                id,
                &application_body("35", "EX-35-0001"),
            )
            .await
            .expect("application");
        let err = h
            .vault
            .read_examinee(&s13, "exam_administration", id)
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::NotFound), "{err:?}");
        let found = h
            .vault
            .search_examinees(
                &s13,
                "exam_administration",
                &ExamineeSearch::ExamNumber("EX-35-0001".into()),
            )
            .await
            .expect("search");
        assert!(found.is_empty());
        let err = h
            .vault
            .add_application(
                &s13,
                "exam_administration",
                id,
                &application_body("13", "EX-13-0001"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::NotFound), "{err:?}");
        // The owner still finds it.
        let found = h
            .vault
            .search_examinees(
                &s35,
                "exam_administration",
                &ExamineeSearch::ExamNumber("EX-35-0001".into()),
            )
            .await
            .expect("search");
        assert_eq!(found, vec![id]);
        h
    })
    .await;
}

#[tokio::test]
async fn search_by_kana_and_birth_date_folds_hiragana_and_half_width() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("42345678901")),
            )
            .await
            .expect("register");
        let found = h
            .vault
            .search_examinees(
                &s,
                "exam_administration",
                &ExamineeSearch::KanaAndBirthDate {
                    name_kana: "ヤマダタロウ".into(),
                    birth_date: "平成2年4月1日".into(),
                },
            )
            .await
            .expect("search");
        assert_eq!(found, vec![id]);
        h
    })
    .await;
}

#[tokio::test]
async fn application_and_result_round_trip_and_list_under_the_examinee() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("52345678901")),
            )
            .await
            .expect("register");
        let app = h
            .vault
            .add_application(
                &s,
                "exam_administration",
                id,
                &application_body("13", "EX-13-0042"),
            )
            .await
            .expect("application");
        h.vault
            .put_result(
                &s,
                "exam_administration",
                &app,
                &json!({"written_score": 82, "pass": true}),
            )
            .await
            .expect("result");
        let read = h
            .vault
            .read_application(&s, "exam_administration", &app)
            .await
            .expect("read app");
        assert_eq!(read.fields["exam_number"], json!("EX-13-0042"));
        assert_eq!(read.fields["employer_name"], json!(EMPLOYER));
        assert_eq!(read.fields["result"]["written_score"], json!(82));
        let person = h
            .vault
            .read_examinee(&s, "exam_administration", id)
            .await
            .expect("read");
        assert_eq!(person.fields["applications"], json!([app]));
        let found = h
            .vault
            .search_examinees(
                &s,
                "exam_administration",
                &ExamineeSearch::ApplicationId(app.clone()),
            )
            .await
            .expect("search");
        assert_eq!(found, vec![id]);
        h
    })
    .await;
}

#[tokio::test]
async fn duplicate_application_id_is_a_conflict_and_writes_nothing() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("62345678901")),
            )
            .await
            .expect("register");
        let mut body = application_body("13", "EX-13-0100");
        body["application_id"] = json!("APP-2024-0001");
        h.vault
            .add_application(&s, "exam_administration", id, &body)
            .await
            .expect("first");
        body["exam_number"] = json!("EX-13-0101");
        let err = h
            .vault
            .add_application(&s, "exam_administration", id, &body)
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::Conflict(_)), "{err:?}");
        let found = h
            .vault
            .search_examinees(
                &s,
                "exam_administration",
                &ExamineeSearch::ExamNumber("EX-13-0101".into()),
            )
            .await
            .expect("search");
        assert!(
            found.is_empty(),
            "the refused application left an index entry"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn my_number_resolves_for_staff_and_reveals_only_to_the_identity_verifier() {
    for_both(|h| async move {
        let s = staff("13");
        let number = my_number("72345678901");
        let id = h
            .vault
            .register_examinee(&s, "exam_administration", &examinee_body("13", &number))
            .await
            .expect("register");
        let resolved = h
            .vault
            .resolve_my_number(&s, "identity_verification", &number)
            .await
            .expect("resolve");
        assert_eq!(resolved, id);
        let err = h
            .vault
            .reveal_my_number(&s, "identity_verification", id)
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::Forbidden), "{err:?}");
        let verifier = actor("verifier-1", "identity_verifier", &["13"]);
        let revealed = h
            .vault
            .reveal_my_number(&verifier, "identity_verification", id)
            .await
            .expect("reveal");
        assert_eq!(revealed.expose_digits(), number);
        h
    })
    .await;
}

#[tokio::test]
async fn a_bad_my_number_check_digit_is_invalid_and_not_echoed() {
    for_both(|h| async move {
        let s = staff("13");
        let bad = "123456789012";
        assert!(MyNumber::parse(bad).is_err());
        let err = h
            .vault
            .register_examinee(&s, "exam_administration", &examinee_body("13", bad))
            .await
            .unwrap_err();
        let VaultError::Invalid(errs) = &err else {
            panic!("expected Invalid, got {err:?}");
        };
        assert!(errs.0.iter().any(|e| e.field == "my_number"));
        assert!(!format!("{err:?} {err}").contains(bad));
        h
    })
    .await;
}

#[tokio::test]
async fn suspended_subject_is_refused_for_exam_administration_but_read_for_disclosure() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("82345678901")),
            )
            .await
            .expect("register");
        h.vault
            .set_suspension(&s, "disclosure_request", id, true)
            .await
            .expect("suspend");
        let err = h
            .vault
            .read_examinee(&s, "exam_administration", id)
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::Forbidden), "{err:?}");
        let view = h
            .vault
            .read_examinee(&s, "disclosure_request", id)
            .await
            .expect("disclosure read");
        assert_eq!(view.fields["name"], json!(NAME));
        h
    })
    .await;
}

#[tokio::test]
async fn correction_changes_the_value_and_keeps_the_old_one_as_history() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(&s, "exam_administration", &examinee_body("13", &my_number("92345678901")))
            .await
            .expect("register");
        h.vault
            .correct_subject(
                &s,
                "exam_administration",
                vault_policy::RecordKind::Examinee,
                id,
                &json!({"address": "島根県松江市殿町1番地", "name_kana": "ヤマダ タロ", "reason": "転居届"}),
            )
            .await
            .expect("correct");
        let view = h.vault.read_examinee(&s, "exam_administration", id).await.expect("read");
        assert_eq!(view.fields["address"], json!("島根県松江市殿町1番地"));
        let history = h
            .vault
            .store()
            .record_history(id, &TenantScope::All)
            .await
            .expect("history");
        assert_eq!(history.len(), 1);
        // The kana index follows the correction.
        let found = h
            .vault
            .search_examinees(
                &s,
                "exam_administration",
                &ExamineeSearch::KanaAndBirthDate {
                    name_kana: "ヤマダ タロ".into(),
                    birth_date: "1990-04-01".into(),
                },
            )
            .await
            .expect("search");
        assert_eq!(found, vec![id]);
        h
    })
    .await;
}

#[tokio::test]
async fn every_read_has_its_audit_event_naming_the_fields_and_no_values() {
    for_both(|h| async move {
        let s = staff("13");
        let number = my_number("10345678901");
        let id = h
            .vault
            .register_examinee(&s, "exam_administration", &examinee_body("13", &number))
            .await
            .expect("register");
        h.vault
            .read_examinee(&s, "exam_administration", id)
            .await
            .expect("read");
        let page = query_events(
            &h.db.backend,
            &EventFilter {
                subject: Some(id),
                ..EventFilter::default()
            },
            50,
            None,
        )
        .await
        .expect("events");
        let read = page
            .events
            .iter()
            .find(|e| e.action.as_str() == "examinee.read")
            .expect("read event");
        let fields: Vec<&str> = read.fields.iter().map(|f| f.as_str()).collect();
        assert!(fields.contains(&"name"));
        let all = serde_json::to_string(&page.events).expect("json");
        for value in [NAME, KANA, ADDRESS, PHONE, number.as_str(), "1990-04-01"] {
            assert!(!all.contains(value), "audit carries a personal value");
        }
        h
    })
    .await;
}

#[tokio::test]
async fn reads_fail_closed_when_the_audit_cannot_be_written() {
    for_both(|h| async move {
        let s = staff("13");
        let id = h
            .vault
            .register_examinee(
                &s,
                "exam_administration",
                &examinee_body("13", &my_number("11345678901")),
            )
            .await
            .expect("register");
        match &h.db.backend {
            Backend::Sqlite(pool) => {
                sqlx::query(
                    "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events \
                     BEGIN SELECT RAISE(ABORT, 'audit blocked'); END",
                )
                .execute(pool)
                .await
                .expect("trigger");
            }
            Backend::Postgres(pool) => {
                sqlx::query(
                    "CREATE FUNCTION block_audit() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'audit blocked'; END $$",
                )
                .execute(pool)
                .await
                .expect("function");
                sqlx::query(
                    "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events \
                     FOR EACH ROW EXECUTE FUNCTION block_audit()",
                )
                .execute(pool)
                .await
                .expect("trigger");
            }
        }
        let err = h
            .vault
            .read_examinee(&s, "exam_administration", id)
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::AuditUnavailable), "{err:?}");
        assert!(!format!("{err:?}").contains(NAME));
        h
    })
    .await;
}

/// Every file of the SQLite database (main file, WAL, shared memory).
fn sqlite_files(path: &std::path::Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        files.push(PathBuf::from(p));
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_seeded_value_is_in_the_sqlite_file_or_wal_or_a_pg_dump() {
    for_both(|h| async move {
        let s = staff("13");
        let number = my_number("13345678901");
        let id = h
            .vault
            .register_examinee(&s, "exam_administration", &examinee_body("13", &number))
            .await
            .expect("register");
        h.vault
            .add_application(
                &s,
                "exam_administration",
                id,
                &application_body("13", "EX-13-0777"),
            )
            .await
            .expect("application");
        let seeded = [NAME, ADDRESS, PHONE, number.as_str(), EMPLOYER, KANA];
        let mut bytes = Vec::new();
        match &h.db.sqlite_path {
            Some(path) => {
                for f in sqlite_files(path) {
                    if let Ok(b) = std::fs::read(&f) {
                        bytes.extend(b);
                    }
                }
                assert!(bytes.len() > 4096, "read the database files");
            }
            None => {
                let out = std::process::Command::new("pg_dump")
                    .arg(&h.db.url)
                    .output()
                    .expect("pg_dump runs");
                assert!(out.status.success(), "pg_dump failed");
                bytes = out.stdout;
                assert!(contains(&bytes, b"CREATE TABLE"), "dump has the schema");
            }
        }
        for value in seeded {
            assert!(
                !contains(&bytes, value.as_bytes()),
                "a seeded value is stored in clear"
            );
        }
        h
    })
    .await;
}

#[tokio::test]
async fn meister_inactive_three_years_is_listed_and_one_active_last_year_is_not() {
    for_both(|h| async move {
        let c = actor("coord-1", "meister_coordinator", &["13"]);
        let body = |name: &str| {
            json!({
                "prefecture_code": "13",
                "name": name,
                "trades": ["旋盤"],
                "certification_number": "M-13-0001",
                "certified_on": "2015-06-01",
            })
        };
        let idle = h.vault.register_meister(&c, "meister_dispatch", &body("佐藤 一郎")).await.expect("idle");
        let busy = h.vault.register_meister(&c, "meister_dispatch", &body("鈴木 花子")).await.expect("busy");
        h.vault
            .add_activity(
                &c,
                "meister_dispatch",
                idle,
                &json!({"date": "2021-05-01", "kind": "sme", "host_name": "株式会社A", "trainee_person_days": 3}),
            )
            .await
            .expect("old activity");
        h.vault
            .add_activity(
                &c,
                "meister_dispatch",
                busy,
                &json!({"date": "2025-05-01", "kind": "technical_high_school", "trainee_person_days": 12}),
            )
            .await
            .expect("recent activity");
        let as_of = chrono::NaiveDate::from_ymd_opt(2025, 10, 1).expect("date");
        let inactive = h.vault.inactive_meisters(&c, "meister_dispatch", as_of).await.expect("report");
        assert_eq!(inactive, vec![idle]);
        let view = h.vault.read_meister(&c, "meister_dispatch", busy).await.expect("read");
        assert_eq!(view.fields["name"], json!("鈴木 花子"));
        h
    })
    .await;
}
