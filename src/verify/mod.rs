//! The signature gate before mirroring: an upstream digest whose mirror has `verify` in the policy
//! is recorded by `vetted lock` and copied by `vetted apply` only when it carries a valid cosign
//! signature by that verifier, a cosign public key ([`key`]) or a keyless Fulcio identity checked
//! offline against a Sigstore trusted root ([`keyless`]). [`check`] reads the signatures
//! ([`cosign`]) and gives the [`Verdict`]; `plan` shows it as a note per image and apply's gate consults the same
//! verdicts ([`check_plan`], [`Verdicts::gate`]).
//!
//! A signature counts only when its simple-signing payload names the very digest being mirrored
//! (for an index, the index digest; with `platforms`, still the upstream index digest): a valid
//! signature over another digest is refused.
//!
//! Why not the `sigstore` crate: its cosign verification reads registries through its own
//! oci-client and reqwest stack and, for keyless, fetches the trusted root through TUF online; the
//! gate reads through vetted's registry client (its credentials, bounds, retries and loopback
//! rules) and verifies offline against the root shipped in the policy's repository. The crypto is
//! aws-lc-rs (already rustls' provider) and x509-parser, both well kept.

pub mod cosign;
pub mod key;
pub mod keyless;

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{OrgState, Verify, short_digest};
use crate::plan::{Change, Note, ResourceKind};
use crate::registry::client::RegistryClient;
use crate::registry::reference::Reference;
use crate::untrusted::untrusted;

/// What the gate says of one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A valid signature by the verifier over this digest; the verifier's [`Verify::id`].
    Verified(String),
    /// Why not, in one phrase (`no signature by keys/upstream.pub (found 0 signatures)`).
    Refused(String),
}

/// "1 signature", "2 signatures".
fn signatures(n: usize) -> String {
    if n == 1 {
        "1 signature".into()
    } else {
        format!("{n} signatures")
    }
}

/// The refusal line: `refusing docker.io/bitnami/redis:7.2 sha256:ab12cd34ef56..: <reason>`.
pub fn refusal(source: &Reference, digest: &str, reason: &str) -> String {
    let shown = Reference {
        digest: None,
        ..source.clone()
    };
    format!("refusing {shown} {}..: {reason}", short_digest(digest))
}

/// Checks that `digest` in `source`'s repository carries a valid signature by `verify`.
pub async fn check(
    client: &RegistryClient,
    verify: &Verify,
    source: &Reference,
    digest: &str,
) -> Verdict {
    let (found, total) = match cosign::read(client, source, digest).await {
        Ok(r) => r,
        Err(e) => {
            return Verdict::Refused(format!("could not read its signatures: {}", untrusted(&e)));
        }
    };
    judge(verify, &found, total, digest)
}

/// The verdict on the signatures read (`total`: signature layers in all, of which `found` are the
/// first [`cosign::MAX_SIGNATURES`]).
pub fn judge(verify: &Verify, found: &[cosign::Signature], total: usize, digest: &str) -> Verdict {
    let signer = untrusted(&verify.signer()).into_owned();
    if found.is_empty() {
        return Verdict::Refused(format!("no signature by {signer} (found 0 signatures)"));
    }
    let checked = if total > found.len() {
        format!(" (the first {} checked)", found.len())
    } else {
        String::new()
    };
    let mut other_digest: Option<String> = None;
    let mut why: Option<String> = None;
    let root = match verify {
        Verify::Keyless { trusted_root, .. } => match keyless::TrustedRoot::parse(trusted_root) {
            Ok(r) => Some(r),
            Err(e) => return Verdict::Refused(format!("the trusted root is not usable: {e}")),
        },
        Verify::Key { .. } => None,
    };
    let public_key = match verify {
        Verify::Key { pem, .. } => match key::PublicKey::from_pem(pem) {
            Ok(k) => Some(k),
            Err(e) => return Verdict::Refused(format!("the key is not usable: {e}")),
        },
        Verify::Keyless { .. } => None,
    };
    for sig in found {
        let by_signer = match (verify, &public_key, &root) {
            (Verify::Key { .. }, Some(k), _) => sig
                .signature
                .as_deref()
                .is_some_and(|s| k.verifies(&sig.payload, s)),
            (
                Verify::Keyless {
                    identity, issuer, ..
                },
                _,
                Some(root),
            ) => match keyless::verify(root, identity, issuer, sig) {
                Ok(()) => true,
                Err(e) => {
                    why.get_or_insert(e);
                    false
                }
            },
            _ => false,
        };
        if !by_signer {
            continue;
        }
        match cosign::signed_digest(&sig.payload) {
            Some(d) if d == digest => return Verdict::Verified(verify.id()),
            Some(d) => {
                other_digest.get_or_insert(d);
            }
            None => {
                why.get_or_insert("its payload is not a cosign container image signature".into());
            }
        }
    }
    let n = signatures(total);
    if let Some(d) = other_digest {
        let d = untrusted(&d);
        return Verdict::Refused(format!(
            "found {n}{checked}; the one by {signer} signs another digest ({}..)",
            short_digest(&d)
        ));
    }
    let why = why.map(|w| format!(": {w}")).unwrap_or_default();
    Verdict::Refused(format!("found {n}{checked}, none by {signer}{why}"))
}

