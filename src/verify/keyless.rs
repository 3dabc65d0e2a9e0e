//! Keyless verification, offline: a signature made with a short-lived Fulcio certificate is
//! accepted when, against the Sigstore trusted root shipped beside the policy
//! (`trusted_root.json`, the protobuf-specs `TrustedRoot`: `certificateAuthorities` with their DER
//! chains, `tlogs` with the Rekor keys):
//! - the Rekor bundle's signed entry timestamp (SET) verifies under a Rekor key of the root (the
//!   key whose ID, SHA-256 of its DER SubjectPublicKeyInfo, is the bundle's `logID`), and the
//!   entry (`hashedrekord`) records this signature, this payload's SHA-256 and this certificate;
//! - the leaf certificate chains to a Fulcio CA of the root, every certificate of the chain and
//!   the CA's `validFor` covering the entry's `integratedTime` (the signing time);
//! - the leaf is for code signing, its subject alternative name equals `identity` and its OIDC
//!   issuer extension (1.3.6.1.4.1.57264.1.8, or the older 1.3.6.1.4.1.57264.1.1) equals `issuer`;
//! - the payload's signature verifies under the leaf's key.
//!
//! Not checked: certificate transparency (SCTs) and Rekor inclusion proofs; the SET is Rekor's
//! signed promise of inclusion, as cosign's offline verification uses.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::cosign::Signature;
use super::key::PublicKey;

/// The most certificate authorities, Rekor logs and certificates per chain read from a root.
const MAX_ENTRIES: usize = 32;
const MAX_CHAIN: usize = 8;
/// The OIDC issuer extensions Fulcio writes: v2 (DER UTF8String) and v1 (raw bytes).
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";

/// A Sigstore trusted root, as far as offline keyless verification needs it.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    authorities: Vec<Authority>,
    logs: Vec<Log>,
}

#[derive(Debug, Clone)]
struct Authority {
    /// DER certificates, the issuing CA first and the root last.
    chain: Vec<Vec<u8>>,
    valid: Window,
}

#[derive(Debug, Clone)]
struct Log {
    key: PublicKey,
    valid: Window,
}

/// Unix seconds; `end` `None`: still valid.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Option<i64>,
    end: Option<i64>,
}

