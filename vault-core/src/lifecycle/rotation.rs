//! Key rotation: a new version wraps at once, a resumable job re-wraps existing DEKs (or
//! re-computes blind indexes), and an old version is destroyed only when nothing depends
//! on it. Progress is checkpointed in `key_rotations`; usage counters in `key_usage`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use vault_policy::{Capability, RecordKind, TenantScope};

use super::db::{exec, fetch, i, t, Bind, Col};
use super::{parse_time, parse_uuid, time_text, Lifecycle, LifecycleError, KEY_MANAGEMENT_PURPOSE};
use crate::audit::Outcome;
use crate::crypto::{
    AesGcmSealer, Compartment, CryptoError, FieldAad, FieldSealer, KeyProvider, KeyPurpose,
    KeyState, SealedRecord, WrappedDek, BLIND_INDEX_KEY_ID,
};
use crate::model::{schema, FieldValue, Record};
use crate::store::{
    IndexRow, KeyCompartment, KeyRow, RecordQuery, RecordRow, RecordUpdate, StoreError, WriteBatch,
    WriteOp,
};
use crate::vault::{index_names, Actor};

/// State of a rotation job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationState {
    /// Re-wrapping (or re-indexing) is under way.
    Running,
    /// Nothing depends on older versions any more (for KEKs), or every record was
    /// re-indexed (for the index key).
    Complete,
}

/// Progress of one rotation job, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RotationProgress {
    /// Key id (`general`, `my_number`, `blind_index`).
    pub key_id: String,
    /// The version the job moves everything to.
    pub to_version: u32,
    /// `kek` or `blind_index`.
    pub kind: String,
    /// Running or complete.
    pub state: RotationState,
    /// Pass over the table (a pass starts again when keys were written meanwhile).
    pub pass: u32,
    /// Items done so far.
    pub done: u64,
    /// Items to do when the job started.
    pub total: u64,
    /// Who started it (`system` for a rotation forced by the usage limit).
    pub started_by: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
}

/// One key version in the status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyVersionStatus {
    /// Key id.
    pub id: String,
    /// `kek` or `blind_index`.
    pub purpose: &'static str,
    /// Version.
    pub version: u32,
    /// `active`, `decrypt_only` or `destroyed`.
    pub state: &'static str,
    /// Wrapped DEKs under this version (KEKs only).
    pub deks: Option<u64>,
    /// Wraps made under this version (the nonce budget spent).
    pub uses: u64,
    /// When the vault first saw this version.
    pub first_seen: Option<DateTime<Utc>>,
    /// Whole days since then (key age).
    pub age_days: Option<i64>,
    /// Whether `keys destroy` would accept it now.
    pub destroyable: bool,
}

/// Key status: versions, states, DEK counts, usage, age and the rotation jobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    /// Every key version.
    pub keys: Vec<KeyVersionStatus>,
    /// Every rotation job, newest first.
    pub rotations: Vec<RotationProgress>,
    /// Wraps allowed under one KEK version before a rotation is forced.
    pub wrap_limit: u64,
    /// Id of the audit signing key (it signs checkpoints and erasure certificates).
    pub audit_key_id: String,
    /// Its Ed25519 public key, hex: what verifies an erasure certificate.
    pub audit_public_key: String,
}

const ROTATION_COLUMNS: &str = "key_id, to_version, kind, state, pass, done, total, started_by, \
     started_at, completed_at, resume_after, milestone";

struct Job {
    progress: RotationProgress,
    resume_after: Option<Uuid>,
    milestone: i64,
}

