//! Error kinds and their exit codes, in one place: 0 ok / no changes, 1 error, 2 changes pending
//! (`plan --detailed-exitcode`). Everything that fails ends up here and is printed once to stderr.

use std::process::ExitCode;

use crate::hub::HubError;
use crate::policy::PolicyError;

/// What a successful command reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 2: `plan --detailed-exitcode` found changes.
    ChangesPending,
    /// Exit 1 without an error message: a report (`vetted doctor`) already said what failed.
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong flags or environment.
    #[error("{0}")]
    Usage(String),
    /// The policy failed to load or validate; rendered with source snippets.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Docker Hub refused or failed a request.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A safety check refused the plan; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// Apply ran and some changes failed; the report was already printed.
    #[error("{failed} of {total} change(s) failed; run `vetted plan` to see what is left")]
    ApplyFailed { failed: usize, total: usize },
    /// vetted.lock is missing, invalid, out of date (`--locked`) or could not be resolved.
    #[error("{0}")]
    Lock(String),
    /// A registry could not be read (resolving mirrored images).
    #[error("{0}")]
    Registry(String),
    /// A saved plan file could not be read, written or understood.
    #[error(transparent)]
    SavedPlan(#[from] crate::plan::saved::SavedPlanError),
    /// The sandbox could not start or stopped with an error.
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        1
    }
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::ChangesPending => 2,
            Outcome::Failed => 1,
        }
    }
}

/// Runs the CLI and maps the result to an exit code. Errors are printed here, once.
pub fn main_exit() -> ExitCode {
    // Usage errors exit 1, not clap's 2: with `plan --detailed-exitcode`, 2 means "changes pending".
    let cli = match <crate::cli::Cli as clap::Parser>::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let output = crate::settings::Output::resolve(&cli.global);
    if cli.global.verbose {
        init_tracing(output.color_stderr);
    }
    match crate::commands::run(cli, output) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            let text = match &err {
                Error::Policy(PolicyError::Invalid(diags)) => diags.render(output.color_stderr),
                // Remote text inside the message was escaped where it was put in; this keeps
                // vetted's own line breaks and escapes anything else that could reach a terminal
                // or a log (escape sequences, carriage returns, bidi overrides).
                other => crate::render::untrusted_lines(&format!("error: {other}")).into_owned(),
            };
            eprintln!("{}", text.trim_end());
            ExitCode::from(err.exit_code())
        }
    }
}

/// `-v`: vetted's own events (each request retried, and why) on stderr, at the level of `RUST_LOG`
/// when set, else debug for vetted and warnings for the libraries below it. No event vetted emits
/// carries a header, a body or a secret: they name the method, the URL (the hub's path only), the
/// attempt, the wait and the error.
fn init_tracing(color: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,vetted=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .try_init();
}
