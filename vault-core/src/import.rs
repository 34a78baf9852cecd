//! Bulk import (一括取込) of examinees and meisters from an NDJSON file: every line
//! validated with the API's own rules, checked against the policy, sealed and indexed by
//! the facade's own builders, committed in batches with one audit event per batch, and
//! resumable after a crash.
//!
//! # Input
//!
//! The NDJSON of `vault-bench generate` (described in `docs/performance.md`): one JSON
//! object per line, an examinee line (`examinee`, `applications` each with an optional
//! `result`, `qualifications`) or a meister line (`meister`, `activities`). Each record
//! goes through [`parse_record`](crate::model::parse_record) exactly as a `POST` of the
//! API would.
//!
//! # Who imports
//!
//! An import is run by an operator on the vault's host, with the keyring and the
//! database. It acts as a system actor, [`IMPORT_ACTOR`] (`system:import`), holding the
//! role [`IMPORT_ROLE`] (`exam_system`, the role of the existing exam systems) and
//! stating the purpose [`IMPORT_PURPOSE`] (`system_sync`, 既存システムとの連携), for every
//! prefecture. The policy in force decides, record by record, exactly as for the API:
//! a line with a record kind or a field that the `exam_system` × `system_sync` view does
//! not allow to create is refused (`not_permitted`). Under the default policy that view
//! has no `residence`, `employment` or `finance` class and no meister kinds, so lines
//! carrying those are refused until the policy grants them.
//!
//! # Batches, audit and errors
//!
//! Lines are taken [`ImportOptions::batch_lines`] at a time. A batch's valid lines
//! become one [`WriteBatch`] applied in one transaction, preceded (audit before write)
//! by one `import.batch` event naming every subject of the batch and the field names
//! written, never a value. A line that fails validation or the policy is left out and
//! reported as [`LineError`]s naming the line number and the field (for example
//! `applications[1].exam_number`) with a code, never the value; the other lines of the
//! batch still go in. A batch in which the database refuses a line as a duplicate
//! (an application id already stored) is retried line by line, so only the duplicate
//! lines are refused (a second `import.batch` event with outcome `invalid` names their
//! subjects, which were never created).
//!
//! # Resuming
//!
//! Each batch also writes, in the same transaction, the run's row of
//! `import_progress`: the number of lines committed and the SHA-256 of those lines. A
//! new run first looks for earlier runs whose committed lines are a prefix of its file
//! (same digest over the same number of bytes) and starts after the longest one. So
//! re-running a file after a crash or an interruption, or importing a file that extends
//! one already imported, never imports a line twice; a rejected line inside the skipped
//! prefix is not reported again (fix it in a new file).
//!
//! # Plaintext in memory
//!
//! Line buffers are zeroized when their batch is done; the parsed JSON values are not
//! (serde_json has no zeroizing type), exactly as for a request body of the API.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use chrono::Utc;
use ring::digest;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use uuid::Uuid;
use vault_policy::{RecordKind, TenantScope};
use zeroize::Zeroizing;

use crate::audit::Outcome;
use crate::model::{parse_record, FieldValue, Mode, Record, ValidationErrors};
use crate::store::{new_id, ImportProgressRow, StoreError, WriteBatch, WriteOp};
use crate::vault::{assign_application_id, fields_outside_view, Actor, Vault, VaultError};

/// The account id of the import actor, as written to the audit log.
pub const IMPORT_ACTOR: &str = "system:import";
/// The role the import acts in: the role of the existing exam systems.
pub const IMPORT_ROLE: &str = "exam_system";
/// The purpose an import states: 既存システムとの連携.
pub const IMPORT_PURPOSE: &str = "system_sync";
/// The audit action of one committed batch.
pub const IMPORT_ACTION: &str = "import.batch";

/// Codes of line problems found by the importer itself (next to the model's codes such
/// as `invalid_format` or `invalid_check_digit`).
pub mod codes {
    /// The line is not UTF-8.
    pub const INVALID_UTF8: &str = "invalid_utf8";
    /// The line is not valid JSON.
    pub const MALFORMED_JSON: &str = "malformed_json";
    /// The line (or a nested record) is not a JSON object.
    pub const NOT_AN_OBJECT: &str = "not_an_object";
    /// `applications`, `qualifications` or `activities` is not an array.
    pub const NOT_AN_ARRAY: &str = "not_an_array";
    /// The line has neither an `examinee` nor a `meister` key, or both.
    pub const UNKNOWN_LINE_KIND: &str = "unknown_line_kind";
    /// A top-level key that the line kind does not have.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// The policy does not let the import create this record or field.
    pub const NOT_PERMITTED: &str = "not_permitted";
    /// The database already holds this unique value (an application id).
    pub const DUPLICATE: &str = "duplicate";
}

