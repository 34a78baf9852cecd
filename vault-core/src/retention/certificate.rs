//! Erasure certificates (消去証明書, seed 003 §11-12, C20): a signed record of one run.
//!
//! The certificate lists what was erased (rule, counts, subject and record ids), who
//! planned, approved and executed the run, when, the audit sequence range that holds
//! the run's events and the digest of the approved plan. It is serialised as canonical
//! JSON and signed with Ed25519; [`verify_certificate`] checks a certificate against a
//! public key, and any change to any field makes it fail.
//!
//! Signed message: the domain tag `kentei-vault/erasure-certificate/v1\n`, the signing
//! key id as 8-byte big-endian length and bytes, then the canonical JSON of the
//! certificate. Canonical JSON: compact, fields in declaration order, sets and maps
//! sorted (`BTreeSet`/`BTreeMap`), times in RFC 3339 UTC.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::approval::ApprovedPlan;
use super::execution::ExecutionSet;
use super::rules::{RetentionAction, Target};

/// The format tag inside every certificate.
pub const CERTIFICATE_FORMAT: &str = "kentei-vault/erasure-certificate/v1";

const SIGNATURE_DOMAIN: &[u8] = b"kentei-vault/erasure-certificate/v1\n";

/// Signs certificates. The audit log's Ed25519 key (via an adapter) or a dedicated key.
pub trait CertificateSigner {
    /// Identifies the key (written into the signed certificate).
    fn key_id(&self) -> String;
    /// An Ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> Vec<u8>;
    /// The Ed25519 public key (32 bytes) that verifies the signatures.
    fn public_key(&self) -> Vec<u8>;
}

/// Why a certificate could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The execution set does not come from this approved plan.
    #[error("the execution set is not from this plan")]
    PlanMismatch,
    /// The audit sequence range is empty or reversed.
    #[error("invalid audit sequence range")]
    InvalidAuditRange,
    /// No executor account was named.
    #[error("no executor account")]
    MissingExecutor,
    /// The certificate could not be encoded or parsed.
    #[error("malformed certificate")]
    Malformed,
    /// The format tag is not one this version reads.
    #[error("unknown certificate format")]
    UnknownFormat,
    /// The signature does not verify with the given key.
    #[error("signature does not verify")]
    BadSignature,
}

/// First and last audit sequence numbers of the run's events (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSeqRange {
    /// First sequence number.
    pub first: u64,
    /// Last sequence number (≥ first).
    pub last: u64,
}

/// What one rule erased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedRule {
    /// The rule's name.
    pub rule: String,
    /// The rule's target (the kind of every record).
    pub target: Target,
    /// The action taken.
    pub action: RetentionAction,
    /// Number of records erased.
    pub count: u64,
    /// Subjects whose records were erased.
    pub subject_ids: BTreeSet<Uuid>,
    /// Records erased.
    pub record_ids: BTreeSet<Uuid>,
}

/// An erasure certificate (消去証明書) of one executed retention plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureCertificate {
    /// Always [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// The executed plan.
    pub plan_id: Uuid,
    /// Digest of the plan as approved.
    pub plan_digest: String,
    /// The day the records were re-checked as due.
    pub checked_on: NaiveDate,
    /// What was erased, per rule (rules that erase only; flags are not erasures).
    pub rules: Vec<CertifiedRule>,
    /// Planned records left out at execution time.
    pub skipped: u64,
    /// Who made the plan.
    pub creator: String,
    /// Who approved it.
    pub approver: String,
    /// Who executed it.
    pub executor: String,
    /// When the plan was made.
    pub planned_at: DateTime<Utc>,
    /// When it was approved.
    pub approved_at: DateTime<Utc>,
    /// When it was executed.
    pub executed_at: DateTime<Utc>,
    /// Audit events of the run.
    pub audit_seq_range: AuditSeqRange,
}

/// A certificate with its signature, as stored and handed out.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedCertificate {
    certificate: ErasureCertificate,
    key_id: String,
    /// Base64 (standard, padded) Ed25519 signature.
    signature: String,
}

