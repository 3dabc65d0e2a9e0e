//! The organization as data: one set of types for both the desired state (built from the policy) and
//! the live state (read from Docker Hub). The plan is a pure diff of two `OrgState`s.
//!
//! Conventions shared by every module:
//! - Maps are `BTreeMap`/`BTreeSet` so iteration (and therefore output) is deterministic.
//! - `Option::None` on a desired-state field means "unmanaged": the policy does not mention it, so the
//!   diff ignores it and the reader does not need to fetch it. Live state fills every field it reads.
//! - Usernames are compared case-insensitively: [`Username`] stores the lowercase form.
//! - Images are part of the model: a [`Repository`]'s `tags` say which manifest each tag points at
//!   (live: read from the organization's registry and the hub's tag listing) or must point at
//!   (desired: each mirrored tag resolved from its pin, vetted.lock or upstream by src/mirror/).
//!
//! Also here: the policy's `[settings]` ([`PolicySettings`]). In submodules, re-exported here so
//! callers name `crate::model::X`: the pure name rules the diff shares with the policy's validation
//! (src/model/names.rs: [`docker_hub_repository`], [`short_digest`]) and a change's risk class
//! (src/model/risk.rs: [`Risk`], the data that `[review]` in the policy and the plan's classifier
//! both read).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

mod names;
mod risk;

pub use names::{
    docker_hub_repository, image_reference_error, is_path_component, is_registry_host,
    is_signature_tag, short_digest,
};
pub use risk::Risk;

/// A Docker ID, normalised to lowercase (Docker IDs are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn new(name: &str) -> Self {
        Username(name.trim().to_lowercase())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Organization role. Docker Hub spells these lowercase on write and capitalised on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Editor,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Member => "member",
        }
    }
    /// Parses Docker Hub's spelling, which varies in case ("Owner", "owner").
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "owner" => Some(Role::Owner),
            "editor" => Some(Role::Editor),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A team's permission on a repository. Ordered read < write < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Read,
    Write,
    Admin,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Permission> {
        match s.to_ascii_lowercase().as_str() {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            "admin" => Some(Permission::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Image Access Management (`GET|PUT /v2/orgs/{org}/settings`, `restricted_images`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAccess {
    pub enabled: bool,
    pub allow_official_images: bool,
    pub allow_verified_publishers: bool,
}

/// One registry Docker Desktop may reach besides Docker Hub (Registry Access Management).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CustomRegistry {
    /// Host name or domain, lowercase (`ghcr.io`, `registry.example.com:5000`).
    pub address: String,
    pub friendly_name: String,
    pub allowed: bool,
}

/// Registry Access Management (undocumented `GET|PUT /v2/orgs/{org}/settings/registry-access-management`,
/// the form Docker's Terraform provider sends): which registries Docker Desktop lets members reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAccess {
    pub enabled: bool,
    /// The one standard registry, `{id: "DockerHub", allowed}`.
    pub docker_hub: bool,
    /// Sorted by address; addresses are unique.
    pub custom: Vec<CustomRegistry>,
}

impl RegistryAccess {
    /// The registries members can reach: `None` = every registry (Registry Access Management off).
    pub fn reachable(&self) -> Option<BTreeSet<String>> {
        if !self.enabled {
            return None;
        }
        let mut out: BTreeSet<String> = self
            .custom
            .iter()
            .filter(|c| c.allowed)
            .map(|c| c.address.clone())
            .collect();
        if self.docker_hub {
            out.insert("docker.io".to_string());
        }
        Some(out)
    }
}

/// A pending invitation. An invitee has no account in the org until accepted, and counts as a member
/// (and as a member of `team`, if the invite names one) for planning, so apply never re-invites.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Invite {
    /// Docker Hub's invite id (live state only; needed to cancel it).
    pub id: Option<String>,
    /// A Docker ID or an email address, as invited.
    pub invitee: String,
    pub role: Role,
    pub team: Option<String>,
}

/// Organization membership: roles of accepted members plus pending invites.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// Accepted members and their role.
    pub roles: BTreeMap<Username, Role>,
    /// Pending invitations (live state). Desired state leaves this empty: the diff derives invites from
    /// desired members who are neither members nor invitees.
    pub invites: Vec<Invite>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// `None` in desired state: description unmanaged.
    pub description: Option<String>,
    /// Accepted members of the team.
    pub members: BTreeSet<Username>,
}

/// What a mirrored repository copies from upstream. Parsed and validated from the policy; the copy
/// engine (src/registry/) consumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirror {
    /// Source reference as written (`nginx`, `bitnami/redis`, `ghcr.io/org/tool`).
    pub from: String,
    /// Tag name -> optional pinned digest (`"7.2@sha256:..."`).
    pub tags: BTreeMap<String, Option<String>>,
    /// `None` = all platforms (the upstream index is copied as-is); otherwise `os/arch[/variant]`.
    pub platforms: Option<Vec<String>>,
    /// Also copy cosign signature/attestation/SBOM tags and OCI referrers.
    pub signatures: bool,
    /// The signature gate: the upstream digest must carry a valid cosign signature by this
    /// verifier before `lock` records it or `apply` copies it (src/verify/). `None`: no gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// Who must have signed a mirrored image (`mirror.verify` in the policy), with the files it names
