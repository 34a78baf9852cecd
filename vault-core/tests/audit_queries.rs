//! Queries for security officers: event listing with paging (C11), the impact
//! report of an actor or a token (C14), and the anomaly report.

mod audit_support;
mod common;

use std::time::Duration;

use audit_support::*;
use chrono::{DateTime, TimeZone, Utc};
use common::TestDb;
use vault_core::audit::{
    anomaly_report, impact_report, query_events, AnomalyOptions, AuditError, AuditEvent,
    EventFilter, ImpactBy, ImpactQuery, Outcome,
};
use vault_core::store::Backend;

async fn pause() {
    // The writer stamps times in microseconds; make phases distinct.
    tokio::time::sleep(Duration::from_millis(5)).await;
}

fn read_by(actor: &str, token: &str, subject_n: u128, fields: &[&str]) -> AuditEvent {
    AuditEvent::new(ident(actor), label("examinee.read"), Outcome::Ok)
        .role(label("exam_staff"))
        .purpose(label("exam_administration"))
        .subject(subject(subject_n))
        .fields(fields.iter().map(|f| label(f)))
        .token_id(ident(token))
}

#[tokio::test]
async fn events_come_newest_first_in_pages_with_a_cursor() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        append_n(&log, 25).await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = query_events(
                env.backend(),
                &EventFilter::default(),
                10,
                cursor.as_deref(),
            )
            .await
            .unwrap();
            pages += 1;
            seen.extend(page.events.iter().map(|e| e.seq));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{name}");
        assert_eq!(seen, (1..=25).rev().collect::<Vec<u64>>(), "{name}");
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn officer_lists_one_actors_reads_in_a_time_window() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        log.append(read_by("acct-a", "tok-a", 1, &["name"]))
            .await
            .unwrap();
        pause().await;
        let from = Utc::now();
        pause().await;
        let mut expected = Vec::new();
        for n in 2..5 {
            expected.push(
                log.append(read_by("acct-a", "tok-a", n, &["name"]))
                    .await
                    .unwrap(),
            );
            log.append(read_by("acct-b", "tok-b", n, &["name"]))
                .await
                .unwrap();
        }
        pause().await;
        let to = Utc::now();
        pause().await;
        log.append(read_by("acct-a", "tok-a", 9, &["name"]))
            .await
            .unwrap();

        let filter = EventFilter {
            actor: Some(ident("acct-a")),
            from: Some(from),
            to: Some(to),
            ..EventFilter::default()
        };
        let page = query_events(env.backend(), &filter, 100, None)
            .await
            .unwrap();
        let got: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
        expected.reverse();
        assert_eq!(got, expected, "{name}");
        assert!(page.events.iter().all(|e| e.actor.as_str() == "acct-a"));
        assert_eq!(
            page.events[0].role.as_ref().map(|r| r.as_str()),
            Some("exam_staff")
        );
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn events_about_one_subject_are_found() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        let a = log
            .append(read_by("acct-a", "tok-a", 1, &["name"]))
            .await
            .unwrap();
        log.append(read_by("acct-a", "tok-a", 2, &["name"]))
            .await
            .unwrap();
        let export = AuditEvent::new(ident("acct-b"), label("examinee.export"), Outcome::Ok)
            .subjects([subject(1), subject(3)]);
        let b = log.append(export).await.unwrap();
        let filter = EventFilter {
            subject: Some(subject(1)),
            ..EventFilter::default()
        };
        let page = query_events(env.backend(), &filter, 100, None)
            .await
            .unwrap();
        assert_eq!(
            page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![b, a]
        );
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn events_are_filtered_by_action_and_outcome() {
    for db in TestDb::both().await {
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        log.append(read_by("acct-a", "tok-a", 1, &["name"]))
            .await
            .unwrap();
        let denied = log
            .append(
                AuditEvent::new(ident("acct-a"), label("examinee.reveal"), Outcome::Denied)
                    .subject(subject(1)),
            )
            .await
            .unwrap();
        log.append(
            AuditEvent::new(ident("acct-a"), label("examinee.reveal"), Outcome::Ok)
                .subject(subject(2)),
        )
        .await
        .unwrap();
        let filter = EventFilter {
            action: Some(label("examinee.reveal")),
            outcome: Some(Outcome::Denied),
            ..EventFilter::default()
        };
        let page = query_events(env.backend(), &filter, 100, None)
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].seq, denied);
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn a_forged_cursor_is_refused() {
    let env = Env::new(TestDb::sqlite().await).await;
    let r = query_events(
        env.backend(),
        &EventFilter::default(),
        10,
        Some("not-a-cursor"),
    )
    .await;
    assert!(matches!(r, Err(AuditError::InvalidCursor)));
    env.cleanup().await;
}

