//! Reading the live organization into an [`OrgState`], and the team name -> group id cache.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::error::HubError;
use super::http::error_of;
use super::{HubClient, listing};
use crate::model::{
    ImageAccess, Invite, Members, OrgState, Permission, Repository, Role, Scope, Team, Username,
};

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// At most `max` characters of remote text for a message.
fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A role as Docker Hub spells it (`Owner`, `Editor`, `Member`, any case); anything else, or none,
/// is an error naming `whom` and the value.
fn parse_role(role: Option<&str>, whom: &str, path: &str) -> Result<Role, HubError> {
    match role {
        Some(r) => Role::parse(r).ok_or_else(|| {
            shape_error(
                path,
                &format!(
                    "Docker Hub answered role {:?} for {whom}, which vetted does not know; it \
                     reads owner, editor and member, and will not plan with a role it cannot \
                     compare (please report it)",
                    truncate_chars(r, 40)
                ),
            )
        }),
        None => Err(shape_error(
            path,
            &format!("Docker Hub answered no role for {whom}"),
        )),
    }
}

fn shape_error(path: &str, what: &str) -> HubError {
    HubError::new(
        "GET",
        path,
        None,
        format!("unexpected response shape: {what}"),
    )
}

/// Reads what `scope` asks for. The sections are independent and read at once; the client's
/// request slots bound what is in flight.
pub(crate) async fn read_state(
    client: &HubClient,
    org: &str,
    scope: &Scope,
) -> Result<OrgState, HubError> {
    let mut state = OrgState::empty(org);
    let skip = |e: &HubError| scope.optional_settings && matches!(e.status(), Some(403 | 404));
    let settings = async {
        if scope.image_access {
            Ok(Some(read_settings(client, org).await?))
        } else {
            Ok::<_, HubError>(None)
        }
    };
    let allowlist = async {
        if !scope.allowlist {
            return Ok(None);
        }
        match super::access_settings::read_allowlist(client, org).await {
            Err(e) if skip(&e) => Ok(None),
            r => r.map(Some),
        }
    };
    let registry_access = async {
        if !scope.registry_access {
            return Ok(None);
        }
        match super::access_settings::read_registry_access(client, org).await {
            Err(e) if skip(&e) => Ok(None),
            r => r.map(Some),
        }
    };
    let members = async {
        if scope.members || scope.teams {
            Ok(Some(read_members(client, org).await?))
        } else {
            Ok(None)
        }
    };
    // The team list serves both the teams and the grants (group ids): read once.
    let needs_groups = scope.teams || scope.all_grants || !scope.grant_repositories.is_empty();
    let groups = async {
        if needs_groups {
            Ok(Some(list_groups(client, org).await?))
        } else {
            Ok(None)
        }
    };
    let (image_access, allowlist, registry_access, members, groups) =
        futures::try_join!(settings, allowlist, registry_access, members, groups)?;
    let group_ids: BTreeMap<String, i64> = groups
        .iter()
        .flatten()
        .map(|(n, (id, _))| (n.clone(), *id))
        .collect();
    let teams = async {
        match (&groups, scope.teams) {
            (Some(groups), true) => Ok(Some(read_teams(client, org, groups.clone()).await?)),
            _ => Ok(None),
        }
    };
    let repositories = read_repositories(client, org, scope, &group_ids);
    let (teams, (repositories, partial_grants)) = futures::try_join!(teams, repositories)?;
    state.image_access = image_access;
    state.allowlist = allowlist;
    state.registry_access = registry_access;
    state.members = members;
    state.teams = teams;
    state.repositories = repositories;
    state.partial_grants = partial_grants;
    Ok(state)
}

