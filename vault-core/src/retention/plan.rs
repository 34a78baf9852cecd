//! Retention plans (廃棄計画): the dry run that lists what a run would act on.
//!
//! A plan holds only records whose period has passed on the plan's `as_of` day and
//! whose subject is not under a legal hold. It carries a SHA-256 digest of its
//! content: the approval and the erasure certificate cite the digest, so a plan
//! changed after it was made or approved is detected.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::period::Period;
use super::rules::{index_candidates, index_rules, ClockEvent, RetentionAction, RuleSpec, Target};
use super::{Candidate, RetentionError};

/// Subjects under a legal hold (訴訟・調査等による廃棄停止): nothing of theirs is acted on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegalHolds {
    subjects: BTreeSet<Uuid>,
}

impl LegalHolds {
    /// No holds.
    pub fn new() -> LegalHolds {
        LegalHolds::default()
    }

    /// Puts a subject under hold.
    pub fn hold(&mut self, subject_id: Uuid) {
        self.subjects.insert(subject_id);
    }

    /// Whether the subject is under hold.
    pub fn contains(&self, subject_id: &Uuid) -> bool {
        self.subjects.contains(subject_id)
    }

    /// How many subjects are under hold.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether no subject is under hold.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }
}

impl FromIterator<Uuid> for LegalHolds {
    fn from_iter<I: IntoIterator<Item = Uuid>>(iter: I) -> Self {
        LegalHolds {
            subjects: iter.into_iter().collect(),
        }
    }
}

/// One record a plan acts on. Ids only: no clock date or other value of the record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedRecord {
    /// The record.
    pub record_id: Uuid,
    /// Its subject.
    pub subject_id: Uuid,
    /// What it is.
    pub kind: Target,
    /// Its prefecture code.
    pub prefecture: String,
}

/// How the candidates of one rule were counted when the plan was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCounts {
    /// Due and in the plan.
    pub due: u64,
    /// Due, but the subject is under a legal hold: left out.
    pub held: u64,
    /// Distinct held subjects among those.
    pub held_subjects: u64,
    /// Period not passed yet: left out.
    pub not_due: u64,
    /// No clock date (the event has not happened): left out.
    pub missing_clock: u64,
}

/// What one rule of a plan acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRule {
    /// The rule's name.
    pub rule: String,
    /// The rule's target (the kind of every record below).
    pub target: Target,
    /// The rule's clock event when the plan was made.
    pub clock: ClockEvent,
    /// The rule's period when the plan was made.
    pub period: Period,
    /// What the run does to the records.
    pub action: RetentionAction,
    /// Counts of the rule's candidates.
    pub counts: PlanCounts,
    /// Due records per prefecture code.
    pub by_prefecture: BTreeMap<String, u64>,
    /// The records, ordered by record id.
    pub records: Vec<PlannedRecord>,
}

impl PlanRule {
    /// The ids of the records.
    pub fn record_ids(&self) -> BTreeSet<Uuid> {
        self.records.iter().map(|r| r.record_id).collect()
    }

    /// The ids of the subjects the records belong to.
    pub fn subject_ids(&self) -> BTreeSet<Uuid> {
        self.records.iter().map(|r| r.subject_id).collect()
    }
}

/// A retention plan (廃棄計画): a stored dry run, approved by a second person before it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPlan {
    /// The plan's id.
    pub id: Uuid,
    /// The day the periods were evaluated for (JST calendar day).
    pub as_of: NaiveDate,
    /// The account that made the plan.
    pub created_by: String,
    /// When the plan was made.
    pub created_at: DateTime<Utc>,
    /// One entry per rule that acts (rules whose action is `keep` are left out), by name.
    pub rules: Vec<PlanRule>,
    /// Lower-case hex SHA-256 of the canonical encoding of everything above.
    pub digest: String,
}

impl RetentionPlan {
    /// Number of records in the plan.
    pub fn record_count(&self) -> usize {
        self.rules.iter().map(|r| r.records.len()).sum()
    }

