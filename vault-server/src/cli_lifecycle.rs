//! The operator commands of `kentei-vault`: `keys status|rotate|resume|destroy`,
//! `retention plan|list|show|approve|execute|certificate|policy-check`,
//! `holds place|release|list`, `backup --to FILE`, `restore --from FILE`.
//!
//! Each command (except `restore`, which runs with the vault stopped) acts as an
//! account of the vault named by `--as ACCOUNT_ID`: the account must be active and its
//! roles must grant the capability in the policy; the lifecycle service audits the
//! action in the chain `cli` (checkpoints in `<data dir>/audit/cli-checkpoints.jsonl`).
//! Output is JSON, one object per line; nothing printed is personal data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;
use uuid::Uuid;
use vault_core::accounts::{AccountId, AccountStatus, Accounts};
use vault_core::audit::{AuditConfig, AuditLog};
use vault_core::crypto::KeyProvider;
use vault_core::lifecycle::{
    reapply_shred_list, restore_sqlite, Lifecycle, LifecycleConfig, LifecycleError, ManagedKeyring,
    DEFAULT_WRAP_LIMIT,
};
use vault_core::retention::today_in_japan;
use vault_core::store::{connect, Backend, ConnectOptions};
use vault_core::vault::Actor;
use vault_policy::Policy;

use crate::cli::CliError;
use crate::config::{Config, Overrides};

/// Where the vault is and who acts.
#[derive(Debug, Args)]
pub(crate) struct Session {
    /// The data directory (config file, SQLite database, keys).
    #[arg(long, env = "KENTEI_VAULT_DATA_DIR", value_name = "DIR")]
    data_dir: PathBuf,
    /// Database URL (sqlite://PATH or postgres://…); overrides the config file.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The account the command acts as (its id); its roles decide what is allowed.
    #[arg(long = "as", value_name = "ACCOUNT_ID")]
    account: String,
}

/// `keys …`
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCmd {
    /// Versions, states, data-key counts, usage, age and rotation jobs.
    Status {
        #[command(flatten)]
        session: Session,
    },
    /// Add a new version of KEY (general, my_number, blind_index) and run the re-wrap
    /// (or re-index) job to the end.
    Rotate {
        #[command(flatten)]
        session: Session,
        /// The key id.
        key: String,
    },
    /// Resume every unfinished rotation job.
    Resume {
        #[command(flatten)]
        session: Session,
    },
    /// Destroy VERSION of KEY once nothing depends on it.
    Destroy {
        #[command(flatten)]
        session: Session,
        /// The key id.
        key: String,
        /// The version to destroy.
        version: u32,
    },
}

