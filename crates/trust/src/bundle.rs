//! Evidence bundles: the unit of exchange (docs/FORMAT.md, "Bundles").
//!
//! ```text
//! P = BUNDLE_MAGIC "CBBUNDLE" (8) || BUNDLE_VERSION u32 = 1 || SENDER_KEY (32)
//!     || SIGNATURE (64) = Ed25519(sender, "casebridge/v1/bundle-manifest\0" || MANIFEST)
//!     || MANIFEST_LEN u32 (<= 64 MiB) || MANIFEST (JSON)
//!     || FRAME* || END_MAGIC "CBBEND\0\0" (8)
//! FRAME = BLOB u32 || CHUNK u32 || LEN u32 (1..=1 MiB) || DATA (LEN)
//! file = age(P) sealed to the recipient agency's X25519 key, or P itself (unsealed)
//! ```
//! Sign, then seal: the recipient agency and the bundle id are inside the signed manifest, so
//! re-sealing a bundle to another agency is detected. A reader verifies the signature before it
//! parses the manifest, checks every declared size against its bound before allocating, and
//! streams blobs through a fixed 1 MiB buffer: memory stays flat whatever the bundle size.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use ring::digest;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agency::AgencyPublic;
use crate::credential::{now, Credential, NameDisclosure};
use crate::doc::SignedDoc;
use crate::error::{io_err, Reason, Result, TrustError};
use crate::revocation::RevocationList;
use casebridge_core::{ContentImporter, ContentObserver, CustodyAction, EventKind, Observed, ProfileEvent, Role, SignedEvent, Store};
use casebridge_protocol::BundleOutcome;

/// Magic of a plain bundle stream.
pub const BUNDLE_MAGIC: &[u8; 8] = b"CBBUNDLE";
/// Bundle format version.
pub const BUNDLE_VERSION: u32 = 1;
/// End marker.
pub const END_MAGIC: &[u8; 8] = b"CBBEND\x00\x00";
/// Largest manifest accepted.
pub const MAX_MANIFEST_LEN: u32 = 64 * 1024 * 1024;
/// Largest blob accepted (1 TiB).
pub const MAX_BLOB_SIZE: u64 = 1 << 40;
/// Most blobs in one bundle.
pub const MAX_BLOBS: usize = 1_000_000;
/// Most events in one bundle.
pub const MAX_EVENTS: usize = 2_000_000;
/// Plaintext bytes per frame.
pub const CHUNK_SIZE: u32 = 1024 * 1024;
/// Signature context of the manifest.
pub const MANIFEST_CONTEXT: &[u8] = b"casebridge/v1/bundle-manifest\x00";
/// The first bytes of a sealed bundle (the age format's header line).
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A blob entry of the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Frames it is sent in.
    pub chunks: u64,
}

/// The signed manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest schema version.
    pub v: u32,
    /// Random 128-bit bundle id.
    pub bundle_id: Uuid,
    /// When the sender made it.
    pub created_at: DateTime<FixedOffset>,
    /// Sender member id.
    pub sender: Uuid,
    /// Sender public key, hex.
    pub sender_key: String,
    /// The sender's credential from the recipient agency.
    pub credential: SignedDoc,
    /// Recipient agency.
    pub recipient_agency: Uuid,
    /// The sender's per-agency bundle sequence number, from 1.
    pub seq: u64,
    /// SHA-256 of the sender's previous bundle manifest to this agency, hex (zeros for the first).
    pub prev_bundle: String,
    /// The case carried.
    pub case_id: Option<Uuid>,
    /// Signed event envelopes, base64.
    pub events: Vec<String>,
    /// Blobs that follow, in order.
    pub blobs: Vec<BlobEntry>,
    /// Frame size.
    pub chunk_size: u32,
    /// The agency-signed `tombstone` documents (base64) of the items the bundle's events add
    /// whose content the sender no longer holds because the agency deleted it: such an item
    /// travels without content. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tombstones: Vec<String>,
}

/// Frames needed for `size` bytes.
pub fn chunks_for(size: u64) -> u64 {
    size.div_ceil(u64::from(CHUNK_SIZE))
}

/// What `export` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Bundle id.
    pub bundle_id: Uuid,
    /// Sequence number.
    pub seq: u64,
    /// SHA-256 of the manifest, hex.
    pub manifest_hash: String,
    /// Events carried.
    pub events: usize,
    /// Blobs carried.
    pub blobs: usize,
    /// Content bytes carried.
    pub bytes: u64,
    /// Where it was written.
    pub path: PathBuf,
    /// Whether it is sealed to the agency.
    pub sealed: bool,
    /// The items whose content it carries (evidence id, SHA-256): what custody `transferred`
    /// is recorded for by a manual export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<(Uuid, String)>,
}

/// Writes frames for one blob.
struct Framer<'a, W: Write + ?Sized> {
    w: &'a mut W,
    blob: u32,
    chunk: u32,
    buf: Vec<u8>,
}