    /// Records in the plan per kind.
    pub fn counts_by_kind(&self) -> BTreeMap<Target, u64> {
        let mut counts = BTreeMap::new();
        for rule in &self.rules {
            for record in &rule.records {
                *counts.entry(record.kind).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Whether `record_id` of `kind` is in the plan.
    pub fn contains(&self, kind: Target, record_id: Uuid) -> bool {
        self.rules
            .iter()
            .filter(|r| r.target == kind)
            .any(|r| r.records.iter().any(|p| p.record_id == record_id))
    }
}

/// Builds a plan: for each rule that acts, the candidates of its target whose period
/// has passed on `as_of` and whose subject is not held.
///
/// The decisions depend only on the arguments; the plan's id and `created_at` are
/// fresh. Errors when the rule set is ambiguous (a name or target twice, an empty
/// name) or a record is listed twice.
pub fn build_plan(
    rules: &[RuleSpec],
    candidates: &[Candidate],
    holds: &LegalHolds,
    as_of: NaiveDate,
    created_by: &str,
) -> Result<RetentionPlan, RetentionError> {
    if created_by.trim().is_empty() {
        return Err(RetentionError::MissingActor);
    }
    let by_target = index_rules(rules)?;
    let by_record = index_candidates(candidates)?;

    let mut plan_rules = Vec::new();
    for rule in by_target.values() {
        if rule.action == RetentionAction::Keep {
            continue;
        }
        let mut counts = PlanCounts::default();
        let mut held_subjects = BTreeSet::new();
        let mut by_prefecture = BTreeMap::new();
        let mut records = Vec::new();
        // `by_record` is ordered by (kind, record id): records come out sorted.
        for candidate in by_record.values().filter(|c| c.kind == rule.target) {
            if candidate.clock_date.is_none() {
                counts.missing_clock += 1;
            } else if !rule.is_due(candidate.clock_date, as_of) {
                counts.not_due += 1;
            } else if holds.contains(&candidate.subject_id) {
                counts.held += 1;
                held_subjects.insert(candidate.subject_id);
            } else {
                counts.due += 1;
                *by_prefecture
                    .entry(candidate.prefecture.clone())
                    .or_insert(0) += 1;
                records.push(PlannedRecord {
                    record_id: candidate.record_id,
                    subject_id: candidate.subject_id,
                    kind: candidate.kind,
                    prefecture: candidate.prefecture.clone(),
                });
            }
        }
        counts.held_subjects = held_subjects.len() as u64;
        plan_rules.push(PlanRule {
            rule: rule.name.clone(),
            target: rule.target,
            clock: rule.clock,
            period: rule.period,
            action: rule.action,
            counts,
            by_prefecture,
            records,
        });
    }
    plan_rules.sort_by(|a, b| a.rule.cmp(&b.rule));

    let mut plan = RetentionPlan {
        id: Uuid::new_v4(),
        as_of,
        created_by: created_by.to_owned(),
        created_at: Utc::now(),
        rules: plan_rules,
        digest: String::new(),
    };
    plan.digest = plan_digest(&plan)?;
    Ok(plan)
}

/// Whether the plan's digest matches its content (the plan was not changed since it was made).
pub fn verify_digest(plan: &RetentionPlan) -> bool {
    plan_digest(plan).is_ok_and(|d| d == plan.digest)
}

/// Domain separation: a plan digest can never be mistaken for another SHA-256 of the vault.
const PLAN_DIGEST_DOMAIN: &[u8] = b"kentei-vault/retention-plan/v1\n";

/// Everything of a plan but its digest, in a fixed field order.
#[derive(Serialize)]
struct PlanContent<'a> {
    id: &'a Uuid,
    as_of: &'a NaiveDate,
    created_by: &'a str,
    created_at: &'a DateTime<Utc>,
    rules: &'a [PlanRule],
}

/// SHA-256 over the domain tag and the compact JSON of [`PlanContent`]. Struct fields
/// serialise in declaration order and every map is a `BTreeMap`, so the encoding of a
/// given plan is always the same bytes.
pub(crate) fn plan_digest(plan: &RetentionPlan) -> Result<String, RetentionError> {
    let content = PlanContent {
        id: &plan.id,
        as_of: &plan.as_of,
        created_by: &plan.created_by,
        created_at: &plan.created_at,
        rules: &plan.rules,
    };
    let json = serde_json::to_vec(&content).map_err(|_| RetentionError::Encoding)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(PLAN_DIGEST_DOMAIN);
    ctx.update(&json);
    Ok(hex::encode(ctx.finish().as_ref()))
}
