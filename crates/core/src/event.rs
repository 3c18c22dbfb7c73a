//! Signed events: the system of record.
//!
//! An event's *body* is serialized once (JSON) and those exact bytes are signed with the
//! author's Ed25519 key and stored; nobody re-serializes a body to check it. The envelope
//! that travels and is stored is
//!
//! ```text
//! ENVELOPE_VERSION (1 byte) || PUBLIC_KEY (32) || SIGNATURE (64) || BODY (rest)
//! ```
//!
//! so a reader verifies the signature over `BODY` with `PUBLIC_KEY` *before* parsing the body,
//! then checks that the body names the same key. Each author's events form a hash chain:
//! `seq` counts from 1 and `prev` is the SHA-256 of the author's previous body.

use chrono::{DateTime, FixedOffset};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::crypto::{sha256, to_hex};
use crate::error::{Error, Result};
use crate::model::EventKind;

/// Version byte of the envelope.
pub const ENVELOPE_VERSION: u8 = 1;
/// Version of the body schema.
pub const BODY_VERSION: u32 = 1;
const PK_LEN: usize = 32;
const SIG_LEN: usize = 64;
/// `prev` of an author's first event.
pub const GENESIS_PREV: [u8; 32] = [0u8; 32];

/// A hybrid logical clock reading: wall-clock milliseconds and a counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch (at least the largest seen).
    pub ms: u64,
    /// Tie-breaker within one millisecond.
    pub c: u32,
}

impl Hlc {
    /// The next reading after `self`, given the wall clock `now_ms`.
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.ms {
            Hlc { ms: now_ms, c: 0 }
        } else {
            Hlc { ms: self.ms, c: self.c.saturating_add(1) }
        }
    }
}

/// The signed part of an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventBody {
    /// Body schema version.
    pub v: u32,
    /// Author member id.
    pub author: Uuid,
    /// Author public key, hex (must equal the envelope's key).
    pub key: String,
    /// Author sequence number, from 1.
    pub seq: u64,
    /// SHA-256 of the author's previous body, hex (zeros for the first).
    pub prev: String,
    /// Hybrid logical clock, orders concurrent edits.
    pub hlc: Hlc,
    /// Wall time with the author's timezone offset.
    pub at: DateTime<FixedOffset>,
    /// Device (one profile store) that wrote it.
    pub device: Uuid,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// An event as stored: the exact signed bytes plus its parsed body.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedEvent {
    envelope: Vec<u8>,
    body: EventBody,
}

impl SignedEvent {
    /// Signs `body` with `identity`.
    ///
    /// The event keeps the body *as its signed bytes say*, parsed back, never the value it
    /// was made from: the author's index is built from this body at once, while `check`,
    /// `store rebuild` and every peer build theirs from the bytes, so the two must be the same
    /// value even where serialization is not an exact round trip (issue 12: a GPS longitude
    /// such as -122.26416666666667 came back one ULP off, and `check` reported every such
    /// photo as `index_record_differs`).
    pub(crate) fn sign(identity: &Identity, body: EventBody) -> Result<SignedEvent> {
        let bytes = serde_json::to_vec(&body).map_err(|_| Error::corrupt("event body could not be serialized"))?;
        let body: EventBody = serde_json::from_slice(&bytes).map_err(|_| Error::corrupt("event body does not parse back"))?;
        let sig = identity.pair.sign(&bytes);
        let mut envelope = Vec::with_capacity(1 + PK_LEN + SIG_LEN + bytes.len());
        envelope.push(ENVELOPE_VERSION);
        envelope.extend_from_slice(identity.public_key());
        envelope.extend_from_slice(sig.as_ref());
        envelope.extend_from_slice(&bytes);
        Ok(SignedEvent { envelope, body })
    }

