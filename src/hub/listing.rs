//! Whether the repository listing (`GET /v2/namespaces/{org}/repositories`) holds every repository of
//! the organization, and the refusals when it may not.
//!
//! Docker Hub answers that listing to an organization access token without `scope-repository-list`
//! with the public repositories only: a normal 200, its `count` the public ones, no sign of the
//! omission (Docker's access-token reference, "Listing behavior"). A plan built on such a listing
//! would create a repository that exists privately, and prune (or an export) would miss every
//! private repository. So vetted:
//!
//! - reads each repository the policy names that the listing lacks (`GET
//!   /v2/namespaces/{org}/repositories/{repo}`, one call per planned create): a 200 proves the
//!   listing partial, and nothing is planned;
//! - refuses a listing whose entries fall short of the `count` it announced;
//! - does not prune or export from an organization access token's listing that shows no private
//!   repository ([`listing_doubt`]): vetted cannot tell an organization without private repositories
//!   from a token without the scope;
//! - explains a create answered "already exists" the same way (apply, when the plan was made with
//!   other credentials).
//!
//! Passwords and personal access tokens list every repository their user may see; a listing that
//! shows private repositories proves the token holds the scope.

use std::fmt;

use super::error::HubError;

/// The organization scope that lets an organization access token list private repositories.
pub const REPOSITORY_LIST_SCOPE: &str = "scope-repository-list";

/// Most repository names one refusal spells out.
const MAX_NAMED: usize = 10;

/// Why a repository listing may leave repositories out. `Display` says "the repository listing of
/// ORG may be partial because REASON".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingDoubt {
    /// Read with an organization access token, and no listed repository is private: either the
    /// organization has none, or the token lacks `scope-repository-list` and Docker Hub silently
    /// left them out.
    OrgTokenListsNoPrivate { org: String },
}

impl ListingDoubt {
    /// The reason alone, e.g. for `vetted doctor`'s report.
    pub fn reason(&self) -> String {
        match self {
            ListingDoubt::OrgTokenListsNoPrivate { .. } => format!(
                "it was read with an organization access token and shows no private repository: \
                 Docker Hub lists only public repositories to a token without \
                 {REPOSITORY_LIST_SCOPE}, without saying so, and vetted cannot tell that from an \
                 organization that has no private repository"
            ),
        }
    }

    fn org(&self) -> &str {
        match self {
            ListingDoubt::OrgTokenListsNoPrivate { org } => org,
        }
    }
}

impl fmt::Display for ListingDoubt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the repository listing of {} may be partial because {}",
            self.org(),
            self.reason()
        )
    }
}

/// True when `identity` (the login identifier) is an organization access token of `org`: such a
/// token logs in with the organization's name, which no user can have.
pub fn is_org_token(identity: &str, org: &str) -> bool {
    identity.eq_ignore_ascii_case(org)
}

/// Whether the repository listing of `org`, read as `identity`, may be partial: `Some` for an
/// organization access token whose listing shows no private repository (`private_listed` is how
/// many listed repositories are private). Pure; [`crate::hub::HubClient::repository_listing_doubt`]
/// reads the listing and asks this.
pub fn listing_doubt(identity: &str, org: &str, private_listed: usize) -> Option<ListingDoubt> {
    (is_org_token(identity, org) && private_listed == 0).then(|| {
        ListingDoubt::OrgTokenListsNoPrivate {
            org: org.to_string(),
        }
    })
}

/// What the user can do about a partial listing read as `identity`.
fn remedy(org: &str, identity: &str) -> String {
    if is_org_token(identity, org) {
        format!(
            "give the organization access token for {org} the scope {REPOSITORY_LIST_SCOPE} \
             (\"Repository List\", an organization scope), or run vetted with an owner's personal \
             credentials (DOCKERHUB_USERNAME = the user, DOCKERHUB_TOKEN = a password or personal \
             access token)"
        )
    } else {
        format!(
            "{identity} cannot list every repository of {org}; run vetted again, and if this \
             persists run it with an owner's credentials"
        )
    }
}

fn listing_path(org: &str) -> String {
    format!("/v2/namespaces/{org}/repositories")
}

