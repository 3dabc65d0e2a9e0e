//! Reads the facts of mirrored tags that moved ([`crate::plan::facts`]) from their registries:
//! a HEAD of each side (free), the index GET (not a pull on Docker Hub, by the rule
//! [`super::pulls_of_copy`] follows), one GET per platform manifest (a pull each on Docker Hub) and
//! one GET per config blob (not a pull), each child and config read once however many sides share
//! it. Reads go one at a time so the pull count Docker Hub announces (`ratelimit-remaining`) is
//! current before each pull: no platform manifest is read on Docker Hub once the count is at or
//! below [`FactsLimits::keep_pulls`], and at most [`FactsLimits::max_images`] moved tags are read per
//! run; what was not read says why ([`Skipped`]). A failing read never fails the command: it
//! becomes [`Skipped::Failed`].
//!
//! Bounds: manifests are capped by the client ([`crate::registry::client::MAX_MANIFEST_BYTES`]),
//! config blobs at [`MAX_CONFIG_BYTES`] (by the descriptor's size before the request and while
//! reading) and checked against their digest; attestation manifests of an index are not platforms
//! and are not read; label and `created` values are cut to [`MAX_VALUE_BYTES`] here and escaped by
//! the renderers.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::Method;

use crate::plan::facts::{FactsDiff, ImageFacts, LABELS, PlatformFacts, Signature, Skipped};
use crate::registry::client::{RegistryClient, RegistryError, Scope, read_capped};
use crate::registry::manifest::{self, Parsed};
use crate::registry::reference::{DOCKER_HUB, Reference};

/// The largest config blob read (its descriptor's size, and while streaming).
pub const MAX_CONFIG_BYTES: usize = 4 << 20;
/// The most bytes kept of one label or `created` value.
pub const MAX_VALUE_BYTES: usize = 1024;

/// How much reading the facts may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactsLimits {
    /// The most moved tags read per run (the rest: [`Skipped::ImageCap`]).
    pub max_images: usize,
    /// Docker Hub pulls never spent by the facts: no platform manifest is read on Docker Hub once
    /// `ratelimit-remaining` is at or below this.
    pub keep_pulls: u64,
}

impl Default for FactsLimits {
    fn default() -> Self {
        FactsLimits {
            max_images: 10,
            keep_pulls: 10,
        }
    }
}

/// One moved tag to read: the organization's `repository:tag`, the upstream repository, the old and
/// new references (with their digests) and the mirror's platform filter.
#[derive(Debug, Clone)]
pub struct Moved {
    pub image: String,
    pub source: String,
    pub old: Reference,
    pub new: Reference,
    pub platforms: Option<Vec<String>>,
    /// The signature gate's verdict on the new digest: the lock records only a digest that passed
    /// its mirror's `verify` (`LockedImage::verified`), so a moved entry is verified or unchecked.
    pub signature: Signature,
}

/// What one platform manifest says.
#[derive(Debug, Clone)]
struct Child {
    size: u64,
    layers: Vec<String>,
    annotations: BTreeMap<String, String>,
    config: Option<Config>,
}

/// What one config blob says.
#[derive(Debug, Clone, Default)]
struct Config {
    platform: Option<String>,
    created: Option<String>,
    labels: BTreeMap<String, String>,
}

#[derive(Default)]
struct Cache {
    children: HashMap<String, Child>,
    configs: HashMap<String, Config>,
}

/// Reads both sides of every moved tag, in order, within `limits`.
pub async fn read(
    client: &RegistryClient,
    moved: &[Moved],
    limits: &FactsLimits,
) -> Vec<FactsDiff> {
    let mut cache = Cache::default();
    let mut out = Vec::new();
    for (i, m) in moved.iter().enumerate() {
        let digest = |r: &Reference| r.digest.clone().unwrap_or_default();
        let (old, new) = if i >= limits.max_images {
            let why = Skipped::ImageCap {
                max: limits.max_images,
            };
            (
                ImageFacts::unread(&digest(&m.old), why.clone()),
                ImageFacts::unread(&digest(&m.new), why),
            )
        } else {
            let old = side(client, &m.old, m.platforms.as_deref(), limits, &mut cache).await;
            let new = side(client, &m.new, m.platforms.as_deref(), limits, &mut cache).await;
            (old, new)
        };
        out.push(FactsDiff {
            image: m.image.clone(),
            source: m.source.clone(),
            old,
            new,
            signature: m.signature.clone(),
        });
    }
    out
}

