//! The sandbox's registry token service, modelled on auth.docker.io: an ES256 key and a self-signed
//! certificate made at start (the certificate is written as PEM for the registry's
//! `rootcertbundle`), JWTs carrying an `x5c` header, and an axum router for `GET /token`. Who gets
//! which actions is decided by an [`Authorizer`] (the sandbox's org state implements it).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// Decides authentication and grants for the token service.
pub trait Authorizer: Send + Sync {
    /// Checks a user's secret; returns the subject the token is issued to.
    fn authenticate(&self, user: &str, secret: &str) -> Option<String>;
    /// The subset of `requested` actions granted to `subject` (`None` = anonymous) on `repository`.
    fn allowed(&self, subject: Option<&str>, repository: &str, requested: &[String])
    -> Vec<String>;
    /// For an organization access token, the scopes it holds (`None`: not a scoped token). The
    /// token service grants it no registry action its scopes do not map to ([`oat_actions`]).
    fn token_scopes(&self, _user: &str, _secret: &str) -> Option<BTreeSet<String>> {
        None
    }
}

/// The registry actions an organization access token's scopes allow (Docker's access-token
/// reference, hub-api.md): `scope-image-pull` -> pull, `scope-image-push` -> push and pull ("Includes
/// Image Pull"), `scope-image-delete` -> delete, push and pull ("Includes Image Push"). Other scopes
/// (teams, members, repository settings) allow no registry action: a read-only token gets pull and
/// nothing more.
pub fn oat_actions(scopes: &BTreeSet<String>) -> BTreeSet<&'static str> {
    scopes
        .iter()
        .flat_map(|s| match s.as_str() {
            "scope-image-pull" => &["pull"][..],
            "scope-image-push" => &["push", "pull"][..],
            "scope-image-delete" => &["delete", "push", "pull"][..],
            _ => &[][..],
        })
        .copied()
        .collect()
}

/// One `access` entry of a registry token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The claims of a registry token (CNCF distribution token auth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    pub access: Vec<Access>,
}

/// A signed token and its lifetime.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
    pub issued_at: SystemTime,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Signs registry tokens with an ES256 key whose self-signed certificate the registry trusts.
pub struct TokenIssuer {
    issuer: String,
    service: String,
    key: EncodingKey,
    x5c: String,
    cert_pem_path: PathBuf,
    public_key_pem: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("service", &self.service)
            .field("cert_pem_path", &self.cert_pem_path)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TokenIssuer {
    /// Makes a fresh ES256 key and self-signed certificate, writing the certificate to
    /// `dir/token-cert.pem` (the registry's `rootcertbundle`).
    pub fn new(dir: &Path, issuer: &str, service: &str) -> Result<Self> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("generating the token signing key")?;
        let params = rcgen::CertificateParams::new(vec![issuer.to_string()])
            .context("building the token certificate parameters")?;
        let cert = params
            .self_signed(&key_pair)
            .context("self-signing the token certificate")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cert_pem_path = dir.join("token-cert.pem");
        std::fs::write(&cert_pem_path, cert.pem())
            .with_context(|| format!("writing {}", cert_pem_path.display()))?;
        let key = EncodingKey::from_ec_der(&key_pair.serialize_der());
        Ok(Self {
            issuer: issuer.to_string(),
            service: service.to_string(),
            key,
            x5c: STANDARD.encode(cert.der()),
            cert_pem_path,
            public_key_pem: key_pair.public_key_pem(),
            ttl: Duration::from_secs(300),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// PEM certificate file to give the registry as `rootcertbundle`.
    pub fn cert_pem_path(&self) -> &Path {
        &self.cert_pem_path
    }

    /// PEM of the public key (for verifying tokens in tests and tools).
    pub fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// Signs a token for `subject` (empty for anonymous) with the given access entries.
    pub fn issue(&self, subject: Option<&str>, access: Vec<Access>) -> Result<IssuedToken> {
        let now = SystemTime::now();
        let secs = now
            .duration_since(UNIX_EPOCH)
            .context("system clock is before 1970")?
            .as_secs();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.unwrap_or_default().to_string(),
            aud: self.service.clone(),
            exp: secs + self.ttl.as_secs(),
            nbf: secs.saturating_sub(1),
            iat: secs,
            jti: hex::encode(rand::random::<[u8; 16]>()),
            access,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.x5c = Some(vec![self.x5c.clone()]);
        let token = jsonwebtoken::encode(&header, &claims, &self.key).context("signing a token")?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
            issued_at: now,
        })
    }
}

/// A parsed `scope` parameter: `repository:<name>:<actions,...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// Parses `type:name:actions`; the name may itself contain `:` (a registry host with a port).
pub fn parse_scope(scope: &str) -> Option<Scope> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    let actions = actions
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    Some(Scope {
        kind: kind.to_string(),
        name: name.to_string(),
        actions,
    })
}

