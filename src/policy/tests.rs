//! Unit tests of policy loading: the example, each validation error (rendered, plain), several errors
//! at once, and building the desired state.

use std::path::Path;

use super::*;
use crate::model::{Permission, Role, Username};

const HEAD: &str = "org = \"acme\"\n";

fn errors(source: &str) -> String {
    match parse(Path::new("policy.toml"), source) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(PolicyError::Invalid(d)) => d.render(false),
        Err(e) => panic!("unexpected {e}"),
    }
}

fn ok(source: &str) -> Policy {
    match parse(Path::new("policy.toml"), source) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

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
fn image_access_requires_all_three() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[image_access]\nenabled = true\n")), @"
    error: missing `allow_official_images` in [image_access]
     --> policy.toml:2:1
      |
    2 | [image_access]
      | ^^^^^^^^^^^^^^ this section sets Image Access Management
      |
      = help: Docker Hub takes all three settings at once: set `allow_official_images` to true or false

    error: missing `allow_verified_publishers` in [image_access]
     --> policy.toml:2:1
      |
    2 | [image_access]
      | ^^^^^^^^^^^^^^ this section sets Image Access Management
      |
      = help: Docker Hub takes all three settings at once: set `allow_verified_publishers` to true or false

    error: policy `policy.toml` has 2 errors
    ");
}

#[test]
fn repository_name_rule() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.\"My_Repo\"]\n")), @r#"
    error: invalid repository name `My_Repo`
     --> policy.toml:2:15
      |
    2 | [repositories."My_Repo"]
      |               ^^^^^^^^^ not a Docker Hub repository name
      |
      = help: use 2 to 255 characters matching `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`

    error: policy `policy.toml` has 1 error
    "#);
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.a]\n")), @"
    error: invalid repository name `a`
     --> policy.toml:2:15
      |
    2 | [repositories.a]
      |               ^ not a Docker Hub repository name
      |
      = help: use 2 to 255 characters matching `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`

    error: policy `policy.toml` has 1 error
    ");
}

#[test]
fn description_too_long() {
    let long = "x".repeat(101);
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.api]\ndescription = \"{long}\"\n")), @r#"
    error: `repositories.api.description` is 101 characters long; Docker Hub allows at most 100
     --> policy.toml:3:15
      |
    3 | description = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      |               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ too long

    error: policy `policy.toml` has 1 error
    "#);
    assert!(
        parse(
            Path::new("p.toml"),
            &format!(
                "{HEAD}[repositories.api]\ndescription = \"{}\"\n",
                "x".repeat(100)
            )
        )
        .is_ok()
    );
}

#[test]
fn full_description_too_long() {
    let long = "x".repeat(25_001);
    let out = errors(&format!(
        "{HEAD}[repositories.api]\nfull_description = \"{long}\"\n"
    ));
    assert!(out.contains("`repositories.api.full_description` is 25001 characters long; Docker Hub allows at most 25000"), "{out}");
}

#[test]
fn full_description_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# API\n").unwrap();
    std::fs::write(dir.path().join("BIG.md"), "y".repeat(25_001)).unwrap();
    let policy = dir.path().join("policy.toml");
    let p = parse(
        &policy,
        &format!("{HEAD}[repositories.api]\nfull_description_file = \"README.md\"\n"),
    )
    .unwrap();
    assert_eq!(
        p.desired.repositories["api"].full_description.as_deref(),
        Some("# API\n")
    );

    let src = format!("{HEAD}[repositories.api]\nfull_description_file = \"BIG.md\"\n");
    let Err(PolicyError::Invalid(d)) = parse(&policy, &src) else {
        panic!("expected error")
    };
    assert!(
        d.render(false)
            .contains("characters long; Docker Hub allows at most 25000")
    );

    let src = format!("{HEAD}[repositories.api]\nfull_description_file = \"MISSING.md\"\n");
    let out = match parse(Path::new("policy.toml"), &src) {
        Err(PolicyError::Invalid(d)) => d.render(false),
        other => panic!("{other:?}"),
    };
    insta::assert_snapshot!(out, @r#"
    error: cannot read `MISSING.md`: No such file or directory (os error 2)
     --> policy.toml:3:25
      |
    3 | full_description_file = "MISSING.md"
      |                         ^^^^^^^^^^^^ unreadable full description file
      |
      = help: the path is relative to the policy file

    error: policy `policy.toml` has 1 error
    "#);
}

