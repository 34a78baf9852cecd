//! Smoke runs of every scenario on a tiny population: each finishes and reports the
//! figures the JSON line promises. Not a measurement (debug build, tiny N).

use std::process::Command;

use serde_json::Value;
use vault_bench::scenario::{run, BackendKind, BenchOptions, Report, Scenario};

fn tiny(backend: BackendKind) -> BenchOptions {
    let mut opts = BenchOptions::new(200, backend);
    opts.reads = 300;
    opts.readers = 8;
    opts.batch = 64;
    opts
}

fn json_of(report: &Report) -> Value {
    serde_json::from_str(&report.json_line()).expect("the JSON line parses")
}

fn assert_common(v: &Value, scenario: &str, backend: &str) {
    assert_eq!(v["scenario"], scenario);
    assert_eq!(v["backend"], backend);
    for key in [
        "records",
        "vault_per_sec",
        "baseline_per_sec",
        "ratio",
        "rss_mib",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_runs_on_sqlite_and_postgres_and_imports_every_generated_line() {
    for backend in [BackendKind::Sqlite, BackendKind::Postgres] {
        let report = run(Scenario::Import, &tiny(backend)).await.expect("import");
        let v = json_of(&report);
        assert_common(&v, "import", backend.as_str());
        assert_eq!(v["records"], 200);
        assert!(v["records_written"].as_u64().is_some_and(|n| n > 200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_reports_latency_percentiles() {
    let report = run(Scenario::Lookup, &tiny(BackendKind::Sqlite))
        .await
        .expect("lookup");
    let v = json_of(&report);
    assert_common(&v, "lookup", "sqlite");
    assert_eq!(v["records"], 300);
    assert!(v["p50_ms"].as_f64().is_some_and(|p| p > 0.0));
    assert!(v["p99_ms"].as_f64() >= v["p50_ms"].as_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrap_re_wraps_every_key_on_sqlite_and_postgres() {
    for backend in [BackendKind::Sqlite, BackendKind::Postgres] {
        let report = run(Scenario::Rewrap, &tiny(backend)).await.expect("rewrap");
        assert_common(&json_of(&report), "rewrap", backend.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgcrypto_compares_with_pgp_sym_encrypt_and_encrypt_iv() {
    let report = run(Scenario::Pgcrypto, &tiny(BackendKind::Postgres))
        .await
        .expect("pgcrypto");
    let v = json_of(&report);
    assert_common(&v, "pgcrypto", "postgres");
    assert!(v["encrypt_iv_per_sec"].as_f64().is_some_and(|x| x > 0.0));
}

/// The http scenario on a tiny population: the real server and the baseline server as
/// children of the built `vault-bench`, 2,000 reads over 8 connections.
fn tiny_http(backend: BackendKind) -> BenchOptions {
    let mut opts = tiny(backend);
    opts.reads = 2000;
    opts.warmup = 200;
    opts.exe = Some(env!("CARGO_BIN_EXE_vault-bench").into());
    opts
}

fn assert_http(v: &Value, backend: &str) {
    assert_common(v, "http", backend);
    assert_eq!(v["records"], 2000);
    assert_eq!(v["baseline_requests"], 2000);
    assert_eq!(v["connections"], 8);
    assert_eq!(v["errors"], 0);
    // Every request sent, the warm-up included, left one audited read.
    assert_eq!(v["audited_reads"], 2200);
    for key in ["p50_ms", "baseline_p50_ms", "baseline_rss_mib"] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {v}");
    }
    assert!(v["p99_ms"].as_f64() >= v["p50_ms"].as_f64());
    assert!(v["baseline_p99_ms"].as_f64() >= v["baseline_p50_ms"].as_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reads_through_the_real_server_and_reports_its_memory_on_sqlite() {
    let report = run(Scenario::Http, &tiny_http(BackendKind::Sqlite))
        .await
        .expect("http");
    assert_http(&json_of(&report), "sqlite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reads_through_the_real_server_on_postgres() {
    let report = run(Scenario::Http, &tiny_http(BackendKind::Postgres))
        .await
        .expect("http");
    assert_http(&json_of(&report), "postgres");
}

#[tokio::test]
async fn pgcrypto_refuses_sqlite() {
    assert!(run(Scenario::Pgcrypto, &tiny(BackendKind::Sqlite))
        .await
        .is_err());
}

/// With SQLCipher linked in (`--features sqlcipher`): both sides import every line and
/// read every exam number; the scenario itself fails when the SQLCipher file came out
/// unencrypted.
#[cfg(feature = "sqlcipher")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlcipher_imports_and_reads_on_both_sides() {
    let report = run(Scenario::Sqlcipher, &tiny(BackendKind::Sqlite))
        .await
        .expect("sqlcipher");
    let v = json_of(&report);
    assert_common(&v, "sqlcipher", "sqlite");
    assert_eq!(v["records"], 200);
    assert_eq!(v["lookup_reads"], 300);
    for key in [
        "lookup_vault_per_sec",
        "lookup_baseline_per_sec",
        "lookup_ratio",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {v}");
    }
    assert!(v["p99_ms"].as_f64() >= v["p50_ms"].as_f64());
    assert!(v["cipher_version"].as_str().is_some_and(|s| !s.is_empty()));
}

/// Without SQLCipher the scenario says which build it needs instead of measuring plain
/// SQLite under SQLCipher's name.
#[cfg(not(feature = "sqlcipher"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlcipher_names_the_feature_it_needs() {
    let err = run(Scenario::Sqlcipher, &tiny(BackendKind::Sqlite))
        .await
        .expect_err("needs the feature");
    assert!(err.to_string().contains("--features sqlcipher"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlcipher_refuses_postgres() {
    let err = run(Scenario::Sqlcipher, &tiny(BackendKind::Postgres))
        .await
        .expect_err("SQLite only");
    assert!(err.to_string().contains("--backend sqlite"), "{err}");
}

#[test]
fn the_command_prints_a_table_then_one_json_object_as_its_last_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_vault-bench"))
        .args(["rewrap", "--records", "50", "--batch", "16"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let last = stdout.lines().last().expect("output");
    let v: Value = serde_json::from_str(last).expect("last line is JSON");
    assert_eq!(v["scenario"], "rewrap");
    assert!(stdout.lines().count() > 3, "a table comes first");
}

/// A vault over a new SQLite database in `dir`, under `policy`.
async fn vault_in(
    dir: &std::path::Path,
    policy: vault_policy::Policy,
) -> (vault_core::vault::Vault, vault_core::store::Backend) {
    use std::sync::Arc;
    use vault_core::audit::{AuditConfig, AuditLog};
    use vault_core::crypto::{KeyProvider, Keyring};
    use vault_core::store::{connect, open_store, ConnectOptions};

    let backend = connect(
        &format!("sqlite://{}", dir.join("v.db").display()),
        &ConnectOptions::default(),
    )
    .await
    .expect("db");
    let keyring = Arc::new(Keyring::generate().expect("keys"));
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keyring.audit_signer()),
        AuditConfig::new("t", dir.join("cp.jsonl")),
    )
    .await
    .expect("audit");
    let store = open_store(backend.clone());
    let vault = vault_core::vault::Vault::new(store, keyring, Arc::new(policy), audit);
    (vault, backend)
}

/// The generator's whole output — examinees with every optional item and meisters
/// with activities — passes the vault's intake rules, under a policy that lets the
/// import write those classes and kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_line_passes_the_import() {
    use vault_bench::{Generator, GeneratorConfig, NdjsonJob};
    use vault_core::import::{import_file, ImportOptions, Quiet};

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("population.ndjson");
    let mut out = std::fs::File::create(&file).expect("create");
    Generator::new(GeneratorConfig::new(5))
        .write_ndjson(&NdjsonJob::new(0..400, 0..100), &mut out, |_| {})
        .expect("generate");
    // A view for meister kinds in the exam_system × system_sync grant (the grant just
    // before exam_system × exam_administration in the default policy).
    let with_meisters = vault_bench::scenario::import_policy_toml().replacen(
        "\n[[grant]]\nrole = \"exam_system\"\npurpose = \"exam_administration\"",
        "\n[[grant.view]]\nkinds = [\"meister\", \"meister_activity\"]\nactions = [\"create\"]\nclasses = [\"meister\", \"meister_activity\"]\n\n[[grant]]\nrole = \"exam_system\"\npurpose = \"exam_administration\"",
        1,
    );
    let policy = vault_policy::Policy::from_toml(&with_meisters, "test").expect("policy");
    let (vault, backend) = vault_in(dir.path(), policy).await;
    let summary = import_file(&vault, &file, &ImportOptions::new(), &mut Quiet)
        .await
        .expect("import");
    assert_eq!(summary.rejected_lines, 0, "{:?}", summary.errors.first());
    assert_eq!(summary.counts.examinees, 400);
    assert_eq!(summary.counts.meisters, 100);
    assert!(summary.counts.activities > 100);
    vault.audit().close().await;
    backend.close().await;
}

/// Under the built-in policy, generated examinees (employers, residence items) go in
/// as `exam_system` × `exam_administration` and meisters as `meister_coordinator` ×
/// `meister_dispatch`, each from a file of its own: the role and purpose choices
/// `kentei-vault import --role/--purpose` documents. Under the default `system_sync`
/// the examinees with employers are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_lines_import_under_the_default_policy_with_their_purposes() {
    use vault_bench::{Generator, GeneratorConfig, NdjsonJob};
    use vault_core::import::{import_file, ImportOptions, Quiet};

    let dir = tempfile::tempdir().expect("tempdir");
    let generator = Generator::new(GeneratorConfig::new(7));
    let write = |name: &str, job: NdjsonJob| {
        let path = dir.path().join(name);
        let mut out = std::fs::File::create(&path).expect("create");
        generator
            .write_ndjson(&job, &mut out, |_| {})
            .expect("generate");
        path
    };
    let examinees = write("examinees.ndjson", NdjsonJob::new(0..300, 0..0));
    let examinees_again = write("examinees-2.ndjson", NdjsonJob::new(300..600, 0..0));
    let meisters = write("meisters.ndjson", NdjsonJob::new(0..0, 0..50));
    let (vault, backend) = vault_in(dir.path(), vault_policy::Policy::default_policy()).await;

    let sync = import_file(&vault, &examinees, &ImportOptions::new(), &mut Quiet)
        .await
        .expect("import");
    assert!(sync.rejected_lines > 0, "employers are outside system_sync");
    assert!(
        sync.errors.iter().all(|e| e.code == "not_permitted"),
        "{:?}",
        sync.errors.first()
    );

    let admin = ImportOptions::new().purpose("exam_administration");
    let s = import_file(&vault, &examinees_again, &admin, &mut Quiet)
        .await
        .expect("import");
    assert_eq!(s.rejected_lines, 0, "{:?}", s.errors.first());
    assert_eq!(s.counts.examinees, 300);

    let coordinator = ImportOptions::new()
        .roles(&["meister_coordinator"])
        .purpose("meister_dispatch");
    let m = import_file(&vault, &meisters, &coordinator, &mut Quiet)
        .await
        .expect("import");
    assert_eq!(m.rejected_lines, 0, "{:?}", m.errors.first());
    assert_eq!(m.counts.meisters, 50);
    assert!(m.counts.activities > 50);
    vault.audit().close().await;
    backend.close().await;
}
