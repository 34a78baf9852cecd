//! Retention rules (保存期間): what is kept, from which event, for how long, and what happens then.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::vocab::{named_enum, UnknownName};

named_enum! {
    /// What a retention rule applies to.
    RetentionTarget {
        /// 個人番号: the My Number compartment row and its key, apart from the rest of the subject.
        MyNumber => "my_number",
        /// 受検者: the examinee person record.
        Examinee => "examinee",
        /// 受検申請: one application.
        Application => "application",
        /// 受検管理: the result of one application.
        Result => "result",
        /// 合格者 / 技能士名簿: a qualification.
        Qualification => "qualification",
        /// ものづくりマイスター: a meister and its activities.
        Meister => "meister",
        /// Audit events (アクセス記録).
        AuditEvent => "audit_event",
    }
}

impl RetentionTarget {
    /// The clock events that make sense for this target; the loader rejects any other pairing.
    pub fn allowed_clocks(self) -> &'static [ClockEvent] {
        match self {
            RetentionTarget::MyNumber => {
                &[ClockEvent::LastApplicationFiscalYearEndOrDeletionRequest]
            }
            RetentionTarget::Examinee => &[ClockEvent::NoDependentRecords],
            RetentionTarget::Application | RetentionTarget::Result => {
                &[ClockEvent::ExamFiscalYearEnd]
            }
            RetentionTarget::Qualification => &[ClockEvent::PassDate],
            RetentionTarget::Meister => &[
                ClockEvent::LastActivityOrCertification,
                ClockEvent::DeregistrationDate,
            ],
            RetentionTarget::AuditEvent => &[ClockEvent::EventTime],
        }
    }
}

named_enum! {
    /// The event that starts a retention clock.
    ClockEvent {
        /// End of the fiscal year of the subject's last application, or the subject's request
        /// to delete the number (番号の削除請求).
        LastApplicationFiscalYearEndOrDeletionRequest => "last_application_fiscal_year_end_or_deletion_request",
        /// End of the fiscal year (年度末, 31 March) of the exam the record belongs to.
        ExamFiscalYearEnd => "exam_fiscal_year_end",
        /// The day no application, result or qualification of the examinee remains.
        NoDependentRecords => "no_dependent_records",
        /// 合格日付 (pass date).
        PassDate => "pass_date",
        /// The meister's last activity, or the certification date when there was none.
        LastActivityOrCertification => "last_activity_or_certification",
        /// 登録解除日 (the date the meister was deregistered).
        DeregistrationDate => "deregistration_date",
        /// The time the audit event was written.
        EventTime => "event_time",
    }
}

impl ClockEvent {
    /// A one-line explanation for people reading `policy explain`.
    pub fn describe(self) -> &'static str {
        match self {
            ClockEvent::LastApplicationFiscalYearEndOrDeletionRequest => {
                "end of the fiscal year of the last application, or the subject's deletion request"
            }
            ClockEvent::ExamFiscalYearEnd => "end of the exam's fiscal year (31 March)",
            ClockEvent::NoDependentRecords => {
                "when no application, result or qualification of the examinee remains"
            }
            ClockEvent::PassDate => "pass date (合格日付)",
            ClockEvent::LastActivityOrCertification => {
                "last activity, or certification date if none"
            }
            ClockEvent::DeregistrationDate => "deregistration date (登録解除日)",
            ClockEvent::EventTime => "time of the event",
        }
    }
}

named_enum! {
    /// What happens to a record once its period has passed.
    RetentionAction {
        /// Delete the record (and shred its key when it is the subject's last record).
        Delete => "delete",
        /// Delete the My Number compartment row and its key; the rest of the subject remains.
        ShredMyNumber => "shred_my_number",
        /// Keep for good (only with a `permanent` period).
        Keep => "keep",
        /// Mark the meister `intent_check` (意向確認); never deletes.
        FlagIntentCheck => "flag_intent_check",
        /// Delete audit events while keeping the chain verifiable from a signed checkpoint.
        DeleteKeepCheckpoint => "delete_keep_checkpoint",
    }
}