impl<W: Write + ?Sized> Framer<'_, W> {
    fn emit(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.w.write_all(&self.blob.to_le_bytes())?;
        self.w.write_all(&self.chunk.to_le_bytes())?;
        self.w.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.w.write_all(&self.buf)?;
        self.chunk += 1;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write + ?Sized> Write for Framer<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK_SIZE as usize - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK_SIZE as usize {
            self.emit()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything `export` needs besides the store.
pub struct ExportOptions<'a> {
    /// The case to export.
    pub case: Uuid,
    /// Only events at or after this journal position.
    pub since: Option<u64>,
    /// Recipient agency.
    pub agency: &'a AgencyPublic,
    /// The profile's credential from that agency.
    pub credential: &'a SignedDoc,
    /// Seal to the agency (false only for tests and courts).
    pub seal: bool,
    /// Only this profile's own events (sync: the agency already holds the rest, it sent them).
    pub own_only: bool,
    /// The bundle's id (sync names outbox files by it); a new time-ordered id when None.
    pub bundle_id: Option<Uuid>,
    /// Sync's starting point to record with this export: every event before this journal
    /// record has now been exported to the agency. Only sync sets it, and only on the last
    /// bundle of a complete pass; a manual export (one case) or a pass that stopped part-way
    /// never moves it, so sync never skips an event.
    pub sync_point: Option<u64>,
    /// Contents the agency said it already holds (`POST /v1/held`): named by the bundle's
    /// events, not carried ("no byte twice"). Only staff may send such a bundle; the agency
    /// refuses one from a volunteer (`blob_missing`), whatever it holds.
    pub held: Option<&'a BTreeSet<String>>,
}

/// Writes a case's events and evidence as one signed (and sealed) bundle. Never overwrites;
/// the file appears complete or not at all. Records `bundle_exported` in the store.
pub fn export(store: &mut Store, opts: &ExportOptions<'_>, out: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<ExportSummary> {
    if out.exists() {
        return Err(TrustError::new(Reason::Io, format!("{} already exists; casebridge never overwrites files", out.display())));
    }
    let mut events = store.case_events(opts.case, opts.since)?;
    if opts.own_only {
        // This device's own chain: the member's other devices send theirs.
        let me = store.whoami();
        events.retain(|e| e.body().author == me.member_id && e.body().key == me.public_key);
    }
    let mut blobs: Vec<BlobEntry> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut items = Vec::new();
    let mut tombstones = Vec::new();
    for ev in &events {
        if let EventKind::EvidenceAdded { object, evidence_id, .. } = &ev.body().kind {
            // A deleted item travels as its events and the agency's tombstone, without content.
            if let Some(t) = store.tombstone(*evidence_id)? {
                tombstones.push(t.document);
                continue;
            }
            let held = opts.held.is_some_and(|h| h.contains(&object.sha256));
            if seen.insert(object.sha256.clone()) && !held && store.has_content(&object.sha256) {
                blobs.push(BlobEntry { sha256: object.sha256.clone(), size: object.size, chunks: chunks_for(object.size) });
            }
            if !held && store.has_content(&object.sha256) {
                items.push((*evidence_id, object.sha256.clone()));
            }
        }
    }
    let last = store.last_bundle_out(opts.agency.agency_id)?;
    let manifest = Manifest {
        v: 1,
        // Time-ordered ids: an outbox sorted by name uploads in sequence order.
        bundle_id: opts.bundle_id.unwrap_or_else(Uuid::now_v7),
        created_at: now(),
        sender: store.whoami().member_id,
        sender_key: hex::encode(store.public_key()),
        credential: opts.credential.clone(),
        recipient_agency: opts.agency.agency_id,
        seq: last.as_ref().map_or(1, |l| l.seq + 1),
        prev_bundle: last.map_or_else(|| ZERO_HASH.to_string(), |l| l.manifest_hash),
        case_id: Some(opts.case),
        events: events.iter().map(|e| B64.encode(e.envelope())).collect(),
        blobs,
        chunk_size: CHUNK_SIZE,
        tombstones,
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    if manifest_bytes.len() > MAX_MANIFEST_LEN as usize {
        return Err(TrustError::new(
            Reason::DeclaredSizeTooLarge,
            "the case has too many events for one bundle; export it in parts with --since",
        ));
    }
    let sig = store.sign_detached(MANIFEST_CONTEXT, &manifest_bytes);
    let manifest_hash = casebridge_core::to_hex(&casebridge_core::sha256(&manifest_bytes));

    let partial = out.with_file_name(format!(".{}.partial", out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
    let result = (|| -> Result<u64> {
        let file = OpenOptions::new().write(true).create_new(true).open(&partial).map_err(io_err("creating", &partial))?;
        let buffered = BufWriter::with_capacity(1024 * 1024, file);
        let mut bytes = 0u64;
        let body = |w: &mut dyn Write, bytes: &mut u64, store: &mut Store, progress: &mut dyn FnMut(u64) -> bool| -> Result<()> {
            let e = |err: std::io::Error| TrustError::new(Reason::Io, format!("writing the bundle: {err}"));
            w.write_all(BUNDLE_MAGIC).map_err(e)?;
            w.write_all(&BUNDLE_VERSION.to_le_bytes()).map_err(e)?;
            w.write_all(store.public_key()).map_err(e)?;
            w.write_all(&sig).map_err(e)?;
            w.write_all(&(manifest_bytes.len() as u32).to_le_bytes()).map_err(e)?;
            w.write_all(&manifest_bytes).map_err(e)?;
            for (i, b) in manifest.blobs.iter().enumerate() {
                let mut framer = Framer { w: &mut *w, blob: i as u32, chunk: 0, buf: Vec::with_capacity(CHUNK_SIZE as usize) };
                let base = *bytes;
                store.read_content(&b.sha256, b.size, &mut framer, &mut |d| progress(base + d))?;
                framer.emit().map_err(e)?;
                *bytes += b.size;
            }
            w.write_all(END_MAGIC).map_err(e)?;
            Ok(())
        };
        let mut file = if opts.seal {
            let recipient = opts.agency.recipient()?;
            let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|_| TrustError::new(Reason::Store, "could not seal to the agency key"))?;
            let mut w = enc.wrap_output(buffered).map_err(io_err("writing", &partial))?;
            body(&mut w, &mut bytes, store, progress)?;
            w.finish().map_err(io_err("writing", &partial))?.into_inner().map_err(|e| io_err("writing", &partial)(e.into_error()))?
        } else {
            let mut w = buffered;
            body(&mut w, &mut bytes, store, progress)?;
            w.into_inner().map_err(|e| io_err("writing", &partial)(e.into_error()))?
        };
        file.flush().map_err(io_err("writing", &partial))?;
        file.sync_all().map_err(io_err("syncing", &partial))?;
        Ok(bytes)
    })();
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    if out.exists() {
        let _ = fs::remove_file(&partial);
        return Err(TrustError::new(Reason::Io, format!("{} appeared while exporting; nothing was overwritten", out.display())));
    }
    fs::rename(&partial, out).map_err(io_err("writing", out))?;
    store.record_local(ProfileEvent::BundleExported {
        bundle_id: manifest.bundle_id,
        agency_id: opts.agency.agency_id,
        bundle_seq: manifest.seq,
        manifest_hash: manifest_hash.clone(),
        case_id: Some(opts.case),
        upto: opts.sync_point,
    })?;
    Ok(ExportSummary {
        bundle_id: manifest.bundle_id,
        seq: manifest.seq,
        manifest_hash,
        events: manifest.events.len(),
        blobs: manifest.blobs.len(),
        bytes,
        path: out.to_path_buf(),
        sealed: opts.seal,
        items,
    })
}

/// What a reader trusts: the agency (pinned identity), its revocation list, and optionally
/// its sealing key to open sealed bundles, its own clock and its record of the credentials it
/// issued (the agency opening a bundle has both; see [`Anchor::at`] and [`Anchor::issued`]).
pub struct Anchor<'a> {
    /// The recipient agency.
    pub agency: &'a AgencyPublic,
    /// Its revocation list (already checked against rollback by the caller).
    pub revocation: &'a RevocationList,
    /// Its sealing identity, to open sealed bundles.
    pub sealing: Option<&'a age::x25519::Identity>,
    /// The receiver's clock: when set, the sender's credential must be valid *now* (not at
    /// the `created_at` the sender chose). `None`: judged at `created_at` (a reader that is
    /// not the agency, checking what was true when the bundle was made).
    pub now: Option<DateTime<FixedOffset>>,
    /// Every credential the agency issued. When set: the sender's role is the one of the
    /// newest credential the agency issued for the sender's key and valid at `now` (not the
    /// embedded one, which may be older), and every event's author must hold a credential
    /// for the key that signed it.
    pub issued: Option<&'a [Credential]>,
    /// The name disclosures the agency keeps (by credential serial): the sender's is kept
    /// with its credential, so that staff served by this store can show the sender's name.
    pub names: Option<&'a BTreeMap<Uuid, NameDisclosure>>,
}

impl<'a> Anchor<'a> {
    /// An anchor judging credentials at signing time, without the agency's records.
    pub fn new(agency: &'a AgencyPublic, revocation: &'a RevocationList, sealing: Option<&'a age::x25519::Identity>) -> Anchor<'a> {
        Anchor { agency, revocation, sealing, now: None, issued: None, names: None }
    }

    /// Judges the sender's credential at the receiver's clock `now`.
    pub fn at(mut self, now: DateTime<FixedOffset>) -> Anchor<'a> {
        self.now = Some(now);
        self
    }

    /// Uses the agency's record of the credentials it issued (see [`Anchor::issued`]).
    pub fn issued(mut self, issued: &'a [Credential]) -> Anchor<'a> {
        self.issued = Some(issued);
        self
    }

    /// Uses the agency's name disclosures (see [`Anchor::names`]).
    pub fn names(mut self, names: &'a BTreeMap<Uuid, NameDisclosure>) -> Anchor<'a> {
        self.names = Some(names);
        self
    }
}

/// A verified bundle.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of the manifest bytes, hex.
    pub manifest_hash: String,
    /// The sender's credential.
    pub credential: Credential,
    /// The events, signatures verified.
    pub events: Vec<SignedEvent>,
    /// Whether the file was sealed.
    pub sealed: bool,
    /// Content bytes verified.
    pub bytes: u64,
    /// Opening only: the store already holds this bundle (nothing was stored; the whole
    /// bundle was still verified).
    pub replay: bool,
    /// Indexes of events signed by a key on the revocation list: refused unless already held.
    pub revoked_events: Vec<usize>,
    /// Opening a volunteer's bundle only: what the receiving store read from each content the
    /// bundle brought, once stored (by SHA-256 hex; see [`ContentImporter::observe`]). Read
    /// here, in the first half of an open, so [`import_verified`] records it in custody
    /// "received" without reading content under the store's write lock.
    pub observed: BTreeMap<String, Observed>,
    /// The disclosure of the name committed to by the embedded credential, when the anchor
    /// holds the agency's names ([`Anchor::names`]) and it opens the commitment.
    pub name: Option<NameDisclosure>,
    /// The manifest's tombstones, each verified against the agency's root key and naming an
    /// item the bundle adds (with its case and content hash), with its signed document (base64).
    pub tombstones: Vec<(casebridge_core::Tombstone, String)>,
}

/// What the reader does with each blob's bytes.
pub enum BlobSink<'a> {
    /// Hash only (verify).
    Check,
    /// Store into a profile store (open); content is kept only if its hash matches. The
    /// sequence check and the policy run on the verified manifest and events before any
    /// content is stored, so a refused bundle leaves nothing behind.
    Store(&'a mut Store, Policy<'a>),
    /// Store into a profile store's objects without holding the store (the endpoint's first
    /// half of [`open_into_checked`], see [`import_verified`]); content is kept only if its
    /// hash matches. `replay` says whether the store already imported a bundle (see
    /// [`check_sequence`]): then nothing is stored.
    Objects {
        /// Where content goes.
        content: &'a ContentImporter,
        /// The sequence check and the policy against the store, run on the verified manifest
        /// and events (no content yet: `bytes` is 0) before any content is stored. Returns
        /// whether the bundle is a replay.
        replay: &'a dyn Fn(&Verified) -> Result<bool>,
    },
}

fn read_exact_or(r: &mut dyn Read, buf: &mut [u8], sealed: bool) -> Result<()> {
    r.read_exact(buf).map_err(|e| stream_err(e, sealed))
}

fn stream_err(e: std::io::Error, sealed: bool) -> TrustError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => TrustError::new(Reason::Truncated, "the bundle ends early"),
        std::io::ErrorKind::InvalidData if sealed => {
            TrustError::new(Reason::SealDamaged, "the sealed bundle fails authentication: it was altered or damaged")
        }
        _ => TrustError::new(Reason::Io, format!("reading the bundle: {e}")),
    }
}

