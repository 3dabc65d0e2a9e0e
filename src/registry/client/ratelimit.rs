//! Docker Hub's pull-limit headers (`ratelimit-remaining`, `ratelimit-limit`) and `Retry-After`:
//! parsing them, and the lowest remaining count a client has seen.
use std::sync::atomic::Ordering;

use reqwest::Method;
use reqwest::header::HeaderMap;

use super::RegistryClient;

pub use crate::transport::parse_retry_after;

/// Parses a Docker Hub pull-limit header value to its count: `ratelimit-remaining: 76;w=21600`
/// (the documented form: the count, then `;w=` and the window in seconds) and the bare `76` both
/// give 76; anything else (`x;w=1`, empty, negative) gives `None`. Also reads `ratelimit-limit`
/// (`100;w=21600`).
pub fn parse_ratelimit(v: &str) -> Option<u64> {
    let count = v.split(';').next()?.trim();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    count.parse().ok()
}

/// Whether a request would spend a pull of a budget already spent: a manifest GET (Docker Hub
/// counts those, not HEADs) to the registry that announced `ratelimit-remaining` (`announced_by`)
/// when it last said none remain. Such a request is not sent: it could only draw a 429.
pub(super) fn spends_a_spent_pull(
    method: &Method,
    url: &str,
    announced_by: Option<&str>,
    registry: &str,
    remaining: Option<u64>,
) -> bool {
    method == Method::GET
        && url.contains("/manifests/")
        && announced_by == Some(registry)
        && remaining == Some(0)
}

/// The `ratelimit_remaining` value before any registry answer sent the header.
pub(super) const NO_RATELIMIT: u64 = u64::MAX;

impl RegistryClient {
    /// The lowest `ratelimit-remaining` value seen on a registry answer (Docker Hub only sends it),
    /// in either form [`parse_ratelimit`] reads.
    pub fn ratelimit_remaining(&self) -> Option<u64> {
        match self.ratelimit_remaining.load(Ordering::Relaxed) {
            NO_RATELIMIT => None,
            n => Some(n),
        }
    }

    pub(super) fn note_ratelimit(&self, registry: &str, headers: &HeaderMap) {
        if let Some(n) = headers
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_ratelimit)
        {
            let _ = self.ratelimit_registry.set(registry.to_string());
            // The lowest value seen: answers to concurrent requests arrive in any order, and the
            // budget only goes down within a run (a window reset mid-run is missed, which errs
            // on the safe side).
            self.ratelimit_remaining.fetch_min(n, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_after_and_ratelimit() {
        assert_eq!(parse_retry_after("3", 0), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("1700000010", 1_700_000_000),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("1700000000", 1_800_000_000),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_ratelimit("76;w=21600"), Some(76));
        assert_eq!(parse_ratelimit("x;w=1"), None);
    }

    #[test]
    fn a_spent_pull_budget_stops_manifest_gets_to_that_registry_only() {
        let url = "https://registry-1.docker.io/v2/library/nginx/manifests/1.27";
        let hub = Some("docker.io");
        assert!(spends_a_spent_pull(
            &Method::GET,
            url,
            hub,
            "docker.io",
            Some(0)
        ));
        assert!(
            !spends_a_spent_pull(&Method::HEAD, url, hub, "docker.io", Some(0)),
            "HEAD is free"
        );
        assert!(!spends_a_spent_pull(
            &Method::GET,
            url,
            hub,
            "docker.io",
            Some(1)
        ));
        assert!(
            !spends_a_spent_pull(&Method::GET, url, hub, "ghcr.io", Some(0)),
            "another registry"
        );
        assert!(!spends_a_spent_pull(
            &Method::GET,
            url,
            None,
            "docker.io",
            None
        ));
        let blob = "https://registry-1.docker.io/v2/library/nginx/blobs/sha256:00";
        assert!(!spends_a_spent_pull(
            &Method::GET,
            blob,
            hub,
            "docker.io",
            Some(0)
        ));
    }

    #[test]
    fn both_ratelimit_forms_parse() {
        // Docker's documented forms, and the bare count.
        assert_eq!(parse_ratelimit("100;w=21600"), Some(100));
        assert_eq!(parse_ratelimit("0;w=21600"), Some(0));
        assert_eq!(parse_ratelimit(" 76 ;w=21600"), Some(76));
        assert_eq!(parse_ratelimit("76"), Some(76));
        for bad in [
            "",
            ";w=21600",
            "-1;w=21600",
            "+5",
            "1.5;w=1",
            "7 6",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_ratelimit(bad), None, "{bad:?}");
        }
    }
}
