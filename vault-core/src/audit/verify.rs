//! Verification of the audit log (`kentei-vault audit verify`).
//!
//! Recomputes every chain from its start (event 1, or the signed prune anchor it was
//! cut at), checks every checkpoint signature, compares each checkpoint with the
//! chain, checks the chain heads and the subject index, and compares the database
//! with the checkpoint file(s) outside it. The file is read first: whatever it lists
//! was committed before it was written, so a chain that ends before a checkpoint of
//! the file was truncated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::chain::{genesis_hash, Hash, StoredEvent, HASH_LEN};
use super::checkpoint::{read_checkpoint_file, Checkpoint, CheckpointKind, FileEntry};
use super::error::AuditError;
use super::sql::{self, Head};
use crate::store::Backend;

/// Events read per query while verifying.
const PAGE: i64 = 2000;
/// How far a renumbered event is looked for when describing a break.
const RENUMBER_WINDOW: i64 = 64;
/// Breaks per chain that are described further (each costs one scan).
const MAX_DIAGNOSED: usize = 8;
/// Findings kept per chain (the first one is what matters).
const MAX_FINDINGS_PER_CHAIN: usize = 100;

/// What [`verify`] checks against.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Checkpoint files to compare with the database (one per writer instance). A
    /// listed file that does not exist is a finding.
    pub checkpoint_files: Vec<PathBuf>,
    /// Public keys of the checkpoint signers, by key id.
    pub public_keys: BTreeMap<String, Vec<u8>>,
}

impl VerifyOptions {
    /// No files, no keys.
    pub fn new() -> VerifyOptions {
        VerifyOptions::default()
    }

    /// Adds a checkpoint file.
    pub fn checkpoint_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint_files.push(path.into());
        self
    }

    /// Adds a signer's public key.
    pub fn public_key(mut self, key_id: &str, public_key: Vec<u8>) -> Self {
        self.public_keys.insert(key_id.to_owned(), public_key);
        self
    }
}

/// What is wrong at a place in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// The event's stored data does not hash to its stored hash, or its link to the
    /// previous event was changed.
    Edited,
    /// The event is missing (a gap, or the start of the chain deleted without a
    /// signed prune anchor).
    Missing,
    /// The event belongs at another position of the chain.
    Reordered,
    /// The checkpoint (seq given) in the file or database lies beyond the end of the
    /// chain: the tail after it was truncated.
    TruncatedAfterCheckpoint(u64),
    /// A checkpoint or prune anchor (seq given) has a wrong signature or an unknown key.
    BadSignature(u64),
    /// A validly signed checkpoint (seq given) differs from the chain: the chain was
    /// rewritten at or after the finding's seq and before the checkpoint.
    CheckpointMismatch(u64),
    /// The chain head row disagrees with the last event.
    HeadMismatch,
    /// The subject index disagrees with the event's subjects.
    SubjectIndexMismatch,
    /// A line (number given) of a checkpoint file is not a checkpoint.
    CheckpointFileUnreadable(u64),
    /// A checkpoint file listed in the options does not exist.
    CheckpointFileMissing,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The chain (empty for a problem of a checkpoint file as a whole).
    pub chain: String,
    /// The first seq affected, when there is one.
    pub seq: Option<u64>,
    /// What is wrong.
    pub problem: Problem,
}

/// What was verified of one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// The chain.
    pub chain: String,
    /// First event present.
    pub first_seq: Option<u64>,
    /// Last event present.
    pub last_seq: Option<u64>,
    /// Events read.
    pub events: u64,
    /// The chain starts after this signed prune anchor.
    pub pruned_through: Option<u64>,
    /// Checkpoints (database and files) that matched the chain.
    pub checkpoints_matched: u64,
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when nothing was found.
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    /// The first broken seq (of [`VerifyReport::chain`]).
    pub first_broken_seq: Option<u64>,
    /// The chain of the first problem.
    pub chain: Option<String>,
    /// The first problem.
    pub problem: Option<Problem>,
    /// Every problem found (capped per chain).
    pub findings: Vec<Finding>,
    /// Per-chain summary.
    pub chains: Vec<ChainSummary>,
    /// Checkpoint files read.
    pub checkpoint_files_read: usize,
}

