//! Rows of the record store: plain ids and codes plus opaque ciphertext blobs.
//!
//! A row never carries plaintext. Its blobs (`sealed`, `wrapped`) and blind-index
//! digests are still never printed: every `Debug` here shows a blob as its length, and
//! the plain columns that are field values (fiscal year, clock date, status) only as
//! present/absent. Ids and the prefecture code (the tenant) are printed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;
use vault_policy::RecordKind;

use super::StoreError;

/// The kind of a subject: a person who has their own data keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SubjectKind {
    /// 受検者 (examinee).
    Examinee,
    /// ものづくりマイスター (meister).
    Meister,
}

impl SubjectKind {
    /// The name stored in the database (`examinee`, `meister`); the same as the record kind's.
    pub fn as_str(self) -> &'static str {
        self.record_kind().as_str()
    }

    /// The record kind of the subject's own record.
    pub fn record_kind(self) -> RecordKind {
        match self {
            SubjectKind::Examinee => RecordKind::Examinee,
            SubjectKind::Meister => RecordKind::Meister,
        }
    }

    /// The subject kind of a record kind, if records of that kind are subjects.
    pub fn from_record_kind(kind: RecordKind) -> Option<SubjectKind> {
        match kind {
            RecordKind::Examinee => Some(SubjectKind::Examinee),
            RecordKind::Meister => Some(SubjectKind::Meister),
            _ => None,
        }
    }

    pub(super) fn parse(s: &str) -> Result<SubjectKind, StoreError> {
        RecordKind::from_str(s)
            .ok()
            .and_then(SubjectKind::from_record_kind)
            .ok_or_else(|| StoreError::Corrupt("subjects.kind".into()))
    }
}

/// The key compartment of a subject's data key: 一般 (general fields) or 個人番号 (My Number).
///
/// Mirrors the crypto module's compartments; the names are the KEK ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KeyCompartment {
    /// Every field except My Number.
    General,
    /// 個人番号 (My Number) only.
    MyNumber,
}

impl KeyCompartment {
    /// The name stored in the database: `general` or `my_number`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyCompartment::General => "general",
            KeyCompartment::MyNumber => "my_number",
        }
    }

    pub(super) fn parse(s: &str) -> Result<KeyCompartment, StoreError> {
        match s {
            "general" => Ok(KeyCompartment::General),
            "my_number" => Ok(KeyCompartment::MyNumber),
            _ => Err(StoreError::Corrupt("subject_keys.compartment".into())),
        }
    }
}

/// Parses a stored record kind.
pub(super) fn parse_record_kind(s: &str) -> Result<RecordKind, StoreError> {
    RecordKind::from_str(s).map_err(|_| StoreError::Corrupt("records.kind".into()))
}

/// Converts a stored non-negative integer (a key or KEK version) back to `u32`.
pub(super) fn version_u32(v: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(column.to_owned()))
}

/// Shows a blob as its length only.
struct BlobLen(usize);

impl fmt::Debug for BlobLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

/// Shows an optional plain value as present or absent only.
struct Presence(bool);

impl fmt::Debug for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "<set>" } else { "None" })
    }
}

/// 受検者 / マイスター: one subject (a person with their own data keys).
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectRow {
    /// The subject's id.
    pub subject_id: Uuid,
    /// Examinee or meister.
    pub kind: SubjectKind,
    /// 都道府県コード of the subject's home prefecture (the tenant).
    pub prefecture_code: String,
    /// Lifecycle status (a short code chosen by the caller, e.g. `active`).
    pub status: String,
    /// 利用停止: use of the subject's data is suspended.
    pub suspended: bool,
    /// When the subject was registered.
    pub created_at: DateTime<Utc>,
    /// When the subject row last changed.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for SubjectRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectRow")
            .field("subject_id", &self.subject_id)
            .field("kind", &self.kind)
            .field("prefecture_code", &self.prefecture_code)
            .field("status", &self.status)
            .field("suspended", &self.suspended)
            .finish_non_exhaustive()
    }
}

/// A subject's data key (DEK) of one compartment, wrapped by a KEK outside the database.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// The subject the key belongs to.
    pub subject_id: Uuid,
    /// General or My Number compartment.
    pub compartment: KeyCompartment,
    /// Id of the KEK that wrapped the DEK.
    pub kek_id: String,
    /// Version of that KEK.
    pub kek_version: u32,
    /// The wrapped DEK (opaque; its header repeats KEK id and version).
    pub wrapped: Vec<u8>,
}

