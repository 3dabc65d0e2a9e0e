//! Repository endpoints: list/create/get/head in a namespace, tags, the undocumented PATCH, privacy
//! and DELETE under `/v2/repositories/{ns}/{repo}/`, the legacy listings and read, and team
//! permissions (grants) on a repository. Enforces Docker Hub's name and description rules, visibility
//! of private repositories, that a team must exist before it is granted access, and what an
//! organization access token's scopes allow (the legacy GETs refuse it; without
//! `scope-repository-list` the listing leaves private repositories out).
//!
//! The grant endpoints are in src/repos/grants.rs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{
    ApiError, App, Caller, JsonBody, can_edit_repos, can_manage_grants, can_read_org, has_scope,
    paginate, query_param, refuse_org_token, reply, require_org, require_scope, role_of, scope,
};
use super::auth::Principal;
use super::state::{self, HubState, RepoState, TagImage, TagState};
use crate::wire::{Permission, Role};

mod grants;
pub use grants::{create_grant, delete_grant, get_grant, list_grants, update_grant};

/// The caller's effective permission on a repository (`None`: cannot see it).
fn access(hub: &HubState, repo: &RepoState, caller: Option<&Principal>) -> Option<Permission> {
    let role = caller.and_then(|p| role_of(hub, p));
    if matches!(role, Some(Role::Owner | Role::Editor)) {
        return Some(Permission::Admin);
    }
    let granted = match (role, caller) {
        (Some(_), Some(Principal::User { username, .. })) => hub.team_grant(repo, username),
        _ => None,
    };
    match (granted, repo.is_private) {
        (Some(p), _) => Some(p),
        (None, false) => Some(Permission::Read),
        (None, true) => None,
    }
}

fn info(hub: &HubState, name: &str, r: &RepoState, perm: Permission) -> Value {
    json!({
        "user": hub.org,
        "name": name,
        "namespace": hub.org,
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": r.description,
        "is_private": r.is_private,
        "is_automated": false,
        "star_count": 0,
        "pull_count": 0,
        "last_updated": r.last_updated,
        "last_modified": r.last_updated,
        "date_registered": r.date_registered,
        "collaborator_count": 0,
        "affiliation": null,
        "hub_user": hub.org,
        "has_starred": false,
        "full_description": r.full_description,
        "permissions": {
            "read": true,
            "write": perm >= Permission::Write,
            "admin": perm >= Permission::Admin,
        },
        "media_types": [],
        "content_types": if r.tags.is_empty() { json!([]) } else { json!(["image"]) },
        "categories": [],
        "immutable_tags_settings": { "enabled": false, "rules": [] },
        "storage_size": 0,
        "source": null,
    })
}

fn list_entry(hub: &HubState, name: &str, r: &RepoState) -> Value {
    json!({
        "name": name,
        "namespace": hub.org,
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": r.description,
        "is_private": r.is_private,
        "star_count": 0,
        "pull_count": 0,
        "last_updated": r.last_updated,
        "last_modified": r.last_updated,
        "date_registered": r.date_registered,
        "affiliation": "",
        "media_types": [],
        "content_types": if r.tags.is_empty() { json!([]) } else { json!(["image"]) },
        "categories": [],
        "storage_size": 0,
    })
}

/// Finds a repository the caller can see (404 otherwise, as Docker Hub hides private repositories).
fn visible<'a>(
    hub: &'a HubState,
    ns: &str,
    repo: &str,
    caller: Option<&Principal>,
) -> Result<(&'a RepoState, Permission), ApiError> {
    require_org(hub, ns)?;
    let r = hub.repositories.get(repo).ok_or_else(ApiError::not_found)?;
    let perm = access(hub, r, caller).ok_or_else(ApiError::not_found)?;
    Ok((r, perm))
}

/// Whether the listing shows private repositories to this caller: an organization access token
/// needs `scope-repository-list`; without it the listing silently holds the public repositories
/// only, `count` included (Docker's access-token reference, "Listing behavior").
fn lists_private(caller: Option<&Principal>) -> bool {
    caller.is_none_or(|p| has_scope(p, scope::REPO_LIST))
}

/// An organization access token reading a private repository's metadata or tags needs one of
/// `any_of` (`scope-repository-read`, `scope-tag-read` or higher). Public repositories are readable
/// by anyone (the OpenAPI allows anonymous reads of them). Unconfirmed: Docker Hub's status for the
/// refusal (403 assumed, as for the other missing scopes).
fn read_scope(p: Option<&Principal>, r: &RepoState, any_of: &[&str]) -> Result<(), ApiError> {
    match p {
        Some(p) if r.is_private => require_scope(p, any_of),
        _ => Ok(()),
    }
}

