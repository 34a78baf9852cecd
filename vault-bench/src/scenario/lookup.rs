//! `lookup`: point reads by exam number (受検番号) with many concurrent readers. The
//! vault's read is [`Vault::read_application_by_exam_number`]: blind-index look-up,
//! policy decision, an audit event made durable by the writer's group commit, then the
//! data key is unwrapped and the view decrypted. The baseline selects the same
//! application's plaintext JSON through an index on the exam number and parses it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use vault_core::import::{import_file, ImportOptions, Quiet};
use vault_core::store::Backend;
use vault_core::vault::{Actor, Vault};
use vault_policy::TenantScope;

use super::db::BenchDb;
use super::import::{generate, scratch};
use super::{
    connect_options, open_vault, process_cpu_secs, raw, BenchError, BenchOptions, Report, Scenario,
};
use crate::{Generator, GeneratorConfig};

/// A staff member of every prefecture reading for 試験管理事務.
fn reader() -> Actor {
    Actor {
        id: "bench-reader".to_owned(),
        roles: vec!["exam_staff".to_owned()],
        tenants: TenantScope::All,
        token_id: None,
        request_id: uuid::Uuid::new_v4().to_string(),
        source: None,
    }
}

/// Runs `exams` split over `readers` tasks; answers wall time and sorted latencies (µs).
async fn drive<F, Fut>(
    exams: Arc<Vec<String>>,
    readers: usize,
    op: F,
) -> Result<(Duration, Vec<u32>), BenchError>
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<bool, BenchError>> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(readers);
    for r in 0..readers {
        let exams = exams.clone();
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(exams.len() / readers + 1);
            let mut i = r;
            while i < exams.len() {
                let t = Instant::now();
                if !op(exams[i].clone()).await? {
                    return Err(BenchError::Check("an exam number was not found".into()));
                }
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                i += readers;
            }
            Ok::<_, BenchError>(lat)
        }));
    }
    let mut all = Vec::with_capacity(exams.len());
    for t in tasks {
        all.extend(
            t.await
                .map_err(|_| BenchError::Check("reader task failed".into()))??,
        );
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    Ok((elapsed, all))
}

/// The exam numbers to read: the first applications of
/// [`BenchOptions::reads_per_side`] random examinees, the same for every side.
pub(super) fn exam_numbers(opts: &BenchOptions) -> Arc<Vec<String>> {
    let reads = opts.reads_per_side();
    let generator = Generator::new(GeneratorConfig::new(opts.seed));
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x6c6f_6f6b_7570);
    Arc::new(
        (0..reads)
            .map(|_| {
                let line = generator.examinee(rng.next_u64() % opts.records);
                line.applications
                    .first()
                    .map(|a| a.exam_number.clone())
                    .unwrap_or_default()
            })
            .collect(),
    )
}

/// Reads every exam number through the vault (`exam_administration`, every prefecture).
pub(super) async fn read_vault(
    vault: &Vault,
    exams: Arc<Vec<String>>,
    readers: usize,
) -> Result<(Duration, Vec<u32>), BenchError> {
    let vault: Vault = vault.clone();
    let actor = Arc::new(reader());
    drive(exams, readers, move |exam| {
        let vault = vault.clone();
        let actor = actor.clone();
        async move {
            let view = vault
                .read_application_by_exam_number(&actor, "exam_administration", &exam)
                .await?;
            Ok(view.fields.contains_key("exam_number"))
        }
    })
    .await
}

/// Reads every exam number from the plaintext tables of `raw`.
pub(super) async fn read_raw(
    backend: &Backend,
    exams: Arc<Vec<String>>,
    readers: usize,
) -> Result<(Duration, Vec<u32>), BenchError> {
    let backend: Backend = backend.clone();
    drive(exams, readers, move |exam| {
        let backend = backend.clone();
        async move {
            Ok(raw::lookup(&backend, &exam)
                .await?
                .is_some_and(|m| m.contains_key("exam_number")))
        }
    })
    .await
}

pub(super) async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let mut report = Report::new(Scenario::Lookup, opts, "reads");
    let dir = scratch(opts)?;
    let file = generate(dir.path(), opts.records, opts.seed)?;
    let co = connect_options(opts);
    let db = BenchDb::create(opts.backend, dir.path(), "lookup", &opts.pg_url, &co).await?;
    let vault = open_vault(&db.backend, dir.path(), opts).await?;
    let imported = import_file(
        &vault,
        &file,
        &ImportOptions::new().workers(opts.workers),
        &mut Quiet,
    )
    .await?;
    if imported.imported_lines != opts.records {
        return Err(BenchError::Check("the setup import left lines out".into()));
    }
    raw::create_tables(&db.backend).await?;
    raw::import(&db.backend, &file, opts.batch).await?;

    let exams = exam_numbers(opts);
    let batches_before = vault.audit().metrics().batches();
    let cpu_start = process_cpu_secs();
    let (vault_time, vault_lat) = read_vault(&vault, exams.clone(), opts.readers).await?;
    let cpu_mid = process_cpu_secs();
    let (baseline_time, base_lat) = read_raw(&db.backend, exams.clone(), opts.readers).await?;
    let cpu_end = process_cpu_secs();
    let reads = exams.len() as u64;
    report.timed(reads, vault_time, baseline_time);
    // CPU per read (all threads: readers, SQLite workers, audit writer), in µs.
    if let (Some(a), Some(b), Some(c)) = (cpu_start, cpu_mid, cpu_end) {
        let per_read = |secs: f64| (secs * 1e6 / reads as f64).round();
        report
            .extra
            .insert("vault_cpu_us_per_read".into(), json!(per_read(b - a)));
        report
            .extra
            .insert("baseline_cpu_us_per_read".into(), json!(per_read(c - b)));
    }
    report.latencies(&vault_lat, &base_lat);
    // How many reads each audit commit carried (group commit at work).
    let audit_commits = vault.audit().metrics().batches() - batches_before;
    report
        .extra
        .insert("audit_commits".into(), json!(audit_commits));
    report.extra.insert(
        "reads_per_audit_commit".into(),
        json!((reads as f64 / audit_commits.max(1) as f64 * 10.0).round() / 10.0),
    );
    report.extra.insert("readers".into(), json!(opts.readers));
    report
        .extra
        .insert("commit_delay_us".into(), json!(opts.commit_delay_us));
    report.extra.insert("examinees".into(), json!(opts.records));
    vault.audit().close().await;
    db.drop_db().await;
    Ok(report)
}
