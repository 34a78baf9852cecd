//! `vault-bench`: benchmark scenarios for kentei-vault, one subcommand each:
//! `generate` (synthetic NDJSON input), `import`, `lookup`, `rewrap`, `pgcrypto`,
//! `http`, `sqlcipher`. A scenario prints a table and, as its last line, one JSON object.
//!
//! Two hidden subcommands are the server processes of `http`, which runs this same
//! executable as its children: `kentei-vault -- ARGS…` (the real `kentei-vault`
//! command line) and `baseline-server` (the plaintext baseline).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use vault_bench::scenario::{self, BackendKind, BenchOptions, Scenario};
use vault_bench::{Generator, GeneratorConfig, NdjsonJob, WriteStats, MAX_EXAMINEES};

#[derive(Parser)]
#[command(name = "vault-bench", version, about = "Benchmarks for kentei-vault")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic population as NDJSON (one examinee or meister per line).
    Generate(GenerateArgs),
    /// Bulk import of N examinees: the vault against plaintext inserts.
    Import(ScenarioArgs),
    /// Point reads by exam number: the vault (audited) against a plaintext select.
    Lookup(ScenarioArgs),
    /// Re-wrap N data keys under a new KEK version against a plain UPDATE.
    Rewrap(ScenarioArgs),
    /// Field encryption: the vault against pgcrypto (PostgreSQL).
    Pgcrypto(ScenarioArgs),
    /// Audited reads over HTTP from the real server in a child process, against a
    /// plaintext server with the same route; with the server's memory.
    Http(ScenarioArgs),
    /// Import and reads: the vault against whole-database SQLCipher under a raw key
    /// (SQLite; needs a build with `--features sqlcipher`).
    Sqlcipher(ScenarioArgs),
    /// The `kentei-vault` command line (`vault-bench kentei-vault -- serve …`): the vault
    /// server process of `http`.
    #[command(name = "kentei-vault", hide = true)]
    KenteiVault {
        /// Arguments of `kentei-vault`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// The plaintext baseline server of `http`.
    #[command(hide = true)]
    BaselineServer(BaselineArgs),
}

#[derive(Args)]
struct BaselineArgs {
    /// Database holding the baseline tables.
    #[arg(long, env = vault_bench::scenario::BASELINE_DATABASE_URL_ENV, hide_env_values = true)]
    database_url: String,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The one accepted bearer token.
    #[arg(long, env = vault_bench::scenario::BASELINE_TOKEN_ENV, hide_env_values = true)]
    token: String,
    /// Database connections.
    #[arg(long, default_value_t = 8)]
    connections: u32,
}

