//! The vault facade: the only way personal data enters or leaves vault-core.
//!
//! Every call takes an [`Actor`] (who, with which roles and prefectures) and a
//! purpose. The policy decides the view; the store applies the tenant scope in
//! its queries; the audit event is durable before any plaintext is decrypted;
//! only the fields of the view are ever decrypted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;
use vault_policy::{Action, Decision, DecisionRequest, Policy, RecordKind, TenantScope};

use crate::audit::{AuditError, AuditEvent, AuditLog, Ident, Label, Outcome, Tenant};
use crate::crypto::{
    AesGcmSealer, BlindDigest, Compartment, CryptoError, Dek, FieldAad, FieldSealer, KeyProvider,
    Plaintext, SealedRecord, WrappedDek,
};
use crate::model::schema::{self, Storage};
use crate::model::{
    parse_record, FieldValue, Mode, MyNumber, Record, ValidationError, ValidationErrors,
};
use crate::store::{
    HistoryRow, IndexRow, IndexedRecord, KeyCompartment, KeyRow, MyNumberRow, RecordQuery,
    RecordRow, RecordUpdate, Store, StoreError, SubjectKind, SubjectRow, WriteBatch, WriteOp,
};

/// Who is calling: an account (person or system) with its roles and prefectures.
#[derive(Clone, Debug)]
pub struct Actor {
    /// Account id.
    pub id: String,
    /// Roles of the account (names from the policy).
    pub roles: Vec<String>,
    /// Prefectures the account may see.
    pub tenants: TenantScope,
    /// Id of the token used, for impact reports.
    pub token_id: Option<String>,
    /// Request id, echoed to the caller and written to the audit.
    pub request_id: String,
    /// Source address of the request.
    pub source: Option<std::net::IpAddr>,
}

/// Errors of the facade. None carries a personal value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The role may not state the purpose, or the view does not grant the action.
    #[error("forbidden")]
    Forbidden,
    /// No such record in the caller's prefectures.
    #[error("not found")]
    NotFound,
    /// The input failed validation; lists field names and codes only.
    #[error("validation failed")]
    Invalid(ValidationErrors),
    /// A unique value already exists (for example a duplicate application id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The audit event could not be made durable: no data is returned.
    #[error("audit log unavailable")]
    AuditUnavailable,
    /// A key or ciphertext problem; details stay in the logs of the operator.
    #[error("cryptographic failure")]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error("store failure: {0}")]
    Store(StoreError),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => VaultError::Conflict(what),
            other => VaultError::Store(other),
        }
    }
}

impl From<AuditError> for VaultError {
    fn from(_: AuditError) -> Self {
        VaultError::AuditUnavailable
    }
}

/// The fields of one record that a view let out, ready to be serialised by the server.
///
/// Holds plaintext: no `Debug` of values, only of field names.
pub struct RecordView {
    /// The record kind.
    pub kind: RecordKind,
    /// The record's id as the API names it.
    pub id: String,
    /// Field name -> value, only the fields the view allows.
    pub fields: Map<String, Value>,
}

impl fmt::Debug for RecordView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordView")
            .field("kind", &self.kind)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A revealed My Number; only the reveal call produces one.
pub struct RevealedMyNumber(MyNumber);

impl fmt::Debug for RevealedMyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RevealedMyNumber(<redacted>)")
    }
}

impl RevealedMyNumber {
    /// The 12 digits, for the one response that returns them.
    pub fn expose_digits(&self) -> &str {
        self.0.expose_digits()
    }
}

/// An exact-match examinee search (one of the blind-indexed keys).
#[derive(Clone)]
pub enum ExamineeSearch {
    /// 受検番号.
    ExamNumber(String),
    /// 申請受付ID.
    ApplicationId(String),
    /// ふりがな + 生年月日.
    KanaAndBirthDate {
        /// Katakana name.
        name_kana: String,
        /// Birth date (ISO or 和暦).
        birth_date: String,
    },
}

impl fmt::Debug for ExamineeSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExamineeSearch::ExamNumber(_) => "ExamineeSearch::ExamNumber(..)",
            ExamineeSearch::ApplicationId(_) => "ExamineeSearch::ApplicationId(..)",
            ExamineeSearch::KanaAndBirthDate { .. } => "ExamineeSearch::KanaAndBirthDate(..)",
        })
    }
}

/// A subject's data key with the field sealer, for sealing and opening many fields.
struct Cipher<'a> {
    dek: &'a Dek,
}

impl<'a> Cipher<'a> {
    fn new(dek: &'a Dek) -> Cipher<'a> {
        Cipher { dek }
    }

    fn seal(&self, aad: &FieldAad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        AesGcmSealer.seal(self.dek, aad, plaintext)
    }

    fn open(&self, aad: &FieldAad<'_>, sealed: &[u8]) -> Result<Plaintext, CryptoError> {
        AesGcmSealer.open(self.dek, aad, sealed)
    }
}

/// Blind index names: one per indexed field, plus the composite kana + birth date key.
pub(crate) mod index_names {
    pub(crate) const EXAM_NUMBER: &str = "exam_number";
    pub(crate) const APPLICATION_ID: &str = "application_id";
    pub(crate) const MY_NUMBER: &str = "my_number";
    pub(crate) const KANA_BIRTH: &str = "name_kana+birth_date";
}

/// The facade over store, keys, policy and audit.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    policy: Arc<Policy>,
    audit: AuditLog,
}

/// Input of an audit event that the facade fills in from the call.
struct EventSpec<'a> {
    action: &'a str,
    purpose: &'a str,
    tenant: Option<String>,
    subjects: Vec<Uuid>,
    fields: Vec<String>,
    outcome: Outcome,
}

