//! The gate in `vetted lock`: every entry of the new lock whose mirror has `verify` must carry a
//! valid signature by that verifier before the lock records it. An entry already recorded as
//! verified by the same verifier for the same digest is kept without a request; a refused entry
//! keeps the old lock's entry when that one was verified by the same verifier, and is left out
//! otherwise (the plan then follows upstream, and apply refuses the digest again).
use std::collections::BTreeMap;

use futures::StreamExt;

use super::{LockedImage, Lockfile};
use crate::model::Verify;
use crate::policy::Policy;
use crate::registry::client::RegistryClient;
use crate::verify::{Verdict, check, refusal};

/// Entries checked at once.
const CONCURRENCY: usize = 4;

/// The verifier of each mirrored repository of the policy that has one.
pub fn verifiers(policy: &Policy) -> BTreeMap<&str, &Verify> {
    policy
        .desired
        .repositories
        .iter()
        .filter_map(|(name, r)| {
            r.mirror
                .as_ref()
                .and_then(|m| m.verify.as_ref())
                .map(|v| (name.as_str(), v))
        })
        .collect()
}

/// Whether any entry of `new` needs a registry read to be verified.
pub fn needs_reads(policy: &Policy, new: &Lockfile) -> bool {
    let verifiers = verifiers(policy);
    new.images.iter().any(|e| {
        verifiers
            .get(e.repository.as_str())
            .is_some_and(|v| e.verified.as_deref() != Some(v.id().as_str()))
    })
}

/// Verifies the entries of `new` that need it (see the module doc), fixing `verified` on each;
/// returns each refused entry's name (`redis:7.2`) and refusal line, sorted.
pub async fn verify_lock(
    client: Option<&RegistryClient>,
    policy: &Policy,
    new: &mut Lockfile,
    old: Option<&Lockfile>,
) -> Vec<(String, String)> {
    let verifiers = verifiers(policy);
    let mut todo = Vec::new();
    for (i, e) in new.images.iter_mut().enumerate() {
        match verifiers.get(e.repository.as_str()) {
            None => e.verified = None,
            Some(v) if e.verified.as_deref() == Some(v.id().as_str()) => {}
            Some(v) => todo.push((i, *v)),
        }
    }
    if todo.is_empty() {
        return Vec::new();
    }
    let Some(client) = client else {
        return todo
            .iter()
            .map(|(i, _)| {
                let name = new.images[*i].name();
                (
                    name.clone(),
                    format!("{name}: no registry client to verify its signature with"),
                )
            })
            .collect();
    };
    let checks: Vec<(usize, Result<String, String>)> = futures::stream::iter(todo)
        .map(|(i, v)| {
            let e = new.images[i].clone();
            async move {
                let r = match e.source_reference() {
                    Err(err) => Err(format!("{}: {err}", e.name())),
                    Ok(source) => match check(client, v, &source, &e.digest).await {
                        Verdict::Verified(by) => Ok(by),
                        Verdict::Refused(why) => {
                            let shown = source.with_tag(&e.tag);
                            Err(refusal(&shown, &e.digest, &why))
                        }
                    },
                };
                (i, r)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut refusals = Vec::new();
    let mut drop = Vec::new();
    for (i, r) in checks {
        match r {
            Ok(by) => new.images[i].verified = Some(by),
            Err(line) => {
                let e = &new.images[i];
                refusals.push((e.name(), line));
                let want = verifiers.get(e.repository.as_str()).map(|v| v.id());
                let earlier: Option<LockedImage> = old
                    .and_then(|o| o.get(&e.repository, &e.tag))
                    .filter(|o| o.source == e.source && o.verified.is_some() && o.verified == want)
                    .cloned();
                match earlier {
                    Some(o) => new.images[i] = o,
                    None => drop.push(i),
                }
            }
        }
    }
    drop.sort_unstable();
    for i in drop.into_iter().rev() {
        new.images.remove(i);
    }
    refusals.sort();
    refusals
}
