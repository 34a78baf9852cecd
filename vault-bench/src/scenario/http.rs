//! `http`: audited reads over the API. The vault side is the real service:
//! `kentei-vault serve` (through [`vault_server::cli::run_from`], in a child process of
//! `vault-bench`) over a data directory made by `kentei-vault init`, into which the
//! generated examinees were imported (the import scenario's policy, written to the
//! data directory and named by `policy_file`), read by an `exam_staff` account of every
//! prefecture with `GET /v1/applications/{application_id}` and the purpose
//! `exam_administration`: authentication, policy, audit event, decryption, JSON. The
//! baseline is [`serve_baseline`](super::serve_baseline), another child process: the
//! same route over the same records in plaintext tables (see `raw`), without
//! cryptography and audit. The load generator (`load`) runs in this process, one
//! keep-alive connection per reader, over the same random application ids for both
//! sides. After each side's load the server's resident memory (`VmRSS`, peak `VmHWM`)
//! is read from `/proc`; then the server gets SIGTERM and must exit 0. Afterwards
//! `kentei-vault audit verify` must hold and the server's audit chain must record
//! exactly one `application.read` per request sent.

use std::ffi::OsStr;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tokio::process::{Child, ChildStdin, Command};
use vault_core::audit::{AuditConfig, AuditLog};
use vault_core::crypto::{KeyProvider as _, Keyring};
use vault_core::import::{import_file, ImportOptions, Quiet};
use vault_core::store::{connect, open_store, Backend};
use vault_core::vault::Vault;
use vault_server::config::{Config, Overrides, CONFIG_FILE};

use super::db::BenchDb;
use super::import::{generate, scratch};
use super::load::{self, Load, Measured, Read};
use super::{
    connect_options, import_policy, import_policy_toml, peak_rss_mib, raw, round3, BackendKind,
    BenchError, BenchOptions, Report, Scenario,
};
use crate::{Generator, GeneratorConfig};

/// Set in the environment of a server child: the child exits when its standard input
/// closes, that is when `vault-bench` is gone, even killed (see [`exit_with_parent`]).
pub const EXIT_WITH_PARENT_ENV: &str = "VAULT_BENCH_EXIT_WITH_PARENT";

/// The environment variable that carries the baseline server's database URL.
pub const BASELINE_DATABASE_URL_ENV: &str = "VAULT_BENCH_BASELINE_DATABASE_URL";
/// The environment variable that carries the baseline server's token.
pub const BASELINE_TOKEN_ENV: &str = "VAULT_BENCH_BASELINE_TOKEN";

/// In a server child started by the `http` scenario ([`EXIT_WITH_PARENT_ENV`] set):
/// ends the process when standard input reaches its end, so that no server outlives
/// the benchmark. Elsewhere it does nothing.
pub fn exit_with_parent() {
    if std::env::var_os(EXIT_WITH_PARENT_ENV).is_none() {
        return;
    }
    std::thread::spawn(|| {
        use std::io::Read as _;
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 64];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(1),
                Ok(_) => {}
            }
        }
    });
}

/// How long a server may take to listen and be ready, and to stop after SIGTERM.
const START_LIMIT: Duration = Duration::from_secs(120);
const STOP_LIMIT: Duration = Duration::from_secs(60);

/// The purpose of the reads.
const PURPOSE: &str = "exam_administration";

/// A `kentei-vault` command run by the `vault-bench` executable, in an environment
/// without the caller's `KENTEI_VAULT_*` variables (they would override the data
/// directory's configuration), with the vault's database URL when it is not the
/// data directory's SQLite file.
fn kentei_vault(exe: &Path, database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("kentei-vault").arg("--");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KENTEI_VAULT_") {
            cmd.env_remove(key);
        }
    }
    if let Some(url) = database_url {
        // Not on the command line: a URL may carry a password.
        cmd.env("KENTEI_VAULT_DATABASE_URL", url);
    }
    cmd
}

