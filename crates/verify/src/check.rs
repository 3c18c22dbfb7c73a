//! The five checks of docs/FORMAT.md, "Court evidence package", in order.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::format::{self, doc_type, fingerprint, is_hex_digest, is_uuid, open_doc, open_envelope, parse_time, Event};
use crate::report::{
    AgencyInfo, CaseInfo, Counts, CredentialInfo, CustodyInfo, ExporterInfo, ItemInfo, MemberInfo, ObservedInfo, PackageInfo, Problem,
    ReceiptInfo, Report, RevokedInfo, TombstoneInfo,
};
use crate::AgencyRoot;

/// The manifest file.
pub const MANIFEST: &str = "manifest.json";
/// The `sha256sum -c` file.
pub const SUMS: &str = "SHA256SUMS";
/// The agency public file.
pub const AGENCY: &str = "agency.json";
/// A manifest lists every event and file; far larger than any one signed document may be.
const MAX_MANIFEST_LEN: u64 = 256 * 1024 * 1024;
/// SHA256SUMS: one short line per file.
const MAX_SUMS_LEN: u64 = 256 * 1024 * 1024;
/// Folders deeper than this are not walked (the layout is two levels deep).
const MAX_DEPTH: usize = 16;

// ----- the manifest body (FORMAT.md, "manifest.json body") ----------------------------------

#[derive(Deserialize)]
struct Manifest {
    v: u64,
    package_id: String,
    created_at: String,
    case: ManifestCase,
    exporter: ManifestExporter,
    events: Vec<ManifestEvent>,
    items: Vec<ManifestItem>,
    files: Vec<ManifestFile>,
    /// Per-case pseudonyms of authors whose names are not disclosed, by member id.
    #[serde(default)]
    pseudonyms: BTreeMap<String, String>,
    /// Items the agency deleted: their tombstones (absent in packages without deletions).
    #[serde(default)]
    tombstones: Vec<ManifestTombstone>,
}

#[derive(Deserialize)]
struct ManifestTombstone {
    evidence_id: String,
    file: String,
}

#[derive(Deserialize)]
struct TombstoneBody {
    agency_id: String,
    evidence_id: String,
    case_id: String,
    sha256: String,
    rule: String,
    #[serde(default)]
    reason: Option<String>,
    deleted_at: String,
}

#[derive(Deserialize)]
struct ManifestCase {
    id: String,
    reference: Option<String>,
    title: String,
    status: String,
}

#[derive(Deserialize)]
struct ManifestExporter {
    member_id: String,
    name: String,
    role: String,
    key: String,
}

#[derive(Deserialize)]
struct ManifestEvent {
    file: String,
    sha256: String,
}

#[derive(Deserialize)]
struct ManifestItem {
    evidence_id: String,
    file: String,
    sha256: String,
    size: u64,
    media_type: String,
    original_name: String,
    derived_from: Option<String>,
}

#[derive(Deserialize)]
struct ManifestFile {
    path: String,
    sha256: String,
    size: u64,
}

// ----- signed documents of the agency (FORMAT.md, "Signed documents") ------------------------

#[derive(Deserialize)]
struct AgencyIdentity {
    agency_id: String,
    name: String,
    root_key: String,
}

#[derive(Deserialize)]
struct RevocationList {
    agency_id: String,
    version: u64,
    issued_at: String,
    expires_at: String,
    entries: Vec<Revoked>,
}

#[derive(Deserialize)]
struct Revoked {
    member_id: String,
    key: String,
    revoked_at: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Credential {
    agency_id: String,
    serial: String,
    member_id: String,
    /// `hex(SHA-256("casebridge-name-v1" || salt || name))`; the name is not in the credential.
    #[serde(default)]
    name_commitment: String,
    role: String,
    key: String,
    not_before: String,
    not_after: String,
}

/// `names/<member id>.json`: opens a credential's name commitment.
#[derive(Deserialize)]
struct NameDisclosure {
    serial: String,
    member_id: String,
    name: String,
    salt: String,
}

/// Domain tag of a name commitment (docs/FORMAT.md, "Credential").
const NAME_COMMITMENT_TAG: &[u8] = b"casebridge-name-v1";

impl NameDisclosure {
    /// Why this disclosure does not open credential `c` of member `member`, if it does not.
    fn mismatch(&self, c: &Credential, member: &str) -> Option<String> {
        if self.member_id != member || self.serial != c.serial {
            return Some(format!(
                "is a name disclosure for credential {} of member {}, not for credential {} of member {member}",
                self.serial, self.member_id, c.serial
            ));
        }
        let Some(salt) = hex::decode(&self.salt).ok().filter(|s| s.len() == 32) else {
            return Some("has a salt that is not 32 bytes of hex".into());
        };
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(NAME_COMMITMENT_TAG);
        ctx.update(&salt);
        ctx.update(self.name.as_bytes());
        let commitment = hex::encode(ctx.finish());
        (commitment != c.name_commitment.to_ascii_lowercase()).then(|| {
            format!("does not open the name commitment of credentials/{member}.json: the name or salt was changed, or it belongs to another credential")
        })
    }
}

#[derive(Deserialize)]
struct Receipt {
    agency_id: String,
    bundle_id: String,
    sender: String,
    received_at: String,
    outcome: String,
    events: u64,
    blobs: u64,
}

// ----- the files on disk ---------------------------------------------------------------------

/// What was found at a path inside the package.
enum Found {
    /// A regular file, hashed.
    File { size: u64, sha256: String },
    /// Something that is not a regular file, or cannot be read.
    Bad(String),
}

/// The verifier's working state.
struct Verifier<'a> {
    dir: &'a Path,
    /// The agency root the package must chain to, when given.
    anchor: Option<&'a AgencyRoot>,
    found: BTreeMap<String, Found>,
    problems: BTreeSet<Problem>,
    flags: BTreeSet<String>,
    report: Report,
}

fn file_subject(path: &str) -> String {
    format!("file {path}")
}

/// A package-relative path as the manifest may name it: `/`-separated, no empty, `.` or `..`
/// component, not absolute.
fn is_safe_path(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && !p.contains('\\') && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// True for a path the package layout allows (besides `manifest.json` and `SHA256SUMS`).
fn in_layout(p: &str) -> bool {
    let in_dir = |dir: &str, ok: &dyn Fn(&str) -> bool| p.strip_prefix(dir).and_then(|r| r.strip_prefix('/')).is_some_and(ok);
    let json_id = |name: &str| name.strip_suffix(".json").is_some_and(is_uuid);
    // A member who signed with several keys has `<member id>.<16 hex digits of the key>.json`.
    let credential = |name: &str| {
        json_id(name)
            || name.strip_suffix(".json").and_then(|n| n.split_once('.')).is_some_and(|(id, key)| {
                is_uuid(id) && key.len() == 16 && key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    };
    p == "README.md"
        || p == AGENCY
        || in_dir("events", &|n| n.strip_suffix(".event").is_some_and(|d| d.len() >= 6 && d.bytes().all(|b| b.is_ascii_digit())))
        || in_dir("originals", &is_uuid)
        || in_dir("credentials", &credential)
        || in_dir("names", &json_id)
        || in_dir("receipts", &json_id)
        || in_dir("tombstones", &json_id)
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(ctx.finish())))
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "disappeared while it was being checked".into(),
        std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".into(),
        _ => format!("cannot be read: {}", e.kind()),
    }
}

