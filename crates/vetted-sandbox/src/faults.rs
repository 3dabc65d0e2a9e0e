//! The middleware around every hub API request (not `/_sandbox/*`): the API budget (Docker's
//! `X-RateLimit-*` headers on every response, and a 429 with `Retry-After` once a window's budget
//! is spent, as Docker Hub answers), fault injection (latency, 5xx with JSON or CDN-style HTML
//! bodies, 429 with `Retry-After`, connections dropped without a complete response), and the
//! request log tests read through `GET /_sandbox/requests` (secrets redacted).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use super::Faults;
use super::api::{App, lock};

/// Largest request body read (Docker Hub's full_description is at most 25,000 characters).
const MAX_BODY: usize = 1024 * 1024;
/// Most log entries kept; the oldest are dropped first.
const MAX_LOG: usize = 10_000;
/// Requests per window by default, announced in `X-RateLimit-Limit` and enforced.
pub const RATE_LIMIT_PER_MINUTE: u64 = 600;
/// The default window.
pub const RATE_LIMIT_WINDOW_SECS: u64 = 60;
/// The largest budget and window accepted (a budget this large is as good as none).
pub const MAX_BUDGET: u64 = 1_000_000_000;
pub const MAX_WINDOW_SECS: u64 = 86_400;

/// The configured faults and the seeded random source that draws them.
pub struct FaultState {
    pub faults: Faults,
    /// `Retry-After` as a unix timestamp rather than seconds.
    pub retry_after_unix: bool,
    /// 429s answer Cloudflare's HTML page ([`CLOUDFLARE_429`]) instead of JSON.
    pub rate_limit_html: bool,
    /// `Some(n)`: only the next n requests draw faults.
    pub only_next: Option<u64>,
    rng: StdRng,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Reset,
    RateLimited,
    ServerError(u16),
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        FaultState {
            faults,
            retry_after_unix: false,
            rate_limit_html: false,
            only_next: None,
            rng,
        }
    }

    /// One draw: reset, then 429, then 5xx, by cumulative probability.
    pub fn draw(&mut self) -> Outcome {
        match self.only_next {
            Some(0) => return Outcome::Pass,
            Some(n) => self.only_next = Some(n - 1),
            None => {}
        }
        let f = &self.faults;
        if f.reset_rate + f.rate_limit_rate + f.error_rate <= 0.0 {
            return Outcome::Pass;
        }
        let x: f64 = self.rng.random();
        if x < f.reset_rate {
            Outcome::Reset
        } else if x < f.reset_rate + f.rate_limit_rate {
            Outcome::RateLimited
        } else if x < f.reset_rate + f.rate_limit_rate + f.error_rate {
            let codes = [500u16, 502, 503];
            Outcome::ServerError(codes[self.rng.random_range(0..codes.len())])
        } else {
            Outcome::Pass
        }
    }
}

/// The API budget: `limit` requests per fixed window of `window_secs`, the first window starting at
/// the first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub limit: u64,
    pub window_secs: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            limit: RATE_LIMIT_PER_MINUTE,
            window_secs: RATE_LIMIT_WINDOW_SECS,
        }
    }
}

impl Budget {
    /// Checks the bounds (1..=[`MAX_BUDGET`] requests, 1..=[`MAX_WINDOW_SECS`] seconds).
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_BUDGET).contains(&self.limit) {
            return Err(format!(
                "the API budget must be 1 to {MAX_BUDGET} requests, got {}",
                self.limit
            ));
        }
        if !(1..=MAX_WINDOW_SECS).contains(&self.window_secs) {
            return Err(format!(
                "the API budget window must be 1 to {MAX_WINDOW_SECS} seconds, got {}",
                self.window_secs
            ));
        }
        Ok(())
    }
}

/// What the budget says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub limit: u64,
    pub remaining: u64,
    /// Unix time the window resets.
    pub reset: u64,
    /// False: the window's budget is spent; the answer is a 429.
    pub allowed: bool,
}

/// A fixed window counting requests against the [`Budget`], and the 429s sent.
#[derive(Debug, Default)]
pub struct RateWindow {
    pub budget: Budget,
    start: u64,
    count: u64,
    /// 429s answered because the budget was spent.
    pub refused: u64,
    /// 429s injected by the fault knobs.
    pub injected: u64,
}

impl RateWindow {
    pub fn new(budget: Budget) -> Self {
        RateWindow {
            budget,
            ..RateWindow::default()
        }
    }

    /// Counts a request at unix time `now` when the budget allows it; a refused request is not
    /// counted in the window (Docker Hub's budget does not shrink further on a 429).
    pub fn admit(&mut self, now: u64) -> Admission {
        let window = self.budget.window_secs.max(1);
        if self.count == 0 || now >= self.start + window {
            self.start = now;
            self.count = 0;
        }
        let limit = self.budget.limit;
        let allowed = self.count < limit;
        if allowed {
            self.count += 1;
        } else {
            self.refused += 1;
        }
        Admission {
            limit,
            remaining: limit.saturating_sub(self.count),
            reset: self.start + window,
            allowed,
        }
    }

