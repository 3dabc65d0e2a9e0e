//! The preflight's checks beyond the policy's sections: the credential's role, a partial listing,
//! the Docker Hub API budget, the registry pull budget and the push token.

use super::write::read_fix;
use super::{Check, Facts, Kind, Needs, Status};
use crate::hub::REPOSITORY_LIST_SCOPE;
use crate::registry::grants::Granted;

pub(super) fn role_check(f: &Facts, kind: Kind) -> Check {
    let check = "role";
    match (&f.role, kind) {
        (None, _) => Check {
            check,
            status: Status::Skip,
            detail: "not checked: the login failed".into(),
            fix: None,
        },
        (_, Kind::OrganizationAccessToken) => Check {
            check,
            status: Status::Ok,
            detail: format!(
                "none: an organization access token has no role in {}; its scopes decide what \
                 it may do",
                f.org
            ),
            fix: None,
        },
        (Some(Ok(Some(role))), _) => Check {
            check,
            status: Status::Ok,
            detail: format!("{} of {}", role.as_str(), f.org),
            fix: None,
        },
        (Some(Ok(None)), _) => Check {
            check,
            status: Status::Fail,
            detail: format!("{} is not a member of {}", f.identity, f.org),
            fix: Some(format!(
                "ask an owner of {} to invite {} with the role the policy needs, or log in as a \
                 member; check {} if the organization is another",
                f.org, f.identity, f.org_source
            )),
        },
        (Some(Err(e)), _) => Check {
            check,
            status: Status::Fail,
            detail: format!("unknown: {}", e.text),
            fix: Some(read_fix(e, kind, None, "scope-member-read", f)),
        },
    }
}

/// Adds the partial-listing finding to the repositories line.
pub(super) fn partial_listing(line: &mut Check, f: &Facts, kind: Kind, needs: &Needs) {
    match &f.omitted {
        Some(Ok(omitted)) if !omitted.is_empty() => {
            line.detail = format!(
                "{}; the listing is partial: it leaves out {} which read one by one",
                line.detail,
                omitted.join(", ")
            );
            line.status = if needs.repositories {
                Status::Fail
            } else {
                Status::Warn
            };
            line.fix = Some(if kind == Kind::OrganizationAccessToken {
                "create the organization access token with scope-repository-list (without it \
                 Docker Hub lists public repositories only), or use a member's password"
                    .into()
            } else {
                format!("log in as a member of {} who sees every repository", f.org)
            });
        }
        Some(Ok(_)) if f.listing_doubt.is_some() && line.status != Status::Fail => {
            let reason = f.listing_doubt.as_deref().unwrap_or_default();
            line.detail = format!("{}; the listing may be partial: {reason}", line.detail);
            // Apply refuses such a listing only where it needs the whole of it: prune.
            line.status = if needs.prune {
                Status::Fail
            } else {
                Status::Warn
            };
            line.fix = Some(format!(
                "create the organization access token with {REPOSITORY_LIST_SCOPE}, or run \
                 vetted with an owner's personal credentials{}",
                if needs.prune {
                    " (apply with prune = true refuses this listing)"
                } else {
                    ""
                }
            ));
        }
        Some(Err(e)) => {
            line.detail = format!(
                "{}; whether the listing is complete is unknown: {}",
                line.detail, e.text
            );
            if line.status == Status::Ok {
                line.status = Status::Warn;
            }
        }
        _ => {}
    }
}

pub(super) fn hub_budget(f: &Facts) -> Check {
    let check = "hub budget";
    match (&f.login, f.hub_budget) {
        (Some(Ok(())), Some(rl)) => {
            let limit = rl.limit.map(|l| format!(" of {l}")).unwrap_or_default();
            let reset = rl
                .reset
                .map(|r| match f.now {
                    Some(now) if r >= now => format!("; the window resets in {} s", r - now),
                    _ => format!("; the window resets at {r} (Unix time)"),
                })
                .unwrap_or_default();
            Check {
                check,
                status: if rl.remaining == 0 {
                    Status::Warn
                } else {
                    Status::Ok
                },
                detail: format!(
                    "{} Docker Hub API requests{limit} left in this window{reset}",
                    rl.remaining
                ),
                fix: (rl.remaining == 0).then(|| {
                    "wait for the reset: apply waits on 429 answers, and may run out of retries"
                        .to_string()
                }),
            }
        }
        (Some(Ok(())), None) => Check {
            check,
            status: Status::Warn,
            detail: "Docker Hub sent no X-RateLimit headers: the budget is unknown".into(),
            fix: None,
        },
        _ => Check {
            check,
            status: Status::Skip,
            detail: "not checked: the login failed".into(),
            fix: None,
        },
    }
}

