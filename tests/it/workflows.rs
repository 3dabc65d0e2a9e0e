//! The GitHub side: actionlint on every workflow (the project's CI and the documented user
//! workflows, checked against the action's inputs), shellcheck on the scripts, and the action's
//! shell steps (`.github/actions/vetted/run.sh`) run for real with a fake GITHUB_* environment, a
//! fake GitHub REST API on 127.0.0.1 and a fake `vetted` on PATH that records its arguments.

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

/// A tool the tests need: a missing one fails the test with how to install it.
fn tool(name: &str, env_var: Option<&str>, fallback: Option<PathBuf>) -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(v) = env_var.and_then(std::env::var_os) {
        candidates.push(PathBuf::from(v));
    }
    candidates.extend(fallback);
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{name} is not installed: run `bash scripts/install-deps.sh` (or `bash .ci/run`, which does)")
    })
}

fn actionlint() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    tool(
        "actionlint",
        Some("ACTIONLINT"),
        Some(home.join(".cache/vetted-tools/actionlint/bin/actionlint")),
    )
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

/// A scratch git repository holding the action and `workflows` under .github/workflows, the user
/// workflows pointing at the local action so actionlint checks their inputs against action.yml.
fn lint_repo(workflows: &[(String, String)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let action = dir.path().join(".github/actions/vetted");
    fs::create_dir_all(&action).unwrap();
    for entry in fs::read_dir(repo_root().join(".github/actions/vetted")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), action.join(entry.file_name())).unwrap();
    }
    let wf = dir.path().join(".github/workflows");
    fs::create_dir_all(&wf).unwrap();
    for (name, body) in workflows {
        fs::write(
            wf.join(name),
            body.replace(ACTION_REF, "./.github/actions/vetted"),
        )
        .unwrap();
    }
    dir
}

fn all_workflows() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["docs/workflows", ".github/workflows"] {
        for entry in fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml") {
                let name = format!(
                    "{}-{}",
                    dir.replace(['/', '.'], "_"),
                    path.file_name().unwrap().to_string_lossy()
                );
                files.push((name, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    // The copy-paste examples in docs/ci.md are linted as the workflows they are.
    let guide = fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    for (i, block) in guide.split("```yaml\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap_or_default();
        if body.starts_with("on:") {
            files.push((format!("ci_md-{i}.yml"), body.to_string()));
        }
    }
    files.sort();
    files
}

#[test]
fn actionlint_passes_every_workflow_and_checks_the_action_inputs() {
    let workflows = all_workflows();
    let names: Vec<&str> = workflows.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().filter(|n| n.starts_with("ci_md-")).count() >= 2,
        "docs/ci.md's plan and apply examples: {names:?}"
    );
    for expected in [
        "plan.yml",
        "apply.yml",
        "drift.yml",
        "update.yml",
        "ci.yml",
        "release.yml",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(expected)),
            "{expected} missing from {names:?}"
        );
    }
    for (name, body) in &workflows {
        if name.starts_with("docs") || name.starts_with("ci_md") {
            assert!(
                body.contains(ACTION_REF),
                "{name} must use the action as {ACTION_REF}"
            );
            // Every use pins the release it installs.
            let pinned = body
                .lines()
                .filter(|l| {
                    l.trim_start()
                        .strip_prefix("version: v")
                        .and_then(|v| v.split_whitespace().next())
                        .is_some_and(|v| {
                            let parts: Vec<&str> = v.split('.').collect();
                            parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok())
                        })
                })
                .count();
            assert_eq!(
                pinned,
                body.matches(ACTION_REF).count(),
                "{name}: every use of the action sets version: vX.Y.Z"
            );
        }
    }
    let repo = lint_repo(&workflows);
    let out = run(Command::new(actionlint())
        .current_dir(repo.path())
        .arg("-no-color"));
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // The same lint rejects a workflow passing an input the action does not have.
    let bad = vec![(
        "bad.yml".to_string(),
        format!(
            "on: push\njobs:\n  p:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: {ACTION_REF}\n        with:\n          command: plan\n          polciy: vetted.toml\n"
        ),
    )];
    let repo = lint_repo(&bad);
    let out = run(Command::new(actionlint())
        .current_dir(repo.path())
        .arg("-no-color"));
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("polciy"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn shellcheck_passes_the_action_and_ci_scripts() {
    let root = repo_root();
    let mut files: Vec<PathBuf> = fs::read_dir(root.join(".github/actions/vetted"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    let release: Vec<PathBuf> = fs::read_dir(root.join("scripts/release"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(release.len() >= 6, "{release:?}");
    files.extend(release);
    files.push(root.join("scripts/install-deps.sh"));
    files.push(root.join("scripts/mutants.sh"));
    files.push(root.join(".ci/run"));
    let out = run(Command::new(tool("shellcheck", None, None))
        .current_dir(&root)
        .arg("-x")
        .args(&files));
    assert!(out.status.success(), "shellcheck:\n{}", text(&out.stdout));
}

// ---------------------------------------------------------------------------------------------
// The action's shell steps

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

#[test]
fn plan_posts_one_sticky_comment_and_updates_it() {
    let a = Action::new();
    a.event(&pr_event(false));
    // A reviewer's comment is there already and must stay untouched.
    a.github
        .state
        .lock()
        .unwrap()
        .comments
        .push((1, 7, "LGTM once the plan is green".into()));
    a.canned("plan-save", "Plan: 1 to add\n", 0);
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to add\n\n+ team dev\n",
        0,
    );

    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        a.argv()[..3],
        [
            "validate --policy vetted.toml",
            "lock --policy vetted.toml --locked",
            &format!(
                "plan --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/plan.json").display()
            )
        ]
    );
    assert!(
        a.argv()[3].starts_with("show ") && a.argv()[3].ends_with("--format markdown"),
        "{:?}",
        a.argv()
    );
    assert_eq!(
        a.argv()[4],
        format!(
            "show {} --format markdown --max-chars 1048576",
            a.dir.path().join("tmp/vetted/plan.json").display()
        ),
        "the job summary gets the plan rendered for its 1 MiB"
    );
    assert!(output_has(&r, "mode=plan"), "{}", r.output);
    assert!(
        output_has(&r, &format!("artifact-name=vetted-plan-{HEAD_SHA}")),
        "{}",
        r.output
    );
    assert!(
        r.summary.contains("+ team dev") && r.summary.contains("Plan: 1 to add"),
        "{}",
        r.summary
    );
    assert!(a.dir.path().join("tmp/vetted/plan.json").is_file());
    {
        let s = a.github.state.lock().unwrap();
        assert_eq!(s.comments.len(), 2);
        assert!(
            s.comments[1]
                .2
                .starts_with("<!-- vetted:plan org=acme -->\n## vetted plan: 1 to add")
        );
        assert!(
            output_has(&r, &format!("comment-id={}", s.comments[1].0)),
            "{}",
            r.output
        );
    }

    // A new push: the same comment is edited, none added.
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 2 to add\n",
        0,
    );
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 2, "{:?}", s.comments);
    assert_eq!(s.comments[0].2, "LGTM once the plan is green");
    assert!(s.comments[1].2.contains("2 to add") && !s.comments[1].2.contains("1 to add"));
    let writes: Vec<String> = s
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let id = s.comments[1].0;
    assert_eq!(
        writes,
        [
            "POST /repos/acme/policy/issues/7/comments".to_string(),
            format!("PATCH /repos/acme/policy/issues/comments/{id}")
        ]
    );
}

