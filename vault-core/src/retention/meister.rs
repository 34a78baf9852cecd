//! Meister inactivity (C21): the 3-year no-activity report and the intent-check lifecycle.
//!
//! Seeds 000/001/004: ものづくりマイスター with no activity in the past 3 years are listed,
//! asked whether they intend to continue (意思確認), and deregistered (登録解除) when they
//! do not or do not answer by the deadline. Deregistration starts the
//! [`Target::MeisterDeregistered`](super::Target::MeisterDeregistered) clock; this rule
//! itself never deletes.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::period::Period;

/// The default inactivity period: 3 years (過去3年間に活動実績のない).
pub const MEISTER_INACTIVITY_PERIOD: Period = Period::years(3);

/// A meister's registration status (the `status` field of the meister record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeisterStatus {
    /// Registered and available for dispatch.
    Active,
    /// Asked whether they intend to continue (意思確認中).
    IntentCheck,
    /// Deregistered (登録解除).
    Deregistered,
}

impl MeisterStatus {
    /// The stored name: `active`, `intent_check`, `deregistered`.
    pub fn as_str(self) -> &'static str {
        match self {
            MeisterStatus::Active => "active",
            MeisterStatus::IntentCheck => "intent_check",
            MeisterStatus::Deregistered => "deregistered",
        }
    }

    /// The status after `event`, or an error when the event is not allowed in this status.
    ///
    /// active → intent_check (start) → active (continue) | deregistered (no intent,
    /// or no answer by the deadline). Deregistered is final.
    pub fn apply(self, event: MeisterEvent) -> Result<MeisterStatus, MeisterTransitionError> {
        match (self, event) {
            (MeisterStatus::Active, MeisterEvent::StartIntentCheck) => {
                Ok(MeisterStatus::IntentCheck)
            }
            (MeisterStatus::IntentCheck, MeisterEvent::ContinueAnswered) => {
                Ok(MeisterStatus::Active)
            }
            (
                MeisterStatus::IntentCheck,
                MeisterEvent::NoIntentAnswered | MeisterEvent::DeadlinePassed,
            ) => Ok(MeisterStatus::Deregistered),
            (from, event) => Err(MeisterTransitionError { from, event }),
        }
    }
}

impl fmt::Display for MeisterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of `active`, `intent_check`, `deregistered`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown meister status")]
pub struct UnknownMeisterStatus;

impl FromStr for MeisterStatus {
    type Err = UnknownMeisterStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(MeisterStatus::Active),
            "intent_check" => Ok(MeisterStatus::IntentCheck),
            "deregistered" => Ok(MeisterStatus::Deregistered),
            _ => Err(UnknownMeisterStatus),
        }
    }
}

/// Something that moves a meister's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeisterEvent {
    /// The coordinator asks an inactive meister about their intent.
    StartIntentCheck,
    /// The meister answered, by the deadline, that they continue.
    ContinueAnswered,
    /// The meister answered that they do not intend to continue.
    NoIntentAnswered,
    /// The deadline passed without a timely answer to continue.
    DeadlinePassed,
}

/// An event that is not allowed in the current status (for example a second intent
/// check of a deregistered meister).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("meister status {from} does not allow {event:?}")]
pub struct MeisterTransitionError {
    /// The status the event was applied to.
    pub from: MeisterStatus,
    /// The refused event.
    pub event: MeisterEvent,
}

/// A meister's answer to the intent check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentAnswer {
    /// Intends to continue (活動の意思あり).
    Continue,
    /// Does not intend to continue (意思なし).
    NoIntent,
}

/// An open intent check: asked on `started_on`, answers accepted through `deadline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentCheck {
    /// The day the meister was asked.
    pub started_on: NaiveDate,
    /// The last day an answer counts (inclusive).
    pub deadline: NaiveDate,
}

impl IntentCheck {
    /// An intent check started on `started_on` whose answers count for `answer_within`
    /// (counted like a retention period: asked 2026-04-10 with one month, the deadline
    /// is 2026-05-10). `None` for a permanent period.
    pub fn answer_within(started_on: NaiveDate, answer_within: Period) -> Option<IntentCheck> {
        Some(IntentCheck {
            started_on,
            deadline: answer_within.kept_through(started_on)?,
        })
    }

    /// The event an answer (with the day it arrived) or the lack of one produces on `today`;
    /// `None` while the check is still open.
    ///
    /// "No intent" deregisters whenever it arrives; "continue" counts only when it arrives
    /// by the deadline; with no timely "continue", the day after the deadline deregisters.
    pub fn outcome(
        &self,
        answer: Option<(IntentAnswer, NaiveDate)>,
        today: NaiveDate,
    ) -> Option<MeisterEvent> {
        match answer {
            Some((IntentAnswer::NoIntent, _)) => Some(MeisterEvent::NoIntentAnswered),
            Some((IntentAnswer::Continue, on)) if on <= self.deadline => {
                Some(MeisterEvent::ContinueAnswered)
            }
            _ if today > self.deadline => Some(MeisterEvent::DeadlinePassed),
            _ => None,
        }
    }
}

/// What the inactivity report needs of one meister. Dates are values of the meister
/// record: `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct MeisterStanding {
    /// The meister.
    pub meister_id: Uuid,
    /// 認定日 (certification date).
    pub certified_on: NaiveDate,
    /// Date of the latest activity, if any.
    pub last_activity: Option<NaiveDate>,
    /// Current status.
    pub status: MeisterStatus,
}

impl fmt::Debug for MeisterStanding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeisterStanding")
            .field("meister_id", &self.meister_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The active meisters whose latest of (last activity, certification) is more than
/// `period` before `as_of` (counted like a retention period, so with 3 years and a last
/// activity on 2023-06-10 a meister is listed from 2026-06-11). Input order is kept.
pub fn inactive_meisters(
    meisters: &[MeisterStanding],
    period: Period,
    as_of: NaiveDate,
) -> Vec<Uuid> {
    meisters
        .iter()
        .filter(|m| m.status == MeisterStatus::Active)
        .filter(|m| {
            let latest = m
                .last_activity
                .map_or(m.certified_on, |a| a.max(m.certified_on));
            period.due_from(latest).is_some_and(|due| as_of >= due)
        })
        .map(|m| m.meister_id)
        .collect()
}
