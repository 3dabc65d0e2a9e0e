//! The hub API's router: every path in each form Docker Hub answers (with and without the trailing
//! slash, and a 301 for the slash-less POSTs Docker Hub redirects), the control routes, the
//! fallbacks and the fault/log middleware. The plumbing lives beside it: shared state in
//! [`crate::app`], errors, extractors and pagination in [`crate::plumbing`], access rules in
//! [`crate::access`]; the handlers import all of it from here.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};

use super::{allowlist, control, org_settings, orgs, repos};

pub(crate) use crate::access::{
    PAT_NOT_ALLOWED, can_edit_repos, can_manage_grants, can_manage_org, can_read_org, has_scope,
    refuse_org_token, require_org, require_scope, role_of, scope,
};
pub use crate::app::App;
pub(crate) use crate::app::lock;
pub(crate) use crate::plumbing::{ApiError, Caller, JsonBody, paginate, query_param, reply};

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
    // unconfirmed paths (allowlist.rs), the form vetted sends.
    api = api.route(
        "/v2/orgs/{org}/settings/repository-allowlist",
        get(allowlist::list)
            .post(allowlist::add)
            .delete(allowlist::remove),
    );
    let api = api
        .route("/_sandbox/state", get(control::state))
        .route("/_sandbox/registry", get(control::registry))
        .route("/_sandbox/signing", get(control::signing))
        .route("/_sandbox/clock", post(control::advance_clock))
        .route(
            "/_sandbox/faults",
            put(control::put_faults).get(control::get_faults),
        )
        .route(
            "/_sandbox/rate-limit",
            put(control::put_rate_limit).get(control::get_rate_limit),
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