/// Settings of one import run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Lines per batch (one transaction and one audit event each).
    pub batch_lines: usize,
    /// The purpose stated (default [`IMPORT_PURPOSE`]).
    pub purpose: String,
    /// The roles of the import actor (default [`IMPORT_ROLE`]).
    pub roles: Vec<String>,
    /// Threads that validate, seal and index lines (the database writer runs apart).
    pub workers: usize,
    /// How many line errors the summary keeps (all of them go to the observer).
    pub max_kept_errors: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_lines: 1000,
            purpose: IMPORT_PURPOSE.to_owned(),
            roles: vec![IMPORT_ROLE.to_owned()],
            workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            max_kept_errors: 10_000,
        }
    }
}

impl ImportOptions {
    /// The defaults: batches of 1000 lines, `exam_system` × `system_sync`.
    pub fn new() -> ImportOptions {
        ImportOptions::default()
    }

    /// Sets the lines per batch.
    pub fn batch_lines(mut self, n: usize) -> Self {
        self.batch_lines = n;
        self
    }

    /// Sets the preparing threads.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets the purpose stated.
    pub fn purpose(mut self, purpose: &str) -> Self {
        self.purpose = purpose.to_owned();
        self
    }

    /// Sets the roles of the import actor.
    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }
}

/// One problem of one input line: the line number, the field and a stable code. Never
/// a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// Line number in the file, from 1.
    pub line: u64,
    /// The field, as a path into the line (`examinee.my_number`,
    /// `applications[1].result.pass`); `""` for the line as a whole.
    pub field: String,
    /// A stable code (`invalid_check_digit`, `unknown_field`, `malformed_json`, ...).
    pub code: &'static str,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "line {}: {}", self.line, self.code)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.field, self.code)
        }
    }
}

/// Records imported, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportCounts {
    /// 受検者.
    pub examinees: u64,
    /// 受検申請.
    pub applications: u64,
    /// 受検管理 results.
    pub results: u64,
    /// 合格者 / 技能士 qualifications.
    pub qualifications: u64,
    /// ものづくりマイスター.
    pub meisters: u64,
    /// Meister activities.
    pub activities: u64,
}

impl ImportCounts {
    /// Every record, of every kind.
    pub fn records(&self) -> u64 {
        self.examinees
            + self.applications
            + self.results
            + self.qualifications
            + self.meisters
            + self.activities
    }

    fn add(&mut self, other: &ImportCounts) {
        self.examinees += other.examinees;
        self.applications += other.applications;
        self.results += other.results;
        self.qualifications += other.qualifications;
        self.meisters += other.meisters;
        self.activities += other.activities;
    }
}

/// What an import run did.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ImportSummary {
    /// The run (its `import_progress` row and audit request id).
    pub run_id: Uuid,
    /// Lines in the file, skipped ones included.
    pub lines: u64,
    /// Lines committed by earlier runs and skipped now.
    pub skipped_lines: u64,
    /// Lines imported by this run.
    pub imported_lines: u64,
    /// Lines refused by this run (see `errors`).
    pub rejected_lines: u64,
    /// Empty lines, ignored.
    pub blank_lines: u64,
    /// Records imported by this run, by kind.
    pub counts: ImportCounts,
    /// Batches committed.
    pub batches: u64,
    /// Audit events written.
    pub audit_events: u64,
    /// The first [`ImportOptions::max_kept_errors`] line errors.
    pub errors: Vec<LineError>,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
}

/// Where an import run stands, after each committed batch.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ImportProgress {
    /// Lines done (skipped, imported, refused or blank).
    pub lines: u64,
    /// Bytes of the file done.
    pub bytes: u64,
    /// Size of the file.
    pub total_bytes: u64,
    /// Lines imported by this run.
    pub imported_lines: u64,
    /// Lines refused by this run.
    pub rejected_lines: u64,
}

