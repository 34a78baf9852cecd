//! The PostgreSQL backend of the record store (shared by several vault instances).
//!
//! Bulk inserts bind one array per column and insert `FROM UNNEST(…)`: one fixed
//! prepared statement per table whatever the batch size, one round trip per table.
//! Tenant scope is `prefecture_code = ANY($n)`, also one statement for any set of codes.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;
use vault_policy::{RecordKind, TenantScope};

use super::batch::{chunks, plan, Rewrap, Step, WriteBatch, WriteOp};
use super::rows::{
    parse_record_kind, version_u32, HistoryRow, ImportProgressRow, IndexHit, IndexRow,
    IndexedRecord, KekCount, KeyCompartment, KeyRow, MyNumberRow, RecordOwner, RecordQuery,
    RecordRow, RecordUpdate, SubjectKind, SubjectRow,
};
use super::{micros, run_detached, sql_limit, Store, StoreError};

/// Rows per `UNNEST` insert: bounds the size of one bind message.
const INSERT_CHUNK: usize = 4096;

const RECORD_COLUMNS: &str = "record_id, kind, subject_id, parent_id, prefecture_code, \
     fiscal_year, clock_date, status, version, sealed, created_at, updated_at";

/// The record store on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store on a pool opened by [`connect`](super::connect) (migrations applied).
    pub fn new(pool: PgPool) -> PgStore {
        PgStore { pool }
    }
}

/// Appends the tenant filter on `column`. An empty set gives `= ANY('{}')`: no row.
fn push_scope(qb: &mut QueryBuilder<'_, Postgres>, column: &str, scope: &TenantScope) {
    if let TenantScope::Only(codes) = scope {
        let codes: Vec<String> = codes.iter().cloned().collect();
        qb.push(" AND ")
            .push(column)
            .push(" = ANY(")
            .push_bind(codes)
            .push(")");
    }
}

