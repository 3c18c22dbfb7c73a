//! Signed documents: credentials, credential requests, revocation lists, agency identities and
//! receipts share one container.
//!
//! ```text
//! {"casebridge":"signed-document","v":1,"type":TYPE,"key":HEX(signer public key),
//!  "sig":BASE64(Ed25519(signer, "casebridge/v1/doc/" || TYPE || 0x00 || BODY)),"body":BASE64(BODY)}
//! ```
//! `BODY` is the exact JSON bytes the signer serialized. A reader checks the type and the
//! expected signer and verifies the signature *before* parsing `BODY`. The type is inside the
//! signed bytes, so a credential can never be passed off as a receipt.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Reason, Result, TrustError};

/// Upper bound on a document file (credentials and lists are small; receipts smaller).
pub const MAX_DOC_LEN: usize = 4 * 1024 * 1024;

/// The wire container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDoc {
    /// Always "signed-document".
    pub casebridge: String,
    /// Container version.
    pub v: u32,
    /// Document type.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// Signer public key, hex.
    pub key: String,
    /// Signature, base64.
    pub sig: String,
    /// Body bytes, base64.
    pub body: String,
}

fn signed_bytes(doc_type: &str, body: &[u8]) -> Vec<u8> {
    let mut m = b"casebridge/v1/doc/".to_vec();
    m.extend_from_slice(doc_type.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

impl SignedDoc {
    /// Serializes `body` and signs it with `key`.
    pub fn sign<T: Serialize>(doc_type: &str, body: &T, key: &Ed25519KeyPair) -> SignedDoc {
        let bytes = serde_json::to_vec(body).expect("document bodies serialize");
        let sig = key.sign(&signed_bytes(doc_type, &bytes));
        SignedDoc {
            casebridge: "signed-document".into(),
            v: 1,
            doc_type: doc_type.into(),
            key: hex::encode(key.public_key().as_ref()),
            sig: B64.encode(sig.as_ref()),
            body: B64.encode(&bytes),
        }
    }

    /// Signs with a detached signer (a profile store signs with its own identity key).
    pub fn sign_with<T: Serialize>(doc_type: &str, body: &T, public_key: &[u8], signer: impl FnOnce(&[u8]) -> [u8; 64]) -> SignedDoc {
        let bytes = serde_json::to_vec(body).expect("document bodies serialize");
        let sig = signer(&signed_bytes(doc_type, &bytes));
        SignedDoc {
            casebridge: "signed-document".into(),
            v: 1,
            doc_type: doc_type.into(),
            key: hex::encode(public_key),
            sig: B64.encode(sig),
            body: B64.encode(&bytes),
        }
    }

    /// Parses the container (bounded) without trusting anything in it.
    pub fn parse(bytes: &[u8]) -> Result<SignedDoc> {
        if bytes.len() > MAX_DOC_LEN {
            return Err(TrustError::new(Reason::DeclaredSizeTooLarge, "document is larger than 4 MiB"));
        }
        let doc: SignedDoc =
            serde_json::from_slice(bytes).map_err(|_| TrustError::new(Reason::ManifestInvalid, "not a Casebridge signed document"))?;
        if doc.casebridge != "signed-document" {
            return Err(TrustError::new(Reason::ManifestInvalid, "not a Casebridge signed document"));
        }
        if doc.v != 1 {
            return Err(TrustError::new(Reason::UnsupportedVersion, format!("signed document version {} is not supported", doc.v)));
        }
        Ok(doc)
    }

    /// Serialized container bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("documents serialize")
    }

    /// The signer's public key bytes.
    pub fn signer(&self) -> Result<Vec<u8>> {
        hex::decode(&self.key)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| TrustError::new(Reason::ManifestInvalid, "signer key is not 32 bytes of hex"))
    }

    /// Verifies type and signature (by `expected_key` when given, else by the key the document
    /// names) and only then parses the body.
    pub fn open<T: DeserializeOwned>(&self, doc_type: &str, expected_key: Option<&[u8]>) -> Result<T> {
        if self.doc_type != doc_type {
            return Err(TrustError::new(Reason::ManifestInvalid, format!("expected a {doc_type}, found a {}", self.doc_type)));
        }
        let key = self.signer()?;
        if let Some(expected) = expected_key {
            if expected != key.as_slice() {
                return Err(TrustError::new(Reason::UnknownSigner, format!("the {doc_type} is not signed by the expected key")));
            }
        }
        let sig = B64.decode(&self.sig).map_err(|_| TrustError::new(Reason::BadSignature, "signature is not base64"))?;
        let body = B64.decode(&self.body).map_err(|_| TrustError::new(Reason::ManifestInvalid, "body is not base64"))?;
        if !casebridge_core::verify_signature(&key, &signed_bytes(doc_type, &body), &sig) {
            return Err(TrustError::new(Reason::BadSignature, format!("the {doc_type}'s signature does not verify")));
        }
        serde_json::from_slice(&body)
            .map_err(|_| TrustError::new(Reason::ManifestInvalid, format!("the signed {doc_type} body does not parse")))
    }
}

/// Hex SHA-256 of a public key: the fingerprint people compare.
pub fn fingerprint(key: &[u8]) -> String {
    casebridge_core::fingerprint(key)
}
