//! Synthetic "community" images for the sandbox and tests: deterministic content from a seed,
//! multi-arch images (OCI index and Docker manifest list), base layers shared between images, both
//! Docker and OCI media types, and cosign-style signature tags; plus a small pusher that uploads a
//! set to a registry with monolithic blob uploads and the registry token flow.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// Which family of media types an image uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docker,
    Oci,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    fn key(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// One layer: content is derived from the set's seed, `key` and the platform, so equal keys give
/// equal (shared) layers across images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    pub key: String,
    pub size: usize,
}

/// What to synthesize for one `repository:tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub repository: String,
    pub tag: String,
    pub format: Format,
    /// One platform gives a plain manifest; several give an index / manifest list.
    pub platforms: Vec<Platform>,
    pub layers: Vec<LayerSpec>,
    /// Adds a cosign-style `sha256-<hex>.sig` tag.
    pub signed: bool,
}

/// Content-addressed bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub media_type: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("digest", &self.digest)
            .field("media_type", &self.media_type)
            .field("size", &self.data.len())
            .finish()
    }
}

impl Blob {
    fn new(media_type: &str, data: Vec<u8>) -> Self {
        Self {
            digest: digest_of(&data),
            media_type: media_type.to_string(),
            data,
        }
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "size": self.data.len(), "digest": self.digest})
    }
}

/// A signature tag and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureArtifact {
    pub tag: String,
    pub manifest: Blob,
    pub blobs: Vec<Blob>,
}

/// A built image: blobs (configs and layers, deduplicated), child manifests pushed by digest, the
/// tagged top-level manifest and an optional signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticImage {
    pub repository: String,
    pub tag: String,
    pub blobs: Vec<Blob>,
    pub children: Vec<Blob>,
    pub manifest: Blob,
    pub signature: Option<SignatureArtifact>,
}

/// A set of built images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pub seed: u64,
    pub images: Vec<SyntheticImage>,
}

pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Deterministic, incompressible bytes from (seed, key).
fn expand(seed: u64, key: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    let mut counter: u64 = 0;
    while out.len() < size {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(key.as_bytes());
        h.update(counter.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(size);
    out
}

fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    // serde_json's map is a BTreeMap here, so key order (and thus the digest) is stable.
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

fn platform_json(p: &Platform) -> serde_json::Value {
    let mut v = json!({"os": p.os, "architecture": p.architecture});
    if let Some(variant) = &p.variant {
        v["variant"] = json!(variant);
    }
    v
}

fn build_image(seed: u64, spec: &ImageSpec) -> Result<SyntheticImage> {
    if spec.platforms.is_empty() {
        bail!("{}:{} has no platforms", spec.repository, spec.tag);
    }
    let (manifest_type, index_type, config_type, layer_type) = match spec.format {
        Format::Docker => (
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
            DOCKER_CONFIG,
            DOCKER_LAYER,
        ),
        Format::Oci => (OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER),
    };
    let mut blobs: BTreeMap<String, Blob> = BTreeMap::new();
    let mut children = Vec::new();
    for platform in &spec.platforms {
        let layers: Vec<Blob> = spec
            .layers
            .iter()
            .map(|l| {
                let key = format!("{}@{}", l.key, platform.key());
                Blob::new(layer_type, expand(seed, &key, l.size))
            })
            .collect();
        let mut config = platform_json(platform);
        config["created"] = json!("2024-01-01T00:00:00Z");
        config["config"] = json!({
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": {"org.opencontainers.image.source": format!("https://example.invalid/{}", spec.repository),
                       "org.opencontainers.image.version": spec.tag},
        });
        config["rootfs"] = json!({
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
        });
        let config = Blob::new(config_type, json_bytes(&config));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        let manifest = Blob::new(manifest_type, json_bytes(&manifest));
        blobs.insert(config.digest.clone(), config);
        for l in layers {
            blobs.insert(l.digest.clone(), l);
        }
        children.push((platform.clone(), manifest));
    }
    let (children, manifest) = if children.len() == 1 {
        let (_, only) = children.remove(0);
        (Vec::new(), only)
    } else {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": children.iter().map(|(p, m)| {
                let mut d = m.descriptor();
                d["platform"] = platform_json(p);
                d
            }).collect::<Vec<_>>(),
        });
        let index = Blob::new(index_type, json_bytes(&index));
        (children.into_iter().map(|(_, m)| m).collect(), index)
    };
    let signature = spec
        .signed
        .then(|| signature_for(seed, &spec.repository, &manifest.digest));
    Ok(SyntheticImage {
        repository: spec.repository.clone(),
        tag: spec.tag.clone(),
        blobs: blobs.into_values().collect(),
        children,
        manifest,
        signature,
    })
}

