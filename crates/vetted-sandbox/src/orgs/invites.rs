//! Invites: the pending-invite listing, bulk invites (by Docker ID or email, at most 1000 at
//! once) and cancelling an invite.

use super::*;

/// `GET /v2/orgs/{org}/invites` -> `{data: [invite]}` (owners only)
pub async fn list_invites(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let v = app.read(|hub| {
        require_org(hub, &org)?;
        can_manage_org(hub, &p)?;
        require_scope(&p, scope::INVITE_READ)?;
        Ok::<_, ApiError>(json!({
            "data": hub.invites.iter().map(|i| invite_json(hub, i)).collect::<Vec<_>>()
        }))
    })?;
    Ok(reply(StatusCode::OK, v))
}

#[derive(Deserialize)]
struct BulkInvite {
    org: String,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    role: Option<String>,
    invitees: Vec<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Most invitees in one bulk request.
const MAX_INVITEES: usize = 1000;

fn plausible_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// `POST /v2/invites/bulk` {org, team?, role?, invitees, dry_run?} -> 202 {invitees: [{invitee, status,
/// invite?}]}
pub async fn bulk_invite(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    let req: BulkInvite = body.parse()?;
    if req.invitees.is_empty() {
        return Err(ApiError::invalid("invitees", "invitees must not be empty"));
    }
    if req.invitees.len() > MAX_INVITEES {
        return Err(ApiError::invalid(
            "invitees",
            format!("at most {MAX_INVITEES} invitees per request"),
        ));
    }
    let role = match &req.role {
        None => Role::Member,
        Some(r) => Role::parse(r).ok_or_else(|| {
            ApiError::invalid(
                "role",
                format!("invalid role {r:?}: expected owner, editor or member"),
            )
        })?,
    };
    let v = app.write(|hub| {
        require_org(hub, &req.org)?;
        can_manage_org(hub, &p)?;
        require_scope(&p, scope::INVITE_EDIT)?;
        let team = match req.team.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => {
                if !hub.teams.contains_key(t) {
                    return Err(ApiError::invalid(
                        "team",
                        format!("team {t:?} does not exist in organization {}", hub.org),
                    ));
                }
                Some(t.to_string())
            }
        };
        let inviter = p.name().to_string();
        let mut results = Vec::new();
        for raw in &req.invitees {
            let invitee = raw.trim().to_lowercase();
            let user = hub.find_user(&invitee);
            if user.as_ref().is_some_and(|u| hub.members.contains_key(u)) {
                results.push(json!({"invitee": raw, "status": "existing_org_member"}));
                continue;
            }
            if user.is_none() && !plausible_email(&invitee) {
                results.push(json!({"invitee": raw, "status": "invalid_email_or_docker_id"}));
                continue;
            }
            let key = user.clone().unwrap_or(invitee);
            if let Some(existing) = hub.invites.iter().find(|i| i.invitee == key) {
                results.push(json!({"invitee": raw, "status": "invited", "invite": invite_json(hub, existing)}));
                continue;
            }
            let inv = InviteState {
                id: state::new_uuid(),
                inviter_username: inviter.clone(),
                invitee: key,
                role,
                team: team.clone(),
                created_at: state::now_rfc3339(),
            };
            results.push(json!({"invitee": raw, "status": "invited", "invite": invite_json(hub, &inv)}));
            if req.dry_run {
                continue;
            }
            match (&user, hub.auto_accept_invites) {
                (Some(u), true) => hub.add_member(u, role, team.as_deref()),
                _ => hub.invites.push(inv),
            }
        }
        Ok(json!({ "invitees": results }))
    })?;
    Ok(reply(StatusCode::ACCEPTED, v))
}

/// `DELETE /v2/invites/{id}`
pub async fn cancel_invite(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.required()?;
    app.write(|hub| {
        can_manage_org(hub, &p)?;
        require_scope(&p, scope::INVITE_EDIT)?;
        let pos = hub
            .invites
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(ApiError::not_found)?;
        hub.invites.remove(pos);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