fn named(org: &str, repos: &[String]) -> String {
    let mut out: Vec<String> = repos
        .iter()
        .take(MAX_NAMED)
        .map(|r| format!("{org}/{r}"))
        .collect();
    if repos.len() > MAX_NAMED {
        out.push(format!("and {} more", repos.len() - MAX_NAMED));
    }
    out.join(", ")
}

/// Repositories the policy names exist (their own reads answered 200) though the listing left them
/// out: the listing is partial, and a plan from it would create them.
pub(crate) fn hidden_error(org: &str, identity: &str, hidden: &[String]) -> HubError {
    HubError::new(
        "GET",
        &listing_path(org),
        None,
        if hidden.len() == 1 {
            format!(
                "the repository listing is partial: {} exists (its own read answers) but the \
                 listing leaves it out, so vetted plans nothing from it (it would create a \
                 repository that exists)",
                named(org, hidden)
            )
        } else {
            format!(
                "the repository listing is partial: {} exist (each answers its own read) but the \
                 listing leaves them out, so vetted plans nothing from it (it would create \
                 repositories that exist)",
                named(org, hidden)
            )
        },
    )
    .with_hint(remedy(org, identity))
}

/// The listing announced more entries than its pages held.
pub(crate) fn count_error(org: &str, count: u64, read: usize) -> HubError {
    HubError::new(
        "GET",
        &listing_path(org),
        None,
        format!(
            "the repository listing announced {count} repositories but its pages held {read}: it \
             is partial or changed while it was read, so vetted plans nothing from it; run vetted \
             again"
        ),
    )
}

/// A listing that may be partial, for a use that needs it whole (`purpose`: what would go wrong).
pub(crate) fn doubt_error(doubt: &ListingDoubt, identity: &str, purpose: &str) -> HubError {
    let org = doubt.org();
    let mut hint = remedy(org, identity);
    if matches!(doubt, ListingDoubt::OrgTokenListsNoPrivate { .. }) {
        hint.push_str(&format!(
            "; if {org} has no private repository at all, even a token with the scope lists \
             none, and only personal credentials get past this"
        ));
    }
    HubError::new(
        "GET",
        &listing_path(org),
        None,
        format!("{doubt}; {purpose}, so vetted stops here"),
    )
    .with_hint(hint)
}

/// A repository create answered "already exists": the listing the plan was made from left it out.
pub(crate) fn create_exists_error(org: &str, identity: &str, repo: &str) -> HubError {
    HubError::new(
        "POST",
        &listing_path(org),
        None,
        format!(
            "{org}/{repo} already exists, though the repository listing the plan was made from left \
             it out (the listing was partial); nothing was changed: run `vetted plan` again"
        ),
    )
    .with_hint(remedy(org, identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_org_token_listing_without_private_repositories_is_in_doubt() {
        let d = listing_doubt("ACME", "acme", 0).unwrap();
        let text = d.to_string();
        assert!(
            text.starts_with("the repository listing of acme may be partial because"),
            "{text}"
        );
        assert!(text.contains(REPOSITORY_LIST_SCOPE), "{text}");
        // A private repository in the listing proves the scope.
        assert_eq!(listing_doubt("acme", "acme", 1), None);
        // Users list what their role shows.
        assert_eq!(listing_doubt("alice", "acme", 0), None);
    }

    #[test]
    fn refusals_name_the_scope_and_what_to_do() {
        let e = hidden_error("acme", "acme", &["x".to_string()]).to_string();
        assert!(e.contains("acme/x exist"), "{e}");
        assert!(
            e.contains(
                "hint: give the organization access token for acme the scope scope-repository-list"
            ),
            "{e}"
        );
        assert!(e.contains("personal"), "{e}");
        let many: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
        let e = hidden_error("acme", "alice", &many).to_string();
        assert!(e.contains("and 2 more"), "{e}");
        assert!(!e.contains("scope-repository-list"), "{e}");
        let d = listing_doubt("acme", "acme", 0).unwrap();
        let e = doubt_error(
            &d,
            "acme",
            "prune = true would miss its private repositories",
        )
        .to_string();
        assert!(e.contains("prune = true"), "{e}");
        assert!(e.contains("scope-repository-list"), "{e}");
    }
}