/// `retention …`
#[derive(Debug, Subcommand)]
pub(crate) enum RetentionCmd {
    /// Make a plan (dry run) as of a day (default: today in Japan).
    Plan {
        #[command(flatten)]
        session: Session,
        /// The day periods are evaluated for (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// List the plans.
    List {
        #[command(flatten)]
        session: Session,
    },
    /// Show one plan (ids and counts).
    Show {
        #[command(flatten)]
        session: Session,
        /// Plan id.
        plan: Uuid,
    },
    /// Approve a plan (second person, role retention_approver).
    Approve {
        #[command(flatten)]
        session: Session,
        /// Plan id.
        plan: Uuid,
    },
    /// Execute an approved plan (resumes an interrupted run).
    Execute {
        #[command(flatten)]
        session: Session,
        /// Plan id.
        plan: Uuid,
    },
    /// Print the signed erasure certificate of an executed plan.
    Certificate {
        #[command(flatten)]
        session: Session,
        /// Plan id.
        plan: Uuid,
    },
    /// Verify a signed erasure certificate (JSON file) with the keyring's audit key.
    Verify {
        /// The data directory.
        #[arg(long, env = "KENTEI_VAULT_DATA_DIR", value_name = "DIR")]
        data_dir: PathBuf,
        /// The certificate file.
        file: PathBuf,
    },
    /// Count the records a new policy file would make due earlier than the one in force.
    PolicyCheck {
        #[command(flatten)]
        session: Session,
        /// The proposed policy file.
        file: PathBuf,
    },
}

/// `holds …`
#[derive(Debug, Subcommand)]
pub(crate) enum HoldsCmd {
    /// Place a legal hold on subjects.
    Place {
        #[command(flatten)]
        session: Session,
        /// Subject id (repeat for several).
        #[arg(long = "subject", required = true)]
        subjects: Vec<Uuid>,
        /// Case reference (no personal data).
        #[arg(long)]
        reason: String,
    },
    /// Release a hold.
    Release {
        #[command(flatten)]
        session: Session,
        /// Hold id.
        hold: Uuid,
    },
    /// List the holds.
    List {
        #[command(flatten)]
        session: Session,
    },
}

/// `restore --from FILE`: the vault must be stopped.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The data directory.
    #[arg(long, env = "KENTEI_VAULT_DATA_DIR", value_name = "DIR")]
    data_dir: PathBuf,
    /// Database URL; overrides the config file.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The SQLite backup to restore.
    #[arg(long, value_name = "FILE", required_unless_present = "reshred_only")]
    from: Option<PathBuf>,
    /// Only erase again what the shred list names (after a pg_restore).
    #[arg(long)]
    reshred_only: bool,
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn config(data_dir: &Path, database_url: Option<String>) -> Result<Config, CliError> {
    let dir = std::fs::canonicalize(data_dir).map_err(|_| {
        CliError::Usage(format!(
            "data directory {} does not exist: run `kentei-vault init --data-dir {}` first",
            data_dir.display(),
            data_dir.display()
        ))
    })?;
    let overrides = Overrides {
        database_url,
        ..Overrides::default()
    };
    Ok(Config::load(&dir, &overrides, &env_var, true)?)
}

async fn backend_of(cfg: &Config) -> Result<Backend, CliError> {
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

fn keyring_of(cfg: &Config) -> Result<Arc<ManagedKeyring>, CliError> {
    if std::env::var_os(crate::keyring::KEYRING_ENV).is_some() {
        return Err(CliError::Usage(format!(
            "key operations need the key file; unset {} and use {}",
            crate::keyring::KEYRING_ENV,
            cfg.keyring_path.display()
        )));
    }
    ManagedKeyring::open(&cfg.keyring_path, DEFAULT_WRAP_LIMIT)
        .map(Arc::new)
        .map_err(|e| CliError::Runtime(format!("cannot load the keyring: {e}")))
}

/// The managed keyring `serve` runs on when the keyring is a key file (`None` when it
/// comes from the environment: then keys cannot be rotated at run time).
pub(crate) fn managed_keyring(cfg: &Config) -> Result<Option<Arc<ManagedKeyring>>, CliError> {
    if std::env::var_os(crate::keyring::KEYRING_ENV).is_some() {
        return Ok(None);
    }
    keyring_of(cfg).map(Some)
}

/// Starts the lifecycle service of a serving vault, attaches it to the state (for the
/// key and retention routes) and starts its background jobs (re-wrap and re-index,
/// every 30 s). Returns the background task.
pub(crate) async fn attach_lifecycle(
    state: &crate::state::AppState,
    keys: Arc<ManagedKeyring>,
    policy: Arc<Policy>,
    audit: AuditLog,
    kek_max_age_days: Option<u32>,
) -> Result<tokio::task::JoinHandle<()>, CliError> {
    let life = Lifecycle::start(
        state.backend().clone(),
        keys,
        policy,
        audit,
        LifecycleConfig {
            kek_max_age_days,
            ..LifecycleConfig::default()
        },
    )
    .await
    .map(Arc::new)
    .map_err(|e| CliError::Runtime(format!("cannot start key rotation and retention: {e}")))?;
    let task = life.spawn_background(std::time::Duration::from_secs(30));
    state.set_lifecycle(life);
    Ok(task)
}

fn policy_of(cfg: &Config) -> Result<Policy, CliError> {
    match &cfg.policy_file {
        None => Ok(Policy::default_policy()),
        Some(p) => Policy::load(p)
            .map_err(|e| CliError::Usage(format!("the policy_file is not a valid policy:\n{e}"))),
    }
}

/// An opened lifecycle service acting as one account.
struct Opened {
    life: Lifecycle,
    actor: Actor,
    backend: Backend,
    audit: AuditLog,
}

impl Opened {
    async fn close(self) {
        self.audit.close().await;
        self.backend.close().await;
    }
}

async fn open(session: Session) -> Result<Opened, CliError> {
    let cfg = config(&session.data_dir, session.database_url)?;
    let account_id: AccountId = session
        .account
        .parse()
        .map_err(|_| CliError::Usage("--as takes an account id (UUID)".into()))?;
    let policy = policy_of(&cfg)?;
    let keys = keyring_of(&cfg)?;
    let backend = backend_of(&cfg).await?;
    let account = Accounts::new(backend.clone())
        .get(account_id)
        .await
        .map_err(runtime)?
        .filter(|a| a.status == AccountStatus::Active)
        .ok_or_else(|| CliError::Runtime("no active account with that id".into()))?;
    let audit_dir = cfg.data_dir.join("audit");
    std::fs::create_dir_all(&audit_dir).map_err(runtime)?;
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keys.audit_signer()),
        AuditConfig::new("cli", audit_dir.join("cli-checkpoints.jsonl")),
    )
    .await
    .map_err(|e| CliError::Runtime(format!("cannot start the audit log: {e}")))?;
    let life = Lifecycle::start(
        backend.clone(),
        keys,
        Arc::new(policy),
        audit.clone(),
        LifecycleConfig::default(),
    )
    .await
    .map_err(runtime)?;
    let actor = Actor {
        id: account.id.to_string(),
        roles: account.roles.clone(),
        tenants: account.tenants.clone(),
        token_id: None,
        request_id: format!("cli-{}", Uuid::new_v4().simple()),
        source: None,
    };
    Ok(Opened {
        life,
        actor,
        backend,
        audit,
    })
}

