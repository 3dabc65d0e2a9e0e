//! Reading an image's cosign signatures from its registry: the tag `sha256-<hex>.sig` beside the
//! image holds an OCI manifest whose layers are simple-signing payloads
//! (`application/vnd.dev.cosign.simplesigning.v1+json`), each annotated with its signature
//! (`dev.cosignproject.cosign/signature`, base64 ASN.1 ECDSA over the payload bytes) and, when
//! signed keyless, the Fulcio certificate (`dev.sigstore.cosign/certificate`), its chain
//! (`dev.sigstore.cosign/chain`) and the Rekor bundle (`dev.sigstore.cosign/bundle`). See
//! sigstore/cosign `specs/SIGNATURE_SPEC.md`.
//!
//! Everything read here is hostile and bounded: the signature manifest ([`MAX_SIGNATURE_MANIFEST`]),
//! the layers considered ([`MAX_SIGNATURES`]), each payload ([`MAX_PAYLOAD`], its digest checked)
//! and each annotation ([`MAX_ANNOTATION`]).
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::registry::client::{BodyError, RegistryClient, Scope, error_chain, read_capped};
use crate::registry::reference::{Reference, validate_digest};

/// The most bytes of a signature manifest read.
pub const MAX_SIGNATURE_MANIFEST: usize = 256 << 10;
/// The most signature layers considered for one image; further layers are ignored.
pub const MAX_SIGNATURES: usize = 16;
/// The most bytes of one simple-signing payload read.
pub const MAX_PAYLOAD: usize = 64 << 10;
/// The most bytes of one annotation (a certificate chain or a bundle) used.
pub const MAX_ANNOTATION: usize = 64 << 10;

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE: &str = "dev.cosignproject.cosign/signature";
const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
const CHAIN: &str = "dev.sigstore.cosign/chain";
const BUNDLE: &str = "dev.sigstore.cosign/bundle";

/// The manifest types a signature manifest may have.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// One signature layer as read: the payload bytes (their digest checked) and the annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub payload: Vec<u8>,
    /// The decoded signature bytes (`None`: not valid base64).
    pub signature: Option<Vec<u8>>,
    /// The PEM leaf certificate (keyless).
    pub certificate: Option<String>,
    /// The PEM chain (intermediates, then the root).
    pub chain: Option<String>,
    /// The Rekor bundle JSON.
    pub bundle: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// `sha256:<hex>` -> `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// The signatures of `digest` in `source`'s repository (none when the signature tag is missing),
/// and how many signature layers there were in all (more than were read when over
/// [`MAX_SIGNATURES`]).
pub async fn read(
    client: &RegistryClient,
    source: &Reference,
    digest: &str,
) -> Result<(Vec<Signature>, usize), String> {
    let tag = Reference {
        tag: Some(signature_tag(digest)),
        digest: None,
        ..source.clone()
    };
    let scopes = [Scope::pull(&source.repository)];
    let url = client.manifest_url(&tag, &signature_tag(digest));
    let resp = client
        .send(
            &tag,
            &scopes,
            Method::GET,
            &url,
            |rb| rb.header(reqwest::header::ACCEPT, ACCEPT),
            |s| s.is_success() || s == StatusCode::NOT_FOUND,
        )
        .await
        .map_err(|e| format!("{tag}: {e}"))?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok((Vec::new(), 0));
    }
    let body = read_capped(resp, MAX_SIGNATURE_MANIFEST)
        .await
        .map_err(|e| body_error(&tag, "signature manifest", MAX_SIGNATURE_MANIFEST, e))?;
    let manifest: Manifest = serde_json::from_slice(&body)
        .map_err(|e| format!("{tag}: not a signature manifest: {e}"))?;
    let layers: Vec<&Layer> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING && l.annotations.contains_key(SIGNATURE))
        .collect();
    let total = layers.len();
    let mut out = Vec::new();
    for layer in layers.into_iter().take(MAX_SIGNATURES) {
        out.push(read_layer(client, source, &scopes, layer).await?);
    }
    Ok((out, total))
}

async fn read_layer(
    client: &RegistryClient,
    source: &Reference,
    scopes: &[Scope],
    layer: &Layer,
) -> Result<Signature, String> {
    validate_digest(&layer.digest).map_err(|e| format!("{source}: signature layer: {e}"))?;
    if layer.size > MAX_PAYLOAD as u64 {
        return Err(format!(
            "{source}: a signature payload of {} bytes is larger than the {} KiB vetted reads",
            layer.size,
            MAX_PAYLOAD >> 10
        ));
    }
    let url = client.blob_url(source, &layer.digest);
    let resp = client
        .send(
            source,
            scopes,
            Method::GET,
            &url,
            |rb| rb,
            |s| s.is_success(),
        )
        .await
        .map_err(|e| format!("{source}: signature payload {}: {e}", layer.digest))?;
    let payload = read_capped(resp, MAX_PAYLOAD)
        .await
        .map_err(|e| body_error(source, "signature payload", MAX_PAYLOAD, e))?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&payload)));
    if actual != layer.digest {
        return Err(format!(
            "{source}: the signature payload {} has digest {actual}",
            layer.digest
        ));
    }
    let annotation = |key: &str| {
        layer
            .annotations
            .get(key)
            .filter(|v| v.len() <= MAX_ANNOTATION)
            .cloned()
    };
    Ok(Signature {
        payload,
        signature: annotation(SIGNATURE).and_then(|s| STANDARD.decode(s.trim()).ok()),
        certificate: annotation(CERTIFICATE),
        chain: annotation(CHAIN),
        bundle: annotation(BUNDLE),
    })
}

fn body_error(what: &Reference, kind: &str, cap: usize, e: BodyError) -> String {
    match e {
        BodyError::TooLarge => format!(
            "{what}: the {kind} is larger than {} KiB, the most vetted reads",
            cap >> 10
        ),
        BodyError::Transport(e) => format!("{what}: reading the {kind}: {}", error_chain(&e)),
    }
}

/// The `critical` part of a simple-signing payload that the gate checks.
#[derive(Debug, Deserialize)]
pub struct Payload {
    pub critical: Critical,
}

#[derive(Debug, Deserialize)]
pub struct Critical {
    pub image: PayloadImage,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub struct PayloadImage {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The digest a simple-signing payload signs (`None`: not a cosign container image signature).
pub fn signed_digest(payload: &[u8]) -> Option<String> {
    let p: Payload = serde_json::from_slice(payload).ok()?;
    (p.critical.kind == "cosign container image signature")
        .then_some(p.critical.image.docker_manifest_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_signed_digest_of_a_payload() {
        let d = format!("sha256:{}", "a".repeat(64));
        let p = serde_json::json!({
            "critical": {"identity": {"docker-reference": "docker.io/bitnami/redis"},
                         "image": {"docker-manifest-digest": d},
                         "type": "cosign container image signature"},
            "optional": null,
        });
        assert_eq!(signed_digest(p.to_string().as_bytes()), Some(d));
        assert_eq!(signed_digest(b"{}"), None);
        let other = p
            .to_string()
            .replace("cosign container image signature", "x");
        assert_eq!(signed_digest(other.as_bytes()), None);
        assert_eq!(
            signature_tag(&format!("sha256:{}", "b".repeat(64))),
            format!("sha256-{}.sig", "b".repeat(64))
        );
    }
}
