//! The keyring file of a data directory: created by `kentei-vault init`, loaded by
//! `serve`.
//!
//! The key file lives in the data directory's `keys/` (mode 0700) with mode 0600;
//! key material never enters the database and never appears in configuration output
//! or logs. Generating, writing and reading keys is the crypto module's
//! ([`vault_core::crypto::Keyring`]).

use std::path::Path;
use std::sync::Arc;

use vault_core::crypto::{CryptoError, Keyring};

/// Environment variable that, when set, holds the whole keyring (the key file's
/// TOML) instead of the key file, e.g. injected by a secret manager.
pub const KEYRING_ENV: &str = "KENTEI_VAULT_KEYRING";

/// Creating or loading the keyring failed. Messages name paths, never key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// `init` found a key file already there.
    #[error("a keyring already exists at {0}; init never overwrites keys")]
    Exists(String),
    /// The crypto module refused (unreadable file, group/other-readable mode, bad format).
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// Creates a new keyring at `path` (mode 0600): version 1 of every key-encryption
/// key, the blind-index key and an Ed25519 audit signing key. Refuses an existing file.
pub fn create_keyring(path: &Path) -> Result<(), KeyringError> {
    if path.exists() {
        return Err(KeyringError::Exists(path.display().to_string()));
    }
    Keyring::generate()?.save(path)?;
    Ok(())
}

/// Loads the keyring for `serve`: from [`KEYRING_ENV`] when set, else from `path`
/// (which must not be readable by group or others).
pub fn load_keyring(path: &Path) -> Result<Arc<Keyring>, KeyringError> {
    let k = if std::env::var_os(KEYRING_ENV).is_some() {
        Keyring::from_env(KEYRING_ENV)?
    } else {
        Keyring::load_file(path)?
    };
    Ok(Arc::new(k))
}