fn runtime(e: impl std::fmt::Display) -> CliError {
    CliError::Runtime(e.to_string())
}

fn refused(e: LifecycleError) -> CliError {
    CliError::Runtime(e.to_string())
}

fn print(v: &impl serde::Serialize) -> Result<(), CliError> {
    println!("{}", serde_json::to_string(v).map_err(runtime)?);
    Ok(())
}

/// Runs a `keys` command.
pub(crate) async fn keys(cmd: KeysCmd) -> Result<(), CliError> {
    match cmd {
        KeysCmd::Status { session } => {
            let o = open(session).await?;
            let r = o.life.key_status(&o.actor).await;
            o.close().await;
            print(&r.map_err(refused)?)
        }
        KeysCmd::Rotate { session, key } => {
            let o = open(session).await?;
            let r = async {
                let started = o.life.rotate_key(&o.actor, &key).await?;
                print(&started).map_err(|_| LifecycleError::Invalid("output"))?;
                run_with_progress(&o.life).await
            }
            .await;
            o.close().await;
            for job in r.map_err(refused)? {
                print(&job)?;
            }
            Ok(())
        }
        KeysCmd::Resume { session } => {
            let o = open(session).await?;
            // Resuming needs the same right as starting.
            let r = async {
                o.life.key_status(&o.actor).await?;
                run_with_progress(&o.life).await
            }
            .await;
            o.close().await;
            for job in r.map_err(refused)? {
                print(&job)?;
            }
            Ok(())
        }
        KeysCmd::Destroy {
            session,
            key,
            version,
        } => {
            let o = open(session).await?;
            let r = o.life.destroy_key(&o.actor, &key, version).await;
            o.close().await;
            r.map_err(refused)?;
            print(&json!({"key": key, "version": version, "state": "destroyed"}))
        }
    }
}