impl Vault {
    /// Builds the facade.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyProvider>,
        policy: Arc<Policy>,
        audit: AuditLog,
    ) -> Vault {
        Vault {
            store,
            keys,
            policy,
            audit,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The store (for administrative components such as retention and rotation).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    // ----- audit helpers -------------------------------------------------------------

    /// Appends an event for this call and waits until it is durable.
    async fn record(&self, actor: &Actor, spec: EventSpec<'_>) -> Result<u64, VaultError> {
        let actor_ident = Ident::parse("actor", &actor.id).unwrap_or_else(|_| Ident::anonymous());
        let action =
            Label::parse("action", spec.action).map_err(|_| VaultError::AuditUnavailable)?;
        let mut event = AuditEvent::new(actor_ident, action, spec.outcome);
        // The role recorded is the first of the actor's roles that may state the purpose.
        let role = actor
            .roles
            .iter()
            .find(|r| {
                self.policy
                    .may_state_purpose(std::slice::from_ref(*r), spec.purpose)
            })
            .or(actor.roles.first());
        if let Some(role) = role.and_then(|r| Label::parse("role", r).ok()) {
            event = event.role(role);
        }
        if let Ok(purpose) = Label::parse("purpose", spec.purpose) {
            event = event.purpose(purpose);
        }
        if let Some(tenant) = spec.tenant.as_deref().and_then(|t| Tenant::parse(t).ok()) {
            event = event.tenant(tenant);
        }
        event = event.subjects(spec.subjects);
        event = event.fields(
            spec.fields
                .iter()
                .filter_map(|f| Label::parse("field", f).ok()),
        );
        if let Ok(id) = Ident::parse("request_id", &actor.request_id) {
            event = event.request_id(id);
        }
        if let Some(addr) = actor.source {
            event = event.source(addr);
        }
        if let Some(token) = actor
            .token_id
            .as_deref()
            .and_then(|t| Ident::parse("token_id", t).ok())
        {
            event = event.token_id(token);
        }
        Ok(self.audit.append(event).await?)
    }

    /// Records a refusal and returns the error to give the caller.
    async fn refuse(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        subjects: Vec<Uuid>,
        error: VaultError,
    ) -> VaultError {
        let outcome = match &error {
            VaultError::Forbidden => Outcome::Denied,
            VaultError::NotFound => Outcome::NotFound,
            VaultError::Invalid(_) | VaultError::Conflict(_) => Outcome::Invalid,
            _ => Outcome::Error,
        };
        let spec = EventSpec {
            action,
            purpose,
            tenant: None,
            subjects,
            fields: Vec::new(),
            outcome,
        };
        match self.record(actor, spec).await {
            Ok(_) => error,
            Err(_) => VaultError::AuditUnavailable,
        }
    }

    // ----- policy helpers ------------------------------------------------------------

    fn decide(
        &self,
        actor: &Actor,
        purpose: &str,
        action: Action,
        kind: RecordKind,
        record_tenant: Option<&str>,
        suspended: bool,
    ) -> Decision {
        let req = DecisionRequest {
            roles: &actor.roles,
            tenants: &actor.tenants,
            purpose,
            action,
            kind,
            record_tenant,
            suspended,
        };
        self.policy.decide(&req, schema::catalog())
    }

    /// Decides and turns a refusal into an audited error.
    #[allow(clippy::too_many_arguments)]
    async fn permit(
        &self,
        actor: &Actor,
        purpose: &str,
        action: Action,
        kind: RecordKind,
        record_tenant: Option<&str>,
        suspended: bool,
        subjects: &[Uuid],
    ) -> Result<BTreeSet<&'static str>, VaultError> {
        match self.decide(actor, purpose, action, kind, record_tenant, suspended) {
            Decision::Permit(view) => Ok(view.fields().collect()),
            Decision::NotFound => Err(self
                .refuse(
                    actor,
                    purpose,
                    action_name(action, kind),
                    subjects.to_vec(),
                    VaultError::NotFound,
                )
                .await),
            Decision::Forbidden(_) => Err(self
                .refuse(
                    actor,
                    purpose,
                    action_name(action, kind),
                    subjects.to_vec(),
                    VaultError::Forbidden,
                )
                .await),
        }
    }

    /// Fails with an audited 403 unless some role of the actor may state the purpose.
    pub(crate) async fn require_purpose(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
    ) -> Result<(), VaultError> {
        if self.policy.may_state_purpose(&actor.roles, purpose) {
            Ok(())
        } else {
            Err(self
                .refuse(actor, purpose, action, Vec::new(), VaultError::Forbidden)
                .await)
        }
    }

    /// The fields the actor may write when creating a record of `kind` in `prefecture`
    /// (of a subject that is not suspended), or why not. No audit: bulk import reports
    /// refusals per line and audits per batch.
    pub(crate) fn create_view(
        &self,
        actor: &Actor,
        purpose: &str,
        kind: RecordKind,
        prefecture: &str,
    ) -> Result<BTreeSet<&'static str>, VaultError> {
        if !actor.tenants.contains(prefecture) {
            return Err(VaultError::NotFound);
        }
        match self.decide(
            actor,
            purpose,
            Action::Create,
            kind,
            Some(prefecture),
            false,
        ) {
            Decision::Permit(view) => Ok(view.fields().collect()),
            Decision::NotFound => Err(VaultError::NotFound),
            Decision::Forbidden(_) => Err(VaultError::Forbidden),
        }
    }

    /// Appends one audit event of a bulk operation (many subjects, field names only) and
    /// waits until it is durable.
    pub(crate) async fn audit_bulk(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        subjects: Vec<Uuid>,
        fields: Vec<String>,
        outcome: Outcome,
    ) -> Result<u64, VaultError> {
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: None,
                subjects,
                fields,
                outcome,
            },
        )
        .await
    }

    // ----- crypto helpers ------------------------------------------------------------

    fn new_subject_keys(
        &self,
        subject_id: Uuid,
        compartment: Compartment,
    ) -> Result<(Dek, KeyRow), VaultError> {
        let dek = Dek::generate()?;
        let wrapped = self.keys.wrap_dek(compartment, subject_id, &dek)?;
        let row = KeyRow {
            subject_id,
            compartment: key_compartment(compartment),
            kek_id: wrapped.kek_id().to_owned(),
            kek_version: wrapped.kek_version(),
            wrapped: wrapped.as_bytes().to_vec(),
        };
        Ok((dek, row))
    }

    async fn subject_dek(
        &self,
        subject_id: Uuid,
        compartment: Compartment,
    ) -> Result<Dek, VaultError> {
        let row = self
            .store
            .get_key(subject_id, key_compartment(compartment))
            .await?;
        self.dek_of(subject_id, compartment, row)
    }

    /// Unwraps a subject's key row as read from the store.
    fn dek_of(
        &self,
        subject_id: Uuid,
        compartment: Compartment,
        row: Option<KeyRow>,
    ) -> Result<Dek, VaultError> {
        // A subject whose key is gone has been shredded: its data no longer exists.
        let row = row.ok_or(VaultError::NotFound)?;
        let wrapped = WrappedDek::from_bytes(&row.wrapped)?;
        Ok(self.keys.unwrap_dek(compartment, subject_id, &wrapped)?)
    }

    fn seal_values(
        &self,
        cipher: &Cipher<'_>,
        kind: RecordKind,
        record_id: Uuid,
        values: &BTreeMap<&'static str, FieldValue>,
        into: &mut SealedRecord,
    ) -> Result<(), VaultError> {
        for (name, value) in values {
            let Some(def) = schema::field(kind, name) else {
                continue;
            };
            // Plain columns mirror a few values for filtering; the sealed copy is the
            // one that is read back, so every field except My Number is sealed.
            if def.storage == Storage::MyNumberCompartment {
                continue;
            }
            let aad = FieldAad {
                record_kind: kind,
                record_id,
                field: name,
            };
            let plain = value.to_plain_bytes();
            into.insert(name, cipher.seal(&aad, &plain)?)?;
        }
        Ok(())
    }

    fn open_fields(
        &self,
        cipher: &Cipher<'_>,
        row: &RecordRow,
        view: &BTreeSet<&'static str>,
        out: &mut Map<String, Value>,
    ) -> Result<(), VaultError> {
        let kind = row.kind;
        let sealed = SealedRecord::decode(&row.sealed)?;
        for (name, ct) in sealed.iter() {
            let Some(def) = schema::field(kind, name) else {
                continue;
            };
            // Fields outside the view are never decrypted.
            if !view.contains(def.name) {
                continue;
            }
            let aad = FieldAad {
                record_kind: kind,
                record_id: row.record_id,
                field: def.name,
            };
            let plain = cipher.open(&aad, ct)?;
            let value = FieldValue::from_plain_bytes(def.ty, plain.expose_bytes())
                .map_err(|_| VaultError::Crypto(CryptoError::DecryptionFailed))?;
            out.insert(def.name.to_owned(), value.to_json());
        }
        Ok(())
    }

    /// Decrypts some fields of a row into values (for recomputing blind indexes).
    fn decrypt_values(
        &self,
        cipher: &Cipher<'_>,
        row: &RecordRow,
        names: &BTreeSet<&'static str>,
    ) -> Result<BTreeMap<&'static str, FieldValue>, VaultError> {
        let sealed = SealedRecord::decode(&row.sealed)?;
        let mut out = BTreeMap::new();
        for name in names {
            let (Some(def), Some(ct)) = (schema::field(row.kind, name), sealed.get(name)) else {
                continue;
            };
            let aad = FieldAad {
                record_kind: row.kind,
                record_id: row.record_id,
                field: def.name,
            };
            let plain = cipher.open(&aad, ct)?;
            let value = FieldValue::from_plain_bytes(def.ty, plain.expose_bytes())
                .map_err(|_| VaultError::Crypto(CryptoError::DecryptionFailed))?;
            out.insert(def.name, value);
        }
        Ok(out)
    }

    fn digests(&self, index: &str, value: &str) -> Vec<BlindDigest> {
        self.keys.blind_indexer().digest(index, value)
    }

    fn index_rows(
        &self,
        index: &str,
        value: &str,
        unique: bool,
        record_id: Uuid,
        subject_id: Uuid,
        prefecture: &str,
    ) -> Vec<IndexRow> {
        self.keys
            .blind_indexer()
            .digest(index, value)
            .into_iter()
            .map(|d| IndexRow {
                field: index.to_owned(),
                key_version: d.version,
                digest: d.bytes,
                record_id,
                subject_id,
                prefecture_code: prefecture.to_owned(),
                is_unique: unique,
            })
            .collect()
    }

    // ----- examinees -----------------------------------------------------------------

    /// Registers an examinee (受検者) and, when given, their My Number in its compartment.
    pub async fn register_examinee(
        &self,
        actor: &Actor,
        purpose: &str,
        body: &Value,
    ) -> Result<Uuid, VaultError> {
        self.register_subject(actor, purpose, RecordKind::Examinee, body)
            .await
    }

    /// Registers a meister (ものづくりマイスター).
    pub async fn register_meister(
        &self,
        actor: &Actor,
        purpose: &str,
        body: &Value,
    ) -> Result<Uuid, VaultError> {
        self.register_subject(actor, purpose, RecordKind::Meister, body)
            .await
    }

    async fn register_subject(
        &self,
        actor: &Actor,
        purpose: &str,
        kind: RecordKind,
        body: &Value,
    ) -> Result<Uuid, VaultError> {
        let action = action_name(Action::Create, kind);
        self.require_purpose(actor, purpose, action).await?;
        let record = match parse_record(kind, body, Mode::Create) {
            Ok(r) => r,
            Err(errs) => {
                return Err(self
                    .refuse(actor, purpose, action, vec![], VaultError::Invalid(errs))
                    .await)
            }
        };
        let prefecture = plain_text(&record, "prefecture_code").unwrap_or_default();
        let view = self
            .permit(
                actor,
                purpose,
                Action::Create,
                kind,
                Some(&prefecture),
                false,
                &[],
            )
            .await?;
        self.check_writable(actor, purpose, action, &record, &view)
            .await?;

        let subject_id = crate::store::new_id();
        let (batch, fields) = self.subject_batch(subject_id, &record, &prefecture)?;
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(prefecture.clone()),
                subjects: vec![subject_id],
                fields,
                outcome: Outcome::Ok,
            },
        )
        .await?;
        self.apply_audited(actor, purpose, action, subject_id, batch)
            .await?;
        Ok(subject_id)
    }

    /// Builds the write batch for a new subject (see [`Vault::subject_ops`]).
    pub(crate) fn subject_batch(
        &self,
        subject_id: Uuid,
        record: &Record,
        prefecture: &str,
    ) -> Result<(WriteBatch, Vec<String>), VaultError> {
        let (_dek, ops) = self.subject_ops(subject_id, record, prefecture)?;
        let fields = record.values.keys().map(|k| (*k).to_owned()).collect();
        Ok((batch_of(ops), fields))
    }

    /// The operations that create a subject: its subject row, wrapped data keys, its own
    /// sealed record, its blind indexes and (examinees) the My Number compartment row.
    /// Also answers the subject's new general data key, which seals its child records.
    ///
    /// The one implementation of subject sealing and indexing: registration and bulk
    /// import both build their writes here.
    pub(crate) fn subject_ops(
        &self,
        subject_id: Uuid,
        record: &Record,
        prefecture: &str,
    ) -> Result<(Dek, Vec<WriteOp>), VaultError> {
        let kind = record.kind;
        let now = Utc::now();
        let (dek, key_row) = self.new_subject_keys(subject_id, Compartment::General)?;
        let cipher = Cipher::new(&dek);
        let mut sealed = SealedRecord::new();
        self.seal_values(&cipher, kind, subject_id, &record.values, &mut sealed)?;
        let mut ops = vec![
            WriteOp::InsertSubject(SubjectRow {
                subject_id,
                kind: if kind == RecordKind::Meister {
                    SubjectKind::Meister
                } else {
                    SubjectKind::Examinee
                },
                prefecture_code: prefecture.to_owned(),
                status: plain_text(record, "status").unwrap_or_else(|| "active".to_owned()),
                suspended: false,
                created_at: now,
                updated_at: now,
            }),
            WriteOp::UpsertKey(key_row),
            WriteOp::InsertRecord(RecordRow {
                record_id: subject_id,
                kind,
                subject_id,
                parent_id: None,
                prefecture_code: prefecture.to_owned(),
                fiscal_year: None,
                clock_date: clock_date(record),
                status: plain_text(record, "status"),
                version: 1,
                sealed: sealed.encode(),
                created_at: now,
                updated_at: now,
            }),
        ];
        if kind == RecordKind::Examinee {
            if let Some(key) = record.name_kana_birth_date_input() {
                for row in self.index_rows(
                    index_names::KANA_BIRTH,
                    &key,
                    false,
                    subject_id,
                    subject_id,
                    prefecture,
                ) {
                    ops.push(WriteOp::InsertIndex(row));
                }
            }
            if let Some(FieldValue::Text(number)) = record.values.get("my_number") {
                let (mn_dek, mn_key) = self.new_subject_keys(subject_id, Compartment::MyNumber)?;
                let mn_cipher = Cipher::new(&mn_dek);
                let aad = FieldAad {
                    record_kind: RecordKind::Examinee,
                    record_id: subject_id,
                    field: "my_number",
                };
                let ct = mn_cipher.seal(&aad, number.as_str().as_bytes())?;
                ops.push(WriteOp::UpsertKey(mn_key));
                ops.push(WriteOp::InsertMyNumber(MyNumberRow {
                    subject_id,
                    sealed: ct,
                    clock_date: None,
                    created_at: now,
                }));
                for row in self.index_rows(
                    index_names::MY_NUMBER,
                    number.as_str(),
                    false,
                    subject_id,
                    subject_id,
                    prefecture,
                ) {
                    ops.push(WriteOp::InsertIndex(row));
                }
            }
        }
        Ok((dek, ops))
    }

    /// The operations that create a child record (application, result, qualification,
    /// meister activity) of `subject_id`, sealed under the subject's general `dek`, with
    /// its blind indexes. `api_id` is the id the API answers (an application's
    /// application id, see [`assign_application_id`]).
    ///
    /// The one implementation of child sealing and indexing: the record calls and bulk
    /// import both build their writes here.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn child_ops(
        &self,
        dek: &Dek,
        record: &Record,
        record_id: Uuid,
        subject_id: Uuid,
        parent_id: Option<Uuid>,
        prefecture: &str,
        api_id: &str,
    ) -> Result<Vec<WriteOp>, VaultError> {
        let kind = record.kind;
        let cipher = Cipher::new(dek);
        let mut sealed = SealedRecord::new();
        self.seal_values(&cipher, kind, record_id, &record.values, &mut sealed)?;
        let now = Utc::now();
        let mut ops = vec![WriteOp::InsertRecord(RecordRow {
            record_id,
            kind,
            subject_id,
            parent_id,
            prefecture_code: prefecture.to_owned(),
            fiscal_year: plain_int(record, "fiscal_year").map(|y| y as i32),
            clock_date: clock_date(record),
            status: plain_text(record, "status"),
            version: 1,
            sealed: sealed.encode(),
            created_at: now,
            updated_at: now,
        })];
        if kind == RecordKind::Application {
            if let Some(FieldValue::Text(v)) = record.values.get("exam_number") {
                ops.extend(
                    self.index_rows(
                        index_names::EXAM_NUMBER,
                        v.as_str(),
                        false,
                        record_id,
                        subject_id,
                        prefecture,
                    )
                    .into_iter()
                    .map(WriteOp::InsertIndex),
                );
            }
            ops.extend(
                self.index_rows(
                    index_names::APPLICATION_ID,
                    api_id,
                    true,
                    record_id,
                    subject_id,
                    prefecture,
                )
                .into_iter()
                .map(WriteOp::InsertIndex),
            );
        }
        Ok(ops)
    }

    /// Applies a batch whose intent is already in the audit; a failure is audited too.
    async fn apply_audited(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        subject_id: Uuid,
        batch: WriteBatch,
    ) -> Result<(), VaultError> {
        if let Err(e) = self.store.apply(batch).await {
            let err = VaultError::from(e);
            return Err(self
                .refuse(actor, purpose, action, vec![subject_id], err)
                .await);
        }
        Ok(())
    }

    /// Refuses a write that carries a field outside the view.
    async fn check_writable(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        record: &Record,
        view: &BTreeSet<&'static str>,
    ) -> Result<(), VaultError> {
        if fields_outside_view(record, view).is_empty() {
            Ok(())
        } else {
            Err(self
                .refuse(actor, purpose, action, vec![], VaultError::Forbidden)
                .await)
        }
    }

    /// Reads an examinee in the caller's view, with the ids of their applications.
    pub async fn read_examinee(
        &self,
        actor: &Actor,
        purpose: &str,
        id: Uuid,
    ) -> Result<RecordView, VaultError> {
        let mut view = self
            .read_subject(actor, purpose, RecordKind::Examinee, id)
            .await?;
        // Application ids the caller may see: only in the caller's prefectures.
        let apps = self
            .store
            .list_records(
                &kind_query(RecordQuery::of_subject(id), RecordKind::Application),
                &actor.tenants,
            )
            .await?;
        let app_view = match self.decide(
            actor,
            purpose,
            Action::Read,
            RecordKind::Application,
            None,
            false,
        ) {
            Decision::Permit(v) => v.fields().collect::<BTreeSet<_>>(),
            _ => BTreeSet::new(),
        };
        if app_view.contains("application_id") {
            let mut ids = Vec::new();
            if !apps.is_empty() {
                let dek = self.subject_dek(id, Compartment::General).await?;
                let cipher = Cipher::new(&dek);
                let only_id: BTreeSet<&'static str> = ["application_id"].into_iter().collect();
                for row in &apps {
                    let mut m = Map::new();
                    self.open_fields(&cipher, row, &only_id, &mut m)?;
                    if let Some(v) = m.remove("application_id") {
                        ids.push(v);
                    }
                }
            }
            view.fields.insert("applications".into(), Value::Array(ids));
        }
        Ok(view)
    }

    /// Reads a meister in the caller's view.
    pub async fn read_meister(
        &self,
        actor: &Actor,
        purpose: &str,
        id: Uuid,
    ) -> Result<RecordView, VaultError> {
        self.read_subject(actor, purpose, RecordKind::Meister, id)
            .await
    }

    async fn read_subject(
        &self,
        actor: &Actor,
        purpose: &str,
        kind: RecordKind,
        id: Uuid,
    ) -> Result<RecordView, VaultError> {
        let action = action_name(Action::Read, kind);
        self.require_purpose(actor, purpose, action).await?;
        let (row, view) = self
            .subject_record_view(actor, purpose, action, Action::Read, kind, id)
            .await?;
        self.reveal_record(actor, purpose, action, &row, &view, id.to_string())
            .await
    }

    /// A subject's own record of `kind` inside the caller's prefectures, and the view the
    /// policy grants for `act` on it; a missing, other-kind or out-of-scope record is an
    /// audited not-found, a refused view an audited refusal.
    async fn subject_record_view(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        act: Action,
        kind: RecordKind,
        id: Uuid,
    ) -> Result<(RecordRow, BTreeSet<&'static str>), VaultError> {
        let subjects = vec![id];
        let row = match self.store.get_record(id, &actor.tenants).await? {
            Some(row) if row.kind == kind => row,
            _ => {
                return Err(self
                    .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                    .await)
            }
        };
        let suspended = self.is_suspended(id, &actor.tenants).await?;
        let view = self
            .permit(
                actor,
                purpose,
                act,
                kind,
                Some(&row.prefecture_code),
                suspended,
                &subjects,
            )
            .await?;
        Ok((row, view))
    }

    async fn is_suspended(
        &self,
        subject_id: Uuid,
        scope: &TenantScope,
    ) -> Result<bool, VaultError> {
        Ok(self
            .store
            .get_subject(subject_id, scope)
            .await?
            .map(|s| s.suspended)
            .unwrap_or(false))
    }

    /// Audits, then decrypts the view of one record.
    async fn reveal_record(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        row: &RecordRow,
        view: &BTreeSet<&'static str>,
        api_id: String,
    ) -> Result<RecordView, VaultError> {
        self.reveal_record_keyed(actor, purpose, action, row, view, api_id, None)
            .await
    }

    /// [`Vault::reveal_record`] with the subject's general key row already read
    /// (`Some(None)`: read, and gone) or to be read (`None`).
    #[allow(clippy::too_many_arguments)]
    async fn reveal_record_keyed(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        row: &RecordRow,
        view: &BTreeSet<&'static str>,
        api_id: String,
        key_row: Option<Option<KeyRow>>,
    ) -> Result<RecordView, VaultError> {
        let kind = row.kind;
        let (fields, plain) = view_fields(row, view)?;
        // The event is durable before any plaintext exists.
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(row.prefecture_code.clone()),
                subjects: vec![row.subject_id],
                fields,
                outcome: Outcome::Ok,
            },
        )
        .await?;
        let dek = match key_row {
            Some(key_row) => self.dek_of(row.subject_id, Compartment::General, key_row)?,
            None => {
                self.subject_dek(row.subject_id, Compartment::General)
                    .await?
            }
        };
        let cipher = Cipher::new(&dek);
        let mut out = Map::new();
        self.open_fields(&cipher, row, view, &mut out)?;
        out.extend(plain);
        Ok(RecordView {
            kind,
            id: api_id,
            fields: out,
        })
    }

    /// Corrects (訂正) a subject's record; the old values stay, encrypted, as history.
    pub async fn correct_subject(
        &self,
        actor: &Actor,
        purpose: &str,
        kind: RecordKind,
        id: Uuid,
        body: &Value,
    ) -> Result<(), VaultError> {
        let action = action_name(Action::Update, kind);
        self.require_purpose(actor, purpose, action).await?;
        let subjects = vec![id];
        let (changes, reason) = split_reason(body);
        let record = match parse_record(kind, &changes, Mode::Patch) {
            Ok(r) => r,
            Err(errs) => {
                return Err(self
                    .refuse(actor, purpose, action, subjects, VaultError::Invalid(errs))
                    .await)
            }
        };
        let (row, view) = self
            .subject_record_view(actor, purpose, action, Action::Update, kind, id)
            .await?;
        self.check_writable(actor, purpose, action, &record, &view)
            .await?;
        if record.values.contains_key("prefecture_code") || record.values.contains_key("my_number")
        {
            // Moving a subject between tenants or replacing the My Number is not a correction.
            let errs = ValidationErrors(vec![ValidationError {
                field: if record.values.contains_key("my_number") {
                    "my_number"
                } else {
                    "prefecture_code"
                }
                .to_owned(),
                code: "not_correctable",
            }]);
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::Invalid(errs))
                .await);
        }
        self.update_record(actor, purpose, action, &row, &record, reason.as_deref())
            .await
    }

    async fn update_record(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        row: &RecordRow,
        record: &Record,
        reason: Option<&str>,
    ) -> Result<(), VaultError> {
        let kind = row.kind;
        let dek = self
            .subject_dek(row.subject_id, Compartment::General)
            .await?;
        let cipher = Cipher::new(&dek);
        let mut sealed = SealedRecord::decode(&row.sealed)?;
        let mut history = SealedRecord::new();
        // Keep the replaced ciphertexts as they are: history needs no re-encryption.
        for name in record.values.keys() {
            if let Some(old) = sealed.get(name) {
                history.insert(name, old.to_vec())?;
            }
        }
        if let Some(reason) = reason {
            let aad = FieldAad {
                record_kind: kind,
                record_id: row.record_id,
                field: "correction_reason",
            };
            history.insert("correction_reason", cipher.seal(&aad, reason.as_bytes())?)?;
        }
        self.seal_values(&cipher, kind, row.record_id, &record.values, &mut sealed)?;
        let now = Utc::now();
        let mut new_row = row.clone();
        new_row.version = row.version + 1;
        new_row.sealed = sealed.encode();
        new_row.updated_at = now;
        if let Some(status) = plain_text(record, "status") {
            new_row.status = Some(status);
        }
        if let Some(d) = clock_date(record) {
            new_row.clock_date = Some(d);
        }
        let mut ops = vec![
            WriteOp::InsertHistory(HistoryRow {
                record_id: row.record_id,
                version: row.version,
                changed_at: now,
                actor_id: actor.id.clone(),
                sealed: history.encode(),
            }),
            WriteOp::UpdateRecord {
                update: RecordUpdate {
                    record_id: new_row.record_id,
                    prefecture_code: new_row.prefecture_code.clone(),
                    fiscal_year: new_row.fiscal_year,
                    clock_date: new_row.clock_date,
                    status: new_row.status.clone(),
                    sealed: new_row.sealed,
                    updated_at: now,
                },
                expected_version: row.version,
            },
        ];
        // Keep the blind indexes in step with corrected values.
        if kind == RecordKind::Examinee
            && (record.values.contains_key("name_kana") || record.values.contains_key("birth_date"))
        {
            let wanted: BTreeSet<&'static str> = ["name_kana", "birth_date"].into_iter().collect();
            let mut merged = Record::new(kind);
            merged.values = self.decrypt_values(&cipher, row, &wanted)?;
            for name in wanted {
                if let Some(v) = record.values.get(name) {
                    merged.values.insert(name, v.clone());
                }
            }
            ops.push(WriteOp::DeleteIndexes {
                record_id: row.record_id,
                field: Some(index_names::KANA_BIRTH.to_owned()),
            });
            if let Some(key) = merged.name_kana_birth_date_input() {
                ops.extend(
                    self.index_rows(
                        index_names::KANA_BIRTH,
                        &key,
                        false,
                        row.record_id,
                        row.subject_id,
                        &row.prefecture_code,
                    )
                    .into_iter()
                    .map(WriteOp::InsertIndex),
                );
            }
        }
        for (name, index) in [
            ("exam_number", index_names::EXAM_NUMBER),
            ("application_id", index_names::APPLICATION_ID),
        ] {
            if kind == RecordKind::Application {
                if let Some(FieldValue::Text(v)) = record.values.get(name) {
                    ops.push(WriteOp::DeleteIndexes {
                        record_id: row.record_id,
                        field: Some(index.to_owned()),
                    });
                    let unique = name == "application_id";
                    ops.extend(
                        self.index_rows(
                            index,
                            v.as_str(),
                            unique,
                            row.record_id,
                            row.subject_id,
                            &row.prefecture_code,
                        )
                        .into_iter()
                        .map(WriteOp::InsertIndex),
                    );
                }
            }
        }
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(row.prefecture_code.clone()),
                subjects: vec![row.subject_id],
                fields: record.values.keys().map(|k| (*k).to_owned()).collect(),
                outcome: Outcome::Ok,
            },
        )
        .await?;
        self.apply_audited(actor, purpose, action, row.subject_id, batch_of(ops))
            .await
    }

    /// Exact-match search; answers examinee ids within the caller's prefectures.
    pub async fn search_examinees(
        &self,
        actor: &Actor,
        purpose: &str,
        query: &ExamineeSearch,
    ) -> Result<Vec<Uuid>, VaultError> {
        let action = "examinee.search";
        self.require_purpose(actor, purpose, action).await?;
        let (index, key, field_names) = match query {
            ExamineeSearch::ExamNumber(v) => (
                index_names::EXAM_NUMBER,
                validate_identifier("exam_number", v)?,
                vec!["exam_number"],
            ),
            ExamineeSearch::ApplicationId(v) => (
                index_names::APPLICATION_ID,
                validate_identifier("application_id", v)?,
                vec!["application_id"],
            ),
            ExamineeSearch::KanaAndBirthDate {
                name_kana,
                birth_date,
            } => {
                let probe = serde_json::json!({"name_kana": name_kana, "birth_date": birth_date});
                let rec = parse_record(RecordKind::Examinee, &probe, Mode::Patch)
                    .map_err(VaultError::Invalid)?;
                let Some(key) = rec.name_kana_birth_date_input() else {
                    return Err(VaultError::Invalid(ValidationErrors(vec![
                        ValidationError {
                            field: "name_kana".into(),
                            code: "required",
                        },
                    ])));
                };
                (
                    index_names::KANA_BIRTH,
                    key.to_string(),
                    vec!["name_kana", "birth_date"],
                )
            }
        };
        let kind = if index == index_names::KANA_BIRTH {
            RecordKind::Examinee
        } else {
            RecordKind::Application
        };
        self.permit(actor, purpose, Action::Search, kind, None, false, &[])
            .await?;
        let digests = self.digests(index, &key);
        let keys: Vec<(u32, [u8; 32])> = digests.iter().map(|d| (d.version, d.bytes)).collect();
        let hits = self
            .store
            .find_by_index(index, &keys, &actor.tenants, 1000)
            .await?;
        let mut ids: Vec<Uuid> = hits.into_iter().map(|h| h.subject_id).collect();
        ids.sort();
        ids.dedup();
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: None,
                subjects: ids.clone(),
                fields: field_names.into_iter().map(str::to_owned).collect(),
                outcome: if ids.is_empty() {
                    Outcome::NotFound
                } else {
                    Outcome::Ok
                },
            },
        )
        .await?;
        Ok(ids)
    }

    /// Finds the examinee with a My Number; the number itself never leaves.
    pub async fn resolve_my_number(
        &self,
        actor: &Actor,
        purpose: &str,
        my_number: &str,
    ) -> Result<Uuid, VaultError> {
        let action = "identity.resolve";
        self.require_purpose(actor, purpose, action).await?;
        let number = match MyNumber::parse(my_number) {
            Ok(n) => n,
            Err(e) => {
                let errs = ValidationErrors(vec![ValidationError {
                    field: "my_number".into(),
                    code: e.code(),
                }]);
                return Err(self
                    .refuse(actor, purpose, action, vec![], VaultError::Invalid(errs))
                    .await);
            }
        };
        self.permit(
            actor,
            purpose,
            Action::Resolve,
            RecordKind::Examinee,
            None,
            false,
            &[],
        )
        .await?;
        let keys: Vec<(u32, [u8; 32])> = self
            .digests(index_names::MY_NUMBER, number.expose_digits())
            .iter()
            .map(|d| (d.version, d.bytes))
            .collect();
        let hits = self
            .store
            .find_by_index(index_names::MY_NUMBER, &keys, &actor.tenants, 2)
            .await?;
        let Some(hit) = hits.first() else {
            return Err(self
                .refuse(actor, purpose, action, vec![], VaultError::NotFound)
                .await);
        };
        let id = hit.subject_id;
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: None,
                subjects: vec![id],
                fields: vec!["my_number".into()],
                outcome: Outcome::Ok,
            },
        )
        .await?;
        Ok(id)
    }

    /// Reveals the My Number of an examinee to a role and purpose the policy allows.
    pub async fn reveal_my_number(
        &self,
        actor: &Actor,
        purpose: &str,
        id: Uuid,
    ) -> Result<RevealedMyNumber, VaultError> {
        let action = "identity.reveal";
        self.require_purpose(actor, purpose, action).await?;
        let subjects = vec![id];
        let Some(subject) = self.store.get_subject(id, &actor.tenants).await? else {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        };
        if subject.kind != SubjectKind::Examinee {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        }
        let view = self
            .permit(
                actor,
                purpose,
                Action::Reveal,
                RecordKind::Examinee,
                Some(&subject.prefecture_code),
                subject.suspended,
                &subjects,
            )
            .await?;
        if !view.contains("my_number") {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::Forbidden)
                .await);
        }
        let Some(row) = self.store.get_my_number(id, &actor.tenants).await? else {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        };
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(subject.prefecture_code.clone()),
                subjects: subjects.clone(),
                fields: vec!["my_number".into()],
                outcome: Outcome::Ok,
            },
        )
        .await?;
        let dek = self.subject_dek(id, Compartment::MyNumber).await?;
        let cipher = Cipher::new(&dek);
        let aad = FieldAad {
            record_kind: RecordKind::Examinee,
            record_id: id,
            field: "my_number",
        };
        let plain = cipher.open(&aad, &row.sealed)?;
        let text =
            std::str::from_utf8(plain.expose_bytes()).map_err(|_| CryptoError::DecryptionFailed)?;
        let number = MyNumber::parse(text).map_err(|_| CryptoError::DecryptionFailed)?;
        Ok(RevealedMyNumber(number))
    }

    /// Sets or clears the suspension of use (利用停止) of a subject.
    pub async fn set_suspension(
        &self,
        actor: &Actor,
        purpose: &str,
        id: Uuid,
        suspended: bool,
    ) -> Result<(), VaultError> {
        let action = "subject.suspend";
        self.require_purpose(actor, purpose, action).await?;
        let subjects = vec![id];
        let Some(subject) = self.store.get_subject(id, &actor.tenants).await? else {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        };
        let kind = subject_kind(subject.kind);
        // Suspension itself is allowed for the purposes that may act under suspension.
        self.permit(
            actor,
            purpose,
            Action::Suspend,
            kind,
            Some(&subject.prefecture_code),
            false,
            &subjects,
        )
        .await?;
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(subject.prefecture_code.clone()),
                subjects,
                fields: vec![],
                outcome: Outcome::Ok,
            },
        )
        .await?;
        self.store
            .apply(batch_of(vec![WriteOp::SetSuspended {
                subject_id: id,
                suspended,
                updated_at: Utc::now(),
            }]))
            .await?;
        Ok(())
    }

    // ----- child records ---------------------------------------------------------------

    /// Adds an application (受検申請) to an examinee; answers its application id.
    pub async fn add_application(
        &self,
        actor: &Actor,
        purpose: &str,
        examinee_id: Uuid,
        body: &Value,
    ) -> Result<String, VaultError> {
        let record = self
            .create_child(
                actor,
                purpose,
                RecordKind::Application,
                examinee_id,
                None,
                body,
            )
            .await?;
        Ok(record)
    }

    /// Adds a qualification (合格者 / 技能士) to an examinee; answers its id.
    pub async fn add_qualification(
        &self,
        actor: &Actor,
        purpose: &str,
        examinee_id: Uuid,
        body: &Value,
    ) -> Result<String, VaultError> {
        self.create_child(
            actor,
            purpose,
            RecordKind::Qualification,
            examinee_id,
            None,
            body,
        )
        .await
    }

    /// Adds a teaching visit to a meister; answers its id.
    pub async fn add_activity(
        &self,
        actor: &Actor,
        purpose: &str,
        meister_id: Uuid,
        body: &Value,
    ) -> Result<String, VaultError> {
        self.create_child(
            actor,
            purpose,
            RecordKind::MeisterActivity,
            meister_id,
            None,
            body,
        )
        .await
    }

    async fn create_child(
        &self,
        actor: &Actor,
        purpose: &str,
        kind: RecordKind,
        subject_id: Uuid,
        parent: Option<&RecordRow>,
        body: &Value,
    ) -> Result<String, VaultError> {
        let action = action_name(Action::Create, kind);
        self.require_purpose(actor, purpose, action).await?;
        let subjects = vec![subject_id];
        let mut record = match parse_record(kind, body, Mode::Create) {
            Ok(r) => r,
            Err(errs) => {
                return Err(self
                    .refuse(actor, purpose, action, subjects, VaultError::Invalid(errs))
                    .await)
            }
        };
        let Some(subject) = self.store.get_subject(subject_id, &actor.tenants).await? else {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        };
        let owner_kind = if kind == RecordKind::MeisterActivity {
            RecordKind::Meister
        } else {
            RecordKind::Examinee
        };
        if subject_kind(subject.kind) != owner_kind {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        }
        // A child record lives in its own prefecture when it names one, else the subject's.
        let prefecture = plain_text(&record, "prefecture_code")
            .unwrap_or_else(|| subject.prefecture_code.clone());
        let view = self
            .permit(
                actor,
                purpose,
                Action::Create,
                kind,
                Some(&prefecture),
                subject.suspended,
                &subjects,
            )
            .await?;
        if !actor.tenants.contains(&prefecture) {
            return Err(self
                .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                .await);
        }
        let record_id = crate::store::new_id();
        let api_id = if kind == RecordKind::Application {
            assign_application_id(&mut record, record_id)
        } else {
            record_id.to_string()
        };
        self.check_writable(actor, purpose, action, &record, &view)
            .await?;
        let dek = self.subject_dek(subject_id, Compartment::General).await?;
        let ops = self.child_ops(
            &dek,
            &record,
            record_id,
            subject_id,
            parent.map(|p| p.record_id),
            &prefecture,
            &api_id,
        )?;
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(prefecture.clone()),
                subjects: subjects.clone(),
                fields: record.values.keys().map(|k| (*k).to_owned()).collect(),
                outcome: Outcome::Ok,
            },
        )
        .await?;
        self.apply_audited(actor, purpose, action, subject_id, batch_of(ops))
            .await?;
        Ok(api_id)
    }

    /// Finds an application record by its application id, tenant-scoped.
    async fn find_application(
        &self,
        actor: &Actor,
        application_id: &str,
    ) -> Result<Option<RecordRow>, VaultError> {
        let Ok(id) = validate_identifier("application_id", application_id) else {
            return Ok(None);
        };
        let keys: Vec<(u32, [u8; 32])> = self
            .digests(index_names::APPLICATION_ID, &id)
            .iter()
            .map(|d| (d.version, d.bytes))
            .collect();
        let hits = self
            .store
            .find_by_index(index_names::APPLICATION_ID, &keys, &actor.tenants, 1)
            .await?;
        match hits.first() {
            Some(hit) => Ok(self.store.get_record(hit.record_id, &actor.tenants).await?),
            None => Ok(None),
        }
    }

    /// The application whose blind-indexed `index` holds `key` (`None`: a malformed key,
    /// never found) in the caller's tenants, with its subject's suspension and general
    /// data key from the same query, and the fields the caller may read of it. Not
    /// found and refusals are audited.
    async fn application_in_view(
        &self,
        actor: &Actor,
        purpose: &str,
        action: &str,
        index: &str,
        key: Option<String>,
    ) -> Result<(IndexedRecord, BTreeSet<&'static str>), VaultError> {
        let found = match key {
            Some(key) => {
                let keys: Vec<(u32, [u8; 32])> = self
                    .digests(index, &key)
                    .iter()
                    .map(|d| (d.version, d.bytes))
                    .collect();
                self.store
                    .read_by_index(index, &keys, &actor.tenants, KeyCompartment::General)
                    .await?
                    .filter(|f| f.record.kind == RecordKind::Application)
            }
            None => None,
        };
        let Some(found) = found else {
            return Err(self
                .refuse(actor, purpose, action, vec![], VaultError::NotFound)
                .await);
        };
        let view = self
            .permit(
                actor,
                purpose,
                Action::Read,
                RecordKind::Application,
                Some(&found.record.prefecture_code),
                found.suspended,
                &[found.record.subject_id],
            )
            .await?;
        Ok((found, view))
    }

    /// Reads an application in the caller's view (with its result when the view allows):
    /// one blind-index query answers the application, its subject's suspension and data
    /// key; a second one its result. The events of both reads are appended together, so
    /// they share one group commit, and are durable before anything is decrypted.
    pub async fn read_application(
        &self,
        actor: &Actor,
        purpose: &str,
        application_id: &str,
    ) -> Result<RecordView, VaultError> {
        let action = "application.read";
        self.require_purpose(actor, purpose, action).await?;
        // A malformed id is simply not found.
        let key = validate_identifier("application_id", application_id).ok();
        let (
            IndexedRecord {
                record: row,
                suspended,
                key: key_row,
            },
            view,
        ) = self
            .application_in_view(actor, purpose, action, index_names::APPLICATION_ID, key)
            .await?;
        // The result (受検管理) of the application, when one exists and the view allows.
        let results = self
            .store
            .list_records(
                &kind_query(RecordQuery::of_parent(row.record_id), RecordKind::Result),
                &actor.tenants,
            )
            .await?;
        let result = results.into_iter().next().and_then(|result| {
            match self.decide(
                actor,
                purpose,
                Action::Read,
                RecordKind::Result,
                Some(&result.prefecture_code),
                suspended,
            ) {
                Decision::Permit(rv) => {
                    let rview: BTreeSet<&'static str> = rv.fields().collect();
                    Some((result, rview))
                }
                _ => None,
            }
        });

        let (app_fields, app_plain) = view_fields(&row, &view)?;
        let app_event = self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: Some(row.prefecture_code.clone()),
                subjects: vec![row.subject_id],
                fields: app_fields,
                outcome: Outcome::Ok,
            },
        );
        let result_plain = match &result {
            Some((r, rview)) => {
                let (fields, plain) = view_fields(r, rview)?;
                let result_event = self.record(
                    actor,
                    EventSpec {
                        action: "result.read",
                        purpose,
                        tenant: Some(r.prefecture_code.clone()),
                        subjects: vec![r.subject_id],
                        fields,
                        outcome: Outcome::Ok,
                    },
                );
                futures::try_join!(app_event, result_event)?;
                Some(plain)
            }
            None => {
                app_event.await?;
                None
            }
        };

        let dek = self.dek_of(row.subject_id, Compartment::General, key_row)?;
        let cipher = Cipher::new(&dek);
        let mut fields = Map::new();
        self.open_fields(&cipher, &row, &view, &mut fields)?;
        fields.extend(app_plain);
        fields.insert(
            "examinee_id".into(),
            Value::String(row.subject_id.to_string()),
        );
        if let (Some((r, rview)), Some(plain)) = (&result, result_plain) {
            let mut rf = Map::new();
            if r.subject_id == row.subject_id {
                self.open_fields(&cipher, r, rview, &mut rf)?;
            } else {
                let rdek = self.subject_dek(r.subject_id, Compartment::General).await?;
                self.open_fields(&Cipher::new(&rdek), r, rview, &mut rf)?;
            }
            rf.extend(plain);
            fields.insert("result".into(), Value::Object(rf));
        }
        Ok(RecordView {
            kind: RecordKind::Application,
            id: application_id.to_owned(),
            fields,
        })
    }

    /// Reads the application with a 受検番号 (exam number) in the caller's view: one
    /// blind-index look-up, the audit event (durable first), then only the view's fields
    /// are decrypted. The point read of the `lookup` benchmark.
    pub async fn read_application_by_exam_number(
        &self,
        actor: &Actor,
        purpose: &str,
        exam_number: &str,
    ) -> Result<RecordView, VaultError> {
        let action = "application.read";
        self.require_purpose(actor, purpose, action).await?;
        let key = validate_identifier("exam_number", exam_number)?;
        let (
            IndexedRecord {
                record: row,
                key: key_row,
                ..
            },
            view,
        ) = self
            .application_in_view(actor, purpose, action, index_names::EXAM_NUMBER, Some(key))
            .await?;
        let mut out = self
            .reveal_record_keyed(
                actor,
                purpose,
                action,
                &row,
                &view,
                String::new(),
                Some(key_row),
            )
            .await?;
        out.id = out
            .fields
            .get("application_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.fields.insert(
            "examinee_id".into(),
            Value::String(row.subject_id.to_string()),
        );
        Ok(out)
    }

    /// Records or replaces the result (受検管理) of an application.
    pub async fn put_result(
        &self,
        actor: &Actor,
        purpose: &str,
        application_id: &str,
        body: &Value,
    ) -> Result<(), VaultError> {
        let action = "result.write";
        self.require_purpose(actor, purpose, action).await?;
        let Some(app) = self.find_application(actor, application_id).await? else {
            return Err(self
                .refuse(actor, purpose, action, vec![], VaultError::NotFound)
                .await);
        };
        let existing = self
            .store
            .list_records(
                &kind_query(RecordQuery::of_parent(app.record_id), RecordKind::Result),
                &actor.tenants,
            )
            .await?;
        match existing.first() {
            None => {
                self.create_child(
                    actor,
                    purpose,
                    RecordKind::Result,
                    app.subject_id,
                    Some(&app),
                    body,
                )
                .await?;
                Ok(())
            }
            Some(row) => {
                let subjects = vec![row.subject_id];
                let record = match parse_record(RecordKind::Result, body, Mode::Patch) {
                    Ok(r) => r,
                    Err(errs) => {
                        return Err(self
                            .refuse(actor, purpose, action, subjects, VaultError::Invalid(errs))
                            .await)
                    }
                };
                let suspended = self.is_suspended(row.subject_id, &actor.tenants).await?;
                let view = self
                    .permit(
                        actor,
                        purpose,
                        Action::Update,
                        RecordKind::Result,
                        Some(&row.prefecture_code),
                        suspended,
                        &subjects,
                    )
                    .await?;
                self.check_writable(actor, purpose, action, &record, &view)
                    .await?;
                self.update_record(actor, purpose, action, row, &record, None)
                    .await
            }
        }
    }

    /// Records the revocation (合格取消) of a qualification.
    pub async fn revoke_qualification(
        &self,
        actor: &Actor,
        purpose: &str,
        examinee_id: Uuid,
        qualification_id: Uuid,
        body: &Value,
    ) -> Result<(), VaultError> {
        let action = "qualification.update";
        self.require_purpose(actor, purpose, action).await?;
        let subjects = vec![examinee_id];
        let record = match parse_record(RecordKind::Qualification, body, Mode::Patch) {
            Ok(r) => r,
            Err(errs) => {
                return Err(self
                    .refuse(actor, purpose, action, subjects, VaultError::Invalid(errs))
                    .await)
            }
        };
        let row = match self
            .store
            .get_record(qualification_id, &actor.tenants)
            .await?
        {
            Some(r) if r.subject_id == examinee_id && r.kind == RecordKind::Qualification => r,
            _ => {
                return Err(self
                    .refuse(actor, purpose, action, subjects, VaultError::NotFound)
                    .await)
            }
        };
        let suspended = self.is_suspended(row.subject_id, &actor.tenants).await?;
        let view = self
            .permit(
                actor,
                purpose,
                Action::Update,
                RecordKind::Qualification,
                Some(&row.prefecture_code),
                suspended,
                &subjects,
            )
            .await?;
        self.check_writable(actor, purpose, action, &record, &view)
            .await?;
        self.update_record(actor, purpose, action, &row, &record, None)
            .await
    }

    /// Meisters with no activity (nor certification) within the policy's inactivity
    /// period before `as_of`, in the caller's prefectures.
    pub async fn inactive_meisters(
        &self,
        actor: &Actor,
        purpose: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<Uuid>, VaultError> {
        let action = "meister.inactive";
        self.require_purpose(actor, purpose, action).await?;
        self.permit(
            actor,
            purpose,
            Action::Read,
            RecordKind::Meister,
            None,
            false,
            &[],
        )
        .await?;
        let ids = self.inactive_meister_ids(&actor.tenants, as_of).await?;
        self.record(
            actor,
            EventSpec {
                action,
                purpose,
                tenant: None,
                subjects: ids.clone(),
                fields: vec![],
                outcome: Outcome::Ok,
            },
        )
        .await?;
        Ok(ids)
    }
}

