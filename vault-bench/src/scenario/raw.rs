//! The plaintext baseline: the same records as the vault stores, as plaintext rows in
//! tables of the same shape (subjects; records with the same plain columns and indexes,
//! the record's JSON in clear instead of the sealed blob; an index table holding the
//! searchable values in clear where the vault holds blind-index digests). No keys, no
//! audit, no encryption. Same backend, same durability settings, same transaction
//! sizes, multi-row inserts like the store's.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::fmt::Hyphenated;
use uuid::Uuid;
use vault_core::store::{new_id, Backend};

use super::BenchError;

const SQLITE_DDL: &[&str] = &[
    "CREATE TABLE raw_subjects (subject_id TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, \
     prefecture_code TEXT NOT NULL, status TEXT NOT NULL, suspended INTEGER NOT NULL DEFAULT 0, \
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT, WITHOUT ROWID",
    "CREATE TABLE raw_records (record_id TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, \
     subject_id TEXT NOT NULL REFERENCES raw_subjects (subject_id), parent_id TEXT, \
     prefecture_code TEXT NOT NULL, fiscal_year INTEGER, clock_date TEXT, status TEXT, \
     version INTEGER NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, \
     updated_at TEXT NOT NULL) STRICT",
    "CREATE INDEX raw_records_by_subject ON raw_records (subject_id, kind, record_id)",
    "CREATE INDEX raw_records_by_parent ON raw_records (parent_id, kind, record_id) \
     WHERE parent_id IS NOT NULL",
    "CREATE INDEX raw_records_by_prefecture ON raw_records (prefecture_code, kind, record_id)",
    "CREATE INDEX raw_records_by_clock ON raw_records (kind, clock_date, record_id)",
    "CREATE TABLE raw_index (field TEXT NOT NULL, value TEXT NOT NULL, \
     record_id TEXT NOT NULL REFERENCES raw_records (record_id), subject_id TEXT NOT NULL, \
     prefecture_code TEXT NOT NULL, is_unique INTEGER NOT NULL, \
     PRIMARY KEY (field, value, record_id)) STRICT, WITHOUT ROWID",
    "CREATE UNIQUE INDEX raw_index_unique ON raw_index (field, value) WHERE is_unique = 1",
    "CREATE INDEX raw_index_by_record ON raw_index (record_id, field)",
];

const PG_DDL: &[&str] = &[
    "CREATE TABLE raw_subjects (subject_id UUID NOT NULL PRIMARY KEY, kind TEXT NOT NULL, \
     prefecture_code TEXT NOT NULL, status TEXT NOT NULL, suspended BOOLEAN NOT NULL DEFAULT FALSE, \
     created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
    "CREATE TABLE raw_records (record_id UUID NOT NULL PRIMARY KEY, kind TEXT NOT NULL, \
     subject_id UUID NOT NULL REFERENCES raw_subjects (subject_id), parent_id UUID, \
     prefecture_code TEXT NOT NULL, fiscal_year INTEGER, clock_date DATE, status TEXT, \
     version BIGINT NOT NULL, body TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL, \
     updated_at TIMESTAMPTZ NOT NULL)",
    "CREATE INDEX raw_records_by_subject ON raw_records (subject_id, kind, record_id)",
    "CREATE INDEX raw_records_by_parent ON raw_records (parent_id, kind, record_id) \
     WHERE parent_id IS NOT NULL",
    "CREATE INDEX raw_records_by_prefecture ON raw_records (prefecture_code, kind, record_id)",
    "CREATE INDEX raw_records_by_clock ON raw_records (kind, clock_date, record_id)",
    "CREATE TABLE raw_index (field TEXT NOT NULL, value TEXT NOT NULL, \
     record_id UUID NOT NULL REFERENCES raw_records (record_id), subject_id UUID NOT NULL, \
     prefecture_code TEXT NOT NULL, is_unique BOOLEAN NOT NULL, \
     PRIMARY KEY (field, value, record_id))",
    "CREATE UNIQUE INDEX raw_index_unique ON raw_index (field, value) WHERE is_unique",
    "CREATE INDEX raw_index_by_record ON raw_index (record_id, field)",
];

/// Creates the baseline tables.
pub(super) async fn create_tables(backend: &Backend) -> Result<(), BenchError> {
    match backend {
        Backend::Sqlite(pool) => {
            for ddl in SQLITE_DDL {
                sqlx::query(ddl).execute(pool).await?;
            }
        }
        Backend::Postgres(pool) => {
            for ddl in PG_DDL {
                sqlx::query(ddl).execute(pool).await?;
            }
        }
    }
    Ok(())
}

