//! C13: the audit chain is tamper-evident. Each test plays an attacker with write
//! access to the database (but not to the signing key or the checkpoint file) on
//! SQLite and on PostgreSQL, and shows that `verify` names the place.

mod audit_support;
mod common;

use audit_support::*;
use common::TestDb;
use vault_core::audit::{verify, Problem, VerifyOptions};

/// 20 events, checkpoints every 5; the log is closed (final checkpoint at 20).
async fn env_with_events(db: TestDb, n: u64, every: u64) -> Env {
    let env = Env::new(db).await;
    let log = env.start(env.config(every)).await;
    append_n(&log, n).await;
    log.close().await;
    env
}

#[tokio::test]
async fn intact_log_verifies() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 20, 5).await;
        let r = env.verify().await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.checked, 20);
        // Checkpoints 5, 10, 15, 20: each in the database and in the file, counted once.
        assert_eq!(r.chains[0].checkpoints_matched, 4);
        env.cleanup().await;
    }
}

#[tokio::test]
async fn updating_an_audit_event_is_refused_by_the_database() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 3, 5).await;
        let r = match env.backend() {
            vault_core::store::Backend::Sqlite(p) => {
                sqlx::query("UPDATE audit_events SET actor = 'x' WHERE seq = 2")
                    .execute(p)
                    .await
                    .map(|_| ())
            }
            vault_core::store::Backend::Postgres(p) => {
                sqlx::query("UPDATE audit_events SET actor = 'x' WHERE seq = 2")
                    .execute(p)
                    .await
                    .map(|_| ())
            }
        };
        assert!(r.is_err(), "{}: update accepted", env.backend().name());
        env.cleanup().await;
    }
}

fn flip_text(s: &mut String, at: usize) {
    let mut b = std::mem::take(s).into_bytes();
    let i = at % b.len();
    // Flip the lowest bit: the text stays ASCII (PostgreSQL accepts only UTF-8).
    b[i] ^= 0x01;
    *s = String::from_utf8(b).unwrap();
}

