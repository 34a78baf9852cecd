//! The audit writer: one thread per log that commits events in batches (group commit).
//!
//! Callers send events over a channel and wait for their sequence number. The writer
//! takes everything that queued up while the previous transaction was committing,
//! writes it in one transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL with the chain
//! head locked `FOR UPDATE`), and acknowledges each event only after the commit
//! returned, so an acknowledged event is durable (SQLite `synchronous=FULL`,
//! PostgreSQL `synchronous_commit` on, both checked at start). A failed batch is
//! answered with [`AuditError::Unavailable`]; the task carries on with later events.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::chain::{genesis_hash, Hash, StoredEvent};
use super::checkpoint::{
    append_checkpoints, read_checkpoint_file, seal_torn_tail, Checkpoint, CheckpointKind, FileEntry,
};
use super::error::AuditError;
use super::event::{AuditEvent, Ident, Label, Outcome};
use super::signer::CheckpointSigner;
use super::sql::{self, Head, WriteTx};
use super::sqlite_sync::SyncConn;
use crate::store::{check_durability, Backend};

/// Default [`AuditConfig::commit_delay`].
pub const DEFAULT_COMMIT_DELAY: Duration = Duration::from_micros(1000);

/// Configuration of one audit log (one chain).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuditConfig {
    /// The chain this process writes. With PostgreSQL and several server instances,
    /// give each instance its own chain id (for example its host name).
    pub chain_id: String,
    /// The append-only checkpoint file outside the database, for example
    /// `DATA_DIR/audit/checkpoints.jsonl`.
    pub checkpoint_file: PathBuf,
    /// A checkpoint is signed at the latest after this many events (N).
    pub checkpoint_every_events: u64,
    /// ... or after this much time with unsigned events (T).
    pub checkpoint_interval: Duration,
    /// Most events per transaction. 1 turns group commit off (one commit per event).
    pub max_batch: usize,
    /// Events that may wait for the writer before `append` waits too.
    pub queue_capacity: usize,
    /// How long `append` waits for durability before it answers `Unavailable`.
    pub append_timeout: Duration,
    /// Pruning never deletes events younger than this (policy: 10 years).
    pub min_retention_days: u64,
    /// How long the writer waits for more events before it commits a batch that is
    /// not full, when the previous batch held more than one event (appends are
    /// arriving concurrently). Zero commits at once. Each commit costs about the
    /// same whatever it holds (the same pages written, one fsync, and on SQLite the
    /// other connections' page caches emptied), so under load fewer, fuller commits
    /// save CPU for the reads that wait for them.
    pub commit_delay: Duration,
}

impl AuditConfig {
    /// Defaults: checkpoint every 1000 events or 60 s, batches of up to 512 events,
    /// 10 s append timeout, 10 years (3653 days) minimum retention, commit delay
    /// [`DEFAULT_COMMIT_DELAY`].
    pub fn new(chain_id: &str, checkpoint_file: impl Into<PathBuf>) -> AuditConfig {
        AuditConfig {
            chain_id: chain_id.to_owned(),
            checkpoint_file: checkpoint_file.into(),
            checkpoint_every_events: 1000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 512,
            queue_capacity: 8192,
            append_timeout: Duration::from_secs(10),
            min_retention_days: 3653,
            commit_delay: DEFAULT_COMMIT_DELAY,
        }
    }

    /// Sets the commit delay (zero: commit at once).
    pub fn commit_delay(mut self, delay: Duration) -> Self {
        self.commit_delay = delay;
        self
    }

    /// Sets N and T of the checkpoint schedule.
    pub fn checkpoint_every(mut self, events: u64, interval: Duration) -> Self {
        self.checkpoint_every_events = events;
        self.checkpoint_interval = interval;
        self
    }

