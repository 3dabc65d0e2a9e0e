//! The import graph of src/ (scripts/module-arrows.sh --check): no circle among the top-level
//! modules, and no arrow from src/plan/ to src/policy/ or src/hub/.

use std::path::PathBuf;
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
