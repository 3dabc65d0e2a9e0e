//! The sandbox's organization state (what Docker Hub would store), its JSON state file, and small
//! helpers shared by the handlers: timestamps, ids and the rules Docker Hub applies to names.
//! Credentials are not part of this state (see [`super::auth`]), so the state file never holds secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::SandboxError;
use crate::wire::{ImageAccess, Permission, Role};

/// Version of the state file layout.
pub const STATE_VERSION: u32 = 1;

/// A Docker Hub account known to the sandbox (it may or may not be in the org).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable account id (hex, like Docker's trimmed UUIDs).
    pub id: String,
    pub full_name: String,
    pub email: String,
    pub date_joined: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamState {
    pub id: u64,
    pub uuid: String,
    pub description: String,
    pub members: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagImage {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagState {
    pub id: u64,
    pub digest: String,
    pub images: Vec<TagImage>,
    pub last_updated: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoState {
    pub description: String,
    pub full_description: String,
    pub is_private: bool,
    pub date_registered: String,
    pub last_updated: String,
    /// Team (group) id -> permission.
    pub grants: BTreeMap<u64, Permission>,
    pub tags: BTreeMap<String, TagState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteState {
    pub id: String,
    pub inviter_username: String,
    /// Docker ID (lowercase) or email address.
    pub invitee: String,
    pub role: Role,
    pub team: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardRegistry {
    pub id: String,
    pub allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRegistry {
    pub address: String,
    pub friendly_name: String,
    pub allowed: bool,
}

/// Registry Access Management (undocumented endpoint; shape from hub-api.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAccess {
    pub enabled: bool,
    pub standard_registries: Vec<StandardRegistry>,
    pub custom_registries: Vec<CustomRegistry>,
}

impl Default for RegistryAccess {
    fn default() -> Self {
        RegistryAccess {
            enabled: false,
            standard_registries: vec![StandardRegistry {
                id: "DockerHub".to_string(),
                allowed: true,
            }],
            custom_registries: Vec::new(),
        }
    }
}

/// Everything the hub API serves. Keys are lowercase usernames and team/repository names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubState {
    pub version: u32,
    pub org: String,
    pub auto_accept_invites: bool,
    pub users: BTreeMap<String, User>,
    /// Accepted org members and their role.
    pub members: BTreeMap<String, Role>,
    pub teams: BTreeMap<String, TeamState>,
    pub repositories: BTreeMap<String, RepoState>,
    pub image_access: ImageAccess,
    pub registry_access: RegistryAccess,
    /// The Image Access Management repository allowlist, `namespace/name` (paths unconfirmed:
    /// allowlist.rs).
    #[serde(default)]
    pub allowlist: BTreeSet<String>,
    pub invites: Vec<InviteState>,
    pub next_id: u64,
}

impl HubState {
    pub fn new(org: &str) -> Self {
        HubState {
            version: STATE_VERSION,
            org: org.to_string(),
            auto_accept_invites: false,
            users: BTreeMap::new(),
            members: BTreeMap::new(),
            teams: BTreeMap::new(),
            repositories: BTreeMap::new(),
            image_access: ImageAccess {
                enabled: false,
                allow_official_images: true,
                allow_verified_publishers: true,
            },
            registry_access: RegistryAccess::default(),
            allowlist: BTreeSet::new(),
            invites: Vec::new(),
            next_id: 1001,
        }
    }

    /// A fresh numeric id (team ids, tag ids).
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn is_org(&self, name: &str) -> bool {
        self.org.eq_ignore_ascii_case(name)
    }

    pub fn team_by_id(&self, id: u64) -> Option<(&String, &TeamState)> {
        self.teams.iter().find(|(_, t)| t.id == id)
    }

    /// The strongest permission any of `username`'s teams holds on `repo`.
    pub fn team_grant(&self, repo: &RepoState, username: &str) -> Option<Permission> {
        repo.grants
            .iter()
            .filter(|(id, _)| {
                self.team_by_id(**id)
                    .is_some_and(|(_, t)| t.members.contains(username))
            })
            .map(|(_, p)| *p)
            .max()
    }

    pub fn owner_count(&self) -> usize {
        self.members.values().filter(|r| **r == Role::Owner).count()
    }

    /// Teams a user belongs to, sorted by name.
    pub fn teams_of(&self, username: &str) -> Vec<String> {
        self.teams
            .iter()
            .filter(|(_, t)| t.members.contains(username))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Resolves a Docker ID or an email address to a known username.
    pub fn find_user(&self, invitee: &str) -> Option<String> {
        let lower = invitee.trim().to_lowercase();
        if self.users.contains_key(&lower) {
            return Some(lower);
        }
        self.users
            .iter()
            .find(|(_, u)| !u.email.is_empty() && u.email.eq_ignore_ascii_case(&lower))
            .map(|(n, _)| n.clone())
    }

    /// Makes `username` a member with `role` (and of `team` if given). Used by seeding and by
    /// auto-accepted invites.
    pub fn add_member(&mut self, username: &str, role: Role, team: Option<&str>) {
        self.members.entry(username.to_string()).or_insert(role);
        if let Some(team) = team.and_then(|t| self.teams.get_mut(t)) {
            team.members.insert(username.to_string());
        }
    }

    /// Checks invariants a seed or a state file must satisfy.
    pub fn check(&self) -> Result<(), String> {
        if self.org.is_empty() {
            return Err("org must not be empty".into());
        }
        for name in self.members.keys() {
            if !self.users.contains_key(name) {
                return Err(format!("member {name:?} is not a known user"));
            }
        }
        if self.owner_count() == 0 {
            return Err(format!("org {:?} needs at least one owner", self.org));
        }
        for (team, t) in &self.teams {
            for m in &t.members {
                if !self.members.contains_key(m) {
                    return Err(format!(
                        "team {team:?}: {m:?} is not a member of the organization"
                    ));
                }
            }
        }
        for (repo, r) in &self.repositories {
            check_repo_name(repo).map_err(|e| format!("repository {repo:?}: {e}"))?;
            check_description(&r.description).map_err(|e| format!("repository {repo:?}: {e}"))?;
            for id in r.grants.keys() {
                if self.team_by_id(*id).is_none() {
                    return Err(format!(
                        "repository {repo:?}: grant to unknown team id {id}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Reads a state file. `Ok(None)` when it does not exist yet.
pub fn load_state_file(path: &Path) -> Result<Option<HubState>, SandboxError> {
    let err = |message: String| SandboxError::StateFile {
        path: path.display().to_string(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let state: HubState = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if state.version != STATE_VERSION {
        return Err(err(format!(
            "unsupported state file version {} (expected {STATE_VERSION})",
            state.version
        )));
    }
    state.check().map_err(err)?;
    Ok(Some(state))
}

/// Writes a state file atomically (temporary file + rename).
pub fn save_state_file(path: &Path, json: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

/// Docker Hub's repository name rule: 2..=255 chars matching `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`.
pub fn check_repo_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(2..=255).contains(&len) {
        return Err(format!(
            "repository name must be 2 to 255 characters long, got {len}"
        ));
    }
    let mut prev_sep = true; // the name must start with an alphanumeric
    for c in name.chars() {
        let alnum = c.is_ascii_lowercase() || c.is_ascii_digit();
        let sep = matches!(c, '.' | '_' | '-');
        if !(alnum || sep) || (sep && prev_sep) {
            return Err(
                "repository name may only contain lowercase letters, digits and single separators (. _ -) between them"
                    .to_string(),
            );
        }
        prev_sep = sep;
    }
    if prev_sep {
        return Err("repository name must end with a lowercase letter or digit".to_string());
    }
    Ok(())
}

pub const MAX_DESCRIPTION: usize = 100;
pub const MAX_FULL_DESCRIPTION: usize = 25_000;

pub fn check_description(d: &str) -> Result<(), String> {
    let n = d.chars().count();
    if n > MAX_DESCRIPTION {
        return Err(format!(
            "description must be at most {MAX_DESCRIPTION} characters, got {n}"
        ));
    }
    Ok(())
}

pub fn check_full_description(d: &str) -> Result<(), String> {
    let n = d.chars().count();
    if n > MAX_FULL_DESCRIPTION {
        return Err(format!(
            "full_description must be at most {MAX_FULL_DESCRIPTION} characters, got {n}"
        ));
    }
    Ok(())
}

/// Team names: 1..=30 characters, letters, digits, `-` and `_` (Docker Hub's team name rule, as
/// shown by its UI; unconfirmed for the API).
pub fn check_team_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > 30 {
        return Err(format!(
            "team name must be 1 to 30 characters long, got {n}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("team name may only contain letters, digits, '-' and '_'".to_string());
    }
    Ok(())
}

/// Current time as Docker Hub formats it: `2021-01-05T21:06:53.506400Z`.
pub fn now_rfc3339() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(now.as_secs(), now.subsec_micros())
}

pub fn format_rfc3339(secs: u64, micros: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A random UUID-shaped id (version 4 layout).
pub fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_follow_docker_rules() {
        for ok in ["ab", "old-tool", "a.b_c-d", "x1", "redis"] {
            assert!(check_repo_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a", "Abc", "-ab", "ab-", "a--b", "a b", "a/b", "", "a._b", "été",
        ] {
            assert!(check_repo_name(bad).is_err(), "{bad}");
        }
        assert!(check_repo_name(&"a".repeat(255)).is_ok());
        assert!(check_repo_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn descriptions_have_limits() {
        assert!(check_description(&"x".repeat(100)).is_ok());
        assert!(check_description(&"x".repeat(101)).is_err());
        assert!(check_full_description(&"x".repeat(25_000)).is_ok());
        assert!(check_full_description(&"x".repeat(25_001)).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_rfc3339(1_609_881_213, 506_400),
            "2021-01-05T21:13:33.506400Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400, 1),
            "2000-02-29T00:00:00.000001Z"
        );
    }

    #[test]
    fn uuids_are_uuid_shaped() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_ne!(u, new_uuid());
    }

    #[test]
    fn check_rejects_a_team_member_outside_the_org() {
        let mut s = HubState::new("acme");
        s.users.insert(
            "alice".into(),
            User {
                id: "1".into(),
                full_name: String::new(),
                email: String::new(),
                date_joined: now_rfc3339(),
            },
        );
        assert!(s.check().is_err(), "no owner yet");
        s.members.insert("alice".into(), Role::Owner);
        assert!(s.check().is_ok());
        s.teams.insert(
            "t".into(),
            TeamState {
                id: 1,
                uuid: new_uuid(),
                description: String::new(),
                members: ["bob".to_string()].into(),
            },
        );
        assert!(s.check().unwrap_err().contains("bob"));
    }
}
