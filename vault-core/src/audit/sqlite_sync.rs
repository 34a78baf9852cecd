//! The audit writer's own SQLite connection, used synchronously on the writer's thread.
//!
//! A group commit is six statements (`BEGIN IMMEDIATE`, the chain head, the events,
//! their subject index, the head update, `COMMIT`), all on the critical path of every
//! read it carries. Through sqlx each of them would be handed to a connection thread and
//! back; the writer already has a thread of its own, so on a SQLite file it runs them
//! right there (decision 0019). It is the same SQLite library as sqlx's (one
//! `libsqlite3-sys`, bundled), and the connection copies the pool's settings, read back
//! from the pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::SqlitePool;

use super::sql::{Arg, RowExt};
use crate::store::sqlite_readers::in_memory;
use crate::store::StoreError;

/// Prepared statements kept (sqlx keeps 100). Multi-row `INSERT`s differ in their number
/// of rows, so a busy writer prepares a few dozen shapes.
const STATEMENT_CACHE: usize = 128;

/// A rusqlite error as sqlx reports a failed round trip (the statements of
/// [`super::sql`] are written against `sqlx::Error`).
fn db_err(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e))
}

fn store_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(db_err(e))
}

/// The writer's connection. Cloning shares it; statements never run concurrently (the
/// mutex is only ever taken by the writer's thread).
#[derive(Clone)]
pub(crate) struct SyncConn(Arc<Mutex<Connection>>);

impl SyncConn {
    /// Opens a connection to the database file of `pool`, with the pool's
    /// `busy_timeout`, `synchronous`, `foreign_keys` and `secure_delete`, and
    /// `temp_store=MEMORY`. `None` for an in-memory database (another connection
    /// would see a database of its own).
    ///
    /// Refuses (`UnsafeSettings`) a connection that is not in WAL mode with
    /// `synchronous` FULL or EXTRA, as [`check_durability`](crate::store::check_durability)
    /// does for the pool.
    pub(crate) async fn open(pool: &SqlitePool) -> Result<Option<SyncConn>, StoreError> {
        if in_memory(pool) {
            return Ok(None);
        }
        let path: PathBuf = pool.connect_options().get_filename().to_owned();
        // The pool's settings, as one of its connections reports them.
        let mut conn = pool.acquire().await?;
        let mut values = [0i64; 4];
        let names = [
            "busy_timeout",
            "synchronous",
            "foreign_keys",
            "secure_delete",
        ];
        for (value, name) in values.iter_mut().zip(names) {
            *value = sqlx::query_scalar(&format!("PRAGMA {name}"))
                .fetch_one(&mut *conn)
                .await?;
        }
        drop(conn);
        let opened = tokio::task::spawn_blocking(move || open_writer(&path, values))
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))??;
        Ok(Some(SyncConn(Arc::new(Mutex::new(opened)))))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves nothing half-done that the next
        // statement could see: SQLite's own transaction state is what counts.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `BEGIN IMMEDIATE`: waits (up to `busy_timeout`) for the write lock.
    pub(crate) fn begin(&self) -> Result<(), sqlx::Error> {
        let conn = self.lock();
        if !conn.is_autocommit() {
            // A transaction left open by a failed rollback is ended first.
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)
    }

    /// `COMMIT`; on failure the transaction is rolled back.
    pub(crate) fn commit(&self) -> Result<(), sqlx::Error> {
        let conn = self.lock();
        match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(db_err(e))
            }
        }
    }

    /// `ROLLBACK`; a failure leaves the transaction to be ended by the next `begin`.
    pub(crate) fn rollback(&self) {
        let _ = self.lock().execute_batch("ROLLBACK");
    }

    /// Runs a statement; returns the number of rows changed.
    pub(crate) fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
        bind(&mut stmt, args).map_err(db_err)?;
        let n = stmt.raw_execute().map_err(db_err)?;
        Ok(n as u64)
    }

    /// Runs a query and decodes every row.
    pub(crate) fn fetch<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        decode: impl Fn(&dyn RowExt) -> Result<T, sqlx::Error>,
    ) -> Result<Vec<T>, sqlx::Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
        bind(&mut stmt, args).map_err(db_err)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(decode(&SyncRow(row))?);
        }
        Ok(out)
    }
}

/// Opens `path` read-write (not create: the pool opened and migrated it) with the
/// pool's `[busy_timeout, synchronous, foreign_keys, secure_delete]` and
/// `temp_store=MEMORY`, and checks WAL mode and `synchronous` FULL or EXTRA.
fn open_writer(path: &Path, pool_settings: [i64; 4]) -> Result<Connection, StoreError> {
    let [busy_ms, synchronous, foreign_keys, secure_delete] = pool_settings;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(store_err)?;
    conn.busy_timeout(Duration::from_millis(u64::try_from(busy_ms).unwrap_or(0)))
        .map_err(store_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let secure_delete = match secure_delete {
        2 => "FAST".to_owned(),
        n => n.to_string(),
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = {foreign_keys}; \
         PRAGMA secure_delete = {secure_delete}; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(store_err)?;
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .map_err(store_err)?;
    if sync < 2 {
        return Err(StoreError::UnsafeSettings(format!(
            "SQLite synchronous={sync}; FULL (2) or EXTRA (3) is required"
        )));
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(store_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::UnsafeSettings(format!(
            "SQLite journal_mode={mode}; WAL is required"
        )));
    }
    Ok(conn)
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, args: &[Arg<'_>]) -> rusqlite::Result<()> {
    for (i, a) in args.iter().enumerate() {
        let at = i + 1;
        match *a {
            Arg::I64(v) => stmt.raw_bind_parameter(at, v)?,
            Arg::Text(v) => stmt.raw_bind_parameter(at, v)?,
            Arg::OptText(v) => stmt.raw_bind_parameter(at, v)?,
            Arg::Bytes(v) => stmt.raw_bind_parameter(at, v)?,
        }
    }
    Ok(())
}

/// A row of [`SyncConn::fetch`], decoded as sqlx decodes SQLite rows: text and blobs
/// both read as bytes, text that is not UTF-8 converted lossily (so that a tampered
/// row changes the chain hash instead of failing to load).
struct SyncRow<'r>(&'r rusqlite::Row<'r>);

fn decode_err(col: &str, e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: Box::new(e),
    }
}

impl SyncRow<'_> {
    fn raw(&self, col: &str) -> Result<ValueRef<'_>, sqlx::Error> {
        self.0.get_ref(col).map_err(|e| decode_err(col, e))
    }

    fn opt_bytes(&self, col: &str) -> Result<Option<&[u8]>, sqlx::Error> {
        match self.raw(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(b) | ValueRef::Blob(b) => Ok(Some(b)),
            ValueRef::Integer(_) | ValueRef::Real(_) => {
                Err(decode_err(col, rusqlite::types::FromSqlError::InvalidType))
            }
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl RowExt for SyncRow<'_> {
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.0.get::<_, i64>(col).map_err(|e| decode_err(col, e))
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.0
            .get::<_, Option<i64>>(col)
            .map_err(|e| decode_err(col, e))
    }

    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.opt_bytes(col)?
            .map(lossy)
            .ok_or_else(|| decode_err(col, rusqlite::types::FromSqlError::InvalidType))
    }

    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        Ok(self.opt_bytes(col)?.map(lossy))
    }

    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.opt_bytes(col)?
            .map(<[u8]>::to_vec)
            .ok_or_else(|| decode_err(col, rusqlite::types::FromSqlError::InvalidType))
    }
}
