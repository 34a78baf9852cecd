//! A policy that shortens a retention period is refused at start unless acknowledged,
//! and the acknowledgement is in the audit log (CONTROLS C15).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kentei_vault_tests::{run_cli, Db, Vault};

const BIN: &str = env!("CARGO_BIN_EXE_kentei-vault");

/// Starts `serve` on the data dir with the policy file and extra arguments.
fn spawn_serve(v: &Vault, policy: &std::path::Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["serve", "--data-dir", v.data_dir.to_str().expect("utf-8")])
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("KENTEI_VAULT_POLICY_FILE", policy)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve")
}

/// Waits for the child to exit within `limit`; kills it and fails otherwise.
fn exit_code_within(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("serve kept running although it should have refused the policy");
}

/// Waits until the server says it is listening; its stderr keeps being drained after
/// that so that logging never blocks or breaks the server.
fn wait_listening(child: &mut Child) {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("\"listening\"") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("serve did not start listening");
}

#[tokio::test]
async fn a_shorter_retention_period_is_refused_at_start_unless_acknowledged_and_audited() {
    // First start records the default policy as the one in force.
    let mut v = Vault::start(BIN, Db::Sqlite).await;
    v.sigterm();
    assert!(
        v.wait_exit(Duration::from_secs(30)).is_some(),
        "first serve stopped"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let shorter = dir.path().join("shorter.toml");
    let text = vault_policy::Policy::default_policy_toml().replacen(
        "period = \"5 years\"",
        "period = \"3 years\"",
        1,
    );
    assert_ne!(text, vault_policy::Policy::default_policy_toml());
    std::fs::write(&shorter, &text).expect("write policy");

    // Without the acknowledgement the service refuses to start (usage error, exit 2).
    let mut refused = spawn_serve(&v, &shorter, &[]);
    let code = exit_code_within(&mut refused, Duration::from_secs(60));
    let mut err = String::new();
    if let Some(mut s) = refused.stderr.take() {
        std::io::Read::read_to_string(&mut s, &mut err).expect("stderr");
    }
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--accept-shorter-retention"), "{err}");

    // With it, the service starts and the acknowledgement is an audit event.
    let mut accepted = spawn_serve(&v, &shorter, &["--accept-shorter-retention"]);
    wait_listening(&mut accepted);
    let st = Command::new("kill")
        .args(["-TERM", &accepted.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    assert_eq!(exit_code_within(&mut accepted, Duration::from_secs(60)), 0);

    let db = v.data_dir.join("vault.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("open db");
    let acks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'policy.accept_shorter_retention'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(acks, 1);
    pool.close().await;

    // The shorter policy is now the accepted one: a plain restart needs no flag.
    let mut again = spawn_serve(&v, &shorter, &[]);
    wait_listening(&mut again);
    let _ = again.kill();
    let _ = again.wait();

    let verify = run_cli(
        std::path::Path::new(BIN),
        &[
            "audit",
            "verify",
            "--data-dir",
            v.data_dir.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(verify.code, 0, "{}", verify.stdout);
}
