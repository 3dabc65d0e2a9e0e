//! The preflight of `vetted doctor` as pure data: what the read-only probes found ([`Facts`]) and
//! what the policy needs ([`Needs`]) become a [`Report`] of checks, each with what to do when it
//! fails. This file owns the data types and [`assess`], which checks each section of the policy;
//! whether a write would be allowed is inferred in one place, `write` (from the credential's kind
//! and role: the rules the 403 hints of src/hub/error.rs and the sandbox encode; an inference
//! Docker Hub does not document is marked unconfirmed); the checks beyond the sections (role,
//! budgets, push token) are in `checks`. Rendering is in src/render/doctor.rs.

mod checks;
mod write;

use serde::Serialize;

use crate::hub::RateLimit;
use crate::model::Role;
use crate::registry::grants::Granted;
use checks::{hub_budget, partial_listing, pull_budget, push_token, role_check};
use write::{PAT_FIX, Rule, Write, kind_of, read_fix, write_rule};

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

#[cfg(test)]
mod tests;
