//! Snapshots of the live organization (`vetted snapshot --out FILE`, read by `vetted plan
//! --snapshot FILE`): what a plan reads from Docker Hub and the organization's registry, written to
//! a versioned JSON file so that a job without credentials (a pull request from a fork) can plan
//! offline. This module owns the file format ([`SnapshotFile`], format_version 1, shape pinned in
//! docs/json-shapes/snapshot-v1.txt), its fingerprint, reading it as hostile input (bounded size and
//! counts, every name and digest checked) and the coverage check ([`missing`]): which reads a
//! policy needs that the snapshot does not hold.
//!
//! The file never holds the internal [`OrgState`]: the types here are plain data converted from
//! and to it ([`SnapshotFile::new`], [`Snapshot::from_file`]), so renaming an internal field is a
//! compile error here, not a silent change of the format. They hold no secret and no identity
//! beyond what a plan shows: no token, no username of the credentials that read it.
//!
//! The fingerprint (sha256 over the canonical JSON of everything but itself: keys sorted, no
//! whitespace) detects a file edited or damaged after it was written. It is not a signature:
//! whoever can write the file can recompute it. Where a snapshot comes from is what vouches for
//! it (the action takes only artifacts of the repository's own drift and apply runs on its default
//! branch: docs/security.md).

mod convert;
mod read;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use convert::missing;
pub use read::{MAX_SNAPSHOT_BYTES, read};

use crate::model::OrgState;

/// Version of the snapshot file. Bump on incompatible changes (a field removed, renamed, retyped
/// or given another meaning); additions keep it. A newer version is refused with an upgrade hint.
pub const SNAPSHOT_FORMAT_VERSION: &str = "1";

/// Why a snapshot could not be read, written or used. Messages name the file; text taken from the
/// file is escaped where it is put in.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read the snapshot `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the snapshot `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the snapshot `{path}` is larger than {max} bytes; vetted reads no snapshot that large (is it a snapshot?)"
    )]
    TooLarge { path: String, max: u64 },
    #[error(
        "`{path}` is not a valid vetted snapshot: {message}\n  = help: take a new one with `vetted snapshot --out FILE`"
    )]
    Invalid { path: String, message: String },
    #[error(
        "the snapshot `{path}` has format_version {found}, which this vetted ({ours}) does not read (it reads {SNAPSHOT_FORMAT_VERSION}); upgrade vetted"
    )]
    FutureVersion {
        path: String,
        found: String,
        ours: &'static str,
    },
    #[error(
        "the snapshot `{path}` was changed after it was written: its fingerprint {recorded} does not match its content ({actual}); take a new one with `vetted snapshot --out FILE`"
    )]
    Fingerprint {
        path: String,
        recorded: String,
        actual: String,
    },
    #[error(
        "the snapshot `{path}` is of organization {found}, but the policy governs {expected}; use a snapshot of {expected}"
    )]
    OtherOrg {
        path: String,
        found: String,
        expected: String,
    },
    #[error(
        "the snapshot `{path}` does not hold what this policy needs read:\n{list}\n  = help: the policy it was taken with manages less; take a new snapshot with this policy, or plan against the live organization"
    )]
    NotCovered { path: String, list: String },
}

/// The snapshot file, format_version 1 (docs/plan-and-apply.md, "Snapshots").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotFile {
    pub format_version: String,
    pub org: String,
    /// When the live state was read, RFC 3339 in UTC.
    pub taken_at: String,
    /// The vetted that wrote it.
    pub vetted_version: String,
    /// `sha256:<hex>` over the canonical JSON of every other field ([`fingerprint_of`]).
    pub fingerprint: String,
    pub state: StateDoc,
}