impl Vault {
    /// Meisters in `scope` whose latest activity (or certification) lies more than the
    /// policy's inactivity period before `as_of`. Reads plain clock columns only.
    async fn inactive_meister_ids(
        &self,
        scope: &TenantScope,
        as_of: NaiveDate,
    ) -> Result<Vec<Uuid>, VaultError> {
        let period = self.policy.meister_inactivity_period();
        let mut standing = Vec::new();
        let mut after = None;
        loop {
            let mut q = kind_query(RecordQuery::all(), RecordKind::Meister);
            q.after = after;
            let page = self.store.list_records(&q, scope).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record_id);
            for m in &page {
                if m.status.as_deref() == Some("deregistered") {
                    continue;
                }
                let acts = self
                    .store
                    .list_records(
                        &kind_query(
                            RecordQuery::of_subject(m.subject_id),
                            RecordKind::MeisterActivity,
                        ),
                        scope,
                    )
                    .await?;
                let last_activity = acts.iter().filter_map(|a| a.clock_date).max();
                let Some(certified_on) = m.clock_date else {
                    continue;
                };
                let status = m
                    .status
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(crate::retention::MeisterStatus::Active);
                standing.push(crate::retention::MeisterStanding {
                    meister_id: m.subject_id,
                    certified_on,
                    last_activity,
                    status,
                });
            }
        }
        Ok(crate::retention::inactive_meisters(
            &standing,
            period.into(),
            as_of,
        ))
    }
}

