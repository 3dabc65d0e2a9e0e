//! Error kinds and what a successful command reports. The exit codes are documented in the README
//! and are few on purpose: 0 ok / no changes, 1 any error (every kind below; the message says
//! which), 2 changes pending (`plan --detailed-exitcode`). [`crate::run`] prints an error once,
//! to stderr, and exits 1.

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
    /// A snapshot (`vetted snapshot`, `plan --snapshot`) could not be read, written or used.
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
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
    /// The process exit code of an error: every error kind exits 1 (the message says which kind);
    /// 2 is kept for "changes pending" (`plan --detailed-exitcode`).
    pub fn exit_code(&self) -> u8 {
        1
    }
}

impl Outcome {
    /// The process exit code: 0, 2 (changes pending) or 1 (a report said what failed).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::ChangesPending => 2,
            Outcome::Failed => 1,
        }
    }
}
