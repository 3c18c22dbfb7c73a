//! The court report (issue 6): everything a court needs to know about one case, as a PDF with
//! numbered pages or as one self-contained HTML file.
//!
//! The report is composed once into a small document model (`Block`s) and then drawn by
//! `pdf` or `html`, so both formats carry exactly the same content:
//!
//! - the case header (reference, title, status, summary, tags, created/updated) and who
//!   generated the report, when, and why;
//! - every evidence item: SHA-256, size, media type, claimed and extracted capture time and
//!   place, contributor, a thumbnail for JPEG and PNG content, whether the content still
//!   hashes to its SHA-256 now, its derivatives and their provenance, and its full custody
//!   trail (who, what, when with timezone, device, the item's hash at that moment, the signed
//!   event's hash and the signing key's fingerprint);
//! - the access log, the recorded disclosures, every signed event of the case, the public keys
//!   and fingerprints needed to verify them (authors, this profile, pinned agencies), and the
//!   credentials and receipts this profile holds.
//!
//! Volunteers appear under a per-case pseudonym ([`pseudonym`]) unless a disclosure of their
//! identity is recorded for the case; police members appear by name.
//!
//! Evidence content is read through the store into memory only (thumbnails are decoded and
//! downscaled in memory); nothing but the report the user asked for is written, first to
//! `FILE.partial`, then moved into place without ever replacing an existing file.

mod html;
mod pdf;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};

use casebridge_core::metadata::OBSERVE_MAX_BYTES;
use casebridge_core::{
    fingerprint, sha256, to_hex, Camera, CaseDetail, CustodyAction, CustodyView, EventKind, EvidenceView, GeoPoint, Observed, Progress,
    Role, SignedEvent, Store,
};
use casebridge_trust::{AgencyPublic, Credential};
use chrono::{DateTime, FixedOffset, Local};
use serde::Serialize;
use uuid::Uuid;

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 200;

/// Images larger than this are not decoded for a thumbnail (their content is still re-hashed).
pub const THUMBNAIL_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Memory a thumbnail's decoder may allocate (the decoded full-size image counts).
const DECODE_MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// The action recorded in the access log when a report is written.
pub const ACCESS_ACTION: &str = "report";

/// Suffix of the file a report is written to before it is moved into place.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// What can go wrong while making a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The store failed (unknown case, damaged index, ...); its message says what to do.
    #[error(transparent)]
    Store(#[from] casebridge_core::Error),

    /// The output file exists; a report never replaces a file.
    #[error("{path} already exists; a report never replaces a file: choose another --out")]
    WouldOverwrite {
        /// The output path.
        path: PathBuf,
    },

    /// `FILE.partial` exists (left by an interrupted report, or another program's file).
    #[error("{path} already exists (left by an interrupted report?): remove it or choose another --out; nothing was written")]
    PartialExists {
        /// The partial file's path.
        path: PathBuf,
    },

    /// Writing the output failed; nothing is left behind.
    #[error("cannot write {path}: {reason}; nothing was written")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// PDF, A4, numbered pages.
    #[default]
    Pdf,
    /// One self-contained HTML file (inline CSS, thumbnails as `data:` URIs).
    Html,
}

/// How to make a report.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// PDF or HTML.
    pub format: Format,
    /// Why the report is made; shown in it and recorded in the access log.
    pub reason: Option<String>,
}

/// A report made in memory.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
    /// Pages (PDF only).
    pub pages: Option<usize>,
    /// Evidence items in the report.
    pub items: usize,
    /// Items whose content did not re-hash to its SHA-256 (or could not be read); the report
    /// says so for each.
    pub damaged: Vec<Uuid>,
}

/// What [`write()`] reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Where the report is.
    pub path: PathBuf,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Pages (PDF), `null` for HTML.
    pub pages: Option<usize>,
    /// Evidence items in the report.
    pub items: usize,
    /// Items whose content did not re-hash to its SHA-256 (empty when all are intact).
    pub damaged: Vec<Uuid>,
}

/// The per-case pseudonym of a member in this store's court material: `Volunteer ` and the
/// first 8 hex digits of the store's keyed tag ([`Store::pseudonym_tag`], an HMAC under a key
/// only this store holds). The same volunteer has unrelated pseudonyms in different cases, and
/// nobody without the store's keys can compute one from the member id and the case id.
pub fn pseudonym(store: &Store, member: Uuid, case: Uuid) -> String {
    crate::package::member_pseudonym(store, case, member)
}

/// Makes the report of `case` in memory. Reads (and re-hashes) every item's content;
/// `progress` sees the bytes read so far over all items. Records nothing.
pub fn render(store: &mut Store, case: Uuid, opts: &ReportOptions, progress: &mut dyn Progress) -> Result<Rendered> {
    let events = store.case_events(case, None)?;
    let store: &Store = store;
    let now = Local::now().fixed_offset();
    let composed = compose(store, case, &events, opts, now, progress)?;
    let (bytes, pages) = match opts.format {
        Format::Pdf => {
            let (bytes, pages) = pdf::render(composed.doc, now);
            (bytes, Some(pages))
        }
        Format::Html => (html::render(&composed.doc).into_bytes(), None),
    };
    let sha256 = to_hex(&sha256(&bytes));
    Ok(Rendered { bytes, sha256, pages, items: composed.items, damaged: composed.damaged })
}

/// The path `FILE.partial` for `out`.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(PARTIAL_SUFFIX);
    out.with_file_name(name)
}

/// Makes the report of `case` and writes it to `out`, which must not exist: first to
/// `out.partial` (synced), then moved to `out` without replacing anything that appeared there
/// meanwhile. Then records the access (`report`, with `opts.reason`) in the access log.
pub fn write(store: &mut Store, case: Uuid, out: &Path, opts: &ReportOptions, progress: &mut dyn Progress) -> Result<Written> {
    let partial = partial_path(out);
    // Checked before the (possibly long) rendering, and again when moving into place.
    if fs::symlink_metadata(out).is_ok() {
        return Err(ReportError::WouldOverwrite { path: out.to_path_buf() });
    }
    if fs::symlink_metadata(&partial).is_ok() {
        return Err(ReportError::PartialExists { path: partial });
    }
    let rendered = render(store, case, opts, progress)?;
    write_new(out, &partial, &rendered.bytes)?;
    store.record_access(case, None, ACCESS_ACTION, opts.reason.clone())?;
    Ok(Written {
        path: out.to_path_buf(),
        sha256: rendered.sha256,
        pages: rendered.pages,
        items: rendered.items,
        damaged: rendered.damaged,
    })
}

