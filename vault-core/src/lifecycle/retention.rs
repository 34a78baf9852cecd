//! Retention runs over the store: candidates from plain clock columns, stored plans,
//! legal holds, second-person approval, execution (re-check under the policy in force,
//! crypto-shredding one subject per transaction, resumable), the signed erasure
//! certificate, meister intent checks and the policy-shortening check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;
use vault_policy::{
    Action, Capability, ClockEvent as PolicyClock, Decision, DecisionRequest, Policy, RecordKind,
    RetentionAction as PolicyAction, RetentionTarget as PolicyTarget, TenantScope,
};

use super::db::{exec, fetch, i, t, Bind, Col};
use super::keyring::ShredEntry;
use super::{
    parse_date, parse_time, parse_uuid, time_text, Lifecycle, LifecycleError, RETENTION_PURPOSE,
};
use crate::audit::Outcome;
use crate::crypto::{AuditSigner, Compartment, KeyProvider};
use crate::model::schema;
use crate::retention::{
    approve, build_plan, recheck, shortened_impact, today_in_japan, Approval, ApprovedPlan,
    AuditSeqRange, Candidate, CertificateSigner, ClockEvent, ErasureCertificate, ExecutionSet,
    FiscalYear, IntentAnswer, IntentCheck, LegalHolds, MeisterEvent, MeisterStatus, PlannedRecord,
    RetentionAction, RetentionPlan, RuleSpec, ShortenedImpact, Target,
};
use crate::store::{KeyCompartment, RecordQuery, RecordRow, RecordUpdate, WriteBatch, WriteOp};
use crate::vault::{index_names, Actor};

/// Where a stored plan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Made (dry run), waiting for approval.
    Planned,
    /// Approved by a second person.
    Approved,
    /// Execution started (and may be resumed).
    Executing,
    /// Executed; the certificate is stored.
    Executed,
}

impl PlanState {
    fn as_str(self) -> &'static str {
        match self {
            PlanState::Planned => "planned",
            PlanState::Approved => "approved",
            PlanState::Executing => "executing",
            PlanState::Executed => "executed",
        }
    }

    fn parse(s: &str) -> Result<PlanState, LifecycleError> {
        Ok(match s {
            "planned" => PlanState::Planned,
            "approved" => PlanState::Approved,
            "executing" => PlanState::Executing,
            "executed" => PlanState::Executed,
            _ => return Err(LifecycleError::Corrupt("retention_plans.state")),
        })
    }
}

/// A plan as stored, with its approval and certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredPlan {
    /// The plan (ids and counts only).
    pub plan: RetentionPlan,
    /// Its state.
    pub state: PlanState,
    /// The approval, once approved.
    pub approval: Option<Approval>,
    /// Who executes (or executed) it.
    pub executed_by: Option<String>,
    /// The signed erasure certificate (JSON), once executed.
    pub certificate: Option<String>,
    /// Seq of the audit event that recorded the certificate.
    pub certificate_seq: Option<u64>,
}

/// A short line per plan, for listings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Plan id.
    pub plan_id: Uuid,
    /// State.
    pub state: PlanState,
    /// Day evaluated for.
    pub as_of: NaiveDate,
    /// Creator.
    pub created_by: String,
    /// Planned records.
    pub records: usize,
}

/// A legal hold (保存の指示).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HoldInfo {
    /// Hold id.
    pub hold_id: Uuid,
    /// Held subjects.
    pub subject_ids: Vec<Uuid>,
    /// Case reference.
    pub reason: String,
    /// Who placed it.
    pub placed_by: String,
    /// When.
    pub placed_at: DateTime<Utc>,
    /// Who released it.
    pub released_by: Option<String>,
    /// When.
    pub released_at: Option<DateTime<Utc>>,
}

/// What a policy change would do to retention (C15): the records that become due
/// earlier, per rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShorteningCheck {
    /// Per rule, the records due earlier.
    pub impacts: Vec<ShortenedImpact>,
}

impl ShorteningCheck {
    /// Records that would become due earlier.
    pub fn records(&self) -> usize {
        self.impacts.iter().map(|i| i.records.len()).sum()
    }

    /// Of those, records the next run would take today.
    pub fn due_now(&self) -> usize {
        self.impacts.iter().map(ShortenedImpact::due_now).sum()
    }
}

/// The retention rules of a policy in the retention core's terms.
///
/// The policy's `meister` target splits by clock: `last_activity_or_certification` is
/// the inactivity rule, `deregistration_date` the rule for deregistered meisters.
pub fn policy_rule_specs(policy: &Policy) -> Vec<RuleSpec> {
    policy
        .retention_rules()
        .iter()
        .map(|r| {
            let (target, clock) = match (r.target(), r.clock()) {
                (PolicyTarget::MyNumber, _) => {
                    (Target::MyNumber, ClockEvent::LastApplicationFiscalYearEnd)
                }
                (PolicyTarget::Examinee, _) => {
                    (Target::ExamineePerson, ClockEvent::NoRecordsRemain)
                }
                (PolicyTarget::Application, _) => (Target::Application, ClockEvent::FiscalYearEnd),
                (PolicyTarget::Result, _) => (Target::Result, ClockEvent::FiscalYearEnd),
                (PolicyTarget::Qualification, _) => (Target::Qualification, ClockEvent::PassDate),
                (PolicyTarget::Meister, PolicyClock::DeregistrationDate) => {
                    (Target::MeisterDeregistered, ClockEvent::DeregistrationDate)
                }
                (PolicyTarget::Meister, _) => (Target::Meister, ClockEvent::LastActivity),
                (PolicyTarget::AuditEvent, _) => (Target::AuditEvents, ClockEvent::EventTime),
            };
            let action = match r.action() {
                PolicyAction::Delete => RetentionAction::Delete,
                PolicyAction::ShredMyNumber => RetentionAction::DeleteCompartment,
                PolicyAction::Keep => RetentionAction::Keep,
                PolicyAction::FlagIntentCheck => RetentionAction::FlagIntentCheck,
                PolicyAction::DeleteKeepCheckpoint => RetentionAction::Prune,
            };
            RuleSpec {
                name: r.id().to_owned(),
                target,
                clock,
                period: r.period().into(),
                action,
            }
        })
        .collect()
}

