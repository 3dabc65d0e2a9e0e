//! The JSON apply report: what was done, failed and skipped, a refusal and an error before the
//! plan, their snapshots, and the report's shape against docs/json-shapes/.

use super::plan_document::every_kind;
use super::*;

fn report() -> ApplyReport {
    let r = |address: &str, action, status| ChangeResult {
        address: address.into(),
        action,
        status,
    };
    ApplyReport {
        results: vec![
            r("team acme/devs", Action::Create, Status::Done),
            r("repository acme/nginx", Action::Create, Status::Done),
            r(
                "image acme/nginx:1.27",
                Action::Create,
                Status::Failed(
                    "copying docker.io/library/nginx:1.27: HTTP 500: boom\u{1b}[2J\u{202e}\n  hint: retry"
                        .into(),
                ),
            ),
            r(
                "image acme/redis:7.2",
                Action::Update,
                Status::Skipped("its repository could not be created".into()),
            ),
            r("grant acme/redis:qa", Action::Delete, Status::Done),
            r("member ed", Action::Update, Status::Done),
        ],
    }
}

fn copy() -> CopyTotals {
    CopyTotals {
        images: 1,
        blobs_copied: 3,
        blobs_mounted: 1,
        blobs_skipped: 2,
        bytes: 4096,
    }
}

fn incomplete(plan: &Plan) -> String {
    apply_json(&ApplyFacts {
        end: ApplyEnd::Incomplete,
        exit_code: 1,
        plan: Some(plan),
        file: Some(Path::new("plan.json")),
        report: Some(&report()),
        copy: &copy(),
    })
}

#[test]
fn the_apply_report_lists_what_was_done_failed_and_skipped() {
    let plan = every_kind();
    let doc = incomplete(&plan);
    insta::assert_snapshot!("apply_incomplete", doc);
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["summary"]["add"], 2);
    assert_eq!(v["summary"]["change"], 1);
    assert_eq!(v["summary"]["destroy"], 1);
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["skipped"], 1);
    assert_eq!(v["results"][2]["kind"], "image");
    // The error quotes a registry: escaped as on stderr (its own hint line kept).
    assert_eq!(
        v["results"][2]["message"],
        "copying docker.io/library/nginx:1.27: HTTP 500: boom\\u{1b}[2J\\u{202e}\n  hint: retry"
    );
    assert_eq!(v["copy"]["blobs_mounted"], 1);
    assert_eq!(
        v["plan"]["changes"].as_array().map(Vec::len),
        Some(plan.changes.len())
    );
}

#[test]
fn the_apply_report_of_a_refusal_and_of_an_error_before_the_plan() {
    let plan = every_kind();
    let refused = apply_document(&ApplyFacts {
        end: ApplyEnd::Refused("the plan is stale: team devs changed\u{1b}]8;;"),
        exit_code: 1,
        plan: Some(&plan),
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    assert_eq!(refused.status, "refused");
    assert_eq!(
        refused.message.as_deref(),
        Some("the plan is stale: team devs changed\\u{1b}]8;;")
    );
    assert!(refused.results.is_empty());
    let error = apply_document(&ApplyFacts {
        end: ApplyEnd::Error("vetted.toml:3: unknown key"),
        exit_code: 1,
        plan: None,
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    assert_eq!((error.status, error.org, error.plan), ("error", None, None));
    let empty = Plan {
        changes: vec![],
        access: vec![],
        drift: Drift::default(),
        ..plan
    };
    let none = apply_document(&ApplyFacts {
        end: ApplyEnd::Ok,
        exit_code: 0,
        plan: Some(&empty),
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    assert_eq!(none.status, "no_changes");
}

/// An incomplete apply, a refusal and an error before the plan: every field set and unset.
fn apply_documents() -> Vec<String> {
    let plan = every_kind();
    let refused = apply_json(&ApplyFacts {
        end: ApplyEnd::Refused("the plan was refused"),
        exit_code: 1,
        plan: Some(&plan),
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    let error = apply_json(&ApplyFacts {
        end: ApplyEnd::Error("vetted.toml:3: unknown key"),
        exit_code: 1,
        plan: None,
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    vec![incomplete(&plan), refused, error]
}

#[test]
fn the_apply_report_keeps_the_shape_of_its_format_version() {
    assert_shape("apply", APPLY_FORMAT_VERSION, &apply_documents());
}

#[test]
fn a_hostile_address_is_escaped_alike_in_the_plan_and_the_results() {
    let hostile = "api\u{1b}[2J\nrepository acme/forged";
    let mut plan = every_kind();
    plan.changes = vec![Change::Revoke {
        repository: hostile.into(),
        team: "qa".into(),
        permission: Permission::Write,
    }];
    let address = plan.changes[0].address("acme");
    let report = ApplyReport {
        results: vec![ChangeResult {
            address: address.clone(),
            action: Action::Delete,
            status: Status::Done,
        }],
    };
    let doc: serde_json::Value = serde_json::from_str(&apply_json(&ApplyFacts {
        end: ApplyEnd::Ok,
        exit_code: 0,
        plan: Some(&plan),
        file: None,
        report: Some(&report),
        copy: &copy(),
    }))
    .unwrap();
    let planned = doc["plan"]["changes"][0]["address"].as_str().unwrap();
    let result = doc["results"][0]["address"].as_str().unwrap();
    assert_eq!(planned, result, "a change and its result carry one address");
    assert!(
        !planned.contains('\u{1b}') && !planned.contains('\n'),
        "{planned:?}"
    );
    assert_eq!(
        doc["results"][0]["kind"], "grant",
        "the kind is found by the raw address"
    );
}

#[test]
fn a_partial_apply_says_so_with_its_targets() {
    let mut plan = every_kind();
    let whole: serde_json::Value = serde_json::from_str(&incomplete(&plan)).unwrap();
    assert_eq!(whole["plan"]["partial"], false);
    assert_eq!(whole["plan"]["targets"], serde_json::json!([]));
    plan.targets = vec!["repositories.redis".into(), "teams.devs".into()];
    let doc: serde_json::Value = serde_json::from_str(&incomplete(&plan)).unwrap();
    assert_eq!(doc["plan"]["partial"], true);
    assert_eq!(
        doc["plan"]["targets"],
        serde_json::json!(["repositories.redis", "teams.devs"])
    );
}
