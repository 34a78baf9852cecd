//! Approval of a retention plan by a second person (二者確認, C22).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::plan::{plan_digest, RetentionPlan};

/// The role an approver must hold.
pub const RETENTION_APPROVER_ROLE: &str = "retention_approver";

/// Why a plan was not approved. Names the reason, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// The plan's content does not match its digest: it was changed after it was made.
    #[error("the plan does not match its digest")]
    DigestMismatch,
    /// The approver is the account that made the plan.
    #[error("the plan's creator cannot approve it")]
    CreatorCannotApprove,
    /// The approver does not hold the approver role.
    #[error("the approver lacks the role `{role}`")]
    MissingRole {
        /// The role that is needed.
        role: &'static str,
    },
    /// No approver account was named.
    #[error("no approver account")]
    MissingApprover,
    /// A stored approval belongs to another plan, or to another version of this one.
    #[error("the approval is for another plan")]
    ApprovalForOtherPlan,
}

/// The record of an approval: who approved which plan content, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The approved plan.
    pub plan_id: Uuid,
    /// The digest of the plan as approved.
    pub plan_digest: String,
    /// The approving account.
    pub approver: String,
    /// When it was approved.
    pub approved_at: DateTime<Utc>,
}

/// A plan together with a valid approval. Only [`approve`] and [`ApprovedPlan::restore`]
/// make one, so holding one means the two-person check was passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovedPlan {
    plan: RetentionPlan,
    approval: Approval,
}

impl ApprovedPlan {
    /// Re-creates an approved plan from storage, re-running every check of [`approve`]
    /// against the approver's roles as they are now and the stored approval's digest.
    pub fn restore<R: AsRef<str>>(
        plan: RetentionPlan,
        approval: Approval,
        approver_roles: &[R],
    ) -> Result<ApprovedPlan, ApprovalError> {
        check(&plan, &approval.approver, approver_roles)?;
        if approval.plan_id != plan.id || approval.plan_digest != plan.digest {
            return Err(ApprovalError::ApprovalForOtherPlan);
        }
        Ok(ApprovedPlan { plan, approval })
    }

    /// The plan.
    pub fn plan(&self) -> &RetentionPlan {
        &self.plan
    }

    /// The approval (to store beside the plan and write to the audit log).
    pub fn approval(&self) -> &Approval {
        &self.approval
    }
}

/// Approves a plan as `approver_id`. Refused when the plan does not match its digest,
/// when the approver made the plan (same account), or lacks [`RETENTION_APPROVER_ROLE`].
pub fn approve<R: AsRef<str>>(
    plan: RetentionPlan,
    approver_id: &str,
    approver_roles: &[R],
) -> Result<ApprovedPlan, ApprovalError> {
    check(&plan, approver_id, approver_roles)?;
    let approval = Approval {
        plan_id: plan.id,
        plan_digest: plan.digest.clone(),
        approver: approver_id.to_owned(),
        approved_at: Utc::now(),
    };
    Ok(ApprovedPlan { plan, approval })
}

fn check<R: AsRef<str>>(
    plan: &RetentionPlan,
    approver_id: &str,
    approver_roles: &[R],
) -> Result<(), ApprovalError> {
    if !plan_digest(plan).is_ok_and(|d| d == plan.digest) {
        return Err(ApprovalError::DigestMismatch);
    }
    if approver_id.trim().is_empty() {
        return Err(ApprovalError::MissingApprover);
    }
    if approver_id == plan.created_by {
        return Err(ApprovalError::CreatorCannotApprove);
    }
    if !approver_roles
        .iter()
        .any(|r| r.as_ref() == RETENTION_APPROVER_ROLE)
    {
        return Err(ApprovalError::MissingRole {
            role: RETENTION_APPROVER_ROLE,
        });
    }
    Ok(())
}
