//! What the Docker Hub and registry clients share about retrying: reading `Retry-After` (RFC 9110
//! section 10.2.3) and telling a refused connection (nothing listens there) from a transient one.

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
