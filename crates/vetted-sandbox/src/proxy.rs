//! Fault and latency proxy (`vetted sandbox proxy`): a reverse proxy on loopback in front of any
//! registry (or other HTTP upstream) that adds latency to every request and, drawn with a seeded
//! RNG, injects the faults a registry client meets on the internet: 503 with an HTML body, 429 with
//! `Retry-After: 1`, a connection reset before any response, and a response cut short (headers with
//! the full `Content-Length`, part of the body, then the connection dropped). It can also emulate
//! Docker Hub's pull limits (`ratelimit-limit` / `ratelimit-remaining` / `docker-ratelimit-source`
//! headers; a GET of an image manifest spends one pull, so a multi-arch pull spends one per platform;
//! once the budget is spent such GETs answer 429 `TOOMANYREQUESTS`). The counting rule is
//! [`spends_a_pull`].
//!
//! Bodies are streamed both ways, chunk by chunk (a 1 GiB layer passes through in constant memory).
//! `Location` headers and the token `realm` of `WWW-Authenticate` are rewritten so a client stays on
//! the proxy: a realm on another origin (a separate token service) is served under
//! `/_proxy/auth/<n>/...` and forwarded there (unless [`ProxyOptions::rewrite_realms`] is off, as for
//! the sandbox's pull-counting front, whose clients ask the token service directly). Counters ([`ProxyStats`]) record requests, faults by
//! kind and bytes by direction and kind, so tests can check what crossed the wire.
//!
//! Built on hyper directly (not axum): a fault must be able to close the connection before any
//! response (the service returns an error) and to cut a body short after its headers (the body
//! stream yields an error), which axum's handlers cannot express.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The faults the proxy can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 503 with an HTML body, as a CDN or load balancer answers.
    ServerError,
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    /// The connection is closed before any response.
    Reset,
    /// The response's headers announce the full `Content-Length`, part of the body follows, then
    /// the connection is dropped. For a response without a body (HEAD, 201, 202) the upstream has
    /// handled the request and its answer is lost: the connection is dropped instead.
    CutShort,
}

impl FaultKind {
    /// Every kind, in counter order.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::ServerError,
        FaultKind::TooManyRequests,
        FaultKind::Reset,
        FaultKind::CutShort,
    ];

    fn index(self) -> usize {
        match self {
            FaultKind::ServerError => 0,
            FaultKind::TooManyRequests => 1,
            FaultKind::Reset => 2,
            FaultKind::CutShort => 3,
        }
    }

    /// The name used on the command line (`--faults 503,429,reset,cut`).
    pub fn parse(s: &str) -> Option<FaultKind> {
        match s.trim() {
            "503" | "server-error" => Some(FaultKind::ServerError),
            "429" | "too-many-requests" => Some(FaultKind::TooManyRequests),
            "reset" => Some(FaultKind::Reset),
            "cut" | "cut-short" => Some(FaultKind::CutShort),
            _ => None,
        }
    }
}

/// What the proxy does to the traffic. `Default` = a transparent proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyOptions {
    /// Added before every request is forwarded (or faulted).
    pub latency: Duration,
    /// Probability (0..=1) that a request gets a fault, its kind drawn uniformly from `kinds`.
    pub fault_rate: f64,
    /// Seed of the random draws: the same sequence of requests meets the same faults.
    pub seed: u64,
    /// The fault kinds to draw from (empty = no faults).
    pub kinds: Vec<FaultKind>,
    /// Emulated pull limit: pulls allowed per window (`None` = no limit headers); what spends one
    /// is [`spends_a_pull`].
    pub ratelimit: Option<u64>,
    /// Rewrite the token `realm` of `WWW-Authenticate` challenges to the proxy (default). Off, the
    /// realm passes unchanged: clients ask the token service directly, as Docker Hub's clients ask
    /// auth.docker.io, which is not the registry's host.
    pub rewrite_realms: bool,
    /// Injected 429s carry Cloudflare's HTML rate-limit page (as Docker Hub's edge sends) instead
    /// of a registry's JSON error.
    pub html_429: bool,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            latency: Duration::ZERO,
            fault_rate: 0.0,
            seed: 0,
            kinds: FaultKind::ALL.to_vec(),
            ratelimit: None,
            rewrite_realms: true,
            html_429: false,
        }
    }
}

