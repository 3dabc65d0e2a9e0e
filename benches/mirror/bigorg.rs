//! A plan of a big organization (1,000 repositories, 100 teams, 300 members; 200, 20 and 60 with
//! `--quick`) at +20 ms per hub API request: `vetted -v plan` of the policy `vetted export` wrote,
//! its wall time and hub API calls per endpoint. There is no peer to run beside it (skopeo does
//! not read the hub API); its figures stand against the targets and the round-trip floor.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use vetted_sandbox::kit::org::big_org_seed;

use crate::measure::run_measured;
use crate::report::{Row, print_row};
use crate::services::{OWNER, OWNER_SECRET, delay_line, start_sandbox_seeded};
use crate::tools::{vetted_as_owner, vetted_command};

pub(crate) async fn bigorg(root: &Path, quick: bool) -> Result<Vec<String>> {
    let (repos, teams, members) = if quick {
        (200, 20, 60)
    } else {
        (1000, 100, 300)
    };
    let delay = Duration::from_millis(20);
    println!(
        "== big organization{}: plan of {repos} repositories, {teams} teams, {members} members, +{} ms per hub API request",
        if quick { " (--quick)" } else { "" },
        delay.as_millis()
    );
    let seed = big_org_seed("acme", OWNER, OWNER_SECRET, repos, teams, members);
    let sbx = start_sandbox_seeded(root, &seed, crate::services::MEASURE_BUDGET)?;
    let work = sbx.dir.path();
    // The policy: the organization as `vetted export` writes it (setup, no added latency).
    let exported = vetted_as_owner(work, &sbx.hub, &sbx.registry, &["export", "--org", "acme"])
        .stdin(Stdio::null())
        .output()
        .context("running vetted export")?;
    if !exported.status.success() {
        bail!(
            "vetted export failed: {}",
            String::from_utf8_lossy(&exported.stderr)
        );
    }
    let policy = work.join("vetted.toml");
    std::fs::write(&policy, &exported.stdout)?;

    let hub_line = delay_line(&sbx.hub, delay).await?;
    let log = work.join("plan.log");
    let m = run_measured(
        vec![vetted_command(
            work,
            &hub_line.url(),
            &sbx.registry,
            &["-v", "plan", "--detailed-exitcode"],
            &policy,
        )],
        1,
        &log,
    )?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let calls: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Docker Hub API calls: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    for l in text
        .lines()
        .skip_while(|l| !l.contains("Docker Hub API calls: "))
        .take(12)
    {
        println!("    | {l}");
    }
    print_row(
        &Row {
            scenario: "big organization plan".into(),
            tool: "vetted -v plan".into(),
            m,
            wire: Some(hub_line.bytes()),
        },
        None,
    );
    // Dependent round trips: the login, the first page of each listing, the repository listing's
    // pages one after another (100 a page), then the last page's grant reads.
    let trips = 2 + (repos as u32).div_ceil(100) + 1;
    let floor = delay * trips;
    println!(
        "  big organization plan: round-trip floor {trips} x {} ms = {:.2} s (login, organization read, {} repository listing pages one after another, the last page's grant reads)",
        delay.as_millis(),
        floor.as_secs_f64(),
        (repos as u32).div_ceil(100),
    );
    Ok(vec![format!(
        "big organization plan ({repos} repositories, {teams} teams, {members} members, +{} ms): vetted {:.2} s, {calls} hub API calls (targets for 1,000/100/300: at most 1,200 calls, under 2 s; before: 2,119 calls, 6.4 s); floor {:.2} s; peak RSS {:.1} MiB; no peer (skopeo does not read the hub API)",
        delay.as_millis(),
        m.wall.as_secs_f64(),
        floor.as_secs_f64(),
        m.max_rss_kib as f64 / 1024.0,
    )])
}