/// Whether a pull may be spent on `reference`'s registry: `Err` with the remaining count when
/// Docker Hub said it is at or below the reserve.
fn pull_allowed(client: &RegistryClient, reference: &Reference, keep: u64) -> Result<(), u64> {
    if reference.registry != DOCKER_HUB {
        return Ok(());
    }
    match client.ratelimit_remaining() {
        Some(n) if n <= keep => Err(n),
        _ => Ok(()),
    }
}

fn budget(client: &RegistryClient, reference: &Reference, limits: &FactsLimits) -> Option<Skipped> {
    pull_allowed(client, reference, limits.keep_pulls)
        .err()
        .map(|remaining| Skipped::PullBudget {
            remaining,
            keep: limits.keep_pulls,
        })
}

async fn side(
    client: &RegistryClient,
    reference: &Reference,
    filter: Option<&[String]>,
    limits: &FactsLimits,
    cache: &mut Cache,
) -> ImageFacts {
    let digest = reference.digest.clone().unwrap_or_default();
    match read_side(client, reference, filter, limits, cache).await {
        Ok(f) => f,
        Err(e) => ImageFacts::unread(&digest, Skipped::Failed { error: e }),
    }
}

fn wanted(filter: Option<&[String]>, key: &str, short: &str) -> bool {
    filter.is_none_or(|want| want.iter().any(|w| w == key || w == short))
}

async fn read_side(
    client: &RegistryClient,
    reference: &Reference,
    filter: Option<&[String]>,
    limits: &FactsLimits,
    cache: &mut Cache,
) -> Result<ImageFacts, String> {
    let digest = reference.digest.clone().unwrap_or_default();
    let scopes = [Scope::pull(&reference.repository)];
    // A HEAD (free) says whether the GET would be a pull: an image manifest is, an index is not.
    let head = client
        .resolve_scoped(reference, &scopes)
        .await
        .map_err(|e| e.to_string())?;
    let is_index = [manifest::OCI_INDEX, manifest::DOCKER_LIST].contains(&head.media_type.as_str());
    let mut facts = ImageFacts {
        digest: digest.clone(),
        ..ImageFacts::default()
    };
    if !is_index {
        if let Some(why) = budget(client, reference, limits) {
            return Ok(ImageFacts::unread(&digest, why));
        }
        let child = read_child(client, reference, &digest, cache).await?;
        let platform = child
            .config
            .as_ref()
            .and_then(|c| c.platform.clone())
            .unwrap_or_else(|| "unknown".to_string());
        facts.platforms.push(PlatformFacts {
            platform,
            digest: digest.clone(),
            size: Some(child.size),
            layers: Some(child.layers.clone()),
        });
        merge(&mut facts, &child, &BTreeMap::new());
        return Ok(facts);
    }
    let (bytes, header_type) = client
        .get_manifest_raw(reference, &scopes)
        .await
        .map_err(|e| e.to_string())?;
    // The facts are of the digest the plan copies or the lock records, not of whatever the GET
    // served: its bytes must hash to that digest.
    if manifest::sha256_digest(&bytes) != digest {
        return Err(format!(
            "{reference}: the index served does not match its digest"
        ));
    }
    // Bounds and digest forms first (the copy's own checks), then the annotations.
    let (parsed, _) = manifest::parse(&bytes, &header_type)?;
    if !matches!(parsed, Parsed::Index { .. }) {
        return Err(format!("{reference}: the index is an image manifest"));
    }
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a valid image index: {e}"))?;
    let index_annotations = kept_labels(index.annotations().as_ref());
    let mut children: Vec<(String, String)> = Vec::new();
    for c in index.manifests() {
        let Some(p) = c.platform().as_ref() else {
            continue;
        };
        let attestation = c.annotations().as_ref().is_some_and(|a| {
            a.get("vnd.docker.reference.type")
                .is_some_and(|t| t == "attestation-manifest")
        });
        let (os, arch) = (p.os().to_string(), p.architecture().to_string());
        if attestation || (os == "unknown" && arch == "unknown") {
            continue;
        }
        let short = format!("{os}/{arch}");
        let key = match p.variant() {
            Some(v) if !v.is_empty() => format!("{short}/{v}"),
            _ => short.clone(),
        };
        if wanted(filter, &key, &short) {
            children.push((key, c.digest().to_string()));
        }
    }
    children.sort();
    for (key, child_digest) in children {
        let mut p = PlatformFacts {
            platform: key,
            digest: child_digest.clone(),
            size: None,
            layers: None,
        };
        if facts.skipped.is_none() && !cache.children.contains_key(&child_digest) {
            facts.skipped = budget(client, reference, limits);
        }
        if facts.skipped.is_none() || cache.children.contains_key(&child_digest) {
            let child = read_child(
                client,
                &reference.with_digest(&child_digest),
                &child_digest,
                cache,
            )
            .await?;
            p.size = Some(child.size);
            p.layers = Some(child.layers.clone());
            merge(&mut facts, &child, &index_annotations);
        }
        facts.platforms.push(p);
    }
    // Index annotations count even when no platform was read.
    for (k, v) in index_annotations {
        facts.labels.entry(k).or_insert(v);
    }
    Ok(facts)
}

