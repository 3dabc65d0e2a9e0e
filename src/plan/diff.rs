//! Pure diff of desired vs live [`OrgState`]: owns the rules that turn drift into [`Change`]s and
//! [`Note`]s, and the ordering of the resulting [`Plan`]. One [`diff`] builds the whole plan, the
//! image copies and hand-pushed tags included (their rows: [`super::images`]). No I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Members, OrgState, Role, Team, Username};
use crate::plan::targets::Targets;
use crate::plan::{Action, Change, Delta, Note, Plan, RepoFields, ResourceKind};

/// Options that change what the diff is allowed to emit. Nothing here depends on who runs the
/// diff: the plan job's read-only identity and the apply job's write identity get the same plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Emit deletions for live resources the policy does not mention (otherwise they become notes).
    pub prune: bool,
    /// A partial plan: only the changes and notes of these targets ([`Targets::retain`]).
    pub targets: Targets,
}

pub(super) struct Builder<'a> {
    pub(super) org: &'a str,
    pub(super) changes: Vec<Change>,
    pub(super) notes: Vec<Note>,
}

impl Builder<'_> {
    pub(super) fn note(&mut self, kind: ResourceKind, address: String, message: impl Into<String>) {
        self.notes.push(Note {
            kind,
            address,
            message: message.into(),
        });
    }
    fn addr(&self, c: &Change) -> String {
        c.address(self.org)
    }
    /// A live resource the policy does not mention: with prune, `change` removes it; without, it
    /// is left alone and a note at the change's address says so (`what` names the resource, `verb`
    /// is what prune would do to it).
    pub(super) fn prune_or_note(
        &mut self,
        prune: bool,
        change: Change,
        kind: ResourceKind,
        what: impl std::fmt::Display,
        verb: &str,
    ) {
        if prune {
            self.changes.push(change);
        } else {
            let address = self.addr(&change);
            self.note(kind, address, left_alone(what, verb));
        }
    }
}

/// The note on drift left alone without prune.
fn left_alone(what: impl std::fmt::Display, verb: &str) -> String {
    format!("{what} (left alone; set prune = true in [settings] to {verb})")
}

/// Computes the plan that turns `live` into `desired`. `desired` fields that are `None` are unmanaged
/// and ignored. The returned plan has `api_calls` 0; the caller fills it in. Without prune, the
/// plan's `drift` holds what prune would also change (drift left alone, each item a note too).
pub fn diff(desired: &OrgState, live: &OrgState, opts: &DiffOptions) -> Plan {
    let (mut changes, mut notes) = changes_and_notes(desired, live, opts);
    opts.targets.retain(&mut changes, &mut notes, &desired.org);
    let drift = if opts.prune {
        Vec::new()
    } else {
        let all = DiffOptions {
            prune: true,
            ..DiffOptions::default()
        };
        let (mut pruned, _) = changes_and_notes(desired, live, &all);
        opts.targets.retain_drift(&mut pruned);
        pruned
            .into_iter()
            .filter(|c| !changes.contains(c))
            .collect()
    };
    let mut access = crate::plan::access::changes(live, &changes);
    // Members' access outside the organization goes after `everyone`, before teams and people.
    let at = access
        .iter()
        .position(|a| a.subject != crate::plan::access::Subject::Everyone)
        .unwrap_or(access.len());
    access.splice(
        at..at,
        crate::plan::access::outside(desired, live, &changes),
    );
    let mut plan = Plan {
        org: desired.org.clone(),
        changes,
        notes,
        api_calls: 0,
        access,
        snapshot: None,
        drift: Default::default(),
        targets: opts.targets.names(),
    };
    set_drift(&mut plan, live, drift);
    plan.notes.extend(partial_grants_note(live));
    plan
}

/// The note when effective access rests on a partial read of grants (live `partial_grants`).
fn partial_grants_note(live: &OrgState) -> Option<Note> {
    let first = live.partial_grants.first()?;
    let n = live.partial_grants.len();
    Some(Note {
        kind: ResourceKind::Grant,
        address: format!("repository {}/{first}", live.org),
        message: format!(
            "effective access rests on a partial read: Docker Hub offered no grant listing per \
             repository, and vetted read the grants of {n} repositor{} (this one first) for the \
             teams the policy grants there and as many other teams as its call budget allowed; \
             access through the teams left unread is not shown",
            if n == 1 { "y" } else { "ies" }
        ),
    })
}

/// Sets `plan.drift` to `changes` (sorted like a plan) and who has access through them.
pub fn set_drift(plan: &mut Plan, live: &OrgState, mut changes: Vec<Change>) {
    sort_changes(&mut changes, &plan.org);
    plan.drift.access = crate::plan::access::drift(live, &plan.changes, &changes);
    plan.drift.changes = changes;
}

