//! The real `vetted` binary end to end: validate, plan, apply and re-plan against `vetted sandbox`,
//! every resource kind created, updated and deleted, the deletion guard, faults, exit codes, the JSON
//! plan, secrets, and vetted's request bodies checked against Docker's published Hub spec.

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

/// An org with only alice as owner, a legacy team and a public repository; bob..erin can be invited.
fn seed(extra: &str) -> String {
    format!(
        r#"
org = "acme"

[users.alice]
[users.bob]
[users.carol]
[users.dave]
[users.erin]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[[credentials]]
identifier = "bob"
secret = "bob-personal-access-token"
kind = "pat"

[members]
alice = "owner"
bob = "member"

[teams.legacy]
description = "Team from before the policy"
members = ["alice"]

[repositories.old-tool]
private = false
description = "A tool nobody maintains any more"
grants = {{ legacy = "read" }}

[image_access]
enabled = false
allow_official_images = true
allow_verified_publishers = true
{extra}
"#
    )
}

const POLICY: &str = r##"
org = "acme"

[image_access]
enabled = true
allow_official_images = true
allow_verified_publishers = false

[members]
owners = ["alice"]
editors = ["Bob"]

[teams.platform]
description = "Platform engineers"
members = ["alice", "bob"]

[teams.developers]
description = "Application developers"
members = ["bob", "carol"]

[repositories.redis]
description = "Vetted mirror of bitnami/redis"
teams = { developers = "read", platform = "write" }

[repositories.api]
private = false
description = "Our API"
full_description = "# api\n\nBuilt here."
teams = { developers = "write", platform = "admin" }
"##;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Runs `vetted plan --detailed-exitcode` and returns (exit code, stdout).
fn plan(sb: &Sandbox, policy: &str) -> (i32, String) {
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode", "--policy", policy])
        .output()
        .unwrap();
    assert!(
        code(&out) != 1,
        "plan failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    (code(&out), stdout(&out))
}

fn apply(sb: &Sandbox, policy: &str) -> std::process::Output {
    sb.vetted()
        .args(["apply", "--yes", "--policy", policy])
        .output()
        .unwrap()
}

fn apply_ok(sb: &Sandbox, policy: &str) -> String {
    let out = apply(sb, policy);
    assert_eq!(
        code(&out),
        0,
        "apply failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Applies, then checks that a re-plan shows no changes.
fn apply_converges(sb: &Sandbox, policy: &str) {
    apply_ok(sb, policy);
    let (c, out) = plan(sb, policy);
    assert_eq!(c, 0, "re-plan after apply is not clean:\n{out}");
}

fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_accepts_the_example_policy_offline() {
    // No credentials and an unreachable hub URL: validate never needs either.
    let out = vetted()
        .env("VETTED_HUB_URL", "http://127.0.0.1:9")
        .args(["validate", "--policy"])
        .arg(repo_root().join("policy.example.toml"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("valid"), "{}", stderr(&out));
}

#[test]
fn validate_lists_every_error_with_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        r#"org = "acme"

[members]
owners = ["alice"]
editors = ["Alice"]

[teams.dev]
membres = ["bob"]

[repositories.Bad_Name]
teams = { dev = "rwx", ops = "read" }
"#,
    )
    .unwrap();
    let out = vetted()
        .current_dir(dir.path())
        .args(["validate", "--policy", "broken.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).is_empty());
    // Every error, each with file:line:col, the offending line and what to do.
    crate::screens::screen(dir.path())
        .bind(|| insta::assert_snapshot!("validation_errors", stderr(&out)));
}

#[test]
fn plan_apply_replan_converges() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);

    let (c, out) = plan(&sb, "vetted.toml");
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("to add"), "{out}");
    // Prune is off: the legacy team and old-tool are drift, not deletions.
    assert!(out.contains("0 to destroy"), "{out}");
    assert!(out.contains("legacy"), "{out}");
    assert!(out.contains("old-tool"), "{out}");

    apply_converges(&sb, "vetted.toml");

    let state = sb.state();
    let s = state.to_string();
    assert!(s.contains("platform") && s.contains("developers"), "{s}");
    // carol was not in the org: she is invited (to the developers team), never re-invited.
    let invites = sb
        .requests()
        .iter()
        .filter(|r| r["path"] == "/v2/invites/bulk")
        .count();
    assert_eq!(invites, 1);
    apply_ok(&sb, "vetted.toml");
    let invites = sb
        .requests()
        .iter()
        .filter(|r| r["path"] == "/v2/invites/bulk")
        .count();
    assert_eq!(invites, 1, "a second apply re-invited");
}

#[test]
fn updates_and_prune_deletions_converge() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    apply_ok(&sb, "vetted.toml");

    // Change every kind: settings, a role, a team description and membership, privacy, description,
    // a permission, a removed grant; prune removes what the policy no longer lists.
    let changed = POLICY
        .replace(
            "allow_verified_publishers = false",
            "allow_verified_publishers = true",
        )
        .replace("editors = [\"Bob\"]", "editors = []")
        .replace("\"Platform engineers\"", "\"Platform team\"")
        .replace("members = [\"alice\", \"bob\"]", "members = [\"alice\"]")
        .replace("private = false", "private = true")
        .replace("\"Our API\"", "\"Our API service\"")
        .replace(
            "teams = { developers = \"write\", platform = \"admin\" }",
            "teams = { platform = \"read\" }",
        )
        + "\n[settings]\nprune = true\ndelete_threshold = 1.0\n";
    sb.write_policy("vetted.toml", &changed);
    let (c, out) = plan(&sb, "vetted.toml");
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("to change"), "{out}");
    assert!(!out.contains("0 to destroy"), "{out}");
    apply_converges(&sb, "vetted.toml");

    let state = sb.state().to_string();
    assert!(
        !state.contains("old-tool"),
        "pruned repository still there: {state}"
    );
    assert!(
        !state.contains("legacy"),
        "pruned team still there: {state}"
    );
    assert!(state.contains("Our API service"), "{state}");
}

