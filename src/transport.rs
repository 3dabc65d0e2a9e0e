//! What the Docker Hub and registry clients share about retrying and remote text: reading
//! `Retry-After` (RFC 9110 section 10.2.3), telling a refused connection (nothing listens there)
//! from a transient one, taking bearer tokens out of error bodies that echo a request, and
//! summing up an HTML error page (a CDN's or Cloudflare's 429 or 5xx) by its title.

use std::time::{Duration, UNIX_EPOCH};

/// The wait a `Retry-After` value asks for, from `now_epoch` (Unix seconds): delay seconds
/// (fractions accepted), a Unix time (a number above 10^9, as Docker Hub has been seen to send), or
/// an HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms). A time in the past is no
/// wait; anything else is `None`.
pub fn parse_retry_after(v: &str, now_epoch: u64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(n) = v.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        return Some(if n > 1e9 {
            Duration::from_secs((n as u64).saturating_sub(now_epoch))
        } else {
            Duration::from_secs_f64(n)
        });
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at = at.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now_epoch)))
}

/// True when the connection was refused (nothing listens at that address): retried once at most,
/// since waiting rarely helps and a wrong URL should fail in a moment.
pub fn connection_refused(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // The chain is short (reqwest -> hyper-util -> io); bounded all the same.
    for _ in 0..16 {
        let Some(err) = source else { break };
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// Replaces the token after every `Bearer` (any case) with `***`. The separator may be any run of
/// spaces, tabs, line breaks, `=`, `:`, `+`, `%20` or the escapes `\\n`, `\\t`, `\\r` (an echo in
/// JSON or a URL); a token ends at whitespace, a quote, a backslash, a comma or a closing bracket.
/// An error body that echoes the request (hub or registry) never shows a token this way, whatever
/// vetted knows of the secrets.
pub fn redact_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find("bearer") {
        let start = i + found;
        let after = start + "bearer".len();
        let mut tok_start = after;
        // Bounded: each step consumes at least one byte of the text.
        loop {
            let rest = &lower[tok_start..];
            let skip = [
                " ", "\t", "\n", "\r", "=", ":", "+", "%20", "\\n", "\\t", "\\r",
            ]
            .iter()
            .find(|sep| rest.starts_with(**sep))
            .map_or(0, |sep| sep.len());
            if skip == 0 {
                break;
            }
            tok_start += skip;
        }
        if tok_start == after {
            out.push_str(&text[i..after]);
            i = after;
            continue;
        }
        let tok_len = text[tok_start..]
            .find(|c: char| c.is_whitespace() || "\"'\\,;)]}<>&".contains(c))
            .unwrap_or(text.len() - tok_start);
        out.push_str(&text[i..tok_start]);
        if tok_len > 0 {
            out.push_str("***");
        }
        i = tok_start + tok_len;
    }
    out.push_str(&text[i..]);
    out
}

/// The longest HTML page title shown in an error message.
const MAX_TITLE_CHARS: usize = 120;

/// An HTML error page (by `content_type`, or a body that opens like one) summed up for an error
/// message: its `<title>` (tags stripped, whitespace squashed, at most 120 characters), or
/// `"an HTML page"` without one; `None` for anything else. The page itself (styles, scripts, a
/// Cloudflare ray id) never reaches the message. The result is still remote text: callers escape it.
pub fn html_summary(content_type: &str, body: &str) -> Option<String> {
    let head: String = body
        .trim_start()
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    let is_html = content_type.to_ascii_lowercase().contains("html")
        || head.starts_with("<!doctype html")
        || head.starts_with("<html");
    if !is_html {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let title = lower.find("<title").and_then(|open| {
        let start = open + lower[open..].find('>')? + 1;
        let end = start + lower[start..].find("</title")?;
        body.get(start..end)
    });
    let text = title
        .map(|t| {
            let mut stripped = String::new();
            let mut in_tag = false;
            for c in t.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' if in_tag => in_tag = false,
                    _ if !in_tag => stripped.push(c),
                    _ => {}
                }
            }
            stripped.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .filter(|t| !t.is_empty());
    Some(match text {
        Some(t) if t.chars().count() > MAX_TITLE_CHARS => {
            let cut: String = t.chars().take(MAX_TITLE_CHARS).collect();
            format!("an HTML page titled \"{cut}…\"")
        }
        Some(t) => format!("an HTML page titled \"{t}\""),
        None => "an HTML page".to_string(),
    })
}

#[cfg(test)]
mod redact_tests {
    use super::{html_summary, redact_bearer};

    #[test]
    fn bearer_tokens_are_redacted_in_every_echoed_form() {
        for (text, want) in [
            ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
            (
                "authorization=bearer%20abc.def&x=1",
                "authorization=bearer%20***&x=1",
            ),
            ("{\"h\":\"Bearer\\nabc.def\"}", "{\"h\":\"Bearer\\n***\"}"),
            ("bearer=abc.def, next", "bearer=***, next"),
            ("BEARER\tabc", "BEARER\t***"),
            ("Bearer+abc", "Bearer+***"),
            ("no token: bearer", "no token: bearer"),
            ("bearers are fine", "bearers are fine"),
        ] {
            assert_eq!(redact_bearer(text), want, "{text}");
        }
    }

    #[test]
    fn html_pages_are_summed_up_by_title() {
        let cloudflare = "<!DOCTYPE html>\n<html><head><title>Access denied | registry-1.docker.io used Cloudflare to restrict access</title><style>body{color:red}</style></head><body><script>x()</script>Ray ID: 1234</body></html>";
        let s = html_summary("text/html; charset=UTF-8", cloudflare).unwrap();
        assert_eq!(
            s,
            "an HTML page titled \"Access denied | registry-1.docker.io used Cloudflare to restrict access\""
        );
        // By its opening when the content type says nothing.
        assert_eq!(
            html_summary("", "  <html><body>busy</body></html>").as_deref(),
            Some("an HTML page")
        );
        let long = format!("<html><title>{}</title></html>", "x".repeat(500));
        let s = html_summary("text/html", &long).unwrap();
        assert_eq!(
            s.chars().count(),
            "an HTML page titled \"\"…".chars().count() + 120
        );
        assert_eq!(html_summary("application/json", "{\"detail\":1}"), None);
        assert_eq!(html_summary("text/plain", "too many"), None);
        // Tags inside the title go; an unterminated title is "an HTML page".
        assert_eq!(
            html_summary("text/html", "<title><b>429</b> Too Many</title>").as_deref(),
            Some("an HTML page titled \"429 Too Many\"")
        );
        assert_eq!(
            html_summary("text/html", "<title>never closed").as_deref(),
            Some("an HTML page")
        );
    }
}
