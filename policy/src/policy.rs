//! The loaded, checked policy and the questions the vault asks it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::PolicyError;
use crate::retention::{Period, RetentionRule};
use crate::vocab::{Action, Capability, FieldClass, RecordKind};

/// The policy that ships with the vault (`policy/default-policy.toml`).
pub(crate) const DEFAULT_POLICY_TOML: &str = include_str!("../default-policy.toml");

/// The origin name of the built-in policy in messages.
pub(crate) const DEFAULT_POLICY_ORIGIN: &str = "default-policy.toml";

/// Roles that must never see personal field values, whatever the file says (separation of
/// duties, POLICY.md): they work on accounts, audit metadata, keys, retention and
/// de-identified statistics only.
pub const ROLES_WITHOUT_PERSONAL_DATA: &[&str] = &[
    "admin",
    "operator",
    "security_officer",
    "retention_approver",
    "statistician",
];

/// A role (役割) accounts can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) personal_data: bool,
    pub(crate) line: usize,
}

impl Role {
    /// The role's name, as accounts carry it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who holds the role.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether the role may be granted personal field classes at all.
    pub fn personal_data(&self) -> bool {
        self.personal_data
    }

    /// The line of the policy file where the role is declared.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// A purpose of use (利用目的) a caller states with each request (`Vault-Purpose`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    pub(crate) name: String,
    pub(crate) name_ja: String,
    pub(crate) description: String,
    pub(crate) line: usize,
}

impl Purpose {
    /// The purpose's name, as sent in `Vault-Purpose`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Japanese name of the 事務 (e.g. 試験管理事務).
    pub fn name_ja(&self) -> &str {
        &self.name_ja
    }

    /// What the purpose covers, in plain words.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The line of the policy file where the purpose is declared.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// One view rule of a grant: on these record kinds, these actions, over these field classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewRule {
    pub(crate) kinds: BTreeSet<RecordKind>,
    pub(crate) actions: BTreeSet<Action>,
    pub(crate) classes: BTreeSet<FieldClass>,
    pub(crate) line: usize,
}

impl ViewRule {
    /// The record kinds the rule covers.
    pub fn kinds(&self) -> &BTreeSet<RecordKind> {
        &self.kinds
    }

    /// The actions the rule allows.
    pub fn actions(&self) -> &BTreeSet<Action> {
        &self.actions
    }

    /// The field classes the rule opens.
    pub fn classes(&self) -> &BTreeSet<FieldClass> {
        &self.classes
    }

    /// The line of the policy file where the view starts.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Whether the rule applies to `action` on records of `kind`.
    pub fn covers(&self, kind: RecordKind, action: Action) -> bool {
        self.kinds.contains(&kind) && self.actions.contains(&action)
    }
}

/// What one role may do when it states one purpose: record views and capabilities.
/// A role may state a purpose exactly when a grant for the pair exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub(crate) role: String,
    pub(crate) purpose: String,
    pub(crate) views: Vec<ViewRule>,
    pub(crate) capabilities: BTreeSet<Capability>,
    pub(crate) line: usize,
}

impl Grant {
    /// The role.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The record views, in file order.
    pub fn views(&self) -> &[ViewRule] {
        &self.views
    }

    /// The capabilities for non-personal operations.
    pub fn capabilities(&self) -> &BTreeSet<Capability> {
        &self.capabilities
    }

    /// The line of the policy file where the grant starts.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// Separation of duties broken by a set of roles given to one account.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleSetError {
    /// The role is not in the policy.
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    /// One role sees personal data and another approves retention or exports.
    #[error(
        "separation of duties: `{reader}` sees personal data and `{approver}` approves \
         retention or exports; give them to different accounts"
    )]
    SeparationOfDuties {
        /// The role that sees personal data.
        reader: String,
        /// The role that holds an approval capability.
        approver: String,
    },
}

/// The access and retention policy of the vault: roles, purposes, grants (role × purpose →
/// views and capabilities), suspension of use, tenant scoping and retention rules.
///
/// Built only through [`Policy::from_toml`], [`Policy::load`] or [`Policy::default_policy`],
/// so every `Policy` value has passed the checks.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) origin: String,
    pub(crate) roles: Vec<Role>,
    pub(crate) purposes: Vec<Purpose>,
    pub(crate) grants: Vec<Grant>,
    pub(crate) suspension_allowed: BTreeSet<String>,
    pub(crate) retention: Vec<RetentionRule>,
    pub(crate) meister_inactivity: Period,
}

impl Policy {
    /// Reads and checks a policy from TOML text. `origin` names the source in messages
    /// (usually the file path).
    pub fn from_toml(src: &str, origin: &str) -> Result<Policy, PolicyError> {
        crate::load::parse(src, origin)
    }