/// The fields of `record` that `view` does not let the caller write.
///
/// My Number is write-only at intake: whoever may register the examinee may hand it
/// over with the registration; only a reveal grant reads it back.
pub(crate) fn fields_outside_view(
    record: &Record,
    view: &BTreeSet<&'static str>,
) -> Vec<&'static str> {
    record
        .values
        .keys()
        .filter(|k| !view.contains(*k))
        .filter(|k| {
            schema::field(record.kind, k).map(|d| d.storage) != Some(Storage::MyNumberCompartment)
        })
        .copied()
        .collect()
}

/// Gives an application without an application id (申請受付ID) one made from its record
/// id, and answers the application id.
pub(crate) fn assign_application_id(record: &mut Record, record_id: Uuid) -> String {
    match record.values.get("application_id") {
        Some(FieldValue::Text(t)) => t.as_str().to_owned(),
        _ => {
            let generated = record_id.simple().to_string();
            record.values.insert(
                "application_id",
                FieldValue::Text(zeroize::Zeroizing::new(generated.clone())),
            );
            generated
        }
    }
}

/// The audit action name of a record operation, e.g. `examinee.read`.
pub(crate) fn action_name(action: Action, kind: RecordKind) -> &'static str {
    use Action as A;
    use RecordKind as K;
    match (kind, action) {
        (K::Examinee, A::Read) => "examinee.read",
        (K::Examinee, A::Create) => "examinee.create",
        (K::Examinee, A::Update) => "examinee.update",
        (K::Examinee, A::Search) => "examinee.search",
        (K::Examinee, A::Resolve) => "identity.resolve",
        (K::Examinee, A::Reveal) => "identity.reveal",
        (K::Application, A::Read) => "application.read",
        (K::Application, A::Create) => "application.create",
        (K::Application, A::Update) => "application.update",
        (K::Result, A::Read) => "result.read",
        (K::Result, A::Create) | (K::Result, A::Update) => "result.write",
        (K::Qualification, A::Read) => "qualification.read",
        (K::Qualification, A::Create) => "qualification.create",
        (K::Qualification, A::Update) => "qualification.update",
        (K::Meister, A::Read) => "meister.read",
        (K::Meister, A::Create) => "meister.create",
        (K::Meister, A::Update) => "meister.update",
        (K::MeisterActivity, A::Create) => "meister_activity.create",
        (K::MeisterActivity, A::Read) => "meister_activity.read",
        (_, A::Suspend) => "subject.suspend",
        (_, A::Export) => "export",
        _ => "record.access",
    }
}

