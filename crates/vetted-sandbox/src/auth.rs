//! Credentials (from the seed), the access tokens `POST /v2/auth/token` issues (10-minute lifetime, as
//! on Docker Hub) and the principal a bearer token stands for. Secrets never appear in Debug output,
//! logs or error messages.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Access tokens live 10 minutes on Docker Hub.
pub const TOKEN_TTL: Duration = Duration::from_secs(600);

/// Most tokens kept at once; the oldest expire first when full (bounds memory).
const MAX_TOKENS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An account password: full user rights.
    Password,
    /// A personal access token: cannot manage organizations or teams.
    Pat,
    /// An organization access token: identifier is the org name; cannot change org settings.
    OrgToken,
}

/// One secret that `POST /v2/auth/token` accepts.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Credential {
    /// Username (password, PAT) or organization name (org token), lowercase.
    pub identifier: String,
    pub secret: String,
    pub kind: CredentialKind,
    /// Organization access tokens only: the scopes it holds (`None`: every scope).
    #[serde(default)]
    pub scopes: Option<BTreeSet<String>>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("identifier", &self.identifier)
            .field("secret", &"<redacted>")
            .field("kind", &self.kind)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    User {
        username: String,
        via_pat: bool,
    },
    OrgToken {
        org: String,
        /// `None`: every scope.
        scopes: Option<BTreeSet<String>>,
    },
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::User { username, .. } => username,
            Principal::OrgToken { org, .. } => org,
        }
    }
}

/// The credential store (from the seed) plus issued access tokens.
#[derive(Default)]
pub struct Auth {
    credentials: Vec<Credential>,
    tokens: BTreeMap<String, (Principal, Instant)>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

/// Why a login or a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    BadCredentials,
    Expired,
    UnknownToken,
}

impl Auth {
    pub fn new(credentials: Vec<Credential>) -> Self {
        Auth {
            credentials,
            tokens: BTreeMap::new(),
        }
    }

    /// Public view of the credentials: identifiers and kinds, never secrets.
    pub fn describe(&self) -> Vec<serde_json::Value> {
        self.credentials
            .iter()
            .map(|c| serde_json::json!({"identifier": c.identifier, "kind": c.kind, "scopes": c.scopes}))
            .collect()
    }

    /// Checks an identifier/secret pair (identifier compared case-insensitively, secret in constant
    /// time with respect to its content) and returns the principal it stands for.
    pub fn check(&self, identifier: &str, secret: &str) -> Result<Principal, AuthFailure> {
        let ident = identifier.trim().to_lowercase();
        let found = self
            .credentials
            .iter()
            .find(|c| c.identifier == ident && constant_time_eq(&c.secret, secret))
            .ok_or(AuthFailure::BadCredentials)?;
        Ok(match found.kind {
            CredentialKind::Password => Principal::User {
                username: ident,
                via_pat: false,
            },
            CredentialKind::Pat => Principal::User {
                username: ident,
                via_pat: true,
            },
            CredentialKind::OrgToken => Principal::OrgToken {
                org: ident,
                scopes: found.scopes.clone(),
            },
        })
    }

    /// Issues an access token for a principal, valid for [`TOKEN_TTL`] from `now`.
    pub fn issue(&mut self, principal: Principal, now: Instant) -> String {
        self.tokens.retain(|_, (_, exp)| *exp > now);
        if self.tokens.len() >= MAX_TOKENS {
            let oldest = self
                .tokens
                .iter()
                .min_by_key(|(_, (_, exp))| *exp)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.tokens.remove(&oldest);
            }
        }
        let bytes: [u8; 32] = rand::rng().random();
        let token = format!("sbx_{}", hex::encode(bytes));
        self.tokens
            .insert(token.clone(), (principal, now + TOKEN_TTL));
        token
    }

    /// Resolves a bearer token at time `now`.
    pub fn resolve(&self, token: &str, now: Instant) -> Result<Principal, AuthFailure> {
        match self.tokens.get(token) {
            None => Err(AuthFailure::UnknownToken),
            Some((_, exp)) if *exp <= now => Err(AuthFailure::Expired),
            Some((p, _)) => Ok(p.clone()),
        }
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(vec![
            Credential {
                identifier: "alice".into(),
                secret: "pw".into(),
                kind: CredentialKind::Password,
                scopes: None,
            },
            Credential {
                identifier: "alice".into(),
                secret: "dckr_pat_x".into(),
                kind: CredentialKind::Pat,
                scopes: None,
            },
            Credential {
                identifier: "acme".into(),
                secret: "dckr_oat_y".into(),
                kind: CredentialKind::OrgToken,
                scopes: None,
            },
        ])
    }

    #[test]
    fn kinds_map_to_principals() {
        let a = auth();
        assert_eq!(
            a.check("Alice", "pw").unwrap(),
            Principal::User {
                username: "alice".into(),
                via_pat: false
            }
        );
        assert_eq!(
            a.check("alice", "dckr_pat_x").unwrap(),
            Principal::User {
                username: "alice".into(),
                via_pat: true
            }
        );
        assert_eq!(
            a.check("acme", "dckr_oat_y").unwrap(),
            Principal::OrgToken {
                org: "acme".into(),
                scopes: None
            }
        );
        assert_eq!(a.check("alice", "nope"), Err(AuthFailure::BadCredentials));
        assert_eq!(a.check("bob", "pw"), Err(AuthFailure::BadCredentials));
    }

    #[test]
    fn tokens_expire_after_ten_minutes() {
        let mut a = auth();
        let t0 = Instant::now();
        let p = a.check("alice", "pw").unwrap();
        let tok = a.issue(p.clone(), t0);
        assert_eq!(a.resolve(&tok, t0 + Duration::from_secs(599)), Ok(p));
        assert_eq!(
            a.resolve(&tok, t0 + Duration::from_secs(600)),
            Err(AuthFailure::Expired)
        );
        assert_eq!(a.resolve("sbx_other", t0), Err(AuthFailure::UnknownToken));
    }

    #[test]
    fn debug_redacts_secrets() {
        let a = auth();
        let text = format!("{a:?}");
        assert!(
            !text.contains("dckr_pat_x") && !text.contains("pw\""),
            "{text}"
        );
        assert!(text.contains("<redacted>"));
    }
}
