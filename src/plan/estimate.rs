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
    /// Docker Hub pulls an apply spends on docker.io: its copies (`mirror::docker_hub_pulls`: one
    /// per image manifest, so one per platform of a multi-arch image) and the reads of the plan it
    /// makes again first (one per signature the gate checks; the copies' manifests again for
    /// the estimates, unless it applies a saved plan).
    pub pulls: u64,
    /// The hub's `X-RateLimit-*` budget after the plan's reads, when announced.
    pub hub_budget: Option<HubBudget>,
    /// Docker Hub's `ratelimit-remaining` after the plan's reads, when announced.
    pub pulls_remaining: Option<u64>,
}

impl Estimate {
    /// `pulls`: what an apply spends on docker.io ([`Estimate::pulls`]).
    pub fn of(
        plan: &Plan,
        pulls: u64,
        hub_budget: Option<HubBudget>,
        pulls_remaining: Option<u64>,
    ) -> Self {
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
            pulls,
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
        let e = Estimate::of(&plan, 0, Some(budget), None);
        assert_eq!((e.hub_calls, e.pulls), (5 + 3 + 1, 0));
        assert_eq!(
            e.to_string(),
            "Estimate: apply makes about 9 Docker Hub API calls (590 of 600 left in this window) \
             and 0 Docker Hub pulls (none needed)"
        );
        let tight = Estimate::of(
            &plan,
            0,
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
}