/// The Docker Hub pull-limit window announced in the rate-limit headers (6 hours).
const RATELIMIT_WINDOW_SECS: u64 = 21_600;
/// Docker Hub's body for a manifest GET past the pull limit.
const TOOMANYREQUESTS_BODY: &str = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limits"}]}"#;
const HTML_503: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n";
/// Path prefix under which realms on other origins are forwarded.
const AUTH_PREFIX: &str = "/_proxy/auth/";

/// A snapshot of the proxy's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Requests received (faulted or forwarded).
    pub requests: u64,
    /// Requests forwarded upstream.
    pub forwarded: u64,
    /// Injected 503s.
    pub server_errors: u64,
    /// Injected 429s (not counting pull-limit refusals).
    pub too_many_requests: u64,
    /// Connections closed before any response.
    pub resets: u64,
    /// Responses cut short (or lost after the upstream answered).
    pub cut_short: u64,
    /// Manifest GETs refused because the emulated pull limit was spent.
    pub pull_limited: u64,
    /// Manifest GETs answered (refused ones not counted).
    pub manifest_gets: u64,
    /// Pulls spent under the emulated pull limit ([`spends_a_pull`]).
    pub pulls: u64,
    /// Blob GETs forwarded.
    pub blob_gets: u64,
    /// Upload starts (`POST .../blobs/uploads/`) forwarded, mounts included.
    pub upload_starts: u64,
    /// Upload starts asking for a cross-repository mount (`?mount=`).
    pub mount_requests: u64,
    /// Request body bytes sent upstream.
    pub bytes_up: u64,
    /// Response body bytes sent to clients.
    pub bytes_down: u64,
    /// Of `bytes_down`: bytes of blob GET responses.
    pub blob_bytes_down: u64,
    /// Of `bytes_up`: bytes of blob upload bodies (PATCH/PUT under `/blobs/uploads/`).
    pub upload_bytes_up: u64,
}

impl ProxyStats {
    /// Injected faults of every kind.
    pub fn faults(&self) -> u64 {
        self.server_errors + self.too_many_requests + self.resets + self.cut_short
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    faults: [AtomicU64; 4],
    pull_limited: AtomicU64,
    manifest_gets: AtomicU64,
    pulls: AtomicU64,
    blob_gets: AtomicU64,
    upload_starts: AtomicU64,
    mount_requests: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    blob_bytes_down: AtomicU64,
    upload_bytes_up: AtomicU64,
}

struct Shared {
    upstream: String,
    own: String,
    options: ProxyOptions,
    rng: Mutex<StdRng>,
    remaining: Mutex<u64>,
    /// Origins of realms on other hosts, forwarded under `/_proxy/auth/<index>/`.
    auth_origins: Mutex<Vec<String>>,
    counters: Counters,
    http: reqwest::Client,
}

/// A running proxy; stops (with its connections) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

type ProxyBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Errors starting the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "upstream {0:?}: expected an http:// or https:// base URL such as http://127.0.0.1:5000"
    )]
    Upstream(String),
    #[error("--fault-rate {0}: must be between 0.0 and 1.0")]
    FaultRate(f64),
    #[error("binding 127.0.0.1: {0}")]
    Bind(std::io::Error),
    #[error("building the upstream HTTP client: {0}")]
    Client(String),
}

impl Proxy {
    /// Starts the proxy on 127.0.0.1 (a free port) in front of `upstream` (a base URL such as
    /// `http://127.0.0.1:5000`; a path is ignored).
    pub async fn start(upstream: &str, options: ProxyOptions) -> Result<Proxy, ProxyError> {
        Self::start_on(upstream, options, 0).await
    }

    /// Like [`Proxy::start`] on a given port (0 = a free one).
    pub async fn start_on(
        upstream: &str,
        options: ProxyOptions,
        port: u16,
    ) -> Result<Proxy, ProxyError> {
        let upstream = origin_of(upstream).ok_or_else(|| ProxyError::Upstream(upstream.into()))?;
        if !(0.0..=1.0).contains(&options.fault_rate) {
            return Err(ProxyError::FaultRate(options.fault_rate));
        }
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .http1_only()
            .build()
            .map_err(|e| ProxyError::Client(e.to_string()))?;
        let shared = Arc::new(Shared {
            upstream,
            own: format!("http://{addr}"),
            rng: Mutex::new(StdRng::seed_from_u64(options.seed)),
            remaining: Mutex::new(options.ratelimit.unwrap_or(0)),
            options,
            auth_origins: Mutex::default(),
            counters: Counters::default(),
            http,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Proxy { addr, shared, task })
    }

    /// The proxy's base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.shared.own.clone()
    }