/// A cosign-style signature: tag `sha256-<hex>.sig`, an OCI manifest whose one layer is the
/// simple-signing payload, annotated with a (synthetic) signature.
fn signature_for(seed: u64, repository: &str, digest: &str) -> SignatureArtifact {
    let payload = json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    let payload = Blob::new(COSIGN_SIMPLESIGNING, json_bytes(&payload));
    let config = Blob::new(
        OCI_CONFIG,
        json_bytes(
            &json!({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": [payload.digest]}, "config": {}}),
        ),
    );
    let sig = STANDARD.encode(expand(seed, &format!("sig@{digest}"), 64));
    let mut layer = payload.descriptor();
    layer["annotations"] = json!({"dev.cosignproject.cosign/signature": sig});
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

const KIB: usize = 1024;

fn layer(key: &str, size: usize) -> LayerSpec {
    LayerSpec {
        key: key.to_string(),
        size,
    }
}

/// The default community images (a few MiB in total).
pub fn default_specs() -> Vec<ImageSpec> {
    let two = vec![
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm64", Some("v8")),
    ];
    let three = vec![
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm64", Some("v8")),
        Platform::new("linux", "arm", Some("v7")),
    ];
    let debian = layer("debian-12-base", 256 * KIB);
    vec![
        ImageSpec {
            repository: "bitnami/redis".into(),
            tag: "7.2".into(),
            format: Format::Docker,
            platforms: two.clone(),
            layers: vec![
                debian.clone(),
                layer("redis-runtime", 128 * KIB),
                layer("redis-7.2", 96 * KIB),
            ],
            signed: true,
        },
        ImageSpec {
            repository: "bitnami/redis".into(),
            tag: "7.4.1".into(),
            format: Format::Docker,
            platforms: two.clone(),
            layers: vec![
                debian.clone(),
                layer("redis-runtime", 128 * KIB),
                layer("redis-7.4.1", 96 * KIB),
            ],
            signed: false,
        },
        ImageSpec {
            repository: "library/nginx".into(),
            tag: "1.27".into(),
            format: Format::Oci,
            platforms: three,
            layers: vec![debian, layer("nginx-1.27", 160 * KIB)],
            signed: false,
        },
        ImageSpec {
            repository: "library/alpine".into(),
            tag: "3.20".into(),
            format: Format::Docker,
            platforms: two.clone(),
            layers: vec![layer("alpine-3.20", 64 * KIB)],
            signed: false,
        },
        ImageSpec {
            repository: "grafana/loki".into(),
            tag: "3.1".into(),
            format: Format::Oci,
            platforms: vec![Platform::new("linux", "amd64", None)],
            layers: vec![layer("alpine-3.20", 64 * KIB), layer("loki-3.1", 192 * KIB)],
            signed: false,
        },
        ImageSpec {
            repository: "library/nginx".into(),
            tag: "1.27-alpine".into(),
            format: Format::Oci,
            platforms: two.clone(),
            layers: vec![
                layer("alpine-3.20", 64 * KIB),
                layer("nginx-1.27", 160 * KIB),
            ],
            signed: false,
        },
        ImageSpec {
            repository: "aquasec/trivy".into(),
            tag: "0.57.1".into(),
            format: Format::Docker,
            platforms: two,
            layers: vec![
                layer("alpine-3.20", 64 * KIB),
                layer("trivy-0.57.1", 224 * KIB),
            ],
            signed: true,
        },
    ]
}

impl ImageSet {
    pub fn build(seed: u64, specs: &[ImageSpec]) -> Result<Self> {
        let images = specs
            .iter()
            .map(|s| build_image(seed, s))
            .collect::<Result<_>>()?;
        Ok(Self { seed, images })
    }

    /// The default set from [`default_specs`].
    pub fn default_set(seed: u64) -> Result<Self> {
        Self::build(seed, &default_specs())
    }

    /// Total bytes of distinct blobs and manifests.
    pub fn total_bytes(&self) -> usize {
        let mut seen = BTreeMap::new();
        for img in &self.images {
            for b in img.blobs.iter().chain(&img.children).chain([&img.manifest]) {
                seen.insert(b.digest.clone(), b.data.len());
            }
        }
        seen.values().sum()
    }
}

/// Registry credentials for the token flow. Debug redacts the secret.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What was pushed for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub media_type: String,
    pub signature_tag: Option<String>,
}

/// Parses `Bearer realm="..",service="..",scope=".."` into its parameters.
fn parse_challenge(value: &str) -> Option<BTreeMap<String, String>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut out = BTreeMap::new();
    let mut rest = rest.trim();
    for _ in 0..16 {
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let (val, tail) = after.split_once('"')?;
        out.insert(key.trim().to_string(), val.to_string());
        rest = tail.trim_start_matches([',', ' ']);
    }
    Some(out)
}

struct Pusher<'a> {
    client: reqwest::Client,
    base: Url,
    creds: Option<&'a Credentials>,
    realm: Option<(Url, String)>,
    tokens: BTreeMap<String, String>,
}

