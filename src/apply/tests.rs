//! Tests of the parent module.

use super::*;
use crate::model::{Permission, Role};
use crate::plan::RepoFields;
use std::sync::Mutex;

/// Records calls; fails the changes whose address is listed.
struct Recorder {
    fail: Vec<String>,
    calls: Mutex<Vec<String>>,
}

impl Executor for Recorder {
    type Error = String;
    async fn execute(&self, org: &str, change: &Change) -> Result<(), String> {
        let address = change.address(org);
        self.calls.lock().unwrap().push(address.clone());
        if self.fail.contains(&address) {
            Err("500 Internal Server Error".into())
        } else {
            Ok(())
        }
    }
}

fn plan(changes: Vec<Change>) -> Plan {
    Plan {
        targets: Vec::new(),
        org: "acme".into(),
        changes,
        notes: vec![],
        api_calls: 0,
        access: Vec::new(),
        snapshot: None,
        drift: Default::default(),
    }
}

fn repo(name: &str) -> Change {
    Change::CreateRepository {
        repository: name.into(),
        fields: RepoFields {
            private: true,
            description: String::new(),
            full_description: String::new(),
        },
    }
}

fn grant(repository: &str, team: &str) -> Change {
    Change::Grant {
        repository: repository.into(),
        team: team.into(),
        permission: Permission::Read,
    }
}

async fn run(fail: &[&str], changes: Vec<Change>) -> (ApplyReport, Vec<String>) {
    let rec = Recorder {
        fail: fail.iter().map(|s| s.to_string()).collect(),
        calls: Mutex::new(vec![]),
    };
    let report = apply(
        &rec,
        &plan(changes),
        ApplyOptions {
            parallelism: 1,
            copy_parallelism: 1,
        },
        |_| {},
    )
    .await;
    let calls = rec.calls.into_inner().unwrap();
    (report, calls)
}

#[tokio::test]
async fn runs_in_dependency_order_with_removals_last() {
    let changes = vec![
        Change::DeleteTeam { team: "old".into() },
        Change::Revoke {
            repository: "x".into(),
            team: "old".into(),
            permission: Permission::Read,
        },
        grant("redis", "dev"),
        repo("redis"),
        Change::AddTeamMember {
            team: "dev".into(),
            user: Username::new("bob"),
        },
        Change::CreateTeam {
            team: "dev".into(),
            description: String::new(),
        },
        Change::SetRole {
            user: Username::new("bob"),
            old: Role::Member,
            new: Role::Editor,
        },
    ];
    let (report, calls) = run(&[], changes).await;
    assert_eq!(
        calls,
        vec![
            "member bob",
            "team dev",
            "team_member dev/bob",
            "repository acme/redis",
            "grant acme/redis:dev",
            "grant acme/x:old",
            "team old",
        ]
    );
    assert_eq!(report.failed(), 0);
    let done = report.done();
    assert_eq!((done.add, done.change, done.destroy), (4, 1, 2));
}

#[tokio::test]
async fn failure_skips_only_dependants() {
    let changes = vec![
        repo("redis"),
        repo("nginx"),
        grant("redis", "dev"),
        grant("nginx", "dev"),
    ];
    let (report, calls) = run(&["repository acme/redis"], changes).await;
    // The grant on the failed repository is never attempted; the independent one is.
    assert!(!calls.contains(&"grant acme/redis:dev".to_string()));
    assert!(calls.contains(&"grant acme/nginx:dev".to_string()));
    let statuses: Vec<_> = report
        .results
        .iter()
        .map(|r| (r.address.as_str(), r.status.clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("repository acme/nginx", Status::Done),
            (
                "repository acme/redis",
                Status::Failed("500 Internal Server Error".into())
            ),
            (
                "grant acme/redis:dev",
                Status::Skipped("repository redis was not created".into())
            ),
            ("grant acme/nginx:dev", Status::Done),
        ]
    );
    assert_eq!(report.failed(), 2);
}

#[tokio::test]
async fn failed_team_blocks_members_invites_and_grants() {
    let changes = vec![
        Change::CreateTeam {
            team: "dev".into(),
            description: String::new(),
        },
        Change::AddTeamMember {
            team: "dev".into(),
            user: Username::new("bob"),
        },
        Change::Invite {
            invitee: Username::new("erin"),
            role: Role::Member,
            team: Some("dev".into()),
        },
        grant("redis", "dev"),
    ];
    let (report, calls) = run(&["team dev"], changes).await;
    assert_eq!(calls, vec!["team dev"]);
    assert_eq!(report.failed(), 4);
}
