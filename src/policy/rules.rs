//! Name and reference syntax rules the policy enforces before any request (Docker Hub's and the OCI
//! distribution spec's), as plain predicates so validation and tests share one definition.

/// Organization (namespace) names: lowercase letters and digits, 2..=255 characters.
/// Unconfirmed: Docker Hub documents 4..=30 for new accounts; older namespaces can be shorter, so the
/// check stays permissive on length and strict on characters.
pub const ORG_LEN: std::ops::RangeInclusive<usize> = 2..=255;

/// Docker IDs: letters and digits (compared case-insensitively), 2..=30 characters.
/// Unconfirmed: Docker Hub's sign-up form asks for 4..=30; older accounts can be shorter.
pub const DOCKER_ID_LEN: std::ops::RangeInclusive<usize> = 2..=30;

/// Team names: a letter or digit, then letters, digits, `_` or `-`, 1..=30 characters in all.
/// Unconfirmed: Docker Hub does not document its team-name rule; this is the one place to change it.
pub const TEAM_NAME_RULE: (&str, std::ops::RangeInclusive<usize>) = (
    "a letter or digit, then letters, digits, `_` or `-`",
    1..=30,
);

/// Repository names: 2..=255 characters matching `^[a-z0-9]+(?:[._-][a-z0-9]+)*$` (Docker Hub).
pub const REPO_NAME_LEN: std::ops::RangeInclusive<usize> = 2..=255;

pub const DESCRIPTION_MAX: usize = 100;
pub const FULL_DESCRIPTION_MAX: usize = 25_000;

pub fn is_org_name(s: &str) -> bool {
    ORG_LEN.contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub fn is_docker_id(s: &str) -> bool {
    DOCKER_ID_LEN.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn is_team_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    TEAM_NAME_RULE.1.contains(&s.len())
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`, 2..=255 characters.
pub fn is_repo_name(s: &str) -> bool {
    REPO_NAME_LEN.contains(&s.len()) && is_separated(s, |b| matches!(b, b'.' | b'_' | b'-'))
}

/// Runs of `[a-z0-9]` separated by single separator bytes, no leading/trailing separator.
fn is_separated(s: &str, sep: impl Fn(u8) -> bool) -> bool {
    let mut prev_alnum = false;
    for b in s.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            prev_alnum = true;
        } else if sep(b) && prev_alnum {
            prev_alnum = false;
        } else {
            return false;
        }
    }
    prev_alnum
}

/// An OCI path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep_start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[sep_start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
}

/// A registry host: `localhost`, a dotted name, or either with `:port`.
fn is_registry_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|c| c.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        });
    port_ok && host_ok
}

/// Why `from` is not an image reference without tag or digest, or `None` when it is one.
/// Accepts `nginx`, `bitnami/redis`, `ghcr.io/org/tool`, `localhost:5000/x`.
pub fn image_reference_error(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        return Some("the image reference is empty");
    }
    if s.contains('@') {
        return Some("`from` names a repository: put the digest in `tags` (\"TAG@sha256:...\")");
    }
    let mut parts: Vec<&str> = s.split('/').collect();
    let first = parts[0];
    let has_host =
        parts.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_host {
        if !is_registry_host(first) {
            return Some("the registry host is not a valid host[:port]");
        }
        parts.remove(0);
    }
    if parts.iter().any(|p| p.contains(':')) {
        return Some("`from` names a repository: list tags in `tags`, not after a `:`");
    }
    if !parts.iter().all(|p| is_path_component(p)) {
        return Some(
            "path components must be lowercase letters and digits separated by `.`, `_`, `__` or `-`",
        );
    }
    if s.len() > 255 {
        return Some("the image reference is longer than 255 characters");
    }
    None
}

/// Most entries `[image_access] allow_repositories` may list. Unconfirmed: Docker does not document
/// a limit; this bounds what one plan reads and writes.
pub const ALLOWLIST_MAX: usize = 1_000;

/// Most custom registries `[registry_access]` may list. Unconfirmed: Docker does not document a
/// limit.
pub const CUSTOM_REGISTRIES_MAX: usize = 100;

/// The Docker Hub repository (`namespace/name`, `library/nginx` for `nginx`) a reference names, or
/// why it names none. Accepts `nginx`, `bitnami/redis`, `docker.io/bitnami/redis`,
/// `index.docker.io/...` and `registry-1.docker.io/...`; refuses other registries, tags and digests.
pub fn docker_hub_repository(s: &str) -> Result<String, &'static str> {
    if s.contains('@') || s.rsplit('/').next().is_some_and(|last| last.contains(':')) {
        return Err("name a repository, without a tag or digest");
    }
    if let Some(why) = image_reference_error(s) {
        return Err(why);
    }
    let mut parts: Vec<&str> = s.split('/').collect();
    let first = parts[0];
    if parts.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost") {
        if !matches!(
            first,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        ) {
            return Err("the allowlist covers Docker Hub repositories only");
        }
        parts.remove(0);
    }
    match parts.as_slice() {
        [name] => Ok(format!("library/{name}")),
        [ns, name] => Ok(format!("{ns}/{name}")),
        _ => Err("a Docker Hub repository is `namespace/name` (two path components at most)"),
    }
}

/// A Registry Access Management address: a host name or domain with an optional port and path
/// prefix (`ghcr.io`, `registry.example.com:5000`, `*.example.com` is not accepted), at most 255
/// characters.
pub fn registry_address_error(s: &str) -> Option<&'static str> {
    if s.is_empty() || s.len() > 255 {
        return Some("an address is 1 to 255 characters");
    }
    if s.contains("://") {
        return Some("write the host name without a scheme (`ghcr.io`, not `https://ghcr.io`)");
    }
    let (host, path) = s.split_once('/').unwrap_or((s, ""));
    if !is_registry_host(host) {
        return Some("not a host name or domain with an optional `:port`");
    }
    // A path prefix is a registry path: lowercase letters, digits and `._-` between slashes.
    let segment_ok = |seg: &str| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    };
    if !path.is_empty() && !path.trim_end_matches('/').split('/').all(segment_ok) {
        return Some(
            "a path after the host holds only lowercase letters, digits, `.`, `_` and `-` \
             between slashes",
        );
    }
    if s != s.to_ascii_lowercase() {
        return Some("write the address in lowercase");
    }
    None
}

