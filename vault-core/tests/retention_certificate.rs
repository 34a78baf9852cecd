//! C20: every run ends with a signed erasure certificate listing what was erased, by whom.

mod retention_support;

use chrono::{TimeZone, Utc};
use retention_support::*;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::Value;
use vault_core::retention::{
    read_verified_certificate, recheck, verify_certificate, ApprovedPlan, AuditSeqRange,
    CertificateError, CertificateSigner, ErasureCertificate, ExecutionSet, LegalHolds, Period,
    RetentionAction, Target, CERTIFICATE_FORMAT,
};

/// A throw-away Ed25519 signer (the service adapts the keyring's audit signer).
struct TestSigner {
    key: Ed25519KeyPair,
}

impl TestSigner {
    fn generate() -> TestSigner {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        TestSigner {
            key: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        }
    }
}

impl CertificateSigner for TestSigner {
    fn key_id(&self) -> String {
        "audit-ed25519-v1".to_owned()
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).as_ref().to_vec()
    }
    fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }
}

const RANGE: AuditSeqRange = AuditSeqRange {
    first: 1041,
    last: 1046,
};

/// A run: applications of subjects 1 and 2 erased, subject 3 held after approval,
/// meister 4 flagged (not an erasure).
fn executed_run() -> (ApprovedPlan, ExecutionSet) {
    let rules = [applications_5y(), meister_intent_3y()];
    let candidates = [
        application(1, 10, 2015),
        application(1, 11, 2016),
        application(2, 20, 2019),
        application(3, 30, 2015),
        candidate(4, 40, Target::Meister, Some(date(2020, 1, 1))),
    ];
    let approved = approved_plan(&rules, &candidates, date(2026, 4, 1));
    let holds: LegalHolds = [id(3)].into_iter().collect();
    let set = recheck(&approved, &rules, &candidates, &holds, date(2026, 4, 2)).unwrap();
    (approved, set)
}

fn certificate() -> ErasureCertificate {
    let (approved, set) = executed_run();
    let executed_at = Utc.with_ymd_and_hms(2026, 4, 2, 1, 30, 0).unwrap();
    ErasureCertificate::new(&approved, &set, EXECUTOR, executed_at, RANGE).unwrap()
}

/// A named change to a value, for tamper tests.
type Change<T> = Box<dyn Fn(&mut T)>;

#[test]
fn certificate_lists_erased_subjects_rule_approver_and_executor() {
    let cert = certificate();
    assert_eq!(cert.format, CERTIFICATE_FORMAT);
    assert_eq!(cert.rule_names(), vec!["application_5y"]);
    assert_eq!(
        cert.subject_ids().into_iter().collect::<Vec<_>>(),
        vec![id(1), id(2)]
    );
    assert_eq!(
        cert.record_ids().into_iter().collect::<Vec<_>>(),
        vec![id(10), id(11), id(20)]
    );
    assert_eq!(cert.counts().get(&Target::Application), Some(&3));
    assert_eq!(cert.creator, CREATOR);
    assert_eq!(cert.approver, APPROVER);
    assert_eq!(cert.executor, EXECUTOR);
    assert_eq!(cert.audit_seq_range, RANGE);
    assert_eq!(cert.checked_on, date(2026, 4, 2));
}

#[test]
fn certificate_counts_skipped_records_and_does_not_list_them() {
    let cert = certificate();
    assert_eq!(cert.skipped, 1);
    assert!(!cert.record_ids().contains(&id(30)));
    assert!(!cert.subject_ids().contains(&id(3)));
}

#[test]
fn flagged_meisters_are_not_on_the_erasure_certificate() {
    let cert = certificate();
    assert!(!cert
        .rules
        .iter()
        .any(|r| r.action == RetentionAction::FlagIntentCheck));
    assert!(!cert.subject_ids().contains(&id(4)));
}

#[test]
fn certificate_cites_the_approved_plan() {
    let (approved, set) = executed_run();
    let cert = ErasureCertificate::new(&approved, &set, EXECUTOR, Utc::now(), RANGE).unwrap();
    assert_eq!(cert.plan_id, approved.plan().id);
    assert_eq!(cert.plan_digest, approved.plan().digest);
    assert_eq!(cert.planned_at, approved.plan().created_at);
    assert_eq!(cert.approved_at, approved.approval().approved_at);
}

#[test]
fn signed_certificate_verifies_with_the_signers_public_key() {
    let signer = TestSigner::generate();
    let json = certificate().sign(&signer).unwrap();
    assert!(verify_certificate(&json, &signer.public_key()));
    assert_eq!(
        read_verified_certificate(&json, &signer.public_key()),
        Ok(certificate_from(&json))
    );
}

fn certificate_from(json: &str) -> ErasureCertificate {
    let v: Value = serde_json::from_str(json).unwrap();
    serde_json::from_value(v["certificate"].clone()).unwrap()
}

#[test]
fn certificate_does_not_verify_with_another_key() {
    let json = certificate().sign(&TestSigner::generate()).unwrap();
    assert!(!verify_certificate(
        &json,
        &TestSigner::generate().public_key()
    ));
}

