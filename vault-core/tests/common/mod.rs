//! Test support shared by the integration tests: one fresh database per backend.
//!
//! SQLite uses a file in a temporary directory; PostgreSQL (127.0.0.1:5432, or
//! `KENTEI_TEST_PG_URL`) gets a database created for the test and dropped afterwards.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use sqlx::{Connection, Executor, PgConnection};
use vault_core::store::{connect, Backend, ConnectOptions};

/// Base URL of the PostgreSQL server used by tests (without a database name).
pub fn pg_server_url() -> String {
    std::env::var("KENTEI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database for one test; dropped (PostgreSQL) or deleted (SQLite) on [`TestDb::cleanup`].
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// SQLite: the database file. PostgreSQL: none.
    pub sqlite_path: Option<PathBuf>,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vault.db");
        let url = format!("sqlite://{}", path.display());
        let backend = connect(&url, &ConnectOptions::default())
            .await
            .expect("open sqlite");
        TestDb {
            backend,
            url,
            sqlite_path: Some(path),
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let name = format!("kv_test_{}", uuid::Uuid::new_v4().simple());
        let admin_url = format!("{}/postgres", pg_server_url());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 for the tests (see README)");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let url = format!("{}/{}", pg_server_url(), name);
        let backend = connect(&url, &ConnectOptions::default())
            .await
            .expect("open postgres");
        TestDb {
            backend,
            url,
            sqlite_path: None,
            pg_name: Some(name),
            _dir: None,
        }
    }

    /// Both backends, SQLite first.
    pub async fn both() -> Vec<TestDb> {
        vec![TestDb::sqlite().await, TestDb::postgres().await]
    }

    pub async fn cleanup(self) {
        self.backend.close().await;
        if let Some(name) = self.pg_name {
            let admin_url = format!("{}/postgres", pg_server_url());
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}
