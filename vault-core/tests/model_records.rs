//! Intake validation of whole records: every problem is reported by field and
//! code, unknown and vault-assigned fields are refused, and no submitted value
//! ever appears in an error or a Debug output.

use serde_json::{json, Value};
use vault_core::model::{
    codes, parse_patch, parse_record, FieldValue, Mode, Record, ValidationErrors,
    UNRECOGNISED_FIELD,
};
use vault_policy::RecordKind;

fn examinee() -> Value {
    json!({
        "prefecture_code": "35",
        "name": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "birth_date": "平成2年4月1日",
        "postal_code": "753-0001",
        "my_number": "123456789018",
        "sex": 1,
    })
}

fn application() -> Value {
    json!({
        "prefecture_code": "35",
        "fiscal_year": 2024,
        "exam_period": "1",
        "grade": "2",
        "trade_code": "0101",
        "work_code": "01",
        "exam_category": "both",
        "exam_number": "35-2024-0001",
    })
}

fn meister() -> Value {
    json!({
        "prefecture_code": "13",
        "name": "佐藤 花子",
        "trades": ["旋盤"],
        "certification_number": "M-0001",
        "certified_on": "2020-04-01",
    })
}

fn codes_of(errors: &ValidationErrors) -> Vec<(String, &'static str)> {
    errors
        .errors()
        .iter()
        .map(|e| (e.field.clone(), e.code))
        .collect()
}

/// Every way an error can be shown: Debug, Display, JSON.
fn every_rendering(errors: &ValidationErrors) -> Vec<String> {
    vec![
        format!("{errors:?}"),
        format!("{errors:#?}"),
        errors.to_string(),
        serde_json::to_string(errors).unwrap(),
    ]
}

fn text<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
    record.get(name).and_then(FieldValue::as_text)
}

#[test]
fn valid_examinee_is_parsed_into_canonical_values() {
    let r = parse_record(RecordKind::Examinee, &examinee(), Mode::Create).unwrap();
    assert_eq!(r.kind, RecordKind::Examinee);
    assert_eq!(text(&r, "postal_code"), Some("7530001"));
    assert_eq!(text(&r, "name_kana"), Some("ヤマダ タロウ"));
    assert_eq!(text(&r, "sex"), Some("male"));
    assert_eq!(r.get("birth_date").unwrap().to_json(), json!("1990-04-01"));
    assert_eq!(text(&r, "my_number"), Some("123456789018"));
    assert_eq!(r.values.len(), 7);
}

#[test]
fn valid_application_meister_and_activity_are_parsed() {
    let a = parse_record(RecordKind::Application, &application(), Mode::Create).unwrap();
    assert_eq!(
        a.get("fiscal_year").and_then(FieldValue::as_int),
        Some(2024)
    );
    let m = parse_record(RecordKind::Meister, &meister(), Mode::Create).unwrap();
    assert_eq!(m.get("trades").unwrap().to_json(), json!(["旋盤"]));
    let activity = json!({"date": "2024-06-01", "kind": "sme", "host_name": "株式会社テスト", "trainee_person_days": 12});
    let v = parse_record(RecordKind::MeisterActivity, &activity, Mode::Create).unwrap();
    assert_eq!(
        v.get("trainee_person_days").and_then(FieldValue::as_int),
        Some(12)
    );
}

#[test]
fn client_supplied_application_id_is_accepted() {
    let mut body = application();
    body["application_id"] = json!("WEB-000123");
    let a = parse_record(RecordKind::Application, &body, Mode::Create).unwrap();
    assert_eq!(text(&a, "application_id"), Some("WEB-000123"));
}

#[test]
fn result_and_qualification_take_their_fields() {
    let result = json!({"written_score": 72, "written_attendance": "present", "written_pass": true, "pass": true, "overall_pass_number": "P-1"});
    assert!(parse_record(RecordKind::Result, &result, Mode::Create).is_ok());
    let qualification = json!({"skilled_worker_number": "35-2-0101-24-0001", "passed_on": "令和6年9月1日", "written_exam_at": "2024-07-01T09:30"});
    let q = parse_record(RecordKind::Qualification, &qualification, Mode::Create).unwrap();
    assert_eq!(q.get("passed_on").unwrap().to_json(), json!("2024-09-01"));
}

#[test]
fn unknown_field_is_rejected() {
    let mut body = examinee();
    body["favourite_colour"] = json!("blue");
    let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
    assert_eq!(
        codes_of(&errors),
        [("favourite_colour".to_owned(), codes::UNKNOWN_FIELD)]
    );
}

