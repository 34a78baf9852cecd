//! The audit event (監査記録) and the small types it is built from.
//!
//! An event can hold only identifiers and names: UUIDs of subjects, opaque
//! identifiers of accounts, tokens and requests, names from the vault's own
//! vocabulary (roles, purposes, actions, field names), a prefecture code, an IP
//! address and an outcome. Every text type below is validated on construction so
//! that no personal value (a name, an address, a phone number, a My Number, a date
//! of birth, a blind-index digest) fits into it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use uuid::Uuid;
use vault_policy::{Action, FieldRef, RecordKind};

use super::error::AuditError;

/// Longest identifier or label accepted, in bytes.
const MAX_TOKEN_LEN: usize = 64;

/// A name from the vault's own vocabulary: a role, a purpose, an action or a field name.
///
/// Lower-case ASCII, starting with a letter, then letters, digits and `_ . : -`; at most
/// 64 bytes and at most 4 digits. Names come from code and from the policy file, never
/// from a request body; the rules keep numbers (My Number, phone, postal code, dates)
/// and anything with spaces, `@` or non-ASCII text (names, addresses) out.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(Box<str>);

impl Label {
    /// Checks `s` against the label rules. `what` names the event field for the error.
    pub fn parse(what: &'static str, s: &str) -> Result<Label, AuditError> {
        let bytes = s.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_TOKEN_LEN
            && bytes[0].is_ascii_lowercase()
            && bytes.iter().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'.' | b':' | b'-')
            })
            && bytes.iter().filter(|b| b.is_ascii_digit()).count() <= 4;
        if ok {
            Ok(Label(s.into()))
        } else {
            Err(AuditError::InvalidName { field: what })
        }
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A label written in the vault's own code (the caller guarantees the rules).
    pub(crate) fn from_static(s: &'static str) -> Label {
        debug_assert!(Label::parse("action", s).is_ok());
        Label(s.into())
    }
}

impl From<Action> for Label {
    fn from(a: Action) -> Label {
        Label(a.as_str().into())
    }
}

impl From<RecordKind> for Label {
    fn from(k: RecordKind) -> Label {
        Label(k.as_str().into())
    }
}

