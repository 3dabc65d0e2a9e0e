//! `vetted snapshot --out FILE`: reads the live organization as `plan` does (the policy's scope,
//! the mirrored tags' digests) and writes it as a snapshot (src/snapshot/). Also `vetted plan
//! --snapshot FILE` ([`plan`]): the plan against a snapshot, offline, which can never be saved for
//! apply.

use std::path::Path;

use crate::cli::{PlanArgs, SnapshotArgs};
use crate::error::{Error, Outcome};
use crate::plan::SnapshotBasis;
use crate::plan::diff::DiffOptions;
use crate::plan::targets::Targets;
use crate::settings::Settings;
use crate::snapshot::{Snapshot, SnapshotError, SnapshotFile};

pub async fn run(args: &SnapshotArgs, settings: &Settings) -> Result<Outcome, Error> {
    let taken_at = crate::snapshot::now_rfc3339();
    // The reads of a plan; the copy estimates (manifest GETs) are not needed.
    let planned = super::load_and_plan(
        settings,
        &args.policy.policy,
        args.locked,
        &[],
        super::Estimate::Skip,
    )
    .await?;
    let file = SnapshotFile::new(&planned.live, &planned.desired, taken_at);
    file.write(&args.out)?;
    super::status(&format!(
        "Saved a snapshot of {} to {} ({}, {} repositories); plan against it offline with `vetted plan --snapshot {}`.",
        file.org,
        args.out.display(),
        file.fingerprint,
        file.state.repositories.len(),
        args.out.display()
    ));
    Ok(Outcome::Ok)
}

/// `vetted plan --snapshot FILE`: loads the policy and its lock, reads and checks the snapshot
/// (its fingerprint, its organization, that it holds what this policy needs read), resolves the
/// mirrored tags from the pins and the lock only, and renders the plan, which says it is based on
/// the snapshot and how old that is. Makes no request: no Docker Hub, no registry, no credentials.
pub fn plan(args: &PlanArgs, settings: &Settings, path: &Path) -> Result<Outcome, Error> {
    if args.out.is_some() {
        return Err(Error::Usage(
            "a plan from a snapshot cannot be saved for apply (--out): apply always reads the live organization; drop --out, or plan against the live organization to save a plan".into(),
        ));
    }
    let policy = crate::policy::load(&args.policy.policy)?;
    let lock_state = super::lock_state(&policy, args.locked, &Targets::default())?;
    let snapshot = crate::snapshot::read(path)?;
    let shown = path.display().to_string();
    snapshot.check_org(&shown, &policy.desired.org)?;
    let missing = crate::snapshot::missing(&snapshot.live, &policy.desired);
    if !missing.is_empty() {
        return Err(SnapshotError::NotCovered {
            path: shown,
            list: missing
                .iter()
                .map(|m| format!("  - {m}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
        .into());
    }
    let Snapshot {
        taken_at,
        taken_at_unix,
        vetted_version,
        fingerprint,
        live,
        filtered,
        ..
    } = snapshot;
    let mut desired = policy.desired.clone();
    let mut notes = crate::mirror::offline::resolve(&policy, &lock_state, &filtered, &mut desired)
        .map_err(Error::Lock)?;
    let mut plan = crate::plan::diff(
        &desired,
        &live,
        &DiffOptions {
            prune: policy.settings.prune,
            ..DiffOptions::default()
        },
    );
    notes.extend(crate::plan::safety::notes(
        &plan,
        &live,
        policy.settings.delete_threshold,
    ));
    plan.notes.extend(notes);
    plan.notes.sort();
    plan.notes.dedup();
    let age = crate::snapshot::now_unix().saturating_sub(taken_at_unix);
    plan.snapshot = Some(SnapshotBasis {
        taken_at,
        age_seconds: u64::try_from(age).unwrap_or(0),
        fingerprint,
        vetted_version,
    });
    let open = super::print_out(&super::render_plan_with(
        &plan,
        args.format,
        settings.output,
        &super::markdown_options(&args.markdown),
    ))?;
    if open && args.access && args.format == crate::cli::Format::Text {
        super::print_out(&crate::render::access_text(&plan.access, &plan.org))?;
        super::print_out(&crate::render::drift_access_text(
            &plan.drift.access,
            &plan.org,
        ))?;
    }
    for v in crate::plan::safety::check(&plan, &live, policy.settings.delete_threshold) {
        super::status(&format!("warning: apply would refuse this plan: {v}"));
    }
    if let Some(basis) = &plan.snapshot {
        super::status(&format!(
            "Offline plan {}: no request was made to Docker Hub or any registry.",
            basis.describe(&plan.org)
        ));
    }
    let pending = !plan.is_empty() || (args.drift && !plan.drift.is_empty());
    if args.detailed_exitcode && pending {
        Ok(Outcome::ChangesPending)
    } else {
        Ok(Outcome::Ok)
    }
}
