//! Black-box test harness for kentei-vault: runs the real `kentei-vault` binary.
//!
//! [`Vault::start`] runs `kentei-vault init` on a fresh temporary data directory
//! (and, for PostgreSQL, a freshly created database that is dropped afterwards),
//! then `kentei-vault serve --listen 127.0.0.1:0`, reads the bound address from the
//! JSON `listening` log line on stderr, and hands out a reqwest client and helpers.
//!
//! The binary path is passed in by the caller: tests live in `vault-server/tests/`
//! so that Cargo builds the binary first and provides its path as
//! `env!("CARGO_BIN_EXE_kentei-vault")` (see `docs/testing.md`). `KENTEI_VAULT_BIN`
//! overrides it (for testing an installed build).
#![allow(unreachable_pub, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};

/// Purpose header name.
pub const PURPOSE: &str = "Vault-Purpose";

/// Which database the vault under test uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// SQLite in the data directory (the default of `init`).
    Sqlite,
    /// A fresh PostgreSQL database on 127.0.0.1:5432 (or `KENTEI_TEST_PG_URL`).
    Postgres,
}

impl Db {
    /// Both backends, SQLite first.
    pub const BOTH: [Db; 2] = [Db::Sqlite, Db::Postgres];
}

/// Base URL of the PostgreSQL server used by tests (without a database name).
pub fn pg_server_url() -> String {
    std::env::var("KENTEI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The binary to test: `KENTEI_VAULT_BIN` if set, else `default`.
pub fn binary(default: &str) -> PathBuf {
    std::env::var_os("KENTEI_VAULT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Output of one CLI run.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the binary with `args` and extra environment variables.
pub fn run_cli(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run kentei-vault");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Creates a fresh PostgreSQL database and returns (name, url).
pub async fn create_pg_database() -> (String, String) {
    let name = format!("kv_bb_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&format!("{}/postgres", pg_server_url()))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 for the tests (see docs/testing.md)");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let url = format!("{}/{}", pg_server_url(), name);
    (name, url)
}

/// Drops a test database (blocking; usable from `Drop`).
pub fn drop_pg_database(name: &str) {
    let name = name.to_owned();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            if let Ok(mut admin) =
                PgConnection::connect(&format!("{}/postgres", pg_server_url())).await
            {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        });
    })
    .join();
}

/// A running `kentei-vault serve` over a fresh data directory.
pub struct Vault {
    /// The binary.
    pub bin: PathBuf,
    /// Which backend.
    pub db: Db,
    /// `http://127.0.0.1:PORT` (or https).
    pub base: String,
    /// The bound address.
    pub addr: std::net::SocketAddr,
    /// The bootstrap token printed by init.
    pub bootstrap_token: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database URL passed to init/serve (PostgreSQL only).
    pub database_url: Option<String>,
    /// A client with a 30 s timeout.
    pub client: reqwest::Client,
    child: Option<Child>,
    stderr: Arc<Mutex<Vec<String>>>,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

/// Options for [`Vault::start_with`].
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Extra `KENTEI_VAULT_*` environment variables for `serve`.
    pub env: Vec<(String, String)>,
    /// Extra `serve` arguments.
    pub args: Vec<String>,
    /// Use https with this client (for TLS tests).
    pub https_client: Option<reqwest::Client>,
}

impl Vault {
    /// Starts a vault with default settings.
    pub async fn start(bin: &str, db: Db) -> Vault {
        Vault::start_with(bin, db, StartOptions::default()).await
    }

    /// Starts a vault with extra environment and arguments for `serve`.
    pub async fn start_with(bin: &str, db: Db, opts: StartOptions) -> Vault {
        let bin = binary(bin);
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("vault-data");
        let (pg_name, database_url) = match db {
            Db::Sqlite => (None, None),
            Db::Postgres => {
                let (n, u) = create_pg_database().await;
                (Some(n), Some(u))
            }
        };
        let mut init_args = vec!["init", "--data-dir", data_dir.to_str().expect("utf-8 path")];
        if let Some(u) = &database_url {
            init_args.extend(["--database-url", u.as_str()]);
        }
        let out = run_cli(&bin, &init_args, &[]);
        assert_eq!(out.code, 0, "init failed: {}", out.stderr);
        let line: Value =
            serde_json::from_str(out.stdout.trim()).expect("init prints one JSON line");
        let bootstrap_token = line["bootstrap_token"]
            .as_str()
            .expect("bootstrap_token")
            .to_owned();

        let mut cmd = Command::new(&bin);
        cmd.args([
            "serve",
            "--data-dir",
            data_dir.to_str().expect("utf-8 path"),
        ])
        .args(["--listen", "127.0.0.1:0"])
        .args(&opts.args)
        .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if v["message"] == "listening" {
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(v["addr"].as_str().unwrap_or("").to_owned());
                            }
                        }
                    }
                    lines.lock().expect("lines").push(line);
                }
            });
        }
        let addr: std::net::SocketAddr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listening addr"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "serve did not start listening; stderr:\n{}",
                    lines.lock().expect("lines").join("\n")
                );
            }
        };
        let https = opts.https_client.is_some();
        let client = opts.https_client.unwrap_or_else(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client")
        });
        Vault {
            bin,
            db,
            base: format!("{}://{addr}", if https { "https" } else { "http" }),
            addr,
            bootstrap_token,
            data_dir,
            database_url,
            client,
            child: Some(child),
            stderr: lines,
            pg_name,
            _dir: dir,
        }
    }

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with a bearer token and a purpose.
    pub fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        purpose: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(p) = purpose {
            r = r.header(PURPOSE, p);
        }
        r
    }

    /// Creates the first admin with the bootstrap token; returns (account_id, token).
    pub async fn first_admin(&self) -> (String, String) {
        let r = self
            .req(
                reqwest::Method::POST,
                "/v1/accounts",
                &self.bootstrap_token,
                Some("account_management"),
            )
            .json(&json!({"name": "first-admin", "roles": ["admin"], "prefectures": ["*"]}))
            .send()
            .await
            .expect("send");
        assert_eq!(
            r.status(),
            201,
            "first admin: {}",
            r.text().await.unwrap_or_default()
        );
        let v: Value = r.json().await.expect("json");
        (
            v["account_id"].as_str().expect("id").to_owned(),
            v["token"].as_str().expect("token").to_owned(),
        )
    }

    /// Creates an account as `admin_token`; returns the whole answer
    /// (`account_id`, `token`, `token_id`, `token_expires_at`).
    pub async fn create_account_json(&self, admin_token: &str, body: Value) -> Value {
        let r = self
            .req(
                reqwest::Method::POST,
                "/v1/accounts",
                admin_token,
                Some("account_management"),
            )
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(
            r.status(),
            201,
            "create account: {}",
            r.text().await.unwrap_or_default()
        );
        r.json().await.expect("json")
    }

    /// Creates an account as `admin_token`; returns (account_id, token).
    pub async fn create_account(&self, admin_token: &str, body: Value) -> (String, String) {
        let r = self
            .req(
                reqwest::Method::POST,
                "/v1/accounts",
                admin_token,
                Some("account_management"),
            )
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(
            r.status(),
            201,
            "create account: {}",
            r.text().await.unwrap_or_default()
        );
        let v: Value = r.json().await.expect("json");
        (
            v["account_id"].as_str().expect("id").to_owned(),
            v["token"].as_str().expect("token").to_owned(),
        )
    }

    /// A client whose connections come from `local` (e.g. `127.0.0.2`), so that a
    /// test can act from a second source address (the throttle counts per source).
    pub fn client_from(&self, local: std::net::IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .local_address(local)
            .build()
            .expect("client")
    }

    /// Creates a security officer (all prefectures); returns (account_id, token).
    pub async fn security_officer(&self, admin_token: &str, name: &str) -> (String, String) {
        self.create_account(
            admin_token,
            json!({"name": name, "roles": ["security_officer"], "prefectures": ["*"]}),
        )
        .await
    }

    /// `GET /v1/audit/events?QUERY` as `officer` (purpose `audit_review`) with `client`;
    /// answers the events (newest first), asserting 200.
    pub async fn audit_events_with(
        &self,
        client: &reqwest::Client,
        officer: &str,
        query: &str,
    ) -> Vec<Value> {
        let r = client
            .get(self.url(&format!("/v1/audit/events?{query}")))
            .bearer_auth(officer)
            .header(PURPOSE, "audit_review")
            .send()
            .await
            .expect("send");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "audit events: {body}");
        body["events"].as_array().expect("events").clone()
    }

    /// `GET /v1/audit/events?QUERY` as `officer` with the default client.
    pub async fn audit_events(&self, officer: &str, query: &str) -> Vec<Value> {
        self.audit_events_with(&self.client, officer, query).await
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    /// Sends SIGTERM to the server.
    pub fn sigterm(&self) {
        let pid = self.child.as_ref().expect("running").id();
        let st = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
    }

    /// Waits for the server to exit (at most `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(n) = self.pg_name.take() {
            drop_pg_database(&n);
        }
    }
}
