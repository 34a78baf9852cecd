//! Properties over random records, clock dates, periods, holds and days (C15):
//! no plan ever holds a record whose period has not passed, holds always exclude,
//! and the execution-time re-check never adds or keeps a record that is not due.

mod retention_support;

use std::collections::BTreeMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use proptest::prelude::*;
use retention_support::*;
use vault_core::retention::{
    approve, build_plan, recheck, Candidate, ClockEvent, LegalHolds, Period, RetentionAction,
    RuleSpec, Target, RETENTION_APPROVER_ROLE,
};

fn any_date(from_year: i32, to_year: i32) -> impl Strategy<Value = NaiveDate> {
    let first = date(from_year, 1, 1);
    let days = (date(to_year, 12, 31) - first).num_days();
    (0..=days).prop_map(move |d| first + chrono::Duration::days(d))
}

fn any_period() -> impl Strategy<Value = Period> {
    prop_oneof![
        1 => Just(Period::Permanent),
        8 => (0u32..12, 0u32..30, 0u32..800).prop_map(|(years, months, days)| Period::Finite {
            years,
            months,
            days
        }),
    ]
}

fn any_action() -> impl Strategy<Value = RetentionAction> {
    prop_oneof![
        Just(RetentionAction::Delete),
        Just(RetentionAction::DeleteCompartment),
        Just(RetentionAction::FlagIntentCheck),
        Just(RetentionAction::Keep),
        Just(RetentionAction::Prune),
    ]
}

/// At most one rule per target, each with a random period and action.
fn any_rules() -> impl Strategy<Value = Vec<RuleSpec>> {
    proptest::collection::vec(
        proptest::option::of((any_period(), any_action())),
        Target::ALL.len(),
    )
    .prop_map(|slots| {
        slots
            .into_iter()
            .zip(Target::ALL)
            .filter_map(|(slot, target)| {
                slot.map(|(period, action)| {
                    rule(
                        &format!("rule_{target}"),
                        target,
                        ClockEvent::EventTime,
                        period,
                        action,
                    )
                })
            })
            .collect()
    })
}

/// Rules, up to 80 records of 12 subjects (unique record ids) and a day. Most clock
/// dates are put so that the record's due day falls within a few weeks of that day
/// (where a one-day error shows); the others are anywhere.
fn scenario() -> impl Strategy<Value = (Vec<RuleSpec>, Vec<Candidate>, NaiveDate)> {
    (any_rules(), any_date(1995, 2055)).prop_flat_map(|(rules, as_of)| {
        let row = (
            0u128..12,
            0..Target::ALL.len(),
            proptest::bool::weighted(0.75),
            -40i64..40,
            proptest::option::weighted(0.9, any_date(1990, 2040)),
        );
        proptest::collection::vec(row, 0..80).prop_map(move |rows| {
            let candidates = rows
                .into_iter()
                .enumerate()
                .map(|(i, (subject, kind, near, jitter, anywhere))| {
                    let kind = Target::ALL[kind];
                    let period = rules.iter().find(|r| r.target == kind).map(|r| r.period);
                    let clock = match (near, anywhere, period) {
                        (true, Some(_), Some(period)) => {
                            near_due(as_of, period, jitter).or(anywhere)
                        }
                        _ => anywhere,
                    };
                    candidate(subject, 1000 + i as u128, kind, clock)
                })
                .collect();
            (rules.clone(), candidates, as_of)
        })
    })
}

/// A clock date whose due day under `period` is about `as_of + jitter` days.
fn near_due(as_of: NaiveDate, period: Period, jitter: i64) -> Option<NaiveDate> {
    let Period::Finite {
        years,
        months,
        days,
    } = period
    else {
        return None;
    };
    let approx = 365 * i64::from(years)
        + i64::from(years) / 4
        + (i64::from(months) * 3044) / 100
        + i64::from(days)
        + 1;
    as_of.checked_sub_signed(chrono::Duration::days(approx - jitter))
}

fn any_holds() -> impl Strategy<Value = LegalHolds> {
    proptest::collection::btree_set(0u128..12, 0..5).prop_map(|s| s.into_iter().map(id).collect())
}

