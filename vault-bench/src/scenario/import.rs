//! `import`: the vault's bulk import of N generated examinees against the same records
//! inserted as plaintext (see `raw`), each on a fresh database of the same backend, one
//! transaction per batch of lines on both sides.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use vault_core::import::{import_file, ImportOptions, Quiet};

use super::db::BenchDb;
use super::{connect_options, open_vault, raw, BenchError, BenchOptions, Report, Scenario};
use crate::{Generator, GeneratorConfig, NdjsonJob};

/// Writes examinees `0..n` of `seed` to `dir/examinees.ndjson`.
pub(super) fn generate(dir: &Path, n: u64, seed: u64) -> Result<PathBuf, BenchError> {
    let path = dir.join("examinees.ndjson");
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Generator::new(GeneratorConfig::new(seed)).write_ndjson(
        &NdjsonJob::new(0..n, 0..0).with_threads(threads),
        out,
        |_| {},
    )?;
    Ok(path)
}

/// The scratch directory of a run.
pub(super) fn scratch(opts: &BenchOptions) -> Result<tempfile::TempDir, BenchError> {
    Ok(match &opts.dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    })
}

pub(super) async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let mut report = Report::new(Scenario::Import, opts, "examinees");
    let dir = scratch(opts)?;
    let file = generate(dir.path(), opts.records, opts.seed)?;
    report.extra.insert(
        "input_mib".into(),
        json!((std::fs::metadata(&file)?.len() as f64 / 1048576.0).round()),
    );
    let co = connect_options(opts);

    // The vault.
    let db = BenchDb::create(opts.backend, dir.path(), "vault", &opts.pg_url, &co).await?;
    let vault = open_vault(&db.backend, dir.path(), opts).await?;
    let import_opts = ImportOptions::new()
        .batch_lines(opts.batch)
        .workers(opts.workers);
    let started = Instant::now();
    let summary = import_file(&vault, &file, &import_opts, &mut Quiet).await?;
    let vault_time = started.elapsed();
    vault.audit().close().await;
    db.drop_db().await;
    if summary.imported_lines != opts.records {
        let first = summary
            .errors
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(BenchError::Check(format!(
            "the vault imported {} of {} lines; first error: {first}",
            summary.imported_lines, opts.records
        )));
    }
    report
        .extra
        .insert("records_written".into(), json!(summary.counts.records()));
    report
        .extra
        .insert("audit_events".into(), json!(summary.audit_events));

    // The plaintext baseline.
    let db = BenchDb::create(opts.backend, dir.path(), "raw", &opts.pg_url, &co).await?;
    raw::create_tables(&db.backend).await?;
    let started = Instant::now();
    let lines = raw::import(&db.backend, &file, opts.batch).await?;
    let baseline_time = started.elapsed();
    db.drop_db().await;
    if lines != opts.records {
        return Err(BenchError::Check(format!(
            "the baseline inserted {lines} of {} lines",
            opts.records
        )));
    }
    report.timed(opts.records, vault_time, baseline_time);
    report.extra.insert(
        "vault_records_per_sec".into(),
        json!((summary.counts.records() as f64 / vault_time.as_secs_f64()).round()),
    );
    Ok(report)
}
