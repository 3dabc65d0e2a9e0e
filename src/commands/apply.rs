//! `vetted apply`: compute the plan (or read a saved one, check it is still current and that its
//! inputs give exactly its changes), show it, pass the safety checks, confirm, execute, report.
//! With `--format json` stdout holds only the apply report (docs/apply-json.md), printed however
//! apply ends; the plan and progress go to stderr as text.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::HumanBytes;

use crate::apply::{ApplyOptions, ChangeResult, CopyTotals, OrgWriter, Status};
use crate::cli::{ApplyArgs, Format};
use crate::error::{Error, Outcome};
use crate::plan::Plan;
use crate::plan::saved::{first_difference, recorded_url};
use crate::render::progress::CopyProgress;
use crate::settings::{Output, Settings};

pub async fn run(args: &ApplyArgs, settings: &Settings) -> Result<Outcome, Error> {
    let mut record = Record::default();
    let result = apply(args, settings, &mut record).await;
    if args.format == Format::Json {
        let printed = super::print_out(&format!("{}\n", record.json(args, &result)));
        if let (Ok(_), Err(e)) = (&result, printed) {
            return Err(e);
        }
    }
    result
}

/// What the apply report (`--format json`) is made of, gathered as apply goes.
#[derive(Default)]
struct Record {
    /// The plan once computed.
    plan: Option<Plan>,
    /// What apply did, once it ran.
    report: Option<crate::apply::ApplyReport>,
    totals: CopyTotals,
}

impl Record {
    fn json(&self, args: &ApplyArgs, result: &Result<Outcome, Error>) -> String {
        use crate::render::json::{ApplyEnd, ApplyFacts, apply_json};
        let message;
        let end = match result {
            Ok(_) => ApplyEnd::Ok,
            Err(Error::ApplyFailed { .. }) => ApplyEnd::Incomplete,
            Err(Error::Refused(m)) => ApplyEnd::Refused(m),
            Err(e) => {
                message = e.to_string();
                ApplyEnd::Error(&message)
            }
        };
        apply_json(&ApplyFacts {
            end,
            exit_code: match result {
                Ok(o) => o.exit_code(),
                Err(e) => e.exit_code(),
            },
            plan: self.plan.as_ref(),
            file: args.plan.as_deref(),
            report: self.report.as_ref(),
            copy: &self.totals,
        })
    }
}

async fn apply(
    args: &ApplyArgs,
    settings: &Settings,
    record: &mut Record,
) -> Result<Outcome, Error> {
    if let Some(path) = &args.plan {
        return run_saved(args, path, settings, record).await;
    }
    let planned = super::load_and_plan(
        settings,
        &args.policy.policy,
        args.locked,
        &args.target,
        super::Estimate::Read,
    )
    .await?;
    execute(args, settings, record, &planned).await
}

/// `vetted apply PLAN`: re-reads what the saved plan was computed from (the policy, vetted.lock, the
/// live organization with the same scope, the organization's mirrored tags), refuses it as stale
/// when a fingerprint moved, recomputes the plan from those inputs exactly as `plan` does, and
/// applies that recomputed plan only when its changes equal the saved ones
/// ([`first_difference`]); otherwise refuses, changing nothing. The file's `changes` are never
/// executed as such: a plan edited after review (fingerprints kept) is refused.
async fn run_saved(
    args: &ApplyArgs,
    path: &Path,
    settings: &Settings,
    record: &mut Record,
) -> Result<Outcome, Error> {
    let saved = super::saved::read(path)?;
    // Everything below that comes from the file is shown escaped: the file is input, not ours.
    let shown = |s: &str| crate::render::untrusted(s).into_owned();
    // The policy is the one this command names (--policy, or the default), never the one the file
    // names: the fingerprints are plain hashes, so a forged file could otherwise point apply at
    // another policy in the checkout and have its own changes "recomputed" from that.
    let policy_path = &args.policy.policy;
    if *policy_path != saved.policy {
        return Err(Error::Refused(format!(
            "{} was made from the policy {}, but this apply reads {}; nothing was changed. Pass --policy {} if that is the policy to apply, or run `vetted plan --out` with {}",
            path.display(),
            shown(&saved.policy.display().to_string()),
            policy_path.display(),
            shown(&saved.policy.display().to_string()),
            policy_path.display()
        )));
    }
    let hub_url = recorded_url(&settings.hub()?.base_url);
    if hub_url != saved.hub_url {
        return Err(Error::Refused(format!(
            "{} was made against {}, but this apply talks to {hub_url}; nothing was changed. Point --hub-url (VETTED_HUB_URL) at it or run `vetted plan --out` again",
            path.display(),
            shown(&saved.hub_url),
        )));
    }
    // A saved partial plan applies only as partial, with the targets it was made with.
    let targets = &saved.plan.targets;
    if !args.target.is_empty() {
        let given = crate::plan::targets::Targets::parse(&args.target, &saved.org)
            .map_err(|e| Error::Usage(e.to_string()))?
            .names();
        if given != *targets {
            let list = |t: &[String]| {
                if t.is_empty() {
                    "no target (the whole policy)".to_string()
                } else {
                    shown(&t.join(", "))
                }
            };
            return Err(Error::Refused(format!(
                "{} was made with {}, but this apply names --target {}; nothing was changed. Apply it without --target (it applies as it was planned), or run `vetted plan --out` with these targets",
                path.display(),
                list(targets),
                list(&given)
            )));
        }
    }
    super::status(&format!(
        "Checking that {} is still current ...",
        path.display()
    ));
    let planned = super::load_and_plan(
        settings,
        policy_path,
        args.locked,
        targets,
        super::Estimate::From(&saved.plan),
    )
    .await?;
    let mut stale = Vec::new();
    if planned.policy.desired.org != saved.org {
        stale.push(format!(
            "the policy now names organization {} instead of {}",
            planned.policy.desired.org,
            shown(&saved.org)
        ));
    }
    let now = super::saved::fingerprints(&planned.policy, &planned.live, &planned.plan.targets)?;
    let lock_path = crate::policy::lock::path_for(&planned.policy.path);
    stale.extend(
        saved
            .fingerprints
            .changes_since(&now, &planned.policy.path, &lock_path),
    );
    if !stale.is_empty() {
        return Err(Error::Refused(format!(
            "the plan is stale: {}; nothing was changed; run `vetted plan` again",
            stale.join("; ")
        )));
    }
    if let Some(difference) = first_difference(&saved.plan, &planned.plan, &shown) {
        return Err(Error::Refused(format!(
            "the plan does not match what its inputs give: {difference}; nothing was changed"
        )));
    }
    super::status(&format!(
        "{} is current: the policy, {} and the organization are as they were when it was made, and they give exactly its changes.",
        path.display(),
        lock_path.display()
    ));
    execute(args, settings, record, &planned).await
}

