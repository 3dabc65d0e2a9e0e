//! Partial plans (`plan --target`, `apply --target`), as Terraform's `-target`: which resources a
//! target address names, the desired state restricted to them (so the live reader fetches only what
//! they need), and which changes and notes of a diff belong to them. Pure: no I/O.
//!
//! A target is a resource of the policy, written as its table in the policy file or as the address
//! the plan prints for it:
//! - `repositories.NAME` (`repository ORG/NAME`): the repository, its grants and its mirrored tags;
//! - `teams.NAME` (`team NAME`): the team, its description, its members and the invites into it;
//! - `members` (the whole `[members]` table) or `members.USER` (`member USER`): roles and invites;
//! - `image_access` (`settings.image_access`): Image Access Management and its allowlist;
//! - `registry_access` (`settings.registry_access`): Registry Access Management;
//! - `settings`: both of the organization's settings.
//!
//! Dependencies are followed as Terraform follows them: a targeted change that needs a team to
//! exist (a grant to it, an invite into it) brings that team's create or update into the plan;
//! nothing that depends on a target (another repository's grant to a targeted team) is added.
//! Prune deletes only within the targets.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::{OrgState, Username};
use crate::plan::{Change, Note};

/// One resource a partial plan covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    ImageAccess,
    RegistryAccess,
    /// The whole `[members]` table.
    Members,
    Member(Username),
    Team(String),
    Repository(String),
}

impl fmt::Display for Target {
    /// The canonical spelling: the policy table (`repositories.redis`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::ImageAccess => f.write_str("image_access"),
            Target::RegistryAccess => f.write_str("registry_access"),
            Target::Members => f.write_str("members"),
            Target::Member(u) => write!(f, "members.{u}"),
            Target::Team(t) => write!(f, "teams.{t}"),
            Target::Repository(r) => write!(f, "repositories.{r}"),
        }
    }
}

/// What every partial plan says, as Terraform warns of `-target`.
pub const PARTIAL_WARNING: &str = "the plan is partial: changes outside the targets are not shown; do not use --target routinely (it is for emergencies and for sharding a large policy across jobs; a plan without --target shows everything)";

/// Why a target address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// The targets of a partial plan; empty: the whole policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    set: BTreeSet<Target>,
}

/// Longest target address read (a repository name is at most 255 characters).
const MAX_ADDRESS: usize = 300;
/// Most targets one run takes.
pub const MAX_TARGETS: usize = 1_000;

/// `name` with the `org/` prefix, if any, removed.
fn without_org<'a>(name: &'a str, org: &str) -> &'a str {
    name.strip_prefix(org)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(name)
}

/// A name part: non-empty, no whitespace or control characters.
fn name_part<'a>(s: &'a str, address: &str) -> Result<&'a str, TargetError> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TargetError(format!(
            "target `{address}`: the name is empty or holds spaces"
        )));
    }
    Ok(s)
}

