//! SQLite connections used synchronously, on the calling thread (decision 0019).
//!
//! sqlx runs each SQLite connection on a worker thread of its own: every statement is
//! handed to that thread and its answer handed back, two thread switches and two
//! wake-ups per statement. The audit writer, which has a thread of its own, opens its
//! connection with rusqlite instead and runs its group commit there. It is the same
//! SQLite library as sqlx's (one `libsqlite3-sys`, bundled), and the connection copies
//! the pool's settings, read back from the pool.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::SqlitePool;

use super::StoreError;

/// Prepared statements kept per connection (sqlx keeps 100). Multi-row `INSERT`s differ
/// in their number of rows, so a busy writer prepares a few dozen shapes.
const STATEMENT_CACHE: usize = 128;

/// A rusqlite error as sqlx reports a failed round trip (for code written against
/// `sqlx::Error`).
pub(crate) fn sqlx_err(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e))
}

/// A rusqlite error as a [`StoreError`].
pub(crate) fn store_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(sqlx_err(e))
}

/// The database file of a pool and the pool's connection settings.
#[derive(Clone, Debug)]
pub(crate) struct SqliteFile {
    path: PathBuf,
    busy_timeout: Duration,
    synchronous: i64,
    foreign_keys: i64,
    secure_delete: i64,
}

impl SqliteFile {
    /// The file of `pool`, with `busy_timeout`, `synchronous`, `foreign_keys` and
    /// `secure_delete` as one of its connections reports them. `None` for an
    /// in-memory database (another connection would see a database of its own).
    pub(crate) async fn of_pool(pool: &SqlitePool) -> Result<Option<SqliteFile>, StoreError> {
        let path: PathBuf = pool.connect_options().get_filename().to_owned();
        let name = path.to_string_lossy();
        if name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory") {
            return Ok(None);
        }
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
        let [busy_ms, synchronous, foreign_keys, secure_delete] = values;
        Ok(Some(SqliteFile {
            path,
            busy_timeout: Duration::from_millis(u64::try_from(busy_ms).unwrap_or(0)),
            synchronous,
            foreign_keys,
            secure_delete,
        }))
    }

    fn open(&self) -> Result<Connection, StoreError> {
        // Read-write, not create: the pool opened (and migrated) this file already.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_err)?;
        conn.busy_timeout(self.busy_timeout).map_err(store_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// A connection for writing: the pool's settings and `temp_store=MEMORY` (statement
    /// journals of multi-row inserts). Refuses (`UnsafeSettings`) a connection that is
    /// not in WAL mode with `synchronous` FULL or EXTRA, as
    /// [`check_durability`](super::check_durability) does for the pool.
    pub(crate) fn open_writer(&self) -> Result<Connection, StoreError> {
        let conn = self.open()?;
        let secure_delete = match self.secure_delete {
            2 => "FAST".to_owned(),
            n => n.to_string(),
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA foreign_keys = {}; PRAGMA secure_delete = {}; \
             PRAGMA temp_store = MEMORY;",
            self.synchronous, self.foreign_keys, secure_delete
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
}
