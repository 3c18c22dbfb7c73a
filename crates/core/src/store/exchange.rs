//! Exchange with other members and agencies: signing, the events of a case going out, content
//! transfer, and foreign events coming in (used by bundles, casebridge-trust, and sync). What
//! this profile records about its exchanges is its bookkeeping (`profile.rs`).

use super::*;

impl Store {
    // ----- exchange: used by bundles (casebridge-trust) ----------------------------------------

    /// This profile's Ed25519 public key.
    pub fn public_key(&self) -> &[u8] {
        self.identity.public_key()
    }

    /// Signs `context || message` with this profile's identity key (Ed25519). The context is a
    /// domain-separation label so a signature made for one purpose never verifies for another.
    pub fn sign_detached(&self, context: &[u8], message: &[u8]) -> [u8; 64] {
        self.identity.sign(&[context, message].concat())
    }

    /// A handle that signs with this profile's key (like [`Store::sign_detached`]) without
    /// borrowing the store: sync authenticates with it while the store is busy importing.
    pub fn detached_signer(&self) -> DetachedSigner {
        DetachedSigner(std::sync::Arc::clone(&self.identity))
    }

    /// The events that make up a case, oldest first: the case, its notes, evidence and the
    /// custody of its evidence, from every author held; never local trust events. With
    /// `since`, only events recorded at or after that journal position (see `log`).
    pub fn case_events(&mut self, case: Uuid, since: Option<u64>) -> Result<Vec<SignedEvent>> {
        // A volunteer holds no case record, only the briefs of a case it answers.
        if self.case_record(case).is_err()
            && !self.index.scan_json::<projection::BriefRecord>(Table::Briefs, &[])?.iter().any(|b| b.case_id == case)
        {
            return Err(Error::UnknownCase { query: case.to_string() });
        }
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        if let Some(at) = scan.damaged_at {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut evidence = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            let kind = &ev.body().kind;
            if kind.is_local() {
                continue;
            }
            if let EventKind::EvidenceAdded { evidence_id, case_id, .. } = kind {
                if *case_id == case {
                    evidence.insert(*evidence_id);
                }
            }
            let belongs = kind.case_id() == Some(case) || kind.evidence_id().is_some_and(|e| evidence.contains(&e));
            // The case's creation always travels, so a partial export (`since`) never delivers
            // evidence for a case the receiver does not know.
            let creation = matches!(kind, EventKind::CaseCreated { case_id, .. } if *case_id == case);
            if belongs && (creation || since.is_none_or(|s| rec.index >= s)) {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// Streams the content with SHA-256 `sha256` (hex) and `size` into `sink`, authenticated
    /// and re-hashed on the way.
    pub fn read_content(&self, sha256: &str, size: u64, sink: &mut dyn Write, progress: &mut dyn Progress) -> Result<()> {
        let sha = decode_sha(sha256)?;
        // Content destroyed under a tombstone says so (`evidence_deleted`), not "missing".
        if !self.objects.exists(&sha)? {
            if let Some(t) = self.tombstones(None)?.into_iter().find(|t| t.tombstone.sha256 == sha256) {
                self.ensure_not_deleted(t.tombstone.evidence_id)?;
            }
        }
        self.objects.read(&sha, size, sink, progress)
    }

    /// Streams plaintext bytes `offset .. offset + len` of the content with SHA-256 `sha256`
    /// (hex) and `size` into `sink`, decrypting only the chunks that hold them; every chunk is
    /// authenticated, and the object must be exactly as long as `size` bytes seal to.
    pub fn read_content_range(&self, sha256: &str, size: u64, offset: u64, len: u64, sink: &mut dyn Write) -> Result<()> {
        self.objects.read_range(&decode_sha(sha256)?, size, offset, len, sink)
    }

    /// True when content with this SHA-256 (hex) is held.
    pub fn has_content(&self, sha256: &str) -> bool {
        decode_sha(sha256).ok().and_then(|s| self.objects.exists(&s).ok()).unwrap_or(false)
    }

    /// True when content with this SHA-256 (hex) is held. Unlike [`Store::has_content`], a
    /// failure of the object backend (a bucket that does not answer) is an error, not "not
    /// held": what an endpoint answers a member must tell an outage from missing content.
    pub fn content_held(&self, sha256: &str) -> Result<bool> {
        self.content_importer().content_held(sha256)
    }

    /// Stores incoming content that must have SHA-256 `sha256` (hex) and `size`; nothing is
    /// kept when it does not match.
    pub fn import_content(&mut self, src: &mut dyn std::io::Read, sha256: &str, size: u64, progress: &mut dyn Progress) -> Result<()> {
        self.content_importer().import_content(src, sha256, size, progress)
    }

    /// What this store reads from content it holds (see [`ContentImporter::observe`]).
    pub fn observe_content(&self, sha256: &str, size: u64) -> Result<crate::model::Observed> {
        self.content_importer().observe(sha256, size)
    }

    /// A handle that stores incoming content into this store's objects without borrowing the
    /// store (like [`Store::detached_signer`]): the endpoint verifies and stores several
    /// uploaded bundles at once and takes the store only to record their events. Objects are
    /// content-named and write-once, so concurrent imports (even of the same content) are safe;
    /// content no event names yet is an unreferenced object, as after a failed open.
    pub fn content_importer(&self) -> ContentImporter {
        ContentImporter(std::sync::Arc::clone(&self.objects))
    }

    /// Imports events signed by other members (already signature-checked, e.g. from a verified
    /// bundle) and then records this profile's `local` events, all in one durable append.
    /// Events already held are skipped. An event that contradicts one held (same author and
    /// sequence, different content), or does not link to a held neighbour, or names content
    /// that is not held, refuses the whole import and nothing is written. Returns how many
    /// events were added.
    pub fn import_events(&mut self, events: &[SignedEvent], local: Vec<ProfileEvent>) -> Result<u64> {
        self.import_events_received(events, local, &[], &BTreeMap::new())
    }

    /// [`Store::import_events`], also recording custody "received" by this profile for the
    /// evidence `received` (id, SHA-256 hex) in the same durable append: the endpoint's open
    /// of a volunteer's bundle costs one journal write, not two. Each received custody carries
    /// what this store read from the content (`observed`, by SHA-256 hex; see
    /// [`ContentImporter::observe`]), read before the caller took the store's write lock.
    pub fn import_events_received(
        &mut self,
        events: &[SignedEvent],
        local: Vec<ProfileEvent>,
        received: &[(Uuid, String)],
        observed: &BTreeMap<String, crate::model::Observed>,
    ) -> Result<u64> {
        let fresh = self.chain_checked(events)?;
        let mut new = Vec::with_capacity(fresh.len());
        let mut created = std::collections::BTreeSet::new();
        let now = super::now_ms();
        for ev in fresh {
            let b = ev.body();
            // Records are created once: a second creation under an id already taken (a leaked
            // evidence or submission id) is refused, never applied over the first.
            if let Some(what) = projection::existing_creation(&mut IndexReader(&self.index), &b.kind)? {
                return Err(Error::RecordExists { what });
            }
            if let Some((what, _, key)) = projection::creation(&b.kind) {
                if !created.insert(key) {
                    return Err(Error::RecordExists { what: format!("{what} (created twice in one import)") });
                }
            }
            // A foreign clock far ahead would drag this store's hybrid clock with it for good.
            if b.hlc.ms > now.saturating_add(crate::MAX_CLOCK_SKEW_MS) {
                return Err(Error::ClockSkew {
                    what: format!("member {} event {}", b.author, b.seq),
                    ahead_secs: (b.hlc.ms - now) / 1000,
                    max_secs: crate::MAX_CLOCK_SKEW_MS / 1000,
                });
            }
            if let EventKind::EvidenceAdded { object, evidence_id, .. } = &b.kind {
                // A deleted item arrives without content, with its tombstone in this append.
                let deleted = local.iter().any(|l| {
                    matches!(l, ProfileEvent::TombstoneStored { tombstone, .. }
                        if tombstone.evidence_id == *evidence_id && tombstone.sha256 == object.sha256)
                });
                if !deleted && !self.has_content(&object.sha256) {
                    return Err(Error::invalid(
                        "bundle",
                        format!("evidence {} arrives without its content", b.kind.evidence_id().unwrap_or_default()),
                    ));
                }
            }
            new.push(ev.clone());
        }
        // Journal order: by author, key and sequence, so each chain's events stay in order.
        new.sort_by(|a, b| (a.body().author, &a.body().key, a.body().seq).cmp(&(b.body().author, &b.body().key, b.body().seq)));
        let added = new.len() as u64;
        let mut own: Vec<EventKind> = local.into_iter().map(EventKind::from).collect();
        own.extend(super::briefs::received_custody(received, observed));
        self.commit(new, own)?;
        Ok(added)
    }

    /// Checks `events` (signed by other members, or by this member's other devices) against the
    /// chains held, without writing anything: the chain rules of [`Store::import_events`], for a
    /// caller that must refuse a bundle before it stores any of its content. A chain is one
    /// signing key's: an event whose key and sequence are held with other content is a fork, an
    /// event that does not link to a held (or carried) neighbour of its chain is refused, and
    /// this profile's own events can only be held, never arrive.
    pub fn check_chains(&self, events: &[SignedEvent]) -> Result<()> {
        self.chain_checked(events).map(|_| ())
    }

    /// [`Store::check_chains`], returning the events not held yet (each once).
    fn chain_checked<'a>(&self, events: &'a [SignedEvent]) -> Result<Vec<&'a SignedEvent>> {
        let mut batch: BTreeMap<(Uuid, &str, u64), &SignedEvent> = BTreeMap::new();
        let mut new = Vec::new();
        for ev in events {
            let b = ev.body();
            if b.kind.is_local() {
                return Err(Error::invalid("bundle", "it carries another profile's local trust events"));
            }
            let held: Option<projection::ChainRecord> =
                get_json(&mut IndexReader(&self.index), Table::Chain, &projection::chain_key(b.author, &b.key, b.seq))?;
            let hash = to_hex(&ev.hash());
            match held {
                Some(h) if h.hash == hash => continue,
                Some(_) => {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} differs from the one held (a fork)", b.author, b.seq),
                    })
                }
                None => {}
            }
            if self.is_own(b) {
                return Err(Error::ChainConflict { what: format!("event {} of this profile is not held here", b.seq) });
            }
            if let Some(prev) = batch.insert((b.author, b.key.as_str(), b.seq), ev) {
                if prev.hash() != ev.hash() {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} appears twice with different content", b.author, b.seq),
                    });
                }
                continue;
            }
            new.push(ev);
        }
        // Links to neighbours, held or in this batch.
        for ev in &new {
            let b = ev.body();
            let lookup = |seq: u64| -> Result<Option<(String, String)>> {
                if let Some(e) = batch.get(&(b.author, b.key.as_str(), seq)) {
                    return Ok(Some((to_hex(&e.hash()), e.body().prev.clone())));
                }
                let r: Option<projection::ChainRecord> =
                    get_json(&mut IndexReader(&self.index), Table::Chain, &projection::chain_key(b.author, &b.key, seq))?;
                Ok(r.map(|r| (r.hash, r.prev)))
            };
            if let Some((prev_hash, _)) = b.seq.checked_sub(1).map(lookup).transpose()?.flatten() {
                if prev_hash != b.prev {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} does not link to event {}", b.author, b.seq, b.seq - 1),
                    });
                }
            }
            if let Some((_, next_prev)) = lookup(b.seq + 1)? {
                if next_prev != to_hex(&ev.hash()) {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} does not link to event {}", b.author, b.seq + 1, b.seq),
                    });
                }
            }
        }
        Ok(new)
    }

    /// When `kind` would create a record another event already created: what it is (see
    /// [`projection::existing_creation`]). Imports refuse such events.
    pub fn existing_creation(&self, kind: &EventKind) -> Result<Option<String>> {
        projection::existing_creation(&mut IndexReader(&self.index), kind)
    }
}

