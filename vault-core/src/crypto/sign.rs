//! Ed25519 signing of audit checkpoints and erasure certificates.

use std::fmt;
use std::sync::Arc;

use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair};

use secrecy::{ExposeSecret, SecretSlice};

use super::CryptoError;

/// Signs audit checkpoints (監査ログ) with the keyring's Ed25519 key.
///
/// Cheap to clone. `Debug` shows the key id and public key only.
#[derive(Clone)]
pub struct AuditSigner {
    key_id: Arc<str>,
    key_pair: Arc<Ed25519KeyPair>,
}

impl AuditSigner {
    /// Parse a PKCS#8 (v2) Ed25519 key.
    pub(crate) fn from_pkcs8(key_id: &str, pkcs8: &[u8]) -> Result<AuditSigner, CryptoError> {
        let key_pair =
            Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::KeyringInvalid {
                origin: String::from("audit signing key"),
                reason: format!("audit key {key_id} is not a PKCS#8 v2 Ed25519 key"),
            })?;
        Ok(AuditSigner {
            key_id: Arc::from(key_id),
            key_pair: Arc::new(key_pair),
        })
    }

    /// A fresh key; returns the signer and its PKCS#8 document for the key file.
    pub(crate) fn generate() -> Result<(AuditSigner, SecretSlice<u8>), CryptoError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| CryptoError::RandomUnavailable)?;
        let pkcs8: SecretSlice<u8> = doc.as_ref().to_vec().into();
        let key_pair = Ed25519KeyPair::from_pkcs8(pkcs8.expose_secret())
            .map_err(|_| CryptoError::RandomUnavailable)?;
        let key_id = key_id_for(key_pair.public_key().as_ref());
        let signer = AuditSigner {
            key_id: Arc::from(key_id.as_str()),
            key_pair: Arc::new(key_pair),
        };
        Ok((signer, pkcs8))
    }

    /// Ed25519 signature (64 bytes) of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key_pair.sign(msg).as_ref().to_vec()
    }

    /// The public key (32 bytes), for verifiers and exported checkpoints.
    pub fn public_key(&self) -> Vec<u8> {
        self.key_pair.public_key().as_ref().to_vec()
    }

    /// The key id recorded with every signature.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.key_id)
            .field("public_key", &hex::encode(self.public_key()))
            .finish()
    }
}

/// Whether `sig` is a valid Ed25519 signature of `msg` under `public_key`.
pub fn verify_signature(public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(msg, sig)
        .is_ok()
}

/// Key id for an Ed25519 public key: `ed25519-` and the first 8 bytes of its
/// SHA-256 in hex.
fn key_id_for(public_key: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, public_key);
    format!("ed25519-{}", hex::encode(&d.as_ref()[..8]))
}
