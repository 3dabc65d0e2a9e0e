//! `--trace=DIR`: where a measured run's time went, from the delay lines' request traces
//! ([`vetted_sandbox::proxy::TraceEntry`]). Each line's trace is written to `DIR/<name>.jsonl`,
//! and a summary is printed: per line, the requests, the connections they came over, how long the
//! upstream took to answer (total, median, 95th percentile, slowest) by kind of request, and the
//! requests in flight per 100 ms of the run. Only the first mirror of the latency scenario is
//! traced: it is the figure the round-trip floor is furthest from.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use vetted_sandbox::proxy::TraceEntry;

/// Requests kept per delay line: far above a 50-image run's few thousand.
pub(crate) const TRACE_LIMIT: usize = 200_000;

/// The kind of a request, for grouping: the method and the registry or hub endpoint with names
/// and digests left out.
fn kind(e: &TraceEntry) -> String {
    let p = e.path.as_str();
    let endpoint = if p.contains("/blobs/uploads") {
        "blobs/uploads"
    } else if p.contains("/blobs/") {
        "blobs"
    } else if p.contains("/manifests/") {
        "manifests"
    } else if p.contains("/tags") {
        "tags"
    } else if p.contains("token") || p.starts_with("/_proxy/auth/") {
        "token"
    } else if p.ends_with("/v2/") || p == "/v2" {
        "v2 ping"
    } else if p.contains("/repositories") {
        "repositories"
    } else if p.contains("login") || p.contains("auth") {
        "login"
    } else {
        "other"
    };
    format!("{} {endpoint}", e.method)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes `dir/<name>.jsonl` and prints the summary of one line's trace, counted from `since`
/// (the proxy-clock time the measured run started).
pub(crate) fn report(dir: &Path, name: &str, trace: &[TraceEntry], since: Duration) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.jsonl"));
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?,
    );
    let run: Vec<&TraceEntry> = trace.iter().filter(|e| e.arrived >= since).collect();
    for e in &run {
        writeln!(out, "{}", serde_json::to_string(e)?)?;
    }
    out.flush()?;
    let connections: BTreeSet<u16> = run.iter().map(|e| e.client_port).collect();
    let first = run.iter().map(|e| e.arrived).min().unwrap_or(since);
    let last = run.iter().map(|e| e.answered).max().unwrap_or(since);
    println!(
        "  trace {name}: {} request(s) over {} connection(s), first at +{:.0} ms, last answered at +{:.0} ms ({})",
        run.len(),
        connections.len(),
        ms(first.saturating_sub(since)),
        ms(last.saturating_sub(since)),
        path.display()
    );
    let mut by_kind: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for e in &run {
        by_kind
            .entry(kind(e))
            .or_default()
            .push(e.answered.saturating_sub(e.forwarded));
    }
    for (k, mut times) in by_kind {
        times.sort();
        let total: Duration = times.iter().sum();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!(
            "    {k:<24} {:>5} x  upstream total {:>8.0} ms  median {:>6.1}  p95 {:>6.1}  max {:>6.1} ms",
            times.len(),
            ms(total),
            ms(at(0.5)),
            ms(at(0.95)),
            ms(at(1.0)),
        );
    }
    // In flight per 100 ms: requests between arrival and answer at the bucket's middle.
    let buckets = (ms(last.saturating_sub(since)) / 100.0).ceil() as usize;
    let line: Vec<String> = (0..buckets.min(200))
        .map(|b| {
            let t = since + Duration::from_millis(b as u64 * 100 + 50);
            run.iter()
                .filter(|e| e.arrived <= t && e.answered > t)
                .count()
                .to_string()
        })
        .collect();
    println!("    in flight per 100 ms: {}", line.join(" "));
    Ok(())
}
