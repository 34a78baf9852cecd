//! Retention of the audit log: events are deleted only up to a signed checkpoint,
//! the cut is recorded (signed prune anchor + `audit.prune` event), and the chain
//! still verifies from the anchor.

mod audit_support;
mod common;

use std::time::Duration;

use audit_support::*;
use chrono::Utc;
use common::TestDb;
use vault_core::audit::{query_events, AuditConfig, AuditError, AuditLog, EventFilter, Problem};

async fn pause() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::test]
async fn prune_cuts_at_a_checkpoint_and_the_chain_still_verifies() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(10)).await;
        append_n(&log, 25).await; // checkpoints at 10 and 20
        pause().await;
        let cut = Utc::now();
        pause().await;
        append_n(&log, 5).await; // 26..30, younger than the cut

        let out = log.prune(cut, ident("acct-operator")).await.unwrap();
        assert_eq!(out.chains.len(), 1);
        assert_eq!(
            out.chains[0].through_seq, 20,
            "{name}: the last checkpoint before the cut"
        );
        assert_eq!(out.chains[0].deleted, 20);
        assert_eq!(out.event_seq, 31);

        let seqs: Vec<i64> = raw_events(env.backend())
            .await
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(
            seqs,
            (21..=31).collect::<Vec<i64>>(),
            "{name}: 21..25 are older but after the checkpoint"
        );

        log.close().await;
        let r = env.verify().await;
        assert!(r.ok, "{name}: {r:?}");
        assert_eq!(r.chains[0].pruned_through, Some(20));
        assert!(checkpoint_lines(&env.checkpoint_file)
            .iter()
            .any(|l| l["kind"] == "prune" && l["seq"] == 20));

        let filter = EventFilter {
            action: Some(label("audit.prune")),
            ..EventFilter::default()
        };
        let page = query_events(env.backend(), &filter, 10, None)
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].actor.as_str(), "acct-operator");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_second_prune_continues_from_the_first_anchor() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(10)).await;
        append_n(&log, 12).await;
        pause().await;
        assert_eq!(
            log.prune(Utc::now(), ident("acct-operator"))
                .await
                .unwrap()
                .chains[0]
                .through_seq,
            10
        );
        append_n(&log, 10).await; // 14..23, checkpoint at 20
        pause().await;
        let out = log.prune(Utc::now(), ident("acct-operator")).await.unwrap();
        assert_eq!(out.chains[0].through_seq, 20);
        log.close().await;
        let r = env.verify().await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.chains[0].pruned_through, Some(20));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn prune_refuses_a_cut_inside_the_retention_period() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let cfg = env.config(10).min_retention_days(3653);
        let log = env.start(cfg).await;
        append_n(&log, 12).await;
        let r = log.prune(Utc::now(), ident("acct-operator")).await;
        assert!(
            matches!(r, Err(AuditError::RetentionNotReached { min_days: 3653 })),
            "{r:?}"
        );
        assert_eq!(raw_events(env.backend()).await.len(), 12);
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn prune_cuts_every_chain_in_the_database() {
    // Several server instances (chains a and b) share one database; one prune cuts both.
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let file_a = env.dir.path().join("a.jsonl");
        let file_b = env.dir.path().join("b.jsonl");
        let cfg = |chain: &str, file: &std::path::Path| {
            AuditConfig::new(chain, file)
                .checkpoint_every(5, Duration::from_secs(3600))
                .min_retention_days(0)
        };
        let a = AuditLog::start(
            env.db.backend.clone(),
            env.signer.clone(),
            cfg("a", &file_a),
        )
        .await
        .unwrap();
        let b = AuditLog::start(
            env.db.backend.clone(),
            env.signer.clone(),
            cfg("b", &file_b),
        )
        .await
        .unwrap();
        append_n(&a, 7).await;
        append_n(&b, 11).await;
        pause().await;
        let out = a.prune(Utc::now(), ident("acct-operator")).await.unwrap();
        let cuts: Vec<(String, u64)> = out
            .chains
            .iter()
            .map(|c| (c.chain.clone(), c.through_seq))
            .collect();
        assert_eq!(cuts, vec![("a".into(), 5), ("b".into(), 10)], "{name}");
        a.close().await;
        b.close().await;
        let mut opts = env.options();
        opts.checkpoint_files = vec![file_a, file_b];
        let r = vault_core::audit::verify(env.backend(), &opts)
            .await
            .unwrap();
        assert!(r.ok, "{name}: {r:?}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_the_oldest_events_without_a_prune_is_reported_missing() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(10)).await;
        append_n(&log, 25).await;
        log.close().await;
        // Cut exactly at checkpoint 10, as a prune would, but without the signed anchor.
        exec(env.backend(), "DELETE FROM audit_events WHERE seq <= 10").await;
        let r = env.verify().await;
        assert_eq!(r.problem, Some(Problem::Missing), "{r:?}");
        assert_eq!(r.first_broken_seq, Some(1));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_prune_anchor_forged_from_a_checkpoint_signature_is_rejected() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(10)).await;
        append_n(&log, 25).await;
        log.close().await;
        exec(env.backend(), "DELETE FROM audit_events WHERE seq <= 10").await;
        // Copy checkpoint 10 as a "prune" row: same hash, same signature.
        exec(
            env.backend(),
            "INSERT INTO audit_checkpoints (chain_id, kind, seq, at_us, hash, key_id, signature) \
             SELECT chain_id, 'prune', seq, at_us, hash, key_id, signature FROM audit_checkpoints \
             WHERE kind = 'checkpoint' AND seq = 10",
        )
        .await;
        let r = env.verify().await;
        assert!(
            r.findings
                .iter()
                .any(|f| f.problem == Problem::BadSignature(10)),
            "{r:?}"
        );
        assert!(
            r.findings
                .iter()
                .any(|f| f.problem == Problem::Missing && f.seq == Some(1)),
            "{r:?}"
        );
        env.cleanup().await;
    }
}

#[tokio::test]
async fn prune_refuses_to_cut_at_a_checkpoint_the_chain_does_not_match() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(10)).await;
        append_n(&log, 12).await;
        // Someone rewrote event 10 (hash changed): pruning there would hide it.
        drop_update_guard(env.backend()).await;
        let mut e = raw_events(env.backend())
            .await
            .into_iter()
            .find(|e| e.seq == 10)
            .unwrap();
        e.hash[0] ^= 1;
        replace_event(env.backend(), "main", 10, &e).await;
        pause().await;
        let r = log.prune(Utc::now(), ident("acct-operator")).await;
        assert!(
            matches!(r, Err(AuditError::Corrupt { seq: 10, .. })),
            "{r:?}"
        );
        assert_eq!(raw_events(env.backend()).await.len(), 12, "nothing deleted");
        log.close().await;
        env.cleanup().await;
    }
}
