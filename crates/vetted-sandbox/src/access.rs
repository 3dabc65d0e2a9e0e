//! The access rules the hub API's handlers share: organization membership and roles, what
//! personal and organization access tokens may do ([`scope`]), and who may edit repositories and
//! their team grants, with Docker Hub's refusal messages.

use crate::auth::Principal;
use crate::plumbing::ApiError;
use crate::state::HubState;
use crate::wire::Role;

/// Docker's message when a personal access token is used on org/team management endpoints.
pub const PAT_NOT_ALLOWED: &str = "token issued from personal access token is not allowed";

/// 404 unless `name` is this sandbox's org.
pub fn require_org(hub: &HubState, name: &str) -> Result<(), ApiError> {
    if hub.is_org(name) {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// The caller's role in the org: org tokens act for the org; non-members have none.
pub fn role_of(hub: &HubState, p: &Principal) -> Option<Role> {
    match p {
        Principal::OrgToken { org, .. } => hub.is_org(org).then_some(Role::Owner),
        Principal::User { username, .. } => hub.members.get(username).copied(),
    }
}

/// Org and team endpoints: any member may read; personal access tokens are refused.
pub fn can_read_org(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    if let Principal::User { via_pat: true, .. } = p {
        return Err(ApiError::forbidden(PAT_NOT_ALLOWED));
    }
    role_of(hub, p)
        .map(|_| ())
        .ok_or_else(ApiError::no_permission)
}

/// Managing members, teams and invites: owners and org tokens; never a personal access token.
pub fn can_manage_org(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    if let Principal::User { via_pat: true, .. } = p {
        return Err(ApiError::forbidden(PAT_NOT_ALLOWED));
    }
    match role_of(hub, p) {
        Some(Role::Owner) => Ok(()),
        _ => Err(ApiError::no_permission()),
    }
}

/// Docker's message when an organization access token calls a legacy repository path
/// (`GET /v2/repositories/{ns}/{repo}`, `/v2/repositories/{ns}`, `/v2/users/{u}/repositories`),
/// whatever its scopes (Docker's access-token reference, "Unsupported legacy endpoints").
pub const OAT_NOT_ALLOWED: &str = "token issued from organization access token is not allowed";

/// Organization access token scopes (Docker's names and what each grants: Docker's access-token
/// reference, docker/docs `content/manuals/security/access-tokens/reference.md`; hub-api.md). Each
/// list holds the scopes that allow an action: a higher scope includes the lower ones ("Includes
/// ..." in the reference). The sandbox holds a token's repository scopes for every repository of the
/// organization (Docker's "All <organization> repositories"), not per repository.
pub mod scope {
    pub const GROUP_READ: &[&str] = &["scope-group-read", "scope-group-edit"];
    pub const GROUP_EDIT: &[&str] = &["scope-group-edit"];
    pub const MEMBER_READ: &[&str] = &["scope-member-read", "scope-member-edit"];
    pub const MEMBER_EDIT: &[&str] = &["scope-member-edit"];
    pub const INVITE_READ: &[&str] = &["scope-invite-read", "scope-invite-edit"];
    pub const INVITE_EDIT: &[&str] = &["scope-invite-edit"];
    pub const REPO_CREATE: &[&str] = &["scope-repository-create"];
    /// "List all repositories in the namespace, including private ones": without it the listing
    /// silently holds the public repositories only.
    pub const REPO_LIST: &[&str] = &["scope-repository-list"];
    pub const REPO_READ: &[&str] = &[
        "scope-repository-read",
        "scope-repository-edit",
        "scope-repository-admin",
    ];
    /// Privacy and description.
    pub const REPO_EDIT: &[&str] = &["scope-repository-edit", "scope-repository-admin"];
    /// Deleting the repository.
    pub const REPO_ADMIN: &[&str] = &["scope-repository-admin"];
    pub const TAG_READ: &[&str] = &["scope-tag-read", "scope-tag-admin"];
    pub const TAG_ADMIN: &[&str] = &["scope-tag-admin"];
    pub const REPO_GROUP_READ: &[&str] = &[
        "scope-repo-group-read",
        "scope-repo-group-edit",
        "scope-repo-group-admin",
    ];
    pub const REPO_GROUP_EDIT: &[&str] = &["scope-repo-group-edit", "scope-repo-group-admin"];
    /// Deleting a team's assignment to a repository.
    pub const REPO_GROUP_ADMIN: &[&str] = &["scope-repo-group-admin"];
    /// Registry Access Management (taken off the list of settings an organization access token
    /// cannot use in June 2026: docker/docs PR 25364).
    pub const RAM_READ: &[&str] = &["scope-ram-read", "scope-ram-write"];
    pub const RAM_WRITE: &[&str] = &["scope-ram-write"];

    /// Every scope Docker's access-token reference names (repository, organization and product
    /// scopes), so a seed's misspelt scope is an error rather than a silent refusal.
    pub const KNOWN: &[&str] = &[
        "scope-image-pull",
        "scope-image-push",
        "scope-image-delete",
        "scope-repository-read",
        "scope-repository-edit",
        "scope-repository-admin",
        "scope-tag-read",
        "scope-tag-admin",
        "scope-webhook-read",
        "scope-webhook-edit",
        "scope-webhook-admin",
        "scope-repo-group-read",
        "scope-repo-group-edit",
        "scope-repo-group-admin",
        "scope-repository-settings-admin",
        "scope-member-read",
        "scope-member-edit",
        "scope-invite-read",
        "scope-invite-edit",
        "scope-group-read",
        "scope-group-edit",
        "scope-activity-read",
        "scope-siem_credentials-read",
        "scope-ram-read",
        "scope-ram-write",
        "scope-report-read",
        "scope-repository-create",
        "scope-repository-list",
        "scope-registry-usage-read",
        "scope-cloud-connect",
        "scope-audit_events-read",
        "scope-governance-policy-read",
        "scope-governance-policy-write",
    ];
}

/// True unless `p` is an organization access token seeded with scopes none of which is in `any_of`.
pub fn has_scope(p: &Principal, any_of: &[&str]) -> bool {
    require_scope(p, any_of).is_ok()
}

/// The legacy repository reads refuse every organization access token (403, Docker's message).
pub fn refuse_org_token(p: Option<&Principal>) -> Result<(), ApiError> {
    match p {
        Some(Principal::OrgToken { .. }) => Err(ApiError::forbidden(OAT_NOT_ALLOWED)),
        _ => Ok(()),
    }
}

/// An organization access token seeded with `scopes` needs one of `any_of`; tokens seeded without
/// scopes, and users, pass.
pub fn require_scope(p: &Principal, any_of: &[&str]) -> Result<(), ApiError> {
    match p {
        Principal::OrgToken {
            scopes: Some(scopes),
            ..
        } if !any_of.iter().any(|s| scopes.contains(*s)) => Err(ApiError::forbidden(format!(
            "organization access token is missing a required scope (one of: {})",
            any_of.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Creating, changing and deleting repositories: owners, editors and org tokens.
pub fn can_edit_repos(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    match role_of(hub, p) {
        Some(Role::Owner | Role::Editor) => Ok(()),
        _ => Err(ApiError::no_permission()),
    }
}

/// Team permissions on repositories: owners, editors and org tokens; never a personal access token.
pub fn can_manage_grants(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    if let Principal::User { via_pat: true, .. } = p {
        return Err(ApiError::forbidden(PAT_NOT_ALLOWED));
    }
    can_edit_repos(hub, p)
}
