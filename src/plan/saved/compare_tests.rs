//! Tests of the comparison a saved plan's apply makes (first_difference, take_estimates).

use super::*;
use crate::model::{Permission, Role, Username};
use crate::plan::{Delta, Note, ResourceKind};

fn copy(tag: &str, bytes: u64, manifests: u64) -> Change {
    Change::CopyImage {
        repository: "redis".into(),
        tag: tag.into(),
        source: format!("docker.io/bitnami/redis:{tag}@sha256:{}", "a".repeat(64)),
        digest: format!("sha256:{}", "a".repeat(64)),
        old_digest: None,
        platforms: None,
        signatures: false,
        bytes,
        manifests,
    }
}
fn grant(team: &str, permission: Permission) -> Change {
    Change::Grant {
        repository: "api".into(),
        team: team.into(),
        permission,
    }
}
/// No escaping: the messages as written.
fn same(s: &str) -> String {
    s.to_string()
}

fn plan(changes: Vec<Change>) -> Plan {
    Plan {
        targets: Vec::new(),
        org: "acme".into(),
        changes,
        notes: vec![],
        api_calls: 0,
        access: vec![],
        snapshot: None,
        drift: Default::default(),
    }
}

#[test]
fn display_only_fields_and_order_are_not_compared() {
    let now = plan(vec![grant("devs", Permission::Read), copy("7.2", 10, 2)]);
    let mut saved = plan(vec![copy("7.2", 999, 0), grant("devs", Permission::Read)]);
    saved.api_calls = 42;
    saved.notes.push(Note {
        kind: ResourceKind::Image,
        address: "docker.io".into(),
        message: "anything".into(),
    });
    assert_eq!(first_difference(&saved, &now, &same), None);
    assert_eq!(first_difference(&now, &now, &same), None);
}

#[test]
fn every_other_difference_is_named() {
    let now = plan(vec![grant("devs", Permission::Read)]);
    let owner = Change::Invite {
        invitee: Username::new("mallory"),
        role: Role::Owner,
        team: None,
    };
    let extra = plan(vec![grant("devs", Permission::Read), owner]);
    assert_eq!(
        first_difference(&extra, &now, &same).as_deref(),
        Some("the saved plan has `+ invite mallory`, which its inputs do not give")
    );
    let missing = plan(vec![]);
    assert_eq!(
        first_difference(&missing, &now, &same).as_deref(),
        Some("its inputs give `+ grant acme/api:devs`, which the saved plan lacks")
    );
    let admin = plan(vec![grant("devs", Permission::Admin)]);
    assert_eq!(
        first_difference(&admin, &now, &same).as_deref(),
        Some("`+ grant acme/api:devs` differs in `permission`")
    );
    let twice = plan(vec![
        grant("devs", Permission::Read),
        grant("devs", Permission::Read),
    ]);
    assert_eq!(
        first_difference(&twice, &now, &same).as_deref(),
        Some("the saved plan has `+ grant acme/api:devs` more often than its inputs give it")
    );
    let other_type = plan(vec![Change::UpdateGrant {
        repository: "api".into(),
        team: "devs".into(),
        permission: Delta {
            old: Permission::Read,
            new: Permission::Read,
        },
    }]);
    assert_eq!(
        first_difference(&other_type, &now, &same).as_deref(),
        Some("`~ grant acme/api:devs` differs in `type`")
    );
    // The `old` side is compared too: it comes from the live state the fingerprints cover.
    let now = plan(vec![copy("7.2", 0, 0)]);
    let mut moved = copy("7.2", 0, 0);
    if let Change::CopyImage { old_digest, .. } = &mut moved {
        *old_digest = Some(format!("sha256:{}", "b".repeat(64)));
    }
    assert_eq!(
        first_difference(&plan(vec![moved]), &now, &same).as_deref(),
        Some("`~ image acme/redis:7.2` differs in `old_digest`")
    );
    let mut elsewhere = plan(vec![]);
    elsewhere.org = "other".into();
    assert!(
        first_difference(&elsewhere, &plan(vec![]), &same)
            .is_some_and(|d| d.contains("organization other"))
    );
}

#[test]
fn what_the_message_quotes_from_the_file_goes_through_the_escape() {
    let now = plan(vec![grant("devs", Permission::Read)]);
    let forged = plan(vec![grant("devs\u{1b}[2J", Permission::Read)]);
    let marked = |s: &str| format!("<{}>", s.replace('\u{1b}', "ESC"));
    assert_eq!(
        first_difference(&forged, &now, &marked).as_deref(),
        Some("the saved plan has `+ <grant acme/api:devsESC[2J>`, which its inputs do not give")
    );
    let mut elsewhere = plan(vec![]);
    elsewhere.org = "o\u{1b}".into();
    assert!(
        first_difference(&elsewhere, &plan(vec![]), &marked)
            .is_some_and(|d| d.contains("organization <oESC>"))
    );
}

#[test]
fn estimates_come_from_the_saved_rows_with_the_same_address() {
    let saved = plan(vec![copy("7.2", 100, 3), grant("devs", Permission::Read)]);
    let mut copies = vec![copy("7.2", 0, 0), copy("7.4", 0, 0)];
    take_estimates(&mut copies, &saved);
    assert_eq!(copies, vec![copy("7.2", 100, 3), copy("7.4", 0, 0)]);
}