/// Stores incoming content into a profile's objects; see [`Store::content_importer`].
#[derive(Clone)]
pub struct ContentImporter(std::sync::Arc<ObjectStore>);

impl ContentImporter {
    /// Streams the content with SHA-256 `sha256` (hex) and `size` into `sink`, authenticated
    /// and re-hashed on the way, like [`Store::read_content`] but without borrowing the store:
    /// the endpoint sends content to a slow reader while other members' requests use the
    /// store. Objects are write-once, so a read never sees a half-written one.
    pub fn read_content(&self, sha256: &str, size: u64, sink: &mut dyn Write, progress: &mut dyn Progress) -> Result<()> {
        self.0.read(&decode_sha(sha256)?, size, sink, progress)
    }

    /// [`Store::read_content_range`] without borrowing the store: a viewer's range requests
    /// decrypt while other calls use the store.
    pub fn read_content_range(&self, sha256: &str, size: u64, offset: u64, len: u64, sink: &mut dyn Write) -> Result<()> {
        self.0.read_range(&decode_sha(sha256)?, size, offset, len, sink)
    }

    /// True when content with this SHA-256 (hex) is held. A verification asks this before it
    /// names held content without carrying it: the object's time is refreshed so that a
    /// collection of unreferenced objects spares it until the events naming it are recorded
    /// (see [`Store::remove_orphan_objects`]).
    pub fn has_content(&self, sha256: &str) -> bool {
        decode_sha(sha256).map(|s| self.0.hold(&s)).unwrap_or(false)
    }

