//! Bearer tokens: generation, the printable format and the stored hash.
//!
//! A token is 256 bits from the operating system's CSPRNG (`ring::rand::SystemRandom`),
//! printed as a recognisable prefix plus unpadded base64url: `kv_…` for account tokens,
//! `kvb_…` for the single-use bootstrap token. Only the SHA-256 hash of the whole printed
//! token is stored; the clear token is shown once and then exists only with its holder.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::AccountsError;

/// Prefix of account tokens.
pub(crate) const ACCOUNT_PREFIX: &str = "kv_";
/// Prefix of the bootstrap token printed by `kentei-vault init`.
pub(crate) const BOOTSTRAP_PREFIX: &str = "kvb_";
/// Length of the base64url part of a token (32 bytes, no padding).
const BODY_LEN: usize = 43;

/// Which kind of token a presented string claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Account,
    Bootstrap,
}

/// SHA-256 of a printed token: the only form in which a token is stored.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TokenHash(pub(crate) [u8; 32]);

impl TokenHash {
    /// Hashes a printed token.
    pub(crate) fn of(token: &str) -> TokenHash {
        let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        TokenHash(out)
    }

    /// Compares with a stored hash in constant time.
    pub(crate) fn matches(&self, stored: &[u8]) -> bool {
        stored.len() == 32 && bool::from(self.0.ct_eq(stored))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// Generates a fresh printed token with the given prefix.
pub(crate) fn generate(prefix: &str) -> Result<(SecretString, TokenHash), AccountsError> {
    let rng = SystemRandom::new();
    let mut raw = Zeroizing::new([0u8; 32]);
    rng.fill(raw.as_mut()).map_err(|_| AccountsError::Random)?;
    let mut printed = String::with_capacity(prefix.len() + BODY_LEN);
    printed.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(raw.as_ref(), &mut printed);
    let hash = TokenHash::of(&printed);
    Ok((SecretString::from(printed), hash))
}

/// Checks the shape of a presented token (prefix, length, alphabet) without any lookup.
/// A malformed token is refused before the database is asked.
pub(crate) fn classify(presented: &str) -> Option<TokenKind> {
    let (kind, body) = if let Some(b) = presented.strip_prefix(BOOTSTRAP_PREFIX) {
        (TokenKind::Bootstrap, b)
    } else if let Some(b) = presented.strip_prefix(ACCOUNT_PREFIX) {
        (TokenKind::Account, b)
    } else {
        return None;
    };
    let ok = body.len() == BODY_LEN
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    ok.then_some(kind)
}

/// Hashes a secret token (used by tests and by the bootstrap check).
#[allow(dead_code)]
pub(crate) fn hash_secret(token: &SecretString) -> TokenHash {
    TokenHash::of(token.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_prefix_and_are_well_formed() {
        let (t, h) = generate(ACCOUNT_PREFIX).unwrap();
        assert!(t.expose_secret().starts_with("kv_"));
        assert_eq!(classify(t.expose_secret()), Some(TokenKind::Account));
        assert!(h.matches(&TokenHash::of(t.expose_secret()).0));
        let (b, _) = generate(BOOTSTRAP_PREFIX).unwrap();
        assert_eq!(classify(b.expose_secret()), Some(TokenKind::Bootstrap));
    }

    #[test]
    fn two_tokens_differ() {
        let (a, _) = generate(ACCOUNT_PREFIX).unwrap();
        let (b, _) = generate(ACCOUNT_PREFIX).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn malformed_tokens_are_not_classified() {
        assert_eq!(classify(""), None);
        assert_eq!(classify("kv_short"), None);
        assert_eq!(classify(&format!("xx_{}", "a".repeat(43))), None);
        assert_eq!(classify(&format!("kv_{}", "=".repeat(43))), None);
    }

    #[test]
    fn hash_mismatch_is_detected() {
        let h = TokenHash::of("kv_a");
        assert!(!h.matches(&TokenHash::of("kv_b").0));
        assert!(!h.matches(&[0u8; 31]));
    }
}
