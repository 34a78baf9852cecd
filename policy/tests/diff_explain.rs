//! `policy diff` (what a change grants, removes, and which retention periods it shortens, C15)
//! and `policy explain` (the matrix as text).

mod common;

use common::{default_replacing, default_with};
use vault_policy::{diff, Action, Capability, FieldClass, Policy, RecordKind, RetentionTarget};

fn load(src: &str, origin: &str) -> Policy {
    Policy::from_toml(src, origin).unwrap_or_else(|e| panic!("{e}"))
}

/// The default policy with the application rule's period replaced.
fn with_application_period(period: &str) -> Policy {
    let src = default_replacing(
        "id = \"application\"\ntarget = \"application\"\nclock = \"exam_fiscal_year_end\"\nperiod = \"5 years\"",
        &format!(
            "id = \"application\"\ntarget = \"application\"\nclock = \"exam_fiscal_year_end\"\nperiod = \"{period}\""
        ),
    );
    load(&src, "new.toml")
}

#[test]
fn diff_of_a_policy_with_itself_is_empty() {
    let d = diff(&Policy::default_policy(), &Policy::default_policy());
    assert!(d.is_empty());
    assert!(d.to_string().contains("No change"));
}

#[test]
fn diff_flags_a_shortened_retention_period() {
    let d = diff(
        &Policy::default_policy(),
        &with_application_period("3 years"),
    );
    assert!(d.shortens_retention());
    assert_eq!(d.retention.len(), 1);
    assert_eq!(d.retention[0].target, RetentionTarget::Application);
    assert!(d.retention[0].shortens());
    let text = d.to_string();
    assert!(
        text.contains("!! WARNING: 1 retention rule(s) get SHORTER"),
        "{text}"
    );
    assert!(
        text.contains("!! SHORTER  rule `application` (target application from exam_fiscal_year_end): 5 years, then delete -> 3 years, then delete"),
        "{text}"
    );
}

#[test]
fn diff_does_not_flag_a_longer_period_as_shorter() {
    let d = diff(
        &Policy::default_policy(),
        &with_application_period("7 years"),
    );
    assert!(!d.shortens_retention());
    assert!(d.retention[0].lengthens());
    assert!(!d.to_string().contains("SHORTER"));
}

#[test]
fn diff_flags_a_period_shorter_only_for_some_start_dates() {
    // 60 months less one day is shorter than 5 years for every start date ...
    let d = diff(
        &Policy::default_policy(),
        &with_application_period("4 years 11 months 30 days"),
    );
    assert!(d.shortens_retention());
    // ... and 1826 days (5 × 365 + 1) is shorter than 5 years from dates whose five years
    // span two leap days.
    let d = diff(
        &Policy::default_policy(),
        &with_application_period("1826 days"),
    );
    assert!(d.shortens_retention());
}

#[test]
fn the_same_period_written_differently_is_not_flagged() {
    let d = diff(
        &Policy::default_policy(),
        &with_application_period("60 months"),
    );
    assert!(!d.shortens_retention());
    assert!(!d.retention[0].lengthens());
}

#[test]
fn diff_flags_a_permanent_record_that_becomes_deletable() {
    let src = default_replacing(
        "period = \"permanent\"\naction = \"keep\"",
        "period = \"30 years\"\naction = \"delete\"",
    );
    let d = diff(&Policy::default_policy(), &load(&src, "new.toml"));
    assert!(d.shortens_retention());
    assert!(d
        .to_string()
        .contains("!! SHORTER  rule `qualification_register`"));
}

#[test]
fn diff_flags_a_new_deletion_rule() {
    let without_result_rule = default_replacing(
        "[[retention]]\nid = \"result\"\ntarget = \"result\"\nclock = \"exam_fiscal_year_end\"\n\
         period = \"5 years\"\naction = \"delete\"\n",
        "",
    );
    let d = diff(
        &load(&without_result_rule, "old.toml"),
        &Policy::default_policy(),
    );
    assert!(d.shortens_retention());
    assert!(
        d.to_string().contains("!! NEW DELETION  new rule `result`"),
        "{d}"
    );
}

