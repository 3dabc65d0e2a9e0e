//! The signature gate with the real binary against `vetted sandbox` and its real registry: the
//! sandbox seeds `signed/` images with real cosign signatures made with keys generated at its start
//! (`GET /_sandbox/signing` gives the public halves), and the tests write the public key or the
//! trusted root into the policy's repository. Covers a key-signed index locked and mirrored, an
//! image signed by another key, a signature over another digest and an unsigned image refused by
//! `lock`, `plan` (a note) and `apply` (nothing copied), keyless signatures against a trusted root,
//! `lock --locked` noticing a changed verifier, and key paths outside the repository refused at
//! validate with file, line and field.
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

const SEED: &str = r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "OWNER"
kind = "password"

[members]
alice = "owner"
"#;

fn start() -> (Sandbox, Value) {
    let sb = Sandbox::start_with_registry(&SEED.replace("OWNER", OWNER_TOKEN), &[]);
    let signing: Value = reqwest::blocking::get(format!("{}/_sandbox/signing", sb.url))
        .unwrap()
        .json()
        .unwrap();
    (sb, signing)
}

/// `sha256:<hex>` of the PEM key's DER (what the lock records after the path).
fn fingerprint(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

/// The digest of `image` on the sandbox registry (skopeo, an independent client), or `None`.
fn skopeo_digest(sb: &Sandbox, image: &str) -> Option<String> {
    let out = Command::new("/usr/bin/skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("alice:{OWNER_TOKEN}"))
        .arg(format!("docker://{}/{image}", sb.registry_host()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| format!("sha256:{}", hex::encode(Sha256::digest(&out.stdout))))
}

fn run(sb: &Sandbox, args: &[&str], policy: &Path) -> std::process::Output {
    sb.vetted()
        .args(args)
        .arg("--policy")
        .arg(policy)
        .output()
        .unwrap()
}

fn locked(dir: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(dir.join("vetted.lock")).unwrap()).unwrap()
}

fn entry<'a>(lock: &'a toml::Value, repository: &str) -> Option<&'a toml::Value> {
    lock["image"]
        .as_array()?
        .iter()
        .find(|i| i["repository"].as_str() == Some(repository))
}

#[test]
fn only_a_digest_signed_by_the_policy_key_is_locked_and_mirrored() {
    let (sb, signing) = start();
    let pem = signing["public_key_pem"].as_str().unwrap();
    std::fs::create_dir_all(sb.path().join("keys")).unwrap();
    std::fs::write(sb.path().join("keys/upstream.pub"), pem).unwrap();
    let gate = r#"verify = { key = "keys/upstream.pub" }"#;
    let policy = sb.write_policy(
        "vetted.toml",
        &format!(
            r#"org = "acme"
[repositories.app]
mirror = {{ from = "signed/app", tags = ["1"], {gate} }}
[repositories.otherkey]
mirror = {{ from = "signed/other-key", tags = ["1"], {gate} }}
[repositories.otherdigest]
mirror = {{ from = "signed/other-digest", tags = ["1"], {gate} }}
[repositories.unsigned]
mirror = {{ from = "signed/unsigned", tags = ["1"], {gate} }}
"#
        ),
    );
    let digest = |name: &str| skopeo_digest(&sb, &format!("signed/{name}:1")).unwrap();
    let short = |d: &str| d[..19].to_string();

    // lock: the signed index is recorded with what verified it; the rest are refused, named.
    let out = run(&sb, &["lock"], &policy);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "refusing docker.io/signed/unsigned:1 {}..: no signature by keys/upstream.pub (found 0 signatures)",
            short(&digest("unsigned"))
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "refusing docker.io/signed/other-key:1 {}..: found 1 signature, none by keys/upstream.pub",
            short(&digest("other-key"))
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "refusing docker.io/signed/other-digest:1 {}..: found 1 signature; the one by keys/upstream.pub signs another digest",
            short(&digest("other-digest"))
        )),
        "{err}"
    );
    let lock = locked(sb.path());
    let app = entry(&lock, "app").unwrap();
    assert_eq!(app["digest"].as_str(), Some(digest("app").as_str()));
    assert_eq!(
        app["media_type"].as_str(),
        Some("application/vnd.oci.image.index.v1+json")
    );
    assert_eq!(
        app["verified"].as_str().unwrap(),
        format!("key keys/upstream.pub {}", fingerprint(pem))
    );
    for refused in ["otherkey", "otherdigest", "unsigned"] {
        assert!(entry(&lock, refused).is_none(), "{refused} was locked");
    }

    // plan: the gate's verdict per image, as notes.
    let out = run(&sb, &["plan"], &policy);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("app:1: signature verified: key keys/upstream.pub sha256:"),
        "{text}"
    );
    assert!(
        text.contains("unsigned:1: apply will refuse it: refusing docker.io/signed/unsigned:1"),
        "{text}"
    );

    // apply: the signed index is copied; nothing of the others is; exit 1 at the end.
    let out = run(&sb, &["apply", "--yes"], &policy);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("image acme/unsigned:1: FAILED: refusing docker.io/signed/unsigned:1"),
        "{err}"
    );
    assert_eq!(skopeo_digest(&sb, "acme/app:1"), Some(digest("app")));
    for refused in ["otherkey", "otherdigest", "unsigned"] {
        assert_eq!(skopeo_digest(&sb, &format!("acme/{refused}:1")), None);
    }

    // A lock edited to record an unsigned digest as verified does not get it past apply.
    let text = std::fs::read_to_string(sb.path().join("vetted.lock")).unwrap();
    let edited = format!(
        "{text}\n[[image]]\nrepository = \"unsigned\"\ntag = \"1\"\nsource = \"docker.io/signed/unsigned\"\ndigest = \"{}\"\nverified = \"{}\"\n",
        digest("unsigned"),
        app["verified"].as_str().unwrap()
    );
    std::fs::write(sb.path().join("vetted.lock"), edited).unwrap();
    let out = run(&sb, &["apply", "--yes"], &policy);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/unsigned:1"), None);
}

