//! Copying an image's signatures and attestations with it ([`CopyOptions::signatures`]): the
//! cosign tags (`sha256-<hex>.sig`, `.att`, `.sbom`) of the image digest and of each child of an
//! index, and its OCI referrers (the referrers API, or the referrers tag schema `sha256-<hex>`
//! where the API is missing), each copied plainly by digest.
use reqwest::{Method, StatusCode};

use super::{CopyError, CopyOptions, CopyReport, NoProgress, copy_one};
use crate::registry::client::{
    BodyError, MAX_MANIFEST_BYTES, RegistryClient, RegistryError, Scope, error_chain, read_capped,
};
use crate::registry::reference::Reference;

/// The cosign tag suffixes copied with [`CopyOptions::signatures`]; `""` is the OCI referrers tag
/// schema (`sha256-<hex>`, an index of the referrers).
const SIGNATURE_SUFFIXES: [&str; 4] = [".sig", ".att", ".sbom", ""];

/// The most referrers (signatures, attestations) copied for one manifest; a longer list is an
/// error rather than thousands of requests.
pub const MAX_REFERRERS: usize = 1_000;

/// Copies the signature artifacts of the image digest and of its children (see
/// [`CopyOptions::signatures`]); returns how many were copied (not already in the target).
pub(super) async fn copy_signatures(
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
                |rb| {
                    rb.header(
                        reqwest::header::ACCEPT,
                        crate::registry::manifest::OCI_INDEX,
                    )
                },
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
                .filter(|d| crate::registry::reference::validate_digest(d).is_ok())
                .collect()
        })
        .unwrap_or_default()
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
}
