//! Control endpoints for tests and demos (`/_sandbox/*`, never faulted or logged): the full state
//! (credentials listed without their secrets), the fault knobs, the API budget and the 429s sent,
//! the request log, and the sandbox clock (advanced to test access-token expiry without waiting 10 minutes).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::api::{ApiError, App, JsonBody, lock, reply};
use super::faults::{Budget, FaultState, RateWindow};
use super::{Faults, FaultsJson};
use serde::Deserialize;

/// `GET /_sandbox/state`
pub async fn state(State(app): State<Arc<App>>) -> Response {
    let hub = app.snapshot();
    let credentials = app.auth().describe();
    let mut body = serde_json::to_value(&hub).unwrap_or_else(|e| json!({"error": e.to_string()}));
    if let Some(obj) = body.as_object_mut() {
        obj.insert("credentials".into(), json!(credentials));
    }
    reply(StatusCode::OK, body)
}

/// `GET /_sandbox/registry`: the blob CDN's counters (requests, blobs served, requests that
/// carried `Authorization`) and, with a pull limit, the pulls left and spent; 404 without a
/// registry.
pub async fn registry(State(app): State<Arc<App>>) -> Response {
    match app.registry_observers() {
        Some(o) => reply(StatusCode::OK, o.to_json()),
        None => reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "this sandbox runs no registry"}),
        ),
    }
}

/// `GET /_sandbox/signing`: the public halves of the keys that signed the `signed/` images (the
/// upstream key's PEM, the other key's, the keyless identity and issuer, the `trusted_root.json`)
/// and those images' names; 404 without a registry.
pub async fn signing(State(app): State<Arc<App>>) -> Response {
    match app.signing() {
        Some(s) => reply(StatusCode::OK, s.clone()),
        None => reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "this sandbox runs no registry"}),
        ),
    }
}

/// `GET /_sandbox/faults`
pub async fn get_faults(State(app): State<Arc<App>>) -> Response {
    let state = lock(&app.faults);
    let mut f = state.faults.to_json();
    f.retry_after_unix = state.retry_after_unix;
    f.rate_limit_html = state.rate_limit_html;
    f.only_next = state.only_next;
    reply(StatusCode::OK, json!(f))
}

/// `PUT /_sandbox/faults` with a JSON [`FaultsJson`]; missing fields mean "no fault". Reseeds the
/// random source, so the same settings give the same sequence.
pub async fn put_faults(State(app): State<Arc<App>>, body: JsonBody) -> Result<Response, ApiError> {
    let j: FaultsJson = body.parse()?;
    let retry_after_unix = j.retry_after_unix;
    let rate_limit_html = j.rate_limit_html;
    let only_next = j.only_next;
    let faults = Faults::from(j);
    faults.validate().map_err(ApiError::bad_request)?;
    let mut out = faults.to_json();
    out.retry_after_unix = retry_after_unix;
    out.rate_limit_html = rate_limit_html;
    out.only_next = only_next;
    let mut state = FaultState::new(faults);
    state.retry_after_unix = retry_after_unix;
    state.rate_limit_html = rate_limit_html;
    state.only_next = only_next;
    *lock(&app.faults) = state;
    Ok(reply(StatusCode::OK, json!(out)))
}

/// `GET /_sandbox/requests`
pub async fn requests(State(app): State<Arc<App>>) -> Response {
    let entries = lock(&app.log).entries();
    reply(StatusCode::OK, json!(entries))
}

/// `DELETE /_sandbox/requests`
pub async fn clear_requests(State(app): State<Arc<App>>) -> StatusCode {
    lock(&app.log).clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_secs: u64,
}

/// `POST /_sandbox/clock` {advance_secs}: moves the sandbox clock forward (tokens expire as if that
/// much time had passed). Answers the total advance.
pub async fn advance_clock(
    State(app): State<Arc<App>>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let req: ClockBody = body.parse()?;
    let total = app.advance_clock(Duration::from_secs(req.advance_secs));
    Ok(reply(
        StatusCode::OK,
        json!({ "offset_secs": total.as_secs() }),
    ))
}

/// `GET /_sandbox/rate-limit`: the API budget, the current window and the 429s sent
/// (`refused`: for the spent budget, `injected`: by the fault knobs, `rate_limited`: both).
pub async fn get_rate_limit(State(app): State<Arc<App>>) -> Response {
    let now = unix_now();
    reply(StatusCode::OK, lock(&app.rate).to_json(now))
}

/// `PUT /_sandbox/rate-limit` with `{limit, window_secs}`: a new budget, its window starting at
/// the next request; the counters of 429s sent are kept.
pub async fn put_rate_limit(
    State(app): State<Arc<App>>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let budget: Budget = body.parse()?;
    budget.validate().map_err(ApiError::bad_request)?;
    let now = unix_now();
    let mut rate = lock(&app.rate);
    let (refused, injected) = (rate.refused, rate.injected);
    *rate = RateWindow::new(budget);
    rate.refused = refused;
    rate.injected = injected;
    Ok(reply(StatusCode::OK, rate.to_json(now)))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
