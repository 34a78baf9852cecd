//! `policy explain`: the policy as readable tables (role × purpose × record kinds × actions ×
//! field classes × capabilities, then purposes, suspension, tenancy and retention).

use std::fmt::Write as _;

use crate::policy::Policy;

/// Widest a list cell grows before it wraps onto the next line.
const CELL_WIDTH: usize = 34;

/// Lays out a list of names as lines of at most [`CELL_WIDTH`] characters.
fn wrap(items: &[String]) -> Vec<String> {
    if items.is_empty() {
        return vec!["-".to_owned()];
    }
    let mut lines = Vec::new();
    let mut current = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if !current.is_empty() && current.len() + 1 + piece.len() > CELL_WIDTH {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&piece);
    }
    lines.push(current);
    lines
}

/// A plain-text table whose cells may span several lines; rows are grouped and groups are
/// separated by a rule.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    groups: Vec<Vec<Vec<Vec<String>>>>,
}

impl Table {
    pub(crate) fn new(headers: Vec<&'static str>) -> Table {
        Table {
            headers,
            groups: Vec::new(),
        }
    }

    pub(crate) fn group(&mut self, rows: Vec<Vec<Vec<String>>>) {
        self.groups.push(rows);
    }

    pub(crate) fn render(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in self.groups.iter().flatten() {
            for (i, cell) in row.iter().enumerate() {
                for line in cell {
                    widths[i] = widths[i].max(line.chars().count());
                }
            }
        }
        let rule: String = widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ");
        let write_line = |out: &mut String, cells: &[&str]| {
            let mut line = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        };
        write_line(out, &self.headers);
        out.push_str(&rule);
        out.push('\n');
        for (g, rows) in self.groups.iter().enumerate() {
            if g > 0 {
                out.push('\n');
            }
            for row in rows {
                let height = row.iter().map(Vec::len).max().unwrap_or(1);
                for l in 0..height {
                    let cells: Vec<&str> = row
                        .iter()
                        .map(|c| c.get(l).map_or("", String::as_str))
                        .collect();
                    write_line(out, &cells);
                }
            }
        }
    }
}

fn names<T: ToString>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    items.into_iter().map(|i| i.to_string()).collect()
}

impl Policy {
    /// The policy as readable text, optionally only for one role and/or one purpose: who may
    /// state which purpose and, for each, the record kinds, actions, field classes and
    /// capabilities it grants; then the purposes, suspension, tenancy and retention rules.
    pub fn explain(&self, role: Option<&str>, purpose: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Policy {}", self.origin());
        let mut unknown = false;
        if let Some(r) = role {
            if !self.is_known_role(r) {
                unknown = true;
                let known: Vec<&str> = self.roles().iter().map(|r| r.name()).collect();
                let _ = writeln!(out, "unknown role `{r}`; roles: {}", known.join(", "));
            }
        }
        if let Some(p) = purpose {
            if !self.is_known_purpose(p) {
                unknown = true;
                let known: Vec<&str> = self.purposes().iter().map(|p| p.name()).collect();
                let _ = writeln!(out, "unknown purpose `{p}`; purposes: {}", known.join(", "));
            }
        }
        if unknown {
            return out;
        }
        match (role, purpose) {
            (None, None) => {}
            (r, p) => {
                let _ = writeln!(
                    out,
                    "Showing role = {}, purpose = {}",
                    r.unwrap_or("any"),
                    p.unwrap_or("any")
                );
            }
        }
        out.push('\n');

        let _ = writeln!(
            out,
            "Grants (anything not listed is denied; a role may state a purpose only where a row exists)"
        );
        out.push('\n');
        let mut table = Table::new(vec![
            "ROLE",
            "PURPOSE",
            "RECORD KINDS",
            "ACTIONS",
            "FIELD CLASSES",
            "CAPABILITIES",
        ]);
        let mut shown_purposes: Vec<&str> = Vec::new();
        for g in self.grants() {
            if role.is_some_and(|r| r != g.role()) || purpose.is_some_and(|p| p != g.purpose()) {
                continue;
            }
            if !shown_purposes.contains(&g.purpose()) {
                shown_purposes.push(g.purpose());
            }
            let caps = wrap(&names(g.capabilities()));
            let mut rows = Vec::new();
            if g.views().is_empty() {
                rows.push(vec![
                    vec![g.role().to_owned()],
                    vec![g.purpose().to_owned()],
                    vec!["-".to_owned()],
                    vec!["-".to_owned()],
                    vec!["-".to_owned()],
                    caps,
                ]);
            } else {
                for (i, v) in g.views().iter().enumerate() {
                    let first = i == 0;
                    rows.push(vec![
                        vec![if first {
                            g.role().to_owned()
                        } else {
                            String::new()
                        }],
                        vec![if first {
                            g.purpose().to_owned()
                        } else {
                            String::new()
                        }],
                        wrap(&names(v.kinds())),
                        wrap(&names(v.actions())),
                        wrap(&names(v.classes())),
                        if first {
                            caps.clone()
                        } else {
                            vec![String::new()]
                        },
                    ]);
                }
            }
            table.group(rows);
        }
        if shown_purposes.is_empty() {
            out.push_str("(no grant: every request is denied)\n");
        } else {
            table.render(&mut out);
        }

        out.push_str("\nPurposes\n\n");
        for p in self.purposes() {
            if purpose.is_some_and(|f| f != p.name())
                || (role.is_some() && !shown_purposes.contains(&p.name()))
            {
                continue;
            }
            let _ = writeln!(out, "  {}  {}", p.name(), p.name_ja());
            let _ = writeln!(out, "      {}", p.description());
        }

        out.push_str("\nRoles\n\n");
        for r in self.roles() {
            if role.is_some_and(|f| f != r.name()) {
                continue;
            }
            let _ = writeln!(
                out,
                "  {}  ({})",
                r.name(),
                if r.personal_data() {
                    "may see personal data"
                } else {
                    "never sees personal data"
                }
            );
            let _ = writeln!(out, "      {}", r.description());
        }

        let suspended: Vec<&str> = self.suspension_purposes().collect();
        let _ = writeln!(
            out,
            "\nWhile a subject's use is suspended (利用停止), only these purposes may touch it: {}",
            if suspended.is_empty() {
                "none".to_owned()
            } else {
                suspended.join(", ")
            }
        );
        out.push_str(
            "Records outside the account's prefectures are answered as not found, exactly as if missing.\n",
        );

        if role.is_none() && purpose.is_none() {
            out.push_str("\nRetention rules (nothing is deleted before its period has passed)\n\n");
            let mut table = Table::new(vec!["RULE", "TARGET", "CLOCK STARTS", "PERIOD", "THEN"]);
            table.group(
                self.retention_rules()
                    .iter()
                    .map(|r| {
                        vec![
                            vec![r.id().to_owned()],
                            vec![r.target().to_string()],
                            vec![r.clock().to_string()],
                            vec![r.period().to_string()],
                            vec![r.action().to_string()],
                        ]
                    })
                    .collect(),
            );
            table.render(&mut out);
            out.push_str("\nClocks\n\n");
            let mut clocks: Vec<_> = self.retention_rules().iter().map(|r| r.clock()).collect();
            clocks.sort();
            clocks.dedup();
            for c in clocks {
                let _ = writeln!(out, "  {c}: {}", c.describe());
            }
            let _ = writeln!(
                out,
                "\nMeister inactivity period (意向確認 after): {}",
                self.meister_inactivity_period()
            );
        }
        out
    }
}