impl Lifecycle {
    pub(super) async fn load_usage(&self) -> Result<(), LifecycleError> {
        let now = time_text(Utc::now());
        for info in self.keys.snapshot().keys() {
            exec(
                &self.backend,
                "INSERT INTO key_usage (key_id, version, uses, created_at) VALUES ($1, $2, 0, $3) \
                 ON CONFLICT (key_id, version) DO NOTHING",
                &[
                    t(info.id.clone()),
                    i(i64::from(info.version)),
                    t(now.clone()),
                ],
            )
            .await?;
        }
        let rows = fetch(
            &self.backend,
            "SELECT key_id, version, uses FROM key_usage",
            &[],
            &[Col::Text, Col::Int, Col::Int],
        )
        .await?;
        for r in rows {
            let (Some(id), Some(v), Some(n)) = (r[0].text(), r[1].int(), r[2].int()) else {
                return Err(LifecycleError::Corrupt("key_usage"));
            };
            let v = u32::try_from(v).map_err(|_| LifecycleError::Corrupt("key_usage.version"))?;
            self.keys
                .set_persisted_uses(id, v, u64::try_from(n).unwrap_or(0));
        }
        Ok(())
    }

    /// Writes the usage counts not yet persisted (called by every job step; call it on
    /// shutdown too). A crash loses at most the counts since the last flush, which the
    /// limit's margin absorbs (see [`super::DEFAULT_WRAP_LIMIT`]).
    pub async fn flush_usage(&self) -> Result<(), LifecycleError> {
        let pending = self.keys.take_pending();
        let now = time_text(Utc::now());
        for (n, (id, version, uses)) in pending.iter().enumerate() {
            let r = exec(
                &self.backend,
                "INSERT INTO key_usage (key_id, version, uses, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key_id, version) DO UPDATE SET uses = key_usage.uses + excluded.uses",
                &[
                    t(id.clone()),
                    i(i64::from(*version)),
                    i(i64::try_from(*uses).unwrap_or(i64::MAX)),
                    t(now.clone()),
                ],
            )
            .await;
            if let Err(e) = r {
                self.keys.return_pending(&pending[n..]);
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Rotates key `key_id` (`general`, `my_number` or `blind_index`): a new version is
    /// saved to the key file and used for every new wrap (or index entry) at once; a job
    /// is recorded to re-wrap existing DEKs (or re-index records), run by
    /// [`Lifecycle::run_rotations`]. Audited as `key.rotate`.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        key_id: &str,
    ) -> Result<RotationProgress, LifecycleError> {
        self.authorize(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            Capability::ManageKeys,
            "key.rotate",
        )
        .await?;
        let keyring = self.keys.snapshot();
        let Some(info) = keyring.keys().into_iter().find(|k| k.id == key_id) else {
            return Err(LifecycleError::NotFound);
        };
        let next = keyring
            .keys()
            .iter()
            .filter(|k| k.id == key_id)
            .map(|k| k.version)
            .max()
            .unwrap_or(0)
            + 1;
        // The intent is durable before the key file changes (fail closed).
        self.audit_event(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            "key.rotate",
            &[],
            &key_fields(key_id, next),
            Outcome::Ok,
        )
        .await?;
        let version = self.keys.rotate(key_id)?;
        self.flush_usage().await?;
        self.note_version(key_id, version).await?;
        self.create_job(key_id, version, info.purpose, &actor.id)
            .await?;
        self.job(key_id, version)
            .await?
            .map(|j| j.progress)
            .ok_or(LifecycleError::NotFound)
    }

    /// The cryptoperiod rule (NIST SP 800-57): an active KEK version older than
    /// `kek_max_age_days` is rotated by the system, audited as `key.rotate.cryptoperiod`;
    /// the re-wrap job then follows as for any rotation.
    async fn rotate_expired_keks(&self) -> Result<(), LifecycleError> {
        let Some(max_days) = self.config.kek_max_age_days else {
            return Ok(());
        };
        let seen = self.versions_first_seen().await?;
        let now = Utc::now();
        for compartment in Compartment::ALL {
            let id = compartment.kek_id();
            let active = self.keys.snapshot().active_version(id)?;
            let Some(since) = seen.get(&(id.to_owned(), active)) else {
                continue;
            };
            if (now - *since).num_days() < i64::from(max_days) {
                continue;
            }
            self.audit_system(
                "key.rotate.cryptoperiod",
                KEY_MANAGEMENT_PURPOSE,
                &key_fields(id, active + 1),
            )
            .await?;
            let version = self.keys.rotate(id)?;
            self.note_version(id, version).await?;
            self.create_job(id, version, KeyPurpose::Kek, "system")
                .await?;
        }
        Ok(())
    }

    /// When each key version was first seen by the vault (its age is counted from then).
    async fn versions_first_seen(
        &self,
    ) -> Result<BTreeMap<(String, u32), DateTime<Utc>>, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT key_id, version, created_at FROM key_usage",
            &[],
            &[Col::Text, Col::Int, Col::Text],
        )
        .await?;
        let mut seen = BTreeMap::new();
        for r in &rows {
            if let (Some(id), Some(v), Some(at)) = (r[0].text(), r[1].int(), r[2].text()) {
                seen.insert(
                    (id.to_owned(), u32::try_from(v).unwrap_or(0)),
                    parse_time(at, "key_usage.created_at")?,
                );
            }
        }
        Ok(seen)
    }

