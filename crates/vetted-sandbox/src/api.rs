//! The hub API's plumbing: shared application state ([`App`]), the router (every path in each form
//! Docker Hub answers: with and without the trailing slash, and a 301 for the slash-less POSTs Docker
//! Hub redirects), Docker-style error bodies ([`ApiError`]), the bearer-token and JSON-body
//! extractors, pagination (`page`, `page_size` <= 100, `{count, next, previous, results}`, 404 past the
//! end) and the access rules shared by the handlers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::auth::{Auth, AuthFailure, Credential, Principal};
use super::faults::{FaultState, RateWindow, RequestLog};
use super::state::{self, HubState};
use super::{Faults, allowlist, control, org_settings, orgs, repos};
use crate::wire::Role;

/// Docker's message when a personal access token is used on org/team management endpoints.
pub const PAT_NOT_ALLOWED: &str = "token issued from personal access token is not allowed";

/// Everything the handlers share. Each mutex is held briefly and never together with another.
pub struct App {
    hub: Mutex<HubState>,
    auth: Mutex<Auth>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) rate: Mutex<RateWindow>,
    state_file: Option<PathBuf>,
    /// How far the sandbox clock has been advanced (`POST /_sandbox/clock`), for token-expiry tests.
    clock_offset: Mutex<Duration>,
    /// Base URL of this sandbox (`http://127.0.0.1:PORT/`), for absolute `next`/`previous` links.
    pub base: url::Url,
    /// The running registry, when the sandbox has one (tags are then read from it).
    registry: std::sync::OnceLock<Arc<super::hubreg::RegistryLink>>,
    /// The registry half's counters (CDN, pull-limit front), for `GET /_sandbox/registry`.
    registry_observers: std::sync::OnceLock<super::RegistryObservers>,
}

/// Locks a mutex, recovering the data if a handler panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    pub fn new(
        hub: HubState,
        credentials: Vec<Credential>,
        faults: Faults,
        state_file: Option<PathBuf>,
        base: url::Url,
    ) -> Self {
        App {
            hub: Mutex::new(hub),
            auth: Mutex::new(Auth::new(credentials)),
            faults: Mutex::new(FaultState::new(faults)),
            log: Mutex::new(RequestLog::default()),
            rate: Mutex::new(RateWindow::default()),
            state_file,
            clock_offset: Mutex::new(Duration::ZERO),
            base,
            registry: std::sync::OnceLock::new(),
            registry_observers: std::sync::OnceLock::new(),
        }
    }

    /// Connects the running registry (once; later calls are ignored).
    pub fn set_registry(&self, link: Arc<super::hubreg::RegistryLink>) {
        let _ = self.registry.set(link);
    }

    /// Records the registry half's counters (once, at start).
    pub fn set_registry_observers(&self, observers: super::RegistryObservers) {
        let _ = self.registry_observers.set(observers);
    }

    /// The registry half's counters, when the sandbox runs a registry.
    pub fn registry_observers(&self) -> Option<&super::RegistryObservers> {
        self.registry_observers.get()
    }

    /// The running registry, if any.
    pub fn registry(&self) -> Option<Arc<super::hubreg::RegistryLink>> {
        self.registry.get().cloned()
    }

    pub(crate) fn state_file_display(&self) -> Option<String> {
        self.state_file.as_ref().map(|p| p.display().to_string())
    }

    /// Runs a read-only closure on the state.
    pub fn read<T>(&self, f: impl FnOnce(&HubState) -> T) -> T {
        f(&lock(&self.hub))
    }

    /// Runs a mutating closure; when it succeeds, the state file is written before the lock is
    /// released (so saves happen in order). Closures validate before they mutate.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut HubState) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut hub = lock(&self.hub);
        let out = f(&mut hub)?;
        if let Some(path) = &self.state_file {
            let json = serde_json::to_vec_pretty(&*hub)
                .map_err(|e| ApiError::internal(format!("cannot serialise state: {e}")))?;
            state::save_state_file(path, &json).map_err(|e| {
                ApiError::internal(format!("sandbox could not save its state: {e}"))
            })?;
        }
        Ok(out)
    }

    /// Saves the state file now (start and shutdown).
    pub fn persist_now(&self) -> Result<(), String> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let hub = lock(&self.hub);
        let json = serde_json::to_vec_pretty(&*hub).map_err(|e| e.to_string())?;
        state::save_state_file(path, &json)
    }

    /// The sandbox's clock: real time plus any advance from `POST /_sandbox/clock`.
    pub fn now(&self) -> Instant {
        Instant::now() + *lock(&self.clock_offset)
    }

    /// Moves the sandbox clock forward; returns the total advance.
    pub fn advance_clock(&self, by: Duration) -> Duration {
        let mut off = lock(&self.clock_offset);
        *off = off.saturating_add(by);
        *off
    }

    /// Checks an identifier/secret pair against the seed's credentials (for a token service that
    /// authenticates the same accounts).
    pub fn authenticate(&self, identifier: &str, secret: &str) -> Option<Principal> {
        self.auth().check(identifier, secret).ok()
    }

    pub(crate) fn auth(&self) -> MutexGuard<'_, Auth> {
        lock(&self.auth)
    }

    /// A copy of the state for `GET /_sandbox/state`.
    pub fn snapshot(&self) -> HubState {
        lock(&self.hub).clone()
    }
}