#[test]
fn keyless_signatures_are_checked_offline_against_the_trusted_root() {
    let (sb, signing) = start();
    std::fs::write(
        sb.path().join("trusted_root.json"),
        signing["trusted_root"].to_string(),
    )
    .unwrap();
    let identity = signing["identity"].as_str().unwrap();
    let issuer = signing["issuer"].as_str().unwrap();
    let keyless = |identity: &str, issuer: &str| {
        format!(
            r#"verify = {{ identity = "{identity}", issuer = "{issuer}", trusted_root = "trusted_root.json" }}"#
        )
    };
    let policy = sb.write_policy(
        "vetted.toml",
        &format!(
            r#"org = "acme"
[repositories.keyless]
mirror = {{ from = "signed/keyless", tags = ["1"], {} }}
[repositories.someoneelse]
mirror = {{ from = "signed/keyless", tags = ["1"], {} }}
[repositories.otherissuer]
mirror = {{ from = "signed/keyless", tags = ["1"], {} }}
[repositories.keyed]
mirror = {{ from = "signed/app", tags = ["1"], {} }}
"#,
            keyless(identity, issuer),
            keyless("mallory@example.invalid", issuer),
            keyless(identity, "https://other-issuer.example.invalid"),
            keyless(identity, issuer),
        ),
    );
    let out = run(&sb, &["lock"], &policy);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("none by mallory@example.invalid"), "{err}");
    assert!(
        err.contains(&format!("its certificate is for {identity}")),
        "{err}"
    );
    assert!(
        err.contains("its certificate is from issuer https://issuer.example.invalid"),
        "{err}"
    );
    // signed/app is signed with a key, not a certificate.
    assert!(err.contains("refusing docker.io/signed/app:1"), "{err}");
    assert!(err.contains("it has no certificate"), "{err}");
    let lock = locked(sb.path());
    assert_eq!(
        entry(&lock, "keyless").unwrap()["verified"]
            .as_str()
            .unwrap(),
        format!("identity {identity} issuer {issuer}")
    );

    let out = run(&sb, &["apply", "--yes"], &policy);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let upstream = skopeo_digest(&sb, "signed/keyless:1");
    assert!(upstream.is_some());
    assert_eq!(skopeo_digest(&sb, "acme/keyless:1"), upstream);
    for refused in ["someoneelse", "otherissuer", "keyed"] {
        assert_eq!(skopeo_digest(&sb, &format!("acme/{refused}:1")), None);
    }

    // A trusted root of another CA and log: nothing verifies.
    let other_root = {
        let mut root = signing["trusted_root"].clone();
        let cert = root["certificateAuthorities"][0]["certChain"]["certificates"][1].clone();
        // Only the root certificate left: the leaf's issuer (the intermediate) is missing.
        root["certificateAuthorities"][0]["certChain"]["certificates"] = Value::Array(vec![cert]);
        root
    };
    std::fs::write(sb.path().join("trusted_root.json"), other_root.to_string()).unwrap();
    let policy = sb.write_policy(
        "vetted.toml",
        &format!(
            "org = \"acme\"\n[repositories.keyless]\nmirror = {{ from = \"signed/keyless\", tags = [\"1\"], {} }}\n",
            keyless(identity, issuer)
        ),
    );
    let out = run(&sb, &["lock", "--upgrade"], &policy);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("does not chain to a certificate authority of the trusted root"),
        "{err}"
    );
}

