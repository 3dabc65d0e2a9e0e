//! `vetted sandbox`: run the local Docker Hub stand-in until interrupted; `vetted sandbox proxy`:
//! run the fault and latency proxy (`vetted_sandbox::proxy`) until interrupted. A build without the
//! `sandbox` feature has the subcommand but reports that it lacks the stand-in.

#[cfg(feature = "sandbox")]
use std::net::SocketAddr;
#[cfg(feature = "sandbox")]
use std::time::Duration;

use crate::cli::SandboxArgs;
#[cfg(feature = "sandbox")]
use crate::cli::{ProxyArgs, SandboxCommand};
use crate::error::{Error, Outcome};
#[cfg(feature = "sandbox")]
use vetted_sandbox::{Faults, SandboxConfig};

#[cfg(not(feature = "sandbox"))]
pub async fn run(_args: &SandboxArgs) -> Result<Outcome, Error> {
    Err(Error::Sandbox(
        "this build of vetted has no sandbox (built without the `sandbox` feature); \
         install one with it: cargo install vetted --features sandbox"
            .to_string(),
    ))
}

#[cfg(feature = "sandbox")]
pub async fn run(args: &SandboxArgs) -> Result<Outcome, Error> {
    if let Some(SandboxCommand::Proxy(proxy)) = &args.action {
        return run_proxy(proxy).await;
    }
    if !args.bind.is_loopback() {
        return Err(Error::Usage(format!(
            "--bind {}: the sandbox only listens on loopback (127.0.0.0/8 or ::1)",
            args.bind
        )));
    }
    for (flag, rate) in [
        ("--error-rate", args.error_rate),
        ("--rate-limit-rate", args.rate_limit_rate),
        ("--reset-rate", args.reset_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::Usage(format!(
                "{flag} {rate}: must be between 0.0 and 1.0"
            )));
        }
    }
    let config = SandboxConfig {
        bind: SocketAddr::new(args.bind, args.port),
        seed: args.seed.clone(),
        state_file: args.state.clone(),
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            error_rate: args.error_rate,
            rate_limit_rate: args.rate_limit_rate,
            retry_after: Duration::from_secs(args.retry_after),
            reset_rate: args.reset_rate,
            seed: args.fault_seed,
        },
        api_budget: vetted_sandbox::Budget {
            limit: args.api_budget,
            window_secs: args.api_budget_window,
        },
        registry: !args.no_registry,
    };
    vetted_sandbox::serve_until_signal(config)
        .await
        .map_err(|e| Error::Sandbox(e.to_string()))?;
    Ok(Outcome::Ok)
}

#[cfg(feature = "sandbox")]
async fn run_proxy(args: &ProxyArgs) -> Result<Outcome, Error> {
    use std::io::Write as _;
    use vetted_sandbox::proxy::{FaultKind, Proxy, ProxyOptions};
    let mut kinds = Vec::new();
    for name in &args.faults {
        let kind = FaultKind::parse(name).ok_or_else(|| {
            Error::Usage(format!(
                "--faults {name:?}: unknown fault kind; use 503, 429, reset or cut"
            ))
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let options = ProxyOptions {
        latency: args.latency,
        fault_rate: args.fault_rate,
        seed: args.seed,
        kinds,
        ratelimit: args.pull_limit,
        ..ProxyOptions::default()
    };
    let proxy = Proxy::start_on(&args.upstream, options, args.port)
        .await
        .map_err(|e| Error::Usage(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", proxy.url());
    let _ = out.flush();
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
    let stats = serde_json::to_string(&proxy.stats()).unwrap_or_default();
    eprintln!("proxy counters: {stats}");
    Ok(Outcome::Ok)
}