/// Loads a policy in `dir` naming `file` as the full description; the rendered errors.
fn file_errors(dir: &Path, file: &str) -> String {
    let src = format!("{HEAD}[repositories.api]\nfull_description_file = {file:?}\n");
    match parse(&dir.join("policy.toml"), &src) {
        Err(PolicyError::Invalid(d)) => d.render(false),
        other => panic!("expected an error for {file}, got {other:?}"),
    }
}

#[test]
fn full_description_file_must_stay_inside_the_policy_directory() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), "TOKEN=hunter2\n").unwrap();
    let dir = outer.path().join("repo");
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/README.md"), "# inside\n").unwrap();

    // Inside, and `..` that stays inside: fine.
    let src =
        format!("{HEAD}[repositories.api]\nfull_description_file = \"docs/../docs/README.md\"\n");
    let p = parse(&dir.join("policy.toml"), &src).unwrap();
    assert_eq!(
        p.desired.repositories["api"].full_description.as_deref(),
        Some("# inside\n")
    );

    let out = file_errors(&dir, "/proc/self/environ");
    assert!(out.contains("`/proc/self/environ` is an absolute path; files named by the policy must be inside its repository"), "{out}");
    assert!(out.contains("policy.toml:3:25"), "{out}");
    assert!(
        out.contains("help: name a file in the policy file's directory or below it"),
        "{out}"
    );

    let out = file_errors(&dir, "../secret.txt");
    assert!(out.contains("`../secret.txt` resolves to `"), "{out}");
    assert!(out.contains("outside the policy's directory"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");

    std::os::unix::fs::symlink(outer.path().join("secret.txt"), dir.join("docs/link.md")).unwrap();
    let out = file_errors(&dir, "docs/link.md");
    assert!(out.contains("`docs/link.md` resolves to `"), "{out}");
    assert!(out.contains("outside the policy's directory"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");

    // A symlinked directory escapes the same way.
    std::os::unix::fs::symlink("/proc/self", dir.join("self")).unwrap();
    let out = file_errors(&dir, "self/environ");
    assert!(out.contains("outside the policy's directory"), "{out}");
}

#[test]
fn full_description_file_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    // A policy whose directory is / reaches /dev/zero from inside its tree: the type check stops it.
    let out = file_errors(Path::new("/"), "dev/zero");
    assert!(
        out.contains("`dev/zero` is a character device, not a regular file"),
        "{out}"
    );
    let out = file_errors(dir.path(), "sub");
    assert!(
        out.contains("`sub` is a directory, not a regular file"),
        "{out}"
    );
    let out = file_errors(dir.path(), "zero");
    assert!(
        out.contains("`zero` resolves to `/dev/zero`, outside the policy's directory"),
        "{out}"
    );

    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Bounded: a load that blocks on the FIFO fails the test instead of hanging it.
    let path = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(file_errors(&path, "fifo"));
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("loading a policy naming a FIFO blocked");
    assert!(
        out.contains("`fifo` is a FIFO, not a regular file"),
        "{out}"
    );
}

#[test]
fn full_description_file_is_read_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // 25,000 four-byte characters: exactly the limit.
    std::fs::write(dir.path().join("max.md"), "\u{1F600}".repeat(25_000)).unwrap();
    let src = format!("{HEAD}[repositories.api]\nfull_description_file = \"max.md\"\n");
    let p = parse(&dir.path().join("policy.toml"), &src).unwrap();
    assert_eq!(
        p.desired.repositories["api"]
            .full_description
            .as_ref()
            .map(|t| t.chars().count()),
        Some(25_000)
    );
    std::fs::write(dir.path().join("long.md"), "\u{1F600}".repeat(25_001)).unwrap();
    let out = file_errors(dir.path(), "long.md");
    assert!(out.contains("`long.md` is more than 25000 characters long; Docker Hub allows at most 25000 in a full description"), "{out}");
    // 64 MiB of text is refused without being read whole.
    let f = std::fs::File::create(dir.path().join("huge.md")).unwrap();
    f.set_len(64 << 20).unwrap();
    let out = file_errors(dir.path(), "huge.md");
    assert!(
        out.contains("`huge.md` is more than 25000 characters long"),
        "{out}"
    );
    std::fs::write(dir.path().join("bin.md"), b"ok\xff\xfe").unwrap();
    let out = file_errors(dir.path(), "bin.md");
    assert!(out.contains("`bin.md` is not UTF-8 text"), "{out}");
}

#[test]
fn full_description_both() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.api]\nfull_description = \"a\"\nfull_description_file = \"R.md\"\n")), @r#"
    error: `repositories.api` sets both `full_description` and `full_description_file`
     --> policy.toml:4:25
      |
    4 | full_description_file = "R.md"
      |                         ^^^^^^ second source of the full description
      |
      = help: keep one of the two

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn grant_to_undefined_team() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[teams.developers]\n[repositories.api]\nteams = {{ developer = \"read\" }}\n")), @r#"
    error: `repositories.api.teams` grants to undefined team `developer`
     --> policy.toml:4:11
      |
    4 | teams = { developer = "read" }
      |           ^^^^^^^^^ no [teams.NAME] section defines this team
      |
      = help: did you mean `developers`?

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn invalid_permission() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[teams.dev]\n[repositories.api]\nteams = {{ dev = \"pull\" }}\n")), @r#"
    error: invalid permission `pull` for team `dev` in `repositories.api.teams`
     --> policy.toml:4:17
      |
    4 | teams = { dev = "pull" }
      |                 ^^^^^^ not a permission
      |
      = help: valid permissions: `read`, `write`, `admin`

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn owner_and_editor() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[members]\nowners = [\"alice\"]\neditors = [\"Alice\"]\n")), @r#"
    error: `alice` is both owner and editor (in `members.owners` and `members.editors`)
     --> policy.toml:4:12
      |
    4 | editors = ["Alice"]
      |            ^^^^^^^ listed under two roles
      |
      = help: an organization member has exactly one role: keep one entry

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn duplicate_username_case_insensitive() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[teams.dev]\nmembers = [\"Alice\", \"alice\"]\n")), @r#"
    error: `alice` is listed twice in `teams.dev.members`
     --> policy.toml:3:21
      |
    3 | members = ["Alice", "alice"]
      |                     ^^^^^^^ duplicate (Docker IDs are case-insensitive)

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn docker_id_syntax() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[members]\nowners = [\"alice@example.com\"]\n")), @r#"
    error: invalid Docker ID `alice@example.com` in `members.owners`
     --> policy.toml:3:11
      |
    3 | owners = ["alice@example.com"]
      |           ^^^^^^^^^^^^^^^^^^^ not a Docker ID
      |
      = help: Docker IDs are 2 to 30 letters and digits

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn team_name_syntax() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[teams.\"-ops team\"]\n")), @r#"
    error: invalid team name `-ops team`
     --> policy.toml:2:8
      |
    2 | [teams."-ops team"]
      |        ^^^^^^^^^^^ not a valid team name
      |
      = help: team names are a letter or digit, then letters, digits, `_` or `-`, 1 to 30 characters

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn mirror_from_rules() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis]\nmirror = {{ from = \"bitnami/redis:7.2\", tags = [\"7.2\"] }}\n")), @r#"
    error: invalid image reference `bitnami/redis:7.2` in `repositories.redis.mirror.from`
     --> policy.toml:3:19
      |
    3 | mirror = { from = "bitnami/redis:7.2", tags = ["7.2"] }
      |                   ^^^^^^^^^^^^^^^^^^^ `from` names a repository: list tags in `tags`, not after a `:`
      |
      = help: write the source repository, e.g. `nginx`, `bitnami/redis`, `ghcr.io/org/tool`

    error: policy `policy.toml` has 1 error
    "#);
    for from in [
        "nginx",
        "bitnami/redis",
        "ghcr.io/org/tool",
        "localhost:5000/x",
    ] {
        ok(&format!(
            "{HEAD}[repositories.x1]\nmirror = {{ from = \"{from}\", tags = [\"1\"] }}\n"
        ));
    }
}