#[tokio::test]
async fn flipping_one_byte_of_any_stored_column_names_that_seq() {
    let columns = [
        "at_us",
        "actor",
        "role",
        "purpose",
        "action",
        "tenant",
        "subjects",
        "fields",
        "outcome",
        "request_id",
        "source",
        "token_id",
        "prev_hash",
        "hash",
        "seq",
        "chain_id",
    ];
    for db in TestDb::both().await {
        let backend_name = db.backend.name();
        let env = env_with_events(db, 12, 5).await;
        drop_update_guard(env.backend()).await;
        for (k, column) in columns.iter().enumerate() {
            let original = raw_events(env.backend())
                .await
                .into_iter()
                .find(|e| e.seq == 7)
                .unwrap();
            let mut e = original.clone();
            match *column {
                "at_us" => e.at_us ^= 1,
                "actor" => flip_text(&mut e.actor, k),
                "role" => flip_text(e.role.as_mut().unwrap(), k),
                "purpose" => flip_text(e.purpose.as_mut().unwrap(), k),
                "action" => flip_text(&mut e.action, k),
                "tenant" => flip_text(e.tenant.as_mut().unwrap(), k),
                "subjects" => flip_text(&mut e.subjects, k),
                "fields" => flip_text(&mut e.fields, k),
                "outcome" => flip_text(&mut e.outcome, k),
                "request_id" => flip_text(e.request_id.as_mut().unwrap(), k),
                "source" => flip_text(e.source.as_mut().unwrap(), k),
                "token_id" => flip_text(e.token_id.as_mut().unwrap(), k),
                "prev_hash" => e.prev_hash[k % 32] ^= 0x01,
                "hash" => e.hash[k % 32] ^= 0x01,
                "seq" => e.seq ^= 1 << 20,
                "chain_id" => flip_text(&mut e.chain_id, 0),
                _ => unreachable!(),
            }
            replace_event(env.backend(), "main", 7, &e).await;
            let r = env.verify().await;
            assert!(!r.ok, "{backend_name}: {column} flip not detected");
            let at_seven = r
                .findings
                .iter()
                .any(|f| f.chain == "main" && f.seq == Some(7));
            assert!(at_seven, "{backend_name}: {column}: {r:?}");
            if *column != "chain_id" {
                assert_eq!(
                    r.first_broken_seq,
                    Some(7),
                    "{backend_name}: {column}: {r:?}"
                );
                assert_eq!(r.chain.as_deref(), Some("main"));
            }
            let expected = match *column {
                "seq" | "chain_id" => Problem::Missing,
                _ => Problem::Edited,
            };
            assert_eq!(
                r.findings
                    .iter()
                    .find(|f| f.chain == "main" && f.seq == Some(7))
                    .unwrap()
                    .problem,
                expected,
                "{backend_name}: {column}"
            );
            // Put it back for the next column.
            replace_event(env.backend(), &e.chain_id, e.seq, &original).await;
            assert!(
                env.verify().await.ok,
                "{backend_name}: restore after {column}"
            );
        }
        env.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_middle_event_reports_the_gap() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 20, 5).await;
        exec(
            env.backend(),
            "DELETE FROM audit_events WHERE chain_id = 'main' AND seq = 12",
        )
        .await;
        let r = env.verify().await;
        assert!(!r.ok);
        assert_eq!(r.first_broken_seq, Some(12));
        assert_eq!(r.problem, Some(Problem::Missing));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_and_renumbering_is_reported_as_missing() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 10, 50).await;
        drop_update_guard(env.backend()).await;
        exec(
            env.backend(),
            "DELETE FROM audit_events WHERE chain_id = 'main' AND seq = 4",
        )
        .await;
        for seq in 5..=10 {
            let e = raw_events(env.backend())
                .await
                .into_iter()
                .find(|e| e.seq == seq)
                .unwrap();
            let mut moved = e.clone();
            moved.seq -= 1;
            replace_event(env.backend(), "main", seq, &moved).await;
        }
        let r = env.verify().await;
        assert_eq!(r.first_broken_seq, Some(4), "{r:?}");
        assert_eq!(r.problem, Some(Problem::Missing));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn swapping_two_events_is_reported_as_reordered() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 10, 50).await;
        drop_update_guard(env.backend()).await;
        let rows = raw_events(env.backend()).await;
        let (a, b) = (rows[3].clone(), rows[6].clone()); // seq 4 and 7
        let mut a_at_b = a.clone();
        a_at_b.seq = b.seq;
        let mut b_at_a = b.clone();
        b_at_a.seq = a.seq;
        exec_i64(
            env.backend(),
            "DELETE FROM audit_events WHERE chain_id = 'main' AND seq = ?",
            b.seq,
        )
        .await;
        replace_event(env.backend(), "main", a.seq, &b_at_a).await;
        insert_raw(env.backend(), &a_at_b).await;
        let r = env.verify().await;
        assert_eq!(r.first_broken_seq, Some(4), "{r:?}");
        assert_eq!(r.problem, Some(Problem::Reordered), "{r:?}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn truncating_the_tail_is_detected_by_the_checkpoint_file() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 50, 10).await;
        // The attacker cuts events 26..50, removes the database checkpoints that
        // mention them and fixes the head: the database alone looks consistent.
        exec(
            env.backend(),
            "DELETE FROM audit_events WHERE chain_id = 'main' AND seq > 25",
        )
        .await;
        exec(
            env.backend(),
            "DELETE FROM audit_checkpoints WHERE chain_id = 'main' AND seq > 25",
        )
        .await;
        let last = raw_events(env.backend()).await.pop().unwrap();
        set_head(env.backend(), 25, &last.hash).await;

        let without_file = verify(
            env.backend(),
            &VerifyOptions::new().public_key(
                "audit-test-1",
                vault_core::audit::CheckpointSigner::public_key(&*env.signer),
            ),
        )
        .await
        .unwrap();
        assert!(
            without_file.ok,
            "the database alone cannot show it: that is the file's job"
        );

        let r = env.verify().await;
        assert!(!r.ok);
        assert_eq!(
            r.problem,
            Some(Problem::TruncatedAfterCheckpoint(30)),
            "{r:?}"
        );
        assert_eq!(r.first_broken_seq, Some(26));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn truncating_without_fixing_the_head_is_detected_without_the_file() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 20, 50).await;
        exec(
            env.backend(),
            "DELETE FROM audit_events WHERE chain_id = 'main' AND seq > 15",
        )
        .await;
        let r = verify(env.backend(), &VerifyOptions::new()).await.unwrap();
        assert!(!r.ok);
        assert_eq!(r.first_broken_seq, Some(16), "{r:?}");
        env.cleanup().await;
    }
}

/// Edits event `at`, re-chains everything after it and fixes the head.
async fn rewrite_tail(env: &Env, at: i64) {
    drop_update_guard(env.backend()).await;
    let mut rows = raw_events(env.backend()).await;
    let start = rows.iter().position(|e| e.seq == at).unwrap();
    let prev = rows[start - 1].hash.clone();
    rows[start].actor = "acct-forged".into();
    let head = rechain(&mut rows[start..], prev);
    for e in &rows[start..] {
        replace_event(env.backend(), "main", e.seq, e).await;
    }
    set_head(env.backend(), rows.last().unwrap().seq, &head).await;
}

