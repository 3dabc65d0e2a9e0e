//! The apply report (docs/apply-json.md): its output types and [`apply_document`], which builds it
//! from what `vetted apply` did.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::plan::{PlanSummary, plan_summary};
use super::{APPLY_FORMAT_VERSION, action_name, kind_name, to_json};
use crate::apply::{ApplyReport, CopyTotals, Status};
use crate::plan::Plan;

/// `vetted apply --format json`: what was done, what failed and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyDocument {
    pub format_version: &'static str,
    /// `applied`, `no_changes`, `incomplete`, `refused` or `error`.
    pub status: &'static str,
    /// The exit status vetted exits with.
    pub exit_code: u8,
    /// Why apply was refused or failed (escaped); null when it applied or had nothing to do.
    pub message: Option<String>,
    /// The organization; null when apply stopped before computing a plan.
    pub org: Option<String>,
    /// The plan applied; null when apply stopped before computing one.
    pub plan: Option<AppliedPlan>,
    pub summary: ApplySummary,
    /// One entry per change of the plan that apply ran, in execution order.
    pub results: Vec<ResultDoc>,
    pub copy: CopyDoc,
}

/// Which plan was applied: the saved file (when given) and its changes by address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedPlan {
    /// The saved plan file as given on the command line; null for a plan computed by this apply.
    pub file: Option<String>,
    /// A partial apply (`--target`): only the changes within `targets` were planned and applied.
    pub partial: bool,
    /// The targets of a partial apply, sorted, as the JSON plan gives them; empty for a whole one.
    pub targets: Vec<String>,
    pub summary: PlanSummary,
    pub changes: Vec<PlannedChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    pub action: &'static str,
    pub kind: &'static str,
    pub address: String,
}

/// Counts of the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// One change's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultDoc {
    pub address: String,
    pub action: &'static str,
    pub kind: &'static str,
    /// `done`, `failed` or `skipped`.
    pub status: &'static str,
    /// The error (failed) or the reason (skipped), escaped; null when done.
    pub message: Option<String>,
}

/// What the image copies did, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CopyDoc {
    pub images: u64,
    pub blobs_copied: u64,
    pub blobs_mounted: u64,
    pub blobs_skipped: u64,
    pub bytes_copied: u64,
}

/// How an apply ended, as the command saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyEnd<'a> {
    /// Every change done, or none to do.
    Ok,
    /// Some changes failed or were skipped.
    Incomplete,
    /// A check refused the plan before anything changed; the reason.
    Refused(&'a str),
    /// Apply stopped on an error; the message.
    Error(&'a str),
}

/// What the apply report is built from.
#[derive(Debug, Clone, Copy)]
pub struct ApplyFacts<'a> {
    pub end: ApplyEnd<'a>,
    pub exit_code: u8,
    /// The plan apply ran (or refused), once it was computed.
    pub plan: Option<&'a Plan>,
    /// The saved plan file given to apply, if any.
    pub file: Option<&'a Path>,
    /// What apply did, when it ran.
    pub report: Option<&'a ApplyReport>,
    pub copy: &'a CopyTotals,
}

/// The apply report of `apply`.
pub fn apply_document(facts: &ApplyFacts<'_>) -> ApplyDocument {
    use crate::render::{untrusted, untrusted_lines};
    let plan = facts.plan;
    // Each result's kind, by address: one pass over the changes, not one per result.
    // The first change with an address gives its kind.
    let mut kinds: HashMap<String, &'static str> = HashMap::new();
    if let Some(p) = plan {
        for c in &p.changes {
            kinds
                .entry(c.address(&p.org))
                .or_insert_with(|| kind_name(c.kind()));
        }
    }
    let kind_of = |address: &str| kinds.get(address).copied().unwrap_or("unknown");
    let results: Vec<ResultDoc> = facts
        .report
        .map(|r| {
            r.results
                .iter()
                .map(|r| {
                    let (status, message) = match &r.status {
                        Status::Done => ("done", None),
                        Status::Failed(e) => ("failed", Some(untrusted_lines(e).into_owned())),
                        Status::Skipped(why) => {
                            ("skipped", Some(untrusted_lines(why).into_owned()))
                        }
                    };
                    ResultDoc {
                        address: untrusted(&r.address).into_owned(),
                        action: action_name(r.action),
                        kind: kind_of(&r.address),
                        status,
                        message,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let summary = facts.report.map_or(
        ApplySummary {
            add: 0,
            change: 0,
            destroy: 0,
            failed: 0,
            skipped: 0,
        },
        |r| {
            let done = r.done();
            let count = |f: fn(&Status) -> bool| r.results.iter().filter(|x| f(&x.status)).count();
            ApplySummary {
                add: done.add,
                change: done.change,
                destroy: done.destroy,
                failed: count(|s| matches!(s, Status::Failed(_))),
                skipped: count(|s| matches!(s, Status::Skipped(_))),
            }
        },
    );
    let (status, message) = match facts.end {
        ApplyEnd::Ok if plan.is_some_and(Plan::is_empty) => ("no_changes", None),
        ApplyEnd::Ok => ("applied", None),
        ApplyEnd::Incomplete => ("incomplete", None),
        ApplyEnd::Refused(m) => ("refused", Some(untrusted_lines(m).into_owned())),
        ApplyEnd::Error(m) => ("error", Some(untrusted_lines(m).into_owned())),
    };
    let t = facts.copy;
    ApplyDocument {
        format_version: APPLY_FORMAT_VERSION,
        status,
        exit_code: facts.exit_code,
        message,
        org: plan.map(|p| p.org.clone()),
        plan: plan.map(|p| AppliedPlan {
            file: facts
                .file
                .map(|f| untrusted_lines(&f.display().to_string()).into_owned()),
            partial: p.is_partial(),
            targets: p.targets.clone(),
            summary: plan_summary(p),
            changes: p
                .changes
                .iter()
                .map(|c| PlannedChange {
                    action: action_name(c.action()),
                    kind: kind_name(c.kind()),
                    // One line, escaped as each result's address is, so the two match.
                    address: untrusted(&c.address(&p.org)).into_owned(),
                })
                .collect(),
        }),
        summary,
        results,
        copy: CopyDoc {
            images: t.images,
            blobs_copied: t.blobs_copied,
            blobs_mounted: t.blobs_mounted,
            blobs_skipped: t.blobs_skipped,
            bytes_copied: t.bytes,
        },
    }
}

/// The apply report as printed: pretty JSON, keys sorted.
pub fn apply_json(facts: &ApplyFacts<'_>) -> String {
    to_json(&apply_document(facts))
}
