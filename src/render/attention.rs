//! "Needs attention": every change that is not routine ([`crate::plan::risk`]), one line each that a
//! reviewer understands without knowing vetted ("bob becomes owner", "acme/api becomes public",
//! "team ci gains write on acme/api"), grouped by class, most pressing first. The pull-request
//! comment opens with it ([`markdown_lines`], placed and cut by `markdown.rs`); the text plan
//! shows it after the tables ([`text`]).
//!
//! Names and values read from the organization or the policy are escaped as everywhere else: in
//! code spans in markdown ([`super::markdown::code`]), through [`super::untrusted`] in the terminal.

use std::fmt::Write as _;

use crate::model::Risk;
use crate::model::Role;
use crate::plan::risk::{Reachable, image_access_loosened, newly_reachable, risk};
use crate::plan::{Change, Plan};

/// The changes that need attention, grouped by class in [`Risk::NEEDS_ATTENTION`]'s order (plan
/// order within a class).
fn grouped(plan: &Plan) -> Vec<(Risk, Vec<&Change>)> {
    Risk::NEEDS_ATTENTION
        .into_iter()
        .map(|r| {
            (
                r,
                plan.changes
                    .iter()
                    .filter(|c| risk(c) == r)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, cs)| !cs.is_empty())
        .collect()
}

fn role_name(r: Role) -> &'static str {
    r.as_str()
}

/// What `c` does, in one sentence; every name goes through `name` (escaping for the output).
/// `None` for a routine change.
pub fn sentence(c: &Change, org: &str, name: &dyn Fn(&str) -> String) -> Option<String> {
    use Change::*;
    if risk(c) == Risk::Routine {
        return None;
    }
    let repo = |r: &str| name(&format!("{org}/{r}"));
    let short = |d: &str| name(&crate::model::short_digest(d));
    let line = match c {
        SetImageAccess { old, new } => {
            if !new.enabled {
                "Image Access Management is turned off (members may pull any Docker Hub image)"
                    .to_string()
            } else {
                let old = old.as_ref();
                let mut allowed = Vec::new();
                if new.allow_official_images && !old.is_some_and(|o| o.allow_official_images) {
                    allowed.push("Docker Official Images");
                }
                if new.allow_verified_publishers
                    && !old.is_some_and(|o| o.allow_verified_publishers)
                {
                    allowed.push("Verified Publisher images");
                }
                debug_assert!(image_access_loosened(old, new));
                format!(
                    "Image Access Management is loosened: members may pull {}",
                    allowed.join(" and ")
                )
            }
        }
        SetRegistryAccess { old, new } => match newly_reachable(old.as_ref(), new) {
            Reachable::Everything => {
                "Registry Access Management is turned off (members may pull from any registry)"
                    .to_string()
            }
            Reachable::Some(registries) => {
                let list: Vec<String> = registries.iter().map(|r| name(r)).collect();
                format!("members may pull from {}", list.join(", "))
            }
        },
        AllowRepository { repository } => format!(
            "{} is allowlisted (members pull every upstream push, unreviewed)",
            name(&format!("docker.io/{repository}"))
        ),
        DisallowRepository { repository } => format!(
            "{} leaves the allowlist",
            name(&format!("docker.io/{repository}"))
        ),
        SetRole { user, old, new } => format!(
            "{} becomes {} (was {})",
            name(user.as_str()),
            role_name(*new),
            role_name(*old)
        ),
        RemoveMember { user, role } => format!(
            "{} is removed from the organization (was {})",
            name(user.as_str()),
            role_name(*role)
        ),
        Invite {
            invitee,
            role,
            team,
        } => match team {
            Some(t) => format!(
                "{} is invited as {}, into team {}",
                name(invitee.as_str()),
                role_name(*role),
                name(t)
            ),
            None => format!(
                "{} is invited as {}",
                name(invitee.as_str()),
                role_name(*role)
            ),
        },
        CancelInvite { invitee, .. } => {
            format!("the invitation of {} is cancelled", name(invitee))
        }
        DeleteTeam { team } => format!("team {} is deleted", name(team)),
        AddTeamMember { team, user } => {
            format!("{} joins team {}", name(user.as_str()), name(team))
        }
        RemoveTeamMember { team, user } => {
            format!("{} leaves team {}", name(user.as_str()), name(team))
        }
        CreateRepository { repository, .. } => {
            format!("{} is created public", repo(repository))
        }
        UpdateRepository { repository, .. } => format!("{} becomes public", repo(repository)),
        DeleteRepository { repository } => {
            format!("{} is deleted, with all its tags", repo(repository))
        }
        Grant {
            repository,
            team,
            permission,
        } => format!(
            "team {} gains {permission} on {}",
            name(team),
            repo(repository)
        ),
        UpdateGrant {
            repository,
            team,
            permission,
        } => format!(
            "team {} gains {} on {} (was {})",
            name(team),
            permission.new,
            repo(repository),
            permission.old
        ),
        Revoke {
            repository,
            team,
            permission,
        } => format!(
            "team {} loses {permission} on {}",
            name(team),
            repo(repository)
        ),
        CopyImage {
            repository,
            tag,
            digest,
            old_digest,
            ..
        } => format!(
            "{} moves from {} to {}",
            name(&format!("{org}/{repository}:{tag}")),
            short(old_digest.as_deref().unwrap_or_default()),
            short(digest)
        ),
        DeleteTag {
            repository,
            tag,
            digest,
        } => format!(
            "{} is deleted (it points at {})",
            name(&format!("{org}/{repository}:{tag}")),
            short(digest)
        ),
        CreateTeam { .. } | UpdateTeam { .. } => return None,
    };
    Some(line)
}

