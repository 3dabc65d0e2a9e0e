//! `[[mirror]]` entries: `from`, tags, platforms, and what each needs.

use super::*;

#[test]
fn mirror_from_rules() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis]\nmirror = {{ from = \"bitnami/redis:7.2\", tags = [\"7.2\"] }}\n")), @r#"
    error: invalid image reference `bitnami/redis:7.2` in `repositories.redis.mirror.from`
     --> policy.toml:3:19
      |
    3 | mirror = { from = "bitnami/redis:7.2", tags = ["7.2"] }
      |                   ^^^^^^^^^^^^^^^^^^^ `from` names a repository: list tags in `tags`, not after a `:`
      |
      = help: write the source repository, e.g. `nginx`, `bitnami/redis`, `ghcr.io/org/tool`

    error: policy `policy.toml` has 1 error
    "#);
    for from in [
        "nginx",
        "bitnami/redis",
        "ghcr.io/org/tool",
        "localhost:5000/x",
    ] {
        ok(&format!(
            "{HEAD}[repositories.x1]\nmirror = {{ from = \"{from}\", tags = [\"1\"] }}\n"
        ));
    }
}

#[test]
fn mirror_tag_rules() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = [\".bad\", \"7.2@sha256:abc\", \"7.4\", \"7.4\"]\n")), @r#"
    error: invalid tag `.bad` in `repositories.redis.mirror.tags`
     --> policy.toml:4:9
      |
    4 | tags = [".bad", "7.2@sha256:abc", "7.4", "7.4"]
      |         ^^^^^^ not a tag name
      |
      = help: tags match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; optionally pin one as "TAG@sha256:<64 hex>"

    error: invalid digest `sha256:abc` for tag `7.2` in `repositories.redis.mirror.tags`
     --> policy.toml:4:17
      |
    4 | tags = [".bad", "7.2@sha256:abc", "7.4", "7.4"]
      |                 ^^^^^^^^^^^^^^^^ not a sha256 digest
      |
      = help: pin as "TAG@sha256:<64 lowercase hex digits>"

    error: tag `7.4` is listed twice in `repositories.redis.mirror.tags`
     --> policy.toml:4:42
      |
    4 | tags = [".bad", "7.2@sha256:abc", "7.4", "7.4"]
      |                                          ^^^^^ duplicate tag

    error: policy `policy.toml` has 3 errors
    "#);
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = []\n")), @"
    error: `repositories.redis.mirror.tags` is empty
     --> policy.toml:4:8
      |
    4 | tags = []
      |        ^^ no tags
      |
      = help: list at least one tag

    error: policy `policy.toml` has 1 error
    ");
}

#[test]
fn mirror_platform_rules() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = [\"7\"]\nplatforms = [\"linux\", \"linux/amd64\", \"linux/amd64\"]\n")), @r#"
    error: invalid platform `linux` in `repositories.redis.mirror.platforms`
     --> policy.toml:5:14
      |
    5 | platforms = ["linux", "linux/amd64", "linux/amd64"]
      |              ^^^^^^^ not os/arch[/variant]
      |
      = help: write platforms like "linux/amd64" or "linux/arm64/v8"

    error: platform `linux/amd64` is listed twice in `repositories.redis.mirror.platforms`
     --> policy.toml:5:38
      |
    5 | platforms = ["linux", "linux/amd64", "linux/amd64"]
      |                                      ^^^^^^^^^^^^^ duplicate platform

    error: policy `policy.toml` has 2 errors
    "#);
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = [\"7\"]\nplatforms = []\n")), @r#"
    error: `repositories.redis.mirror.platforms` is empty
     --> policy.toml:5:13
      |
    5 | platforms = []
      |             ^^ no platforms
      |
      = help: list platforms like "linux/amd64", or remove the key to copy all

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn mirror_requires_from_and_tags() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nsignatures = true\n")), @r#"
    error: missing `from` in `repositories.redis.mirror`
     --> policy.toml:2:1
      |
    2 | [repositories.redis.mirror]
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^ this mirror has no source
      |
      = help: add `from = "<image>"`, e.g. `from = "bitnami/redis"`

    error: missing `tags` in `repositories.redis.mirror`
     --> policy.toml:2:1
      |
    2 | [repositories.redis.mirror]
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^ this mirror lists no tags
      |
      = help: add `tags = ["1.27"]`: a mirror copies exact tags only

    error: policy `policy.toml` has 2 errors
    "#);
}

#[test]
fn empty_mirror_points_at_mirror() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.api]\nmirror = {{}}\n")), @r#"
    error: missing `from` in `repositories.api.mirror`
     --> policy.toml:3:10
      |
    3 | mirror = {}
      |          ^^ this mirror has no source
      |
      = help: add `from = "<image>"`, e.g. `from = "bitnami/redis"`

    error: missing `tags` in `repositories.api.mirror`
     --> policy.toml:3:10
      |
    3 | mirror = {}
      |          ^^ this mirror lists no tags
      |
      = help: add `tags = ["1.27"]`: a mirror copies exact tags only

    error: policy `policy.toml` has 2 errors
    "#);
}
