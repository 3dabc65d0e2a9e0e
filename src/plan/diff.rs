//! Pure diff of desired vs live [`OrgState`]: owns the rules that turn drift into [`Change`]s and
//! [`Note`]s, and the ordering of the resulting [`Plan`]. One [`diff`] builds the whole plan, the
//! image copies and hand-pushed tags included (their rows: [`super::images`]). No I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Members, OrgState, Role, Team, Username};
use crate::plan::{Action, Change, Delta, FORMAT_VERSION, Note, Plan, RepoFields, ResourceKind};

/// Options that change what the diff is allowed to emit. Nothing here depends on who runs the
/// diff: the plan job's read-only identity and the apply job's write identity get the same plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Emit deletions for live resources the policy does not mention (otherwise they become notes).
    pub prune: bool,
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
    let (changes, notes) = changes_and_notes(desired, live, opts);
    let drift = if opts.prune {
        Vec::new()
    } else {
        let (pruned, _) = changes_and_notes(desired, live, &DiffOptions { prune: true });
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
        format_version: FORMAT_VERSION.to_string(),
        org: desired.org.clone(),
        changes,
        notes,
        api_calls: 0,
        access,
        snapshot: None,
        drift: Default::default(),
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
            "effective access rests on a partial read: Docker Hub offered no grant listing per              repository, and vetted read the grants of {n} repositor{} (this one first) for the              teams the policy grants there and as many other teams as its call budget allowed;              access through the teams left unread is not shown",
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
mod tests {
    use super::*;
    use crate::model::{ImageAccess, Invite, Permission, Repository};

    fn u(s: &str) -> Username {
        Username::new(s)
    }
    fn members(roles: &[(&str, Role)], invites: Vec<Invite>) -> Members {
        Members {
            roles: roles.iter().map(|(n, r)| (u(n), *r)).collect(),
            invites,
        }
    }
    fn invite(who: &str, role: Role, team: Option<&str>) -> Invite {
        Invite {
            id: Some(format!("id-{who}")),
            invitee: who.into(),
            role,
            team: team.map(Into::into),
        }
    }
    fn team(desc: Option<&str>, users: &[&str]) -> Team {
        Team {
            description: desc.map(Into::into),
            members: users.iter().map(|n| u(n)).collect(),
        }
    }
    fn repo(
        private: bool,
        desc: Option<&str>,
        grants: Option<&[(&str, Permission)]>,
    ) -> Repository {
        Repository {
            private,
            description: desc.map(Into::into),
            full_description: None,
            grants: grants.map(|g| g.iter().map(|(t, p)| (t.to_string(), *p)).collect()),
            mirror: None,
            tags: None,
        }
    }
    fn prune() -> DiffOptions {
        DiffOptions { prune: true }
    }
    fn addrs(p: &Plan) -> Vec<String> {
        p.changes.iter().map(|c| c.address(&p.org)).collect()
    }

    #[test]
    fn unmanaged_nones_produce_nothing() {
        let desired = OrgState::empty("acme");
        let mut live = OrgState::empty("acme");
        live.image_access = Some(ImageAccess {
            enabled: true,
            allow_official_images: true,
            allow_verified_publishers: false,
        });
        live.members = Some(members(&[("a", Role::Owner)], vec![]));
        live.teams = Some([("t".to_string(), team(Some("x"), &["a"]))].into());
        let p = diff(&desired, &live, &prune());
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        assert!(p.notes.is_empty());
        assert_eq!(p.format_version, FORMAT_VERSION);
    }

    #[test]
    fn image_access_set_when_different() {
        let ia = ImageAccess {
            enabled: true,
            allow_official_images: true,
            allow_verified_publishers: true,
        };
        let mut desired = OrgState::empty("acme");
        desired.image_access = Some(ia);
        let live = OrgState::empty("acme");
        let p = diff(&desired, &live, &DiffOptions::default());
        assert_eq!(
            p.changes,
            vec![Change::SetImageAccess { old: None, new: ia }]
        );
        let mut live2 = OrgState::empty("acme");
        live2.image_access = Some(ia);
        assert!(
            diff(&desired, &live2, &DiffOptions::default())
                .changes
                .is_empty()
        );
    }

    #[test]
    fn members_roles_invites_and_prune() {
        let mut desired = OrgState::empty("acme");
        desired.members = Some(members(
            &[
                ("boss", Role::Owner),
                ("ed", Role::Editor),
                ("new", Role::Member),
                ("pend", Role::Editor),
            ],
            vec![],
        ));
        let mut live = OrgState::empty("acme");
        live.members = Some(members(
            &[
                ("boss", Role::Owner),
                ("ed", Role::Member),
                ("old", Role::Member),
            ],
            vec![
                invite("pend", Role::Member, None),
                invite("stale", Role::Member, None),
            ],
        ));
        let p = diff(&desired, &live, &DiffOptions::default());
        assert_eq!(
            p.changes,
            vec![
                Change::SetRole {
                    user: u("ed"),
                    old: Role::Member,
                    new: Role::Editor
                },
                Change::Invite {
                    invitee: u("new"),
                    role: Role::Member,
                    team: None
                },
            ]
        );
        let notes: Vec<_> = p.notes.iter().map(|n| n.address.as_str()).collect();
        assert_eq!(
            notes,
            vec!["member old", "invite pend", "invite stale"],
            "sorted by kind, address"
        );
        assert!(p.notes[1].message.contains("after the invite is accepted"));

        let p = diff(&desired, &live, &prune());
        assert_eq!(
            addrs(&p),
            vec!["invite stale", "member old", "member ed", "invite new"],
            "deletions first (invite before member), then creates"
        );
        assert!(matches!(&p.changes[0], Change::CancelInvite { id, .. } if id == "id-stale"));
    }

    #[test]
    fn member_removals_do_not_depend_on_who_runs_the_diff() {
        let mut desired = OrgState::empty("acme");
        desired.members = Some(members(&[("ed", Role::Editor)], vec![]));
        let mut live = OrgState::empty("acme");
        live.members = Some(members(
            &[
                ("ed", Role::Editor),
                ("o1", Role::Owner),
                ("o2", Role::Owner),
                ("me", Role::Member),
            ],
            vec![],
        ));
        // Every extra member goes, the last owners and whoever runs apply included: apply's
        // safety checks refuse those (src/plan/safety.rs), not the diff.
        let p = diff(&desired, &live, &prune());
        assert_eq!(addrs(&p), vec!["member me", "member o1", "member o2"]);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        assert_eq!(
            crate::plan::safety::check(&p, &live, 1.0),
            vec![crate::plan::safety::Violation::LastOwner { user: "o2".into() }]
        );
        // Without prune, they are drift left alone.
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(p.changes.is_empty());
        let notes: Vec<_> = p.notes.iter().map(|n| n.address.as_str()).collect();
        assert_eq!(notes, vec!["member me", "member o1", "member o2"]);
    }

    #[test]
    fn teams_create_update_delete_and_membership() {
        let mut desired = OrgState::empty("acme");
        desired.members = Some(members(&[("a", Role::Member), ("b", Role::Editor)], vec![]));
        desired.teams = Some(
            [
                (
                    "devs".to_string(),
                    team(Some("Developers"), &["a", "b", "c", "d"]),
                ),
                ("ops".to_string(), team(None, &[])),
                ("new".to_string(), team(None, &["a"])),
            ]
            .into(),
        );
        let mut live = OrgState::empty("acme");
        live.members = Some(members(
            &[("a", Role::Member), ("x", Role::Member)],
            vec![invite("d", Role::Member, Some("devs"))],
        ));
        live.teams = Some(
            [
                ("devs".to_string(), team(Some("old"), &["x"])),
                ("ops".to_string(), team(Some("keep"), &[])),
                ("gone".to_string(), team(None, &[])),
            ]
            .into(),
        );
        let p = diff(&desired, &live, &DiffOptions::default());
        assert_eq!(
            p.changes,
            vec![
                Change::Invite {
                    invitee: u("b"),
                    role: Role::Editor,
                    team: Some("devs".into())
                },
                Change::Invite {
                    invitee: u("c"),
                    role: Role::Member,
                    team: Some("devs".into())
                },
                Change::UpdateTeam {
                    team: "devs".into(),
                    description: Delta {
                        old: "old".into(),
                        new: "Developers".into()
                    }
                },
                Change::CreateTeam {
                    team: "new".into(),
                    description: String::new()
                },
                Change::AddTeamMember {
                    team: "devs".into(),
                    user: u("a")
                },
                Change::AddTeamMember {
                    team: "new".into(),
                    user: u("a")
                },
            ]
        );
        let notes: Vec<_> = p.notes.iter().map(|n| n.address.as_str()).collect();
        assert_eq!(notes, vec!["member x", "team gone", "team_member devs/x"]);

        let p = diff(&desired, &live, &prune());
        assert_eq!(
            &addrs(&p)[..3],
            ["team_member devs/x", "team gone", "member x"]
        );
    }

    #[test]
    fn teams_managed_without_members_uses_live_members() {
        let mut desired = OrgState::empty("acme");
        desired.teams = Some([("t".to_string(), team(None, &["in", "out"]))].into());
        let mut live = OrgState::empty("acme");
        live.members = Some(members(
            &[("in", Role::Member)],
            vec![invite("old", Role::Member, Some("t"))],
        ));
        live.teams = Some([("t".to_string(), team(None, &[]))].into());
        let p = diff(&desired, &live, &prune());
        assert_eq!(
            p.changes,
            vec![
                Change::CancelInvite {
                    id: "id-old".into(),
                    invitee: "old".into(),
                    team: Some("t".into())
                },
                Change::Invite {
                    invitee: u("out"),
                    role: Role::Member,
                    team: Some("t".into())
                },
                Change::AddTeamMember {
                    team: "t".into(),
                    user: u("in")
                },
            ]
        );
    }

    #[test]
    fn new_user_in_a_team_gets_one_team_invite_with_the_org_role() {
        let mut desired = OrgState::empty("acme");
        desired.members = Some(members(&[("c", Role::Editor)], vec![]));
        desired.teams = Some([("t".to_string(), team(None, &["c"]))].into());
        let mut live = OrgState::empty("acme");
        live.members = Some(members(&[], vec![]));
        live.teams = Some([("t".to_string(), team(None, &[]))].into());
        let p = diff(&desired, &live, &DiffOptions::default());
        assert_eq!(
            p.changes,
            vec![Change::Invite {
                invitee: u("c"),
                role: Role::Editor,
                team: Some("t".into())
            }]
        );
        // Already invited to the team: nothing to do, and the invite is not drift.
        live.members = Some(members(&[], vec![invite("c", Role::Editor, Some("t"))]));
        let p = diff(&desired, &live, &prune());
        assert!(p.changes.is_empty() && p.notes.is_empty(), "{p:?}");
    }

    #[test]
    fn drift_left_alone_is_what_prune_would_change_and_who_gains_by_it() {
        let mut desired = OrgState::empty("acme");
        desired.teams = Some([("devs".to_string(), team(None, &["bob"]))].into());
        desired.repositories.insert(
            "api".into(),
            repo(true, None, Some(&[("devs", Permission::Write)])),
        );
        let mut live = desired.clone();
        live.members = Some(members(
            &[("bob", Role::Member), ("eve", Role::Member)],
            vec![],
        ));
        // A team given admin by hand on a repository whose grants the policy manages.
        live.teams
            .as_mut()
            .unwrap()
            .insert("ops".into(), team(None, &["eve"]));
        live.repositories.get_mut("api").unwrap().grants = Some(
            [
                ("devs".to_string(), Permission::Write),
                ("ops".to_string(), Permission::Admin),
            ]
            .into(),
        );
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        let drift: Vec<_> = p.drift.changes.iter().map(|c| c.address("acme")).collect();
        assert_eq!(drift, vec!["grant acme/api:ops", "team ops"]);
        assert_eq!(
            p.drift.access,
            vec![crate::plan::AccessChange {
                subject: crate::plan::access::Subject::Person("eve".into()),
                repository: "api".into(),
                old: None,
                new: Some(crate::plan::access::Level::Admin),
                pending: false,
                outside: None,
            }]
        );
        assert_eq!(
            p.drift.access[0].sentence("acme"),
            "eve gains admin on acme/api"
        );
        // With prune they are the plan's changes, and no drift is left.
        let p = diff(&desired, &live, &prune());
        assert_eq!(addrs(&p), vec!["grant acme/api:ops", "team ops"]);
        assert!(p.drift.is_empty() && p.drift.access.is_empty());
        assert!(
            p.access
                .iter()
                .any(|a| a.sentence("acme") == "eve loses admin on acme/api")
        );
    }

    #[test]
    fn repositories_and_grants() {
        let mut desired = OrgState::empty("acme");
        desired.repositories.insert(
            "fresh".into(),
            repo(true, None, Some(&[("devs", Permission::Read)])),
        );
        desired.repositories.insert(
            "redis".into(),
            repo(
                false,
                Some("Redis"),
                Some(&[("devs", Permission::Write), ("ops", Permission::Admin)]),
            ),
        );
        desired
            .repositories
            .insert("same".into(), repo(false, None, None));
        let mut live = OrgState::empty("acme");
        live.repositories.insert(
            "redis".into(),
            repo(
                true,
                Some("old"),
                Some(&[("devs", Permission::Read), ("qa", Permission::Read)]),
            ),
        );
        let mut same = repo(false, Some("whatever"), Some(&[("x", Permission::Read)]));
        same.full_description = Some("long".into());
        live.repositories.insert("same".into(), same);
        live.repositories
            .insert("legacy".into(), repo(false, None, Some(&[])));

        let p = diff(&desired, &live, &DiffOptions::default());
        assert_eq!(
            p.changes,
            vec![
                Change::CreateRepository {
                    repository: "fresh".into(),
                    fields: RepoFields {
                        private: true,
                        description: String::new(),
                        full_description: String::new()
                    }
                },
                Change::UpdateRepository {
                    repository: "redis".into(),
                    private: Some(Delta {
                        old: true,
                        new: false
                    }),
                    description: Some(Delta {
                        old: "old".into(),
                        new: "Redis".into()
                    }),
                    full_description: None,
                },
                Change::Grant {
                    repository: "fresh".into(),
                    team: "devs".into(),
                    permission: Permission::Read
                },
                Change::UpdateGrant {
                    repository: "redis".into(),
                    team: "devs".into(),
                    permission: Delta {
                        old: Permission::Read,
                        new: Permission::Write
                    }
                },
                Change::Grant {
                    repository: "redis".into(),
                    team: "ops".into(),
                    permission: Permission::Admin
                },
            ]
        );
        let notes: Vec<_> = p
            .notes
            .iter()
            .map(|n| (n.address.as_str(), n.message.as_str()))
            .collect();
        assert_eq!(
            notes[1],
            (
                "grant acme/redis:qa",
                "read grant not in the policy (left alone; set prune = true in [settings] to revoke)"
            )
        );
        assert_eq!(
            notes[0],
            (
                "repository acme/legacy",
                "unmanaged repository (left alone; set prune = true in [settings] to delete)"
            )
        );

        let p = diff(&desired, &live, &prune());
        assert_eq!(
            &addrs(&p)[..2],
            ["grant acme/redis:qa", "repository acme/legacy"]
        );
        assert_eq!(p.summary().destroy, 2);
    }

    #[test]
    fn allowlist_rows_notes_and_access() {
        use crate::model::Mirror;
        use crate::plan::access::{Outside, Subject};
        let mut desired = OrgState::empty("acme");
        desired.allowlist = Some(
            ["bitnami/redis", "library/nginx", "acme/api"]
                .map(String::from)
                .into(),
        );
        let mut mirrored = repo(true, None, None);
        mirrored.mirror = Some(Mirror {
            from: "docker.io/bitnami/redis".into(),
            tags: BTreeMap::new(),
            platforms: None,
            signatures: false,
        });
        desired.repositories.insert("redis".into(), mirrored);
        let mut live = OrgState::empty("acme");
        live.allowlist = Some(["library/nginx", "grafana/loki"].map(String::from).into());
        live.image_access = Some(ImageAccess {
            enabled: true,
            allow_official_images: true,
            allow_verified_publishers: true,
        });
        let p = diff(&desired, &live, &DiffOptions::default());
        let allow: Vec<&Change> = p
            .changes
            .iter()
            .filter(|c| c.kind() == ResourceKind::AllowedRepository)
            .collect();
        assert_eq!(
            allow,
            [
                &Change::AllowRepository {
                    repository: "acme/api".into()
                },
                &Change::AllowRepository {
                    repository: "bitnami/redis".into()
                },
            ]
        );
        let note = |addr: &str, text: &str| {
            p.notes
                .iter()
                .any(|n| n.address == addr && n.message.contains(text))
        };
        assert!(note(
            "allowed_repository docker.io/bitnami/redis",
            "also mirrored as acme/redis"
        ));
        assert!(note(
            "allowed_repository docker.io/acme/api",
            "a repository of the organization"
        ));
        assert!(note(
            "allowed_repository docker.io/grafana/loki",
            "left alone"
        ));
        assert_eq!(
            p.drift.changes,
            [Change::DisallowRepository {
                repository: "grafana/loki".into()
            }]
        );
        let redis = p
            .access
            .iter()
            .find(|a| a.repository == "docker.io/bitnami/redis")
            .expect("an access row");
        assert_eq!(redis.subject, Subject::Members);
        assert_eq!(
            redis.outside,
            Some(Outside::Allowlist {
                mirrored_as: vec!["redis".into()]
            })
        );
        assert!(
            redis
                .sentence("acme")
                .ends_with("unreviewed; also mirrored as acme/redis)")
        );

        // Image Access Management off: the list changes nothing for members, and the plan says so.
        live.image_access = live.image_access.map(|ia| ImageAccess {
            enabled: false,
            ..ia
        });
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(p.access.is_empty(), "{:?}", p.access);
        assert!(
            p.notes
                .iter()
                .any(|n| n.message.contains("Image Access Management is off"))
        );

        // Applied: nothing left to do.
        live.allowlist = desired.allowlist.clone();
        let p = diff(&desired, &live, &prune());
        assert!(
            p.changes
                .iter()
                .all(|c| c.kind() != ResourceKind::AllowedRepository),
            "{:?}",
            p.changes
        );
    }

    #[test]
    fn registry_access_set_when_different_and_access_compared() {
        use crate::model::{CustomRegistry, RegistryAccess};
        let on = RegistryAccess {
            enabled: true,
            docker_hub: true,
            custom: vec![CustomRegistry {
                address: "ghcr.io".into(),
                friendly_name: "GitHub".into(),
                allowed: true,
            }],
        };
        let mut desired = OrgState::empty("acme");
        desired.registry_access = Some(on.clone());
        let mut live = OrgState::empty("acme");
        live.registry_access = Some(RegistryAccess {
            enabled: true,
            docker_hub: true,
            custom: vec![],
        });
        let p = diff(&desired, &live, &DiffOptions::default());
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].action(), Action::Update);
        let lines: Vec<String> = p.access.iter().map(|a| a.sentence("acme")).collect();
        assert_eq!(
            lines,
            ["members gain pull from registry ghcr.io (Registry Access Management)"]
        );
        // Turning it off gives every registry.
        desired.registry_access = Some(RegistryAccess {
            enabled: false,
            ..on.clone()
        });
        live.registry_access = Some(on.clone());
        let p = diff(&desired, &live, &DiffOptions::default());
        let lines: Vec<String> = p.access.iter().map(|a| a.sentence("acme")).collect();
        assert_eq!(
            lines,
            [
                "members gain pull from every registry except docker.io, ghcr.io (Registry Access Management off)"
            ]
        );
        live.registry_access = desired.registry_access.clone();
        assert!(
            diff(&desired, &live, &DiffOptions::default())
                .changes
                .is_empty()
        );
    }
}
