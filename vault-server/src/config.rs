//! Configuration: the file `kentei-vault.toml` in the data directory, overridden by
//! `KENTEI_VAULT_*` environment variables, overridden by command-line flags.
//!
//! Every key is listed in [`KEYS`] (name, default, meaning) and documented in
//! `docs/configuration.md`. A bad value is refused with a message naming the key,
//! where it came from and what to change; values themselves are not repeated (a
//! database URL may hold a password). [`Config::show`] prints the effective
//! configuration with secrets masked.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// File name of the configuration file inside the data directory.
pub const CONFIG_FILE: &str = "kentei-vault.toml";
/// Prefix of the environment variables that override keys (`KENTEI_VAULT_LISTEN`, …).
pub const ENV_PREFIX: &str = "KENTEI_VAULT_";

/// One configuration key: name, default and what it means.
#[derive(Clone, Copy, Debug)]
pub struct KeyDoc {
    /// Key name in the file; the environment variable is `KENTEI_VAULT_` + upper case.
    pub name: &'static str,
    /// Default value (`{data_dir}` stands for the data directory; empty means unset).
    pub default: &'static str,
    /// What the key sets and which values are accepted.
    pub doc: &'static str,
}

/// Every configuration key.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc { name: "listen", default: "127.0.0.1:8080", doc: "address and port to listen on (IP:PORT); loopback by default" },
    KeyDoc { name: "database_url", default: "sqlite://{data_dir}/vault.db", doc: "sqlite://PATH or postgres://USER[:PASSWORD]@HOST:PORT/DB; the password is masked when shown" },
    KeyDoc { name: "keyring_path", default: "{data_dir}/keys/keyring", doc: "key file holding the key-encryption, index and audit-signing keys (mode 0600)" },
    KeyDoc { name: "policy_file", default: "", doc: "policy TOML file; empty uses the built-in default policy" },
    KeyDoc { name: "tls_cert", default: "", doc: "PEM certificate chain; with tls_key, serve HTTPS" },
    KeyDoc { name: "tls_key", default: "", doc: "PEM private key (PKCS#8, PKCS#1 or SEC1) for tls_cert" },
    KeyDoc { name: "log_level", default: "info", doc: "error, warn, info, debug or trace" },
    KeyDoc { name: "max_body_bytes", default: "1048576", doc: "largest accepted request body in bytes (1024..=67108864); larger is 413" },
    KeyDoc { name: "request_timeout_secs", default: "30", doc: "time limit for one request, body included (1..=3600); beyond it 408" },
    KeyDoc { name: "header_read_timeout_secs", default: "10", doc: "time a client has to send the request headers (1..=300); slower connections are closed" },
    KeyDoc { name: "tls_handshake_timeout_secs", default: "10", doc: "time a client has to complete the TLS handshake (1..=300)" },
    KeyDoc { name: "max_concurrent_requests", default: "256", doc: "requests handled at once (1..=100000); beyond it 503 overloaded" },
    KeyDoc { name: "auth_failure_limit", default: "10", doc: "failed authentications from one source address per window before 429 (1..=100000)" },
    KeyDoc { name: "auth_failure_window_secs", default: "60", doc: "length of the failed-authentication window in seconds (1..=86400)" },
    KeyDoc { name: "page_size_default", default: "100", doc: "rows per page of a listing when the client sends no limit (1..=page_size_max)" },
    KeyDoc { name: "page_size_max", default: "500", doc: "largest page a client may ask for (1..=10000); larger limits are capped" },
    KeyDoc { name: "token_lifetime_days", default: "90", doc: "lifetime of issued tokens when the request names no expiry (1..=3650)" },
    KeyDoc { name: "bootstrap_token_lifetime_hours", default: "168", doc: "lifetime of the bootstrap token printed by init (1..=8760)" },
    KeyDoc { name: "shutdown_grace_secs", default: "30", doc: "on SIGTERM/SIGINT, how long in-flight requests may finish (0..=3600)" },
    KeyDoc { name: "db_max_connections", default: "8", doc: "database connection pool size (1..=1000)" },
    KeyDoc { name: "kek_max_age_days", default: "365", doc: "cryptoperiod of a key-encryption key in days (0..=3650; 0 turns it off): an older active version is rotated by the background job (NIST SP 800-57)" },
    KeyDoc { name: "audit_commit_delay_us", default: "1000", doc: "microseconds the audit writer waits for more events before a commit under load (0..=100000; 0 turns it off): fewer, fuller commits for more throughput, at that much latency" },
    KeyDoc { name: "audit_chain_id", default: "instance-1", doc: "id of this instance's audit chain (1-64 of a-z 0-9 _ . -); with PostgreSQL and several instances, give each its own" },
];

