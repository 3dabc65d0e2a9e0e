//! What a reviewer needs to judge a mirrored tag that moved to another digest, as pure data: the
//! facts of each side ([`ImageFacts`]: created time, the OCI labels that matter, platforms, the
//! compressed size and layers of each platform, and which figures were not read and why) and their
//! comparison ([`FactsDiff`]: platforms added and removed, size per platform and its delta, layers
//! changed and shared, label changes, the signature verdict). Read by `crate::mirror::facts`,
//! rendered by `crate::render::facts`; nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The OCI labels (config `Labels`, manifest and index annotations) shown, in this order.
pub const LABELS: [&str; 3] = [
    "org.opencontainers.image.source",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.version",
];

/// One side (old or new) of a moved tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// The manifest (or index) digest.
    pub digest: String,
    /// The platforms, sorted by `os/arch[/variant]`; empty when the manifest was not read.
    #[serde(default)]
    pub platforms: Vec<PlatformFacts>,
    /// The newest config `created` among the platforms read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The [`LABELS`] found (config labels first, then manifest, then index annotations).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Set when some figures were not read (the platforms without `size` say which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skipped>,
}

/// One platform of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformFacts {
    /// `os/arch[/variant]` (`unknown` for a single image whose config was not read).
    pub platform: String,
    /// The platform's manifest digest.
    pub digest: String,
    /// The sum of its layers' compressed sizes; `None`: its manifest was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Its layer digests, in order; `None`: its manifest was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<String>>,
}

/// Why figures were not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skipped {
    /// Reading would have spent Docker Hub pulls below the reserve kept for mirroring.
    PullBudget { remaining: u64, keep: u64 },
    /// More moved tags than the most read per run.
    ImageCap { max: usize },
    /// A read failed (the registry's words, unescaped: renderers escape them).
    Failed { error: String },
}

/// Whether the new digest's signature was checked, and what it said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Signature {
    /// The policy asks for no signature check of this mirror.
    #[default]
    NotChecked,
    /// A valid signature by `by` (a key path or a keyless identity).
    Verified { by: String },
    /// No valid signature: why.
    Refused { why: String },
}

/// A mirrored tag that moved: `image` (the organization's `repository:tag`) from `source` (the
/// upstream repository), old -> new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactsDiff {
    pub image: String,
    pub source: String,
    pub old: ImageFacts,
    pub new: ImageFacts,
    #[serde(default)]
    pub signature: Signature,
}

/// One platform's compressed size, old and new (`None`: absent on that side or not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRow<'a> {
    pub platform: &'a str,
    pub old: Option<u64>,
    pub new: Option<u64>,
}

impl SizeRow<'_> {
    /// new - old in bytes, when both are known (saturating at i128 never matters for u64 sums).
    pub fn delta(&self) -> Option<i128> {
        Some(i128::from(self.new?) - i128::from(self.old?))
    }
}

/// Layers across all platforms: in both, only in the new image, only in the old one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layers {
    pub shared: usize,
    pub added: usize,
    pub removed: usize,
}

/// A label, old and new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelRow<'a> {
    pub key: &'a str,
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
}

impl ImageFacts {
    /// Facts of which nothing but the digest is known, for `why`.
    pub fn unread(digest: &str, why: Skipped) -> ImageFacts {
        ImageFacts {
            digest: digest.to_string(),
            skipped: Some(why),
            ..ImageFacts::default()
        }
    }

    fn platform_keys(&self) -> BTreeSet<&str> {
        self.platforms.iter().map(|p| p.platform.as_str()).collect()
    }

    fn platform(&self, key: &str) -> Option<&PlatformFacts> {
        self.platforms.iter().find(|p| p.platform == key)
    }

    /// Every layer digest, when every platform's manifest was read.
    fn all_layers(&self) -> Option<BTreeSet<&str>> {
        if self.platforms.is_empty() {
            return None;
        }
        let mut out = BTreeSet::new();
        for p in &self.platforms {
            out.extend(p.layers.as_ref()?.iter().map(String::as_str));
        }
        Some(out)
    }

    /// The sum of the platforms' sizes, when all were read.
    pub fn total_size(&self) -> Option<u64> {
        if self.platforms.is_empty() {
            return None;
        }
        self.platforms
            .iter()
            .try_fold(0u64, |sum, p| Some(sum.saturating_add(p.size?)))
    }
}

impl FactsDiff {
    /// Whether both sides' platform lists were read (so added/removed mean something).
    pub fn platforms_known(&self) -> bool {
        !self.old.platforms.is_empty() && !self.new.platforms.is_empty()
    }

