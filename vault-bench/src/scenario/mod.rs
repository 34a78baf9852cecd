//! Load scenarios: each runs the vault's path and a plaintext baseline on the same
//! backend, with the same data and transaction sizes, and answers a [`Report`].
//!
//! - `import`: [`vault_core::import::import_file`] of N generated examinees against the
//!   same records inserted as plaintext rows into tables of the same shape.
//! - `lookup`: point reads by exam number through the facade (blind index, audit with
//!   group commit, decryption of the view) against a plaintext indexed select, with
//!   many concurrent readers.
//! - `rewrap`: re-wrapping every data key under a new KEK version against a plain
//!   `UPDATE` of the same rows.
//! - `pgcrypto` (PostgreSQL): the vault's field sealing against `pgp_sym_encrypt` and
//!   `encrypt_iv` inside PostgreSQL.
//! - `http`: audited reads of `GET /v1/applications/{application_id}` from the real
//!   server in a child process, driven over keep-alive connections by a load generator
//!   in this process, against a plaintext server with the same route; with the
//!   server's resident memory.
//! - `sqlcipher` (SQLite, a build with `--features sqlcipher`): the vault's import and
//!   reads against the plaintext tables in a SQLCipher database under a raw key.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use vault_core::audit::{AuditConfig, AuditLog, DEFAULT_COMMIT_DELAY};
use vault_core::crypto::{KeyProvider, Keyring};
use vault_core::store::{open_store, Backend, ConnectOptions};
use vault_core::vault::Vault;
use vault_policy::Policy;

mod baseline_server;
mod db;
mod http;
mod import;
mod load;
mod lookup;
mod pgcrypto;
mod raw;
mod rewrap;
mod sqlcipher;

pub use baseline_server::{serve_baseline, BaselineServer};
pub use http::{
    exit_with_parent, BASELINE_DATABASE_URL_ENV, BASELINE_TOKEN_ENV, EXIT_WITH_PARENT_ENV,
};

/// The database a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// SQLite in a temporary directory on the local disk.
    Sqlite,
    /// A fresh database on the PostgreSQL server, dropped afterwards.
    Postgres,
}

impl BackendKind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(BackendKind::Sqlite),
            "postgres" | "postgresql" => Ok(BackendKind::Postgres),
            _ => Err(format!("unknown backend {s:?}: sqlite or postgres")),
        }
    }
}

/// A benchmark scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scenario {
    /// Bulk import of examinees.
    Import,
    /// Point reads by exam number.
    Lookup,
    /// Re-wrapping every data key under a new KEK version.
    Rewrap,
    /// Field encryption: the vault against pgcrypto.
    Pgcrypto,
    /// Audited reads over HTTP against a plaintext server.
    Http,
    /// Import and reads: the vault against whole-database SQLCipher (a build with the
    /// `sqlcipher` feature).
    Sqlcipher,
}

impl Scenario {
    /// The scenario's name on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Import => "import",
            Scenario::Lookup => "lookup",
            Scenario::Rewrap => "rewrap",
            Scenario::Pgcrypto => "pgcrypto",
            Scenario::Http => "http",
            Scenario::Sqlcipher => "sqlcipher",
        }
    }
}

/// Settings of one scenario run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BenchOptions {
    /// Examinees (import, lookup, http), data keys (rewrap) or field values (pgcrypto).
    pub records: u64,
    /// The backend.
    pub backend: BackendKind,
    /// Seed of the generated data.
    pub seed: u64,
    /// Lines per import transaction; keys per re-wrap transaction; values per
    /// pgcrypto statement.
    pub batch: usize,
    /// Import preparing threads.
    pub workers: usize,
    /// Concurrent readers (lookup); keep-alive HTTP connections, one reader each (http).
    pub readers: usize,
    /// Reads per side (lookup, http); 0 means as many as `records`, at least 20,000.
    pub reads: u64,
    /// http: measure each side for this long instead of `reads` requests (0: off).
    pub seconds: u64,
    /// http: requests per side before the measurement, not counted (they also open the
    /// connections).
    pub warmup: u64,
    /// Connection pool size (http: of each server process).
    pub connections: u32,
    /// The audit writer's commit delay in microseconds (lookup: the vault's
    /// `AuditConfig::commit_delay`; http: the server's `audit_commit_delay_us`).
    pub commit_delay_us: u64,
    /// Directory for SQLite databases and generated files (default: the system's
    /// temporary directory, which must be on a local disk).
    pub dir: Option<PathBuf>,
    /// PostgreSQL server URL without a database name.
    pub pg_url: String,
    /// http: the `vault-bench` executable that runs the server processes (default: this
    /// process's own executable, which must be `vault-bench`).
    pub exe: Option<PathBuf>,
}

impl BenchOptions {
    /// [`BenchOptions::commit_delay_us`] as a duration.
    pub fn commit_delay(&self) -> Duration {
        Duration::from_micros(self.commit_delay_us)
    }

