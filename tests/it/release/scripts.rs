//! The release scripts (scripts/release/*.sh) building for the host target, packaging, checksumming
//! and publishing what the action installs, and the container image copying the checked release
//! binary onto a pinned non-root base.

use super::*;

fn script(name: &str) -> Command {
    let mut c = Command::new("bash");
    c.arg(root().join("scripts/release").join(name))
        .current_dir(root());
    c
}

fn host_triple() -> String {
    let out = run(Command::new("rustc").arg("-vV"));
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// The release of the host target, as the workflow makes it: build.sh (its own target directory,
/// so the binary the other tests run is left alone), checksums.sh, `sha256sum -c`, publish.sh to
/// the fake GitHub; the action then installs that release.
#[test]
fn the_release_scripts_build_package_checksum_and_publish_what_the_action_installs() {
    let dist = tempfile::tempdir().unwrap();
    let host = host_triple();

    // A tag that is not the version in Cargo.toml is refused before building.
    let o = run(script("build.sh")
        .args(["--tag", "v99.0.0", "--out"])
        .arg(dist.path()));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!(
            "tag 'v99.0.0' does not match the version in Cargo.toml ({VERSION})"
        )),
        "{}",
        text(&o.stderr)
    );

    let o = run(script("build.sh")
        .args(["--profile", "dev", "--tag", &format!("v{VERSION}"), "--out"])
        .arg(dist.path())
        .env("CARGO_TARGET_DIR", root().join("target/release-script")));
    assert!(o.status.success(), "build.sh: {}", text(&o.stderr));
    let archive = dist.path().join(format!("vetted-{VERSION}-{host}.tar.gz"));
    assert_eq!(text(&o.stdout).trim(), archive.display().to_string());
    assert!(
        text(&o.stderr).contains(&format!("--version: vetted {VERSION}")),
        "{}",
        text(&o.stderr)
    );
    let list = run(Command::new("tar").arg("-tzvf").arg(&archive));
    let list = text(&list.stdout);
    let dir = format!("vetted-{VERSION}-{host}");
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.split_whitespace().last().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            format!("{dir}/"),
            format!("{dir}/README.md"),
            format!("{dir}/vetted")
        ],
        "{list}"
    );
    assert!(
        list.lines().all(|l| l.contains(" 0/0 ")),
        "no builder's user in the archive:\n{list}"
    );
    assert!(list.contains("-rwxr-xr-x"), "{list}");

    // SHA256SUMS, checked by sha256sum -c; --complete wants every release target.
    let o = run(script("checksums.sh").arg(dist.path()));
    assert!(o.status.success(), "checksums.sh: {}", text(&o.stderr));
    let sums = fs::read_to_string(dist.path().join("SHA256SUMS")).unwrap();
    assert_eq!(
        sums,
        format!(
            "{}  vetted-{VERSION}-{host}.tar.gz\n",
            sha256_hex(&fs::read(&archive).unwrap())
        )
    );
    let check = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dist.path()));
    assert!(check.status.success(), "{}", text(&check.stdout));
    let o = run(script("checksums.sh").arg("--complete").arg(dist.path()));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!(
            "vetted-{VERSION}-x86_64-unknown-linux-musl.tar.gz is missing from"
        )),
        "{}",
        text(&o.stderr)
    );

    // Published to the fake GitHub: a draft, its files, then published.
    let github = FakeGithub::start();
    let url = github.url.clone();
    let publish = |dir: &Path| {
        run(script("publish.sh")
            .arg(format!("v{VERSION}"))
            .arg(dir)
            .env("GITHUB_API_URL", &url)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_TOKEN", GITHUB_SECRET))
    };
    // A draft left by an earlier failed run is reused, its stale checksum file replaced.
    let draft = github.add_release(
        &format!("v{VERSION}"),
        true,
        &[("SHA256SUMS", b"stale".to_vec())],
    );
    let o = publish(dist.path());
    assert!(o.status.success(), "publish.sh: {}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(&format!("reusing draft release v{VERSION}"))
            && stderr.contains("replaced SHA256SUMS of the draft")
            && stderr.contains(&format!("published release v{VERSION}")),
        "{stderr}"
    );
    assert!(!stderr.contains(GITHUB_SECRET) && !text(&o.stdout).contains(GITHUB_SECRET));
    {
        let s = github.state.lock().unwrap();
        assert_eq!(s.releases.len(), 1);
        let rel = &s.releases[0];
        assert_eq!(rel["id"], draft);
        assert_eq!(rel["draft"], false);
        let assets: Vec<&str> = rel["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            assets,
            [
                "SHA256SUMS".to_string(),
                format!("vetted-{VERSION}-{host}.tar.gz")
            ]
        );
        for req in &s.requests {
            assert_eq!(
                req.authorization,
                format!("Bearer {GITHUB_SECRET}"),
                "{req:?}"
            );
        }
        // The release was published only after its files were uploaded.
        let methods: Vec<&str> = s.requests.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods.last(), Some(&"PATCH"), "{methods:?}");
    }
    // A published release is never changed.
    let o = publish(dist.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!(
            "release v{VERSION} of {REPO} is already published; it is left as it is"
        )),
        "{}",
        text(&o.stderr)
    );

    // The action installs what was published.
    let r = Runner {
        dir: tempfile::tempdir().unwrap(),
        github,
    };
    for d in ["tmp", "cache", "home"] {
        fs::create_dir_all(r.dir.path().join(d)).unwrap();
    }
    let x = r.install(&[("VETTED_TARGET", host.as_str())]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert_eq!(r.installed_version(&x), format!("vetted {VERSION}"));

    // A corrupted archive fails sha256sum -c and publish.sh.
    let mut bytes = fs::read(&archive).unwrap();
    bytes[100] ^= 0x01;
    fs::write(&archive, bytes).unwrap();
    let check = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dist.path()));
    assert!(!check.status.success());
    let o = publish(dist.path());
    assert!(
        text(&o.stderr).contains("SHA256SUMS does not match the archives"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn the_container_image_copies_the_checked_release_binary_onto_a_pinned_non_root_base() {
    let dockerfile = fs::read_to_string(root().join("Dockerfile")).unwrap();
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let from: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from.len(), 1, "{from:?}");
    let (_, digest) = from[0]
        .split_once("@sha256:")
        .expect("FROM pinned by digest");
    assert!(
        digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "{digest}"
    );
    let user = instructions
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid != "0" && uid != "root" && uid.parse::<u32>().is_ok_and(|u| u >= 1000),
        "runs as {user}"
    );
    assert!(
        instructions.contains(&"COPY --chmod=0555 ${TARGETPLATFORM}/vetted /usr/local/bin/vetted"),
        "{instructions:?}"
    );
    assert!(
        instructions.contains(&r#"ENTRYPOINT ["/usr/local/bin/vetted"]"#),
        "{instructions:?}"
    );

    // image-context.sh lays out what COPY takes, from checked release archives only.
    let dist = tempfile::tempdir().unwrap();
    let archive = package(&bin(), VERSION, LINUX_X64, dist.path());
    let o = run(script("checksums.sh").arg(dist.path()));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ctx = dist.path().join("image");
    let o = run(script("image-context.sh").arg(dist.path()).arg(&ctx));
    assert!(o.status.success(), "image-context.sh: {}", text(&o.stderr));
    assert_eq!(
        fs::read_to_string(ctx.join("Dockerfile")).unwrap(),
        dockerfile
    );
    let out = run(Command::new(ctx.join("linux/amd64/vetted")).arg("--version"));
    assert_eq!(text(&out.stdout).trim(), format!("vetted {VERSION}"));
    assert!(!ctx.join("linux/arm64").exists());

    // An archive that does not match SHA256SUMS never reaches an image.
    let mut bytes = fs::read(&archive).unwrap();
    bytes[10] ^= 0x01;
    fs::write(&archive, bytes).unwrap();
    let ctx2 = dist.path().join("image2");
    let o = run(script("image-context.sh").arg(dist.path()).arg(&ctx2));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("does not match the archives"),
        "{}",
        text(&o.stderr)
    );
    assert!(!ctx2.join("linux/amd64/vetted").exists());

    // hadolint, as installed by scripts/install-deps.sh.
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let hadolint = [
        std::env::var_os("HADOLINT").map(PathBuf::from),
        Some(home.join(".cache/vetted-tools/hadolint/bin/hadolint")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_file())
    .unwrap_or_else(|| {
        panic!("hadolint is not installed: run `bash scripts/install-deps.sh` (or `bash .ci/run`, which does)")
    });
    let o = run(Command::new(hadolint)
        .arg("--no-color")
        .arg(root().join("Dockerfile")));
    assert!(
        o.status.success(),
        "hadolint:\n{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}
