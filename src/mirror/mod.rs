//! Mirrored images into the model: which upstream digest each mirrored tag of the policy must have
//! in the organization (a pin in the policy, else the digest locked in vetted.lock, else the live
//! upstream tag), written into the desired [`Repository::tags`](crate::model::Repository::tags),
//! and what the organization's tags point at now, written into the live ones. [`resolve`] does the
//! reading (HEAD requests, which Docker Hub does not count as pulls; manifest GETs only for
//! platform-filtered mirrors); the copy rows follow from the diff (src/plan/images.rs).
//! [`estimate`] fills the copy rows' display-only byte and manifest counts (manifest GETs);
//! [`facts`] reads what a reviewer needs to judge a tag that moved.
pub mod facts;

use std::collections::BTreeSet;

use futures::StreamExt;

use crate::model::{Image, ImageSource, OrgState};
use crate::plan::{Change, Note, ResourceKind};
use crate::policy::lock::{self, Lockfile, Wanted};
use crate::registry::client::{RegistryClient, RegistryError, Scope};
use crate::registry::manifest::{self, Parsed};
use crate::registry::reference::{DOCKER_HUB, Reference};

/// Requests in flight at once while resolving.
const RESOLVE_CONCURRENCY: usize = 8;

/// What [`resolve`] says besides the images it wrote into the model.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// Docker Hub's `ratelimit-remaining` after the reads, when it sent one.
    pub pulls_remaining: Option<u64>,
    /// Notes about the lock (missing, outdated).
    pub notes: Vec<Note>,
}

/// How the plan uses vetted.lock.
#[derive(Debug, Clone)]
pub enum LockState {
    /// No lock beside the policy.
    Missing,
    /// A lock; `problems` lists where it does not match the policy (empty: current).
    Present {
        lock: Lockfile,
        problems: Vec<String>,
    },
}

/// The registry and repository of the organization's copy of a mirrored tag (Docker Hub).
pub fn target_reference(org: &str, repository: &str, tag: &str) -> Result<Reference, String> {
    Reference::parse(&format!("{DOCKER_HUB}/{org}/{repository}:{tag}")).map_err(|e| e.to_string())
}

/// Every registry a plan with these mirrors talks to: the sources and Docker Hub (the target).
pub fn registries(desired: &OrgState) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for repo in desired.repositories.values() {
        if let Some(m) = &repo.mirror
            && let Ok(r) = Reference::parse(&m.from)
        {
            out.insert(r.registry);
        }
    }
    if !out.is_empty() {
        out.insert(DOCKER_HUB.to_string());
    }
    out
}

fn lock_note(message: String) -> Note {
    Note {
        kind: ResourceKind::Image,
        address: lock::LOCK_FILE_NAME.to_string(),
        message,
    }
}

/// What the organization's copy of one mirrored tag points at (`None`: the tag is missing).
async fn read_target(
    client: &RegistryClient,
    org: &str,
    w: &Wanted,
) -> Result<Option<String>, String> {
    let target = target_reference(org, &w.repository, &w.tag)?;
    match client
        .resolve_scoped(&target, &[Scope::pull(&target.repository)])
        .await
    {
        Ok(r) => Ok(Some(r.digest)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(format!("{target}: {e}")),
    }
}

/// Runs `read` for every wanted tag, [`RESOLVE_CONCURRENCY`] at a time; the results in the order
/// of `wanted`, or every failure.
async fn read_all<'a, T, F, Fut>(wanted: &'a [Wanted], read: F) -> Result<Vec<T>, Vec<String>>
where
    F: Fn(&'a Wanted) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let results: Vec<Result<T, String>> = futures::stream::iter(wanted)
        .map(read)
        .buffered(RESOLVE_CONCURRENCY)
        .collect()
        .await;
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(v) => done.push(v),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        Ok(done)
    } else {
        Err(failures)
    }
}

