//! C15/C22/C23: plans hold only due records, a second person approves, execution re-checks,
//! and a rule change that shortens a period shows its impact first.

mod retention_support;

use retention_support::*;
use vault_core::retention::{
    approve, build_plan, recheck, shortened_impact, verify_digest, ApprovalError, ApprovedPlan,
    Candidate, ClockEvent, LegalHolds, Period, RetentionAction, RetentionError, RetentionPlan,
    RuleSpec, SkipReason, Target, RETENTION_APPROVER_ROLE,
};

const APPROVER_ROLES: &[&str] = &[RETENTION_APPROVER_ROLE];

fn plan(rules: &[RuleSpec], candidates: &[Candidate], as_of: chrono::NaiveDate) -> RetentionPlan {
    build_plan(rules, candidates, &LegalHolds::new(), as_of, CREATOR).unwrap()
}

fn approved(plan: RetentionPlan) -> ApprovedPlan {
    approve(plan, APPROVER, APPROVER_ROLES).unwrap()
}

// ---- building plans -------------------------------------------------------------------

/// A named change to a value, for tamper tests.
type Change<T> = Box<dyn Fn(&mut T)>;

#[test]
fn fy2020_application_enters_a_plan_from_2026_04_01_and_not_before() {
    let rules = [applications_5y()];
    let candidates = [application(1, 10, 2020)];
    assert_eq!(
        plan(&rules, &candidates, date(2026, 3, 31)).record_count(),
        0
    );
    let on_due_day = plan(&rules, &candidates, date(2026, 4, 1));
    assert!(on_due_day.contains(Target::Application, id(10)));
}

#[test]
fn plan_lists_due_records_and_counts_the_others() {
    let rules = [applications_5y()];
    let candidates = [
        application(1, 10, 2019),
        application(2, 20, 2020),
        application(3, 30, 2021),
        candidate(4, 40, Target::Application, None),
    ];
    let p = plan(&rules, &candidates, date(2026, 4, 1));
    let rule = &p.rules[0];
    assert_eq!(rule.rule, "application_5y");
    assert_eq!(
        rule.record_ids().into_iter().collect::<Vec<_>>(),
        vec![id(10), id(20)]
    );
    assert_eq!(
        rule.subject_ids().into_iter().collect::<Vec<_>>(),
        vec![id(1), id(2)]
    );
    assert_eq!(rule.counts.due, 2);
    assert_eq!(rule.counts.not_due, 1);
    assert_eq!(rule.counts.missing_clock, 1);
    assert_eq!(rule.by_prefecture.get("13"), Some(&2));
    assert_eq!(p.counts_by_kind().get(&Target::Application), Some(&2));
}

#[test]
fn held_subject_is_left_out_and_counted_as_held() {
    let rules = [applications_5y()];
    let candidates = [
        application(1, 10, 2015),
        application(1, 11, 2016),
        application(2, 20, 2015),
    ];
    let holds: LegalHolds = [id(1)].into_iter().collect();
    let p = build_plan(&rules, &candidates, &holds, date(2026, 4, 1), CREATOR).unwrap();
    let rule = &p.rules[0];
    assert_eq!(
        rule.record_ids().into_iter().collect::<Vec<_>>(),
        vec![id(20)]
    );
    assert_eq!(rule.counts.held, 2);
    assert_eq!(rule.counts.held_subjects, 1);
}

#[test]
fn permanent_keep_rule_never_enters_a_plan() {
    let rules = [qualifications_permanent()];
    let candidates = [candidate(
        1,
        10,
        Target::Qualification,
        Some(date(1970, 3, 1)),
    )];
    let p = plan(&rules, &candidates, date(2100, 1, 1));
    assert!(p.rules.is_empty());
    assert_eq!(p.record_count(), 0);
}

#[test]
fn records_of_a_kind_without_a_rule_are_not_planned() {
    let candidates = [candidate(1, 10, Target::Result, Some(date(2001, 3, 31)))];
    assert_eq!(
        plan(&[applications_5y()], &candidates, date(2026, 4, 1)).record_count(),
        0
    );
}

