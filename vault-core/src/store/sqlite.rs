//! The SQLite backend of the record store (embedded default).
//!
//! UUIDs are lower-case hyphenated TEXT (so they sort as PostgreSQL's uuid does), dates
//! ISO TEXT, timestamps RFC 3339 TEXT. Writes run in `BEGIN IMMEDIATE` transactions: the
//! write lock is taken up front and waited for (busy timeout), never upgraded from a read
//! lock halfway, which is what makes concurrent writers fail with "database is locked".

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::fmt::Hyphenated;
use uuid::Uuid;
use vault_policy::{RecordKind, TenantScope};

use super::batch::{chunks, plan, power_chunks, Rewrap, Step, WriteBatch, WriteOp};
use super::rows::{
    parse_record_kind, version_u32, HistoryRow, ImportProgressRow, IndexHit, IndexRow,
    IndexedRecord, KekCount, KeyCompartment, KeyRow, MyNumberRow, RecordOwner, RecordQuery,
    RecordRow, RecordUpdate, SubjectKind, SubjectRow,
};
use super::sqlite_readers::Readers;
use super::{micros, run_detached, sql_limit, Store, StoreError};

/// Largest multi-row insert. 128 rows × 12 columns stays far below SQLite's limit of
/// 32766 bound parameters.
const INSERT_CHUNK: usize = 128;

/// Keys re-wrapped by one `UPDATE` (7 bound values each, far below SQLite's 32,766).
/// Every statement is a round trip to the writer's worker thread; at 1,024 a page of
/// 10,000 keys takes 10 of them instead of 79, which cut a re-wrap of 1,000,000 keys
/// from 7.3 s to 6.9 s (docs/performance.md).
const REWRAP_CHUNK: usize = 1024;

/// Largest `IN (…)` list of ids in one read.
const READ_CHUNK: usize = 500;

const RECORD_COLUMNS: &str = "record_id, kind, subject_id, parent_id, prefecture_code, \
     fiscal_year, clock_date, status, version, sealed, created_at, updated_at";

/// Page cache of the writer connection, in KiB (SQLite's negative `cache_size`). Bulk
/// imports touch the same index pages batch after batch; a warm cache saves re-reading them.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// WAL pages after which a commit of the writer checkpoints (SQLite's default is 1000).
/// Random blind-index pages are rewritten by batch after batch; checkpointing every
/// ~40 MiB instead of every ~4 MiB copies each of them to the database file once per
/// checkpoint rather than once per batch, and saves the database fsyncs in between.
const WRITER_WAL_AUTOCHECKPOINT: u32 = 10_000;

/// How long `apply` waits for the writer connection while other batches run.
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);

/// The record store on SQLite.
///
/// Reads use the shared pool. Writes go through one dedicated connection: SQLite admits
/// one writer at a time anyway, so batches queue on that connection instead of spinning
/// in the busy handler, and its page cache stays valid from one batch to the next (a
/// connection drops its cache whenever another connection has written).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// The point reads of a request (decision 0020).
    readers: Arc<Readers>,
}

impl SqliteStore {
    /// A store on a pool opened by [`connect`](super::connect) (migrations applied). The
    /// writer connection is opened on first use with the same options (WAL,
    /// `synchronous=FULL`, busy timeout, foreign keys, `secure_delete`).
    pub fn new(pool: SqlitePool) -> SqliteStore {
        let options = (*pool.connect_options())
            .clone()
            .pragma("cache_size", (-WRITER_CACHE_KIB).to_string())
            .pragma("wal_autocheckpoint", WRITER_WAL_AUTOCHECKPOINT.to_string())
            // Statement journals of multi-row inserts stay in memory.
            .pragma("temp_store", "MEMORY");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let readers = Arc::new(Readers::of_pool(
            &pool,
            pool.options().get_max_connections() as usize,
        ));
        SqliteStore {
            pool,
            writer,
            readers,
        }
    }

