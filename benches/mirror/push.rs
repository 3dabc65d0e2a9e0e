//! Filling registries: the kit's push client publishing generated images, and the raw parallel
//! upload that is the ceiling of the bulk scenario.

use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use url::Url;
use vetted_sandbox::kit::images::FileBlob as Blob;
use vetted_sandbox::kit::push::{Credentials as Login, Pusher};

use crate::images::{Image, TAG};

/// The width of the raw upload, of parallel skopeo and of publishing (vetted runs at its own
/// default `--copy-parallelism`, 32; for the raw upload 8 and 32 are the same 1 GiB layer).
pub(crate) const PARALLELISM: usize = 8;

/// Connects the kit's push client (generous timeouts: a layer may be over 1 GiB).
pub(crate) async fn pusher(base: &str, login: Option<Login>) -> Result<Pusher> {
    let base = Url::parse(&format!("{}/", base.trim_end_matches('/')))?;
    Pusher::connect(&base, login, Duration::from_secs(600)).await
}

/// Publishes images as `namespace/<name>:v1`, blobs `PARALLELISM` at a time.
pub(crate) async fn publish(pusher: &Pusher, namespace: &str, images: &[Image]) -> Result<()> {
    for image in images {
        let repo = format!("{namespace}/{}", image.name);
        let results: Vec<Result<()>> = futures::stream::iter(image.blobs.iter())
            .map(|b| {
                let repo = repo.clone();
                async move {
                    if !pusher.blob_exists(&repo, &b.digest).await? {
                        pusher.upload_file(&repo, b).await?;
                    }
                    Ok(())
                }
            })
            .buffer_unordered(PARALLELISM)
            .collect()
            .await;
        results.into_iter().collect::<Result<()>>()?;
        for child in &image.children {
            pusher.push_manifest(&repo, &child.digest, child).await?;
        }
        pusher.push_manifest(&repo, TAG, &image.top).await?;
    }
    Ok(())
}

/// The raw ceiling: every blob uploaded once into one repository, `PARALLELISM` at a time.
pub(crate) async fn raw_upload(pusher: &Pusher, repo: &str, blobs: &[Blob]) -> Result<()> {
    let results: Vec<Result<()>> = futures::stream::iter(blobs.iter())
        .map(|b| pusher.upload_file(repo, b))
        .buffer_unordered(PARALLELISM)
        .collect()
        .await;
    results.into_iter().collect()
}
