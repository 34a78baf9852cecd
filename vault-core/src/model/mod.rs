//! The data model: the schema of examinee, application, result, qualification,
//! meister and meister-activity records (every 別添1 item), the validated value
//! types, field values and their sealed-plaintext encoding, and intake validation.
//!
//! Parse, don't validate: a [`MyNumber`], [`PrefectureCode`] or [`PostalCode`] is
//! built only by its validator. No type here prints a personal value: `Debug` is
//! redacted, there is no `Display`, and errors name the field, never the value.

mod date;
mod error;
mod record;
pub mod schema;
mod types;
mod value;

pub use date::{Date, DateTime, DATE_MAX, DATE_MIN};
pub use error::{codes, ValidationError, ValidationErrors, ValueError};
pub use record::{parse_patch, parse_record, Mode, Patch, Record, UNRECOGNISED_FIELD};
pub use schema::{FieldDef, FieldType, Storage, FIELDS};
pub use types::{
    ActivityKind, Attendance, Code, Email, ExamCategory, ExamPeriod, FiscalYear, FreeText, Grade,
    Identifier, Kana, MeisterStatus, MyNumber, Phone, PostalCode, PrefectureCode,
    ResidenceCardNumber, Sex, Token, Trades, IDENTIFIER_MAX, KANA_MAX_CHARS, TRADES_MAX_ITEMS,
    TRADE_CODE_MAX, TRADE_NAME_MAX_CHARS,
};
pub use value::{FieldValue, PlainDecodeError, ValueKind, PAD_BLOCK};
