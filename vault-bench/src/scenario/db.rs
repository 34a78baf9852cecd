//! A database for one scenario: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database that is dropped afterwards. Both are opened with
//! [`vault_core::store::connect`] (the vault's durability settings and migrations).

use std::path::Path;

use sqlx::{Connection, Executor, PgConnection};
use vault_core::store::{connect, Backend, ConnectOptions};

use super::{BackendKind, BenchError};

pub(super) struct BenchDb {
    pub(super) backend: Backend,
    pg: Option<(String, String)>,
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
                let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
                Ok(BenchDb {
                    backend: connect(&url, opts).await?,
                    pg: None,
                })
            }
            BackendKind::Postgres => {
                let db = format!("kv_bench_{name}_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&format!("{pg_url}/postgres")).await?;
                admin
                    .execute(format!("CREATE DATABASE {db}").as_str())
                    .await?;
                admin.close().await?;
                let backend = connect(&format!("{pg_url}/{db}"), opts).await?;
                Ok(BenchDb {
                    backend,
                    pg: Some((pg_url.to_owned(), db)),
                })
            }
        }
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub(super) async fn drop_db(self) {
        self.backend.close().await;
        if let Some((url, db)) = self.pg {
            if let Ok(mut admin) = PgConnection::connect(&format!("{url}/postgres")).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}
