//! The policy: loads the TOML policy file, validates it offline (every error of one load, each with
//! file:line:col and the offending line), and builds the desired [`OrgState`] plus the run settings.
//!
//! Submodules: `diagnostics` (error collection and rendering), `rules` (name and reference syntax),
//! `walk` (the hand-written walk over the span-carrying `toml_edit` document), `schema` (the
//! description of every section and key, which the walk checks keys against and `vetted schema`
//! prints as a JSON Schema), `include` (reading the
//! files a policy names, confined to the policy's directory and bounded in size).

mod diagnostics;
pub mod export;
mod include;
pub mod lock;
pub mod rules;
pub mod schema;
mod walk;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use diagnostics::{Diagnostic, Diagnostics};

use crate::model::OrgState;

/// A loaded, valid policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The policy file, as given.
    pub path: PathBuf,
    /// The organization as the policy wants it; `None` fields are unmanaged.
    pub desired: OrgState,
    pub settings: PolicySettings,
    /// `[review]`: which risky changes `vetted plan` refuses until acknowledged.
    pub review: Review,
}

/// `[review]` of the policy (docs/policy.md): the risk classes (src/plan/risk.rs) that make
/// `vetted plan` fail until acknowledged, and the pull-request label that acknowledges them.
/// `apply` is not gated: it applies what was merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Review {
    pub require_acknowledgement: std::collections::BTreeSet<crate::model::Risk>,
    /// Checked by the GitHub action, which then passes `--acknowledge`.
    pub ack_label: Option<String>,
}

/// `[settings]` (defined with the model: the plan reads it).
pub use crate::model::PolicySettings;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.render(false))]
    Invalid(Diagnostics),
}

/// Reads and validates the policy at `path`, including README files it references.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let source = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &source)
}

/// Validates `source` as the policy at `path`. `path` names the file in messages and anchors relative
/// `full_description_file` paths (which are read).
pub fn parse(path: &Path, source: &str) -> Result<Policy, PolicyError> {
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    match walk::walk(source, base) {
        Ok((desired, settings, review)) => Ok(Policy {
            path: path.to_path_buf(),
            desired,
            settings,
            review,
        }),
        Err(items) => Err(PolicyError::Invalid(Diagnostics::new(
            path.display().to_string(),
            source.to_string(),
            items,
        ))),
    }
}