/// `GET /v2/repositories/{ns}/` (legacy; the provider's `GetRepositories`): the namespace listing,
/// refused to every organization access token.
pub async fn legacy_list(
    app: State<Arc<App>>,
    ns: Path<String>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    refuse_org_token(caller.0.as_ref())?;
    list(app, ns, caller, uri).await
}

/// `GET /v2/users/{ns}/repositories` (legacy): refused to every organization access token; others
/// get the namespace listing. Unconfirmed: which namespaces Docker Hub answers here besides a user's
/// own (the sandbox answers its organization, as the other listings, and 404 otherwise).
pub async fn users_repositories(
    app: State<Arc<App>>,
    ns: Path<String>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    refuse_org_token(caller.0.as_ref())?;
    list(app, ns, caller, uri).await
}

/// `GET /v2/repositories/{ns}/{repo}/` (legacy; the provider's `GetRepository`): refused to every
/// organization access token.
pub async fn legacy_get_one(
    app: State<Arc<App>>,
    path: Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    refuse_org_token(caller.0.as_ref())?;
    get_one(app, path, caller).await
}

/// `GET /v2/namespaces/{ns}/repositories`
pub async fn list(
    State(app): State<Arc<App>>,
    Path(ns): Path<String>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let ordering = query_param(&uri, "ordering").unwrap_or_else(|| "name".to_string());
    let filter = query_param(&uri, "name").unwrap_or_default().to_lowercase();
    let items = app.read(|hub| -> Result<Vec<Value>, ApiError> {
        require_org(hub, &ns)?;
        let mut repos: Vec<(&String, &RepoState)> = hub
            .repositories
            .iter()
            .filter(|(n, r)| {
                n.contains(&filter)
                    && access(hub, r, caller.0.as_ref()).is_some()
                    && (!r.is_private || lists_private(caller.0.as_ref()))
            })
            .collect();
        match ordering.as_str() {
            // Every sandbox repository has 0 pulls: pull_count ordering falls back to name.
            "name" | "pull_count" | "-pull_count" => {}
            "-name" => repos.reverse(),
            "last_updated" => repos.sort_by(|a, b| a.1.last_updated.cmp(&b.1.last_updated)),
            "-last_updated" => repos.sort_by(|a, b| b.1.last_updated.cmp(&a.1.last_updated)),
            _ => {
                return Err(ApiError::invalid(
                    "ordering",
                    "Invalid ordering value. Must be one of: name, -name, last_updated, -last_updated, pull_count, -pull_count",
                ));
            }
        }
        Ok(repos.into_iter().map(|(n, r)| list_entry(hub, n, r)).collect())
    })?;
    Ok(reply(StatusCode::OK, paginate(&app, &uri, items, 10)?))
}

#[derive(Deserialize)]
struct CreateRepo {
    name: String,
    /// Optional: the URL names the namespace (Docker's provider sends none).
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    full_description: Option<String>,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    registry: Option<String>,
}

/// `POST /v2/namespaces/{ns}/repositories`
pub async fn create(
    State(app): State<Arc<App>>,
    Path(ns): Path<String>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: CreateRepo = body.parse()?;
    let out = app.write(|hub| {
        require_org(hub, &ns)?;
        can_edit_repos(hub, &p)?;
        require_scope(&p, scope::REPO_CREATE)?;
        if let Some(body_ns) = req.namespace.as_deref() {
            if !body_ns.eq_ignore_ascii_case(&ns) {
                return Err(ApiError::invalid(
                    "namespace",
                    format!("namespace {body_ns:?} does not match the URL's {ns:?}"),
                ));
            }
        }
        state::check_repo_name(&req.name).map_err(|e| ApiError::invalid("name", e))?;
        let description = req.description.clone().unwrap_or_default();
        state::check_description(&description).map_err(|e| ApiError::invalid("description", e))?;
        let full = req.full_description.clone().unwrap_or_default();
        state::check_full_description(&full)
            .map_err(|e| ApiError::invalid("full_description", e))?;
        if let Some(reg) = &req.registry {
            if reg != "docker.io" {
                return Err(ApiError::invalid(
                    "registry",
                    format!("unknown registry {reg:?} (expected \"docker.io\")"),
                ));
            }
        }
        // Unconfirmed: the status Docker Hub uses for a duplicate name (400 assumed, as for the other
        // validation failures of this endpoint).
        if hub.repositories.contains_key(&req.name) {
            return Err(ApiError::invalid(
                "name",
                "Repository with this Name and Namespace already exists.",
            ));
        }
        let now = state::now_rfc3339();
        let r = RepoState {
            description,
            full_description: full,
            is_private: req.is_private,
            date_registered: now.clone(),
            last_updated: now,
            grants: BTreeMap::new(),
            tags: BTreeMap::new(),
        };
        let v = info(hub, &req.name, &r, Permission::Admin);
        hub.repositories.insert(req.name.clone(), r);
        Ok(v)
    })?;
    Ok(reply(StatusCode::CREATED, out))
}