/// Receives an import's progress and line errors as they happen (a progress bar, an
/// error file).
pub trait ImportObserver: Send {
    /// After the scan for earlier runs (`skipped_lines` of the file are already in).
    fn resumed(&mut self, _skipped_lines: u64, _progress: &ImportProgress) {}
    /// After each committed batch.
    fn progress(&mut self, _progress: &ImportProgress) {}
    /// For each problem of a refused line, once its batch is committed.
    fn line_error(&mut self, _error: &LineError) {}
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl ImportObserver for Quiet {}

/// An import that could not run or stopped. Committed batches stay committed; running
/// the same file again resumes after them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The options are unusable.
    #[error("invalid import options: {0}")]
    Options(&'static str),
    /// The input file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The facade refused or failed (purpose not allowed, audit unavailable, store
    /// failure, key problem).
    #[error("{0}")]
    Vault(#[from] VaultError),
    /// A worker thread stopped unexpectedly.
    #[error("import worker failed")]
    Worker,
}

/// Imports `path` into `vault` (see the module documentation).
///
/// Returns once every batch is committed; the observer sees progress and line errors
/// on the way.
pub async fn import_file(
    vault: &Vault,
    path: &Path,
    opts: &ImportOptions,
    observer: &mut dyn ImportObserver,
) -> Result<ImportSummary, ImportError> {
    if opts.batch_lines == 0 || opts.workers == 0 {
        return Err(ImportError::Options(
            "batch_lines and workers must be at least 1",
        ));
    }
    let started = Instant::now();
    let run_id = Uuid::new_v4();
    let actor = import_actor(opts, run_id);
    vault
        .require_purpose(&actor, &opts.purpose, IMPORT_ACTION)
        .await?;

    let io_err = |source| ImportError::Io {
        path: path.to_owned(),
        source,
    };
    let total_bytes = std::fs::metadata(path).map_err(io_err)?.len();
    let earlier = vault
        .store()
        .import_progress()
        .await
        .map_err(VaultError::from)?;
    let scan_path = path.to_owned();
    let resume = tokio::task::spawn_blocking(move || find_resume_point(&scan_path, &earlier))
        .await
        .map_err(|_| ImportError::Worker)?
        .map_err(io_err)?;
    let mut progress = ImportProgress {
        lines: resume.lines,
        bytes: resume.bytes,
        total_bytes,
        imported_lines: 0,
        rejected_lines: 0,
    };
    observer.resumed(resume.lines, &progress);

    let mut summary = ImportSummary {
        run_id,
        lines: resume.lines,
        skipped_lines: resume.lines,
        imported_lines: 0,
        rejected_lines: 0,
        blank_lines: 0,
        counts: ImportCounts::default(),
        batches: 0,
        audit_events: 0,
        errors: Vec::new(),
        elapsed_ms: 0,
    };

    // Reader thread -> `workers` preparing threads (round robin) -> this task, which
    // takes the prepared batches back in file order and commits them.
    let workers = opts.workers;
    let mut to_workers = Vec::with_capacity(workers);
    let mut from_workers = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers + 1);
    for _ in 0..workers {
        let (raw_tx, raw_rx) = std_mpsc::sync_channel::<Result<RawBatch, std::io::Error>>(1);
        let (prep_tx, prep_rx) = mpsc::channel::<Result<PreparedBatch, ImportError>>(1);
        to_workers.push(raw_tx);
        from_workers.push(prep_rx);
        let mut preparer = Preparer::new(vault.clone(), actor.clone(), opts.purpose.clone());
        handles.push(tokio::task::spawn_blocking(move || {
            while let Ok(raw) = raw_rx.recv() {
                let prepared = match raw {
                    Ok(raw) => preparer.prepare_batch(raw),
                    Err(e) => Err(ImportError::Io {
                        path: PathBuf::new(),
                        source: e,
                    }),
                };
                if prep_tx.blocking_send(prepared).is_err() {
                    break;
                }
            }
        }));
    }
    let read_path = path.to_owned();
    let batch_lines = opts.batch_lines;
    handles.push(tokio::task::spawn_blocking(move || {
        read_batches(&read_path, resume, batch_lines, to_workers);
    }));

    let mut fixer = Preparer::new(vault.clone(), actor.clone(), opts.purpose.clone());
    let mut next = 0usize;
    let outcome = loop {
        let Some(prepared) = from_workers[next % workers].recv().await else {
            break Ok(());
        };
        next += 1;
        let mut batch = match prepared {
            Ok(b) => b,
            Err(ImportError::Io { source, .. }) => break Err(io_err(source)),
            Err(e) => break Err(e),
        };
        if let Err(e) = commit_batch(
            vault,
            &actor,
            &opts.purpose,
            run_id,
            &mut fixer,
            &mut batch,
            &mut summary,
        )
        .await
        {
            break Err(e);
        }
        for error in &batch.errors {
            observer.line_error(error);
            if summary.errors.len() < opts.max_kept_errors {
                summary.errors.push(error.clone());
            }
        }
        progress.lines = batch.end.lines;
        progress.bytes = batch.end.bytes.min(total_bytes);
        progress.imported_lines = summary.imported_lines;
        progress.rejected_lines = summary.rejected_lines;
        summary.lines = batch.end.lines;
        observer.progress(&progress);
    };
    // Dropping the receivers stops the threads if the loop ended early.
    drop(from_workers);
    for handle in handles {
        let _ = handle.await;
    }
    outcome?;
    summary.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(summary)
}

/// The system actor of an import run: all prefectures, the run id as request id.
fn import_actor(opts: &ImportOptions, run_id: Uuid) -> Actor {
    Actor {
        id: IMPORT_ACTOR.to_owned(),
        roles: opts.roles.clone(),
        tenants: TenantScope::All,
        token_id: None,
        request_id: run_id.to_string(),
        source: None,
    }
}

// ----- reading and resuming ------------------------------------------------------------

/// A position in the input: lines and bytes done and the SHA-256 state over them.
#[derive(Clone)]
struct Position {
    lines: u64,
    bytes: u64,
    hasher: digest::Context,
}

impl Position {
    fn start() -> Position {
        Position {
            lines: 0,
            bytes: 0,
            hasher: digest::Context::new(&digest::SHA256),
        }
    }

