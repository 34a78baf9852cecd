//! C21: meisters with no activity for 3 years are listed, asked about their intent,
//! and deregistered when they do not intend to continue or do not answer in time.

mod retention_support;

use chrono::NaiveDate;
use retention_support::*;
use vault_core::retention::{
    inactive_meisters, IntentAnswer, IntentCheck, MeisterEvent, MeisterStanding, MeisterStatus,
    Period, MEISTER_INACTIVITY_PERIOD,
};

fn meister(n: u128, certified_on: NaiveDate, last_activity: Option<NaiveDate>) -> MeisterStanding {
    MeisterStanding {
        meister_id: id(n),
        certified_on,
        last_activity,
        status: MeisterStatus::Active,
    }
}

#[test]
fn default_inactivity_period_is_three_years() {
    assert_eq!(MEISTER_INACTIVITY_PERIOD, Period::years(3));
}

#[test]
fn meister_active_last_year_is_not_listed() {
    let m = meister(1, date(2015, 6, 1), Some(date(2025, 9, 14)));
    assert!(inactive_meisters(&[m], MEISTER_INACTIVITY_PERIOD, date(2026, 6, 1)).is_empty());
}

#[test]
fn meister_inactive_three_years_is_listed() {
    let m = meister(1, date(2015, 6, 1), Some(date(2022, 5, 20)));
    assert_eq!(
        inactive_meisters(&[m], MEISTER_INACTIVITY_PERIOD, date(2026, 6, 1)),
        vec![id(1)]
    );
}

#[test]
fn meister_is_listed_from_the_day_after_three_full_years_and_not_on_their_last_day() {
    let m = meister(1, date(2015, 6, 1), Some(date(2023, 6, 10)));
    let list =
        |as_of| inactive_meisters(std::slice::from_ref(&m), MEISTER_INACTIVITY_PERIOD, as_of);
    assert!(list(date(2026, 6, 10)).is_empty());
    assert_eq!(list(date(2026, 6, 11)), vec![id(1)]);
}

#[test]
fn meister_without_activity_counts_from_certification() {
    let m = meister(1, date(2023, 6, 10), None);
    let list =
        |as_of| inactive_meisters(std::slice::from_ref(&m), MEISTER_INACTIVITY_PERIOD, as_of);
    assert!(list(date(2026, 6, 10)).is_empty());
    assert_eq!(list(date(2026, 6, 11)), vec![id(1)]);
}

#[test]
fn certification_later_than_the_last_activity_counts() {
    let m = meister(1, date(2025, 4, 1), Some(date(2019, 1, 1)));
    assert!(inactive_meisters(&[m], MEISTER_INACTIVITY_PERIOD, date(2026, 6, 1)).is_empty());
}

#[test]
fn only_active_meisters_are_listed() {
    let mut asked = meister(1, date(2010, 1, 1), None);
    asked.status = MeisterStatus::IntentCheck;
    let mut gone = meister(2, date(2010, 1, 1), None);
    gone.status = MeisterStatus::Deregistered;
    let idle = meister(3, date(2010, 1, 1), None);
    assert_eq!(
        inactive_meisters(
            &[asked, gone, idle],
            MEISTER_INACTIVITY_PERIOD,
            date(2026, 6, 1)
        ),
        vec![id(3)]
    );
}

#[test]
fn intent_check_starts_from_active() {
    assert_eq!(
        MeisterStatus::Active.apply(MeisterEvent::StartIntentCheck),
        Ok(MeisterStatus::IntentCheck)
    );
}

#[test]
fn intent_to_continue_returns_to_active() {
    assert_eq!(
        MeisterStatus::IntentCheck.apply(MeisterEvent::ContinueAnswered),
        Ok(MeisterStatus::Active)
    );
}

#[test]
fn no_intent_or_deadline_passed_deregisters() {
    for event in [MeisterEvent::NoIntentAnswered, MeisterEvent::DeadlinePassed] {
        assert_eq!(
            MeisterStatus::IntentCheck.apply(event),
            Ok(MeisterStatus::Deregistered)
        );
    }
}

#[test]
fn deregistered_is_final() {
    for event in [
        MeisterEvent::StartIntentCheck,
        MeisterEvent::ContinueAnswered,
        MeisterEvent::NoIntentAnswered,
        MeisterEvent::DeadlinePassed,
    ] {
        assert!(
            MeisterStatus::Deregistered.apply(event).is_err(),
            "{event:?}"
        );
    }
}

#[test]
fn an_active_meister_cannot_be_deregistered_without_an_intent_check() {
    assert!(MeisterStatus::Active
        .apply(MeisterEvent::DeadlinePassed)
        .is_err());
    assert!(MeisterStatus::Active
        .apply(MeisterEvent::NoIntentAnswered)
        .is_err());
}

#[test]
fn intent_check_deadline_is_counted_like_a_period() {
    let check = IntentCheck::answer_within(date(2026, 4, 10), Period::months(1)).unwrap();
    assert_eq!(check.deadline, date(2026, 5, 10));
}

#[test]
fn continue_answered_on_the_deadline_counts() {
    let check = IntentCheck {
        started_on: date(2026, 4, 10),
        deadline: date(2026, 5, 10),
    };
    let answer = Some((IntentAnswer::Continue, date(2026, 5, 10)));
    assert_eq!(
        check.outcome(answer, date(2026, 5, 20)),
        Some(MeisterEvent::ContinueAnswered)
    );
}

#[test]
fn no_answer_by_the_deadline_deregisters_from_the_next_day() {
    let check = IntentCheck {
        started_on: date(2026, 4, 10),
        deadline: date(2026, 5, 10),
    };
    assert_eq!(check.outcome(None, date(2026, 5, 10)), None);
    assert_eq!(
        check.outcome(None, date(2026, 5, 11)),
        Some(MeisterEvent::DeadlinePassed)
    );
}

#[test]
fn a_late_answer_to_continue_does_not_count() {
    let check = IntentCheck {
        started_on: date(2026, 4, 10),
        deadline: date(2026, 5, 10),
    };
    let late = Some((IntentAnswer::Continue, date(2026, 5, 11)));
    assert_eq!(
        check.outcome(late, date(2026, 5, 12)),
        Some(MeisterEvent::DeadlinePassed)
    );
}

#[test]
fn no_intent_answer_deregisters_at_once() {
    let check = IntentCheck {
        started_on: date(2026, 4, 10),
        deadline: date(2026, 5, 10),
    };
    let answer = Some((IntentAnswer::NoIntent, date(2026, 4, 20)));
    assert_eq!(
        check.outcome(answer, date(2026, 4, 20)),
        Some(MeisterEvent::NoIntentAnswered)
    );
}

#[test]
fn meister_standing_debug_does_not_show_dates() {
    let m = meister(1, date(1998, 10, 27), Some(date(2003, 2, 14)));
    let shown = format!("{m:?}");
    assert!(
        !shown.contains("1998") && !shown.contains("2003"),
        "{shown}"
    );
}

#[test]
fn meister_status_names_round_trip() {
    for s in [
        MeisterStatus::Active,
        MeisterStatus::IntentCheck,
        MeisterStatus::Deregistered,
    ] {
        assert_eq!(s.as_str().parse::<MeisterStatus>(), Ok(s));
    }
    assert!("retired".parse::<MeisterStatus>().is_err());
}