/// Runs a `retention` command.
pub(crate) async fn retention(cmd: RetentionCmd) -> Result<(), CliError> {
    match cmd {
        RetentionCmd::Plan { session, as_of } => {
            let o = open(session).await?;
            let as_of = as_of.unwrap_or_else(|| today_in_japan(chrono::Utc::now()));
            let r = o.life.create_plan(&o.actor, as_of).await;
            o.close().await;
            let p = r.map_err(refused)?;
            print(&json!({
                "plan_id": p.plan.id,
                "as_of": p.plan.as_of,
                "digest": p.plan.digest,
                "records": p.plan.record_count(),
                "rules": p.plan.rules.iter().map(|r| json!({
                    "rule": r.rule,
                    "target": r.target,
                    "action": r.action,
                    "counts": r.counts,
                    "by_prefecture": r.by_prefecture,
                })).collect::<Vec<_>>(),
            }))
        }
        RetentionCmd::List { session } => {
            let o = open(session).await?;
            let r = o.life.list_plans(&o.actor).await;
            o.close().await;
            for p in r.map_err(refused)? {
                print(&p)?;
            }
            Ok(())
        }
        RetentionCmd::Show { session, plan } => {
            let o = open(session).await?;
            let r = o.life.get_plan(&o.actor, plan).await;
            o.close().await;
            print(&r.map_err(refused)?)
        }
        RetentionCmd::Approve { session, plan } => {
            let o = open(session).await?;
            let r = o.life.approve_plan(&o.actor, plan).await;
            o.close().await;
            let p = r.map_err(refused)?;
            print(&json!({"plan_id": plan, "state": p.state, "approval": p.approval}))
        }
        RetentionCmd::Execute { session, plan } => {
            let o = open(session).await?;
            let r = o.life.execute_plan(&o.actor, plan).await;
            o.close().await;
            let p = r.map_err(refused)?;
            print(&json!({
                "plan_id": plan,
                "state": p.state,
                "certificate_seq": p.certificate_seq,
            }))
        }
        RetentionCmd::Certificate { session, plan } => {
            let o = open(session).await?;
            let r = o.life.certificate(&o.actor, plan).await;
            o.close().await;
            println!("{}", r.map_err(refused)?);
            Ok(())
        }
        RetentionCmd::Verify { data_dir, file } => {
            let cfg = config(&data_dir, None)?;
            let keys = keyring_of(&cfg)?;
            let text = std::fs::read_to_string(&file).map_err(runtime)?;
            match vault_core::retention::read_verified_certificate(
                text.trim(),
                &keys.audit_signer().public_key(),
            ) {
                Ok(cert) => print(&json!({
                    "verified": true,
                    "plan_id": cert.plan_id,
                    "subjects": cert.subject_ids().len(),
                    "records": cert.record_ids().len(),
                    "audit_seq_range": cert.audit_seq_range,
                })),
                Err(e) => Err(CliError::Runtime(format!(
                    "the certificate does not verify: {e}"
                ))),
            }
        }
        RetentionCmd::PolicyCheck { session, file } => {
            let new = Policy::load(&file)
                .map_err(|e| CliError::Usage(format!("invalid policy:\n{e}")))?;
            let o = open(session).await?;
            let r = o
                .life
                .shortening_check(&new, today_in_japan(chrono::Utc::now()))
                .await;
            o.close().await;
            let check = r.map_err(refused)?;
            print(&json!({
                "records_due_earlier": check.records(),
                "due_now": check.due_now(),
                "rules": check.impacts.iter().map(|i| json!({
                    "rule": i.rule,
                    "target": i.target,
                    "new_period": i.new_period.to_string(),
                    "records": i.records.len(),
                    "due_now": i.due_now(),
                })).collect::<Vec<_>>(),
            }))
        }
    }
}

