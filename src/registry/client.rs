//! The registry HTTP client: scheme choice (plain http for loopback and an explicit insecure list),
//! anonymous / Basic / Bearer authentication from the `WWW-Authenticate` challenge, a token cache per
//! scope set, bounded retries with jittered backoff, and Docker Hub pull-limit headers.
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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::reference::{DOCKER_HUB, Reference};

/// Manifest media types accepted when reading manifests.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

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

/// The largest manifest read (the OCI distribution spec's floor a registry must accept, 4 MiB);
/// a longer one, by `Content-Length` or while streaming, is refused without reading further.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// The largest token service response read (Docker Hub's are about 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 256 << 10;
/// How much of an error body is read (shown cut to 300 characters).
pub const MAX_ERROR_BODY_BYTES: usize = 16 << 10;

/// Docker Hub's token service: the documented realm of docker.io, which receives its credentials.
pub const DOCKER_HUB_REALM: &str = "https://auth.docker.io";

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

/// A registry request that failed. What the registry said is remote text: `Display` escapes it
/// ([`crate::render::untrusted`]), so it cannot start a line of its own or reach a terminal raw.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid client configuration: {0}")]
    Config(String),
    #[error("{method} {url}: {}", crate::render::untrusted(.message))]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {url}: HTTP {status}: {}", crate::render::untrusted(.body))]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("authentication with {host} failed: {}", crate::render::untrusted(.message))]
    Auth { host: String, message: String },
    #[error("registry protocol error: {}", crate::render::untrusted(.0))]
    Protocol(String),
}

impl RegistryError {
    /// The HTTP status when the registry answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A repository access scope for a token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub repository: String,
    pub push: bool,
}

impl Scope {
    pub fn pull(repository: &str) -> Self {
        Scope {
            repository: repository.to_string(),
            push: false,
        }
    }
    pub fn push(repository: &str) -> Self {
        Scope {
            repository: repository.to_string(),
            push: true,
        }
    }
    fn param(&self) -> String {
        let actions = if self.push { "pull,push" } else { "pull" };
        format!("repository:{}:{actions}", self.repository)
    }
}

/// Orders scopes push first, then by name, without duplicates (a push scope covers pull).
pub fn normalise_scopes(scopes: &[Scope]) -> Vec<Scope> {
    let mut by_repo: BTreeMap<&str, bool> = BTreeMap::new();
    for s in scopes {
        let e = by_repo.entry(&s.repository).or_insert(false);
        *e |= s.push;
    }
    let mut out: Vec<Scope> = by_repo
        .into_iter()
        .map(|(r, push)| Scope {
            repository: r.to_string(),
            push,
        })
        .collect();
    out.sort_by(|a, b| b.push.cmp(&a.push).then(a.repository.cmp(&b.repository)));
    out
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut s = rest.trim();
    // Bounded by the input length: every iteration consumes at least one character.
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_string());
        s = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
    })
}

pub use crate::transport::parse_retry_after;

/// Parses a Docker Hub pull-limit header value to its count: `ratelimit-remaining: 76;w=21600`
/// (the documented form: the count, then `;w=` and the window in seconds) and the bare `76` both
/// give 76; anything else (`x;w=1`, empty, negative) gives `None`. Also reads `ratelimit-limit`
/// (`100;w=21600`).
pub fn parse_ratelimit(v: &str) -> Option<u64> {
    let count = v.split(';').next()?.trim();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    count.parse().ok()
}

/// Whether a request would spend a pull of a budget already spent: a manifest GET (Docker Hub
/// counts those, not HEADs) to the registry that announced `ratelimit-remaining` (`announced_by`)
/// when it last said none remain. Such a request is not sent: it could only draw a 429.
fn spends_a_spent_pull(
    method: &Method,
    url: &str,
    announced_by: Option<&str>,
    registry: &str,
    remaining: Option<u64>,
) -> bool {
    method == Method::GET
        && url.contains("/manifests/")
        && announced_by == Some(registry)
        && remaining == Some(0)
}

/// Redirects a registry answer may chain (Docker Hub's blob GETs take one, to its CDN).
pub const MAX_REDIRECTS: usize = 5;