    /// Reads per side of `lookup`, `http` and `sqlcipher`: `reads`, or when 0 as many
    /// as `records`, at least 20,000.
    pub fn reads_per_side(&self) -> u64 {
        if self.reads == 0 {
            self.records.max(20_000)
        } else {
            self.reads
        }
    }

    /// Defaults for `records` on `backend`.
    pub fn new(records: u64, backend: BackendKind) -> BenchOptions {
        BenchOptions {
            records,
            backend,
            seed: 1,
            batch: 1000,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            readers: 64,
            reads: 0,
            seconds: 0,
            warmup: 2000,
            connections: 8,
            commit_delay_us: u64::try_from(DEFAULT_COMMIT_DELAY.as_micros()).unwrap_or(1000),
            dir: None,
            pg_url: std::env::var("KENTEI_BENCH_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned()),
            exe: None,
        }
    }
}

/// A scenario failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The scenario does not run on this backend or with these options.
    #[error("{0}")]
    Unsupported(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] vault_core::store::StoreError),
    /// The facade failed.
    #[error("vault: {0}")]
    Vault(#[from] vault_core::vault::VaultError),
    /// The import failed.
    #[error("import: {0}")]
    Import(#[from] vault_core::import::ImportError),
    /// A baseline statement failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// The audit log failed to start.
    #[error("audit: {0}")]
    Audit(#[from] vault_core::audit::AuditError),
    /// Keys.
    #[error("crypto: {0}")]
    Crypto(#[from] vault_core::crypto::CryptoError),
    /// Files.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The data did not come out as expected.
    #[error("check failed: {0}")]
    Check(String),
    /// A server process (http) failed to start, to answer or to stop.
    #[error("server: {0}")]
    Server(String),
}

/// What a scenario measured. The last line of `vault-bench SCENARIO` is
/// [`Report::json_line`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// `import`, `lookup`, `rewrap`, `pgcrypto`, `http` or `sqlcipher`.
    pub scenario: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Examinees, reads, data keys or field values measured.
    pub records: u64,
    /// What `records` counts (`examinees`, `reads`, `deks`, `fields`).
    pub unit: &'static str,
    /// Rate of the vault's path, in units per second.
    pub vault_per_sec: f64,
    /// Rate of the baseline, in units per second.
    pub baseline_per_sec: f64,
    /// `vault_per_sec / baseline_per_sec`.
    pub ratio: f64,
    /// Median latency of one vault operation (lookup, http).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of one vault operation (lookup, http).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// Peak resident memory of the process (http: of the vault server's process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_mib: Option<f64>,
    /// Wall time of the vault's path.
    pub vault_secs: f64,
    /// Wall time of the baseline.
    pub baseline_secs: f64,
    /// The 1-minute load average before and after the run.
    pub load_before: f64,
    /// See `load_before`.
    pub load_after: f64,
    /// Scenario-specific figures (baseline latencies, other baselines, row counts).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Report {
    fn new(scenario: Scenario, opts: &BenchOptions, unit: &'static str) -> Report {
        Report {
            scenario: scenario.as_str(),
            backend: opts.backend.as_str(),
            records: 0,
            unit,
            vault_per_sec: 0.0,
            baseline_per_sec: 0.0,
            ratio: 0.0,
            p50_ms: None,
            p99_ms: None,
            rss_mib: None,
            vault_secs: 0.0,
            baseline_secs: 0.0,
            load_before: load_average(),
            load_after: 0.0,
            extra: BTreeMap::new(),
        }
    }

    /// Sets the count and both timings; computes the rates and the ratio.
    fn timed(&mut self, records: u64, vault: Duration, baseline: Duration) {
        self.timed_each((records, vault), (records, baseline));
    }

    /// Sets each side's count and timing (they differ when each side runs for a fixed
    /// time); `records` is the vault's count.
    fn timed_each(&mut self, vault: (u64, Duration), baseline: (u64, Duration)) {
        self.records = vault.0;
        self.vault_secs = round3(vault.1.as_secs_f64());
        self.baseline_secs = round3(baseline.1.as_secs_f64());
        let rate = |(n, d): (u64, Duration)| n as f64 / d.as_secs_f64().max(1e-9);
        self.vault_per_sec = rate(vault).round();
        self.baseline_per_sec = rate(baseline).round();
        self.ratio = round3(self.vault_per_sec / self.baseline_per_sec.max(1e-9));
    }

    /// The vault's p50 / p99 and the baseline's (`baseline_p50_ms`, `baseline_p99_ms`)
    /// from sorted latencies in microseconds.
    fn latencies(&mut self, vault_us: &[u32], baseline_us: &[u32]) {
        self.p50_ms = Some(percentile_ms(vault_us, 50.0));
        self.p99_ms = Some(percentile_ms(vault_us, 99.0));
        for (key, p) in [("baseline_p50_ms", 50.0), ("baseline_p99_ms", 99.0)] {
            self.extra
                .insert(key.into(), Value::from(percentile_ms(baseline_us, p)));
        }
    }

    /// The load average after the run, and this process's peak memory unless the
    /// scenario measured another process's.
    fn finish(mut self) -> Report {
        self.load_after = load_average();
        self.rss_mib = self.rss_mib.or_else(peak_rss_mib);
        self
    }

    /// A table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {} on {}: {} {}",
            self.scenario, self.backend, self.records, self.unit
        );
        let _ = writeln!(out, "{:<28} {:>14} {:>10}", "", "per second", "seconds");
        let _ = writeln!(
            out,
            "{:<28} {:>14.0} {:>10.3}",
            "vault", self.vault_per_sec, self.vault_secs
        );
        let _ = writeln!(
            out,
            "{:<28} {:>14.0} {:>10.3}",
            "baseline", self.baseline_per_sec, self.baseline_secs
        );
        let _ = writeln!(out, "{:<28} {:>14.3}", "ratio vault/baseline", self.ratio);
        if let (Some(p50), Some(p99)) = (self.p50_ms, self.p99_ms) {
            let _ = writeln!(out, "{:<28} {:>14.3}", "vault p50 ms", p50);
            let _ = writeln!(out, "{:<28} {:>14.3}", "vault p99 ms", p99);
        }
        for (k, v) in &self.extra {
            let _ = writeln!(out, "{k:<28} {v:>14}");
        }
        if let Some(rss) = self.rss_mib {
            let label = if self.scenario == Scenario::Http.as_str() {
                "vault server peak RSS MiB"
            } else {
                "peak RSS MiB"
            };
            let _ = writeln!(out, "{label:<28} {rss:>14.1}");
        }
        let _ = writeln!(
            out,
            "{:<28} {:>14}",
            "load average before/after",
            format!("{:.2}/{:.2}", self.load_before, self.load_after)
        );
        out
    }

    /// The report as one line of JSON.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Runs `scenario`.
pub async fn run(scenario: Scenario, opts: &BenchOptions) -> Result<Report, BenchError> {
    if opts.records == 0 || opts.batch == 0 || opts.readers == 0 || opts.workers == 0 {
        return Err(BenchError::Unsupported(
            "--records, --batch, --readers and --workers must be at least 1".into(),
        ));
    }
    let report = match scenario {
        Scenario::Import => import::run(opts).await?,
        Scenario::Lookup => lookup::run(opts).await?,
        Scenario::Rewrap => rewrap::run(opts).await?,
        Scenario::Pgcrypto => pgcrypto::run(opts).await?,
        Scenario::Http => http::run(opts).await?,
        Scenario::Sqlcipher => sqlcipher::run(opts).await?,
    };
    Ok(report.finish())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The 1-minute load average (0 where unknown).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0)
}

