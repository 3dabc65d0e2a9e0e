//! Organization settings: Image Access Management (`GET|PUT /v2/orgs/{org}/settings`, all three
//! `restricted_images` fields required on PUT) and Registry Access Management (undocumented,
//! `.../settings/registry-access-management`). Members may read; only an owner signed in with a
//! password may change them: personal access tokens get 403, as do organization access tokens for
//! Image Access Management (they are incompatible with it, as on Docker Hub). Registry Access
//! Management is open to an organization access token with `scope-ram-read` / `scope-ram-write`
//! (Docker's access-token reference, since docker/docs PR 25364).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::api::{
    ApiError, App, Caller, JsonBody, PAT_NOT_ALLOWED, can_read_org, reply, require_org,
    require_scope, scope,
};
use super::auth::Principal;
use super::state::{HubState, RegistryAccess};
use crate::wire::{ImageAccess, Role};

/// Message for an organization access token trying to change settings.
pub const OAT_SETTINGS_FORBIDDEN: &str = "organization access tokens cannot change organization settings (Image Access Management needs a user with the owner role)";

pub(super) fn can_change_settings(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    match p {
        Principal::OrgToken { .. } => Err(ApiError::forbidden(OAT_SETTINGS_FORBIDDEN)),
        Principal::User { via_pat: true, .. } => Err(ApiError::forbidden(PAT_NOT_ALLOWED)),
        Principal::User { username, .. } => match hub.members.get(username) {
            Some(Role::Owner) => Ok(()),
            _ => Err(ApiError::forbidden(
                "only owners of the organization can change its settings",
            )),
        },
    }
}

/// Registry Access Management: an organization access token with `scope-ram-write`, or an owner
/// as for the other settings.
fn can_change_ram(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    match p {
        Principal::OrgToken { .. } => require_scope(p, scope::RAM_WRITE),
        _ => can_change_settings(hub, p),
    }
}

fn settings_json(ia: &ImageAccess) -> serde_json::Value {
    json!({ "restricted_images": ia })
}

/// `GET /v2/orgs/{org}/settings`
pub async fn get_settings(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let v = app.read(|hub| {
        require_org(hub, &org)?;
        can_read_org(hub, &p)?;
        Ok::<_, ApiError>(settings_json(&hub.image_access))
    })?;
    Ok(reply(StatusCode::OK, v))
}

#[derive(Deserialize)]
struct RestrictedImages {
    enabled: Option<bool>,
    allow_official_images: Option<bool>,
    allow_verified_publishers: Option<bool>,
}

#[derive(Deserialize)]
struct SettingsBody {
    restricted_images: Option<RestrictedImages>,
}

/// `PUT /v2/orgs/{org}/settings` {restricted_images: {enabled, allow_official_images,
/// allow_verified_publishers}}
pub async fn put_settings(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: SettingsBody = body.parse()?;
    let v = app.write(|hub| {
        require_org(hub, &org)?;
        can_change_settings(hub, &p)?;
        let ri = req.restricted_images.as_ref().ok_or_else(|| {
            ApiError::invalid("restricted_images", "restricted_images is required")
        })?;
        let (Some(enabled), Some(allow_official_images), Some(allow_verified_publishers)) = (
            ri.enabled,
            ri.allow_official_images,
            ri.allow_verified_publishers,
        ) else {
            return Err(ApiError::invalid(
                "restricted_images",
                "enabled, allow_official_images and allow_verified_publishers are all required",
            ));
        };
        hub.image_access = ImageAccess {
            enabled,
            allow_official_images,
            allow_verified_publishers,
        };
        Ok(settings_json(&hub.image_access))
    })?;
    Ok(reply(StatusCode::OK, v))
}

/// `GET /v2/orgs/{org}/settings/registry-access-management`
pub async fn get_ram(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let v = app.read(|hub| {
        require_org(hub, &org)?;
        can_read_org(hub, &p)?;
        require_scope(&p, scope::RAM_READ)?;
        Ok::<_, ApiError>(json!(hub.registry_access))
    })?;
    Ok(reply(StatusCode::OK, v))
}

/// `PUT /v2/orgs/{org}/settings/registry-access-management` {enabled, standard_registries,
/// custom_registries}
pub async fn put_ram(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: RegistryAccess = body.parse()?;
    for s in &req.standard_registries {
        if s.id != "DockerHub" {
            return Err(ApiError::invalid(
                "standard_registries",
                format!(
                    "unknown standard registry {:?} (expected \"DockerHub\")",
                    s.id
                ),
            ));
        }
    }
    for c in &req.custom_registries {
        if c.address.trim().is_empty() || c.address.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                "custom_registries",
                format!("invalid registry address {:?}", c.address),
            ));
        }
    }
    let v = app.write(|hub| {
        require_org(hub, &org)?;
        can_change_ram(hub, &p)?;
        hub.registry_access = req;
        Ok(json!(hub.registry_access))
    })?;
    Ok(reply(StatusCode::OK, v))
}
