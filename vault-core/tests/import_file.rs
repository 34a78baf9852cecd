//! Bulk import from NDJSON (`vault_core::import`) on both backends: read-back through
//! the facade, per-line errors without values, resuming without duplicates, one audit
//! event per batch, the policy of the `system_sync` purpose.

mod common;
mod import_support;

use common::TestDb;
use import_support::*;
use serde_json::json;
use vault_core::audit::{query_events, EventFilter, Label, Outcome};
use vault_core::import::{
    codes, import_file, ImportError, ImportObserver, ImportOptions, LineError, Quiet,
    IMPORT_ACTION, IMPORT_ACTOR, IMPORT_PURPOSE, IMPORT_ROLE,
};
use vault_core::store::KeyCompartment;
use vault_core::vault::{ExamineeSearch, VaultError};

/// Number of subjects in the store (one general data key each).
async fn subjects(h: &Harness) -> u64 {
    h.vault
        .store()
        .count_keys_by_kek()
        .await
        .expect("count")
        .iter()
        .filter(|c| c.kek_id == KeyCompartment::General.as_str())
        .map(|c| c.count)
        .sum()
}

async fn import_events(h: &Harness) -> Vec<vault_core::audit::RecordedEvent> {
    query_events(
        &h.db.backend,
        &EventFilter {
            action: Some(Label::parse("action", IMPORT_ACTION).expect("label")),
            ..EventFilter::default()
        },
        500,
        None,
    )
    .await
    .expect("events")
    .events
}

#[derive(Default)]
struct Collect {
    errors: Vec<LineError>,
    progress_calls: u64,
}

impl ImportObserver for Collect {
    fn progress(&mut self, _p: &vault_core::import::ImportProgress) {
        self.progress_calls += 1;
    }
    fn line_error(&mut self, e: &LineError) {
        self.errors.push(e.clone());
    }
}

#[tokio::test]
async fn imported_examinees_read_back_through_the_facade() {
    for db in TestDb::both().await {
        let h = harness(db).await;
        let file = h.file("in.ndjson", &examinee_lines(0..200));
        let summary = import_file(&h.vault, &file, &ImportOptions::new(), &mut Quiet)
            .await
            .expect("import");
        assert_eq!(summary.imported_lines, 200);
        assert_eq!(summary.rejected_lines, 0);
        assert_eq!(summary.counts.examinees, 200);
        assert_eq!(summary.counts.applications, 400);
        assert_eq!(summary.counts.results, 200);
        assert_eq!(summary.counts.qualifications, 100);
        assert_eq!(subjects(&h).await, 200);

        let s = staff();
        let ids = h
            .vault
            .search_examinees(
                &s,
                "exam_administration",
                &ExamineeSearch::ExamNumber(exam_number(123)),
            )
            .await
            .expect("search");
        assert_eq!(ids.len(), 1);
        let view = h
            .vault
            .read_examinee(&s, "exam_administration", ids[0])
            .await
            .expect("read");
        assert_eq!(view.fields["name"], json!(NAME));
        assert_eq!(view.fields["address"], json!(ADDRESS));
        assert_eq!(
            view.fields["applications"].as_array().map(Vec::len),
            Some(2)
        );
        let app = h
            .vault
            .read_application(&s, "exam_administration", &application_id(123, 1))
            .await
            .expect("application");
        assert_eq!(app.fields["exam_number"], json!(exam_number(123)));
        assert_eq!(app.fields["result"]["written_score"], json!(80));
        // The second application lives in its own prefecture, 14.
        let kanagawa = vault_core::vault::Actor {
            tenants: vault_policy::TenantScope::from_list(&["14"]),
            ..staff()
        };
        h.vault
            .read_application(&kanagawa, "exam_administration", &application_id(123, 2))
            .await
            .expect("application in 14");
        let found = h
            .vault
            .resolve_my_number(
                &vault_core::vault::Actor {
                    roles: vec!["identity_verifier".into()],
                    ..staff()
                },
                "identity_verification",
                &my_number(123),
            )
            .await
            .expect("resolve");
        assert_eq!(found, ids[0]);
        h.finish().await;
    }
}