/// Registers `path` and `path/`: Docker Hub answers both forms of these paths (Docker's OpenAPI
/// documents one, Docker's Terraform provider, proven against Docker Hub, sends the other).
fn both(r: Router<Arc<App>>, path: &str, m: MethodRouter<Arc<App>>) -> Router<Arc<App>> {
    r.route(path, m.clone()).route(&format!("{path}/"), m)
}

/// Registers a collection whose POST needs the trailing slash (Docker Hub's Django framework
/// answers the slash-less POST with a 301 to the slash form: a client that follows it sends a GET
/// and sees a 200 listing, hub-feedback#976). GETs answer on both forms.
fn slash_post(
    r: Router<Arc<App>>,
    path: &str,
    get_h: MethodRouter<Arc<App>>,
    post_h: MethodRouter<Arc<App>>,
) -> Router<Arc<App>> {
    r.route(path, get_h.clone().post(append_slash))
        .route(&format!("{path}/"), get_h.merge(post_h))
}

/// Registers a path Docker Hub has only with the trailing slash (undocumented paths, in the form
/// Docker's provider sends): every slash-less request answers 301 to the slash form, as Django's
/// `APPEND_SLASH` does (a client that follows it turns a PATCH or DELETE into a GET).
fn slash_only(r: Router<Arc<App>>, path: &str, m: MethodRouter<Arc<App>>) -> Router<Arc<App>> {
    r.route(path, axum::routing::any(append_slash))
        .route(&format!("{path}/"), m)
}

/// 301 to the same path with a trailing slash (query kept), as Django's `APPEND_SLASH` answers.
async fn append_slash(uri: Uri) -> Response {
    let mut location = format!("{}/", uri.path());
    if let Some(q) = uri.query() {
        location.push('?');
        location.push_str(q);
    }
    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The router: hub API routes (each in every form Docker Hub answers), control routes, fallbacks,
/// and the fault/log middleware.
pub fn router(app: Arc<App>) -> Router {
    let mut api = Router::new()
        .route("/v2/auth/token", post(super::login::auth_token))
        .route("/v2/users/login", post(super::login::users_login));
    api = both(
        api,
        "/v2/namespaces/{ns}/repositories",
        get(repos::list).post(repos::create),
    );
    api = both(
        api,
        "/v2/namespaces/{ns}/repositories/{repo}",
        get(repos::get_one),
    );
    api = both(
        api,
        "/v2/namespaces/{ns}/repositories/{repo}/tags",
        get(repos::tags),
    );
    api = both(
        api,
        "/v2/namespaces/{ns}/repositories/{repo}/tags/{tag}",
        get(repos::tag),
    );
    // The legacy repository paths (the provider reads, updates and deletes repositories here); their
    // GETs refuse organization access tokens.
    api = slash_only(api, "/v2/repositories/{ns}", get(repos::legacy_list));
    api = slash_only(
        api,
        "/v2/repositories/{ns}/{repo}",
        get(repos::legacy_get_one)
            .patch(repos::update)
            .delete(repos::delete),
    );
    api = both(
        api,
        "/v2/users/{ns}/repositories",
        get(repos::users_repositories),
    );
    api = both(
        api,
        "/v2/repositories/{ns}/{repo}/privacy",
        post(repos::privacy),
    );
    api = both(
        api,
        "/v2/repositories/{ns}/{repo}/tags/{tag}",
        get(repos::tag).delete(repos::delete_tag),
    );
    api = slash_post(
        api,
        "/v2/repositories/{ns}/{repo}/groups",
        get(repos::list_grants),
        post(repos::create_grant),
    );
    api = slash_only(
        api,
        "/v2/repositories/{ns}/{repo}/groups/{group_id}",
        get(repos::get_grant)
            .patch(repos::update_grant)
            .delete(repos::delete_grant),
    );
    api = both(api, "/v2/orgs/{org}", get(orgs::get_org));
    api = slash_post(
        api,
        "/v2/orgs/{org}/groups",
        get(orgs::list_groups),
        post(orgs::create_group),
    );
    api = both(
        api,
        "/v2/orgs/{org}/groups/{group}",
        get(orgs::get_group)
            .put(orgs::put_group)
            .patch(orgs::patch_group)
            .delete(orgs::delete_group),
    );
    api = slash_post(
        api,
        "/v2/orgs/{org}/groups/{group}/members",
        get(orgs::list_group_members),
        post(orgs::add_group_member),
    );
    api = both(
        api,
        "/v2/orgs/{org}/groups/{group}/members/{username}",
        axum::routing::delete(orgs::remove_group_member),
    );
    api = both(api, "/v2/orgs/{org}/members", get(orgs::list_members));
    api = both(
        api,
        "/v2/orgs/{org}/members/{username}",
        put(orgs::update_member).delete(orgs::remove_member),
    );
    api = both(api, "/v2/orgs/{org}/invites", get(orgs::list_invites));
    api = both(api, "/v2/invites/bulk", post(orgs::bulk_invite));
    api = both(
        api,
        "/v2/invites/{id}",
        axum::routing::delete(orgs::cancel_invite),
    );
    api = both(
        api,
        "/v2/orgs/{org}/settings",
        get(org_settings::get_settings).put(org_settings::put_settings),
    );
    // Undocumented; only the slash-less form Docker's provider sends.
    api = api.route(
        "/v2/orgs/{org}/settings/registry-access-management",
        get(org_settings::get_ram).put(org_settings::put_ram),
    );
    // unconfirmed paths (src/sandbox/allowlist.rs), the form vetted sends.
    api = api.route(
        "/v2/orgs/{org}/settings/repository-allowlist",
        get(allowlist::list)
            .post(allowlist::add)
            .delete(allowlist::remove),
    );
    let api = api
        .route("/_sandbox/state", get(control::state))
        .route("/_sandbox/registry", get(control::registry))
        .route("/_sandbox/clock", post(control::advance_clock))
        .route(
            "/_sandbox/faults",
            put(control::put_faults).get(control::get_faults),
        )
        .route(
            "/_sandbox/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    api.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        super::faults::middleware,
    ))
    .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method \"{method}\" not allowed."),
    )
}

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

