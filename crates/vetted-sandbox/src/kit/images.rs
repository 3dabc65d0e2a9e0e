//! The image generator: synthetic "community" images with deterministic content from a seed,
//! multi-arch images (OCI index and Docker manifest list), base layers shared between images, both
//! Docker and OCI media types, and cosign-style signature tags. Content is built in memory
//! ([`ImageSet`]) or, for layers too large to hold, streamed to a file ([`write_content`]); the
//! manifest and index builders ([`image_manifest`], [`index_manifest`]) serve both.
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use super::media::Format;
use super::media::{COSIGN_SIMPLESIGNING, OCI_CONFIG, OCI_MANIFEST};

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
    /// The blob of `data` with its sha256 digest.
    pub fn new(media_type: &str, data: Vec<u8>) -> Self {
        Self {
            digest: digest_of(&data),
            media_type: media_type.to_string(),
            data,
        }
    }

    /// Its descriptor (`mediaType`, `size`, `digest`) as a manifest lists it.
    pub fn descriptor(&self) -> serde_json::Value {
        descriptor(&self.media_type, &self.digest, self.data.len() as u64)
    }
}

/// A descriptor (`mediaType`, `size`, `digest`) as a manifest lists it.
pub fn descriptor(media_type: &str, digest: &str, size: u64) -> serde_json::Value {
    json!({"mediaType": media_type, "size": size, "digest": digest})
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

/// Deterministic, incompressible bytes from (seed, key): the same arguments give the same bytes.
pub fn content(seed: u64, key: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    let mut counter: u64 = 0;
    while out.len() < size {
        out.extend_from_slice(&content_block(seed, key, counter));
        counter += 1;
    }
    out.truncate(size);
    out
}

fn content_block(seed: u64, key: &str, counter: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(key.as_bytes());
    h.update(counter.to_le_bytes());
    h.finalize().into()
}

/// A blob written to a file, too large to hold in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBlob {
    pub digest: String,
    pub size: u64,
    pub path: PathBuf,
}

/// Writes [`content`]`(seed, key, size)` to `path`, streamed and hashed on the way (the bytes equal
/// what [`content`] returns; memory stays bounded whatever the size).
pub fn write_content(seed: u64, key: &str, size: u64, path: &Path) -> Result<FileBlob> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut file = std::io::BufWriter::with_capacity(256 * 1024, file);
    let mut hasher = Sha256::new();
    let mut left = size;
    let mut counter: u64 = 0;
    while left > 0 {
        let block = content_block(seed, key, counter);
        let n = usize::try_from(left.min(block.len() as u64))?;
        hasher.update(&block[..n]);
        file.write_all(&block[..n])
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
        counter += 1;
    }
    file.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(FileBlob {
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        size,
        path: path.to_path_buf(),
    })
}

/// The JSON bytes the generator writes for a manifest or config.
pub fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    // serde_json's map is a BTreeMap here, so key order (and thus the digest) is stable.
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// An image manifest of `format` over a config and its layers (descriptors, see [`descriptor`]).
pub fn image_manifest(
    format: Format,
    config: serde_json::Value,
    layers: Vec<serde_json::Value>,
) -> Blob {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": format.manifest(),
        "config": config,
        "layers": layers,
    });
    Blob::new(format.manifest(), json_bytes(&manifest))
}

/// An index (OCI) or manifest list (Docker) of `format` over per-platform manifests.
pub fn index_manifest(format: Format, children: &[(Platform, &Blob)]) -> Blob {
    let index = json!({
        "schemaVersion": 2,
        "mediaType": format.index(),
        "manifests": children.iter().map(|(p, m)| {
            let mut d = m.descriptor();
            d["platform"] = platform_json(p);
            d
        }).collect::<Vec<_>>(),
    });
    Blob::new(format.index(), json_bytes(&index))
}

/// A platform as a config or an index lists it.
pub fn platform_json(p: &Platform) -> serde_json::Value {
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
    let mut blobs: BTreeMap<String, Blob> = BTreeMap::new();
    let mut children = Vec::new();
    for platform in &spec.platforms {
        let layers: Vec<Blob> = spec
            .layers
            .iter()
            .map(|l| {
                let key = format!("{}@{}", l.key, platform.key());
                Blob::new(spec.format.layer(), content(seed, &key, l.size))
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
        let config = Blob::new(spec.format.config(), json_bytes(&config));
        let manifest = image_manifest(
            spec.format,
            config.descriptor(),
            layers.iter().map(Blob::descriptor).collect(),
        );
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
        let refs: Vec<(Platform, &Blob)> = children.iter().map(|(p, m)| (p.clone(), m)).collect();
        let index = index_manifest(spec.format, &refs);
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
    let sig = STANDARD.encode(content(seed, &format!("sig@{digest}"), 64));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::media::{DOCKER_MANIFEST_LIST, OCI_INDEX};
    use std::collections::BTreeSet;

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
    fn file_content_equals_memory_content() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0u64, 1, 31, 32, 33, 100_000] {
            let path = dir.path().join(format!("{size}.layer"));
            let blob = write_content(3, "base", size, &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes, content(3, "base", size as usize));
            assert_eq!(blob.digest, digest_of(&bytes));
            assert_eq!(blob.size, size);
        }
        assert_ne!(content(3, "base", 64), content(4, "base", 64));
        assert_ne!(content(3, "base", 64), content(3, "other", 64));
    }
}
