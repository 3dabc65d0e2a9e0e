//! Performing one plan [`Change`] as Docker Hub calls.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use super::HubClient;
use super::error::HubError;
use super::http::error_of;
use super::read::{forget_groups, group_id};
use crate::plan::Change;

/// A create call: a retried POST answered 409 / "already exists" means the first attempt landed.
async fn create(client: &HubClient, url: &Url, body: &Value) -> Result<Value, HubError> {
    let reply = client.send(Method::POST, url, Some(body)).await?;
    if reply.status.is_success() {
        return Ok(reply.json());
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
        SetRole { user, new, .. } => {
            let url = c.url(&["v2", "orgs", org, "members", user.as_str()], false)?;
            c.call(Method::PUT, &url, Some(&json!({"role": new.as_str()})))
                .await?;
        }
        RemoveMember { user, .. } => {
            let url = c.url(&["v2", "orgs", org, "members", user.as_str()], false)?;
            c.call(Method::DELETE, &url, None).await?;
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
            let reply = create(c, &url, &body).await?;
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
            c.call(Method::DELETE, &url, None).await?;
        }
        CreateTeam { team, description } => {
            let url = c.url(&["v2", "orgs", org, "groups"], false)?;
            create(c, &url, &json!({"name": team, "description": description})).await?;
            forget_groups(c, org).await;
        }
        UpdateTeam { team, description } => {
            let url = c.url(&["v2", "orgs", org, "groups", team], false)?;
            c.call(
                Method::PATCH,
                &url,
                Some(&json!({"description": description.new})),
            )
            .await?;
        }
        DeleteTeam { team } => {
            let url = c.url(&["v2", "orgs", org, "groups", team], false)?;
            c.call(Method::DELETE, &url, None).await?;
            forget_groups(c, org).await;
        }
        AddTeamMember { team, user } => {
            let url = c.url(&["v2", "orgs", org, "groups", team, "members"], false)?;
            create(c, &url, &json!({"member": user.as_str()})).await?;
        }
        RemoveTeamMember { team, user } => {
            let url = c.url(
                &["v2", "orgs", org, "groups", team, "members", user.as_str()],
                false,
            )?;
            c.call(Method::DELETE, &url, None).await?;
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
            create(c, &url, &body).await?;
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
            c.call(Method::DELETE, &url, None).await?;
        }
        Grant {
            repository,
            team,
            permission,
        } => {
            let id = team_id(c, org, team).await?;
            let url = c.url(&["v2", "repositories", org, repository, "groups"], false)?;
            create(
                c,
                &url,
                &json!({"group_id": id, "permission": permission.as_str()}),
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
            c.call(Method::DELETE, &url, None).await?;
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
