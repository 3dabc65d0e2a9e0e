//! Renders a [`Plan`] for people and machines: a terminal text view (comfy-table per resource kind,
//! fitted to the terminal's width when there is one, one line per attribute of a multi-attribute
//! update as Terraform shows them, unified diffs for long texts), markdown for pull-request comments
//! ([`markdown`](mod@markdown)), the "Needs attention" list of risky changes that the comment opens
//! with and the text view ends on ([`attention`](mod@attention)), and the versioned JSON documents
//! with their own output types ([`json`](mod@json)).

mod access;
pub mod attention;
pub mod doctor;
pub mod facts;
pub mod json;
pub mod markdown;
pub mod progress;

pub use access::{access_markdown, access_text, drift_access_text};
pub use json::json;
pub use markdown::markdown;
// The escaping of remote text is a leaf module of its own (every layer that words a message uses
// it); the renderers use it from here.
pub use crate::untrusted::{untrusted, untrusted_lines, untrusted_markdown};

use std::fmt::Write as _;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL};

use crate::plan::{Action, Change, Plan, ResourceKind};

/// How the text view looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub color: bool,
    pub verbose: bool,
    /// Fit the tables to this many columns, wrapping long cells inside their column; `None`:
    /// unconstrained (one line per row, however long).
    pub width: Option<u16>,
}

/// The summary line, e.g. `Plan: 3 to add, 1 to change, 0 to destroy.`
pub fn summary_line(plan: &Plan) -> String {
    if plan.is_empty() && plan.drift.is_empty() {
        return "No changes. The organization matches the policy.".to_string();
    }
    if plan.is_empty() {
        return format!(
            "No changes, but the organization does not match the policy: {} item(s) of drift left alone (see the notes; prune = true would remove them).",
            plan.drift.changes.len()
        );
    }
    let s = plan.summary();
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    );
    if s.images > 0 {
        let _ = write!(
            line,
            " Images: {} to copy, {} to transfer.",
            s.images,
            crate::mirror::approx_bytes(s.bytes, "about ")
        );
    }
    line
}

/// Changes grouped by kind, in plan order of first appearance (deletion groups first).
fn groups(plan: &Plan) -> Vec<((Action, ResourceKind), Vec<&Change>)> {
    let mut out: Vec<((Action, ResourceKind), Vec<&Change>)> = Vec::new();
    for c in &plan.changes {
        let key = (
            if c.action() == Action::Delete {
                Action::Delete
            } else {
                Action::Create
            },
            c.kind(),
        );
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(c),
            None => out.push((key, vec![c])),
        }
    }
    out
}

fn opt_text(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".to_string())
}

/// Heading of a group: the kind, marked when the group holds deletions.
fn heading(action: Action, kind: ResourceKind) -> String {
    match action {
        Action::Delete => format!("{} (destroy)", kind.as_str()),
        _ => kind.as_str().to_string(),
    }
}

/// `enabled=true docker_hub=true registries=ghcr.io "GitHub", quay.io "Quay" (not allowed)`: each
/// registry with its friendly name (quoted and escaped), so a change of the name alone shows.
fn registry_access_text(r: &crate::model::RegistryAccess) -> String {
    let list: Vec<String> = r
        .custom
        .iter()
        .map(|c| format!("{} {}", c.address, registry_entry(c)))
        .collect();
    let list = if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    };
    format!(
        "enabled={} docker_hub={} registries={list}",
        r.enabled, r.docker_hub
    )
}

/// `name: old -> new` for an attribute that changed, or `name: new` when the live value is unknown.
fn attribute<T: std::fmt::Display + PartialEq>(
    out: &mut Vec<String>,
    name: &str,
    old: Option<T>,
    new: T,
) {
    match old {
        Some(o) if o == new => {}
        Some(o) => out.push(format!("~ {name}: {o} -> {new}")),
        None => out.push(format!("+ {name}: {new}")),
    }
}

/// A custom registry of Registry Access Management as the text view lists it:
/// `"GitHub Container Registry"`, `"Quay" (not allowed)`.
fn registry_entry(c: &crate::model::CustomRegistry) -> String {
    if c.allowed {
        format!("{:?}", c.friendly_name)
    } else {
        format!("{:?} (not allowed)", c.friendly_name)
    }
}

