//! Loading and checking policy files: the default loads; every kind of mistake is refused
//! with a message naming the file, the line and the problem.

mod common;

use common::{default_replacing, default_with, line_of, problem_on_line, rejected};
use vault_policy::{Period, Policy, PolicyError};

const ORIGIN: &str = "site-policy.toml";

/// Asserts the Display of the error names the file and the line, as `file:line: `.
fn assert_names_line(display: &str, line: usize) {
    let prefix = format!("{ORIGIN}:{line}: ");
    assert!(
        display.lines().any(|l| l.starts_with(&prefix)),
        "no line starting with {prefix:?} in:\n{display}"
    );
}

#[test]
fn default_policy_loads() {
    let policy = Policy::from_toml(Policy::default_policy_toml(), "default-policy.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.roles().len(), 9);
    assert_eq!(policy.purposes().len(), 13);
}

#[test]
fn default_policy_file_on_disk_loads_by_path() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/default-policy.toml");
    let policy = Policy::load(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.origin(), path);
}

#[test]
fn a_missing_file_names_the_path() {
    let err = Policy::load("/nonexistent/kentei/policy.toml").unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }));
    assert!(err
        .to_string()
        .starts_with("/nonexistent/kentei/policy.toml: "));
}

#[test]
fn operator_granting_identity_is_rejected_at_the_class_line() {
    let src = default_with(
        r#"
[[grant]]
role = "operator"
purpose = "statistics"

[[grant.view]]
kinds = ["examinee"]
actions = ["read"]
classes = ["identity"]   # operator-identity
"#,
    );
    let line = line_of(&src, "operator-identity");
    let (problems, display) = rejected(&src, ORIGIN);
    let p = problem_on_line(&problems, line);
    assert!(p.message().contains("`operator`"), "{}", p.message());
    assert!(p.message().contains("`identity`"), "{}", p.message());
    assert_names_line(&display, line);
}

#[test]
fn retention_approver_with_exam_administration_reads_is_rejected() {
    // The approver role gets reads under exam_administration while it holds approve_retention.
    let src = default_with(
        r#"
[[grant]]
role = "retention_approver"
purpose = "exam_administration"

[[grant.view]]
kinds = ["examinee"]
actions = ["read"]
classes = ["identity", "exam"]   # approver-reads
"#,
    );
    let (problems, display) = rejected(&src, ORIGIN);
    // Separation of duties, at the approve_retention the role already holds ...
    let cap_line = line_of(
        &src,
        r#"capabilities = ["approve_retention", "approve_export"]"#,
    );
    let sod = problem_on_line(&problems, cap_line);
    assert!(
        sod.message().contains("separation of duties"),
        "{}",
        sod.message()
    );
    assert!(
        sod.message().contains("`retention_approver`"),
        "{}",
        sod.message()
    );
    assert!(
        sod.message().contains("`approve_retention`"),
        "{}",
        sod.message()
    );
    assert_names_line(&display, cap_line);
    // ... and the role is declared without personal data, at the class it was given.
    let class_line = line_of(&src, "approver-reads");
    let decl = problem_on_line(&problems, class_line);
    assert!(
        decl.message().contains("personal_data = false"),
        "{}",
        decl.message()
    );
    assert_names_line(&display, class_line);
}

#[test]
fn a_role_that_reads_personal_data_cannot_hold_approve_retention() {
    let src = default_replacing(
        "role = \"exam_staff\"\npurpose = \"result_notification\"\n",
        "role = \"exam_staff\"\npurpose = \"result_notification\"\n\
         capabilities = [\"approve_retention\"]   # staff-approves\n",
    );
    let line = line_of(&src, "staff-approves");
    let (problems, display) = rejected(&src, ORIGIN);
    let p = problem_on_line(&problems, line);
    assert!(
        p.message().contains("separation of duties"),
        "{}",
        p.message()
    );
    assert!(p.message().contains("`exam_staff`"), "{}", p.message());
    assert_names_line(&display, line);
}

