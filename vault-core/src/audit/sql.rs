//! Statements of the audit store, shared by both backends.
//!
//! The SQL here is plain standard SQL with `?` placeholders; [`super::sqlite`] and
//! [`super::postgres`] hold what differs (transaction start, `FOR UPDATE`,
//! placeholder syntax, binding and decoding).

use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite, Transaction};

use super::chain::StoredEvent;
use super::checkpoint::{Checkpoint, CheckpointKind};
use super::sqlite_sync::SyncConn;
use super::{postgres, sqlite};
use crate::store::Backend;

/// A bound parameter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg<'a> {
    I64(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
}

/// Column access common to both backends' rows.
pub(crate) trait RowExt {
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error>;
}

/// Runs a query on the pool and decodes every row.
pub(crate) async fn fetch<'q, T>(
    backend: &Backend,
    sql: &'q str,
    args: &[Arg<'q>],
    decode: impl Fn(&dyn RowExt) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    match backend {
        Backend::Sqlite(pool) => {
            let rows = sqlite::bind(sqlx::query(sql), args).fetch_all(pool).await?;
            rows.iter().map(|r| decode(r)).collect()
        }
        Backend::Postgres(pool) => {
            let sql = postgres::placeholders(sql);
            let rows = postgres::bind(sqlx::query(&sql), args)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| decode(r)).collect()
        }
    }
}

/// Runs a statement on the pool; returns the number of rows affected.
pub(crate) async fn execute<'q>(
    backend: &Backend,
    sql: &'q str,
    args: &[Arg<'q>],
) -> Result<u64, sqlx::Error> {
    match backend {
        Backend::Sqlite(pool) => Ok(sqlite::bind(sqlx::query(sql), args)
            .execute(pool)
            .await?
            .rows_affected()),
        Backend::Postgres(pool) => {
            let sql = postgres::placeholders(sql);
            Ok(postgres::bind(sqlx::query(&sql), args)
                .execute(pool)
                .await?
                .rows_affected())
        }
    }
}

/// A write transaction that holds the chain (SQLite: the database write lock from
/// `BEGIN IMMEDIATE`; PostgreSQL: the chain-head rows locked `FOR UPDATE`).
pub(crate) enum WriteTx {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(Transaction<'static, Postgres>),
    /// The audit writer's own SQLite connection, run on the calling thread.
    SqliteSync(SyncConn),
}

impl WriteTx {
    pub(crate) async fn begin(backend: &Backend) -> Result<WriteTx, sqlx::Error> {
        match backend {
            Backend::Sqlite(pool) => Ok(WriteTx::Sqlite(sqlite::begin_immediate(pool).await?)),
            Backend::Postgres(pool) => Ok(WriteTx::Postgres(pool.begin().await?)),
        }
    }