impl Window {
    fn covers(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootFile {
    #[serde(default)]
    tlogs: Vec<TlogFile>,
    #[serde(default)]
    certificate_authorities: Vec<CaFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlogFile {
    public_key: KeyFile,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<WindowFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaFile {
    cert_chain: ChainFile,
    #[serde(default)]
    valid_for: Option<WindowFile>,
}

#[derive(Deserialize)]
struct ChainFile {
    certificates: Vec<RawFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFile {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct WindowFile {
    start: Option<String>,
    end: Option<String>,
}

fn time_of(s: &Option<String>, what: &str) -> Result<Option<i64>, String> {
    match s {
        None => Ok(None),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Some(t.unix_timestamp()))
            .map_err(|e| {
                format!(
                    "{what}: `{}` is not an RFC 3339 time: {e}",
                    crate::untrusted::untrusted(s)
                )
            }),
    }
}

fn window(w: &Option<WindowFile>, what: &str) -> Result<Window, String> {
    Ok(match w {
        None => Window {
            start: None,
            end: None,
        },
        Some(w) => Window {
            start: time_of(&w.start, what)?,
            end: time_of(&w.end, what)?,
        },
    })
}

impl TrustedRoot {
    /// Parses a `trusted_root.json`; it must name at least one certificate authority and one
    /// Rekor log.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: RootFile =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        if file.certificate_authorities.len() > MAX_ENTRIES || file.tlogs.len() > MAX_ENTRIES {
            return Err(format!(
                "more than {MAX_ENTRIES} certificate authorities or logs"
            ));
        }
        let mut authorities = Vec::new();
        for (i, ca) in file.certificate_authorities.iter().enumerate() {
            let what = format!("certificateAuthorities[{i}]");
            if ca.cert_chain.certificates.is_empty() || ca.cert_chain.certificates.len() > MAX_CHAIN
            {
                return Err(format!(
                    "{what}: a chain of 1 to {MAX_CHAIN} certificates is needed"
                ));
            }
            let mut chain = Vec::new();
            for (j, c) in ca.cert_chain.certificates.iter().enumerate() {
                let der = STANDARD
                    .decode(c.raw_bytes.trim())
                    .map_err(|e| format!("{what}.certChain.certificates[{j}]: not base64: {e}"))?;
                X509Certificate::from_der(&der).map_err(|e| {
                    format!("{what}.certChain.certificates[{j}]: not a DER certificate: {e}")
                })?;
                chain.push(der);
            }
            authorities.push(Authority {
                chain,
                valid: window(&ca.valid_for, &format!("{what}.validFor"))?,
            });
        }
        let mut logs = Vec::new();
        for (i, t) in file.tlogs.iter().enumerate() {
            let what = format!("tlogs[{i}].publicKey");
            let der = STANDARD
                .decode(t.public_key.raw_bytes.trim())
                .map_err(|e| format!("{what}: not base64: {e}"))?;
            logs.push(Log {
                key: PublicKey::from_spki_der(&der).map_err(|e| format!("{what}: {e}"))?,
                valid: window(&t.public_key.valid_for, &format!("{what}.validFor"))?,
            });
        }
        if authorities.is_empty() {
            return Err("no certificateAuthorities (Fulcio) in the trusted root".into());
        }
        if logs.is_empty() {
            return Err("no tlogs (Rekor keys) in the trusted root".into());
        }
        Ok(TrustedRoot { authorities, logs })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Bundle {
    signed_entry_timestamp: String,
    payload: BundlePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundlePayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Checks one keyless signature; `Err` says why it does not count, in one phrase.
pub fn verify(
    root: &TrustedRoot,
    identity: &str,
    issuer: &str,
    sig: &Signature,
) -> Result<(), String> {
    let signature = sig
        .signature
        .as_deref()
        .ok_or("its signature is not base64")?;
    let cert_pem = sig.certificate.as_deref().ok_or("it has no certificate")?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|_| "its certificate is not PEM")?;
    let (_, leaf) = X509Certificate::from_der(&pem.contents)
        .map_err(|_| "its certificate is not a DER certificate")?;
    let integrated = verify_bundle(root, sig, signature, &pem.contents)?;
    let at = |c: &X509Certificate<'_>| {
        let v = c.validity();
        v.not_before.timestamp() <= integrated && integrated <= v.not_after.timestamp()
    };
    if !at(&leaf) {
        return Err("its certificate was not valid when the signature was logged".into());
    }
    chains_to_fulcio(root, &leaf, integrated, &at)?;
    let code_signing = leaf
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|e| e.value.code_signing);
    if !code_signing {
        return Err("its certificate is not for code signing".into());
    }
    let sans: Vec<String> = leaf
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::RFC822Name(s) | GeneralName::URI(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !sans.iter().any(|s| s == identity) {
        return Err(format!(
            "its certificate is for {}",
            crate::untrusted::untrusted(&sans.join(", "))
        ));
    }
    let cert_issuer = oidc_issuer(&leaf).ok_or("its certificate names no OIDC issuer")?;
    if cert_issuer != issuer {
        return Err(format!(
            "its certificate is from issuer {}",
            crate::untrusted::untrusted(&cert_issuer)
        ));
    }
    let key = PublicKey::from_spki(leaf.public_key(), leaf.public_key().raw)
        .map_err(|e| format!("its certificate's key: {e}"))?;
    if !key.verifies(&sig.payload, signature) {
        return Err("the signature does not verify under its certificate".into());
    }
    Ok(())
}

/// The certificate's OIDC issuer extension.
fn oidc_issuer(cert: &X509Certificate<'_>) -> Option<String> {
    let ext = |oid: &str| {
        cert.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
            .map(|e| e.value)
    };
    if let Some(v) = ext(ISSUER_V2) {
        let (_, obj) = x509_parser::der_parser::parse_der(v).ok()?;
        return obj.as_str().ok().map(str::to_string);
    }
    ext(ISSUER_V1).and_then(|v| std::str::from_utf8(v).ok().map(str::to_string))
}

/// The leaf is signed by the first certificate of some authority's chain, each certificate of
/// that chain by the next, all of them CAs valid at `t`, the authority itself valid at `t`.
fn chains_to_fulcio(
    root: &TrustedRoot,
    leaf: &X509Certificate<'_>,
    t: i64,
    at: &dyn Fn(&X509Certificate<'_>) -> bool,
) -> Result<(), String> {
    'authorities: for authority in &root.authorities {
        if !authority.valid.covers(t) {
            continue;
        }
        let mut certs = Vec::new();
        for der in &authority.chain {
            match X509Certificate::from_der(der) {
                Ok((_, c)) => certs.push(c),
                Err(_) => continue 'authorities,
            }
        }
        let mut child = leaf;
        for ca in &certs {
            if !ca.is_ca() || !at(ca) || child.verify_signature(Some(ca.public_key())).is_err() {
                continue 'authorities;
            }
            child = ca;
        }
        return Ok(());
    }
    Err("its certificate does not chain to a certificate authority of the trusted root valid at signing time".into())
}

/// Verifies the Rekor bundle (the SET under a log key of the root, the entry recording this
/// signature, payload and certificate); returns the entry's `integratedTime`.
fn verify_bundle(
    root: &TrustedRoot,
    sig: &Signature,
    signature: &[u8],
    cert_der: &[u8],
) -> Result<i64, String> {
    let bundle = sig.bundle.as_deref().ok_or("it has no Rekor bundle")?;
    let bundle: Bundle =
        serde_json::from_str(bundle).map_err(|_| "its Rekor bundle is not valid JSON")?;
    let p = &bundle.payload;
    let log_id = hex::decode(&p.log_id).map_err(|_| "its Rekor bundle's logID is not hex")?;
    let log = root
        .logs
        .iter()
        .find(|l| l.key.key_id().as_slice() == log_id.as_slice())
        .ok_or("its Rekor bundle is from a log the trusted root does not list")?;
    if !log.valid.covers(p.integrated_time) {
        return Err("its Rekor log key was not valid at the entry's time".into());
    }
    // The SET signs the canonical JSON of the payload: keys sorted, no spaces.
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
        serde_json::Value::String(p.body.clone()),
        p.integrated_time,
        serde_json::Value::String(p.log_id.clone()),
        p.log_index
    );
    let set = STANDARD
        .decode(bundle.signed_entry_timestamp.trim())
        .map_err(|_| "its Rekor bundle's SET is not base64")?;
    if !log.key.verifies(canonical.as_bytes(), &set) {
        return Err("its Rekor bundle's SET does not verify under the log's key".into());
    }
    let body = STANDARD
        .decode(p.body.trim())
        .map_err(|_| "its Rekor entry is not base64")?;
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "its Rekor entry is not JSON")?;
    if body["kind"] != "hashedrekord" {
        return Err("its Rekor entry is not a hashedrekord".into());
    }
    let spec = &body["spec"];
    let logged_sig = spec["signature"]["content"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok());
    let logged_hash = spec["data"]["hash"]["value"].as_str();
    let logged_cert = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|pem| {
            x509_parser::pem::parse_x509_pem(&pem)
                .ok()
                .map(|(_, p)| p.contents)
        });
    let payload_hash = hex::encode(Sha256::digest(&sig.payload));
    if logged_sig.as_deref() != Some(signature)
        || logged_hash != Some(payload_hash.as_str())
        || logged_cert.as_deref() != Some(cert_der)
    {
        return Err("its Rekor entry records another signature, payload or certificate".into());
    }
    Ok(p.integrated_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trusted_root_needs_a_ca_and_a_log() {
        let e = |text: &str| TrustedRoot::parse(text).unwrap_err();
        assert!(e("{").contains("invalid JSON"));
        assert!(e("{}").contains("no certificateAuthorities"));
        assert!(
            e(r#"{"certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "!!"}]}}]}"#)
                .contains("certificateAuthorities[0].certChain.certificates[0]: not base64")
        );
        assert!(
            e(r#"{"certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "AAAA"}]}}]}"#)
                .contains("not a DER certificate")
        );
        assert!(
            e(r#"{"certificateAuthorities": [{"certChain": {"certificates": []}}]}"#)
                .contains("a chain of 1 to 8 certificates")
        );
        assert!(
            e(r#"{"tlogs": [{"publicKey": {"rawBytes": "AAAA", "validFor": {"start": "yesterday"}}}]}"#)
                .contains("tlogs[0].publicKey")
        );
    }

    #[test]
    fn windows_cover_their_bounds() {
        let w = Window {
            start: Some(10),
            end: Some(20),
        };
        assert!(w.covers(10) && w.covers(20) && !w.covers(9) && !w.covers(21));
        let open = Window {
            start: None,
            end: None,
        };
        assert!(open.covers(i64::MIN) && open.covers(i64::MAX));
        assert_eq!(
            time_of(&Some("2021-01-12T11:53:27.000Z".into()), "t").unwrap(),
            Some(1_610_452_407)
        );
    }
}
