//! Validation errors: what is wrong with a submitted value, never the value itself.

use std::fmt;

use serde::Serialize;

/// Why one submitted value was refused. Carries no part of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The JSON type is not the one the field takes (a number where text is expected, ...).
    #[error("wrong JSON type")]
    WrongType,
    /// The value does not have the field's shape (characters, length pattern).
    #[error("invalid format")]
    InvalidFormat,
    /// The 個人番号 check digit (検査用数字) does not match.
    #[error("invalid check digit")]
    InvalidCheckDigit,
    /// A number, code or date outside the allowed range (for example prefecture "48",
    /// fiscal year 1950, or 平成32年).
    #[error("out of range")]
    OutOfRange,
    /// Date-shaped, but not a day of the calendar (2024-02-30).
    #[error("not a calendar date")]
    InvalidDate,
    /// Longer than the field allows.
    #[error("too long")]
    TooLong,
    /// Empty or only white space (a list with no element).
    #[error("empty")]
    Empty,
    /// Not one of the values of a closed list (grade, sex, activity kind, ...).
    #[error("not an allowed value")]
    InvalidValue,
}

impl ValueError {
    /// The stable code reported to clients (`errors[].code` in the API).
    pub fn code(self) -> &'static str {
        match self {
            ValueError::WrongType => "wrong_type",
            ValueError::InvalidFormat => "invalid_format",
            ValueError::InvalidCheckDigit => "invalid_check_digit",
            ValueError::OutOfRange => "out_of_range",
            ValueError::InvalidDate => "invalid_date",
            ValueError::TooLong => "too_long",
            ValueError::Empty => "empty",
            ValueError::InvalidValue => "invalid_value",
        }
    }
}

/// Codes of record-level problems, next to the per-value codes of [`ValueError::code`].
pub mod codes {
    /// The body is not a JSON object (reported with field `""`).
    pub const NOT_AN_OBJECT: &str = "not_an_object";
    /// A field name that the record kind does not have.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// A required field is missing on create, or a patch tries to clear it.
    pub const REQUIRED: &str = "required";
    /// A field the vault assigns itself (`examinee_id`, `meister_id`).
    pub const READ_ONLY: &str = "read_only";
    /// `null` where the operation cannot clear the field.
    pub const NULL_NOT_ALLOWED: &str = "null_not_allowed";
}

/// One problem of a submitted record: the field and a stable code. Never a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The field name (`""` for the body as a whole).
    pub field: String,
    /// A stable code such as `invalid_format` or `required`.
    pub code: &'static str,
}

/// Every problem found in one submitted record (validation never stops at the first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in field order.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    /// Whether `field` has a problem with `code`.
    pub fn contains(&self, field: &str, code: &str) -> bool {
        self.0.iter().any(|e| e.field == field && e.code == code)
    }

    pub(crate) fn push(&mut self, field: impl Into<String>, code: &'static str) {
        self.0.push(ValidationError {
            field: field.into(),
            code,
        });
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("validation failed")?;
        for (i, e) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{} {}", e.field, e.code)?;
        }
        Ok(())
    }
}
