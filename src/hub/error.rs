//! Errors from the Docker Hub client: which request failed, how, and a hint for the known traps.
//! Messages never contain credentials: [`Redactor`] removes every secret a request carried from the
//! answer (raw, JSON-escaped in the styles servers use, percent-encoded, and any `Bearer <token>`)
//! before an error message is cut from it, and the message is then bounded.

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
        let hint = hint_for(method, path, status, &message);
        HubError {
            method: method.to_string(),
            path: path.to_string(),
            status,
            message,
            hint,
        }
    }

    /// A 3xx answer: vetted never follows redirects on the hub API (a followed 301 turns a POST
    /// into a GET that answers 200 without doing anything), so it is an error naming the target.
    pub(crate) fn redirect(method: &str, path: &str, status: u16, location: &str) -> Self {
        let to = if location.is_empty() {
            "no Location".to_string()
        } else {
            format!("redirected to {}", truncate(location, 200))
        };
        Self::new(method, path, Some(status), to)
    }

    /// The same error with `hint` (replacing any hint derived from the status).
    pub(crate) fn with_hint(mut self, hint: String) -> Self {
        self.hint = Some(hint);
        self
    }

    /// True when Docker Hub answered a create with "this name is taken": 409, or a 400 whose
    /// explanation says "already exists" (what the sandbox answers for a repository; the status
    /// Docker Hub uses is unconfirmed, so both are read).
    pub(crate) fn says_already_exists(&self) -> bool {
        match self.status {
            Some(409) => true,
            Some(400) => self.message.to_ascii_lowercase().contains("already exists"),
            _ => false,
        }
    }

    /// True when Docker Hub refused the credentials or their permissions (401/403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status, Some(401) | Some(403))
    }

    /// Adds the hint for a 404 or 403 that only the caller can explain: which organization was
    /// asked for, on which hub, with which credential, and where the organization is named. An
    /// error that already carries a hint keeps it.
    pub fn explain(mut self, ctx: &Explain<'_>) -> Self {
        if self.hint.is_some() {
            return self;
        }
        let org = ctx.org;
        let path = self.path.trim_end_matches('/');
        let org_level = [
            format!("/v2/orgs/{org}/settings"),
            format!("/v2/orgs/{org}/members"),
            format!("/v2/orgs/{org}/invites"),
            format!("/v2/orgs/{org}/groups"),
            format!("/v2/namespaces/{org}/repositories"),
        ];
        let is_read = self.method == "GET";
        let oat = super::listing::is_org_token(ctx.identity, org);
        self.hint = match self.status {
            Some(404) if is_read && org_level.iter().any(|p| p == path) => Some(format!(
                "no organization {org} on {}, or the credential ({}) is not a member of it; check {}",
                ctx.hub, ctx.identity, ctx.org_source
            )),
            Some(403) => {
                let what = if path.starts_with(&format!(
                    "/v2/orgs/{org}/settings/registry-access-management"
                )) {
                    if is_read {
                        "reading Registry Access Management needs membership of"
                    } else {
                        "changing Registry Access Management needs the owner role in"
                    }
                } else if path.starts_with(&format!("/v2/orgs/{org}/settings")) {
                    if is_read {
                        "reading Image Access Management needs membership of"
                    } else {
                        "changing Image Access Management needs the owner role in"
                    }
                } else if path.starts_with(&format!("/v2/orgs/{org}/invites"))
                    || path.starts_with("/v2/invites")
                {
                    // Listing invites is for owners too (the OpenAPI's "List org invites").
                    if is_read {
                        "reading invites needs the owner role in"
                    } else {
                        "managing invites needs the owner role in"
                    }
                } else if path.starts_with(&format!("/v2/orgs/{org}/")) {
                    if is_read {
                        "reading members and teams needs membership of"
                    } else {
                        "managing members and teams needs the owner role in"
                    }
                } else if path.contains("/groups") {
                    if is_read {
                        "reading team grants needs membership of"
                    } else {
                        // Docker's core roles: "Assign team permissions to repositories" is
                        // allowed to editors and owners.
                        "changing team grants needs the editor or owner role in"
                    }
                } else if is_read {
                    "reading repositories needs membership of"
                } else {
                    "creating, changing and deleting repositories needs the editor or owner role in"
                };
                let who = if oat {
                    match oat_scope_for(&self.method, path, org) {
                        Some(scope) => format!(
                            "the organization access token for {org} lacks the scope this call \
                             needs ({scope}, or a scope that includes it); give it that scope, or \
                             log in as a user with that role"
                        ),
                        None => format!(
                            "the organization access token for {org} lacks the scope for this call \
                             (and none can change Image Access Management)"
                        ),
                    }
                } else {
                    format!(
                        "{} is not a member, or has a lower role; log in as a user with that role",
                        ctx.identity
                    )
                };
                Some(format!("{what} {org}: {who}"))
            }
            _ => None,
        };
        self
    }

    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

