//! The risk class of a change: the one place that decides whether a reviewer must look twice.
//! [`risk`] is a pure function with an exhaustive match over [`Change`], so a new kind of change
//! cannot be added without being classified. The JSON plan carries the class of every change and a
//! count per class, the pull-request comment and the text plan list every non-routine change
//! ("Needs attention", src/render/attention.rs), and `[review] require_acknowledgement` in the
//! policy makes `vetted plan` fail on a class nobody acknowledged ([`unacknowledged`]).
//!
//! The classes, most pressing first:
//! - [`Risk::Privilege`]: someone gains a power: a grant added or raised, a role raised, a team
//!   member added, an invite (whatever its role);
//! - [`Risk::Exposure`]: something becomes reachable from outside or from upstream: a repository
//!   public (created public or made public), Image or Registry Access Management turned off or
//!   loosened (another category, another registry), a repository added to the allowlist;
//! - [`Risk::Destruction`]: something goes away or is replaced: every deletion (repositories, teams,
//!   tags, members, team members, invites, grants, allowlist entries) and a mirrored tag moved to
//!   another digest;
//! - [`Risk::Routine`]: the rest (descriptions, a private repository created, a role or grant
//!   lowered, Image or Registry Access Management tightened, a new tag copied).
//!
//! An access setting whose live value is unknown (`old: None`: never set) counts as off, Docker
//! Hub's default, so turning it on is routine and leaving it off is no loosening.

use std::collections::BTreeSet;

use super::Change;
use crate::model::{ImageAccess, RegistryAccess};

/// A change's risk class. Ordered as listed: most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    Privilege,
    Exposure,
    Destruction,
    Routine,
}

impl Risk {
    /// Every class, in order.
    pub const ALL: [Risk; 4] = [
        Risk::Privilege,
        Risk::Exposure,
        Risk::Destruction,
        Risk::Routine,
    ];

    /// The classes a policy may ask to be acknowledged (every one but routine).
    pub const NEEDS_ATTENTION: [Risk; 3] = [Risk::Privilege, Risk::Exposure, Risk::Destruction];

    /// The name used in the JSON plan, the policy and `--acknowledge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Privilege => "privilege",
            Risk::Exposure => "exposure",
            Risk::Destruction => "destruction",
            Risk::Routine => "routine",
        }
    }

    /// A heading for people: `Privilege gain`, `Exposure`, `Destruction`, `Routine`.
    pub fn title(self) -> &'static str {
        match self {
            Risk::Privilege => "Privilege gain",
            Risk::Exposure => "Exposure",
            Risk::Destruction => "Destruction",
            Risk::Routine => "Routine",
        }
    }

    /// The class named `name` (as [`Risk::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The risk class of `c`.
pub fn risk(c: &Change) -> Risk {
    use Change::*;
    match c {
        SetImageAccess { old, new } => {
            if image_access_loosened(old.as_ref(), new) {
                Risk::Exposure
            } else {
                Risk::Routine
            }
        }
        SetRegistryAccess { old, new } => {
            if !newly_reachable(old.as_ref(), new).is_empty() {
                Risk::Exposure
            } else {
                Risk::Routine
            }
        }
        AllowRepository { .. } => Risk::Exposure,
        SetRole { old, new, .. } => {
            // Role orders owner < editor < member: a smaller role is a greater one.
            if new < old {
                Risk::Privilege
            } else {
                Risk::Routine
            }
        }
        Invite { .. } | AddTeamMember { .. } | Grant { .. } => Risk::Privilege,
        UpdateGrant { permission, .. } => {
            if permission.new > permission.old {
                Risk::Privilege
            } else {
                Risk::Routine
            }
        }
        CreateRepository { fields, .. } => {
            if fields.private {
                Risk::Routine
            } else {
                Risk::Exposure
            }
        }
        UpdateRepository { private, .. } => match private {
            Some(p) if p.old && !p.new => Risk::Exposure,
            _ => Risk::Routine,
        },
        DisallowRepository { .. }
        | RemoveMember { .. }
        | CancelInvite { .. }
        | DeleteTeam { .. }
        | RemoveTeamMember { .. }
        | DeleteRepository { .. }
        | Revoke { .. }
        | DeleteTag { .. } => Risk::Destruction,
        CopyImage {
            digest, old_digest, ..
        } => match old_digest {
            Some(old) if old != digest => Risk::Destruction,
            _ => Risk::Routine,
        },
        CreateTeam { .. } | UpdateTeam { .. } => Risk::Routine,
    }
}

/// Image Access Management off: members pull anything.
const IMAGE_ACCESS_OFF: ImageAccess = ImageAccess {
    enabled: false,
    allow_official_images: true,
    allow_verified_publishers: true,
};

