//! Backups: an online, consistent SQLite snapshot (`VACUUM INTO`) and an offline restore
//! that re-applies the keyring's shred list, so a subject shredded after the backup was
//! taken is erased again (and was unreadable anyway: its keys are on the shred list).
//!
//! PostgreSQL is backed up with `pg_dump` (see `docs/operations.md`): every personal
//! value in it is already sealed at field level, and the keys stay outside the database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;
use uuid::Uuid;
use vault_policy::Capability;

use super::keyring::ManagedKeyring;
use super::{Lifecycle, LifecycleError, KEY_MANAGEMENT_PURPOSE};
use crate::audit::Outcome;
use crate::crypto::Compartment;
use crate::store::{
    connect, open_store, Backend, ConnectOptions, KeyCompartment, WriteBatch, WriteOp,
};
use crate::vault::{index_names, Actor};

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreReport {
    /// Subjects (or My Number compartments) erased again because the shred list names them.
    pub reshredded: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LifecycleError + '_ {
    move |source| LifecycleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Moves every WAL frame into the database file and truncates the WAL (SQLite), so
/// pages of deleted rows do not linger in `-wal`. Best effort under concurrent readers.
pub(crate) async fn checkpoint_wal(backend: &Backend) -> Result<(), LifecycleError> {
    if let Backend::Sqlite(pool) = backend {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Writes a consistent snapshot of a running SQLite database to `to` (which must not
/// exist), mode 0600. The vault keeps serving meanwhile.
pub async fn backup_sqlite(backend: &Backend, to: &Path) -> Result<(), LifecycleError> {
    let Backend::Sqlite(pool) = backend else {
        return Err(LifecycleError::Unsupported(
            "online backup of PostgreSQL: use pg_dump (docs/operations.md)",
        ));
    };
    if to.exists() {
        return Err(LifecycleError::Io {
            path: to.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file exists"),
        });
    }
    let target = to
        .to_str()
        .ok_or(LifecycleError::Invalid("backup path is not UTF-8"))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(pool)
        .await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(io(to))?;
    }
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(io(to))?;
    Ok(())
}

/// Restores a SQLite backup over the database file `db_path` (the vault must be
/// stopped), then erases again every subject and compartment on the keyring's shred
/// list and truncates the WAL.
pub async fn restore_sqlite(
    from: &Path,
    db_path: &Path,
    keys: &ManagedKeyring,
) -> Result<RestoreReport, LifecycleError> {
    let mut header = [0u8; 16];
    {
        use std::io::Read;
        std::fs::File::open(from)
            .and_then(|mut f| f.read_exact(&mut header))
            .map_err(io(from))?;
    }
    if &header != b"SQLite format 3\0" {
        return Err(LifecycleError::Invalid(
            "the backup is not a SQLite database",
        ));
    }
    let dir = match db_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".restore-{}", Uuid::new_v4().simple()));
    std::fs::copy(from, &tmp).map_err(io(&tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db_path.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(db_path)(e)),
        }
    }
    std::fs::rename(&tmp, db_path).map_err(io(db_path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(db_path, std::fs::Permissions::from_mode(0o600))
            .map_err(io(db_path))?;
    }

    let url = format!("sqlite://{}", db_path.display());
    let backend = connect(&url, &ConnectOptions::default()).await?;
    let report = reapply_shred_list(&backend, keys).await;
    let checkpoint = checkpoint_wal(&backend).await;
    backend.close().await;
    checkpoint?;
    report
}

/// Erases again what the keyring's shred list names: run after restoring an older copy
/// of the database (done by [`restore_sqlite`]; for PostgreSQL after `pg_restore`).
pub async fn reapply_shred_list(
    backend: &Backend,
    keys: &ManagedKeyring,
) -> Result<RestoreReport, LifecycleError> {
    let store = open_store(backend.clone());
    let mut by_subject: BTreeMap<Uuid, Vec<Compartment>> = BTreeMap::new();
    for e in keys.shredded() {
        by_subject
            .entry(e.subject_id)
            .or_default()
            .push(e.compartment);
    }
    let mut reshredded = 0;
    for (subject, compartments) in by_subject {
        let present_general = store
            .get_key(subject, KeyCompartment::General)
            .await?
            .is_some();
        let present_mn = store
            .get_key(subject, KeyCompartment::MyNumber)
            .await?
            .is_some();
        let mut batch = WriteBatch::new();
        if compartments.contains(&Compartment::General) {
            if present_general
                || store
                    .get_subject(subject, &vault_policy::TenantScope::All)
                    .await?
                    .is_some()
            {
                batch.delete_subject(subject);
            }
        } else if present_mn
            || store
                .get_my_number(subject, &vault_policy::TenantScope::All)
                .await?
                .is_some()
        {
            batch.push(WriteOp::DeleteKey {
                subject_id: subject,
                compartment: KeyCompartment::MyNumber,
            });
            batch.push(WriteOp::DeleteMyNumber {
                subject_id: subject,
            });
            batch.push(WriteOp::DeleteIndexes {
                record_id: subject,
                field: Some(index_names::MY_NUMBER.to_owned()),
            });
        }
        if !batch.is_empty() {
            store.apply(batch).await?;
            reshredded += 1;
        }
    }
    Ok(RestoreReport { reshredded })
}

impl Lifecycle {
    /// Takes an online backup to `to` (SQLite; PostgreSQL uses `pg_dump`). Audited as
    /// `backup.create`. A backup is only useful with the key file and its shred list,
    /// which are kept apart from it.
    pub async fn backup(&self, actor: &Actor, to: &Path) -> Result<(), LifecycleError> {
        self.authorize(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            Capability::ManageKeys,
            "backup.create",
        )
        .await?;
        self.audit_event(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            "backup.create",
            &[],
            &[],
            Outcome::Ok,
        )
        .await?;
        let started = Utc::now();
        backup_sqlite(&self.backend, to).await?;
        tracing::info!(
            elapsed_ms = (Utc::now() - started).num_milliseconds(),
            "backup written"
        );
        Ok(())
    }
}