    /// Moves past one line (given without its `\n`).
    fn advance(&mut self, line: &[u8]) {
        self.hasher.update(line);
        self.hasher.update(b"\n");
        self.lines += 1;
        self.bytes += line.len() as u64 + 1;
    }

    fn digest(&self) -> [u8; 32] {
        let d = self.hasher.clone().finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    fn mark(&self) -> Mark {
        Mark {
            lines: self.lines,
            bytes: self.bytes,
            digest: self.digest(),
        }
    }
}

/// The end of a batch as stored in `import_progress`.
#[derive(Clone, Copy)]
struct Mark {
    lines: u64,
    bytes: u64,
    digest: [u8; 32],
}

/// Reads one line into `buf` (without its `\n`); `false` at the end of the file.
fn read_line(reader: &mut impl BufRead, buf: &mut Zeroizing<Vec<u8>>) -> std::io::Result<bool> {
    buf.clear();
    if reader.read_until(b'\n', buf)? == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(true)
}

/// The longest prefix of the file that an earlier run committed, or the start.
fn find_resume_point(path: &Path, earlier: &[ImportProgressRow]) -> std::io::Result<Position> {
    let mut pos = Position::start();
    let Some(last) = earlier.iter().map(|r| r.bytes).max() else {
        return Ok(pos);
    };
    let wanted: HashMap<(u64, u64), Vec<[u8; 32]>> =
        earlier.iter().fold(HashMap::new(), |mut m, r| {
            m.entry((r.lines, r.bytes))
                .or_default()
                .push(r.prefix_digest);
            m
        });
    let mut best = pos.clone();
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut buf = Zeroizing::new(Vec::new());
    while pos.bytes < last && read_line(&mut reader, &mut buf)? {
        pos.advance(&buf);
        if let Some(digests) = wanted.get(&(pos.lines, pos.bytes)) {
            let d = pos.digest();
            if digests.contains(&d) {
                best = pos.clone();
            }
        }
    }
    Ok(best)
}

/// One line as read, kept (zeroized on drop) until its batch is committed.
struct RawLine {
    number: u64,
    text: Zeroizing<Vec<u8>>,
}

/// Lines of one batch as read.
struct RawBatch {
    start: Position,
    lines: Vec<RawLine>,
    end: Mark,
}

/// Reads the file from `start` and hands batches to the workers in turn.
fn read_batches(
    path: &Path,
    start: Position,
    batch_lines: usize,
    workers: Vec<std_mpsc::SyncSender<Result<RawBatch, std::io::Error>>>,
) {
    let mut turn = 0usize;
    let mut send = |b: Result<RawBatch, std::io::Error>| -> bool {
        let ok = workers[turn % workers.len()].send(b).is_ok();
        turn += 1;
        ok
    };
    let opened = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(start.bytes))?;
        Ok(f)
    });
    let mut reader = match opened {
        Ok(f) => BufReader::with_capacity(1 << 20, f),
        Err(e) => {
            send(Err(e));
            return;
        }
    };
    let mut pos = start;
    loop {
        let batch_start = pos.clone();
        let mut lines = Vec::with_capacity(batch_lines);
        while lines.len() < batch_lines {
            let mut buf = Zeroizing::new(Vec::new());
            match read_line(&mut reader, &mut buf) {
                Ok(true) => {
                    pos.advance(&buf);
                    lines.push(RawLine {
                        number: pos.lines,
                        text: buf,
                    });
                }
                Ok(false) => break,
                Err(e) => {
                    send(Err(e));
                    return;
                }
            }
        }
        if lines.is_empty() {
            return;
        }
        let full = lines.len() == batch_lines;
        let batch = RawBatch {
            start: batch_start,
            lines,
            end: pos.mark(),
        };
        if !send(Ok(batch)) || !full {
            return;
        }
    }
}

// ----- preparing -----------------------------------------------------------------------

/// Where the ids of a line's new records come from: fresh ones, or (when a batch is
/// retried line by line) the ones its audit event already names.
enum Ids {
    Fresh(Vec<Uuid>),
    Replay(std::vec::IntoIter<Uuid>),
}

impl Ids {
    fn next(&mut self) -> Uuid {
        match self {
            Ids::Fresh(used) => {
                // Time-ordered: ids of a bulk load append at the right edge of every
                // index they lead.
                let id = new_id();
                used.push(id);
                id
            }
            Ids::Replay(ids) => ids.next().unwrap_or_else(new_id),
        }
    }

    fn into_used(self) -> Vec<Uuid> {
        match self {
            Ids::Fresh(used) => used,
            Ids::Replay(_) => Vec::new(),
        }
    }
}

/// One valid line, ready to write.
struct PreparedLine {
    /// Index of the line in its batch's `raw`.
    raw_index: usize,
    /// Subject id first, then every child record id, in the order they were made.
    ids: Vec<Uuid>,
    ops: Vec<WriteOp>,
    counts: ImportCounts,
    fields: BTreeSet<&'static str>,
}

