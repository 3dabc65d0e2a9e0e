//! Reading grants: the organization's grant listing, and the per-(repository, team) reads it
//! falls back to on 403, 404 or 405, within their budget.

use super::*;

#[tokio::test]
async fn grant_listing_405_falls_back_to_pairs() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            page(&[r#"{"name":"redis","is_private":false}"#], None)
        }
        "/v2/namespaces/acme/repositories/redis" => ok("{}"),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/repositories/acme/redis/groups/" => (405, vec![], "{}".into()),
        "/v2/repositories/acme/redis/groups/5/" => ok(r#"{"permission":"read"}"#),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        grant_repositories: ["redis".to_string()].into(),
        grant_teams: ["dev".to_string(), "missing".to_string()].into(),
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert_eq!(
        state.repositories["redis"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Read)]))
    );
    assert!(state.teams.is_none() && state.members.is_none());
    assert!(
        requests(&fake)
            .iter()
            .any(|s| s.path == "/v2/repositories/acme/redis/groups/5/")
    );
}

#[tokio::test]
async fn all_grants_reads_every_repository_and_falls_back_to_every_team() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(
            &[
                r#"{"name":"redis","is_private":true}"#,
                r#"{"name":"api","is_private":false}"#,
            ],
            None,
        ),
        "/v2/namespaces/acme/repositories/redis" | "/v2/namespaces/acme/repositories/api" => {
            ok("{}")
        }
        "/v2/orgs/acme/groups" => page(
            &[r#"{"id":5,"name":"dev"}"#, r#"{"id":6,"name":"ops"}"#],
            None,
        ),
        // redis lists its grants; api does not offer the listing: one call per team.
        "/v2/repositories/acme/redis/groups/" => page(
            &[r#"{"group_id":6,"group_name":"ops","permission":"admin"}"#],
            None,
        ),
        "/v2/repositories/acme/api/groups/" => (404, vec![], "{}".into()),
        "/v2/repositories/acme/api/groups/5/" => ok(r#"{"permission":"write"}"#),
        "/v2/repositories/acme/api/groups/6/" => (404, vec![], "{}".into()),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        all_grants: true,
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert_eq!(
        state.repositories["redis"].grants,
        Some(BTreeMap::from([("ops".to_string(), Permission::Admin)]))
    );
    assert_eq!(
        state.repositories["api"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Write)]))
    );
    let paths: Vec<String> = requests(&fake).iter().map(|s| s.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "/v2/repositories/acme/api/groups/6/"),
        "{paths:?}"
    );
}

fn one_repo_grants(listing: Reply) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            page(&[r#"{"name":"redis","is_private":false}"#], None)
        }
        "/v2/namespaces/acme/repositories/redis" => ok("{}"),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/repositories/acme/redis/groups/" => listing.clone(),
        "/v2/repositories/acme/redis/groups/5/" => ok(r#"{"permission":"admin"}"#),
        _ => (418, vec![], "{}".into()),
    }
}

fn grants_scope() -> Scope {
    Scope {
        grant_repositories: ["redis".to_string()].into(),
        grant_teams: ["dev".to_string()].into(),
        ..Scope::default()
    }
}

/// A 403 on the grant listing falls back to the per-team reads instead of aborting.
#[tokio::test]
async fn grant_listing_403_falls_back_to_pairs() {
    let listing = (403, vec![], r#"{"detail":"missing scope"}"#.to_string());
    let (base, _) = serve(one_repo_grants(listing)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &grants_scope()).await.unwrap();
    assert_eq!(
        state.repositories["redis"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Admin)]))
    );
}

/// A listed grant whose permission vetted cannot read is an error naming it, never dropped.
#[tokio::test]
async fn a_grant_with_an_unknown_permission_is_an_error() {
    for item in [
        r#"{"group_id":5,"group_name":"dev","permission":"owner"}"#,
        r#"{"group_id":5,"group_name":"dev"}"#,
        r#"{"group_id":99,"permission":"admin"}"#,
    ] {
        let (base, _) = serve(one_repo_grants(page(&[item], None))).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client
            .read_state("acme", &grants_scope())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("GET /v2/repositories/acme/redis/groups/: unexpected response shape"),
            "{item}: {text}"
        );
    }
}

/// Without a grant listing, the per-(repository, team) reads beyond the policy's own grants are
/// allotted within a budget: the managed teams on every repository first, then the others, in
/// name order, so which repositories are partly read does not depend on timing.
#[test]
fn the_pair_fallback_reads_managed_teams_first_within_its_budget() {
    use crate::hub::read::fallback_allotment;
    use std::collections::BTreeSet;
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    let repos: Vec<String> = ["r3", "r1", "r2"].iter().map(|s| s.to_string()).collect();
    let required = BTreeMap::from([("r1".to_string(), set(&["a"]))]);
    let (managed, others) = (set(&["a", "b"]), set(&["c", "d"]));
    let five = fallback_allotment(&repos, &required, &managed, &others, 5);
    assert_eq!(
        five,
        BTreeMap::from([
            ("r1".to_string(), set(&["b"])),
            ("r2".to_string(), set(&["a", "b"])),
            ("r3".to_string(), set(&["a", "b"])),
        ])
    );
    let seven = fallback_allotment(&repos, &required, &managed, &others, 7);
    assert_eq!(seven["r1"], set(&["b", "c", "d"]));
    assert_eq!(seven["r2"], set(&["a", "b"]), "the budget ends there");
    assert!(fallback_allotment(&repos, &required, &managed, &others, 0).is_empty());
}

/// A 404 on the grant listing is asked once: the other repositories go straight to the pairs, and
/// a plan says when effective access rests on a partial read.
#[tokio::test]
async fn a_missing_grant_listing_is_asked_once_and_a_partial_read_is_said() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(
            &[
                r#"{"name":"a","is_private":true,"description":""}"#,
                r#"{"name":"b","is_private":true,"description":""}"#,
            ],
            None,
        ),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/repositories/acme/a/groups/5/" => ok(r#"{"group_id":5,"permission":"read"}"#),
        "/v2/repositories/acme/b/groups/5/" => (404, vec![], "{}".into()),
        p if p.ends_with("/groups/") => (404, vec![], r#"{"detail":"Not Found"}"#.into()),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let mut cfg = config(base);
    cfg.concurrency = 1;
    let client = HubClient::login(cfg).await.unwrap();
    let scope = Scope {
        grant_repositories: ["a".to_string(), "b".to_string()].into(),
        grant_teams: ["dev".to_string()].into(),
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert_eq!(
        state.repositories["a"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Read)]))
    );
    assert_eq!(state.repositories["b"].grants, Some(BTreeMap::new()));
    assert!(state.partial_grants.is_empty(), "the budget covered both");
    let listings = requests(&fake)
        .iter()
        .filter(|s| s.path.ends_with("/groups/") && s.path.starts_with("/v2/repositories/"))
        .filter(|s| !s.path.ends_with("/5/"))
        .count();
    assert_eq!(
        listings, 1,
        "the missing listing is not asked per repository"
    );

    let mut live = state.clone();
    live.partial_grants.insert("b".into());
    let plan = crate::plan::diff(&OrgState::empty("acme"), &live, &Default::default());
    let note = plan
        .notes
        .iter()
        .find(|n| n.message.contains("partial read"))
        .expect("a note on the partial read");
    assert_eq!(note.address, "repository acme/b");
}