/// The "Needs attention" section's heading in markdown, e.g.
/// `**Needs attention: 3 change(s)** (privilege 1, destruction 2)`.
fn summary(groups: &[(Risk, Vec<&Change>)]) -> String {
    let total: usize = groups.iter().map(|(_, cs)| cs.len()).sum();
    let per: Vec<String> = groups
        .iter()
        .map(|(r, cs)| format!("{r} {}", cs.len()))
        .collect();
    format!("Needs attention: {total} change(s) ({})", per.join(", "))
}

/// The most changes of one class the markdown lists; the rest are counted ("... and 12 more"), so
/// a plan of thousands of grants leaves room for its deletions and its tables.
pub const MARKDOWN_PER_CLASS: usize = 50;

/// One line of the markdown section: a class heading, a change, or how many more there are.
pub(super) struct Line {
    pub text: String,
    /// How many changes the line stands for (0 for a heading).
    pub changes: usize,
}

/// The markdown section as an alert: its opening (`head`) and its lines, each ending in a newline,
/// for `markdown.rs` to push as far as they fit. Each class lists at most [`MARKDOWN_PER_CLASS`]
/// changes, fewer when that does not fit in `room` bytes (every class then keeps the same share,
/// down to one change each), and counts the rest. `None` when every change is routine.
pub(super) fn markdown_lines(plan: &Plan, room: usize) -> Option<(String, Vec<Line>)> {
    let groups = grouped(plan);
    if groups.is_empty() {
        return None;
    }
    let alert = if groups.iter().any(|(r, _)| *r == Risk::Destruction) {
        "CAUTION"
    } else {
        "WARNING"
    };
    let head = format!("\n> [!{alert}]\n> **{}**\n", summary(&groups));
    let code = |s: &str| super::markdown::code(s);
    // The first MARKDOWN_PER_CLASS items of each class, rendered once.
    let items: Vec<(Risk, usize, Vec<String>)> = groups
        .iter()
        .map(|(r, changes)| {
            let shown = changes
                .iter()
                .take(MARKDOWN_PER_CLASS)
                .filter_map(|c| sentence(c, &plan.org, &code))
                .map(|s| format!("> - {s}\n"))
                .collect();
            (*r, changes.len(), shown)
        })
        .collect();
    let lines_with = |cap: usize| -> Vec<Line> {
        let mut lines = Vec::new();
        for (r, total, shown) in &items {
            lines.push(Line {
                text: format!(">\n> **{}**\n", r.title()),
                changes: 0,
            });
            for s in shown.iter().take(cap) {
                lines.push(Line {
                    text: s.clone(),
                    changes: 1,
                });
            }
            let more = total.saturating_sub(cap.min(shown.len()));
            if more > 0 {
                lines.push(Line {
                    text: format!("> - ... and {more} more {r} change(s), listed below\n"),
                    changes: more,
                });
            }
        }
        lines
    };
    let size = |lines: &[Line]| head.len() + lines.iter().map(|l| l.text.len()).sum::<usize>();
    let mut cap = MARKDOWN_PER_CLASS;
    let mut lines = lines_with(cap);
    while cap > 1 && size(&lines) > room {
        cap -= 1;
        lines = lines_with(cap);
    }
    Some((head, lines))
}

