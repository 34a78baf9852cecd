//! `pgcrypto` (PostgreSQL only): encrypting N field values (generated addresses) and
//! storing them, the vault's way against PostgreSQL's pgcrypto.
//!
//! - vault: each value sealed in the process with AES-256-GCM under a subject data key
//!   (one fresh key per 16 values, about one examinee's fields, its generation
//!   included), bound to record and field, then inserted as `bytea`;
//! - baseline `pgp_sym_encrypt(value, password)` (OpenPGP, its default S2K and cipher)
//!   computed by the server in the `INSERT`;
//! - second baseline `encrypt_iv(value, key, iv, 'aes')` (raw AES-256-CBC with a fixed
//!   IV, no integrity: shown for speed only).
//!
//! Each side inserts `batch` values per statement, one transaction each.

use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;
use vault_core::crypto::{AesGcmSealer, Dek, FieldAad, FieldSealer};
use vault_core::store::Backend;
use vault_policy::RecordKind;

use super::db::BenchDb;
use super::import::scratch;
use super::{connect_options, BackendKind, BenchError, BenchOptions, Report, Scenario};
use crate::{Generator, GeneratorConfig};

const FIELDS_PER_KEY: usize = 16;

pub(super) async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    if opts.backend != BackendKind::Postgres {
        return Err(BenchError::Unsupported(
            "the pgcrypto scenario runs on PostgreSQL only (--backend postgres)".into(),
        ));
    }
    let mut report = Report::new(Scenario::Pgcrypto, opts, "fields");
    let dir = scratch(opts)?;
    let db = BenchDb::create(
        opts.backend,
        dir.path(),
        "pgcrypto",
        &opts.pg_url,
        &connect_options(opts),
    )
    .await?;
    let Backend::Postgres(pool) = &db.backend else {
        return Err(BenchError::Unsupported("not PostgreSQL".into()));
    };
    for sql in [
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "CREATE TABLE bench_pgp (id BIGINT PRIMARY KEY, ct BYTEA NOT NULL)",
        "CREATE TABLE bench_iv (id BIGINT PRIMARY KEY, ct BYTEA NOT NULL)",
        "CREATE TABLE bench_vault (id BIGINT PRIMARY KEY, ct BYTEA NOT NULL)",
    ] {
        sqlx::query(sql).execute(pool).await.map_err(|e| {
            BenchError::Unsupported(format!(
                "{e} (pgcrypto comes with Debian's postgresql-contrib package)"
            ))
        })?;
    }
    let generator = Generator::new(GeneratorConfig::new(opts.seed));
    let n = usize::try_from(opts.records).unwrap_or(usize::MAX);
    let values: Vec<String> = (0..opts.records)
        .map(|i| generator.examinee(i).examinee.address)
        .collect();
    let ids: Vec<i64> = (0..n as i64).collect();
    let batch = opts.batch;

    // The vault: seal in the process, insert the ciphertexts.
    let started = Instant::now();
    let mut seal_time = Duration::ZERO;
    for (chunk_ids, chunk) in ids.chunks(batch).zip(values.chunks(batch)) {
        let t = Instant::now();
        let mut sealed = Vec::with_capacity(chunk.len());
        for group in chunk.chunks(FIELDS_PER_KEY) {
            let dek = Dek::generate()?;
            let record_id = Uuid::new_v4();
            let aad = FieldAad {
                record_kind: RecordKind::Examinee,
                record_id,
                field: "address",
            };
            for v in group {
                sealed.push(AesGcmSealer.seal(&dek, &aad, v.as_bytes())?);
            }
        }
        seal_time += t.elapsed();
        sqlx::query("INSERT INTO bench_vault SELECT * FROM UNNEST($1::bigint[], $2::bytea[])")
            .bind(chunk_ids)
            .bind(sealed)
            .execute(pool)
            .await?;
    }
    let vault_time = started.elapsed();

    // pgp_sym_encrypt, computed by the server.
    let started = Instant::now();
    for (chunk_ids, chunk) in ids.chunks(batch).zip(values.chunks(batch)) {
        sqlx::query(
            "INSERT INTO bench_pgp SELECT i, pgp_sym_encrypt(v, $3) \
             FROM UNNEST($1::bigint[], $2::text[]) AS t(i, v)",
        )
        .bind(chunk_ids)
        .bind(chunk)
        .bind("bench-password-not-a-secret")
        .execute(pool)
        .await?;
    }
    let pgp_time = started.elapsed();

    // encrypt_iv (AES-256-CBC, fixed IV).
    let started = Instant::now();
    for (chunk_ids, chunk) in ids.chunks(batch).zip(values.chunks(batch)) {
        sqlx::query(
            "INSERT INTO bench_iv SELECT i, encrypt_iv(convert_to(v, 'UTF8'), $3, $4, 'aes') \
             FROM UNNEST($1::bigint[], $2::text[]) AS t(i, v)",
        )
        .bind(chunk_ids)
        .bind(chunk)
        .bind(vec![7u8; 32])
        .bind(vec![9u8; 16])
        .execute(pool)
        .await?;
    }
    let iv_time = started.elapsed();

    report.timed(opts.records, vault_time, pgp_time);
    let rate = |d: Duration| (opts.records as f64 / d.as_secs_f64().max(1e-9)).round();
    report
        .extra
        .insert("baseline".into(), json!("pgp_sym_encrypt"));
    report
        .extra
        .insert("encrypt_iv_per_sec".into(), json!(rate(iv_time)));
    report.extra.insert(
        "ratio_vs_encrypt_iv".into(),
        json!(((rate(vault_time) / rate(iv_time).max(1e-9)) * 1000.0).round() / 1000.0),
    );
    report
        .extra
        .insert("vault_seal_only_per_sec".into(), json!(rate(seal_time)));
    db.drop_db().await;
    Ok(report)
}
