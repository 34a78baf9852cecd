//! The pre-check of an approved plan at execution time (実行直前の再確認).
//!
//! Between approval and execution, rules may have been lengthened, a record's clock
//! may have moved (a new application), a hold may have been placed or a record may
//! be gone. [`recheck`] re-evaluates every record of the plan against the state at
//! execution time and keeps only those still due; it never adds a record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::approval::ApprovedPlan;
use super::plan::{LegalHolds, PlannedRecord};
use super::rules::{index_candidates, index_rules, RetentionAction, RuleSpec, Target};
use super::{Candidate, RetentionError};

/// Why a planned record is not acted on at execution time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The subject is under a legal hold now.
    Held,
    /// The rule is unchanged but the record is not due now (its clock moved, or the
    /// execution day is before the period's end).
    NotDue,
    /// The rule's period or clock changed since the plan and the record is not due under it.
    NotDueUnderChangedRule,
    /// The record has no clock date now.
    ClockMissing,
    /// The record no longer exists (or is no longer of this kind).
    RecordGone,
    /// The record now belongs to another subject than in the plan.
    SubjectChanged,
    /// No current rule applies to the record's kind.
    RuleRemoved,
    /// The current rule's action differs from the approved one.
    ActionChanged,
}

/// A planned record left out at execution time, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRecord {
    /// The plan rule it was planned under.
    pub rule: String,
    /// The record as planned.
    pub record: PlannedRecord,
    /// Why it is left out.
    pub reason: SkipReason,
}

/// What one rule acts on at execution time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRule {
    /// The rule's name (as in the plan).
    pub rule: String,
    /// The rule's target.
    pub target: Target,
    /// The approved action.
    pub action: RetentionAction,
    /// The records still due, a subset of the plan's, ordered by record id.
    pub records: Vec<PlannedRecord>,
}

/// The records an approved plan may act on now. Only [`recheck`] makes one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExecutionSet {
    plan_id: Uuid,
    plan_digest: String,
    checked_on: NaiveDate,
    rules: Vec<ExecutionRule>,
    skipped: Vec<SkippedRecord>,
}

impl ExecutionSet {
    /// The plan this set comes from.
    pub fn plan_id(&self) -> Uuid {
        self.plan_id
    }

    /// The digest of the approved plan.
    pub fn plan_digest(&self) -> &str {
        &self.plan_digest
    }

    /// The day the records were re-checked for.
    pub fn checked_on(&self) -> NaiveDate {
        self.checked_on
    }

    /// What to do, per rule.
    pub fn rules(&self) -> &[ExecutionRule] {
        &self.rules
    }

    /// Planned records left out, with reasons.
    pub fn skipped(&self) -> &[SkippedRecord] {
        &self.skipped
    }

    /// Number of records to act on.
    pub fn record_count(&self) -> usize {
        self.rules.iter().map(|r| r.records.len()).sum()
    }

    /// The set as stored by the executor when it started (JSON), to resume a run that
    /// was interrupted. Crate-private: outside vault-core only [`recheck`] makes a set.
    pub(crate) fn to_stored_json(&self) -> Result<String, RetentionError> {
        serde_json::to_string(self).map_err(|_| RetentionError::Encoding)
    }

    /// Reads back a set stored with [`ExecutionSet::to_stored_json`].
    pub(crate) fn from_stored_json(json: &str) -> Result<ExecutionSet, RetentionError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Stored {
            plan_id: Uuid,
            plan_digest: String,
            checked_on: NaiveDate,
            rules: Vec<ExecutionRule>,
            skipped: Vec<SkippedRecord>,
        }
        let s: Stored = serde_json::from_str(json).map_err(|_| RetentionError::Encoding)?;
        Ok(ExecutionSet {
            plan_id: s.plan_id,
            plan_digest: s.plan_digest,
            checked_on: s.checked_on,
            rules: s.rules,
            skipped: s.skipped,
        })
    }

    /// Whether a record of `kind` is to be acted on.
    pub fn contains(&self, kind: Target, record_id: Uuid) -> bool {
        self.rules
            .iter()
            .filter(|r| r.target == kind)
            .any(|r| r.records.iter().any(|p| p.record_id == record_id))
    }
}

/// Re-evaluates every record of an approved plan against the rules, candidates and
/// holds as they are at execution time, on the day `now` (use
/// [`today_in_japan`](super::today_in_japan) of the real clock).
///
/// A record stays only if its kind still has a rule with the approved action, it still
/// exists for the same subject, its subject is not held, and its period has passed on
/// `now` under the current rule. Everything else is reported in
/// [`ExecutionSet::skipped`]. Records not in the plan are never added.
pub fn recheck(
    approved: &ApprovedPlan,
    current_rules: &[RuleSpec],
    current_candidates: &[Candidate],
    current_holds: &LegalHolds,
    now: NaiveDate,
) -> Result<ExecutionSet, RetentionError> {
    let plan = approved.plan();
    let rules_now = index_rules(current_rules)?;
    let candidates_now = index_candidates(current_candidates)?;

    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for planned_rule in &plan.rules {
        let rule_now = rules_now.get(&planned_rule.target).copied();
        let mut keep = Vec::new();
        for record in &planned_rule.records {
            let reason = match rule_now {
                None => Some(SkipReason::RuleRemoved),
                Some(rule) if rule.action != planned_rule.action => Some(SkipReason::ActionChanged),
                Some(rule) => match candidates_now.get(&(record.kind, record.record_id)) {
                    None => Some(SkipReason::RecordGone),
                    // A record whose kind is not the rule's target cannot be in a
                    // plan made by `build_plan`; treat one as gone.
                    Some(_) if record.kind != planned_rule.target => Some(SkipReason::RecordGone),
                    Some(c) if c.subject_id != record.subject_id => {
                        Some(SkipReason::SubjectChanged)
                    }
                    Some(c) if current_holds.contains(&c.subject_id) => Some(SkipReason::Held),
                    Some(c) if c.clock_date.is_none() => Some(SkipReason::ClockMissing),
                    Some(c) if !rule.is_due(c.clock_date, now) => {
                        if rule.period != planned_rule.period || rule.clock != planned_rule.clock {
                            Some(SkipReason::NotDueUnderChangedRule)
                        } else {
                            Some(SkipReason::NotDue)
                        }
                    }
                    Some(_) => None,
                },
            };
            match reason {
                None => keep.push(record.clone()),
                Some(reason) => skipped.push(SkippedRecord {
                    rule: planned_rule.rule.clone(),
                    record: record.clone(),
                    reason,
                }),
            }
        }
        rules.push(ExecutionRule {
            rule: planned_rule.rule.clone(),
            target: planned_rule.target,
            action: planned_rule.action,
            records: keep,
        });
    }
    Ok(ExecutionSet {
        plan_id: plan.id,
        plan_digest: plan.digest.clone(),
        checked_on: now,
        rules,
        skipped,
    })
}
