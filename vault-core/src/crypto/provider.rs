//! The key provider interface: where KEKs, index keys and the audit key live.

use uuid::Uuid;

use super::{AuditSigner, BlindIndexer, Compartment, CryptoError, Dek, KekRef, WrappedDek};

/// Source of the vault's keys: wraps and unwraps subject DEKs, derives blind
/// indexes, signs audit checkpoints.
///
/// [`Keyring`](super::Keyring) (key file or env var) implements it; an HSM
/// (PKCS#11) or cloud KMS provider can implement it later without touching
/// callers. Implementations never hand KEK material to callers.
pub trait KeyProvider: Send + Sync {
    /// Wrap `dek` of subject `subject_id` under the active KEK of `compartment`.
    fn wrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        dek: &Dek,
    ) -> Result<WrappedDek, CryptoError>;

    /// Unwrap a DEK with the KEK version named in its header (active or
    /// decrypt-only). Fails with [`CryptoError::DecryptionFailed`] if it was
    /// wrapped for another subject or compartment, [`CryptoError::KeyNotFound`]
    /// or [`CryptoError::KeyDestroyed`] if its KEK version is gone.
    fn unwrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        wrapped: &WrappedDek,
    ) -> Result<Dek, CryptoError>;

    /// The KEK version that new wraps in `compartment` use.
    fn active_kek(&self, compartment: Compartment) -> KekRef;

    /// The blind indexer for the live index-key versions.
    fn blind_indexer(&self) -> BlindIndexer;

    /// The audit signing key.
    fn audit_signer(&self) -> AuditSigner;

    /// Re-wrap a DEK under the active KEK if it is wrapped under an older
    /// version (the rotation job's step); `Ok(None)` if it is current.
    fn rewrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        wrapped: &WrappedDek,
    ) -> Result<Option<WrappedDek>, CryptoError> {
        if wrapped.kek_ref() == self.active_kek(compartment) {
            return Ok(None);
        }
        let dek = self.unwrap_dek(compartment, subject_id, wrapped)?;
        self.wrap_dek(compartment, subject_id, &dek).map(Some)
    }
}
