//! Manifest media types and the few manifest fields the copy engine reads (children of an index,
//! config and layer blobs of an image manifest, platforms), plus sha256 digests of bytes.
//!
//! The schemas are `oci-spec`'s ([`oci_spec::image::ImageIndex`], [`ImageManifest`]): a manifest
//! missing a field the image spec requires (`schemaVersion`, a descriptor's `mediaType`, `digest`
//! or `size`, a platform's `os` and `architecture`) is refused before anything is copied. The
//! media-type names are checked against its [`MediaType`](oci_spec::image::MediaType) table and
//! its Docker equivalents ([`ToDockerV2S2`](oci_spec::image::ToDockerV2S2)) by a test
//! (`media_types_are_the_image_specs`); they stay `&str` constants here because `oci-spec` has
//! none (its table is an enum, Docker's names come from a fallible conversion), and the manifest
//! `Accept` header ([`crate::registry::client::MANIFEST_ACCEPT`]), a constant too, lists exactly
//! these four (the same test).
//!
//! Kept here, on top of it: manifests are parsed from the exact bytes read and digested (never
//! re-serialised, so the digest is of what the registry sent); an index or image with more entries
//! than [`MAX_INDEX_CHILDREN`] / [`MAX_IMAGE_BLOBS`] is refused rather than fanned out; and every
//! descriptor digest must be `sha256:` with 64 lowercase hex digits, where `oci-spec`'s `Digest`
//! also takes any other algorithm (`multihash+base58:...`) that vetted could not verify.
use oci_spec::image::{ImageIndex, ImageManifest};
#[cfg(test)]
use oci_spec::image::{MediaType, ToDockerV2S2};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The most children of an index vetted reads (and copies); a longer one is refused rather than
/// fanned out into as many requests. Published multi-platform images list a few dozen.
pub const MAX_INDEX_CHILDREN: usize = 1_000;
/// The most blobs (config and layers) of an image manifest vetted copies.
pub const MAX_IMAGE_BLOBS: usize = 1_000;

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`.
    pub fn key(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// Whether a policy's `platforms` keep this platform: an entry names it as `os/arch/variant`,
    /// or as `os/arch` whatever its variant. The one rule of the mirror's reads and the filtered
    /// index it writes.
    pub fn wanted_by(&self, platforms: &[String]) -> bool {
        let full = self.key();
        let short = format!("{}/{}", self.os, self.architecture);
        platforms.iter().any(|w| *w == full || *w == short)
    }
}

/// The part of an `oci-spec` descriptor the copy reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platform: Option<Platform>,
}

impl From<&oci_spec::image::Descriptor> for Descriptor {
    fn from(d: &oci_spec::image::Descriptor) -> Self {
        Descriptor {
            media_type: d.media_type().to_string(),
            digest: d.digest().to_string(),
            size: d.size(),
            platform: d.platform().as_ref().map(|p| Platform {
                os: p.os().to_string(),
                architecture: p.architecture().to_string(),
                variant: p.variant().clone(),
            }),
        }
    }
}

/// A manifest reduced to what the copy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A manifest list / image index and its children.
    Index { children: Vec<Descriptor> },
    /// An image manifest and the blobs it references (config first).
    Image { blobs: Vec<Descriptor> },
}

/// Which kind a manifest is, from the fields it has (the media type is optional in the image spec).
#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    config: Option<serde::de::IgnoredAny>,
}

/// Parses manifest bytes; `header_type` is the Content-Type the registry sent.
pub fn parse(bytes: &[u8], header_type: &str) -> Result<(Parsed, String), String> {
    let shape: Shape =
        serde_json::from_slice(bytes).map_err(|e| format!("manifest is not valid JSON: {e}"))?;
    let media_type = shape
        .media_type
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| header_type.to_string());
    let check = |d: &Descriptor| super::reference::validate_digest(&d.digest);
    match (shape.manifests.is_some(), shape.config.is_some()) {
        (true, false) => {
            let index: ImageIndex = serde_json::from_slice(bytes)
                .map_err(|e| format!("not a valid image index: {e}"))?;
            if index.manifests().len() > MAX_INDEX_CHILDREN {
                return Err(format!(
                    "the index lists {} manifests, more than the {MAX_INDEX_CHILDREN} vetted reads",
                    index.manifests().len()
                ));
            }
            let children: Vec<Descriptor> =
                index.manifests().iter().map(Descriptor::from).collect();
            children.iter().try_for_each(check)?;
            let media_type = if media_type.is_empty() {
                OCI_INDEX.to_string()
            } else {
                media_type
            };
            Ok((Parsed::Index { children }, media_type))
        }
        (false, true) => {
            let image: ImageManifest = serde_json::from_slice(bytes)
                .map_err(|e| format!("not a valid image manifest: {e}"))?;
            if image.layers().len() >= MAX_IMAGE_BLOBS {
                return Err(format!(
                    "the image manifest lists {} blobs, more than the {MAX_IMAGE_BLOBS} vetted copies",
                    image.layers().len() + 1
                ));
            }
            let blobs: Vec<Descriptor> = std::iter::once(image.config())
                .chain(image.layers())
                .map(Descriptor::from)
                .collect();
            blobs.iter().try_for_each(check)?;
            let media_type = if media_type.is_empty() {
                OCI_MANIFEST.to_string()
            } else {
                media_type
            };
            Ok((Parsed::Image { blobs }, media_type))
        }
        _ => Err(format!(
            "unsupported manifest (media type {media_type:?}): neither an index nor an image manifest"
        )),
    }
}

/// Keeps only the listed platforms (`os/arch[/variant]`, `os/arch` matching any variant) of an index,
/// returning the new index bytes. Other fields are kept as they were.
pub fn filter_index(bytes: &[u8], platforms: &[String]) -> Result<Vec<u8>, String> {
    let mut v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("index is not valid JSON: {e}"))?;
    let list = v
        .get_mut("manifests")
        .and_then(|m| m.as_array_mut())
        .ok_or("index has no manifests array")?;
    list.retain(|child| {
        let Ok(p) =
            serde_json::from_value::<Platform>(child.get("platform").cloned().unwrap_or_default())
        else {
            return false;
        };
        p.wanted_by(platforms)
    });
    if list.is_empty() {
        return Err(format!(
            "none of the platforms {} is in the index",
            platforms.join(", ")
        ));
    }
    serde_json::to_vec(&v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn parses_index_and_image() {
        let idx = serde_json::json!({"schemaVersion":2,"mediaType":DOCKER_LIST,"manifests":[
            {"mediaType":DOCKER_MANIFEST,"digest":d(1),"size":10,"platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":DOCKER_MANIFEST,"digest":d(2),"size":10,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]});
        let bytes = serde_json::to_vec(&idx).unwrap();
        let (p, mt) = parse(&bytes, "").unwrap();
        assert_eq!(mt, DOCKER_LIST);
        let Parsed::Index { children } = p else {
            panic!()
        };
        assert_eq!(
            children[1].platform.as_ref().unwrap().key(),
            "linux/arm64/v8"
        );
        let only = filter_index(&bytes, &["linux/arm64".into()]).unwrap();
        let (Parsed::Index { children }, _) = parse(&only, "").unwrap() else {
            panic!()
        };
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].digest, d(2));
        assert!(filter_index(&bytes, &["windows/amd64".into()]).is_err());

        let img = serde_json::json!({"schemaVersion":2,"config":{"mediaType":"x","digest":d(3),"size":1},
            "layers":[{"mediaType":"y","digest":d(4),"size":2}]});
        let (p, mt) = parse(&serde_json::to_vec(&img).unwrap(), OCI_MANIFEST).unwrap();
        assert_eq!(mt, OCI_MANIFEST);
        assert_eq!(
            p,
            Parsed::Image {
                blobs: vec![
                    Descriptor {
                        media_type: "x".into(),
                        digest: d(3),
                        size: 1,
                        platform: None
                    },
                    Descriptor {
                        media_type: "y".into(),
                        digest: d(4),
                        size: 2,
                        platform: None
                    },
                ]
            }
        );
    }

    #[test]
    fn rejects_bad_manifests() {
        assert!(parse(b"not json", "").is_err());
        assert!(parse(b"{}", "").is_err());
        let bad = serde_json::json!({"config":{"digest":"sha256:zz"}});
        assert!(parse(&serde_json::to_vec(&bad).unwrap(), "").is_err());
    }

    #[test]
    fn media_types_are_the_image_specs() {
        assert_eq!(OCI_MANIFEST, MediaType::ImageManifest.as_ref());
        assert_eq!(OCI_INDEX, MediaType::ImageIndex.as_ref());
        assert_eq!(
            Ok(DOCKER_MANIFEST),
            MediaType::ImageManifest.to_docker_v2s2()
        );
        assert_eq!(Ok(DOCKER_LIST), MediaType::ImageIndex.to_docker_v2s2());
        let mut accepted: Vec<&str> = crate::registry::client::MANIFEST_ACCEPT
            .split(", ")
            .collect();
        accepted.sort_unstable();
        let mut ours = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];
        ours.sort_unstable();
        assert_eq!(accepted, ours);
    }

    #[test]
    fn refuses_what_the_image_spec_requires() {
        let desc = serde_json::json!({"mediaType": OCI_MANIFEST, "digest": d(1), "size": 1});
        let without = |v: &serde_json::Value, key: &str| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove(key);
            v
        };
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [desc]});
        assert!(parse(&serde_json::to_vec(&index).unwrap(), "").is_ok());
        let no_version = without(&index, "schemaVersion");
        let err = parse(&serde_json::to_vec(&no_version).unwrap(), "").unwrap_err();
        assert!(err.contains("schemaVersion"), "{err}");
        for key in ["mediaType", "digest", "size"] {
            let bad = serde_json::json!({"schemaVersion": 2, "manifests": [without(&desc, key)]});
            let err = parse(&serde_json::to_vec(&bad).unwrap(), "").unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
        // oci-spec's Digest takes any algorithm; vetted verifies sha256 only.
        let other = serde_json::json!({"schemaVersion": 2, "config": desc,
            "layers": [{"mediaType": "y", "digest": "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "size": 1}]});
        let err = parse(&serde_json::to_vec(&other).unwrap(), "").unwrap_err();
        assert!(err.contains("sha256"), "{err}");
    }

    #[test]
    fn caps_children_and_blobs() {
        let child = |i: usize| serde_json::json!({"mediaType": OCI_MANIFEST, "digest": d((i % 250) as u8), "size": 1});
        let index = |n: usize| {
            let m: Vec<_> = (0..n).map(child).collect();
            serde_json::to_vec(
                &serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": m}),
            )
            .unwrap()
        };
        assert!(parse(&index(MAX_INDEX_CHILDREN), "").is_ok());
        let err = parse(&index(MAX_INDEX_CHILDREN + 1), "").unwrap_err();
        assert!(
            err.contains("1001 manifests") && err.contains("1000"),
            "{err}"
        );
        let image = |n: usize| {
            let layers: Vec<_> = (0..n).map(child).collect();
            serde_json::to_vec(
                &serde_json::json!({"schemaVersion": 2, "config": child(0), "layers": layers}),
            )
            .unwrap()
        };
        assert!(parse(&image(MAX_IMAGE_BLOBS - 1), "").is_ok());
        let err = parse(&image(MAX_IMAGE_BLOBS), "").unwrap_err();
        assert!(err.contains("1001 blobs"), "{err}");
    }
}
