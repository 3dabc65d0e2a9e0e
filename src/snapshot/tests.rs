//! The snapshot file: round trip, what reading refuses, and its shape pinned per format version
//! (docs/json-shapes/snapshot-v1.txt).

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::model::{
    CustomRegistry, Image, ImageAccess, ImageSource, Invite, Members, Mirror, Permission,
    RegistryAccess, Repository, Role, Team, Username,
};

fn d(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

fn repo(tags: Option<Vec<(&str, String)>>) -> Repository {
    Repository {
        private: true,
        description: Some("cache".into()),
        full_description: Some("# Redis".into()),
        grants: Some(BTreeMap::from([("dev".to_string(), Permission::Write)])),
        mirror: None,
        tags: tags.map(|t| {
            t.into_iter()
                .map(|(k, digest)| {
                    (
                        k.to_string(),
                        Image {
                            digest,
                            source: None,
                        },
                    )
                })
                .collect()
        }),
    }
}

/// A live state with every section read, and one with every optional part unread.
fn live() -> OrgState {
    let mut live = OrgState::empty("acme");
    live.image_access = Some(ImageAccess {
        enabled: true,
        allow_official_images: true,
        allow_verified_publishers: false,
    });
    live.allowlist = Some(BTreeSet::from(["bitnami/redis".to_string()]));
    live.registry_access = Some(RegistryAccess {
        enabled: true,
        docker_hub: true,
        custom: vec![CustomRegistry {
            address: "ghcr.io".into(),
            friendly_name: "GitHub".into(),
            allowed: true,
        }],
    });
    live.members = Some(Members {
        roles: BTreeMap::from([(Username::new("alice"), Role::Owner)]),
        invites: vec![Invite {
            id: Some("inv-1".into()),
            invitee: "bob@example.com".into(),
            role: Role::Member,
            team: Some("dev".into()),
        }],
    });
    live.teams = Some(BTreeMap::from([(
        "dev".to_string(),
        Team {
            description: Some("developers".into()),
            members: BTreeSet::from([Username::new("alice")]),
        },
    )]));
    live.repositories.insert(
        "redis".into(),
        repo(Some(vec![("7.2", d(1)), ("hand", String::new())])),
    );
    let mut other = repo(None);
    other.full_description = None;
    other.grants = None;
    other.description = None;
    live.repositories.insert("api".into(), other);
    live.partial_grants.insert("api".into());
    live
}

fn desired() -> OrgState {
    let mut desired = OrgState::empty("acme");
    let mut r = repo(None);
    r.mirror = Some(Mirror {
        from: "bitnami/redis".into(),
        tags: BTreeMap::from([("7.2".to_string(), None)]),
        platforms: Some(vec!["linux/amd64".into()]),
        signatures: false,
        verify: None,
    });
    r.tags = Some(BTreeMap::from([(
        "7.2".to_string(),
        Image {
            digest: d(3),
            source: Some(ImageSource {
                reference: format!("docker.io/bitnami/redis:7.2@{}", d(2)),
                upstream_digest: d(2),
                update_available: None,
            }),
        },
    )]));
    desired.repositories.insert("redis".into(), r);
    desired
}

fn written() -> SnapshotFile {
    SnapshotFile::new(&live(), &desired(), "2026-12-02T12:00:00Z".into())
}

#[test]
fn a_snapshot_reads_back_as_the_live_state_it_was_taken_of() {
    let file = written();
    let text = file.render();
    assert!(text.ends_with("}\n"));
    assert!(file.fingerprint.starts_with("sha256:") && file.fingerprint.len() == 71);
    let back = read::parse("s.json", text.as_bytes()).unwrap();
    assert_eq!(back.live, live());
    assert_eq!(back.org, "acme");
    assert_eq!(back.taken_at, "2026-12-02T12:00:00Z");
    assert_eq!(back.taken_at_unix, 1_796_212_800);
    assert_eq!(back.fingerprint, file.fingerprint);
    assert_eq!(
        back.filtered,
        BTreeMap::from([((d(2), vec!["linux/amd64".to_string()]), d(3))])
    );
    // Deterministic: the same state gives the same file.
    assert_eq!(written().render(), text);
}

#[test]
fn an_edited_snapshot_is_refused_by_its_fingerprint() {
    let text = written().render();
    let edited = text.replace("\"private\": true", "\"private\": false");
    assert_ne!(edited, text);
    let err = read::parse("s.json", edited.as_bytes()).unwrap_err();
    assert!(matches!(err, SnapshotError::Fingerprint { .. }), "{err}");
    assert!(err.to_string().contains("was changed after it was written"));
    // Whitespace is not content: a reformatted file keeps its fingerprint.
    let compact: serde_json::Value = serde_json::from_str(&text).unwrap();
    let compact = serde_json::to_string(&compact).unwrap();
    assert!(read::parse("s.json", compact.as_bytes()).is_ok());
}

#[test]
fn future_unknown_and_malformed_snapshots_get_clear_errors() {
    let mut v: serde_json::Value = serde_json::from_str(&written().render()).unwrap();
    v["format_version"] = "2".into();
    let err = read::parse("s.json", v.to_string().as_bytes()).unwrap_err();
    assert!(
        matches!(err, SnapshotError::FutureVersion { .. })
            && err.to_string().contains("upgrade vetted"),
        "{err}"
    );
    v["format_version"] = "x\u{1b}[31m".into();
    let err = read::parse("s.json", v.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not one vetted ever wrote") && !err.contains('\u{1b}'),
        "{err}"
    );
    for (bad, want) in [
        ("{}", "no format_version"),
        ("[1,", "not a valid vetted snapshot"),
        ("{\"format_version\": 1}", "must be a string"),
        ("{\"format_version\": \"1\"}", "no fingerprint"),
    ] {
        let err = read::parse("s.json", bad.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{bad}: {err}");
    }
}

/// A snapshot of `live` whose fingerprint is right: what a forger or a bug could write.
fn signed(v: serde_json::Value) -> Vec<u8> {
    let mut v = v;
    v["fingerprint"] = fingerprint_of(&v).into();
    v.to_string().into_bytes()
}

#[test]
fn hostile_values_are_refused_even_with_a_matching_fingerprint() {
    let base: serde_json::Value = serde_json::from_str(&written().render()).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "unknown field",
            Box::new(|v| v["state"]["extra"] = 1.into()),
        ),
        (
            "must be owner, editor or member",
            Box::new(|v| v["state"]["members"]["roles"][0]["role"] = "god".into()),
        ),
        (
            "must be read, write or admin",
            Box::new(|v| v["state"]["repositories"][1]["grants"][0]["permission"] = "root".into()),
        ),
        (
            "must start with sha256:",
            Box::new(|v| v["state"]["repositories"][1]["tags"][0]["digest"] = "md5:00".into()),
        ),
        (
            "appears twice",
            Box::new(|v| {
                let r = v["state"]["repositories"][1].clone();
                v["state"]["repositories"].as_array_mut().unwrap().push(r);
            }),
        ),
        (
            "is not a name",
            Box::new(|v| v["state"]["repositories"][0]["name"] = "a\u{1b}]8;;x".into()),
        ),
        (
            "longer than 100000 characters",
            Box::new(|v| {
                v["state"]["repositories"][1]["full_description"] = "x".repeat(100_001).into()
            }),
        ),
        (
            "holds more than 100000 entries",
            Box::new(|v| {
                v["state"]["allowlist"] = serde_json::Value::Array(vec!["a/b".into(); 100_001])
            }),
        ),
        ("RFC 3339", Box::new(|v| v["taken_at"] = "yesterday".into())),
    ];
    for (want, edit) in cases {
        let mut v = base.clone();
        edit(&mut v);
        let err = read::parse("s.json", &signed(v)).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}

/// serde names an unknown field as written: a field name from the file must not start a line of
/// its own (a workflow command) nor carry an escape sequence into the message.
#[test]
fn an_unknown_field_name_is_escaped_in_the_error() {
    let mut v: serde_json::Value = serde_json::from_str(&written().render()).unwrap();
    v["state"]["x\n::error::pwned\u{1b}[2J"] = 1.into();
    let err = read::parse("s.json", &signed(v)).unwrap_err().to_string();
    assert!(err.contains("unknown field"), "{err}");
    assert!(!err.contains("\n::error::"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(err.contains("x\\n::error::pwned\\u{1b}[2J"), "{err}");
}

#[test]
fn an_oversized_snapshot_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(MAX_SNAPSHOT_BYTES + 1).unwrap();
    let err = read(&path).unwrap_err();
    assert!(matches!(err, SnapshotError::TooLarge { .. }), "{err}");
    let err = read(&dir.path().join("none.json")).unwrap_err().to_string();
    assert!(err.contains("cannot read the snapshot"), "{err}");
}

#[test]
fn the_org_must_be_the_policys() {
    let s = read::parse("s.json", written().render().as_bytes()).unwrap();
    assert!(s.check_org("s.json", "ACME").is_ok());
    let err = s.check_org("s.json", "other").unwrap_err().to_string();
    assert!(
        err.contains("of organization acme, but the policy governs other"),
        "{err}"
    );
}

#[test]
fn coverage_names_what_the_policy_needs_and_the_snapshot_lacks() {
    let live = live();
    let mut desired = desired();
    assert_eq!(missing(&live, &desired), Vec::<String>::new());
    desired.teams = Some(BTreeMap::new());
    let mut thin = live.clone();
    thin.teams = None;
    let gaps = missing(&thin, &desired);
    assert!(
        gaps.contains(&"the teams (not read)".to_string()),
        "{gaps:?}"
    );
    // Teams managed: every repository's grants are needed; `api`'s were not read.
    assert!(
        gaps.contains(&"the grants of repository acme/api".to_string()),
        "{gaps:?}"
    );
    let mut mirrored = desired.repositories["redis"].clone();
    mirrored.tags = None;
    desired.repositories.insert("api".into(), mirrored);
    let gaps = missing(&thin, &desired);
    assert!(
        gaps.contains(&"the tags of repository acme/api".to_string()),
        "{gaps:?}"
    );
}

#[test]
fn age_words_for_people() {
    assert_eq!(age_words(-5), "less than a minute");
    assert_eq!(age_words(59), "less than a minute");
    assert_eq!(age_words(61), "1 min");
    assert_eq!(age_words(3 * 3600 + 59), "3 h");
    assert_eq!(age_words(47 * 3600), "47 h");
    assert_eq!(age_words(3 * 86_400), "3 d");
}

#[test]
fn the_snapshot_keeps_the_shape_of_its_format_version() {
    let mut empty = OrgState::empty("acme");
    empty.repositories.insert("x".into(), repo(None));
    empty.members = Some(Members {
        roles: BTreeMap::new(),
        invites: vec![Invite {
            id: None,
            invitee: "kim".into(),
            role: Role::Editor,
            team: None,
        }],
    });
    empty.teams = Some(BTreeMap::from([("ops".to_string(), Team::default())]));
    let docs = vec![
        written().render(),
        SnapshotFile::new(
            &empty,
            &OrgState::empty("acme"),
            "2026-12-02T12:00:00Z".into(),
        )
        .render(),
        SnapshotFile::new(
            &OrgState::empty("acme"),
            &OrgState::empty("acme"),
            "2026-12-02T12:00:00Z".into(),
        )
        .render(),
    ];
    crate::render::json::tests::assert_shape("snapshot", SNAPSHOT_FORMAT_VERSION, &docs);
}
