//! Conversions between format 3's types and the internal plan, both ways: written out field by
//! field, so an internal field added, renamed or retyped fails to compile here until the format
//! says what becomes of it.

use super::*;
use crate::model::{CustomRegistry, ImageAccess, Permission, RegistryAccess, Role, Username};
use crate::plan::access::{Level, Outside, Subject};
use crate::plan::saved::Fingerprints;
use crate::plan::{AccessChange, Change, Delta, Drift, Note, Plan, RepoFields, ResourceKind};

impl From<&Fingerprints> for FingerprintsV3 {
    fn from(f: &Fingerprints) -> Self {
        FingerprintsV3 {
            policy: f.policy.clone(),
            lock: f.lock.clone(),
            live: f.live.clone(),
            live_parts: f.live_parts.clone(),
        }
    }
}

impl From<FingerprintsV3> for Fingerprints {
    fn from(f: FingerprintsV3) -> Self {
        Fingerprints {
            policy: f.policy,
            lock: f.lock,
            live: f.live,
            live_parts: f.live_parts,
        }
    }
}

impl From<&Plan> for PlanV3 {
    fn from(p: &Plan) -> Self {
        PlanV3 {
            changes: p.changes.iter().map(ChangeV3::from).collect(),
            notes: p.notes.iter().map(NoteV3::from).collect(),
            api_calls: p.api_calls,
            access: p.access.iter().map(AccessV3::from).collect(),
            drift: DriftV3 {
                changes: p.drift.changes.iter().map(ChangeV3::from).collect(),
                access: p.drift.access.iter().map(AccessV3::from).collect(),
            },
            targets: p.targets.clone(),
        }
    }
}

impl PlanV3 {
    /// The internal plan of organization `org` (the file's `org`).
    pub fn into_plan(self, org: &str) -> Plan {
        Plan {
            org: org.to_string(),
            changes: self.changes.into_iter().map(Change::from).collect(),
            notes: self.notes.into_iter().map(Note::from).collect(),
            api_calls: self.api_calls,
            access: self.access.into_iter().map(AccessChange::from).collect(),
            drift: Drift {
                changes: self.drift.changes.into_iter().map(Change::from).collect(),
                access: self
                    .drift
                    .access
                    .into_iter()
                    .map(AccessChange::from)
                    .collect(),
            },
            targets: self.targets,
            snapshot: None,
        }
    }
}

impl From<&Note> for NoteV3 {
    fn from(n: &Note) -> Self {
        NoteV3 {
            kind: n.kind.into(),
            address: n.address.clone(),
            message: n.message.clone(),
        }
    }
}

impl From<NoteV3> for Note {
    fn from(n: NoteV3) -> Self {
        Note {
            kind: n.kind.into(),
            address: n.address,
            message: n.message,
        }
    }
}

/// A pair of enums that name the same values, converted both ways.
macro_rules! same_values {
    ($internal:ty, $file:ident: $($v:ident),+) => {
        impl From<$internal> for $file {
            fn from(x: $internal) -> Self {
                match x {
                    $(<$internal>::$v => $file::$v,)+
                }
            }
        }
        impl From<$file> for $internal {
            fn from(x: $file) -> Self {
                match x {
                    $($file::$v => <$internal>::$v,)+
                }
            }
        }
    };
}

same_values!(ResourceKind, KindV3: ImageAccess, RegistryAccess, AllowedRepository, Member, Invite, Team, TeamMember, Repository, Grant, Image);
same_values!(Role, RoleV3: Owner, Editor, Member);
same_values!(Permission, PermissionV3: Read, Write, Admin);
same_values!(Level, LevelV3: Pull, Push, Admin);

impl<T, U: From<T>> From<Delta<T>> for DeltaV3<U> {
    fn from(d: Delta<T>) -> Self {
        DeltaV3 {
            old: d.old.into(),
            new: d.new.into(),
        }
    }
}

impl<T, U: From<T>> From<DeltaV3<T>> for Delta<U> {
    fn from(d: DeltaV3<T>) -> Self {
        Delta {
            old: d.old.into(),
            new: d.new.into(),
        }
    }
}

impl From<ImageAccess> for ImageAccessV3 {
    fn from(a: ImageAccess) -> Self {
        ImageAccessV3 {
            enabled: a.enabled,
            allow_official_images: a.allow_official_images,
            allow_verified_publishers: a.allow_verified_publishers,
        }
    }
}

impl From<ImageAccessV3> for ImageAccess {
    fn from(a: ImageAccessV3) -> Self {
        ImageAccess {
            enabled: a.enabled,
            allow_official_images: a.allow_official_images,
            allow_verified_publishers: a.allow_verified_publishers,
        }
    }
}