impl<'a> Verifier<'a> {
    fn problem(&mut self, check: u8, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.insert(Problem { check, subject: subject.into(), message: message.into(), code: None });
    }

    fn problem_code(&mut self, check: u8, code: &str, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.insert(Problem { check, subject: subject.into(), message: message.into(), code: Some(code.into()) });
    }

    fn flag(&mut self, text: String) {
        self.flags.insert(text);
    }

    /// Walks the package without following links; every regular file is hashed.
    fn walk(&mut self, rel: &str, depth: usize) {
        let here = if rel.is_empty() { self.dir.to_path_buf() } else { self.dir.join(rel) };
        let entries = match fs::read_dir(&here) {
            Ok(rd) => rd,
            Err(e) => {
                let subject = if rel.is_empty() { "package".to_string() } else { format!("folder {rel}") };
                self.problem(2, subject, format!("folder {}", io_message(&e)));
                return;
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => names.push(e.file_name()),
                Err(e) => {
                    let subject = if rel.is_empty() { "package".to_string() } else { format!("folder {rel}") };
                    self.problem(2, subject, format!("an entry {}", io_message(&e)));
                }
            }
        }
        names.sort();
        for name in names {
            let shown = name.to_string_lossy().into_owned();
            let path = if rel.is_empty() { shown.clone() } else { format!("{rel}/{shown}") };
            if name.to_str().is_none() {
                self.problem(2, file_subject(&path), "has a name that is not UTF-8; it cannot be listed in the manifest");
                continue;
            }
            let full = self.dir.join(&path);
            let meta = match fs::symlink_metadata(&full) {
                Ok(m) => m,
                Err(e) => {
                    self.found.insert(path, Found::Bad(io_message(&e)));
                    continue;
                }
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                if depth >= MAX_DEPTH {
                    self.problem(2, format!("folder {path}"), "is nested too deeply to be part of a package");
                } else {
                    self.walk(&path, depth + 1);
                }
            } else if ft.is_symlink() {
                self.found.insert(path, Found::Bad("is a symbolic link, which a package never contains (not followed)".into()));
            } else if !ft.is_file() {
                self.found.insert(path, Found::Bad("is not a regular file".into()));
            } else {
                match hash_file(&full) {
                    Ok((size, sha256)) => self.found.insert(path, Found::File { size, sha256 }),
                    Err(e) => self.found.insert(path, Found::Bad(io_message(&e))),
                };
            }
        }
    }

    /// Reads a small file found by the walk, bounded by `max` bytes.
    fn read_found(&mut self, check: u8, subject: &str, path: &str, max: u64) -> Option<Vec<u8>> {
        match self.found.get(path) {
            None => {
                self.problem(check, subject, "is missing");
                return None;
            }
            Some(Found::Bad(why)) => {
                let why = why.clone();
                self.problem(check, subject, why);
                return None;
            }
            Some(Found::File { size, .. }) if *size > max => {
                let size = *size;
                self.problem(check, subject, format!("is {size} bytes, more than the {max} a file of its kind may have"));
                return None;
            }
            Some(Found::File { .. }) => {}
        }
        let mut bytes = Vec::new();
        match File::open(self.dir.join(path)).and_then(|f| f.take(max + 1).read_to_end(&mut bytes)) {
            Ok(_) if bytes.len() as u64 > max => {
                self.problem(check, subject, "grew while it was being checked");
                None
            }
            Ok(_) => Some(bytes),
            Err(e) => {
                self.problem(check, subject, io_message(&e));
                None
            }
        }
    }

    fn found_sha(&self, path: &str) -> Option<(u64, &str)> {
        match self.found.get(path) {
            Some(Found::File { size, sha256 }) => Some((*size, sha256.as_str())),
            _ => None,
        }
    }

    // ----- check 1: the manifest -----------------------------------------------------------

    fn check_manifest(&mut self) -> Option<(Manifest, Vec<u8>)> {
        let subject = file_subject(MANIFEST);
        let bytes = self.read_found(1, &subject, MANIFEST, MAX_MANIFEST_LEN)?;
        let Ok(container) = serde_json::from_slice::<Value>(&bytes) else {
            self.problem(1, &subject, "is not JSON, so not a signed document");
            return None;
        };
        let doc = match open_doc(&container, doc_type::COURT_PACKAGE, None) {
            Ok(d) => d,
            Err(e) => {
                self.problem(1, &subject, format!("{e}; nothing in the package can be vouched for"));
                return None;
            }
        };
        let m: Manifest = match doc.parse() {
            Ok(m) => m,
            Err(e) => {
                self.problem(1, &subject, e);
                return None;
            }
        };
        if m.v != 1 {
            self.problem(1, &subject, format!("describes a package of version {}; this verifier reads version 1", m.v));
            return None;
        }
        if m.exporter.key != hex::encode(&doc.key) {
            self.problem(1, &subject, "names an exporter key that is not the key that signed it");
        }
        if parse_time(&m.created_at).is_none() {
            self.problem(1, &subject, "has a created_at that is not an RFC 3339 time");
        }
        Some((m, doc.key))
    }

    // ----- check 2: files ---------------------------------------------------------------------

