//! The markdown view of a plan, written for a pull-request comment (and the job summary):
//!
//! - the first line is a hidden marker, `<!-- vetted:plan org=<org> -->`, so a workflow finds and
//!   updates its one comment instead of adding one per push;
//! - the summary line and every deletion are always visible at the top;
//! - the change tables (and the notes) fold into `<details>` past [`FOLD_AFTER`] lines;
//! - the whole body stays within [`MarkdownOptions::max_chars`] (GitHub's comment limit,
//!   [`COMMENT_LIMIT`], by default; [`JOB_SUMMARY_LIMIT`] for a job summary). A plan too large is cut
//!   row by row, never the summary or the deletions' heading, and the cut says where the full plan is.
//!
//! Lengths are counted in bytes, which is never less than GitHub's character count.

use std::fmt::Write as _;

use crate::plan::{Action, Change, Plan};

use super::{detail, detail_lines, groups, heading, summary_line};

/// GitHub's limit for an issue or pull-request comment body.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub's limit for a step's job summary (1 MiB).
pub const JOB_SUMMARY_LIMIT: usize = 1_048_576;
/// The smallest `max_chars` accepted: room for the marker, the summary and the cut notice.
pub const MIN_CHARS: usize = 1_024;
/// The title of the section that lists who gains or loses access.
pub const ACCESS_TITLE: &str = "Access changes";
/// The title of the section that lists who has access only through drift left alone.
pub const DRIFT_ACCESS_TITLE: &str =
    "Access through drift left alone (prune = true would take it away)";

/// Sections longer than this many lines are folded into `<details>`.
pub const FOLD_AFTER: usize = 12;

/// A section another part of vetted adds to the comment (e.g. who gains or loses access), shown
/// after the changes: a title and its markdown body. Folded like the changes past [`FOLD_AFTER`]
/// lines; left out whole, and counted in the cut notice, when it does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub body: String,
}

/// How the markdown is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The most bytes the body may have (at least [`MIN_CHARS`]).
    pub max_chars: usize,
    /// Extra sections after the changes and notes.
    pub sections: Vec<Section>,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            max_chars: COMMENT_LIMIT,
            sections: Vec::new(),
        }
    }
}

/// The hidden first line that identifies vetted's comment for `org`.
pub fn marker(org: &str) -> String {
    format!("<!-- vetted:plan org={} -->", org.replace("--", "- -"))
}

/// The comment body with the default options (GitHub's comment limit).
pub fn markdown(plan: &Plan) -> String {
    render(plan, &MarkdownOptions::default())
}

/// Escapes text for a table cell or list item: control characters and line breaks (escaped visibly,
/// [`super::untrusted`]), mentions, pipes and HTML tags.
pub(super) fn escape(s: &str) -> String {
    super::untrusted_markdown(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// An address in a code span (a backtick would end the span: it becomes a quote; control characters
/// are escaped, [`super::untrusted`]).
fn code(s: &str) -> String {
    format!(
        "`{}`",
        super::untrusted(s).replace('`', "'").replace('|', "\\|")
    )
}

fn marker_cell(c: &Change) -> &'static str {
    match c.action() {
        Action::Create => "`+`",
        Action::Update => "`~`",
        Action::Delete => "`-`",
    }
}

/// Text appended while it fits in a byte budget.
struct Budget {
    out: String,
    max: usize,
}

impl Budget {
    /// Appends `s` when the result stays within the budget (keeping `reserve` bytes free).
    fn try_push(&mut self, s: &str, reserve: usize) -> bool {
        if self.out.len() + s.len() + reserve <= self.max {
            self.out.push_str(s);
            true
        } else {
            false
        }
    }
}

/// Where the full plan is, for the cut notice.
fn full_plan_hint(max_chars: usize) -> &'static str {
    if max_chars <= COMMENT_LIMIT {
        "The full plan is in this workflow run's job summary and in the saved plan (the JSON artifact; `vetted show plan.json` renders it)."
    } else {
        "The full plan is in the saved plan (the JSON artifact; `vetted show plan.json` renders it)."
    }
}

fn cut_notice(shown: usize, total: usize, left_out: &[String], max_chars: usize) -> String {
    let mut what = format!("{shown} of {total} change(s)");
    if !left_out.is_empty() {
        let _ = write!(what, "; left out: {}", left_out.join(", "));
    }
    format!(
        "\n> [!NOTE]\n> This plan is too large for {max_chars} characters: shown here are {what}. {}\n",
        full_plan_hint(max_chars)
    )
}