#[test]
fn a_role_that_reads_personal_data_cannot_hold_approve_export() {
    let src = default_replacing(
        "role = \"meister_coordinator\"\npurpose = \"meister_dispatch\"\n",
        "role = \"meister_coordinator\"\npurpose = \"meister_dispatch\"\n\
         capabilities = [\"approve_export\"]   # coordinator-approves\n",
    );
    let line = line_of(&src, "coordinator-approves");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("`approve_export`"));
}

#[test]
fn an_unknown_field_class_is_rejected_at_its_line() {
    let src = default_replacing(
        r#"classes = ["identity", "address", "exam", "qualification"]"#,
        "classes = [\"identity\", \"address\",\n  \"exam\", \"qualifications\"]   # typo-class",
    );
    let line = line_of(&src, "typo-class");
    let (problems, display) = rejected(&src, ORIGIN);
    let p = problem_on_line(&problems, line);
    assert!(
        p.message().contains("unknown field class `qualifications`"),
        "{}",
        p.message()
    );
    assert!(
        p.message().contains("qualification,"),
        "lists known classes: {}",
        p.message()
    );
    assert_names_line(&display, line);
}

#[test]
fn an_unknown_action_is_rejected_at_its_line() {
    let src = default_replacing(
        r#"actions = ["read", "update", "suspend"]"#,
        r#"actions = ["read", "update", "delete"]   # bad-action"#,
    );
    let line = line_of(&src, "bad-action");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("unknown action `delete`"));
}

#[test]
fn an_unknown_record_kind_is_rejected_at_its_line() {
    let src = default_replacing(
        r#"kinds = ["meister", "meister_activity"]"#,
        r#"kinds = ["meister", "activity"]   # bad-kind"#,
    );
    let line = line_of(&src, "bad-kind");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("unknown record kind `activity`"));
}

#[test]
fn an_unknown_role_in_a_grant_is_rejected_at_its_line() {
    let src =
        default_with("[[grant]]\nrole = \"auditor\"   # bad-role\npurpose = \"audit_review\"\n");
    let line = line_of(&src, "bad-role");
    let (problems, display) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("unknown role `auditor`"));
    assert_names_line(&display, line);
}

#[test]
fn an_unknown_purpose_in_a_grant_is_rejected_at_its_line() {
    let src =
        default_with("[[grant]]\nrole = \"exam_staff\"\npurpose = \"marketing\"   # bad-purpose\n");
    let line = line_of(&src, "bad-purpose");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("unknown purpose `marketing`"));
}

#[test]
fn an_unknown_capability_is_rejected_at_its_line() {
    let src = default_replacing(
        r#"capabilities = ["manage_keys"]"#,
        r#"capabilities = ["manage_keys", "read_everything"]   # bad-cap"#,
    );
    let line = line_of(&src, "bad-cap");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("unknown capability `read_everything`"));
}

#[test]
fn an_unknown_purpose_allowed_under_suspension_is_rejected() {
    let src = default_replacing(
        r#"allowed_purposes = ["disclosure_request"]"#,
        r#"allowed_purposes = ["disclosure_request", "disclosure"]   # bad-suspension"#,
    );
    let line = line_of(&src, "bad-suspension");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("unknown purpose `disclosure`"));
}

#[test]
fn a_purpose_without_description_is_rejected_at_its_table() {
    let src = default_with("[purposes.research]   # no-description\nname_ja = \"研究\"\n");
    let line = line_of(&src, "no-description");
    let (problems, display) = rejected(&src, ORIGIN);
    let p = problem_on_line(&problems, line);
    assert!(
        p.message()
            .contains("purpose `research` has no description"),
        "{}",
        p.message()
    );
    assert_names_line(&display, line);
}

#[test]
fn a_purpose_without_japanese_name_is_rejected() {
    let src = default_with("[purposes.research]   # no-name-ja\ndescription = \"Studies.\"\n");
    let line = line_of(&src, "no-name-ja");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("name_ja"));
}

