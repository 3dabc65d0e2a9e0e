//! Name and reference syntax rules the policy enforces before any request (Docker Hub's and the OCI
//! distribution spec's), as plain predicates so validation and tests share one definition.

pub use crate::model::{docker_hub_repository, image_reference_error, is_registry_host};

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

/// Most entries `[image_access] allow_repositories` may list. Unconfirmed: Docker does not document
/// a limit; this bounds what one plan reads and writes.
pub const ALLOWLIST_MAX: usize = 1_000;

/// Most custom registries `[registry_access]` may list. Unconfirmed: Docker does not document a
/// limit.
pub const CUSTOM_REGISTRIES_MAX: usize = 100;

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