/// Where a value came from (for error messages and `config show`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "environment variable {v}"),
            Source::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

/// A refused configuration: every problem found, one per line.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    /// One message per problem, each naming the key, its source and what to fix.
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(msg: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![msg.into()],
        }
    }
}

/// Values given on the command line, which win over file and environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--tls-cert`.
    pub tls_cert: Option<String>,
    /// `--tls-key`.
    pub tls_key: Option<String>,
}

/// Limits and lifetimes the HTTP application enforces.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time limit of one request.
    pub request_timeout: Duration,
    /// Requests handled at once.
    pub max_concurrent_requests: usize,
    /// Failed authentications per source and window before 429.
    pub auth_failure_limit: u32,
    /// Failed-authentication window.
    pub auth_failure_window: Duration,
    /// Default page size.
    pub page_size_default: u32,
    /// Largest page size.
    pub page_size_max: u32,
    /// Default lifetime of issued tokens.
    pub token_lifetime: chrono::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 256,
            auth_failure_limit: 10,
            auth_failure_window: Duration::from_secs(60),
            page_size_default: 100,
            page_size_max: 500,
            token_lifetime: chrono::Duration::days(90),
        }
    }
}

/// The effective configuration of one command.
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    database_url: SecretString,
    /// Key file path.
    pub keyring_path: PathBuf,
    /// Policy file, if not the built-in one.
    pub policy_file: Option<PathBuf>,
    /// TLS certificate chain and key, when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Log level filter.
    pub log_level: String,
    /// Header read timeout.
    pub header_read_timeout: Duration,
    /// TLS handshake timeout.
    pub tls_handshake_timeout: Duration,
    /// Bootstrap token lifetime.
    pub bootstrap_lifetime: chrono::Duration,
    /// Drain time on shutdown.
    pub shutdown_grace: Duration,
    /// Database pool size.
    pub db_max_connections: u32,
    /// Cryptoperiod of a KEK version in days; `None` when turned off (0).
    pub kek_max_age_days: Option<u32>,
    /// This instance's audit chain id.
    pub audit_chain_id: String,
    /// The audit writer's commit delay under load (`AuditConfig::commit_delay`).
    pub audit_commit_delay: Duration,
    /// Limits of the HTTP application.
    pub settings: Settings,
    sources: BTreeMap<&'static str, (String, Source)>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &mask_url(self.database_url.expose_secret()))
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The database URL (may contain a password: do not log it; see [`Config::masked_database_url`]).
    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// The database URL with any password masked.
    pub fn masked_database_url(&self) -> String {
        mask_url(self.database_url.expose_secret())
    }

    /// The effective configuration as TOML, one key per line with its source, secrets masked.
    pub fn show(&self) -> String {
        let mut out = String::from("# effective kentei-vault configuration (secrets masked)\n");
        out.push_str(&format!(
            "# data_dir = {}\n",
            toml_str(&self.data_dir.display().to_string())
        ));
        for k in KEYS {
            let (value, source) = self
                .sources
                .get(k.name)
                .cloned()
                .unwrap_or_else(|| (String::new(), Source::Default));
            let shown = if k.name == "database_url" {
                mask_url(&value)
            } else {
                value
            };
            let line = if shown.is_empty() {
                format!("# {} is unset", k.name)
            } else if shown.parse::<i64>().is_ok() {
                format!("{} = {shown}", k.name)
            } else {
                format!("{} = {}", k.name, toml_str(&shown))
            };
            out.push_str(&format!("{line:<60} # {source}\n"));
        }
        out
    }

    /// Loads the configuration of `data_dir`: file, then environment (`env`), then flags.
    /// The file must exist unless `require_file` is false (used by `init`).
    pub fn load(
        data_dir: &Path,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
        require_file: bool,
    ) -> Result<Config, ConfigError> {
        let dd = data_dir.display().to_string();
        let mut raw: BTreeMap<&'static str, (String, Source)> = KEYS
            .iter()
            .map(|k| {
                (
                    k.name,
                    (k.default.replace("{data_dir}", &dd), Source::Default),
                )
            })
            .collect();
        let mut problems = Vec::new();

        let file = data_dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => read_file(&file, &text, &mut raw, &mut problems),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !require_file => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::one(format!(
                    "no configuration file at {}: run `kentei-vault init --data-dir {}` first, or pass the right --data-dir",
                    file.display(),
                    dd
                )))
            }
            Err(e) => {
                return Err(ConfigError::one(format!(
                    "cannot read {}: {e}; check that it exists and is readable by this user",
                    file.display()
                )))
            }
        }
        for k in KEYS {
            let var = format!("{ENV_PREFIX}{}", k.name.to_ascii_uppercase());
            if let Some(v) = env(&var) {
                raw.insert(k.name, (v, Source::Env(var)));
            }
        }
        let flags = [
            ("listen", "--listen", &overrides.listen),
            ("database_url", "--database-url", &overrides.database_url),
            ("tls_cert", "--tls-cert", &overrides.tls_cert),
            ("tls_key", "--tls-key", &overrides.tls_key),
        ];
        for (key, flag, v) in flags {
            if let Some(v) = v {
                raw.insert(key, (v.clone(), Source::Flag(flag)));
            }
        }
        let cfg = build(data_dir, raw, &mut problems);
        match cfg {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(ConfigError { problems }),
        }
    }
}

