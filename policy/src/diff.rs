//! `policy diff`: what a policy change grants, removes, and which retention periods it
//! shortens (C15: a shortened period is shown before anything is deleted under it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;

use crate::policy::Policy;
use crate::retention::{ClockEvent, Period, RetentionRule, RetentionTarget};
use crate::vocab::{Action, Capability, FieldClass, RecordKind};

/// Access that changed for one role × purpose × record kind.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessChange {
    /// The role.
    pub role: String,
    /// The purpose.
    pub purpose: String,
    /// The record kind.
    pub kind: RecordKind,
    /// Actions granted now that were not before.
    pub actions_added: Vec<Action>,
    /// Actions granted before that are not now.
    pub actions_removed: Vec<Action>,
    /// Per action, field classes opened now that were not before (all classes of an added action).
    pub classes_added: Vec<(Action, Vec<FieldClass>)>,
    /// Per action, field classes opened before that are not now (all classes of a removed action).
    pub classes_removed: Vec<(Action, Vec<FieldClass>)>,
}

impl AccessChange {
    /// Whether the change grants anything new.
    pub fn grants_more(&self) -> bool {
        !self.actions_added.is_empty() || !self.classes_added.is_empty()
    }

    /// Whether the change takes anything away.
    pub fn grants_less(&self) -> bool {
        !self.actions_removed.is_empty() || !self.classes_removed.is_empty()
    }
}

/// Capabilities that changed for one role × purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapabilityChange {
    /// The role.
    pub role: String,
    /// The purpose.
    pub purpose: String,
    /// Capabilities granted now that were not before.
    pub added: Vec<Capability>,
    /// Capabilities granted before that are not now.
    pub removed: Vec<Capability>,
}

/// A retention rule (matched by target and clock) that was added, removed or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionChange {
    /// What the rule applies to.
    pub target: RetentionTarget,
    /// The event that starts its clock.
    pub clock: ClockEvent,
    /// The rule before the change; `None` for a new rule.
    pub old: Option<RetentionRule>,
    /// The rule after the change; `None` for a removed rule.
    pub new: Option<RetentionRule>,
}

impl RetentionChange {
    /// Whether records may become due for deletion EARLIER than before: the period is shorter
    /// for at least one start date, a new rule deletes, or a rule that kept now deletes.
    pub fn shortens(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => {
                (new.action().deletes() && !old.action().deletes())
                    || period_comparison(old.period(), new.period()).0
            }
            (None, Some(new)) => new.action().deletes(),
            _ => false,
        }
    }

    /// Whether records are kept longer than before (and never shorter).
    pub fn lengthens(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) if !self.shortens() => {
                period_comparison(old.period(), new.period()).1
                    || (old.action().deletes() && !new.action().deletes())
            }
            _ => false,
        }
    }
}

/// What changes between two policies; see [`diff`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyDiff {
    /// Where the old policy came from.
    pub old_origin: String,
    /// Where the new policy came from.
    pub new_origin: String,
    /// Roles only in the new policy.
    pub roles_added: Vec<String>,
    /// Roles only in the old policy.
    pub roles_removed: Vec<String>,
    /// Purposes only in the new policy.
    pub purposes_added: Vec<String>,
    /// Purposes only in the old policy.
    pub purposes_removed: Vec<String>,
    /// (role, purpose) pairs that may now be stated.
    pub statable_added: Vec<(String, String)>,
    /// (role, purpose) pairs that may no longer be stated.
    pub statable_removed: Vec<(String, String)>,
    /// Record access that changed, per role × purpose × record kind.
    pub access: Vec<AccessChange>,
    /// Capabilities that changed, per role × purpose.
    pub capabilities: Vec<CapabilityChange>,
    /// Purposes newly allowed while a subject's use is suspended.
    pub suspension_added: Vec<String>,
    /// Purposes no longer allowed while a subject's use is suspended.
    pub suspension_removed: Vec<String>,
    /// Retention rules added, removed or changed.
    pub retention: Vec<RetentionChange>,
}

