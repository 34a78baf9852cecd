//! `kentei-vault import`: bulk import of an NDJSON file (the format of `vault-bench
//! generate`, see `docs/performance.md`) into the vault of a data directory.
//!
//! The work is vault-core's ([`vault_core::import`]): each line validated with the
//! API's rules, checked against the policy in force (`policy_file` or the built-in one)
//! as the system actor `system:import` with role `exam_system` and purpose
//! `system_sync` (or the `--role` and `--purpose` given), sealed and indexed by the
//! facade, committed in batches with one audit event per batch (chain `import`,
//! checkpoints in `{data_dir}/audit/import-checkpoints.jsonl`), resumable: running the
//! same file again after an interruption skips what was committed.
//!
//! On a terminal a progress bar runs on standard error. Each refused line is reported
//! on standard error as `line N: FIELD: CODE` (never a value), or as NDJSON in the
//! file given with `--errors`. At the end a summary goes to standard error and, as one
//! JSON object, to standard output. Exit codes: 0 every line imported (or already
//! imported), 1 some lines refused or the import stopped, 2 usage or configuration.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use vault_core::audit::{AuditConfig, AuditLog};
use vault_core::crypto::KeyProvider;
use vault_core::import::{
    import_file, ImportObserver, ImportOptions, ImportProgress, ImportSummary, LineError,
};
use vault_core::store::{connect, open_store, ConnectOptions};
use vault_core::vault::Vault;
use vault_policy::Policy;

use crate::cli::CliError;
use crate::config::{Config, Overrides};

/// The audit chain written by imports (the server writes its own).
const IMPORT_CHAIN: &str = "import";

/// Arguments of `kentei-vault import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The NDJSON file to import.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// The data directory (config file, SQLite database, keys).
    #[arg(long, env = "KENTEI_VAULT_DATA_DIR", value_name = "DIR")]
    data_dir: PathBuf,
    /// Database URL (sqlite://PATH or postgres://…); overrides the config file.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Lines per batch (one transaction and one audit event each).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    batch_lines: usize,
    /// Write the refused lines' errors to this file as NDJSON instead of standard error.
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// The role the import acts in (`exam_system`, the existing exam systems' role, by
    /// default). It and the purpose are recorded in every import event.
    #[arg(long, default_value = vault_core::import::IMPORT_ROLE, value_name = "ROLE")]
    role: String,
    /// The purpose the import states: `system_sync` by default; `exam_administration`
    /// for examinees with employers or residence items under the default policy.
    #[arg(long, default_value = vault_core::import::IMPORT_PURPOSE, value_name = "PURPOSE")]
    purpose: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Refuses a role or purpose the policy does not know, or a purpose the role may not
/// state, before anything is opened: every line would be refused otherwise.
fn check_role_and_purpose(policy: &Policy, role: &str, purpose: &str) -> Result<(), CliError> {
    if !policy.is_known_role(role) {
        return Err(CliError::Usage(format!(
            "--role {role}: the policy has no such role"
        )));
    }
    if !policy.is_known_purpose(purpose) {
        return Err(CliError::Usage(format!(
            "--purpose {purpose}: the policy has no such purpose"
        )));
    }
    if !policy.may_state_purpose(&[role], purpose) {
        let statable = policy.statable_purposes(&[role]);
        return Err(CliError::Usage(format!(
            "--purpose {purpose}: the role {role} may not state it (it may state: {})",
            if statable.is_empty() {
                "none".to_owned()
            } else {
                statable.join(", ")
            }
        )));
    }
    Ok(())
}

/// Shows progress and reports refused lines while the import runs.
struct Reporter {
    bar: Option<ProgressBar>,
    errors: Box<dyn Write + Send>,
    as_json: bool,
    write_failed: bool,
}

impl ImportObserver for Reporter {
    fn resumed(&mut self, skipped: u64, p: &ImportProgress) {
        if let Some(bar) = &self.bar {
            bar.set_length(p.total_bytes);
            bar.set_position(p.bytes);
            if skipped > 0 {
                bar.println(format!(
                    "resuming: {skipped} lines were committed by an earlier run"
                ));
            }
        } else if skipped > 0 {
            eprintln!("resuming: {skipped} lines were committed by an earlier run");
        }
    }

    fn progress(&mut self, p: &ImportProgress) {
        if let Some(bar) = &self.bar {
            bar.set_position(p.bytes);
            bar.set_message(format!(
                "{} imported, {} refused",
                p.imported_lines, p.rejected_lines
            ));
        }
    }

    fn line_error(&mut self, e: &LineError) {
        let text = if self.as_json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            e.to_string()
        };
        match (&self.bar, self.as_json) {
            (Some(bar), false) => bar.println(text),
            _ => {
                if writeln!(self.errors, "{text}").is_err() {
                    self.write_failed = true;
                }
            }
        }
    }
}

