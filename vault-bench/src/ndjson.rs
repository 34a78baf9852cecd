//! Writing a generated population as NDJSON, in parallel, in a fixed order.

use std::io::{self, Write};
use std::ops::Range;
use std::sync::mpsc;

use crate::generate::Generator;

/// Lines rendered per unit of work handed to a thread.
const CHUNK_LINES: u64 = 1024;

/// What to write: which examinee and meister indices, with how many threads.
///
/// Examinee lines come first, in index order, then meister lines. The output
/// does not depend on `threads`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NdjsonJob {
    /// Examinee indices to write.
    pub examinees: Range<u64>,
    /// Meister indices to write.
    pub meisters: Range<u64>,
    /// Rendering threads (at least 1; the calling thread writes).
    pub threads: usize,
}

impl NdjsonJob {
    /// A single-threaded job writing the given index ranges.
    pub fn new(examinees: Range<u64>, meisters: Range<u64>) -> Self {
        NdjsonJob {
            examinees,
            meisters,
            threads: 1,
        }
    }

    /// The same job rendered by `threads` threads.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    fn examinee_count(&self) -> u64 {
        self.examinees.end.saturating_sub(self.examinees.start)
    }

    fn line_count(&self) -> u64 {
        self.examinee_count() + self.meisters.end.saturating_sub(self.meisters.start)
    }
}

/// Counts of what a write produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Examinee lines.
    pub examinees: u64,
    /// Applications in them.
    pub applications: u64,
    /// Applications carrying a result.
    pub results: u64,
    /// Qualifications.
    pub qualifications: u64,
    /// Meister lines.
    pub meisters: u64,
    /// Activities in them.
    pub activities: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl WriteStats {
    fn add(&mut self, other: &WriteStats) {
        self.examinees += other.examinees;
        self.applications += other.applications;
        self.results += other.results;
        self.qualifications += other.qualifications;
        self.meisters += other.meisters;
        self.activities += other.activities;
        self.bytes += other.bytes;
    }
}

struct Chunk {
    bytes: Vec<u8>,
    stats: WriteStats,
}

impl Generator {
    /// Writes the lines of `job` to `out` (wrap files in a `BufWriter`), calling
    /// `progress` with running totals after each chunk, and flushes `out`.
    ///
    /// One line per examinee or meister, see the crate documentation for the
    /// format. Same generator settings and job, same bytes.
    pub fn write_ndjson<W: Write>(
        &self,
        job: &NdjsonJob,
        mut out: W,
        mut progress: impl FnMut(&WriteStats),
    ) -> io::Result<WriteStats> {
        let lines = job.line_count();
        let chunks = lines.div_ceil(CHUNK_LINES);
        let threads = job.threads.max(1) as u64;
        let mut total = WriteStats::default();
        if threads == 1 {
            for c in 0..chunks {
                let chunk = self.render_chunk(job, c)?;
                out.write_all(&chunk.bytes)?;
                total.add(&chunk.stats);
                progress(&total);
            }
        } else {
            std::thread::scope(|scope| -> io::Result<()> {
                // One bounded channel per worker; worker w renders chunks w, w+T, ...
                // and the writer takes them round-robin, so order is fixed.
                let mut receivers = Vec::new();
                for w in 0..threads {
                    let (tx, rx) = mpsc::sync_channel::<io::Result<Chunk>>(2);
                    receivers.push(rx);
                    scope.spawn(move || {
                        let mut c = w;
                        while c < chunks {
                            if tx.send(self.render_chunk(job, c)).is_err() {
                                return; // the writer stopped
                            }
                            c += threads;
                        }
                    });
                }
                for c in 0..chunks {
                    let chunk = receivers[(c % threads) as usize]
                        .recv()
                        .map_err(|_| io::Error::other("a generator thread stopped"))??;
                    out.write_all(&chunk.bytes)?;
                    total.add(&chunk.stats);
                    progress(&total);
                }
                Ok(())
                // Dropping the receivers here releases any worker still sending.
            })?;
        }
        out.flush()?;
        Ok(total)
    }

    /// Renders lines `c * CHUNK_LINES ..` of the job.
    fn render_chunk(&self, job: &NdjsonJob, c: u64) -> io::Result<Chunk> {
        let first = c * CHUNK_LINES;
        let end = (first + CHUNK_LINES).min(job.line_count());
        let examinee_count = job.examinee_count();
        let mut bytes = Vec::with_capacity(2048 * (end - first) as usize);
        let mut stats = WriteStats::default();
        for position in first..end {
            if position < examinee_count {
                let line = self.examinee(job.examinees.start + position);
                stats.examinees += 1;
                stats.applications += line.applications.len() as u64;
                stats.results += line
                    .applications
                    .iter()
                    .filter(|a| a.result.is_some())
                    .count() as u64;
                stats.qualifications += line.qualifications.len() as u64;
                serde_json::to_writer(&mut bytes, &line)?;
            } else {
                let line = self.meister(job.meisters.start + (position - examinee_count));
                stats.meisters += 1;
                stats.activities += line.activities.len() as u64;
                serde_json::to_writer(&mut bytes, &line)?;
            }
            bytes.push(b'\n');
        }
        stats.bytes = bytes.len() as u64;
        Ok(Chunk { bytes, stats })
    }
}
