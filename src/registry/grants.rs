//! What a registry's token service grants a credential: asks for a token with the given scopes
//! through a manifest HEAD's challenge (a HEAD is not counted as a Docker Hub pull) and reads the
//! actions the token's `access` claim holds (the CNCF distribution token format: the service
//! grants the subset of the asked actions the account holds). The token is read, not verified,
//! used for nothing else and never shown.
//!
//! Unconfirmed: that Docker Hub's registry tokens are always JWTs carrying the `access` claim as
//! the distribution token spec describes; a token that is not reads as [`Granted::Unreadable`].

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::client::{MANIFEST_ACCEPT, RegistryClient, RegistryError, Scope};
use super::reference::Reference;

/// What the token service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// A token; the actions it grants on the repository (empty: none).
    Token(BTreeSet<String>),
    /// The registry asked for no token (no login, or Basic auth): what it allows shows on use.
    NoToken,
    /// A token whose grants cannot be read (not a JWT with an `access` claim).
    Unreadable,
}

/// Most `access` entries and actions read from one token.
const MAX_ENTRIES: usize = 64;

/// Asks `reference`'s registry for a token with `scopes` and reads what it grants on
/// `reference`'s repository. A missing manifest (404) is no error: the token is what counts.
pub async fn granted(
    client: &RegistryClient,
    reference: &Reference,
    scopes: &[Scope],
) -> Result<Granted, RegistryError> {
    let url = client.manifest_url(reference, reference.manifest_ref());
    let sent = client
        .send(
            reference,
            scopes,
            Method::HEAD,
            &url,
            |rb| rb.header(reqwest::header::ACCEPT, MANIFEST_ACCEPT),
            |s| s.is_success() || s == StatusCode::NOT_FOUND,
        )
        .await;
    match client.cached_token(reference, scopes) {
        // A token without pull makes the HEAD itself fail with 401: the token still tells.
        Some(token) => Ok(token_actions(&token, &reference.repository)
            .map(Granted::Token)
            .unwrap_or(Granted::Unreadable)),
        None => sent.map(|_| Granted::NoToken),
    }
}

/// The actions a JWT's `access` claim grants on `repository`; `None` when it is not such a token.
pub fn token_actions(token: &str, repository: &str) -> Option<BTreeSet<String>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let access = claims.get("access")?.as_array()?;
    let mut actions = BTreeSet::new();
    for entry in access.iter().take(MAX_ENTRIES) {
        let kind = entry.get("type").and_then(Value::as_str);
        let name = entry.get("name").and_then(Value::as_str);
        if kind != Some("repository") || name != Some(repository) {
            continue;
        }
        for a in entry
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(MAX_ENTRIES)
        {
            if let Some(a) = a.as_str().filter(|a| a.len() <= 32) {
                actions.insert(a.to_string());
            }
        }
    }
    Some(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            enc(&serde_json::json!({"alg": "ES256"})),
            enc(claims)
        )
    }

    #[test]
    fn reads_the_actions_granted_on_the_repository() {
        let t = jwt(&serde_json::json!({"access": [
            {"type": "repository", "name": "acme/other", "actions": ["pull", "push"]},
            {"type": "repository", "name": "acme/redis", "actions": ["pull"]},
        ]}));
        assert_eq!(
            token_actions(&t, "acme/redis"),
            Some(BTreeSet::from(["pull".to_string()]))
        );
        assert_eq!(token_actions(&t, "acme/none"), Some(BTreeSet::new()));
        assert_eq!(token_actions("opaque-token", "acme/redis"), None);
        assert_eq!(token_actions("a.!!!.c", "acme/redis"), None);
        let no_access = jwt(&serde_json::json!({"sub": "alice"}));
        assert_eq!(token_actions(&no_access, "acme/redis"), None);
    }
}
