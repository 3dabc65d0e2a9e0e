//! Releases: the scripts the release workflow runs (scripts/release/*.sh: build for the host target,
//! package, checksum, publish to a fake GitHub on 127.0.0.1), the container image definition, and
//! the action's installer (`.github/actions/vetted/install.sh`) downloading, verifying and caching a
//! released binary from that fake GitHub. The workflow itself is linted with the others in
//! workflows.rs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::harness::bin;
use crate::support::fake_github::FakeGithub;

const GITHUB_SECRET: &str = "ghs_NEVER-PRINT-release-5d21";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The release target the installer picks for RUNNER_OS=Linux, RUNNER_ARCH=X64.
const LINUX_X64: &str = "x86_64-unknown-linux-musl";
const REPO: &str = "OWNER/vetted";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Packages `binary` with scripts/release/package.sh, as the release does; returns the archive.
fn package(binary: &Path, version: &str, target: &str, out: &Path) -> PathBuf {
    let o = run(Command::new("bash")
        .arg(root().join("scripts/release/package.sh"))
        .arg(binary)
        .args([version, target])
        .arg(out));
    assert!(o.status.success(), "package.sh: {}", text(&o.stderr));
    let path = PathBuf::from(text(&o.stdout).trim());
    assert_eq!(
        path,
        out.join(format!("vetted-{version}-{target}.tar.gz")),
        "{}",
        text(&o.stderr)
    );
    path
}

/// The release assets for the tested binary as the Linux x86_64 target: (archive name, bytes) and
/// the SHA256SUMS naming it.
fn release_assets(dir: &Path) -> (String, Vec<u8>, Vec<u8>) {
    let archive = package(&bin(), VERSION, LINUX_X64, dir);
    let bytes = fs::read(&archive).unwrap();
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    let sums = format!("{}  {name}\n", sha256_hex(&bytes));
    (name, bytes, sums.into_bytes())
}

/// A runner: its temp dir, tool cache, GITHUB_PATH and GITHUB_OUTPUT, and the fake GitHub.
struct Runner {
    dir: TempDir,
    github: FakeGithub,
}

struct Installed {
    code: i32,
    stderr: String,
    path_file: String,
    output: String,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for d in ["tmp", "cache", "home"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Runner {
            dir,
            github: FakeGithub::start(),
        }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// Runs install.sh as the action's install step does (env from action.yml), on a Linux X64
    /// runner, with `extra` on top.
    fn install(&self, extra: &[(&str, &str)]) -> Installed {
        let d = self.dir.path();
        let (path_file, output) = (d.join("github_path"), d.join("github_output"));
        fs::write(&path_file, "").unwrap();
        fs::write(&output, "").unwrap();
        let out = run(Command::new("bash")
            .arg(root().join(".github/actions/vetted/install.sh"))
            .current_dir(d)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", d.join("home"))
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", d.join("tmp"))
            .env("RUNNER_TOOL_CACHE", self.cache())
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_API_URL", &self.github.url)
            .env("GITHUB_TOKEN", GITHUB_SECRET)
            .env("ACTION_REPOSITORY", REPO)
            .env("ACTION_REF", format!("v{VERSION}"))
            .env("INSTALL", "release")
            .env("VERSION", "")
            .envs(extra.iter().copied()));
        let r = Installed {
            code: out.status.code().unwrap_or(-1),
            stderr: format!("{}{}", text(&out.stdout), text(&out.stderr)),
            path_file: fs::read_to_string(&path_file).unwrap(),
            output: fs::read_to_string(&output).unwrap(),
        };
        // The token reached GitHub as the Authorization header of API requests and nowhere else.
        let mut everything = format!("{}{}{}", r.stderr, r.path_file, r.output);
        everything.push_str(&self.github.all_bodies());
        for req in self.github.requests() {
            everything.push_str(&req.path);
            if !req.path.starts_with("/storage/") {
                assert_eq!(
                    req.authorization,
                    format!("Bearer {GITHUB_SECRET}"),
                    "{req:?}"
                );
            }
        }
        assert!(
            !everything.contains(GITHUB_SECRET),
            "token leaked:\n{everything}"
        );
        r
    }

    /// The directory install.sh put on PATH, and that vetted's `--version`.
    fn installed_version(&self, r: &Installed) -> String {
        let dirs: Vec<&str> = r.path_file.lines().collect();
        assert_eq!(
            dirs.len(),
            1,
            "GITHUB_PATH: {:?}\n{}",
            r.path_file,
            r.stderr
        );
        assert!(
            Path::new(dirs[0]).starts_with(self.dir.path().join("tmp")),
            "{dirs:?}"
        );
        let out = run(Command::new(Path::new(dirs[0]).join("vetted")).arg("--version"));
        text(&out.stdout).trim().to_string()
    }

    fn asset_downloads(&self, name: &str) -> usize {
        let s = self.github.state.lock().unwrap();
        let ids: Vec<String> = s
            .releases
            .iter()
            .flat_map(|r| r["assets"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["name"] == name)
            .map(|a| a["id"].to_string())
            .collect();
        s.requests
            .iter()
            .filter(|r| {
                ids.iter()
                    .any(|id| r.path == format!("/repos/{REPO}/releases/assets/{id}"))
            })
            .count()
    }

    /// Nothing was installed: nothing on PATH, no binary unpacked, no archive in the cache.
    fn assert_nothing_installed(&self, r: &Installed) {
        assert_eq!(r.path_file, "", "{}", r.stderr);
        assert!(!r.output.contains("vetted-path="), "{}", r.output);
        assert!(
            !self
                .dir
                .path()
                .join("tmp/vetted-bin")
                .join(format!("{VERSION}-{LINUX_X64}"))
                .join("vetted")
                .exists()
        );
        let cached = self.cache().join(format!(
            "vetted/{VERSION}/{LINUX_X64}/vetted-{VERSION}-{LINUX_X64}.tar.gz"
        ));
        assert!(!cached.exists(), "{cached:?} was cached");
    }
}

#[test]
fn the_action_installs_the_released_binary_after_checking_its_sha256_and_caches_it() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[
            ("SHA256SUMS", sums),
            (&name, bytes.clone()),
            (
                "vetted-0.0.1-aarch64-apple-darwin.tar.gz",
                b"other".to_vec(),
            ),
        ],
    );

