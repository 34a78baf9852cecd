//! The keyring: key-encryption keys, blind-index keys and the audit signing
//! key, held outside the database in a key file (mode 0600) or an
//! environment variable.
//!
//! # Key file format (TOML, format 1)
//!
//! ```toml
//! # kentei-vault keyring: secret key material. Mode 0600; never commit it.
//! format = 1
//!
//! [[key]]
//! id = "general"          # KEK of the general compartment
//! purpose = "kek"
//! version = 1
//! state = "active"        # active | decrypt_only | destroyed
//! material = "<base64 of 32 random bytes>"   # absent once destroyed
//!
//! [[key]]
//! id = "my_number"        # KEK of the My Number compartment
//! purpose = "kek"
//! version = 1
//! state = "active"
//! material = "..."
//!
//! [[key]]
//! id = "blind_index"      # index key for blind indexes
//! purpose = "blind_index"
//! version = 1
//! state = "active"
//! material = "..."
//!
//! [audit_signing]
//! key_id = "ed25519-0123456789abcdef"
//! pkcs8 = "<base64 of a PKCS#8 v2 Ed25519 key>"
//! ```
//!
//! Rules checked on load: `general` and `my_number` (purpose `kek`) and
//! `blind_index` (purpose `blind_index`) exist; every id has exactly one
//! `active` version; `active` and `decrypt_only` versions carry 32 bytes of
//! material, `destroyed` ones none; (id, version) pairs are unique. Further
//! `kek` ids (e.g. retention buckets) may be added.
//!
//! Error messages name ids, versions and line numbers, never quote the text.
//! Known limit: the TOML parser and serialiser keep short-lived copies of the
//! text that are not zeroized; the buffers this module owns are.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use super::aead::{random_nonce, PreparedKey, NONCE_LEN};
use super::blind::BlindIndexer;
use super::secret::random_key;
use super::sign::AuditSigner;
use super::wrap::{is_valid_key_id, unwrap_with, wrap_with};
use super::{Compartment, CryptoError, Dek, KekRef, KeyProvider, WrappedDek};

/// Current key file format.
const KEYRING_FORMAT: u32 = 1;
/// Id of the blind-index key set.
pub const BLIND_INDEX_KEY_ID: &str = "blind_index";

/// Lifecycle state of one key version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Used for new wraps (KEK) or new index entries (index key); also for
    /// unwrapping and look-ups. Exactly one per key id.
    Active,
    /// Still unwraps old DEKs / matches old index entries; no new use.
    DecryptOnly,
    /// Material erased; whatever it protected is unreadable (crypto-shredded).
    Destroyed,
}

impl KeyState {
    /// The name used in the key file and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::DecryptOnly => "decrypt_only",
            KeyState::Destroyed => "destroyed",
        }
    }
}

/// What a key set is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPurpose {
    /// Key-encryption key: wraps subject DEKs.
    Kek,
    /// Index key: blind-index field keys are derived from it.
    BlindIndex,
}

impl KeyPurpose {
    /// The name used in the key file.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Kek => "kek",
            KeyPurpose::BlindIndex => "blind_index",
        }
    }
}

/// Public description of one key version (no material), for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub id: String,
    /// What the key is for.
    pub purpose: KeyPurpose,
    /// Version.
    pub version: u32,
    /// State.
    pub state: KeyState,
}

/// 32 bytes of symmetric key material with its prepared AES-GCM schedule.
struct Material {
    bytes: SecretBox<[u8; 32]>,
    aead: PreparedKey,
}

impl Material {
    fn new(bytes: SecretBox<[u8; 32]>) -> Material {
        let aead = PreparedKey::new(bytes.expose_secret());
        Material { bytes, aead }
    }
}

struct KeyVersion {
    state: KeyState,
    /// `None` once destroyed.
    material: Option<Material>,
}

struct KeySet {
    purpose: KeyPurpose,
    versions: BTreeMap<u32, KeyVersion>,
}

impl KeySet {
    fn active(&self) -> Option<(u32, &KeyVersion)> {
        self.versions
            .iter()
            .find(|(_, k)| k.state == KeyState::Active)
            .map(|(v, k)| (*v, k))
    }
}

struct AuditKey {
    pkcs8: SecretSlice<u8>,
    signer: AuditSigner,
}

/// The vault's keyring (鍵束): KEKs per compartment, blind-index keys and
/// the audit signing key, each symmetric key with id, version and state.
///
/// Key material never enters the database. `Debug` lists ids, versions and
/// states only.
pub struct Keyring {
    sets: BTreeMap<String, KeySet>,
    audit: AuditKey,
    indexer: BlindIndexer,
}

