//! Safety checks on a plan before apply: the mass-deletion guard per resource kind, refusal to
//! remove the last owner or the identity running apply, and to mirror images as a member who is
//! not an owner (Image Access Management blocks community pulls for everyone else).
//!
//! The diff plans what the policy says whoever runs it; these rules are checked at apply time,
//! against the identity that applies. [`notes`] tells the plan's readers in advance which changes
//! apply would refuse, so a plan is never a surprise.

use std::fmt;

use crate::model::{OrgState, Role};
use crate::plan::{Action, Change, Note, Plan, ResourceKind};

/// A reason to refuse applying a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// The plan deletes more than `threshold` of the live items of one kind.
    MassDeletion {
        kind: ResourceKind,
        deleting: usize,
        live: usize,
        threshold: f64,
    },
    /// The plan removes the last owner of the organization.
    LastOwner { user: String },
    /// The plan removes the identity running apply.
    Identity { user: String },
    /// The plan copies images but the identity running apply is a member without the owner role.
    MirrorNeedsOwner { user: String, role: Role },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::MassDeletion {
                kind,
                deleting,
                live,
                threshold,
            } => write!(
                f,
                "refusing to delete {deleting} of {live} {} items (more than {:.0}%); review the \
                 plan, then re-run with --force or raise `delete_threshold` in the policy",
                kind.as_str(),
                threshold * 100.0
            ),
            Violation::MirrorNeedsOwner { user, role } => write!(
                f,
                "{user} has the {role} role in the organization, but copying community images needs an \
                 owner (Image Access Management blocks community pulls for everyone else); run \
                 apply as an owner"
            ),
            Violation::LastOwner { user } => write!(
                f,
                "refusing to remove {user}, the last owner of the organization; add another owner \
                 to the policy first"
            ),
            Violation::Identity { user } => write!(
                f,
                "refusing to remove {user}, the identity running apply; add it to the policy or \
                 run apply as another owner"
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// Live item counts per kind (only kinds that were read).
fn live_count(live: &OrgState, kind: ResourceKind) -> usize {
    match kind {
        ResourceKind::ImageAccess => usize::from(live.image_access.is_some()),
        ResourceKind::RegistryAccess => usize::from(live.registry_access.is_some()),
        ResourceKind::AllowedRepository => live.allowlist.as_ref().map_or(0, |a| a.len()),
        ResourceKind::Member => live.members.as_ref().map_or(0, |m| m.roles.len()),
        ResourceKind::Invite => live.members.as_ref().map_or(0, |m| m.invites.len()),
        ResourceKind::Team => live.teams.as_ref().map_or(0, |t| t.len()),
        ResourceKind::TeamMember => live
            .teams
            .as_ref()
            .map_or(0, |t| t.values().map(|t| t.members.len()).sum()),
        ResourceKind::Repository => live.repositories.len(),
        ResourceKind::Grant => live
            .repositories
            .values()
            .map(|r| r.grants.as_ref().map_or(0, |g| g.len()))
            .sum(),
        // Mirrored tags are not part of the live state read here: deleting hand-pushed tags
        // (prune) is not guarded by count.
        ResourceKind::Image => 0,
    }
}

const KINDS: [ResourceKind; 8] = [
    ResourceKind::ImageAccess,
    ResourceKind::AllowedRepository,
    ResourceKind::Member,
    ResourceKind::Invite,
    ResourceKind::Team,
    ResourceKind::TeamMember,
    ResourceKind::Repository,
    ResourceKind::Grant,
];

/// Checks `plan` against `live`. `threshold` is the largest fraction (0.0..=1.0) of a kind's live
/// items a plan may delete when that kind has more than 4 live items. Returns every violation found.
pub fn check(plan: &Plan, live: &OrgState, threshold: f64) -> Vec<Violation> {
    let mut out = Vec::new();
    for kind in KINDS {
        let deleting = plan
            .changes
            .iter()
            .filter(|c| c.kind() == kind && c.action() == Action::Delete)
            .count();
        let n = live_count(live, kind);
        if n > 4 && (deleting as f64) > threshold * (n as f64) {
            out.push(Violation::MassDeletion {
                kind,
                deleting,
                live: n,
                threshold,
            });
        }
    }
    if let Some(members) = &live.members {
        let owners: Vec<_> = members
            .roles
            .iter()
            .filter(|(_, r)| **r == Role::Owner)
            .map(|(u, _)| u)
            .collect();
        let removed_owners: Vec<_> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::RemoveMember { user, .. } if owners.contains(&user) => Some(user),
                Change::SetRole { user, new, .. }
                    if *new != Role::Owner && owners.contains(&user) =>
                {
                    Some(user)
                }
                _ => None,
            })
            .collect();
        if !owners.is_empty() && removed_owners.len() >= owners.len() {
            if let Some(user) = removed_owners.last() {
                out.push(Violation::LastOwner {
                    user: user.to_string(),
                });
            }
        }
    }
    out
}