/// Reads one blob's frames as a plain byte stream, checking the framing as it goes.
struct BlobReader<'a> {
    r: &'a mut dyn Read,
    sealed: bool,
    blob: u32,
    next_chunk: u64,
    left_in_chunk: u32,
    left_total: u64,
    failure: Option<TrustError>,
}

impl BlobReader<'_> {
    fn fail(&mut self, e: TrustError) -> std::io::Error {
        let msg = e.message.clone();
        self.failure = Some(e);
        std::io::Error::other(msg)
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left_in_chunk == 0 {
            if self.left_total == 0 {
                return Ok(0);
            }
            let mut h = [0u8; 12];
            if let Err(e) = self.r.read_exact(&mut h) {
                let err = stream_err(e, self.sealed);
                return Err(self.fail(err));
            }
            let blob = u32::from_le_bytes(h[0..4].try_into().expect("4 bytes"));
            let chunk = u64::from(u32::from_le_bytes(h[4..8].try_into().expect("4 bytes")));
            let len = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
            if blob != self.blob || chunk != self.next_chunk {
                let (reason, what) = if blob == self.blob && chunk < self.next_chunk {
                    (Reason::ChunkOutOfOrder, "duplicated")
                } else {
                    (Reason::ChunkOutOfOrder, "out of order")
                };
                let err = TrustError::new(
                    reason,
                    format!("blob {} chunk {}: a chunk is {what} (found blob {blob} chunk {chunk})", self.blob, self.next_chunk),
                );
                return Err(self.fail(err));
            }
            let expected = self.left_total.min(u64::from(CHUNK_SIZE));
            if u64::from(len) != expected {
                let err = TrustError::new(
                    Reason::ChunkInvalid,
                    format!("blob {} chunk {chunk} declares {len} bytes, {expected} expected", self.blob),
                );
                return Err(self.fail(err));
            }
            self.left_in_chunk = len;
            self.next_chunk += 1;
        }
        let n = buf.len().min(self.left_in_chunk as usize);
        let got = match self.r.read(&mut buf[..n]) {
            Ok(0) => {
                let err = TrustError::new(Reason::Truncated, "the bundle ends inside a chunk");
                return Err(self.fail(err));
            }
            Ok(k) => k,
            Err(e) => {
                let err = stream_err(e, self.sealed);
                return Err(self.fail(err));
            }
        };
        self.left_in_chunk -= got as u32;
        self.left_total -= got as u64;
        Ok(got)
    }
}

/// Opens (if sealed) and verifies a bundle file: signature, manifest, credential at signing
/// time, revocation, every event's signature, and every blob's framing and hash. With
/// `BlobSink::Store` the blobs are stored as they stream (only content that matches its hash is
/// kept); events are *not* imported here (see [`open_into`]).
pub fn verify(path: &Path, anchor: &Anchor<'_>, sink: BlobSink<'_>, progress: &mut dyn FnMut(u64) -> bool) -> Result<Verified> {
    let file = File::open(path).map_err(io_err("opening", path))?;
    verify_stream(BufReader::with_capacity(256 * 1024, file), anchor, sink, progress).map_err(|e| {
        if e.reason == Reason::NotABundle {
            TrustError::new(Reason::NotABundle, format!("{} is not a Casebridge bundle", path.display()))
        } else {
            e
        }
    })
}

/// [`verify`] over any buffered reader (a file, or bytes in memory).
pub fn verify_stream<R: std::io::BufRead>(
    mut input: R,
    anchor: &Anchor<'_>,
    sink: BlobSink<'_>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Verified> {
    let head = input.fill_buf().map_err(|e| TrustError::new(Reason::Io, format!("reading the bundle: {e}")))?.to_vec();
    if head.starts_with(AGE_MAGIC) {
        let Some(identity) = anchor.sealing else {
            return Err(TrustError::new(
                Reason::SealingKeyRequired,
                "the bundle is sealed: verifying it needs the agency's sealing key (--agency-dir)",
            ));
        };
        let dec = age::Decryptor::new_buffered(input)
            .map_err(|_| TrustError::new(Reason::SealDamaged, "the sealed bundle's header is damaged"))?;
        let mut reader = match dec.decrypt(std::iter::once(identity as &dyn age::Identity)) {
            Ok(r) => r,
            Err(age::DecryptError::NoMatchingKeys) => {
                return Err(TrustError::new(
                    Reason::SealedToOtherAgency,
                    "the bundle is sealed to another agency's key; this agency cannot open it",
                ))
            }
            Err(_) => return Err(TrustError::new(Reason::SealDamaged, "the sealed bundle's header fails authentication")),
        };
        verify_plain(&mut reader, true, anchor, sink, progress)
    } else if head.starts_with(BUNDLE_MAGIC) {
        verify_plain(&mut input, false, anchor, sink, progress)
    } else {
        Err(TrustError::new(Reason::NotABundle, "not a Casebridge bundle"))
    }
}