impl ErasureCertificate {
    /// The certificate of an executed set. Build it only once the erasure of exactly
    /// the set's records has committed.
    pub fn new(
        approved: &ApprovedPlan,
        executed: &ExecutionSet,
        executor: &str,
        executed_at: DateTime<Utc>,
        audit_seq_range: AuditSeqRange,
    ) -> Result<ErasureCertificate, CertificateError> {
        let plan = approved.plan();
        if executed.plan_id() != plan.id || executed.plan_digest() != plan.digest {
            return Err(CertificateError::PlanMismatch);
        }
        if audit_seq_range.first > audit_seq_range.last {
            return Err(CertificateError::InvalidAuditRange);
        }
        if executor.trim().is_empty() {
            return Err(CertificateError::MissingExecutor);
        }
        let rules = executed
            .rules()
            .iter()
            .filter(|r| r.action.erases())
            .map(|r| CertifiedRule {
                rule: r.rule.clone(),
                target: r.target,
                action: r.action,
                count: r.records.len() as u64,
                subject_ids: r.records.iter().map(|p| p.subject_id).collect(),
                record_ids: r.records.iter().map(|p| p.record_id).collect(),
            })
            .collect();
        Ok(ErasureCertificate {
            format: CERTIFICATE_FORMAT.to_owned(),
            plan_id: plan.id,
            plan_digest: plan.digest.clone(),
            checked_on: executed.checked_on(),
            rules,
            skipped: executed.skipped().len() as u64,
            creator: plan.created_by.clone(),
            approver: approved.approval().approver.clone(),
            executor: executor.to_owned(),
            planned_at: plan.created_at,
            approved_at: approved.approval().approved_at,
            executed_at,
            audit_seq_range,
        })
    }

    /// The names of the run's erasing rules (a rule whose records were all skipped is listed with count 0).
    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.rule.as_str()).collect()
    }

    /// Erased records per kind.
    pub fn counts(&self) -> BTreeMap<Target, u64> {
        let mut counts = BTreeMap::new();
        for rule in &self.rules {
            *counts.entry(rule.target).or_insert(0) += rule.count;
        }
        counts
    }

    /// Every subject with erased records.
    pub fn subject_ids(&self) -> BTreeSet<Uuid> {
        self.rules
            .iter()
            .flat_map(|r| r.subject_ids.iter().copied())
            .collect()
    }

    /// Every erased record.
    pub fn record_ids(&self) -> BTreeSet<Uuid> {
        self.rules
            .iter()
            .flat_map(|r| r.record_ids.iter().copied())
            .collect()
    }

    /// The canonical JSON of the certificate (the signed part).
    pub fn canonical_json(&self) -> Result<Vec<u8>, CertificateError> {
        serde_json::to_vec(self).map_err(|_| CertificateError::Malformed)
    }

    /// Signs the certificate: returns the JSON `{"certificate":…,"key_id":…,"signature":…}`.
    pub fn sign(&self, signer: &dyn CertificateSigner) -> Result<String, CertificateError> {
        let key_id = signer.key_id();
        let message = signed_message(&key_id, &self.canonical_json()?);
        let signed = SignedCertificate {
            certificate: self.clone(),
            signature: BASE64.encode(signer.sign(&message)),
            key_id,
        };
        serde_json::to_string(&signed).map_err(|_| CertificateError::Malformed)
    }
}

fn signed_message(key_id: &str, canonical: &[u8]) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(SIGNATURE_DOMAIN.len() + 8 + key_id.len() + canonical.len());
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(&(key_id.len() as u64).to_be_bytes());
    message.extend_from_slice(key_id.as_bytes());
    message.extend_from_slice(canonical);
    message
}

/// Reads a signed certificate and returns it when its signature verifies with
/// `public_key` (Ed25519, 32 bytes). Unknown fields are refused.
pub fn read_verified_certificate(
    cert_json: &str,
    public_key: &[u8],
) -> Result<ErasureCertificate, CertificateError> {
    let signed: SignedCertificate =
        serde_json::from_str(cert_json).map_err(|_| CertificateError::Malformed)?;
    if signed.certificate.format != CERTIFICATE_FORMAT {
        return Err(CertificateError::UnknownFormat);
    }
    let signature = BASE64
        .decode(signed.signature.as_bytes())
        .map_err(|_| CertificateError::Malformed)?;
    let message = signed_message(&signed.key_id, &signed.certificate.canonical_json()?);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(&message, &signature)
        .map_err(|_| CertificateError::BadSignature)?;
    Ok(signed.certificate)
}

/// Whether a signed certificate verifies with `public_key`.
pub fn verify_certificate(cert_json: &str, public_key: &[u8]) -> bool {
    read_verified_certificate(cert_json, public_key).is_ok()
}
