//! What the Docker Hub and registry clients share about retrying and remote text: reading
//! `Retry-After` (RFC 9110 section 10.2.3), telling a refused connection (nothing listens there)
//! from a transient one, and taking bearer tokens out of error bodies that echo a request.

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

#[cfg(test)]
mod redact_tests {
    use super::redact_bearer;

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
}
