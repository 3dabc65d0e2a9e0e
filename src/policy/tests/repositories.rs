//! `[[repository]]` entries: the name rule, descriptions and their limits, and
//! `full_description_file` (inside the policy directory, a regular file, read within the limit).

use super::*;

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
