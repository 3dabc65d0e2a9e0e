//! The repository listing of an organization and each repository's own reads (privacy and
//! description from the listing, the full description and the grants where the scope wants them),
//! started as each listing page arrives; the checks that a listing is whole.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::super::error::HubError;
use super::super::http::error_of;
use super::super::{HubClient, listing};
use super::grants::{
    Allotment, FALLBACK_PAIR_BUDGET, FallbackPairs, fallback_allotment, read_grants,
};
use super::{shape_error, str_field};
use crate::model::{Repository, Scope};

pub(super) async fn read_repositories(
    client: &HubClient,
    org: &str,
    scope: &Scope,
    group_ids: &BTreeMap<String, i64>,
) -> Result<(BTreeMap<String, Repository>, BTreeSet<String>), HubError> {
    // Each repository's reads start as its listing page arrives; the listing's own checks and the
    // fallback's allotment (which needs every name) follow the last page.
    let (entries_tx, mut entries_rx) = tokio::sync::mpsc::unbounded_channel::<Listed>();
    let (allotment_tx, allotment_rx) = tokio::sync::watch::channel::<Option<Arc<Allotment>>>(None);
    let wants_grants = |name: &str| scope.all_grants || scope.grant_repositories.contains(name);
    // The listing carries privacy and description; only the full description needs a read of the
    // repository itself, and only where it is wanted.
    let wants_full =
        |name: &str| scope.all_full_descriptions || scope.full_descriptions.contains(name);
    // The fallback's reads beyond the policy's own grants: the managed teams, and every other team
    // when effective access (or an export) needs every grant; within a budget.
    let managed: BTreeSet<String> = scope
        .grant_teams
        .iter()
        .filter(|t| group_ids.contains_key(*t))
        .cloned()
        .collect();
    let others: BTreeSet<String> = if scope.all_grants {
        group_ids
            .keys()
            .filter(|t| !managed.contains(*t))
            .cloned()
            .collect()
    } else {
        BTreeSet::new()
    };
    let listing = async {
        let mut send = move |entry: Listed| {
            let _ = entries_tx.send(entry);
        };
        let listed = list_repositories_each(client, org, &mut send).await?;
        // The sender goes with `send`: the reads' stream ends.
        drop(send);
        check_listing(client, org, scope, &listed).await?;
        let granted: Vec<String> = listed
            .iter()
            .map(|(n, _, _)| n.clone())
            .filter(|n| wants_grants(n))
            .collect();
        let allotment = fallback_allotment(
            &granted,
            &scope.grants_named,
            &managed,
            &others,
            FALLBACK_PAIR_BUDGET,
        );
        let _ = allotment_tx.send(Some(Arc::new(allotment)));
        Ok::<_, HubError>(())
    };
    let empty = BTreeSet::new();
    let wanted: BTreeSet<String> = managed.union(&others).cloned().collect();
    let (allotment_rx, wanted, empty) = (&allotment_rx, &wanted, &empty);
    let conc = client.inner().config.concurrency.max(1);
    let entries = futures::stream::poll_fn(move |cx| entries_rx.poll_recv(cx));
    let reads = entries
        .map(|(name, private, description)| async move {
            let full_description = if wants_full(&name) {
                let url = client.url(&["v2", "namespaces", org, "repositories", &name], false)?;
                let detail = client.call(Method::GET, &url, None).await?;
                Some(
                    str_field(&detail, "full_description")
                        .unwrap_or("")
                        .to_string(),
                )
            } else {
                None
            };
            let mut partial = false;
            let grants = if wants_grants(&name) {
                let pairs = FallbackPairs {
                    required: scope.grants_named.get(&name).unwrap_or(empty),
                    allotment: allotment_rx,
                    wanted,
                };
                let (grants, unread) = read_grants(client, org, &name, group_ids, &pairs).await?;
                partial = unread;
                Some(grants)
            } else {
                None
            };
            Ok::<_, HubError>((
                name,
                Repository {
                    private,
                    description: Some(description),
                    full_description,
                    grants,
                    mirror: None,
                    tags: None,
                },
                partial,
            ))
        })
        // The client's slots bound what is in flight; this keeps them filled.
        .buffer_unordered(2 * conc)
        .try_collect::<Vec<(String, Repository, bool)>>();
    let ((), repos) = futures::try_join!(listing, reads)?;
    let partial: BTreeSet<String> = repos
        .iter()
        .filter(|(_, _, p)| *p)
        .map(|(n, _, _)| n.clone())
        .collect();
    if let (Some(purpose), Some(first)) = (scope.whole_listing_for, partial.first()) {
        return Err(HubError::new(
            "GET",
            &format!("/v2/repositories/{org}/{first}/groups/"),
            None,
            format!(
                "Docker Hub offers no grant listing per repository here, and reading each \
                 (repository, team) pair of {} repositories would take more than {} calls \
                 beyond the teams the policy grants; {purpose}, and a grant left unread would \
                 be missed, so vetted stops here",
                partial.len(),
                FALLBACK_PAIR_BUDGET
            ),
        ));
    }
    Ok((repos.into_iter().map(|(n, r, _)| (n, r)).collect(), partial))
}