/// Verifies every chain in the database against its checkpoints and the files.
pub async fn verify(backend: &Backend, opts: &VerifyOptions) -> Result<VerifyReport, AuditError> {
    let mut findings = Vec::new();

    // 1. The files first (see the module comment).
    let mut file_cps: BTreeMap<String, Vec<Checkpoint>> = BTreeMap::new();
    let mut files_read = 0;
    for path in &opts.checkpoint_files {
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || read_checkpoint_file(&p))
            .await
            .map_err(|_| AuditError::Config("checkpoint file task failed".into()))?;
        match read {
            Ok(entries) => {
                files_read += 1;
                for e in entries {
                    match e {
                        FileEntry::Checkpoint(cp) => {
                            file_cps.entry(cp.chain.clone()).or_default().push(cp)
                        }
                        FileEntry::Unreadable(line) => findings.push(Finding {
                            chain: String::new(),
                            seq: None,
                            problem: Problem::CheckpointFileUnreadable(line),
                        }),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => findings.push(Finding {
                chain: String::new(),
                seq: None,
                problem: Problem::CheckpointFileMissing,
            }),
            Err(source) => {
                return Err(AuditError::CheckpointFile {
                    path: path.display().to_string(),
                    source,
                })
            }
        }
    }

    // 2. Database checkpoints, then heads, then the chains present.
    let (db_cps, malformed_cps) = sql::checkpoints(backend, None).await?;
    if malformed_cps > 0 {
        findings.push(Finding {
            chain: String::new(),
            seq: None,
            problem: Problem::BadSignature(0),
        });
    }
    let mut db_by_chain: BTreeMap<String, Vec<Checkpoint>> = BTreeMap::new();
    for cp in db_cps {
        db_by_chain.entry(cp.chain.clone()).or_default().push(cp);
    }
    let heads: BTreeMap<String, Head> = sql::heads(backend)
        .await?
        .into_iter()
        .map(|h| (h.chain_id.clone(), h))
        .collect();
    let mut chains: BTreeSet<String> = heads.keys().cloned().collect();
    chains.extend(sql::event_chain_ids(backend).await?);
    chains.extend(file_cps.keys().cloned());
    chains.extend(db_by_chain.keys().cloned());

    // 3. Each chain.
    let mut summaries = Vec::new();
    let mut checked = 0;
    for chain in chains {
        let mut check = ChainCheck::new(
            &chain,
            db_by_chain.remove(&chain).unwrap_or_default(),
            file_cps.remove(&chain).unwrap_or_default(),
            &opts.public_keys,
        );
        let mut after = 0i64;
        let mut head: Option<Head>;
        let mut catch_up_rounds = 0;
        loop {
            let page = sql::events_after(backend, &chain, after, PAGE).await?;
            for row in &page {
                check.push(row);
            }
            if let (Some(first), Some(last)) = (page.first(), page.last()) {
                let index = sql::subject_index(backend, &chain, first.seq, last.seq).await?;
                check.check_index(&page, &index);
                after = last.seq;
            }
            let short = (page.len() as i64) < PAGE;
            if short {
                // Events committed while we read: the head moved on. Catch up a few
                // times, then judge with the head as it is.
                let now = sql::head(backend, &chain).await?;
                let moved = matches!((&now, check.last_seq), (Some(h), Some(l)) if h.last_seq > l)
                    && catch_up_rounds < 3;
                head = now;
                if moved {
                    catch_up_rounds += 1;
                    continue;
                }
                break;
            }
        }
        check.finish(head.as_ref());
        for (idx, row, expected_prev) in std::mem::take(&mut check.to_diagnose) {
            let found = sql::seqs_with_hash(backend, &chain, &row.prev_hash).await?;
            check.findings[idx].problem = classify(&row, &expected_prev, &found);
        }
        checked += check.events;
        summaries.push(check.summary());
        findings.append(&mut check.findings);
    }

    // A vault that has not written its first event has no checkpoint file yet (the
    // writer creates it with the first checkpoint); a missing file matters only when
    // there are events it should anchor. A wiped table still fails on its chain head.
    if checked == 0 {
        findings.retain(|f| f.problem != Problem::CheckpointFileMissing);
    }
    Ok(report(findings, summaries, checked, files_read))
}

fn report(
    findings: Vec<Finding>,
    chains: Vec<ChainSummary>,
    checked: u64,
    files_read: usize,
) -> VerifyReport {
    let first = findings
        .iter()
        .min_by_key(|f| (f.chain.is_empty(), f.seq.is_none(), f.seq))
        .cloned();
    VerifyReport {
        ok: findings.is_empty(),
        checked,
        first_broken_seq: first.as_ref().and_then(|f| f.seq),
        chain: first
            .as_ref()
            .map(|f| f.chain.clone())
            .filter(|c| !c.is_empty()),
        problem: first.map(|f| f.problem),
        findings,
        chains,
        checkpoint_files_read: files_read,
    }
}

/// Describes the first break of a chain once the events whose stored hash is the
/// broken event's stored link (`found`) are known.
fn classify(row: &StoredEvent, expected_prev: &[u8], found: &[i64]) -> Problem {
    let consistent_at = |seq: i64| row.compute_hash(&row.prev_hash, seq)[..] == row.hash[..];
    // Moved: its own link and hash are intact for the position after its predecessor.
    if found
        .iter()
        .any(|&p| p + 1 != row.seq && consistent_at(p + 1))
    {
        return Problem::Reordered;
    }
    if consistent_at(row.seq)
        && row.prev_hash != expected_prev
        && found.iter().any(|&p| p + 1 != row.seq)
    {
        return Problem::Reordered;
    }
    // Renumbered after a deletion: intact for a later position, predecessor gone.
    if found.is_empty() && (1..=RENUMBER_WINDOW).any(|d| consistent_at(row.seq + d)) {
        return Problem::Missing;
    }
    Problem::Edited
}

/// The verification of one chain, fed with its events in seq order.
pub(crate) struct ChainCheck<'k> {
    chain: String,
    keys: &'k BTreeMap<String, Vec<u8>>,
    /// Validly signed checkpoints (database and files), by seq.
    checkpoints: Vec<Checkpoint>,
    /// Validly signed prune anchors: seq -> hash.
    anchors: BTreeMap<u64, Hash>,
    /// Seqs whose stored hash is needed for the checkpoint comparison.
    wanted: BTreeSet<u64>,
    captured: BTreeMap<u64, Vec<u8>>,
    started: bool,
    expected_seq: i64,
    prev: Vec<u8>,
    /// After a finding, the next event is only checked for its own consistency.
    lenient: bool,
    pruned_through: Option<u64>,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    last_hash: Vec<u8>,
    events: u64,
    checkpoints_matched: u64,
    pub(crate) findings: Vec<Finding>,
    /// The first breaks, to be described once the database can be asked (finding
    /// index, the event, the hash it should have linked to).
    pub(crate) to_diagnose: Vec<(usize, StoredEvent, Vec<u8>)>,
}

impl<'k> ChainCheck<'k> {
    pub(crate) fn new(
        chain: &str,
        db_cps: Vec<Checkpoint>,
        file_cps: Vec<Checkpoint>,
        keys: &'k BTreeMap<String, Vec<u8>>,
    ) -> ChainCheck<'k> {
        let mut c = ChainCheck {
            chain: chain.to_owned(),
            keys,
            checkpoints: Vec::new(),
            anchors: BTreeMap::new(),
            wanted: BTreeSet::new(),
            captured: BTreeMap::new(),
            started: false,
            expected_seq: 1,
            prev: Vec::new(),
            lenient: false,
            pruned_through: None,
            first_seq: None,
            last_seq: None,
            last_hash: Vec::new(),
            events: 0,
            checkpoints_matched: 0,
            findings: Vec::new(),
            to_diagnose: Vec::new(),
        };
        let mut seen = BTreeSet::new();
        for cp in db_cps.into_iter().chain(file_cps) {
            // The same statement may be in the database and in several files.
            if !seen.insert((cp.kind, cp.seq, cp.hash, cp.signature.clone())) {
                continue;
            }
            let valid = c
                .keys
                .get(&cp.key_id)
                .is_some_and(|pk| cp.signature_valid(pk));
            if !valid {
                c.find(Some(cp.seq), Problem::BadSignature(cp.seq));
                continue;
            }
            match cp.kind {
                CheckpointKind::Checkpoint => {
                    c.wanted.insert(cp.seq);
                    c.checkpoints.push(cp);
                }
                CheckpointKind::Prune => {
                    c.anchors.insert(cp.seq, cp.hash);
                }
            }
        }
        c.checkpoints.sort_by_key(|cp| cp.seq);
        c
    }

    fn find(&mut self, seq: Option<u64>, problem: Problem) -> usize {
        if self.findings.len() < MAX_FINDINGS_PER_CHAIN {
            self.findings.push(Finding {
                chain: self.chain.clone(),
                seq,
                problem,
            });
        }
        self.findings.len().saturating_sub(1)
    }

    /// Where the chain starts, given its first stored event.
    fn start(&mut self, first: i64) {
        self.started = true;
        self.first_seq = Some(first);
        if first == 1 {
            self.prev = genesis_hash(&self.chain).to_vec();
            self.expected_seq = 1;
            return;
        }
        let anchor = u64::try_from(first - 1)
            .ok()
            .and_then(|a| self.anchors.get(&a).map(|h| (a, *h)));
        match anchor {
            Some((a, h)) => {
                self.pruned_through = Some(a);
                self.prev = h.to_vec();
                self.expected_seq = first;
            }
            None => {
                // Deleted from the start without a signed prune anchor.
                let from = self
                    .anchors
                    .range(..(first.max(1) as u64))
                    .next_back()
                    .map_or(0, |(a, _)| *a);
                self.pruned_through = (from > 0).then_some(from);
                self.find(Some(from + 1), Problem::Missing);
                self.expected_seq = first;
                self.lenient = true;
            }
        }
    }

    /// Checks the next stored event (events arrive in seq order).
    pub(crate) fn push(&mut self, row: &StoredEvent) {
        if !self.started {
            self.start(row.seq);
        }
        self.events += 1;
        if row.seq > self.expected_seq {
            self.find(u64::try_from(self.expected_seq).ok(), Problem::Missing);
            self.lenient = true;
        }
        let ok = if self.lenient {
            row.compute_hash(&row.prev_hash, row.seq)[..] == row.hash[..]
        } else {
            row.compute_hash(&self.prev, row.seq)[..] == row.hash[..] && row.prev_hash == self.prev
        };
        let strict = !self.lenient;
        self.lenient = false;
        if !ok {
            let idx = self.find(u64::try_from(row.seq).ok(), Problem::Edited);
            if strict && self.to_diagnose.len() < MAX_DIAGNOSED && self.findings.len() == idx + 1 {
                self.to_diagnose.push((idx, row.clone(), self.prev.clone()));
            }
            self.lenient = true;
        }
        if let Ok(s) = u64::try_from(row.seq) {
            if self.wanted.contains(&s) {
                self.captured.insert(s, row.hash.clone());
            }
        }
        self.prev = row.hash.clone();
        self.expected_seq = row.seq + 1;
        self.last_seq = Some(row.seq);
        self.last_hash = row.hash.clone();
    }

    /// Compares a page of events with the subject-index rows of the same seq range.
    pub(crate) fn check_index(&mut self, page: &[StoredEvent], index: &[(i64, String)]) {
        let mut by_seq: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (seq, subject) in index {
            by_seq.entry(*seq).or_default().push(subject);
        }
        for row in page {
            let mut stored: Vec<&str> = row.subject_texts().collect();
            stored.sort_unstable();
            let indexed = by_seq.remove(&row.seq).unwrap_or_default();
            if stored != indexed {
                self.find(u64::try_from(row.seq).ok(), Problem::SubjectIndexMismatch);
            }
        }
        // Index rows of events that are not there.
        for seq in by_seq.keys().copied().collect::<Vec<_>>() {
            self.find(u64::try_from(seq).ok(), Problem::SubjectIndexMismatch);
        }
    }

    /// Ends the scan: head and checkpoint comparisons.
    pub(crate) fn finish(&mut self, head: Option<&Head>) {
        let last_anchor = self.anchors.keys().next_back().copied();
        if !self.started {
            // No events at all: fine for a new chain, or one pruned up to its head.
            let head_last = head.map_or(0, |h| h.last_seq);
            let cut = last_anchor.map_or(0, |a| a as i64);
            self.pruned_through = last_anchor;
            if head_last > cut {
                self.find(Some(cut as u64 + 1), Problem::Missing);
            }
            self.last_seq = (cut > 0).then_some(cut);
            if let (Some(a), Some(h)) = (last_anchor, head) {
                if h.last_seq == a as i64
                    && self.anchors.get(&a).map(|x| &x[..]) != Some(&h.last_hash[..])
                {
                    self.find(Some(a), Problem::HeadMismatch);
                }
            }
        } else {
            let scanned = self.last_seq.unwrap_or(0);
            match head {
                Some(h) if h.last_seq == scanned && h.last_hash == self.last_hash => {}
                Some(h) => {
                    let at = h.last_seq.min(scanned) + 1;
                    self.find(u64::try_from(at).ok(), Problem::HeadMismatch);
                }
                None => {
                    self.find(None, Problem::HeadMismatch);
                }
            }
        }

        // Checkpoints against the chain.
        let end = self.last_seq.unwrap_or(0);
        let base = self.pruned_through.unwrap_or(0);
        let mut matched_below = base;
        let mut truncated = false;
        let cps = std::mem::take(&mut self.checkpoints);
        for cp in &cps {
            if cp.seq <= base {
                continue; // events of a pruned range; the signature was checked
            }
            if cp.seq as i64 > end {
                if !truncated {
                    truncated = true;
                    self.find(
                        Some(end as u64 + 1),
                        Problem::TruncatedAfterCheckpoint(cp.seq),
                    );
                }
                continue;
            }
            match self.captured.get(&cp.seq) {
                Some(h) if h[..] == cp.hash[..] => {
                    self.checkpoints_matched += 1;
                    matched_below = matched_below.max(cp.seq);
                }
                Some(_) => {
                    self.find(Some(matched_below + 1), Problem::CheckpointMismatch(cp.seq));
                }
                None => {} // that event is missing: already a finding
            }
        }
        self.checkpoints = cps;
    }

    pub(crate) fn summary(&self) -> ChainSummary {
        ChainSummary {
            chain: self.chain.clone(),
            first_seq: self.first_seq.and_then(|s| u64::try_from(s).ok()),
            last_seq: self.last_seq.and_then(|s| u64::try_from(s).ok()),
            events: self.events,
            pruned_through: self.pruned_through,
            checkpoints_matched: self.checkpoints_matched,
        }
    }
}

