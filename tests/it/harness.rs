//! Test harness: runs the real `vetted` binary, and starts `vetted sandbox` as a child process on an
//! ephemeral loopback port with a seed written by the test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// The sandbox owner's fake secret used by every seed in these tests.
pub const OWNER_TOKEN: &str = "sandbox-owner-secret-4f1c";

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("vetted")
}

/// `vetted` with a clean, pinned environment (no ambient credentials, no colour).
pub fn vetted() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("DOCKERHUB_USERNAME")
        .env_remove("DOCKERHUB_TOKEN")
        .env_remove("VETTED_HUB_URL")
        .env_remove("VETTED_POLICY")
        .env_remove("VETTED_COLOR")
        .env_remove("VETTED_DOCKER_IO_REGISTRY")
        .env_remove("VETTED_REGISTRY_USERNAME")
        .env_remove("VETTED_REGISTRY_PASSWORD")
        // Tables unconstrained unless a test pins a width.
        .env_remove("COLUMNS")
        // No ambient `docker login` credentials.
        .env("DOCKER_CONFIG", "/nonexistent/vetted-tests-docker-config")
        .env("NO_COLOR", "1")
        .env("TERM", "dumb");
    cmd
}

/// A running sandbox; killed on drop.
pub struct Sandbox {
    child: Child,
    pub url: String,
    /// The registry URL (second stdout line) when started with [`Sandbox::start_with_registry`].
    pub registry: Option<String>,
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// Starts `vetted sandbox --port 0` with `seed` (TOML) and extra flags; waits (bounded) for the
    /// URL line on stdout.
    pub fn start(seed: &str, extra: &[&str]) -> Sandbox {
        Self::start_lines(seed, extra, 1)
    }

    /// Like [`Sandbox::start`], and also waits for the registry URL (the second line: printed once
    /// the community images are seeded). `vetted_as` then points docker.io at it.
    pub fn start_with_registry(seed: &str, extra: &[&str]) -> Sandbox {
        Self::start_lines(seed, extra, 2)
    }

    fn start_lines(seed: &str, extra: &[&str], lines: usize) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.toml");
        std::fs::write(&seed_path, seed).unwrap();
        let mut child = StdCommand::new(bin())
            .args(["sandbox", "--port", "0", "--seed"])
            .arg(&seed_path)
            .arg("--state")
            .arg(dir.path().join("state.json"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            for _ in 0..lines {
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let _ = tx.send(line);
            }
        });
        let mut urls = Vec::new();
        for _ in 0..lines {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.starts_with("http://") => urls.push(line.trim().to_string()),
                other => {
                    let _ = child.kill();
                    panic!("sandbox did not print its URLs: {urls:?} then {other:?}");
                }
            }
        }
        let url = urls.remove(0);
        let registry = urls.pop();
        Sandbox {
            child,
            url,
            registry,
            dir,
        }
    }

    /// The registry's `host:port` (started with [`Sandbox::start_with_registry`]).
    pub fn registry_host(&self) -> String {
        let url = self
            .registry
            .as_deref()
            .expect("sandbox started without its registry");
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    /// `vetted` pointed at this sandbox as `user` with `secret`.
    pub fn vetted_as(&self, user: &str, secret: &str) -> Command {
        let mut cmd = vetted();
        cmd.env("VETTED_HUB_URL", &self.url)
            .env("DOCKERHUB_USERNAME", user)
            .env("DOCKERHUB_TOKEN", secret)
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(120));
        if let Some(registry) = &self.registry {
            cmd.env("VETTED_DOCKER_IO_REGISTRY", registry);
        }
        cmd
    }

    /// `vetted` as the seed's owner "alice".
    pub fn vetted(&self) -> Command {
        self.vetted_as("alice", OWNER_TOKEN)
    }

    pub fn write_policy(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn control(&self, path: &str) -> String {
        format!("{}/_sandbox/{path}", self.url.trim_end_matches('/'))
    }

    /// The sandbox's whole state (secrets omitted).
    pub fn state(&self) -> Value {
        reqwest::blocking::get(self.control("state"))
            .unwrap()
            .json()
            .unwrap()
    }

    /// The registry half's counters (`GET /_sandbox/registry`): `cdn` (requests, served,
    /// with_authorization, bytes) and `pulls` (limit, remaining, spent, refused; null without a
    /// pull limit).
    pub fn registry_counters(&self) -> Value {
        reqwest::blocking::get(self.control("registry"))
            .unwrap()
            .json()
            .unwrap()
    }

    /// Every API request the sandbox served since start (or the last clear).
    pub fn requests(&self) -> Vec<Value> {
        let v: Value = reqwest::blocking::get(self.control("requests"))
            .unwrap()
            .json()
            .unwrap();
        match v {
            Value::Array(a) => a,
            Value::Object(mut o) => match o.remove("requests") {
                Some(Value::Array(a)) => a,
                _ => vec![],
            },
            _ => vec![],
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