    /// Sets the largest batch (1: one transaction per event).
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n;
        self
    }

    /// Sets the append timeout.
    pub fn append_timeout(mut self, t: Duration) -> Self {
        self.append_timeout = t;
        self
    }

    /// Sets the minimum retention of audit events, in days.
    pub fn min_retention_days(mut self, days: u64) -> Self {
        self.min_retention_days = days;
        self
    }

    fn validate(&self) -> Result<(), AuditError> {
        let id = self.chain_id.as_bytes();
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id.iter().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if !id_ok {
            return Err(AuditError::Config(
                "chain_id must be 1-64 characters of a-z, 0-9, '_', '.', '-'".into(),
            ));
        }
        if self.checkpoint_every_events == 0 || self.checkpoint_interval.is_zero() {
            return Err(AuditError::Config(
                "checkpoint_every_events and checkpoint_interval must be positive".into(),
            ));
        }
        if self.max_batch == 0 || self.queue_capacity == 0 {
            return Err(AuditError::Config(
                "max_batch and queue_capacity must be positive".into(),
            ));
        }
        if self.checkpoint_file.as_os_str().is_empty() {
            return Err(AuditError::Config("checkpoint_file must be set".into()));
        }
        Ok(())
    }
}

/// Counters and gauges of the writer, for `/metrics`.
#[derive(Debug, Default)]
pub struct AuditMetrics {
    appended: AtomicU64,
    failures: AtomicU64,
    queue_depth: AtomicU64,
    batches: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_file_failures: AtomicU64,
}

impl AuditMetrics {
    /// Events made durable.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }
    /// Appends answered with `Unavailable`.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
    /// Messages waiting for the writer (gauge).
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth.load(Ordering::Relaxed)
    }
    /// Transactions committed with events.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    /// Checkpoints signed by this writer.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }
    /// Failed attempts to append to the checkpoint file (retried with the next one).
    pub fn checkpoint_file_failures(&self) -> u64 {
        self.checkpoint_file_failures.load(Ordering::Relaxed)
    }
}

/// What [`AuditLog::prune`] deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PruneOutcome {
    /// Seq (in this log's chain) of the `audit.prune` event that records the prune.
    pub event_seq: u64,
    /// Chains that were cut.
    pub chains: Vec<PrunedChain>,
}

/// One chain cut by a prune.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunedChain {
    /// The chain.
    pub chain: String,
    /// Events up to and including this seq were deleted; a signed prune anchor says so.
    pub through_seq: u64,
    /// Events deleted.
    pub deleted: u64,
}

enum Msg {
    Append {
        event: AuditEvent,
        ack: oneshot::Sender<Result<u64, AuditError>>,
    },
    Checkpoint {
        ack: oneshot::Sender<Result<Option<Checkpoint>, AuditError>>,
    },
    Prune {
        before_us: i64,
        actor: Ident,
        ack: oneshot::Sender<Result<PruneOutcome, AuditError>>,
    },
    Close {
        ack: oneshot::Sender<()>,
    },
}

struct Shared {
    chain_id: String,
    metrics: Arc<AuditMetrics>,
    append_timeout: Duration,
    /// Answers when the writer thread has finished.
    task: Mutex<Option<oneshot::Receiver<()>>>,
}

/// The audit log (監査ログ) of this process: appends events to its chain.
///
/// Cheap to clone; every clone talks to the same writer task.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("chain_id", &self.shared.chain_id)
            .finish_non_exhaustive()
    }
}

fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