/// Writes `bytes` to `partial` (created new, synced), then moves it to `out`, never replacing
/// an existing `out`. On any failure nothing is left behind.
fn write_new(out: &Path, partial: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |path: &Path, e: io::Error| ReportError::Write { path: path.to_path_buf(), reason: io_reason(&e) };
    let mut f = match OpenOptions::new().write(true).create_new(true).open(partial) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(ReportError::PartialExists { path: partial.to_path_buf() }),
        Err(e) => return Err(fail(out, e)),
    };
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written {
        let _ = fs::remove_file(partial);
        return Err(fail(out, e));
    }
    // A hard link fails if `out` exists, so a file that appeared meanwhile is never replaced.
    // Where links are not supported (FAT on a USB stick), fall back to rename after a check.
    let moved = match fs::hard_link(partial, out) {
        Ok(()) => fs::remove_file(partial),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(partial);
            return Err(ReportError::WouldOverwrite { path: out.to_path_buf() });
        }
        Err(_) if fs::symlink_metadata(out).is_ok() => {
            let _ = fs::remove_file(partial);
            return Err(ReportError::WouldOverwrite { path: out.to_path_buf() });
        }
        Err(_) => fs::rename(partial, out),
    };
    if let Err(e) = moved {
        let _ = fs::remove_file(partial);
        return Err(fail(out, e));
    }
    // Make the new directory entry durable too.
    if let Some(dir) = out.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "the directory does not exist".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

// ----- the document model -------------------------------------------------------------------

/// A composed report: what both renderers draw.
pub(crate) struct Doc {
    /// Document title (PDF metadata, HTML `<title>`).
    pub title: String,
    /// The line at the foot of every page.
    pub footer: String,
    /// The content, in order.
    pub blocks: Vec<Block>,
}

/// One piece of content.
pub(crate) enum Block {
    /// The report's title.
    Title(String),
    /// A section heading.
    Heading(String),
    /// An item's heading.
    Subheading(String),
    /// A small heading inside an item (e.g. "Custody trail").
    Label(String),
    /// Running text.
    Para(String),
    /// Text that needs attention (damaged content).
    Alert(String),
    /// Label/value rows.
    Fields(Vec<Field>),
    /// A numbered entry (a custody record, an event, a key) with its fields; kept on one page.
    Entry { title: String, fields: Vec<Field> },
    /// A thumbnail with its caption.
    Thumbnail { image: image::RgbImage, caption: String },
}

/// One label/value row.
pub(crate) struct Field {
    pub label: String,
    pub value: String,
    /// Set in a monospace font (hashes, keys, ids) so they copy and search intact.
    pub mono: bool,
}

fn field(label: &str, value: impl Into<String>) -> Field {
    Field { label: label.to_string(), value: value.into(), mono: false }
}

fn mono(label: &str, value: impl Into<String>) -> Field {
    Field { label: label.to_string(), value: value.into(), mono: true }
}

/// A time with its offset, to the second: `2026-03-14 09:30:00 +01:00`.
pub(crate) fn time(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M:%S %:z").to_string()
}

fn place(p: &GeoPoint) -> String {
    format!("{:.6}, {:.6} (latitude, longitude; WGS 84)", p.lat, p.lon)
}

fn bytes_human(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{n} bytes ({v:.1} {})", UNITS[unit])
}

// ----- people -------------------------------------------------------------------------------

/// Names members as the report may show them.
struct People<'a> {
    store: &'a Store,
    case: Uuid,
    disclosed: BTreeSet<Uuid>,
    /// Verified credentials by member id.
    vetted: &'a BTreeMap<Uuid, Vetted>,
}

/// A member as shown.
struct Person {
    /// `Vera Brandt (investigator)`, `Volunteer 1a2b3c4d`, ...
    label: String,
    /// The name may be shown (police, or a volunteer with a recorded disclosure).
    named: bool,
    role: Option<Role>,
}

impl<'a> People<'a> {
    fn new(store: &'a Store, case: Uuid, vetted: &'a BTreeMap<Uuid, Vetted>) -> Result<Self> {
        let disclosed = store.disclosures(case)?.into_iter().map(|d| d.member_id).collect();
        Ok(People { store, case, disclosed, vetted })
    }

    fn get(&self, id: Uuid) -> Person {
        // The agency's credential says who a member was vetted as; without one, the member's own
        // `profile_created` event; without either (events from a bundle of an unknown sender),
        // nothing is known and the member is pseudonymous, since it may be a volunteer.
        let known = match self.vetted.get(&id) {
            // The credential commits to the name; the name is known only from a disclosure
            // that opens it (or, for this profile, its own `profile_created`).
            Some(v) => Some((v.name.clone().or_else(|| self.own_name(id)), v.credential.role)),
            None => self.store.member(id).ok().flatten().map(|m| (Some(m.name), m.role)),
        };
        let disclosed = self.disclosed.contains(&id);
        let staff = |role: Role| matches!(role, Role::Investigator | Role::Supervisor);
        match known {
            Some((Some(name), role)) if staff(role) => {
                Person { label: format!("{name} ({})", role.as_str()), named: true, role: Some(role) }
            }
            Some((Some(name), role)) if disclosed => {
                Person { label: format!("{name} ({}; identity disclosed, see Disclosures)", role.as_str()), named: true, role: Some(role) }
            }
            Some((None, role)) if staff(role) => {
                Person { label: format!("Member {id} ({}; name not held by this store)", role.as_str()), named: true, role: Some(role) }
            }
            Some((None, role)) if disclosed => Person {
                label: format!("Member {id} ({}; identity disclosed; name not held by this store)", role.as_str()),
                named: true,
                role: Some(role),
            },
            Some((_, role)) => Person { label: pseudonym(self.store, id, self.case), named: false, role: Some(role) },
            None if disclosed => {
                Person { label: format!("Member {id} (identity disclosed; name not held by this store)"), named: true, role: None }
            }
            None => Person {
                label: format!(
                    "Member {} (name and role not held by this store)",
                    crate::package::pseudonym_tag(self.store, self.case, id)
                ),
                named: false,
                role: None,
            },
        }
    }

    /// This profile's own name, for its own credential.
    fn own_name(&self, id: Uuid) -> Option<String> {
        let me = self.store.whoami();
        (me.member_id == id).then(|| me.name.clone())
    }
}

/// A credential that verifies against a pinned agency's root key.
struct Vetted {
    credential: Credential,
    /// The name, from a held disclosure that opens the credential's commitment.
    name: Option<String>,
    /// The issuing agency's name.
    agency: String,
}

/// Every credential this store holds (its own, and other members' kept from the bundles it
/// opened) that verifies against a pinned agency, by member id. Others are left out: a name
/// that no agency vouches for is not shown from a credential.
fn vetted(store: &Store, agencies: &[AgencyPublic]) -> BTreeMap<Uuid, Vetted> {
    let mut out = BTreeMap::new();
    for a in agencies {
        let Ok(held) = casebridge_trust::profile::held_credentials(store, a) else { continue };
        for (member, (credential, _, name)) in held {
            out.insert(member, Vetted { credential, name: name.map(|d| d.name), agency: a.name.clone() });
        }
    }
    out
}

