//! SQLite specifics of the audit store: `BEGIN IMMEDIATE`, binding, row decoding.

use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments, SqlitePool, SqliteRow};
use sqlx::Row;

use super::sql::{Arg, RowExt};

pub(super) type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments<'q>>;

pub(super) fn bind<'q>(mut q: SqliteQuery<'q>, args: &[Arg<'q>]) -> SqliteQuery<'q> {
    for a in args {
        q = match *a {
            Arg::I64(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

/// Opens a write transaction that holds the database write lock from the start.
///
/// sqlx's `begin()` issues a deferred `BEGIN`, which takes the write lock only at the
/// first write and can then fail with "database is locked" without waiting; `BEGIN
/// IMMEDIATE` waits (up to `busy_timeout`) for the lock instead.
pub(super) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    Ok(conn)
}

pub(super) async fn commit(conn: &mut PoolConnection<Sqlite>) -> Result<(), sqlx::Error> {
    sqlx::query("COMMIT").execute(&mut **conn).await.map(|_| ())
}

/// Rolls back; if even that fails, the connection is closed instead of going back to
/// the pool with a transaction open.
pub(super) async fn rollback(mut conn: PoolConnection<Sqlite>) {
    if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
        let _ = conn.close().await;
    }
}

impl RowExt for SqliteRow {
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }

    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        // Read the raw bytes: a tampered row may hold text that is not UTF-8; the
        // lossy conversion then changes the bytes and the chain hash catches it.
        let b: Vec<u8> = self.try_get(col)?;
        Ok(String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        let b: Option<Vec<u8>> = self.try_get(col)?;
        Ok(b.map(|b| {
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        }))
    }

    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.try_get(col)
    }
}