fn changes_and_notes(
    desired: &OrgState,
    live: &OrgState,
    opts: &DiffOptions,
) -> (Vec<Change>, Vec<Note>) {
    let mut b = Builder {
        org: &desired.org,
        changes: Vec::new(),
        notes: Vec::new(),
    };
    diff_image_access(desired, live, &mut b);
    diff_registry_access(desired, live, &mut b);
    diff_allowlist(desired, live, opts, &mut b);
    diff_members(desired, live, opts, &mut b);
    diff_teams(desired, live, opts, &mut b);
    diff_repositories(desired, live, opts, &mut b);
    crate::plan::images::diff_images(desired, live, opts, &mut b);
    let mut changes = b.changes;
    sort_changes(&mut changes, &desired.org);
    let mut notes = b.notes;
    notes.sort();
    notes.dedup();
    (changes, notes)
}

/// Deletions first in reverse dependency order, then creates/updates in dependency order; ties by
/// address.
pub(crate) fn sort_changes(changes: &mut [Change], org: &str) {
    changes.sort_by_cached_key(|c| {
        let kind = c.kind() as u8;
        let (phase, rank) = match c.action() {
            Action::Delete => (0u8, u8::MAX - kind),
            _ => (1u8, kind),
        };
        (phase, rank, c.address(org))
    });
}

fn diff_image_access(desired: &OrgState, live: &OrgState, b: &mut Builder<'_>) {
    if let Some(new) = desired.image_access {
        if live.image_access != Some(new) {
            b.changes.push(Change::SetImageAccess {
                old: live.image_access,
                new,
            });
        }
    }
}

fn diff_registry_access(desired: &OrgState, live: &OrgState, b: &mut Builder<'_>) {
    let Some(new) = &desired.registry_access else {
        return;
    };
    if live.registry_access.as_ref() != Some(new) {
        b.changes.push(Change::SetRegistryAccess {
            old: live.registry_access.clone(),
            new: new.clone(),
        });
    }
    if new.enabled && !new.docker_hub {
        b.note(
            ResourceKind::RegistryAccess,
            format!("registry_access {}", b.org),
            "Docker Hub is not an allowed registry: members cannot pull the organization's mirrors either",
        );
    }
}

/// The Docker Hub repository (`namespace/name`) each mirror copies from, by mirror repository.
fn mirrored_from(desired: &OrgState) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, repo) in &desired.repositories {
        if let Some(m) = &repo.mirror {
            if let Ok(upstream) = crate::model::docker_hub_repository(&m.from) {
                out.entry(upstream).or_default().push(name.clone());
            }
        }
    }
    out
}

fn diff_allowlist(desired: &OrgState, live: &OrgState, opts: &DiffOptions, b: &mut Builder<'_>) {
    let Some(want) = &desired.allowlist else {
        return;
    };
    let empty = BTreeSet::new();
    let have = live.allowlist.as_ref().unwrap_or(&empty);
    for repo in want.difference(have) {
        b.changes.push(Change::AllowRepository {
            repository: repo.clone(),
        });
    }
    for repo in have.difference(want) {
        b.prune_or_note(
            opts.prune,
            Change::DisallowRepository {
                repository: repo.clone(),
            },
            ResourceKind::AllowedRepository,
            "allowlisted on Docker Hub but not in the policy",
            "remove it",
        );
    }
    let mirrors = mirrored_from(desired);
    let org_prefix = format!("{}/", b.org);
    for repo in want {
        let address = crate::plan::allowed_address(repo);
        if let Some(names) = mirrors.get(repo) {
            let list: Vec<String> = names.iter().map(|n| format!("{}/{n}", b.org)).collect();
            b.note(
                ResourceKind::AllowedRepository,
                address.clone(),
                format!(
                    "also mirrored as {}: members can pull every upstream push directly, unreviewed, bypassing the mirror's reviewed digests; remove it from allow_repositories to keep members on the mirror",
                    list.join(", ")
                ),
            );
        }
        if repo.starts_with(&org_prefix) {
            b.note(
                ResourceKind::AllowedRepository,
                address,
                "a repository of the organization: members may always pull these, the entry changes nothing",
            );
        }
    }
    // Image Access Management as it will be after the plan.
    let image_access = desired.image_access.or(live.image_access);
    if !want.is_empty() && image_access.is_some_and(|ia| !ia.enabled) {
        b.note(
            ResourceKind::AllowedRepository,
            format!("image_access {}", b.org),
            "Image Access Management is off: members may pull every image already, so allow_repositories changes nothing until it is enabled",
        );
    }
}

fn invitee_key(s: &str) -> String {
    s.trim().to_lowercase()
}

