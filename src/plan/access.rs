//! Effective access: who can pull, push or administer which repository, and what a plan gives or
//! takes away per person. Pure functions over [`OrgState`] and [`Change`]s; no I/O.
//!
//! Rules (they follow Docker Hub's):
//! - Owners and editors administer every repository of the organization.
//! - Other members get what their teams are granted: `read` = pull, `write` = push (and pull),
//!   `admin` = admin. Several grants: the highest wins.
//! - A public repository is pullable by everyone (shown once as "everyone", not per person).
//! - A pending invitee gets the access of the invited role and team only on acceptance; such
//!   entries are marked `pending`.
//! - Only what was read is known: when team membership was not read (the policy leaves `[teams]`
//!   unmanaged), access through a team is attributed to "members of team T"; when a repository's
//!   grants were not read, grant-derived access to it is not shown.
//!
//! The state after the plan is the live state with the plan's changes applied ([`project`]), so
//! unmanaged sections and prune-off drift stay as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Invite, Members, OrgState, Permission, Repository, Role, Team, Username};
use crate::plan::Change;

/// What someone can do with a repository. Ordered pull < push < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Pull,
    Push,
    Admin,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pull => "pull",
            Level::Push => "push",
            Level::Admin => "admin",
        }
    }

    fn of(p: Permission) -> Level {
        match p {
            Permission::Read => Level::Pull,
            Permission::Write => Level::Push,
            Permission::Admin => Level::Admin,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds access. Ordered: everyone, teams whose members are unknown, then people by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// Anyone, signed in or not (public repositories).
    Everyone,
    /// Every member of the organization (access outside its repositories: the allowlist, the
    /// registries Registry Access Management allows).
    Members,
    /// The members of a team whose membership was not read.
    Team(String),
    /// A person: an accepted member (Docker ID) or a pending invitee (Docker ID or email, lowercase).
    Person(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Everyone => f.write_str("everyone"),
            Subject::Members => f.write_str("members"),
            Subject::Team(t) => write!(f, "members of team {t}"),
            Subject::Person(p) => f.write_str(p),
        }
    }
}

/// One holder's access to one repository in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    pub level: Level,
    /// Held through a pending invite: effective on acceptance.
    pub pending: bool,
}

/// Effective access of a whole state: (subject, repository) -> holding. Deterministic order.
pub type AccessMap = BTreeMap<(Subject, String), Holding>;

/// One subject's access to one repository changing between the live state and the state after the
/// plan. `old`/`new` `None`: no access.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccessChange {
    pub subject: Subject,
    /// Repository name without the organization.
    pub repository: String,
    pub old: Option<Level>,
    pub new: Option<Level>,
    /// The subject is a pending invitee after the plan: the new access applies on acceptance.
    pub pending: bool,
    /// Access outside the organization's repositories: `repository` is then a Docker Hub
    /// repository (`docker.io/bitnami/redis`) or a registry (`ghcr.io`, `every registry`).
    pub outside: Option<Outside>,
}

/// How members reach something outside the organization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outside {
    /// The Image Access Management allowlist: members pull upstream, every push, unreviewed and
    /// unpinned. `mirrored_as`: the organization's mirrors of the same repository.
    Allowlist { mirrored_as: Vec<String> },
    /// Registry Access Management (Docker Desktop). `except`: for `every registry`, the registries
    /// members keep (or had) when it is turned on (or off).
    RegistryAccess { except: Vec<String> },
}

impl AccessChange {
    /// `carol gains push on acme/redis (had pull)`, `erin (invited) will gain pull on acme/api`.
    pub fn sentence(&self, org: &str) -> String {
        let who = if self.pending {
            format!("{} (invited)", self.subject)
        } else {
            self.subject.to_string()
        };
        let plural = matches!(self.subject, Subject::Everyone | Subject::Person(_));
        let (gain, lose) = match (self.pending, plural) {
            (true, _) => ("will gain", "will lose"),
            (false, true) => ("gains", "loses"),
            (false, false) => ("gain", "lose"),
        };
        if let Some(outside) = &self.outside {
            return self.outside_sentence(outside, org, &who, gain, lose);
        }
        let repo = format!("{org}/{}", self.repository);
        match (self.old, self.new) {
            (None, Some(new)) => format!("{who} {gain} {new} on {repo}"),
            (Some(old), None) => format!("{who} {lose} {old} on {repo}"),
            (Some(old), Some(new)) if new > old => {
                format!("{who} {gain} {new} on {repo} (had {old})")
            }
            (Some(old), Some(new)) => format!("{who} {lose} {old} on {repo} (keeps {new})"),
            (None, None) => format!("{who}: no change on {repo}"),
        }
    }