impl AuditLog {
    /// Checks durability settings, creates the chain if it is new, brings the
    /// checkpoint file up to date with the database and starts the writer task.
    ///
    /// Refuses to start when the database could lose acknowledged writes or the
    /// checkpoint file cannot be written.
    pub async fn start(
        backend: Backend,
        signer: Arc<dyn CheckpointSigner>,
        cfg: AuditConfig,
    ) -> Result<AuditLog, AuditError> {
        cfg.validate()?;
        check_durability(&backend).await?;
        let genesis = genesis_hash(&cfg.chain_id);
        sql::ensure_head(&backend, &cfg.chain_id, &genesis, now_us()).await?;

        // Checkpoints committed to the database but not yet in the file (a crash
        // between the two) are appended now.
        let path = cfg.checkpoint_file.clone();
        let entries = tokio::task::spawn_blocking(move || {
            seal_torn_tail(&path)?;
            read_checkpoint_file(&path)
        })
        .await
        .map_err(|_| AuditError::Config("checkpoint file task failed".into()))?
        .map_err(|source| AuditError::CheckpointFile {
            path: cfg.checkpoint_file.display().to_string(),
            source,
        })?;
        let in_file: HashSet<(CheckpointKind, u64)> = entries
            .iter()
            .filter_map(|e| match e {
                FileEntry::Checkpoint(cp) if cp.chain == cfg.chain_id => Some((cp.kind, cp.seq)),
                _ => None,
            })
            .collect();
        let (stored, _) = sql::checkpoints(&backend, Some(&cfg.chain_id)).await?;
        let missing: Vec<Checkpoint> = stored
            .into_iter()
            .filter(|cp| !in_file.contains(&(cp.kind, cp.seq)))
            .collect();
        let path = cfg.checkpoint_file.clone();
        tokio::task::spawn_blocking(move || append_checkpoints(&path, &missing))
            .await
            .map_err(|_| AuditError::Config("checkpoint file task failed".into()))?
            .map_err(|source| AuditError::CheckpointFile {
                path: cfg.checkpoint_file.display().to_string(),
                source,
            })?;

        let head =
            sql::head(&backend, &cfg.chain_id)
                .await?
                .ok_or_else(|| AuditError::Corrupt {
                    chain: cfg.chain_id.clone(),
                    seq: 0,
                })?;
        check_not_behind_file(&backend, &cfg.chain_id, &head, &entries).await?;

        let metrics = Arc::new(AuditMetrics::default());
        let (tx, rx) = mpsc::channel(cfg.queue_capacity);
        let shared = Arc::new(Shared {
            chain_id: cfg.chain_id.clone(),
            metrics: metrics.clone(),
            append_timeout: cfg.append_timeout,
            task: Mutex::new(None),
        });
        // The writer runs on a thread and runtime of its own. Each batch takes several
        // round trips to the database; on the caller's runtime every one of them would
        // wait behind the tasks the readers keep busy (decryption, request handling),
        // and every reader waits for the batch. Its own thread answers each round trip
        // at once, so a group commit takes the time of the database, not of the queue.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AuditError::Config(format!("cannot start the audit writer: {e}")))?;
        let (done_tx, done_rx) = oneshot::channel();
        let thread_chain = cfg.chain_id.clone();
        // Its own connection: it never queues behind readers for one of the pool. On
        // SQLite it runs its statements on its own thread (see `sqlite_sync`).
        let db = match &backend {
            Backend::Sqlite(pool) => match SyncConn::open(pool).await? {
                Some(conn) => WriterDb::Sync(conn),
                None => WriterDb::Pool(backend.dedicated_connection()),
            },
            Backend::Postgres(_) => WriterDb::Pool(backend.dedicated_connection()),
        };
        let writer = Writer {
            db,
            signer,
            metrics,
            pending_file: Vec::new(),
            last_appended: head.last_seq,
            known_checkpoint: head.checkpoint_seq,
            last_checkpoint_try: Instant::now(),
            last_batch: 0,
            cfg,
        };
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                runtime.block_on(writer.run(rx));
                let _ = done_tx.send(());
            })
            .map_err(|e| {
                AuditError::Config(format!(
                    "cannot start the audit writer of chain {thread_chain}: {e}"
                ))
            })?;
        *shared.task.lock().await = Some(done_rx);
        Ok(AuditLog { tx, shared })
    }

    /// Appends `event` and returns its seq once it is durable.
    ///
    /// Fails closed: if the event cannot be written (database down, writes refused,
    /// timeout, log closed) the answer is [`AuditError::Unavailable`] and the caller
    /// must not return any data.
    pub async fn append(&self, event: AuditEvent) -> Result<u64, AuditError> {
        let metrics = &self.shared.metrics;
        let deadline = tokio::time::Instant::now() + self.shared.append_timeout;
        let (ack, answer) = oneshot::channel();
        metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        let queued =
            tokio::time::timeout_at(deadline, self.tx.send(Msg::Append { event, ack })).await;
        if !matches!(queued, Ok(Ok(()))) {
            metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            metrics.failures.fetch_add(1, Ordering::Relaxed);
            return Err(AuditError::Unavailable);
        }
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(Ok(seq))) => Ok(seq),
            _ => {
                metrics.failures.fetch_add(1, Ordering::Relaxed);
                Err(AuditError::Unavailable)
            }
        }
    }

    /// Signs a checkpoint now if the chain has events after the last one.
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (ack, answer) = oneshot::channel();
        self.shared
            .metrics
            .queue_depth
            .fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Msg::Checkpoint { ack }).await.is_err() {
            self.shared
                .metrics
                .queue_depth
                .fetch_sub(1, Ordering::Relaxed);
            return Err(AuditError::Unavailable);
        }
        answer.await.map_err(|_| AuditError::Unavailable)?
    }

    /// Deletes audit events older than `before`, in every chain, but only up to the
    /// last signed checkpoint whose events are all older than `before`. Each cut is
    /// recorded by a signed prune anchor (database and checkpoint file), and the prune
    /// itself by an `audit.prune` event of `actor` in this log's chain.
    ///
    /// Refuses a cut younger than the configured minimum retention.
    pub async fn prune(
        &self,
        before: DateTime<Utc>,
        actor: Ident,
    ) -> Result<PruneOutcome, AuditError> {
        let (ack, answer) = oneshot::channel();
        self.shared
            .metrics
            .queue_depth
            .fetch_add(1, Ordering::Relaxed);
        let msg = Msg::Prune {
            before_us: before.timestamp_micros(),
            actor,
            ack,
        };
        if self.tx.send(msg).await.is_err() {
            self.shared
                .metrics
                .queue_depth
                .fetch_sub(1, Ordering::Relaxed);
            return Err(AuditError::Unavailable);
        }
        answer.await.map_err(|_| AuditError::Unavailable)?
    }

    /// Writes what is queued, signs a final checkpoint and stops the writer. Later
    /// appends (through any clone) answer `Unavailable`.
    pub async fn close(&self) {
        let (ack, answer) = oneshot::channel();
        self.shared
            .metrics
            .queue_depth
            .fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Msg::Close { ack }).await.is_ok() {
            let _ = answer.await;
        } else {
            self.shared
                .metrics
                .queue_depth
                .fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(done) = self.shared.task.lock().await.take() {
            let _ = done.await;
        }
    }

    /// The chain this log writes.
    pub fn chain_id(&self) -> &str {
        &self.shared.chain_id
    }

    /// The writer's counters and gauges.
    pub fn metrics(&self) -> Arc<AuditMetrics> {
        self.shared.metrics.clone()
    }
}