/// already read (confined to the policy's repository) and checked at load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Verify {
    /// A cosign public key (PEM, ECDSA P-256).
    Key {
        /// The path as written in the policy (`keys/upstream.pub`), relative to the policy file.
        path: String,
        /// The PEM text of the key.
        pem: String,
        /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
        fingerprint: String,
    },
    /// Keyless: a Fulcio certificate for `identity` from `issuer`, checked offline against a
    /// Sigstore trusted root.
    Keyless {
        /// The certificate's subject alternative name (an email or a URI).
        identity: String,
        /// The OIDC issuer recorded in the certificate.
        issuer: String,
        /// The trusted root's path as written in the policy.
        trusted_root_path: String,
        /// The trusted root's JSON text.
        trusted_root: String,
    },
}

impl Verify {
    /// What verified an image, as the lock records it and messages name it:
    /// `key keys/upstream.pub sha256:<hex>` or `identity <identity> issuer <issuer>`.
    pub fn id(&self) -> String {
        match self {
            Verify::Key {
                path, fingerprint, ..
            } => format!("key {path} {fingerprint}"),
            Verify::Keyless {
                identity, issuer, ..
            } => format!("identity {identity} issuer {issuer}"),
        }
    }

    /// Who must have signed, for "no signature by ..." (`keys/upstream.pub`, or the identity).
    pub fn signer(&self) -> String {
        match self {
            Verify::Key { path, .. } => path.clone(),
            Verify::Keyless {
                identity, issuer, ..
            } => format!("{identity} (issuer {issuer})"),
        }
    }
}

/// One tag of a repository and the manifest it points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The manifest digest the tag points at (live; empty when the hub's listing gave none) or must
    /// point at (desired: the upstream digest, or the filtered index's digest with `platforms`).
    pub digest: String,
    /// Desired state only: where the copy comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImageSource>,
}

/// Where a desired image is copied from, as resolved by src/mirror/.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    /// The upstream reference with tag and digest (`docker.io/bitnami/redis:7.2@sha256:...`).
    pub reference: String,
    /// The upstream manifest digest (differs from [`Image::digest`] when platforms are filtered).
    pub upstream_digest: String,
    /// The upstream tag's digest now, when it was read and differs from the locked digest.
    pub update_available: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub private: bool,
    /// `None` in desired state: unmanaged.
    pub description: Option<String>,
    /// `None` in desired state: unmanaged.
    pub full_description: Option<String>,
    /// Team name -> permission. `None` in desired state: grants on this repository are unmanaged.
    pub grants: Option<BTreeMap<String, Permission>>,
    /// Desired state only.
    pub mirror: Option<Mirror>,
    /// Tag -> image. Desired: the mirrored tags, resolved (`None`: not resolved, images
    /// unmanaged). Live: the tags of a mirrored repository as read (`None`: not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Image>>,
}

impl Repository {
    /// The digest a tag points at, when the tags were read and the tag is there.
    pub fn tag_digest(&self, tag: &str) -> Option<&str> {
        self.tags
            .as_ref()
            .and_then(|t| t.get(tag))
            .map(|i| i.digest.as_str())
    }
}

/// The whole organization, desired or live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgState {
    pub org: String,
    /// `None`: Image Access Management unmanaged (desired) or not read (live).
    pub image_access: Option<ImageAccess>,
    /// The Image Access Management repository allowlist: Docker Hub repositories members may pull
    /// whatever the category restrictions, as `namespace/name` (`bitnami/redis`, `library/nginx`).
    /// `None`: unmanaged (desired) or not read (live).
    #[serde(default)]
    pub allowlist: Option<BTreeSet<String>>,
    /// `None`: Registry Access Management unmanaged (desired) or not read (live).
    #[serde(default)]
    pub registry_access: Option<RegistryAccess>,
    /// `None`: organization roles unmanaged (desired) or not read (live). Team members who are not in
    /// the organization are still invited when `teams` is managed.
    pub members: Option<Members>,
    /// `None`: teams unmanaged (desired) or not read (live).
    pub teams: Option<BTreeMap<String, Team>>,
    /// Repositories by name (without the org prefix). In live state, every repository of the org.
    pub repositories: BTreeMap<String, Repository>,
    /// Live state only: repositories whose grants were read for some teams only (Docker Hub offered
    /// no grant listing, and the reads per team were bounded): their grants of the teams the
    /// policy grants there are known, others may be missing, so effective access through them
    /// rests on a partial read.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub partial_grants: BTreeSet<String>,
}

