//! Connects the hub state to the sandbox registry: [`HubAuthorizer`] decides registry token grants
//! from the org state (owners, team grants, public repositories, community namespaces, the internal
//! seeding identity), and [`RegistryLink`] lets the hub API read tags from and delete repositories in
//! the running registry with the internal identity (tokens minted in-process, never printed).
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::StatusCode;
use url::Url;

use super::api::{App, role_of};
use super::auth::Principal;
use super::state::HubState;
use super::token::{Access, Authorizer, TokenIssuer};
use crate::kit::images::digest_of;
use crate::kit::push::Credentials;
use crate::wire::{Permission, Role};

/// Subject of the internal seeding identity. `$` is not valid in a Docker ID or an org name, so no
/// seed account can be mistaken for it.
pub const INTERNAL_SUBJECT: &str = "$vetted-sandbox-internal";

/// Manifest media types the registry may store (sent as `Accept`).
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A fresh internal credential (random secret; Debug redacts it).
pub fn internal_credentials() -> Credentials {
    Credentials {
        user: INTERNAL_SUBJECT.to_string(),
        secret: hex::encode(rand::random::<[u8; 32]>()),
    }
}

/// The registry token [`Authorizer`] over the hub state.
pub struct HubAuthorizer {
    app: Arc<App>,
    internal: Credentials,
}

impl std::fmt::Debug for HubAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubAuthorizer")
            .field("internal", &self.internal)
            .finish()
    }
}

impl HubAuthorizer {
    pub fn new(app: Arc<App>, internal: Credentials) -> Self {
        HubAuthorizer { app, internal }
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The principal a token subject stands for: an org name is the org's access token, anything
/// else a user.
fn principal_of(hub: &HubState, subject: &str) -> Principal {
    if hub.is_org(subject) {
        Principal::OrgToken {
            org: hub.org.to_lowercase(),
            scopes: None,
        }
    } else {
        Principal::User {
            username: subject.to_string(),
            via_pat: false,
        }
    }
}

/// The registry actions `subject` (`None` = anonymous) holds on `repository` (`ns/name`).
pub fn registry_actions(hub: &HubState, subject: Option<&str>, repository: &str) -> Vec<String> {
    const PULL: &[&str] = &["pull"];
    const PULL_PUSH: &[&str] = &["pull", "push"];
    let own = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if subject == Some(INTERNAL_SUBJECT) {
        return own(PULL_PUSH);
    }
    let Some((ns, name)) = repository.split_once('/') else {
        // A single-component name (docker.io's implicit library/): community, pull only.
        return own(PULL);
    };
    if !hub.is_org(ns) {
        // As on Docker Hub, every account owns the namespace of its name: a user publishes
        // community images there (pull for everyone, push for that user only).
        let own_namespace = subject.is_some_and(|s| {
            s.eq_ignore_ascii_case(ns) && hub.users.contains_key(&ns.to_lowercase())
        });
        return own(if own_namespace { PULL_PUSH } else { PULL });
    }
    let principal = subject.map(|s| principal_of(hub, s));
    let role = principal.as_ref().and_then(|p| role_of(hub, p));
    if role == Some(Role::Owner) {
        return own(PULL_PUSH);
    }
    let Some(repo) = hub.repositories.get(name) else {
        return Vec::new();
    };
    let granted = match (&role, &principal) {
        (Some(_), Some(Principal::User { username, .. })) => hub.team_grant(repo, username),
        _ => None,
    };
    match granted {
        Some(Permission::Write | Permission::Admin) => own(PULL_PUSH),
        Some(Permission::Read) => own(PULL),
        None if !repo.is_private => own(PULL),
        None => Vec::new(),
    }
}

impl Authorizer for HubAuthorizer {
    fn authenticate(&self, user: &str, secret: &str) -> Option<String> {
        if user == INTERNAL_SUBJECT {
            return constant_time_eq(secret, &self.internal.secret)
                .then(|| INTERNAL_SUBJECT.to_string());
        }
        self.app
            .authenticate(user, secret)
            .map(|p| p.name().to_string())
    }

    fn token_scopes(&self, user: &str, secret: &str) -> Option<BTreeSet<String>> {
        match self.app.authenticate(user, secret)? {
            Principal::OrgToken { scopes, .. } => scopes,
            Principal::User { .. } => None,
        }
    }

    fn allowed(
        &self,
        subject: Option<&str>,
        repository: &str,
        requested: &[String],
    ) -> Vec<String> {
        let held = self
            .app
            .read(|hub| registry_actions(hub, subject, repository));
        requested
            .iter()
            .filter(|a| held.contains(a))
            .cloned()
            .collect()
    }
}

/// One tag as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryTag {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// Platforms of an index (os, architecture, variant, digest, size); one entry for a single
    /// manifest whose platform is unknown here.
    pub children: Vec<(String, String, Option<String>, String, u64)>,
}

/// The hub's handle on the running registry, acting as the internal identity.
pub struct RegistryLink {
    base: Url,
    issuer: Arc<TokenIssuer>,
    client: reqwest::Client,
}

impl std::fmt::Debug for RegistryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLink")
            .field("base", &self.base.as_str())
            .finish()
    }
}

