//! Audited appends per second: group commit against one commit per event.
//!
//! ```text
//! cargo run --release -p vault-core --example audit_bench [EVENTS] [APPENDERS]
//! ```
//!
//! Runs on a temporary SQLite database, and on PostgreSQL when one is reachable at
//! `KENTEI_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432`; a database is
//! created for the run and dropped after). Every acknowledged append is durable
//! (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use vault_core::audit::{
    AuditConfig, AuditEvent, AuditLog, Ed25519CheckpointSigner, Ident, Label, Outcome, Tenant,
};
use vault_core::store::{connect, Backend, ConnectOptions};

fn event(i: u64) -> AuditEvent {
    let l = |s: &str| Label::parse("bench", s).expect("label");
    AuditEvent::new(
        Ident::parse("actor", &format!("acct-{}", i % 50)).expect("ident"),
        l("examinee.read"),
        Outcome::Ok,
    )
    .role(l("exam_staff"))
    .purpose(l("exam_administration"))
    .tenant(Tenant::parse("13").expect("tenant"))
    .subject(uuid::Uuid::new_v4())
    .fields([l("name"), l("address"), l("birth_date")])
    .request_id(Ident::from(uuid::Uuid::new_v4()))
    .source("192.0.2.1".parse().expect("ip"))
}

struct Run {
    events: u64,
    seconds: f64,
    batches: u64,
}

async fn run(
    backend: &Backend,
    dir: &std::path::Path,
    chain: &str,
    max_batch: usize,
    events: u64,
    appenders: u64,
) -> Run {
    let (signer, _) = Ed25519CheckpointSigner::generate("bench").expect("key");
    let cfg = AuditConfig::new(chain, dir.join(format!("{chain}.jsonl")))
        .checkpoint_every(1000, Duration::from_secs(60))
        .max_batch(max_batch)
        .append_timeout(Duration::from_secs(120));
    let log = AuditLog::start(backend.clone(), Arc::new(signer), cfg)
        .await
        .expect("start");
    let per_task = events / appenders;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..appenders {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                log.append(event(t * per_task + i)).await.expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let seconds = start.elapsed().as_secs_f64();
    let batches = log.metrics().batches();
    log.close().await;
    Run {
        events: per_task * appenders,
        seconds,
        batches,
    }
}

async fn bench(name: &str, backend: &Backend, events: u64, appenders: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    // One commit per event is slow (one fsync each): fewer events give the same rate.
    let modes: [(&str, usize, u64, u64); 3] = [
        ("group commit", 512, events, appenders),
        (
            "one commit per event",
            1,
            (events / 10).max(appenders),
            appenders,
        ),
        ("single appender", 512, (events / 10).max(1), 1),
    ];
    for (i, (mode, max_batch, n, a)) in modes.into_iter().enumerate() {
        let r = run(backend, dir.path(), &format!("bench-{i}"), max_batch, n, a).await;
        println!(
            "{name:<9} {mode:<22} {a:>9} {:>8} {:>8.2} {:>10.0} {:>8.1}",
            r.events,
            r.seconds,
            r.events as f64 / r.seconds,
            r.events as f64 / r.batches.max(1) as f64,
        );
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let appenders: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    println!(
        "{:<9} {:<22} {:>9} {:>8} {:>8} {:>10} {:>8}",
        "backend", "mode", "appenders", "events", "seconds", "appends/s", "ev/batch"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = connect(&url, &ConnectOptions::default())
        .await
        .expect("sqlite");
    bench("sqlite", &sqlite, events, appenders).await;
    sqlite.close().await;

    let server = std::env::var("KENTEI_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("kv_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = tokio::time::timeout(
        Duration::from_secs(3),
        PgConnection::connect(&format!("{server}/postgres")),
    )
    .await;
    let Ok(Ok(mut admin)) = admin else {
        println!("postgres  not reachable at {server}; skipped");
        return;
    };
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create db");
    let pg = connect(&format!("{server}/{name}"), &ConnectOptions::default())
        .await
        .expect("postgres");
    bench("postgres", &pg, events, appenders).await;
    pg.close().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .expect("drop db");
}