/// Which redirects the client follows: at most [`MAX_REDIRECTS`], to http(s) only, and never from
/// https down to plain http off loopback ([`redirect_refusal`]). `Authorization` (and cookies) are
/// dropped by reqwest whenever the next URL's scheme, host or port differs from the previous one:
/// a registry credential or token never reaches the CDN host Docker Hub redirects blob GETs to.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        match redirect_refusal(attempt.url(), attempt.previous()) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    })
}

/// Why a redirect to `next` after `previous` (the URLs requested so far, first to last) is not
/// followed, or `None` to follow it.
pub fn redirect_refusal(next: &url::Url, previous: &[url::Url]) -> Option<String> {
    let origin = next.origin().ascii_serialization();
    if previous.len() > MAX_REDIRECTS {
        return Some(format!(
            "more than {MAX_REDIRECTS} redirects (the last to {origin}); not followed"
        ));
    }
    // A registry off this machine never sends vetted to this machine's loopback services.
    if url_is_loopback(next) && !previous.first().is_some_and(url_is_loopback) {
        return Some(format!(
            "a redirect from a registry off this machine to loopback ({origin}); not followed"
        ));
    }
    match next.scheme() {
        "https" => None,
        "http" if url_is_loopback(next) => None,
        "http" if previous.iter().any(|p| p.scheme() == "https") => Some(format!(
            "a redirect from https to plain http on a non-loopback host ({origin}); not followed"
        )),
        "http" => None,
        other => Some(format!(
            "a redirect to the unsupported scheme {other:?}; not followed (http and https only)"
        )),
    }
}

fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

fn url_is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// What a registry's credentials may do at the token realm its `WWW-Authenticate` challenge names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmUse {
    /// The realm is the registry's own: ask for a token with the credentials.
    Credentials,
    /// The realm is on another origin nobody vouched for: ask for an anonymous token.
    Anonymous,
    /// No request at all (plain http off loopback, another scheme).
    Refused(String),
}

/// The rule for token realms (docs/credentials.md): a realm must be https, or plain
/// http on a loopback address; it receives the credentials of `registry` (reached at
/// `registry_base`) only when it is on the registry's own origin (scheme, host and port), is
/// Docker Hub's documented realm for docker.io, or its origin is listed in `trusted` (the
/// registry's [`ClientConfig::trusted_realms`]). Any other realm gets an anonymous request.
pub fn realm_use(
    registry: &str,
    registry_base: &url::Url,
    realm: &url::Url,
    trusted: Option<&BTreeSet<String>>,
) -> RealmUse {
    let origin = realm.origin().ascii_serialization();
    match realm.scheme() {
        "https" => {}
        "http" if url_is_loopback(realm) => {}
        "http" => {
            return RealmUse::Refused(format!(
                "token realm {origin} is plain http on a non-loopback host; vetted asks token \
                 services for tokens over https only"
            ));
        }
        other => {
            return RealmUse::Refused(format!(
                "token realm {origin} has unsupported scheme {other:?}"
            ));
        }
    }
    let own = realm.origin() == registry_base.origin();
    let hub = registry == DOCKER_HUB && origin == DOCKER_HUB_REALM;
    if own || hub || trusted.is_some_and(|t| t.contains(&origin)) {
        RealmUse::Credentials
    } else {
        RealmUse::Anonymous
    }
}

