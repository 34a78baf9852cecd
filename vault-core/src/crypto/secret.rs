//! Secret value types: the per-subject data key ([`Dek`]) and decrypted field
//! bytes ([`Plaintext`]).

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use super::aead::PreparedKey;
use super::CryptoError;

/// Length of a data key in bytes (AES-256).
pub(crate) const DEK_LEN: usize = 32;

/// 256-bit data key (DEK) of one subject (受検者 or マイスター).
///
/// Every field of every record of the subject is sealed under it. It is stored
/// only wrapped by a KEK ([`WrappedDek`](super::WrappedDek)); deleting the
/// wrapped copy makes all of the subject's ciphertexts unreadable
/// (crypto-shredding).
///
/// The AES key schedule and GHASH key are prepared once when the `Dek` is
/// created, so sealing many fields under one DEK does no per-field key setup.
/// Key bytes and schedule are zeroized on drop. No `Debug` or `Clone`.
pub struct Dek {
    key: SecretBox<[u8; DEK_LEN]>,
    cipher: PreparedKey,
}

impl Dek {
    /// A fresh random data key from the operating system's CSPRNG.
    pub fn generate() -> Result<Dek, CryptoError> {
        let key = random_key()?;
        Ok(Dek::from_secret(key))
    }

    /// A data key from raw bytes, for key providers that unwrap DEKs
    /// elsewhere (HSM, KMS). The caller's buffer is zeroized on drop.
    pub fn from_bytes(bytes: Zeroizing<[u8; DEK_LEN]>) -> Dek {
        Dek::from_secret(SecretBox::init_with_mut(|k: &mut [u8; DEK_LEN]| {
            k.copy_from_slice(&bytes[..]);
        }))
    }

    pub(crate) fn from_secret(key: SecretBox<[u8; DEK_LEN]>) -> Dek {
        let cipher = PreparedKey::new(key.expose_secret());
        Dek { key, cipher }
    }

    /// The raw key bytes, for wrapping by a key provider. Handle with care:
    /// never log, store unwrapped or copy into a non-zeroizing buffer.
    pub fn expose_bytes(&self) -> &[u8; DEK_LEN] {
        self.key.expose_secret()
    }

    /// The prepared AES-256-GCM cipher of this key.
    pub(crate) fn cipher(&self) -> &PreparedKey {
        &self.cipher
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek(<redacted>)")
    }
}

/// Decrypted bytes of one field. Zeroized on drop; no `Debug` of the content.
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Plaintext {
        Plaintext(bytes)
    }

    /// The decrypted bytes. Do not log them or copy them into buffers that are
    /// not zeroized.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Take the decrypted bytes out, still in a zeroizing buffer.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    /// Number of plaintext bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<{} bytes redacted>)", self.0.len())
    }
}

/// 32 random bytes in a zeroizing box.
pub(crate) fn random_key() -> Result<SecretBox<[u8; 32]>, CryptoError> {
    let rng = SystemRandom::new();
    let mut filled = Ok(());
    let key = SecretBox::init_with_mut(|k: &mut [u8; 32]| filled = rng.fill(k));
    filled.map_err(|_| CryptoError::RandomUnavailable)?;
    Ok(key)
}
