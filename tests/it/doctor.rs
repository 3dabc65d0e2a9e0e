//! `vetted doctor` against the sandbox: one run per credential explains what apply could and could
//! not do (a personal access token managing teams, an organization access token short of scopes,
//! an editor, a non-member, a wrong organization, an unreachable hub), and an owner passes.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

const PAT: &str = "sandbox-alice-pat-7d2e01";
const OAT: &str = "sandbox-acme-oat-91b3c4";
const EDITOR: &str = "sandbox-bob-password-5a";
const OUTSIDER: &str = "sandbox-carol-password-6b";
/// An organization access token of acme without `scope-repository-list`.
const OAT_NO_LIST: &str = "sandbox-acme-oat-nolist-5e";

fn seed() -> String {
    format!(
        r#"
org = "acme"
[users.alice]
[users.bob]
[users.carol]
[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"
[[credentials]]
identifier = "alice"
secret = "{PAT}"
kind = "pat"
[[credentials]]
identifier = "bob"
secret = "{EDITOR}"
kind = "password"
[[credentials]]
identifier = "carol"
secret = "{OUTSIDER}"
kind = "password"
[[credentials]]
identifier = "acme"
secret = "{OAT}"
kind = "org_token"
scopes = ["scope-member-read", "scope-group-read", "scope-image-pull", "scope-repository-list", "scope-repository-read"]
[[credentials]]
identifier = "acme"
secret = "{OAT_NO_LIST}"
kind = "org_token"
scopes = ["scope-member-read", "scope-group-read", "scope-repository-read"]
[members]
alice = "owner"
bob = "editor"
[teams.dev]
description = "Developers"
members = ["alice", "bob"]
[repositories.secret]
private = true
grants = {{ dev = "write" }}
[registry]
pull_limit = 77
"#
    )
}

/// A policy managing teams, members, grants and one mirror into a private repository.
const POLICY: &str = r#"org = "acme"
[members]
owners = ["alice"]
editors = ["bob"]
[teams.dev]
description = "Developers"
members = ["alice", "bob"]
[repositories.secret]
private = true
teams = { dev = "write" }
[repositories.redis]
private = true
teams = { dev = "read" }
mirror = { from = "bitnami/redis", tags = ["7.2"] }
"#;

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn doctor(sb: &Sandbox, user: &str, secret: &str, policy: &str, extra: &[&str]) -> Run {
    let path = sb.write_policy("vetted.toml", policy);
    let out = sb
        .vetted_as(user, secret)
        .arg("doctor")
        .arg("--policy")
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        out: stdout(&out),
        err: stderr(&out),
    };
    for s in [OWNER_TOKEN, PAT, OAT, EDITOR, OUTSIDER, OAT_NO_LIST] {
        assert!(
            !run.out.contains(s) && !run.err.contains(s),
            "a secret was printed:\n{}\n{}",
            run.out,
            run.err
        );
    }
    run
}

/// The line of `check` (`status  name  detail`, the columns of the text report) and the fix line
/// after it, if any.
fn line<'a>(out: &'a str, check: &str) -> (String, Option<&'a str>) {
    let lines: Vec<&str> = out.lines().collect();
    let name = |l: &str| l.get(8..21).map(str::trim).unwrap_or("").to_string();
    let i = lines
        .iter()
        .position(|l| name(l) == check)
        .unwrap_or_else(|| panic!("no {check} line in:\n{out}"));
    let fix = lines
        .get(i + 1)
        .map(|l| l.trim_start())
        .filter(|l| l.starts_with("fix: "));
    (lines[i].trim().to_string(), fix)
}

fn starts(l: &(String, Option<&str>), status: &str) -> bool {
    l.0.starts_with(&format!("{status} "))
}

#[test]
fn an_owner_with_a_password_can_apply_the_policy() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let run = doctor(&sb, "alice", OWNER_TOKEN, POLICY, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.out, run.err);
    for check in [
        "hub",
        "credential",
        "role",
        "members",
        "invites",
        "teams",
        "team members",
        "repositories",
        "grants",
        "allowlist",
        "registries",
        "hub budget",
        "pull budget",
        "push token",
    ] {
        assert!(
            starts(&line(&run.out, check), "ok"),
            "{check}:\n{}",
            run.out
        );
    }
    assert!(run.out.contains("owner of acme"), "{}", run.out);
    assert!(
        run.out
            .contains("77 pulls left (read with a HEAD of docker.io/bitnami/redis:7.2"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("the registry grants push on acme/redis"),
        "{}",
        run.out
    );
    let budget = line(&run.out, "hub budget").0;
    assert!(
        budget.contains("Docker Hub API requests of 600 left"),
        "{budget}"
    );
    assert!(run.out.contains("Apply can succeed"), "{}", run.out);
    // Read-only: every hub request was a GET (and the login).
    for r in sb.requests() {
        let method = r["method"].as_str().unwrap_or("");
        let path = r["path"].as_str().unwrap_or("");
        assert!(
            method == "GET" || (method == "POST" && path == "/v2/auth/token"),
            "{method} {path}"
        );
    }

    // The same as JSON.
    let run = doctor(&sb, "alice", OWNER_TOKEN, POLICY, &["--format", "json"]);
    assert_eq!(run.code, 0);
    let v: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["credential"], "user");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{v:#}");
}

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

