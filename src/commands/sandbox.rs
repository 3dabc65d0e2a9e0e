//! `vetted sandbox`: run the local Docker Hub stand-in until interrupted.

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::SandboxArgs;
use crate::error::{Error, Outcome};
use crate::sandbox::{Faults, SandboxConfig};

pub async fn run(args: &SandboxArgs) -> Result<Outcome, Error> {
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
        registry: !args.no_registry,
    };
    crate::sandbox::serve_until_signal(config)
        .await
        .map_err(|e| Error::Sandbox(e.to_string()))?;
    Ok(Outcome::Ok)
}