#[tokio::test]
async fn bad_lines_are_reported_by_line_and_field_and_the_good_lines_go_in() {
    for db in TestDb::both().await {
        let h = harness(db).await;
        let mut lines = examinee_lines(0..10);
        // Line 3: wrong check digit of the My Number.
        let mut bad_number = examinee(2);
        let digits = my_number(2);
        let wrong_check = (digits.as_bytes()[11] - b'0' + 1) % 10;
        let wrong = format!("{}{wrong_check}", &digits[..11]);
        bad_number["examinee"]["my_number"] = json!(wrong);
        lines[2] = bad_number.to_string();
        // Line 5: an unknown field in the second application.
        let mut unknown = examinee(4);
        unknown["applications"][1]["favourite_colour"] = json!("blue");
        lines[4] = unknown.to_string();
        // Line 7: malformed JSON.
        lines[6] = lines[6][..40].to_owned();
        // Line 9: an invalid score in a result.
        let mut score = examinee(8);
        score["applications"][0]["result"]["written_score"] = json!(1000);
        lines[8] = score.to_string();
        let file = h.file("bad.ndjson", &lines);

        let mut seen = Collect::default();
        let summary = import_file(&h.vault, &file, &ImportOptions::new(), &mut seen)
            .await
            .expect("import");
        assert_eq!(summary.imported_lines, 6);
        assert_eq!(summary.rejected_lines, 4);
        assert_eq!(subjects(&h).await, 6);
        let got: Vec<(u64, &str, &str)> = summary
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str(), e.code))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "examinee.my_number", "invalid_check_digit"),
                (5, "applications[1].favourite_colour", "unknown_field"),
                (7, "", codes::MALFORMED_JSON),
                (9, "applications[0].result.written_score", "out_of_range"),
            ]
        );
        assert_eq!(seen.errors, summary.errors);
        let report = format!(
            "{summary:?} {}",
            summary
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(report.contains("line 3: examinee.my_number: invalid_check_digit"));
        for value in [wrong.as_str(), "blue", "1000", NAME, ADDRESS] {
            assert!(!report.contains(value), "the report shows a value");
        }
        h.finish().await;
    }
}

#[tokio::test]
async fn rerunning_after_an_interrupted_run_imports_nothing_twice() {
    for db in TestDb::both().await {
        let h = harness(db).await;
        let all = examinee_lines(0..200);
        // An interrupted run: only the first 70 lines got committed.
        let prefix = h.file("prefix.ndjson", &all[..70]);
        let whole = h.file("whole.ndjson", &all);
        let opts = ImportOptions::new().batch_lines(32);
        let first = import_file(&h.vault, &prefix, &opts, &mut Quiet)
            .await
            .expect("first run");
        assert_eq!(first.imported_lines, 70);

        let second = import_file(&h.vault, &whole, &opts, &mut Quiet)
            .await
            .expect("second run");
        assert_eq!(second.skipped_lines, 70);
        assert_eq!(second.imported_lines, 130);
        assert_eq!(subjects(&h).await, 200);

        let third = import_file(&h.vault, &whole, &opts, &mut Quiet)
            .await
            .expect("third run");
        assert_eq!(third.skipped_lines, 200);
        assert_eq!(third.imported_lines, 0);
        assert_eq!(third.batches, 0);
        assert_eq!(subjects(&h).await, 200);
        let ids = h
            .vault
            .search_examinees(
                &staff(),
                "exam_administration",
                &ExamineeSearch::ExamNumber(exam_number(69)),
            )
            .await
            .expect("search");
        assert_eq!(ids.len(), 1, "one examinee per exam number");
        h.finish().await;
    }
}

#[tokio::test]
async fn a_file_that_differs_inside_the_committed_part_is_not_skipped() {
    let h = harness(TestDb::sqlite().await).await;
    let first = h.file("a.ndjson", &examinee_lines(0..10));
    import_file(&h.vault, &first, &ImportOptions::new(), &mut Quiet)
        .await
        .expect("first");
    let other = h.file("b.ndjson", &examinee_lines(100..120));
    let summary = import_file(&h.vault, &other, &ImportOptions::new(), &mut Quiet)
        .await
        .expect("second");
    assert_eq!(summary.skipped_lines, 0);
    assert_eq!(summary.imported_lines, 20);
    h.finish().await;
}

