//! Copying one image (a tag or digest) from a source to a target repository by digest, byte for
//! byte: children before their index, the tag last, so a tag never points at incomplete content.
//! Blobs already in the target are skipped, blobs on the same registry are cross-repository
//! mounted, others are streamed GET -> monolithic PUT with the sha256 verified while streaming.
//! A [`BlobLedger`] shared by several copies (one `copy_images` call, or one apply) remembers which
//! target repository already has each blob, so a blob from another registry is uploaded once per
//! target registry and mounted from that sibling repository into the others.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::client::{
    BodyError, MAX_MANIFEST_BYTES, RegistryClient, RegistryError, Scope, error_chain, header_str,
    read_capped,
};
use super::manifest::{self, Descriptor, Parsed};
use super::reference::Reference;

/// Receives progress per image (the CLI draws bars with it). Implementations must be cheap.
pub trait Progress: Send + Sync {
    /// An image (identified by its target reference) starts.
    fn image_started(&self, _image: &str) {}
    /// `n` more bytes of blobs were found to belong to the image (called per image manifest read,
    /// so an index's total grows as its children are read).
    fn add_total(&self, _image: &str, _n: u64) {}
    /// `n` more bytes were transferred for the image.
    fn bytes(&self, image: &str, n: u64);
    /// The image is done (`ok` false when it failed).
    fn image_finished(&self, _image: &str, _ok: bool) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn bytes(&self, _image: &str, _n: u64) {}
}

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
}

/// Which repositories of each target registry received which blob (uploaded, mounted or found
/// present) during the copies sharing it. Per blob digest one async lock: while the first copy of a
/// blob into a registry transfers it, other copies of the same blob wait, then mount it from the
/// repository that got it. Only successes are recorded; a failed transfer leaves the entry empty
/// and the next copy transfers the blob itself.
#[derive(Default)]
pub struct BlobLedger {
    /// (target base URL, blob digest) -> repositories holding it, in the order they got it.
    entries: Mutex<HashMap<(String, String), Holders>>,
    /// (target base URL, repository, blob digest) -> held while one copy puts that blob into that
    /// repository. Two images of one repository sharing a layer then never write the same blob link
    /// at once (distribution's filesystem storage truncates and rewrites a link in place, so two
    /// concurrent mounts of one blob into one repository can leave it unreadable for a moment, and
    /// a manifest PUT in that moment fails with MANIFEST_BLOB_UNKNOWN); the second finds the blob
    /// present by HEAD instead.
    in_repo: Mutex<HashMap<(String, String, String), InRepo>>,
}

/// Held while one copy puts one blob into one repository.
type InRepo = Arc<tokio::sync::Mutex<()>>;

/// The repositories holding one blob, behind the blob's lock.
type Holders = Arc<tokio::sync::Mutex<Vec<String>>>;

impl std::fmt::Debug for BlobLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("BlobLedger").field("blobs", &n).finish()
    }
}

impl BlobLedger {
    fn in_repo(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
    ) -> Arc<tokio::sync::Mutex<()>> {
        match self.in_repo.lock() {
            Ok(mut m) => m
                .entry((
                    registry.to_string(),
                    repository.to_string(),
                    digest.to_string(),
                ))
                .or_default()
                .clone(),
            Err(_) => Arc::default(),
        }
    }

