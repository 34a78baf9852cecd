//! The lifecycle service on both backends: key rotation and destruction, the usage limit,
//! blind-index rotation, retention plans (holds, two people, policy at execution time),
//! the My Number rule, erasure certificates, meister intent checks, and what remains of
//! an erased subject in the database files, a dump and a restored backup.

mod common;
mod lifecycle_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Days, Utc};
use common::TestDb;
use lifecycle_support::*;
use serde_json::json;
use uuid::Uuid;
use vault_core::audit::{query_events, EventFilter, Label};
use vault_core::crypto::{Compartment, CryptoError, KeyProvider, WrappedDek};
use vault_core::lifecycle::{LifecycleError, PlanState, RotationState};
use vault_core::retention::{
    read_verified_certificate, today_in_japan, verify_certificate, ApprovalError, IntentAnswer,
    MeisterStatus, Target,
};
use vault_core::store::{Backend, KeyCompartment};
use vault_core::vault::{ExamineeSearch, VaultError};
use vault_policy::{Policy, TenantScope};

async fn for_both<F, Fut>(test: F)
where
    F: Fn(Harness) -> Fut,
    Fut: std::future::Future<Output = Harness>,
{
    for db in [TestDb::sqlite().await, TestDb::postgres().await] {
        test(harness(db).await).await.finish().await;
    }
}

async fn actions(backend: &Backend, action: &str) -> Vec<vault_core::audit::RecordedEvent> {
    let filter = EventFilter {
        action: Some(Label::parse("action", action).expect("label")),
        ..EventFilter::default()
    };
    query_events(backend, &filter, 500, None)
        .await
        .expect("query")
        .events
}

async fn kek_count(h: &Harness, kek: &str, version: u32) -> u64 {
    h.vault
        .store()
        .count_keys_by_kek()
        .await
        .expect("count")
        .iter()
        .filter(|c| c.kek_id == kek && c.kek_version == version)
        .map(|c| c.count)
        .sum()
}

async fn reads_back(h: &Harness, id: Uuid) {
    let view = h
        .vault
        .read_examinee(&staff(), "exam_administration", id)
        .await
        .expect("read examinee");
    assert_eq!(view.fields["name"], json!(NAME));
    assert_eq!(view.fields["address"], json!(ADDRESS));
}

// ----- key rotation ------------------------------------------------------------------

