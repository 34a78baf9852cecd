//! `rewrap`: key rotation. N data keys (examinees with a general and a My Number key)
//! are wrapped under KEK version 1; then both KEKs are rotated
//! ([`Keyring::rotate`]) and every key is re-wrapped under the new version in batches
//! ([`Store::list_keys_for_rewrap`], [`KeyProvider::rewrap_dek`],
//! [`WriteOp::RewrapKey`], one transaction per batch). The baseline walks a copy of the
//! same rows the same way and `UPDATE`s them with new bytes made without cryptography.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;
use uuid::fmt::Hyphenated;
use uuid::Uuid;
use vault_core::crypto::{Compartment, Dek, KeyProvider, Keyring, WrappedDek};
use vault_core::store::{
    new_id, open_store, Backend, KeyCompartment, KeyRow, Store, SubjectKind, SubjectRow,
    WriteBatch, WriteOp,
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
        let subject_id = new_id();
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

/// Re-wraps `keys` under the active KEK version of `c`.
fn rewrap_part(
    keyring: &Keyring,
    c: Compartment,
    keys: &[KeyRow],
) -> Result<Vec<WriteOp>, BenchError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let old = WrappedDek::from_bytes(&key.wrapped)?;
        if let Some(new) = keyring.rewrap_dek(c, key.subject_id, &old)? {
            out.push(WriteOp::RewrapKey {
                key: KeyRow {
                    kek_id: new.kek_id().to_owned(),
                    kek_version: new.kek_version(),
                    wrapped: new.as_bytes().to_vec(),
                    ..key.clone()
                },
                expected_kek_id: key.kek_id.clone(),
                expected_kek_version: key.kek_version,
            });
        }
    }
    Ok(out)
}

/// Waits for the previous batch's transaction.
async fn settle(
    pending: &mut Option<tokio::task::JoinHandle<Result<(), BenchError>>>,
) -> Result<(), BenchError> {
    match pending.take() {
        Some(h) => h
            .await
            .map_err(|_| BenchError::Check("write task failed".into()))?,
        None => Ok(()),
    }
}

/// Re-wraps every key below the active KEK version; answers the number re-wrapped.
///
/// Pipelined: while one batch's transaction commits, the next page is listed and
/// re-wrapped (pages are disjoint ranges of subject ids).
async fn rewrap_all(
    store: &Arc<dyn Store>,
    keyring: &Keyring,
    batch: u32,
) -> Result<u64, BenchError> {
    let mut done = 0u64;
    let mut pending = None;
    for (c, _) in COMPARTMENTS {
        let active = keyring.active_kek(c).version;
        let mut after = None;
        loop {
            let keys = store
                .list_keys_for_rewrap(c.kek_id(), active, after, batch)
                .await?;
            let Some(last) = keys.last() else { break };
            after = Some(last.subject_id);
            let part = rewrap_part(keyring, c, &keys)?;
            done += part.len() as u64;
            let mut write = WriteBatch::with_capacity(part.len());
            write.extend(part);
            settle(&mut pending).await?;
            let store = store.clone();
            pending = Some(tokio::spawn(async move {
                store.apply(write).await.map_err(BenchError::from)
            }));
        }
    }
    settle(&mut pending).await?;
    Ok(done)
}

/// Rows per `UPDATE` of the baseline on SQLite: as many as the store's re-wrap
/// statement takes (`REWRAP_CHUNK` in vault-core's SQLite store).
const UPDATE_CHUNK: usize = 1024;

