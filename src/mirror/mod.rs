//! Mirrored images in the plan: which upstream digest each mirrored tag of the policy must have in
//! the organization (a pin in the policy, else the digest locked in vetted.lock, else the live
//! upstream tag), what the organization's tags point at now, and the copy rows and notes that
//! follow. [`resolve`] does the reading (HEAD requests, which Docker Hub does not count as pulls;
//! manifest GETs only for platform-filtered mirrors and for byte estimates of images to copy);
//! [`changes`] is the pure part that turns what was read into [`Change::CopyImage`] rows.
//! [`hand_pushed`] finds the tags of a mirrored repository that the policy does not list (drift:
//! [`Change::DeleteTag`] with prune, a note without).
use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use crate::model::OrgState;
use crate::plan::{Change, Note, ResourceKind, image_address};
use crate::policy::lock::{self, Lockfile, Wanted, short};
use crate::registry::client::{RegistryClient, RegistryError, Scope};
use crate::registry::manifest::{self, Parsed};
use crate::registry::reference::{DOCKER_HUB, Reference};

/// Requests in flight at once while resolving.
const RESOLVE_CONCURRENCY: usize = 8;

/// Where the digest to mirror came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `"tag@sha256:..."` in the policy.
    Pinned,
    /// vetted.lock.
    Locked,
    /// The upstream tag as it is now (no usable lock entry).
    Live,
}

/// One mirrored tag, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceImage {
    /// The organization repository (without the org).
    pub repository: String,
    pub tag: String,
    /// The upstream reference with tag and the digest to copy.
    pub source: Reference,
    /// The upstream manifest digest.
    pub upstream_digest: String,
    /// The digest the organization's tag must have (differs from upstream with `platforms`).
    pub digest: String,
    pub media_type: String,
    pub platforms: Option<Vec<String>>,
    pub signatures: bool,
    pub origin: Origin,
    /// The upstream tag's digest now, when it was read and differs from a locked digest.
    pub update_available: Option<String>,
}

/// What [`resolve`] read.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub images: Vec<SourceImage>,
    /// (repository, tag) -> the digest the organization's tag points at (`None`: missing).
    pub live: BTreeMap<(String, String), Option<String>>,
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

