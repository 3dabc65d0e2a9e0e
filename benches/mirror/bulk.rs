//! The bulk scenario: 10 images sharing base layers (one multi-arch, one layer of at least 1 GiB)
//! mirrored by a raw parallel upload, skopeo one by one and in parallel, and one `vetted apply`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use vetted_sandbox::kit::push::Credentials as Login;

use crate::images::{Generator, TAG, bulk_images, total, unique_blobs};
use crate::measure::{Measure, run_measured};
use crate::push::{PARALLELISM, publish, pusher, raw_upload};
use crate::report::{Row, mib, print_log_tail, print_row};
use crate::services::{OWNER, OWNER_SECRET, start_sandbox, start_source};
use crate::tools::{check_mirrored, skopeo_copy, vetted_apply};

pub(crate) async fn bulk(root: &Path, quick: bool) -> Result<Vec<String>> {
    println!("== bulk{}", if quick { " (--quick)" } else { "" });
    let mut generator = Generator {
        dir: root.join("bulk-blobs"),
        made: BTreeMap::new(),
    };
    std::fs::create_dir_all(&generator.dir)?;
    let t = Instant::now();
    let images = bulk_images(&mut generator, quick)?;
    let unique = unique_blobs(&images);
    let largest = unique.iter().map(|b| b.size).max().unwrap_or(0);
    println!(
        "  {} images, {} unique blobs, {:.1} MiB unique ({:.1} MiB referenced), largest layer {:.1} MiB; generated in {:.1} s",
        images.len(),
        unique.len(),
        mib(total(&unique)),
        mib(images.iter().map(|i| total(&i.blobs)).sum()),
        mib(largest),
        t.elapsed().as_secs_f64()
    );
    let source = start_source(root).await?;
    let t = Instant::now();
    publish(
        &pusher(&format!("http://{}", source.host), None).await?,
        "bench",
        &images,
    )
    .await?;
    println!(
        "  source registry {} filled in {:.1} s",
        source.host,
        t.elapsed().as_secs_f64()
    );
    let login = Some(Login {
        user: OWNER.into(),
        secret: OWNER_SECRET.into(),
    });
    let mut rows = Vec::new();

    // The ceiling: the unique blobs uploaded straight from their files.
    let sbx = start_sandbox(root)?;
    let raw_pusher = pusher(&sbx.registry, login.clone()).await?;
    let t = Instant::now();
    raw_upload(&raw_pusher, "acme/raw", &unique).await?;
    let raw = Measure {
        wall: t.elapsed(),
        written_bytes: total(&unique),
        ..Measure::default()
    };
    rows.push(Row {
        scenario: "bulk".into(),
        tool: format!("raw parallel upload (x{PARALLELISM})"),
        m: raw,
        wire: None,
    });
    drop(sbx);

    // skopeo, one image at a time.
    let sbx = start_sandbox(root)?;
    let home = sbx.dir.path().join("home");
    std::fs::create_dir_all(&home)?;
    let cmds = images
        .iter()
        .map(|i| {
            skopeo_copy(
                &home,
                &format!("{}/bench/{}:{TAG}", source.host, i.name),
                &format!("{}/acme/sk-{}:{TAG}", sbx.registry_host(), i.name),
                false,
            )
        })
        .collect();
    let m = run_measured(cmds, 1, &sbx.dir.path().join("skopeo.log"))?;
    check_mirrored(sbx.registry_host(), &images, "sk-")?;
    rows.push(Row {
        scenario: "bulk".into(),
        tool: "skopeo copy --all, one by one".into(),
        m,
        wire: None,
    });
    drop(sbx);

    // skopeo, PARALLELISM at a time (xargs -P style).
    let sbx = start_sandbox(root)?;
    let home = sbx.dir.path().join("home");
    std::fs::create_dir_all(&home)?;
    let cmds = images
        .iter()
        .map(|i| {
            skopeo_copy(
                &home,
                &format!("{}/bench/{}:{TAG}", source.host, i.name),
                &format!("{}/acme/sk-{}:{TAG}", sbx.registry_host(), i.name),
                false,
            )
        })
        .collect();
    let m = run_measured(cmds, PARALLELISM, &sbx.dir.path().join("skopeo.log"))?;
    check_mirrored(sbx.registry_host(), &images, "sk-")?;
    rows.push(Row {
        scenario: "bulk".into(),
        tool: format!("skopeo copy --all, {PARALLELISM} at once"),
        m,
        wire: None,
    });
    drop(sbx);

    // vetted: one apply of all.
    let sbx = start_sandbox(root)?;
    let sources: Vec<(String, String)> = images
        .iter()
        .map(|i| (i.name.clone(), format!("{}/bench/{}", source.host, i.name)))
        .collect();
    let cmd = vetted_apply(sbx.dir.path(), &sbx.hub, &sbx.registry, &sources)?;
    let log = sbx.dir.path().join("vetted.log");
    let m = run_measured(vec![cmd], 1, &log)?;
    check_mirrored(sbx.registry_host(), &images, "")?;
    print_log_tail(&log, 3);
    rows.push(Row {
        scenario: "bulk".into(),
        tool: "vetted apply".into(),
        m,
        wire: None,
    });
    drop(sbx);

    let skopeo = rows[1].m.wall;
    let vetted = rows[3].m.wall;
    for r in &rows {
        print_row(r, Some(("of skopeo one by one", skopeo)));
    }
    let summary = vec![format!(
        "bulk: vetted {:.2} s, skopeo one by one {:.2} s ({:.2}x vetted's speed), skopeo x{PARALLELISM} {:.2} s, raw upload {:.2} s (vetted {:.2}x the raw time); peak RSS vetted {:.1} MiB, skopeo {:.1} MiB",
        vetted.as_secs_f64(),
        skopeo.as_secs_f64(),
        skopeo.as_secs_f64() / vetted.as_secs_f64(),
        rows[2].m.wall.as_secs_f64(),
        raw.wall.as_secs_f64(),
        vetted.as_secs_f64() / raw.wall.as_secs_f64(),
        rows[3].m.max_rss_kib as f64 / 1024.0,
        rows[1].m.max_rss_kib.max(rows[2].m.max_rss_kib) as f64 / 1024.0,
    )];
    Ok(summary)
}
