//! Mirrored images into the model: which upstream digest each mirrored tag of the policy must have
//! in the organization (a pin in the policy, else the digest locked in vetted.lock, else the live
//! upstream tag), written into the desired [`Repository::tags`](crate::model::Repository::tags),
//! and what the organization's tags point at now, written into the live ones. [`resolve`] does the
//! reading (HEAD requests, which Docker Hub does not count as pulls; manifest GETs only for
//! platform-filtered mirrors); the copy rows follow from the diff (src/plan/images.rs).
//! [`estimate`] fills the copy rows' display-only byte and manifest counts (manifest GETs);
//! [`facts`] reads what a reviewer needs to judge a tag that moved.
//! [`offline::resolve`] does what `resolve` does for the desired side without any request (plans
//! from a snapshot).
//! It also owns the Docker Hub pull accounting of mirroring: what one copy costs in pulls
//! ([`pulls_of_copy`], the one place that rule lives) and what a plan's copies from Docker Hub
//! sources cost together ([`docker_hub_pulls`]), which the plan notes beside the
//! `ratelimit-remaining` the reads saw ([`Resolution::pulls_remaining`]) and apply checks before
//! changing anything.
use std::collections::BTreeSet;

pub mod facts;
pub mod offline;

use futures::StreamExt;

use crate::hub::HubClient;
use crate::model::{Image, ImageSource, OrgState};
use crate::plan::{Change, Note, ResourceKind};
use crate::policy::lock::{self, Lockfile, Wanted};
use crate::registry::client::{RegistryClient, RegistryError, Scope};
use crate::registry::manifest::{self, Parsed};
use crate::registry::reference::{DOCKER_HUB, Reference};

mod listing;

/// Registry requests in flight at once while resolving (HEADs, which Docker Hub does not count as
/// pulls): wide enough that a thousand HEADs at 50 ms take under 2 s.
const RESOLVE_CONCURRENCY: usize = 32;

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

