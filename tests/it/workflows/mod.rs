//! The GitHub side: actionlint on every workflow (the project's CI and the documented user
//! workflows, checked against the action's inputs), shellcheck on the scripts, and the action's
//! shell steps (`.github/actions/vetted/run.sh`) run for real with a fake GITHUB_* environment, a
//! fake GitHub REST API on 127.0.0.1 and a fake `vetted` on PATH that records its arguments.

mod apply;
mod drift;
mod fork;
mod lint;
mod manual;
mod plan;
mod released;
mod review;
mod update;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::fake_github::FakeGithub;

const DOCKER_SECRET: &str = "dckr_pat_NEVER-PRINT-4f1c9a";
const GITHUB_SECRET: &str = "ghs_NEVER-PRINT-77b2e0";
const ACTION_REF: &str = "OWNER/vetted/.github/actions/vetted@v1";
/// The pull request's last commit (the plan job runs on it) and the commit merging it into main.
const HEAD_SHA: &str = "1111111111111111111111111111111111111111";
const MERGE_SHA: &str = "2222222222222222222222222222222222222222";
/// Where the plan workflow lives (the action's `plan-workflow` input default).
const PLAN_WORKFLOW: &str = ".github/workflows/vetted-plan.yml";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn git(dir: &Path, args: &[&str]) {
    let out = run(Command::new("git").current_dir(dir).args(args));
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

const FAKE_VETTED: &str = r#"#!/usr/bin/env bash
# Fake vetted: records argv, prints canned output from $FAKE_DIR/<key>.out, exits <key>.rc.
printf '%s\n' "$*" >>"$FAKE_DIR/argv.log"
[ -n "${DOCKERHUB_TOKEN:-}" ] && printf 'DOCKERHUB_TOKEN set\n' >>"$FAKE_DIR/env.log"
sub=$1; shift
policy=vetted.toml; out=""; format=text; upgrade=false; detailed=false; file=""; max=""; snap=""; report=""
while [ $# -gt 0 ]; do
  case "$1" in
    --policy) policy=$2; shift ;;
    --out) out=$2; shift ;;
    --snapshot) snap=$2; shift ;;
    --format) format=$2; shift ;;
    --max-chars) max=$2; shift ;;
    --upgrade) upgrade=true ;;
    --report) report=$2; shift ;;
    --detailed-exitcode) detailed=true ;;
    --*) ;;
    *) file=$1 ;;
  esac
  shift
done
case "$sub" in
  validate) key=validate ;;
  lock)
    if $upgrade; then
      key=lock-upgrade
      if [ -f "$FAKE_DIR/lock.new" ]; then cp "$FAKE_DIR/lock.new" "$(dirname "$policy")/vetted.lock"; fi
      if [ -n "$report" ]; then cat "$FAKE_DIR/lock-report.md" >"$report" 2>/dev/null || : >"$report"; fi
    else key=lock-locked; fi ;;
  snapshot)
    key=snapshot
    if [ "$(cat "$FAKE_DIR/snapshot.rc" 2>/dev/null || echo 0)" = 0 ]; then printf '{"snapshot":"%s"}\n' "$(cat "$FAKE_DIR/snapshot-id" 2>/dev/null)" >"$out"; fi ;;
  plan)
    if [ -n "$snap" ]; then key=plan-snapshot; cp "$snap" "$FAKE_DIR/planned-snapshot.json"
    elif [ -n "$out" ]; then key=plan-save; printf '{"saved-plan":"%s"}\n' "$(cat "$FAKE_DIR/plan-id" 2>/dev/null)" >"$out"
    elif $detailed; then key=plan-drift
    else key=plan-$format; fi ;;
  show)
    key=show-$format
    if [ -n "$max" ] && [ -f "$FAKE_DIR/$key-$max.out" ]; then key=$key-$max; fi
    [ -f "$file" ] || { echo "no such plan $file" >&2; exit 1; } ;;
  apply) key=apply; printf '%s\n' "$(cat "$file")" >>"$FAKE_DIR/applied.log" ;;
  *) key=$sub ;;
esac
[ -f "$FAKE_DIR/$key.out" ] && cat "$FAKE_DIR/$key.out"
[ -f "$FAKE_DIR/$key.err" ] && cat "$FAKE_DIR/$key.err" >&2
exit "$(cat "$FAKE_DIR/$key.rc" 2>/dev/null || echo 0)"
"#;

