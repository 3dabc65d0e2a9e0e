//! Whole outputs a person reads, pinned as insta snapshots (tests/it/snapshots/): the plan of the
//! example policy against the sandbox as text at 100 and 160 columns and unconstrained, the
//! markdown pull-request comment, and what apply says on stderr. The environment is pinned
//! (NO_COLOR, TERM=dumb, COLUMNS set or removed: see [`crate::harness::vetted`]); sandbox ports and
//! the test's temporary directory are filtered out.
use std::path::Path;

use crate::harness::{Sandbox, stderr, stdout};

/// alice's fake credential in sandbox/demo-seed.toml.
const DEMO_TOKEN: &str = "sandbox-alice-token";

/// `text` with `.`, `+`, ... escaped for a regex.
fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// insta settings for a CLI output: loopback ports and `dir` filtered.
pub fn screen(dir: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&dir.display().to_string()), "[DIR]");
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    s
}

/// The sandbox with the demo organization and the example policy, locked.
fn demo() -> Sandbox {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seed = std::fs::read_to_string(root.join("sandbox/demo-seed.toml")).unwrap();
    let sb = Sandbox::start_with_registry(&seed, &[]);
    std::fs::copy(
        root.join("policy.example.toml"),
        sb.path().join("vetted.toml"),
    )
    .unwrap();
    let out = sb
        .vetted_as("alice", DEMO_TOKEN)
        .arg("lock")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    sb
}

fn plan(sb: &Sandbox, columns: Option<&str>, args: &[&str]) -> String {
    let mut cmd = sb.vetted_as("alice", DEMO_TOKEN);
    if let Some(c) = columns {
        cmd.env("COLUMNS", c);
    }
    let out = cmd.args(["plan", "--locked"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The longest line of the tables in `text`, in characters.
fn widest_table_line(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(['┌', '│', '├', '╞', '└']))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

#[test]
fn the_example_plan_fits_100_and_160_columns_and_is_unconstrained_in_a_file() {
    let sb = demo();
    let screen = screen(sb.path());
    for columns in ["100", "160"] {
        let text = plan(&sb, Some(columns), &[]);
        let width: usize = columns.parse().unwrap();
        assert!(widest_table_line(&text) <= width, "{text}");
        screen.bind(|| insta::assert_snapshot!(format!("plan_text_{columns}_columns"), text));
    }
    // Not a terminal and no COLUMNS (a file, a CI log): every row on one line, as before.
    let text = plan(&sb, None, &[]);
    assert!(widest_table_line(&text) > 160, "{text}");
    screen.bind(|| insta::assert_snapshot!("plan_text_unconstrained", text));

    let markdown = plan(&sb, Some("100"), &["--format", "markdown"]);
    screen.bind(|| insta::assert_snapshot!("plan_markdown", markdown));
}

#[test]
fn apply_of_a_same_registry_mirror_says_mounted_and_counts_nothing_moved() {
    let sb = demo();
    let out = sb
        .vetted_as("alice", DEMO_TOKEN)
        .args(["apply", "--locked", "--yes", "--copy-parallelism", "1"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // The community images and the organization share the sandbox registry: every blob mounts.
    let finished: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("copied ") || l.starts_with("mounted "))
        .collect();
    assert_eq!(finished.len(), 5, "{err}");
    for line in &finished {
        assert!(
            line.starts_with("mounted docker.io/acme/")
                && line.ends_with(" already in the registry, nothing transferred)"),
            "{line}\n{err}"
        );
    }
    let totals: Vec<&str> = err.lines().filter(|l| l.starts_with("Copied ")).collect();
    assert_eq!(totals.len(), 1, "{err}");
    assert!(
        totals[0].contains(" 0 blob(s) copied, ") && totals[0].contains("; 0 B in "),
        "{err}"
    );
}
