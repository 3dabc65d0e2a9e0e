//! Error messages a newcomer can act on: each names what failed, where, and what to check.

use std::time::Duration;

use crate::harness::{stderr, vetted};

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_hub_names_its_url_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vetted.toml"), "org = \"acme\"\n").unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = vetted()
        .current_dir(dir.path())
        .env("VETTED_HUB_URL", &url)
        .env("DOCKERHUB_USERNAME", "alice")
        .env("DOCKERHUB_TOKEN", "not-a-real-secret-123")
        .arg("plan")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("could not connect to {url}")),
        "{err}"
    );
    assert!(
        err.contains("--hub-url") && err.contains("VETTED_HUB_URL"),
        "{err}"
    );
    assert!(!err.contains("not-a-real-secret-123"), "{err}");
}

#[test]
fn an_unreachable_registry_fails_fast_naming_its_url_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vetted.toml"),
        "org = \"acme\"\n[repositories.redis]\nmirror = { from = \"docker.io/bitnami/redis\", tags = [\"7.2\"] }\n",
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = vetted()
        .current_dir(dir.path())
        .env("VETTED_DOCKER_IO_REGISTRY", &url)
        .arg("lock")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("could not connect to {url}")),
        "{err}"
    );
    assert!(err.contains("connection refused"), "{err}");
    assert!(
        err.contains("--docker-io-registry") && err.contains("VETTED_DOCKER_IO_REGISTRY"),
        "{err}"
    );
    // Refused connections are retried once, not five times with backoff.
    assert!(err.contains("2 attempt(s)"), "{err}");
}

const SEED: &str = r#"
org = "acme"
[users.alice]
[users.bob]
[users.carol]
[[credentials]]
identifier = "alice"
secret = "sandbox-alice-password"
kind = "password"
[[credentials]]
identifier = "bob"
secret = "sandbox-bob-password"
kind = "password"
[[credentials]]
identifier = "carol"
secret = "sandbox-carol-password"
kind = "password"
[members]
alice = "owner"
bob = "editor"
"#;

fn plan_as(sb: &crate::harness::Sandbox, user: &str, secret: &str, policy: &str) -> String {
    let path = sb.write_policy("vetted.toml", policy);
    let out = sb
        .vetted_as(user, secret)
        .arg("plan")
        .arg("--policy")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    stderr(&out)
}

#[test]
fn a_wrong_org_name_says_no_such_organization_and_where_org_is_set() {
    let sb = crate::harness::Sandbox::start(SEED, &[]);
    let err = plan_as(
        &sb,
        "alice",
        "sandbox-alice-password",
        "org = \"acmee\"\n[image_access]\nenabled = false\nallow_official_images = true\nallow_verified_publishers = true\n",
    );
    crate::screens::screen(sb.path()).bind(|| insta::assert_snapshot!("no_such_org", err));
}

#[test]
fn a_403_says_which_role_is_needed_and_blames_no_token_kind_for_a_password() {
    let sb = crate::harness::Sandbox::start(SEED, &[]);
    let settings = "org = \"acme\"\n[image_access]\nenabled = false\nallow_official_images = true\nallow_verified_publishers = true\n";
    // A non-member with a password reading Image Access Management.
    let err = plan_as(&sb, "carol", "sandbox-carol-password", settings);
    assert!(!err.contains("organization access token"), "{err}");
    crate::screens::screen(sb.path()).bind(|| insta::assert_snapshot!("hub_403", err));
}

#[test]
fn an_editor_managing_members_is_told_the_owner_role_is_needed() {
    let sb = crate::harness::Sandbox::start(SEED, &[]);
    // bob, an editor, may read members, but reading invites (which managing members needs) is for
    // owners.
    let err = plan_as(
        &sb,
        "bob",
        "sandbox-bob-password",
        "org = \"acme\"\n[members]\nowners = [\"alice\"]\neditors = [\"bob\"]\n",
    );
    assert!(err.contains("403"), "{err}");
    assert!(
        err.contains(
            "reading invites needs the owner role in acme: bob is not a member, or has a lower role"
        ),
        "{err}"
    );
    assert!(!err.contains("organization access token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_upstream_tag_is_named_as_such() {
    let reg = crate::support::registry_proc::RegistryProc::start().await;
    reg.push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let host = reg.host();
    std::fs::write(
        dir.path().join("vetted.toml"),
        format!(
            "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"9.9\"] }}\n"
        ),
    )
    .unwrap();
    let out = vetted()
        .current_dir(dir.path())
        .arg("lock")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    crate::screens::screen(dir.path()).bind(|| insta::assert_snapshot!("missing_tag", err));
}

#[test]
fn a_registry_401_names_the_registry_the_credential_source_and_what_to_do() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let seed = std::fs::read_to_string(root.join("sandbox/demo-seed.toml")).unwrap();
    let sb = crate::harness::Sandbox::start_with_registry(&seed, &[]);
    std::fs::write(
        sb.path().join("vetted.toml"),
        "org = \"acme\"\n[repositories.yy]\nmirror = { from = \"docker.io/acme/hidden\", tags = [\"1\"] }\n",
    )
    .unwrap();
    let out = vetted()
        .current_dir(sb.path())
        .env("VETTED_DOCKER_IO_REGISTRY", sb.registry.as_deref().unwrap())
        .env("VETTED_REGISTRY_USERNAME", "alice")
        .env("VETTED_REGISTRY_PASSWORD", "wrong-password-for-alice")
        .arg("lock")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(!err.contains("wrong-password-for-alice"), "{err}");
    assert!(
        err.contains(
            "docker.io refused credentials from VETTED_REGISTRY_USERNAME/VETTED_REGISTRY_PASSWORD"
        ),
        "{err}"
    );
    assert!(err.contains("pull access to acme/hidden"), "{err}");
}

#[test]
fn verbose_prints_each_retry_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vetted.toml"), "org = \"acme\"\n").unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = vetted()
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("VETTED_HUB_URL", &url)
        .env("DOCKERHUB_USERNAME", "alice")
        .env("DOCKERHUB_TOKEN", "not-a-real-secret-123")
        .args(["-v", "plan"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("retrying Docker Hub request") && err.contains("/v2/auth/token"),
        "{err}"
    );
    assert!(!err.contains("not-a-real-secret-123"), "{err}");
}

#[test]
fn export_of_a_wrong_org_points_at_the_org_flag() {
    let sb = crate::harness::Sandbox::start(SEED, &[]);
    let out = sb
        .vetted_as("alice", "sandbox-alice-password")
        .args(["export", "--org", "acmee"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no organization acmee on ") && err.contains("check --org"),
        "{err}"
    );
}
