//! The managed keyring: the key file in force, swapped atomically on rotation, with the
//! per-version usage counter (nonce budget) and the shred list.
//!
//! Every change (rotate, destroy, shred) is made on a fresh copy read from the key file,
//! saved atomically (temporary file, fsync, rename), and only then swapped in: the vault
//! never wraps under a version that is not on disk, and a failed save changes nothing.
//!
//! The shred list (`<key file>.shredded`, mode 0600) names the subjects (and
//! compartments) whose data keys were crypto-shredded. [`ManagedKeyring::unwrap_dek`]
//! refuses them, so a backup taken before a retention run stays unreadable for those
//! subjects after it is restored (`docs/decisions/0011-shred-list-for-backups.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use uuid::Uuid;

use super::LifecycleError;
use crate::crypto::{
    AuditSigner, BlindIndexer, Compartment, CryptoError, Dek, KekRef, KeyProvider, Keyring,
    WrappedDek,
};

/// The default number of wraps under one KEK version before a rotation is forced: 2^31,
/// half of the 2^32 invocations NIST SP 800-38D allows one AES-GCM key with random
/// 96-bit nonces, leaving margin for counts lost in a crash between two flushes.
pub const DEFAULT_WRAP_LIMIT: u64 = 1 << 31;

const SHRED_HEADER: &str = "# kentei-vault shred list v1: compartment and subject id per line";

/// One shredded data key: a subject's key of one compartment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShredEntry {
    /// The compartment (`general` or `my_number`).
    pub compartment: Compartment,
    /// The subject.
    pub subject_id: Uuid,
}

#[derive(Default, Clone, Copy)]
struct Usage {
    /// Uses already written to the database.
    persisted: u64,
    /// Uses since the last flush.
    pending: u64,
}

/// The keyring the vault runs with; see the module documentation.
pub struct ManagedKeyring {
    path: PathBuf,
    current: RwLock<Arc<Keyring>>,
    /// What the key file and the shred list looked like when last read (another process,
    /// e.g. the CLI or a second instance, may have changed them since).
    stamps: Mutex<(Option<FileStamp>, Option<FileStamp>)>,
    /// Serialises changes of the key file and the shred list.
    change: Mutex<()>,
    shreds: RwLock<BTreeSet<ShredEntry>>,
    usage: Mutex<BTreeMap<(String, u32), Usage>>,
    wrap_limit: u64,
    /// Rotations forced by the usage limit, for the service to audit and track.
    forced: Mutex<Vec<(String, u32)>>,
}

impl fmt::Debug for ManagedKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedKeyring")
            .field("path", &self.path)
            .field("keys", &*self.snapshot())
            .field("wrap_limit", &self.wrap_limit)
            .finish_non_exhaustive()
    }
}

