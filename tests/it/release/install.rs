//! The action's installer (`.github/actions/vetted/install.sh`) against the fake GitHub: the
//! released binary installed after its SHA256 is checked, and cached; an action pinned by commit or
//! major tag installing its checkout's version; wrong checksums, missing assets or checksums,
//! non-https or oversized downloads and bad inputs refused; `install: source` and `false` using the
//! vetted on PATH.

use super::*;

#[test]
fn the_action_installs_the_released_binary_after_checking_its_sha256_and_caches_it() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[
            ("SHA256SUMS", sums),
            (&name, bytes.clone()),
            (
                "vetted-0.0.1-aarch64-apple-darwin.tar.gz",
                b"other".to_vec(),
            ),
        ],
    );

    // The version defaults to the action's ref (a version tag).
    let first = r.install(&[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(r.installed_version(&first), format!("vetted {VERSION}"));
    assert!(
        first
            .output
            .contains(&format!("vetted-version={VERSION}\n")),
        "{}",
        first.output
    );
    assert!(
        first.stderr.contains(&format!(
            "downloaded {name} from release v{VERSION} of {REPO}"
        )),
        "{}",
        first.stderr
    );
    assert_eq!(r.asset_downloads(&name), 1);
    let cached = r
        .cache()
        .join(format!("vetted/{VERSION}/{LINUX_X64}/{name}"));
    assert_eq!(fs::read(&cached).unwrap(), bytes);

    // Again: the cached archive is checked against the release's SHA256SUMS, not downloaded.
    let again = r.install(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains(&format!("using the cached {name}")),
        "{}",
        again.stderr
    );
    assert_eq!(r.installed_version(&again), format!("vetted {VERSION}"));
    assert_eq!(r.asset_downloads(&name), 1, "served from the cache");

    // A cached archive that no longer matches is never used: downloaded again.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    fs::write(&cached, &tampered).unwrap();
    let repaired = r.install(&[]);
    assert_eq!(repaired.code, 0, "{}", repaired.stderr);
    assert!(
        repaired.stderr.contains("does not match SHA256SUMS"),
        "{}",
        repaired.stderr
    );
    assert_eq!(r.asset_downloads(&name), 2);
    assert_eq!(fs::read(&cached).unwrap(), bytes);

    // An explicit version, and `latest`, resolve to the same release.
    for version in [format!("v{VERSION}"), VERSION.to_string(), "latest".into()] {
        let x = r.install(&[("VERSION", version.as_str()), ("ACTION_REF", "main")]);
        assert_eq!(x.code, 0, "{version}: {}", x.stderr);
        assert_eq!(r.installed_version(&x), format!("vetted {VERSION}"));
    }
}

#[test]
fn an_action_pinned_by_commit_or_major_tag_installs_the_version_of_its_checkout() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", sums), (&name, bytes)],
    );
    for action_ref in ["v1", "0123456789abcdef0123456789abcdef01234567", ""] {
        let x = r.install(&[("ACTION_REF", action_ref)]);
        assert_eq!(x.code, 0, "{action_ref}: {}", x.stderr);
        assert!(
            x.stderr.contains(&format!(
                "the action's ref '{action_ref}' is not a version tag: installing v{VERSION}, the version of the action's checkout"
            )),
            "{}",
            x.stderr
        );
        assert_eq!(r.installed_version(&x), format!("vetted {VERSION}"));
    }
}

