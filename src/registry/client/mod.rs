//! The registry HTTP client: one [`RegistryClient`] with its configuration ([`ClientConfig`]) and
//! where its requests go (plain http for loopback and an explicit insecure list, https otherwise;
//! the endpoint overrides; manifest and blob URLs). Its jobs live in one file each:
//! - `send.rs`: sending with bounded retries, jittered backoff, deadlines and a retry budget;
//! - `auth.rs`: anonymous / Basic / Bearer authentication from the `WWW-Authenticate` challenge,
//!   token scopes, the token cache, and which token realms receive a registry's credentials;
//! - `manifests.rs`: manifest HEADs (a tag to its digest) and capped manifest reads;
//! - `redirect.rs`: which redirects are followed;
//! - `ratelimit.rs`: Docker Hub's pull-limit headers and `Retry-After`;
//! - `error.rs`: the error type and bounded reads of what a registry sends.
//!
//! Why not only `oci-client`: it asks for one scope per token, so Docker Hub refuses cross-repository
//! mounts (a mount needs ONE token holding pull on the source and pull,push on the target), and it has
//! no retries. This client requests one token with several scopes (the `scope` parameter repeated,
//! push scope first, since some registries read only the first) and retries 5xx, 429 (honouring
//! `Retry-After`) and connection errors.
//!
//! Everything a registry sends is treated as hostile: manifest, token and error bodies are read
//! with caps while streaming ([`MAX_MANIFEST_BYTES`], [`MAX_TOKEN_BYTES`], [`MAX_ERROR_BODY_BYTES`]),
//! every manifest, token and API request has an overall deadline
//! ([`ClientConfig::request_deadline`]) and its retries a total budget
//! ([`ClientConfig::retry_budget`]), and a registry's credentials go only to that registry and to
//! the token realms [`realm_use`] allows.
mod auth;
mod error;
mod manifests;
mod ratelimit;
mod redirect;
mod send;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;

use super::reference::{DOCKER_HUB, Reference};
use ratelimit::NO_RATELIMIT;
use redirect::{is_loopback_host, redirect_policy};

pub use auth::{
    Challenge, DOCKER_HUB_REALM, MAX_TOKEN_BYTES, RealmUse, Scope, normalise_scopes,
    parse_challenge, realm_use,
};
pub(crate) use error::{BodyError, error_chain, header_str, read_capped};
pub use error::{MAX_ERROR_BODY_BYTES, RegistryError};
pub use manifests::{MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, Resolved};
pub use ratelimit::{parse_ratelimit, parse_retry_after};
pub use redirect::{MAX_REDIRECTS, redirect_refusal};

/// A username and password (or access token) for one registry. Debug never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How the client behaves. Credentials are keyed by registry name as in references (`docker.io`).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Registry name -> its credentials; they go to that registry only (and the realms
    /// [`realm_use`] allows), never to another registry a policy names.
    pub credentials: BTreeMap<String, RegistryCredentials>,
    /// Registry name -> origins (`https://gitlab.com`) of token realms on another host that may
    /// receive its credentials, besides the registry's own origin (and auth.docker.io for
    /// docker.io).
    pub trusted_realms: BTreeMap<String, BTreeSet<String>>,
    /// Registries (host or host:port) reached over plain http besides loopback ones.
    pub insecure: Vec<String>,
    /// Registry name (as in references, e.g. `docker.io`) -> base URL (`http://127.0.0.1:5000`)
    /// to send its API requests to instead (the sandbox standing in for Docker Hub).
    pub endpoints: BTreeMap<String, url::Url>,
    /// Registry name -> where its credential came from ("credentials from Docker's config.json"),
    /// for messages; never the credential. Absent: anonymous.
    pub credential_sources: BTreeMap<String, String>,
    /// Longest wait between two reads of a response (what bounds a blob transfer, which may take
    /// long but must keep moving).
    pub request_timeout: Duration,
    /// Longest time one manifest, token or API request may take, body included (blob transfers,
    /// which may be large, are bounded by `request_timeout` between reads instead).
    pub request_deadline: Duration,
    /// Longest time one request may take with all its retries: no retry starts past it.
    pub retry_budget: Duration,
    pub connect_timeout: Duration,
    /// Attempts per request, including the first (at least 1).
    pub max_attempts: u32,
    pub base_backoff: Duration,
    /// Upper bound of one wait, including a server's Retry-After.
    pub max_backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            credentials: BTreeMap::new(),
            trusted_realms: BTreeMap::new(),
            insecure: Vec::new(),
            endpoints: BTreeMap::new(),
            credential_sources: BTreeMap::new(),
            request_timeout: Duration::from_secs(600),
            request_deadline: Duration::from_secs(60),
            retry_budget: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(15),
            max_attempts: 6,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Held while one request asks for a token (see `RegistryClient::token_flights`).
type Flight = Arc<tokio::sync::Mutex<()>>;