fn verify_plain(
    r: &mut dyn Read,
    sealed: bool,
    anchor: &Anchor<'_>,
    mut sink: BlobSink<'_>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Verified> {
    let mut fixed = [0u8; 8 + 4 + 32 + 64 + 4];
    read_exact_or(r, &mut fixed, sealed)?;
    if &fixed[..8] != BUNDLE_MAGIC {
        return Err(TrustError::new(Reason::NotABundle, "the sealed content is not a Casebridge bundle"));
    }
    let version = u32::from_le_bytes(fixed[8..12].try_into().expect("4 bytes"));
    if version != BUNDLE_VERSION {
        return Err(TrustError::new(
            Reason::UnsupportedVersion,
            format!("bundle format version {version} is not supported (this casebridge reads {BUNDLE_VERSION})"),
        ));
    }
    let sender_key = fixed[12..44].to_vec();
    let sig = fixed[44..108].to_vec();
    let len = u32::from_le_bytes(fixed[108..112].try_into().expect("4 bytes"));
    if len > MAX_MANIFEST_LEN {
        return Err(TrustError::new(
            Reason::DeclaredSizeTooLarge,
            format!("the manifest declares {len} bytes; at most {MAX_MANIFEST_LEN} are accepted"),
        ));
    }
    let mut manifest_bytes = vec![0u8; len as usize];
    read_exact_or(r, &mut manifest_bytes, sealed)?;
    // Verify before parsing anything in the manifest.
    let signed = [MANIFEST_CONTEXT, &manifest_bytes].concat();
    if !casebridge_core::verify_signature(&sender_key, &signed, &sig) {
        return Err(TrustError::new(Reason::BadSignature, "the sender's signature over the manifest does not verify"));
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|_| TrustError::new(Reason::ManifestInvalid, "the signed manifest does not parse"))?;
    let manifest_hash = casebridge_core::to_hex(&casebridge_core::sha256(&manifest_bytes));
    drop(manifest_bytes);
    if manifest.v != 1 || manifest.chunk_size != CHUNK_SIZE {
        return Err(TrustError::new(Reason::UnsupportedVersion, "the manifest uses an unsupported schema or chunk size"));
    }
    if manifest.sender_key != hex::encode(&sender_key) {
        return Err(TrustError::new(Reason::KeyMismatch, "the manifest names another sender key than the one that signed it"));
    }
    if manifest.recipient_agency != anchor.agency.agency_id {
        return Err(TrustError::new(
            Reason::RecipientMismatch,
            format!(
                "the bundle is addressed to agency {}, not to {} (re-sealed or misdirected)",
                manifest.recipient_agency, anchor.agency.agency_id
            ),
        ));
    }
    if manifest.blobs.len() > MAX_BLOBS || manifest.events.len() > MAX_EVENTS {
        return Err(TrustError::new(Reason::DeclaredSizeTooLarge, "the manifest lists more blobs or events than accepted"));
    }
    let mut blob_set = BTreeSet::new();
    for b in &manifest.blobs {
        if b.size > MAX_BLOB_SIZE {
            return Err(TrustError::new(
                Reason::DeclaredSizeTooLarge,
                format!("a blob declares {} bytes; at most {MAX_BLOB_SIZE} are accepted", b.size),
            ));
        }
        if b.chunks != chunks_for(b.size)
            || b.sha256.len() != 64
            || !b.sha256.bytes().all(|c| c.is_ascii_hexdigit())
            || !blob_set.insert(b.sha256.clone())
        {
            return Err(TrustError::new(Reason::ManifestInvalid, "a blob entry is inconsistent (chunk count, hash or duplicate)"));
        }
    }
    if manifest.tombstones.len() > manifest.events.len() {
        return Err(TrustError::new(Reason::DeclaredSizeTooLarge, "the manifest lists more tombstones than events"));
    }
    if manifest.prev_bundle.len() != 64 || manifest.seq == 0 {
        return Err(TrustError::new(Reason::ManifestInvalid, "the sequence number or previous-bundle hash is malformed"));
    }

    // Credential: issued by this agency, for this key and member, valid when signed.
    let credential = Credential::verify(&manifest.credential, &anchor.agency.root_key_bytes()?, anchor.agency.agency_id).map_err(|e| {
        match e.reason {
            Reason::BadSignature | Reason::UnknownSigner => {
                TrustError::new(Reason::UnknownSigner, "the sender's credential was not issued by this agency")
            }
            _ => e,
        }
    })?;
    if credential.key != manifest.sender_key || credential.member_id != manifest.sender {
        return Err(TrustError::new(Reason::KeyMismatch, "the credential belongs to another member or key than the sender"));
    }
    // Judged at the receiver's clock when it has one: the sender chooses `created_at`.
    let judged_at = anchor.now.unwrap_or(manifest.created_at);
    if !credential.valid_at(judged_at) {
        let when = if anchor.now.is_some() { "is not valid now" } else { "was not valid when the bundle was signed" };
        return Err(TrustError::new(
            Reason::CredentialExpired,
            format!(
                "the credential {when} ({}; valid {} to {})",
                judged_at.to_rfc3339(),
                credential.not_before.to_rfc3339(),
                credential.not_after.to_rfc3339()
            ),
        ));
    }
    if let Some(r) = anchor.revocation.find(manifest.sender, &manifest.sender_key) {
        return Err(TrustError::new(
            Reason::SignerRevoked,
            format!("the sender {} was revoked at {}", manifest.sender, r.revoked_at.to_rfc3339()),
        ));
    }
    // The agency's own record decides the sender's role: the newest credential it issued for
    // this member and key that is valid now. An embedded credential from an earlier role (an
    // investigator since made a volunteer) carries no rights.
    let name = anchor.names.and_then(|n| n.get(&credential.serial)).filter(|d| d.check(&credential).is_ok()).cloned();
    let credential = match anchor.issued {
        None => credential,
        Some(issued) => issued
            .iter()
            .filter(|c| c.member_id == manifest.sender && c.key == manifest.sender_key && c.valid_at(judged_at))
            .max_by_key(|c| (c.issued_at, c.serial))
            .cloned()
            .ok_or_else(|| {
                TrustError::new(
                    Reason::UnknownSigner,
                    format!("the agency holds no current credential for member {} and the key that signed", manifest.sender),
                )
            })?,
    };
    let staff = credential.role != Role::Volunteer;

    // Tombstones: each signed by the agency's root key (checked before its body is parsed),
    // at most one per item.
    let mut tombstones: BTreeMap<Uuid, (casebridge_core::Tombstone, String)> = BTreeMap::new();
    for (i, t) in manifest.tombstones.iter().enumerate() {
        let doc = B64
            .decode(t)
            .ok()
            .and_then(|b| SignedDoc::parse(&b).ok())
            .ok_or_else(|| TrustError::new(Reason::TombstoneNotFromAgency, format!("tombstone {i} is not a signed document")))?;
        let tomb = crate::retention::verify_tombstone(&doc, anchor.agency)?;
        if tombstones.insert(tomb.evidence_id, (tomb, t.clone())).is_some() {
            return Err(TrustError::new(Reason::ManifestInvalid, format!("tombstone {i} names an item another tombstone names")));
        }
    }
    let mut tombstoned_carried = BTreeSet::new();

    // Events: every signature, no local events, every author credentialed for the key that
    // signed, evidence only with its content.
    let mut events = Vec::with_capacity(manifest.events.len());
    let mut revoked_events = Vec::new();
    // (member, key) pairs the agency issued credentials for: one lookup per event.
    let credentialed: Option<std::collections::HashSet<(Uuid, &str)>> =
        anchor.issued.map(|issued| issued.iter().map(|c| (c.member_id, c.key.as_str())).collect());
    for (i, e) in manifest.events.iter().enumerate() {
        let env = B64.decode(e).map_err(|_| TrustError::new(Reason::EventInvalid, format!("event {i} is not base64")))?;
        let ev = SignedEvent::from_envelope(env)
            .map_err(|_| TrustError::new(Reason::EventInvalid, format!("event {i} fails its signature or does not parse")))?;
        if ev.body().kind.is_local() {
            return Err(TrustError::new(Reason::EventInvalid, format!("event {i} is a local trust event and may not travel")));
        }
        let b = ev.body();
        if let Some(credentialed) = &credentialed {
            if !credentialed.contains(&(b.author, b.key.as_str())) {
                return Err(TrustError::new(
                    Reason::AuthorNotCredentialed,
                    format!("event {i} (member {} event {}) is signed by a key the agency never issued to that member", b.author, b.seq),
                ));
            }
        }
        if anchor.revocation.find(b.author, &b.key).is_some() {
            revoked_events.push(i);
        }
        if let EventKind::EvidenceAdded { object, .. } = &ev.body().kind {
            // Only staff may name content the receiver already holds without carrying it: a
            // volunteer's claim on a hash must come with its bytes, and the refusal is the
            // same whether or not the receiver holds that hash (no oracle).
            let held = staff
                && match &sink {
                    BlobSink::Check => false,
                    BlobSink::Store(s, _) => s.has_content(&object.sha256),
                    BlobSink::Objects { content, .. } => content.has_content(&object.sha256),
                };
            let evidence_id = ev.body().kind.evidence_id().unwrap_or_default();
            let case_id = ev.body().kind.case_id();
            match tombstones.get(&evidence_id) {
                // Deleted by the agency: its content no longer exists and must not travel.
                Some((t, _)) => {
                    if t.sha256 != object.sha256 || Some(t.case_id) != case_id {
                        return Err(TrustError::new(
                            Reason::TombstoneMismatch,
                            format!("the tombstone of evidence {evidence_id} names another case or content than event {i}"),
                        ));
                    }
                    if blob_set.contains(&object.sha256) {
                        return Err(TrustError::new(
                            Reason::ManifestInvalid,
                            format!("the bundle carries content of evidence {evidence_id}, which the agency deleted"),
                        ));
                    }
                    tombstoned_carried.insert(evidence_id);
                }
                None if !blob_set.contains(&object.sha256) && !held => {
                    return Err(TrustError::new(
                        Reason::BlobMissing,
                        format!("event {i} adds evidence whose content the bundle does not carry"),
                    ));
                }
                None => {}
            }
        }
        events.push(ev);
    }
    if let Some(id) = tombstones.keys().find(|id| !tombstoned_carried.contains(id)) {
        return Err(TrustError::new(
            Reason::TombstoneUnknownItem,
            format!("a tombstone names evidence {id}, which no event of the bundle adds"),
        ));
    }

    let mut verified = Verified {
        manifest,
        manifest_hash,
        credential,
        events,
        sealed,
        bytes: 0,
        replay: false,
        revoked_events,
        observed: BTreeMap::new(),
        name,
        tombstones: tombstones.into_values().collect(),
    };
    let replay = match &sink {
        BlobSink::Check => false,
        BlobSink::Store(store, policy) => precheck(store, &verified, *policy)?,
        BlobSink::Objects { replay, .. } => replay(&verified)?,
    };
    let manifest = &verified.manifest;
    if replay {
        // Already imported: verify the rest (a damaged copy must not pass as a duplicate) but
        // store nothing.
        sink = BlobSink::Check;
    }

    // Blobs. The content a volunteer's bundle brings is observed (media type, metadata) as it
    // streams into the store, in the same pass that hashes and stores it, instead of reading
    // the stored object back afterwards; the observation counts only once the blob is stored
    // (its hash matched).
    let to_observe: BTreeSet<String> =
        if matches!(sink, BlobSink::Check) { BTreeSet::new() } else { brought(&verified).into_iter().map(|(_, _, sha, _)| sha).collect() };
    let mut observed = BTreeMap::new();
    let mut total = 0u64;
    for (i, b) in manifest.blobs.iter().enumerate() {
        let mut br = BlobReader { r: &mut *r, sealed, blob: i as u32, next_chunk: 0, left_in_chunk: 0, left_total: b.size, failure: None };
        let base = total;
        let mut prog = |d: u64| progress(base + d);
        let mut observer = to_observe.contains(&b.sha256).then(|| ContentObserver::new(b.size));
        let mut tee = Observing { r: &mut br, observer: observer.as_mut() };
        let res: Result<()> = match &mut sink {
            BlobSink::Check => {
                let mut ctx = digest::Context::new(&digest::SHA256);
                let mut buf = vec![0u8; 256 * 1024];
                let mut done = 0u64;
                while let Ok(n) = tee.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    ctx.update(&buf[..n]);
                    done += n as u64;
                    if !prog(done) {
                        return Err(TrustError::new(Reason::Io, "cancelled; nothing was changed"));
                    }
                }
                if br.failure.is_none() && casebridge_core::to_hex(ctx.finish().as_ref()) != b.sha256 {
                    Err(TrustError::new(Reason::BlobHashMismatch, format!("blob {i} does not match its SHA-256")))
                } else {
                    Ok(())
                }
            }
            BlobSink::Store(store, _) => store.import_content(&mut tee, &b.sha256, b.size, &mut prog).map_err(TrustError::from),
            BlobSink::Objects { content, .. } => content.import_content(&mut tee, &b.sha256, b.size, &mut prog).map_err(TrustError::from),
        };
        if let Some(f) = br.failure.take() {
            return Err(f);
        }
        res.map_err(|e| {
            if e.reason == Reason::BlobHashMismatch {
                TrustError::new(Reason::BlobHashMismatch, format!("blob {i} does not match its SHA-256"))
            } else {
                e
            }
        })?;
        if let Some(o) = observer {
            observed.insert(b.sha256.clone(), o.finish());
        }
        total += b.size;
    }
    let mut end = [0u8; 8];
    read_exact_or(r, &mut end, sealed)?;
    if &end != END_MAGIC {
        return Err(TrustError::new(Reason::TrailingData, "unexpected bytes where the bundle should end (an extra or misplaced chunk)"));
    }
    let mut extra = [0u8; 1];
    match r.read(&mut extra) {
        Ok(0) => {}
        Ok(_) => return Err(TrustError::new(Reason::TrailingData, "bytes follow the end of the bundle")),
        Err(e) => return Err(stream_err(e, sealed)),
    }
    verified.bytes = total;
    verified.replay = replay;
    let content = match &sink {
        BlobSink::Check => None,
        BlobSink::Store(store, _) => Some(store.content_importer()),
        BlobSink::Objects { content, .. } => Some((*content).clone()),
    };
    if let Some(content) = content {
        verified.observed = observed;
        // Content brought but not observed on the way in (none normally: every blob brought
        // was streamed above) is read back from the store as before.
        if brought(&verified).iter().any(|(_, _, sha, _)| !verified.observed.contains_key(sha)) {
            for (sha, o) in observe_received(&verified, &content) {
                verified.observed.entry(sha).or_insert(o);
            }
        }
    }
    Ok(verified)
}

