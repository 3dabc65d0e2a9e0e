//! The markdown view of a plan, written for a pull-request comment (and the job summary):
//!
//! - the first line is a hidden marker, `<!-- vetted:plan org=<org> -->`, so a workflow finds and
//!   updates its one comment instead of adding one per push;
//! - the summary line and every change that needs attention (src/render/attention.rs: privilege
//!   gains, exposures, deletions and moved tags, grouped by class) are always visible at the top;
//! - the change tables (and the notes) fold into `<details>` past [`FOLD_AFTER`] lines;
//! - the whole body stays within [`MarkdownOptions::max_chars`] (GitHub's comment limit,
//!   [`COMMENT_LIMIT`], by default; [`JOB_SUMMARY_LIMIT`] for a job summary). A plan too large is cut
//!   row by row, never the summary or the heading of what needs attention, and the cut says where
//!   the full plan is.
//!
//! Lengths are counted in bytes, which is never less than GitHub's character count.

use std::fmt::Write as _;

use crate::plan::{Action, Change, Plan};

use super::{detail_lines, groups, heading, summary_line};

/// GitHub's limit for an issue or pull-request comment body.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub's limit for a step's job summary (1 MiB).
pub const JOB_SUMMARY_LIMIT: usize = 1_048_576;
/// The smallest `max_chars` accepted: room for the marker, the summary and the cut notice.
pub const MIN_CHARS: usize = 1_024;
/// The title of the section that lists who gains or loses access.
pub const ACCESS_TITLE: &str = "Access changes";
/// The title of the section that lists who has access only through drift left alone.
pub const DRIFT_ACCESS_TITLE: &str =
    "Access through drift left alone (prune = true would take it away)";

/// Sections longer than this many lines are folded into `<details>`.
pub const FOLD_AFTER: usize = 12;

/// A section another part of vetted adds to the comment (e.g. who gains or loses access), shown
/// after the changes: a title and its markdown body. Folded like the changes past [`FOLD_AFTER`]
/// lines; left out whole, and counted in the cut notice, when it does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub body: String,
}

/// How the markdown is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The most bytes the body may have (at least [`MIN_CHARS`]).
    pub max_chars: usize,
    /// Extra sections after the changes and notes.
    pub sections: Vec<Section>,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            max_chars: COMMENT_LIMIT,
            sections: Vec::new(),
        }
    }
}

/// The hidden first line that identifies vetted's comment for `org`.
pub fn marker(org: &str) -> String {
    format!("<!-- vetted:plan org={} -->", org.replace("--", "- -"))
}

/// The comment body with the default options (GitHub's comment limit).
pub fn markdown(plan: &Plan) -> String {
    render(plan, &MarkdownOptions::default())
}

/// Escapes text for a table cell or list item: control characters and line breaks (escaped visibly,
/// [`super::untrusted`]), mentions, pipes, HTML tags and link brackets (remote text cannot make a
/// link or an image: `[All checks passed](https://...)` shows as written).
pub(super) fn escape(s: &str) -> String {
    super::untrusted_markdown(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('|', "\\|")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace(['\n', '\r'], " ")
}

/// An address in a code span (a backtick would end the span: it becomes a quote; control characters
/// are escaped, [`super::untrusted`]).
pub(super) fn code(s: &str) -> String {
    format!(
        "`{}`",
        super::untrusted(s).replace('`', "'").replace('|', "\\|")
    )
}

fn marker_cell(c: &Change) -> &'static str {
    match c.action() {
        Action::Create => "`+`",
        Action::Update => "`~`",
        Action::Delete => "`-`",
    }
}

/// Text appended while it fits in a byte budget.
struct Budget {
    out: String,
    max: usize,
}

impl Budget {
    /// Appends `s` when the result stays within the budget (keeping `reserve` bytes free).
    fn try_push(&mut self, s: &str, reserve: usize) -> bool {
        if self.out.len() + s.len() + reserve <= self.max {
            self.out.push_str(s);
            true
        } else {
            false
        }
    }
}

/// Where the full plan is, for the cut notice.
fn full_plan_hint(max_chars: usize) -> &'static str {
    if max_chars <= COMMENT_LIMIT {
        "The full plan is in this workflow run's job summary and in the saved plan (the JSON artifact; `vetted show plan.json` renders it)."
    } else {
        "The full plan is in the saved plan (the JSON artifact; `vetted show plan.json` renders it)."
    }
}

fn cut_notice(shown: usize, total: usize, left_out: &[String], max_chars: usize) -> String {
    let mut what = format!("{shown} of {total} change(s)");
    if !left_out.is_empty() {
        let _ = write!(what, "; left out: {}", left_out.join(", "));
    }
    format!(
        "\n> [!NOTE]\n> This plan is too large for {max_chars} characters: shown here are {what}. {}\n",
        full_plan_hint(max_chars)
    )
}

/// One section's lines, folded past [`FOLD_AFTER`] lines.
fn open_section(title: &str, lines: usize, summary: &str) -> String {
    if lines > FOLD_AFTER {
        format!("\n<details><summary>{summary}</summary>\n\n")
    } else {
        format!("\n#### {title}\n\n")
    }
}

fn close_section(lines: usize) -> &'static str {
    if lines > FOLD_AFTER {
        "\n</details>\n"
    } else {
        ""
    }
}