#[tokio::test]
async fn rotation_wraps_new_keys_at_once_and_the_job_rewraps_every_old_one() {
    for_both(|h| async move {
        let mut ids = Vec::new();
        for n in 0..7 {
            ids.push(seed_examinee(&h.vault, n, 2024).await.0);
        }
        let op = operator();
        let job = h.life.rotate_key(&op, "general").await.expect("rotate");
        assert_eq!(job.to_version, 2);
        assert_eq!(job.state, RotationState::Running);
        assert_eq!(job.total, 7);
        // New keys use version 2 at once; old ones still read.
        let (late, _) = seed_examinee(&h.vault, 99, 2024).await;
        assert_eq!(kek_count(&h, "general", 2).await, 1);
        reads_back(&h, ids[0]).await;

        let done = h.life.run_rotations().await.expect("run");
        assert!(done.iter().all(|j| j.state == RotationState::Complete));
        assert_eq!(kek_count(&h, "general", 1).await, 0);
        assert_eq!(kek_count(&h, "general", 2).await, 8);
        for id in ids.iter().chain([&late]) {
            reads_back(&h, *id).await;
        }
        let status = h.life.key_status(&op).await.expect("status");
        let v1 = status
            .keys
            .iter()
            .find(|k| k.id == "general" && k.version == 1)
            .expect("v1");
        assert_eq!(v1.state, "decrypt_only");
        assert_eq!(v1.deks, Some(0));
        assert!(v1.destroyable);
        assert_eq!(
            v1.uses, 7,
            "one general wrap per examinee before the rotation"
        );
        let v2 = status
            .keys
            .iter()
            .find(|k| k.id == "general" && k.version == 2)
            .expect("v2");
        assert_eq!(v2.state, "active");
        assert!(v2.age_days == Some(0));
        // Audit: start, completion; events carry no subject.
        let start = actions(&h.db.backend, "key.rotate").await;
        assert_eq!(start.len(), 1);
        assert!(start[0].subjects.is_empty());
        assert_eq!(actions(&h.db.backend, "key.rotate.complete").await.len(), 1);
        assert!(!actions(&h.db.backend, "key.rotate.progress")
            .await
            .is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn a_kek_older_than_its_cryptoperiod_is_rotated_by_the_background_job() {
    for_both(|h| async move {
        let (id, _) = seed_examinee(&h.vault, 1, 2024).await;
        let life = vault_core::lifecycle::Lifecycle::start(
            h.db.backend.clone(),
            h.keys.clone(),
            Arc::new(Policy::default_policy()),
            h.audit.clone(),
            vault_core::lifecycle::LifecycleConfig {
                kek_max_age_days: Some(30),
                ..Default::default()
            },
        )
        .await
        .expect("lifecycle");
        // A young key is left alone.
        life.run_rotations().await.expect("run");
        assert_eq!(h.keys.snapshot().active_version("general").expect("v"), 1);
        // The same key, first seen 40 days ago, has outlived its cryptoperiod.
        let old = (Utc::now() - chrono::Duration::days(40)).to_rfc3339();
        let sql = match &h.db.backend {
            Backend::Sqlite(_) => "UPDATE key_usage SET created_at = ? WHERE key_id = 'general'",
            Backend::Postgres(_) => "UPDATE key_usage SET created_at = $1 WHERE key_id = 'general'",
        };
        match &h.db.backend {
            Backend::Sqlite(p) => sqlx::query(sql).bind(&old).execute(p).await.map(|_| ()),
            Backend::Postgres(p) => sqlx::query(sql).bind(&old).execute(p).await.map(|_| ()),
        }
        .expect("backdate");
        life.run_rotations().await.expect("run");
        assert_eq!(h.keys.snapshot().active_version("general").expect("v"), 2);
        assert_eq!(kek_count(&h, "general", 1).await, 0, "old DEKs re-wrapped");
        assert_eq!(
            actions(&h.db.backend, "key.rotate.cryptoperiod")
                .await
                .len(),
            1
        );
        reads_back(&h, id).await;
        // The new version is young: no second rotation.
        life.run_rotations().await.expect("run");
        assert_eq!(h.keys.snapshot().active_version("general").expect("v"), 2);
        // The My Number KEK was young too.
        assert_eq!(h.keys.snapshot().active_version("my_number").expect("v"), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn old_kek_version_is_destroyed_only_once_no_dek_uses_it() {
    for_both(|h| async move {
        let (id, _) = seed_examinee(&h.vault, 1, 2024).await;
        let op = operator();
        h.life.rotate_key(&op, "my_number").await.expect("rotate");
        match h.life.destroy_key(&op, "my_number", 1).await {
            Err(LifecycleError::KeyInUse { in_use, .. }) => assert_eq!(in_use, 1),
            other => panic!("destroy of a used version: {other:?}"),
        }
        assert!(matches!(
            h.life.destroy_key(&op, "my_number", 2).await,
            Err(LifecycleError::InvalidState(_))
        ));
        h.life.run_rotations().await.expect("run");
        h.life
            .destroy_key(&op, "my_number", 1)
            .await
            .expect("destroy");
        let verifier = actor("verifier-1", "identity_verifier", &["13"]);
        let revealed = h
            .vault
            .reveal_my_number(&verifier, "identity_verification", id)
            .await
            .expect("reveal after destroy of the old version");
        assert_eq!(revealed.expose_digits(), my_number(1));
        let status = h.life.key_status(&op).await.expect("status");
        assert!(status
            .keys
            .iter()
            .any(|k| k.id == "my_number" && k.version == 1 && k.state == "destroyed"));
        assert_eq!(actions(&h.db.backend, "key.destroy").await.len(), 1);
        // The key file itself changed: a fresh load sees the destroyed version.
        let reloaded = vault_core::crypto::Keyring::load_file(&h.key_path).expect("reload");
        assert!(reloaded
            .keys()
            .iter()
            .any(|k| k.id == "my_number" && k.version == 1 && k.state.as_str() == "destroyed"));
        h
    })
    .await;
}

#[tokio::test]
async fn exam_staff_cannot_rotate_or_read_key_status() {
    for_both(|h| async move {
        assert!(matches!(
            h.life.rotate_key(&staff(), "general").await,
            Err(LifecycleError::Forbidden)
        ));
        assert!(matches!(
            h.life.key_status(&staff()).await,
            Err(LifecycleError::Forbidden)
        ));
        assert_eq!(h.keys.snapshot().active_version("general").unwrap(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn crossing_the_usage_limit_forces_a_rotation_before_further_use() {
    for db in [TestDb::sqlite().await, TestDb::postgres().await] {
        let h = harness_with(db, 3, 3).await;
        for n in 0..4 {
            seed_examinee(&h.vault, n, 2024).await;
        }
        // Three general wraps used version 1; the fourth found it spent and rotated.
        assert_eq!(h.keys.snapshot().active_version("general").unwrap(), 2);
        assert_eq!(kek_count(&h, "general", 2).await, 1);
        // My Number KEK too: each examinee has a My Number.
        assert_eq!(h.keys.snapshot().active_version("my_number").unwrap(), 2);
        h.life.run_rotations().await.expect("run");
        assert_eq!(kek_count(&h, "general", 1).await, 0);
        // Re-wrapping spends the new versions' budget as well: more forced rotations
        // follow, each audited.
        assert!(actions(&h.db.backend, "key.rotate.forced").await.len() >= 2);
        let status = h.life.key_status(&operator()).await.expect("status");
        let v1 = status
            .keys
            .iter()
            .find(|k| k.id == "general" && k.version == 1)
            .unwrap();
        assert_eq!(v1.uses, 3);
        h.finish().await;
    }
}

#[tokio::test]
async fn usage_counts_survive_a_restart() {
    let db = TestDb::sqlite().await;
    let h = harness(db).await;
    for n in 0..3 {
        seed_examinee(&h.vault, n, 2024).await;
    }
    h.life.flush_usage().await.expect("flush");
    let (_, life2, keys2, audit2) = open(
        h.db.backend.clone(),
        &h.key_path,
        &h.dir.path().join("checkpoints2.jsonl"),
        1 << 31,
        3,
    )
    .await;
    assert_eq!(keys2.uses("general", 1), 3);
    drop(life2);
    audit2.close().await;
    h.finish().await;
}

#[tokio::test]
async fn blind_index_rotation_keeps_search_working_and_retires_the_old_key() {
    for_both(|h| async move {
        let (id, _) = seed_examinee(&h.vault, 5, 2024).await;
        let s = staff();
        let search = ExamineeSearch::ExamNumber("E-00005".to_owned());
        let op = operator();
        h.life
            .rotate_key(&op, "blind_index")
            .await
            .expect("rotate index key");
        assert_eq!(
            h.vault
                .search_examinees(&s, "exam_administration", &search)
                .await
                .unwrap(),
            vec![id],
            "found through the old version during the switch"
        );
        h.life.run_rotations().await.expect("re-index");
        h.life
            .destroy_key(&op, "blind_index", 1)
            .await
            .expect("retire old index key");
        h.life.run_rotations().await.expect("clean-up pass");
        assert_eq!(
            h.vault
                .search_examinees(&s, "exam_administration", &search)
                .await
                .unwrap(),
            vec![id]
        );
        assert_eq!(
            h.vault
                .search_examinees(
                    &s,
                    "exam_administration",
                    &ExamineeSearch::KanaAndBirthDate {
                        name_kana: KANA.to_owned(),
                        birth_date: "1990-04-01".to_owned(),
                    }
                )
                .await
                .unwrap(),
            vec![id]
        );
        assert_eq!(
            h.vault
                .resolve_my_number(&s, "identity_verification", &my_number(5))
                .await
                .unwrap(),
            id
        );
        assert_eq!(
            actions(&h.db.backend, "key.reindex.complete").await.len(),
            2
        );
        reads_back(&h, id).await;
        h
    })
    .await;
}

// ----- retention ---------------------------------------------------------------------

#[tokio::test]
async fn due_records_are_planned_approved_erased_and_certified() {
    for_both(|h| async move {
        let (old, old_app) = seed_examinee(&h.vault, 1, 2015).await;
        let (new, _) = seed_examinee(&h.vault, 2, 2024).await;
        let today = today_in_japan(Utc::now());
        let op = operator();
        let plan = h.life.create_plan(&op, today).await.expect("plan");
        let planned: BTreeSet<Uuid> = plan
            .plan
            .rules
            .iter()
            .flat_map(|r| r.records.iter().map(|p| p.subject_id))
            .collect();
        assert_eq!(planned, BTreeSet::from([old]));
        assert_eq!(plan.state, PlanState::Planned);
        let counts = plan.plan.counts_by_kind();
        assert_eq!(counts.get(&Target::Application), Some(&1));
        assert_eq!(counts.get(&Target::MyNumber), Some(&1));

        assert!(matches!(
            h.life.execute_plan(&op, plan.plan.id).await,
            Err(LifecycleError::InvalidState(_))
        ));
        let approved = h
            .life
            .approve_plan(&approver(), plan.plan.id)
            .await
            .expect("approve");
        assert_eq!(approved.state, PlanState::Approved);
        let done = h
            .life
            .execute_plan(&op, plan.plan.id)
            .await
            .expect("execute");
        assert_eq!(done.state, PlanState::Executed);

        // The application is gone; the examinee and the other subject remain.
        assert!(matches!(
            h.vault
                .read_application(&staff(), "exam_administration", &old_app)
                .await,
            Err(VaultError::NotFound)
        ));
        reads_back(&h, old).await;
        reads_back(&h, new).await;

        // The certificate verifies and points at the run's audit events.
        let cert_json = h
            .life
            .certificate(&op, plan.plan.id)
            .await
            .expect("certificate");
        let public = h.keys.snapshot().audit_signer().public_key();
        assert!(verify_certificate(&cert_json, &public));
        let cert = read_verified_certificate(&cert_json, &public).expect("verified");
        assert_eq!(cert.subject_ids(), BTreeSet::from([old]));
        assert_eq!(cert.executor, op.id);
        assert_eq!(cert.approver, approver().id);
        assert_eq!(cert.creator, op.id);
        let start = actions(&h.db.backend, "retention.execute.start").await;
        let complete = actions(&h.db.backend, "retention.execute.complete").await;
        assert_eq!(start[0].seq, cert.audit_seq_range.first);
        assert_eq!(complete[0].seq, cert.audit_seq_range.last);
        let erased = actions(&h.db.backend, "retention.erase").await;
        assert!(erased
            .iter()
            .all(|e| e.seq > cert.audit_seq_range.first && e.seq < cert.audit_seq_range.last));
        assert_eq!(erased[0].subjects, vec![old]);
        let recorded = actions(&h.db.backend, "retention.certificate").await;
        assert_eq!(Some(recorded[0].seq), done.certificate_seq);
        // A tampered certificate does not verify.
        let tampered = cert_json.replace(&old.to_string(), &new.to_string());
        assert!(!verify_certificate(&tampered, &public));
        // Executing again changes nothing.
        let again = h.life.execute_plan(&op, plan.plan.id).await.expect("again");
        assert_eq!(again.certificate, done.certificate);
        h
    })
    .await;
}

#[tokio::test]
async fn my_number_rule_removes_the_compartment_row_and_key_and_leaves_the_rest() {
    for_both(|h| async move {
        let (id, _) = seed_examinee(&h.vault, 3, 2015).await;
        let op = operator();
        let plan = h
            .life
            .create_plan(&op, today_in_japan(Utc::now()))
            .await
            .unwrap();
        h.life
            .approve_plan(&approver(), plan.plan.id)
            .await
            .unwrap();
        h.life.execute_plan(&op, plan.plan.id).await.unwrap();
        let store = h.vault.store();
        let all = TenantScope::All;
        assert!(store.get_my_number(id, &all).await.unwrap().is_none());
        assert!(store
            .get_key(id, KeyCompartment::MyNumber)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .get_key(id, KeyCompartment::General)
            .await
            .unwrap()
            .is_some());
        assert!(store.get_subject(id, &all).await.unwrap().is_some());
        reads_back(&h, id).await;
        assert!(h
            .vault
            .resolve_my_number(&staff(), "identity_verification", &my_number(3))
            .await
            .is_err());
        assert!(h.keys.is_shredded(Compartment::MyNumber, id));
        assert!(!h.keys.is_shredded(Compartment::General, id));
        h
    })
    .await;
}

#[tokio::test]
async fn an_approver_cannot_approve_their_own_plan() {
    for_both(|h| async move {
        seed_examinee(&h.vault, 1, 2015).await;
        let both = vault_core::vault::Actor {
            roles: vec!["operator".to_owned(), "retention_approver".to_owned()],
            ..actor("ops-and-approver", "operator", &[])
        };
        let plan = h
            .life
            .create_plan(&both, today_in_japan(Utc::now()))
            .await
            .unwrap();
        assert!(matches!(
            h.life.approve_plan(&both, plan.plan.id).await,
            Err(LifecycleError::Approval(
                ApprovalError::CreatorCannotApprove
            ))
        ));
        let denied = actions(&h.db.backend, "retention.approve").await;
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].outcome.as_str(), "denied");
        h
    })
    .await;
}

#[tokio::test]
async fn an_exam_staff_account_cannot_approve_or_plan() {
    for_both(|h| async move {
        seed_examinee(&h.vault, 1, 2015).await;
        let plan = h
            .life
            .create_plan(&operator(), today_in_japan(Utc::now()))
            .await
            .unwrap();
        assert!(matches!(
            h.life.approve_plan(&staff(), plan.plan.id).await,
            Err(LifecycleError::Forbidden)
        ));
        assert!(matches!(
            h.life
                .create_plan(&staff(), today_in_japan(Utc::now()))
                .await,
            Err(LifecycleError::Forbidden)
        ));
        // The operator who plans cannot approve either (no approver role).
        assert!(matches!(
            h.life.approve_plan(&operator(), plan.plan.id).await,
            Err(LifecycleError::Forbidden)
        ));
        h
    })
    .await;
}

#[tokio::test]
async fn a_held_subject_is_never_planned_and_a_hold_after_approval_skips_it() {
    for_both(|h| async move {
        let (id, _) = seed_examinee(&h.vault, 1, 2015).await;
        let op = operator();
        let today = today_in_japan(Utc::now());
        let hold = h
            .life
            .place_hold(&op, &[id], "case 2026-A")
            .await
            .expect("hold");
        let plan = h.life.create_plan(&op, today).await.unwrap();
        assert_eq!(plan.plan.record_count(), 0);
        h.life.release_hold(&op, hold).await.expect("release");
        let plan = h.life.create_plan(&op, today).await.unwrap();
        assert_eq!(plan.plan.record_count(), 2);
        h.life
            .approve_plan(&approver(), plan.plan.id)
            .await
            .unwrap();
        h.life.place_hold(&op, &[id], "case 2026-B").await.unwrap();
        let done = h.life.execute_plan(&op, plan.plan.id).await.unwrap();
        let cert = read_verified_certificate(
            done.certificate.as_deref().unwrap(),
            &h.keys.snapshot().audit_signer().public_key(),
        )
        .unwrap();
        assert_eq!(cert.record_ids().len(), 0);
        assert_eq!(cert.skipped, 2);
        reads_back(&h, id).await;
        assert!(h
            .vault
            .store()
            .get_my_number(id, &TenantScope::All)
            .await
            .unwrap()
            .is_some());
        let holds = h.life.list_holds(&op).await.unwrap();
        assert_eq!(holds.len(), 2);
        assert_eq!(
            actions(&h.db.backend, "retention.hold.place").await[0].subjects,
            vec![id]
        );
        h
    })
    .await;
}

fn policy_with_application_period(period: &str) -> Policy {
    let src = Policy::default_policy_toml().replace(
        "id = \"application\"\ntarget = \"application\"\nclock = \"exam_fiscal_year_end\"\nperiod = \"5 years\"",
        &format!("id = \"application\"\ntarget = \"application\"\nclock = \"exam_fiscal_year_end\"\nperiod = \"{period}\""),
    );
    assert_ne!(
        src,
        Policy::default_policy_toml(),
        "the rule text was found"
    );
    Policy::from_toml(&src, "test policy").expect("policy")
}

#[tokio::test]
async fn execution_rechecks_under_the_policy_in_force_at_execution_time() {
    for_both(|h| async move {
        let (id, app) = seed_examinee(&h.vault, 1, 2015).await;
        let op = operator();
        let plan = h
            .life
            .create_plan(&op, today_in_japan(Utc::now()))
            .await
            .unwrap();
        h.life
            .approve_plan(&approver(), plan.plan.id)
            .await
            .unwrap();
        // The data owner lengthens the application period to 30 years before the run.
        h.life
            .replace_policy(Arc::new(policy_with_application_period("30 years")), false)
            .await
            .expect("lengthening needs no acknowledgement");
        let done = h.life.execute_plan(&op, plan.plan.id).await.unwrap();
        let cert = read_verified_certificate(
            done.certificate.as_deref().unwrap(),
            &h.keys.snapshot().audit_signer().public_key(),
        )
        .unwrap();
        assert_eq!(
            cert.counts()
                .get(&Target::Application)
                .copied()
                .unwrap_or(0),
            0
        );
        assert_eq!(cert.counts().get(&Target::MyNumber).copied(), Some(1));
        assert!(h
            .vault
            .read_application(&staff(), "exam_administration", &app)
            .await
            .is_ok());
        reads_back(&h, id).await;
        h
    })
    .await;
}

#[tokio::test]
async fn a_policy_that_shortens_a_period_is_refused_without_acknowledgement() {
    for_both(|h| async move {
        seed_examinee(&h.vault, 1, 2023).await;
        let shorter = Arc::new(policy_with_application_period("1 year"));
        let check = h
            .life
            .shortening_check(&shorter, today_in_japan(Utc::now()))
            .await
            .unwrap();
        assert_eq!(check.records(), 1);
        match h.life.replace_policy(shorter.clone(), false).await {
            Err(LifecycleError::ShorteningNotAcknowledged { records }) => assert_eq!(records, 1),
            other => panic!("loaded without acknowledgement: {other:?}"),
        }
        h.life
            .replace_policy(shorter, true)
            .await
            .expect("acknowledged");
        let rule = h
            .life
            .policy()
            .retention_rules()
            .iter()
            .find(|r| r.id() == "application")
            .map(|r| r.period().to_string());
        assert_eq!(rule.as_deref(), Some("1 year"));
        h
    })
    .await;
}

// ----- meister intent (C21) -------------------------------------------------------------

#[tokio::test]
async fn an_inactive_meister_is_flagged_never_deleted_and_no_intent_deregisters() {
    for_both(|h| async move {
        let c = coordinator();
        let body = json!({
            "prefecture_code": "13",
            "name": "佐藤 一郎",
            "trades": ["旋盤"],
            "certification_number": "M-13-0001",
            "certified_on": "2015-06-01",
        });
        let idle = h
            .vault
            .register_meister(&c, "meister_dispatch", &body)
            .await
            .unwrap();
        let op = operator();
        let today = today_in_japan(Utc::now());
        let plan = h.life.create_plan(&op, today).await.unwrap();
        assert!(plan.plan.contains(Target::Meister, idle));
        h.life
            .approve_plan(&approver(), plan.plan.id)
            .await
            .unwrap();
        let done = h.life.execute_plan(&op, plan.plan.id).await.unwrap();
        // Flagging is not an erasure: the meister is still there, now in intent_check.
        let cert = read_verified_certificate(
            done.certificate.as_deref().unwrap(),
            &h.keys.snapshot().audit_signer().public_key(),
        )
        .unwrap();
        assert!(cert.subject_ids().is_empty());
        let row = h
            .vault
            .store()
            .get_record(idle, &TenantScope::All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.as_deref(), Some("intent_check"));
        // A second plan does not flag it again.
        let again = h.life.create_plan(&op, today).await.unwrap();
        assert!(!again.plan.contains(Target::Meister, idle));

        let status = h
            .life
            .record_intent_answer(&c, "meister_dispatch", idle, IntentAnswer::NoIntent, today)
            .await
            .expect("answer");
        assert_eq!(status, MeisterStatus::Deregistered);
        let row = h
            .vault
            .store()
            .get_record(idle, &TenantScope::All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.as_deref(), Some("deregistered"));
        assert_eq!(
            row.clock_date,
            Some(today),
            "deregistered_on starts the 5-year clock"
        );
        // Deregistered today: not due for five years.
        let later = h.life.create_plan(&op, today).await.unwrap();
        assert!(!later.plan.contains(Target::MeisterDeregistered, idle));
        let five_years = today.checked_add_days(Days::new(5 * 366)).unwrap();
        let future = h.life.create_plan(&op, five_years).await.unwrap();
        assert!(future.plan.contains(Target::MeisterDeregistered, idle));
        // Only the coordinator (a reader of meister data) may record answers.
        assert!(h
            .life
            .record_intent_answer(&op, "meister_dispatch", idle, IntentAnswer::Continue, today)
            .await
            .is_err());
        h
    })
    .await;
}

// ----- erasure at rest -------------------------------------------------------------------

/// Erases examinee `n` entirely: a first run takes its application and My Number; its
/// "no records remain" clock is then moved back a day (time passing) and a second run
/// deletes the person. Returns the subject, its wrapped general DEK and sealed record.
async fn erase_whole_subject(
    h: &Harness,
    n: u32,
    backup: Option<&std::path::Path>,
) -> (Uuid, Vec<u8>, Vec<u8>) {
    let (id, _) = seed_examinee(&h.vault, n, 2015).await;
    let store = h.vault.store();
    let wrapped = store
        .get_key(id, KeyCompartment::General)
        .await
        .unwrap()
        .unwrap()
        .wrapped;
    let sealed = store
        .get_record(id, &TenantScope::All)
        .await
        .unwrap()
        .unwrap()
        .sealed;
    let op = operator();
    let today = today_in_japan(Utc::now());
    let plan = h.life.create_plan(&op, today).await.unwrap();
    h.life
        .approve_plan(&approver(), plan.plan.id)
        .await
        .unwrap();
    h.life.execute_plan(&op, plan.plan.id).await.unwrap();
    let yesterday = today.pred_opt().unwrap().to_string();
    match &h.db.backend {
        Backend::Sqlite(p) => {
            sqlx::query("UPDATE subject_clocks SET no_records_since = $1")
                .bind(&yesterday)
                .execute(p)
                .await
                .unwrap();
        }
        Backend::Postgres(p) => {
            sqlx::query("UPDATE subject_clocks SET no_records_since = $1")
                .bind(&yesterday)
                .execute(p)
                .await
                .unwrap();
        }
    }
    if let Some(path) = backup {
        h.life.backup(&op, path).await.expect("backup");
    }
    let plan = h.life.create_plan(&op, today).await.unwrap();
    assert!(plan.plan.contains(Target::ExamineePerson, id));
    h.life
        .approve_plan(&approver(), plan.plan.id)
        .await
        .unwrap();
    h.life.execute_plan(&op, plan.plan.id).await.unwrap();
    assert!(store
        .get_subject(id, &TenantScope::All)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_key(id, KeyCompartment::General)
        .await
        .unwrap()
        .is_none());
    (id, wrapped, sealed)
}

fn file_and_wal(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(w) = std::fs::read(std::path::PathBuf::from(wal)) {
        bytes.extend(w);
    }
    bytes
}

#[tokio::test]
async fn an_erased_subject_is_absent_from_the_sqlite_file_its_wal_and_a_restored_backup() {
    let h = harness(TestDb::sqlite().await).await;
    let backup = h.dir.path().join("before.db");
    let (id, wrapped, sealed) = erase_whole_subject(&h, 7, Some(&backup)).await;
    let db_path = h.db.sqlite_path.clone().unwrap();
    let raw = file_and_wal(&db_path);
    assert!(
        !contains_bytes(&raw, &wrapped),
        "wrapped DEK left in the database file or WAL"
    );
    assert!(
        !contains_bytes(&raw, &sealed[..48]),
        "sealed record left in the database file or WAL"
    );
    assert!(!contains_bytes(&raw, NAME.as_bytes()));

    // The backup was taken before the subject was erased: it still holds the wrapped
    // key, but the keyring refuses to unwrap it (shred list) ...
    let old = std::fs::read(&backup).unwrap();
    assert!(
        contains_bytes(&old, &wrapped),
        "the backup predates the erasure"
    );
    assert!(matches!(
        h.keys.unwrap_dek(
            Compartment::General,
            id,
            &WrappedDek::from_bytes(&wrapped).unwrap()
        ),
        Err(CryptoError::KeyDestroyed { .. })
    ));
    // ... and restoring it erases the subject again.
    let restored = h.dir.path().join("restored.db");
    let report = vault_core::lifecycle::restore_sqlite(&backup, &restored, &h.keys)
        .await
        .expect("restore");
    assert!(report.reshredded >= 1);
    let raw = file_and_wal(&restored);
    assert!(!contains_bytes(&raw, &wrapped));
    assert!(!contains_bytes(&raw, &sealed[..48]));
    let url = format!("sqlite://{}", restored.display());
    let backend = vault_core::store::connect(&url, &Default::default())
        .await
        .unwrap();
    let store = vault_core::store::open_store(backend.clone());
    assert!(store
        .get_subject(id, &TenantScope::All)
        .await
        .unwrap()
        .is_none());
    backend.close().await;
    h.finish().await;
}

#[tokio::test]
async fn an_erased_subject_is_absent_from_a_postgresql_dump() {
    let h = harness(TestDb::postgres().await).await;
    let (id, wrapped, sealed) = erase_whole_subject(&h, 8, None).await;
    let out = std::process::Command::new("pg_dump")
        .arg("--data-only")
        .arg(&h.db.url)
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "pg_dump failed");
    let dump = out.stdout;
    assert!(!contains_bytes(&dump, hex::encode(&wrapped).as_bytes()));
    assert!(!contains_bytes(
        &dump,
        hex::encode(&sealed[..48]).as_bytes()
    ));
    assert!(!contains_bytes(&dump, NAME.as_bytes()));
    // The id may remain in the audit log and the certificate: ids are not personal data.
    let _ = id;
    h.finish().await;
}

#[tokio::test]
async fn exam_staff_cannot_take_a_backup_and_postgresql_backups_use_pg_dump() {
    let h = harness(TestDb::postgres().await).await;
    let to = h.dir.path().join("x.db");
    assert!(matches!(
        h.life.backup(&staff(), &to).await,
        Err(LifecycleError::Forbidden)
    ));
    assert!(matches!(
        h.life.backup(&operator(), &to).await,
        Err(LifecycleError::Unsupported(_))
    ));
    h.finish().await;
}

// ----- property: plans over the store (C15) -----------------------------------------------

mod plan_property {
    use super::*;
    use proptest::prelude::*;

    /// The first day an application of fiscal year `fy` (and the My Number whose last
    /// application it is) may go under the default 5-year rule, computed by hand: the
    /// fiscal year ends on (fy+1)-03-31, five years later is (fy+6)-03-31, due the next day.
    fn due_from(fy: i32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(fy + 6, 4, 1).unwrap()
    }

    async fn check(db: TestDb, people: &[(i32, bool)], days_back: u64) {
        let h = harness(db).await;
        let op = operator();
        let mut seeded = Vec::new();
        for (n, (fy, held)) in people.iter().enumerate() {
            let (id, _) = seed_examinee(&h.vault, n as u32, *fy).await;
            if *held {
                h.life.place_hold(&op, &[id], "case").await.unwrap();
            }
            seeded.push((id, *fy, *held));
        }
        let as_of = today_in_japan(Utc::now())
            .checked_sub_days(Days::new(days_back))
            .unwrap();
        let plan = h.life.create_plan(&op, as_of).await.unwrap();
        for rule in &plan.plan.rules {
            for p in &rule.records {
                let (_, fy, held) = seeded
                    .iter()
                    .find(|(id, _, _)| *id == p.subject_id)
                    .expect("a seeded subject");
                assert!(!held, "a held subject was planned");
                assert!(
                    matches!(p.kind, Target::Application | Target::MyNumber),
                    "only applications and My Numbers can be due here"
                );
                assert!(as_of >= due_from(*fy), "planned before its period passed");
            }
        }
        // And every record that is due and not held is planned.
        for (id, fy, held) in &seeded {
            let expected = !held && as_of >= due_from(*fy);
            let planned = plan
                .plan
                .rules
                .iter()
                .any(|r| r.records.iter().any(|p| p.subject_id == *id));
            assert_eq!(planned, expected);
        }
        h.finish().await;
    }

    proptest! {
        #[test]
        fn policy_and_retention_periods_count_alike(
            years in 0u32..12,
            months in 0u32..30,
            days in 0u32..400,
            day in 0i64..20_000,
        ) {
            let clock = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
                + chrono::Duration::days(day);
            let text = format!("{years} years {months} months {days} days");
            let policy: vault_policy::Period = text.parse().unwrap();
            let core = vault_core::retention::Period::from(policy);
            prop_assert_eq!(policy.due_from(clock), core.due_from(clock));
            prop_assert_eq!(policy.kept_through(clock), core.kept_through(clock));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        #[test]
        fn no_plan_over_the_store_holds_a_record_not_yet_due_or_under_a_hold(
            people in proptest::collection::vec((2012i32..=2025, any::<bool>()), 1..5),
            days_back in 0u64..3000,
        ) {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                check(TestDb::sqlite().await, &people, days_back).await;
                check(TestDb::postgres().await, &people, days_back).await;
            });
        }
    }
}

// ----- several processes on one key file ----------------------------------------------------

#[tokio::test]
async fn a_rotation_made_by_another_process_is_picked_up_before_the_next_wrap() {
    let h = harness(TestDb::sqlite().await).await;
    let (id, _) = seed_examinee(&h.vault, 1, 2024).await;
    // A second keyring over the same file, as the CLI or a second instance holds it.
    let other = vault_core::lifecycle::ManagedKeyring::open(&h.key_path, 1 << 31).unwrap();
    other.rotate("general").unwrap();
    assert_eq!(h.keys.active_kek(Compartment::General).version, 2);
    let (late, _) = seed_examinee(&h.vault, 2, 2024).await;
    assert_eq!(kek_count(&h, "general", 2).await, 1);
    reads_back(&h, id).await;
    reads_back(&h, late).await;
    h.finish().await;
}

// ----- no personal data in what operators see --------------------------------------------

async fn text_rows(backend: &Backend, sql: &str) -> String {
    match backend {
        Backend::Sqlite(p) => {
            let rows: Vec<(Option<String>,)> = sqlx::query_as(sql).fetch_all(p).await.unwrap();
            rows.into_iter()
                .filter_map(|r| r.0)
                .collect::<Vec<_>>()
                .join("\n")
        }
        Backend::Postgres(p) => {
            let rows: Vec<(Option<String>,)> = sqlx::query_as(sql).fetch_all(p).await.unwrap();
            rows.into_iter()
                .filter_map(|r| r.0)
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

#[tokio::test]
async fn plans_certificates_status_audit_and_errors_carry_no_personal_values() {
    for_both(|h| async move {
        let (id, app) = seed_examinee(&h.vault, 4, 2015).await;
        let op = operator();
        h.life.rotate_key(&op, "general").await.unwrap();
        h.life.run_rotations().await.unwrap();
        h.life
            .place_hold(&op, &[Uuid::new_v4()], "case 2026-7")
            .await
            .unwrap();
        let plan = h
            .life
            .create_plan(&op, today_in_japan(Utc::now()))
            .await
            .unwrap();
        h.life
            .approve_plan(&approver(), plan.plan.id)
            .await
            .unwrap();
        let done = h.life.execute_plan(&op, plan.plan.id).await.unwrap();
        let status = h.life.key_status(&op).await.unwrap();
        let refused = h
            .life
            .approve_plan(&staff(), plan.plan.id)
            .await
            .unwrap_err();

        let mut seen = String::new();
        seen.push_str(&serde_json::to_string(&done).unwrap());
        seen.push_str(&format!(
            "{done:?}{status:?}{refused:?}{refused}{:?}",
            h.keys
        ));
        seen.push_str(&serde_json::to_string(&status).unwrap());
        seen.push_str(
            &serde_json::to_string(
                &query_events(&h.db.backend, &EventFilter::default(), 500, None)
                    .await
                    .unwrap()
                    .events,
            )
            .unwrap(),
        );
        for sql in [
            "SELECT plan_json FROM retention_plans",
            "SELECT execution_json FROM retention_plans",
            "SELECT certificate_json FROM retention_plans",
            "SELECT reason FROM legal_holds",
            "SELECT key_id FROM key_rotations",
        ] {
            seen.push_str(&text_rows(&h.db.backend, sql).await);
        }
        seen.push_str(&std::fs::read_to_string(h.keys.shred_list_path()).unwrap());
        assert!(seen.contains(&id.to_string()), "ids are shown");
        for value in [
            NAME.to_owned(),
            KANA.to_owned(),
            ADDRESS.to_owned(),
            EMPLOYER.to_owned(),
            my_number(4),
            "E-00004".to_owned(),
            app.clone(),
            "1990-04-01".to_owned(),
        ] {
            assert!(
                !seen.contains(&value),
                "a personal value reached operator output"
            );
        }
        h
    })
    .await;
}

#[tokio::test]
async fn the_background_task_finishes_a_rotation_while_the_vault_serves() {
    let h = harness(TestDb::sqlite().await).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(seed_examinee(&h.vault, n, 2024).await.0);
    }
    let Harness {
        db,
        vault,
        life,
        audit,
        dir,
        ..
    } = h;
    let life = Arc::new(life);
    life.rotate_key(&operator(), "general").await.unwrap();
    let task = life.spawn_background(std::time::Duration::from_millis(20));
    // Reads and writes go on meanwhile.
    for n in 10..13 {
        ids.push(seed_examinee(&vault, n, 2024).await.0);
    }
    let mut complete = false;
    for _ in 0..200 {
        let status = life.key_status(&operator()).await.unwrap();
        if status
            .rotations
            .iter()
            .all(|r| r.state == RotationState::Complete)
        {
            complete = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(complete, "the background job completed the rotation");
    for id in &ids {
        let view = vault
            .read_examinee(&staff(), "exam_administration", *id)
            .await
            .unwrap();
        assert_eq!(view.fields["name"], json!(NAME));
    }
    drop(dir);
    audit.close().await;
    db.cleanup().await;
}