// ----- composing ----------------------------------------------------------------------------

struct Composed {
    doc: Doc,
    items: usize,
    damaged: Vec<Uuid>,
}

/// What reading an item's content found.
enum Content {
    /// Re-hashed and intact, with a thumbnail when it is a JPEG or PNG image that decodes.
    Intact(Thumbnail),
    /// The content could not be read or does not match its hash.
    Damaged(String),
}

/// An item's thumbnail, or why there is none.
enum Thumbnail {
    /// Not an image the report draws (only JPEG and PNG are).
    NotAnImage,
    /// Made.
    Made(Thumb),
    /// Larger than [`THUMBNAIL_MAX_BYTES`].
    TooLarge,
    /// The content does not decode as the image its media type says.
    Undecodable,
}

struct Thumb {
    image: image::RgbImage,
    /// Size of the decoded original.
    width: u32,
    height: u32,
}

/// Whether a thumbnail is made for this media type.
fn thumbnailable(media_type: &str) -> bool {
    matches!(media_type, "image/jpeg" | "image/png")
}

/// Reads (and so re-hashes) an item's content; decodes a thumbnail for JPEG/PNG in memory.
fn read_item(store: &Store, e: &EvidenceView, progress: &mut dyn Progress) -> Result<Content> {
    let image = thumbnailable(&e.media_type);
    let result = if image && e.size <= THUMBNAIL_MAX_BYTES {
        let mut buf = Vec::with_capacity(usize::try_from(e.size).unwrap_or(0));
        store.read_content(&e.sha256, e.size, &mut buf, progress).map(|()| Some(buf))
    } else {
        store.read_content(&e.sha256, e.size, &mut io::sink(), progress).map(|()| None)
    };
    Ok(match result {
        Ok(Some(buf)) => Content::Intact(thumbnail(&buf).map(Thumbnail::Made).unwrap_or(Thumbnail::Undecodable)),
        Ok(None) if image => Content::Intact(Thumbnail::TooLarge),
        Ok(None) => Content::Intact(Thumbnail::NotAnImage),
        Err(casebridge_core::Error::Cancelled) => return Err(casebridge_core::Error::Cancelled.into()),
        Err(err) => Content::Damaged(err.to_string()),
    })
}

/// Decodes a JPEG or PNG in memory and downscales it to at most [`THUMBNAIL_PX`] on its longest
/// side, applying the EXIF orientation and flattening transparency onto white. `None` when the
/// bytes do not decode.
fn thumbnail(bytes: &[u8]) -> Option<Thumb> {
    use image::ImageDecoder as _;
    let mut reader = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().ok();
    let mut img = image::DynamicImage::from_decoder(decoder).ok()?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let (width, height) = (img.width(), img.height());
    let small = if width > THUMBNAIL_PX || height > THUMBNAIL_PX { img.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX) } else { img };
    let rgba = small.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(src.0[3]);
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        *dst = image::Rgb([blend(src.0[0]), blend(src.0[1]), blend(src.0[2])]);
    }
    Some(Thumb { image: rgb, width, height })
}

