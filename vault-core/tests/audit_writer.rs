//! The audit writer: group commit, contiguous sequence numbers under concurrency,
//! several writers on one chain, fail-closed behaviour and the checkpoint schedule.

mod audit_support;
mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use audit_support::*;
use common::TestDb;
use vault_core::audit::{AuditError, AuditLog, Ident, Label, Tenant};
use vault_core::store::{connect, Backend, ConnectOptions};

#[tokio::test]
async fn append_returns_seqs_from_one_without_gaps() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        assert_eq!(append_n(&log, 5).await, vec![1, 2, 3, 4, 5]);
        log.close().await;
        env.cleanup().await;
    }
}

async fn hammer(log: &AuditLog, tasks: u64, each: u64) -> Vec<u64> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let log = log.clone();
        handles.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..each {
                match log.append(read_event(t * 1000 + i)).await {
                    Ok(s) => seqs.push(s),
                    Err(e) => panic!("append failed: {e}"),
                }
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_appenders_get_contiguous_seqs() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        let mut seqs = hammer(&log, 64, 25).await;
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=1600).collect::<Vec<u64>>(), "{name}");
        let m = log.metrics();
        assert_eq!(m.appended(), 1600);
        assert_eq!(m.failures(), 0);
        assert!(
            m.batches() < 1600,
            "{name}: group commit put several events in a transaction"
        );
        log.close().await;
        let r = env.verify().await;
        assert!(r.ok, "{name}: {r:?}");
        env.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_writers_on_one_chain_never_fork() {
    // Four server processes (four pools, four writers) share chain `main`; sixteen
    // appenders each. SQLite serialises them with BEGIN IMMEDIATE, PostgreSQL with
    // the chain head locked FOR UPDATE. No caller sees "database is locked".
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let mut logs = Vec::new();
        let mut files = Vec::new();
        for w in 0..4 {
            let backend = connect(&env.db.url, &ConnectOptions::default())
                .await
                .unwrap();
            let file = env.dir.path().join(format!("writer-{w}.jsonl"));
            let cfg = vault_core::audit::AuditConfig::new("main", &file)
                .checkpoint_every(50, Duration::from_secs(3600));
            logs.push(
                AuditLog::start(backend, env.signer.clone(), cfg)
                    .await
                    .unwrap(),
            );
            files.push(file);
        }
        let mut handles = Vec::new();
        for log in &logs {
            let log = log.clone();
            handles.push(tokio::spawn(async move { hammer(&log, 16, 20).await }));
        }
        let mut seqs = Vec::new();
        for h in handles {
            seqs.extend(h.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=1280).collect::<Vec<u64>>(), "{name}");
        for log in &logs {
            log.close().await;
        }
        let mut opts = env.options();
        opts.checkpoint_files = files;
        let r = vault_core::audit::verify(env.backend(), &opts)
            .await
            .unwrap();
        assert!(r.ok, "{name}: {r:?}");
        assert_eq!(r.checked, 1280);
        env.cleanup().await;
    }
}

async fn block_inserts(backend: &Backend) {
    match backend {
        Backend::Sqlite(_) => {
            exec(
                backend,
                "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit store refuses writes'); END",
            )
            .await
        }
        Backend::Postgres(_) => {
            exec(
                backend,
                "CREATE FUNCTION block_audit() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit store refuses writes'; END $$",
            )
            .await;
            exec(
                backend,
                "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION block_audit()",
            )
            .await
        }
    }
}

async fn unblock_inserts(backend: &Backend) {
    match backend {
        Backend::Sqlite(_) => exec(backend, "DROP TRIGGER block_audit").await,
        Backend::Postgres(_) => exec(backend, "DROP TRIGGER block_audit ON audit_events").await,
    }
}

#[tokio::test]
async fn append_is_unavailable_when_the_store_refuses_writes() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        append_n(&log, 2).await;
        block_inserts(env.backend()).await;
        let r = log.append(read_event(9)).await;
        assert!(matches!(r, Err(AuditError::Unavailable)), "{name}: {r:?}");
        // The database's own message stays in the server log, not in the answer.
        let text = format!("{} {:?}", r.as_ref().unwrap_err(), r.as_ref().unwrap_err());
        assert!(!text.contains("refuses writes"), "{text}");
        assert_eq!(log.metrics().failures(), 1);
        let r = log.append(read_event(10)).await;
        assert!(matches!(r, Err(AuditError::Unavailable)), "{name}");
        assert_eq!(log.metrics().failures(), 2);
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn writer_keeps_working_after_a_failed_batch() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        append_n(&log, 2).await;
        block_inserts(env.backend()).await;
        assert!(log.append(read_event(3)).await.is_err());
        unblock_inserts(env.backend()).await;
        // The failed event took no seq: the chain goes on at 3.
        assert_eq!(log.append(read_event(4)).await.unwrap(), 3, "{name}");
        log.close().await;
        assert!(env.verify().await.ok, "{name}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn append_after_close_is_unavailable() {
    let env = Env::new(TestDb::sqlite().await).await;
    let log = env.start(env.config(100)).await;
    let other = log.clone();
    append_n(&log, 1).await;
    log.close().await;
    assert!(matches!(
        other.append(read_event(1)).await,
        Err(AuditError::Unavailable)
    ));
    env.cleanup().await;
}

