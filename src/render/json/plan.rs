//! The plan document (docs/plan-json.md): its output types and [`plan_document`], which builds it
//! from a [`Plan`].

use serde::Serialize;

use super::{PLAN_FORMAT_VERSION, action_name, kind_name, to_json};
use crate::model::{CustomRegistry, ImageAccess, Permission, RegistryAccess, Role};
use crate::plan::access::{Level, Outside, Subject};
use crate::plan::risk::{Counts, risk};
use crate::plan::{AccessChange, Change, Delta, Note, Plan};

/// `vetted plan --format json`: what apply would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanDocument {
    pub format_version: &'static str,
    pub org: String,
    pub summary: PlanSummary,
    pub changes: Vec<ChangeDoc>,
    pub notes: Vec<NoteDoc>,
    pub api_calls: u64,
    pub access: Vec<AccessDoc>,
    pub drift: DriftDoc,
    /// A partial plan (`--target`): changes outside `targets` are neither planned nor shown.
    pub partial: bool,
    /// The targets of a partial plan (`repositories.redis`, `teams.devs`...), sorted; empty for a
    /// whole plan.
    pub targets: Vec<String>,
    /// Present only in a plan computed offline from a snapshot (`plan --snapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotDoc>,
}

/// The snapshot an offline plan was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotDoc {
    pub taken_at: String,
    pub age_seconds: u64,
    pub fingerprint: String,
    pub vetted_version: String,
    /// "based on a snapshot of acme taken 3 h ago (...)".
    pub description: String,
}

/// The plan's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub images: usize,
    pub bytes: u64,
    /// How many changes of each risk class.
    pub risk: RiskSummary,
}

/// How many changes of each risk class (src/plan/risk.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RiskSummary {
    pub privilege: usize,
    pub exposure: usize,
    pub destruction: usize,
    pub routine: usize,
}

/// One change: the common fields and the payload its `type` selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeDoc {
    pub action: &'static str,
    pub kind: &'static str,
    pub address: String,
    /// `privilege`, `exposure`, `destruction` or `routine` (src/plan/risk.rs).
    pub risk: &'static str,
    #[serde(flatten)]
    pub payload: Payload,
}

