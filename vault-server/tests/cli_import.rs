//! `kentei-vault import` run against the built binary on a fresh SQLite data directory:
//! the summary, per-line errors that name the line and the field but never a value,
//! the role and purpose it acts in, and resuming.

use kentei_vault_tests::run_cli;
use serde_json::{json, Value};
use vault_core::model::MyNumber;

const BIN: &str = env!("CARGO_BIN_EXE_kentei-vault");

const NAME: &str = "取込　一郎";
const EMPLOYER: &str = "株式会社取込製作所";

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = run_cli(BIN.as_ref(), args, &[]);
    (out.code, out.stdout, out.stderr)
}

fn my_number(i: u64) -> String {
    let body = format!("{:011}", 52_000_000_000u64 + i);
    let check = MyNumber::check_digit(&body).expect("11 digits");
    format!("{body}{check}")
}

/// Examinee `i` with one application; `employer` adds an employer (class
/// `employment`, outside the default `system_sync` view).
fn line(i: u64, employer: bool) -> String {
    let mut app = json!({
        "application_id": format!("2025-13-{i:08}"),
        "prefecture_code": "13",
        "fiscal_year": 2025,
        "exam_period": "1",
        "grade": "2",
        "trade_code": "1010",
        "work_code": "101001",
        "exam_category": "both",
        "exam_number": format!("13251-{i:08}"),
    });
    if employer {
        app["employer_name"] = json!(EMPLOYER);
    }
    json!({
        "examinee": {
            "prefecture_code": "13",
            "my_number": my_number(i),
            "name": NAME,
            "name_kana": "トリコミ　イチロウ",
            "birth_date": "1991-05-02",
            "sex": "male",
            "postal_code": "1008916",
            "address": "東京都千代田区霞が関一丁目2番2号",
            "phone": "03-5253-1111",
        },
        "applications": [app],
    })
    .to_string()
}

fn write(path: &std::path::Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write input");
}

fn summary(stdout: &str) -> Value {
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).unwrap_or_else(|_| panic!("not JSON: {last}"))
}

#[test]
fn import_reports_lines_by_field_acts_in_its_purpose_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let dd = dir.path().join("vd");
    let d = dd.to_str().unwrap();
    let (code, _, stderr) = cli(&["init", "--data-dir", d]);
    assert_eq!(code, 0, "{stderr}");

    // Line 2 has an employer, line 3 a My Number with a wrong check digit.
    let mut bad = my_number(3);
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    let mut wrong = line(3, false);
    wrong = wrong.replace(&my_number(3), &bad);
    let first = dir.path().join("first.ndjson");
    write(&first, &[line(1, false), line(2, true), wrong]);
    let f = first.to_str().unwrap();

    let (code, stdout, stderr) = cli(&["import", "--file", f, "--data-dir", d, "--quiet"]);
    assert_eq!(code, 1, "refused lines make exit code 1: {stderr}");
    let s = summary(&stdout);
    assert_eq!(s["imported_lines"], 1, "{s}");
    assert_eq!(s["rejected_lines"], 2, "{s}");
    assert!(
        stderr.contains("line 2: applications[0].employer_name: not_permitted"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3: examinee.my_number: "), "{stderr}");
    for value in [NAME, EMPLOYER, bad.as_str(), my_number(1).as_str()] {
        assert!(!stderr.contains(value), "a value in the errors: {stderr}");
        assert!(!stdout.contains(value), "a value in the summary: {stdout}");
    }

    // The same file again: everything was committed or refused, nothing is imported twice.
    let (code, stdout, _) = cli(&["import", "--file", f, "--data-dir", d, "--quiet"]);
    assert_eq!(code, 0);
    let s = summary(&stdout);
    assert_eq!(s["skipped_lines"], 3, "{s}");
    assert_eq!(s["imported_lines"], 0, "{s}");

    // The examinee with an employer, under the purpose whose view has `employment`.
    let second = dir.path().join("second.ndjson");
    write(&second, &[line(2, true)]);
    let g = second.to_str().unwrap();
    let (code, stdout, stderr) = cli(&[
        "import",
        "--file",
        g,
        "--data-dir",
        d,
        "--quiet",
        "--purpose",
        "exam_administration",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stdout)["imported_lines"], 1);

    // A purpose the role may not state, an unknown role: refused before anything runs.
    let (code, _, stderr) = cli(&[
        "import",
        "--file",
        g,
        "--data-dir",
        d,
        "--quiet",
        "--purpose",
        "statistics",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("may not state"), "{stderr}");
    assert!(stderr.contains("system_sync"), "{stderr}");
    let (code, _, stderr) = cli(&[
        "import",
        "--file",
        g,
        "--data-dir",
        d,
        "--quiet",
        "--role",
        "nobody",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no such role"), "{stderr}");

    // The import chain verifies with its checkpoints.
    let (code, stdout, stderr) = cli(&["audit", "verify", "--data-dir", d]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}
