//! Tests of the text view of a plan (tables, summary line, notes, unified diffs).

use super::*;
use crate::model::{Permission, Role, Username};
use crate::plan::access::{AccessChange, Level, Subject};
use crate::plan::{Delta, Note, RepoFields};

fn sample() -> Plan {
    let mut changes = vec![
        Change::DeleteRepository {
            repository: "legacy".into(),
        },
        Change::Revoke {
            repository: "redis".into(),
            team: "qa".into(),
            permission: Permission::Read,
        },
        Change::SetRole {
            user: Username::new("ed"),
            old: Role::Member,
            new: Role::Editor,
        },
        Change::CreateRepository {
            repository: "nginx".into(),
            fields: RepoFields {
                private: false,
                description: "Vetted nginx".into(),
                full_description: String::new(),
            },
        },
        Change::UpdateRepository {
            repository: "redis".into(),
            private: None,
            description: None,
            full_description: Some(Delta {
                old: "# Redis\nMirrored.\nOld line".into(),
                new: "# Redis\nMirrored.\nNew line".into(),
            }),
        },
        Change::Grant {
            repository: "nginx".into(),
            team: "devs".into(),
            permission: Permission::Write,
        },
        Change::CopyImage {
            repository: "nginx".into(),
            tag: "1.27".into(),
            source: format!("docker.io/library/nginx:1.27@sha256:{}", "ab".repeat(32)),
            digest: format!("sha256:{}", "ab".repeat(32)),
            old_digest: None,
            platforms: None,
            signatures: false,
            bytes: 3 * 1024 * 1024,
            manifests: 3,
        },
        Change::CopyImage {
            repository: "redis".into(),
            tag: "7.2".into(),
            source: format!("docker.io/bitnami/redis:7.2@sha256:{}", "cd".repeat(32)),
            digest: format!("sha256:{}", "ef".repeat(32)),
            old_digest: Some(format!("sha256:{}", "01".repeat(32))),
            platforms: Some(vec!["linux/amd64".into()]),
            signatures: true,
            bytes: 512,
            manifests: 2,
        },
    ];
    crate::plan::diff::sort_changes(&mut changes, "acme");
    Plan {
        targets: Vec::new(),
        org: "acme".into(),
        changes,
        notes: vec![Note {
            kind: ResourceKind::Member,
            address: "member old".into(),
            message:
                "member not in the policy (left alone; set prune = true in [settings] to remove)"
                    .into(),
        }],
        api_calls: 7,
        snapshot: None,
        drift: Default::default(),
        access: vec![
            AccessChange {
                subject: Subject::Everyone,
                repository: "nginx".into(),
                old: None,
                new: Some(Level::Pull),
                pending: false,
                outside: None,
            },
            AccessChange {
                subject: Subject::Person("carol".into()),
                repository: "nginx".into(),
                old: None,
                new: Some(Level::Push),
                pending: false,
                outside: None,
            },
            AccessChange {
                subject: Subject::Person("erin".into()),
                repository: "redis".into(),
                old: Some(Level::Pull),
                new: None,
                pending: true,
                outside: None,
            },
        ],
    }
}

fn empty() -> Plan {
    Plan {
        targets: Vec::new(),
        org: "acme".into(),
        changes: vec![],
        notes: vec![],
        api_calls: 3,
        access: Vec::new(),
        snapshot: None,
        drift: Default::default(),
    }
}

