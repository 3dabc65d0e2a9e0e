//! Team permissions (grants) on a repository: list, create, read, update and delete under
//! `/v2/repositories/{ns}/{repo}/groups/`, a team required to exist before it is granted access.

use super::*;

fn grant_json(hub: &HubState, id: u64, perm: Permission) -> Value {
    let name = hub
        .team_by_id(id)
        .map(|(n, _)| n.clone())
        .unwrap_or_default();
    json!({ "group_id": id, "group_name": name, "permission": perm })
}

/// `GET /v2/repositories/{ns}/{repo}/groups` (path unconfirmed on Docker Hub; see hub-api.md)
pub async fn list_grants(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let items = app.read(|hub| {
        can_read_org(hub, &p)?;
        require_scope(&p, scope::REPO_GROUP_READ)?;
        let (r, _) = visible(hub, &ns, &repo, Some(&p))?;
        Ok::<_, ApiError>(
            r.grants
                .iter()
                .map(|(id, perm)| grant_json(hub, *id, *perm))
                .collect::<Vec<_>>(),
        )
    })?;
    Ok(reply(StatusCode::OK, paginate(&app, &uri, items, 10)?))
}

#[derive(Deserialize)]
struct CreateGrant {
    group_id: u64,
    permission: Permission,
}

/// `POST /v2/repositories/{ns}/{repo}/groups` {group_id, permission}: the team must exist.
pub async fn create_grant(
    State(app): State<Arc<App>>,
    Path((ns, repo)): Path<(String, String)>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: CreateGrant = body.parse()?;
    let v = app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_manage_grants(hub, &p)?;
        require_scope(&p, scope::REPO_GROUP_EDIT)?;
        // Unconfirmed: the status for a grant to a team that does not exist (400, the spec's
        // "invalid request parameters").
        if hub.team_by_id(req.group_id).is_none() {
            return Err(ApiError::invalid(
                "group_id",
                format!(
                    "group {} does not exist in organization {}",
                    req.group_id, hub.org
                ),
            ));
        }
        let r = hub
            .repositories
            .get_mut(&repo)
            .ok_or_else(ApiError::not_found)?;
        r.grants.insert(req.group_id, req.permission);
        Ok(grant_json(hub, req.group_id, req.permission))
    })?;
    Ok(reply(StatusCode::OK, v))
}

fn parse_group_id(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::not_found())
}

/// `GET /v2/repositories/{ns}/{repo}/groups/{group_id}/` (undocumented; 404 = no grant)
pub async fn get_grant(
    State(app): State<Arc<App>>,
    Path((ns, repo, gid)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let id = parse_group_id(&gid)?;
    let v = app.read(|hub| {
        can_read_org(hub, &p)?;
        require_scope(&p, scope::REPO_GROUP_READ)?;
        let (r, _) = visible(hub, &ns, &repo, Some(&p))?;
        let perm = r.grants.get(&id).ok_or_else(ApiError::not_found)?;
        Ok::<_, ApiError>(grant_json(hub, id, *perm))
    })?;
    Ok(reply(StatusCode::OK, v))
}

#[derive(Deserialize)]
struct UpdateGrant {
    permission: Permission,
}

/// `PATCH /v2/repositories/{ns}/{repo}/groups/{group_id}/` {permission}
pub async fn update_grant(
    State(app): State<Arc<App>>,
    Path((ns, repo, gid)): Path<(String, String, String)>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let id = parse_group_id(&gid)?;
    let req: UpdateGrant = body.parse()?;
    let v = app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_manage_grants(hub, &p)?;
        require_scope(&p, scope::REPO_GROUP_EDIT)?;
        let r = hub
            .repositories
            .get_mut(&repo)
            .ok_or_else(ApiError::not_found)?;
        let slot = r.grants.get_mut(&id).ok_or_else(ApiError::not_found)?;
        *slot = req.permission;
        Ok(grant_json(hub, id, req.permission))
    })?;
    Ok(reply(StatusCode::OK, v))
}

/// `DELETE /v2/repositories/{ns}/{repo}/groups/{group_id}/`
pub async fn delete_grant(
    State(app): State<Arc<App>>,
    Path((ns, repo, gid)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let id = parse_group_id(&gid)?;
    app.write(|hub| {
        visible(hub, &ns, &repo, Some(&p))?;
        can_manage_grants(hub, &p)?;
        require_scope(&p, scope::REPO_GROUP_ADMIN)?;
        let r = hub
            .repositories
            .get_mut(&repo)
            .ok_or_else(ApiError::not_found)?;
        r.grants.remove(&id).ok_or_else(ApiError::not_found)?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
