//! Members, teams and grants: Docker IDs and team names, roles and permissions, duplicates across
//! case, an owner required, and a very large member list.

use super::*;

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
