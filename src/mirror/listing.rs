//! The tag listings mirroring reads instead of a registry HEAD per tag: Docker Hub's
//! `GET /v2/namespaces/{ns}/repositories/{repo}/tags` (100 tags and their digests a call, through
//! the hub client and its pacing) for the organization's mirrored repositories, and for Docker
//! Hub sources where the listing is cheaper than HEADs. What a listed digest means is
//! [`crate::hub`]'s one guess (`listed_digest`: the digest the tag resolves to).
use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use crate::hub::HubClient;
use crate::model::{Image, OrgState};
use crate::policy::lock::Wanted;
use crate::registry::reference::{DOCKER_HUB, Reference};

/// Listings asked for at once; the hub client's own request slots and pacing bound what is sent.
const LISTINGS_AT_ONCE: usize = 64;

/// A Docker Hub source's listing is read only when it costs at most one page per this many of the
/// source's tags the policy mirrors (HEADs on the registry are free of the API budget; listing
/// calls are not).
const TAGS_PER_LISTING_PAGE: usize = 20;

/// Tag name -> digest ("" when the listing gave none) of each mirrored repository that exists.
pub type OrgTags = BTreeMap<String, BTreeMap<String, String>>;

/// The listing of each of `repositories` of `org`, read concurrently; any failure fails the plan
/// (a partial read could hide a tag).
pub async fn org_tags(
    hub: &HubClient,
    org: &str,
    repositories: &[&String],
) -> Result<OrgTags, String> {
    type Listed = (String, BTreeMap<String, String>);
    let read: Vec<Result<Listed, String>> = futures::stream::iter(repositories)
        .map(|name| async move {
            hub.read_tags(org, name)
                .await
                .map(|tags| ((*name).clone(), tags))
                .map_err(|e| format!("{org}/{name}: {e}"))
        })
        .buffer_unordered(LISTINGS_AT_ONCE)
        .collect()
        .await;
    let mut out = OrgTags::new();
    let mut failures = Vec::new();
    for r in read {
        match r {
            Ok((name, tags)) => {
                out.insert(name, tags);
            }
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        failures.sort();
        Err(format!(
            "could not list the tags of {} mirrored repositor(ies):\n{}",
            failures.len(),
            failures
                .iter()
                .map(|e| format!("  - {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}

/// The listed tags the policy does not mirror into `live` (how the diff finds tags pushed by hand
/// into a mirrored repository). The mirrored ones are [`super::resolve`]'s.
pub fn add_unmirrored(desired: &OrgState, listed: &OrgTags, live: &mut OrgState) {
    for (name, tags) in listed {
        let Some(mirror) = desired
            .repositories
            .get(name)
            .and_then(|r| r.mirror.as_ref())
        else {
            continue;
        };
        let Some(have) = live.repositories.get_mut(name) else {
            continue;
        };
        let into = have.tags.get_or_insert_with(Default::default);
        for (tag, digest) in tags {
            if !mirror.tags.contains_key(tag) {
                into.insert(
                    tag.clone(),
                    Image {
                        digest: digest.clone(),
                        source: None,
                    },
                );
            }
        }
    }
}

/// What Docker Hub sources' listings say, per normalised source repository.
#[derive(Debug, Default)]
pub struct Upstream {
    read: BTreeMap<String, BTreeMap<String, String>>,
}

impl Upstream {
    /// `Some(digest)` when `source`'s listing was read (`Some(None)`: the tag is not there),
    /// `None` when it was not or gave no digest for the tag (then the registry is asked).
    pub fn get(&self, source: &str, tag: &str) -> Option<Option<String>> {
        let tags = self.read.get(source)?;
        match tags.get(tag).map(String::as_str) {
            None => Some(None),
            Some("") => None,
            Some(d) => Some(Some(d.to_string())),
        }
    }
}

/// The listings of the Docker Hub sources of the wanted tags `needs` selects, each only when it
/// fits in one page per [`TAGS_PER_LISTING_PAGE`] selected tags of that source; a listing that is
/// longer or fails is left out (its tags are HEADed instead).
pub async fn docker_hub_sources(
    hub: &HubClient,
    wanted: &[Wanted],
    needs: impl Fn(&Wanted) -> bool,
) -> Upstream {
    let mut per_source: BTreeMap<&str, usize> = BTreeMap::new();
    for w in wanted.iter().filter(|w| needs(w)) {
        *per_source.entry(w.source.as_str()).or_default() += 1;
    }
    let jobs: Vec<(String, String, String, usize)> = per_source
        .into_iter()
        .filter(|(_, n)| *n >= TAGS_PER_LISTING_PAGE)
        .filter_map(|(source, n)| {
            let r = Reference::parse(source).ok()?;
            if r.registry != DOCKER_HUB {
                return None;
            }
            let (namespace, name) = r.repository.split_once('/')?;
            Some((
                source.to_string(),
                namespace.to_string(),
                name.to_string(),
                n / TAGS_PER_LISTING_PAGE,
            ))
        })
        .collect();
    let seen: BTreeSet<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
    tracing::debug!(
        sources = seen.len(),
        "reading Docker Hub source tag listings"
    );
    let read: Vec<Option<(String, BTreeMap<String, String>)>> = futures::stream::iter(&jobs)
        .map(|(source, namespace, name, pages)| async move {
            match hub.read_tags_within(namespace, name, *pages).await {
                Ok(tags) => Some((source.clone(), tags)),
                Err(e) => {
                    tracing::debug!(%source, error = %e, "source tag listing not used");
                    None
                }
            }
        })
        .buffer_unordered(LISTINGS_AT_ONCE)
        .collect()
        .await;
    Upstream {
        read: read.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_listing_answers_for_its_tags_only() {
        let mut tags = BTreeMap::new();
        tags.insert("1".to_string(), format!("sha256:{}", "a".repeat(64)));
        tags.insert("2".to_string(), String::new());
        let mut read = BTreeMap::new();
        read.insert("docker.io/library/x".to_string(), tags);
        let up = Upstream { read };
        assert_eq!(
            up.get("docker.io/library/x", "1"),
            Some(Some(format!("sha256:{}", "a".repeat(64))))
        );
        // No digest: ask the registry. Not listed: upstream has no such tag.
        assert_eq!(up.get("docker.io/library/x", "2"), None);
        assert_eq!(up.get("docker.io/library/x", "3"), Some(None));
        assert_eq!(up.get("docker.io/library/y", "1"), None);
    }
}
