//! One file per subcommand. Each loads its inputs, calls the core (policy, hub, plan, apply) and
//! renders; none holds logic of its own beyond that. `run` dispatches and owns the async runtime.

mod apply;
mod lock;
mod plan;
mod sandbox;
mod validate;

use crate::cli::{Cli, Command, Format, HubArgs, PolicyArgs};
use crate::error::{Error, Outcome};
use crate::hub::HubClient;
use crate::model::{OrgState, Scope, Username};
use crate::plan::Plan;
use crate::plan::diff::DiffOptions;
use crate::policy::Policy;
use crate::render::RenderOptions;
use crate::settings::{self, Output};

pub fn run(cli: Cli, output: Output) -> Result<Outcome, Error> {
    match cli.command {
        // Offline: no runtime needed.
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => block_on(plan::run(&args, output)),
        Command::Apply(args) => block_on(apply::run(&args, output)),
        Command::Lock(args) => block_on(lock::run(&args)),
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
}

/// Loads the policy (offline, fails before any request), logs in, reads the live state the policy
/// manages and diffs.
pub(crate) async fn load_and_plan(
    policy_args: &PolicyArgs,
    hub_args: &HubArgs,
) -> Result<Planned, Error> {
    let policy = crate::policy::load(&policy_args.policy)?;
    let config = settings::hub_config(hub_args)?;
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
    Ok(Planned {
        policy,
        client,
        live,
        plan,
    })
}

impl Planned {
    /// Every safety check: the mass-deletion guard, the last owner, and the identity running apply.
    pub fn violations(&self) -> Vec<crate::plan::safety::Violation> {
        let mut v = crate::plan::safety::check(
            &self.plan,
            &self.live,
            self.policy.settings.delete_threshold,
        );
        v.extend(crate::plan::safety::check_identity(
            &self.plan,
            &Username::new(self.client.identity()),
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

/// The registry client for resolving and copying images.
pub(crate) fn registry_client() -> Result<crate::registry::client::RegistryClient, Error> {
    crate::registry::client::RegistryClient::new(crate::registry::client::ClientConfig::default())
        .map_err(|e| Error::Usage(e.to_string()))
}

/// A status line on stderr (data goes to stdout).
pub(crate) fn status(message: &str) {
    eprintln!("{message}");
}
