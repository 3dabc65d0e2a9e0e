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
