//! Real cosign signatures for the sandbox's signature-gate images, made with keys generated when
//! the sandbox starts (nothing private is ever written to disk or committed): an "upstream" key
//! (its public PEM is what a policy's `verify = { key = ... }` names), a second key that is not
//! upstream's, and a small keyless setup: a Fulcio-like CA (a root and an intermediate), a
//! Rekor-like log key, and the `trusted_root.json` (Sigstore protobuf-specs `TrustedRoot`) that
//! lists them. [`SigningKit::images`] builds the images the sandbox seeds under `signed/`:
//!
//! | image                  | signature                                                        |
//! |------------------------|------------------------------------------------------------------|
//! | `signed/app:1`         | an index, signed over its digest by the upstream key              |
//! | `signed/app:0`         | the release before it (one platform, another layer), signed so too |
//! | `signed/other-key:1`   | signed by the other key                                          |
//! | `signed/other-digest:1`| by the upstream key, but the payload names another digest        |
//! | `signed/unsigned:1`    | none                                                             |
//! | `signed/keyless:1`     | keyless: a leaf for [`IDENTITY`] from [`ISSUER`], with a Rekor SET |
//!
//! Formats as sigstore/cosign `specs/SIGNATURE_SPEC.md` describes them: a `sha256-<hex>.sig` tag
//! whose OCI manifest's layers are simple-signing payloads annotated with
//! `dev.cosignproject.cosign/signature` (base64 ASN.1 ECDSA P-256 over the payload bytes) and,
//! keyless, `dev.sigstore.cosign/certificate`, `.../chain` and `.../bundle`.
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SigningKey,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::images::{
    Blob, Format, ImageSet, ImageSpec, LayerSpec, Platform, SignatureArtifact, json_bytes,
};
use super::media::{COSIGN_SIMPLESIGNING, OCI_CONFIG, OCI_MANIFEST};

/// The keyless signer's identity (the leaf certificate's email SAN).
pub const IDENTITY: &str = "release@upstream.example.invalid";
/// The keyless signer's OIDC issuer (Fulcio's issuer extension).
pub const ISSUER: &str = "https://issuer.example.invalid";

