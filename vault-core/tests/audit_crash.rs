//! Crash safety: a child process appends audit events and prints every acknowledged
//! seq; the parent kills it (SIGKILL, `Child::kill`) at random points, re-opens the
//! database and checks that every acknowledged event is there and the log verifies.
//!
//! The child is this test binary run again with `--exact crash_child --ignored` and
//! the environment variables below; on its own, `crash_child` does nothing.
//!
//! What this shows: an acknowledged event survives the death of the process at any
//! point (including between the database commit and the checkpoint-file append).
//! It does not simulate power loss; that relies on `synchronous=FULL` / fsync.

mod audit_support;
mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_support::*;
use common::TestDb;
use vault_core::audit::{
    verify, AuditConfig, AuditLog, CheckpointSigner, Ed25519CheckpointSigner, VerifyOptions,
};
use vault_core::store::{connect, ConnectOptions};

const ENV_URL: &str = "KENTEI_AUDIT_CRASH_DB_URL";
const ENV_FILE: &str = "KENTEI_AUDIT_CRASH_CHECKPOINTS";
const ENV_KEY: &str = "KENTEI_AUDIT_CRASH_KEY_FILE";

fn config(file: &Path) -> AuditConfig {
    // Frequent checkpoints, so that kills also land around checkpoint writes.
    AuditConfig::new("main", file).checkpoint_every(7, Duration::from_millis(30))
}

#[test]
#[ignore = "child process of the crash tests; started by them"]
fn crash_child() {
    let (Ok(url), Ok(file), Ok(key)) = (
        std::env::var(ENV_URL),
        std::env::var(ENV_FILE),
        std::env::var(ENV_KEY),
    ) else {
        return;
    };
    let pkcs8 = hex::decode(std::fs::read_to_string(key).unwrap().trim()).unwrap();
    let signer = Arc::new(Ed25519CheckpointSigner::from_pkcs8("crash", &pkcs8).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let backend = connect(&url, &ConnectOptions::default()).await.unwrap();
        let log = AuditLog::start(backend, signer, config(Path::new(&file)))
            .await
            .unwrap();
        println!("ready");
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                loop {
                    i += 1;
                    if let Ok(seq) = log.append(read_event(t * 1_000_000 + i)).await {
                        // Printed only after `append` returned: an acknowledged event.
                        println!("acked {seq}");
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

async fn crash_rounds(db: TestDb, rounds: usize) {
    let name = db.backend.name();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit/checkpoints.jsonl");
    let key_file = dir.path().join("audit-key.hex");
    let (signer, pkcs8) = Ed25519CheckpointSigner::generate("crash").unwrap();
    std::fs::write(&key_file, hex::encode(&*pkcs8)).unwrap();
    let opts = VerifyOptions::new()
        .checkpoint_file(&file)
        .public_key("crash", signer.public_key());

    let mut acked = BTreeSet::new();
    let mut kills_after_acks = 0;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_URL, &db.url)
            .env(ENV_FILE, &file)
            .env(ENV_KEY, &key_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Round 0 may die during start-up; later rounds die while appending.
        let start = Instant::now();
        let extra = Duration::from_millis(random_below(400));
        let mut this_round = Vec::new();
        if round == 0 {
            std::thread::sleep(Duration::from_millis(random_below(300)));
        } else {
            loop {
                match rx.recv_timeout(Duration::from_secs(30)) {
                    Ok(l) if l.starts_with("acked ") => {
                        this_round.push(l);
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => panic!("{name}: child produced no ack"),
                }
            }
            std::thread::sleep(extra);
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        this_round.extend(rx.try_iter());
        let n_before = acked.len();
        for l in this_round {
            if let Some(s) = l.strip_prefix("acked ") {
                acked.insert(s.parse::<i64>().unwrap());
            }
        }
        if acked.len() > n_before {
            kills_after_acks += 1;
        }

        // Re-open: every acknowledged event is there, and the log verifies.
        let backend = connect(&db.url, &ConnectOptions::default()).await.unwrap();
        let stored: BTreeSet<i64> = raw_events(&backend).await.iter().map(|e| e.seq).collect();
        let lost: Vec<&i64> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{name} round {round}: acknowledged but lost: {lost:?}"
        );
        let r = verify(&backend, &opts).await.unwrap();
        assert!(
            r.ok,
            "{name} round {round} (after {:?}): {r:?}",
            start.elapsed()
        );
        backend.close().await;
    }
    eprintln!(
        "{name}: {} acknowledged events survived {rounds} kills",
        acked.len()
    );
    assert!(
        kills_after_acks >= rounds - 1,
        "{name}: the child was killed while appending"
    );
    assert!(
        acked.len() >= 20,
        "{name}: only {} events acknowledged",
        acked.len()
    );

    // A writer started after the crashes carries on at the next seq.
    let backend = connect(&db.url, &ConnectOptions::default()).await.unwrap();
    let pkcs8 = hex::decode(std::fs::read_to_string(&key_file).unwrap().trim()).unwrap();
    let signer = Arc::new(Ed25519CheckpointSigner::from_pkcs8("crash", &pkcs8).unwrap());
    let log = AuditLog::start(backend.clone(), signer, config(&file))
        .await
        .unwrap();
    let last = *raw_events(&backend)
        .await
        .iter()
        .map(|e| e.seq)
        .collect::<BTreeSet<_>>()
        .last()
        .unwrap();
    assert_eq!(log.append(read_event(0)).await.unwrap(), last as u64 + 1);
    log.close().await;
    assert!(verify(&backend, &opts).await.unwrap().ok);
    backend.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill_on_sqlite() {
    crash_rounds(TestDb::sqlite().await, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill_on_postgres() {
    crash_rounds(TestDb::postgres().await, 8).await;
}
