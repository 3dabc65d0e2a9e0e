//! Format 3 of the saved-plan file (docs/saved-plans.md): its own serde types and the conversions
//! to and from the internal [`Plan`](crate::plan::Plan) (in convert.rs). The internal plan types are never serialized into a saved
//! plan, so renaming an internal field or variant is a compile error here, not a silent change of
//! the file format; the file's shape (every field path with its JSON types) is pinned in
//! docs/json-shapes/saved-plan-v3.txt by this module's tests.
//!
//! Every field is always written (none is skipped when empty) and every object refuses unknown
//! fields; a missing field is refused too, except an optional (nullable) one, which reads as
//! `null` (serde's rule for `Option`). Nothing read is trusted anyway: apply applies only the plan
//! it recomputes, when its changes equal these ([`super::first_difference`]). A plan computed from a
//! snapshot is never saved (`plan --snapshot` refuses `--out`), so the format has no place for one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileV3 {
    pub kind: String,
    pub format_version: String,
    pub vetted_version: String,
    pub org: String,
    pub hub_url: String,
    pub policy: String,
    pub fingerprints: FingerprintsV3,
    pub plan: PlanV3,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintsV3 {
    pub policy: String,
    pub lock: Option<String>,
    pub live: String,
    pub live_parts: BTreeMap<String, String>,
}

/// The plan, without the organization (the file's `org`) and without a version of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanV3 {
    pub changes: Vec<ChangeV3>,
    pub notes: Vec<NoteV3>,
    pub api_calls: u64,
    pub access: Vec<AccessV3>,
    pub drift: DriftV3,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftV3 {
    pub changes: Vec<ChangeV3>,
    pub access: Vec<AccessV3>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteV3 {
    pub kind: KindV3,
    pub address: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindV3 {
    ImageAccess,
    RegistryAccess,
    AllowedRepository,
    Member,
    Invite,
    Team,
    TeamMember,
    Repository,
    Grant,
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleV3 {
    Owner,
    Editor,
    Member,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionV3 {
    Read,
    Write,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelV3 {
    Pull,
    Push,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaV3<T> {
    pub old: T,
    pub new: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageAccessV3 {
    pub enabled: bool,
    pub allow_official_images: bool,
    pub allow_verified_publishers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAccessV3 {
    pub enabled: bool,
    pub docker_hub: bool,
    pub custom: Vec<CustomRegistryV3>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRegistryV3 {
    pub address: String,
    pub friendly_name: String,
    pub allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoFieldsV3 {
    pub private: bool,
    pub description: String,
    pub full_description: String,
}

/// One change; `type` selects the payload. The same names as the plan document's changes
/// (docs/plan-json.md), without its derived fields (`action`, `kind`, `address`, `risk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeV3 {
    SetImageAccess {
        old: Option<ImageAccessV3>,
        new: ImageAccessV3,
    },
    SetRegistryAccess {
        old: Option<RegistryAccessV3>,
        new: RegistryAccessV3,
    },
    AllowRepository {
        repository: String,
    },
    DisallowRepository {
        repository: String,
    },
    SetRole {
        user: String,
        old: RoleV3,
        new: RoleV3,
    },
    RemoveMember {
        user: String,
        role: RoleV3,
    },
    Invite {
        invitee: String,
        role: RoleV3,
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
        description: DeltaV3<String>,
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
        fields: RepoFieldsV3,
    },
    UpdateRepository {
        repository: String,
        private: Option<DeltaV3<bool>>,
        description: Option<DeltaV3<String>>,
        full_description: Option<DeltaV3<String>>,
    },
    DeleteRepository {
        repository: String,
    },
    Grant {
        repository: String,
        team: String,
        permission: PermissionV3,
    },
    UpdateGrant {
        repository: String,
        team: String,
        permission: DeltaV3<PermissionV3>,
    },
    Revoke {
        repository: String,
        team: String,
        permission: PermissionV3,
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

/// Who an access change is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum SubjectV3 {
    Everyone,
    Members,
    Team(String),
    Person(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "through", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutsideV3 {
    Allowlist { mirrored_as: Vec<String> },
    RegistryAccess { except: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessV3 {
    pub subject: SubjectV3,
    pub repository: String,
    pub old: Option<LevelV3>,
    pub new: Option<LevelV3>,
    pub pending: bool,
    pub outside: Option<OutsideV3>,
}

mod convert;