/// One batch, prepared: the writes of its valid lines and the errors of the others.
struct PreparedBatch {
    raw: Vec<RawLine>,
    start: Position,
    end: Mark,
    lines: Vec<PreparedLine>,
    errors: Vec<LineError>,
    rejected: u64,
    blank: u64,
}

/// An examinee line, validated.
struct ExamineeInput {
    examinee: Record,
    applications: Vec<(Record, Option<Record>)>,
    qualifications: Vec<Record>,
}

/// A meister line, validated.
struct MeisterInput {
    meister: Record,
    activities: Vec<Record>,
}

enum LineInput {
    Examinee(ExamineeInput),
    Meister(MeisterInput),
}

/// Validates and builds lines (one per worker thread; caches the policy's views).
struct Preparer {
    vault: Vault,
    actor: Actor,
    purpose: String,
    views: HashMap<(RecordKind, String), Result<BTreeSet<&'static str>, ()>>,
}

impl Preparer {
    fn new(vault: Vault, actor: Actor, purpose: String) -> Preparer {
        Preparer {
            vault,
            actor,
            purpose,
            views: HashMap::new(),
        }
    }

    fn prepare_batch(&mut self, raw: RawBatch) -> Result<PreparedBatch, ImportError> {
        let mut out = PreparedBatch {
            raw: Vec::new(),
            start: raw.start,
            end: raw.end,
            lines: Vec::with_capacity(raw.lines.len()),
            errors: Vec::new(),
            rejected: 0,
            blank: 0,
        };
        for (i, line) in raw.lines.iter().enumerate() {
            if line.text.iter().all(u8::is_ascii_whitespace) {
                out.blank += 1;
                continue;
            }
            match self.prepare_line(line.number, &line.text, Ids::Fresh(Vec::new()))? {
                Ok(mut prepared) => {
                    prepared.raw_index = i;
                    out.lines.push(prepared);
                }
                Err(errors) => {
                    out.rejected += 1;
                    out.errors.extend(errors);
                }
            }
        }
        out.raw = raw.lines;
        Ok(out)
    }

    /// Validates, checks the policy and builds one line; `Ok(Err(..))` is a refused
    /// line, `Err(..)` a failure that stops the import (keys, randomness).
    fn prepare_line(
        &mut self,
        number: u64,
        text: &[u8],
        mut ids: Ids,
    ) -> Result<Result<PreparedLine, Vec<LineError>>, ImportError> {
        let mut errors = Errors {
            line: number,
            list: Vec::new(),
        };
        let Some(input) = parse_line(text, &mut errors) else {
            return Ok(Err(errors.list));
        };
        self.check_policy(&input, &mut errors);
        if !errors.list.is_empty() {
            return Ok(Err(errors.list));
        }
        let prepared = match input {
            LineInput::Examinee(e) => self.build_examinee(e, &mut ids)?,
            LineInput::Meister(m) => self.build_meister(m, &mut ids)?,
        };
        Ok(Ok(PreparedLine {
            ids: ids.into_used(),
            ..prepared
        }))
    }