impl OrgState {
    pub fn empty(org: &str) -> Self {
        OrgState {
            org: org.to_string(),
            image_access: None,
            allowlist: None,
            registry_access: None,
            members: None,
            teams: None,
            repositories: BTreeMap::new(),
            partial_grants: BTreeSet::new(),
        }
    }
}

/// What the policy manages, so the live reader fetches only that (and the diff knows what "absent"
/// means). Derived from the desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub image_access: bool,
    pub allowlist: bool,
    pub registry_access: bool,
    pub members: bool,
    pub teams: bool,
    /// Repositories whose grants the policy manages (need one grant read each).
    pub grant_repositories: BTreeSet<String>,
    /// Teams whose grants the policy manages (for the per-pair fallback when listing is not possible).
    pub grant_teams: BTreeSet<String>,
    /// The teams the policy grants on each repository: the per-pair fallback reads these first.
    pub grants_named: BTreeMap<String, BTreeSet<String>>,
    /// Read the grants of every repository, for every team (`vetted export`).
    pub all_grants: bool,
    /// Repositories whose `full_description` the policy manages: only these need a read of their
    /// own (the listing carries privacy and description, not the full description).
    pub full_descriptions: BTreeSet<String>,
    /// Read every repository's `full_description` (`vetted export`).
    pub all_full_descriptions: bool,
    /// Repositories the policy names: each one the listing lacks is read on its own, so a plan
    /// never creates a repository the listing left out (src/hub/listing.rs).
    pub repositories: BTreeSet<String>,
    /// Set when the use needs every repository listed (prune, export): what a partial listing
    /// would cause, for the refusal when the listing may leave private repositories out.
    pub whole_listing_for: Option<&'static str>,
    /// A partial plan (`--target`): read the members of these teams only, and leave every other
    /// team out of the live state; `None`: every team.
    pub teams_only: Option<BTreeSet<String>>,
    /// The allowlist and Registry Access Management are read only where Docker Hub answers them:
    /// a 403 or 404 leaves them unread (`None`) instead of failing (`vetted export`).
    pub optional_settings: bool,
}

/// [`Scope::whole_listing_for`] with `prune = true`.
pub const WHOLE_LISTING_FOR_PRUNE: &str =
    "prune = true would leave any private repository it omits in place without saying so";
/// [`Scope::whole_listing_for`] of `vetted export`.
pub const WHOLE_LISTING_FOR_EXPORT: &str =
    "the exported policy would lack any private repository it omits";

impl Scope {
    pub fn of(desired: &OrgState) -> Scope {
        let mut grant_repositories = BTreeSet::new();
        let mut grant_teams = BTreeSet::new();
        let mut grants_named = BTreeMap::new();
        for (name, repo) in &desired.repositories {
            if let Some(grants) = &repo.grants {
                grant_repositories.insert(name.clone());
                grant_teams.extend(grants.keys().cloned());
                grants_named.insert(name.clone(), grants.keys().cloned().collect());
            }
        }
        if let Some(teams) = &desired.teams {
            grant_teams.extend(teams.keys().cloned());
        }
        Scope {
            // The allowlist's plan notes say whether Image Access Management is on.
            image_access: desired.image_access.is_some() || desired.allowlist.is_some(),
            allowlist: desired.allowlist.is_some(),
            registry_access: desired.registry_access.is_some(),
            members: desired.members.is_some(),
            // Team membership is needed to place invites even when only teams are managed.
            teams: desired.teams.is_some(),
            grant_repositories,
            grant_teams,
            grants_named,
            // Effective access (plan.access): a change of team membership reaches every repository
            // the team is granted, so every repository's grants are read when teams are managed.
            all_grants: desired.teams.is_some(),
            full_descriptions: desired
                .repositories
                .iter()
                .filter(|(_, r)| r.full_description.is_some())
                .map(|(n, _)| n.clone())
                .collect(),
            all_full_descriptions: false,
            repositories: desired.repositories.keys().cloned().collect(),
            whole_listing_for: None,
            teams_only: None,
            optional_settings: false,
        }
    }

    /// Everything: settings, members, invites, teams and every repository's grants (`vetted export`).
    pub fn everything() -> Scope {
        Scope {
            image_access: true,
            allowlist: true,
            registry_access: true,
            members: true,
            teams: true,
            all_grants: true,
            all_full_descriptions: true,
            whole_listing_for: Some(WHOLE_LISTING_FOR_EXPORT),
            optional_settings: true,
            ..Scope::default()
        }
    }
}

/// `[settings]` of the policy: how plan and apply treat what the policy does not list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicySettings {
    /// Delete teams, repositories, grants and members the policy does not list. Default false.
    pub prune: bool,
    /// Refuse a plan deleting more than this fraction of the managed items of a kind. Default 0.25.
    pub delete_threshold: f64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            prune: false,
            delete_threshold: 0.25,
        }
    }
}
