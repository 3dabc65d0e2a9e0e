//! Registry credentials from Docker's config.json: `auths` entries and credential helpers.

use super::*;

fn lock_with_config(
    policy: &Path,
    docker_config: &Path,
    path_env: Option<&str>,
) -> std::process::Output {
    let mut cmd = vetted();
    cmd.args(["lock", "--upgrade", "--policy"])
        .arg(policy)
        .env("DOCKER_CONFIG", docker_config);
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_come_from_docker_config_auths_and_helpers() {
    use base64::Engine;
    let upstream = RegistryProc::start_basic_auth().await;
    let (digest, _, _) = upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    let host = upstream.host();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.toml");
    std::fs::write(
        &path,
        policy(&format!(
            "[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\"] }}\n"
        )),
    )
    .unwrap();
    let config_dir = dir.path().join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();

    // No credentials: the registry refuses.
    let out = lock_with_config(&path, &config_dir, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // An `auths` entry, as `docker login` writes it.
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
    std::fs::write(
        config_dir.join("config.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let out = lock_with_config(&path, &config_dir, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = std::fs::read_to_string(dir.path().join("vetted.lock")).unwrap();
    assert!(lock.contains(&digest), "{lock}");
    assert!(!stderr(&out).contains(BASIC_PASSWORD));

    // A credential helper named in `credHelpers`: docker-credential-fake on PATH.
    std::fs::remove_file(dir.path().join("vetted.lock")).unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let called = dir.path().join("helper-called");
    let helper = bin_dir.join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n[ \"$server\" = \"{host}\" ] || exit 1\necho \"$server\" > \"{}\"\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{BASIC_USER}\",\"Secret\":\"{BASIC_PASSWORD}\"}}' \"$server\"\n",
            called.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        config_dir.join("config.json"),
        format!(r#"{{"credHelpers": {{"{host}": "fake"}}}}"#),
    )
    .unwrap();
    let path_env = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = lock_with_config(&path, &config_dir, Some(&path_env));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&called).unwrap().trim(),
        host,
        "the helper was asked for the registry"
    );
    let lock = std::fs::read_to_string(dir.path().join("vetted.lock")).unwrap();
    assert!(lock.contains(&digest), "{lock}");
    assert!(!stderr(&out).contains(BASIC_PASSWORD));
}
