//! The policy offline: `vetted validate` accepts the example policy and lists every error with its
//! position (an insta snapshot), and the files the policy names stay inside its directory.

use super::*;

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