fn compose(
    store: &Store,
    case: Uuid,
    events: &[SignedEvent],
    opts: &ReportOptions,
    now: DateTime<FixedOffset>,
    progress: &mut dyn Progress,
) -> Result<Composed> {
    let c = store.case(case)?;
    // A damaged trust table leaves the agencies out; the keys section says so.
    let agencies = casebridge_trust::profile::pinned_all(store);
    let pinned = agencies.as_ref().map(Vec::as_slice).unwrap_or_default();
    let vetted = vetted(store, pinned);
    let people = People::new(store, case, &vetted)?;
    let by_hash: BTreeMap<String, &SignedEvent> = events.iter().map(|e| (to_hex(&e.hash()), e)).collect();
    let label: BTreeMap<Uuid, String> = c.evidence.iter().enumerate().map(|(i, e)| (e.id, format!("E{}", i + 1))).collect();
    let item_label = |id: Uuid| label.get(&id).cloned().unwrap_or_else(|| format!("item {id}"));
    let key_fp = |hash: &str| by_hash.get(hash).map(|e| fingerprint(e.public_key()));

    let reference = c.reference.clone().unwrap_or_else(|| c.id.to_string());
    let mut b: Vec<Block> = Vec::new();
    b.push(Block::Title(format!("Court report: {reference}")));
    header(&mut b, &c, &people, store, opts, now);

    b.push(Block::Heading("How to verify this report".into()));
    b.push(Block::Para(
        "Each evidence item's SHA-256 can be recomputed from the original file (for example with sha256sum) and must equal the \
         value shown. Every custody entry, provenance record and access-log entry is a signed event: its event SHA-256 is the \
         hash of the exact signed bytes, signed with Ed25519 by the key whose fingerprint (the SHA-256 of the public key) is \
         listed under \"Keys needed to verify\". The court evidence package of this case (casebridge export court) carries the \
         events and the original files, so the independent verifier (casebridge-verify) can repeat every check offline with \
         public keys alone. This file's own SHA-256 is printed by casebridge when the report is written; keep it with the file."
            .into(),
    ));
    anchor(&mut b, store, &agencies);
    b.push(Block::Para(
        "Volunteers are shown under a pseudonym for this case (\"Volunteer\" and the first 8 hex digits of an HMAC of the case \
         id and their member id under a key only the profile that made this report holds, so nobody else can link it to a \
         member) unless a disclosure of their identity is recorded for this case; police members are shown by name. Names come \
         only from name disclosures that open the commitment in the member's credential. Times are local times with their \
         offset from UTC."
            .into(),
    ));

    // ----- evidence index
    b.push(Block::Heading(format!("Evidence items ({})", c.evidence.len())));
    if c.evidence.is_empty() {
        b.push(Block::Para("This case holds no evidence items.".into()));
    } else {
        b.push(Block::Fields(
            c.evidence
                .iter()
                .map(|e| match &e.deleted {
                    Some(d) => field(
                        &item_label(e.id),
                        format!("deleted under rule {} on {} ({}, {})", d.rule, time(&d.deleted_at), e.media_type, bytes_human(e.size)),
                    ),
                    None => field(&item_label(e.id), format!("{} ({}, {})", e.original_name, e.media_type, bytes_human(e.size))),
                })
                .collect(),
        ));
    }

    // ----- each item
    let mut damaged = Vec::new();
    let mut base = 0u64;
    for e in &c.evidence {
        if let Some(d) = &e.deleted {
            // Deleted under an agency tombstone: its content no longer exists, which is not damage.
            let me = item_label(e.id);
            b.push(Block::Subheading(format!("{me} · deleted item")));
            b.push(Block::Para(format!(
                "{me} was deleted by the agency under retention rule {} on {}: its content no longer exists and its descriptive \
                 fields are not kept. The agency's signed tombstone is listed under \"Deleted items\".",
                d.rule,
                time(&d.deleted_at)
            )));
            let mut f = vec![mono("Evidence id", e.id.to_string()), mono("Recorded SHA-256", e.sha256.clone())];
            f.push(field("Size", bytes_human(e.size)));
            f.push(field("Media type", &e.media_type));
            f.push(field("Contributor", people.get(e.contributor).label));
            f.push(field("Added", time(&e.added_at)));
            f.push(field("Deleted under rule", &d.rule));
            f.push(field("Deleted at", time(&d.deleted_at)));
            f.push(field("Reason", d.reason.clone().unwrap_or_else(|| "none given".into())));
            f.push(field("Content check", "not applicable: the item was deleted"));
            b.push(Block::Fields(f));
            let custody = store.custody(e.id)?;
            b.push(Block::Label(format!("Custody trail of {me}")));
            if custody.is_empty() {
                b.push(Block::Para("No custody entries are held.".into()));
            }
            for (i, cv) in custody.iter().enumerate() {
                b.push(custody_entry(i + 1, cv, &people, key_fp(&cv.event_hash)));
            }
            continue;
        }
        let mut item_progress = |done: u64| progress.update(base.saturating_add(done));
        let content = read_item(store, e, &mut item_progress)?;
        base = base.saturating_add(e.size);
        let me = item_label(e.id);
        b.push(Block::Subheading(format!("{me} · {}", e.original_name)));
        let intact = matches!(content, Content::Intact(_));
        match content {
            Content::Intact(Thumbnail::Made(t)) => b.push(Block::Thumbnail {
                image: t.image,
                caption: format!(
                    "Thumbnail of {me}, downscaled from {}x{} pixels for identification only; the evidence is the original file.",
                    t.width, t.height
                ),
            }),
            Content::Damaged(why) => {
                damaged.push(e.id);
                b.push(Block::Alert(format!(
                    "CONTENT CHECK FAILED: when this report was generated the stored content of {me} could not be read or did not \
                     match the SHA-256 below ({why})."
                )));
            }
            Content::Intact(Thumbnail::TooLarge) => {
                b.push(Block::Para(format!("No thumbnail: the image is larger than {} MiB.", THUMBNAIL_MAX_BYTES / (1024 * 1024))))
            }
            Content::Intact(Thumbnail::Undecodable) => {
                b.push(Block::Para(format!("No thumbnail: the content does not decode as {}.", e.media_type)))
            }
            Content::Intact(Thumbnail::NotAnImage) => {}
        }
        let mut f = vec![mono("Evidence id", e.id.to_string()), mono("SHA-256", e.sha256.clone())];
        f.push(field("Size", bytes_human(e.size)));
        f.push(field("Media type", &e.media_type));
        f.push(field("Original name", &e.original_name));
        if let Some(d) = &e.description {
            f.push(field("Description", d));
        }
        f.push(field("Contributor", people.get(e.contributor).label));
        f.push(field("Added", time(&e.added_at)));
        let custody = store.custody(e.id)?;
        f.push(field(
            "Content check",
            if intact {
                format!("intact: the stored content was re-hashed when this report was generated ({})", time(&now))
            } else {
                "FAILED (see above)".into()
            },
        ));
        b.push(Block::Fields(f));
        metadata_section(&mut b, e, &custody, &people, &me);

        if let Some(p) = &e.derived_from {
            b.push(Block::Label(format!("{me} is a derivative (provenance)")));
            let mut pf = vec![field("Original", format!("{} ({})", item_label(p.original_id), p.original_id))];
            pf.push(mono("Original SHA-256", p.original_sha256.clone()));
            pf.push(field("Operations", p.operations.join("; ")));
            pf.push(field("Made by", format!("{}, {}", people.get(p.by).label, time(&p.at))));
            pf.push(mono("Event SHA-256", p.event_hash.clone()));
            if let Some(fp) = key_fp(&p.event_hash) {
                pf.push(mono("Signing key", fp));
            }
            b.push(Block::Fields(pf));
        }
        let derivatives: Vec<&EvidenceView> =
            c.evidence.iter().filter(|d| d.derived_from.as_ref().is_some_and(|p| p.original_id == e.id)).collect();
        if !derivatives.is_empty() {
            b.push(Block::Label(format!("Derivatives of {me}")));
            b.push(Block::Fields(
                derivatives
                    .iter()
                    .map(|d| {
                        let ops = d.derived_from.as_ref().map(|p| p.operations.join("; ")).unwrap_or_default();
                        field(&item_label(d.id), format!("{} ({}): {ops}", d.original_name, d.id))
                    })
                    .collect(),
            ));
        }

        b.push(Block::Label(format!("Custody trail of {me}")));
        if custody.is_empty() {
            b.push(Block::Para("No custody entries are held.".into()));
        }
        for (i, cv) in custody.iter().enumerate() {
            b.push(custody_entry(i + 1, cv, &people, key_fp(&cv.event_hash)));
        }
    }

    // ----- deleted items
    let tombstones = store.tombstones(Some(case))?;
    b.push(Block::Heading(format!("Deleted items ({})", tombstones.len())));
    if tombstones.is_empty() {
        b.push(Block::Para("The agency deleted no item of this case.".into()));
    } else {
        b.push(Block::Para(
            "Items the agency deleted (crypto-shredded) under its retention rules, each by a tombstone signed with the agency's \
             root key. The SHA-256 is the one the item's signed evidence_added event recorded; the content itself no longer exists."
                .into(),
        ));
    }
    for (i, t) in tombstones.iter().enumerate() {
        let t = &t.tombstone;
        b.push(Block::Entry {
            title: format!("{}. {} · {} deleted under rule {}", i + 1, time(&t.deleted_at), item_label(t.evidence_id), t.rule),
            fields: vec![
                mono("Evidence id", t.evidence_id.to_string()),
                mono("Recorded SHA-256", t.sha256.clone()),
                field("Rule", &t.rule),
                field("Reason", t.reason.clone().unwrap_or_else(|| "none given".into())),
                field("Deleted at", time(&t.deleted_at)),
                mono("Tombstone id", t.id.to_string()),
                mono("Agency", t.agency_id.to_string()),
            ],
        });
    }

    // ----- notes, with their amendments (the original stays)
    b.push(Block::Heading(format!("Notes ({})", c.notes.len())));
    if c.notes.is_empty() {
        b.push(Block::Para("This case holds no notes.".into()));
    } else {
        b.push(Block::Para(
            "Each note as its author signed it. A corrected note shows its current text, marked amended, then its original text              and every amendment with its time and reason: each is a signed event listed under \"Signed events\" (note_added,              note_amended), and only the note's author may amend it."
                .into(),
        ));
    }
    for (i, n) in c.notes.iter().enumerate() {
        let amended = !n.amendments.is_empty();
        let mut f = vec![field("By", people.get(n.author).label), field(if amended { "Text (amended)" } else { "Text" }, &n.text)];
        if let Some(original) = &n.original_text {
            f.push(field(&format!("Original, {}", time(&n.at)), original));
        }
        for (j, a) in n.amendments.iter().enumerate() {
            let why = a.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            f.push(field(&format!("Amendment {}, {}{why}", j + 1, time(&a.at)), &a.text));
        }
        b.push(Block::Entry { title: format!("N{}. {}{}", i + 1, time(&n.at), if amended { " · amended" } else { "" }), fields: f });
    }

    // ----- access log
    b.push(Block::Heading("Access log".into()));
    b.push(Block::Para(
        "Who opened, exported or reported on this case or its items, when and why, as recorded by each member's own signed events. \
         The writing of this report is recorded after it is written, so it appears in the next report."
            .into(),
    ));
    let access = store.access_log(case)?;
    if access.is_empty() {
        b.push(Block::Para("No access is recorded.".into()));
    }
    for (i, a) in access.iter().enumerate() {
        let what = match a.evidence_id {
            Some(id) => format!("{} ({})", a.action, item_label(id)),
            None => format!("{} (whole case)", a.action),
        };
        let mut f = vec![field("By", people.get(a.actor).label), mono("Device", a.device.to_string())];
        f.push(field("Reason", a.reason.clone().unwrap_or_else(|| "none given".into())));
        let ev = events.iter().find(|ev| {
            let body = ev.body();
            body.author == a.actor
                && body.at == a.at
                && matches!(&body.kind, EventKind::AccessRecorded { action, evidence_id, .. } if *action == a.action && *evidence_id == a.evidence_id)
        });
        if let Some(ev) = ev {
            f.push(mono("Event SHA-256", to_hex(&ev.hash())));
            f.push(mono("Signing key", fingerprint(ev.public_key())));
        }
        b.push(Block::Entry { title: format!("{}. {} · {what}", i + 1, time(&a.at)), fields: f });
    }

    // ----- disclosures
    b.push(Block::Heading("Disclosures of contributors' identities".into()));
    let disclosures = store.disclosures(case)?;
    if disclosures.is_empty() {
        b.push(Block::Para("None recorded: every volunteer appears under a pseudonym.".into()));
    }
    for (i, d) in disclosures.iter().enumerate() {
        let who = people.get(d.member_id);
        b.push(Block::Entry {
            title: format!("{}. {}", i + 1, who.label),
            fields: vec![
                mono("Member id", d.member_id.to_string()),
                field("Legal basis", &d.reason),
                field("Recorded by", format!("{}, {}", people.get(d.by).label, time(&d.at))),
            ],
        });
    }

    // ----- signed events
    b.push(Block::Heading(format!("Signed events of this case ({})", events.len())));
    b.push(Block::Para(
        "Every event this store holds for the case, in journal order: what it records, who signed it, the author's sequence \
         number, the event's SHA-256 and the fingerprint of the key that signed it."
            .into(),
    ));
    for (i, ev) in events.iter().enumerate() {
        let body = ev.body();
        let about = body.kind.evidence_id().map(|id| format!(" ({})", item_label(id))).unwrap_or_default();
        b.push(Block::Entry {
            title: format!("{}. {} · {}{about}", i + 1, time(&body.at), body.kind.name()),
            fields: vec![
                field("Signed by", format!("{}, event {}", people.get(body.author).label, body.seq)),
                mono("Event SHA-256", to_hex(&ev.hash())),
                mono("Signing key", fingerprint(ev.public_key())),
            ],
        });
    }

    // ----- keys
    keys(&mut b, store, events, &people, &agencies);
    // ----- credentials and receipts
    trust(&mut b, store, case, events, &people, pinned, &vetted)?;

    let footer = format!("Casebridge court report {reference}, generated {}", time(&now));
    let items = c.evidence.len();
    Ok(Composed { doc: Doc { title: format!("Court report {reference}"), footer, blocks: b }, items, damaged })
}