/// Reads only the organization's mirrored tags (HEAD requests), as [`resolve`] does: what a saved
/// plan's live fingerprint covers besides the hub state.
pub async fn live_tags(
    client: &RegistryClient,
    policy: &crate::policy::Policy,
) -> Result<BTreeMap<(String, String), Option<String>>, String> {
    let wanted = lock::wanted(policy)?;
    let org = &policy.desired.org;
    let read = read_all(&wanted, |w| async move {
        let live = read_target(client, org, w).await?;
        Ok(((w.repository.clone(), w.tag.clone()), live))
    })
    .await
    .map_err(|failures| failed("could not read", "of the organization", &failures))?;
    Ok(read.into_iter().collect())
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

/// Resolves every mirrored tag of `desired` and reads the organization's tags.
pub async fn resolve(
    client: &RegistryClient,
    policy: &crate::policy::Policy,
    lock_state: &LockState,
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
    let mut out = Resolution {
        notes,
        ..Resolution::default()
    };
    for (image, live) in read {
        out.live
            .insert((image.repository.clone(), image.tag.clone()), live);
        out.images.push(image);
    }
    out.pulls_remaining = client.ratelimit_remaining();
    Ok(out)
}

async fn resolve_one(
    client: &RegistryClient,
    policy: &crate::policy::Policy,
    lock: Option<&Lockfile>,
    w: &Wanted,
) -> Result<SourceImage, String> {
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
    let (upstream_digest, media_type, origin, update_available) = match (&w.pin, locked) {
        (Some(pin), _) => (pin.clone(), String::new(), Origin::Pinned, None),
        (None, Some(entry)) => {
            // HEAD the tag for "update available" (free on Docker Hub); a failure here only
            // loses the note.
            let now = client.resolve(&tag_ref).await.ok().map(|r| r.digest);
            let update = now.filter(|d| d != &entry.digest);
            (
                entry.digest.clone(),
                entry.media_type.clone().unwrap_or_default(),
                Origin::Locked,
                update,
            )
        }
        (None, None) => {
            let r = client
                .resolve(&tag_ref)
                .await
                .map_err(|e| format!("{tag_ref}: {e}"))?;
            (r.digest, r.media_type, Origin::Live, None)
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
    Ok(SourceImage {
        repository: w.repository.clone(),
        tag: w.tag.clone(),
        source,
        upstream_digest,
        digest,
        media_type,
        platforms: mirror.platforms.clone(),
        signatures: mirror.signatures,
        origin,
        update_available,
    })
}

/// The copy rows and notes for what [`resolve`] read (pure). Bytes and manifest counts are 0; fill
/// them with [`estimate`].
pub fn changes(org: &str, resolution: &Resolution) -> (Vec<Change>, Vec<Note>) {
    let mut changes = Vec::new();
    let mut notes = resolution.notes.clone();
    for image in &resolution.images {
        let address = image_address(org, &image.repository, &image.tag);
        if let Some(now) = &image.update_available {
            notes.push(Note {
                kind: ResourceKind::Image,
                address: address.clone(),
                message: format!(
                    "update available: {}:{} {} -> {} (run `vetted lock --upgrade {}`)",
                    image.repository,
                    image.tag,
                    short(&image.upstream_digest),
                    short(now),
                    image.repository
                ),
            });
        }
        if image.platforms.is_some() && image.digest != image.upstream_digest {
            notes.push(Note {
                kind: ResourceKind::Image,
                address: address.clone(),
                message: format!(
                    "platforms filtered: the mirror is a new index {} (upstream {})",
                    short(&image.digest),
                    short(&image.upstream_digest)
                ),
            });
        }
        let live = resolution
            .live
            .get(&(image.repository.clone(), image.tag.clone()))
            .cloned()
            .flatten();
        if live.as_deref() == Some(image.digest.as_str()) {
            continue;
        }
        changes.push(Change::CopyImage {
            repository: image.repository.clone(),
            tag: image.tag.clone(),
            source: image.source.to_string(),
            digest: image.digest.clone(),
            old_digest: live,
            platforms: image.platforms.clone(),
            signatures: image.signatures,
            bytes: 0,
            manifests: 0,
        });
    }
    (changes, notes)
}

/// Tags of the organization's mirrored repositories that the policy does not list, i.e. pushed by
/// hand: (repository, tag) -> digest. `listed` holds, per mirrored repository that exists, every
/// tag the hub lists (tag -> digest). A mirror with `signatures = true` also holds the cosign
/// signature, attestation and SBOM tags of its copies (`sha256-<hex>.sig|.att|.sbom`): not drift.
pub fn hand_pushed(
    desired: &OrgState,
    listed: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (repo, tags) in listed {
        let Some(mirror) = desired
            .repositories
            .get(repo)
            .and_then(|r| r.mirror.as_ref())
        else {
            continue;
        };
        for (tag, digest) in tags {
            if mirror.tags.contains_key(tag) || (mirror.signatures && is_signature_tag(tag)) {
                continue;
            }
            out.insert((repo.clone(), tag.clone()), digest.clone());
        }
    }
    out
}

/// `sha256-<64 hex>.sig`, `.att` or `.sbom`: the tags cosign attaches to an image.
fn is_signature_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let Some((hex, suffix)) = rest.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(suffix, "sig" | "att" | "sbom")
}

/// The plan rows for [`hand_pushed`] tags: [`Change::DeleteTag`] each, and a note each when prune
/// is off (the changes are then drift, not the plan's).
pub fn hand_pushed_changes(
    org: &str,
    extra: &BTreeMap<(String, String), String>,
    prune: bool,
) -> (Vec<Change>, Vec<Note>) {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    for ((repository, tag), digest) in extra {
        if !prune {
            notes.push(Note {
                kind: ResourceKind::Image,
                address: image_address(org, repository, tag),
                message: format!(
                    "tag pushed by hand ({}), not in the policy (left alone; set prune = true in [settings] to delete)",
                    if digest.is_empty() { "no digest".to_string() } else { short(digest) }
                ),
            });
        }
        changes.push(Change::DeleteTag {
            repository: repository.clone(),
            tag: tag.clone(),
            digest: digest.clone(),
        });
    }
    (changes, notes)
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

    fn image(repo: &str, tag: &str, digest: &str) -> SourceImage {
        SourceImage {
            repository: repo.into(),
            tag: tag.into(),
            source: Reference::parse(&format!("docker.io/library/{repo}:{tag}@{digest}")).unwrap(),
            upstream_digest: digest.into(),
            digest: digest.into(),
            media_type: String::new(),
            platforms: None,
            signatures: false,
            origin: Origin::Live,
            update_available: None,
        }
    }

    #[test]
    fn missing_stale_and_current_tags() {
        let mut res = Resolution {
            images: vec![
                image("nginx", "1.27", &d(1)),
                image("redis", "7.2", &d(2)),
                image("alpine", "3.20", &d(3)),
            ],
            ..Resolution::default()
        };
        res.live.insert(("nginx".into(), "1.27".into()), None);
        res.live.insert(("redis".into(), "7.2".into()), Some(d(9)));
        res.live
            .insert(("alpine".into(), "3.20".into()), Some(d(3)));
        let (changes, notes) = changes("acme", &res);
        assert!(notes.is_empty());
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].action(), crate::plan::Action::Create);
        assert_eq!(changes[0].address("acme"), "image acme/nginx:1.27");
        match &changes[1] {
            Change::CopyImage {
                old_digest, digest, ..
            } => {
                assert_eq!(old_digest.as_deref(), Some(d(9).as_str()));
                assert_eq!(digest, &d(2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(changes[1].action(), crate::plan::Action::Update);
    }

    #[test]
    fn notes_update_available_and_new_index() {
        let mut locked = image("nginx", "1.27", &d(1));
        locked.origin = Origin::Locked;
        locked.update_available = Some(d(4));
        let mut filtered = image("redis", "7.2", &d(2));
        filtered.platforms = Some(vec!["linux/amd64".into()]);
        filtered.digest = d(5);
        let mut res = Resolution {
            images: vec![locked, filtered],
            ..Resolution::default()
        };
        res.live.insert(("nginx".into(), "1.27".into()), Some(d(1)));
        res.live.insert(("redis".into(), "7.2".into()), Some(d(5)));
        let (changes, notes) = changes("acme", &res);
        assert!(changes.is_empty(), "{changes:?}");
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert!(
            messages[0].starts_with(&format!(
                "update available: nginx:1.27 {} -> {}",
                short(&d(1)),
                short(&d(4))
            )),
            "{messages:?}"
        );
        assert!(messages[1].contains("new index"), "{messages:?}");
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

#[cfg(test)]
mod hand_pushed_tests {
    use super::*;
    use crate::model::{Mirror, Repository};

    fn desired(signatures: bool) -> OrgState {
        let mut s = OrgState::empty("acme");
        s.repositories.insert(
            "redis".into(),
            Repository {
                private: true,
                description: None,
                full_description: None,
                grants: None,
                mirror: Some(Mirror {
                    from: "bitnami/redis".into(),
                    tags: BTreeMap::from([("7.2".to_string(), None)]),
                    platforms: None,
                    signatures,
                }),
            },
        );
        s.repositories.insert(
            "api".into(),
            Repository {
                private: true,
                description: None,
                full_description: None,
                grants: None,
                mirror: None,
            },
        );
        s
    }

    #[test]
    fn tags_the_policy_does_not_list_are_hand_pushed() {
        let sig = format!("sha256-{}.sig", "a".repeat(64));
        let listed = BTreeMap::from([
            (
                "redis".to_string(),
                BTreeMap::from([
                    ("7.2".to_string(), "sha256:1".to_string()),
                    ("hand".to_string(), "sha256:2".to_string()),
                    (sig.clone(), "sha256:3".to_string()),
                ]),
            ),
            // Not a mirror: its tags are the organization's own.
            (
                "api".to_string(),
                BTreeMap::from([("v1".to_string(), "sha256:4".to_string())]),
            ),
        ]);
        let extra = hand_pushed(&desired(true), &listed);
        assert_eq!(
            extra,
            BTreeMap::from([(("redis".into(), "hand".into()), "sha256:2".into())])
        );
        // Without signatures, a signature tag is not the mirror's either.
        let extra = hand_pushed(&desired(false), &listed);
        assert_eq!(extra.len(), 2, "{extra:?}");
        assert!(extra.contains_key(&("redis".to_string(), sig)));

        let (changes, notes) = hand_pushed_changes("acme", &extra, false);
        assert_eq!(changes.len(), 2);
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].address, "image acme/redis:hand");
        assert!(
            notes[0].message.starts_with("tag pushed by hand"),
            "{notes:?}"
        );
        let (changes, notes) = hand_pushed_changes("acme", &extra, true);
        assert!(notes.is_empty());
        assert_eq!(
            changes[0],
            Change::DeleteTag {
                repository: "redis".into(),
                tag: "hand".into(),
                digest: "sha256:2".into()
            }
        );
    }

    #[test]
    fn signature_tags_are_recognised_exactly() {
        let hex = "0123456789abcdef".repeat(4);
        for ok in ["sig", "att", "sbom"] {
            assert!(is_signature_tag(&format!("sha256-{hex}.{ok}")));
        }
        assert!(!is_signature_tag(&format!("sha256-{hex}.txt")));
        assert!(!is_signature_tag(&format!("sha256-{}.sig", &hex[1..])));
        assert!(!is_signature_tag(&format!("sha256-{}x.sig", &hex[1..])));
        assert!(!is_signature_tag("latest"));
        assert!(!is_signature_tag(&format!("sha512-{hex}.sig")));
    }
}