    /// `members gain pull on docker.io/bitnami/redis, upstream, not pinned (...)`.
    fn outside_sentence(
        &self,
        outside: &Outside,
        org: &str,
        who: &str,
        gain: &str,
        lose: &str,
    ) -> String {
        let target = &self.repository;
        let gained = self.new > self.old;
        match outside {
            Outside::Allowlist { mirrored_as } => {
                let mirrors = if mirrored_as.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> =
                        mirrored_as.iter().map(|m| format!("{org}/{m}")).collect();
                    format!("; also mirrored as {}", list.join(", "))
                };
                if gained {
                    format!(
                        "{who} {gain} pull on {target}, upstream, not pinned (every upstream push reaches them unreviewed{mirrors})"
                    )
                } else {
                    format!("{who} {lose} pull on {target} (upstream, allowlist{mirrors})")
                }
            }
            Outside::RegistryAccess { except } => {
                let verb = if gained { gain } else { lose };
                if target == EVERY_REGISTRY {
                    let except = if except.is_empty() {
                        String::new()
                    } else {
                        format!(" except {}", except.join(", "))
                    };
                    format!(
                        "{who} {verb} pull from every registry{except} (Registry Access Management {})",
                        if gained { "off" } else { "on" }
                    )
                } else {
                    format!("{who} {verb} pull from registry {target} (Registry Access Management)")
                }
            }
        }
    }

    /// True when the subject ends with less access than before.
    pub fn is_loss(&self) -> bool {
        self.new < self.old
    }
}

fn raise(map: &mut AccessMap, subject: Subject, repo: &str, level: Level, pending: bool) {
    let key = (subject, repo.to_string());
    match map.get_mut(&key) {
        None => {
            map.insert(key, Holding { level, pending });
        }
        Some(h) => {
            // An accepted path wins over a pending one at the same or a higher level.
            if level > h.level || (level == h.level && h.pending && !pending) {
                *h = Holding { level, pending };
            }
        }
    }
}

fn invitee_key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Everything known about who can do what in `state`.
pub fn effective(state: &OrgState) -> AccessMap {
    let mut map = AccessMap::new();
    let empty = Members::default();
    let members = state.members.as_ref().unwrap_or(&empty);
    let admins_all = |r: Role| matches!(r, Role::Owner | Role::Editor);
    for (user, role) in &members.roles {
        if admins_all(*role) {
            for repo in state.repositories.keys() {
                raise(&mut map, person(user), repo, Level::Admin, false);
            }
        }
    }
    for inv in &members.invites {
        let who = Subject::Person(invitee_key(&inv.invitee));
        if members.roles.contains_key(&Username::new(&inv.invitee)) {
            continue; // already a member: the invite adds nothing the member does not have
        }
        if admins_all(inv.role) {
            for repo in state.repositories.keys() {
                raise(&mut map, who.clone(), repo, Level::Admin, true);
            }
        }
        if let Some(team) = &inv.team {
            for (repo, r) in &state.repositories {
                if let Some(p) = r.grants.as_ref().and_then(|g| g.get(team)) {
                    raise(&mut map, who.clone(), repo, Level::of(*p), true);
                }
            }
        }
    }
    for (repo, r) in &state.repositories {
        if !r.private {
            raise(&mut map, Subject::Everyone, repo, Level::Pull, false);
        }
        let Some(grants) = &r.grants else { continue };
        for (team, p) in grants {
            let level = Level::of(*p);
            match state.teams.as_ref() {
                None => raise(&mut map, Subject::Team(team.clone()), repo, level, false),
                Some(teams) => {
                    for user in teams.get(team).map(|t| &t.members).into_iter().flatten() {
                        raise(&mut map, person(user), repo, level, false);
                    }
                }
            }
        }
    }
    map
}

fn person(u: &Username) -> Subject {
    Subject::Person(u.as_str().to_string())
}