impl From<RegistryAccess> for RegistryAccessV3 {
    fn from(r: RegistryAccess) -> Self {
        RegistryAccessV3 {
            enabled: r.enabled,
            docker_hub: r.docker_hub,
            custom: r
                .custom
                .into_iter()
                .map(|c| CustomRegistryV3 {
                    address: c.address,
                    friendly_name: c.friendly_name,
                    allowed: c.allowed,
                })
                .collect(),
        }
    }
}

impl From<RegistryAccessV3> for RegistryAccess {
    fn from(r: RegistryAccessV3) -> Self {
        RegistryAccess {
            enabled: r.enabled,
            docker_hub: r.docker_hub,
            custom: r
                .custom
                .into_iter()
                .map(|c| CustomRegistry {
                    address: c.address,
                    friendly_name: c.friendly_name,
                    allowed: c.allowed,
                })
                .collect(),
        }
    }
}

impl From<&Change> for ChangeV3 {
    fn from(c: &Change) -> Self {
        let user = |u: &Username| u.as_str().to_string();
        match c.clone() {
            Change::SetImageAccess { old, new } => ChangeV3::SetImageAccess {
                old: old.map(Into::into),
                new: new.into(),
            },
            Change::SetRegistryAccess { old, new } => ChangeV3::SetRegistryAccess {
                old: old.map(Into::into),
                new: new.into(),
            },
            Change::AllowRepository { repository } => ChangeV3::AllowRepository { repository },
            Change::DisallowRepository { repository } => {
                ChangeV3::DisallowRepository { repository }
            }
            Change::SetRole { user: u, old, new } => ChangeV3::SetRole {
                user: user(&u),
                old: old.into(),
                new: new.into(),
            },
            Change::RemoveMember { user: u, role } => ChangeV3::RemoveMember {
                user: user(&u),
                role: role.into(),
            },
            Change::Invite {
                invitee,
                role,
                team,
            } => ChangeV3::Invite {
                invitee: user(&invitee),
                role: role.into(),
                team,
            },
            Change::CancelInvite { id, invitee, team } => {
                ChangeV3::CancelInvite { id, invitee, team }
            }
            Change::CreateTeam { team, description } => ChangeV3::CreateTeam { team, description },
            Change::UpdateTeam { team, description } => ChangeV3::UpdateTeam {
                team,
                description: description.into(),
            },
            Change::DeleteTeam { team } => ChangeV3::DeleteTeam { team },
            Change::AddTeamMember { team, user: u } => ChangeV3::AddTeamMember {
                team,
                user: user(&u),
            },
            Change::RemoveTeamMember { team, user: u } => ChangeV3::RemoveTeamMember {
                team,
                user: user(&u),
            },
            Change::CreateRepository { repository, fields } => ChangeV3::CreateRepository {
                repository,
                fields: RepoFieldsV3 {
                    private: fields.private,
                    description: fields.description,
                    full_description: fields.full_description,
                },
            },
            Change::UpdateRepository {
                repository,
                private,
                description,
                full_description,
            } => ChangeV3::UpdateRepository {
                repository,
                private: private.map(Into::into),
                description: description.map(Into::into),
                full_description: full_description.map(Into::into),
            },
            Change::DeleteRepository { repository } => ChangeV3::DeleteRepository { repository },
            Change::Grant {
                repository,
                team,
                permission,
            } => ChangeV3::Grant {
                repository,
                team,
                permission: permission.into(),
            },
            Change::UpdateGrant {
                repository,
                team,
                permission,
            } => ChangeV3::UpdateGrant {
                repository,
                team,
                permission: permission.into(),
            },
            Change::Revoke {
                repository,
                team,
                permission,
            } => ChangeV3::Revoke {
                repository,
                team,
                permission: permission.into(),
            },
            Change::CopyImage {
                repository,
                tag,
                source,
                digest,
                old_digest,
                platforms,
                signatures,
                bytes,
                manifests,
            } => ChangeV3::CopyImage {
                repository,
                tag,
                source,
                digest,
                old_digest,
                platforms,
                signatures,
                bytes,
                manifests,
            },
            Change::DeleteTag {
                repository,
                tag,
                digest,
            } => ChangeV3::DeleteTag {
                repository,
                tag,
                digest,
            },
        }
    }
}