#[test]
fn plan_on_a_fork_without_a_snapshot_runs_the_offline_checks_only() {
    let a = Action::new();
    a.event(&pr_event(true));
    let r = a.run("plan", "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        a.argv(),
        [
            "validate --policy vetted.toml",
            "lock --policy vetted.toml --locked"
        ]
    );
    assert!(output_has(&r, "mode=validate-only"), "{}", r.output);
    assert!(
        r.summary.contains("comes from a fork")
            && r.summary.contains("no plan was computed")
            && r.summary
                .contains("no unexpired `vetted-snapshot` artifact"),
        "{}",
        r.summary
    );
    let requests: Vec<String> = a
        .github
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        requests,
        ["GET /repos/acme/policy/actions/artifacts?name=vetted-snapshot&per_page=100"],
        "a fork's run only looks for a snapshot"
    );
    assert!(
        !a.dir.path().join("fake/env.log").exists(),
        "no Docker Hub token on forks"
    );

    // A fork with an invalid policy fails, with the errors in the summary.
    a.clear_argv();
    a.canned("validate", "", 1);
    a.canned_err(
        "validate",
        "vetted.toml:3:1: unknown key `membrs` (did you mean `members`?)\n",
    );
    let r = a.run("plan", "");
    assert_eq!(r.code, 1);
    assert!(r.summary.contains("unknown key `membrs`"), "{}", r.summary);
    assert_eq!(a.argv(), ["validate --policy vetted.toml"]);
}

#[test]
fn plan_fails_on_validation_errors_and_says_so_in_the_comment() {
    let a = Action::new();
    a.event(&pr_event(false));
    a.canned("validate", "", 1);
    a.canned_err("validate", "vetted.toml:2:1: unknown key `membrs`\n");
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("validation failed"), "{}", r.stderr);
    assert_eq!(
        a.argv(),
        ["validate --policy vetted.toml"],
        "no plan after a failed validation"
    );
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 1);
    assert!(s.comments[0].2.starts_with("<!-- vetted:plan org=acme -->"));
    assert!(s.comments[0].2.contains("unknown key `membrs`"));
}

#[test]
fn plan_truncates_the_summary_and_the_comment_at_their_limits() {
    let a = Action::new();
    a.event(&pr_event(false));
    let line = "| + | repository | acme/app-with-a-long-name | private, 3 tags mirrored |\n";
    let big = format!(
        "<!-- vetted:plan org=acme -->\n## vetted plan: 30000 to add\n{}",
        line.repeat(30_000)
    );
    assert!(big.len() > 2 * 1024 * 1024);
    a.canned("show-markdown", &big, 0);
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.summary.len() <= 1024 * 1024,
        "summary is {} bytes",
        r.summary.len()
    );
    assert!(
        r.summary.len() > 1000 * 1024,
        "summary is {} bytes",
        r.summary.len()
    );
    assert!(
        r.summary
            .starts_with("<!-- vetted:plan org=acme -->\n## vetted plan: 30000 to add")
    );
    assert!(r.summary.trim_end().ends_with(&format!(
        "the full plan is in the `vetted-plan-{HEAD_SHA}` artifact."
    )));
    let s = a.github.state.lock().unwrap();
    let body = &s.comments[0].2;
    assert!(
        body.chars().count() <= 65_536,
        "comment is {} chars",
        body.chars().count()
    );
    assert!(body.starts_with("<!-- vetted:plan org=acme -->\n## vetted plan: 30000 to add"));
    assert!(body.contains("the full plan is in the job summary"));
    // Cut at a line boundary: every table row before the note is whole.
    for l in body.lines().filter(|l| l.starts_with("| +")) {
        assert_eq!(format!("{l}\n"), line);
    }
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

#[test]
fn vetted_output_cannot_start_a_workflow_command_or_leave_its_code_block() {
    let forged = "error: HTTP 400: denied\n````\n## No changes, approve\n@admin\n::warning::x\n::add-mask::y\n";
    let a = Action::new();
    a.event(&pr_event(false));
    a.canned("plan-save", "", 1);
    a.canned_err("plan-save", forged);
    a.canned_err("validate", "::warning::from validate\n");
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let quoted = commands_outside_stops(&r.stderr);
    for line in [
        "::warning::x",
        "::add-mask::y",
        "## No changes, approve",
        "::warning::from validate",
    ] {
        assert!(
            quoted.iter().any(|q| q == line),
            "{line:?} not quoted: {quoted:?}\n{}",
            r.stderr
        );
    }
    // Two tokens are never the same.
    let tokens: std::collections::BTreeSet<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::stop-commands::"))
        .collect();
    let again = a.run("plan", DOCKER_SECRET);
    assert!(
        again
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("::stop-commands::"))
            .all(|t| !tokens.contains(t)),
        "the token repeats across runs"
    );

    // The comment quotes the error in a block its four backticks cannot close.
    let s = a.github.state.lock().unwrap();
    let body = &s.comments[0].2;
    let mut in_block: Option<usize> = None;
    for line in body.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match in_block {
            None if ticks >= 3 => in_block = Some(ticks),
            Some(open) if ticks >= open && line.trim_matches('`').is_empty() => in_block = None,
            None => assert!(
                !line.starts_with("## No changes") && !line.starts_with("@admin"),
                "forged outside the code block: {line:?}\n{body}"
            ),
            Some(_) => {}
        }
    }
    assert!(
        body.contains("\n`````\nerror: HTTP 400: denied\n````\n"),
        "{body}"
    );
}

/// Fails when a line of `body` outside its fenced code blocks starts with one of `forged`.
fn assert_fenced(body: &str, forged: &[&str]) {
    let mut in_block: Option<usize> = None;
    for line in body.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match in_block {
            None if ticks >= 3 => in_block = Some(ticks),
            Some(open) if ticks >= open && line.trim_matches('`').is_empty() => in_block = None,
            None => assert!(
                !forged.iter().any(|f| line.starts_with(f)),
                "forged outside the code block: {line:?}\n{body}"
            ),
            Some(_) => {}
        }
    }
    assert!(in_block.is_none(), "a code block left open:\n{body}");
}

