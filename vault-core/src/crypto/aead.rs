//! Field sealing: AES-256-GCM of one field value under the subject's DEK,
//! bound to its record and field name.
//!
//! # Field ciphertext format, version 1
//!
//! ```text
//! offset  length  content
//! 0       1       format version = 0x01
//! 1       12      nonce (96 bits, fresh from the OS CSPRNG for every seal)
//! 13      n       AES-256-GCM ciphertext of the n plaintext bytes
//! 13+n    16      GCM tag
//! ```
//!
//! Overhead: 29 bytes. The field ciphertext names no key: the DEK is the one
//! of the subject the record belongs to (the store links record -> subject),
//! and the KEK id and version travel in the [`WrappedDek`](super::WrappedDek)
//! header. A DEK never changes for the life of a subject (KEK rotation
//! re-wraps it), so no DEK id is needed per field.
//!
//! The associated data (not stored, rebuilt on open) binds the ciphertext to
//! its place, every variable-length part length-prefixed so that no two
//! different places give the same bytes:
//!
//! ```text
//! "kentei-vault/field" || 0x01 (format version)
//!   || u32be(len(kind)) || kind (RecordKind::as_str, e.g. "examinee")
//!   || record id (16 bytes, UUID big-endian)
//!   || u32be(len(field)) || field name (UTF-8)
//! ```
//!
//! A ciphertext copied to another record, record kind or field, or with any
//! bit changed, fails with [`CryptoError::DecryptionFailed`].
//!
//! Random 96-bit nonces allow about 2^32 seals per key before the collision
//! risk reaches 2^-32; one DEK seals only one subject's fields.

use std::cell::RefCell;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;
use vault_policy::RecordKind;
use zeroize::{Zeroize, Zeroizing};

use super::{CryptoError, Dek, Plaintext};

/// Version byte of the field ciphertext format.
pub(crate) const FIELD_FORMAT_V1: u8 = 0x01;
/// Nonce length of AES-GCM as used here (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// GCM tag length (128 bits).
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a v1 field ciphertext adds to the plaintext.
pub const FIELD_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// Largest plaintext sealed in one field (16 MiB); far above any field.
pub const MAX_FIELD_PLAINTEXT: usize = 16 * 1024 * 1024;

const FIELD_AAD_LABEL: &[u8] = b"kentei-vault/field";

/// An AES-256-GCM key with its key schedule and GHASH key computed once.
/// Zeroized on drop (aes, ghash and polyval `zeroize` features).
pub(crate) struct PreparedKey(Box<Aes256Gcm>);

impl PreparedKey {
    pub(crate) fn new(key: &[u8; 32]) -> PreparedKey {
        PreparedKey(Box::new(Aes256Gcm::new(key.into())))
    }

    /// Append `ct || tag` of `plaintext` to `out`.
    pub(crate) fn seal_append(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if plaintext.len() > MAX_FIELD_PLAINTEXT {
            return Err(CryptoError::PlaintextTooLarge {
                len: plaintext.len(),
            });
        }
        // Reserve first so the buffer holding plaintext is never reallocated
        // (a reallocation would leave a plaintext copy in freed memory).
        out.reserve_exact(plaintext.len() + TAG_LEN);
        let start = out.len();
        out.extend_from_slice(plaintext);
        match self
            .0
            .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut out[start..])
        {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(_) => {
                // Clear intermediates
                out[start..].zeroize();
                out.truncate(start);
                Err(CryptoError::PlaintextTooLarge {
                    len: plaintext.len(),
                })
            }
        }
    }

    /// Authenticate and decrypt `ct || tag`. On failure nothing is returned
    /// and the working buffer is zeroized.
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ct_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let ct_len = ct_and_tag
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::DecryptionFailed)?;
        let (ct, tag) = ct_and_tag.split_at(ct_len);
        let mut buf = Zeroizing::new(ct.to_vec());
        self.0
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                aad,
                &mut buf,
                Tag::from_slice(tag),
            )
            .map_err(|_| CryptoError::DecryptionFailed)?;
        Ok(buf)
    }
}

/// Nonces drawn from the operating system's generator in one call.
const NONCE_BLOCK: usize = 256;

