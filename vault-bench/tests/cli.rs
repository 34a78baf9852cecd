//! The `vault-bench generate` command line.

use std::process::Command;

use vault_bench::{Generator, GeneratorConfig, NdjsonJob};

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vault-bench"))
}

#[test]
fn generate_writes_the_library_output_to_stdout_and_the_rate_to_stderr() {
    let out = bench()
        .args([
            "generate",
            "--examinees",
            "300",
            "--meisters",
            "20",
            "--seed",
            "77",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let mut expected = Vec::new();
    Generator::new(GeneratorConfig::new(77))
        .write_ndjson(&NdjsonJob::new(0..300, 0..20), &mut expected, |_| {})
        .expect("writes");
    assert!(out.stdout == expected);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("generated 300 examinees"), "{stderr}");
    assert!(stderr.contains("examinees/s"), "{stderr}");
}

#[test]
fn generate_writes_a_file_with_out() {
    let dir = std::env::temp_dir().join(format!("vault-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("sample.ndjson");
    let status = bench()
        .args(["generate", "--examinees", "100", "--threads", "2", "--out"])
        .arg(&file)
        .status()
        .expect("runs");
    assert!(status.success());
    let text = std::fs::read_to_string(&file).expect("file written");
    assert_eq!(text.lines().count(), 100);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn generate_without_a_count_is_a_usage_error() {
    let out = bench().args(["generate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn generate_refuses_more_examinees_than_my_numbers() {
    let out = bench()
        .args([
            "generate",
            "--examinees",
            "2",
            "--first-index",
            "99999999999",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