#[tokio::test]
async fn impact_report_of_a_leaked_token_lists_exactly_the_subjects_it_read() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let env = Env::new(db).await;
        let log = env.start(env.config(100)).await;
        let from = Utc::now();
        pause().await;
        // The leaked token reads subjects 1, 2 and 3 (1 twice), is refused on 4.
        log.append(read_by("acct-a", "tok-leaked", 1, &["name", "address"]))
            .await
            .unwrap();
        log.append(read_by("acct-a", "tok-leaked", 1, &["name"]))
            .await
            .unwrap();
        log.append(read_by("acct-a", "tok-leaked", 2, &["phone"]))
            .await
            .unwrap();
        log.append(read_by("acct-a", "tok-leaked", 3, &["name"]))
            .await
            .unwrap();
        log.append(
            AuditEvent::new(ident("acct-a"), label("examinee.reveal"), Outcome::Denied)
                .subject(subject(4))
                .token_id(ident("tok-leaked")),
        )
        .await
        .unwrap();
        // The same account's other token, and another account, read subject 5.
        log.append(read_by("acct-a", "tok-other", 5, &["name"]))
            .await
            .unwrap();
        log.append(read_by("acct-b", "tok-b", 5, &["name"]))
            .await
            .unwrap();
        pause().await;
        let to = Utc::now();

        let r = impact_report(
            env.backend(),
            &ImpactQuery {
                by: ImpactBy::Token(ident("tok-leaked")),
                from,
                to,
            },
        )
        .await
        .unwrap();
        assert_eq!(r.notify, vec![subject(1), subject(2), subject(3)], "{name}");
        assert_eq!(r.events, 5);
        assert_eq!(r.refused, 1);
        assert_eq!(r.fields.get("name"), Some(&3));
        assert_eq!(r.fields.get("address"), Some(&1));
        assert_eq!(r.fields.get("phone"), Some(&1));
        let s1 = r.subjects.iter().find(|s| s.subject == subject(1)).unwrap();
        assert_eq!(s1.accessed, 2);
        assert_eq!(s1.fields.get("name"), Some(&2));
        let s4 = r.subjects.iter().find(|s| s.subject == subject(4)).unwrap();
        assert_eq!((s4.accessed, s4.refused), (0, 1));
        assert!(!r.subjects.iter().any(|s| s.subject == subject(5)));

        let by_actor = impact_report(
            env.backend(),
            &ImpactQuery {
                by: ImpactBy::Actor(ident("acct-a")),
                from,
                to,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            by_actor.notify,
            vec![subject(1), subject(2), subject(3), subject(5)]
        );
        log.close().await;
        env.cleanup().await;
    }
}

#[tokio::test]
async fn impact_report_refuses_an_empty_window() {
    let env = Env::new(TestDb::sqlite().await).await;
    let t = Utc::now();
    let r = impact_report(
        env.backend(),
        &ImpactQuery {
            by: ImpactBy::Actor(ident("acct-a")),
            from: t,
            to: t,
        },
    )
    .await;
    assert!(matches!(r, Err(AuditError::InvalidQuery(_))));
    env.cleanup().await;
}

// ---- anomalies: synthetic rows with chosen times (queries do not need the chain) ----

struct Synth {
    seq: i64,
}

impl Synth {
    async fn add(
        &mut self,
        backend: &Backend,
        at: DateTime<Utc>,
        actor: &str,
        outcome: &str,
        source: &str,
    ) {
        self.seq += 1;
        let e = RawEvent {
            chain_id: "synthetic".into(),
            seq: self.seq,
            at_us: at.timestamp_micros(),
            actor: actor.into(),
            role: None,
            purpose: None,
            action: "examinee.read".into(),
            tenant: None,
            subjects: String::new(),
            fields: String::new(),
            outcome: outcome.into(),
            request_id: None,
            source: Some(source.into()),
            token_id: None,
            prev_hash: vec![0; 32],
            hash: vec![0; 32],
        };
        insert_raw(backend, &e).await;
    }
}