    /// The fields the import may create for `kind` in `prefecture` (cached).
    fn view(&mut self, kind: RecordKind, prefecture: &str) -> Result<&BTreeSet<&'static str>, ()> {
        let key = (kind, prefecture.to_owned());
        if !self.views.contains_key(&key) {
            let view = self
                .vault
                .create_view(&self.actor, &self.purpose, kind, prefecture)
                .map_err(|_| ());
            self.views.insert(key.clone(), view);
        }
        match self.views.get(&key) {
            Some(Ok(view)) => Ok(view),
            _ => Err(()),
        }
    }

    fn check_record(&mut self, record: &Record, prefecture: &str, path: &str, errors: &mut Errors) {
        match self.view(record.kind, prefecture) {
            Ok(view) => {
                for field in fields_outside_view(record, view) {
                    errors.push(path, field, codes::NOT_PERMITTED);
                }
            }
            Err(()) => errors.push(path, "", codes::NOT_PERMITTED),
        }
    }

    fn check_policy(&mut self, input: &LineInput, errors: &mut Errors) {
        match input {
            LineInput::Examinee(e) => {
                let home = text_value(&e.examinee, "prefecture_code");
                self.check_record(&e.examinee, &home, "examinee", errors);
                for (i, (app, result)) in e.applications.iter().enumerate() {
                    let path = format!("applications[{i}]");
                    let prefecture = child_prefecture(app, &home);
                    self.check_record(app, &prefecture, &path, errors);
                    if let Some(result) = result {
                        let path = format!("applications[{i}].result");
                        self.check_record(result, &child_prefecture(result, &home), &path, errors);
                    }
                }
                for (i, q) in e.qualifications.iter().enumerate() {
                    let path = format!("qualifications[{i}]");
                    self.check_record(q, &child_prefecture(q, &home), &path, errors);
                }
            }
            LineInput::Meister(m) => {
                let home = text_value(&m.meister, "prefecture_code");
                self.check_record(&m.meister, &home, "meister", errors);
                for (i, a) in m.activities.iter().enumerate() {
                    let path = format!("activities[{i}]");
                    self.check_record(a, &child_prefecture(a, &home), &path, errors);
                }
            }
        }
    }

    fn build_examinee(
        &self,
        input: ExamineeInput,
        ids: &mut Ids,
    ) -> Result<PreparedLine, ImportError> {
        let ExamineeInput {
            examinee,
            applications,
            qualifications,
        } = input;
        let home = text_value(&examinee, "prefecture_code");
        let subject_id = ids.next();
        let mut fields: BTreeSet<&'static str> = examinee.field_names().collect();
        let mut counts = ImportCounts {
            examinees: 1,
            ..ImportCounts::default()
        };
        let (dek, mut ops) = self.vault.subject_ops(subject_id, &examinee, &home)?;
        for (mut app, result) in applications {
            let app_id = ids.next();
            let api_id = assign_application_id(&mut app, app_id);
            let prefecture = child_prefecture(&app, &home);
            ops.extend(self.vault.child_ops(
                &dek,
                &app,
                app_id,
                subject_id,
                None,
                &prefecture,
                &api_id,
            )?);
            fields.extend(app.field_names());
            counts.applications += 1;
            if let Some(result) = result {
                let result_id = ids.next();
                ops.extend(self.vault.child_ops(
                    &dek,
                    &result,
                    result_id,
                    subject_id,
                    Some(app_id),
                    &child_prefecture(&result, &home),
                    &result_id.to_string(),
                )?);
                fields.extend(result.field_names());
                counts.results += 1;
            }
        }
        for q in qualifications {
            let q_id = ids.next();
            ops.extend(self.vault.child_ops(
                &dek,
                &q,
                q_id,
                subject_id,
                None,
                &child_prefecture(&q, &home),
                &q_id.to_string(),
            )?);
            fields.extend(q.field_names());
            counts.qualifications += 1;
        }
        Ok(PreparedLine {
            raw_index: 0,
            ids: Vec::new(),
            ops,
            counts,
            fields,
        })
    }

    fn build_meister(
        &self,
        input: MeisterInput,
        ids: &mut Ids,
    ) -> Result<PreparedLine, ImportError> {
        let MeisterInput {
            meister,
            activities,
        } = input;
        let home = text_value(&meister, "prefecture_code");
        let subject_id = ids.next();
        let mut fields: BTreeSet<&'static str> = meister.field_names().collect();
        let mut counts = ImportCounts {
            meisters: 1,
            ..ImportCounts::default()
        };
        let (dek, mut ops) = self.vault.subject_ops(subject_id, &meister, &home)?;
        for a in activities {
            let a_id = ids.next();
            ops.extend(self.vault.child_ops(
                &dek,
                &a,
                a_id,
                subject_id,
                None,
                &child_prefecture(&a, &home),
                &a_id.to_string(),
            )?);
            fields.extend(a.field_names());
            counts.activities += 1;
        }
        Ok(PreparedLine {
            raw_index: 0,
            ids: Vec::new(),
            ops,
            counts,
            fields,
        })
    }
}

/// A text value of a validated record (`prefecture_code`), or `""`.
fn text_value(record: &Record, name: &str) -> String {
    match record.get(name) {
        Some(FieldValue::Text(t)) => t.as_str().to_owned(),
        _ => String::new(),
    }
}

/// A child record lives in its own prefecture when it names one, else its subject's
/// (the rule of the record calls).
fn child_prefecture(record: &Record, home: &str) -> String {
    match record.get("prefecture_code") {
        Some(FieldValue::Text(t)) => t.as_str().to_owned(),
        _ => home.to_owned(),
    }
}

/// The errors of one line.
struct Errors {
    line: u64,
    list: Vec<LineError>,
}

impl Errors {
    fn push(&mut self, path: &str, field: &str, code: &'static str) {
        let field = match (path.is_empty(), field.is_empty()) {
            (true, _) => field.to_owned(),
            (false, true) => path.to_owned(),
            (false, false) => format!("{path}.{field}"),
        };
        self.list.push(LineError {
            line: self.line,
            field,
            code,
        });
    }

    fn extend(&mut self, path: &str, errs: ValidationErrors) {
        for e in errs.0 {
            self.push(path, &e.field, e.code);
        }
    }
}

/// An unknown key is echoed only when it looks like a field name (the model's rule), so
/// that a value sent by mistake as a key never comes back in an error.
fn echo_key(key: &str) -> &str {
    let plausible = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plausible {
        key
    } else {
        crate::model::UNRECOGNISED_FIELD
    }
}

