//! Property: a random modification of a stored chain never verifies as ok, on
//! SQLite and on PostgreSQL. The modifications are made with SQL, as an attacker
//! with database access (but without the signing key and the checkpoint file) would.
//!
//! Not covered by design: removing or rewriting events *after* the last checkpoint
//! while also fixing the chain head. The checkpoint interval (N events / T seconds)
//! bounds that window; see docs/audit.md.

mod audit_support;
mod common;

use std::time::Duration;

use audit_support::*;
use common::TestDb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vault_core::audit::{
    verify, AuditConfig, AuditLog, CheckpointSigner, Ed25519CheckpointSigner, VerifyOptions,
};
use vault_core::store::Backend;

#[derive(Clone, Debug)]
enum Change {
    FlipByte {
        row: usize,
        column: usize,
        byte: usize,
    },
    Delete {
        row: usize,
    },
    Swap {
        a: usize,
        b: usize,
    },
    Truncate {
        keep: usize,
    },
    Rewrite {
        row: usize,
        drop_db_checkpoints: bool,
    },
    DropIndexRow {
        row: usize,
    },
    DeleteHead,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (0usize..64, 0usize..15, 0usize..64).prop_map(|(row, column, byte)| Change::FlipByte { row, column, byte }),
        1 => (0usize..64).prop_map(|row| Change::Delete { row }),
        1 => (0usize..64, 1usize..64).prop_map(|(a, b)| Change::Swap { a, b }),
        1 => (0usize..64).prop_map(|keep| Change::Truncate { keep }),
        1 => (0usize..64, any::<bool>()).prop_map(|(row, drop_db_checkpoints)| Change::Rewrite { row, drop_db_checkpoints }),
        1 => (0usize..64).prop_map(|row| Change::DropIndexRow { row }),
        1 => Just(Change::DeleteHead),
    ]
}

fn flip_text(s: &mut String, at: usize) {
    let mut b = std::mem::take(s).into_bytes();
    let i = at % b.len();
    b[i] ^= 0x01;
    *s = String::from_utf8(b).unwrap();
}

async fn reset(backend: &Backend) {
    for t in [
        "audit_event_subjects",
        "audit_events",
        "audit_checkpoints",
        "audit_chain_heads",
    ] {
        exec(backend, &format!("DELETE FROM {t}")).await;
    }
}

