//! The risk class of a change: the one place that decides whether a reviewer must look twice.
//! [`risk`] is a pure function with an exhaustive match over [`Change`], so a new kind of change
//! cannot be added without being classified. The JSON plan carries the class of every change and a
//! count per class, the pull-request comment and the text plan list every non-routine change
//! ("Needs attention", src/render/attention.rs), and `[review] require_acknowledgement` in the
//! policy makes `vetted plan` fail on a class nobody acknowledged ([`unacknowledged`]).
//!
//! The classes, most pressing first:
//! - [`Risk::Privilege`]: someone gains a power: a grant added or raised, a role raised, a team
//!   member added, an invite (whatever its role);
//! - [`Risk::Exposure`]: something becomes reachable from outside or from upstream: a repository
//!   public (created public or made public), Image or Registry Access Management turned off or
//!   loosened (another category, another registry), a repository added to the allowlist;
//! - [`Risk::Destruction`]: something goes away or is replaced: every deletion (repositories, teams,
//!   tags, members, team members, invites, grants, allowlist entries) and a mirrored tag moved to
//!   another digest;
//! - [`Risk::Routine`]: the rest (descriptions, a private repository created, a role or grant
//!   lowered, Image or Registry Access Management tightened, a new tag copied).
//!
//! An access setting whose live value is unknown (`old: None`: never set) counts as off, Docker
//! Hub's default, so turning it on is routine and leaving it off is no loosening.

use std::collections::BTreeSet;

use super::Change;
use crate::model::{ImageAccess, RegistryAccess, Risk};

/// The risk class of `c`.
pub fn risk(c: &Change) -> Risk {
    use Change::*;
    match c {
        SetImageAccess { old, new } => {
            if image_access_loosened(old.as_ref(), new) {
                Risk::Exposure
            } else {
                Risk::Routine
            }
        }
        SetRegistryAccess { old, new } => {
            if !newly_reachable(old.as_ref(), new).is_empty() {
                Risk::Exposure
            } else {
                Risk::Routine
            }
        }
        AllowRepository { .. } => Risk::Exposure,
        SetRole { old, new, .. } => {
            // Role orders owner < editor < member: a smaller role is a greater one.
            if new < old {
                Risk::Privilege
            } else {
                Risk::Routine
            }
        }
        Invite { .. } | AddTeamMember { .. } | Grant { .. } => Risk::Privilege,
        UpdateGrant { permission, .. } => {
            if permission.new > permission.old {
                Risk::Privilege
            } else {
                Risk::Routine
            }
        }
        CreateRepository { fields, .. } => {
            if fields.private {
                Risk::Routine
            } else {
                Risk::Exposure
            }
        }
        UpdateRepository { private, .. } => match private {
            Some(p) if p.old && !p.new => Risk::Exposure,
            _ => Risk::Routine,
        },
        DisallowRepository { .. }
        | RemoveMember { .. }
        | CancelInvite { .. }
        | DeleteTeam { .. }
        | RemoveTeamMember { .. }
        | DeleteRepository { .. }
        | Revoke { .. }
        | DeleteTag { .. } => Risk::Destruction,
        CopyImage {
            digest, old_digest, ..
        } => match old_digest {
            Some(old) if old != digest => Risk::Destruction,
            _ => Risk::Routine,
        },
        CreateTeam { .. } | UpdateTeam { .. } => Risk::Routine,
    }
}

/// Image Access Management off: members pull anything.
const IMAGE_ACCESS_OFF: ImageAccess = ImageAccess {
    enabled: false,
    allow_official_images: true,
    allow_verified_publishers: true,
};

/// Whether `new` lets members pull more than `old` did: turned off, or another category allowed
/// while on. An unknown `old` counts as off.
pub fn image_access_loosened(old: Option<&ImageAccess>, new: &ImageAccess) -> bool {
    let old = old.unwrap_or(&IMAGE_ACCESS_OFF);
    if !old.enabled {
        return false;
    }
    !new.enabled
        || (new.allow_official_images && !old.allow_official_images)
        || (new.allow_verified_publishers && !old.allow_verified_publishers)
}

/// What `new` lets members reach that `old` did not: `None` when Registry Access Management is
/// turned off (every registry), else the registries newly allowed (`docker.io` for Docker Hub).
/// Empty: no loosening. An unknown `old` counts as off.
pub fn newly_reachable(old: Option<&RegistryAccess>, new: &RegistryAccess) -> Reachable {
    let before = old.and_then(RegistryAccess::reachable);
    match (before, new.reachable()) {
        (None, _) => Reachable::Some(BTreeSet::new()),
        (Some(_), None) => Reachable::Everything,
        (Some(before), Some(after)) => {
            Reachable::Some(after.difference(&before).cloned().collect())
        }
    }
}

/// What a Registry Access Management change newly lets members reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachable {
    /// Turned off: every registry.
    Everything,
    /// These registries (empty: nothing new).
    Some(BTreeSet<String>),
}

impl Reachable {
    pub fn is_empty(&self) -> bool {
        matches!(self, Reachable::Some(s) if s.is_empty())
    }
}

/// How many changes of each class (in [`Risk::ALL`]'s order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub privilege: usize,
    pub exposure: usize,
    pub destruction: usize,
    pub routine: usize,
}

impl Counts {
    pub fn of(changes: &[Change]) -> Counts {
        let mut n = Counts::default();
        for c in changes {
            *n.get_mut(risk(c)) += 1;
        }
        n
    }

    pub fn get(&self, r: Risk) -> usize {
        match r {
            Risk::Privilege => self.privilege,
            Risk::Exposure => self.exposure,
            Risk::Destruction => self.destruction,
            Risk::Routine => self.routine,
        }
    }

    fn get_mut(&mut self, r: Risk) -> &mut usize {
        match r {
            Risk::Privilege => &mut self.privilege,
            Risk::Exposure => &mut self.exposure,
            Risk::Destruction => &mut self.destruction,
            Risk::Routine => &mut self.routine,
        }
    }

    /// The changes that need attention (every class but routine).
    pub fn needing_attention(&self) -> usize {
        self.privilege + self.exposure + self.destruction
    }
}

/// The classes of `required` that `changes` hold and `acknowledged` does not cover, with how many
/// changes each: what makes `vetted plan` fail under `[review] require_acknowledgement`.
pub fn unacknowledged(
    changes: &[Change],
    required: &BTreeSet<Risk>,
    acknowledged: &BTreeSet<Risk>,
) -> Vec<(Risk, usize)> {
    let counts = Counts::of(changes);
    required
        .iter()
        .filter(|r| !acknowledged.contains(r))
        .map(|r| (*r, counts.get(*r)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[cfg(test)]
mod tests;