#[test]
fn mirror_tag_rules() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = [\".bad\", \"7.2@sha256:abc\", \"7.4\", \"7.4\"]\n")), @r#"
    error: invalid tag `.bad` in `repositories.redis.mirror.tags`
     --> policy.toml:4:9
      |
    4 | tags = [".bad", "7.2@sha256:abc", "7.4", "7.4"]
      |         ^^^^^^ not a tag name
      |
      = help: tags match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; optionally pin one as "TAG@sha256:<64 hex>"

    error: invalid digest `sha256:abc` for tag `7.2` in `repositories.redis.mirror.tags`
     --> policy.toml:4:17
      |
    4 | tags = [".bad", "7.2@sha256:abc", "7.4", "7.4"]
      |                 ^^^^^^^^^^^^^^^^ not a sha256 digest
      |
      = help: pin as "TAG@sha256:<64 lowercase hex digits>"

    error: tag `7.4` is listed twice in `repositories.redis.mirror.tags`
     --> policy.toml:4:42
      |
    4 | tags = [".bad", "7.2@sha256:abc", "7.4", "7.4"]
      |                                          ^^^^^ duplicate tag

    error: policy `policy.toml` has 3 errors
    "#);
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = []\n")), @"
    error: `repositories.redis.mirror.tags` is empty
     --> policy.toml:4:8
      |
    4 | tags = []
      |        ^^ no tags
      |
      = help: list at least one tag

    error: policy `policy.toml` has 1 error
    ");
}

