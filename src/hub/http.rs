//! Transport: login and token renewal, timeouts, retries with jittered backoff, 429 handling,
//! pagination and the call counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use super::error::{HubError, Redactor, describe_body};
use super::{HubClient, HubConfig};

/// Renew the 10-minute token after this long.
const TOKEN_RENEW_AFTER: Duration = Duration::from_secs(8 * 60);
/// Upper bound of pages followed in one listing.
pub(crate) const MAX_PAGES: usize = 10_000;
const BASE_BACKOFF_MS: u64 = 200;
/// The largest Docker Hub response read (a page of 100 repositories is about 100 KiB); a longer
/// one is refused while streaming.
pub(crate) const MAX_BODY_BYTES: usize = 16 << 20;
/// No retry starts once a request has taken this many times its per-attempt timeout.
const RETRY_BUDGET_TIMEOUTS: u32 = 5;

pub(crate) struct Inner {
    pub(crate) config: HubConfig,
    pub(crate) http: reqwest::Client,
    pub(crate) token: Mutex<Option<(String, Instant)>>,
    pub(crate) calls: AtomicU64,
    /// Team name -> numeric group id, per organization.
    pub(crate) groups:
        Mutex<std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>>,
    /// The `X-RateLimit-*` headers of the latest window seen (src/hub/probe.rs reads them).
    pub(crate) rate: std::sync::Mutex<Option<super::probe::RateLimit>>,
    /// Requests in flight at once, whichever part of vetted sends them (`config.concurrency`).
    pub(crate) slots: tokio::sync::Semaphore,
    /// Waits for the API budget instead of running into 429s.
    pub(crate) pacer: super::pace::Pacer,
    /// Requests per endpoint, said with `-v` when the client is done.
    pub(crate) endpoints: super::calls::Calls,
    /// The per-repository grant listing answered 404 or 405: Docker Hub does not offer it here.
    pub(crate) no_grant_listing: std::sync::atomic::AtomicBool,
    /// The per-repository grant listing answered (not 404 or 405) once: repositories stop asking
    /// one at a time.
    pub(crate) grant_listing_seen: Mutex<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let counts = self.endpoints.snapshot();
        if counts.is_empty() {
            return;
        }
        tracing::debug!(
            calls = self.calls.load(Ordering::Relaxed),
            "Docker Hub API calls, per endpoint:"
        );
        for (endpoint, calls) in counts {
            tracing::debug!("  {calls:>6}  {endpoint}");
        }
    }
}

/// A response that was received (any status but a redirect, which [`HubClient::send`] turns into an
/// error). The body of a non-2xx answer has every secret of the request redacted.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The request was sent more than once.
    pub retried: bool,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn backoff(attempt: u32, cap: Duration) -> Duration {
    let exp = BASE_BACKOFF_MS.saturating_mul(1u64 << attempt.min(16));
    let jitter = rand::rng().random_range(0..=exp / 2 + 1);
    Duration::from_millis(exp / 2 + jitter).min(cap)
}

/// Wait requested by a 429: `Retry-After` (seconds, a Unix time or an HTTP date, read by
/// [`parse_retry_after`](crate::transport::parse_retry_after)), else `X-RateLimit-Reset` (a Unix
/// time), capped.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let wait = header("retry-after")
        .and_then(|v| crate::transport::parse_retry_after(v, now))
        .or_else(|| {
            let reset = header("x-ratelimit-reset")?.trim().parse::<u64>().ok()?;
            Some(Duration::from_secs(reset.saturating_sub(now)))
        })?;
    Some(wait.min(cap))
}

