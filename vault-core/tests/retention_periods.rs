//! How retention periods are counted (行政文書 convention) and when a record is due.

mod retention_support;

use chrono::{NaiveDate, TimeZone, Utc};
use retention_support::*;
use vault_core::retention::{
    due_from, is_due, today_in_japan, ClockEvent, FiscalYear, Period, RetentionAction, Target,
};

#[test]
fn fiscal_year_runs_from_april_first_to_march_thirty_first() {
    assert_eq!(FiscalYear(2020).first_day(), Some(date(2020, 4, 1)));
    assert_eq!(FiscalYear(2020).last_day(), Some(date(2021, 3, 31)));
    assert_eq!(FiscalYear::containing(date(2020, 4, 1)), FiscalYear(2020));
    assert_eq!(FiscalYear::containing(date(2021, 3, 31)), FiscalYear(2020));
    assert_eq!(FiscalYear::containing(date(2020, 3, 31)), FiscalYear(2019));
}

#[test]
fn fy2020_application_kept_five_years_is_kept_through_2026_03_31_and_due_from_2026_04_01() {
    let rule = applications_5y();
    let fy_end = FiscalYear(2020).last_day().unwrap();
    assert_eq!(fy_end, date(2021, 3, 31));
    assert_eq!(rule.period.kept_through(fy_end), Some(date(2026, 3, 31)));
    assert_eq!(due_from(&rule, fy_end), Some(date(2026, 4, 1)));
}

#[test]
fn record_is_due_on_its_due_from_day_and_not_the_day_before() {
    let rule = applications_5y();
    let fy_end = Some(date(2021, 3, 31));
    assert!(!is_due(&rule, fy_end, date(2026, 3, 31)));
    assert!(is_due(&rule, fy_end, date(2026, 4, 1)));
    assert!(is_due(&rule, fy_end, date(2030, 1, 1)));
}

#[test]
fn year_from_leap_day_is_kept_through_february_28() {
    let p = Period::years(1);
    assert_eq!(p.kept_through(date(2020, 2, 29)), Some(date(2021, 2, 28)));
    assert_eq!(p.due_from(date(2020, 2, 29)), Some(date(2021, 3, 1)));
}

#[test]
fn years_to_a_leap_february_from_february_28_are_kept_through_the_29th() {
    // Period starts 2021-03-01; three years later the day before 2024-03-01 is 02-29.
    assert_eq!(
        Period::years(3).kept_through(date(2021, 2, 28)),
        Some(date(2024, 2, 29))
    );
}

#[test]
fn month_without_a_corresponding_day_ends_on_that_months_last_day() {
    // Clock 2021-01-30: period starts 01-31; February has no 31st, so it ends 02-28.
    assert_eq!(
        Period::months(1).kept_through(date(2021, 1, 30)),
        Some(date(2021, 2, 28))
    );
    assert_eq!(
        Period::months(1).due_from(date(2021, 1, 30)),
        Some(date(2021, 3, 1))
    );
}

#[test]
fn month_from_the_last_day_of_a_short_month_runs_to_the_end_of_the_next_month() {
    // Clock 2024-04-30: period 2024-05-01..=2024-05-31 (never the earlier 05-30).
    assert_eq!(
        Period::months(1).kept_through(date(2024, 4, 30)),
        Some(date(2024, 5, 31))
    );
    assert_eq!(
        Period::months(1).due_from(date(2024, 4, 30)),
        Some(date(2024, 6, 1))
    );
}

#[test]
fn month_with_a_corresponding_day_ends_the_day_before_it() {
    assert_eq!(
        Period::months(1).kept_through(date(2024, 1, 15)),
        Some(date(2024, 2, 15))
    );
    assert_eq!(
        Period::months(1).due_from(date(2024, 1, 15)),
        Some(date(2024, 2, 16))
    );
}

#[test]
fn days_do_not_count_the_clock_day() {
    assert_eq!(
        Period::days(10).kept_through(date(2024, 5, 1)),
        Some(date(2024, 5, 11))
    );
    assert_eq!(
        Period::days(10).due_from(date(2024, 5, 1)),
        Some(date(2024, 5, 12))
    );
}

#[test]
fn zero_period_is_due_the_day_after_the_clock_event() {
    assert_eq!(
        Period::days(0).due_from(date(2024, 5, 1)),
        Some(date(2024, 5, 2))
    );
}

#[test]
fn years_months_and_days_add_months_first_then_days() {
    let p = Period::Finite {
        years: 1,
        months: 2,
        days: 3,
    };
    // Start 2021-04-01; +14 months = 2022-06-01; +3 days = 2022-06-04.
    assert_eq!(p.due_from(date(2021, 3, 31)), Some(date(2022, 6, 4)));
}

#[test]
fn permanent_period_is_never_due() {
    let rule = qualifications_permanent();
    assert_eq!(due_from(&rule, date(1990, 7, 1)), None);
    assert!(!is_due(&rule, Some(date(1990, 7, 1)), date(2100, 1, 1)));
}

#[test]
fn missing_clock_date_is_never_due() {
    let rule = rule(
        "examinee_0d",
        Target::ExamineePerson,
        ClockEvent::NoRecordsRemain,
        Period::days(0),
        RetentionAction::Delete,
    );
    assert!(!is_due(&rule, None, date(2100, 1, 1)));
}

#[test]
fn a_date_beyond_the_calendar_range_is_never_due() {
    assert_eq!(Period::years(1).due_from(NaiveDate::MAX), None);
    assert_eq!(Period::years(u32::MAX).due_from(date(2020, 1, 1)), None);
}

#[test]
fn clock_date_in_the_future_is_not_due() {
    let rule = applications_5y();
    assert!(!is_due(&rule, Some(date(2031, 3, 31)), date(2026, 4, 1)));
}

#[test]
fn period_displays_as_words() {
    assert_eq!(Period::years(5).to_string(), "5 years");
    assert_eq!(Period::years(1).to_string(), "1 year");
    assert_eq!(Period::days(0).to_string(), "0 days");
    assert_eq!(Period::Permanent.to_string(), "permanent");
    let p = Period::Finite {
        years: 3,
        months: 6,
        days: 0,
    };
    assert_eq!(p.to_string(), "3 years 6 months");
}

#[test]
fn period_round_trips_through_json() {
    for p in [Period::Permanent, Period::years(5), Period::days(0)] {
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Period>(&json).unwrap(), p);
    }
    assert_eq!(
        serde_json::to_string(&Period::Permanent).unwrap(),
        "\"permanent\""
    );
}

#[test]
fn today_in_japan_is_the_next_day_from_15_00_utc() {
    let before = Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 59).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap();
    assert_eq!(today_in_japan(before), date(2026, 3, 31));
    assert_eq!(today_in_japan(after), date(2026, 4, 1));
}

#[test]
fn candidate_debug_does_not_show_the_clock_date() {
    let c = candidate(1, 2, Target::Qualification, Some(date(1987, 11, 23)));
    let shown = format!("{c:?}");
    assert!(!shown.contains("1987"), "{shown}");
    assert!(shown.contains("<set>"));
}
