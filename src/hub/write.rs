//! Performing one plan [`Change`] as Docker Hub calls, in the path forms Docker's Terraform provider
//! uses against Docker Hub (trailing slash or not, per call: docs/docker-hub.md). A create counts as
//! done only when its answer has the created object's shape; a DELETE answered 404 is done (already
//! gone, as the provider treats it).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use super::access_settings;
use super::error::HubError;
use super::http::error_of;
use super::read::{forget_groups, group_id};
use super::{HubClient, listing};
use crate::plan::Change;

/// What a create's answer must look like.
enum Created<'a> {
    /// A team: `{id: integer, name}` with the requested name.
    Team(&'a str),
    /// A grant: `{group_id: integer, permission}` with the requested group and permission.
    Grant(i64, &'a str),
    /// A team member: empty, or an object (the sandbox answers the user) naming the user when it
    /// names one.
    Member(&'a str),
    /// A repository: `{name}` with the requested name.
    Repository(&'a str),
    /// The bulk invite: `{invitees: [...]}`.
    Invites,
}

/// Checks a create's 2xx answer; an answer of another shape (a listing, an empty or non-JSON body
/// where an object is due) means the create did not happen as asked.
fn check_created(url: &Url, answer: &Value, want: &Created<'_>) -> Result<(), HubError> {
    let s = |k: &str| answer.get(k).and_then(Value::as_str);
    // The provider reads nothing from a member add, so an empty answer is allowed there; every
    // other create's answer is decoded by the provider as the created object.
    let empty_ok = matches!(want, Created::Member(_)) && answer.is_null();
    let ok = empty_ok
        || answer.is_object()
            && answer.get("results").is_none()
            && match want {
                Created::Team(name) => {
                    answer.get("id").is_some_and(Value::is_i64)
                        && s("name").is_some_and(|n| n.eq_ignore_ascii_case(name))
                }
                Created::Grant(id, perm) => {
                    answer.get("group_id").and_then(Value::as_i64) == Some(*id)
                        && s("permission").is_some_and(|p| p.eq_ignore_ascii_case(perm))
                }
                Created::Member(user) => s("username").is_none_or(|u| u.eq_ignore_ascii_case(user)),
                Created::Repository(name) => {
                    s("name").is_some_and(|n| n.eq_ignore_ascii_case(name))
                }
                Created::Invites => answer.get("invitees").is_some_and(Value::is_array),
            };
    if ok {
        return Ok(());
    }
    let what = match want {
        Created::Team(name) => format!("a team {{id, name: {name:?}}}"),
        Created::Grant(id, perm) => format!("a grant {{group_id: {id}, permission: {perm:?}}}"),
        Created::Member(user) => format!("the added member {user:?}"),
        Created::Repository(name) => format!("a repository {{name: {name:?}}}"),
        Created::Invites => "{invitees: [...]}".to_string(),
    };
    let got = match answer {
        Value::Null => "an empty or non-JSON body".to_string(),
        Value::Object(o) if o.contains_key("results") => "a listing".to_string(),
        Value::Object(o) => {
            let keys: Vec<&str> = o.keys().take(8).map(String::as_str).collect();
            format!("an object with fields {}", keys.join(", "))
        }
        Value::Array(_) => "a list".to_string(),
        _ => "a JSON scalar".to_string(),
    };
    Err(HubError::new(
        "POST",
        url.path(),
        None,
        format!(
            "Docker Hub answered success but not with {what} (got {got}); the change may not have \
             happened: run `vetted plan` to check"
        ),
    ))
}

/// A create call: the answer must have the created object's shape; a retried POST answered 409 /
/// "already exists" means the first attempt landed.
async fn create(
    client: &HubClient,
    url: &Url,
    body: &Value,
    want: Created<'_>,
) -> Result<Value, HubError> {
    let reply = client.send(Method::POST, url, Some(body)).await?;
    if reply.status.is_success() {
        let v = reply.json();
        check_created(url, &v, &want)?;
        return Ok(v);
    }
    let exists = reply.status == StatusCode::CONFLICT
        || String::from_utf8_lossy(&reply.body)
            .to_ascii_lowercase()
            .contains("already exists");
    if reply.retried && exists {
        return Ok(Value::Null);
    }
    Err(error_of(&Method::POST, url, &reply))
}

/// A DELETE: 404 means already gone, which is what was asked.
async fn delete(client: &HubClient, url: &Url) -> Result<(), HubError> {
    let reply = client.send(Method::DELETE, url, None).await?;
    if reply.status.is_success() || reply.status == StatusCode::NOT_FOUND {
        return Ok(());
    }
    Err(error_of(&Method::DELETE, url, &reply))
}

async fn team_id(client: &HubClient, org: &str, team: &str) -> Result<i64, HubError> {
    match group_id(client, org, team).await? {
        Some(id) => Ok(id),
        None => Err(HubError::new(
            "GET",
            &format!("/v2/orgs/{org}/groups"),
            None,
            format!("team {team:?} does not exist in {org}"),
        )),
    }
}

pub(crate) async fn execute(
    client: &HubClient,
    org: &str,
    change: &Change,
) -> Result<(), HubError> {
    use Change::*;
    let c = client;
    match change {
        SetImageAccess { new, .. } => {
            let url = c.url(&["v2", "orgs", org, "settings"], false)?;
            let body = json!({"restricted_images": {
                "enabled": new.enabled,
                "allow_official_images": new.allow_official_images,
                "allow_verified_publishers": new.allow_verified_publishers,
            }});
            c.call(Method::PUT, &url, Some(&body)).await?;
        }
        SetRegistryAccess { new, .. } => {
            let url = c.url(&access_settings::ram_segments(org), false)?;
            c.call(Method::PUT, &url, Some(&access_settings::ram_body(new)))
                .await?;
        }
        AllowRepository { repository } => {
            access_settings::allow(c, org, repository).await?;
        }
        DisallowRepository { repository } => {
            access_settings::disallow(c, org, repository).await?;
        }
        SetRole { user, new, .. } => {
            let url = c.url(&["v2", "orgs", org, "members", user.as_str()], true)?;
            c.call(Method::PUT, &url, Some(&json!({"role": new.as_str()})))
                .await?;
        }
        RemoveMember { user, .. } => {
            let url = c.url(&["v2", "orgs", org, "members", user.as_str()], true)?;
            delete(c, &url).await?;
        }
        Invite {
            invitee,
            role,
            team,
        } => {
            let url = c.url(&["v2", "invites", "bulk"], false)?;
            let mut body =
                json!({"org": org, "role": role.as_str(), "invitees": [invitee.as_str()]});
            if let Some(t) = team {
                body["team"] = json!(t);
            }
            let reply = create(c, &url, &body, Created::Invites).await?;
            let statuses = reply
                .get("invitees")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for s in statuses {
                if s.get("status").and_then(Value::as_str) == Some("invalid_email_or_docker_id") {
                    return Err(HubError::new(
                        "POST",
                        url.path(),
                        Some(202),
                        format!(
                            "{invitee} is neither a Docker ID nor an email address (invalid_email_or_docker_id)"
                        ),
                    ));
                }
            }
        }
        CancelInvite { id, .. } => {
            let url = c.url(&["v2", "invites", id], false)?;
            delete(c, &url).await?;
        }
        CreateTeam { team, description } => {
            let url = c.url(&["v2", "orgs", org, "groups"], true)?;
            create(
                c,
                &url,
                &json!({"name": team, "description": description}),
                Created::Team(team),
            )
            .await?;
            forget_groups(c, org).await;
        }
        UpdateTeam { team, description } => {
            let url = c.url(&["v2", "orgs", org, "groups", team], true)?;
            c.call(
                Method::PATCH,
                &url,
                Some(&json!({"description": description.new})),
            )
            .await?;
        }
        DeleteTeam { team } => {
            let url = c.url(&["v2", "orgs", org, "groups", team], true)?;
            delete(c, &url).await?;
            forget_groups(c, org).await;
        }
        AddTeamMember { team, user } => {
            let url = c.url(&["v2", "orgs", org, "groups", team, "members"], true)?;
            create(
                c,
                &url,
                &json!({"member": user.as_str()}),
                Created::Member(user.as_str()),
            )
            .await?;
        }
        RemoveTeamMember { team, user } => {
            let url = c.url(
                &["v2", "orgs", org, "groups", team, "members", user.as_str()],
                false,
            )?;
            delete(c, &url).await?;
        }
        CreateRepository { repository, fields } => {
            let url = c.url(&["v2", "namespaces", org, "repositories"], false)?;
            let body = json!({
                "name": repository,
                "namespace": org,
                "description": fields.description,
                "full_description": fields.full_description,
                "registry": "docker.io",
                "is_private": fields.private,
            });
            // Planned from a listing that lacked it: "already exists" on the first attempt means
            // the listing was partial (an organization access token without
            // scope-repository-list, or a plan made with other credentials).
            match create(c, &url, &body, Created::Repository(repository)).await {
                Err(e) if e.says_already_exists() => {
                    return Err(listing::create_exists_error(org, c.identity(), repository));
                }
                other => {
                    other?;
                }
            }
        }
        UpdateRepository {
            repository,
            private,
            description,
            full_description,
        } => {
            if description.is_some() || full_description.is_some() {
                let url = c.url(&["v2", "repositories", org, repository], true)?;
                let mut body = serde_json::Map::new();
                if let Some(d) = description {
                    body.insert("description".into(), json!(d.new));
                }
                if let Some(d) = full_description {
                    body.insert("full_description".into(), json!(d.new));
                }
                c.call(Method::PATCH, &url, Some(&Value::Object(body)))
                    .await?;
            }
            if let Some(p) = private {
                let url = c.url(&["v2", "repositories", org, repository, "privacy"], false)?;
                // Setting privacy is idempotent, so a retried POST is harmless.
                c.call(Method::POST, &url, Some(&json!({"is_private": p.new})))
                    .await?;
            }
        }
        DeleteRepository { repository } => {
            let url = c.url(&["v2", "repositories", org, repository], true)?;
            delete(c, &url).await?;
        }
        Grant {
            repository,
            team,
            permission,
        } => {
            let id = team_id(c, org, team).await?;
            let url = c.url(&["v2", "repositories", org, repository, "groups"], true)?;
            create(
                c,
                &url,
                &json!({"group_id": id, "permission": permission.as_str()}),
                Created::Grant(id, permission.as_str()),
            )
            .await?;
        }
        UpdateGrant {
            repository,
            team,
            permission,
        } => {
            let url = grant_url(c, org, repository, team).await?;
            c.call(
                Method::PATCH,
                &url,
                Some(&json!({"permission": permission.new.as_str()})),
            )
            .await?;
        }
        Revoke {
            repository, team, ..
        } => {
            let url = grant_url(c, org, repository, team).await?;
            delete(c, &url).await?;
        }
        DeleteTag {
            repository, tag, ..
        } => {
            let url = c.url(&["v2", "repositories", org, repository, "tags", tag], true)?;
            c.call(Method::DELETE, &url, None).await?;
        }
        CopyImage {
            repository, tag, ..
        } => {
            // Images go through the registry, not the hub API: apply routes them to the copy engine.
            return Err(HubError::new(
                "COPY",
                &format!("{org}/{repository}:{tag}"),
                None,
                "images are copied through the registry, not the Docker Hub API".to_string(),
            ));
        }
    }
    Ok(())
}

/// `/v2/repositories/{ns}/{repo}/groups/{group_id}/` for a team named in the policy.
async fn grant_url(
    c: &HubClient,
    org: &str,
    repository: &str,
    team: &str,
) -> Result<Url, HubError> {
    let id = team_id(c, org, team).await?;
    c.url(
        &[
            "v2",
            "repositories",
            org,
            repository,
            "groups",
            &id.to_string(),
        ],
        true,
    )
}
