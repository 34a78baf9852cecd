//! Wrapped data keys: a subject's DEK encrypted under a KEK of its
//! compartment.
//!
//! # Wrapped DEK format, version 1
//!
//! ```text
//! offset  length  content
//! 0       1       format version = 0x01
//! 1       1       k = length of the KEK id (1..=64)
//! 2       k       KEK id, ASCII [a-z0-9_-] (e.g. "general", "my_number")
//! 2+k     4       KEK version, u32 big-endian (>= 1)
//! 6+k     12      nonce (random)
//! 18+k    48      AES-256-GCM of the 32-byte DEK, then the 16-byte tag
//! ```
//!
//! Associated data (rebuilt on unwrap) binds the wrapped key to its
//! compartment, its subject and the header, so neither can be swapped:
//!
//! ```text
//! "kentei-vault/dek-wrap" || 0x01
//!   || u32be(len(compartment)) || compartment ("general" | "my_number")
//!   || u32be(len(kek id)) || kek id || u32be(kek version)
//!   || subject id (16 bytes)
//! ```

use std::fmt;

use secrecy::SecretBox;
use uuid::Uuid;
use zeroize::Zeroize;

use super::aead::{put_len_prefixed, PreparedKey, NONCE_LEN, TAG_LEN};
use super::secret::DEK_LEN;
use super::{CryptoError, Dek};

/// Version byte of the wrapped DEK format.
const WRAP_FORMAT_V1: u8 = 0x01;
const WRAP_AAD_LABEL: &[u8] = b"kentei-vault/dek-wrap";
/// Longest key id.
pub(crate) const MAX_KEY_ID_LEN: usize = 64;

/// Key compartment: which KEK protects a subject's DEK.
///
/// The My Number (個人番号) compartment has its own KEK and its own table, so
/// a leak of the general compartment's key or rows reveals no My Number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compartment {
    /// Everything except My Number; KEK id `general`.
    General,
    /// 個人番号 (My Number) only; KEK id `my_number`.
    MyNumber,
}

impl Compartment {
    /// Every compartment.
    pub const ALL: &'static [Compartment] = &[Compartment::General, Compartment::MyNumber];

    /// The compartment's name, bound into every wrapped DEK.
    pub fn as_str(self) -> &'static str {
        match self {
            Compartment::General => "general",
            Compartment::MyNumber => "my_number",
        }
    }

    /// Id of the KEK that wraps this compartment's DEKs.
    pub fn kek_id(self) -> &'static str {
        self.as_str()
    }
}

/// Names one version of a key-encryption key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KekRef {
    /// KEK id (e.g. `general`).
    pub id: String,
    /// KEK version (1, 2, ...).
    pub version: u32,
}

/// A DEK encrypted under a KEK, with a header naming the KEK id and version.
/// Not secret; safe to store. `Debug` shows the header only.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDek {
    bytes: Vec<u8>,
    kek_id: String,
    kek_version: u32,
}

impl WrappedDek {
    /// Parse a stored wrapped DEK, checking its structure (not its
    /// authenticity, which only unwrapping can check).
    pub fn from_bytes(bytes: &[u8]) -> Result<WrappedDek, CryptoError> {
        let bad = |reason| CryptoError::MalformedWrappedDek { reason };
        let (&version, rest) = bytes.split_first().ok_or(bad("empty"))?;
        if version != WRAP_FORMAT_V1 {
            return Err(bad("unknown format version"));
        }
        let (&id_len, rest) = rest.split_first().ok_or(bad("truncated"))?;
        let id_len = usize::from(id_len);
        if rest.len() != id_len + 4 + NONCE_LEN + DEK_LEN + TAG_LEN {
            return Err(bad("wrong length"));
        }
        let (id, rest) = rest.split_at(id_len);
        if !is_valid_key_id(id) {
            return Err(bad("invalid KEK id"));
        }
        let mut v = [0u8; 4];
        v.copy_from_slice(&rest[..4]);
        let kek_version = u32::from_be_bytes(v);
        if kek_version == 0 {
            return Err(bad("KEK version 0"));
        }
        // is_valid_key_id admits ASCII only.
        let kek_id = std::str::from_utf8(id)
            .map_err(|_| bad("invalid KEK id"))?
            .to_owned();
        Ok(WrappedDek {
            bytes: bytes.to_vec(),
            kek_id,
            kek_version,
        })
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Id of the KEK that wrapped this DEK.
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// Version of the KEK that wrapped this DEK.
    pub fn kek_version(&self) -> u32 {
        self.kek_version
    }

    /// The KEK (id, version) that wrapped this DEK.
    pub fn kek_ref(&self) -> KekRef {
        KekRef {
            id: self.kek_id.clone(),
            version: self.kek_version,
        }
    }

    fn nonce_and_ct(&self) -> (&[u8], &[u8]) {
        let header = 2 + self.kek_id.len() + 4;
        self.bytes[header..].split_at(NONCE_LEN)
    }
}

impl fmt::Debug for WrappedDek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDek")
            .field("kek_id", &self.kek_id)
            .field("kek_version", &self.kek_version)
            .finish_non_exhaustive()
    }
}

