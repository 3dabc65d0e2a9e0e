//! The preflight of `vetted doctor` as pure data: what the read-only probes found ([`Facts`]) and
//! what the policy needs ([`Needs`]) become a [`Report`] of checks, each with what to do when it
//! fails. Whether a write would be allowed is inferred here, in one place, from the credential's
//! kind and role (the rules the 403 hints of src/hub/error.rs and the sandbox encode); an inference
//! Docker Hub does not document is marked unconfirmed. Rendering is in src/render/doctor.rs.

use serde::Serialize;

use crate::hub::{REPOSITORY_LIST_SCOPE, RateLimit};
use crate::model::Role;
use crate::registry::grants::Granted;

/// A probe that did not answer with a success: the explained error as vetted shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The error's text (remote parts escaped when it is rendered).
    pub text: String,
    /// Docker Hub refused a personal access token on this call.
    pub pat: bool,
}

/// The outcome of one probe; `None` in [`Facts`] means it was not run (an earlier step failed).
pub type Probe<T> = Option<Result<T, Failure>>;

/// What the read-only probes found.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub org: String,
    /// The hub's origin.
    pub hub: String,
    /// The identifier logged in with (never the secret).
    pub identity: String,
    /// Where the organization is named (e.g. "`org` in vetted.toml").
    pub org_source: String,
    /// `POST /v2/auth/token`.
    pub login: Probe<()>,
    /// The members listing: the identity's role (`None`: not listed).
    pub role: Probe<Option<Role>>,
    /// The invites listing: how many.
    pub invites: Probe<usize>,
    /// The teams listing: their names.
    pub teams: Probe<Vec<String>>,
    /// One team's member listing (`Ok(None)`: the organization has no team to read).
    pub team_members: Probe<Option<String>>,
    /// The repository listing: the names listed.
    pub repositories: Probe<Vec<String>>,
    /// Repositories of the policy the listing left out although they read one by one.
    pub omitted: Probe<Vec<String>>,
    /// Why the repository listing may be partial although nothing the policy names is missing from
    /// it ([`crate::hub::listing_doubt`]): an organization access token that lists no private
    /// repository. `None`: no doubt, or the listing was not read.
    pub listing_doubt: Option<String>,
    /// One repository's team grants (`Ok(None)`: no repository to read).
    pub grants: Probe<Option<String>>,
    /// Image Access Management settings: whether it is enabled.
    pub image_access: Probe<bool>,
    /// The Image Access Management repository allowlist: how many repositories it lists.
    pub allowlist: Probe<usize>,
    /// Registry Access Management: whether it is enabled.
    pub registry_access: Probe<bool>,
    /// The hub's `X-RateLimit-*` budget after the probes.
    pub hub_budget: Option<RateLimit>,
    /// The time of the probes (Unix seconds), to say when the budget's window resets.
    pub now: Option<u64>,
    /// The registry pull budget: the source read and its `ratelimit-remaining` (`None` inside:
    /// no limit announced). `None`: the policy mirrors nothing.
    pub pulls: Option<Result<(String, Option<u64>), String>>,
    /// The push token for one target: the repository and what the token service granted.
    pub push: Option<Result<(String, Granted), String>>,
    /// The push target exists in the organization (a missing one is created first by apply).
    pub push_target_exists: bool,
}

/// What the policy manages, hence what apply must read and may write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub image_access: bool,
    pub allowlist: bool,
    pub registry_access: bool,
    pub members: bool,
    pub teams: bool,
    pub repositories: bool,
    pub grants: bool,
    pub mirrors: bool,
    /// `prune = true`: apply deletes what the listing shows and the policy does not name, so it
    /// refuses a listing that may be partial.
    pub prune: bool,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// A guess, or a problem in a section the policy does not manage: apply is not stopped by it.
    Warn,
    /// Apply would fail.
    Fail,
    /// Not checked (an earlier check failed, or nothing to check).
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The checks in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub org: String,
    pub hub: String,
    pub identity: String,
    /// The credential's kind as inferred.
    pub credential: Kind,
    /// Apply can succeed as far as the probes tell (no check failed).
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// What kind of credential logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A user's password (or a personal access token Docker Hub did not refuse on any read).
    User,
    /// A personal access token: refused on organization calls.
    PersonalAccessToken,
    /// An organization access token: the identifier is the organization's name.
    OrganizationAccessToken,
    /// Login failed.
    Unknown,
}

