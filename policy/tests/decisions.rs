//! Decisions of the default policy beyond the matrix: tenancy (C18), suspension of use (C19),
//! My Number (C2), several roles, capabilities, separation of duties per account (C22) and
//! the retention table of POLICY.md (C15, C21, C23).

mod common;

use common::{decide, decide_full, field, permitted_fields};
use vault_policy::{
    Action, Capability, ClockEvent, Decision, DenyReason, FieldClass, Period, Policy, RecordKind,
    RetentionAction, RetentionTarget, RoleSetError, TenantScope,
};

fn prefectures(codes: &[&str]) -> TenantScope {
    TenantScope::from_list(codes)
}

#[test]
fn exam_staff_reads_an_examinee_of_its_own_prefecture() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["35"]),
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
        Some("35"),
        false,
    );
    assert!(permitted_fields(&d).contains(&"examinee.identity"));
}

#[test]
fn cross_prefecture_read_is_not_found() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["13"]),
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
        Some("35"),
        false,
    );
    assert_eq!(d, Decision::NotFound);
}

#[test]
fn cross_prefecture_write_is_not_found() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_system"],
        &prefectures(&["13"]),
        "system_sync",
        Action::Update,
        RecordKind::Result,
        Some("35"),
        false,
    );
    assert_eq!(d, Decision::NotFound);
}

#[test]
fn an_account_for_all_prefectures_reaches_every_prefecture() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["*"]),
        "exam_administration",
        Action::Read,
        RecordKind::Application,
        Some("47"),
        false,
    );
    assert!(d.is_permit());
}

#[test]
fn a_call_without_a_record_tenant_leaves_scoping_to_the_store_query() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["13"]),
        "exam_administration",
        Action::Search,
        RecordKind::Examinee,
        None,
        false,
    );
    assert!(d.is_permit());
}

#[test]
fn a_purpose_the_roles_may_not_state_is_forbidden_even_across_prefectures() {
    // The purpose check comes first: a caller learns nothing about other prefectures' records.
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["meister_coordinator"],
        &prefectures(&["13"]),
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
        Some("35"),
        false,
    );
    assert_eq!(d, Decision::Forbidden(DenyReason::PurposeNotAllowed));
}

#[test]
fn an_unknown_purpose_is_forbidden() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["exam_staff"],
        "marketing",
        Action::Read,
        RecordKind::Examinee,
    );
    assert_eq!(d, Decision::Forbidden(DenyReason::PurposeNotAllowed));
}

#[test]
fn an_account_without_roles_gets_nothing() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &[],
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
    );
    assert_eq!(d, Decision::Forbidden(DenyReason::PurposeNotAllowed));
}

#[test]
fn an_unknown_role_gets_nothing() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["superuser"],
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
    );
    assert_eq!(d, Decision::Forbidden(DenyReason::PurposeNotAllowed));
}

#[test]
fn suspended_subject_exam_administration_is_forbidden() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["13"]),
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
        Some("13"),
        true,
    );
    assert_eq!(d, Decision::Forbidden(DenyReason::SubjectSuspended));
}

#[test]
fn suspended_subject_disclosure_request_is_permitted() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["13"]),
        "disclosure_request",
        Action::Read,
        RecordKind::Examinee,
        Some("13"),
        true,
    );
    let fields = permitted_fields(&d);
    assert!(fields.contains(&"examinee.identity"));
    assert!(!fields.contains(&"examinee.my_number"));
}

#[test]
fn suspension_can_be_lifted_under_disclosure_request() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["13"]),
        "disclosure_request",
        Action::Suspend,
        RecordKind::Examinee,
        Some("13"),
        true,
    );
    assert!(d.is_permit());
}

#[test]
fn suspended_subject_of_another_prefecture_is_still_not_found() {
    let policy = Policy::default_policy();
    let d = decide_full(
        &policy,
        &["exam_staff"],
        &prefectures(&["13"]),
        "exam_administration",
        Action::Read,
        RecordKind::Examinee,
        Some("35"),
        true,
    );
    assert_eq!(d, Decision::NotFound);
}

#[test]
fn only_disclosure_request_is_allowed_under_suspension_by_default() {
    let policy = Policy::default_policy();
    let allowed: Vec<&str> = policy
        .purposes()
        .iter()
        .map(|p| p.name())
        .filter(|p| policy.allowed_under_suspension(p))
        .collect();
    assert_eq!(allowed, ["disclosure_request"]);
}

#[test]
fn my_number_is_never_in_a_read_view_even_for_the_identity_verifier() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["identity_verifier"],
        "identity_verification",
        Action::Read,
        RecordKind::Examinee,
    );
    assert_eq!(
        permitted_fields(&d),
        ["examinee.address", "examinee.identity"]
    );
}

#[test]
fn identity_verifier_may_reveal_my_number_for_identity_verification() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["identity_verifier"],
        "identity_verification",
        Action::Reveal,
        RecordKind::Examinee,
    );
    assert_eq!(permitted_fields(&d), ["examinee.my_number"]);
    assert_eq!(field("examinee.my_number").class, FieldClass::MyNumber);
}