    /// Verifies the signature over the exact body bytes, then parses the body.
    pub fn from_envelope(envelope: Vec<u8>) -> Result<SignedEvent> {
        let Some((&version, rest)) = envelope.split_first() else {
            return Err(Error::corrupt("empty event"));
        };
        if version != ENVELOPE_VERSION {
            return Err(Error::UnsupportedVersion { what: "event", found: version.into(), supported: ENVELOPE_VERSION.into() });
        }
        if rest.len() < PK_LEN + SIG_LEN {
            return Err(Error::corrupt("event envelope too short"));
        }
        let (pk, rest) = rest.split_at(PK_LEN);
        let (sig, body_bytes) = rest.split_at(SIG_LEN);
        if !crate::crypto::verify_signature(pk, body_bytes, sig) {
            return Err(Error::corrupt("event signature does not verify"));
        }
        let body: EventBody = serde_json::from_slice(body_bytes).map_err(|_| Error::corrupt("signed event body does not parse"))?;
        if body.v != BODY_VERSION {
            return Err(Error::UnsupportedVersion { what: "event body", found: body.v, supported: BODY_VERSION });
        }
        if body.key != to_hex(pk) {
            return Err(Error::corrupt("event body names a different key than its signature"));
        }
        Ok(SignedEvent { envelope, body })
    }

    /// The parsed body.
    pub fn body(&self) -> &EventBody {
        &self.body
    }

    /// The exact stored bytes.
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }

    /// The signed body bytes.
    pub fn body_bytes(&self) -> &[u8] {
        &self.envelope[1 + PK_LEN + SIG_LEN..]
    }

    /// SHA-256 of the body bytes: the event's hash, the next event's `prev`.
    pub fn hash(&self) -> [u8; 32] {
        sha256(self.body_bytes())
    }

    /// The author's public key.
    pub fn public_key(&self) -> &[u8] {
        &self.envelope[1..1 + PK_LEN]
    }
}

/// A profile's Ed25519 identity key pair (ring). The PKCS#8 document is kept only in a
/// zeroizing buffer while the pair is built.
pub struct Identity {
    pair: Ed25519KeyPair,
}

impl Identity {
    /// A new random identity; returns it and its PKCS#8 document (to be sealed).
    pub(crate) fn generate() -> Result<(Identity, Zeroizing<Vec<u8>>)> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| Error::Crypto)?;
        let doc = Zeroizing::new(pkcs8.as_ref().to_vec());
        let id = Identity::from_pkcs8(&doc)?;
        Ok((id, doc))
    }

    /// Loads an identity from its PKCS#8 document.
    pub(crate) fn from_pkcs8(doc: &[u8]) -> Result<Identity> {
        let pair = Ed25519KeyPair::from_pkcs8(doc).map_err(|_| Error::Crypto)?;
        Ok(Identity { pair })
    }

    /// Signs `message` (Ed25519).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// SHA-256 of the public key, hex: the fingerprint people compare.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.public_key())
    }
}

/// SHA-256 of a public key, hex.
pub fn fingerprint(public_key: &[u8]) -> String {
    to_hex(&sha256(public_key))
}

/// Per-author chain state: what the next event must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Last sequence number (0 before the first event).
    pub seq: u64,
    /// Hash of the last body.
    pub hash: [u8; 32],
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead { seq: 0, hash: GENESIS_PREV }
    }
}

impl ChainHead {
    /// Checks that `ev` extends this chain, and advances.
    pub fn advance(&mut self, ev: &SignedEvent) -> std::result::Result<(), String> {
        let b = ev.body();
        if b.seq != self.seq + 1 {
            return Err(format!("sequence {} follows {} (expected {})", b.seq, self.seq, self.seq + 1));
        }
        if b.prev != to_hex(&self.hash) {
            return Err(format!("event {} does not link to the author's previous event", b.seq));
        }
        self.seq = b.seq;
        self.hash = ev.hash();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CaseStatus, EventKind};

