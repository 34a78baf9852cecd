//! Connections for the point reads of a request on SQLite, kept outside the sqlx pool
//! (decision 0020).
//!
//! sqlx's pool returns a connection after every statement by spawning a task that
//! pings the connection's worker thread: a second round trip between threads for each
//! read, after the read's own. [`Readers`] keeps its own connections, opened with the
//! pool's options, and gives one back to the set synchronously when the read is done.
//! The statements still run on sqlx's worker threads, so a read that waits for the disk
//! does not hold a thread of the async runtime.

use std::sync::Mutex;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqlitePool, SqliteRow,
};
use sqlx::{ConnectOptions as _, Connection as _, Sqlite};
use tokio::sync::Semaphore;

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// Whether `pool` holds an in-memory database, which a connection opened beside the
/// pool would not see (it would open a database of its own).
pub(crate) fn in_memory(pool: &SqlitePool) -> bool {
    let options = pool.connect_options();
    let name = options.get_filename().to_string_lossy();
    name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory")
}

/// Where the reads run.
#[derive(Debug)]
enum Source {
    /// The pool itself: an in-memory database, which another connection would not see.
    Pool(SqlitePool),
    /// Connections of the set's own, at most `permits` at a time.
    Own {
        options: Box<SqliteConnectOptions>,
        permits: Semaphore,
        idle: Mutex<Vec<SqliteConnection>>,
    },
}

/// A bounded set of reading connections to the database of a pool.
#[derive(Debug)]
pub(crate) struct Readers {
    source: Source,
}

impl Readers {
    /// At most `max` connections to the database of `pool`, with its options, opened on
    /// first use. For an in-memory database the reads use `pool`.
    pub(crate) fn of_pool(pool: &SqlitePool, max: usize) -> Readers {
        let options = (*pool.connect_options()).clone();
        let source = if in_memory(pool) {
            Source::Pool(pool.clone())
        } else {
            Source::Own {
                options: Box::new(options),
                permits: Semaphore::new(max.max(1)),
                idle: Mutex::new(Vec::new()),
            }
        };
        Readers { source }
    }

    /// Reads through `pool` itself.
    pub(crate) fn on_pool(pool: SqlitePool) -> Readers {
        Readers {
            source: Source::Pool(pool),
        }
    }

    /// Runs `query` and answers all its rows (a point read says `LIMIT 1` or reads a
    /// unique key).
    pub(crate) async fn fetch_all(&self, query: Query<'_>) -> Result<Vec<SqliteRow>, sqlx::Error> {
        match &self.source {
            Source::Pool(pool) => query.fetch_all(pool).await,
            Source::Own {
                options,
                permits,
                idle,
            } => {
                let _permit = permits
                    .acquire()
                    .await
                    .map_err(|_| sqlx::Error::PoolClosed)?;
                let mut conn = Taken::of(options, idle).await?;
                let r = query.fetch_all(conn.get()).await;
                conn.finish(&r);
                r
            }
        }
    }

    /// Closes the idle connections and refuses further reads.
    pub(crate) async fn close(&self) {
        if let Source::Own { permits, idle, .. } = &self.source {
            permits.close();
            let conns: Vec<SqliteConnection> =
                std::mem::take(&mut *idle.lock().unwrap_or_else(|p| p.into_inner()));
            for conn in conns {
                // A connection that fails to close cleanly is gone all the same.
                let _ = conn.close().await;
            }
        }
    }
}

/// A connection taken from the idle list (or opened), put back by [`Taken::finish`] or,
/// if the read is cancelled, by `Drop`.
struct Taken<'a> {
    idle: &'a Mutex<Vec<SqliteConnection>>,
    conn: Option<SqliteConnection>,
}

impl<'a> Taken<'a> {
    async fn of(
        options: &SqliteConnectOptions,
        idle: &'a Mutex<Vec<SqliteConnection>>,
    ) -> Result<Taken<'a>, sqlx::Error> {
        // The lock only guards the list; a panic while holding it leaves a valid list.
        let found = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match found {
            Some(c) => c,
            None => options.connect().await?,
        };
        Ok(Taken {
            idle,
            conn: Some(conn),
        })
    }

    fn get(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("taken until finished")
    }

    /// Keeps the connection unless the read failed outside SQLite (its worker thread
    /// gone, an I/O error): such a connection is closed, and the next read opens another.
    fn finish<T>(mut self, result: &Result<T, sqlx::Error>) {
        let keep = match result {
            Ok(_) => true,
            Err(sqlx::Error::Database(_) | sqlx::Error::RowNotFound) => true,
            Err(sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_)) => true,
            Err(_) => false,
        };
        if !keep {
            self.conn = None;
        }
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
    }
}