    /// Reads and checks the policy file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            origin: origin.clone(),
            source,
        })?;
        Policy::from_toml(&src, &origin)
    }

    /// The policy that ships with the vault, encoding POLICY.md.
    pub fn default_policy() -> Policy {
        // Invariant: the embedded file is checked by the test `default_policy_loads`; a
        // failure here is a build defect, not a runtime condition.
        Policy::from_toml(DEFAULT_POLICY_TOML, DEFAULT_POLICY_ORIGIN)
            .expect("the embedded default policy is valid")
    }

    /// The text of the built-in default policy file.
    pub fn default_policy_toml() -> &'static str {
        DEFAULT_POLICY_TOML
    }

    /// The path or name the policy was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every role, in file order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Every purpose, in file order.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// Every grant, in file order.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The role named `name`, if the policy has it.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The purpose named `name`, if the policy has it.
    pub fn purpose(&self, name: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.name == name)
    }

    /// Whether the policy has a role of this name.
    pub fn is_known_role(&self, name: &str) -> bool {
        self.role(name).is_some()
    }

    /// Whether the policy has a purpose of this name.
    pub fn is_known_purpose(&self, name: &str) -> bool {
        self.purpose(name).is_some()
    }

    /// The grant for one role × purpose pair.
    pub fn grant(&self, role: &str, purpose: &str) -> Option<&Grant> {
        self.grants
            .iter()
            .find(|g| g.role == role && g.purpose == purpose)
    }

    /// The grants through which an account holding `roles` acts when it states `purpose`.
    pub(crate) fn grants_for<'p, S: AsRef<str>>(
        &'p self,
        roles: &'p [S],
        purpose: &'p str,
    ) -> impl Iterator<Item = &'p Grant> + 'p {
        self.grants
            .iter()
            .filter(move |g| g.purpose == purpose && roles.iter().any(|r| r.as_ref() == g.role))
    }

    /// Whether any of `roles` may state `purpose` (otherwise the request is 403).
    pub fn may_state_purpose<S: AsRef<str>>(&self, roles: &[S], purpose: &str) -> bool {
        self.grants_for(roles, purpose).next().is_some()
    }

    /// The purposes any of `roles` may state, in file order of the purposes.
    pub fn statable_purposes<S: AsRef<str>>(&self, roles: &[S]) -> Vec<&str> {
        self.purposes
            .iter()
            .map(|p| p.name.as_str())
            .filter(|p| self.may_state_purpose(roles, p))
            .collect()
    }

    /// Whether any of `roles`, stating `purpose`, holds `capability`.
    pub fn has_capability<S: AsRef<str>>(
        &self,
        roles: &[S],
        purpose: &str,
        capability: Capability,
    ) -> bool {
        self.grants_for(roles, purpose)
            .any(|g| g.capabilities.contains(&capability))
    }

    /// Whether `purpose` may still be used on a subject whose use is suspended (利用停止).
    pub fn allowed_under_suspension(&self, purpose: &str) -> bool {
        self.suspension_allowed.contains(purpose)
    }

    /// The purposes allowed while a subject's use is suspended.
    pub fn suspension_purposes(&self) -> impl Iterator<Item = &str> {
        self.suspension_allowed.iter().map(String::as_str)
    }

    /// The retention rules, in file order.
    pub fn retention_rules(&self) -> &[RetentionRule] {
        &self.retention
    }

    /// How long a meister may go without activity before the intent check (意向確認);
    /// taken from the retention rule with action `flag_intent_check`.
    pub fn meister_inactivity_period(&self) -> Period {
        self.meister_inactivity
    }

    /// Whether a role sees personal data under this policy (it has any record view).
    pub fn role_sees_personal_data(&self, role: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.role == role && !g.views.is_empty())
    }

    /// Whether a role holds a second-person approval capability under any purpose.
    pub fn role_approves(&self, role: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.role == role && g.capabilities.iter().any(|c| c.is_approval()))
    }

    /// Checks a set of roles before it is given to one account: every role known, and no
    /// account both sees personal data and approves retention or exports.
    pub fn check_role_set<S: AsRef<str>>(&self, roles: &[S]) -> Result<(), RoleSetError> {
        for r in roles {
            if !self.is_known_role(r.as_ref()) {
                return Err(RoleSetError::UnknownRole(r.as_ref().to_owned()));
            }
        }
        let reader = roles
            .iter()
            .find(|r| self.role_sees_personal_data(r.as_ref()));
        let approver = roles.iter().find(|r| self.role_approves(r.as_ref()));
        match (reader, approver) {
            (Some(reader), Some(approver)) => Err(RoleSetError::SeparationOfDuties {
                reader: reader.as_ref().to_owned(),
                approver: approver.as_ref().to_owned(),
            }),
            _ => Ok(()),
        }
    }
}