#[test]
fn field_of_another_kind_is_an_unknown_field() {
    let mut body = meister();
    body["my_number"] = json!("123456789018");
    let errors = parse_record(RecordKind::Meister, &body, Mode::Create).unwrap_err();
    assert!(errors.contains("my_number", codes::UNKNOWN_FIELD));
}

#[test]
fn unknown_key_that_does_not_look_like_a_field_name_is_not_echoed() {
    let body = json!({"山田太郎": 1, "prefecture_code": "35", "name": "x", "name_kana": "ア", "birth_date": "2000-01-01"});
    let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
    assert_eq!(
        codes_of(&errors),
        [(UNRECOGNISED_FIELD.to_owned(), codes::UNKNOWN_FIELD)]
    );
    for shown in every_rendering(&errors) {
        assert!(!shown.contains("山田"), "{shown}");
    }
}

#[test]
fn missing_required_fields_are_all_reported_on_create() {
    let errors = parse_record(RecordKind::Application, &json!({}), Mode::Create).unwrap_err();
    let mut fields: Vec<String> = errors.errors().iter().map(|e| e.field.clone()).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "exam_category",
            "exam_number",
            "exam_period",
            "fiscal_year",
            "grade",
            "prefecture_code",
            "trade_code",
            "work_code",
        ]
    );
    assert!(errors.errors().iter().all(|e| e.code == codes::REQUIRED));
}

#[test]
fn prefecture_code_is_required_for_examinee_application_and_meister() {
    for (kind, mut body) in [
        (RecordKind::Examinee, examinee()),
        (RecordKind::Application, application()),
        (RecordKind::Meister, meister()),
    ] {
        body.as_object_mut().unwrap().remove("prefecture_code");
        let errors = parse_record(kind, &body, Mode::Create).unwrap_err();
        assert_eq!(
            codes_of(&errors),
            [("prefecture_code".to_owned(), codes::REQUIRED)],
            "{kind}"
        );
    }
}

#[test]
fn activity_requires_date_and_kind() {
    let errors = parse_record(
        RecordKind::MeisterActivity,
        &json!({"host_name": "x"}),
        Mode::Create,
    )
    .unwrap_err();
    assert!(errors.contains("date", codes::REQUIRED));
    assert!(errors.contains("kind", codes::REQUIRED));
}

#[test]
fn every_problem_is_collected_not_only_the_first() {
    let body = json!({
        "prefecture_code": "48",
        "name": "",
        "name_kana": "やまだ",
        "birth_date": "平成32年1月1日",
        "my_number": "123456789012",
        "phone": 312345678,
        "colour": "blue",
    });
    let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
    let got = codes_of(&errors);
    for expected in [
        ("birth_date", "out_of_range"),
        ("colour", "unknown_field"),
        ("my_number", "invalid_check_digit"),
        ("name", "empty"),
        ("name_kana", "invalid_format"),
        ("phone", "wrong_type"),
        ("prefecture_code", "out_of_range"),
    ] {
        assert!(
            got.contains(&(expected.0.to_owned(), expected.1)),
            "{expected:?} in {got:?}"
        );
    }
    assert_eq!(got.len(), 7);
}

#[test]
fn body_that_is_not_an_object_is_refused() {
    for body in [json!([1, 2]), json!("x"), json!(null), json!(3)] {
        let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
        assert_eq!(codes_of(&errors), [(String::new(), codes::NOT_AN_OBJECT)]);
    }
}

#[test]
fn ids_assigned_by_the_vault_are_read_only() {
    let mut body = examinee();
    body["examinee_id"] = json!("6f9619ff-8b86-d011-b42d-00c04fc964ff");
    let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
    assert_eq!(
        codes_of(&errors),
        [("examinee_id".to_owned(), codes::READ_ONLY)]
    );

    let mut body = application();
    body["examinee_id"] = json!("6f9619ff-8b86-d011-b42d-00c04fc964ff");
    assert!(parse_record(RecordKind::Application, &body, Mode::Create)
        .unwrap_err()
        .contains("examinee_id", codes::READ_ONLY));

    let mut body = meister();
    body["meister_id"] = json!("6f9619ff-8b86-d011-b42d-00c04fc964ff");
    assert!(parse_record(RecordKind::Meister, &body, Mode::Patch)
        .unwrap_err()
        .contains("meister_id", codes::READ_ONLY));
}

#[test]
fn null_on_create_counts_as_absent() {
    let mut body = examinee();
    body["phone"] = Value::Null;
    let r = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap();
    assert!(r.get("phone").is_none());

    body["name"] = Value::Null;
    let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
    assert_eq!(codes_of(&errors), [("name".to_owned(), codes::REQUIRED)]);
}

