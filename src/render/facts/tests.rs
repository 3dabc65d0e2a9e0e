use super::*;
use crate::plan::facts::PlatformFacts;

fn d(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn platform(key: &str, c: char, size: u64, layers: &[&str]) -> PlatformFacts {
    PlatformFacts {
        platform: key.into(),
        digest: d(c),
        size: Some(size),
        layers: Some(layers.iter().map(|l| l.to_string()).collect()),
    }
}

fn labels(
    source: &str,
    revision: &str,
    version: &str,
) -> std::collections::BTreeMap<String, String> {
    [
        ("org.opencontainers.image.source", source),
        ("org.opencontainers.image.revision", revision),
        ("org.opencontainers.image.version", version),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn moved() -> FactsDiff {
    FactsDiff {
        image: "redis:7.2".into(),
        source: "docker.io/bitnami/redis".into(),
        old: ImageFacts {
            digest: d('a'),
            platforms: vec![
                platform("linux/386", '1', 20_000_000, &["base", "x86"]),
                platform("linux/amd64", '2', 31_500_000, &["base", "app1"]),
            ],
            created: Some("2024-01-01T00:00:00Z".into()),
            labels: labels("https://github.com/bitnami/containers", "0a1b2c3", "7.2.4"),
            skipped: None,
        },
        new: ImageFacts {
            digest: d('b'),
            platforms: vec![
                platform("linux/amd64", '3', 32_000_000, &["base", "app2"]),
                platform("linux/arm64/v8", '4', 30_000_000, &["base-arm", "app2-arm"]),
            ],
            created: Some("2024-03-01T12:00:00Z".into()),
            labels: labels("https://github.com/bitnami/containers", "9f8e7d6", "7.2.5"),
            skipped: None,
        },
        signature: Signature::NotChecked,
    }
}

#[test]
fn a_moved_tag_in_markdown() {
    insta::assert_snapshot!(report_markdown(&[moved()]));
}

#[test]
fn a_moved_tag_in_text() {
    insta::assert_snapshot!(text(&[moved()]));
}

#[test]
fn figures_skipped_for_the_pull_budget_say_so() {
    let mut m = moved();
    let why = Skipped::PullBudget {
        remaining: 3,
        keep: 10,
    };
    for side in [&mut m.old, &mut m.new] {
        for p in &mut side.platforms {
            p.size = None;
            p.layers = None;
        }
        side.created = None;
        side.labels.clear();
        side.skipped = Some(why.clone());
    }
    let md = markdown(&[m.clone()]);
    assert!(
        md.contains("sizes, layers and config not read: pull budget (3 Docker Hub pull(s) remaining, 10 kept for the copies)"),
        "{md}"
    );
    assert!(!md.contains("layers:"), "{md}");
    insta::assert_snapshot!(md);
    let t = text(&[m]);
    assert!(
        t.contains("note:      sizes, layers and config not read: pull budget"),
        "{t}"
    );
}

#[test]
fn hostile_labels_are_escaped_and_only_https_sources_are_links() {
    let mut m = moved();
    m.new.labels = labels(
        "javascript:alert(1)",
        "`x`</td><script>alert(1)</script>\n# heading @admin",
        "7.2.5 | [click](https://evil.example)\u{202e}",
    );
    m.old.labels = labels("https://user:pw@github.com/x", "r", "v");
    m.new.created = Some("2024\n<!-- -->".into());
    m.signature = Signature::Refused {
        why: "no signature by keys/upstream.pub (found 0 signatures)".into(),
    };
    let md = markdown_one(&m);
    // Outside code spans (where markdown and HTML are literal text), no remote text.
    let outside: String = md.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    for bad in [
        "<script",
        "javascript",
        "# heading",
        "@admin",
        "user:pw",
        "<!--",
        "](https://evil",
    ] {
        assert!(!outside.contains(bad), "{bad:?} outside code spans in {md}");
    }
    assert!(
        !md.contains('\u{202e}') && !md.contains("](javascript"),
        "{md}"
    );
    // No remote text starts a line of its own: every line is a table row, a list item or a heading.
    for line in md.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with('|') || line.starts_with("- ") || line.starts_with("#### "),
            "{line:?}"
        );
    }
    insta::assert_snapshot!(md);
    let t = text_one(&m);
    assert!(!t.contains('\u{202e}') && t.lines().count() < 20, "{t}");
}

#[test]
fn a_long_value_is_cut() {
    let mut m = moved();
    m.new.labels = labels("https://example.com/x", "r", &"v".repeat(5_000));
    let md = markdown_one(&m);
    assert!(md.len() < 3_000, "{}", md.len());
    assert!(md.contains("…"));
}

#[test]
fn https_links_only() {
    assert_eq!(
        https_link("https://github.com/a/b(c)").as_deref(),
        Some("https://github.com/a/b%28c%29")
    );
    for bad in [
        "http://github.com/a",
        "https://u:p@github.com/a",
        "javascript:alert(1)",
        "https://github.com/a b",
        "git@github.com:a/b.git",
    ] {
        assert_eq!(https_link(bad), None, "{bad}");
    }
}