// A stored hash of the wrong length can never equal a checkpoint hash.
const _: () = assert!(HASH_LEN == 32);

#[cfg(test)]
mod tests {
    use super::super::event::{AuditEvent, Ident, Label, Outcome};
    use super::super::signer::{CheckpointSigner, Ed25519CheckpointSigner};
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    struct Fixture {
        rows: Vec<StoredEvent>,
        cps: Vec<Checkpoint>,
        head: Head,
        keys: BTreeMap<String, Vec<u8>>,
    }

    fn fixture(n: usize, every: usize) -> Fixture {
        let (signer, _) = Ed25519CheckpointSigner::generate("k").unwrap();
        let mut prev = genesis_hash("c");
        let mut rows = Vec::new();
        let mut cps = Vec::new();
        for i in 1..=n {
            let ev = AuditEvent::new(
                Ident::parse("actor", &format!("acct-{}", i % 5)).unwrap(),
                Label::parse("action", "examinee.read").unwrap(),
                Outcome::Ok,
            )
            .subject(Uuid::from_u128(i as u128 % 7))
            .field(Label::parse("field", "name").unwrap());
            let row = StoredEvent::seal(&ev, "c", i as u64, 1_000 + i as i64, &prev);
            prev.copy_from_slice(&row.hash);
            rows.push(row);
            if i % every == 0 {
                cps.push(Checkpoint::sign(
                    &signer,
                    CheckpointKind::Checkpoint,
                    "c",
                    i as u64,
                    prev,
                    0,
                ));
            }
        }
        let keys = BTreeMap::from([("k".to_owned(), signer.public_key())]);
        let head = Head {
            chain_id: "c".into(),
            last_seq: n as i64,
            last_hash: prev.to_vec(),
            last_at_us: 0,
            checkpoint_seq: 0,
            checkpoint_at_us: 0,
        };
        Fixture {
            rows,
            cps,
            head,
            keys,
        }
    }

