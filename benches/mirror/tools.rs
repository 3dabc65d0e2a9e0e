//! The two tools compared, as users run them: `vetted apply` / `vetted plan` of a written policy
//! and `skopeo copy --all` per image, and skopeo's independent check of what was mirrored.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};
use vetted_sandbox::kit::images as generate;

use crate::images::{Image, TAG};
use crate::services::{OWNER, OWNER_SECRET};

pub(crate) const VETTED: &str = env!("CARGO_BIN_EXE_vetted");

/// `vetted apply --yes` of a policy mirroring `sources` (repository name -> source reference).
pub(crate) fn vetted_apply(
    work: &Path,
    hub: &str,
    docker_io: &str,
    sources: &[(String, String)],
) -> Result<Command> {
    let path = write_policy(work, sources, &[TAG.to_string()])?;
    Ok(vetted_command(
        work,
        hub,
        docker_io,
        &["apply", "--yes"],
        &path,
    ))
}

/// Writes `work/vetted.toml`: `sources` (repository name -> source reference), each mirroring
/// `tags`.
pub(crate) fn write_policy(
    work: &Path,
    sources: &[(String, String)],
    tags: &[String],
) -> Result<PathBuf> {
    let mut policy = String::from("org = \"acme\"\n");
    let tags = tags
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    for (repo, from) in sources {
        policy.push_str(&format!(
            "\n[repositories.{repo}]\nmirror = {{ from = \"{from}\", tags = [{tags}] }}\n"
        ));
    }
    let path = work.join("vetted.toml");
    std::fs::write(&path, policy)?;
    Ok(path)
}

/// `vetted <args> --policy <policy>` as the owner, against the sandbox at `hub` with
/// `docker_io` as docker.io.
pub(crate) fn vetted_command(
    work: &Path,
    hub: &str,
    docker_io: &str,
    args: &[&str],
    policy: &Path,
) -> Command {
    let mut cmd = vetted_as_owner(work, hub, docker_io, args);
    cmd.arg("--policy").arg(policy);
    cmd
}

/// `vetted <args>` as the owner, against the sandbox at `hub` with `docker_io` as docker.io.
pub(crate) fn vetted_as_owner(work: &Path, hub: &str, docker_io: &str, args: &[&str]) -> Command {
    let docker_config = work.join("docker-config");
    let _ = std::fs::create_dir_all(&docker_config);
    let mut cmd = Command::new(VETTED);
    cmd.args(["--color", "never"])
        .args(args)
        .env("VETTED_HUB_URL", hub)
        .env("VETTED_DOCKER_IO_REGISTRY", docker_io)
        .env("DOCKERHUB_USERNAME", OWNER)
        .env("DOCKERHUB_TOKEN", OWNER_SECRET)
        .env("DOCKER_CONFIG", &docker_config)
        .env_remove("VETTED_REGISTRY_USERNAME")
        .env_remove("VETTED_REGISTRY_PASSWORD");
    cmd
}

/// `skopeo copy --all` of one image, as users run it.
pub(crate) fn skopeo_copy(home: &Path, src: &str, dest: &str, src_creds: bool) -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.env("HOME", home).args([
        "copy",
        "--all",
        // The generated layers are random bytes, not gzip: without this skopeo compresses them
        // (changing every digest), which it never does to real (already gzip) images.
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ]);
    if src_creds {
        cmd.args(["--src-creds", &format!("{OWNER}:{OWNER_SECRET}")]);
    } else {
        cmd.arg("--src-no-creds");
    }
    cmd.args(["--dest-creds", &format!("{OWNER}:{OWNER_SECRET}")])
        .arg(format!("docker://{src}"))
        .arg(format!("docker://{dest}"));
    cmd
}

/// skopeo's view of a manifest digest (the independent check of what vetted mirrored).
fn skopeo_digest(image: &str) -> Result<String> {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &format!("{OWNER}:{OWNER_SECRET}"),
        ])
        .arg(format!("docker://{image}"))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!(
            "skopeo inspect {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(generate::digest_of(&out.stdout))
}

pub(crate) fn check_mirrored(registry_host: &str, images: &[Image], prefix: &str) -> Result<()> {
    for image in images {
        let got = skopeo_digest(&format!(
            "{registry_host}/acme/{prefix}{}:{TAG}",
            image.name
        ))?;
        if got != image.top.digest {
            bail!(
                "acme/{prefix}{} has {got}, not the source's {}",
                image.name,
                image.top.digest
            );
        }
    }
    Ok(())
}