#[tokio::test]
async fn a_checkpoint_is_signed_every_n_events() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(10)).await;
        append_n(&log, 25).await;
        let seqs: Vec<u64> = checkpoint_lines(&env.checkpoint_file)
            .iter()
            .map(|l| l["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, vec![10, 20]);
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_checkpoint_is_signed_after_t_when_idle() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let cfg = env
            .config(1000)
            .checkpoint_every(1000, Duration::from_millis(1000));
        let log = env.start(cfg).await;
        // Three appends take far less than the interval, even on a loaded machine.
        append_n(&log, 3).await;
        assert!(checkpoint_lines(&env.checkpoint_file).is_empty());
        tokio::time::sleep(Duration::from_millis(3000)).await;
        let lines = checkpoint_lines(&env.checkpoint_file);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["seq"].as_u64(), Some(3));
        assert_eq!(lines[0]["kind"].as_str(), Some("checkpoint"));
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn close_signs_a_final_checkpoint() {
    let env = Env::new(TestDb::sqlite().await).await;
    let log = env.start(env.config(1000)).await;
    append_n(&log, 7).await;
    log.close().await;
    let lines = checkpoint_lines(&env.checkpoint_file);
    assert_eq!(lines.last().unwrap()["seq"].as_u64(), Some(7));
    env.cleanup().await;
}

#[tokio::test]
async fn start_restores_checkpoints_missing_from_the_file() {
    // A crash between the database commit and the file append leaves the file one
    // checkpoint behind; the next start appends it.
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(5)).await;
        append_n(&log, 10).await;
        log.close().await;
        let text = std::fs::read_to_string(&env.checkpoint_file).unwrap();
        let first_line = text.lines().next().unwrap().to_owned() + "\n";
        std::fs::write(&env.checkpoint_file, first_line).unwrap();
        let log = env.start(env.config(5)).await;
        let seqs: Vec<u64> = checkpoint_lines(&env.checkpoint_file)
            .iter()
            .map(|l| l["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, vec![5, 10]);
        log.close().await;
        assert!(env.verify().await.ok);
        env.cleanup().await;
    }
}

#[tokio::test]
async fn start_refuses_a_chain_behind_its_checkpoint_file() {
    // The tail was cut (or an older backup restored): appending would fork history.
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(5)).await;
        append_n(&log, 12).await;
        log.close().await;
        exec(env.backend(), "DELETE FROM audit_events WHERE seq > 8").await;
        exec(env.backend(), "DELETE FROM audit_checkpoints WHERE seq > 8").await;
        let last = raw_events(env.backend()).await.pop().unwrap();
        set_head(env.backend(), 8, &last.hash).await;
        let r = AuditLog::start(env.db.backend.clone(), env.signer.clone(), env.config(5)).await;
        assert!(
            matches!(
                r,
                Err(AuditError::BehindCheckpointFile {
                    head_seq: 8,
                    checkpoint_seq: 12,
                    ..
                })
            ),
            "{name}: {r:?}"
        );
        env.cleanup().await;
    }
}

#[tokio::test]
async fn start_refuses_sqlite_without_full_sync() {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let dir = tempfile::tempdir().unwrap();
    let co = SqliteConnectOptions::new()
        .filename(dir.path().join("weak.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new().connect_with(co).await.unwrap();
    let (signer, _) = vault_core::audit::Ed25519CheckpointSigner::generate("k").unwrap();
    let cfg = vault_core::audit::AuditConfig::new("main", dir.path().join("cp.jsonl"));
    let r = AuditLog::start(Backend::Sqlite(pool), Arc::new(signer), cfg).await;
    assert!(
        matches!(
            r,
            Err(AuditError::Store(
                vault_core::store::StoreError::UnsafeSettings(_)
            ))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn start_refuses_an_invalid_chain_id() {
    let env = Env::new(TestDb::sqlite().await).await;
    let cfg = vault_core::audit::AuditConfig::new("Main Chain", &env.checkpoint_file);
    let r = AuditLog::start(env.db.backend.clone(), env.signer.clone(), cfg).await;
    assert!(matches!(r, Err(AuditError::Config(_))));
    env.cleanup().await;
}

#[tokio::test]
async fn personal_values_cannot_enter_an_event() {
    // Seeded personal values (C2/C12 style): none of them is accepted by any text
    // type of an event, and the errors name the field, never the value.
    let seeded = [
        "山田太郎",
        "ヤマダタロウ",
        "Yamada Taro",
        "123456789018",
        "03-1234-5678",
        "09012345678",
        "100-8916",
        "1000013",
        "1990-04-01",
        "19900401",
        "taro@example.jp",
        "東京都千代田区霞が関1-2-2",
        "AB12345678CD",
    ];
    for v in seeded {
        let label = Label::parse("field", v);
        let ident = Ident::parse("request_id", v);
        let tenant = Tenant::parse(v);
        assert!(label.is_err(), "label accepted {v:?}");
        assert!(ident.is_err(), "ident accepted {v:?}");
        assert!(tenant.is_err(), "tenant accepted {v:?}");
        for e in [label.unwrap_err(), ident.unwrap_err(), tenant.unwrap_err()] {
            let text = format!("{e} {e:?}");
            assert!(!text.contains(v), "error echoes {v:?}");
        }
    }
    // A source address is an IpAddr: it cannot hold text at all.
    assert!(std::net::IpAddr::from_str("山田").is_err());
}
