//! Queries for security officers (C11, C14): events by actor, subject, action or
//! time; the impact report of an actor or token; the anomaly report.
//!
//! Results hold ids and names only, like the events they come from. The caller (the
//! HTTP service) records its own `audit.query` event for every query it answers.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::Serialize;
use uuid::Uuid;

use super::chain::StoredEvent;
use super::error::AuditError;
use super::event::{Ident, Label, Outcome, RecordedEvent};
use super::sql::{self, Arg, EVENT_COLS};
use crate::store::Backend;

/// Largest page of [`query_events`].
pub const MAX_PAGE: u32 = 1000;
/// Rows read per query when a report streams through events.
const SCAN_PAGE: i64 = 2000;
const DAY_US: i64 = 86_400_000_000;

/// Which events [`query_events`] returns; every set criterion must hold.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Events of this actor.
    pub actor: Option<Ident>,
    /// Events that touched this subject.
    pub subject: Option<Uuid>,
    /// Events with this action.
    pub action: Option<Label>,
    /// Events made with this token.
    pub token_id: Option<Ident>,
    /// Events with this outcome.
    pub outcome: Option<Outcome>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

/// One page of events, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventPage {
    /// The events.
    pub events: Vec<RecordedEvent>,
    /// Pass this to get the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(at_us: i64, chain: &str, seq: i64) -> String {
    B64URL.encode(format!("v1|{at_us}|{seq}|{chain}"))
}

fn decode_cursor(c: &str) -> Result<(i64, String, i64), AuditError> {
    let raw = B64URL.decode(c).map_err(|_| AuditError::InvalidCursor)?;
    let text = String::from_utf8(raw).map_err(|_| AuditError::InvalidCursor)?;
    let mut parts = text.splitn(4, '|');
    let (Some("v1"), Some(at), Some(seq), Some(chain)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuditError::InvalidCursor);
    };
    let at = at.parse().map_err(|_| AuditError::InvalidCursor)?;
    let seq = seq.parse().map_err(|_| AuditError::InvalidCursor)?;
    if chain.is_empty() || chain.len() > 64 {
        return Err(AuditError::InvalidCursor);
    }
    Ok((at, chain.to_owned(), seq))
}

/// Events matching `filter`, newest first, at most `limit` (capped at [`MAX_PAGE`]),
/// continuing after `cursor` (from the previous page).
pub async fn query_events(
    backend: &Backend,
    filter: &EventFilter,
    limit: u32,
    cursor: Option<&str>,
) -> Result<EventPage, AuditError> {
    let limit = i64::from(limit.clamp(1, MAX_PAGE));
    let after = cursor.map(decode_cursor).transpose()?;
    let from = filter.from.map(|t| t.timestamp_micros());
    let to = filter.to.map(|t| t.timestamp_micros());
    let subject = filter.subject.map(|s| s.hyphenated().to_string());

    let mut sql = format!("SELECT {EVENT_COLS} FROM audit_events e WHERE 1 = 1");
    let mut args: Vec<Arg<'_>> = Vec::new();
    if let Some(a) = &filter.actor {
        sql.push_str(" AND e.actor = ?");
        args.push(Arg::Text(a.as_str()));
    }
    if let Some(a) = &filter.action {
        sql.push_str(" AND e.action = ?");
        args.push(Arg::Text(a.as_str()));
    }
    if let Some(t) = &filter.token_id {
        sql.push_str(" AND e.token_id = ?");
        args.push(Arg::Text(t.as_str()));
    }
    if let Some(o) = filter.outcome {
        sql.push_str(" AND e.outcome = ?");
        args.push(Arg::Text(o.as_str()));
    }
    if let Some(f) = from {
        sql.push_str(" AND e.at_us >= ?");
        args.push(Arg::I64(f));
    }
    if let Some(t) = to {
        sql.push_str(" AND e.at_us < ?");
        args.push(Arg::I64(t));
    }
    if let Some(s) = &subject {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM audit_event_subjects s \
             WHERE s.subject_id = ? AND s.chain_id = e.chain_id AND s.seq = e.seq)",
        );
        args.push(Arg::Text(s));
    }
    if let Some((at, chain, seq)) = &after {
        sql.push_str(" AND (e.at_us, e.chain_id, e.seq) < (?, ?, ?)");
        args.extend([Arg::I64(*at), Arg::Text(chain), Arg::I64(*seq)]);
    }
    sql.push_str(" ORDER BY e.at_us DESC, e.chain_id DESC, e.seq DESC LIMIT ?");
    let fetch_n = limit + 1;
    args.push(Arg::I64(fetch_n));

    let mut rows = sql::fetch(backend, &sql, &args, sql::decode_event).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last()
            .map(|r| encode_cursor(r.at_us, &r.chain_id, r.seq))
    } else {
        None
    };
    let events = rows
        .iter()
        .map(StoredEvent::to_recorded)
        .collect::<Result<_, _>>()?;
    Ok(EventPage {
        events,
        next_cursor,
    })
}

