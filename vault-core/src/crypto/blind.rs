//! Blind indexes: keyed digests of normalised values for exact-match lookups
//! (受検番号, 申請ID, 個人番号, カナ氏名 + 生年月日) without storing the value.
//!
//! `digest = HMAC-SHA256(field_key, normalize_for_index(value))` where
//! `field_key = HKDF-SHA256(salt = "kentei-vault/blind-index/salt/v1",
//! ikm = index key of that version, info = "kentei-vault/blind-index/v1" ||
//! u32be(len(field)) || field || u32be(version))`.
//!
//! Each field has its own key, so equal values in two fields give unrelated
//! digests. Index keys and derived keys never leave the process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use ring::{hkdf, hmac};
use unicode_normalization::UnicodeNormalization;

use super::aead::put_len_prefixed;

const HKDF_SALT: &[u8] = b"kentei-vault/blind-index/salt/v1";
const HKDF_INFO_LABEL: &[u8] = b"kentei-vault/blind-index/v1";
/// Derived field keys kept per indexer; beyond this they are derived per call.
const MAX_CACHED_FIELD_KEYS: usize = 1024;

/// Normalise a value before blind indexing: NFKC (half-width katakana and
/// full-width ASCII fold to their standard forms), every whitespace character
/// removed, hiragana (U+3041..=U+3096) folded to katakana (+0x60).
///
/// `ﾔﾏﾀﾞ ﾀﾛｳ`, `やまだ　たろう` and `ヤマダタロウ` all normalise to `ヤマダタロウ`.
pub fn normalize_for_index(value: &str) -> String {
    value
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// One blind-index digest and the index-key version that produced it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindDigest {
    /// Index-key version.
    pub version: u32,
    /// HMAC-SHA256 output.
    pub bytes: [u8; 32],
}

impl fmt::Debug for BlindDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BlindDigest(v{}, {}..)",
            self.version,
            hex::encode(&self.bytes[..4])
        )
    }
}

/// Computes blind-index digests under the live index-key versions.
///
/// Cheap to clone (shared state). Obtained from
/// [`KeyProvider::blind_indexer`](super::KeyProvider::blind_indexer).
#[derive(Clone)]
pub struct BlindIndexer {
    inner: Arc<Inner>,
}

struct Inner {
    /// The active version.
    active: (u32, hkdf::Prk),
    /// Other live versions, newest first.
    older: Vec<(u32, hkdf::Prk)>,
    field_keys: RwLock<HashMap<(String, u32), hmac::Key>>,
}

impl BlindIndexer {
    /// Build from the active index key and the other live ones (version,
    /// key bytes), newest first.
    pub(crate) fn new<'a>(
        active: (u32, &[u8; 32]),
        older: impl IntoIterator<Item = (u32, &'a [u8; 32])>,
    ) -> BlindIndexer {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT);
        let active = (active.0, salt.extract(active.1));
        let older = older
            .into_iter()
            .map(|(v, key)| (v, salt.extract(key)))
            .collect();
        BlindIndexer {
            inner: Arc::new(Inner {
                active,
                older,
                field_keys: RwLock::new(HashMap::new()),
            }),
        }
    }

    fn live(&self) -> impl Iterator<Item = &(u32, hkdf::Prk)> + '_ {
        std::iter::once(&self.inner.active).chain(self.inner.older.iter())
    }

    /// Digests of `value` for `field` under every live index-key version,
    /// the active version first. Look-ups match any of them while a
    /// re-index after rotation is under way.
    pub fn digest(&self, field: &str, value: &str) -> Vec<BlindDigest> {
        let normalized = zeroize::Zeroizing::new(normalize_for_index(value));
        self.live()
            .map(|(version, prk)| self.digest_normalized(field, *version, prk, &normalized))
            .collect()
    }

    /// Digest of `value` for `field` under the active index-key version (the
    /// one stored with new records).
    pub fn digest_active(&self, field: &str, value: &str) -> BlindDigest {
        let normalized = zeroize::Zeroizing::new(normalize_for_index(value));
        let (version, prk) = &self.inner.active;
        self.digest_normalized(field, *version, prk, &normalized)
    }

    /// The active index-key version.
    pub fn active_version(&self) -> u32 {
        self.inner.active.0
    }

    /// All live index-key versions, active first.
    pub fn live_versions(&self) -> Vec<u32> {
        self.live().map(|(v, _)| *v).collect()
    }

    fn digest_normalized(
        &self,
        field: &str,
        version: u32,
        prk: &hkdf::Prk,
        normalized: &str,
    ) -> BlindDigest {
        let cache_key = (field.to_owned(), version);
        if let Ok(cache) = self.inner.field_keys.read() {
            if let Some(key) = cache.get(&cache_key) {
                return BlindDigest {
                    version,
                    bytes: hmac_sha256(key, normalized.as_bytes()),
                };
            }
        }
        let key = derive_field_key(prk, field, version);
        let bytes = hmac_sha256(&key, normalized.as_bytes());
        if let Ok(mut cache) = self.inner.field_keys.write() {
            if cache.len() < MAX_CACHED_FIELD_KEYS {
                cache.insert(cache_key, key);
            }
        }
        BlindDigest { version, bytes }
    }
}

impl fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexer")
            .field("live_versions", &self.live_versions())
            .finish_non_exhaustive()
    }
}

fn derive_field_key(prk: &hkdf::Prk, field: &str, version: u32) -> hmac::Key {
    let mut field_part = Vec::with_capacity(4 + field.len());
    put_len_prefixed(&mut field_part, field.as_bytes());
    let version_part = version.to_be_bytes();
    let info = [HKDF_INFO_LABEL, &field_part, &version_part];
    // Invariant: HKDF-SHA256 expand fails only for outputs longer than
    // 255 * 32 bytes; an HMAC-SHA256 key is 32 bytes.
    #[allow(clippy::expect_used)]
    let okm = prk
        .expand(&info, hmac::HMAC_SHA256)
        .expect("HKDF-SHA256 expand to 32 bytes");
    hmac::Key::from(okm)
}

/// HMAC-SHA256; the one MAC code path of blind indexes (also run against
/// Wycheproof vectors through `insecure::hmac_sha256`).
pub(crate) fn hmac_sha256(key: &hmac::Key, msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(key, msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hiragana_range_folds_to_katakana() {
        assert_eq!(normalize_for_index("ぁゖゔ"), "ァヶヴ");
    }

    #[test]
    fn whitespace_of_every_kind_is_removed() {
        assert_eq!(normalize_for_index(" a\u{3000}b\tc\n"), "abc");
    }

    #[test]
    fn full_width_digits_become_ascii() {
        assert_eq!(normalize_for_index("１２３"), "123");
    }
}
