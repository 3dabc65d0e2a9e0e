//! `vetted export`: read the whole live organization (every section, every repository's grants and
//! tags) and write a policy that plans no changes (rendered by [`crate::policy::export`]). Read-only
//! against Docker Hub; never overwrites a file without `--force`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use futures::{StreamExt, TryStreamExt, stream};

use crate::cli::ExportArgs;
use crate::error::{Error, Outcome};
use crate::model::Scope;
use crate::settings::Settings;

pub async fn run(args: &ExportArgs, settings: &Settings) -> Result<Outcome, Error> {
    let org = args.org.trim();
    crate::policy::export::check_org(org).map_err(Error::Usage)?;
    if let Some(out) = &args.out {
        if !args.force && out.exists() {
            return Err(Error::Usage(format!(
                "{} already exists; choose another --out or add --force to overwrite it",
                out.display()
            )));
        }
    }
    let config = settings.hub()?.clone();
    let concurrency = config.concurrency.max(1);
    super::status(&format!("Reading organization {org} ..."));
    let client = crate::hub::HubClient::login(config).await?;
    let hub = client.hub_origin();
    let live = client
        .read_state(org, &Scope::everything())
        .await
        .map_err(|e| {
            e.explain(&crate::hub::Explain {
                org,
                hub: &hub,
                identity: client.identity(),
                org_source: "--org",
            })
        })?;
    let client = &client;
    let tags: BTreeMap<String, BTreeMap<String, String>> =
        stream::iter(live.repositories.keys().cloned())
            .map(|repo| async move {
                let tags = client.read_tags(org, &repo).await?;
                Ok::<_, Error>((repo, tags))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
    let text = crate::policy::export::render(&live, &tags);
    // The exported policy must load; anything else is a bug in the renderer, reported as such.
    let name = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("vetted.toml").to_path_buf());
    if let Err(e) = crate::policy::parse(&name, &text) {
        return Err(Error::Usage(format!(
            "the exported policy does not validate (a bug in vetted export; nothing was written):\n{e}"
        )));
    }
    match &args.out {
        None => {
            super::print_out(&text)?;
        }
        Some(out) => {
            write_file(out, &text, args.force)?;
            super::status(&format!(
                "Wrote {} ({} repositor{}); check it with `vetted plan --policy {}`",
                out.display(),
                live.repositories.len(),
                if live.repositories.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                out.display()
            ));
        }
    }
    Ok(Outcome::Ok)
}

/// Writes `text` to `path`: with `force` through a temporary file renamed over it (never a
/// half-written policy), otherwise only if the file does not exist yet.
fn write_file(path: &Path, text: &str, force: bool) -> Result<(), Error> {
    let io = |source| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    if force {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    } else {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::Usage(format!(
                        "{} already exists; choose another --out or add --force to overwrite it",
                        path.display()
                    ))
                } else {
                    io(e)
                }
            })?;
        f.write_all(text.as_bytes()).map_err(io)
    }
}
