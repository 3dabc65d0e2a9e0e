//! The registry client's error type ([`RegistryError`]) and bounded reads of what a registry sends:
//! capped bodies ([`read_capped`]), error bodies cut to [`MAX_ERROR_BODY_BYTES`] and summarised
//! ([`error_body`]), and one-line error chains.
use reqwest::Response;
use reqwest::header::HeaderMap;

/// How much of an error body is read (shown cut to 300 characters).
pub const MAX_ERROR_BODY_BYTES: usize = 16 << 10;

/// A registry request that failed. What the registry said is remote text: `Display` escapes it
/// ([`crate::untrusted::untrusted`]), so it cannot start a line of its own or reach a terminal raw.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid client configuration: {0}")]
    Config(String),
    #[error("{method} {url}: {}", crate::untrusted::untrusted(.message))]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {url}: HTTP {status}: {}", crate::untrusted::untrusted(.body))]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("authentication with {host} failed: {}", crate::untrusted::untrusted(.message))]
    Auth { host: String, message: String },
    #[error("registry protocol error: {}", crate::untrusted::untrusted(.0))]
    Protocol(String),
}

impl RegistryError {
    /// The HTTP status when the registry answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Why reading a capped body failed.
pub(crate) enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a response body of at most `cap` bytes; a longer one (by `Content-Length`, or while
/// streaming) is refused without reading further.
pub(crate) async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX))
    {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if out.len().saturating_add(chunk.len()) > cap {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// At most the first `cap` bytes of an error body, as text (an unreadable rest is dropped); an
/// HTML page (a CDN's or Cloudflare's 429 or 5xx) is given by its title only
/// ([`crate::transport::html_summary`]).
pub(crate) async fn error_body(mut resp: Response, cap: usize) -> String {
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    while out.len() < cap {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&out);
    let text =
        crate::transport::html_summary(&content_type, &text).unwrap_or_else(|| text.into_owned());
    // A registry that echoes the request must not show a token in our output.
    crate::transport::redact_bearer(&text)
}

pub(crate) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The error and its sources, one line (reqwest hides the interesting part in the sources).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    let mut depth = 0;
    while let Some(inner) = src {
        if depth >= 8 {
            break;
        }
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
        depth += 1;
    }
    s
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.trim().to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s[..end].trim())
}
