//! What an apply of a plan is expected to cost, against the budgets Docker Hub announced: hub API
//! calls (the re-read apply starts with, plus the writes) and Docker Hub pulls (the copies' manifest
//! GETs). Pure data and its one-line description; an estimate, never a promise.

use std::fmt;

use super::{Change, Plan};

/// Docker Hub's API budget as its `X-RateLimit-*` headers state it (the hub client reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubBudget {
    /// Requests per window, when stated.
    pub limit: Option<u64>,
    /// Requests left in this window.
    pub remaining: u64,
}

/// The expected cost of applying a plan and what remains of each budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Docker Hub API calls: the live state read again (as many as the plan's read made), then
    /// one per write, two for a repository whose privacy and texts change, and one team listing
    /// when a change needs a team's numeric id.
    pub hub_calls: u64,
    /// Docker Hub pulls the copies from docker.io spend ([`docker_hub_pulls`]: one per
    /// image manifest, so one per platform of a multi-arch image).
    pub pulls: u64,
    /// The hub's `X-RateLimit-*` budget after the plan's reads, when announced.
    pub hub_budget: Option<HubBudget>,
    /// Docker Hub's `ratelimit-remaining` after the plan's reads, when announced.
    pub pulls_remaining: Option<u64>,
}

impl Estimate {
    pub fn of(plan: &Plan, hub_budget: Option<HubBudget>, pulls_remaining: Option<u64>) -> Self {
        let mut writes = 0u64;
        let mut needs_team_ids = false;
        for c in &plan.changes {
            writes += match c {
                Change::CopyImage { .. } => 0,
                Change::UpdateRepository {
                    private,
                    description,
                    full_description,
                    ..
                } => {
                    u64::from(private.is_some())
                        + u64::from(description.is_some() || full_description.is_some())
                }
                Change::Grant { .. } | Change::UpdateGrant { .. } | Change::Revoke { .. } => {
                    needs_team_ids = true;
                    1
                }
                _ => 1,
            };
        }
        Estimate {
            hub_calls: plan.api_calls + writes + u64::from(needs_team_ids),
            pulls: docker_hub_pulls(&plan.changes),
            hub_budget,
            pulls_remaining,
        }
    }

    /// More calls or pulls are needed than remain (apply would wait on 429 answers, or stop).
    pub fn exceeds(&self) -> bool {
        self.hub_budget
            .is_some_and(|b| b.remaining < self.hub_calls)
            || self.pulls_remaining.is_some_and(|r| r < self.pulls)
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Estimate: apply makes about {} Docker Hub API calls (",
            self.hub_calls
        )?;
        match self.hub_budget {
            Some(b) => {
                write!(f, "{} ", b.remaining)?;
                if let Some(l) = b.limit {
                    write!(f, "of {l} ")?;
                }
                f.write_str("left in this window")?;
            }
            None => f.write_str("budget not announced")?,
        }
        write!(f, ") and {} Docker Hub pulls (", self.pulls)?;
        match self.pulls_remaining {
            Some(r) => write!(f, "{r} left")?,
            None if self.pulls == 0 => f.write_str("none needed")?,
            None => f.write_str("no limit announced")?,
        }
        f.write_str(")")?;
        if self.exceeds() {
            f.write_str("; more than remains: apply would wait for the limits to reset")?;
        }
        Ok(())
    }
}

/// Docker Hub pulls one copy spends, from its row's `manifests` (the manifest GETs it makes on the
/// source). Docker counts "one pull for a single manifest" and, for a multi-arch image, "one pull
/// for each different architecture"; a HEAD is a free version check. So an image costs 1 and an
/// index read with its K platform manifests (`manifests` = 1 + K) costs K: the index GET itself is
/// not a pull. Unconfirmed: that an index GET costs nothing on its own; the sandbox's pull counter
/// (`sandbox::proxy::spends_a_pull`) follows the same rule. An unknown count (0: the estimate
/// could not read the manifests) costs 1.
pub fn pulls_of_copy(manifests: u64) -> u64 {
    manifests.saturating_sub(1).max(1)
}

/// Docker Hub pulls the plan's copies from Docker Hub sources spend ([`pulls_of_copy`] each): what
/// apply checks against the pull budget before changing anything.
pub fn docker_hub_pulls(changes: &[Change]) -> u64 {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::CopyImage {
                source, manifests, ..
            } => crate::registry::reference::Reference::parse(source)
                .ok()
                .filter(|r| r.registry == crate::registry::reference::DOCKER_HUB)
                .map(|_| pulls_of_copy(*manifests)),
            _ => None,
        })
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Username;
    use crate::plan::diff::{DiffOptions, diff};

    #[test]
    fn counts_the_reread_the_writes_and_the_team_listing() {
        let mut plan = diff(
            &crate::model::OrgState::empty("acme"),
            &crate::model::OrgState::empty("acme"),
            &DiffOptions::default(),
        );
        plan.api_calls = 5;
        plan.changes = vec![
            Change::CreateTeam {
                team: "dev".into(),
                description: String::new(),
            },
            Change::AddTeamMember {
                team: "dev".into(),
                user: Username::new("bob"),
            },
            Change::Revoke {
                repository: "app".into(),
                team: "old".into(),
                permission: crate::model::Permission::Read,
            },
        ];
        let budget = HubBudget {
            limit: Some(600),
            remaining: 590,
        };
        let e = Estimate::of(&plan, Some(budget), None);
        assert_eq!((e.hub_calls, e.pulls), (5 + 3 + 1, 0));
        assert_eq!(
            e.to_string(),
            "Estimate: apply makes about 9 Docker Hub API calls (590 of 600 left in this window) \
             and 0 Docker Hub pulls (none needed)"
        );
        let tight = Estimate::of(
            &plan,
            Some(HubBudget {
                remaining: 3,
                ..budget
            }),
            Some(0),
        );
        assert!(tight.exceeds());
        assert!(
            tight
                .to_string()
                .ends_with("apply would wait for the limits to reset")
        );
    }

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn pulls_count_docker_hub_sources_only() {
        let copy = |source: &str, manifests| Change::CopyImage {
            repository: "r".into(),
            tag: "t".into(),
            source: source.into(),
            digest: d(1),
            old_digest: None,
            platforms: None,
            signatures: false,
            bytes: 0,
            manifests,
        };
        let changes = vec![
            // An index and its 3 platforms: 3 pulls (one per platform).
            copy(&format!("docker.io/library/nginx:1@{}", d(1)), 4),
            copy(&format!("ghcr.io/o/t:1@{}", d(1)), 3),
            // Unknown (the estimate could not read it): 1.
            copy(&format!("docker.io/bitnami/redis:1@{}", d(1)), 0),
            // A single image: 1.
            copy(&format!("docker.io/library/alpine:1@{}", d(1)), 1),
        ];
        assert_eq!(docker_hub_pulls(&changes), 5);
    }

    #[test]
    fn a_copy_costs_one_pull_per_platform() {
        assert_eq!(pulls_of_copy(0), 1);
        assert_eq!(pulls_of_copy(1), 1);
        assert_eq!(pulls_of_copy(2), 1);
        assert_eq!(pulls_of_copy(4), 3);
        assert_eq!(pulls_of_copy(u64::MAX), u64::MAX - 1);
    }
}