    // The version defaults to the action's ref (a version tag).
    let first = r.install(&[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(r.installed_version(&first), format!("vetted {VERSION}"));
    assert!(
        first
            .output
            .contains(&format!("vetted-version={VERSION}\n")),
        "{}",
        first.output
    );
    assert!(
        first.stderr.contains(&format!(
            "downloaded {name} from release v{VERSION} of {REPO}"
        )),
        "{}",
        first.stderr
    );
    assert_eq!(r.asset_downloads(&name), 1);
    let cached = r
        .cache()
        .join(format!("vetted/{VERSION}/{LINUX_X64}/{name}"));
    assert_eq!(fs::read(&cached).unwrap(), bytes);

    // Again: the cached archive is checked against the release's SHA256SUMS, not downloaded.
    let again = r.install(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains(&format!("using the cached {name}")),
        "{}",
        again.stderr
    );
    assert_eq!(r.installed_version(&again), format!("vetted {VERSION}"));
    assert_eq!(r.asset_downloads(&name), 1, "served from the cache");

    // A cached archive that no longer matches is never used: downloaded again.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    fs::write(&cached, &tampered).unwrap();
    let repaired = r.install(&[]);
    assert_eq!(repaired.code, 0, "{}", repaired.stderr);
    assert!(
        repaired.stderr.contains("does not match SHA256SUMS"),
        "{}",
        repaired.stderr
    );
    assert_eq!(r.asset_downloads(&name), 2);
    assert_eq!(fs::read(&cached).unwrap(), bytes);

    // An explicit version, and `latest`, resolve to the same release.
    for version in [format!("v{VERSION}"), VERSION.to_string(), "latest".into()] {
        let x = r.install(&[("VERSION", version.as_str()), ("ACTION_REF", "main")]);
        assert_eq!(x.code, 0, "{version}: {}", x.stderr);
        assert_eq!(r.installed_version(&x), format!("vetted {VERSION}"));
    }
}

#[test]
fn an_action_pinned_by_commit_or_major_tag_installs_the_version_of_its_checkout() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", sums), (&name, bytes)],
    );
    for action_ref in ["v1", "0123456789abcdef0123456789abcdef01234567", ""] {
        let x = r.install(&[("ACTION_REF", action_ref)]);
        assert_eq!(x.code, 0, "{action_ref}: {}", x.stderr);
        assert!(
            x.stderr.contains(&format!(
                "the action's ref '{action_ref}' is not a version tag: installing v{VERSION}, the version of the action's checkout"
            )),
            "{}",
            x.stderr
        );
        assert_eq!(r.installed_version(&x), format!("vetted {VERSION}"));
    }
}