    /// Counts a request at `now` regardless of the budget; returns (limit, remaining, reset).
    pub fn hit(&mut self, now: u64) -> (u64, u64, u64) {
        let a = self.admit(now);
        if !a.allowed {
            self.refused -= 1;
        }
        (a.limit, a.remaining, a.reset)
    }

    /// `{limit, window_secs, used, remaining, reset, refused, injected, rate_limited}` for
    /// `GET /_sandbox/rate-limit`; `rate_limited` is every 429 sent.
    pub fn to_json(&self, now: u64) -> Value {
        let window = self.budget.window_secs.max(1);
        let current = self.count > 0 && now < self.start + window;
        let used = if current { self.count } else { 0 };
        json!({
            "limit": self.budget.limit,
            "window_secs": self.budget.window_secs,
            "used": used,
            "remaining": self.budget.limit.saturating_sub(used),
            "reset": if current { Some(self.start + window) } else { None },
            "refused": self.refused,
            "injected": self.injected,
            "rate_limited": self.refused + self.injected,
        })
    }
}

/// One logged API request.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// 0 when the connection was dropped without a response.
    pub status: u16,
    pub request_body: Value,
    pub response_body: Value,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    entries: VecDeque<LogEntry>,
}

impl RequestLog {
    pub fn push(&mut self, e: LogEntry) {
        if self.entries.len() >= MAX_LOG {
            self.entries.pop_front();
        }
        self.entries.push_back(e);
    }
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.iter().cloned().collect()
    }
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Keys whose values are secrets, in request or response bodies.
const SECRET_KEYS: [&str; 4] = ["secret", "password", "access_token", "token"];

/// A body as logged: JSON (secrets replaced by `"<redacted>"`), text, or null when empty.
pub fn log_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            redact(&mut v);
            v
        }
        Err(_) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) {
                    *val = Value::String("<redacted>".into());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Cloudflare's rate-limit page (error 1015) as Docker Hub's edge sends it with a 429: styles,
/// a script and a ray id around the title, none of which belongs in a client's error message.
pub const CLOUDFLARE_429: &str = "<!DOCTYPE html>\n<!--[if lt IE 7]> <html class=\"no-js ie6 oldie\" lang=\"en-US\"> <![endif]-->\n<html class=\"no-js\" lang=\"en-US\">\n<head>\n<title>Access denied | hub.docker.com used Cloudflare to restrict access</title>\n<meta charset=\"UTF-8\" />\n<style>#cf-wrapper{font-family:system-ui}.cf-error-details{display:none}</style>\n<script>(function(){window._cf_chl_opt={cRay:'8f2a1b3c4d5e6f70'};})();</script>\n</head>\n<body>\n<div id=\"cf-wrapper\"><div id=\"cf-error-details\" class=\"cf-error-details-wrapper\">\n<h1><span class=\"cf-error-type\">Error</span> <span class=\"cf-error-code\">1015</span></h1>\n<h2 class=\"cf-subheadline\">You are being rate limited</h2>\n<p>The owner of this website (hub.docker.com) has banned you temporarily from accessing this website.</p>\n<span class=\"cf-footer-item\">Cloudflare Ray ID: <strong>8f2a1b3c4d5e6f70</strong></span>\n</div></div>\n</body>\n</html>\n";

fn html_error(code: u16) -> String {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// A response whose body fails at once: hyper then closes the connection without completing the
/// message, so the client sees a reset / incomplete message rather than an HTTP status.
fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped by sandbox fault injection",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("4096"));
    r
}

/// The middleware: `/_sandbox/*` passes straight through; API requests get faults, rate-limit
/// headers and a log entry.
pub async fn middleware(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let query = req.uri().query().map(str::to_string);
    let (parts, body) = req.into_parts();
    let mut entry = LogEntry {
        method,
        path,
        query,
        status: 0,
        request_body: Value::Null,
        response_body: Value::Null,
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let resp = (
                StatusCode::PAYLOAD_TOO_LARGE,
                axum::Json(json!({"detail": "Request body too large."})),
            )
                .into_response();
            entry.status = 413;
            lock(&app.log).push(entry);
            return with_rate_headers(&app, resp);
        }
    };
    entry.request_body = log_body(&bytes);

    let admission = lock(&app.rate).admit(unix_now());
    if !admission.allowed {
        // Docker Hub answers at once, with the wait and the spent budget.
        let body = json!({"detail": "Rate limit exceeded"});
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body.clone())).into_response();
        let wait = admission.reset.saturating_sub(unix_now()).max(1);
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        entry.status = 429;
        entry.response_body = body;
        lock(&app.log).push(entry);
        return with_admission(resp, admission);
    }

    let (outcome, latency, retry_after, retry_after_unix, rate_limit_html) = {
        let mut f = lock(&app.faults);
        let outcome = f.draw();
        (
            outcome,
            f.faults.latency,
            f.faults.retry_after,
            f.retry_after_unix,
            f.rate_limit_html,
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let resp = match outcome {
        Outcome::Reset => {
            lock(&app.log).push(entry);
            return reset_response();
        }
        Outcome::RateLimited => {
            let mut r = if rate_limit_html {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                    CLOUDFLARE_429,
                )
                    .into_response()
            } else {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"detail": "Rate limit exceeded"})),
                )
                    .into_response()
            };
            let value = if retry_after_unix {
                unix_now() + retry_after.as_secs()
            } else {
                retry_after.as_secs()
            };
            if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Outcome::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if code == 500 {
                (
                    status,
                    axum::Json(json!({"detail": "Internal Server Error"})),
                )
                    .into_response()
            } else {
                (
                    status,
                    [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                    html_error(code),
                )
                    .into_response()
            }
        }
        Outcome::Pass => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    let (rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .unwrap_or_default();
    entry.status = rparts.status.as_u16();
    entry.response_body = log_body(&rbytes);
    lock(&app.log).push(entry);
    let resp = Response::from_parts(rparts, Body::from(rbytes));
    if outcome == Outcome::RateLimited {
        lock(&app.rate).injected += 1;
        return with_admission(
            resp,
            Admission {
                remaining: 0,
                ..admission
            },
        );
    }
    with_admission(resp, admission)
}