    /// `BEGIN IMMEDIATE` on the audit writer's own connection.
    pub(crate) fn begin_sync(conn: &SyncConn) -> Result<WriteTx, sqlx::Error> {
        conn.begin()?;
        Ok(WriteTx::SqliteSync(conn.clone()))
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(mut conn) => match sqlite::commit(&mut conn).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    sqlite::rollback(conn).await;
                    Err(e)
                }
            },
            WriteTx::Postgres(tx) => tx.commit().await,
            WriteTx::SqliteSync(conn) => conn.commit(),
        }
    }

    pub(crate) async fn rollback(self) {
        match self {
            WriteTx::Sqlite(conn) => sqlite::rollback(conn).await,
            WriteTx::Postgres(tx) => {
                let _ = tx.rollback().await;
            }
            WriteTx::SqliteSync(conn) => conn.rollback(),
        }
    }

    /// `FOR UPDATE` where the backend has row locks; SQLite already holds the write lock.
    fn for_update(&self) -> &'static str {
        match self {
            WriteTx::Sqlite(_) | WriteTx::SqliteSync(_) => "",
            WriteTx::Postgres(_) => " FOR UPDATE",
        }
    }

    pub(crate) async fn execute<'q>(
        &mut self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> Result<u64, sqlx::Error> {
        match self {
            WriteTx::Sqlite(conn) => Ok(sqlite::bind(sqlx::query(sql), args)
                .execute(&mut **conn)
                .await?
                .rows_affected()),
            WriteTx::Postgres(tx) => {
                let sql = postgres::placeholders(sql);
                Ok(postgres::bind(sqlx::query(&sql), args)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
            WriteTx::SqliteSync(conn) => conn.execute(sql, args),
        }
    }

    pub(crate) async fn fetch<'q, T>(
        &mut self,
        sql: &'q str,
        args: &[Arg<'q>],
        decode: impl Fn(&dyn RowExt) -> Result<T, sqlx::Error>,
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            WriteTx::Sqlite(conn) => {
                let rows = sqlite::bind(sqlx::query(sql), args)
                    .fetch_all(&mut **conn)
                    .await?;
                rows.iter().map(|r| decode(r)).collect()
            }
            WriteTx::Postgres(tx) => {
                let sql = postgres::placeholders(sql);
                let rows = postgres::bind(sqlx::query(&sql), args)
                    .fetch_all(&mut **tx)
                    .await?;
                rows.iter().map(|r| decode(r)).collect()
            }
            WriteTx::SqliteSync(conn) => conn.fetch(sql, args, decode),
        }
    }
}

/// The head row of one chain: where the next event goes and when it was last checkpointed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) chain_id: String,
    pub(crate) last_seq: i64,
    pub(crate) last_hash: Vec<u8>,
    pub(crate) last_at_us: i64,
    pub(crate) checkpoint_seq: i64,
    pub(crate) checkpoint_at_us: i64,
}

const HEAD_COLS: &str =
    "chain_id, last_seq, last_hash, last_at_us, checkpoint_seq, checkpoint_at_us";

fn decode_head(r: &dyn RowExt) -> Result<Head, sqlx::Error> {
    Ok(Head {
        chain_id: r.text("chain_id")?,
        last_seq: r.int("last_seq")?,
        last_hash: r.bytes("last_hash")?,
        last_at_us: r.int("last_at_us")?,
        checkpoint_seq: r.int("checkpoint_seq")?,
        checkpoint_at_us: r.int("checkpoint_at_us")?,
    })
}

pub(crate) const EVENT_COLS: &str = "chain_id, seq, at_us, actor, role, purpose, action, tenant, \
     subjects, fields, outcome, request_id, source, token_id, prev_hash, hash";

pub(crate) fn decode_event(r: &dyn RowExt) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        chain_id: r.text("chain_id")?,
        seq: r.int("seq")?,
        at_us: r.int("at_us")?,
        actor: r.text("actor")?,
        role: r.opt_text("role")?,
        purpose: r.opt_text("purpose")?,
        action: r.text("action")?,
        tenant: r.opt_text("tenant")?,
        subjects: r.text("subjects")?,
        fields: r.text("fields")?,
        outcome: r.text("outcome")?,
        request_id: r.opt_text("request_id")?,
        source: r.opt_text("source")?,
        token_id: r.opt_text("token_id")?,
        prev_hash: r.bytes("prev_hash")?,
        hash: r.bytes("hash")?,
    })
}

const CHECKPOINT_COLS: &str = "chain_id, kind, seq, at_us, hash, key_id, signature";

/// A checkpoint row; `None` when the row does not even have the checkpoint's shape.
fn decode_checkpoint(r: &dyn RowExt) -> Result<Option<Checkpoint>, sqlx::Error> {
    let kind = CheckpointKind::parse(&r.text("kind")?);
    let hash: Option<[u8; 32]> = r.bytes("hash")?.try_into().ok();
    let seq = u64::try_from(r.int("seq")?).ok();
    Ok(match (kind, hash, seq) {
        (Some(kind), Some(hash), Some(seq)) => Some(Checkpoint {
            kind,
            chain: r.text("chain_id")?,
            seq,
            hash,
            at_us: r.int("at_us")?,
            key_id: r.text("key_id")?,
            signature: r.bytes("signature")?,
        }),
        _ => None,
    })
}