fn subject_from_row(row: &PgRow) -> Result<SubjectRow, StoreError> {
    Ok(SubjectRow {
        subject_id: row.try_get("subject_id")?,
        kind: SubjectKind::parse(row.try_get("kind")?)?,
        prefecture_code: row.try_get("prefecture_code")?,
        status: row.try_get("status")?,
        suspended: row.try_get("suspended")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn key_from_row(row: &PgRow) -> Result<KeyRow, StoreError> {
    Ok(KeyRow {
        subject_id: row.try_get("subject_id")?,
        compartment: KeyCompartment::parse(row.try_get("compartment")?)?,
        kek_id: row.try_get("kek_id")?,
        kek_version: version_u32(row.try_get("kek_version")?, "subject_keys.kek_version")?,
        wrapped: row.try_get("wrapped")?,
    })
}

fn record_from_row(row: &PgRow) -> Result<RecordRow, StoreError> {
    Ok(RecordRow {
        record_id: row.try_get("record_id")?,
        kind: parse_record_kind(row.try_get("kind")?)?,
        subject_id: row.try_get("subject_id")?,
        parent_id: row.try_get("parent_id")?,
        prefecture_code: row.try_get("prefecture_code")?,
        fiscal_year: row.try_get("fiscal_year")?,
        clock_date: row.try_get("clock_date")?,
        status: row.try_get("status")?,
        version: row.try_get("version")?,
        sealed: row.try_get("sealed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn history_from_row(row: &PgRow) -> Result<HistoryRow, StoreError> {
    Ok(HistoryRow {
        record_id: row.try_get("record_id")?,
        version: row.try_get("version")?,
        changed_at: row.try_get("changed_at")?,
        actor_id: row.try_get("actor_id")?,
        sealed: row.try_get("sealed")?,
    })
}

fn my_number_from_row(row: &PgRow) -> Result<MyNumberRow, StoreError> {
    Ok(MyNumberRow {
        subject_id: row.try_get("subject_id")?,
        sealed: row.try_get("sealed")?,
        clock_date: row.try_get("clock_date")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn insert_subjects(conn: &mut PgConnection, rows: Vec<SubjectRow>) -> Result<(), StoreError> {
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut ids = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut prefs = Vec::with_capacity(n);
        let mut statuses = Vec::with_capacity(n);
        let mut suspended = Vec::with_capacity(n);
        let mut created: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        let mut updated: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        for r in chunk {
            ids.push(r.subject_id);
            kinds.push(r.kind.as_str());
            prefs.push(r.prefecture_code);
            statuses.push(r.status);
            suspended.push(r.suspended);
            created.push(micros(r.created_at));
            updated.push(micros(r.updated_at));
        }
        sqlx::query(
            "INSERT INTO subjects (subject_id, kind, prefecture_code, status, suspended, \
             created_at, updated_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[], \
             $6::timestamptz[], $7::timestamptz[])",
        )
        .bind(ids)
        .bind(kinds)
        .bind(prefs)
        .bind(statuses)
        .bind(suspended)
        .bind(created)
        .bind(updated)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn upsert_keys(conn: &mut PgConnection, rows: Vec<KeyRow>) -> Result<(), StoreError> {
    // `plan` leaves at most one row per (subject, compartment): ON CONFLICT DO UPDATE
    // may not touch a row twice in one statement.
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut ids = Vec::with_capacity(n);
        let mut compartments = Vec::with_capacity(n);
        let mut kek_ids = Vec::with_capacity(n);
        let mut kek_versions = Vec::with_capacity(n);
        let mut wrapped = Vec::with_capacity(n);
        for r in chunk {
            ids.push(r.subject_id);
            compartments.push(r.compartment.as_str());
            kek_ids.push(r.kek_id);
            kek_versions.push(i64::from(r.kek_version));
            wrapped.push(r.wrapped);
        }
        sqlx::query(
            "INSERT INTO subject_keys (subject_id, compartment, kek_id, kek_version, wrapped) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::bytea[]) \
             ON CONFLICT (subject_id, compartment) DO UPDATE SET kek_id = EXCLUDED.kek_id, \
             kek_version = EXCLUDED.kek_version, wrapped = EXCLUDED.wrapped",
        )
        .bind(ids)
        .bind(compartments)
        .bind(kek_ids)
        .bind(kek_versions)
        .bind(wrapped)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_records(conn: &mut PgConnection, rows: Vec<RecordRow>) -> Result<(), StoreError> {
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut ids = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut subjects = Vec::with_capacity(n);
        let mut parents: Vec<Option<Uuid>> = Vec::with_capacity(n);
        let mut prefs = Vec::with_capacity(n);
        let mut years: Vec<Option<i32>> = Vec::with_capacity(n);
        let mut clocks: Vec<Option<NaiveDate>> = Vec::with_capacity(n);
        let mut statuses: Vec<Option<String>> = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut sealed = Vec::with_capacity(n);
        let mut created: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        let mut updated: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        for r in chunk {
            ids.push(r.record_id);
            kinds.push(r.kind.as_str());
            subjects.push(r.subject_id);
            parents.push(r.parent_id);
            prefs.push(r.prefecture_code);
            years.push(r.fiscal_year);
            clocks.push(r.clock_date);
            statuses.push(r.status);
            versions.push(r.version);
            sealed.push(r.sealed);
            created.push(micros(r.created_at));
            updated.push(micros(r.updated_at));
        }
        sqlx::query(
            "INSERT INTO records (record_id, kind, subject_id, parent_id, prefecture_code, \
             fiscal_year, clock_date, status, version, sealed, created_at, updated_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], \
             $6::int4[], $7::date[], $8::text[], $9::int8[], $10::bytea[], \
             $11::timestamptz[], $12::timestamptz[])",
        )
        .bind(ids)
        .bind(kinds)
        .bind(subjects)
        .bind(parents)
        .bind(prefs)
        .bind(years)
        .bind(clocks)
        .bind(statuses)
        .bind(versions)
        .bind(sealed)
        .bind(created)
        .bind(updated)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_history(conn: &mut PgConnection, rows: Vec<HistoryRow>) -> Result<(), StoreError> {
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut ids = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut changed: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        let mut actors = Vec::with_capacity(n);
        let mut sealed = Vec::with_capacity(n);
        for r in chunk {
            ids.push(r.record_id);
            versions.push(r.version);
            changed.push(micros(r.changed_at));
            actors.push(r.actor_id);
            sealed.push(r.sealed);
        }
        sqlx::query(
            "INSERT INTO record_history (record_id, version, changed_at, actor_id, sealed) \
             SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::timestamptz[], $4::text[], \
             $5::bytea[])",
        )
        .bind(ids)
        .bind(versions)
        .bind(changed)
        .bind(actors)
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_indexes(conn: &mut PgConnection, rows: Vec<IndexRow>) -> Result<(), StoreError> {
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut fields = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut digests: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut records = Vec::with_capacity(n);
        let mut subjects = Vec::with_capacity(n);
        let mut prefs = Vec::with_capacity(n);
        let mut unique = Vec::with_capacity(n);
        for r in chunk {
            fields.push(r.field);
            versions.push(i64::from(r.key_version));
            digests.push(r.digest.to_vec());
            records.push(r.record_id);
            subjects.push(r.subject_id);
            prefs.push(r.prefecture_code);
            unique.push(r.is_unique);
        }
        sqlx::query(
            "INSERT INTO blind_index (field, key_version, digest, record_id, subject_id, \
             prefecture_code, is_unique) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::bytea[], $4::uuid[], $5::uuid[], \
             $6::text[], $7::bool[])",
        )
        .bind(fields)
        .bind(versions)
        .bind(digests)
        .bind(records)
        .bind(subjects)
        .bind(prefs)
        .bind(unique)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_my_numbers(
    conn: &mut PgConnection,
    rows: Vec<MyNumberRow>,
) -> Result<(), StoreError> {
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut ids = Vec::with_capacity(n);
        let mut sealed = Vec::with_capacity(n);
        let mut clocks: Vec<Option<NaiveDate>> = Vec::with_capacity(n);
        let mut created: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        for r in chunk {
            ids.push(r.subject_id);
            sealed.push(r.sealed);
            clocks.push(r.clock_date);
            created.push(micros(r.created_at));
        }
        sqlx::query(
            "INSERT INTO my_numbers (subject_id, sealed, clock_date, created_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::bytea[], $3::date[], $4::timestamptz[])",
        )
        .bind(ids)
        .bind(sealed)
        .bind(clocks)
        .bind(created)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn update_record(
    conn: &mut PgConnection,
    u: RecordUpdate,
    expected_version: i64,
) -> Result<(), StoreError> {
    // Under READ COMMITTED a concurrent update of the same row makes this one wait, then
    // re-check `version = $8` against the committed row: exactly one of them wins.
    let done = sqlx::query(
        "UPDATE records SET prefecture_code = $1, fiscal_year = $2, clock_date = $3, \
         status = $4, sealed = $5, updated_at = $6, version = version + 1 \
         WHERE record_id = $7 AND version = $8",
    )
    .bind(&u.prefecture_code)
    .bind(u.fiscal_year)
    .bind(u.clock_date)
    .bind(u.status)
    .bind(u.sealed)
    .bind(micros(u.updated_at))
    .bind(u.record_id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        let exists = sqlx::query("SELECT 1 FROM records WHERE record_id = $1")
            .bind(u.record_id)
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        return Err(if exists {
            StoreError::StaleVersion
        } else {
            StoreError::NotFound
        });
    }
    // Searches are scoped by the index rows' own prefecture code: keep it in step.
    sqlx::query(
        "UPDATE blind_index SET prefecture_code = $1 WHERE record_id = $2 AND prefecture_code <> $1",
    )
    .bind(&u.prefecture_code)
    .bind(u.record_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn delete_subject(conn: &mut PgConnection, subject_id: Uuid) -> Result<(), StoreError> {
    // Keys first: once they are gone every ciphertext of the subject is unreadable,
    // whatever happens to the rows below.
    for sql in [
        "DELETE FROM subject_keys WHERE subject_id = $1",
        "DELETE FROM my_numbers WHERE subject_id = $1",
        "DELETE FROM blind_index WHERE record_id IN \
         (SELECT record_id FROM records WHERE subject_id = $1)",
        "DELETE FROM record_history WHERE record_id IN \
         (SELECT record_id FROM records WHERE subject_id = $1)",
        "DELETE FROM records WHERE subject_id = $1",
        "DELETE FROM subjects WHERE subject_id = $1",
    ] {
        sqlx::query(sql)
            .bind(subject_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn delete_record(conn: &mut PgConnection, record_id: Uuid) -> Result<(), StoreError> {
    for sql in [
        "DELETE FROM blind_index WHERE record_id = $1",
        "DELETE FROM record_history WHERE record_id = $1",
        "DELETE FROM records WHERE record_id = $1",
    ] {
        sqlx::query(sql).bind(record_id).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn run_single(conn: &mut PgConnection, op: WriteOp) -> Result<(), StoreError> {
    match op {
        WriteOp::UpdateSubject {
            subject_id,
            prefecture_code,
            status,
            updated_at,
        } => {
            let done = sqlx::query(
                "UPDATE subjects SET prefecture_code = $1, status = $2, updated_at = $3 \
                 WHERE subject_id = $4",
            )
            .bind(prefecture_code)
            .bind(status)
            .bind(micros(updated_at))
            .bind(subject_id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        }
        WriteOp::SetSuspended {
            subject_id,
            suspended,
            updated_at,
        } => {
            let done = sqlx::query(
                "UPDATE subjects SET suspended = $1, updated_at = $2 WHERE subject_id = $3",
            )
            .bind(suspended)
            .bind(micros(updated_at))
            .bind(subject_id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        }
        WriteOp::DeleteSubject { subject_id } => delete_subject(conn, subject_id).await,
        WriteOp::RewrapKey {
            key,
            expected_kek_id,
            expected_kek_version,
        } => {
            sqlx::query(
                "UPDATE subject_keys SET kek_id = $1, kek_version = $2, wrapped = $3 \
                 WHERE subject_id = $4 AND compartment = $5 AND kek_id = $6 AND kek_version = $7",
            )
            .bind(key.kek_id)
            .bind(i64::from(key.kek_version))
            .bind(key.wrapped)
            .bind(key.subject_id)
            .bind(key.compartment.as_str())
            .bind(expected_kek_id)
            .bind(i64::from(expected_kek_version))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        WriteOp::UpdateRecord {
            update,
            expected_version,
        } => update_record(conn, update, expected_version).await,
        WriteOp::DeleteRecord { record_id } => delete_record(conn, record_id).await,
        WriteOp::DeleteIndexes { record_id, field } => {
            match field {
                Some(field) => {
                    sqlx::query("DELETE FROM blind_index WHERE record_id = $1 AND field = $2")
                        .bind(record_id)
                        .bind(field)
                        .execute(&mut *conn)
                        .await?
                }
                None => {
                    sqlx::query("DELETE FROM blind_index WHERE record_id = $1")
                        .bind(record_id)
                        .execute(&mut *conn)
                        .await?
                }
            };
            Ok(())
        }
        WriteOp::DeleteMyNumber { subject_id } => {
            sqlx::query("DELETE FROM my_numbers WHERE subject_id = $1")
                .bind(subject_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        WriteOp::SaveImportProgress(p) => {
            sqlx::query(
                "INSERT INTO import_progress (run_id, prefix_digest, lines, bytes, started_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO UPDATE SET \
                 prefix_digest = excluded.prefix_digest, lines = excluded.lines, \
                 bytes = excluded.bytes, updated_at = excluded.updated_at",
            )
            .bind(p.run_id)
            .bind(&p.prefix_digest[..])
            .bind(count_i64(p.lines)?)
            .bind(count_i64(p.bytes)?)
            .bind(micros(p.started_at))
            .bind(micros(p.updated_at))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        WriteOp::DeleteKey {
            subject_id,
            compartment,
        } => {
            sqlx::query("DELETE FROM subject_keys WHERE subject_id = $1 AND compartment = $2")
                .bind(subject_id)
                .bind(compartment.as_str())
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        // Inserts are grouped by `plan` and never arrive here; run them anyway.
        WriteOp::InsertSubject(r) => insert_subjects(conn, vec![r]).await,
        WriteOp::UpsertKey(r) => upsert_keys(conn, vec![r]).await,
        WriteOp::InsertRecord(r) => insert_records(conn, vec![r]).await,
        WriteOp::InsertHistory(r) => insert_history(conn, vec![r]).await,
        WriteOp::InsertIndex(r) => insert_indexes(conn, vec![r]).await,
        WriteOp::InsertMyNumber(r) => insert_my_numbers(conn, vec![r]).await,
    }
}

/// Re-wraps keys with one `UPDATE … FROM UNNEST(…)` per chunk; a key no longer under its
/// expected KEK version (re-wrapped or shredded meanwhile) is left as it is.
async fn rewrap_keys(conn: &mut PgConnection, rows: Vec<Rewrap>) -> Result<(), StoreError> {
    for chunk in chunks(rows, INSERT_CHUNK) {
        let n = chunk.len();
        let mut subject = Vec::with_capacity(n);
        let mut compartment = Vec::with_capacity(n);
        let mut kek_id = Vec::with_capacity(n);
        let mut kek_version = Vec::with_capacity(n);
        let mut wrapped = Vec::with_capacity(n);
        let mut old_kek_id = Vec::with_capacity(n);
        let mut old_kek_version = Vec::with_capacity(n);
        for r in chunk {
            subject.push(r.key.subject_id);
            compartment.push(r.key.compartment.as_str());
            kek_id.push(r.key.kek_id);
            kek_version.push(i64::from(r.key.kek_version));
            wrapped.push(r.key.wrapped);
            old_kek_id.push(r.expected_kek_id);
            old_kek_version.push(i64::from(r.expected_kek_version));
        }
        sqlx::query(
            "UPDATE subject_keys AS k SET kek_id = v.kek_id, kek_version = v.kek_version, \
             wrapped = v.wrapped FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], \
             $5::bytea[], $6::text[], $7::int8[]) AS v(subject_id, compartment, kek_id, \
             kek_version, wrapped, old_kek_id, old_kek_version) \
             WHERE k.subject_id = v.subject_id AND k.compartment = v.compartment \
             AND k.kek_id = v.old_kek_id AND k.kek_version = v.old_kek_version",
        )
        .bind(subject)
        .bind(compartment)
        .bind(kek_id)
        .bind(kek_version)
        .bind(wrapped)
        .bind(old_kek_id)
        .bind(old_kek_version)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A count as an SQL bigint.
fn count_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Constraint("count out of range".into()))
}

fn import_progress_from_row(row: &PgRow) -> Result<ImportProgressRow, StoreError> {
    let digest: Vec<u8> = row.try_get("prefix_digest")?;
    let count = |column: &str| -> Result<u64, StoreError> {
        u64::try_from(row.try_get::<i64, _>(column)?)
            .map_err(|_| StoreError::Corrupt(format!("import_progress.{column}")))
    };
    Ok(ImportProgressRow {
        run_id: row.try_get("run_id")?,
        prefix_digest: digest
            .try_into()
            .map_err(|_| StoreError::Corrupt("import_progress.prefix_digest".into()))?,
        lines: count("lines")?,
        bytes: count("bytes")?,
        started_at: row.try_get("started_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn apply_batch(pool: PgPool, batch: WriteBatch) -> Result<(), StoreError> {
    let steps = plan(batch);
    let mut tx = pool.begin().await?;
    match run_steps(&mut tx, steps).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn run_steps(conn: &mut PgConnection, steps: Vec<Step>) -> Result<(), StoreError> {
    for step in steps {
        match step {
            Step::Subjects(rows) => insert_subjects(conn, rows).await?,
            Step::Keys(rows) => upsert_keys(conn, rows).await?,
            Step::Records(rows) => insert_records(conn, rows).await?,
            Step::History(rows) => insert_history(conn, rows).await?,
            Step::Indexes(rows) => insert_indexes(conn, rows).await?,
            Step::MyNumbers(rows) => insert_my_numbers(conn, rows).await?,
            Step::Rewraps(rows) => rewrap_keys(conn, rows).await?,
            Step::Single(op) => run_single(conn, op).await?,
        }
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        run_detached(apply_batch(self.pool.clone(), batch)).await
    }

    async fn get_subject(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<SubjectRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT subject_id, kind, prefecture_code, status, suspended, created_at, updated_at \
             FROM subjects WHERE subject_id = ",
        );
        qb.push_bind(subject_id);
        push_scope(&mut qb, "prefecture_code", scope);
        qb.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| subject_from_row(&r))
            .transpose()
    }

    async fn get_record(
        &self,
        record_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<RecordRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE record_id = "
        ));
        qb.push_bind(record_id);
        push_scope(&mut qb, "prefecture_code", scope);
        qb.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| record_from_row(&r))
            .transpose()
    }

    async fn get_records(
        &self,
        record_ids: &[Uuid],
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError> {
        if record_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE record_id = ANY("
        ));
        qb.push_bind(record_ids.to_vec()).push(")");
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY record_id");
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    async fn list_records(
        &self,
        query: &RecordQuery,
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE TRUE"
        ));
        match query.owner {
            RecordOwner::Subject(s) => {
                qb.push(" AND subject_id = ").push_bind(s);
            }
            RecordOwner::Parent(p) => {
                qb.push(" AND parent_id = ").push_bind(p);
            }
            RecordOwner::Any => {}
        }
        if let Some(kind) = query.kind {
            qb.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(after) = query.after {
            qb.push(" AND record_id > ").push_bind(after);
        }
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY record_id LIMIT ")
            .push_bind(sql_limit(query.limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    async fn list_records_due(
        &self,
        kind: RecordKind,
        clock_before: NaiveDate,
        after: Option<(NaiveDate, Uuid)>,
        limit: u32,
        scope: &TenantScope,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = "
        ));
        qb.push_bind(kind.as_str())
            .push(" AND clock_date < ")
            .push_bind(clock_before);
        if let Some((date, record_id)) = after {
            qb.push(" AND (clock_date, record_id) > (")
                .push_bind(date)
                .push(", ")
                .push_bind(record_id)
                .push(")");
        }
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY clock_date, record_id LIMIT ")
            .push_bind(sql_limit(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    async fn find_by_index(
        &self,
        field: &str,
        digests: &[(u32, [u8; 32])],
        scope: &TenantScope,
        limit: u32,
    ) -> Result<Vec<IndexHit>, StoreError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let versions: Vec<i64> = digests.iter().map(|(v, _)| i64::from(*v)).collect();
        let bytes: Vec<Vec<u8>> = digests.iter().map(|(_, d)| d.to_vec()).collect();
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT DISTINCT record_id, subject_id FROM blind_index WHERE field = ",
        );
        qb.push_bind(field)
            // `digest = ANY` lets PostgreSQL seek the (field, digest) key; the pairs
            // check the version.
            .push(" AND digest = ANY(")
            .push_bind(bytes.clone())
            .push(") AND (key_version, digest) IN (SELECT * FROM UNNEST(")
            .push_bind(versions)
            .push("::int8[], ")
            .push_bind(bytes)
            .push("::bytea[]))");
        push_scope(&mut qb, "prefecture_code", scope);
        qb.push(" ORDER BY record_id LIMIT ")
            .push_bind(sql_limit(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(IndexHit {
                    record_id: row.try_get("record_id")?,
                    subject_id: row.try_get("subject_id")?,
                })
            })
            .collect()
    }

    async fn read_by_index(
        &self,
        field: &str,
        digests: &[(u32, [u8; 32])],
        scope: &TenantScope,
        compartment: KeyCompartment,
    ) -> Result<Option<IndexedRecord>, StoreError> {
        if digests.is_empty() {
            return Ok(None);
        }
        let bytes: Vec<Vec<u8>> = digests.iter().map(|(_, d)| d.to_vec()).collect();
        // Only `digest = ANY` in SQL: a short statement whose generic plan PostgreSQL
        // keeps (the pair test of `find_by_index` made it plan every execution, ~2 ms).
        // The key version is checked below; equal digests under two index-key versions
        // would take a SHA-256 collision.
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT r.record_id, r.kind, r.subject_id, r.parent_id, r.prefecture_code, \
             r.fiscal_year, r.clock_date, r.status, r.version, r.sealed, r.created_at, \
             r.updated_at, s.suspended AS subject_suspended, k.compartment AS key_compartment, \
             k.kek_id AS key_kek_id, k.kek_version AS key_kek_version, k.wrapped AS key_wrapped, \
             i.key_version AS index_key_version, i.digest AS index_digest \
             FROM blind_index i JOIN records r ON r.record_id = i.record_id \
             JOIN subjects s ON s.subject_id = r.subject_id \
             LEFT JOIN subject_keys k ON k.subject_id = r.subject_id AND k.compartment = ",
        );
        qb.push_bind(compartment.as_str())
            .push(" WHERE i.field = ")
            .push_bind(field)
            .push(" AND i.digest = ANY(")
            .push_bind(bytes)
            .push(")");
        push_scope(&mut qb, "i.prefecture_code", scope);
        push_scope(&mut qb, "r.prefecture_code", scope);
        qb.push(" ORDER BY r.record_id");
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut found = None;
        for row in rows {
            let version =
                version_u32(row.try_get("index_key_version")?, "blind_index.key_version")?;
            let digest: Vec<u8> = row.try_get("index_digest")?;
            if digests
                .iter()
                .any(|(v, d)| *v == version && d[..] == digest[..])
            {
                found = Some(row);
                break;
            }
        }
        let Some(row) = found else {
            return Ok(None);
        };
        let record = record_from_row(&row)?;
        let key = match row.try_get::<Option<String>, _>("key_compartment")? {
            None => None,
            Some(c) => Some(KeyRow {
                subject_id: record.subject_id,
                compartment: KeyCompartment::parse(&c)?,
                kek_id: row.try_get("key_kek_id")?,
                kek_version: version_u32(
                    row.try_get("key_kek_version")?,
                    "subject_keys.kek_version",
                )?,
                wrapped: row.try_get("key_wrapped")?,
            }),
        };
        Ok(Some(IndexedRecord {
            suspended: row.try_get("subject_suspended")?,
            record,
            key,
        }))
    }

    async fn get_key(
        &self,
        subject_id: Uuid,
        compartment: KeyCompartment,
    ) -> Result<Option<KeyRow>, StoreError> {
        sqlx::query(
            "SELECT subject_id, compartment, kek_id, kek_version, wrapped FROM subject_keys \
             WHERE subject_id = $1 AND compartment = $2",
        )
        .bind(subject_id)
        .bind(compartment.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| key_from_row(&r))
        .transpose()
    }

    async fn get_my_number(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Option<MyNumberRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT m.subject_id, m.sealed, m.clock_date, m.created_at FROM my_numbers m \
             JOIN subjects s ON s.subject_id = m.subject_id WHERE m.subject_id = ",
        );
        qb.push_bind(subject_id);
        push_scope(&mut qb, "s.prefecture_code", scope);
        qb.build()
            .fetch_optional(&self.pool)
            .await?
            .map(|r| my_number_from_row(&r))
            .transpose()
    }

    async fn record_history(
        &self,
        record_id: Uuid,
        scope: &TenantScope,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT h.record_id, h.version, h.changed_at, h.actor_id, h.sealed \
             FROM record_history h JOIN records r ON r.record_id = h.record_id \
             WHERE h.record_id = ",
        );
        qb.push_bind(record_id);
        push_scope(&mut qb, "r.prefecture_code", scope);
        qb.push(" ORDER BY h.version");
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(history_from_row)
            .collect()
    }

    async fn count_keys_by_kek(&self) -> Result<Vec<KekCount>, StoreError> {
        sqlx::query(
            "SELECT kek_id, kek_version, COUNT(*) AS n FROM subject_keys \
             GROUP BY kek_id, kek_version ORDER BY kek_id, kek_version",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(KekCount {
                kek_id: row.try_get("kek_id")?,
                kek_version: version_u32(row.try_get("kek_version")?, "subject_keys.kek_version")?,
                count: u64::try_from(row.try_get::<i64, _>("n")?)
                    .map_err(|_| StoreError::Corrupt("count".into()))?,
            })
        })
        .collect()
    }

    async fn list_keys_for_rewrap(
        &self,
        kek_id: &str,
        below_version: u32,
        after_subject: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<KeyRow>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT subject_id, compartment, kek_id, kek_version, wrapped FROM subject_keys \
             WHERE kek_id = ",
        );
        qb.push_bind(kek_id)
            .push(" AND kek_version < ")
            .push_bind(i64::from(below_version));
        if let Some(after) = after_subject {
            qb.push(" AND subject_id > ").push_bind(after);
        }
        qb.push(" ORDER BY subject_id, compartment LIMIT ")
            .push_bind(sql_limit(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn import_progress(&self) -> Result<Vec<ImportProgressRow>, StoreError> {
        sqlx::query(
            "SELECT run_id, prefix_digest, lines, bytes, started_at, updated_at \
             FROM import_progress ORDER BY bytes, run_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(import_progress_from_row)
        .collect()
    }
}
