//! Read-only probes for `vetted doctor`: single GETs whose answer or refusal is the finding, the
//! `X-RateLimit-*` budget Docker Hub announced on its latest response (captured on every answer by
//! the transport), and the check whether the repository listing left out repositories the
//! credential can read one by one (a partial listing). Nothing here writes.

use std::collections::BTreeSet;
use std::sync::Mutex;

use reqwest::header::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use super::HubClient;
use super::error::HubError;

/// Docker Hub's API budget as its `X-RateLimit-*` headers state it: requests per window, what is
/// left, and when the window resets (a Unix time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: u64,
    pub reset: Option<u64>,
}

/// The largest header value read as a number (longer ones are ignored).
const MAX_HEADER_DIGITS: usize = 20;

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    if v.len() > MAX_HEADER_DIGITS {
        return None;
    }
    v.parse().ok()
}

/// Records the budget of one response: within the same window the lowest `remaining` wins
/// (responses of parallel requests arrive in any order); a later window replaces an earlier one.
pub(crate) fn note_rate_limit(slot: &Mutex<Option<RateLimit>>, headers: &HeaderMap) {
    let Some(remaining) = number(headers, "x-ratelimit-remaining") else {
        return;
    };
    let seen = RateLimit {
        limit: number(headers, "x-ratelimit-limit"),
        remaining,
        reset: number(headers, "x-ratelimit-reset"),
    };
    let Ok(mut guard) = slot.lock() else {
        return;
    };
    *guard = Some(match *guard {
        Some(old) if old.reset == seen.reset => RateLimit {
            remaining: old.remaining.min(seen.remaining),
            ..seen
        },
        Some(old) if old.reset > seen.reset => old,
        _ => seen,
    });
}

/// Repositories of the policy looked up one by one at most, when the listing lacks them.
pub const MAX_LOOKUPS: usize = 20;

impl HubClient {
    /// The budget of the latest rate-limit window Docker Hub announced, when it sent the headers.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner().rate.lock().ok().and_then(|g| *g)
    }

    /// One GET of `segments` under the base URL (`slash`: a trailing `/`) with `query`: the JSON
    /// answer (Null when empty), or the refusal.
    pub async fn probe_get(
        &self,
        segments: &[&str],
        slash: bool,
        query: &[(&str, &str)],
    ) -> Result<Value, HubError> {
        let mut url = self.url(segments, slash)?;
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        self.call(reqwest::Method::GET, &url, None).await
    }

    /// Every entry of a paginated listing (bounded as every listing is), or the refusal.
    pub async fn probe_list(
        &self,
        segments: &[&str],
        slash: bool,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, HubError> {
        let mut url = self.url(segments, slash)?;
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        self.list_all(url).await
    }

    /// Registry Access Management as the hub reader reads it: whether it is enabled.
    pub async fn probe_registry_access(&self, org: &str) -> Result<bool, HubError> {
        let url = self.url(&super::access_settings::ram_segments(org), false)?;
        let v = self.call(reqwest::Method::GET, &url, None).await?;
        Ok(super::access_settings::parse_ram(url.path(), &v)?.enabled)
    }

    /// The repository allowlist (unconfirmed path: `access_settings::allowlist`): how many
    /// repositories it lists.
    pub async fn probe_allowlist(&self, org: &str) -> Result<usize, HubError> {
        self.probe_list(
            &super::access_settings::allowlist::segments(org),
            false,
            &[],
        )
        .await
        .map(|items| items.len())
    }

    /// The repositories among `wanted` that the listing of `org` (`listed`) left out although the
    /// credential reads them one by one: a partial listing (an organization access token without
    /// `scope-repository-list` is shown the public repositories only, hub-api.md). At most
    /// [`MAX_LOOKUPS`] names are looked up; a 404 means the repository does not exist.
    ///
    /// The same check the hub reader makes before planning (`read::hidden_repositories`).
    pub async fn listing_omissions(
        &self,
        org: &str,
        listed: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Result<Vec<String>, HubError> {
        let missing = wanted
            .iter()
            .filter(|n| !listed.contains(*n))
            .take(MAX_LOOKUPS);
        super::read::hidden_repositories(self, org, missing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_lowest_remaining_of_the_latest_window_is_kept() {
        let slot = Mutex::new(None);
        note_rate_limit(&slot, &headers(&[("x-ratelimit-limit", "600")]));
        assert_eq!(*slot.lock().unwrap(), None, "no remaining, nothing noted");
        let at = |remaining: &str, reset: &str| {
            headers(&[
                ("x-ratelimit-limit", "600"),
                ("x-ratelimit-remaining", remaining),
                ("x-ratelimit-reset", reset),
            ])
        };
        note_rate_limit(&slot, &at("590", "1000"));
        note_rate_limit(&slot, &at("595", "1000"));
        assert_eq!(slot.lock().unwrap().unwrap().remaining, 590);
        note_rate_limit(&slot, &at("599", "1060"));
        assert_eq!(
            *slot.lock().unwrap(),
            Some(RateLimit {
                limit: Some(600),
                remaining: 599,
                reset: Some(1060)
            })
        );
        note_rate_limit(&slot, &at("1", "1000"));
        assert_eq!(slot.lock().unwrap().unwrap().remaining, 599, "older window");
        note_rate_limit(&slot, &at("12345678901234567890123", "1060"));
        assert_eq!(slot.lock().unwrap().unwrap().remaining, 599, "unreadable");
    }
}