    /// Closes the writer connection (the shared pool belongs to the [`Backend`](super::Backend)).
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

fn id(u: Uuid) -> Hyphenated {
    u.hyphenated()
}

/// Appends the tenant filter on `column` (the whole point of scoped reads).
fn push_scope<'a>(qb: &mut QueryBuilder<'a, Sqlite>, column: &str, scope: &'a TenantScope) {
    match scope {
        TenantScope::All => {}
        TenantScope::Only(codes) if codes.is_empty() => {
            qb.push(" AND 0");
        }
        TenantScope::Only(codes) => {
            qb.push(" AND ").push(column).push(" IN (");
            let mut list = qb.separated(", ");
            for code in codes {
                list.push_bind(code.as_str());
            }
            qb.push(")");
        }
    }
}

fn subject_from_row(row: &SqliteRow) -> Result<SubjectRow, StoreError> {
    Ok(SubjectRow {
        subject_id: row.try_get::<Hyphenated, _>("subject_id")?.into_uuid(),
        kind: SubjectKind::parse(row.try_get("kind")?)?,
        prefecture_code: row.try_get("prefecture_code")?,
        status: row.try_get("status")?,
        suspended: row.try_get("suspended")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn key_from_row(row: &SqliteRow) -> Result<KeyRow, StoreError> {
    Ok(KeyRow {
        subject_id: row.try_get::<Hyphenated, _>("subject_id")?.into_uuid(),
        compartment: KeyCompartment::parse(row.try_get("compartment")?)?,
        kek_id: row.try_get("kek_id")?,
        kek_version: version_u32(row.try_get("kek_version")?, "subject_keys.kek_version")?,
        wrapped: row.try_get("wrapped")?,
    })
}

fn record_from_row(row: &SqliteRow) -> Result<RecordRow, StoreError> {
    Ok(RecordRow {
        record_id: row.try_get::<Hyphenated, _>("record_id")?.into_uuid(),
        kind: parse_record_kind(row.try_get("kind")?)?,
        subject_id: row.try_get::<Hyphenated, _>("subject_id")?.into_uuid(),
        parent_id: row
            .try_get::<Option<Hyphenated>, _>("parent_id")?
            .map(Hyphenated::into_uuid),
        prefecture_code: row.try_get("prefecture_code")?,
        fiscal_year: row.try_get("fiscal_year")?,
        clock_date: row.try_get("clock_date")?,
        status: row.try_get("status")?,
        version: row.try_get("version")?,
        sealed: row.try_get("sealed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn history_from_row(row: &SqliteRow) -> Result<HistoryRow, StoreError> {
    Ok(HistoryRow {
        record_id: row.try_get::<Hyphenated, _>("record_id")?.into_uuid(),
        version: row.try_get("version")?,
        changed_at: row.try_get("changed_at")?,
        actor_id: row.try_get("actor_id")?,
        sealed: row.try_get("sealed")?,
    })
}

fn my_number_from_row(row: &SqliteRow) -> Result<MyNumberRow, StoreError> {
    Ok(MyNumberRow {
        subject_id: row.try_get::<Hyphenated, _>("subject_id")?.into_uuid(),
        sealed: row.try_get("sealed")?,
        clock_date: row.try_get("clock_date")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts `rows` with multi-row `INSERT … VALUES (…), (…)` statements.
async fn insert_rows<T, F>(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    rows: Vec<T>,
    mut bind: F,
) -> Result<(), StoreError>
where
    T: Send,
    F: FnMut(&mut Separated<'_, 'static, Sqlite, &'static str>, T) + Send,
{
    for chunk in power_chunks(rows, INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(head);
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.push(tail);
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_subjects(
    conn: &mut SqliteConnection,
    rows: Vec<SubjectRow>,
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO subjects (subject_id, kind, prefecture_code, status, suspended, \
         created_at, updated_at) ",
        "",
        rows,
        |b, r| {
            b.push_bind(id(r.subject_id))
                .push_bind(r.kind.as_str())
                .push_bind(r.prefecture_code)
                .push_bind(r.status)
                .push_bind(r.suspended)
                .push_bind(micros(r.created_at))
                .push_bind(micros(r.updated_at));
        },
    )
    .await
}

async fn upsert_keys(conn: &mut SqliteConnection, rows: Vec<KeyRow>) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO subject_keys (subject_id, compartment, kek_id, kek_version, wrapped) ",
        " ON CONFLICT (subject_id, compartment) DO UPDATE SET kek_id = excluded.kek_id, \
         kek_version = excluded.kek_version, wrapped = excluded.wrapped",
        rows,
        |b, r| {
            b.push_bind(id(r.subject_id))
                .push_bind(r.compartment.as_str())
                .push_bind(r.kek_id)
                .push_bind(i64::from(r.kek_version))
                .push_bind(r.wrapped);
        },
    )
    .await
}

async fn insert_records(
    conn: &mut SqliteConnection,
    rows: Vec<RecordRow>,
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO records (record_id, kind, subject_id, parent_id, prefecture_code, \
         fiscal_year, clock_date, status, version, sealed, created_at, updated_at) ",
        "",
        rows,
        |b, r| {
            b.push_bind(id(r.record_id))
                .push_bind(r.kind.as_str())
                .push_bind(id(r.subject_id))
                .push_bind(r.parent_id.map(id))
                .push_bind(r.prefecture_code)
                .push_bind(r.fiscal_year)
                .push_bind(r.clock_date)
                .push_bind(r.status)
                .push_bind(r.version)
                .push_bind(r.sealed)
                .push_bind(micros(r.created_at))
                .push_bind(micros(r.updated_at));
        },
    )
    .await
}

async fn insert_history(
    conn: &mut SqliteConnection,
    rows: Vec<HistoryRow>,
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO record_history (record_id, version, changed_at, actor_id, sealed) ",
        "",
        rows,
        |b, r| {
            b.push_bind(id(r.record_id))
                .push_bind(r.version)
                .push_bind(micros(r.changed_at))
                .push_bind(r.actor_id)
                .push_bind(r.sealed);
        },
    )
    .await
}

async fn insert_indexes(
    conn: &mut SqliteConnection,
    rows: Vec<IndexRow>,
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO blind_index (field, key_version, digest, record_id, subject_id, \
         prefecture_code, is_unique) ",
        "",
        rows,
        |b, r| {
            b.push_bind(r.field)
                .push_bind(i64::from(r.key_version))
                .push_bind(r.digest.to_vec())
                .push_bind(id(r.record_id))
                .push_bind(id(r.subject_id))
                .push_bind(r.prefecture_code)
                .push_bind(r.is_unique);
        },
    )
    .await
}

async fn insert_my_numbers(
    conn: &mut SqliteConnection,
    rows: Vec<MyNumberRow>,
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO my_numbers (subject_id, sealed, clock_date, created_at) ",
        "",
        rows,
        |b, r| {
            b.push_bind(id(r.subject_id))
                .push_bind(r.sealed)
                .push_bind(r.clock_date)
                .push_bind(micros(r.created_at));
        },
    )
    .await
}

async fn update_record(
    conn: &mut SqliteConnection,
    u: RecordUpdate,
    expected_version: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE records SET prefecture_code = ?, fiscal_year = ?, clock_date = ?, status = ?, \
         sealed = ?, updated_at = ?, version = version + 1 \
         WHERE record_id = ? AND version = ?",
    )
    .bind(&u.prefecture_code)
    .bind(u.fiscal_year)
    .bind(u.clock_date)
    .bind(u.status)
    .bind(u.sealed)
    .bind(micros(u.updated_at))
    .bind(id(u.record_id))
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        let exists = sqlx::query("SELECT 1 FROM records WHERE record_id = ?")
            .bind(id(u.record_id))
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        return Err(if exists {
            StoreError::StaleVersion
        } else {
            StoreError::NotFound
        });
    }
    // Searches are scoped by the index rows' own prefecture code: keep it in step.
    sqlx::query(
        "UPDATE blind_index SET prefecture_code = ? WHERE record_id = ? AND prefecture_code <> ?",
    )
    .bind(&u.prefecture_code)
    .bind(id(u.record_id))
    .bind(&u.prefecture_code)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn delete_subject(conn: &mut SqliteConnection, subject_id: Uuid) -> Result<(), StoreError> {
    // Keys first: once they are gone every ciphertext of the subject is unreadable,
    // whatever happens to the rows below.
    for sql in [
        "DELETE FROM subject_keys WHERE subject_id = ?",
        "DELETE FROM my_numbers WHERE subject_id = ?",
        "DELETE FROM blind_index WHERE record_id IN \
         (SELECT record_id FROM records WHERE subject_id = ?)",
        "DELETE FROM record_history WHERE record_id IN \
         (SELECT record_id FROM records WHERE subject_id = ?)",
        "DELETE FROM records WHERE subject_id = ?",
        "DELETE FROM subjects WHERE subject_id = ?",
    ] {
        sqlx::query(sql)
            .bind(id(subject_id))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn delete_record(conn: &mut SqliteConnection, record_id: Uuid) -> Result<(), StoreError> {
    for sql in [
        "DELETE FROM blind_index WHERE record_id = ?",
        "DELETE FROM record_history WHERE record_id = ?",
        "DELETE FROM records WHERE record_id = ?",
    ] {
        sqlx::query(sql)
            .bind(id(record_id))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Runs an `UPDATE` that must find its row.
async fn update_one<'q>(
    conn: &mut SqliteConnection,
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<(), StoreError> {
    if query.execute(&mut *conn).await?.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

async fn run_single(conn: &mut SqliteConnection, op: WriteOp) -> Result<(), StoreError> {
    match op {
        WriteOp::UpdateSubject {
            subject_id,
            prefecture_code,
            status,
            updated_at,
        } => {
            update_one(
                conn,
                sqlx::query(
                    "UPDATE subjects SET prefecture_code = ?, status = ?, updated_at = ? \
                     WHERE subject_id = ?",
                )
                .bind(prefecture_code)
                .bind(status)
                .bind(micros(updated_at))
                .bind(id(subject_id)),
            )
            .await
        }
        WriteOp::SetSuspended {
            subject_id,
            suspended,
            updated_at,
        } => {
            update_one(
                conn,
                sqlx::query(
                    "UPDATE subjects SET suspended = ?, updated_at = ? WHERE subject_id = ?",
                )
                .bind(suspended)
                .bind(micros(updated_at))
                .bind(id(subject_id)),
            )
            .await
        }
        WriteOp::DeleteSubject { subject_id } => delete_subject(conn, subject_id).await,
        WriteOp::RewrapKey {
            key,
            expected_kek_id,
            expected_kek_version,
        } => {
            sqlx::query(
                "UPDATE subject_keys SET kek_id = ?, kek_version = ?, wrapped = ? \
                 WHERE subject_id = ? AND compartment = ? AND kek_id = ? AND kek_version = ?",
            )
            .bind(key.kek_id)
            .bind(i64::from(key.kek_version))
            .bind(key.wrapped)
            .bind(id(key.subject_id))
            .bind(key.compartment.as_str())
            .bind(expected_kek_id)
            .bind(i64::from(expected_kek_version))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        WriteOp::UpdateRecord {
            update,
            expected_version,
        } => update_record(conn, update, expected_version).await,
        WriteOp::DeleteRecord { record_id } => delete_record(conn, record_id).await,
        WriteOp::DeleteIndexes { record_id, field } => {
            match field {
                Some(field) => {
                    sqlx::query("DELETE FROM blind_index WHERE record_id = ? AND field = ?")
                        .bind(id(record_id))
                        .bind(field)
                        .execute(&mut *conn)
                        .await?
                }
                None => {
                    sqlx::query("DELETE FROM blind_index WHERE record_id = ?")
                        .bind(id(record_id))
                        .execute(&mut *conn)
                        .await?
                }
            };
            Ok(())
        }
        WriteOp::DeleteMyNumber { subject_id } => {
            sqlx::query("DELETE FROM my_numbers WHERE subject_id = ?")
                .bind(id(subject_id))
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        WriteOp::SaveImportProgress(p) => {
            sqlx::query(
                "INSERT INTO import_progress (run_id, prefix_digest, lines, bytes, started_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET \
                 prefix_digest = excluded.prefix_digest, lines = excluded.lines, \
                 bytes = excluded.bytes, updated_at = excluded.updated_at",
            )
            .bind(id(p.run_id))
            .bind(&p.prefix_digest[..])
            .bind(count_i64(p.lines)?)
            .bind(count_i64(p.bytes)?)
            .bind(micros(p.started_at))
            .bind(micros(p.updated_at))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        WriteOp::DeleteKey {
            subject_id,
            compartment,
        } => {
            sqlx::query("DELETE FROM subject_keys WHERE subject_id = ? AND compartment = ?")
                .bind(id(subject_id))
                .bind(compartment.as_str())
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        // Inserts are grouped by `plan` and never arrive here; run them anyway.
        WriteOp::InsertSubject(r) => insert_subjects(conn, vec![r]).await,
        WriteOp::UpsertKey(r) => upsert_keys(conn, vec![r]).await,
        WriteOp::InsertRecord(r) => insert_records(conn, vec![r]).await,
        WriteOp::InsertHistory(r) => insert_history(conn, vec![r]).await,
        WriteOp::InsertIndex(r) => insert_indexes(conn, vec![r]).await,
        WriteOp::InsertMyNumber(r) => insert_my_numbers(conn, vec![r]).await,
    }
}

/// Re-wraps keys with one `UPDATE … FROM (VALUES …)` per chunk; a key no longer under
/// its expected KEK version (re-wrapped or shredded meanwhile) is left as it is.
async fn rewrap_keys(conn: &mut SqliteConnection, rows: Vec<Rewrap>) -> Result<(), StoreError> {
    for chunk in power_chunks(rows, REWRAP_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "WITH v (subject_id, compartment, kek_id, kek_version, wrapped, old_kek_id, \
             old_kek_version) AS (",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(id(r.key.subject_id))
                .push_bind(r.key.compartment.as_str())
                .push_bind(r.key.kek_id)
                .push_bind(i64::from(r.key.kek_version))
                .push_bind(r.key.wrapped)
                .push_bind(r.expected_kek_id)
                .push_bind(i64::from(r.expected_kek_version));
        });
        qb.push(
            ") UPDATE subject_keys SET kek_id = v.kek_id, kek_version = v.kek_version, \
             wrapped = v.wrapped FROM v WHERE subject_keys.subject_id = v.subject_id \
             AND subject_keys.compartment = v.compartment \
             AND subject_keys.kek_id = v.old_kek_id \
             AND subject_keys.kek_version = v.old_kek_version",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A count as an SQL integer.
fn count_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Constraint("count out of range".into()))
}

fn import_progress_from_row(row: &SqliteRow) -> Result<ImportProgressRow, StoreError> {
    let digest: Vec<u8> = row.try_get("prefix_digest")?;
    let count = |column: &str| -> Result<u64, StoreError> {
        u64::try_from(row.try_get::<i64, _>(column)?)
            .map_err(|_| StoreError::Corrupt(format!("import_progress.{column}")))
    };
    Ok(ImportProgressRow {
        run_id: row.try_get::<Hyphenated, _>("run_id")?.into_uuid(),
        prefix_digest: digest
            .try_into()
            .map_err(|_| StoreError::Corrupt("import_progress.prefix_digest".into()))?,
        lines: count("lines")?,
        bytes: count("bytes")?,
        started_at: row.try_get("started_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn apply_batch(writer: SqlitePool, batch: WriteBatch) -> Result<(), StoreError> {
    let steps = plan(batch);
    // sqlx's `begin()` would issue a deferred BEGIN; a deferred transaction that
    // later needs the write lock fails at once with SQLITE_BUSY instead of waiting.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    match run_steps(&mut tx, steps).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            // Release the write lock now rather than when the pool gets to it.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn run_steps(conn: &mut SqliteConnection, steps: Vec<Step>) -> Result<(), StoreError> {
    for step in steps {
        match step {
            Step::Subjects(rows) => insert_subjects(conn, rows).await?,
            Step::Keys(rows) => upsert_keys(conn, rows).await?,
            Step::Records(rows) => insert_records(conn, rows).await?,
            Step::History(rows) => insert_history(conn, rows).await?,
            Step::Indexes(rows) => insert_indexes(conn, rows).await?,
            Step::MyNumbers(rows) => insert_my_numbers(conn, rows).await?,
            Step::Rewraps(rows) => rewrap_keys(conn, rows).await?,
            Step::Single(op) => run_single(conn, op).await?,
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        run_detached(apply_batch(self.writer.clone(), batch)).await
    }

    async fn get_subject(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<SubjectRow>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT subject_id, kind, prefecture_code, status, suspended, created_at, updated_at \
             FROM subjects WHERE subject_id = ",
        );
        qb.push_bind(id(subject_id));
        push_scope(&mut qb, "prefecture_code", scope);
        qb.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| subject_from_row(&r))
            .transpose()
    }

    async fn get_record(
        &self,
        record_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<RecordRow>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE record_id = "
        ));
        qb.push_bind(id(record_id));
        push_scope(&mut qb, "prefecture_code", scope);
        qb.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| record_from_row(&r))
            .transpose()
    }

    async fn get_records(
        &self,
        record_ids: &[Uuid],
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut out = Vec::with_capacity(record_ids.len());
        for ids in chunks(record_ids.to_vec(), READ_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE record_id IN ("
            ));
            let mut list = qb.separated(", ");
            for r in ids {
                list.push_bind(id(r));
            }
            qb.push(")");
            push_scope(&mut qb, "prefecture_code", scope);
            for row in qb.build().fetch_all(&self.pool).await? {
                out.push(record_from_row(&row)?);
            }
        }
        out.sort_by_key(|r| r.record_id);
        out.dedup_by_key(|r| r.record_id);
        Ok(out)
    }

    async fn list_records(
        &self,
        query: &RecordQuery,
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT {RECORD_COLUMNS} FROM records WHERE 1"));
        match query.owner {
            RecordOwner::Subject(s) => {
                qb.push(" AND subject_id = ").push_bind(id(s));
            }
            RecordOwner::Parent(p) => {
                qb.push(" AND parent_id = ").push_bind(id(p));
            }
            RecordOwner::Any => {}
        }
        if let Some(kind) = query.kind {
            qb.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(after) = query.after {
            qb.push(" AND record_id > ").push_bind(id(after));
        }
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY record_id LIMIT ")
            .push_bind(sql_limit(query.limit));
        self.readers
            .fetch_all(qb.build())
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    async fn list_records_due(
        &self,
        kind: RecordKind,
        clock_before: NaiveDate,
        after: Option<(NaiveDate, Uuid)>,
        limit: u32,
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = "
        ));
        qb.push_bind(kind.as_str())
            .push(" AND clock_date < ")
            .push_bind(clock_before);
        if let Some((date, record_id)) = after {
            qb.push(" AND (clock_date, record_id) > (")
                .push_bind(date)
                .push(", ")
                .push_bind(id(record_id))
                .push(")");
        }
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY clock_date, record_id LIMIT ")
            .push_bind(sql_limit(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    async fn find_by_index(
        &self,
        field: &str,
        digests: &[(u32, [u8; 32])],
        scope: &TenantScope,
        limit: u32,
    ) -> Result<Vec<IndexHit>, StoreError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT DISTINCT record_id, subject_id FROM blind_index WHERE field = ",
        );
        qb.push_bind(field);
        // `digest IN` lets SQLite seek the (field, digest) key; the pairs check the version.
        qb.push(" AND digest IN (");
        let mut list = qb.separated(", ");
        for (_, digest) in digests {
            list.push_bind(&digest[..]);
        }
        qb.push(") AND (");
        for (i, (version, digest)) in digests.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push("(key_version = ")
                .push_bind(i64::from(*version))
                .push(" AND digest = ")
                .push_bind(&digest[..])
                .push(")");
        }
        qb.push(")");
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY record_id LIMIT ")
            .push_bind(sql_limit(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(IndexHit {
                    record_id: row.try_get::<Hyphenated, _>("record_id")?.into_uuid(),
                    subject_id: row.try_get::<Hyphenated, _>("subject_id")?.into_uuid(),
                })
            })
            .collect()
    }

    async fn read_by_index(
        &self,
        field: &str,
        digests: &[(u32, [u8; 32])],
        scope: &TenantScope,
        compartment: KeyCompartment,
    ) -> Result<Option<IndexedRecord>, StoreError> {
        if digests.is_empty() {
            return Ok(None);
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT r.record_id, r.kind, r.subject_id, r.parent_id, r.prefecture_code, \
             r.fiscal_year, r.clock_date, r.status, r.version, r.sealed, r.created_at, \
             r.updated_at, s.suspended AS subject_suspended, k.compartment AS key_compartment, \
             k.kek_id AS key_kek_id, k.kek_version AS key_kek_version, k.wrapped AS key_wrapped \
             FROM blind_index i JOIN records r ON r.record_id = i.record_id \
             JOIN subjects s ON s.subject_id = r.subject_id \
             LEFT JOIN subject_keys k ON k.subject_id = r.subject_id AND k.compartment = ",
        );
        qb.push_bind(compartment.as_str())
            .push(" WHERE i.field = ")
            .push_bind(field);
        qb.push(" AND i.digest IN (");
        let mut list = qb.separated(", ");
        for (_, digest) in digests {
            list.push_bind(&digest[..]);
        }
        qb.push(") AND (");
        for (n, (version, digest)) in digests.iter().enumerate() {
            if n > 0 {
                qb.push(" OR ");
            }
            qb.push("(i.key_version = ")
                .push_bind(i64::from(*version))
                .push(" AND i.digest = ")
                .push_bind(&digest[..])
                .push(")");
        }
        qb.push(")");
        push_scope(&mut qb, "i.prefecture_code", scope);
        push_scope(&mut qb, "r.prefecture_code", scope);
        qb.push(" ORDER BY r.record_id LIMIT 1");
        let Some(row) = self.readers.fetch_all(qb.build()).await?.into_iter().next() else {
            return Ok(None);
        };
        let record = record_from_row(&row)?;
        let key = match row.try_get::<Option<String>, _>("key_compartment")? {
            None => None,
            Some(c) => Some(KeyRow {
                subject_id: record.subject_id,
                compartment: KeyCompartment::parse(&c)?,
                kek_id: row.try_get("key_kek_id")?,
                kek_version: version_u32(
                    row.try_get("key_kek_version")?,
                    "subject_keys.kek_version",
                )?,
                wrapped: row.try_get("key_wrapped")?,
            }),
        };
        Ok(Some(IndexedRecord {
            suspended: row.try_get("subject_suspended")?,
            record,
            key,
        }))
    }

    async fn get_key(
        &self,
        subject_id: Uuid,
        compartment: KeyCompartment,
    ) -> Result<Option<KeyRow>, StoreError> {
        sqlx::query(
            "SELECT subject_id, compartment, kek_id, kek_version, wrapped FROM subject_keys \
             WHERE subject_id = ? AND compartment = ?",
        )
        .bind(id(subject_id))
        .bind(compartment.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| key_from_row(&r))
        .transpose()
    }

    async fn get_my_number(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<MyNumberRow>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT m.subject_id, m.sealed, m.clock_date, m.created_at FROM my_numbers m \
             JOIN subjects s ON s.subject_id = m.subject_id WHERE m.subject_id = ",
        );
        qb.push_bind(id(subject_id));
        push_scope(&mut qb, "s.prefecture_code", scope);
        qb.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| my_number_from_row(&r))
            .transpose()
    }

    async fn record_history(
        &self,
        record_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT h.record_id, h.version, h.changed_at, h.actor_id, h.sealed \
             FROM record_history h JOIN records r ON r.record_id = h.record_id \
             WHERE h.record_id = ",
        );
        qb.push_bind(id(record_id));
        push_scope(&mut qb, "r.prefecture_code", scope);
        qb.push(" ORDER BY h.version");
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(history_from_row)
            .collect()
    }

    async fn count_keys_by_kek(&self) -> Result<Vec<KekCount>, StoreError> {
        sqlx::query(
            "SELECT kek_id, kek_version, COUNT(*) AS n FROM subject_keys \
             GROUP BY kek_id, kek_version ORDER BY kek_id, kek_version",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(KekCount {
                kek_id: row.try_get("kek_id")?,
                kek_version: version_u32(row.try_get("kek_version")?, "subject_keys.kek_version")?,
                count: u64::try_from(row.try_get::<i64, _>("n")?)
                    .map_err(|_| StoreError::Corrupt("count".into()))?,
            })
        })
        .collect()
    }

    async fn list_keys_for_rewrap(
        &self,
        kek_id: &str,
        below_version: u32,
        after_subject: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<KeyRow>, StoreError> {
        // The page comes back as one row, a JSON array SQLite builds: sqlx hands every
        // row of a result from the connection's thread to this task on its own, and a
        // page of 10,000 rows cost thousands of thread switches (decision 0018). The
        // columns are UUIDs, key ids, numbers and hex: nothing JSON escapes.
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT json_group_array(json_array(subject_id, compartment, kek_id, kek_version, \
             hex(wrapped)) ORDER BY subject_id, compartment) FROM (\
             SELECT subject_id, compartment, kek_id, kek_version, wrapped FROM subject_keys \
             WHERE kek_id = ",
        );
        qb.push_bind(kek_id)
            .push(" AND kek_version < ")
            .push_bind(i64::from(below_version));
        if let Some(after) = after_subject {
            qb.push(" AND subject_id > ").push_bind(id(after));
        }
        qb.push(" ORDER BY subject_id, compartment LIMIT ")
            .push_bind(sql_limit(limit))
            .push(")");
        let page: String = qb.build().fetch_one(&self.pool).await?.try_get(0)?;
        let rows: Vec<(&str, &str, &str, i64, &str)> = serde_json::from_str(&page)
            .map_err(|_| StoreError::Corrupt("subject_keys page".into()))?;
        rows.into_iter()
            .map(|(subject, compartment, kek_id, version, wrapped)| {
                Ok(KeyRow {
                    subject_id: Uuid::parse_str(subject)
                        .map_err(|_| StoreError::Corrupt("subject_keys.subject_id".into()))?,
                    compartment: KeyCompartment::parse(compartment)?,
                    kek_id: kek_id.to_owned(),
                    kek_version: version_u32(version, "subject_keys.kek_version")?,
                    wrapped: hex::decode(wrapped)
                        .map_err(|_| StoreError::Corrupt("subject_keys.wrapped".into()))?,
                })
            })
            .collect()
    }

    async fn import_progress(&self) -> Result<Vec<ImportProgressRow>, StoreError> {
        sqlx::query(
            "SELECT run_id, prefix_digest, lines, bytes, started_at, updated_at \
             FROM import_progress ORDER BY bytes, run_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(import_progress_from_row)
        .collect()
    }
}
