//! Mirroring with the real binary: `vetted plan` and `vetted apply` against `vetted sandbox` and its
//! real registry (docker.io pointed at it), plus separate real `docker-registry` processes as other
//! upstreams. skopeo, an independent client, checks every digest. Covers copy rows and byte
//! estimates, multi-arch Docker and OCI images, a clean re-plan, a stale tag updated, a platform
//! filter, an apply killed mid-copy then re-run, the pull-limit refusal, vetted.lock in plan/apply
//! (`--locked`, "update available") and registry credentials from Docker's config.json.

mod copy;
mod credentials;
mod lock;
mod recovery;
mod requests;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, bin, stderr, stdout, vetted};
use crate::support::registry_proc::{BASIC_PASSWORD, BASIC_USER, RegistryProc, digest_of};

const ALICE: &str = "alice";

fn seed(extra: &str) -> String {
    format!(
        r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
{extra}
"#
    )
}

fn policy(body: &str) -> String {
    format!("org = \"acme\"\n{body}")
}

/// `skopeo inspect --raw` of `image` (`repo:tag` or `repo@digest`) on the sandbox registry as
/// alice: the manifest bytes.
fn skopeo_raw(sb: &Sandbox, image: &str) -> Option<Vec<u8>> {
    let out = Command::new("/usr/bin/skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("{ALICE}:{OWNER_TOKEN}"))
        .arg(format!("docker://{}/{image}", sb.registry_host()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

fn skopeo_digest(sb: &Sandbox, image: &str) -> Option<String> {
    skopeo_raw(sb, image).map(|b| digest_of(&b))
}

fn plan_json(sb: &Sandbox, policy: &Path, extra: &[&str]) -> Value {
    let out = sb
        .vetted()
        .args(["plan", "--format", "json", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn copies(plan: &Value) -> Vec<&Value> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "copy_image")
        .collect()
}

fn apply(sb: &Sandbox, policy: &Path, extra: &[&str]) -> std::process::Output {
    sb.vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap()
}

fn plan_exit(sb: &Sandbox, policy: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}
