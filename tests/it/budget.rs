//! A large organization (1,000 repositories, 100 teams, 300 members) under Docker Hub's API
//! budget: a plan reads about one call per repository, and a plan and an apply under a budget far
//! smaller than their calls pace themselves and receive no 429.

use serde_json::{Value, json};

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

const REPOSITORIES: usize = 1000;
const TEAMS: usize = 100;
const MEMBERS: usize = 300;

/// The seed: alice owns acme; every team has six members; every repository grants two teams.
fn big_seed() -> String {
    vetted_sandbox::kit::org::big_org_seed(
        "acme",
        "alice",
        OWNER_TOKEN,
        REPOSITORIES,
        TEAMS,
        MEMBERS,
    )
}

fn rate_limit(sb: &Sandbox, budget: Option<Value>) -> Value {
    let url = format!("{}/_sandbox/rate-limit", sb.url.trim_end_matches('/'));
    let client = reqwest::blocking::Client::new();
    let r = match budget {
        Some(b) => client.put(&url).json(&b).send(),
        None => client.get(&url).send(),
    }
    .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().unwrap()
}

#[test]
fn a_big_organization_plans_in_a_call_per_repository_and_stays_inside_the_api_budget() {
    // Exported without a budget to speak of; then the budget is set far below what plan and apply
    // need. 600 per minute is Docker Hub's announced figure; at that rate this test would take
    // minutes, so the window is scaled down: 300 requests per 2 s window, which plan and apply
    // (about 1,100 calls each) cross several times.
    let sb = Sandbox::start(
        &big_seed(),
        &["--no-registry", "--api-budget", "1000000000"],
    );
    let out = sb
        .vetted()
        .args(["export", "--org", "acme"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = stdout(&out);
    assert!(
        !exported.contains("full_description"),
        "an empty full description is left unmanaged"
    );
    // The policy changes 50 descriptions and adds 50 grants.
    let mut policy = exported.clone();
    for r in 0..50 {
        policy = policy.replacen(
            &format!("description = \"Repository {r}\"\n"),
            &format!("description = \"Repository {r}, vetted\"\n"),
            1,
        );
        let name = format!("[repositories.r{:04}]\n", r + 100);
        let at = policy.find(&name).unwrap();
        let line_start = at + policy[at..].find("teams = { ").unwrap() + "teams = { ".len();
        policy.insert_str(line_start, &format!("t{:03} = \"admin\", ", 99 - r % 10));
    }
    assert_ne!(policy, exported);
    sb.write_policy("vetted.toml", &policy);
    let before = rate_limit(&sb, Some(json!({"limit": 300, "window_secs": 2})));
    assert_eq!(before["rate_limited"], 0, "{before}");
    let cleared = reqwest::blocking::Client::new()
        .delete(format!(
            "{}/_sandbox/requests",
            sb.url.trim_end_matches('/')
        ))
        .send()
        .unwrap();
    assert!(cleared.status().is_success());

    let plan = sb.vetted().args(["plan", "-v"]).output().unwrap();
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(!text.contains("No changes"), "{text}");
    let plan_err = stderr(&plan);
    // One grant listing per repository; no detail read (no full description is managed).
    let per_endpoint = |err: &str, endpoint: &str| -> Option<u64> {
        err.lines()
            .find(|l| l.trim_end().ends_with(endpoint))
            .and_then(|l| l.split_whitespace().rev().nth(2)?.parse().ok())
    };
    assert_eq!(
        per_endpoint(
            &plan_err,
            "GET /v2/repositories/{namespace}/{repository}/groups/"
        ),
        Some(REPOSITORIES as u64),
        "{plan_err}"
    );
    assert_eq!(
        per_endpoint(
            &plan_err,
            "GET /v2/namespaces/{namespace}/repositories/{repository}"
        ),
        None,
        "{plan_err}"
    );
    let served = sb.requests();
    assert!(
        served.len() <= 1200,
        "{} calls for the plan (at most 1,200 wanted)",
        served.len()
    );
    assert!(
        served.iter().all(|e| e["status"] != 429),
        "the plan received a 429"
    );

    let apply = sb.vetted().args(["apply", "--yes"]).output().unwrap();
    assert!(apply.status.success(), "{}", stderr(&apply));
    let apply_err = stderr(&apply);
    let after = rate_limit(&sb, None);
    assert_eq!(after["rate_limited"], 0, "429s sent: {after}");
    // The budget was smaller than the runs: they waited for it, and said so.
    let both = format!("{plan_err}{apply_err}");
    assert!(
        both.contains("s for Docker Hub's API budget (X-RateLimit-Reset)"),
        "{both}"
    );
    // The apply landed: a re-plan (without a budget in the way) has nothing to do.
    rate_limit(
        &sb,
        Some(json!({"limit": 1_000_000_000, "window_secs": 60})),
    );
    let state = sb.state();
    let text = state.to_string();
    assert!(
        text.contains("Repository 49, vetted"),
        "description written"
    );
    let replan = sb
        .vetted()
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(replan.status.code(), Some(0), "{}", stdout(&replan));
}

#[test]
fn a_targeted_plan_of_a_big_organization_reads_what_its_target_needs() {
    let sb = Sandbox::start(
        &big_seed(),
        &["--no-registry", "--api-budget", "1000000000"],
    );
    let out = sb
        .vetted()
        .args(["export", "--org", "acme"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // r0100 changes its description and grants a team that does not exist yet.
    let mut policy = stdout(&out).replacen(
        "description = \"Repository 100\"\n",
        "description = \"Repository 100, vetted\"\n",
        1,
    );
    let at = policy.find("[repositories.r0100]\n").unwrap();
    let grants = at + policy[at..].find("teams = { ").unwrap() + "teams = { ".len();
    policy.insert_str(grants, "newteam = \"read\", ");
    policy.push_str("\n[teams.newteam]\ndescription = \"New\"\nmembers = []\n");
    sb.write_policy("vetted.toml", &policy);
    let cleared = reqwest::blocking::Client::new()
        .delete(format!(
            "{}/_sandbox/requests",
            sb.url.trim_end_matches('/')
        ))
        .send()
        .unwrap();
    assert!(cleared.status().is_success());

    let plan = sb
        .vetted()
        .args(["plan", "-v", "--target", "repositories.r0100"])
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    for wanted in [
        "team newteam",
        "grant acme/r0100:newteam",
        "repository acme/r0100",
    ] {
        assert!(text.contains(wanted), "{wanted} missing:\n{text}");
    }
    assert!(
        text.contains("Plan: 2 to add, 1 to change, 0 to destroy."),
        "{text}"
    );
    // The repository listing (10 pages), the team list, the two granted teams' members (and the
    // new one's absence), the members and invites, one grant listing: no read per repository.
    let served = sb.requests();
    let grant_reads = served
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with("/groups/")))
        .count();
    assert_eq!(grant_reads, 1, "one grant listing, the target's");
    assert!(
        served.len() <= 30,
        "{} calls for a plan of one repository of {REPOSITORIES}:\n{}",
        served.len(),
        stderr(&plan)
    );
}
