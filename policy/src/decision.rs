//! Access decisions: given who asks, for what purpose, to do what with which record, the
//! exact field names the caller may see or write, or why not.

use std::collections::BTreeSet;
use std::fmt;

use crate::policy::Policy;
use crate::vocab::{Action, FieldClass, FieldRef, RecordKind, TenantScope};

/// One question to the policy: an account (its roles and prefectures) stating a purpose and
/// asking to do `action` on a record of `kind`.
#[derive(Clone, Copy, Debug)]
pub struct DecisionRequest<'a> {
    /// The account's roles.
    pub roles: &'a [String],
    /// The account's prefectures.
    pub tenants: &'a TenantScope,
    /// The purpose stated in `Vault-Purpose`.
    pub purpose: &'a str,
    /// What the caller wants to do.
    pub action: Action,
    /// The kind of record.
    pub kind: RecordKind,
    /// The prefecture of the record addressed, or of the record to be created; `None` for calls
    /// that address no single record (search, list), whose tenant scope the store applies in
    /// its query.
    pub record_tenant: Option<&'a str>,
    /// Whether the subject's use is suspended (利用停止).
    pub suspended: bool,
}

/// Why a request is refused (HTTP 403).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// None of the caller's roles may state this purpose (or the purpose is unknown).
    PurposeNotAllowed,
    /// The subject's use is suspended and the purpose is not one allowed under suspension.
    SubjectSuspended,
    /// The purpose may be stated, but it grants no such action on this kind of record.
    ActionNotGranted,
}

impl DenyReason {
    /// A stable code for audit entries and problem responses.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::PurposeNotAllowed => "purpose_not_allowed",
            DenyReason::SubjectSuspended => "subject_suspended",
            DenyReason::ActionNotGranted => "action_not_granted",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DenyReason::PurposeNotAllowed => "the account's roles may not state this purpose",
            DenyReason::SubjectSuspended => {
                "the subject's use is suspended (利用停止) and this purpose is not allowed"
            }
            DenyReason::ActionNotGranted => {
                "the purpose grants no such action on this kind of record"
            }
        })
    }
}

/// The fields a permitted caller may see (read, search by, reveal) or write (create, update):
/// exact field names from the catalog, never classes. Anything not named is withheld.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    kind: RecordKind,
    action: Action,
    fields: BTreeSet<&'static str>,
}

impl View {
    /// The record kind the view is for.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The action the view is for.
    pub fn action(&self) -> Action {
        self.action
    }

    /// Whether the caller may see or write the field `name`.
    pub fn allows(&self, name: &str) -> bool {
        self.fields.contains(name)
    }

    /// The field names, sorted.
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().copied()
    }

    /// How many fields the view opens.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the view opens no field (the caller gets ids only).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The policy's answer to a [`DecisionRequest`]. Deny by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, with exactly these fields.
    Permit(View),
    /// Refused (HTTP 403).
    Forbidden(DenyReason),
    /// The record is outside the caller's prefectures: answer exactly as if it did not exist
    /// (HTTP 404).
    NotFound,
}

impl Decision {
    /// Whether the decision allows the request.
    pub fn is_permit(&self) -> bool {
        matches!(self, Decision::Permit(_))
    }

    /// The view of a permit.
    pub fn view(&self) -> Option<&View> {
        match self {
            Decision::Permit(v) => Some(v),
            _ => None,
        }
    }
}

impl Policy {
    /// Decides a request against `catalog`, the vault's field catalog.
    ///
    /// In order: a purpose none of the roles may state is forbidden; a record outside the
    /// caller's prefectures is not found; a suspended subject is forbidden unless the purpose
    /// is allowed under suspension; an action or record kind no grant covers is forbidden;
    /// otherwise the view holds the catalog fields of `kind` whose class a covering grant
    /// opens. Fields of class `my_number` appear only in a `reveal` view.
    pub fn decide(&self, req: &DecisionRequest<'_>, catalog: &[FieldRef]) -> Decision {
        if !self.may_state_purpose(req.roles, req.purpose) {
            return Decision::Forbidden(DenyReason::PurposeNotAllowed);
        }
        if let Some(tenant) = req.record_tenant {
            if !req.tenants.contains(tenant) {
                return Decision::NotFound;
            }
        }
        if req.suspended && !self.allowed_under_suspension(req.purpose) {
            return Decision::Forbidden(DenyReason::SubjectSuspended);
        }
        let mut covered = false;
        let mut classes: BTreeSet<FieldClass> = BTreeSet::new();
        for grant in self.grants_for(req.roles, req.purpose) {
            for rule in grant.views() {
                if rule.covers(req.kind, req.action) {
                    covered = true;
                    classes.extend(rule.classes().iter().copied());
                }
            }
        }
        if !covered {
            return Decision::Forbidden(DenyReason::ActionNotGranted);
        }
        // The loader already keeps my_number out of every view but `reveal`; this second check
        // means no policy file can put My Number into a read, search, write or export.
        let reveal = req.action == Action::Reveal;
        let fields = catalog
            .iter()
            .filter(|f| f.kind == req.kind)
            .filter(|f| classes.contains(&f.class))
            .filter(|f| (f.class == FieldClass::MyNumber) == reveal)
            .map(|f| f.name)
            .collect();
        Decision::Permit(View {
            kind: req.kind,
            action: req.action,
            fields,
        })
    }
}