impl Keyring {
    /// A new keyring: version 1 of `general`, `my_number` and `blind_index`,
    /// all active, and a fresh Ed25519 audit signing key.
    pub fn generate() -> Result<Keyring, CryptoError> {
        let mut sets = BTreeMap::new();
        for (id, purpose) in [
            (Compartment::General.kek_id(), KeyPurpose::Kek),
            (Compartment::MyNumber.kek_id(), KeyPurpose::Kek),
            (BLIND_INDEX_KEY_ID, KeyPurpose::BlindIndex),
        ] {
            let mut versions = BTreeMap::new();
            versions.insert(
                1,
                KeyVersion {
                    state: KeyState::Active,
                    material: Some(Material::new(random_key()?)),
                },
            );
            sets.insert(id.to_owned(), KeySet { purpose, versions });
        }
        let (signer, pkcs8) = AuditSigner::generate()?;
        Keyring::assemble(sets, AuditKey { pkcs8, signer }, "generated keyring")
    }

    /// Load a key file. Refuses a file that group or others can read or
    /// write (fix: `chmod 600 <path>`).
    pub fn load_file(path: impl AsRef<Path>) -> Result<Keyring, CryptoError> {
        let path = path.as_ref();
        let read_err = |source| CryptoError::KeyFileRead {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        // Check the opened file itself, not the path, so a swap between check
        // and read cannot slip a readable file in.
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        check_private_mode(path, &meta)?;
        let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        file.read_to_string(&mut text).map_err(read_err)?;
        Keyring::parse(&text, &path.display().to_string())
    }

    /// Load the keyring from environment variable `var`, which holds the same
    /// TOML as a key file.
    pub fn from_env(var: &str) -> Result<Keyring, CryptoError> {
        let text = Zeroizing::new(std::env::var(var).map_err(|_| CryptoError::KeyEnvMissing {
            var: var.to_owned(),
        })?);
        Keyring::parse(&text, &format!("env:{var}"))
    }

    /// Parse keyring TOML held in memory (e.g. from a secret manager).
    pub fn from_toml(text: &str) -> Result<Keyring, CryptoError> {
        Keyring::parse(text, "inline keyring")
    }

    /// Write the keyring to `path` atomically with mode 0600: a temporary
    /// file in the same directory, fsync, rename over `path`, fsync of the
    /// directory. Replaces an existing file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        let path = path.as_ref();
        let write_err = |source| CryptoError::KeyFileWrite {
            path: path.to_path_buf(),
            source,
        };
        let text = self.to_toml()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| {
                write_err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "path has no file name",
                ))
            })?
            .to_string_lossy()
            .into_owned();
        let tmp = dir.join(format!(".{name}.tmp-{}", Uuid::new_v4().simple()));
        let result = write_private_file(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, path))
            .and_then(|()| sync_dir(&dir));
        if result.is_err() {
            // Best effort: the temporary file holds key material.
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }

    /// Add a new active version of key `id` (KEK or index key); the previous
    /// active version becomes `decrypt_only`. Returns the new version.
    pub fn rotate(&mut self, id: &str) -> Result<u32, CryptoError> {
        let material = Material::new(random_key()?);
        let set = self.set_mut(id)?;
        let new_version = set
            .versions
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| CryptoError::KeyringInvalid {
                origin: String::from("rotate"),
                reason: format!("key {id} has no free version number"),
            })?;
        for key in set.versions.values_mut() {
            if key.state == KeyState::Active {
                key.state = KeyState::DecryptOnly;
            }
        }
        set.versions.insert(
            new_version,
            KeyVersion {
                state: KeyState::Active,
                material: Some(material),
            },
        );
        self.rebuild_indexer()?;
        Ok(new_version)
    }

    /// Change the state of one key version.
    ///
    /// `Active` makes it the one active version (the previous active one
    /// becomes `decrypt_only`); `DecryptOnly` on the active version is refused
    /// (rotate instead); `Destroyed` is [`Keyring::destroy`]. A destroyed key
    /// cannot come back.
    pub fn set_state(
        &mut self,
        id: &str,
        version: u32,
        state: KeyState,
    ) -> Result<(), CryptoError> {
        if state == KeyState::Destroyed {
            return self.destroy(id, version);
        }
        let set = self.set_mut(id)?;
        let current = set
            .versions
            .get(&version)
            .ok_or_else(|| not_found(id, version))?
            .state;
        match (current, state) {
            (KeyState::Destroyed, _) => return Err(destroyed(id, version)),
            (KeyState::Active, KeyState::DecryptOnly) => {
                return Err(CryptoError::WouldLeaveNoActiveKey {
                    id: id.to_owned(),
                    version,
                })
            }
            (_, KeyState::Active) => {
                for key in set.versions.values_mut() {
                    if key.state == KeyState::Active {
                        key.state = KeyState::DecryptOnly;
                    }
                }
            }
            _ => {}
        }
        if let Some(key) = set.versions.get_mut(&version) {
            key.state = state;
        }
        self.rebuild_indexer()
    }

    /// Erase the material of one key version (crypto-shredding). Refused for
    /// the active version. Destroying an already destroyed version is a no-op.
    pub fn destroy(&mut self, id: &str, version: u32) -> Result<(), CryptoError> {
        let set = self.set_mut(id)?;
        let key = set
            .versions
            .get_mut(&version)
            .ok_or_else(|| not_found(id, version))?;
        if key.state == KeyState::Active {
            return Err(CryptoError::WouldLeaveNoActiveKey {
                id: id.to_owned(),
                version,
            });
        }
        key.state = KeyState::Destroyed;
        // Dropping Material zeroizes the key bytes and the AES schedule.
        key.material = None;
        self.rebuild_indexer()
    }

    /// Every key version (no material), ordered by id then version.
    pub fn keys(&self) -> Vec<KeyInfo> {
        self.sets
            .iter()
            .flat_map(|(id, set)| {
                set.versions.iter().map(move |(v, k)| KeyInfo {
                    id: id.clone(),
                    purpose: set.purpose,
                    version: *v,
                    state: k.state,
                })
            })
            .collect()
    }

    /// The active version of key `id`.
    pub fn active_version(&self, id: &str) -> Result<u32, CryptoError> {
        let set = self
            .sets
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKeyId { id: id.to_owned() })?;
        set.active()
            .map(|(v, _)| v)
            .ok_or_else(|| CryptoError::UnknownKeyId { id: id.to_owned() })
    }

    /// Wrap with the active KEK and a given nonce (fixtures only; see
    /// `insecure`).
    pub(crate) fn wrap_dek_with_nonce(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        dek: &Dek,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<WrappedDek, CryptoError> {
        let id = compartment.kek_id();
        let set = self.sets.get(id).ok_or_else(|| not_found(id, 0))?;
        let (version, key) = set.active().ok_or_else(|| not_found(id, 0))?;
        let material = key
            .material
            .as_ref()
            .ok_or_else(|| destroyed(id, version))?;
        wrap_with(
            &material.aead,
            (id, version),
            compartment,
            subject_id,
            dek,
            nonce,
        )
    }

    fn set_mut(&mut self, id: &str) -> Result<&mut KeySet, CryptoError> {
        self.sets
            .get_mut(id)
            .ok_or_else(|| CryptoError::UnknownKeyId { id: id.to_owned() })
    }

    fn rebuild_indexer(&mut self) -> Result<(), CryptoError> {
        self.indexer = build_indexer(&self.sets, "keyring")?;
        Ok(())
    }

    fn assemble(
        sets: BTreeMap<String, KeySet>,
        audit: AuditKey,
        origin: &str,
    ) -> Result<Keyring, CryptoError> {
        let indexer = build_indexer(&sets, origin)?;
        Ok(Keyring {
            sets,
            audit,
            indexer,
        })
    }

    fn parse(text: &str, origin: &str) -> Result<Keyring, CryptoError> {
        let invalid = |reason: String| CryptoError::KeyringInvalid {
            origin: origin.to_owned(),
            reason,
        };
        let file: KeyringFile = toml::from_str(text).map_err(|e| {
            // The parser's own message may quote the text; give the line only.
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            invalid(match line {
                Some(line) => format!("not a valid keyring TOML document (line {line})"),
                None => String::from("not a valid keyring TOML document"),
            })
        })?;
        if file.format != KEYRING_FORMAT {
            return Err(invalid(format!(
                "unsupported format {} (this build reads format {KEYRING_FORMAT})",
                file.format
            )));
        }
        let mut sets: BTreeMap<String, KeySet> = BTreeMap::new();
        for (n, entry) in file.keys.iter().enumerate() {
            let n = n + 1;
            if !is_valid_key_id(entry.id.as_bytes()) {
                return Err(invalid(format!(
                    "key entry #{n}: id must be 1..=64 characters of a-z 0-9 _ -"
                )));
            }
            let id = entry.id.as_str();
            if entry.version == 0 {
                return Err(invalid(format!("key {id}: version must be >= 1")));
            }
            let expected_purpose = if id == BLIND_INDEX_KEY_ID {
                KeyPurpose::BlindIndex
            } else {
                KeyPurpose::Kek
            };
            if entry.purpose != expected_purpose {
                return Err(invalid(format!(
                    "key {id}: purpose must be {}",
                    expected_purpose.as_str()
                )));
            }
            let material = match (entry.state, &entry.material) {
                (KeyState::Destroyed, None) => None,
                (KeyState::Destroyed, Some(_)) => {
                    return Err(invalid(format!(
                        "key {id} version {}: destroyed but still has material",
                        entry.version
                    )))
                }
                (_, None) => {
                    return Err(invalid(format!(
                        "key {id} version {}: material missing",
                        entry.version
                    )))
                }
                (_, Some(b64)) => Some(Material::new(decode_key(b64).ok_or_else(|| {
                    invalid(format!(
                        "key {id} version {}: material must be base64 of 32 bytes",
                        entry.version
                    ))
                })?)),
            };
            let set = sets.entry(id.to_owned()).or_insert_with(|| KeySet {
                purpose: entry.purpose,
                versions: BTreeMap::new(),
            });
            let previous = set.versions.insert(
                entry.version,
                KeyVersion {
                    state: entry.state,
                    material,
                },
            );
            if previous.is_some() {
                return Err(invalid(format!(
                    "key {id} version {} appears twice",
                    entry.version
                )));
            }
        }
        for required in [
            Compartment::General.kek_id(),
            Compartment::MyNumber.kek_id(),
            BLIND_INDEX_KEY_ID,
        ] {
            if !sets.contains_key(required) {
                return Err(invalid(format!("key {required} is missing")));
            }
        }
        for (id, set) in &sets {
            let active = set
                .versions
                .values()
                .filter(|k| k.state == KeyState::Active)
                .count();
            if active != 1 {
                return Err(invalid(format!(
                    "key {id} must have exactly one active version (has {active})"
                )));
            }
        }
        let audit_file = file
            .audit_signing
            .as_ref()
            .ok_or_else(|| invalid(String::from("[audit_signing] is missing")))?;
        if audit_file.key_id.is_empty()
            || audit_file.key_id.len() > 64
            || !audit_file.key_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(String::from(
                "audit_signing.key_id must be 1..=64 printable ASCII characters",
            )));
        }
        let pkcs8: SecretSlice<u8> = Zeroizing::new(
            B64.decode(audit_file.pkcs8.as_bytes())
                .map_err(|_| invalid(String::from("audit_signing.pkcs8 is not base64")))?,
        )
        .to_vec()
        .into();
        let signer =
            AuditSigner::from_pkcs8(&audit_file.key_id, pkcs8.expose_secret()).map_err(|_| {
                invalid(String::from(
                    "audit_signing.pkcs8 is not a PKCS#8 v2 Ed25519 key",
                ))
            })?;
        Keyring::assemble(sets, AuditKey { pkcs8, signer }, origin)
    }

    fn to_toml(&self) -> Result<Zeroizing<String>, CryptoError> {
        let mut keys = Vec::new();
        for (id, set) in &self.sets {
            for (version, key) in &set.versions {
                keys.push(KeyEntryFile {
                    id: id.clone(),
                    purpose: set.purpose,
                    version: *version,
                    state: key.state,
                    material: key
                        .material
                        .as_ref()
                        .map(|m| B64.encode(m.bytes.expose_secret())),
                });
            }
        }
        let file = KeyringFile {
            format: KEYRING_FORMAT,
            keys,
            audit_signing: Some(AuditKeyFile {
                key_id: self.audit.signer.key_id().to_owned(),
                pkcs8: B64.encode(self.audit.pkcs8.expose_secret()),
            }),
        };
        let body =
            Zeroizing::new(
                toml::to_string(&file).map_err(|_| CryptoError::KeyringInvalid {
                    origin: String::from("keyring"),
                    reason: String::from("cannot serialise keyring"),
                })?,
            );
        let mut text = Zeroizing::new(String::with_capacity(body.len() + 128));
        text.push_str(
            "# kentei-vault keyring: secret key material. Keep mode 0600; never commit it.\n",
        );
        text.push_str(&body);
        Ok(text)
    }
}