#[test]
fn the_same_role_and_purpose_granted_twice_is_rejected_naming_both_lines() {
    let src = default_with(
        "[[grant]]   # second-grant\nrole = \"operator\"\npurpose = \"key_management\"\ncapabilities = [\"manage_keys\"]\n",
    );
    let second = line_of(&src, "second-grant");
    // The first grant for the pair: its [[grant]] header is two lines above its purpose line
    // in the default policy (appending leaves those line numbers unchanged).
    let first_grant_line = line_of(
        Policy::default_policy_toml(),
        r#"purpose = "key_management""#,
    ) - 2;
    let (problems, display) = rejected(&src, ORIGIN);
    let p = problem_on_line(&problems, second);
    assert!(p.message().contains("duplicate grant"), "{}", p.message());
    assert!(
        p.message().contains(&format!("line {first_grant_line}")),
        "names the first grant's line {first_grant_line}: {}",
        p.message()
    );
    assert_names_line(&display, second);
}

#[test]
fn a_retention_rule_without_period_is_rejected_at_the_rule() {
    let src = default_replacing(
        "id = \"result\"\ntarget = \"result\"\nclock = \"exam_fiscal_year_end\"\nperiod = \"5 years\"\n",
        "id = \"result\"\ntarget = \"result\"\nclock = \"exam_fiscal_year_end\"\n",
    );
    let rule_line = line_of(&src, "id = \"result\"") - 1; // the [[retention]] header
    let (problems, display) = rejected(&src, ORIGIN);
    let p = problem_on_line(&problems, rule_line);
    assert!(
        p.message()
            .contains("retention rule `result` has no period"),
        "{}",
        p.message()
    );
    assert_names_line(&display, rule_line);
}

#[test]
fn a_malformed_period_is_rejected_at_its_line() {
    let src = default_replacing(
        r#"period = "10 years""#,
        r#"period = "ten years"   # bad-period"#,
    );
    let line = line_of(&src, "bad-period");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("write a period as"));
}

#[test]
fn a_duplicate_retention_rule_is_rejected() {
    let src = default_with(
        "[[retention]]   # dup-rule\nid = \"application_again\"\ntarget = \"application\"\n\
         clock = \"exam_fiscal_year_end\"\nperiod = \"3 years\"\naction = \"delete\"\n",
    );
    let line = line_of(&src, "dup-rule");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("duplicate retention rule"));
}

#[test]
fn a_duplicate_retention_rule_id_is_rejected() {
    let src = default_with(
        "[[retention]]\nid = \"application\"   # dup-id\ntarget = \"examinee\"\n\
         clock = \"no_dependent_records\"\nperiod = \"1 year\"\naction = \"delete\"\n",
    );
    let line = line_of(&src, "dup-id");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("duplicate retention rule id `application`"));
}

#[test]
fn keep_with_a_finite_period_is_rejected() {
    let src = default_replacing(
        "period = \"permanent\"\naction = \"keep\"",
        "period = \"50 years\"   # finite-keep\naction = \"keep\"",
    );
    let line = line_of(&src, "finite-keep");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("`permanent` period goes with action `keep`"));
}

#[test]
fn the_meister_inactivity_rule_never_deletes() {
    let src = default_replacing(
        "period = \"3 years\"\naction = \"flag_intent_check\"",
        "period = \"3 years\"\naction = \"delete\"   # inactivity-delete",
    );
    let line = line_of(&src, "inactivity-delete");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("takes action `flag_intent_check`"));
}

#[test]
fn a_clock_that_does_not_fit_the_target_is_rejected() {
    let src = default_replacing(
        "target = \"qualification\"\nclock = \"pass_date\"",
        "target = \"qualification\"\nclock = \"event_time\"   # wrong-clock",
    );
    let line = line_of(&src, "wrong-clock");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("does not apply to target `qualification`"));
}

#[test]
fn a_policy_without_meister_inactivity_rule_is_rejected() {
    let src = default_replacing(
        "[[retention]]\nid = \"meister_inactive\"\ntarget = \"meister\"\n\
         clock = \"last_activity_or_certification\"\nperiod = \"3 years\"\naction = \"flag_intent_check\"\n",
        "",
    );
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problems
        .iter()
        .any(|p| p.line().is_none() && p.message().contains("no meister inactivity rule")));
}