    fn entry(&self, registry: &str, digest: &str) -> Holders {
        match self.entries.lock() {
            Ok(mut m) => m
                .entry((registry.to_string(), digest.to_string()))
                .or_default()
                .clone(),
            // A poisoned map only loses sharing: this copy then works on its own.
            Err(_) => Arc::default(),
        }
    }
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
    /// One lock per blob digest, so children of an index sharing a layer transfer it once.
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

/// The cosign tag suffixes copied with [`CopyOptions::signatures`]; `""` is the OCI referrers tag
/// schema (`sha256-<hex>`, an index of the referrers).
const SIGNATURE_SUFFIXES: [&str; 4] = [".sig", ".att", ".sbom", ""];

/// The most referrers (signatures, attestations) copied for one manifest; a longer list is an
/// error rather than thousands of requests.
pub const MAX_REFERRERS: usize = 1_000;

/// Copies the signature artifacts of the image digest and of its children (see
/// [`CopyOptions::signatures`]); returns how many were copied (not already in the target).
async fn copy_signatures(
    client: &RegistryClient,
    source: &Reference,
    target: &Reference,
    image: &CopyReport,
    options: &CopyOptions,
) -> Result<u64, CopyError> {
    // The artifacts are small and belong to the image: no progress of their own.
    let progress = &NoProgress;
    // The artifacts are themselves copied plainly (no platform filter, no recursion).
    let plain = CopyOptions {
        platforms: None,
        signatures: false,
        ..options.clone()
    };
    let src_scopes = [Scope::pull(&source.repository)];
    let mut copied = 0;
    let mut digests = vec![image.digest.clone()];
    digests.extend(image.children.iter().cloned());
    for digest in &digests {
        // OCI referrers API (404 or 400 = unsupported or none: the tag schema below covers it).
        let url = format!(
            "{}/v2/{}/referrers/{digest}",
            client.base_url(source),
            source.repository
        );
        let resp = client
            .send(
                source,
                &src_scopes,
                Method::GET,
                &url,
                |rb| rb.header(reqwest::header::ACCEPT, super::manifest::OCI_INDEX),
                |s| s.is_success() || s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            )
            .await?;
        if resp.status().is_success() {
            let body = read_capped(resp, MAX_MANIFEST_BYTES)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge => RegistryError::Protocol(format!(
                        "{url}: the referrers list is larger than {} MiB",
                        MAX_MANIFEST_BYTES >> 20
                    )),
                    BodyError::Transport(e) => RegistryError::Transport {
                        method: "GET".into(),
                        url: url.clone(),
                        message: error_chain(&e),
                    },
                })?;
            let referrers = referrer_digests(&body);
            if referrers.len() > MAX_REFERRERS {
                return Err(RegistryError::Protocol(format!(
                    "{url}: {} referrers, more than the {MAX_REFERRERS} vetted copies for one image",
                    referrers.len()
                ))
                .into());
            }
            for referrer in referrers {
                let rep = copy_one(
                    client,
                    &source.with_digest(&referrer),
                    &target.with_digest(&referrer),
                    None,
                    &plain,
                    progress,
                )
                .await?;
                copied += u64::from(rep.tag_updated);
            }
        }
        for suffix in SIGNATURE_SUFFIXES {
            let tag = format!("{}{suffix}", digest.replace(':', "-"));
            let src = source.with_tag(&tag);
            match client.resolve_scoped(&src, &src_scopes).await {
                Ok(_) => {}
                Err(e) if e.status() == Some(404) => continue,
                Err(e) => return Err(e.into()),
            }
            let dst = target.with_tag(&tag);
            let rep = Box::pin(copy_one(client, &src, &dst, Some(&tag), &plain, progress)).await?;
            copied += u64::from(rep.tag_updated);
        }
    }
    Ok(copied)
}

