//! Signed checkpoints (署名付きチェックポイント) and the append-only checkpoint file.
//!
//! A checkpoint states "chain C reached seq N with hash H at time T", signed with
//! Ed25519. Checkpoints are stored in the database and appended (with fsync) to a
//! JSON-lines file outside it, so that a rewrite or truncation of the database is
//! caught by comparing the two. A prune anchor is the same statement made when
//! events up to N are deleted under the retention rule: the chain then starts at
//! N + 1 and links to H.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::chain::{put_bytes, Hash, HASH_LEN};
use super::signer::{verify_checkpoint_signature, CheckpointSigner};

/// Domain tag at the start of every signed checkpoint message.
const CHECKPOINT_TAG: &[u8] = b"kentei-vault.audit.checkpoint.v1";

/// What a signed statement about a chain says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckpointKind {
    /// The chain reached `seq` with `hash`.
    Checkpoint,
    /// Events up to `seq` were deleted under the retention rule; the chain continues
    /// from `seq + 1`, linked to `hash`.
    Prune,
}

impl CheckpointKind {
    /// The stored name: `checkpoint` or `prune`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::Checkpoint => "checkpoint",
            CheckpointKind::Prune => "prune",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<CheckpointKind> {
        match s {
            "checkpoint" => Some(CheckpointKind::Checkpoint),
            "prune" => Some(CheckpointKind::Prune),
            _ => None,
        }
    }
}

/// A signed checkpoint or prune anchor of one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Checkpoint or prune anchor.
    pub kind: CheckpointKind,
    /// The chain.
    pub chain: String,
    /// The sequence number reached (or pruned through).
    pub seq: u64,
    /// The chain hash of event `seq`.
    pub hash: [u8; HASH_LEN],
    /// When it was signed, in microseconds since the Unix epoch.
    pub at_us: i64,
    /// Id of the signing key.
    pub key_id: String,
    /// Ed25519 signature over [`Checkpoint::message`].
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// Creates and signs a checkpoint.
    pub(crate) fn sign(
        signer: &dyn CheckpointSigner,
        kind: CheckpointKind,
        chain: &str,
        seq: u64,
        hash: Hash,
        at_us: i64,
    ) -> Checkpoint {
        let mut cp = Checkpoint {
            kind,
            chain: chain.to_owned(),
            seq,
            hash,
            at_us,
            key_id: signer.key_id(),
            signature: Vec::new(),
        };
        cp.signature = signer.sign(&cp.message());
        cp
    }

    /// The bytes that are signed: domain tag, kind, chain, seq, time, hash and key id,
    /// each with a 4-byte big-endian length prefix.
    pub fn message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        put_bytes(&mut out, CHECKPOINT_TAG);
        put_bytes(&mut out, self.kind.as_str().as_bytes());
        put_bytes(&mut out, self.chain.as_bytes());
        put_bytes(&mut out, &self.seq.to_be_bytes());
        put_bytes(&mut out, &self.at_us.to_be_bytes());
        put_bytes(&mut out, &self.hash);
        put_bytes(&mut out, self.key_id.as_bytes());
        out
    }

    /// Whether the signature holds under `public_key`.
    pub fn signature_valid(&self, public_key: &[u8]) -> bool {
        verify_checkpoint_signature(public_key, &self.message(), &self.signature)
    }

    /// When it was signed.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        DateTime::<Utc>::from_timestamp_micros(self.at_us)
    }

    fn to_line(&self) -> String {
        let line = FileLine {
            v: 1,
            kind: self.kind,
            chain: self.chain.clone(),
            seq: self.seq,
            at_us: self.at_us,
            hash: hex::encode(self.hash),
            key_id: self.key_id.clone(),
            sig: B64.encode(&self.signature),
        };
        // Serialising a struct of strings and integers cannot fail.
        let mut s = serde_json::to_string(&line).unwrap_or_default();
        s.push('\n');
        s
    }

    fn from_line(line: &str) -> Option<Checkpoint> {
        let l: FileLine = serde_json::from_str(line).ok()?;
        if l.v != 1 {
            return None;
        }
        let hash_bytes = hex::decode(&l.hash).ok()?;
        let hash: [u8; HASH_LEN] = hash_bytes.try_into().ok()?;
        Some(Checkpoint {
            kind: l.kind,
            chain: l.chain,
            seq: l.seq,
            hash,
            at_us: l.at_us,
            key_id: l.key_id,
            signature: B64.decode(&l.sig).ok()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLine {
    v: u32,
    kind: CheckpointKind,
    chain: String,
    seq: u64,
    at_us: i64,
    hash: String,
    key_id: String,
    sig: String,
}

/// One line of a checkpoint file.
#[derive(Clone, Debug)]
pub(crate) enum FileEntry {
    Checkpoint(Checkpoint),
    /// The line (1-based) is not a checkpoint.
    Unreadable(u64),
}

/// Appends checkpoints to the file, creating it (and its directory) if needed, and
/// waits until the data is on disk.
pub(crate) fn append_checkpoints(path: &Path, cps: &[Checkpoint]) -> io::Result<()> {
    if cps.is_empty() {
        return Ok(());
    }
    let mut buf = String::new();
    for cp in cps {
        buf.push_str(&cp.to_line());
    }
    let (mut file, created) = open_append(path)?;
    // One write per batch: with O_APPEND, concurrent writers do not interleave lines.
    file.write_all(buf.as_bytes())?;
    file.sync_data()?;
    if created {
        sync_parent(path)?;
    }
    Ok(())
}

fn open_append(path: &Path) -> io::Result<(File, bool)> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            fs::create_dir_all(dir)?;
        }
    }
    let existed = path.exists();
    let mut opts = OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o640);
    }
    Ok((opts.open(path)?, !existed))
}

fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Makes sure the file ends with a newline, so that a line torn by a crash is not
/// glued to the next checkpoint. Creates the file if it is missing.
pub(crate) fn seal_torn_tail(path: &Path) -> io::Result<()> {
    let (_, created) = open_append(path)?;
    if created {
        sync_parent(path)?;
        return Ok(());
    }
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    if last[0] != b'\n' {
        let (mut w, _) = open_append(path)?;
        w.write_all(b"\n")?;
        w.sync_data()?;
    }
    Ok(())
}

/// Reads every line of a checkpoint file.
pub(crate) fn read_checkpoint_file(path: &Path) -> io::Result<Vec<FileEntry>> {
    let f = File::open(path)?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).split(b'\n').enumerate() {
        let line = line?;
        let n = i as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match std::str::from_utf8(&line)
            .ok()
            .and_then(Checkpoint::from_line)
        {
            Some(cp) => out.push(FileEntry::Checkpoint(cp)),
            None => out.push(FileEntry::Unreadable(n)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::signer::Ed25519CheckpointSigner;
    use super::*;

    #[test]
    fn file_round_trip_keeps_a_valid_signature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit/checkpoints.jsonl");
        let (s, _) = Ed25519CheckpointSigner::generate("k1").unwrap();
        let cp = Checkpoint::sign(&s, CheckpointKind::Checkpoint, "main", 42, [7u8; 32], 1_000);
        append_checkpoints(&path, std::slice::from_ref(&cp)).unwrap();
        let entries = read_checkpoint_file(&path).unwrap();
        match &entries[..] {
            [FileEntry::Checkpoint(back)] => {
                assert_eq!(back, &cp);
                assert!(back.signature_valid(&s.public_key()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn any_changed_statement_fails_the_signature() {
        let (s, _) = Ed25519CheckpointSigner::generate("k1").unwrap();
        let cp = Checkpoint::sign(&s, CheckpointKind::Checkpoint, "main", 42, [7u8; 32], 1_000);
        let mut a = cp.clone();
        a.seq = 43;
        let mut b = cp.clone();
        b.kind = CheckpointKind::Prune;
        let mut c = cp.clone();
        c.hash[0] ^= 1;
        let mut d = cp.clone();
        d.chain = "other".into();
        for x in [a, b, c, d] {
            assert!(!x.signature_valid(&s.public_key()));
        }
    }

    #[test]
    fn torn_last_line_is_isolated_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.jsonl");
        std::fs::write(&path, b"{\"v\":1,\"kind\":\"checkp").unwrap();
        seal_torn_tail(&path).unwrap();
        let (s, _) = Ed25519CheckpointSigner::generate("k1").unwrap();
        let cp = Checkpoint::sign(&s, CheckpointKind::Checkpoint, "main", 1, [1u8; 32], 5);
        append_checkpoints(&path, &[cp]).unwrap();
        let entries = read_checkpoint_file(&path).unwrap();
        assert!(matches!(entries[0], FileEntry::Unreadable(1)));
        assert!(matches!(entries[1], FileEntry::Checkpoint(_)));
    }
}