/// What changes between two access maps, per subject and repository, in deterministic order.
/// Pull access that only follows a repository becoming public or private is reported once, for
/// "everyone", not for each person.
pub fn compare(before: &AccessMap, after: &AccessMap) -> Vec<AccessChange> {
    let keys: BTreeSet<&(Subject, String)> = before.keys().chain(after.keys()).collect();
    let everyone = |m: &AccessMap, repo: &str| {
        m.get(&(Subject::Everyone, repo.to_string()))
            .map(|h| h.level)
    };
    let mut out = Vec::new();
    for key in keys {
        let (subject, repo) = key;
        let b = before.get(key);
        let a = after.get(key);
        // A person's effective level includes what everyone has.
        let level = |h: Option<&Holding>, m: &AccessMap| {
            let own = h.map(|h| h.level);
            if matches!(subject, Subject::Person(_)) {
                own.max(everyone(m, repo))
            } else {
                own
            }
        };
        let old = level(b, before);
        let new = level(a, after);
        let pending_before = b.is_some_and(|h| h.pending);
        let pending_after = a.is_some_and(|h| h.pending);
        if old == new && pending_before == pending_after {
            continue;
        }
        if old == new {
            // Same level, invite accepted or the member left with a pending invite: not an access
            // change a reviewer acts on.
            continue;
        }
        if matches!(subject, Subject::Person(_))
            && old <= Some(Level::Pull)
            && new <= Some(Level::Pull)
            && old == everyone(before, repo)
            && new == everyone(after, repo)
        {
            continue; // explained by the "everyone" line
        }
        out.push(AccessChange {
            subject: subject.clone(),
            repository: repo.clone(),
            old,
            new,
            pending: pending_after || (a.is_none() && pending_before),
            outside: None,
        });
    }
    out
}

/// What [`AccessChange::repository`] holds when Registry Access Management is off.
pub const EVERY_REGISTRY: &str = "every registry";

