//! The plan: pure data describing what apply will do, computed by [`diff`] from the desired and live
//! [`OrgState`](crate::model::OrgState). Renderers only read a `Plan`; apply is the only consumer that
//! acts on it. Fields named `from`/`old_*` exist to explain a change to people and are never read by
//! apply. These types are never serialized: the documents vetted publishes (src/render/json/) and
//! the saved-plan file (src/plan/saved/v3.rs) have versioned types of their own, built from them.

pub mod access;
pub mod diff;
pub mod estimate;
pub mod facts;
mod images;
pub mod risk;
pub mod safety;
pub mod saved;
pub mod targets;

use crate::model::{ImageAccess, Permission, RegistryAccess, Role, Username};

pub use access::AccessChange;
pub use diff::{DiffOptions, diff};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// `+`, `~`, `-` as in Terraform.
    pub fn marker(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// Resource kinds, in the order apply creates them (deletions run in reverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
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

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::ImageAccess => "image_access",
            ResourceKind::RegistryAccess => "registry_access",
            ResourceKind::AllowedRepository => "allowed_repository",
            ResourceKind::Member => "member",
            ResourceKind::Invite => "invite",
            ResourceKind::Team => "team",
            ResourceKind::TeamMember => "team_member",
            ResourceKind::Repository => "repository",
            ResourceKind::Grant => "grant",
            ResourceKind::Image => "image",
        }
    }
}

/// A repository's attributes as they will be after a create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFields {
    pub private: bool,
    pub description: String,
    pub full_description: String,
}

/// One old -> new value pair; only the `new` side is read by apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta<T> {
    pub old: T,
    pub new: T,
}

/// One change. Each variant carries exactly what apply needs to perform it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// PUT /v2/orgs/{org}/settings (all three fields).
    SetImageAccess {
        old: Option<ImageAccess>,
        new: ImageAccess,
    },
    /// PUT /v2/orgs/{org}/settings/registry-access-management (the whole setting).
    SetRegistryAccess {
        old: Option<RegistryAccess>,
        new: RegistryAccess,
    },
    /// Add a Docker Hub repository (`namespace/name`) to the Image Access Management allowlist
    /// (paths unconfirmed: src/hub/access_settings.rs).
    AllowRepository {
        repository: String,
    },
    /// Remove a repository from the allowlist (prune only).
    DisallowRepository {
        repository: String,
    },
    /// PUT /v2/orgs/{org}/members/{username}.
    SetRole {
        user: Username,
        old: Role,
        new: Role,
    },
    /// DELETE /v2/orgs/{org}/members/{username} (prune only).
    RemoveMember {
        user: Username,
        role: Role,
    },
    /// POST /v2/invites/bulk for one invitee (and optionally one team).
    Invite {
        invitee: Username,
        role: Role,
        team: Option<String>,
    },
    /// DELETE /v2/invites/{id} (prune only).
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
        description: Delta<String>,
    },
    DeleteTeam {
        team: String,
    },
    AddTeamMember {
        team: String,
        user: Username,
    },
    RemoveTeamMember {
        team: String,
        user: Username,
    },
    CreateRepository {
        repository: String,
        fields: RepoFields,
    },
    /// Only the fields that differ are `Some`.
    UpdateRepository {
        repository: String,
        private: Option<Delta<bool>>,
        description: Option<Delta<String>>,
        full_description: Option<Delta<String>>,
    },
    DeleteRepository {
        repository: String,
    },
    Grant {
        repository: String,
        team: String,
        permission: Permission,
    },
    UpdateGrant {
        repository: String,
        team: String,
        permission: Delta<Permission>,
    },
    Revoke {
        repository: String,
        team: String,
        permission: Permission,
    },
    /// Copy an upstream image into `org/repository:tag` by digest (the registry copy engine).
    CopyImage {
        repository: String,
        tag: String,
        /// The upstream reference with tag and digest, e.g. `docker.io/bitnami/redis:7.2@sha256:..`.
        source: String,
        /// The digest the tag will point at: the upstream digest, or the filtered index's digest
        /// when `platforms` is set.
        digest: String,
        /// What the tag points at now (`None`: the tag is missing).
        old_digest: Option<String>,
        /// Copy only these platforms (a new index); `None` copies every platform.
        platforms: Option<Vec<String>>,
        /// Also copy signatures, attestations and SBOMs.
        signatures: bool,
        /// Estimated blob bytes to transfer; a blob several images share counts once, at the first.
        bytes: u64,
        /// Manifest GETs the copy makes on the source (Docker Hub counts them against pull limits).
        manifests: u64,
    },
    /// DELETE /v2/repositories/{org}/{repository}/tags/{tag}/: a tag pushed by hand into a
    /// mirrored repository, which the policy does not list (prune only).
    DeleteTag {
        repository: String,
        tag: String,
        /// What the tag points at (information).
        digest: String,
    },
}

