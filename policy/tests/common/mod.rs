//! Helpers shared by the policy tests: a field catalog with one field per (kind, class) pair,
//! and small builders for requests and policy texts.
#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;

use vault_policy::{
    Action, Decision, DecisionRequest, FieldClass, FieldRef, Policy, PolicyProblem, RecordKind,
    TenantScope,
};

/// One field per (record kind, field class), named `kind.class`, e.g. `examinee.identity`.
pub fn catalog() -> &'static [FieldRef] {
    static CATALOG: OnceLock<Vec<FieldRef>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut fields = Vec::new();
        for &kind in RecordKind::ALL {
            for &class in FieldClass::ALL {
                let name: &'static str =
                    Box::leak(format!("{}.{}", kind.as_str(), class.as_str()).into_boxed_str());
                fields.push(FieldRef { kind, name, class });
            }
        }
        fields
    })
}

/// The catalog entry of a field name.
pub fn field(name: &str) -> FieldRef {
    *catalog()
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

/// Decides with the test catalog for one account in prefecture 13 reading a record of 13.
pub fn decide(
    policy: &Policy,
    roles: &[&str],
    purpose: &str,
    action: Action,
    kind: RecordKind,
) -> Decision {
    decide_full(
        policy,
        roles,
        &TenantScope::from_list(&["13"]),
        purpose,
        action,
        kind,
        Some("13"),
        false,
    )
}

#[allow(clippy::too_many_arguments)]
pub fn decide_full(
    policy: &Policy,
    roles: &[&str],
    tenants: &TenantScope,
    purpose: &str,
    action: Action,
    kind: RecordKind,
    record_tenant: Option<&str>,
    suspended: bool,
) -> Decision {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    policy.decide(
        &DecisionRequest {
            roles: &roles,
            tenants,
            purpose,
            action,
            kind,
            record_tenant,
            suspended,
        },
        catalog(),
    )
}

/// The sorted field names of a permit; panics on any other decision.
pub fn permitted_fields(decision: &Decision) -> Vec<&'static str> {
    match decision {
        Decision::Permit(view) => view.fields().collect(),
        other => panic!("expected a permit, got {other:?}"),
    }
}

/// The 1-based line of `src` containing `marker`; the marker must occur on exactly one line.
pub fn line_of(src: &str, marker: &str) -> usize {
    let hits: Vec<usize> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "marker {marker:?} must be on exactly one line, found {hits:?}"
    );
    hits[0]
}

/// The default policy text with `extra` appended.
pub fn default_with(extra: &str) -> String {
    format!("{}\n{}", Policy::default_policy_toml(), extra)
}

/// The default policy text with `from` replaced by `to` (which must occur exactly once).
pub fn default_replacing(from: &str, to: &str) -> String {
    let src = Policy::default_policy_toml();
    assert_eq!(
        src.matches(from).count(),
        1,
        "{from:?} must occur once in the default policy"
    );
    src.replacen(from, to, 1)
}

/// Loads `src` expecting failure; returns the problems and the Display text.
pub fn rejected(src: &str, origin: &str) -> (Vec<PolicyProblem>, String) {
    match Policy::from_toml(src, origin) {
        Ok(_) => panic!("the policy was accepted"),
        Err(e) => (e.problems(), e.to_string()),
    }
}

/// The problem on `line`; panics listing all problems when there is none.
pub fn problem_on_line(problems: &[PolicyProblem], line: usize) -> &PolicyProblem {
    problems
        .iter()
        .find(|p| p.line() == Some(line))
        .unwrap_or_else(|| panic!("no problem on line {line}; problems: {problems:#?}"))
}