#[test]
fn a_wrong_checksum_is_refused_and_installs_nothing() {
    let r = Runner::new();
    let (name, bytes, _) = release_assets(r.dir.path());
    let wrong = format!("{}  {name}\n", sha256_hex(b"something else"));
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", wrong.into_bytes()), (&name, bytes)],
    );
    let x = r.install(&[]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "::error::checksum mismatch for {name} of release v{VERSION}: SHA256SUMS says SHA-256 {}",
        sha256_hex(b"something else"))) && x.stderr.contains("refused, nothing installed"),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);
    // No temporary download is left in the cache either.
    let dir = r.cache().join(format!("vetted/{VERSION}/{LINUX_X64}"));
    let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_release_without_the_runners_asset_or_checksums_says_what_to_do() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    // The release has macOS only.
    let mac = format!("vetted-{VERSION}-aarch64-apple-darwin.tar.gz");
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", sums.clone()), (&mac, bytes.clone())],
    );
    let x = r.install(&[]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "::error::release v{VERSION} of {REPO} has no {name} (vetted {VERSION} for {LINUX_X64}; its assets: SHA256SUMS, {mac}): set the action's input install: source to build vetted from source"
        )),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);

    // No such release.
    let x = r.install(&[("VERSION", "v9.8.7")]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "::error::{REPO} has no release v9.8.7 (for {LINUX_X64}): set the action's input version: to a released version, or install: source"
        )),
        "{}",
        x.stderr
    );

    // A release without SHA256SUMS: nothing is installed unverified.
    let r = Runner::new();
    r.github
        .add_release(&format!("v{VERSION}"), false, &[(&name, bytes)]);
    let x = r.install(&[]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(
            "has no SHA256SUMS: refusing to install a binary whose checksum cannot be checked"
        ),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);
    assert_eq!(r.asset_downloads(&name), 0);

    // A runner no release has a binary for.
    let x = r.install(&[("RUNNER_OS", "Windows")]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(
            "vetted releases have no binary for Windows X64: set the action's input install: source"
        ),
        "{}",
        x.stderr
    );
}

#[test]
fn downloads_are_https_only_bounded_in_size_and_the_inputs_are_checked() {
    let r = Runner::new();
    let (name, bytes, sums) = release_assets(r.dir.path());
    r.github.add_release(
        &format!("v{VERSION}"),
        false,
        &[("SHA256SUMS", sums), (&name, bytes.clone())],
    );
    // Larger than the bound: refused while downloading.
    let limit = (bytes.len() / 2).to_string();
    let x = r.install(&[("VETTED_MAX_DOWNLOAD_BYTES", limit.as_str())]);
    assert_eq!(x.code, 1, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!(
            "{name} of release v{VERSION} is larger than {limit} bytes (VETTED_MAX_DOWNLOAD_BYTES): refused, nothing installed"
        )),
        "{}",
        x.stderr
    );
    r.assert_nothing_installed(&x);

    // Plain http anywhere but loopback is refused before any request.
    let before = r.github.requests().len();
    for url in ["http://api.github.example", "ftp://127.0.0.1/"] {
        let x = r.install(&[("GITHUB_API_URL", url)]);
        assert_eq!(x.code, 1, "{}", x.stderr);
        assert!(
            x.stderr.contains(&format!(
                "refusing to download vetted from '{url}': only https is used"
            )),
            "{}",
            x.stderr
        );
    }
    assert_eq!(r.github.requests().len(), before);

    for (env, expected) in [
        (
            ("VERSION", "v1.2"),
            "version 'v1.2' is not a release tag like v1.2.3 (or latest)",
        ),
        (("VERSION", "../../x"), "is not a release tag"),
        (
            ("INSTALL", "binary"),
            "install 'binary' is not one of release, source or false",
        ),
        (
            ("ACTION_REPOSITORY", "a/b/c"),
            "release-repository 'a/b/c' is not owner/name",
        ),
        (
            ("ACTION_REPOSITORY", ""),
            "set the action's input release-repository:",
        ),
    ] {
        let x = r.install(&[env]);
        assert_eq!(x.code, 1, "{env:?}: {}", x.stderr);
        assert!(x.stderr.contains(expected), "{env:?}: {}", x.stderr);
        assert_eq!(x.path_file, "");
    }
    assert_eq!(
        r.github.requests().len(),
        before,
        "nothing was asked of GitHub"
    );
}

#[test]
fn install_source_and_false_use_the_vetted_on_path() {
    let r = Runner::new();
    let fake = r.dir.path().join("fakebin");
    fs::create_dir_all(&fake).unwrap();
    let vetted = fake.join("vetted");
    fs::write(&vetted, "#!/bin/sh\necho vetted 0.0.0-local\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&vetted, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let x = r.install(&[("INSTALL", "source"), ("PATH", path.as_str())]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert!(
        x.stderr.contains(&format!("using {}", vetted.display())),
        "{}",
        x.stderr
    );
    let x = r.install(&[("INSTALL", "false"), ("PATH", path.as_str())]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert!(r.github.requests().is_empty());
}
