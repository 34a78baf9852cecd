//! Retention rules (保存期間の定め) as this module sees them, and their evaluation.
//!
//! These types are the module's own input: adapters turn the policy's rules and the
//! store's rows into them, so the core stays pure (no store, no keyring, no clock).

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::period::Period;
use super::RetentionError;

/// What a retention rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Target {
    /// 個人番号: the My Number compartment row and its key (nothing else of the subject).
    MyNumber,
    /// 受検申請: one application.
    Application,
    /// 受検管理: the result of one application.
    Result,
    /// 受検者: the examinee person record.
    ExamineePerson,
    /// 技能士名簿: a qualification.
    Qualification,
    /// ものづくりマイスター (registered): subject to the inactivity rule.
    Meister,
    /// A deregistered meister (登録解除後).
    MeisterDeregistered,
    /// Audit events (アクセス記録).
    AuditEvents,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 8] = [
        Target::MyNumber,
        Target::Application,
        Target::Result,
        Target::ExamineePerson,
        Target::Qualification,
        Target::Meister,
        Target::MeisterDeregistered,
        Target::AuditEvents,
    ];

    /// The snake_case name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::MyNumber => "my_number",
            Target::Application => "application",
            Target::Result => "result",
            Target::ExamineePerson => "examinee_person",
            Target::Qualification => "qualification",
            Target::Meister => "meister",
            Target::MeisterDeregistered => "meister_deregistered",
            Target::AuditEvents => "audit_events",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event that starts a retention clock. The adapter that builds [`Candidate`]s
/// resolves it to a date per record; this module only reads the resolved date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClockEvent {
    /// End of the fiscal year (年度末) of the subject's last application.
    LastApplicationFiscalYearEnd,
    /// The subject's request to delete (削除請求).
    DeletionRequest,
    /// The day no application, result or qualification of the examinee remains.
    NoRecordsRemain,
    /// 合格日付 (pass date).
    PassDate,
    /// The meister's last activity, or the certification date when there was none.
    LastActivity,
    /// 登録解除日 (deregistration date).
    DeregistrationDate,
    /// When the audit event was written.
    EventTime,
    /// End of the fiscal year (年度末) the record belongs to (the exam's fiscal year).
    FiscalYearEnd,
}

/// What happens to a record once its period has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RetentionAction {
    /// Delete the record (and shred the subject key when nothing else of it remains).
    Delete,
    /// Delete the My Number compartment row and its key; the rest remains.
    DeleteCompartment,
    /// Mark the meister `intent_check` (意向確認); never deletes.
    FlagIntentCheck,
    /// Keep: the rule never selects anything.
    Keep,
    /// Delete old audit events, keeping the chain verifiable from a signed checkpoint.
    Prune,
}

impl RetentionAction {
    /// Whether the action removes data (and so belongs on an erasure certificate).
    pub fn erases(self) -> bool {
        matches!(
            self,
            RetentionAction::Delete | RetentionAction::DeleteCompartment | RetentionAction::Prune
        )
    }

    /// The kind of effect, for comparing two rules: erasing, flagging, or nothing.
    pub(crate) fn effect(self) -> Effect {
        match self {
            RetentionAction::Delete
            | RetentionAction::DeleteCompartment
            | RetentionAction::Prune => Effect::Erase,
            RetentionAction::FlagIntentCheck => Effect::Flag,
            RetentionAction::Keep => Effect::Nothing,
        }
    }
}

/// The kind of effect a rule has on a due record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Erase,
    Flag,
    Nothing,
}

/// One retention rule: which records, from which event, for how long, then what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// The rule's name, unique in a rule set; plans and certificates cite it.
    pub name: String,
    /// What the rule applies to. A rule set has at most one rule per target.
    pub target: Target,
    /// The event that starts the clock.
    pub clock: ClockEvent,
    /// How long records are kept after the clock event.
    pub period: Period,
    /// What happens once the period has passed.
    pub action: RetentionAction,
}

impl RuleSpec {
    /// See [`due_from`].
    pub fn due_from(&self, clock_date: NaiveDate) -> Option<NaiveDate> {
        self.period.due_from(clock_date)
    }

    /// See [`is_due`].
    pub fn is_due(&self, clock_date: Option<NaiveDate>, as_of: NaiveDate) -> bool {
        is_due(self, clock_date, as_of)
    }
}

/// The first day a record of `rule` whose clock event fell on `clock_date` is due;
/// `None` when the rule's period is permanent.
pub fn due_from(rule: &RuleSpec, clock_date: NaiveDate) -> Option<NaiveDate> {
    rule.due_from(clock_date)
}

/// Whether the record's period under `rule` has passed on `as_of`: true only when
/// `as_of >= due_from`. A missing clock date and a permanent period are never due.
pub fn is_due(rule: &RuleSpec, clock_date: Option<NaiveDate>, as_of: NaiveDate) -> bool {
    clock_date
        .and_then(|clock| rule.due_from(clock))
        .is_some_and(|due| as_of >= due)
}

/// A record a rule may apply to, with its clock date already resolved by the adapter
/// (the fiscal-year end of the last application, the last activity, the pass date …).
///
/// The clock date is a value of the record: `Debug` shows only whether it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The subject (examinee or meister) the record belongs to; legal holds name subjects.
    pub subject_id: Uuid,
    /// The record (for [`Target::MyNumber`] the compartment row, for audit events the segment).
    pub record_id: Uuid,
    /// What the record is; matched against [`RuleSpec::target`].
    pub kind: Target,
    /// When the clock event happened; `None` when it has not (the record is never due).
    pub clock_date: Option<NaiveDate>,
    /// Prefecture code (都道府県コード) of the record, for per-prefecture counts.
    pub prefecture: String,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("subject_id", &self.subject_id)
            .field("record_id", &self.record_id)
            .field("kind", &self.kind)
            .field(
                "clock_date",
                &if self.clock_date.is_some() {
                    "<set>"
                } else {
                    "<none>"
                },
            )
            .field("prefecture", &self.prefecture)
            .finish()
    }
}

/// Checks a rule set (names present and unique, one rule per target) and indexes it by target.
pub(crate) fn index_rules(
    rules: &[RuleSpec],
) -> Result<BTreeMap<Target, &RuleSpec>, RetentionError> {
    let mut by_target = BTreeMap::new();
    let mut names = std::collections::BTreeSet::new();
    for rule in rules {
        if rule.name.trim().is_empty() {
            return Err(RetentionError::EmptyRuleName);
        }
        if !names.insert(rule.name.as_str()) {
            return Err(RetentionError::DuplicateRuleName {
                name: rule.name.clone(),
            });
        }
        if by_target.insert(rule.target, rule).is_some() {
            return Err(RetentionError::DuplicateRuleTarget {
                target: rule.target,
            });
        }
    }
    Ok(by_target)
}

/// Indexes candidates by (kind, record id), refusing a record listed twice (which would
/// leave it unclear which clock date counts).
pub(crate) fn index_candidates(
    candidates: &[Candidate],
) -> Result<BTreeMap<(Target, Uuid), &Candidate>, RetentionError> {
    let mut by_record = BTreeMap::new();
    for candidate in candidates {
        if by_record
            .insert((candidate.kind, candidate.record_id), candidate)
            .is_some()
        {
            return Err(RetentionError::DuplicateCandidate {
                kind: candidate.kind,
                record_id: candidate.record_id,
            });
        }
    }
    Ok(by_record)
}
