//! Docker image reference parsing and normalisation: `nginx` is `docker.io/library/nginx:latest`,
//! `bitnami/redis` is `docker.io/bitnami/redis`, `ghcr.io/o/t`, `localhost:5000/x`, tags and
//! `@sha256:` digests. Also maps the Docker Hub names to the API host `registry-1.docker.io`.
//!
//! The grammar and Docker's normalisation (a first component with `.` or `:` or `localhost` is a
//! registry, `docker.io` for none, `index.docker.io` is `docker.io`, `library/` for a one-component
//! Docker Hub name, `latest` when neither tag nor digest is given) are `oci-spec`'s
//! [`oci_spec::distribution::Reference`], a port of distribution/reference's regular expression.
//! Kept here, on top of it, where it falls short for input from a pull request (each pinned by a
//! test below, `where_oci_spec_falls_short`):
//! - digests: it accepts any `algo:<32+ hex>` including uppercase hex and sha512; vetted verifies
//!   bytes with sha256, so a reference digest is `sha256:` and 64 lowercase hex digits
//!   ([`validate_digest`]);
//! - tags: its `\w` is Unicode, so `nginx:ünï` passes; a tag here is ASCII
//!   `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
//! - `registry-1.docker.io/x` stays a registry of its own there; here it is Docker Hub;
//! - its errors say only "invalid reference format"; here the error names the input and the rule.
//!
//! Our own [`Reference`] type stays: it is ordered (sets and maps of references), its fields are
//! plain data the plan and the lock compare, and `oci-spec`'s carries a mirror-registry field
//! vetted has no use for.
use std::fmt;

/// The registry name Docker uses for Docker Hub in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves the Docker Hub registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Why a reference string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("empty image reference")]
    Empty,
    #[error("invalid image reference {input:?}: {reason}")]
    Invalid { input: String, reason: String },
}

/// A normalised reference: registry, repository path, optional tag, optional digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry as written by the user, normalised (`docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path (`library/nginx`).
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

fn invalid(input: &str, reason: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Checks a `sha256:<64 lowercase hex>` digest.
pub fn validate_digest(d: &str) -> Result<(), String> {
    let Some(hexpart) = d.strip_prefix("sha256:") else {
        return Err(format!("digest {d:?} must start with sha256:"));
    };
    if hexpart.len() != 64
        || !hexpart
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("digest {d:?} must have 64 lowercase hex digits"));
    }
    Ok(())
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// What an `oci-spec` parse error means, in the words of the rule broken.
fn reason(e: &oci_spec::distribution::ParseError) -> String {
    use oci_spec::distribution::ParseError as P;
    match e {
        P::NameTooLong => "repository name longer than 255 characters".to_string(),
        P::NameEmpty => "empty repository name".to_string(),
        P::ReferenceInvalidFormat | P::NameContainsUppercase => {
            "not [HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST]: path components are lowercase \
             [a-z0-9] separated by `.`, `_`, `__` or `-`, a port is digits, a tag is \
             [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
                .to_string()
        }
        other => other.to_string(),
    }
}

