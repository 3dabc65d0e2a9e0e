//! Tests of the saved-plan file and its fingerprints.

use super::*;
use crate::model::{Permission, Repository, Team, Username};
use crate::plan::Change;

fn live() -> OrgState {
    let mut s = OrgState::empty("acme");
    let mut team = Team::default();
    team.members.insert(Username::new("bob"));
    s.teams = Some(BTreeMap::from([("devs".to_string(), team)]));
    s.repositories.insert(
        "redis".into(),
        Repository {
            private: true,
            description: Some("d".into()),
            full_description: Some(String::new()),
            grants: Some(BTreeMap::from([("devs".to_string(), Permission::Read)])),
            mirror: None,
            tags: None,
        },
    );
    s
}

fn desired() -> OrgState {
    OrgState::empty("acme")
}
const SETTINGS: PolicySettings = PolicySettings {
    prune: false,
    delete_threshold: 0.25,
};

fn saved() -> SavedPlan {
    let plan = Plan {
        targets: Vec::new(),
        org: "acme".into(),
        changes: vec![Change::DeleteRepository {
            repository: "legacy".into(),
        }],
        notes: vec![],
        access: vec![],
        snapshot: None,
        drift: Default::default(),
        api_calls: 3,
    };
    let fp = Fingerprints::compute(b"org = \"acme\"\n", &desired(), &SETTINGS, None, &live());
    let url = url::Url::parse("http://user:pw@127.0.0.1:5080/?q=1").unwrap();
    SavedPlan::new(plan, &url, Path::new("vetted.toml"), fp)
}

#[test]
fn canonical_json_sorts_keys_at_every_depth() {
    let v = serde_json::json!({"b": [{"z": 1, "a": null}], "a": "x\"y"});
    assert_eq!(canonical_json(&v), r#"{"a":"x\"y","b":[{"a":null,"z":1}]}"#);
    // Arrays keep their order, one comma between items; objects sort by key bytes.
    let v = serde_json::json!({"k": [3, 1, [true, "s"], {}], "B": {"y": 2, "x": 1}, "a": []});
    assert_eq!(
        canonical_json(&v),
        r#"{"B":{"x":1,"y":2},"a":[],"k":[3,1,[true,"s"],{}]}"#
    );
    // Keys inserted out of order (as a `preserve_order` map would keep them) come out sorted.
    let mut map = serde_json::Map::new();
    for k in ["zeta", "alpha", "mid"] {
        map.insert(k.to_string(), Value::from(k.len()));
    }
    assert_eq!(
        canonical_json(&Value::Object(map)),
        r#"{"alpha":5,"mid":3,"zeta":4}"#
    );
}

#[test]
fn round_trip_and_no_credentials_in_the_url() {
    let s = saved();
    assert_eq!(s.hub_url, "http://127.0.0.1:5080");
    let text = s.to_json();
    assert!(!text.contains("pw") && !text.contains("user"), "{text}");
    let back = SavedPlan::parse(Path::new("plan.json"), &text).unwrap();
    assert_eq!(back, s);
}

#[test]
fn bad_files_say_what_is_wrong() {
    let p = Path::new("plan.json");
    let e = SavedPlan::parse(p, "{\"kind\": ").unwrap_err().to_string();
    assert!(
        e.starts_with("plan.json: not a saved plan: invalid JSON at line 1"),
        "{e}"
    );
    let e = SavedPlan::parse(p, r#"{"format_version":"1","org":"acme","changes":[]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `kind` field"), "{e}");
    let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
    v["format_version"] = "4".into();
    let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
    assert!(e.contains("saved plan format \"4\""), "{e}");
    assert!(e.contains("run `vetted plan --out` again"), "{e}");
    // Formats 1 and 2 (the internal plan serialized, its own `format_version` and `org` inside):
    // refused, not read as stale.
    for old in ["1", "2"] {
        v["format_version"] = old.into();
        v["vetted_version"] = "0.1.0".into();
        let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "saved plan format \"{old}\" (written by vetted 0.1.0) is not supported: this vetted"
            )) && e.ends_with("reads format 3; run `vetted plan --out` again with this version"),
            "{e}"
        );
    }
    let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
    v["plan"]["changes"][0]["type"] = "explode".into();
    let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
    assert!(e.contains("corrupt saved plan at line"), "{e}");
    // Format 2's fields inside the plan are unknown to format 3, as is any other.
    for (field, value) in [("format_version", "1"), ("org", "acme"), ("extra", "x")] {
        let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
        v["plan"][field] = value.into();
        let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
        assert!(
            e.contains("corrupt saved plan at line")
                && e.contains(&format!("unknown field `{field}`")),
            "{e}"
        );
    }
    // A value of the wrong kind is refused too: a role or permission the format does not name.
    let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
    v["plan"]["changes"][0] =
        serde_json::json!({"type": "grant", "repository": "r", "team": "t", "permission": "root"});
    let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
    assert!(e.contains("unknown variant `root`"), "{e}");
}

/// Every change type, note, access change and drift survives the file unchanged; a plan from a
/// snapshot has no place in it (such a plan is never saved).
#[test]
fn every_change_type_round_trips_through_the_file() {
    use crate::render::json::tests::plan_document::{alternatives, every_kind};
    for plan in [every_kind(), alternatives()] {
        let plan = Plan {
            snapshot: None,
            ..plan
        };
        let fp = Fingerprints::compute(b"x", &desired(), &SETTINGS, Some(b"lock"), &live());
        let url = url::Url::parse("http://127.0.0.1:5080").unwrap();
        let s = SavedPlan::new(plan, &url, Path::new("dir/vetted.toml"), fp);
        let back = SavedPlan::parse(Path::new("plan.json"), &s.to_json()).unwrap();
        assert_eq!(back, s);
    }
}

