//! Docker Hub API client: authentication, transport policy (timeouts, retries, rate limits,
//! pagination), reading the live [`OrgState`](crate::model::OrgState) and performing one plan
//! [`Change`](crate::plan::Change) at a time, using the Docker Hub v2 API paths and JSON shapes.

mod access_settings;
mod calls;
mod error;
mod http;
mod listing;
mod pace;
mod probe;
mod read;
mod write;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use error::{Explain, HubError};
pub use listing::{ListingDoubt, REPOSITORY_LIST_SCOPE, is_org_token, listing_doubt};
pub use probe::RateLimit;

use crate::model::{OrgState, Scope};
use crate::plan::Change;

/// A secret (token or password). `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Identifier (username, or org name for an organization access token) and secret.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub secret: Secret,
}

#[derive(Clone, Debug)]
pub struct HubConfig {
    /// `https://hub.docker.com` or the sandbox.
    pub base_url: url::Url,
    pub credentials: Credentials,
    /// Per request.
    pub timeout: Duration,
    pub max_retries: u32,
    /// Cap for one wait (429 Retry-After or backoff).
    pub max_retry_wait: Duration,
    /// Requests in flight at once (the client holds to it, whichever part sends them).
    pub concurrency: usize,
}

impl HubConfig {
    /// Defaults: 30 s timeout, 5 retries, 60 s maximum wait, 24 requests in flight.
    pub fn new(base_url: url::Url, credentials: Credentials) -> Self {
        HubConfig {
            base_url,
            credentials,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            max_retry_wait: Duration::from_secs(60),
            concurrency: 24,
        }
    }
}

/// The client. Cheap to clone; clones share the token, the call counter and the team-id cache.
#[derive(Clone)]
pub struct HubClient {
    inner: Arc<http::Inner>,
}

impl fmt::Debug for HubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("identity", &self.identity())
            .finish_non_exhaustive()
    }
}

impl HubClient {
    /// Exchanges the credentials for a bearer token at `POST /v2/auth/token`.
    pub async fn login(config: HubConfig) -> Result<HubClient, HubError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("vetted/", env!("CARGO_PKG_VERSION")))
            // Never follow a redirect on the hub API: a followed 301/302 turns a POST into a GET of
            // the listing (which answers 200, a silent "done"), and a 307 would resend the login
            // secret to wherever the Location points. A 3xx is an error (http.rs).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| {
                HubError::new(
                    "",
                    config.base_url.as_str(),
                    None,
                    format!("HTTP client setup failed: {e}"),
                )
            })?;
        let config_concurrency = config.concurrency.max(1);
        let inner = http::Inner {
            config,
            http,
            token: tokio::sync::Mutex::new(None),
            calls: AtomicU64::new(0),
            groups: tokio::sync::Mutex::new(Default::default()),
            rate: std::sync::Mutex::new(None),
            slots: tokio::sync::Semaphore::new(config_concurrency),
            pacer: Default::default(),
            endpoints: Default::default(),
            no_grant_listing: Default::default(),
            grant_listing_seen: Default::default(),
        };
        let token = HubClient::fetch_token(&inner).await?;
        *inner.token.lock().await = Some((token, std::time::Instant::now()));
        Ok(HubClient {
            inner: Arc::new(inner),
        })
    }

    /// The identifier used to log in (a username, or the org name for an organization token).
    pub fn identity(&self) -> &str {
        &self.inner.config.credentials.username
    }

    /// The Docker Hub API's origin (`https://hub.docker.com`; never user information).
    pub fn hub_origin(&self) -> String {
        self.inner.config.base_url.origin().ascii_serialization()
    }

    /// Every HTTP request made so far, retries and logins included.
    pub fn api_calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Reads the live state of `org`, fetching only what `scope` asks for (repositories always).
    pub async fn read_state(&self, org: &str, scope: &Scope) -> Result<OrgState, HubError> {
        read::read_state(self, org, scope).await
    }

    /// Whether the repository listing of `org`, as this credential reads it, may leave repositories
    /// out, and why (`Display`: "the repository listing of ORG may be partial because ..."). Reads
    /// the listing; `None` when it can be trusted whole.
    pub async fn repository_listing_doubt(
        &self,
        org: &str,
    ) -> Result<Option<ListingDoubt>, HubError> {
        read::repository_listing_doubt(self, org).await
    }

    /// Tag name -> digest of every tag of `org/repo`.
    pub async fn read_tags(
        &self,
        org: &str,
        repo: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, HubError> {
        read::read_tags(self, org, repo, http::MAX_PAGES).await
    }

    /// [`Self::read_tags`] of a listing of at most `max_pages` pages (100 tags each): a longer
    /// one is an error, for a caller that has a cheaper way to read a few tags.
    pub async fn read_tags_within(
        &self,
        namespace: &str,
        repo: &str,
        max_pages: usize,
    ) -> Result<std::collections::BTreeMap<String, String>, HubError> {
        read::read_tags(self, namespace, repo, max_pages).await
    }

    /// Performs one change against `org`.
    pub async fn execute(&self, org: &str, change: &Change) -> Result<(), HubError> {
        write::execute(self, org, change).await
    }
}