/// The gate's verdicts on a plan's gated copies, read once by [`check_plan`] (while the plan is
/// made) and consulted by apply before each copy, so apply reads no signature twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    /// Every mirrored repository whose mirror has `verify`: a copy into one needs a verdict.
    gated: BTreeSet<String>,
    /// (repository, copy source with its digest) -> the verdict on it: by repository too, since
    /// two mirrors of one source may name different verifiers.
    by_copy: BTreeMap<(String, String), Verdict>,
    /// Signature reads made on Docker Hub (one manifest GET each, which it counts as a pull).
    pub docker_hub_reads: u64,
}

impl Verdicts {
    /// No verdict yet: every copy into a repository of `desired` whose mirror has `verify` is
    /// refused until [`check_plan`] reads one.
    pub fn gating(desired: &OrgState) -> Self {
        let gated = desired
            .repositories
            .iter()
            .filter(|(_, r)| r.mirror.as_ref().is_some_and(|m| m.verify.is_some()))
            .map(|(name, _)| name.clone())
            .collect();
        Verdicts {
            gated,
            ..Verdicts::default()
        }
    }

    /// Apply's gate before a copy from `source` into `repository`: `Ok` when the repository has
    /// no verifier, or when the digest carried a valid signature by it when the plan was made;
    /// else the refusal line, and nothing of the image is copied. A gated copy the plan's reads
    /// did not cover is refused (fail closed).
    pub fn gate(&self, repository: &str, source: &Reference) -> Result<(), String> {
        if !self.gated.contains(repository) {
            return Ok(());
        }
        let Some(digest) = source.digest.as_deref() else {
            return Err(format!("refusing {source}: no digest to verify"));
        };
        match self
            .by_copy
            .get(&(repository.to_string(), source.to_string()))
        {
            Some(Verdict::Verified(_)) => Ok(()),
            Some(Verdict::Refused(why)) => Err(refusal(source, digest, why)),
            None => Err(refusal(source, digest, "its signature was not checked")),
        }
    }

    /// The verdict on copying `source` into `repository` as the image facts show it (not
    /// checked: no gate covers it).
    pub fn signature(&self, repository: &str, source: &Reference) -> crate::plan::facts::Signature {
        use crate::plan::facts::Signature;
        match self
            .by_copy
            .get(&(repository.to_string(), source.to_string()))
        {
            Some(Verdict::Verified(by)) => Signature::Verified { by: by.clone() },
            Some(Verdict::Refused(why)) => Signature::Refused { why: why.clone() },
            None => Signature::NotChecked,
        }
    }
}