/// A partial apply: the summary and the pull request comment come from vetted's report, list what
/// failed and was skipped with the (hostile) error quoted in a block it cannot leave, and the job
/// fails with vetted's exit status.
#[test]
fn a_partial_apply_lists_what_failed_from_the_report() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main"}));
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 3 to add\n",
        0,
    );
    let hostile = "GET /v2/x: HTTP 400: denied\n````\n## Apply: done\n@admin\n::warning::x";
    a.canned(
        "apply",
        &apply_report(
            "incomplete",
            1,
            None,
            &[
                ("repository acme/redis", "done", None),
                ("image acme/redis:7.4.1", "failed", Some(hostile)),
                (
                    "grant acme/redis:ops",
                    "skipped",
                    Some("its repository could not be created"),
                ),
            ],
        ),
        1,
    );
    a.canned_err(
        "apply",
        "+ image acme/redis:7.4.1: FAILED: GET /v2/x\n::warning::from the log\nApply incomplete\n",
    );
    let r = a.run_with("apply", DOCKER_SECRET, &[("PLAN_SOURCE", "fresh")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("vetted apply failed (exit 1)"),
        "{}",
        r.stderr
    );
    assert!(output_has(&r, "apply-status=incomplete"), "{}", r.output);
    let s = &r.summary;
    assert!(
        s.contains("## Apply: FAILED (exit 1): some changes failed or were skipped"),
        "{s}"
    );
    assert!(
        s.contains("1 added, 0 changed, 0 destroyed; 1 failed, 1 skipped."),
        "{s}"
    );
    assert!(s.contains("### Failed or skipped"), "{s}");
    assert!(
        s.contains("image acme/redis:7.4.1: FAILED: GET /v2/x: HTTP 400: denied"),
        "{s}"
    );
    assert!(
        s.contains("grant acme/redis:ops: SKIPPED: its repository could not be created"),
        "{s}"
    );
    assert!(!s.contains("repository acme/redis: DONE"), "{s}");
    assert_fenced(s, &["## Apply: done", "@admin", "::warning::"]);
    // The log stays quoted with workflow commands stopped.
    let quoted = commands_outside_stops(&r.stderr);
    assert!(
        quoted.iter().any(|q| q == "::warning::from the log"),
        "{quoted:?}"
    );
    // The report is kept for the artifact.
    let report: Value = serde_json::from_str(
        &fs::read_to_string(a.dir.path().join("tmp/vetted/apply.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["summary"]["failed"], 1);
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

fn plan_zip(content: &str) -> Vec<u8> {
    zip_of(&[
        ("plan.json", content.as_bytes()),
        ("plan.md", b"<!-- vetted:plan org=acme -->\n"),
    ])
}

#[test]
fn apply_applies_the_plan_reviewed_on_the_merged_pull_request() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));
    a.merged_pull_request();
    let name = format!("vetted-plan-{HEAD_SHA}");
    // Two plan runs on the pull request's last commit (a re-run): the newer one is what the sticky
    // comment shows. A fork's run and an expired artifact are never taken, however new.
    a.artifact(
        11,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"reviewed\":\"first run\"}"),
    );
    a.artifact(
        12,
        &name,
        "2026-11-29T09:30:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"reviewed\":\"re-run\"}"),
    );
    a.artifact(
        13,
        &name,
        "2026-11-29T09:40:00Z",
        Origin::Fork,
        false,
        plan_zip("{\"forged\":true}"),
    );
    a.artifact(
        14,
        &name,
        "2026-11-29T09:50:00Z",
        Origin::ThisRepository,
        true,
        plan_zip("{\"expired\":true}"),
    );
    a.artifact(
        15,
        "vetted-plan-3333333333333333333333333333333333333333",
        "2026-11-29T09:55:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"other\":true}"),
    );
    a.canned(
        "show-markdown-1048576",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to add\n",
        0,
    );
    a.canned(
        "apply",
        &apply_report(
            "applied",
            0,
            None,
            &[("repository acme/redis", "done", None)],
        ),
        0,
    );
    a.canned_err(
        "apply",
        "Apply complete! 1 added, 0 changed, 0 destroyed.\n",
    );

    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = a.dir.path().join("tmp/vetted/plan.json");
    assert_eq!(
        a.argv(),
        [
            format!(
                "show {} --format markdown --max-chars 1048576",
                plan.display()
            ),
            format!(
                "apply --policy vetted.toml --yes --format json {}",
                plan.display()
            ),
            format!(
                "snapshot --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/snapshot.json").display()
            )
        ],
        "the reviewed plan is applied as it is: no new plan"
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"reviewed\":\"re-run\"}\n"
    );
    assert!(output_has(&r, "pull-request=7"), "{}", r.output);
    assert!(
        output_has(&r, "artifact-name=vetted-apply-4242"),
        "{}",
        r.output
    );
    assert!(
        r.summary.contains("reviewed on pull request #7")
            && r.summary.contains("## Apply: done")
            && r.summary.contains("1 to add"),
        "{}",
        r.summary
    );
    let downloads: Vec<String> = a
        .github
        .requests()
        .iter()
        .filter(|q| q.path.contains("/zip") || q.path.starts_with("/storage/"))
        .map(|q| q.path.clone())
        .collect();
    assert_eq!(
        downloads,
        [
            "/repos/acme/policy/actions/artifacts/12/zip",
            "/storage/artifacts/12"
        ]
    );
    let comments = a.apply_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].1, 7);
    assert!(
        comments[0]
            .2
            .contains("Applied the plan reviewed on this pull request")
    );
    // The result comes from vetted's report, the log below it.
    for part in [
        "1 added, 0 changed, 0 destroyed; 0 failed, 0 skipped.",
        "Images: 1 copied; blobs: 3 copied, 1 mounted, 0 already present; 6291456 bytes transferred.",
        "Apply complete! 1 added",
    ] {
        assert!(comments[0].2.contains(part), "{part}\n{}", comments[0].2);
        assert!(r.summary.contains(part), "{part}\n{}", r.summary);
    }
    assert!(output_has(&r, "apply-status=applied"), "{}", r.output);
    let report = a.dir.path().join("tmp/vetted/apply.json");
    assert!(
        output_has(&r, &format!("apply-report={}", report.display())),
        "{}",
        r.output
    );

    // The organization (or the policy on main) moved since the review: vetted refuses the plan,
    // the job fails, and the same comment says so and what to do.
    a.clear_argv();
    let stale = "the plan is stale: team developers changed since the plan was made; nothing was changed; run `vetted plan` again";
    a.canned("apply", &apply_report("refused", 1, Some(stale), &[]), 1);
    a.canned_err("apply", &format!("error: {stale}\n"));
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("vetted apply failed (exit 1)"),
        "{}",
        r.stderr
    );
    assert!(
        r.summary
            .contains("Apply: FAILED (exit 1): refused, nothing was changed")
            && r.summary.contains("the plan is stale"),
        "{}",
        r.summary
    );
    assert!(output_has(&r, "apply-status=refused"), "{}", r.output);
    let comments = a.apply_comments();
    assert_eq!(
        comments.len(),
        1,
        "one apply comment, updated: {comments:?}"
    );
    let body = &comments[0].2;
    assert!(
        body.contains("**Not applied**") && body.contains("the plan is stale"),
        "{body}"
    );
    assert!(body.contains("Run workflow"), "{body}");
    assert!(!body.contains("Applied the plan"), "{body}");
}