fn reporter(args: &ImportArgs) -> Result<Reporter, CliError> {
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let (errors, as_json): (Box<dyn Write + Send>, bool) = match &args.errors {
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", path.display())))?;
            (Box::new(std::io::BufWriter::new(f)), true)
        }
        None => (Box::new(std::io::stderr()), false),
    };
    Ok(Reporter {
        bar,
        errors,
        as_json,
        write_failed: false,
    })
}

fn print_summary(s: &ImportSummary) {
    let c = &s.counts;
    eprintln!(
        "imported {} lines ({} examinees, {} applications, {} results, {} qualifications, \
         {} meisters, {} activities) in {} batches, {:.1} s; {} refused, {} skipped \
         (committed earlier), {} blank; {} audit events",
        s.imported_lines,
        c.examinees,
        c.applications,
        c.results,
        c.qualifications,
        c.meisters,
        c.activities,
        s.batches,
        s.elapsed_ms as f64 / 1000.0,
        s.rejected_lines,
        s.skipped_lines,
        s.blank_lines,
        s.audit_events,
    );
    let mut json = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = json.as_object_mut() {
        // The errors went out line by line already.
        o.remove("errors");
    }
    println!("{json}");
}

/// The import's own checkpoint file in the data directory's audit directory (created
/// 0700 if missing): a running server appends to `checkpoints.jsonl`, and two
/// processes must not append to one file. `audit verify` reads every `*.jsonl` there.
fn checkpoint_file(cfg: &Config) -> Result<PathBuf, CliError> {
    let dir = cfg.audit_dir();
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .map_err(|e| CliError::Runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(dir.join("import-checkpoints.jsonl"))
}

/// Runs `kentei-vault import`.
pub(crate) async fn run(args: ImportArgs) -> Result<(), CliError> {
    if args.batch_lines == 0 {
        return Err(CliError::Usage("--batch-lines must be at least 1".into()));
    }
    if !args.file.is_file() {
        return Err(CliError::Usage(format!(
            "{} is not a readable file",
            args.file.display()
        )));
    }
    let data_dir = std::fs::canonicalize(&args.data_dir).map_err(|_| {
        CliError::Usage(format!(
            "data directory {} does not exist: run `kentei-vault init --data-dir {}` first",
            args.data_dir.display(),
            args.data_dir.display()
        ))
    })?;
    let overrides = Overrides {
        database_url: args.database_url.clone(),
        ..Overrides::default()
    };
    let cfg = Config::load(&data_dir, &overrides, &|k| std::env::var(k).ok(), true)?;
    let policy = match &cfg.policy_file {
        None => Policy::default_policy(),
        Some(p) => Policy::load(p)
            .map_err(|e| CliError::Usage(format!("the policy_file is not a valid policy:\n{e}")))?,
    };
    check_role_and_purpose(&policy, &args.role, &args.purpose)?;
    let keyring = crate::keyring::load_keyring(&cfg.keyring_path)
        .map_err(|e| CliError::Runtime(format!("cannot load the keyring: {e}")))?;
    let backend = connect(
        cfg.database_url(),
        &ConnectOptions {
            max_connections: cfg.db_max_connections,
            ..ConnectOptions::default()
        },
    )
    .await
    .map_err(|e| {
        CliError::Runtime(format!(
            "cannot open the database {}: {e}",
            cfg.masked_database_url()
        ))
    })?;
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keyring.audit_signer()),
        AuditConfig::new(IMPORT_CHAIN, checkpoint_file(&cfg)?),
    )
    .await
    .map_err(|e| CliError::Runtime(format!("cannot start the audit log: {e}")))?;
    let vault = Vault::new(
        open_store(backend.clone()),
        keyring,
        Arc::new(policy),
        audit,
    );

    let mut reporter = reporter(&args)?;
    let opts = ImportOptions::new()
        .batch_lines(args.batch_lines)
        .roles(&[args.role.as_str()])
        .purpose(&args.purpose);
    let outcome = import_file(&vault, &args.file, &opts, &mut reporter).await;
    if let Some(bar) = &reporter.bar {
        bar.finish_and_clear();
    }
    let _ = reporter.errors.flush();
    vault.audit().close().await;
    backend.close().await;
    let summary = outcome.map_err(|e| {
        CliError::Runtime(format!(
            "import stopped: {e}; committed batches stay, run the same command again to resume"
        ))
    })?;
    print_summary(&summary);
    if reporter.write_failed {
        return Err(CliError::Runtime("could not write every line error".into()));
    }
    if summary.rejected_lines > 0 {
        return Err(CliError::Runtime(format!(
            "{} lines were refused (see the errors above{})",
            summary.rejected_lines,
            args.errors
                .as_ref()
                .map(|p| format!(" and in {}", p.display()))
                .unwrap_or_default()
        )));
    }
    Ok(())
}
