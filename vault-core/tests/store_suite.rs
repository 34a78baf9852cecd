//! The record store's specification: every behaviour is written once, against
//! `&dyn Store`, and runs on both backends (`sqlite::…` and `postgres::…`).
//!
//! Each test gets a fresh database; the PostgreSQL one is dropped afterwards even when
//! the behaviour panics (the harness catches the panic, cleans up, then re-raises it).

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use futures::FutureExt;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;
use vault_core::store::{
    open_store, HistoryRow, IndexHit, IndexRow, KeyCompartment, KeyRow, MyNumberRow, RecordQuery,
    RecordRow, RecordUpdate, Store, StoreError, SubjectKind, SubjectRow, WriteBatch, WriteOp,
};
use vault_policy::{RecordKind, TenantScope};

use common::TestDb;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Runs `body` on a fresh store of `engine`, then drops the database whatever happened.
async fn with_store<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = match engine {
        Engine::Sqlite => TestDb::sqlite().await,
        Engine::Postgres => TestDb::postgres().await,
    };
    let pg_database = match engine {
        Engine::Postgres => db.url.rsplit('/').next().map(str::to_owned),
        Engine::Sqlite => None,
    };
    let store = open_store(db.backend.clone());
    let outcome = AssertUnwindSafe(body(store)).catch_unwind().await;
    db.cleanup().await;
    if let Some(name) = pg_database {
        let admin_url = format!("{}/postgres", common::pg_server_url());
        let mut admin = PgConnection::connect(&admin_url).await.expect("admin");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("pg_database");
        assert_eq!(left, 0, "test database {name} was not dropped");
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Declares each behaviour once per backend: `sqlite::name` and `postgres::name`.
/// `shared` behaviours take `&dyn Store`; `owned` ones take `Arc<dyn Store>` (they spawn tasks).
macro_rules! suite {
    (shared: [$($name:ident),* $(,)?], owned: [$($owned:ident),* $(,)?]) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::with_store(super::Engine::Sqlite, |s| async move {
                        super::behaviour::$name(&*s).await
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $owned() {
                    super::with_store(super::Engine::Sqlite, super::behaviour::$owned).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::with_store(super::Engine::Postgres, |s| async move {
                        super::behaviour::$name(&*s).await
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $owned() {
                    super::with_store(super::Engine::Postgres, super::behaviour::$owned).await;
                }
            )*
        }
    };
}

suite! {
    shared: [
        rows_read_back_exactly_as_written,
        timestamps_keep_microseconds,
        cross_prefecture_reads_are_not_found,
        read_by_index_answers_the_record_its_suspension_and_key,
        cross_prefecture_lists_and_searches_are_empty,
        empty_scope_matches_nothing,
        scope_of_several_prefectures_sees_each_of_them,
        batch_failing_on_duplicate_unique_index_writes_nothing,
        batch_failing_on_stale_update_rolls_back_earlier_updates,
        duplicate_unique_index_value_is_a_conflict,
        same_value_in_non_unique_index_finds_every_record,
        search_matches_any_live_index_key_version,
        update_with_old_version_is_stale,
        concurrent_updates_of_one_version_let_exactly_one_win,
        update_of_missing_record_is_not_found,
        correction_keeps_old_values_in_history,
        delete_subject_shreds_keys_then_removes_every_row,
        delete_record_removes_its_indexes_and_history,
        delete_indexes_removes_only_the_named_field,
        moving_a_record_to_another_prefecture_moves_its_search_scope,
        list_records_pages_by_record_id,
        due_records_are_listed_by_clock_date,
        suspension_and_subject_changes_are_stored,
        upsert_key_replaces_the_previous_wrapping,
        rewrap_replaces_only_keys_still_under_the_expected_version,
        rewrap_of_more_keys_than_one_statement_takes_replaces_every_key,
        delete_key_removes_only_that_compartment,
        record_of_unknown_subject_is_a_constraint_violation,
        errors_and_debug_output_carry_no_values,
        cancelled_apply_is_all_or_nothing_and_frees_the_writer,
        writes_keep_working_after_many_cancelled_applies,
    ],
    owned: [
        thirty_two_concurrent_batches_all_succeed,
    ]
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// A fixed instant (microsecond precision, which both backends keep).
fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_717_000_000 + secs, 123_456_000)
        .single()
        .expect("valid instant")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn only(codes: &[&str]) -> TenantScope {
    TenantScope::Only(codes.iter().map(|c| (*c).to_owned()).collect())
}

/// A stand-in for a blind-index digest: SHA-256 of (field, key version, value).
fn digest(field: &str, version: u32, value: &str) -> [u8; 32] {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{field}\u{0}{version}\u{0}{value}").as_bytes(),
    );
    d.as_ref().try_into().expect("32 bytes")
}

/// A stand-in for a ciphertext: recognisable bytes, never decrypted by the store.
fn sealed(tag: &str) -> Vec<u8> {
    let mut v = b"\x01sealed:".to_vec();
    v.extend_from_slice(tag.as_bytes());
    v.extend_from_slice(&[0, 0xff, 0x80, 0x7f]);
    v
}

fn record(kind: RecordKind, subject: &SubjectRow, parent: Option<Uuid>) -> RecordRow {
    RecordRow {
        record_id: Uuid::new_v4(),
        kind,
        subject_id: subject.subject_id,
        parent_id: parent,
        prefecture_code: subject.prefecture_code.clone(),
        fiscal_year: None,
        clock_date: None,
        status: None,
        version: 1,
        sealed: sealed(kind.as_str()),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn index(field: &str, version: u32, value: &str, rec: &RecordRow, unique: bool) -> IndexRow {
    IndexRow {
        field: field.to_owned(),
        key_version: version,
        digest: digest(field, version, value),
        record_id: rec.record_id,
        subject_id: rec.subject_id,
        prefecture_code: rec.prefecture_code.clone(),
        is_unique: unique,
    }
}

/// An examinee with keys, My Number, one application with its result, and blind indexes
/// on application id (unique) and exam number (not unique).
#[derive(Clone)]
struct Person {
    subject: SubjectRow,
    general_key: KeyRow,
    my_number_key: KeyRow,
    my_number: MyNumberRow,
    examinee: RecordRow,
    application: RecordRow,
    result: RecordRow,
    indexes: Vec<IndexRow>,
}

impl Person {
    fn new(prefecture: &str, application_id: &str) -> Person {
        let subject = SubjectRow {
            subject_id: Uuid::new_v4(),
            kind: SubjectKind::Examinee,
            prefecture_code: prefecture.to_owned(),
            status: "active".to_owned(),
            suspended: false,
            created_at: at(0),
            updated_at: at(0),
        };
        let key = |compartment: KeyCompartment| KeyRow {
            subject_id: subject.subject_id,
            compartment,
            kek_id: compartment.as_str().to_owned(),
            kek_version: 1,
            wrapped: sealed(&format!("dek-{}", compartment.as_str())),
        };
        let examinee = record(RecordKind::Examinee, &subject, None);
        let mut application = record(RecordKind::Application, &subject, Some(examinee.record_id));
        application.fiscal_year = Some(2024);
        application.clock_date = Some(date(2024, 6, 1));
        let mut result = record(RecordKind::Result, &subject, Some(application.record_id));
        result.clock_date = Some(date(2024, 9, 30));
        result.status = Some("announced".to_owned());
        let indexes = vec![
            index("application_id", 1, application_id, &application, true),
            index("exam_number", 1, "E-0001", &application, false),
        ];
        Person {
            general_key: key(KeyCompartment::General),
            my_number_key: key(KeyCompartment::MyNumber),
            my_number: MyNumberRow {
                subject_id: subject.subject_id,
                sealed: sealed("my-number"),
                clock_date: Some(date(2024, 6, 1)),
                created_at: at(0),
            },
            subject,
            examinee,
            application,
            result,
            indexes,
        }
    }

    fn id(&self) -> Uuid {
        self.subject.subject_id
    }

    /// Every op registering this person, in the order an importer would produce them.
    fn ops(&self) -> Vec<WriteOp> {
        let mut ops = vec![
            WriteOp::InsertSubject(self.subject.clone()),
            WriteOp::UpsertKey(self.general_key.clone()),
            WriteOp::UpsertKey(self.my_number_key.clone()),
            WriteOp::InsertRecord(self.examinee.clone()),
            WriteOp::InsertRecord(self.application.clone()),
            WriteOp::InsertRecord(self.result.clone()),
            WriteOp::InsertMyNumber(self.my_number.clone()),
        ];
        ops.extend(self.indexes.iter().cloned().map(WriteOp::InsertIndex));
        ops
    }

    fn batch(&self) -> WriteBatch {
        self.ops().into_iter().collect()
    }

    fn application_hit(&self) -> IndexHit {
        IndexHit {
            record_id: self.application.record_id,
            subject_id: self.id(),
        }
    }
}

async fn register(store: &dyn Store, people: &[&Person]) {
    let batch: WriteBatch = people.iter().flat_map(|p| p.ops()).collect();
    store.apply(batch).await.expect("register people");
}

fn correction(rec: &RecordRow, tag: &str) -> RecordUpdate {
    RecordUpdate {
        record_id: rec.record_id,
        prefecture_code: rec.prefecture_code.clone(),
        fiscal_year: rec.fiscal_year,
        clock_date: rec.clock_date,
        status: rec.status.clone(),
        sealed: sealed(tag),
        updated_at: at(60),
    }
}

fn one_op(op: WriteOp) -> WriteBatch {
    std::iter::once(op).collect()
}

// ---------------------------------------------------------------------------------------
// Behaviours
// ---------------------------------------------------------------------------------------

mod behaviour {
    use super::*;

    pub(super) async fn rows_read_back_exactly_as_written(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let all = TenantScope::All;

        assert_eq!(
            store.get_subject(p.id(), &all).await.unwrap(),
            Some(p.subject.clone())
        );
        for rec in [&p.examinee, &p.application, &p.result] {
            assert_eq!(
                store
                    .get_record(rec.record_id, &all)
                    .await
                    .unwrap()
                    .as_ref(),
                Some(rec)
            );
        }
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::General)
                .await
                .unwrap(),
            Some(p.general_key.clone())
        );
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::MyNumber)
                .await
                .unwrap(),
            Some(p.my_number_key.clone())
        );
        assert_eq!(
            store.get_my_number(p.id(), &all).await.unwrap(),
            Some(p.my_number.clone())
        );
        let d = digest("application_id", 1, "A-1");
        assert_eq!(
            store
                .find_by_index("application_id", &[(1, d)], &all, 10)
                .await
                .unwrap(),
            vec![p.application_hit()]
        );
        let mut expected = vec![p.examinee.clone(), p.application.clone(), p.result.clone()];
        expected.sort_by_key(|r| r.record_id);
        let ids: Vec<Uuid> = expected.iter().map(|r| r.record_id).collect();
        assert_eq!(store.get_records(&ids, &all).await.unwrap(), expected);
    }

    pub(super) async fn timestamps_keep_microseconds(store: &dyn Store) {
        let mut p = Person::new("13", "A-1");
        let precise = Utc.timestamp_opt(1_717_000_000, 123_456_789).unwrap();
        p.subject.created_at = precise;
        register(store, &[&p]).await;
        let got = store
            .get_subject(p.id(), &TenantScope::All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got.created_at,
            Utc.timestamp_opt(1_717_000_000, 123_456_000).unwrap()
        );
    }

    pub(super) async fn read_by_index_answers_the_record_its_suspension_and_key(store: &dyn Store) {
        let a = Person::new("13", "APP-1");
        let b = Person::new("27", "APP-2");
        register(store, &[&a, &b]).await;
        // The result (status and clock date set, parent an application) gets an index too.
        store
            .apply(one_op(WriteOp::InsertIndex(index(
                "result_ref",
                1,
                "R-1",
                &a.result,
                true,
            ))))
            .await
            .expect("index the result");
        let by =
            |field: &str, version: u32, value: &str| vec![(version, digest(field, version, value))];
        let read = |field: &'static str,
                    digests: Vec<(u32, [u8; 32])>,
                    scope: TenantScope,
                    compartment: KeyCompartment| async move {
            store
                .read_by_index(field, &digests, &scope, compartment)
                .await
                .expect("read_by_index")
        };

        let read_app1 = || {
            read(
                "application_id",
                by("application_id", 1, "APP-1"),
                TenantScope::All,
                KeyCompartment::General,
            )
        };

        // Every column of the record as written, the suspension flag and the key.
        let got = read_app1().await.expect("found");
        assert_eq!(got.record, a.application);
        assert!(!got.suspended);
        assert_eq!(got.key, Some(a.general_key.clone()));
        let got = read(
            "result_ref",
            by("result_ref", 1, "R-1"),
            only(&["13"]),
            KeyCompartment::MyNumber,
        )
        .await
        .expect("found");
        assert_eq!(got.record, a.result);
        assert_eq!(got.key, Some(a.my_number_key.clone()));
        let got = read(
            "application_id",
            by("application_id", 1, "APP-2"),
            only(&["13", "27"]),
            KeyCompartment::General,
        )
        .await
        .expect("found");
        assert_eq!(got.record, b.application);

        // Outside the scope, an empty scope, another field, another key version, an
        // unknown value: nothing.
        for (field, digests, scope) in [
            (
                "application_id",
                by("application_id", 1, "APP-1"),
                only(&["27"]),
            ),
            (
                "application_id",
                by("application_id", 1, "APP-1"),
                only(&[]),
            ),
            (
                "exam_number",
                by("application_id", 1, "APP-1"),
                TenantScope::All,
            ),
            (
                "application_id",
                vec![(2, digest("application_id", 1, "APP-1"))],
                TenantScope::All,
            ),
            (
                "application_id",
                by("application_id", 1, "APP-3"),
                TenantScope::All,
            ),
        ] {
            assert!(read(field, digests, scope, KeyCompartment::General)
                .await
                .is_none());
        }
        // Any of several digests (key versions during a rotation) finds it.
        let both = vec![
            (2, digest("application_id", 2, "APP-1")),
            (1, digest("application_id", 1, "APP-1")),
        ];
        let got = read(
            "application_id",
            both,
            TenantScope::All,
            KeyCompartment::General,
        )
        .await
        .expect("found");
        assert_eq!(got.record.record_id, a.application.record_id);

        // A suspended subject is flagged; a shredded key is absent, the record still found.
        store
            .apply(one_op(WriteOp::SetSuspended {
                subject_id: a.id(),
                suspended: true,
                updated_at: at(30),
            }))
            .await
            .expect("suspend");
        store
            .apply(one_op(WriteOp::DeleteKey {
                subject_id: a.id(),
                compartment: KeyCompartment::General,
            }))
            .await
            .expect("delete key");
        let got = read_app1().await.expect("found");
        assert!(got.suspended);
        assert_eq!(got.key, None);
        assert_eq!(got.record, a.application);
    }

    pub(super) async fn cross_prefecture_reads_are_not_found(store: &dyn Store) {
        let tokyo = Person::new("13", "A-13");
        let shimane = Person::new("35", "A-35");
        register(store, &[&tokyo, &shimane]).await;
        let scope = only(&["13"]);

        assert_eq!(store.get_subject(shimane.id(), &scope).await.unwrap(), None);
        assert_eq!(
            store
                .get_record(shimane.application.record_id, &scope)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.get_my_number(shimane.id(), &scope).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .get_records(
                    &[shimane.examinee.record_id, tokyo.examinee.record_id],
                    &scope
                )
                .await
                .unwrap(),
            vec![tokyo.examinee.clone()]
        );
        // The same reads do find the account's own prefecture.
        assert!(store
            .get_subject(tokyo.id(), &scope)
            .await
            .unwrap()
            .is_some());
        assert!(store
            .get_record(tokyo.application.record_id, &scope)
            .await
            .unwrap()
            .is_some());
        assert!(store
            .get_my_number(tokyo.id(), &scope)
            .await
            .unwrap()
            .is_some());
    }

    pub(super) async fn cross_prefecture_lists_and_searches_are_empty(store: &dyn Store) {
        let tokyo = Person::new("13", "A-13");
        let shimane = Person::new("35", "A-35");
        register(store, &[&tokyo, &shimane]).await;
        let scope = only(&["13"]);

        let of_subject = RecordQuery::of_subject(shimane.id());
        assert!(store
            .list_records(&of_subject, &scope)
            .await
            .unwrap()
            .is_empty());
        let of_parent = RecordQuery::of_parent(shimane.examinee.record_id);
        assert!(store
            .list_records(&of_parent, &scope)
            .await
            .unwrap()
            .is_empty());
        let d = digest("application_id", 1, "A-35");
        assert!(store
            .find_by_index("application_id", &[(1, d)], &scope, 10)
            .await
            .unwrap()
            .is_empty());
        // Both people share exam number E-0001: only the Tokyo one is found.
        let e = digest("exam_number", 1, "E-0001");
        assert_eq!(
            store
                .find_by_index("exam_number", &[(1, e)], &scope, 10)
                .await
                .unwrap(),
            vec![tokyo.application_hit()]
        );
        let everything = store
            .list_records(&RecordQuery::all(), &scope)
            .await
            .unwrap();
        assert_eq!(everything.len(), 3);
        assert!(everything.iter().all(|r| r.prefecture_code == "13"));
        let due = store
            .list_records_due(RecordKind::Result, date(2030, 1, 1), None, 10, &scope)
            .await
            .unwrap();
        assert_eq!(due, vec![tokyo.result.clone()]);
    }

    pub(super) async fn empty_scope_matches_nothing(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let none = only(&[]);

        assert_eq!(store.get_subject(p.id(), &none).await.unwrap(), None);
        assert_eq!(
            store.get_record(p.examinee.record_id, &none).await.unwrap(),
            None
        );
        assert!(store
            .list_records(&RecordQuery::all(), &none)
            .await
            .unwrap()
            .is_empty());
        let d = digest("application_id", 1, "A-1");
        assert!(store
            .find_by_index("application_id", &[(1, d)], &none, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.get_my_number(p.id(), &none).await.unwrap(), None);
    }

    pub(super) async fn scope_of_several_prefectures_sees_each_of_them(store: &dyn Store) {
        let tokyo = Person::new("13", "A-13");
        let shimane = Person::new("35", "A-35");
        let osaka = Person::new("27", "A-27");
        register(store, &[&tokyo, &shimane, &osaka]).await;

        let e = [(1, digest("exam_number", 1, "E-0001"))];
        let mut both = vec![tokyo.application_hit(), shimane.application_hit()];
        both.sort();
        assert_eq!(
            store
                .find_by_index("exam_number", &e, &only(&["13", "35"]), 10)
                .await
                .unwrap(),
            both
        );
        assert_eq!(
            store
                .find_by_index("exam_number", &e, &TenantScope::All, 10)
                .await
                .unwrap()
                .len(),
            3
        );
        let listed = store
            .list_records(
                &RecordQuery::all().kind(RecordKind::Examinee),
                &only(&["35", "27"]),
            )
            .await
            .unwrap();
        let mut prefs: Vec<&str> = listed.iter().map(|r| r.prefecture_code.as_str()).collect();
        prefs.sort_unstable();
        assert_eq!(prefs, vec!["27", "35"]);
    }

    pub(super) async fn batch_failing_on_duplicate_unique_index_writes_nothing(store: &dyn Store) {
        let first = Person::new("13", "A-1");
        register(store, &[&first]).await;
        let newcomer = Person::new("13", "A-2");
        let duplicate = Person::new("13", "A-1");
        let mut batch = newcomer.batch();
        batch.push(WriteOp::SetSuspended {
            subject_id: first.id(),
            suspended: true,
            updated_at: at(5),
        });
        batch.extend(duplicate.ops());

        let err = store.apply(batch).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        let all = TenantScope::All;
        for p in [&newcomer, &duplicate] {
            assert_eq!(store.get_subject(p.id(), &all).await.unwrap(), None);
            assert_eq!(
                store
                    .get_record(p.application.record_id, &all)
                    .await
                    .unwrap(),
                None
            );
            assert_eq!(
                store
                    .get_key(p.id(), KeyCompartment::General)
                    .await
                    .unwrap(),
                None
            );
            assert_eq!(store.get_my_number(p.id(), &all).await.unwrap(), None);
        }
        let a2 = [(1, digest("application_id", 1, "A-2"))];
        assert!(store
            .find_by_index("application_id", &a2, &all, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(
            !store
                .get_subject(first.id(), &all)
                .await
                .unwrap()
                .unwrap()
                .suspended
        );
    }

    pub(super) async fn batch_failing_on_stale_update_rolls_back_earlier_updates(
        store: &dyn Store,
    ) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let mut batch = WriteBatch::new();
        batch
            .update_record(correction(&p.examinee, "corrected"), 1)
            .push(WriteOp::DeleteMyNumber { subject_id: p.id() })
            .update_record(correction(&p.application, "corrected"), 7);

        assert!(matches!(
            store.apply(batch).await,
            Err(StoreError::StaleVersion)
        ));
        let all = TenantScope::All;
        assert_eq!(
            store.get_record(p.examinee.record_id, &all).await.unwrap(),
            Some(p.examinee.clone())
        );
        assert_eq!(
            store.get_my_number(p.id(), &all).await.unwrap(),
            Some(p.my_number.clone())
        );
    }

    pub(super) async fn duplicate_unique_index_value_is_a_conflict(store: &dyn Store) {
        let first = Person::new("13", "A-1");
        register(store, &[&first]).await;
        let second = Person::new("35", "A-1");
        let err = store.apply(second.batch()).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        // Also when both values arrive in the same batch.
        let (x, y) = (Person::new("13", "A-9"), Person::new("13", "A-9"));
        let err = store
            .apply(x.ops().into_iter().chain(y.ops()).collect())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }

    pub(super) async fn same_value_in_non_unique_index_finds_every_record(store: &dyn Store) {
        let a = Person::new("13", "A-1");
        let b = Person::new("13", "A-2");
        register(store, &[&a, &b]).await;
        let e = [(1, digest("exam_number", 1, "E-0001"))];
        let mut expected = vec![a.application_hit(), b.application_hit()];
        expected.sort();
        assert_eq!(
            store
                .find_by_index("exam_number", &e, &TenantScope::All, 10)
                .await
                .unwrap(),
            expected
        );
        assert_eq!(
            store
                .find_by_index("exam_number", &e, &TenantScope::All, 1)
                .await
                .unwrap(),
            vec![expected[0]]
        );
    }

    pub(super) async fn search_matches_any_live_index_key_version(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        let mut batch = p.batch();
        // Index-key rotation in progress: the value is indexed under v1 and v2.
        batch.insert_index(index("application_id", 2, "A-1", &p.application, true));
        store.apply(batch).await.unwrap();
        let all = TenantScope::All;
        let v1 = (1, digest("application_id", 1, "A-1"));
        let v2 = (2, digest("application_id", 2, "A-1"));

        assert_eq!(
            store
                .find_by_index("application_id", &[v2, v1], &all, 10)
                .await
                .unwrap(),
            vec![p.application_hit()]
        );
        assert_eq!(
            store
                .find_by_index("application_id", &[v2], &all, 10)
                .await
                .unwrap(),
            vec![p.application_hit()]
        );
        // A digest only counts under the key version that computed it.
        let wrong_version = (3, v2.1);
        assert!(store
            .find_by_index("application_id", &[wrong_version], &all, 10)
            .await
            .unwrap()
            .is_empty());
        // And only for its own field.
        assert!(store
            .find_by_index("exam_number", &[v1], &all, 10)
            .await
            .unwrap()
            .is_empty());
    }

    pub(super) async fn update_with_old_version_is_stale(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        store
            .apply({
                let mut b = WriteBatch::new();
                b.update_record(correction(&p.application, "first"), 1);
                b
            })
            .await
            .unwrap();
        let second = {
            let mut b = WriteBatch::new();
            b.update_record(correction(&p.application, "second"), 1);
            b
        };
        assert!(matches!(
            store.apply(second).await,
            Err(StoreError::StaleVersion)
        ));
        let now = store
            .get_record(p.application.record_id, &TenantScope::All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.version, 2);
        assert_eq!(now.sealed, sealed("first"));
        assert_eq!(now.updated_at, at(60));
    }

    pub(super) async fn concurrent_updates_of_one_version_let_exactly_one_win(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        for round in 0..5_i64 {
            let attempt = |tag: &str| {
                let mut b = WriteBatch::new();
                b.update_record(correction(&p.application, tag), round + 1);
                store.apply(b)
            };
            let (a, b) = futures::join!(attempt("a"), attempt("b"));
            let outcomes = [a, b];
            let won = outcomes.iter().filter(|r| r.is_ok()).count();
            let stale = outcomes
                .iter()
                .filter(|r| matches!(r, Err(StoreError::StaleVersion)))
                .count();
            assert_eq!((won, stale), (1, 1), "round {round}: {outcomes:?}");
        }
        let now = store
            .get_record(p.application.record_id, &TenantScope::All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.version, 6);
    }

    pub(super) async fn update_of_missing_record_is_not_found(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        let mut b = WriteBatch::new();
        b.update_record(correction(&p.application, "x"), 1);
        assert!(matches!(store.apply(b).await, Err(StoreError::NotFound)));
    }

    pub(super) async fn correction_keeps_old_values_in_history(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let old = HistoryRow {
            record_id: p.application.record_id,
            version: 1,
            changed_at: at(60),
            actor_id: "officer-7".to_owned(),
            sealed: p.application.sealed.clone(),
        };
        let mut b = WriteBatch::new();
        b.insert_history(old.clone())
            .update_record(correction(&p.application, "corrected"), 1);
        store.apply(b).await.unwrap();
        let older = HistoryRow {
            version: 2,
            changed_at: at(120),
            sealed: sealed("corrected"),
            ..old.clone()
        };
        let mut b = WriteBatch::new();
        b.insert_history(older.clone())
            .update_record(correction(&p.application, "corrected again"), 2);
        store.apply(b).await.unwrap();

        let history = store
            .record_history(p.application.record_id, &only(&["13"]))
            .await
            .unwrap();
        assert_eq!(history, vec![old, older]);
        assert!(store
            .record_history(p.application.record_id, &only(&["35"]))
            .await
            .unwrap()
            .is_empty());
        let now = store
            .get_record(p.application.record_id, &TenantScope::All)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((now.version, now.sealed), (3, sealed("corrected again")));
    }

    pub(super) async fn delete_subject_shreds_keys_then_removes_every_row(store: &dyn Store) {
        let gone = Person::new("13", "A-1");
        let stays = Person::new("13", "A-2");
        register(store, &[&gone, &stays]).await;
        let mut b = WriteBatch::new();
        b.insert_history(HistoryRow {
            record_id: gone.application.record_id,
            version: 1,
            changed_at: at(1),
            actor_id: "officer-7".into(),
            sealed: sealed("old"),
        })
        .update_record(correction(&gone.application, "new"), 1);
        store.apply(b).await.unwrap();

        let mut b = WriteBatch::new();
        b.delete_subject(gone.id());
        store.apply(b).await.unwrap();

        let all = TenantScope::All;
        assert_eq!(
            store
                .get_key(gone.id(), KeyCompartment::General)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .get_key(gone.id(), KeyCompartment::MyNumber)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.get_subject(gone.id(), &all).await.unwrap(), None);
        assert_eq!(store.get_my_number(gone.id(), &all).await.unwrap(), None);
        assert!(store
            .list_records(&RecordQuery::of_subject(gone.id()), &all)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .record_history(gone.application.record_id, &all)
            .await
            .unwrap()
            .is_empty());
        let e = [(1, digest("exam_number", 1, "E-0001"))];
        assert_eq!(
            store
                .find_by_index("exam_number", &e, &all, 10)
                .await
                .unwrap(),
            vec![stays.application_hit()]
        );
        // The other subject is untouched, and deleting again is a no-op.
        assert_eq!(
            store
                .list_records(&RecordQuery::of_subject(stays.id()), &all)
                .await
                .unwrap()
                .len(),
            3
        );
        assert!(store
            .get_key(stays.id(), KeyCompartment::General)
            .await
            .unwrap()
            .is_some());
        let mut again = WriteBatch::new();
        again.delete_subject(gone.id());
        store.apply(again).await.unwrap();
        // The id may be registered afresh.
        let mut reborn = Person::new("13", "A-1");
        reborn.subject.subject_id = gone.id();
        register(store, &[&rebind(reborn)]).await;
    }

    /// Points every row of `p` at its (changed) subject id.
    fn rebind(mut p: Person) -> Person {
        let s = p.subject.subject_id;
        p.general_key.subject_id = s;
        p.my_number_key.subject_id = s;
        p.my_number.subject_id = s;
        for r in [&mut p.examinee, &mut p.application, &mut p.result] {
            r.subject_id = s;
        }
        for i in &mut p.indexes {
            i.subject_id = s;
        }
        p
    }

    pub(super) async fn delete_record_removes_its_indexes_and_history(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let mut b = WriteBatch::new();
        b.insert_history(HistoryRow {
            record_id: p.application.record_id,
            version: 1,
            changed_at: at(1),
            actor_id: "officer-7".into(),
            sealed: sealed("old"),
        })
        .push(WriteOp::DeleteRecord {
            record_id: p.application.record_id,
        });
        store.apply(b).await.unwrap();

        let all = TenantScope::All;
        assert_eq!(
            store
                .get_record(p.application.record_id, &all)
                .await
                .unwrap(),
            None
        );
        assert!(store
            .record_history(p.application.record_id, &all)
            .await
            .unwrap()
            .is_empty());
        let a1 = [(1, digest("application_id", 1, "A-1"))];
        assert!(store
            .find_by_index("application_id", &a1, &all, 10)
            .await
            .unwrap()
            .is_empty());
        // Its child and the subject's other records stay.
        assert!(store
            .get_record(p.result.record_id, &all)
            .await
            .unwrap()
            .is_some());
        assert!(store
            .get_record(p.examinee.record_id, &all)
            .await
            .unwrap()
            .is_some());
    }

    pub(super) async fn delete_indexes_removes_only_the_named_field(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let all = TenantScope::All;
        let a1 = [(1, digest("application_id", 1, "A-1"))];
        let e = [(1, digest("exam_number", 1, "E-0001"))];

        store
            .apply(one_op(WriteOp::DeleteIndexes {
                record_id: p.application.record_id,
                field: Some("exam_number".into()),
            }))
            .await
            .unwrap();
        assert!(store
            .find_by_index("exam_number", &e, &all, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .find_by_index("application_id", &a1, &all, 10)
                .await
                .unwrap()
                .len(),
            1
        );

        // Re-indexing in the same batch: delete, then insert the new value.
        let mut b = one_op(WriteOp::DeleteIndexes {
            record_id: p.application.record_id,
            field: None,
        });
        b.insert_index(index("application_id", 1, "A-1", &p.application, true));
        store.apply(b).await.unwrap();
        assert_eq!(
            store
                .find_by_index("application_id", &a1, &all, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    pub(super) async fn moving_a_record_to_another_prefecture_moves_its_search_scope(
        store: &dyn Store,
    ) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let mut moved = correction(&p.application, "moved");
        moved.prefecture_code = "35".into();
        let mut b = WriteBatch::new();
        b.update_record(moved, 1);
        store.apply(b).await.unwrap();

        let a1 = [(1, digest("application_id", 1, "A-1"))];
        assert!(store
            .find_by_index("application_id", &a1, &only(&["13"]), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .find_by_index("application_id", &a1, &only(&["35"]), 10)
                .await
                .unwrap(),
            vec![p.application_hit()]
        );
        assert_eq!(
            store
                .get_record(p.application.record_id, &only(&["13"]))
                .await
                .unwrap(),
            None
        );
    }

    pub(super) async fn list_records_pages_by_record_id(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        let mut b = p.batch();
        let mut apps = vec![p.application.clone()];
        for _ in 0..4 {
            let a = record(
                RecordKind::Application,
                &p.subject,
                Some(p.examinee.record_id),
            );
            apps.push(a.clone());
            b.insert_record(a);
        }
        store.apply(b).await.unwrap();
        apps.sort_by_key(|r| r.record_id);
        let all = TenantScope::All;

        let query = RecordQuery::of_subject(p.id())
            .kind(RecordKind::Application)
            .limit(2);
        let mut pages = Vec::new();
        let mut q = query;
        loop {
            let page = store.list_records(&q, &all).await.unwrap();
            let Some(last) = page.last() else { break };
            q = query.after(last.record_id);
            pages.push(page);
        }
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert_eq!(pages.concat(), apps);

        // Children of the examinee record: the five applications, not the result.
        let children = store
            .list_records(&RecordQuery::of_parent(p.examinee.record_id), &all)
            .await
            .unwrap();
        assert_eq!(children, apps);
        let of_app = store
            .list_records(&RecordQuery::of_parent(p.application.record_id), &all)
            .await
            .unwrap();
        assert_eq!(of_app, vec![p.result.clone()]);
        // Without a kind: everything of the subject.
        let every = store
            .list_records(&RecordQuery::of_subject(p.id()), &all)
            .await
            .unwrap();
        assert_eq!(every.len(), 7);
    }

    pub(super) async fn due_records_are_listed_by_clock_date(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        let mut b = p.batch();
        let mut due = Vec::new();
        for (i, day) in [3, 1, 2, 1].into_iter().enumerate() {
            let mut r = record(RecordKind::Application, &p.subject, None);
            r.clock_date = Some(date(2010, 1, day));
            r.sealed = sealed(&format!("old-{i}"));
            due.push(r.clone());
            b.insert_record(r);
        }
        store.apply(b).await.unwrap();
        due.sort_by_key(|r| (r.clock_date, r.record_id));
        let all = TenantScope::All;

        let first = store
            .list_records_due(RecordKind::Application, date(2011, 1, 1), None, 3, &all)
            .await
            .unwrap();
        assert_eq!(first, due[..3]);
        let last = first.last().unwrap();
        let rest = store
            .list_records_due(
                RecordKind::Application,
                date(2011, 1, 1),
                Some((last.clock_date.unwrap(), last.record_id)),
                3,
                &all,
            )
            .await
            .unwrap();
        assert_eq!(rest, due[3..]);
        // The application of 2024 is not due yet in 2011.
        assert!(!first
            .iter()
            .chain(&rest)
            .any(|r| r.record_id == p.application.record_id));
    }

    pub(super) async fn suspension_and_subject_changes_are_stored(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let mut b = WriteBatch::new();
        b.push(WriteOp::SetSuspended {
            subject_id: p.id(),
            suspended: true,
            updated_at: at(10),
        })
        .push(WriteOp::UpdateSubject {
            subject_id: p.id(),
            prefecture_code: "35".into(),
            status: "moved".into(),
            updated_at: at(20),
        });
        store.apply(b).await.unwrap();

        let s = store
            .get_subject(p.id(), &only(&["35"]))
            .await
            .unwrap()
            .unwrap();
        assert!(s.suspended);
        assert_eq!(
            (s.prefecture_code.as_str(), s.status.as_str(), s.updated_at),
            ("35", "moved", at(20))
        );
        assert_eq!(
            store.get_subject(p.id(), &only(&["13"])).await.unwrap(),
            None
        );

        let missing = one_op(WriteOp::SetSuspended {
            subject_id: Uuid::new_v4(),
            suspended: true,
            updated_at: at(30),
        });
        assert!(matches!(
            store.apply(missing).await,
            Err(StoreError::NotFound)
        ));
    }

    pub(super) async fn delete_key_removes_only_that_compartment(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        register(store, &[&p]).await;
        let mut b = WriteBatch::new();
        b.push(WriteOp::DeleteKey {
            subject_id: p.id(),
            compartment: KeyCompartment::MyNumber,
        });
        store.apply(b).await.unwrap();
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::MyNumber)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::General)
                .await
                .unwrap(),
            Some(p.general_key.clone())
        );
        let all = TenantScope::All;
        assert_eq!(
            store.get_record(p.examinee.record_id, &all).await.unwrap(),
            Some(p.examinee.clone())
        );
        // Deleting a key that is already gone is a no-op.
        let mut b = WriteBatch::new();
        b.push(WriteOp::DeleteKey {
            subject_id: p.id(),
            compartment: KeyCompartment::MyNumber,
        });
        store.apply(b).await.unwrap();
    }

    pub(super) async fn upsert_key_replaces_the_previous_wrapping(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        let mut b = p.batch();
        // Two upserts of one key in one batch: the last one wins.
        let mut later = p.general_key.clone();
        later.wrapped = sealed("dek-later");
        b.upsert_key(later.clone());
        store.apply(b).await.unwrap();
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::General)
                .await
                .unwrap(),
            Some(later)
        );

        let mut newest = p.general_key.clone();
        newest.kek_version = 2;
        newest.wrapped = sealed("dek-newest");
        let mut b = WriteBatch::new();
        b.upsert_key(newest.clone());
        store.apply(b).await.unwrap();
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::General)
                .await
                .unwrap(),
            Some(newest)
        );
        assert_eq!(
            store
                .get_key(p.id(), KeyCompartment::MyNumber)
                .await
                .unwrap(),
            Some(p.my_number_key.clone())
        );
    }

    pub(super) async fn rewrap_replaces_only_keys_still_under_the_expected_version(
        store: &dyn Store,
    ) {
        let people: Vec<Person> = (0..5)
            .map(|i| Person::new("13", &format!("A-{i}")))
            .collect();
        register(store, &people.iter().collect::<Vec<_>>()).await;
        let counts = store.count_keys_by_kek().await.unwrap();
        let summary: Vec<(String, u32, u64)> = counts
            .iter()
            .map(|c| (c.kek_id.clone(), c.kek_version, c.count))
            .collect();
        assert_eq!(
            summary,
            vec![("general".into(), 1, 5), ("my_number".into(), 1, 5)]
        );

        // Page through the work list of general keys below version 2.
        let mut work = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_keys_for_rewrap("general", 2, after, 2)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.subject_id);
            work.extend(page);
        }
        let mut ids: Vec<Uuid> = people.iter().map(Person::id).collect();
        ids.sort();
        assert_eq!(work.iter().map(|k| k.subject_id).collect::<Vec<_>>(), ids);
        assert!(work
            .iter()
            .all(|k| k.compartment == KeyCompartment::General));
        // Each listed row is the stored key, byte for byte.
        for k in &work {
            assert_eq!(
                store
                    .get_key(k.subject_id, KeyCompartment::General)
                    .await
                    .unwrap()
                    .as_ref(),
                Some(k)
            );
        }

        // Meanwhile one subject is shredded: its re-wrap must not bring the key back.
        let shredded = work[0].subject_id;
        let mut b = WriteBatch::new();
        b.delete_subject(shredded);
        store.apply(b).await.unwrap();

        let mut b = WriteBatch::new();
        for k in &work {
            b.push(WriteOp::RewrapKey {
                key: KeyRow {
                    kek_version: 2,
                    wrapped: sealed("dek-v2"),
                    ..k.clone()
                },
                expected_kek_id: "general".into(),
                expected_kek_version: 1,
            });
        }
        // A stale re-wrap (expects a version the key no longer has) changes nothing.
        b.push(WriteOp::RewrapKey {
            key: KeyRow {
                kek_version: 9,
                wrapped: sealed("dek-v9"),
                ..work[1].clone()
            },
            expected_kek_id: "general".into(),
            expected_kek_version: 1,
        });
        store.apply(b).await.unwrap();

        assert_eq!(
            store
                .get_key(shredded, KeyCompartment::General)
                .await
                .unwrap(),
            None
        );
        let k = store
            .get_key(work[1].subject_id, KeyCompartment::General)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((k.kek_version, k.wrapped), (2, sealed("dek-v2")));
        let summary: Vec<(String, u32, u64)> = store
            .count_keys_by_kek()
            .await
            .unwrap()
            .iter()
            .map(|c| (c.kek_id.clone(), c.kek_version, c.count))
            .collect();
        assert_eq!(
            summary,
            vec![("general".into(), 2, 4), ("my_number".into(), 1, 4)]
        );
        assert!(store
            .list_keys_for_rewrap("general", 2, None, 10)
            .await
            .unwrap()
            .is_empty());
    }

    /// 1,300 keys in one page and one batch: the listing and the `UPDATE` cross their
    /// chunk boundaries (SQLite: 1,024 + 256 + 16 + 4 keys per statement).
    pub(super) async fn rewrap_of_more_keys_than_one_statement_takes_replaces_every_key(
        store: &dyn Store,
    ) {
        let people: Vec<Person> = (0..1_300)
            .map(|i| Person::new("13", &format!("B-{i}")))
            .collect();
        register(store, &people.iter().collect::<Vec<_>>()).await;
        let page = store
            .list_keys_for_rewrap("general", 2, None, 2_000)
            .await
            .unwrap();
        assert_eq!(page.len(), 1_300);
        assert!(page.windows(2).all(|w| w[0].subject_id < w[1].subject_id));
        let b: WriteBatch = page
            .iter()
            .map(|k| WriteOp::RewrapKey {
                key: KeyRow {
                    kek_version: 2,
                    wrapped: sealed(&format!("v2-{}", k.subject_id)),
                    ..k.clone()
                },
                expected_kek_id: "general".into(),
                expected_kek_version: 1,
            })
            .collect();
        store.apply(b).await.unwrap();
        assert!(store
            .list_keys_for_rewrap("general", 2, None, 2_000)
            .await
            .unwrap()
            .is_empty());
        for p in &people {
            let k = store
                .get_key(p.id(), KeyCompartment::General)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (k.kek_version, k.wrapped),
                (2, sealed(&format!("v2-{}", p.id())))
            );
        }
    }

    pub(super) async fn record_of_unknown_subject_is_a_constraint_violation(store: &dyn Store) {
        let p = Person::new("13", "A-1");
        let err = store
            .apply(one_op(WriteOp::InsertRecord(p.application.clone())))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    }

    pub(super) async fn errors_and_debug_output_carry_no_values(store: &dyn Store) {
        let mut p = Person::new("13", "A-1");
        p.application.fiscal_year = Some(1987);
        p.application.clock_date = Some(date(1987, 6, 5));
        register(store, &[&p]).await;
        let dup = Person::new("35", "A-1");
        let err = store.apply(dup.batch()).await.unwrap_err();
        let orphan = store
            .apply(one_op(WriteOp::InsertRecord(
                Person::new("13", "B").application,
            )))
            .await
            .unwrap_err();

        let digest_hex = hex::encode(dup.indexes[0].digest);
        let rows = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            p.subject,
            p.general_key,
            p.application,
            p.result,
            p.my_number,
            p.indexes,
            p.batch()
        );
        let printed = format!("{err} {err:?} {orphan} {orphan:?} {rows}");
        let decimal = |bytes: &[u8]| format!("{bytes:?}").trim_matches(['[', ']']).to_owned();
        let needles = [
            "sealed:application".to_owned(),
            decimal(&p.application.sealed[..6]),
            decimal(&dup.indexes[0].digest[..4]),
            digest_hex[..16].to_owned(),
            digest_hex[..16].to_uppercase(),
            "Some(1987)".to_owned(),
            "1987-06-05".to_owned(),
            "announced".to_owned(),
        ];
        for needle in &needles {
            assert!(
                !printed.contains(needle.as_str()),
                "output contains {needle:?}: {printed}"
            );
        }
        // It still says what happened and where.
        assert!(matches!(err, StoreError::Conflict(_)));
        assert!(err.to_string().contains("blind_index"), "{err}");
    }

    pub(super) async fn cancelled_apply_is_all_or_nothing_and_frees_the_writer(store: &dyn Store) {
        let all = TenantScope::All;
        let mut cancelled = 0;
        // The caller stops waiting after 1, 3, 10, 30 ms. The batch may still be applied
        // (writes run to their end in their own task) but never in part, and the
        // connection must come back without a dangling transaction.
        for (round, ms) in [1, 3, 10, 30].into_iter().enumerate() {
            let people: Vec<Person> = (0..2000)
                .map(|i| Person::new("13", &format!("C-{round}-{i}")))
                .collect();
            let batch: WriteBatch = people.iter().flat_map(Person::ops).collect();
            let outcome =
                tokio::time::timeout(std::time::Duration::from_millis(ms), store.apply(batch))
                    .await;
            let first = store.get_subject(people[0].id(), &all).await.unwrap();
            let last = store.get_subject(people[1999].id(), &all).await.unwrap();
            assert_eq!(
                first.is_some(),
                last.is_some(),
                "round {round}: half a batch is visible"
            );
            match outcome {
                Ok(applied) => {
                    applied.unwrap();
                    assert!(first.is_some());
                }
                Err(_elapsed) => cancelled += 1,
            }
            // Writes still work.
            let next = Person::new("13", &format!("after-cancel-{round}"));
            register(store, &[&next]).await;
        }
        assert!(
            cancelled > 0,
            "no apply was cancelled; the test proved nothing"
        );
    }

    /// sqlx 0.8 is not cancel-safe between BEGIN and its transaction guard: a dropped
    /// future could hand back a connection stuck in a transaction, after which every
    /// `BEGIN` on it fails. Cancel at many points and check the next write each time.
    pub(super) async fn writes_keep_working_after_many_cancelled_applies(store: &dyn Store) {
        for i in 0..400_u64 {
            let p = Person::new("13", &format!("X-{i}"));
            let dropped = std::time::Duration::from_micros(i * 7 % 700);
            let _ = tokio::time::timeout(dropped, store.apply(p.batch())).await;
            let q = Person::new("13", &format!("Y-{i}"));
            if let Err(e) = store.apply(q.batch()).await {
                panic!("write after cancellation {i} failed: {e}");
            }
        }
    }

    pub(super) async fn thirty_two_concurrent_batches_all_succeed(store: Arc<dyn Store>) {
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let prefecture = if t % 2 == 0 { "13" } else { "35" };
                    let people: Vec<Person> = (0..25)
                        .map(|i| Person::new(prefecture, &format!("T{t}-{i}")))
                        .collect();
                    store
                        .apply(people.iter().flat_map(Person::ops).collect())
                        .await
                })
            })
            .collect();
        for (t, task) in tasks.into_iter().enumerate() {
            if let Err(e) = task.await.expect("task panicked") {
                panic!("batch {t} failed: {e}");
            }
        }
        let everything = store
            .list_records(&RecordQuery::all().limit(10_000), &TenantScope::All)
            .await
            .unwrap();
        assert_eq!(everything.len(), 32 * 25 * 3);
    }
}