#[test]
fn apply_takes_only_an_artifact_the_plan_workflow_made_for_the_pull_request() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));
    a.merged_pull_request();
    let name = format!("vetted-plan-{HEAD_SHA}");
    a.canned(
        "show-markdown-1048576",
        "<!-- vetted:plan org=acme -->\n",
        0,
    );
    a.canned("apply", "Apply complete\n", 0);
    // A branch pusher's own workflow, and a push-event run of the plan workflow, upload a
    // same-named artifact for the same commit, newer than nothing: both refused.
    a.artifact_of_run(
        21,
        &name,
        "2026-11-29T09:40:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"forged\":\"other workflow\"}"),
        ".github/workflows/mine.yml",
        "pull_request",
        (7, "main"),
    );
    a.artifact_of_run(
        22,
        &name,
        "2026-11-29T09:50:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"forged\":\"push run\"}"),
        PLAN_WORKFLOW,
        "push",
        (7, "main"),
    );
    // The plan workflow's pull_request run on the same head commit, but for another pull request
    // into a branch the pusher controls (whose plan workflow file they rewrote): refused.
    a.artifact_of_run(
        24,
        &name,
        "2026-11-29T09:55:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"forged\":\"another pull request\"}"),
        PLAN_WORKFLOW,
        "pull_request",
        (8, "evil"),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        !a.argv().iter().any(|l| l.starts_with("apply")),
        "{:?}",
        a.argv()
    );
    assert!(
        r.summary.contains("no saved plan")
            && r.summary.contains(".github/workflows/mine.yml")
            && r.summary.contains("push")
            && r.summary.contains("another pull request or base branch"),
        "{}",
        r.summary
    );

    // The plan workflow's own pull_request run: taken, though older than the forged ones.
    a.artifact(
        23,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"reviewed\":true}"),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"reviewed\":true}\n"
    );

    // A repository that keeps its plan workflow elsewhere says so.
    let _ = fs::remove_file(a.dir.path().join("fake/applied.log"));
    let r = a.run_with(
        "apply",
        DOCKER_SECRET,
        &[("PLAN_WORKFLOW", ".github/workflows/mine.yml")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"forged\":\"other workflow\"}\n"
    );
}

#[test]
fn apply_refuses_when_there_is_no_reviewed_plan() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));

    // A commit pushed to main directly: no pull request, no reviewed plan.
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("was not merged from a pull request"),
        "{}",
        r.stderr
    );
    assert!(
        r.summary.contains("nothing applied") && r.summary.contains("Run workflow"),
        "{}",
        r.summary
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());

    // A merged pull request whose only plan came from a fork's run: refused, and said on it.
    a.merged_pull_request();
    let name = format!("vetted-plan-{HEAD_SHA}");
    a.artifact(
        21,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::Fork,
        false,
        plan_zip("{\"forged\":true}"),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.summary
            .contains("has no saved plan for its last commit 111111111111"),
        "{}",
        r.summary
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());
    let comments = a.apply_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].2.contains("**Not applied**"),
        "{}",
        comments[0].2
    );

    // An artifact without plan.json is refused too.
    a.artifact(
        22,
        &name,
        "2026-11-29T09:10:00Z",
        Origin::ThisRepository,
        false,
        zip_of(&[("plan.md", b"x")]),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(r.summary.contains("holds no plan.json"), "{}", r.summary);

    // A manual run naming a pull request that is not merged.
    a.github
        .state
        .lock()
        .unwrap()
        .pulls
        .push(serde_json::json!({
            "number": 8, "state": "open", "merged_at": null, "merge_commit_sha": null,
            "head": {"ref": "wip", "sha": HEAD_SHA}, "base": {"ref": "main"}
        }));
    let r = a.run_with("apply", DOCKER_SECRET, &[("PULL_REQUEST", "8")]);
    assert_eq!(r.code, 1);
    assert!(
        r.summary
            .contains("Pull request #8 is not merged into main"),
        "{}",
        r.summary
    );

    let r = a.run_with("apply", DOCKER_SECRET, &[("PLAN_SOURCE", "latest")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("plan-source must be 'pull-request', 'file' or 'fresh'"),
        "{}",
        r.stderr
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());
}

/// A manual run of the apply workflow: its plan job plans afresh (no pull request: no comment, an
/// artifact named after the run), and its apply job applies exactly the file that job saved.
#[test]
fn a_manual_run_applies_the_plan_its_plan_job_saved() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "inputs": {"pull-request": ""}}));
    fs::write(a.dir.path().join("fake/plan-id"), "approved-by-reviewers").unwrap();
    a.canned("plan-save", "Plan: 1 to change\n", 0);
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to change\n",
        0,
    );
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        output_has(&r, "artifact-name=vetted-plan-run-4242"),
        "{}",
        r.output
    );
    assert!(r.summary.contains("1 to change"), "{}", r.summary);
    assert!(
        a.github.requests().is_empty(),
        "no pull request to comment on"
    );

    // The apply job downloads the artifact (here: a copy) and applies that file.
    let approved = a.dir.path().join("approved/plan.json");
    fs::create_dir_all(approved.parent().unwrap()).unwrap();
    fs::copy(a.dir.path().join("tmp/vetted/plan.json"), &approved).unwrap();
    a.clear_argv();
    a.canned(
        "apply",
        &apply_report("applied", 0, None, &[("team acme/ops", "done", None)]),
        0,
    );
    let file = approved.display().to_string();
    let r = a.run_with(
        "apply",
        DOCKER_SECRET,
        &[("PLAN_SOURCE", "file"), ("PLAN_FILE", &file)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        a.argv(),
        [
            format!("show {file} --format markdown --max-chars 1048576"),
            format!("apply --policy vetted.toml --yes --format json {file}"),
            format!(
                "snapshot --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/snapshot.json").display()
            )
        ]
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"saved-plan\":\"approved-by-reviewers\"}\n"
    );
    assert!(
        r.summary.contains("saved by this run's plan job") && r.summary.contains("Apply: done"),
        "{}",
        r.summary
    );
    assert!(a.github.requests().is_empty(), "{:?}", a.github.requests());

    a.clear_argv();
    let missing = a
        .dir
        .path()
        .join("approved/none.json")
        .display()
        .to_string();
    let r = a.run_with(
        "apply",
        DOCKER_SECRET,
        &[("PLAN_SOURCE", "file"), ("PLAN_FILE", &missing)],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("none.json' not found"), "{}", r.stderr);
    let r = a.run_with("apply", DOCKER_SECRET, &[("PLAN_SOURCE", "file")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("needs the plan-file input"),
        "{}",
        r.stderr
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());
}