/// File -> internal. User names go through [`Username::new`] (trimmed, lowercase), as everywhere
/// vetted reads one; a changed name then differs from the recomputed plan, which apply refuses.
impl From<ChangeV3> for Change {
    fn from(c: ChangeV3) -> Self {
        let user = |u: String| Username::new(&u);
        match c {
            ChangeV3::SetImageAccess { old, new } => Change::SetImageAccess {
                old: old.map(Into::into),
                new: new.into(),
            },
            ChangeV3::SetRegistryAccess { old, new } => Change::SetRegistryAccess {
                old: old.map(Into::into),
                new: new.into(),
            },
            ChangeV3::AllowRepository { repository } => Change::AllowRepository { repository },
            ChangeV3::DisallowRepository { repository } => {
                Change::DisallowRepository { repository }
            }
            ChangeV3::SetRole { user: u, old, new } => Change::SetRole {
                user: user(u),
                old: old.into(),
                new: new.into(),
            },
            ChangeV3::RemoveMember { user: u, role } => Change::RemoveMember {
                user: user(u),
                role: role.into(),
            },
            ChangeV3::Invite {
                invitee,
                role,
                team,
            } => Change::Invite {
                invitee: user(invitee),
                role: role.into(),
                team,
            },
            ChangeV3::CancelInvite { id, invitee, team } => {
                Change::CancelInvite { id, invitee, team }
            }
            ChangeV3::CreateTeam { team, description } => Change::CreateTeam { team, description },
            ChangeV3::UpdateTeam { team, description } => Change::UpdateTeam {
                team,
                description: description.into(),
            },
            ChangeV3::DeleteTeam { team } => Change::DeleteTeam { team },
            ChangeV3::AddTeamMember { team, user: u } => Change::AddTeamMember {
                team,
                user: user(u),
            },
            ChangeV3::RemoveTeamMember { team, user: u } => Change::RemoveTeamMember {
                team,
                user: user(u),
            },
            ChangeV3::CreateRepository { repository, fields } => Change::CreateRepository {
                repository,
                fields: RepoFields {
                    private: fields.private,
                    description: fields.description,
                    full_description: fields.full_description,
                },
            },
            ChangeV3::UpdateRepository {
                repository,
                private,
                description,
                full_description,
            } => Change::UpdateRepository {
                repository,
                private: private.map(Into::into),
                description: description.map(Into::into),
                full_description: full_description.map(Into::into),
            },
            ChangeV3::DeleteRepository { repository } => Change::DeleteRepository { repository },
            ChangeV3::Grant {
                repository,
                team,
                permission,
            } => Change::Grant {
                repository,
                team,
                permission: permission.into(),
            },
            ChangeV3::UpdateGrant {
                repository,
                team,
                permission,
            } => Change::UpdateGrant {
                repository,
                team,
                permission: permission.into(),
            },
            ChangeV3::Revoke {
                repository,
                team,
                permission,
            } => Change::Revoke {
                repository,
                team,
                permission: permission.into(),
            },
            ChangeV3::CopyImage {
                repository,
                tag,
                source,
                digest,
                old_digest,
                platforms,
                signatures,
                bytes,
                manifests,
            } => Change::CopyImage {
                repository,
                tag,
                source,
                digest,
                old_digest,
                platforms,
                signatures,
                bytes,
                manifests,
            },
            ChangeV3::DeleteTag {
                repository,
                tag,
                digest,
            } => Change::DeleteTag {
                repository,
                tag,
                digest,
            },
        }
    }
}

impl From<&AccessChange> for AccessV3 {
    fn from(a: &AccessChange) -> Self {
        AccessV3 {
            subject: match &a.subject {
                Subject::Everyone => SubjectV3::Everyone,
                Subject::Members => SubjectV3::Members,
                Subject::Team(t) => SubjectV3::Team(t.clone()),
                Subject::Person(p) => SubjectV3::Person(p.clone()),
            },
            repository: a.repository.clone(),
            old: a.old.map(Into::into),
            new: a.new.map(Into::into),
            pending: a.pending,
            outside: a.outside.as_ref().map(|o| match o {
                Outside::Allowlist { mirrored_as } => OutsideV3::Allowlist {
                    mirrored_as: mirrored_as.clone(),
                },
                Outside::RegistryAccess { except } => OutsideV3::RegistryAccess {
                    except: except.clone(),
                },
            }),
        }
    }
}

impl From<AccessV3> for AccessChange {
    fn from(a: AccessV3) -> Self {
        AccessChange {
            subject: match a.subject {
                SubjectV3::Everyone => Subject::Everyone,
                SubjectV3::Members => Subject::Members,
                SubjectV3::Team(t) => Subject::Team(t),
                SubjectV3::Person(p) => Subject::Person(p),
            },
            repository: a.repository,
            old: a.old.map(Into::into),
            new: a.new.map(Into::into),
            pending: a.pending,
            outside: a.outside.map(|o| match o {
                OutsideV3::Allowlist { mirrored_as } => Outside::Allowlist { mirrored_as },
                OutsideV3::RegistryAccess { except } => Outside::RegistryAccess { except },
            }),
        }
    }
}
