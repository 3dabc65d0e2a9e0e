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
  vetted plan --out plan.json && vetted apply plan.json   # apply exactly the reviewed plan
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
        after_help = "Examples:\n  vetted plan\n  vetted plan --format markdown > plan.md\n  vetted plan --detailed-exitcode   # exit 2 when changes are pending\n  vetted plan --out plan.json --format markdown   # save the plan for `vetted apply plan.json`\n  vetted plan --acknowledge privilege,exposure   # after review, past the policy's [review] gate"
    )]
    Plan(PlanArgs),
    /// Make the organization match the policy, or apply a saved plan exactly.
    #[command(
        after_help = "Examples:\n  vetted apply              # shows the plan and asks on a terminal\n  vetted apply --yes        # non-interactive (CI)\n  vetted apply --yes --force   # past the mass-deletion guard\n  vetted apply --yes plan.json # exactly the saved plan; refused when it is stale"
    )]
    Apply(ApplyArgs),
    /// Render a saved plan (`vetted plan --out`) offline: no network, no credentials.
    #[command(
        after_help = "Examples:\n  vetted show plan.json\n  vetted show plan.json --format markdown   # a pull-request comment body\n  vetted show plan.json --format markdown --max-chars 1048576 >> \"$GITHUB_STEP_SUMMARY\""
    )]
    Show(ShowArgs),
    /// Resolve every mirrored tag to its upstream digest and write vetted.lock beside the policy.
    #[command(
        after_help = "Examples:\n  vetted lock                    # lock what is not locked yet; keep the rest\n  vetted lock --upgrade          # re-resolve every tag\n  vetted lock --upgrade redis    # re-resolve the tags of one repository\n  vetted lock --locked           # CI: fail when vetted.lock is missing or out of date (offline)\n  vetted lock --upgrade --report update.md   # and what changed upstream, for a pull request\n\nResolving uses HEAD requests, which do not count against Docker Hub pull limits. --report also\nreads platform manifests (a Docker Hub pull each), never below --facts-keep-pulls remaining."
    )]
    Lock(LockArgs),
    /// Read the live organization as `plan` does and save it to a file (no secrets), for
    /// `vetted plan --snapshot FILE` where no credentials are (pull requests from forks).
    #[command(
        after_help = "Examples:\n  vetted snapshot --out snapshot.json\n  vetted plan --snapshot snapshot.json   # offline: no Docker Hub or registry request\n\nThe snapshot holds what a plan of this policy reads (settings, members, teams, repositories,\ngrants, mirrored tags' digests) with a sha256 fingerprint; no token and no identity of the\ncredentials. A plan from a snapshot can never be applied: apply always reads the live organization."
    )]
    Snapshot(SnapshotArgs),
    /// Write a policy from the live organization, such that `vetted plan` on it shows no changes.
    #[command(
        after_help = "Examples:\n  vetted export --org acme                     # the policy on stdout\n  vetted export --org acme --out vetted.toml   # refuses to overwrite an existing file\n  vetted export --org acme --out vetted.toml --force\n\nReads every section (image access, members and invites, teams, repositories and their grants and\ntags); changes nothing. Mirrors cannot be inferred from the live organization: tags are listed in comments."
    )]
    Export(ExportArgs),
    /// Check, read-only, whether apply of this policy can succeed with these credentials: who
    /// they are, their role, which sections they can read and write, the API and pull budgets.
    #[command(
        after_help = "Examples:\n  vetted doctor\n  vetted doctor --policy vetted.toml --format json\n\nOnly GET and HEAD requests: nothing changes and no pull is counted. Each failing line says\nwhat to do. Exit status 0 when apply can succeed, 1 otherwise."
    )]
    Doctor(DoctorArgs),
    /// Run a local Docker Hub stand-in (hub API on loopback) to try a policy safely.
    #[command(
        after_help = "Example:\n  vetted sandbox --seed sandbox/demo-seed.toml --port 5080\n\nPrints its URL on stdout when ready; point vetted at it with --hub-url or VETTED_HUB_URL.\nStops on Ctrl-C (state saved to --state when given)."
    )]
    Sandbox(SandboxArgs),
    /// Print a shell completion script on stdout.
    #[command(
        after_help = "Examples:\n  vetted completions bash > ~/.local/share/bash-completion/completions/vetted\n  vetted completions zsh > \"${fpath[1]}/_vetted\"\n  vetted completions fish > ~/.config/fish/completions/vetted.fish\n\nGenerated from this binary's own arguments: regenerate after upgrading vetted."
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff, every subcommand and flag) on stdout.
    #[command(
        after_help = "Examples:\n  vetted man | man -l -\n  vetted man > ~/.local/share/man/man1/vetted.1"
    )]
    Man,
    /// Print the JSON Schema of the policy on stdout (for editors: taplo, Even Better TOML).
    #[command(
        after_help = "Example:\n  mkdir -p schema && vetted schema > schema/vetted.schema.json\n\nA policy starting with `#:schema ./schema/vetted.schema.json` then gets completion and checks\nin the editor. `vetted validate` stays the authority (it also checks grants and included files)."
    )]
    Schema,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
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
    /// Docker Hub API requests in flight at once.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub parallelism: u64,
}

