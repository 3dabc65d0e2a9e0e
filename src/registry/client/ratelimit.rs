//! Docker Hub's pull-limit headers (`ratelimit-remaining`, `ratelimit-limit`) and `Retry-After`:
//! parsing them, and the lowest remaining count a client has seen.
use std::sync::atomic::Ordering;

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

    pub(super) fn note_ratelimit(&self, headers: &HeaderMap) {
        if let Some(n) = headers
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_ratelimit)
        {
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
