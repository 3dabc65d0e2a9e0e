//! `vetted export`'s renderer: turns a fully read live [`OrgState`] into a commented, deterministic
//! policy such that `vetted plan` on it shows no changes. Pure: the caller reads the organization
//! (every section, every repository's grants, the tags) and writes the file.
//!
//! What the policy language cannot express is kept out of the managed sections and explained in a
//! comment, so it shows as drift left alone (a note), never as a change: invitees named by email
//! address, teams or users whose names vetted's rules do not accept, and mirrors (the source of a tag
//! is not recorded on Docker Hub).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::rules;
use crate::model::{OrgState, Role, Username};

/// Tags of each repository: repository -> tag -> digest (`""` when unknown).
pub type RepoTags = BTreeMap<String, BTreeMap<String, String>>;

/// Checks an organization name given on the command line.
pub fn check_org(org: &str) -> Result<(), String> {
    if rules::is_org_name(org) {
        Ok(())
    } else {
        Err(format!(
            "--org {org:?} is not an organization name: 2 to 255 lowercase letters and digits"
        ))
    }
}

/// A TOML string: a multi-line literal for readable multi-line texts, otherwise a basic string.
fn string(s: &str) -> String {
    let literal_ok = s.contains('\n')
        && !s.contains("'''")
        && !s.ends_with('\'')
        && !s.starts_with('\n')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control());
    if literal_ok {
        format!("'''\n{s}'''")
    } else {
        toml_edit::Value::from(s).to_string()
    }
}