/// What the organization's copy of one mirrored tag points at (`None`: the tag is missing), by a
/// HEAD on the registry (for a tag the listing could not answer for).
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
/// repository that exists: the mirrored tags, and the tags nobody mirrors, which the diff finds as
/// pushed by hand). `desired` starts as the policy's desired state.
///
/// What it reads ([`listing`]): one Docker Hub tag listing per mirrored repository that exists
/// (100 tags a call) instead of a HEAD per tag, a HEAD only for a tag the listing gives no
/// digest; nothing for a repository that does not exist yet. Upstream, a locked tag needs no read
/// to be mirrored; the "update available" note reads a Docker Hub source's tag listing, any other
/// registry's tags by HEAD. An unlocked tag is HEADed upstream (its digest is what gets copied).
pub async fn resolve(
    client: &RegistryClient,
    hub: &HubClient,
    policy: &crate::policy::Policy,
    lock_state: &LockState,
    desired: &mut OrgState,
    live: &mut OrgState,
) -> Result<Resolution, String> {
    let wanted = lock::wanted(policy)?;
    let org = &policy.desired.org;
    let existing: Vec<&String> = policy
        .desired
        .repositories
        .iter()
        .filter(|(name, r)| r.mirror.is_some() && live.repositories.contains_key(*name))
        .map(|(name, _)| name)
        .collect();
    let listed = listing::org_tags(hub, org, &existing).await?;
    listing::add_unmirrored(&policy.desired, &listed, live);
    if wanted.is_empty() {
        return Ok(Resolution::default());
    }
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
    let upstream_listed = listing::docker_hub_sources(hub, &wanted, |w| {
        w.pin.is_none() && locked_entry(lock, w).is_some()
    })
    .await;
    let listed = &listed;
    let upstream_listed = &upstream_listed;
    let read = read_all(&wanted, |w| async move {
        let image = resolve_one(client, policy, lock, upstream_listed, w).await?;
        let live = match listed.get(&w.repository) {
            // The repository does not exist: it has no tags (a push creates it on Docker Hub).
            None => None,
            Some(tags) => match tags.get(&w.tag).map(String::as_str) {
                None => None,
                Some("") => read_target(client, org, w).await?,
                Some(digest) => Some(digest.to_string()),
            },
        };
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

/// The lock's entry for `w`, when it still matches the policy (same source, and the pin if any).
fn locked_entry<'a>(lock: Option<&'a Lockfile>, w: &Wanted) -> Option<&'a lock::LockedImage> {
    lock.and_then(|l| l.get(&w.repository, &w.tag))
        .filter(|e| e.source == w.source && w.pin.as_ref().is_none_or(|p| p == &e.digest))
}

async fn resolve_one(
    client: &RegistryClient,
    policy: &crate::policy::Policy,
    lock: Option<&Lockfile>,
    upstream_listed: &listing::Upstream,
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
    let locked = locked_entry(lock, w);
    // The digest to mirror: the pin, else the locked digest, else the upstream tag as it is now.
    let (upstream_digest, update_available) = match (&w.pin, locked) {
        (Some(pin), _) => (pin.clone(), None),
        (None, Some(entry)) => {
            // What upstream's tag points at now, for "update available" only: from Docker Hub's
            // tag listing when the source is there, else a HEAD (free on Docker Hub); a failure
            // here only loses the note.
            let now = match upstream_listed.get(&w.source, &w.tag) {
                Some(listed) => listed,
                None => client.resolve(&tag_ref).await.ok().map(|r| r.digest),
            };
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
    // The manifests are read RESOLVE_CONCURRENCY at a time; the sums follow the plan's order.
    let read: Vec<Option<(Vec<manifest::Descriptor>, u64)>> = futures::stream::iter(changes.iter())
        .map(|change| async move {
            let Change::CopyImage {
                source, platforms, ..
            } = change
            else {
                return None;
            };
            let source = Reference::parse(source).ok()?;
            blobs_of(client, &source, platforms.as_deref()).await.ok()
        })
        .buffered(RESOLVE_CONCURRENCY)
        .collect()
        .await;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (change, read) in changes.iter_mut().zip(read) {
        let (
            Change::CopyImage {
                bytes, manifests, ..
            },
            Some((blobs, count)),
        ) = (change, read)
        else {
            continue;
        };
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
                .filter(|c| wanted(platforms, c))
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

/// Docker Hub pulls the plan's copies from Docker Hub sources spend ([`pulls_of_copy`] each), read
/// by a client that has read none of their manifests yet.
pub fn docker_hub_pulls(changes: &[Change]) -> u64 {
    docker_hub_pulls_of(changes, |_, _| false)
}

/// [`docker_hub_pulls`] left to spend once `client` has read what it read: a copy whose every
/// manifest it keeps (the plan's estimate read them) spends none. What apply checks against the
/// pull budget before changing anything.
pub fn docker_hub_pulls_unread(changes: &[Change], client: &RegistryClient) -> u64 {
    docker_hub_pulls_of(changes, |source, platforms| {
        kept_whole(client, source, platforms)
    })
}

fn docker_hub_pulls_of(
    changes: &[Change],
    read: impl Fn(&Reference, Option<&[String]>) -> bool,
) -> u64 {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::CopyImage {
                source,
                manifests,
                platforms,
                ..
            } => Reference::parse(source)
                .ok()
                .filter(|r| r.registry == DOCKER_HUB && !read(r, platforms.as_deref()))
                .map(|_| pulls_of_copy(*manifests)),
            _ => None,
        })
        .fold(0u64, u64::saturating_add)
}

/// Whether `client` keeps every manifest a copy of `source` reads: the image's, or an index's
/// and each wanted platform's (an index kept without all of them still costs pulls).
fn kept_whole(client: &RegistryClient, source: &Reference, platforms: Option<&[String]>) -> bool {
    let Some((bytes, header_type)) = client.kept_manifest(source) else {
        return false;
    };
    match manifest::parse(&bytes, &header_type) {
        Ok((Parsed::Image { .. }, _)) => true,
        Ok((Parsed::Index { children }, _)) => children
            .iter()
            .filter(|c| wanted(platforms, c))
            .all(|c| client.keeps_manifest(&source.with_digest(&c.digest))),
        Err(_) => false,
    }
}

/// Whether a copy limited to `platforms` (all when `None`) reads the index child `c`.
fn wanted(platforms: Option<&[String]>, c: &manifest::Descriptor) -> bool {
    match (platforms, &c.platform) {
        (None, _) => true,
        (Some(want), Some(p)) => p.wanted_by(want),
        (Some(_), None) => false,
    }
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
