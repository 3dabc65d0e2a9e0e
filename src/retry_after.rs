//! `Retry-After` (RFC 9110 section 10.2.3), read the same way by the Docker Hub and registry clients.

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
