//! `sqlcipher`: what a user would pick instead of field-level encryption on SQLite,
//! whole-database encryption with SQLCipher (AES-256 pages with an HMAC each) opened
//! with a raw 256-bit key, so no key derivation runs. The same generated examinees are
//! imported and then read by exam number on both sides:
//!
//! - the vault: [`import_file`] and [`Vault::read_application_by_exam_number`] (blind
//!   index, audit with group commit, field decryption), as in `import` and `lookup`;
//! - SQLCipher: the plaintext tables of `raw` in an encrypted database, imported and
//!   read the same way as the plaintext baseline (same transactions, same queries,
//!   same durability settings).
//!
//! The figures are the import (examinees per second) and, as `lookup_*`, the reads.
//!
//! SQLite in this process must be SQLCipher: a build with `--features sqlcipher` links
//! the SQLCipher amalgamation (with the system's libcrypto) in place of SQLite, for the
//! vault too (SQLCipher 4.5.7 is SQLite 3.45.3; the default build has 3.46.0). Opened
//! without a key, a SQLCipher database is a plain SQLite file, which is how the vault's
//! runs; the check on the encrypted file's header makes sure the baseline really was
//! encrypted.

use std::io::Read as _;
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::Row;
use vault_core::crypto::Dek;
use vault_core::import::{import_file, ImportOptions, Quiet};
use vault_core::store::{sqlite_options, Backend};
use vault_core::vault::Vault;

use super::db::BenchDb;
use super::import::{generate, scratch};
use super::lookup::{exam_numbers, read_raw, read_vault};
use super::{
    connect_options, open_vault, raw, round3, BackendKind, BenchError, BenchOptions, Report,
    Scenario,
};

/// Why the scenario cannot run in a build without SQLCipher.
pub(super) const NEEDS_FEATURE: &str = "the sqlcipher scenario needs SQLite built as SQLCipher: \
     cargo run --release -p vault-bench --features sqlcipher -- sqlcipher";