#[cfg(test)]
impl Readers {
    /// Connections waiting in the set.
    fn idle_count(&self) -> usize {
        match &self.source {
            Source::Pool(_) => 0,
            Source::Own { idle, .. } => idle.lock().unwrap_or_else(|p| p.into_inner()).len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::FutureExt as _;
    use sqlx::Row as _;

    use super::*;
    use crate::store::{connect, Backend, ConnectOptions};

    async fn file_pool(dir: &tempfile::TempDir) -> SqlitePool {
        let url = format!("sqlite://{}", dir.path().join("readers.db").display());
        let Backend::Sqlite(pool) = connect(&url, &ConnectOptions::default()).await.unwrap() else {
            unreachable!("a sqlite: URL opens SQLite")
        };
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    async fn value(readers: &Readers, k: i64) -> Option<String> {
        let rows = readers
            .fetch_all(sqlx::query("SELECT v FROM t WHERE k = ?").bind(k))
            .await
            .unwrap();
        assert!(rows.len() <= 1);
        rows.first().map(|r| r.get("v"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_see_what_the_pool_committed_since_their_last_read() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let readers = Readers::of_pool(&pool, 2);
        assert_eq!(value(&readers, 1).await, None);
        sqlx::query("INSERT INTO t VALUES (1, 'one')")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(value(&readers, 1).await.as_deref(), Some("one"));
        sqlx::query("UPDATE t SET v = 'uno' WHERE k = 1")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(value(&readers, 1).await.as_deref(), Some("uno"));
        assert_eq!(readers.idle_count(), 1, "one connection served every read");
        readers.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_connections_than_the_bound_however_many_read_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        sqlx::query(
            "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 2000) \
             INSERT INTO t SELECT k, 'v' || k FROM n",
        )
        .execute(&pool)
        .await
        .unwrap();
        let readers = Arc::new(Readers::of_pool(&pool, 2));
        let mut tasks = Vec::new();
        for n in 0..32i64 {
            let readers = Arc::clone(&readers);
            tasks.push(tokio::spawn(async move {
                let rows = readers
                    .fetch_all(sqlx::query("SELECT v FROM t WHERE k > ? ORDER BY k").bind(n))
                    .await
                    .unwrap();
                assert_eq!(rows.len(), usize::try_from(2000 - n).unwrap());
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let idle = readers.idle_count();
        assert!(
            (1..=2).contains(&idle),
            "{idle} connections for a bound of 2"
        );
        readers.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_statement_or_a_cancelled_read_leaves_a_usable_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        sqlx::query("INSERT INTO t VALUES (7, 'seven')")
            .execute(&pool)
            .await
            .unwrap();
        let readers = Readers::of_pool(&pool, 1);
        let Err(err) = readers
            .fetch_all(sqlx::query("SELECT v FROM no_such_table"))
            .await
        else {
            panic!("a missing table is an error");
        };
        assert!(matches!(err, sqlx::Error::Database(_)), "{err:?}");
        // Polled once, then dropped while the connection's thread runs the statement.
        let cancelled = readers
            .fetch_all(sqlx::query(
                "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 200000) \
                 SELECT k FROM n",
            ))
            .now_or_never();
        assert!(
            cancelled.is_none(),
            "the long read cannot finish in one poll"
        );
        assert_eq!(value(&readers, 7).await.as_deref(), Some("seven"));
        assert_eq!(readers.idle_count(), 1);
        readers.close().await;
        let Err(closed) = readers.fetch_all(sqlx::query("SELECT 1")).await else {
            panic!("a closed set answers no reads");
        };
        assert!(matches!(closed, sqlx::Error::PoolClosed), "{closed:?}");
    }

    #[tokio::test]
    async fn an_in_memory_database_is_read_through_its_pool() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        assert!(in_memory(&pool));
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (3, 'three')")
            .execute(&pool)
            .await
            .unwrap();
        let readers = Readers::of_pool(&pool, 4);
        assert_eq!(value(&readers, 3).await.as_deref(), Some("three"));
        assert_eq!(readers.idle_count(), 0);
    }
}