/// Parses and validates one line; `None` (with `errors` filled) if anything is wrong.
fn parse_line(text: &[u8], errors: &mut Errors) -> Option<LineInput> {
    let Ok(text) = std::str::from_utf8(text) else {
        errors.push("", "", codes::INVALID_UTF8);
        return None;
    };
    // serde_json's messages can quote the input: only the code is kept.
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        errors.push("", "", codes::MALFORMED_JSON);
        return None;
    };
    let Value::Object(mut top) = value else {
        errors.push("", "", codes::NOT_AN_OBJECT);
        return None;
    };
    let input = match (top.remove("examinee"), top.remove("meister")) {
        (Some(examinee), None) => {
            let applications = take_array(&mut top, "applications", errors);
            let qualifications = take_array(&mut top, "qualifications", errors);
            unknown_keys(&top, errors);
            parse_examinee(&examinee, applications, qualifications, errors).map(LineInput::Examinee)
        }
        (None, Some(meister)) => {
            let activities = take_array(&mut top, "activities", errors);
            unknown_keys(&top, errors);
            parse_meister(&meister, activities, errors).map(LineInput::Meister)
        }
        _ => {
            errors.push("", "", codes::UNKNOWN_LINE_KIND);
            None
        }
    };
    if errors.list.is_empty() {
        input
    } else {
        None
    }
}

fn unknown_keys(top: &Map<String, Value>, errors: &mut Errors) {
    for key in top.keys() {
        errors.push("", echo_key(key), codes::UNKNOWN_FIELD);
    }
}

/// Takes an optional array member out of the line.
fn take_array(top: &mut Map<String, Value>, key: &str, errors: &mut Errors) -> Vec<Value> {
    match top.remove(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push("", key, codes::NOT_AN_ARRAY);
            Vec::new()
        }
    }
}

fn parse_one(kind: RecordKind, value: &Value, path: &str, errors: &mut Errors) -> Option<Record> {
    match parse_record(kind, value, Mode::Create) {
        Ok(r) => Some(r),
        Err(errs) => {
            errors.extend(path, errs);
            None
        }
    }
}

fn parse_examinee(
    examinee: &Value,
    applications: Vec<Value>,
    qualifications: Vec<Value>,
    errors: &mut Errors,
) -> Option<ExamineeInput> {
    let examinee = parse_one(RecordKind::Examinee, examinee, "examinee", errors);
    let mut apps = Vec::with_capacity(applications.len());
    for (i, mut app) in applications.into_iter().enumerate() {
        let path = format!("applications[{i}]");
        // The result travels inside its application in the file.
        let result = app.as_object_mut().and_then(|o| o.remove("result"));
        let app = parse_one(RecordKind::Application, &app, &path, errors);
        let result = match result {
            None | Some(Value::Null) => None,
            Some(r) => parse_one(RecordKind::Result, &r, &format!("{path}.result"), errors),
        };
        if let Some(app) = app {
            apps.push((app, result));
        }
    }
    let quals: Vec<Record> = qualifications
        .iter()
        .enumerate()
        .filter_map(|(i, q)| {
            parse_one(
                RecordKind::Qualification,
                q,
                &format!("qualifications[{i}]"),
                errors,
            )
        })
        .collect();
    Some(ExamineeInput {
        examinee: examinee?,
        applications: apps,
        qualifications: quals,
    })
}

fn parse_meister(
    meister: &Value,
    activities: Vec<Value>,
    errors: &mut Errors,
) -> Option<MeisterInput> {
    let meister = parse_one(RecordKind::Meister, meister, "meister", errors);
    let activities: Vec<Record> = activities
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            parse_one(
                RecordKind::MeisterActivity,
                a,
                &format!("activities[{i}]"),
                errors,
            )
        })
        .collect();
    Some(MeisterInput {
        meister: meister?,
        activities,
    })
}

// ----- committing ----------------------------------------------------------------------

fn progress_op(run_id: Uuid, started_at: chrono::DateTime<Utc>, mark: &Mark) -> WriteOp {
    WriteOp::SaveImportProgress(ImportProgressRow {
        run_id,
        prefix_digest: mark.digest,
        lines: mark.lines,
        bytes: mark.bytes,
        started_at,
        updated_at: Utc::now(),
    })
}