impl Pusher<'_> {
    async fn challenge(&mut self) -> Result<()> {
        let resp = self.client.get(self.base.join("v2/")?).send().await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        let header = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the registry answered 401 without a challenge"))?;
        let params = parse_challenge(header)
            .ok_or_else(|| anyhow!("unsupported registry auth challenge: {header}"))?;
        let realm = params
            .get("realm")
            .ok_or_else(|| anyhow!("the registry's challenge has no realm"))?;
        let realm = Url::parse(realm).context("parsing the registry's token realm")?;
        self.realm = Some((realm, params.get("service").cloned().unwrap_or_default()));
        Ok(())
    }

    async fn token(&mut self, repository: &str) -> Result<Option<String>> {
        let Some((realm, service)) = self.realm.clone() else {
            return Ok(None);
        };
        if let Some(t) = self.tokens.get(repository) {
            return Ok(Some(t.clone()));
        }
        let mut req = self.client.get(realm).query(&[
            ("service", service.as_str()),
            ("scope", &format!("repository:{repository}:pull,push")),
        ]);
        if let Some(c) = self.creds {
            req = req.basic_auth(&c.user, Some(&c.secret));
        }
        let resp = req.send().await.context("requesting a registry token")?;
        if !resp.status().is_success() {
            bail!(
                "the token service refused a token for {repository}: {}",
                resp.status()
            );
        }
        let body: serde_json::Value = resp.json().await.context("reading the token response")?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .ok_or_else(|| anyhow!("the token response has no token"))?
            .to_string();
        self.tokens.insert(repository.to_string(), token.clone());
        Ok(Some(token))
    }

    async fn authed(
        &mut self,
        repository: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        Ok(match self.token(repository).await? {
            Some(t) => req.bearer_auth(t),
            None => req,
        })
    }

    async fn push_blob(&mut self, repository: &str, blob: &Blob) -> Result<()> {
        let url = self
            .base
            .join(&format!("v2/{repository}/blobs/{}", blob.digest))?;
        let req = self.authed(repository, self.client.head(url)).await?;
        let resp = req.send().await?;
        if resp.status() == StatusCode::OK {
            return Ok(());
        }
        let url = self.base.join(&format!("v2/{repository}/blobs/uploads/"))?;
        let req = self.authed(repository, self.client.post(url)).await?;
        let resp = req.send().await?;
        if resp.status() != StatusCode::ACCEPTED {
            bail!(
                "starting a blob upload to {repository} failed: {}",
                resp.status()
            );
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the registry's upload response has no Location"))?;
        let mut upload = self.base.join(location)?;
        upload.query_pairs_mut().append_pair("digest", &blob.digest);
        let req = self
            .authed(repository, self.client.put(upload))
            .await?
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(blob.data.clone());
        let resp = req.send().await?;
        if resp.status() != StatusCode::CREATED {
            bail!(
                "uploading {} to {repository} failed: {}",
                blob.digest,
                resp.status()
            );
        }
        Ok(())
    }

    async fn push_manifest(&mut self, repository: &str, reference: &str, m: &Blob) -> Result<()> {
        let url = self
            .base
            .join(&format!("v2/{repository}/manifests/{reference}"))?;
        let req = self
            .authed(repository, self.client.put(url))
            .await?
            .header(reqwest::header::CONTENT_TYPE, &m.media_type)
            .body(m.data.clone());
        let resp = req.send().await?;
        if resp.status() != StatusCode::CREATED {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            bail!(
                "pushing manifest {repository}:{reference} failed: {status} {}",
                body.chars().take(300).collect::<String>()
            );
        }
        let echoed = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok());
        if let Some(echoed) = echoed
            && echoed != m.digest
        {
            bail!(
                "the registry stored {repository}:{reference} as {echoed}, expected {}",
                m.digest
            );
        }
        Ok(())
    }
}

