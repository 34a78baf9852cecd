//! The declarative policy of kentei-vault: roles, purposes, field classes, views,
//! tenants, separation of duties and retention rules.
