//! The printed report: one row per measurement, the bytes through the delay lines, the tail of a
//! tool's log, and the round-trip floors the latency-bound figures are compared with.

use std::path::Path;
use std::time::Duration;

use crate::images::MIB;
use crate::measure::Measure;

pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) tool: String,
    pub(crate) m: Measure,
    /// Body bytes through the latency proxies (up, down) when known.
    pub(crate) wire: Option<(u64, u64)>,
}

pub(crate) fn mib(b: u64) -> f64 {
    b as f64 / MIB as f64
}

pub(crate) fn print_row(r: &Row, reference: Option<(&str, Duration)>) {
    let ratio = reference
        .map(|(name, d)| format!("{:.2}x {name}", r.m.wall.as_secs_f64() / d.as_secs_f64()))
        .unwrap_or_default();
    let wire = r
        .wire
        .map(|(u, d)| format!("wire up {:.1} / down {:.1} MiB", mib(u), mib(d)))
        .unwrap_or_default();
    let rss = if r.m.max_rss_kib > 0 {
        format!("{:>7.1} MiB", r.m.max_rss_kib as f64 / 1024.0)
    } else {
        format!("{:>11}", "-")
    };
    println!(
        "  {:<28} {:<34} {:>8.2} s  cpu {:>6.2} s  rss {rss}  written {:>8.1} MiB  {ratio}  {wire}",
        r.scenario,
        r.tool,
        r.m.wall.as_secs_f64(),
        r.m.cpu.as_secs_f64(),
        mib(r.m.written_bytes),
    );
}

pub(crate) fn print_log_tail(log: &Path, n: usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[lines.len().saturating_sub(n)..] {
        println!("    | {l}");
    }
}

/// The dependent round trips of one image in each latency-bound scenario, counted along
/// vetted's request path (each waits for the one before; everything else overlaps when all
/// images are in flight), and what they are.
pub(crate) fn floor_trips(scenario: &str) -> (u32, &'static str) {
    match scenario {
        "first mirror" => (
            10,
            "plan: hub login, organization reads 2, source tag HEAD, estimate manifest GET; \
             apply: repository POST, push token, upload POST with the source blob GET, blob PUT, \
             tag PUT (the copy reuses the manifest the estimate read, and asks a repository it \
             just created nothing)",
        ),
        "no-op re-run" => (
            5,
            "hub login, organization reads 2, the repository's tag listing, source tag HEAD",
        ),
        _ => (
            10,
            "plan: hub login, organization reads 2, pull token, source tag HEAD, estimate \
             manifest GET; apply: repository POST, push token, mount POST, tag PUT",
        ),
    }
}

pub(crate) fn sub(after: (u64, u64), before: (u64, u64)) -> (u64, u64) {
    (after.0 - before.0, after.1 - before.1)
}

/// Bytes through the source and target delay lines between two snapshots.
pub(crate) fn wire(
    before: ((u64, u64), (u64, u64)),
    after: ((u64, u64), (u64, u64)),
) -> (u64, u64) {
    let s = sub(after.0, before.0);
    let t = sub(after.1, before.1);
    (s.0 + t.0, s.1 + t.1)
}
