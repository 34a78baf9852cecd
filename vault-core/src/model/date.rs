//! Dates as submitted at intake: ISO 8601 `YYYY-MM-DD` or 和暦 (`令和6年5月27日`),
//! and the date-times of the 合格者データ (学科試験日時, 実技試験日時).

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use zeroize::Zeroizing;

use super::error::ValueError;

/// A date of the calendar, from ISO 8601 or 和暦 input. Debug never shows the day.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

const fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        // Evaluated at compile time: a wrong constant fails the build.
        None => panic!("invalid date constant"),
    }
}

/// The earliest date accepted (the start of 明治).
pub const DATE_MIN: NaiveDate = ymd(1868, 1, 1);
/// The latest date accepted.
pub const DATE_MAX: NaiveDate = ymd(2200, 12, 31);

/// One era of the Japanese calendar: its name, the Gregorian year of its first
/// year (元年) and the days it covers.
struct Era {
    name: &'static str,
    first_year: i32,
    first_day: NaiveDate,
    last_day: Option<NaiveDate>,
}

/// 明治 starts at 明治6年1月1日 here: before it Japan used the lunisolar calendar,
/// whose dates do not convert by arithmetic. The first and last day of 大正 and
/// 昭和 are each shared with the neighbouring era, as in official practice.
const ERAS: [Era; 5] = [
    Era {
        name: "明治",
        first_year: 1868,
        first_day: ymd(1873, 1, 1),
        last_day: Some(ymd(1912, 7, 30)),
    },
    Era {
        name: "大正",
        first_year: 1912,
        first_day: ymd(1912, 7, 30),
        last_day: Some(ymd(1926, 12, 25)),
    },
    Era {
        name: "昭和",
        first_year: 1926,
        first_day: ymd(1926, 12, 25),
        last_day: Some(ymd(1989, 1, 7)),
    },
    Era {
        name: "平成",
        first_year: 1989,
        first_day: ymd(1989, 1, 8),
        last_day: Some(ymd(2019, 4, 30)),
    },
    Era {
        name: "令和",
        first_year: 2019,
        first_day: ymd(2019, 5, 1),
        last_day: None,
    },
];

impl Date {
    /// Parses `YYYY-MM-DD` or a 和暦 date such as `令和6年5月27日`, `平成元年1月8日`,
    /// `令和６年５月２７日` (full-width digits).
    pub fn parse(input: &str) -> Result<Date, ValueError> {
        if input.chars().count() > 20 {
            return Err(ValueError::TooLong);
        }
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if input.starts_with(|c: char| c.is_ascii_digit()) {
            Date::parse_iso(input)
        } else {
            Date::parse_wareki(input)
        }
    }

