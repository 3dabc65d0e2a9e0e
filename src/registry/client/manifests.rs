//! Manifest requests: HEAD to resolve a tag or digest to its digest, media type and size (a HEAD
//! is not counted as a Docker Hub pull), and GET of a manifest's exact bytes, capped at
//! [`MAX_MANIFEST_BYTES`] while streaming, with a body cut short re-read within the retry budget.
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

    /// GETs a manifest's bytes and media type: at most [`MAX_MANIFEST_BYTES`], read while
    /// streaming, within the request deadline; a body cut short is retried within the retry budget.
    pub async fn get_manifest_raw(
        &self,
        reference: &Reference,
        scopes: &[Scope],
    ) -> Result<(Vec<u8>, String), RegistryError> {
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
                Ok(bytes) => return Ok((bytes, media_type)),
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
