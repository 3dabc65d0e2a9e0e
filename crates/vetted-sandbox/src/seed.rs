//! The seed file (TOML) that gives a sandbox its starting state: the org with its members and roles,
//! teams, repositories and grants, settings, pending invites, the accounts that exist on the hub, and
//! the credentials (`password`, `pat`, `org_token`) that `POST /v2/auth/token` accepts.
//! Without a seed path the built-in demo seed (sandbox/demo-seed.toml) is used.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::SandboxError;
use super::auth::{Credential, CredentialKind};
use super::state::{
    self, HubState, InviteState, RegistryAccess, RepoState, TagImage, TagState, TeamState, User,
};
use crate::wire::{ImageAccess, Permission, Role};

/// The demo seed shipped with vetted (org "acme", owner alice, users bob/carol/dave/erin).
pub const DEMO_SEED: &str = include_str!("../../../sandbox/demo-seed.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    org: String,
    #[serde(default)]
    auto_accept_invites: bool,
    #[serde(default)]
    users: BTreeMap<String, SeedUser>,
    #[serde(default)]
    credentials: Vec<Credential>,
    #[serde(default)]
    members: BTreeMap<String, Role>,
    #[serde(default)]
    teams: BTreeMap<String, SeedTeam>,
    #[serde(default)]
    repositories: BTreeMap<String, SeedRepo>,
    image_access: Option<ImageAccess>,
    registry_access: Option<RegistryAccess>,
    /// The repository allowlist, `namespace/name`.
    #[serde(default)]
    allowlist: Vec<String>,
    #[serde(default)]
    invites: Vec<SeedInvite>,
    #[serde(default)]
    registry: SeedRegistry,
}

/// `[registry]`: how the sandbox registry behaves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRegistry {
    /// Docker Hub's pull limit: clients reach the registry through a front that counts pulls as
    /// Docker Hub does ([`super::proxy::spends_a_pull`]) and sends `ratelimit-limit`,
    /// `ratelimit-remaining` (`N;w=21600`) and `docker-ratelimit-source`. Absent: no front and no
    /// rate-limit headers, like a registry without pull limits.
    pull_limit: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTeam {
    #[serde(default)]
    description: String,
    #[serde(default)]
    members: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRepo {
    #[serde(default)]
    private: bool,
    #[serde(default)]
    description: String,
    #[serde(default)]
    full_description: String,
    /// Team name -> permission.
    #[serde(default)]
    grants: BTreeMap<String, Permission>,
    /// Tag name -> manifest digest.
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedInvite {
    invitee: String,
    #[serde(default = "default_role")]
    role: Role,
    team: Option<String>,
    #[serde(default = "default_inviter")]
    inviter: String,
}

fn default_role() -> Role {
    Role::Member
}

fn default_inviter() -> String {
    String::new()
}

/// A loaded seed: the org state plus the credentials (kept apart so state files hold no secrets).
pub struct Loaded {
    pub state: HubState,
    pub credentials: Vec<Credential>,
    /// `[registry] pull_limit`.
    pub pull_limit: Option<u64>,
}

/// Loads the seed at `path`, or the demo seed when `None`.
pub fn load(path: Option<&Path>) -> Result<Loaded, SandboxError> {
    let (name, text) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| SandboxError::Seed {
                path: p.display().to_string(),
                message: e.to_string(),
            })?,
        ),
        None => ("(built-in demo seed)".to_string(), DEMO_SEED.to_string()),
    };
    parse(&text).map_err(|message| SandboxError::Seed {
        path: name,
        message,
    })
}