/// Creates the head row of a new chain (no-op when it exists).
pub(crate) async fn ensure_head(
    backend: &Backend,
    chain: &str,
    genesis: &[u8],
    now_us: i64,
) -> Result<(), sqlx::Error> {
    execute(
        backend,
        "INSERT INTO audit_chain_heads (chain_id, last_seq, last_hash, last_at_us, checkpoint_seq, checkpoint_at_us) \
         VALUES (?, 0, ?, 0, 0, ?) ON CONFLICT (chain_id) DO NOTHING",
        &[Arg::Text(chain), Arg::Bytes(genesis), Arg::I64(now_us)],
    )
    .await
    .map(|_| ())
}

/// Reads (and on PostgreSQL locks) the head of `chain` inside the transaction.
pub(crate) async fn lock_head(tx: &mut WriteTx, chain: &str) -> Result<Option<Head>, sqlx::Error> {
    let sql = format!(
        "SELECT {HEAD_COLS} FROM audit_chain_heads WHERE chain_id = ?{}",
        tx.for_update()
    );
    Ok(tx
        .fetch(&sql, &[Arg::Text(chain)], decode_head)
        .await?
        .pop())
}

pub(crate) async fn update_head(tx: &mut WriteTx, h: &Head) -> Result<(), sqlx::Error> {
    tx.execute(
        "UPDATE audit_chain_heads SET last_seq = ?, last_hash = ?, last_at_us = ?, \
         checkpoint_seq = ?, checkpoint_at_us = ? WHERE chain_id = ?",
        &[
            Arg::I64(h.last_seq),
            Arg::Bytes(&h.last_hash),
            Arg::I64(h.last_at_us),
            Arg::I64(h.checkpoint_seq),
            Arg::I64(h.checkpoint_at_us),
            Arg::Text(&h.chain_id),
        ],
    )
    .await
    .map(|_| ())
}

/// Rows per multi-row INSERT: 16 parameters each, well under both backends' limits.
const EVENT_ROWS_PER_INSERT: usize = 256;
/// Subject-index rows per multi-row INSERT (3 parameters each).
const SUBJECT_ROWS_PER_INSERT: usize = 2000;

/// Inserts events and their subject-index rows.
pub(crate) async fn insert_events(
    tx: &mut WriteTx,
    rows: &[StoredEvent],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(EVENT_ROWS_PER_INSERT) {
        let mut sql = format!("INSERT INTO audit_events ({EVENT_COLS}) VALUES ");
        let mut args = Vec::with_capacity(chunk.len() * 16);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
            args.extend_from_slice(&[
                Arg::Text(&r.chain_id),
                Arg::I64(r.seq),
                Arg::I64(r.at_us),
                Arg::Text(&r.actor),
                Arg::OptText(r.role.as_deref()),
                Arg::OptText(r.purpose.as_deref()),
                Arg::Text(&r.action),
                Arg::OptText(r.tenant.as_deref()),
                Arg::Text(&r.subjects),
                Arg::Text(&r.fields),
                Arg::Text(&r.outcome),
                Arg::OptText(r.request_id.as_deref()),
                Arg::OptText(r.source.as_deref()),
                Arg::OptText(r.token_id.as_deref()),
                Arg::Bytes(&r.prev_hash),
                Arg::Bytes(&r.hash),
            ]);
        }
        tx.execute(&sql, &args).await?;
    }
    let index: Vec<(&str, i64, &str)> = rows
        .iter()
        .flat_map(|r| {
            r.subject_texts()
                .map(move |s| (r.chain_id.as_str(), r.seq, s))
        })
        .collect();
    for chunk in index.chunks(SUBJECT_ROWS_PER_INSERT) {
        let mut sql =
            String::from("INSERT INTO audit_event_subjects (chain_id, seq, subject_id) VALUES ");
        let mut args = Vec::with_capacity(chunk.len() * 3);
        for (i, (chain, seq, subject)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?)");
            args.extend_from_slice(&[Arg::Text(chain), Arg::I64(*seq), Arg::Text(subject)]);
        }
        tx.execute(&sql, &args).await?;
    }
    Ok(())
}