    async fn note_version(&self, key_id: &str, version: u32) -> Result<(), LifecycleError> {
        exec(
            &self.backend,
            "INSERT INTO key_usage (key_id, version, uses, created_at) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (key_id, version) DO NOTHING",
            &[t(key_id), i(i64::from(version)), t(time_text(Utc::now()))],
        )
        .await?;
        Ok(())
    }

    async fn create_job(
        &self,
        key_id: &str,
        version: u32,
        purpose: KeyPurpose,
        started_by: &str,
    ) -> Result<(), LifecycleError> {
        let total = match purpose {
            KeyPurpose::Kek => self.deks_below(key_id, version).await?,
            KeyPurpose::BlindIndex => 0,
        };
        let now = time_text(Utc::now());
        exec(
            &self.backend,
            "INSERT INTO key_rotations (key_id, to_version, kind, state, resume_after, pass, done, \
             total, milestone, started_by, started_at, updated_at) \
             VALUES ($1, $2, $3, 'running', NULL, 1, 0, $4, 0, $5, $6, $6) \
             ON CONFLICT (key_id, to_version) DO NOTHING",
            &[
                t(key_id),
                i(i64::from(version)),
                t(purpose.as_str()),
                i(i64::try_from(total).unwrap_or(i64::MAX)),
                t(started_by),
                t(now),
            ],
        )
        .await?;
        Ok(())
    }

    async fn deks_below(&self, key_id: &str, version: u32) -> Result<u64, LifecycleError> {
        Ok(self
            .store
            .count_keys_by_kek()
            .await?
            .iter()
            .filter(|c| c.kek_id == key_id && c.kek_version < version)
            .map(|c| c.count)
            .sum())
    }

    /// Progress of the rotation jobs still running (key ids, versions and counts only),
    /// for a progress display next to [`Lifecycle::run_rotations`]. Not audited: it
    /// shows no personal data, and the rotation it watches was audited when it started.
    pub async fn running_jobs(&self) -> Result<Vec<RotationProgress>, LifecycleError> {
        Ok(self
            .jobs(true)
            .await?
            .into_iter()
            .map(|j| j.progress)
            .collect())
    }

    async fn jobs(&self, only_running: bool) -> Result<Vec<Job>, LifecycleError> {
        let sql = format!(
            "SELECT {ROTATION_COLUMNS} FROM key_rotations {} ORDER BY started_at DESC, key_id",
            if only_running {
                "WHERE state = 'running'"
            } else {
                ""
            }
        );
        let rows = fetch(&self.backend, &sql, &[], &job_cols()).await?;
        rows.iter().map(|r| job_from_row(r)).collect()
    }

    async fn job(&self, key_id: &str, version: u32) -> Result<Option<Job>, LifecycleError> {
        let sql = format!(
            "SELECT {ROTATION_COLUMNS} FROM key_rotations WHERE key_id = $1 AND to_version = $2"
        );
        let rows = fetch(
            &self.backend,
            &sql,
            &[t(key_id), i(i64::from(version))],
            &job_cols(),
        )
        .await?;
        rows.first().map(|r| job_from_row(r)).transpose()
    }

