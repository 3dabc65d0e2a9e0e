//! The blob upload protocol of the OCI distribution spec, as requests of the [`RegistryClient`]:
//! whether a repository has a blob (HEAD), starting an upload or cross-repository mount (POST
//! `blobs/uploads/`, with `mount` and `from`), and the monolithic streamed PUT to the upload's
//! `Location`, which must be on the registry's own origin (credentials would follow it elsewhere).
//! What is uploaded, when, and from where is the copy's business ([`super::copy`]).
use reqwest::{Method, Response, StatusCode};

use super::client::{RegistryClient, RegistryError, Scope, header_str};
use super::reference::Reference;

/// What a registry answered to the POST starting an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobUpload {
    /// 201 to a mount: the repository now has the blob.
    Mounted,
    /// 202 (also what a refused mount falls back to): an upload session; the blob goes to this URL
    /// (the `Location`, resolved on the registry's origin, with `digest` added) in one PUT.
    Session(url::Url),
}

impl RegistryClient {
    /// Whether `reference`'s repository has the blob `digest` (HEAD; 404 is no).
    pub async fn blob_exists(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        digest: &str,
    ) -> Result<bool, RegistryError> {
        let url = self.blob_url(reference, digest);
        let head = self
            .send(
                reference,
                scopes,
                Method::HEAD,
                &url,
                |rb| rb,
                |s| s.is_success() || s == StatusCode::NOT_FOUND,
            )
            .await?;
        Ok(head.status().is_success())
    }

    /// `<base>/v2/<repo>/blobs/uploads/`, with `?mount=<digest>&from=<repository>` when `mount`
    /// is `(digest, repository)`.
    pub fn blob_upload_url(
        &self,
        reference: &Reference,
        mount: Option<(&str, &str)>,
    ) -> Result<String, url::ParseError> {
        let uploads = format!(
            "{}/v2/{}/blobs/uploads/",
            self.base_url(reference),
            reference.repository
        );
        let Some((digest, from)) = mount else {
            return Ok(uploads);
        };
        let mut u = url::Url::parse(&uploads)?;
        u.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        Ok(u.to_string())
    }

    /// POSTs `url` (from [`Self::blob_upload_url`]) to start an upload of the blob `digest`; with
    /// `mounting`, a 201 means the blob was mounted. The session's `Location` must be on the
    /// registry's origin.
    pub async fn start_blob_upload(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        url: &str,
        digest: &str,
        mounting: bool,
    ) -> Result<BlobUpload, RegistryError> {
        let started = self
            .send(
                reference,
                scopes,
                Method::POST,
                url,
                |rb| rb.header(reqwest::header::CONTENT_LENGTH, "0"),
                |s| s == StatusCode::CREATED || s == StatusCode::ACCEPTED,
            )
            .await?;
        if mounting && started.status() == StatusCode::CREATED {
            return Ok(BlobUpload::Mounted);
        }
        // 202: an upload session (also what a refused mount falls back to).
        let base = self.base_url(reference);
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
            )));
        }
        put_url.query_pairs_mut().append_pair("digest", digest);
        Ok(BlobUpload::Session(put_url))
    }

    /// The monolithic PUT of a blob's bytes to an upload session (`put_url` from
    /// [`BlobUpload::Session`]): sent once, with the auth cached for `scopes` (a streamed body
    /// cannot be replayed; the caller retries the whole transfer).
    pub async fn put_blob(
        &self,
        reference: &Reference,
        scopes: &[Scope],
        put_url: &url::Url,
        body: reqwest::Body,
        length: Option<u64>,
    ) -> Result<Response, RegistryError> {
        self.send_once(reference, scopes, Method::PUT, put_url.as_str(), |rb| {
            let rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body);
            match length {
                Some(n) => rb.header(reqwest::header::CONTENT_LENGTH, n),
                None => rb,
            }
        })
        .await
    }
}
