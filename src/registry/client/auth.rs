//! Authentication against a registry: token scopes ([`Scope`]), the `WWW-Authenticate` challenge
//! ([`parse_challenge`]), Basic credentials or a Bearer token from the realm the challenge names
//! (one token for all the scopes a request needs, cached until shortly before it expires; once a
//! host's challenge is known, the token for new scopes is asked for before the request), which
//! realms receive a registry's credentials ([`realm_use`]), and what a refused login means.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use super::error::{BodyError, error_chain, read_capped};
use super::redirect::url_is_loopback;
use super::{RegistryClient, RegistryCredentials, RegistryError};
use crate::registry::reference::{DOCKER_HUB, Reference};

/// The largest token service response read (Docker Hub's are about 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 256 << 10;

/// Docker Hub's token service: the documented realm of docker.io, which receives its credentials.
pub const DOCKER_HUB_REALM: &str = "https://auth.docker.io";

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
    pub(super) fn param(&self) -> String {
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
/// registry's [`ClientConfig::trusted_realms`](super::ClientConfig::trusted_realms)). Any other realm gets an anonymous request.
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

pub(super) struct CachedToken {
    token: String,
    expires: Instant,
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

impl RegistryClient {
    pub(super) fn cached_auth(
        &self,
        reference: &Reference,
        scope_key: &str,
    ) -> Option<HeaderValue> {
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

    /// What a 401 after the token round means: which registry refused which credential source
    /// (never the credential), and what to do. `detail` is the registry's own text, if any.
    pub(super) fn unauthorized_message(
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

    pub(super) async fn authenticate(
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
                // One token request per (host, scopes) at a time: a request that waited finds the
                // token the one before it fetched (any other than the one it was refused with).
                let refused = self.cached_auth(reference, scope_key);
                let flight = match self.token_flights.lock() {
                    Ok(mut f) => f
                        .entry((host.clone(), scope_key.to_string()))
                        .or_default()
                        .clone(),
                    Err(_) => Arc::default(),
                };
                let _flight = flight.lock().await;
                if let Some(now) = self.cached_auth(reference, scope_key)
                    && Some(&now) != refused.as_ref()
                {
                    return Ok(());
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
                    if let (Ok(mut c), Some(v)) = (
                        self.challenges.lock(),
                        headers.get(reqwest::header::WWW_AUTHENTICATE),
                    ) {
                        c.insert(host.clone(), v.clone());
                    }
                    return Ok(());
                }
                Err(auth_err(format!("token service unavailable: {last}")))
            }
        }
    }

    /// Asks for a token for `scopes` before the first request that needs it, when `reference`'s
    /// host already answered with a Bearer challenge (a token for other scopes was issued): saves
    /// the 401 round trip of each new repository. A failure is left to the usual challenge round.
    pub(super) async fn prefetch_token(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        scope_key: &str,
    ) {
        if self.cached_auth(reference, scope_key).is_some() {
            return;
        }
        let known = self
            .challenges
            .lock()
            .ok()
            .and_then(|c| c.get(reference.api_host()).cloned());
        let Some(challenge) = known else { return };
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::WWW_AUTHENTICATE, challenge);
        if let Err(e) = self
            .authenticate(reference, scopes, scope_key, &headers)
            .await
        {
            tracing::debug!(error = %e, "token asked for ahead of the request not issued");
        }
    }

    /// Waits while another request makes the first contact with `reference`'s host; returns the
    /// guard when this request is to make it (nothing is known yet of how the host
    /// authenticates): hold it until the first answer is handled, then [`Self::contact_made`].
    pub(super) async fn first_contact(
        &self,
        reference: &Reference,
        scope_key: &str,
    ) -> Option<tokio::sync::OwnedMutexGuard<bool>> {
        let host = reference.api_host();
        let known = self.cached_auth(reference, scope_key).is_some()
            || self.challenges.lock().is_ok_and(|c| c.contains_key(host));
        if known {
            return None;
        }
        let contact = match self.first_contact.lock() {
            Ok(mut m) => m.entry(host.to_string()).or_default().clone(),
            Err(_) => return None,
        };
        let guard = contact.lock_owned().await;
        (!*guard).then_some(guard)
    }

    /// The first contact's answer is handled: the requests waiting for it go ahead.
    pub(super) fn contact_made(guard: &mut Option<tokio::sync::OwnedMutexGuard<bool>>) {
        if let Some(mut g) = guard.take() {
            *g = true;
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
}

#[cfg(test)]
mod tests;