/// A blob's bytes on their way into the store, shown to an observer as they pass.
struct Observing<'a, R: Read> {
    r: &'a mut R,
    observer: Option<&'a mut ContentObserver>,
}

impl<R: Read> Read for Observing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.r.read(buf)?;
        if let Some(o) = self.observer.as_deref_mut() {
            o.feed(&buf[..n]);
        }
        Ok(n)
    }
}

/// The evidence a volunteer's bundle brings with its content (its event, evidence id, SHA-256
/// hex, size): what the receiving store records custody "received" for (the events it does not
/// hold yet).
fn brought(v: &Verified) -> Vec<(&SignedEvent, Uuid, String, u64)> {
    if v.credential.role != Role::Volunteer {
        return Vec::new();
    }
    let m = &v.manifest;
    let carried: BTreeSet<&str> = m.blobs.iter().map(|b| b.sha256.as_str()).collect();
    v.events
        .iter()
        .filter(|ev| ev.body().author == m.sender)
        .filter_map(|ev| match &ev.body().kind {
            EventKind::EvidenceAdded { evidence_id, object, .. } if carried.contains(object.sha256.as_str()) => {
                Some((ev, *evidence_id, object.sha256.clone(), object.size))
            }
            _ => None,
        })
        .collect()
}

/// What the receiving store reads itself from the content a volunteer's bundle brought (the
/// submitter's `media_type` and `extracted` are claims; this is the agency's own reading).
/// Content that cannot be read is left out: its custody "received" then carries no
/// observation, and the court report says so.
pub fn observe_received(v: &Verified, content: &ContentImporter) -> BTreeMap<String, Observed> {
    let mut out = BTreeMap::new();
    for (_, _, sha, size) in brought(v) {
        if out.contains_key(&sha) {
            continue;
        }
        if let Ok(o) = content.observe(&sha, size) {
            out.insert(sha, o);
        }
    }
    out
}