#[test]
fn an_editor_can_manage_repositories_but_not_teams_or_members() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let run = doctor(&sb, "bob", EDITOR, POLICY, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    assert!(
        line(&run.out, "role").0.contains("editor of acme"),
        "{}",
        run.out
    );
    for check in ["members", "invites", "teams", "team members"] {
        let l = line(&run.out, check);
        if check == "invites" {
            // Listing invites is for owners too.
            assert!(starts(&l, "FAIL") && l.0.contains("cannot read"), "{l:?}");
            continue;
        }
        assert!(starts(&l, "FAIL"), "{check}: {l:?}");
        assert!(
            l.0.contains("write: no: needs the owner role (bob is editor)"),
            "{l:?}"
        );
        assert!(
            l.1.is_some_and(|f| f.contains("run apply as a user with the owner role")),
            "{l:?}"
        );
    }
    assert!(starts(&line(&run.out, "repositories"), "ok"), "{}", run.out);
    assert!(starts(&line(&run.out, "grants"), "ok"), "{}", run.out);

    // With a policy of repositories only, the editor passes.
    let run = doctor(
        &sb,
        "bob",
        EDITOR,
        "org = \"acme\"\n[repositories.secret]\nprivate = true\n",
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.out, run.err);
    let teams = line(&run.out, "teams");
    assert!(
        starts(&teams, "warn") && teams.0.contains("not managed by this policy"),
        "{teams:?}"
    );
}

#[test]
fn a_non_member_is_told_to_get_invited() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    let run = doctor(
        &sb,
        "carol",
        OUTSIDER,
        "org = \"acme\"\n[teams.dev]\nmembers = []\n",
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let role = line(&run.out, "role");
    assert!(starts(&role, "FAIL"), "{role:?}");
    assert!(
        role.1
            .is_some_and(|f| f.contains("ask an owner of acme to add carol")
                || f.contains("ask an owner of acme to invite carol")),
        "{role:?}"
    );
    let teams = line(&run.out, "teams");
    assert!(
        starts(&teams, "FAIL") && teams.0.contains("cannot read"),
        "{teams:?}"
    );
}

#[test]
fn a_wrong_org_points_at_the_policy_org() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    let run = doctor(&sb, "alice", OWNER_TOKEN, "org = \"acmee\"\n", &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let role = line(&run.out, "role");
    assert!(starts(&role, "FAIL"), "{role:?}");
    assert!(
        role.0.contains("no organization acmee on ")
            && role.1.is_some_and(|f| f.contains("check `org` in ")),
        "{role:?}"
    );
}

#[test]
fn an_unreachable_hub_names_the_setting_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vetted.toml"), "org = \"acme\"\n").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let out = vetted()
        .current_dir(dir.path())
        .env("VETTED_HUB_URL", &url)
        .env("DOCKERHUB_USERNAME", "alice")
        .env("DOCKERHUB_TOKEN", "not-a-real-secret-123")
        .arg("doctor")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        !text.contains("not-a-real-secret-123") && !stderr(&out).contains("not-a-real-secret-123")
    );
    let hub = line(&text, "hub");
    assert!(starts(&hub, "FAIL"), "{hub:?}");
    assert!(
        hub.0.contains(&format!("could not connect to {url}")),
        "{hub:?}"
    );
    assert!(
        hub.1
            .is_some_and(|f| f.contains("--hub-url or VETTED_HUB_URL")),
        "{hub:?}"
    );
    assert!(starts(&line(&text, "role"), "skip"), "{text}");
}

#[test]
fn plan_ends_with_an_estimate_of_apply_against_the_budgets() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let path = sb.write_policy("vetted.toml", POLICY);
    let out = sb
        .vetted()
        .args(["plan", "--format", "json", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(plan.get("estimate").is_none(), "the JSON plan is unchanged");
    let changes = plan["changes"].as_array().unwrap();
    let writes = changes.iter().filter(|c| c["type"] != "copy_image").count() as u64;
    let grants = changes.iter().any(|c| {
        matches!(
            c["type"].as_str(),
            Some("grant" | "update_grant" | "revoke")
        )
    });
    // One pull per image manifest: an index's platforms (manifests - 1), or the one image.
    let pulls: u64 = changes
        .iter()
        .filter(|c| c["type"] == "copy_image")
        .map(|c| {
            c["manifests"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(1)
                .max(1)
        })
        .sum();
    assert!(writes > 0 && pulls > 0, "{plan:#}");
    let calls = plan["api_calls"].as_u64().unwrap() + writes + u64::from(grants);
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or("");
    assert_eq!(
        last.split(" (").next().unwrap(),
        format!("Estimate: apply makes about {calls} Docker Hub API calls"),
        "{err}"
    );
    assert!(last.contains(" of 600 left in this window)"), "{last}");
    // The sandbox counts pulls as Docker Hub does: the plan's own estimate read each platform
    // manifest the copies will read, so as many pulls are gone already. An apply without a saved
    // plan reads them again for its own estimate, then copies: twice as many.
    assert!(
        last.ends_with(&format!(
            "and {} Docker Hub pulls ({} left)",
            2 * pulls,
            77 - pulls
        )),
        "{last}"
    );
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
