//! Which roles may state which purposes and call which administrative routes,
//! decided by the policy (`vault_policy::Policy`, loaded from `policy_file` or the
//! built-in default).
//!
//! The server's routes ask for a [`Capability`]; each maps onto the policy's
//! capabilities: managing accounts needs `manage_accounts`; the roster needs
//! `read_audit` or `manage_accounts`; an emergency revoke needs `manage_accounts` or
//! `incident_report`; listing audit events and verifying the chain need `read_audit`;
//! an impact report needs `incident_report`.

use std::sync::Arc;

use vault_policy::{Capability as PolicyCapability, Policy};

/// Administrative capabilities of the server's own routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// Create accounts, issue tokens, disable accounts.
    ManageAccounts,
    /// Read the account roster (C8).
    ViewRoster,
    /// Emergency revoke of an account's or a prefecture's tokens (C24).
    EmergencyRevoke,
    /// List audit events and verify the audit chain (C11, C13).
    ReadAudit,
    /// Impact report of an actor or token (C14).
    ImpactReport,
    /// Key status, rotation and destruction (鍵管理).
    ManageKeys,
    /// Make and read retention plans.
    PlanRetention,
    /// Approve a retention plan (second person, C22).
    ApproveRetention,
    /// Execute an approved retention plan.
    ExecuteRetention,
    /// Place and release legal holds.
    ManageHolds,
    /// Read a stored plan or certificate (any of the three retention roles' capabilities).
    ReadRetention,
}

impl Capability {
    /// Policy capabilities any one of which grants this one.
    fn granted_by(self) -> &'static [PolicyCapability] {
        match self {
            Capability::ManageAccounts => &[PolicyCapability::ManageAccounts],
            Capability::ViewRoster => &[
                PolicyCapability::ReadAudit,
                PolicyCapability::ManageAccounts,
            ],
            Capability::EmergencyRevoke => &[
                PolicyCapability::ManageAccounts,
                PolicyCapability::IncidentReport,
            ],
            Capability::ReadAudit => &[PolicyCapability::ReadAudit],
            Capability::ImpactReport => &[PolicyCapability::IncidentReport],
            Capability::ManageKeys => &[PolicyCapability::ManageKeys],
            Capability::PlanRetention => &[PolicyCapability::PlanRetention],
            Capability::ApproveRetention => &[PolicyCapability::ApproveRetention],
            Capability::ExecuteRetention => &[PolicyCapability::ExecuteRetention],
            Capability::ManageHolds => &[PolicyCapability::ManageHolds],
            Capability::ReadRetention => &[
                PolicyCapability::PlanRetention,
                PolicyCapability::ApproveRetention,
                PolicyCapability::ExecuteRetention,
            ],
        }
    }
}

/// The policy as the server sees it: known roles and purposes and the checks on them.
#[derive(Clone, Debug)]
pub struct PolicyView {
    policy: Arc<Policy>,
}

impl Default for PolicyView {
    fn default() -> Self {
        PolicyView::new(Policy::default_policy())
    }
}

impl PolicyView {
    /// A view of `policy`.
    pub fn new(policy: Policy) -> PolicyView {
        PolicyView {
            policy: Arc::new(policy),
        }
    }

    /// The underlying policy (for the record facade's decisions).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The underlying policy, shared (the facade decides with the same one).
    pub fn shared(&self) -> Arc<Policy> {
        self.policy.clone()
    }

    /// Whether `role` exists in the policy.
    pub fn is_role(&self, role: &str) -> bool {
        self.policy.is_known_role(role)
    }

    /// Whether `purpose` exists in the policy.
    pub fn is_purpose(&self, purpose: &str) -> bool {
        self.policy.is_known_purpose(purpose)
    }

    /// Whether one account may hold all of `roles` together: separation of duties
    /// keeps roles that see personal data apart from approvers. Unknown roles are
    /// reported separately (as `unknown_role`), so they pass here.
    pub fn role_set_allowed(&self, roles: &[String]) -> bool {
        !matches!(
            self.policy.check_role_set(roles),
            Err(vault_policy::RoleSetError::SeparationOfDuties { .. })
        )
    }

    /// Whether any of `roles` may state `purpose`.
    pub fn may_state_purpose(&self, roles: &[String], purpose: &str) -> bool {
        self.policy.may_state_purpose(roles, purpose)
    }

    /// Whether `roles`, acting for `purpose`, hold `cap`.
    pub fn has_capability(&self, roles: &[String], purpose: &str, cap: Capability) -> bool {
        cap.granted_by()
            .iter()
            .any(|c| self.policy.has_capability(roles, purpose, *c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    const CAPS: [Capability; 5] = [
        Capability::ManageAccounts,
        Capability::ViewRoster,
        Capability::EmergencyRevoke,
        Capability::ReadAudit,
        Capability::ImpactReport,
    ];

    #[test]
    fn admin_manages_accounts_for_account_management() {
        let p = PolicyView::default();
        assert!(p.has_capability(
            &roles(&["admin"]),
            "account_management",
            Capability::ManageAccounts
        ));
        assert!(!p.has_capability(
            &roles(&["admin"]),
            "audit_review",
            Capability::ManageAccounts
        ));
    }

    #[test]
    fn security_officer_reads_roster_and_revokes_but_manages_no_account() {
        let p = PolicyView::default();
        let so = roles(&["security_officer"]);
        assert!(p.has_capability(&so, "audit_review", Capability::ViewRoster));
        assert!(p.has_capability(&so, "incident_response", Capability::EmergencyRevoke));
        assert!(!p.has_capability(&so, "incident_response", Capability::ManageAccounts));
    }

    #[test]
    fn security_officer_reads_the_audit_for_review_and_incidents_and_admin_does_not() {
        let p = PolicyView::default();
        let so = roles(&["security_officer"]);
        for purpose in ["audit_review", "incident_response"] {
            assert!(p.has_capability(&so, purpose, Capability::ReadAudit));
            assert!(p.has_capability(&so, purpose, Capability::ImpactReport));
        }
        let admin = roles(&["admin"]);
        assert!(!p.has_capability(&admin, "account_management", Capability::ReadAudit));
    }

    #[test]
    fn personal_data_roles_hold_no_account_capability() {
        let p = PolicyView::default();
        let staff = roles(&["exam_staff", "exam_system"]);
        for cap in CAPS {
            for purpose in p.policy().purposes() {
                assert!(!p.has_capability(&staff, purpose.name(), cap));
            }
        }
    }

    #[test]
    fn reader_and_approver_roles_cannot_share_an_account() {
        let p = PolicyView::default();
        assert!(!p.role_set_allowed(&roles(&["exam_staff", "retention_approver"])));
        assert!(p.role_set_allowed(&roles(&["operator", "retention_approver"])));
    }

    #[test]
    fn knows_the_contract_role_names() {
        let p = PolicyView::default();
        for r in [
            "admin",
            "exam_staff",
            "exam_system",
            "identity_verifier",
            "meister_coordinator",
            "security_officer",
            "operator",
            "retention_approver",
            "statistician",
        ] {
            assert!(p.is_role(r), "{r}");
        }
        assert!(!p.is_role("root"));
    }
}