async fn read_settings(client: &HubClient, org: &str) -> Result<ImageAccess, HubError> {
    // The provider's form (GetOrgSettings): with the slash; the PUT goes to the slash-less path.
    let url = client.url(&["v2", "orgs", org, "settings"], true)?;
    let v = client.call(Method::GET, &url, None).await?;
    let ri = v
        .get("restricted_images")
        .ok_or_else(|| shape_error(url.path(), "no restricted_images"))?;
    let flag = |k: &str| ri.get(k).and_then(Value::as_bool).unwrap_or(false);
    Ok(ImageAccess {
        enabled: flag("enabled"),
        allow_official_images: flag("allow_official_images"),
        allow_verified_publishers: flag("allow_verified_publishers"),
    })
}

async fn read_members(client: &HubClient, org: &str) -> Result<Members, HubError> {
    let mut url = client.url(&["v2", "orgs", org, "members"], false)?;
    // Accepted members only: invitees also appear under type=all (role "Invitee"), and are read with
    // their team from the invites listing below.
    url.query_pairs_mut().append_pair("type", "member");
    let mut members = Members::default();
    for m in client.list_all(url.clone()).await? {
        // Pending invitees have no username; invites are read below.
        let Some(name) = str_field(&m, "username").filter(|s| !s.is_empty()) else {
            continue;
        };
        // An unknown role is an error, never read as `member`: a stronger (or new) role would be
        // access the plan does not show.
        let role = match str_field(&m, "role") {
            Some(r) if r.eq_ignore_ascii_case("invitee") => continue,
            r => parse_role(r, &truncate_chars(name, 100), url.path())?,
        };
        members.roles.insert(Username::new(name), role);
    }
    let url = client.url(&["v2", "orgs", org, "invites"], false)?;
    let v = client.call(Method::GET, &url, None).await?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for i in data {
        let Some(invitee) = str_field(&i, "invitee") else {
            continue;
        };
        members.invites.push(Invite {
            id: i.get("id").map(|id| {
                id.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| id.to_string())
            }),
            invitee: invitee.to_string(),
            role: parse_role(
                str_field(&i, "role"),
                &format!("the invite of {}", truncate_chars(invitee, 100)),
                url.path(),
            )?,
            team: str_field(&i, "team")
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        });
    }
    members.invites.sort();
    Ok(members)
}

/// Lists the org's groups: name -> (id, description). Refreshes the id cache.
async fn list_groups(
    client: &HubClient,
    org: &str,
) -> Result<BTreeMap<String, (i64, String)>, HubError> {
    let url = client.url(&["v2", "orgs", org, "groups"], false)?;
    let mut out = BTreeMap::new();
    for g in client.list_all(url.clone()).await? {
        let (Some(name), Some(id)) = (str_field(&g, "name"), g.get("id").and_then(Value::as_i64))
        else {
            return Err(shape_error(url.path(), "group without name or numeric id"));
        };
        out.insert(
            name.to_string(),
            (id, str_field(&g, "description").unwrap_or("").to_string()),
        );
    }
    let ids = out.iter().map(|(n, (id, _))| (n.clone(), *id)).collect();
    client
        .inner()
        .groups
        .lock()
        .await
        .insert(org.to_string(), ids);
    Ok(out)
}

/// The numeric id of team `team`; re-reads the team list once on a cache miss (teams created during
/// apply). `Ok(None)` when the team does not exist.
pub(crate) async fn group_id(
    client: &HubClient,
    org: &str,
    team: &str,
) -> Result<Option<i64>, HubError> {
    if let Some(id) = client
        .inner()
        .groups
        .lock()
        .await
        .get(org)
        .and_then(|m| m.get(team))
    {
        return Ok(Some(*id));
    }
    Ok(list_groups(client, org).await?.get(team).map(|(id, _)| *id))
}

pub(crate) async fn forget_groups(client: &HubClient, org: &str) {
    client.inner().groups.lock().await.remove(org);
}