fn key_compartment(c: Compartment) -> KeyCompartment {
    match c {
        Compartment::General => KeyCompartment::General,
        Compartment::MyNumber => KeyCompartment::MyNumber,
    }
}

fn subject_kind(k: SubjectKind) -> RecordKind {
    match k {
        SubjectKind::Examinee => RecordKind::Examinee,
        SubjectKind::Meister => RecordKind::Meister,
    }
}

fn kind_query(mut q: RecordQuery, kind: RecordKind) -> RecordQuery {
    q.kind = Some(kind);
    q.limit = 1000;
    q
}

fn batch_of(ops: Vec<WriteOp>) -> WriteBatch {
    let mut batch = WriteBatch::with_capacity(ops.len());
    for op in ops {
        batch.push(op);
    }
    batch
}

fn plain_text(record: &Record, name: &str) -> Option<String> {
    match record.values.get(name) {
        Some(FieldValue::Text(t)) => Some(t.as_str().to_owned()),
        _ => None,
    }
}

fn plain_int(record: &Record, name: &str) -> Option<i64> {
    match record.values.get(name) {
        Some(FieldValue::Int(i)) => Some(*i),
        _ => None,
    }
}

/// The date that starts a record's retention clock, when its schema has one.
fn clock_date(record: &Record) -> Option<NaiveDate> {
    let name = match record.kind {
        RecordKind::Qualification => "passed_on",
        RecordKind::Meister => "certified_on",
        RecordKind::MeisterActivity => "date",
        _ => return None,
    };
    match record.values.get(name) {
        Some(FieldValue::Date(d)) => Some(*d),
        _ => None,
    }
}

