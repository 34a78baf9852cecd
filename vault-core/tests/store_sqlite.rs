//! SQLite-specific behaviour of the record store: the store's writer connection shares
//! the database file with every other writer of the vault (audit, accounts).

mod common;

use std::sync::Arc;

use chrono::Utc;
use futures::future::join_all;
use uuid::Uuid;
use vault_core::store::{
    new_id, open_store, Backend, RecordQuery, SubjectKind, SubjectRow, WriteBatch,
};
use vault_policy::TenantScope;

use common::TestDb;

fn subject() -> SubjectRow {
    SubjectRow {
        subject_id: new_id(),
        kind: SubjectKind::Examinee,
        prefecture_code: "13".into(),
        status: "active".into(),
        suspended: false,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_batches_and_other_writers_share_the_file_without_lock_errors() {
    let db = TestDb::sqlite().await;
    let Backend::Sqlite(pool) = db.backend.clone() else {
        unreachable!("TestDb::sqlite opens SQLite")
    };
    let store = open_store(db.backend.clone());

    let store_writes = (0..16).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut b = WriteBatch::new();
            for _ in 0..50 {
                b.insert_subject(subject());
            }
            store.apply(b).await.map_err(|e| e.to_string())
        })
    });
    // Another module's writes on the shared pool, in their own transactions.
    let other_writes = (0..16).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query("INSERT INTO vault_meta (key, value) VALUES (?, ?)")
                .bind(format!("other-writer-{i}-{}", Uuid::new_v4()))
                .bind("x")
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())
        })
    });
    let results = join_all(store_writes.chain(other_writes)).await;
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|r| match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(join) => Some(join.to_string()),
        })
        .collect();
    let subjects: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subjects")
        .fetch_one(&pool)
        .await
        .unwrap_or(-1);
    drop(store);
    db.cleanup().await;

    assert!(failures.is_empty(), "writes failed: {failures:?}");
    assert_eq!(subjects, 16 * 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuids_dates_and_timestamps_are_readable_text() {
    let db = TestDb::sqlite().await;
    let Backend::Sqlite(pool) = db.backend.clone() else {
        unreachable!("TestDb::sqlite opens SQLite")
    };
    let store = open_store(db.backend.clone());
    let s = subject();
    let mut b = WriteBatch::new();
    b.insert_subject(s.clone());
    let applied = store.apply(b).await;
    let row: Result<(String, String, String), _> =
        sqlx::query_as("SELECT typeof(subject_id), subject_id, typeof(created_at) FROM subjects")
            .fetch_one(&pool)
            .await;
    let listed = store
        .list_records(&RecordQuery::of_subject(s.subject_id), &TenantScope::All)
        .await;
    drop(store);
    db.cleanup().await;

    applied.expect("apply");
    assert!(listed.expect("list").is_empty());
    let (id_type, id_text, ts_type) = row.expect("row");
    assert_eq!((id_type.as_str(), ts_type.as_str()), ("text", "text"));
    assert_eq!(id_text, s.subject_id.hyphenated().to_string());
}
