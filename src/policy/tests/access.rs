//! Image Access Management, Registry Access Management and the repository allowlist: what loads
//! and where each error points.

use super::*;

#[test]
fn image_access_requires_all_three() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[image_access]\nenabled = true\n")), @"
    error: missing `allow_official_images` in [image_access]
     --> policy.toml:2:1
      |
    2 | [image_access]
      | ^^^^^^^^^^^^^^ this section sets Image Access Management
      |
      = help: Docker Hub takes all three settings at once: set `allow_official_images` to true or false

    error: missing `allow_verified_publishers` in [image_access]
     --> policy.toml:2:1
      |
    2 | [image_access]
      | ^^^^^^^^^^^^^^ this section sets Image Access Management
      |
      = help: Docker Hub takes all three settings at once: set `allow_verified_publishers` to true or false

    error: policy `policy.toml` has 2 errors
    ");
}

#[test]
fn allowlist_normalises_and_needs_no_category_settings() {
    let p = ok(&format!(
        "{HEAD}[image_access]\nallow_repositories = [\"bitnami/redis\", \"nginx\", \"docker.io/grafana/loki\"]\n"
    ));
    assert_eq!(
        p.desired.image_access, None,
        "the categories stay unmanaged"
    );
    let list: Vec<&str> = p
        .desired
        .allowlist
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(list, ["bitnami/redis", "grafana/loki", "library/nginx"]);
    let none = ok(HEAD);
    assert_eq!(none.desired.allowlist, None);
}

#[test]
fn allowlist_errors_point_at_the_entry() {
    insta::assert_snapshot!(errors(&format!(
        "{HEAD}[image_access]\nallow_repositories = [\"nginx\", \"library/nginx\", \"ghcr.io/org/tool\", \"bitnami/redis:7\"]\n"
    )), @r#"
    error: `library/nginx` is listed twice in `image_access.allow_repositories` (as `nginx` too)
     --> policy.toml:3:32
      |
    3 | allow_repositories = ["nginx", "library/nginx", "ghcr.io/org/tool", "bitnami/redis:7"]
      |                                ^^^^^^^^^^^^^^^ duplicate: both mean docker.io/library/nginx
      |
      = help: keep one entry

    error: invalid repository `ghcr.io/org/tool` in `image_access.allow_repositories`
     --> policy.toml:3:49
      |
    3 | allow_repositories = ["nginx", "library/nginx", "ghcr.io/org/tool", "bitnami/redis:7"]
      |                                                 ^^^^^^^^^^^^^^^^^^ the allowlist covers Docker Hub repositories only
      |
      = help: write a Docker Hub repository: `bitnami/redis`, `nginx` or `docker.io/bitnami/redis`; other registries belong in [registry_access]

    error: invalid repository `bitnami/redis:7` in `image_access.allow_repositories`
     --> policy.toml:3:69
      |
    3 | allow_repositories = ["nginx", "library/nginx", "ghcr.io/org/tool", "bitnami/redis:7"]
      |                                                                     ^^^^^^^^^^^^^^^^^ name a repository, without a tag or digest
      |
      = help: write a Docker Hub repository: `bitnami/redis`, `nginx` or `docker.io/bitnami/redis`; other registries belong in [registry_access]

    error: policy `policy.toml` has 3 errors
    "#);
}

#[test]
fn registry_access_loads() {
    let p = ok(&format!(
        "{HEAD}[registry_access]\nenabled = true\nregistries = [\n  {{ address = \"quay.io\", name = \"Quay\", allowed = false }},\n  {{ address = \"ghcr.io\", name = \"GitHub\" }},\n]\n"
    ));
    let ra = p.desired.registry_access.expect("managed");
    assert!(ra.enabled && ra.docker_hub);
    let got: Vec<(&str, &str, bool)> = ra
        .custom
        .iter()
        .map(|c| (c.address.as_str(), c.friendly_name.as_str(), c.allowed))
        .collect();
    assert_eq!(
        got,
        [("ghcr.io", "GitHub", true), ("quay.io", "Quay", false)]
    );
}

#[test]
fn registry_access_errors_point_at_the_value() {
    insta::assert_snapshot!(errors(&format!(
        "{HEAD}[registry_access]\ndocker_hub = \"yes\"\nregistries = [{{ address = \"https://ghcr.io\" }}, {{ address = \"quay.io\" }}, {{ address = \"quay.io\" }}]\n"
    )), @r#"
    error: missing `enabled` in [registry_access]
     --> policy.toml:2:1
      |
    2 | [registry_access]
      | ^^^^^^^^^^^^^^^^^ this section sets Registry Access Management
      |
      = help: set `enabled = true` to limit members to the registries listed here, or `false` to allow every registry

    error: `registry_access.docker_hub` must be a boolean (true or false)
     --> policy.toml:3:14
      |
    3 | docker_hub = "yes"
      |              ^^^^^ found string

    error: invalid registry address `https://ghcr.io`
     --> policy.toml:4:27
      |
    4 | registries = [{ address = "https://ghcr.io" }, { address = "quay.io" }, { address = "quay.io" }]
      |                           ^^^^^^^^^^^^^^^^^ write the host name without a scheme (`ghcr.io`, not `https://ghcr.io`)

    error: registry `quay.io` is listed twice in `registry_access.registries`
     --> policy.toml:4:85
      |
    4 | registries = [{ address = "https://ghcr.io" }, { address = "quay.io" }, { address = "quay.io" }]
      |                                                                                     ^^^^^^^^^ duplicate
      |
      = help: keep one entry

    error: policy `policy.toml` has 4 errors
    "#);
}