/// An authenticated, retrying registry client. Cheap to share by reference across tasks.
pub struct RegistryClient {
    http: reqwest::Client,
    config: ClientConfig,
    tokens: Mutex<HashMap<(String, String), auth::CachedToken>>,
    /// Host -> the Bearer challenge (`WWW-Authenticate`) it answered with, so a request for scopes
    /// with no token yet asks the realm first instead of spending a round trip on a 401.
    challenges: Mutex<HashMap<String, reqwest::header::HeaderValue>>,
    basic_hosts: Mutex<HashSet<String>>,
    /// (host, scopes) -> held while one request asks the realm for that token: concurrent
    /// requests needing the same token wait for it instead of each asking.
    token_flights: Mutex<HashMap<(String, String), Flight>>,
    /// Host -> held by the first request to it while it learns how the host authenticates (its
    /// answer, or its challenge and the token round); set once that is known, so requests that
    /// start together do not each spend a 401.
    first_contact: Mutex<HashMap<String, Arc<tokio::sync::Mutex<bool>>>>,
    /// Manifests read by digest, kept for the rest of the run (src/registry/client/manifests.rs).
    manifests: Mutex<manifests::ManifestCache>,
    ratelimit_remaining: AtomicU64,
    /// The registry that announced `ratelimit-remaining` (Docker Hub, or the sandbox's front).
    ratelimit_registry: std::sync::OnceLock<String>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    pub fn new(config: ClientConfig) -> Result<Self, RegistryError> {
        if config.max_attempts == 0 {
            return Err(RegistryError::Config(
                "max_attempts must be at least 1".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.request_timeout)
            .user_agent(concat!("vetted/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect_policy())
            .build()
            .map_err(|e| RegistryError::Config(e.to_string()))?;
        Ok(RegistryClient {
            http,
            config,
            tokens: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
            basic_hosts: Mutex::new(HashSet::new()),
            token_flights: Mutex::new(HashMap::new()),
            first_contact: Mutex::new(HashMap::new()),
            manifests: Mutex::default(),
            ratelimit_remaining: AtomicU64::new(NO_RATELIMIT),
            ratelimit_registry: std::sync::OnceLock::new(),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `http://host` for loopback and insecure registries, `https://host` otherwise.
    pub fn base_url(&self, reference: &Reference) -> String {
        if let Some(url) = self.config.endpoints.get(&reference.registry) {
            return url.as_str().trim_end_matches('/').to_string();
        }
        let host = reference.api_host();
        let plain = is_loopback_host(host)
            || self
                .config
                .insecure
                .iter()
                .any(|h| h == host || h == &reference.registry);
        format!("{}://{host}", if plain { "http" } else { "https" })
    }

    fn credentials_for(&self, reference: &Reference) -> Option<&RegistryCredentials> {
        let c = &self.config.credentials;
        c.get(&reference.registry).or_else(|| {
            if reference.registry == DOCKER_HUB {
                c.get("index.docker.io")
                    .or_else(|| c.get("https://index.docker.io/v1/"))
                    .or_else(|| c.get("registry-1.docker.io"))
            } else {
                None
            }
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .base_backoff
            .saturating_mul(1u32 << attempt.min(10));
        let capped = exp.min(self.config.max_backoff);
        let jitter = rand::rng().random_range(0.5..1.0);
        capped.mul_f64(jitter)
    }

    pub fn manifest_url(&self, reference: &Reference, tag_or_digest: &str) -> String {
        format!(
            "{}/v2/{}/manifests/{tag_or_digest}",
            self.base_url(reference),
            reference.repository
        )
    }

    /// `<base>/v2/<repo>/blobs/<digest>`.
    pub fn blob_url(&self, reference: &Reference, digest: &str) -> String {
        format!(
            "{}/v2/{}/blobs/{digest}",
            self.base_url(reference),
            reference.repository
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_redacts() {
        let c = RegistryCredentials {
            username: "alice".into(),
            password: "s3cret-pat".into(),
        };
        let d = format!("{c:?}");
        assert!(d.contains("alice") && !d.contains("s3cret"), "{d}");
        let mut cfg = ClientConfig::default();
        cfg.credentials.insert("docker.io".into(), c);
        let client = RegistryClient::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    #[test]
    fn schemes() {
        let c = RegistryClient::new(ClientConfig {
            insecure: vec!["reg.internal:5000".into()],
            ..ClientConfig::default()
        })
        .unwrap();
        let url = |s: &str| c.base_url(&Reference::parse(s).unwrap());
        assert_eq!(url("127.0.0.1:5000/x"), "http://127.0.0.1:5000");
        assert_eq!(url("localhost:5000/x"), "http://localhost:5000");
        assert_eq!(url("reg.internal:5000/x"), "http://reg.internal:5000");
        assert_eq!(url("ghcr.io/o/t"), "https://ghcr.io");
        assert_eq!(url("nginx"), "https://registry-1.docker.io");
        assert!(
            RegistryClient::new(ClientConfig {
                max_attempts: 0,
                ..ClientConfig::default()
            })
            .is_err()
        );
    }
}
