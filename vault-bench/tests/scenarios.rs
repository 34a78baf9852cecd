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

#[tokio::test]
async fn pgcrypto_refuses_sqlite() {
    assert!(run(Scenario::Pgcrypto, &tiny(BackendKind::Sqlite))
        .await
        .is_err());
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
