//! Token kinds as Docker Hub enforces them, end to end with the real binary: an organization access
//! token without scope-repository-list sees public repositories only, so plan and apply refuse
//! (naming the scope, planning and changing nothing) where the listing left a repository out or
//! prune would trust it; with the scope, or with a password or personal access token, they plan
//! normally.

use std::process::Output;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

const NO_LIST_OAT: &str = "oat-without-repository-list-7a1";
const LIST_OAT: &str = "oat-with-repository-list-9c2";
const ALICE_PAT: &str = "alice-personal-access-token-3e5";

fn seed() -> String {
    let scopes = "\"scope-repository-create\", \"scope-repository-admin\", \"scope-tag-admin\", \
                  \"scope-repo-group-admin\", \"scope-group-edit\", \"scope-member-edit\", \"scope-invite-edit\"";
    format!(
        r#"
org = "acme"
[users.alice]
[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"
[[credentials]]
identifier = "alice"
secret = "{ALICE_PAT}"
kind = "pat"
[[credentials]]
identifier = "acme"
secret = "{NO_LIST_OAT}"
kind = "org_token"
scopes = [{scopes}]
[[credentials]]
identifier = "acme"
secret = "{LIST_OAT}"
kind = "org_token"
scopes = [{scopes}, "scope-repository-list"]
[members]
alice = "owner"
[repositories.public-tool]
private = false
[repositories.secret-tool]
private = true
"#
    )
}

/// Both repositories as seeded, nothing else.
const BOTH: &str = "org = \"acme\"\n[repositories.public-tool]\nprivate = false\n\
                    [repositories.secret-tool]\nprivate = true\n";
/// Only the public repository, with prune: the private one is to be deleted.
const PRUNE: &str =
    "org = \"acme\"\n[settings]\nprune = true\n[repositories.public-tool]\nprivate = false\n";
/// A repository that does not exist yet, and the public one.
const FRESH: &str = "org = \"acme\"\n[repositories.public-tool]\nprivate = false\n\
                     [repositories.fresh]\nprivate = true\n";

fn run(sb: &Sandbox, user: &str, secret: &str, policy: &str, args: &[&str]) -> Output {
    let path = sb.write_policy("vetted.toml", policy);
    sb.vetted_as(user, secret)
        .args(args)
        .arg("--policy")
        .arg(&path)
        .output()
        .unwrap()
}

fn plan(sb: &Sandbox, user: &str, secret: &str, policy: &str) -> Output {
    run(sb, user, secret, policy, &["plan", "--detailed-exitcode"])
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The refusal: exit 1, the scope and both remedies named, nothing planned, no secret shown.
fn assert_refused(out: &Output, what: &str) {
    let (err, text) = (stderr(out), stdout(out));
    assert_eq!(code(out), 1, "{what}: {text}\n{err}");
    assert!(err.contains("scope-repository-list"), "{what}: {err}");
    assert!(
        err.contains("give the organization access token for acme the scope"),
        "{what}: {err}"
    );
    assert!(err.contains("personal"), "{what}: {err}");
    assert!(
        !text.contains("create") && !text.contains("delete"),
        "{what}: {text}"
    );
    for secret in [NO_LIST_OAT, LIST_OAT, OWNER_TOKEN] {
        assert!(
            !err.contains(secret) && !text.contains(secret),
            "secret shown"
        );
    }
}

/// No write reached the hub.
fn assert_no_writes(sb: &Sandbox) {
    let writes: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| {
            r["method"]
                .as_str()
                .is_some_and(|m| m != "GET" && m != "HEAD")
        })
        .filter(|r| r["path"].as_str().is_some_and(|p| p != "/v2/auth/token"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    let repos = &sb.state()["repositories"];
    assert!(repos.get("secret-tool").is_some() && repos.get("public-tool").is_some());
}

#[test]
fn a_private_repository_the_listing_leaves_out_is_never_planned_as_a_create() {
    let sb = Sandbox::start(&seed(), &[]);
    let out = plan(&sb, "acme", NO_LIST_OAT, BOTH);
    assert_refused(&out, "plan");
    assert!(
        stderr(&out).contains("acme/secret-tool exist"),
        "{}",
        stderr(&out)
    );
    let out = run(&sb, "acme", NO_LIST_OAT, BOTH, &["apply", "--yes"]);
    assert_refused(&out, "apply");
    assert_no_writes(&sb);
    // The listing reads only the documented path, never the legacy ones the token is refused on.
    assert!(sb.requests().iter().all(|r| {
        let p = r["path"].as_str().unwrap_or("");
        !p.starts_with("/v2/repositories/acme/") || p.contains("/groups")
    }));
    // With the scope, with a password and with a personal access token: in sync.
    for (user, secret) in [
        ("acme", LIST_OAT),
        ("alice", OWNER_TOKEN),
        ("alice", ALICE_PAT),
    ] {
        let out = plan(&sb, user, secret, BOTH);
        assert_eq!(code(&out), 0, "{user}: {}\n{}", stdout(&out), stderr(&out));
    }
}

#[test]
fn prune_refuses_a_listing_that_may_omit_private_repositories() {
    let sb = Sandbox::start(&seed(), &[]);
    let out = plan(&sb, "acme", NO_LIST_OAT, PRUNE);
    assert_refused(&out, "plan");
    assert!(stderr(&out).contains("may be partial"), "{}", stderr(&out));
    assert!(stderr(&out).contains("prune = true"), "{}", stderr(&out));
    let out = run(&sb, "acme", NO_LIST_OAT, PRUNE, &["apply", "--yes"]);
    assert_refused(&out, "apply");
    assert_no_writes(&sb);
    // With the scope the listing shows the private repository, and prune deletes it.
    for (user, secret) in [("acme", LIST_OAT), ("alice", OWNER_TOKEN)] {
        let out = plan(&sb, user, secret, PRUNE);
        assert_eq!(code(&out), 2, "{user}: {}\n{}", stdout(&out), stderr(&out));
        assert!(stdout(&out).contains("secret-tool"), "{}", stdout(&out));
    }
    let out = run(&sb, "acme", LIST_OAT, PRUNE, &["apply", "--yes", "--force"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(sb.state()["repositories"].get("secret-tool").is_none());
}

#[test]
fn without_the_scope_a_repository_that_does_not_exist_is_still_created() {
    let sb = Sandbox::start(&seed(), &[]);
    let out = plan(&sb, "acme", NO_LIST_OAT, FRESH);
    assert_eq!(code(&out), 2, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("fresh"), "{}", stdout(&out));
    let out = run(&sb, "acme", NO_LIST_OAT, FRESH, &["apply", "--yes"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(sb.state()["repositories"]["fresh"]["is_private"], true);
    // It is private, so this token no longer lists it: the next plan reads it on its own, finds
    // it, and refuses rather than planning it again.
    let out = plan(&sb, "acme", NO_LIST_OAT, FRESH);
    assert_refused(&out, "re-plan");
    assert_eq!(code(&plan(&sb, "acme", LIST_OAT, FRESH)), 0);
}

#[test]
fn export_refuses_a_listing_that_may_omit_private_repositories() {
    let sb = Sandbox::start(&seed(), &[]);
    let out = sb
        .vetted_as("acme", NO_LIST_OAT)
        .args(["export", "--org", "acme"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(err.contains("scope-repository-list"), "{err}");
    assert!(!stdout(&out).contains("public-tool"), "{}", stdout(&out));
}

#[test]
fn a_scope_the_call_needs_is_named_in_the_403_hint() {
    let seed = format!(
        "{}\n[[credentials]]\nidentifier = \"acme\"\nsecret = \"oat-repositories-only-4d8\"\nkind = \"org_token\"\nscopes = [\"scope-repository-list\", \"scope-repository-read\"]\n",
        seed()
    );
    let sb = Sandbox::start(&seed, &[]);
    let out = plan(
        &sb,
        "acme",
        "oat-repositories-only-4d8",
        "org = \"acme\"\n[members]\nowners = [\"alice\"]\n",
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(err.contains("GET /v2/orgs/acme/members"), "{err}");
    assert!(
        err.contains(
            "the organization access token for acme lacks the scope this call needs \
             (scope-member-read, or a scope that includes it)"
        ),
        "{err}"
    );
    // The same policy plans with a password.
    assert_eq!(
        code(&plan(
            &sb,
            "alice",
            OWNER_TOKEN,
            "org = \"acme\"\n[members]\nowners = [\"alice\"]\n"
        )),
        0
    );
}
