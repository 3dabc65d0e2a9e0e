//! The pure name rules the diff shares with the policy's validation: digests shortened for people
//! ([`short_digest`]), cosign's attached tags ([`is_signature_tag`]), OCI image references
//! ([`image_reference_error`]) and Docker Hub repository names ([`docker_hub_repository`]).
//! Re-exported from [`crate::model`], where every caller names them.

/// `sha256:0123456789ab`: a digest shortened for people (12 hex digits).
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.chars().take(12).collect::<String>()),
        None => digest.to_string(),
    }
}

/// `sha256-<64 hex>.sig`, `.att` or `.sbom`: the tags cosign attaches to an image.
pub fn is_signature_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let Some((hex, suffix)) = rest.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(suffix, "sig" | "att" | "sbom")
}

// Image reference names: the syntax the policy validates and the diff reads (shared, pure).

/// An OCI path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
pub fn is_path_component(s: &str) -> bool {
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
pub fn is_registry_host(s: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_tags_are_recognised_exactly() {
        let hex = "0123456789abcdef".repeat(4);
        for ok in ["sig", "att", "sbom"] {
            assert!(is_signature_tag(&format!("sha256-{hex}.{ok}")));
        }
        assert!(!is_signature_tag(&format!("sha256-{hex}.txt")));
        assert!(!is_signature_tag(&format!("sha256-{}.sig", &hex[1..])));
        assert!(!is_signature_tag(&format!("sha256-{}x.sig", &hex[1..])));
        assert!(!is_signature_tag("latest"));
        assert!(!is_signature_tag(&format!("sha512-{hex}.sig")));
    }
}
