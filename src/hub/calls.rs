//! Requests counted per endpoint (method and path template, e.g. `GET
//! /v2/namespaces/{namespace}/repositories/{repository}`), for `-v`: names only, never a header, a
//! query or a body.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Most distinct endpoints counted (the rest are counted together).
const MAX_ENDPOINTS: usize = 64;

/// The path template of `path`: each segment that names something (after `namespaces`, `orgs`,
/// `repositories`, `groups`, `members`, `invites`, `tags`, `users`) becomes `{kind}`.
pub(crate) fn template(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segs.len());
    let mut i = 0;
    while i < segs.len() {
        let seg = segs[i];
        out.push(seg.to_string());
        let param = match seg {
            "namespaces" => Some("{namespace}"),
            "orgs" => Some("{org}"),
            "groups" => Some("{team}"),
            "members" => Some("{member}"),
            "invites" => Some("{invite}"),
            "tags" => Some("{tag}"),
            "users" => Some("{user}"),
            // `/v2/repositories/{namespace}/{repository}/...` (the legacy form).
            "repositories" if i == 2 => {
                if segs.get(i + 1).is_some_and(|s| !s.is_empty()) {
                    out.push("{namespace}".into());
                    i += 1;
                }
                Some("{repository}")
            }
            "repositories" => Some("{repository}"),
            _ => None,
        };
        if let Some(p) = param {
            if segs.get(i + 1).is_some_and(|s| !s.is_empty()) {
                out.push(p.to_string());
                i += 1;
            }
        }
        i += 1;
    }
    out.join("/")
}

/// Counts per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Calls {
    pub(crate) fn count(&self, method: &str, path: &str) {
        let key = format!("{method} {}", template(path));
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= MAX_ENDPOINTS && !counts.contains_key(&key) {
            *counts.entry("(other endpoints)".into()).or_default() += 1;
        } else {
            *counts.entry(key).or_default() += 1;
        }
    }

    /// Endpoint and count, most called first (then by name).
    pub(crate) fn snapshot(&self) -> Vec<(String, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, u64)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_placeholders() {
        for (path, want) in [
            (
                "/v2/namespaces/acme/repositories",
                "/v2/namespaces/{namespace}/repositories",
            ),
            (
                "/v2/namespaces/acme/repositories/tags/tags",
                "/v2/namespaces/{namespace}/repositories/{repository}/tags",
            ),
            (
                "/v2/namespaces/acme/repositories/api/tags/1.0",
                "/v2/namespaces/{namespace}/repositories/{repository}/tags/{tag}",
            ),
            (
                "/v2/repositories/acme/api/groups/",
                "/v2/repositories/{namespace}/{repository}/groups/",
            ),
            (
                "/v2/repositories/acme/api/groups/17/",
                "/v2/repositories/{namespace}/{repository}/groups/{team}/",
            ),
            (
                "/v2/orgs/acme/groups/devs/members/",
                "/v2/orgs/{org}/groups/{team}/members/",
            ),
            (
                "/v2/orgs/acme/members/bob",
                "/v2/orgs/{org}/members/{member}",
            ),
            ("/v2/orgs/acme/settings/", "/v2/orgs/{org}/settings/"),
            ("/v2/auth/token", "/v2/auth/token"),
        ] {
            assert_eq!(template(path), want, "{path}");
        }
        let c = Calls::default();
        c.count("GET", "/v2/namespaces/acme/repositories/a");
        c.count("GET", "/v2/namespaces/acme/repositories/b");
        c.count("POST", "/v2/auth/token");
        assert_eq!(
            c.snapshot(),
            [
                (
                    "GET /v2/namespaces/{namespace}/repositories/{repository}".to_string(),
                    2
                ),
                ("POST /v2/auth/token".to_string(), 1)
            ]
        );
    }
}
