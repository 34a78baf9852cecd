//! Which roles may state which purposes and call which administrative routes.
//!
//! Until the `vault-policy` crate's loader and decision functions are merged, this
//! module carries the role and purpose names of POLICY.md and the administrative
//! capabilities of the server. It is the one place to switch over to
//! `vault_policy::Policy` (`may_state_purpose`, `has_capability`) once available.

use std::collections::BTreeSet;

/// The role names of the default policy (POLICY.md), part of the contract.
pub const ROLES: [&str; 9] = [
    "admin",
    "exam_staff",
    "exam_system",
    "identity_verifier",
    "meister_coordinator",
    "security_officer",
    "operator",
    "retention_approver",
    "statistician",
];

/// The purpose names of the default policy (POLICY.md).
pub const PURPOSES: [&str; 13] = [
    "exam_administration",
    "identity_verification",
    "result_notification",
    "certificate_issuance",
    "system_sync",
    "meister_dispatch",
    "disclosure_request",
    "audit_review",
    "incident_response",
    "retention",
    "key_management",
    "account_management",
    "statistics",
];

/// Purposes each role may state (the default policy's role x purpose pairs, plus the
/// administrative purposes of the roles that read no personal data).
const ROLE_PURPOSES: &[(&str, &[&str])] = &[
    ("admin", &["account_management", "incident_response"]),
    (
        "exam_staff",
        &[
            "exam_administration",
            "result_notification",
            "certificate_issuance",
            "identity_verification",
            "disclosure_request",
        ],
    ),
    ("exam_system", &["system_sync", "exam_administration"]),
    ("identity_verifier", &["identity_verification"]),
    ("meister_coordinator", &["meister_dispatch"]),
    ("security_officer", &["audit_review", "incident_response"]),
    ("operator", &["key_management", "retention"]),
    ("retention_approver", &["retention"]),
    ("statistician", &["statistics"]),
];

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
}

/// (role, purpose) pairs that grant each capability.
fn grants(cap: Capability) -> &'static [(&'static str, &'static str)] {
    match cap {
        Capability::ManageAccounts => &[("admin", "account_management")],
        Capability::ViewRoster => &[
            ("admin", "account_management"),
            ("security_officer", "audit_review"),
            ("security_officer", "incident_response"),
        ],
        Capability::EmergencyRevoke => &[
            ("admin", "account_management"),
            ("admin", "incident_response"),
            ("security_officer", "incident_response"),
        ],
    }
}

/// The policy as the server sees it: known roles and purposes and the checks on them.
#[derive(Clone, Debug)]
pub struct PolicyView {
    roles: BTreeSet<String>,
    purposes: BTreeSet<String>,
}

impl Default for PolicyView {
    fn default() -> Self {
        PolicyView {
            roles: ROLES.iter().map(|r| (*r).to_owned()).collect(),
            purposes: PURPOSES.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

impl PolicyView {
    /// Whether `role` exists in the policy.
    pub fn is_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether `purpose` exists in the policy.
    pub fn is_purpose(&self, purpose: &str) -> bool {
        self.purposes.contains(purpose)
    }

    /// Whether any of `roles` may state `purpose`.
    pub fn may_state_purpose(&self, roles: &[String], purpose: &str) -> bool {
        roles.iter().any(|r| {
            ROLE_PURPOSES
                .iter()
                .any(|(role, ps)| role == r && ps.contains(&purpose))
        })
    }

    /// Whether any of `roles`, acting for `purpose`, holds `cap`.
    pub fn has_capability(&self, roles: &[String], purpose: &str, cap: Capability) -> bool {
        grants(cap)
            .iter()
            .any(|(role, p)| *p == purpose && roles.iter().any(|r| r == role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn admin_manages_accounts_only_for_account_management() {
        let p = PolicyView::default();
        assert!(p.has_capability(
            &roles(&["admin"]),
            "account_management",
            Capability::ManageAccounts
        ));
        assert!(!p.has_capability(
            &roles(&["admin"]),
            "incident_response",
            Capability::ManageAccounts
        ));
    }

    #[test]
    fn personal_data_roles_hold_no_account_capability() {
        let p = PolicyView::default();
        for cap in [
            Capability::ManageAccounts,
            Capability::ViewRoster,
            Capability::EmergencyRevoke,
        ] {
            for purpose in PURPOSES {
                assert!(!p.has_capability(&roles(&["exam_staff", "exam_system"]), purpose, cap));
            }
        }
    }

    #[test]
    fn every_granted_pair_is_a_statable_purpose() {
        let p = PolicyView::default();
        for cap in [
            Capability::ManageAccounts,
            Capability::ViewRoster,
            Capability::EmergencyRevoke,
        ] {
            for (role, purpose) in grants(cap) {
                assert!(
                    p.may_state_purpose(&roles(&[role]), purpose),
                    "{role} {purpose}"
                );
            }
        }
    }
}