struct SubjectRow {
    id: Uuid,
    prefecture: String,
}

struct RecordRow {
    id: Uuid,
    kind: &'static str,
    subject: Uuid,
    parent: Option<Uuid>,
    prefecture: String,
    fiscal_year: Option<i32>,
    clock_date: Option<NaiveDate>,
    body: String,
}

struct IndexRow {
    field: &'static str,
    value: String,
    record: Uuid,
    subject: Uuid,
    prefecture: String,
    unique: bool,
}

#[derive(Default)]
struct Rows {
    subjects: Vec<SubjectRow>,
    records: Vec<RecordRow>,
    indexes: Vec<IndexRow>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The rows of one examinee line (meister lines are not part of the baseline).
fn line_rows(line: &str, rows: &mut Rows) -> Result<(), BenchError> {
    let mut v: Value = serde_json::from_str(line)
        .map_err(|_| BenchError::Check("baseline: malformed line".into()))?;
    let Some(top) = v.as_object_mut() else {
        return Err(BenchError::Check("baseline: line is not an object".into()));
    };
    let examinee = top.remove("examinee").unwrap_or(Value::Null);
    let home = text(&examinee, "prefecture_code");
    let subject = new_id();
    rows.subjects.push(SubjectRow {
        id: subject,
        prefecture: home.clone(),
    });
    rows.indexes.push(IndexRow {
        field: "name_kana+birth_date",
        value: format!(
            "{}{}",
            text(&examinee, "name_kana"),
            text(&examinee, "birth_date")
        ),
        record: subject,
        subject,
        prefecture: home.clone(),
        unique: false,
    });
    rows.indexes.push(IndexRow {
        field: "my_number",
        value: text(&examinee, "my_number"),
        record: subject,
        subject,
        prefecture: home.clone(),
        unique: false,
    });
    rows.records.push(RecordRow {
        id: subject,
        kind: "examinee",
        subject,
        parent: None,
        prefecture: home.clone(),
        fiscal_year: None,
        clock_date: None,
        body: examinee.to_string(),
    });
    for mut app in take(top, "applications") {
        let result = app.as_object_mut().and_then(|o| o.remove("result"));
        let id = new_id();
        let prefecture = text(&app, "prefecture_code");
        for (field, unique) in [("exam_number", false), ("application_id", true)] {
            rows.indexes.push(IndexRow {
                field,
                value: text(&app, field),
                record: id,
                subject,
                prefecture: prefecture.clone(),
                unique,
            });
        }
        rows.records.push(RecordRow {
            id,
            kind: "application",
            subject,
            parent: None,
            prefecture,
            fiscal_year: app
                .get("fiscal_year")
                .and_then(Value::as_i64)
                .and_then(|y| i32::try_from(y).ok()),
            clock_date: None,
            body: app.to_string(),
        });
        if let Some(result) = result {
            rows.records.push(RecordRow {
                id: new_id(),
                kind: "result",
                subject,
                parent: Some(id),
                prefecture: home.clone(),
                fiscal_year: None,
                clock_date: None,
                body: result.to_string(),
            });
        }
    }
    for q in take(top, "qualifications") {
        rows.records.push(RecordRow {
            id: new_id(),
            kind: "qualification",
            subject,
            parent: None,
            prefecture: home.clone(),
            fiscal_year: None,
            clock_date: NaiveDate::parse_from_str(&text(&q, "passed_on"), "%Y-%m-%d").ok(),
            body: q.to_string(),
        });
    }
    Ok(())
}

fn take(top: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match top.remove(key) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Reads `file` on a thread (parsing each line into rows) and inserts each batch of
/// `batch_lines` lines in one transaction. Answers the number of lines.
pub(super) async fn import(
    backend: &Backend,
    file: &Path,
    batch_lines: usize,
) -> Result<u64, BenchError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Rows, BenchError>>(2);
    let path = file.to_owned();
    let reader = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(e.into()));
                return;
            }
        };
        let mut rows = Rows::default();
        let mut n = 0usize;
        for line in std::io::BufReader::with_capacity(1 << 20, file).lines() {
            let res = line
                .map_err(BenchError::from)
                .and_then(|l| line_rows(&l, &mut rows));
            if let Err(e) = res {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            n += 1;
            if n == batch_lines {
                n = 0;
                if tx.blocking_send(Ok(std::mem::take(&mut rows))).is_err() {
                    return;
                }
            }
        }
        if n > 0 {
            let _ = tx.blocking_send(Ok(rows));
        }
    });
    let mut lines = 0u64;
    while let Some(rows) = rx.recv().await {
        let rows = rows?;
        lines += rows.subjects.len() as u64;
        match backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlite_insert(&mut tx, rows).await?;
                tx.commit().await?;
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                pg_insert(&mut tx, rows).await?;
                tx.commit().await?;
            }
        }
    }
    let _ = reader.await;
    Ok(lines)
}