/// Refuses to continue a chain that ends before the latest checkpoint the file
/// records for it, or whose event at that checkpoint has another hash.
async fn check_not_behind_file(
    backend: &Backend,
    chain: &str,
    head: &Head,
    entries: &[FileEntry],
) -> Result<(), AuditError> {
    let latest = entries
        .iter()
        .filter_map(|e| match e {
            FileEntry::Checkpoint(cp)
                if cp.chain == chain && cp.kind == CheckpointKind::Checkpoint =>
            {
                Some(cp)
            }
            _ => None,
        })
        .max_by_key(|cp| cp.seq);
    let Some(cp) = latest else {
        return Ok(());
    };
    let behind = || AuditError::BehindCheckpointFile {
        chain: chain.to_owned(),
        head_seq: u64::try_from(head.last_seq).unwrap_or(0),
        checkpoint_seq: cp.seq,
    };
    let seq = i64::try_from(cp.seq).map_err(|_| behind())?;
    if seq > head.last_seq {
        return Err(behind());
    }
    let pruned = sql::checkpoints(backend, Some(chain))
        .await?
        .0
        .iter()
        .any(|a| a.kind == CheckpointKind::Prune && a.seq >= cp.seq);
    if !pruned && sql::event_hash(backend, chain, seq).await?.as_deref() != Some(&cp.hash[..]) {
        return Err(behind());
    }
    Ok(())
}

