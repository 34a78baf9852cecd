//! A database for one scenario: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database that is dropped afterwards. Both are opened with
//! [`vault_core::store::connect`] (the vault's durability settings and migrations).

use std::path::Path;

use sqlx::{Connection, Executor, PgConnection};
use vault_core::store::{connect, Backend, ConnectOptions};

use super::{BackendKind, BenchError};

pub(super) struct BenchDb {
    pub(super) backend: Backend,
    /// The URL the database was opened with (for a server in another process).
    pub(super) url: String,
    pg: Option<(String, String)>,
    sqlite_file: Option<std::path::PathBuf>,
}

impl BenchDb {
    /// Opens a new database named `name` (SQLite: `dir/name.db`).
    pub(super) async fn create(
        kind: BackendKind,
        dir: &Path,
        name: &str,
        pg_url: &str,
        opts: &ConnectOptions,
    ) -> Result<BenchDb, BenchError> {
        match kind {
            BackendKind::Sqlite => {
                let file = dir.join(format!("{name}.db"));
                let url = format!("sqlite://{}", file.display());
                Ok(BenchDb {
                    backend: connect(&url, opts).await?,
                    url,
                    pg: None,
                    sqlite_file: Some(file),
                })
            }
            BackendKind::Postgres => {
                let db = format!("kv_bench_{name}_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&format!("{pg_url}/postgres")).await?;
                admin
                    .execute(format!("CREATE DATABASE {db}").as_str())
                    .await?;
                admin.close().await?;
                let url = format!("{pg_url}/{db}");
                let backend = connect(&url, opts).await?;
                Ok(BenchDb {
                    backend,
                    url,
                    pg: Some((pg_url.to_owned(), db)),
                    sqlite_file: None,
                })
            }
        }
    }

    /// Closes the pool and drops the PostgreSQL database or deletes the SQLite files
    /// (a million examinees take several GB).
    pub(super) async fn drop_db(self) {
        self.backend.close().await;
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
        if let Some((url, db)) = self.pg {
            if let Ok(mut admin) = PgConnection::connect(&format!("{url}/postgres")).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}