/// Key ids: 1..=64 bytes of `[a-z0-9_-]`.
pub(crate) fn is_valid_key_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

fn wrap_aad(compartment: Compartment, kek_id: &str, kek_version: u32, subject: Uuid) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_AAD_LABEL.len() + 64 + kek_id.len());
    aad.extend_from_slice(WRAP_AAD_LABEL);
    aad.push(WRAP_FORMAT_V1);
    put_len_prefixed(&mut aad, compartment.as_str().as_bytes());
    put_len_prefixed(&mut aad, kek_id.as_bytes());
    aad.extend_from_slice(&kek_version.to_be_bytes());
    aad.extend_from_slice(subject.as_bytes());
    aad
}

/// Wrap `dek` under `kek` (id, version) for `subject` in `compartment`.
pub(crate) fn wrap_with(
    kek: &PreparedKey,
    kek_ref: (&str, u32),
    compartment: Compartment,
    subject: Uuid,
    dek: &Dek,
    nonce: &[u8; NONCE_LEN],
) -> Result<WrappedDek, CryptoError> {
    let (kek_id, kek_version) = kek_ref;
    if !is_valid_key_id(kek_id.as_bytes()) || kek_version == 0 {
        return Err(CryptoError::KeyNotFound {
            kek_id: kek_id.to_owned(),
            version: kek_version,
        });
    }
    let aad = wrap_aad(compartment, kek_id, kek_version, subject);
    let mut bytes = Vec::with_capacity(2 + kek_id.len() + 4 + NONCE_LEN + DEK_LEN + TAG_LEN);
    bytes.push(WRAP_FORMAT_V1);
    // is_valid_key_id bounds the length to 64.
    bytes.push(u8::try_from(kek_id.len()).unwrap_or(u8::MAX));
    bytes.extend_from_slice(kek_id.as_bytes());
    bytes.extend_from_slice(&kek_version.to_be_bytes());
    bytes.extend_from_slice(nonce);
    kek.seal_append(nonce, &aad, dek.expose_bytes(), &mut bytes)?;
    Ok(WrappedDek {
        bytes,
        kek_id: kek_id.to_owned(),
        kek_version,
    })
}

/// Unwrap with the KEK named in the header (the caller looked it up).
pub(crate) fn unwrap_with(
    kek: &PreparedKey,
    compartment: Compartment,
    subject: Uuid,
    wrapped: &WrappedDek,
) -> Result<Dek, CryptoError> {
    let aad = wrap_aad(compartment, &wrapped.kek_id, wrapped.kek_version, subject);
    let (nonce, ct) = wrapped.nonce_and_ct();
    let nonce: &[u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| CryptoError::DecryptionFailed)?;
    let mut plain = kek.open(nonce, &aad, ct)?;
    if plain.len() != DEK_LEN {
        return Err(CryptoError::DecryptionFailed);
    }
    let key = SecretBox::init_with_mut(|k: &mut [u8; DEK_LEN]| k.copy_from_slice(&plain));
    // Clear intermediates
    plain.zeroize();
    Ok(Dek::from_secret(key))
}