impl RetentionAction {
    /// Whether the action removes data.
    pub fn deletes(self) -> bool {
        matches!(
            self,
            RetentionAction::Delete
                | RetentionAction::ShredMyNumber
                | RetentionAction::DeleteKeepCheckpoint
        )
    }
}

/// A retention period (保存期間): a number of years, months and days, or permanent.
///
/// Written in the policy file as `"5 years"`, `"3 years 6 months"`, `"0 days"` or `"permanent"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Period {
    /// Kept for good (永年保存).
    Permanent,
    /// Kept for this long after the clock event.
    Finite {
        /// Whole years.
        years: u32,
        /// Whole months.
        months: u32,
        /// Days.
        days: u32,
    },
}

/// A period text that could not be read; the message says what form is expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPeriod(String);

impl Period {
    /// A finite period of whole years.
    pub fn years(years: u32) -> Period {
        Period::Finite {
            years,
            months: 0,
            days: 0,
        }
    }

    /// Whether the period never ends.
    pub fn is_permanent(self) -> bool {
        matches!(self, Period::Permanent)
    }

    /// The last day a record is kept when its clock event fell on `clock_start`.
    ///
    /// The 行政文書 convention, the same count as vault-core's retention module (which the
    /// vault's retention runs use): the period starts the day after the clock event
    /// (初日不算入, 民法第140条); a period of years or months ends the day before the day
    /// of its last month that corresponds to the start day, or on that month's last day
    /// when the month has no such day (民法第143条第2項); days are added after. `None`
    /// when the period is permanent or the date would overflow.
    ///
    /// Example: 1 month from 2024-04-30 is kept through 2024-05-31 (the period is May).
    pub fn kept_through(self, clock_start: NaiveDate) -> Option<NaiveDate> {
        self.due_from(clock_start)?.pred_opt()
    }

    /// The first day a record may be deleted (the day after [`Period::kept_through`]).
    ///
    /// Example: an FY2020 application (clock 2021-03-31) kept 5 years is due from 2026-04-01.
    pub fn due_from(self, clock_start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Permanent => None,
            Period::Finite {
                years,
                months,
                days,
            } => {
                let start = clock_start.succ_opt()?;
                let total_months = years.checked_mul(12)?.checked_add(months)?;
                add_months_civil(start, total_months)?.checked_add_days(Days::new(u64::from(days)))
            }
        }
    }
}

/// The day after the last day of a period of `months` months that started on `start`
/// (民法第143条).
fn add_months_civil(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    use chrono::Datelike;
    if months == 0 {
        return Some(start);
    }
    let index = i64::from(start.year()) * 12 + i64::from(start.month0()) + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    match NaiveDate::from_ymd_opt(year, month, start.day()) {
        // The corresponding day exists: the period ended the day before it.
        Some(corresponding) => Some(corresponding),
        // No corresponding day: the period ended on that month's last day.
        None => NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(Months::new(1)),
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Permanent => f.write_str("permanent"),
            Period::Finite {
                years,
                months,
                days,
            } => {
                let mut parts = Vec::new();
                for (n, one, many) in [
                    (years, "year", "years"),
                    (months, "month", "months"),
                    (days, "day", "days"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {}", if n == 1 { one } else { many }));
                    }
                }
                if parts.is_empty() {
                    f.write_str("0 days")
                } else {
                    f.write_str(&parts.join(" "))
                }
            }
        }
    }
}

