//! The role × purpose matrix of the default policy (C3). The tables below ARE the
//! specification (POLICY.md plus the interpretations in docs/policy.md); the test checks
//! every role × purpose × record kind × action of the default policy against them.

mod common;

use std::collections::BTreeSet;

use vault_policy::{Action, Capability, Decision, DenyReason, FieldClass, Policy, RecordKind};

use Action::{Create, Read, Resolve, Reveal, Search, Suspend, Update};
use FieldClass as C;
use RecordKind as K;

/// One row of the spec: `role` stating `purpose` may do `actions` on `kinds`, seeing `classes`.
struct Row {
    role: &'static str,
    purpose: &'static str,
    kinds: &'static [RecordKind],
    actions: &'static [Action],
    classes: &'static [FieldClass],
}

const EXAM_KINDS: &[RecordKind] = &[K::Examinee, K::Application, K::Result, K::Qualification];
const READ_WRITE_SEARCH: &[Action] = &[Read, Create, Update, Search];
const EXAM_ADMIN_CLASSES: &[FieldClass] = &[
    C::Identity,
    C::Address,
    C::Contact,
    C::Residence,
    C::Employment,
    C::Exam,
    C::Result,
    C::Qualification,
    C::Finance,
    C::Pseudonym,
];

const GRANTS: &[Row] = &[
    Row {
        role: "exam_staff",
        purpose: "exam_administration",
        kinds: EXAM_KINDS,
        actions: READ_WRITE_SEARCH,
        classes: EXAM_ADMIN_CLASSES,
    },
    Row {
        role: "exam_staff",
        purpose: "result_notification",
        kinds: &[K::Examinee, K::Application, K::Result],
        actions: &[Read, Search],
        classes: &[C::Identity, C::Address, C::Exam, C::Result],
    },
    Row {
        role: "exam_staff",
        purpose: "certificate_issuance",
        kinds: &[K::Examinee, K::Application, K::Qualification],
        actions: &[Read, Search],
        classes: &[C::Identity, C::Address, C::Exam, C::Qualification],
    },
    Row {
        role: "exam_staff",
        purpose: "identity_verification",
        kinds: &[K::Examinee],
        actions: &[Resolve, Read],
        classes: &[C::Identity],
    },
    Row {
        role: "exam_staff",
        purpose: "disclosure_request",
        kinds: RecordKind::ALL,
        actions: &[Read, Update, Suspend],
        classes: &[
            C::Identity,
            C::Address,
            C::Contact,
            C::Residence,
            C::Employment,
            C::Exam,
            C::Result,
            C::Qualification,
            C::Finance,
            C::Pseudonym,
            C::Meister,
            C::MeisterActivity,
        ],
    },
    Row {
        role: "exam_system",
        purpose: "system_sync",
        kinds: EXAM_KINDS,
        actions: READ_WRITE_SEARCH,
        classes: &[
            C::Identity,
            C::Address,
            C::Contact,
            C::Exam,
            C::Result,
            C::Qualification,
            C::Pseudonym,
        ],
    },
    Row {
        role: "exam_system",
        purpose: "exam_administration",
        kinds: EXAM_KINDS,
        actions: READ_WRITE_SEARCH,
        classes: EXAM_ADMIN_CLASSES,
    },
    Row {
        role: "identity_verifier",
        purpose: "identity_verification",
        kinds: &[K::Examinee],
        actions: &[Resolve, Read],
        classes: &[C::Identity, C::Address],
    },
    Row {
        role: "identity_verifier",
        purpose: "identity_verification",
        kinds: &[K::Examinee],
        actions: &[Reveal],
        classes: &[C::MyNumber],
    },
    Row {
        role: "meister_coordinator",
        purpose: "meister_dispatch",
        kinds: &[K::Meister, K::MeisterActivity],
        actions: READ_WRITE_SEARCH,
        classes: &[C::Meister, C::MeisterActivity],
    },
];