pub(super) fn pull_budget(f: &Facts, needs: &Needs) -> Check {
    let check = "pull budget";
    match &f.pulls {
        None => Check {
            check,
            status: Status::Skip,
            detail: if needs.mirrors {
                "not checked".into()
            } else {
                "the policy mirrors no image".into()
            },
            fix: None,
        },
        Some(Ok((source, Some(0)))) => Check {
            check,
            status: Status::Fail,
            detail: format!("no pulls left ({source} answered ratelimit-remaining 0)"),
            fix: Some(
                "wait for the pull window (6 hours on Docker Hub), or set registry credentials \
                 of an account with a higher limit (VETTED_REGISTRY_USERNAME/PASSWORD)"
                    .into(),
            ),
        },
        Some(Ok((source, Some(n)))) => Check {
            check,
            status: Status::Ok,
            detail: format!("{n} pulls left (read with a HEAD of {source}, which costs none)"),
            fix: None,
        },
        Some(Ok((source, None))) => Check {
            check,
            status: Status::Ok,
            detail: format!("no pull limit announced (HEAD of {source})"),
            fix: None,
        },
        Some(Err(e)) => Check {
            check,
            status: Status::Fail,
            detail: format!("cannot read the mirror source: {e}"),
            fix: Some(
                "check the mirror's `from` in the policy, the registry credentials and \
                 --docker-io-registry"
                    .into(),
            ),
        },
    }
}

pub(super) fn push_token(f: &Facts, kind: Kind, needs: &Needs) -> Check {
    let check = "push token";
    let fix_for = |repo: &str| match kind {
        Kind::OrganizationAccessToken => "create the organization access token with \
                                          scope-image-push and scope-image-pull"
            .to_string(),
        _ => format!(
            "run apply as an owner, or as a member of a team with write on {repo}; registry \
             credentials for docker.io come from VETTED_REGISTRY_USERNAME/PASSWORD, else \
             DOCKERHUB_USERNAME/TOKEN"
        ),
    };
    match &f.push {
        None => Check {
            check,
            status: Status::Skip,
            detail: if needs.mirrors {
                "not checked".into()
            } else {
                "the policy mirrors no image".into()
            },
            fix: None,
        },
        Some(Ok((repo, Granted::Token(actions)))) if actions.contains("push") => Check {
            check,
            status: Status::Ok,
            detail: format!("the registry grants push on {repo}"),
            fix: None,
        },
        Some(Ok((repo, Granted::Token(actions)))) => {
            let held = if actions.is_empty() {
                "nothing".to_string()
            } else {
                actions.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            // A repository apply creates first: its token before creation says little.
            let guess = !f.push_target_exists && kind != Kind::OrganizationAccessToken;
            Check {
                check,
                status: if guess { Status::Warn } else { Status::Fail },
                detail: if guess {
                    format!(
                        "the registry grants {held} on {repo}, which does not exist yet \
                         (unconfirmed: push may be granted once apply has created it)"
                    )
                } else {
                    format!("the registry grants {held} on {repo}, not push")
                },
                fix: Some(fix_for(repo)),
            }
        }
        Some(Ok((repo, Granted::NoToken))) => Check {
            check,
            status: Status::Warn,
            detail: format!(
                "the registry of {repo} asked for no token: whether push is allowed shows on apply"
            ),
            fix: None,
        },
        Some(Ok((repo, Granted::Unreadable))) => Check {
            check,
            status: Status::Warn,
            detail: format!(
                "the registry issued a token for {repo} whose grants cannot be read (unconfirmed)"
            ),
            fix: None,
        },
        Some(Err(e)) => Check {
            check,
            status: Status::Fail,
            detail: format!("no push token: {e}"),
            fix: Some(fix_for("the repository")),
        },
    }
}
