//! Executes a plan: the only code path that writes to Docker Hub. Changes run in dependency order
//! (settings, roles, teams, invites, team members, repositories, grants, image copies; then removals
//! last, in reverse), each phase with bounded concurrency; a repository's grants and image copies
//! start as soon as that repository's own creation is done (one pipeline per repository, not a
//! phase that waits for every repository); image copies go through the registry copy engine
//! ([`OrgWriter`]), at most `copy_parallelism` at once. A
//! failure skips only the changes that depend on it (a grant on a repository whose creation failed),
//! every other change still runs, and the report says what was done, what failed and what was
//! skipped. A re-run converges because the next plan is computed from the live state again.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

use futures::StreamExt;

use crate::model::Username;
use crate::plan::{Action, Change, Plan, Summary};

/// Something that can perform one change: [`OrgWriter`] in production (hub changes through Docker
/// Hub, image copies through the registry copy engine); a recorder in unit tests.
pub trait Executor {
    type Error: fmt::Display;
    fn execute(
        &self,
        org: &str,
        change: &Change,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>>;
}

/// What the image copies of an apply did, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyTotals {
    pub images: u64,
    pub blobs_copied: u64,
    pub blobs_mounted: u64,
    pub blobs_skipped: u64,
    pub bytes: u64,
}

/// The production executor: hub API changes through Docker Hub, image copies through the registry
/// copy engine.
pub struct OrgWriter<'a> {
    pub hub: &'a crate::hub::HubClient,
    /// `None` when the plan copies no image.
    pub registry: Option<&'a crate::registry::client::RegistryClient>,
    pub progress: &'a dyn crate::registry::copy::Progress,
    pub totals: Mutex<CopyTotals>,
    /// Shared by every image copy of the apply: a blob several target repositories need is
    /// uploaded once, then mounted from the repository that has it.
    pub ledger: std::sync::Arc<crate::registry::copy::BlobLedger>,
    /// The signature gate's verdicts (src/verify/), read while the plan was made: checked before
    /// anything of an image is copied (a gated copy they lack is refused).
    pub verdicts: &'a crate::verify::Verdicts,
    /// The repositories this apply created (filled as each creation succeeds). A copy into one
    /// of them knows its target is empty and asks the registry nothing about what it holds.
    pub created: Mutex<BTreeSet<String>>,
}

impl OrgWriter<'_> {
    async fn copy(&self, org: &str, change: &Change) -> Result<(), String> {
        let Change::CopyImage {
            repository,
            tag,
            source,
            digest,
            platforms,
            signatures,
            ..
        } = change
        else {
            return Err("not an image copy".into());
        };
        use crate::registry::copy::{CopyOptions, copy_image};
        let registry = self
            .registry
            .ok_or("no registry client is configured for image copies")?;
        let source = crate::registry::reference::Reference::parse(source)
            .map_err(|e| format!("source: {e}"))?;
        let target = crate::mirror::target_reference(org, repository, tag)?;
        self.verdicts.gate(repository, &source)?;
        let empty_target = self
            .created
            .lock()
            .map(|c| c.contains(repository))
            .unwrap_or(false);
        let options = CopyOptions {
            platforms: platforms.clone(),
            signatures: *signatures,
            ledger: Some(self.ledger.clone()),
            empty_target,
            ..CopyOptions::default()
        };
        let report = copy_image(registry, &source, &target, &options, self.progress)
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(mut t) = self.totals.lock() {
            t.images += 1;
            t.blobs_copied += report.blobs_copied;
            t.blobs_mounted += report.blobs_mounted;
            t.blobs_skipped += report.blobs_skipped;
            t.bytes += report.bytes_copied;
        }
        if &report.digest != digest {
            return Err(format!(
                "copied {} but the plan expected {}; run `vetted plan` again",
                report.digest, digest
            ));
        }
        Ok(())
    }
}