#[test]
fn my_number_rule_plans_the_compartment_only() {
    // C23: the number goes on its own clock while the subject's other records stay.
    let rules = [
        my_number_5y(),
        applications_5y(),
        qualifications_permanent(),
    ];
    let candidates = [
        candidate(1, 100, Target::MyNumber, Some(date(2021, 3, 31))),
        application(1, 10, 2024),
        candidate(1, 11, Target::Qualification, Some(date(2020, 9, 1))),
    ];
    let p = plan(&rules, &candidates, date(2026, 4, 1));
    assert_eq!(p.record_count(), 1);
    let my_number = p
        .rules
        .iter()
        .find(|r| r.target == Target::MyNumber)
        .unwrap();
    assert_eq!(my_number.action, RetentionAction::DeleteCompartment);
    assert!(my_number.record_ids().contains(&id(100)));
}

#[test]
fn two_rules_for_one_target_are_refused() {
    let mut other = applications_5y();
    other.name = "application_1y".to_owned();
    other.period = Period::years(1);
    let err = build_plan(
        &[applications_5y(), other],
        &[],
        &LegalHolds::new(),
        date(2026, 4, 1),
        CREATOR,
    );
    assert_eq!(
        err,
        Err(RetentionError::DuplicateRuleTarget {
            target: Target::Application
        })
    );
}

#[test]
fn two_rules_with_one_name_are_refused() {
    let mut other = my_number_5y();
    other.name = "application_5y".to_owned();
    let err = build_plan(
        &[applications_5y(), other],
        &[],
        &LegalHolds::new(),
        date(2026, 4, 1),
        CREATOR,
    );
    assert!(matches!(err, Err(RetentionError::DuplicateRuleName { .. })));
}

#[test]
fn a_record_listed_twice_is_refused() {
    let candidates = [application(1, 10, 2015), application(1, 10, 2024)];
    let err = build_plan(
        &[applications_5y()],
        &candidates,
        &LegalHolds::new(),
        date(2026, 4, 1),
        CREATOR,
    );
    assert!(matches!(
        err,
        Err(RetentionError::DuplicateCandidate { .. })
    ));
}

#[test]
fn a_plan_needs_a_creator() {
    let err = build_plan(
        &[applications_5y()],
        &[],
        &LegalHolds::new(),
        date(2026, 4, 1),
        " ",
    );
    assert_eq!(err, Err(RetentionError::MissingActor));
}

// ---- digest ---------------------------------------------------------------------------

#[test]
fn fresh_plan_verifies_its_digest() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    assert_eq!(p.digest.len(), 64);
    assert!(verify_digest(&p));
}

#[test]
fn any_change_to_a_plan_breaks_its_digest() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015), application(2, 20, 2015)],
        date(2026, 4, 1),
    );
    let changes: Vec<(&str, Change<RetentionPlan>)> = vec![
        ("as_of", Box::new(|p| p.as_of = date(2027, 4, 1))),
        (
            "created_by",
            Box::new(|p| p.created_by = APPROVER.to_owned()),
        ),
        ("id", Box::new(|p| p.id = id(999))),
        (
            "record removed",
            Box::new(|p| {
                p.rules[0].records.pop();
            }),
        ),
        (
            "record added",
            Box::new(|p| {
                let mut extra = p.rules[0].records[0].clone();
                extra.record_id = id(77);
                p.rules[0].records.push(extra);
            }),
        ),
        (
            "subject swapped",
            Box::new(|p| p.rules[0].records[0].subject_id = id(5)),
        ),
        ("period", Box::new(|p| p.rules[0].period = Period::years(1))),
        (
            "action",
            Box::new(|p| p.rules[0].action = RetentionAction::Prune),
        ),
        ("count", Box::new(|p| p.rules[0].counts.held += 1)),
    ];
    for (what, change) in changes {
        let mut changed = p.clone();
        change(&mut changed);
        assert!(!verify_digest(&changed), "{what} went unnoticed");
    }
}

#[test]
fn plan_keeps_its_digest_through_json() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    let stored = serde_json::to_string(&p).unwrap();
    let loaded: RetentionPlan = serde_json::from_str(&stored).unwrap();
    assert_eq!(loaded, p);
    assert!(verify_digest(&loaded));
}