/// A thread's block of random nonces, each handed out once.
///
/// One `getrandom` call of 3 KiB instead of one of 12 bytes per seal or wrap: the
/// bytes come from the same generator, only drawn ahead. Nonces are not secret (each is
/// stored beside its ciphertext); what matters is that none is used twice, so a nonce
/// is erased from the block as it is taken and the position only moves forward. A
/// block is never shared between threads. A process that forked without `exec` would
/// copy the block into the child; the vault never does (no `unsafe` code, child
/// processes are started with `exec`). See decision 0017.
struct NoncePool {
    bytes: [u8; NONCE_LEN * NONCE_BLOCK],
    /// Index of the next nonce to hand out; `NONCE_BLOCK` when the block is used up.
    next: usize,
}

impl NoncePool {
    const fn empty() -> NoncePool {
        NoncePool {
            bytes: [0; NONCE_LEN * NONCE_BLOCK],
            next: NONCE_BLOCK,
        }
    }

    /// The next nonce; `fill` draws a new block when this one is used up.
    fn take(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<(), CryptoError>,
    ) -> Result<[u8; NONCE_LEN], CryptoError> {
        if self.next >= NONCE_BLOCK {
            // On failure `next` stays at the end: a partly filled block is never used.
            fill(&mut self.bytes)?;
            self.next = 0;
        }
        let start = self.next * NONCE_LEN;
        self.next += 1;
        let slot = &mut self.bytes[start..start + NONCE_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(slot);
        slot.fill(0);
        Ok(nonce)
    }
}

thread_local! {
    static NONCES: RefCell<NoncePool> = const { RefCell::new(NoncePool::empty()) };
}

/// A fresh random nonce, from this thread's block of nonces drawn from the operating
/// system's generator.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN], CryptoError> {
    NONCES.with(|pool| {
        pool.borrow_mut().take(|block| {
            SystemRandom::new()
                .fill(block)
                .map_err(|_| CryptoError::RandomUnavailable)
        })
    })
}

/// Append `u32be(len) || bytes`.
pub(crate) fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // Field names, record kinds and key ids are short; a length above
    // u32::MAX cannot be built in memory that holds a record.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Where a field ciphertext belongs: record kind, record id and field name.
/// Bound into the ciphertext as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldAad<'a> {
    /// Kind of the record holding the field.
    pub record_kind: RecordKind,
    /// Id of the record holding the field.
    pub record_id: Uuid,
    /// Field name as in the schema (e.g. `kana_name`).
    pub field: &'a str,
}

impl FieldAad<'_> {
    /// The associated-data bytes for format `version` (see the module doc).
    pub(crate) fn aad_bytes(&self, version: u8) -> Vec<u8> {
        let kind = self.record_kind.as_str().as_bytes();
        let mut out = Vec::with_capacity(
            FIELD_AAD_LABEL.len() + 1 + 4 + kind.len() + 16 + 4 + self.field.len(),
        );
        out.extend_from_slice(FIELD_AAD_LABEL);
        out.push(version);
        put_len_prefixed(&mut out, kind);
        out.extend_from_slice(self.record_id.as_bytes());
        put_len_prefixed(&mut out, self.field.as_bytes());
        out
    }
}