impl Reference {
    /// Parses and normalises a reference in Docker's syntax.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(input, "contains whitespace"));
        }
        // Stricter than the grammar: sha256 only, lowercase (the digest vetted verifies).
        if let Some((_, d)) = s.split_once('@') {
            validate_digest(d).map_err(|e| invalid(input, e))?;
        }
        let parsed = oci_spec::distribution::Reference::try_from(s)
            .map_err(|e| invalid(input, reason(&e)))?;
        if let Some(t) = parsed.tag()
            && !valid_tag(t)
        {
            return Err(invalid(input, format!("invalid tag {t:?}")));
        }
        // `index.docker.io` is normalised by oci-spec; the API host is Docker Hub too.
        let (registry, repository) = match parsed.registry() {
            DOCKER_HUB_API if !parsed.repository().contains('/') => (
                DOCKER_HUB.to_string(),
                format!("library/{}", parsed.repository()),
            ),
            DOCKER_HUB_API => (DOCKER_HUB.to_string(), parsed.repository().to_string()),
            r => (r.to_string(), parsed.repository().to_string()),
        };
        if repository.len() > 255 {
            return Err(invalid(input, "repository name longer than 255 characters"));
        }
        Ok(Reference {
            registry,
            repository,
            tag: parsed.tag().map(str::to_string),
            digest: parsed.digest().map(str::to_string),
        })
    }

    /// The host (and port) to send registry API requests to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to put after `/manifests/`: the digest when present, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository pointing at another digest (tag dropped).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            tag: None,
            ..self.clone()
        }
    }

    /// The same repository pointing at a tag (digest dropped).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn short_forms() {
        let r = p("nginx");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/nginx");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
        let r = p("bitnami/redis:7.2");
        assert_eq!(r.repository, "bitnami/redis");
        assert_eq!(r.tag.as_deref(), Some("7.2"));
        assert_eq!(p("index.docker.io/library/nginx:1"), p("nginx:1"));
        assert_eq!(p("docker.io/nginx"), p("nginx"));
    }

    #[test]
    fn other_registries_and_ports() {
        let r = p("ghcr.io/o/t");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("ghcr.io", "o/t")
        );
        assert_eq!(r.api_host(), "ghcr.io");
        let r = p("localhost:5000/x:v1");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "x");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = p("127.0.0.1:5000/a/b");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        let r = p("localhost/x");
        assert_eq!(r.registry, "localhost");
    }

    #[test]
    fn digests() {
        let r = p(&format!("nginx@{D}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.manifest_ref(), D);
        let r = p(&format!("redis:7.2@{D}"));
        assert_eq!(r.tag.as_deref(), Some("7.2"));
        assert_eq!(r.manifest_ref(), D);
        let r = p(&format!("127.0.0.1:5000/x:1@{D}"));
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/x:1@{D}"));
    }

    #[test]
    fn errors_are_values() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
        for bad in [
            "Nginx",
            "nginx:",
            "nginx@sha256:abc",
            "nginx@md5:0123",
            "a b",
            "localhost:x/y",
            "nginx:bad/tag",
            "/nginx",
            "nginx//x",
            "nginx:-x",
            &format!("nginx@{}", D.to_uppercase()),
        ] {
            let e = Reference::parse(bad);
            assert!(e.is_err(), "{bad} should fail");
        }
        let msg = Reference::parse("Nginx").unwrap_err().to_string();
        assert!(msg.contains("Nginx"), "{msg}");
    }

    #[test]
    fn api_host_aliases_are_docker_hub() {
        assert_eq!(p("registry-1.docker.io/nginx"), p("nginx"));
        assert_eq!(
            p("registry-1.docker.io/bitnami/redis:7"),
            p("bitnami/redis:7")
        );
        assert_eq!(p("index.docker.io/nginx"), p("nginx"));
        assert_eq!(p("docker.io/library/nginx"), p("nginx"));
    }

    #[test]
    fn errors_name_the_rule() {
        let msg = Reference::parse("Nginx").unwrap_err().to_string();
        assert!(msg.contains("path components are lowercase"), "{msg}");
        let msg = Reference::parse("nginx@sha256:abc")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("64 lowercase hex digits"), "{msg}");
        let msg = Reference::parse("nginx:ünï").unwrap_err().to_string();
        assert!(msg.contains("invalid tag"), "{msg}");
        let long = format!("x/{}", "a".repeat(260));
        let msg = Reference::parse(&long).unwrap_err().to_string();
        assert!(msg.contains("longer than 255"), "{msg}");
    }

    /// What `oci-spec`'s parser accepts and vetted refuses or reads otherwise: the reason this
    /// module checks digests and tags itself and maps the API host (see the module doc).
    #[test]
    fn where_oci_spec_falls_short() {
        use oci_spec::distribution::Reference as Spec;
        let upper = format!("nginx@{}", D.to_uppercase().replace("SHA256", "sha256"));
        let sha512 = format!("nginx@sha512:{}", "ab".repeat(64));
        for input in [upper.as_str(), sha512.as_str(), "nginx:ünï"] {
            assert!(
                Spec::try_from(input).is_ok(),
                "oci-spec now refuses {input}"
            );
            assert!(Reference::parse(input).is_err(), "{input} must be refused");
        }
        let spec = Spec::try_from("registry-1.docker.io/nginx").unwrap();
        assert_eq!(
            (spec.registry(), spec.repository()),
            ("registry-1.docker.io", "nginx")
        );
        let ours = p("registry-1.docker.io/nginx");
        assert_eq!(
            (ours.registry.as_str(), ours.repository.as_str()),
            ("docker.io", "library/nginx")
        );
    }
}