    fn check_files(&mut self, manifest: Option<&Manifest>) {
        let mut listed: BTreeMap<String, String> = BTreeMap::new();
        if let Some(m) = manifest {
            let mut previous: Option<&str> = None;
            for f in &m.files {
                let subject = file_subject(&f.path);
                if !is_safe_path(&f.path) {
                    self.problem(2, &subject, "is not a plain relative path inside the package; it was not looked at");
                    continue;
                }
                if f.path == MANIFEST || f.path == SUMS {
                    self.problem(2, &subject, "is listed in the manifest, which must not list manifest.json or SHA256SUMS");
                    continue;
                }
                if !in_layout(&f.path) {
                    self.problem(2, &subject, "is not part of the package layout");
                }
                if previous.is_some_and(|p| p >= f.path.as_str()) {
                    self.problem(2, &subject, "is out of order or listed twice in the manifest's files");
                }
                previous = Some(&f.path);
                if !is_hex_digest(&f.sha256) {
                    self.problem(2, &subject, "has a manifest SHA-256 that is not 64 lowercase hex digits");
                }
                listed.insert(f.path.clone(), f.sha256.clone());
                match self.found.get(&f.path) {
                    None => self.problem(2, &subject, "is listed in the manifest but missing"),
                    Some(Found::Bad(why)) => {
                        let why = why.clone();
                        self.problem(2, &subject, why);
                    }
                    Some(Found::File { size, sha256 }) => {
                        let (size, sha256) = (*size, sha256.clone());
                        if size != f.size {
                            self.problem(2, &subject, format!("is {size} bytes; the manifest lists {}", f.size));
                        }
                        if sha256 != f.sha256 {
                            self.problem(2, &subject, format!("has SHA-256 {sha256}; the manifest lists {}", f.sha256));
                        }
                    }
                }
            }
            let extra: Vec<(String, String)> = self
                .found
                .iter()
                .filter(|(p, _)| *p != MANIFEST && *p != SUMS && !listed.contains_key(*p))
                .map(|(p, f)| match f {
                    Found::File { .. } => (p.clone(), "is not listed in the manifest".to_string()),
                    Found::Bad(why) => (p.clone(), format!("is not listed in the manifest, and {why}")),
                })
                .collect();
            for (p, msg) in extra {
                self.problem(2, file_subject(&p), msg);
            }
        }

        // SHA256SUMS must say the same as the manifest (or, with no usable manifest, as the disk).
        let reference: BTreeMap<String, String> = match manifest {
            Some(_) => listed,
            None => self
                .found
                .iter()
                .filter(|(p, _)| *p != MANIFEST && *p != SUMS)
                .filter_map(|(p, f)| match f {
                    Found::File { sha256, .. } => Some((p.clone(), sha256.clone())),
                    Found::Bad(_) => None,
                })
                .collect(),
        };
        let against = if manifest.is_some() { "the manifest" } else { "the files present" };
        let subject = file_subject(SUMS);
        let Some(bytes) = self.read_found(2, &subject, SUMS, MAX_SUMS_LEN) else { return };
        let Ok(text) = String::from_utf8(bytes) else {
            self.problem(2, &subject, "is not UTF-8 text");
            return;
        };
        let mut sums: BTreeMap<String, String> = BTreeMap::new();
        let mut previous: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let parsed = line.split_once("  ").or_else(|| line.split_once(" *")).filter(|(h, _)| is_hex_digest(h));
            let Some((hash, path)) = parsed else {
                self.problem(2, &subject, format!("line {} is not `<sha256>  <path>`", n + 1));
                continue;
            };
            if previous.as_deref().is_some_and(|p| p >= path) {
                self.problem(2, &subject, format!("line {} ({path}) is out of order or repeated", n + 1));
            }
            previous = Some(path.to_string());
            sums.insert(path.to_string(), hash.to_string());
        }
        for (path, hash) in &sums {
            match reference.get(path) {
                None => self.problem(2, file_subject(path), format!("is in SHA256SUMS but not in {against}")),
                Some(h) if h != hash => {
                    self.problem(2, file_subject(path), format!("has SHA-256 {hash} in SHA256SUMS but {h} in {against}"))
                }
                Some(_) => {}
            }
        }
        for path in reference.keys() {
            if !sums.contains_key(path) {
                self.problem(2, file_subject(path), "is missing from SHA256SUMS");
            }
        }
    }

    // ----- check 3: events --------------------------------------------------------------------

    fn check_events(&mut self, m: &Manifest) -> Vec<(String, Event)> {
        let mut events = Vec::new();
        let mut listed = BTreeSet::new();
        for (i, e) in m.events.iter().enumerate() {
            let subject = format!("event {}", e.file);
            let expected = format!("events/{:06}.event", i + 1);
            if e.file != expected {
                self.problem(3, &subject, format!("is listed at position {} of the manifest, where {expected} belongs", i + 1));
            }
            if !listed.insert(e.file.clone()) {
                self.problem(3, &subject, "is listed twice among the manifest's events");
                continue;
            }
            if !is_safe_path(&e.file) || !e.file.starts_with("events/") {
                self.problem(3, &subject, "is not a file in events/; it was not looked at");
                continue;
            }
            let Some(bytes) = self.read_found(3, &subject, &e.file, format::MAX_EVENT_LEN + format::ENVELOPE_HEADER_LEN as u64) else {
                continue;
            };
            match open_envelope(&bytes) {
                Err(why) => self.problem(3, &subject, format!("is not a valid event: {why}")),
                Ok(ev) => {
                    if ev.hash != e.sha256 {
                        self.problem(
                            3,
                            &subject,
                            format!(
                                "has body hash {}; the manifest lists {} for this position (an event was replaced or the events were reordered)",
                                ev.hash, e.sha256
                            ),
                        );
                    }
                    events.push((e.file.clone(), ev));
                }
            }
        }
        let unlisted: Vec<String> = self.found.keys().filter(|p| p.starts_with("events/") && !listed.contains(*p)).cloned().collect();
        for p in unlisted {
            self.problem(3, format!("event {p}"), "is not listed among the manifest's events");
        }

        // Chains: one per signing key (a member with several devices has a chain per device):
        // within one (author, key), seq strictly increases, links where the predecessor is
        // present, no forks. That every key is the member's is check 5 (a credential per key).
        type Chain<'a> = (&'a str, &'a [u8]);
        let mut last: BTreeMap<Chain<'_>, (u64, &str)> = BTreeMap::new();
        let mut held: BTreeMap<(Chain<'_>, u64), (&str, &str, &str)> = BTreeMap::new();
        let mut problems = Vec::new();
        for (file, ev) in &events {
            let chain: Chain<'_> = (ev.author.as_str(), ev.key.as_slice());
            if let Some((seq, prev_file)) = last.get(&chain) {
                if ev.seq <= *seq {
                    problems.push((
                        format!("event {file}"),
                        format!(
                            "member {} event {} comes after their event {} ({prev_file}) of the same key: the events were reordered",
                            ev.author, ev.seq, seq
                        ),
                    ));
                }
            }
            last.insert(chain, (ev.seq, file));
            match held.get(&(chain, ev.seq)) {
                Some((hash, _, other)) if *hash == ev.hash => {
                    problems.push((format!("event {file}"), format!("repeats {other} (member {} event {})", ev.author, ev.seq)))
                }
                Some((_, _, other)) => problems.push((
                    format!("event {file}"),
                    format!("and {other} are two different events with member {} sequence {} of one key (a fork)", ev.author, ev.seq),
                )),
                None => {
                    held.insert((chain, ev.seq), (&ev.hash, &ev.prev, file));
                }
            }
        }
        for (((author, key), seq), (_, prev, file)) in &held {
            if *seq == 1 && *prev != format::GENESIS_PREV {
                problems.push((format!("event {file}"), format!("is member {author}'s first event but names a previous event")));
            }
            if let Some((hash, _, prev_file)) = seq.checked_sub(1).and_then(|p| held.get(&((*author, *key), p))) {
                if hash != prev {
                    problems.push((
                        format!("event {file}"),
                        format!("member {author} event {seq} does not link to their event {} ({prev_file})", seq - 1),
                    ));
                }
            }
        }
        for (s, msg) in problems {
            self.problem(3, s, msg);
        }
        self.check_access_chains(&events);

        // Every event belongs to this case (directly, or through an item of it).
        let mut case_created = false;
        for (file, ev) in &events {
            if let Some(case) = ev.str_field("case_id") {
                if case != m.case.id {
                    self.problem(3, format!("event {file}"), format!("belongs to case {case}, not to the package's case {}", m.case.id));
                } else if ev.kind == "case_created" {
                    case_created = true;
                }
            }
        }
        if !case_created {
            self.problem(3, format!("case {}", m.case.id), "the package holds no case_created event for its case");
        }
        events
    }

    /// Access chains (FORMAT.md, "Access chains"), see [`access_chain_problems`]. The package
    /// holds one case's events, so each chain of the case must be whole from 1 to its last entry.
    fn check_access_chains(&mut self, events: &[(String, Event)]) {
        for (code, subject, message) in access_chain_problems(events) {
            self.problem_code(3, code, subject, message);
        }
    }

    // ----- check 4: items ---------------------------------------------------------------------

    fn check_items(&mut self, m: &Manifest, events: &[(String, Event)]) -> Vec<ItemInfo> {
        // What the signed events say about each item.
        let mut added: BTreeMap<String, (String, u64, String)> = BTreeMap::new();
        for (file, ev) in events.iter().filter(|(_, e)| e.kind == "evidence_added") {
            let subject = format!("event {file}");
            let id = ev.str_field("evidence_id").unwrap_or_default().to_string();
            let object = ev.body.get("object");
            let sha = object.and_then(|o| o.get("sha256")).and_then(Value::as_str).unwrap_or_default().to_string();
            let size = object.and_then(|o| o.get("size")).and_then(Value::as_u64);
            let (true, true, Some(size)) = (is_uuid(&id), is_hex_digest(&sha), size) else {
                self.problem(4, subject, "is an evidence_added event without a valid evidence id, object sha256 and size");
                continue;
            };
            if let Some((_, _, other)) = added.get(&id) {
                let msg = format!("adds item {id} again (first added by {other})");
                self.problem(4, subject, msg);
                continue;
            }
            added.insert(id, (sha, size, file.clone()));
        }

        let mut items: BTreeMap<String, ItemInfo> = BTreeMap::new();
        for it in &m.items {
            let subject = format!("item {}", it.evidence_id);
            if !is_uuid(&it.evidence_id) {
                self.problem(4, &subject, "has an evidence id that is not a UUID");
                continue;
            }
            if items.contains_key(&it.evidence_id) {
                self.problem(4, &subject, "is listed twice in the manifest's items");
                continue;
            }
            let expected_file = format!("originals/{}", it.evidence_id);
            if it.file != expected_file {
                self.problem(4, &subject, format!("is listed with file {}; its original belongs at {expected_file}", it.file));
            }
            match added.get(&it.evidence_id) {
                None => self.problem(4, &subject, "has no evidence_added event in the package"),
                Some((sha, size, ev_file)) => {
                    let (sha, size, ev_file) = (sha.clone(), *size, ev_file.clone());
                    if it.sha256 != sha || it.size != size {
                        self.problem(
                            4,
                            &subject,
                            format!("is listed with SHA-256 {} and {} bytes; its evidence_added event ({ev_file}) records {sha} and {size} bytes", it.sha256, it.size),
                        );
                    }
                    match self.found_sha(&expected_file) {
                        None => self.problem(4, &subject, format!("has no readable original ({expected_file})")),
                        Some((got_size, got)) if got != sha || got_size != size => {
                            let msg = format!(
                                "original {expected_file} has SHA-256 {got} ({got_size} bytes), not the {sha} ({size} bytes) its evidence_added event ({ev_file}) records"
                            );
                            self.problem(4, &subject, msg);
                        }
                        Some(_) => {}
                    }
                }
            }
            items.insert(
                it.evidence_id.clone(),
                ItemInfo {
                    evidence_id: it.evidence_id.clone(),
                    original_name: it.original_name.clone(),
                    media_type: it.media_type.clone(),
                    size: it.size,
                    sha256: it.sha256.clone(),
                    derived_from: it.derived_from.clone(),
                    custody: Vec::new(),
                },
            );
        }
        // A deleted item is listed under `tombstones` instead (its tombstone is checked with the
        // agency's key in check 5).
        let mut deleted: BTreeSet<String> = BTreeSet::new();
        for t in &m.tombstones {
            let subject = format!("item {}", t.evidence_id);
            if t.file != format!("tombstones/{}.json", t.evidence_id) {
                self.problem(4, &subject, format!("is listed with tombstone {}; it belongs at tombstones/{}.json", t.file, t.evidence_id));
            }
            if items.contains_key(&t.evidence_id) {
                self.problem(4, &subject, "is listed both as an item and as deleted");
            }
            if !added.contains_key(&t.evidence_id) {
                self.problem(4, &subject, "is listed as deleted but no evidence_added event in the package adds it");
            }
            if !deleted.insert(t.evidence_id.clone()) {
                self.problem(4, &subject, "is listed as deleted twice");
            }
        }
        for (id, (_, _, ev_file)) in &added {
            if !items.contains_key(id) && !deleted.contains(id) {
                self.problem(4, format!("item {id}"), format!("is added by {ev_file} but is not among the manifest's items"));
            }
        }

        // Custody and provenance name the item's hash.
        let mut derived_events: BTreeMap<String, String> = BTreeMap::new();
        for (file, ev) in events {
            let id = ev.str_field("evidence_id").unwrap_or_default().to_string();
            match ev.kind.as_str() {
                "custody_recorded" => {
                    let action = ev.str_field("action").unwrap_or("?").to_string();
                    let sha = ev.str_field("sha256").unwrap_or_default();
                    match added.get(&id) {
                        None => self.problem(
                            4,
                            format!("event {file}"),
                            format!("records custody ({action}) of item {id}, which is not added by any event in the package"),
                        ),
                        Some((item_sha, _, _)) if item_sha != sha => {
                            let msg = format!("custody event {file} ({action}) names hash {sha}, not the item's {item_sha}");
                            self.problem(4, format!("item {id}"), msg);
                        }
                        Some(_) => {}
                    }
                    if let Some(item) = items.get_mut(&id) {
                        let observed = ObservedInfo::from_event(&ev.body);
                        item.custody.push(CustodyInfo { action, at: ev.at.clone(), by: ev.author.clone(), event: file.clone(), observed });
                    }
                }
                "evidence_derived" => {
                    let original = ev.str_field("original_id").unwrap_or_default().to_string();
                    let original_sha = ev.str_field("original_sha256").unwrap_or_default();
                    let sha = ev.str_field("sha256").unwrap_or_default();
                    let subject = format!("item {id}");
                    match added.get(&id) {
                        Some((s, _, _)) if s != sha => {
                            let msg = format!("provenance event {file} names hash {sha} for the derivative, not its {s}");
                            self.problem(4, &subject, msg);
                        }
                        None => self.problem(4, format!("event {file}"), format!("records a derivative {id} that is not in the package")),
                        Some(_) => {}
                    }
                    match added.get(&original) {
                        None => self.problem(4, &subject, format!("is derived from item {original}, which is not in the package")),
                        Some((s, _, _)) if s != original_sha => {
                            let msg = format!("provenance event {file} names hash {original_sha} for original {original}, not its {s}");
                            self.problem(4, &subject, msg);
                        }
                        Some(_) => {}
                    }
                    derived_events.insert(id, original);
                }
                _ => {}
            }
        }
        let mismatched: Vec<(String, String)> = items
            .values()
            .filter(|it| it.derived_from.as_ref() != derived_events.get(&it.evidence_id))
            .map(|it| {
                let said = it.derived_from.as_deref().unwrap_or("nothing");
                let signed = derived_events.get(&it.evidence_id).map_or("nothing", String::as_str);
                (it.evidence_id.clone(), format!("is listed as derived from {said}, but its provenance events say {signed}"))
            })
            .collect();
        for (id, msg) in mismatched {
            self.problem(4, format!("item {id}"), msg);
        }
        items.into_values().collect()
    }

    // ----- check 5: agency, credentials, revocations, receipts ---------------------------------

    fn check_agency(&mut self, m: &Manifest, events: &[(String, Event)], members: &mut BTreeMap<String, MemberInfo>) {
        let credential_files: Vec<String> = self.found.keys().filter(|p| p.starts_with("credentials/")).cloned().collect();
        let receipt_files: Vec<String> = self.found.keys().filter(|p| p.starts_with("receipts/")).cloned().collect();
        let name_files: BTreeSet<String> = self.found.keys().filter(|p| p.starts_with("names/")).cloned().collect();
        let mut names_checked: BTreeSet<String> = BTreeSet::new();
        self.report.counts.credentials = credential_files.len();
        self.report.counts.receipts = receipt_files.len();

        // Everyone who signed something in the package must be tied to the agency: every author
        // of events, and the exporter (who signed the manifest).
        let mut signers: BTreeSet<String> = members.keys().cloned().collect();
        signers.insert(m.exporter.member_id.clone());
        let created = parse_time(&m.created_at);

        let Some((root, agency_id, list)) = self.read_agency() else {
            let why = if self.anchor.is_some() {
                "the package has no agency.json that verifies with the agency root given"
            } else {
                "the package has no agency.json that verifies"
            };
            for p in credential_files.iter().chain(&receipt_files).chain(&name_files) {
                self.problem(5, file_subject(p), format!("cannot be checked: {why}"));
            }
            for id in &signers {
                self.problem(5, format!("member {id}"), format!("cannot be tied to the agency: {why}, so no credential can be checked"));
            }
            return;
        };

        // Keys and times of each author's events.
        let mut author_keys: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (_, ev) in events {
            author_keys.entry(&ev.author).or_default().insert(hex::encode(&ev.key));
        }

        // The keys a credential in the package binds, per member: every key a member signed
        // with needs one (a member with several devices has one per key).
        let mut bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for path in credential_files {
            let subject = file_subject(&path);
            // `credentials/<member id>.json`, or `<member id>.<key prefix>.json` for a member
            // who signed with several keys.
            let name = path.trim_start_matches("credentials/").trim_end_matches(".json");
            let stem = name.split('.').next().unwrap_or(name).to_string();
            let Some(doc) = self.read_doc(5, &subject, &path, doc_type::CREDENTIAL, &root) else { continue };
            let c: Credential = match doc.parse() {
                Ok(c) => c,
                Err(e) => {
                    self.problem(5, &subject, e);
                    continue;
                }
            };
            let member = format!("member {stem}");
            if c.agency_id != agency_id {
                self.problem(5, &subject, format!("was issued by agency {}, not by {agency_id}", c.agency_id));
                continue;
            }
            if c.member_id != stem {
                self.problem(5, &member, format!("{path} is a credential for member {}, not for {stem}", c.member_id));
                continue;
            }
            let mut signing: BTreeSet<String> = author_keys.get(stem.as_str()).cloned().unwrap_or_default();
            let exporter = m.exporter.member_id == stem && m.exporter.key == c.key;
            if m.exporter.member_id == stem {
                signing.insert(m.exporter.key.clone());
            }
            if signing.is_empty() {
                self.flag(format!("{path} is the credential of member {stem}, who signed nothing in the package"));
            } else if !signing.contains(&c.key) {
                let msg = format!(
                    "{path} binds key {} but the member signed with key {} (the credential belongs to another key)",
                    short_fp(&c.key),
                    signing.iter().map(|k| short_fp(k)).collect::<Vec<_>>().join(", ")
                );
                self.problem(5, &member, msg);
                continue;
            }
            bound.entry(stem.clone()).or_default().insert(c.key.clone());
            // Every event, and the manifest, must be dated within the credential's validity.
            let (Some(nb), Some(na)) = (parse_time(&c.not_before), parse_time(&c.not_after)) else {
                self.problem(5, &subject, "has a validity (not_before, not_after) that is not RFC 3339 times");
                continue;
            };
            let outside: Vec<&(String, Event)> = events
                .iter()
                .filter(|(_, e)| e.author == stem && hex::encode(&e.key) == c.key)
                .filter(|(_, e)| parse_time(&e.at).is_some_and(|t| t < nb || t > na))
                .collect();
            if let Some((first, ev)) = outside.first() {
                self.problem(
                    5,
                    &member,
                    format!(
                        "{} event(s) are dated outside the validity of their credential {path} ({} to {}), the first {first} at {}",
                        outside.len(),
                        c.not_before,
                        c.not_after,
                        ev.at
                    ),
                );
            }
            if exporter && created.is_some_and(|t| t < nb || t > na) {
                self.problem(
                    5,
                    &member,
                    format!(
                        "exported the package at {}, outside the validity of their credential {path} ({} to {})",
                        m.created_at, c.not_before, c.not_after
                    ),
                );
            }
            // The name, only from a disclosure that opens the credential's commitment.
            // A member with several devices has a credential per key: the disclosure opens the
            // one whose serial it names, and is checked against that one.
            let name_path = format!("names/{stem}.json");
            let mut name = None;
            if name_files.contains(&name_path) && !names_checked.contains(&name_path) {
                let name_subject = file_subject(&name_path);
                if let Some(bytes) = self.read_found(5, &name_subject, &name_path, format::MAX_DOC_LEN) {
                    match serde_json::from_slice::<NameDisclosure>(&bytes) {
                        Err(_) => {
                            names_checked.insert(name_path.clone());
                            self.problem(5, &name_subject, "is not a name disclosure ({serial, member_id, name, salt})");
                        }
                        // Another of this member's credentials: checked with that one.
                        Ok(d) if d.member_id == stem && d.serial != c.serial => {}
                        Ok(d) => {
                            names_checked.insert(name_path.clone());
                            match d.mismatch(&c, &stem) {
                                Some(why) => self.problem(5, &name_subject, why),
                                None => name = Some(d.name),
                            }
                        }
                    }
                }
            }
            if let Some(info) = members.get_mut(&stem) {
                let name = name.or_else(|| info.credential.as_ref().and_then(|i| i.name.clone()));
                info.credential = Some(CredentialInfo {
                    name,
                    pseudonym: m.pseudonyms.get(&stem).cloned(),
                    role: c.role,
                    serial: c.serial,
                    not_before: c.not_before,
                    not_after: c.not_after,
                });
            }
        }
        self.report.counts.names = names_checked.len();
        // A disclosure whose credential is missing or did not check out opens nothing.
        for p in name_files.difference(&names_checked) {
            let member = p.trim_start_matches("names/").trim_end_matches(".json");
            self.problem(
                5,
                file_subject(p),
                format!("cannot be checked: there is no credential of member {member} that verifies, so no name commitment to open"),
            );
        }
        // A signer without a credential file at all (a file that is there but does not check out
        // has its own problem above), and a key of a member that no credential binds.
        for id in &signers {
            let path = format!("credentials/{id}.json");
            let any = self.found.keys().any(|p| {
                p.strip_prefix("credentials/").and_then(|n| n.strip_suffix(".json")).is_some_and(|n| n.split('.').next() == Some(id))
            });
            if !any {
                self.problem(
                    5,
                    format!("member {id}"),
                    format!("has no credential in the package ({path} is missing): nothing ties their signatures to the agency"),
                );
                continue;
            }
            let Some(keys) = bound.get(id) else { continue };
            let mut signing: BTreeSet<String> = author_keys.get(id.as_str()).cloned().unwrap_or_default();
            if m.exporter.member_id == *id {
                signing.insert(m.exporter.key.clone());
            }
            let unbound: Vec<String> = signing.iter().filter(|k| !keys.contains(*k)).map(|k| short_fp(k)).collect();
            if !unbound.is_empty() {
                self.problem(
                    5,
                    format!("member {id}"),
                    format!(
                        "signed with key {} that no credential in the package binds (the member's credential belongs to another key: {}): nothing ties those signatures to the agency",
                        unbound.join(", "),
                        keys.iter().map(|k| short_fp(k)).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }

        // Revocations (an entry applies to its member and to its key, as the agency means it):
        // nothing may be dated at or after the revocation; an earlier revocation is flagged.
        for r in &list.entries {
            let Some(revoked) = parse_time(&r.revoked_at) else {
                let msg = format!("the revocation of member {} has a revoked_at that is not an RFC 3339 time", r.member_id);
                self.problem(5, file_subject(AGENCY), msg);
                continue;
            };
            let reason = r.reason.as_ref().map(|x| format!(" ({x})")).unwrap_or_default();
            let exporter_hit = m.exporter.member_id == r.member_id || m.exporter.key == r.key;
            let who: BTreeSet<String> = members
                .keys()
                .filter(|id| **id == r.member_id || author_keys.get(id.as_str()).is_some_and(|ks| ks.contains(&r.key)))
                .cloned()
                .chain(exporter_hit.then(|| m.exporter.member_id.clone()))
                .collect();
            for id in who {
                // An entry revokes one key: the member's other devices' events are not affected.
                let after: Vec<&String> = events
                    .iter()
                    .filter(|(_, e)| e.author == id && hex::encode(&e.key) == r.key)
                    .filter(|(_, e)| parse_time(&e.at).is_some_and(|t| t >= revoked))
                    .map(|(file, _)| file)
                    .collect();
                let member = format!("member {id}");
                let key = short_fp(&r.key);
                if let Some(first) = after.first() {
                    let msg = format!(
                        "key {key} was revoked at {}{reason}; {} of their event(s) are dated at or after that, the first {first}",
                        r.revoked_at,
                        after.len()
                    );
                    self.problem(5, &member, msg);
                } else {
                    self.flag(format!(
                        "member {id}: key {key} was revoked at {}{reason}; none of their event(s) in the package are dated after that",
                        r.revoked_at
                    ));
                }
                if id == m.exporter.member_id && m.exporter.key == r.key && created.is_some_and(|t| t >= revoked) {
                    let msg = format!("exported the package at {}, after key {key} was revoked at {}{reason}", m.created_at, r.revoked_at);
                    self.problem(5, &member, msg);
                }
                if let Some(info) = members.get_mut(&id) {
                    info.revoked =
                        Some(RevokedInfo { revoked_at: r.revoked_at.clone(), reason: r.reason.clone(), events_after: after.len() });
                }
            }
        }
        if let (Some(exp), Some(created)) = (parse_time(&list.expires_at), created) {
            if exp < created {
                self.flag(format!(
                    "the revocation list (version {}) expired at {}, before the package was created at {}: later revocations are not shown",
                    list.version, list.expires_at, m.created_at
                ));
            }
        }

        for path in receipt_files {
            let subject = file_subject(&path);
            let stem = path.trim_start_matches("receipts/").trim_end_matches(".json").to_string();
            let Some(doc) = self.read_doc(5, &subject, &path, doc_type::RECEIPT, &root) else { continue };
            let r: Receipt = match doc.parse() {
                Ok(r) => r,
                Err(e) => {
                    self.problem(5, &subject, e);
                    continue;
                }
            };
            if r.agency_id != agency_id {
                self.problem(5, &subject, format!("was signed for agency {}, not {agency_id}", r.agency_id));
                continue;
            }
            if r.bundle_id != stem {
                self.problem(5, &subject, format!("is a receipt for bundle {}, not {stem}", r.bundle_id));
                continue;
            }
            self.report.receipts.push(ReceiptInfo {
                bundle_id: r.bundle_id,
                sender: r.sender,
                received_at: r.received_at,
                outcome: r.outcome,
                events: r.events,
                blobs: r.blobs,
            });
        }
    }

    /// Check 5 for deleted items: each listed tombstone is a `tombstone` document signed by the
    /// agency's root key, for that agency, naming the listed item, the package's case and the
    /// hash its `evidence_added` event records.
    fn check_tombstones(&mut self, m: &Manifest, events: &[(String, Event)]) {
        if m.tombstones.is_empty() {
            return;
        }
        let Some((root, agency_id, _)) = self.read_agency() else {
            for t in &m.tombstones {
                self.problem(5, file_subject(&t.file), "cannot be checked: the package has no agency.json that verifies");
            }
            return;
        };
        let added: BTreeMap<String, String> = events
            .iter()
            .filter(|(_, e)| e.kind == "evidence_added")
            .filter_map(|(_, e)| {
                let id = e.str_field("evidence_id")?.to_string();
                let sha = e.body.get("object").and_then(|o| o.get("sha256")).and_then(Value::as_str)?.to_string();
                Some((id, sha))
            })
            .collect();
        for t in &m.tombstones {
            let subject = file_subject(&t.file);
            let Some(doc) = self.read_doc(5, &subject, &t.file, doc_type::TOMBSTONE, &root) else { continue };
            let b: TombstoneBody = match doc.parse() {
                Ok(b) => b,
                Err(e) => {
                    self.problem(5, &subject, e);
                    continue;
                }
            };
            if b.agency_id != agency_id {
                self.problem(5, &subject, format!("was signed for agency {}, not {agency_id}", b.agency_id));
                continue;
            }
            if b.evidence_id != t.evidence_id || b.case_id != m.case.id {
                self.problem(
                    5,
                    &subject,
                    format!("is the tombstone of item {} of case {}, not of item {} of this case", b.evidence_id, b.case_id, t.evidence_id),
                );
                continue;
            }
            if added.get(&b.evidence_id) != Some(&b.sha256) {
                self.problem(5, &subject, format!("names hash {}, not the one the item's evidence_added event records", b.sha256));
                continue;
            }
            self.report.tombstones.push(TombstoneInfo {
                evidence_id: b.evidence_id,
                sha256: b.sha256,
                rule: b.rule,
                reason: b.reason,
                deleted_at: b.deleted_at,
            });
        }
        self.report.tombstones.sort_by(|a, b| a.evidence_id.cmp(&b.evidence_id));
    }

    /// Reads and opens a signed document file signed by `key`.
    fn read_doc(&mut self, check: u8, subject: &str, path: &str, kind: &str, key: &[u8]) -> Option<format::Doc> {
        let bytes = self.read_found(check, subject, path, format::MAX_DOC_LEN)?;
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            self.problem(check, subject, "is not JSON, so not a signed document");
            return None;
        };
        match open_doc(&v, kind, Some(key)) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(check, subject, format!("as a {kind}: {e}"));
                None
            }
        }
    }

    /// agency.json: the self-signed identity, whose root key must be the anchor's when one is
    /// given, and the revocation list signed by that root key.
    fn read_agency(&mut self) -> Option<(Vec<u8>, String, RevocationList)> {
        let subject = file_subject(AGENCY);
        if !self.found.contains_key(AGENCY) {
            self.problem(5, &subject, "is missing: without the agency's public file nothing ties the package's authors to an agency");
            return None;
        }
        let bytes = self.read_found(5, &subject, AGENCY, 2 * format::MAX_DOC_LEN)?;
        let parsed = serde_json::from_slice::<Value>(&bytes).ok().filter(|v| v.get("agency").is_some() && v.get("revocation").is_some());
        let Some(file) = parsed else {
            self.problem(5, &subject, "is not an agency public file ({\"agency\": identity, \"revocation\": list})");
            return None;
        };
        let identity = match open_doc(&file["agency"], doc_type::AGENCY_IDENTITY, None) {
            Ok(d) => d,
            Err(e) => {
                self.problem(5, &subject, format!("the agency identity {e}"));
                return None;
            }
        };
        let id: AgencyIdentity = match identity.parse() {
            Ok(i) => i,
            Err(e) => {
                self.problem(5, &subject, format!("the agency identity {e}"));
                return None;
            }
        };
        if id.root_key != hex::encode(&identity.key) {
            self.problem(5, &subject, "the agency identity is not signed by the root key it names");
            return None;
        }
        let root_fingerprint = fingerprint(&identity.key);
        // Public values: a plain comparison leaks nothing.
        let foreign = self.anchor.filter(|a| a.fingerprint() != root_fingerprint);
        if let Some(anchor) = foreign {
            let msg = format!(
                "is the agency {} ({}) with root key fingerprint {root_fingerprint}, not the agency root {} given with --agency-root: \
                 a look-alike agency, or another agency's package",
                id.name,
                id.agency_id,
                anchor.fingerprint()
            );
            self.problem(5, &subject, msg);
        }
        let list = match open_doc(&file["revocation"], doc_type::REVOCATION_LIST, Some(&identity.key)) {
            Ok(d) => match d.parse::<RevocationList>() {
                Ok(l) => l,
                Err(e) => {
                    self.problem(5, &subject, format!("the revocation list {e}"));
                    return None;
                }
            },
            Err(e) => {
                self.problem(5, &subject, format!("the revocation list {e}"));
                return None;
            }
        };
        if list.agency_id != id.agency_id {
            self.problem(5, &subject, format!("the revocation list belongs to agency {}, not {}", list.agency_id, id.agency_id));
            return None;
        }
        self.report.agency = Some(AgencyInfo {
            agency_id: id.agency_id.clone(),
            name: id.name,
            root_fingerprint,
            revocation_version: list.version,
            revocation_issued_at: list.issued_at.clone(),
            revocation_expires_at: list.expires_at.clone(),
        });
        // Shown in the summary, but nothing signed by another root vouches for anyone.
        if foreign.is_some() {
            return None;
        }
        Some((identity.key, id.agency_id, list))
    }
}

