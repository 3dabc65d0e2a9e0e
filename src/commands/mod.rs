//! One file per subcommand. Each loads its inputs, calls the core (policy, hub, plan, apply) and
//! renders; none holds logic of its own beyond that. `run` dispatches and owns the async runtime.

mod apply;
mod export;
mod lock;
mod plan;
mod sandbox;
mod validate;

use crate::cli::{Cli, Command, Format, HubArgs, PolicyArgs, RegistryArgs};
use crate::error::{Error, Outcome};
use crate::hub::HubClient;
use crate::model::{OrgState, Scope, Username};
use crate::plan::Plan;
use crate::plan::diff::DiffOptions;
use crate::policy::Policy;
use crate::registry::client::RegistryClient;
use crate::render::RenderOptions;
use crate::settings::{self, Output};

pub fn run(cli: Cli, output: Output) -> Result<Outcome, Error> {
    match cli.command {
        // Offline: no runtime needed.
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => block_on(plan::run(&args, output)),
        Command::Apply(args) => block_on(apply::run(&args, output)),
        Command::Lock(args) => block_on(lock::run(&args)),
        Command::Export(args) => block_on(export::run(&args)),
        Command::Sandbox(args) => block_on(sandbox::run(&args)),
    }
}

/// Runs one command's future on a fresh multi-threaded runtime.
fn block_on(command: impl Future<Output = Result<Outcome, Error>>) -> Result<Outcome, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the async runtime".into(),
            source,
        })?
        .block_on(command)
}

/// Everything `plan` and `apply` compute before they diverge.
pub(crate) struct Planned {
    pub policy: Policy,
    pub client: HubClient,
    pub live: OrgState,
    pub plan: Plan,
    /// The registry client, when the policy mirrors images.
    pub registry: Option<RegistryClient>,
    /// Docker Hub's remaining pulls, when it said.
    pub pulls_remaining: Option<u64>,
}

/// Loads the policy and its lock (offline, fails before any request; `locked` demands a current
/// lock), logs in, reads the live state the policy manages and diffs; then resolves the mirrored
/// images and adds their copy rows.
pub(crate) async fn load_and_plan(
    policy_args: &PolicyArgs,
    hub_args: &HubArgs,
    registry_args: &RegistryArgs,
    locked: bool,
    verbose: bool,
) -> Result<Planned, Error> {
    let policy = crate::policy::load(&policy_args.policy)?;
    let lock_state = lock_state(&policy, locked)?;
    let config = settings::hub_config(hub_args)?;
    let registries = crate::mirror::registries(&policy.desired);
    let registry = if registries.is_empty() {
        None
    } else {
        let (rc, sources) =
            settings::registry_config(registry_args, Some(&config.credentials), &registries)?;
        if verbose {
            for (registry, source) in &sources {
                status(&format!("Registry {registry}: {}", source.describe()));
            }
        }
        Some(RegistryClient::new(rc).map_err(|e| Error::Usage(e.to_string()))?)
    };
    status(&format!("Reading organization {} ...", policy.desired.org));
    let client = HubClient::login(config).await?;
    let scope = Scope::of(&policy.desired);
    let live = client.read_state(&policy.desired.org, &scope).await?;
    let opts = DiffOptions {
        prune: policy.settings.prune,
        identity: Some(Username::new(client.identity())),
    };
    let mut plan = crate::plan::diff(&policy.desired, &live, &opts);
    plan.api_calls = client.api_calls();
    let mut pulls_remaining = None;
    if let Some(registry) = &registry {
        status("Resolving mirrored images ...");
        let resolution = crate::mirror::resolve(registry, &policy, &lock_state)
            .await
            .map_err(Error::Registry)?;
        let (mut copies, notes) = crate::mirror::changes(&plan.org, &resolution);
        // Plan order first: a blob shared by several images counts at the first one shown.
        crate::plan::diff::sort_changes(&mut copies, &plan.org);
        crate::mirror::estimate(registry, &mut copies).await;
        // After the estimate's manifest reads, which Docker Hub counts too.
        pulls_remaining = registry
            .ratelimit_remaining()
            .or(resolution.pulls_remaining);
        if let Some(remaining) = pulls_remaining {
            let needed = crate::mirror::docker_hub_pulls(&copies);
            plan.notes.push(crate::plan::Note {
                kind: crate::plan::ResourceKind::Image,
                address: "docker.io".into(),
                message: format!(
                    "Docker Hub pulls remaining: {remaining}; the copies need about {needed}"
                ),
            });
        }
        plan.changes.extend(copies);
        plan.notes.extend(notes);
        crate::plan::diff::sort_changes(&mut plan.changes, &plan.org.clone());
        plan.notes.sort();
        plan.notes.dedup();
    }
    Ok(Planned {
        policy,
        client,
        live,
        plan,
        registry,
        pulls_remaining,
    })
}

/// Reads vetted.lock beside the policy. With `locked`, a missing or outdated lock is an error.
fn lock_state(policy: &Policy, locked: bool) -> Result<crate::mirror::LockState, Error> {
    use crate::policy::lock;
    let path = lock::path_for(&policy.path);
    let shown = path.display();
    let mirrors = policy
        .desired
        .repositories
        .values()
        .any(|r| r.mirror.is_some());
    match lock::Lockfile::read(&path).map_err(|e| Error::Lock(e.to_string()))? {
        None if locked && mirrors => Err(Error::Lock(format!(
            "{shown} does not exist and --locked requires it; run `vetted lock` and commit {shown}"
        ))),
        None => Ok(crate::mirror::LockState::Missing),
        Some(lock) => {
            let problems = lock::check_locked(policy, &lock).err().unwrap_or_default();
            if locked && !problems.is_empty() {
                return Err(Error::Lock(format!(
                    "{shown} is out of date with {} and --locked forbids mirroring anything else:\n{}\nrun `vetted lock` and commit {shown}",
                    policy.path.display(),
                    problems
                        .iter()
                        .map(|p| format!("  - {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )));
            }
            Ok(crate::mirror::LockState::Present { lock, problems })
        }
    }
}

impl Planned {
    /// Every safety check: the mass-deletion guard, the last owner, and the identity running apply.
    pub fn violations(&self) -> Vec<crate::plan::safety::Violation> {
        let mut v = crate::plan::safety::check(
            &self.plan,
            &self.live,
            self.policy.settings.delete_threshold,
        );
        let identity = Username::new(self.client.identity());
        v.extend(crate::plan::safety::check_identity(&self.plan, &identity));
        v.extend(crate::plan::safety::check_mirror_identity(
            &self.plan, &self.live, &identity,
        ));
        v
    }
}

/// Renders a plan in the requested format for stdout.
pub(crate) fn render_plan(plan: &Plan, format: Format, output: Output) -> String {
    match format {
        Format::Text => crate::render::text(
            plan,
            &RenderOptions {
                color: output.color_stdout,
                verbose: output.verbose,
            },
        ),
        Format::Json => crate::render::json(plan),
        Format::Markdown => crate::render::markdown(plan),
    }
}

/// A status line on stderr (data goes to stdout).
pub(crate) fn status(message: &str) {
    eprintln!("{message}");
}