/// Labels: the config's first, then the manifest's annotations, then the index's; `created`: the
/// newest.
fn merge(facts: &mut ImageFacts, child: &Child, index: &BTreeMap<String, String>) {
    if let Some(c) = &child.config {
        for (k, v) in &c.labels {
            facts.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(created) = &c.created
            && facts.created.as_ref().is_none_or(|have| created > have)
        {
            facts.created = Some(created.clone());
        }
    }
    for (k, v) in child.annotations.iter().chain(index) {
        facts.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

fn bounded(s: &str) -> String {
    if s.len() <= MAX_VALUE_BYTES {
        return s.to_string();
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The [`LABELS`] of a label or annotation map.
fn kept_labels(
    map: Option<&std::collections::HashMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(map) = map else {
        return BTreeMap::new();
    };
    LABELS
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (k.to_string(), bounded(v))))
        .collect()
}

/// An image manifest (read once per digest) and its config blob.
async fn read_child(
    client: &RegistryClient,
    reference: &Reference,
    digest: &str,
    cache: &mut Cache,
) -> Result<Child, String> {
    if let Some(c) = cache.children.get(digest) {
        return Ok(c.clone());
    }
    let scopes = [Scope::pull(&reference.repository)];
    let (bytes, header_type) = client
        .get_manifest_raw(reference, &scopes)
        .await
        .map_err(|e| e.to_string())?;
    if manifest::sha256_digest(&bytes) != digest {
        return Err(format!(
            "{reference}: the manifest does not match its digest"
        ));
    }
    let Parsed::Image { blobs } = manifest::parse(&bytes, &header_type)?.0 else {
        return Err(format!("{reference}: a platform manifest is an index"));
    };
    let image: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a valid image manifest: {e}"))?;
    let layers: Vec<String> = blobs.iter().skip(1).map(|b| b.digest.clone()).collect();
    let size = blobs
        .iter()
        .skip(1)
        .fold(0u64, |sum, b| sum.saturating_add(b.size));
    let config_digest = image.config().digest().to_string();
    let config = match cache.configs.get(&config_digest) {
        Some(c) => Some(c.clone()),
        None => {
            let c = read_config(client, reference, &config_digest, image.config().size()).await?;
            cache.configs.insert(config_digest, c.clone());
            Some(c)
        }
    };
    let child = Child {
        size,
        layers,
        annotations: kept_labels(image.annotations().as_ref()),
        config,
    };
    cache.children.insert(digest.to_string(), child.clone());
    Ok(child)
}

/// The part of an image config read (Docker's and OCI's config share these fields).
#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(serde::Deserialize)]
struct RunConfig {
    #[serde(rename = "Labels", default)]
    labels: Option<std::collections::HashMap<String, String>>,
}

/// GETs a config blob (not a pull), at most [`MAX_CONFIG_BYTES`], checked against its digest.
async fn read_config(
    client: &RegistryClient,
    reference: &Reference,
    digest: &str,
    size: u64,
) -> Result<Config, String> {
    if size > MAX_CONFIG_BYTES as u64 {
        return Err(format!(
            "{reference}: the config blob is {size} bytes, more than the {} MiB vetted reads",
            MAX_CONFIG_BYTES >> 20
        ));
    }
    let url = client.blob_url(reference, digest);
    let resp = client
        .send(
            reference,
            &[Scope::pull(&reference.repository)],
            Method::GET,
            &url,
            |rb| rb,
            |s| s.is_success(),
        )
        .await
        .map_err(|e: RegistryError| e.to_string())?;
    let bytes = read_capped(resp, MAX_CONFIG_BYTES).await.map_err(|_| {
        format!(
            "{reference}: the config blob could not be read within {} MiB",
            MAX_CONFIG_BYTES >> 20
        )
    })?;
    if manifest::sha256_digest(&bytes) != digest {
        return Err(format!(
            "{reference}: the config blob does not match its digest"
        ));
    }
    let file: ConfigFile =
        serde_json::from_slice(&bytes).map_err(|e| format!("{reference}: config blob: {e}"))?;
    let platform = match (&file.os, &file.architecture) {
        (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => {
            Some(bounded(&match &file.variant {
                Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
                _ => format!("{os}/{arch}"),
            }))
        }
        _ => None,
    };
    Ok(Config {
        platform,
        created: file.created.as_deref().map(bounded),
        labels: kept_labels(file.config.and_then(|c| c.labels).as_ref()),
    })
}

/// The mirrored tags a plan moves (copy rows with an `old_digest`), in plan order: the old side
/// read from the organization's copy (`org/repository@old`, which exists whatever the upstream
/// kept, a platform-filtered index included), the new side from the source with the digest the
/// plan copies. `signature` gives the gate's verdict on copying a source into a repository.
pub fn moved_in_plan(
    plan: &crate::plan::Plan,
    signature: &dyn Fn(&str, &Reference) -> Signature,
) -> Vec<Moved> {
    let mut out = Vec::new();
    for change in &plan.changes {
        let crate::plan::Change::CopyImage {
            repository,
            tag,
            source,
            old_digest: Some(old),
            platforms,
            ..
        } = change
        else {
            continue;
        };
        let (Ok(mut old_ref), Ok(new_ref)) = (
            super::target_reference(&plan.org, repository, tag),
            Reference::parse(source),
        ) else {
            continue;
        };
        old_ref.digest = Some(old.clone());
        out.push(Moved {
            image: format!("{repository}:{tag}"),
            source: format!("{}/{}", new_ref.registry, new_ref.repository),
            signature: signature(repository, &new_ref),
            old: old_ref,
            new: new_ref,
            platforms: platforms.clone(),
        });
    }
    out
}

/// The moved tags between two lock files: entries of `new` whose repository, tag and source the
/// old lock has with another digest, in the new lock's order.
pub fn moved_in_lock(
    old: &crate::policy::lock::Lockfile,
    new: &crate::policy::lock::Lockfile,
    policy: &crate::policy::Policy,
) -> Vec<Moved> {
    let mut out = Vec::new();
    for n in &new.images {
        let Some(o) = old.get(&n.repository, &n.tag) else {
            continue;
        };
        if o.source != n.source || o.digest == n.digest {
            continue;
        }
        let (Ok(old_ref), Ok(new_ref)) = (
            Reference::parse(&format!("{}@{}", o.source, o.digest)),
            Reference::parse(&format!("{}@{}", n.source, n.digest)),
        ) else {
            continue;
        };
        let platforms = policy
            .desired
            .repositories
            .get(&n.repository)
            .and_then(|r| r.mirror.as_ref())
            .and_then(|m| m.platforms.clone());
        out.push(Moved {
            image: format!("{}:{}", n.repository, n.tag),
            source: n.source.clone(),
            old: old_ref,
            new: new_ref,
            platforms,
            signature: match &n.verified {
                Some(by) => Signature::Verified { by: by.clone() },
                None => Signature::NotChecked,
            },
        });
    }
    out
}
