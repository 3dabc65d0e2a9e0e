//! What vetted prints and sends: the versioned JSON plan, request bodies matching Docker's
//! published Hub spec, credential problems explained, colour following the flag and NO_COLOR, help
//! with examples and documented exit codes, and a closed stdout ending the plan quietly.

use super::*;

#[test]
fn json_plan_is_versioned_and_complete() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let out = sb
        .vetted()
        .args(["plan", "--format", "json", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(plan["format_version"], "1");
    assert_eq!(plan["org"], "acme");
    let changes = plan["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for c in changes {
        assert!(
            c["action"].is_string() && c["kind"].is_string() && c["address"].is_string(),
            "{c}"
        );
    }
    let add = plan["summary"]["add"].as_u64().unwrap();
    let creates = changes.iter().filter(|c| c["action"] == "create").count() as u64;
    assert_eq!(add, creates);
    assert!(plan["api_calls"].as_u64().unwrap() > 0);
}

#[test]
fn request_bodies_match_the_published_hub_spec() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    apply_ok(&sb, "vetted.toml");
    let mut checked = 0;
    for r in sb.requests() {
        let (Some(method), Some(path)) = (r["method"].as_str(), r["path"].as_str()) else {
            continue;
        };
        if !r["request_body"].is_null() {
            if let Err(e) = crate::openapi::validate_request(method, path, &r["request_body"]) {
                panic!("{method} {path}: {e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} request bodies were checked");
}

#[test]
fn credentials_problems_are_explained() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);

    let out = vetted()
        .env("VETTED_HUB_URL", &sb.url)
        .current_dir(sb.path())
        .args(["plan", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("DOCKERHUB_USERNAME"),
        "{}",
        stderr(&out)
    );

    let out = sb
        .vetted_as("alice", "wrong-secret")
        .args(["plan", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(!stderr(&out).contains("wrong-secret"));

    // A personal access token cannot manage teams: Docker Hub's 403 comes with a hint.
    let out = sb
        .vetted_as("bob", "bob-personal-access-token")
        .args(["plan", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("403"), "{err}");
    assert!(
        err.to_lowercase().contains("personal access token"),
        "{err}"
    );
    assert!(!err.contains("bob-personal-access-token"), "{err}");
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let run = |args: &[&str], no_color: bool| {
        let mut cmd = sb.vetted();
        if !no_color {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.args(args).output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        stdout(&out)
    };
    let always = run(
        &["plan", "--policy", "vetted.toml", "--color", "always"],
        true,
    );
    assert!(
        always.contains('\u{1b}'),
        "--color always printed no escape codes"
    );
    // NO_COLOR (set by the harness) and a pipe: auto means no colour.
    let auto = run(&["plan", "--policy", "vetted.toml"], true);
    assert!(!auto.contains('\u{1b}'), "{auto}");
    let never = run(
        &["plan", "--policy", "vetted.toml", "--color", "never"],
        false,
    );
    assert!(!never.contains('\u{1b}'), "{never}");
}

#[test]
fn help_shows_examples_and_exit_codes_are_documented() {
    let out = vetted().arg("--help").output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("Examples:"), "{}", stdout(&out));
    for sub in ["plan", "apply", "validate", "sandbox"] {
        let out = vetted().args([sub, "--help"]).output().unwrap();
        assert_eq!(code(&out), 0);
        assert!(
            stdout(&out).contains("Example"),
            "{sub} --help has no example"
        );
    }
    let out = vetted().args(["plan", "--bogus"]).output().unwrap();
    // Usage errors exit 1: 2 is reserved for "changes pending".
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--bogus"), "{}", stderr(&out));
}

#[test]
fn a_closed_stdout_ends_the_plan_quietly() {
    let sb = Sandbox::start(&seed(""), &[]);
    let policy = sb.write_policy("vetted.toml", POLICY);
    for format in ["json", "text", "markdown"] {
        // `vetted plan --format json | head -c1`: the reader is gone before vetted writes.
        let mut child = std::process::Command::new(crate::harness::bin())
            .env_clear()
            .env("VETTED_HUB_URL", &sb.url)
            .env("DOCKERHUB_USERNAME", "alice")
            .env("DOCKERHUB_TOKEN", OWNER_TOKEN)
            .env("DOCKER_CONFIG", "/nonexistent/vetted-tests-docker-config")
            .env("NO_COLOR", "1")
            .current_dir(sb.path())
            .args(["plan", "--format", format, "--policy"])
            .arg(&policy)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{format}: {err}");
        assert!(!err.contains("error"), "{format}: {err}");
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
    }
}