fn diff_members(desired: &OrgState, live: &OrgState, opts: &DiffOptions, b: &mut Builder<'_>) {
    let Some(want) = &desired.members else { return };
    let empty = Members::default();
    let have = live.members.as_ref().unwrap_or(&empty);
    // Pending org-level invites by invitee (the first one wins for role comparison).
    let mut invited: BTreeMap<String, Role> = BTreeMap::new();
    for inv in &have.invites {
        invited.entry(invitee_key(&inv.invitee)).or_insert(inv.role);
    }
    for (user, &role) in &want.roles {
        if let Some(&cur) = have.roles.get(user) {
            if cur != role {
                b.changes.push(Change::SetRole {
                    user: user.clone(),
                    old: cur,
                    new: role,
                });
            }
        } else if let Some(&inv_role) = invited.get(user.as_str()) {
            if inv_role != role {
                b.note(
                    ResourceKind::Invite,
                    format!("invite {user}"),
                    format!(
                        "pending invite has role {inv_role}, policy wants {role}; the role can only \
                         change after the invite is accepted"
                    ),
                );
            }
        } else {
            b.changes.push(Change::Invite {
                invitee: user.clone(),
                role,
                team: None,
            });
        }
    }
    // Extra accepted members. The diff does not depend on who runs it: removing the identity
    // running apply or the last owner is refused by apply's safety checks (src/plan/safety.rs),
    // and the plan says so in a note (safety::notes).
    for (user, &role) in &have.roles {
        if want.roles.contains_key(user) {
            continue;
        }
        b.prune_or_note(
            opts.prune,
            Change::RemoveMember {
                user: user.clone(),
                role,
            },
            ResourceKind::Member,
            format_args!("{role} not in the policy"),
            "remove",
        );
    }
    // Extra pending invites (org-level and team invites alike).
    for inv in &have.invites {
        let key = invitee_key(&inv.invitee);
        let team_wanted = match (&inv.team, &desired.teams) {
            (Some(t), Some(teams)) => teams
                .get(t)
                .is_some_and(|team| team.members.contains(&Username::new(&key))),
            _ => false,
        };
        if want.roles.contains_key(&Username::new(&key)) || team_wanted {
            continue;
        }
        cancel_or_note(inv, opts, b);
    }
}

fn cancel_or_note(inv: &crate::model::Invite, opts: &DiffOptions, b: &mut Builder<'_>) {
    const WHAT: &str = "pending invite not in the policy";
    let Some(id) = &inv.id else {
        let address = match &inv.team {
            Some(t) => format!("invite {} (team {t})", inv.invitee),
            None => format!("invite {}", inv.invitee),
        };
        let message = if opts.prune {
            format!("{WHAT}, but its id is unknown: cannot cancel")
        } else {
            left_alone(WHAT, "cancel")
        };
        b.note(ResourceKind::Invite, address, message);
        return;
    };
    b.prune_or_note(
        opts.prune,
        Change::CancelInvite {
            id: id.clone(),
            invitee: inv.invitee.clone(),
            team: inv.team.clone(),
        },
        ResourceKind::Invite,
        WHAT,
        "cancel",
    );
}

