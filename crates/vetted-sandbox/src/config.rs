//! How to run a sandbox: the fault knobs ([`Faults`], and [`FaultsJson`] as `PUT /_sandbox/faults`
//! and `--faults` spell them) and the [`SandboxConfig`] that [`crate::Sandbox`] and
//! [`crate::serve_until_signal`] start from.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults;

/// Fault injection knobs, applied to every API request except `/_sandbox/*`. `Default` = no faults.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Added to every API request before it is answered.
    pub latency: Duration,
    /// Probability (0..=1) of answering 500/502/503 (502/503 with an HTML body, like a CDN page).
    pub error_rate: f64,
    /// Probability (0..=1) of answering 429 `{"detail":"Rate limit exceeded"}` with `Retry-After`.
    pub rate_limit_rate: f64,
    /// The `Retry-After` sent with injected 429s (whole seconds).
    pub retry_after: Duration,
    /// Probability (0..=1) of dropping the connection without a complete response.
    pub reset_rate: f64,
    /// Seed of the random draws, so a fault sequence is reproducible.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after: Duration::from_secs(1),
            reset_rate: 0.0,
            seed: 0,
        }
    }
}

/// The JSON form of [`Faults`] used by `PUT /_sandbox/faults` (durations in milliseconds / seconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsJson {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub rate_limit_rate: f64,
    pub retry_after_secs: u64,
    pub reset_rate: f64,
    pub seed: u64,
    /// Send `Retry-After` as a unix timestamp instead of seconds (Docker Hub has been seen doing
    /// both). Not part of [`Faults`]: only settable through `PUT /_sandbox/faults`.
    #[serde(default)]
    pub retry_after_unix: bool,
    /// Answer injected 429s with Cloudflare's HTML "rate limited" page instead of
    /// `{"detail": ...}`, as Docker Hub's edge does. Not part of [`Faults`]: only settable through
    /// `PUT /_sandbox/faults`.
    #[serde(default)]
    pub rate_limit_html: bool,
    /// Apply the faults to the next N API requests only, then none (deterministic retry tests:
    /// `{"error_rate": 1.0, "only_next": 2}` fails two requests, then lets them through). Not part
    /// of [`Faults`]: only settable through `PUT /_sandbox/faults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_next: Option<u64>,
}

impl Faults {
    /// Checks that every rate is a probability.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("reset_rate", self.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.error_rate + self.rate_limit_rate + self.reset_rate > 1.0 {
            return Err("error_rate + rate_limit_rate + reset_rate must not exceed 1".to_string());
        }
        Ok(())
    }

    pub fn to_json(&self) -> FaultsJson {
        FaultsJson {
            latency_ms: u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX),
            error_rate: self.error_rate,
            rate_limit_rate: self.rate_limit_rate,
            retry_after_secs: self.retry_after.as_secs(),
            reset_rate: self.reset_rate,
            seed: self.seed,
            retry_after_unix: false,
            rate_limit_html: false,
            only_next: None,
        }
    }
}

impl From<FaultsJson> for Faults {
    fn from(j: FaultsJson) -> Self {
        Faults {
            latency: Duration::from_millis(j.latency_ms),
            error_rate: j.error_rate,
            rate_limit_rate: j.rate_limit_rate,
            retry_after: Duration::from_secs(j.retry_after_secs),
            reset_rate: j.reset_rate,
            seed: j.seed,
        }
    }
}

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to bind; use port 0 for an ephemeral port. Loopback only.
    pub bind: SocketAddr,
    /// Seed file (TOML). `None`: the built-in demo seed (sandbox/demo-seed.toml).
    pub seed: Option<PathBuf>,
    /// JSON state file: loaded if present (instead of the seed's org data), saved after every write and
    /// on shutdown. Credentials always come from the seed and are never written to it.
    pub state_file: Option<PathBuf>,
    pub faults: Faults,
    /// The API budget per window, announced in `X-RateLimit-*` and enforced with 429s.
    pub api_budget: faults::Budget,
    /// Also run a real registry (`/usr/bin/docker-registry`) with token auth from the org state,
    /// seeded with the default community images. Off by default (hub API only).
    pub registry: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            seed: None,
            state_file: None,
            faults: Faults::default(),
            api_budget: faults::Budget::default(),
            registry: false,
        }
    }
}