/// 404 unless `name` is this sandbox's org.
pub fn require_org(hub: &HubState, name: &str) -> Result<(), ApiError> {
    if hub.is_org(name) {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// The caller's role in the org: org tokens act for the org; non-members have none.
pub fn role_of(hub: &HubState, p: &Principal) -> Option<Role> {
    match p {
        Principal::OrgToken { org, .. } => hub.is_org(org).then_some(Role::Owner),
        Principal::User { username, .. } => hub.members.get(username).copied(),
    }
}

/// Org and team endpoints: any member may read; personal access tokens are refused.
pub fn can_read_org(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    if let Principal::User { via_pat: true, .. } = p {
        return Err(ApiError::forbidden(PAT_NOT_ALLOWED));
    }
    role_of(hub, p)
        .map(|_| ())
        .ok_or_else(ApiError::no_permission)
}

/// Managing members, teams and invites: owners and org tokens; never a personal access token.
pub fn can_manage_org(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    if let Principal::User { via_pat: true, .. } = p {
        return Err(ApiError::forbidden(PAT_NOT_ALLOWED));
    }
    match role_of(hub, p) {
        Some(Role::Owner) => Ok(()),
        _ => Err(ApiError::no_permission()),
    }
}

/// Docker's message when an organization access token calls a legacy repository path
/// (`GET /v2/repositories/{ns}/{repo}`, `/v2/repositories/{ns}`, `/v2/users/{u}/repositories`),
/// whatever its scopes (Docker's access-token reference, "Unsupported legacy endpoints").
pub const OAT_NOT_ALLOWED: &str = "token issued from organization access token is not allowed";

/// Organization access token scopes (Docker's names and what each grants: Docker's access-token
/// reference, docker/docs `content/manuals/security/access-tokens/reference.md`; hub-api.md). Each
/// list holds the scopes that allow an action: a higher scope includes the lower ones ("Includes
/// ..." in the reference). The sandbox holds a token's repository scopes for every repository of the
/// organization (Docker's "All <organization> repositories"), not per repository.
pub mod scope {
    pub const GROUP_READ: &[&str] = &["scope-group-read", "scope-group-edit"];
    pub const GROUP_EDIT: &[&str] = &["scope-group-edit"];
    pub const MEMBER_READ: &[&str] = &["scope-member-read", "scope-member-edit"];
    pub const MEMBER_EDIT: &[&str] = &["scope-member-edit"];
    pub const INVITE_READ: &[&str] = &["scope-invite-read", "scope-invite-edit"];
    pub const INVITE_EDIT: &[&str] = &["scope-invite-edit"];
    pub const REPO_CREATE: &[&str] = &["scope-repository-create"];
    /// "List all repositories in the namespace, including private ones": without it the listing
    /// silently holds the public repositories only.
    pub const REPO_LIST: &[&str] = &["scope-repository-list"];
    pub const REPO_READ: &[&str] = &[
        "scope-repository-read",
        "scope-repository-edit",
        "scope-repository-admin",
    ];
    /// Privacy and description.
    pub const REPO_EDIT: &[&str] = &["scope-repository-edit", "scope-repository-admin"];
    /// Deleting the repository.
    pub const REPO_ADMIN: &[&str] = &["scope-repository-admin"];
    pub const TAG_READ: &[&str] = &["scope-tag-read", "scope-tag-admin"];
    pub const TAG_ADMIN: &[&str] = &["scope-tag-admin"];
    pub const REPO_GROUP_READ: &[&str] = &[
        "scope-repo-group-read",
        "scope-repo-group-edit",
        "scope-repo-group-admin",
    ];
    pub const REPO_GROUP_EDIT: &[&str] = &["scope-repo-group-edit", "scope-repo-group-admin"];
    /// Deleting a team's assignment to a repository.
    pub const REPO_GROUP_ADMIN: &[&str] = &["scope-repo-group-admin"];
    /// Registry Access Management (taken off the list of settings an organization access token
    /// cannot use in June 2026: docker/docs PR 25364).
    pub const RAM_READ: &[&str] = &["scope-ram-read", "scope-ram-write"];
    pub const RAM_WRITE: &[&str] = &["scope-ram-write"];

    /// Every scope Docker's access-token reference names (repository, organization and product
    /// scopes), so a seed's misspelt scope is an error rather than a silent refusal.
    pub const KNOWN: &[&str] = &[
        "scope-image-pull",
        "scope-image-push",
        "scope-image-delete",
        "scope-repository-read",
        "scope-repository-edit",
        "scope-repository-admin",
        "scope-tag-read",
        "scope-tag-admin",
        "scope-webhook-read",
        "scope-webhook-edit",
        "scope-webhook-admin",
        "scope-repo-group-read",
        "scope-repo-group-edit",
        "scope-repo-group-admin",
        "scope-repository-settings-admin",
        "scope-member-read",
        "scope-member-edit",
        "scope-invite-read",
        "scope-invite-edit",
        "scope-group-read",
        "scope-group-edit",
        "scope-activity-read",
        "scope-siem_credentials-read",
        "scope-ram-read",
        "scope-ram-write",
        "scope-report-read",
        "scope-repository-create",
        "scope-repository-list",
        "scope-registry-usage-read",
        "scope-cloud-connect",
        "scope-audit_events-read",
        "scope-governance-policy-read",
        "scope-governance-policy-write",
    ];
}

/// True unless `p` is an organization access token seeded with scopes none of which is in `any_of`.
pub fn has_scope(p: &Principal, any_of: &[&str]) -> bool {
    require_scope(p, any_of).is_ok()
}

/// The legacy repository reads refuse every organization access token (403, Docker's message).
pub fn refuse_org_token(p: Option<&Principal>) -> Result<(), ApiError> {
    match p {
        Some(Principal::OrgToken { .. }) => Err(ApiError::forbidden(OAT_NOT_ALLOWED)),
        _ => Ok(()),
    }
}

/// An organization access token seeded with `scopes` needs one of `any_of`; tokens seeded without
/// scopes, and users, pass.
pub fn require_scope(p: &Principal, any_of: &[&str]) -> Result<(), ApiError> {
    match p {
        Principal::OrgToken {
            scopes: Some(scopes),
            ..
        } if !any_of.iter().any(|s| scopes.contains(*s)) => Err(ApiError::forbidden(format!(
            "organization access token is missing a required scope (one of: {})",
            any_of.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Creating, changing and deleting repositories: owners, editors and org tokens.
pub fn can_edit_repos(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    match role_of(hub, p) {
        Some(Role::Owner | Role::Editor) => Ok(()),
        _ => Err(ApiError::no_permission()),
    }
}

/// Team permissions on repositories: owners, editors and org tokens; never a personal access token.
pub fn can_manage_grants(hub: &HubState, p: &Principal) -> Result<(), ApiError> {
    if let Principal::User { via_pat: true, .. } = p {
        return Err(ApiError::forbidden(PAT_NOT_ALLOWED));
    }
    can_edit_repos(hub, p)
}

#[cfg(test)]
mod tests {
    use super::*;

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
