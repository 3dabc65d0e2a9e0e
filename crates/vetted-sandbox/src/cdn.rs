//! The sandbox registry's blob CDN: Docker Hub answers a blob GET with a redirect to a CDN host
//! (production.cloudflare.docker.com) whose signed URL must be fetched WITHOUT the registry's
//! `Authorization` header (an object store refuses a request that carries two authentications). The
//! sandbox's registry is configured with distribution's `redirect` storage middleware, so blob GETs
//! and HEADs answer 307 to this server, which serves the blob files straight from the registry's
//! filesystem storage on a second loopback origin (127.0.0.2 where it can bind, so even a client that
//! compares host names only sees another host; else 127.0.0.1 on another port).
//!
//! A request carrying `Authorization` is refused 400 (the object-store answer) and counted, so a
//! test fails when a client forwards its registry credential across the redirect. Paths are only
//! ever `/docker/registry/v2/blobs/sha256/<2 hex>/<64 hex>/data` (the filesystem driver's layout);
//! anything else is a 404, so nothing outside the blob store is reachable. Unsigned: the sandbox
//! models where the credential goes, not URL signing.
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::io::AsyncReadExt as _;
use tokio::task::JoinHandle;

/// What the CDN saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CdnStats {
    /// Requests received (any path).
    pub requests: u64,
    /// Blobs served (GET or HEAD answered 200).
    pub served: u64,
    /// Requests that carried an `Authorization` header (refused 400).
    pub with_authorization: u64,
    /// Blob body bytes sent.
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    served: AtomicU64,
    with_authorization: AtomicU64,
    bytes: AtomicU64,
}

struct Shared {
    /// The registry's storage root (`rootdirectory`).
    root: PathBuf,
    /// `http://127.0.0.2:PORT`.
    url: String,
    counters: Counters,
}

/// A running CDN; stops when dropped.
pub struct Cdn {
    url: url::Url,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Cdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdn")
            .field("url", &self.url.as_str())
            .finish()
    }
}

/// Reads a running [`Cdn`]'s counters; cheap to clone.
#[derive(Clone)]
pub struct CdnObserver(Arc<Shared>);

impl std::fmt::Debug for CdnObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdnObserver").finish_non_exhaustive()
    }
}

impl CdnObserver {
    /// The CDN's origin, `http://127.0.0.2:PORT`.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    pub fn stats(&self) -> CdnStats {
        let c = &self.0.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CdnStats {
            requests: get(&c.requests),
            served: get(&c.served),
            with_authorization: get(&c.with_authorization),
            bytes: get(&c.bytes),
        }
    }
}

/// Binds 127.0.0.2 (another host name than the registry's 127.0.0.1), else 127.0.0.1.
async fn bind() -> std::io::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), 0)).await {
        Ok(l) => Ok(l),
        Err(_) => tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await,
    }
}

impl Cdn {
    /// Serves the blobs under `root` (the registry's storage root directory).
    pub async fn start(root: PathBuf) -> std::io::Result<Cdn> {
        let listener = bind().await?;
        let addr: SocketAddr = listener.local_addr()?;
        let url = url::Url::parse(&format!("http://{addr}"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let shared = Arc::new(Shared {
            root,
            url: url.as_str().trim_end_matches('/').to_string(),
            counters: Counters::default(),
        });
        let app = Router::new()
            .route(
                "/docker/registry/v2/blobs/sha256/{prefix}/{hex}/data",
                get(blob).head(blob),
            )
            .fallback(not_found)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Cdn { url, shared, task })
    }

    /// `http://127.0.0.2:PORT` (the redirect middleware's `baseurl`).
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    pub fn observer(&self) -> CdnObserver {
        CdnObserver(self.shared.clone())
    }
}

impl Drop for Cdn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    (StatusCode::NOT_FOUND, "no such object\n").into_response()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The object-store answer to a request that carries an `Authorization` header besides its signed
/// URL (S3's wording).
const TWO_AUTHS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>";

async fn blob(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    Path((prefix, hex)): Path<(String, String)>,
) -> Response {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    if headers.contains_key(header::AUTHORIZATION) {
        c.with_authorization.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/xml")],
            TWO_AUTHS,
        )
            .into_response();
    }
    if !is_hex(&prefix, 2) || !is_hex(&hex, 64) || !hex.starts_with(&prefix) {
        return (StatusCode::NOT_FOUND, "no such object\n").into_response();
    }
    let path = shared
        .root
        .join("docker/registry/v2/blobs/sha256")
        .join(&prefix)
        .join(&hex)
        .join("data");
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return (StatusCode::NOT_FOUND, "no such object\n").into_response();
    };
    let Ok(meta) = file.metadata().await else {
        return (StatusCode::NOT_FOUND, "no such object\n").into_response();
    };
    c.served.fetch_add(1, Ordering::Relaxed);
    let len = meta.len();
    let head = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (header::CONTENT_LENGTH, len.to_string()),
    ];
    if method == Method::HEAD {
        return (StatusCode::OK, head).into_response();
    }
    let observer = shared.clone();
    // Chunk by chunk, so a large layer passes in constant memory.
    let stream = futures::stream::unfold(Some(file), move |file| {
        let observer = observer.clone();
        async move {
            let mut file = file?;
            let mut buf = vec![0u8; 64 << 10];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    observer
                        .counters
                        .bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    (StatusCode::OK, head, Body::from_stream(stream)).into_response()
}