#[test]
fn mirror_platform_rules() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = [\"7\"]\nplatforms = [\"linux\", \"linux/amd64\", \"linux/amd64\"]\n")), @r#"
    error: invalid platform `linux` in `repositories.redis.mirror.platforms`
     --> policy.toml:5:14
      |
    5 | platforms = ["linux", "linux/amd64", "linux/amd64"]
      |              ^^^^^^^ not os/arch[/variant]
      |
      = help: write platforms like "linux/amd64" or "linux/arm64/v8"

    error: platform `linux/amd64` is listed twice in `repositories.redis.mirror.platforms`
     --> policy.toml:5:38
      |
    5 | platforms = ["linux", "linux/amd64", "linux/amd64"]
      |                                      ^^^^^^^^^^^^^ duplicate platform

    error: policy `policy.toml` has 2 errors
    "#);
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nfrom = \"bitnami/redis\"\ntags = [\"7\"]\nplatforms = []\n")), @r#"
    error: `repositories.redis.mirror.platforms` is empty
     --> policy.toml:5:13
      |
    5 | platforms = []
      |             ^^ no platforms
      |
      = help: list platforms like "linux/amd64", or remove the key to copy all

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn mirror_requires_from_and_tags() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.redis.mirror]\nsignatures = true\n")), @r#"
    error: missing `from` in `repositories.redis.mirror`
     --> policy.toml:2:1
      |
    2 | [repositories.redis.mirror]
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^ this mirror has no source
      |
      = help: add `from = "<image>"`, e.g. `from = "bitnami/redis"`

    error: missing `tags` in `repositories.redis.mirror`
     --> policy.toml:2:1
      |
    2 | [repositories.redis.mirror]
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^ this mirror lists no tags
      |
      = help: add `tags = ["1.27"]`: a mirror copies exact tags only

    error: policy `policy.toml` has 2 errors
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

#[test]
fn empty_mirror_points_at_mirror() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[repositories.api]\nmirror = {{}}\n")), @r#"
    error: missing `from` in `repositories.api.mirror`
     --> policy.toml:3:10
      |
    3 | mirror = {}
      |          ^^ this mirror has no source
      |
      = help: add `from = "<image>"`, e.g. `from = "bitnami/redis"`

    error: missing `tags` in `repositories.api.mirror`
     --> policy.toml:3:10
      |
    3 | mirror = {}
      |          ^^ this mirror lists no tags
      |
      = help: add `tags = ["1.27"]`: a mirror copies exact tags only

    error: policy `policy.toml` has 2 errors
    "#);
}

