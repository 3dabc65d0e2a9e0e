//! The image rows of the diff. For each mirrored repository whose desired tags are resolved
//! ([`Repository::tags`](crate::model::Repository::tags)): a [`Change::CopyImage`] for every tag
//! whose live digest differs, and notes on upstream updates past the lock and on filtered indexes.
//! For each tag the live repository holds that the policy does not list (pushed by hand): a
//! [`Change::DeleteTag`] with prune, a note without. Pure.

use super::diff::{Builder, DiffOptions};
use crate::model::{OrgState, is_signature_tag, short_digest};
use crate::plan::{Change, ResourceKind, image_address};

pub(super) fn diff_images(
    desired: &OrgState,
    live: &OrgState,
    opts: &DiffOptions,
    b: &mut Builder<'_>,
) {
    for (name, repo) in &desired.repositories {
        let Some(mirror) = &repo.mirror else { continue };
        let cur = live.repositories.get(name);
        for (tag, image) in repo.tags.iter().flatten() {
            // A desired image always has its source; one without cannot be copied.
            let Some(source) = &image.source else {
                continue;
            };
            let address = image_address(b.org, name, tag);
            if let Some(now) = &source.update_available {
                b.note(
                    ResourceKind::Image,
                    address.clone(),
                    format!(
                        "update available: {name}:{tag} {} -> {} (run `vetted lock --upgrade {name}`)",
                        short_digest(&source.upstream_digest),
                        short_digest(now),
                    ),
                );
            }
            if mirror.platforms.is_some() && image.digest != source.upstream_digest {
                b.note(
                    ResourceKind::Image,
                    address,
                    format!(
                        "platforms filtered: the mirror is a new index {} (upstream {})",
                        short_digest(&image.digest),
                        short_digest(&source.upstream_digest)
                    ),
                );
            }
            let old = cur.and_then(|c| c.tag_digest(tag));
            if old == Some(image.digest.as_str()) {
                continue;
            }
            b.changes.push(Change::CopyImage {
                repository: name.clone(),
                tag: tag.clone(),
                source: source.reference.clone(),
                digest: image.digest.clone(),
                old_digest: old.map(str::to_string),
                platforms: mirror.platforms.clone(),
                signatures: mirror.signatures,
                bytes: 0,
                manifests: 0,
            });
        }
        // A mirror with `signatures = true` also holds the cosign signature, attestation and SBOM
        // tags of its copies: not drift.
        for (tag, image) in cur.and_then(|c| c.tags.as_ref()).into_iter().flatten() {
            if mirror.tags.contains_key(tag) || (mirror.signatures && is_signature_tag(tag)) {
                continue;
            }
            let digest = if image.digest.is_empty() {
                "no digest".to_string()
            } else {
                short_digest(&image.digest)
            };
            b.prune_or_note(
                opts.prune,
                Change::DeleteTag {
                    repository: name.clone(),
                    tag: tag.clone(),
                    digest: image.digest.clone(),
                },
                ResourceKind::Image,
                format_args!("tag pushed by hand ({digest}), not in the policy"),
                "delete",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Image, ImageSource, Mirror, OrgState, Repository, short_digest};
    use crate::plan::{Action, Change, DiffOptions, diff};

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    fn mirror(tags: &[&str], signatures: bool) -> Mirror {
        Mirror {
            from: "bitnami/redis".into(),
            tags: tags.iter().map(|t| (t.to_string(), None)).collect(),
            platforms: None,
            signatures,
            verify: None,
        }
    }

    fn repo(mirror: Option<Mirror>, tags: Option<Vec<(&str, Image)>>) -> Repository {
        Repository {
            private: true,
            description: None,
            full_description: None,
            grants: None,
            mirror,
            tags: tags.map(|t| t.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        }
    }

    fn want(digest: &str) -> Image {
        Image {
            digest: digest.into(),
            source: Some(ImageSource {
                reference: format!("docker.io/bitnami/redis:x@{digest}"),
                upstream_digest: digest.into(),
                update_available: None,
            }),
        }
    }

    fn have(digest: &str) -> Image {
        Image {
            digest: digest.into(),
            source: None,
        }
    }

    fn states(
        desired: Vec<(&str, Repository)>,
        live: Vec<(&str, Repository)>,
    ) -> (OrgState, OrgState) {
        let mut d = OrgState::empty("acme");
        let mut l = OrgState::empty("acme");
        d.repositories = desired.into_iter().map(|(k, v)| (k.into(), v)).collect();
        l.repositories = live.into_iter().map(|(k, v)| (k.into(), v)).collect();
        (d, l)
    }

    #[test]
    fn missing_stale_and_current_tags() {
        let m = mirror(&["1.27", "3.20", "7.2"], false);
        let desired = repo(
            Some(m.clone()),
            Some(vec![
                ("1.27", want(&d(1))),
                ("7.2", want(&d(2))),
                ("3.20", want(&d(3))),
            ]),
        );
        let live = repo(
            None,
            Some(vec![("7.2", have(&d(9))), ("3.20", have(&d(3)))]),
        );
        let (desired, live) = states(vec![("redis", desired)], vec![("redis", live)]);
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        let copies: Vec<&Change> = p.changes.iter().collect();
        assert_eq!(copies.len(), 2, "{copies:?}");
        assert_eq!(copies[0].action(), Action::Create);
        assert_eq!(copies[0].address("acme"), "image acme/redis:1.27");
        match copies[1] {
            Change::CopyImage {
                old_digest,
                digest,
                source,
                ..
            } => {
                assert_eq!(old_digest.as_deref(), Some(d(9).as_str()));
                assert_eq!(digest, &d(2));
                assert_eq!(source, &format!("docker.io/bitnami/redis:x@{}", d(2)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(copies[1].action(), Action::Update);
        // A repository that does not exist yet: created, then every tag copied, in one plan.
        let (desired2, empty) = states(
            vec![("redis", repo(Some(m), Some(vec![("7.2", want(&d(2)))])))],
            vec![],
        );
        let p = diff(&desired2, &empty, &DiffOptions::default());
        let addresses: Vec<String> = p.changes.iter().map(|c| c.address("acme")).collect();
        assert_eq!(
            addresses,
            vec!["repository acme/redis", "image acme/redis:7.2"],
            "{p:?}"
        );
        // Unresolved images (no registry read): no image rows at all.
        let (unresolved, _) = states(
            vec![("redis", repo(Some(mirror(&["7.2"], false)), None))],
            vec![],
        );
        let p = diff(&unresolved, &empty, &DiffOptions::default());
        assert_eq!(p.changes.len(), 1, "{p:?}");
    }

    #[test]
    fn notes_update_available_and_new_index() {
        let mut m = mirror(&["1.27", "7.2"], false);
        m.platforms = Some(vec!["linux/amd64".into()]);
        let mut locked = want(&d(1));
        if let Some(s) = &mut locked.source {
            s.update_available = Some(d(4));
        }
        let mut filtered = want(&d(5));
        if let Some(s) = &mut filtered.source {
            s.upstream_digest = d(2);
        }
        let (desired, live) = states(
            vec![(
                "redis",
                repo(Some(m), Some(vec![("1.27", locked), ("7.2", filtered)])),
            )],
            vec![(
                "redis",
                repo(
                    None,
                    Some(vec![("1.27", have(&d(1))), ("7.2", have(&d(5)))]),
                ),
            )],
        );
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        let messages: Vec<&str> = p.notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(
            messages[0],
            format!(
                "update available: redis:1.27 {} -> {} (run `vetted lock --upgrade redis`)",
                short_digest(&d(1)),
                short_digest(&d(4))
            ),
            "{messages:?}"
        );
        assert!(messages[1].contains("new index"), "{messages:?}");
        assert_eq!(p.notes[1].address, "image acme/redis:7.2");
    }

    #[test]
    fn tags_the_policy_does_not_list_are_hand_pushed() {
        let sig = format!("sha256-{}.sig", "a".repeat(64));
        let live_tags = || {
            Some(vec![
                ("7.2", have(&d(1))),
                ("hand", have(&d(2))),
                (sig.as_str(), have(&d(3))),
            ])
        };
        let states_with = |signatures: bool| {
            states(
                vec![
                    (
                        "redis",
                        repo(
                            Some(mirror(&["7.2"], signatures)),
                            Some(vec![("7.2", want(&d(1)))]),
                        ),
                    ),
                    ("api", repo(None, None)),
                ],
                vec![
                    ("redis", repo(None, live_tags())),
                    // Not a mirror: its tags are the organization's own.
                    ("api", repo(None, Some(vec![("v1", have(&d(4)))]))),
                ],
            )
        };
        let (desired, live) = states_with(true);
        let p = diff(
            &desired,
            &live,
            &DiffOptions {
                prune: true,
                ..DiffOptions::default()
            },
        );
        assert_eq!(
            p.changes,
            vec![Change::DeleteTag {
                repository: "redis".into(),
                tag: "hand".into(),
                digest: d(2),
            }]
        );
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        // Without signatures a signature tag is drift too; without prune each is a note, and
        // the plan's drift holds the deletions prune would add.
        let (desired, live) = states_with(false);
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        let notes: Vec<(&str, &str)> = p
            .notes
            .iter()
            .map(|n| (n.address.as_str(), n.message.as_str()))
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[0].0, "image acme/redis:hand");
        assert_eq!(
            notes[0].1,
            format!(
                "tag pushed by hand ({}), not in the policy (left alone; set prune = true in [settings] to delete)",
                short_digest(&d(2))
            )
        );
        assert_eq!(p.drift.changes.len(), 2, "{:?}", p.drift);
        // A tag the listing gave without a digest says so.
        let (desired, mut live) = states_with(true);
        if let Some(t) = live
            .repositories
            .get_mut("redis")
            .and_then(|r| r.tags.as_mut())
        {
            t.insert("nodigest".into(), have(""));
        }
        let p = diff(&desired, &live, &DiffOptions::default());
        assert!(
            p.notes
                .iter()
                .any(|n| n.message.starts_with("tag pushed by hand (no digest)")),
            "{:?}",
            p.notes
        );
    }
}