#[test]
fn text_without_color() {
    let out = text(
        &sample(),
        &RenderOptions {
            color: false,
            verbose: true,
            width: None,
        },
    );
    assert!(!out.contains('\x1b'));
    insta::assert_snapshot!(out, @"
        Organization: acme

        grant (destroy)
        ┌───┬─────────────────────┬─────────────┐
        │   ┆ address             ┆ change      │
        ╞═══╪═════════════════════╪═════════════╡
        │ - ┆ grant acme/redis:qa ┆ revoke read │
        └───┴─────────────────────┴─────────────┘

        repository (destroy)
        ┌───┬────────────────────────┬────────────────────────────────────┐
        │   ┆ address                ┆ change                             │
        ╞═══╪════════════════════════╪════════════════════════════════════╡
        │ - ┆ repository acme/legacy ┆ delete repository and all its tags │
        └───┴────────────────────────┴────────────────────────────────────┘

        member
        ┌───┬───────────┬───────────────────────┐
        │   ┆ address   ┆ change                │
        ╞═══╪═══════════╪═══════════════════════╡
        │ ~ ┆ member ed ┆ role member -> editor │
        └───┴───────────┴───────────────────────┘

        repository
        ┌───┬───────────────────────┬─────────────────────────────────┐
        │   ┆ address               ┆ change                          │
        ╞═══╪═══════════════════════╪═════════════════════════════════╡
        │ + ┆ repository acme/nginx ┆ create, public                  │
        ├╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┤
        │ ~ ┆ repository acme/redis ┆ ~ full_description (diff below) │
        └───┴───────────────────────┴─────────────────────────────────┘
        repository acme/nginx description:
          --- live
          +++ policy
          @@ -0,0 +1 @@
          +Vetted nginx
        repository acme/redis full_description:
          --- live
          +++ policy
          @@ -1,3 +1,3 @@
           # Redis
           Mirrored.
          -Old line
          +New line

        grant
        ┌───┬───────────────────────┬─────────────┐
        │   ┆ address               ┆ change      │
        ╞═══╪═══════════════════════╪═════════════╡
        │ + ┆ grant acme/nginx:devs ┆ grant write │
        └───┴───────────────────────┴─────────────┘

        image
        ┌───┬───────────────────────┬────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┐
        │   ┆ address               ┆ change                                                                                                                 │
        ╞═══╪═══════════════════════╪════════════════════════════════════════════════════════════════════════════════════════════════════════════════════════╡
        │ + ┆ image acme/nginx:1.27 ┆ copy docker.io/library/nginx:1.27 sha256:abababababab, ~3.00 MiB                                                       │
        ├╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┼╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌┤
        │ ~ ┆ image acme/redis:7.2  ┆ copy docker.io/bitnami/redis:7.2 sha256:010101010101 -> sha256:efefefefefef, ~512 B, platforms linux/amd64 (new index) │
        └───┴───────────────────────┴────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘

        Notes (drift left alone, information):
          ! member old: member not in the policy (left alone; set prune = true in [settings] to remove)

        Needs attention: 6 change(s) (privilege 2, exposure 1, destruction 3)
          privilege    ed becomes editor (was member)
          privilege    team devs gains write on acme/nginx
          exposure     acme/nginx is created public
          destruction  team qa loses read on acme/redis
          destruction  acme/legacy is deleted, with all its tags
          destruction  acme/redis:7.2 moves from sha256:010101010101 to sha256:efefefefefef

        Plan: 3 to add, 3 to change, 2 to destroy. Images: 2 to copy, about 3.00 MiB to transfer.
        Docker Hub API calls: 7
        ");
}

/// Image and Registry Access Management changes as the policy example makes them.
fn access_settings() -> Vec<Change> {
    use crate::model::{CustomRegistry, ImageAccess, RegistryAccess};
    vec![
        Change::SetImageAccess {
            old: Some(ImageAccess {
                enabled: false,
                allow_official_images: true,
                allow_verified_publishers: true,
            }),
            new: ImageAccess {
                enabled: true,
                allow_official_images: true,
                allow_verified_publishers: false,
            },
        },
        Change::SetRegistryAccess {
            old: Some(RegistryAccess {
                enabled: true,
                docker_hub: true,
                custom: vec![
                    CustomRegistry {
                        address: "ghcr.io".into(),
                        friendly_name: "GitHub".into(),
                        allowed: true,
                    },
                    CustomRegistry {
                        address: "quay.io".into(),
                        friendly_name: "Quay".into(),
                        allowed: true,
                    },
                ],
            }),
            new: RegistryAccess {
                enabled: true,
                docker_hub: false,
                custom: vec![
                    CustomRegistry {
                        address: "ghcr.io".into(),
                        friendly_name: "GitHub Container Registry".into(),
                        allowed: true,
                    },
                    CustomRegistry {
                        address: "registry.example.com:5000".into(),
                        friendly_name: "Ours\nsecond line".into(),
                        allowed: false,
                    },
                ],
            },
        },
    ]
}

#[test]
fn text_fits_the_width_one_attribute_per_line() {
    let mut plan = sample();
    plan.changes.splice(0..0, access_settings());
    plan.changes.push(Change::UpdateRepository {
        repository: "api".into(),
        private: Some(Delta {
            old: false,
            new: true,
        }),
        description: Some(Delta {
            old: "API".into(),
            new: "The API".into(),
        }),
        full_description: None,
    });
    let opts = |width| RenderOptions {
        color: false,
        verbose: false,
        width,
    };
    let fitted = text(&plan, &opts(Some(72)));
    for line in fitted
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '└', '├', '╞']))
    {
        assert!(line.chars().count() <= 72, "{line}");
    }
    for line in fitted
        .lines()
        .filter(|l| l.starts_with("  !") || l.starts_with("Plan:"))
    {
        assert!(line.chars().count() <= 72, "{line}");
    }
    // Unconstrained: one line per row, whatever its length.
    let wide = text(&plan, &opts(None));
    assert!(wide.lines().any(|l| l.chars().count() > 120), "{wide}");
    assert!(!wide.contains("~512\n"), "{wide}");
    // One line per changed attribute (fitted, a long one wraps inside its column).
    assert!(fitted.contains("│ ~ ┆ image_access acme ┆ ~ enabled: false -> true "));
    for attr in [
        "~ enabled: false -> true",
        "~ allow_verified_publishers: true -> false",
        "~ docker_hub: true -> false",
        r#"~ registry ghcr.io: "GitHub" -> "GitHub Container Registry""#,
        r#"+ registry registry.example.com:5000 "Ours\nsecond line" (not allowed)"#,
        r#"- registry quay.io "Quay""#,
        "~ visibility: public -> private",
        "~ description (diff below)",
    ] {
        assert!(wide.contains(attr), "{attr} in\n{wide}");
    }
    // Unchanged attributes are not listed.
    assert!(!wide.contains("allow_official_images"), "{wide}");
    insta::assert_snapshot!("text_at_72_columns", fitted);
}

