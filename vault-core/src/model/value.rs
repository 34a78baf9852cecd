//! Field values: the validated plaintext of one field, its canonical byte
//! encoding (what gets sealed) and its JSON form (what a response shows).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde_json::Value;
use zeroize::Zeroizing;

use super::date::{Date, DateTime};
use super::error::ValueError;
use super::schema::FieldType;
use super::types::{
    ActivityKind, Attendance, Code, Email, ExamCategory, ExamPeriod, FiscalYear, FreeText, Grade,
    Identifier, IntoText, Kana, MeisterStatus, MyNumber, Phone, PostalCode, PrefectureCode,
    ResidenceCardNumber, Sex, Token, Trades,
};

/// The plaintext of one field. Text is held in zeroizing storage; `Debug` shows
/// only the variant.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldValue {
    /// Text in its canonical form (codes, names, numbers kept as text).
    Text(Zeroizing<String>),
    /// An integer (scores, counts, 年度).
    Int(i64),
    /// A flag (合否, 有無).
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A list of texts (a meister's trades).
    List(Vec<Zeroizing<String>>),
}

/// The shape of a [`FieldValue`], as a field type dictates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// [`FieldValue::Text`].
    Text,
    /// [`FieldValue::Int`].
    Int,
    /// [`FieldValue::Bool`].
    Bool,
    /// [`FieldValue::Date`].
    Date,
    /// [`FieldValue::List`].
    List,
}

/// Why stored plaintext bytes could not be decoded. Carries no part of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlainDecodeError {
    /// The encoding version is not one this build reads.
    #[error("unsupported plaintext encoding version")]
    UnsupportedVersion,
    /// The bytes encode another shape of value than the field type has.
    #[error("plaintext does not match the field type")]
    TypeMismatch,
    /// Truncated, over-long, badly padded or otherwise malformed bytes.
    #[error("malformed plaintext encoding")]
    Malformed,
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldValue::Text(_) => "Text(<redacted>)",
            FieldValue::Int(_) => "Int(<redacted>)",
            FieldValue::Bool(_) => "Bool(<redacted>)",
            FieldValue::Date(_) => "Date(<redacted>)",
            FieldValue::List(_) => "List(<redacted>)",
        })
    }
}

/// Version byte of the plaintext encoding.
const ENCODING_V1: u8 = 1;
/// Every encoding is zero-padded to a multiple of this many bytes, so that the
/// ciphertext length does not tell `male` from `female`, a pass from a fail, or
/// a short name from a long one within the same block.
pub const PAD_BLOCK: usize = 32;

const TAG_TEXT: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_BOOL: u8 = 3;
const TAG_DATE: u8 = 4;
const TAG_LIST: u8 = 5;