    /// Parses exactly `YYYY-MM-DD` (four-digit year, two-digit month and day).
    pub fn parse_iso(input: &str) -> Result<Date, ValueError> {
        let b = input.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(ValueError::InvalidFormat);
        }
        let year = digits_value(&b[..4]);
        let month = digits_value(&b[5..7]);
        let day = digits_value(&b[8..]);
        Date::from_parts(year as i32, month, day)
    }

    /// Parses a 和暦 date: era name, year (digits or 元), month and day, with
    /// `年`, `月`, `日`. Each era accepts only the days it covered.
    pub fn parse_wareki(input: &str) -> Result<Date, ValueError> {
        // Clear intermediates: the folded copy holds the submitted date.
        let folded: Zeroizing<String> = Zeroizing::new(input.chars().map(fold_digit).collect());
        let Some(era) = ERAS.iter().find(|e| folded.starts_with(e.name)) else {
            return Err(ValueError::InvalidFormat);
        };
        let rest = &folded[era.name.len()..];
        let (year_text, rest) = rest.split_once('年').ok_or(ValueError::InvalidFormat)?;
        let (month_text, rest) = rest.split_once('月').ok_or(ValueError::InvalidFormat)?;
        let (day_text, rest) = rest.split_once('日').ok_or(ValueError::InvalidFormat)?;
        if !rest.is_empty() {
            return Err(ValueError::InvalidFormat);
        }
        let year_of_era = if year_text == "元" {
            1
        } else {
            small_number(year_text, 3)?
        };
        let month = small_number(month_text, 2)?;
        let day = small_number(day_text, 2)?;
        if year_of_era == 0 {
            return Err(ValueError::OutOfRange);
        }
        let date = Date::from_parts(era.first_year + year_of_era as i32 - 1, month, day)?;
        let after_end = era.last_day.is_some_and(|last| date.0 > last);
        if date.0 < era.first_day || after_end {
            return Err(ValueError::OutOfRange);
        }
        Ok(date)
    }

    fn from_parts(year: i32, month: u32, day: u32) -> Result<Date, ValueError> {
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(ValueError::InvalidDate)?;
        if !(DATE_MIN..=DATE_MAX).contains(&date) {
            return Err(ValueError::OutOfRange);
        }
        Ok(Date(date))
    }

    /// The date as a `chrono` value (for retention arithmetic and encoding).
    pub fn to_naive(self) -> NaiveDate {
        self.0
    }

    /// The ISO 8601 form, `YYYY-MM-DD`.
    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Date(<redacted>)")
    }
}

/// Full-width digits (０..９) to ASCII.
fn fold_digit(c: char) -> char {
    match c {
        '０'..='９' => {
            char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c)
        }
        _ => c,
    }
}

/// The value of ASCII digits already checked by the caller.
fn digits_value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// 1..=`max_digits` ASCII digits.
fn small_number(text: &str, max_digits: usize) -> Result<u32, ValueError> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > max_digits || !b.iter().all(u8::is_ascii_digit) {
        return Err(ValueError::InvalidFormat);
    }
    Ok(digits_value(b))
}

/// A local (JST) date-time such as 学科試験日時: `YYYY-MM-DDTHH:MM[:SS]` (a space
/// may replace `T`), or only `YYYY-MM-DD` when the source system records the day.
///
/// Kept canonically as `YYYY-MM-DDTHH:MM:SS`, or `YYYY-MM-DD` for a day.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(DateTimeInner);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum DateTimeInner {
    Day(NaiveDate),
    At(NaiveDateTime),
}

impl DateTime {
    /// Parses an ISO date-time without offset, or an ISO date.
    pub fn parse(input: &str) -> Result<DateTime, ValueError> {
        if input.len() > 19 {
            return Err(ValueError::TooLong);
        }
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if input.len() == 10 {
            return Ok(DateTime(DateTimeInner::Day(Date::parse_iso(input)?.0)));
        }
        let (day, time) = match input.as_bytes().get(10) {
            Some(b'T' | b' ') => (&input[..10], &input[11..]),
            _ => return Err(ValueError::InvalidFormat),
        };
        let date = Date::parse_iso(day)?.0;
        let t = time.as_bytes();
        let shape_ok = (t.len() == 5 || (t.len() == 8 && t[5] == b':'))
            && t[2] == b':'
            && t.iter()
                .enumerate()
                .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit());
        if !shape_ok {
            return Err(ValueError::InvalidFormat);
        }
        let hour = digits_value(&t[..2]);
        let minute = digits_value(&t[3..5]);
        let second = if t.len() == 8 {
            digits_value(&t[6..])
        } else {
            0
        };
        let time = NaiveTime::from_hms_opt(hour, minute, second).ok_or(ValueError::InvalidDate)?;
        Ok(DateTime(DateTimeInner::At(date.and_time(time))))
    }

    /// The canonical text: `YYYY-MM-DDTHH:MM:SS`, or `YYYY-MM-DD` for a day.
    pub fn to_canonical(self) -> String {
        match self.0 {
            DateTimeInner::Day(d) => d.format("%Y-%m-%d").to_string(),
            DateTimeInner::At(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DateTime(<redacted>)")
    }
}
