//! Support for the audit integration tests: a log on a test database, events, raw
//! access to the stored rows (to play the attacker), and an independent
//! implementation of the chain encoding documented in docs/audit.md.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ring::digest;
use sqlx::Row;
use uuid::Uuid;
use vault_core::audit::{
    verify, AuditConfig, AuditEvent, AuditLog, CheckpointSigner, Ed25519CheckpointSigner, Ident,
    Label, Outcome, Tenant, VerifyOptions, VerifyReport,
};
use vault_core::store::Backend;

use crate::common::TestDb;

/// A test database, a signer and a checkpoint file.
pub struct Env {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    pub signer: Arc<Ed25519CheckpointSigner>,
    pub checkpoint_file: PathBuf,
}

impl Env {
    pub async fn new(db: TestDb) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let (signer, _) = Ed25519CheckpointSigner::generate("audit-test-1").expect("key");
        let checkpoint_file = dir.path().join("audit/checkpoints.jsonl");
        Env {
            db,
            dir,
            signer: Arc::new(signer),
            checkpoint_file,
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.db.backend
    }

    /// Configuration: chain `main`, checkpoint every `every` events (or 1 hour).
    pub fn config(&self, every: u64) -> AuditConfig {
        AuditConfig::new("main", &self.checkpoint_file)
            .checkpoint_every(every, Duration::from_secs(3600))
            .min_retention_days(0)
    }

    pub async fn start(&self, cfg: AuditConfig) -> AuditLog {
        AuditLog::start(self.db.backend.clone(), self.signer.clone(), cfg)
            .await
            .expect("audit log starts")
    }

    pub fn options(&self) -> VerifyOptions {
        VerifyOptions::new()
            .checkpoint_file(&self.checkpoint_file)
            .public_key(&self.signer.key_id(), self.signer.public_key())
    }

    pub async fn verify(&self) -> VerifyReport {
        verify(self.backend(), &self.options())
            .await
            .expect("verify runs")
    }

    pub async fn cleanup(self) {
        self.db.cleanup().await;
    }
}

pub fn label(s: &str) -> Label {
    Label::parse("test", s).expect("label")
}

pub fn ident(s: &str) -> Ident {
    Ident::parse("test", s).expect("ident")
}

pub fn subject(n: u128) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 + n)
}

/// A typical read event number `i`.
pub fn read_event(i: u64) -> AuditEvent {
    AuditEvent::new(
        ident(&format!("acct-{}", i % 3)),
        label("examinee.read"),
        Outcome::Ok,
    )
    .role(label("exam_staff"))
    .purpose(label("exam_administration"))
    .tenant(Tenant::parse("13").unwrap())
    .subject(subject(u128::from(i % 5)))
    .field(label("name"))
    .field(label("address"))
    .request_id(ident(&format!("req-{i}")))
    .source("192.0.2.10".parse().unwrap())
    .token_id(ident(&format!("tok-{}", i % 3)))
}

/// Appends `n` events one after the other; returns their seqs.
pub async fn append_n(log: &AuditLog, n: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    for i in 0..n {
        seqs.push(log.append(read_event(i)).await.expect("append"));
    }
    seqs
}

// ---- raw access (the attacker's view) ----

pub async fn exec(backend: &Backend, sql: &str) {
    match backend {
        Backend::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.expect(sql);
        }
        Backend::Postgres(p) => {
            sqlx::query(sql).execute(p).await.expect(sql);
        }
    }
}

/// Drops the trigger that refuses updates of audit events (an attacker with database
/// access can do that).
pub async fn drop_update_guard(backend: &Backend) {
    match backend {
        Backend::Sqlite(_) => exec(backend, "DROP TRIGGER audit_events_no_update").await,
        Backend::Postgres(_) => {
            exec(
                backend,
                "DROP TRIGGER audit_events_no_update ON audit_events",
            )
            .await
        }
    }
}

/// A stored event row, column by column.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    pub chain_id: String,
    pub seq: i64,
    pub at_us: i64,
    pub actor: String,
    pub role: Option<String>,
    pub purpose: Option<String>,
    pub action: String,
    pub tenant: Option<String>,
    pub subjects: String,
    pub fields: String,
    pub outcome: String,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub token_id: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

