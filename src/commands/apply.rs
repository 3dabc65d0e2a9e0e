//! `vetted apply`: compute the plan, show it, pass the safety checks, confirm, execute, report.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::HumanBytes;

use crate::apply::{ApplyOptions, ChangeResult, CopyTotals, OrgWriter, Status};
use crate::cli::ApplyArgs;
use crate::error::{Error, Outcome};
use crate::render::progress::CopyProgress;
use crate::settings::Output;

pub async fn run(args: &ApplyArgs, output: Output) -> Result<Outcome, Error> {
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
    let _ = std::io::stdout().flush();

    if plan.is_empty() {
        return Ok(Outcome::Ok);
    }
    let violations = planned.violations();
    if !violations.is_empty() {
        let list: Vec<String> = violations.iter().map(|v| format!("  - {v}")).collect();
        if args.force {
            super::status(&format!(
                "warning: --force overrides the safety checks:\n{}",
                list.join("\n")
            ));
        } else {
            return Err(Error::Refused(format!(
                "the plan was refused; nothing was changed:\n{}\nReview the plan; pass --force to apply it anyway.",
                list.join("\n")
            )));
        }
    }
    // Docker Hub's pull limit: refuse before changing anything rather than fail half-way.
    let pulls = crate::mirror::docker_hub_pulls(&plan.changes);
    if let Some(remaining) = planned.pulls_remaining
        && pulls > remaining
    {
        return Err(Error::Refused(format!(
            "the image copies need about {pulls} Docker Hub pull(s) but only {remaining} remain in the current window; nothing was changed. Wait for the window to reset, log in with an account that has a higher limit, or mirror fewer tags at once."
        )));
    }
    if !args.yes {
        confirm(&planned.policy.desired.org)?;
    }

    let total = plan.changes.len();
    super::status(&format!("Applying {total} change(s) to {} ...", plan.org));
    let options = ApplyOptions {
        parallelism: usize::try_from(args.hub.parallelism).unwrap_or(8),
        copy_parallelism: usize::try_from(args.registry.copy_parallelism).unwrap_or(4),
    };
    let progress = CopyProgress::new(std::io::stderr().is_terminal());
    let writer = OrgWriter {
        hub: &planned.client,
        registry: planned.registry.as_ref(),
        progress: &progress,
        totals: Mutex::new(CopyTotals::default()),
        ledger: Default::default(),
    };
    let started = Instant::now();
    let report = crate::apply::apply(&writer, plan, options, |r| {
        progress.println(&progress_line(r));
    })
    .await;
    let totals = writer.totals.lock().map(|t| t.clone()).unwrap_or_default();
    if totals.images > 0 {
        super::status(&format!(
            "Copied {} image(s): {} blob(s) copied, {} mounted, {} already present; {} in {:.1}s.",
            totals.images,
            totals.blobs_copied,
            totals.blobs_mounted,
            totals.blobs_skipped,
            HumanBytes(totals.bytes),
            started.elapsed().as_secs_f64()
        ));
    }
    let done = report.done();
    let failed = report.failed();
    if failed == 0 {
        super::status(&format!(
            "Apply complete! {} added, {} changed, {} destroyed.",
            done.add, done.change, done.destroy
        ));
        Ok(Outcome::Ok)
    } else {
        super::status(&format!(
            "Apply incomplete: {} added, {} changed, {} destroyed; {failed} failed or skipped:",
            done.add, done.change, done.destroy
        ));
        for r in report.results.iter().filter(|r| r.status != Status::Done) {
            super::status(&format!("  {}", progress_line(r)));
        }
        Err(Error::ApplyFailed { failed, total })
    }
}

fn progress_line(r: &ChangeResult) -> String {
    let marker = r.action.marker();
    match &r.status {
        Status::Done => format!("{marker} {}: done", r.address),
        Status::Failed(e) => format!("{marker} {}: FAILED: {e}", r.address),
        Status::Skipped(why) => format!("{marker} {}: skipped: {why}", r.address),
    }
}

/// Terraform's prompt: only "yes" proceeds. Without a terminal there is nobody to ask.
fn confirm(org: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "refusing to apply without confirmation: stdin is not a terminal; pass --yes".into(),
        ));
    }
    eprint!(
        "\nDo you want to perform these actions in organization {org}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            context: "reading the confirmation".into(),
            source,
        })?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Refused(
            "apply cancelled; nothing was changed".into(),
        ))
    }
}
