//! The declarative policy of kentei-vault: roles, purposes, field classes, views,
//! tenants, separation of duties and retention rules.

mod vocab;

pub use vocab::{Action, FieldClass, FieldRef, RecordKind, TenantScope, UnknownName};
