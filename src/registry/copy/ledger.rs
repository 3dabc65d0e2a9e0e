//! The blob ledger shared by several copies (one `copy_images` call, or one apply): which
//! repository of each target registry already holds each blob, so a blob from another registry is
//! uploaded once per target registry and mounted from that sibling repository into the others, and
//! one lock per (repository, blob) so two copies never write the same blob link at once.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    pub(super) fn in_repo(
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

    pub(super) fn entry(&self, registry: &str, digest: &str) -> Holders {
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