/// "could not read 2 mirrored tag(s) of the organization:" and the failures, one per line.
fn failed(what: &str, whose: &str, failures: &[String]) -> String {
    let whose = if whose.is_empty() {
        String::new()
    } else {
        format!(" {whose}")
    };
    format!(
        "{what} {} mirrored tag(s){whose}:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|e| format!("  - {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Resolves every mirrored tag of the policy into `desired` (each mirrored repository's `tags`) and
/// reads what the organization's copies point at into `live` (the `tags` of each mirrored
/// repository that exists; a tag the registry does not have is removed from them). `desired`
/// starts as the policy's desired state.
pub async fn resolve(
    client: &RegistryClient,
    policy: &crate::policy::Policy,
    lock_state: &LockState,
    desired: &mut OrgState,
    live: &mut OrgState,
) -> Result<Resolution, String> {
    let wanted = lock::wanted(policy)?;
    if wanted.is_empty() {
        return Ok(Resolution::default());
    }
    let org = &policy.desired.org;
    let mut notes = Vec::new();
    let lock = match lock_state {
        LockState::Missing => {
            notes.push(lock_note(
                "vetted.lock is missing: mirroring the live upstream tags; run `vetted lock` and commit vetted.lock".into(),
            ));
            None
        }
        LockState::Present { lock, problems } => {
            if !problems.is_empty() {
                notes.push(lock_note(format!(
                    "vetted.lock is outdated ({}): tags it does not cover follow upstream; run `vetted lock`",
                    problems.join("; ")
                )));
            }
            Some(lock)
        }
    };
    let read = read_all(&wanted, |w| async move {
        let image = resolve_one(client, policy, lock, w).await?;
        let live = read_target(client, org, w).await?;
        Ok((image, live))
    })
    .await
    .map_err(|failures| failed("could not resolve", "", &failures))?;
    for (w, (image, now)) in wanted.iter().zip(read) {
        if let Some(repo) = desired.repositories.get_mut(&w.repository) {
            repo.tags
                .get_or_insert_with(Default::default)
                .insert(w.tag.clone(), image);
        }
        // A repository that does not exist has no tags (a push creates it on Docker Hub).
        if let Some(repo) = live.repositories.get_mut(&w.repository) {
            let tags = repo.tags.get_or_insert_with(Default::default);
            match now {
                Some(digest) => {
                    tags.insert(
                        w.tag.clone(),
                        Image {
                            digest,
                            source: None,
                        },
                    );
                }
                None => {
                    tags.remove(&w.tag);
                }
            }
        }
    }
    Ok(Resolution {
        pulls_remaining: client.ratelimit_remaining(),
        notes,
    })
}

async fn resolve_one(
    client: &RegistryClient,
    policy: &crate::policy::Policy,
    lock: Option<&Lockfile>,
    w: &Wanted,
) -> Result<Image, String> {
    let name = w.name();
    let mirror = policy
        .desired
        .repositories
        .get(&w.repository)
        .and_then(|r| r.mirror.as_ref())
        .ok_or_else(|| format!("{name}: not a mirrored repository"))?;
    let tag_ref = w.source_reference().map_err(|e| format!("{name}: {e}"))?;
    let locked = lock
        .and_then(|l| l.get(&w.repository, &w.tag))
        .filter(|e| e.source == w.source && w.pin.as_ref().is_none_or(|p| p == &e.digest));
    // The digest to mirror: the pin, else the locked digest, else the upstream tag as it is now.
    let (upstream_digest, update_available) = match (&w.pin, locked) {
        (Some(pin), _) => (pin.clone(), None),
        (None, Some(entry)) => {
            // HEAD the tag for "update available" (free on Docker Hub); a failure here only
            // loses the note.
            let now = client.resolve(&tag_ref).await.ok().map(|r| r.digest);
            let update = now.filter(|d| d != &entry.digest);
            (entry.digest.clone(), update)
        }
        (None, None) => {
            let r = client
                .resolve(&tag_ref)
                .await
                .map_err(|e| format!("{tag_ref}: {e}"))?;
            (r.digest, None)
        }
    };
    let source = tag_ref.with_digest(&upstream_digest);
    let source = Reference {
        tag: Some(w.tag.clone()),
        ..source
    };
    let digest = match &mirror.platforms {
        None => upstream_digest.clone(),
        Some(platforms) => {
            // The copy builds a filtered index: compute its digest the same way.
            let (bytes, header_type) = client
                .get_manifest_raw(&source, &[Scope::pull(&source.repository)])
                .await
                .map_err(|e| format!("{source}: {e}"))?;
            match manifest::parse(&bytes, &header_type).map_err(|e| format!("{source}: {e}"))? {
                (Parsed::Index { .. }, _) => manifest::sha256_digest(
                    &manifest::filter_index(&bytes, platforms)
                        .map_err(|e| format!("{source}: {e}"))?,
                ),
                (Parsed::Image { .. }, _) => upstream_digest.clone(),
            }
        }
    };
    Ok(Image {
        digest,
        source: Some(ImageSource {
            reference: source.to_string(),
            upstream_digest,
            update_available,
        }),
    })
}

/// Fills `bytes` (blob sizes from the manifests; a blob shared by several images counts once, at
/// the first) and `manifests` (manifest GETs the copy makes) of the copy rows. Reads manifests of
/// the images to copy only. A failure leaves the row's estimate at 0: it never blocks a plan.
pub async fn estimate(client: &RegistryClient, changes: &mut [Change]) {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for change in changes.iter_mut() {
        let Change::CopyImage {
            source,
            platforms,
            bytes,
            manifests,
            ..
        } = change
        else {
            continue;
        };
        let Ok(source) = Reference::parse(source) else {
            continue;
        };
        if let Ok((blobs, count)) = blobs_of(client, &source, platforms.as_deref()).await {
            *manifests = count;
            for b in blobs {
                if seen.insert(b.digest.clone()) {
                    // A hostile registry's sizes cannot wrap the sum: it stops at u64::MAX,
                    // shown as "more than ..." (see [`approx_bytes`]).
                    *bytes = bytes.saturating_add(b.size);
                }
            }
        }
    }
}

/// Every blob of an image (of each child of an index, filtered by `platforms`) and the number of
/// manifests read.
async fn blobs_of(
    client: &RegistryClient,
    source: &Reference,
    platforms: Option<&[String]>,
) -> Result<(Vec<manifest::Descriptor>, u64), RegistryError> {
    let scopes = [Scope::pull(&source.repository)];
    let (bytes, header_type) = client.get_manifest_raw(source, &scopes).await?;
    let parsed = manifest::parse(&bytes, &header_type).map_err(RegistryError::Protocol)?;
    match parsed.0 {
        Parsed::Image { blobs } => Ok((blobs, 1)),
        Parsed::Index { children } => {
            let children: Vec<_> = children
                .into_iter()
                .filter(|c| match (platforms, &c.platform) {
                    (None, _) => true,
                    (Some(want), Some(p)) => {
                        let short = format!("{}/{}", p.os, p.architecture);
                        want.iter().any(|w| *w == p.key() || *w == short)
                    }
                    (Some(_), None) => false,
                })
                .collect();
            let count = 1 + children.len() as u64;
            let reads: Vec<Result<(Vec<u8>, String), RegistryError>> =
                futures::stream::iter(children.iter())
                    .map(|c| {
                        let r = source.with_digest(&c.digest);
                        let scopes = &scopes;
                        async move { client.get_manifest_raw(&r, scopes).await }
                    })
                    .buffered(RESOLVE_CONCURRENCY)
                    .collect()
                    .await;
            let mut blobs = Vec::new();
            for r in reads {
                let (b, t) = r?;
                if let Parsed::Image { blobs: bl } =
                    manifest::parse(&b, &t).map_err(RegistryError::Protocol)?.0
                {
                    blobs.extend(bl);
                }
            }
            Ok((blobs, count))
        }
    }
}

/// A byte estimate for display, `approx` (e.g. "about ") then the size; a sum that reached
/// u64::MAX (sizes added with saturation) is "more than 16.00 EiB", never a wrapped small number.
pub fn approx_bytes(n: u64, approx: &str) -> String {
    if n == u64::MAX {
        format!("more than {}", indicatif::HumanBytes(u64::MAX - 1))
    } else {
        format!("{approx}{}", indicatif::HumanBytes(n))
    }
}

/// Docker Hub pulls one copy spends, from its row's `manifests` (the manifest GETs it makes on the
/// source). Docker counts "one pull for a single manifest" and, for a multi-arch image, "one pull
/// for each different architecture"; a HEAD is a free version check. So an image costs 1 and an
/// index read with its K platform manifests (`manifests` = 1 + K) costs K: the index GET itself is
/// not a pull. Unconfirmed: that an index GET costs nothing on its own; the sandbox's pull counter
/// (`sandbox::proxy::spends_a_pull`) follows the same rule. An unknown count (0: the estimate
/// could not read the manifests) costs 1.
pub fn pulls_of_copy(manifests: u64) -> u64 {
    manifests.saturating_sub(1).max(1)
}

/// Docker Hub pulls the plan's copies from Docker Hub sources spend ([`pulls_of_copy`] each): what
/// apply checks against the pull budget before changing anything.
pub fn docker_hub_pulls(changes: &[Change]) -> u64 {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::CopyImage {
                source, manifests, ..
            } => Reference::parse(source)
                .ok()
                .filter(|r| r.registry == DOCKER_HUB)
                .map(|_| pulls_of_copy(*manifests)),
            _ => None,
        })
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn pulls_count_docker_hub_sources_only() {
        let copy = |source: &str, manifests| Change::CopyImage {
            repository: "r".into(),
            tag: "t".into(),
            source: source.into(),
            digest: d(1),
            old_digest: None,
            platforms: None,
            signatures: false,
            bytes: 0,
            manifests,
        };
        let changes = vec![
            // An index and its 3 platforms: 3 pulls (one per platform).
            copy(&format!("docker.io/library/nginx:1@{}", d(1)), 4),
            copy(&format!("ghcr.io/o/t:1@{}", d(1)), 3),
            // Unknown (the estimate could not read it): 1.
            copy(&format!("docker.io/bitnami/redis:1@{}", d(1)), 0),
            // A single image: 1.
            copy(&format!("docker.io/library/alpine:1@{}", d(1)), 1),
        ];
        assert_eq!(docker_hub_pulls(&changes), 5);
    }

    #[test]
    fn a_copy_costs_one_pull_per_platform() {
        assert_eq!(pulls_of_copy(0), 1);
        assert_eq!(pulls_of_copy(1), 1);
        assert_eq!(pulls_of_copy(2), 1);
        assert_eq!(pulls_of_copy(4), 3);
        assert_eq!(pulls_of_copy(u64::MAX), u64::MAX - 1);
    }
}