#[tokio::test]
async fn each_batch_writes_one_audit_event_with_subjects_and_field_names_only() {
    for db in TestDb::both().await {
        let h = harness(db).await;
        let file = h.file("in.ndjson", &examinee_lines(0..200));
        let summary = import_file(
            &h.vault,
            &file,
            &ImportOptions::new().batch_lines(50),
            &mut Quiet,
        )
        .await
        .expect("import");
        assert_eq!(summary.batches, 4);
        assert_eq!(summary.audit_events, 4);
        let events = import_events(&h).await;
        assert_eq!(events.len(), 4);
        let mut subjects_named = 0;
        for e in &events {
            assert_eq!(e.actor.as_str(), IMPORT_ACTOR);
            assert_eq!(e.role.as_ref().map(Label::as_str), Some(IMPORT_ROLE));
            assert_eq!(e.purpose.as_ref().map(Label::as_str), Some(IMPORT_PURPOSE));
            assert_eq!(e.outcome, Outcome::Ok);
            assert_eq!(e.subjects.len(), 50);
            subjects_named += e.subjects.len();
            let fields: Vec<&str> = e.fields.iter().map(Label::as_str).collect();
            for f in [
                "name",
                "my_number",
                "exam_number",
                "written_score",
                "passed_on",
            ] {
                assert!(fields.contains(&f), "{f} missing from {fields:?}");
            }
            let text = serde_json::to_string(e).expect("json");
            for value in [NAME, ADDRESS, PHONE, &my_number(0)[..], &exam_number(0)[..]] {
                assert!(!text.contains(value), "an audit event holds a value");
            }
        }
        assert_eq!(subjects_named, 200);
        h.finish().await;
    }
}

#[tokio::test]
async fn fields_and_kinds_outside_the_system_sync_view_are_refused_per_line() {
    let h = harness(TestDb::sqlite().await).await;
    let mut employer = examinee(1);
    employer["applications"][0]["employer_name"] = json!("株式会社霞が関精機");
    let mut residence = examinee(2);
    residence["examinee"]["nationality"] = json!("ベトナム");
    let meister = json!({
        "meister": {
            "prefecture_code": "13", "name": NAME, "trades": ["機械加工"],
            "certification_number": "M-13-0001", "certified_on": "2020-04-01",
        },
        "activities": [],
    });
    let lines = vec![
        examinee(0).to_string(),
        employer.to_string(),
        residence.to_string(),
        meister.to_string(),
    ];
    let file = h.file("policy.ndjson", &lines);
    let summary = import_file(&h.vault, &file, &ImportOptions::new(), &mut Quiet)
        .await
        .expect("import");
    assert_eq!(summary.imported_lines, 1);
    let got: Vec<(u64, &str, &str)> = summary
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str(), e.code))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "applications[0].employer_name", codes::NOT_PERMITTED),
            (3, "examinee.nationality", codes::NOT_PERMITTED),
            (4, "meister", codes::NOT_PERMITTED),
        ]
    );
    h.finish().await;
}

#[tokio::test]
async fn a_policy_that_grants_the_classes_lets_them_in() {
    let policy_text = vault_policy::Policy::default_policy_toml().replace(
        "classes = [\"identity\", \"address\", \"contact\", \"exam\", \"result\", \"qualification\", \"pseudonym\"]",
        "classes = [\"identity\", \"address\", \"contact\", \"residence\", \"employment\", \"exam\", \"result\", \"qualification\", \"pseudonym\"]",
    );
    let policy = vault_policy::Policy::from_toml(&policy_text, "test").expect("policy");
    let h = harness_with_policy(TestDb::sqlite().await, policy).await;
    let mut employer = examinee(1);
    employer["applications"][0]["employer_name"] = json!("株式会社霞が関精機");
    let file = h.file("granted.ndjson", &[employer.to_string()]);
    let summary = import_file(&h.vault, &file, &ImportOptions::new(), &mut Quiet)
        .await
        .expect("import");
    assert_eq!(summary.imported_lines, 1, "{:?}", summary.errors);
    h.finish().await;
}