impl RegistryLink {
    pub fn new(base: Url, issuer: Arc<TokenIssuer>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(RegistryLink {
            base,
            issuer,
            client,
        })
    }

    fn token(&self, repository: &str, actions: &[&str]) -> Result<String> {
        let access = vec![Access {
            kind: "repository".to_string(),
            name: repository.to_string(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
        }];
        Ok(self.issuer.issue(Some(INTERNAL_SUBJECT), access)?.token)
    }

    /// Tag names of `repository`, sorted; empty when the registry does not know it.
    pub async fn tag_names(&self, repository: &str) -> Result<BTreeSet<String>> {
        let url = self.base.join(&format!("v2/{repository}/tags/list"))?;
        let resp = self
            .client
            .get(url)
            .bearer_auth(self.token(repository, &["pull"])?)
            .query(&[("n", "10000")])
            .send()
            .await
            .context("listing tags in the sandbox registry")?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(BTreeSet::new());
        }
        if !resp.status().is_success() {
            bail!(
                "the sandbox registry answered {} to a tag list",
                resp.status()
            );
        }
        let body: serde_json::Value = resp.json().await?;
        Ok(body["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// One tag's manifest digest, media type and platforms; `None` when the tag does not exist.
    pub async fn tag(&self, repository: &str, tag: &str) -> Result<Option<RegistryTag>> {
        let token = self.token(repository, &["pull"])?;
        self.tag_with(repository, tag, &token).await
    }

    /// [`Self::tag`] with a pull token for `repository` already issued (one per listing).
    async fn tag_with(
        &self,
        repository: &str,
        tag: &str,
        token: &str,
    ) -> Result<Option<RegistryTag>> {
        let url = self
            .base
            .join(&format!("v2/{repository}/manifests/{tag}"))?;
        let resp = self
            .client
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES.join(", "))
            .send()
            .await
            .context("reading a manifest from the sandbox registry")?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            bail!(
                "the sandbox registry answered {} to a manifest read",
                resp.status()
            );
        }
        let media_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.bytes().await?;
        let digest = digest_of(&body);
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| anyhow!("manifest is not JSON: {e}"))?;
        let size = body.len() as u64;
        let children = match doc["manifests"].as_array() {
            Some(list) => list
                .iter()
                .filter(|m| {
                    m["platform"]["os"]
                        .as_str()
                        .is_some_and(|os| os != "unknown")
                })
                .map(|m| {
                    (
                        m["platform"]["os"].as_str().unwrap_or_default().to_string(),
                        m["platform"]["architecture"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        m["platform"]["variant"].as_str().map(str::to_string),
                        m["digest"].as_str().unwrap_or_default().to_string(),
                        m["size"].as_u64().unwrap_or(0),
                    )
                })
                .collect(),
            None => {
                let layers: u64 = doc["layers"]
                    .as_array()
                    .map(|l| l.iter().filter_map(|x| x["size"].as_u64()).sum())
                    .unwrap_or(0);
                vec![(
                    "linux".to_string(),
                    "amd64".to_string(),
                    None,
                    digest.clone(),
                    layers,
                )]
            }
        };
        Ok(Some(RegistryTag {
            name: tag.to_string(),
            digest,
            media_type,
            size,
            children,
        }))
    }

    /// Every tag of `repository` with its digest, sorted by name.
    pub async fn tags(&self, repository: &str) -> Result<Vec<RegistryTag>> {
        use futures::StreamExt;
        let names = self.tag_names(repository).await?;
        let token = self.token(repository, &["pull"])?;
        let token = &token;
        // Eight manifest reads at once, one token for all.
        let read: Vec<Result<Option<RegistryTag>>> = futures::stream::iter(names)
            .map(|name| async move { self.tag_with(repository, &name, token).await })
            .boxed()
            .buffered(8)
            .collect()
            .await;
        let mut out = Vec::new();
        for t in read {
            out.extend(t?);
        }
        Ok(out)
    }

    /// Deletes one tag of `repository`: `Ok(false)` when there is no such tag. Distribution 2.8 has
    /// no untag, only manifest deletion by digest (which drops every tag of that digest), so a tag
    /// whose digest another tag of the repository shares is refused rather than take that one too.
    pub async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool> {
        let tags = self.tags(repository).await?;
        let Some(target) = tags.iter().find(|t| t.name == tag) else {
            return Ok(false);
        };
        if let Some(other) = tags
            .iter()
            .find(|t| t.name != tag && t.digest == target.digest)
        {
            bail!(
                "the sandbox cannot delete tag {tag}: tag {} has the same digest and would go too",
                other.name
            );
        }
        let token = self.token(repository, &["pull", "push", "delete", "*"])?;
        let url = self
            .base
            .join(&format!("v2/{repository}/manifests/{}", target.digest))?;
        let resp = self
            .client
            .delete(url)
            .bearer_auth(&token)
            .send()
            .await
            .context("deleting a manifest in the sandbox registry")?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => bail!("the sandbox registry answered {s} to a manifest delete"),
        }
    }