/// Keys and certificates of one sandbox run.
pub struct SigningKit {
    upstream: KeyPair,
    other: KeyPair,
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    intermediate_pem: String,
    root_pem: String,
    intermediate_issuer: Issuer<'static, KeyPair>,
    rekor: KeyPair,
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

impl SigningKit {
    /// Fresh keys and a fresh CA.
    pub fn generate() -> Result<Self> {
        let upstream = KeyPair::generate()?;
        let other = KeyPair::generate()?;
        let root_key = KeyPair::generate()?;
        let mut root = CertificateParams::new(Vec::<String>::new())?;
        root.distinguished_name
            .push(DnType::CommonName, "sandbox fulcio root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_cert = root.self_signed(&root_key)?;
        let root_issuer = Issuer::new(root, root_key);
        let intermediate_key = KeyPair::generate()?;
        let mut intermediate = CertificateParams::new(Vec::<String>::new())?;
        intermediate
            .distinguished_name
            .push(DnType::CommonName, "sandbox fulcio intermediate");
        intermediate.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        intermediate.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let intermediate_cert = intermediate.signed_by(&intermediate_key, &root_issuer)?;
        Ok(SigningKit {
            upstream,
            other,
            root_der: root_cert.der().to_vec(),
            root_pem: root_cert.pem(),
            intermediate_der: intermediate_cert.der().to_vec(),
            intermediate_pem: intermediate_cert.pem(),
            intermediate_issuer: Issuer::new(intermediate, intermediate_key),
            rekor: KeyPair::generate()?,
        })
    }

    /// The upstream key's public PEM (`cosign.pub`).
    pub fn public_key_pem(&self) -> String {
        self.upstream.public_key_pem()
    }

    /// The other key's public PEM.
    pub fn other_public_key_pem(&self) -> String {
        self.other.public_key_pem()
    }

    /// SHA-256 of the Rekor key's DER SubjectPublicKeyInfo: the log's ID.
    fn log_id(&self) -> Vec<u8> {
        Sha256::digest(self.rekor.subject_public_key_info()).to_vec()
    }

    /// The `trusted_root.json` listing the CA (intermediate then root) and the log key.
    pub fn trusted_root(&self) -> Value {
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.sandbox.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(&self.rekor.subject_public_key_info()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"},
                },
                "logId": {"keyId": b64(&self.log_id())},
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "vetted sandbox", "commonName": "sandbox fulcio"},
                "uri": "https://fulcio.sandbox.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": b64(&self.intermediate_der)},
                    {"rawBytes": b64(&self.root_der)},
                ]},
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            }],
            "ctlogs": [],
            "timestampAuthorities": [],
        })
    }

    /// What `GET /_sandbox/signing` serves: the public halves and the seeded images.
    pub fn describe(&self) -> Value {
        json!({
            "public_key_pem": self.public_key_pem(),
            "other_public_key_pem": self.other_public_key_pem(),
            "identity": IDENTITY,
            "issuer": ISSUER,
            "trusted_root": self.trusted_root(),
            "images": {
                "signed": "signed/app:1",
                "other_key": "signed/other-key:1",
                "other_digest": "signed/other-digest:1",
                "unsigned": "signed/unsigned:1",
                "keyless": "signed/keyless:1",
            },
        })
    }

    /// The signature-gate images (see the module doc), built from `seed`.
    pub fn images(&self, seed: u64) -> Result<ImageSet> {
        let one = vec![Platform::new("linux", "amd64", None)];
        let two = vec![
            Platform::new("linux", "amd64", None),
            Platform::new("linux", "arm64", Some("v8")),
        ];
        let spec = |repository: &str, platforms: Vec<Platform>| ImageSpec {
            repository: repository.into(),
            tag: "1".into(),
            format: Format::Oci,
            platforms,
            layers: vec![LayerSpec {
                key: format!("{repository}-layer"),
                size: 4096,
            }],
            signed: false,
        };
        // An upstream update of a signed image: lock `:0`, call it `:1` in the lock, and `:1`
        // has moved (tests/it/signatures.rs).
        let previous = ImageSpec {
            tag: "0".into(),
            layers: vec![LayerSpec {
                key: "signed/app-layer-previous".into(),
                size: 2048,
            }],
            ..spec("signed/app", one.clone())
        };
        let mut set = ImageSet::build(
            seed,
            &[
                spec("signed/app", two),
                previous,
                spec("signed/other-key", one.clone()),
                spec("signed/other-digest", one.clone()),
                spec("signed/unsigned", one.clone()),
                spec("signed/keyless", one),
            ],
        )?;
        let app_digest = set.images[0].manifest.digest.clone();
        for img in &mut set.images {
            let digest = img.manifest.digest.clone();
            let repo = format!("docker.io/{}", img.repository);
            img.signature = match img.repository.as_str() {
                "signed/app" => Some(self.keyed(&self.upstream, &repo, &digest, &digest)?),
                "signed/other-key" => Some(self.keyed(&self.other, &repo, &digest, &digest)?),
                "signed/other-digest" => {
                    Some(self.keyed(&self.upstream, &repo, &digest, &app_digest)?)
                }
                "signed/keyless" => Some(self.keyless(&repo, &digest)?),
                _ => None,
            };
        }
        Ok(set)
    }

    /// A signature tag for `digest` whose payload names `signed` (normally `digest` itself).
    fn keyed(
        &self,
        key: &KeyPair,
        repository: &str,
        digest: &str,
        signed: &str,
    ) -> Result<SignatureArtifact> {
        let payload = payload(repository, signed);
        let sig = key.sign(&payload).context("signing a payload")?;
        let annotations =
            BTreeMap::from([("dev.cosignproject.cosign/signature".to_string(), b64(&sig))]);
        Ok(artifact(digest, payload, annotations))
    }

    /// A keyless signature: an ephemeral key, its leaf certificate from the intermediate, and a
    /// Rekor bundle whose SET the log key signs.
    fn keyless(&self, repository: &str, digest: &str) -> Result<SignatureArtifact> {
        let payload = payload(repository, digest);
        let ephemeral = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(Vec::<String>::new())?;
        leaf.subject_alt_names = vec![SanType::Rfc822Name(IDENTITY.try_into()?)];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
            ISSUER.as_bytes().to_vec(),
        )];
        let cert = leaf.signed_by(&ephemeral, &self.intermediate_issuer)?;
        let cert_pem = cert.pem();
        let sig = ephemeral.sign(&payload).context("signing a payload")?;
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))}},
                "signature": {"content": b64(&sig), "publicKey": {"content": b64(cert_pem.as_bytes())}},
            },
        });
        let body = b64(body.to_string().as_bytes());
        let integrated_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let log_id = hex::encode(self.log_id());
        let log_index = 1u64;
        // The SET signs the canonical JSON of the payload: keys sorted, no spaces.
        let canonical = format!(
            "{{\"body\":{},\"integratedTime\":{integrated_time},\"logID\":{},\"logIndex\":{log_index}}}",
            Value::String(body.clone()),
            Value::String(log_id.clone()),
        );
        let set = self
            .rekor
            .sign(canonical.as_bytes())
            .context("signing a Rekor entry")?;
        let bundle = json!({
            "SignedEntryTimestamp": b64(&set),
            "Payload": {
                "body": body,
                "integratedTime": integrated_time,
                "logIndex": log_index,
                "logID": log_id,
            },
        });
        let annotations = BTreeMap::from([
            ("dev.cosignproject.cosign/signature".to_string(), b64(&sig)),
            ("dev.sigstore.cosign/certificate".to_string(), cert_pem),
            (
                "dev.sigstore.cosign/chain".to_string(),
                format!("{}{}", self.intermediate_pem, self.root_pem),
            ),
            ("dev.sigstore.cosign/bundle".to_string(), bundle.to_string()),
        ]);
        Ok(artifact(digest, payload, annotations))
    }
}