/// Where images are read from and copied to.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Send requests for `docker.io` references to this registry URL instead of Docker Hub (the
    /// sandbox prints its registry URL on its second line). Plain http only for loopback.
    #[arg(long, env = "VETTED_DOCKER_IO_REGISTRY", value_name = "URL")]
    pub docker_io_registry: Option<String>,
    /// Images copied at once by apply (the default measured in benches/mirror/:
    /// docs/performance.md).
    #[arg(long, env = "VETTED_COPY_PARALLELISM", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=32))]
    pub copy_parallelism: u64,
    /// Seconds one manifest, token or registry API request may take, body included; its retries
    /// stop after five times that. Blob transfers may take longer but must keep moving.
    #[arg(long, env = "VETTED_REGISTRY_TIMEOUT", value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub registry_timeout: u64,
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
    /// Count drift left alone (prune off: grants, members, teams, invites, repositories or
    /// hand-pushed tags the policy does not list) as pending too: exit 2 with --detailed-exitcode.
    #[arg(long)]
    pub drift: bool,
    /// Also show, per person, who gains or loses pull, push or admin, and who has access through
    /// drift left alone (text format; JSON and markdown always include it).
    #[arg(long)]
    pub access: bool,
    /// Also save the plan to this file, for `vetted apply FILE` and `vetted show FILE` (no secrets).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Acknowledge the plan's changes of these risk classes, which the policy's `[review]
    /// require_acknowledgement` otherwise refuses (exit 1): privilege, exposure, destruction.
    #[arg(long, value_name = "CLASSES", value_delimiter = ',', value_parser = ["privilege", "exposure", "destruction"])]
    pub acknowledge: Vec<String>,

    /// Plan only this resource and what it depends on (repeatable): `repositories.NAME`,
    /// `teams.NAME`, `members`, `members.USER`, `image_access`, `registry_access`, `settings`,
    /// or the address the plan prints (`repository ORG/NAME`). For emergencies and for sharding a
    /// large policy; not for routine use (docs/plan-and-apply.md, "Partial runs").
    #[arg(long = "target", value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Plan offline against this snapshot (`vetted snapshot --out FILE`) instead of the live
    /// organization: no Docker Hub or registry request, no credentials. Upstream digests come
    /// from vetted.lock. Such a plan can never be applied (`--out` is refused).
    #[arg(long, value_name = "FILE", conflicts_with = "target")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub markdown: MarkdownArgs,
    /// With `--format markdown`, the comment shows what changed upstream for every tag the plan
    /// moves (created time, OCI labels, platforms, sizes, layers, signature), read within these.
    #[command(flatten)]
    pub facts: FactsArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Fail when vetted.lock is missing or does not match the policy (CI).
    #[arg(long)]
    pub locked: bool,
    /// Where to write the snapshot (replaced when it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// How `--format markdown` is cut to size.