/// The resources one address names (`settings` names two).
fn parse_one(address: &str, org: &str) -> Result<Vec<Target>, TargetError> {
    let shown = crate::untrusted::untrusted(address);
    if address.chars().count() > MAX_ADDRESS {
        return Err(TargetError(format!(
            "target `{}...`: longer than {MAX_ADDRESS} characters",
            crate::untrusted::untrusted(&address.chars().take(40).collect::<String>())
        )));
    }
    let a = address.trim();
    let part_of = |what: &str, target: String| {
        Err(TargetError(format!(
            "target `{shown}`: a {what} is part of `{target}`; target that (a partial plan covers whole resources)"
        )))
    };
    match a {
        "settings" => return Ok(vec![Target::ImageAccess, Target::RegistryAccess]),
        "image_access" | "settings.image_access" => return Ok(vec![Target::ImageAccess]),
        "registry_access" | "settings.registry_access" => {
            return Ok(vec![Target::RegistryAccess]);
        }
        "members" => return Ok(vec![Target::Members]),
        _ => {}
    }
    if let Some((kind, rest)) = a.split_once(' ') {
        let rest = rest.trim();
        return match kind {
            "image_access" if rest == org => Ok(vec![Target::ImageAccess]),
            "registry_access" if rest == org => Ok(vec![Target::RegistryAccess]),
            "repository" => Ok(vec![Target::Repository(
                name_part(without_org(rest, org), &shown)?.to_string(),
            )]),
            "team" => Ok(vec![Target::Team(name_part(rest, &shown)?.to_string())]),
            "member" => Ok(vec![Target::Member(Username::new(name_part(
                rest, &shown,
            )?))]),
            "grant" | "image" => {
                let repo = without_org(rest, org).split(':').next().unwrap_or_default();
                let what = if kind == "grant" {
                    "grant"
                } else {
                    "mirrored tag"
                };
                part_of(what, format!("repositories.{repo}"))
            }
            "team_member" => {
                let team = rest.split('/').next().unwrap_or_default();
                part_of("team member", format!("teams.{team}"))
            }
            "invite" => {
                let who = rest.split(' ').next().unwrap_or_default();
                part_of("pending invite", format!("members.{who}"))
            }
            "allowed_repository" => part_of("allowlist entry", "image_access".into()),
            _ => Err(unknown_form(&shown)),
        };
    }
    if let Some((table, name)) = a.split_once('.') {
        let name = name_part(name, &shown)?;
        return match table {
            "repositories" => Ok(vec![Target::Repository(name.to_string())]),
            "teams" => Ok(vec![Target::Team(name.to_string())]),
            "members" => Ok(vec![Target::Member(Username::new(name))]),
            _ => Err(unknown_form(&shown)),
        };
    }
    Err(unknown_form(&shown))
}

fn unknown_form(shown: &str) -> TargetError {
    TargetError(format!(
        "target `{shown}` is not an address vetted knows; use repositories.NAME, teams.NAME, members, members.USER, image_access, registry_access or settings (or the address the plan prints, e.g. `repository ORG/NAME`)"
    ))
}

impl Targets {
    /// Parses `--target` addresses; `org` is the policy's organization (the plan's addresses carry
    /// it). None: the whole policy.
    pub fn parse(addresses: &[String], org: &str) -> Result<Targets, TargetError> {
        if addresses.len() > MAX_TARGETS {
            return Err(TargetError(format!(
                "{} targets given; at most {MAX_TARGETS} are taken",
                addresses.len()
            )));
        }
        let mut set = BTreeSet::new();
        for a in addresses {
            set.extend(parse_one(a, org)?);
        }
        Ok(Targets { set })
    }

