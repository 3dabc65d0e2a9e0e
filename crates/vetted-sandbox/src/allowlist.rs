//! The Image Access Management repository allowlist, as vetted guesses Docker Hub serves it.
//! unconfirmed: Docker's Terraform provider lists, adds and removes allowlist entries (each listed
//! entry has `repository_name`, `namespace/name`), but its HTTP paths are in no source vetted has;
//! this serves the same guess as src/hub/access_settings.rs (`allowlist`):
//! `GET /v2/orgs/{org}/settings/repository-allowlist` (a `{count, next, previous, results}` page of
//! `{repository_name}`), `POST` with `{repositories: [...]}` to add, `DELETE` with the same body to
//! remove. Members may read it; only an owner signed in with a password may change it, as for the
//! other organization settings. At most [`MAX`] entries.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, App, Caller, JsonBody, can_read_org, paginate, reply, require_org};
use super::org_settings::can_change_settings;

/// The most entries the sandbox keeps (unconfirmed: Docker documents no limit).
pub const MAX: usize = 1_000;

#[derive(Deserialize)]
struct Body {
    repositories: Option<Vec<String>>,
}

/// `namespace/name`, each part `[a-z0-9]+` runs separated by `.`, `_`, `__` or `-`.
fn valid(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 255
            && p.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && p.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    matches!(name.split_once('/'), Some((ns, repo)) if part(ns) && part(repo) && !repo.contains('/'))
}

fn names(body: JsonBody) -> Result<Vec<String>, ApiError> {
    let req: Body = body.parse()?;
    let list = req
        .repositories
        .ok_or_else(|| ApiError::invalid("repositories", "repositories is required"))?;
    if list.is_empty() || list.len() > MAX {
        return Err(ApiError::invalid(
            "repositories",
            format!("list 1 to {MAX} repositories"),
        ));
    }
    for n in &list {
        if !valid(n) {
            return Err(ApiError::invalid(
                "repositories",
                format!("invalid repository {:?}: expected namespace/name", n),
            ));
        }
    }
    Ok(list)
}

/// `GET /v2/orgs/{org}/settings/repository-allowlist`
pub async fn list(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let items: Vec<Value> = app.read(|hub| {
        require_org(hub, &org)?;
        can_read_org(hub, &p)?;
        Ok::<_, ApiError>(
            hub.allowlist
                .iter()
                .map(|r| json!({ "repository_name": r }))
                .collect(),
        )
    })?;
    Ok(reply(StatusCode::OK, paginate(&app, &uri, items, 10)?))
}

/// `POST /v2/orgs/{org}/settings/repository-allowlist` {repositories}: adds; 409 when every one is
/// listed already.
pub async fn add(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let list = names(body)?;
    app.write(|hub| {
        require_org(hub, &org)?;
        can_change_settings(hub, &p)?;
        let new: Vec<&String> = list
            .iter()
            .filter(|n| !hub.allowlist.contains(*n))
            .collect();
        if new.is_empty() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "repository already in the allowlist",
            ));
        }
        if hub.allowlist.len() + new.len() > MAX {
            return Err(ApiError::invalid(
                "repositories",
                format!("the allowlist holds at most {MAX} repositories"),
            ));
        }
        let new: Vec<String> = new.into_iter().cloned().collect();
        hub.allowlist.extend(new);
        Ok(())
    })?;
    Ok(reply(StatusCode::CREATED, json!({ "repositories": list })))
}

/// `DELETE /v2/orgs/{org}/settings/repository-allowlist` {repositories}: removes; 404 when none
/// was listed.
pub async fn remove(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let list = names(body)?;
    app.write(|hub| {
        require_org(hub, &org)?;
        can_change_settings(hub, &p)?;
        let before = hub.allowlist.len();
        for n in &list {
            hub.allowlist.remove(n);
        }
        if hub.allowlist.len() == before {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "repository not in the allowlist",
            ));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
