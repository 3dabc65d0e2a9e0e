//! The snapshot's types from and to the model's [`OrgState`], and the coverage check. Reading
//! back checks every value as hostile input: names, roles, permissions, digests, duplicates.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    CustomRegistryDoc, FilteredIndexDoc, GrantDoc, ImageAccessDoc, InviteDoc, MemberDoc,
    MembersDoc, RegistryAccessDoc, RepositoryDoc, StateDoc, TagDoc, TeamDoc,
};
use crate::model::{
    CustomRegistry, Image, ImageAccess, Invite, Members, OrgState, Permission, RegistryAccess,
    Repository, Role, Scope, Team, Username,
};
use crate::registry::reference::validate_digest;

/// The live state's snapshot types; `desired` gives the filtered indexes (a platform-filtered
/// mirror's desired digest, which differs from the upstream digest).
pub(super) fn state_doc(live: &OrgState, desired: &OrgState) -> StateDoc {
    let mut filtered = BTreeSet::new();
    for repo in desired.repositories.values() {
        let Some(platforms) = repo.mirror.as_ref().and_then(|m| m.platforms.as_ref()) else {
            continue;
        };
        for image in repo.tags.iter().flat_map(|t| t.values()) {
            if let Some(source) = &image.source {
                filtered.insert((
                    source.upstream_digest.clone(),
                    platforms.clone(),
                    image.digest.clone(),
                ));
            }
        }
    }
    StateDoc {
        image_access: live.image_access.map(|i| ImageAccessDoc {
            enabled: i.enabled,
            allow_official_images: i.allow_official_images,
            allow_verified_publishers: i.allow_verified_publishers,
        }),
        allowlist: live.allowlist.as_ref().map(|a| a.iter().cloned().collect()),
        registry_access: live.registry_access.as_ref().map(|r| RegistryAccessDoc {
            enabled: r.enabled,
            docker_hub: r.docker_hub,
            custom: r
                .custom
                .iter()
                .map(|c| CustomRegistryDoc {
                    address: c.address.clone(),
                    friendly_name: c.friendly_name.clone(),
                    allowed: c.allowed,
                })
                .collect(),
        }),
        members: live.members.as_ref().map(|m| MembersDoc {
            roles: m
                .roles
                .iter()
                .map(|(user, role)| MemberDoc {
                    user: user.to_string(),
                    role: role.as_str().to_string(),
                })
                .collect(),
            invites: m
                .invites
                .iter()
                .map(|i| InviteDoc {
                    id: i.id.clone(),
                    invitee: i.invitee.clone(),
                    role: i.role.as_str().to_string(),
                    team: i.team.clone(),
                })
                .collect(),
        }),
        teams: live.teams.as_ref().map(|teams| {
            teams
                .iter()
                .map(|(name, t)| TeamDoc {
                    name: name.clone(),
                    description: t.description.clone(),
                    members: t.members.iter().map(|u| u.to_string()).collect(),
                })
                .collect()
        }),
        repositories: live
            .repositories
            .iter()
            .map(|(name, r)| RepositoryDoc {
                name: name.clone(),
                private: r.private,
                description: r.description.clone(),
                full_description: r.full_description.clone(),
                grants: r.grants.as_ref().map(|g| {
                    g.iter()
                        .map(|(team, p)| GrantDoc {
                            team: team.clone(),
                            permission: p.as_str().to_string(),
                        })
                        .collect()
                }),
                tags: r.tags.as_ref().map(|t| {
                    t.iter()
                        .map(|(tag, image)| TagDoc {
                            tag: tag.clone(),
                            digest: image.digest.clone(),
                        })
                        .collect()
                }),
            })
            .collect(),
        partial_grants: live.partial_grants.iter().cloned().collect(),
        filtered_indexes: filtered
            .into_iter()
            .map(|(upstream_digest, platforms, digest)| FilteredIndexDoc {
                upstream_digest,
                platforms,
                digest,
            })
            .collect(),
    }
}

/// Bounds on what a snapshot may hold; beyond them it is refused (hostile or not a snapshot).
pub(super) struct Limits {
    pub items: usize,
    pub tags: usize,
    pub text: usize,
}

pub(super) const LIMITS: Limits = Limits {
    // Repositories, members, invites, teams, team members, grants, allowlist entries.
    items: 100_000,
    // Tags over all repositories.
    tags: 1_000_000,
    // Characters of one text field (Docker Hub's full description holds 25,000).
    text: 100_000,
};

/// What went wrong at which field path.
pub(super) type Invalid = String;

fn text(path: &str, s: &str) -> Result<(), Invalid> {
    if s.chars().count() > LIMITS.text {
        return Err(format!("{path} is longer than {} characters", LIMITS.text));
    }
    Ok(())
}