/// Exact tag names: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(s: &str) -> bool {
    let mut b = s.bytes();
    (1..=128).contains(&s.len())
        && b.next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// `os/arch[/variant]`, each part lowercase letters, digits, `_`, `.` or `-`.
pub fn is_platform(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-')
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for ok in [
            "nginx",
            "bitnami/redis",
            "ghcr.io/org/tool",
            "localhost:5000/x",
            "library/nginx",
            "a__b/c-d",
        ] {
            assert_eq!(image_reference_error(ok), None, "{ok}");
        }
        for bad in [
            "",
            "nginx:1.27",
            "nginx@sha256:00",
            "Nginx",
            "ghcr.io/org/tool:v1",
            "a//b",
            "-x",
            "bad host:1/x",
        ] {
            assert!(image_reference_error(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn docker_hub_repositories() {
        assert_eq!(docker_hub_repository("nginx").unwrap(), "library/nginx");
        assert_eq!(
            docker_hub_repository("bitnami/redis").unwrap(),
            "bitnami/redis"
        );
        assert_eq!(
            docker_hub_repository("docker.io/bitnami/redis").unwrap(),
            "bitnami/redis"
        );
        assert_eq!(
            docker_hub_repository("index.docker.io/library/nginx").unwrap(),
            "library/nginx"
        );
        for bad in [
            "ghcr.io/org/tool",
            "bitnami/redis:7",
            "nginx@sha256:00",
            "a/b/c",
            "Bitnami/redis",
            "",
        ] {
            assert!(docker_hub_repository(bad).is_err(), "{bad}");
        }
        assert_eq!(registry_address_error("ghcr.io"), None);
        assert_eq!(registry_address_error("registry.example.com:5000"), None);
        assert_eq!(registry_address_error("ghcr.io/acme/"), None);
        for bad in [
            "",
            "https://ghcr.io",
            "GHCR.io",
            "bad host",
            "a..b",
            "evil.io/ (not allowed)",
            "evil.io//x",
            "evil.io/a\u{202e}b",
        ] {
            assert!(registry_address_error(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(
            is_repo_name("redis")
                && is_repo_name("a.b-c_d")
                && !is_repo_name("a")
                && !is_repo_name("a--b")
        );
        assert!(!is_repo_name("Redis") && !is_repo_name("-ab") && !is_repo_name("ab-"));
        assert!(is_tag("7.2") && is_tag("_x") && !is_tag(".x") && !is_tag(&"a".repeat(129)));
        assert!(
            is_platform("linux/arm64/v8") && !is_platform("linux") && !is_platform("linux//v8")
        );
        assert!(is_team_name("platform") && !is_team_name("-x") && !is_team_name("a b"));
        assert!(is_docker_id("Alice") && !is_docker_id("al ice") && !is_docker_id("a"));
        assert!(is_org_name("acme") && !is_org_name("Acme") && !is_org_name("a"));
        assert!(is_sha256_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_sha256_digest(&format!("sha256:{}", "A".repeat(64))));
    }
}