/// Capabilities per role × purpose; a pair listed here may be stated even without records.
const CAPABILITIES: &[(&str, &str, &[Capability])] = &[
    ("admin", "account_management", &[Capability::ManageAccounts]),
    (
        "security_officer",
        "audit_review",
        &[Capability::ReadAudit, Capability::IncidentReport],
    ),
    (
        "security_officer",
        "incident_response",
        &[Capability::ReadAudit, Capability::IncidentReport],
    ),
    ("operator", "key_management", &[Capability::ManageKeys]),
    (
        "operator",
        "retention",
        &[
            Capability::PlanRetention,
            Capability::ExecuteRetention,
            Capability::ManageHolds,
        ],
    ),
    (
        "retention_approver",
        "retention",
        &[Capability::ApproveRetention, Capability::ApproveExport],
    ),
    (
        "statistician",
        "statistics",
        &[Capability::ExportDeidentified],
    ),
];

const ROLES: &[&str] = &[
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

const PURPOSES: &[&str] = &[
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

fn statable(role: &str, purpose: &str) -> bool {
    GRANTS
        .iter()
        .any(|r| r.role == role && r.purpose == purpose)
        || CAPABILITIES
            .iter()
            .any(|(r, p, _)| *r == role && *p == purpose)
}

/// What the spec tables say the decision must be.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// A permit with exactly these field names (sorted).
    Permit(Vec<&'static str>),
    /// A refusal for this reason.
    Forbidden(DenyReason),
}

fn expected(role: &str, purpose: &str, kind: RecordKind, action: Action) -> Expect {
    if !statable(role, purpose) {
        return Expect::Forbidden(DenyReason::PurposeNotAllowed);
    }
    let rows: Vec<&Row> = GRANTS
        .iter()
        .filter(|r| r.role == role && r.purpose == purpose)
        .filter(|r| r.kinds.contains(&kind) && r.actions.contains(&action))
        .collect();
    if rows.is_empty() {
        return Expect::Forbidden(DenyReason::ActionNotGranted);
    }
    let classes: BTreeSet<FieldClass> = rows
        .iter()
        .flat_map(|r| r.classes.iter().copied())
        .collect();
    let mut names: Vec<&'static str> = common::catalog()
        .iter()
        .filter(|f| f.kind == kind && classes.contains(&f.class))
        .map(|f| f.name)
        .collect();
    names.sort_unstable();
    Expect::Permit(names)
}

fn observed(decision: Decision) -> Option<Expect> {
    match decision {
        Decision::Permit(view) => Some(Expect::Permit(view.fields().collect())),
        Decision::Forbidden(reason) => Some(Expect::Forbidden(reason)),
        // Every request here is inside the caller's prefecture: NotFound is always wrong.
        _ => None,
    }
}

#[test]
fn every_role_purpose_kind_and_action_decides_as_the_spec_table_says() {
    let policy = Policy::default_policy();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for &role in ROLES {
        for &purpose in PURPOSES {
            for &kind in RecordKind::ALL {
                for &action in Action::ALL {
                    let want = expected(role, purpose, kind, action);
                    let got = observed(common::decide(&policy, &[role], purpose, action, kind));
                    if got.as_ref() != Some(&want) {
                        mismatches.push(format!(
                            "{role} × {purpose} × {kind} × {action}: want {want:?}, got {got:?}"
                        ));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 9 * 13 * 6 * 8);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_role_purpose_and_capability_matches_the_spec_table() {
    let policy = Policy::default_policy();
    for &role in ROLES {
        for &purpose in PURPOSES {
            for &cap in Capability::ALL {
                let want = CAPABILITIES
                    .iter()
                    .any(|(r, p, caps)| *r == role && *p == purpose && caps.contains(&cap));
                assert_eq!(
                    policy.has_capability(&[role], purpose, cap),
                    want,
                    "{role} × {purpose} × {cap}"
                );
            }
        }
    }
}

#[test]
fn every_role_may_state_exactly_the_purposes_of_the_spec_table() {
    let policy = Policy::default_policy();
    for &role in ROLES {
        for &purpose in PURPOSES {
            assert_eq!(
                policy.may_state_purpose(&[role], purpose),
                statable(role, purpose),
                "{role} × {purpose}"
            );
        }
    }
}

#[test]
fn default_policy_has_the_nine_roles_and_thirteen_purposes() {
    let policy = Policy::default_policy();
    let roles: Vec<&str> = policy.roles().iter().map(|r| r.name()).collect();
    let purposes: Vec<&str> = policy.purposes().iter().map(|p| p.name()).collect();
    assert_eq!(roles, ROLES);
    assert_eq!(purposes, PURPOSES);
}