/// The least number of days a period covers: a year is at least 365 days, a month 28.
fn minimum_days(period: Period) -> Option<i64> {
    match period {
        Period::Permanent => None,
        Period::Finite {
            years,
            months,
            days,
        } => Some(365 * i64::from(years) + 28 * i64::from(months) + i64::from(days)),
    }
}

/// The due day computed another way, with chrono's own month addition: from a month's
/// last day the period starts on the 1st (which every month has); from any other day,
/// adding the months to the clock date (clamping to the month's end) and starting the
/// next day lands on the civil-law day.
fn oracle_due(clock: NaiveDate, period: Period) -> Option<NaiveDate> {
    let Period::Finite {
        years,
        months,
        days,
    } = period
    else {
        return None;
    };
    let months = Months::new(years * 12 + months);
    let next = clock.succ_opt()?;
    let base = if next.day() == 1 {
        next.checked_add_months(months)?
    } else {
        clock.checked_add_months(months)?.succ_opt()?
    };
    base.checked_add_days(Days::new(u64::from(days)))
}

fn oracle_is_due(rule: &RuleSpec, clock: Option<NaiveDate>, as_of: NaiveDate) -> bool {
    clock
        .and_then(|c| oracle_due(c, rule.period))
        .is_some_and(|due| as_of >= due)
}

/// Execution-time records: the planned ones, some gone, some with their clock moved a
/// few days or anywhere, some given to another subject, plus new ones.
fn perturbed(candidates: &[Candidate], changes: &[(u8, i64, Option<NaiveDate>)]) -> Vec<Candidate> {
    let mut later: Vec<Candidate> = candidates
        .iter()
        .zip(changes.iter().cycle())
        .filter_map(|(c, (change, shift, anywhere))| {
            let mut c = c.clone();
            match change {
                0 => return None,
                1 => c.subject_id = id(c.subject_id.as_u128() + 1),
                2 => c.clock_date = c.clock_date.map(|d| d + chrono::Duration::days(*shift)),
                3 => c.clock_date = *anywhere,
                _ => {}
            }
            Some(c)
        })
        .collect();
    for (i, (_, _, clock)) in changes.iter().take(5).enumerate() {
        later.push(candidate(
            i as u128,
            9000 + i as u128,
            Target::ALL[i % Target::ALL.len()],
            *clock,
        ));
    }
    later
}

