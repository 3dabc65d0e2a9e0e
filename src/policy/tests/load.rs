//! Loading a policy: the example, files and syntax, the organization name, unknown keys and wrong
//! types, `[settings]`, several errors at once, hostile input, and the desired state built.

use super::*;

#[test]
fn example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.example.toml");
    let p = match load(&path) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(p.desired.org, "acme");
    let roles = &p
        .desired
        .members
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    assert_eq!(roles.get(&Username::new("alice")), Some(&Role::Owner));
    assert_eq!(roles.get(&Username::new("carol")), Some(&Role::Member));
    assert_eq!(p.desired.repositories.len(), 4);
    assert!(p.desired.repositories["api"].mirror.is_none());
    assert_eq!(p.settings, PolicySettings::default());
}

#[test]
fn missing_file_is_io_error() {
    let err = load(Path::new("/nonexistent/vetted/policy.toml"));
    assert!(matches!(err, Err(PolicyError::Io { .. })));
}

#[test]
fn syntax_error() {
    insta::assert_snapshot!(errors("org = \"acme\"\n[teams\n"), @"
    error: invalid TOML
     --> policy.toml:2:7
      |
    2 | [teams
      |       ^ unclosed table, expected `]`

    error: policy `policy.toml` has 1 error
    ");
}

#[test]
fn org_required() {
    insta::assert_snapshot!(errors("[settings]\nprune = true\n"), @r#"
    error: missing required key `org`
     --> policy.toml
      = help: add `org = "<your Docker Hub organization>"` at the top

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn org_name_rule() {
    insta::assert_snapshot!(errors("org = \"Acme Corp\"\n"), @r#"
    error: invalid organization name `Acme Corp`
     --> policy.toml:1:7
      |
    1 | org = "Acme Corp"
      |       ^^^^^^^^^^^ not a Docker Hub namespace
      |
      = help: use 2 to 255 lowercase letters and digits

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn unknown_key_with_suggestion() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[teams.platform]\ndescripton = \"x\"\n")), @r#"
    error: unknown key `descripton` in [teams.platform]
     --> policy.toml:3:1
      |
    3 | descripton = "x"
      | ^^^^^^^^^^ unknown key
      |
      = help: did you mean `description`?

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn unknown_key_lists_valid_keys() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[settings]\nzzz = 1\n")), @"
    error: unknown key `zzz` in [settings]
     --> policy.toml:3:1
      |
    3 | zzz = 1
      | ^^^ unknown key
      |
      = help: valid keys: `prune`, `delete_threshold`

    error: policy `policy.toml` has 1 error
    ");
}

#[test]
fn unknown_top_level_key() {
    insta::assert_snapshot!(errors(&format!("{HEAD}repository = {{}}\n")), @"
    error: unknown key `repository` in the policy
     --> policy.toml:2:1
      |
    2 | repository = {}
      | ^^^^^^^^^^ unknown key
      |
      = help: did you mean `repositories`?

    error: policy `policy.toml` has 1 error
    ");
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[settings]\nprune = \"yes\"\n")), @r#"
    error: `settings.prune` must be a boolean (true or false)
     --> policy.toml:3:9
      |
    3 | prune = "yes"
      |         ^^^^^ found string

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn delete_threshold_range() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[settings]\ndelete_threshold = 1.5\n")), @"
    error: `settings.delete_threshold` is 1.5; it must be greater than 0 and at most 1
     --> policy.toml:3:20
      |
    3 | delete_threshold = 1.5
      |                    ^^^ out of range
      |
      = help: it is a fraction of the managed items of a kind, e.g. 0.25

    error: policy `policy.toml` has 1 error
    ");
    insta::assert_snapshot!(errors(&format!("{HEAD}[settings]\ndelete_threshold = 0\n")), @"
    error: `settings.delete_threshold` is 0; it must be greater than 0 and at most 1
     --> policy.toml:3:20
      |
    3 | delete_threshold = 0
      |                    ^ out of range
      |
      = help: it is a fraction of the managed items of a kind, e.g. 0.25

    error: policy `policy.toml` has 1 error
    ");
    assert_eq!(
        ok(&format!(
            "{HEAD}[settings]\ndelete_threshold = 1\nprune = true\n"
        ))
        .settings,
        PolicySettings {
            prune: true,
            delete_threshold: 1.0
        }
    );
}

#[test]
fn several_errors_reported_at_once() {
    let src = "org = \"acme\"\nowner = \"alice\"\n\n[teams.dev]\nmembers = [\"bob\", \"BOB\"]\n\n[repositories.Bad]\nprivate = \"no\"\nteams = { ops = \"read\", dev = \"own\" }\n";
    let Err(PolicyError::Invalid(d)) = parse(Path::new("policy.toml"), src) else {
        panic!("expected errors")
    };
    assert_eq!(d.len(), 6);
    insta::assert_snapshot!(d.render(false), @r#"
    error: unknown key `owner` in the policy
     --> policy.toml:2:1
      |
    2 | owner = "alice"
      | ^^^^^ unknown key
      |
      = help: valid keys: `org`, `image_access`, `registry_access`, `members`, `teams`, `repositories`, `settings`, `review`

    error: `BOB` is listed twice in `teams.dev.members`
     --> policy.toml:5:19
      |
    5 | members = ["bob", "BOB"]
      |                   ^^^^^ duplicate (Docker IDs are case-insensitive)

    error: invalid repository name `Bad`
     --> policy.toml:7:15
      |
    7 | [repositories.Bad]
      |               ^^^ not a Docker Hub repository name
      |
      = help: use 2 to 255 characters matching `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`

    error: `repositories.Bad.private` must be a boolean (true or false)
     --> policy.toml:8:11
      |
    8 | private = "no"
      |           ^^^^ found string

    error: `repositories.Bad.teams` grants to undefined team `ops`
     --> policy.toml:9:11
      |
    9 | teams = { ops = "read", dev = "own" }
      |           ^^^ no [teams.NAME] section defines this team
      |
      = help: defined teams: `dev`

    error: invalid permission `own` for team `dev` in `repositories.Bad.teams`
     --> policy.toml:9:31
      |
    9 | teams = { ops = "read", dev = "own" }
      |                               ^^^^^ not a permission
      |
      = help: valid permissions: `read`, `write`, `admin`

    error: policy `policy.toml` has 6 errors
    "#);
}

#[test]
fn desired_state() {
    let p = ok(
        "org = \"acme\"\n[members]\nowners = [\"Alice\"]\neditors = [\"bob\"]\n[teams.dev]\nmembers = [\"carol\", \"BOB\"]\n[teams.ops]\ndescription = \"Ops\"\n[repositories.api]\n[repositories.web]\nprivate = false\nteams = {}\n[repositories.db]\nteams = { dev = \"WRITE\" }\n[repositories.redis]\nmirror = { from = \"bitnami/redis\", tags = [\"7.2\", \"7.4@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"] }\n",
    );
    let d = &p.desired;
    assert_eq!(d.image_access, None);
    let roles = &d.members.as_ref().unwrap().roles;
    assert_eq!(roles.len(), 3);
    assert_eq!(roles[&Username::new("alice")], Role::Owner);
    assert_eq!(roles[&Username::new("bob")], Role::Editor);
    assert_eq!(roles[&Username::new("carol")], Role::Member);
    assert!(d.members.as_ref().unwrap().invites.is_empty());
    let teams = d.teams.as_ref().unwrap();
    assert_eq!(teams["dev"].description, None);
    assert_eq!(teams["ops"].description.as_deref(), Some("Ops"));
    assert!(teams["dev"].members.contains(&Username::new("bob")));
    assert!(teams["ops"].members.is_empty());
    let api = &d.repositories["api"];
    assert!(api.private && api.description.is_none() && api.full_description.is_none());
    assert_eq!(api.grants, None);
    assert_eq!(api.mirror, None);
    assert!(!d.repositories["web"].private);
    assert_eq!(d.repositories["web"].grants, Some(Default::default()));
    assert_eq!(
        d.repositories["db"].grants.as_ref().unwrap()["dev"],
        Permission::Write
    );
    let m = d.repositories["redis"].mirror.as_ref().unwrap();
    assert_eq!(m.from, "bitnami/redis");
    assert_eq!(m.tags["7.2"], None);
    assert!(m.tags["7.4"].as_deref().unwrap().starts_with("sha256:0123"));
    assert_eq!(m.platforms, None);
    assert!(!m.signatures);
    assert_eq!(p.settings, PolicySettings::default());
}

#[test]
fn absent_sections_are_unmanaged() {
    let p = ok(HEAD);
    assert_eq!(p.desired, crate::model::OrgState::empty("acme"));
    // Without [members], team members get no roles; without [teams], grants are not cross-checked.
    let p = ok(&format!(
        "{HEAD}[repositories.api]\nteams = {{ anyone = \"read\" }}\n"
    ));
    assert_eq!(p.desired.members, None);
    assert_eq!(p.desired.teams, None);
}

#[test]
fn color_rendering_differs() {
    let Err(PolicyError::Invalid(d)) = parse(Path::new("p.toml"), "org = 1\n") else {
        panic!()
    };
    assert_eq!(d.len(), 1);
    assert!(d.render(true).contains('\u{1b}'));
    assert!(!d.render(false).contains('\u{1b}'));
}

#[test]
fn hostile_input_never_panics() {
    let cases = [
        "",
        "org = \"acme\"\n[[repositories]]\nname = \"x\"\n",
        "org = \"acme\"\nteams = 5\nmembers = \"alice\"\n",
        "org = \"acme\"\n[repositories.api]\nmirror = {}\n",
        "org = \"acme\"\n[repositories.api]\nteams = { dev = 3 }\nmirror = 7\n",
        "org = \"acme\"\n[repositories.api]\ndescription = \"\u{e9}\u{1f600}\u{0301}\"\nteams.\"\u{1f600}\" = \"read\"\n",
        "org = [\"acme\"]\n[teams.dev]\nmembers = [1, true, \"\"]\n",
        "\u{feff}org = \"acme\"\n[settings]\ndelete_threshold = nan\n",
        "org = \"acme\"\n[repositories.x1.mirror]\nfrom = \"ghcr.io:99999999/x\"\ntags = [\"a\"]\nplatforms = \"linux/amd64\"\n",
    ];
    for src in cases {
        if let Err(PolicyError::Invalid(d)) = parse(Path::new("p.toml"), src) {
            assert!(!d.is_empty());
            let text = d.render(false);
            assert!(text.contains("p.toml"), "{text}");
            let _ = d.render(true);
        } else if !src.is_empty() {
            panic!("expected errors for {src:?}");
        }
    }
}
