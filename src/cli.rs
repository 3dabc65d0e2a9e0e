//! Command-line surface: clap derive types only. No I/O and no logic here; `settings` resolves these
//! into what the commands use.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  vetted validate --policy vetted.toml
  vetted plan --policy vetted.toml
  vetted plan --format json --detailed-exitcode
  vetted apply --policy vetted.toml --yes
  vetted sandbox --seed sandbox/demo-seed.toml

Credentials come from DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (a password, a personal access token,
or an organization access token with the organization name as the username). Registry credentials:
VETTED_REGISTRY_USERNAME/VETTED_REGISTRY_PASSWORD, then (for docker.io) the Docker Hub ones, then
Docker's config.json and credential helpers, else anonymous.";

#[derive(Debug, Parser)]
#[command(
    name = "vetted",
    version,
    about = "Govern a Docker Hub organization as code: vetted images, teams, grants and Image Access Management from one TOML policy.",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to use colour: auto honours NO_COLOR and whether the stream is a terminal.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, env = "VETTED_COLOR")]
    pub color: ColorWhen,
    /// Print more detail (API call counts, each request retried).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the policy offline: syntax, unknown keys, Docker Hub's naming rules, references.
    #[command(
        after_help = "Example:\n  vetted validate --policy vetted.toml\n\nMakes no network call. Exit status 1 when the policy has errors; all errors are listed."
    )]
    Validate(PolicyArgs),
    /// Read the live organization and show what apply would change.
    #[command(
        after_help = "Examples:\n  vetted plan\n  vetted plan --format markdown > plan.md\n  vetted plan --detailed-exitcode   # exit 2 when changes are pending"
    )]
    Plan(PlanArgs),
    /// Make the organization match the policy.
    #[command(
        after_help = "Examples:\n  vetted apply              # shows the plan and asks on a terminal\n  vetted apply --yes        # non-interactive (CI)\n  vetted apply --yes --force   # past the mass-deletion guard"
    )]
    Apply(ApplyArgs),
    /// Resolve every mirrored tag to its upstream digest and write vetted.lock beside the policy.
    #[command(
        after_help = "Examples:\n  vetted lock                    # lock what is not locked yet; keep the rest\n  vetted lock --upgrade          # re-resolve every tag\n  vetted lock --upgrade redis    # re-resolve the tags of one repository\n  vetted lock --locked           # CI: fail when vetted.lock is missing or out of date (offline)\n\nResolving uses HEAD requests, which do not count against Docker Hub pull limits."
    )]
    Lock(LockArgs),
    /// Write a policy from the live organization, such that `vetted plan` on it shows no changes.
    #[command(
        after_help = "Examples:\n  vetted export --org acme                     # the policy on stdout\n  vetted export --org acme --out vetted.toml   # refuses to overwrite an existing file\n  vetted export --org acme --out vetted.toml --force\n\nReads every section (image access, members and invites, teams, repositories and their grants and\ntags); changes nothing. Mirrors cannot be inferred from the live organization: tags are listed in comments."
    )]
    Export(ExportArgs),
    /// Run a local Docker Hub stand-in (hub API on loopback) to try a policy safely.
    #[command(
        after_help = "Example:\n  vetted sandbox --seed sandbox/demo-seed.toml --port 5080\n\nPrints its URL on stdout when ready; point vetted at it with --hub-url or VETTED_HUB_URL.\nStops on Ctrl-C (state saved to --state when given)."
    )]
    Sandbox(SandboxArgs),
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The policy file.
    #[arg(short, long, default_value = "vetted.toml", env = "VETTED_POLICY")]
    pub policy: PathBuf,
}

#[derive(Debug, Args)]
pub struct HubArgs {
    /// Docker Hub API base URL (the sandbox prints its own).
    #[arg(long, env = "VETTED_HUB_URL", default_value = "https://hub.docker.com")]
    pub hub_url: String,
    /// Docker ID, or organization name for an organization access token.
    #[arg(long, env = "DOCKERHUB_USERNAME", hide_env_values = true)]
    pub username: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
    /// Retries per request on timeouts, resets, 5xx and 429.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub parallelism: u64,
}

/// Where images are read from and copied to.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Send requests for `docker.io` references to this registry URL instead of Docker Hub (the
    /// sandbox prints its registry URL on its second line). Plain http only for loopback.
    #[arg(long, env = "VETTED_DOCKER_IO_REGISTRY", value_name = "URL")]
    pub docker_io_registry: Option<String>,
    /// Images copied at once by apply.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=32))]
    pub copy_parallelism: u64,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Fail when vetted.lock is missing or does not match the policy (CI).
    #[arg(long)]
    pub locked: bool,
    /// Output format for the plan on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 0 when there are no changes, 2 when changes are pending, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also show, per person, who gains or loses pull, push or admin (text format; JSON and
    /// markdown always include it).
    #[arg(long)]
    pub access: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Fail when vetted.lock is missing or does not match the policy (CI).
    #[arg(long)]
    pub locked: bool,
    /// Output format for the plan shown before applying.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(short = 'y', long, alias = "auto-approve")]
    pub yes: bool,
    /// Apply even when the mass-deletion guard refuses the plan.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The organization to export.
    #[arg(long, env = "VETTED_ORG")]
    pub org: String,
    #[command(flatten)]
    pub hub: HubArgs,
    /// Write the policy to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite the --out file when it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Re-resolve every tag, or only the tags of the named repositories.
    #[arg(long, value_name = "REPOSITORY", num_args = 0.., conflicts_with = "locked")]
    pub upgrade: Option<Vec<String>>,
    /// Change nothing: fail when vetted.lock is missing or does not match the policy (offline).
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 5080)]
    pub port: u16,
    /// Seed file describing the initial organization and users.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Keep state in this JSON file: loaded when present, saved after every write.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Added latency per API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction of API requests answered with a 5xx (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Fraction of API requests answered 429 with Retry-After (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Retry-After sent with injected 429s, in seconds.
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Fraction of API requests whose connection is dropped without a response (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Seed for the fault injector's random choices (reproducible runs).
    #[arg(long, default_value_t = 1)]
    pub fault_seed: u64,
    /// Do not start the registry (/usr/bin/docker-registry): serve the hub API only.
    #[arg(long)]
    pub no_registry: bool,
}