/// The writer's connection.
enum WriterDb {
    /// A pool of one connection (see [`Backend::dedicated_connection`]): PostgreSQL,
    /// and an in-memory SQLite database.
    Pool(Backend),
    /// A SQLite database file, statements run on the writer's thread.
    Sync(SyncConn),
}

impl WriterDb {
    async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        match self {
            WriterDb::Pool(backend) => WriteTx::begin(backend).await,
            WriterDb::Sync(conn) => WriteTx::begin_sync(conn),
        }
    }

    async fn close(&self) {
        match self {
            WriterDb::Pool(backend) => backend.close().await,
            // Closed when the writer (the last holder) is dropped.
            WriterDb::Sync(_) => {}
        }
    }
}

struct Writer {
    db: WriterDb,
    signer: Arc<dyn CheckpointSigner>,
    cfg: AuditConfig,
    metrics: Arc<AuditMetrics>,
    /// Checkpoints committed to the database, still to be appended to the file.
    pending_file: Vec<Checkpoint>,
    /// The last seq this writer appended.
    last_appended: i64,
    /// The latest checkpoint seq seen in the chain head.
    known_checkpoint: i64,
    last_checkpoint_try: Instant,
    /// Events in the last batch (for the commit delay).
    last_batch: usize,
}

/// Whether the writer waits [`AuditConfig::commit_delay`] for more events before
/// committing a batch of `queued` events: only when the previous batch held more
/// than one event (appends are arriving concurrently), this one is not full, and a
/// delay is set. A lone append is never delayed.
fn delay_commit(last_batch: usize, queued: usize, cfg: &AuditConfig) -> bool {
    last_batch > 1 && queued < cfg.max_batch && !cfg.commit_delay.is_zero()
}