/// A workspace (checked-out policy repository), the fake vetted and the fake GitHub.
struct Action {
    dir: TempDir,
    github: FakeGithub,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    output: String,
    summary: String,
}

impl Action {
    fn new() -> Action {
        let dir = tempfile::tempdir().unwrap();
        for d in ["ws", "fake", "tmp"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(
            dir.path().join("ws/vetted.toml"),
            "org = \"acme\"\n\n[members]\nalice = \"owner\"\n",
        )
        .unwrap();
        let fake = dir.path().join("fake/vetted");
        fs::write(&fake, FAKE_VETTED).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Action {
            dir,
            github: FakeGithub::start(),
        }
    }

    fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// Sets the fake vetted's answer for `key`: stdout and exit code.
    fn canned(&self, key: &str, stdout: &str, rc: i32) {
        let fake = self.dir.path().join("fake");
        fs::write(fake.join(format!("{key}.out")), stdout).unwrap();
        fs::write(fake.join(format!("{key}.rc")), rc.to_string()).unwrap();
    }

    fn canned_err(&self, key: &str, stderr: &str) {
        fs::write(self.dir.path().join(format!("fake/{key}.err")), stderr).unwrap();
    }

    fn argv(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join("fake/argv.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn clear_argv(&self) {
        let _ = fs::remove_file(self.dir.path().join("fake/argv.log"));
    }

    fn event(&self, event: &Value) {
        fs::write(self.dir.path().join("event.json"), event.to_string()).unwrap();
    }

    /// Runs `run.sh MODE` as the composite step does, with a clean environment.
    fn run(&self, mode: &str, docker_token: &str) -> Run {
        self.run_with(mode, docker_token, &[])
    }

    fn run_with(&self, mode: &str, docker_token: &str, extra: &[(&str, &str)]) -> Run {
        let d = self.dir.path();
        let (output, summary) = (d.join("github_output"), d.join("step_summary"));
        fs::write(&output, "").unwrap();
        fs::write(&summary, "").unwrap();
        let _ = fs::remove_dir_all(d.join("tmp/vetted"));
        let path = format!(
            "{}:{}",
            d.join("fake").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = run(Command::new("bash")
            .arg(repo_root().join(".github/actions/vetted/run.sh"))
            .arg(mode)
            .current_dir(self.ws())
            .env_clear()
            .env("PATH", path)
            .env("HOME", d)
            .env("FAKE_DIR", d.join("fake"))
            .env("POLICY", "vetted.toml")
            .env("RUNNER_TEMP", d.join("tmp"))
            .env("DOCKERHUB_USERNAME", "ci-bot")
            .env("DOCKERHUB_TOKEN", docker_token)
            .env("GITHUB_TOKEN", GITHUB_SECRET)
            .env("GITHUB_REPOSITORY", "acme/policy")
            .env("GITHUB_API_URL", &self.github.url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_REF_NAME", "main")
            .env("GITHUB_SHA", MERGE_SHA)
            .env("GITHUB_EVENT_PATH", d.join("event.json"))
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GIT_AUTHOR_NAME", "bot")
            .env("GIT_AUTHOR_EMAIL", "bot@example.invalid")
            .env("GIT_COMMITTER_NAME", "bot")
            .env("GIT_COMMITTER_EMAIL", "bot@example.invalid")
            .envs(extra.iter().copied()));
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
            output: fs::read_to_string(&output).unwrap(),
            summary: fs::read_to_string(&summary).unwrap(),
        };
        self.assert_no_secret(&r);
        r
    }

    /// Neither secret appears in anything the step printed, wrote or sent, nor in vetted's argv;
    /// the GitHub token was sent as the Authorization header, and only there.
    fn assert_no_secret(&self, r: &Run) {
        let mut everything = format!("{}{}{}{}", r.stdout, r.stderr, r.output, r.summary);
        everything.push_str(&self.github.all_bodies());
        everything.push_str(&self.argv().join("\n"));
        for req in self.github.requests() {
            everything.push_str(&req.path);
            assert_eq!(
                req.authorization,
                format!("Bearer {GITHUB_SECRET}"),
                "{req:?}"
            );
        }
        let work = self.dir.path().join("tmp/vetted");
        if let Ok(entries) = fs::read_dir(&work) {
            for e in entries {
                everything.push_str(&fs::read_to_string(e.unwrap().path()).unwrap_or_default());
            }
        }
        for secret in [DOCKER_SECRET, GITHUB_SECRET] {
            assert!(!everything.contains(secret), "secret leaked:\n{everything}");
        }
    }
}

fn pr_event(fork: bool) -> Value {
    let head = if fork {
        "mallory/policy"
    } else {
        "acme/policy"
    };
    serde_json::json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"ref": "feature", "sha": HEAD_SHA, "repo": {"full_name": head, "fork": fork}},
            "base": {"ref": "main", "repo": {"full_name": "acme/policy"}}
        },
        "repository": {"full_name": "acme/policy", "default_branch": "main"}
    })
}