#[derive(Clone)]
struct TokenState {
    issuer: Arc<TokenIssuer>,
    authz: Arc<dyn Authorizer>,
}

/// The token endpoint: `GET /token?service=..&scope=..&scope=..` with optional Basic auth.
pub fn router(issuer: Arc<TokenIssuer>, authz: Arc<dyn Authorizer>) -> axum::Router {
    axum::Router::new()
        .route("/token", get(token_handler))
        .with_state(TokenState { issuer, authz })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    let mut resp = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"vetted sandbox\""),
        );
    }
    resp
}

/// Extracts Basic credentials; `Ok(None)` when absent, `Err` when malformed.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, encoded) = value.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (user, secret) = decoded.split_once(':').ok_or(())?;
    Ok(Some((user.to_string(), secret.to_string())))
}

async fn token_handler(
    State(state): State<TokenState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut service = None;
    let mut scopes = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "service" => service = Some(v.into_owned()),
            "scope" => scopes.extend(v.split(' ').map(str::to_string)),
            _ => {}
        }
    }
    if let Some(service) = &service
        && service != state.issuer.service()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "unknown service",
        );
    }
    let mut scope_actions: Option<BTreeSet<&'static str>> = None;
    let subject = match basic_credentials(&headers) {
        Ok(None) => None,
        Ok(Some((user, secret))) => match state.authz.authenticate(&user, &secret) {
            Some(subject) => {
                scope_actions = state
                    .authz
                    .token_scopes(&user, &secret)
                    .map(|s| oat_actions(&s));
                Some(subject)
            }
            None => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "incorrect username or password",
                );
            }
        },
        Err(()) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "malformed Authorization header",
            );
        }
    };
    let mut requested: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for scope in scopes.iter().filter(|s| !s.is_empty()) {
        let Some(parsed) = parse_scope(scope) else {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "malformed scope",
            );
        };
        // Only repository scopes are granted; others (registry:catalog:*) get nothing.
        if parsed.kind == "repository" {
            requested
                .entry(parsed.name)
                .or_default()
                .extend(parsed.actions);
        }
    }
    let mut access = Vec::new();
    for (name, actions) in requested {
        let actions: Vec<String> = actions.into_iter().collect();
        let granted: BTreeSet<String> = state
            .authz
            .allowed(subject.as_deref(), &name, &actions)
            .into_iter()
            .filter(|a| actions.contains(a))
            .filter(|a| {
                scope_actions
                    .as_ref()
                    .is_none_or(|s| s.contains(a.as_str()))
            })
            .collect();
        access.push(Access {
            kind: "repository".to_string(),
            name,
            actions: granted.into_iter().collect(),
        });
    }
    match state.issuer.issue(subject.as_deref(), access) {
        Ok(issued) => {
            let issued_at = rfc3339(issued.issued_at);
            Json(serde_json::json!({
                "token": issued.token,
                "access_token": issued.token,
                "expires_in": issued.expires_in,
                "issued_at": issued_at,
            }))
            .into_response()
        }
        Err(e) => {
            tracing::warn!("token signing failed: {e:#}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "token signing failed",
            )
        }
    }
}

/// RFC 3339 UTC timestamp (seconds precision) without a date-time crate.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests {
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
}
