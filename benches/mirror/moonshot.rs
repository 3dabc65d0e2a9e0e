//! The moonshot: a no-op `vetted plan --locked` of 100 repositories x 50 mirrored tags (20 x 50
//! with `--quick`) at +50 ms per request under Docker Hub's 600-per-minute API budget, its hub API
//! calls and 429s read from the sandbox's budget counters.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use serde_json::json;
use vetted_sandbox::kit::push::Credentials as Login;

use crate::images::{Generator, Image};
use crate::measure::run_measured;
use crate::push::{PARALLELISM, pusher};
use crate::report::{Row, print_row};
use crate::services::{HUB_BUDGET, PUBLISHER, PUBLISHER_SECRET, delay_line, start_sandbox_with};
use crate::tools::{vetted_command, write_policy};

/// The sandbox's API budget counters (`GET /_sandbox/rate-limit`): (used, 429s sent).
async fn hub_budget(hub: &str) -> Result<(u64, u64)> {
    let v: serde_json::Value =
        reqwest::get(format!("{}/_sandbox/rate-limit", hub.trim_end_matches('/')))
            .await?
            .json()
            .await?;
    Ok((
        v["used"].as_u64().unwrap_or(0),
        v["rate_limited"].as_u64().unwrap_or(0),
    ))
}

/// A fresh budget window of Docker Hub's size, starting at the next request.
async fn reset_budget(hub: &str) -> Result<()> {
    let status = reqwest::Client::new()
        .put(format!("{}/_sandbox/rate-limit", hub.trim_end_matches('/')))
        .json(&json!({"limit": HUB_BUDGET, "window_secs": 60}))
        .send()
        .await?
        .status();
    if !status.is_success() {
        bail!("PUT /_sandbox/rate-limit answered {status}");
    }
    Ok(())
}

/// The moonshot: a no-op `vetted plan --locked` of `repos` x `tags` mirrored tags of Docker Hub
/// sources (a community namespace of the sandbox), 50 ms added per request, under Docker Hub's
/// 600-per-minute API budget, with the 429s the sandbox sent.
pub(crate) async fn moonshot(root: &Path, quick: bool) -> Result<Vec<String>> {
    let (repos, tags) = if quick { (20, 50) } else { (100, 50) };
    let delay = Duration::from_millis(50);
    println!(
        "== moonshot{}: no-op plan of {repos} repositories x {tags} tags = {} mirrored tags, +{} ms per request, API budget {HUB_BUDGET} per minute",
        if quick { " (--quick)" } else { "" },
        repos * tags,
        delay.as_millis()
    );
    let mut generator = Generator {
        dir: root.join("moon-blobs"),
        made: BTreeMap::new(),
    };
    std::fs::create_dir_all(&generator.dir)?;
    let images: Vec<Image> = (0..repos)
        .map(|i| generator.image(&format!("img{i}"), &[(format!("moon-{i}"), 4096)]))
        .collect::<Result<_>>()?;
    let tag_names: Vec<String> = (0..tags).map(|t| format!("1.{t}")).collect();
    let sbx = start_sandbox_with(root, HUB_BUDGET)?;
    let t = Instant::now();
    let publisher = pusher(
        &sbx.registry,
        Some(Login {
            user: PUBLISHER.into(),
            secret: PUBLISHER_SECRET.into(),
        }),
    )
    .await?;
    let pushed: Vec<Result<()>> = futures::stream::iter(&images)
        .map(|image| {
            let publisher = &publisher;
            let tag_names = &tag_names;
            async move {
                let repo = format!("{PUBLISHER}/{}", image.name);
                for b in &image.blobs {
                    publisher.upload_file(&repo, b).await?;
                }
                for tag in tag_names {
                    publisher.push_manifest(&repo, tag, &image.top).await?;
                }
                Ok(())
            }
        })
        .buffer_unordered(PARALLELISM)
        .collect()
        .await;
    pushed.into_iter().collect::<Result<()>>()?;
    let sources: Vec<(String, String)> = images
        .iter()
        .map(|i| (i.name.clone(), format!("{PUBLISHER}/{}", i.name)))
        .collect();
    let work = sbx.dir.path();
    let policy = write_policy(work, &sources, &tag_names)?;
    let log = work.join("vetted.log");
    // Mirror everything and lock it, without added latency (setup, not measured).
    for args in [&["lock"][..], &["apply", "--yes", "--locked"][..]] {
        reset_budget(&sbx.hub).await?;
        run_measured(
            vec![vetted_command(work, &sbx.hub, &sbx.registry, args, &policy)],
            1,
            &log,
        )?;
    }
    println!(
        "  {} tags published, mirrored and locked in {:.1} s (setup)",
        repos * tags,
        t.elapsed().as_secs_f64()
    );

    let hub_line = delay_line(&sbx.hub, delay).await?;
    let reg_line = delay_line(&sbx.registry, delay).await?;
    reset_budget(&sbx.hub).await?;
    let (used_before, limited_before) = hub_budget(&sbx.hub).await?;
    let mut cmd = vetted_command(
        work,
        &hub_line.url(),
        &reg_line.url(),
        &["-v", "plan", "--locked", "--detailed-exitcode"],
        &policy,
    );
    cmd.env("RUST_LOG", "warn");
    let plan_log = work.join("plan.log");
    let m = run_measured(vec![cmd], 1, &plan_log)?;
    let (used, limited) = hub_budget(&sbx.hub).await?;
    let calls = used.saturating_sub(used_before);
    let limited = limited.saturating_sub(limited_before);
    let text = std::fs::read_to_string(&plan_log).unwrap_or_default();
    for l in text
        .lines()
        .filter(|l| l.contains("call") || l.contains("No changes"))
        .take(30)
    {
        println!("    | {l}");
    }
    // Dependent round trips of a no-op plan: the hub login, the organization's reads (the
    // repository listing, then the reads it starts), one tag listing page per repository and
    // per source (all in flight at once): about 5.
    let floor = delay * 5;
    let row = Row {
        scenario: "moonshot no-op plan".into(),
        tool: "vetted -v plan --locked".into(),
        m,
        wire: Some(hub_line.bytes()),
    };
    print_row(&row, None);
    let summary = vec![format!(
        "moonshot: no-op plan of {} mirrored tags at +{} ms per request: vetted {:.2} s (target < 30 s; before: 70.9 s, a HEAD per tag on each side), {calls} hub API call(s) under a {HUB_BUDGET}-per-minute budget, {limited} 429(s) received; floor about {:.2} s (5 dependent round trips); peak RSS {:.1} MiB",
        repos * tags,
        delay.as_millis(),
        m.wall.as_secs_f64(),
        floor.as_secs_f64(),
        m.max_rss_kib as f64 / 1024.0,
    )];
    if limited > 0 {
        bail!(
            "the moonshot plan received {limited} 429(s); {}",
            summary[0]
        );
    }
    drop((hub_line, reg_line, sbx));
    Ok(summary)
}
