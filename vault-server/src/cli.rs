//! The `kentei-vault` command line: `init`, `serve`, `migrate`, `config show`,
//! `accounts create|disable|list`, `audit verify`, `policy check|explain|diff`, and the
//! operator commands of `cli_lifecycle` (`keys`, `retention`, `holds`, `backup`, `restore`).
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::sync::Arc;

use vault_core::accounts::{AccountId, Accounts, CreatedBy, NewAccount};
use vault_core::audit::{AuditConfig, AuditLog};
use vault_core::crypto::KeyProvider as _;
use vault_core::store::{connect, open_store, Backend, ConnectOptions};
use vault_core::vault::Vault;

use vault_policy::Policy;

use crate::authz::PolicyView;
use crate::config::{Config, ConfigError, Overrides, CONFIG_FILE, KEYS};
use crate::server::{self, ServeOptions};
use crate::state::{AppState, StateParts};

/// `kentei-vault`: records vault for 技能検定 examinee and ものづくりマイスター data.
#[derive(Debug, Parser)]
#[command(name = "kentei-vault", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DataDir {
    /// The data directory (config file, SQLite database, keys).
    #[arg(long, env = "KENTEI_VAULT_DATA_DIR", value_name = "DIR")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct DbFlags {
    /// Database URL (sqlite://PATH or postgres://…); overrides the config file.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data directory: config, SQLite database, keyring and a single-use
    /// bootstrap token, printed as `{"bootstrap_token": "..."}`.
    Init {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
    },
    /// Run the HTTP service.
    Serve {
        #[command(flatten)]
        dir: DataDir,
        /// Address to listen on (IP:PORT; port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        #[command(flatten)]
        db: DbFlags,
        /// PEM certificate chain for HTTPS (with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<String>,
        /// PEM private key for HTTPS (with --tls-cert).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<String>,
        /// Create the data directory first (as `init` does, printing the bootstrap token)
        /// when it does not exist yet or is empty; an existing vault is used as it is.
        #[arg(long)]
        init: bool,
        /// Put in force a policy that shortens a retention period compared with the policy
        /// this vault last ran with (the acknowledgement is written to the audit log).
        #[arg(long)]
        accept_shorter_retention: bool,
    },
    /// Apply the database migrations.
    Migrate {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
    },
    /// Show the effective configuration (secrets masked).
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Manage accounts directly in the database (operators).
    Accounts {
        #[command(subcommand)]
        cmd: AccountsCmd,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Key status, rotation and destruction (operators; docs/operations.md).
    Keys {
        #[command(subcommand)]
        cmd: crate::cli_lifecycle::KeysCmd,
    },
    /// Retention plans, approval, execution and erasure certificates.
    Retention {
        #[command(subcommand)]
        cmd: crate::cli_lifecycle::RetentionCmd,
    },
    /// Legal holds on subjects.
    Holds {
        #[command(subcommand)]
        cmd: crate::cli_lifecycle::HoldsCmd,
    },
    /// Take an online backup of the SQLite database.
    Backup {
        #[command(flatten)]
        session: crate::cli_lifecycle::Session,
        /// The backup file to write (must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a SQLite backup (vault stopped) and re-apply the shred list.
    Restore(crate::cli_lifecycle::RestoreArgs),
    /// Bulk import of an NDJSON file (resumable; progress bar on a terminal).
    Import(crate::import::ImportArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Print the effective configuration as TOML, with each value's source.
    Show {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
    },
}

#[derive(Debug, Subcommand)]
enum AccountsCmd {
    /// Create an account and print its id and first token (shown once).
    Create {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
        /// Name of the person or system.
        #[arg(long)]
        name: String,
        /// Role (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Prefecture code 01-47, or * for all (repeat for several).
        #[arg(long = "prefecture", required = true)]
        prefectures: Vec<String>,
        /// Allowed source network in CIDR notation (repeat for several; none = any).
        #[arg(long = "allowed-network")]
        allowed_networks: Vec<String>,
        /// Expiry of the account (RFC 3339).
        #[arg(long)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// Disable an account; its tokens stop working at once.
    Disable {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
        /// Account id.
        id: String,
    },
    /// Print the roster, one JSON object per line.
    List {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// Verify the audit hash chains, the signed checkpoints and the checkpoint files
    /// (every `*.jsonl` in DIR/audit). Exit 0 when they hold; otherwise exit 1 naming
    /// the first broken seq and the problem.
    Verify {
        #[command(flatten)]
        dir: DataDir,
        #[command(flatten)]
        db: DbFlags,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Validate a policy file.
    Check {
        /// The policy TOML file.
        file: PathBuf,
    },
    /// Print the role x purpose x field-class matrix.
    Explain {
        /// Only this role.
        #[arg(long)]
        role: Option<String>,
        /// Only this purpose.
        #[arg(long)]
        purpose: Option<String>,
        /// Policy file (default: the built-in policy).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Show what changes between two policy files (grants, retention periods).
    Diff {
        /// The current policy.
        old: PathBuf,
        /// The proposed policy.
        new: PathBuf,
    },
}

/// A failed command: usage/configuration errors exit 2, runtime failures 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Wrong arguments or configuration (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The command failed while running (exit 1).
    #[error("{0}")]
    Runtime(String),
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Usage(e.to_string())
    }
}

impl CliError {
    fn runtime(e: impl std::fmt::Display) -> CliError {
        CliError::Runtime(e.to_string())
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

/// Parses the process's command line, runs the command and returns the exit code.
pub fn run() -> ExitCode {
    run_from(std::env::args_os())
}

/// Parses `args` as a command line (the first item is the program name, as in
/// [`std::env::args_os`]), runs the command on a new multi-threaded runtime and
/// returns the exit code: the `kentei-vault` binary without its own process, for tools
/// that run the real service as a child of themselves (`vault-bench http`).
///
/// Must not be called from inside an async runtime (it starts its own).
pub fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Whether `dir` is missing or empty, so `serve --init` should create the vault first.
fn data_dir_is_new(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => true,
    }
}

/// The data directory as an absolute path; it must exist.
fn existing_data_dir(dir: &Path) -> Result<PathBuf, CliError> {
    std::fs::canonicalize(dir).map_err(|_| {
        CliError::Usage(format!(
            "data directory {} does not exist: run `kentei-vault init --data-dir {}` first",
            dir.display(),
            dir.display()
        ))
    })
}

fn load_config(dir: &DataDir, overrides: &Overrides) -> Result<Config, CliError> {
    let data_dir = existing_data_dir(&dir.data_dir)?;
    Ok(Config::load(&data_dir, overrides, &env_var, true)?)
}

async fn open(cfg: &Config) -> Result<Backend, CliError> {
    let opts = ConnectOptions {
        max_connections: cfg.db_max_connections,
        ..ConnectOptions::default()
    };
    connect(cfg.database_url(), &opts).await.map_err(|e| {
        CliError::Runtime(format!(
            "cannot open the database {}: {e}",
            cfg.masked_database_url()
        ))
    })
}

fn db_overrides(db: &DbFlags) -> Overrides {
    Overrides {
        database_url: db.database_url.clone(),
        ..Overrides::default()
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

async fn dispatch(cmd: Command) -> Result<(), CliError> {
    match cmd {
        Command::Init { dir, db } => init(&dir.data_dir, db.database_url).await,
        Command::Serve {
            dir,
            listen,
            db,
            tls_cert,
            tls_key,
            init: init_first,
            accept_shorter_retention,
        } => {
            if init_first && data_dir_is_new(&dir.data_dir) {
                init(&dir.data_dir, db.database_url.clone()).await?;
            }
            let o = Overrides {
                listen,
                database_url: db.database_url,
                tls_cert,
                tls_key,
            };
            let cfg = load_config(&dir, &o)?;
            serve(cfg, accept_shorter_retention).await
        }
        Command::Migrate { dir, db } => {
            let cfg = load_config(&dir, &db_overrides(&db))?;
            let backend = open(&cfg).await?;
            print_json(&json!({"migrated": true, "database": backend.name()}));
            backend.close().await;
            Ok(())
        }
        Command::Config {
            cmd: ConfigCmd::Show { dir, db },
        } => {
            let cfg = load_config(&dir, &db_overrides(&db))?;
            print!("{}", cfg.show());
            Ok(())
        }
        Command::Accounts { cmd } => accounts(cmd).await,
        Command::Audit {
            cmd: AuditCmd::Verify { dir, db },
        } => {
            let cfg = load_config(&dir, &db_overrides(&db))?;
            audit_verify(&cfg).await
        }
        Command::Policy { cmd } => policy(cmd),
        Command::Keys { cmd } => crate::cli_lifecycle::keys(cmd).await,
        Command::Retention { cmd } => crate::cli_lifecycle::retention(cmd).await,
        Command::Holds { cmd } => crate::cli_lifecycle::holds(cmd).await,
        Command::Backup { session, to } => crate::cli_lifecycle::backup(session, to).await,
        Command::Restore(args) => crate::cli_lifecycle::restore(args).await,
        Command::Import(args) => crate::import::run(args).await,
    }
}

/// Loads a policy file for a `policy` subcommand; an invalid policy is a runtime
/// failure (exit 1) whose message names each line and problem.
fn load_policy_file(path: &Path) -> Result<Policy, CliError> {
    Policy::load(path).map_err(|e| CliError::Runtime(format!("invalid policy:\n{e}")))
}

/// The shortest age, in days, at which the policy lets audit events be pruned: the
/// `audit_event` rule's period counted generously (a year as 366 days, a month as 31),
/// so that pruning is never early; no rule or a permanent one: never.
fn audit_retention_days(policy: &Policy) -> u64 {
    let rule = policy
        .retention_rules()
        .iter()
        .find(|r| r.target() == vault_policy::RetentionTarget::AuditEvent);
    match rule.map(|r| r.period()) {
        Some(vault_policy::Period::Finite {
            years,
            months,
            days,
        }) => u64::from(years) * 366 + u64::from(months) * 31 + u64::from(days),
        // Never: the audit writer saturates the cut-off.
        _ => u64::MAX,
    }
}

/// The text of the policy in force: the policy file, or the built-in default.
fn policy_text_of(cfg: &Config) -> Result<String, CliError> {
    match &cfg.policy_file {
        None => Ok(Policy::default_policy_toml().to_owned()),
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            CliError::Usage(format!("cannot read the policy_file {}: {e}", p.display()))
        }),
    }
}

/// The policy in force for `cfg`: its `policy_file`, or the built-in default. A bad
/// policy refuses the command (exit 2) with the policy's own line-numbered messages.
fn policy_of(cfg: &Config) -> Result<PolicyView, CliError> {
    match &cfg.policy_file {
        None => Ok(PolicyView::default()),
        Some(p) => Policy::load(p)
            .map(PolicyView::new)
            .map_err(|e| CliError::Usage(format!("the policy_file is not a valid policy:\n{e}"))),
    }
}

fn policy(cmd: PolicyCmd) -> Result<(), CliError> {
    match cmd {
        PolicyCmd::Check { file } => {
            let p = load_policy_file(&file)?;
            print_json(&json!({
                "ok": true,
                "policy": p.origin(),
                "roles": p.roles().len(),
                "purposes": p.purposes().len(),
                "grants": p.grants().len(),
                "retention_rules": p.retention_rules().len(),
            }));
            Ok(())
        }
        PolicyCmd::Explain {
            role,
            purpose,
            file,
        } => {
            let p = match file {
                Some(f) => load_policy_file(&f)?,
                None => Policy::default_policy(),
            };
            print!("{}", p.explain(role.as_deref(), purpose.as_deref()));
            Ok(())
        }
        PolicyCmd::Diff { old, new } => {
            let old = load_policy_file(&old)?;
            let new = load_policy_file(&new)?;
            print!("{}", vault_policy::diff(&old, &new));
            Ok(())
        }
    }
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

async fn accounts(cmd: AccountsCmd) -> Result<(), CliError> {
    match cmd {
        AccountsCmd::Create {
            dir,
            db,
            name,
            roles,
            prefectures,
            allowed_networks,
            expires_at,
        } => {
            let cfg = load_config(&dir, &db_overrides(&db))?;
            let policy = policy_of(&cfg)?;
            if !policy.role_set_allowed(&roles) {
                return Err(CliError::Usage(
                    "invalid account: roles (separation_of_duties): a role that sees personal data \
                     and an approver role must be held by different accounts"
                        .into(),
                ));
            }
            let backend = open(&cfg).await?;
            let accounts = Accounts::new(backend.clone());
            let new = NewAccount {
                name,
                roles,
                prefectures,
                allowed_networks,
                expires_at,
            };
            let is_role = |r: &str| policy.is_role(r);
            let token_expiry = Some(Utc::now() + cfg.settings.token_lifetime);
            let r = accounts
                .create(new, &is_role, &CreatedBy::Cli(os_user()), token_expiry)
                .await;
            backend.close().await;
            let (account, token) = r.map_err(|e| match e {
                vault_core::accounts::AccountsError::Invalid(errs) => CliError::Usage(format!(
                    "invalid account: {}",
                    errs.iter()
                        .map(|e| format!("{} ({})", e.field, e.code))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                other => CliError::runtime(other),
            })?;
            print_json(&json!({
                "account_id": account.id.to_string(),
                "token": token.expose_token(),
                "token_id": token.token_id.to_string(),
                "token_expires_at": token.expires_at,
            }));
            Ok(())
        }
        AccountsCmd::Disable { dir, db, id } => {
            let id: AccountId = id
                .parse()
                .map_err(|_| CliError::Usage("the account id must be a UUID".into()))?;
            let cfg = load_config(&dir, &db_overrides(&db))?;
            let backend = open(&cfg).await?;
            let r = Accounts::new(backend.clone())
                .disable(id, &CreatedBy::Cli(os_user()))
                .await;
            backend.close().await;
            r.map_err(CliError::runtime)?;
            print_json(&json!({"account_id": id.to_string(), "status": "disabled"}));
            Ok(())
        }
        AccountsCmd::List { dir, db } => {
            let cfg = load_config(&dir, &db_overrides(&db))?;
            let backend = open(&cfg).await?;
            let accounts = Accounts::new(backend.clone());
            let mut after = None;
            loop {
                let page = accounts
                    .roster(after, 500)
                    .await
                    .map_err(CliError::runtime)?;
                for a in &page {
                    print_json(&json!({
                        "account_id": a.id.to_string(),
                        "name": a.name,
                        "roles": a.roles,
                        "prefectures": a.prefecture_codes(),
                        "allowed_networks": a.allowed_networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "status": a.status.as_str(),
                        "expires_at": a.expires_at,
                        "created_by": a.created_by,
                        "created_at": a.created_at,
                        "disabled_at": a.disabled_at,
                        "last_used_at": a.last_used_at,
                    }));
                }
                match page.last() {
                    Some(last) if page.len() == 500 => after = Some(last.id),
                    _ => break,
                }
            }
            backend.close().await;
            Ok(())
        }
    }
}

/// The config file written by `init`: every key commented out with its default, except
/// a database URL given on the command line.
fn initial_config_text(database_url: Option<&str>) -> String {
    let mut s = String::from(
        "# kentei-vault configuration (see docs/configuration.md).\n\
         # Each key can be overridden by an environment variable KENTEI_VAULT_<KEY>\n\
         # and some by command-line flags. Commented keys show their defaults.\n\n",
    );
    for k in KEYS {
        s.push_str(&format!("# {}\n", k.doc));
        match (k.name, database_url) {
            ("database_url", Some(url)) => {
                s.push_str(&format!(
                    "database_url = {}\n\n",
                    crate::config::toml_str(url)
                ));
            }
            _ => {
                let shown = if k.default.is_empty() {
                    "\"\"".to_owned()
                } else if k.default.parse::<i64>().is_ok() {
                    k.default.to_owned()
                } else {
                    crate::config::toml_str(k.default)
                };
                s.push_str(&format!("# {} = {shown}\n\n", k.name));
            }
        }
    }
    s
}

fn create_private_dir(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().mode(0o700).create(p)
}

fn write_private_file(p: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

async fn init(dir: &Path, database_url: Option<String>) -> Result<(), CliError> {
    let existed = match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::Runtime(format!(
                    "{} already exists and is not empty; init never overwrites a data directory \
                     (choose a new path, or remove the old one if it is really unused)",
                    dir.display()
                )));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(CliError::Runtime(format!(
                "{} exists and is not a directory",
                dir.display()
            )))
        }
        Err(e) => {
            return Err(CliError::Runtime(format!(
                "cannot read {}: {e}",
                dir.display()
            )))
        }
    };
    if !existed {
        create_private_dir(dir)
            .map_err(|e| CliError::Runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    let result = init_inside(dir, database_url).await;
    if result.is_err() {
        // Leave nothing half-made behind: an empty directory stays, a new one goes.
        if existed {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let token = result?;
    print_json(&json!({ "bootstrap_token": token }));
    Ok(())
}

async fn init_inside(dir: &Path, database_url: Option<String>) -> Result<String, CliError> {
    let dir = std::fs::canonicalize(dir).map_err(CliError::runtime)?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(CliError::runtime)?;
    }
    write_private_file(
        &dir.join(CONFIG_FILE),
        &initial_config_text(database_url.as_deref()),
    )
    .map_err(CliError::runtime)?;
    let cfg = Config::load(&dir, &Overrides::default(), &env_var, true)?;
    let keys_dir = cfg
        .keyring_path
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| dir.join("keys"));
    if !keys_dir.exists() {
        create_private_dir(&keys_dir).map_err(CliError::runtime)?;
    }
    crate::keyring::create_keyring(&cfg.keyring_path).map_err(CliError::runtime)?;
    create_private_dir(&cfg.audit_dir()).map_err(CliError::runtime)?;
    write_private_file(&cfg.checkpoint_file(), "").map_err(CliError::runtime)?;
    let backend = open(&cfg).await?;
    let r = Accounts::new(backend.clone())
        .create_bootstrap(cfg.bootstrap_lifetime)
        .await;
    backend.close().await;
    restrict_sqlite_files(&dir);
    let token = r.map_err(|e| match e {
        vault_core::accounts::AccountsError::BootstrapUsed => CliError::Runtime(
            "the database already has accounts or an unused bootstrap token; init creates a new vault only"
                .into(),
        ),
        other => CliError::runtime(other),
    })?;
    Ok(token.expose_token().to_owned())
}

/// The SQLite files are created with the process umask; make them owner-only (SQLite
/// gives later WAL and shared-memory files the mode of the database file).
fn restrict_sqlite_files(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    for name in ["vault.db", "vault.db-wal", "vault.db-shm"] {
        let p = dir.join(name);
        if p.exists() {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{level},sqlx=warn,hyper=warn,h2=warn,rustls=warn,tower=warn"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

/// The checkpoint files to verify: this instance's file first, then every other
/// `*.jsonl` in the audit directory (files copied from other instances).
fn checkpoint_files(cfg: &Config) -> Vec<PathBuf> {
    let own = cfg.checkpoint_file();
    let mut files = vec![own.clone()];
    if let Ok(entries) = std::fs::read_dir(cfg.audit_dir()) {
        let mut others: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p != &own && p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        others.sort();
        files.extend(others);
    }
    files
}

/// `kentei-vault audit verify`: verifies every chain against its checkpoints and the
/// checkpoint files with the keyring's audit public key.
async fn audit_verify(cfg: &Config) -> Result<(), CliError> {
    let keyring = crate::keyring::load_keyring(&cfg.keyring_path)
        .map_err(|e| CliError::Runtime(format!("cannot load the keyring: {e}")))?;
    let backend = open(cfg).await?;
    let opts = crate::routes::audit::verify_options(&keyring, &checkpoint_files(cfg));
    let r = crate::routes::audit::verify_settled(&backend, &opts).await;
    backend.close().await;
    let report = r.map_err(|e| CliError::Runtime(format!("cannot verify the audit log: {e}")))?;
    let problem = crate::routes::audit::first_problem(&report);
    print_json(&json!({
        "ok": report.ok,
        "checked": report.checked,
        "first_broken_seq": report.first_broken_seq,
        "chain": report.chain,
        "problem": problem,
        "findings": report.findings.len(),
        "checkpoint_files_read": report.checkpoint_files_read,
    }));
    if report.ok {
        return Ok(());
    }
    let at = match (report.first_broken_seq, report.chain.as_deref()) {
        (Some(seq), Some(chain)) if !chain.is_empty() => format!("at seq {seq} of chain {chain}"),
        (Some(seq), _) => format!("at seq {seq}"),
        (None, Some(chain)) if !chain.is_empty() => format!("in chain {chain}"),
        _ => "in a checkpoint file".to_owned(),
    };
    Err(CliError::Runtime(format!(
        "the audit log does not verify: {} {at}",
        problem.unwrap_or("problem")
    )))
}

async fn serve(cfg: Config, accept_shorter_retention: bool) -> Result<(), CliError> {
    init_logging(&cfg.log_level);
    let tls = match &cfg.tls {
        Some((cert, key)) => Some(server::load_tls(cert, key).map_err(CliError::Usage)?),
        None => None,
    };
    let policy = policy_of(&cfg)?;
    let keyring = crate::keyring::load_keyring(&cfg.keyring_path)
        .map_err(|e| CliError::Runtime(format!("cannot load the keyring: {e}")))?;
    // On a key file, the facade wraps through the managed keyring, which rotation
    // changes at run time (and which follows a rotation made by `kentei-vault keys`).
    let managed = crate::cli_lifecycle::managed_keyring(&cfg)?;
    let backend = open(&cfg).await?;
    if !cfg.audit_dir().exists() {
        create_private_dir(&cfg.audit_dir()).map_err(|e| {
            CliError::Runtime(format!("cannot create {}: {e}", cfg.audit_dir().display()))
        })?;
    }
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keyring.audit_signer()),
        AuditConfig::new(&cfg.audit_chain_id, cfg.checkpoint_file())
            .min_retention_days(audit_retention_days(policy.policy()))
            .commit_delay(cfg.audit_commit_delay),
    )
    .await
    .map_err(|e| CliError::Runtime(format!("cannot start the audit log: {e}")))?;
    let policy_text = policy_text_of(&cfg)?;
    if let Err(e) = crate::policy_gate::gate(
        &backend,
        &audit,
        &policy_text,
        policy.policy(),
        accept_shorter_retention,
    )
    .await
    {
        audit.close().await;
        return Err(e);
    }
    let key_provider: Arc<dyn vault_core::crypto::KeyProvider> = match &managed {
        Some(m) => m.clone(),
        None => keyring.clone(),
    };
    let vault = Vault::new(
        open_store(backend.clone()),
        key_provider,
        policy.shared(),
        audit.clone(),
    );
    let lifecycle_policy = policy.shared();
    let state = AppState::new(StateParts {
        backend: backend.clone(),
        settings: cfg.settings.clone(),
        policy,
        vault,
        keyring,
        checkpoint_files: checkpoint_files(&cfg),
    });
    let background = match managed {
        Some(m) => Some(
            crate::cli_lifecycle::attach_lifecycle(
                &state,
                m,
                lifecycle_policy,
                audit.clone(),
                cfg.kek_max_age_days,
            )
            .await?,
        ),
        None => None,
    };
    let listener = match server::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            audit.close().await;
            return Err(CliError::Runtime(format!(
                "cannot listen on {}: {e}",
                cfg.listen
            )));
        }
    };
    let addr = listener.local_addr().map_err(CliError::runtime)?;
    // Signal handlers first: a SIGTERM right after "listening" must drain, not kill.
    let shutdown = server::shutdown_signal();
    if !addr.ip().is_loopback() && tls.is_none() {
        tracing::warn!(addr = %addr, "listening beyond loopback without TLS; terminate TLS in front of the vault");
    }
    tracing::info!(
        addr = %addr,
        tls = tls.is_some(),
        database = %cfg.masked_database_url(),
        audit_chain = %cfg.audit_chain_id,
        "listening"
    );
    let opts = ServeOptions {
        tls,
        header_read_timeout: cfg.header_read_timeout,
        tls_handshake_timeout: cfg.tls_handshake_timeout,
        shutdown_grace: cfg.shutdown_grace,
    };
    let r = server::serve(listener, crate::app(state), opts, shutdown).await;
    if let Some(task) = background {
        task.abort();
    }
    // Writes what is queued and signs a final checkpoint; later appends fail closed.
    audit.close().await;
    tracing::info!("audit log closed with a final checkpoint");
    backend.close().await;
    r.map_err(CliError::runtime)?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_from_answers_the_exit_codes_of_the_command_line() {
        assert_eq!(run_from(["kentei-vault", "--version"]), ExitCode::SUCCESS);
        // Usage error: 2.
        assert_eq!(
            run_from(["kentei-vault", "serve", "--no-such-flag"]),
            ExitCode::from(2)
        );
        // Runtime failure: 1 (the policy file does not exist).
        let dir = std::env::temp_dir().join(format!("kv-run-from-{}", std::process::id()));
        let missing = dir.join("missing-policy.toml");
        assert_eq!(
            run_from([
                OsString::from("kentei-vault"),
                OsString::from("policy"),
                OsString::from("check"),
                missing.into_os_string(),
            ]),
            ExitCode::from(1)
        );
    }

    #[test]
    fn audit_events_are_kept_at_least_the_policys_ten_years() {
        // 10 years counted generously: pruning is never early.
        assert_eq!(audit_retention_days(&Policy::default_policy()), 3660);
    }

    #[test]
    fn a_policy_without_an_audit_rule_never_prunes() {
        let text = Policy::default_policy_toml();
        let start = text.find("id = \"audit_events\"").expect("audit rule");
        let block_start = text[..start].rfind("[[retention]]").expect("block");
        let block_end = text[start..]
            .find("[[retention]]")
            .map_or(text.len(), |i| start + i);
        let without = format!("{}{}", &text[..block_start], &text[block_end..]);
        let p = Policy::from_toml(&without, "test").expect("a policy without an audit rule loads");
        assert_eq!(audit_retention_days(&p), u64::MAX);
    }
}