impl FieldValue {
    /// The shape of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            FieldValue::Text(_) => ValueKind::Text,
            FieldValue::Int(_) => ValueKind::Int,
            FieldValue::Bool(_) => ValueKind::Bool,
            FieldValue::Date(_) => ValueKind::Date,
            FieldValue::List(_) => ValueKind::List,
        }
    }

    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            FieldValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The flag, if this is a boolean value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The date, if this is a date value.
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            FieldValue::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// The items, if this is a list value.
    pub fn as_list(&self) -> Option<impl Iterator<Item = &str>> {
        match self {
            FieldValue::List(items) => Some(items.iter().map(|s| s.as_str())),
            _ => None,
        }
    }

    /// The canonical plaintext encoding: what gets sealed.
    ///
    /// Layout (version 1): version byte, type tag, body, zero padding to a multiple
    /// of [`PAD_BLOCK`]. Bodies: text = u32 big-endian byte length + UTF-8; int =
    /// i64 big-endian; bool = one byte 0 or 1; date = i32 big-endian days from
    /// 0001-01-01 (day 1); list = u32 count, then each item as a text body.
    /// Equal values encode to equal bytes and decode back exactly.
    pub fn to_plain_bytes(&self) -> Zeroizing<Vec<u8>> {
        let body_len = match self {
            FieldValue::Text(s) => 4 + s.len(),
            FieldValue::Int(_) => 8,
            FieldValue::Bool(_) => 1,
            FieldValue::Date(_) => 4,
            FieldValue::List(items) => 4 + items.iter().map(|s| 4 + s.len()).sum::<usize>(),
        };
        let total = (2 + body_len).div_ceil(PAD_BLOCK) * PAD_BLOCK;
        // Sized up front so that the buffer never reallocates and leaves a copy behind.
        let mut out = Zeroizing::new(Vec::with_capacity(total));
        out.push(ENCODING_V1);
        match self {
            FieldValue::Text(s) => {
                out.push(TAG_TEXT);
                push_text(&mut out, s);
            }
            FieldValue::Int(n) => {
                out.push(TAG_INT);
                out.extend_from_slice(&n.to_be_bytes());
            }
            FieldValue::Bool(b) => {
                out.push(TAG_BOOL);
                out.push(u8::from(*b));
            }
            FieldValue::Date(d) => {
                out.push(TAG_DATE);
                out.extend_from_slice(&d.num_days_from_ce().to_be_bytes());
            }
            FieldValue::List(items) => {
                out.push(TAG_LIST);
                out.extend_from_slice(&len_u32(items.len()).to_be_bytes());
                for item in items {
                    push_text(&mut out, item);
                }
            }
        }
        out.resize(total, 0);
        out
    }

    /// Decodes [`FieldValue::to_plain_bytes`] output for a field of type `ty`.
    ///
    /// Checks the structure and that the shape fits `ty`; it does not re-run the
    /// intake validators, so a value stored under an older, looser rule stays readable.
    pub fn from_plain_bytes(ty: FieldType, bytes: &[u8]) -> Result<FieldValue, PlainDecodeError> {
        if bytes.len() < PAD_BLOCK || !bytes.len().is_multiple_of(PAD_BLOCK) {
            return Err(PlainDecodeError::Malformed);
        }
        if bytes[0] != ENCODING_V1 {
            return Err(PlainDecodeError::UnsupportedVersion);
        }
        let expected = match ty.value_kind() {
            ValueKind::Text => TAG_TEXT,
            ValueKind::Int => TAG_INT,
            ValueKind::Bool => TAG_BOOL,
            ValueKind::Date => TAG_DATE,
            ValueKind::List => TAG_LIST,
        };
        if bytes[1] != expected {
            return Err(PlainDecodeError::TypeMismatch);
        }
        let mut reader = Reader { rest: &bytes[2..] };
        let value = match expected {
            TAG_TEXT => FieldValue::Text(reader.text()?),
            TAG_INT => FieldValue::Int(i64::from_be_bytes(reader.array()?)),
            TAG_BOOL => match reader.array::<1>()? {
                [0] => FieldValue::Bool(false),
                [1] => FieldValue::Bool(true),
                _ => return Err(PlainDecodeError::Malformed),
            },
            TAG_DATE => {
                let days = i32::from_be_bytes(reader.array()?);
                FieldValue::Date(
                    NaiveDate::from_num_days_from_ce_opt(days)
                        .ok_or(PlainDecodeError::Malformed)?,
                )
            }
            _ => {
                let count = u32::from_be_bytes(reader.array()?) as usize;
                // Each item takes at least four bytes: bound the allocation by the input.
                if count > reader.rest.len() / 4 {
                    return Err(PlainDecodeError::Malformed);
                }
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(reader.text()?);
                }
                FieldValue::List(items)
            }
        };
        // Padding: zeros only, and no more than needed to reach the block size.
        if reader.rest.len() >= PAD_BLOCK || reader.rest.iter().any(|b| *b != 0) {
            return Err(PlainDecodeError::Malformed);
        }
        Ok(value)
    }

    /// The JSON form, for building a response (the only place a value is shown).
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Text(s) => Value::String(s.as_str().to_owned()),
            FieldValue::Int(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            FieldValue::List(items) => Value::Array(
                items
                    .iter()
                    .map(|s| Value::String(s.as_str().to_owned()))
                    .collect(),
            ),
        }
    }
}

/// Lengths here are bounded by field caps far below 4 GiB; saturate rather than wrap.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn push_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&len_u32(s.len()).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PlainDecodeError> {
        if self.rest.len() < n {
            return Err(PlainDecodeError::Malformed);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PlainDecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn text(&mut self) -> Result<Zeroizing<String>, PlainDecodeError> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| PlainDecodeError::Malformed)?;
        Ok(Zeroizing::new(s.to_owned()))
    }
}

impl FieldType {
    /// The shape of the values of this type.
    pub fn value_kind(self) -> ValueKind {
        match self {
            FieldType::Int { .. } | FieldType::FiscalYear => ValueKind::Int,
            FieldType::Bool => ValueKind::Bool,
            FieldType::Date => ValueKind::Date,
            FieldType::Trades => ValueKind::List,
            FieldType::Text { .. }
            | FieldType::MultilineText { .. }
            | FieldType::Kana
            | FieldType::DateTime
            | FieldType::MyNumber
            | FieldType::PrefectureCode
            | FieldType::PostalCode
            | FieldType::ResidenceCardNumber
            | FieldType::Phone
            | FieldType::Email
            | FieldType::Sex
            | FieldType::Grade
            | FieldType::ExamPeriod
            | FieldType::ExamCategory
            | FieldType::Attendance
            | FieldType::ActivityKind
            | FieldType::MeisterStatus
            | FieldType::Code { .. }
            | FieldType::Identifier { .. }
            | FieldType::Token { .. }
            | FieldType::RecordId => ValueKind::Text,
        }
    }