/// Audits and commits one batch; on a duplicate, retries it line by line.
#[allow(clippy::too_many_arguments)]
async fn commit_batch(
    vault: &Vault,
    actor: &Actor,
    purpose: &str,
    run_id: Uuid,
    fixer: &mut Preparer,
    batch: &mut PreparedBatch,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let started_at = Utc::now();
    let subjects: Vec<Uuid> = batch
        .lines
        .iter()
        .filter_map(|l| l.ids.first().copied())
        .collect();
    let fields: BTreeSet<&'static str> = batch
        .lines
        .iter()
        .flat_map(|l| l.fields.iter().copied())
        .collect();
    let outcome = if subjects.is_empty() {
        Outcome::Invalid
    } else {
        Outcome::Ok
    };
    // Audit before write: the event is durable before any row of the batch exists.
    vault
        .audit_bulk(
            actor,
            purpose,
            IMPORT_ACTION,
            subjects.clone(),
            fields.iter().map(|f| (*f).to_owned()).collect(),
            outcome,
        )
        .await?;
    summary.audit_events += 1;

    let ops_len: usize = batch.lines.iter().map(|l| l.ops.len()).sum();
    let mut write = WriteBatch::with_capacity(ops_len + 1);
    for line in &mut batch.lines {
        write.extend(std::mem::take(&mut line.ops));
    }
    write.push(progress_op(run_id, started_at, &batch.end));
    match vault.store().apply(write).await {
        Ok(()) => {
            for line in &batch.lines {
                summary.counts.add(&line.counts);
            }
            summary.imported_lines += batch.lines.len() as u64;
        }
        Err(StoreError::Conflict(_)) => {
            retry_line_by_line(vault, actor, purpose, run_id, fixer, batch, summary).await?;
        }
        Err(e) => {
            let _ = vault
                .audit_bulk(
                    actor,
                    purpose,
                    IMPORT_ACTION,
                    subjects,
                    Vec::new(),
                    Outcome::Error,
                )
                .await;
            return Err(VaultError::from(e).into());
        }
    }
    summary.rejected_lines += batch.rejected;
    summary.blank_lines += batch.blank;
    summary.batches += 1;
    Ok(())
}

/// Commits the lines of a batch one transaction each (with the progress up to that
/// line), so that only the lines the database refuses as duplicates are left out.
async fn retry_line_by_line(
    vault: &Vault,
    actor: &Actor,
    purpose: &str,
    run_id: Uuid,
    fixer: &mut Preparer,
    batch: &mut PreparedBatch,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let started_at = Utc::now();
    let mut pos = batch.start.clone();
    let mut prepared = std::mem::take(&mut batch.lines).into_iter().peekable();
    let mut refused_subjects = Vec::new();
    for (i, raw) in batch.raw.iter().enumerate() {
        pos.advance(&raw.text);
        let Some(line) = prepared.next_if(|l| l.raw_index == i) else {
            continue;
        };
        // The same ids as the batch's audit event; new data keys.
        let rebuilt = fixer.prepare_line(
            raw.number,
            &raw.text,
            Ids::Replay(line.ids.clone().into_iter()),
        )?;
        let Ok(rebuilt) = rebuilt else {
            continue;
        };
        let mut write = WriteBatch::with_capacity(rebuilt.ops.len() + 1);
        write.extend(rebuilt.ops);
        write.push(progress_op(run_id, started_at, &pos.mark()));
        match vault.store().apply(write).await {
            Ok(()) => {
                summary.counts.add(&line.counts);
                summary.imported_lines += 1;
            }
            Err(StoreError::Conflict(_)) => {
                batch.errors.push(LineError {
                    line: raw.number,
                    field: "applications[].application_id".to_owned(),
                    code: codes::DUPLICATE,
                });
                batch.rejected += 1;
                refused_subjects.extend(line.ids.first().copied());
            }
            Err(e) => return Err(VaultError::from(e).into()),
        }
    }
    batch.errors.sort_by_key(|e| e.line);
    // Progress past trailing refused or blank lines.
    let mut write = WriteBatch::with_capacity(1);
    write.push(progress_op(run_id, started_at, &batch.end));
    vault.store().apply(write).await.map_err(VaultError::from)?;
    if !refused_subjects.is_empty() {
        // These subjects of the batch's event were never created.
        vault
            .audit_bulk(
                actor,
                purpose,
                IMPORT_ACTION,
                refused_subjects,
                Vec::new(),
                Outcome::Invalid,
            )
            .await?;
        summary.audit_events += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(line: &str) -> Vec<(String, &'static str)> {
        let mut errors = Errors {
            line: 7,
            list: Vec::new(),
        };
        let parsed = parse_line(line.as_bytes(), &mut errors);
        assert!(parsed.is_none() || errors.list.is_empty());
        errors.list.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn malformed_json_is_reported_for_the_whole_line() {
        assert_eq!(
            errors_of("{\"examinee\": "),
            vec![(String::new(), codes::MALFORMED_JSON)]
        );
    }

    #[test]
    fn a_line_without_examinee_or_meister_is_of_unknown_kind() {
        assert_eq!(
            errors_of("{\"x\": 1}"),
            vec![(String::new(), codes::UNKNOWN_LINE_KIND)]
        );
    }

    #[test]
    fn an_unknown_top_level_key_that_looks_like_a_value_is_not_echoed() {
        let errs = errors_of("{\"examinee\": {}, \"山田太郎\": 1}");
        assert!(errs.contains(&("(unrecognised)".to_owned(), codes::UNKNOWN_FIELD)));
        assert!(errs.contains(&("examinee.name".to_owned(), "required")));
    }

    #[test]
    fn a_prefix_digest_counts_one_newline_per_line() {
        let mut a = Position::start();
        a.advance(b"x");
        a.advance(b"y");
        let mut b = Position::start();
        b.hasher.update(b"x\ny\n");
        assert_eq!(a.digest(), b.digest());
        assert_eq!((a.lines, a.bytes), (2, 4));
    }
}
