//! Authentication endpoints: `POST /v2/auth/token` (identifier + secret -> 10-minute access token,
//! for passwords, personal access tokens and organization access tokens) and the deprecated
//! `POST /v2/users/login` (username + password -> token; refuses organization access tokens).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::api::{ApiError, App, JsonBody, reply};
use super::auth::Principal;

#[derive(Deserialize)]
struct TokenRequest {
    identifier: String,
    secret: String,
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized("Incorrect authentication credentials")
}

/// `POST /v2/auth/token`
pub async fn auth_token(State(app): State<Arc<App>>, body: JsonBody) -> Result<Response, ApiError> {
    let req: TokenRequest = body.parse()?;
    let now = app.now();
    let mut auth = app.auth();
    let principal = auth
        .check(&req.identifier, &req.secret)
        .map_err(|_| bad_credentials())?;
    let token = auth.issue(principal, now);
    Ok(reply(StatusCode::OK, json!({ "access_token": token })))
}

/// `POST /v2/users/login` (deprecated on Docker Hub; kept for older clients)
pub async fn users_login(
    State(app): State<Arc<App>>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let req: LoginRequest = body.parse()?;
    let now = app.now();
    let mut auth = app.auth();
    let principal = auth
        .check(&req.username, &req.password)
        .map_err(|_| bad_credentials())?;
    if let Principal::OrgToken { .. } = principal {
        return Err(ApiError::unauthorized(
            "organization access tokens cannot be used with /v2/users/login; use /v2/auth/token",
        ));
    }
    let token = auth.issue(principal, now);
    Ok(reply(StatusCode::OK, json!({ "token": token })))
}
