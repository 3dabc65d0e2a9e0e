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
        // Image copies never delete.
        ResourceKind::Image => 0,
    }
}

const KINDS: [ResourceKind; 7] = [
    ResourceKind::ImageAccess,
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
    use crate::plan::FORMAT_VERSION;

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: FORMAT_VERSION.into(),
            org: "acme".into(),
            changes,
            notes: vec![],
            api_calls: 0,
            access: Vec::new(),
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
