//! Date arithmetic of retention periods (保存期間の計算), by the 行政文書 convention.
//!
//! - A fiscal year (年度) N runs from N-04-01 to (N+1)-03-31.
//! - A period does not count the day of its clock event (初日不算入, 民法第140条): it
//!   starts the next day. A fiscal-year-end clock (03-31) therefore starts the period on
//!   04-01 of the next fiscal year, as 公文書管理法施行令第8条 has it.
//! - A period in years or months ends at the end of the day before the day of the last
//!   month that corresponds to the start day; when the last month has no such day (a
//!   start on the 29th–31st), it ends on that month's last day (民法第143条第2項).
//!   Days are added after years and months.
//! - The record is kept through the last day of its period and is due from the next day.
//!
//! Example: an FY2020 application (fiscal year end 2021-03-31) kept 5 years starts its
//! period on 2021-04-01, is kept through 2026-03-31 and is due from 2026-04-01.
//!
//! This rule is never earlier than "add the period to the clock date, clamping to the
//! month's end" and is later in exactly one case: a clock date that is the last day of
//! a short month. 2024-04-30 + 1 month is due from 2024-06-01 here (the period is
//! 2024-05-01..=2024-05-31), not from 2024-05-31.

use std::fmt;

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A fiscal year (年度): fiscal year N runs from N-04-01 to (N+1)-03-31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FiscalYear(pub i32);

impl FiscalYear {
    /// The fiscal year that contains `date` (January–March belong to the previous year's FY).
    pub fn containing(date: NaiveDate) -> FiscalYear {
        if date.month() >= 4 {
            FiscalYear(date.year())
        } else {
            FiscalYear(date.year() - 1)
        }
    }

    /// The first day, N-04-01; `None` outside chrono's date range.
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.0, 4, 1)
    }

    /// The last day (年度末), (N+1)-03-31; `None` outside chrono's date range.
    pub fn last_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.0.checked_add(1)?, 3, 31)
    }
}

/// A retention period (保存期間): whole years, months and days, or permanent (永年).
///
/// Serialised as `"permanent"` or `{"finite":{"years":5,"months":0,"days":0}}`;
/// displayed as `permanent`, `5 years`, `3 years 6 months`, `0 days`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Kept for good (永年保存): never due.
    Permanent,
    /// Kept this long after the clock event.
    Finite {
        /// Whole years.
        years: u32,
        /// Whole months.
        months: u32,
        /// Days, added after the years and months.
        days: u32,
    },
}

impl Period {
    /// A period of whole years.
    pub const fn years(years: u32) -> Period {
        Period::Finite {
            years,
            months: 0,
            days: 0,
        }
    }

    /// A period of whole months.
    pub const fn months(months: u32) -> Period {
        Period::Finite {
            years: 0,
            months,
            days: 0,
        }
    }

    /// A period of days (`Period::days(0)`: due the day after the clock event).
    pub const fn days(days: u32) -> Period {
        Period::Finite {
            years: 0,
            months: 0,
            days,
        }
    }

    /// Whether the period never ends.
    pub fn is_permanent(self) -> bool {
        matches!(self, Period::Permanent)
    }

    /// The first day on which a record whose clock event fell on `clock_date` is due.
    ///
    /// `None` for a permanent period, and also when the date would leave chrono's range
    /// (a record that cannot be dated is never due).
    pub fn due_from(self, clock_date: NaiveDate) -> Option<NaiveDate> {
        let Period::Finite {
            years,
            months,
            days,
        } = self
        else {
            return None;
        };
        // 初日不算入: the period starts the day after the clock event.
        let start = clock_date.succ_opt()?;
        let total_months = years.checked_mul(12)?.checked_add(months)?;
        add_months_civil(start, total_months)?.checked_add_days(Days::new(u64::from(days)))
    }

    /// The last day a record is kept (the day before [`Period::due_from`]).
    pub fn kept_through(self, clock_date: NaiveDate) -> Option<NaiveDate> {
        self.due_from(clock_date)?.pred_opt()
    }
}

/// The day on which a period of `months` months that started on `start` is over
/// (the day after its last day), by 民法第143条.
fn add_months_civil(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    if months == 0 {
        return Some(start);
    }
    let index = i64::from(start.year()) * 12 + i64::from(start.month0()) + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    match NaiveDate::from_ymd_opt(year, month, start.day()) {
        // The corresponding day exists: the period ended the day before it.
        Some(corresponding) => Some(corresponding),
        // No corresponding day: the period ended on the month's last day.
        None => NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(Months::new(1)),
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Period::Finite {
            years,
            months,
            days,
        } = *self
        else {
            return f.write_str("permanent");
        };
        let mut first = true;
        for (n, one, many) in [
            (years, "year", "years"),
            (months, "month", "months"),
            (days, "day", "days"),
        ] {
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{n} {}", if n == 1 { one } else { many })?;
                first = false;
            }
        }
        if first {
            f.write_str("0 days")?;
        }
        Ok(())
    }
}

/// Today's date in Japan (JST, UTC+9, no daylight saving), the calendar retention counts in.
///
/// Use it to turn the current instant into the `as_of` / `now` of a retention run: at
/// 2026-03-31T15:00Z it is already 2026-04-01 in Japan.
pub fn today_in_japan(now: DateTime<Utc>) -> NaiveDate {
    match FixedOffset::east_opt(9 * 3600) {
        Some(jst) => now.with_timezone(&jst).date_naive(),
        // Unreachable (+09:00 is a valid offset); the UTC date is never later than
        // the JST date, so falling back to it can only delay a deletion.
        None => now.date_naive(),
    }
}

impl From<vault_policy::Period> for Period {
    /// The policy's period, counted by this module's rules (民法第143条).
    fn from(p: vault_policy::Period) -> Period {
        match p {
            vault_policy::Period::Permanent => Period::Permanent,
            vault_policy::Period::Finite {
                years,
                months,
                days,
            } => Period::Finite {
                years,
                months,
                days,
            },
            // An unknown kind of period is never a reason to delete: keep.
            _ => Period::Permanent,
        }
    }
}