    /// Deletes every tagged manifest of `repository`; returns how many were deleted.
    pub async fn delete_repository(&self, repository: &str) -> Result<usize> {
        let token = self.token(repository, &["pull", "push", "delete", "*"])?;
        let mut digests = BTreeSet::new();
        for t in self.tags(repository).await? {
            digests.insert(t.digest);
        }
        let mut deleted = 0;
        for digest in digests {
            let url = self
                .base
                .join(&format!("v2/{repository}/manifests/{digest}"))?;
            let resp = self
                .client
                .delete(url)
                .bearer_auth(&token)
                .send()
                .await
                .context("deleting a manifest in the sandbox registry")?;
            match resp.status() {
                s if s.is_success() => deleted += 1,
                StatusCode::NOT_FOUND => {}
                s => bail!("the sandbox registry answered {s} to a manifest delete"),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
org = "acme"
[users.alice]
full_name = "A"
email = "a@x.example"
[users.bob]
full_name = "B"
email = "b@x.example"
[users.carol]
full_name = "C"
email = "c@x.example"
[users.dave]
full_name = "D"
email = "d@x.example"
[[credentials]]
identifier = "alice"
secret = "pw-a"
kind = "password"
[[credentials]]
identifier = "acme"
secret = "oat"
kind = "org_token"
[members]
alice = "owner"
bob = "member"
carol = "member"
[teams.readers]
description = ""
members = ["bob"]
[teams.writers]
description = ""
members = ["carol"]
[repositories.secret]
private = true
grants = { readers = "read", writers = "write" }
[repositories.open]
private = false
"#;

    fn hub() -> HubState {
        super::super::seed::parse(SEED).unwrap().state
    }

    fn acts(hub: &HubState, who: Option<&str>, repo: &str) -> Vec<String> {
        registry_actions(hub, who, repo)
    }

    #[test]
    fn grants_follow_the_org_state() {
        let h = hub();
        let pp = vec!["pull".to_string(), "push".to_string()];
        let p = vec!["pull".to_string()];
        let none: Vec<String> = Vec::new();
        // Owners and the org token: every org repository, even one the hub does not list.
        assert_eq!(acts(&h, Some("alice"), "acme/secret"), pp);
        assert_eq!(acts(&h, Some("alice"), "acme/new"), pp);
        assert_eq!(acts(&h, Some("acme"), "acme/secret"), pp);
        // Team grants.
        assert_eq!(acts(&h, Some("bob"), "acme/secret"), p);
        assert_eq!(acts(&h, Some("carol"), "acme/secret"), pp);
        // Members without a grant and outsiders: public only.
        assert_eq!(acts(&h, Some("bob"), "acme/open"), p);
        assert_eq!(acts(&h, Some("dave"), "acme/secret"), none);
        assert_eq!(acts(&h, None, "acme/secret"), none);
        assert_eq!(acts(&h, None, "acme/open"), p);
        assert_eq!(acts(&h, Some("bob"), "acme/new"), none);
        // Community namespaces: pull for anyone, push only for the internal identity.
        assert_eq!(acts(&h, None, "bitnami/redis"), p);
        assert_eq!(acts(&h, Some("alice"), "library/nginx"), p);
        assert_eq!(acts(&h, None, "alpine"), p);
        assert_eq!(acts(&h, Some(INTERNAL_SUBJECT), "bitnami/redis"), pp);
        // A user's own namespace: push for that user only, pull for everyone.
        assert_eq!(acts(&h, Some("dave"), "dave/tool"), pp);
        assert_eq!(acts(&h, Some("Dave"), "dave/tool"), pp);
        assert_eq!(acts(&h, Some("alice"), "dave/tool"), p);
        assert_eq!(acts(&h, None, "dave/tool"), p);
        assert_eq!(acts(&h, Some("dave"), "bitnami/redis"), p);
        // A namespace named like a subject that is no account of the hub stays pull-only.
        assert_eq!(acts(&h, Some("zed"), "zed/tool"), p);
    }

    #[test]
    fn authorizer_checks_seed_and_internal_credentials() {
        let loaded = super::super::seed::parse(SEED).unwrap();
        let app = Arc::new(App::new(
            loaded.state,
            loaded.credentials,
            super::super::Faults::default(),
            None,
            Url::parse("http://127.0.0.1:1/").unwrap(),
        ));
        let internal = internal_credentials();
        let authz = HubAuthorizer::new(app, internal.clone());
        assert_eq!(
            authz.authenticate("alice", "pw-a").as_deref(),
            Some("alice")
        );
        assert_eq!(authz.authenticate("acme", "oat").as_deref(), Some("acme"));
        assert_eq!(authz.authenticate("alice", "nope"), None);
        assert_eq!(
            authz
                .authenticate(INTERNAL_SUBJECT, &internal.secret)
                .as_deref(),
            Some(INTERNAL_SUBJECT)
        );
        assert_eq!(authz.authenticate(INTERNAL_SUBJECT, "pw-a"), None);
        let req = vec!["pull".to_string(), "push".to_string(), "delete".to_string()];
        assert_eq!(
            authz.allowed(Some("alice"), "acme/x", &req),
            vec!["pull", "push"]
        );
        assert_eq!(authz.allowed(None, "bitnami/redis", &req), vec!["pull"]);
        assert!(!format!("{authz:?}").contains(&internal.secret));
    }
}