impl Change {
    pub fn action(&self) -> Action {
        use Change::*;
        match self {
            SetImageAccess { old: None, .. } | SetRegistryAccess { old: None, .. } => {
                Action::Create
            }
            SetRegistryAccess { .. } => Action::Update,
            AllowRepository { .. } => Action::Create,
            DisallowRepository { .. } => Action::Delete,
            SetImageAccess { .. } | SetRole { .. } | UpdateTeam { .. } => Action::Update,
            UpdateRepository { .. } | UpdateGrant { .. } => Action::Update,
            Invite { .. } | CreateTeam { .. } | AddTeamMember { .. } => Action::Create,
            CreateRepository { .. } | Grant { .. } => Action::Create,
            RemoveMember { .. } | CancelInvite { .. } | DeleteTeam { .. } => Action::Delete,
            RemoveTeamMember { .. } | DeleteRepository { .. } | Revoke { .. } => Action::Delete,
            DeleteTag { .. } => Action::Delete,
            CopyImage {
                old_digest: None, ..
            } => Action::Create,
            CopyImage { .. } => Action::Update,
        }
    }

    pub fn kind(&self) -> ResourceKind {
        use Change::*;
        match self {
            SetImageAccess { .. } => ResourceKind::ImageAccess,
            SetRegistryAccess { .. } => ResourceKind::RegistryAccess,
            AllowRepository { .. } | DisallowRepository { .. } => ResourceKind::AllowedRepository,
            SetRole { .. } | RemoveMember { .. } => ResourceKind::Member,
            Invite { .. } | CancelInvite { .. } => ResourceKind::Invite,
            CreateTeam { .. } | UpdateTeam { .. } | DeleteTeam { .. } => ResourceKind::Team,
            AddTeamMember { .. } | RemoveTeamMember { .. } => ResourceKind::TeamMember,
            CreateRepository { .. } | UpdateRepository { .. } | DeleteRepository { .. } => {
                ResourceKind::Repository
            }
            Grant { .. } | UpdateGrant { .. } | Revoke { .. } => ResourceKind::Grant,
            CopyImage { .. } | DeleteTag { .. } => ResourceKind::Image,
        }
    }

    /// A stable, human-readable address, unique within a plan, e.g. `grant acme/redis:developers`.
    pub fn address(&self, org: &str) -> String {
        use Change::*;
        match self {
            SetImageAccess { .. } => format!("image_access {org}"),
            SetRegistryAccess { .. } => format!("registry_access {org}"),
            AllowRepository { repository } | DisallowRepository { repository } => {
                allowed_address(repository)
            }
            SetRole { user, .. } | RemoveMember { user, .. } => format!("member {user}"),
            Invite { invitee, team, .. } => match team {
                Some(t) => format!("invite {invitee} (team {t})"),
                None => format!("invite {invitee}"),
            },
            CancelInvite { invitee, team, .. } => match team {
                Some(t) => format!("invite {invitee} (team {t})"),
                None => format!("invite {invitee}"),
            },
            CreateTeam { team, .. } | UpdateTeam { team, .. } | DeleteTeam { team } => {
                format!("team {team}")
            }
            AddTeamMember { team, user } | RemoveTeamMember { team, user } => {
                format!("team_member {team}/{user}")
            }
            CreateRepository { repository, .. }
            | UpdateRepository { repository, .. }
            | DeleteRepository { repository } => format!("repository {org}/{repository}"),
            Grant {
                repository, team, ..
            }
            | UpdateGrant {
                repository, team, ..
            }
            | Revoke {
                repository, team, ..
            } => format!("grant {org}/{repository}:{team}"),
            CopyImage {
                repository, tag, ..
            }
            | DeleteTag {
                repository, tag, ..
            } => image_address(org, repository, tag),
        }
    }
}

