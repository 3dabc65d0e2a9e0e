//! The latency-bound scenarios: small images behind delay lines (+20 ms per request), a first
//! mirror, a no-op re-run, and a copy within one registry (mounts), vetted against skopeo, each
//! compared with its round-trip floor.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use vetted_sandbox::kit::push::Credentials as Login;

use crate::images::{Generator, TAG, small_images};
use crate::measure::run_measured;
use crate::push::{publish, pusher};
use crate::report::{Row, floor_trips, print_log_tail, print_row, sub, wire};
use crate::services::{
    PUBLISHER, PUBLISHER_SECRET, delay_line, delay_line_traced, start_sandbox, start_source,
};
use crate::tools::{check_mirrored, skopeo_copy, vetted_apply};
use crate::trace::TRACE_LIMIT;

/// `trace`: where to write the first mirror's request traces ([`crate::trace`]), when asked.
pub(crate) async fn latency(root: &Path, quick: bool, trace: Option<&Path>) -> Result<Vec<String>> {
    let trace_limit = if trace.is_some() { TRACE_LIMIT } else { 0 };
    let n = if quick { 10 } else { 50 };
    let delay = Duration::from_millis(20);
    println!(
        "== latency-bound{}: {n} images, +{} ms per request",
        if quick { " (--quick)" } else { "" },
        delay.as_millis()
    );
    let mut generator = Generator {
        dir: root.join("small-blobs"),
        made: BTreeMap::new(),
    };
    std::fs::create_dir_all(&generator.dir)?;
    let images = small_images(&mut generator, n)?;
    let source = start_source(root).await?;
    publish(
        &pusher(&format!("http://{}", source.host), None).await?,
        "bench",
        &images,
    )
    .await?;
    let src_line = delay_line_traced(&source.host, delay, trace_limit).await?;
    let mut rows = Vec::new();

    // vetted: first mirror, then the no-op re-run, on one sandbox.
    let sbx = start_sandbox(root)?;
    let hub_line = delay_line_traced(&sbx.hub, delay, trace_limit).await?;
    let reg_line = delay_line_traced(&sbx.registry, delay, trace_limit).await?;
    let sources: Vec<(String, String)> = images
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                format!("{}/bench/{}", src_line.host(), i.name),
            )
        })
        .collect();
    let log = sbx.dir.path().join("vetted.log");
    let before = (src_line.bytes(), reg_line.bytes());
    let clocks = [hub_line.clock(), src_line.clock(), reg_line.clock()];
    let m = run_measured(
        vec![vetted_apply(
            sbx.dir.path(),
            &hub_line.url(),
            &reg_line.url(),
            &sources,
        )?],
        1,
        &log,
    )?;
    if let Some(dir) = trace {
        println!(
            "  trace of vetted's first mirror ({:.2} s):",
            m.wall.as_secs_f64()
        );
        let lines = [
            ("hub", &hub_line),
            ("source", &src_line),
            ("registry", &reg_line),
        ];
        for ((name, line), since) in lines.into_iter().zip(clocks) {
            crate::trace::report(dir, name, &line.trace(), since)?;
        }
    }
    check_mirrored(sbx.registry_host(), &images, "")?;
    print_log_tail(&log, 2);
    rows.push(Row {
        scenario: "first mirror".into(),
        tool: "vetted apply".into(),
        m,
        wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
    });
    let before = (src_line.bytes(), reg_line.bytes());
    let m = run_measured(
        vec![vetted_apply(
            sbx.dir.path(),
            &hub_line.url(),
            &reg_line.url(),
            &sources,
        )?],
        1,
        &log,
    )?;
    print_log_tail(&log, 2);
    rows.push(Row {
        scenario: "no-op re-run".into(),
        tool: "vetted apply".into(),
        m,
        wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
    });
    drop((hub_line, reg_line, sbx));

    // skopeo: one by one, then again (it has no no-op mode: users re-run the copies).
    let sbx = start_sandbox(root)?;
    let reg_line = delay_line(&sbx.registry, delay).await?;
    let home = sbx.dir.path().join("home");
    std::fs::create_dir_all(&home)?;
    let cmds = |sbx_host: &str| -> Vec<Command> {
        images
            .iter()
            .map(|i| {
                skopeo_copy(
                    &home,
                    &format!("{}/bench/{}:{TAG}", src_line.host(), i.name),
                    &format!("{sbx_host}/acme/sk-{}:{TAG}", i.name),
                    false,
                )
            })
            .collect()
    };
    let log = sbx.dir.path().join("skopeo.log");
    let before = (src_line.bytes(), reg_line.bytes());
    let m = run_measured(cmds(&reg_line.host()), 1, &log)?;
    check_mirrored(sbx.registry_host(), &images, "sk-")?;
    rows.push(Row {
        scenario: "first mirror".into(),
        tool: "skopeo copy --all, one by one".into(),
        m,
        wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
    });
    let before = (src_line.bytes(), reg_line.bytes());
    let m = run_measured(cmds(&reg_line.host()), 1, &log)?;
    rows.push(Row {
        scenario: "no-op re-run".into(),
        tool: "skopeo copy --all, one by one".into(),
        m,
        wire: Some(wire(before, (src_line.bytes(), reg_line.bytes()))),
    });
    drop((reg_line, sbx));

    // Same registry: community namespace -> org namespace of the sandbox registry (mounts).
    let sbx = start_sandbox(root)?;
    let publisher = Login {
        user: PUBLISHER.into(),
        secret: PUBLISHER_SECRET.into(),
    };
    publish(
        &pusher(&sbx.registry, Some(publisher)).await?,
        PUBLISHER,
        &images,
    )
    .await?;
    let hub_line = delay_line(&sbx.hub, delay).await?;
    let reg_line = delay_line(&sbx.registry, delay).await?;
    let home = sbx.dir.path().join("home");
    std::fs::create_dir_all(&home)?;
    let cmds: Vec<Command> = images
        .iter()
        .map(|i| {
            skopeo_copy(
                &home,
                &format!("{}/{PUBLISHER}/{}:{TAG}", reg_line.host(), i.name),
                &format!("{}/acme/sk-{}:{TAG}", reg_line.host(), i.name),
                true,
            )
        })
        .collect();
    let before = reg_line.bytes();
    let m = run_measured(cmds, 1, &sbx.dir.path().join("skopeo.log"))?;
    check_mirrored(sbx.registry_host(), &images, "sk-")?;
    rows.push(Row {
        scenario: "same registry".into(),
        tool: "skopeo copy --all, one by one".into(),
        m,
        wire: Some(sub(reg_line.bytes(), before)),
    });
    let sources: Vec<(String, String)> = images
        .iter()
        .map(|i| (i.name.clone(), format!("{PUBLISHER}/{}", i.name)))
        .collect();
    let log = sbx.dir.path().join("vetted.log");
    let before = reg_line.bytes();
    let m = run_measured(
        vec![vetted_apply(
            sbx.dir.path(),
            &hub_line.url(),
            &reg_line.url(),
            &sources,
        )?],
        1,
        &log,
    )?;
    check_mirrored(sbx.registry_host(), &images, "")?;
    print_log_tail(&log, 2);
    rows.push(Row {
        scenario: "same registry".into(),
        tool: "vetted apply".into(),
        m,
        wire: Some(sub(reg_line.bytes(), before)),
    });
    drop((hub_line, reg_line, sbx));

    let find = |scenario: &str, tool: &str| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.tool.starts_with(tool))
            .map(|r| r.m)
            .unwrap_or_default()
    };
    let mut summary = Vec::new();
    for scenario in ["first mirror", "no-op re-run", "same registry"] {
        let skopeo = find(scenario, "skopeo");
        for r in rows.iter().filter(|r| r.scenario == scenario) {
            print_row(r, Some(("of skopeo", skopeo.wall)));
        }
        let vetted = find(scenario, "vetted");
        let (trips, why) = floor_trips(scenario);
        let floor = delay * trips;
        println!(
            "  {scenario}: round-trip floor {trips} x {} ms = {:.2} s with all {n} images in flight ({why})",
            delay.as_millis(),
            floor.as_secs_f64()
        );
        summary.push(format!(
            "latency {scenario} ({n} images): vetted {:.2} s, skopeo {:.2} s: vetted {:.1}x faster; floor {:.2} s (vetted at {:.1}x the floor); peak RSS vetted {:.1} MiB, skopeo {:.1} MiB",
            vetted.wall.as_secs_f64(),
            skopeo.wall.as_secs_f64(),
            skopeo.wall.as_secs_f64() / vetted.wall.as_secs_f64(),
            floor.as_secs_f64(),
            vetted.wall.as_secs_f64() / floor.as_secs_f64(),
            vetted.max_rss_kib as f64 / 1024.0,
            skopeo.max_rss_kib as f64 / 1024.0,
        ));
    }
    Ok(summary)
}
