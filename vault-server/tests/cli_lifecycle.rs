//! The operator commands of docs/operations.md, run against the built binary on a fresh
//! SQLite data directory: keys status/rotate/destroy, retention plan/approve/execute/
//! certificate, holds, backup and restore.

use kentei_vault_tests::run_cli;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kentei-vault");

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = run_cli(BIN.as_ref(), args, &[]);
    (out.code, out.stdout, out.stderr)
}

fn ok(args: &[&str]) -> Vec<Value> {
    let (code, stdout, stderr) = cli(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

fn account(d: &str, name: &str, role: &str) -> String {
    let out = ok(&[
        "accounts",
        "create",
        "--data-dir",
        d,
        "--name",
        name,
        "--role",
        role,
        "--prefecture",
        "*",
    ]);
    out[0]["account_id"].as_str().unwrap().to_owned()
}

#[test]
fn operator_commands_rotate_keys_run_retention_and_back_up() {
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    let d = dd.to_str().unwrap();
    ok(&["init", "--data-dir", d]);
    let op = account(d, "ops-1", "operator");
    let approver = account(d, "approver-1", "retention_approver");
    let staff = account(d, "staff-1", "exam_staff");

    // Keys.
    let status = ok(&["keys", "status", "--data-dir", d, "--as", &op]);
    assert!(status[0]["keys"].as_array().unwrap().len() >= 3);
    let rotated = ok(&["keys", "rotate", "general", "--data-dir", d, "--as", &op]);
    assert_eq!(rotated[0]["to_version"], 2);
    assert!(rotated.iter().skip(1).all(|j| j["state"] == "complete"));
    ok(&[
        "keys",
        "destroy",
        "general",
        "1",
        "--data-dir",
        d,
        "--as",
        &op,
    ]);
    let (code, _, stderr) = cli(&[
        "keys",
        "destroy",
        "general",
        "2",
        "--data-dir",
        d,
        "--as",
        &op,
    ]);
    assert_eq!(code, 1, "the active version is refused");
    assert!(stderr.contains("active"), "{stderr}");
    let (code, _, _) = cli(&["keys", "rotate", "general", "--data-dir", d, "--as", &staff]);
    assert_eq!(code, 1, "exam_staff may not rotate keys");

    // Retention: plan, second-person approval, execution, certificate.
    let plan = ok(&[
        "retention",
        "plan",
        "--as-of",
        "2026-04-01",
        "--data-dir",
        d,
        "--as",
        &op,
    ]);
    let plan_id = plan[0]["plan_id"].as_str().unwrap().to_owned();
    let (code, _, _) = cli(&[
        "retention",
        "approve",
        &plan_id,
        "--data-dir",
        d,
        "--as",
        &staff,
    ]);
    assert_eq!(code, 1, "exam_staff cannot approve");
    let approved = ok(&[
        "retention",
        "approve",
        &plan_id,
        "--data-dir",
        d,
        "--as",
        &approver,
    ]);
    assert_eq!(approved[0]["state"], "approved");
    let executed = ok(&[
        "retention",
        "execute",
        &plan_id,
        "--data-dir",
        d,
        "--as",
        &op,
    ]);
    assert_eq!(executed[0]["state"], "executed");
    let cert = ok(&[
        "retention",
        "certificate",
        &plan_id,
        "--data-dir",
        d,
        "--as",
        &op,
    ]);
    assert!(cert[0]["signature"].as_str().is_some());
    assert_eq!(
        cert[0]["certificate"]["approver"].as_str(),
        Some(approver.as_str())
    );
    assert_eq!(
        ok(&["retention", "list", "--data-dir", d, "--as", &op]).len(),
        1
    );

    // An approval by an account disabled since no longer lets the plan run.
    let plan = ok(&["retention", "plan", "--data-dir", d, "--as", &op]);
    let plan2 = plan[0]["plan_id"].as_str().unwrap().to_owned();
    ok(&[
        "retention",
        "approve",
        &plan2,
        "--data-dir",
        d,
        "--as",
        &approver,
    ]);
    ok(&["accounts", "disable", "--data-dir", d, &approver]);
    let (code, _, stderr) = cli(&["retention", "execute", &plan2, "--data-dir", d, "--as", &op]);
    assert_eq!(code, 1, "executed on the approval of a disabled account");
    assert!(stderr.contains("approv"), "{stderr}");

    // Holds.
    let subject = uuid::Uuid::new_v4().to_string();
    let hold = ok(&[
        "holds",
        "place",
        "--subject",
        &subject,
        "--reason",
        "case 2026-12",
        "--data-dir",
        d,
        "--as",
        &op,
    ]);
    let hold_id = hold[0]["hold_id"].as_str().unwrap().to_owned();
    ok(&["holds", "release", &hold_id, "--data-dir", d, "--as", &op]);
    let holds = ok(&["holds", "list", "--data-dir", d, "--as", &op]);
    assert!(holds[0]["released_at"].as_str().is_some());

    // Backup and restore.
    let backup = dir.path().join("backup.db");
    let b = backup.to_str().unwrap();
    ok(&["backup", "--to", b, "--data-dir", d, "--as", &op]);
    let (code, _, _) = cli(&["backup", "--to", b, "--data-dir", d, "--as", &op]);
    assert_eq!(code, 1, "an existing backup file is never overwritten");
    let restored = ok(&["restore", "--from", b, "--data-dir", d]);
    assert_eq!(restored[0]["restored"], true);
    assert!(!restored[0]["archived_checkpoint_files"]
        .as_array()
        .unwrap()
        .is_empty());
    let status = ok(&["keys", "status", "--data-dir", d, "--as", &op]);
    assert!(status[0]["rotations"].as_array().unwrap().len() == 1);
}