    fn run(f: &Fixture, rows: &[StoredEvent], file: &[Checkpoint], head: &Head) -> Vec<Finding> {
        let mut c = ChainCheck::new("c", f.cps.clone(), file.to_vec(), &f.keys);
        let index: Vec<(i64, String)> = rows
            .iter()
            .flat_map(|r| {
                r.subject_texts()
                    .map(|s| (r.seq, s.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        c.check_index(rows, &index);
        for r in rows {
            c.push(r);
        }
        c.finish(Some(head));
        c.findings
    }

    #[test]
    fn intact_chain_has_no_findings() {
        let f = fixture(40, 8);
        assert!(run(&f, &f.rows, &f.cps, &f.head).is_empty());
    }

    #[test]
    fn gap_is_missing_at_the_first_absent_seq() {
        let f = fixture(20, 5);
        let mut rows = f.rows.clone();
        rows.remove(9);
        let found = run(&f, &rows, &f.cps, &f.head);
        assert_eq!(found[0].seq, Some(10));
        assert_eq!(found[0].problem, Problem::Missing);
    }

    #[test]
    fn classify_names_moved_and_renumbered_events() {
        let f = fixture(10, 5);
        // Row 6 shown at position 4: its link points at event 5.
        let mut moved = f.rows[5].clone();
        moved.seq = 4;
        assert_eq!(classify(&moved, &f.rows[2].hash, &[5]), Problem::Reordered);
        // Row 6 renumbered to 5 after event 5 was deleted.
        let mut renumbered = f.rows[5].clone();
        renumbered.seq = 5;
        assert_eq!(
            classify(&renumbered, &f.rows[3].hash, &[]),
            Problem::Missing
        );
        let mut edited = f.rows[5].clone();
        edited.actor.push('x');
        assert_eq!(classify(&edited, &f.rows[4].hash, &[5]), Problem::Edited);
    }

    #[derive(Clone, Debug)]
    enum Change {
        FlipByte {
            row: usize,
            column: usize,
            byte: usize,
            bit: u8,
        },
        Delete {
            row: usize,
        },
        Swap {
            a: usize,
            b: usize,
        },
        /// Truncate at or before the last checkpoint of the file (after it, a
        /// truncation is not detectable: that is what the checkpoint interval bounds).
        Truncate {
            keep: usize,
        },
        RewriteFrom {
            row: usize,
        },
        Duplicate {
            row: usize,
        },
    }

    fn flip(s: &mut Vec<u8>, byte: usize, bit: u8) {
        if s.is_empty() {
            s.push(1 << bit);
        } else {
            let i = byte % s.len();
            s[i] ^= 1 << bit;
        }
    }

    fn flip_text(s: &mut String, byte: usize, bit: u8) {
        let mut b = std::mem::take(s).into_bytes();
        flip(&mut b, byte, bit % 7);
        *s = String::from_utf8_lossy(&b).into_owned();
    }

    fn apply(f: &Fixture, change: &Change) -> (Vec<StoredEvent>, Head) {
        let mut rows = f.rows.clone();
        let mut head = f.head.clone();
        let n = rows.len();
        match *change {
            Change::FlipByte {
                row,
                column,
                byte,
                bit,
            } => {
                let r = &mut rows[row % n];
                match column % 14 {
                    0 => r.at_us ^= 1 << (bit % 8),
                    1 => flip_text(&mut r.actor, byte, bit),
                    2 => flip_text(r.role.get_or_insert_with(String::new), byte, bit),
                    3 => flip_text(r.purpose.get_or_insert_with(String::new), byte, bit),
                    4 => flip_text(&mut r.action, byte, bit),
                    5 => flip_text(r.tenant.get_or_insert_with(String::new), byte, bit),
                    6 => flip_text(&mut r.subjects, byte, bit),
                    7 => flip_text(&mut r.fields, byte, bit),
                    8 => flip_text(&mut r.outcome, byte, bit),
                    9 => flip_text(r.request_id.get_or_insert_with(String::new), byte, bit),
                    10 => flip_text(r.source.get_or_insert_with(String::new), byte, bit),
                    11 => flip_text(r.token_id.get_or_insert_with(String::new), byte, bit),
                    12 => flip(&mut r.prev_hash, byte, bit % 8),
                    _ => flip(&mut r.hash, byte, bit % 8),
                }
            }
            Change::Delete { row } => {
                rows.remove(row % n);
            }
            Change::Swap { a, b } => {
                let (a, b) = (a % n, b % n);
                let (a, b) = if a == b { (a, (a + 1) % n) } else { (a, b) };
                let (sa, sb) = (rows[a].seq, rows[b].seq);
                rows.swap(a, b);
                rows[a].seq = sa;
                rows[b].seq = sb;
            }
            Change::Truncate { keep } => {
                let last_cp = f.cps.last().map_or(0, |c| c.seq as usize);
                rows.truncate(keep % last_cp);
                let last = rows.last();
                head.last_seq = last.map_or(0, |r| r.seq);
                head.last_hash =
                    last.map_or_else(|| genesis_hash("c").to_vec(), |r| r.hash.clone());
            }
            Change::RewriteFrom { row } => {
                // Edit an event at or before the last checkpoint and re-chain everything
                // after it, head included: only checkpoints can tell.
                let last_cp = f.cps.last().map_or(1, |c| c.seq as usize);
                let start = row % last_cp;
                rows[start].actor.push('x');
                let mut prev: Vec<u8> = if start == 0 {
                    genesis_hash("c").to_vec()
                } else {
                    rows[start - 1].hash.clone()
                };
                for r in rows.iter_mut().skip(start) {
                    r.prev_hash = prev.clone();
                    r.hash = r.compute_hash(&prev, r.seq).to_vec();
                    prev = r.hash.clone();
                }
                head.last_hash = prev;
            }
            Change::Duplicate { row } => {
                let r = rows[row % n].clone();
                rows.insert(row % n, r);
            }
        }
        (rows, head)
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (0usize..64, 0usize..14, 0usize..64, 0u8..8).prop_map(|(row, column, byte, bit)| {
                Change::FlipByte {
                    row,
                    column,
                    byte,
                    bit,
                }
            }),
            (0usize..64).prop_map(|row| Change::Delete { row }),
            (0usize..64, 0usize..64).prop_map(|(a, b)| Change::Swap { a, b }),
            (0usize..64).prop_map(|keep| Change::Truncate { keep }),
            (0usize..64).prop_map(|row| Change::RewriteFrom { row }),
            (0usize..64).prop_map(|row| Change::Duplicate { row }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_modification_of_a_chain_is_found(n in 10usize..40, every in 2usize..6, c in change()) {
            let f = fixture(n, every);
            let (rows, head) = apply(&f, &c);
            let found = run(&f, &rows, &f.cps, &head);
            prop_assert!(!found.is_empty(), "{c:?} not detected");
        }
    }
}
