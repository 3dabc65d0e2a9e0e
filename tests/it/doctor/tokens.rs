//! `vetted doctor` with access tokens: a personal access token is refused managing teams, an
//! organization access token short of scopes is told which, and one without the repository-list
//! scope is told the listing is partial (against canned answers and against the sandbox).

use super::*;

#[test]
fn a_personal_access_token_is_refused_managing_teams() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let run = doctor(&sb, "alice", PAT, POLICY, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let cred = line(&run.out, "credential");
    assert!(
        cred.0.contains("a personal access token of alice"),
        "{cred:?}"
    );
    let teams = line(&run.out, "teams");
    assert!(starts(&teams, "FAIL"), "{teams:?}");
    assert!(
        teams
            .0
            .contains("personal access token cannot manage organizations"),
        "{teams:?}"
    );
    assert!(
        teams
            .1
            .is_some_and(|f| f.contains("use the password of a user with the role needed")),
        "{teams:?}"
    );
    assert!(run.out.contains("Apply would fail"), "{}", run.out);
    assert!(
        run.err.is_empty() || !run.err.contains("error:"),
        "{}",
        run.err
    );
}

#[test]
fn an_organization_access_token_short_of_scopes_says_which() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let run = doctor(&sb, "acme", OAT, POLICY, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    assert!(
        line(&run.out, "credential")
            .0
            .contains("an organization access token of acme"),
        "{}",
        run.out
    );
    let role = line(&run.out, "role");
    assert!(
        starts(&role, "ok") && role.0.contains("has no role in acme"),
        "{role:?}"
    );
    // Writes hang on scopes Docker Hub does not show: a guess, said as such.
    let teams = line(&run.out, "teams");
    assert!(
        starts(&teams, "warn")
            && teams
                .0
                .contains("unconfirmed: depends on the token's scopes"),
        "{teams:?}"
    );
    // No repo-group scope: the grants cannot be read.
    let grants = line(&run.out, "grants");
    assert!(starts(&grants, "FAIL"), "{grants:?}");
    assert!(grants.0.contains("missing a required scope"), "{grants:?}");
    assert!(
        grants.1.is_some_and(|f| f.contains(
            "create an organization access token with scope-repo-group-read, scope-repo-group-edit"
        )),
        "{grants:?}"
    );
    // Registry Access Management hangs on scope-ram-write: unconfirmed, said so; the allowlist is
    // part of Image Access Management, which no organization access token changes.
    let registries = line(&run.out, "registries");
    assert!(
        registries.0.contains("scope-ram-read, scope-ram-write"),
        "{registries:?}"
    );
    let allowlist = line(&run.out, "allowlist");
    assert!(
        allowlist
            .0
            .contains("an organization access token cannot change Image Access Management"),
        "{allowlist:?}"
    );
    // No image-push scope: no push token.
    let push = line(&run.out, "push token");
    assert!(starts(&push, "FAIL"), "{push:?}");
    assert!(
        push.0
            .contains("the registry grants pull on acme/redis, not push")
            || push.0.contains("grants nothing on acme/redis"),
        "{push:?}"
    );
    assert!(
        push.1.is_some_and(|f| f.contains("scope-image-push")),
        "{push:?}"
    );
    // Where the listing's completeness is decided: present on the repositories line whatever it
    // finds (this token holds scope-repository-list, so the sandbox lists its private
    // repositories).
    let repos = line(&run.out, "repositories");
    assert!(repos.0.contains("read: ok"), "{repos:?}");
}