    /// Runs every unfinished rotation job to completion, batch by batch, each batch one
    /// transaction followed by a checkpoint. Safe to call again after a crash or from a
    /// second process: a re-wrap only replaces a key still under the version it was read
    /// with, and re-indexing rewrites a record's entries as a whole.
    ///
    /// Also records jobs for rotations forced by the usage limit, and for a rotation
    /// whose key file was saved but whose job row was not (a crash in between).
    pub async fn run_rotations(&self) -> Result<Vec<RotationProgress>, LifecycleError> {
        let _runner = self.jobs.lock().await;
        self.flush_usage().await?;
        for (key_id, version) in self.keys.take_forced() {
            self.note_version(&key_id, version).await?;
            self.audit_system(
                "key.rotate.forced",
                KEY_MANAGEMENT_PURPOSE,
                &key_fields(&key_id, version),
            )
            .await?;
            self.create_job(&key_id, version, KeyPurpose::Kek, "system")
                .await?;
        }
        self.rotate_expired_keks().await?;
        let keyring = self.keys.snapshot();
        let versions = keyring.keys();
        // Counting the keys by KEK version scans every key (no index on the version:
        // migration 0006), so it runs only when it can find something: the keyring
        // has known an older version and no job exists for the active one.
        let mut counts = None;
        for compartment in Compartment::ALL {
            let id = compartment.kek_id();
            let active = keyring.active_version(id)?;
            let older_known = versions.iter().any(|k| k.id == id && k.version < active);
            if !older_known || self.job(id, active).await?.is_some() {
                continue;
            }
            if counts.is_none() {
                counts = Some(self.store.count_keys_by_kek().await?);
            }
            let old: u64 = counts
                .iter()
                .flatten()
                .filter(|c| c.kek_id == id && c.kek_version < active)
                .map(|c| c.count)
                .sum();
            if old > 0 {
                self.create_job(id, active, KeyPurpose::Kek, "system")
                    .await?;
            }
        }
        let index_active = keyring.active_version(BLIND_INDEX_KEY_ID)?;
        if index_active > 1 && self.job(BLIND_INDEX_KEY_ID, index_active).await?.is_none() {
            self.create_job(
                BLIND_INDEX_KEY_ID,
                index_active,
                KeyPurpose::BlindIndex,
                "system",
            )
            .await?;
        }
        let mut finished = Vec::new();
        for job in self.jobs(true).await? {
            let key_id = job.progress.key_id.clone();
            let version = job.progress.to_version;
            if job.progress.kind == KeyPurpose::BlindIndex.as_str() {
                self.run_reindex_job(job).await?;
            } else {
                self.run_rewrap_job(job).await?;
            }
            if let Some(j) = self.job(&key_id, version).await? {
                finished.push(j.progress);
            }
        }
        self.flush_usage().await?;
        Ok(finished)
    }

    async fn save_job(&self, job: &Job) -> Result<(), LifecycleError> {
        exec(
            &self.backend,
            "UPDATE key_rotations SET state = $1, resume_after = $2, pass = $3, done = $4, \
             milestone = $5, updated_at = $6, completed_at = $7 \
             WHERE key_id = $8 AND to_version = $9",
            &[
                t(match job.progress.state {
                    RotationState::Running => "running",
                    RotationState::Complete => "complete",
                }),
                Bind::OptText(job.resume_after.map(|u| u.to_string())),
                i(i64::from(job.progress.pass)),
                i(i64::try_from(job.progress.done).unwrap_or(i64::MAX)),
                i(job.milestone),
                t(time_text(Utc::now())),
                Bind::OptText(job.progress.completed_at.map(time_text)),
                t(job.progress.key_id.clone()),
                i(i64::from(job.progress.to_version)),
            ],
        )
        .await?;
        Ok(())
    }

