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
//!
//! This file owns the options, the counters and the listener; the request path (classifying,
//! faulting, forwarding, rewriting) is src/proxy/forward.rs.

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

mod forward;

use forward::handle;
pub use forward::spends_a_pull;

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
    /// Keep a [`TraceEntry`] for each of the first `trace_limit` requests (0 = none): when each
    /// arrived, went upstream and was answered, for finding where a client's time goes.
    pub trace_limit: usize,
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
            trace_limit: 0,
        }
    }
}

/// One request the proxy saw (kept when [`ProxyOptions::trace_limit`] allows). Times are counted
/// from the proxy's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    pub method: String,
    /// The request's path (at most 200 characters; no query).
    pub path: String,
    /// The client's port: requests with one port came over one connection.
    pub client_port: u16,
    /// When the request's headers arrived.
    pub arrived: Duration,
    /// When it was sent upstream (after the added latency).
    pub forwarded: Duration,
    /// When the upstream's answer (its headers) came back, or the fault was decided.
    pub answered: Duration,
    /// The status the client got (0 = the connection was dropped).
    pub status: u16,
}

/// The longest path a [`TraceEntry`] keeps.
const TRACE_PATH_CHARS: usize = 200;

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
    /// When the proxy started: the origin of [`TraceEntry`] times.
    started: std::time::Instant,
    /// The trace so far (at most `options.trace_limit` entries).
    trace: Mutex<Vec<TraceEntry>>,
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
            started: std::time::Instant::now(),
            trace: Mutex::default(),
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

    /// The requests traced so far ([`ProxyOptions::trace_limit`]).
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.observer().trace()
    }

    /// The time since the proxy started, on the clock of [`TraceEntry`] times.
    pub fn clock(&self) -> Duration {
        self.shared.started.elapsed()
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

    /// The requests traced so far, in the order they were answered ([`ProxyOptions::trace_limit`]).
    pub fn trace(&self) -> Vec<TraceEntry> {
        lock(&self.0.trace).clone()
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
