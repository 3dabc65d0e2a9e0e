//! Errors from the Docker Hub client: which request failed, how, and a hint for the known traps.
//! Messages never contain credentials.

use std::fmt;

/// A failed Docker Hub call. `Display` names the method, the path, the status and Docker Hub's own
/// explanation, followed by a hint when the failure is a known trap.
#[derive(Debug, Clone)]
pub struct HubError {
    method: String,
    path: String,
    status: Option<u16>,
    message: String,
    hint: Option<String>,
}

impl HubError {
    pub(crate) fn new(method: &str, path: &str, status: Option<u16>, message: String) -> Self {
        let hint = hint_for(path, status, &message);
        HubError {
            method: method.to_string(),
            path: path.to_string(),
            status,
            message,
            hint,
        }
    }

    /// True when Docker Hub refused the credentials or their permissions (401/403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status, Some(401) | Some(403))
    }

    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn hint_for(path: &str, status: Option<u16>, message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    match status {
        Some(401) if path.ends_with("/v2/auth/token") => Some(
            "check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (for an organization access token the \
             identifier is the organization name)"
                .to_string(),
        ),
        Some(403) if lower.contains("personal access token") => Some(
            "a personal access token cannot manage organizations or teams; use an organization \
             access token or the account password"
                .to_string(),
        ),
        Some(403) if path.ends_with("/settings") => Some(
            "Image Access Management can only be changed with an owner's credentials (password or \
             personal access token of a user with the owner role), not an organization access token"
                .to_string(),
        ),
        _ => None,
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.method, self.path)?;
        if let Some(s) = self.status {
            write!(f, "{} {}", s, reason(s))?;
            if !self.message.is_empty() {
                write!(f, ": {}", crate::render::untrusted(&self.message))?;
            }
        } else {
            f.write_str(&crate::render::untrusted(&self.message))?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HubError {}

/// Extracts Docker Hub's explanation from an error body: `detail`/`message`/`errinfo` for JSON, or a
/// short tag-stripped excerpt for anything else.
pub(crate) fn describe_body(content_type: &str, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["detail", "message", "error", "errors"] {
            match v.get(key) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => return s.clone(),
                Some(other) if !other.is_null() => return other.to_string(),
                _ => {}
            }
        }
        return truncate(&v.to_string(), 200);
    }
    let text = String::from_utf8_lossy(body);
    let mut stripped = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                stripped.push(' ');
            }
            _ if !in_tag => stripped.push(c),
            _ => {}
        }
    }
    let squashed = stripped.split_whitespace().collect::<Vec<_>>().join(" ");
    let ct = if content_type.is_empty() {
        "unknown content type"
    } else {
        content_type
    };
    format!("non-JSON body ({ct}): {}", truncate(&squashed, 200))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}
