//! The import graph of src/ (scripts/module-arrows.sh --check): no circle among the top-level
//! modules, and no arrow from src/plan/ to src/policy/ or src/hub/. Also the size of the source
//! files: none under src/, crates/, benches/ or tests/ over 600 lines unless its module doc says
//! why.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_modules_import_each_other_without_a_circle() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/module-arrows.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} --check failed:\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The most lines a source file under src/, crates/, benches/ or tests/ holds unless its module
/// doc says why it is longer (DESIGN.md: "no source file over ~600 lines without a stated reason").
const MAX_LINES: usize = 600;

/// What a longer file's module doc carries, followed by its reason: `//! Long because: ...`.
const LONG_MARKER: &str = "//! Long because:";

/// Every `.rs` file under `dir`, as paths relative to `root` with `/` separators.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("a path under the walked root");
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

/// Whether the file's leading module doc (its first run of `//!` lines) states why it is long.
fn states_why_long(text: &str) -> bool {
    text.lines().take_while(|l| l.starts_with("//!")).any(|l| {
        l.strip_prefix(LONG_MARKER)
            .is_some_and(|why| !why.trim().is_empty())
    })
}

#[test]
fn no_source_file_is_over_600_lines_without_a_stated_reason() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates", "benches", "tests"] {
        rust_files(&root, &root.join(dir), &mut files);
    }
    files.sort();
    assert!(
        files.iter().any(|f| f == "src/main.rs"),
        "the walk found no src/main.rs under {}",
        root.display()
    );
    let mut over = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("reading {file}: {e}"));
        let lines = text.lines().count();
        if lines > MAX_LINES && !states_why_long(&text) {
            over.push(format!("  {file}: {lines} lines"));
        }
    }
    assert!(
        over.is_empty(),
        "source files over {MAX_LINES} lines without a reason:\n{}\nsplit each by job into \
         modules (a module doc saying what each owns), or state why it must stay long in its \
         first doc lines: `{LONG_MARKER} ...`",
        over.join("\n")
    );
}

#[test]
fn a_long_file_states_its_reason_in_its_first_doc_lines() {
    let why = "//! Owns X.\n//! Long because: one table per endpoint.\n\nfn f() {}\n";
    assert!(states_why_long(why));
    assert!(!states_why_long("//! Owns X.\n//! Long because:   \n"));
    assert!(!states_why_long(
        "//! Owns X.\n\n//! Long because: too late, after the doc.\n"
    ));
    assert!(!states_why_long("// Long because: not a module doc\n"));
}
