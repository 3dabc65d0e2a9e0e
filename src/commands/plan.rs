//! `vetted plan`: show what apply would change. Read-only against Docker Hub.

use crate::cli::PlanArgs;
use crate::error::{Error, Outcome};
use crate::settings::Output;

pub async fn run(args: &PlanArgs, output: Output) -> Result<Outcome, Error> {
    let planned = super::load_and_plan(
        &args.policy,
        &args.hub,
        &args.registry,
        args.locked,
        output.verbose,
    )
    .await?;
    let plan = &planned.plan;
    print!("{}", super::render_plan(plan, args.format, output));
    if args.access && args.format == crate::cli::Format::Text {
        print!("{}", crate::render::access_text(&plan.access, &plan.org));
    }
    let violations = planned.violations();
    for v in &violations {
        super::status(&format!("warning: apply would refuse this plan: {v}"));
    }
    if args.detailed_exitcode && !plan.is_empty() {
        Ok(Outcome::ChangesPending)
    } else {
        Ok(Outcome::Ok)
    }
}