#[test]
fn apply_fresh_plans_now_and_applies_that_plan() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main"}));
    fs::write(a.dir.path().join("fake/plan-id"), "planned-now").unwrap();
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to change\n",
        0,
    );
    a.canned(
        "apply",
        &apply_report("applied", 0, None, &[("team acme/ops", "done", None)]),
        0,
    );
    let fresh = [("PLAN_SOURCE", "fresh")];
    let r = a.run_with("apply", DOCKER_SECRET, &fresh);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = a.dir.path().join("tmp/vetted/plan.json");
    let argv = a.argv();
    assert_eq!(
        argv[0],
        format!(
            "plan --policy vetted.toml --locked --out {} --acknowledge privilege,exposure,destruction",
            plan.display()
        ),
        "planned now: no review, nothing gated"
    );
    assert_eq!(
        argv[argv.len() - 2],
        format!(
            "apply --policy vetted.toml --yes --format json {}",
            plan.display()
        )
    );
    assert!(
        argv.last()
            .unwrap()
            .starts_with("snapshot --policy vetted.toml --locked --out "),
        "{argv:?}"
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"saved-plan\":\"planned-now\"}\n",
        "apply gets exactly the saved plan"
    );
    assert!(
        r.summary.contains("1 to change") && r.summary.contains("## Apply: done"),
        "{}",
        r.summary
    );
    assert!(
        a.dir.path().join("fake/env.log").exists(),
        "the token reaches vetted through its environment"
    );
    assert!(
        a.github.requests().is_empty(),
        "a fresh apply needs no GitHub API"
    );

    // No report on stdout (vetted died, or an older one): the log alone says what happened.
    a.canned("apply", "", 1);
    a.canned_err("apply", "error: 1 change failed\n");
    let r = a.run_with("apply", DOCKER_SECRET, &fresh);
    assert_eq!(r.code, 1);
    assert!(
        r.summary.contains("Apply: FAILED (exit 1)") && r.summary.contains("1 change failed"),
        "{}",
        r.summary
    );
    assert!(output_has(&r, "apply-status=unknown"), "{}", r.output);

    // The plan itself fails (here: the lock does not match the policy): nothing is applied.
    a.clear_argv();
    a.canned("plan-save", "", 1);
    a.canned_err(
        "plan-save",
        "error: redis:7.4.1 is mirrored by the policy but not locked\n",
    );
    let r = a.run_with("apply", DOCKER_SECRET, &fresh);
    assert_eq!(r.code, 1);
    assert!(
        r.summary.contains("nothing applied") && r.summary.contains("not locked"),
        "{}",
        r.summary
    );
    assert_eq!(a.argv().len(), 1, "{:?}", a.argv());
}

#[test]
fn drift_opens_updates_and_closes_one_issue() {
    let a = Action::new();
    a.event(&serde_json::json!({"schedule": "17 6 * * *"}));
    let issues = |a: &Action| a.github.state.lock().unwrap().issues.clone();

    // In sync, no issue: nothing is written.
    a.canned("plan-drift", "No changes.\n", 0);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(output_has(&r, "drifted=false"));
    assert!(issues(&a).is_empty());
    assert_eq!(
        a.argv(),
        [
            "plan --policy vetted.toml --locked --format markdown --detailed-exitcode --drift --acknowledge privilege,exposure,destruction"
                .to_string(),
            format!(
                "snapshot --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/snapshot.json").display()
            )
        ]
    );

    // Drifted: one issue opened, labelled, with the plan.
    a.canned(
        "plan-drift",
        "## 1 to change\nteam dev: member bob removed out of band\n",
        2,
    );
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        output_has(&r, "drifted=true") && output_has(&r, "issue=1"),
        "{}",
        r.output
    );
    let list = issues(&a);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["labels"][0]["name"], "vetted-drift");
    assert!(
        list[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("<!-- vetted:drift org=acme -->")
    );
    assert!(
        list[0]["body"]
            .as_str()
            .unwrap()
            .contains("member bob removed")
    );

    // Still drifted, differently: the same issue is updated.
    a.canned(
        "plan-drift",
        "## 2 to change\nrepository acme/tool made public\n",
        2,
    );
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = issues(&a);
    assert_eq!(list.len(), 1);
    assert!(list[0]["body"].as_str().unwrap().contains("made public"));
    assert!(!list[0]["body"].as_str().unwrap().contains("member bob"));

    // Back in sync: closed with a comment.
    a.canned("plan-drift", "No changes.\n", 0);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = issues(&a);
    assert_eq!(list[0]["state"], "closed");
    let comments = a.github.state.lock().unwrap().comments.clone();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].2.contains("Back in sync") && comments[0].2.contains("/actions/runs/4242"));

    // Drifted again later: a fresh issue (the closed one stays closed).
    a.canned("plan-drift", "## 1 to change\n", 2);
    a.run("drift", DOCKER_SECRET);
    let list = issues(&a);
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["state"], "open");

    // vetted fails: the job fails and the issue is left alone.
    let before = a.github.requests().len();
    a.canned("plan-drift", "", 1);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert_eq!(a.github.requests().len(), before);
}

