//! Pure diff of desired vs live [`OrgState`]: owns the rules that turn drift into [`Change`]s and
//! [`Note`]s, and the ordering of the resulting [`Plan`]. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Members, OrgState, Role, Team, Username};
use crate::plan::{Action, Change, Delta, FORMAT_VERSION, Note, Plan, RepoFields, ResourceKind};

/// Options that change what the diff is allowed to emit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Emit deletions for live resources the policy does not mention (otherwise they become notes).
    pub prune: bool,
    /// The user running apply: never removed from the organization.
    pub identity: Option<Username>,
}

struct Builder<'a> {
    org: &'a str,
    changes: Vec<Change>,
    notes: Vec<Note>,
}

impl Builder<'_> {
    fn note(&mut self, kind: ResourceKind, address: String, message: impl Into<String>) {
        self.notes.push(Note {
            kind,
            address,
            message: message.into(),
        });
    }
    fn addr(&self, c: &Change) -> String {
        c.address(self.org)
    }
}

/// Computes the plan that turns `live` into `desired`. `desired` fields that are `None` are unmanaged
/// and ignored. The returned plan has `api_calls` 0; the caller fills it in.
pub fn diff(desired: &OrgState, live: &OrgState, opts: &DiffOptions) -> Plan {
    let mut b = Builder {
        org: &desired.org,
        changes: Vec::new(),
        notes: Vec::new(),
    };
    diff_image_access(desired, live, &mut b);
    diff_members(desired, live, opts, &mut b);
    diff_teams(desired, live, opts, &mut b);
    diff_repositories(desired, live, opts, &mut b);
    let org = desired.org.clone();
    let mut changes = b.changes;
    sort_changes(&mut changes, &org);
    let mut notes = b.notes;
    notes.sort();
    notes.dedup();
    Plan {
        format_version: FORMAT_VERSION.to_string(),
        org,
        changes,
        notes,
        api_calls: 0,
    }
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
    // Extra accepted members.
    let owners: Vec<&Username> = have
        .roles
        .iter()
        .filter(|(_, r)| **r == Role::Owner)
        .map(|(u, _)| u)
        .collect();
    let owners_kept = owners
        .iter()
        .filter(|u| want.roles.contains_key(**u))
        .count();
    let mut owners_removed = 0usize;
    for (user, &role) in &have.roles {
        if want.roles.contains_key(user) {
            continue;
        }
        let addr = format!("member {user}");
        if !opts.prune {
            b.note(
                ResourceKind::Member,
                addr,
                format!("{role} not in the policy (left alone; use --prune to remove)"),
            );
            continue;
        }
        if opts.identity.as_ref() == Some(user) {
            b.note(
                ResourceKind::Member,
                addr,
                "not in the policy, but it is the identity running apply: not removed",
            );
            continue;
        }
        if role == Role::Owner && owners_kept + owners_removed + 1 >= owners.len() {
            b.note(
                ResourceKind::Member,
                addr,
                "not in the policy, but it is the last owner of the organization: not removed",
            );
            continue;
        }
        if role == Role::Owner {
            owners_removed += 1;
        }
        b.changes.push(Change::RemoveMember {
            user: user.clone(),
            role,
        });
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
    let address = match &inv.team {
        Some(t) => format!("invite {} (team {t})", inv.invitee),
        None => format!("invite {}", inv.invitee),
    };
    match (&inv.id, opts.prune) {
        (Some(id), true) => b.changes.push(Change::CancelInvite {
            id: id.clone(),
            invitee: inv.invitee.clone(),
            team: inv.team.clone(),
        }),
        (None, true) => b.note(
            ResourceKind::Invite,
            address,
            "pending invite not in the policy, but its id is unknown: cannot cancel",
        ),
        (_, false) => b.note(
            ResourceKind::Invite,
            address,
            "pending invite not in the policy (left alone; use --prune to cancel)",
        ),
    }
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
            let c = Change::RemoveTeamMember {
                team: name.clone(),
                user: user.clone(),
            };
            if opts.prune {
                b.changes.push(c);
            } else {
                let addr = b.addr(&c);
                b.note(
                    ResourceKind::TeamMember,
                    addr,
                    "team member not in the policy (left alone; use --prune to remove)",
                );
            }
        }
    }
    for name in have.keys() {
        if want.contains_key(name) {
            continue;
        }
        if opts.prune {
            b.changes.push(Change::DeleteTeam { team: name.clone() });
        } else {
            b.note(
                ResourceKind::Team,
                format!("team {name}"),
                "unmanaged team (left alone; use --prune to delete)",
            );
        }
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
            let c = Change::Revoke {
                repository: name.clone(),
                team: team.clone(),
                permission,
            };
            if opts.prune {
                b.changes.push(c);
            } else {
                let addr = b.addr(&c);
                b.note(
                    ResourceKind::Grant,
                    addr,
                    format!(
                        "{permission} grant not in the policy (left alone; use --prune to revoke)"
                    ),
                );
            }
        }
    }
    for name in live.repositories.keys() {
        if desired.repositories.contains_key(name) {
            continue;
        }
        let c = Change::DeleteRepository {
            repository: name.clone(),
        };
        if opts.prune {
            b.changes.push(c);
        } else {
            let addr = b.addr(&c);
            b.note(
                ResourceKind::Repository,
                addr,
                "unmanaged repository (left alone)",
            );
        }
    }
}