/// Largest SQLite multi-row insert (as the store's).
const SQLITE_CHUNK: usize = 128;

/// Splits into `max`, then powers of two (few statement shapes, as the store does).
fn power_chunks<T>(rows: Vec<T>, max: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut rest = rows.into_iter();
    let mut left = rest.len();
    while left > 0 {
        let n = if left >= max {
            max
        } else {
            1usize << (usize::BITS - 1 - left.leading_zeros())
        };
        left -= n;
        out.push(rest.by_ref().take(n).collect());
    }
    out
}

fn hy(u: Uuid) -> Hyphenated {
    u.hyphenated()
}

async fn sqlite_insert(conn: &mut sqlx::SqliteConnection, rows: Rows) -> Result<(), BenchError> {
    let now: DateTime<Utc> = Utc::now();
    for chunk in power_chunks(rows.subjects, SQLITE_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO raw_subjects (subject_id, kind, prefecture_code, status, suspended, \
             created_at, updated_at) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(hy(r.id))
                .push_bind("examinee")
                .push_bind(r.prefecture)
                .push_bind("active")
                .push_bind(false)
                .push_bind(now)
                .push_bind(now);
        });
        qb.build().execute(&mut *conn).await?;
    }
    for chunk in power_chunks(rows.records, SQLITE_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO raw_records (record_id, kind, subject_id, parent_id, prefecture_code, \
             fiscal_year, clock_date, status, version, body, created_at, updated_at) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(hy(r.id))
                .push_bind(r.kind)
                .push_bind(hy(r.subject))
                .push_bind(r.parent.map(hy))
                .push_bind(r.prefecture)
                .push_bind(r.fiscal_year)
                .push_bind(r.clock_date)
                .push_bind(None::<String>)
                .push_bind(1i64)
                .push_bind(r.body)
                .push_bind(now)
                .push_bind(now);
        });
        qb.build().execute(&mut *conn).await?;
    }
    for chunk in power_chunks(rows.indexes, SQLITE_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO raw_index (field, value, record_id, subject_id, prefecture_code, \
             is_unique) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.field)
                .push_bind(r.value)
                .push_bind(hy(r.record))
                .push_bind(hy(r.subject))
                .push_bind(r.prefecture)
                .push_bind(r.unique);
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn pg_insert(conn: &mut sqlx::PgConnection, rows: Rows) -> Result<(), BenchError> {
    let now: DateTime<Utc> = Utc::now();
    let (ids, prefs): (Vec<Uuid>, Vec<String>) = rows
        .subjects
        .into_iter()
        .map(|s| (s.id, s.prefecture))
        .unzip();
    sqlx::query(
        "INSERT INTO raw_subjects (subject_id, kind, prefecture_code, status, suspended, \
         created_at, updated_at) \
         SELECT s, 'examinee', p, 'active', FALSE, $3, $3 FROM UNNEST($1::uuid[], $2::text[]) AS t(s, p)",
    )
    .bind(ids)
    .bind(prefs)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let n = rows.records.len();
    let mut id = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut subject = Vec::with_capacity(n);
    let mut parent = Vec::with_capacity(n);
    let mut pref = Vec::with_capacity(n);
    let mut fy = Vec::with_capacity(n);
    let mut clock = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    for r in rows.records {
        id.push(r.id);
        kind.push(r.kind);
        subject.push(r.subject);
        parent.push(r.parent);
        pref.push(r.prefecture);
        fy.push(r.fiscal_year);
        clock.push(r.clock_date);
        body.push(r.body);
    }
    sqlx::query(
        "INSERT INTO raw_records (record_id, kind, subject_id, parent_id, prefecture_code, \
         fiscal_year, clock_date, status, version, body, created_at, updated_at) \
         SELECT r, k, s, p, pc, fy, cd, NULL, 1, b, $9, $9 FROM UNNEST($1::uuid[], $2::text[], \
         $3::uuid[], $4::uuid[], $5::text[], $6::int4[], $7::date[], $8::text[]) \
         AS t(r, k, s, p, pc, fy, cd, b)",
    )
    .bind(id)
    .bind(kind)
    .bind(subject)
    .bind(parent)
    .bind(pref)
    .bind(fy)
    .bind(clock)
    .bind(body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let n = rows.indexes.len();
    let mut field = Vec::with_capacity(n);
    let mut value = Vec::with_capacity(n);
    let mut record = Vec::with_capacity(n);
    let mut subject = Vec::with_capacity(n);
    let mut pref = Vec::with_capacity(n);
    let mut unique = Vec::with_capacity(n);
    for r in rows.indexes {
        field.push(r.field);
        value.push(r.value);
        record.push(r.record);
        subject.push(r.subject);
        pref.push(r.prefecture);
        unique.push(r.unique);
    }
    sqlx::query(
        "INSERT INTO raw_index (field, value, record_id, subject_id, prefecture_code, is_unique) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], \
         $6::bool[])",
    )
    .bind(field)
    .bind(value)
    .bind(record)
    .bind(subject)
    .bind(pref)
    .bind(unique)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The baseline point read: the application with `exam_number`, its JSON parsed.
pub(super) async fn lookup(
    backend: &Backend,
    exam_number: &str,
) -> Result<Option<Map<String, Value>>, BenchError> {
    let body: Option<String> = match backend {
        Backend::Sqlite(pool) => sqlx::query(
            "SELECT r.body FROM raw_index i JOIN raw_records r ON r.record_id = i.record_id \
             WHERE i.field = 'exam_number' AND i.value = ? LIMIT 1",
        )
        .bind(exam_number)
        .fetch_optional(pool)
        .await?
        .map(|row| row.try_get("body"))
        .transpose()?,
        Backend::Postgres(pool) => sqlx::query(
            "SELECT r.body FROM raw_index i JOIN raw_records r ON r.record_id = i.record_id \
             WHERE i.field = 'exam_number' AND i.value = $1 LIMIT 1",
        )
        .bind(exam_number)
        .fetch_optional(pool)
        .await?
        .map(|row| row.try_get("body"))
        .transpose()?,
    };
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// The baseline of `GET /v1/applications/{application_id}`: the application's
/// plaintext JSON with `examinee_id` and, when there is one, its `result`, read in one
/// statement through the index on the application id (as the vault answers the
/// application with its subject and result).
pub(super) async fn read_application(
    backend: &Backend,
    application_id: &str,
) -> Result<Option<Map<String, Value>>, BenchError> {
    let row = match backend {
        Backend::Sqlite(pool) => sqlx::query(
            "SELECT r.body, r.subject_id, res.body AS result_body FROM raw_index i \
             JOIN raw_records r ON r.record_id = i.record_id \
             LEFT JOIN raw_records res ON res.parent_id = r.record_id AND res.kind = 'result' \
             WHERE i.field = 'application_id' AND i.value = ? LIMIT 1",
        )
        .bind(application_id)
        .fetch_optional(pool)
        .await?
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get::<String, _>("body")?,
                row.try_get::<String, _>("subject_id")?,
                row.try_get::<Option<String>, _>("result_body")?,
            ))
        })
        .transpose()?,
        Backend::Postgres(pool) => sqlx::query(
            "SELECT r.body, r.subject_id::text AS subject_id, res.body AS result_body \
             FROM raw_index i JOIN raw_records r ON r.record_id = i.record_id \
             LEFT JOIN raw_records res ON res.parent_id = r.record_id AND res.kind = 'result' \
             WHERE i.field = 'application_id' AND i.value = $1 LIMIT 1",
        )
        .bind(application_id)
        .fetch_optional(pool)
        .await?
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get::<String, _>("body")?,
                row.try_get::<String, _>("subject_id")?,
                row.try_get::<Option<String>, _>("result_body")?,
            ))
        })
        .transpose()?,
    };
    let Some((body, subject_id, result)) = row else {
        return Ok(None);
    };
    let Ok(mut fields) = serde_json::from_str::<Map<String, Value>>(&body) else {
        return Err(BenchError::Check(
            "baseline: a stored body is not JSON".into(),
        ));
    };
    fields.insert("examinee_id".into(), Value::String(subject_id));
    if let Some(result) = result.and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
        fields.insert("result".into(), result);
    }
    Ok(Some(fields))
}
