//! Unit tests of the realm rule, challenge parsing and scope merging.
use super::*;

#[test]
fn token_realm_rule() {
    let u = |s: &str| url::Url::parse(s).unwrap();
    let trusted: BTreeSet<String> = ["https://gitlab.com".to_string()].into();
    let decide = |registry: &str, base: &str, realm: &str| {
        realm_use(registry, &u(base), &u(realm), Some(&trusted))
    };
    // The registry's own origin, and Docker Hub's documented realm for docker.io.
    assert_eq!(
        decide("ghcr.io", "https://ghcr.io", "https://ghcr.io/token"),
        RealmUse::Credentials
    );
    assert_eq!(
        decide(
            "docker.io",
            "https://registry-1.docker.io",
            "https://auth.docker.io/token"
        ),
        RealmUse::Credentials
    );
    // auth.docker.io is Docker Hub's, not every registry's.
    assert_eq!(
        decide("ghcr.io", "https://ghcr.io", "https://auth.docker.io/token"),
        RealmUse::Anonymous
    );
    // Another host or another port: anonymous unless configured.
    assert_eq!(
        decide(
            "evil.example",
            "https://evil.example",
            "https://collect.example/t"
        ),
        RealmUse::Anonymous
    );
    assert_eq!(
        decide(
            "127.0.0.1:5000",
            "http://127.0.0.1:5000",
            "http://127.0.0.1:5001/t"
        ),
        RealmUse::Anonymous
    );
    assert_eq!(
        decide(
            "registry.gitlab.com",
            "https://registry.gitlab.com",
            "https://gitlab.com/jwt/auth"
        ),
        RealmUse::Credentials
    );
    // Same host, plain http: another origin.
    assert_eq!(
        decide("ghcr.io", "https://ghcr.io", "https://ghcr.io:8443/token"),
        RealmUse::Anonymous
    );
    // Plain http off loopback is never used, even when configured or on the registry's host.
    for (registry, base, realm) in [
        (
            "reg.internal",
            "http://reg.internal",
            "http://reg.internal/token",
        ),
        ("ghcr.io", "https://ghcr.io", "http://ghcr.io/token"),
        (
            "registry.gitlab.com",
            "https://registry.gitlab.com",
            "http://gitlab.com/jwt",
        ),
    ] {
        assert!(
            matches!(decide(registry, base, realm), RealmUse::Refused(m) if m.contains("plain http")),
            "{realm}"
        );
    }
    assert!(matches!(
        decide("ghcr.io", "https://ghcr.io", "ftp://ghcr.io/token"),
        RealmUse::Refused(_)
    ));
    // Loopback plain http on the registry's own origin (a local registry) is fine.
    assert_eq!(
        decide(
            "localhost:5000",
            "http://localhost:5000",
            "http://localhost:5000/auth"
        ),
        RealmUse::Credentials
    );
}

#[test]
fn challenges() {
    assert_eq!(
        parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#
        ),
        Some(Challenge::Bearer {
            realm: "https://auth.docker.io/token".into(),
            service: Some("registry.docker.io".into())
        })
    );
    assert_eq!(
        parse_challenge(r#"Basic realm="Registry Realm""#),
        Some(Challenge::Basic)
    );
    assert_eq!(parse_challenge("Negotiate abc"), None);
    assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
    assert_eq!(parse_challenge(r#"Bearer realm="unterminated"#), None);
}

#[test]
fn scopes_push_first_and_merged() {
    let s = normalise_scopes(&[
        Scope::pull("lib/src"),
        Scope::pull("org/dst"),
        Scope::push("org/dst"),
        Scope::pull("a/first"),
    ]);
    let p: Vec<String> = s.iter().map(Scope::param).collect();
    assert_eq!(
        p,
        [
            "repository:org/dst:pull,push",
            "repository:a/first:pull",
            "repository:lib/src:pull"
        ]
    );
}
