//! Copying one image (a tag or digest) from a source to a target repository by digest, byte for
//! byte: children before their index, the tag last, so a tag never points at incomplete content.
//! This module owns the orchestration (options, report, errors, the manifest walk and the tag);
//! its parts own the rest:
//! - `progress`: the [`Progress`] callbacks a copy makes per image;
//! - `ledger`: the [`BlobLedger`] shared by several copies (one `copy_images` call, or one
//!   apply), which remembers which target repository already has each blob, so a blob from another
//!   registry is uploaded once per target registry and mounted from that sibling repository into
//!   the others;
//! - `blobs`: getting each blob into the target: skipped when already there, cross-repository
//!   mounted on the same registry, otherwise streamed GET -> monolithic PUT (the upload requests
//!   are [`crate::registry::upload`]'s);
//! - `verify`: the sha256 and size of a blob checked while it streams;
//! - `signatures`: signatures and attestations (cosign tags, OCI referrers) copied with the image.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use reqwest::Method;

use super::client::{RegistryClient, RegistryError, Scope};
use super::manifest::{self, Descriptor, Parsed};
use super::reference::Reference;

mod blobs;
mod ledger;
mod progress;
mod signatures;
mod verify;

pub use ledger::BlobLedger;
pub use progress::{NoProgress, Progress};
pub use signatures::MAX_REFERRERS;
use signatures::copy_signatures;

/// Copy options.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Only these platforms (`os/arch[/variant]`) of an index: builds a new index, so the target
    /// digest then differs from the source's. `None` copies the index as-is.
    pub platforms: Option<Vec<String>>,
    /// Blobs transferred at once.
    pub blob_concurrency: usize,
    /// Child manifests of an index copied at once.
    pub image_concurrency: usize,
    /// Attempts per blob transfer (the whole GET -> PUT is retried on transient failures).
    pub blob_attempts: u32,
    /// Also copy the image's signatures and attestations: cosign tags `sha256-<hex>.sig`, `.att`
    /// and `.sbom` of the image digest and of each child of an index, and OCI referrers (the
    /// referrers API, or the referrers tag schema `sha256-<hex>` where the API is missing).
    pub signatures: bool,
    /// Shared by the copies of one apply: blobs already put into a sibling repository of the target
    /// registry are mounted from there instead of uploaded again. `None`: each copy on its own
    /// ([`copy_images`] then uses one ledger for all its images).
    pub ledger: Option<Arc<BlobLedger>>,
    /// The target repository is known to be empty (created by the same apply, moments ago): its
    /// tag, manifests and blobs are not asked for (no HEADs), only written. Wrong only if another
    /// client pushed into it meanwhile, and then harmless: what exists is written again.
    pub empty_target: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            platforms: None,
            // 8 blobs in flight keeps a long-latency link busy without tripping registry
            // per-client limits; 2 children of an index at once, so their blobs share those 8.
            blob_concurrency: 8,
            image_concurrency: 2,
            // A blob attempt (HEAD, POST, streamed GET -> PUT) fails at a 10% fault rate about 1 in
            // 8 times (the single-shot PUT and a cut-short GET body; the rest retry per request).
            // Measured through the fault proxy at 10% (3-platform index, 8 blobs, ~60 requests,
            // 10 seeds each): 1 attempt failed 7 of 10 copies, 3 and 5 attempts failed none.
            // 5 rather than 3 because an org mirror moves thousands of blobs: 0.125^3 = 2e-3 per
            // blob would still fail a few, 0.125^5 = 3e-5 does not; a retry costs only latency.
            blob_attempts: 5,
            signatures: false,
            ledger: None,
            empty_target: false,
        }
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// The digest the target tag now points at.
    pub digest: String,
    pub blobs_copied: u64,
    pub blobs_mounted: u64,
    pub blobs_skipped: u64,
    /// Blob bytes streamed through this process.
    pub bytes_copied: u64,
    pub manifests_pushed: u64,
    pub manifests_skipped: u64,
    /// False when the tag already pointed at the digest.
    pub tag_updated: bool,
    /// Digests of the index's children (empty for an image manifest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    /// Signature and attestation artifacts (cosign tags, referrers) copied by this run; those
    /// already in the target are not counted (only with [`CopyOptions::signatures`]).
    pub signatures_copied: u64,
}