/// CPU time (user + system) this process has used so far, in seconds (Linux
/// `/proc/self/stat`, clock ticks of 10 ms). The scenarios' own process runs the
/// database too (SQLite's work is in its worker threads), so the difference over a
/// phase is all the CPU that phase cost.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round3(kib / 1024.0))
}

/// The default policy with the `exam_system` × `system_sync` view widened to the
/// `residence` and `employment` classes: the generated examinees carry employers and
/// (trainees) residence items, which the default `system_sync` view does not allow an
/// import to write (see `docs/performance.md`).
pub fn import_policy() -> Policy {
    let text = import_policy_toml();
    // Invariant: the default policy is valid and the replacement adds two known classes
    // to one view; a failure here is a change of the default policy text.
    #[allow(clippy::expect_used)]
    Policy::from_toml(&text, "vault-bench import policy").expect("widened default policy")
}

/// The text of [`import_policy`].
pub fn import_policy_toml() -> String {
    Policy::default_policy_toml().replace(
        "classes = [\"identity\", \"address\", \"contact\", \"exam\", \"result\", \"qualification\", \"pseudonym\"]",
        "classes = [\"identity\", \"address\", \"contact\", \"residence\", \"employment\", \"exam\", \"result\", \"qualification\", \"pseudonym\"]",
    )
}

/// A vault on `backend` with a fresh keyring and an audit log whose checkpoint file is
/// in `dir`, with the commit delay of `opts`.
async fn open_vault(
    backend: &Backend,
    dir: &Path,
    opts: &BenchOptions,
) -> Result<Vault, BenchError> {
    let keyring = Arc::new(Keyring::generate()?);
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keyring.audit_signer()),
        AuditConfig::new("bench", dir.join("checkpoints.jsonl")).commit_delay(opts.commit_delay()),
    )
    .await?;
    Ok(Vault::new(
        open_store(backend.clone()),
        keyring,
        Arc::new(import_policy()),
        audit,
    ))
}

fn connect_options(opts: &BenchOptions) -> ConnectOptions {
    ConnectOptions {
        max_connections: opts.connections,
        ..ConnectOptions::default()
    }
}

/// Percentile `p` (0–100) of sorted latencies in microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    round3(f64::from(sorted_us[rank.min(sorted_us.len() - 1)]) / 1000.0)
}
