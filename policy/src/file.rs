//! The policy file as written: TOML tables with the position of every value, so that the
//! checks in `load` can name the line of each problem.
//!
//! Names stay plain text here (not enums) so that an unknown name is reported by the checker
//! with its own line and the list of known names, rather than as a bare serde error.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A list of names, each with its position.
pub(crate) type Names = Vec<Spanned<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    pub(crate) format: Option<Spanned<i64>>,
    pub(crate) tenancy: Option<Spanned<TenancyFile>>,
    pub(crate) suspension: Option<Spanned<SuspensionFile>>,
    #[serde(default)]
    pub(crate) roles: BTreeMap<Spanned<String>, Spanned<RoleFile>>,
    #[serde(default)]
    pub(crate) purposes: BTreeMap<Spanned<String>, Spanned<PurposeFile>>,
    #[serde(default)]
    pub(crate) grant: Vec<Spanned<GrantFile>>,
    #[serde(default)]
    pub(crate) retention: Vec<Spanned<RetentionFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenancyFile {
    pub(crate) outside_scope: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuspensionFile {
    #[serde(default)]
    pub(crate) allowed_purposes: Names,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleFile {
    pub(crate) description: Option<Spanned<String>>,
    pub(crate) personal_data: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurposeFile {
    pub(crate) name_ja: Option<Spanned<String>>,
    pub(crate) description: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantFile {
    pub(crate) role: Option<Spanned<String>>,
    pub(crate) purpose: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) capabilities: Names,
    #[serde(default)]
    pub(crate) view: Vec<Spanned<ViewFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewFile {
    pub(crate) kinds: Option<Names>,
    pub(crate) actions: Option<Names>,
    pub(crate) classes: Option<Names>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionFile {
    pub(crate) id: Option<Spanned<String>>,
    pub(crate) target: Option<Spanned<String>>,
    pub(crate) clock: Option<Spanned<String>>,
    pub(crate) period: Option<Spanned<String>>,
    pub(crate) action: Option<Spanned<String>>,
}
