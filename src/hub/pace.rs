//! Pacing within Docker Hub's API budget: every answer's `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (a Unix time) update an estimate of the requests left in the current window;
//! a request that the estimate does not cover waits for the reset instead of drawing a 429, and the
//! wait is said once per window on stderr. A reset further away than [`MAX_BUDGET_WAIT`] is an
//! error instead of a wait. The decision itself is the pure [`decide`].

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::error::HubError;

/// The longest vetted waits for Docker Hub's API budget to reset.
pub(crate) const MAX_BUDGET_WAIT: Duration = Duration::from_secs(15 * 60);
/// Waited past the announced reset: the reset is whole seconds, and the two clocks differ a little.
const RESET_MARGIN: Duration = Duration::from_millis(1000);
/// Requests of each window left unspent: the first request of the next run (its login, sent alone)
/// learns the budget from its answer instead of drawing a 429.
const RESERVE: i64 = 1;
/// Waits one request makes at most before it is sent regardless (each wait ends at a reset).
const MAX_WAITS: usize = 4;
/// The largest header value read as a number (longer ones are ignored).
const MAX_HEADER_DIGITS: usize = 20;

/// What vetted knows of the current window: when it resets (Unix seconds) and how many more
/// requests it is estimated to allow (the lowest `X-RateLimit-Remaining` seen, less the requests
/// sent since).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub reset: u64,
    pub available: i64,
}

/// Whether a request may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Go,
    /// Wait this long (until the reset, and a margin), then ask again.
    Wait(Duration),
    /// The reset is further away than vetted waits.
    GiveUp(Duration),
}

/// The pacing decision at `now` (since the Unix epoch) for the window `window` (`None`: no budget
/// announced yet, or its window has passed).
pub(crate) fn decide(window: Option<Window>, now: Duration) -> Decision {
    let Some(w) = window else {
        return Decision::Go;
    };
    let reset = Duration::from_secs(w.reset);
    if w.available > RESERVE || now >= reset {
        return Decision::Go;
    }
    let wait = reset - now + RESET_MARGIN;
    if wait > MAX_BUDGET_WAIT {
        Decision::GiveUp(wait)
    } else {
        Decision::Wait(wait)
    }
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    if v.len() > MAX_HEADER_DIGITS {
        return None;
    }
    v.parse().ok()
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[derive(Debug, Default)]
struct State {
    window: Option<Window>,
    /// Requests sent and not yet answered: they may not be counted in the latest `Remaining`.
    in_flight: u64,
    /// The reset of the last window whose wait was said on stderr.
    announced: Option<u64>,
}

/// The shared pacing state of one client.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<State>,
}

impl Pacer {
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Waits until the budget covers one more request, then counts it as sent. `method` and `path`
    /// name the request for the error when the reset is too far away.
    pub(crate) async fn admit(&self, method: &str, path: &str) -> Result<(), HubError> {
        for _ in 0..MAX_WAITS {
            let now = since_epoch();
            let step = self.with_state(|s| {
                if s.window
                    .is_some_and(|w| now >= Duration::from_secs(w.reset))
                {
                    // A new window: its budget is unknown until the next answer says it.
                    s.window = None;
                }
                let d = decide(s.window, now);
                match d {
                    Decision::Go => {
                        if let Some(w) = &mut s.window {
                            w.available -= 1;
                        }
                        s.in_flight += 1;
                        (d, false)
                    }
                    Decision::Wait(_) | Decision::GiveUp(_) => {
                        let reset = s.window.map(|w| w.reset);
                        let first = s.announced != reset;
                        s.announced = reset;
                        (d, first)
                    }
                }
            });
            match step {
                (Decision::Go, _) => return Ok(()),
                (Decision::Wait(wait), first) => {
                    if first {
                        eprintln!(
                            "waiting {} s for Docker Hub's API budget (X-RateLimit-Reset)",
                            wait.as_secs_f64().ceil() as u64
                        );
                    }
                    tracing::debug!(method, path, ?wait, "waiting for Docker Hub's API budget");
                    tokio::time::sleep(wait).await;
                }
                (Decision::GiveUp(wait), _) => {
                    return Err(HubError::new(
                        method,
                        path,
                        None,
                        format!(
                            "Docker Hub's API budget is spent and resets in {} min \
                             (X-RateLimit-Reset), longer than vetted waits ({} min); this request \
                             was not sent: run vetted again after the reset (what was done is kept, \
                             and a re-run continues from there)",
                            wait.as_secs().div_ceil(60),
                            MAX_BUDGET_WAIT.as_secs() / 60
                        ),
                    ));
                }
            }
        }
        // Every wait ended at a reset; the server decides from here (a 429 is retried).
        self.with_state(|s| s.in_flight += 1);
        Ok(())
    }