/// A name: non-empty, bounded, no control characters (names reach plans and terminals).
fn name(path: &str, s: &str) -> Result<(), Invalid> {
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) {
        return Err(format!(
            "{path} {:?} is not a name (1 to 255 characters, none a control character)",
            crate::untrusted::untrusted_lines(&s.chars().take(80).collect::<String>())
        ));
    }
    Ok(())
}

fn count(path: &str, n: usize) -> Result<(), Invalid> {
    if n > LIMITS.items {
        return Err(format!("{path} holds more than {} entries", LIMITS.items));
    }
    Ok(())
}

fn role(path: &str, s: &str) -> Result<Role, Invalid> {
    Role::parse(s).ok_or_else(|| format!("{path} must be owner, editor or member"))
}

fn unique<'a>(path: &str, names: impl Iterator<Item = &'a str>) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n.to_ascii_lowercase()) {
            return Err(format!(
                "{path}: {:?} appears twice",
                crate::untrusted::untrusted_lines(n)
            ));
        }
    }
    Ok(())
}

type Filtered = BTreeMap<(String, Vec<String>), String>;

/// The live state a snapshot's `state` describes, every value checked.
pub(super) fn to_live(org: &str, s: &StateDoc) -> Result<(OrgState, Filtered), Invalid> {
    let mut live = OrgState::empty(org);
    live.image_access = s.image_access.map(|i| ImageAccess {
        enabled: i.enabled,
        allow_official_images: i.allow_official_images,
        allow_verified_publishers: i.allow_verified_publishers,
    });
    if let Some(list) = &s.allowlist {
        count("state.allowlist", list.len())?;
        for a in list {
            name("state.allowlist[]", a)?;
        }
        live.allowlist = Some(list.iter().cloned().collect());
    }
    if let Some(r) = &s.registry_access {
        count("state.registry_access.custom", r.custom.len())?;
        for c in &r.custom {
            name("state.registry_access.custom[].address", &c.address)?;
            text(
                "state.registry_access.custom[].friendly_name",
                &c.friendly_name,
            )?;
        }
        unique(
            "state.registry_access.custom",
            r.custom.iter().map(|c| c.address.as_str()),
        )?;
        let mut custom: Vec<CustomRegistry> = r
            .custom
            .iter()
            .map(|c| CustomRegistry {
                address: c.address.clone(),
                friendly_name: c.friendly_name.clone(),
                allowed: c.allowed,
            })
            .collect();
        custom.sort();
        live.registry_access = Some(RegistryAccess {
            enabled: r.enabled,
            docker_hub: r.docker_hub,
            custom,
        });
    }
    if let Some(m) = &s.members {
        count("state.members.roles", m.roles.len())?;
        count("state.members.invites", m.invites.len())?;
        unique(
            "state.members.roles",
            m.roles.iter().map(|r| r.user.as_str()),
        )?;
        let mut roles = BTreeMap::new();
        for r in &m.roles {
            name("state.members.roles[].user", &r.user)?;
            roles.insert(
                Username::new(&r.user),
                role("state.members.roles[].role", &r.role)?,
            );
        }
        let mut invites = Vec::new();
        for i in &m.invites {
            name("state.members.invites[].invitee", &i.invitee)?;
            if let Some(id) = &i.id {
                name("state.members.invites[].id", id)?;
            }
            if let Some(t) = &i.team {
                name("state.members.invites[].team", t)?;
            }
            invites.push(Invite {
                id: i.id.clone(),
                invitee: i.invitee.clone(),
                role: role("state.members.invites[].role", &i.role)?,
                team: i.team.clone(),
            });
        }
        live.members = Some(Members { roles, invites });
    }
    if let Some(teams) = &s.teams {
        count("state.teams", teams.len())?;
        unique("state.teams", teams.iter().map(|t| t.name.as_str()))?;
        let mut out = BTreeMap::new();
        for t in teams {
            name("state.teams[].name", &t.name)?;
            if let Some(d) = &t.description {
                text("state.teams[].description", d)?;
            }
            count("state.teams[].members", t.members.len())?;
            for u in &t.members {
                name("state.teams[].members[]", u)?;
            }
            out.insert(
                t.name.clone(),
                Team {
                    description: t.description.clone(),
                    members: t.members.iter().map(|u| Username::new(u)).collect(),
                },
            );
        }
        live.teams = Some(out);
    }
    count("state.repositories", s.repositories.len())?;
    unique(
        "state.repositories",
        s.repositories.iter().map(|r| r.name.as_str()),
    )?;
    let mut tags_seen = 0usize;
    for r in &s.repositories {
        name("state.repositories[].name", &r.name)?;
        for (field, value) in [
            ("description", &r.description),
            ("full_description", &r.full_description),
        ] {
            if let Some(v) = value {
                text(&format!("state.repositories[].{field}"), v)?;
            }
        }
        let grants = match &r.grants {
            None => None,
            Some(g) => {
                count("state.repositories[].grants", g.len())?;
                unique(
                    "state.repositories[].grants",
                    g.iter().map(|g| g.team.as_str()),
                )?;
                let mut out = BTreeMap::new();
                for g in g {
                    name("state.repositories[].grants[].team", &g.team)?;
                    let p = Permission::parse(&g.permission).ok_or_else(|| {
                        "state.repositories[].grants[].permission must be read, write or admin"
                            .to_string()
                    })?;
                    out.insert(g.team.clone(), p);
                }
                Some(out)
            }
        };
        let tags = match &r.tags {
            None => None,
            Some(t) => {
                tags_seen = tags_seen.saturating_add(t.len());
                if tags_seen > LIMITS.tags {
                    return Err(format!(
                        "state.repositories[].tags hold more than {} tags in all",
                        LIMITS.tags
                    ));
                }
                unique(
                    "state.repositories[].tags",
                    t.iter().map(|t| t.tag.as_str()),
                )?;
                let mut out = BTreeMap::new();
                for t in t {
                    name("state.repositories[].tags[].tag", &t.tag)?;
                    if !t.digest.is_empty() {
                        validate_digest(&t.digest)
                            .map_err(|e| format!("state.repositories[].tags[].digest: {e}"))?;
                    }
                    out.insert(
                        t.tag.clone(),
                        Image {
                            digest: t.digest.clone(),
                            source: None,
                        },
                    );
                }
                Some(out)
            }
        };
        live.repositories.insert(
            r.name.clone(),
            Repository {
                private: r.private,
                description: r.description.clone(),
                full_description: r.full_description.clone(),
                grants,
                mirror: None,
                tags,
            },
        );
    }
    count("state.partial_grants", s.partial_grants.len())?;
    for p in &s.partial_grants {
        name("state.partial_grants[]", p)?;
    }
    live.partial_grants = s.partial_grants.iter().cloned().collect();
    count("state.filtered_indexes", s.filtered_indexes.len())?;
    let mut filtered = BTreeMap::new();
    for f in &s.filtered_indexes {
        for d in [&f.upstream_digest, &f.digest] {
            validate_digest(d).map_err(|e| format!("state.filtered_indexes[]: {e}"))?;
        }
        count("state.filtered_indexes[].platforms", f.platforms.len())?;
        for p in &f.platforms {
            name("state.filtered_indexes[].platforms[]", p)?;
        }
        filtered.insert(
            (f.upstream_digest.clone(), f.platforms.clone()),
            f.digest.clone(),
        );
    }
    Ok((live, filtered))
}

