//! Who may pull what from outside the organization: the Image Access Management repository
//! allowlist and Registry Access Management. Owns their Docker Hub paths, the JSON shapes read and
//! sent, and the reads; the writes are in src/hub/write.rs and build their bodies here.
//!
//! Registry Access Management: `GET|PUT /v2/orgs/{org}/settings/registry-access-management`, no
//! trailing slash, body `{enabled, standard_registries: [{id: "DockerHub", allowed}],
//! custom_registries: [{address, friendly_name, allowed}]}`, as Docker's Terraform provider sends it
//! (`internal/hubclient/client_organization.go`). Absent from Docker's OpenAPI.
//!
//! The repository allowlist: Docker's provider manages it (`docker_org_setting_image_access_allowlist`)
//! with three hub-client calls, list, add (a set of `namespace/name`) and remove (a set), whose listed
//! items carry `repository_name`; the HTTP paths and request bodies behind those calls are in no
//! source available here. unconfirmed: the paths and bodies in [`allowlist`] are a guess, isolated
//! in that one place (docs/docker-hub.md says so, and the sandbox serves the same guess).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use super::HubClient;
use super::error::HubError;
use super::http::error_of;
use crate::model::{CustomRegistry, RegistryAccess};
use crate::policy::rules;

/// unconfirmed: every allowlist path and body shape vetted uses. Change them here only.
pub(crate) mod allowlist {
    /// `GET` lists `{count, next, results: [{repository_name}]}`; `POST` adds
    /// `{repositories: ["ns/name", ...]}`; `DELETE` removes `{repositories: [...]}`. No trailing
    /// slash.
    pub fn segments(org: &str) -> [&str; 5] {
        ["v2", "orgs", org, "settings", "repository-allowlist"]
    }
    /// The field of a listed item that names the repository (the provider's `RepositoryName`).
    pub const ITEM_FIELD: &str = "repository_name";
    /// The field of an add or remove body that lists repositories.
    pub const BODY_FIELD: &str = "repositories";
}

/// The Registry Access Management path segments (no trailing slash, the provider's form).
pub(crate) fn ram_segments(org: &str) -> [&str; 5] {
    ["v2", "orgs", org, "settings", "registry-access-management"]
}

/// The id Docker Hub gives its own standard registry.
pub(crate) const DOCKER_HUB_ID: &str = "DockerHub";

fn shape_error(path: &str, what: &str) -> HubError {
    HubError::new(
        "GET",
        path,
        None,
        format!("unexpected response shape: {what}"),
    )
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The PUT body for `ra`.
pub(crate) fn ram_body(ra: &RegistryAccess) -> Value {
    let custom: Vec<Value> = ra
        .custom
        .iter()
        .map(|c| json!({"address": c.address, "friendly_name": c.friendly_name, "allowed": c.allowed}))
        .collect();
    json!({
        "enabled": ra.enabled,
        "standard_registries": [{"id": DOCKER_HUB_ID, "allowed": ra.docker_hub}],
        "custom_registries": custom,
    })
}

/// Reads an answer of the Registry Access Management shape. Anything vetted could not send back
/// unchanged (an unknown standard registry, a missing field) is an error: the PUT replaces the
/// whole setting, so a part vetted does not understand would be lost.
pub(crate) fn parse_ram(path: &str, v: &Value) -> Result<RegistryAccess, HubError> {
    let enabled = v
        .get("enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| shape_error(path, "no boolean `enabled`"))?;
    let standard = v
        .get("standard_registries")
        .and_then(Value::as_array)
        .ok_or_else(|| shape_error(path, "no list `standard_registries`"))?;
    let mut docker_hub = None;
    for s in standard {
        let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
        let allowed = s.get("allowed").and_then(Value::as_bool);
        match (id, allowed) {
            (DOCKER_HUB_ID, Some(a)) => docker_hub = Some(a),
            _ => {
                return Err(shape_error(
                    path,
                    &format!(
                        "standard registry {:?}, which vetted does not know (it knows \"DockerHub\"); \
                         it will not replace a setting it cannot send back (please report it)",
                        short(id)
                    ),
                ));
            }
        }
    }
    let docker_hub = docker_hub
        .ok_or_else(|| shape_error(path, "no \"DockerHub\" entry in `standard_registries`"))?;
    let list = v
        .get("custom_registries")
        .and_then(Value::as_array)
        .ok_or_else(|| shape_error(path, "no list `custom_registries`"))?;
    if list.len() > 10 * rules::CUSTOM_REGISTRIES_MAX {
        return Err(shape_error(
            path,
            &format!("{} custom registries, more than vetted reads", list.len()),
        ));
    }
    let mut custom = Vec::with_capacity(list.len());
    let mut seen = BTreeSet::new();
    for c in list {
        let address = c
            .get("address")
            .and_then(Value::as_str)
            .ok_or_else(|| shape_error(path, "a custom registry without `address`"))?
            .trim()
            .to_ascii_lowercase();
        if address.is_empty() || address.len() > 255 {
            return Err(shape_error(
                path,
                "a custom registry address of 0 or over 255 bytes",
            ));
        }
        let friendly_name = c
            .get("friendly_name")
            .and_then(Value::as_str)
            .unwrap_or(&address)
            .chars()
            .take(255)
            .collect();
        let allowed = c
            .get("allowed")
            .and_then(Value::as_bool)
            .ok_or_else(|| shape_error(path, "a custom registry without boolean `allowed`"))?;
        if !seen.insert(address.clone()) {
            return Err(shape_error(
                path,
                &format!("custom registry {:?} listed twice", short(&address)),
            ));
        }
        custom.push(CustomRegistry {
            address,
            friendly_name,
            allowed,
        });
    }
    custom.sort();
    Ok(RegistryAccess {
        enabled,
        docker_hub,
        custom,
    })
}

pub(crate) async fn read_registry_access(
    client: &HubClient,
    org: &str,
) -> Result<RegistryAccess, HubError> {
    let url = client.url(&ram_segments(org), false)?;
    let v = client.call(Method::GET, &url, None).await?;
    parse_ram(url.path(), &v)
}

pub(crate) async fn read_allowlist(
    client: &HubClient,
    org: &str,
) -> Result<BTreeSet<String>, HubError> {
    let url = client.url(&allowlist::segments(org), false)?;
    // 100 per page; a little room over the policy's bound so a longer live list is still read.
    let pages = 2 * rules::ALLOWLIST_MAX / 100 + 1;
    let items = client.list_pages(url.clone(), pages, false).await?;
    let mut out = BTreeSet::new();
    for item in items {
        let name = item
            .get(allowlist::ITEM_FIELD)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                shape_error(
                    url.path(),
                    &format!("an allowlist entry without `{}`", allowlist::ITEM_FIELD),
                )
            })?;
        let repo = rules::docker_hub_repository(name.trim()).map_err(|why| {
            shape_error(
                url.path(),
                &format!(
                    "allowlist entry {:?} is not a Docker Hub repository ({why})",
                    short(name)
                ),
            )
        })?;
        out.insert(repo);
    }
    Ok(out)
}