/// What a change does for the text view, one line per attribute of a multi-attribute update
/// (Image Access Management, Registry Access Management, a repository's fields), only the
/// attributes that change, as Terraform shows an in-place update: `~ enabled: false -> true`.
/// Other changes are their one-line [`detail`].
fn detail_lines(c: &Change) -> Vec<String> {
    let mut out = Vec::new();
    match c {
        Change::SetImageAccess { old, new } => {
            let o = old.as_ref();
            attribute(&mut out, "enabled", o.map(|o| o.enabled), new.enabled);
            attribute(
                &mut out,
                "allow_official_images",
                o.map(|o| o.allow_official_images),
                new.allow_official_images,
            );
            attribute(
                &mut out,
                "allow_verified_publishers",
                o.map(|o| o.allow_verified_publishers),
                new.allow_verified_publishers,
            );
        }
        Change::SetRegistryAccess { old, new } => {
            let o = old.as_ref();
            attribute(&mut out, "enabled", o.map(|o| o.enabled), new.enabled);
            attribute(
                &mut out,
                "docker_hub",
                o.map(|o| o.docker_hub),
                new.docker_hub,
            );
            let before = o.map(|o| o.custom.as_slice()).unwrap_or_default();
            for n in &new.custom {
                match before.iter().find(|b| b.address == n.address) {
                    Some(b) if b == n => {}
                    Some(b) => out.push(format!(
                        "~ registry {}: {} -> {}",
                        n.address,
                        registry_entry(b),
                        registry_entry(n)
                    )),
                    None => out.push(format!("+ registry {} {}", n.address, registry_entry(n))),
                }
            }
            for b in before {
                if !new.custom.iter().any(|n| n.address == b.address) {
                    out.push(format!("- registry {} {}", b.address, registry_entry(b)));
                }
            }
        }
        Change::UpdateRepository {
            private,
            description,
            full_description,
            ..
        } => {
            if let Some(p) = private {
                let v = |b: bool| if b { "private" } else { "public" };
                out.push(format!("~ visibility: {} -> {}", v(p.old), v(p.new)));
            }
            if description.is_some() {
                out.push("~ description (diff below)".to_string());
            }
            if full_description.is_some() {
                out.push("~ full_description (diff below)".to_string());
            }
        }
        _ => {}
    }
    if out.is_empty() {
        out.push(detail(c));
    }
    out
}

/// One-line description of what a change does (without long texts).
fn detail(c: &Change) -> String {
    use Change::*;
    match c {
        SetImageAccess { old, new } => {
            let f = |i: &crate::model::ImageAccess| {
                format!(
                    "enabled={} official={} verified={}",
                    i.enabled, i.allow_official_images, i.allow_verified_publishers
                )
            };
            match old {
                Some(o) => format!("{} -> {}", f(o), f(new)),
                None => f(new),
            }
        }
        SetRegistryAccess { old, new } => match old {
            Some(o) => format!(
                "{} -> {}",
                registry_access_text(o),
                registry_access_text(new)
            ),
            None => registry_access_text(new),
        },
        AllowRepository { .. } => {
            "allow members to pull it upstream (every upstream push, unreviewed)".to_string()
        }
        DisallowRepository { .. } => "remove from the allowlist".to_string(),
        SetRole { old, new, .. } => format!("role {old} -> {new}"),
        RemoveMember { role, .. } => format!("remove {role}"),
        Invite { role, team, .. } => format!("invite as {role}, team {}", opt_text(team)),
        CancelInvite { id, .. } => format!("cancel invite {id}"),
        CreateTeam { .. } => "create team".to_string(),
        UpdateTeam { .. } => "update description".to_string(),
        DeleteTeam { .. } => "delete team".to_string(),
        AddTeamMember { .. } => "add to team".to_string(),
        RemoveTeamMember { .. } => "remove from team".to_string(),
        DeleteTag { digest, .. } => format!("delete tag pushed by hand ({})", short(digest)),
        CreateRepository { fields, .. } => {
            format!(
                "create, {}",
                if fields.private { "private" } else { "public" }
            )
        }
        UpdateRepository {
            private,
            description,
            full_description,
            ..
        } => {
            let mut parts = Vec::new();
            if let Some(p) = private {
                let v = |b: bool| if b { "private" } else { "public" };
                parts.push(format!("{} -> {}", v(p.old), v(p.new)));
            }
            if description.is_some() {
                parts.push("description".to_string());
            }
            if full_description.is_some() {
                parts.push("full_description".to_string());
            }
            format!("update {}", parts.join(", "))
        }
        DeleteRepository { .. } => "delete repository and all its tags".to_string(),
        Grant { permission, .. } => format!("grant {permission}"),
        UpdateGrant { permission, .. } => format!("{} -> {}", permission.old, permission.new),
        Revoke { permission, .. } => format!("revoke {permission}"),
        CopyImage {
            source,
            digest,
            old_digest,
            platforms,
            bytes,
            ..
        } => {
            let from = source.split('@').next().unwrap_or(source);
            let digests = match old_digest {
                Some(old) => format!("{} -> {}", short(old), short(digest)),
                None => short(digest),
            };
            let mut out = format!("copy {from} {digests}");
            // 0: the manifests could not be read for the estimate (the copy will say why).
            if *bytes > 0 {
                let _ = write!(out, ", {}", crate::mirror::approx_bytes(*bytes, "~"));
            }
            if let Some(p) = platforms {
                let _ = write!(out, ", platforms {} (new index)", p.join(","));
            }
            out
        }
    }
}

fn short(digest: &str) -> String {
    crate::policy::lock::short(digest)
}