/// The first 16 bytes of every plain SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// A fresh 256-bit key from the operating system's generator (the way the vault makes
/// a data key), as SQLCipher's raw-key hex.
fn random_key_hex() -> Result<String, BenchError> {
    let key = Dek::generate()?;
    Ok(key
        .expose_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Opens `file` as a SQLCipher database under `key_hex` (raw key: no key derivation),
/// with the vault's connection settings ([`sqlite_options`]).
async fn open_encrypted(
    file: &Path,
    key_hex: &str,
    opts: &BenchOptions,
) -> Result<Backend, BenchError> {
    let url = format!("sqlite://{}", file.display());
    // sqlx issues `key` before every other pragma, as SQLCipher requires.
    let co =
        sqlite_options(&url, &connect_options(opts))?.pragma("key", format!("\"x'{key_hex}'\""));
    let pool = SqlitePoolOptions::new()
        .max_connections(opts.connections)
        .test_before_acquire(false)
        .connect_with(co)
        .await?;
    Ok(Backend::Sqlite(pool))
}

/// SQLCipher's version (`None` when SQLite in this process is not SQLCipher) and
/// SQLite's.
async fn versions(backend: &Backend) -> Result<(Option<String>, String), BenchError> {
    let Backend::Sqlite(pool) = backend else {
        return Err(BenchError::Unsupported("SQLite only".into()));
    };
    let cipher = match sqlx::query("PRAGMA cipher_version")
        .fetch_optional(pool)
        .await?
    {
        Some(r) => Some(r.try_get::<String, _>(0)?),
        None => None,
    };
    let sqlite: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(pool)
        .await?;
    Ok((cipher, sqlite))
}

/// Whether `file` starts like a plain SQLite database.
fn looks_plain(file: &Path) -> Result<bool, BenchError> {
    let mut head = [0u8; 16];
    std::fs::File::open(file)?.read_exact(&mut head)?;
    Ok(&head == SQLITE_HEADER)
}

pub(super) async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    if opts.backend != BackendKind::Sqlite {
        return Err(BenchError::Unsupported(
            "the sqlcipher scenario compares with the vault on SQLite: --backend sqlite".into(),
        ));
    }
    if !cfg!(feature = "sqlcipher") {
        return Err(BenchError::Unsupported(NEEDS_FEATURE.into()));
    }
    let mut report = Report::new(Scenario::Sqlcipher, opts, "examinees");
    let dir = scratch(opts)?;
    let file = generate(dir.path(), opts.records, opts.seed)?;
    let exams = exam_numbers(opts);
    let co = connect_options(opts);

    // The vault: import, then reads.
    let db = BenchDb::create(opts.backend, dir.path(), "vault", &opts.pg_url, &co).await?;
    let vault: Vault = open_vault(&db.backend, dir.path(), opts).await?;
    let started = Instant::now();
    let summary = import_file(
        &vault,
        &file,
        &ImportOptions::new()
            .batch_lines(opts.batch)
            .workers(opts.workers),
        &mut Quiet,
    )
    .await?;
    let vault_import = started.elapsed();
    if summary.imported_lines != opts.records {
        return Err(BenchError::Check(
            "the vault's import left lines out".into(),
        ));
    }
    let (vault_reads, vault_lat) = read_vault(&vault, exams.clone(), opts.readers).await?;
    vault.audit().close().await;
    db.drop_db().await;

    // SQLCipher: the plaintext tables in an encrypted database.
    let cipher_file = dir.path().join("sqlcipher.db");
    let cipher = open_encrypted(&cipher_file, &random_key_hex()?, opts).await?;
    let (cipher_version, sqlite_version) = versions(&cipher).await?;
    let Some(cipher_version) = cipher_version else {
        cipher.close().await;
        return Err(BenchError::Unsupported(NEEDS_FEATURE.into()));
    };
    raw::create_tables(&cipher).await?;
    let started = Instant::now();
    let lines = raw::import(&cipher, &file, opts.batch).await?;
    let cipher_import = started.elapsed();
    if lines != opts.records {
        return Err(BenchError::Check(format!(
            "SQLCipher took {lines} of {} lines",
            opts.records
        )));
    }
    let (cipher_reads, cipher_lat) = read_raw(&cipher, exams.clone(), opts.readers).await?;
    cipher.close().await;
    if looks_plain(&cipher_file)? {
        return Err(BenchError::Check(
            "the SQLCipher database file is not encrypted".into(),
        ));
    }

    report.timed(opts.records, vault_import, cipher_import);
    report.extra.insert(
        "vault_records_per_sec".into(),
        json!((summary.counts.records() as f64 / vault_import.as_secs_f64()).round()),
    );
    let reads = exams.len() as u64;
    let rate = |d: std::time::Duration| (reads as f64 / d.as_secs_f64().max(1e-9)).round();
    let (v, c) = (rate(vault_reads), rate(cipher_reads));
    report.extra.insert("lookup_reads".into(), json!(reads));
    report.extra.insert("lookup_vault_per_sec".into(), json!(v));
    report
        .extra
        .insert("lookup_baseline_per_sec".into(), json!(c));
    report
        .extra
        .insert("lookup_ratio".into(), json!(round3(v / c.max(1e-9))));
    report.latencies(&vault_lat, &cipher_lat);
    report
        .extra
        .insert("cipher_version".into(), json!(cipher_version));
    report
        .extra
        .insert("sqlite_version".into(), json!(sqlite_version));
    report.extra.insert("readers".into(), json!(opts.readers));
    drop(dir);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    /// The header check tells a plain SQLite file from anything else: a database made
    /// by this build without a key is plain, sixteen other bytes are not.
    #[tokio::test]
    async fn the_header_check_recognises_a_plain_database() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("plain.db");
        let co = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .expect("url")
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(co)
            .await
            .expect("open");
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .expect("create");
        pool.close().await;
        assert!(looks_plain(&file).expect("read"));

        let other = dir.path().join("other.db");
        std::fs::write(&other, [0x5au8; 4096]).expect("write");
        assert!(!looks_plain(&other).expect("read"));
    }

    #[test]
    fn a_raw_key_is_64_hex_digits_and_fresh_each_time() {
        let a = random_key_hex().expect("key");
        let b = random_key_hex().expect("key");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