pub(crate) async fn insert_checkpoint(
    tx: &mut WriteTx,
    cp: &Checkpoint,
) -> Result<(), sqlx::Error> {
    let seq = i64::try_from(cp.seq).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    tx.execute(
        &format!("INSERT INTO audit_checkpoints ({CHECKPOINT_COLS}) VALUES (?,?,?,?,?,?,?)"),
        &[
            Arg::Text(&cp.chain),
            Arg::Text(cp.kind.as_str()),
            Arg::I64(seq),
            Arg::I64(cp.at_us),
            Arg::Bytes(&cp.hash),
            Arg::Text(&cp.key_id),
            Arg::Bytes(&cp.signature),
        ],
    )
    .await
    .map(|_| ())
}

/// Chain ids that have a head row, in a transaction (for pruning every chain).
pub(crate) async fn chain_ids_in_tx(tx: &mut WriteTx) -> Result<Vec<String>, sqlx::Error> {
    tx.fetch(
        "SELECT chain_id FROM audit_chain_heads ORDER BY chain_id",
        &[],
        |r| r.text("chain_id"),
    )
    .await
}

/// The smallest seq of `chain` whose time is at or after `at_us`.
pub(crate) async fn first_seq_at_or_after(
    tx: &mut WriteTx,
    chain: &str,
    at_us: i64,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(tx
        .fetch(
            "SELECT MIN(seq) AS seq FROM audit_events WHERE chain_id = ? AND at_us >= ?",
            &[Arg::Text(chain), Arg::I64(at_us)],
            |r| r.opt_int("seq"),
        )
        .await?
        .pop()
        .flatten())
}

/// The latest checkpoint (of `kind`) of `chain` strictly below `below_seq`.
pub(crate) async fn checkpoint_below(
    tx: &mut WriteTx,
    chain: &str,
    kind: CheckpointKind,
    below_seq: i64,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    let sql = format!(
        "SELECT {CHECKPOINT_COLS} FROM audit_checkpoints WHERE chain_id = ? AND kind = ? AND seq < ? \
         ORDER BY seq DESC LIMIT 1"
    );
    Ok(tx
        .fetch(
            &sql,
            &[
                Arg::Text(chain),
                Arg::Text(kind.as_str()),
                Arg::I64(below_seq),
            ],
            decode_checkpoint,
        )
        .await?
        .pop()
        .flatten())
}

/// The stored hash of event `seq` of `chain`, in a transaction.
pub(crate) async fn event_hash_in_tx(
    tx: &mut WriteTx,
    chain: &str,
    seq: i64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    Ok(tx
        .fetch(
            "SELECT hash FROM audit_events WHERE chain_id = ? AND seq = ?",
            &[Arg::Text(chain), Arg::I64(seq)],
            |r| r.bytes("hash"),
        )
        .await?
        .pop())
}

/// Deletes the events of `chain` up to and including `through_seq` (their subject-index
/// rows go with them).
pub(crate) async fn delete_events_through(
    tx: &mut WriteTx,
    chain: &str,
    through_seq: i64,
) -> Result<u64, sqlx::Error> {
    tx.execute(
        "DELETE FROM audit_event_subjects WHERE chain_id = ? AND seq <= ?",
        &[Arg::Text(chain), Arg::I64(through_seq)],
    )
    .await?;
    tx.execute(
        "DELETE FROM audit_events WHERE chain_id = ? AND seq <= ?",
        &[Arg::Text(chain), Arg::I64(through_seq)],
    )
    .await
}