/// The gate's verdict on every copy row of the plan whose mirror has `verify`: as notes
/// (`redis:7.2`: "signature verified: key keys/upstream.pub sha256:..", or what apply will
/// refuse) and as the [`Verdicts`] apply's gate consults. Reads each image's signature tag (a
/// manifest GET, which Docker Hub counts as a pull), once.
pub async fn check_plan(
    client: &RegistryClient,
    desired: &OrgState,
    changes: &[Change],
) -> (Vec<Note>, Verdicts) {
    let mut notes = Vec::new();
    let mut verdicts = Verdicts::gating(desired);
    for change in changes {
        let Change::CopyImage {
            repository,
            tag,
            source,
            ..
        } = change
        else {
            continue;
        };
        let Some(verify) = desired
            .repositories
            .get(repository)
            .and_then(|r| r.mirror.as_ref())
            .and_then(|m| m.verify.as_ref())
        else {
            continue;
        };
        let Ok(source) = Reference::parse(source) else {
            continue;
        };
        let Some(digest) = source.digest.clone() else {
            continue;
        };
        if source.registry == crate::registry::reference::DOCKER_HUB {
            verdicts.docker_hub_reads += 1;
        }
        let verdict = check(client, verify, &source, &digest).await;
        let message = match &verdict {
            Verdict::Verified(by) => format!("signature verified: {}", untrusted(by)),
            Verdict::Refused(why) => {
                format!("apply will refuse it: {}", refusal(&source, &digest, why))
            }
        };
        verdicts
            .by_copy
            .insert((repository.clone(), source.to_string()), verdict);
        notes.push(Note {
            kind: ResourceKind::Image,
            address: format!("{repository}:{tag}"),
            message,
        });
    }
    (notes, verdicts)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;

    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    /// Apply's gate consults the verdicts the plan read: a digest they lack (another digest, or
    /// none) is refused, never read again and never let through.
    #[test]
    fn apply_s_gate_consults_the_plan_s_verdicts_and_refuses_what_they_lack() {
        let source = Reference::parse(&format!("docker.io/signed/app:1@{}", d(1))).unwrap();
        let mut v = Verdicts {
            gated: ["app".to_string(), "app-keyless".to_string()].into(),
            ..Verdicts::default()
        };
        let e = v.gate("app", &source).unwrap_err();
        assert!(
            e.starts_with("refusing docker.io/signed/app:1 sha256:0101")
                && e.ends_with(": its signature was not checked"),
            "{e}"
        );
        use crate::plan::facts::Signature;
        assert_eq!(v.signature("app", &source), Signature::NotChecked);
        let key = |repository: &str, r: &Reference| (repository.to_string(), r.to_string());
        v.by_copy
            .insert(key("app", &source), Verdict::Verified("key k.pub".into()));
        // Another mirror of the same source, with its own verifier, has its own verdict.
        assert!(v.gate("app-keyless", &source).is_err());
        assert_eq!(v.signature("app-keyless", &source), Signature::NotChecked);
        assert_eq!(v.gate("app", &source), Ok(()));
        assert_eq!(
            v.signature("app", &source),
            Signature::Verified {
                by: "key k.pub".into()
            }
        );
        let other = Reference::parse(&format!("docker.io/signed/app:1@{}", d(2))).unwrap();
        assert!(v.gate("app", &other).is_err());
        v.by_copy
            .insert(key("app", &other), Verdict::Refused("unsigned".into()));
        let e = v.gate("app", &other).unwrap_err();
        assert!(
            e.starts_with("refusing docker.io/signed/app:1 sha256:0202")
                && e.ends_with(": unsigned"),
            "{e}"
        );
        let tag_only = Reference::parse("docker.io/signed/app:1").unwrap();
        assert!(
            v.gate("app", &tag_only)
                .unwrap_err()
                .contains("no digest to verify")
        );
    }

    /// A fresh key as a policy's `verify` and a signer of payloads.
    fn key() -> (Verify, EcdsaKeyPair) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        let fingerprint = key::PublicKey::from_pem(&pem).unwrap().fingerprint();
        (
            Verify::Key {
                path: "keys/upstream.pub".into(),
                pem,
                fingerprint,
            },
            pair,
        )
    }

    fn signed(pair: &EcdsaKeyPair, digest: &str) -> cosign::Signature {
        let payload = serde_json::json!({"critical": {"identity": {"docker-reference": "x"},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"}, "optional": null})
        .to_string()
        .into_bytes();
        let sig = pair.sign(&SystemRandom::new(), &payload).unwrap();
        cosign::Signature {
            payload,
            signature: Some(sig.as_ref().to_vec()),
            certificate: None,
            chain: None,
            bundle: None,
        }
    }

    #[test]
    fn the_verdict_names_what_was_found() {
        let (verify, pair) = key();
        let (_, other) = key();
        assert_eq!(
            judge(&verify, &[signed(&pair, &d(1))], 1, &d(1)),
            Verdict::Verified(verify.id())
        );
        assert!(verify.id().starts_with("key keys/upstream.pub sha256:"));
        assert_eq!(
            judge(&verify, &[], 0, &d(1)),
            Verdict::Refused("no signature by keys/upstream.pub (found 0 signatures)".into())
        );
        assert_eq!(
            judge(&verify, &[signed(&other, &d(1))], 1, &d(1)),
            Verdict::Refused("found 1 signature, none by keys/upstream.pub".into())
        );
        let Verdict::Refused(why) = judge(&verify, &[signed(&pair, &d(2))], 1, &d(1)) else {
            panic!("a signature over another digest passed")
        };
        assert!(
            why.contains("signs another digest (sha256:020202020202..)"),
            "{why}"
        );
        // A valid one among others passes; beyond the bound the message says how many were checked.
        let many: Vec<_> = (0..cosign::MAX_SIGNATURES)
            .map(|_| signed(&other, &d(1)))
            .collect();
        assert_eq!(
            judge(&verify, &many, 40, &d(1)),
            Verdict::Refused(
                "found 40 signatures (the first 16 checked), none by keys/upstream.pub".into()
            )
        );
        let mut mixed = many;
        mixed.push(signed(&pair, &d(1)));
        assert_eq!(
            judge(&verify, &mixed, 17, &d(1)),
            Verdict::Verified(verify.id())
        );
        // A signature that is not base64 counts as no signature by the key.
        let mut bad = signed(&pair, &d(1));
        bad.signature = None;
        assert!(matches!(
            judge(&verify, &[bad], 1, &d(1)),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn refusals_name_the_tag_and_a_short_digest() {
        let r = Reference::parse(&format!("docker.io/bitnami/redis:7.2@{}", d(0xab))).unwrap();
        assert_eq!(
            refusal(
                &r,
                &d(0xab),
                "no signature by keys/upstream.pub (found 0 signatures)"
            ),
            "refusing docker.io/bitnami/redis:7.2 sha256:abababababab..: no signature by keys/upstream.pub (found 0 signatures)"
        );
    }
}