/// Streams events in `[from, to)` oldest first, with an extra condition, page by page.
async fn scan(
    backend: &Backend,
    extra: Option<(&str, &str)>,
    from_us: i64,
    to_us: i64,
    mut each: impl FnMut(&StoredEvent),
) -> Result<(), AuditError> {
    let mut after: Option<(i64, String, i64)> = None;
    loop {
        let mut sql =
            format!("SELECT {EVENT_COLS} FROM audit_events WHERE at_us >= ? AND at_us < ?");
        let mut args = vec![Arg::I64(from_us), Arg::I64(to_us)];
        if let Some((column_condition, value)) = extra {
            sql.push_str(column_condition);
            args.push(Arg::Text(value));
        }
        if let Some((at, chain, seq)) = &after {
            sql.push_str(" AND (at_us, chain_id, seq) > (?, ?, ?)");
            args.extend([Arg::I64(*at), Arg::Text(chain), Arg::I64(*seq)]);
        }
        sql.push_str(" ORDER BY at_us, chain_id, seq LIMIT ?");
        args.push(Arg::I64(SCAN_PAGE));
        let rows = sql::fetch(backend, &sql, &args, sql::decode_event).await?;
        for r in &rows {
            each(r);
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == SCAN_PAGE => {
                after = Some((last.at_us, last.chain_id.clone(), last.seq));
            }
            _ => return Ok(()),
        }
    }
}

fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(i64, i64), AuditError> {
    let (f, t) = (from.timestamp_micros(), to.timestamp_micros());
    if f >= t {
        return Err(AuditError::InvalidQuery(
            "the window must end after it starts",
        ));
    }
    Ok((f, t))
}

/// Whose activity an impact report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImpactBy {
    /// An account (for example a former employee or a compromised account).
    Actor(Ident),
    /// One token (for example a leaked token).
    Token(Ident),
}

/// The question of an impact report (影響範囲の特定, C14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactQuery {
    /// The actor or token.
    pub by: ImpactBy,
    /// Window start (inclusive).
    pub from: DateTime<Utc>,
    /// Window end (exclusive).
    pub to: DateTime<Utc>,
}

/// What an actor or token did to one subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectImpact {
    /// The subject (examinee or meister id).
    pub subject: Uuid,
    /// Successful events about the subject (data read, changed, revealed, exported,
    /// or the subject found by a search or resolve).
    pub accessed: u64,
    /// Refused or failed attempts about the subject.
    pub refused: u64,
    /// Field name -> successful events that touched it.
    pub fields: BTreeMap<String, u64>,
    /// Action -> events (successful or not).
    pub actions: BTreeMap<String, u64>,
    /// First event about the subject in the window.
    pub first_at: DateTime<Utc>,
    /// Last event about the subject in the window.
    pub last_at: DateTime<Utc>,
}

/// The impact report: which subjects and fields an actor or token touched, and whom
/// to notify (本人への連絡).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImpactReport {
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end.
    pub to: DateTime<Utc>,
    /// Events of the actor or token in the window.
    pub events: u64,
    /// Of which refused or failed.
    pub refused: u64,
    /// Field name -> successful events that touched it, over all subjects.
    pub fields: BTreeMap<String, u64>,
    /// Every subject named in an event, with counts.
    pub subjects: Vec<SubjectImpact>,
    /// Subjects to notify: those with at least one successful event.
    pub notify: Vec<Uuid>,
}