/// The section for the terminal: after the tables, one line per change, tagged with its class;
/// long lines wrap to `width`. Empty when every change is routine.
pub fn text(plan: &Plan, width: Option<u16>) -> String {
    let groups = grouped(plan);
    if groups.is_empty() {
        return String::new();
    }
    let name = |s: &str| super::untrusted(s).into_owned();
    let mut out = format!("\n{}\n", summary(&groups));
    for (r, changes) in &groups {
        for c in changes {
            if let Some(s) = sentence(c, &plan.org, &name) {
                let line = format!("  {:<12} {s}", r.as_str());
                let _ = writeln!(out, "{}", super::wrap(&line, width, 15));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ImageAccess, Permission, Username};
    use crate::plan::{Delta, RepoFields};

    fn plan(changes: Vec<Change>) -> Plan {
        let mut changes = changes;
        crate::plan::diff::sort_changes(&mut changes, "acme");
        Plan {
            targets: Vec::new(),
            snapshot: None,
            org: "acme".into(),
            changes,
            notes: vec![],
            access: vec![],
            drift: Default::default(),
            api_calls: 1,
        }
    }

    #[test]
    fn a_reviewer_reads_what_each_risky_change_does() {
        let p = plan(vec![
            Change::SetRole {
                user: Username::new("bob"),
                old: Role::Editor,
                new: Role::Owner,
            },
            Change::UpdateRepository {
                repository: "api".into(),
                private: Some(Delta {
                    old: true,
                    new: false,
                }),
                description: None,
                full_description: None,
            },
            Change::Grant {
                repository: "api".into(),
                team: "ci".into(),
                permission: Permission::Write,
            },
            Change::SetImageAccess {
                old: Some(ImageAccess {
                    enabled: true,
                    allow_official_images: false,
                    allow_verified_publishers: false,
                }),
                new: ImageAccess {
                    enabled: false,
                    allow_official_images: false,
                    allow_verified_publishers: false,
                },
            },
            Change::DeleteRepository {
                repository: "old-api".into(),
            },
            Change::CreateRepository {
                repository: "quiet".into(),
                fields: RepoFields {
                    private: true,
                    description: String::new(),
                    full_description: String::new(),
                },
            },
        ]);
        let out = text(&p, None);
        insta::assert_snapshot!(out, @"

        Needs attention: 5 change(s) (privilege 2, exposure 2, destruction 1)
          privilege    bob becomes owner (was editor)
          privilege    team ci gains write on acme/api
          exposure     Image Access Management is turned off (members may pull any Docker Hub image)
          exposure     acme/api becomes public
          destruction  acme/old-api is deleted, with all its tags
        ");
        assert_eq!(text(&plan(vec![]), None), "");
    }

    #[test]
    fn names_are_escaped_in_both_views() {
        let p = plan(vec![Change::AddTeamMember {
            team: "ci`\n## approved @admin".into(),
            user: Username::new("bob"),
        }]);
        let out = text(&p, None);
        assert!(
            out.contains("bob joins team ci`\\n## approved @admin"),
            "{out}"
        );
        let (_, lines) = markdown_lines(&p, usize::MAX).unwrap();
        let item = &lines[1].text;
        assert_eq!(
            item, "> - `bob` joins team `ci'\\n## approved @admin`\n",
            "{item}"
        );
    }
}
