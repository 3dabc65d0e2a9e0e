//! `vetted lock`: resolve every mirrored tag of the policy to its upstream digest (HEAD requests
//! only: they do not count against Docker Hub pull limits) and write `vetted.lock` beside the
//! policy. Entries still matching the policy are kept without a request unless `--upgrade` names
//! them; `--locked` only checks, offline, that the lock is complete and current (for CI).
//! `--report FILE` also writes what changed upstream for every tag that moved (the facts of
//! `crate::mirror::facts`, rendered by `crate::render::facts`), within the facts' pull limits.

use futures::StreamExt;

use crate::cli::LockArgs;
use crate::error::{Error, Outcome};
use crate::policy::lock::{self, Lockfile, ResolvedTag, Upgrade};
use crate::registry::client::RegistryClient;
use crate::settings::Settings;

/// Tags resolved at once.
const RESOLVE_CONCURRENCY: usize = 8;

pub async fn run(args: &LockArgs, settings: &Settings) -> Result<Outcome, Error> {
    let policy = crate::policy::load(&args.policy.policy)?;
    let path = lock::path_for(&policy.path);
    let old = Lockfile::read(&path).map_err(|e| Error::Lock(e.to_string()))?;
    let shown = path.display();

    if args.locked {
        let Some(old) = old else {
            return Err(Error::Lock(format!(
                "{shown} does not exist and --locked forbids creating it; run `vetted lock` and commit {shown}"
            )));
        };
        return match lock::check_locked(&policy, &old) {
            Ok(()) => {
                super::status(&format!(
                    "{shown} is up to date with {}",
                    policy.path.display()
                ));
                Ok(Outcome::Ok)
            }
            Err(problems) => Err(Error::Lock(format!(
                "{shown} is out of date with {} and --locked forbids updating it:\n{}\nrun `vetted lock` and commit {shown}",
                policy.path.display(),
                problems
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))),
        };
    }

    let upgrade = upgrade_of(&policy, args.upgrade.as_deref())?;
    let update = lock::begin_update(&policy, old.as_ref(), &upgrade).map_err(Error::Lock)?;
    // Every registry the policy mirrors from: resolving reads some, the signature gate others.
    let registries = lock::wanted(&policy)
        .map_err(Error::Lock)?
        .iter()
        .filter_map(|w| w.source_reference().ok().map(|r| r.registry))
        .collect();
    let client = || -> Result<RegistryClient, Error> {
        let (config, _) = settings.registry()?.client_config(&registries);
        RegistryClient::new(config).map_err(|e| Error::Usage(e.to_string()))
    };
    let mut reader = None;
    let resolved = if update.to_resolve.is_empty() {
        Vec::new()
    } else {
        super::status(&format!(
            "Resolving {} tag(s) upstream ...",
            update.to_resolve.len()
        ));
        let c = reader.insert(client()?);
        resolve_all(c, &update.to_resolve).await?
    };
    let (mut new, changes) = update.finish(resolved);
    if reader.is_none() && crate::policy::lock::verify::needs_reads(&policy, &new) {
        reader = Some(client()?);
    }
    if reader.is_some() && crate::policy::lock::verify::needs_reads(&policy, &new) {
        super::status("Verifying signatures ...");
    }
    let refused =
        crate::policy::lock::verify::verify_lock(reader.as_ref(), &policy, &mut new, old.as_ref())
            .await;
    let changes: Vec<_> = changes
        .into_iter()
        .filter(|c| !refused.iter().any(|(name, _)| name == c.name()))
        .collect();
    if let Some(report) = &args.report {
        let moved = old
            .as_ref()
            .map(|old| crate::mirror::facts::moved_in_lock(old, &new, &policy))
            .unwrap_or_default();
        if reader.is_none() && !moved.is_empty() {
            reader = Some(client()?);
        }
        let facts = match (&reader, moved.is_empty()) {
            (Some(client), false) => {
                super::status(&format!(
                    "Reading what changed upstream for {} moved tag(s) ...",
                    moved.len()
                ));
                crate::mirror::facts::read(client, &moved, &args.facts.limits()).await
            }
            _ => Vec::new(),
        };
        std::fs::write(report, crate::render::facts::report_markdown(&facts)).map_err(
            |source| Error::Io {
                context: format!("writing {}", report.display()),
                source,
            },
        )?;
    }
    let unchanged = std::fs::read_to_string(&path).is_ok_and(|t| t == new.render());
    if unchanged {
        super::status(&format!("{shown} is up to date"));
    } else {
        new.write(&path).map_err(|e| Error::Lock(e.to_string()))?;
        for change in &changes {
            super::status(&format!("  {change}"));
        }
        super::status(&format!(
            "Wrote {shown}: {} image(s), {} change(s)",
            new.images.len(),
            changes.len()
        ));
    }
    if refused.is_empty() {
        return Ok(Outcome::Ok);
    }
    Err(Error::Lock(format!(
        "{}
{} image(s) refused by the signature gate; {shown} does not record their new digests",
        refused
            .iter()
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        refused.len()
    )))
}