/// The comment body for `plan`, within `opts.max_chars`.
pub fn render(plan: &Plan, opts: &MarkdownOptions) -> String {
    // Who gains or loses access is part of the plan: its section comes first.
    let access = super::access_markdown(&plan.access, &plan.org);
    // Then who has access only through drift left alone (prune off).
    let drift = super::access_markdown(&plan.drift.access, &plan.org);
    let sections: Vec<Section> = (!access.is_empty())
        .then(|| Section {
            title: ACCESS_TITLE.to_string(),
            body: access,
        })
        .into_iter()
        .chain((!drift.is_empty()).then(|| Section {
            title: DRIFT_ACCESS_TITLE.to_string(),
            body: drift,
        }))
        .chain(opts.sections.iter().cloned())
        .collect();
    let max = opts.max_chars.max(MIN_CHARS);
    let total = plan.changes.len();
    // The longest cut notice this plan can need, kept free until the end.
    let all_left_out: Vec<String> = ["notes".to_string()]
        .into_iter()
        .chain(sections.iter().map(|s| s.title.clone()))
        .collect();
    let reserve = cut_notice(total, total, &all_left_out, max).len() + "\n</details>\n".len();
    let mut b = Budget {
        out: String::new(),
        max,
    };
    let mut truncated = false;
    let mut left_out: Vec<String> = Vec::new();

    // Always shown: the marker, the title and the summary line.
    let _ = writeln!(b.out, "{}", marker(&plan.org));
    let _ = writeln!(b.out, "### vetted plan for `{}`\n", escape(&plan.org));
    if let Some(basis) = &plan.snapshot {
        let _ = writeln!(
            b.out,
            "> **Offline plan**: {}.\n",
            escape(&basis.describe(&plan.org))
        );
    }
    let _ = writeln!(b.out, "**{}**", summary_line(plan));
    if plan.is_partial() {
        let targets: Vec<String> = plan.targets.iter().map(|t| code(t)).collect();
        let _ = write!(
            b.out,
            "\n> [!WARNING]\n> **Partial plan** (--target {}): {}.\n",
            targets.join(", "),
            escape(crate::plan::targets::PARTIAL_WARNING)
        );
    }

    // Every change that needs attention (deletions among them), always visible: each class's
    // list shrinks to fit half the room (the tables keep theirs), then is cut as it fits.
    let room = max.saturating_sub(b.out.len() + reserve) / 2;
    if let Some((head, lines)) = super::attention::markdown_lines(plan, room) {
        b.out.push_str(&head);
        for (i, line) in lines.iter().enumerate() {
            // Keep room for the "and N more" line.
            if !b.try_push(&line.text, reserve + 80) {
                let more: usize = lines[i..].iter().map(|l| l.changes).sum();
                let _ = writeln!(
                    b.out,
                    "> - ... and {more} more change(s) that need attention, listed in the full plan"
                );
                truncated = true;
                break;
            }
        }
    }

    // The change tables, by kind (deletions first).
    let mut shown = 0;
    if total > 0 && !truncated {
        let lines = total;
        let summary = format!("Changes ({total})");
        if b.try_push(&open_section("Changes", lines, &summary), reserve) {
            'groups: for ((action, kind), changes) in groups(plan) {
                let head = format!(
                    "{}| | address | change |\n|---|---|---|\n",
                    if shown == 0 {
                        format!("**{}**\n\n", heading(action, kind))
                    } else {
                        format!("\n**{}**\n\n", heading(action, kind))
                    }
                );
                let mut first = true;
                for c in changes {
                    // One attribute per line, as in the text view.
                    let change: Vec<String> = detail_lines(c).iter().map(|l| escape(l)).collect();
                    let row = format!(
                        "| {} | {} | {} |\n",
                        marker_cell(c),
                        code(&c.address(&plan.org)),
                        change.join("<br>")
                    );
                    let piece = if first { format!("{head}{row}") } else { row };
                    if !b.try_push(&piece, reserve) {
                        truncated = true;
                        break 'groups;
                    }
                    first = false;
                    shown += 1;
                }
            }
            b.out.push_str(close_section(lines));
        } else {
            truncated = true;
        }
    }

    // Notes: whole, or left out.
    if !plan.notes.is_empty() {
        let lines = plan.notes.len();
        let mut notes = open_section(
            &format!("Notes ({lines})"),
            lines,
            &format!("Notes ({lines}): drift left alone, information"),
        );
        for n in &plan.notes {
            let _ = writeln!(notes, "- {}: {}", code(&n.address), escape(&n.message));
        }
        notes.push_str(close_section(lines));
        if truncated || !b.try_push(&notes, reserve) {
            truncated = true;
            left_out.push(format!("{lines} note(s)"));
        }
    }

    // Sections other parts of vetted add.
    for s in &sections {
        let lines = s.body.lines().count();
        let text = format!(
            "{}{}\n{}",
            open_section(&s.title, lines, &escape(&s.title)),
            s.body.trim_end(),
            close_section(lines)
        );
        if truncated || !b.try_push(&text, reserve) {
            truncated = true;
            left_out.push(s.title.clone());
        }
    }

    if truncated || shown < total {
        b.out.push_str(&cut_notice(
            shown,
            total,
            &left_out,
            opts.max_chars.max(MIN_CHARS),
        ));
    }
    b.out
}

#[cfg(test)]
mod tests;