impl PolicyDiff {
    /// Whether the two policies decide and retain alike.
    pub fn is_empty(&self) -> bool {
        self.roles_added.is_empty()
            && self.roles_removed.is_empty()
            && self.purposes_added.is_empty()
            && self.purposes_removed.is_empty()
            && self.statable_added.is_empty()
            && self.statable_removed.is_empty()
            && self.access.is_empty()
            && self.capabilities.is_empty()
            && self.suspension_added.is_empty()
            && self.suspension_removed.is_empty()
            && self.retention.is_empty()
    }

    /// Whether any retention change lets records be deleted earlier than before.
    pub fn shortens_retention(&self) -> bool {
        self.retention.iter().any(RetentionChange::shortens)
    }

    /// Whether the change grants any role more access, capabilities or purposes.
    pub fn widens_access(&self) -> bool {
        !self.statable_added.is_empty()
            || self.access.iter().any(AccessChange::grants_more)
            || self.capabilities.iter().any(|c| !c.added.is_empty())
            || !self.suspension_added.is_empty()
    }
}

/// Start dates the periods are compared on: fiscal-year ends, month ends and a leap day, where
/// month and day arithmetic differ most.
const REFERENCE_STARTS: &[(i32, u32, u32)] = &[
    (2021, 3, 31),
    (2024, 2, 29),
    (2023, 1, 31),
    (2023, 1, 30),
    (2022, 4, 1),
    (2022, 7, 1),
    (2020, 12, 31),
    (2023, 6, 15),
];

/// (shorter for some start date, longer for some start date), comparing `new` to `old`.
fn period_comparison(old: Period, new: Period) -> (bool, bool) {
    let mut shorter = false;
    let mut longer = false;
    for &(y, m, d) in REFERENCE_STARTS {
        let Some(start) = NaiveDate::from_ymd_opt(y, m, d) else {
            continue;
        };
        // `None` is "never due", later than any date.
        let (o, n) = (old.due_from(start), new.due_from(start));
        match (o, n) {
            (Some(o), Some(n)) if n < o => shorter = true,
            (Some(o), Some(n)) if n > o => longer = true,
            (None, Some(_)) => shorter = true,
            (Some(_), None) => longer = true,
            _ => {}
        }
    }
    (shorter, longer)
}

type AccessKey = (String, String, RecordKind);

fn access_map(p: &Policy) -> BTreeMap<AccessKey, BTreeMap<Action, BTreeSet<FieldClass>>> {
    let mut map: BTreeMap<AccessKey, BTreeMap<Action, BTreeSet<FieldClass>>> = BTreeMap::new();
    for g in p.grants() {
        for v in g.views() {
            for &kind in v.kinds() {
                let per_action = map
                    .entry((g.role().to_owned(), g.purpose().to_owned(), kind))
                    .or_default();
                for &action in v.actions() {
                    per_action
                        .entry(action)
                        .or_default()
                        .extend(v.classes().iter().copied());
                }
            }
        }
    }
    map
}

fn set_diff<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> Vec<T> {
    a.difference(b).cloned().collect()
}