async fn read_teams(
    client: &HubClient,
    org: &str,
    groups: BTreeMap<String, (i64, String)>,
) -> Result<BTreeMap<String, Team>, HubError> {
    let conc = client.inner().config.concurrency.max(1);
    let teams: Vec<(String, Team)> = stream::iter(groups)
        .map(|(name, (_, description))| async move {
            // The provider's form (ListOrgTeamMembers): with the slash.
            let url = client.url(&["v2", "orgs", org, "groups", &name, "members"], true)?;
            // A bare array is this listing's other known form.
            let mut members = BTreeSet::new();
            for m in client.list_all_or_array(url.clone()).await? {
                // An entry vetted cannot name is an error, never dropped: the team's access would
                // be larger than the plan shows.
                let Some(name) = str_field(&m, "username").filter(|s| !s.is_empty()) else {
                    return Err(shape_error(url.path(), "team member without username"));
                };
                members.insert(Username::new(name));
            }
            Ok::<_, HubError>((
                name,
                Team {
                    description: Some(description),
                    members,
                },
            ))
        })
        .buffer_unordered(conc)
        .try_collect()
        .await?;
    Ok(teams.into_iter().collect())
}

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

async fn read_repositories(
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
                "Docker Hub offers no grant listing per repository here, and reading each                  (repository, team) pair of {} repositories would take more than {} calls                  beyond the teams the policy grants; {purpose}, and a grant left unread would                  be missed, so vetted stops here",
                partial.len(),
                FALLBACK_PAIR_BUDGET
            ),
        ));
    }
    Ok((repos.into_iter().map(|(n, r, _)| (n, r)).collect(), partial))
}

/// Per repository, the teams the fallback reads beyond the policy's own grants there.
type Allotment = BTreeMap<String, BTreeSet<String>>;

/// The teams the per-pair fallback reads on one repository: the policy's own grants there, then
/// what the budget allotted (known once the whole listing is read), out of the teams `wanted`.
struct FallbackPairs<'a> {
    required: &'a BTreeSet<String>,
    allotment: &'a tokio::sync::watch::Receiver<Option<Arc<Allotment>>>,
    wanted: &'a BTreeSet<String>,
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

/// The digest a tag of the tag listing points at, as the registry resolves the tag (the index
/// digest of a multi-arch tag, the manifest digest of a single image); `None` when the entry has
/// none in `sha256:<64 hex>` form. Unconfirmed: that Docker Hub's listing `digest` is that digest.
/// The reference (reference/hub-api.md) lists a top-level `digest` beside the per-platform
/// `images[].digest`, Docker's OpenAPI does not list it at all; what Hub's web UI and the
/// community's tools show is the index digest there. This is the one place that relies on it:
/// [`crate::mirror`] takes a listed digest for what a mirrored tag points at (an unlisted or
/// digest-less tag is read from the registry instead), and the sandbox lists tags the same way.
pub(crate) fn listed_digest(tag: &Value) -> Option<String> {
    let d = str_field(tag, "digest")?;
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| d.to_string())
}

/// Tag name -> digest of every tag of `org/repo` (`GET /v2/namespaces/{org}/repositories/{repo}/tags`).
/// A tag without a usable digest ([`listed_digest`]) maps to an empty string.
/// At most `max_pages` pages (100 tags each) are read: a longer listing is an error.
pub(crate) async fn read_tags(
    client: &HubClient,
    org: &str,
    repo: &str,
    max_pages: usize,
) -> Result<BTreeMap<String, String>, HubError> {
    let url = client.url(
        &["v2", "namespaces", org, "repositories", repo, "tags"],
        false,
    )?;
    let mut tags = BTreeMap::new();
    for t in client.list_pages(url.clone(), max_pages, false).await? {
        let Some(name) = str_field(&t, "name") else {
            return Err(shape_error(url.path(), "tag without name"));
        };
        let digest = listed_digest(&t).unwrap_or_default();
        tags.insert(name.to_string(), digest);
    }
    Ok(tags)
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
async fn read_grants(
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