/// The address of an allowlisted repository, e.g. `allowed_repository docker.io/bitnami/redis`.
pub fn allowed_address(repository: &str) -> String {
    format!("allowed_repository docker.io/{repository}")
}

/// The address of a mirrored tag, e.g. `image acme/redis:7.2`.
pub fn image_address(org: &str, repository: &str, tag: &str) -> String {
    format!("image {org}/{repository}:{tag}")
}

/// Something people should know that is not a change: drift left alone because prune is off, a
/// pending invite whose role cannot change yet, an upstream tag that moved past the lock...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note {
    pub kind: ResourceKind,
    /// Same address scheme as [`Change::address`].
    pub address: String,
    pub message: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Images to copy (also counted in add/change).
    pub images: usize,
    /// Estimated blob bytes the copies transfer.
    pub bytes: u64,
}

/// The plan. Changes are sorted: deletions first (in reverse dependency order), then creates and
/// updates in dependency order; within a kind by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub org: String,
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
    /// Docker Hub API calls made to read the live state (shown with --verbose and in JSON).
    pub api_calls: u64,
    /// Who gains or loses pull, push or admin on which repository (see [`access`]).
    pub access: Vec<AccessChange>,
    /// Drift left alone (`prune = false`): what prune would change, and who has access through it.
    pub drift: Drift,
    /// A partial plan (`--target`): the targets, canonical and sorted; empty for a whole plan.
    /// Changes outside them are neither planned nor shown ([`target`]).
    pub targets: Vec<String>,
    /// Set when the plan was computed offline from a snapshot (`plan --snapshot`), not from the
    /// live organization: such a plan is never saved for apply (src/commands/snapshot.rs).
    pub snapshot: Option<SnapshotBasis>,
}

/// The snapshot a plan was computed from (src/snapshot/).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotBasis {
    /// When the snapshot was taken (RFC 3339, UTC), as it says.
    pub taken_at: String,
    /// Its age when the plan was made, in seconds.
    pub age_seconds: u64,
    /// The snapshot's fingerprint (`sha256:...`).
    pub fingerprint: String,
    /// The vetted that took it.
    pub vetted_version: String,
}

impl SnapshotBasis {
    /// "based on a snapshot of acme taken 3 h ago (2026-12-02T12:00:00Z)": for every renderer.
    pub fn describe(&self, org: &str) -> String {
        format!(
            "based on a snapshot of {org} taken {} ago ({}), not on the live organization; it cannot be applied",
            crate::snapshot::age_words(i64::try_from(self.age_seconds).unwrap_or(i64::MAX)),
            self.taken_at
        )
    }
}

/// Drift the plan leaves alone because `prune` is off: live items the policy does not list (extra
/// grants, members, team members, teams, invites, repositories, hand-pushed tags in mirrors). Each
/// is also a note. Never applied: with `prune = true` these are the plan's deletions instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// The changes `prune = true` would add to the plan.
    pub changes: Vec<Change>,
    /// Who has access only through that drift: `old` without it, `new` with it (see
    /// [`access::drift`]).
    pub access: Vec<AccessChange>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action() {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
            }
            if let Change::CopyImage { bytes, .. } = c {
                s.images += 1;
                s.bytes = s.bytes.saturating_add(*bytes);
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// A partial plan (`--target`).
    pub fn is_partial(&self) -> bool {
        !self.targets.is_empty()
    }
}
