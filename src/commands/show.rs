//! `vetted show PLAN`: render a saved plan (`vetted plan --out`) offline, in any format. Reads the
//! file only: no network, no credentials.

use crate::cli::ShowArgs;
use crate::error::{Error, Outcome};
use crate::settings::Settings;

pub fn run(args: &ShowArgs, settings: &Settings) -> Result<Outcome, Error> {
    let output = settings.output;
    let saved = super::saved::read(&args.plan)?;
    super::status(&format!(
        "Saved plan for organization {} (policy {}, {}), written by vetted {}.",
        saved.org,
        saved.policy.display(),
        saved.hub_url,
        saved.vetted_version
    ));
    super::print_out(&super::render_plan_with(
        &saved.plan,
        args.format,
        output,
        &super::markdown_options(&args.markdown),
    ))?;
    Ok(Outcome::Ok)
}