/// Whether `new` lets members pull more than `old` did: turned off, or another category allowed
/// while on. An unknown `old` counts as off.
pub fn image_access_loosened(old: Option<&ImageAccess>, new: &ImageAccess) -> bool {
    let old = old.unwrap_or(&IMAGE_ACCESS_OFF);
    if !old.enabled {
        return false;
    }
    !new.enabled
        || (new.allow_official_images && !old.allow_official_images)
        || (new.allow_verified_publishers && !old.allow_verified_publishers)
}

/// What `new` lets members reach that `old` did not: `None` when Registry Access Management is
/// turned off (every registry), else the registries newly allowed (`docker.io` for Docker Hub).
/// Empty: no loosening. An unknown `old` counts as off.
pub fn newly_reachable(old: Option<&RegistryAccess>, new: &RegistryAccess) -> Reachable {
    let before = old.and_then(RegistryAccess::reachable);
    match (before, new.reachable()) {
        (None, _) => Reachable::Some(BTreeSet::new()),
        (Some(_), None) => Reachable::Everything,
        (Some(before), Some(after)) => {
            Reachable::Some(after.difference(&before).cloned().collect())
        }
    }
}

/// What a Registry Access Management change newly lets members reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachable {
    /// Turned off: every registry.
    Everything,
    /// These registries (empty: nothing new).
    Some(BTreeSet<String>),
}

impl Reachable {
    pub fn is_empty(&self) -> bool {
        matches!(self, Reachable::Some(s) if s.is_empty())
    }
}

/// How many changes of each class (in [`Risk::ALL`]'s order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub privilege: usize,
    pub exposure: usize,
    pub destruction: usize,
    pub routine: usize,
}

impl Counts {
    pub fn of(changes: &[Change]) -> Counts {
        let mut n = Counts::default();
        for c in changes {
            *n.get_mut(risk(c)) += 1;
        }
        n
    }

    pub fn get(&self, r: Risk) -> usize {
        match r {
            Risk::Privilege => self.privilege,
            Risk::Exposure => self.exposure,
            Risk::Destruction => self.destruction,
            Risk::Routine => self.routine,
        }
    }

    fn get_mut(&mut self, r: Risk) -> &mut usize {
        match r {
            Risk::Privilege => &mut self.privilege,
            Risk::Exposure => &mut self.exposure,
            Risk::Destruction => &mut self.destruction,
            Risk::Routine => &mut self.routine,
        }
    }

    /// The changes that need attention (every class but routine).
    pub fn needing_attention(&self) -> usize {
        self.privilege + self.exposure + self.destruction
    }
}

