//! `vetted`: govern a Docker Hub organization as code.
//!
//! Module tree (see DESIGN.md): `cli` parses, `settings` resolves flags/env once (before any work; [`run`] hands the result to the command), `commands` holds one
//! file per subcommand, `policy` loads and validates the TOML policy into a desired
//! [`model::OrgState`], `hub` reads the live state and performs writes, `plan` diffs the two into pure
//! data, `mirror` resolves mirrored images into the desired and live states (their tags), `render` turns a plan into
//! text/JSON/markdown, `apply` executes a plan, `registry` is the OCI copy engine, `snapshot` writes
//! and reads snapshots of the live state (offline plans), `untrusted` escapes text vetted did not
//! write (a leaf every layer that words a message uses). The modules import each other without a
//! circle (`scripts/module-arrows.sh --check`). The local Docker Hub stand-in is its own crate,
//! `vetted-sandbox` (crates/vetted-sandbox), which this crate uses only for `vetted sandbox`
//! (default feature `sandbox`) and in its tests.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod doctor;
pub mod error;
pub mod hub;
pub mod mirror;
pub mod model;
pub mod plan;
pub mod policy;
pub mod registry;
pub mod render;
pub mod settings;
pub mod snapshot;
pub mod transport;
pub mod untrusted;
pub mod verify;

use std::process::ExitCode;

use crate::error::Error;
use crate::policy::PolicyError;

/// Runs the CLI: parses the arguments, resolves the settings once ([`settings::resolve`]), runs the
/// command and maps the result to the exit code (README, "Exit codes"). Errors are printed here,
/// once, to stderr.
pub fn run() -> ExitCode {
    // Usage errors exit 1, not clap's 2: with `plan --detailed-exitcode`, 2 means "changes pending".
    let cli = match <cli::Cli as clap::Parser>::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let settings = settings::resolve(&cli);
    let output = settings.output;
    if output.verbose {
        init_tracing(output.color_stderr);
    }
    match commands::run(cli, &settings) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            let text = match &err {
                Error::Policy(PolicyError::Invalid(diags)) => diags.render(output.color_stderr),
                // Remote text inside the message was escaped where it was put in; this keeps
                // vetted's own line breaks and escapes anything else that could reach a terminal
                // or a log (escape sequences, carriage returns, bidi overrides).
                other => untrusted::untrusted_lines(&format!("error: {other}")).into_owned(),
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