/// One entry of the repository listing: name, private, description.
type Listed = (String, bool, String);

/// The repository listing (`GET /v2/namespaces/{org}/repositories`, the path an organization access
/// token may read: the legacy `/v2/repositories/{org}/` answers it 403). Entries fewer than the
/// announced `count` are an error: the listing is partial.
async fn list_repositories(client: &HubClient, org: &str) -> Result<Vec<Listed>, HubError> {
    list_repositories_each(client, org, &mut |_| {}).await
}

fn listed_entry(r: &Value) -> Option<Listed> {
    Some((
        str_field(r, "name")?.to_string(),
        r.get("is_private")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        str_field(r, "description").unwrap_or("").to_string(),
    ))
}

/// [`list_repositories`], handing each entry to `on_entry` as its page arrives.
async fn list_repositories_each(
    client: &HubClient,
    org: &str,
    on_entry: &mut (dyn FnMut(Listed) + Send),
) -> Result<Vec<Listed>, HubError> {
    let mut url = client.url(&["v2", "namespaces", org, "repositories"], false)?;
    url.query_pairs_mut().append_pair("ordering", "name");
    let mut on_page = |items: &[Value]| {
        items
            .iter()
            .filter_map(listed_entry)
            .for_each(&mut *on_entry)
    };
    let (items, count) = client
        .list_all_counted_each(url.clone(), &mut on_page)
        .await?;
    if let Some(count) = count.filter(|c| *c > items.len() as u64) {
        return Err(listing::count_error(org, count, items.len()));
    }
    let mut listed = Vec::new();
    for r in &items {
        let Some(entry) = listed_entry(r) else {
            return Err(shape_error(url.path(), "repository without name"));
        };
        listed.push(entry);
    }
    Ok(listed)
}

/// Whether the repository listing of `org`, as this client's credential reads it, may be partial
/// (see [`listing::listing_doubt`]).
pub(crate) async fn repository_listing_doubt(
    client: &HubClient,
    org: &str,
) -> Result<Option<listing::ListingDoubt>, HubError> {
    let listed = list_repositories(client, org).await?;
    let private = listed.iter().filter(|(_, p, _)| *p).count();
    Ok(listing::listing_doubt(client.identity(), org, private))
}

/// Refuses a listing that is partial (a repository the policy names is missing from it yet exists:
/// its own read answers 200) or, when `scope` needs the whole listing, one that may be partial.
/// The repositories the policy names that the listing lacks are read one each (bounded
/// concurrency); a 404 is "absent", any other failure an error.
async fn check_listing(
    client: &HubClient,
    org: &str,
    scope: &Scope,
    listed: &[Listed],
) -> Result<(), HubError> {
    let names: BTreeSet<&str> = listed.iter().map(|(n, _, _)| n.as_str()).collect();
    let missing: Vec<&String> = scope
        .repositories
        .iter()
        .filter(|r| !names.contains(r.as_str()))
        .collect();
    let found = hidden_repositories(client, org, missing).await?;
    if !found.is_empty() {
        return Err(listing::hidden_error(org, client.identity(), &found));
    }
    if let Some(purpose) = scope.whole_listing_for {
        let private = listed.iter().filter(|(_, p, _)| *p).count();
        if let Some(doubt) = listing::listing_doubt(client.identity(), org, private) {
            return Err(listing::doubt_error(&doubt, client.identity(), purpose));
        }
    }
    Ok(())
}

/// Which of `missing` (repositories the listing of `org` lacks) exist all the same: each is read
/// by name (`GET /v2/namespaces/{org}/repositories/{repo}`, bounded concurrency); a 200 means the
/// listing left it out, a 404 that it is absent, anything else is an error. Sorted.
pub(crate) async fn hidden_repositories<'a>(
    client: &HubClient,
    org: &str,
    missing: impl IntoIterator<Item = &'a String>,
) -> Result<Vec<String>, HubError> {
    let conc = client.inner().config.concurrency.max(1);
    let found: Vec<Option<String>> = stream::iter(missing)
        .map(|name| async move {
            let url = client.url(&["v2", "namespaces", org, "repositories", name], false)?;
            let reply = client.send(Method::GET, &url, None).await?;
            if reply.status == StatusCode::NOT_FOUND {
                Ok::<_, HubError>(None)
            } else if reply.status.is_success() {
                Ok(Some(name.clone()))
            } else {
                Err(error_of(&Method::GET, &url, &reply))
            }
        })
        .buffer_unordered(conc)
        .try_collect()
        .await?;
    let mut hidden: Vec<String> = found.into_iter().flatten().collect();
    hidden.sort();
    Ok(hidden)
}