impl From<&FieldRef> for Label {
    fn from(f: &FieldRef) -> Label {
        Label(f.name.into())
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An opaque identifier: of an account (the actor), a token or a request.
///
/// Either a UUID, or 1 to 64 ASCII letters, digits and `_ . : -` containing at least
/// one letter and no run of more than 6 digits. The rules keep e-mail addresses,
/// phone numbers, postal codes, dates and My Numbers out of identifiers that a
/// client may choose (the `Vault-Request-Id` header).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(Box<str>);

impl Ident {
    /// Checks `s` against the identifier rules. `what` names the event field for the error.
    pub fn parse(what: &'static str, s: &str) -> Result<Ident, AuditError> {
        if let Ok(u) = Uuid::parse_str(s) {
            return Ok(Ident::from(u));
        }
        let bytes = s.as_bytes();
        let mut longest_digit_run = 0usize;
        let mut run = 0usize;
        for b in bytes {
            if b.is_ascii_digit() {
                run += 1;
                longest_digit_run = longest_digit_run.max(run);
            } else {
                run = 0;
            }
        }
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_TOKEN_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
            && bytes.iter().any(|b| b.is_ascii_alphabetic())
            && longest_digit_run <= 6;
        if ok {
            Ok(Ident(s.into()))
        } else {
            Err(AuditError::InvalidName { field: what })
        }
    }

    /// The actor of actions the vault takes on its own (scheduled jobs, the audit writer).
    pub fn system() -> Ident {
        Ident("system".into())
    }

    /// The actor of a request whose credentials could not be matched to an account.
    pub fn anonymous() -> Ident {
        Ident("anonymous".into())
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Uuid> for Ident {
    fn from(u: Uuid) -> Ident {
        Ident(u.hyphenated().to_string().into())
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Ident {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A tenant: the JIS X 0401 prefecture code (`01`..`47`) of the record touched.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tenant([u8; 2]);

impl Tenant {
    /// Checks that `s` is a prefecture code `01`..`47`.
    pub fn parse(s: &str) -> Result<Tenant, AuditError> {
        let b = s.as_bytes();
        if b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
            let n = (b[0] - b'0') * 10 + (b[1] - b'0');
            if (1..=47).contains(&n) {
                return Ok(Tenant([b[0], b[1]]));
            }
        }
        Err(AuditError::InvalidName { field: "tenant" })
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Invariant: both bytes are ASCII digits (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("00")
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Tenant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How the audited request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused by authentication, policy, tenant scope or throttling.
    Denied,
    /// The record does not exist (or lies outside the caller's tenants).
    NotFound,
    /// The request was malformed or failed validation.
    Invalid,
    /// The vault failed.
    Error,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: &'static [Outcome] = &[
        Outcome::Ok,
        Outcome::Denied,
        Outcome::NotFound,
        Outcome::Invalid,
        Outcome::Error,
    ];

    /// The stored name: `ok`, `denied`, `not_found`, `invalid`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::NotFound => "not_found",
            Outcome::Invalid => "invalid",
            Outcome::Error => "error",
        }
    }
}

impl FromStr for Outcome {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Outcome, AuditError> {
        Outcome::ALL
            .iter()
            .copied()
            .find(|o| o.as_str() == s)
            .ok_or(AuditError::InvalidName { field: "outcome" })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit event before it is written: who did what, for which purpose, to which
/// subjects and fields, and how it ended. The writer adds the chain, sequence number
/// and time.
///
/// Build with [`AuditEvent::new`] and the setters. Subjects and fields are kept sorted
/// and without duplicates, so the stored form is canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub(crate) actor: Ident,
    pub(crate) role: Option<Label>,
    pub(crate) purpose: Option<Label>,
    pub(crate) action: Label,
    pub(crate) tenant: Option<Tenant>,
    pub(crate) subjects: Vec<Uuid>,
    pub(crate) fields: Vec<Label>,
    pub(crate) outcome: Outcome,
    pub(crate) request_id: Option<Ident>,
    pub(crate) source: Option<IpAddr>,
    pub(crate) token_id: Option<Ident>,
}

impl AuditEvent {
    /// An event of `actor` doing `action` with `outcome`; everything else empty.
    ///
    /// Actions are dotted names such as `examinee.read`, `auth.failed`,
    /// `account.disable`, `audit.prune`.
    pub fn new(actor: Ident, action: Label, outcome: Outcome) -> AuditEvent {
        AuditEvent {
            actor,
            role: None,
            purpose: None,
            action,
            tenant: None,
            subjects: Vec::new(),
            fields: Vec::new(),
            outcome,
            request_id: None,
            source: None,
            token_id: None,
        }
    }

    /// Sets the role the actor acted in.
    pub fn role(mut self, role: Label) -> Self {
        self.role = Some(role);
        self
    }

    /// Sets the purpose stated in `Vault-Purpose`.
    pub fn purpose(mut self, purpose: Label) -> Self {
        self.purpose = Some(purpose);
        self
    }

    /// Sets the prefecture of the record touched.
    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Adds one subject (examinee or meister id).
    pub fn subject(mut self, id: Uuid) -> Self {
        if let Err(pos) = self.subjects.binary_search(&id) {
            self.subjects.insert(pos, id);
        }
        self
    }

    /// Adds subjects (examinee or meister ids).
    pub fn subjects(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.subjects.extend(ids);
        self.subjects.sort_unstable();
        self.subjects.dedup();
        self
    }

    /// Adds one field name (never its value).
    pub fn field(mut self, name: Label) -> Self {
        if let Err(pos) = self.fields.binary_search(&name) {
            self.fields.insert(pos, name);
        }
        self
    }

    /// Adds field names (never their values).
    pub fn fields(mut self, names: impl IntoIterator<Item = Label>) -> Self {
        self.fields.extend(names);
        self.fields.sort_unstable();
        self.fields.dedup();
        self
    }

    /// Sets the request id (`Vault-Request-Id`).
    pub fn request_id(mut self, id: Ident) -> Self {
        self.request_id = Some(id);
        self
    }

    /// Sets the source address of the request.
    pub fn source(mut self, addr: IpAddr) -> Self {
        self.source = Some(addr);
        self
    }

    /// Sets the id of the token used (for impact reports on a leaked token).
    pub fn token_id(mut self, id: Ident) -> Self {
        self.token_id = Some(id);
        self
    }

    /// The actor.
    pub fn actor_id(&self) -> &Ident {
        &self.actor
    }

    /// The action.
    pub fn action_name(&self) -> &Label {
        &self.action
    }

    /// The outcome.
    pub fn outcome_value(&self) -> Outcome {
        self.outcome
    }
}

/// An event as stored in the chain, read back for a security officer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedEvent {
    /// The chain the event belongs to (one per server instance).
    pub chain: String,
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When the writer accepted the event (microsecond precision).
    pub at: DateTime<Utc>,
    /// Account (or `system`, `anonymous`) that acted.
    pub actor: Ident,
    /// Role acted in.
    pub role: Option<Label>,
    /// Stated purpose.
    pub purpose: Option<Label>,
    /// What was done.
    pub action: Label,
    /// Prefecture of the record touched.
    pub tenant: Option<Tenant>,
    /// Subjects touched.
    pub subjects: Vec<Uuid>,
    /// Field names touched.
    pub fields: Vec<Label>,
    /// How it ended.
    pub outcome: Outcome,
    /// Request id.
    pub request_id: Option<Ident>,
    /// Source address.
    pub source: Option<IpAddr>,
    /// Token used.
    pub token_id: Option<Ident>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refuse_personal_looking_text() {
        for bad in [
            "",
            "Yamada",
            "山田太郎",
            "taro yamada",
            "a@example.jp",
            "x123456789012",
            "tel-0312345678",
            "born-19900101",
        ] {
            assert!(Label::parse("field", bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "examinee.read",
            "name_kana",
            "auth.failed",
            "my_number",
            "exam_administration",
        ] {
            assert!(Label::parse("field", good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn idents_refuse_numbers_dates_and_mail_addresses() {
        for bad in [
            "123456789012",
            "0312345678",
            "1990-01-01",
            "a@b.jp",
            "taro yamada",
            "1234567a",
        ] {
            assert!(Ident::parse("request_id", bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "req-42",
            "acct_7f3a",
            "0b8f3c1e-6f2a-4c9e-9a51-2f8d6c7e1a90",
            "01HZY3K8M6",
        ] {
            assert!(Ident::parse("request_id", good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn invalid_names_are_reported_by_field_never_by_value() {
        let e = Label::parse("purpose", "Secret Value 123").unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(text.contains("purpose"));
        assert!(!text.contains("Secret"));
    }

    #[test]
    fn tenant_accepts_only_prefecture_codes() {
        assert!(Tenant::parse("13").is_ok());
        assert!(Tenant::parse("47").is_ok());
        for bad in ["00", "48", "1", "130", "ab"] {
            assert!(Tenant::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn subjects_and_fields_are_sorted_and_unique() {
        let a = Uuid::from_u128(2);
        let b = Uuid::from_u128(1);
        let ev = AuditEvent::new(
            Ident::system(),
            Label::parse("action", "examinee.read").unwrap(),
            Outcome::Ok,
        )
        .subject(a)
        .subjects([b, a])
        .field(Label::parse("field", "name").unwrap())
        .field(Label::parse("field", "address").unwrap())
        .field(Label::parse("field", "name").unwrap());
        assert_eq!(ev.subjects, vec![b, a]);
        assert_eq!(
            ev.fields.iter().map(Label::as_str).collect::<Vec<_>>(),
            vec!["address", "name"]
        );
    }
}