fn diff_teams(desired: &OrgState, live: &OrgState, opts: &DiffOptions, b: &mut Builder<'_>) {
    let Some(want) = &desired.teams else { return };
    let empty_teams = BTreeMap::new();
    let have = live.teams.as_ref().unwrap_or(&empty_teams);
    let org_roles = live.members.as_ref().map(|m| &m.roles);
    let invites = live
        .members
        .as_ref()
        .map(|m| m.invites.as_slice())
        .unwrap_or(&[]);
    let desired_roles = desired.members.as_ref().map(|m| &m.roles);
    // Invites planned by diff_members (org-level), so a team invite replaces nothing.
    let mut planned: BTreeSet<(Username, Option<String>)> = BTreeSet::new();
    let empty_team = Team::default();
    for (name, team) in want {
        let cur = have.get(name);
        match cur {
            None => b.changes.push(Change::CreateTeam {
                team: name.clone(),
                description: team.description.clone().unwrap_or_default(),
            }),
            Some(cur) => {
                if let Some(d) = &team.description {
                    let old = cur.description.clone().unwrap_or_default();
                    if &old != d {
                        b.changes.push(Change::UpdateTeam {
                            team: name.clone(),
                            description: Delta {
                                old,
                                new: d.clone(),
                            },
                        });
                    }
                }
            }
        }
        let cur = cur.unwrap_or(&empty_team);
        for user in &team.members {
            if cur.members.contains(user) {
                continue;
            }
            let in_org = org_roles.is_some_and(|r| r.contains_key(user));
            if in_org {
                b.changes.push(Change::AddTeamMember {
                    team: name.clone(),
                    user: user.clone(),
                });
                continue;
            }
            let invited_to_team = invites.iter().any(|i| {
                invitee_key(&i.invitee) == user.as_str() && i.team.as_deref() == Some(name)
            });
            if invited_to_team || !planned.insert((user.clone(), Some(name.clone()))) {
                continue;
            }
            let role = desired_roles
                .and_then(|r| r.get(user).copied())
                .unwrap_or(Role::Member);
            b.changes.push(Change::Invite {
                invitee: user.clone(),
                role,
                team: Some(name.clone()),
            });
        }
        // Extra members: accepted members only (pending team invites are handled with members).
        for user in &cur.members {
            if team.members.contains(user) {
                continue;
            }
            b.prune_or_note(
                opts.prune,
                Change::RemoveTeamMember {
                    team: name.clone(),
                    user: user.clone(),
                },
                ResourceKind::TeamMember,
                "team member not in the policy",
                "remove",
            );
        }
    }
    for name in have.keys() {
        if want.contains_key(name) {
            continue;
        }
        b.prune_or_note(
            opts.prune,
            Change::DeleteTeam { team: name.clone() },
            ResourceKind::Team,
            "unmanaged team",
            "delete",
        );
    }
    // When org members are unmanaged, pending team invites no longer wanted are still drift.
    if desired.members.is_none() {
        for inv in invites {
            let Some(t) = &inv.team else { continue };
            let wanted = want
                .get(t)
                .is_some_and(|team| team.members.contains(&Username::new(&inv.invitee)));
            if !wanted && want.contains_key(t) {
                cancel_or_note(inv, opts, b);
            }
        }
    }
    // An org-level Invite for a user already invited to a team here is redundant: drop it, the
    // team invite carries the role.
    let team_invited: BTreeSet<Username> = b
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Invite {
                invitee,
                team: Some(_),
                ..
            } => Some(invitee.clone()),
            _ => None,
        })
        .collect();
    b.changes.retain(|c| {
        !matches!(c, Change::Invite { invitee, team: None, .. } if team_invited.contains(invitee))
    });
}

fn diff_repositories(desired: &OrgState, live: &OrgState, opts: &DiffOptions, b: &mut Builder<'_>) {
    for (name, repo) in &desired.repositories {
        let cur = live.repositories.get(name);
        match cur {
            None => b.changes.push(Change::CreateRepository {
                repository: name.clone(),
                fields: RepoFields {
                    private: repo.private,
                    description: repo.description.clone().unwrap_or_default(),
                    full_description: repo.full_description.clone().unwrap_or_default(),
                },
            }),
            Some(cur) => {
                let private = (cur.private != repo.private).then_some(Delta {
                    old: cur.private,
                    new: repo.private,
                });
                let text = |want: &Option<String>, have: &Option<String>| {
                    want.as_ref().and_then(|w| {
                        let h = have.clone().unwrap_or_default();
                        (&h != w).then(|| Delta {
                            old: h,
                            new: w.clone(),
                        })
                    })
                };
                let description = text(&repo.description, &cur.description);
                let full_description = text(&repo.full_description, &cur.full_description);
                if private.is_some() || description.is_some() || full_description.is_some() {
                    b.changes.push(Change::UpdateRepository {
                        repository: name.clone(),
                        private,
                        description,
                        full_description,
                    });
                }
            }
        }
        let Some(want) = &repo.grants else { continue };
        let empty = BTreeMap::new();
        let have = cur.and_then(|c| c.grants.as_ref()).unwrap_or(&empty);
        for (team, &permission) in want {
            match have.get(team) {
                None => b.changes.push(Change::Grant {
                    repository: name.clone(),
                    team: team.clone(),
                    permission,
                }),
                Some(&old) if old != permission => b.changes.push(Change::UpdateGrant {
                    repository: name.clone(),
                    team: team.clone(),
                    permission: Delta {
                        old,
                        new: permission,
                    },
                }),
                Some(_) => {}
            }
        }
        for (team, &permission) in have {
            if want.contains_key(team) {
                continue;
            }
            b.prune_or_note(
                opts.prune,
                Change::Revoke {
                    repository: name.clone(),
                    team: team.clone(),
                    permission,
                },
                ResourceKind::Grant,
                format_args!("{permission} grant not in the policy"),
                "revoke",
            );
        }
    }
    for name in live.repositories.keys() {
        if desired.repositories.contains_key(name) {
            continue;
        }
        b.prune_or_note(
            opts.prune,
            Change::DeleteRepository {
                repository: name.clone(),
            },
            ResourceKind::Repository,
            "unmanaged repository",
            "delete",
        );
    }
}

#[cfg(test)]
mod tests;