/// What is decided on a verified manifest and its events before any content is stored (and
/// decided again, under the store's lock, before the events are imported): the sequence check
/// (true: a replay, nothing more to check), the `policy`, events of revoked keys, the event
/// chains (per signing key: no fork, no broken link), and that every record the bundle creates
/// is new. Call it from a [`BlobSink::Objects`] `replay`
/// closure so that a refused bundle stores nothing.
pub fn precheck(store: &Store, v: &Verified, policy: Policy<'_>) -> Result<bool> {
    if check_sequence(store, &v.manifest)? {
        return Ok(true);
    }
    withdrawal_policy(store, v)?;
    policy(store, v)?;
    check_held_revoked(store, v)?;
    // A fork or a broken link of a chain (one per signing key) is refused before any content
    // is stored. (The store's import checks it again.)
    store.check_chains(&v.events)?;
    check_creations(store, v)?;
    Ok(false)
}

/// A withdrawal (`submission_withdrawn`) only by the submission's own volunteer
/// ([`Reason::NotYourSubmission`], also for a submission the agency does not hold, so the
/// answer tells nobody whether it exists), of a submission with no accepted item
/// ([`Reason::SubmissionAccepted`]), of a case not under legal hold ([`Reason::CaseOnHold`]).
/// A submission made in the same bundle may be withdrawn in it. Only the sender's events the
/// agency does not hold yet are judged.
fn withdrawal_policy(store: &Store, v: &Verified) -> Result<()> {
    let sender = v.manifest.sender;
    let held = |e: casebridge_core::Error| TrustError::new(Reason::Store, e.to_string());
    let made_here: BTreeMap<Uuid, Uuid> = v
        .events
        .iter()
        .filter(|ev| ev.body().author == sender)
        .filter_map(|ev| match &ev.body().kind {
            EventKind::SubmissionMade { submission_id, case_id, .. } => Some((*submission_id, *case_id)),
            _ => None,
        })
        .collect();
    for ev in &v.events {
        let b = ev.body();
        let EventKind::SubmissionWithdrawn { case_id, submission_id, .. } = &b.kind else { continue };
        if store.holds_event(ev).map_err(held)? {
            continue;
        }
        let not_yours = || {
            TrustError::new(
                Reason::NotYourSubmission,
                format!("member {} withdraws submission {submission_id}, which only its own volunteer may withdraw", b.author),
            )
        };
        if b.author != sender {
            return Err(not_yours());
        }
        let case = match store.records().submission(*submission_id).map_err(held)? {
            Some(s) if s.submitter == sender => {
                let view = store.submission(*submission_id).map_err(held)?;
                if view.items.iter().any(|i| i.state == casebridge_core::ReviewState::Accepted) {
                    return Err(TrustError::new(
                        Reason::SubmissionAccepted,
                        format!("submission {submission_id} has an accepted item: it is part of the case and cannot be withdrawn"),
                    ));
                }
                s.case_id
            }
            Some(_) => return Err(not_yours()),
            None => *made_here.get(submission_id).ok_or_else(not_yours)?,
        };
        if case != *case_id {
            return Err(not_yours());
        }
        if store.records().case(case).map_err(held)?.is_some_and(|c| c.hold.is_some()) {
            return Err(TrustError::new(
                Reason::CaseOnHold,
                format!("the case of submission {submission_id} is under legal hold: nothing of it may be deleted now"),
            ));
        }
    }
    Ok(())
}

/// Records are created once: an event creating a record whose id another event already took
/// (a leaked evidence or submission id) is refused. (The store's import checks it again.)
fn check_creations(store: &Store, v: &Verified) -> Result<()> {
    for ev in &v.events {
        if store.holds_event(ev)? {
            continue;
        }
        if let Some(what) = store.existing_creation(&ev.body().kind)? {
            return Err(TrustError::new(
                Reason::RecordExists,
                format!("{what} already exists; a second creation with the same id is refused"),
            ));
        }
    }
    Ok(())
}

/// Events signed by a revoked key are refused unless the store already holds them (a revoked
/// member's earlier work travels on in others' bundles; nothing new of theirs does).
fn check_held_revoked(store: &Store, v: &Verified) -> Result<()> {
    for &i in &v.revoked_events {
        let ev = &v.events[i];
        if !store.holds_event(ev)? {
            let b = ev.body();
            return Err(TrustError::new(
                Reason::SignerRevoked,
                format!("event {i} (member {} event {}) is signed by a revoked key and is not already held", b.author, b.seq),
            ));
        }
    }
    Ok(())
}

/// Outcome of [`open_into`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    /// Bundle id.
    pub bundle_id: Uuid,
    /// Sender.
    pub sender: Uuid,
    /// Sequence number.
    pub seq: u64,
    /// Manifest hash.
    pub manifest_hash: String,
    /// Events added (0 for a replay).
    pub events_added: u64,
    /// Events carried.
    pub events: u64,
    /// Blobs carried.
    pub blobs: u64,
    /// Stored, or already held.
    pub outcome: BundleOutcome,
    /// The case the bundle's manifest names, if any.
    #[serde(default)]
    pub case_id: Option<Uuid>,
    /// Evidence a volunteer submitted that this bundle brought (id, SHA-256): the endpoint
    /// records custody `received` for them.
    #[serde(default)]
    pub received: Vec<(Uuid, String)>,
}

