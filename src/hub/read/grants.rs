//! Team grants per repository: the one-call grant listing where Docker Hub offers it, else the
//! per-(repository, team) fallback within its call budget ([`FALLBACK_PAIR_BUDGET`]), the teams it
//! reads decided up front ([`fallback_allotment`]) so a partial read is deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::super::HubClient;
use super::super::error::HubError;
use super::super::http::error_of;
use super::{shape_error, str_field, truncate_chars};
use crate::model::Permission;

/// (repository, team) pairs the fallback reads beyond the teams the policy grants on each
/// repository (about 100,000 calls for 1,000 repositories and 100 teams otherwise): a few minutes
/// of Docker Hub's API budget.
pub(crate) const FALLBACK_PAIR_BUDGET: usize = 2_000;

/// The pairs the per-(repository, team) fallback may read beyond each repository's `required`
/// teams, within `budget`: the teams the policy manages (`managed`) on every repository first,
/// then the `others`, repositories in name order. Pure and deterministic, so which repositories
/// end up partly read does not depend on the order answers arrive in.
pub(crate) fn fallback_allotment(
    repos: &[String],
    required: &BTreeMap<String, BTreeSet<String>>,
    managed: &BTreeSet<String>,
    others: &BTreeSet<String>,
    budget: usize,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut left = budget;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut sorted: Vec<&String> = repos.iter().collect();
    sorted.sort();
    for tier in [managed, others] {
        for repo in &sorted {
            let own = required.get(*repo);
            for team in tier {
                if own.is_some_and(|o| o.contains(team)) {
                    continue;
                }
                if left == 0 {
                    return out;
                }
                left -= 1;
                out.entry((*repo).clone()).or_default().insert(team.clone());
            }
        }
    }
    out
}

/// Per repository, the teams the fallback reads beyond the policy's own grants there.
pub(super) type Allotment = BTreeMap<String, BTreeSet<String>>;

/// The teams the per-pair fallback reads on one repository: the policy's own grants there, then
/// what the budget allotted (known once the whole listing is read), out of the teams `wanted`.
pub(super) struct FallbackPairs<'a> {
    pub(super) required: &'a BTreeSet<String>,
    pub(super) allotment: &'a tokio::sync::watch::Receiver<Option<Arc<Allotment>>>,
    pub(super) wanted: &'a BTreeSet<String>,
}

impl FallbackPairs<'_> {
    /// The teams to read on `repo` beyond the required ones, and whether some wanted team is left
    /// out (the read is partial). Waits for the whole listing.
    async fn allotted(&self, repo: &str) -> Result<(BTreeSet<String>, bool), HubError> {
        let mut rx = self.allotment.clone();
        let allotment = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| shape_error("/v2/namespaces/-/repositories", "listing ended early"))?
            .clone()
            .unwrap_or_default();
        let allotted = allotment.get(repo).cloned().unwrap_or_default();
        let leaves_out = self
            .wanted
            .iter()
            .any(|t| !self.required.contains(t) && !allotted.contains(t));
        Ok((allotted, leaves_out))
    }
}

/// Lists every team grant on a repository in one call (`GET /v2/repositories/{ns}/{repo}/groups/`,
/// the slash form Docker Hub users report for this collection, hub-feedback#976/#833; not in the
/// provider). `Ok(None)` when the server does not offer it (404/405) or refuses it (403, e.g. a token
/// scope that allows the per-team reads only), so the caller falls back to one call per
/// (repository, team) pair, which fails loudly if it is refused too.
async fn list_repo_grants(
    client: &HubClient,
    org: &str,
    repo: &str,
) -> Result<Option<Vec<Value>>, HubError> {
    use std::sync::atomic::Ordering;
    let url = client.url(&["v2", "repositories", org, repo, "groups"], true)?;
    let mut first = url.clone();
    first.query_pairs_mut().append_pair("page_size", "100");
    // Until one answer shows the listing exists, one repository asks at a time: absent once (404,
    // 405) is absent for the organization, and the others go straight to the pairs.
    let mut gate = Some(client.inner().grant_listing_seen.lock().await);
    if gate.as_deref().is_some_and(|seen| *seen) {
        gate = None;
    }
    if client.inner().no_grant_listing.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let probe = client.send(Method::GET, &first, None).await?;
    if matches!(
        probe.status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        client
            .inner()
            .no_grant_listing
            .store(true, Ordering::Relaxed);
        return Ok(None);
    }
    if let Some(mut seen) = gate {
        *seen = true;
    }
    if probe.status == StatusCode::FORBIDDEN {
        return Ok(None);
    }
    if !probe.status.is_success() {
        return Err(error_of(&Method::GET, &first, &probe));
    }
    let v = probe.json();
    if v.get("next")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty())
    {
        return client.list_all(url).await.map(Some);
    }
    match v {
        Value::Array(items) => Ok(Some(items)),
        other => match other.get("results").and_then(Value::as_array) {
            Some(items) => Ok(Some(items.clone())),
            None => Err(shape_error(url.path(), "grant listing without results")),
        },
    }
}

/// The grants on `repo`, and whether they were read for some teams only (the per-pair fallback
/// within its budget).
pub(super) async fn read_grants(
    client: &HubClient,
    org: &str,
    repo: &str,
    group_ids: &BTreeMap<String, i64>,
    pairs: &FallbackPairs<'_>,
) -> Result<(BTreeMap<String, Permission>, bool), HubError> {
    let mut grants = BTreeMap::new();
    if let Some(items) = list_repo_grants(client, org, repo).await? {
        for g in items {
            let id = g.get("group_id").and_then(Value::as_i64);
            let name = str_field(&g, "group_name").map(str::to_string).or_else(|| {
                id.and_then(|id| {
                    group_ids
                        .iter()
                        .find(|(_, v)| **v == id)
                        .map(|(n, _)| n.clone())
                })
            });
            // A grant vetted cannot read is an error, never dropped: a dropped admin grant would
            // be access the plan does not show.
            let path = format!("/v2/repositories/{org}/{repo}/groups/");
            let Some(name) = name else {
                return Err(shape_error(
                    &path,
                    &format!(
                        "a grant names group {} which is not among the organization's teams",
                        id.map(|i| i.to_string())
                            .unwrap_or_else(|| "(no id)".into())
                    ),
                ));
            };
            let perm = match str_field(&g, "permission") {
                Some(p) => Permission::parse(p).ok_or_else(|| {
                    shape_error(
                        &path,
                        &format!(
                            "team {name:?} has permission {:?}, which vetted does not know (read, write, admin)",
                            truncate_chars(p, 40)
                        ),
                    )
                })?,
                None => {
                    return Err(shape_error(
                        &path,
                        &format!("the grant of team {name:?} has no permission"),
                    ));
                }
            };
            grants.insert(name, perm);
        }
        return Ok((grants, false));
    }
    let (allotted, leaves_out) = pairs.allotted(repo).await?;
    for team in pairs.required.union(&allotted) {
        let Some(id) = group_ids.get(team) else {
            continue;
        };
        let url = client.url(
            &["v2", "repositories", org, repo, "groups", &id.to_string()],
            true,
        )?;
        let reply = client.send(Method::GET, &url, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            continue;
        }
        if !reply.status.is_success() {
            return Err(error_of(&Method::GET, &url, &reply));
        }
        let perm = str_field(&reply.json(), "permission")
            .and_then(Permission::parse)
            .ok_or_else(|| shape_error(url.path(), "grant without a known permission"))?;
        grants.insert(team.clone(), perm);
    }
    Ok((grants, leaves_out))
}