/// Builds the impact report of an actor or a token over a window.
pub async fn impact_report(backend: &Backend, q: &ImpactQuery) -> Result<ImpactReport, AuditError> {
    let (from_us, to_us) = window(q.from, q.to)?;
    let extra = match &q.by {
        ImpactBy::Actor(a) => (" AND actor = ?", a.as_str()),
        ImpactBy::Token(t) => (" AND token_id = ?", t.as_str()),
    };
    let mut events = 0u64;
    let mut refused = 0u64;
    let mut fields: BTreeMap<String, u64> = BTreeMap::new();
    let mut subjects: BTreeMap<String, SubjectImpact> = BTreeMap::new();
    let mut corrupt: Option<AuditError> = None;
    scan(backend, Some(extra), from_us, to_us, |row| {
        events += 1;
        let ok = row.outcome == Outcome::Ok.as_str();
        if !ok {
            refused += 1;
        }
        let row_fields: Vec<&str> = row.fields.split(',').filter(|f| !f.is_empty()).collect();
        if ok {
            for f in &row_fields {
                *fields.entry((*f).to_owned()).or_default() += 1;
            }
        }
        let Some(at) = DateTime::<Utc>::from_timestamp_micros(row.at_us) else {
            return;
        };
        for s in row.subject_texts() {
            let Ok(id) = Uuid::parse_str(s) else {
                corrupt.get_or_insert(AuditError::Corrupt {
                    chain: row.chain_id.clone(),
                    seq: u64::try_from(row.seq).unwrap_or(0),
                });
                continue;
            };
            let e = subjects
                .entry(s.to_owned())
                .or_insert_with(|| SubjectImpact {
                    subject: id,
                    accessed: 0,
                    refused: 0,
                    fields: BTreeMap::new(),
                    actions: BTreeMap::new(),
                    first_at: at,
                    last_at: at,
                });
            if ok {
                e.accessed += 1;
                for f in &row_fields {
                    *e.fields.entry((*f).to_owned()).or_default() += 1;
                }
            } else {
                e.refused += 1;
            }
            *e.actions.entry(row.action.clone()).or_default() += 1;
            e.first_at = e.first_at.min(at);
            e.last_at = e.last_at.max(at);
        }
    })
    .await?;
    if let Some(e) = corrupt {
        return Err(e);
    }
    let subjects: Vec<SubjectImpact> = subjects.into_values().collect();
    let notify = subjects
        .iter()
        .filter(|s| s.accessed > 0)
        .map(|s| s.subject)
        .collect();
    Ok(ImpactReport {
        from: q.from,
        to: q.to,
        events,
        refused,
        fields,
        subjects,
        notify,
    })
}

/// Working hours for the off-hours check (default 08:00-20:00 on weekdays, JST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkingHours {
    /// First working hour (local), 0-23.
    pub start_hour: u32,
    /// First hour after work (local), 1-24.
    pub end_hour: u32,
    /// Saturdays and Sundays are outside working hours.
    pub weekdays_only: bool,
    /// Local offset from UTC in minutes (Asia/Tokyo: +540, no daylight saving).
    pub utc_offset_minutes: i32,
}

impl Default for WorkingHours {
    fn default() -> Self {
        WorkingHours {
            start_hour: 8,
            end_hour: 20,
            weekdays_only: true,
            utc_offset_minutes: 9 * 60,
        }
    }
}

/// Options of the anomaly report.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AnomalyOptions {
    /// Window start (inclusive).
    pub from: DateTime<Utc>,
    /// Window end (exclusive).
    pub to: DateTime<Utc>,
    /// Days before the window that make an actor's usual volume.
    pub baseline_days: u32,
    /// An actor is flagged when the window holds more than this many times its usual volume.
    pub volume_factor: f64,
    /// ... and at least this many events.
    pub min_events: u64,
    /// Working hours; activity outside them is listed.
    pub working_hours: WorkingHours,
    /// A burst is at least this many denials ...
    pub denial_burst: u64,
    /// ... within this time, for one actor and source address.
    pub denial_window: Duration,
}

impl AnomalyOptions {
    /// Defaults: 28-day baseline, factor 3, at least 20 events, 08:00-20:00 JST
    /// weekdays, 10 denials within 5 minutes.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> AnomalyOptions {
        AnomalyOptions {
            from,
            to,
            baseline_days: 28,
            volume_factor: 3.0,
            min_events: 20,
            working_hours: WorkingHours::default(),
            denial_burst: 10,
            denial_window: Duration::from_secs(300),
        }
    }
}