fn read_file(
    file: &Path,
    text: &str,
    raw: &mut BTreeMap<&'static str, (String, Source)>,
    problems: &mut Vec<String>,
) {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            problems.push(format!(
                "{} is not valid TOML{at}: {}; write `key = value` lines as in docs/configuration.md",
                file.display(),
                e.message()
            ));
            return;
        }
    };
    for (key, value) in table {
        let Some(k) = KEYS.iter().find(|k| k.name == key) else {
            problems.push(format!(
                "unknown key `{key}` in {}; known keys: {}",
                file.display(),
                KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        let s = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            _ => {
                problems.push(format!(
                    "`{key}` in {} must be a string or a whole number",
                    file.display()
                ));
                continue;
            }
        };
        raw.insert(k.name, (s, Source::File(file.to_owned())));
    }
}

fn build(
    data_dir: &Path,
    raw: BTreeMap<&'static str, (String, Source)>,
    problems: &mut Vec<String>,
) -> Option<Config> {
    let get = |k: &str| {
        raw.get(k)
            .cloned()
            .unwrap_or((String::new(), Source::Default))
    };
    let mut num = |k: &'static str, lo: u64, hi: u64| -> u64 {
        let (v, src) = get(k);
        match v.trim().parse::<u64>() {
            Ok(n) if (lo..=hi).contains(&n) => n,
            _ => {
                problems.push(format!(
                    "`{k}` (from {src}) must be a whole number from {lo} to {hi}"
                ));
                lo
            }
        }
    };
    let max_body = num("max_body_bytes", 1024, 64 * 1024 * 1024);
    let req_timeout = num("request_timeout_secs", 1, 3600);
    let hdr_timeout = num("header_read_timeout_secs", 1, 300);
    let tls_timeout = num("tls_handshake_timeout_secs", 1, 300);
    let max_conc = num("max_concurrent_requests", 1, 100_000);
    let fail_limit = num("auth_failure_limit", 1, 100_000);
    let fail_window = num("auth_failure_window_secs", 1, 86_400);
    let page_max = num("page_size_max", 1, 10_000);
    let page_default = num("page_size_default", 1, 10_000);
    let token_days = num("token_lifetime_days", 1, 3650);
    let boot_hours = num("bootstrap_token_lifetime_hours", 1, 8760);
    let grace = num("shutdown_grace_secs", 0, 3600);
    let db_conns = num("db_max_connections", 1, 1000);
    let kek_age = num("kek_max_age_days", 0, 3650);
    let commit_delay = num("audit_commit_delay_us", 0, 100_000);
    if page_default > page_max {
        problems.push(format!(
            "`page_size_default` (from {}) must not exceed `page_size_max` ({page_max})",
            get("page_size_default").1
        ));
    }

    let (listen_s, listen_src) = get("listen");
    let listen = match listen_s.trim().parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(format!(
                "`listen` (from {listen_src}) must be IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"
            ));
            None
        }
    };

    let (db, db_src) = get("database_url");
    if !(db.starts_with("sqlite:") || db.starts_with("postgres:") || db.starts_with("postgresql:"))
    {
        problems.push(format!(
            "`database_url` (from {db_src}) must start with sqlite:// or postgres://"
        ));
    }

    let (log_level, log_src) = get("log_level");
    if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
        problems.push(format!(
            "`log_level` (from {log_src}) must be one of error, warn, info, debug, trace"
        ));
    }

    let path_of = |k: &str| -> Option<PathBuf> {
        let (v, _) = get(k);
        (!v.trim().is_empty()).then(|| PathBuf::from(v.trim()))
    };
    let tls = match (path_of("tls_cert"), path_of("tls_key")) {
        (None, None) => None,
        (Some(c), Some(k)) => {
            for (key, p) in [("tls_cert", &c), ("tls_key", &k)] {
                if !p.is_file() {
                    problems.push(format!(
                        "`{key}` (from {}) names {}, which is not a readable file",
                        get(key).1,
                        p.display()
                    ));
                }
            }
            Some((c, k))
        }
        _ => {
            problems.push(
                "`tls_cert` and `tls_key` must be given together (both for HTTPS, neither for HTTP)"
                    .into(),
            );
            None
        }
    };
    let policy_file = path_of("policy_file");
    if let Some(p) = &policy_file {
        if !p.is_file() {
            problems.push(format!(
                "`policy_file` (from {}) names {}, which is not a readable file",
                get("policy_file").1,
                p.display()
            ));
        }
    }
    let keyring_path = path_of("keyring_path").unwrap_or_else(|| data_dir.join("keys/keyring"));
    let (audit_chain_id, chain_src) = get("audit_chain_id");
    if !valid_chain_id(&audit_chain_id) {
        problems.push(format!(
            "`audit_chain_id` (from {chain_src}) must be 1 to 64 characters of a-z, 0-9, '_', '.', '-'"
        ));
    }

    let listen = listen?;
    Some(Config {
        data_dir: data_dir.to_owned(),
        listen,
        database_url: SecretString::from(db),
        keyring_path,
        policy_file,
        tls,
        log_level,
        header_read_timeout: Duration::from_secs(hdr_timeout),
        tls_handshake_timeout: Duration::from_secs(tls_timeout),
        bootstrap_lifetime: chrono::Duration::hours(i64::try_from(boot_hours).unwrap_or(168)),
        shutdown_grace: Duration::from_secs(grace),
        db_max_connections: u32::try_from(db_conns).unwrap_or(8),
        kek_max_age_days: u32::try_from(kek_age).ok().filter(|d| *d > 0),
        audit_chain_id,
        audit_commit_delay: Duration::from_micros(commit_delay),
        settings: Settings {
            max_body_bytes: usize::try_from(max_body).unwrap_or(1024 * 1024),
            request_timeout: Duration::from_secs(req_timeout),
            max_concurrent_requests: usize::try_from(max_conc).unwrap_or(256),
            auth_failure_limit: u32::try_from(fail_limit).unwrap_or(10),
            auth_failure_window: Duration::from_secs(fail_window),
            page_size_default: u32::try_from(page_default).unwrap_or(100),
            page_size_max: u32::try_from(page_max).unwrap_or(500),
            token_lifetime: chrono::Duration::days(i64::try_from(token_days).unwrap_or(90)),
        },
        sources: raw,
    })
}

