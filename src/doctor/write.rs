//! Whether a write would be allowed, inferred in this one place from the credential's kind and role
//! (the rules the 403 hints of src/hub/error.rs and the sandbox encode), and the fix for a refused
//! read. An inference Docker Hub does not document is marked unconfirmed.

use super::{Facts, Failure, Kind};
use crate::model::Role;

/// Whether a write is allowed.
pub(super) enum Write {
    Yes(String),
    No(String, String),
    Unconfirmed(String),
}

pub(super) const PAT_FIX: &str = "use the password of a user with the role needed, or an organization access \
                       token (which cannot change Image Access Management: that needs an owner's \
                       password)";

pub(super) fn kind_of(f: &Facts) -> Kind {
    if !matches!(f.login, Some(Ok(()))) {
        return Kind::Unknown;
    }
    // An organization access token's identifier is the organization's name (src/hub/error.rs).
    if f.identity.eq_ignore_ascii_case(&f.org) {
        return Kind::OrganizationAccessToken;
    }
    let failures = [
        f.role.as_ref().and_then(|r| r.as_ref().err()),
        f.invites.as_ref().and_then(|r| r.as_ref().err()),
        f.teams.as_ref().and_then(|r| r.as_ref().err()),
        f.team_members.as_ref().and_then(|r| r.as_ref().err()),
        f.grants.as_ref().and_then(|r| r.as_ref().err()),
        f.image_access.as_ref().and_then(|r| r.as_ref().err()),
    ];
    if failures.iter().flatten().any(|e| e.pat) {
        Kind::PersonalAccessToken
    } else {
        Kind::User
    }
}

/// What kind of write a section needs.
#[derive(Clone, Copy)]
pub(super) enum Rule {
    /// Owner signed in with a password (Image Access Management, its allowlist).
    Settings,
    /// Owner signed in with a password, or an organization access token with `scope-ram-write`
    /// (Registry Access Management).
    Ram,
    /// Owner; no personal access token (members, invites, teams).
    Owner,
    /// Editor or owner (repositories).
    Editor,
    /// Editor or owner; no personal access token (team grants).
    EditorNoPat,
}

pub(super) fn write_rule(
    rule: Rule,
    kind: Kind,
    role: Option<Role>,
    identity: &str,
    scope: &str,
) -> Write {
    let role_text = |r: Option<Role>| match r {
        Some(r) => format!("{identity} is {}", r.as_str()),
        None => format!("{identity} has no role that Docker Hub showed"),
    };
    match kind {
        Kind::Unknown => Write::No("unknown: login failed".into(), "fix the login first".into()),
        Kind::OrganizationAccessToken => match rule {
            Rule::Settings => Write::No(
                "no: an organization access token cannot change Image Access Management".into(),
                "run apply with the password of an owner for Image Access Management, or leave \
                 [image_access] out of the policy"
                    .into(),
            ),
            _ => Write::Unconfirmed(format!(
                "unconfirmed: depends on the token's scopes ({scope}), which Docker Hub does not \
                 show"
            )),
        },
        Kind::PersonalAccessToken if !matches!(rule, Rule::Editor) => Write::No(
            "no: a personal access token cannot manage organizations, their teams or their \
             settings"
                .into(),
            PAT_FIX.into(),
        ),
        Kind::PersonalAccessToken if role.is_none() => Write::Unconfirmed(format!(
            "unconfirmed: needs the editor or owner role, which Docker Hub does not show to a \
             personal access token ({identity})"
        )),
        Kind::PersonalAccessToken | Kind::User => {
            let allowed = match rule {
                Rule::Settings | Rule::Ram | Rule::Owner => matches!(role, Some(Role::Owner)),
                Rule::Editor | Rule::EditorNoPat => {
                    matches!(role, Some(Role::Owner | Role::Editor))
                }
            };
            let needed = match rule {
                Rule::Settings | Rule::Ram | Rule::Owner => "the owner role",
                Rule::Editor | Rule::EditorNoPat => "the editor or owner role",
            };
            if allowed {
                Write::Yes(format!("yes ({})", role_text(role)))
            } else {
                Write::No(
                    format!("no: needs {needed} ({})", role_text(role)),
                    format!("run apply as a user with {needed} in the organization"),
                )
            }
        }
    }
}

/// The fix for a refused read.
pub(super) fn read_fix(
    e: &Failure,
    kind: Kind,
    role: Option<Role>,
    scope: &str,
    f: &Facts,
) -> String {
    if e.pat {
        return PAT_FIX.into();
    }
    match (e.status, kind) {
        (None, _) => {
            "check --hub-url or VETTED_HUB_URL and the network, then run doctor again".into()
        }
        (Some(404), _) => format!(
            "check {} (the organization's name on Docker Hub), and that {} is a member",
            f.org_source, f.identity
        ),
        (Some(403), Kind::OrganizationAccessToken) => format!(
            "create an organization access token with {scope}, or use the password of a member"
        ),
        (Some(403), _) => match role {
            Some(r) => format!(
                "run apply as a user with the owner role in {} ({} is {})",
                f.org,
                f.identity,
                r.as_str()
            ),
            None => format!(
                "ask an owner of {} to add {} with the role needed, or log in as such a member",
                f.org, f.identity
            ),
        },
        _ => "run doctor again; if it persists, see the error above".into(),
    }
}
