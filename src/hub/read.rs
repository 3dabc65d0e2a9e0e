//! Reading the live organization into an [`OrgState`], and the team name -> group id cache. This
//! file owns the whole read ([`read_state`]), the organization's settings, members, teams and a
//! repository's tags; the repository listing and each repository's reads are in `repositories`,
//! the team grants and their per-(repository, team) fallback in `grants`.

mod grants;
mod repositories;

#[cfg(test)]
pub(crate) use grants::fallback_allotment;
use repositories::read_repositories;
pub(crate) use repositories::{hidden_repositories, repository_listing_doubt};

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde_json::Value;

use super::HubClient;
use super::error::HubError;
use crate::model::{ImageAccess, Invite, Members, OrgState, Role, Scope, Team, Username};

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
            (Some(groups), true) => {
                let mut groups = groups.clone();
                if let Some(only) = &scope.teams_only {
                    groups.retain(|name, _| only.contains(name));
                }
                Ok(Some(read_teams(client, org, groups).await?))
            }
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