/// What a plan of `desired` (the policy's desired state) would read that the snapshot's `live`
/// state lacks, one line each (at most 20, then a count): sections not read, repositories whose
/// grants, full description or tags were not read. Empty: the snapshot covers the policy.
pub fn missing(live: &OrgState, desired: &OrgState) -> Vec<String> {
    let scope = Scope::of(desired);
    let mut out = Vec::new();
    let sections = [
        (
            scope.image_access,
            live.image_access.is_some(),
            "Image Access Management",
        ),
        (
            scope.allowlist,
            live.allowlist.is_some(),
            "the repository allowlist",
        ),
        (
            scope.registry_access,
            live.registry_access.is_some(),
            "Registry Access Management",
        ),
        (
            scope.members,
            live.members.is_some(),
            "the members and invites",
        ),
        (scope.teams, live.teams.is_some(), "the teams"),
    ];
    for (wanted, read, what) in sections {
        if wanted && !read {
            out.push(format!("{what} (not read)"));
        }
    }
    for (name, repo) in &live.repositories {
        if (scope.all_grants || scope.grant_repositories.contains(name)) && repo.grants.is_none() {
            out.push(format!(
                "the grants of repository {}",
                live.org.clone() + "/" + name
            ));
        }
        if scope.full_descriptions.contains(name) && repo.full_description.is_none() {
            out.push(format!(
                "the full description of repository {}/{name}",
                live.org
            ));
        }
        let mirrored = desired
            .repositories
            .get(name)
            .is_some_and(|d| d.mirror.is_some());
        if mirrored && repo.tags.is_none() {
            out.push(format!("the tags of repository {}/{name}", live.org));
        }
    }
    if out.len() > 20 {
        let more = out.len() - 20;
        out.truncate(20);
        out.push(format!("and {more} more"));
    }
    out
}