/// The keyring's audit key as the certificate signer.
struct KeyringCertificateSigner(AuditSigner);

impl CertificateSigner for KeyringCertificateSigner {
    fn key_id(&self) -> String {
        self.0.key_id().to_owned()
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message)
    }

    fn public_key(&self) -> Vec<u8> {
        self.0.public_key()
    }
}

const PLAN_COLUMNS: &str = "plan_json, state, approval_json, executed_by, certificate_json, \
     certificate_seq, approver_roles, execution_json, audit_seq_first";

/// A plan row with the columns the executor needs.
struct PlanRow {
    stored: StoredPlan,
    approver_roles: Vec<String>,
    execution_json: Option<String>,
    audit_seq_first: Option<u64>,
}

/// One record of an execution set, with its rule's target and action.
struct Item {
    target: Target,
    action: RetentionAction,
    record: PlannedRecord,
}

impl Lifecycle {
    // ----- candidates ------------------------------------------------------------------

    /// Every record a rule may apply to, with clocks resolved from plain columns (see
    /// `docs/retention.md`). Reads no ciphertext. Also remembers each examinee's last
    /// application fiscal-year end (the My Number clock once applications are gone).
    pub(crate) async fn candidates(&self) -> Result<Vec<Candidate>, LifecycleError> {
        let all = TenantScope::All;
        let mut rows: Vec<RecordRow> = Vec::new();
        let mut after = None;
        loop {
            let mut q = RecordQuery::all().limit(1000);
            q.after = after;
            let page = self.store.list_records(&q, &all).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record_id);
            rows.extend(page);
        }
        let clocks = self.subject_clocks().await?;
        let continues = self.continue_answers().await?;

        let mut app_fy: BTreeMap<Uuid, i32> = BTreeMap::new();
        let mut last_fy_end: BTreeMap<Uuid, NaiveDate> = BTreeMap::new();
        let mut dependents: BTreeMap<Uuid, usize> = BTreeMap::new();
        let mut last_activity: BTreeMap<Uuid, NaiveDate> = BTreeMap::new();
        for r in &rows {
            match r.kind {
                RecordKind::Application => {
                    if let Some(fy) = r.fiscal_year {
                        app_fy.insert(r.record_id, fy);
                        if let Some(end) = FiscalYear(fy).last_day() {
                            let e = last_fy_end.entry(r.subject_id).or_insert(end);
                            *e = (*e).max(end);
                        }
                    }
                    *dependents.entry(r.subject_id).or_default() += 1;
                }
                RecordKind::Result | RecordKind::Qualification => {
                    *dependents.entry(r.subject_id).or_default() += 1;
                }
                RecordKind::MeisterActivity => {
                    if let Some(d) = r.clock_date {
                        let e = last_activity.entry(r.subject_id).or_insert(d);
                        *e = (*e).max(d);
                    }
                }
                _ => {}
            }
        }
        for (subject, end) in &last_fy_end {
            let known = clocks.get(subject).and_then(|c| c.0);
            if known.is_none_or(|k| k < *end) {
                self.set_last_application_fy_end(*subject, *end).await?;
            }
        }

