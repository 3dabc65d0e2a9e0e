//! Tests of the markdown view of a plan.

use super::*;
use crate::model::{Permission, Role, Username};
use crate::plan::{Delta, Note, RepoFields, ResourceKind};

fn plan(changes: Vec<Change>, notes: Vec<Note>) -> Plan {
    let mut changes = changes;
    crate::plan::diff::sort_changes(&mut changes, "acme");
    Plan {
        targets: Vec::new(),
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
        message: "member not in the policy (left alone; set prune = true in [settings] to remove)"
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

        > [!WARNING]
        > **Needs attention: 2 change(s) (privilege 2)**
        >
        > **Privilege gain**
        > - `ed` becomes editor (was member)
        > - team `devs` gains write on `acme/nginx`

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

        - `member old`: member not in the policy (left alone; set prune = true in \\[settings\\] to remove)
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
        > **Needs attention: 3 change(s) (destruction 3)**
        >
        > **Destruction**
        > - team `qa` loses read on `acme/redis`
        > - `acme/legacy` is deleted, with all its tags
        > - `mallory` leaves team `devs`

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
        > **Needs attention: 2 change(s) (destruction 2)**
        >
        > **Destruction**
        > - team `qa` loses read on `acme/redis`
        > - `acme/redis:7.2` moves from `sha256:010101010101` to `sha256:abababababab`

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

        - `member old`: member not in the policy (left alone; set prune = true in \\[settings\\] to remove)
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
            md.contains(&format!("> - team `old-{i}` is deleted\n")),
            "{md}"
        );
    }
    // 3,000 grants: the first 50 listed, the rest counted, the deletions after them.
    assert!(
        md.contains("> - ... and 2950 more privilege change(s), listed below\n"),
        "{md}"
    );
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
    > **Needs attention: 3005 change(s) (privilege 3000, destruction 5)**
    >
    > **Privilege gain**
    > - team `developers` gains read on `acme/repository-with-a-long-name-0000`
    > - team `developers` gains read on `acme/repository-with-a-long-name-0001`
    > - team `developers` gains read on `acme/repository-with-a-long-name-0002`
    > - team `developers` gains read on `acme/repository-with-a-long-name-0003`
    > - team `developers` gains read on `acme/repository-with-a-long-name-0004`
    > - team `developers` gains read on `acme/repository-with-a-long-name-0005`
    > - ... and 2994 more privilege change(s), listed below
    >
    > **Destruction**
    > - team `old-0` is deleted
    > - team `old-1` is deleted
    > - team `old-2` is deleted
    > - team `old-3` is deleted
    > - team `old-4` is deleted

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

    </details>

    > [!NOTE]
    > This plan is too large for 2000 characters: shown here are 11 of 3005 change(s); left out: 50 note(s). The full plan is in this workflow run's job summary and in the saved plan (the JSON artifact; `vetted show plan.json` renders it).
    ");
}

#[test]
fn thousands_of_deletions_are_counted_and_leave_room_for_the_tables() {
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
        md.contains("> - `acme/repo-0049` is deleted, with all its tags\n> - ... and 1950 more destruction change(s), listed below\n"),
        "{md}"
    );
    assert!(md.contains("| `-` | `repository acme/repo-0100` |"), "{md}");
    assert!(!md.contains("shown here are 0 of"), "{md}");
    // On a small budget, fewer of each class, and the count.
    let cut = render(
        &p,
        &MarkdownOptions {
            max_chars: MIN_CHARS,
            ..MarkdownOptions::default()
        },
    );
    assert!(cut.len() <= MIN_CHARS, "{}", cut.len());
    assert!(
        cut.contains("> - `acme/repo-0000` is deleted, with all its tags\n"),
        "{cut}"
    );
    assert!(
        cut.contains("more destruction change(s), listed below\n"),
        "{cut}"
    );
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

/// Remote text (a registry's error body in a note or a skipped figure) cannot make a link or an
/// image in the comment: its brackets are escaped.
#[test]
fn remote_text_cannot_make_a_link_or_an_image() {
    assert_eq!(
        super::escape("[All checks passed](https://evil.example) ![x](https://evil.example/p.png)"),
        "\\[All checks passed\\](https://evil.example) !\\[x\\](https://evil.example/p.png)"
    );
}