/// The organization access token scope a call needs (Docker's access-token reference; a higher
/// scope of the same kind includes it), for the 403 hint. `path` has no trailing slash. `None` where
/// no scope is known (settings: an organization access token cannot change Image Access Management).
fn oat_scope_for(method: &str, path: &str, org: &str) -> Option<&'static str> {
    let read = method == "GET" || method == "HEAD";
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    let repos = format!("/v2/namespaces/{org}/repositories");
    let legacy = format!("/v2/repositories/{org}/");
    Some(
        if under(&format!(
            "/v2/orgs/{org}/settings/registry-access-management"
        )) {
            if read {
                "scope-ram-read"
            } else {
                "scope-ram-write"
            }
        } else if under(&format!("/v2/orgs/{org}/settings")) {
            return None;
        } else if under(&format!("/v2/orgs/{org}/members")) {
            if read {
                "scope-member-read"
            } else {
                "scope-member-edit"
            }
        } else if under(&format!("/v2/orgs/{org}/invites")) || under("/v2/invites") {
            if read {
                "scope-invite-read"
            } else {
                "scope-invite-edit"
            }
        } else if under(&format!("/v2/orgs/{org}/groups")) {
            if read {
                "scope-group-read"
            } else {
                "scope-group-edit"
            }
        } else if path == repos {
            if read {
                return None;
            }
            "scope-repository-create"
        } else if let Some(rest) = path.strip_prefix(&format!("{repos}/")) {
            if rest.contains("/tags") {
                "scope-tag-read"
            } else {
                "scope-repository-read"
            }
        } else if let Some(rest) = path.strip_prefix(&legacy) {
            let sub = rest.split('/').nth(1).unwrap_or("");
            match (sub, method) {
                ("groups", "GET") => "scope-repo-group-read",
                ("groups", "DELETE") => "scope-repo-group-admin",
                ("groups", _) => "scope-repo-group-edit",
                ("tags", "DELETE") => "scope-tag-admin",
                ("tags", _) => "scope-tag-read",
                ("", "DELETE") => "scope-repository-admin",
                ("", "GET") => return None,
                _ => "scope-repository-edit",
            }
        } else {
            return None;
        },
    )
}