/// An actor far above its usual volume.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VolumeAnomaly {
    /// The actor.
    pub actor: Ident,
    /// Events in the window.
    pub events: u64,
    /// Median events per local day over the baseline (days without events count as 0).
    pub baseline_median_per_day: f64,
    /// The median scaled to the window's length.
    pub expected: f64,
}

/// Activity of one actor outside working hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OffHoursActivity {
    /// The actor.
    pub actor: Ident,
    /// Events outside working hours.
    pub events: u64,
    /// First of them.
    pub first_at: DateTime<Utc>,
    /// Last of them.
    pub last_at: DateTime<Utc>,
}

/// A burst of denials for one actor (`anonymous` for failed authentications) and source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DenialBurst {
    /// The actor.
    pub actor: Ident,
    /// The source address.
    pub source: Option<IpAddr>,
    /// Denials in the burst.
    pub denials: u64,
    /// First denial.
    pub from: DateTime<Utc>,
    /// Last denial.
    pub to: DateTime<Utc>,
}

/// The anomaly report of a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnomalyReport {
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end.
    pub to: DateTime<Utc>,
    /// Actors far above their usual volume, highest first.
    pub volume: Vec<VolumeAnomaly>,
    /// Actors active outside working hours (the vault's own `system` actor excluded).
    pub off_hours: Vec<OffHoursActivity>,
    /// Bursts of denials.
    pub denial_bursts: Vec<DenialBurst>,
}