fn output_has(r: &Run, line: &str) -> bool {
    r.output.lines().any(|l| l == line)
}

/// Checks that every workflow command in `log` (the step's output) is one of the action's own:
/// whatever else starts with `::` sits between `::stop-commands::TOKEN` and `::TOKEN::`. Returns the
/// lines shown with commands stopped.
fn commands_outside_stops(log: &str) -> Vec<String> {
    let mut stopped: Option<String> = None;
    let mut quoted = Vec::new();
    for line in log.lines() {
        let t = line.trim_start();
        match &stopped {
            Some(token) => {
                if t == format!("::{token}::") {
                    stopped = None;
                } else {
                    quoted.push(line.to_string());
                }
            }
            None => {
                if let Some(token) = t.strip_prefix("::stop-commands::") {
                    assert!(
                        token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
                        "a guessable stop-commands token: {line}"
                    );
                    stopped = Some(token.to_string());
                } else if t.starts_with("::") {
                    assert!(
                        t.starts_with("::error::") || t.starts_with("::notice::"),
                        "a workflow command outside a stop: {line}\n{log}"
                    );
                }
            }
        }
    }
    assert!(
        stopped.is_none(),
        "commands left stopped at the end:\n{log}"
    );
    quoted
}

/// A zip archive of `files`, written by Python's zipfile (an independent zip writer), as the
/// artifact download serves it.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("files")).unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.path().join("files").join(name);
            fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    let zip = dir.path().join("artifact.zip");
    let out = run(Command::new("python3")
        .arg("-c")
        .arg("import os, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for f in sys.argv[2:]:\n        z.write(f, os.path.basename(f))\n")
        .arg(&zip)
        .args(&paths));
    assert!(out.status.success(), "zip: {}", text(&out.stderr));
    fs::read(zip).unwrap()
}

/// Where an artifact came from, as the artifact listing's `workflow_run` says.
#[derive(Clone, Copy)]
enum Origin {
    ThisRepository,
    Fork,
}

impl Action {
    /// Pull request #7 (last commit HEAD_SHA), merged into main as MERGE_SHA.
    fn merged_pull_request(&self) {
        self.github
            .state
            .lock()
            .unwrap()
            .pulls
            .push(serde_json::json!({
                "number": 7, "state": "closed", "merged_at": "2026-11-29T10:00:00Z",
                "merge_commit_sha": MERGE_SHA, "head": {"ref": "feature", "sha": HEAD_SHA},
                "base": {"ref": "main"}, "title": "Mirror redis", "body": ""
            }));
    }

    /// An artifact as the plan workflow's job uploads it on a pull request (`expired`: past its
    /// retention).
    fn artifact(
        &self,
        id: u64,
        name: &str,
        created: &str,
        origin: Origin,
        expired: bool,
        zip: Vec<u8>,
    ) {
        self.artifact_of_run(
            id,
            name,
            created,
            origin,
            expired,
            zip,
            PLAN_WORKFLOW,
            "pull_request",
            (7, "main"),
        );
    }

