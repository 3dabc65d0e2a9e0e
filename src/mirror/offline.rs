//! Mirrored images into the desired state without reading any registry (`vetted plan
//! --snapshot`): each mirrored tag's upstream digest is its pin in the policy or its entry in
//! vetted.lock; a tag in neither is reported as unknown, never fetched. A platform-filtered
//! mirror's digest (the index the copy builds) comes from the snapshot, which recorded it for the
//! upstream digest it was taken with. Pure: no I/O.

use std::collections::BTreeMap;

use super::LockState;
use crate::model::{Image, ImageSource, OrgState};
use crate::plan::{Note, ResourceKind, image_address};
use crate::policy::lock;
use crate::registry::reference::Reference;

/// Writes every mirrored tag whose digest is known offline into `desired` (each mirrored
/// repository's `tags`); returns the notes: the lock's state and every tag left unknown (the plan
/// shows no change for it). `filtered` maps (upstream index digest, platforms) to the filtered
/// index's digest.
pub fn resolve(
    policy: &crate::policy::Policy,
    lock_state: &LockState,
    filtered: &BTreeMap<(String, Vec<String>), String>,
    desired: &mut OrgState,
) -> Result<Vec<Note>, String> {
    let wanted = lock::wanted(policy)?;
    let org = policy.desired.org.clone();
    let mut notes = Vec::new();
    let lock = match lock_state {
        LockState::Missing => {
            if !wanted.is_empty() {
                notes.push(Note {
                    kind: ResourceKind::Image,
                    address: lock::LOCK_FILE_NAME.to_string(),
                    message: "vetted.lock is missing: a plan from a snapshot reads no registry, so only pinned tags are planned; run `vetted lock` and commit vetted.lock".into(),
                });
            }
            None
        }
        LockState::Present { lock, problems } => {
            if !problems.is_empty() {
                notes.push(Note {
                    kind: ResourceKind::Image,
                    address: lock::LOCK_FILE_NAME.to_string(),
                    message: format!(
                        "vetted.lock is outdated ({}): tags it does not cover are unknown in a plan from a snapshot; run `vetted lock`",
                        problems.join("; ")
                    ),
                });
            }
            Some(lock)
        }
    };
    for w in &wanted {
        let address = image_address(&org, &w.repository, &w.tag);
        let unknown = |why: &str| Note {
            kind: ResourceKind::Image,
            address: address.clone(),
            message: format!(
                "unknown: {why}, and a plan from a snapshot reads no registry; this plan shows no change for it"
            ),
        };
        let locked = lock
            .and_then(|l| l.get(&w.repository, &w.tag))
            .filter(|e| e.source == w.source && w.pin.as_ref().is_none_or(|p| p == &e.digest));
        let upstream = match (&w.pin, locked) {
            (Some(pin), _) => pin.clone(),
            (None, Some(entry)) => entry.digest.clone(),
            (None, None) => {
                notes.push(unknown("its upstream digest is not in vetted.lock"));
                continue;
            }
        };
        let platforms = policy
            .desired
            .repositories
            .get(&w.repository)
            .and_then(|r| r.mirror.as_ref())
            .and_then(|m| m.platforms.clone());
        let digest = match &platforms {
            None => upstream.clone(),
            Some(p) => match filtered.get(&(upstream.clone(), p.clone())) {
                Some(d) => d.clone(),
                None => {
                    notes.push(unknown(
                        "the digest of its platform-filtered index is not in the snapshot",
                    ));
                    continue;
                }
            },
        };
        let source = Reference::parse(&w.source)
            .map_err(|e| format!("{}: {e}", w.name()))?
            .with_digest(&upstream);
        let source = Reference {
            tag: Some(w.tag.clone()),
            ..source
        };
        if let Some(repo) = desired.repositories.get_mut(&w.repository) {
            repo.tags.get_or_insert_with(Default::default).insert(
                w.tag.clone(),
                Image {
                    digest,
                    source: Some(ImageSource {
                        reference: source.to_string(),
                        upstream_digest: upstream,
                        update_available: None,
                    }),
                },
            );
        }
    }
    Ok(notes)
}