/// Members' access outside the organization's repositories that `changes` gives or takes: each
/// allowlist entry added or removed (while Image Access Management is, or will be, on or unknown),
/// and each registry Registry Access Management starts or stops letting them reach.
pub fn outside(desired: &OrgState, live: &OrgState, changes: &[Change]) -> Vec<AccessChange> {
    let mut image_access = live.image_access;
    for c in changes {
        if let Change::SetImageAccess { new, .. } = c {
            image_access = Some(*new);
        }
    }
    // With Image Access Management off, members pull every image anyway.
    let restricted = image_access.is_none_or(|ia| ia.enabled);
    let mut mirrors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, repo) in &desired.repositories {
        if let Some(m) = &repo.mirror {
            if let Ok(up) = crate::model::docker_hub_repository(&m.from) {
                mirrors.entry(up).or_default().push(name.clone());
            }
        }
    }
    let row = |repository: String, old, new, outside| AccessChange {
        subject: Subject::Members,
        repository,
        old,
        new,
        pending: false,
        outside: Some(outside),
    };
    let mut out = Vec::new();
    for c in changes {
        match c {
            Change::AllowRepository { repository } | Change::DisallowRepository { repository }
                if restricted =>
            {
                let gained = matches!(c, Change::AllowRepository { .. });
                let (old, new) = if gained {
                    (None, Some(Level::Pull))
                } else {
                    (Some(Level::Pull), None)
                };
                let mirrored_as = mirrors.get(repository).cloned().unwrap_or_default();
                out.push(row(
                    format!("docker.io/{repository}"),
                    old,
                    new,
                    Outside::Allowlist { mirrored_as },
                ));
            }
            Change::SetRegistryAccess { old, new } => {
                // Not read before: nothing known to compare with.
                let Some(old) = old else { continue };
                let every = |except: &BTreeSet<String>| Outside::RegistryAccess {
                    except: except.iter().cloned().collect(),
                };
                let one = || Outside::RegistryAccess { except: Vec::new() };
                match (old.reachable(), new.reachable()) {
                    (None, None) => {}
                    // Turned on: every registry but those listed is lost.
                    (None, Some(kept)) => out.push(row(
                        EVERY_REGISTRY.to_string(),
                        Some(Level::Pull),
                        None,
                        every(&kept),
                    )),
                    // Turned off: every registry is gained.
                    (Some(had), None) => out.push(row(
                        EVERY_REGISTRY.to_string(),
                        None,
                        Some(Level::Pull),
                        every(&had),
                    )),
                    (Some(before), Some(after)) => {
                        for gained in after.difference(&before) {
                            out.push(row(gained.clone(), None, Some(Level::Pull), one()));
                        }
                        for lost in before.difference(&after) {
                            out.push(row(lost.clone(), Some(Level::Pull), None, one()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out
}

/// `live` with `changes` applied: the state apply leaves behind (as far as access is concerned).
pub fn project(live: &OrgState, changes: &[Change]) -> OrgState {
    let mut s = live.clone();
    for c in changes {
        match c {
            // Access outside the organization's repositories: see [`outside`].
            Change::SetImageAccess { .. }
            | Change::SetRegistryAccess { .. }
            | Change::AllowRepository { .. }
            | Change::DisallowRepository { .. }
            | Change::CopyImage { .. }
            | Change::DeleteTag { .. } => {}
            Change::SetRole { user, new, .. } => {
                members_mut(&mut s).roles.insert(user.clone(), *new);
            }
            Change::RemoveMember { user, .. } => {
                members_mut(&mut s).roles.remove(user);
                for t in s.teams.iter_mut().flat_map(|t| t.values_mut()) {
                    t.members.remove(user);
                }
            }
            Change::Invite {
                invitee,
                role,
                team,
            } => members_mut(&mut s).invites.push(Invite {
                id: None,
                invitee: invitee.as_str().to_string(),
                role: *role,
                team: team.clone(),
            }),
            Change::CancelInvite {
                id, invitee, team, ..
            } => members_mut(&mut s).invites.retain(|i| {
                !(i.id.as_deref() == Some(id.as_str())
                    || (&i.invitee == invitee && &i.team == team))
            }),
            Change::CreateTeam { team, description } => {
                // Teams not read (unmanaged) stay unknown.
                if let Some(teams) = s.teams.as_mut() {
                    teams.insert(
                        team.clone(),
                        Team {
                            description: Some(description.clone()),
                            members: BTreeSet::new(),
                        },
                    );
                }
            }
            Change::UpdateTeam { .. } => {}
            Change::DeleteTeam { team } => {
                if let Some(t) = s.teams.as_mut() {
                    t.remove(team);
                }
                for r in s.repositories.values_mut() {
                    if let Some(g) = r.grants.as_mut() {
                        g.remove(team);
                    }
                }
                for i in members_mut(&mut s).invites.iter_mut() {
                    if i.team.as_ref() == Some(team) {
                        i.team = None;
                    }
                }
            }
            Change::AddTeamMember { team, user } => {
                if let Some(t) = s.teams.as_mut().and_then(|t| t.get_mut(team)) {
                    t.members.insert(user.clone());
                }
            }
            Change::RemoveTeamMember { team, user } => {
                if let Some(t) = s.teams.as_mut().and_then(|t| t.get_mut(team)) {
                    t.members.remove(user);
                }
            }
            Change::CreateRepository { repository, fields } => {
                s.repositories.insert(
                    repository.clone(),
                    Repository {
                        private: fields.private,
                        description: Some(fields.description.clone()),
                        full_description: Some(fields.full_description.clone()),
                        grants: Some(BTreeMap::new()),
                        mirror: None,
                        tags: None,
                    },
                );
            }
            Change::UpdateRepository {
                repository,
                private,
                ..
            } => {
                if let (Some(r), Some(p)) = (s.repositories.get_mut(repository), private) {
                    r.private = p.new;
                }
            }
            Change::DeleteRepository { repository } => {
                s.repositories.remove(repository);
            }
            Change::Grant {
                repository,
                team,
                permission,
            } => set_grant(&mut s, repository, team, Some(*permission)),
            Change::UpdateGrant {
                repository,
                team,
                permission,
            } => set_grant(&mut s, repository, team, Some(permission.new)),
            Change::Revoke {
                repository, team, ..
            } => set_grant(&mut s, repository, team, None),
        }
    }
    s
}

fn members_mut(s: &mut OrgState) -> &mut Members {
    s.members.get_or_insert_with(Members::default)
}

fn set_grant(s: &mut OrgState, repo: &str, team: &str, p: Option<Permission>) {
    if let Some(r) = s.repositories.get_mut(repo) {
        let g = r.grants.get_or_insert_with(BTreeMap::new);
        match p {
            Some(p) => g.insert(team.to_string(), p),
            None => g.remove(team),
        };
    }
}

/// Access changes the plan's `changes` make to `live`.
pub fn changes(live: &OrgState, changes: &[Change]) -> Vec<AccessChange> {
    compare(&effective(live), &effective(&project(live, changes)))
}

/// Who has access through drift left alone: the state after the plan's `changes` with the drift
/// kept (`new`) against the same state with the `drift` changes applied too (`old`), i.e. what
/// `prune = true` would take away. Repositories the policy does not list are left out: access to
/// them is not the policy's to give (prune would delete them whole). Empty when the drift grants
/// nothing on a managed repository.
pub fn drift(live: &OrgState, changes: &[Change], drift: &[Change]) -> Vec<AccessChange> {
    let unmanaged: BTreeSet<&String> = drift
        .iter()
        .filter_map(|c| match c {
            Change::DeleteRepository { repository } => Some(repository),
            _ => None,
        })
        .collect();
    let drift: Vec<Change> = drift
        .iter()
        .filter(|c| !matches!(c, Change::DeleteRepository { .. }))
        .cloned()
        .collect();
    if drift.is_empty() {
        return Vec::new();
    }
    let kept = project(live, changes);
    compare(&effective(&project(&kept, &drift)), &effective(&kept))
        .into_iter()
        .filter(|a| !unmanaged.contains(&a.repository))
        .collect()
}

#[cfg(test)]
mod tests;