/// Why a copy failed. When it fails, the target tag was not touched.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "{source_repo}: blob {expected} has content with digest {actual}; the image was not copied and nothing was tagged"
    )]
    DigestMismatch {
        source_repo: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{source_repo}: {what} {digest} is {actual} bytes but its descriptor says {expected}; the image was not copied and nothing was tagged"
    )]
    SizeMismatch {
        source_repo: String,
        what: &'static str,
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("{0}")]
    Invalid(String),
}

impl CopyError {
    fn is_transient(&self) -> bool {
        match self {
            CopyError::Registry(RegistryError::Transport { .. }) => true,
            CopyError::Registry(e) => e.status().is_some_and(|s| s >= 500 || s == 429 || s == 408),
            _ => false,
        }
    }
}

struct Job<'a> {
    client: &'a RegistryClient,
    source: &'a Reference,
    target: &'a Reference,
    src_scopes: Vec<Scope>,
    dst_scopes: Vec<Scope>,
    same_registry: bool,
    options: &'a CopyOptions,
    progress: &'a dyn Progress,
    image: String,
    report: Mutex<CopyReport>,
    /// Per blob digest of this image: a lock held while that blob is being put into the target,
    /// around a flag set once it is there. Children of an index that share a layer thus transfer
    /// it once (the others wait, then count it as skipped). `copy_blobs` inserts the digest
    /// when it first adds the blob's size to the image's progress total, so a blob listed by
    /// several manifests of the image is counted once.
    blob_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<bool>>>>,
}

