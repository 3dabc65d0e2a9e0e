//! Getting an image's blobs into the target repository: once per digest within a copy, through
//! the [`BlobLedger`](super::BlobLedger) across copies, retried as a whole on transient failures,
//! and per attempt skipped when present, mounted (from the source on the same registry, or from a
//! sibling repository of the target registry), or else streamed GET -> PUT through
//! [`verify_stream`]. The upload requests themselves are the client's
//! ([`crate::registry::upload`]).
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use reqwest::Method;

use super::verify::{Mismatch, verify_stream};
use super::{CopyError, Job};
use crate::registry::client::Scope;
use crate::registry::manifest::Descriptor;
use crate::registry::upload::BlobUpload;

impl Job<'_> {
    pub(super) async fn copy_blobs(&self, blobs: Vec<Descriptor>) -> Result<(), CopyError> {
        // Each blob joins the image's total once, however many of its manifests list it.
        let total = match self.blob_locks.lock() {
            Ok(mut m) => blobs
                .iter()
                .fold(0u64, |t, b| match m.entry(b.digest.clone()) {
                    Entry::Occupied(_) => t,
                    Entry::Vacant(slot) => {
                        slot.insert(Arc::default());
                        t.saturating_add(b.size)
                    }
                }),
            Err(_) => 0,
        };
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

    /// Through the ledger when there is one: a blob this apply already put into the target
    /// repository is skipped; from another registry, the first copy of the blob into the target
    /// registry transfers it (holding the digest's lock), later ones mount it from the repository
    /// that has it; on the same registry, each mounts it from the source.
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
        let Some(ledger) = &self.options.ledger else {
            return self.copy_blob_retrying(blob, None).await;
        };
        let entry = ledger.entry(&base, &blob.digest);
        let mut holders = entry.lock().await;
        let repo = &self.target.repository;
        if holders.contains(repo) {
            // Put there by this apply already (no HEAD needed, and none sent into an empty
            // target): writing its link again could hide it from a manifest PUT in flight.
            self.tally(|r| r.blobs_skipped += 1);
            self.progress.linked(&self.image, blob.size, false);
            return Ok(());
        }
        if self.same_registry {
            // Mounted from the source: copies into other repositories need not wait for it.
            drop(holders);
            self.copy_blob_retrying(blob, None).await?;
            let mut holders = entry.lock().await;
            if !holders.contains(repo) {
                holders.push(repo.clone());
            }
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
        if !self.options.empty_target
            && self
                .client
                .blob_exists(self.target, dst_scopes, &blob.digest)
                .await?
        {
            self.tally(|r| r.blobs_skipped += 1);
            self.progress.linked(&self.image, blob.size, false);
            return Ok(());
        }
        let post_url = self
            .client
            .blob_upload_url(self.target, from.map(|from| (blob.digest.as_str(), from)))
            .map_err(|e| CopyError::Invalid(format!("bad upload url: {e}")))?;
        let start = self.client.start_blob_upload(
            self.target,
            dst_scopes,
            &post_url,
            &blob.digest,
            from.is_some(),
        );
        let src_url = self.client.blob_url(self.source, &blob.digest);
        let source_get = || {
            self.client.send_streamed(
                self.source,
                &self.src_scopes,
                Method::GET,
                &src_url,
                |rb| rb,
                |s| s.is_success(),
            )
        };
        // Without a mount to try, the upload session and the source's GET go out together (a
        // round trip fewer per blob); with one, the GET only if the mount is refused.
        let (started, early_get) = match from {
            None => {
                let (started, get) = tokio::join!(start, source_get());
                (started?, Some(get))
            }
            Some(_) => (start.await?, None),
        };
        let put_url = match started {
            BlobUpload::Mounted => {
                self.tally(|r| r.blobs_mounted += 1);
                self.progress.linked(&self.image, blob.size, true);
                return Ok(());
            }
            BlobUpload::Session(put_url) => put_url,
        };
        let get = match early_get {
            Some(get) => get?,
            None => source_get().await?,
        };
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
        let put = self.client.put_blob(
            self.target,
            dst_scopes,
            &put_url,
            reqwest::Body::wrap_stream(verified),
            length,
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
        let failed = match mismatch.lock().ok().and_then(|m| m.clone()) {
            Some(Mismatch::Digest(actual)) => Some(CopyError::DigestMismatch {
                source_repo: self.source.to_string(),
                expected: blob.digest.clone(),
                actual,
            }),
            Some(Mismatch::Size(actual)) => Some(size_mismatch(actual)),
            None => put_result.err().map(CopyError::from),
        };
        if let Some(e) = failed {
            // What this attempt streamed did not land: a retry sends the blob again.
            self.progress.discard(&self.image, moved);
            return Err(e);
        }
        self.tally(|r| {
            r.blobs_copied += 1;
            r.bytes_copied += moved;
        });
        Ok(())
    }
}