    fn body(id: &Identity, seq: u64, prev: [u8; 32]) -> EventBody {
        EventBody {
            v: BODY_VERSION,
            author: Uuid::nil(),
            key: to_hex(id.public_key()),
            seq,
            prev: to_hex(&prev),
            hlc: Hlc { ms: 1, c: 0 },
            at: chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00+01:00").unwrap(),
            device: Uuid::nil(),
            kind: EventKind::CaseCreated {
                case_id: Uuid::nil(),
                reference: None,
                title: "t".into(),
                summary: None,
                tags: vec![],
                status: CaseStatus::Open,
                category: None,
            },
        }
    }

    #[test]
    fn every_bit_flip_of_an_envelope_is_rejected() {
        let (id, _) = Identity::generate().unwrap();
        let ev = SignedEvent::sign(&id, body(&id, 1, GENESIS_PREV)).unwrap();
        let bytes = ev.envelope().to_vec();
        assert_eq!(SignedEvent::from_envelope(bytes.clone()).unwrap(), ev);
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(SignedEvent::from_envelope(b).is_err(), "flip of bit {i} accepted");
        }
    }

    #[test]
    fn chain_detects_gap_and_wrong_link() {
        let (id, _) = Identity::generate().unwrap();
        let e1 = SignedEvent::sign(&id, body(&id, 1, GENESIS_PREV)).unwrap();
        let e2 = SignedEvent::sign(&id, body(&id, 2, e1.hash())).unwrap();
        let e3_bad = SignedEvent::sign(&id, body(&id, 3, GENESIS_PREV)).unwrap();
        let mut head = ChainHead::default();
        assert!(head.advance(&e2).is_err(), "gap accepted");
        head.advance(&e1).unwrap();
        head.advance(&e2).unwrap();
        assert!(head.advance(&e3_bad).is_err(), "wrong link accepted");
    }

    /// Issue 12: the author applies the event `sign` returns to its index at once, while
    /// `check`, `store rebuild` and peers apply the event read back from the journal. Both must
    /// be the same value. The position is an iPhone 4S's (37, 1222/25, 0) N, (122, 317/20, 0) W as `metadata`
    /// computes it: -122.26416666666667, 17 significant digits, which serde_json without
    /// `float_roundtrip` parsed back as -122.26416666666668.
    #[test]
    fn signed_body_is_what_its_bytes_say() {
        let (id, _) = Identity::generate().unwrap();
        let lon = -(122.0 + (317.0 / 20.0) / 60.0 + 0.0 / 3600.0);
        let mut b = body(&id, 1, GENESIS_PREV);
        b.kind = EventKind::EvidenceAdded {
            evidence_id: Uuid::nil(),
            case_id: Uuid::nil(),
            object: crate::model::ObjectRef { sha256: "00".repeat(32), size: 1 },
            media_type: "image/jpeg".into(),
            original_name: "IMG_0001.JPG".into(),
            claimed_captured_at: None,
            claimed_location: None,
            extracted: crate::model::Extracted {
                location: Some(crate::model::GeoPoint::new(37.0 + (1222.0 / 25.0) / 60.0, lon).unwrap()),
                ..Default::default()
            },
            description: None,
        };
        let signed = SignedEvent::sign(&id, b).unwrap();
        let read_back = SignedEvent::from_envelope(signed.envelope().to_vec()).unwrap();
        assert_eq!(signed.body(), read_back.body());
        let EventKind::EvidenceAdded { extracted, .. } = &read_back.body().kind else { panic!("kind") };
        assert_eq!(extracted.location.map(|p| p.lon), Some(lon), "the journal keeps the exact longitude");
    }

    /// RFC 8032 §7.1 test 2 through ring's verifier as we call it.
    #[test]
    fn ed25519_known_answer() {
        let pk = hex::decode("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c").unwrap();
        let sig = hex::decode("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00").unwrap();
        let msg = [0x72u8];
        assert!(crate::crypto::verify_signature(&pk, &msg, &sig));
        assert!(!crate::crypto::verify_signature(&pk, &[0x73], &sig));
    }
}
