//! The hash chain: the stored form of an event, its canonical encoding and its hash.
//!
//! The encoding is defined over the *stored* columns (texts and integers exactly as
//! the database holds them), so that any change to any stored byte changes the hash,
//! whether or not the changed row still parses. See `docs/audit.md` for the format.

use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ring::digest;
use uuid::Uuid;

use super::error::AuditError;
use super::event::{AuditEvent, Ident, Label, Outcome, RecordedEvent, Tenant};

/// Length of a chain hash (SHA-256).
pub(crate) const HASH_LEN: usize = 32;

/// A chain hash.
pub(crate) type Hash = [u8; HASH_LEN];

/// Domain tag at the start of every encoded event.
const EVENT_TAG: &[u8] = b"kentei-vault.audit.event.v1";
/// Domain tag of the hash that precedes the first event of a chain.
const GENESIS_TAG: &[u8] = b"kentei-vault.audit.genesis.v1";
/// Length marker of an absent optional field.
const ABSENT: u32 = u32::MAX;

/// Appends `bytes` with a 4-byte big-endian length prefix.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Stored fields are far below 4 GiB (the database would refuse them first);
    // saturating keeps the encoding total for any input.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX - 1);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_opt(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => put_bytes(out, s.as_bytes()),
        None => out.extend_from_slice(&ABSENT.to_be_bytes()),
    }
}

/// The hash that precedes event 1 of `chain_id`.
pub(crate) fn genesis_hash(chain_id: &str) -> Hash {
    let mut buf = Vec::with_capacity(64);
    put_bytes(&mut buf, GENESIS_TAG);
    put_bytes(&mut buf, chain_id.as_bytes());
    sha256(&buf)
}

pub(crate) fn sha256(bytes: &[u8]) -> Hash {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(d.as_ref());
    out
}