/// Access chains (FORMAT.md, "Access chains"): each chained `access_recorded` entry
/// (`access_seq`, `access_prev`) has its place in a chain per (author, key, case), and every
/// chain must be whole from 1 to its last entry held: a missing entry below a held one is a
/// left-out access (`access_chain_gap`); two entries in one place a fork (`access_chain_fork`);
/// an entry not linking to the one before, `access_chain_broken`. Returns (code, subject,
/// message) for each.
pub(crate) fn access_chain_problems(events: &[(String, Event)]) -> Vec<(&'static str, String, String)> {
    type Entry<'a> = (&'a str, &'a str, &'a str);
    let mut chains: BTreeMap<(&str, Vec<u8>, &str), BTreeMap<u64, Entry<'_>>> = BTreeMap::new();
    let mut found: Vec<(&'static str, String, String)> = Vec::new();
    for (file, ev) in events {
        if ev.kind != "access_recorded" {
            continue;
        }
        let Some(seq) = ev.body.get("access_seq").and_then(serde_json::Value::as_u64) else {
            if ev.body.get("access_seq").is_some_and(|v| !v.is_null()) {
                found.push(("access_chain_broken", format!("event {file}"), "has an access_seq that is not a number".into()));
            }
            continue;
        };
        let case = ev.str_field("case_id").unwrap_or("");
        let prev = ev.str_field("access_prev").unwrap_or("");
        let chain = chains.entry((ev.author.as_str(), ev.key.clone(), case)).or_default();
        match chain.get(&seq) {
            Some((hash, _, _)) if *hash == ev.hash => {}
            Some((_, _, other)) => found.push((
                "access_chain_fork",
                format!("event {file}"),
                format!("and {other} are two different access entries {seq} of member {} (a fork)", ev.author),
            )),
            None => {
                chain.insert(seq, (ev.hash.as_str(), prev, file.as_str()));
            }
        }
    }
    for ((author, _, case), entries) in &chains {
        let mut expected = 1u64;
        let mut last: Option<&str> = None;
        for (seq, (hash, prev, file)) in entries {
            let subject = format!("event {file}");
            if *seq == 0 {
                found.push(("access_chain_broken", subject, "has access_seq 0; access entries count from 1".into()));
                continue;
            }
            if *seq > expected {
                let missing =
                    if *seq == expected + 1 { format!("entry {expected} is") } else { format!("entries {expected} to {} are", seq - 1) };
                found.push((
                    "access_chain_gap",
                    subject,
                    format!("is member {author}'s access entry {seq} for case {case}, but {missing} missing: an access was left out"),
                ));
            } else if *prev != last.unwrap_or(format::GENESIS_PREV) {
                found.push((
                    "access_chain_broken",
                    subject,
                    format!("member {author}'s access entry {seq} does not link to their previous access entry for case {case}"),
                ));
            }
            expected = seq + 1;
            last = Some(hash);
        }
    }
    found
}

