//! Manifest requests: HEAD to resolve a tag or digest to its digest, media type and size (a HEAD
//! is not counted as a Docker Hub pull), and GET of a manifest's exact bytes, capped at
//! [`MAX_MANIFEST_BYTES`] while streaming, with a body cut short re-read within the retry budget.
//! A manifest read by digest is kept ([`ManifestCache`]): what a plan's estimates read, apply's
//! copies do not read (or spend a Docker Hub pull on) again.
use std::collections::HashMap;
use std::time::Instant;

use reqwest::Method;

use super::error::{BodyError, error_chain, header_str, read_capped};
use super::{RegistryClient, RegistryError, Scope};
use crate::registry::reference::Reference;

/// Manifest media types accepted when reading manifests.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest read (the OCI distribution spec's floor a registry must accept, 4 MiB);
/// a longer one, by `Content-Length` or while streaming, is refused without reading further.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// The most manifest bytes one client keeps: far above the manifests of thousands of images
/// (a few KiB each), so a hostile registry's 4 MiB manifests cannot grow it without bound.
pub const MAX_CACHED_MANIFEST_BYTES: usize = 64 << 20;

/// Manifests read by digest, keyed by (registry host, repository, digest): content-addressed and
/// checked against their digest before they are kept, so a kept one is what any later GET of
/// that digest would return. Kept per repository, as the registry authorises per repository.
#[derive(Default)]
pub(super) struct ManifestCache {
    entries: HashMap<(String, String, String), (Vec<u8>, String)>,
    bytes: usize,
}

impl ManifestCache {
    fn key(reference: &Reference, digest: &str) -> (String, String, String) {
        (
            reference.api_host().to_string(),
            reference.repository.clone(),
            digest.to_string(),
        )
    }

    fn get(&self, reference: &Reference) -> Option<(Vec<u8>, String)> {
        let digest = reference.digest.as_deref()?;
        self.entries.get(&Self::key(reference, digest)).cloned()
    }

    /// Keeps `bytes` when the reference names a digest they hash to, within the cap.
    fn keep(&mut self, reference: &Reference, bytes: &[u8], media_type: &str) {
        let Some(digest) = reference.digest.as_deref() else {
            return;
        };
        if self.bytes.saturating_add(bytes.len()) > MAX_CACHED_MANIFEST_BYTES
            || crate::registry::manifest::sha256_digest(bytes) != digest
        {
            return;
        }
        let key = Self::key(reference, digest);
        if !self.entries.contains_key(&key) {
            self.bytes += bytes.len();
            self.entries
                .insert(key, (bytes.to_vec(), media_type.to_string()));
        }
    }
}

/// What a manifest HEAD tells: digest, media type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

impl RegistryClient {
    /// HEADs a manifest: digest, media type and size, without counting as a Docker Hub pull.
    pub async fn resolve(&self, reference: &Reference) -> Result<Resolved, RegistryError> {
        self.resolve_scoped(reference, &[Scope::pull(&reference.repository)])
            .await
    }

    /// [`Self::resolve`] with an explicit scope set (to reuse a token that already covers it).
    pub async fn resolve_scoped(
        &self,
        reference: &Reference,
        scopes: &[Scope],
    ) -> Result<Resolved, RegistryError> {
        let url = self.manifest_url(reference, reference.manifest_ref());
        let resp = self
            .send(
                reference,
                scopes,
                Method::HEAD,
                &url,
                |rb| rb.header(reqwest::header::ACCEPT, MANIFEST_ACCEPT),
                |s| s.is_success(),
            )
            .await
            .map_err(|e| match e {
                // A HEAD 404 has no body to explain it.
                RegistryError::Status {
                    method,
                    url,
                    status: 404,
                    ..
                } => RegistryError::Status {
                    method,
                    url,
                    status: 404,
                    body: if reference.digest.is_some() {
                        format!("{reference} not found (no such manifest upstream)")
                    } else {
                        format!("{reference} not found (no such tag upstream)")
                    },
                },
                other => other,
            })?;
        let h = resp.headers();
        let media_type = header_str(h, reqwest::header::CONTENT_TYPE.as_str())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
            .unwrap_or_default();
        let size = header_str(h, reqwest::header::CONTENT_LENGTH.as_str())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let digest = match header_str(h, "docker-content-digest") {
            // The registry's word, used in later URLs and plans: a digest of the form we read.
            Some(d) => {
                crate::registry::reference::validate_digest(d).map_err(|e| {
                    RegistryError::Protocol(format!("{reference}: Docker-Content-Digest: {e}"))
                })?;
                d.to_string()
            }
            None => {
                // Some registries omit the header on HEAD: read the manifest and hash it.
                let (bytes, _) = self.get_manifest_raw(reference, scopes).await?;
                return Ok(Resolved {
                    digest: crate::registry::manifest::sha256_digest(&bytes),
                    media_type,
                    size: bytes.len() as u64,
                });
            }
        };
        if let Some(want) = &reference.digest
            && want != &digest
        {
            return Err(RegistryError::Protocol(format!(
                "{reference}: registry answered digest {digest}"
            )));
        }
        Ok(Resolved {
            digest,
            media_type,
            size,
        })
    }

