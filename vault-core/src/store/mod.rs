//! The record store: one trait, two backends (SQLite embedded default, PostgreSQL).
//!
//! This module owns the connection set-up shared by every part of vault-core that
//! talks to the database (records, audit, accounts): [`connect`] opens the backend
//! named by a URL, applies the durability settings and runs the migrations of
//! `migrations/sqlite` or `migrations/postgres`.
//!
//! The records themselves go through the [`Store`] trait ([`open_store`]): rows of
//! opaque ciphertext ([`RecordRow`], [`KeyRow`], ...) plus the few plain columns the
//! vault filters on (ids, prefecture code, fiscal year, retention-clock date, status).
//! The store never sees plaintext and never decrypts. Every read takes a
//! [`TenantScope`] and applies it in its SQL; every write is a [`WriteBatch`] applied
//! in one transaction. [`SqliteStore`] and [`PgStore`] each hold their own SQL.
//!
//! Column encodings: UUIDs are lower-case hyphenated TEXT on SQLite (readable with the
//! `sqlite3` shell, and sorted like PostgreSQL's `uuid`) and `uuid` on PostgreSQL; dates
//! ISO TEXT / `date`; timestamps RFC 3339 TEXT / `timestamptz`, both to the microsecond;
//! blobs BLOB / `bytea`. Ids are best made with [`new_id`] (time-ordered).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use uuid::Uuid;
use vault_policy::{RecordKind, TenantScope};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Errors of the store. Messages never contain personal values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL could not be understood.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The database runs with durability settings weaker than the vault requires.
    #[error("unsafe database settings: {0}")]
    UnsafeSettings(String),
    /// A unique constraint was violated (for example a duplicate application id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record was changed by someone else since it was read.
    #[error("concurrent modification of record")]
    StaleVersion,
    /// A stored value could not be decoded.
    #[error("corrupt stored row: {0}")]
    Corrupt(String),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// The write task was stopped before it finished (the runtime is shutting down); the
    /// batch was rolled back or never started.
    #[error("write interrupted")]
    Interrupted,
    /// A foreign-key, check or not-null constraint was violated; names the constraint
    /// (or the columns), never a value.
    #[error("constraint violated: {0}")]
    Constraint(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        if let sqlx::Error::Database(db) = &e {
            // Constraint names and SQLite's "… constraint failed: table.column" messages are
            // schema metadata, never values. PostgreSQL puts the offending values in the
            // error's detail, so such errors are not kept as they are.
            let what = |fallback: &str| {
                db.constraint()
                    .map(str::to_owned)
                    .or_else(|| {
                        db.message()
                            .split_once("constraint failed")
                            .map(|(_, cols)| cols.trim_start_matches(':').trim().to_owned())
                            .filter(|cols| !cols.is_empty())
                    })
                    .unwrap_or_else(|| fallback.to_owned())
            };
            match db.kind() {
                ErrorKind::UniqueViolation => return StoreError::Conflict(what("unique")),
                ErrorKind::ForeignKeyViolation => {
                    return StoreError::Constraint(what("foreign key"))
                }
                ErrorKind::CheckViolation => return StoreError::Constraint(what("check")),
                ErrorKind::NotNullViolation => return StoreError::Constraint(what("not null")),
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}

mod batch;
mod postgres;
mod rows;
mod sqlite;
pub(crate) mod sqlite_readers;

pub use batch::{WriteBatch, WriteOp};
pub use postgres::PgStore;
pub use rows::{
    HistoryRow, ImportProgressRow, IndexHit, IndexRow, IndexedRecord, KekCount, KeyCompartment,
    KeyRow, MyNumberRow, RecordOwner, RecordQuery, RecordRow, RecordUpdate, SubjectKind,
    SubjectRow,
};
pub use sqlite::SqliteStore;

/// The record store: subjects, wrapped keys, sealed records, history, blind indexes and
/// the My Number compartment, as opaque rows.
///
/// Reads take the caller's [`TenantScope`] and filter on `prefecture_code` in their SQL:
/// a row outside the scope is reported exactly as a missing one (`None` / empty).
/// `TenantScope::Only` with an empty set matches nothing.
#[async_trait]
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;

    /// Executes every operation of `batch` in one transaction: all of them or none.
    ///
    /// SQLite takes the write lock at the start (`BEGIN IMMEDIATE`, waiting up to the
    /// busy timeout), so concurrent batches queue instead of failing.
    async fn apply(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// A subject, if it exists inside `scope` (by its home prefecture).
    async fn get_subject(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<SubjectRow>, StoreError>;

    /// A record, if it exists inside `scope`.
    async fn get_record(
        &self,
        record_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<RecordRow>, StoreError>;

    /// The records among `record_ids` that exist inside `scope`, ordered by record id.
    async fn get_records(
        &self,
        record_ids: &[Uuid],
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError>;

    /// One page of records inside `scope`, ordered by record id.
    async fn list_records(
        &self,
        query: &RecordQuery,
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError>;

    /// Records of `kind` whose retention clock started before `clock_before`, inside
    /// `scope`, ordered by (clock date, record id); `after` is the last pair of the
    /// previous page.
    async fn list_records_due(
        &self,
        kind: RecordKind,
        clock_before: NaiveDate,
        after: Option<(NaiveDate, Uuid)>,
        limit: u32,
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError>;

    /// Exact-match search: the records whose `field` has one of `digests` (key version,
    /// digest; one per live index-key version), inside `scope`, ordered by record id,
    /// each record once.
    async fn find_by_index(
        &self,
        field: &str,
        digests: &[(u32, [u8; 32])],
        scope: &TenantScope,
        limit: u32,
    ) -> Result<Vec<IndexHit>, StoreError>;

    /// Point read through a blind index, in one query: the first record (by record id)
    /// whose `field` has one of `digests` and that lies inside `scope` (by the index
    /// row's and the record's prefecture code), with its subject's suspension flag
    /// (whatever the subject's own prefecture) and the subject's wrapped key of
    /// `compartment`. What [`find_by_index`](Store::find_by_index), `get_record`,
    /// `get_subject` and `get_key` answer together, for the hot read path.
    async fn read_by_index(
        &self,
        field: &str,
        digests: &[(u32, [u8; 32])],
        scope: &TenantScope,
        compartment: KeyCompartment,
    ) -> Result<Option<IndexedRecord>, StoreError>;

    /// A subject's wrapped key of one compartment. Not tenant-scoped: callers fetch the
    /// subject (scoped) first; key rotation needs every key.
    async fn get_key(
        &self,
        subject_id: Uuid,
        compartment: KeyCompartment,
    ) -> Result<Option<KeyRow>, StoreError>;

    /// A subject's sealed My Number, if the subject is inside `scope`.
    async fn get_my_number(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<MyNumberRow>, StoreError>;

    /// The kept versions of a corrected record inside `scope`, oldest first.
    async fn record_history(
        &self,
        record_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Vec<HistoryRow>, StoreError>;

    /// Number of wrapped keys per KEK id and version (rotation status).
    async fn count_keys_by_kek(&self) -> Result<Vec<KekCount>, StoreError>;

    /// Keys wrapped by `kek_id` at a version below `below_version`, ordered by subject id,
    /// after `after_subject`: the work list of a resumable re-wrap job
    /// (see [`WriteOp::RewrapKey`]).
    async fn list_keys_for_rewrap(
        &self,
        kek_id: &str,
        below_version: u32,
        after_subject: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<KeyRow>, StoreError>;

    /// Every bulk import run's progress (see [`WriteOp::SaveImportProgress`]), fewest
    /// committed bytes first.
    async fn import_progress(&self) -> Result<Vec<ImportProgressRow>, StoreError>;
}

/// The [`Store`] of a connected backend. Open it once and share the `Arc`: on SQLite
/// each store owns one writer connection.
pub fn open_store(backend: Backend) -> Arc<dyn Store> {
    match backend {
        Backend::Sqlite(pool) => Arc::new(SqliteStore::new(pool)),
        Backend::Postgres(pool) => Arc::new(PgStore::new(pool)),
    }
}

/// A new id for a subject or record: a UUIDv7, ordered by creation time.
///
/// Time-ordered ids keep every index led by an id appending at its right edge; random
/// (v4) ids make each insert touch a random page, several times slower for bulk imports
/// on both backends. The id reveals its creation time to the millisecond, which the
/// vault records in plain anyway (`created_at`).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Timestamps are kept to the microsecond on both backends (PostgreSQL's precision), so
/// a row reads back equal to what was written whichever backend holds it.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Runs a write transaction in its own task, so that dropping the caller's future (a
/// timeout, a client gone away) cannot stop it halfway: it always ends in COMMIT or
/// ROLLBACK and hands its connection back clean. sqlx is not cancel-safe between
/// acknowledging BEGIN and creating its `Transaction` guard, which would return a
/// connection still inside a transaction to the pool. A dropped caller only stops
/// waiting for the outcome; the batch is still applied all-or-nothing.
async fn run_detached<F>(write: F) -> Result<(), StoreError>
where
    F: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
{
    match tokio::spawn(write).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Interrupted),
    }
}

/// A page size as an SQL `LIMIT`.
fn sql_limit(limit: u32) -> i64 {
    i64::from(limit)
}

/// A connection pool to one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Embedded SQLite (WAL, `synchronous=FULL`).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Backend {
    /// Short name of the backend, `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }

    /// A pool of one connection to the same database with the same options, opened on
    /// first use and kept open, for a task that writes continually (the audit writer):
    /// it never queues for a connection behind the readers of the shared pool, and on
    /// SQLite its page cache stays its own.
    pub fn dedicated_connection(&self) -> Backend {
        match self {
            Backend::Sqlite(pool) => Backend::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .test_before_acquire(false)
                    .connect_lazy_with(
                        (*pool.connect_options())
                            .clone()
                            // Statement journals of multi-row inserts stay in memory.
                            .pragma("temp_store", "MEMORY"),
                    ),
            ),
            Backend::Postgres(pool) => Backend::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
        }
    }
}

/// Options for [`connect`].
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Maximum pool size.
    pub max_connections: u32,
    /// How long a SQLite writer waits for the write lock before failing.
    pub busy_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            busy_timeout: Duration::from_secs(30),
        }
    }
}

/// The settings every SQLite connection of the vault is opened with: created if
/// missing, WAL, `synchronous=FULL`, foreign keys, `opts.busy_timeout`,
/// `secure_delete`.
pub fn sqlite_options(
    url: &str,
    opts: &ConnectOptions,
) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|_| StoreError::InvalidUrl("not a valid sqlite: URL".into()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(opts.busy_timeout)
        .pragma("secure_delete", "ON"))
}

/// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`), checks its
/// durability settings and applies the migrations.
pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        let co = sqlite_options(url, opts)?;
        // An embedded database has no network to break a connection: the round trip
        // to each connection's worker thread that sqlx's check before every
        // acquisition costs is saved.
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections)
            .test_before_acquire(false)
            .connect_with(co)
            .await?;
        sqlx::migrate!("../migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migration)?;
        let backend = Backend::Sqlite(pool);
        check_durability(&backend).await?;
        Ok(backend)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let co = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::InvalidUrl("not a valid postgres: URL".into()))?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .connect_with(co)
            .await?;
        sqlx::migrate!("../migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::Migration)?;
        let backend = Backend::Postgres(pool);
        check_durability(&backend).await?;
        Ok(backend)
    } else {
        Err(StoreError::InvalidUrl(
            "the URL must start with sqlite: or postgres:".into(),
        ))
    }
}

/// Refuses settings under which an acknowledged write (data or audit) could be lost:
/// SQLite `synchronous` below FULL, PostgreSQL `fsync` or `synchronous_commit` off.
pub async fn check_durability(backend: &Backend) -> Result<(), StoreError> {
    match backend {
        Backend::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await?;
            // 2 = FULL, 3 = EXTRA.
            if sync < 2 {
                return Err(StoreError::UnsafeSettings(format!(
                    "SQLite synchronous={sync}; FULL (2) or EXTRA (3) is required"
                )));
            }
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::UnsafeSettings(format!(
                    "SQLite journal_mode={mode}; WAL is required"
                )));
            }
            Ok(())
        }
        Backend::Postgres(pool) => {
            for setting in ["fsync", "synchronous_commit"] {
                let v: String = sqlx::query_scalar(&format!("SHOW {setting}"))
                    .fetch_one(pool)
                    .await?;
                if v.eq_ignore_ascii_case("off") {
                    return Err(StoreError::UnsafeSettings(format!(
                        "PostgreSQL {setting}=off; it must be on"
                    )));
                }
            }
            Ok(())
        }
    }
}
