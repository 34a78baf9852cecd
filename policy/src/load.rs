//! Reading a policy file and checking it: names, completeness, duplicates, the My Number
//! rules, separation of duties and retention rules. Every problem carries its line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::ops::Range;
use std::str::FromStr;

use toml::Spanned;

use crate::error::{PolicyError, PolicyProblem};
use crate::file::{GrantFile, Names, PolicyFile, RetentionFile, ViewFile};
use crate::policy::{Grant, Policy, Purpose, Role, ViewRule, ROLES_WITHOUT_PERSONAL_DATA};
use crate::retention::{ClockEvent, Period, RetentionAction, RetentionRule, RetentionTarget};
use crate::vocab::{Action, Capability, FieldClass, RecordKind};

/// The only `format` this version reads.
const FORMAT: i64 = 1;

/// Parses and checks `src`; `origin` names it in messages.
pub(crate) fn parse(src: &str, origin: &str) -> Result<Policy, PolicyError> {
    let file: PolicyFile = toml::from_str(src).map_err(|e| PolicyError::Syntax {
        origin: origin.to_owned(),
        line: e.span().map_or(1, |s| line_of(src, s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut checker = Checker {
        src,
        problems: Vec::new(),
    };
    let policy = checker.build(file, origin);
    if checker.problems.is_empty() {
        Ok(policy)
    } else {
        let mut problems = checker.problems;
        // Whole-file problems (no line) first, then by line; stable for equal lines.
        problems.sort_by_key(|p| p.line.unwrap_or(0));
        Err(PolicyError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// The 1-based line holding byte `offset` of `src`.
fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A name from the file, quoted for a message: at most 60 characters, control characters escaped.
fn quote(name: &str) -> String {
    let short: String = name.chars().take(60).collect();
    format!("`{}`", short.escape_debug())
}

/// Role, purpose and rule names: a lower-case letter, then lower-case letters, digits or `_`.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

fn known_list<T: Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

struct Checker<'s> {
    src: &'s str,
    problems: Vec<PolicyProblem>,
}

impl Checker<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.src, span.start)
    }

    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(PolicyProblem {
            line: Some(line),
            message: message.into(),
        });
    }

    fn whole_file(&mut self, message: impl Into<String>) {
        self.problems.push(PolicyProblem {
            line: None,
            message: message.into(),
        });
    }

    /// Parses one vocabulary name; an unknown one is reported with the known names.
    fn vocab<T: FromStr + Display + Copy>(
        &mut self,
        name: &Spanned<String>,
        what: &str,
        all: &[T],
    ) -> Option<T> {
        match name.get_ref().parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.at(
                    name.span(),
                    format!(
                        "unknown {what} {}; known: {}",
                        quote(name.get_ref()),
                        known_list(all)
                    ),
                );
                None
            }
        }
    }

    /// Parses a list of vocabulary names: reports unknown names, repeats and an empty list.
    fn vocab_list<T: FromStr + Display + Copy + Ord>(
        &mut self,
        names: &Names,
        list_span: Range<usize>,
        key: &str,
        what: &str,
        all: &[T],
    ) -> BTreeSet<T> {
        let mut out = BTreeSet::new();
        if names.is_empty() {
            self.at(
                list_span,
                format!("`{key}` is empty; list at least one {what}"),
            );
        }
        for n in names {
            if let Some(v) = self.vocab(n, what, all) {
                if !out.insert(v) {
                    self.at(n.span(), format!("{what} `{v}` is listed twice"));
                }
            }
        }
        out
    }

    fn non_empty_text(
        &mut self,
        value: &Option<Spanned<String>>,
        table_span: Range<usize>,
        missing: String,
    ) -> String {
        match value {
            Some(v) if !v.get_ref().trim().is_empty() => v.get_ref().trim().to_owned(),
            Some(v) => {
                self.at(v.span(), missing);
                String::new()
            }
            None => {
                self.at(table_span, missing);
                String::new()
            }
        }
    }

    fn build(&mut self, file: PolicyFile, origin: &str) -> Policy {
        self.check_header(&file);
        let roles = self.roles(&file);
        let purposes = self.purposes(&file);
        let suspension_allowed = self.suspension(&file, &purposes);
        let grants = self.grants(&file.grant, &roles, &purposes);
        self.separation_of_duties(&file.grant, &grants);
        let retention = self.retention(&file.retention);
        let meister_inactivity = self.meister_inactivity(&file.retention, &retention);
        Policy {
            origin: origin.to_owned(),
            roles,
            purposes,
            grants,
            suspension_allowed,
            retention,
            meister_inactivity,
        }
    }

    fn check_header(&mut self, file: &PolicyFile) {
        match &file.format {
            None => self.whole_file(format!(
                "missing `format = {FORMAT}` at the top of the file (the policy format version)"
            )),
            Some(f) if *f.get_ref() != FORMAT => self.at(
                f.span(),
                format!(
                    "this vault reads policy format {FORMAT}, the file says {}",
                    f.get_ref()
                ),
            ),
            Some(_) => {}
        }
        if let Some(t) = &file.tenancy {
            if let Some(o) = &t.get_ref().outside_scope {
                if o.get_ref() != "not_found" {
                    self.at(
                        o.span(),
                        "`outside_scope` must be \"not_found\": a record of another prefecture \
                         is answered exactly as a missing one, never as forbidden",
                    );
                }
            }
        }
    }

    fn roles(&mut self, file: &PolicyFile) -> Vec<Role> {
        let mut entries: Vec<_> = file.roles.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut roles = Vec::new();
        for (key, table) in entries {
            let name = key.get_ref().clone();
            if !is_valid_name(&name) {
                self.at(
                    key.span(),
                    format!(
                        "role name {} must be lower-case letters, digits and `_`, starting with a letter",
                        quote(&name)
                    ),
                );
            }
            let t = table.get_ref();
            let description = self.non_empty_text(
                &t.description,
                table.span(),
                format!("role `{name}` has no description (who holds it)"),
            );
            let personal_data = match &t.personal_data {
                None => {
                    self.at(
                        table.span(),
                        format!(
                            "role `{name}` must say `personal_data = true` or `personal_data = false` \
                             (whether it may be granted personal field classes)"
                        ),
                    );
                    false
                }
                Some(p) => {
                    if *p.get_ref() && ROLES_WITHOUT_PERSONAL_DATA.contains(&name.as_str()) {
                        self.at(
                            p.span(),
                            format!(
                                "separation of duties: role `{name}` never sees personal data; \
                                 write `personal_data = false`"
                            ),
                        );
                    }
                    *p.get_ref()
                }
            };
            roles.push(Role {
                line: self.line(table.span()),
                name,
                description,
                personal_data,
            });
        }
        if roles.is_empty() {
            self.whole_file("the policy has no roles: add `[roles.NAME]` tables");
        }
        roles
    }

    fn purposes(&mut self, file: &PolicyFile) -> Vec<Purpose> {
        let mut entries: Vec<_> = file.purposes.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut purposes = Vec::new();
        for (key, table) in entries {
            let name = key.get_ref().clone();
            if !is_valid_name(&name) {
                self.at(
                    key.span(),
                    format!(
                        "purpose name {} must be lower-case letters, digits and `_`, starting with a letter",
                        quote(&name)
                    ),
                );
            }
            let t = table.get_ref();
            let name_ja = self.non_empty_text(
                &t.name_ja,
                table.span(),
                format!("purpose `{name}` has no Japanese name (`name_ja`, e.g. \"試験管理事務\")"),
            );
            let description = self.non_empty_text(
                &t.description,
                table.span(),
                format!(
                    "purpose `{name}` has no description (`description`: what the purpose covers)"
                ),
            );
            purposes.push(Purpose {
                line: self.line(table.span()),
                name,
                name_ja,
                description,
            });
        }
        if purposes.is_empty() {
            self.whole_file("the policy has no purposes: add `[purposes.NAME]` tables");
        }
        purposes
    }

    fn suspension(&mut self, file: &PolicyFile, purposes: &[Purpose]) -> BTreeSet<String> {
        let mut allowed = BTreeSet::new();
        if let Some(s) = &file.suspension {
            for p in &s.get_ref().allowed_purposes {
                if !purposes.iter().any(|known| known.name == *p.get_ref()) {
                    self.at(
                        p.span(),
                        format!(
                            "unknown purpose {} in `allowed_purposes`; declare it under [purposes]",
                            quote(p.get_ref())
                        ),
                    );
                } else if !allowed.insert(p.get_ref().clone()) {
                    self.at(
                        p.span(),
                        format!("purpose `{}` is listed twice", p.get_ref()),
                    );
                }
            }
        }
        allowed
    }

    fn grants(
        &mut self,
        files: &[Spanned<GrantFile>],
        roles: &[Role],
        purposes: &[Purpose],
    ) -> Vec<Grant> {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut grants = Vec::new();
        for g in files {
            let line = self.line(g.span());
            let gf = g.get_ref();
            let role = match &gf.role {
                None => {
                    self.at(g.span(), "grant has no `role`");
                    None
                }
                Some(r) => match roles.iter().find(|known| known.name == *r.get_ref()) {
                    Some(known) => Some(known),
                    None => {
                        self.at(
                            r.span(),
                            format!(
                                "unknown role {}; declare it under [roles] (known: {})",
                                quote(r.get_ref()),
                                known_list(&roles.iter().map(|x| &x.name).collect::<Vec<_>>())
                            ),
                        );
                        None
                    }
                },
            };
            let purpose = match &gf.purpose {
                None => {
                    self.at(g.span(), "grant has no `purpose`");
                    None
                }
                Some(p) => match purposes.iter().find(|known| known.name == *p.get_ref()) {
                    Some(known) => Some(known.name.clone()),
                    None => {
                        self.at(
                            p.span(),
                            format!(
                                "unknown purpose {}; declare it under [purposes] (known: {})",
                                quote(p.get_ref()),
                                known_list(&purposes.iter().map(|x| &x.name).collect::<Vec<_>>())
                            ),
                        );
                        None
                    }
                },
            };
            let mut capabilities = BTreeSet::new();
            for c in &gf.capabilities {
                if let Some(cap) = self.vocab(c, "capability", Capability::ALL) {
                    if !capabilities.insert(cap) {
                        self.at(c.span(), format!("capability `{cap}` is listed twice"));
                    }
                }
            }
            let views: Vec<ViewRule> = gf.view.iter().map(|v| self.view(v, role)).collect();
            let (Some(role), Some(purpose)) = (role, purpose) else {
                continue;
            };
            let key = (role.name.clone(), purpose.clone());
            if let Some(first) = seen.get(&key) {
                self.at(
                    g.span(),
                    format!(
                        "duplicate grant: role `{}` with purpose `{}` is already granted at line {first}; \
                         merge the two",
                        key.0, key.1
                    ),
                );
                continue;
            }
            seen.insert(key, line);
            grants.push(Grant {
                role: role.name.clone(),
                purpose,
                views,
                capabilities,
                line,
            });
        }
        grants
    }

    fn view(&mut self, v: &Spanned<ViewFile>, role: Option<&Role>) -> ViewRule {
        let vf = v.get_ref();
        let line = self.line(v.span());
        let list = |this: &mut Self, names: &Option<Names>, key: &str| -> Option<Names> {
            if names.is_none() {
                this.at(v.span(), format!("view has no `{key}` list"));
            }
            names.clone()
        };
        let kinds_src = list(self, &vf.kinds, "kinds");
        let actions_src = list(self, &vf.actions, "actions");
        let classes_src = list(self, &vf.classes, "classes");
        let kinds = kinds_src.as_ref().map_or_else(BTreeSet::new, |n| {
            self.vocab_list(n, v.span(), "kinds", "record kind", RecordKind::ALL)
        });
        let actions = actions_src.as_ref().map_or_else(BTreeSet::new, |n| {
            self.vocab_list(n, v.span(), "actions", "action", Action::ALL)
        });
        let classes = classes_src.as_ref().map_or_else(BTreeSet::new, |n| {
            self.vocab_list(n, v.span(), "classes", "field class", FieldClass::ALL)
        });

        // My Number: only ever through `reveal`, in a view of its own (C2).
        let reveal_only = actions.len() == 1 && actions.contains(&Action::Reveal);
        let my_number_only = classes.len() == 1 && classes.contains(&FieldClass::MyNumber);
        if classes.contains(&FieldClass::MyNumber) && !(reveal_only && my_number_only) {
            let span = find_span(&classes_src, FieldClass::MyNumber.as_str(), v.span());
            self.at(
                span,
                "field class `my_number` is granted only by a view of its own with \
                 `actions = [\"reveal\"]` and `classes = [\"my_number\"]`; My Number never appears \
                 in reads, searches, writes or exports",
            );
        }
        if actions.contains(&Action::Reveal) && !(reveal_only && my_number_only) {
            let span = find_span(&actions_src, Action::Reveal.as_str(), v.span());
            self.at(
                span,
                "action `reveal` shows My Number only: its view has `actions = [\"reveal\"]` and \
                 `classes = [\"my_number\"]` and nothing else",
            );
        }

        if let Some(role) = role {
            if !role.personal_data && !classes.is_empty() {
                let span = classes_src
                    .as_ref()
                    .and_then(|n| n.first())
                    .map_or(v.span(), Spanned::span);
                self.at(
                    span,
                    format!(
                        "role `{}` is declared with personal_data = false (it must not see personal \
                         data) but this view grants field class{} {}",
                        role.name,
                        if classes.len() == 1 { "" } else { "es" },
                        classes
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        ViewRule {
            kinds,
            actions,
            classes,
            line,
        }
    }

    /// Separation of duties: a role with any record view holds no approval capability.
    fn separation_of_duties(&mut self, files: &[Spanned<GrantFile>], grants: &[Grant]) {
        let mut first_view_line: BTreeMap<&str, usize> = BTreeMap::new();
        for g in grants {
            if let Some(v) = g.views.first() {
                let e = first_view_line.entry(g.role.as_str()).or_insert(v.line);
                *e = (*e).min(v.line);
            }
        }
        for gf in files {
            let Some(role) = &gf.get_ref().role else {
                continue;
            };
            let Some(view_line) = first_view_line.get(role.get_ref().as_str()) else {
                continue;
            };
            for c in &gf.get_ref().capabilities {
                if let Ok(cap) = c.get_ref().parse::<Capability>() {
                    if cap.is_approval() {
                        self.at(
                            c.span(),
                            format!(
                                "separation of duties: role `{}` is granted personal field classes \
                                 (view at line {view_line}) so it cannot also hold `{cap}`; \
                                 approvals belong to a role that sees no personal data",
                                role.get_ref()
                            ),
                        );
                    }
                }
            }
        }
    }

    fn retention(&mut self, files: &[Spanned<RetentionFile>]) -> Vec<RetentionRule> {
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut pairs: BTreeMap<(RetentionTarget, ClockEvent), usize> = BTreeMap::new();
        let mut rules = Vec::new();
        for r in files {
            let line = self.line(r.span());
            let rf = r.get_ref();
            let id = match &rf.id {
                None => {
                    self.at(
                        r.span(),
                        "retention rule has no `id` (a short name, e.g. \"application\")",
                    );
                    None
                }
                Some(id) if !is_valid_name(id.get_ref()) => {
                    self.at(
                        id.span(),
                        format!(
                            "retention rule id {} must be lower-case letters, digits and `_`",
                            quote(id.get_ref())
                        ),
                    );
                    None
                }
                Some(id) => {
                    if let Some(first) = ids.get(id.get_ref()) {
                        self.at(
                            id.span(),
                            format!(
                                "duplicate retention rule id `{}` (first at line {first})",
                                id.get_ref()
                            ),
                        );
                    } else {
                        ids.insert(id.get_ref().clone(), line);
                    }
                    Some(id.get_ref().clone())
                }
            };
            let label = id.clone().unwrap_or_else(|| "(no id)".to_owned());
            let target =
                self.required_vocab(&rf.target, r.span(), &label, "target", RetentionTarget::ALL);
            let clock = self.required_vocab(&rf.clock, r.span(), &label, "clock", ClockEvent::ALL);
            let action =
                self.required_vocab(&rf.action, r.span(), &label, "action", RetentionAction::ALL);
            let period = match &rf.period {
                None => {
                    self.at(
                        r.span(),
                        format!(
                            "retention rule `{label}` has no period; write e.g. `period = \"5 years\"` \
                             or `period = \"permanent\"`"
                        ),
                    );
                    None
                }
                Some(p) => match p.get_ref().parse::<Period>() {
                    Ok(period) => Some(period),
                    Err(e) => {
                        self.at(
                            p.span(),
                            format!(
                                "retention rule `{label}`: period {}: {e}",
                                quote(p.get_ref())
                            ),
                        );
                        None
                    }
                },
            };

            if let (Some(target), Some(clock)) = (target, clock) {
                if !target.allowed_clocks().contains(&clock) {
                    self.at(
                        field_span(&rf.clock, r.span()),
                        format!(
                            "clock `{clock}` does not apply to target `{target}` (allowed: {})",
                            known_list(target.allowed_clocks())
                        ),
                    );
                } else if let Some(first) = pairs.get(&(target, clock)) {
                    self.at(
                        r.span(),
                        format!(
                            "duplicate retention rule: target `{target}` with clock `{clock}` is \
                             already set at line {first}"
                        ),
                    );
                } else {
                    pairs.insert((target, clock), line);
                }
            }
            if let (Some(target), Some(clock), Some(action)) = (target, clock, action) {
                if let Some(msg) = action_mismatch(target, clock, action) {
                    self.at(field_span(&rf.action, r.span()), msg);
                }
            }
            if let (Some(action), Some(period)) = (action, period) {
                if period.is_permanent() != (action == RetentionAction::Keep) {
                    self.at(
                        field_span(&rf.period, r.span()),
                        "a `permanent` period goes with action `keep`, and `keep` only with \
                         `permanent`",
                    );
                }
            }
            if let (Some(id), Some(target), Some(clock), Some(period), Some(action)) =
                (id, target, clock, period, action)
            {
                rules.push(RetentionRule {
                    id,
                    target,
                    clock,
                    period,
                    action,
                    line,
                });
            }
        }
        rules
    }

    fn required_vocab<T: FromStr + Display + Copy>(
        &mut self,
        value: &Option<Spanned<String>>,
        rule_span: Range<usize>,
        label: &str,
        key: &str,
        all: &[T],
    ) -> Option<T> {
        match value {
            None => {
                self.at(
                    rule_span,
                    format!(
                        "retention rule `{label}` has no `{key}` (one of: {})",
                        known_list(all)
                    ),
                );
                None
            }
            Some(v) => self.vocab(v, &format!("retention {key}"), all),
        }
    }

    fn meister_inactivity(
        &mut self,
        files: &[Spanned<RetentionFile>],
        rules: &[RetentionRule],
    ) -> Period {
        let flagged: Vec<&RetentionRule> = rules
            .iter()
            .filter(|r| r.action == RetentionAction::FlagIntentCheck)
            .collect();
        if let Some(rule) = flagged.first() {
            return rule.period;
        }
        let attempted = files.iter().any(|r| {
            r.get_ref()
                .action
                .as_ref()
                .is_some_and(|a| a.get_ref() == RetentionAction::FlagIntentCheck.as_str())
        });
        if !attempted {
            self.whole_file(
                "no meister inactivity rule: add a [[retention]] rule with target = \"meister\", \
                 clock = \"last_activity_or_certification\", a period (e.g. \"3 years\") and \
                 action = \"flag_intent_check\"",
            );
        }
        Period::years(3)
    }
}

/// Which action a target and clock need, if `action` is not it.
fn action_mismatch(
    target: RetentionTarget,
    clock: ClockEvent,
    action: RetentionAction,
) -> Option<String> {
    let needs = match (target, clock) {
        (RetentionTarget::MyNumber, _) => Some(RetentionAction::ShredMyNumber),
        (RetentionTarget::AuditEvent, _) => Some(RetentionAction::DeleteKeepCheckpoint),
        (RetentionTarget::Meister, ClockEvent::LastActivityOrCertification) => {
            Some(RetentionAction::FlagIntentCheck)
        }
        _ => None,
    };
    match needs {
        Some(needed) if needed != action => Some(format!(
            "target `{target}` with clock `{clock}` takes action `{needed}`, not `{action}`"
        )),
        Some(_) => None,
        None if matches!(
            action,
            RetentionAction::ShredMyNumber
                | RetentionAction::DeleteKeepCheckpoint
                | RetentionAction::FlagIntentCheck
        ) =>
        {
            Some(format!(
                "action `{action}` does not apply to target `{target}` with clock `{clock}`; \
                 use `delete` or `keep`"
            ))
        }
        None => None,
    }
}

fn field_span(value: &Option<Spanned<String>>, fallback: Range<usize>) -> Range<usize> {
    value.as_ref().map_or(fallback, Spanned::span)
}

fn find_span(names: &Option<Names>, wanted: &str, fallback: Range<usize>) -> Range<usize> {
    names
        .as_ref()
        .and_then(|n| n.iter().find(|s| s.get_ref() == wanted))
        .map_or(fallback, Spanned::span)
}