#[test]
fn plan_without_a_marker_gets_one_and_drift_honours_a_custom_label() {
    let a = Action::new();
    a.event(&pr_event(false));
    // Output without vetted's marker line: the action adds its own, still one comment per push.
    a.canned("show-markdown", "## vetted plan: no changes\n", 0);
    for _ in 0..2 {
        let r = a.run("plan", DOCKER_SECRET);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    {
        let s = a.github.state.lock().unwrap();
        assert_eq!(s.comments.len(), 1, "{:?}", s.comments);
        assert_eq!(
            s.comments[0].2,
            "<!-- vetted:plan org=acme -->\n## vetted plan: no changes\n"
        );
    }
    assert!(
        a.argv()
            .iter()
            .any(|l| l.starts_with("show ") && l.ends_with("--format json"))
    );
    assert!(a.dir.path().join("tmp/vetted/plan-report.json").is_file());

    a.canned("plan-drift", "## 1 to change\n", 2);
    let label = [("DRIFT_LABEL", "policy drift/vetted")];
    for _ in 0..2 {
        let r = a.run_with("drift", DOCKER_SECRET, &label);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let s = a.github.state.lock().unwrap();
    assert_eq!(
        s.issues.len(),
        1,
        "found again by its label: {:?}",
        s.issues
    );
    assert_eq!(s.issues[0]["labels"][0]["name"], "policy drift/vetted");

    // fail-on-drift turns the drifted state into a failed job, the issue still updated.
    drop(s);
    let r = a.run_with(
        "drift",
        DOCKER_SECRET,
        &[label[0], ("FAIL_ON_DRIFT", "true")],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("drifted from the policy (issue #1)"),
        "{}",
        r.stderr
    );
    assert_eq!(a.github.state.lock().unwrap().issues.len(), 1);
}

fn lock_file(entries: &[(&str, &str, char)]) -> String {
    let mut s = String::from(
        "# This file is generated by `vetted lock`. Do not edit by hand.\n\nversion = 1\n",
    );
    for (repo, tag, fill) in entries {
        s.push_str(&format!(
            "\n[[image]]\nrepository = \"{repo}\"\ntag = \"{tag}\"\nsource = \"docker.io/library/{repo}\"\ndigest = \"sha256:{}\"\nmedia_type = \"application/vnd.oci.image.index.v1+json\"\n",
            fill.to_string().repeat(64)
        ));
    }
    s
}

#[test]
fn update_opens_one_pull_request_listing_the_changed_digests() {
    let a = Action::new();
    a.event(
        &serde_json::json!({"schedule": "23 5 * * 1", "repository": {"default_branch": "main"}}),
    );
    let ws = a.ws();
    let origin = a.dir.path().join("origin.git");
    git(
        a.dir.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    fs::write(
        ws.join("vetted.lock"),
        lock_file(&[("nginx", "1.27", 'a'), ("redis", "7.4", 'b')]),
    )
    .unwrap();
    git(&ws, &["init", "-q", "-b", "main"]);
    git(
        &ws,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "add",
            ".",
        ],
    );
    git(
        &ws,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "policy",
        ],
    );
    git(&ws, &["remote", "add", "origin", origin.to_str().unwrap()]);
    git(&ws, &["push", "-q", "origin", "main"]);

    // Nothing moved upstream: no branch, no pull request.
    let r = a.run("update", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(output_has(&r, "changed=false"), "{}", r.output);
    assert!(a.github.requests().is_empty());
    assert_eq!(a.argv().len(), 1);
    assert!(
        a.argv()[0].starts_with("lock --policy vetted.toml --upgrade --report "),
        "{:?}",
        a.argv()
    );

    // redis moved, alpine is new; vetted's report of what changed upstream goes into the body.
    fs::write(
        a.dir.path().join("fake/lock-report.md"),
        "### What changed upstream (1 tag(s))\n\n#### `redis:7.4` from `docker.io/library/redis`\n",
    )
    .unwrap();
    fs::write(
        a.dir.path().join("fake/lock.new"),
        lock_file(&[
            ("alpine", "3.20", 'd'),
            ("nginx", "1.27", 'a'),
            ("redis", "7.4", 'c'),
        ]),
    )
    .unwrap();
    let r = a.run("update", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        output_has(&r, "changed=true") && output_has(&r, "pull-request=1"),
        "{}",
        r.output
    );
    let pulls = a.github.state.lock().unwrap().pulls.clone();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["head"]["ref"], "vetted/lock-update");
    assert_eq!(pulls[0]["base"]["ref"], "main");
    let body = pulls[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with("<!-- vetted:update org=acme -->"),
        "{body}"
    );
    assert!(
        body.contains("- `redis:7.4` sha256:bbbbbbbbbbbb -> sha256:cccccccccccc"),
        "{body}"
    );
    assert!(
        body.contains("- `alpine:3.20` added: sha256:dddddddddddd"),
        "{body}"
    );
    assert!(
        body.contains(
            "sha256:cccccccccccc\n\n### What changed upstream (1 tag(s))\n\n#### `redis:7.4` from"
        ),
        "{body}"
    );
    assert!(
        !body.contains("nginx"),
        "unchanged images are not listed: {body}"
    );
    let pushed = run(Command::new("git")
        .current_dir(&origin)
        .args(["show", "refs/heads/vetted/lock-update:vetted.lock"]));
    assert_eq!(
        text(&pushed.stdout),
        fs::read_to_string(a.dir.path().join("fake/lock.new")).unwrap()
    );

    // The next week, nginx moved too: the same pull request is updated, on a rebuilt branch.
    git(&ws, &["checkout", "-q", "main"]);
    git(&ws, &["reset", "-q", "--hard", "origin/main"]);
    fs::write(
        a.dir.path().join("fake/lock.new"),
        lock_file(&[
            ("alpine", "3.20", 'd'),
            ("nginx", "1.27", 'e'),
            ("redis", "7.4", 'c'),
        ]),
    )
    .unwrap();
    let r = a.run("update", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.pulls.len(), 1, "{:?}", s.pulls);
    let body = s.pulls[0]["body"].as_str().unwrap();
    assert!(
        body.contains("- `nginx:1.27` sha256:aaaaaaaaaaaa -> sha256:eeeeeeeeeeee"),
        "{body}"
    );
    assert!(
        s.requests
            .iter()
            .any(|r| r.method == "PATCH" && r.path == "/repos/acme/policy/pulls/1")
    );
    let log = run(Command::new("git").current_dir(&origin).args([
        "rev-list",
        "--count",
        "main..vetted/lock-update",
    ]));
    assert_eq!(
        text(&log.stdout).trim(),
        "1",
        "the branch holds one commit on top of main"
    );
}

#[test]
#[should_panic(expected = "is not installed: run `bash scripts/install-deps.sh`")]
fn a_missing_lint_tool_fails_with_the_install_hint() {
    tool("vetted-no-such-linter", Some("VETTED_NO_SUCH_LINTER"), None);
}

/// Runs the action's install step (install: release) against the fake GitHub serving a release of
/// the tested binary (packaged by scripts/release/package.sh, with its SHA256SUMS); returns the
/// directory it put on PATH.
fn install_released_vetted(a: &Action) -> PathBuf {
    let version = env!("CARGO_PKG_VERSION");
    let target = "x86_64-unknown-linux-musl";
    let dist = a.dir.path().join("dist");
    let out = run(Command::new("bash")
        .arg(repo_root().join("scripts/release/package.sh"))
        .arg(crate::harness::bin())
        .args([version, target])
        .arg(&dist));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = format!("vetted-{version}-{target}.tar.gz");
    let bytes = fs::read(dist.join(&name)).unwrap();
    let sums = {
        use sha2::{Digest, Sha256};
        format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)))
    };
    a.github.add_release(
        &format!("v{version}"),
        false,
        &[("SHA256SUMS", sums.into_bytes()), (&name, bytes)],
    );
    let d = a.dir.path();
    fs::write(d.join("github_path"), "").unwrap();
    let out = run(Command::new("bash")
        .arg(repo_root().join(".github/actions/vetted/install.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", d)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", d.join("tmp"))
        .env("RUNNER_TOOL_CACHE", d.join("toolcache"))
        .env("GITHUB_PATH", d.join("github_path"))
        .env("GITHUB_API_URL", &a.github.url)
        .env("GITHUB_TOKEN", GITHUB_SECRET)
        .env("ACTION_REPOSITORY", "OWNER/vetted")
        .env("ACTION_REF", format!("v{version}"))
        .env("INSTALL", "release"));
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(!log.contains(GITHUB_SECRET), "{log}");
    assert!(
        log.contains(&format!("installed vetted {version} ({target})")),
        "{log}"
    );
    let dir = fs::read_to_string(d.join("github_path")).unwrap();
    PathBuf::from(dir.trim())
}

