//! `vetted plan`: show what apply would change. Read-only against Docker Hub. With `--out`, also
//! save the plan and its fingerprints for `vetted apply FILE` (src/plan/saved.rs). When the policy's
//! `[review] require_acknowledgement` lists a risk class the plan holds and `--acknowledge` does not
//! name, the plan is shown and saved, then refused (exit 1); `apply` is not gated. With
//! `--snapshot FILE`, plans offline against a snapshot instead (src/commands/snapshot.rs).

use std::collections::BTreeSet;

use crate::cli::PlanArgs;
use crate::error::{Error, Outcome};
use crate::model::Risk;
use crate::plan::risk::unacknowledged;
use crate::plan::saved::SavedPlan;
use crate::settings::Settings;

pub async fn run(args: &PlanArgs, settings: &Settings) -> Result<Outcome, Error> {
    // Offline, against a snapshot (src/commands/snapshot.rs).
    if let Some(snapshot) = &args.snapshot {
        return super::snapshot::plan(args, settings, snapshot);
    }
    let output = settings.output;
    let planned = super::load_and_plan(
        settings,
        &args.policy.policy,
        args.locked,
        &args.target,
        super::Estimate::Read,
    )
    .await?;
    let plan = &planned.plan;
    // Docker Hub pulls the apply of this plan spends: it makes the plan again first, reading the
    // signatures again and, unless it applies this plan saved (whose estimates it reuses), the
    // source manifests for the estimates, which its copies then do not read again (the client
    // keeps what it read by digest); then it copies.
    let apply_pulls = planned
        .copy_pulls
        .saturating_add(planned.verdicts.docker_hub_reads);
    let mut markdown = super::markdown_options(&args.markdown);
    if args.format == crate::cli::Format::Markdown {
        // The facts never spend the pulls that apply needs.
        let mut limits = args.facts.limits();
        limits.keep_pulls = limits.keep_pulls.max(apply_pulls);
        markdown
            .sections
            .extend(upstream_facts(&planned, &limits).await);
    }
    let open = super::print_out(&super::render_plan_with(
        plan,
        args.format,
        output,
        &markdown,
    ))?;
    // The cost of applying it, against what remains: the last line, on stderr (the budgets change
    // from one run to the next; the plan on stdout stays deterministic, its documents as
    // documented).
    let estimate = crate::plan::estimate::Estimate::of(
        plan,
        apply_pulls,
        planned
            .client
            .rate_limit()
            .map(|r| crate::plan::estimate::HubBudget {
                limit: r.limit,
                remaining: r.remaining,
            }),
        // After the facts' reads, if any.
        planned
            .registry
            .as_ref()
            .and_then(|r| r.ratelimit_remaining())
            .or(planned.pulls_remaining),
    );
    if open && args.access && args.format == crate::cli::Format::Text {
        super::print_out(&crate::render::access_text(&plan.access, &plan.org))?;
        super::print_out(&crate::render::drift_access_text(
            &plan.drift.access,
            &plan.org,
        ))?;
    }
    if plan.is_partial() && args.format == crate::cli::Format::Json {
        // The text and markdown views say so themselves.
        super::status(&format!(
            "warning: {} (--target {})",
            crate::plan::targets::PARTIAL_WARNING,
            plan.targets.join(", ")
        ));
    }
    let violations = planned.violations();
    for v in &violations {
        super::status(&format!("warning: apply would refuse this plan: {v}"));
    }
    if let Some(out) = &args.out {
        let fingerprints =
            super::saved::fingerprints(&planned.policy, &planned.live, &plan.targets)?;
        let saved = SavedPlan::new(
            plan.clone(),
            &planned.hub_url,
            &planned.policy.path,
            fingerprints,
        );
        super::saved::write(&saved, out)?;
        super::status(&format!(
            "Saved the plan to {0}; apply exactly this plan with `vetted apply {0}`.",
            out.display()
        ));
    }
    super::status(&estimate.to_string());
    // `[review] require_acknowledgement`: the plan is shown (and saved) first, then refused.
    let acknowledged: BTreeSet<Risk> = args
        .acknowledge
        .iter()
        .filter_map(|a| Risk::from_name(a))
        .collect();
    let review = &planned.policy.review;
    let open = unacknowledged(
        &plan.changes,
        &review.require_acknowledgement,
        &acknowledged,
    );
    if !open.is_empty() {
        return Err(Error::Refused(needs_acknowledgement(
            &open,
            review.ack_label.as_deref(),
        )));
    }
    // Drift left alone is pending only when asked (`--drift`, the drift workflow): otherwise an
    // organization with unmanaged extras would never plan clean.
    let pending = !plan.is_empty() || (args.drift && !plan.drift.is_empty());
    if args.detailed_exitcode && pending {
        Ok(Outcome::ChangesPending)
    } else {
        Ok(Outcome::Ok)
    }
}

/// The comment's "What changed upstream" section: the image facts (src/mirror/facts.rs) of every
/// mirrored tag the plan moves, old -> new, with the signature gate's verdict the plan read. Read
/// for the markdown comment only, within `--facts-max-images` and `--facts-keep-pulls`; display
/// only (a saved plan does not hold them, `show` leaves the section out). `None`: no tag moves.
async fn upstream_facts(
    planned: &super::Planned,
    limits: &crate::mirror::facts::FactsLimits,
) -> Option<crate::render::markdown::Section> {
    let registry = planned.registry.as_ref()?;
    let moved = crate::mirror::facts::moved_in_plan(&planned.plan, &|repository, source| {
        planned.verdicts.signature(repository, source)
    });
    if moved.is_empty() {
        return None;
    }
    super::status(&format!(
        "Reading what changed upstream for {} moved tag(s) ...",
        moved.len()
    ));
    let facts = crate::mirror::facts::read(registry, &moved, limits).await;
    Some(crate::render::markdown::Section {
        title: format!("{} ({} tag(s))", crate::render::facts::TITLE, facts.len()),
        body: crate::render::facts::markdown(&facts),
    })
}

/// Why the plan is refused under `[review] require_acknowledgement`, and how to acknowledge it.
fn needs_acknowledgement(open: &[(Risk, usize)], label: Option<&str>) -> String {
    let what: Vec<String> = open.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let classes: Vec<&str> = open.iter().map(|(r, _)| r.as_str()).collect();
    let label = match label {
        Some(l) => format!(
            ", or on a pull request the label `{}` (the vetted action checks it)",
            crate::render::untrusted(l)
        ),
        None => String::new(),
    };
    format!(
        "this plan needs acknowledgement: it holds {} change(s) (listed under \"Needs attention\"), a class the policy's [review] require_acknowledgement lists. After review, acknowledge with `vetted plan --acknowledge {}`{label}. apply is not gated.",
        what.join(" and "),
        classes.join(",")
    )
}