/// The signed JSON with its certificate replaced by `changed`, signature untouched.
fn with_certificate(json: &str, changed: &ErasureCertificate) -> String {
    let mut v: Value = serde_json::from_str(json).unwrap();
    v["certificate"] = serde_json::to_value(changed).unwrap();
    v.to_string()
}

#[test]
fn certificate_fails_after_any_field_change() {
    let signer = TestSigner::generate();
    let original = certificate();
    let json = original.sign(&signer).unwrap();
    let later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let changes: Vec<(&str, Change<ErasureCertificate>)> = vec![
        ("format", Box::new(|c| c.format.push('x'))),
        ("plan_id", Box::new(|c| c.plan_id = id(999))),
        ("plan_digest", Box::new(|c| c.plan_digest = "0".repeat(64))),
        ("checked_on", Box::new(|c| c.checked_on = date(2026, 4, 3))),
        (
            "rule name",
            Box::new(|c| c.rules[0].rule = "application_1y".to_owned()),
        ),
        (
            "rule target",
            Box::new(|c| c.rules[0].target = Target::Result),
        ),
        (
            "rule action",
            Box::new(|c| c.rules[0].action = RetentionAction::Prune),
        ),
        ("count", Box::new(|c| c.rules[0].count += 1)),
        (
            "subject removed",
            Box::new(|c| {
                c.rules[0].subject_ids.remove(&id(2));
            }),
        ),
        (
            "record added",
            Box::new(|c| {
                c.rules[0].record_ids.insert(id(31));
            }),
        ),
        ("rule removed", Box::new(|c| c.rules.clear())),
        ("skipped", Box::new(|c| c.skipped = 0)),
        (
            "creator",
            Box::new(|c| c.creator = "someone-else".to_owned()),
        ),
        ("approver", Box::new(|c| c.approver = CREATOR.to_owned())),
        ("executor", Box::new(|c| c.executor = APPROVER.to_owned())),
        ("planned_at", Box::new(move |c| c.planned_at = later)),
        ("approved_at", Box::new(move |c| c.approved_at = later)),
        ("executed_at", Box::new(move |c| c.executed_at = later)),
        ("audit first", Box::new(|c| c.audit_seq_range.first = 1040)),
        ("audit last", Box::new(|c| c.audit_seq_range.last = 1047)),
    ];
    // The untouched certificate, re-encoded the same way, still verifies.
    assert!(verify_certificate(
        &with_certificate(&json, &original),
        &signer.public_key()
    ));
    for (what, change) in changes {
        let mut changed = original.clone();
        change(&mut changed);
        assert_ne!(changed, original, "{what}: the change changed nothing");
        let tampered = with_certificate(&json, &changed);
        assert!(
            !verify_certificate(&tampered, &signer.public_key()),
            "{what} went unnoticed"
        );
    }
}

#[test]
fn certificate_with_a_changed_key_id_or_signature_fails() {
    let signer = TestSigner::generate();
    let json = certificate().sign(&signer).unwrap();
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["key_id"] = Value::from("another-key");
    assert!(!verify_certificate(&v.to_string(), &signer.public_key()));

    let mut v: Value = serde_json::from_str(&json).unwrap();
    let sig = v["signature"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    v["signature"] = Value::from(format!("{flipped}{}", &sig[1..]));
    assert!(!verify_certificate(&v.to_string(), &signer.public_key()));
}

#[test]
fn certificate_with_an_added_field_is_refused() {
    let signer = TestSigner::generate();
    let json = certificate().sign(&signer).unwrap();
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["certificate"]["note"] = Value::from("nothing erased really");
    assert_eq!(
        read_verified_certificate(&v.to_string(), &signer.public_key()),
        Err(CertificateError::Malformed)
    );
}

#[test]
fn certificate_for_an_execution_set_of_another_plan_is_refused() {
    let (approved, _) = executed_run();
    let (_, other_set) = executed_run();
    assert_eq!(
        ErasureCertificate::new(&approved, &other_set, EXECUTOR, Utc::now(), RANGE),
        Err(CertificateError::PlanMismatch)
    );
}

#[test]
fn certificate_with_a_reversed_audit_range_is_refused() {
    let (approved, set) = executed_run();
    let reversed = AuditSeqRange { first: 9, last: 8 };
    assert_eq!(
        ErasureCertificate::new(&approved, &set, EXECUTOR, Utc::now(), reversed),
        Err(CertificateError::InvalidAuditRange)
    );
}

#[test]
fn a_rule_whose_records_were_all_skipped_is_listed_with_count_zero() {
    let rules = [applications_5y()];
    let candidates = [application(1, 10, 2020)];
    let approved = approved_plan(&rules, &candidates, date(2026, 4, 1));
    let mut longer = applications_5y();
    longer.period = Period::years(6);
    let set = recheck_without_holds(&approved, &[longer], &candidates, date(2026, 4, 1));
    let cert = ErasureCertificate::new(&approved, &set, EXECUTOR, Utc::now(), RANGE).unwrap();
    assert_eq!(cert.rules[0].count, 0);
    assert_eq!(cert.skipped, 1);
}
