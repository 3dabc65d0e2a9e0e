//! `vetted validate`: load and check the policy offline. No network, no credentials.

use crate::cli::PolicyArgs;
use crate::error::{Error, Outcome};

pub fn run(args: &PolicyArgs) -> Result<Outcome, Error> {
    let policy = crate::policy::load(&args.policy)?;
    let d = &policy.desired;
    let teams = d.teams.as_ref().map_or(0, |t| t.len());
    let mirrors = d
        .repositories
        .values()
        .filter(|r| r.mirror.is_some())
        .count();
    super::status(&format!(
        "{}: valid (organization {}: {} team(s), {} repositor{} of which {} mirrored)",
        args.policy.display(),
        d.org,
        teams,
        d.repositories.len(),
        if d.repositories.len() == 1 {
            "y"
        } else {
            "ies"
        },
        mirrors
    ));
    Ok(Outcome::Ok)
}
