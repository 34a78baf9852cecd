//! The impact of a policy change that shortens retention (C15: shown before it applies).

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::period::Period;
use super::rules::{index_candidates, index_rules, Effect, RetentionAction, RuleSpec, Target};
use super::{Candidate, RetentionError};

/// A record that the new rule would make due earlier than the old one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImpactedRecord {
    /// The record.
    pub record_id: Uuid,
    /// Its subject.
    pub subject_id: Uuid,
    /// Whether it would be due already on the `as_of` day under the new rule.
    pub due_now: bool,
}

/// One new rule that makes records due earlier, and those records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShortenedImpact {
    /// The new rule's name.
    pub rule: String,
    /// Its target.
    pub target: Target,
    /// The old rule's period and action (`None`: the target had no rule).
    pub old: Option<(Period, RetentionAction)>,
    /// The new rule's period.
    pub new_period: Period,
    /// The new rule's action.
    pub new_action: RetentionAction,
    /// The clock event changed too: dates were compared from the candidates' one clock date.
    pub clock_changed: bool,
    /// The records, ordered by record id.
    pub records: Vec<ImpactedRecord>,
}

impl ShortenedImpact {
    /// How many of the records would be due on the `as_of` day.
    pub fn due_now(&self) -> usize {
        self.records.iter().filter(|r| r.due_now).count()
    }
}

/// For each rule of `new_rules`, the candidates that would become due earlier than under
/// `old_rules`, among those not already due under the old rule on `as_of`.
///
/// Rules are matched by target. "Due" means due for the same kind of effect: a change
/// from `keep` or `flag_intent_check` to an erasing action makes every dated record of
/// the target due earlier (it was never to be erased); a new rule that keeps causes no
/// impact. Only rules with at least one such record are returned. The candidates'
/// clock dates are used for both rules; `clock_changed` says when that is an approximation.
pub fn shortened_impact(
    old_rules: &[RuleSpec],
    new_rules: &[RuleSpec],
    candidates: &[Candidate],
    as_of: NaiveDate,
) -> Result<Vec<ShortenedImpact>, RetentionError> {
    let old_by_target = index_rules(old_rules)?;
    let new_by_target = index_rules(new_rules)?;
    let by_record = index_candidates(candidates)?;

    let mut impacts = Vec::new();
    for new in new_by_target.values() {
        if new.action.effect() == Effect::Nothing {
            continue;
        }
        let old = old_by_target.get(&new.target).copied();
        // The old rule counts only if it had the same kind of effect.
        let old_same_effect = old.filter(|o| o.action.effect() == new.action.effect());
        let mut records = Vec::new();
        for candidate in by_record.values().filter(|c| c.kind == new.target) {
            let Some(clock) = candidate.clock_date else {
                continue;
            };
            let Some(new_due) = new.due_from(clock) else {
                continue;
            };
            let old_due = old_same_effect.and_then(|o| o.due_from(clock));
            let earlier = old_due.is_none_or(|old_due| new_due < old_due);
            let already_due_under_old = old_due.is_some_and(|old_due| as_of >= old_due);
            if earlier && !already_due_under_old {
                records.push(ImpactedRecord {
                    record_id: candidate.record_id,
                    subject_id: candidate.subject_id,
                    due_now: as_of >= new_due,
                });
            }
        }
        if !records.is_empty() {
            impacts.push(ShortenedImpact {
                rule: new.name.clone(),
                target: new.target,
                old: old.map(|o| (o.period, o.action)),
                new_period: new.period,
                new_action: new.action,
                clock_changed: old.is_some_and(|o| o.clock != new.clock),
                records,
            });
        }
    }
    Ok(impacts)
}