#[derive(Args)]
struct ScenarioArgs {
    /// Examinees (import, lookup, http), data keys (rewrap) or field values (pgcrypto).
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    backend: BackendKind,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Lines per import transaction, keys per re-wrap transaction, values per pgcrypto statement.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Import preparing threads (default: available cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Concurrent readers (lookup); keep-alive HTTP connections, one reader each (http).
    #[arg(long, default_value_t = 64)]
    readers: usize,
    /// Reads per side (lookup, http; default: --records, at least 20000).
    #[arg(long, default_value_t = 0)]
    reads: u64,
    /// Measure each side for this many seconds instead of --reads requests (http).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
    /// Requests per side before the measurement, not counted (http).
    #[arg(long, default_value_t = 2000)]
    warmup: u64,
    /// Database connections (http: the pool of each server process).
    #[arg(long, default_value_t = 8)]
    connections: u32,
    /// The audit writer's commit delay under load, in microseconds (lookup, http;
    /// the server's `audit_commit_delay_us`).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    commit_delay_us: u64,
    /// Directory for the SQLite databases and generated files (local disk).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Args)]
struct GenerateArgs {
    /// Number of examinees (受検者) to write.
    #[arg(long)]
    examinees: u64,
    /// Number of ものづくりマイスター to write after the examinees.
    #[arg(long, default_value_t = 0)]
    meisters: u64,
    /// Seed: the same seed gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file, or `-` for standard output.
    #[arg(long, default_value = "-")]
    out: String,
    /// Index of the first examinee and meister: a later batch with the same seed
    /// continues the population without repeating ids or My Numbers.
    #[arg(long, default_value_t = 0)]
    first_index: u64,
    /// Share of foreign technical intern trainees, in per mille.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1000))]
    foreign_permille: u32,
    /// Leave out 受検管理 results.
    #[arg(long)]
    no_results: bool,
    /// Leave out 技能士 qualifications.
    #[arg(long)]
    no_qualifications: bool,
    /// Rendering threads (default: available cores). Does not change the output.
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(args) => generate(args),
        Command::Import(args) => run_scenario(Scenario::Import, args),
        Command::Lookup(args) => run_scenario(Scenario::Lookup, args),
        Command::Rewrap(args) => run_scenario(Scenario::Rewrap, args),
        Command::Pgcrypto(args) => run_scenario(Scenario::Pgcrypto, args),
        Command::Http(args) => run_scenario(Scenario::Http, args),
        Command::Sqlcipher(args) => run_scenario(Scenario::Sqlcipher, args),
        Command::KenteiVault { args } => {
            scenario::exit_with_parent();
            vault_server::cli::run_from(std::iter::once(OsString::from("kentei-vault")).chain(args))
        }
        Command::BaselineServer(args) => baseline_server(args),
    }
}

fn baseline_server(args: BaselineArgs) -> ExitCode {
    scenario::exit_with_parent();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vault-bench baseline-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let server =
        scenario::BaselineServer::new(args.database_url, args.listen, args.token, args.connections);
    match rt.block_on(scenario::serve_baseline(server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vault-bench baseline-server: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_scenario(which: Scenario, args: ScenarioArgs) -> ExitCode {
    let mut opts = BenchOptions::new(args.records, args.backend);
    opts.seed = args.seed;
    opts.batch = args.batch;
    if let Some(w) = args.workers {
        opts.workers = w;
    }
    opts.readers = args.readers;
    opts.reads = args.reads;
    opts.seconds = args.seconds;
    opts.warmup = args.warmup;
    opts.connections = args.connections;
    opts.commit_delay_us = args.commit_delay_us;
    opts.dir = args.dir;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vault-bench: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(scenario::run(which, &opts)) {
        Ok(report) => {
            print!("{}", report.table());
            println!("{}", report.json_line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vault-bench {}: {e}", which.as_str());
            ExitCode::from(1)
        }
    }
}

fn generate(args: GenerateArgs) -> ExitCode {
    let last = args.first_index.checked_add(args.examinees);
    if last.is_none_or(|last| last > MAX_EXAMINEES) {
        eprintln!("vault-bench: --first-index + --examinees must not exceed {MAX_EXAMINEES}");
        return ExitCode::from(2);
    }
    let mut config = GeneratorConfig::new(args.seed);
    config.foreign_trainee_permille = args.foreign_permille;
    config.results = !args.no_results;
    config.qualifications = !args.no_qualifications;
    let generator = Generator::new(config);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let job = NdjsonJob::new(
        args.first_index..args.first_index + args.examinees,
        args.first_index..args.first_index.saturating_add(args.meisters),
    )
    .with_threads(threads);

    let out: Box<dyn Write> = if args.out == "-" {
        Box::new(io::stdout().lock())
    } else {
        match File::create(PathBuf::from(&args.out)) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("vault-bench: cannot create {}: {e}", args.out);
                return ExitCode::from(1);
            }
        }
    };
    let out = BufWriter::with_capacity(1 << 20, out);

    let started = Instant::now();
    let total_lines = args.examinees + args.meisters;
    let show_progress = io::stderr().is_terminal();
    let mut last_report = started;
    let result = generator.write_ndjson(&job, out, |stats| {
        if show_progress && last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let done = stats.examinees + stats.meisters;
            eprint!(
                "\r{done}/{total_lines} lines ({:.0}%)",
                100.0 * done as f64 / total_lines.max(1) as f64
            );
        }
    });
    if show_progress {
        eprint!("\r\x1b[K");
    }
    match result {
        Ok(stats) => {
            report(&stats, started.elapsed(), threads);
            ExitCode::SUCCESS
        }
        // A reader such as `head` closing the pipe is not a failure of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vault-bench: writing {} failed: {e}", args.out);
            ExitCode::from(1)
        }
    }
}

fn report(stats: &WriteStats, elapsed: Duration, threads: usize) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "generated {} examinees ({} applications, {} results, {} qualifications) and {} meisters ({} activities)",
        stats.examinees,
        stats.applications,
        stats.results,
        stats.qualifications,
        stats.meisters,
        stats.activities
    );
    eprintln!(
        "{} bytes in {:.2} s with {} thread(s): {:.0} examinees/s, {:.0} lines/s, {:.1} MiB/s",
        stats.bytes,
        secs,
        threads,
        stats.examinees as f64 / secs,
        (stats.examinees + stats.meisters) as f64 / secs,
        stats.bytes as f64 / secs / (1024.0 * 1024.0)
    );
}