fn by_record(candidates: &[Candidate]) -> BTreeMap<(Target, uuid::Uuid), &Candidate> {
    candidates
        .iter()
        .map(|c| ((c.kind, c.record_id), c))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_plan_contains_a_record_whose_period_has_not_passed(
        (rules, candidates, as_of) in scenario(),
        holds in any_holds(),
    ) {
        let plan = build_plan(&rules, &candidates, &holds, as_of, CREATOR).unwrap();
        let index = by_record(&candidates);
        for plan_rule in &plan.rules {
            let rule = rules.iter().find(|r| r.name == plan_rule.rule).unwrap();
            prop_assert_ne!(rule.action, RetentionAction::Keep);
            for record in &plan_rule.records {
                let c = index[&(record.kind, record.record_id)];
                prop_assert_eq!(c.kind, rule.target);
                let clock = c.clock_date.expect("a planned record has a clock date");
                prop_assert!(rule.is_due(Some(clock), as_of));
                prop_assert!(oracle_is_due(rule, Some(clock), as_of), "planned before its due day");
                // Independent of any calendar code: the whole period lies between.
                let min = minimum_days(rule.period).expect("a permanent rule planned a record");
                prop_assert!((as_of - clock).num_days() > min, "due too early");
            }
        }
    }

    #[test]
    fn holds_always_exclude_and_are_counted(
        (rules, candidates, as_of) in scenario(),
        holds in any_holds(),
    ) {
        let plan = build_plan(&rules, &candidates, &holds, as_of, CREATOR).unwrap();
        for plan_rule in &plan.rules {
            prop_assert!(plan_rule.records.iter().all(|r| !holds.contains(&r.subject_id)));
            let rule = rules.iter().find(|r| r.name == plan_rule.rule).unwrap();
            let held_due = candidates
                .iter()
                .filter(|c| c.kind == rule.target && holds.contains(&c.subject_id))
                .filter(|c| oracle_is_due(rule, c.clock_date, as_of))
                .count() as u64;
            prop_assert_eq!(plan_rule.counts.held, held_due);
            let unheld_due = candidates
                .iter()
                .filter(|c| c.kind == rule.target && !holds.contains(&c.subject_id))
                .filter(|c| oracle_is_due(rule, c.clock_date, as_of))
                .count();
            prop_assert_eq!(plan_rule.records.len(), unheld_due, "a due record was left out");
        }
    }

    #[test]
    fn recheck_keeps_only_planned_records_due_under_the_rules_at_execution(
        (rules, candidates, as_of) in scenario(),
        other_rules in any_rules(),
        rules_changed in proptest::bool::weighted(0.3),
        changes in proptest::collection::vec((0u8..10, -5i64..5, proptest::option::weighted(0.9, any_date(1990, 2040))), 1..40),
        holds in any_holds(),
        later_holds in any_holds(),
        days_later in -3i64..30,
    ) {
        let now = as_of + chrono::Duration::days(days_later);
        let later_rules = if rules_changed { other_rules } else { rules.clone() };
        let later_candidates = perturbed(&candidates, &changes);
        let plan = build_plan(&rules, &candidates, &holds, as_of, CREATOR).unwrap();
        let approved = approve(plan, APPROVER, &[RETENTION_APPROVER_ROLE]).unwrap();
        let set = recheck(&approved, &later_rules, &later_candidates, &later_holds, now).unwrap();
        let index = by_record(&later_candidates);
        let planned = approved.plan().record_count();
        prop_assert_eq!(set.record_count() + set.skipped().len(), planned);
        for exec_rule in set.rules() {
            for record in &exec_rule.records {
                prop_assert!(approved.plan().contains(record.kind, record.record_id));
                prop_assert!(!later_holds.contains(&record.subject_id), "held subject kept");
                let rule = later_rules.iter().find(|r| r.target == record.kind).unwrap();
                prop_assert_eq!(rule.action, exec_rule.action);
                let c = index[&(record.kind, record.record_id)];
                prop_assert_eq!(c.subject_id, record.subject_id);
                prop_assert!(oracle_is_due(rule, c.clock_date, now), "kept a record not due now");
            }
        }
    }

    #[test]
    fn due_from_is_after_the_whole_period(clock in any_date(1900, 2200), period in any_period()) {
        match (period.due_from(clock), minimum_days(period)) {
            (None, None) => {}
            (Some(due), Some(min)) => prop_assert!((due - clock).num_days() > min),
            (due, _) => prop_assert!(false, "permanent and due {:?}", due),
        }
    }

    #[test]
    fn due_from_matches_the_chrono_oracle(clock in any_date(1900, 2200), period in any_period()) {
        prop_assert_eq!(period.due_from(clock), oracle_due(clock, period));
    }

    #[test]
    fn due_from_is_never_earlier_than_clamped_calendar_addition(
        clock in any_date(1900, 2200),
        years in 0u32..20,
        months in 0u32..40,
    ) {
        // The simpler reading (add the months to the clock date, clamp, start the next
        // day) is the same day or earlier: it is never the one used.
        let due = Period::Finite { years, months, days: 0 }.due_from(clock).unwrap();
        let clamped = clock.checked_add_months(Months::new(years * 12 + months)).unwrap().succ_opt().unwrap();
        prop_assert!(due >= clamped);
    }

    #[test]
    fn a_longer_period_is_never_due_earlier(
        clock in any_date(1900, 2200),
        (years, months, days) in (0u32..20, 0u32..40, 0u32..400),
        extra in (0u32..3, 0u32..3, 0u32..40),
    ) {
        let short = Period::Finite { years, months, days };
        let long = Period::Finite { years: years + extra.0, months: months + extra.1, days: days + extra.2 };
        prop_assert!(long.due_from(clock).unwrap() >= short.due_from(clock).unwrap());
    }
}