// ----- what the content says: the agency's own reading against the submitter's statement ---

/// Capture times further apart than this are flagged.
pub const TIME_TOLERANCE_SECS: i64 = 60;

/// Capture places further apart than this are flagged.
pub const PLACE_TOLERANCE_M: f64 = 50.0;

/// Great-circle distance in metres (haversine, mean Earth radius).
fn distance_m(a: &GeoPoint, b: &GeoPoint) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon - a.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

fn camera_name(c: &Camera) -> String {
    [c.make.as_deref(), c.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// The custody "received" that carries the agency's own reading of the content: recorded by
/// police staff (the agency endpoint's store is a supervisor), not by the contributor. The
/// first one, as the content was when it first reached the agency.
fn agency_observation<'c>(e: &EvidenceView, custody: &'c [CustodyView], people: &People<'_>) -> Option<(&'c CustodyView, &'c Observed)> {
    custody.iter().find_map(|cv| {
        let staff = matches!(people.get(cv.actor).role, Some(Role::Investigator | Role::Supervisor));
        let o = cv.observed.as_ref()?;
        (cv.action == CustodyAction::Received && cv.actor != e.contributor && staff && cv.sha256 == e.sha256).then_some((cv, o))
    })
}

/// Where the agency's reading and the submitter's statement differ: one line each.
pub(crate) fn metadata_mismatches(e: &EvidenceView, o: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    let theirs = &e.extracted;
    let ours = &o.extracted;
    if o.media_type != e.media_type {
        out.push(format!("media type: the content is {}, the submitter stated {}", o.media_type, e.media_type));
    }
    let times =
        [("the submitter's claimed capture time", e.claimed.captured_at), ("the submitter's software's EXIF time", theirs.captured_at)];
    for (what, t) in times {
        if let (Some(ours), Some(t)) = (ours.captured_at, t) {
            let secs = (ours - t).num_seconds().abs();
            if secs > TIME_TOLERANCE_SECS {
                out.push(format!("capture time: the content's EXIF says {}, {what} is {} ({secs} s apart)", time(&ours), time(&t)));
            }
        }
    }
    // The agency reads EXIF only from images it can hold in memory: for larger ones its
    // "none" means "not read", which is no contradiction.
    let exif_read = !o.media_type.starts_with("image/") || e.size <= OBSERVE_MAX_BYTES;
    match (ours.captured_at, theirs.captured_at) {
        (None, Some(_)) if !exif_read => {}
        (None, Some(t)) => {
            out.push(format!("capture time: the content holds no EXIF time; the submitter's software reported {}", time(&t)))
        }
        (Some(t), None) => out.push(format!("capture time: the content's EXIF says {}; the submitter's software reported none", time(&t))),
        _ => {}
    }
    let places = [("the submitter's claimed place", e.claimed.location), ("the submitter's software's EXIF GPS", theirs.location)];
    for (what, p) in places {
        if let (Some(ours), Some(p)) = (ours.location, p) {
            let d = distance_m(&ours, &p);
            if d > PLACE_TOLERANCE_M {
                out.push(format!("place: the content's EXIF GPS says {}, {what} is {} ({d:.0} m apart)", place(&ours), place(&p)));
            }
        }
    }
    match (ours.location, theirs.location) {
        (None, Some(_)) if !exif_read => {}
        (None, Some(p)) => out.push(format!("place: the content holds no EXIF GPS; the submitter's software reported {}", place(&p))),
        (Some(p), None) => out.push(format!("place: the content's EXIF GPS says {}; the submitter's software reported none", place(&p))),
        _ => {}
    }
    if ours.camera != theirs.camera && (exif_read || ours.camera.is_some()) {
        let name = |c: &Option<Camera>| c.as_ref().map(camera_name).filter(|n| !n.is_empty()).unwrap_or_else(|| "none".into());
        out.push(format!(
            "camera: the content's EXIF says {}, the submitter's software reported {}",
            name(&ours.camera),
            name(&theirs.camera)
        ));
    }
    out
}

/// The item's capture time, place, camera and media type twice: as the agency read them from
/// the content on receipt (signed by the agency), and as the submitter stated them (their
/// claims, and what their own software reported reading), with a flag where they differ.
fn metadata_section(b: &mut Vec<Block>, e: &EvidenceView, custody: &[CustodyView], people: &People<'_>, me: &str) {
    let none_in_content = || "none in the content".to_string();
    b.push(Block::Label(format!("Capture time, place and camera of {me}")));
    match agency_observation(e, custody, people) {
        Some((cv, o)) => {
            let x = &o.extracted;
            let mut f = vec![field(
                "Read by",
                format!(
                    "{}, on receipt, {}: read from the content the agency holds, signed in its custody entry",
                    people.get(cv.actor).label,
                    time(&cv.at)
                ),
            )];
            f.push(field("Media type (agency)", format!("{} (sniffed from the bytes)", o.media_type)));
            if o.media_type.starts_with("image/") && e.size > OBSERVE_MAX_BYTES {
                f.push(field("EXIF (agency)", format!("not read: the image is larger than {} MiB", OBSERVE_MAX_BYTES / (1024 * 1024))));
            }
            f.push(field(
                "Capture time (agency)",
                x.captured_at.as_ref().map(|t| format!("{} (EXIF)", time(t))).unwrap_or_else(none_in_content),
            ));
            f.push(field(
                "Place (agency)",
                x.location.as_ref().map(|p| format!("{} (EXIF GPS)", place(p))).unwrap_or_else(none_in_content),
            ));
            f.push(field(
                "Camera (agency)",
                x.camera.as_ref().map(|c| format!("{} (EXIF)", camera_name(c))).unwrap_or_else(none_in_content),
            ));
            b.push(Block::Fields(f));
        }
        None => b.push(Block::Para(format!(
            "Not read by the agency: no custody entry signed by police staff records what the content of {me} says (evidence \
             added by police staff, received before agencies recorded their own reading, or received by a member this store \
             does not know as police staff). The values below are the contributor's statement only."
        ))),
    }
    let mut f = vec![field("Media type (stated)", format!("{} (sniffed by the submitter's software)", e.media_type))];
    f.push(field("Claimed capture time", e.claimed.captured_at.as_ref().map(time).unwrap_or_else(|| "none claimed".into())));
    f.push(field("Claimed place", e.claimed.location.as_ref().map(place).unwrap_or_else(|| "none claimed".into())));
    let reported = |v: Option<String>| v.unwrap_or_else(|| "none reported".into());
    f.push(field(
        "Capture time (stated EXIF)",
        reported(e.extracted.captured_at.as_ref().map(|t| format!("{} (EXIF, as read by the submitter's software)", time(t)))),
    ));
    f.push(field(
        "Place (stated EXIF)",
        reported(e.extracted.location.as_ref().map(|p| format!("{} (EXIF GPS, as read by the submitter's software)", place(p)))),
    ));
    f.push(field(
        "Camera (stated EXIF)",
        reported(e.extracted.camera.as_ref().map(|c| format!("{} (EXIF, as read by the submitter's software)", camera_name(c)))),
    ));
    b.push(Block::Label(format!("Stated by the submitter of {me}")));
    b.push(Block::Fields(f));
    if let Some((_, o)) = agency_observation(e, custody, people) {
        let diffs = metadata_mismatches(e, o);
        if diffs.is_empty() {
            b.push(Block::Para(format!(
                "The agency's reading and the submitter's statement agree (times within {TIME_TOLERANCE_SECS} s, places within \
                 {PLACE_TOLERANCE_M:.0} m, same camera and media type)."
            )));
        } else {
            b.push(Block::Alert(format!(
                "METADATA MISMATCH: what the submitter stated about {me} differs from what the agency read from the content on \
                 receipt: {}.",
                diffs.join("; ")
            )));
        }
    }
}

fn header(b: &mut Vec<Block>, c: &CaseDetail, people: &People<'_>, store: &Store, opts: &ReportOptions, now: DateTime<FixedOffset>) {
    b.push(Block::Heading("Case".into()));
    let mut f = vec![field("Reference", c.reference.clone().unwrap_or_else(|| "none".into()))];
    f.push(field("Title", &c.title));
    f.push(mono("Case id", c.id.to_string()));
    f.push(field("Status", c.status.as_str()));
    f.push(field("Summary", c.summary.clone().unwrap_or_else(|| "none".into())));
    f.push(field("Tags", if c.tags.is_empty() { "none".into() } else { c.tags.join(", ") }));
    let created = match (&c.created_at, c.created_by) {
        (Some(t), Some(by)) => format!("{} by {}", time(t), people.get(by).label),
        (Some(t), None) => time(t),
        _ => "unknown".into(),
    };
    f.push(field("Created", created));
    f.push(field("Last updated", c.updated_at.as_ref().map(time).unwrap_or_else(|| "unknown".into())));
    f.push(field("Evidence items", c.evidence.len().to_string()));
    b.push(Block::Fields(f));

    b.push(Block::Heading("This report".into()));
    let me = store.whoami();
    let mut f = vec![field("Generated", time(&now))];
    f.push(field("Generated by", people.get(me.member_id).label));
    f.push(mono("Key fingerprint", me.fingerprint.clone()));
    f.push(mono("Device", me.device_id.to_string()));
    f.push(field("Reason", opts.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("none given")));
    f.push(field("Generated with", format!("casebridge {} (casebridge-court)", env!("CARGO_PKG_VERSION"))));
    b.push(Block::Fields(f));
}

fn custody_entry(n: usize, cv: &CustodyView, people: &People<'_>, key: Option<String>) -> Block {
    let mut f = vec![field("By", people.get(cv.actor).label), mono("Device", cv.device.to_string())];
    if let Some(r) = &cv.reason {
        f.push(field("Reason", r));
    }
    f.push(mono("Item SHA-256", cv.sha256.clone()));
    if let Some(o) = &cv.observed {
        let x = &o.extracted;
        let mut read = vec![o.media_type.clone()];
        read.extend(x.captured_at.as_ref().map(|t| format!("EXIF time {}", time(t))));
        read.extend(x.location.as_ref().map(|p| format!("EXIF GPS {:.6}, {:.6}", p.lat, p.lon)));
        read.extend(x.camera.as_ref().map(|c| format!("camera {}", camera_name(c))));
        f.push(field("Read from the content", read.join("; ")));
    }
    f.push(mono("Event SHA-256", cv.event_hash.clone()));
    if let Some(k) = key {
        f.push(mono("Signing key", k));
    }
    Block::Entry { title: format!("{n}. {} · {}", time(&cv.at), cv.action.as_str()), fields: f }
}

/// The agency root fingerprint the court package of this case is anchored to (the agency
/// `casebridge export court` would put in it), for `casebridge-verify --agency-root`.
fn anchor(b: &mut Vec<Block>, store: &Store, agencies: &casebridge_trust::Result<Vec<AgencyPublic>>) {
    let chosen = match agencies {
        Ok(pinned) => crate::package::package_agency(store, pinned),
        Err(_) => {
            b.push(Block::Alert(
                "The pinned agencies could not be read, so the agency root fingerprint to check the court evidence package \
                 against is not shown here; obtain it from the agency."
                    .into(),
            ));
            return;
        }
    };
    match chosen {
        Ok(Some(a)) => {
            b.push(Block::Para(format!(
                "The court evidence package is anchored to the agency {}: check it with casebridge-verify DIR --agency-root \
                 FINGERPRINT, where FINGERPRINT is the agency's root key fingerprint obtained from the agency out of band. It must \
                 equal the one below; without it the verifier does not report the package VERIFIED.",
                a.name
            )));
            b.push(Block::Fields(vec![mono("Agency root fingerprint", a.root_fingerprint())]));
        }
        Ok(None) => b.push(Block::Para(
            "This profile has pinned no agency, so its court evidence package carries no agency file and cannot be anchored to \
             an agency root key: casebridge-verify will not report it VERIFIED."
                .into(),
        )),
        Err(_) => b.push(Block::Alert(
            "The agency of the court evidence package could not be determined (a stored credential could not be read); obtain \
             the agency root fingerprint from the agency."
                .into(),
        )),
    }
}

/// The public keys needed to verify: every author of the case's events, this profile, and the
/// pinned agencies.
fn keys(
    b: &mut Vec<Block>,
    store: &Store,
    events: &[SignedEvent],
    people: &People<'_>,
    agencies: &casebridge_trust::Result<Vec<AgencyPublic>>,
) {
    b.push(Block::Heading("Keys needed to verify".into()));
    b.push(Block::Para(
        "Ed25519 public keys in hex; a fingerprint is the SHA-256 of the key's 32 bytes. Compare the agency's root key \
         fingerprint with the one the agency publishes through a channel you trust."
            .into(),
    ));
    for (id, (key, count)) in &authors(store, events) {
        let who = people.get(*id);
        let mut f = Vec::new();
        f.push(field("Role", who.role.map(|r| r.as_str()).unwrap_or("unknown")));
        if who.named {
            f.push(mono("Member id", id.to_string()));
        }
        f.push(mono("Public key", key.clone()));
        f.push(mono("Fingerprint", key_fingerprint(key)));
        f.push(field("Events in this case", count.to_string()));
        let title = if *id == store.whoami().member_id { format!("{} (generated this report)", who.label) } else { who.label };
        b.push(Block::Entry { title, fields: f });
    }
    match agencies {
        Ok(agencies) if agencies.is_empty() => b.push(Block::Para("This profile has pinned no agency.".into())),
        Ok(agencies) => {
            for a in agencies {
                b.push(Block::Entry {
                    title: format!("Agency {} (pinned)", a.name),
                    fields: vec![
                        mono("Agency id", a.agency_id.to_string()),
                        mono("Root key", a.root_key.clone()),
                        mono("Root fingerprint", a.root_fingerprint()),
                        mono("Sealing key", a.sealing_recipient.clone()),
                        mono("Sealing fingerprint", a.sealing_fingerprint()),
                        field("Created", time(&a.created_at)),
                    ],
                });
            }
        }
        Err(e) => b.push(Block::Alert(format!("The pinned agencies could not be read: {e}"))),
    }
}

/// Every author of the case's events and this profile: member id -> (public key hex, events).
fn authors(store: &Store, events: &[SignedEvent]) -> BTreeMap<Uuid, (String, usize)> {
    let mut authors: BTreeMap<Uuid, (String, usize)> = BTreeMap::new();
    for ev in events {
        authors.entry(ev.body().author).or_insert_with(|| (ev.body().key.clone(), 0)).1 += 1;
    }
    let me = store.whoami();
    authors.entry(me.member_id).or_insert_with(|| (me.public_key.clone(), 0));
    authors
}

fn key_fingerprint(key_hex: &str) -> String {
    hex::decode(key_hex).map(|k| fingerprint(&k)).unwrap_or_else(|_| "the key is malformed".into())
}

/// The credentials held for the case's authors (this profile's own, and those kept from
/// bundles), and the receipts held for bundles of this case.
fn trust(
    b: &mut Vec<Block>,
    store: &Store,
    case: Uuid,
    events: &[SignedEvent],
    people: &People<'_>,
    agencies: &[AgencyPublic],
    vetted: &BTreeMap<Uuid, Vetted>,
) -> Result<()> {
    b.push(Block::Heading("Credentials and receipts held".into()));
    b.push(Block::Para(
        "Credentials are the agencies' signed statements of who a member was vetted as. Each one below verifies with the \
         root key of the pinned agency named; \"signing key matches\" says whether it binds the key that signed the \
         member's events."
            .into(),
    ));
    let now = Local::now().fixed_offset();
    let mut any = false;
    for (id, (key, _)) in &authors(store, events) {
        let Some(v) = vetted.get(id) else { continue };
        any = true;
        let cred = &v.credential;
        let state = if cred.valid_at(now) {
            "valid now"
        } else if now < cred.not_before {
            "not yet valid"
        } else {
            "expired"
        };
        // The credential names its holder; a volunteer holder keeps their pseudonym.
        let who = people.get(*id);
        b.push(Block::Entry {
            title: format!("Credential of {}", who.label),
            fields: vec![
                field("Issued by", format!("agency {} (root key fingerprint under \"Keys needed to verify\")", v.agency)),
                mono("Serial", cred.serial.to_string()),
                field("Role granted", cred.role.as_str()),
                field("Scopes", cred.scopes.join(", ")),
                field("Valid", format!("{} to {} ({state})", time(&cred.not_before), time(&cred.not_after))),
                field("Issued", time(&cred.issued_at)),
                mono("Holder key", key_fingerprint(&cred.key)),
                field(
                    "Signing key matches",
                    if cred.key.eq_ignore_ascii_case(key) { "yes" } else { "NO: the events were signed by another key" },
                ),
            ],
        });
    }
    // This profile's own credentials that do not verify are shown, not dropped.
    for a in agencies {
        if let Err(e) = casebridge_trust::profile::credential(store, a) {
            any = true;
            b.push(Block::Alert(format!("This profile's credential from agency {} does not verify: {e}", a.name)));
        }
    }
    if !any {
        b.push(Block::Para("No credential is held for the members of this case.".into()));
    }

    // Receipts for the bundles of this case that this profile sent.
    let mut bundles = BTreeSet::new();
    for a in agencies {
        bundles.extend(store.bundles_out(a.agency_id)?.into_iter().filter(|r| r.case_id == Some(case)).map(|r| r.bundle_id));
    }
    let receipts = match casebridge_trust::profile::receipts(store) {
        Ok(rs) => rs,
        Err(e) => {
            b.push(Block::Alert(format!("The receipts could not be read: {e}")));
            return Ok(());
        }
    };
    let receipts: Vec<_> = receipts.into_iter().filter(|r| bundles.contains(&r.receipt.bundle_id)).collect();
    if receipts.is_empty() {
        b.push(Block::Para("No receipt is held for a bundle of this case.".into()));
    }
    for r in receipts {
        let agency = agencies
            .iter()
            .find(|a| a.agency_id == r.receipt.agency_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| r.receipt.agency_id.to_string());
        b.push(Block::Entry {
            title: format!("Receipt for bundle {}", r.receipt.bundle_id),
            fields: vec![
                field("Agency", agency),
                mono("Manifest SHA-256", r.receipt.manifest_hash.clone()),
                field("Received", time(&r.receipt.received_at)),
                field("Outcome", r.receipt.outcome.as_str()),
                field("Carried", format!("{} events, {} files", r.receipt.events, r.receipt.blobs)),
                field(
                    "Signature",
                    if r.verified { "verifies with the pinned agency root key" } else { "DOES NOT VERIFY with a pinned agency key" },
                ),
            ],
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use casebridge_core::{Claimed, Extracted};

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn canon() -> Option<Camera> {
        Some(Camera { make: Some("Canon".into()), model: Some("EOS R6".into()) })
    }

    /// An item whose submitter stated `stated` and claimed `claimed`.
    fn item(stated: Extracted, claimed: Claimed) -> EvidenceView {
        EvidenceView {
            id: Uuid::from_u128(1),
            case_id: Uuid::from_u128(2),
            sha256: "00".repeat(32),
            size: 1,
            media_type: "image/jpeg".into(),
            original_name: "p.jpg".into(),
            captured_at: None,
            location: None,
            camera: None,
            description: None,
            claimed,
            extracted: stated,
            contributor: Uuid::from_u128(3),
            contributor_name: None,
            added_at: at("2026-03-14T12:00:00+01:00"),
            derived_from: None,
            deleted: None,
        }
    }

    /// The photo's real EXIF, as the agency read it.
    fn real() -> Observed {
        Observed {
            media_type: "image/jpeg".into(),
            extracted: Extracted {
                captured_at: Some(at("2026-03-14T23:41:05+01:00")),
                location: Some(GeoPoint::new(53.5453, 9.9666).unwrap()),
                camera: canon(),
            },
        }
    }

    #[test]
    fn a_statement_within_the_tolerances_is_not_flagged() {
        let o = real();
        // The same instant in another zone, 59 s off, and about 40 m away.
        let stated = Extracted { captured_at: Some(at("2026-03-14T22:41:05+00:00")), ..o.extracted.clone() };
        let claimed =
            Claimed { captured_at: Some(at("2026-03-14T23:42:04+01:00")), location: Some(GeoPoint::new(53.54566, 9.9666).unwrap()) };
        assert!(distance_m(&o.extracted.location.unwrap(), &claimed.location.unwrap()) < PLACE_TOLERANCE_M);
        assert_eq!(metadata_mismatches(&item(stated, claimed), &o), Vec::<String>::new());
    }

    #[test]
    fn each_difference_beyond_the_tolerances_is_flagged() {
        let o = real();
        let none = Claimed { captured_at: None, location: None };
        let flagged = |stated: Extracted, claimed: Claimed, media: &str, what: &str| {
            let mut e = item(stated, claimed);
            e.media_type = media.into();
            let m = metadata_mismatches(&e, &o);
            assert_eq!(m.len(), 1, "{what}: {m:?}");
            assert!(m[0].starts_with(what), "{m:?}");
        };
        let honest = || o.extracted.clone();
        flagged(honest(), Claimed { captured_at: Some(at("2026-03-14T23:42:06+01:00")), location: None }, "image/jpeg", "capture time");
        flagged(honest(), Claimed { captured_at: None, location: Some(GeoPoint::new(53.5459, 9.9666).unwrap()) }, "image/jpeg", "place");
        flagged(Extracted { camera: None, ..honest() }, none.clone(), "image/jpeg", "camera");
        flagged(
            Extracted { camera: Some(Camera { make: Some("Apple".into()), model: None }), ..honest() },
            none.clone(),
            "image/jpeg",
            "camera",
        );
        flagged(honest(), none.clone(), "image/png", "media type");
        // Stating EXIF the content does not hold is flagged; claiming a time without EXIF is not.
        let mut bare = o.clone();
        bare.extracted = Extracted::default();
        let e = item(Extracted::default(), Claimed { captured_at: Some(at("2026-01-01T00:00:00Z")), location: None });
        assert!(metadata_mismatches(&e, &bare).is_empty());
        let mut e = item(Extracted { captured_at: Some(at("2026-01-01T00:00:00Z")), camera: canon(), ..Extracted::default() }, none);
        assert_eq!(metadata_mismatches(&e, &bare).len(), 2);
        // An image too large for the agency to read its EXIF: its "none" contradicts nothing.
        e.size = OBSERVE_MAX_BYTES + 1;
        assert_eq!(metadata_mismatches(&e, &bare), Vec::<String>::new());
    }

    #[test]
    fn the_partial_file_sits_beside_the_output() {
        assert_eq!(partial_path(Path::new("/tmp/x/report.pdf")), Path::new("/tmp/x/report.pdf.partial"));
        assert_eq!(partial_path(Path::new("r.html")), Path::new("r.html.partial"));
    }

    #[test]
    fn sizes_show_exact_bytes() {
        assert_eq!(bytes_human(5), "5 bytes");
        assert_eq!(bytes_human(1536), "1536 bytes (1.5 KiB)");
    }
}
