//! Signing of checkpoints (Ed25519).
//!
//! The audit log needs only a small signing interface; the keyring's `AuditSigner`
//! implements it when the two are wired together. [`Ed25519CheckpointSigner`] is a
//! self-contained implementation over `ring` for tests, tools and benchmarks.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use zeroize::Zeroizing;

use super::error::AuditError;

/// Signs audit checkpoints. The private key never leaves the implementation.
pub trait CheckpointSigner: Send + Sync {
    /// Id of the signing key, recorded with every checkpoint so a verifier picks the
    /// right public key after a key change.
    fn key_id(&self) -> String;
    /// Ed25519 signature of `msg`.
    fn sign(&self, msg: &[u8]) -> Vec<u8>;
    /// The Ed25519 public key (32 bytes).
    fn public_key(&self) -> Vec<u8>;
}

/// Checks an Ed25519 signature of `msg` under `public_key`.
pub fn verify_checkpoint_signature(public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(msg, sig)
        .is_ok()
}

/// An Ed25519 checkpoint signer holding its key pair in memory.
pub struct Ed25519CheckpointSigner {
    key_id: String,
    pair: Ed25519KeyPair,
}

impl Ed25519CheckpointSigner {
    /// A signer with a fresh random key. Returns the PKCS#8 document too, so that the
    /// caller can keep the key (it is key material: store it like one).
    pub fn generate(key_id: &str) -> Result<(Self, Zeroizing<Vec<u8>>), AuditError> {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| AuditError::SigningKey)?;
        let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
        let signer = Self::from_pkcs8(key_id, &pkcs8)?;
        Ok((signer, pkcs8))
    }

    /// A signer from a PKCS#8 v2 Ed25519 key document.
    pub fn from_pkcs8(key_id: &str, pkcs8: &[u8]) -> Result<Self, AuditError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| AuditError::SigningKey)?;
        Ok(Ed25519CheckpointSigner {
            key_id: key_id.to_owned(),
            pair,
        })
    }
}

impl CheckpointSigner for Ed25519CheckpointSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }

    fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

impl fmt::Debug for Ed25519CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519CheckpointSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The keyring's audit signing key signs checkpoints (and erasure certificates).
impl CheckpointSigner for crate::crypto::AuditSigner {
    fn key_id(&self) -> String {
        crate::crypto::AuditSigner::key_id(self).to_owned()
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        crate::crypto::AuditSigner::sign(self, msg)
    }

    fn public_key(&self) -> Vec<u8> {
        crate::crypto::AuditSigner::public_key(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_under_its_public_key_only() {
        let (a, _) = Ed25519CheckpointSigner::generate("a").unwrap();
        let (b, _) = Ed25519CheckpointSigner::generate("b").unwrap();
        let sig = a.sign(b"checkpoint");
        assert!(verify_checkpoint_signature(
            &a.public_key(),
            b"checkpoint",
            &sig
        ));
        assert!(!verify_checkpoint_signature(
            &b.public_key(),
            b"checkpoint",
            &sig
        ));
        assert!(!verify_checkpoint_signature(
            &a.public_key(),
            b"checkpoinT",
            &sig
        ));
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        let (a, pkcs8) = Ed25519CheckpointSigner::generate("a").unwrap();
        let again = Ed25519CheckpointSigner::from_pkcs8("a", &pkcs8).unwrap();
        assert_eq!(a.public_key(), again.public_key());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (a, pkcs8) = Ed25519CheckpointSigner::generate("audit-1").unwrap();
        let text = format!("{a:?}");
        assert!(text.contains("audit-1"));
        assert!(!text.contains(&hex::encode(&pkcs8[pkcs8.len() - 8..])));
    }
}