#[test]
fn members_need_an_owner() {
    insta::assert_snapshot!(errors(&format!("{HEAD}[members]\neditors = [\"bob\"]\n")), @r#"
    error: `[members]` lists no owner
     --> policy.toml:2:1
      |
    2 | [members]
      | ^^^^^^^^^ organization roles are managed here
      |
      = help: an organization needs at least one owner: add `owners = ["<Docker ID>"]`, or remove [members] to leave roles unmanaged

    error: policy `policy.toml` has 1 error
    "#);
}

#[test]
fn a_hundred_thousand_members_load_and_a_duplicate_among_them_is_found() {
    let ids: Vec<String> = (0..100_000).map(|i| format!("\"u{i:06}\"")).collect();
    let src = format!(
        "{HEAD}[members]\nowners = [\"alice\"]\nmembers = [{}]\n",
        ids.join(",")
    );
    let p = ok(&src);
    assert_eq!(
        p.desired.members.as_ref().map(|m| m.roles.len()),
        Some(100_001)
    );
    // The last entry repeats the first, in another case.
    let src = format!(
        "{HEAD}[members]\nowners = [\"alice\"]\nmembers = [{},\"U000000\"]\n",
        ids.join(",")
    );
    let out = errors(&src);
    assert!(
        out.contains("`U000000` is listed twice in `members.members`"),
        "{}",
        &out[..out.len().min(2000)]
    );
    assert!(out.contains("policy `policy.toml` has 1 error"));
}

#[test]
fn allowlist_normalises_and_needs_no_category_settings() {
    let p = ok(&format!(
        "{HEAD}[image_access]\nallow_repositories = [\"bitnami/redis\", \"nginx\", \"docker.io/grafana/loki\"]\n"
    ));
    assert_eq!(
        p.desired.image_access, None,
        "the categories stay unmanaged"
    );
    let list: Vec<&str> = p
        .desired
        .allowlist
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(list, ["bitnami/redis", "grafana/loki", "library/nginx"]);
    let none = ok(HEAD);
    assert_eq!(none.desired.allowlist, None);
}

#[test]
fn allowlist_errors_point_at_the_entry() {
    insta::assert_snapshot!(errors(&format!(
        "{HEAD}[image_access]\nallow_repositories = [\"nginx\", \"library/nginx\", \"ghcr.io/org/tool\", \"bitnami/redis:7\"]\n"
    )), @r#"
    error: `library/nginx` is listed twice in `image_access.allow_repositories` (as `nginx` too)
     --> policy.toml:3:32
      |
    3 | allow_repositories = ["nginx", "library/nginx", "ghcr.io/org/tool", "bitnami/redis:7"]
      |                                ^^^^^^^^^^^^^^^ duplicate: both mean docker.io/library/nginx
      |
      = help: keep one entry

    error: invalid repository `ghcr.io/org/tool` in `image_access.allow_repositories`
     --> policy.toml:3:49
      |
    3 | allow_repositories = ["nginx", "library/nginx", "ghcr.io/org/tool", "bitnami/redis:7"]
      |                                                 ^^^^^^^^^^^^^^^^^^ the allowlist covers Docker Hub repositories only
      |
      = help: write a Docker Hub repository: `bitnami/redis`, `nginx` or `docker.io/bitnami/redis`; other registries belong in [registry_access]

    error: invalid repository `bitnami/redis:7` in `image_access.allow_repositories`
     --> policy.toml:3:69
      |
    3 | allow_repositories = ["nginx", "library/nginx", "ghcr.io/org/tool", "bitnami/redis:7"]
      |                                                                     ^^^^^^^^^^^^^^^^^ name a repository, without a tag or digest
      |
      = help: write a Docker Hub repository: `bitnami/redis`, `nginx` or `docker.io/bitnami/redis`; other registries belong in [registry_access]

    error: policy `policy.toml` has 3 errors
    "#);
}

#[test]
fn registry_access_loads() {
    let p = ok(&format!(
        "{HEAD}[registry_access]\nenabled = true\nregistries = [\n  {{ address = \"quay.io\", name = \"Quay\", allowed = false }},\n  {{ address = \"ghcr.io\", name = \"GitHub\" }},\n]\n"
    ));
    let ra = p.desired.registry_access.expect("managed");
    assert!(ra.enabled && ra.docker_hub);
    let got: Vec<(&str, &str, bool)> = ra
        .custom
        .iter()
        .map(|c| (c.address.as_str(), c.friendly_name.as_str(), c.allowed))
        .collect();
    assert_eq!(
        got,
        [("ghcr.io", "GitHub", true), ("quay.io", "Quay", false)]
    );
}

#[test]
fn registry_access_errors_point_at_the_value() {
    insta::assert_snapshot!(errors(&format!(
        "{HEAD}[registry_access]\ndocker_hub = \"yes\"\nregistries = [{{ address = \"https://ghcr.io\" }}, {{ address = \"quay.io\" }}, {{ address = \"quay.io\" }}]\n"
    )), @r#"
    error: missing `enabled` in [registry_access]
     --> policy.toml:2:1
      |
    2 | [registry_access]
      | ^^^^^^^^^^^^^^^^^ this section sets Registry Access Management
      |
      = help: set `enabled = true` to limit members to the registries listed here, or `false` to allow every registry

    error: `registry_access.docker_hub` must be a boolean (true or false)
     --> policy.toml:3:14
      |
    3 | docker_hub = "yes"
      |              ^^^^^ found string

    error: invalid registry address `https://ghcr.io`
     --> policy.toml:4:27
      |
    4 | registries = [{ address = "https://ghcr.io" }, { address = "quay.io" }, { address = "quay.io" }]
      |                           ^^^^^^^^^^^^^^^^^ write the host name without a scheme (`ghcr.io`, not `https://ghcr.io`)

    error: registry `quay.io` is listed twice in `registry_access.registries`
     --> policy.toml:4:85
      |
    4 | registries = [{ address = "https://ghcr.io" }, { address = "quay.io" }, { address = "quay.io" }]
      |                                                                                     ^^^^^^^^^ duplicate
      |
      = help: keep one entry

    error: policy `policy.toml` has 4 errors
    "#);
}
