//! The one error type of the crypto module.

use std::path::PathBuf;

/// Everything that can go wrong in field encryption, key wrapping, the keyring,
/// blind indexes and audit signing.
///
/// Messages name keys (id, version), files and field names, never key material
/// or plaintext. Authentication failures are deliberately coarse
/// ([`CryptoError::DecryptionFailed`]): a wrong key, a wrong record, a wrong
/// field, a truncated or tampered ciphertext all look the same to a caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A ciphertext could not be authenticated or decrypted (wrong key, wrong
    /// binding, tampered, truncated, unknown format). No plaintext is returned.
    #[error("decryption failed")]
    DecryptionFailed,

    /// The plaintext is larger than the vault seals in one field.
    #[error("plaintext too large to seal ({len} bytes)")]
    PlaintextTooLarge {
        /// Length of the rejected plaintext in bytes.
        len: usize,
    },

    /// The operating system's random number generator failed.
    #[error("system random number generator unavailable")]
    RandomUnavailable,

    /// No key with this id and version is in the keyring.
    #[error("key {kek_id} version {version} not found")]
    KeyNotFound {
        /// Key id (e.g. `general`, `my_number`, `blind_index`).
        kek_id: String,
        /// Key version.
        version: u32,
    },

    /// The key exists but its material has been destroyed (crypto-shredded).
    #[error("key {kek_id} version {version} has been destroyed")]
    KeyDestroyed {
        /// Key id.
        kek_id: String,
        /// Key version.
        version: u32,
    },

    /// No key set with this id is in the keyring.
    #[error("no key set with id {id}")]
    UnknownKeyId {
        /// The requested key id.
        id: String,
    },

    /// The change would leave a key id without an active version.
    #[error("key {id} version {version} is the active version; rotate first")]
    WouldLeaveNoActiveKey {
        /// Key id.
        id: String,
        /// The active version that was to be retired or destroyed.
        version: u32,
    },

    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    KeyFileRead {
        /// Path of the key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A key file could not be written.
    #[error("cannot write key file {path}: {source}")]
    KeyFileWrite {
        /// Path of the key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A key file can be read or written by group or others.
    #[error(
        "key file {path} is accessible by group or others (mode {mode:o}); \
         restrict it with `chmod 600 {path}`"
    )]
    KeyFilePermissions {
        /// Path of the key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The environment variable that should hold the keyring is not set.
    #[error("environment variable {var} holding the keyring is not set or not UTF-8")]
    KeyEnvMissing {
        /// Name of the variable.
        var: String,
    },

    /// The keyring text is not a valid keyring. The reason never quotes the
    /// text (it may contain key material).
    #[error("invalid keyring in {origin}: {reason}")]
    KeyringInvalid {
        /// Where the keyring came from (file path or `env:VAR`).
        origin: String,
        /// What is wrong, naming keys and settings, never values.
        reason: String,
    },

    /// A stored [`SealedRecord`](super::SealedRecord) blob is malformed.
    #[error("malformed sealed record: {reason}")]
    MalformedSealedRecord {
        /// What is wrong with the structure.
        reason: &'static str,
    },

    /// A stored [`WrappedDek`](super::WrappedDek) is malformed.
    #[error("malformed wrapped data key: {reason}")]
    MalformedWrappedDek {
        /// What is wrong with the structure.
        reason: &'static str,
    },

    /// A field name cannot be stored in a sealed record.
    #[error("invalid field name in sealed record: {reason}")]
    InvalidFieldName {
        /// Why the name is rejected.
        reason: &'static str,
    },
}