/// A TOML key: bare when possible, quoted otherwise.
fn key(s: &str) -> String {
    toml_edit::Key::new(s).to_string()
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// The `[registry_access]` section, or a comment when Docker Hub holds something the policy cannot
/// express (Docker Hub replaces the whole setting, so a partial section would drop the rest).
fn registry_access(ra: &crate::model::RegistryAccess) -> String {
    let inexpressible = ra.custom.iter().find(|c| {
        rules::registry_address_error(&c.address).is_some()
            || c.friendly_name.trim().is_empty()
            || c.friendly_name.chars().count() > 100
    });
    if let Some(c) = inexpressible {
        return format!(
            "\n# Registry Access Management lists the registry {} in a form the policy cannot express,\n\
             # so it is left unmanaged.\n",
            string(&c.address).replace('\n', " ")
        );
    }
    let mut out = format!(
        "\n# Registry Access Management: the registries Docker Desktop lets members reach.\n\
         [registry_access]\nenabled = {}\ndocker_hub = {}\n",
        ra.enabled, ra.docker_hub
    );
    if !ra.custom.is_empty() {
        out.push_str("registries = [\n");
        for c in &ra.custom {
            let _ = writeln!(
                out,
                "  {{ address = {}, name = {}, allowed = {} }},",
                string(&c.address),
                toml_edit::Value::from(c.friendly_name.as_str()),
                c.allowed
            );
        }
        out.push_str("]\n");
    }
    out
}

/// Renders the policy for `live` (read with [`Scope::everything`](crate::model::Scope::everything)).
pub fn render(live: &OrgState, tags: &RepoTags) -> String {
    let mut out = String::new();
    let org = &live.org;
    // Editors read the schema from the first line (`vetted schema` writes the file).
    let _ = writeln!(out, "{}", super::schema::DIRECTIVE);
    let _ = writeln!(
        out,
        "# vetted policy for the Docker Hub organization {}, exported from its live state by\n\
         # `vetted export`: `vetted plan` on this file shows no changes. Review it, then commit it.\n\
         # Reference: docs/policy.md. A section that is absent is unmanaged: delete a section to leave that\n\
         # part of the organization alone.\n\
         #\n\
         # Mirrors (`mirror = {{ from = ..., tags = [...] }}`) cannot be inferred from the live organization:\n\
         # Docker Hub does not record where a tag was copied from. Repositories that hold tags list them in\n\
         # a comment; add a `mirror` to keep one current from upstream, then run `vetted lock`.",
        string(org)
    );
    let _ = writeln!(out, "\norg = {}", string(org));

    if live.image_access.is_some() || live.allowlist.is_some() {
        let _ = writeln!(out, "\n# Image Access Management.\n[image_access]");
    }
    if let Some(ia) = &live.image_access {
        let _ = writeln!(
            out,
            "enabled = {}\nallow_official_images = {}\nallow_verified_publishers = {}",
            ia.enabled, ia.allow_official_images, ia.allow_verified_publishers
        );
    }
    if let Some(allow) = &live.allowlist {
        let _ = writeln!(
            out,
            "# Docker Hub repositories members may pull whatever the categories above: every upstream\n\
             # push reaches them, unreviewed and unpinned (docs/policy.md: allow or mirror).\n\
             allow_repositories = {}",
            list(allow)
        );
    }
    match &live.registry_access {
        Some(ra) => out.push_str(&registry_access(ra)),
        None => out.push_str(
            "\n# Registry Access Management was not readable with this credential (or is not offered to\n\
             # this organization), so it is left unmanaged.\n",
        ),
    }

    let teams = live.teams.as_ref();
    let members = live.members.as_ref();
    // Invitees as the policy can name them (Docker IDs), and the rest for a comment.
    let mut skipped: Vec<String> = Vec::new();
    let mut invited: BTreeMap<Username, (Role, BTreeSet<String>)> = BTreeMap::new();
    if let Some(m) = members {
        for inv in &m.invites {
            let id = inv.invitee.trim();
            let user = Username::new(id);
            if m.roles.contains_key(&user) {
                continue;
            }
            if !rules::is_docker_id(id) {
                skipped.push(format!(
                    "pending invite for {id} ({}{}): the policy names Docker IDs only, so it is left unmanaged",
                    inv.role,
                    inv.team
                        .as_ref()
                        .map(|t| format!(", team {t}"))
                        .unwrap_or_default()
                ));
                continue;
            }
            let entry = invited
                .entry(user)
                .or_insert_with(|| (inv.role, BTreeSet::new()));
            if let Some(t) = &inv.team {
                entry.1.insert(t.clone());
            }
        }
    }
    // Teams the policy can name.
    let mut team_names: BTreeSet<&String> = BTreeSet::new();
    for name in teams.into_iter().flat_map(|t| t.keys()) {
        if rules::is_team_name(name) {
            team_names.insert(name);
        } else {
            skipped.push(format!(
                "team {name}: its name does not follow vetted's team-name rule, so it and its grants are left unmanaged"
            ));
        }
    }
    let in_a_team: BTreeSet<&Username> = teams
        .into_iter()
        .flat_map(|t| t.iter())
        .filter(|(n, _)| team_names.contains(n))
        .flat_map(|(_, t)| t.members.iter())
        .collect();

    if let Some(m) = members {
        let mut lists: BTreeMap<Role, BTreeSet<String>> = BTreeMap::new();
        for (user, role) in &m.roles {
            if !rules::is_docker_id(user.as_str()) {
                skipped.push(format!(
                    "member {user}: not a Docker ID by vetted's rule, left unmanaged"
                ));
                continue;
            }
            if *role != Role::Member || !in_a_team.contains(user) {
                lists.entry(*role).or_default().insert(user.to_string());
            }
        }
        for (user, (role, teams_of)) in &invited {
            let in_listed_team = teams_of.iter().any(|t| team_names.contains(t));
            if *role != Role::Member || !in_listed_team {
                lists.entry(*role).or_default().insert(user.to_string());
            }
        }
        let owners = lists.remove(&Role::Owner).unwrap_or_default();
        if owners.is_empty() {
            let _ = writeln!(
                out,
                "\n# [members] is left unmanaged: the organization has no owner the policy can name."
            );
        } else {
            let _ = writeln!(
                out,
                "\n# Organization roles. Team members not listed here are plain members; `members` lists the\n\
                 # members who belong to no team. Pending invitees are listed like members: vetted does not\n\
                 # invite them again, and they get their role when they accept."
            );
            let _ = writeln!(out, "[members]\nowners = {}", list(&owners));
            let editors = lists.remove(&Role::Editor).unwrap_or_default();
            let plain = lists.remove(&Role::Member).unwrap_or_default();
            let _ = writeln!(out, "editors = {}", list(&editors));
            let _ = writeln!(out, "members = {}", list(&plain));
        }
    }

    if let Some(teams) = teams {
        if team_names.is_empty() {
            let _ = writeln!(out, "\n# The organization has no teams.\n[teams]");
        } else {
            let _ = writeln!(
                out,
                "\n# Teams, with their members (pending invitees included)."
            );
        }
        for name in &team_names {
            let Some(team) = teams.get(*name) else {
                continue;
            };
            let mut names: BTreeSet<String> = team.members.iter().map(|u| u.to_string()).collect();
            for (user, (_, teams_of)) in &invited {
                if teams_of.contains(*name) {
                    names.insert(user.to_string());
                }
            }
            let _ = writeln!(out, "\n[teams.{}]", key(name));
            let _ = writeln!(
                out,
                "description = {}",
                string(team.description.as_deref().unwrap_or(""))
            );
            let _ = writeln!(out, "members = {}", list(&names));
        }
    }

    if !live.repositories.is_empty() {
        let _ = writeln!(
            out,
            "\n# Repositories: [repositories.NAME] is {org}/NAME. `teams` lists every team grant."
        );
    }
    for (name, repo) in &live.repositories {
        let _ = writeln!(out, "\n[repositories.{}]", key(name));
        let _ = writeln!(out, "private = {}", repo.private);
        if let Some(d) = &repo.description {
            let _ = writeln!(out, "description = {}", string(d));
        }
        // An empty full description is left unmanaged: managing it would cost a read of every
        // repository on each plan (the listing does not carry it), to guard an empty README.
        if let Some(d) = repo.full_description.as_ref().filter(|d| !d.is_empty()) {
            let _ = writeln!(out, "full_description = {}", string(d));
        }
        if let Some(grants) = &repo.grants {
            let pairs: Vec<String> = grants
                .iter()
                .filter(|(t, _)| team_names.contains(t) || teams.is_none())
                .map(|(t, p)| format!("{} = {}", key(t), string(p.as_str())))
                .collect();
            if pairs.is_empty() {
                let _ = writeln!(out, "teams = {{}}");
            } else {
                let _ = writeln!(out, "teams = {{ {} }}", pairs.join(", "));
            }
        }
        if let Some(repo_tags) = tags.get(name).filter(|t| !t.is_empty()) {
            let _ = writeln!(
                out,
                "# Tags now in {org}/{name} (a mirror cannot be inferred; add one to keep them current):"
            );
            for (tag, digest) in repo_tags {
                if digest.is_empty() {
                    let _ = writeln!(out, "#   {tag}");
                } else {
                    let _ = writeln!(out, "#   {tag} = {digest}");
                }
            }
        }
    }

    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n# Left out (shown by `vetted plan` as drift left alone):"
        );
        for s in &skipped {
            let _ = writeln!(out, "#   {s}");
        }
    }

    let _ = writeln!(
        out,
        "\n[settings]\nprune = false                     # true: also delete what this policy does not list"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ImageAccess, Invite, Members, Permission, Repository, Team};
    use crate::plan::{DiffOptions, diff};

    fn u(s: &str) -> Username {
        Username::new(s)
    }

    fn live() -> OrgState {
        let mut s = OrgState::empty("acme");
        s.image_access = Some(ImageAccess {
            enabled: true,
            allow_official_images: false,
            allow_verified_publishers: true,
        });
        let mut m = Members::default();
        m.roles.insert(u("alice"), Role::Owner);
        m.roles.insert(u("bob"), Role::Editor);
        m.roles.insert(u("carol"), Role::Member);
        m.roles.insert(u("dave"), Role::Member);
        m.roles.insert(u("lonely"), Role::Member);
        m.invites = vec![
            Invite {
                id: Some("1".into()),
                invitee: "erin".into(),
                role: Role::Member,
                team: Some("devs".into()),
            },
            Invite {
                id: Some("2".into()),
                invitee: "frank".into(),
                role: Role::Editor,
                team: None,
            },
            Invite {
                id: Some("3".into()),
                invitee: "gina".into(),
                role: Role::Member,
                team: None,
            },
            Invite {
                id: Some("4".into()),
                invitee: "ext@example.com".into(),
                role: Role::Member,
                team: Some("devs".into()),
            },
        ];
        s.members = Some(m);
        s.teams = Some(BTreeMap::from([
            (
                "devs".to_string(),
                Team {
                    description: Some("App \"developers\"".into()),
                    members: [u("carol"), u("dave")].into(),
                },
            ),
            (
                "ops".to_string(),
                Team {
                    description: Some(String::new()),
                    members: [u("alice")].into(),
                },
            ),
            ("empty".to_string(), Team::default()),
        ]));
        s.repositories.insert(
            "api".into(),
            Repository {
                private: true,
                description: Some("The API".into()),
                full_description: Some("# API\n\nIt's 'quoted' and \"double\".\n".into()),
                grants: Some(BTreeMap::from([
                    ("devs".to_string(), Permission::Write),
                    ("ops".to_string(), Permission::Admin),
                ])),
                mirror: None,
                tags: None,
            },
        );
        s.repositories.insert(
            "web.site".into(),
            Repository {
                private: false,
                description: Some(String::new()),
                full_description: Some("ends with a quote'".into()),
                grants: Some(BTreeMap::from([("devs".to_string(), Permission::Read)])),
                mirror: None,
                tags: None,
            },
        );
        s.repositories.insert(
            "bare".into(),
            Repository {
                private: true,
                description: Some(String::new()),
                full_description: Some(String::new()),
                grants: Some(BTreeMap::new()),
                mirror: None,
                tags: None,
            },
        );
        s
    }

    fn tags() -> RepoTags {
        BTreeMap::from([(
            "api".to_string(),
            BTreeMap::from([("1.0".to_string(), format!("sha256:{}", "ab".repeat(32)))]),
        )])
    }

    #[test]
    fn exported_policy_validates_and_plans_no_changes() {
        let live = live();
        let text = render(&live, &tags());
        let policy = crate::policy::parse(std::path::Path::new("vetted.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
        let plan = diff(&policy.desired, &live, &DiffOptions::default());
        assert!(plan.changes.is_empty(), "{:?}\n---\n{text}", plan.changes);
        // The email invitee is the only thing left out, as a note.
        assert!(
            text.contains("pending invite for ext@example.com"),
            "{text}"
        );
        assert!(text.contains(&format!("#   1.0 = sha256:{}", "ab".repeat(32))));
        assert!(text.contains("cannot be inferred"));
        assert!(text.contains("[repositories.\"web.site\"]"), "{text}");
        assert!(text.contains("members = [\"gina\", \"lonely\"]"), "{text}");
        assert!(text.contains("editors = [\"bob\", \"frank\"]"), "{text}");
    }

    #[test]
    fn deterministic() {
        assert_eq!(render(&live(), &tags()), render(&live(), &tags()));
    }

    #[test]
    fn starts_with_the_schema_directive() {
        let text = render(&live(), &tags());
        assert_eq!(text.lines().next(), Some(super::super::schema::DIRECTIVE));
    }

    #[test]
    fn strings_round_trip() {
        for s in [
            "",
            "plain",
            "multi\nline\n",
            "tab\tand \"quotes\" and \\ backslash",
            "'''\nnot literal",
            "\nleading newline",
            "control \u{7}",
        ] {
            let doc: toml_edit::DocumentMut = format!("k = {}", string(s)).parse().unwrap();
            assert_eq!(doc["k"].as_str(), Some(s), "{}", string(s));
        }
    }
}
