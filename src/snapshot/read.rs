//! Reading a snapshot file as hostile input: its size first, then its format version (a newer one
//! is refused before its fields are looked at), its fingerprint, its fields (no unknown one), and
//! every value ([`super::convert::to_live`]).

use std::io::Read as _;
use std::path::Path;

use super::{SNAPSHOT_FORMAT_VERSION, Snapshot, SnapshotError, SnapshotFile, fingerprint_of};

/// The largest snapshot file read: 64 MiB (an organization of 100,000 repositories with their
/// descriptions fits several times over).
pub const MAX_SNAPSHOT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads and checks the snapshot at `path`.
pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
    let shown = path.display().to_string();
    let io = |source| SnapshotError::Io {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_SNAPSHOT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge {
            path: shown,
            max: MAX_SNAPSHOT_BYTES,
        });
    }
    parse(&shown, &bytes)
}

/// Parses and checks snapshot bytes; `path` only names the file in errors.
pub(super) fn parse(path: &str, bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    let invalid = |message: String| SnapshotError::Invalid {
        path: path.to_string(),
        message,
    };
    // serde's errors say line and column, but name an unknown field or variant as written in the
    // file: escaped to one line.
    let serde =
        |e: serde_json::Error| invalid(crate::untrusted::untrusted(&e.to_string()).into_owned());
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(serde)?;
    let version = match value.get("format_version") {
        Some(serde_json::Value::String(v)) => v.clone(),
        Some(_) => return Err(invalid("format_version must be a string".into())),
        None => {
            return Err(invalid(
                "it has no format_version (is it a vetted snapshot?)".into(),
            ));
        }
    };
    if version != SNAPSHOT_FORMAT_VERSION {
        let newer = version
            .parse::<u64>()
            .ok()
            .zip(SNAPSHOT_FORMAT_VERSION.parse::<u64>().ok())
            .is_some_and(|(found, ours)| found > ours);
        if newer {
            return Err(SnapshotError::FutureVersion {
                path: path.to_string(),
                found: version,
                ours: env!("CARGO_PKG_VERSION"),
            });
        }
        return Err(invalid(format!(
            "format_version {:?} is not one vetted ever wrote (this vetted reads {SNAPSHOT_FORMAT_VERSION})",
            crate::untrusted::untrusted_lines(&version.chars().take(20).collect::<String>())
        )));
    }
    let recorded = match value.get("fingerprint") {
        Some(serde_json::Value::String(f)) => f.clone(),
        _ => return Err(invalid("it has no fingerprint".into())),
    };
    let actual = fingerprint_of(&value);
    if recorded != actual {
        return Err(SnapshotError::Fingerprint {
            path: path.to_string(),
            recorded: crate::untrusted::untrusted_lines(
                &recorded.chars().take(80).collect::<String>(),
            )
            .into_owned(),
            actual,
        });
    }
    let file: SnapshotFile = serde_json::from_value(value).map_err(serde)?;
    if file.org.is_empty() || file.org.len() > 255 || file.org.chars().any(char::is_control) {
        return Err(invalid("org is not an organization name".into()));
    }
    let taken = time::OffsetDateTime::parse(
        &file.taken_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| invalid(format!("taken_at is not an RFC 3339 time: {e}")))?;
    if file.vetted_version.len() > 64 || file.vetted_version.chars().any(char::is_control) {
        return Err(invalid("vetted_version is not a version".into()));
    }
    let (live, filtered) = super::convert::to_live(&file.org, &file.state).map_err(invalid)?;
    Ok(Snapshot {
        org: file.org,
        taken_at: file.taken_at,
        taken_at_unix: taken.unix_timestamp(),
        vetted_version: file.vetted_version,
        fingerprint: file.fingerprint,
        live,
        filtered,
    })
}
