//! Sending a registry request: the request built once per attempt, the cached auth attached, one
//! challenge round on a 401, bounded retries of resets, timeouts, 5xx and 429 (honouring
//! `Retry-After`, not retrying a spent Docker Hub pull limit) with jittered backoff, an overall
//! deadline per attempt and a retry budget per request; and the single unretried send of a
//! streamed upload.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::error::{MAX_ERROR_BODY_BYTES, error_body, error_chain, header_str, truncate};
use super::ratelimit::{parse_ratelimit, parse_retry_after, spends_a_spent_pull};
use super::{RegistryClient, RegistryError, Scope, normalise_scopes};
use crate::registry::reference::Reference;

impl RegistryClient {
    /// Sends a request built by `build` (called once per attempt), authenticating with the given
    /// scopes when challenged and retrying transient failures. Non-success statuses are returned as
    /// responses when `ok_status` accepts them, otherwise as [`RegistryError::Status`]. Each
    /// attempt, body included, ends by [`ClientConfig::request_deadline`](super::ClientConfig::request_deadline); no retry starts past
    /// [`ClientConfig::retry_budget`](super::ClientConfig::retry_budget).
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
    /// (a 1 GiB layer takes its time), only [`ClientConfig::request_timeout`](super::ClientConfig::request_timeout) between reads.
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
        let mut first_contact = self.first_contact(reference, &scope_key).await;
        self.prefetch_token(reference, &scopes, &scope_key).await;
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
                        Self::contact_made(&mut first_contact);
                        attempt -= 1; // the challenge round is not a failed attempt
                        continue;
                    }
                    Self::contact_made(&mut first_contact);
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

    /// Refuses a retry that would start past [`ClientConfig::retry_budget`](super::ClientConfig::retry_budget) (counted from
    /// `started`, the first attempt).
    pub(super) fn within_budget(
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
}