/// A hub answering as Docker documents for an organization access token without
/// `scope-repository-list`: the listing shows the public repositories only, while the private one
/// reads by name (hub-api.md). The sandbox models the listing too (tests/it/token_kinds.rs); this
/// small stand-in also answers a hostile team name.
#[test]
fn an_organization_access_token_without_repository_list_is_told_the_listing_is_partial() {
    use crate::support::hostile::Hostile;
    let hub = Hostile::start(|req, s, _| {
        let path = req.path.split('?').next().unwrap_or("");
        let json = [("content-type", "application/json")];
        let ok = |s: &mut std::net::TcpStream, body: &str| {
            Hostile::respond(s, "200 OK", &json, body.as_bytes())
        };
        let empty = r#"{"count":0,"next":null,"previous":null,"results":[]}"#;
        match (req.method.as_str(), path) {
            ("POST", "/v2/auth/token") => ok(s, r#"{"access_token":"hub-bearer-1f2e"}"#),
            ("GET", "/v2/orgs/acme/members") => ok(s, empty),
            // A hostile team name: shown escaped, never as a terminal escape sequence.
            ("GET", "/v2/orgs/acme/groups") => ok(
                s,
                r#"{"count":1,"next":null,"previous":null,"results":[{"id":7,"name":"ops\u001b[2J","description":""}]}"#,
            ),
            ("GET", p) if p.starts_with("/v2/orgs/acme/groups/") => ok(s, empty),
            ("GET", "/v2/orgs/acme/invites") => ok(s, r#"{"data":[]}"#),
            ("GET", "/v2/orgs/acme/settings/") => ok(
                s,
                r#"{"restricted_images":{"enabled":false,"allow_official_images":true,"allow_verified_publishers":true}}"#,
            ),
            ("GET", "/v2/namespaces/acme/repositories") => ok(
                s,
                r#"{"count":1,"next":null,"previous":null,"results":[{"name":"site","is_private":false}]}"#,
            ),
            ("GET", "/v2/namespaces/acme/repositories/secret") => {
                ok(s, r#"{"name":"secret","is_private":true}"#)
            }
            ("GET", "/v2/repositories/acme/site/groups/") => ok(s, empty),
            _ => Hostile::respond(s, "404 Not Found", &json, br#"{"detail":"not found"}"#),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vetted.toml"),
        "org = \"acme\"\n[repositories.site]\nprivate = false\n[repositories.secret]\nprivate = true\n",
    )
    .unwrap();
    let out = vetted()
        .current_dir(dir.path())
        .env("VETTED_HUB_URL", format!("http://{}", hub.host()))
        .env("DOCKERHUB_USERNAME", "acme")
        .env("DOCKERHUB_TOKEN", OAT)
        .arg("doctor")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(!text.contains(OAT) && !stderr(&out).contains(OAT));
    let repos = line(&text, "repositories");
    assert!(starts(&repos, "FAIL"), "{repos:?}");
    assert!(
        repos
            .0
            .contains("the listing is partial: it leaves out secret which read one by one"),
        "{repos:?}"
    );
    assert!(
        repos.1.is_some_and(|f| f.contains("scope-repository-list")),
        "{repos:?}"
    );
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let team = line(&text, "team members");
    assert!(team.0.contains("read: ok (team ops"), "{team:?}");
    // Without X-RateLimit headers the budget is unknown, and said so.
    let budget = line(&text, "hub budget");
    assert!(
        starts(&budget, "warn") && budget.0.contains("no X-RateLimit headers"),
        "{budget:?}"
    );
}

/// The sandbox lists only public repositories to an organization access token without
/// `scope-repository-list` (as Docker Hub does): doctor says the listing leaves out a repository the
/// policy names, and, when the policy names none of the hidden ones, that the listing may be partial
/// (a failure when prune would delete from it, a warning otherwise).
#[test]
fn an_organization_access_token_without_repository_list_scope_in_the_sandbox() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    // The policy names the private repository the listing leaves out.
    let run = doctor(&sb, "acme", OAT_NO_LIST, POLICY, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let repos = line(&run.out, "repositories");
    assert!(starts(&repos, "FAIL"), "{repos:?}");
    assert!(
        repos
            .0
            .contains("the listing is partial: it leaves out secret"),
        "{repos:?}"
    );
    assert!(
        repos.1.is_some_and(|f| f.contains("scope-repository-list")),
        "{repos:?}"
    );

    // The policy names only a new repository, and prunes: apply would refuse the listing.
    let prune = "org = \"acme\"\n[settings]\nprune = true\n[repositories.site]\nprivate = false\n";
    let run = doctor(&sb, "acme", OAT_NO_LIST, prune, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let repos = line(&run.out, "repositories");
    assert!(starts(&repos, "FAIL"), "{repos:?}");
    assert!(repos.0.contains("the listing may be partial"), "{repos:?}");
    assert!(
        repos
            .1
            .is_some_and(|f| f.contains("scope-repository-list") && f.contains("prune = true")),
        "{repos:?}"
    );

    // Without prune the doubt is a warning: nothing would be deleted from the listing.
    let keep = "org = \"acme\"\n[repositories.site]\nprivate = false\n";
    let run = doctor(&sb, "acme", OAT_NO_LIST, keep, &[]);
    let repos = line(&run.out, "repositories");
    assert!(starts(&repos, "warn"), "{repos:?}\n{}", run.out);
    assert!(repos.0.contains("the listing may be partial"), "{repos:?}");

    // The token with the scope lists the private repository: no doubt.
    let run = doctor(&sb, "acme", OAT, prune, &[]);
    let repos = line(&run.out, "repositories");
    assert!(!repos.0.contains("partial"), "{repos:?}\n{}", run.out);
}