/// What [`HubError::explain`] needs to know about the call: the organization, the hub's URL, the
/// identifier logged in with (never the secret) and where the organization was named.
pub struct Explain<'a> {
    pub org: &'a str,
    pub hub: &'a str,
    pub identity: &'a str,
    /// E.g. "`org` in vetted.toml", or "--org".
    pub org_source: &'a str,
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn hint_for(method: &str, path: &str, status: Option<u16>, message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    match status {
        Some(s @ 300..=399) => Some(format!(
            "Docker Hub answered {s} to {method} {path}: the path form is wrong; this is a bug in \
             vetted, please report it (vetted does not follow redirects on the Docker Hub API, so \
             nothing was changed by this request)"
        )),
        Some(401) if path.ends_with("/v2/auth/token") => Some(
            "check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (for an organization access token the \
             identifier is the organization name)"
                .to_string(),
        ),
        Some(403) if lower.contains("personal access token") => Some(
            "a personal access token cannot manage organizations, their teams or their settings; \
             use the password of a user with the role needed, or an organization access token \
             (which cannot change Image Access Management: that needs an owner's password)"
                .to_string(),
        ),
        // Other 403s and 404s depend on the organization and the credential:
        // [`HubError::explain`] adds them.
        _ => None,
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.method, self.path)?;
        if let Some(s) = self.status {
            write!(f, "{} {}", s, reason(s))?;
            if !self.message.is_empty() {
                write!(f, ": {}", crate::untrusted::untrusted(&self.message))?;
            }
        } else {
            f.write_str(&crate::untrusted::untrusted(&self.message))?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HubError {}

/// Characters of Docker Hub's explanation kept in a message.
const MAX_MESSAGE: usize = 200;

/// Secrets shorter than this are not searched for (they would mangle every message; Docker Hub
/// passwords and tokens are far longer).
const MIN_SECRET: usize = 4;

/// Removes secrets from remote text. Built from the secrets one request carried; knows each in the
/// forms an echoing server shows it: raw; JSON-escaped once and twice (an echoed request body inside
/// a JSON string), in the escaping styles of common servers (minimal, `\uXXXX` for non-ASCII as
/// Python does, `\u003c`-style HTML escapes as Go does, `\/` as PHP does, either hex case);
/// HTML-escaped (an HTML error page); and percent-encoded. Any `Bearer <token>` is redacted whatever the token.
pub(crate) struct Redactor {
    forms: Vec<String>,
}

/// One JSON string-escaping style.
#[derive(Clone, Copy)]
struct Style {
    ascii: bool,
    html: bool,
    slash: bool,
    upper: bool,
}

fn json_escape(s: &str, st: Style) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let hex = |out: &mut String, u: u16| {
        if st.upper {
            out.push_str(&format!("\\u{u:04X}"));
        } else {
            out.push_str(&format!("\\u{u:04x}"));
        }
    };
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '/' if st.slash => out.push_str("\\/"),
            '<' | '>' | '&' if st.html => hex(&mut out, c as u16),
            '\u{2028}' | '\u{2029}' if st.html => hex(&mut out, c as u16),
            c if (c as u32) < 0x20 => hex(&mut out, c as u16),
            c if st.ascii && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    hex(&mut out, *u);
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl Redactor {
    pub(crate) fn new(secrets: &[&str]) -> Self {
        let mut forms = Vec::new();
        for secret in secrets.iter().filter(|s| s.chars().count() >= MIN_SECRET) {
            forms.push(secret.to_string());
            for bits in 0..16u8 {
                let st = Style {
                    ascii: bits & 1 != 0,
                    html: bits & 2 != 0,
                    slash: bits & 4 != 0,
                    upper: bits & 8 != 0,
                };
                let once = json_escape(secret, st);
                let twice = json_escape(&once, st);
                forms.push(once);
                forms.push(twice);
            }
            forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
            forms.push(
                url::form_urlencoded::byte_serialize(secret.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20"),
            );
        }
        // Each form also HTML-escaped (an HTML error page echoing the request), in Python's and
        // Go's entity styles.
        let mut html = Vec::new();
        for f in &forms {
            for (quot, apos) in [("&quot;", "&#x27;"), ("&#34;", "&#39;")] {
                html.push(
                    f.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                        .replace('"', quot)
                        .replace('\'', apos),
                );
            }
        }
        forms.extend(html);
        // Longest first, so a form that contains another is replaced whole.
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Redactor { forms }
    }

    /// The text with every known form of every secret, and every bearer token, replaced by `***`.
    pub(crate) fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for f in &self.forms {
            if out.contains(f.as_str()) {
                out = out.replace(f.as_str(), "***");
            }
        }
        crate::transport::redact_bearer(&out)
    }

    /// [`text`](Self::text) on a body (invalid UTF-8 is replaced first, so nothing hides in it).
    pub(crate) fn bytes(&self, body: &[u8]) -> Vec<u8> {
        self.text(&String::from_utf8_lossy(body)).into_bytes()
    }
}

/// Extracts Docker Hub's explanation from an error body: `detail`/`message`/`errinfo` for JSON, or a
/// short tag-stripped excerpt for anything else.
pub(crate) fn describe_body(content_type: &str, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["detail", "message", "error", "errors"] {
            match v.get(key) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => {
                    return truncate(s, MAX_MESSAGE);
                }
                Some(other) if !other.is_null() => {
                    return truncate(&other.to_string(), MAX_MESSAGE);
                }
                _ => {}
            }
        }
        return truncate(&v.to_string(), MAX_MESSAGE);
    }
    let text = String::from_utf8_lossy(body);
    let ct = if content_type.is_empty() {
        "unknown content type"
    } else {
        content_type
    };
    // An HTML page (a CDN's or Cloudflare's 429 or 5xx): its title, never its styles or scripts.
    if let Some(page) = crate::transport::html_summary(content_type, &text) {
        return format!("non-JSON body ({}): {page}", truncate(ct, 100));
    }
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
    format!(
        "non-JSON body ({}): {}",
        truncate(ct, 100),
        truncate(&squashed, MAX_MESSAGE)
    )
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