impl KeyProvider for Keyring {
    fn wrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        dek: &Dek,
    ) -> Result<WrappedDek, CryptoError> {
        let nonce = random_nonce()?;
        self.wrap_dek_with_nonce(compartment, subject_id, dek, &nonce)
    }

    fn unwrap_dek(
        &self,
        compartment: Compartment,
        subject_id: Uuid,
        wrapped: &WrappedDek,
    ) -> Result<Dek, CryptoError> {
        // A DEK of one compartment is never unwrapped with another's KEK.
        if wrapped.kek_id() != compartment.kek_id() {
            return Err(CryptoError::DecryptionFailed);
        }
        let id = wrapped.kek_id();
        let version = wrapped.kek_version();
        let key = self
            .sets
            .get(id)
            .and_then(|s| s.versions.get(&version))
            .ok_or_else(|| not_found(id, version))?;
        let material = key
            .material
            .as_ref()
            .ok_or_else(|| destroyed(id, version))?;
        unwrap_with(&material.aead, compartment, subject_id, wrapped)
    }

    fn active_kek(&self, compartment: Compartment) -> KekRef {
        let id = compartment.kek_id();
        // Invariant: load/generate require both compartment KEKs with exactly
        // one active version, and no mutation can remove it.
        let version = self
            .sets
            .get(id)
            .and_then(KeySet::active)
            .map_or(0, |(v, _)| v);
        KekRef {
            id: id.to_owned(),
            version,
        }
    }

    fn blind_indexer(&self) -> BlindIndexer {
        self.indexer.clone()
    }

    fn audit_signer(&self) -> AuditSigner {
        self.audit.signer.clone()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Versions<'a>(&'a KeySet);
        impl fmt::Debug for Versions<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.versions.iter().map(|(v, k)| (v, k.state)))
                    .finish()
            }
        }
        let mut map = f.debug_map();
        for (id, set) in &self.sets {
            map.entry(id, &Versions(set));
        }
        map.entry(&"audit_signing", &self.audit.signer.key_id());
        map.finish()
    }
}