impl HubClient {
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// URL under the base for the given path segments (escaped); `slash` adds a trailing `/`.
    pub(crate) fn url(&self, segments: &[&str], slash: bool) -> Result<Url, HubError> {
        let mut url = self.inner.config.base_url.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|_| {
                HubError::new(
                    "",
                    self.inner.config.base_url.as_str(),
                    None,
                    "base URL cannot hold a path".into(),
                )
            })?;
            segs.pop_if_empty();
            segs.extend(segments);
            if slash {
                segs.push("");
            }
        }
        Ok(url)
    }

    pub(crate) async fn fetch_token(inner: &Inner) -> Result<String, HubError> {
        let cfg = &inner.config;
        let mut url = cfg.base_url.clone();
        url.set_path("/v2/auth/token");
        let body = serde_json::json!({
            "identifier": cfg.credentials.username,
            "secret": cfg.credentials.secret.expose(),
        });
        let reply = Self::send_raw(inner, &Method::POST, &url, Some(&body), None).await?;
        if !reply.status.is_success() {
            // The body was redacted on receipt (send_raw): an echo of the request shows no secret.
            return Err(error_of(&Method::POST, &url, &reply));
        }
        match reply.json().get("access_token").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => Ok(t.to_string()),
            _ => Err(HubError::new(
                "POST",
                url.path(),
                Some(reply.status.as_u16()),
                "response has no access_token".into(),
            )),
        }
    }

    async fn bearer(&self, force: bool) -> Result<String, HubError> {
        let mut guard = self.inner.token.lock().await;
        if !force {
            if let Some((tok, at)) = guard.as_ref() {
                if at.elapsed() < TOKEN_RENEW_AFTER {
                    return Ok(tok.clone());
                }
            }
        }
        let tok = Self::fetch_token(&self.inner).await?;
        *guard = Some((tok.clone(), Instant::now()));
        Ok(tok)
    }

    /// One request with the retry policy. `bearer` None = unauthenticated (login).
    async fn send_raw(
        inner: &Inner,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> Result<Reply, HubError> {
        let cfg = &inner.config;
        let started = Instant::now();
        let budget = cfg.timeout.saturating_mul(RETRY_BUDGET_TIMEOUTS);
        let mut attempt: u32 = 0;
        loop {
            // One slot per request in flight; the pacer waits while the budget is spent.
            let slot = inner.slots.acquire().await.map_err(|_| {
                HubError::new(method.as_str(), url.path(), None, "client closed".into())
            })?;
            inner.pacer.admit(method.as_str(), url.path()).await?;
            inner.calls.fetch_add(1, Ordering::Relaxed);
            inner.endpoints.count(method.as_str(), url.path());
            let mut req = inner
                .http
                .request(method.clone(), url.clone())
                .timeout(cfg.timeout);
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let can_retry = attempt < cfg.max_retries && started.elapsed() < budget;
            let outcome = match req.send().await {
                Ok(mut resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let content_type = headers
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    // At most MAX_BODY_BYTES, refused (not retried) beyond, by length or streaming.
                    let too_large = || {
                        HubError::new(
                            method.as_str(),
                            url.path(),
                            Some(status.as_u16()),
                            format!("response larger than {} MiB", MAX_BODY_BYTES >> 20),
                        )
                    };
                    if resp.content_length().unwrap_or(0) > MAX_BODY_BYTES as u64 {
                        return Err(too_large());
                    }
                    let mut body = Vec::new();
                    loop {
                        match resp.chunk().await {
                            Ok(Some(c)) if body.len() + c.len() > MAX_BODY_BYTES => {
                                return Err(too_large());
                            }
                            Ok(Some(c)) => body.extend_from_slice(&c),
                            Ok(None) => break Ok((status, headers, content_type, body)),
                            Err(e) => break Err(e),
                        }
                    }
                }
                Err(e) => Err(e),
            };
            match &outcome {
                Ok((status, headers, _, _)) => inner.pacer.observe(*status, headers),
                Err(_) => inner.pacer.unanswered(),
            }
            drop(slot);
            match outcome {
                Err(e) => {
                    // Every request vetted sends converges when repeated, POSTs included: the
                    // token exchange and privacy are idempotent, and a create that landed the first
                    // time answers "already exists" on the retry, which `write` counts as done.
                    // A refused connection (nothing listens there: a wrong URL) is retried once.
                    let refused = crate::transport::connection_refused(&e);
                    if can_retry && !(refused && attempt >= 1) {
                        let wait = backoff(attempt, cfg.max_retry_wait);
                        tracing::debug!(
                            method = %method,
                            path = url.path(),
                            attempt = attempt + 1,
                            ?wait,
                            error = %crate::registry::client::error_chain(&e),
                            "retrying Docker Hub request"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    let tries = attempt + 1;
                    let origin = cfg.base_url.origin().ascii_serialization();
                    let what = if e.is_timeout() {
                        format!(
                            "timed out after {:?} at {origin} ({tries} attempt(s))",
                            cfg.timeout
                        )
                    } else if e.is_connect() {
                        let why = if refused {
                            "connection refused"
                        } else {
                            "no connection"
                        };
                        format!(
                            "could not connect to {origin} ({why}, {tries} attempt(s)); check \
                             --hub-url or VETTED_HUB_URL (the Docker Hub API, \
                             https://hub.docker.com unless set)"
                        )
                    } else {
                        format!("connection to {origin} reset or closed ({tries} attempt(s))")
                    };
                    return Err(HubError::new(method.as_str(), url.path(), None, what));
                }
                Ok((status, headers, content_type, body_bytes)) => {
                    super::probe::note_rate_limit(&inner.rate, &headers);
                    // Every secret this request carried (the login secret, the bearer token), in
                    // each form an echoing server may show it, is redacted before anything reads
                    // the answer: error messages are built (and truncated) from the redacted text.
                    let redactor =
                        || Redactor::new(&[cfg.credentials.secret.expose(), bearer.unwrap_or("")]);
                    if status.is_redirection() {
                        let location = headers
                            .get(reqwest::header::LOCATION)
                            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                            .unwrap_or_default();
                        return Err(HubError::redirect(
                            method.as_str(),
                            url.path(),
                            status.as_u16(),
                            &redactor().text(&location),
                        ));
                    }
                    let body_bytes = if status.is_success() {
                        body_bytes
                    } else {
                        redactor().bytes(&body_bytes)
                    };
                    if status == StatusCode::TOO_MANY_REQUESTS && can_retry {
                        let wait = rate_limit_wait(&headers, cfg.max_retry_wait)
                            .unwrap_or_else(|| backoff(attempt, cfg.max_retry_wait));
                        tracing::debug!(
                            method = %method,
                            path = url.path(),
                            attempt = attempt + 1,
                            ?wait,
                            "Docker Hub answered 429; retrying"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    if status.is_server_error() && can_retry {
                        let wait = backoff(attempt, cfg.max_retry_wait);
                        tracing::debug!(
                            method = %method,
                            path = url.path(),
                            attempt = attempt + 1,
                            status = status.as_u16(),
                            ?wait,
                            "retrying Docker Hub request"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Ok(Reply {
                        status,
                        content_type,
                        body: body_bytes,
                        retried: attempt > 0,
                    });
                }
            }
        }
    }

    /// An authenticated request; renews the token once on 401.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Reply, HubError> {
        let token = self.bearer(false).await?;
        let reply = Self::send_raw(&self.inner, &method, url, body, Some(&token)).await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            let token = self.bearer(true).await?;
            return Self::send_raw(&self.inner, &method, url, body, Some(&token)).await;
        }
        Ok(reply)
    }

    /// A request that must succeed; returns the JSON body (Null when empty).
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Value, HubError> {
        let reply = self.send(method.clone(), url, body).await?;
        if reply.status.is_success() {
            Ok(reply.json())
        } else {
            Err(error_of(&method, url, &reply))
        }
    }

    /// Follows `next` over every page of a `{count, next, results}` listing.
    pub(crate) async fn list_all(&self, url: Url) -> Result<Vec<Value>, HubError> {
        self.list_pages(url, MAX_PAGES, false).await
    }

    /// [`list_all`](Self::list_all) for a listing Docker Hub may also answer with a bare JSON
    /// array, the whole listing (team members). Elsewhere an array is not a listing: the members
    /// listing's documented "array of pages" would read as entries without usernames.
    pub(crate) async fn list_all_or_array(&self, url: Url) -> Result<Vec<Value>, HubError> {
        self.list_pages(url, MAX_PAGES, true).await
    }

    /// [`list_all`](Self::list_all), also returning the entry count the last page announced
    /// (`count`), for a caller that checks the listing is whole; each page's entries go to
    /// `on_page` as it arrives (so their reads can start before the last page).
    pub(crate) async fn list_all_counted_each(
        &self,
        url: Url,
        on_page: &mut (dyn FnMut(&[Value]) + Send),
    ) -> Result<(Vec<Value>, Option<u64>), HubError> {
        self.list_pages_counted(url, MAX_PAGES, false, on_page)
            .await
    }

    /// [`list_all`](Self::list_all) with an explicit page bound; `bare_array` as in
    /// [`list_all_or_array`](Self::list_all_or_array).
    pub(crate) async fn list_pages(
        &self,
        url: Url,
        max_pages: usize,
        bare_array: bool,
    ) -> Result<Vec<Value>, HubError> {
        Ok(self
            .list_pages_counted(url, max_pages, bare_array, &mut |_| {})
            .await?
            .0)
    }

    /// [`list_pages`](Self::list_pages) with the announced count.
    async fn list_pages_counted(
        &self,
        mut url: Url,
        max_pages: usize,
        bare_array: bool,
        on_page: &mut (dyn FnMut(&[Value]) + Send),
    ) -> Result<(Vec<Value>, Option<u64>), HubError> {
        url.query_pairs_mut().append_pair("page_size", "100");
        let mut out = Vec::new();
        let mut next = Some(url.clone());
        let mut pages = 0usize;
        // The entry count the last page announced.
        let mut count: Option<u64> = None;
        // The current page already answered 404 once.
        let mut missing_once = false;
        while let Some(page) = next.take() {
            if pages >= max_pages {
                return Err(HubError::new(
                    "GET",
                    url.path(),
                    None,
                    format!("listing exceeds {max_pages} pages"),
                ));
            }
            let reply = self.send(Method::GET, &page, None).await?;
            if reply.status == StatusCode::NOT_FOUND && pages > 0 {
                // Docker Hub answers 404 for a page past the end; vetted only asks for the page
                // `next` named, so this is the end only when every announced entry is read.
                if count.is_some_and(|c| out.len() as u64 >= c) {
                    break;
                }
                if !missing_once {
                    missing_once = true;
                    next = Some(page);
                    continue;
                }
                let of = count.map(|c| format!(" of {c}")).unwrap_or_default();
                return Err(HubError::new(
                    "GET",
                    page.path(),
                    Some(404),
                    format!(
                        "page {} of this listing, which the previous page named as `next`, is not \
                         found (asked twice); the listing changed while it was read and would be \
                         partial ({} entries{of} read), so nothing is planned from it; run vetted \
                         again",
                        pages + 1,
                        out.len()
                    ),
                ));
            }
            missing_once = false;
            if !reply.status.is_success() {
                return Err(error_of(&Method::GET, &page, &reply));
            }
            pages += 1;
            let v = reply.json();
            if bare_array {
                if let Value::Array(items) = v {
                    out.extend(items);
                    break;
                }
            }
            match v.get("results").and_then(Value::as_array) {
                Some(items) => {
                    on_page(items);
                    out.extend(items.iter().cloned());
                }
                None => {
                    return Err(HubError::new(
                        "GET",
                        page.path(),
                        Some(reply.status.as_u16()),
                        "response has no results list".into(),
                    ));
                }
            }
            count = v.get("count").and_then(Value::as_u64).or(count);
            next = match v.get("next").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => Some(self.same_origin(n, &page)?),
                _ => None,
            };
        }
        Ok((out, count))
    }

    /// Resolves a `next` link against the base URL, keeping requests (and the token) on its origin.
    fn same_origin(&self, next: &str, current: &Url) -> Result<Url, HubError> {
        let parsed = current.join(next).map_err(|e| {
            HubError::new(
                "GET",
                current.path(),
                None,
                format!("invalid next link: {e}"),
            )
        })?;
        let mut url = self.inner.config.base_url.clone();
        url.set_path(parsed.path());
        url.set_query(parsed.query());
        Ok(url)
    }
}

/// The error for an answer that is not a success (its body is already redacted).
pub(crate) fn error_of(method: &Method, url: &Url, reply: &Reply) -> HubError {
    HubError::new(
        method.as_str(),
        url.path(),
        Some(reply.status.as_u16()),
        describe_body(&reply.content_type, &reply.body),
    )
}