/// One section's lines, folded past [`FOLD_AFTER`] lines.
fn open_section(title: &str, lines: usize, summary: &str) -> String {
    if lines > FOLD_AFTER {
        format!("\n<details><summary>{summary}</summary>\n\n")
    } else {
        format!("\n#### {title}\n\n")
    }
}

fn close_section(lines: usize) -> &'static str {
    if lines > FOLD_AFTER {
        "\n</details>\n"
    } else {
        ""
    }
}

/// The comment body for `plan`, within `opts.max_chars`.
pub fn render(plan: &Plan, opts: &MarkdownOptions) -> String {
    // Who gains or loses access is part of the plan: its section comes first.
    let access = super::access_markdown(&plan.access, &plan.org);
    // Then who has access only through drift left alone (prune off).
    let drift = super::access_markdown(&plan.drift.access, &plan.org);
    let sections: Vec<Section> = (!access.is_empty())
        .then(|| Section {
            title: ACCESS_TITLE.to_string(),
            body: access,
        })
        .into_iter()
        .chain((!drift.is_empty()).then(|| Section {
            title: DRIFT_ACCESS_TITLE.to_string(),
            body: drift,
        }))
        .chain(opts.sections.iter().cloned())
        .collect();
    let max = opts.max_chars.max(MIN_CHARS);
    let total = plan.changes.len();
    // The longest cut notice this plan can need, kept free until the end.
    let all_left_out: Vec<String> = ["notes".to_string()]
        .into_iter()
        .chain(sections.iter().map(|s| s.title.clone()))
        .collect();
    let reserve = cut_notice(total, total, &all_left_out, max).len() + "\n</details>\n".len();
    let mut b = Budget {
        out: String::new(),
        max,
    };
    let mut truncated = false;
    let mut left_out: Vec<String> = Vec::new();

    // Always shown: the marker, the title and the summary line.
    let _ = writeln!(b.out, "{}", marker(&plan.org));
    let _ = writeln!(b.out, "### vetted plan for `{}`\n", escape(&plan.org));
    if let Some(basis) = &plan.snapshot {
        let _ = writeln!(
            b.out,
            "> **Offline plan**: {}.\n",
            escape(&basis.describe(&plan.org))
        );
    }
    let _ = writeln!(b.out, "**{}**", summary_line(plan));

    // Deletions, always visible: as many as fit, then how many more.
    let deletions: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action() == Action::Delete)
        .collect();
    if !deletions.is_empty() {
        let _ = write!(
            b.out,
            "\n> [!CAUTION]\n> **This plan destroys {} resource(s):**\n",
            deletions.len()
        );
        for (i, c) in deletions.iter().enumerate() {
            let line = format!(
                "> - {}: {}\n",
                code(&c.address(&plan.org)),
                escape(&detail(c))
            );
            // Keep room for the "and N more" line.
            if !b.try_push(&line, reserve + 80) {
                let _ = writeln!(
                    b.out,
                    "> - ... and {} more deletion(s), listed in the full plan",
                    deletions.len() - i
                );
                truncated = true;
                break;
            }
        }
    }

    // The change tables, by kind (deletions first).
    let mut shown = 0;
    if total > 0 && !truncated {
        let lines = total;
        let summary = format!("Changes ({total})");
        if b.try_push(&open_section("Changes", lines, &summary), reserve) {
            'groups: for ((action, kind), changes) in groups(plan) {
                let head = format!(
                    "{}| | address | change |\n|---|---|---|\n",
                    if shown == 0 {
                        format!("**{}**\n\n", heading(action, kind))
                    } else {
                        format!("\n**{}**\n\n", heading(action, kind))
                    }
                );
                let mut first = true;
                for c in changes {
                    // One attribute per line, as in the text view.
                    let change: Vec<String> = detail_lines(c).iter().map(|l| escape(l)).collect();
                    let row = format!(
                        "| {} | {} | {} |\n",
                        marker_cell(c),
                        code(&c.address(&plan.org)),
                        change.join("<br>")
                    );
                    let piece = if first { format!("{head}{row}") } else { row };
                    if !b.try_push(&piece, reserve) {
                        truncated = true;
                        break 'groups;
                    }
                    first = false;
                    shown += 1;
                }
            }
            b.out.push_str(close_section(lines));
        } else {
            truncated = true;
        }
    }

    // Notes: whole, or left out.
    if !plan.notes.is_empty() {
        let lines = plan.notes.len();
        let mut notes = open_section(
            &format!("Notes ({lines})"),
            lines,
            &format!("Notes ({lines}): drift left alone, information"),
        );
        for n in &plan.notes {
            let _ = writeln!(notes, "- {}: {}", code(&n.address), escape(&n.message));
        }
        notes.push_str(close_section(lines));
        if truncated || !b.try_push(&notes, reserve) {
            truncated = true;
            left_out.push(format!("{lines} note(s)"));
        }
    }

    // Sections other parts of vetted add.
    for s in &sections {
        let lines = s.body.lines().count();
        let text = format!(
            "{}{}\n{}",
            open_section(&s.title, lines, &escape(&s.title)),
            s.body.trim_end(),
            close_section(lines)
        );
        if truncated || !b.try_push(&text, reserve) {
            truncated = true;
            left_out.push(s.title.clone());
        }
    }

    if truncated || shown < total {
        b.out.push_str(&cut_notice(
            shown,
            total,
            &left_out,
            opts.max_chars.max(MIN_CHARS),
        ));
    }
    b.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Permission, Role, Username};
    use crate::plan::{Delta, FORMAT_VERSION, Note, RepoFields, ResourceKind};

    fn plan(changes: Vec<Change>, notes: Vec<Note>) -> Plan {
        let mut changes = changes;
        crate::plan::diff::sort_changes(&mut changes, "acme");
        Plan {
            format_version: FORMAT_VERSION.into(),
            org: "acme".into(),
            changes,
            notes,
            access: vec![],
            snapshot: None,
            drift: Default::default(),
            api_calls: 7,
        }
    }

    fn digest(byte: &str) -> String {
        format!("sha256:{}", byte.repeat(32))
    }

    fn copy(repo: &str, tag: &str, old: Option<&str>, bytes: u64) -> Change {
        Change::CopyImage {
            repository: repo.into(),
            tag: tag.into(),
            source: format!("docker.io/library/{repo}:{tag}@{}", digest("ab")),
            digest: digest("ab"),
            old_digest: old.map(digest),
            platforms: None,
            signatures: false,
            bytes,
            manifests: 3,
        }
    }

    fn note() -> Note {
        Note {
            kind: ResourceKind::Member,
            address: "member old".into(),
            message:
                "member not in the policy (left alone; set prune = true in [settings] to remove)"
                    .into(),
        }
    }

    fn small() -> Plan {
        plan(
            vec![
                Change::SetRole {
                    user: Username::new("ed"),
                    old: Role::Member,
                    new: Role::Editor,
                },
                Change::CreateRepository {
                    repository: "nginx".into(),
                    fields: RepoFields {
                        private: true,
                        description: "Vetted nginx".into(),
                        full_description: String::new(),
                    },
                },
                Change::Grant {
                    repository: "nginx".into(),
                    team: "devs".into(),
                    permission: Permission::Write,
                },
            ],
            vec![note()],
        )
    }

    #[test]
    fn small_plan() {
        insta::assert_snapshot!(markdown(&small()), @"
        <!-- vetted:plan org=acme -->
        ### vetted plan for `acme`

        **Plan: 2 to add, 1 to change, 0 to destroy.**

        #### Changes

        **member**

        | | address | change |
        |---|---|---|
        | `~` | `member ed` | role member -> editor |

        **repository**

        | | address | change |
        |---|---|---|
        | `+` | `repository acme/nginx` | create, private |

        **grant**

        | | address | change |
        |---|---|---|
        | `+` | `grant acme/nginx:devs` | grant write |

        #### Notes (1)

        - `member old`: member not in the policy (left alone; set prune = true in [settings] to remove)
        ");
    }

    #[test]
    fn no_changes() {
        let p = plan(vec![], vec![]);
        insta::assert_snapshot!(markdown(&p), @"
        <!-- vetted:plan org=acme -->
        ### vetted plan for `acme`

        **No changes. The organization matches the policy.**
        ");
    }

    #[test]
    fn deletions_stay_visible_at_the_top() {
        let p = plan(
            vec![
                Change::DeleteRepository {
                    repository: "legacy".into(),
                },
                Change::Revoke {
                    repository: "redis".into(),
                    team: "qa".into(),
                    permission: Permission::Read,
                },
                Change::RemoveTeamMember {
                    team: "devs".into(),
                    user: Username::new("mallory"),
                },
                Change::UpdateRepository {
                    repository: "redis".into(),
                    private: Some(Delta {
                        old: false,
                        new: true,
                    }),
                    description: None,
                    full_description: None,
                },
            ],
            vec![],
        );
        insta::assert_snapshot!(markdown(&p), @"
        <!-- vetted:plan org=acme -->
        ### vetted plan for `acme`

        **Plan: 0 to add, 1 to change, 3 to destroy.**

        > [!CAUTION]
        > **This plan destroys 3 resource(s):**
        > - `grant acme/redis:qa`: revoke read
        > - `repository acme/legacy`: delete repository and all its tags
        > - `team_member devs/mallory`: remove from team

        #### Changes

        **grant (destroy)**

        | | address | change |
        |---|---|---|
        | `-` | `grant acme/redis:qa` | revoke read |

        **repository (destroy)**

        | | address | change |
        |---|---|---|
        | `-` | `repository acme/legacy` | delete repository and all its tags |

        **team_member (destroy)**

        | | address | change |
        |---|---|---|
        | `-` | `team_member devs/mallory` | remove from team |

        **repository**

        | | address | change |
        |---|---|---|
        | `~` | `repository acme/redis` | ~ visibility: public -> private |
        ");
    }

    #[test]
    fn image_copies_fold_past_a_dozen_rows() {
        let mut changes: Vec<Change> = (0..12)
            .map(|i| copy("nginx", &format!("1.{i}"), None, 1024 * 1024))
            .collect();
        changes.push(copy("redis", "7.2", Some("01"), 512));
        changes.push(Change::Revoke {
            repository: "redis".into(),
            team: "qa".into(),
            permission: Permission::Read,
        });
        let p = plan(changes, vec![note()]);
        insta::assert_snapshot!(markdown(&p), @"
        <!-- vetted:plan org=acme -->
        ### vetted plan for `acme`

        **Plan: 12 to add, 1 to change, 1 to destroy. Images: 13 to copy, about 12.00 MiB to transfer.**

        > [!CAUTION]
        > **This plan destroys 1 resource(s):**
        > - `grant acme/redis:qa`: revoke read

        <details><summary>Changes (14)</summary>

        **grant (destroy)**

        | | address | change |
        |---|---|---|
        | `-` | `grant acme/redis:qa` | revoke read |

        **image**

        | | address | change |
        |---|---|---|
        | `+` | `image acme/nginx:1.0` | copy docker.io/library/nginx:1.0 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.1` | copy docker.io/library/nginx:1.1 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.10` | copy docker.io/library/nginx:1.10 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.11` | copy docker.io/library/nginx:1.11 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.2` | copy docker.io/library/nginx:1.2 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.3` | copy docker.io/library/nginx:1.3 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.4` | copy docker.io/library/nginx:1.4 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.5` | copy docker.io/library/nginx:1.5 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.6` | copy docker.io/library/nginx:1.6 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.7` | copy docker.io/library/nginx:1.7 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.8` | copy docker.io/library/nginx:1.8 sha256:abababababab, ~1.00 MiB |
        | `+` | `image acme/nginx:1.9` | copy docker.io/library/nginx:1.9 sha256:abababababab, ~1.00 MiB |
        | `~` | `image acme/redis:7.2` | copy docker.io/library/redis:7.2 sha256:010101010101 -> sha256:abababababab, ~512 B |

        </details>

        #### Notes (1)

        - `member old`: member not in the policy (left alone; set prune = true in [settings] to remove)
        ");
    }

    fn huge() -> Plan {
        let mut changes: Vec<Change> = (0..3000)
            .map(|i| Change::Grant {
                repository: format!("repository-with-a-long-name-{i:04}"),
                team: "developers".into(),
                permission: Permission::Read,
            })
            .collect();
        changes.extend((0..5).map(|i| Change::DeleteTeam {
            team: format!("old-{i}"),
        }));
        let notes = (0..50)
            .map(|i| Note {
                kind: ResourceKind::Team,
                address: format!("team t{i}"),
                message: "team not in the policy (left alone)".into(),
            })
            .collect();
        plan(changes, notes)
    }

    #[test]
    fn a_plan_too_large_for_one_comment_keeps_the_summary_and_deletions() {
        let p = huge();
        let md = markdown(&p);
        assert!(md.len() <= COMMENT_LIMIT, "{}", md.len());
        assert!(
            md.len() > COMMENT_LIMIT - 2_000,
            "uses the room: {}",
            md.len()
        );
        assert!(md.starts_with("<!-- vetted:plan org=acme -->\n"));
        assert!(md.contains("**Plan: 3000 to add, 0 to change, 5 to destroy.**"));
        for i in 0..5 {
            assert!(
                md.contains(&format!("> - `team old-{i}`: delete team")),
                "{md}"
            );
        }
        assert!(md.contains("</details>"));
        assert!(
            md.contains("left out: 50 note(s)"),
            "{}",
            &md[md.len() - 600..]
        );
        assert!(md.contains("job summary"));
        // The job summary holds it all.
        let full = render(
            &p,
            &MarkdownOptions {
                max_chars: JOB_SUMMARY_LIMIT,
                ..MarkdownOptions::default()
            },
        );
        assert!(full.len() <= JOB_SUMMARY_LIMIT);
        assert!(!full.contains("[!NOTE]"), "not cut");
        assert!(full.contains("repository-with-a-long-name-2999"));
        // The cut itself, on a budget small enough to read.
        let cut = render(
            &p,
            &MarkdownOptions {
                max_chars: 2_000,
                ..MarkdownOptions::default()
            },
        );
        assert!(cut.len() <= 2_000, "{}", cut.len());
        insta::assert_snapshot!(cut, @"
        <!-- vetted:plan org=acme -->
        ### vetted plan for `acme`

        **Plan: 3000 to add, 0 to change, 5 to destroy.**

        > [!CAUTION]
        > **This plan destroys 5 resource(s):**
        > - `team old-0`: delete team
        > - `team old-1`: delete team
        > - `team old-2`: delete team
        > - `team old-3`: delete team
        > - `team old-4`: delete team

        <details><summary>Changes (3005)</summary>

        **team (destroy)**

        | | address | change |
        |---|---|---|
        | `-` | `team old-0` | delete team |
        | `-` | `team old-1` | delete team |
        | `-` | `team old-2` | delete team |
        | `-` | `team old-3` | delete team |
        | `-` | `team old-4` | delete team |

        **grant**

        | | address | change |
        |---|---|---|
        | `+` | `grant acme/repository-with-a-long-name-0000:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0001:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0002:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0003:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0004:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0005:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0006:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0007:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0008:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0009:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0010:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0011:developers` | grant read |
        | `+` | `grant acme/repository-with-a-long-name-0012:developers` | grant read |

        </details>

        > [!NOTE]
        > This plan is too large for 2000 characters: shown here are 18 of 3005 change(s); left out: 50 note(s). The full plan is in this workflow run's job summary and in the saved plan (the JSON artifact; `vetted show plan.json` renders it).
        ");
    }

    #[test]
    fn even_deletions_are_cut_to_fit() {
        let changes: Vec<Change> = (0..2000)
            .map(|i| Change::DeleteRepository {
                repository: format!("repo-{i:04}"),
            })
            .collect();
        let p = plan(changes, vec![]);
        let md = markdown(&p);
        assert!(md.len() <= COMMENT_LIMIT, "{}", md.len());
        assert!(md.contains("**Plan: 0 to add, 0 to change, 2000 to destroy.**"));
        assert!(
            md.contains("more deletion(s), listed in the full plan"),
            "{md}"
        );
        assert!(md.contains("shown here are 0 of 2000 change(s)"), "{md}");
    }

    #[test]
    fn extra_sections_and_escaping() {
        let mut p = small();
        p.notes.push(Note {
            kind: ResourceKind::Team,
            address: "team a|b".into(),
            message: "x | y <script>".into(),
        });
        let md = render(
            &p,
            &MarkdownOptions {
                max_chars: COMMENT_LIMIT,
                sections: vec![Section {
                    title: "Effective access".into(),
                    body: "- carol gains push on acme/nginx".into(),
                }],
            },
        );
        assert!(md.contains("`team a\\|b`: x \\| y &lt;script>"), "{md}");
        assert!(
            md.contains("#### Effective access\n\n- carol gains push on acme/nginx\n"),
            "{md}"
        );
        assert_eq!(marker("a--b"), "<!-- vetted:plan org=a- -b -->");
    }
}