    /// [`Store::content_held`] without borrowing the store: a failure of the object backend
    /// is an error, not "not held".
    pub fn content_held(&self, sha256: &str) -> Result<bool> {
        self.0.exists(&decode_sha(sha256)?)
    }

    /// Stores incoming content that must have SHA-256 `sha256` (hex) and `size`; nothing is
    /// kept when it does not match.
    pub fn import_content(&self, src: &mut dyn std::io::Read, sha256: &str, size: u64, progress: &mut dyn Progress) -> Result<()> {
        let sha = decode_sha(sha256).map_err(|_| Error::invalid("content hash", "not 64 hex digits"))?;
        self.0.import_expecting(src, Some((sha, size)), progress)?;
        Ok(())
    }
}

impl ContentImporter {
    /// What this store itself reads from the content it holds with this SHA-256 (hex) and
    /// size: the media type sniffed from the bytes and, for images up to
    /// [`metadata::OBSERVE_MAX_BYTES`], the EXIF metadata. The content is decrypted into memory
    /// only (never to a file); for other content only its head is read. Needs no lock on the
    /// store. Errors when the content is not held or fails authentication.
    pub fn observe(&self, sha256: &str, size: u64) -> Result<crate::model::Observed> {
        let sha = decode_sha(sha256).map_err(|_| Error::invalid("content hash", "not 64 hex digits"))?;
        let mut sink = ObserveSink::new(size);
        match self.0.read(&sha, size, &mut sink, &mut |_| true) {
            Ok(()) => {}
            // Stopped after the head on purpose: every chunk read was authenticated.
            Err(_) if sink.stopped => {}
            Err(e) => return Err(e),
        }
        Ok(sink.observed())
    }
}