/// The classes of `required` that `changes` hold and `acknowledged` does not cover, with how many
/// changes each: what makes `vetted plan` fail under `[review] require_acknowledgement`.
pub fn unacknowledged(
    changes: &[Change],
    required: &BTreeSet<Risk>,
    acknowledged: &BTreeSet<Risk>,
) -> Vec<(Risk, usize)> {
    let counts = Counts::of(changes);
    required
        .iter()
        .filter(|r| !acknowledged.contains(r))
        .map(|r| (*r, counts.get(*r)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomRegistry, Permission, Role, Username};
    use crate::plan::{Delta, RepoFields};

    fn ia(enabled: bool, official: bool, verified: bool) -> ImageAccess {
        ImageAccess {
            enabled,
            allow_official_images: official,
            allow_verified_publishers: verified,
        }
    }

    fn ra(enabled: bool, docker_hub: bool, allowed: &[(&str, bool)]) -> RegistryAccess {
        RegistryAccess {
            enabled,
            docker_hub,
            custom: allowed
                .iter()
                .map(|(a, ok)| CustomRegistry {
                    address: (*a).into(),
                    friendly_name: a.to_uppercase(),
                    allowed: *ok,
                })
                .collect(),
        }
    }

    fn d<T>(old: T, new: T) -> Delta<T> {
        Delta { old, new }
    }

    fn copy(old: Option<&str>, new: &str) -> Change {
        Change::CopyImage {
            repository: "redis".into(),
            tag: "7.2".into(),
            source: format!("docker.io/bitnami/redis:7.2@{new}"),
            digest: new.into(),
            old_digest: old.map(str::to_string),
            platforms: None,
            signatures: false,
            bytes: 0,
            manifests: 1,
        }
    }

    /// Every kind of change, each way it can go, and its class.
    fn table() -> Vec<(&'static str, Change, Risk)> {
        use Risk::*;
        let u = Username::new;
        let repo = |private| RepoFields {
            private,
            description: String::new(),
            full_description: String::new(),
        };
        let update = |private: Option<Delta<bool>>, description: Option<Delta<String>>| {
            Change::UpdateRepository {
                repository: "api".into(),
                private,
                description,
                full_description: None,
            }
        };
        vec![
            (
                "image access turned off",
                Change::SetImageAccess {
                    old: Some(ia(true, false, false)),
                    new: ia(false, false, false),
                },
                Exposure,
            ),
            (
                "image access allows official images",
                Change::SetImageAccess {
                    old: Some(ia(true, false, false)),
                    new: ia(true, true, false),
                },
                Exposure,
            ),
            (
                "image access allows verified publishers",
                Change::SetImageAccess {
                    old: Some(ia(true, true, false)),
                    new: ia(true, true, true),
                },
                Exposure,
            ),
            (
                "image access turned on",
                Change::SetImageAccess {
                    old: Some(ia(false, true, true)),
                    new: ia(true, true, true),
                },
                Routine,
            ),
            (
                "image access tightened",
                Change::SetImageAccess {
                    old: Some(ia(true, true, true)),
                    new: ia(true, false, true),
                },
                Routine,
            ),
            (
                "image access flags while off",
                Change::SetImageAccess {
                    old: Some(ia(false, false, false)),
                    new: ia(false, true, true),
                },
                Routine,
            ),
            (
                "image access set for the first time",
                Change::SetImageAccess {
                    old: None,
                    new: ia(true, true, true),
                },
                Routine,
            ),
            (
                "registry access turned off",
                Change::SetRegistryAccess {
                    old: Some(ra(true, true, &[])),
                    new: ra(false, true, &[]),
                },
                Exposure,
            ),
            (
                "registry access allows a new registry",
                Change::SetRegistryAccess {
                    old: Some(ra(true, true, &[("ghcr.io", true)])),
                    new: ra(true, true, &[("ghcr.io", true), ("quay.io", true)]),
                },
                Exposure,
            ),
            (
                "registry access allows a listed registry",
                Change::SetRegistryAccess {
                    old: Some(ra(true, true, &[("quay.io", false)])),
                    new: ra(true, true, &[("quay.io", true)]),
                },
                Exposure,
            ),
            (
                "registry access allows Docker Hub",
                Change::SetRegistryAccess {
                    old: Some(ra(true, false, &[])),
                    new: ra(true, true, &[]),
                },
                Exposure,
            ),
            (
                "registry access renames and removes",
                Change::SetRegistryAccess {
                    old: Some(ra(true, true, &[("ghcr.io", true), ("quay.io", true)])),
                    new: RegistryAccess {
                        custom: vec![CustomRegistry {
                            address: "ghcr.io".into(),
                            friendly_name: "GitHub".into(),
                            allowed: true,
                        }],
                        ..ra(true, true, &[])
                    },
                },
                Routine,
            ),
            (
                "registry access turned on",
                Change::SetRegistryAccess {
                    old: Some(ra(false, true, &[])),
                    new: ra(true, true, &[("ghcr.io", true)]),
                },
                Routine,
            ),
            (
                "registry access set for the first time",
                Change::SetRegistryAccess {
                    old: None,
                    new: ra(true, true, &[]),
                },
                Routine,
            ),
            (
                "allowlist entry added",
                Change::AllowRepository {
                    repository: "bitnami/redis".into(),
                },
                Exposure,
            ),
            (
                "allowlist entry removed",
                Change::DisallowRepository {
                    repository: "library/busybox".into(),
                },
                Destruction,
            ),
            (
                "role raised to owner",
                Change::SetRole {
                    user: u("bob"),
                    old: Role::Editor,
                    new: Role::Owner,
                },
                Privilege,
            ),
            (
                "role raised to editor",
                Change::SetRole {
                    user: u("bob"),
                    old: Role::Member,
                    new: Role::Editor,
                },
                Privilege,
            ),
            (
                "role lowered",
                Change::SetRole {
                    user: u("bob"),
                    old: Role::Owner,
                    new: Role::Member,
                },
                Routine,
            ),
            (
                "member removed",
                Change::RemoveMember {
                    user: u("old"),
                    role: Role::Member,
                },
                Destruction,
            ),
            (
                "invite as member",
                Change::Invite {
                    invitee: u("fay"),
                    role: Role::Member,
                    team: None,
                },
                Privilege,
            ),
            (
                "invite as owner to a team",
                Change::Invite {
                    invitee: u("fay"),
                    role: Role::Owner,
                    team: Some("ci".into()),
                },
                Privilege,
            ),
            (
                "invite cancelled",
                Change::CancelInvite {
                    id: "i1".into(),
                    invitee: "fay".into(),
                    team: None,
                },
                Destruction,
            ),
            (
                "team created",
                Change::CreateTeam {
                    team: "ci".into(),
                    description: "CI".into(),
                },
                Routine,
            ),
            (
                "team description",
                Change::UpdateTeam {
                    team: "ci".into(),
                    description: d("a".into(), "b".into()),
                },
                Routine,
            ),
            (
                "team deleted",
                Change::DeleteTeam { team: "old".into() },
                Destruction,
            ),
            (
                "team member added",
                Change::AddTeamMember {
                    team: "ci".into(),
                    user: u("bob"),
                },
                Privilege,
            ),
            (
                "team member removed",
                Change::RemoveTeamMember {
                    team: "ci".into(),
                    user: u("bob"),
                },
                Destruction,
            ),
            (
                "public repository created",
                Change::CreateRepository {
                    repository: "api".into(),
                    fields: repo(false),
                },
                Exposure,
            ),
            (
                "private repository created",
                Change::CreateRepository {
                    repository: "api".into(),
                    fields: repo(true),
                },
                Routine,
            ),
            (
                "repository made public",
                update(Some(d(true, false)), None),
                Exposure,
            ),
            (
                "repository made private",
                update(Some(d(false, true)), None),
                Routine,
            ),
            (
                "repository description",
                update(None, Some(d("a".into(), "b".into()))),
                Routine,
            ),
            (
                "repository deleted",
                Change::DeleteRepository {
                    repository: "old-api".into(),
                },
                Destruction,
            ),
            (
                "grant added",
                Change::Grant {
                    repository: "api".into(),
                    team: "ci".into(),
                    permission: Permission::Read,
                },
                Privilege,
            ),
            (
                "grant raised",
                Change::UpdateGrant {
                    repository: "api".into(),
                    team: "ci".into(),
                    permission: d(Permission::Read, Permission::Write),
                },
                Privilege,
            ),
            (
                "grant lowered",
                Change::UpdateGrant {
                    repository: "api".into(),
                    team: "ci".into(),
                    permission: d(Permission::Admin, Permission::Write),
                },
                Routine,
            ),
            (
                "grant revoked",
                Change::Revoke {
                    repository: "api".into(),
                    team: "qa".into(),
                    permission: Permission::Read,
                },
                Destruction,
            ),
            ("new tag copied", copy(None, "sha256:ab"), Routine),
            (
                "tag moved to another digest",
                copy(Some("sha256:01"), "sha256:ab"),
                Destruction,
            ),
            (
                "tag rewritten with its digest",
                copy(Some("sha256:ab"), "sha256:ab"),
                Routine,
            ),
            (
                "hand-pushed tag deleted",
                Change::DeleteTag {
                    repository: "redis".into(),
                    tag: "hand".into(),
                    digest: "sha256:cd".into(),
                },
                Destruction,
            ),
        ]
    }

    #[test]
    fn every_kind_of_change_has_its_class() {
        for (what, change, class) in table() {
            assert_eq!(risk(&change), class, "{what}: {change:?}");
        }
        // The table holds every kind of change (the match in `risk` is exhaustive; this keeps the
        // table in step with it).
        let kinds: BTreeSet<String> = table()
            .iter()
            .map(|(_, c, _)| {
                format!("{c:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(kinds.len(), 21, "{kinds:?}");
    }

    #[test]
    fn counts_and_what_is_left_unacknowledged() {
        let changes: Vec<Change> = table().into_iter().map(|(_, c, _)| c).collect();
        let n = Counts::of(&changes);
        let expect = |r: Risk| table().iter().filter(|(_, _, c)| *c == r).count();
        for r in Risk::ALL {
            assert_eq!(n.get(r), expect(r), "{r}");
        }
        assert_eq!(n.needing_attention() + n.routine, changes.len());
        let set = |r: &[Risk]| r.iter().copied().collect::<BTreeSet<Risk>>();
        let required = set(&[Risk::Privilege, Risk::Destruction]);
        assert_eq!(
            unacknowledged(&changes, &required, &set(&[Risk::Destruction])),
            vec![(Risk::Privilege, expect(Risk::Privilege))]
        );
        assert!(unacknowledged(&changes, &required, &required).is_empty());
        // A class the plan does not hold needs no acknowledgement.
        let routine_only = [Change::CreateTeam {
            team: "ci".into(),
            description: String::new(),
        }];
        assert!(unacknowledged(&routine_only, &required, &BTreeSet::new()).is_empty());
        for r in Risk::ALL {
            assert_eq!(Risk::from_name(r.as_str()), Some(r));
        }
        assert_eq!(Risk::from_name("Privilege"), None);
    }

    #[test]
    fn what_a_registry_change_newly_reaches() {
        let old = ra(true, false, &[("ghcr.io", true), ("quay.io", false)]);
        let new = ra(true, true, &[("ghcr.io", true), ("quay.io", true)]);
        assert_eq!(
            newly_reachable(Some(&old), &new),
            Reachable::Some(["docker.io".to_string(), "quay.io".to_string()].into())
        );
        assert_eq!(
            newly_reachable(Some(&old), &ra(false, true, &[])),
            Reachable::Everything
        );
        assert!(newly_reachable(None, &new).is_empty());
    }
}