#[test]
fn a_wrong_checksum_is_refused_and_installs_nothing() {
    let r = Runner::new();
    let (name, bytes, _) = release_assets(r.dir.path());
    let wrong = format!("{}  {name}\n", sha256_hex(b"something else"));
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", wrong.into_bytes()), (&name, bytes)],
    );
    let x = r.install(&[]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "::error::checksum mismatch for {name} of release v{VERSION}: SHA256SUMS says SHA-256 {}",
        sha256_hex(b"something else"))) && x.stderr.contains("refused, nothing installed"),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);
    // No temporary download is left in the cache either.
    let dir = r.cache().join(format!("vetted/{VERSION}/{LINUX_X64}"));
    let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_release_without_the_runners_asset_or_checksums_says_what_to_do() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    // The release has macOS only.
    let mac = format!("vetted-{VERSION}-aarch64-apple-darwin.tar.gz");
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", sums.clone()), (&mac, bytes.clone())],
    );
    let x = r.install(&[]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "::error::release v{VERSION} of {REPO} has no {name} (vetted {VERSION} for {LINUX_X64}; its assets: SHA256SUMS, {mac}): set the action's input install: source to build vetted from source"
        )),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);

    // No such release.
    let x = r.install(&[("VERSION", "v9.8.7")]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "::error::{REPO} has no release v9.8.7 (for {LINUX_X64}): set the action's input version: to a released version, or install: source"
        )),
        "{}",
        x.stderr
    );

    // A release without SHA256SUMS: nothing is installed unverified.
    let r = Runner::new();
    r.github
        .add_release(&format!("v{VERSION}"), false, &[(&name, bytes)]);
    let x = r.install(&[]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(
            "has no SHA256SUMS: refusing to install a binary whose checksum cannot be checked"
        ),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);
    assert_eq!(r.asset_downloads(&name), 0);

    // A runner no release has a binary for.
    let x = r.install(&[("RUNNER_OS", "Windows")]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(
            "vetted releases have no binary for Windows X64: set the action's input install: source"
        ),
        "{}",
        x.stderr
    );
}

#[test]
fn downloads_are_https_only_bounded_in_size_and_the_inputs_are_checked() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", sums), (&name, bytes.clone())],
    );
    // Larger than the bound: refused while downloading.
    let limit = (bytes.len() / 2).to_string();
    let x = r.install(&[("VETTED_MAX_DOWNLOAD_BYTES", limit.as_str())]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "{name} of release v{VERSION} is larger than {limit} bytes (VETTED_MAX_DOWNLOAD_BYTES): refused, nothing installed"
        )),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);

    // Plain http anywhere but loopback is refused before any request.
    let before = r.github.requests().len();
    for url in ["http://api.github.example", "ftp://127.0.0.1/"] {
        let x = r.install(&[("GITHUB_API_URL", url)]);
        assert_eq!(x.code, 1, "{}", x.stderr);
        assert!(
            x.stderr.contains(&format!(
                "refusing to download vetted from '{url}': only https is used"
            )),
            "{}",
            x.stderr
        );
    }
    assert_eq!(r.github.requests().len(), before);

    for (env, expected) in [
        (
            ("VERSION", "v1.2"),
            "version 'v1.2' is not a release tag like v1.2.3 (or latest)",
        ),
        (("VERSION", "../../x"), "is not a release tag"),
        (
            ("INSTALL", "binary"),
            "install 'binary' is not one of release, source or false",
        ),
        (
            ("ACTION_REPOSITORY", "a/b/c"),
            "release-repository 'a/b/c' is not owner/name",
        ),
        (
            ("ACTION_REPOSITORY", ""),
            "set the action's input release-repository:",
        ),
    ] {
        let x = r.install(&[env]);
        assert_eq!(x.code, 1, "{env:?}: {}", x.stderr);
        assert!(x.stderr.contains(expected), "{env:?}: {}", x.stderr);
        assert_eq!(x.path_file, "");
    }
    assert_eq!(
        r.github.requests().len(),
        before,
        "nothing was asked of GitHub"
    );
}

#[test]
fn install_source_and_false_use_the_vetted_on_path() {
    let r = Runner::new();
    let fake = r.dir.path().join("fakebin");
    fs::create_dir_all(&fake).unwrap();
    let vetted = fake.join("vetted");
    fs::write(&vetted, "#!/bin/sh\necho vetted 0.0.0-local\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&vetted, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let x = r.install(&[("INSTALL", "source"), ("PATH", path.as_str())]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!("using {}", vetted.display())),
        "{}",
        x.stderr
    );
    let x = r.install(&[("INSTALL", "false"), ("PATH", path.as_str())]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert!(r.github.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The release scripts

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