/// [`ContentImporter::observe`]'s reading, done on content while it streams in instead of
/// reading the stored object back (decrypting and hashing it a second time): fed every byte
/// of the content in order, it keeps what `observe` keeps (the head, and the whole of an image
/// up to [`metadata::OBSERVE_MAX_BYTES`]) and gives the same [`crate::model::Observed`].
///
/// It sees bytes before their hash is checked: use [`ContentObserver::finish`]'s answer only
/// when the content was stored (its SHA-256 and size matched), as bundle verification does.
pub struct ContentObserver(ObserveSink);

impl ContentObserver {
    /// An observer for content of `size` bytes (the size declared for it; the same bound as
    /// [`ContentImporter::observe`] decides whether an image is read whole).
    pub fn new(size: u64) -> ContentObserver {
        ContentObserver(ObserveSink::new(size))
    }

    /// The next bytes of the content. Past the head of content that is not a small image,
    /// nothing more is kept (and nothing copied).
    pub fn feed(&mut self, data: &[u8]) {
        if !self.0.stopped && !data.is_empty() {
            // An error only says the head was read and the rest is not needed.
            let _ = std::io::Write::write(&mut self.0, data);
        }
    }

    /// What was read from the content fed (all of it: see the type's doc).
    pub fn finish(self) -> crate::model::Observed {
        self.0.observed()
    }
}

impl std::fmt::Debug for ContentObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentObserver").finish_non_exhaustive()
    }
}

/// Collects a content's head, then the rest only when the head says it is an image small enough
/// to read for EXIF; otherwise stops the read.
struct ObserveSink {
    buf: Vec<u8>,
    size: u64,
    keep_all: bool,
    stopped: bool,
}

impl ObserveSink {
    fn new(size: u64) -> ObserveSink {
        ObserveSink { buf: Vec::new(), size, keep_all: false, stopped: false }
    }

    /// The media type sniffed from the head and, when the whole content was kept (an image
    /// small enough, or content shorter than the head), the metadata extracted from it.
    fn observed(&self) -> crate::model::Observed {
        let head = &self.buf[..self.buf.len().min(metadata::SNIFF_BYTES)];
        let media_type = metadata::sniff_media_type(head);
        let extracted = if self.stopped {
            crate::model::Extracted::default()
        } else {
            metadata::extract_from(std::io::Cursor::new(&self.buf), &media_type)
        };
        crate::model::Observed { media_type, extracted }
    }
}

impl std::io::Write for ObserveSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.keep_all {
            self.buf.extend_from_slice(data);
            return Ok(data.len());
        }
        let take = (metadata::SNIFF_BYTES - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() < metadata::SNIFF_BYTES {
            return Ok(data.len());
        }
        let image = metadata::sniff_media_type(&self.buf).starts_with("image/");
        if image && self.size <= metadata::OBSERVE_MAX_BYTES {
            self.keep_all = true;
            self.buf.reserve(usize::try_from(self.size).unwrap_or(0).saturating_sub(self.buf.len()));
            self.buf.extend_from_slice(&data[take..]);
            Ok(data.len())
        } else {
            self.stopped = true;
            Err(std::io::Error::other("head read"))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for ContentImporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentImporter").finish_non_exhaustive()
    }
}

/// Signs `context || message` with a profile's identity key; see [`Store::detached_signer`].
#[derive(Clone)]
pub struct DetachedSigner(std::sync::Arc<Identity>);

impl DetachedSigner {
    /// Signs `context || message` (Ed25519).
    pub fn sign_detached(&self, context: &[u8], message: &[u8]) -> [u8; 64] {
        self.0.sign(&[context, message].concat())
    }
}

impl std::fmt::Debug for DetachedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedSigner").finish_non_exhaustive()
    }
}
