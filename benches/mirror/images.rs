//! The generated images: deterministic layer files written once each (`vetted_sandbox::kit`),
//! their Docker and OCI manifests, and the image sets of the bulk and latency-bound scenarios.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;
use vetted_sandbox::kit::images::{
    self as generate, Blob as Manifest, FileBlob as Blob, Format, Platform, image_manifest,
    index_manifest,
};

pub(crate) const MIB: u64 = 1024 * 1024;
/// The seed of the generated content.
const CONTENT_SEED: u64 = 1;

/// A generated image: blobs, child manifests (of an index) and the top-level manifest.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub(crate) name: String,
    pub(crate) blobs: Vec<Blob>,
    pub(crate) children: Vec<Manifest>,
    pub(crate) top: Manifest,
}

pub(crate) const TAG: &str = "v1";

/// Writes each layer once per key ([`generate::write_content`]) and builds the manifests.
pub(crate) struct Generator {
    pub(crate) dir: PathBuf,
    pub(crate) made: BTreeMap<String, Blob>,
}

impl Generator {
    fn layer(&mut self, key: &str, size: u64) -> Result<Blob> {
        if let Some(b) = self.made.get(key) {
            return Ok(b.clone());
        }
        let path = self.dir.join(format!("{}.layer", self.made.len()));
        let blob = generate::write_content(CONTENT_SEED, key, size, &path)?;
        self.made.insert(key.to_string(), blob.clone());
        Ok(blob)
    }

    fn small(&mut self, data: &[u8]) -> Result<Blob> {
        let digest = generate::digest_of(data);
        if let Some(b) = self.made.get(&digest) {
            return Ok(b.clone());
        }
        let path = self.dir.join(format!("{}.json", self.made.len()));
        std::fs::write(&path, data)?;
        let blob = Blob {
            digest: digest.clone(),
            size: data.len() as u64,
            path,
        };
        self.made.insert(digest, blob.clone());
        Ok(blob)
    }

    /// A single-platform manifest over `layers` (key, size).
    fn manifest(
        &mut self,
        format: Format,
        arch: &str,
        layers: &[(String, u64)],
        blobs: &mut Vec<Blob>,
    ) -> Result<Manifest> {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (key, size) in layers {
            let b = self.layer(key, *size)?;
            descs.push(generate::descriptor(format.layer(), &b.digest, b.size));
            diff_ids.push(b.digest.clone());
            blobs.push(b);
        }
        let config = serde_json::to_vec(&json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Labels": {"bench": layers.iter().map(|l| l.0.as_str()).collect::<Vec<_>>().join(",")}}
        }))?;
        let cb = self.small(&config)?;
        let manifest = image_manifest(
            format,
            generate::descriptor(format.config(), &cb.digest, cb.size),
            descs,
        );
        blobs.push(cb);
        Ok(manifest)
    }

    pub(crate) fn image(&mut self, name: &str, layers: &[(String, u64)]) -> Result<Image> {
        let mut blobs = Vec::new();
        let top = self.manifest(Format::Docker, "amd64", layers, &mut blobs)?;
        Ok(Image {
            name: name.to_string(),
            blobs: dedup(blobs),
            children: Vec::new(),
            top,
        })
    }

    fn multi_arch(&mut self, name: &str, per_arch: &[(&str, Vec<(String, u64)>)]) -> Result<Image> {
        let mut blobs = Vec::new();
        let mut children = Vec::new();
        for (arch, layers) in per_arch {
            let m = self.manifest(Format::Oci, arch, layers, &mut blobs)?;
            children.push((Platform::new("linux", arch, None), m));
        }
        let refs: Vec<(Platform, &Manifest)> =
            children.iter().map(|(p, m)| (p.clone(), m)).collect();
        let top = index_manifest(Format::Oci, &refs);
        Ok(Image {
            name: name.to_string(),
            blobs: dedup(blobs),
            children: children.into_iter().map(|(_, m)| m).collect(),
            top,
        })
    }
}

fn dedup(blobs: Vec<Blob>) -> Vec<Blob> {
    let mut seen = BTreeSet::new();
    blobs
        .into_iter()
        .filter(|b| seen.insert(b.digest.clone()))
        .collect()
}

pub(crate) fn unique_blobs(images: &[Image]) -> Vec<Blob> {
    dedup(images.iter().flat_map(|i| i.blobs.clone()).collect())
}

pub(crate) fn total(blobs: &[Blob]) -> u64 {
    blobs.iter().map(|b| b.size).sum()
}

/// Bulk: 10 images sharing base layers, one multi-arch, one layer of at least 1 GiB.
pub(crate) fn bulk_images(generator: &mut Generator, quick: bool) -> Result<Vec<Image>> {
    let unit = if quick { MIB / 8 } else { MIB };
    let base = ("base-os".to_string(), 48 * unit);
    let runtime = ("runtime".to_string(), 96 * unit);
    let big = if quick { 64 * MIB } else { 1024 * MIB + MIB };
    let mut images = Vec::new();
    for i in 0..10u64 {
        let name = format!("img{i}");
        let own = (format!("own-{i}"), (8 + 4 * i) * unit);
        let image = match i {
            1 => generator.multi_arch(
                &name,
                &[
                    ("amd64", vec![base.clone(), own.clone()]),
                    (
                        "arm64",
                        vec![
                            ("base-os-arm64".to_string(), 48 * unit),
                            ("own-1-arm64".to_string(), 12 * unit),
                        ],
                    ),
                ],
            )?,
            2..=6 => generator.image(&name, &[base.clone(), runtime.clone(), own])?,
            9 => generator.image(&name, &[base.clone(), ("big".to_string(), big), own])?,
            _ => generator.image(&name, &[base.clone(), own])?,
        };
        images.push(image);
    }
    Ok(images)
}

/// Latency-bound: `n` small images over a shared 1 MiB base and two small own layers.
pub(crate) fn small_images(generator: &mut Generator, n: usize) -> Result<Vec<Image>> {
    (0..n)
        .map(|i| {
            generator.image(
                &format!("img{i}"),
                &[
                    ("small-base".to_string(), MIB),
                    (format!("small-a-{i}"), 16 * 1024),
                    (format!("small-b-{i}"), 48 * 1024),
                ],
            )
        })
        .collect()
}