    /// Audits 25 %, 50 % and 75 % of a job's first pass once each.
    async fn milestone(&self, job: &mut Job) -> Result<(), LifecycleError> {
        if job.progress.total == 0 {
            return Ok(());
        }
        let reached =
            i64::try_from((job.progress.done.min(job.progress.total) * 4) / job.progress.total)
                .unwrap_or(0)
                .min(3);
        if reached > job.milestone {
            job.milestone = reached;
            let mut fields = key_fields(&job.progress.key_id, job.progress.to_version);
            fields.push(format!("milestone:{}", reached * 25));
            self.audit_system("key.rotate.progress", KEY_MANAGEMENT_PURPOSE, &fields)
                .await?;
        }
        Ok(())
    }

    async fn complete(&self, job: &mut Job, action: &'static str) -> Result<(), LifecycleError> {
        job.progress.state = RotationState::Complete;
        job.progress.completed_at = Some(Utc::now());
        job.resume_after = None;
        self.audit_system(
            action,
            KEY_MANAGEMENT_PURPOSE,
            &key_fields(&job.progress.key_id, job.progress.to_version),
        )
        .await?;
        self.save_job(job).await
    }

    async fn run_rewrap_job(&self, mut job: Job) -> Result<(), LifecycleError> {
        let key_id = job.progress.key_id.clone();
        let to = job.progress.to_version;
        loop {
            let rows = self
                .store
                .list_keys_for_rewrap(&key_id, to, job.resume_after, self.config.batch_size)
                .await?;
            let Some(last) = rows.last().map(|r| r.subject_id) else {
                // End of a pass: done when no DEK is left under an older version (one
                // written meanwhile behind the cursor starts another pass).
                if self.deks_below(&key_id, to).await? == 0 {
                    return self.complete(&mut job, "key.rotate.complete").await;
                }
                job.progress.pass += 1;
                job.resume_after = None;
                self.save_job(&job).await?;
                continue;
            };
            let mut batch = WriteBatch::with_capacity(rows.len());
            for row in &rows {
                if let Some(op) = self.rewrap_op(row)? {
                    batch.push(op);
                }
            }
            let n = batch.len() as u64;
            if !batch.is_empty() {
                self.store.apply(batch).await?;
            }
            job.resume_after = Some(last);
            job.progress.done += n;
            self.milestone(&mut job).await?;
            self.save_job(&job).await?;
            self.flush_usage().await?;
        }
    }

    fn rewrap_op(&self, row: &KeyRow) -> Result<Option<WriteOp>, LifecycleError> {
        let compartment = match row.compartment {
            KeyCompartment::General => Compartment::General,
            KeyCompartment::MyNumber => Compartment::MyNumber,
        };
        // A shredded subject's key is never re-wrapped; its deletion is under way.
        if self.keys.is_shredded(compartment, row.subject_id) {
            return Ok(None);
        }
        let wrapped = WrappedDek::from_bytes(&row.wrapped)?;
        let Some(new) = self
            .keys
            .rewrap_dek(compartment, row.subject_id, &wrapped)?
        else {
            return Ok(None);
        };
        Ok(Some(WriteOp::RewrapKey {
            key: KeyRow {
                subject_id: row.subject_id,
                compartment: row.compartment,
                kek_id: new.kek_id().to_owned(),
                kek_version: new.kek_version(),
                wrapped: new.as_bytes().to_vec(),
            },
            expected_kek_id: row.kek_id.clone(),
            expected_kek_version: row.kek_version,
        }))
    }

