//! Renders the plan's effective-access changes ([`AccessChange`]): one sentence per subject and
//! repository ("carol gains push on acme/redis"), grouped by who, for the text view (`plan --access`)
//! and as a markdown section for pull-request comments. Only reads.

use std::fmt::Write as _;

use crate::plan::AccessChange;

/// Sentences grouped by subject, in the plan's order.
fn by_subject(changes: &[AccessChange], org: &str) -> Vec<(String, Vec<(bool, String)>)> {
    let mut out: Vec<(String, Vec<(bool, String)>)> = Vec::new();
    for c in changes {
        let who = c.subject.to_string();
        let line = (c.is_loss(), c.sentence(org));
        match out.last_mut() {
            Some((w, lines)) if *w == who => lines.push(line),
            _ => out.push((who, vec![line])),
        }
    }
    out
}

/// The text section printed by `vetted plan --access`.
pub fn access_text(changes: &[AccessChange], org: &str) -> String {
    let mut out = String::from("\nAccess changes (who gains or loses what):\n");
    if changes.is_empty() {
        out.push_str("  No one gains or loses access.\n");
        return out;
    }
    for (_, lines) in by_subject(changes, org) {
        for (loss, line) in lines {
            let _ = writeln!(
                out,
                "  {} {}",
                if loss { '-' } else { '+' },
                super::untrusted(&line)
            );
        }
    }
    out
}

/// The text section printed by `vetted plan --access` for drift left alone (empty when the drift
/// grants nothing): who has access only through it, which `prune = true` would take away.
pub fn drift_access_text(changes: &[AccessChange], org: &str) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("\nAccess through drift left alone (prune = true would take it away):\n");
    for (_, lines) in by_subject(changes, org) {
        for (_, line) in lines {
            let _ = writeln!(out, "  ! {}", super::untrusted(&line));
        }
    }
    out
}

/// A markdown section for the pull-request comment: empty string when nobody's access changes.
pub fn access_markdown(changes: &[AccessChange], org: &str) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for (_, lines) in by_subject(changes, org) {
        for (loss, line) in lines {
            let mark = if loss { "`-`" } else { "`+`" };
            let _ = writeln!(out, "- {mark} {}", super::markdown::escape(&line));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::access::{Level, Subject};

    fn sample() -> Vec<AccessChange> {
        vec![
            AccessChange {
                subject: Subject::Person("bob".into()),
                repository: "api".into(),
                old: Some(Level::Admin),
                new: Some(Level::Pull),
                pending: false,
                outside: None,
            },
            AccessChange {
                subject: Subject::Person("carol".into()),
                repository: "redis".into(),
                old: None,
                new: Some(Level::Push),
                pending: false,
                outside: None,
            },
            AccessChange {
                subject: Subject::Person("erin".into()),
                repository: "api".into(),
                old: None,
                new: Some(Level::Pull),
                pending: true,
                outside: None,
            },
        ]
    }

    #[test]
    fn text_section() {
        insta::assert_snapshot!(access_text(&sample(), "acme"), @"

        Access changes (who gains or loses what):
          - bob loses admin on acme/api (keeps pull)
          + carol gains push on acme/redis
          + erin (invited) will gain pull on acme/api
        ");
        insta::assert_snapshot!(access_text(&[], "acme"), @"

        Access changes (who gains or loses what):
          No one gains or loses access.
        ");
    }

    #[test]
    fn markdown_section() {
        insta::assert_snapshot!(access_markdown(&sample(), "acme"), @"
        - `-` bob loses admin on acme/api (keeps pull)
        - `+` carol gains push on acme/redis
        - `+` erin (invited) will gain pull on acme/api
        ");
        assert_eq!(access_markdown(&[], "acme"), "");
    }
}
