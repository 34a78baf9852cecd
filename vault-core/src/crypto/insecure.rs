//! Low-level entries for test vectors and stored-ciphertext fixtures.
//!
//! NOT for production code: these take caller-chosen nonces and raw keys.
//! They run the same code paths as the real API so that Wycheproof vectors
//! and fixtures test what the vault uses.

use uuid::Uuid;
use zeroize::Zeroizing;

use super::aead::{seal_field_with_nonce, PreparedKey, NONCE_LEN};
use super::blind::hmac_sha256 as mac;
use super::{Compartment, CryptoError, Dek, FieldAad, Keyring, Plaintext, WrappedDek};

/// AES-256-GCM encryption with a given key and 96-bit nonce; returns
/// `ct || tag`. Same code path as field sealing and DEK wrapping.
pub fn aes256gcm_seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::new();
    PreparedKey::new(key).seal_append(nonce, aad, plaintext, &mut out)?;
    Ok(out)
}

/// AES-256-GCM decryption of `ct || tag`; same code path as field opening
/// and DEK unwrapping.
pub fn aes256gcm_open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ct_and_tag: &[u8],
) -> Result<Plaintext, CryptoError> {
    PreparedKey::new(key)
        .open(nonce, aad, ct_and_tag)
        .map(Plaintext::new)
}

/// HMAC-SHA256 of `msg` under a raw key; the MAC code path of blind indexes.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    mac(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), msg)
}

/// A DEK from fixed bytes (fixtures).
pub fn dek_from_bytes(bytes: [u8; 32]) -> Dek {
    Dek::from_bytes(Zeroizing::new(bytes))
}

/// Seal a field with a fixed nonce (fixtures). Reusing a nonce under one DEK
/// breaks AES-GCM: never call this outside tests.
pub fn seal_field_with_fixed_nonce(
    dek: &Dek,
    aad: &FieldAad<'_>,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    seal_field_with_nonce(dek, aad, nonce, plaintext)
}

/// Wrap a DEK with a fixed nonce (fixtures).
pub fn wrap_dek_with_fixed_nonce(
    keyring: &Keyring,
    compartment: Compartment,
    subject_id: Uuid,
    dek: &Dek,
    nonce: &[u8; NONCE_LEN],
) -> Result<WrappedDek, CryptoError> {
    keyring.wrap_dek_with_nonce(compartment, subject_id, dek, nonce)
}