#[tokio::test]
async fn a_duplicate_application_id_refuses_only_its_line() {
    for db in TestDb::both().await {
        let h = harness(db).await;
        let mut lines = examinee_lines(0..10);
        let mut dup = examinee(5);
        dup["applications"][0]["application_id"] = json!(application_id(3, 1));
        lines[5] = dup.to_string();
        let file = h.file("dup.ndjson", &lines);
        let summary = import_file(&h.vault, &file, &ImportOptions::new(), &mut Quiet)
            .await
            .expect("import");
        assert_eq!(summary.imported_lines, 9);
        assert_eq!(summary.rejected_lines, 1);
        assert_eq!(summary.errors.len(), 1);
        assert_eq!(summary.errors[0].line, 6);
        assert_eq!(summary.errors[0].code, codes::DUPLICATE);
        assert_eq!(subjects(&h).await, 9);
        // The batch's event names ten subjects; a second one names the one never created.
        let events = import_events(&h).await;
        assert_eq!(events.len(), 2);
        assert!(events
            .iter()
            .any(|e| e.outcome == Outcome::Invalid && e.subjects.len() == 1));
        // Progress covers the whole file: nothing is imported again.
        let again = import_file(&h.vault, &file, &ImportOptions::new(), &mut Quiet)
            .await
            .expect("again");
        assert_eq!(again.skipped_lines, 10);
        assert_eq!(subjects(&h).await, 9);
        h.finish().await;
    }
}

#[tokio::test]
async fn an_actor_whose_role_may_not_state_the_purpose_cannot_import() {
    let h = harness(TestDb::sqlite().await).await;
    let file = h.file("in.ndjson", &examinee_lines(0..3));
    let err = import_file(
        &h.vault,
        &file,
        &ImportOptions::new().roles(&["meister_coordinator"]),
        &mut Quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ImportError::Vault(VaultError::Forbidden)),
        "{err:?}"
    );
    assert_eq!(subjects(&h).await, 0);
    h.finish().await;
}

#[tokio::test]
async fn blank_lines_are_ignored_and_progress_is_reported_per_batch() {
    let h = harness(TestDb::sqlite().await).await;
    let mut lines = examinee_lines(0..20);
    lines.insert(10, String::new());
    lines.insert(11, "   ".to_owned());
    let file = h.file("blank.ndjson", &lines);
    let mut seen = Collect::default();
    let summary = import_file(
        &h.vault,
        &file,
        &ImportOptions::new().batch_lines(5),
        &mut seen,
    )
    .await
    .expect("import");
    assert_eq!(summary.imported_lines, 20);
    assert_eq!(summary.blank_lines, 2);
    assert_eq!(summary.lines, 22);
    assert_eq!(seen.progress_calls, 5);
    h.finish().await;
}

#[tokio::test]
async fn an_imported_application_is_read_by_exam_number_in_one_audited_call() {
    for db in TestDb::both().await {
        let h = harness(db).await;
        let file = h.file("in.ndjson", &examinee_lines(0..20));
        import_file(&h.vault, &file, &ImportOptions::new(), &mut Quiet)
            .await
            .expect("import");
        let s = staff();
        let view = h
            .vault
            .read_application_by_exam_number(&s, "exam_administration", &exam_number(7))
            .await
            .expect("read");
        assert_eq!(view.id, application_id(7, 1));
        assert_eq!(view.fields["exam_number"], json!(exam_number(7)));
        assert!(view.fields.contains_key("examinee_id"));
        let reads = query_events(
            &h.db.backend,
            &EventFilter {
                action: Some(Label::parse("action", "application.read").expect("label")),
                ..EventFilter::default()
            },
            10,
            None,
        )
        .await
        .expect("events")
        .events;
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].outcome, Outcome::Ok);

        // Outside the caller's prefectures it does not exist.
        let osaka = vault_core::vault::Actor {
            tenants: vault_policy::TenantScope::from_list(&["27"]),
            ..staff()
        };
        let err = h
            .vault
            .read_application_by_exam_number(&osaka, "exam_administration", &exam_number(7))
            .await
            .unwrap_err();
        assert!(matches!(err, VaultError::NotFound), "{err:?}");

        // A suspended examinee's application is not read for exam administration.
        let id = h
            .vault
            .search_examinees(
                &s,
                "exam_administration",
                &ExamineeSearch::ExamNumber(exam_number(7)),
            )
            .await
            .expect("search")[0];
        h.vault
            .set_suspension(&s, "disclosure_request", id, true)
            .await
            .expect("suspend");
        assert!(h
            .vault
            .read_application_by_exam_number(&s, "exam_administration", &exam_number(7))
            .await
            .is_err());
        h.finish().await;
    }
}