/// The names of the fields of `row` that `view` shows (sealed and plain; what its
/// audit event lists) and the plain ones with their values.
fn view_fields(
    row: &RecordRow,
    view: &BTreeSet<&'static str>,
) -> Result<(Vec<String>, Map<String, Value>), VaultError> {
    let mut fields: Vec<String> = SealedRecord::decode(&row.sealed)?
        .iter()
        .map(|(n, _)| n.to_owned())
        .filter(|n| view.contains(n.as_str()))
        .collect();
    let plain = plain_fields(row.kind, row, view);
    fields.extend(plain.keys().cloned());
    Ok((fields, plain))
}

/// Values that live in plain columns and are authoritative there: the vault-assigned
/// ids and the lifecycle status (changed by retention without re-sealing).
fn plain_fields(
    kind: RecordKind,
    row: &RecordRow,
    view: &BTreeSet<&'static str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for def in schema::fields_of(kind) {
        if !view.contains(def.name) {
            continue;
        }
        if def.vault_assigned {
            out.insert(
                def.name.to_owned(),
                Value::String(row.subject_id.to_string()),
            );
        } else if def.name == "status" {
            if let Some(status) = &row.status {
                out.insert(def.name.to_owned(), Value::String(status.clone()));
            }
        }
    }
    out
}

/// Splits the `reason` of a correction from the changed fields.
fn split_reason(body: &Value) -> (Value, Option<String>) {
    match body {
        Value::Object(map) => {
            let mut changes = map.clone();
            let reason = match changes.remove("reason") {
                Some(Value::String(s)) => Some(s),
                _ => None,
            };
            (Value::Object(changes), reason)
        }
        other => (other.clone(), None),
    }
}

fn validate_identifier(field: &'static str, v: &str) -> Result<String, VaultError> {
    let ok =
        !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(VaultError::Invalid(ValidationErrors(vec![
            ValidationError {
                field: field.to_owned(),
                code: "invalid_format",
            },
        ])))
    }
}