/// `--upgrade` without names upgrades everything; names must be mirrored repositories of the
/// policy.
fn upgrade_of(policy: &crate::policy::Policy, names: Option<&[String]>) -> Result<Upgrade, Error> {
    let Some(names) = names else {
        return Ok(Upgrade::None);
    };
    if names.is_empty() {
        return Ok(Upgrade::All);
    }
    let mirrored: Vec<&String> = policy
        .desired
        .repositories
        .iter()
        .filter(|(_, r)| r.mirror.is_some())
        .map(|(n, _)| n)
        .collect();
    let mut set = std::collections::BTreeSet::new();
    for name in names {
        if !mirrored.contains(&name) {
            let hint = mirrored
                .iter()
                .map(|m| (strsim::jaro_winkler(m, name), *m))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, m)| format!("; did you mean `{m}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "; mirrored repositories: {}",
                        mirrored
                            .iter()
                            .map(|m| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            return Err(Error::Usage(format!(
                "--upgrade {name}: `{name}` is not a mirrored repository of {}{hint}",
                policy.path.display()
            )));
        }
        set.insert(name.clone());
    }
    Ok(Upgrade::Repositories(set))
}

/// HEADs every tag (bounded concurrency). All failures are reported together; nothing is written
/// when any tag failed.
async fn resolve_all(
    client: &RegistryClient,
    wanted: &[lock::Wanted],
) -> Result<Vec<ResolvedTag>, Error> {
    let results: Vec<(usize, Result<ResolvedTag, String>)> =
        futures::stream::iter(wanted.iter().enumerate())
            .map(|(i, w)| async move {
                let result = match w.source_reference() {
                    Err(e) => Err(e),
                    Ok(reference) => client
                        .resolve(&reference)
                        .await
                        .map(|r| ResolvedTag {
                            digest: r.digest,
                            media_type: Some(r.media_type).filter(|m| !m.is_empty()),
                        })
                        .map_err(|e| format!("{reference}: {e}")),
                };
                (i, result)
            })
            .buffer_unordered(RESOLVE_CONCURRENCY)
            .collect()
            .await;
    let mut ordered: Vec<Option<ResolvedTag>> = vec![None; wanted.len()];
    let mut failures = Vec::new();
    for (i, r) in results {
        match r {
            Ok(t) => ordered[i] = Some(t),
            Err(e) => failures.push(format!("  - {}: {e}", wanted[i].name())),
        }
    }
    if !failures.is_empty() {
        failures.sort();
        return Err(Error::Lock(format!(
            "could not resolve {} tag(s); vetted.lock was not changed:\n{}",
            failures.len(),
            failures.join("\n")
        )));
    }
    Ok(ordered.into_iter().flatten().collect())
}