/// Why reading a capped body failed.
pub(crate) enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a response body of at most `cap` bytes; a longer one (by `Content-Length`, or while
/// streaming) is refused without reading further.
pub(crate) async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX))
    {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if out.len().saturating_add(chunk.len()) > cap {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// At most the first `cap` bytes of an error body, as text (an unreadable rest is dropped); an
/// HTML page (a CDN's or Cloudflare's 429 or 5xx) is given by its title only
/// ([`crate::transport::html_summary`]).
pub(crate) async fn error_body(mut resp: Response, cap: usize) -> String {
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    while out.len() < cap {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&out);
    let text =
        crate::transport::html_summary(&content_type, &text).unwrap_or_else(|| text.into_owned());
    // A registry that echoes the request must not show a token in our output.
    crate::transport::redact_bearer(&text)
}

struct CachedToken {
    token: String,
    expires: Instant,
}

const NO_RATELIMIT: u64 = u64::MAX;

/// An authenticated, retrying registry client. Cheap to share by reference across tasks.
pub struct RegistryClient {
    http: reqwest::Client,
    config: ClientConfig,
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
    basic_hosts: Mutex<HashSet<String>>,
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

/// What a manifest HEAD tells: digest, media type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
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
            basic_hosts: Mutex::new(HashSet::new()),
            ratelimit_remaining: AtomicU64::new(NO_RATELIMIT),
            ratelimit_registry: std::sync::OnceLock::new(),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The lowest `ratelimit-remaining` value seen on a registry answer (Docker Hub only sends it),
    /// in either form [`parse_ratelimit`] reads.
    pub fn ratelimit_remaining(&self) -> Option<u64> {
        match self.ratelimit_remaining.load(Ordering::Relaxed) {
            NO_RATELIMIT => None,
            n => Some(n),
        }
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

    fn cached_auth(&self, reference: &Reference, scope_key: &str) -> Option<HeaderValue> {
        let host = reference.api_host().to_string();
        if let Ok(set) = self.basic_hosts.lock()
            && set.contains(&host)
        {
            return self.credentials_for(reference).and_then(basic_header);
        }
        let tokens = self.tokens.lock().ok()?;
        let t = tokens.get(&(host, scope_key.to_string()))?;
        if t.expires > Instant::now() {
            bearer_header(&t.token)
        } else {
            None
        }
    }

    /// Sends a request built by `build` (called once per attempt), authenticating with the given
    /// scopes when challenged and retrying transient failures. Non-success statuses are returned as
    /// responses when `ok_status` accepts them, otherwise as [`RegistryError::Status`]. Each
    /// attempt, body included, ends by [`ClientConfig::request_deadline`]; no retry starts past
    /// [`ClientConfig::retry_budget`].
    pub async fn send<F>(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        method: Method,
        url: &str,
        build: F,
        ok_status: impl Fn(StatusCode) -> bool,
    ) -> Result<Response, RegistryError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        let deadline = self.config.request_deadline;
        self.send_with(
            reference,
            scopes,
            method,
            url,
            build,
            ok_status,
            Some(deadline),
        )
        .await
    }

    /// [`Self::send`] for a blob download whose body is streamed afterwards: no overall deadline
    /// (a 1 GiB layer takes its time), only [`ClientConfig::request_timeout`] between reads.
    pub async fn send_streamed<F>(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        method: Method,
        url: &str,
        build: F,
        ok_status: impl Fn(StatusCode) -> bool,
    ) -> Result<Response, RegistryError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        self.send_with(reference, scopes, method, url, build, ok_status, None)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_with<F>(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        method: Method,
        url: &str,
        build: F,
        ok_status: impl Fn(StatusCode) -> bool,
        deadline: Option<Duration>,
    ) -> Result<Response, RegistryError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        let scopes = normalise_scopes(scopes);
        let scope_key: String = scopes
            .iter()
            .map(Scope::param)
            .collect::<Vec<_>>()
            .join(" ");
        let started = Instant::now();
        let mut authed_once = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if spends_a_spent_pull(
                &method,
                url,
                self.ratelimit_registry.get().map(String::as_str),
                &reference.registry,
                self.ratelimit_remaining(),
            ) {
                return Err(RegistryError::Transport {
                    method: method.to_string(),
                    url: url.to_string(),
                    message: format!(
                        "not sent: {}'s pull budget is spent (an earlier answer said \
                         ratelimit-remaining 0) and this manifest GET would count as a pull; \
                         what was copied is kept: run vetted again after the window resets, or \
                         log in with an account that has a higher pull limit",
                        reference.registry
                    ),
                });
            }
            let mut rb = build(self.http.request(method.clone(), url));
            if let Some(d) = deadline {
                rb = rb.timeout(d);
            }
            if let Some(h) = self.cached_auth(reference, &scope_key) {
                rb = rb.header(reqwest::header::AUTHORIZATION, h);
            }
            let result = rb.send().await;
            let (retry_wait, last) = match result {
                Err(e) => {
                    // A refused connection (nothing listens there: a wrong URL) is retried once.
                    let refused = crate::transport::connection_refused(&e);
                    if refused && (attempt >= 2 || attempt >= self.config.max_attempts) {
                        return Err(RegistryError::Transport {
                            method: method.to_string(),
                            url: url.to_string(),
                            message: self.refused_message(reference, url, attempt),
                        });
                    }
                    // A refused redirect is the registry's answer, not a fault: not retried.
                    if attempt >= self.config.max_attempts || e.is_builder() || e.is_redirect() {
                        return Err(RegistryError::Transport {
                            method: method.to_string(),
                            url: url.to_string(),
                            message: error_chain(&e),
                        });
                    }
                    (self.backoff(attempt), error_chain(&e))
                }
                Ok(resp) => {
                    self.note_ratelimit(&reference.registry, resp.headers());
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED && !authed_once {
                        authed_once = true;
                        self.authenticate(reference, &scopes, &scope_key, resp.headers())
                            .await?;
                        attempt -= 1; // the challenge round is not a failed attempt
                        continue;
                    }
                    if ok_status(status) {
                        return Ok(resp);
                    }
                    let transient =
                        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                    // A 429 that says no pulls remain is Docker Hub's pull limit: it lasts until
                    // the window (hours) resets, so retrying only spends the retry budget.
                    let pulls_spent = status == StatusCode::TOO_MANY_REQUESTS
                        && header_str(resp.headers(), "ratelimit-remaining")
                            .and_then(parse_ratelimit)
                            == Some(0);
                    if !transient || pulls_spent || attempt >= self.config.max_attempts {
                        let body = error_body(resp, MAX_ERROR_BODY_BYTES).await;
                        let mut body = truncate(&body, 300);
                        if status == StatusCode::UNAUTHORIZED {
                            body = self.unauthorized_message(reference, &scopes, &body);
                        }
                        return Err(RegistryError::Status {
                            method: method.to_string(),
                            url: url.to_string(),
                            status: status.as_u16(),
                            body,
                        });
                    }
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    let wait = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, now))
                        .map(|d| d.min(self.config.max_backoff))
                        .unwrap_or_else(|| self.backoff(attempt));
                    (wait, format!("HTTP {}", status.as_u16()))
                }
            };
            self.within_budget(started, retry_wait, attempt, &method, url, &last)?;
            tracing::debug!(%method, url, attempt, ?retry_wait, "retrying registry request");
            tokio::time::sleep(retry_wait).await;
        }
    }

    /// What a 401 after the token round means: which registry refused which credential source
    /// (never the credential), and what to do. `detail` is the registry's own text, if any.
    fn unauthorized_message(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        detail: &str,
    ) -> String {
        let registry = &reference.registry;
        let source = self.config.credential_sources.get(registry);
        let access = if scopes.iter().any(|s| s.push) {
            "pull and push"
        } else {
            "pull"
        };
        let what = match source {
            Some(s) => format!("{registry} refused {s}"),
            None => format!("{registry} refused an anonymous request"),
        };
        let fix = match source.map(String::as_str) {
            Some(s) if s.contains("VETTED_REGISTRY_USERNAME") => format!(
                "check VETTED_REGISTRY_USERNAME and VETTED_REGISTRY_PASSWORD, and that this user \
                 has {access} access to {}",
                reference.repository
            ),
            Some(s) if s.contains("DOCKERHUB_USERNAME") => format!(
                "check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN, and that this account has {access} \
                 access to {}",
                reference.repository
            ),
            Some(_) => format!(
                "run `docker login {registry}` again, and check that the account has {access} \
                 access to {}",
                reference.repository
            ),
            None => format!(
                "the repository {} may be private or not exist; set VETTED_REGISTRY_USERNAME and \
                 VETTED_REGISTRY_PASSWORD (and VETTED_REGISTRY_HOSTS for a registry other than \
                 docker.io) or `docker login {registry}` for an account with {access} access",
                reference.repository
            ),
        };
        let said = if detail.trim().is_empty() {
            String::new()
        } else {
            format!(" (it said: {detail})")
        };
        format!("{what}{said}; {fix}")
    }

    /// What a refused connection to `url` means: the registry's origin, and the setting that
    /// chose it when `reference`'s registry is redirected (`--docker-io-registry`).
    fn refused_message(&self, reference: &Reference, url: &str, attempts: u32) -> String {
        let origin = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| reference.registry.clone());
        let check = if self.config.endpoints.contains_key(&reference.registry) {
            format!(
                "{} requests go there because of --docker-io-registry or \
                 VETTED_DOCKER_IO_REGISTRY: check that setting (unset, they go to Docker Hub)",
                reference.registry
            )
        } else {
            format!(
                "check the registry {} in the policy's mirror source, and that it is reachable",
                reference.registry
            )
        };
        format!(
            "could not connect to {origin} (connection refused, {attempts} attempt(s)); {check}"
        )
    }

    /// Refuses a retry that would start past [`ClientConfig::retry_budget`] (counted from
    /// `started`, the first attempt).
    fn within_budget(
        &self,
        started: Instant,
        wait: Duration,
        attempts: u32,
        method: &Method,
        url: &str,
        last: &str,
    ) -> Result<(), RegistryError> {
        if started.elapsed().saturating_add(wait) < self.config.retry_budget {
            return Ok(());
        }
        Err(RegistryError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            message: format!(
                "gave up after {attempts} attempt(s) in {}s, the retry budget (--registry-timeout); last error: {last}",
                started.elapsed().as_secs()
            ),
        })
    }

    /// Sends one request without retries or a challenge round, using the auth already cached for
    /// these scopes (for streamed uploads, whose body cannot be replayed; the caller retries the
    /// whole transfer).
    pub async fn send_once(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        method: Method,
        url: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let scopes = normalise_scopes(scopes);
        let scope_key: String = scopes
            .iter()
            .map(Scope::param)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rb = build(self.http.request(method.clone(), url));
        if let Some(h) = self.cached_auth(reference, &scope_key) {
            rb = rb.header(reqwest::header::AUTHORIZATION, h);
        }
        let resp = rb.send().await.map_err(|e| RegistryError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            message: error_chain(&e),
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = error_body(resp, MAX_ERROR_BODY_BYTES).await;
        Err(RegistryError::Status {
            method: method.to_string(),
            url: url.to_string(),
            status,
            body: truncate(&body, 300),
        })
    }

    fn note_ratelimit(&self, registry: &str, headers: &HeaderMap) {
        if let Some(n) = headers
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_ratelimit)
        {
            let _ = self.ratelimit_registry.set(registry.to_string());
            // The lowest value seen: answers to concurrent requests arrive in any order, and the
            // budget only goes down within a run (a window reset mid-run is missed, which errs
            // on the safe side).
            self.ratelimit_remaining.fetch_min(n, Ordering::Relaxed);
        }
    }

    async fn authenticate(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        scope_key: &str,
        headers: &HeaderMap,
    ) -> Result<(), RegistryError> {
        let host = reference.api_host().to_string();
        let auth_err = |m: String| RegistryError::Auth {
            host: host.clone(),
            message: m,
        };
        let challenge = headers
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
            .ok_or_else(|| auth_err("401 without a usable WWW-Authenticate challenge".into()))?;
        let creds = self.credentials_for(reference);
        match challenge {
            Challenge::Basic => {
                if creds.is_none() {
                    return Err(auth_err(format!(
                        "the registry requires a login and no credentials are configured for {}",
                        reference.registry
                    )));
                }
                if let Ok(mut set) = self.basic_hosts.lock() {
                    set.insert(host.clone());
                }
                Ok(())
            }
            Challenge::Bearer { realm, service } => {
                let mut url = url::Url::parse(&realm)
                    .map_err(|e| auth_err(format!("invalid token realm {realm:?}: {e}")))?;
                let base = url::Url::parse(&self.base_url(reference))
                    .map_err(|e| auth_err(format!("invalid registry URL: {e}")))?;
                let trusted = self.config.trusted_realms.get(&reference.registry);
                let withheld = match realm_use(&reference.registry, &base, &url, trusted) {
                    RealmUse::Refused(why) => return Err(auth_err(why)),
                    RealmUse::Credentials => false,
                    RealmUse::Anonymous => creds.is_some(),
                };
                if withheld {
                    tracing::warn!(
                        registry = %reference.registry,
                        realm = %url.origin().ascii_serialization(),
                        "token realm on another host: asking it for an anonymous token"
                    );
                }
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = &service {
                        q.append_pair("service", s);
                    }
                    for s in scopes {
                        q.append_pair("scope", &s.param());
                    }
                }
                let realm_origin = url.origin().ascii_serialization();
                let denied = |status: u16| {
                    let mut m = format!("token service {realm_origin} answered HTTP {status}");
                    if withheld {
                        m.push_str(&format!(
                            "; the credentials for {} were not sent to it, a token realm on \
                             another host (to trust it, add {}={realm_origin} to \
                             VETTED_REGISTRY_TOKEN_REALMS)",
                            reference.registry, reference.registry
                        ));
                    }
                    auth_err(m)
                };
                let mut rb = self
                    .http
                    .get(url.clone())
                    .timeout(self.config.request_deadline);
                if let (Some(c), false) = (creds, withheld) {
                    rb = rb.basic_auth(&c.username, Some(&c.password));
                }
                let started = Instant::now();
                let mut last = String::new();
                for attempt in 1..=self.config.max_attempts {
                    if attempt > 1 {
                        let wait = self.backoff(attempt - 1);
                        self.within_budget(
                            started,
                            wait,
                            attempt - 1,
                            &Method::GET,
                            &realm_origin,
                            &last,
                        )?;
                        tokio::time::sleep(wait).await;
                    }
                    let Some(fut) = rb.try_clone().map(|r| r.send()) else {
                        return Err(auth_err("token request cannot be built".into()));
                    };
                    let resp = match fut.await {
                        Ok(resp) => resp,
                        Err(e) => {
                            last = error_chain(&e);
                            continue;
                        }
                    };
                    let status = resp.status();
                    if !status.is_success() {
                        if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                            return Err(denied(status.as_u16()));
                        }
                        last = format!("HTTP {}", status.as_u16());
                        continue;
                    }
                    // A body cut short is retried; a complete but unreadable one is not.
                    let raw = match read_capped(resp, MAX_TOKEN_BYTES).await {
                        Ok(b) => b,
                        Err(BodyError::TooLarge) => {
                            return Err(auth_err(format!(
                                "token response from {realm_origin} is larger than {} KiB",
                                MAX_TOKEN_BYTES >> 10
                            )));
                        }
                        Err(BodyError::Transport(e)) => {
                            last = error_chain(&e);
                            continue;
                        }
                    };
                    let body: TokenResponse = serde_json::from_slice(&raw)
                        .map_err(|e| auth_err(format!("unreadable token response: {e}")))?;
                    let token = body
                        .token
                        .or(body.access_token)
                        .filter(|t| !t.is_empty())
                        .ok_or_else(|| auth_err("token response has no token".into()))?;
                    // A hostile lifetime cannot overflow the clock: at most a day.
                    let ttl = body.expires_in.unwrap_or(60).clamp(30, 86_400);
                    // Refresh a little early so long copies do not hit expiry mid-request.
                    let expires = Instant::now() + Duration::from_secs(ttl - 10);
                    if let Ok(mut t) = self.tokens.lock() {
                        t.insert(
                            (host.clone(), scope_key.to_string()),
                            CachedToken { token, expires },
                        );
                    }
                    return Ok(());
                }
                Err(auth_err(format!("token service unavailable: {last}")))
            }
        }
    }

    /// The unexpired registry token cached for exactly these scopes on `reference`'s registry
    /// (src/registry/grants.rs reads what it grants; never shown).
    pub(crate) fn cached_token(&self, reference: &Reference, scopes: &[Scope]) -> Option<String> {
        let scope_key: String = normalise_scopes(scopes)
            .iter()
            .map(Scope::param)
            .collect::<Vec<_>>()
            .join(" ");
        let tokens = self.tokens.lock().ok()?;
        let t = tokens.get(&(reference.api_host().to_string(), scope_key))?;
        (t.expires > Instant::now()).then(|| t.token.clone())
    }

    /// HEADs a manifest: digest, media type and size, without counting as a Docker Hub pull.
    pub async fn resolve(&self, reference: &Reference) -> Result<Resolved, RegistryError> {
        self.resolve_scoped(reference, &[Scope::pull(&reference.repository)])
            .await
    }

    /// [`Self::resolve`] with an explicit scope set (to reuse a token that already covers it).
    pub async fn resolve_scoped(
        &self,
        reference: &Reference,
        scopes: &[Scope],
    ) -> Result<Resolved, RegistryError> {
        let url = self.manifest_url(reference, reference.manifest_ref());
        let resp = self
            .send(
                reference,
                scopes,
                Method::HEAD,
                &url,
                |rb| rb.header(reqwest::header::ACCEPT, MANIFEST_ACCEPT),
                |s| s.is_success(),
            )
            .await
            .map_err(|e| match e {
                // A HEAD 404 has no body to explain it.
                RegistryError::Status {
                    method,
                    url,
                    status: 404,
                    ..
                } => RegistryError::Status {
                    method,
                    url,
                    status: 404,
                    body: if reference.digest.is_some() {
                        format!("{reference} not found (no such manifest upstream)")
                    } else {
                        format!("{reference} not found (no such tag upstream)")
                    },
                },
                other => other,
            })?;
        let h = resp.headers();
        let media_type = header_str(h, reqwest::header::CONTENT_TYPE.as_str())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
            .unwrap_or_default();
        let size = header_str(h, reqwest::header::CONTENT_LENGTH.as_str())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let digest = match header_str(h, "docker-content-digest") {
            Some(d) => d.to_string(),
            None => {
                // Some registries omit the header on HEAD: read the manifest and hash it.
                let (bytes, _) = self.get_manifest_raw(reference, scopes).await?;
                return Ok(Resolved {
                    digest: super::manifest::sha256_digest(&bytes),
                    media_type,
                    size: bytes.len() as u64,
                });
            }
        };
        if let Some(want) = &reference.digest
            && want != &digest
        {
            return Err(RegistryError::Protocol(format!(
                "{reference}: registry answered digest {digest}"
            )));
        }
        Ok(Resolved {
            digest,
            media_type,
            size,
        })
    }

    /// `<base>/v2/<repo>/manifests/<tag-or-digest>`.
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

    /// GETs a manifest's bytes and media type: at most [`MAX_MANIFEST_BYTES`], read while
    /// streaming, within the request deadline; a body cut short is retried within the retry budget.
    pub async fn get_manifest_raw(
        &self,
        reference: &Reference,
        scopes: &[Scope],
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let url = self.manifest_url(reference, reference.manifest_ref());
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let resp = self
                .send(
                    reference,
                    scopes,
                    Method::GET,
                    &url,
                    |rb| rb.header(reqwest::header::ACCEPT, MANIFEST_ACCEPT),
                    |s| s.is_success(),
                )
                .await?;
            let media_type = header_str(resp.headers(), reqwest::header::CONTENT_TYPE.as_str())
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
                .unwrap_or_default();
            let e = match read_capped(resp, MAX_MANIFEST_BYTES).await {
                Ok(bytes) => return Ok((bytes, media_type)),
                Err(BodyError::TooLarge) => {
                    return Err(RegistryError::Protocol(format!(
                        "{reference}: the manifest is larger than {} MiB, the most vetted reads",
                        MAX_MANIFEST_BYTES >> 20
                    )));
                }
                Err(BodyError::Transport(e)) => e,
            };
            let last = error_chain(&e);
            if attempt >= self.config.max_attempts {
                return Err(RegistryError::Transport {
                    method: "GET".into(),
                    url: url.clone(),
                    message: last,
                });
            }
            let wait = self.backoff(attempt);
            self.within_budget(started, wait, attempt, &Method::GET, &url, &last)?;
            tracing::debug!(url, attempt, error = %last, "manifest body cut short; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

fn basic_header(c: &RegistryCredentials) -> Option<HeaderValue> {
    let raw = format!("{}:{}", c.username, c.password);
    let enc = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut v = HeaderValue::from_str(&format!("Basic {enc}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

fn bearer_header(token: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

pub(crate) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The error and its sources, one line (reqwest hides the interesting part in the sources).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    let mut depth = 0;
    while let Some(inner) = src {
        if depth >= 8 {
            break;
        }
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
        depth += 1;
    }
    s
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.trim().to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s[..end].trim())
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

    #[test]
    fn retry_after_and_ratelimit() {
        assert_eq!(parse_retry_after("3", 0), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("1700000010", 1_700_000_000),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("1700000000", 1_800_000_000),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_ratelimit("76;w=21600"), Some(76));
        assert_eq!(parse_ratelimit("x;w=1"), None);
    }

    #[test]
    fn a_spent_pull_budget_stops_manifest_gets_to_that_registry_only() {
        let url = "https://registry-1.docker.io/v2/library/nginx/manifests/1.27";
        let spent = |m: &Method, u: &str, by: Option<&str>, r: &str, left: Option<u64>| {
            spends_a_spent_pull(m, u, by, r, left)
        };
        assert!(spent(
            &Method::GET,
            url,
            Some("docker.io"),
            "docker.io",
            Some(0)
        ));
        assert!(
            !spent(&Method::HEAD, url, Some("docker.io"), "docker.io", Some(0)),
            "HEAD is free"
        );
        assert!(!spent(
            &Method::GET,
            url,
            Some("docker.io"),
            "docker.io",
            Some(1)
        ));
        assert!(
            !spent(&Method::GET, url, Some("docker.io"), "ghcr.io", Some(0)),
            "another registry"
        );
        assert!(!spent(&Method::GET, url, None, "docker.io", None));
        let blob = "https://registry-1.docker.io/v2/library/nginx/blobs/sha256:00";
        assert!(!spent(
            &Method::GET,
            blob,
            Some("docker.io"),
            "docker.io",
            Some(0)
        ));
    }

    #[test]
    fn both_ratelimit_forms_parse() {
        // Docker's documented forms, and the bare count.
        assert_eq!(parse_ratelimit("100;w=21600"), Some(100));
        assert_eq!(parse_ratelimit("0;w=21600"), Some(0));
        assert_eq!(parse_ratelimit(" 76 ;w=21600"), Some(76));
        assert_eq!(parse_ratelimit("76"), Some(76));
        for bad in [
            "",
            ";w=21600",
            "-1;w=21600",
            "+5",
            "1.5;w=1",
            "7 6",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_ratelimit(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn redirect_rules() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let hub = [u("https://registry-1.docker.io/v2/x/blobs/sha256:1")];
        // Docker Hub's CDN, and loopback in either scheme.
        assert_eq!(
            redirect_refusal(&u("https://production.cloudflare.docker.com/r/x"), &hub),
            None
        );
        // Loopback only from loopback: a registry off this machine cannot send vetted to it.
        let why = redirect_refusal(&u("http://127.0.0.2:9/b"), &hub).unwrap();
        assert!(why.contains("to loopback"), "{why}");
        let why = redirect_refusal(&u("https://localhost/b"), &hub).unwrap();
        assert!(why.contains("to loopback"), "{why}");
        let local = [u("http://127.0.0.1:5000/v2/x/blobs/sha256:1")];
        assert_eq!(redirect_refusal(&u("http://127.0.0.2:9/b"), &local), None);
        // A downgrade to plain http off loopback.
        let why = redirect_refusal(&u("http://cdn.example/b"), &hub).unwrap();
        assert!(why.contains("https to plain http"), "{why}");
        // Plain http that was plain http from the start (an insecure registry) is no downgrade.
        let insecure = [u("http://10.0.0.5:5000/v2/x/blobs/sha256:1")];
        assert_eq!(redirect_refusal(&u("http://10.0.0.6/b"), &insecure), None);
        // Other schemes.
        let why = redirect_refusal(&u("file:///etc/passwd"), &hub).unwrap();
        assert!(why.contains("unsupported scheme \"file\""), "{why}");
        // At most MAX_REDIRECTS hops: `previous` holds the first request and each hop so far.
        let chain: Vec<url::Url> = (0..=MAX_REDIRECTS)
            .map(|i| u(&format!("https://r.example/{i}")))
            .collect();
        assert_eq!(
            redirect_refusal(&u("https://r.example/next"), &chain[..MAX_REDIRECTS]),
            None
        );
        let why = redirect_refusal(&u("https://r.example/next"), &chain).unwrap();
        assert!(why.contains("more than 5 redirects"), "{why}");
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
