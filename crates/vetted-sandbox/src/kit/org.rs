//! A large organization's sandbox seed, for the tests and the benchmark that plan against one:
//! `members` users, `teams` teams of six members each, `repositories` repositories (two in three
//! private, each with a description and two team grants), owned by one user whose password is
//! given.

use std::fmt::Write as _;

/// The seed TOML of organization `org` owned by `owner` (password `owner_secret`): users
/// `u000`…, teams `t000`…, repositories `r0000`….
pub fn big_org_seed(
    org: &str,
    owner: &str,
    owner_secret: &str,
    repositories: usize,
    teams: usize,
    members: usize,
) -> String {
    let mut s = format!("org = \"{org}\"\n\n[users.{owner}]\nfull_name = \"{owner}\"\n");
    for i in 0..members {
        let _ = writeln!(s, "[users.u{i:03}]\nfull_name = \"User {i}\"");
    }
    let _ = writeln!(
        s,
        "[[credentials]]\nidentifier = \"{owner}\"\nsecret = \"{owner_secret}\"\nkind = \"password\"\n\n[members]\n{owner} = \"owner\""
    );
    for i in 0..members {
        let _ = writeln!(s, "u{i:03} = \"member\"");
    }
    for t in 0..teams {
        let picked: Vec<String> = (0..6.min(members))
            .map(|k| format!("\"u{:03}\"", (t * 3 + k) % members.max(1)))
            .collect();
        let _ = writeln!(
            s,
            "[teams.t{t:03}]\ndescription = \"Team {t}\"\nmembers = [{}]",
            picked.join(", ")
        );
    }
    for r in 0..repositories {
        let grants = if teams == 0 {
            String::new()
        } else {
            format!(
                "\ngrants = {{ t{:03} = \"read\", t{:03} = \"write\" }}",
                r % teams,
                (r * 7 + 1) % teams
            )
        };
        let _ = writeln!(
            s,
            "[repositories.r{r:04}]\nprivate = {}\ndescription = \"Repository {r}\"{grants}",
            r % 3 != 0,
        );
    }
    s
}