/// The action end to end with the released `vetted` (installed by the action's install step from a
/// fake GitHub release) against the sandbox (hub API and registry): the
/// plan step posts vetted's own markdown as the sticky comment; after the merge, the apply step
/// fetches that step's artifact and applies the reviewed plan (mirroring the images); a second
/// apply of the same plan is refused as stale; the drift check then finds the organization in sync.
#[test]
fn the_action_with_the_real_vetted_applies_the_reviewed_plan_once_and_reports_drift_left_alone() {
    use crate::harness::Sandbox;
    // alice's fake credential in sandbox/demo-seed.toml.
    const OWNER_TOKEN: &str = "sandbox-alice-token";
    let root = repo_root();
    let seed = fs::read_to_string(root.join("sandbox/demo-seed.toml")).unwrap();
    let sb = Sandbox::start_with_registry(&seed, &[]);
    let a = Action::new();
    fs::copy(root.join("policy.example.toml"), a.ws().join("vetted.toml")).unwrap();
    let registry = sb.registry.clone().unwrap();
    // vetted comes as the action installs it: the release binary, checked against SHA256SUMS.
    let installed = install_released_vetted(&a);
    let path = format!(
        "{}:{}",
        installed.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let real = installed.join("vetted").display().to_string();
    let env: [(&str, &str); 5] = [
        ("PATH", path.as_str()),
        ("VETTED_HUB_URL", sb.url.as_str()),
        ("VETTED_DOCKER_IO_REGISTRY", registry.as_str()),
        ("DOCKERHUB_USERNAME", "alice"),
        ("NO_COLOR", "1"),
    ];
    // The policy repository commits its lock, as `lock --locked` in the plan step demands.
    let lock = run(Command::new(&real)
        .args(["lock", "--policy", "vetted.toml"])
        .current_dir(a.ws())
        .env_clear()
        .env("HOME", a.dir.path())
        .envs(env.iter().copied())
        .env("DOCKERHUB_TOKEN", OWNER_TOKEN));
    assert!(lock.status.success(), "{}", text(&lock.stderr));

    a.event(&pr_event(false));
    let r = a.run_with("plan", OWNER_TOKEN, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    {
        let s = a.github.state.lock().unwrap();
        assert_eq!(s.comments.len(), 1, "{:?}", s.comments);
        let body = &s.comments[0].2;
        assert!(
            body.starts_with("<!-- vetted:plan org=acme -->\n"),
            "{body}"
        );
        assert!(
            body.contains("to add") && body.contains("to copy"),
            "{body}"
        );
        assert!(body.contains("Access changes"), "{body}");
    }
    assert!(r.summary.contains("to copy"), "{}", r.summary);

    // The plan job's upload: the files it left, under the name it gave.
    let name = r
        .output
        .lines()
        .find_map(|l| l.strip_prefix("artifact-name="))
        .expect("artifact-name output")
        .to_string();
    assert_eq!(name, format!("vetted-plan-{HEAD_SHA}"));
    let work = a.dir.path().join("tmp/vetted");
    let files: Vec<(&str, Vec<u8>)> = ["plan.json", "plan.md", "plan.txt", "plan-report.json"]
        .into_iter()
        .map(|f| (f, fs::read(work.join(f)).unwrap()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(f, b)| (*f, b.as_slice())).collect();
    a.artifact(
        31,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::ThisRepository,
        false,
        zip_of(&refs),
    );

    // The pull request merges: the push to main applies the plan that was reviewed.
    a.merged_pull_request();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));
    let r = a.run_with("apply", OWNER_TOKEN, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.summary.contains("Apply: done") && r.summary.contains("reviewed on pull request #7"),
        "{}",
        r.summary
    );
    // From the real vetted's report: the counts and the image copy totals.
    assert!(output_has(&r, "apply-status=applied"), "{}", r.output);
    let report: Value =
        serde_json::from_str(&fs::read_to_string(work.join("apply.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "applied", "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    let images = report["copy"]["images"].as_u64().unwrap();
    assert!(images > 0, "{report:#}");
    assert!(
        r.summary.contains("0 failed, 0 skipped.")
            && r.summary.contains(&format!("Images: {images} copied")),
        "{}",
        r.summary
    );
    assert!(
        a.apply_comments()[0]
            .2
            .contains("Applied the plan reviewed")
    );

    // The same job run again: the organization is no longer what the plan was computed from, so
    // vetted refuses the plan and changes nothing.
    let r = a.run_with("apply", OWNER_TOKEN, &env);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.summary.contains("the plan is stale"), "{}", r.summary);
    assert!(output_has(&r, "apply-status=refused"), "{}", r.output);
    let comments = a.apply_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].2.contains("**Not applied**") && comments[0].2.contains("the plan is stale"),
        "{}",
        comments[0].2
    );

    // The policy leaves the demo's team legacy and repository old-tool alone (prune = false): that
    // drift is pending for the drift workflow (`plan --drift`), which opens its issue naming it.
    let r = a.run_with("drift", OWNER_TOKEN, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(output_has(&r, "drifted=true"), "{}", r.output);
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.issues.len(), 1, "{:?}", s.issues);
    let body = s.issues[0]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("team legacy")
            && body.contains("acme/old-tool")
            && body.contains("drift left alone"),
        "{body}"
    );
    drop(s);

    // The drift job saved a snapshot with the real vetted; a fork's pull request plans against it
    // with the sandbox gone and no Docker Hub token, and gets a real plan in its comment.
    assert!(
        output_has(
            &r,
            &format!("snapshot-file={}", work.join("snapshot.json").display())
        ),
        "{}",
        r.output
    );
    let snapshot = fs::read_to_string(work.join("snapshot.json")).unwrap();
    assert!(!snapshot.contains(OWNER_TOKEN));
    a.snapshot_artifact(
        80,
        "2026-12-02T08:00:00Z",
        Origin::ThisRepository,
        ".github/workflows/vetted-drift.yml",
        "schedule",
        "main",
        &snapshot,
    );
    fs::write(
        a.ws().join("vetted.toml"),
        fs::read_to_string(a.ws().join("vetted.toml"))
            .unwrap()
            .replacen(
                "[teams.platform]",
                "[teams.contractors]\ndescription = \"From the fork\"\nmembers = []\n\n[teams.platform]",
                1,
            ),
    )
    .unwrap();
    a.event(&pr_event(true));
    // Docker Hub and the registry unreachable: nothing is read from them.
    let offline: [(&str, &str); 4] = [
        ("PATH", path.as_str()),
        ("VETTED_HUB_URL", "http://127.0.0.1:9"),
        ("VETTED_DOCKER_IO_REGISTRY", "http://127.0.0.1:9"),
        ("NO_COLOR", "1"),
    ];
    let r = a.run_with("plan", "", &offline);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(output_has(&r, "mode=plan-from-snapshot"), "{}", r.output);
    let s = a.github.state.lock().unwrap();
    let comment = s
        .comments
        .iter()
        .find(|c| c.2.contains("comes from a fork"))
        .map(|c| c.2.clone())
        .unwrap_or_default();
    assert!(
        comment.contains("**Offline plan**: based on a snapshot of acme taken")
            && comment.contains("team contractors"),
        "{comment}"
    );
}