#[test]
fn diff_lists_classes_granted_to_a_role_and_purpose() {
    let src = default_replacing(
        r#"classes = ["identity", "address", "exam", "result"]"#,
        r#"classes = ["identity", "address", "residence", "exam", "result"]"#,
    );
    let d = diff(&Policy::default_policy(), &load(&src, "new.toml"));
    assert!(d.widens_access());
    let c = d
        .access
        .iter()
        .find(|c| {
            c.role == "exam_staff"
                && c.purpose == "result_notification"
                && c.kind == RecordKind::Examinee
        })
        .expect("a change for exam_staff × result_notification × examinee");
    assert_eq!(
        c.classes_added,
        vec![
            (Action::Read, vec![FieldClass::Residence]),
            (Action::Search, vec![FieldClass::Residence])
        ]
    );
    assert!(d.to_string().contains(
        "+ exam_staff × result_notification × examinee: read, search now also on residence"
    ));
}

#[test]
fn diff_lists_a_removed_action() {
    let src = default_replacing(
        r#"actions = ["read", "update", "suspend"]"#,
        r#"actions = ["read", "update"]"#,
    );
    let d = diff(&Policy::default_policy(), &load(&src, "new.toml"));
    assert!(!d.widens_access());
    let c = d
        .access
        .iter()
        .find(|c| c.kind == RecordKind::Examinee)
        .expect("a change on examinee");
    assert_eq!(c.actions_removed, vec![Action::Suspend]);
    assert!(d
        .to_string()
        .contains("- exam_staff × disclosure_request × examinee: suspend (action removed) was on"));
}

#[test]
fn diff_lists_capabilities_and_purposes_added() {
    let src = default_with(
        "[purposes.research]\nname_ja = \"研究\"\ndescription = \"Research.\"\n\n\
         [[grant]]\nrole = \"statistician\"\npurpose = \"research\"\ncapabilities = [\"export_deidentified\"]\n",
    );
    let d = diff(&Policy::default_policy(), &load(&src, "new.toml"));
    assert_eq!(d.purposes_added, ["research"]);
    assert_eq!(
        d.statable_added,
        [("statistician".to_owned(), "research".to_owned())]
    );
    assert_eq!(d.capabilities.len(), 1);
    assert_eq!(d.capabilities[0].added, [Capability::ExportDeidentified]);
    let text = d.to_string();
    assert!(text.contains("Purposes added: research"), "{text}");
    assert!(
        text.contains("+ statistician may now state research"),
        "{text}"
    );
}

#[test]
fn explain_shows_every_grant_of_the_default_policy() {
    let policy = Policy::default_policy();
    let text = policy.explain(None, None);
    for g in policy.grants() {
        assert!(
            text.lines()
                .any(|l| l.starts_with(g.role()) && l.contains(g.purpose())),
            "no row for {} × {}",
            g.role(),
            g.purpose()
        );
    }
    assert!(text.contains("試験管理事務"));
    assert!(text.contains("qualification_register  qualification  pass_date"));
    assert!(text.contains("Meister inactivity period (意向確認 after): 3 years"));
}

#[test]
fn explain_shows_the_my_number_reveal_row() {
    let text = Policy::default_policy().explain(Some("identity_verifier"), None);
    assert!(
        text.lines()
            .any(|l| l.contains("examinee") && l.contains("reveal") && l.contains("my_number")),
        "{text}"
    );
}

#[test]
fn explain_for_one_role_shows_only_that_role() {
    let text = Policy::default_policy().explain(Some("operator"), None);
    assert!(text.contains("plan_retention"));
    assert!(!text.contains("exam_staff"));
    assert!(!text.contains("approve_retention"));
}

#[test]
fn explain_for_one_purpose_shows_every_role_that_may_state_it() {
    let text = Policy::default_policy().explain(None, Some("retention"));
    assert!(text.lines().any(|l| l.starts_with("operator ")));
    assert!(text.lines().any(|l| l.starts_with("retention_approver ")));
    assert!(!text.lines().any(|l| l.starts_with("exam_staff ")));
}

#[test]
fn explain_for_an_unknown_role_says_so() {
    let text = Policy::default_policy().explain(Some("root"), None);
    assert!(text.contains("unknown role `root`"));
}