#[test]
fn patch_requires_nothing_and_takes_only_the_fields_sent() {
    let r = parse_record(
        RecordKind::Examinee,
        &json!({"phone": "03-1234-5678"}),
        Mode::Patch,
    )
    .unwrap();
    assert_eq!(r.field_names().collect::<Vec<_>>(), ["phone"]);
}

#[test]
fn patch_clears_optional_fields_sent_as_null() {
    let p = parse_patch(
        RecordKind::Examinee,
        &json!({"phone": null, "address": "山口県山口市"}),
    )
    .unwrap();
    assert_eq!(p.cleared.iter().copied().collect::<Vec<_>>(), ["phone"]);
    assert_eq!(p.record.field_names().collect::<Vec<_>>(), ["address"]);
}

#[test]
fn patch_cannot_clear_a_required_field() {
    let errors = parse_patch(RecordKind::Examinee, &json!({"name": null})).unwrap_err();
    assert_eq!(codes_of(&errors), [("name".to_owned(), codes::REQUIRED)]);
}

#[test]
fn parse_record_in_patch_mode_refuses_null() {
    let errors =
        parse_record(RecordKind::Examinee, &json!({"phone": null}), Mode::Patch).unwrap_err();
    assert_eq!(
        codes_of(&errors),
        [("phone".to_owned(), codes::NULL_NOT_ALLOWED)]
    );
}

#[test]
fn rejected_my_number_never_appears_in_the_error() {
    let mut body = examinee();
    body["my_number"] = json!("123456789012");
    let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
    assert_eq!(
        codes_of(&errors),
        [("my_number".to_owned(), "invalid_check_digit")]
    );
    for shown in every_rendering(&errors) {
        assert!(!shown.contains("123456789012"), "{shown}");
        assert!(!shown.contains("56789"), "{shown}");
    }
}

#[test]
fn rejected_name_never_appears_in_the_error() {
    let long_name = "山田花子".repeat(30);
    for bad in ["山田\u{7}花子".to_owned(), long_name] {
        let mut body = examinee();
        body["name"] = json!(bad);
        let errors = parse_record(RecordKind::Examinee, &body, Mode::Create).unwrap_err();
        assert_eq!(errors.errors().len(), 1);
        assert_eq!(errors.errors()[0].field, "name");
        for shown in every_rendering(&errors) {
            assert!(
                !shown.contains("山田") && !shown.contains("花子"),
                "{shown}"
            );
        }
    }
}

#[test]
fn validation_errors_serialize_as_field_and_code_pairs() {
    let errors = parse_record(
        RecordKind::MeisterActivity,
        &json!({"date": "2024-06-01", "kind": "moon"}),
        Mode::Create,
    )
    .unwrap_err();
    assert_eq!(
        serde_json::to_value(&errors).unwrap(),
        json!([{"field": "kind", "code": "invalid_value"}])
    );
    assert_eq!(errors.to_string(), "validation failed: kind invalid_value");
}

#[test]
fn record_debug_lists_field_names_only() {
    let r = parse_record(RecordKind::Examinee, &examinee(), Mode::Create).unwrap();
    let shown = format!("{r:?}");
    assert!(
        shown.contains("name_kana") && shown.contains("my_number"),
        "{shown}"
    );
    for value in [
        "山田",
        "ヤマダ",
        "123456789018",
        "7530001",
        "1990",
        "male",
        "35",
    ] {
        assert!(!shown.contains(value), "{value} in {shown}");
    }
}

#[test]
fn patch_debug_lists_field_names_only() {
    let p = parse_patch(
        RecordKind::Examinee,
        &json!({"phone": null, "address": "山口県山口市"}),
    )
    .unwrap();
    let shown = format!("{p:?}");
    assert!(shown.contains("address") && shown.contains("phone"));
    assert!(!shown.contains("山口"), "{shown}");
}

#[test]
fn record_gives_the_composite_index_input() {
    let r = parse_record(RecordKind::Examinee, &examinee(), Mode::Create).unwrap();
    assert_eq!(
        r.name_kana_birth_date_input().unwrap().as_str(),
        "ヤマダタロウ|1990-04-01"
    );
    let partial = parse_record(
        RecordKind::Examinee,
        &json!({"name_kana": "ヤマダ"}),
        Mode::Patch,
    )
    .unwrap();
    assert!(partial.name_kana_birth_date_input().is_none());
    let m = parse_record(RecordKind::Meister, &meister(), Mode::Create).unwrap();
    assert!(m.name_kana_birth_date_input().is_none());
}