#[test]
fn text_with_color_marks_actions() {
    let out = text(
        &sample(),
        &RenderOptions {
            color: true,
            verbose: false,
            width: None,
        },
    );
    assert!(out.contains('\x1b'));
    assert!(!out.contains("Docker Hub API calls"));
}

#[test]
fn text_empty_plan() {
    let out = text(&empty(), &RenderOptions::default());
    insta::assert_snapshot!(out, @"
        Organization: acme

        No changes. The organization matches the policy.
        ");
}

#[test]
fn json_document() {
    insta::assert_snapshot!(json(&sample()), @r##"
        {
          "access": [
            {
              "new": "pull",
              "old": null,
              "pending": false,
              "repository": "nginx",
              "subject": {
                "kind": "everyone"
              }
            },
            {
              "new": "push",
              "old": null,
              "pending": false,
              "repository": "nginx",
              "subject": {
                "kind": "person",
                "name": "carol"
              }
            },
            {
              "new": null,
              "old": "pull",
              "pending": true,
              "repository": "redis",
              "subject": {
                "kind": "person",
                "name": "erin"
              }
            }
          ],
          "api_calls": 7,
          "changes": [
            {
              "action": "delete",
              "address": "grant acme/redis:qa",
              "kind": "grant",
              "permission": "read",
              "repository": "redis",
              "risk": "destruction",
              "team": "qa",
              "type": "revoke"
            },
            {
              "action": "delete",
              "address": "repository acme/legacy",
              "kind": "repository",
              "repository": "legacy",
              "risk": "destruction",
              "type": "delete_repository"
            },
            {
              "action": "update",
              "address": "member ed",
              "kind": "member",
              "new": "editor",
              "old": "member",
              "risk": "privilege",
              "type": "set_role",
              "user": "ed"
            },
            {
              "action": "create",
              "address": "repository acme/nginx",
              "fields": {
                "description": "Vetted nginx",
                "full_description": "",
                "private": false
              },
              "kind": "repository",
              "repository": "nginx",
              "risk": "exposure",
              "type": "create_repository"
            },
            {
              "action": "update",
              "address": "repository acme/redis",
              "description": null,
              "full_description": {
                "new": "# Redis\nMirrored.\nNew line",
                "old": "# Redis\nMirrored.\nOld line"
              },
              "kind": "repository",
              "private": null,
              "repository": "redis",
              "risk": "routine",
              "type": "update_repository"
            },
            {
              "action": "create",
              "address": "grant acme/nginx:devs",
              "kind": "grant",
              "permission": "write",
              "repository": "nginx",
              "risk": "privilege",
              "team": "devs",
              "type": "grant"
            },
            {
              "action": "create",
              "address": "image acme/nginx:1.27",
              "bytes": 3145728,
              "digest": "sha256:abababababababababababababababababababababababababababababababab",
              "kind": "image",
              "manifests": 3,
              "old_digest": null,
              "platforms": null,
              "repository": "nginx",
              "risk": "routine",
              "signatures": false,
              "source": "docker.io/library/nginx:1.27@sha256:abababababababababababababababababababababababababababababababab",
              "tag": "1.27",
              "type": "copy_image"
            },
            {
              "action": "update",
              "address": "image acme/redis:7.2",
              "bytes": 512,
              "digest": "sha256:efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef",
              "kind": "image",
              "manifests": 2,
              "old_digest": "sha256:0101010101010101010101010101010101010101010101010101010101010101",
              "platforms": [
                "linux/amd64"
              ],
              "repository": "redis",
              "risk": "destruction",
              "signatures": true,
              "source": "docker.io/bitnami/redis:7.2@sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
              "tag": "7.2",
              "type": "copy_image"
            }
          ],
          "drift": {
            "access": [],
            "changes": []
          },
          "format_version": "1",
          "notes": [
            {
              "address": "member old",
              "kind": "member",
              "message": "member not in the policy (left alone; set prune = true in [settings] to remove)"
            }
          ],
          "org": "acme",
          "partial": false,
          "summary": {
            "add": 3,
            "bytes": 3146240,
            "change": 3,
            "destroy": 2,
            "images": 2,
            "risk": {
              "destruction": 3,
              "exposure": 1,
              "privilege": 2,
              "routine": 2
            }
          },
          "targets": []
        }
        "##);
}

#[test]
fn json_is_parseable_and_counts_match() {
    let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
    assert_eq!(v["summary"]["destroy"], 2);
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(8));
    assert_eq!(v["changes"][0]["action"], "delete");
    assert_eq!(v["summary"]["images"], 2);
    assert_eq!(v["summary"]["bytes"], 3 * 1024 * 1024 + 512);
    // Image copies come last (after the repositories they go into).
    assert_eq!(v["changes"][7]["type"], "copy_image");
}
