//! The walk over `[teams]` and `[members]`: team names, descriptions and members, and the
//! organization roles (every team member is at least a member).

use std::collections::{BTreeMap, BTreeSet};

use toml_edit::TableLike;

use super::{Walker, rules};
use crate::model::{Role, Team, Username};
use crate::policy::schema::{MEMBERS as MEMBERS_KEYS, TEAM as TEAM_KEYS};

impl Walker<'_> {
    pub(super) fn teams(&mut self, root: &dyn TableLike) -> Option<BTreeMap<String, Team>> {
        let teams = self.table(root, "teams", "teams")?;
        let mut out = BTreeMap::new();
        for (name, _) in teams.iter() {
            let what = format!("teams.{name}");
            if !rules::is_team_name(name) {
                self.team_name_error(Self::key_span(teams, name), name);
            }
            let Some(team) = self.table(teams, name, &what) else {
                continue;
            };
            self.check_keys(team, &format!("[{what}]"), TEAM_KEYS);
            let description = self
                .string(team, "description", &format!("{what}.description"))
                .map(|s| s.value);
            let members = self
                .usernames(team, "members", &format!("{what}.members"))
                .into_iter()
                .map(|(u, _)| u)
                .collect::<BTreeSet<_>>();
            out.insert(
                name.to_string(),
                Team {
                    description,
                    members,
                },
            );
        }
        Some(out)
    }

    pub(super) fn members(
        &mut self,
        root: &dyn TableLike,
        teams: Option<&BTreeMap<String, Team>>,
    ) -> Option<BTreeMap<Username, Role>> {
        let members = self.table(root, "members", "members")?;
        self.check_keys(members, "[members]", MEMBERS_KEYS);
        let mut roles: BTreeMap<Username, (Role, String)> = BTreeMap::new();
        for (key, role) in [
            ("owners", Role::Owner),
            ("editors", Role::Editor),
            ("members", Role::Member),
        ] {
            for (user, span) in self.usernames(members, key, &format!("members.{key}")) {
                if let Some((other, other_key)) = roles.get(&user) {
                    self.err(
                        span,
                        format!(
                            "`{user}` is both {} and {} (in `members.{other_key}` and `members.{key}`)",
                            other.as_str(),
                            role.as_str()
                        ),
                        "listed under two roles",
                        Some("an organization member has exactly one role: keep one entry".to_string()),
                    );
                    continue;
                }
                roles.insert(user, (role, key.to_string()));
            }
        }
        // Only when no owner is written at all: an invalid entry is reported on its own.
        let owners_written = members
            .get("owners")
            .is_some_and(|o| o.as_array().is_none_or(|a| !a.is_empty()));
        if !owners_written {
            let span = self.item_span(root, "members");
            self.err(
                span,
                "`[members]` lists no owner".to_string(),
                "organization roles are managed here",
                Some(
                    "an organization needs at least one owner: add `owners = [\"<Docker ID>\"]`, or remove [members] to leave roles unmanaged"
                        .to_string(),
                ),
            );
        }
        let mut roles: BTreeMap<Username, Role> =
            roles.into_iter().map(|(u, (r, _))| (u, r)).collect();
        // Team members not given a role are plain members of the organization.
        for team in teams.into_iter().flat_map(|t| t.values()) {
            for user in &team.members {
                roles.entry(user.clone()).or_insert(Role::Member);
            }
        }
        Some(roles)
    }
}