// ---- approval -------------------------------------------------------------------------

#[test]
fn approval_by_the_plans_creator_is_refused() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    assert_eq!(
        approve(p, CREATOR, APPROVER_ROLES).err(),
        Some(ApprovalError::CreatorCannotApprove)
    );
}

#[test]
fn approval_without_the_retention_approver_role_is_refused() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    assert_eq!(
        approve(p, APPROVER, &["operator", "security_officer"]).err(),
        Some(ApprovalError::MissingRole {
            role: "retention_approver"
        })
    );
}

#[test]
fn approval_by_a_second_person_with_the_role_records_who_approved_what() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    let digest = p.digest.clone();
    let a = approve(p, APPROVER, &["retention_approver".to_owned()]).unwrap();
    assert_eq!(a.approval().approver, APPROVER);
    assert_eq!(a.approval().plan_digest, digest);
    assert_eq!(a.approval().plan_id, a.plan().id);
}

#[test]
fn a_plan_changed_after_it_was_made_cannot_be_approved() {
    let mut p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    p.as_of = date(2030, 4, 1);
    assert_eq!(
        approve(p, APPROVER, APPROVER_ROLES).err(),
        Some(ApprovalError::DigestMismatch)
    );
}

#[test]
fn a_stored_approval_is_restored_only_for_its_own_plan() {
    let p1 = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    let p2 = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    let approval = approved(p1.clone()).approval().clone();
    assert!(ApprovedPlan::restore(p1, approval.clone(), APPROVER_ROLES).is_ok());
    assert_eq!(
        ApprovedPlan::restore(p2, approval, APPROVER_ROLES).err(),
        Some(ApprovalError::ApprovalForOtherPlan)
    );
}

#[test]
fn a_stored_approval_is_not_restored_when_the_approver_lost_the_role() {
    let p = plan(
        &[applications_5y()],
        &[application(1, 10, 2015)],
        date(2026, 4, 1),
    );
    let approval = approved(p.clone()).approval().clone();
    assert!(matches!(
        ApprovedPlan::restore(p, approval, &["operator"]),
        Err(ApprovalError::MissingRole { .. })
    ));
}

// ---- execution-time re-check ------------------------------------------------------------

#[test]
fn recheck_keeps_records_still_due() {
    let rules = [applications_5y()];
    let candidates = [application(1, 10, 2015)];
    let a = approved_plan(&rules, &candidates, date(2026, 4, 1));
    let set = recheck_without_holds(&a, &rules, &candidates, date(2026, 4, 2));
    assert!(set.contains(Target::Application, id(10)));
    assert!(set.skipped().is_empty());
    assert_eq!(set.plan_id(), a.plan().id);
}

#[test]
fn recheck_skips_a_record_whose_rule_got_longer() {
    let candidates = [application(1, 10, 2020), application(2, 20, 2010)];
    let a = approved_plan(&[applications_5y()], &candidates, date(2026, 4, 1));
    assert_eq!(a.plan().record_count(), 2);
    let mut longer = applications_5y();
    longer.period = Period::years(10);
    let set = recheck_without_holds(&a, &[longer], &candidates, date(2026, 4, 2));
    assert!(!set.contains(Target::Application, id(10)));
    assert!(set.contains(Target::Application, id(20)));
    assert_eq!(set.skipped().len(), 1);
    assert_eq!(set.skipped()[0].record.record_id, id(10));
    assert_eq!(set.skipped()[0].reason, SkipReason::NotDueUnderChangedRule);
}

#[test]
fn recheck_skips_a_subject_held_after_approval() {
    let rules = [applications_5y()];
    let candidates = [application(1, 10, 2015), application(2, 20, 2015)];
    let a = approved_plan(&rules, &candidates, date(2026, 4, 1));
    let holds: LegalHolds = [id(1)].into_iter().collect();
    let set = recheck(&a, &rules, &candidates, &holds, date(2026, 4, 2)).unwrap();
    assert!(!set.contains(Target::Application, id(10)));
    assert!(set.contains(Target::Application, id(20)));
    assert_eq!(set.skipped()[0].reason, SkipReason::Held);
}