        let mut out = Vec::new();
        for r in &rows {
            let fy_end = |fy: Option<i32>| fy.and_then(|y| FiscalYear(y).last_day());
            let candidate =
                |kind: Target, record_id: Uuid, clock_date: Option<NaiveDate>| Candidate {
                    subject_id: r.subject_id,
                    record_id,
                    kind,
                    clock_date,
                    prefecture: r.prefecture_code.clone(),
                };
            match r.kind {
                RecordKind::Application => {
                    out.push(candidate(
                        Target::Application,
                        r.record_id,
                        fy_end(r.fiscal_year),
                    ));
                }
                RecordKind::Result => {
                    let fy = r
                        .fiscal_year
                        .or_else(|| r.parent_id.and_then(|p| app_fy.get(&p).copied()));
                    out.push(candidate(Target::Result, r.record_id, fy_end(fy)));
                }
                RecordKind::Qualification => {
                    out.push(candidate(Target::Qualification, r.record_id, r.clock_date));
                }
                RecordKind::Meister => match r.status.as_deref() {
                    Some("deregistered") => {
                        out.push(candidate(
                            Target::MeisterDeregistered,
                            r.record_id,
                            r.clock_date,
                        ));
                    }
                    // Already asked: not flagged again while the check is open.
                    Some("intent_check") => {}
                    _ => {
                        let latest = [
                            r.clock_date,
                            last_activity.get(&r.subject_id).copied(),
                            continues.get(&r.subject_id).copied(),
                        ]
                        .into_iter()
                        .flatten()
                        .max();
                        out.push(candidate(Target::Meister, r.record_id, latest));
                    }
                },
                RecordKind::Examinee => {
                    let no_records = if dependents.get(&r.subject_id).copied().unwrap_or(0) == 0 {
                        clocks.get(&r.subject_id).and_then(|c| c.1)
                    } else {
                        None
                    };
                    out.push(candidate(Target::ExamineePerson, r.record_id, no_records));
                    if let Some(mn) = self.store.get_my_number(r.subject_id, &all).await? {
                        // The later of: the last application's fiscal-year end (now or
                        // remembered) and a deletion request; never earlier than either.
                        let clock = [
                            last_fy_end.get(&r.subject_id).copied(),
                            clocks.get(&r.subject_id).and_then(|c| c.0),
                            mn.clock_date,
                        ]
                        .into_iter()
                        .flatten()
                        .max();
                        out.push(candidate(Target::MyNumber, r.subject_id, clock));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// (last application fiscal-year end, no records since) per subject.
    async fn subject_clocks(
        &self,
    ) -> Result<BTreeMap<Uuid, (Option<NaiveDate>, Option<NaiveDate>)>, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT subject_id, last_application_fy_end, no_records_since FROM subject_clocks",
            &[],
            &[Col::Text, Col::Text, Col::Text],
        )
        .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            let id = parse_uuid(r[0].text().unwrap_or_default(), "subject_clocks.subject_id")?;
            let a = r[1]
                .text()
                .map(|s| parse_date(s, "subject_clocks.last_application_fy_end"))
                .transpose()?;
            let b = r[2]
                .text()
                .map(|s| parse_date(s, "subject_clocks.no_records_since"))
                .transpose()?;
            out.insert(id, (a, b));
        }
        Ok(out)
    }

    async fn set_last_application_fy_end(
        &self,
        subject: Uuid,
        end: NaiveDate,
    ) -> Result<(), LifecycleError> {
        exec(
            &self.backend,
            "INSERT INTO subject_clocks (subject_id, last_application_fy_end) VALUES ($1, $2) \
             ON CONFLICT (subject_id) DO UPDATE SET last_application_fy_end = excluded.last_application_fy_end \
             WHERE subject_clocks.last_application_fy_end IS NULL \
                OR subject_clocks.last_application_fy_end < excluded.last_application_fy_end",
            &[t(subject.to_string()), t(end.to_string())],
        )
        .await?;
        Ok(())
    }

    async fn continue_answers(&self) -> Result<BTreeMap<Uuid, NaiveDate>, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT meister_id, answered_on FROM meister_intent_checks \
             WHERE answer = 'continue' AND outcome = 'active'",
            &[],
            &[Col::Text, Col::Text],
        )
        .await?;
        let mut out: BTreeMap<Uuid, NaiveDate> = BTreeMap::new();
        for r in rows {
            let id = parse_uuid(
                r[0].text().unwrap_or_default(),
                "meister_intent_checks.meister_id",
            )?;
            if let Some(d) = r[1].text() {
                let d = parse_date(d, "meister_intent_checks.answered_on")?;
                let e = out.entry(id).or_insert(d);
                *e = (*e).max(d);
            }
        }
        Ok(out)
    }

    // ----- legal holds -----------------------------------------------------------------

    /// The subjects under a hold that is not released.
    pub(crate) async fn active_holds(&self) -> Result<LegalHolds, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT s.subject_id FROM legal_hold_subjects s JOIN legal_holds h \
             ON h.hold_id = s.hold_id WHERE h.released_at IS NULL",
            &[],
            &[Col::Text],
        )
        .await?;
        rows.iter()
            .map(|r| {
                parse_uuid(
                    r[0].text().unwrap_or_default(),
                    "legal_hold_subjects.subject_id",
                )
            })
            .collect()
    }

    /// Places a legal hold on subjects: none of their records is planned or erased until
    /// it is released. `reason` is a case reference (no personal data; 1–200 printable
    /// characters, kept in the database, not in the audit log). Audited with the subjects.
    pub async fn place_hold(
        &self,
        actor: &Actor,
        subject_ids: &[Uuid],
        reason: &str,
    ) -> Result<Uuid, LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::ManageHolds,
            "retention.hold.place",
        )
        .await?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control)
        {
            return Err(LifecycleError::Invalid("reason"));
        }
        if subject_ids.is_empty() {
            return Err(LifecycleError::Invalid("subject_ids"));
        }
        let hold_id = Uuid::new_v4();
        self.audit_event(
            actor,
            RETENTION_PURPOSE,
            "retention.hold.place",
            subject_ids,
            &[],
            Outcome::Ok,
        )
        .await?;
        exec(
            &self.backend,
            "INSERT INTO legal_holds (hold_id, reason, placed_by, placed_at) VALUES ($1, $2, $3, $4)",
            &[
                t(hold_id.to_string()),
                t(reason),
                t(actor.id.clone()),
                t(time_text(Utc::now())),
            ],
        )
        .await?;
        let unique: BTreeSet<Uuid> = subject_ids.iter().copied().collect();
        for s in unique {
            exec(
                &self.backend,
                "INSERT INTO legal_hold_subjects (hold_id, subject_id) VALUES ($1, $2)",
                &[t(hold_id.to_string()), t(s.to_string())],
            )
            .await?;
        }
        Ok(hold_id)
    }

    /// Releases a hold. Audited with its subjects.
    pub async fn release_hold(&self, actor: &Actor, hold_id: Uuid) -> Result<(), LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::ManageHolds,
            "retention.hold.release",
        )
        .await?;
        let hold = self
            .holds()
            .await?
            .into_iter()
            .find(|h| h.hold_id == hold_id)
            .ok_or(LifecycleError::NotFound)?;
        if hold.released_at.is_some() {
            return Err(LifecycleError::InvalidState(
                "the hold is already released".into(),
            ));
        }
        self.audit_event(
            actor,
            RETENTION_PURPOSE,
            "retention.hold.release",
            &hold.subject_ids,
            &[],
            Outcome::Ok,
        )
        .await?;
        exec(
            &self.backend,
            "UPDATE legal_holds SET released_by = $1, released_at = $2 \
             WHERE hold_id = $3 AND released_at IS NULL",
            &[
                t(actor.id.clone()),
                t(time_text(Utc::now())),
                t(hold_id.to_string()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Every hold, newest first.
    pub async fn list_holds(&self, actor: &Actor) -> Result<Vec<HoldInfo>, LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::ManageHolds,
            "retention.hold.list",
        )
        .await?;
        self.holds().await
    }

    async fn holds(&self) -> Result<Vec<HoldInfo>, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT hold_id, reason, placed_by, placed_at, released_by, released_at \
             FROM legal_holds ORDER BY placed_at DESC",
            &[],
            &[Col::Text; 6],
        )
        .await?;
        let members = fetch(
            &self.backend,
            "SELECT hold_id, subject_id FROM legal_hold_subjects ORDER BY subject_id",
            &[],
            &[Col::Text, Col::Text],
        )
        .await?;
        let mut by_hold: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for m in members {
            by_hold
                .entry(m[0].text().unwrap_or_default().to_owned())
                .or_default()
                .push(parse_uuid(
                    m[1].text().unwrap_or_default(),
                    "legal_hold_subjects.subject_id",
                )?);
        }
        rows.iter()
            .map(|r| {
                let id = r[0].text().unwrap_or_default();
                Ok(HoldInfo {
                    hold_id: parse_uuid(id, "legal_holds.hold_id")?,
                    subject_ids: by_hold.get(id).cloned().unwrap_or_default(),
                    reason: r[1].text().unwrap_or_default().to_owned(),
                    placed_by: r[2].text().unwrap_or_default().to_owned(),
                    placed_at: parse_time(
                        r[3].text().unwrap_or_default(),
                        "legal_holds.placed_at",
                    )?,
                    released_by: r[4].text().map(str::to_owned),
                    released_at: r[5]
                        .text()
                        .map(|s| parse_time(s, "legal_holds.released_at"))
                        .transpose()?,
                })
            })
            .collect()
    }

    // ----- plans -----------------------------------------------------------------------

    /// Makes and stores a plan (dry run) as of `as_of` under the policy in force: only
    /// records whose period has passed on that day, held subjects left out. Audited as
    /// `retention.plan`.
    pub async fn create_plan(
        &self,
        actor: &Actor,
        as_of: NaiveDate,
    ) -> Result<StoredPlan, LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::PlanRetention,
            "retention.plan",
        )
        .await?;
        let rules = policy_rule_specs(&self.policy());
        let candidates = self.candidates().await?;
        let holds = self.active_holds().await?;
        let plan = build_plan(&rules, &candidates, &holds, as_of, &actor.id)?;
        self.audit_event(
            actor,
            RETENTION_PURPOSE,
            "retention.plan",
            &[],
            &[],
            Outcome::Ok,
        )
        .await?;
        let json =
            serde_json::to_string(&plan).map_err(|_| LifecycleError::Corrupt("plan_json"))?;
        exec(
            &self.backend,
            "INSERT INTO retention_plans (plan_id, created_by, created_at, as_of, digest, plan_json, state) \
             VALUES ($1, $2, $3, $4, $5, $6, 'planned')",
            &[
                t(plan.id.to_string()),
                t(plan.created_by.clone()),
                t(time_text(plan.created_at)),
                t(plan.as_of.to_string()),
                t(plan.digest.clone()),
                t(json),
            ],
        )
        .await?;
        Ok(StoredPlan {
            plan,
            state: PlanState::Planned,
            approval: None,
            executed_by: None,
            certificate: None,
            certificate_seq: None,
        })
    }

    async fn load_plan(&self, plan_id: Uuid) -> Result<PlanRow, LifecycleError> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM retention_plans WHERE plan_id = $1");
        let rows = fetch(
            &self.backend,
            &sql,
            &[t(plan_id.to_string())],
            &[
                Col::Text,
                Col::Text,
                Col::Text,
                Col::Text,
                Col::Text,
                Col::Int,
                Col::Text,
                Col::Text,
                Col::Int,
            ],
        )
        .await?;
        let r = rows.first().ok_or(LifecycleError::NotFound)?;
        let plan: RetentionPlan = serde_json::from_str(r[0].text().unwrap_or_default())
            .map_err(|_| LifecycleError::Corrupt("retention_plans.plan_json"))?;
        let approval: Option<Approval> = r[2]
            .text()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|_| LifecycleError::Corrupt("retention_plans.approval_json"))?;
        let approver_roles: Vec<String> = r[6]
            .text()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|_| LifecycleError::Corrupt("retention_plans.approver_roles"))?
            .unwrap_or_default();
        Ok(PlanRow {
            stored: StoredPlan {
                plan,
                state: PlanState::parse(r[1].text().unwrap_or_default())?,
                approval,
                executed_by: r[3].text().map(str::to_owned),
                certificate: r[4].text().map(str::to_owned),
                certificate_seq: r[5].int().and_then(|n| u64::try_from(n).ok()),
            },
            approver_roles,
            execution_json: r[7].text().map(str::to_owned),
            audit_seq_first: r[8].int().and_then(|n| u64::try_from(n).ok()),
        })
    }

    /// A stored plan (ids and counts only).
    pub async fn get_plan(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<StoredPlan, LifecycleError> {
        let policy = self.policy();
        let may = [
            Capability::PlanRetention,
            Capability::ApproveRetention,
            Capability::ExecuteRetention,
        ]
        .into_iter()
        .any(|c| policy.has_capability(&actor.roles, RETENTION_PURPOSE, c));
        if !may {
            self.audit_event(
                actor,
                RETENTION_PURPOSE,
                "retention.plan.read",
                &[],
                &[],
                Outcome::Denied,
            )
            .await?;
            return Err(LifecycleError::Forbidden);
        }
        Ok(self.load_plan(plan_id).await?.stored)
    }

    /// Every plan, newest first.
    pub async fn list_plans(&self, actor: &Actor) -> Result<Vec<PlanSummary>, LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::PlanRetention,
            "retention.plan.list",
        )
        .await?;
        let rows = fetch(
            &self.backend,
            "SELECT plan_id FROM retention_plans ORDER BY created_at DESC",
            &[],
            &[Col::Text],
        )
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id = parse_uuid(r[0].text().unwrap_or_default(), "retention_plans.plan_id")?;
            let p = self.load_plan(id).await?.stored;
            out.push(PlanSummary {
                plan_id: id,
                state: p.state,
                as_of: p.plan.as_of,
                created_by: p.plan.created_by.clone(),
                records: p.plan.record_count(),
            });
        }
        Ok(out)
    }

    /// Approves a stored plan as `actor` (C22): needs the `approve_retention` capability
    /// and the `retention_approver` role, and refuses the plan's creator. Audited as
    /// `retention.approve` (refusals too).
    pub async fn approve_plan(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<StoredPlan, LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::ApproveRetention,
            "retention.approve",
        )
        .await?;
        let row = self.load_plan(plan_id).await?;
        if row.stored.state != PlanState::Planned {
            return Err(LifecycleError::InvalidState(format!(
                "the plan is {}",
                row.stored.state.as_str()
            )));
        }
        let approved = match approve(row.stored.plan, &actor.id, &actor.roles) {
            Ok(a) => a,
            Err(e) => {
                self.audit_event(
                    actor,
                    RETENTION_PURPOSE,
                    "retention.approve",
                    &[],
                    &[],
                    Outcome::Denied,
                )
                .await?;
                return Err(e.into());
            }
        };
        self.audit_event(
            actor,
            RETENTION_PURPOSE,
            "retention.approve",
            &[],
            &[],
            Outcome::Ok,
        )
        .await?;
        let approval_json = serde_json::to_string(approved.approval())
            .map_err(|_| LifecycleError::Corrupt("approval_json"))?;
        let roles_json = serde_json::to_string(&actor.roles)
            .map_err(|_| LifecycleError::Corrupt("approver_roles"))?;
        let changed = exec(
            &self.backend,
            "UPDATE retention_plans SET state = 'approved', approval_json = $1, approver_roles = $2 \
             WHERE plan_id = $3 AND state = 'planned'",
            &[t(approval_json), t(roles_json), t(plan_id.to_string())],
        )
        .await?;
        if changed == 0 {
            return Err(LifecycleError::InvalidState(
                "the plan changed meanwhile".into(),
            ));
        }
        Ok(self.load_plan(plan_id).await?.stored)
    }

    /// Executes an approved plan as `actor` (`execute_retention`).
    ///
    /// Every planned record is re-checked against the policy, records and holds as they
    /// are now ([`recheck`]); each subject's erasure is one transaction (wrapped keys
    /// first, then rows), preceded by an entry in the keyring's shred list; progress is
    /// checkpointed per subject, so calling this again after a crash resumes the run.
    /// Ends with a signed [`ErasureCertificate`] covering the run's audit events, stored
    /// and itself recorded in the audit chain.
    pub async fn execute_plan(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<StoredPlan, LifecycleError> {
        self.authorize(
            actor,
            RETENTION_PURPOSE,
            Capability::ExecuteRetention,
            "retention.execute",
        )
        .await?;
        let mut row = self.load_plan(plan_id).await?;
        let approval = match (row.stored.state, row.stored.approval.clone()) {
            (PlanState::Executed, _) => return Ok(row.stored),
            (PlanState::Planned, _) | (_, None) => {
                return Err(LifecycleError::InvalidState(
                    "the plan is not approved".into(),
                ))
            }
            (_, Some(a)) => a,
        };
        let roles_now = self
            .approver_roles_now(&approval.approver, &row.approver_roles)
            .await?;
        let approved = ApprovedPlan::restore(row.stored.plan.clone(), approval, &roles_now)?;
        let today = today_in_japan(Utc::now());
        if row.stored.state == PlanState::Approved {
            let rules = policy_rule_specs(&self.policy());
            let candidates = self.candidates().await?;
            let holds = self.active_holds().await?;
            let set = recheck(&approved, &rules, &candidates, &holds, today)?;
            let first = self
                .audit_event(
                    actor,
                    RETENTION_PURPOSE,
                    "retention.execute.start",
                    &[],
                    &[],
                    Outcome::Ok,
                )
                .await?;
            exec(
                &self.backend,
                "UPDATE retention_plans SET state = 'executing', execution_json = $1, \
                 executed_by = $2, audit_seq_first = $3 WHERE plan_id = $4 AND state = 'approved'",
                &[
                    t(set.to_stored_json()?),
                    t(actor.id.clone()),
                    i(i64::try_from(first).unwrap_or(i64::MAX)),
                    t(plan_id.to_string()),
                ],
            )
            .await?;
            // Whoever won the update, continue from what is stored.
            row = self.load_plan(plan_id).await?;
        }
        let (Some(json), Some(first)) = (row.execution_json.clone(), row.audit_seq_first) else {
            return Err(LifecycleError::Corrupt("retention_plans.execution_json"));
        };
        let set = ExecutionSet::from_stored_json(&json)?;
        let executor = row
            .stored
            .executed_by
            .clone()
            .unwrap_or_else(|| actor.id.clone());

        let mut by_subject: BTreeMap<Uuid, Vec<Item>> = BTreeMap::new();
        for rule in set.rules() {
            for record in &rule.records {
                by_subject.entry(record.subject_id).or_default().push(Item {
                    target: rule.target,
                    action: rule.action,
                    record: record.clone(),
                });
            }
        }
        let done = self.done_subjects(plan_id).await?;
        for (subject, items) in &by_subject {
            if done.contains(subject) {
                continue;
            }
            let targets = self.erase_subject(*subject, items, today).await?;
            self.audit_event(
                actor,
                RETENTION_PURPOSE,
                "retention.erase",
                &[*subject],
                &targets,
                Outcome::Ok,
            )
            .await?;
            exec(
                &self.backend,
                "INSERT INTO retention_progress (plan_id, subject_id, done_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (plan_id, subject_id) DO NOTHING",
                &[
                    t(plan_id.to_string()),
                    t(subject.to_string()),
                    t(time_text(Utc::now())),
                ],
            )
            .await?;
        }
        super::backup::checkpoint_wal(&self.backend).await?;
        let last = self
            .audit_event(
                actor,
                RETENTION_PURPOSE,
                "retention.execute.complete",
                &[],
                &[],
                Outcome::Ok,
            )
            .await?;
        let executed_at = Utc::now();
        let certificate = ErasureCertificate::new(
            &approved,
            &set,
            &executor,
            executed_at,
            AuditSeqRange { first, last },
        )?;
        let signed = certificate.sign(&KeyringCertificateSigner(self.keys.audit_signer()))?;
        let cert_seq = self
            .audit_event(
                actor,
                RETENTION_PURPOSE,
                "retention.certificate",
                &certificate.subject_ids().into_iter().collect::<Vec<_>>(),
                &[],
                Outcome::Ok,
            )
            .await?;
        exec(
            &self.backend,
            "UPDATE retention_plans SET state = 'executed', certificate_json = $1, \
             certificate_seq = $2, executed_at = $3 WHERE plan_id = $4 AND state = 'executing'",
            &[
                t(signed),
                i(i64::try_from(cert_seq).unwrap_or(i64::MAX)),
                t(time_text(executed_at)),
                t(plan_id.to_string()),
            ],
        )
        .await?;
        Ok(self.load_plan(plan_id).await?.stored)
    }

    /// The approver's roles as they are now: an approval by an account that has since
    /// been disabled or lost `retention_approver` no longer lets the plan run. Approvers
    /// that are not accounts of this vault (ids that are not account ids) keep the roles
    /// recorded at approval.
    async fn approver_roles_now(
        &self,
        approver: &str,
        recorded: &[String],
    ) -> Result<Vec<String>, LifecycleError> {
        let Ok(id) = approver.parse::<crate::accounts::AccountId>() else {
            return Ok(recorded.to_vec());
        };
        let account = crate::accounts::Accounts::new(self.backend.clone())
            .get(id)
            .await
            .map_err(|_| {
                LifecycleError::InvalidState("the approver's account could not be read".into())
            })?;
        Ok(match account {
            Some(a) if a.status == crate::accounts::AccountStatus::Active => a.roles,
            _ => Vec::new(),
        })
    }

    /// The signed erasure certificate of an executed plan (JSON); verify it with
    /// [`crate::retention::verify_certificate`] and the keyring's audit public key.
    pub async fn certificate(
        &self,
        actor: &Actor,
        plan_id: Uuid,
    ) -> Result<String, LifecycleError> {
        self.get_plan(actor, plan_id)
            .await?
            .certificate
            .ok_or(LifecycleError::NotFound)
    }

    async fn done_subjects(&self, plan_id: Uuid) -> Result<BTreeSet<Uuid>, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT subject_id FROM retention_progress WHERE plan_id = $1",
            &[t(plan_id.to_string())],
            &[Col::Text],
        )
        .await?;
        rows.iter()
            .map(|r| {
                parse_uuid(
                    r[0].text().unwrap_or_default(),
                    "retention_progress.subject_id",
                )
            })
            .collect()
    }

    /// Erases one subject's planned records in one transaction. Returns the targets
    /// acted on (for the audit event).
    async fn erase_subject(
        &self,
        subject: Uuid,
        items: &[Item],
        today: NaiveDate,
    ) -> Result<Vec<String>, LifecycleError> {
        let all = TenantScope::All;
        let whole = items.iter().any(|i| {
            matches!(
                i.target,
                Target::ExamineePerson | Target::MeisterDeregistered
            ) && i.action.erases()
        });
        let mut ops = Vec::new();
        let mut shreds = Vec::new();
        let mut flag = false;
        let mut dependents_erased = false;
        let targets: BTreeSet<String> =
            items.iter().map(|i| i.target.as_str().to_owned()).collect();
        if whole {
            for compartment in Compartment::ALL {
                shreds.push(ShredEntry {
                    compartment: *compartment,
                    subject_id: subject,
                });
            }
            // Keys first, then every row of the subject (the store's order).
            ops.push(WriteOp::DeleteSubject {
                subject_id: subject,
            });
        } else {
            for item in items {
                match (item.target, item.action) {
                    (
                        Target::MyNumber,
                        RetentionAction::DeleteCompartment | RetentionAction::Delete,
                    ) => {
                        shreds.push(ShredEntry {
                            compartment: Compartment::MyNumber,
                            subject_id: subject,
                        });
                        ops.push(WriteOp::DeleteKey {
                            subject_id: subject,
                            compartment: KeyCompartment::MyNumber,
                        });
                        ops.push(WriteOp::DeleteMyNumber {
                            subject_id: subject,
                        });
                        ops.push(WriteOp::DeleteIndexes {
                            record_id: subject,
                            field: Some(index_names::MY_NUMBER.to_owned()),
                        });
                    }
                    (
                        Target::Application | Target::Result | Target::Qualification,
                        RetentionAction::Delete | RetentionAction::DeleteCompartment,
                    ) => {
                        dependents_erased = true;
                        ops.push(WriteOp::DeleteRecord {
                            record_id: item.record.record_id,
                        });
                    }
                    (Target::Meister, RetentionAction::FlagIntentCheck) => flag = true,
                    // Audit pruning runs through `AuditLog::prune`; other pairs never
                    // come out of `policy_rule_specs`.
                    _ => {}
                }
            }
        }
        // Remember the My Number clock before the applications it comes from go.
        if dependents_erased {
            let apps = self
                .store
                .list_records(
                    &RecordQuery::of_subject(subject)
                        .kind(RecordKind::Application)
                        .limit(1000),
                    &all,
                )
                .await?;
            if let Some(end) = apps
                .iter()
                .filter_map(|a| a.fiscal_year.and_then(|y| FiscalYear(y).last_day()))
                .max()
            {
                self.set_last_application_fy_end(subject, end).await?;
            }
        }
        let mut intent: Option<IntentCheck> = None;
        if flag {
            if let Some(row) = self.store.get_record(subject, &all).await? {
                let status = row
                    .status
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(MeisterStatus::Active);
                if let Ok(next) = status.apply(MeisterEvent::StartIntentCheck) {
                    ops.extend(self.status_ops(&row, next, row.clock_date).await?);
                    intent = IntentCheck::answer_within(today, self.config.intent_answer_within);
                }
            }
        }
        // The shred list is on disk before any key leaves the database.
        if !shreds.is_empty() {
            self.keys.shred(&shreds)?;
        }
        if !ops.is_empty() {
            let batch: WriteBatch = ops.into_iter().collect();
            self.store.apply(batch).await?;
        }
        if let Some(check) = intent {
            exec(
                &self.backend,
                "INSERT INTO meister_intent_checks (meister_id, started_on, deadline) \
                 VALUES ($1, $2, $3) ON CONFLICT (meister_id, started_on) DO NOTHING",
                &[
                    t(subject.to_string()),
                    t(check.started_on.to_string()),
                    t(check.deadline.to_string()),
                ],
            )
            .await?;
        }
        if dependents_erased && !whole {
            let left = self
                .store
                .list_records(&RecordQuery::of_subject(subject).limit(1000), &all)
                .await?;
            let any_dependent = left.iter().any(|r| {
                matches!(
                    r.kind,
                    RecordKind::Application | RecordKind::Result | RecordKind::Qualification
                )
            });
            if !any_dependent && left.iter().any(|r| r.kind == RecordKind::Examinee) {
                exec(
                    &self.backend,
                    "INSERT INTO subject_clocks (subject_id, no_records_since) VALUES ($1, $2) \
                     ON CONFLICT (subject_id) DO UPDATE SET no_records_since = excluded.no_records_since \
                     WHERE subject_clocks.no_records_since IS NULL",
                    &[t(subject.to_string()), t(today.to_string())],
                )
                .await?;
            }
        }
        Ok(targets.into_iter().collect())
    }

    /// The operations that set a meister's status (and clock date) in its record's and
    /// subject's plain columns, without re-sealing anything.
    async fn status_ops(
        &self,
        row: &RecordRow,
        status: MeisterStatus,
        clock_date: Option<NaiveDate>,
    ) -> Result<Vec<WriteOp>, LifecycleError> {
        let now = Utc::now();
        let subject = self
            .store
            .get_subject(row.subject_id, &TenantScope::All)
            .await?
            .ok_or(LifecycleError::NotFound)?;
        Ok(vec![
            WriteOp::UpdateRecord {
                update: RecordUpdate {
                    record_id: row.record_id,
                    prefecture_code: row.prefecture_code.clone(),
                    fiscal_year: row.fiscal_year,
                    clock_date,
                    status: Some(status.as_str().to_owned()),
                    sealed: row.sealed.clone(),
                    updated_at: now,
                },
                expected_version: row.version,
            },
            WriteOp::UpdateSubject {
                subject_id: row.subject_id,
                prefecture_code: subject.prefecture_code,
                status: status.as_str().to_owned(),
                updated_at: now,
            },
        ])
    }

    // ----- meister intent checks (C21) -------------------------------------------------

    async fn may_update_meister(
        &self,
        actor: &Actor,
        purpose: &str,
        meister_id: Uuid,
    ) -> Result<RecordRow, LifecycleError> {
        let row = self
            .store
            .get_record(meister_id, &actor.tenants)
            .await?
            .filter(|r| r.kind == RecordKind::Meister);
        let policy = self.policy();
        let decision = row.as_ref().map(|r| {
            policy.decide(
                &DecisionRequest {
                    roles: &actor.roles,
                    tenants: &actor.tenants,
                    purpose,
                    action: Action::Update,
                    kind: RecordKind::Meister,
                    record_tenant: Some(&r.prefecture_code),
                    suspended: false,
                },
                schema::catalog(),
            )
        });
        match (row, decision) {
            (Some(r), Some(Decision::Permit(_))) => Ok(r),
            (Some(_), Some(Decision::Forbidden(_))) => {
                self.audit_event_dyn(actor, purpose, &[meister_id], Outcome::Denied)
                    .await?;
                Err(LifecycleError::Forbidden)
            }
            _ => {
                self.audit_event_dyn(actor, purpose, &[meister_id], Outcome::NotFound)
                    .await?;
                Err(LifecycleError::NotFound)
            }
        }
    }

    async fn audit_event_dyn(
        &self,
        actor: &Actor,
        purpose: &str,
        subjects: &[Uuid],
        outcome: Outcome,
    ) -> Result<u64, LifecycleError> {
        // Purposes of meister calls come from the caller; the audit keeps a known one.
        let purpose: &'static str = if purpose == "meister_dispatch" {
            "meister_dispatch"
        } else {
            "disclosure_request"
        };
        self.audit_event(
            actor,
            purpose,
            "meister.intent",
            subjects,
            &["status".to_owned()],
            outcome,
        )
        .await
    }

    /// Records a meister's answer to the open intent check (意向確認): `continue` by the
    /// deadline sets the status back to `active`; `no_intent` deregisters (登録解除) with
    /// `deregistered_on` = the answer's day, which starts the `meister_deregistered` clock.
    pub async fn record_intent_answer(
        &self,
        actor: &Actor,
        purpose: &str,
        meister_id: Uuid,
        answer: IntentAnswer,
        answered_on: NaiveDate,
    ) -> Result<MeisterStatus, LifecycleError> {
        let row = self.may_update_meister(actor, purpose, meister_id).await?;
        let today = today_in_japan(Utc::now());
        if answered_on > today {
            return Err(LifecycleError::Invalid("answered_on"));
        }
        let check = self
            .open_intent_check(meister_id)
            .await?
            .ok_or_else(|| LifecycleError::InvalidState("no open intent check".into()))?;
        let Some(event) = check.outcome(Some((answer, answered_on)), today.max(answered_on)) else {
            return Err(LifecycleError::InvalidState(
                "the answer does not close the check yet".into(),
            ));
        };
        let deregistered_on = match event {
            MeisterEvent::NoIntentAnswered => answered_on,
            _ => today,
        };
        self.close_intent_check(
            actor,
            purpose,
            &row,
            check,
            event,
            Some((answer, answered_on)),
            deregistered_on,
        )
        .await
    }

    /// Deregisters every meister in the caller's prefectures whose intent check deadline
    /// passed before `today` without a timely answer. Returns their ids.
    pub async fn close_overdue_intent_checks(
        &self,
        actor: &Actor,
        purpose: &str,
    ) -> Result<Vec<Uuid>, LifecycleError> {
        let today = today_in_japan(Utc::now());
        let rows = fetch(
            &self.backend,
            "SELECT meister_id FROM meister_intent_checks WHERE closed_on IS NULL AND deadline < $1",
            &[t(today.to_string())],
            &[Col::Text],
        )
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id = parse_uuid(
                r[0].text().unwrap_or_default(),
                "meister_intent_checks.meister_id",
            )?;
            let Ok(row) = self.may_update_meister(actor, purpose, id).await else {
                continue;
            };
            let Some(check) = self.open_intent_check(id).await? else {
                continue;
            };
            if let Some(event) = check.outcome(None, today) {
                // The day after the deadline is the first day without a timely answer.
                let on = check.deadline.succ_opt().unwrap_or(today);
                self.close_intent_check(actor, purpose, &row, check, event, None, on)
                    .await?;
                out.push(id);
            }
        }
        Ok(out)
    }

    async fn open_intent_check(
        &self,
        meister_id: Uuid,
    ) -> Result<Option<IntentCheck>, LifecycleError> {
        let rows = fetch(
            &self.backend,
            "SELECT started_on, deadline FROM meister_intent_checks \
             WHERE meister_id = $1 AND closed_on IS NULL ORDER BY started_on DESC",
            &[t(meister_id.to_string())],
            &[Col::Text, Col::Text],
        )
        .await?;
        rows.first()
            .map(|r| {
                Ok(IntentCheck {
                    started_on: parse_date(
                        r[0].text().unwrap_or_default(),
                        "meister_intent_checks.started_on",
                    )?,
                    deadline: parse_date(
                        r[1].text().unwrap_or_default(),
                        "meister_intent_checks.deadline",
                    )?,
                })
            })
            .transpose()
    }

    #[allow(clippy::too_many_arguments)]
    async fn close_intent_check(
        &self,
        actor: &Actor,
        purpose: &str,
        row: &RecordRow,
        check: IntentCheck,
        event: MeisterEvent,
        answer: Option<(IntentAnswer, NaiveDate)>,
        deregistered_on: NaiveDate,
    ) -> Result<MeisterStatus, LifecycleError> {
        let status = row
            .status
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(MeisterStatus::Active);
        let next = status
            .apply(event)
            .map_err(|e| LifecycleError::InvalidState(e.to_string()))?;
        // Deregistration replaces the clock column (certification date) by the
        // deregistration date, which starts the `meister_deregistered` period.
        let clock = if next == MeisterStatus::Deregistered {
            Some(deregistered_on)
        } else {
            row.clock_date
        };
        self.audit_event_dyn(actor, purpose, &[row.subject_id], Outcome::Ok)
            .await?;
        let batch: WriteBatch = self
            .status_ops(row, next, clock)
            .await?
            .into_iter()
            .collect();
        self.store.apply(batch).await?;
        let today = today_in_japan(Utc::now());
        exec(
            &self.backend,
            "UPDATE meister_intent_checks SET answer = $1, answered_on = $2, outcome = $3, closed_on = $4 \
             WHERE meister_id = $5 AND started_on = $6",
            &[
                Bind::OptText(answer.map(|(a, _)| {
                    match a {
                        IntentAnswer::Continue => "continue",
                        IntentAnswer::NoIntent => "no_intent",
                    }
                    .to_owned()
                })),
                Bind::OptText(answer.map(|(_, d)| d.to_string())),
                t(if next == MeisterStatus::Deregistered {
                    "deregistered"
                } else {
                    "active"
                }),
                t(today.to_string()),
                t(row.subject_id.to_string()),
                t(check.started_on.to_string()),
            ],
        )
        .await?;
        Ok(next)
    }

    // ----- policy changes (C15) ----------------------------------------------------------

    /// What loading `new` instead of the policy in force would do: the records (over the
    /// store's current candidates) that become due earlier, as of `as_of`. For
    /// `policy diff` and for [`Lifecycle::replace_policy`].
    pub async fn shortening_check(
        &self,
        new: &Policy,
        as_of: NaiveDate,
    ) -> Result<ShorteningCheck, LifecycleError> {
        let old_rules = policy_rule_specs(&self.policy());
        let new_rules = policy_rule_specs(new);
        let candidates = self.candidates().await?;
        Ok(ShorteningCheck {
            impacts: shortened_impact(&old_rules, &new_rules, &candidates, as_of)?,
        })
    }

    /// Puts `new` in force for retention decisions. Refused when it makes any record
    /// due earlier, unless `acknowledge_shortening` is set (the operator saw the count).
    pub async fn replace_policy(
        &self,
        new: Arc<Policy>,
        acknowledge_shortening: bool,
    ) -> Result<ShorteningCheck, LifecycleError> {
        let check = self
            .shortening_check(&new, today_in_japan(Utc::now()))
            .await?;
        if check.records() > 0 && !acknowledge_shortening {
            return Err(LifecycleError::ShorteningNotAcknowledged {
                records: check.records(),
            });
        }
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(check)
    }
}
