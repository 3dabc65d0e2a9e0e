//! The hub API's HTTP plumbing: Docker-style error bodies ([`ApiError`]), the bearer-token
//! ([`Caller`]) and JSON-body ([`JsonBody`]) extractors, and pagination (`page`, `page_size` <= 100,
//! `{count, next, previous, results}`, 404 past the end).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::{AuthFailure, Principal};

/// An error answer in Docker Hub's shape: `{"detail": ...}` (400s also carry `message` and
/// `errinfo`, the spec's `error` schema).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    /// Extra headers (boxed to keep `Result<_, ApiError>` small).
    pub headers: Option<Box<HeaderMap>>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "detail": detail.into() }),
            headers: None,
        }
    }
    /// A validation failure of one request field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "detail": message, "message": message, "errinfo": { field: [message] } }),
            headers: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "detail": detail, "message": detail }),
            headers: None,
        }
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found.")
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }
    pub fn no_permission() -> Self {
        Self::forbidden("You do not have permission to perform this action.")
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, detail);
        let mut h = HeaderMap::new();
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sandbox\""),
        );
        e.headers = Some(Box::new(h));
        e
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        if let Some(h) = self.headers {
            r.headers_mut().extend(*h);
        }
        r
    }
}

/// JSON answer with a status.
pub fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The caller, from `Authorization: Bearer <access_token>`; `None` when the header is absent.
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let text = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("Invalid Authorization header."))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "Authorization header must be 'Bearer <access_token>' (get one from POST /v2/auth/token).",
                )
            })?;
        let now = app.now();
        match app.auth().resolve(token, now) {
            Ok(p) => Ok(Caller(Some(p))),
            Err(AuthFailure::Expired) => Err(ApiError::unauthorized("access token has expired")),
            Err(_) => Err(ApiError::unauthorized(
                "Incorrect authentication credentials.",
            )),
        }
    }
}

impl Caller {
    /// The principal, or 401 when no token was sent.
    pub fn required(self) -> Result<Principal, ApiError> {
        self.0
            .ok_or_else(|| ApiError::unauthorized("Authentication credentials were not provided."))
    }
}

/// A JSON request body; malformed or missing JSON is a 400 in Docker's shape.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("a JSON request body is required"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))
    }
}

impl JsonBody {
    /// Deserialises into a request type; errors name the field.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        serde_json::from_value(self.0).map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

/// `page` and `page_size` query parameters, validated.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery {
    pub page: usize,
    pub page_size: usize,
}

pub const MAX_PAGE_SIZE: usize = 100;

impl PageQuery {
    pub fn from_uri(uri: &Uri, default_size: usize) -> Result<PageQuery, ApiError> {
        let mut q = PageQuery {
            page: 1,
            page_size: default_size,
        };
        for (k, v) in query_pairs(uri) {
            match k.as_str() {
                "page" => {
                    q.page = v.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                        ApiError::invalid("page", "page must be a positive integer")
                    })?;
                }
                // Unconfirmed: whether Docker Hub refuses or clamps page_size > 100; refusing
                // catches clients that rely on a larger page.
                "page_size" => {
                    q.page_size = v
                        .parse()
                        .ok()
                        .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
                        .ok_or_else(|| {
                            ApiError::invalid(
                                "page_size",
                                format!("page_size must be an integer from 1 to {MAX_PAGE_SIZE}"),
                            )
                        })?;
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// Decoded query parameters of a request URI.
pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Builds one page of `items` as `{count, next, previous, results}`; a page past the end is a 404
/// (page 1 of an empty list is an empty page). Links are absolute URLs on the sandbox's address.
pub fn paginate(
    app: &App,
    uri: &Uri,
    items: Vec<Value>,
    default_size: usize,
) -> Result<Value, ApiError> {
    let q = PageQuery::from_uri(uri, default_size)?;
    let count = items.len();
    let start = (q.page - 1).saturating_mul(q.page_size);
    if q.page > 1 && start >= count {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Invalid page."));
    }
    let end = start.saturating_add(q.page_size).min(count);
    let link = |page: usize| -> Value {
        let mut url = app.base.clone();
        url.set_path(uri.path());
        {
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in query_pairs(uri) {
                if k != "page" {
                    pairs.append_pair(&k, &v);
                }
            }
            pairs.append_pair("page", &page.to_string());
        }
        Value::String(url.to_string())
    };
    let next = if end < count {
        link(q.page + 1)
    } else {
        Value::Null
    };
    let previous = if q.page > 1 {
        link(q.page - 1)
    } else {
        Value::Null
    };
    let results: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
    Ok(json!({ "count": count, "next": next, "previous": previous, "results": results }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Faults;
    use crate::state::HubState;

    fn app() -> App {
        App::new(
            HubState::new("acme"),
            Vec::new(),
            Faults::default(),
            None,
            url::Url::parse("http://127.0.0.1:9/").unwrap(),
        )
    }

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    #[test]
    fn pages_link_absolutely_and_stop_at_the_end() {
        let a = app();
        let uri: Uri = "/v2/orgs/acme/groups?page_size=2&search=x".parse().unwrap();
        let p = paginate(&a, &uri, items(5), 10).unwrap();
        assert_eq!(p["count"], 5);
        assert_eq!(p["results"], json!([0, 1]));
        assert_eq!(
            p["next"],
            "http://127.0.0.1:9/v2/orgs/acme/groups?page_size=2&search=x&page=2"
        );
        assert_eq!(p["previous"], Value::Null);
        let uri: Uri = "/x?page=3&page_size=2".parse().unwrap();
        let p = paginate(&a, &uri, items(5), 10).unwrap();
        assert_eq!(p["results"], json!([4]));
        assert_eq!(p["next"], Value::Null);
        assert_eq!(p["previous"], "http://127.0.0.1:9/x?page_size=2&page=2");
        let uri: Uri = "/x?page=4&page_size=2".parse().unwrap();
        assert_eq!(
            paginate(&a, &uri, items(5), 10).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
        let uri: Uri = "/x".parse().unwrap();
        assert_eq!(paginate(&a, &uri, items(0), 10).unwrap()["count"], 0);
    }

    #[test]
    fn page_size_is_bounded() {
        for bad in [
            "/x?page_size=101",
            "/x?page_size=0",
            "/x?page=0",
            "/x?page=a",
        ] {
            let uri: Uri = bad.parse().unwrap();
            assert_eq!(
                PageQuery::from_uri(&uri, 10).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        let uri: Uri = "/x?page_size=100".parse().unwrap();
        assert_eq!(PageQuery::from_uri(&uri, 10).unwrap().page_size, 100);
    }
}