    /// A request ended without an answer (a transport error).
    pub(crate) fn unanswered(&self) {
        self.with_state(|s| s.in_flight = s.in_flight.saturating_sub(1));
    }

    /// Reads the budget an answer announced. A 429 spends its window until `Retry-After` (seconds,
    /// a Unix time or an HTTP date), else until `X-RateLimit-Reset`.
    pub(crate) fn observe(&self, status: StatusCode, headers: &HeaderMap) {
        let now = since_epoch();
        let limited = status == StatusCode::TOO_MANY_REQUESTS;
        let (remaining, reset) = if limited {
            let retry_after = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::transport::parse_retry_after(v, now.as_secs()));
            let until = match retry_after {
                Some(wait) => Some((now + wait).as_secs_f64().ceil() as u64),
                None => number(headers, "x-ratelimit-reset"),
            };
            (Some(0), until)
        } else {
            (
                number(headers, "x-ratelimit-remaining"),
                number(headers, "x-ratelimit-reset"),
            )
        };
        self.with_state(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            let (Some(remaining), Some(reset)) = (remaining, reset) else {
                return;
            };
            if Duration::from_secs(reset) <= now {
                return;
            }
            if limited {
                s.window = Some(Window {
                    reset,
                    available: 0,
                });
                return;
            }
            let available = i64::try_from(remaining)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(s.in_flight).unwrap_or(i64::MAX));
            s.window = match s.window {
                Some(w) if w.reset == reset => Some(Window {
                    reset,
                    available: w.available.min(available),
                }),
                Some(w) if w.reset > reset => Some(w),
                _ => Some(Window { reset, available }),
            };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn at(secs: u64, ms: u64) -> Duration {
        Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    #[test]
    fn a_covered_request_goes_and_a_spent_budget_waits_for_the_reset() {
        assert_eq!(
            decide(None, at(NOW, 0)),
            Decision::Go,
            "no budget announced"
        );
        let w = |available| {
            Some(Window {
                reset: NOW + 41,
                available,
            })
        };
        assert_eq!(decide(w(2), at(NOW, 0)), Decision::Go);
        assert_eq!(
            decide(w(1), at(NOW, 0)),
            Decision::Wait(Duration::from_secs(42)),
            "until the reset, and a margin"
        );
        assert_eq!(
            decide(w(-3), at(NOW, 500)),
            Decision::Wait(Duration::from_millis(41_500))
        );
        assert_eq!(decide(w(0), at(NOW + 41, 0)), Decision::Go, "reset passed");
        let far = Some(Window {
            reset: NOW + 3600,
            available: 0,
        });
        assert!(matches!(decide(far, at(NOW, 0)), Decision::GiveUp(_)));
        let edge = Some(Window {
            reset: NOW + MAX_BUDGET_WAIT.as_secs() - 1,
            available: 0,
        });
        assert_eq!(decide(edge, at(NOW, 0)), Decision::Wait(MAX_BUDGET_WAIT));
    }

    fn headers(pairs: &[(&str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[tokio::test]
    async fn answers_count_the_budget_down_and_requests_in_flight_are_reserved() {
        let p = Pacer::default();
        let reset = since_epoch().as_secs() + 30;
        let budget = |remaining: u64| {
            headers(&[
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", reset.to_string()),
            ])
        };
        for _ in 0..3 {
            p.admit("GET", "/v2/x").await.unwrap();
        }
        p.observe(StatusCode::OK, &budget(5));
        let window = |p: &Pacer| p.with_state(|s| s.window);
        assert_eq!(
            window(&p),
            Some(Window {
                reset,
                available: 3
            }),
            "two requests still in flight"
        );
        p.observe(StatusCode::OK, &budget(9));
        assert_eq!(window(&p).unwrap().available, 3, "the lowest estimate wins");
        p.admit("GET", "/v2/x").await.unwrap();
        assert_eq!(
            window(&p).unwrap().available,
            2,
            "a sent request spends one"
        );
        // A 429 spends the window until its Retry-After.
        p.observe(StatusCode::TOO_MANY_REQUESTS, &budget(7));
        assert_eq!(window(&p).unwrap().available, 0);
        let mut h = budget(0);
        h.insert("retry-after", "5".parse().unwrap());
        p.observe(StatusCode::TOO_MANY_REQUESTS, &h);
        let w = window(&p).unwrap();
        assert!(
            w.available == 0 && w.reset <= since_epoch().as_secs() + 6,
            "{w:?}"
        );
        let far = headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", (reset + 3600).to_string()),
        ]);
        p.observe(StatusCode::OK, &far);
        let err = p.admit("GET", "/v2/x").await.unwrap_err().to_string();
        assert!(err.contains("longer than vetted waits (15 min)"), "{err}");
        assert!(err.contains("resets in 61 min"), "{err}");
    }
}