/// Compares two policies: what `new` grants or removes relative to `old`, and which
/// retention periods get shorter or longer.
pub fn diff(old: &Policy, new: &Policy) -> PolicyDiff {
    let names = |p: &Policy, roles: bool| -> BTreeSet<String> {
        if roles {
            p.roles().iter().map(|r| r.name().to_owned()).collect()
        } else {
            p.purposes().iter().map(|r| r.name().to_owned()).collect()
        }
    };
    let pairs = |p: &Policy| -> BTreeSet<(String, String)> {
        p.grants()
            .iter()
            .map(|g| (g.role().to_owned(), g.purpose().to_owned()))
            .collect()
    };

    let (old_access, new_access) = (access_map(old), access_map(new));
    let keys: BTreeSet<&AccessKey> = old_access.keys().chain(new_access.keys()).collect();
    let empty = BTreeMap::new();
    let mut access = Vec::new();
    for key in keys {
        let o = old_access.get(key).unwrap_or(&empty);
        let n = new_access.get(key).unwrap_or(&empty);
        let o_actions: BTreeSet<Action> = o.keys().copied().collect();
        let n_actions: BTreeSet<Action> = n.keys().copied().collect();
        let none = BTreeSet::new();
        let mut classes_added = Vec::new();
        let mut classes_removed = Vec::new();
        for action in o_actions.union(&n_actions) {
            let oc = o.get(action).unwrap_or(&none);
            let nc = n.get(action).unwrap_or(&none);
            let added = set_diff(nc, oc);
            let removed = set_diff(oc, nc);
            if !added.is_empty() {
                classes_added.push((*action, added));
            }
            if !removed.is_empty() {
                classes_removed.push((*action, removed));
            }
        }
        let change = AccessChange {
            role: key.0.clone(),
            purpose: key.1.clone(),
            kind: key.2,
            actions_added: set_diff(&n_actions, &o_actions),
            actions_removed: set_diff(&o_actions, &n_actions),
            classes_added,
            classes_removed,
        };
        if change.grants_more() || change.grants_less() {
            access.push(change);
        }
    }

    let mut capabilities = Vec::new();
    let all_pairs: BTreeSet<(String, String)> = pairs(old).union(&pairs(new)).cloned().collect();
    for (role, purpose) in all_pairs {
        let caps = |p: &Policy| -> BTreeSet<Capability> {
            p.grant(&role, &purpose)
                .map(|g| g.capabilities().clone())
                .unwrap_or_default()
        };
        let (o, n) = (caps(old), caps(new));
        let change = CapabilityChange {
            added: set_diff(&n, &o),
            removed: set_diff(&o, &n),
            role,
            purpose,
        };
        if !change.added.is_empty() || !change.removed.is_empty() {
            capabilities.push(change);
        }
    }

    let rules = |p: &Policy| -> BTreeMap<(RetentionTarget, ClockEvent), RetentionRule> {
        p.retention_rules()
            .iter()
            .map(|r| ((r.target(), r.clock()), r.clone()))
            .collect()
    };
    let (old_rules, new_rules) = (rules(old), rules(new));
    let rule_keys: BTreeSet<&(RetentionTarget, ClockEvent)> =
        old_rules.keys().chain(new_rules.keys()).collect();
    let mut retention = Vec::new();
    for key in rule_keys {
        let (o, n) = (old_rules.get(key), new_rules.get(key));
        let same = match (o, n) {
            (Some(o), Some(n)) => {
                o.period() == n.period() && o.action() == n.action() && o.id() == n.id()
            }
            _ => false,
        };
        if !same {
            retention.push(RetentionChange {
                target: key.0,
                clock: key.1,
                old: o.cloned(),
                new: n.cloned(),
            });
        }
    }

    let suspension =
        |p: &Policy| -> BTreeSet<String> { p.suspension_purposes().map(str::to_owned).collect() };

    PolicyDiff {
        old_origin: old.origin().to_owned(),
        new_origin: new.origin().to_owned(),
        roles_added: set_diff(&names(new, true), &names(old, true)),
        roles_removed: set_diff(&names(old, true), &names(new, true)),
        purposes_added: set_diff(&names(new, false), &names(old, false)),
        purposes_removed: set_diff(&names(old, false), &names(new, false)),
        statable_added: set_diff(&pairs(new), &pairs(old)),
        statable_removed: set_diff(&pairs(old), &pairs(new)),
        access,
        capabilities,
        suspension_added: set_diff(&suspension(new), &suspension(old)),
        suspension_removed: set_diff(&suspension(old), &suspension(new)),
        retention,
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Groups per-action class changes so that actions changing alike print on one line:
/// (whether the actions are new/removed as a whole, the actions, the classes).
fn grouped(
    per_action: &[(Action, Vec<FieldClass>)],
    whole_actions: &[Action],
) -> Vec<(bool, Vec<Action>, Vec<FieldClass>)> {
    let mut groups: Vec<(bool, Vec<Action>, Vec<FieldClass>)> = Vec::new();
    for (action, classes) in per_action {
        let whole = whole_actions.contains(action);
        match groups
            .iter_mut()
            .find(|(w, _, c)| *w == whole && c == classes)
        {
            Some(group) => group.1.push(*action),
            None => groups.push((whole, vec![*action], classes.clone())),
        }
    }
    groups
}

fn rule_text(r: &RetentionRule) -> String {
    format!("{}, then {}", r.period(), r.action())
}

impl fmt::Display for PolicyDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Policy change: {} -> {}",
            self.old_origin, self.new_origin
        )?;
        if self.is_empty() {
            return writeln!(f, "No change in roles, purposes, access or retention.");
        }
        let shortened = self.retention.iter().filter(|c| c.shortens()).count();
        if shortened > 0 {
            writeln!(
                f,
                "!! WARNING: {shortened} retention rule(s) get SHORTER: records may become due for \
                 deletion earlier. Make a retention plan (dry run) to see the count before approving."
            )?;
        }
        let list = |f: &mut fmt::Formatter<'_>, title: &str, items: &[String]| -> fmt::Result {
            if items.is_empty() {
                Ok(())
            } else {
                writeln!(f, "\n{title}: {}", items.join(", "))
            }
        };
        list(f, "Roles added", &self.roles_added)?;
        list(f, "Roles removed", &self.roles_removed)?;
        list(f, "Purposes added", &self.purposes_added)?;
        list(f, "Purposes removed", &self.purposes_removed)?;

        if !self.statable_added.is_empty() || !self.statable_removed.is_empty() {
            writeln!(f, "\nWho may state which purpose")?;
            for (r, p) in &self.statable_added {
                writeln!(f, "  + {r} may now state {p}")?;
            }
            for (r, p) in &self.statable_removed {
                writeln!(f, "  - {r} may no longer state {p}")?;
            }
        }

        if self.access.iter().any(AccessChange::grants_more) {
            writeln!(f, "\nAccess GRANTED")?;
            for c in self.access.iter().filter(|c| c.grants_more()) {
                for (new_action, actions, classes) in grouped(&c.classes_added, &c.actions_added) {
                    writeln!(
                        f,
                        "  + {} × {} × {}: {} {} {}",
                        c.role,
                        c.purpose,
                        c.kind,
                        join(&actions),
                        if new_action {
                            "(new action) on"
                        } else {
                            "now also on"
                        },
                        join(&classes)
                    )?;
                }
            }
        }
        if self.access.iter().any(AccessChange::grants_less) {
            writeln!(f, "\nAccess removed")?;
            for c in self.access.iter().filter(|c| c.grants_less()) {
                for (gone, actions, classes) in grouped(&c.classes_removed, &c.actions_removed) {
                    writeln!(
                        f,
                        "  - {} × {} × {}: {} {} {}",
                        c.role,
                        c.purpose,
                        c.kind,
                        join(&actions),
                        if gone {
                            "(action removed) was on"
                        } else {
                            "no longer on"
                        },
                        join(&classes)
                    )?;
                }
            }
        }

        if !self.capabilities.is_empty() {
            writeln!(f, "\nCapabilities")?;
            for c in &self.capabilities {
                if !c.added.is_empty() {
                    writeln!(f, "  + {} × {}: {}", c.role, c.purpose, join(&c.added))?;
                }
                if !c.removed.is_empty() {
                    writeln!(f, "  - {} × {}: {}", c.role, c.purpose, join(&c.removed))?;
                }
            }
        }

        if !self.suspension_added.is_empty() || !self.suspension_removed.is_empty() {
            writeln!(f, "\nAllowed while a subject's use is suspended (利用停止)")?;
            for p in &self.suspension_added {
                writeln!(f, "  + {p}")?;
            }
            for p in &self.suspension_removed {
                writeln!(f, "  - {p}")?;
            }
        }

        if !self.retention.is_empty() {
            writeln!(f, "\nRetention")?;
            for c in &self.retention {
                let flag = if c.shortens() {
                    "!! SHORTER"
                } else if c.lengthens() {
                    "   longer "
                } else {
                    "   changed"
                };
                let subject = format!("target {} from {}", c.target, c.clock);
                match (&c.old, &c.new) {
                    (Some(o), Some(n)) => writeln!(
                        f,
                        "  {flag}  rule `{}` ({subject}): {} -> {}",
                        n.id(),
                        rule_text(o),
                        rule_text(n)
                    )?,
                    (None, Some(n)) => writeln!(
                        f,
                        "  {}  new rule `{}` ({subject}): {}",
                        if c.shortens() {
                            "!! NEW DELETION"
                        } else {
                            "   added"
                        },
                        n.id(),
                        rule_text(n)
                    )?,
                    (Some(o), None) => writeln!(
                        f,
                        "     removed  rule `{}` ({subject}): was {}",
                        o.id(),
                        rule_text(o)
                    )?,
                    (None, None) => {}
                }
            }
        }
        Ok(())
    }
}