const COLS: &str = "chain_id, seq, at_us, actor, role, purpose, action, tenant, subjects, fields, \
                    outcome, request_id, source, token_id, prev_hash, hash";

macro_rules! raw_from_row {
    ($r:expr) => {
        RawEvent {
            chain_id: $r.get("chain_id"),
            seq: $r.get("seq"),
            at_us: $r.get("at_us"),
            actor: $r.get("actor"),
            role: $r.get("role"),
            purpose: $r.get("purpose"),
            action: $r.get("action"),
            tenant: $r.get("tenant"),
            subjects: $r.get("subjects"),
            fields: $r.get("fields"),
            outcome: $r.get("outcome"),
            request_id: $r.get("request_id"),
            source: $r.get("source"),
            token_id: $r.get("token_id"),
            prev_hash: $r.get("prev_hash"),
            hash: $r.get("hash"),
        }
    };
}

pub async fn raw_events(backend: &Backend) -> Vec<RawEvent> {
    let sql = format!("SELECT {COLS} FROM audit_events ORDER BY chain_id, seq");
    match backend {
        Backend::Sqlite(p) => sqlx::query(&sql)
            .fetch_all(p)
            .await
            .unwrap()
            .iter()
            .map(|r| raw_from_row!(r))
            .collect(),
        Backend::Postgres(p) => sqlx::query(&sql)
            .fetch_all(p)
            .await
            .unwrap()
            .iter()
            .map(|r| raw_from_row!(r))
            .collect(),
    }
}

macro_rules! bind_raw {
    ($q:expr, $e:expr) => {
        $q.bind(&$e.chain_id)
            .bind($e.seq)
            .bind($e.at_us)
            .bind(&$e.actor)
            .bind(&$e.role)
            .bind(&$e.purpose)
            .bind(&$e.action)
            .bind(&$e.tenant)
            .bind(&$e.subjects)
            .bind(&$e.fields)
            .bind(&$e.outcome)
            .bind(&$e.request_id)
            .bind(&$e.source)
            .bind(&$e.token_id)
            .bind(&$e.prev_hash)
            .bind(&$e.hash)
    };
}