/// The first 16 hex digits of a key's fingerprint (enough to tell keys apart in a message).
fn short_fp(key_hex: &str) -> String {
    match hex::decode(key_hex) {
        Ok(k) => fingerprint(&k)[..16].to_string(),
        Err(_) => "(malformed key)".into(),
    }
}

/// Runs every check on the package in `dir`.
pub fn verify(dir: &Path, anchor: Option<&AgencyRoot>) -> Report {
    let mut v =
        Verifier { dir, anchor, found: BTreeMap::new(), problems: BTreeSet::new(), flags: BTreeSet::new(), report: Report::default() };
    v.walk("", 0);

    let manifest = v.check_manifest();
    let m = manifest.as_ref().map(|(m, _)| m);
    v.check_files(m);
    if let Some((m, key)) = &manifest {
        v.report.package = Some(PackageInfo { package_id: m.package_id.clone(), created_at: m.created_at.clone() });
        v.report.case = Some(CaseInfo {
            id: m.case.id.clone(),
            reference: m.case.reference.clone(),
            title: m.case.title.clone(),
            status: m.case.status.clone(),
        });
        v.report.exporter = Some(ExporterInfo {
            member_id: m.exporter.member_id.clone(),
            name: m.exporter.name.clone(),
            role: m.exporter.role.clone(),
            key: m.exporter.key.clone(),
            fingerprint: fingerprint(key),
        });
        let events = v.check_events(m);
        let items = v.check_items(m, &events);

        let mut members: BTreeMap<String, MemberInfo> = BTreeMap::new();
        for (_, ev) in &events {
            let info = members.entry(ev.author.clone()).or_insert_with(|| MemberInfo {
                member_id: ev.author.clone(),
                key_fingerprints: Vec::new(),
                events: 0,
                credential: None,
                revoked: None,
            });
            info.events += 1;
            let fp = fingerprint(&ev.key);
            if !info.key_fingerprints.contains(&fp) {
                info.key_fingerprints.push(fp);
            }
        }
        for info in members.values_mut() {
            info.key_fingerprints.sort();
        }
        v.check_agency(m, &events, &mut members);
        v.check_tombstones(m, &events);

        v.report.counts = Counts {
            events: events.len(),
            members: members.len(),
            items: items.len(),
            files: m.files.len(),
            bytes: m.files.iter().map(|f| f.size).fold(0u64, u64::saturating_add),
            credentials: v.report.counts.credentials,
            names: v.report.counts.names,
            receipts: v.report.counts.receipts,
        };
        v.report.members = members.into_values().collect();
        v.report.items = items;
        v.report.receipts.sort_by(|a, b| a.bundle_id.cmp(&b.bundle_id));
    }

    let mut report = v.report;
    report.flags = v.flags.into_iter().collect();
    report.problems = v.problems.into_iter().collect();
    report.anchored = anchor.is_some();
    report.agency_root = anchor.map(|a| a.fingerprint().to_string());
    report.verified = report.problems.is_empty() && report.anchored;
    report.verdict = match (report.problems.is_empty(), report.anchored) {
        (false, _) => "FAILED",
        (true, false) => "NOT ANCHORED",
        (true, true) => "VERIFIED",
    }
    .into();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_package_layout_is_accepted() {
        for ok in [
            "README.md",
            "agency.json",
            "events/000001.event",
            "events/1000000.event",
            "originals/0195f2a4-1c2b-7d3e-8f40-0123456789ab",
            "credentials/0195f2a4-1c2b-7d3e-8f40-0123456789ab.json",
            "credentials/0195f2a4-1c2b-7d3e-8f40-0123456789ab.0123456789abcdef.json",
            "receipts/0195f2a4-1c2b-7d3e-8f40-0123456789ab.json",
            "tombstones/0195f2a4-1c2b-7d3e-8f40-0123456789ab.json",
        ] {
            assert!(in_layout(ok), "{ok}");
        }
        for bad in [
            "notes.txt",
            "events/1.event",
            "events/x/000001.event",
            "originals/../manifest.json",
            "credentials/a.json",
            "credentials/0195f2a4-1c2b-7d3e-8f40-0123456789ab.0123.json",
            "credentials/0195f2a4-1c2b-7d3e-8f40-0123456789ab.0123456789ABCDEF.json",
            "credentials/0195f2a4-1c2b-7d3e-8f40-0123456789ab.0123456789abcdef.x.json",
        ] {
            assert!(!in_layout(bad), "{bad}");
        }
        for unsafe_path in ["", "/etc/passwd", "a/../b", "./a", "a//b", "a\\b"] {
            assert!(!is_safe_path(unsafe_path), "{unsafe_path}");
        }
    }
}
