//! `rewrap`: key rotation. N data keys (examinees with a general and a My Number key)
//! are wrapped under KEK version 1; then both KEKs are rotated
//! ([`Keyring::rotate`]) and every key is re-wrapped under the new version in batches
//! ([`Store::list_keys_for_rewrap`], [`KeyProvider::rewrap_dek`],
//! [`WriteOp::RewrapKey`], one transaction per batch). The baseline walks a copy of the
//! same rows the same way and `UPDATE`s them with new bytes made without cryptography.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;
use uuid::fmt::Hyphenated;
use uuid::Uuid;
use vault_core::crypto::{Compartment, Dek, KeyProvider, Keyring, WrappedDek};
use vault_core::store::{
    open_store, Backend, KeyCompartment, KeyRow, Store, SubjectKind, SubjectRow, WriteBatch,
    WriteOp,
};

use super::db::BenchDb;
use super::import::scratch;
use super::{connect_options, BenchError, BenchOptions, Report, Scenario};

const COMPARTMENTS: [(Compartment, KeyCompartment); 2] = [
    (Compartment::General, KeyCompartment::General),
    (Compartment::MyNumber, KeyCompartment::MyNumber),
];

/// Subjects `0..n.div_ceil(2)`, each with a general key and (all but possibly the last)
/// a My Number key: `n` keys in all.
async fn populate(store: &dyn Store, keyring: &Keyring, n: u64) -> Result<(), BenchError> {
    let subjects = n.div_ceil(2);
    let now = chrono::Utc::now();
    let mut made = 0u64;
    let mut batch = WriteBatch::new();
    for s in 0..subjects {
        let subject_id = Uuid::new_v4();
        batch.insert_subject(SubjectRow {
            subject_id,
            kind: SubjectKind::Examinee,
            prefecture_code: "13".into(),
            status: "active".into(),
            suspended: false,
            created_at: now,
            updated_at: now,
        });
        for (c, kc) in COMPARTMENTS {
            if made == n {
                break;
            }
            let wrapped = keyring.wrap_dek(c, subject_id, &Dek::generate()?)?;
            batch.upsert_key(KeyRow {
                subject_id,
                compartment: kc,
                kek_id: wrapped.kek_id().to_owned(),
                kek_version: wrapped.kek_version(),
                wrapped: wrapped.as_bytes().to_vec(),
            });
            made += 1;
        }
        if batch.len() >= 15_000 || s + 1 == subjects {
            store.apply(std::mem::take(&mut batch)).await?;
        }
    }
    Ok(())
}

/// Re-wraps every key below the active KEK version; answers the number re-wrapped.
async fn rewrap_all(store: &dyn Store, keyring: &Keyring, batch: u32) -> Result<u64, BenchError> {
    let mut done = 0u64;
    for (c, _) in COMPARTMENTS {
        let active = keyring.active_kek(c).version;
        let mut after = None;
        loop {
            let keys = store
                .list_keys_for_rewrap(c.kek_id(), active, after, batch)
                .await?;
            let Some(last) = keys.last() else { break };
            after = Some(last.subject_id);
            let mut write = WriteBatch::with_capacity(keys.len());
            for key in keys {
                let old = WrappedDek::from_bytes(&key.wrapped)?;
                if let Some(new) = keyring.rewrap_dek(c, key.subject_id, &old)? {
                    write.push(WriteOp::RewrapKey {
                        key: KeyRow {
                            kek_id: new.kek_id().to_owned(),
                            kek_version: new.kek_version(),
                            wrapped: new.as_bytes().to_vec(),
                            ..key.clone()
                        },
                        expected_kek_id: key.kek_id,
                        expected_kek_version: key.kek_version,
                    });
                    done += 1;
                }
            }
            store.apply(write).await?;
        }
    }
    Ok(done)
}

async fn copy_keys(backend: &Backend) -> Result<(), BenchError> {
    let ddl: &[&str] = match backend {
        Backend::Sqlite(_) => &[
            "CREATE TABLE raw_subject_keys (subject_id TEXT NOT NULL, compartment TEXT NOT NULL, \
             kek_id TEXT NOT NULL, kek_version INTEGER NOT NULL, wrapped BLOB NOT NULL, \
             PRIMARY KEY (subject_id, compartment)) STRICT, WITHOUT ROWID",
            "CREATE INDEX raw_subject_keys_by_kek ON raw_subject_keys (kek_id, kek_version, subject_id)",
            "INSERT INTO raw_subject_keys SELECT subject_id, compartment, kek_id, kek_version, \
             wrapped FROM subject_keys",
        ],
        Backend::Postgres(_) => &[
            "CREATE TABLE raw_subject_keys (subject_id UUID NOT NULL, compartment TEXT NOT NULL, \
             kek_id TEXT NOT NULL, kek_version BIGINT NOT NULL, wrapped BYTEA NOT NULL, \
             PRIMARY KEY (subject_id, compartment))",
            "CREATE INDEX raw_subject_keys_by_kek ON raw_subject_keys (kek_id, kek_version, subject_id)",
            "INSERT INTO raw_subject_keys SELECT subject_id, compartment, kek_id, kek_version, \
             wrapped FROM subject_keys",
        ],
    };
    for sql in ddl {
        match backend {
            Backend::Sqlite(p) => {
                sqlx::query(sql).execute(p).await?;
            }
            Backend::Postgres(p) => {
                sqlx::query(sql).execute(p).await?;
            }
        }
    }
    Ok(())
}