#[tokio::test]
async fn rewriting_the_tail_with_a_recomputed_chain_fails_the_checkpoints() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 30, 10).await;
        rewrite_tail(&env, 15).await;
        let r = env.verify().await;
        assert!(!r.ok);
        assert_eq!(r.problem, Some(Problem::CheckpointMismatch(20)), "{r:?}");
        assert_eq!(
            r.first_broken_seq,
            Some(11),
            "the rewrite starts after checkpoint 10"
        );
        env.cleanup().await;
    }
}

#[tokio::test]
async fn rewriting_the_tail_and_dropping_database_checkpoints_fails_on_the_file() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 30, 10).await;
        rewrite_tail(&env, 15).await;
        exec(
            env.backend(),
            "DELETE FROM audit_checkpoints WHERE seq > 10",
        )
        .await;
        let r = env.verify().await;
        assert_eq!(r.problem, Some(Problem::CheckpointMismatch(20)), "{r:?}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_checkpoint_re_signed_without_the_key_is_a_bad_signature() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 30, 10).await;
        rewrite_tail(&env, 15).await;
        // The attacker also "updates" the stored checkpoints to the forged hashes.
        let rows = raw_events(env.backend()).await;
        for seq in [20i64, 30] {
            let h = rows.iter().find(|e| e.seq == seq).unwrap().hash.clone();
            match env.backend() {
                vault_core::store::Backend::Sqlite(p) => {
                    sqlx::query("UPDATE audit_checkpoints SET hash = ? WHERE seq = ?")
                        .bind(h)
                        .bind(seq)
                        .execute(p)
                        .await
                        .unwrap();
                }
                vault_core::store::Backend::Postgres(p) => {
                    sqlx::query("UPDATE audit_checkpoints SET hash = $1 WHERE seq = $2")
                        .bind(h)
                        .bind(seq)
                        .execute(p)
                        .await
                        .unwrap();
                }
            }
        }
        let r = env.verify().await;
        assert!(
            r.findings
                .iter()
                .any(|f| f.problem == Problem::BadSignature(20)),
            "{r:?}"
        );
        assert!(
            r.findings
                .iter()
                .any(|f| f.problem == Problem::CheckpointMismatch(20)),
            "file still disagrees"
        );
        env.cleanup().await;
    }
}

#[tokio::test]
async fn an_edited_checkpoint_file_line_is_a_bad_signature() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 20, 10).await;
        let text = std::fs::read_to_string(&env.checkpoint_file).unwrap();
        let edited = text.replacen("\"seq\":10,", "\"seq\":11,", 1);
        assert_ne!(text, edited);
        std::fs::write(&env.checkpoint_file, edited).unwrap();
        let r = env.verify().await;
        assert_eq!(r.problem, Some(Problem::BadSignature(11)), "{r:?}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_missing_checkpoint_file_fails_verification() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 5, 10).await;
        std::fs::remove_file(&env.checkpoint_file).unwrap();
        let r = env.verify().await;
        assert_eq!(r.problem, Some(Problem::CheckpointFileMissing));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn checkpoints_of_an_unknown_key_are_not_trusted() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 10, 5).await;
        let opts = VerifyOptions::new().checkpoint_file(&env.checkpoint_file);
        let r = verify(env.backend(), &opts).await.unwrap();
        assert_eq!(r.problem, Some(Problem::BadSignature(5)), "{r:?}");
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_dropped_subject_index_row_is_reported() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 10, 5).await;
        exec(
            env.backend(),
            "DELETE FROM audit_event_subjects WHERE seq = 6",
        )
        .await;
        let r = env.verify().await;
        assert_eq!(r.first_broken_seq, Some(6));
        assert_eq!(r.problem, Some(Problem::SubjectIndexMismatch));
        env.cleanup().await;
    }
}

#[tokio::test]
async fn an_event_inserted_behind_the_writers_back_breaks_the_head() {
    for db in TestDb::both().await {
        let env = env_with_events(db, 10, 5).await;
        let mut rows = raw_events(env.backend()).await;
        let mut forged = rows.pop().unwrap();
        forged.seq = 11;
        let prev = forged.hash.clone();
        forged.hash = chain_hash(&prev, &forged);
        forged.prev_hash = prev;
        insert_raw(env.backend(), &forged).await;
        let r = env.verify().await;
        assert_eq!(r.problem, Some(Problem::HeadMismatch), "{r:?}");
        assert_eq!(r.first_broken_seq, Some(11));
        env.cleanup().await;
    }
}
