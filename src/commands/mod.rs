//! One file per subcommand. Each loads its inputs, calls the core (policy, hub, plan, apply) and
//! renders; none holds logic of its own beyond that. `run` dispatches and owns the async runtime.

mod apply;
mod completions;
mod doctor;
mod export;
mod lock;
mod man;
mod plan;
mod sandbox;
mod saved;
mod schema;
mod show;
mod snapshot;
mod validate;

use std::path::Path;

use crate::cli::{Cli, Command, Format};
use crate::error::{Error, Outcome};
use crate::hub::HubClient;
use crate::model::{OrgState, Scope, Username};
use crate::plan::Plan;
use crate::plan::diff::DiffOptions;
use crate::plan::targets::Targets;
use crate::policy::Policy;
use crate::registry::client::RegistryClient;
use crate::render::RenderOptions;
use crate::render::markdown::MarkdownOptions;
use crate::settings::{Output, Settings};

/// Runs `cli`'s command with the settings [`crate::settings::resolve`] made of it.
pub fn run(cli: Cli, settings: &Settings) -> Result<Outcome, Error> {
    match cli.command {
        // Offline: no runtime needed.
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => block_on(plan::run(&args, settings)),
        Command::Apply(args) => block_on(apply::run(&args, settings)),
        // Offline: renders a file.
        Command::Show(args) => show::run(&args, settings),
        Command::Lock(args) => block_on(lock::run(&args, settings)),
        Command::Export(args) => block_on(export::run(&args, settings)),
        Command::Snapshot(args) => block_on(snapshot::run(&args, settings)),
        Command::Sandbox(args) => block_on(sandbox::run(&args)),
        Command::Doctor(args) => block_on(doctor::run(&args, settings)),
        // Offline: generated from the clap definition.
        Command::Completions(args) => completions::run(&args),
        Command::Man => man::run(),
        Command::Schema => schema::run(),
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

/// What `plan` and `apply` read before planning: the policy and its lock, the clients, the live
/// state with the policy's scope.
struct Loaded {
    policy: Policy,
    lock_state: crate::mirror::LockState,
    client: HubClient,
    live: OrgState,
    /// The registry client, when the policy mirrors images.
    registry: Option<RegistryClient>,
    /// The hub API base URL the live state was read from.
    hub_url: url::Url,
    /// A partial plan's targets (empty: the whole policy).
    targets: Targets,
}

/// Everything `plan` and `apply` compute before they diverge.
pub(crate) struct Planned {
    pub policy: Policy,
    pub client: HubClient,
    /// The live state as read, the mirrored repositories' tags included (what a saved plan's live
    /// fingerprint covers).
    pub live: OrgState,
    /// The desired state with the mirrored tags resolved (what `vetted snapshot` records of
    /// platform-filtered indexes).
    pub desired: OrgState,
    pub plan: Plan,
    /// The registry client, when the policy mirrors images.
    pub registry: Option<RegistryClient>,
    /// Docker Hub's remaining pulls after the plan's own reads, when it said.
    pub pulls_remaining: Option<u64>,
    /// Docker Hub pulls the plan's copies spend (`mirror::docker_hub_pulls`).
    pub copy_pulls: u64,
    /// The signature gate's verdicts on the plan's gated copies (read once, here).
    pub verdicts: crate::verify::Verdicts,
    pub hub_url: url::Url,
}

/// What `plan` and `apply` compute: loads the policy and its lock (offline, fails before any
/// request; `locked` demands a current lock), logs in, reads the live state the policy manages
/// ([`load`]) and plans it ([`plan_loaded`]), with the copy estimates `estimate` says. With
/// `targets` (`--target`), a partial plan: see [`load`].
pub(crate) async fn load_and_plan(
    settings: &Settings,
    policy_path: &Path,
    locked: bool,
    targets: &[String],
    estimate: Estimate<'_>,
) -> Result<Planned, Error> {
    let loaded = load(settings, policy_path, locked, targets).await?;
    plan_loaded(loaded, estimate).await
}

/// With targets, the policy's desired state is restricted to them before anything is read
/// ([`Targets::restrict`]): the live state is read for what they need, images resolved for their
/// repositories only, and an address that names nothing in the policy or the organization is an
/// error before any plan is made. vetted.lock is checked (`--locked`) only for the targeted
/// repositories: an untargeted repository's entries are neither checked nor read upstream.
async fn load(
    settings: &Settings,
    policy_path: &Path,
    locked: bool,
    targets: &[String],
) -> Result<Loaded, Error> {
    let mut policy = crate::policy::load(policy_path)?;
    let targets =
        Targets::parse(targets, &policy.desired.org).map_err(|e| Error::Usage(e.to_string()))?;
    let whole = policy.desired.clone();
    policy.desired = targets.restrict(&whole);
    // After the restriction: the lock is checked for what this run mirrors.
    let lock_state = lock_state(&policy, locked, &targets)?;
    let config = settings.hub()?;
    let hub_url = config.base_url.clone();
    let registries = crate::mirror::registries(&policy.desired);
    let registry = if registries.is_empty() {
        None
    } else {
        let (rc, sources) = settings.registry()?.client_config(&registries);
        if settings.output.verbose {
            for (registry, source) in &sources {
                status(&format!("Registry {registry}: {}", source.describe()));
            }
        }
        Some(RegistryClient::new(rc).map_err(|e| Error::Usage(e.to_string()))?)
    };
    status(&format!("Reading organization {} ...", policy.desired.org));
    let client = HubClient::login(config.clone()).await?;
    let mut scope = Scope::of(&policy.desired);
    if policy.settings.prune {
        scope.whole_listing_for = Some(crate::model::WHOLE_LISTING_FOR_PRUNE);
    }
    if !targets.is_empty() {
        // Only the teams the targets need; every repository's grants only when a change of team
        // membership is targeted (its effective access reaches every repository the team has).
        scope.teams_only = targets.teams_needed(&whole);
        scope.all_grants &= targets.membership();
    }
    let org_source = format!("`org` in {}", policy_path.display());
    // The origin only: a URL's user information never reaches a message.
    let hub = hub_url.origin().ascii_serialization();
    let live = client
        .read_state(&policy.desired.org, &scope)
        .await
        .map_err(|e| {
            e.explain(&crate::hub::Explain {
                org: &policy.desired.org,
                hub: &hub,
                identity: client.identity(),
                org_source: &org_source,
            })
        })?;
    targets
        .check_known(&whole, &live)
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok(Loaded {
        policy,
        lock_state,
        client,
        live,
        registry,
        hub_url,
        targets,
    })
}

/// Where [`plan_loaded`] gets the copy rows' display-only estimates (`bytes`, `manifests`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Estimate<'a> {
    /// Read the source manifests (manifest GETs count against Docker Hub's pull limit).
    Read,
    /// Take them from a saved plan's rows with the same address (`apply PLAN`: no manifest GETs
    /// beyond the copies themselves).
    From(&'a Plan),
    /// None: the rows keep 0 (`vetted snapshot`, which plans only to read what a plan reads).
    Skip,
}

/// Resolves the mirrored images into the desired state and reads the organization's tags into the
/// live state, then builds the plan with one diff; fills the copy rows' estimates and adds the
/// notes on the lock, on Docker Hub's pulls and on what apply's safety checks would refuse.
/// Independent of the identity that runs it.
async fn plan_loaded(loaded: Loaded, estimate: Estimate<'_>) -> Result<Planned, Error> {
    let Loaded {
        policy,
        lock_state,
        client,
        mut live,
        registry,
        hub_url,
        targets,
    } = loaded;
    let mut desired = policy.desired.clone();
    let mut notes = Vec::new();
    let mut pulls_remaining = None;
    if let Some(registry) = &registry {
        status("Resolving mirrored images ...");
        let resolution = crate::mirror::resolve(
            registry,
            &client,
            &policy,
            &lock_state,
            &mut desired,
            &mut live,
        )
        .await
        .map_err(Error::Registry)?;
        notes = resolution.notes;
        pulls_remaining = resolution.pulls_remaining;
    }
    let opts = DiffOptions {
        prune: policy.settings.prune,
        targets,
    };
    let mut plan = crate::plan::diff(&desired, &live, &opts);
    let mut verdicts = crate::verify::Verdicts::gating(&policy.desired);
    let mut copy_pulls = 0;
    if let Some(registry) = &registry {
        // In plan order: a blob shared by several images counts at the first one shown.
        match estimate {
            Estimate::Read => crate::mirror::estimate(registry, &mut plan.changes).await,
            Estimate::From(saved) => crate::plan::saved::take_estimates(&mut plan.changes, saved),
            Estimate::Skip => {}
        }
        copy_pulls = crate::mirror::docker_hub_pulls(&plan.changes);
        // The signature gate's verdict on each copy it covers (src/verify/).
        let (gate_notes, read) =
            crate::verify::check_plan(registry, &policy.desired, &plan.changes).await;
        notes.extend(gate_notes);
        verdicts = read;
        // After the estimate's and the gate's manifest reads, which Docker Hub counts too.
        pulls_remaining = registry.ratelimit_remaining().or(pulls_remaining);
        if let Some(remaining) = pulls_remaining {
            let needed = copy_pulls;
            notes.push(crate::plan::Note {
                kind: crate::plan::ResourceKind::Image,
                address: "docker.io".into(),
                message: format!(
                    "Docker Hub pulls remaining: {remaining}; the copies need about {needed}"
                ),
            });
        }
    }
    plan.api_calls = client.api_calls();
    notes.extend(crate::plan::safety::notes(
        &plan,
        &live,
        policy.settings.delete_threshold,
    ));
    plan.notes.extend(notes);
    plan.notes.sort();
    plan.notes.dedup();
    Ok(Planned {
        policy,
        client,
        live,
        desired,
        plan,
        registry,
        pulls_remaining,
        copy_pulls,
        verdicts,
        hub_url,
    })
}

/// Reads vetted.lock beside the policy. With `locked`, a missing or outdated lock is an error.
fn lock_state(
    policy: &Policy,
    locked: bool,
    targets: &Targets,
) -> Result<crate::mirror::LockState, Error> {
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
        Some(mut lock) => {
            // A partial run (`--target`) keeps only the targeted repositories' entries, as
            // `policy.desired` keeps only their repositories: an entry of an untargeted
            // repository is neither checked nor read.
            lock.images
                .retain(|e| targets.covers_lock_of(&e.repository));
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

/// Every safety check: the mass-deletion guard, the last owner, and the identity running apply.
pub(crate) fn violations(
    plan: &Plan,
    live: &OrgState,
    policy: &Policy,
    client: &HubClient,
) -> Vec<crate::plan::safety::Violation> {
    let mut v = crate::plan::safety::check(plan, live, policy.settings.delete_threshold);
    let identity = Username::new(client.identity());
    v.extend(crate::plan::safety::check_identity(plan, &identity));
    v.extend(crate::plan::safety::check_mirror_identity(
        plan, live, &identity,
    ));
    v
}

impl Planned {
    /// Every safety check on the computed plan.
    pub fn violations(&self) -> Vec<crate::plan::safety::Violation> {
        violations(&self.plan, &self.live, &self.policy, &self.client)
    }
}

/// Renders a plan in the requested format for stdout (markdown within GitHub's comment limit).
pub(crate) fn render_plan(plan: &Plan, format: Format, output: Output) -> String {
    render_plan_with(plan, format, output, &MarkdownOptions::default())
}

/// [`render_plan`] with markdown options (`--max-chars`).
pub(crate) fn render_plan_with(
    plan: &Plan,
    format: Format,
    output: Output,
    markdown: &MarkdownOptions,
) -> String {
    match format {
        Format::Text => crate::render::text(
            plan,
            &RenderOptions {
                color: output.color_stdout,
                verbose: output.verbose,
                width: output.width,
            },
        ),
        Format::Json => crate::render::json(plan),
        Format::Markdown => crate::render::markdown::render(plan, markdown),
    }
}

/// Markdown options from `--max-chars`.
pub(crate) fn markdown_options(args: &crate::cli::MarkdownArgs) -> MarkdownOptions {
    MarkdownOptions {
        max_chars: usize::try_from(args.max_chars).unwrap_or(usize::MAX),
        ..MarkdownOptions::default()
    }
}

/// Writes `text` (data: a plan, a policy) to stdout. When the reader went away (`vetted plan | head
/// -c1`: EPIPE), vetted does as ripgrep does and stops writing quietly, with no error and no panic
/// (`print!` panics on it); returns false then, so the caller skips its further output and finishes
/// what is not output (saving `--out`, an apply already confirmed). Rust ignores SIGPIPE, so the
/// write fails instead of killing the process: a signal could end an apply between two changes.
pub(crate) fn print_out(text: &str) -> Result<bool, Error> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(source) => Err(Error::Io {
            context: "writing to stdout".into(),
            source,
        }),
    }
}

/// A status line on stderr (data goes to stdout).
pub(crate) fn status(message: &str) {
    eprintln!("{}", crate::render::untrusted_lines(message));
}