#[test]
fn lock_locked_notices_a_verifier_the_lock_did_not_record() {
    let (sb, signing) = start();
    std::fs::create_dir_all(sb.path().join("keys")).unwrap();
    std::fs::write(
        sb.path().join("keys/upstream.pub"),
        signing["public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(
        sb.path().join("keys/other.pub"),
        signing["other_public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    let with = |gate: &str| {
        sb.write_policy(
            "vetted.toml",
            &format!(
                "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"signed/app\", tags = [\"1\"]{gate} }}\n"
            ),
        )
    };
    let policy = with("");
    let out = run(&sb, &["lock"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    let policy = with(r#", verify = { key = "keys/upstream.pub" }"#);
    let out = run(&sb, &["lock", "--locked"], &policy);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("app:1: the policy wants verified by key keys/upstream.pub sha256:"),
        "{err}"
    );
    assert!(
        err.contains("but the lock records no signature check"),
        "{err}"
    );
    // `vetted lock` verifies the kept digest without re-resolving it, then --locked passes.
    let out = run(&sb, &["lock"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&sb, &["lock", "--locked"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    // Another key: --locked notices; `lock` refuses (app is not signed by it) and keeps nothing.
    let policy = with(r#", verify = { key = "keys/other.pub" }"#);
    let out = run(&sb, &["lock", "--locked"], &policy);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("verified by key keys/other.pub"));
    let out = run(&sb, &["lock"], &policy);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("found 1 signature, none by keys/other.pub"),
        "{err}"
    );
}

#[test]
fn key_paths_outside_the_repository_are_refused_at_validate() {
    let outer = tempfile::tempdir().unwrap();
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(repo.join("keys")).unwrap();
    // A real public key outside the repository (test data: its private half was never kept).
    let pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdyXi5jtmPD3OIMOgeeNy6sqbNBzx\nF9y51RzxLw2oqczcp8hgiTA7ePU4DEU7SJjjVvY0G18gkM29eL6rUk11Rw==\n-----END PUBLIC KEY-----\n";
    std::fs::write(outer.path().join("x.pub"), pem).unwrap();
    std::fs::write(repo.join("keys/good.pub"), pem).unwrap();
    std::fs::write(repo.join("keys/notakey.pub"), "hello\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outer.path().join("x.pub"), repo.join("keys/link.pub")).unwrap();
    let absolute = outer.path().join("x.pub").display().to_string();
    let validate = |key: &str| {
        std::fs::write(
            repo.join("vetted.toml"),
            format!(
                "org = \"acme\"\n[repositories.redis]\nmirror = {{ from = \"bitnami/redis\", tags = [\"7.2\"], verify = {{ key = {key:?} }} }}\n"
            ),
        )
        .unwrap();
        let out = vetted()
            .env("VETTED_HUB_URL", "http://127.0.0.1:9")
            .current_dir(&repo)
            .args(["validate", "--policy", "vetted.toml"])
            .output()
            .unwrap();
        (out.status.code(), stderr(&out))
    };
    let (code, err) = validate("keys/good.pub");
    assert_eq!(code, Some(0), "{err}");
    for (key, why) in [
        ("../x.pub", "outside the policy's directory"),
        (absolute.as_str(), "is an absolute path"),
        #[cfg(unix)]
        ("keys/link.pub", "outside the policy's directory"),
        ("keys/notakey.pub", "is not a usable cosign public key"),
        ("keys/missing.pub", "cannot read"),
    ] {
        let (code, err) = validate(key);
        assert_eq!(code, Some(1), "{key}: {err}");
        assert!(err.contains(why), "{key}: {err}");
        // The file, line and column, and the field.
        assert!(err.contains("--> vetted.toml:3:"), "{key}: {err}");
        assert!(
            err.contains("repositories.redis.mirror.verify"),
            "{key}: {err}"
        );
    }
}

/// The pulls `plan` says an apply spends on docker.io ("... and N Docker Hub pulls (...)"):
/// from the `Estimate:` line on stderr.
fn estimated_pulls(err: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.starts_with("Estimate: "))
        .unwrap_or_else(|| panic!("no estimate line in {err}"));
    let before = line.split(" Docker Hub pulls").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

fn pulls_spent(sb: &Sandbox) -> u64 {
    sb.registry_counters()["pulls"]["spent"].as_u64().unwrap()
}

/// The plan's pull estimate is what the apply after it spends, the gate's signature reads
/// included: apply reads each signature once (while it makes the plan again, not a second time
/// before the copy), and, applying a saved plan, does not read the source manifests again for
/// their estimates.
#[test]
fn the_pull_estimate_counts_the_signature_reads_and_apply_reads_each_once() {
    for saved in [false, true] {
        let sb = Sandbox::start_with_registry(
            &format!(
                "{}[registry]\npull_limit = 1000\n",
                SEED.replace("OWNER", OWNER_TOKEN)
            ),
            &[],
        );
        let signing: Value = reqwest::blocking::get(format!("{}/_sandbox/signing", sb.url))
            .unwrap()
            .json()
            .unwrap();
        std::fs::create_dir_all(sb.path().join("keys")).unwrap();
        std::fs::write(
            sb.path().join("keys/upstream.pub"),
            signing["public_key_pem"].as_str().unwrap(),
        )
        .unwrap();
        let policy = sb.write_policy(
            "vetted.toml",
            "org = \"acme\"\n[repositories.app]\nmirror = { from = \"signed/app\", tags = [\"1\"], verify = { key = \"keys/upstream.pub\" } }\n",
        );
        let plan_args: &[&str] = if saved {
            &["plan", "--out", "plan.json"]
        } else {
            &["plan"]
        };
        let out = run(&sb, plan_args, &policy);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        let estimate = estimated_pulls(&err);
        assert!(estimate > 0, "{err}");
        let before = pulls_spent(&sb);
        let apply_args: &[&str] = if saved {
            &["apply", "--yes", "plan.json"]
        } else {
            &["apply", "--yes"]
        };
        let out = run(&sb, apply_args, &policy);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(skopeo_digest(&sb, "acme/app:1").is_some());
        assert_eq!(
            pulls_spent(&sb) - before,
            estimate,
            "saved: {saved}; plan said: {err}"
        );
    }
}

/// A signed upstream update goes through end to end with the real binary: the lock moves
/// (`signed/app:0` locked as `:1` stands in for the release before), `lock --upgrade --report`
/// writes the update pull request's body with the image facts and the signature verdict, the plan
/// comment lists the moved tag under "Needs attention" and shows the same facts, and apply mirrors
/// the new digest (checked with skopeo).
#[test]
fn a_signed_upstream_update_reaches_the_report_the_plan_comment_and_apply() {
    let (sb, signing) = start();
    std::fs::create_dir_all(sb.path().join("keys")).unwrap();
    std::fs::write(
        sb.path().join("keys/upstream.pub"),
        signing["public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    let gated = |tag: &str| {
        format!(
            "org = \"acme\"\n[repositories.app]\nmirror = {{ from = \"signed/app\", tags = [\"{tag}\"], verify = {{ key = \"keys/upstream.pub\" }} }}\n"
        )
    };
    // The previous release, locked and mirrored as `app:1`.
    let policy = sb.write_policy("vetted.toml", &gated("0"));
    let out = run(&sb, &["lock"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock_path = sb.path().join("vetted.lock");
    let text = std::fs::read_to_string(&lock_path).unwrap();
    std::fs::write(&lock_path, text.replace("tag = \"0\"", "tag = \"1\"")).unwrap();
    let policy = sb.write_policy("vetted.toml", &gated("1"));
    let out = run(&sb, &["apply", "--yes", "--locked"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    let old = skopeo_digest(&sb, "signed/app:0").unwrap();
    let new = skopeo_digest(&sb, "signed/app:1").unwrap();
    assert_eq!(skopeo_digest(&sb, "acme/app:1"), Some(old.clone()));

    // The weekly update: the lock moves, and the report is the pull request's body.
    let out = run(
        &sb,
        &["lock", "--upgrade", "--report", "update.md"],
        &policy,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = std::fs::read_to_string(sb.path().join("update.md")).unwrap();
    let verified = format!(
        "verified by key keys/upstream.pub {}",
        fingerprint(signing["public_key_pem"].as_str().unwrap())
    );
    for want in [
        "### What changed upstream (1 tag(s))",
        "#### `app:1` from `docker.io/signed/app`",
        &format!("| digest | `{}` | `{}` |", &old[..19], &new[..19]),
        "- platforms: added `linux/arm64/v8`",
        &verified,
    ] {
        assert!(report.contains(want), "{want:?} not in\n{report}");
    }
    let locked_now = locked(sb.path());
    assert_eq!(
        entry(&locked_now, "app").unwrap()["digest"].as_str(),
        Some(new.as_str())
    );

    // The pull request's plan comment: the moved tag needs attention, with the same facts.
    let out = run(&sb, &["plan", "--locked", "--format", "markdown"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    let comment = stdout(&out);
    let attention = comment
        .split_once("Needs attention")
        .map(|(_, rest)| rest.split("<details>").next().unwrap_or(rest).to_string())
        .unwrap_or_else(|| panic!("no Needs attention in {comment}"));
    assert!(attention.contains("acme/app:1"), "{attention}");
    for want in [
        "What changed upstream (1 tag(s))",
        "#### `app:1` from `docker.io/signed/app`",
        &verified,
    ] {
        assert!(comment.contains(want), "{want:?} not in\n{comment}");
    }

    // Merged: apply mirrors the new, signed digest.
    let out = run(&sb, &["apply", "--yes", "--locked"], &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/app:1"), Some(new));
}