/// The digests listed by a referrers response (an OCI index); unreadable bodies list none.
fn referrer_digests(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Index {
        #[serde(default)]
        manifests: Vec<Desc>,
    }
    #[derive(serde::Deserialize)]
    struct Desc {
        digest: String,
    }
    serde_json::from_slice::<Index>(body)
        .map(|i| {
            i.manifests
                .into_iter()
                .map(|d| d.digest)
                .filter(|d| super::reference::validate_digest(d).is_ok())
                .collect()
        })
        .unwrap_or_default()
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

    async fn run(&self, tag: Option<&str>) -> Result<(), CopyError> {
        let (bytes, header_type) = self
            .client
            .get_manifest_raw(self.source, &self.src_scopes)
            .await?;
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
        let tag_ref = match tag {
            Some(tag) => self.target.with_tag(tag),
            None => self.target.with_digest(&digest),
        };
        let current = match self.client.resolve_scoped(&tag_ref, &self.dst_scopes).await {
            Ok(r) => Some(r.digest),
            Err(e) if e.status() == Some(404) => None,
            Err(e) => return Err(e.into()),
        };
        if current.as_deref() == Some(digest.as_str()) {
            self.tally(|r| r.manifests_skipped += 1);
            return Ok(());
        }

        if !self.target_has_manifest(&digest).await? {
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
            self.put_manifest(&digest, &bytes, &media_type, true)
                .await?;
        } else {
            self.tally(|r| r.manifests_skipped += 1);
        }
        // The tag last: it only ever points at complete content.
        if let Some(tag) = tag {
            self.put_manifest(tag, &bytes, &media_type, false).await?;
        }
        self.tally(|r| r.tag_updated = true);
        Ok(())
    }

    async fn target_has_manifest(&self, digest: &str) -> Result<bool, CopyError> {
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

    async fn copy_blobs(&self, blobs: Vec<Descriptor>) -> Result<(), CopyError> {
        let total = blobs.iter().fold(0u64, |t, b| t.saturating_add(b.size));
        self.progress.add_total(&self.image, total);
        let results: Vec<Result<(), CopyError>> = futures::stream::iter(blobs)
            .map(|b| async move { self.copy_blob(&b).await })
            .buffer_unordered(self.options.blob_concurrency)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(())
    }

    async fn copy_blob(&self, blob: &Descriptor) -> Result<(), CopyError> {
        let lock = match self.blob_locks.lock() {
            Ok(mut m) => m.entry(blob.digest.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let mut done = lock.lock().await;
        if *done {
            self.tally(|r| r.blobs_skipped += 1);
            return Ok(());
        }
        self.copy_blob_shared(blob).await?;
        *done = true;
        Ok(())
    }

    /// Through the ledger when there is one and the source is another registry: the first copy
    /// of the blob into the target registry transfers it (holding the digest's lock), later ones
    /// mount it from the repository that has it.
    async fn copy_blob_shared(&self, blob: &Descriptor) -> Result<(), CopyError> {
        let base = self.client.base_url(self.target);
        let _in_repo = match &self.options.ledger {
            Some(l) => Some(
                l.in_repo(&base, &self.target.repository, &blob.digest)
                    .lock_owned()
                    .await,
            ),
            None => None,
        };
        let ledger = match &self.options.ledger {
            Some(l) if !self.same_registry => l,
            _ => return self.copy_blob_retrying(blob, None).await,
        };
        let entry = ledger.entry(&base, &blob.digest);
        let mut holders = entry.lock().await;
        let repo = &self.target.repository;
        if holders.contains(repo) {
            self.tally(|r| r.blobs_skipped += 1);
            self.progress.bytes(&self.image, blob.size);
            return Ok(());
        }
        match holders.first().cloned() {
            None => {
                self.copy_blob_retrying(blob, None).await?;
                holders.push(repo.clone());
            }
            Some(sibling) => {
                drop(holders);
                self.copy_blob_retrying(blob, Some(&sibling)).await?;
                let mut holders = entry.lock().await;
                if !holders.contains(repo) {
                    holders.push(repo.clone());
                }
            }
        }
        Ok(())
    }

    async fn copy_blob_retrying(
        &self,
        blob: &Descriptor,
        sibling: Option<&str>,
    ) -> Result<(), CopyError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.copy_blob_once(blob, sibling).await {
                Err(e) if e.is_transient() && attempt < self.options.blob_attempts => {
                    tracing::debug!(digest = %blob.digest, error = %e, "retrying blob");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                        .await;
                }
                other => return other,
            }
        }
    }

    /// One transfer of a blob into the target: skipped when present, else mounted (from the
    /// source on the same registry, or from `sibling`, a repository of the target registry that
    /// has it), else (or when the mount is refused) streamed from the source.
    async fn copy_blob_once(
        &self,
        blob: &Descriptor,
        sibling: Option<&str>,
    ) -> Result<(), CopyError> {
        let (from, dst_scopes) = match sibling {
            _ if self.same_registry && self.source.repository != self.target.repository => (
                Some(self.source.repository.as_str()),
                self.dst_scopes.clone(),
            ),
            // A mount from a sibling needs ONE token with pull on it and push on the target.
            Some(s) if s != self.target.repository => {
                let mut scopes = self.dst_scopes.clone();
                scopes.push(Scope::pull(s));
                (Some(s), scopes)
            }
            _ => (None, self.dst_scopes.clone()),
        };
        let dst_scopes = &dst_scopes;
        let head_url = self.client.blob_url(self.target, &blob.digest);
        let head = self
            .client
            .send(
                self.target,
                dst_scopes,
                Method::HEAD,
                &head_url,
                |rb| rb,
                |s| s.is_success() || s == StatusCode::NOT_FOUND,
            )
            .await?;
        if head.status().is_success() {
            self.tally(|r| r.blobs_skipped += 1);
            self.progress.bytes(&self.image, blob.size);
            return Ok(());
        }
        let base = self.client.base_url(self.target);
        let uploads = format!("{base}/v2/{}/blobs/uploads/", self.target.repository);
        let post_url = if let Some(from) = from {
            let mut u = url::Url::parse(&uploads)
                .map_err(|e| CopyError::Invalid(format!("bad upload url: {e}")))?;
            u.query_pairs_mut()
                .append_pair("mount", &blob.digest)
                .append_pair("from", from);
            u.to_string()
        } else {
            uploads.clone()
        };
        let started = self
            .client
            .send(
                self.target,
                dst_scopes,
                Method::POST,
                &post_url,
                |rb| rb.header(reqwest::header::CONTENT_LENGTH, "0"),
                |s| s == StatusCode::CREATED || s == StatusCode::ACCEPTED,
            )
            .await?;
        if from.is_some() && started.status() == StatusCode::CREATED {
            self.tally(|r| r.blobs_mounted += 1);
            self.progress.bytes(&self.image, blob.size);
            return Ok(());
        }
        // 202: an upload session (also what a refused mount falls back to).
        let location = header_str(started.headers(), "location")
            .ok_or_else(|| RegistryError::Protocol("upload started without a Location".into()))?;
        let mut put_url = url::Url::parse(&base)
            .and_then(|b| b.join(location))
            .map_err(|e| RegistryError::Protocol(format!("bad upload Location: {e}")))?;
        // The upload goes to the registry itself: a Location on another origin would receive the
        // registry's credentials with the blob.
        let base_origin = url::Url::parse(&base).map(|u| u.origin());
        if base_origin.as_ref().ok() != Some(&put_url.origin()) {
            return Err(RegistryError::Protocol(format!(
                "upload Location on another host ({}); refusing to send credentials there",
                put_url.origin().ascii_serialization()
            ))
            .into());
        }
        put_url
            .query_pairs_mut()
            .append_pair("digest", &blob.digest);

        let src_url = self.client.blob_url(self.source, &blob.digest);
        let get = self
            .client
            .send_streamed(
                self.source,
                &self.src_scopes,
                Method::GET,
                &src_url,
                |rb| rb,
                |s| s.is_success(),
            )
            .await?;
        let length = get.content_length();
        let size_mismatch = |actual: u64| CopyError::SizeMismatch {
            source_repo: self.source.to_string(),
            what: "blob",
            digest: blob.digest.clone(),
            expected: blob.size,
            actual,
        };
        if let Some(n) = length
            && n != blob.size
        {
            return Err(size_mismatch(n));
        }
        let mismatch: Arc<Mutex<Option<Mismatch>>> = Arc::new(Mutex::new(None));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let verified = verify_stream(
            get.bytes_stream(),
            blob.digest.clone(),
            blob.size,
            mismatch.clone(),
            tx,
        );
        let put = self.client.send_once(
            self.target,
            dst_scopes,
            Method::PUT,
            put_url.as_str(),
            |rb| {
                let rb = rb
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(reqwest::Body::wrap_stream(verified));
                match length {
                    Some(n) => rb.header(reqwest::header::CONTENT_LENGTH, n),
                    None => rb,
                }
            },
        );
        let drain = async {
            let mut total = 0u64;
            while let Some(n) = rx.recv().await {
                total += n;
                self.progress.bytes(&self.image, n);
            }
            total
        };
        let (put_result, moved) = tokio::join!(put, drain);
        match mismatch.lock().ok().and_then(|m| m.clone()) {
            Some(Mismatch::Digest(actual)) => {
                return Err(CopyError::DigestMismatch {
                    source_repo: self.source.to_string(),
                    expected: blob.digest.clone(),
                    actual,
                });
            }
            Some(Mismatch::Size(actual)) => return Err(size_mismatch(actual)),
            None => {}
        }
        put_result?;
        self.tally(|r| {
            r.blobs_copied += 1;
            r.bytes_copied += moved;
        });
        Ok(())
    }
}

type ChunkStream = futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>;

/// Content that cannot be the blob its descriptor names (fatal: retrying reads the same bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mismatch {
    /// The sha256 of the content.
    Digest(String),
    /// The byte count of the content (at least, when longer than announced).
    Size(u64),
}

