//! Bulk-insert throughput of the record store, as an import would drive it.
//!
//! Each imported examinee is one batch entry of: subject, two wrapped keys (general and
//! My Number), sealed My Number, three records (examinee ~700 B, application ~900 B,
//! result ~300 B of ciphertext) and three blind-index rows (application id unique, exam
//! number, kana name + birth date): 10 rows, 3 records. Only `Store::apply` is timed.
//!
//! ```text
//! cargo run --release -p vault-core --example store_throughput -- \
//!     [SUBJECTS] [BATCH] [--pg] [--random-ids] [--no-index]
//! ```
//! Defaults: 50000 subjects in batches of 1000 on SQLite (a temporary file, WAL,
//! synchronous=FULL). `--pg` runs on a temporary database of the PostgreSQL server at
//! `KENTEI_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432`), dropped afterwards.
//! `--random-ids` uses UUIDv4 instead of [`new_id`] (UUIDv7); `--no-index` leaves out the
//! blind-index rows (to see their share of the cost). Besides wall time the example
//! prints the process CPU time spent in `apply`, steadier on a shared machine.
//!
//! Measured on the shared 2-core development VM (load average 3–6, so wall times are
//! pessimistic), 50 000 subjects = 150 000 records = 500 000 rows, batches of 1000:
//! SQLite ≈ 37–39k records/s (≈ 3.5 s CPU), batches of 5000 ≈ 42k; without the
//! blind-index rows ≈ 63k; with random UUIDv4 ids instead of v7 ≈ 10.5k. PostgreSQL
//! (same machine, one stream) ≈ 22–28k records/s. At 200 000 subjects SQLite falls to
//! ≈ 19–20k records/s: every blind-index row is a random b-tree insert.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;
use vault_core::store::{
    connect, new_id, open_store, ConnectOptions, IndexRow, KeyCompartment, KeyRow, MyNumberRow,
    RecordRow, Store, SubjectKind, SubjectRow, WriteBatch, WriteOp,
};
use vault_policy::RecordKind;

/// Cheap incompressible filler standing in for ciphertext.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            // xorshift64
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            out.extend_from_slice(&self.0.to_le_bytes());
        }
        out.truncate(n);
        out
    }

    fn digest(&mut self) -> [u8; 32] {
        let mut d = [0u8; 32];
        d.copy_from_slice(&self.bytes(32));
        d
    }
}

/// What to generate.
#[derive(Clone, Copy)]
struct Shape {
    random_ids: bool,
    indexes: bool,
}

impl Shape {
    fn id(self) -> Uuid {
        if self.random_ids {
            Uuid::new_v4()
        } else {
            new_id()
        }
    }
}

const PREFECTURES: [&str; 4] = ["13", "27", "35", "47"];

fn batch_of(n: usize, noise: &mut Noise, shape: Shape) -> WriteBatch {
    let now = Utc::now();
    let mut b = WriteBatch::with_capacity(n * 10);
    for i in 0..n {
        let subject_id = shape.id();
        let pref = PREFECTURES[i % PREFECTURES.len()].to_owned();
        b.insert_subject(SubjectRow {
            subject_id,
            kind: SubjectKind::Examinee,
            prefecture_code: pref.clone(),
            status: "active".into(),
            suspended: false,
            created_at: now,
            updated_at: now,
        });
        for compartment in [KeyCompartment::General, KeyCompartment::MyNumber] {
            b.upsert_key(KeyRow {
                subject_id,
                compartment,
                kek_id: compartment.as_str().into(),
                kek_version: 1,
                wrapped: noise.bytes(70),
            });
        }
        b.insert_my_number(MyNumberRow {
            subject_id,
            sealed: noise.bytes(40),
            clock_date: NaiveDate::from_ymd_opt(2024, 6, 1),
            created_at: now,
        });
        let mut parent = None;
        for (kind, size) in [
            (RecordKind::Examinee, 700),
            (RecordKind::Application, 900),
            (RecordKind::Result, 300),
        ] {
            let record_id = shape.id();
            b.insert_record(RecordRow {
                record_id,
                kind,
                subject_id,
                parent_id: parent,
                prefecture_code: pref.clone(),
                fiscal_year: (kind != RecordKind::Examinee).then_some(2024),
                clock_date: NaiveDate::from_ymd_opt(2024, 6, 1),
                status: None,
                version: 1,
                sealed: noise.bytes(size),
                created_at: now,
                updated_at: now,
            });
            let indexed: &[(&str, bool)] = match kind {
                RecordKind::Examinee => &[("name_kana_birth_date", false)],
                RecordKind::Application => &[("application_id", true), ("exam_number", false)],
                _ => &[],
            };
            let indexed = if shape.indexes { indexed } else { &[] };
            for &(field, is_unique) in indexed {
                b.push(WriteOp::InsertIndex(IndexRow {
                    field: field.into(),
                    key_version: 1,
                    digest: noise.digest(),
                    record_id,
                    subject_id,
                    prefecture_code: pref.clone(),
                    is_unique,
                }));
            }
            parent = Some(record_id);
        }
    }
    b
}

/// CPU time (user + system) of this process so far, from /proc (Linux, 100 ticks/s);
/// zero elsewhere.
/// On a shared machine it is steadier than wall time.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn run(
    store: &dyn Store,
    subjects: usize,
    batch: usize,
    shape: Shape,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut spent = Duration::ZERO;
    let mut cpu = Duration::ZERO;
    let mut done = 0;
    let mut rows = 0;
    while done < subjects {
        let n = batch.min(subjects - done);
        let b = batch_of(n, &mut noise, shape);
        rows += b.len();
        let (t, c) = (Instant::now(), cpu_time());
        store.apply(b).await?;
        spent += t.elapsed();
        cpu += cpu_time().saturating_sub(c);
        done += n;
    }
    let secs = spent.as_secs_f64();
    println!(
        "{}: {subjects} subjects in batches of {batch}: {:.2} s in apply (CPU {:.2} s); \
         {:.0} records/s, {:.0} rows/s, {:.0} subjects/s",
        store.backend_name(),
        secs,
        cpu.as_secs_f64(),
        (subjects * 3) as f64 / secs,
        rows as f64 / secs,
        subjects as f64 / secs,
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pg = args.iter().any(|a| a == "--pg");
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let subjects = numbers.first().copied().unwrap_or(50_000);
    let batch = numbers.get(1).copied().unwrap_or(1_000).max(1);
    let shape = Shape {
        random_ids: args.iter().any(|a| a == "--random-ids"),
        indexes: !args.iter().any(|a| a == "--no-index"),
    };

    if pg {
        let server = std::env::var("KENTEI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let name = format!("kv_bench_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        let outcome = async {
            let backend = connect(&format!("{server}/{name}"), &ConnectOptions::default()).await?;
            let store = open_store(backend.clone());
            let r = run(&*store, subjects, batch, shape).await;
            backend.close().await;
            r
        }
        .await;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
        outcome
    } else {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let backend = connect(&url, &ConnectOptions::default()).await?;
        let store = open_store(backend.clone());
        let r = run(&*store, subjects, batch, shape).await;
        backend.close().await;
        r
    }
}
