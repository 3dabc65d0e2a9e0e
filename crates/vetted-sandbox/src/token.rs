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
pub(crate) mod tests;
