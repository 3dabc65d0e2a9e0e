//! Public keys the gate verifies with: a cosign public key (PEM `PUBLIC KEY`, ECDSA P-256, what
//! `cosign generate-key-pair` writes to `cosign.pub`), a Fulcio leaf certificate's key and a Rekor
//! log key (P-256 or P-384), each checked as ECDSA over SHA-256 (P-256) or SHA-384 (P-384) with an
//! ASN.1 DER signature, as cosign and Rekor sign.
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, UnparsedPublicKey, VerificationAlgorithm,
};
use sha2::{Digest, Sha256};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The curves the gate accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// An ECDSA public key: its DER SubjectPublicKeyInfo and the curve point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki_der: Vec<u8>,
    point: Vec<u8>,
    curve: Curve,
}

impl PublicKey {
    /// A cosign public key file: exactly one PEM `PUBLIC KEY` block of an ECDSA P-256 key.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let (rest, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
            .map_err(|_| "no PEM block (`-----BEGIN PUBLIC KEY-----`) found".to_string())?;
        if pem.label != "PUBLIC KEY" {
            return Err(format!(
                "the PEM block is `{}`, not `PUBLIC KEY`",
                crate::untrusted::untrusted(&pem.label)
            ));
        }
        if String::from_utf8_lossy(rest).contains("-----BEGIN") {
            return Err("the file holds more than one PEM block; name a file with one key".into());
        }
        let key = Self::from_spki_der(&pem.contents)?;
        if key.curve != Curve::P256 {
            return Err("the key is not on the P-256 curve (cosign keys are ECDSA P-256)".into());
        }
        Ok(key)
    }

    /// A DER SubjectPublicKeyInfo of an ECDSA key on P-256 or P-384.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| format!("not a DER SubjectPublicKeyInfo: {e}"))?;
        if !rest.is_empty() {
            return Err("trailing bytes after the public key".into());
        }
        Self::from_spki(&spki, &der[..der.len() - rest.len()])
    }

    /// The key of a parsed SubjectPublicKeyInfo (`der`: its encoding, for the fingerprint).
    pub fn from_spki(spki: &SubjectPublicKeyInfo<'_>, der: &[u8]) -> Result<Self, String> {
        if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
            return Err(format!(
                "not an ECDSA key (algorithm {})",
                spki.algorithm.algorithm
            ));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let curve = match curve {
            Some(c) if c == OID_EC_P256 => Curve::P256,
            Some(c) if c == OID_NIST_EC_P384 => Curve::P384,
            _ => return Err("not a P-256 or P-384 ECDSA key".into()),
        };
        Ok(PublicKey {
            spki_der: der.to_vec(),
            point: spki.subject_public_key.data.to_vec(),
            curve,
        })
    }

    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo (what the lock records).
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(self.key_id()))
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo (a Rekor log's ID).
    pub fn key_id(&self) -> [u8; 32] {
        Sha256::digest(&self.spki_der).into()
    }

    /// Whether `signature` (ASN.1 DER ECDSA) signs `message` under this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let alg: &'static dyn VerificationAlgorithm = match self.curve {
            Curve::P256 => &ECDSA_P256_SHA256_ASN1,
            Curve::P384 => &ECDSA_P384_SHA384_ASN1,
        };
        UnparsedPublicKey::new(alg, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A P-256 public key (test data: its private half was never kept).
    const PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdyXi5jtmPD3OIMOgeeNy6sqbNBzx
F9y51RzxLw2oqczcp8hgiTA7ePU4DEU7SJjjVvY0G18gkM29eL6rUk11Rw==
-----END PUBLIC KEY-----
";

    #[test]
    fn reads_a_cosign_public_key() {
        let k = PublicKey::from_pem(PEM).unwrap();
        assert_eq!(k.curve, Curve::P256);
        assert!(k.fingerprint().starts_with("sha256:"));
        assert_eq!(k.fingerprint().len(), 7 + 64);
        assert!(!k.verifies(b"payload", b"not a signature"));
    }

    #[test]
    fn refuses_what_is_not_a_p256_public_key() {
        assert!(PublicKey::from_pem("hello").is_err());
        let private = PEM.replace("PUBLIC KEY", "PRIVATE KEY");
        assert!(
            PublicKey::from_pem(&private)
                .unwrap_err()
                .contains("PRIVATE KEY")
        );
        let two = format!("{PEM}{PEM}");
        assert!(
            PublicKey::from_pem(&two)
                .unwrap_err()
                .contains("more than one")
        );
    }
}