/// Records why content cannot be the blob a descriptor names.
struct Checker {
    expected: String,
    mismatch: Arc<Mutex<Option<Mismatch>>>,
}

impl Checker {
    fn record(&self, m: Mismatch) -> std::io::Error {
        let message = match &m {
            Mismatch::Digest(_) => "blob content does not match its digest",
            Mismatch::Size(_) => "blob size does not match its descriptor",
        };
        if let Ok(mut slot) = self.mismatch.lock() {
            *slot = Some(m);
        }
        std::io::Error::other(message)
    }

    fn size(&self, seen: u64) -> std::io::Error {
        self.record(Mismatch::Size(seen))
    }

    fn digest(&self, hasher: &mut Sha256) -> Result<(), std::io::Error> {
        let actual = format!("sha256:{}", hex::encode(hasher.finalize_reset()));
        if actual == self.expected {
            return Ok(());
        }
        Err(self.record(Mismatch::Digest(actual)))
    }
}

/// Passes chunks through while hashing them. At `expected_len` bytes (the descriptor's size) a
/// digest other than `expected` becomes an error instead of the last chunk, which aborts the
/// upload; a body longer than `expected_len`, or one that ends cleanly before it, is a size
/// mismatch. Either is recorded in `mismatch`. A stream error (a body cut short by the network)
/// passes through as-is: the caller retries those. Chunk sizes go to `tx`.
fn verify_stream(
    inner: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    expected: String,
    expected_len: u64,
    mismatch: Arc<Mutex<Option<Mismatch>>>,
    tx: tokio::sync::mpsc::UnboundedSender<u64>,
) -> ChunkStream {
    struct State {
        inner: ChunkStream,
        hasher: Sha256,
        seen: u64,
        finished: bool,
    }
    let state = State {
        inner: inner
            .map_err(|e| std::io::Error::other(error_chain(&e)))
            .boxed(),
        hasher: Sha256::new(),
        seen: 0,
        finished: false,
    };
    let check = Arc::new(Checker { expected, mismatch });
    futures::stream::unfold(state, move |mut st| {
        let check = check.clone();
        let tx = tx.clone();
        async move {
            if st.finished {
                return None;
            }
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.hasher.update(&chunk);
                    st.seen += chunk.len() as u64;
                    let _ = tx.send(chunk.len() as u64);
                    if st.seen > expected_len {
                        st.finished = true;
                        let seen = st.seen;
                        return Some((Err(check.size(seen)), st));
                    }
                    if st.seen == expected_len {
                        // Complete: verify now, and make sure nothing follows.
                        let verdict = check.digest(&mut st.hasher);
                        if verdict.is_err() {
                            st.finished = true;
                            return Some((verdict.map(|()| chunk), st));
                        }
                        match st.inner.next().await {
                            None => {
                                st.finished = true;
                                Some((Ok(chunk), st))
                            }
                            Some(Ok(extra)) if extra.is_empty() => {
                                st.finished = true;
                                Some((Ok(chunk), st))
                            }
                            Some(Ok(extra)) => {
                                st.finished = true;
                                let seen = st.seen + extra.len() as u64;
                                Some((Err(check.size(seen)), st))
                            }
                            Some(Err(e)) => {
                                st.finished = true;
                                Some((Err(e), st))
                            }
                        }
                    } else {
                        Some((Ok(chunk), st))
                    }
                }
                Some(Err(e)) => {
                    st.finished = true;
                    Some((Err(e), st))
                }
                None => {
                    st.finished = true;
                    if st.seen < expected_len {
                        // Ended cleanly (no transport error) before the descriptor's size.
                        let seen = st.seen;
                        return Some((Err(check.size(seen)), st));
                    }
                    // expected_len == 0: an empty blob.
                    match check.digest(&mut st.hasher) {
                        Ok(()) => None,
                        Err(e) => Some((Err(e), st)),
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers_list_valid_digests_only() {
        let good = format!("sha256:{}", "a".repeat(64));
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"digest": good}, {"digest": "sha256:../../etc"}]
        }))
        .unwrap();
        assert_eq!(referrer_digests(&body), vec![good]);
        assert!(referrer_digests(b"<html>").is_empty());
        assert!(referrer_digests(b"{}").is_empty());
    }

    #[tokio::test]
    async fn verify_stream_passes_and_refuses() {
        let data = bytes::Bytes::from_static(b"hello world");
        let good = manifest::sha256_digest(&data);
        let run = |expected: String, len: u64, chunks: Vec<reqwest::Result<bytes::Bytes>>| async move {
            let m = Arc::new(Mutex::new(None));
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let out: Vec<Result<bytes::Bytes, std::io::Error>> =
                verify_stream(futures::stream::iter(chunks), expected, len, m.clone(), tx)
                    .collect()
                    .await;
            let mut n = 0;
            while let Ok(x) = rx.try_recv() {
                n += x;
            }
            (out, m.lock().unwrap().clone(), n)
        };
        let halves = || vec![Ok(data.slice(..5)), Ok(data.slice(5..))];
        let (out, m, n) = run(good.clone(), 11, halves()).await;
        assert!(out.iter().all(Result::is_ok) && out.len() == 2 && m.is_none() && n == 11);
        let (out, m, _) = run(format!("sha256:{}", "0".repeat(64)), 11, halves()).await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Digest(good.clone())));
        // Shorter than the descriptor, ending cleanly: a size mismatch.
        let (out, m, _) = run(good.clone(), 20, halves()).await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Size(11)));
        // Longer than the descriptor: the first 5 bytes are not the blob.
        let (out, m, _) = run(good.clone(), 5, halves()).await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Digest(manifest::sha256_digest(b"hello"))));
        // The full descriptor size, then more.
        let (out, m, _) = run(
            manifest::sha256_digest(&data[..5]),
            5,
            vec![Ok(data.slice(..5)), Ok(data.slice(5..))],
        )
        .await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Size(11)));
        // An empty blob.
        let (out, m, _) = run(manifest::sha256_digest(b""), 0, vec![]).await;
        assert!(out.is_empty() && m.is_none());
    }
}
