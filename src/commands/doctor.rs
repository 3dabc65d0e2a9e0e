//! `vetted doctor`: the read-only preflight of the policy at hand. Logs in, probes each section the
//! policy could touch with GETs only (src/hub/probe.rs), reads the registry pull budget with a
//! manifest HEAD and asks the token service for one push token (src/registry/grants.rs), then
//! renders what src/doctor.rs makes of it. Exit 0 when apply can succeed, 1 otherwise.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::cli::{DoctorArgs, ReportFormat};
use crate::doctor::{Facts, Failure, Needs};
use crate::error::{Error, Outcome};
use crate::hub::{Explain, HubClient, HubError};
use crate::model::{Role, Scope};
use crate::policy::Policy;
use crate::registry::client::{RegistryClient, Scope as RegistryScope};
use crate::registry::reference::Reference;
use crate::settings::{RegistrySettings, Settings};

pub async fn run(args: &DoctorArgs, settings: &Settings) -> Result<Outcome, Error> {
    let policy = crate::policy::load(&args.policy.policy)?;
    let desired = &policy.desired;
    let scope = Scope::of(desired);
    let mirrors = desired.repositories.values().any(|r| r.mirror.is_some());
    let needs = Needs {
        image_access: scope.image_access,
        allowlist: scope.allowlist,
        registry_access: scope.registry_access,
        members: scope.members,
        teams: scope.teams,
        repositories: !desired.repositories.is_empty() || policy.settings.prune,
        grants: !scope.grant_repositories.is_empty(),
        mirrors,
        prune: policy.settings.prune,
    };
    let config = settings.hub()?;
    // Bad registry flags or environment fail here, before any request.
    let registry = if mirrors {
        Some(settings.registry()?)
    } else {
        None
    };
    let mut facts = Facts {
        org: desired.org.clone(),
        hub: config.base_url.origin().ascii_serialization(),
        identity: config.credentials.username.clone(),
        org_source: format!("`org` in {}", policy.path.display()),
        ..Facts::default()
    };
    super::status(&format!("Checking organization {} ...", desired.org));
    match HubClient::login(config.clone()).await {
        Err(e) => facts.login = Some(Err(failure(e, &facts))),
        Ok(client) => {
            facts.login = Some(Ok(()));
            probe_hub(&client, &policy, &mut facts).await;
            facts.hub_budget = client.rate_limit();
            facts.now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs());
            if let Some(registry) = registry {
                probe_registry(registry, &policy, &mut facts).await?;
            }
        }
    }
    let report = crate::doctor::assess(&facts, &needs);
    let text = match args.format {
        ReportFormat::Text => crate::render::doctor::text(&report),
        ReportFormat::Json => crate::render::doctor::json(&report),
    };
    super::print_out(&text)?;
    Ok(if report.ok {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// A refused probe as the report shows it: the error with the hint only the caller can give, on
/// one line.
fn failure(e: HubError, f: &Facts) -> Failure {
    let status = e.status();
    let e = e.explain(&Explain {
        org: &f.org,
        hub: &f.hub,
        identity: &f.identity,
        org_source: &f.org_source,
    });
    let full = e.to_string();
    // The hint src/hub/error.rs gives a 403 that names a personal access token.
    let pat = status == Some(403)
        && full
            .to_ascii_lowercase()
            .contains("personal access token cannot manage");
    // A personal access token's hint is the report's fix line: the error alone here.
    let text = match full.split_once("\n  hint: ") {
        Some((error, _)) if pat => error.to_string(),
        Some((error, hint)) => format!("{error}; hint: {hint}"),
        None => full,
    };
    Failure { status, text, pat }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The GET probes, in a fixed order; each section's finding whatever the others found.
async fn probe_hub(client: &HubClient, policy: &Policy, f: &mut Facts) {
    let org = policy.desired.org.clone();
    let org = org.as_str();
    let fail = |e: HubError, f: &Facts| failure(e, f);

    let members = client
        .probe_list(
            &["v2", "orgs", org, "members"],
            false,
            &[("type", "member")],
        )
        .await;
    f.role = Some(match members {
        Ok(list) => Ok(list
            .iter()
            .find(|m| str_field(m, "username").is_some_and(|u| u.eq_ignore_ascii_case(&f.identity)))
            .and_then(|m| str_field(m, "role"))
            .and_then(Role::parse)),
        Err(e) => Err(fail(e, f)),
    });

    let invites = client
        .probe_get(&["v2", "orgs", org, "invites"], false, &[])
        .await;
    f.invites = Some(match invites {
        Ok(v) => Ok(v
            .get("data")
            .and_then(Value::as_array)
            .map(Vec::len)
            .unwrap_or(0)),
        Err(e) => Err(fail(e, f)),
    });

    // Team name -> numeric id, for the team-member and per-pair grant probes.
    let mut team_ids: Vec<(String, i64)> = Vec::new();
    let teams = client
        .probe_list(&["v2", "orgs", org, "groups"], false, &[])
        .await;
    f.teams = Some(match teams {
        Ok(list) => {
            for g in &list {
                if let (Some(name), Some(id)) =
                    (str_field(g, "name"), g.get("id").and_then(Value::as_i64))
                {
                    team_ids.push((name.to_string(), id));
                }
            }
            team_ids.sort();
            Ok(team_ids.iter().map(|(n, _)| n.clone()).collect())
        }
        Err(e) => Err(fail(e, f)),
    });

    // A team the policy names when it exists, else the first one listed.
    let team = team_ids
        .iter()
        .find(|(n, _)| {
            policy
                .desired
                .teams
                .as_ref()
                .is_some_and(|t| t.contains_key(n))
        })
        .or_else(|| team_ids.first())
        .cloned();
    f.team_members = match (&f.teams, &team) {
        (Some(Ok(_)), Some((name, _))) => Some(
            match client
                .probe_get(
                    &["v2", "orgs", org, "groups", name, "members"],
                    true,
                    &[("page_size", "100")],
                )
                .await
            {
                Ok(_) => Ok(Some(name.clone())),
                Err(e) => Err(fail(e, f)),
            },
        ),
        (Some(Ok(_)), None) => Some(Ok(None)),
        (Some(Err(e)), _) => Some(Err(e.clone())),
        (None, _) => None,
    };

    let repositories = client
        .probe_list(
            &["v2", "namespaces", org, "repositories"],
            false,
            &[("ordering", "name")],
        )
        .await;
    let mut listed = BTreeSet::new();
    f.repositories = Some(match repositories {
        Ok(list) => {
            listed.extend(
                list.iter()
                    .filter_map(|r| str_field(r, "name"))
                    .map(str::to_string),
            );
            let private = list
                .iter()
                .filter(|r| r.get("is_private").and_then(Value::as_bool) == Some(true))
                .count();
            f.listing_doubt =
                crate::hub::listing_doubt(&f.identity, org, private).map(|d| d.reason());
            Ok(listed.iter().cloned().collect())
        }
        Err(e) => Err(fail(e, f)),
    });
    if matches!(f.repositories, Some(Ok(_))) {
        let wanted: BTreeSet<String> = policy.desired.repositories.keys().cloned().collect();
        f.omitted = Some(
            client
                .listing_omissions(org, &listed, &wanted)
                .await
                .map_err(|e| fail(e, f)),
        );
    }

    // A repository whose grants the policy manages when it exists, else the first one listed.
    let repo = policy
        .desired
        .repositories
        .iter()
        .find(|(n, r)| r.grants.is_some() && listed.contains(*n))
        .map(|(n, _)| n.clone())
        .or_else(|| listed.iter().next().cloned());
    f.grants = match (&f.repositories, repo) {
        (Some(Ok(_)), Some(repo)) => Some(
            probe_grants(client, org, &repo, team.as_ref().map(|(_, id)| *id))
                .await
                .map(|()| Some(repo))
                .map_err(|e| fail(e, f)),
        ),
        (Some(Ok(_)), None) => Some(Ok(None)),
        (Some(Err(e)), _) => Some(Err(e.clone())),
        (None, _) => None,
    };

    f.allowlist = Some(client.probe_allowlist(org).await.map_err(|e| fail(e, f)));
    f.registry_access = Some(
        client
            .probe_registry_access(org)
            .await
            .map_err(|e| fail(e, f)),
    );
    let settings = client
        .probe_get(&["v2", "orgs", org, "settings"], true, &[])
        .await;
    f.image_access = Some(match settings {
        Ok(v) => Ok(v
            .get("restricted_images")
            .and_then(|r| r.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false)),
        Err(e) => Err(fail(e, f)),
    });
}

/// Reads one repository's team grants as the hub reader does: the listing, else one (repository,
/// team) pair when the listing is not offered or refused (a 404 of the pair means no grant).
async fn probe_grants(
    client: &HubClient,
    org: &str,
    repo: &str,
    team: Option<i64>,
) -> Result<(), HubError> {
    let listing = client
        .probe_get(
            &["v2", "repositories", org, repo, "groups"],
            true,
            &[("page_size", "100")],
        )
        .await;
    let err = match listing {
        Ok(_) => return Ok(()),
        Err(e) if matches!(e.status(), Some(403..=405)) => e,
        Err(e) => return Err(e),
    };
    let Some(id) = team else {
        return if err.status() == Some(403) {
            Err(err)
        } else {
            Ok(())
        };
    };
    let id = id.to_string();
    match client
        .probe_get(&["v2", "repositories", org, repo, "groups", &id], true, &[])
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(404) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The pull budget (a HEAD of the first mirror source's first tag) and one push token (for that
/// mirror's target in the organization).
async fn probe_registry(
    registry: &RegistrySettings,
    policy: &Policy,
    f: &mut Facts,
) -> Result<(), Error> {
    let registries = crate::mirror::registries(&policy.desired);
    let (rc, _) = registry.client_config(&registries);
    let client = RegistryClient::new(rc).map_err(|e| Error::Usage(e.to_string()))?;
    let Some((name, mirror)) = policy
        .desired
        .repositories
        .iter()
        .find_map(|(n, r)| r.mirror.as_ref().map(|m| (n, m)))
    else {
        return Ok(());
    };
    let Some(tag) = mirror.tags.keys().next() else {
        return Ok(());
    };
    f.pulls = Some(match Reference::parse(&mirror.from) {
        Ok(source) => {
            let source = source.with_tag(tag);
            match client.resolve(&source).await {
                Ok(_) => Ok((source.to_string(), client.ratelimit_remaining())),
                Err(e) => Err(format!("{source}: {e}")),
            }
        }
        Err(e) => Err(format!("{}: {e}", mirror.from)),
    });
    f.push_target_exists = matches!(&f.repositories, Some(Ok(l)) if l.contains(name));
    f.push = Some(
        match crate::mirror::target_reference(&policy.desired.org, name, tag) {
            Ok(target) => {
                let scopes = [RegistryScope::push(&target.repository)];
                match crate::registry::grants::granted(&client, &target, &scopes).await {
                    Ok(g) => Ok((target.repository.clone(), g)),
                    Err(e) => Err(format!("{}: {e}", target.repository)),
                }
            }
            Err(e) => Err(e),
        },
    );
    Ok(())
}
