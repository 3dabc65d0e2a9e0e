//! The services a measurement runs against: the source `docker-registry`, a fresh `vetted sandbox`
//! (its seed, users and API budget) per measurement, and the delay lines (the sandbox's proxy)
//! in front of them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use vetted_sandbox::kit::registry::{RegistryAuth, RegistryOptions, RegistryProcess};
use vetted_sandbox::proxy::{Proxy, ProxyOptions};

use crate::tools::VETTED;

pub(crate) const REGISTRY_BIN: &str = vetted_sandbox::kit::registry::DEFAULT_BINARY;
pub(crate) const OWNER: &str = "alice";
pub(crate) const OWNER_SECRET: &str = "sandbox-alice-token";
pub(crate) const PUBLISHER: &str = "publisher";
pub(crate) const PUBLISHER_SECRET: &str = "sandbox-publisher-token";

const SEED: &str = r#"
org = "acme"
[users.alice]
full_name = "Alice Owner"
email = "alice@acme.example"
[users.publisher]
full_name = "A community publisher"
email = "publisher@elsewhere.example"
[[credentials]]
identifier = "alice"
secret = "sandbox-alice-token"
kind = "password"
[[credentials]]
identifier = "publisher"
secret = "sandbox-publisher-token"
kind = "password"
[members]
alice = "owner"
"#;

/// A child killed (and reaped) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain anonymous docker-registry (the source).
pub(crate) struct SourceRegistry {
    _process: RegistryProcess,
    pub(crate) host: String,
}

pub(crate) async fn start_source(dir: &Path) -> Result<SourceRegistry> {
    let dir = dir.join("source");
    std::fs::create_dir_all(&dir)?;
    let process = RegistryProcess::start(
        &dir,
        RegistryOptions {
            auth: RegistryAuth::Anonymous,
            cdn: None,
        },
    )
    .await?;
    let host = process.host();
    Ok(SourceRegistry {
        _process: process,
        host,
    })
}

/// A fresh `vetted sandbox` (hub API + registry) in its own directory.
pub(crate) struct Sandbox {
    _proc: Proc,
    pub(crate) hub: String,
    pub(crate) registry: String,
    pub(crate) dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn registry_host(&self) -> &str {
        self.registry
            .trim_start_matches("http://")
            .trim_end_matches('/')
    }
}

/// The hub API budget of the sandboxes that measure mirroring: large enough that vetted's
/// pacing never waits, so the figures measure mirroring (the moonshot runs under Docker Hub's
/// 600 per minute instead, [`HUB_BUDGET`]).
pub(crate) const MEASURE_BUDGET: u64 = 1_000_000;
/// Docker Hub's announced API budget per minute, the sandbox's default.
pub(crate) const HUB_BUDGET: u64 = 600;

pub(crate) fn start_sandbox(parent: &Path) -> Result<Sandbox> {
    start_sandbox_with(parent, MEASURE_BUDGET)
}

pub(crate) fn start_sandbox_with(parent: &Path, api_budget: u64) -> Result<Sandbox> {
    start_sandbox_seeded(parent, SEED, api_budget)
}

/// [`start_sandbox_with`] from another seed (its owner must be [`OWNER`]).
pub(crate) fn start_sandbox_seeded(
    parent: &Path,
    seed_text: &str,
    api_budget: u64,
) -> Result<Sandbox> {
    let dir = tempfile::Builder::new()
        .prefix("sandbox")
        .tempdir_in(parent)?;
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, seed_text)?;
    let mut child = Command::new(VETTED)
        .args(["sandbox", "--port", "0", "--api-budget"])
        .arg(api_budget.to_string())
        .arg("--seed")
        .arg(&seed)
        .arg("--state")
        .arg(dir.path().join("state.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("sandbox.log"))?)
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let proc = Proc(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        for _ in 0..2 {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line.trim().to_string());
        }
    });
    let mut lines = Vec::new();
    for _ in 0..2 {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .context("the sandbox did not print its URLs within 120 s")?;
        if !line.starts_with("http://127.0.0.1:") {
            bail!(
                "the sandbox printed {line:?}; see {}",
                dir.path().join("sandbox.log").display()
            );
        }
        lines.push(line);
    }
    Ok(Sandbox {
        _proc: proc,
        hub: lines[0].clone(),
        registry: lines[1].clone(),
        dir,
    })
}

/// The sandbox's proxy in front of `upstream` adding `delay` to every request (no faults; a
/// token realm is served through the proxy too, so token requests pay the delay), counting
/// body bytes both ways.
pub(crate) struct DelayLine(Proxy);

pub(crate) async fn delay_line(upstream: &str, delay: Duration) -> Result<DelayLine> {
    delay_line_traced(upstream, delay, 0).await
}

/// [`delay_line`] keeping a trace of its first `trace_limit` requests.
pub(crate) async fn delay_line_traced(
    upstream: &str,
    delay: Duration,
    trace_limit: usize,
) -> Result<DelayLine> {
    let upstream = format!("http://{}", upstream.trim_start_matches("http://"));
    let options = ProxyOptions {
        latency: delay,
        kinds: Vec::new(),
        trace_limit,
        ..ProxyOptions::default()
    };
    Ok(DelayLine(Proxy::start(&upstream, options).await?))
}

impl DelayLine {
    pub(crate) fn url(&self) -> String {
        self.0.url()
    }
    pub(crate) fn host(&self) -> String {
        self.0.host()
    }
    /// The requests traced so far.
    pub(crate) fn trace(&self) -> Vec<vetted_sandbox::proxy::TraceEntry> {
        self.0.trace()
    }
    /// The proxy's clock, which trace times are counted on.
    pub(crate) fn clock(&self) -> Duration {
        self.0.clock()
    }
    /// Body bytes (up, down) so far.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        let stats = self.0.stats();
        (stats.bytes_up, stats.bytes_down)
    }
}