/// Shows the plan, runs the safety checks and the confirmation, applies, reports.
async fn execute(
    args: &ApplyArgs,
    settings: &Settings,
    record: &mut Record,
    ready: &super::Planned,
) -> Result<Outcome, Error> {
    let plan = &ready.plan;
    record.plan = Some(plan.clone());
    if args.format == Format::Json {
        // stdout is the report's: the plan goes to stderr, as plain text.
        let plain = Output {
            color_stdout: false,
            ..settings.output
        };
        super::status(super::render_plan(plan, Format::Text, plain).trim_end());
    } else {
        // A reader that went away does not stop an apply: the plan shown is information.
        super::print_out(&super::render_plan(plan, args.format, settings.output))?;
    }

    if plan.is_empty() {
        return Ok(Outcome::Ok);
    }
    let violations = super::violations(plan, &ready.live, &ready.policy, &ready.client);
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
    // The copies' pulls only: the plan's reads (estimates, signatures) are already spent, and a
    // manifest the estimates read is not read again.
    let pulls = match &ready.registry {
        Some(registry) => crate::mirror::docker_hub_pulls_unread(&plan.changes, registry),
        None => ready.copy_pulls,
    };
    if let Some(remaining) = ready.pulls_remaining
        && pulls > remaining
    {
        return Err(Error::Refused(format!(
            "the image copies need about {pulls} Docker Hub pull(s) but only {remaining} remain in the current window; nothing was changed. Wait for the window to reset, log in with an account that has a higher limit, or mirror fewer tags at once."
        )));
    }
    if !args.yes {
        confirm(&plan.org)?;
    }

    let total = plan.changes.len();
    super::status(&format!("Applying {total} change(s) to {} ...", plan.org));
    let options = ApplyOptions {
        parallelism: settings.hub()?.concurrency,
        copy_parallelism: settings.limits.copy_parallelism,
    };
    let progress = CopyProgress::new(std::io::stderr().is_terminal());
    let writer = OrgWriter {
        hub: &ready.client,
        registry: ready.registry.as_ref(),
        progress: &progress,
        totals: Mutex::new(CopyTotals::default()),
        ledger: Default::default(),
        verdicts: &ready.verdicts,
        created: Mutex::default(),
    };
    let started = Instant::now();
    let report = crate::apply::apply(&writer, plan, options, |r| {
        progress.println(&progress_line(r));
    })
    .await;
    let totals = writer.totals.lock().map(|t| t.clone()).unwrap_or_default();
    record.totals = totals.clone();
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
    record.report = Some(report.clone());
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

/// One change's outcome. The error may quote a registry or Docker Hub: it cannot start a line of
/// its own or reach the terminal raw ([`crate::render::untrusted_lines`]).
fn progress_line(r: &ChangeResult) -> String {
    use crate::render::{untrusted, untrusted_lines};
    let marker = r.action.marker();
    let address = untrusted(&r.address);
    match &r.status {
        Status::Done => format!("{marker} {address}: done"),
        Status::Failed(e) => format!("{marker} {address}: FAILED: {}", untrusted_lines(e)),
        Status::Skipped(why) => format!("{marker} {address}: skipped: {}", untrusted_lines(why)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    #[test]
    fn a_failed_line_cannot_be_forged_by_the_error_it_quotes() {
        let r = ChangeResult {
            address: "acme/app:1.0\u{1b}[2J".into(),
            action: Action::Create,
            status: Status::Failed(format!(
                "PUT /v2/x: HTTP 400: {}\n  hint: vetted's own second line\u{202e}",
                crate::render::untrusted(
                    "denied\n```\n## No changes, approve\n@admin\n::warning::x"
                )
            )),
        };
        let line = progress_line(&r);
        assert_eq!(
            line,
            "+ acme/app:1.0\\u{1b}[2J: FAILED: PUT /v2/x: HTTP 400: denied\\n```\\n## No changes, approve\\n@admin\\n::warning::x\n  hint: vetted's own second line\\u{202e}"
        );
    }
}
