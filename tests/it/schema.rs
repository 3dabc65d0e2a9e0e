//! `vetted schema` and schema/vetted.schema.json: the committed file is what the binary prints, and
//! the schema agrees with `vetted validate` on every policy in the repository's tests and docs: it
//! accepts each one the walker accepts and rejects each one the walker rejects for an unknown key.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{stdout, vetted};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const COMMITTED: &str = "schema/vetted.schema.json";

fn validator() -> jsonschema::Validator {
    let out = vetted().arg("schema").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let schema: Value = serde_json::from_str(&stdout(&out)).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

#[test]
fn the_committed_schema_is_what_vetted_schema_prints() {
    let out = vetted().arg("schema").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let committed = std::fs::read_to_string(repo_root().join(COMMITTED)).unwrap_or_default();
    assert!(
        committed == stdout(&out),
        "{COMMITTED} differs from `vetted schema`: regenerate it with `cargo run -- schema > {COMMITTED}` and commit it"
    );
}

#[test]
fn policies_start_with_the_schema_directive_and_it_finds_the_file() {
    let example = std::fs::read_to_string(repo_root().join("policy.example.toml")).unwrap();
    let first = example.lines().next().unwrap();
    assert_eq!(first, vetted::policy::schema::DIRECTIVE);
    let path = first.strip_prefix("#:schema ").unwrap();
    assert!(
        repo_root().join(path).is_file(),
        "{path} relative to policy.example.toml"
    );
    vetted::policy::parse(&repo_root().join("policy.example.toml"), &example).unwrap();
}

/// Raw strings (`r#"..."#`) in the test sources, and ```toml blocks in the docs.
fn corpus() -> Vec<(String, String)> {
    let root = repo_root();
    let mut out = vec![(
        "policy.example.toml".to_string(),
        std::fs::read_to_string(root.join("policy.example.toml")).unwrap(),
    )];
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("tests/it"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    // The policy's unit tests, one file per topic.
    sources.extend(
        std::fs::read_dir(root.join("src/policy/tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs")),
    );
    sources.sort();
    for file in &sources {
        let text = std::fs::read_to_string(file).unwrap();
        for hashes in ["#", "##"] {
            let open = format!("r{hashes}\"");
            let close = format!("\"{hashes}");
            let mut rest = text.as_str();
            while let Some(i) = rest.find(&open) {
                let after = &rest[i + open.len()..];
                let Some(j) = after.find(&close) else { break };
                out.push((rel(file), after[..j].to_string()));
                rest = &after[j + close.len()..];
            }
        }
    }
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.push(root.join("README.md"));
    docs.sort();
    for file in &docs {
        let text = std::fs::read_to_string(file).unwrap();
        for block in text.split("```toml\n").skip(1) {
            if let Some((body, _)) = block.split_once("```") {
                out.push((rel(file), body.to_string()));
            }
        }
    }
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `Some(true)` when the walker accepts the policy, `Some(false)` when it reports an unknown key,
/// `None` for other errors (which a schema need not catch) and for text that is not TOML.
fn walker(dir: &Path, source: &str) -> Option<bool> {
    match vetted::policy::parse(&dir.join("vetted.toml"), source) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().contains("unknown key") => Some(false),
        Err(_) => None,
    }
}

fn schema_errors(validator: &jsonschema::Validator, source: &str) -> Option<Vec<String>> {
    let json: Value = toml::from_str(source).ok()?;
    Some(
        validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect(),
    )
}

#[test]
fn the_schema_accepts_every_valid_policy_and_rejects_unknown_keys() {
    let validator = validator();
    let dir = tempfile::tempdir().unwrap();
    let (mut accepted, mut rejected) = (Vec::new(), Vec::new());
    for (origin, source) in corpus() {
        let Some(errors) = schema_errors(&validator, &source) else {
            continue;
        };
        match walker(dir.path(), &source) {
            Some(true) => {
                assert!(
                    errors.is_empty(),
                    "the schema rejects a policy vetted accepts ({origin}): {errors:?}\n{source}"
                );
                accepted.push(origin);
            }
            Some(false) => {
                assert!(
                    !errors.is_empty(),
                    "the schema accepts a policy with an unknown key ({origin}):\n{source}"
                );
                rejected.push(origin);
            }
            None => {}
        }
    }
    assert!(
        accepted.len() >= 6 && rejected.len() >= 3,
        "accepted: {accepted:?}, rejected: {rejected:?}"
    );
}

#[test]
fn an_unknown_key_in_any_table_of_the_example_is_rejected_by_both() {
    let validator = validator();
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(repo_root().join("policy.example.toml")).unwrap();
    let doc: toml_edit::DocumentMut = example.parse().unwrap();
    // Every table path of the example: the root, [image_access], [teams.platform], a mirror, ...
    let mut paths: Vec<Vec<String>> = vec![vec![]];
    let mut i = 0;
    while i < paths.len() {
        let path = paths[i].clone();
        let table = lookup(&doc, &path);
        for (key, item) in table.iter() {
            if item.is_table_like() {
                let mut p = path.clone();
                p.push(key.to_string());
                paths.push(p);
            }
        }
        i += 1;
        assert!(i < 1000);
    }
    assert!(paths.len() >= 12, "{paths:?}");
    let mut checked = 0;
    for path in &paths {
        // Name maps (teams, repositories, a repository's grants) take any valid name as a key.
        let last = path.last().map(String::as_str);
        if matches!(last, Some("teams" | "repositories")) {
            continue;
        }
        let mut doc = doc.clone();
        lookup_mut(&mut doc, path).insert("bogus_key", toml_edit::value(true));
        let source = doc.to_string();
        assert_eq!(walker(dir.path(), &source), Some(false), "{path:?}");
        let errors = schema_errors(&validator, &source).unwrap();
        assert!(
            !errors.is_empty(),
            "the schema accepts bogus_key in {path:?}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

fn lookup<'d>(doc: &'d toml_edit::DocumentMut, path: &[String]) -> &'d dyn toml_edit::TableLike {
    let mut t: &dyn toml_edit::TableLike = doc.as_table();
    for key in path {
        t = t.get(key).and_then(|i| i.as_table_like()).unwrap();
    }
    t
}

fn lookup_mut<'d>(
    doc: &'d mut toml_edit::DocumentMut,
    path: &[String],
) -> &'d mut dyn toml_edit::TableLike {
    let mut t: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for key in path {
        t = t.get_mut(key).and_then(|i| i.as_table_like_mut()).unwrap();
    }
    t
}