/// Replaces the stored row (chain, seq) = (`old_chain`, `old_seq`) with `e`, keeping
/// the subject index as it was (an attacker who edits one row).
pub async fn replace_event(backend: &Backend, old_chain: &str, old_seq: i64, e: &RawEvent) {
    let set = "chain_id = ?, seq = ?, at_us = ?, actor = ?, role = ?, purpose = ?, action = ?, tenant = ?, \
               subjects = ?, fields = ?, outcome = ?, request_id = ?, source = ?, token_id = ?, \
               prev_hash = ?, hash = ?";
    match backend {
        Backend::Sqlite(p) => {
            let sql = format!("UPDATE audit_events SET {set} WHERE chain_id = ? AND seq = ?");
            bind_raw!(sqlx::query(&sql), e)
                .bind(old_chain)
                .bind(old_seq)
                .execute(p)
                .await
                .unwrap();
        }
        Backend::Postgres(p) => {
            let mut n = 0;
            let set_pg: String = set
                .chars()
                .map(|c| {
                    if c == '?' {
                        n += 1;
                        format!("${n}")
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            let sql =
                format!("UPDATE audit_events SET {set_pg} WHERE chain_id = $17 AND seq = $18");
            bind_raw!(sqlx::query(&sql), e)
                .bind(old_chain)
                .bind(old_seq)
                .execute(p)
                .await
                .unwrap();
        }
    }
}

/// Inserts a raw event row (and its subject-index rows).
pub async fn insert_raw(backend: &Backend, e: &RawEvent) {
    match backend {
        Backend::Sqlite(p) => {
            let sql = format!(
                "INSERT INTO audit_events ({COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            );
            bind_raw!(sqlx::query(&sql), e).execute(p).await.unwrap();
            for s in e.subjects.split(',').filter(|s| !s.is_empty()) {
                sqlx::query(
                    "INSERT INTO audit_event_subjects (chain_id, seq, subject_id) VALUES (?,?,?)",
                )
                .bind(&e.chain_id)
                .bind(e.seq)
                .bind(s)
                .execute(p)
                .await
                .unwrap();
            }
        }
        Backend::Postgres(p) => {
            let sql = format!(
                "INSERT INTO audit_events ({COLS}) VALUES \
                 ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)"
            );
            bind_raw!(sqlx::query(&sql), e).execute(p).await.unwrap();
            for s in e.subjects.split(',').filter(|s| !s.is_empty()) {
                sqlx::query("INSERT INTO audit_event_subjects (chain_id, seq, subject_id) VALUES ($1,$2,$3)")
                    .bind(&e.chain_id)
                    .bind(e.seq)
                    .bind(s)
                    .execute(p)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Runs a statement with one i64 parameter (`?` on SQLite, `$1` on PostgreSQL).
pub async fn exec_i64(backend: &Backend, sql_sqlite: &str, v: i64) {
    match backend {
        Backend::Sqlite(p) => {
            sqlx::query(sql_sqlite).bind(v).execute(p).await.unwrap();
        }
        Backend::Postgres(p) => {
            let sql = sql_sqlite.replacen('?', "$1", 1);
            sqlx::query(&sql).bind(v).execute(p).await.unwrap();
        }
    }
}

/// Sets the chain head of `main` to (seq, hash), as an attacker covering a change.
pub async fn set_head(backend: &Backend, seq: i64, hash: &[u8]) {
    match backend {
        Backend::Sqlite(p) => {
            sqlx::query(
                "UPDATE audit_chain_heads SET last_seq = ?, last_hash = ? WHERE chain_id = 'main'",
            )
            .bind(seq)
            .bind(hash)
            .execute(p)
            .await
            .unwrap();
        }
        Backend::Postgres(p) => {
            sqlx::query("UPDATE audit_chain_heads SET last_seq = $1, last_hash = $2 WHERE chain_id = 'main'")
                .bind(seq)
                .bind(hash)
                .execute(p)
                .await
                .unwrap();
        }
    }
}

// ---- the chain encoding, written from docs/audit.md ----

fn field(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn opt(out: &mut Vec<u8>, v: &Option<String>) {
    match v {
        Some(s) => field(out, s.as_bytes()),
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
    }
}

/// The canonical encoding of a stored event (docs/audit.md, "Canonical encoding").
pub fn canonical(e: &RawEvent) -> Vec<u8> {
    let mut out = Vec::new();
    field(&mut out, b"kentei-vault.audit.event.v1");
    field(&mut out, e.chain_id.as_bytes());
    field(&mut out, &e.seq.to_be_bytes());
    field(&mut out, &e.at_us.to_be_bytes());
    field(&mut out, e.actor.as_bytes());
    opt(&mut out, &e.role);
    opt(&mut out, &e.purpose);
    field(&mut out, e.action.as_bytes());
    opt(&mut out, &e.tenant);
    field(&mut out, e.subjects.as_bytes());
    field(&mut out, e.fields.as_bytes());
    field(&mut out, e.outcome.as_bytes());
    opt(&mut out, &e.request_id);
    opt(&mut out, &e.source);
    opt(&mut out, &e.token_id);
    out
}

/// The chain hash of `e` after `prev`.
pub fn chain_hash(prev: &[u8], e: &RawEvent) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(&canonical(e));
    ctx.finish().as_ref().to_vec()
}

/// The hash before event 1 of a chain.
pub fn genesis(chain: &str) -> Vec<u8> {
    let mut b = Vec::new();
    field(&mut b, b"kentei-vault.audit.genesis.v1");
    field(&mut b, chain.as_bytes());
    digest::digest(&digest::SHA256, &b).as_ref().to_vec()
}

/// Re-chains `events` (sorted by seq) from `prev` on, as an attacker who knows the
/// format but not the signing key would.
pub fn rechain(events: &mut [RawEvent], mut prev: Vec<u8>) -> Vec<u8> {
    for e in events.iter_mut() {
        e.prev_hash = prev.clone();
        e.hash = chain_hash(&prev, e);
        prev = e.hash.clone();
    }
    prev
}

/// Lines of the checkpoint file.
pub fn checkpoint_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}
