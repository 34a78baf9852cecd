//! Cryptography of the vault: field sealing (AES-256-GCM under per-subject
//! data keys), the sealed record container, wrapped DEKs, the keyring and key
//! provider, blind indexes and audit signatures.
//!
//! Layering, from the bottom:
//!
//! - [`Dek`]: one random 256-bit data key per subject (受検者, マイスター),
//!   stored only as a [`WrappedDek`] under a KEK of its [`Compartment`].
//! - [`FieldSealer`] / [`AesGcmSealer`]: seal one field value under a DEK,
//!   bound by [`FieldAad`] to (format version, record kind, record id, field).
//! - [`SealedRecord`]: field name -> field ciphertext, the one blob per record.
//! - [`KeyProvider`] / [`Keyring`]: KEKs (`general`, `my_number`), index
//!   keys (`blind_index`) and the audit key, with versions and states.
//! - [`BlindIndexer`]: HMAC-SHA256 digests of normalised values for
//!   exact-match search; [`AuditSigner`]: Ed25519 checkpoint signatures.
//!
//! Formats are documented in the submodules and in
//! `docs/decisions/0001-ciphertext-format.md`.
//!
//! Every secret (DEK, KEK, index key, plaintext) lives in a zeroizing type
//! with no clear-text `Debug`; every authentication failure is the coarse
//! [`CryptoError::DecryptionFailed`].

mod aead;
mod blind;
mod error;
#[doc(hidden)]
pub mod insecure;
mod keyring;
mod provider;
mod record;
mod secret;
mod sign;
mod wrap;

pub use aead::{AesGcmSealer, FieldAad, FieldSealer, FIELD_OVERHEAD, MAX_FIELD_PLAINTEXT};
pub use blind::{normalize_for_index, BlindDigest, BlindIndexer};
pub use error::CryptoError;
pub use keyring::{KeyInfo, KeyPurpose, KeyState, Keyring, BLIND_INDEX_KEY_ID};
pub use provider::KeyProvider;
pub use record::SealedRecord;
pub use secret::{Dek, Plaintext};
pub use sign::{verify_signature, AuditSigner};
pub use wrap::{Compartment, KekRef, WrappedDek};