/// Runs a `holds` command.
pub(crate) async fn holds(cmd: HoldsCmd) -> Result<(), CliError> {
    match cmd {
        HoldsCmd::Place {
            session,
            subjects,
            reason,
        } => {
            let o = open(session).await?;
            let r = o.life.place_hold(&o.actor, &subjects, &reason).await;
            o.close().await;
            print(&json!({"hold_id": r.map_err(refused)?, "subjects": subjects.len()}))
        }
        HoldsCmd::Release { session, hold } => {
            let o = open(session).await?;
            let r = o.life.release_hold(&o.actor, hold).await;
            o.close().await;
            r.map_err(refused)?;
            print(&json!({"hold_id": hold, "released": true}))
        }
        HoldsCmd::List { session } => {
            let o = open(session).await?;
            let r = o.life.list_holds(&o.actor).await;
            o.close().await;
            for h in r.map_err(refused)? {
                print(&h)?;
            }
            Ok(())
        }
    }
}

/// Runs `backup --to FILE`.
pub(crate) async fn backup(session: Session, to: PathBuf) -> Result<(), CliError> {
    let o = open(session).await?;
    let r = o.life.backup(&o.actor, &to).await;
    o.close().await;
    r.map_err(refused)?;
    print(&json!({"backup": to.display().to_string()}))
}

/// Runs `restore --from FILE` (or `--reshred-only`).
pub(crate) async fn restore(args: RestoreArgs) -> Result<(), CliError> {
    let cfg = config(&args.data_dir, args.database_url)?;
    let keys = keyring_of(&cfg)?;
    let report = if args.reshred_only {
        let backend = backend_of(&cfg).await?;
        let r = reapply_shred_list(&backend, &keys).await;
        backend.close().await;
        r
    } else {
        let from = args
            .from
            .ok_or_else(|| CliError::Usage("--from FILE is required".into()))?;
        let db_path = cfg
            .database_url()
            .strip_prefix("sqlite://")
            .map(PathBuf::from)
            .ok_or_else(|| {
                CliError::Usage(
                    "restore --from works on SQLite; for PostgreSQL use pg_restore, then \
                     restore --reshred-only"
                        .into(),
                )
            })?;
        restore_sqlite(&from, &db_path, &keys).await
    }
    .map_err(refused)?;
    let archived = if args.reshred_only {
        Vec::new()
    } else {
        archive_checkpoint_files(&cfg.data_dir.join("audit"))?
    };
    print(&json!({
        "restored": true,
        "reshredded": report.reshredded,
        "archived_checkpoint_files": archived,
    }))
}

/// After a restore the audit chains in the database end where the backup was taken,
/// while the checkpoint files remember later events, and the audit log would refuse to
/// start. The files are kept, renamed, as the evidence of what the restore rolled back.
fn archive_checkpoint_files(audit_dir: &Path) -> Result<Vec<String>, CliError> {
    let Ok(entries) = std::fs::read_dir(audit_dir) else {
        return Ok(Vec::new());
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "jsonl") {
            let mut to = path.clone().into_os_string();
            to.push(format!(".before-restore-{stamp}"));
            std::fs::rename(&path, &to).map_err(runtime)?;
            out.push(PathBuf::from(to).display().to_string());
        }
    }
    Ok(out)
}

/// Runs the rotation jobs; on a terminal, a progress bar on stderr shows the keys
/// re-wrapped (or records re-indexed) so far. Output on stdout stays JSON either way.
async fn run_with_progress(
    life: &Lifecycle,
) -> Result<Vec<vault_core::lifecycle::RotationProgress>, LifecycleError> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return life.run_rotations().await;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let run = life.run_rotations();
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                if let Ok(jobs) = life.running_jobs().await {
                    let total: u64 = jobs.iter().map(|j| j.total).sum();
                    let done: u64 = jobs.iter().map(|j| j.done).sum();
                    if let Some(j) = jobs.first() {
                        bar.set_message(format!("re-wrapping to {} v{}", j.key_id, j.to_version));
                    }
                    bar.set_length(total.max(done));
                    bar.set_position(done);
                }
            }
        }
    };
    bar.finish_and_clear();
    result
}