/// Pushes every image of `set` to the registry at `registry_url` (blobs, child manifests by
/// digest, the tagged manifest, then signature tags). Tokens come from the registry's challenge
/// realm, with Basic `creds` when given (anonymous otherwise).
pub async fn push_community_images(
    registry_url: &Url,
    creds: Option<&Credentials>,
    set: &ImageSet,
) -> Result<Vec<PushedImage>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    let mut pusher = Pusher {
        client,
        base: registry_url.clone(),
        creds,
        realm: None,
        tokens: BTreeMap::new(),
    };
    pusher.challenge().await?;
    let mut pushed = Vec::new();
    for img in &set.images {
        let repo = img.repository.as_str();
        let mut done = BTreeSet::new();
        for blob in &img.blobs {
            if done.insert(blob.digest.clone()) {
                pusher.push_blob(repo, blob).await?;
            }
        }
        for child in &img.children {
            pusher.push_manifest(repo, &child.digest, child).await?;
        }
        pusher.push_manifest(repo, &img.tag, &img.manifest).await?;
        if let Some(sig) = &img.signature {
            for blob in &sig.blobs {
                pusher.push_blob(repo, blob).await?;
            }
            pusher.push_manifest(repo, &sig.tag, &sig.manifest).await?;
        }
        pushed.push(PushedImage {
            repository: img.repository.clone(),
            tag: img.tag.clone(),
            digest: img.manifest.digest.clone(),
            media_type: img.manifest.media_type.clone(),
            signature_tag: img.signature.as_ref().map(|s| s.tag.clone()),
        });
    }
    Ok(pushed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{RegistryOptions, RegistryProcess};
    use crate::token::{self, TokenIssuer};
    use std::sync::Arc;

    #[test]
    fn sets_are_deterministic_and_share_layers() {
        let a = ImageSet::default_set(7).unwrap();
        let b = ImageSet::default_set(7).unwrap();
        let c = ImageSet::default_set(8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.images[0].manifest.digest, c.images[0].manifest.digest);
        let total = a.total_bytes();
        assert!((1 << 20..16 << 20).contains(&total), "{total}");
        let types: BTreeSet<&str> = a
            .images
            .iter()
            .map(|i| i.manifest.media_type.as_str())
            .collect();
        assert!(types.contains(DOCKER_MANIFEST_LIST));
        assert!(types.contains(OCI_INDEX));
        assert!(types.contains(OCI_MANIFEST));
        // The Debian base layer is shared by both redis tags.
        let r72: BTreeSet<_> = a.images[0].blobs.iter().map(|b| &b.digest).collect();
        let r74: BTreeSet<_> = a.images[1].blobs.iter().map(|b| &b.digest).collect();
        assert!(r72.intersection(&r74).count() >= 4);
        let sig = a.images[0].signature.as_ref().unwrap();
        assert_eq!(
            sig.tag,
            format!("sha256-{}.sig", &a.images[0].manifest.digest[7..])
        );
        let m: serde_json::Value = serde_json::from_slice(&sig.manifest.data).unwrap();
        assert_eq!(m["layers"][0]["mediaType"], COSIGN_SIMPLESIGNING);
        // Index children are the platform manifests.
        let idx: serde_json::Value = serde_json::from_slice(&a.images[2].manifest.data).unwrap();
        assert_eq!(idx["manifests"].as_array().unwrap().len(), 3);
        assert_eq!(idx["manifests"][2]["platform"]["variant"], "v7");
        assert!(
            ImageSet::build(
                1,
                &[ImageSpec {
                    platforms: vec![],
                    ..default_specs()[0].clone()
                }]
            )
            .is_err()
        );
    }

    #[test]
    fn challenges_parse() {
        let p = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(p["realm"], "http://127.0.0.1:1/token");
        assert_eq!(p["service"], "reg");
        assert_eq!(p["scope"], "repository:a/b:pull");
        assert!(parse_challenge("Basic realm=\"x\"").is_none());
        assert!(
            format!(
                "{:?}",
                Credentials {
                    user: "u".into(),
                    secret: "hunter2".into()
                }
            )
            .contains("redacted")
        );
    }

    #[tokio::test]
    async fn push_to_real_registry_with_token_auth() {
        let dir = tempfile::tempdir().unwrap();
        let issuer =
            Arc::new(TokenIssuer::new(dir.path(), "vetted-sandbox", "vetted-registry").unwrap());
        let (base, server) = token::tests::serve(token::router(
            issuer.clone(),
            Arc::new(token::tests::TestAuthz),
        ))
        .await;
        let registry = RegistryProcess::start(
            &dir.path().join("registry"),
            RegistryOptions {
                realm: Url::parse(&format!("{base}/token")).unwrap(),
                service: issuer.service().to_string(),
                issuer: issuer.issuer().to_string(),
                cert_pem_path: issuer.cert_pem_path().to_path_buf(),
                cdn: None,
            },
        )
        .await
        .unwrap();
        let set = ImageSet::default_set(42).unwrap();

        // No token at all: the registry refuses the upload.
        let client = reqwest::Client::new();
        let resp = client
            .post(
                registry
                    .url()
                    .join("v2/bitnami/redis/blobs/uploads/")
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        // Anonymous token (pull only): pushing fails.
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            push_community_images(registry.url(), None, &set),
        )
        .await
        .unwrap()
        .unwrap_err();
        assert!(format!("{err:#}").contains("bitnami/redis"), "{err:#}");
        // Wrong password: the token service says 401.
        let bad = Credentials {
            user: "alice".into(),
            secret: "nope".into(),
        };
        let err = push_community_images(registry.url(), Some(&bad), &set)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("401"));
        assert!(!format!("{err:#}").contains("nope"));

        let creds = Credentials {
            user: "alice".into(),
            secret: "s3cret".into(),
        };
        let pushed = tokio::time::timeout(
            Duration::from_secs(120),
            push_community_images(registry.url(), Some(&creds), &set),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(pushed.len(), set.images.len());
        let redis = &pushed[0];
        assert_eq!(
            (redis.repository.as_str(), redis.tag.as_str()),
            ("bitnami/redis", "7.2")
        );

        let host = registry.host();
        for (reference, digest) in [
            ("bitnami/redis:7.2".to_string(), redis.digest.clone()),
            (
                format!("bitnami/redis:{}", redis.signature_tag.clone().unwrap()),
                set.images[0]
                    .signature
                    .as_ref()
                    .unwrap()
                    .manifest
                    .digest
                    .clone(),
            ),
            ("grafana/loki:3.1".to_string(), pushed[4].digest.clone()),
        ] {
            let out = tokio::time::timeout(
                Duration::from_secs(60),
                tokio::process::Command::new("skopeo")
                    .args([
                        "inspect",
                        "--raw",
                        "--tls-verify=false",
                        "--creds",
                        "alice:s3cret",
                    ])
                    .arg(format!("docker://{host}/{reference}"))
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .unwrap()
            .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(digest_of(&out.stdout), digest, "{reference}");
        }
        // Scopes come from the authorizer end to end: anonymous pull of a community repository
        // works, anonymous pull of an org repository does not.
        let org = ImageSet::build(
            42,
            &[ImageSpec {
                repository: "acme/app".into(),
                tag: "1".into(),
                ..default_specs()[4].clone()
            }],
        )
        .unwrap();
        push_community_images(registry.url(), Some(&creds), &org)
            .await
            .unwrap();
        for (reference, readable) in [("bitnami/redis:7.2", true), ("acme/app:1", false)] {
            let out = tokio::time::timeout(
                Duration::from_secs(60),
                tokio::process::Command::new("skopeo")
                    .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
                    .arg(format!("docker://{host}/{reference}"))
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(
                out.status.success(),
                readable,
                "{reference}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        registry.stop().await.unwrap();
        server.abort();
    }
}