// ---- reads on the pool (verify, queries) ----

pub(crate) async fn heads(backend: &Backend) -> Result<Vec<Head>, sqlx::Error> {
    let sql = format!("SELECT {HEAD_COLS} FROM audit_chain_heads ORDER BY chain_id");
    fetch(backend, &sql, &[], decode_head).await
}

pub(crate) async fn head(backend: &Backend, chain: &str) -> Result<Option<Head>, sqlx::Error> {
    let sql = format!("SELECT {HEAD_COLS} FROM audit_chain_heads WHERE chain_id = ?");
    Ok(fetch(backend, &sql, &[Arg::Text(chain)], decode_head)
        .await?
        .pop())
}

/// Every stored checkpoint and prune anchor; rows that are not even shaped like one
/// are counted in the second value.
pub(crate) async fn checkpoints(
    backend: &Backend,
    chain: Option<&str>,
) -> Result<(Vec<Checkpoint>, u64), sqlx::Error> {
    let rows = match chain {
        Some(c) => {
            let sql = format!("SELECT {CHECKPOINT_COLS} FROM audit_checkpoints WHERE chain_id = ? ORDER BY seq, kind");
            fetch(backend, &sql, &[Arg::Text(c)], decode_checkpoint).await?
        }
        None => {
            let sql = format!(
                "SELECT {CHECKPOINT_COLS} FROM audit_checkpoints ORDER BY chain_id, seq, kind"
            );
            fetch(backend, &sql, &[], decode_checkpoint).await?
        }
    };
    let bad = rows.iter().filter(|r| r.is_none()).count() as u64;
    Ok((rows.into_iter().flatten().collect(), bad))
}

pub(crate) async fn event_chain_ids(backend: &Backend) -> Result<Vec<String>, sqlx::Error> {
    fetch(
        backend,
        "SELECT DISTINCT chain_id FROM audit_events ORDER BY chain_id",
        &[],
        |r| r.text("chain_id"),
    )
    .await
}

/// Up to `limit` events of `chain` after `after_seq`, in seq order.
pub(crate) async fn events_after(
    backend: &Backend,
    chain: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {EVENT_COLS} FROM audit_events WHERE chain_id = ? AND seq > ? ORDER BY seq LIMIT ?"
    );
    fetch(
        backend,
        &sql,
        &[Arg::Text(chain), Arg::I64(after_seq), Arg::I64(limit)],
        decode_event,
    )
    .await
}

/// Subject-index rows of `chain` with `from <= seq <= to`, ordered by seq and subject.
pub(crate) async fn subject_index(
    backend: &Backend,
    chain: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    fetch(
        backend,
        "SELECT seq, subject_id FROM audit_event_subjects WHERE chain_id = ? AND seq >= ? AND seq <= ? \
         ORDER BY seq, subject_id",
        &[Arg::Text(chain), Arg::I64(from), Arg::I64(to)],
        |r| Ok((r.int("seq")?, r.text("subject_id")?)),
    )
    .await
}

/// The stored hash of event `seq` of `chain`.
pub(crate) async fn event_hash(
    backend: &Backend,
    chain: &str,
    seq: i64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    Ok(fetch(
        backend,
        "SELECT hash FROM audit_events WHERE chain_id = ? AND seq = ?",
        &[Arg::Text(chain), Arg::I64(seq)],
        |r| r.bytes("hash"),
    )
    .await?
    .pop())
}

/// The seqs of events of `chain` whose stored hash is `hash` (a scan; used only to
/// describe a break that was found).
pub(crate) async fn seqs_with_hash(
    backend: &Backend,
    chain: &str,
    hash: &[u8],
) -> Result<Vec<i64>, sqlx::Error> {
    fetch(
        backend,
        "SELECT seq FROM audit_events WHERE chain_id = ? AND hash = ? ORDER BY seq",
        &[Arg::Text(chain), Arg::Bytes(hash)],
        |r| r.int("seq"),
    )
    .await
}