fn not_found(id: &str, version: u32) -> CryptoError {
    CryptoError::KeyNotFound {
        kek_id: id.to_owned(),
        version,
    }
}

fn destroyed(id: &str, version: u32) -> CryptoError {
    CryptoError::KeyDestroyed {
        kek_id: id.to_owned(),
        version,
    }
}

fn build_indexer(
    sets: &BTreeMap<String, KeySet>,
    origin: &str,
) -> Result<BlindIndexer, CryptoError> {
    let invalid = || CryptoError::KeyringInvalid {
        origin: origin.to_owned(),
        reason: format!("key {BLIND_INDEX_KEY_ID} needs exactly one active version"),
    };
    let set = sets.get(BLIND_INDEX_KEY_ID).ok_or_else(invalid)?;
    let (active_version, active) = set.active().ok_or_else(invalid)?;
    let active_bytes = active
        .material
        .as_ref()
        .ok_or_else(invalid)?
        .bytes
        .expose_secret();
    let older = set
        .versions
        .iter()
        .rev()
        .filter(|(_, k)| k.state == KeyState::DecryptOnly)
        .filter_map(|(v, k)| k.material.as_ref().map(|m| (*v, m.bytes.expose_secret())));
    Ok(BlindIndexer::new((active_version, active_bytes), older))
}

fn decode_key(b64: &str) -> Option<SecretBox<[u8; 32]>> {
    let bytes = Zeroizing::new(B64.decode(b64.as_bytes()).ok()?);
    if bytes.len() != 32 {
        return None;
    }
    Some(SecretBox::init_with_mut(|k: &mut [u8; 32]| {
        k.copy_from_slice(&bytes)
    }))
}

#[cfg(unix)]
fn check_private_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o066 != 0 {
        return Err(CryptoError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), CryptoError> {
    // No POSIX mode bits: rely on the directory's ACLs.
    Ok(())
}

fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // The umask can only remove bits; make 0600 explicit anyway.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    format: u32,
    #[serde(default, rename = "key")]
    keys: Vec<KeyEntryFile>,
    audit_signing: Option<AuditKeyFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntryFile {
    id: String,
    purpose: KeyPurpose,
    version: u32,
    state: KeyState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    material: Option<String>,
}

impl Drop for KeyEntryFile {
    fn drop(&mut self) {
        // Clear intermediates
        self.material.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditKeyFile {
    key_id: String,
    pkcs8: String,
}

impl Drop for AuditKeyFile {
    fn drop(&mut self) {
        // Clear intermediates
        self.pkcs8.zeroize();
    }
}
