//! Properties of `decide` over random requests: no view ever holds a field whose class the
//! policy did not grant to one of the caller's roles for the stated purpose, My Number only
//! ever appears in a reveal, and a record of another prefecture is never permitted.

mod common;

use proptest::prelude::*;
use vault_policy::{
    Action, Decision, DecisionRequest, DenyReason, FieldClass, Policy, RecordKind, TenantScope,
};

/// The default policy, parsed once for all cases.
fn default_policy() -> &'static Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(Policy::default_policy)
}

const EXTRA_ROLES: &[&str] = &["", "root", "Exam_Staff", "exam_staff "];
const EXTRA_PURPOSES: &[&str] = &["", "marketing", "EXAM_ADMINISTRATION", "retention "];
const CODES: &[&str] = &["01", "13", "35", "47", "99", ""];

fn role_names(policy: &Policy) -> Vec<String> {
    policy
        .roles()
        .iter()
        .map(|r| r.name().to_owned())
        .chain(EXTRA_ROLES.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn purpose_names(policy: &Policy) -> Vec<String> {
    policy
        .purposes()
        .iter()
        .map(|p| p.name().to_owned())
        .chain(EXTRA_PURPOSES.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn tenant_scope() -> impl Strategy<Value = TenantScope> {
    prop_oneof![
        Just(TenantScope::All),
        proptest::sample::subsequence(CODES.to_vec(), 0..=3)
            .prop_map(|codes| TenantScope::from_list(&codes)),
    ]
}

#[derive(Debug, Clone)]
struct Req {
    roles: Vec<String>,
    purpose: String,
    action: Action,
    kind: RecordKind,
    tenants: TenantScope,
    record_tenant: Option<String>,
    suspended: bool,
}

fn request() -> impl Strategy<Value = Req> {
    let policy = default_policy();
    (
        proptest::sample::subsequence(role_names(policy), 0..=4),
        proptest::sample::select(purpose_names(policy)),
        proptest::sample::select(Action::ALL.to_vec()),
        proptest::sample::select(RecordKind::ALL.to_vec()),
        tenant_scope(),
        proptest::option::of(proptest::sample::select(CODES.to_vec())),
        any::<bool>(),
    )
        .prop_map(
            |(roles, purpose, action, kind, tenants, record_tenant, suspended)| Req {
                roles,
                purpose,
                action,
                kind,
                tenants,
                record_tenant: record_tenant.map(str::to_owned),
                suspended,
            },
        )
}

/// Requests whose record lies outside the caller's prefectures (never `All`).
fn cross_tenant_request() -> impl Strategy<Value = Req> {
    (
        request(),
        proptest::sample::subsequence(vec!["01", "13", "35"], 0..=3),
        proptest::sample::select(vec!["47", "99", "", "13 "]),
    )
        .prop_map(|(mut r, inside, outside)| {
            r.tenants = TenantScope::from_list(&inside);
            r.record_tenant = Some(outside.to_owned());
            r
        })
}

fn run(policy: &Policy, r: &Req) -> Decision {
    policy.decide(
        &DecisionRequest {
            roles: &r.roles,
            tenants: &r.tenants,
            purpose: &r.purpose,
            action: r.action,
            kind: r.kind,
            record_tenant: r.record_tenant.as_deref(),
            suspended: r.suspended,
        },
        common::catalog(),
    )
}

/// Whether some grant of one of `roles` for `purpose` opens `class` for `action` on `kind`,
/// read straight from the policy's grants.
fn granted(policy: &Policy, r: &Req, class: FieldClass) -> bool {
    policy.grants().iter().any(|g| {
        r.roles.iter().any(|role| role == g.role())
            && g.purpose() == r.purpose
            && g.views().iter().any(|v| {
                v.kinds().contains(&r.kind)
                    && v.actions().contains(&r.action)
                    && v.classes().contains(&class)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn a_view_holds_only_fields_of_classes_granted_to_the_roles_for_the_purpose(r in request()) {
        let policy = default_policy();
        if let Decision::Permit(view) = run(policy, &r) {
            prop_assert_eq!(view.kind(), r.kind);
            prop_assert_eq!(view.action(), r.action);
            for name in view.fields() {
                let f = common::field(name);
                prop_assert_eq!(f.kind, r.kind, "field {} of another kind", name);
                prop_assert!(granted(policy, &r, f.class), "field {} not granted", name);
                prop_assert!(
                    f.class != FieldClass::MyNumber || r.action == Action::Reveal,
                    "My Number in a {} view", r.action
                );
            }
        }
    }

    #[test]
    fn a_record_outside_the_callers_prefectures_is_never_permitted(r in cross_tenant_request()) {
        let policy = default_policy();
        let d = run(policy, &r);
        prop_assert!(
            matches!(d, Decision::NotFound | Decision::Forbidden(DenyReason::PurposeNotAllowed)),
            "cross-tenant request decided {:?}", d
        );
    }

    #[test]
    fn a_permit_needs_a_purpose_the_roles_may_state(r in request()) {
        let policy = default_policy();
        if run(policy, &r).is_permit() {
            prop_assert!(policy.may_state_purpose(&r.roles, &r.purpose));
        }
    }

    #[test]
    fn a_suspended_subject_is_permitted_only_for_purposes_allowed_under_suspension(r in request()) {
        let policy = default_policy();
        if r.suspended && run(policy, &r).is_permit() {
            prop_assert!(policy.allowed_under_suspension(&r.purpose));
        }
    }
}
