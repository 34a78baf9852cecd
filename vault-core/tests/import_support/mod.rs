//! Support for the bulk import tests: a vault on a fresh database and NDJSON lines in
//! the `vault-bench generate` format, with values the `system_sync` view may create.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use uuid::Uuid;
use vault_core::audit::{AuditConfig, AuditLog};
use vault_core::crypto::{KeyProvider, Keyring};
use vault_core::model::MyNumber;
use vault_core::store::open_store;
use vault_core::vault::{Actor, Vault};
use vault_policy::{Policy, TenantScope};

use crate::common::TestDb;

pub const NAME: &str = "輸入　花子";
pub const KANA: &str = "ユニュウ　ハナコ";
pub const ADDRESS: &str = "東京都千代田区霞が関一丁目2番2号";
pub const PHONE: &str = "03-5253-1111";

pub struct Harness {
    pub db: TestDb,
    pub vault: Vault,
    pub dir: tempfile::TempDir,
}

pub async fn harness(db: TestDb) -> Harness {
    harness_with_policy(db, Policy::default_policy()).await
}

pub async fn harness_with_policy(db: TestDb, policy: Policy) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = Keyring::generate().expect("keyring");
    let signer = Arc::new(keyring.audit_signer());
    let audit = AuditLog::start(
        db.backend.clone(),
        signer,
        AuditConfig::new("test", dir.path().join("checkpoints.jsonl")),
    )
    .await
    .expect("audit starts");
    let vault = Vault::new(
        open_store(db.backend.clone()),
        Arc::new(keyring),
        Arc::new(policy),
        audit,
    );
    Harness { db, vault, dir }
}

impl Harness {
    pub async fn finish(self) {
        self.vault.audit().close().await;
        self.db.cleanup().await;
    }

    /// Writes `lines` (one per line, each with its newline) to a file in the harness's
    /// temporary directory.
    pub fn file(&self, name: &str, lines: &[String]) -> PathBuf {
        write_lines(&self.dir.path().join(name), lines)
    }
}

pub fn write_lines(path: &Path, lines: &[String]) -> PathBuf {
    let mut f = std::fs::File::create(path).expect("create input");
    for line in lines {
        f.write_all(line.as_bytes()).expect("write");
        f.write_all(b"\n").expect("write");
    }
    path.to_owned()
}

/// A staff member of every prefecture, for reading back.
pub fn staff() -> Actor {
    Actor {
        id: "staff-all".to_owned(),
        roles: vec!["exam_staff".to_owned()],
        tenants: TenantScope::All,
        token_id: None,
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        source: None,
    }
}

/// A valid My Number for examinee `i`.
pub fn my_number(i: u64) -> String {
    let body = format!("{:011}", 40_000_000_000u64 + i);
    let check = MyNumber::check_digit(&body).expect("11 digits");
    format!("{body}{check}")
}

pub fn exam_number(i: u64) -> String {
    format!("13241-{i:08}")
}

pub fn application_id(i: u64, n: u64) -> String {
    format!("2024-13-{i:08}{n}")
}

/// Examinee `i`: two applications (the first with a result) and, for even `i`, a
/// qualification. Only classes of the `system_sync` view.
pub fn examinee(i: u64) -> Value {
    let mut line = json!({
        "examinee": {
            "prefecture_code": "13",
            "my_number": my_number(i),
            "name": NAME,
            "name_kana": KANA,
            "birth_date": "1990-04-01",
            "sex": "female",
            "postal_code": "1008916",
            "address": ADDRESS,
            "phone": PHONE,
        },
        "applications": [
            {
                "application_id": application_id(i, 1),
                "prefecture_code": "13",
                "fiscal_year": 2024,
                "exam_period": "1",
                "grade": "2",
                "trade_code": "1010",
                "work_code": "101001",
                "exam_category": "both",
                "exam_number": exam_number(i),
                "result": {
                    "written_score": 80,
                    "written_attendance": "present",
                    "practical_total_score": 75,
                    "pass": true,
                    "announcement_date": "2024-09-01",
                },
            },
            {
                "application_id": application_id(i, 2),
                "prefecture_code": "14",
                "fiscal_year": 2025,
                "exam_period": "any",
                "grade": "1",
                "trade_code": "1010",
                "work_code": "101001",
                "exam_category": "written",
                "exam_number": format!("14251-{i:08}"),
            },
        ],
    });
    if i.is_multiple_of(2) {
        line["qualifications"] = json!([{
            "skilled_worker_number": format!("2-24-13-{i:06}"),
            "passed_on": "2024-09-01",
        }]);
    }
    line
}

pub fn examinee_lines(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| examinee(i).to_string()).collect()
}