impl fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRow")
            .field("subject_id", &self.subject_id)
            .field("compartment", &self.compartment)
            .field("kek_id", &self.kek_id)
            .field("kek_version", &self.kek_version)
            .field("wrapped", &BlobLen(self.wrapped.len()))
            .finish()
    }
}

/// One record: its plain filter columns and all its field ciphertexts in one blob.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// The record's id.
    pub record_id: Uuid,
    /// The record kind.
    pub kind: RecordKind,
    /// The subject (person) whose data key seals this record.
    pub subject_id: Uuid,
    /// The record this one belongs to (application of a result, meister of an activity).
    pub parent_id: Option<Uuid>,
    /// 都道府県コード (the tenant).
    pub prefecture_code: String,
    /// 年度 (fiscal year), where the kind has one.
    pub fiscal_year: Option<i32>,
    /// The date that starts the record's retention clock.
    pub clock_date: Option<NaiveDate>,
    /// Status (for example a meister's `active` / `intent_check` / `deregistered`).
    pub status: Option<String>,
    /// Optimistic-concurrency version; 1 at insert, +1 per update.
    pub version: i64,
    /// The encoded sealed record (field ciphertexts).
    pub sealed: Vec<u8>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for RecordRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRow")
            .field("record_id", &self.record_id)
            .field("kind", &self.kind)
            .field("subject_id", &self.subject_id)
            .field("parent_id", &self.parent_id)
            .field("prefecture_code", &self.prefecture_code)
            .field("fiscal_year", &Presence(self.fiscal_year.is_some()))
            .field("clock_date", &Presence(self.clock_date.is_some()))
            .field("status", &Presence(self.status.is_some()))
            .field("version", &self.version)
            .field("sealed", &BlobLen(self.sealed.len()))
            .finish_non_exhaustive()
    }
}

/// The new values of a corrected record (訂正); see [`WriteOp::UpdateRecord`](super::WriteOp::UpdateRecord).
#[derive(Clone, PartialEq, Eq)]
pub struct RecordUpdate {
    /// The record to change.
    pub record_id: Uuid,
    /// New prefecture code (the record's blind-index rows follow it).
    pub prefecture_code: String,
    /// New fiscal year.
    pub fiscal_year: Option<i32>,
    /// New retention-clock date.
    pub clock_date: Option<NaiveDate>,
    /// New status.
    pub status: Option<String>,
    /// The new encoded sealed record.
    pub sealed: Vec<u8>,
    /// Time of the change.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for RecordUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordUpdate")
            .field("record_id", &self.record_id)
            .field("prefecture_code", &self.prefecture_code)
            .field("fiscal_year", &Presence(self.fiscal_year.is_some()))
            .field("clock_date", &Presence(self.clock_date.is_some()))
            .field("status", &Presence(self.status.is_some()))
            .field("sealed", &BlobLen(self.sealed.len()))
            .finish_non_exhaustive()
    }
}

/// 訂正履歴: the sealed values a record had at one version, kept when it was corrected.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The corrected record.
    pub record_id: Uuid,
    /// The version these values belonged to.
    pub version: i64,
    /// When the correction happened.
    pub changed_at: DateTime<Utc>,
    /// Id of the account that made the correction.
    pub actor_id: String,
    /// The old encoded sealed record.
    pub sealed: Vec<u8>,
}

impl fmt::Debug for HistoryRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryRow")
            .field("record_id", &self.record_id)
            .field("version", &self.version)
            .field("changed_at", &self.changed_at)
            .field("actor_id", &self.actor_id)
            .field("sealed", &BlobLen(self.sealed.len()))
            .finish()
    }
}

/// One blind-index entry: the keyed digest of a normalised field value of a record.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// The indexed field (for example `application_id`).
    pub field: String,
    /// Version of the index key that computed the digest.
    pub key_version: u32,
    /// HMAC-SHA256 digest of the normalised value.
    pub digest: [u8; 32],
    /// The record holding the value.
    pub record_id: Uuid,
    /// That record's subject.
    pub subject_id: Uuid,
    /// That record's prefecture code (so searches are tenant-scoped without a join).
    pub prefecture_code: String,
    /// Whether the value may exist only once per field and key version.
    pub is_unique: bool,
}