    /// No target: the whole policy.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The canonical addresses, sorted (what the plan and a saved plan record).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.set.iter().map(ToString::to_string).collect();
        names.sort();
        names
    }

    fn members(&self) -> bool {
        self.set
            .iter()
            .any(|t| matches!(t, Target::Members | Target::Member(_)))
    }

    fn member(&self, user: &str) -> bool {
        self.set.contains(&Target::Members)
            || self.set.contains(&Target::Member(Username::new(user)))
    }

    fn team(&self, team: &str) -> bool {
        self.set.contains(&Target::Team(team.to_string()))
    }

    fn repository(&self, repository: &str) -> bool {
        self.set
            .contains(&Target::Repository(repository.to_string()))
    }

    /// Whether a partial run covers this repository's vetted.lock entries (`--locked` checks only
    /// those): every repository without targets, else only the targeted ones.
    pub fn covers_lock_of(&self, repository: &str) -> bool {
        self.is_empty() || self.repository(repository)
    }

    /// Whether any team (or the members, which place invites into teams) is targeted: effective
    /// access through team membership then needs every repository's grants.
    pub fn membership(&self) -> bool {
        self.members() || self.set.iter().any(|t| matches!(t, Target::Team(_)))
    }

    /// The teams the targets need: the targeted ones and those a targeted repository grants (a
    /// grant needs its team to exist). `None` when the members are targeted (their invites reach
    /// every team).
    pub fn teams_needed(&self, desired: &OrgState) -> Option<BTreeSet<String>> {
        if self.members() {
            return None;
        }
        let mut out = BTreeSet::new();
        for t in &self.set {
            match t {
                Target::Team(name) => {
                    out.insert(name.clone());
                }
                Target::Repository(name) => {
                    let grants = desired
                        .repositories
                        .get(name)
                        .and_then(|r| r.grants.as_ref());
                    out.extend(grants.into_iter().flat_map(|g| g.keys().cloned()));
                }
                _ => {}
            }
        }
        Some(out)
    }

    /// `desired` restricted to what the targets need: the targeted sections, repositories and
    /// teams, and the teams they depend on. The sections and items left out are unmanaged, so the
    /// live reader does not fetch them; [`Targets::retain`] then drops what the diff says about
    /// them. Unchanged when there are no targets.
    pub fn restrict(&self, desired: &OrgState) -> OrgState {
        if self.is_empty() {
            return desired.clone();
        }
        let mut out = OrgState::empty(&desired.org);
        if self.set.contains(&Target::ImageAccess) {
            out.image_access = desired.image_access;
            out.allowlist = desired.allowlist.clone();
        }
        if self.set.contains(&Target::RegistryAccess) {
            out.registry_access = desired.registry_access.clone();
        }
        if self.members() {
            out.members = desired.members.clone();
        }
        out.teams = match (&desired.teams, self.teams_needed(desired)) {
            (Some(teams), None) => Some(teams.clone()),
            (Some(teams), Some(needed)) if !needed.is_empty() => Some(
                teams
                    .iter()
                    .filter(|(n, _)| needed.contains(*n))
                    .map(|(n, t)| (n.clone(), t.clone()))
                    .collect(),
            ),
            _ => None,
        };
        out.repositories = desired
            .repositories
            .iter()
            .filter(|(n, _)| self.repository(n))
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        out
    }

    /// Every target must name something the policy manages or the organization holds (a live
    /// item only prune would touch); otherwise an error naming it and the close matches. `desired`
    /// is the whole policy's desired state, `live` the live state as read for the targets.
    pub fn check_known(&self, desired: &OrgState, live: &OrgState) -> Result<(), TargetError> {
        let mut known: BTreeSet<Target> = BTreeSet::new();
        if desired.image_access.is_some() || desired.allowlist.is_some() {
            known.insert(Target::ImageAccess);
        }
        if desired.registry_access.is_some() {
            known.insert(Target::RegistryAccess);
        }
        if let Some(m) = &desired.members {
            known.insert(Target::Members);
            let live_roles = live.members.iter().flat_map(|m| m.roles.keys());
            for u in m.roles.keys().chain(live_roles) {
                known.insert(Target::Member(u.clone()));
            }
            for i in live.members.iter().flat_map(|m| &m.invites) {
                known.insert(Target::Member(Username::new(&i.invitee)));
            }
        }
        if let Some(teams) = &desired.teams {
            let live_teams = live.teams.iter().flat_map(|t| t.keys());
            for t in teams.keys().chain(live_teams) {
                known.insert(Target::Team(t.clone()));
            }
        }
        for r in desired.repositories.keys().chain(live.repositories.keys()) {
            known.insert(Target::Repository(r.clone()));
        }
        let unknown: Vec<&Target> = self.set.iter().filter(|t| !known.contains(t)).collect();
        let Some(first) = unknown.first() else {
            return Ok(());
        };
        let names: Vec<String> = unknown.iter().map(|t| format!("`{t}`")).collect();
        // Names of the same kind, compared without the kind's prefix all of them share.
        let name = |t: &Target| match t {
            Target::Member(u) => u.to_string(),
            Target::Team(n) | Target::Repository(n) => n.clone(),
            other => other.to_string(),
        };
        let first_name = name(first);
        let mut close: Vec<(f64, String)> = known
            .iter()
            .filter(|k| std::mem::discriminant(*k) == std::mem::discriminant(*first))
            .map(|k| (strsim::jaro_winkler(&first_name, &name(k)), k.to_string()))
            .filter(|(score, _)| *score > 0.8)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let hint = if close.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = close
                .iter()
                .take(5)
                .map(|(_, k)| format!("`{}`", crate::untrusted::untrusted(k)))
                .collect();
            format!("; close matches: {}", list.join(", "))
        };
        let section = match first {
            Target::ImageAccess | Target::RegistryAccess => {
                " (the policy does not manage it: its section is absent)"
            }
            Target::Members | Target::Member(_) if desired.members.is_none() => {
                " (the policy has no [members] table)"
            }
            Target::Team(_) if desired.teams.is_none() => " (the policy has no [teams] table)",
            _ => "",
        };
        Err(TargetError(format!(
            "unknown target {}: neither in the policy nor in organization {}{section}{hint}; nothing was planned or changed",
            crate::untrusted::untrusted(&names.join(", ")),
            desired.org
        )))
    }

    /// Whether `change` belongs to a target.
    fn covers(&self, change: &Change) -> bool {
        use Change::*;
        match change {
            SetImageAccess { .. } | AllowRepository { .. } | DisallowRepository { .. } => {
                self.set.contains(&Target::ImageAccess)
            }
            SetRegistryAccess { .. } => self.set.contains(&Target::RegistryAccess),
            SetRole { user, .. } | RemoveMember { user, .. } => self.member(user.as_str()),
            Invite { invitee, team, .. } => {
                self.member(invitee.as_str()) || team.as_deref().is_some_and(|t| self.team(t))
            }
            CancelInvite { invitee, team, .. } => {
                self.member(invitee) || team.as_deref().is_some_and(|t| self.team(t))
            }
            CreateTeam { team, .. }
            | UpdateTeam { team, .. }
            | DeleteTeam { team }
            | AddTeamMember { team, .. }
            | RemoveTeamMember { team, .. } => self.team(team),
            CreateRepository { repository, .. }
            | UpdateRepository { repository, .. }
            | DeleteRepository { repository }
            | Grant { repository, .. }
            | UpdateGrant { repository, .. }
            | Revoke { repository, .. }
            | CopyImage { repository, .. }
            | DeleteTag { repository, .. } => self.repository(repository),
        }
    }

    /// Keeps the changes the targets cover and the team creates and updates they depend on, and
    /// the notes about the targets (and those about no resource, such as the lock's). No-op
    /// without targets.
    pub fn retain(&self, changes: &mut Vec<Change>, notes: &mut Vec<Note>, org: &str) {
        if self.is_empty() {
            return;
        }
        let mut needed: BTreeSet<String> = BTreeSet::new();
        for c in changes.iter().filter(|c| self.covers(c)) {
            match c {
                Change::Grant { team, .. } | Change::UpdateGrant { team, .. } => {
                    needed.insert(team.clone());
                }
                Change::Invite {
                    team: Some(team), ..
                } => {
                    needed.insert(team.clone());
                }
                _ => {}
            }
        }
        changes.retain(|c| {
            self.covers(c)
                || matches!(c, Change::CreateTeam { team, .. } | Change::UpdateTeam { team, .. } if needed.contains(team))
        });
        notes.retain(|n| self.covers_address(&n.address, org));
    }

    /// Keeps the drift changes the targets cover (no dependencies: drift is never applied).
    pub fn retain_drift(&self, drift: &mut Vec<Change>) {
        if !self.is_empty() {
            drift.retain(|c| self.covers(c));
        }
    }

    /// Whether a note's address (the plan's address scheme) is about a target; an address that
    /// names no resource (`docker.io`, the lock) is kept.
    fn covers_address(&self, address: &str, org: &str) -> bool {
        let Some((kind, rest)) = address.split_once(' ') else {
            return true;
        };
        let repo_of = |s: &str| {
            without_org(s, org)
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        match kind {
            "image_access" | "allowed_repository" => self.set.contains(&Target::ImageAccess),
            "registry_access" => self.set.contains(&Target::RegistryAccess),
            "member" => self.member(rest),
            "invite" => {
                let (who, team) = match rest.split_once(" (team ") {
                    Some((who, team)) => (who, team.strip_suffix(')')),
                    None => (rest, None),
                };
                self.member(who) || team.is_some_and(|t| self.team(t))
            }
            "team" => self.team(rest),
            "team_member" => self.team(rest.split('/').next().unwrap_or_default()),
            "repository" | "grant" | "image" => self.repository(&repo_of(rest)),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests;