#[test]
fn recheck_skips_a_record_whose_clock_moved_later() {
    // The subject applied again: the My Number clock now starts at a later fiscal year end.
    let rules = [my_number_5y()];
    let then = [candidate(1, 100, Target::MyNumber, Some(date(2021, 3, 31)))];
    let now = [candidate(1, 100, Target::MyNumber, Some(date(2026, 3, 31)))];
    let a = approved_plan(&rules, &then, date(2026, 4, 1));
    let set = recheck_without_holds(&a, &rules, &now, date(2026, 4, 2));
    assert_eq!(set.record_count(), 0);
    assert_eq!(set.skipped()[0].reason, SkipReason::NotDue);
}

#[test]
fn recheck_before_the_due_day_skips_a_plan_made_for_a_later_day() {
    let rules = [applications_5y()];
    let candidates = [application(1, 10, 2020)];
    let a = approved_plan(&rules, &candidates, date(2026, 4, 1));
    let set = recheck_without_holds(&a, &rules, &candidates, date(2026, 3, 31));
    assert_eq!(set.record_count(), 0);
    assert_eq!(set.skipped()[0].reason, SkipReason::NotDue);
}

#[test]
fn recheck_skips_records_that_are_gone_or_changed_subject() {
    let rules = [applications_5y()];
    let candidates = [application(1, 10, 2015), application(2, 20, 2015)];
    let a = approved_plan(&rules, &candidates, date(2026, 4, 1));
    let now = [application(3, 20, 2015)];
    let set = recheck_without_holds(&a, &rules, &now, date(2026, 4, 2));
    let reasons: Vec<_> = set
        .skipped()
        .iter()
        .map(|s| (s.record.record_id, s.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (id(10), SkipReason::RecordGone),
            (id(20), SkipReason::SubjectChanged)
        ]
    );
}

#[test]
fn recheck_skips_everything_when_the_rule_was_removed_or_its_action_changed() {
    let candidates = [application(1, 10, 2015)];
    let a = approved_plan(&[applications_5y()], &candidates, date(2026, 4, 1));
    let removed = recheck_without_holds(&a, &[], &candidates, date(2026, 4, 2));
    assert_eq!(removed.skipped()[0].reason, SkipReason::RuleRemoved);
    let mut keep = applications_5y();
    keep.action = RetentionAction::Keep;
    let changed = recheck_without_holds(&a, &[keep], &candidates, date(2026, 4, 2));
    assert_eq!(changed.skipped()[0].reason, SkipReason::ActionChanged);
    assert_eq!(changed.record_count(), 0);
}

#[test]
fn recheck_never_adds_records_that_are_not_in_the_plan() {
    let candidates = [application(1, 10, 2015), application(2, 20, 2022)];
    let a = approved_plan(&[applications_5y()], &candidates, date(2026, 4, 1));
    assert_eq!(a.plan().record_count(), 1);
    // The rule got shorter and a new record appeared: both are due now, neither is planned.
    let mut shorter = applications_5y();
    shorter.period = Period::years(1);
    let now = [
        application(1, 10, 2015),
        application(2, 20, 2022),
        application(3, 30, 2015),
    ];
    let set = recheck_without_holds(&a, &[shorter], &now, date(2026, 4, 2));
    assert_eq!(set.record_count(), 1);
    assert!(set.contains(Target::Application, id(10)));
}

// ---- policy change impact ---------------------------------------------------------------

#[test]
fn shortening_a_rule_lists_the_records_due_earlier_with_the_count_due_now() {
    let candidates = [
        application(1, 10, 2020), // old: due 2026-04-01; new (3y): 2024-04-01 -> due now
        application(2, 20, 2023), // old: 2029-04-01; new: 2027-04-01 -> earlier, not yet
        application(3, 30, 2015), // due under both already: no change
    ];
    let mut shorter = applications_5y();
    shorter.period = Period::years(3);
    let impact = shortened_impact(
        &[applications_5y()],
        &[shorter],
        &candidates,
        date(2026, 3, 1),
    )
    .unwrap();
    assert_eq!(impact.len(), 1);
    let ids: Vec<_> = impact[0].records.iter().map(|r| r.record_id).collect();
    assert_eq!(ids, vec![id(10), id(20)]);
    assert_eq!(impact[0].due_now(), 1);
    assert_eq!(
        impact[0].old,
        Some((Period::years(5), RetentionAction::Delete))
    );
    assert!(!impact[0].clock_changed);
}

