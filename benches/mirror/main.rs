//! vetted against skopeo, side by side on the same machine, registries and images.
//!
//! `cargo bench --bench mirror -- [bulk|latency|moonshot|bigorg|all] [--quick] [--trace=DIR]`
//!
//! Everything is generated with the development kit (`vetted_sandbox::kit`): deterministic layer
//! files (written once to a temp dir and streamed, never held in memory), a plain anonymous
//! `docker-registry` as the source, a fresh `vetted sandbox` (hub API + token-auth registry) as the
//! target of each measurement, and, for the latency-bound scenario, the sandbox's proxy in front of
//! each registry and the hub API, adding 20 ms to every request. vetted runs as the real product: `vetted apply --yes` of a policy mirroring the images.
//! skopeo runs as users run it: `skopeo copy --all` per image. Each tool is a child process whose
//! wall time, peak RSS (`wait4` rusage) and I/O bytes (`/proc/PID/io`, read before reaping) are
//! printed, with the ratios. Only 127.0.0.1 is used; every loop is bounded.
//!
//! One module per job: `images` (the generated images), `push` (filling registries), `services`
//! (the source registry, the sandboxes, the delay lines), `measure` (running and measuring the
//! tools' processes), `tools` (the vetted and skopeo command lines), `report` (the printed rows)
//! and one per scenario: `bulk`, `latency`, `moonshot`, `bigorg`.

#[cfg(target_os = "linux")]
mod bigorg;
#[cfg(target_os = "linux")]
mod bulk;
#[cfg(target_os = "linux")]
mod images;
#[cfg(target_os = "linux")]
mod latency;
#[cfg(target_os = "linux")]
mod measure;
#[cfg(target_os = "linux")]
mod moonshot;
#[cfg(target_os = "linux")]
mod push;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod services;
#[cfg(target_os = "linux")]
mod tools;
#[cfg(target_os = "linux")]
mod trace;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the mirror benchmark measures child processes through Linux interfaces only");
}

#[cfg(target_os = "linux")]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = rt.block_on(run()) {
        eprintln!("benchmark failed: {e:#}");
        std::process::exit(1);
    }
}

/// Runs the scenarios the arguments name (`all` when none) and prints their summary lines.
#[cfg(target_os = "linux")]
async fn run() -> anyhow::Result<()> {
    use std::path::Path;

    use anyhow::bail;

    use crate::bigorg::bigorg;
    use crate::bulk::bulk;
    use crate::latency::latency;
    use crate::moonshot::moonshot;
    use crate::services::REGISTRY_BIN;
    use crate::tools::VETTED;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let trace = args
        .iter()
        .find_map(|a| a.strip_prefix("--trace="))
        .map(std::path::PathBuf::from);
    // cargo bench passes --bench; other flags are ours.
    let scenario = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
        .unwrap_or("all");
    if !matches!(scenario, "bulk" | "latency" | "moonshot" | "bigorg" | "all") {
        bail!(
            "unknown scenario {scenario:?}: use bulk, latency, moonshot, bigorg or all (and --quick for a smoke run)"
        );
    }
    for tool in [REGISTRY_BIN, "/usr/bin/skopeo"] {
        if !Path::new(tool).is_file() {
            bail!("{tool} is missing: run scripts/install-deps.sh");
        }
    }
    let root = tempfile::Builder::new().prefix("vetted-bench").tempdir()?;
    println!("vetted {VETTED}\nwork dir {}", root.path().display());
    let mut summary = Vec::new();
    if matches!(scenario, "bulk" | "all") {
        summary.extend(bulk(root.path(), quick).await?);
    }
    if matches!(scenario, "latency" | "all") {
        summary.extend(latency(root.path(), quick, trace.as_deref()).await?);
    }
    if matches!(scenario, "moonshot" | "all") {
        summary.extend(moonshot(root.path(), quick).await?);
    }
    if matches!(scenario, "bigorg" | "all") {
        summary.extend(bigorg(root.path(), quick).await?);
    }
    println!("== summary");
    for line in summary {
        println!("  {line}");
    }
    Ok(())
}