/// A simple-signing payload for `digest` of `repository`.
fn payload(repository: &str, digest: &str) -> Vec<u8> {
    json_bytes(&json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
}

/// The `sha256-<hex>.sig` tag of `digest`: one layer, the payload, with `annotations`.
fn artifact(
    digest: &str,
    payload: Vec<u8>,
    annotations: BTreeMap<String, String>,
) -> SignatureArtifact {
    let payload = Blob::new(COSIGN_SIMPLESIGNING, payload);
    let config = Blob::new(
        OCI_CONFIG,
        json_bytes(&json!({
            "architecture": "", "os": "", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [payload.digest]},
        })),
    );
    let mut layer = payload.descriptor();
    layer["annotations"] = json!(annotations);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer],
    });
    SignatureArtifact {
        tag: format!("{}.sig", digest.replace(':', "-")),
        manifest: Blob::new(OCI_MANIFEST, json_bytes(&manifest)),
        blobs: vec![config, payload],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_signature_gate_images() {
        let kit = SigningKit::generate().unwrap();
        let set = kit.images(3).unwrap();
        let names: Vec<_> = set
            .images
            .iter()
            .map(|i| format!("{}:{}", i.repository, i.tag))
            .collect();
        assert_eq!(
            names,
            [
                "signed/app:1",
                "signed/app:0",
                "signed/other-key:1",
                "signed/other-digest:1",
                "signed/unsigned:1",
                "signed/keyless:1"
            ]
        );
        assert!(set.images[4].signature.is_none());
        // The previous release is another digest, signed too.
        assert_ne!(set.images[1].manifest.digest, set.images[0].manifest.digest);
        assert!(set.images[1].signature.is_some());
        let sig = set.images[0].signature.as_ref().unwrap();
        let m: Value = serde_json::from_slice(&sig.manifest.data).unwrap();
        assert_eq!(m["layers"][0]["mediaType"], COSIGN_SIMPLESIGNING);
        assert!(m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"].is_string());
        let keyless = set.images[5].signature.as_ref().unwrap();
        let m: Value = serde_json::from_slice(&keyless.manifest.data).unwrap();
        assert!(m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"].is_string());
        assert!(kit.public_key_pem().contains("BEGIN PUBLIC KEY"));
        assert_ne!(kit.public_key_pem(), kit.other_public_key_pem());
        assert_eq!(
            kit.trusted_root()["certificateAuthorities"][0]["certChain"]["certificates"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