/// The baseline: the same walk and the same per-row `UPDATE` as the store's
/// `RewrapKey`, on the copy, with new bytes made without cryptography.
async fn update_all(backend: &Backend, batch: u32) -> Result<u64, BenchError> {
    let mut done = 0u64;
    for (_, kc) in COMPARTMENTS {
        let kek_id = kc.as_str();
        let mut after: Option<Uuid> = None;
        loop {
            let rows: Vec<(Uuid, Vec<u8>)> = match backend {
                Backend::Sqlite(pool) => sqlx::query(
                    "SELECT subject_id, wrapped FROM raw_subject_keys WHERE kek_id = ? \
                     AND kek_version < 2 AND subject_id > ? ORDER BY subject_id, compartment LIMIT ?",
                )
                .bind(kek_id)
                .bind(after.unwrap_or_default().hyphenated())
                .bind(i64::from(batch))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get::<Hyphenated, _>("subject_id")?.into_uuid(),
                        r.try_get("wrapped")?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?,
                Backend::Postgres(pool) => sqlx::query(
                    "SELECT subject_id, wrapped FROM raw_subject_keys WHERE kek_id = $1 \
                     AND kek_version < 2 AND subject_id > $2 ORDER BY subject_id, compartment LIMIT $3",
                )
                .bind(kek_id)
                .bind(after.unwrap_or_default())
                .bind(i64::from(batch))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("subject_id")?, r.try_get("wrapped")?)))
                .collect::<Result<_, sqlx::Error>>()?,
            };
            let Some(last) = rows.last() else { break };
            after = Some(last.0);
            done += rows.len() as u64;
            match backend {
                Backend::Sqlite(pool) => {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    for (s, mut w) in rows {
                        if let Some(b) = w.last_mut() {
                            *b ^= 1;
                        }
                        sqlx::query(
                            "UPDATE raw_subject_keys SET kek_id = ?, kek_version = ?, wrapped = ? \
                             WHERE subject_id = ? AND compartment = ? AND kek_id = ? AND kek_version = ?",
                        )
                        .bind(kek_id)
                        .bind(2i64)
                        .bind(w)
                        .bind(s.hyphenated())
                        .bind(kc.as_str())
                        .bind(kek_id)
                        .bind(1i64)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                }
                Backend::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    for (s, mut w) in rows {
                        if let Some(b) = w.last_mut() {
                            *b ^= 1;
                        }
                        sqlx::query(
                            "UPDATE raw_subject_keys SET kek_id = $1, kek_version = $2, wrapped = $3 \
                             WHERE subject_id = $4 AND compartment = $5 AND kek_id = $6 AND kek_version = $7",
                        )
                        .bind(kek_id)
                        .bind(2i64)
                        .bind(w)
                        .bind(s)
                        .bind(kc.as_str())
                        .bind(kek_id)
                        .bind(1i64)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                }
            }
        }
    }
    Ok(done)
}

pub(super) async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let mut report = Report::new(Scenario::Rewrap, opts, "deks");
    let dir = scratch(opts)?;
    let co = connect_options(opts);
    let db = BenchDb::create(opts.backend, dir.path(), "rewrap", &opts.pg_url, &co).await?;
    let store = open_store(db.backend.clone());
    let mut keyring = Keyring::generate()?;
    let setup = Instant::now();
    populate(store.as_ref(), &keyring, opts.records).await?;
    copy_keys(&db.backend).await?;
    report.extra.insert(
        "setup_secs".into(),
        json!(setup.elapsed().as_secs_f64().round()),
    );
    let batch = u32::try_from(opts.batch).unwrap_or(u32::MAX);

    let started = Instant::now();
    for (c, _) in COMPARTMENTS {
        keyring.rotate(c.kek_id())?;
    }
    let rewrapped = rewrap_all(store.as_ref(), &keyring, batch).await?;
    let vault_time: Duration = started.elapsed();
    if rewrapped != opts.records {
        return Err(BenchError::Check(format!(
            "re-wrapped {rewrapped} of {} keys",
            opts.records
        )));
    }
    let left: u64 = store
        .count_keys_by_kek()
        .await?
        .iter()
        .filter(|c| c.kek_version < 2)
        .map(|c| c.count)
        .sum();
    if left != 0 {
        return Err(BenchError::Check(format!(
            "{left} keys left under version 1"
        )));
    }

    let started = Instant::now();
    let updated = update_all(&db.backend, batch).await?;
    let baseline_time = started.elapsed();
    if updated != opts.records {
        return Err(BenchError::Check(format!(
            "the baseline updated {updated} of {} rows",
            opts.records
        )));
    }
    report.timed(opts.records, vault_time, baseline_time);
    report.extra.insert("batch".into(), json!(opts.batch));
    db.drop_db().await;
    Ok(report)
}
