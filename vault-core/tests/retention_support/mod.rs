//! Builders shared by the retention tests (`retention_*.rs`).
#![allow(dead_code, unreachable_pub)]

use chrono::NaiveDate;
use uuid::Uuid;
use vault_core::retention::{
    approve, build_plan, recheck, ApprovedPlan, Candidate, ClockEvent, ExecutionSet, LegalHolds,
    Period, RetentionAction, RuleSpec, Target, RETENTION_APPROVER_ROLE,
};

pub const CREATOR: &str = "operator-sato";
pub const APPROVER: &str = "approver-suzuki";
pub const EXECUTOR: &str = "operator-sato";

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn rule(
    name: &str,
    target: Target,
    clock: ClockEvent,
    period: Period,
    action: RetentionAction,
) -> RuleSpec {
    RuleSpec {
        name: name.to_owned(),
        target,
        clock,
        period,
        action,
    }
}

/// 受検申請: 5 years from the end of the exam's fiscal year, then delete.
pub fn applications_5y() -> RuleSpec {
    rule(
        "application_5y",
        Target::Application,
        ClockEvent::FiscalYearEnd,
        Period::years(5),
        RetentionAction::Delete,
    )
}

/// 個人番号: 5 years from the last application's fiscal year end, then the compartment goes.
pub fn my_number_5y() -> RuleSpec {
    rule(
        "my_number_5y",
        Target::MyNumber,
        ClockEvent::LastApplicationFiscalYearEnd,
        Period::years(5),
        RetentionAction::DeleteCompartment,
    )
}

/// 技能士名簿: permanent.
pub fn qualifications_permanent() -> RuleSpec {
    rule(
        "qualification_permanent",
        Target::Qualification,
        ClockEvent::PassDate,
        Period::Permanent,
        RetentionAction::Keep,
    )
}

/// Meister inactivity: flag for the intent check after 3 years.
pub fn meister_intent_3y() -> RuleSpec {
    rule(
        "meister_intent_3y",
        Target::Meister,
        ClockEvent::LastActivity,
        Period::years(3),
        RetentionAction::FlagIntentCheck,
    )
}

pub fn candidate(subject: u128, record: u128, kind: Target, clock: Option<NaiveDate>) -> Candidate {
    Candidate {
        subject_id: id(subject),
        record_id: id(record),
        kind,
        clock_date: clock,
        prefecture: "13".to_owned(),
    }
}

/// An application of fiscal year `fy` (clock: that fiscal year's end).
pub fn application(subject: u128, record: u128, fy: i32) -> Candidate {
    candidate(
        subject,
        record,
        Target::Application,
        Some(date(fy + 1, 3, 31)),
    )
}

/// A plan made by [`CREATOR`] without holds, approved by [`APPROVER`].
pub fn approved_plan(
    rules: &[RuleSpec],
    candidates: &[Candidate],
    as_of: NaiveDate,
) -> ApprovedPlan {
    let plan = build_plan(rules, candidates, &LegalHolds::new(), as_of, CREATOR).unwrap();
    approve(plan, APPROVER, &[RETENTION_APPROVER_ROLE]).unwrap()
}

/// The execution-time re-check with no holds.
pub fn recheck_without_holds(
    approved: &ApprovedPlan,
    rules: &[RuleSpec],
    candidates: &[Candidate],
    now: NaiveDate,
) -> ExecutionSet {
    recheck(approved, rules, candidates, &LegalHolds::new(), now).unwrap()
}