fn with_rate_headers(app: &App, resp: Response) -> Response {
    let (limit, remaining, reset) = lock(&app.rate).hit(unix_now());
    with_admission(
        resp,
        Admission {
            limit,
            remaining,
            reset,
            allowed: true,
        },
    )
}

fn with_admission(mut resp: Response, a: Admission) -> Response {
    let (limit, remaining, reset) = (a.limit, a.remaining, a.reset);
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", limit),
        ("x-ratelimit-remaining", remaining),
        ("x-ratelimit-reset", reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            h.insert(name, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn no_faults_always_pass() {
        let mut f = FaultState::new(Faults::default());
        assert!((0..1000).all(|_| f.draw() == Outcome::Pass));
    }

    #[test]
    fn full_rates_always_fire_and_are_reproducible() {
        let all = |faults: Faults| {
            let mut f = FaultState::new(faults);
            (0..200).map(|_| f.draw()).collect::<Vec<_>>()
        };
        let resets = all(Faults {
            reset_rate: 1.0,
            ..Faults::default()
        });
        assert!(resets.iter().all(|o| *o == Outcome::Reset));
        let errors = all(Faults {
            error_rate: 1.0,
            seed: 7,
            ..Faults::default()
        });
        for code in [500, 502, 503] {
            assert!(errors.contains(&Outcome::ServerError(code)), "{code}");
        }
        assert_eq!(
            errors,
            all(Faults {
                error_rate: 1.0,
                seed: 7,
                ..Faults::default()
            })
        );
        let mixed = all(Faults {
            rate_limit_rate: 0.5,
            retry_after: Duration::from_secs(3),
            ..Faults::default()
        });
        assert!(mixed.contains(&Outcome::RateLimited) && mixed.contains(&Outcome::Pass));
    }

    #[test]
    fn only_next_limits_the_faulted_requests() {
        let mut f = FaultState::new(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        f.only_next = Some(2);
        let outcomes: Vec<Outcome> = (0..5).map(|_| f.draw()).collect();
        assert!(matches!(outcomes[0], Outcome::ServerError(_)));
        assert!(matches!(outcomes[1], Outcome::ServerError(_)));
        assert_eq!(&outcomes[2..], [Outcome::Pass; 3]);
    }

    #[test]
    fn rate_window_counts_down_and_resets() {
        let mut w = RateWindow::default();
        assert_eq!(w.hit(1000), (600, 599, 1060));
        assert_eq!(w.hit(1059), (600, 598, 1060));
        assert_eq!(w.hit(1060), (600, 599, 1120));
    }

    #[test]
    fn a_spent_budget_refuses_until_the_window_resets() {
        let mut w = RateWindow::new(Budget {
            limit: 2,
            window_secs: 6,
        });
        assert!(w.admit(1000).allowed);
        let second = w.admit(1001);
        assert!(second.allowed && second.remaining == 0 && second.reset == 1006);
        let refused = w.admit(1005);
        assert!(!refused.allowed && refused.remaining == 0, "{refused:?}");
        assert_eq!(w.refused, 1);
        let next = w.admit(1006);
        assert!(next.allowed && next.remaining == 1 && next.reset == 1012);
        assert_eq!(w.to_json(1007)["rate_limited"], 1);
        assert_eq!(w.to_json(1013)["used"], 0);
        assert!(
            Budget {
                limit: 0,
                window_secs: 60
            }
            .validate()
            .is_err()
        );
        assert!(
            Budget {
                limit: 1,
                window_secs: 0
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn logged_bodies_hide_secrets() {
        let v =
            log_body(br#"{"identifier":"alice","secret":"s3cret","nested":[{"password":"p"}]}"#);
        let text = v.to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("\"p\""),
            "{text}"
        );
        assert_eq!(v["identifier"], "alice");
        assert_eq!(log_body(b"<html>"), Value::String("<html>".into()));
        assert_eq!(log_body(b""), Value::Null);
    }
}