/// Refuses copying images as a member whose role (read from the live state, when roles are
/// managed) is not owner. Unknown roles (unmanaged members, an organization access token) pass.
pub fn check_mirror_identity(
    plan: &Plan,
    live: &OrgState,
    identity: &crate::model::Username,
) -> Option<Violation> {
    if !plan
        .changes
        .iter()
        .any(|c| matches!(c, Change::CopyImage { .. }))
    {
        return None;
    }
    let role = *live.members.as_ref()?.roles.get(identity)?;
    (role != Role::Owner).then(|| Violation::MirrorNeedsOwner {
        user: identity.to_string(),
        role,
    })
}

/// Refuses removing `identity` from the organization.
pub fn check_identity(plan: &Plan, identity: &crate::model::Username) -> Option<Violation> {
    plan.changes.iter().find_map(|c| match c {
        Change::RemoveMember { user, .. } if user == identity => Some(Violation::Identity {
            user: user.to_string(),
        }),
        _ => None,
    })
}

/// Notes for the plan about what apply would refuse: every identity-independent [`check`]
/// violation, and every owner the plan removes (apply refuses to remove the identity it runs as,
/// and only an owner can remove members, so any of them may be that identity).
pub fn notes(plan: &Plan, live: &OrgState, threshold: f64) -> Vec<Note> {
    let mut out: Vec<Note> = check(plan, live, threshold)
        .into_iter()
        .map(|v| {
            let (kind, address) = match &v {
                Violation::MassDeletion { kind, .. } => (*kind, kind.as_str().to_string()),
                Violation::LastOwner { user } | Violation::Identity { user } => {
                    (ResourceKind::Member, format!("member {user}"))
                }
                Violation::MirrorNeedsOwner { user, .. } => {
                    (ResourceKind::Image, format!("member {user}"))
                }
            };
            Note {
                kind,
                address,
                message: format!("apply will refuse this plan: {v}"),
            }
        })
        .collect();
    for c in &plan.changes {
        if let Change::RemoveMember {
            user,
            role: Role::Owner,
        } = c
        {
            out.push(Note {
                kind: ResourceKind::Member,
                address: format!("member {user}"),
                message: format!(
                    "apply refuses to remove the identity it runs as: apply as an owner other than {user}"
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirroring_needs_an_owner_when_roles_are_known() {
        let copy = Change::CopyImage {
            repository: "redis".into(),
            tag: "7.2".into(),
            source: format!("docker.io/bitnami/redis:7.2@sha256:{}", "a".repeat(64)),
            digest: format!("sha256:{}", "a".repeat(64)),
            old_digest: None,
            platforms: None,
            signatures: false,
            bytes: 0,
            manifests: 1,
        };
        let mut live = OrgState::empty("acme");
        let bob = Username::new("bob");
        let alice = Username::new("alice");
        let p = plan(vec![copy]);
        // Roles not read: nothing to say.
        assert_eq!(check_mirror_identity(&p, &live, &bob), None);
        let mut members = Members::default();
        members.roles.insert(alice.clone(), Role::Owner);
        members.roles.insert(bob.clone(), Role::Editor);
        live.members = Some(members);
        assert_eq!(check_mirror_identity(&p, &live, &alice), None);
        let v = check_mirror_identity(&p, &live, &bob).unwrap();
        assert!(v.to_string().contains("needs an owner"), "{v}");
        // No copies: no objection.
        assert_eq!(check_mirror_identity(&plan(vec![]), &live, &bob), None);
        // An identity that is not a member (an organization access token) passes.
        assert_eq!(
            check_mirror_identity(&p, &live, &Username::new("acme")),
            None
        );
    }

    use crate::model::{Members, Repository, Username};

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            targets: Vec::new(),
            org: "acme".into(),
            changes,
            notes: vec![],
            api_calls: 0,
            access: Vec::new(),
            snapshot: None,
            drift: Default::default(),
        }
    }
    fn live_repos(n: usize) -> OrgState {
        let mut live = OrgState::empty("acme");
        for i in 0..n {
            live.repositories.insert(
                format!("r{i}"),
                Repository {
                    private: false,
                    description: None,
                    full_description: None,
                    grants: None,
                    mirror: None,
                    tags: None,
                },
            );
        }
        live
    }
    fn deletes(n: usize) -> Vec<Change> {
        (0..n)
            .map(|i| Change::DeleteRepository {
                repository: format!("r{i}"),
            })
            .collect()
    }

    #[test]
    fn mass_deletion_over_threshold_is_refused() {
        let live = live_repos(10);
        assert!(check(&plan(deletes(3)), &live, 0.3).is_empty());
        let v = check(&plan(deletes(4)), &live, 0.3);
        assert_eq!(
            v,
            vec![Violation::MassDeletion {
                kind: ResourceKind::Repository,
                deleting: 4,
                live: 10,
                threshold: 0.3
            }]
        );
        let msg = v[0].to_string();
        assert!(
            msg.contains("--force") && msg.contains("delete_threshold"),
            "{msg}"
        );
    }

    #[test]
    fn only_deletions_of_the_kind_count_against_the_threshold() {
        let live = live_repos(10);
        // Creates and updates of the kind are not deletions.
        let mut changes = deletes(3);
        for i in 0..10 {
            changes.push(Change::CreateRepository {
                repository: format!("new{i}"),
                fields: crate::plan::RepoFields {
                    private: true,
                    description: String::new(),
                    full_description: String::new(),
                },
            });
            changes.push(Change::UpdateRepository {
                repository: format!("r{i}"),
                private: Some(crate::plan::Delta {
                    old: false,
                    new: true,
                }),
                description: None,
                full_description: None,
            });
        }
        assert!(check(&plan(changes), &live, 0.3).is_empty());
        // Deletions of another kind do not count against this one.
        let mut changes = deletes(3);
        changes.extend((0..10).map(|i| Change::DeleteTeam {
            team: format!("t{i}"),
        }));
        assert!(check(&plan(changes), &live, 0.3).is_empty());
        // The count is exactly the deletions: 4 of 10 over 30%, reported as such.
        let v = check(&plan(deletes(4)), &live, 0.3);
        assert!(
            matches!(
                v.as_slice(),
                [Violation::MassDeletion {
                    deleting: 4,
                    live: 10,
                    ..
                }]
            ),
            "{v:?}"
        );
    }

    fn owners_live(owners: &[&str], others: &[&str]) -> OrgState {
        let mut live = OrgState::empty("acme");
        let mut members = Members::default();
        for o in owners {
            members.roles.insert(Username::new(o), Role::Owner);
        }
        for m in others {
            members.roles.insert(Username::new(m), Role::Member);
        }
        live.members = Some(members);
        live
    }
    fn remove(user: &str, role: Role) -> Change {
        Change::RemoveMember {
            user: Username::new(user),
            role,
        }
    }
    fn set_role(user: &str, old: Role, new: Role) -> Change {
        Change::SetRole {
            user: Username::new(user),
            old,
            new,
        }
    }

    #[test]
    fn last_owner_guard_counts_only_owners_leaving() {
        let live = owners_live(&["o1", "o2"], &["m1", "m2"]);
        // One of two owners leaves: another remains.
        assert!(check(&plan(vec![remove("o1", Role::Owner)]), &live, 1.0).is_empty());
        assert!(
            check(
                &plan(vec![set_role("o2", Role::Owner, Role::Editor)]),
                &live,
                1.0
            )
            .is_empty()
        );
        // Both leave, one removed and one demoted: the last one is named.
        let both = plan(vec![
            remove("o1", Role::Owner),
            set_role("o2", Role::Owner, Role::Member),
        ]);
        assert_eq!(
            check(&both, &live, 1.0),
            vec![Violation::LastOwner { user: "o2".into() }]
        );
        // Members leaving or changing role are not owners leaving, however many.
        let members = plan(vec![
            remove("m1", Role::Member),
            set_role("m2", Role::Member, Role::Editor),
            set_role("o1", Role::Owner, Role::Owner),
            set_role("o2", Role::Owner, Role::Owner),
        ]);
        assert!(check(&members, &live, 1.0).is_empty());
        // Promoting a member while removing one owner of two: still one owner left.
        let promote = plan(vec![
            set_role("m1", Role::Member, Role::Owner),
            remove("o1", Role::Owner),
        ]);
        assert!(check(&promote, &live, 1.0).is_empty());
        // No owners at all (say, roles read without any): nothing to protect.
        let none = owners_live(&[], &["m1"]);
        assert!(check(&plan(vec![remove("m1", Role::Member)]), &none, 1.0).is_empty());
    }

    #[test]
    fn the_plan_notes_what_apply_would_refuse() {
        let live = owners_live(&["o1"], &["m1"]);
        let p = plan(vec![remove("o1", Role::Owner), remove("m1", Role::Member)]);
        let n = notes(&p, &live, 1.0);
        let said: Vec<_> = n
            .iter()
            .map(|n| (n.address.as_str(), n.message.as_str()))
            .collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(said[0].0, "member o1");
        assert!(
            said[0]
                .1
                .starts_with("apply will refuse this plan: refusing to remove o1, the last owner"),
            "{said:?}"
        );
        assert_eq!(
            said[1],
            (
                "member o1",
                "apply refuses to remove the identity it runs as: apply as an owner other than o1"
            )
        );
        // Mass deletion, noted under the kind.
        let n = notes(&plan(deletes(4)), &live_repos(10), 0.3);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].kind, n[0].address.as_str()),
            (ResourceKind::Repository, "repository")
        );
        assert!(n[0].message.contains("refusing to delete 4 of 10"), "{n:?}");
        // Nothing to refuse: no notes.
        assert!(notes(&plan(deletes(3)), &live_repos(10), 0.3).is_empty());
    }

    #[test]
    fn small_kinds_are_not_guarded() {
        let live = live_repos(4);
        assert!(check(&plan(deletes(4)), &live, 0.1).is_empty());
    }

    #[test]
    fn last_owner_and_identity_are_refused() {
        let mut live = OrgState::empty("acme");
        live.members = Some(Members {
            roles: [
                (Username::new("o1"), Role::Owner),
                (Username::new("m"), Role::Member),
            ]
            .into(),
            invites: vec![],
        });
        let remove = Change::RemoveMember {
            user: Username::new("o1"),
            role: Role::Owner,
        };
        let v = check(&plan(vec![remove.clone()]), &live, 1.0);
        assert_eq!(v, vec![Violation::LastOwner { user: "o1".into() }]);
        let demote = Change::SetRole {
            user: Username::new("o1"),
            old: Role::Owner,
            new: Role::Member,
        };
        assert_eq!(check(&plan(vec![demote]), &live, 1.0).len(), 1);
        let other = Change::RemoveMember {
            user: Username::new("m"),
            role: Role::Member,
        };
        assert!(check(&plan(vec![other.clone()]), &live, 1.0).is_empty());

        let id = Username::new("m");
        assert_eq!(
            check_identity(&plan(vec![other]), &id),
            Some(Violation::Identity { user: "m".into() })
        );
        assert_eq!(check_identity(&plan(vec![remove]), &id), None);
    }
}
