//! The request path of the fault proxy: each request classified, a fault drawn or the pull limit
//! applied ([`spends_a_pull`]), then forwarded upstream with bodies streamed both ways, a body cut
//! short on demand, and `Location` and `WWW-Authenticate` realms rewritten to stay on the proxy.
//! The proxy's options, counters and accept loop are in src/proxy.rs.

use super::*;

/// Why the service closed a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the fault proxy")]
pub(super) struct Dropped;

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

pub(super) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<ProxyBody>, Dropped> {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    let arrived = shared.started.elapsed();
    let traced = (shared.options.trace_limit > 0).then(|| {
        (
            req.method().to_string(),
            req.uri()
                .path()
                .chars()
                .take(TRACE_PATH_CHARS)
                .collect::<String>(),
        )
    });
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    let forwarded = shared.started.elapsed();
    let result = answer(&shared, req, peer).await;
    if let Some((method, path)) = traced {
        let mut trace = lock(&shared.trace);
        if trace.len() < shared.options.trace_limit {
            trace.push(TraceEntry {
                method,
                path,
                client_port: peer.port(),
                arrived,
                forwarded,
                answered: shared.started.elapsed(),
                status: result.as_ref().map(|r| r.status().as_u16()).unwrap_or(0),
            });
        }
    }
    result
}

/// The answer to one request once its latency is spent: a fault, or the upstream's answer.
async fn answer(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<ProxyBody>, Dropped> {
    let c = &shared.counters;
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
                    crate::faults::CLOUDFLARE_429.replace("hub.docker.com", "registry-1.docker.io"),
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
            forward(shared, req, fault.is_some(), cut_fraction).await?
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
mod tests;
