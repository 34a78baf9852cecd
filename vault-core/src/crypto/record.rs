//! The sealed record container: field name -> field ciphertext, encoded as
//! the one blob stored per record.
//!
//! # Encoding, version 1
//!
//! ```text
//! 0x01                            container format version
//! varint count                    number of fields
//! count times, names strictly ascending (bytewise):
//!   u8 name_len (1..=255)         field name, printable ASCII (0x21..=0x7e)
//!   name bytes
//!   varint ct_len                 field ciphertext (see the aead module)
//!   ct bytes
//! ```
//!
//! `varint` is unsigned LEB128 of a u32, shortest form only. The encoding is
//! canonical: one record has exactly one encoding, and decoding rejects
//! anything else (unknown version, unsorted or duplicate names, overlong
//! varints, trailing bytes) with an error, never a panic.

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;
use vault_policy::RecordKind;

use super::{CryptoError, Dek, FieldAad, FieldSealer, Plaintext};

/// Version byte of the sealed record encoding.
const RECORD_FORMAT_V1: u8 = 0x01;
/// Longest field name in bytes.
const MAX_NAME_LEN: usize = 255;

/// The sealed fields of one record (field name -> field ciphertext).
///
/// This is the one opaque blob the store keeps per record; it holds no
/// plaintext. Its `Debug` shows field names and ciphertext lengths only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SealedRecord {
    fields: BTreeMap<String, Vec<u8>>,
}

impl SealedRecord {
    /// An empty record.
    pub fn new() -> SealedRecord {
        SealedRecord::default()
    }

    /// Put a field ciphertext under `field`, replacing any previous one.
    /// Field names are 1..=255 bytes of printable ASCII.
    pub fn insert(&mut self, field: &str, ciphertext: Vec<u8>) -> Result<(), CryptoError> {
        check_field_name(field.as_bytes())?;
        self.fields.insert(field.to_owned(), ciphertext);
        Ok(())
    }

    /// Seal `plaintext` for `field` of record (`kind`, `record_id`) and store it.
    pub fn seal_field(
        &mut self,
        sealer: &dyn FieldSealer,
        dek: &Dek,
        kind: RecordKind,
        record_id: Uuid,
        field: &str,
        plaintext: &[u8],
    ) -> Result<(), CryptoError> {
        check_field_name(field.as_bytes())?;
        let aad = FieldAad {
            record_kind: kind,
            record_id,
            field,
        };
        let ct = sealer.seal(dek, &aad, plaintext)?;
        self.fields.insert(field.to_owned(), ct);
        Ok(())
    }

    /// Open `field` of record (`kind`, `record_id`); `Ok(None)` if the record
    /// has no such field.
    pub fn open_field(
        &self,
        sealer: &dyn FieldSealer,
        dek: &Dek,
        kind: RecordKind,
        record_id: Uuid,
        field: &str,
    ) -> Result<Option<Plaintext>, CryptoError> {
        let Some(ct) = self.fields.get(field) else {
            return Ok(None);
        };
        let aad = FieldAad {
            record_kind: kind,
            record_id,
            field,
        };
        sealer.open(dek, &aad, ct).map(Some)
    }

    /// The ciphertext of `field`, if present.
    pub fn get(&self, field: &str) -> Option<&[u8]> {
        self.fields.get(field).map(Vec::as_slice)
    }

    /// Remove `field`, returning its ciphertext.
    pub fn remove(&mut self, field: &str) -> Option<Vec<u8>> {
        self.fields.remove(field)
    }

    /// Whether `field` is present.
    pub fn contains(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// Field names, ascending.
    pub fn field_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.fields.keys().map(String::as_str)
    }

    /// (field name, ciphertext) pairs, ascending by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The canonical v1 encoding (see the module doc).
    pub fn encode(&self) -> Vec<u8> {
        let size = 1
            + 5
            + self
                .fields
                .iter()
                .map(|(k, v)| 1 + k.len() + 5 + v.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.push(RECORD_FORMAT_V1);
        put_varint(&mut out, self.fields.len());
        for (name, ct) in &self.fields {
            // insert() guarantees 1..=255 bytes.
            out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(name.as_bytes());
            put_varint(&mut out, ct.len());
            out.extend_from_slice(ct);
        }
        out
    }

    /// Decode a stored blob. Malformed input returns an error, never panics.
    pub fn decode(bytes: &[u8]) -> Result<SealedRecord, CryptoError> {
        let mut r = Reader { rest: bytes };
        let version = r.byte().ok_or(malformed("empty"))?;
        if version != RECORD_FORMAT_V1 {
            return Err(malformed("unknown format version"));
        }
        let count = r.varint()?;
        let mut fields = BTreeMap::new();
        let mut previous: Option<&[u8]> = None;
        for _ in 0..count {
            let name_len = usize::from(r.byte().ok_or(malformed("truncated"))?);
            let name = r.take(name_len)?;
            check_field_name(name).map_err(|_| malformed("invalid field name"))?;
            if previous.is_some_and(|p| p >= name) {
                return Err(malformed("field names not strictly ascending"));
            }
            previous = Some(name);
            let ct_len = r.varint()?;
            let ct = r.take(ct_len)?;
            // check_field_name admits ASCII only, so this is valid UTF-8.
            let name = std::str::from_utf8(name).map_err(|_| malformed("invalid field name"))?;
            fields.insert(name.to_owned(), ct.to_vec());
        }
        if !r.rest.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        Ok(SealedRecord { fields })
    }
}

impl fmt::Debug for SealedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, ct) in &self.fields {
            map.entry(name, &format_args!("<{} bytes sealed>", ct.len()));
        }
        map.finish()
    }
}

fn malformed(reason: &'static str) -> CryptoError {
    CryptoError::MalformedSealedRecord { reason }
}

fn check_field_name(name: &[u8]) -> Result<(), CryptoError> {
    if name.is_empty() {
        return Err(CryptoError::InvalidFieldName { reason: "empty" });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(CryptoError::InvalidFieldName {
            reason: "longer than 255 bytes",
        });
    }
    if !name.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(CryptoError::InvalidFieldName {
            reason: "not printable ASCII",
        });
    }
    Ok(())
}

fn put_varint(out: &mut Vec<u8>, value: usize) {
    // Lengths of in-memory fields; a record never approaches 4 GiB.
    let mut v = u32::try_from(value).unwrap_or(u32::MAX);
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        if n > self.rest.len() {
            return Err(malformed("truncated"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    /// Shortest-form LEB128 u32.
    fn varint(&mut self) -> Result<usize, CryptoError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.byte().ok_or(malformed("truncated"))?;
            let payload = u32::from(b & 0x7f);
            if i == 4 && payload > 0x0f {
                return Err(malformed("varint overflows u32"));
            }
            value |= payload << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(malformed("overlong varint"));
                }
                return usize::try_from(value).map_err(|_| malformed("length too large"));
            }
        }
        Err(malformed("varint too long"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(v: usize) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    #[test]
    fn varint_round_trips_at_boundaries() {
        for v in [0usize, 1, 127, 128, 16383, 16384, u32::MAX as usize] {
            let bytes = varint_bytes(v);
            let mut r = Reader { rest: &bytes };
            assert_eq!(r.varint().unwrap(), v);
            assert!(r.rest.is_empty());
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let mut r = Reader {
            rest: &[0x80, 0x00],
        };
        assert!(r.varint().is_err());
    }

    #[test]
    fn varint_beyond_u32_is_rejected() {
        let mut r = Reader {
            rest: &[0xff, 0xff, 0xff, 0xff, 0x1f],
        };
        assert!(r.varint().is_err());
    }
}