/// Runs a short `kentei-vault` command; answers its standard output.
async fn run_cli(
    exe: &Path,
    database_url: Option<&str>,
    args: &[&OsStr],
) -> Result<String, BenchError> {
    let out = kentei_vault(exe, database_url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        let what: Vec<_> = args
            .iter()
            .take(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return Err(BenchError::Server(format!(
            "`kentei-vault {}` failed ({}): {}",
            what.join(" "),
            out.status,
            last_line(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| BenchError::Server("kentei-vault printed invalid UTF-8".into()))
}

/// The last non-empty line of a log, shortened (for error messages).
fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)");
    line.chars().take(400).collect()
}

/// Writes the import scenario's policy into the data directory, names it in the
/// configuration file as `policy_file` and sets the server's pool size and audit
/// commit delay.
fn configure(data_dir: &Path, db_connections: u32, commit_delay_us: u64) -> Result<(), BenchError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let policy = data_dir.join("bench-policy.toml");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&policy)?;
    f.write_all(import_policy_toml().as_bytes())?;
    f.sync_all()?;
    let path = policy
        .to_str()
        .ok_or_else(|| BenchError::Unsupported("the scratch directory path is not UTF-8".into()))?;
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(data_dir.join(CONFIG_FILE))?;
    // A JSON string is a valid TOML basic string.
    write!(
        config,
        "\n# vault-bench http\npolicy_file = {}\ndb_max_connections = {db_connections}\n\
         audit_commit_delay_us = {commit_delay_us}\n",
        Value::String(path.to_owned())
    )?;
    config.sync_all()?;
    Ok(())
}

/// The data directory's configuration as the server children see it.
fn vault_config(data_dir: &Path, database_url: Option<&str>) -> Result<Config, BenchError> {
    let env = |key: &str| {
        (key == "KENTEI_VAULT_DATABASE_URL")
            .then(|| database_url.map(str::to_owned))
            .flatten()
    };
    Config::load(data_dir, &Overrides::default(), &env, true)
        .map_err(|e| BenchError::Server(e.to_string()))
}

/// Successful `application.read` events in the server's audit chain.
async fn audited_reads(
    data_dir: &Path,
    database_url: Option<&str>,
    opts: &BenchOptions,
) -> Result<u64, BenchError> {
    let cfg = vault_config(data_dir, database_url)?;
    let backend = connect(cfg.database_url(), &connect_options(opts)).await?;
    let sql = "SELECT COUNT(*) FROM audit_events \
               WHERE chain_id = {} AND action = 'application.read' AND outcome = 'ok'";
    let n: Result<i64, sqlx::Error> = match &backend {
        Backend::Sqlite(pool) => {
            sqlx::query_scalar(&sql.replace("{}", "?"))
                .bind(&cfg.audit_chain_id)
                .fetch_one(pool)
                .await
        }
        Backend::Postgres(pool) => {
            sqlx::query_scalar(&sql.replace("{}", "$1"))
                .bind(&cfg.audit_chain_id)
                .fetch_one(pool)
                .await
        }
    };
    backend.close().await;
    Ok(u64::try_from(n?).unwrap_or(0))
}

/// Imports `file` into the data directory's vault as `kentei-vault import` does (its
/// keyring, database, the audit chain `import` with its own checkpoint file), under
/// the import policy.
async fn import_population(
    data_dir: &Path,
    database_url: Option<&str>,
    file: &Path,
    opts: &BenchOptions,
) -> Result<(), BenchError> {
    let cfg = vault_config(data_dir, database_url)?;
    let keyring = Arc::new(Keyring::load_file(&cfg.keyring_path)?);
    let backend = connect(cfg.database_url(), &connect_options(opts)).await?;
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keyring.audit_signer()),
        AuditConfig::new("import", cfg.audit_dir().join("import-checkpoints.jsonl")),
    )
    .await?;
    let vault = Vault::new(
        open_store(backend.clone()),
        keyring,
        Arc::new(import_policy()),
        audit,
    );
    let imported = import_file(
        &vault,
        file,
        &ImportOptions::new()
            .batch_lines(opts.batch)
            .workers(opts.workers),
        &mut Quiet,
    )
    .await;
    vault.audit().close().await;
    backend.close().await;
    if imported?.imported_lines != opts.records {
        return Err(BenchError::Check("the setup import left lines out".into()));
    }
    Ok(())
}