async fn apply(backend: &Backend, change: &Change, last_checkpoint: usize) {
    let rows = raw_events(backend).await;
    let n = rows.len();
    match *change {
        Change::FlipByte { row, column, byte } => {
            let original = rows[row % n].clone();
            let mut e = original.clone();
            match column {
                0 => e.at_us ^= 1 << (byte % 40),
                1 => flip_text(&mut e.actor, byte),
                2 => flip_text(e.role.as_mut().unwrap(), byte),
                3 => flip_text(e.purpose.as_mut().unwrap(), byte),
                4 => flip_text(&mut e.action, byte),
                5 => flip_text(e.tenant.as_mut().unwrap(), byte),
                6 => flip_text(&mut e.subjects, byte),
                7 => flip_text(&mut e.fields, byte),
                8 => flip_text(&mut e.outcome, byte),
                9 => flip_text(e.request_id.as_mut().unwrap(), byte),
                10 => flip_text(e.source.as_mut().unwrap(), byte),
                11 => flip_text(e.token_id.as_mut().unwrap(), byte),
                12 => e.prev_hash[byte % 32] ^= 1 << (byte % 8),
                13 => e.hash[byte % 32] ^= 1 << (byte % 8),
                _ => e.seq += 1000,
            }
            replace_event(backend, "main", original.seq, &e).await;
        }
        Change::Delete { row } => {
            exec_i64(
                backend,
                "DELETE FROM audit_events WHERE seq = ?",
                rows[row % n].seq,
            )
            .await;
        }
        Change::Swap { a, b } => {
            let a = a % n;
            let b = (a + 1 + b % (n - 1)) % n;
            let (ra, rb) = (rows[a].clone(), rows[b].clone());
            let mut a_at_b = ra.clone();
            a_at_b.seq = rb.seq;
            let mut b_at_a = rb.clone();
            b_at_a.seq = ra.seq;
            exec_i64(backend, "DELETE FROM audit_events WHERE seq = ?", rb.seq).await;
            replace_event(backend, "main", ra.seq, &b_at_a).await;
            insert_raw(backend, &a_at_b).await;
        }
        Change::Truncate { keep } => {
            // Cut at or before the last checkpoint (after it, see the module comment).
            let keep = (keep % last_checkpoint) as i64;
            exec_i64(backend, "DELETE FROM audit_events WHERE seq > ?", keep).await;
            exec_i64(backend, "DELETE FROM audit_checkpoints WHERE seq > ?", keep).await;
            let head = if keep == 0 {
                genesis("main")
            } else {
                rows[keep as usize - 1].hash.clone()
            };
            set_head(backend, keep, &head).await;
        }
        Change::Rewrite {
            row,
            drop_db_checkpoints,
        } => {
            let start = row % last_checkpoint;
            let mut tail = rows.clone();
            tail[start].actor = "acct-forged".into();
            let prev = if start == 0 {
                genesis("main")
            } else {
                tail[start - 1].hash.clone()
            };
            let head = rechain(&mut tail[start..], prev);
            for e in &tail[start..] {
                replace_event(backend, "main", e.seq, e).await;
            }
            set_head(backend, tail.last().unwrap().seq, &head).await;
            if drop_db_checkpoints {
                exec_i64(
                    backend,
                    "DELETE FROM audit_checkpoints WHERE seq > ?",
                    start as i64,
                )
                .await;
            }
        }
        Change::DropIndexRow { row } => {
            exec_i64(
                backend,
                "DELETE FROM audit_event_subjects WHERE seq = ?",
                rows[row % n].seq,
            )
            .await;
        }
        Change::DeleteHead => exec(backend, "DELETE FROM audit_chain_heads").await,
    }
}

fn run(backend_kind: &str, cases: u32) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        match backend_kind {
            "sqlite" => TestDb::sqlite().await,
            _ => TestDb::postgres().await,
        }
    });
    rt.block_on(drop_update_guard(&db.backend));
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = Ed25519CheckpointSigner::generate("prop").unwrap();
    let signer = std::sync::Arc::new(signer);
    let case_no = std::sync::atomic::AtomicU32::new(0);

    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(8u64..30, 2u64..6, change()), |(n, every, c)| {
        let k = case_no.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = dir.path().join(format!("case-{k}.jsonl"));
        rt.block_on(async {
            reset(&db.backend).await;
            let cfg =
                AuditConfig::new("main", &file).checkpoint_every(every, Duration::from_secs(3600));
            let log = AuditLog::start(db.backend.clone(), signer.clone(), cfg)
                .await
                .unwrap();
            append_n(&log, n).await;
            log.close().await;
            let opts = VerifyOptions::new()
                .checkpoint_file(&file)
                .public_key(&signer.key_id(), signer.public_key());
            let before = verify(&db.backend, &opts).await.unwrap();
            if !before.ok {
                return Err(TestCaseError::fail(format!(
                    "intact chain failed: {before:?}"
                )));
            }
            let last_checkpoint = (n / every * every) as usize;
            apply(&db.backend, &c, last_checkpoint).await;
            let after = verify(&db.backend, &opts).await.unwrap();
            if after.ok {
                return Err(TestCaseError::fail(format!(
                    "{c:?} verified ok (n={n}, every={every})"
                )));
            }
            Ok(())
        })
    });
    rt.block_on(db.cleanup());
    if let Err(e) = result {
        panic!("{backend_kind}: {e}");
    }
}

#[test]
fn random_modifications_never_verify_on_sqlite() {
    run("sqlite", 64);
}

#[test]
fn random_modifications_never_verify_on_postgres() {
    run("postgres", 64);
}