/// `GET|HEAD /v2/namespaces/{ns}/repositories/{repo}`
pub async fn get_one(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let v = app.read(|hub| {
        let (r, perm) = visible(hub, &ns, &repo, caller.0.as_ref())?;
        read_scope(caller.0.as_ref(), r, scope::REPO_READ)?;
        Ok::<_, ApiError>(info(hub, &repo, r, perm))
    })?;
    Ok(reply(StatusCode::OK, v))
}

fn tag_json(hub: &HubState, name: &str, t: &TagState) -> Value {
    let images: Vec<Value> = t
        .images
        .iter()
        .map(|i| {
            let mut img = json!({
                "architecture": i.architecture,
                "os": i.os,
                "digest": i.digest,
                "size": i.size,
                "status": "active",
                "last_pulled": null,
                "last_pushed": t.last_updated,
            });
            if let (Some(v), Some(obj)) = (&i.variant, img.as_object_mut()) {
                obj.insert("variant".into(), json!(v));
            }
            img
        })
        .collect();
    json!({
        "id": t.id,
        "name": name,
        "digest": t.digest,
        "images": images,
        "full_size": t.images.iter().map(|i| i.size).sum::<u64>(),
        "last_updated": t.last_updated,
        "last_updater_username": hub.org,
        "status": "active",
        "tag_status": "active",
        "tag_last_pulled": null,
        "tag_last_pushed": t.last_updated,
        "media_type": "application/vnd.oci.image.index.v1+json",
        "content_type": "image",
    })
}

/// A registry tag in the hub's tag shape (platform sizes are manifest sizes as the registry reports
/// them; the id is the seed's for a seeded tag, else derived from the digest).
fn registry_tag_json(
    hub: &HubState,
    r: Option<&RepoState>,
    t: &super::hubreg::RegistryTag,
) -> Value {
    let id = r
        .and_then(|r| r.tags.get(&t.name))
        .map(|s| s.id)
        .unwrap_or_else(|| {
            let hex = t.digest.trim_start_matches("sha256:");
            u64::from_str_radix(hex.get(..12).unwrap_or("0"), 16).unwrap_or(0)
        });
    let state = TagState {
        id,
        digest: t.digest.clone(),
        images: t
            .children
            .iter()
            .map(|(os, arch, variant, digest, size)| TagImage {
                os: os.clone(),
                architecture: arch.clone(),
                variant: variant.clone(),
                digest: digest.clone(),
                size: *size,
            })
            .collect(),
        last_updated: r.map(|r| r.last_updated.clone()).unwrap_or_default(),
    };
    let mut v = tag_json(hub, &t.name, &state);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("media_type".into(), json!(t.media_type));
    }
    v
}

fn registry_error(e: anyhow::Error) -> ApiError {
    ApiError::internal(format!("the sandbox registry could not be read: {e:#}"))
}

/// `GET|HEAD /v2/namespaces/{ns}/repositories/{repo}/tags`: from the registry when one runs, else
/// the seed's tags. Another namespace than the organization's (a community publisher's, as
/// `docker.io/publisher/app` sources are in the sandbox) is listed from the registry to anyone,
/// as Docker Hub lists public repositories; 404 when the registry has no tag there.
pub async fn tags(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    if let Some(link) = app.registry() {
        let community = app.read(|hub| (!hub.is_org(&ns)).then(|| hub.clone()));
        if let Some(hub) = community {
            let name = format!("{}/{}", ns.to_lowercase(), repo);
            let listed = link.tags(&name).await.map_err(registry_error)?;
            if listed.is_empty() {
                return Err(ApiError::not_found());
            }
            let items = listed
                .iter()
                .map(|t| registry_tag_json(&hub, None, t))
                .collect();
            return Ok(reply(StatusCode::OK, paginate(&app, &uri, items, 10)?));
        }
    }
    let (items, snapshot) = app.read(|hub| {
        let (r, _) = visible(hub, &ns, &repo, caller.0.as_ref())?;
        read_scope(caller.0.as_ref(), r, scope::TAG_READ)?;
        Ok::<_, ApiError>((
            r.tags
                .iter()
                .map(|(name, t)| tag_json(hub, name, t))
                .collect::<Vec<_>>(),
            (hub.clone(), r.clone()),
        ))
    })?;
    let items = match app.registry() {
        Some(link) => {
            let (hub, r) = snapshot;
            let name = format!("{}/{}", hub.org.to_lowercase(), repo);
            link.tags(&name)
                .await
                .map_err(registry_error)?
                .iter()
                .map(|t| registry_tag_json(&hub, Some(&r), t))
                .collect()
        }
        None => items,
    };
    Ok(reply(StatusCode::OK, paginate(&app, &uri, items, 10)?))
}