/// 2025-03-03 is a Monday. `jst(d, h, m)` = that day + d at h:m Tokyo time.
fn jst(day: i64, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, h, m, 0).unwrap() - chrono::Duration::hours(9)
        + chrono::Duration::days(day)
}

#[tokio::test]
async fn anomaly_report_flags_an_actor_far_above_its_usual_volume() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let backend = db.backend.clone();
        let mut s = Synth { seq: 0 };
        // Four weeks of 3 reads a day for both actors, at 10:00 JST.
        for d in -28..0 {
            for i in 0..3 {
                s.add(&backend, jst(d, 10, i), "acct-usual", "ok", "192.0.2.1")
                    .await;
                s.add(&backend, jst(d, 10, 10 + i), "acct-bulk", "ok", "192.0.2.2")
                    .await;
            }
        }
        // On the day: acct-bulk reads 40 records, acct-usual 4.
        for i in 0..40 {
            s.add(&backend, jst(0, 11, i), "acct-bulk", "ok", "192.0.2.2")
                .await;
        }
        for i in 0..4 {
            s.add(&backend, jst(0, 11, i), "acct-usual", "ok", "192.0.2.1")
                .await;
        }
        let mut opts = AnomalyOptions::new(jst(0, 0, 0), jst(1, 0, 0));
        opts.min_events = 4;
        let r = anomaly_report(&backend, &opts).await.unwrap();
        let flagged: Vec<&str> = r.volume.iter().map(|v| v.actor.as_str()).collect();
        assert_eq!(flagged, vec!["acct-bulk"], "{name}: {r:?}");
        assert_eq!(r.volume[0].events, 40);
        assert_eq!(r.volume[0].baseline_median_per_day, 3.0);
        assert!(r.off_hours.is_empty(), "{name}: {r:?}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn anomaly_report_lists_activity_outside_tokyo_working_hours() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let backend = db.backend.clone();
        let mut s = Synth { seq: 0 };
        s.add(&backend, jst(0, 10, 0), "acct-day", "ok", "192.0.2.1")
            .await; // Monday 10:00
        s.add(&backend, jst(0, 23, 30), "acct-night", "ok", "192.0.2.2")
            .await; // Monday 23:30
        s.add(&backend, jst(5, 11, 0), "acct-night", "ok", "192.0.2.2")
            .await; // Saturday 11:00
        s.add(&backend, jst(1, 3, 0), "system", "ok", "192.0.2.3")
            .await; // a night job
        let r = anomaly_report(&backend, &AnomalyOptions::new(jst(0, 0, 0), jst(7, 0, 0)))
            .await
            .unwrap();
        assert_eq!(r.off_hours.len(), 1, "{name}: {r:?}");
        assert_eq!(r.off_hours[0].actor.as_str(), "acct-night");
        assert_eq!(r.off_hours[0].events, 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn anomaly_report_finds_bursts_of_denials() {
    for db in TestDb::both().await {
        let name = db.backend.name();
        let backend = db.backend.clone();
        let mut s = Synth { seq: 0 };
        // Twelve failed logins within four minutes from one address.
        for i in 0..12 {
            s.add(
                &backend,
                jst(0, 10, 0) + chrono::Duration::seconds(20 * i),
                "anonymous",
                "denied",
                "203.0.113.5",
            )
            .await;
        }
        // Five denials spread over the day: not a burst.
        for h in 0..5 {
            s.add(&backend, jst(0, 9 + h, 30), "acct-a", "denied", "192.0.2.1")
                .await;
        }
        let r = anomaly_report(&backend, &AnomalyOptions::new(jst(0, 0, 0), jst(1, 0, 0)))
            .await
            .unwrap();
        assert_eq!(r.denial_bursts.len(), 1, "{name}: {r:?}");
        let b = &r.denial_bursts[0];
        assert_eq!(b.actor.as_str(), "anonymous");
        assert_eq!(b.denials, 12);
        assert_eq!(b.source, Some("203.0.113.5".parse().unwrap()));
        assert_eq!(b.from, jst(0, 10, 0));
        db.cleanup().await;
    }
}
