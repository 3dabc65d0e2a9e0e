//! `mirror.verify`: the signature gate's verifier, read from the policy. The key file and the
//! trusted root are read confined to the policy's repository (`include::read_confined`, as for
//! `full_description_file`) and checked here, so a bad key fails `vetted validate` with its file,
//! line and field rather than a later `lock` or `apply`.
use toml_edit::TableLike;

use super::{Span, Walker};
use crate::model::Verify;
use crate::policy::schema::VERIFY as VERIFY_KEYS;

/// The most bytes of a key file (a PEM public key is a few hundred).
const MAX_KEY_BYTES: usize = 16 << 10;
/// The most bytes of a trusted root (the public good instance's is about 10 KiB).
pub const MAX_TRUSTED_ROOT_BYTES: usize = 1 << 20;
/// The longest identity or issuer accepted.
const MAX_NAME_CHARS: usize = 1024;

impl Walker<'_> {
    pub(super) fn mirror_verify(&mut self, m: &dyn TableLike, what: &str) -> Option<Verify> {
        let what = format!("{what}.verify");
        let t = self.table(m, "verify", &what)?;
        let span = self.item_span(m, "verify");
        self.check_keys(t, &format!("`{what}`"), VERIFY_KEYS);
        let key = self.string(t, "key", &format!("{what}.key"));
        let identity = self.string(t, "identity", &format!("{what}.identity"));
        let issuer = self.string(t, "issuer", &format!("{what}.issuer"));
        let root = self.string(t, "trusted_root", &format!("{what}.trusted_root"));
        let keyless = identity.is_some() || issuer.is_some() || root.is_some();
        match key {
            Some(key) if keyless => {
                self.err(
                    key.span,
                    format!("`{what}` names both a key and a keyless identity"),
                    "a key here",
                    Some("write either `key = \"keys/upstream.pub\"` or `identity`, `issuer` and `trusted_root`".to_string()),
                );
                None
            }
            Some(key) => self.verify_key(&what, key.value, key.span),
            None if !keyless => {
                if t.iter().next().is_none() {
                    self.err(
                        span,
                        format!("`{what}` is empty"),
                        "no verifier",
                        Some("write `verify = { key = \"keys/upstream.pub\" }` (a cosign public key in the repository) or `verify = { identity = \"...\", issuer = \"...\", trusted_root = \"trusted_root.json\" }`".to_string()),
                    );
                }
                None
            }
            None => {
                let mut missing = Vec::new();
                for (name, v) in [
                    ("identity", &identity),
                    ("issuer", &issuer),
                    ("trusted_root", &root),
                ] {
                    if v.is_none() && t.get(name).is_none() {
                        missing.push(format!("`{name}`"));
                    }
                }
                if !missing.is_empty() {
                    self.err(
                        span,
                        format!("keyless `{what}` is missing {}", missing.join(", ")),
                        "incomplete keyless verifier",
                        Some("keyless verification needs `identity` (the certificate's subject), `issuer` (the OIDC issuer) and `trusted_root` (a Sigstore trusted_root.json in the repository)".to_string()),
                    );
                    return None;
                }
                let (identity, issuer, root) = (identity?, issuer?, root?);
                let mut ok = true;
                for (name, v) in [("identity", &identity), ("issuer", &issuer)] {
                    let n = v.value.chars().count();
                    if n == 0 || n > MAX_NAME_CHARS || v.value.chars().any(char::is_control) {
                        ok = false;
                        self.err(
                            v.span.clone(),
                            format!("invalid `{what}.{name}`"),
                            "empty, too long or with control characters",
                            Some(format!("write the exact certificate {name}, at most {MAX_NAME_CHARS} characters")),
                        );
                    }
                }
                let trusted_root = self.verify_file(
                    &what,
                    "trusted_root",
                    "trusted root",
                    &root.value,
                    root.span.clone(),
                    MAX_TRUSTED_ROOT_BYTES,
                )?;
                if let Err(e) = crate::verify::keyless::TrustedRoot::parse(&trusted_root) {
                    self.err(
                        root.span,
                        format!(
                            "`{what}.trusted_root`: `{}` is not a usable Sigstore trusted root: {e}",
                            root.value
                        ),
                        "not a trusted root",
                        Some("ship the `trusted_root.json` of the Sigstore instance (protobuf-specs TrustedRoot: Fulcio certificate authorities and Rekor keys)".to_string()),
                    );
                    return None;
                }
                ok.then_some(Verify::Keyless {
                    identity: identity.value,
                    issuer: issuer.value,
                    trusted_root_path: root.value,
                    trusted_root,
                })
            }
        }
    }

    fn verify_key(&mut self, what: &str, path: String, span: Span) -> Option<Verify> {
        let pem = self.verify_file(what, "key", "key file", &path, span.clone(), MAX_KEY_BYTES)?;
        match crate::verify::key::PublicKey::from_pem(&pem) {
            Ok(k) => Some(Verify::Key {
                fingerprint: k.fingerprint(),
                path,
                pem,
            }),
            Err(e) => {
                self.err(
                    span,
                    format!("`{what}.key`: `{path}` is not a usable cosign public key: {e}"),
                    "not an ECDSA P-256 public key",
                    Some("name the `cosign.pub` that `cosign generate-key-pair` wrote (PEM `PUBLIC KEY`, ECDSA P-256)".to_string()),
                );
                None
            }
        }
    }

    /// Reads a file the verifier names, confined to the repository, as UTF-8 of at most `max` bytes.
    fn verify_file(
        &mut self,
        what: &str,
        field: &str,
        kind: &str,
        path: &str,
        span: Span,
        max: usize,
    ) -> Option<String> {
        let refuse = |w: &mut Self, message: String, label: &str, help: String| {
            w.err(
                span.clone(),
                format!("`{what}.{field}`: {message}"),
                label,
                Some(help),
            );
            None
        };
        match crate::policy::include::read_confined(self.base, path, kind, max) {
            Err(r) => refuse(self, r.message, &r.label, r.help),
            Ok(bytes) if bytes.len() > max => refuse(
                self,
                format!(
                    "`{path}` is larger than {} KiB, the most vetted reads for a {kind}",
                    max >> 10
                ),
                "file too large",
                format!("name the {kind} itself"),
            ),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => refuse(
                    self,
                    format!("`{path}` is not UTF-8 text"),
                    "not UTF-8",
                    format!("name the {kind} itself (PEM or JSON text)"),
                ),
            },
        }
    }
}