/// Copies `source` (tag or digest) to `target` (which must carry a tag), by digest.
pub async fn copy_image(
    client: &RegistryClient,
    source: &Reference,
    target: &Reference,
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport, CopyError> {
    let Some(tag) = target.tag.clone() else {
        return Err(CopyError::Invalid(format!(
            "target {target} needs a tag to copy to"
        )));
    };
    let mut report = copy_one(client, source, target, Some(&tag), options, progress).await?;
    if options.signatures {
        report.signatures_copied =
            copy_signatures(client, source, target, &report, options).await?;
    }
    Ok(report)
}

/// Copies one manifest (and what it references) by digest, then points `tag` at it when given.
async fn copy_one(
    client: &RegistryClient,
    source: &Reference,
    target: &Reference,
    tag: Option<&str>,
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport, CopyError> {
    if options.blob_concurrency == 0 || options.image_concurrency == 0 || options.blob_attempts == 0
    {
        return Err(CopyError::Invalid(
            "copy concurrency and attempts must be at least 1".into(),
        ));
    }
    let same_registry = client.base_url(source) == client.base_url(target);
    // On one registry, ONE token must hold pull on the source and pull,push on the target for a
    // cross-repository mount to be allowed: every request then uses that scope set.
    let (src_scopes, dst_scopes) = if same_registry {
        let both = vec![
            Scope::push(&target.repository),
            Scope::pull(&source.repository),
        ];
        (both.clone(), both)
    } else {
        (
            vec![Scope::pull(&source.repository)],
            vec![Scope::push(&target.repository)],
        )
    };
    let image = target.to_string();
    let job = Job {
        client,
        source,
        target,
        src_scopes,
        dst_scopes,
        same_registry,
        options,
        progress,
        image: image.clone(),
        report: Mutex::new(CopyReport::default()),
        blob_locks: Mutex::new(HashMap::new()),
    };
    progress.image_started(&image);
    let result = job.run(tag).await;
    progress.image_finished(&image, result.is_ok());
    result?;
    let report = job.report.lock().map(|r| r.clone()).unwrap_or_default();
    Ok(report)
}

/// Copies several images, at most `options.image_concurrency` at once. Results come back in the
/// order of `pairs`; one failure does not stop the others.
pub async fn copy_images(
    client: &RegistryClient,
    pairs: &[(Reference, Reference)],
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Vec<Result<CopyReport, CopyError>> {
    let concurrency = options.image_concurrency.max(1);
    let shared;
    let options = if options.ledger.is_some() {
        options
    } else {
        shared = CopyOptions {
            ledger: Some(Arc::default()),
            ..options.clone()
        };
        &shared
    };
    let mut indexed: Vec<(usize, Result<CopyReport, CopyError>)> =
        futures::stream::iter(pairs.iter().enumerate())
            .map(|(i, (src, dst))| async move {
                (i, copy_image(client, src, dst, options, progress).await)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, r)| r).collect()
}

impl Job<'_> {
    fn tally(&self, f: impl FnOnce(&mut CopyReport)) {
        if let Ok(mut r) = self.report.lock() {
            f(&mut r);
        }
    }

    /// What the target's tag (or digest) points at now (`None`: missing).
    async fn current(&self, tag_ref: &Reference) -> Result<Option<String>, CopyError> {
        if self.options.empty_target {
            return Ok(None);
        }
        match self.client.resolve_scoped(tag_ref, &self.dst_scopes).await {
            Ok(r) => Ok(Some(r.digest)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn run(&self, tag: Option<&str>) -> Result<(), CopyError> {
        let tag_ref_of = |digest: &str| match tag {
            Some(tag) => self.target.with_tag(tag),
            None => self.target.with_digest(digest),
        };
        // A source named by digest, copied whole, has that digest in the target too: the target's
        // two HEADs go out with the source manifest GET instead of after it (two round trips
        // fewer per image; the GET's digest is still checked below).
        let (fetched, early) = match (&self.options.platforms, &self.source.digest) {
            (None, Some(digest)) => {
                let tag_ref = tag_ref_of(digest);
                let (fetched, current, has) = futures::join!(
                    self.client.get_manifest_raw(self.source, &self.src_scopes),
                    self.current(&tag_ref),
                    self.target_has_manifest(digest),
                );
                (fetched, Some((digest.clone(), current?, has?)))
            }
            _ => (
                self.client
                    .get_manifest_raw(self.source, &self.src_scopes)
                    .await,
                None,
            ),
        };
        let (bytes, header_type) = fetched?;
        let source_digest = manifest::sha256_digest(&bytes);
        if let Some(want) = &self.source.digest
            && want != &source_digest
        {
            return Err(CopyError::DigestMismatch {
                source_repo: self.source.to_string(),
                expected: want.clone(),
                actual: source_digest,
            });
        }
        let (parsed, media_type) = manifest::parse(&bytes, &header_type)
            .map_err(|e| CopyError::Invalid(format!("{}: {e}", self.source)))?;
        let (bytes, parsed) = match (&self.options.platforms, parsed) {
            (Some(platforms), Parsed::Index { .. }) => {
                let filtered = manifest::filter_index(&bytes, platforms)
                    .map_err(|e| CopyError::Invalid(format!("{}: {e}", self.source)))?;
                let (p, _) = manifest::parse(&filtered, &media_type)
                    .map_err(|e| CopyError::Invalid(e.to_string()))?;
                (filtered, p)
            }
            (_, p) => (bytes, p),
        };
        let digest = manifest::sha256_digest(&bytes);
        self.tally(|r| r.digest = digest.clone());

        // Is the tag already there?
        if let Parsed::Index { children } = &parsed {
            let digests = children.iter().map(|c| c.digest.clone()).collect();
            self.tally(|r| r.children = digests);
        }
        let early = early.filter(|(d, _, _)| *d == digest);
        let current = match &early {
            Some((_, current, _)) => current.clone(),
            None => self.current(&tag_ref_of(&digest)).await?,
        };
        if current.as_deref() == Some(digest.as_str()) {
            self.tally(|r| r.manifests_skipped += 1);
            return Ok(());
        }
        let has = match early {
            Some((_, _, has)) => has,
            None => self.target_has_manifest(&digest).await?,
        };

        if !has {
            match parsed {
                Parsed::Index { children } => {
                    let results: Vec<Result<(), CopyError>> = futures::stream::iter(children)
                        .map(|child| async move { self.copy_child(&child).await })
                        .buffer_unordered(self.options.image_concurrency)
                        .collect()
                        .await;
                    results.into_iter().collect::<Result<Vec<()>, _>>()?;
                }
                Parsed::Image { blobs } => self.copy_blobs(blobs).await?,
            }
        } else {
            self.tally(|r| r.manifests_skipped += 1);
        }
        // Last, once everything it references is there, so a tag only ever points at complete
        // content: one PUT by tag stores the manifest under its digest too (a PUT by digest first
        // would be a round trip more per image); without a tag, the PUT by digest.
        match (tag, has) {
            (Some(tag), _) => self.put_manifest(tag, &bytes, &media_type, !has).await?,
            (None, false) => {
                self.put_manifest(&digest, &bytes, &media_type, true)
                    .await?
            }
            (None, true) => {}
        }
        self.tally(|r| r.tag_updated = true);
        Ok(())
    }

    async fn target_has_manifest(&self, digest: &str) -> Result<bool, CopyError> {
        if self.options.empty_target {
            return Ok(false);
        }
        match self
            .client
            .resolve_scoped(&self.target.with_digest(digest), &self.dst_scopes)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn copy_child(&self, child: &Descriptor) -> Result<(), CopyError> {
        if self.target_has_manifest(&child.digest).await? {
            self.tally(|r| r.manifests_skipped += 1);
            return Ok(());
        }
        let src = self.source.with_digest(&child.digest);
        let (bytes, header_type) = self.client.get_manifest_raw(&src, &self.src_scopes).await?;
        let actual = manifest::sha256_digest(&bytes);
        if child.size != bytes.len() as u64 && actual == child.digest {
            return Err(CopyError::SizeMismatch {
                source_repo: self.source.to_string(),
                what: "manifest",
                digest: child.digest.clone(),
                expected: child.size,
                actual: bytes.len() as u64,
            });
        }
        if actual != child.digest {
            return Err(CopyError::DigestMismatch {
                source_repo: self.source.to_string(),
                expected: child.digest.clone(),
                actual,
            });
        }
        let (parsed, media_type) = manifest::parse(&bytes, &header_type)
            .map_err(|e| CopyError::Invalid(format!("{src}: {e}")))?;
        match parsed {
            Parsed::Image { blobs } => self.copy_blobs(blobs).await?,
            Parsed::Index { .. } => {
                return Err(CopyError::Invalid(format!(
                    "{src}: nested indexes are not supported"
                )));
            }
        }
        self.put_manifest(&child.digest, &bytes, &media_type, true)
            .await
    }

    async fn put_manifest(
        &self,
        tag_or_digest: &str,
        bytes: &[u8],
        media_type: &str,
        new_manifest: bool,
    ) -> Result<(), CopyError> {
        let url = self.client.manifest_url(self.target, tag_or_digest);
        self.client
            .send(
                self.target,
                &self.dst_scopes,
                Method::PUT,
                &url,
                |rb| {
                    rb.header(reqwest::header::CONTENT_TYPE, media_type)
                        .body(bytes.to_vec())
                },
                |s| s.is_success(),
            )
            .await?;
        if new_manifest {
            self.tally(|r| r.manifests_pushed += 1);
        }
        Ok(())
    }
}