    /// Whether a GET of `reference` (by digest) would be answered from what this client kept,
    /// without a request (or a Docker Hub pull).
    pub fn keeps_manifest(&self, reference: &Reference) -> bool {
        self.manifests
            .lock()
            .is_ok_and(|c| c.get(reference).is_some())
    }

    /// The bytes and media type this client keeps for `reference` (by digest), if any.
    pub fn kept_manifest(&self, reference: &Reference) -> Option<(Vec<u8>, String)> {
        self.manifests.lock().ok().and_then(|c| c.get(reference))
    }

    /// GETs a manifest's bytes and media type: at most [`MAX_MANIFEST_BYTES`], read while
    /// streaming, within the request deadline; a body cut short is retried within the retry budget.
    pub async fn get_manifest_raw(
        &self,
        reference: &Reference,
        scopes: &[Scope],
    ) -> Result<(Vec<u8>, String), RegistryError> {
        if let Some(kept) = self.kept_manifest(reference) {
            return Ok(kept);
        }
        let url = self.manifest_url(reference, reference.manifest_ref());
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let resp = self
                .send(
                    reference,
                    scopes,
                    Method::GET,
                    &url,
                    |rb| rb.header(reqwest::header::ACCEPT, MANIFEST_ACCEPT),
                    |s| s.is_success(),
                )
                .await?;
            let media_type = header_str(resp.headers(), reqwest::header::CONTENT_TYPE.as_str())
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
                .unwrap_or_default();
            let e = match read_capped(resp, MAX_MANIFEST_BYTES).await {
                Ok(bytes) => {
                    if let Ok(mut cache) = self.manifests.lock() {
                        cache.keep(reference, &bytes, &media_type);
                    }
                    return Ok((bytes, media_type));
                }
                Err(BodyError::TooLarge) => {
                    return Err(RegistryError::Protocol(format!(
                        "{reference}: the manifest is larger than {} MiB, the most vetted reads",
                        MAX_MANIFEST_BYTES >> 20
                    )));
                }
                Err(BodyError::Transport(e)) => e,
            };
            let last = error_chain(&e);
            if attempt >= self.config.max_attempts {
                return Err(RegistryError::Transport {
                    method: "GET".into(),
                    url: url.clone(),
                    message: last,
                });
            }
            let wait = self.backoff(attempt);
            self.within_budget(started, wait, attempt, &Method::GET, &url, &last)?;
            tracing::debug!(url, attempt, error = %last, "manifest body cut short; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::manifest::sha256_digest;

    #[test]
    fn the_cache_keeps_only_bytes_that_hash_to_their_digest_per_repository_within_its_cap() {
        let bytes = br#"{"schemaVersion":2}"#;
        let digest = sha256_digest(bytes);
        let at = |repo: &str, digest: &str| {
            Reference::parse(&format!("127.0.0.1:5000/{repo}@{digest}")).unwrap()
        };
        let mut cache = ManifestCache::default();
        // Other bytes under this digest (a hostile registry), or no digest at all: not kept.
        cache.keep(&at("lib/a", &digest), b"{}", "application/json");
        cache.keep(
            &Reference::parse("127.0.0.1:5000/lib/a:1").unwrap(),
            bytes,
            "application/json",
        );
        assert!(cache.get(&at("lib/a", &digest)).is_none());
        cache.keep(&at("lib/a", &digest), bytes, "application/json");
        assert_eq!(
            cache.get(&at("lib/a", &digest)),
            Some((bytes.to_vec(), "application/json".to_string()))
        );
        // Kept per repository: another repository asks the registry itself.
        assert!(cache.get(&at("lib/b", &digest)).is_none());
        // Past the cap, nothing more is kept.
        cache.bytes = MAX_CACHED_MANIFEST_BYTES;
        cache.keep(&at("lib/b", &digest), bytes, "application/json");
        assert!(cache.get(&at("lib/b", &digest)).is_none());
    }
}