    /// `127.0.0.1:PORT`, the form image references use.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Pulls left under the emulated pull limit (`None` without one).
    pub fn remaining_pulls(&self) -> Option<u64> {
        self.observer().remaining_pulls()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        self.observer().stats()
    }

    /// A handle that reads the counters while the proxy runs (for a control endpoint).
    pub fn observer(&self) -> ProxyObserver {
        ProxyObserver(self.shared.clone())
    }

    /// Waits until the accept loop ends (it does not on its own: for `vetted sandbox proxy`).
    pub async fn wait(self) {
        let task = &mut { self }.task;
        let _ = task.await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a running [`Proxy`]'s counters; cheap to clone.
#[derive(Clone)]
pub struct ProxyObserver(Arc<Shared>);

impl std::fmt::Debug for ProxyObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyObserver")
            .field("own", &self.0.own)
            .finish()
    }
}

impl ProxyObserver {
    /// The emulated pull limit (`None` without one).
    pub fn pull_limit(&self) -> Option<u64> {
        self.0.options.ratelimit
    }

    /// Pulls left under the emulated pull limit (`None` without one).
    pub fn remaining_pulls(&self) -> Option<u64> {
        self.0.options.ratelimit.map(|_| *lock(&self.0.remaining))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.0.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyStats {
            requests: get(&c.requests),
            forwarded: get(&c.forwarded),
            server_errors: get(&c.faults[FaultKind::ServerError.index()]),
            too_many_requests: get(&c.faults[FaultKind::TooManyRequests.index()]),
            resets: get(&c.faults[FaultKind::Reset.index()]),
            cut_short: get(&c.faults[FaultKind::CutShort.index()]),
            pull_limited: get(&c.pull_limited),
            manifest_gets: get(&c.manifest_gets),
            pulls: get(&c.pulls),
            blob_gets: get(&c.blob_gets),
            upload_starts: get(&c.upload_starts),
            mount_requests: get(&c.mount_requests),
            bytes_up: get(&c.bytes_up),
            bytes_down: get(&c.bytes_down),
            blob_bytes_down: get(&c.blob_bytes_down),
            upload_bytes_up: get(&c.upload_bytes_up),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `scheme://host[:port]` of a URL, or `None` when it is not http(s).
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{}://{host}:{p}", u.scheme()),
        None => format!("{}://{host}", u.scheme()),
    })
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in the set: aborting this task (dropping the proxy) closes them all.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| handle(shared.clone(), req, peer));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Why the service closed a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the fault proxy")]
struct Dropped;

enum Class {
    Manifest,
    Blob,
    UploadStart { mount: bool },
    Upload,
    Other,
}

fn classify(method: &hyper::Method, path: &str, query: &str) -> Class {
    let is = |m: &str| method.as_str() == m;
    if path.contains("/manifests/") {
        Class::Manifest
    } else if path.contains("/blobs/uploads") {
        if is("POST") {
            Class::UploadStart {
                mount: query.split('&').any(|p| p.starts_with("mount=")),
            }
        } else {
            Class::Upload
        }
    } else if path.contains("/blobs/") && is("GET") {
        Class::Blob
    } else {
        Class::Other
    }
}

