//! Tests of the token service: the test authorizer other modules' tests share ([`TestAuthz`]),
//! and the tokens issued, their scopes and their checks.

use super::*;
use jsonwebtoken::{DecodingKey, Validation};

/// Test authorizer: `alice:s3cret` owns `acme/*`; everyone may pull `bitnami/*` and `library/*`.
pub(crate) struct TestAuthz;

impl Authorizer for TestAuthz {
    fn authenticate(&self, user: &str, secret: &str) -> Option<String> {
        ((user == "alice" || user == "acme") && secret == "s3cret").then(|| user.to_string())
    }
    fn token_scopes(&self, user: &str, _secret: &str) -> Option<BTreeSet<String>> {
        (user == "acme").then(|| {
            [
                "scope-image-pull".to_string(),
                "scope-group-read".to_string(),
            ]
            .into()
        })
    }
    fn allowed(&self, subject: Option<&str>, repo: &str, requested: &[String]) -> Vec<String> {
        requested
            .iter()
            .filter(|a| match (subject, a.as_str()) {
                (Some("alice" | "acme"), _) => true,
                (_, "pull") => {
                    repo.starts_with("bitnami/")
                        || repo.starts_with("library/")
                        || repo.starts_with("grafana/")
                }
                _ => false,
            })
            .cloned()
            .collect()
    }
}

pub(crate) async fn serve(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{addr}"), handle)
}

fn decode(issuer: &TokenIssuer, token: &str) -> (jsonwebtoken::Header, Claims) {
    let key = DecodingKey::from_ec_pem(issuer.public_key_pem().as_bytes()).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[issuer.service()]);
    v.set_issuer(&[issuer.issuer()]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &v).unwrap();
    (data.header, data.claims)
}

#[test]
fn scopes_parse_with_ports_in_names() {
    let s = parse_scope("repository:127.0.0.1:5000/acme/app:pull,push").unwrap();
    assert_eq!(s.name, "127.0.0.1:5000/acme/app");
    assert_eq!(s.actions, vec!["pull", "push"]);
    assert!(parse_scope("repository").is_none());
    assert!(parse_scope("repository::pull").is_none());
}

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
    assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
}

#[tokio::test]
async fn token_has_claims_x5c_and_filtered_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Arc::new(TokenIssuer::new(dir.path(), "vetted-sandbox", "reg").unwrap());
    let pem = std::fs::read_to_string(issuer.cert_pem_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let (base, server) = serve(router(issuer.clone(), Arc::new(TestAuthz))).await;
    let client = reqwest::Client::new();

    let resp = client
        .get(format!(
            "{base}/token?service=reg&scope=repository:acme/app:pull,push&scope=repository:bitnami/redis:pull,push"
        ))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    let (header, claims) = decode(&issuer, body["token"].as_str().unwrap());
    assert_eq!(header.alg, Algorithm::ES256);
    let x5c = header.x5c.unwrap();
    assert_eq!(x5c.len(), 1);
    let der = STANDARD.decode(&x5c[0]).unwrap();
    let pem_der = STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    assert_eq!(der, pem_der);
    assert_eq!(claims.iss, "vetted-sandbox");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.aud, "reg");
    assert!(claims.nbf <= claims.iat && claims.iat < claims.exp);
    assert_eq!(claims.jti.len(), 32);
    assert_eq!(claims.access.len(), 2);
    assert_eq!(claims.access[0].name, "acme/app");
    assert_eq!(claims.access[0].actions, vec!["pull", "push"]);

    // Anonymous: only what allowed(None, ..) returns.
    let resp = client
        .get(format!(
            "{base}/token?service=reg&scope=repository:acme/app:pull,push&scope=repository:bitnami/redis:pull,push"
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    let (_, claims) = decode(&issuer, body["token"].as_str().unwrap());
    assert_eq!(claims.sub, "");
    assert_eq!(claims.access[0].name, "acme/app");
    assert!(claims.access[0].actions.is_empty());
    assert_eq!(claims.access[1].name, "bitnami/redis");
    assert_eq!(claims.access[1].actions, vec!["pull"]);

    // Bad credentials, malformed header, wrong service, malformed scope.
    let resp = client
        .get(format!("{base}/token?service=reg"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(!resp.text().await.unwrap().contains("wrong"));
    let resp = client
        .get(format!("{base}/token"))
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(format!("{base}/token?service=other"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client
        .get(format!("{base}/token?scope=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    server.abort();
}

#[tokio::test]
async fn an_organization_access_token_gets_only_what_its_scopes_allow() {
    let scopes = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        oat_actions(&scopes(&["scope-image-pull", "scope-group-read"])),
        ["pull"].into()
    );
    assert_eq!(
        oat_actions(&scopes(&[
            "scope-image-push",
            "scope-image-pull",
            "scope-image-delete"
        ])),
        ["delete", "pull", "push"].into()
    );
    assert_eq!(
        oat_actions(&scopes(&["scope-image-push"])),
        ["pull", "push"].into(),
        "push includes pull"
    );
    assert_eq!(
        oat_actions(&scopes(&["scope-image-delete"])),
        ["delete", "pull", "push"].into(),
        "delete includes push"
    );
    assert!(oat_actions(&scopes(&["scope-repository-admin"])).is_empty());

    // A read-only token whose organization role would allow push gets pull only.
    let dir = tempfile::tempdir().unwrap();
    let issuer = Arc::new(TokenIssuer::new(dir.path(), "vetted-sandbox", "reg").unwrap());
    let (base, server) = serve(router(issuer.clone(), Arc::new(TestAuthz))).await;
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{base}/token?service=reg&scope=repository:acme/app:pull,push,delete"
        ))
        .basic_auth("acme", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, claims) = decode(&issuer, body["token"].as_str().unwrap());
    assert_eq!(claims.access.len(), 1);
    assert_eq!(claims.access[0].actions, ["pull"]);
    server.abort();
}
