//! `vetted lock --upgrade --report FILE`: what changed upstream for every moved tag, read from real
//! registries (docker-registry, the sandbox's Docker Hub stand-in with its pull limit) and pinned by
//! snapshots; figures skipped to save pulls say so.
use std::path::Path;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, vetted};
use crate::support::registry_proc::RegistryProc;

fn lock(policy: &Path, args: &[&str]) -> std::process::Output {
    vetted()
        .arg("lock")
        .arg("--policy")
        .arg(policy)
        .args(args)
        .output()
        .unwrap()
}

fn bytes(fill: u8, n: usize) -> Vec<u8> {
    vec![fill; n]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_update_report_shows_what_changed_upstream() {
    let reg = RegistryProc::start().await;
    let labels = |revision: &str, version: &str| {
        serde_json::json!({
            "org.opencontainers.image.source": "https://github.com/example/app",
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.version": version,
            "maintainer": "not shown",
        })
    };
    let old = reg
        .push_described(
            "community/app",
            "1.0",
            &[
                ("linux/amd64", vec![bytes(1, 40_000), bytes(2, 10_000)]),
                ("linux/arm64/v8", vec![bytes(3, 40_000), bytes(4, 10_000)]),
            ],
            "2024-01-01T00:00:00Z",
            &labels("1111111", "1.0.0"),
        )
        .await;
    reg.push_described(
        "community/tool",
        "3",
        &[("linux/amd64", vec![bytes(9, 1_000)])],
        "2024-01-01T00:00:00Z",
        &serde_json::json!({}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let host = reg.host();
    let policy = dir.path().join("vetted.toml");
    std::fs::write(
        &policy,
        format!(
            "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\"] }}\n[repositories.tool]\nmirror = {{ from = \"{host}/community/tool\", tags = [\"3\"] }}\n"
        ),
    )
    .unwrap();
    let out = lock(&policy, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Upstream moves the tag: a new app layer on amd64, arm64 dropped for arm/v7, a new revision
    // and version (the version hostile: markdown, HTML, a mention, a line break).
    let new = reg
        .push_described(
            "community/app",
            "1.0",
            &[
                ("linux/amd64", vec![bytes(1, 40_000), bytes(5, 12_000)]),
                ("linux/arm/v7", vec![bytes(6, 38_000), bytes(7, 12_000)]),
            ],
            "2024-03-01T12:00:00Z",
            &labels("2222222", "1.0.1\n# <b>pwned</b> @admin"),
        )
        .await;
    assert_ne!(old, new);
    let report = dir.path().join("update.md");
    let out = lock(
        &policy,
        &["--upgrade", "--report", report.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(!md.contains("tool"), "unmoved tags are not listed: {md}");
    // The hostile version stays inside its code span (literal text) and on its table row.
    let outside: String = md.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    assert!(
        !outside.contains("<b>") && !outside.contains("@admin") && !md.contains("\n# "),
        "{md}"
    );
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "[registry]")]}, {
        insta::assert_snapshot!("update_report", md);
    });

    // Nothing moved since: the report is empty.
    let out = lock(
        &policy,
        &["--upgrade", "--report", report.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "");
}

fn seed(pull_limit: u64) -> String {
    format!(
        "org = \"acme\"\n[users.alice]\n[[credentials]]\nidentifier = \"alice\"\nsecret = \"{OWNER_TOKEN}\"\nkind = \"password\"\n[members]\nalice = \"owner\"\n[registry]\npull_limit = {pull_limit}\n"
    )
}

/// A lock that says redis:7.2 was bitnami/redis:7.4.1's digest: the sandbox's 7.2 "moved" from it.
fn moved_lock(sb: &Sandbox) -> std::path::PathBuf {
    let path = sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[repositories.redis]\nmirror = { from = \"bitnami/redis\", tags = [\"7.4.1\"] }\n",
    );
    let out = sb
        .vetted()
        .args(["lock", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = sb.dir.path().join("vetted.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, text.replace("tag = \"7.4.1\"", "tag = \"7.2\"")).unwrap();
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[repositories.redis]\nmirror = { from = \"bitnami/redis\", tags = [\"7.2\"] }\n",
    )
}

#[test]
fn figures_are_skipped_when_the_pull_budget_is_low_and_the_report_says_so() {
    let sb = Sandbox::start_with_registry(&seed(100), &[]);
    let policy = moved_lock(&sb);
    let report = sb.dir.path().join("update.md");
    // 100 pulls remain; the facts keep 100: no platform manifest is read.
    let out = sb
        .vetted()
        .args(["lock", "--upgrade", "--facts-keep-pulls", "100", "--policy"])
        .arg(&policy)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.contains("- sizes, layers and config not read: pull budget (100 Docker Hub pull(s) remaining, 100 kept for the copies)"),
        "{md}"
    );
    assert!(md.contains("`linux/amd64` | not read | not read"), "{md}");
    assert_eq!(sb.registry_counters()["pulls"]["spent"], 0);
    insta::assert_snapshot!("update_report_pull_budget", md);

    // With the default reserve the platform manifests are read: one pull each (2 per side).
    let policy = moved_lock(&sb);
    let out = sb
        .vetted()
        .args(["lock", "--upgrade", "--policy"])
        .arg(&policy)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(!md.contains("not read"), "{md}");
    assert!(
        md.contains("- layers: 4 shared, 4 changed (2 new, 2 gone)"),
        "{md}"
    );
    assert_eq!(sb.registry_counters()["pulls"]["spent"], 4);
    insta::assert_snapshot!("update_report_read", md);
}

/// `vetted plan --format markdown` (the plan comment) shows what changed upstream for every tag
/// the plan moves: the old side read from the organization's copy, the new from the source, with
/// the signature verdict (not checked here: the mirror has no `verify`). Unmoved and new tags are
/// not listed, and `show` of the saved plan leaves the section out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_comment_shows_what_changed_upstream_for_the_tags_it_moves() {
    let reg = RegistryProc::start().await;
    let labels = |revision: &str| {
        serde_json::json!({
            "org.opencontainers.image.source": "https://github.com/example/app",
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.version": "1.0",
        })
    };
    reg.push_described(
        "community/app",
        "1.0",
        &[("linux/amd64", vec![bytes(1, 40_000), bytes(2, 10_000)])],
        "2024-01-01T00:00:00Z",
        &labels("1111111"),
    )
    .await;
    let sb = Sandbox::start_with_registry(&seed(1000), &[]);
    let host = reg.host();
    let policy = sb.write_policy(
        "vetted.toml",
        &format!(
            "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\"] }}\n"
        ),
    );
    let run = |args: &[&str]| {
        let out = sb
            .vetted()
            .args(args)
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    // A first mirror creates the tag: nothing moved, no section.
    let md = run(&["plan", "--format", "markdown"]);
    assert!(!md.contains("What changed upstream"), "{md}");
    run(&["apply", "--yes"]);

    reg.push_described(
        "community/app",
        "1.0",
        &[
            ("linux/amd64", vec![bytes(1, 40_000), bytes(3, 12_000)]),
            ("linux/arm64/v8", vec![bytes(4, 30_000)]),
        ],
        "2024-03-01T12:00:00Z",
        &labels("2222222"),
    )
    .await;
    let md = run(&["plan", "--format", "markdown", "--out", "plan.json"]);
    let section = md
        .split_once("What changed upstream")
        .map(|(_, s)| format!("What changed upstream{s}"))
        .unwrap_or_else(|| panic!("no facts section in {md}"));
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "[registry]")]}, {
        insta::assert_snapshot!("plan_comment_upstream_facts", section);
    });
    let shown = sb
        .vetted()
        .args(["show", "plan.json", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(!String::from_utf8_lossy(&shown.stdout).contains("What changed upstream"));
}

/// The plan comment's facts never spend the Docker Hub pulls the apply of that plan needs: with
/// `--facts-keep-pulls 0` they still keep what apply's estimate (whose reads its copies reuse) will spend, say so,
/// and the apply after the plan has its pulls.
#[test]
fn the_plan_comment_facts_keep_the_pulls_apply_needs() {
    // 6 pulls: the first apply spends 2 (its estimate of two platforms, whose manifests its copies
    // then reuse), the plan 2 (its estimate), leaving 2, which the next apply needs.
    let sb = Sandbox::start_with_registry(&seed(6), &[]);
    let policy = moved_lock(&sb);
    let run = |args: &[&str]| {
        sb.vetted()
            .args(args)
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap()
    };
    let out = run(&["apply", "--yes", "--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["lock", "--upgrade"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[
        "plan",
        "--locked",
        "--format",
        "markdown",
        "--facts-keep-pulls",
        "0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("What changed upstream (1 tag(s))"), "{md}");
    assert!(
        md.contains("sizes, layers and config not read: pull budget (2 Docker Hub pull(s) remaining, 2 kept for the copies)"),
        "{md}"
    );
    assert_eq!(sb.registry_counters()["pulls"]["remaining"], 2);
    let out = run(&["apply", "--yes", "--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sb.registry_counters()["pulls"]["remaining"], 0);
}
