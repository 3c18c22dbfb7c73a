//! The attacker's client: signs events and bundles the honest client never makes. It writes
//! the documented formats (docs/FORMAT.md: event envelope, bundle framing, age sealing) by
//! hand, with the attacker's own profile key, so every refusal the tests see comes from the
//! endpoint's rules and not from a malformed file.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{EventBody, EventKind, Hlc, SignedEvent, Store};
use casebridge_trust::bundle::{chunks_for, BlobEntry, Manifest, BUNDLE_MAGIC, BUNDLE_VERSION, CHUNK_SIZE, END_MAGIC, MANIFEST_CONTEXT};
use casebridge_trust::{AgencyPublic, SignedDoc};
use chrono::Utc;
use std::io::Write;
use uuid::Uuid;

/// Envelope and body versions of docs/FORMAT.md ("Signed events").
const ENVELOPE_VERSION: u8 = 1;
const BODY_VERSION: u32 = 1;
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Now, in milliseconds.
pub fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap()
}

/// Signs `body` with the key of `signer` (an event signature has no context: the profile key
/// signs the body bytes alone) and wraps it in the envelope.
fn seal_event(signer: &Store, body: &EventBody) -> SignedEvent {
    let bytes = serde_json::to_vec(body).unwrap();
    let sig = signer.sign_detached(b"", &bytes);
    let mut envelope = vec![ENVELOPE_VERSION];
    envelope.extend_from_slice(signer.public_key());
    envelope.extend_from_slice(&sig);
    envelope.extend_from_slice(&bytes);
    SignedEvent::from_envelope(envelope).unwrap()
}

fn body(signer: &Store, author: Uuid, seq: u64, prev: String, hlc: Hlc, kind: EventKind) -> EventBody {
    EventBody {
        v: BODY_VERSION,
        author,
        key: hex::encode(signer.public_key()),
        seq,
        prev,
        hlc,
        at: Utc::now().fixed_offset(),
        device: Uuid::new_v4(),
        kind,
    }
}

/// Signs `kind` as `author` with the key of `signer` (which need not be `author`'s).
pub fn event(signer: &Store, author: Uuid, seq: u64, hlc_ms: u64, kind: EventKind) -> SignedEvent {
    seal_event(signer, &body(signer, author, seq, ZERO_HASH.into(), Hlc { ms: hlc_ms, c: 0 }, kind))
}

/// A chain of events by `signer`'s member, from `first_seq`, each linked to the one before.
pub fn chain(signer: &Store, first_seq: u64, kinds: Vec<EventKind>) -> Vec<SignedEvent> {
    chain_after(signer, first_seq, ZERO_HASH, kinds)
}

/// [`chain`] whose first event names `prev` (hex) as the event before it.
pub fn chain_after(signer: &Store, first_seq: u64, prev: &str, kinds: Vec<EventKind>) -> Vec<SignedEvent> {
    let author = signer.whoami().member_id;
    let mut out: Vec<SignedEvent> = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let prev = out.last().map_or_else(|| prev.to_string(), |e| casebridge_core::to_hex(&e.hash()));
        let hlc = Hlc { ms: now_ms(), c: i as u32 };
        out.push(seal_event(signer, &body(signer, author, first_seq + i as u64, prev, hlc, kind)));
    }
    out
}

/// What a crafted bundle holds.
pub struct Bundle<'a> {
    pub sender: Uuid,
    pub credential: &'a SignedDoc,
    pub seq: u64,
    pub prev: String,
    pub case: Option<Uuid>,
    pub events: Vec<SignedEvent>,
    pub blobs: Vec<Vec<u8>>,
    pub seal: bool,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
}

impl<'a> Bundle<'a> {
    /// A first bundle (sequence 1) of `sender`, sealed, made now.
    pub fn new(sender: Uuid, credential: &'a SignedDoc, events: Vec<SignedEvent>, blobs: Vec<Vec<u8>>) -> Bundle<'a> {
        Bundle {
            sender,
            credential,
            seq: 1,
            prev: ZERO_HASH.into(),
            case: None,
            events,
            blobs,
            seal: true,
            created_at: Utc::now().fixed_offset(),
        }
    }

    /// Signs with `signer`'s key and writes the bundle; returns (bundle id, bytes).
    pub fn write(&self, signer: &Store, agency: &AgencyPublic) -> (Uuid, Vec<u8>) {
        let manifest = Manifest {
            v: 1,
            bundle_id: Uuid::now_v7(),
            created_at: self.created_at,
            sender: self.sender,
            sender_key: hex::encode(signer.public_key()),
            credential: self.credential.clone(),
            recipient_agency: agency.agency_id,
            seq: self.seq,
            prev_bundle: self.prev.clone(),
            case_id: self.case,
            events: self.events.iter().map(|e| B64.encode(e.envelope())).collect(),
            blobs: self
                .blobs
                .iter()
                .map(|b| BlobEntry {
                    sha256: casebridge_core::to_hex(&casebridge_core::sha256(b)),
                    size: b.len() as u64,
                    chunks: chunks_for(b.len() as u64),
                })
                .collect(),
            chunk_size: CHUNK_SIZE,
            tombstones: Vec::new(),
        };
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
        let sig = signer.sign_detached(MANIFEST_CONTEXT, &manifest_bytes);
        let mut plain = Vec::new();
        plain.extend_from_slice(BUNDLE_MAGIC);
        plain.extend_from_slice(&BUNDLE_VERSION.to_le_bytes());
        plain.extend_from_slice(signer.public_key());
        plain.extend_from_slice(&sig);
        plain.extend_from_slice(&(manifest_bytes.len() as u32).to_le_bytes());
        plain.extend_from_slice(&manifest_bytes);
        for (i, blob) in self.blobs.iter().enumerate() {
            for (c, chunk) in blob.chunks(CHUNK_SIZE as usize).enumerate() {
                plain.extend_from_slice(&(i as u32).to_le_bytes());
                plain.extend_from_slice(&(c as u32).to_le_bytes());
                plain.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
                plain.extend_from_slice(chunk);
            }
        }
        plain.extend_from_slice(END_MAGIC);
        if !self.seal {
            return (manifest.bundle_id, plain);
        }
        let recipient = agency.recipient().unwrap();
        let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap();
        (manifest.bundle_id, out)
    }
}