impl Executor for OrgWriter<'_> {
    type Error = String;
    async fn execute(&self, org: &str, change: &Change) -> Result<(), String> {
        match change {
            Change::CopyImage { .. } => self.copy(org, change).await,
            other => {
                self.hub.execute(org, other).await.map_err(|e| {
                    let hub = self.hub.hub_origin();
                    e.explain(&crate::hub::Explain {
                        org,
                        hub: &hub,
                        identity: self.hub.identity(),
                        org_source: "the policy's `org`",
                    })
                    .to_string()
                })?;
                if let Change::CreateRepository { repository, .. } = other
                    && let Ok(mut created) = self.created.lock()
                {
                    created.insert(repository.clone());
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Done,
    Failed(String),
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeResult {
    pub address: String,
    pub action: Action,
    pub status: Status,
}

/// What apply did, in execution order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub results: Vec<ChangeResult>,
}

impl ApplyReport {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| !matches!(r.status, Status::Done))
            .count()
    }

    /// Counts of the changes that were carried out.
    pub fn done(&self) -> Summary {
        let mut s = Summary::default();
        for r in self.results.iter().filter(|r| r.status == Status::Done) {
            match r.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
            }
        }
        s
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Changes in flight at once within a phase.
    pub parallelism: usize,
    /// Images copied at once.
    pub copy_parallelism: usize,
}

/// The phase of image copies.
const COPY_PHASE: u8 = 7;

/// Execution phase of a change: creates and updates in dependency order, then removals in reverse.
fn phase(change: &Change) -> u8 {
    use Change::*;
    match change {
        SetImageAccess { .. } | SetRegistryAccess { .. } | AllowRepository { .. } => 0,
        SetRole { .. } => 1,
        CreateTeam { .. } | UpdateTeam { .. } => 2,
        // An invite may name a team, which must exist first.
        Invite { .. } => 3,
        AddTeamMember { .. } => 4,
        CreateRepository { .. } | UpdateRepository { .. } => 5,
        Grant { .. } | UpdateGrant { .. } => 6,
        // After the repository exists (and its grants are set).
        CopyImage { .. } => COPY_PHASE,
        // A hand-pushed tag goes after the copies (which never write it: it is not in the policy).
        DeleteTag { .. } | Revoke { .. } | DisallowRepository { .. } => 8,
        DeleteRepository { .. } => 9,
        RemoveTeamMember { .. } => 10,
        CancelInvite { .. } => 11,
        DeleteTeam { .. } => 12,
        RemoveMember { .. } => 13,
    }
}

/// Failures earlier phases leave behind, which later changes depend on.
#[derive(Default)]
struct Failed {
    teams: BTreeSet<String>,
    repositories: BTreeSet<String>,
    members: BTreeSet<Username>,
}

impl Failed {
    fn record(&mut self, change: &Change) {
        match change {
            Change::CreateTeam { team, .. } => {
                self.teams.insert(team.clone());
            }
            Change::CreateRepository { repository, .. } => {
                self.repositories.insert(repository.clone());
            }
            Change::SetRole { user, .. } => {
                self.members.insert(user.clone());
            }
            _ => {}
        }
    }

    /// Why `change` cannot run, if something it needs failed.
    fn blocks(&self, change: &Change) -> Option<String> {
        let team_missing = |t: &String| {
            self.teams
                .contains(t)
                .then(|| format!("team {t} was not created"))
        };
        let repo_missing = |r: &String| {
            self.repositories
                .contains(r)
                .then(|| format!("repository {r} was not created"))
        };
        match change {
            Change::AddTeamMember { team, .. } => team_missing(team),
            Change::Invite {
                team: Some(team), ..
            } => team_missing(team),
            Change::Grant {
                repository, team, ..
            }
            | Change::UpdateGrant {
                repository, team, ..
            } => repo_missing(repository).or_else(|| team_missing(team)),
            Change::CopyImage { repository, .. } => repo_missing(repository),
            _ => None,
        }
    }
}

/// The phases a repository's own changes start: its creation or update, then its grants and its
/// image copies.
const REPOSITORY_PHASE: u8 = 5;

/// The repository a change of the repository pipeline belongs to (phases 5 to 7).
fn pipeline_repository(change: &Change) -> Option<&str> {
    match change {
        Change::CreateRepository { repository, .. }
        | Change::UpdateRepository { repository, .. }
        | Change::Grant { repository, .. }
        | Change::UpdateGrant { repository, .. }
        | Change::CopyImage { repository, .. } => Some(repository),
        _ => None,
    }
}

/// Runs every change of `plan`, calling `on_result` as each one finishes.
pub async fn apply<E: Executor>(
    executor: &E,
    plan: &Plan,
    options: ApplyOptions,
    mut on_result: impl FnMut(&ChangeResult),
) -> ApplyReport {
    let mut ordered: Vec<&Change> = plan.changes.iter().collect();
    ordered.sort_by_key(|c| phase(c)); // stable: keeps the plan's order within a phase
    let mut report = ApplyReport::default();
    let mut failed = Failed::default();
    let mut start = 0;
    while start < ordered.len() {
        let current = phase(ordered[start]);
        let pipelined = (REPOSITORY_PHASE..=COPY_PHASE).contains(&current);
        let end = ordered[start..]
            .iter()
            .position(|c| {
                if pipelined {
                    phase(c) > COPY_PHASE
                } else {
                    phase(c) != current
                }
            })
            .map_or(ordered.len(), |n| start + n);
        let batch = &ordered[start..end];
        start = end;
        if pipelined {
            let results =
                repositories(executor, plan, batch, options, &failed, &mut on_result).await;
            for (change, result) in results {
                if !matches!(result.status, Status::Done) {
                    failed.record(change);
                }
                report.results.push(result);
            }
            continue;
        }
        let parallelism = options.parallelism.max(1);

        let mut runnable = Vec::new();
        for change in batch {
            match failed.blocks(change) {
                Some(reason) => {
                    let result = ChangeResult {
                        address: change.address(&plan.org),
                        action: change.action(),
                        status: Status::Skipped(reason),
                    };
                    on_result(&result);
                    report.results.push(result);
                }
                None => runnable.push(*change),
            }
        }
        let mut finished = futures::stream::iter(runnable.into_iter().map(|change| async move {
            let status = match executor.execute(&plan.org, change).await {
                Ok(()) => Status::Done,
                Err(e) => Status::Failed(e.to_string()),
            };
            (change, status)
        }))
        .buffer_unordered(parallelism);
        let mut phase_results = Vec::new();
        while let Some((change, status)) = finished.next().await {
            if !matches!(status, Status::Done) {
                failed.record(change);
            }
            let result = ChangeResult {
                address: change.address(&plan.org),
                action: change.action(),
                status,
            };
            on_result(&result);
            phase_results.push(result);
        }
        // Deterministic report order whatever order the requests finished in.
        phase_results.sort_by(|a, b| a.address.cmp(&b.address));
        report.results.extend(phase_results);
    }
    report
}

/// The repository changes, grants and image copies (phases 5 to 7) as one pipeline per
/// repository: a repository's grants and copies start as soon as its own creation or update is
/// done (a copy does not wait for every other repository, nor for grants), at most
/// `parallelism` hub changes and `copy_parallelism` copies in flight across all repositories.
/// A failed creation skips that repository's grants and copies only. The results come back in the
/// order the phases would give: per phase, the skipped ones in plan order, then the others by
/// address.
async fn repositories<'p, E: Executor>(
    executor: &E,
    plan: &'p Plan,
    batch: &[&'p Change],
    options: ApplyOptions,
    failed: &Failed,
    on_result: &mut impl FnMut(&ChangeResult),
) -> Vec<(&'p Change, ChangeResult)> {
    use std::collections::BTreeMap;
    use tokio::sync::Semaphore;

    let hub_slots = Semaphore::new(options.parallelism.max(1));
    let copy_slots = Semaphore::new(options.copy_parallelism.max(1));
    // (phase, skipped first, plan index), the change, its result.
    type Entry<'p> = ((u8, bool, usize), &'p Change, ChangeResult);
    type Sink<'p, 'f> = (Vec<Entry<'p>>, &'f mut dyn FnMut(&ChangeResult));
    let finished: Mutex<Sink<'p, '_>> = Mutex::new((Vec::new(), on_result));
    let finish = |index: usize, change: &'p Change, status: Status| {
        let skipped = matches!(status, Status::Skipped(_));
        let result = ChangeResult {
            address: change.address(&plan.org),
            action: change.action(),
            status,
        };
        if let Ok(mut f) = finished.lock() {
            (f.1)(&result);
            f.0.push(((phase(change), !skipped, index), change, result));
        }
    };
    let run = |index: usize, change: &'p Change| {
        let (hub_slots, copy_slots, finish) = (&hub_slots, &copy_slots, &finish);
        async move {
            if let Some(reason) = failed.blocks(change) {
                finish(index, change, Status::Skipped(reason));
                return false;
            }
            let slots = if phase(change) == COPY_PHASE {
                copy_slots
            } else {
                hub_slots
            };
            let status = match slots.acquire().await {
                Ok(_permit) => match executor.execute(&plan.org, change).await {
                    Ok(()) => Status::Done,
                    Err(e) => Status::Failed(e.to_string()),
                },
                Err(_) => Status::Failed("apply stopped".into()),
            };
            let ok = status == Status::Done;
            finish(index, change, status);
            ok
        }
    };

    // Per repository: its own change(s) first, then what depends on it.
    type Indexed<'p> = Vec<(usize, &'p Change)>;
    let mut per_repository: BTreeMap<&str, (Indexed<'p>, Indexed<'p>)> = BTreeMap::new();
    for (index, change) in batch.iter().enumerate() {
        let Some(repository) = pipeline_repository(change) else {
            continue;
        };
        let slot = per_repository.entry(repository).or_default();
        if phase(change) == REPOSITORY_PHASE {
            slot.0.push((index, *change));
        } else {
            slot.1.push((index, *change));
        }
    }
    let pipelines = per_repository.into_values().map(|(own, dependants)| {
        let run = &run;
        let finish = &finish;
        async move {
            let mut created = true;
            for (index, change) in own {
                let ok = run(index, change).await;
                if !ok && matches!(change, Change::CreateRepository { .. }) {
                    created = false;
                }
            }
            if !created {
                for (index, change) in dependants {
                    let reason = pipeline_repository(change)
                        .map(|r| format!("repository {r} was not created"))
                        .unwrap_or_default();
                    finish(index, change, Status::Skipped(reason));
                }
                return;
            }
            futures::future::join_all(dependants.into_iter().map(|(i, c)| run(i, c))).await;
        }
    });
    futures::future::join_all(pipelines).await;
    let mut results = finished.into_inner().map(|f| f.0).unwrap_or_default();
    results.sort_by(|a, b| {
        let key = |e: &Entry<'_>| {
            let (phase, ran, index) = e.0;
            // Skipped ones in plan order, then the rest by address.
            (phase, ran, if ran { 0 } else { index })
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.2.address.cmp(&b.2.address))
    });
    results.into_iter().map(|(_, c, r)| (c, r)).collect()
}

#[cfg(test)]
mod tests;
