//! SQLite: the audit writer's WAL is copied into the database file off the commit path.
//!
//! With SQLite's automatic checkpoints, the commit that takes the WAL past its
//! threshold (1000 pages) also copies the WAL into the database file and syncs it
//! before it returns, and every read waiting for an event of that batch waits for the
//! copy as well. The audit writer's connection therefore runs with
//! `wal_autocheckpoint=0`, and this task, on a connection of its own, runs a `PASSIVE`
//! checkpoint after each interval in which the writer committed. A passive checkpoint
//! never waits for the writer or the readers: it copies what no reader still needs
//! from the WAL, and SQLite starts the WAL over from its beginning once all of it has
//! been copied. Durability does not depend on it: a committed event is in the synced
//! WAL whether or not it has been copied yet.
//!
//! Other connections that write (the record store's writer, account updates) keep
//! their automatic checkpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::writer::AuditMetrics;
use crate::store::Backend;

/// Default [`AuditConfig::wal_checkpoint_interval`](super::AuditConfig::wal_checkpoint_interval).
pub const DEFAULT_WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// The background checkpoint task of one audit writer (SQLite only).
pub(super) struct WalCheckpointer {
    dirty: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts the task on the current runtime, with a connection of its own, when
    /// `backend` is SQLite; `None` for PostgreSQL.
    pub(super) fn start(
        backend: &Backend,
        interval: Duration,
        metrics: Arc<AuditMetrics>,
    ) -> Option<WalCheckpointer> {
        if !matches!(backend, Backend::Sqlite(_)) {
            return None;
        }
        let conn = backend.dedicated_connection(true);
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop, mut stopped) = oneshot::channel();
        let flag = dirty.clone();
        let task = tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = &mut stopped => true,
                    _ = tokio::time::sleep(interval) => false,
                };
                if flag.swap(false, Ordering::AcqRel) {
                    if let Err(e) = checkpoint(&conn).await {
                        metrics
                            .wal_checkpoint_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "WAL checkpoint failed; retried after the next interval");
                        flag.store(true, Ordering::Release);
                    } else {
                        metrics.wal_checkpoints.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if stopping {
                    break;
                }
            }
            conn.close().await;
        });
        Some(WalCheckpointer {
            dirty,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The writer began a transaction: the next interval checkpoints.
    pub(super) fn note_write(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Runs a last checkpoint if one is due and stops the task.
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// One passive checkpoint. SQLite answers `(busy, frames in the WAL, frames copied)`;
/// a passive checkpoint is never busy, and copying less than all is normal while
/// readers still use the newest frames.
async fn checkpoint(conn: &Backend) -> Result<(), sqlx::Error> {
    let Backend::Sqlite(pool) = conn else {
        return Ok(());
    };
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await
        .map(|_| ())
}