#[derive(Debug, Args)]
pub struct MarkdownArgs {
    /// Largest markdown output in characters: 65536 fits a GitHub comment, 1048576 a job summary.
    /// A longer plan is cut row by row, keeping the summary and what needs attention, and says so.
    #[arg(long, value_name = "N", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1024..=16_777_216))]
    pub max_chars: u64,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved plan (`vetted plan --out FILE`).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub markdown: MarkdownArgs,
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
    /// Output format on stdout: text or markdown show the plan before applying; json prints only
    /// one report of what was done, failed and skipped, after applying (docs/apply-json.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(short = 'y', long, alias = "auto-approve")]
    pub yes: bool,
    /// Apply even when the mass-deletion guard refuses the plan.
    #[arg(long)]
    pub force: bool,
    /// Apply only this resource and what it depends on (repeatable; as `plan --target`). With a
    /// saved plan, the targets must be the ones it was made with (it applies as partial anyway).
    #[arg(long = "target", value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// A saved plan (`vetted plan --out FILE`): apply exactly its changes, after checking that the
    /// policy, vetted.lock and the live organization are as they were when it was made.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
}

/// Output format of a report (`vetted doctor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Output format of the report on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
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
    /// Also write, as markdown, what changed upstream for every tag that moved (created time, OCI
    /// labels, platforms, sizes, layers, signature): the update pull request's body. Empty when no
    /// tag moved.
    #[arg(long, value_name = "FILE", conflicts_with = "locked")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub facts: FactsArgs,
}

/// How much reading the facts of moved tags may cost (Docker Hub counts each platform manifest
/// read as a pull; HEADs and config blobs are free).
#[derive(Debug, Args)]
pub struct FactsArgs {
    /// The most moved tags whose facts are read per run; 0 reads none.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub facts_max_images: usize,
    /// Docker Hub pulls the facts never spend: no platform manifest is read once the pulls
    /// remaining are at or below N.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub facts_keep_pulls: u64,
}

impl FactsArgs {
    pub fn limits(&self) -> crate::mirror::facts::FactsLimits {
        crate::mirror::facts::FactsLimits {
            max_images: self.facts_max_images,
            keep_pulls: self.facts_keep_pulls,
        }
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub action: Option<SandboxCommand>,
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
    /// API requests allowed per window (--api-budget-window), as Docker Hub's API budget: announced
    /// in X-RateLimit-* and answered 429 with Retry-After once spent.
    #[arg(long, value_name = "N", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub api_budget: u64,
    /// The API budget's window in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub api_budget_window: u64,
    /// Do not start the registry (/usr/bin/docker-registry): serve the hub API only.
    #[arg(long)]
    pub no_registry: bool,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run a fault and latency proxy in front of a registry (or any HTTP upstream).
    #[command(
        after_help = "Example:\n  vetted sandbox proxy --upstream http://127.0.0.1:5000 --latency 20ms --fault-rate 0.1 --seed 7\n\nPrints its URL on stdout's first line when ready; use its host:port in image references.\nFaults: 503 with an HTML body, 429 with Retry-After: 1, connection reset, body cut short.\nStops on Ctrl-C and prints its counters on stderr."
    )]
    Proxy(ProxyArgs),
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Base URL of the upstream, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    pub upstream: String,
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Added to every request, e.g. 20ms or 1s.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub latency: std::time::Duration,
    /// Fraction of requests that get a fault (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Fault kinds to draw from, comma-separated: 503, 429, reset, cut.
    #[arg(long, value_delimiter = ',', default_value = "503,429,reset,cut")]
    pub faults: Vec<String>,
    /// Seed of the fault draws (same request sequence, same faults).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Emulate Docker Hub pull limits: N manifest GETs, then 429 TOOMANYREQUESTS.
    #[arg(long, value_name = "N")]
    pub pull_limit: Option<u64>,
}

/// `20ms`, `1s`, `1.5s` or a bare number of milliseconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "ms"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 20ms or 1s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        _ => return Err(format!("{s:?}: unit must be ms or s")),
    };
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{s:?}: must be between 0 and 1 hour"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}