#[test]
fn the_meister_inactivity_period_comes_from_the_policy() {
    let src = default_replacing(
        "period = \"3 years\"\naction = \"flag_intent_check\"",
        "period = \"2 years\"\naction = \"flag_intent_check\"",
    );
    let policy = Policy::from_toml(&src, ORIGIN).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.meister_inactivity_period(), Period::years(2));
    assert_eq!(
        Policy::default_policy().meister_inactivity_period(),
        Period::years(3)
    );
}

#[test]
fn my_number_in_a_read_view_is_rejected() {
    let src = default_replacing(
        "actions = [\"resolve\", \"read\"]\nclasses = [\"identity\", \"address\"]",
        "actions = [\"resolve\", \"read\"]\nclasses = [\"identity\", \"address\", \"my_number\"]   # read-my-number",
    );
    let line = line_of(&src, "read-my-number");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("`my_number` is granted only by a view of its own"));
}

#[test]
fn reveal_together_with_other_classes_is_rejected() {
    let src = default_replacing(
        "actions = [\"reveal\"]\nclasses = [\"my_number\"]",
        "actions = [\"reveal\"]   # reveal-more\nclasses = [\"my_number\", \"identity\"]",
    );
    let line = line_of(&src, "reveal-more");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("action `reveal` shows My Number only"));
}

#[test]
fn admin_declared_with_personal_data_is_rejected() {
    let src = default_replacing(
        "description = \"Creates, disables and re-keys accounts (アカウント管理者).\"\npersonal_data = false",
        "description = \"Creates, disables and re-keys accounts (アカウント管理者).\"\npersonal_data = true   # admin-personal",
    );
    let line = line_of(&src, "admin-personal");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("role `admin` never sees personal data"));
}

#[test]
fn a_role_must_say_whether_it_sees_personal_data() {
    let src = default_with("[roles.clerk]   # no-personal-flag\ndescription = \"Front desk.\"\n");
    let line = line_of(&src, "no-personal-flag");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("personal_data = true"));
}

#[test]
fn an_unknown_key_is_rejected_at_its_line() {
    let src = default_replacing(
        "role = \"statistician\"\npurpose = \"statistics\"",
        "role = \"statistician\"\npurpose = \"statistics\"\nfields = [\"name\"]   # unknown-key",
    );
    let line = line_of(&src, "unknown-key");
    let err = Policy::from_toml(&src, ORIGIN).unwrap_err();
    assert!(matches!(err, PolicyError::Syntax { .. }), "{err:?}");
    assert_names_line(&err.to_string(), line);
    assert!(err.to_string().contains("unknown field `fields`"), "{err}");
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let src = default_replacing(
        r#"purpose = "key_management""#,
        r#"purpose = "key_management   # unterminated"#,
    );
    let line = line_of(&src, "unterminated");
    let err = Policy::from_toml(&src, ORIGIN).unwrap_err();
    assert!(matches!(err, PolicyError::Syntax { .. }), "{err:?}");
    assert_names_line(&err.to_string(), line);
}

#[test]
fn every_problem_is_reported_in_line_order() {
    let src = default_with(
        "[[grant]]\nrole = \"nobody\"   # first-problem\npurpose = \"nothing\"   # second-problem\n",
    );
    let (problems, display) = rejected(&src, ORIGIN);
    let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line()).collect();
    assert_eq!(
        lines,
        vec![
            Some(line_of(&src, "first-problem")),
            Some(line_of(&src, "second-problem"))
        ]
    );
    assert_eq!(display.lines().count(), 2);
}

#[test]
fn a_policy_that_is_not_format_1_is_rejected() {
    let src = default_replacing("format = 1", "format = 2   # format-two");
    let line = line_of(&src, "format-two");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("format 1"));
}

#[test]
fn tenancy_other_than_not_found_is_rejected() {
    let src = default_replacing(
        r#"outside_scope = "not_found""#,
        r#"outside_scope = "forbidden"   # tenancy"#,
    );
    let line = line_of(&src, "# tenancy");
    let (problems, _) = rejected(&src, ORIGIN);
    assert!(problem_on_line(&problems, line)
        .message()
        .contains("not_found"));
}
