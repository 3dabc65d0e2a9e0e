//! Releases: the scripts the release workflow runs (scripts/release/*.sh: build for the host target,
//! package, checksum, publish to a fake GitHub on 127.0.0.1), the container image definition, and
//! the action's installer (`.github/actions/vetted/install.sh`) downloading, verifying and caching a
//! released binary from that fake GitHub. The workflow itself is linted with the others in
//! workflows/lint.rs.

mod install;
mod scripts;

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
