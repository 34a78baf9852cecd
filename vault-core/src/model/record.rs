//! Records at intake: a JSON object checked field by field against the schema
//! into a [`Record`] of canonical values, or every problem found.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;
use vault_policy::RecordKind;
use zeroize::Zeroizing;

use super::error::{codes, ValidationErrors};
use super::schema::{self, name_kana_birth_date_input};
use super::types::Kana;
use super::value::FieldValue;

/// Whether a submitted object creates a record or corrects (訂正) some fields of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Registration: required fields must be present; `null` counts as absent.
    Create,
    /// Correction: only the fields sent; nothing is required.
    Patch,
}

/// The validated fields of one record, by field name. `Debug` lists field names only.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// The record kind.
    pub kind: RecordKind,
    /// The values present, by field name (names are the schema's own `&'static str`).
    pub values: BTreeMap<&'static str, FieldValue>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("kind", &self.kind)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Record {
    /// An empty record of `kind`.
    pub fn new(kind: RecordKind) -> Record {
        Record {
            kind,
            values: BTreeMap::new(),
        }
    }

    /// The value of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.values.get(name)
    }

    /// The names of the fields present.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }

    /// The input of the (name_kana + birth_date) blind index when this examinee
    /// record has both fields (see [`schema::name_kana_birth_date_input`]).
    pub fn name_kana_birth_date_input(&self) -> Option<Zeroizing<String>> {
        if self.kind != schema::NAME_KANA_BIRTH_DATE.kind {
            return None;
        }
        let kana = Kana::parse(self.get("name_kana")?.as_text()?).ok()?;
        let birth_date = self.get("birth_date")?.as_date()?;
        Some(name_kana_birth_date_input(&kana, birth_date))
    }
}

/// A validated correction: the fields to set, and the optional fields to clear
/// (sent as `null`).
#[derive(Clone, PartialEq, Eq)]
pub struct Patch {
    /// The fields to set.
    pub record: Record,
    /// The fields to clear.
    pub cleared: BTreeSet<&'static str>,
}

impl fmt::Debug for Patch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Patch")
            .field("record", &self.record)
            .field("cleared", &self.cleared)
            .finish()
    }
}

/// Validates a submitted JSON object as a record of `kind`.
///
/// Collects every problem: a body that is not an object (`not_an_object`, field
/// `""`), unknown fields (`unknown_field`), ids the vault assigns (`read_only`),
/// each value's own code (`invalid_format`, `invalid_check_digit`, `out_of_range`,
/// `too_long`, `wrong_type`, ...), and on [`Mode::Create`] missing required
/// fields (`required`). On [`Mode::Patch`] a `null` is refused
/// (`null_not_allowed`, or `required` for a required field): use [`parse_patch`]
/// to clear fields. Errors name fields, never values.
pub fn parse_record(
    kind: RecordKind,
    body: &Value,
    mode: Mode,
) -> Result<Record, ValidationErrors> {
    match mode {
        Mode::Create => parse(kind, body, Mode::Create).map(|p| p.record),
        Mode::Patch => {
            let patch = parse(kind, body, Mode::Patch)?;
            if patch.cleared.is_empty() {
                Ok(patch.record)
            } else {
                let mut errors = ValidationErrors::default();
                for name in &patch.cleared {
                    errors.push(*name, codes::NULL_NOT_ALLOWED);
                }
                Err(errors)
            }
        }
    }
}

/// Validates a correction (訂正) of a record of `kind`: the fields sent are set,
/// optional fields sent as `null` are cleared; clearing a required field is
/// refused with `required`.
pub fn parse_patch(kind: RecordKind, body: &Value) -> Result<Patch, ValidationErrors> {
    parse(kind, body, Mode::Patch)
}

/// The longest unknown field name echoed back in an error.
const ECHO_NAME_MAX: usize = 64;
/// Reported instead of an unknown field name that does not look like one.
pub const UNRECOGNISED_FIELD: &str = "(unrecognised)";

/// An unknown key is echoed only when it looks like a field name, so that a value
/// sent by mistake as a key never comes back in an error.
fn echo_name(key: &str) -> String {
    let plausible = !key.is_empty()
        && key.len() <= ECHO_NAME_MAX
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plausible {
        key.to_owned()
    } else {
        UNRECOGNISED_FIELD.to_owned()
    }
}

fn parse(kind: RecordKind, body: &Value, mode: Mode) -> Result<Patch, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let Some(object) = body.as_object() else {
        errors.push("", codes::NOT_AN_OBJECT);
        return Err(errors);
    };
    let mut record = Record::new(kind);
    let mut cleared = BTreeSet::new();
    for (key, value) in object {
        let Some(def) = schema::field(kind, key) else {
            errors.push(echo_name(key), codes::UNKNOWN_FIELD);
            continue;
        };
        if def.vault_assigned {
            errors.push(def.name, codes::READ_ONLY);
            continue;
        }
        if value.is_null() {
            match mode {
                // Absent; a required field is reported with the missing ones below.
                Mode::Create => {}
                Mode::Patch if def.required => errors.push(def.name, codes::REQUIRED),
                Mode::Patch => {
                    cleared.insert(def.name);
                }
            }
            continue;
        }
        match def.ty.parse_json(value) {
            Ok(v) => {
                record.values.insert(def.name, v);
            }
            Err(e) => errors.push(def.name, e.code()),
        }
    }
    if mode == Mode::Create {
        for def in schema::fields_of(kind).filter(|d| d.required) {
            let present = object.get(def.name).is_some_and(|v| !v.is_null());
            if !present {
                errors.push(def.name, codes::REQUIRED);
            }
        }
    }
    if errors.is_empty() {
        Ok(Patch { record, cleared })
    } else {
        errors.0.sort_by(|a, b| a.field.cmp(&b.field));
        Err(errors)
    }
}