/// Resident memory of a process, from `/proc/PID/status`.
struct Memory {
    rss_mib: f64,
    peak_mib: f64,
}

fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory {
        rss_mib: round3(kib("VmRSS:")? / 1024.0),
        peak_mib: round3(kib("VmHWM:")? / 1024.0),
    })
}

/// A server in a child process. Dropped without [`ServerProcess::stop`] (an error on
/// the way), the child is killed; it also exits by itself when this process is gone
/// (its standard input closes, see [`exit_with_parent`]).
struct ServerProcess {
    name: &'static str,
    child: Child,
    pid: u32,
    log: PathBuf,
    addr: SocketAddr,
    /// Kept open while the child runs.
    stdin: Option<ChildStdin>,
}

impl ServerProcess {
    /// Starts `cmd` with its standard error in `log`, learns the address it listens on
    /// from its `listening` line and waits until `GET /readyz` answers 200.
    async fn start(
        name: &'static str,
        mut cmd: Command,
        log: PathBuf,
    ) -> Result<ServerProcess, BenchError> {
        let log_file = std::fs::File::create(&log)?;
        cmd.env(EXIT_WITH_PARENT_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Server(format!("the {name} exited at once")))?;
        let stdin = child.stdin.take();
        let started = Instant::now();
        let addr = loop {
            if let Some(addr) = listening_addr(&log) {
                break addr;
            }
            if let Some(status) = child.try_wait()? {
                return Err(BenchError::Server(format!(
                    "the {name} exited at start ({status}): {}",
                    last_line(&std::fs::read_to_string(&log).unwrap_or_default())
                )));
            }
            if started.elapsed() > START_LIMIT {
                return Err(BenchError::Server(format!(
                    "the {name} did not listen within {} s",
                    START_LIMIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        while !load::ready(addr).await {
            if child.try_wait()?.is_some() || started.elapsed() > START_LIMIT {
                return Err(BenchError::Server(format!(
                    "the {name} did not become ready: {}",
                    last_line(&std::fs::read_to_string(&log).unwrap_or_default())
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(ServerProcess {
            name,
            child,
            pid,
            log,
            addr,
            stdin,
        })
    }

    fn memory(&self) -> Result<Memory, BenchError> {
        memory_of(self.pid).ok_or_else(|| {
            BenchError::Server(format!("cannot read the {}'s memory from /proc", self.name))
        })
    }

    /// SIGTERM, then waits for the exit, which must be 0 (the vault drains and closes its
    /// audit log with a final checkpoint). Past the time limit the child is killed.
    async fn stop(mut self) -> Result<(), BenchError> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdin(Stdio::null())
            .status()
            .await;
        let waited = tokio::time::timeout(STOP_LIMIT, self.child.wait()).await;
        self.stdin.take();
        match waited {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(BenchError::Server(format!(
                "the {} exited with {status} after SIGTERM: {}",
                self.name,
                last_line(&std::fs::read_to_string(&self.log).unwrap_or_default())
            ))),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(BenchError::Server(format!(
                    "the {} did not stop within {} s of SIGTERM and was killed",
                    self.name,
                    STOP_LIMIT.as_secs()
                )))
            }
        }
    }
}

/// The address of the first JSON log line whose message is `listening`.
fn listening_addr(log: &Path) -> Option<SocketAddr> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "listening")
        .and_then(|v| v["addr"].as_str()?.parse().ok())
}

/// `count` random applications of examinees `0..records` of `seed`, drawn from `rng`.
fn pick_reads(
    generator: &Generator,
    rng: &mut ChaCha8Rng,
    records: u64,
    count: u64,
) -> Result<Vec<Read>, BenchError> {
    let mut reads = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let line = generator.examinee(rng.next_u64() % records);
        if line.applications.is_empty() {
            return Err(BenchError::Check(
                "a generated examinee has no application".into(),
            ));
        }
        let n = line.applications.len() as u64;
        let Some(app) = usize::try_from(rng.next_u64() % n)
            .ok()
            .and_then(|i| line.applications.get(i))
        else {
            return Err(BenchError::Check("application index out of range".into()));
        };
        reads.push(Read::application(&app.application_id, &app.exam_number));
    }
    load::check_paths(&reads)?;
    Ok(reads)
}

/// Runs one side's load against `server`, reads its memory, stops it.
async fn measure(
    server: ServerProcess,
    opts: &BenchOptions,
    authorization: &HeaderValue,
    warmup: &Arc<Vec<Read>>,
    reads: &Arc<Vec<Read>>,
) -> Result<(Measured, Memory), BenchError> {
    let measured = load::drive(Load {
        addr: server.addr,
        authorization: authorization.clone(),
        purpose: HeaderValue::from_static(PURPOSE),
        connections: opts.readers,
        warmup: warmup.clone(),
        reads: reads.clone(),
        duration: (opts.seconds > 0).then(|| Duration::from_secs(opts.seconds)),
    })
    .await;
    // Right after the load, before stopping (an error stops the child by drop).
    let memory = server.memory();
    let name = server.name;
    server.stop().await?;
    let measured = measured?;
    let memory = memory?;
    if measured.error_count() > 0 {
        let kinds: Vec<String> = measured
            .errors
            .iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect();
        return Err(BenchError::Check(format!(
            "{} of {} requests to the {name} failed ({}); no figures are reported",
            measured.error_count(),
            measured.requests + warmup.len() as u64,
            kinds.join(", ")
        )));
    }
    Ok((measured, memory))
}

pub(super) async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let mut report = Report::new(Scenario::Http, opts, "reads");
    let exe = match &opts.exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe()?,
    };
    let dir = scratch(opts)?;
    let file = generate(dir.path(), opts.records, opts.seed)?;
    let co = connect_options(opts);

    // The vault: a data directory made by `kentei-vault init` (PostgreSQL: in a fresh
    // database), the import policy in force, the population imported, a reader account.
    let vault_db = match opts.backend {
        BackendKind::Postgres => {
            let db = BenchDb::create(opts.backend, dir.path(), "http", &opts.pg_url, &co).await?;
            db.backend.close().await;
            Some(db)
        }
        BackendKind::Sqlite => None,
    };
    let db_url = vault_db.as_ref().map(|db| db.url.as_str());
    let data_dir = dir.path().join("vault-data");
    // Its standard output is the single-use bootstrap token, which is not needed.
    run_cli(
        &exe,
        db_url,
        &["init".as_ref(), "--data-dir".as_ref(), data_dir.as_os_str()],
    )
    .await?;
    configure(&data_dir, opts.connections, opts.commit_delay_us)?;
    import_population(&data_dir, db_url, &file, opts).await?;
    let account = run_cli(
        &exe,
        db_url,
        &[
            "accounts".as_ref(),
            "create".as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
            "--name".as_ref(),
            "vault-bench reader".as_ref(),
            "--role".as_ref(),
            "exam_staff".as_ref(),
            "--prefecture".as_ref(),
            "*".as_ref(),
        ],
    )
    .await?;
    let token = serde_json::from_str::<Value>(account.trim())
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or_else(|| BenchError::Server("`accounts create` printed no token".into()))?;
    let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| BenchError::Server("the token is not a valid header value".into()))?;
    authorization.set_sensitive(true);

    // The baseline: the same file in plaintext tables of their own database.
    let raw_db = BenchDb::create(opts.backend, dir.path(), "http_raw", &opts.pg_url, &co).await?;
    raw::create_tables(&raw_db.backend).await?;
    let lines = raw::import(&raw_db.backend, &file, opts.batch).await?;
    raw_db.backend.close().await;
    if lines != opts.records {
        return Err(BenchError::Check(format!(
            "the baseline inserted {lines} of {} lines",
            opts.records
        )));
    }

    // The same random applications for both sides; the warm-up reads are others.
    let reads = opts.reads_per_side();
    let generator = Generator::new(GeneratorConfig::new(opts.seed));
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x6874_7470);
    let read_list = Arc::new(pick_reads(&generator, &mut rng, opts.records, reads)?);
    let warmup = Arc::new(pick_reads(&generator, &mut rng, opts.records, opts.warmup)?);

    // The vault server.
    let mut serve = kentei_vault(&exe, db_url);
    serve.args([
        OsStr::new("serve"),
        OsStr::new("--data-dir"),
        data_dir.as_os_str(),
        OsStr::new("--listen"),
        OsStr::new("127.0.0.1:0"),
    ]);
    let server = ServerProcess::start("vault server", serve, dir.path().join("vault.log")).await?;
    let (vault, vault_mem) = measure(server, opts, &authorization, &warmup, &read_list).await?;
    let vault_log_mib = std::fs::metadata(dir.path().join("vault.log"))
        .map(|m| round3(m.len() as f64 / 1048576.0))
        .unwrap_or(0.0);

    // Every read is in the audit log, and the log verifies.
    let verified = run_cli(
        &exe,
        db_url,
        &[
            "audit".as_ref(),
            "verify".as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
        ],
    )
    .await?;
    let checked = serde_json::from_str::<Value>(verified.trim())
        .ok()
        .and_then(|v| v["checked"].as_u64())
        .unwrap_or(0);
    let audited = audited_reads(&data_dir, db_url, opts).await?;
    let sent = vault.requests + warmup.len() as u64;
    if audited != sent {
        return Err(BenchError::Check(format!(
            "the audit log records {audited} application reads for {sent} requests"
        )));
    }

    // The baseline server.
    let mut baseline_cmd = Command::new(&exe);
    baseline_cmd
        .args([
            "baseline-server",
            "--listen",
            "127.0.0.1:0",
            "--connections",
        ])
        .arg(opts.connections.to_string())
        .env(BASELINE_DATABASE_URL_ENV, &raw_db.url)
        .env(BASELINE_TOKEN_ENV, &token);
    let server = ServerProcess::start(
        "baseline server",
        baseline_cmd,
        dir.path().join("baseline.log"),
    )
    .await?;
    let (base, base_mem) = measure(server, opts, &authorization, &warmup, &read_list).await?;
    raw_db.drop_db().await;
    if let Some(db) = vault_db {
        db.drop_db().await;
    }

    report.timed_each(
        (vault.requests, vault.elapsed),
        (base.requests, base.elapsed),
    );
    report.latencies(&vault.latencies_us, &base.latencies_us);
    report.rss_mib = Some(vault_mem.peak_mib);
    let extra = &mut report.extra;
    extra.insert("baseline_requests".into(), json!(base.requests));
    extra.insert("connections".into(), json!(opts.readers));
    extra.insert("db_connections".into(), json!(opts.connections));
    extra.insert("commit_delay_us".into(), json!(opts.commit_delay_us));
    extra.insert("examinees".into(), json!(opts.records));
    extra.insert("warmup_requests".into(), json!(warmup.len()));
    if opts.seconds > 0 {
        extra.insert("seconds".into(), json!(opts.seconds));
    }
    extra.insert(
        "errors".into(),
        json!(vault.error_count() + base.error_count()),
    );
    extra.insert("vault_rss_now_mib".into(), json!(vault_mem.rss_mib));
    extra.insert("baseline_rss_mib".into(), json!(base_mem.peak_mib));
    extra.insert("baseline_rss_now_mib".into(), json!(base_mem.rss_mib));
    extra.insert("client_rss_mib".into(), json!(peak_rss_mib()));
    extra.insert("audit_events_checked".into(), json!(checked));
    extra.insert("audited_reads".into(), json!(audited));
    extra.insert("vault_log_mib".into(), json!(vault_log_mib));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        std::fs::write(
            &log,
            "{\"message\":\"starting\"}\nnot json\n{\"level\":\"INFO\",\"addr\":\"127.0.0.1:4242\",\"message\":\"listening\"}\n",
        )
        .expect("write");
        assert_eq!(
            listening_addr(&log),
            Some("127.0.0.1:4242".parse().expect("addr"))
        );
        std::fs::write(&log, "{\"message\":\"starting\"}\n").expect("write");
        assert_eq!(listening_addr(&log), None);
    }

    #[test]
    fn this_process_memory_is_read_from_proc() {
        let m = memory_of(std::process::id()).expect("/proc/PID/status");
        assert!(m.rss_mib > 0.0 && m.peak_mib >= m.rss_mib);
    }
}