/// `{"old": ..., "new": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaDoc<T> {
    pub old: T,
    pub new: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageAccessDoc {
    pub enabled: bool,
    pub allow_official_images: bool,
    pub allow_verified_publishers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryAccessDoc {
    pub enabled: bool,
    pub docker_hub: bool,
    pub custom: Vec<CustomRegistryDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomRegistryDoc {
    pub address: String,
    pub friendly_name: String,
    pub allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoFieldsDoc {
    pub private: bool,
    pub description: String,
    pub full_description: String,
}

/// The payload fields of each change `type` (docs/plan-json.md, "Payload fields by type").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    SetImageAccess {
        old: Option<ImageAccessDoc>,
        new: ImageAccessDoc,
    },
    SetRegistryAccess {
        old: Option<RegistryAccessDoc>,
        new: RegistryAccessDoc,
    },
    AllowRepository {
        repository: String,
    },
    DisallowRepository {
        repository: String,
    },
    SetRole {
        user: String,
        old: &'static str,
        new: &'static str,
    },
    RemoveMember {
        user: String,
        role: &'static str,
    },
    Invite {
        invitee: String,
        role: &'static str,
        team: Option<String>,
    },
    CancelInvite {
        id: String,
        invitee: String,
        team: Option<String>,
    },
    CreateTeam {
        team: String,
        description: String,
    },
    UpdateTeam {
        team: String,
        description: DeltaDoc<String>,
    },
    DeleteTeam {
        team: String,
    },
    AddTeamMember {
        team: String,
        user: String,
    },
    RemoveTeamMember {
        team: String,
        user: String,
    },
    CreateRepository {
        repository: String,
        fields: RepoFieldsDoc,
    },
    UpdateRepository {
        repository: String,
        private: Option<DeltaDoc<bool>>,
        description: Option<DeltaDoc<String>>,
        full_description: Option<DeltaDoc<String>>,
    },
    DeleteRepository {
        repository: String,
    },
    Grant {
        repository: String,
        team: String,
        permission: &'static str,
    },
    UpdateGrant {
        repository: String,
        team: String,
        permission: DeltaDoc<&'static str>,
    },
    Revoke {
        repository: String,
        team: String,
        permission: &'static str,
    },
    CopyImage {
        repository: String,
        tag: String,
        source: String,
        digest: String,
        old_digest: Option<String>,
        platforms: Option<Vec<String>>,
        signatures: bool,
        bytes: u64,
        manifests: u64,
    },
    DeleteTag {
        repository: String,
        tag: String,
        digest: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteDoc {
    pub kind: &'static str,
    pub address: String,
    pub message: String,
}

/// Who gains or loses access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessDoc {
    pub subject: SubjectDoc,
    pub repository: String,
    pub old: Option<&'static str>,
    pub new: Option<&'static str>,
    pub pending: bool,
    /// Absent for the organization's own repositories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside: Option<OutsideDoc>,
}

/// `{"kind": "person", "name": "carol"}`, `{"kind": "everyone"}`...
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum SubjectDoc {
    Everyone,
    Members,
    Team(String),
    Person(String),
}

/// `{"through": "allowlist", "mirrored_as": [...]}` or `{"through": "registry_access", "except": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "through", rename_all = "snake_case")]
pub enum OutsideDoc {
    Allowlist {
        mirrored_as: Vec<String>,
    },
    RegistryAccess {
        /// Absent when empty.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        except: Vec<String>,
    },
}

/// Drift left alone (`prune = false`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftDoc {
    pub changes: Vec<ChangeDoc>,
    pub access: Vec<AccessDoc>,
}

/// The plan document of `plan`.
pub fn plan_document(plan: &Plan) -> PlanDocument {
    PlanDocument {
        format_version: PLAN_FORMAT_VERSION,
        org: plan.org.clone(),
        summary: plan_summary(plan),
        changes: plan.changes.iter().map(|c| change(c, &plan.org)).collect(),
        notes: plan.notes.iter().map(note).collect(),
        api_calls: plan.api_calls,
        access: plan.access.iter().map(access).collect(),
        drift: DriftDoc {
            changes: plan
                .drift
                .changes
                .iter()
                .map(|c| change(c, &plan.org))
                .collect(),
            access: plan.drift.access.iter().map(access).collect(),
        },
        partial: plan.is_partial(),
        targets: plan.targets.clone(),
        snapshot: plan.snapshot.as_ref().map(|b| SnapshotDoc {
            taken_at: b.taken_at.clone(),
            age_seconds: b.age_seconds,
            fingerprint: b.fingerprint.clone(),
            vetted_version: b.vetted_version.clone(),
            description: b.describe(&plan.org),
        }),
    }
}

/// The plan document as printed: pretty JSON, keys sorted.
pub fn json(plan: &Plan) -> String {
    to_json(&plan_document(plan))
}

fn role(r: Role) -> &'static str {
    match r {
        Role::Owner => "owner",
        Role::Editor => "editor",
        Role::Member => "member",
    }
}

fn permission(p: Permission) -> &'static str {
    match p {
        Permission::Read => "read",
        Permission::Write => "write",
        Permission::Admin => "admin",
    }
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Pull => "pull",
        Level::Push => "push",
        Level::Admin => "admin",
    }
}

fn delta<T, U>(d: &Delta<T>, f: impl Fn(&T) -> U) -> DeltaDoc<U> {
    DeltaDoc {
        old: f(&d.old),
        new: f(&d.new),
    }
}

fn image_access(i: &ImageAccess) -> ImageAccessDoc {
    ImageAccessDoc {
        enabled: i.enabled,
        allow_official_images: i.allow_official_images,
        allow_verified_publishers: i.allow_verified_publishers,
    }
}

fn registry_access(r: &RegistryAccess) -> RegistryAccessDoc {
    RegistryAccessDoc {
        enabled: r.enabled,
        docker_hub: r.docker_hub,
        custom: r
            .custom
            .iter()
            .map(|c: &CustomRegistry| CustomRegistryDoc {
                address: c.address.clone(),
                friendly_name: c.friendly_name.clone(),
                allowed: c.allowed,
            })
            .collect(),
    }
}

