//! The record store: one trait, two backends (SQLite embedded default, PostgreSQL).
//!
//! This module owns the connection set-up shared by every part of vault-core that
//! talks to the database (records, audit, accounts): [`connect`] opens the backend
//! named by a URL, applies the durability settings and runs the migrations of
//! `migrations/sqlite` or `migrations/postgres`.

use std::str::FromStr;
use std::time::Duration;

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
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                // The constraint name is schema metadata, never a value.
                return StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned());
            }
        }
        StoreError::Database(e)
    }
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

/// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`), checks its
/// durability settings and applies the migrations.
pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        let co = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::InvalidUrl("not a valid sqlite: URL".into()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout)
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections)
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
