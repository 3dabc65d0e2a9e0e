//! Renders the facts of moved mirrored tags ([`FactsDiff`]) for a reviewer: markdown for the update
//! pull request's body and the plan comment, text for a terminal. Only reads the data.
//!
//! Every figure comes from a registry and is hostile: platform names, digests, `created` and label
//! values go into code spans (a backtick becomes a quote, control characters are escaped visibly,
//! [`super::untrusted`]) or through [`super::markdown::escape`], each cut to [`MAX_VALUE_CHARS`];
//! `org.opencontainers.image.source` becomes a link only when it is a plain `https` URL without
//! credentials.

use std::fmt::Write as _;

use crate::plan::facts::{FactsDiff, ImageFacts, LabelRow, Layers, Signature, Skipped};

/// The most characters of one remote value shown (a label, a created time, a platform).
pub const MAX_VALUE_CHARS: usize = 200;

/// The title of the plan comment's section and the heading of the update pull request's part.
pub const TITLE: &str = "What changed upstream";

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Remote text in a code span.
fn code(s: &str) -> String {
    format!(
        "`{}`",
        super::untrusted(&cut(s))
            .replace('`', "'")
            .replace('|', "\\|")
    )
}

/// `sha256:0123456789ab`.
fn short(digest: &str) -> String {
    crate::policy::lock::short(digest)
}

fn bytes(n: u64) -> String {
    crate::mirror::approx_bytes(n, "")
}

fn delta(d: i128) -> String {
    let abs = u64::try_from(d.unsigned_abs()).unwrap_or(u64::MAX);
    match d.signum() {
        0 => "±0 B".to_string(),
        1 => format!("+{}", bytes(abs)),
        _ => format!("-{}", bytes(abs)),
    }
}

/// The label's key without the `org.opencontainers.image.` prefix.
fn label_name(key: &str) -> &str {
    key.strip_prefix("org.opencontainers.image.").unwrap_or(key)
}

/// An `https` URL without credentials, as a markdown link target; anything else is `None`.
fn https_link(s: &str) -> Option<String> {
    if s.chars().count() > MAX_VALUE_CHARS || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let u = url::Url::parse(s).ok()?;
    if u.scheme() != "https" || !u.username().is_empty() || u.password().is_some() {
        return None;
    }
    u.host_str()?;
    Some(
        u.as_str()
            .replace('(', "%28")
            .replace(')', "%29")
            .replace('[', "%5B")
            .replace(']', "%5D"),
    )
}

fn label_markdown(key: &str, value: &str) -> String {
    if key == "org.opencontainers.image.source"
        && let Some(link) = https_link(value)
    {
        return format!("[{}]({link})", code(&link));
    }
    code(value)
}

/// The layers line, in words, for both renderers.
fn layers_text(l: &Layers) -> String {
    format!(
        "{} shared, {} changed ({} new, {} gone)",
        l.shared,
        l.added + l.removed,
        l.added,
        l.removed
    )
}

/// What the signature verdict says, in words.
pub fn signature_text(s: &Signature) -> String {
    match s {
        Signature::NotChecked => "not checked (no verify in the policy)".to_string(),
        Signature::Verified { by } => format!("verified by {}", cut(by)),
        Signature::Refused { why } => format!("refused: {}", cut(why)),
    }
}

/// Why figures of a side were not read, in words (remote text unescaped: callers escape).
pub fn skipped_text(s: &Skipped) -> String {
    match s {
        Skipped::PullBudget { remaining, keep } => format!(
            "sizes, layers and config not read: pull budget ({remaining} Docker Hub pull(s) remaining, {keep} kept for the copies)"
        ),
        Skipped::ImageCap { max } => format!(
            "not read: only the first {max} moved tag(s) are read per run (--facts-max-images)"
        ),
        Skipped::Failed { error } => format!("not read: {}", cut(error)),
    }
}

/// The skipped notes of both sides: one line when they agree.
fn skipped_lines(d: &FactsDiff) -> Vec<String> {
    match (&d.old.skipped, &d.new.skipped) {
        (Some(a), Some(b)) if a == b => vec![skipped_text(a)],
        (a, b) => a
            .iter()
            .map(|s| format!("old: {}", skipped_text(s)))
            .chain(b.iter().map(|s| format!("new: {}", skipped_text(s))))
            .collect(),
    }
}

fn size_cell(facts: &ImageFacts, size: Option<u64>, present: bool) -> String {
    match (size, present) {
        (Some(n), _) => bytes(n),
        (None, true) => "not read".to_string(),
        (None, false) if facts.platforms.is_empty() => "not read".to_string(),
        (None, false) => "-".to_string(),
    }
}