/// Whether a write is allowed.
enum Write {
    Yes(String),
    No(String, String),
    Unconfirmed(String),
}

const PAT_FIX: &str = "use the password of a user with the role needed, or an organization access \
                       token (which cannot change Image Access Management: that needs an owner's \
                       password)";

fn kind_of(f: &Facts) -> Kind {
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
enum Rule {
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

fn write_rule(rule: Rule, kind: Kind, role: Option<Role>, identity: &str, scope: &str) -> Write {
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
fn read_fix(e: &Failure, kind: Kind, role: Option<Role>, scope: &str, f: &Facts) -> String {
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

struct Section<'a, T> {
    check: &'static str,
    probe: &'a Probe<T>,
    describe: &'a dyn Fn(&T) -> String,
    rule: Rule,
    scope: &'static str,
    needed: bool,
}

fn section<T>(s: Section<'_, T>, kind: Kind, role: Option<Role>, f: &Facts) -> Check {
    let unmanaged = " (not managed by this policy: apply does not need it)";
    let Some(result) = s.probe else {
        return Check {
            check: s.check,
            status: Status::Skip,
            detail: "not checked: an earlier check failed".into(),
            fix: None,
        };
    };
    let (status, detail, fix) = match result {
        Err(e) if e.pat => (
            Status::Fail,
            format!(
                "cannot read: {}; write: no: a personal access token cannot manage \
                 organizations, their teams or their settings",
                e.text
            ),
            Some(PAT_FIX.to_string()),
        ),
        Err(e) => (
            Status::Fail,
            format!("cannot read: {}", e.text),
            Some(read_fix(e, kind, role, s.scope, f)),
        ),
        Ok(v) => {
            let read = (s.describe)(v);
            match write_rule(s.rule, kind, role, &f.identity, s.scope) {
                Write::Yes(w) => (Status::Ok, format!("{read}; write: {w}"), None),
                Write::Unconfirmed(w) => (Status::Warn, format!("{read}; write: {w}"), None),
                Write::No(w, fix) => (Status::Fail, format!("{read}; write: {w}"), Some(fix)),
            }
        }
    };
    if s.needed || status != Status::Fail {
        let detail = if s.needed {
            detail
        } else {
            format!("{detail}{unmanaged}")
        };
        return Check {
            check: s.check,
            status,
            detail,
            fix,
        };
    }
    Check {
        check: s.check,
        status: Status::Warn,
        detail: format!("{detail}{unmanaged}"),
        fix,
    }
}

/// The report: every check in a fixed order.
pub fn assess(f: &Facts, needs: &Needs) -> Report {
    let kind = kind_of(f);
    let mut checks = Vec::new();
    checks.push(match &f.login {
        Some(Ok(())) => Check {
            check: "hub",
            status: Status::Ok,
            detail: format!("logged in to {} as {}", f.hub, f.identity),
            fix: None,
        },
        Some(Err(e)) => Check {
            check: "hub",
            status: Status::Fail,
            detail: e.text.clone(),
            fix: Some(match e.status {
                None => "check --hub-url or VETTED_HUB_URL (the Docker Hub API, \
                         https://hub.docker.com unless set) and the network"
                    .into(),
                Some(401) => "check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (for an organization \
                              access token the username is the organization's name)"
                    .into(),
                _ => "run doctor again; if it persists, see the error above".into(),
            }),
        },
        None => Check {
            check: "hub",
            status: Status::Skip,
            detail: "not checked".into(),
            fix: None,
        },
    });
    checks.push(Check {
        check: "credential",
        status: if kind == Kind::Unknown {
            Status::Skip
        } else {
            Status::Ok
        },
        detail: match kind {
            Kind::OrganizationAccessToken => format!(
                "an organization access token of {} (its username is the organization's name)",
                f.org
            ),
            Kind::PersonalAccessToken => format!(
                "a personal access token of {} (Docker Hub refused it on organization calls)",
                f.identity
            ),
            Kind::User => format!(
                "user {}, with a password (unconfirmed: Docker Hub may refuse a personal access \
                 token on writes only, not on these reads)",
                f.identity
            ),
            Kind::Unknown => "not known: the login failed".into(),
        },
        fix: None,
    });
    let role = match &f.role {
        Some(Ok(r)) => *r,
        _ => None,
    };
    checks.push(role_check(f, kind));
    let yes_no = |b: bool| if b { "enabled" } else { "disabled" };
    checks.push(section(
        Section {
            check: "image access",
            probe: &f.image_access,
            describe: &|enabled: &bool| {
                format!(
                    "Image Access Management available (read: {})",
                    yes_no(*enabled)
                )
            },
            rule: Rule::Settings,
            scope: "no scope: an owner's password",
            needed: needs.image_access,
        },
        kind,
        role,
        f,
    ));
    checks.push(section(
        Section {
            check: "allowlist",
            probe: &f.allowlist,
            describe: &|n: &usize| format!("read: ok ({n} repositories; the path is unconfirmed)"),
            rule: Rule::Settings,
            scope: "no scope: an owner's password",
            needed: needs.allowlist,
        },
        kind,
        role,
        f,
    ));
    checks.push(section(
        Section {
            check: "registries",
            probe: &f.registry_access,
            describe: &|enabled: &bool| {
                format!(
                    "Registry Access Management available (read: {})",
                    yes_no(*enabled)
                )
            },
            rule: Rule::Ram,
            scope: "scope-ram-read, scope-ram-write",
            needed: needs.registry_access,
        },
        kind,
        role,
        f,
    ));
    checks.push(section(
        Section {
            check: "members",
            probe: &f.role,
            describe: &|_: &Option<Role>| "read: ok".to_string(),
            rule: Rule::Owner,
            scope: "scope-member-read, scope-member-edit",
            needed: needs.members,
        },
        kind,
        role,
        f,
    ));
    checks.push(section(
        Section {
            check: "invites",
            probe: &f.invites,
            describe: &|n: &usize| format!("read: ok ({n} pending)"),
            rule: Rule::Owner,
            scope: "scope-invite-read, scope-invite-edit",
            needed: needs.members,
        },
        kind,
        role,
        f,
    ));
    checks.push(section(
        Section {
            check: "teams",
            probe: &f.teams,
            describe: &|t: &Vec<String>| format!("read: ok ({} team(s))", t.len()),
            rule: Rule::Owner,
            scope: "scope-group-read, scope-group-edit",
            needed: needs.teams,
        },
        kind,
        role,
        f,
    ));
    checks.push(section(
        Section {
            check: "team members",
            probe: &f.team_members,
            describe: &|t: &Option<String>| match t {
                Some(t) => format!("read: ok (team {t})"),
                None => "read: no team to read".to_string(),
            },
            rule: Rule::Owner,
            scope: "scope-group-read, scope-group-edit",
            needed: needs.teams,
        },
        kind,
        role,
        f,
    ));
    let mut repos = section(
        Section {
            check: "repositories",
            probe: &f.repositories,
            describe: &|r: &Vec<String>| format!("read: ok ({} listed)", r.len()),
            rule: Rule::Editor,
            scope: "scope-repository-list, scope-repository-create",
            needed: needs.repositories,
        },
        kind,
        role,
        f,
    );
    partial_listing(&mut repos, f, kind, needs);
    checks.push(repos);
    checks.push(section(
        Section {
            check: "grants",
            probe: &f.grants,
            describe: &|r: &Option<String>| match r {
                Some(r) => format!("read: ok (repository {r})"),
                None => "read: no repository to read".to_string(),
            },
            rule: Rule::EditorNoPat,
            scope: "scope-repo-group-read, scope-repo-group-edit",
            needed: needs.grants,
        },
        kind,
        role,
        f,
    ));
    checks.push(hub_budget(f));
    checks.push(pull_budget(f, needs));
    checks.push(push_token(f, kind, needs));
    let ok = !checks.iter().any(|c| c.status == Status::Fail);
    Report {
        org: f.org.clone(),
        hub: f.hub.clone(),
        identity: f.identity.clone(),
        credential: kind,
        ok,
        checks,
    }
}

fn role_check(f: &Facts, kind: Kind) -> Check {
    let check = "role";
    match (&f.role, kind) {
        (None, _) => Check {
            check,
            status: Status::Skip,
            detail: "not checked: the login failed".into(),
            fix: None,
        },
        (_, Kind::OrganizationAccessToken) => Check {
            check,
            status: Status::Ok,
            detail: format!(
                "none: an organization access token has no role in {}; its scopes decide what \
                 it may do",
                f.org
            ),
            fix: None,
        },
        (Some(Ok(Some(role))), _) => Check {
            check,
            status: Status::Ok,
            detail: format!("{} of {}", role.as_str(), f.org),
            fix: None,
        },
        (Some(Ok(None)), _) => Check {
            check,
            status: Status::Fail,
            detail: format!("{} is not a member of {}", f.identity, f.org),
            fix: Some(format!(
                "ask an owner of {} to invite {} with the role the policy needs, or log in as a \
                 member; check {} if the organization is another",
                f.org, f.identity, f.org_source
            )),
        },
        (Some(Err(e)), _) => Check {
            check,
            status: Status::Fail,
            detail: format!("unknown: {}", e.text),
            fix: Some(read_fix(e, kind, None, "scope-member-read", f)),
        },
    }
}

/// Adds the partial-listing finding to the repositories line.
fn partial_listing(line: &mut Check, f: &Facts, kind: Kind, needs: &Needs) {
    match &f.omitted {
        Some(Ok(omitted)) if !omitted.is_empty() => {
            line.detail = format!(
                "{}; the listing is partial: it leaves out {} which read one by one",
                line.detail,
                omitted.join(", ")
            );
            line.status = if needs.repositories {
                Status::Fail
            } else {
                Status::Warn
            };
            line.fix = Some(if kind == Kind::OrganizationAccessToken {
                "create the organization access token with scope-repository-list (without it \
                 Docker Hub lists public repositories only), or use a member's password"
                    .into()
            } else {
                format!("log in as a member of {} who sees every repository", f.org)
            });
        }
        Some(Ok(_)) if f.listing_doubt.is_some() && line.status != Status::Fail => {
            let reason = f.listing_doubt.as_deref().unwrap_or_default();
            line.detail = format!("{}; the listing may be partial: {reason}", line.detail);
            // Apply refuses such a listing only where it needs the whole of it: prune.
            line.status = if needs.prune {
                Status::Fail
            } else {
                Status::Warn
            };
            line.fix = Some(format!(
                "create the organization access token with {REPOSITORY_LIST_SCOPE}, or run \
                 vetted with an owner's personal credentials{}",
                if needs.prune {
                    " (apply with prune = true refuses this listing)"
                } else {
                    ""
                }
            ));
        }
        Some(Err(e)) => {
            line.detail = format!(
                "{}; whether the listing is complete is unknown: {}",
                line.detail, e.text
            );
            if line.status == Status::Ok {
                line.status = Status::Warn;
            }
        }
        _ => {}
    }
}

fn hub_budget(f: &Facts) -> Check {
    let check = "hub budget";
    match (&f.login, f.hub_budget) {
        (Some(Ok(())), Some(rl)) => {
            let limit = rl.limit.map(|l| format!(" of {l}")).unwrap_or_default();
            let reset = rl
                .reset
                .map(|r| match f.now {
                    Some(now) if r >= now => format!("; the window resets in {} s", r - now),
                    _ => format!("; the window resets at {r} (Unix time)"),
                })
                .unwrap_or_default();
            Check {
                check,
                status: if rl.remaining == 0 {
                    Status::Warn
                } else {
                    Status::Ok
                },
                detail: format!(
                    "{} Docker Hub API requests{limit} left in this window{reset}",
                    rl.remaining
                ),
                fix: (rl.remaining == 0).then(|| {
                    "wait for the reset: apply waits on 429 answers, and may run out of retries"
                        .to_string()
                }),
            }
        }
        (Some(Ok(())), None) => Check {
            check,
            status: Status::Warn,
            detail: "Docker Hub sent no X-RateLimit headers: the budget is unknown".into(),
            fix: None,
        },
        _ => Check {
            check,
            status: Status::Skip,
            detail: "not checked: the login failed".into(),
            fix: None,
        },
    }
}

fn pull_budget(f: &Facts, needs: &Needs) -> Check {
    let check = "pull budget";
    match &f.pulls {
        None => Check {
            check,
            status: Status::Skip,
            detail: if needs.mirrors {
                "not checked".into()
            } else {
                "the policy mirrors no image".into()
            },
            fix: None,
        },
        Some(Ok((source, Some(0)))) => Check {
            check,
            status: Status::Fail,
            detail: format!("no pulls left ({source} answered ratelimit-remaining 0)"),
            fix: Some(
                "wait for the pull window (6 hours on Docker Hub), or set registry credentials \
                 of an account with a higher limit (VETTED_REGISTRY_USERNAME/PASSWORD)"
                    .into(),
            ),
        },
        Some(Ok((source, Some(n)))) => Check {
            check,
            status: Status::Ok,
            detail: format!("{n} pulls left (read with a HEAD of {source}, which costs none)"),
            fix: None,
        },
        Some(Ok((source, None))) => Check {
            check,
            status: Status::Ok,
            detail: format!("no pull limit announced (HEAD of {source})"),
            fix: None,
        },
        Some(Err(e)) => Check {
            check,
            status: Status::Fail,
            detail: format!("cannot read the mirror source: {e}"),
            fix: Some(
                "check the mirror's `from` in the policy, the registry credentials and \
                 --docker-io-registry"
                    .into(),
            ),
        },
    }
}

fn push_token(f: &Facts, kind: Kind, needs: &Needs) -> Check {
    let check = "push token";
    let fix_for = |repo: &str| match kind {
        Kind::OrganizationAccessToken => "create the organization access token with \
                                          scope-image-push and scope-image-pull"
            .to_string(),
        _ => format!(
            "run apply as an owner, or as a member of a team with write on {repo}; registry \
             credentials for docker.io come from VETTED_REGISTRY_USERNAME/PASSWORD, else \
             DOCKERHUB_USERNAME/TOKEN"
        ),
    };
    match &f.push {
        None => Check {
            check,
            status: Status::Skip,
            detail: if needs.mirrors {
                "not checked".into()
            } else {
                "the policy mirrors no image".into()
            },
            fix: None,
        },
        Some(Ok((repo, Granted::Token(actions)))) if actions.contains("push") => Check {
            check,
            status: Status::Ok,
            detail: format!("the registry grants push on {repo}"),
            fix: None,
        },
        Some(Ok((repo, Granted::Token(actions)))) => {
            let held = if actions.is_empty() {
                "nothing".to_string()
            } else {
                actions.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            // A repository apply creates first: its token before creation says little.
            let guess = !f.push_target_exists && kind != Kind::OrganizationAccessToken;
            Check {
                check,
                status: if guess { Status::Warn } else { Status::Fail },
                detail: if guess {
                    format!(
                        "the registry grants {held} on {repo}, which does not exist yet \
                         (unconfirmed: push may be granted once apply has created it)"
                    )
                } else {
                    format!("the registry grants {held} on {repo}, not push")
                },
                fix: Some(fix_for(repo)),
            }
        }
        Some(Ok((repo, Granted::NoToken))) => Check {
            check,
            status: Status::Warn,
            detail: format!(
                "the registry of {repo} asked for no token: whether push is allowed shows on apply"
            ),
            fix: None,
        },
        Some(Ok((repo, Granted::Unreadable))) => Check {
            check,
            status: Status::Warn,
            detail: format!(
                "the registry issued a token for {repo} whose grants cannot be read (unconfirmed)"
            ),
            fix: None,
        },
        Some(Err(e)) => Check {
            check,
            status: Status::Fail,
            detail: format!("no push token: {e}"),
            fix: Some(fix_for("the repository")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(identity: &str, role: Option<Role>) -> Facts {
        Facts {
            org: "acme".into(),
            hub: "http://127.0.0.1:9".into(),
            identity: identity.into(),
            org_source: "`org` in vetted.toml".into(),
            login: Some(Ok(())),
            role: Some(Ok(role)),
            invites: Some(Ok(0)),
            teams: Some(Ok(vec!["dev".into()])),
            team_members: Some(Ok(Some("dev".into()))),
            repositories: Some(Ok(vec!["app".into()])),
            omitted: Some(Ok(vec![])),
            listing_doubt: None,
            grants: Some(Ok(Some("app".into()))),
            image_access: Some(Ok(false)),
            allowlist: Some(Ok(0)),
            registry_access: Some(Ok(false)),
            hub_budget: Some(RateLimit {
                limit: Some(600),
                remaining: 590,
                reset: Some(60),
            }),
            now: None,
            pulls: None,
            push: None,
            push_target_exists: true,
        }
    }

    const ALL: Needs = Needs {
        image_access: true,
        allowlist: true,
        registry_access: true,
        members: true,
        teams: true,
        repositories: true,
        grants: true,
        mirrors: false,
        prune: false,
    };

    fn status(r: &Report, check: &str) -> Status {
        r.checks.iter().find(|c| c.check == check).unwrap().status
    }

    #[test]
    fn an_owner_passes_and_an_editor_fails_where_owners_are_needed() {
        let r = assess(&facts("alice", Some(Role::Owner)), &ALL);
        assert!(r.ok, "{r:#?}");
        let r = assess(&facts("bob", Some(Role::Editor)), &ALL);
        assert!(!r.ok);
        assert_eq!(status(&r, "teams"), Status::Fail);
        assert_eq!(status(&r, "repositories"), Status::Ok);
        assert_eq!(status(&r, "grants"), Status::Ok);
        // The same editor with a policy of repositories only.
        let repos = Needs {
            repositories: true,
            ..Needs::default()
        };
        let r = assess(&facts("bob", Some(Role::Editor)), &repos);
        assert!(r.ok, "{r:#?}");
        assert_eq!(status(&r, "teams"), Status::Warn);
    }

    #[test]
    fn an_organization_token_has_no_role_and_unconfirmed_writes() {
        let mut f = facts("acme", None);
        f.grants = Some(Err(Failure {
            status: Some(403),
            text: "403 Forbidden".into(),
            pat: false,
        }));
        let r = assess(&f, &ALL);
        assert_eq!(r.credential, Kind::OrganizationAccessToken);
        assert_eq!(status(&r, "role"), Status::Ok);
        assert_eq!(status(&r, "teams"), Status::Warn);
        assert_eq!(status(&r, "image access"), Status::Fail);
        let grants = r.checks.iter().find(|c| c.check == "grants").unwrap();
        assert_eq!(grants.status, Status::Fail);
        assert!(
            grants
                .fix
                .as_deref()
                .unwrap()
                .contains("scope-repo-group-read")
        );
        f.omitted = Some(Ok(vec!["secret".into()]));
        let r = assess(&f, &ALL);
        let repos = r.checks.iter().find(|c| c.check == "repositories").unwrap();
        assert_eq!(repos.status, Status::Fail);
        assert!(
            repos
                .fix
                .as_deref()
                .unwrap()
                .contains("scope-repository-list")
        );
    }

    #[test]
    fn a_failed_login_skips_the_rest() {
        let f = Facts {
            org: "acme".into(),
            identity: "alice".into(),
            login: Some(Err(Failure {
                status: None,
                text: "could not connect".into(),
                pat: false,
            })),
            ..Facts::default()
        };
        let r = assess(&f, &ALL);
        assert!(!r.ok);
        assert_eq!(r.checks[0].status, Status::Fail);
        assert!(
            r.checks[1..].iter().all(|c| c.status == Status::Skip),
            "{r:#?}"
        );
    }
}