/// `GET|HEAD /v2/namespaces/{ns}/repositories/{repo}/tags/{tag}`
pub async fn tag(
    State(app): State<Arc<App>>,
    Path((ns, repo, tag)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (hub, r) = app.read(|hub| {
        let (r, _) = visible(hub, &ns, &repo, caller.0.as_ref())?;
        read_scope(caller.0.as_ref(), r, scope::TAG_READ)?;
        Ok::<_, ApiError>((hub.clone(), r.clone()))
    })?;
    let v = match app.registry() {
        Some(link) => {
            let name = format!("{}/{}", hub.org.to_lowercase(), repo);
            let t = link
                .tag(&name, &tag)
                .await
                .map_err(registry_error)?
                .ok_or_else(ApiError::not_found)?;
            registry_tag_json(&hub, Some(&r), &t)
        }
        None => {
            let t = r.tags.get(&tag).ok_or_else(ApiError::not_found)?;
            tag_json(&hub, &tag, t)
        }
    };
    Ok(reply(StatusCode::OK, v))
}

#[derive(Deserialize)]
struct UpdateRepo {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    full_description: Option<String>,
}

/// `PATCH /v2/repositories/{ns}/{repo}/` (undocumented): description and full_description.
pub async fn update(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: UpdateRepo = body.parse()?;
    let v = app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_edit_repos(hub, &p)?;
        require_scope(&p, scope::REPO_EDIT)?;
        if let Some(d) = &req.description {
            state::check_description(d).map_err(|e| ApiError::invalid("description", e))?;
        }
        if let Some(d) = &req.full_description {
            state::check_full_description(d)
                .map_err(|e| ApiError::invalid("full_description", e))?;
        }
        let r = hub
            .repositories
            .get_mut(&repo)
            .ok_or_else(ApiError::not_found)?;
        if let Some(d) = req.description {
            r.description = d;
        }
        if let Some(d) = req.full_description {
            r.full_description = d;
        }
        r.last_updated = state::now_rfc3339();
        let r = r.clone();
        Ok(info(hub, &repo, &r, Permission::Admin))
    })?;
    Ok(reply(StatusCode::OK, v))
}

#[derive(Deserialize)]
struct Privacy {
    is_private: bool,
}

/// `POST /v2/repositories/{ns}/{repo}/privacy` (undocumented)
pub async fn privacy(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: Privacy = body.parse()?;
    let v = app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_edit_repos(hub, &p)?;
        require_scope(&p, scope::REPO_EDIT)?;
        let r = hub
            .repositories
            .get_mut(&repo)
            .ok_or_else(ApiError::not_found)?;
        r.is_private = req.is_private;
        r.last_updated = state::now_rfc3339();
        let r = r.clone();
        Ok(info(hub, &repo, &r, Permission::Admin))
    })?;
    Ok(reply(StatusCode::OK, v))
}

/// `DELETE /v2/repositories/{ns}/{repo}/` (undocumented): 202 Accepted (unconfirmed: Docker's
/// Terraform provider accepts any 2xx here).
pub async fn delete(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let org = app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_edit_repos(hub, &p)?;
        require_scope(&p, scope::REPO_ADMIN)?;
        hub.repositories.remove(&repo);
        Ok(hub.org.to_lowercase())
    })?;
    // Best effort: the hub's answer does not depend on the registry cleanup.
    if let Some(link) = app.registry() {
        let name = format!("{org}/{repo}");
        if let Err(e) = link.delete_repository(&name).await {
            tracing::warn!("deleting {name} in the sandbox registry failed: {e:#}");
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/` (undocumented; what Docker Hub's web UI
/// deletes a tag with): removes one tag, 204. With the registry running, the tag goes there (see
/// [`RegistryLink::delete_tag`](super::hubreg::RegistryLink::delete_tag)); else from the seed's tags.
pub async fn delete_tag(
    State(app): State<Arc<App>>,
    Path((ns, repo, tag)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let (org, seeded) = app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_edit_repos(hub, &p)?;
        require_scope(&p, scope::TAG_ADMIN)?;
        let r = hub
            .repositories
            .get_mut(&repo)
            .ok_or_else(ApiError::not_found)?;
        let seeded = r.tags.remove(&tag).is_some();
        Ok((hub.org.to_lowercase(), seeded))
    })?;
    let found = match app.registry() {
        Some(link) => link
            .delete_tag(&format!("{org}/{repo}"), &tag)
            .await
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, format!("{e:#}")))?,
        None => seeded,
    };
    if !found {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