/// Adds one repository; already listed (409, or "already" in the answer of a retried POST) is done.
/// The paths and bodies are a guess, so the list is read back: the write counts only when the
/// repository is then listed.
pub(crate) async fn allow(client: &HubClient, org: &str, repository: &str) -> Result<(), HubError> {
    let url = client.url(&allowlist::segments(org), false)?;
    let body = json!({ allowlist::BODY_FIELD: [repository] });
    let reply = client.send(Method::POST, &url, Some(&body)).await?;
    if !(reply.status.is_success() || reply.status == StatusCode::CONFLICT) {
        return Err(error_of(&Method::POST, &url, &reply));
    }
    confirm(client, org, &url, "POST", repository, true).await
}

/// Removes one repository; not listed (404) is done. Read back as [`allow`] is: the write counts
/// only when the repository is then gone. (Other entries are not compared: the apply's other
/// allowlist changes run beside this one.)
pub(crate) async fn disallow(
    client: &HubClient,
    org: &str,
    repository: &str,
) -> Result<(), HubError> {
    let url = client.url(&allowlist::segments(org), false)?;
    let body = json!({ allowlist::BODY_FIELD: [repository] });
    let reply = client.send(Method::DELETE, &url, Some(&body)).await?;
    if !(reply.status.is_success() || reply.status == StatusCode::NOT_FOUND) {
        return Err(error_of(&Method::DELETE, &url, &reply));
    }
    confirm(client, org, &url, "DELETE", repository, false).await
}

/// After a write, `repository` is listed (`listed`) or not, else an error.
async fn confirm(
    client: &HubClient,
    org: &str,
    url: &Url,
    method: &str,
    repository: &str,
    listed: bool,
) -> Result<(), HubError> {
    let got = read_allowlist(client, org).await?;
    if got.contains(repository) == listed {
        return Ok(());
    }
    Err(HubError::new(
        method,
        url.path(),
        None,
        format!(
            "Docker Hub answered the write, but the allowlist read back {} {repository}; \
             Docker Hub's allowlist API is unconfirmed (src/hub/access_settings.rs): please \
             report this",
            if listed {
                "does not list"
            } else {
                "still lists"
            }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_access_round_trips_and_refuses_what_it_cannot_send_back() {
        let body = json!({"enabled": true,
            "standard_registries": [{"id": "DockerHub", "allowed": false}],
            "custom_registries": [
                {"address": "Quay.io", "friendly_name": "Quay", "allowed": false},
                {"address": "ghcr.io", "friendly_name": "GitHub", "allowed": true}]});
        let ra = parse_ram("/p", &body).unwrap();
        assert!(ra.enabled && !ra.docker_hub);
        assert_eq!(ra.custom[0].address, "ghcr.io");
        assert_eq!(ra.custom[1].address, "quay.io", "lowercased");
        assert_eq!(parse_ram("/p", &ram_body(&ra)).unwrap(), ra);
        for bad in [
            json!({"enabled": true, "standard_registries": [{"id": "Other", "allowed": true}], "custom_registries": []}),
            json!({"enabled": true, "standard_registries": [], "custom_registries": []}),
            json!({"standard_registries": [{"id": "DockerHub", "allowed": true}], "custom_registries": []}),
            json!({"enabled": true, "standard_registries": [{"id": "DockerHub", "allowed": true}],
                   "custom_registries": [{"address": "a.io", "allowed": true}, {"address": "A.io", "allowed": true}]}),
        ] {
            assert!(parse_ram("/p", &bad).is_err(), "{bad}");
        }
    }
}