impl ManagedKeyring {
    /// Opens the key file at `path` (see [`Keyring::load_file`]) and its shred list.
    /// `wrap_limit` is the number of wraps under one KEK version after which the next
    /// wrap first rotates the KEK ([`DEFAULT_WRAP_LIMIT`] in production).
    pub fn open(path: impl AsRef<Path>, wrap_limit: u64) -> Result<ManagedKeyring, LifecycleError> {
        let path = path.as_ref().to_path_buf();
        let key_stamp = FileStamp::of(&path);
        let keyring = Keyring::load_file(&path)?;
        let shred_stamp = FileStamp::of(&shred_path(&path));
        let shreds = read_shred_list(&shred_path(&path))?;
        Ok(ManagedKeyring {
            current: RwLock::new(Arc::new(keyring)),
            stamps: Mutex::new((key_stamp, shred_stamp)),
            path,
            change: Mutex::new(()),
            shreds: RwLock::new(shreds),
            usage: Mutex::new(BTreeMap::new()),
            wrap_limit: wrap_limit.max(1),
            forced: Mutex::new(Vec::new()),
        })
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shred list file beside the key file.
    pub fn shred_list_path(&self) -> PathBuf {
        shred_path(&self.path)
    }

    /// The keyring in force now (re-read first if another process changed the key file
    /// or the shred list).
    pub fn snapshot(&self) -> Arc<Keyring> {
        self.refresh();
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Re-reads the key file and the shred list when their size, time or inode changed.
    /// A file that cannot be read or parsed now leaves the keyring as it was (and is
    /// logged): a half-visible change never replaces working keys.
    fn refresh(&self) {
        let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        let key_now = FileStamp::of(&self.path);
        if key_now.is_some() && key_now != stamps.0 {
            match Keyring::load_file(&self.path) {
                Ok(k) => {
                    *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(k);
                    stamps.0 = key_now;
                }
                Err(e) => tracing::warn!(error = %e, "key file changed but could not be reloaded"),
            }
        }
        let shred_file = self.shred_list_path();
        let shred_now = FileStamp::of(&shred_file);
        if shred_now.is_some() && shred_now != stamps.1 {
            match read_shred_list(&shred_file) {
                Ok(list) => {
                    let mut current = self.shreds.write().unwrap_or_else(PoisonError::into_inner);
                    // The list only grows: never forget an entry this process wrote.
                    current.extend(list);
                    stamps.1 = shred_now;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shred list changed but could not be reloaded")
                }
            }
        }
    }

    /// The configured wrap limit per KEK version.
    pub fn wrap_limit(&self) -> u64 {
        self.wrap_limit
    }

    /// Adds a new active version of key `id`; the previous one becomes decrypt-only.
    /// The key file is saved before the new version is used. Returns the new version.
    pub fn rotate(&self, id: &str) -> Result<u32, LifecycleError> {
        self.change_file(|k| k.rotate(id))
    }

    /// Destroys one version of key `id` in the key file (its material is erased). The
    /// caller checks that nothing depends on it any more.
    pub(crate) fn destroy(&self, id: &str, version: u32) -> Result<(), LifecycleError> {
        self.change_file(|k| k.destroy(id, version))
    }

    fn change_file<T>(
        &self,
        change: impl FnOnce(&mut Keyring) -> Result<T, CryptoError>,
    ) -> Result<T, LifecycleError> {
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let mut copy = Keyring::load_file(&self.path)?;
        let out = change(&mut copy)?;
        copy.save(&self.path)?;
        let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(copy);
        stamps.0 = FileStamp::of(&self.path);
        Ok(out)
    }

    /// Adds entries to the shred list and saves it (fsync) before returning: call it
    /// before the keys are deleted from the database.
    pub(crate) fn shred(&self, entries: &[ShredEntry]) -> Result<(), LifecycleError> {
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let file = self.shred_list_path();
        // Start from the file as it is now: another process may have added entries.
        let mut next = read_shred_list(&file)?;
        next.extend(
            self.shreds
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .copied(),
        );
        let before = next.len();
        next.extend(entries.iter().copied());
        if next.len() != before || FileStamp::of(&file).is_none() {
            write_shred_list(&file, &next)?;
        }
        let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        *self.shreds.write().unwrap_or_else(PoisonError::into_inner) = next;
        stamps.1 = FileStamp::of(&file);
        Ok(())
    }

    /// Whether a subject's key of `compartment` has been shredded.
    pub fn is_shredded(&self, compartment: Compartment, subject_id: Uuid) -> bool {
        self.shreds
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&ShredEntry {
                compartment,
                subject_id,
            })
    }

    /// Every shredded key.
    pub fn shredded(&self) -> Vec<ShredEntry> {
        self.shreds
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    /// Uses of one key version: persisted plus not yet flushed.
    pub fn uses(&self, id: &str, version: u32) -> u64 {
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(id.to_owned(), version))
            .map_or(0, |u| u.persisted + u.pending)
    }

    /// Sets the persisted count of a key version (loaded from the database).
    pub(crate) fn set_persisted_uses(&self, id: &str, version: u32, uses: u64) {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        let cell = usage.entry((id.to_owned(), version)).or_default();
        cell.persisted = cell.persisted.max(uses);
    }

    /// Takes the counts not yet flushed (they move to `persisted`; on a failed write,
    /// give them back with [`ManagedKeyring::return_pending`]).
    pub(crate) fn take_pending(&self) -> Vec<(String, u32, u64)> {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for ((id, version), cell) in usage.iter_mut() {
            if cell.pending > 0 {
                out.push((id.clone(), *version, cell.pending));
                cell.persisted += cell.pending;
                cell.pending = 0;
            }
        }
        out
    }

    /// Gives back counts whose flush failed.
    pub(crate) fn return_pending(&self, pending: &[(String, u32, u64)]) {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        for (id, version, n) in pending {
            let cell = usage.entry((id.clone(), *version)).or_default();
            cell.persisted = cell.persisted.saturating_sub(*n);
            cell.pending += n;
        }
    }

    /// Rotations forced by the usage limit since the last call.
    pub(crate) fn take_forced(&self) -> Vec<(String, u32)> {
        std::mem::take(&mut *self.forced.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn count_use(&self, kek: &KekRef) {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        usage
            .entry((kek.id.clone(), kek.version))
            .or_default()
            .pending += 1;
    }
}

impl KeyProvider for ManagedKeyring {
    fn wrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        dek: &Dek,
    ) -> Result<WrappedDek, CryptoError> {
        let active = self.snapshot().active_kek(compartment);
        if self.uses(&active.id, active.version) >= self.wrap_limit {
            // The nonce budget of this version is spent: rotate before any further use.
            // Two callers may race here; the second rotation is harmless (one more version).
            let version = self
                .rotate(&active.id)
                .map_err(|_| CryptoError::KeyringInvalid {
                    origin: String::from("managed keyring"),
                    reason: format!(
                        "key {} reached its usage limit and could not be rotated",
                        active.id
                    ),
                })?;
            self.forced
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((active.id.clone(), version));
        }
        let keyring = self.snapshot();
        let wrapped = keyring.wrap_dek(compartment, subject_id, dek)?;
        self.count_use(&wrapped.kek_ref());
        Ok(wrapped)
    }

    fn unwrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        wrapped: &WrappedDek,
    ) -> Result<Dek, CryptoError> {
        // `snapshot` re-reads the shred list too if another process extended it.
        let keyring = self.snapshot();
        if self.is_shredded(compartment, subject_id) {
            return Err(CryptoError::KeyDestroyed {
                kek_id: wrapped.kek_id().to_owned(),
                version: wrapped.kek_version(),
            });
        }
        keyring.unwrap_dek(compartment, subject_id, wrapped)
    }

    fn active_kek(&self, compartment: Compartment) -> KekRef {
        self.snapshot().active_kek(compartment)
    }

    fn blind_indexer(&self) -> BlindIndexer {
        self.snapshot().blind_indexer()
    }

    fn audit_signer(&self) -> AuditSigner {
        self.snapshot().audit_signer()
    }
}

/// Size, modification time and inode of a file: enough to notice a rename over it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

fn shred_path(key_file: &Path) -> PathBuf {
    let mut name = key_file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".shredded");
    key_file.with_file_name(name)
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> LifecycleError + '_ {
    move |source| LifecycleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_shred_list(path: &Path) -> Result<BTreeSet<ShredEntry>, LifecycleError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (c, id) = line
            .split_once(' ')
            .ok_or(LifecycleError::Corrupt("shred list line"))?;
        let compartment = match c {
            "general" => Compartment::General,
            "my_number" => Compartment::MyNumber,
            _ => return Err(LifecycleError::Corrupt("shred list compartment")),
        };
        let subject_id =
            Uuid::parse_str(id.trim()).map_err(|_| LifecycleError::Corrupt("shred list id"))?;
        out.insert(ShredEntry {
            compartment,
            subject_id,
        });
    }
    Ok(out)
}

fn write_shred_list(path: &Path, entries: &BTreeSet<ShredEntry>) -> Result<(), LifecycleError> {
    let mut text = String::with_capacity(entries.len() * 48 + 80);
    text.push_str(SHRED_HEADER);
    text.push('\n');
    for e in entries {
        text.push_str(e.compartment.kek_id());
        text.push(' ');
        text.push_str(&e.subject_id.to_string());
        text.push('\n');
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".shredded.tmp-{}", Uuid::new_v4().simple()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}
