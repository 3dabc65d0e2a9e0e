//! Tests of the policy file's schema types.

use super::*;
use serde_json::{Value, json};

fn accepts(text: Text, s: &str) -> bool {
    jsonschema::validator_for(&string(text))
        .unwrap()
        .is_valid(&json!(s))
}

/// The schema's patterns agree with the walker's predicates.
#[test]
fn patterns_match_the_rules() {
    let long = "a".repeat(31);
    let samples = [
        "acme",
        "a",
        "ab",
        "Acme",
        "al ice",
        "Alice",
        "a-b",
        "a_b",
        "-x",
        "_x",
        "x-",
        "a--b",
        "a.b",
        "7.2",
        ".x",
        "linux/amd64",
        "linux/arm64/v8",
        "linux",
        "linux//v8",
        "",
        &long,
    ];
    let team = |s: &str| rules::is_team_name(s);
    let tag = |s: &str| rules::is_tag(s);
    type Rule<'r> = &'r dyn Fn(&str) -> bool;
    let checks: [(Text, Rule<'_>); 6] = [
        (Text::OrgName, &rules::is_org_name),
        (Text::DockerId, &rules::is_docker_id),
        (Text::TeamName, &team),
        (Text::RepoName, &rules::is_repo_name),
        (Text::PinnedTag, &tag),
        (Text::Platform, &rules::is_platform),
    ];
    for (text, rule) in checks {
        for s in samples {
            assert_eq!(accepts(text, s), rule(s), "{s:?}");
        }
    }
    let digest = format!("7.2@sha256:{}", "a".repeat(64));
    assert!(accepts(Text::PinnedTag, &digest));
    assert!(!accepts(Text::PinnedTag, "7.2@sha256:00"));
    for ok in [
        "nginx",
        "bitnami/redis",
        "ghcr.io/org/tool",
        "localhost:5000/x",
    ] {
        assert!(accepts(Text::ImageReference, ok), "{ok}");
    }
    for bad in ["", "nginx:1.27", "nginx@sha256:00", "ghcr.io/org/tool:v1"] {
        assert!(!accepts(Text::ImageReference, bad), "{bad}");
    }
}

#[test]
fn deterministic_and_lists_every_section() {
    let text = json_schema();
    assert_eq!(text, json_schema());
    let schema: Value = serde_json::from_str(&text).unwrap();
    for key in names(TOP) {
        assert!(schema["properties"][key].is_object(), "{key}");
    }
}