impl fmt::Debug for IndexRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexRow")
            .field("field", &self.field)
            .field("key_version", &self.key_version)
            .field("digest", &BlobLen(self.digest.len()))
            .field("record_id", &self.record_id)
            .field("subject_id", &self.subject_id)
            .field("prefecture_code", &self.prefecture_code)
            .field("is_unique", &self.is_unique)
            .finish()
    }
}

/// 個人番号 (My Number) of a subject, sealed under the subject's My Number compartment key.
#[derive(Clone, PartialEq, Eq)]
pub struct MyNumberRow {
    /// The subject.
    pub subject_id: Uuid,
    /// The sealed My Number.
    pub sealed: Vec<u8>,
    /// The date that starts its retention clock.
    pub clock_date: Option<NaiveDate>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for MyNumberRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MyNumberRow")
            .field("subject_id", &self.subject_id)
            .field("sealed", &BlobLen(self.sealed.len()))
            .field("clock_date", &Presence(self.clock_date.is_some()))
            .finish_non_exhaustive()
    }
}

/// How far one bulk import run has committed its input file (`kentei-vault import`).
///
/// Written with each committed batch, in the same transaction; read when an import
/// starts, to skip the lines an earlier run already committed.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportProgressRow {
    /// The import run.
    pub run_id: Uuid,
    /// SHA-256 over the first `lines` lines of the input, each followed by `\n`.
    pub prefix_digest: [u8; 32],
    /// Lines committed (imported or reported as rejected).
    pub lines: u64,
    /// Bytes of those lines, counting one `\n` per line.
    pub bytes: u64,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When the run last committed.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for ImportProgressRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportProgressRow")
            .field("run_id", &self.run_id)
            .field("prefix_digest", &BlobLen(self.prefix_digest.len()))
            .field("lines", &self.lines)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

/// A point read through a blind index ([`Store::read_by_index`](super::Store::read_by_index)):
/// the record, whether its subject's use is suspended, and the subject's wrapped key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedRecord {
    /// The record.
    pub record: RecordRow,
    /// 利用停止 of the record's subject.
    pub suspended: bool,
    /// The subject's wrapped key of the compartment asked for, if it still exists.
    pub key: Option<KeyRow>,
}

/// A blind-index match: the record holding the value and its subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexHit {
    /// The matching record.
    pub record_id: Uuid,
    /// Its subject.
    pub subject_id: Uuid,
}

/// How many wrapped data keys one KEK version wraps (key-rotation status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KekCount {
    /// KEK id.
    pub kek_id: String,
    /// KEK version.
    pub kek_version: u32,
    /// Number of wrapped DEKs under that version.
    pub count: u64,
}

/// Whose records [`RecordQuery`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordOwner {
    /// Every record of a subject.
    Subject(Uuid),
    /// Every record whose parent is this record.
    Parent(Uuid),
    /// Every record (in scope): exports and scans.
    Any,
}

/// A page of records: whose, of which kind, after which record id (keyset paging).
///
/// Pages are ordered by record id; pass the last id of a page as `after` for the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordQuery {
    /// Whose records.
    pub owner: RecordOwner,
    /// Only records of this kind.
    pub kind: Option<RecordKind>,
    /// Only records with an id greater than this one.
    pub after: Option<Uuid>,
    /// At most this many records.
    pub limit: u32,
}

impl RecordQuery {
    /// Default page size.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// The records of a subject.
    pub fn of_subject(subject_id: Uuid) -> RecordQuery {
        RecordQuery::new(RecordOwner::Subject(subject_id))
    }

    /// The records whose parent is `parent_id`.
    pub fn of_parent(parent_id: Uuid) -> RecordQuery {
        RecordQuery::new(RecordOwner::Parent(parent_id))
    }

    /// Every record in scope.
    pub fn all() -> RecordQuery {
        RecordQuery::new(RecordOwner::Any)
    }

    fn new(owner: RecordOwner) -> RecordQuery {
        RecordQuery {
            owner,
            kind: None,
            after: None,
            limit: RecordQuery::DEFAULT_LIMIT,
        }
    }

    /// Only records of `kind`.
    pub fn kind(mut self, kind: RecordKind) -> RecordQuery {
        self.kind = Some(kind);
        self
    }

    /// Only records after `record_id` (the last id of the previous page).
    pub fn after(mut self, record_id: Uuid) -> RecordQuery {
        self.after = Some(record_id);
        self
    }

    /// At most `limit` records.
    pub fn limit(mut self, limit: u32) -> RecordQuery {
        self.limit = limit;
        self
    }
}