/// Seals and opens single field values under a subject's data key.
///
/// Implementations bind each ciphertext to its [`FieldAad`] and never return
/// partial plaintext on failure.
pub trait FieldSealer: Send + Sync {
    /// Encrypt one field value; returns the self-describing field ciphertext.
    fn seal(&self, dek: &Dek, aad: &FieldAad<'_>, plaintext: &[u8])
        -> Result<Vec<u8>, CryptoError>;

    /// Authenticate and decrypt one field ciphertext.
    fn open(&self, dek: &Dek, aad: &FieldAad<'_>, sealed: &[u8]) -> Result<Plaintext, CryptoError>;
}

/// AES-256-GCM field sealer (format v1, random 96-bit nonces).
///
/// Stateless: the per-DEK key schedule lives in the [`Dek`], so one sealer
/// serves all subjects and threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct AesGcmSealer;

impl AesGcmSealer {
    /// The sealer.
    pub fn new() -> AesGcmSealer {
        AesGcmSealer
    }
}

impl FieldSealer for AesGcmSealer {
    fn seal(
        &self,
        dek: &Dek,
        aad: &FieldAad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let nonce = random_nonce()?;
        seal_field_with_nonce(dek, aad, &nonce, plaintext)
    }

    fn open(&self, dek: &Dek, aad: &FieldAad<'_>, sealed: &[u8]) -> Result<Plaintext, CryptoError> {
        open_field(dek, aad, sealed)
    }
}

/// Seal with a given nonce. Only [`AesGcmSealer::seal`] (fresh nonce) and the
/// `insecure` test entry (fixtures) call this.
pub(crate) fn seal_field_with_nonce(
    dek: &Dek,
    aad: &FieldAad<'_>,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let aad_bytes = aad.aad_bytes(FIELD_FORMAT_V1);
    let mut out = Vec::with_capacity(FIELD_OVERHEAD + plaintext.len());
    out.push(FIELD_FORMAT_V1);
    out.extend_from_slice(nonce);
    dek.cipher()
        .seal_append(nonce, &aad_bytes, plaintext, &mut out)?;
    Ok(out)
}

fn open_field(dek: &Dek, aad: &FieldAad<'_>, sealed: &[u8]) -> Result<Plaintext, CryptoError> {
    // Every malformed input is the same coarse failure as a bad tag.
    let (&version, rest) = sealed.split_first().ok_or(CryptoError::DecryptionFailed)?;
    if version != FIELD_FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::DecryptionFailed);
    }
    let (nonce, ct_and_tag) = rest.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| CryptoError::DecryptionFailed)?;
    let aad_bytes = aad.aad_bytes(version);
    let bytes = dek.cipher().open(nonce, &aad_bytes, ct_and_tag)?;
    Ok(Plaintext::new(bytes))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_nonce_pool_draws_one_block_per_256_nonces_and_hands_each_out_once() {
        let mut pool = NoncePool::empty();
        let mut draws = 0u32;
        let mut seen = HashSet::new();
        for _ in 0..(3 * NONCE_BLOCK + 5) {
            let nonce = pool
                .take(|block| {
                    draws += 1;
                    SystemRandom::new()
                        .fill(block)
                        .map_err(|_| CryptoError::RandomUnavailable)
                })
                .unwrap();
            assert!(seen.insert(nonce), "a nonce was handed out twice");
        }
        assert_eq!(draws, 4);
        // A taken nonce is erased from the block.
        assert!(pool.bytes[..pool.next * NONCE_LEN].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_failed_draw_is_an_error_and_no_nonce_of_the_unfilled_block_is_used() {
        let mut pool = NoncePool::empty();
        let failed = pool.take(|block| {
            block[..NONCE_LEN].fill(7);
            Err(CryptoError::RandomUnavailable)
        });
        assert!(matches!(failed, Err(CryptoError::RandomUnavailable)));
        // The next take draws again instead of using the partly written block.
        let mut drew = false;
        let nonce = pool
            .take(|block| {
                drew = true;
                block.fill(9);
                Ok(())
            })
            .unwrap();
        assert!(drew);
        assert_eq!(nonce, [9; NONCE_LEN]);
    }

    #[test]
    fn threads_draw_distinct_nonces() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..1_000)
                        .map(|_| random_nonce().unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for nonce in h.join().unwrap() {
                assert!(seen.insert(nonce), "two threads drew the same nonce");
            }
        }
        assert_eq!(seen.len(), 4_000);
    }

    #[test]
    fn aad_is_length_prefixed_so_kind_and_field_cannot_shift() {
        let id = Uuid::nil();
        let a = FieldAad {
            record_kind: RecordKind::Examinee,
            record_id: id,
            field: "ab",
        };
        let bytes = a.aad_bytes(FIELD_FORMAT_V1);
        let mut expected = b"kentei-vault/field\x01".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 8]);
        expected.extend_from_slice(b"examinee");
        expected.extend_from_slice(&[0; 16]);
        expected.extend_from_slice(&[0, 0, 0, 2]);
        expected.extend_from_slice(b"ab");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn sealed_length_is_plaintext_plus_overhead() {
        let dek = Dek::generate().unwrap();
        let aad = FieldAad {
            record_kind: RecordKind::Result,
            record_id: Uuid::nil(),
            field: "score",
        };
        let sealed = AesGcmSealer.seal(&dek, &aad, b"12345").unwrap();
        assert_eq!(sealed.len(), 5 + FIELD_OVERHEAD);
        assert_eq!(sealed[0], FIELD_FORMAT_V1);
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let dek = Dek::generate().unwrap();
        let aad = FieldAad {
            record_kind: RecordKind::Result,
            record_id: Uuid::nil(),
            field: "score",
        };
        let a = AesGcmSealer.seal(&dek, &aad, b"same").unwrap();
        let b = AesGcmSealer.seal(&dek, &aad, b"same").unwrap();
        assert_ne!(a, b);
    }
}