fn change(c: &Change, org: &str) -> ChangeDoc {
    use Change as C;
    let payload = match c {
        C::SetImageAccess { old, new } => Payload::SetImageAccess {
            old: old.as_ref().map(image_access),
            new: image_access(new),
        },
        C::SetRegistryAccess { old, new } => Payload::SetRegistryAccess {
            old: old.as_ref().map(registry_access),
            new: registry_access(new),
        },
        C::AllowRepository { repository } => Payload::AllowRepository {
            repository: repository.clone(),
        },
        C::DisallowRepository { repository } => Payload::DisallowRepository {
            repository: repository.clone(),
        },
        C::SetRole { user, old, new } => Payload::SetRole {
            user: user.as_str().to_string(),
            old: role(*old),
            new: role(*new),
        },
        C::RemoveMember { user, role: r } => Payload::RemoveMember {
            user: user.as_str().to_string(),
            role: role(*r),
        },
        C::Invite {
            invitee,
            role: r,
            team,
        } => Payload::Invite {
            invitee: invitee.as_str().to_string(),
            role: role(*r),
            team: team.clone(),
        },
        C::CancelInvite { id, invitee, team } => Payload::CancelInvite {
            id: id.clone(),
            invitee: invitee.clone(),
            team: team.clone(),
        },
        C::CreateTeam { team, description } => Payload::CreateTeam {
            team: team.clone(),
            description: description.clone(),
        },
        C::UpdateTeam { team, description } => Payload::UpdateTeam {
            team: team.clone(),
            description: delta(description, String::clone),
        },
        C::DeleteTeam { team } => Payload::DeleteTeam { team: team.clone() },
        C::AddTeamMember { team, user } => Payload::AddTeamMember {
            team: team.clone(),
            user: user.as_str().to_string(),
        },
        C::RemoveTeamMember { team, user } => Payload::RemoveTeamMember {
            team: team.clone(),
            user: user.as_str().to_string(),
        },
        C::CreateRepository { repository, fields } => Payload::CreateRepository {
            repository: repository.clone(),
            fields: RepoFieldsDoc {
                private: fields.private,
                description: fields.description.clone(),
                full_description: fields.full_description.clone(),
            },
        },
        C::UpdateRepository {
            repository,
            private,
            description,
            full_description,
        } => Payload::UpdateRepository {
            repository: repository.clone(),
            private: private.as_ref().map(|d| delta(d, |b| *b)),
            description: description.as_ref().map(|d| delta(d, String::clone)),
            full_description: full_description.as_ref().map(|d| delta(d, String::clone)),
        },
        C::DeleteRepository { repository } => Payload::DeleteRepository {
            repository: repository.clone(),
        },
        C::Grant {
            repository,
            team,
            permission: p,
        } => Payload::Grant {
            repository: repository.clone(),
            team: team.clone(),
            permission: permission(*p),
        },
        C::UpdateGrant {
            repository,
            team,
            permission: p,
        } => Payload::UpdateGrant {
            repository: repository.clone(),
            team: team.clone(),
            permission: delta(p, |p| permission(*p)),
        },
        C::Revoke {
            repository,
            team,
            permission: p,
        } => Payload::Revoke {
            repository: repository.clone(),
            team: team.clone(),
            permission: permission(*p),
        },
        C::CopyImage {
            repository,
            tag,
            source,
            digest,
            old_digest,
            platforms,
            signatures,
            bytes,
            manifests,
        } => Payload::CopyImage {
            repository: repository.clone(),
            tag: tag.clone(),
            source: source.clone(),
            digest: digest.clone(),
            old_digest: old_digest.clone(),
            platforms: platforms.clone(),
            signatures: *signatures,
            bytes: *bytes,
            manifests: *manifests,
        },
        C::DeleteTag {
            repository,
            tag,
            digest,
        } => Payload::DeleteTag {
            repository: repository.clone(),
            tag: tag.clone(),
            digest: digest.clone(),
        },
    };
    ChangeDoc {
        action: action_name(c.action()),
        kind: kind_name(c.kind()),
        address: c.address(org),
        risk: risk(c).as_str(),
        payload,
    }
}

fn note(n: &Note) -> NoteDoc {
    NoteDoc {
        kind: kind_name(n.kind),
        address: n.address.clone(),
        message: n.message.clone(),
    }
}

fn access(a: &AccessChange) -> AccessDoc {
    AccessDoc {
        subject: match &a.subject {
            Subject::Everyone => SubjectDoc::Everyone,
            Subject::Members => SubjectDoc::Members,
            Subject::Team(t) => SubjectDoc::Team(t.clone()),
            Subject::Person(p) => SubjectDoc::Person(p.clone()),
        },
        repository: a.repository.clone(),
        old: a.old.map(level),
        new: a.new.map(level),
        pending: a.pending,
        outside: a.outside.as_ref().map(|o| match o {
            Outside::Allowlist { mirrored_as } => OutsideDoc::Allowlist {
                mirrored_as: mirrored_as.clone(),
            },
            Outside::RegistryAccess { except } => OutsideDoc::RegistryAccess {
                except: except.clone(),
            },
        }),
    }
}

pub(super) fn plan_summary(p: &Plan) -> PlanSummary {
    let s = p.summary();
    PlanSummary {
        add: s.add,
        change: s.change,
        destroy: s.destroy,
        images: s.images,
        bytes: s.bytes,
        risk: {
            let n = Counts::of(&p.changes);
            RiskSummary {
                privilege: n.privilege,
                exposure: n.exposure,
                destruction: n.destruction,
                routine: n.routine,
            }
        },
    }
}