fn label_rows_markdown(out: &mut String, rows: &[LabelRow<'_>]) {
    for r in rows {
        let old = r.old.map(|v| label_markdown(r.key, v));
        let new = match (r.old, r.new) {
            (Some(a), Some(b)) if a == b => "unchanged".to_string(),
            (_, Some(b)) => label_markdown(r.key, b),
            (_, None) => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {new} |",
            label_name(r.key),
            old.unwrap_or_else(|| "-".to_string())
        );
    }
}

/// One moved tag in markdown: a heading, the old -> new table, the sizes per platform, layers,
/// platforms added and removed, the signature verdict and what was not read.
pub fn markdown_one(d: &FactsDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#### {} from {}\n", code(&d.image), code(&d.source));
    out.push_str("| | old | new |\n|---|---|---|\n");
    let _ = writeln!(
        out,
        "| digest | {} | {} |",
        code(&short(&d.old.digest)),
        code(&short(&d.new.digest))
    );
    if d.old.created.is_some() || d.new.created.is_some() {
        let cell = |c: &Option<String>| c.as_deref().map(code).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| created | {} | {} |",
            cell(&d.old.created),
            cell(&d.new.created)
        );
    }
    label_rows_markdown(&mut out, &d.labels());
    if let (Some(old), Some(new)) = (d.old.total_size(), d.new.total_size()) {
        let _ = writeln!(
            out,
            "| size (all platforms) | {} | {} ({}) |",
            bytes(old),
            bytes(new),
            delta(i128::from(new) - i128::from(old))
        );
    }
    let sizes = d.sizes();
    if !sizes.is_empty() {
        out.push_str("\n| platform | old size | new size | delta |\n|---|---|---|---|\n");
        for r in &sizes {
            let old_has = d.old.platforms.iter().any(|p| p.platform == r.platform);
            let new_has = d.new.platforms.iter().any(|p| p.platform == r.platform);
            let change = match (r.delta(), old_has, new_has) {
                (Some(x), _, _) => delta(x),
                (None, false, true) if !d.old.platforms.is_empty() => "added".to_string(),
                (None, true, false) if !d.new.platforms.is_empty() => "removed".to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {change} |",
                code(r.platform),
                size_cell(&d.old, r.old, old_has),
                size_cell(&d.new, r.new, new_has),
            );
        }
    }
    out.push('\n');
    let added = d.platforms_added();
    let removed = d.platforms_removed();
    if !added.is_empty() || !removed.is_empty() {
        let list = |v: &[&str]| v.iter().map(|p| code(p)).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", list(&added)));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", list(&removed)));
        }
        let _ = writeln!(out, "- platforms: {}", parts.join("; "));
    } else if d.platforms_known() {
        out.push_str("- platforms: the same\n");
    }
    if let Some(l) = d.layers() {
        let _ = writeln!(out, "- layers: {}", layers_text(&l));
    }
    let _ = writeln!(
        out,
        "- signature: {}",
        super::markdown::escape(&signature_text(&d.signature))
    );
    for line in skipped_lines(d) {
        let _ = writeln!(out, "- {}", super::markdown::escape(&line));
    }
    out
}

/// Every moved tag in markdown, one after another (empty when none moved).
pub fn markdown(diffs: &[FactsDiff]) -> String {
    diffs
        .iter()
        .map(markdown_one)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The update pull request's part: a heading, then [`markdown`] (empty when none moved).
pub fn report_markdown(diffs: &[FactsDiff]) -> String {
    if diffs.is_empty() {
        return String::new();
    }
    format!(
        "### {TITLE} ({} tag(s))\n\n{}",
        diffs.len(),
        markdown(diffs)
    )
}

fn text_value(s: &str) -> String {
    super::untrusted(&cut(s)).into_owned()
}

fn arrow(old: Option<&str>, new: Option<&str>) -> String {
    match (old, new) {
        (Some(a), Some(b)) if a == b => format!("{} (unchanged)", text_value(a)),
        (a, b) => format!(
            "{} -> {}",
            a.map(text_value).unwrap_or_else(|| "-".into()),
            b.map(text_value).unwrap_or_else(|| "-".into())
        ),
    }
}

/// One moved tag for a terminal, one figure per line.
pub fn text_one(d: &FactsDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}) {} -> {}",
        text_value(&d.image),
        text_value(&d.source),
        text_value(&short(&d.old.digest)),
        text_value(&short(&d.new.digest))
    );
    if d.old.created.is_some() || d.new.created.is_some() {
        let _ = writeln!(
            out,
            "  created:   {}",
            arrow(d.old.created.as_deref(), d.new.created.as_deref())
        );
    }
    for r in d.labels() {
        let _ = writeln!(
            out,
            "  {:<10} {}",
            format!("{}:", label_name(r.key)),
            arrow(r.old, r.new)
        );
    }
    let added = d.platforms_added();
    let removed = d.platforms_removed();
    if !added.is_empty() || !removed.is_empty() {
        let list: Vec<String> = added
            .iter()
            .map(|p| format!("+ {}", text_value(p)))
            .chain(removed.iter().map(|p| format!("- {}", text_value(p))))
            .collect();
        let _ = writeln!(out, "  platforms: {}", list.join(", "));
    }
    for r in d.sizes() {
        let side = |n: Option<u64>| n.map(bytes).unwrap_or_else(|| "-".into());
        let change = r
            .delta()
            .map(|x| format!(" ({})", delta(x)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  size:      {} {} -> {}{change}",
            text_value(r.platform),
            side(r.old),
            side(r.new)
        );
    }
    if let Some(l) = d.layers() {
        let _ = writeln!(out, "  layers:    {}", layers_text(&l));
    }
    let _ = writeln!(
        out,
        "  signature: {}",
        super::untrusted(&signature_text(&d.signature))
    );
    for line in skipped_lines(d) {
        let _ = writeln!(out, "  note:      {}", super::untrusted(&line));
    }
    out
}

/// Every moved tag for a terminal (empty when none moved).
pub fn text(diffs: &[FactsDiff]) -> String {
    diffs.iter().map(text_one).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests;