#[test]
fn exam_staff_may_resolve_by_my_number_but_not_reveal_it() {
    let policy = Policy::default_policy();
    let resolve = decide(
        &policy,
        &["exam_staff"],
        "identity_verification",
        Action::Resolve,
        RecordKind::Examinee,
    );
    assert_eq!(permitted_fields(&resolve), ["examinee.identity"]);
    let reveal = decide(
        &policy,
        &["exam_staff"],
        "identity_verification",
        Action::Reveal,
        RecordKind::Examinee,
    );
    assert_eq!(reveal, Decision::Forbidden(DenyReason::ActionNotGranted));
}

#[test]
fn no_role_may_reveal_my_number_for_disclosure_request() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["exam_staff", "identity_verifier"],
        "disclosure_request",
        Action::Reveal,
        RecordKind::Examinee,
    );
    assert_eq!(d, Decision::Forbidden(DenyReason::ActionNotGranted));
}

#[test]
fn several_roles_see_the_union_of_their_grants_for_the_stated_purpose() {
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["exam_staff", "identity_verifier"],
        "identity_verification",
        Action::Read,
        RecordKind::Examinee,
    );
    assert_eq!(
        permitted_fields(&d),
        ["examinee.address", "examinee.identity"]
    );
}

#[test]
fn a_grant_for_another_purpose_does_not_leak_into_the_stated_one() {
    // exam_staff sees contact under exam_administration, not under result_notification.
    let policy = Policy::default_policy();
    let d = decide(
        &policy,
        &["exam_staff"],
        "result_notification",
        Action::Read,
        RecordKind::Examinee,
    );
    assert!(!permitted_fields(&d).contains(&"examinee.contact"));
}

#[test]
fn record_exports_are_granted_to_no_one_by_default() {
    let policy = Policy::default_policy();
    for role in policy.roles() {
        for purpose in policy.purposes() {
            for &kind in RecordKind::ALL {
                let d = decide(
                    &policy,
                    &[role.name()],
                    purpose.name(),
                    Action::Export,
                    kind,
                );
                assert!(
                    !d.is_permit(),
                    "{} × {} × {kind}",
                    role.name(),
                    purpose.name()
                );
            }
        }
    }
}

#[test]
fn capabilities_need_the_purpose_they_are_granted_for() {
    let policy = Policy::default_policy();
    assert!(policy.has_capability(&["operator"], "retention", Capability::PlanRetention));
    assert!(!policy.has_capability(&["operator"], "key_management", Capability::PlanRetention));
    assert!(!policy.has_capability(&["operator"], "retention", Capability::ApproveRetention));
    assert!(policy.has_capability(
        &["retention_approver"],
        "retention",
        Capability::ApproveRetention
    ));
}

#[test]
fn roles_without_personal_data_have_no_record_access() {
    let policy = Policy::default_policy();
    for role in vault_policy::ROLES_WITHOUT_PERSONAL_DATA {
        assert!(!policy.role_sees_personal_data(role), "{role}");
        assert!(!policy.role(role).unwrap().personal_data(), "{role}");
    }
}

#[test]
fn an_account_cannot_both_read_personal_data_and_approve() {
    let policy = Policy::default_policy();
    assert_eq!(
        policy.check_role_set(&["exam_staff", "retention_approver"]),
        Err(RoleSetError::SeparationOfDuties {
            reader: "exam_staff".to_owned(),
            approver: "retention_approver".to_owned()
        })
    );
    assert_eq!(
        policy.check_role_set(&["operator", "security_officer"]),
        Ok(())
    );
    assert_eq!(
        policy.check_role_set(&["root"]),
        Err(RoleSetError::UnknownRole("root".to_owned()))
    );
}

#[test]
fn statable_purposes_lists_what_an_account_may_send() {
    let policy = Policy::default_policy();
    assert_eq!(
        policy.statable_purposes(&["security_officer"]),
        ["audit_review", "incident_response"]
    );
}

#[test]
fn retention_rules_are_those_of_the_policy_table() {
    use ClockEvent as Clock;
    use RetentionAction as Then;
    use RetentionTarget as T;
    let five = Period::years(5);
    let spec: &[(&str, RetentionTarget, ClockEvent, Period, RetentionAction)] = &[
        (
            "my_number",
            T::MyNumber,
            Clock::LastApplicationFiscalYearEndOrDeletionRequest,
            five,
            Then::ShredMyNumber,
        ),
        (
            "application",
            T::Application,
            Clock::ExamFiscalYearEnd,
            five,
            Then::Delete,
        ),
        (
            "result",
            T::Result,
            Clock::ExamFiscalYearEnd,
            five,
            Then::Delete,
        ),
        (
            "examinee_person",
            T::Examinee,
            Clock::NoDependentRecords,
            Period::years(0),
            Then::Delete,
        ),
        (
            "qualification_register",
            T::Qualification,
            Clock::PassDate,
            Period::Permanent,
            Then::Keep,
        ),
        (
            "meister_inactive",
            T::Meister,
            Clock::LastActivityOrCertification,
            Period::years(3),
            Then::FlagIntentCheck,
        ),
        (
            "meister_deregistered",
            T::Meister,
            Clock::DeregistrationDate,
            five,
            Then::Delete,
        ),
        (
            "audit_events",
            T::AuditEvent,
            Clock::EventTime,
            Period::years(10),
            Then::DeleteKeepCheckpoint,
        ),
    ];
    let policy = Policy::default_policy();
    let got: Vec<_> = policy
        .retention_rules()
        .iter()
        .map(|r| (r.id(), r.target(), r.clock(), r.period(), r.action()))
        .collect();
    assert_eq!(got, spec);
}