// ---------------------------------------------------------------------------------------------
// Snapshots: drift and apply save one, fork pull requests plan against the newest

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

const DRIFT_WORKFLOW: &str = ".github/workflows/vetted-drift.yml";
const APPLY_WORKFLOW: &str = ".github/workflows/vetted-apply.yml";

#[test]
fn drift_and_apply_save_a_snapshot_and_a_failed_one_fails_nothing() {
    let a = Action::new();
    a.event(&serde_json::json!({"schedule": "17 6 * * *"}));
    a.canned("plan-drift", "No changes.\n", 0);
    fs::write(a.dir.path().join("fake/snapshot-id"), "from-drift").unwrap();
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snap = a.dir.path().join("tmp/vetted/snapshot.json");
    assert!(
        output_has(&r, &format!("snapshot-file={}", snap.display()))
            && output_has(&r, "snapshot-artifact=vetted-snapshot"),
        "{}",
        r.output
    );
    assert_eq!(
        fs::read_to_string(&snap).unwrap(),
        "{\"snapshot\":\"from-drift\"}\n"
    );
    assert!(
        a.dir.path().join("fake/env.log").exists(),
        "the snapshot reads with the token"
    );

    // vetted snapshot fails: the drift check still succeeds, and nothing is uploaded.
    a.canned("snapshot", "", 1);
    a.canned_err("snapshot", "error: HTTP 503\n::warning::forged\n");
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.output.contains("snapshot-file="), "{}", r.output);
    assert!(!snap.exists());
    assert!(
        r.stderr
            .contains("could not save a snapshot of the organization"),
        "{}",
        r.stderr
    );
    let quoted = commands_outside_stops(&r.stderr);
    assert!(
        quoted.iter().any(|q| q == "::warning::forged"),
        "{quoted:?}"
    );
}

#[test]
fn a_fork_plans_against_the_newest_snapshot_of_the_drift_or_apply_workflow() {
    let a = Action::new();
    a.event(&pr_event(true));
    // Newest first: a fork's run uploading a "snapshot", the plan workflow's, a push to another
    // branch, a pull request run of the drift workflow (its file comes from the pull request):
    // all refused. Then the apply workflow's on main (taken), and an older drift one.
    let t = |h: u32| format!("2026-12-02T{h:02}:00:00Z");
    a.snapshot_artifact(
        61,
        &t(12),
        Origin::Fork,
        DRIFT_WORKFLOW,
        "schedule",
        "main",
        "{\"forged\":1}",
    );
    a.snapshot_artifact(
        62,
        &t(11),
        Origin::ThisRepository,
        PLAN_WORKFLOW,
        "pull_request",
        "feature",
        "{\"plan\":1}",
    );
    a.snapshot_artifact(
        63,
        &t(10),
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "push",
        "feature",
        "{\"branch\":1}",
    );
    a.snapshot_artifact(
        64,
        &t(9),
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "pull_request",
        "main",
        "{\"pr\":1}",
    );
    a.snapshot_artifact(
        65,
        &t(8),
        Origin::ThisRepository,
        APPLY_WORKFLOW,
        "push",
        "main",
        "{\"applied\":1}",
    );
    a.snapshot_artifact(
        66,
        &t(6),
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "schedule",
        "main",
        "{\"older\":1}",
    );
    a.canned(
        "plan-snapshot",
        "<!-- vetted:plan org=acme -->\n### vetted plan for `acme`\n\n> **Offline plan**: based on a snapshot of acme taken 3 h ago (2026-12-02T08:00:00Z), not on the live organization; it cannot be applied.\n\n**Plan: 1 to add, 0 to change, 0 to destroy.**\n",
        0,
    );
    let r = a.run("plan", "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snap = a.dir.path().join("tmp/vetted/snapshot.json");
    assert_eq!(
        a.argv(),
        [
            "validate --policy vetted.toml".to_string(),
            "lock --policy vetted.toml --locked".to_string(),
            format!(
                "plan --policy vetted.toml --locked --format markdown --snapshot {}",
                snap.display()
            )
        ],
        "never --out: a plan from a snapshot is not saved for apply"
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/planned-snapshot.json")).unwrap(),
        "{\"applied\":1}",
        "the apply workflow's snapshot on main, the newest acceptable one"
    );
    assert!(output_has(&r, "mode=plan-from-snapshot"), "{}", r.output);
    assert!(output_has(&r, "snapshot-artifact=65"), "{}", r.output);
    assert!(
        !r.output.contains("artifact-name="),
        "no plan artifact: {}",
        r.output
    );
    assert!(
        !a.dir.path().join("fake/env.log").exists(),
        "no Docker Hub token on forks"
    );
    // The fork's own artifact is left out by the listing's filter; the others by their run.
    for refused in ["62", "63", "64"] {
        assert!(
            r.stderr
                .contains(&format!("snapshot artifact {refused} refused")),
            "{refused}: {}",
            r.stderr
        );
    }
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 1, "{:?}", s.comments);
    let body = &s.comments[0].2;
    assert!(
        body.starts_with("<!-- vetted:plan org=acme -->\n> This pull request comes from a fork"),
        "{body}"
    );
    assert!(
        body.contains("taken 3 h ago")
            && body.contains("artifact 65")
            && body.contains("never applied"),
        "{body}"
    );
    assert!(r.summary.contains("taken 3 h ago"), "{}", r.summary);
    let writes: Vec<String> = s
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, ["POST /repos/acme/policy/issues/7/comments"]);
    // The fork's artifact was never downloaded, nor any refused one.
    assert!(
        s.requests
            .iter()
            .filter(|r| r.path.contains("/zip"))
            .all(|r| r.path.contains("/artifacts/65/zip")),
        "{:?}",
        s.requests
    );
}

#[test]
fn a_fork_whose_snapshot_vetted_refuses_gets_the_offline_checks() {
    let a = Action::new();
    a.event(&pr_event(true));
    a.snapshot_artifact(
        70,
        "2026-12-02T08:00:00Z",
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "schedule",
        "main",
        "{}",
    );
    a.canned("plan-snapshot", "", 1);
    a.canned_err(
        "plan-snapshot",
        "error: the snapshot `snapshot.json` was changed after it was written\n",
    );
    let r = a.run("plan", "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(output_has(&r, "mode=validate-only"), "{}", r.output);
    assert!(
        r.summary.contains("vetted could not plan against it"),
        "{}",
        r.summary
    );
    assert!(
        r.stderr.contains("was changed after it was written"),
        "{}",
        r.stderr
    );
    assert!(a.github.state.lock().unwrap().comments.is_empty());
}

mod review;