    async fn run_reindex_job(&self, mut job: Job) -> Result<(), LifecycleError> {
        let all = TenantScope::All;
        loop {
            let mut q = RecordQuery::all().limit(self.config.batch_size);
            q.after = job.resume_after;
            let rows = self.store.list_records(&q, &all).await?;
            let Some(last) = rows.last().map(|r| r.record_id) else {
                return self.complete(&mut job, "key.reindex.complete").await;
            };
            let mut attempts = 0;
            loop {
                let mut batch = WriteBatch::new();
                let mut n = 0;
                for row in &rows {
                    if let Some(ops) = self.reindex_ops(row).await? {
                        batch.extend(ops);
                        n += 1;
                    }
                }
                match self.store.apply(batch).await {
                    Ok(()) => {
                        job.progress.done += n;
                        break;
                    }
                    // A record was corrected meanwhile: read it again and redo the batch.
                    Err(StoreError::StaleVersion) if attempts < 5 => attempts += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            job.resume_after = Some(last);
            self.save_job(&job).await?;
        }
    }

    /// The operations that rewrite one record's blind-index entries for every live
    /// index-key version, guarded by the record's version (a concurrent correction makes
    /// the batch stale instead of leaving entries of an old value).
    async fn reindex_ops(
        &self,
        listed: &RecordRow,
    ) -> Result<Option<Vec<WriteOp>>, LifecycleError> {
        if !matches!(listed.kind, RecordKind::Examinee | RecordKind::Application) {
            return Ok(None);
        }
        let all = TenantScope::All;
        let Some(row) = self.store.get_record(listed.record_id, &all).await? else {
            return Ok(None);
        };
        let Some(key) = self
            .store
            .get_key(row.subject_id, KeyCompartment::General)
            .await?
        else {
            return Ok(None);
        };
        let dek = match self.keys.unwrap_dek(
            Compartment::General,
            row.subject_id,
            &WrappedDek::from_bytes(&key.wrapped)?,
        ) {
            Ok(d) => d,
            Err(CryptoError::KeyDestroyed { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let indexer = self.keys.blind_indexer();
        let sealed = SealedRecord::decode(&row.sealed)?;
        let open = |name: &'static str| -> Result<Option<FieldValue>, LifecycleError> {
            let Some(def) = schema::field(row.kind, name) else {
                return Ok(None);
            };
            let Some(ct) = sealed.get(name) else {
                return Ok(None);
            };
            let aad = FieldAad {
                record_kind: row.kind,
                record_id: row.record_id,
                field: def.name,
            };
            let plain = AesGcmSealer.open(&dek, &aad, ct)?;
            FieldValue::from_plain_bytes(def.ty, plain.expose_bytes())
                .map(Some)
                .map_err(|_| LifecycleError::Crypto(CryptoError::DecryptionFailed))
        };
        let mut entries: Vec<(&'static str, bool, zeroize::Zeroizing<String>)> = Vec::new();
        match row.kind {
            RecordKind::Examinee => {
                let mut record = Record::new(RecordKind::Examinee);
                for name in ["name_kana", "birth_date"] {
                    if let (Some(def), Some(v)) = (schema::field(row.kind, name), open(name)?) {
                        record.values.insert(def.name, v);
                    }
                }
                if let Some(input) = record.name_kana_birth_date_input() {
                    entries.push((index_names::KANA_BIRTH, false, input));
                }
                if let Some(digits) = self.my_number_digits(row.subject_id).await? {
                    entries.push((index_names::MY_NUMBER, false, digits));
                }
            }
            _ => {
                for (name, index, unique) in [
                    ("exam_number", index_names::EXAM_NUMBER, false),
                    ("application_id", index_names::APPLICATION_ID, true),
                ] {
                    if let Some(FieldValue::Text(v)) = open(name)? {
                        entries.push((
                            index,
                            unique,
                            zeroize::Zeroizing::new(v.as_str().to_owned()),
                        ));
                    }
                }
            }
        }
        let mut ops = vec![WriteOp::UpdateRecord {
            update: RecordUpdate {
                record_id: row.record_id,
                prefecture_code: row.prefecture_code.clone(),
                fiscal_year: row.fiscal_year,
                clock_date: row.clock_date,
                status: row.status.clone(),
                sealed: row.sealed.clone(),
                updated_at: row.updated_at,
            },
            expected_version: row.version,
        }];
        for (index, unique, value) in &entries {
            // The My Number entry of an examinee is keyed by the subject (its record id).
            ops.push(WriteOp::DeleteIndexes {
                record_id: row.record_id,
                field: Some((*index).to_owned()),
            });
            for d in indexer.digest(index, value) {
                ops.push(WriteOp::InsertIndex(IndexRow {
                    field: (*index).to_owned(),
                    key_version: d.version,
                    digest: d.bytes,
                    record_id: row.record_id,
                    subject_id: row.subject_id,
                    prefecture_code: row.prefecture_code.clone(),
                    is_unique: *unique,
                }));
            }
        }
        Ok(Some(ops))
    }

    async fn my_number_digits(
        &self,
        subject_id: Uuid,
    ) -> Result<Option<zeroize::Zeroizing<String>>, LifecycleError> {
        let all = TenantScope::All;
        let Some(mn) = self.store.get_my_number(subject_id, &all).await? else {
            return Ok(None);
        };
        let Some(key) = self
            .store
            .get_key(subject_id, KeyCompartment::MyNumber)
            .await?
        else {
            return Ok(None);
        };
        let dek = match self.keys.unwrap_dek(
            Compartment::MyNumber,
            subject_id,
            &WrappedDek::from_bytes(&key.wrapped)?,
        ) {
            Ok(d) => d,
            Err(CryptoError::KeyDestroyed { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let aad = FieldAad {
            record_kind: RecordKind::Examinee,
            record_id: subject_id,
            field: "my_number",
        };
        let plain = AesGcmSealer.open(&dek, &aad, &mn.sealed)?;
        let text = std::str::from_utf8(plain.expose_bytes())
            .map_err(|_| LifecycleError::Crypto(CryptoError::DecryptionFailed))?;
        Ok(Some(zeroize::Zeroizing::new(text.to_owned())))
    }

    /// Destroys one version of a key (its material is erased from the key file). Refused
    /// for the active version, for a KEK version that still wraps any DEK, and for an
    /// index-key version until re-indexing to a newer version has completed. Audited as
    /// `key.destroy`. Old backups whose DEKs are wrapped under it become unreadable.
    pub async fn destroy_key(
        &self,
        actor: &Actor,
        key_id: &str,
        version: u32,
    ) -> Result<(), LifecycleError> {
        self.authorize(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            Capability::ManageKeys,
            "key.destroy",
        )
        .await?;
        let keyring = self.keys.snapshot();
        let Some(info) = keyring
            .keys()
            .into_iter()
            .find(|k| k.id == key_id && k.version == version)
        else {
            return Err(LifecycleError::NotFound);
        };
        if info.state == KeyState::Active {
            return Err(LifecycleError::InvalidState(format!(
                "key {key_id} version {version} is active; rotate first"
            )));
        }
        if info.state == KeyState::Destroyed {
            return Ok(());
        }
        match info.purpose {
            KeyPurpose::Kek => {
                let in_use = self.deks_at(key_id, version).await?;
                if in_use > 0 {
                    return Err(LifecycleError::KeyInUse {
                        key_id: key_id.to_owned(),
                        version,
                        in_use,
                    });
                }
            }
            KeyPurpose::BlindIndex => {
                let done = self.jobs(false).await?.into_iter().any(|j| {
                    j.progress.key_id == key_id
                        && j.progress.to_version > version
                        && j.progress.state == RotationState::Complete
                });
                if !done {
                    return Err(LifecycleError::InvalidState(format!(
                        "re-indexing from {key_id} version {version} has not completed"
                    )));
                }
            }
        }
        self.audit_event(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            "key.destroy",
            &[],
            &key_fields(key_id, version),
            Outcome::Ok,
        )
        .await?;
        self.keys.destroy(key_id, version)?;
        if info.purpose == KeyPurpose::BlindIndex {
            // Entries of the destroyed version match nothing any more; one more pass of
            // the job removes them.
            let active = self.keys.snapshot().active_version(key_id)?;
            exec(
                &self.backend,
                "UPDATE key_rotations SET state = 'running', resume_after = NULL, \
                 pass = pass + 1, completed_at = NULL WHERE key_id = $1 AND to_version = $2",
                &[t(key_id), i(i64::from(active))],
            )
            .await?;
        }
        Ok(())
    }

    async fn deks_at(&self, key_id: &str, version: u32) -> Result<u64, LifecycleError> {
        Ok(self
            .store
            .count_keys_by_kek()
            .await?
            .iter()
            .filter(|c| c.kek_id == key_id && c.kek_version == version)
            .map(|c| c.count)
            .sum())
    }

    /// Key status for an operator: every version with its state, DEK count, usage and
    /// age, and the rotation jobs. Contains no key material and no personal data.
    pub async fn key_status(&self, actor: &Actor) -> Result<KeyStatus, LifecycleError> {
        self.authorize(
            actor,
            KEY_MANAGEMENT_PURPOSE,
            Capability::ManageKeys,
            "key.status",
        )
        .await?;
        self.flush_usage().await?;
        self.key_status_unaudited().await
    }

    pub(crate) async fn key_status_unaudited(&self) -> Result<KeyStatus, LifecycleError> {
        let keyring = self.keys.snapshot();
        let counts = self.store.count_keys_by_kek().await?;
        let seen = self.versions_first_seen().await?;
        let rotations: Vec<RotationProgress> = self
            .jobs(false)
            .await?
            .into_iter()
            .map(|j| j.progress)
            .collect();
        let now = Utc::now();
        let mut keys = Vec::new();
        for info in keyring.keys() {
            let deks = (info.purpose == KeyPurpose::Kek).then(|| {
                counts
                    .iter()
                    .filter(|c| c.kek_id == info.id && c.kek_version == info.version)
                    .map(|c| c.count)
                    .sum::<u64>()
            });
            let first_seen = seen.get(&(info.id.clone(), info.version)).copied();
            let destroyable = info.state == KeyState::DecryptOnly
                && match info.purpose {
                    KeyPurpose::Kek => deks == Some(0),
                    KeyPurpose::BlindIndex => rotations.iter().any(|r| {
                        r.key_id == info.id
                            && r.to_version > info.version
                            && r.state == RotationState::Complete
                    }),
                };
            keys.push(KeyVersionStatus {
                uses: self.keys.uses(&info.id, info.version),
                purpose: info.purpose.as_str(),
                state: info.state.as_str(),
                version: info.version,
                deks,
                first_seen,
                age_days: first_seen.map(|s| (now - s).num_days()),
                destroyable,
                id: info.id,
            });
        }
        let signer = keyring.audit_signer();
        Ok(KeyStatus {
            keys,
            rotations,
            wrap_limit: self.keys.wrap_limit(),
            audit_key_id: signer.key_id().to_owned(),
            audit_public_key: hex::encode(signer.public_key()),
        })
    }
}

fn key_fields(key_id: &str, version: u32) -> Vec<String> {
    vec![format!("key:{key_id}"), format!("version:{version}")]
}

fn job_cols() -> [Col; 12] {
    [
        Col::Text,
        Col::Int,
        Col::Text,
        Col::Text,
        Col::Int,
        Col::Int,
        Col::Int,
        Col::Text,
        Col::Text,
        Col::Text,
        Col::Text,
        Col::Int,
    ]
}

fn job_from_row(r: &[super::db::Value]) -> Result<Job, LifecycleError> {
    let corrupt = || LifecycleError::Corrupt("key_rotations");
    let int = |n: usize| r[n].int().ok_or_else(corrupt);
    let text = |n: usize| r[n].text().ok_or_else(corrupt);
    Ok(Job {
        progress: RotationProgress {
            key_id: text(0)?.to_owned(),
            to_version: u32::try_from(int(1)?).map_err(|_| corrupt())?,
            kind: text(2)?.to_owned(),
            state: match text(3)? {
                "running" => RotationState::Running,
                "complete" => RotationState::Complete,
                _ => return Err(corrupt()),
            },
            pass: u32::try_from(int(4)?).map_err(|_| corrupt())?,
            done: u64::try_from(int(5)?).map_err(|_| corrupt())?,
            total: u64::try_from(int(6)?).map_err(|_| corrupt())?,
            started_by: text(7)?.to_owned(),
            started_at: parse_time(text(8)?, "key_rotations.started_at")?,
            completed_at: r[9]
                .text()
                .map(|s| parse_time(s, "key_rotations.completed_at"))
                .transpose()?,
        },
        resume_after: r[10]
            .text()
            .map(|s| parse_uuid(s, "key_rotations.resume_after"))
            .transpose()?,
        milestone: int(11)?,
    })
}