    /// An artifact uploaded by a run of the workflow at `path` on `event`, for the pull request
    /// `(number, base branch)`.
    #[allow(clippy::too_many_arguments)]
    fn artifact_of_run(
        &self,
        id: u64,
        name: &str,
        created: &str,
        origin: Origin,
        expired: bool,
        zip: Vec<u8>,
        path: &str,
        event: &str,
        pull_request: (u64, &str),
    ) {
        let head_repo = match origin {
            Origin::ThisRepository => "acme/policy",
            Origin::Fork => "mallory/policy",
        };
        self.github
            .state
            .lock()
            .unwrap()
            .runs
            .push(serde_json::json!({
                "id": id + 90_000, "path": path, "event": event, "head_sha": HEAD_SHA,
                "repository": {"full_name": "acme/policy"},
                "head_repository": {"full_name": head_repo},
                "pull_requests": [{"number": pull_request.0, "base": {"ref": pull_request.1},
                    "head": {"sha": HEAD_SHA}}]
            }));
        let head_repository_id = match origin {
            Origin::ThisRepository => 500,
            Origin::Fork => 666,
        };
        let mut s = self.github.state.lock().unwrap();
        s.artifacts.push(serde_json::json!({
            "id": id, "name": name, "expired": expired, "created_at": created,
            "workflow_run": {"id": id + 90_000, "repository_id": 500,
                "head_repository_id": head_repository_id, "head_sha": HEAD_SHA}
        }));
        s.artifact_zips.insert(id, zip);
    }

    /// The pull request's one apply comment (`<!-- vetted:apply ... -->`).
    fn apply_comments(&self) -> Vec<(u64, u64, String)> {
        let s = self.github.state.lock().unwrap();
        s.comments
            .iter()
            .filter(|c| c.2.starts_with("<!-- vetted:apply org=acme -->"))
            .cloned()
            .collect()
    }
}

/// An apply report as `vetted apply --format json` prints it (docs/apply-json.md): `results` are
/// (address, status, message); the counts follow from them.
fn apply_report(
    status: &str,
    exit_code: i32,
    message: Option<&str>,
    results: &[(&str, &str, Option<&str>)],
) -> String {
    let count = |st: &str| results.iter().filter(|r| r.1 == st).count();
    let results: Vec<Value> = results
        .iter()
        .map(|(address, status, message)| {
            serde_json::json!({"action": "create", "address": address, "kind": "repository",
                "status": status, "message": message})
        })
        .collect();
    serde_json::json!({
        "format_version": "1",
        "status": status,
        "exit_code": exit_code,
        "message": message,
        "org": "acme",
        "plan": {"file": "plan.json", "summary": {"add": results.len(), "change": 0, "destroy": 0, "images": 1, "bytes": 100},
                 "changes": []},
        "summary": {"add": count("done"), "change": 0, "destroy": 0, "failed": count("failed"), "skipped": count("skipped")},
        "results": results,
        "copy": {"images": 1, "blobs_copied": 3, "blobs_mounted": 1, "blobs_skipped": 0, "bytes_copied": 6291456},
    })
    .to_string()
}

impl Action {
    /// A `vetted-snapshot` artifact holding `snapshot`, uploaded by a run of the workflow at
    /// `path` on `event`, on `branch`, from this repository or a fork.
    #[allow(clippy::too_many_arguments)]
    fn snapshot_artifact(
        &self,
        id: u64,
        created: &str,
        origin: Origin,
        path: &str,
        event: &str,
        branch: &str,
        snapshot: &str,
    ) {
        let (head_repo, head_repository_id) = match origin {
            Origin::ThisRepository => ("acme/policy", 500),
            Origin::Fork => ("mallory/policy", 666),
        };
        let mut s = self.github.state.lock().unwrap();
        s.runs.push(serde_json::json!({
            "id": id + 90_000, "path": path, "event": event, "head_sha": HEAD_SHA,
            "head_branch": branch,
            "repository": {"full_name": "acme/policy"},
            "head_repository": {"full_name": head_repo},
            "pull_requests": []
        }));
        s.artifacts.push(serde_json::json!({
            "id": id, "name": "vetted-snapshot", "expired": false, "created_at": created,
            "workflow_run": {"id": id + 90_000, "repository_id": 500,
                "head_repository_id": head_repository_id, "head_sha": HEAD_SHA}
        }));
        drop(s);
        let zip = zip_of(&[("snapshot.json", snapshot.as_bytes())]);
        self.github
            .state
            .lock()
            .unwrap()
            .artifact_zips
            .insert(id, zip);
    }
}
