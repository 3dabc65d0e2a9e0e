//! The `vetted doctor` report as text (one line per check, its fix below it) and as JSON. Reads the
//! report only; every text from the network or the policy is escaped here.

use std::fmt::Write as _;

use serde_json::json;

use super::untrusted;
use crate::doctor::{Report, Status};

/// Width of the check-name column.
const NAME_WIDTH: usize = 13;

/// The terminal view. Deterministic: the checks come in a fixed order.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Organization: {} on {}, as {}\n",
        untrusted(&report.org),
        untrusted(&report.hub),
        untrusted(&report.identity)
    );
    for c in &report.checks {
        let _ = writeln!(
            out,
            "  {:<4}  {:<NAME_WIDTH$} {}",
            c.status.label(),
            c.check,
            untrusted(&c.detail)
        );
        if let Some(fix) = &c.fix {
            let _ = writeln!(
                out,
                "  {:<4}  {:<NAME_WIDTH$} fix: {}",
                "",
                "",
                untrusted(fix)
            );
        }
    }
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let warnings = match count(Status::Warn) {
        0 => String::new(),
        n => format!(" ({n} warning(s): guesses, or sections the policy does not manage)"),
    };
    if report.ok {
        let _ = writeln!(out, "\nApply can succeed: no check failed{warnings}.");
    } else {
        let _ = writeln!(
            out,
            "\nApply would fail: {} check(s) failed; each FAIL line says what to do{warnings}.",
            count(Status::Fail)
        );
    }
    out
}

/// The JSON document (docs/doctor.md): `org`, `hub`, `identity`, `credential`, `ok` and `checks`
/// (`check`, `status`, `detail`, `fix` when there is one).
pub fn json(report: &Report) -> String {
    let doc = json!({
        "format_version": "1",
        "org": report.org,
        "hub": report.hub,
        "identity": report.identity,
        "credential": report.credential,
        "ok": report.ok,
        "checks": report.checks,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