impl FromStr for Period {
    type Err = BadPeriod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const FORM: &str =
            "write a period as \"5 years\", \"3 years 6 months\", \"30 days\", \"0 days\" or \"permanent\"";
        let text = s.trim();
        if text == "permanent" {
            return Ok(Period::Permanent);
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(2) {
            return Err(BadPeriod(FORM.to_owned()));
        }
        let mut seen = [false; 3];
        let mut value = [0u32; 3];
        for pair in words.chunks(2) {
            let n: u32 = pair[0].parse().map_err(|_| BadPeriod(FORM.to_owned()))?;
            let slot = match pair[1] {
                "year" | "years" => 0,
                "month" | "months" => 1,
                "day" | "days" => 2,
                _ => return Err(BadPeriod(FORM.to_owned())),
            };
            if seen[slot] {
                return Err(BadPeriod(format!(
                    "the unit `{}` appears twice; {FORM}",
                    pair[1]
                )));
            }
            seen[slot] = true;
            value[slot] = n;
        }
        // Limits keep date arithmetic far from overflow; nothing is kept for 500 years.
        if value[0] > 500 || value[1] > 6000 || value[2] > 200_000 {
            return Err(BadPeriod(
                "the period is longer than 500 years; use \"permanent\"".to_owned(),
            ));
        }
        Ok(Period::Finite {
            years: value[0],
            months: value[1],
            days: value[2],
        })
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One retention rule of the policy (保存期間の定め).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    pub(crate) id: String,
    pub(crate) target: RetentionTarget,
    pub(crate) clock: ClockEvent,
    pub(crate) period: Period,
    pub(crate) action: RetentionAction,
    pub(crate) line: usize,
}

impl RetentionRule {
    /// The rule's name, unique in the policy; erasure certificates cite it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the rule applies to.
    pub fn target(&self) -> RetentionTarget {
        self.target
    }

    /// The event that starts the clock.
    pub fn clock(&self) -> ClockEvent {
        self.clock
    }

    /// How long the record is kept after the clock event.
    pub fn period(&self) -> Period {
        self.period
    }

    /// What happens once the period has passed.
    pub fn action(&self) -> RetentionAction {
        self.action
    }

    /// The line of the policy file where the rule starts.
    pub fn line(&self) -> usize {
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn fy2020_application_kept_five_years_is_due_from_2026_04_01() {
        let p: Period = "5 years".parse().unwrap();
        assert_eq!(p.kept_through(date(2021, 3, 31)), Some(date(2026, 3, 31)));
        assert_eq!(p.due_from(date(2021, 3, 31)), Some(date(2026, 4, 1)));
    }

    #[test]
    fn zero_period_is_due_the_next_day() {
        let p: Period = "0 days".parse().unwrap();
        assert_eq!(p.due_from(date(2024, 5, 1)), Some(date(2024, 5, 2)));
    }

    #[test]
    fn a_month_from_a_short_months_last_day_runs_to_the_end_of_the_next_month() {
        let p: Period = "1 month".parse().unwrap();
        assert_eq!(p.kept_through(date(2024, 4, 30)), Some(date(2024, 5, 31)));
        assert_eq!(p.due_from(date(2024, 4, 30)), Some(date(2024, 6, 1)));
        assert_eq!(p.kept_through(date(2021, 1, 30)), Some(date(2021, 2, 28)));
        assert_eq!(p.kept_through(date(2024, 1, 15)), Some(date(2024, 2, 15)));
    }

    #[test]
    fn days_are_added_after_years_and_months() {
        let p: Period = "1 year 2 months 3 days".parse().unwrap();
        assert_eq!(p.kept_through(date(2021, 3, 31)), Some(date(2022, 6, 3)));
        let p: Period = "10 days".parse().unwrap();
        assert_eq!(p.kept_through(date(2024, 5, 1)), Some(date(2024, 5, 11)));
    }

    #[test]
    fn permanent_is_never_due() {
        assert_eq!(Period::Permanent.due_from(date(2024, 5, 1)), None);
    }

    #[test]
    fn year_from_leap_day_ends_on_last_day_of_february() {
        assert_eq!(
            Period::years(1).kept_through(date(2024, 2, 29)),
            Some(date(2025, 2, 28))
        );
    }

    #[test]
    fn period_text_round_trips() {
        for text in [
            "5 years",
            "1 year",
            "3 years 6 months",
            "0 days",
            "permanent",
            "10 days",
        ] {
            let p: Period = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
    }

    #[test]
    fn malformed_periods_are_rejected() {
        for text in [
            "",
            "5",
            "years",
            "five years",
            "5 weeks",
            "1 year 2 years",
            "-1 days",
        ] {
            assert!(text.parse::<Period>().is_err(), "{text:?} accepted");
        }
    }
}