fn median(mut v: Vec<u64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

fn off_hours(at_us: i64, wh: &WorkingHours) -> bool {
    let local_us = at_us + i64::from(wh.utc_offset_minutes) * 60_000_000;
    let Some(local) = DateTime::<Utc>::from_timestamp_micros(local_us) else {
        return false;
    };
    let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
    let h = local.hour();
    (wh.weekdays_only && weekend) || h < wh.start_hour || h >= wh.end_hour
}

/// Finds unusual activity in a window: volume far above an actor's usual, activity
/// outside working hours, and bursts of denials.
pub async fn anomaly_report(
    backend: &Backend,
    opts: &AnomalyOptions,
) -> Result<AnomalyReport, AuditError> {
    let (from_us, to_us) = window(opts.from, opts.to)?;
    if opts.working_hours.start_hour >= opts.working_hours.end_hour
        || opts.working_hours.end_hour > 24
    {
        return Err(AuditError::InvalidQuery(
            "working hours must satisfy start < end <= 24",
        ));
    }
    let offset_us = i64::from(opts.working_hours.utc_offset_minutes) * 60_000_000;

    // Usual volume: events per local day over the baseline, per actor.
    let base_from = from_us - i64::from(opts.baseline_days) * DAY_US;
    let daily = sql::fetch(
        backend,
        "SELECT actor, (at_us + ?) / 86400000000 AS day, COUNT(*) AS n FROM audit_events \
         WHERE at_us >= ? AND at_us < ? GROUP BY actor, day",
        &[Arg::I64(offset_us), Arg::I64(base_from), Arg::I64(from_us)],
        |r| Ok((r.text("actor")?, r.int("n")?)),
    )
    .await?;
    let mut per_actor_days: HashMap<String, Vec<u64>> = HashMap::new();
    for (actor, n) in daily {
        per_actor_days
            .entry(actor)
            .or_default()
            .push(u64::try_from(n).unwrap_or(0));
    }

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut off: BTreeMap<String, (u64, i64, i64)> = BTreeMap::new();
    let mut denials: BTreeMap<(String, Option<String>), Vec<i64>> = BTreeMap::new();
    let wh = opts.working_hours;
    scan(backend, None, from_us, to_us, |row| {
        *counts.entry(row.actor.clone()).or_default() += 1;
        if row.actor != "system" && off_hours(row.at_us, &wh) {
            let e = off
                .entry(row.actor.clone())
                .or_insert((0, row.at_us, row.at_us));
            e.0 += 1;
            e.1 = e.1.min(row.at_us);
            e.2 = e.2.max(row.at_us);
        }
        if row.outcome == Outcome::Denied.as_str() {
            denials
                .entry((row.actor.clone(), row.source.clone()))
                .or_default()
                .push(row.at_us);
        }
    })
    .await?;

    let window_days = (to_us - from_us) as f64 / DAY_US as f64;
    let mut volume = Vec::new();
    for (actor, n) in &counts {
        if actor == "system" || *n < opts.min_events {
            continue;
        }
        let mut days = per_actor_days.remove(actor).unwrap_or_default();
        // Days without events count as zero.
        days.resize((opts.baseline_days as usize).max(days.len()), 0);
        let med = median(days);
        let expected = med * window_days;
        if *n as f64 > opts.volume_factor * expected {
            let actor = Ident::parse("actor", actor).map_err(|_| AuditError::Corrupt {
                chain: String::new(),
                seq: 0,
            })?;
            volume.push(VolumeAnomaly {
                actor,
                events: *n,
                baseline_median_per_day: med,
                expected,
            });
        }
    }
    volume.sort_by_key(|v| std::cmp::Reverse(v.events));

    let to_time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    let mut off_hours_list = Vec::new();
    for (actor, (n, first, last)) in off {
        if let Ok(actor) = Ident::parse("actor", &actor) {
            off_hours_list.push(OffHoursActivity {
                actor,
                events: n,
                first_at: to_time(first),
                last_at: to_time(last),
            });
        }
    }

    let win_us = i64::try_from(opts.denial_window.as_micros()).unwrap_or(i64::MAX);
    let threshold = opts.denial_burst.max(1) as usize;
    let mut bursts = Vec::new();
    for ((actor, source), times) in denials {
        let Ok(actor) = Ident::parse("actor", &actor) else {
            continue;
        };
        let source = source.as_deref().and_then(|s| IpAddr::from_str(s).ok());
        // Mark every denial that lies in some window holding >= threshold denials.
        let mut marked = vec![false; times.len()];
        let mut i = 0;
        for j in 0..times.len() {
            while times[j] - times[i] > win_us {
                i += 1;
            }
            if j + 1 - i >= threshold {
                marked[i..=j].iter_mut().for_each(|m| *m = true);
            }
        }
        // Runs of marked denials, split where the gap exceeds the window.
        let mut run: Option<(usize, usize, u64)> = None;
        let mut close = |run: Option<(usize, usize, u64)>| {
            if let Some((a, b, n)) = run {
                bursts.push(DenialBurst {
                    actor: actor.clone(),
                    source,
                    denials: n,
                    from: to_time(times[a]),
                    to: to_time(times[b]),
                });
            }
        };
        for (k, m) in marked.iter().enumerate() {
            if !m {
                continue;
            }
            run = match run {
                Some((a, b, n)) if times[k] - times[b] <= win_us => Some((a, k, n + 1)),
                other => {
                    close(other);
                    Some((k, k, 1))
                }
            };
        }
        close(run);
    }
    bursts.sort_by_key(|b| b.from);

    Ok(AnomalyReport {
        from: opts.from,
        to: opts.to,
        volume,
        off_hours: off_hours_list,
        denial_bursts: bursts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor(123, "main", 7);
        assert_eq!(decode_cursor(&c).unwrap(), (123, "main".to_owned(), 7));
        assert!(matches!(
            decode_cursor("nope"),
            Err(AuditError::InvalidCursor)
        ));
        assert!(matches!(
            decode_cursor(&B64URL.encode("v2|1|2|x")),
            Err(AuditError::InvalidCursor)
        ));
    }

    #[test]
    fn off_hours_uses_tokyo_time() {
        let wh = WorkingHours::default();
        // 2025-03-03 (Monday) 00:30 UTC = 09:30 JST: working hours.
        let mon_morning = DateTime::parse_from_rfc3339("2025-03-03T00:30:00Z")
            .unwrap()
            .timestamp_micros();
        assert!(!off_hours(mon_morning, &wh));
        // 2025-03-03 14:00 UTC = 23:00 JST.
        let mon_night = DateTime::parse_from_rfc3339("2025-03-03T14:00:00Z")
            .unwrap()
            .timestamp_micros();
        assert!(off_hours(mon_night, &wh));
        // 2025-03-01 (Saturday) 02:00 UTC = 11:00 JST Saturday.
        let sat = DateTime::parse_from_rfc3339("2025-03-01T02:00:00Z")
            .unwrap()
            .timestamp_micros();
        assert!(off_hours(sat, &wh));
    }

    #[test]
    fn median_counts_zero_days() {
        let mut days = vec![10, 10];
        days.resize(5, 0);
        assert_eq!(median(days), 0.0);
        assert_eq!(median(vec![1, 3, 5, 7]), 4.0);
    }
}
