//! The declarative policy of kentei-vault: roles, purposes, field classes, views,
//! tenants, separation of duties and retention rules.
//!
//! The policy is data: a TOML file (the default ships as `default-policy.toml`) that says
//! which roles may state which purposes (利用目的), which field classes and actions each
//! role × purpose pair opens on which record kinds, which non-personal capabilities it
//! holds, what stays allowed while a subject's use is suspended (利用停止), and how long
//! records are kept (保存期間). [`Policy::decide`] turns a request into the exact field
//! names a caller may see or write; anything not granted is denied.
//!
//! ```
//! use vault_policy::{Action, Decision, DecisionRequest, FieldClass, FieldRef, Policy, RecordKind, TenantScope};
//!
//! let policy = Policy::default_policy();
//! let catalog = [
//!     FieldRef { kind: RecordKind::Examinee, name: "name", class: FieldClass::Identity },
//!     FieldRef { kind: RecordKind::Examinee, name: "phone", class: FieldClass::Contact },
//! ];
//! let roles = vec!["exam_staff".to_owned()];
//! let tenants = TenantScope::from_list(&["13"]);
//! let decision = policy.decide(
//!     &DecisionRequest {
//!         roles: &roles,
//!         tenants: &tenants,
//!         purpose: "result_notification",
//!         action: Action::Read,
//!         kind: RecordKind::Examinee,
//!         record_tenant: Some("13"),
//!         suspended: false,
//!     },
//!     &catalog,
//! );
//! let view = decision.view().unwrap();
//! assert!(view.allows("name"));
//! assert!(!view.allows("phone"));
//! ```

#![warn(missing_docs)]

mod decision;
mod diff;
mod error;
mod explain;
mod file;
mod load;
mod policy;
mod retention;
mod vocab;

pub use decision::{Decision, DecisionRequest, DenyReason, View};
pub use diff::{diff, AccessChange, CapabilityChange, PolicyDiff, RetentionChange};
pub use error::{PolicyError, PolicyProblem};
pub use policy::{
    Grant, Policy, Purpose, Role, RoleSetError, ViewRule, ROLES_WITHOUT_PERSONAL_DATA,
};
pub use retention::{
    BadPeriod, ClockEvent, Period, RetentionAction, RetentionRule, RetentionTarget,
};
pub use vocab::{Action, Capability, FieldClass, FieldRef, RecordKind, TenantScope, UnknownName};