/// An event row exactly as stored in `audit_events`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    pub(crate) chain_id: String,
    pub(crate) seq: i64,
    pub(crate) at_us: i64,
    pub(crate) actor: String,
    pub(crate) role: Option<String>,
    pub(crate) purpose: Option<String>,
    pub(crate) action: String,
    pub(crate) tenant: Option<String>,
    pub(crate) subjects: String,
    pub(crate) fields: String,
    pub(crate) outcome: String,
    pub(crate) request_id: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) token_id: Option<String>,
    pub(crate) prev_hash: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl StoredEvent {
    /// The stored form of `ev` at position `seq` of `chain_id`, linked to `prev`.
    pub(crate) fn seal(
        ev: &AuditEvent,
        chain_id: &str,
        seq: u64,
        at_us: i64,
        prev: &Hash,
    ) -> StoredEvent {
        let subjects = ev
            .subjects
            .iter()
            .map(|u| u.hyphenated().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let fields = ev
            .fields
            .iter()
            .map(Label::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let mut row = StoredEvent {
            chain_id: chain_id.to_owned(),
            // Sequence numbers start at 1 and grow by one per event: far below i64::MAX.
            seq: i64::try_from(seq).unwrap_or(i64::MAX),
            at_us,
            actor: ev.actor.as_str().to_owned(),
            role: ev.role.as_ref().map(|r| r.as_str().to_owned()),
            purpose: ev.purpose.as_ref().map(|r| r.as_str().to_owned()),
            action: ev.action.as_str().to_owned(),
            tenant: ev.tenant.map(|t| t.as_str().to_owned()),
            subjects,
            fields,
            outcome: ev.outcome.as_str().to_owned(),
            request_id: ev.request_id.as_ref().map(|r| r.as_str().to_owned()),
            source: ev.source.map(|s| s.to_string()),
            token_id: ev.token_id.as_ref().map(|r| r.as_str().to_owned()),
            prev_hash: prev.to_vec(),
            hash: Vec::new(),
        };
        row.hash = row.compute_hash(prev, row.seq).to_vec();
        row
    }

    /// The canonical encoding of the row's content, with `seq` in place of the stored one.
    pub(crate) fn canonical(&self, seq: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.subjects.len() + self.fields.len());
        put_bytes(&mut out, EVENT_TAG);
        put_bytes(&mut out, self.chain_id.as_bytes());
        put_bytes(&mut out, &seq.to_be_bytes());
        put_bytes(&mut out, &self.at_us.to_be_bytes());
        put_bytes(&mut out, self.actor.as_bytes());
        put_opt(&mut out, self.role.as_deref());
        put_opt(&mut out, self.purpose.as_deref());
        put_bytes(&mut out, self.action.as_bytes());
        put_opt(&mut out, self.tenant.as_deref());
        put_bytes(&mut out, self.subjects.as_bytes());
        put_bytes(&mut out, self.fields.as_bytes());
        put_bytes(&mut out, self.outcome.as_bytes());
        put_opt(&mut out, self.request_id.as_deref());
        put_opt(&mut out, self.source.as_deref());
        put_opt(&mut out, self.token_id.as_deref());
        out
    }

    /// SHA-256 over `prev` followed by the canonical encoding (with `seq`).
    pub(crate) fn compute_hash(&self, prev: &[u8], seq: i64) -> Hash {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(prev);
        ctx.update(&self.canonical(seq));
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// The subject ids as stored (for the subject index).
    pub(crate) fn subject_texts(&self) -> impl Iterator<Item = &str> {
        self.subjects.split(',').filter(|s| !s.is_empty())
    }

    /// Parses the stored texts back into an event for a reader.
    pub(crate) fn to_recorded(&self) -> Result<RecordedEvent, AuditError> {
        let corrupt = || AuditError::Corrupt {
            chain: self.chain_id.clone(),
            seq: u64::try_from(self.seq).unwrap_or(0),
        };
        let label = |what: &'static str, s: &str| Label::parse(what, s).map_err(|_| corrupt());
        let ident = |what: &'static str, s: &str| Ident::parse(what, s).map_err(|_| corrupt());
        Ok(RecordedEvent {
            chain: self.chain_id.clone(),
            seq: u64::try_from(self.seq).map_err(|_| corrupt())?,
            at: DateTime::<Utc>::from_timestamp_micros(self.at_us).ok_or_else(corrupt)?,
            actor: ident("actor", &self.actor)?,
            role: self.role.as_deref().map(|s| label("role", s)).transpose()?,
            purpose: self
                .purpose
                .as_deref()
                .map(|s| label("purpose", s))
                .transpose()?,
            action: label("action", &self.action)?,
            tenant: self
                .tenant
                .as_deref()
                .map(|s| Tenant::parse(s).map_err(|_| corrupt()))
                .transpose()?,
            subjects: self
                .subject_texts()
                .map(|s| Uuid::parse_str(s).map_err(|_| corrupt()))
                .collect::<Result<_, _>>()?,
            fields: self
                .fields
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| label("field", s))
                .collect::<Result<_, _>>()?,
            outcome: Outcome::from_str(&self.outcome).map_err(|_| corrupt())?,
            request_id: self
                .request_id
                .as_deref()
                .map(|s| ident("request_id", s))
                .transpose()?,
            source: self
                .source
                .as_deref()
                .map(|s| IpAddr::from_str(s).map_err(|_| corrupt()))
                .transpose()?,
            token_id: self
                .token_id
                .as_deref()
                .map(|s| ident("token_id", s))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditEvent {
        AuditEvent::new(
            Ident::parse("actor", "acct-1").unwrap(),
            Label::parse("action", "examinee.read").unwrap(),
            Outcome::Ok,
        )
        .subject(Uuid::from_u128(7))
        .field(Label::parse("field", "name").unwrap())
    }

    #[test]
    fn sealed_row_hashes_to_its_stored_hash() {
        let g = genesis_hash("main");
        let row = StoredEvent::seal(&sample(), "main", 1, 1_700_000_000_000_000, &g);
        assert_eq!(row.hash, row.compute_hash(&g, 1).to_vec());
        assert_eq!(
            row.to_recorded().unwrap().subjects,
            vec![Uuid::from_u128(7)]
        );
    }

    #[test]
    fn absent_and_empty_optional_fields_encode_differently() {
        let g = genesis_hash("main");
        let a = StoredEvent::seal(&sample(), "main", 1, 0, &g);
        let mut b = a.clone();
        b.role = Some(String::new());
        assert_ne!(a.canonical(1), b.canonical(1));
    }

    #[test]
    fn moving_bytes_between_adjacent_fields_changes_the_encoding() {
        let g = genesis_hash("main");
        let mut a = StoredEvent::seal(&sample(), "main", 1, 0, &g);
        a.subjects = "ab".into();
        a.fields = String::new();
        let mut b = a.clone();
        b.subjects = "a".into();
        b.fields = "b".into();
        assert_ne!(a.canonical(1), b.canonical(1));
    }

    #[test]
    fn genesis_differs_per_chain() {
        assert_ne!(genesis_hash("a"), genesis_hash("b"));
    }

    #[test]
    fn canonical_encoding_is_stable() {
        // Fixture: a change of the format must be deliberate (and documented).
        let g = genesis_hash("main");
        let row = StoredEvent::seal(&sample(), "main", 1, 1_700_000_000_000_000, &g);
        assert_eq!(
            hex::encode(g),
            hex::encode(sha256(
                &[
                    &29u32.to_be_bytes()[..],
                    b"kentei-vault.audit.genesis.v1",
                    &4u32.to_be_bytes()[..],
                    b"main"
                ]
                .concat()
            ))
        );
        let enc = row.canonical(1);
        assert_eq!(&enc[..4], &27u32.to_be_bytes());
        assert_eq!(&enc[4..31], b"kentei-vault.audit.event.v1");
        assert_eq!(&enc[31..35], &4u32.to_be_bytes());
        assert_eq!(&enc[35..39], b"main");
        assert_eq!(&enc[39..43], &8u32.to_be_bytes());
        assert_eq!(&enc[43..51], &1u64.to_be_bytes());
    }
}