    /// Platforms only the new image has.
    pub fn platforms_added(&self) -> Vec<&str> {
        if !self.platforms_known() {
            return Vec::new();
        }
        let old = self.old.platform_keys();
        self.new
            .platform_keys()
            .into_iter()
            .filter(|p| !old.contains(p))
            .collect()
    }

    /// Platforms only the old image has.
    pub fn platforms_removed(&self) -> Vec<&str> {
        if !self.platforms_known() {
            return Vec::new();
        }
        let new = self.new.platform_keys();
        self.old
            .platform_keys()
            .into_iter()
            .filter(|p| !new.contains(p))
            .collect()
    }

    /// Size per platform of either side, sorted by platform.
    pub fn sizes(&self) -> Vec<SizeRow<'_>> {
        let keys: BTreeSet<&str> = self
            .old
            .platform_keys()
            .into_iter()
            .chain(self.new.platform_keys())
            .collect();
        keys.into_iter()
            .map(|k| SizeRow {
                platform: k,
                old: self.old.platform(k).and_then(|p| p.size),
                new: self.new.platform(k).and_then(|p| p.size),
            })
            .collect()
    }

    /// new total - old total, when both are known.
    pub fn total_delta(&self) -> Option<i128> {
        Some(i128::from(self.new.total_size()?) - i128::from(self.old.total_size()?))
    }

    /// Layers shared and changed across all platforms, when both sides' layers were all read.
    pub fn layers(&self) -> Option<Layers> {
        let old = self.old.all_layers()?;
        let new = self.new.all_layers()?;
        Some(Layers {
            shared: old.intersection(&new).count(),
            added: new.difference(&old).count(),
            removed: old.difference(&new).count(),
        })
    }

    /// The [`LABELS`] either side has, in [`LABELS`] order.
    pub fn labels(&self) -> Vec<LabelRow<'_>> {
        LABELS
            .iter()
            .map(|key| LabelRow {
                key,
                old: self.old.labels.get(*key).map(String::as_str),
                new: self.new.labels.get(*key).map(String::as_str),
            })
            .filter(|r| r.old.is_some() || r.new.is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(key: &str, size: Option<u64>, layers: &[&str]) -> PlatformFacts {
        PlatformFacts {
            platform: key.into(),
            digest: format!("sha256:{key}"),
            size,
            layers: size.map(|_| layers.iter().map(|l| l.to_string()).collect()),
        }
    }

    fn facts(platforms: Vec<PlatformFacts>) -> ImageFacts {
        ImageFacts {
            digest: "sha256:x".into(),
            platforms,
            ..ImageFacts::default()
        }
    }

    #[test]
    fn platforms_sizes_and_layers_compare() {
        let d = FactsDiff {
            image: "redis:7.2".into(),
            source: "docker.io/bitnami/redis".into(),
            old: facts(vec![
                platform("linux/386", Some(5), &["a"]),
                platform("linux/amd64", Some(100), &["a", "b"]),
            ]),
            new: facts(vec![
                platform("linux/amd64", Some(90), &["a", "c"]),
                platform("linux/arm64/v8", Some(80), &["a", "d"]),
            ]),
            signature: Signature::NotChecked,
        };
        assert_eq!(d.platforms_added(), ["linux/arm64/v8"]);
        assert_eq!(d.platforms_removed(), ["linux/386"]);
        let sizes = d.sizes();
        assert_eq!(sizes.len(), 3);
        assert_eq!(sizes[1].delta(), Some(-10));
        assert_eq!(sizes[0].delta(), None);
        assert_eq!(d.total_delta(), Some(65));
        assert_eq!(
            d.layers(),
            Some(Layers {
                shared: 1,
                added: 2,
                removed: 1
            })
        );
    }

    #[test]
    fn unread_sides_compare_to_nothing() {
        let mut new = facts(vec![platform("linux/amd64", None, &[])]);
        new.skipped = Some(Skipped::PullBudget {
            remaining: 3,
            keep: 10,
        });
        let d = FactsDiff {
            image: "a:1".into(),
            source: "docker.io/library/a".into(),
            old: ImageFacts::unread("sha256:o", Skipped::ImageCap { max: 1 }),
            new,
            signature: Signature::default(),
        };
        assert!(d.platforms_added().is_empty() && d.platforms_removed().is_empty());
        assert_eq!(d.layers(), None);
        assert_eq!(d.total_delta(), None);
        assert_eq!(d.sizes()[0].new, None);
    }
}