type AppendAck = oneshot::Sender<Result<u64, AuditError>>;

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        loop {
            let idle = if self.last_appended > self.known_checkpoint {
                self.cfg
                    .checkpoint_interval
                    .saturating_sub(self.last_checkpoint_try.elapsed())
            } else {
                self.cfg.checkpoint_interval
            };
            let first = tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep(idle) => {
                    if self.last_appended > self.known_checkpoint {
                        self.checkpoint(false).await.ok();
                    }
                    self.last_checkpoint_try = Instant::now();
                    continue;
                }
            };
            let Some(first) = first else {
                self.finish().await;
                return;
            };
            let mut msgs = vec![first];
            self.drain(&mut rx, &mut msgs);
            if delay_commit(self.last_batch, msgs.len(), &self.cfg) {
                // This thread serves only the writer: sleeping here holds up nothing
                // but this batch, which is the point.
                std::thread::sleep(self.cfg.commit_delay);
                self.drain(&mut rx, &mut msgs);
            }
            self.metrics
                .queue_depth
                .fetch_sub(msgs.len() as u64, Ordering::Relaxed);

            let mut events = Vec::new();
            let mut acks = Vec::new();
            let mut controls = Vec::new();
            for m in msgs {
                match m {
                    Msg::Append { event, ack } => {
                        events.push(event);
                        acks.push(ack);
                    }
                    other => controls.push(other),
                }
            }
            self.last_batch = events.len();
            if !events.is_empty() {
                self.commit_events(&events, acks).await;
            }
            for c in controls {
                match c {
                    Msg::Checkpoint { ack } => {
                        let r = self.checkpoint(true).await;
                        let _ = ack.send(r);
                    }
                    Msg::Prune {
                        before_us,
                        actor,
                        ack,
                    } => {
                        let r = self.prune(before_us, actor).await;
                        let _ = ack.send(r);
                    }
                    Msg::Close { ack } => {
                        rx.close();
                        // Whatever queued before the close is still written.
                        while let Ok(m) = rx.try_recv() {
                            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
                            if let Msg::Append { event, ack } = m {
                                self.commit_events(std::slice::from_ref(&event), vec![ack])
                                    .await;
                            }
                        }
                        self.finish().await;
                        let _ = ack.send(());
                        return;
                    }
                    Msg::Append { .. } => {}
                }
            }
        }
    }

    /// Takes what is queued, up to a full batch.
    fn drain(&self, rx: &mut mpsc::Receiver<Msg>, msgs: &mut Vec<Msg>) {
        while msgs.len() < self.cfg.max_batch {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
    }

    async fn finish(&mut self) {
        if self.last_appended > self.known_checkpoint {
            self.checkpoint(true).await.ok();
        }
        self.flush_file().await;
        self.db.close().await;
    }

    async fn commit_events(&mut self, events: &[AuditEvent], acks: Vec<AppendAck>) {
        let refs: Vec<&AuditEvent> = events.iter().collect();
        let result = match self.db.begin().await {
            Ok(mut tx) => {
                let r = self.write_batch(&mut tx, &refs).await;
                finish_tx(tx, r).await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok((first, cp, head)) => {
                self.note_head(&head);
                // Counted before the answers go out, so a caller that has its seq sees
                // its event in the metrics.
                self.metrics
                    .appended
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
                self.metrics.batches.fetch_add(1, Ordering::Relaxed);
                for (i, ack) in acks.into_iter().enumerate() {
                    let _ = ack.send(Ok(first + i as u64));
                }
                if let Some(cp) = cp {
                    self.pending_file.push(cp);
                }
                self.flush_file().await;
            }
            Err(e) => {
                tracing::error!(chain = %self.cfg.chain_id, events = events.len(), error = %e,
                    "audit batch not written; appends answered unavailable");
                for ack in acks {
                    let _ = ack.send(Err(AuditError::Unavailable));
                }
            }
        }
    }

    /// Remembers what a committed transaction left in the chain head.
    fn note_head(&mut self, head: &Head) {
        self.last_appended = self.last_appended.max(head.last_seq);
        self.known_checkpoint = self.known_checkpoint.max(head.checkpoint_seq);
    }

    async fn write_batch(
        &self,
        tx: &mut WriteTx,
        events: &[&AuditEvent],
    ) -> Result<(u64, Option<Checkpoint>, Head), AuditError> {
        let mut head = self.lock_own_head(tx).await?;
        let first = self.append_in_tx(tx, &mut head, events).await?;
        let cp = self.checkpoint_in_tx(tx, &mut head, false).await?;
        sql::update_head(tx, &head).await?;
        Ok((first, cp, head))
    }

    async fn lock_own_head(&self, tx: &mut WriteTx) -> Result<Head, AuditError> {
        sql::lock_head(tx, &self.cfg.chain_id)
            .await?
            .ok_or_else(|| AuditError::Corrupt {
                chain: self.cfg.chain_id.clone(),
                seq: 0,
            })
    }

    /// Seals `events` after the head, inserts them and moves the head.
    async fn append_in_tx(
        &self,
        tx: &mut WriteTx,
        head: &mut Head,
        events: &[&AuditEvent],
    ) -> Result<u64, AuditError> {
        let corrupt = || AuditError::Corrupt {
            chain: self.cfg.chain_id.clone(),
            seq: u64::try_from(head.last_seq).unwrap_or(0),
        };
        let mut prev: Hash = head
            .last_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt())?;
        let first = u64::try_from(head.last_seq + 1).map_err(|_| corrupt())?;
        // Time never goes backwards within a chain, even if the clock does.
        let at = now_us().max(head.last_at_us);
        let mut rows = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            let row = StoredEvent::seal(ev, &self.cfg.chain_id, first + i as u64, at, &prev);
            prev.copy_from_slice(&row.hash);
            rows.push(row);
        }
        sql::insert_events(tx, &rows).await?;
        head.last_seq += rows.len() as i64;
        head.last_hash = prev.to_vec();
        head.last_at_us = at;
        Ok(first)
    }

    /// Signs and inserts a checkpoint at the head if one is due (or `force`d).
    async fn checkpoint_in_tx(
        &self,
        tx: &mut WriteTx,
        head: &mut Head,
        force: bool,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let now = now_us();
        let unsigned = head.last_seq - head.checkpoint_seq;
        let interval_us =
            i64::try_from(self.cfg.checkpoint_interval.as_micros()).unwrap_or(i64::MAX);
        let due = unsigned > 0
            && (force
                || unsigned as u64 >= self.cfg.checkpoint_every_events
                || now.saturating_sub(head.checkpoint_at_us) >= interval_us);
        if !due {
            return Ok(None);
        }
        let hash: Hash = head
            .last_hash
            .as_slice()
            .try_into()
            .map_err(|_| AuditError::Corrupt {
                chain: self.cfg.chain_id.clone(),
                seq: u64::try_from(head.last_seq).unwrap_or(0),
            })?;
        let seq = u64::try_from(head.last_seq).unwrap_or(0);
        let cp = Checkpoint::sign(
            &*self.signer,
            CheckpointKind::Checkpoint,
            &self.cfg.chain_id,
            seq,
            hash,
            now,
        );
        sql::insert_checkpoint(tx, &cp).await?;
        head.checkpoint_seq = head.last_seq;
        head.checkpoint_at_us = now;
        Ok(Some(cp))
    }

    /// A transaction that only signs a checkpoint (when idle, on request, at close).
    async fn checkpoint(&mut self, force: bool) -> Result<Option<Checkpoint>, AuditError> {
        let result = match self.db.begin().await {
            Ok(mut tx) => {
                let r = self.checkpoint_only(&mut tx, force).await;
                finish_tx(tx, r).await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok((cp, head)) => {
                self.note_head(&head);
                if let Some(cp) = &cp {
                    self.pending_file.push(cp.clone());
                    self.flush_file().await;
                }
                Ok(cp)
            }
            Err(e) => {
                tracing::error!(chain = %self.cfg.chain_id, error = %e, "audit checkpoint not written");
                Err(AuditError::Unavailable)
            }
        }
    }

    async fn checkpoint_only(
        &self,
        tx: &mut WriteTx,
        force: bool,
    ) -> Result<(Option<Checkpoint>, Head), AuditError> {
        let mut head = self.lock_own_head(tx).await?;
        let cp = self.checkpoint_in_tx(tx, &mut head, force).await?;
        if cp.is_some() {
            sql::update_head(tx, &head).await?;
        }
        Ok((cp, head))
    }

    async fn prune(&mut self, before_us: i64, actor: Ident) -> Result<PruneOutcome, AuditError> {
        let min_keep_us = i64::try_from(self.cfg.min_retention_days)
            .unwrap_or(i64::MAX / 86_400_000_000)
            .saturating_mul(86_400_000_000);
        if before_us > now_us().saturating_sub(min_keep_us) {
            return Err(AuditError::RetentionNotReached {
                min_days: self.cfg.min_retention_days,
            });
        }
        let event = AuditEvent::new(actor, Label::from_static("audit.prune"), Outcome::Ok);
        let result = match self.db.begin().await {
            Ok(mut tx) => {
                let r = self.prune_in_tx(&mut tx, before_us, &event).await;
                finish_tx(tx, r).await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok((outcome, anchors, cp, head)) => {
                self.note_head(&head);
                self.pending_file.extend(anchors);
                self.pending_file.extend(cp);
                self.flush_file().await;
                Ok(outcome)
            }
            Err(e @ AuditError::Corrupt { .. }) => Err(e),
            Err(e) => {
                tracing::error!(chain = %self.cfg.chain_id, error = %e, "audit prune failed");
                Err(AuditError::Unavailable)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn prune_in_tx(
        &self,
        tx: &mut WriteTx,
        before_us: i64,
        event: &AuditEvent,
    ) -> Result<(PruneOutcome, Vec<Checkpoint>, Option<Checkpoint>, Head), AuditError> {
        let now = now_us();
        let mut anchors = Vec::new();
        let mut chains = Vec::new();
        for chain in sql::chain_ids_in_tx(tx).await? {
            let Some(head) = sql::lock_head(tx, &chain).await? else {
                continue;
            };
            let younger = sql::first_seq_at_or_after(tx, &chain, before_us)
                .await?
                .unwrap_or(head.last_seq + 1);
            let Some(cp) =
                sql::checkpoint_below(tx, &chain, CheckpointKind::Checkpoint, younger).await?
            else {
                continue;
            };
            let done = sql::checkpoint_below(tx, &chain, CheckpointKind::Prune, i64::MAX)
                .await?
                .map_or(0, |a| a.seq);
            if cp.seq <= done {
                continue;
            }
            let seq = i64::try_from(cp.seq).map_err(|_| AuditError::Corrupt {
                chain: chain.clone(),
                seq: cp.seq,
            })?;
            // Never cut at a checkpoint that the chain does not match: the anchor
            // would hide the evidence.
            if sql::event_hash_in_tx(tx, &chain, seq).await?.as_deref() != Some(&cp.hash[..]) {
                return Err(AuditError::Corrupt { chain, seq: cp.seq });
            }
            let deleted = sql::delete_events_through(tx, &chain, seq).await?;
            let anchor = Checkpoint::sign(
                &*self.signer,
                CheckpointKind::Prune,
                &chain,
                cp.seq,
                cp.hash,
                now,
            );
            sql::insert_checkpoint(tx, &anchor).await?;
            anchors.push(anchor);
            chains.push(PrunedChain {
                chain,
                through_seq: cp.seq,
                deleted,
            });
        }
        let mut head = self.lock_own_head(tx).await?;
        let event_seq = self.append_in_tx(tx, &mut head, &[event]).await?;
        let cp = self.checkpoint_in_tx(tx, &mut head, false).await?;
        sql::update_head(tx, &head).await?;
        Ok((PruneOutcome { event_seq, chains }, anchors, cp, head))
    }

    /// Appends pending checkpoints to the file (fsync). On failure they stay pending
    /// and are retried with the next checkpoint; start-up also reconciles.
    async fn flush_file(&mut self) {
        if self.pending_file.is_empty() {
            return;
        }
        let path = self.cfg.checkpoint_file.clone();
        let cps = std::mem::take(&mut self.pending_file);
        let n = cps.len() as u64;
        let result = tokio::task::spawn_blocking(move || {
            let r = append_checkpoints(&path, &cps);
            (r, cps)
        })
        .await;
        match result {
            Ok((Ok(()), _)) => {
                self.metrics.checkpoints.fetch_add(n, Ordering::Relaxed);
            }
            Ok((Err(e), cps)) => {
                self.metrics
                    .checkpoint_file_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(chain = %self.cfg.chain_id, error = %e, "checkpoint file not written; will retry");
                self.pending_file = cps;
            }
            Err(_) => {
                self.metrics
                    .checkpoint_file_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(chain = %self.cfg.chain_id, "checkpoint file task failed");
            }
        }
    }
}

/// Commits when `r` is a success, rolls back otherwise.
async fn finish_tx<T>(tx: WriteTx, r: Result<T, AuditError>) -> Result<T, AuditError> {
    match r {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            tx.rollback().await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_busy_writer_delays_its_commit() {
        let cfg = AuditConfig::new("t", "/nonexistent/checkpoints.jsonl");
        assert_eq!(cfg.commit_delay, DEFAULT_COMMIT_DELAY);
        // A lone append after a lone append (or at start) commits at once.
        assert!(!delay_commit(0, 1, &cfg));
        assert!(!delay_commit(1, 1, &cfg));
        assert!(!delay_commit(1, 5, &cfg));
        // After a batch of several events, a batch that is not full waits.
        assert!(delay_commit(2, 1, &cfg));
        assert!(delay_commit(40, 300, &cfg));
        // A full batch never waits.
        assert!(!delay_commit(40, cfg.max_batch, &cfg));
        // Zero turns the delay off.
        let off = cfg.clone().commit_delay(Duration::ZERO);
        assert!(!delay_commit(40, 3, &off));
    }
}