async fn copy_keys(backend: &Backend) -> Result<(), BenchError> {
    let ddl: &[&str] = match backend {
        Backend::Sqlite(_) => &[
            "CREATE TABLE raw_subject_keys (subject_id TEXT NOT NULL, compartment TEXT NOT NULL, \
             kek_id TEXT NOT NULL, kek_version INTEGER NOT NULL, wrapped BLOB NOT NULL, \
             PRIMARY KEY (subject_id, compartment)) STRICT, WITHOUT ROWID",
            "INSERT INTO raw_subject_keys SELECT subject_id, compartment, kek_id, kek_version, \
             wrapped FROM subject_keys",
        ],
        Backend::Postgres(_) => &[
            "CREATE TABLE raw_subject_keys (subject_id UUID NOT NULL, compartment TEXT NOT NULL, \
             kek_id TEXT NOT NULL, kek_version BIGINT NOT NULL, wrapped BYTEA NOT NULL, \
             PRIMARY KEY (subject_id, compartment))",
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

/// The baseline: the same walk and the same multi-row `UPDATE` as the store runs for
/// `RewrapKey`s, on the copy, with new bytes made without cryptography, pipelined the
/// same way.
async fn update_all(backend: &Backend, batch: u32) -> Result<u64, BenchError> {
    let mut done = 0u64;
    let mut pending = None;
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
            let rows: Vec<(Uuid, Vec<u8>)> = rows
                .into_iter()
                .map(|(s, mut w)| {
                    if let Some(b) = w.last_mut() {
                        *b ^= 1;
                    }
                    (s, w)
                })
                .collect();
            settle(&mut pending).await?;
            let backend = backend.clone();
            pending = Some(tokio::spawn(async move {
                update_rows(&backend, kc, rows).await
            }));
        }
    }
    settle(&mut pending).await?;
    Ok(done)
}

/// One baseline batch: a multi-row `UPDATE` of `rows` in one transaction.
async fn update_rows(
    backend: &Backend,
    kc: KeyCompartment,
    rows: Vec<(Uuid, Vec<u8>)>,
) -> Result<(), BenchError> {
    let kek_id = kc.as_str();
    match backend {
        Backend::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for chunk in rows.chunks(UPDATE_CHUNK) {
                let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "WITH v (subject_id, compartment, kek_id, kek_version, wrapped, \
                             old_kek_id, old_kek_version) AS (",
                );
                qb.push_values(chunk, |mut b, (s, w)| {
                    b.push_bind(s.hyphenated())
                        .push_bind(kc.as_str())
                        .push_bind(kek_id)
                        .push_bind(2i64)
                        .push_bind(w.clone())
                        .push_bind(kek_id)
                        .push_bind(1i64);
                });
                qb.push(
                    ") UPDATE raw_subject_keys SET kek_id = v.kek_id, \
                             kek_version = v.kek_version, wrapped = v.wrapped FROM v \
                             WHERE raw_subject_keys.subject_id = v.subject_id \
                             AND raw_subject_keys.compartment = v.compartment \
                             AND raw_subject_keys.kek_id = v.old_kek_id \
                             AND raw_subject_keys.kek_version = v.old_kek_version",
                );
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Backend::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let n = rows.len();
            let (subjects, wrapped): (Vec<Uuid>, Vec<Vec<u8>>) = rows.into_iter().unzip();
            sqlx::query(
                "UPDATE raw_subject_keys AS k SET kek_id = v.kek_id, \
                         kek_version = v.kek_version, wrapped = v.wrapped FROM UNNEST($1::uuid[], \
                         $2::text[], $3::text[], $4::int8[], $5::bytea[], $6::text[], $7::int8[]) \
                         AS v(subject_id, compartment, kek_id, kek_version, wrapped, old_kek_id, \
                         old_kek_version) WHERE k.subject_id = v.subject_id \
                         AND k.compartment = v.compartment AND k.kek_id = v.old_kek_id \
                         AND k.kek_version = v.old_kek_version",
            )
            .bind(subjects)
            .bind(vec![kc.as_str(); n])
            .bind(vec![kek_id; n])
            .bind(vec![2i64; n])
            .bind(wrapped)
            .bind(vec![kek_id; n])
            .bind(vec![1i64; n])
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
    }
    Ok(())
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
    let rewrapped = rewrap_all(&store, &keyring, batch).await?;
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