/// Parses and checks seed text.
pub fn parse(text: &str) -> Result<Loaded, String> {
    // The error is reported as line:column and message, without echoing the source line (which
    // could hold a secret).
    let seed: SeedFile = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {}", e.message())
        }
        None => e.message().to_string(),
    })?;
    let now = state::now_rfc3339();
    let mut s = HubState::new(&seed.org);
    s.auto_accept_invites = seed.auto_accept_invites;
    for (name, u) in seed.users {
        let key = name.to_lowercase();
        if key.eq_ignore_ascii_case(&seed.org) {
            return Err(format!("user {name:?} has the org's name"));
        }
        let id = s.take_id();
        s.users.insert(
            key,
            User {
                id: format!("{id:032x}"),
                full_name: u.full_name,
                email: u.email,
                date_joined: now.clone(),
            },
        );
    }
    for (name, role) in seed.members {
        let key = name.to_lowercase();
        if !s.users.contains_key(&key) {
            return Err(format!(
                "members: {name:?} is not listed under [users.{name}]"
            ));
        }
        s.members.insert(key, role);
    }
    for (name, t) in seed.teams {
        state::check_team_name(&name).map_err(|e| format!("teams.{name}: {e}"))?;
        let id = s.take_id();
        s.teams.insert(
            name,
            TeamState {
                id,
                uuid: state::new_uuid(),
                description: t.description,
                members: t.members.iter().map(|m| m.to_lowercase()).collect(),
            },
        );
    }
    for (name, r) in seed.repositories {
        state::check_full_description(&r.full_description)
            .map_err(|e| format!("repositories.{name}: {e}"))?;
        let mut grants = BTreeMap::new();
        for (team, perm) in r.grants {
            let id = s
                .teams
                .get(&team)
                .map(|t| t.id)
                .ok_or_else(|| format!("repositories.{name}.grants: no team {team:?}"))?;
            grants.insert(id, perm);
        }
        let mut tags = BTreeMap::new();
        for (tag, digest) in r.tags {
            if !digest.starts_with("sha256:") {
                return Err(format!(
                    "repositories.{name}.tags.{tag}: digest must start with sha256:"
                ));
            }
            let id = s.take_id();
            tags.insert(
                tag,
                TagState {
                    id,
                    images: vec![TagImage {
                        os: "linux".into(),
                        architecture: "amd64".into(),
                        variant: None,
                        digest: digest.clone(),
                        size: 0,
                    }],
                    digest,
                    last_updated: now.clone(),
                },
            );
        }
        s.repositories.insert(
            name,
            RepoState {
                description: r.description,
                full_description: r.full_description,
                is_private: r.private,
                date_registered: now.clone(),
                last_updated: now.clone(),
                grants,
                tags,
            },
        );
    }
    if let Some(ia) = seed.image_access {
        s.image_access = ia;
    }
    if let Some(ra) = seed.registry_access {
        s.registry_access = ra;
    }
    s.allowlist = seed.allowlist.into_iter().collect();
    for inv in seed.invites {
        if let Some(team) = &inv.team {
            if !s.teams.contains_key(team) {
                return Err(format!("invites: no team {team:?}"));
            }
        }
        s.invites.push(InviteState {
            id: state::new_uuid(),
            inviter_username: inv.inviter,
            invitee: inv.invitee.to_lowercase(),
            role: inv.role,
            team: inv.team,
            created_at: now.clone(),
        });
    }
    let mut credentials = Vec::new();
    for c in seed.credentials {
        let identifier = c.identifier.to_lowercase();
        let known = match c.kind {
            CredentialKind::OrgToken => identifier == s.org.to_lowercase(),
            _ => s.users.contains_key(&identifier),
        };
        if !known {
            return Err(format!(
                "credentials: identifier {:?} is not a known {}",
                c.identifier,
                if c.kind == CredentialKind::OrgToken {
                    "org"
                } else {
                    "user"
                }
            ));
        }
        if c.scopes.is_some() && c.kind != CredentialKind::OrgToken {
            return Err(format!(
                "credentials: scopes are for org_token credentials only ({:?})",
                c.identifier
            ));
        }
        if let Some(unknown) = c
            .scopes
            .iter()
            .flatten()
            .find(|s| !super::api::scope::KNOWN.contains(&s.as_str()))
        {
            return Err(format!(
                "credentials: unknown scope {unknown:?} for {:?} (Docker's scope names, e.g. \
                 scope-repository-list, scope-group-read: see Docker's access-token reference)",
                c.identifier
            ));
        }
        if c.secret.is_empty() {
            return Err(format!("credentials: empty secret for {:?}", c.identifier));
        }
        credentials.push(Credential {
            identifier,
            secret: c.secret,
            kind: c.kind,
            scopes: c.scopes,
        });
    }
    s.check()?;
    Ok(Loaded {
        state: s,
        credentials,
        pull_limit: seed.registry.pull_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_loads() {
        let l = parse(DEMO_SEED).unwrap();
        assert_eq!(l.state.org, "acme");
        assert_eq!(l.state.members.len(), 1);
        assert_eq!(l.state.members.get("alice"), Some(&Role::Owner));
        for u in ["bob", "carol", "dave", "erin"] {
            assert!(l.state.users.contains_key(u), "{u}");
        }
        assert!(l.state.teams.contains_key("legacy"));
        let repo = l.state.repositories.get("old-tool").unwrap();
        assert!(!repo.is_private);
        assert!(!l.state.auto_accept_invites);
        assert!(
            l.credentials
                .iter()
                .any(|c| c.identifier == "alice" && c.secret == "sandbox-alice-token")
        );
    }

    #[test]
    fn bad_seeds_are_explained() {
        let e = |t: &str| parse(t).err().unwrap_or_default();
        assert!(e("org = 'a'\nbogus = 1").contains("bogus"));
        assert!(e("org = 'a'\nbogus = 1").starts_with("line 2, column 1:"));
        assert!(e("org = 'a'\n[members]\nzed = 'owner'").contains("zed"));
        assert!(e("org = 'a'\n[users.x]\n").contains("owner"));
        assert!(
            e("org='a'\n[users.x]\n[members]\nx='owner'\n[repositories.A]\n")
                .contains("repository")
        );
        assert!(
            e("org='a'\n[users.x]\n[members]\nx='owner'\n[repositories.ab]\ngrants={t='read'}\n")
                .contains("no team")
        );
        assert!(
            e("org='a'\n[users.x]\n[members]\nx='owner'\n[[credentials]]\nidentifier='y'\nsecret='s'\nkind='pat'\n")
                .contains("not a known user")
        );
        assert!(
            e("org='a'\n[users.x]\n[members]\nx='owner'\n[teams.t]\nmembers=['x','bob']\n")
                .contains("bob")
        );
        assert!(
            e("org='a'\n[users.x]\n[members]\nx='owner'\n[[credentials]]\nidentifier='a'\nsecret='s'\nkind='org_token'\nscopes=['scope-repo-list']\n")
                .contains("unknown scope \"scope-repo-list\"")
        );
    }

    #[test]
    fn seed_errors_do_not_echo_secrets() {
        let text = "org='a'\n[users.x]\n[members]\nx='owner'\n[[credentials]]\nidentifier='y'\nsecret='hunter2-secret'\nkind='pat'\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(!e.contains("hunter2-secret"), "{e}");
    }
}