#[test]
fn deletion_guard_refuses_before_changing_anything() {
    let extra: String = (1..=6)
        .map(|i| format!("\n[repositories.tool{i}]\nprivate = true\n"))
        .collect();
    let sb = Sandbox::start(&seed(&extra), &[]);
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[repositories.tool1]\n[settings]\nprune = true\n",
    );
    let before = sb.state();
    let out = apply(&sb, "vetted.toml");
    assert_eq!(code(&out), 1);
    // The plan is rendered before the refusal.
    assert!(stdout(&out).contains("to destroy"), "{}", stdout(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(sb.state(), before, "a refused plan changed something");

    let out = sb
        .vetted()
        .args(["apply", "--yes", "--force", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, _) = plan(&sb, "vetted.toml");
    assert_eq!(c, 0);
}

#[test]
fn apply_without_yes_off_a_terminal_changes_nothing() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let before = sb.state();
    let out = sb
        .vetted()
        .args(["apply", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(sb.state(), before);
}

#[test]
fn converges_through_injected_faults_and_never_prints_the_secret() {
    let sb = Sandbox::start(
        &seed(""),
        &[
            "--error-rate",
            "0.15",
            "--rate-limit-rate",
            "0.1",
            "--retry-after",
            "1",
            "--reset-rate",
            "0.05",
            "--fault-seed",
            "7",
        ],
    );
    sb.write_policy("vetted.toml", POLICY);
    let out = sb
        .vetted()
        .args([
            "apply",
            "--yes",
            "-v",
            "--policy",
            "vetted.toml",
            "--max-retries",
            "8",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(OWNER_TOKEN), "secret printed:\n{text}");
    }
    let statuses: Vec<u64> = sb
        .requests()
        .iter()
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert!(statuses.contains(&429), "no 429 was injected: {statuses:?}");
    assert!(statuses.iter().any(|s| *s >= 500), "no 5xx was injected");

    let out = sb
        .vetted()
        .args([
            "plan",
            "--detailed-exitcode",
            "--policy",
            "vetted.toml",
            "--max-retries",
            "8",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}

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
fn prune_removes_members_and_cancels_invites_but_never_the_identity() {
    let sb = Sandbox::start(
        &seed("\n[[invites]]\ninvitee = \"erin\"\nrole = \"member\"\n"),
        &[],
    );
    let policy = "org = \"acme\"\n[members]\nowners = [\"alice\"]\n[settings]\nprune = true\ndelete_threshold = 1.0\n";
    sb.write_policy("vetted.toml", policy);
    let (c, out) = plan(&sb, "vetted.toml");
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("member bob"), "{out}");
    assert!(out.contains("invite erin"), "{out}");
    assert!(out.contains("3 to destroy"), "{out}"); // bob, erin's invite, old-tool
    apply_converges(&sb, "vetted.toml");
    let state = sb.state().to_string();
    assert!(
        !state.contains("erin\",\"role"),
        "invite still pending: {state}"
    );

    // A policy without the identity running apply: the plan (the same whoever runs it) shows the
    // removal and says apply will refuse it; apply refuses it, changing nothing.
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[members]\nowners = [\"carol\"]\n[settings]\nprune = true\ndelete_threshold = 1.0\n",
    );
    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("- ┆ member alice"), "{text}");
    assert!(
        text.contains("member alice: apply refuses to remove the identity it runs as"),
        "{text}"
    );
    assert!(
        text.contains(
            "member alice: apply will refuse this plan: refusing to remove alice, the last owner"
        ),
        "{text}"
    );
    let before = sb.state();
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to remove alice, the identity running apply"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(sb.state()["members"], before["members"]);
    assert_eq!(sb.state()["invites"], before["invites"]);
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
fn files_named_by_the_policy_stay_inside_its_directory() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("outside.txt"), "OUTSIDE-SECRET-7d1e\n").unwrap();
    let dir = outer.path().join("repo");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(outer.path().join("outside.txt"), dir.join("link.md")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.md")).unwrap();
    std::fs::write(dir.join("long.md"), "x".repeat(100_001)).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("fifo.md"))
        .status()
        .unwrap();
    assert!(made.success());
    // The hub: a loopback listener nobody may connect to (the policy is refused before any request).
    let hub = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    hub.set_nonblocking(true).unwrap();
    let hub_url = format!("http://{}", hub.local_addr().unwrap());
    let secret = "dckr_pat_must-not-leak-0b9a";

    for (file, expected) in [
        (
            "/proc/self/environ",
            "`/proc/self/environ` is an absolute path; files named by the policy must be inside its repository",
        ),
        ("../outside.txt", "`../outside.txt` resolves to `"),
        ("link.md", "`link.md` resolves to `"),
        (
            "zero.md",
            "`zero.md` resolves to `/dev/zero`, outside the policy's directory",
        ),
        ("fifo.md", "`fifo.md` is a FIFO, not a regular file"),
        (
            "long.md",
            "`long.md` is more than 25000 characters long; Docker Hub allows at most 25000",
        ),
    ] {
        std::fs::write(
            dir.join("vetted.toml"),
            format!("org = \"acme\"\n\n[repositories.api]\nfull_description_file = {file:?}\n"),
        )
        .unwrap();
        for command in ["validate", "plan"] {
            let out = vetted()
                .current_dir(&dir)
                .env("VETTED_HUB_URL", &hub_url)
                .env("DOCKERHUB_USERNAME", "alice")
                .env("DOCKERHUB_TOKEN", secret)
                .args([command, "--policy", "vetted.toml"])
                .timeout(std::time::Duration::from_secs(60))
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(code(&out), 1, "{command} {file}: {err}");
            assert!(err.contains(expected), "{command} {file}: {err}");
            assert!(err.contains("vetted.toml:4:25"), "{command} {file}: {err}");
            assert!(err.contains("help: "), "{command} {file}: {err}");
            for leak in [secret, "OUTSIDE-SECRET"] {
                assert!(
                    !err.contains(leak) && !stdout(&out).contains(leak),
                    "{command} {file} leaked {leak}"
                );
            }
        }
    }
    assert!(
        matches!(hub.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "vetted contacted the hub although the policy is invalid"
    );
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