/// Long text changes of a change: (field name, old, new).
fn text_changes(c: &Change) -> Vec<(&'static str, &str, &str)> {
    let mut out = Vec::new();
    match c {
        Change::UpdateTeam { description, .. } => out.push((
            "description",
            description.old.as_str(),
            description.new.as_str(),
        )),
        Change::UpdateRepository {
            description,
            full_description,
            ..
        } => {
            if let Some(d) = description {
                out.push(("description", d.old.as_str(), d.new.as_str()));
            }
            if let Some(d) = full_description {
                out.push(("full_description", d.old.as_str(), d.new.as_str()));
            }
        }
        Change::CreateTeam { description, .. } if !description.is_empty() => {
            out.push(("description", "", description.as_str()))
        }
        Change::CreateRepository { fields, .. } => {
            if !fields.description.is_empty() {
                out.push(("description", "", fields.description.as_str()));
            }
            if !fields.full_description.is_empty() {
                out.push(("full_description", "", fields.full_description.as_str()));
            }
        }
        _ => {}
    }
    out
}

fn unified(old: &str, new: &str) -> String {
    let mut old = old.to_string();
    let mut new = new.to_string();
    if !old.is_empty() && !old.ends_with('\n') {
        old.push('\n');
    }
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(2)
        .header("live", "policy")
        .to_string()
}

/// `line` broken at spaces to fit `width` columns (counted in characters), continuation lines
/// indented by `indent` spaces; a word longer than the width stays whole. `None`: unchanged.
fn wrap(line: &str, width: Option<u16>, indent: usize) -> String {
    let Some(width) = width.map(usize::from) else {
        return line.to_string();
    };
    let body = line.trim_start_matches(' ');
    let lead = line.len() - body.len();
    let mut out = " ".repeat(lead);
    let mut used = lead;
    for (i, word) in body.split(' ').enumerate() {
        let len = word.chars().count();
        if i > 0 {
            if used + 1 + len > width && used > indent {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                used = indent;
            } else {
                out.push(' ');
                used += 1;
            }
        }
        out.push_str(word);
        used += len;
    }
    out
}

fn action_color(a: Action) -> Color {
    match a {
        Action::Create => Color::Green,
        Action::Update => Color::Yellow,
        Action::Delete => Color::Red,
    }
}

/// The terminal view. Deterministic: the same plan and options give the same text (the width is
/// an option, never read here).
pub fn text(plan: &Plan, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Organization: {}", untrusted(&plan.org));
    if plan.is_partial() {
        let targets = untrusted(&plan.targets.join(", ")).into_owned();
        let warning = format!("Warning: {}.", crate::plan::targets::PARTIAL_WARNING);
        let _ = writeln!(out, "Partial plan, --target {targets}");
        let _ = writeln!(out, "{}", wrap(&warning, opts.width, 0));
    }
    if let Some(basis) = &plan.snapshot {
        let _ = writeln!(
            out,
            "Offline plan: {}.",
            untrusted(&basis.describe(&plan.org))
        );
    }
    for ((action, kind), changes) in groups(plan) {
        let _ = writeln!(out, "\n{}", heading(action, kind));
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL)
            .set_header(vec!["", "address", "change"]);
        match opts.width {
            Some(w) => table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w),
            None => table.set_content_arrangement(ContentArrangement::Disabled),
        };
        if !opts.color {
            table.force_no_tty();
        } else {
            table.enforce_styling();
        }
        let mut diffs = String::new();
        for c in &changes {
            let a = c.action();
            let mut marker = Cell::new(a.marker());
            if opts.color {
                marker = marker.fg(action_color(a));
            }
            // Names and texts read from the organization are remote text: escaped, one line each.
            let address = untrusted(&c.address(&plan.org)).into_owned();
            let lines: Vec<String> = detail_lines(c)
                .iter()
                .map(|l| untrusted(l).into_owned())
                .collect();
            table.add_row(vec![
                marker,
                Cell::new(&address),
                Cell::new(lines.join("\n")),
            ]);
            for (field, old, new) in text_changes(c) {
                let _ = writeln!(diffs, "{address} {field}:");
                for line in unified(old, new).lines() {
                    let line = untrusted(line);
                    let styled = match (opts.color, line.chars().next()) {
                        (true, Some('+')) if !line.starts_with("+++") => {
                            format!("\x1b[32m{line}\x1b[0m")
                        }
                        (true, Some('-')) if !line.starts_with("---") => {
                            format!("\x1b[31m{line}\x1b[0m")
                        }
                        _ => line.to_string(),
                    };
                    let _ = writeln!(diffs, "  {styled}");
                }
            }
        }
        let _ = writeln!(out, "{table}");
        out.push_str(&diffs);
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\nNotes (drift left alone, information):");
        for n in &plan.notes {
            let note = format!("  ! {}: {}", untrusted(&n.address), untrusted(&n.message));
            let _ = writeln!(out, "{}", wrap(&note, opts.width, 6));
        }
    }
    // What needs attention (src/render/attention.rs), just above the summary line.
    out.push_str(&attention::text(plan, opts.width));
    let _ = writeln!(out, "\n{}", wrap(&summary_line(plan), opts.width, 0));
    if opts.verbose {
        let _ = writeln!(out, "Docker Hub API calls: {}", plan.api_calls);
    }
    out
}

#[cfg(test)]
mod tests;
