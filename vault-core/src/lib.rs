//! vault-core owns everything that touches personal data: field encryption,
//! the data model, the record store, the audit log and retention.

pub mod accounts;
pub mod audit;
pub mod crypto;
pub mod import;
pub mod lifecycle;
pub mod model;
pub mod retention;
pub mod store;
pub mod vault;
