//! Shared set-up of the lifecycle tests: a vault and its lifecycle service over one
//! database, a key file in a temporary directory, and seeded personal data.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use uuid::Uuid;
use vault_core::audit::{AuditConfig, AuditLog};
use vault_core::crypto::{KeyProvider, Keyring};
use vault_core::lifecycle::{Lifecycle, LifecycleConfig, ManagedKeyring, DEFAULT_WRAP_LIMIT};
use vault_core::model::MyNumber;
use vault_core::store::{open_store, Backend};
use vault_core::vault::{Actor, Vault};
use vault_policy::{Policy, TenantScope};

use crate::common::TestDb;

pub const NAME: &str = "山田 太郎";
pub const KANA: &str = "ヤマダ タロウ";
pub const ADDRESS: &str = "東京都千代田区霞が関一丁目2番2号";
pub const EMPLOYER: &str = "株式会社霞が関精機";

pub fn my_number(n: u32) -> String {
    let first11 = format!("{:011}", 12_345_000_000u64 + u64::from(n));
    let check = MyNumber::check_digit(&first11).expect("11 digits");
    format!("{first11}{check}")
}

pub struct Harness {
    pub db: TestDb,
    pub vault: Vault,
    pub life: Lifecycle,
    pub keys: Arc<ManagedKeyring>,
    pub audit: AuditLog,
    pub key_path: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Writes a fresh key file in `dir/keys/keyring.toml`.
pub fn new_key_file(dir: &Path) -> PathBuf {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    let path = keys.join("keyring.toml");
    Keyring::generate()
        .expect("keyring")
        .save(&path)
        .expect("save keyring");
    path
}

pub async fn open(
    backend: Backend,
    key_path: &Path,
    checkpoints: &Path,
    wrap_limit: u64,
    batch_size: u32,
) -> (Vault, Lifecycle, Arc<ManagedKeyring>, AuditLog) {
    let keys = Arc::new(ManagedKeyring::open(key_path, wrap_limit).expect("open keyring"));
    let audit = AuditLog::start(
        backend.clone(),
        Arc::new(keys.snapshot().audit_signer()),
        AuditConfig::new("test", checkpoints),
    )
    .await
    .expect("audit starts");
    let policy = Arc::new(Policy::default_policy());
    let vault = Vault::new(
        open_store(backend.clone()),
        keys.clone(),
        policy.clone(),
        audit.clone(),
    );
    let life = Lifecycle::start(
        backend,
        keys.clone(),
        policy,
        audit.clone(),
        LifecycleConfig {
            batch_size,
            ..LifecycleConfig::default()
        },
    )
    .await
    .expect("lifecycle starts");
    (vault, life, keys, audit)
}

pub async fn harness_with(db: TestDb, wrap_limit: u64, batch_size: u32) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = new_key_file(dir.path());
    let (vault, life, keys, audit) = open(
        db.backend.clone(),
        &key_path,
        &dir.path().join("checkpoints.jsonl"),
        wrap_limit,
        batch_size,
    )
    .await;
    Harness {
        db,
        vault,
        life,
        keys,
        audit,
        key_path,
        dir,
    }
}

pub async fn harness(db: TestDb) -> Harness {
    harness_with(db, DEFAULT_WRAP_LIMIT, 3).await
}

impl Harness {
    pub async fn finish(self) {
        self.audit.close().await;
        self.db.cleanup().await;
    }
}

pub fn actor(id: &str, role: &str, prefectures: &[&str]) -> Actor {
    Actor {
        id: id.to_owned(),
        roles: vec![role.to_owned()],
        tenants: TenantScope::from_list(prefectures),
        token_id: None,
        request_id: format!("req-{}", Uuid::new_v4().simple()),
        source: Some("127.0.0.1".parse().expect("ip")),
    }
}

pub fn staff() -> Actor {
    actor("staff-13", "exam_staff", &["13"])
}

pub fn operator() -> Actor {
    actor("operator-1", "operator", &[])
}

pub fn approver() -> Actor {
    actor("approver-1", "retention_approver", &[])
}

pub fn coordinator() -> Actor {
    actor("coord-1", "meister_coordinator", &["13"])
}

pub fn examinee_body(n: u32) -> Value {
    json!({
        "prefecture_code": "13",
        "name": NAME,
        "name_kana": KANA,
        "birth_date": "1990-04-01",
        "sex": "male",
        "postal_code": "100-8916",
        "address": ADDRESS,
        "phone": "03-5253-1111",
        "my_number": my_number(n),
    })
}

pub fn application_body(fiscal_year: i32, exam_number: &str) -> Value {
    json!({
        "prefecture_code": "13",
        "fiscal_year": fiscal_year,
        "exam_period": "1",
        "grade": "2",
        "trade_code": "1010",
        "work_code": "101001",
        "exam_category": "both",
        "exam_number": exam_number,
        "employer_name": EMPLOYER,
    })
}

/// Registers an examinee with My Number and one application of `fiscal_year`.
/// Returns (subject id, application id).
pub async fn seed_examinee(vault: &Vault, n: u32, fiscal_year: i32) -> (Uuid, String) {
    let s = staff();
    let id = vault
        .register_examinee(&s, "exam_administration", &examinee_body(n))
        .await
        .expect("register examinee");
    let app = vault
        .add_application(
            &s,
            "exam_administration",
            id,
            &application_body(fiscal_year, &format!("E-{n:05}")),
        )
        .await
        .expect("add application");
    (id, app)
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
