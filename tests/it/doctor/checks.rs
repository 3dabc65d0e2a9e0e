//! `vetted doctor` beyond the credential: an unreachable hub names the setting and skips the rest,
//! and the plan ends with an estimate of apply against the budgets.

use super::*;

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
    // plan reads them again for its own estimate, and its copies use what it read: as many.
    assert!(
        last.ends_with(&format!(
            "and {} Docker Hub pulls ({} left)",
            pulls,
            77 - pulls
        )),
        "{last}"
    );
}