#[test]
fn lengthening_a_rule_has_no_impact() {
    let mut longer = applications_5y();
    longer.period = Period::years(10);
    let candidates = [application(1, 10, 2020)];
    assert!(shortened_impact(
        &[applications_5y()],
        &[longer],
        &candidates,
        date(2026, 3, 1)
    )
    .unwrap()
    .is_empty());
}

#[test]
fn turning_keep_into_delete_lists_every_dated_record() {
    let mut delete = qualifications_permanent();
    delete.period = Period::years(30);
    delete.action = RetentionAction::Delete;
    let candidates = [
        candidate(1, 10, Target::Qualification, Some(date(1990, 7, 1))),
        candidate(2, 20, Target::Qualification, Some(date(2020, 7, 1))),
        candidate(3, 30, Target::Qualification, None),
    ];
    let impact = shortened_impact(
        &[qualifications_permanent()],
        &[delete],
        &candidates,
        date(2026, 3, 1),
    )
    .unwrap();
    assert_eq!(impact[0].records.len(), 2);
    assert_eq!(impact[0].due_now(), 1);
}

#[test]
fn a_new_rule_for_an_unruled_target_is_an_impact() {
    let rule = rule(
        "result_5y",
        Target::Result,
        ClockEvent::FiscalYearEnd,
        Period::years(5),
        RetentionAction::Delete,
    );
    let candidates = [candidate(1, 10, Target::Result, Some(date(2016, 3, 31)))];
    let impact = shortened_impact(&[], &[rule], &candidates, date(2026, 3, 1)).unwrap();
    assert_eq!(impact[0].old, None);
    assert_eq!(impact[0].due_now(), 1);
}

#[test]
fn shortening_the_meister_inactivity_period_is_shown() {
    let mut two_years = meister_intent_3y();
    two_years.period = Period::years(2);
    let candidates = [candidate(1, 10, Target::Meister, Some(date(2023, 6, 10)))];
    let impact = shortened_impact(
        &[meister_intent_3y()],
        &[two_years],
        &candidates,
        date(2025, 7, 1),
    )
    .unwrap();
    assert_eq!(impact[0].due_now(), 1);
}

// ---- no record values in outputs ---------------------------------------------------------

#[test]
fn plans_execution_sets_and_impacts_carry_no_clock_dates() {
    // A distinctive pass date and fiscal-year end, seeded and searched for.
    let seeded = ["1987-11-23", "2013-03-31"];
    let rules = [applications_5y()];
    let candidates = [
        application(1, 10, 2012),
        candidate(2, 20, Target::Qualification, Some(date(1987, 11, 23))),
    ];
    let p = plan(&rules, &candidates, date(2026, 4, 1));
    assert_eq!(p.record_count(), 1);
    let a = approved(p);
    let set = recheck_without_holds(&a, &rules, &candidates, date(2026, 4, 2));
    let mut shorter = applications_5y();
    shorter.period = Period::years(1);
    let impact = shortened_impact(
        &rules,
        &[shorter],
        &[application(3, 30, 2024)],
        date(2026, 4, 2),
    )
    .unwrap();
    assert_eq!(impact.len(), 1);
    let outputs = [
        serde_json::to_string(a.plan()).unwrap(),
        format!("{:?}", a.plan()),
        serde_json::to_string(&set).unwrap(),
        format!("{set:?}"),
        serde_json::to_string(&impact).unwrap(),
        format!("{impact:?}"),
        format!("{candidates:?}"),
    ];
    for out in &outputs {
        for value in seeded {
            assert!(!out.contains(value), "{value} found in {out}");
        }
    }
    // The FY2024 application's clock date must not show in the impact either.
    assert!(!outputs[4].contains("2025-03-31"));
}