/// Whether a manifest request answered `status` with `content_type` spends one pull, by Docker's
/// definition ("a pull for a normal image makes one pull for a single manifest; a pull for a
/// multi-arch image will count as one pull for each different architecture"; version checks, HEAD,
/// do not count): a successful GET of an image manifest does; a HEAD, an error, and the GET of an
/// index (the list of platforms, whose pulls are counted as each platform's manifest is fetched)
/// do not. Unconfirmed: whether Docker Hub counts an index GET on its own (no platform fetched
/// after it) as a pull. This is the sandbox's own model of Docker Hub's rule, written apart from
/// vetted's estimate of the pulls a copy spends (the reconciler's `mirror::pulls_of_copy`), which
/// follows the same rule: the two are compared by the tests, never shared.
pub fn spends_a_pull(method: &hyper::Method, status: u16, content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    method == hyper::Method::GET
        && (200..300).contains(&status)
        && !crate::kit::media::INDEX_TYPES
            .iter()
            .any(|t| media.eq_ignore_ascii_case(t))
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

fn set(r: &mut Response<ProxyBody>, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<ProxyBody>, Dropped> {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    // One draw per request, always (so the sequence depends only on the request order).
    let (fault, cut_fraction) = {
        let mut rng = lock(&shared.rng);
        let x: f64 = rng.random();
        let pick = rng.random_range(0..FaultKind::ALL.len().max(1));
        let frac: f64 = rng.random();
        let kinds = &shared.options.kinds;
        let fault =
            (x < shared.options.fault_rate && !kinds.is_empty()).then(|| kinds[pick % kinds.len()]);
        (fault, frac)
    };
    let mut response = match fault {
        Some(FaultKind::Reset) => {
            c.faults[FaultKind::Reset.index()].fetch_add(1, Ordering::Relaxed);
            return Err(Dropped);
        }
        Some(FaultKind::ServerError) => {
            c.faults[FaultKind::ServerError.index()].fetch_add(1, Ordering::Relaxed);
            let mut r = full(StatusCode::SERVICE_UNAVAILABLE, HTML_503);
            set(&mut r, "content-type", "text/html".into());
            r
        }
        Some(FaultKind::TooManyRequests) => {
            c.faults[FaultKind::TooManyRequests.index()].fetch_add(1, Ordering::Relaxed);
            let mut r = if shared.options.html_429 {
                let mut r = full(
                    StatusCode::TOO_MANY_REQUESTS,
                    super::faults::CLOUDFLARE_429.replace("hub.docker.com", "registry-1.docker.io"),
                );
                set(&mut r, "content-type", "text/html; charset=UTF-8".into());
                r
            } else {
                let mut r = full(
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests"}]}"#,
                );
                set(&mut r, "content-type", "application/json".into());
                r
            };
            set(&mut r, "retry-after", "1".into());
            r
        }
        Some(FaultKind::CutShort) | None => {
            forward(&shared, req, fault.is_some(), cut_fraction).await?
        }
    };
    if let Some(limit) = shared.options.ratelimit {
        let remaining = *lock(&shared.remaining);
        set(
            &mut response,
            "ratelimit-limit",
            format!("{limit};w={RATELIMIT_WINDOW_SECS}"),
        );
        set(
            &mut response,
            "ratelimit-remaining",
            format!("{remaining};w={RATELIMIT_WINDOW_SECS}"),
        );
        // Docker Hub names what the limit is counted against: the client's address (anonymous)
        // or its account.
        set(
            &mut response,
            "docker-ratelimit-source",
            peer.ip().to_string(),
        );
    }
    Ok(response)
}

async fn forward(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    cut: bool,
    cut_fraction: f64,
) -> Result<Response<ProxyBody>, Dropped> {
    let c = &shared.counters;
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let class = classify(&parts.method, &path, &query);

    // Target: the upstream, or a realm origin for /_proxy/auth/<n>/...
    let target = match path.strip_prefix(AUTH_PREFIX) {
        Some(rest) => {
            let (n, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let origin = n
                .parse::<usize>()
                .ok()
                .and_then(|i| lock(&shared.auth_origins).get(i).cloned());
            let Some(origin) = origin else {
                return Ok(full(StatusCode::NOT_FOUND, "unknown proxied realm\n"));
            };
            let q = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            format!("{origin}/{tail}{q}")
        }
        None => format!(
            "{}{}",
            shared.upstream,
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        ),
    };

    let mut rb = shared.http.request(parts.method.clone(), target);
    for (k, v) in &parts.headers {
        if !is_hop_by_hop(k.as_str()) && k != hyper::header::HOST {
            rb = rb.header(k, v);
        }
    }
    let has_body = parts.headers.contains_key(hyper::header::CONTENT_LENGTH)
        || parts.headers.contains_key(hyper::header::TRANSFER_ENCODING);
    if has_body {
        let counting_upload = matches!(class, Class::Upload);
        let sh = shared.clone();
        let stream = body.into_data_stream().inspect_ok(move |chunk: &Bytes| {
            let n = chunk.len() as u64;
            sh.counters.bytes_up.fetch_add(n, Ordering::Relaxed);
            if counting_upload {
                sh.counters.upload_bytes_up.fetch_add(n, Ordering::Relaxed);
            }
        });
        rb = rb.body(reqwest::Body::wrap_stream(stream));
    }
    let upstream = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            return Ok(full(
                StatusCode::BAD_GATEWAY,
                format!("fault proxy: upstream unreachable: {e}\n"),
            ));
        }
    };
    c.forwarded.fetch_add(1, Ordering::Relaxed);
    // Pull limit, once the upstream said what the manifest is: a pull spent when none is left
    // answers Docker Hub's 429 instead (the upstream's answer is dropped).
    if shared.options.ratelimit.is_some()
        && matches!(class, Class::Manifest)
        && spends_a_pull(
            &parts.method,
            upstream.status().as_u16(),
            upstream
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    {
        let mut remaining = lock(&shared.remaining);
        if *remaining == 0 {
            drop(remaining);
            c.pull_limited.fetch_add(1, Ordering::Relaxed);
            let mut r = full(StatusCode::TOO_MANY_REQUESTS, TOOMANYREQUESTS_BODY);
            set(&mut r, "content-type", "application/json".into());
            return Ok(r);
        }
        *remaining -= 1;
        c.pulls.fetch_add(1, Ordering::Relaxed);
    }
    match class {
        Class::Manifest if parts.method == hyper::Method::GET => {
            c.manifest_gets.fetch_add(1, Ordering::Relaxed);
        }
        Class::Blob => {
            c.blob_gets.fetch_add(1, Ordering::Relaxed);
        }
        Class::UploadStart { mount } => {
            c.upload_starts.fetch_add(1, Ordering::Relaxed);
            if mount {
                c.mount_requests.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => {}
    }

    let status = upstream.status();
    let length = upstream
        .content_length()
        .filter(|_| parts.method != hyper::Method::HEAD);
    if cut && length.unwrap_or(0) == 0 {
        // No body to cut: the upstream handled the request and its answer is lost.
        c.faults[FaultKind::CutShort.index()].fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    let mut out = Response::builder().status(status.as_u16());
    for (k, v) in upstream.headers() {
        if is_hop_by_hop(k.as_str()) {
            continue;
        }
        let v = if k == hyper::header::LOCATION {
            rewrite_location(shared, v)
        } else if k == hyper::header::WWW_AUTHENTICATE && shared.options.rewrite_realms {
            rewrite_realm(shared, v)
        } else {
            v.clone()
        };
        out = out.header(k, v);
    }
    let blob = matches!(class, Class::Blob);
    let sh = shared.clone();
    let counted = upstream
        .bytes_stream()
        .map_err(std::io::Error::other)
        .inspect_ok(move |chunk| {
            let n = chunk.len() as u64;
            sh.counters.bytes_down.fetch_add(n, Ordering::Relaxed);
            if blob {
                sh.counters.blob_bytes_down.fetch_add(n, Ordering::Relaxed);
            }
        });
    let body: ProxyBody = if cut {
        c.faults[FaultKind::CutShort.index()].fetch_add(1, Ordering::Relaxed);
        let len = length.unwrap_or(0);
        // Strictly less than the announced length, so the client always sees a short body.
        let keep = ((len as f64 * cut_fraction) as u64).min(len.saturating_sub(1));
        StreamBody::new(cut_after(counted, keep).map_ok(Frame::data)).boxed_unsync()
    } else {
        StreamBody::new(counted.map_ok(Frame::data)).boxed_unsync()
    };
    out.body(body).map_err(|_| Dropped)
}

/// Passes `keep` bytes of `stream`, then fails (hyper then drops the connection mid-body). The
/// failure comes a moment after the kept bytes, so hyper has flushed the headers and those bytes
/// to the client first (otherwise a cut at 0 bytes could look like a reset).
fn cut_after(
    stream: impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    keep: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    stream
        .scan((keep, false), |(left, done), item| {
            let out = match item {
                _ if *done => None,
                Ok(chunk) if (chunk.len() as u64) < *left => {
                    *left -= chunk.len() as u64;
                    Some(Ok(chunk))
                }
                Ok(chunk) => {
                    *done = true;
                    Some(Ok(chunk.slice(..*left as usize)))
                }
                Err(e) => {
                    *done = true;
                    Some(Err(e))
                }
            };
            futures::future::ready(out)
        })
        .chain(futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::other("body cut short by the fault proxy"))
        }))
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// An absolute `Location` on the upstream points at the proxy instead; relative ones already do.
fn rewrite_location(shared: &Shared, v: &HeaderValue) -> HeaderValue {
    let Ok(s) = v.to_str() else { return v.clone() };
    match s.strip_prefix(&shared.upstream) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => {
            HeaderValue::from_str(&format!("{}{rest}", shared.own)).unwrap_or_else(|_| v.clone())
        }
        _ => v.clone(),
    }
}

/// `realm="..."` of a `WWW-Authenticate` challenge points at the proxy: the upstream's own origin is
/// replaced by the proxy's, another origin is served under `/_proxy/auth/<n>/`.
fn rewrite_realm(shared: &Shared, v: &HeaderValue) -> HeaderValue {
    realm_rewritten(&shared.upstream, &shared.own, &shared.auth_origins, v)
}

fn realm_rewritten(
    upstream: &str,
    own: &str,
    auth_origins: &Mutex<Vec<String>>,
    v: &HeaderValue,
) -> HeaderValue {
    let Ok(s) = v.to_str() else { return v.clone() };
    let Some(start) = s.find("realm=\"").map(|i| i + "realm=\"".len()) else {
        return v.clone();
    };
    let Some(len) = s[start..].find('"') else {
        return v.clone();
    };
    let realm = &s[start..start + len];
    let Some(origin) = origin_of(realm) else {
        return v.clone();
    };
    let path = &realm[origin.len()..];
    let new_realm = if origin == upstream {
        format!("{own}{path}")
    } else {
        let mut origins = lock(auth_origins);
        let i = match origins.iter().position(|o| *o == origin) {
            Some(i) => i,
            None => {
                origins.push(origin);
                origins.len() - 1
            }
        };
        let path = path.strip_prefix('/').unwrap_or(path);
        format!("{own}{AUTH_PREFIX}{i}/{path}")
    };
    let rewritten = format!("{}{new_realm}{}", &s[..start], &s[start + len..]);
    HeaderValue::from_str(&rewritten).unwrap_or_else(|_| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cut_after_keeps_a_prefix_then_fails() {
        let chunks = vec![
            Ok(Bytes::from_static(b"abcd")),
            Ok(Bytes::from_static(b"efgh")),
        ];
        let out: Vec<_> = cut_after(futures::stream::iter(chunks), 6)
            .collect::<Vec<_>>()
            .await;
        let kept: Vec<u8> = out
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .flat_map(|b| b.to_vec())
            .collect();
        assert_eq!(kept, b"abcdef");
        assert!(out.last().is_some_and(|r| r.is_err()));
        assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
    }

    #[test]
    fn classify_requests() {
        let post = hyper::Method::POST;
        assert!(matches!(
            classify(&post, "/v2/a/b/blobs/uploads/", "mount=sha256:1&from=x"),
            Class::UploadStart { mount: true }
        ));
        assert!(matches!(
            classify(&hyper::Method::GET, "/v2/a/blobs/sha256:1", ""),
            Class::Blob
        ));
        assert!(matches!(
            classify(&hyper::Method::GET, "/v2/a/manifests/1", ""),
            Class::Manifest
        ));
    }

    #[test]
    fn realms_point_at_the_proxy() {
        let origins = Mutex::default();
        let up = "http://127.0.0.1:5000";
        let own = "http://127.0.0.1:7000";
        let rw = |s: &str| {
            realm_rewritten(up, own, &origins, &HeaderValue::from_str(s).unwrap())
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            rw(r#"Bearer realm="http://127.0.0.1:5000/token",service="r""#),
            r#"Bearer realm="http://127.0.0.1:7000/token",service="r""#
        );
        assert_eq!(
            rw(r#"Bearer realm="http://127.0.0.1:6000/v2/token",service="r",scope="a""#),
            r#"Bearer realm="http://127.0.0.1:7000/_proxy/auth/0/v2/token",service="r",scope="a""#
        );
        assert_eq!(
            rw(r#"Bearer realm="http://127.0.0.1:6000/token""#),
            r#"Bearer realm="http://127.0.0.1:7000/_proxy/auth/0/token""#
        );
        assert_eq!(rw(r#"Basic realm="x""#), r#"Basic realm="x""#);
        assert_eq!(lock(&origins).as_slice(), ["http://127.0.0.1:6000"]);
    }

    #[test]
    fn origin_of_urls() {
        assert_eq!(
            origin_of("http://127.0.0.1:5000/v2/").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("127.0.0.1:5000"), None);
    }
}