/// The audit log's rule for chain ids.
fn valid_chain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
}

impl Config {
    /// The checkpoint file this instance's audit log appends to:
    /// `{data_dir}/audit/checkpoints.jsonl`.
    pub fn checkpoint_file(&self) -> PathBuf {
        self.audit_dir().join("checkpoints.jsonl")
    }

    /// The directory of the audit checkpoint files: `{data_dir}/audit`.
    pub fn audit_dir(&self) -> PathBuf {
        self.data_dir.join("audit")
    }
}

/// Quotes a string as a TOML basic string.
pub(crate) fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Masks the password of a URL (`postgres://user:****@host/db`) and any
/// `password=` query parameter.
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let auth_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..auth_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let user = userinfo[..colon].to_owned();
                out.replace_range(rest_start..rest_start + at, &format!("{user}:****"));
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
                _ => kv.to_owned(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn dir_with(contents: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(CONFIG_FILE), contents).unwrap();
        d
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let d = dir_with("");
        let c = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert_eq!(c.settings.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn env_overrides_file_and_flag_overrides_env() {
        let d = dir_with("listen = \"127.0.0.1:1000\"\nmax_body_bytes = 4096\n");
        let env = |k: &str| match k {
            "KENTEI_VAULT_LISTEN" => Some("127.0.0.1:2000".to_owned()),
            "KENTEI_VAULT_MAX_BODY_BYTES" => Some("8192".to_owned()),
            _ => None,
        };
        let c = Config::load(d.path(), &Overrides::default(), &env, true).unwrap();
        assert_eq!(c.listen.port(), 2000);
        assert_eq!(c.settings.max_body_bytes, 8192);
        let o = Overrides {
            listen: Some("127.0.0.1:3000".into()),
            ..Overrides::default()
        };
        let c = Config::load(d.path(), &o, &env, true).unwrap();
        assert_eq!(c.listen.port(), 3000);
    }

    #[test]
    fn bad_values_are_all_reported_with_key_and_source() {
        let d = dir_with("listen = \"everywhere\"\nmax_body_bytes = 5\ncolour = \"red\"\n");
        let e = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("`listen` (from file"), "{text}");
        assert!(text.contains("`max_body_bytes`"), "{text}");
        assert!(text.contains("unknown key `colour`"), "{text}");
        assert!(
            !text.contains("everywhere"),
            "values are not repeated: {text}"
        );
    }

    #[test]
    fn audit_commit_delay_defaults_to_a_millisecond_and_may_be_turned_off() {
        let d = dir_with("");
        let c = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap();
        assert_eq!(c.audit_commit_delay, Duration::from_millis(1));
        assert_eq!(
            c.audit_commit_delay,
            vault_core::audit::DEFAULT_COMMIT_DELAY,
            "the server's default is the audit writer's"
        );
        let d = dir_with("audit_commit_delay_us = 0\n");
        let c = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap();
        assert_eq!(c.audit_commit_delay, Duration::ZERO);
        let d = dir_with("audit_commit_delay_us = 100001\n");
        let e = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap_err();
        assert!(e.to_string().contains("`audit_commit_delay_us`"), "{e}");
    }

    #[test]
    fn missing_file_says_to_run_init() {
        let d = tempfile::tempdir().unwrap();
        let e = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap_err();
        assert!(e.to_string().contains("kentei-vault init"));
    }

    #[test]
    fn tls_needs_both_files() {
        let d = dir_with("tls_cert = \"/nonexistent/cert.pem\"\n");
        let e = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap_err();
        assert!(e.to_string().contains("together"));
    }

    #[test]
    fn show_masks_database_password() {
        let d = dir_with(
            "database_url = \"postgres://vault:hunter2@db.example:5432/vault?password=hunter2\"\n",
        );
        let c = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap();
        let shown = c.show();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://vault:****@db.example:5432/vault"),
            "{shown}"
        );
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn audit_chain_id_defaults_and_refuses_upper_case() {
        let d = dir_with("");
        let c = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap();
        assert_eq!(c.audit_chain_id, "instance-1");
        assert_eq!(
            c.checkpoint_file(),
            d.path().join("audit/checkpoints.jsonl")
        );
        let d = dir_with("audit_chain_id = \"Host A\"\n");
        let e = Config::load(d.path(), &Overrides::default(), &no_env, true).unwrap_err();
        assert!(e.to_string().contains("`audit_chain_id`"), "{e}");
    }

    #[test]
    fn mask_leaves_urls_without_password_alone() {
        assert_eq!(mask_url("sqlite:///var/vault.db"), "sqlite:///var/vault.db");
        assert_eq!(
            mask_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}

#[cfg(test)]
mod doc_tests {
    use super::KEYS;

    #[test]
    fn every_key_is_documented_in_docs_configuration_md() {
        let doc = include_str!("../../docs/configuration.md");
        for k in KEYS {
            assert!(
                doc.contains(&format!("| `{}` |", k.name)),
                "{} is not documented",
                k.name
            );
        }
    }
}