/// The live organization as read. `null` means "not read" (the policy the snapshot was taken with
/// does not manage it); an empty list means "read, and empty".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    pub image_access: Option<ImageAccessDoc>,
    pub allowlist: Option<Vec<String>>,
    pub registry_access: Option<RegistryAccessDoc>,
    pub members: Option<MembersDoc>,
    pub teams: Option<Vec<TeamDoc>>,
    /// Every repository of the organization, by name.
    pub repositories: Vec<RepositoryDoc>,
    /// Repositories whose grants were read for some teams only (effective access through them
    /// rests on a partial read).
    pub partial_grants: Vec<String>,
    /// The digest of the index a platform-filtered mirror builds from an upstream index: what a
    /// plan against the snapshot needs for those tags and cannot compute offline.
    pub filtered_indexes: Vec<FilteredIndexDoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageAccessDoc {
    pub enabled: bool,
    pub allow_official_images: bool,
    pub allow_verified_publishers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAccessDoc {
    pub enabled: bool,
    pub docker_hub: bool,
    pub custom: Vec<CustomRegistryDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRegistryDoc {
    pub address: String,
    pub friendly_name: String,
    pub allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersDoc {
    pub roles: Vec<MemberDoc>,
    pub invites: Vec<InviteDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDoc {
    pub user: String,
    /// `owner`, `editor` or `member`.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteDoc {
    pub id: Option<String>,
    pub invitee: String,
    pub role: String,
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamDoc {
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryDoc {
    pub name: String,
    pub private: bool,
    pub description: Option<String>,
    /// `null`: not read.
    pub full_description: Option<String>,
    /// `null`: not read.
    pub grants: Option<Vec<GrantDoc>>,
    /// `null`: not read (not mirrored by the policy the snapshot was taken with).
    pub tags: Option<Vec<TagDoc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantDoc {
    pub team: String,
    /// `read`, `write` or `admin`.
    pub permission: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagDoc {
    pub tag: String,
    /// The manifest digest; empty when Docker Hub's tag listing gave none.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilteredIndexDoc {
    /// The upstream index digest.
    pub upstream_digest: String,
    /// The platforms kept, as the policy lists them.
    pub platforms: Vec<String>,
    /// The digest of the index the mirror builds.
    pub digest: String,
}

/// A snapshot as read and checked: the live state it holds and when it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub org: String,
    /// `taken_at` as written (RFC 3339, UTC).
    pub taken_at: String,
    /// Seconds since the Unix epoch of `taken_at`.
    pub taken_at_unix: i64,
    pub vetted_version: String,
    pub fingerprint: String,
    pub live: OrgState,
    /// (upstream index digest, platforms) -> the filtered index's digest.
    pub filtered: BTreeMap<(String, Vec<String>), String>,
}

/// `sha256:<hex>` over the canonical JSON of `doc` without its `fingerprint` field: keys sorted
/// (serde_json's maps are ordered), no whitespace. What [`SnapshotFile::new`] records and
/// [`read`] checks.
pub fn fingerprint_of(doc: &serde_json::Value) -> String {
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.remove("fingerprint");
    }
    let canonical = serde_json::to_string(&doc).unwrap_or_default();
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

impl SnapshotFile {
    /// The snapshot of `live` (as a plan reads it, mirrored tags included) taken at `taken_at`
    /// (RFC 3339), with the filtered indexes `desired` resolved.
    pub fn new(live: &OrgState, desired: &OrgState, taken_at: String) -> SnapshotFile {
        let mut file = SnapshotFile {
            format_version: SNAPSHOT_FORMAT_VERSION.to_string(),
            org: live.org.clone(),
            taken_at,
            vetted_version: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint: String::new(),
            state: convert::state_doc(live, desired),
        };
        file.fingerprint = fingerprint_of(&serde_json::to_value(&file).unwrap_or_default());
        file
    }

    /// The file's text: pretty JSON, keys in alphabetical order, a final newline.
    pub fn render(&self) -> String {
        let text = serde_json::to_value(self)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_default();
        format!("{text}\n")
    }

    /// Writes the file atomically (a temporary file beside it, then a rename).
    pub fn write(&self, path: &std::path::Path) -> Result<(), SnapshotError> {
        let err = |source| SnapshotError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.render()).map_err(err)?;
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }
}

impl Snapshot {
    /// Refuses a snapshot of another organization than the policy's (`expected`).
    pub fn check_org(&self, path: &str, expected: &str) -> Result<(), SnapshotError> {
        if self.org.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(SnapshotError::OtherOrg {
                path: path.to_string(),
                found: crate::untrusted::untrusted_lines(&self.org).into_owned(),
                expected: expected.to_string(),
            })
        }
    }
}

/// "3 h", "12 min", "2 d": an age for people, from seconds (a snapshot from the future, a clock
/// skew, is "0 min").
pub fn age_words(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => "less than a minute".to_string(),
        60..=3599 => format!("{} min", s / 60),
        3600..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// Now as RFC 3339 in UTC, seconds precision (`2026-12-02T15:04:05Z`).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch now.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests;