/// The file's shape is pinned per format version (docs/json-shapes/saved-plan-v3.txt), as the
/// published documents' are: a field renamed in the internal plan cannot move the file.
#[test]
fn the_saved_plan_keeps_the_shape_of_its_format_version() {
    use crate::render::json::tests::plan_document::{alternatives, every_kind};
    let docs: Vec<String> = [(every_kind(), None), (alternatives(), Some(&b"lock"[..]))]
        .into_iter()
        .map(|(plan, lock)| {
            let fp = Fingerprints::compute(b"x", &desired(), &SETTINGS, lock, &live());
            let url = url::Url::parse("http://127.0.0.1:5080").unwrap();
            SavedPlan::new(plan, &url, Path::new("vetted.toml"), fp).to_json()
        })
        .collect();
    crate::render::json::tests::assert_shape("saved-plan", SAVED_FORMAT_VERSION, &docs);
}

/// A saved plan comes from a pull request's artifact or a user: the names it carries (its writer's
/// version, an unknown field or change type) reach the error on one line, escaped, so none can
/// start a line of its own (a workflow command) or carry an escape sequence.
#[test]
fn text_from_a_hostile_saved_plan_is_escaped_in_its_errors() {
    let p = Path::new("plan.json");
    let hostile = "x\n::error::pwned\u{1b}[2J";
    let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
    v["format_version"] = "1".into();
    v["vetted_version"] = hostile.into();
    let old = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
    let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
    v["plan"]["changes"][0]["type"] = hostile.into();
    let corrupt = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
    assert!(corrupt.contains("corrupt saved plan at line"), "{corrupt}");
    for e in [old, corrupt] {
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
        assert!(e.contains("x\\n::error::pwned\\u{1b}[2J"), "{e}");
    }
}

#[test]
fn changes_since_names_what_moved() {
    // The policy mirrors redis:7.2; the organization lacks the tag when the plan is made.
    let mut want = desired();
    want.repositories.insert(
        "redis".into(),
        Repository {
            mirror: Some(crate::model::Mirror {
                from: "bitnami/redis".into(),
                tags: BTreeMap::from([("7.2".to_string(), None)]),
                platforms: None,
                signatures: false,
                verify: None,
            }),
            ..live().repositories["redis"].clone()
        },
    );
    let mut old = live();
    old.repositories
        .insert("old".into(), old.repositories["redis"].clone());
    let fp = |src: &[u8], lock: Option<&[u8]>, live: &OrgState| {
        Fingerprints::compute(src, &want, &SETTINGS, lock, live)
    };
    let before = fp(b"a", Some(b"lock"), &old);
    assert!(
        before.live_parts.contains_key("image acme/redis:7.2"),
        "{before:?}"
    );
    let same = fp(b"a", Some(b"lock"), &old);
    let (p, l) = (Path::new("vetted.toml"), Path::new("vetted.lock"));
    assert!(before.changes_since(&same, p, l).is_empty());

    let mut drifted = old.clone();
    drifted
        .teams
        .as_mut()
        .unwrap()
        .get_mut("devs")
        .unwrap()
        .members
        .insert(Username::new("mallory"));
    drifted.repositories.remove("old");
    // The tag appears: its own section moves, not its repository's.
    drifted.repositories.get_mut("redis").unwrap().tags = Some(BTreeMap::from([(
        "7.2".to_string(),
        crate::model::Image {
            digest: format!("sha256:{}", "1".repeat(64)),
            source: None,
        },
    )]));
    // A lock that appears after the plan, or whose bytes change, is a change too.
    let unlocked = fp(b"a", None, &old);
    assert_eq!(
        unlocked.changes_since(&before, p, l),
        vec!["vetted.lock was created".to_string()]
    );
    let relocked = fp(b"a", Some(b"lock2"), &old);
    assert_eq!(
        before.changes_since(&relocked, p, l),
        vec!["vetted.lock changed".to_string()]
    );
    assert!(unlocked.changes_since(&unlocked, p, l).is_empty());

    let now = fp(b"b", None, &drifted);
    let said = before.changes_since(&now, p, l);
    assert_eq!(
        said,
        vec![
            "the policy vetted.toml (or a file it references) changed".to_string(),
            "vetted.lock was removed".to_string(),
            "the live organization changed: image acme/redis:7.2, team devs, repository acme/old (gone)"
                .to_string(),
        ]
    );

    // A hand-pushed tag of a mirrored repository is a section of its own too, and the whole
    // live fingerprint covers every tag.
    let mut pushed = drifted.clone();
    pushed
        .repositories
        .get_mut("redis")
        .unwrap()
        .tags
        .as_mut()
        .unwrap()
        .insert(
            "hand".into(),
            crate::model::Image {
                digest: String::new(),
                source: None,
            },
        );
    let after = fp(b"b", None, &pushed);
    assert_ne!(after.live, now.live);
    assert_eq!(
        now.changes_since(&after, p, l),
        vec!["the live organization changed: image acme/redis:hand (new)".to_string()]
    );
}