/// Need to know (issue 16), for staff: a supervisor may send events of any case; an
/// investigator only of cases whose team they are on (as the agency holds it) or that they
/// open in this very bundle ([`Reason::NotOnTeam`]), and a team change only as the case's lead,
/// never removing the lead ([`Reason::TeamChangeForbidden`]); a legal hold and the approval to
/// disclose a contributor's identity, and a change of a held case's category (which decides its
/// retention rule), only from a supervisor ([`Reason::SupervisorOnly`]). Access entries are taken from
/// anyone (a removed member still reads what they hold, and that read is logged). Only the
/// sender's own events are
/// judged, and only those the agency does not hold yet: others' travel under their authors'
/// rights. Events of a case the agency does not hold are not judged (there is no team to judge
/// them by).
fn team_policy(store: &Store, v: &Verified) -> Result<()> {
    let sender = v.manifest.sender;
    if v.credential.role == Role::Supervisor {
        return Ok(());
    }
    let records = store.records();
    let held = |e: casebridge_core::Error| TrustError::new(Reason::Store, e.to_string());
    let mine = || v.events.iter().map(|ev| ev.body()).filter(|b| b.author == sender);
    let opened: BTreeSet<Uuid> = mine()
        .filter_map(|b| match &b.kind {
            EventKind::CaseCreated { case_id, .. } => Some(*case_id),
            _ => None,
        })
        .collect();
    let new_evidence: BTreeMap<Uuid, Uuid> = mine()
        .filter_map(|b| match &b.kind {
            EventKind::EvidenceAdded { evidence_id, case_id, .. } => Some((*evidence_id, *case_id)),
            _ => None,
        })
        .collect();
    for ev in v.events.iter().filter(|ev| ev.body().author == sender) {
        // What the agency already holds was judged when it came.
        if store.holds_event(ev).map_err(held)? {
            continue;
        }
        let b = ev.body();
        let case = match b.kind.evidence_id().and_then(|e| new_evidence.get(&e)) {
            Some(c) => Some(*c),
            None => records.case_of(&b.kind).map_err(held)?,
        };
        let Some(case) = case else { continue };
        let record = records.case(case).map_err(held)?;
        let lead = if opened.contains(&case) { Some(sender) } else { record.as_ref().and_then(|c| c.lead()) };
        match &b.kind {
            EventKind::TeamAssigned { member_id, .. } | EventKind::TeamUnassigned { member_id, .. } => {
                if lead != Some(sender) {
                    return Err(TrustError::new(
                        Reason::TeamChangeForbidden,
                        format!("member {sender} changes the team of case {case}, which only a supervisor or the case's lead may"),
                    ));
                }
                if matches!(b.kind, EventKind::TeamUnassigned { .. }) && lead == Some(*member_id) {
                    return Err(TrustError::new(
                        Reason::TeamChangeForbidden,
                        format!("the lead of case {case} cannot be removed from its team"),
                    ));
                }
            }
            EventKind::HoldPlaced { .. } | EventKind::HoldReleased { .. } => {
                return Err(TrustError::new(
                    Reason::SupervisorOnly,
                    format!("member {sender} places or releases a legal hold on case {case}, which only a supervisor may"),
                ));
            }
            EventKind::DisclosureRecorded { .. } => {
                return Err(TrustError::new(
                    Reason::SupervisorOnly,
                    format!("member {sender} approves disclosing a contributor's identity in case {case}, which only a supervisor may"),
                ));
            }
            // A case's category decides which retention rule deletes it: changing it (after the
            // bundle that opens the case) is a retention change, a supervisor's.
            EventKind::CaseEdited { category: Some(new), .. }
                if !opened.contains(&case) && record.as_ref().is_some_and(|c| c.category.as_deref() != Some(new.as_str())) =>
            {
                return Err(TrustError::new(
                    Reason::SupervisorOnly,
                    format!("member {sender} changes the category of case {case}, which decides its retention rule and only a supervisor may change"),
                ));
            }
            _ if opened.contains(&case) => {}
            // The access log keeps every read, also of what a member holds from before they
            // left the team.
            EventKind::AccessRecorded { .. } => {}
            _ => {
                if record.is_some_and(|c| !c.on_team(sender)) {
                    return Err(TrustError::new(
                        Reason::NotOnTeam,
                        format!("member {sender} sent '{}' for case {case}, whose team they are not on", b.kind.name()),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Notes are corrected only by their authors (issue 17): every `note_amended` of the bundle
/// that the store does not hold yet must be signed by the author of the note it amends (the
/// note as held, or added in this very bundle), whoever sends it and whatever their role
/// ([`Reason::AmendmentNotAuthor`]); an amendment of a note neither holds is refused
/// ([`Reason::AmendedNoteUnknown`]). The projection shows only the author's amendments too.
fn amendment_policy(store: &Store, v: &Verified) -> Result<()> {
    let held = |e: casebridge_core::Error| TrustError::new(Reason::Store, e.to_string());
    let added: BTreeMap<(Uuid, Uuid), Uuid> = v
        .events
        .iter()
        .filter_map(|ev| match &ev.body().kind {
            EventKind::NoteAdded { case_id, note_id, .. } => Some(((*case_id, *note_id), ev.body().author)),
            _ => None,
        })
        .collect();
    for ev in &v.events {
        let b = ev.body();
        let EventKind::NoteAmended { case_id, note_id, .. } = &b.kind else { continue };
        if store.holds_event(ev).map_err(held)? {
            continue;
        }
        let author = match added.get(&(*case_id, *note_id)) {
            Some(a) => Some(*a),
            None => store.records().note(*case_id, *note_id).map_err(held)?.filter(|n| n.added).map(|n| n.author),
        };
        match author {
            None => {
                return Err(TrustError::new(
                    Reason::AmendedNoteUnknown,
                    format!("member {} amends note {note_id} of case {case_id}, which is not held", b.author),
                ))
            }
            Some(a) if a != b.author => {
                return Err(TrustError::new(
                    Reason::AmendmentNotAuthor,
                    format!(
                        "member {} amends note {note_id} of case {case_id}, written by member {a}: only a note's author may amend it",
                        b.author
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks a manifest against what the store already received from that sender's key. Returns
/// true for a replay (the bundle id is already imported); refuses a sequence rollback and a
/// bundle that does not link to the previous one of the same key. Bundle sequences are per
/// signing key: each device of a member numbers its own bundles from 1, and one device's
/// position says nothing about another's. Two index lookups, whatever the store holds.
pub fn check_sequence(store: &Store, m: &Manifest) -> Result<bool> {
    if store.bundle_in(m.bundle_id)?.is_some() {
        return Ok(true);
    }
    if let Some(rec) = store.last_bundle_in(m.sender, &m.sender_key, m.recipient_agency)? {
        let seq = rec.seq;
        if m.seq <= seq {
            return Err(TrustError::new(
                Reason::SequenceRollback,
                format!(
                    "bundle sequence {} from member {} (key {}) is not after {} already received from that key",
                    m.seq,
                    m.sender,
                    short_key(&m.sender_key),
                    seq
                ),
            ));
        }
        if m.seq == seq + 1 && m.prev_bundle != rec.manifest_hash {
            return Err(TrustError::new(
                Reason::ChainBroken,
                format!("bundle {} does not link to the previous bundle {} of the sender's key {}", m.seq, seq, short_key(&m.sender_key)),
            ));
        }
    } else if m.seq == 1 && m.prev_bundle != ZERO_HASH {
        // A key's first bundle names no predecessor: one that does continues a chain this
        // store never saw (another key's, or a forged one).
        return Err(TrustError::new(
            Reason::ChainBroken,
            format!("bundle 1 of the sender's key {} names a previous bundle", short_key(&m.sender_key)),
        ));
    }
    Ok(false)
}

/// The first 16 hex digits of a key: enough to tell a member's devices apart in a message.
fn short_key(key: &str) -> &str {
    key.get(..16).unwrap_or(key)
}

/// Verifies a bundle and imports it into `store` (an agency-side profile) in one streaming
/// pass, under the same rules as the endpoint: [`contribution_policy`], and custody
/// "received" for the evidence a volunteer's bundle brings. Replay, rollback and the policy
/// are checked once the manifest and its events are verified, before any content is stored.
/// Idempotent: a bundle already imported adds nothing and reports outcome "duplicate". If a
/// later check fails (a blob that does not match its hash), content already streamed stays
/// only as unreferenced objects (reported by `check` as orphans); no event is recorded.
pub fn open_into(path: &Path, anchor: &Anchor<'_>, store: &mut Store, progress: &mut dyn FnMut(u64) -> bool) -> Result<Opened> {
    open_into_checked(path, anchor, store, &contribution_policy, progress)
}

/// A rule run on a verified bundle before anything it carries is recorded.
pub type Policy<'a> = &'a dyn Fn(&Store, &Verified) -> Result<()>;

/// [`open_into`] with another `policy`, run on the verified manifest and events before any
/// content is stored and again before the events are imported. A refusal records nothing.
pub fn open_into_checked(
    path: &Path,
    anchor: &Anchor<'_>,
    store: &mut Store,
    policy: Policy<'_>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Opened> {
    let v = verify(path, anchor, BlobSink::Store(store, policy), progress)?;
    import_verified(store, &v, policy, true)
}

/// The second half of an open whose first half was [`verify`] with [`BlobSink::Objects`] (or
/// [`BlobSink::Store`]) into the same store: under the store's write lock, the sequence check
/// again (another open may have imported the bundle meanwhile: then it is a duplicate), the
/// `policy`, and the events, in one durable append. With `record_received`, custody
/// "received" by this store is recorded in that append for the evidence a volunteer's bundle
/// brings (the endpoint's custody step), each with what this store read from the content
/// ([`Verified::observed`]). A refusal records nothing.
pub fn import_verified(store: &mut Store, v: &Verified, policy: Policy<'_>, record_received: bool) -> Result<Opened> {
    let m = &v.manifest;
    let duplicate = || Opened {
        bundle_id: m.bundle_id,
        sender: m.sender,
        seq: m.seq,
        manifest_hash: v.manifest_hash.clone(),
        events_added: 0,
        events: m.events.len() as u64,
        blobs: m.blobs.len() as u64,
        outcome: BundleOutcome::Duplicate,
        case_id: m.case_id,
        received: Vec::new(),
    };
    if v.replay || check_sequence(store, m)? {
        return Ok(duplicate());
    }
    policy(store, v)?;
    check_held_revoked(store, v)?;
    // Received: the bytes came in this bundle, from this sender, and the item is new here.
    let mut received = Vec::new();
    for (ev, evidence_id, sha, _) in brought(v) {
        if !store.holds_event(ev)? {
            received.push((evidence_id, sha));
        }
    }
    // Normally read in the first half (`verify`); a `Verified` made otherwise is read here.
    let mut observed = v.observed.clone();
    if record_received && received.iter().any(|(_, sha)| !observed.contains_key(sha)) {
        for (sha, o) in observe_received(v, &store.content_importer()) {
            observed.entry(sha).or_insert(o);
        }
    }
    let mut local = vec![ProfileEvent::MemberCredentialStored {
        agency_id: m.recipient_agency,
        member_id: m.sender,
        credential: B64.encode(m.credential.to_bytes()),
        member_key: Some(m.sender_key.clone()),
        name: sender_name(store, v)?,
    }];
    local.push(ProfileEvent::BundleImported {
        bundle_id: m.bundle_id,
        agency_id: m.recipient_agency,
        sender: m.sender,
        sender_key: Some(m.sender_key.clone()),
        bundle_seq: m.seq,
        manifest_hash: v.manifest_hash.clone(),
        events_added: m.events.len() as u64,
        blobs: m.blobs.len() as u64,
    });
    // Deleted items arrive with their tombstone in the same append (their content never does);
    // an item this store holds already is left as it is (its deletion reaches it on its own).
    for (t, document) in &v.tombstones {
        if store.tombstone(t.evidence_id)?.is_none() && store.evidence(t.evidence_id).is_err() {
            local.push(ProfileEvent::TombstoneStored { tombstone: t.clone(), document: document.clone() });
        }
    }
    let added = if record_received {
        store.import_events_received(&v.events, local, &received, &observed)?
    } else {
        store.import_events(&v.events, local)?
    };
    Ok(Opened {
        bundle_id: m.bundle_id,
        sender: m.sender,
        seq: m.seq,
        manifest_hash: v.manifest_hash.clone(),
        events_added: added,
        events: m.events.len() as u64,
        blobs: m.blobs.len() as u64,
        outcome: BundleOutcome::Accepted,
        case_id: m.case_id,
        received,
    })
}

/// The sender's name disclosure to keep with their credential: the anchor's, else one this
/// store already holds for the very same credential (so a later open without the agency's
/// names does not drop it).
fn sender_name(store: &Store, v: &Verified) -> Result<Option<String>> {
    if let Some(d) = &v.name {
        return Ok(Some(d.to_json()));
    }
    let encoded = B64.encode(v.manifest.credential.to_bytes());
    Ok(store.member_credentials(v.manifest.sender)?.into_iter().find(|r| r.document == encoded).and_then(|r| r.name))
}

/// The endpoint's rule for what a member may contribute. Investigators and supervisors may
/// send any case events. A volunteer may send only their own submissions: `evidence_added`,
/// custody `submitted` and `submission_made` events they authored, each for a brief the
/// endpoint holds, that is addressed to them and not withdrawn, in that brief's case; events
/// by other members in the bundle must already be held (a volunteer never introduces anyone
/// else's events). Refusals carry [`Reason::Forbidden`].
pub fn contribution_policy(store: &Store, v: &Verified) -> Result<()> {
    let sender = v.manifest.sender;
    if v.credential.role != Role::Volunteer {
        amendment_policy(store, v)?;
        return team_policy(store, v);
    }
    let forbidden = |msg: String| TrustError::new(Reason::Forbidden, msg);
    // The evidence this sender adds in this very bundle: the only items a submission may list.
    let own_new: BTreeSet<Uuid> = v
        .events
        .iter()
        .filter(|ev| ev.body().author == sender)
        .filter_map(|ev| match &ev.body().kind {
            EventKind::EvidenceAdded { evidence_id, .. } => Some(*evidence_id),
            _ => None,
        })
        .collect();
    let mut submitted: BTreeSet<Uuid> = BTreeSet::new();
    let mut cases: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    for ev in &v.events {
        let b = ev.body();
        if b.author != sender {
            continue;
        }
        if let EventKind::SubmissionMade { case_id, brief_id, items, .. } = &b.kind {
            let brief = store
                .brief(*brief_id)
                .map_err(|_| forbidden(format!("submission names brief {brief_id}, which this agency does not hold")))?;
            if brief.withdrawn {
                return Err(forbidden(format!("brief {brief_id} was withdrawn")));
            }
            if !(brief.audience.is_empty() || brief.audience.contains(&sender)) {
                return Err(forbidden(format!("brief {brief_id} is not addressed to member {sender}")));
            }
            if brief.case_id != *case_id {
                return Err(forbidden(format!("submission to brief {brief_id} names another case")));
            }
            if items.is_empty() {
                return Err(TrustError::new(Reason::SubmissionItemInvalid, format!("submission to brief {brief_id} lists no items")));
            }
            for i in items {
                if !own_new.contains(i) {
                    return Err(TrustError::new(
                        Reason::SubmissionItemInvalid,
                        format!("submission to brief {brief_id} lists item {i}, which is not evidence this bundle's sender adds in it"),
                    ));
                }
                if !submitted.insert(*i) {
                    return Err(TrustError::new(
                        Reason::SubmissionItemInvalid,
                        format!("item {i} is listed by two submissions in one bundle"),
                    ));
                }
                cases.insert(*i, *case_id);
            }
        }
    }
    for ev in &v.events {
        let b = ev.body();
        if b.author != sender {
            if !store.holds_event(ev).map_err(|e| TrustError::new(Reason::Store, e.to_string()))? {
                return Err(forbidden(format!(
                    "a volunteer's bundle carries event {} of member {} that this agency does not hold",
                    b.seq, b.author
                )));
            }
            continue;
        }
        match &b.kind {
            // Judged by `withdrawal_policy` (their own, not accepted, not under hold).
            EventKind::SubmissionMade { .. } | EventKind::SubmissionWithdrawn { .. } => {}
            EventKind::EvidenceAdded { evidence_id, case_id, .. } => {
                if cases.get(evidence_id) != Some(case_id) {
                    return Err(forbidden(format!("evidence {evidence_id} is not part of a submission to a brief of its case")));
                }
            }
            EventKind::CustodyRecorded { evidence_id, action: CustodyAction::Submitted, .. } if submitted.contains(evidence_id) => {}
            other => {
                return Err(forbidden(format!("a volunteer may not send '{}' events; only submissions to briefs", other.name())));
            }
        }
    }
    Ok(())
}
