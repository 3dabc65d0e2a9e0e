//! vetted.lock in plan and apply: `--locked` refuses without a lock and follows it, and an upstream
//! tag that moved is reported as an update available.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_apply_follow_the_lock_and_report_updates() {
    let upstream = RegistryProc::start().await;
    let (old, _, _) = upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    let host = upstream.host();
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let body = format!(
        "[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\"] }}\n"
    );
    let path = sb.write_policy("vetted.toml", &policy(&body));

    let run = |args: Vec<String>| {
        let mut cmd = sb.vetted();
        cmd.args(&args);
        cmd.output().unwrap()
    };
    let p = path.display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // --locked without a lock: an error before anything is read.
    let out = run(s(&["plan", "--locked", "--policy", &p]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("vetted.lock does not exist"),
        "{}",
        stderr(&out)
    );
    let out = run(s(&["apply", "--yes", "--locked", "--policy", &p]));
    assert_eq!(out.status.code(), Some(1));

    let out = run(s(&["lock", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));

    // Upstream moves the tag.
    let (new, _, _) = upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    assert_ne!(old, new);
    let out = run(s(&["plan", "--locked", "--format", "json", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(copies(&plan)[0]["digest"], Value::String(old.clone()));
    let notes = plan["notes"].to_string();
    let short = |d: &str| d[..19].to_string();
    assert!(
        notes.contains(&format!(
            "update available: app:1.0 {} -> {}",
            short(&old),
            short(&new)
        )),
        "{notes}"
    );

    let out = run(s(&["apply", "--yes", "--locked", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/app:1.0"), Some(old.clone()));
    let out = run(s(&[
        "plan",
        "--locked",
        "--detailed-exitcode",
        "--policy",
        &p,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("update available"),
        "{}",
        stdout(&out)
    );

    // A tag the lock does not cover: --locked refuses, a plain plan notes it and follows upstream.
    let body = format!(
        "[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\", \"2.0\"] }}\n"
    );
    upstream
        .push_image("community/app", Some("2.0"), true, "amd64", &[], 1)
        .await;
    std::fs::write(&path, policy(&body)).unwrap();
    let out = run(s(&["plan", "--locked", "--policy", &p]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("out of date"), "{}", stderr(&out));
    let out = run(s(&["plan", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("vetted.lock is outdated"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("image acme/app:2.0"),
        "{}",
        stdout(&out)
    );

    // `vetted lock --upgrade` then apply: the new digest.
    let out = run(s(&["lock", "--upgrade", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(s(&["apply", "--yes", "--locked", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/app:1.0"), Some(new));
}