    /// Validates one submitted JSON value and returns it in canonical form.
    ///
    /// Text types take JSON strings; `sex`, `grade` and `exam_period` also take
    /// their digit codes as JSON integers; numbers take JSON integers; flags take
    /// `true`/`false`; trades take an array of strings.
    pub fn parse_json(self, value: &Value) -> Result<FieldValue, ValueError> {
        fn name(s: &'static str) -> FieldValue {
            FieldValue::Text(Zeroizing::new(s.to_owned()))
        }
        match self {
            FieldType::Int { min, max } => {
                let n = json_int(value)?;
                if n < min || n > max {
                    return Err(ValueError::OutOfRange);
                }
                Ok(FieldValue::Int(n))
            }
            FieldType::FiscalYear => Ok(FieldValue::Int(FiscalYear::new(json_int(value)?)?.get())),
            FieldType::Bool => value
                .as_bool()
                .map(FieldValue::Bool)
                .ok_or(ValueError::WrongType),
            FieldType::Trades => {
                let items = value.as_array().ok_or(ValueError::WrongType)?;
                let names = items
                    .iter()
                    .map(|v| v.as_str().ok_or(ValueError::WrongType))
                    .collect::<Result<Vec<&str>, ValueError>>()?;
                Ok(FieldValue::List(Trades::parse(names)?.into_inner()))
            }
            FieldType::Sex => Ok(name(Sex::parse(&code_text(value)?)?.as_str())),
            FieldType::Grade => Ok(name(Grade::parse(&code_text(value)?)?.as_str())),
            FieldType::ExamPeriod => Ok(name(ExamPeriod::parse(&code_text(value)?)?.as_str())),
            _ => {
                let s = value.as_str().ok_or(ValueError::WrongType)?;
                self.parse_str(s)
            }
        }
    }

    /// Validates a value of a text-shaped or date type given as a string.
    fn parse_str(self, s: &str) -> Result<FieldValue, ValueError> {
        fn text(t: impl IntoText) -> FieldValue {
            FieldValue::Text(t.into_text())
        }
        fn name(s: &'static str) -> FieldValue {
            FieldValue::Text(Zeroizing::new(s.to_owned()))
        }
        Ok(match self {
            FieldType::Text { max } => text(FreeText::parse(s, usize::from(max))?),
            FieldType::MultilineText { max } => {
                text(FreeText::parse_multiline(s, usize::from(max))?)
            }
            FieldType::Kana => text(Kana::parse(s)?),
            FieldType::Date => FieldValue::Date(Date::parse(s)?.to_naive()),
            FieldType::DateTime => {
                FieldValue::Text(Zeroizing::new(DateTime::parse(s)?.to_canonical()))
            }
            FieldType::MyNumber => text(MyNumber::parse(s)?),
            FieldType::PrefectureCode => text(PrefectureCode::parse(s)?),
            FieldType::PostalCode => text(PostalCode::parse(s)?),
            FieldType::ResidenceCardNumber => text(ResidenceCardNumber::parse(s)?),
            FieldType::Phone => text(Phone::parse(s)?),
            FieldType::Email => text(Email::parse(s)?),
            FieldType::Sex => name(Sex::parse(s)?.as_str()),
            FieldType::Grade => name(Grade::parse(s)?.as_str()),
            FieldType::ExamPeriod => name(ExamPeriod::parse(s)?.as_str()),
            FieldType::ExamCategory => name(ExamCategory::parse(s)?.as_str()),
            FieldType::Attendance => name(Attendance::parse(s)?.as_str()),
            FieldType::ActivityKind => name(ActivityKind::parse(s)?.as_str()),
            FieldType::MeisterStatus => name(MeisterStatus::parse(s)?.as_str()),
            FieldType::Code { max } => text(Code::parse(s, usize::from(max))?),
            FieldType::Identifier { max } => text(Identifier::parse(s, usize::from(max))?),
            FieldType::Token { max } => text(Token::parse(s, usize::from(max))?),
            FieldType::RecordId => {
                if s.len() > 36 {
                    return Err(ValueError::TooLong);
                }
                let id = uuid::Uuid::try_parse(s).map_err(|_| ValueError::InvalidFormat)?;
                FieldValue::Text(Zeroizing::new(id.hyphenated().to_string()))
            }
            FieldType::Int { .. } | FieldType::FiscalYear | FieldType::Bool | FieldType::Trades => {
                return Err(ValueError::WrongType)
            }
        })
    }
}

/// A JSON integer. A fraction or a string is the wrong type; an integer beyond
/// i64 is out of range.
fn json_int(value: &Value) -> Result<i64, ValueError> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None if n.is_u64() => Err(ValueError::OutOfRange),
            None => Err(ValueError::WrongType),
        },
        _ => Err(ValueError::WrongType),
    }
}

/// A closed-list value given as a string, or as a small JSON integer code.
fn code_text(value: &Value) -> Result<Zeroizing<String>, ValueError> {
    match value {
        Value::String(s) => Ok(Zeroizing::new(s.clone())),
        Value::Number(n) => match n.as_u64() {
            Some(code) if code < 100 => Ok(Zeroizing::new(code.to_string())),
            Some(_) => Err(ValueError::InvalidValue),
            None => Err(ValueError::WrongType),
        },
        _ => Err(ValueError::WrongType),
    }
}
