//! The court evidence package (docs/FORMAT.md, "Court evidence package"): a directory a third
//! party can check by hand (`sha256sum -c SHA256SUMS`) and with the independent verifier
//! (`casebridge-verify DIR --agency-root HEX`, HEX being the agency's root key fingerprint
//! obtained from the agency), without Casebridge's store or keys.
//!
//! ```text
//! DIR/
//!   README.md                     how to verify, and what each file is
//!   SHA256SUMS                    `sha256sum -c` format, every file below but itself and manifest.json
//!   manifest.json                 signed document "court-package", signed by the exporter's identity key
//!   events/000001.event ...       every event of the case, raw envelopes, in journal order
//!   originals/<evidence id>       each item's original bytes
//!   agency.json                   the pinned agency's public file (identity + revocation list)
//!   credentials/<member id>.json  credentials held for authors of the case's events (one per
//!                                 key: <member id>.<key prefix>.json for a member with several)
//!                                 (each commits to the member's name; it does not hold it)
//!   names/<member id>.json        name disclosures, only of members whose identity may be
//!                                 shown for this case: police staff, and contributors with
//!                                 a disclosure recorded for the case
//!   receipts/<bundle id>.json     receipts held for bundles of this case
//! ```
//!
//! Every other author appears in the manifest's `pseudonyms` under a keyed per-case
//! pseudonym ([`member_pseudonym`]), which nobody without this store's keys can recompute.
//!
//! The package is written into `DIR.partial-XXXXXXXX` next to `DIR` and renamed into place when
//! complete, so `DIR` appears whole or not at all; on any failure the partial directory
//! (which holds plaintext originals) is removed. Plaintext is never written anywhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{sha256, to_hex, CaseStatus, Progress, Role, Store, Table, TrustRecord};
use casebridge_trust::{profile, AgencyPublic, AgencyPublicFile, Receipt, SignedDoc};
use chrono::{DateTime, FixedOffset, Local};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Document type of the manifest.
pub const COURT_PACKAGE: &str = "court-package";
/// The manifest file.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The `sha256sum -c` file.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// The instructions.
pub const README_FILE: &str = "README.md";
/// The agency public file.
pub const AGENCY_FILE: &str = "agency.json";

/// Errors of the package exporter. None carries evidence plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// An error of the store (unknown case, damaged journal or content, ...).
    #[error(transparent)]
    Core(#[from] casebridge_core::Error),

    /// A trust document held by the store does not verify.
    #[error(transparent)]
    Trust(#[from] casebridge_trust::TrustError),

    /// The output directory exists and holds something.
    #[error("{path} exists and is not empty; a package is written only to a new or empty directory: choose another --out")]
    NotEmpty {
        /// The directory given.
        path: PathBuf,
    },

    /// Writing the package failed; nothing was left behind.
    #[error("{action} {path}: {source}; nothing was written")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of the exporter.
pub type Result<T, E = PackageError> = std::result::Result<T, E>;

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PackageError {
    let path = path.to_path_buf();
    move |source| PackageError::Io { action, path, source }
}

fn invalid_out(reason: String) -> PackageError {
    casebridge_core::Error::Invalid { field: "--out", reason }.into()
}

/// What an export reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSummary {
    /// The package id (in the signed manifest).
    pub package_id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// Files written, including manifest.json and SHA256SUMS.
    pub files: usize,
    /// Evidence items.
    pub items: usize,
    /// Events.
    pub events: usize,
    /// Bytes written, all files.
    pub bytes: u64,
    /// Credentials included.
    pub credentials: usize,
    /// Name disclosures included (members whose identity may be shown for the case).
    #[serde(default)]
    pub names: usize,
    /// Receipts included.
    pub receipts: usize,
    /// The agency whose public file is included, if any.
    pub agency_id: Option<Uuid>,
    /// That agency's root key fingerprint (SHA-256 of its root public key, hex): the value the
    /// court obtains from the agency out of band and passes to `casebridge-verify --agency-root`.
    /// Without an agency the package cannot be anchored, and the verifier never says VERIFIED.
    pub agency_root_fingerprint: Option<String>,
    /// The package directory.
    pub path: PathBuf,
}

// ----- manifest body (FORMAT.md, "manifest.json body") -------------------------------------

/// The body of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 1.
    pub v: u32,
    /// Random id.
    pub package_id: Uuid,
    /// When the package was made.
    pub created_at: DateTime<FixedOffset>,
    /// The case.
    pub case: ManifestCase,
    /// Who made it (signs the manifest).
    pub exporter: ManifestExporter,
    /// Events in journal order.
    pub events: Vec<ManifestEvent>,
    /// Evidence items.
    pub items: Vec<ManifestItem>,
    /// Every file but manifest.json and SHA256SUMS, sorted by path.
    pub files: Vec<ManifestFile>,
    /// The per-case pseudonym of every author whose name is not disclosed in the package
    /// (no `names/<member id>.json`), by member id: `Volunteer 1a2b3c4d` ([`member_pseudonym`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pseudonyms: BTreeMap<Uuid, String>,
    /// Items the agency deleted (retention, withdrawal): each one's signed tombstone, in place
    /// of an original; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tombstones: Vec<ManifestTombstone>,
}

/// One entry of `tombstones`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestTombstone {
    /// The item deleted.
    pub evidence_id: Uuid,
    /// `tombstones/<evidence id>.json`: the agency's signed tombstone.
    pub file: String,
}

/// How court material (package and report) names a member whose identity is not disclosed
/// for `case`: `Volunteer ` and the first 8 hex digits of the store's keyed pseudonym tag
/// ([`Store::pseudonym_tag`]): stable within the case, different between cases, not
/// recomputable from public values.
pub fn member_pseudonym(store: &Store, case: Uuid, member: Uuid) -> String {
    format!("Volunteer {}", pseudonym_tag(store, case, member))
}

/// The first 8 hex digits of [`Store::pseudonym_tag`].
pub fn pseudonym_tag(store: &Store, case: Uuid, member: Uuid) -> String {
    to_hex(&store.pseudonym_tag(case, member))[..8].to_string()
}

/// `case`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCase {
    /// Case id.
    pub id: Uuid,
    /// Agency reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Status.
    pub status: CaseStatus,
}

/// `exporter`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestExporter {
    /// Member id.
    pub member_id: Uuid,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Identity public key, hex (the manifest's signer).
    pub key: String,
}

/// One entry of `events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEvent {
    /// `events/NNNNNN.event`.
    pub file: String,
    /// SHA-256 of the event's body (the event hash), hex.
    pub sha256: String,
}

/// One entry of `items`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestItem {
    /// Evidence id.
    pub evidence_id: Uuid,
    /// `originals/<evidence id>`.
    pub file: String,
    /// SHA-256 of the original, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// Name when imported.
    pub original_name: String,
    /// The original a derivative was made from.
    pub derived_from: Option<Uuid>,
}

/// One entry of `files`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the package, `/`-separated.
    pub path: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

// ----- writing -------------------------------------------------------------------------------

/// Files written into the partial directory, by package path.
struct Staging {
    root: PathBuf,
    files: BTreeMap<String, (String, u64)>,
}

#[cfg(unix)]
fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(not(unix))]
fn private_dir(path: &Path) -> std::io::Result<()> {
    fs::create_dir(path)
}

fn sync_dir(path: &Path) -> Result<()> {
    File::open(path).and_then(|d| d.sync_all()).map_err(io_err("syncing", path))
}

impl Staging {
    fn new_file(&self, rel: &str) -> Result<(PathBuf, File)> {
        let path = self.root.join(rel);
        let f = OpenOptions::new().write(true).create_new(true).open(&path).map_err(io_err("creating", &path))?;
        Ok((path, f))
    }

    /// Writes a small file whose bytes are in memory.
    fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        let (path, mut f) = self.new_file(rel)?;
        f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io_err("writing", &path))?;
        self.files.insert(rel.to_string(), (to_hex(&sha256(bytes)), bytes.len() as u64));
        Ok(())
    }

    fn dir(&self, rel: &str) -> Result<()> {
        let path = self.root.join(rel);
        private_dir(&path).map_err(io_err("creating", &path))
    }
}

/// Counts bytes on their way to a file.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Refuses an output path that exists and is not an empty directory.
fn check_out(out: &Path) -> Result<()> {
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("reading", out)(e)),
        Ok(m) if m.is_dir() => {
            let mut rd = fs::read_dir(out).map_err(io_err("reading", out))?;
            if rd.next().is_some() {
                return Err(PackageError::NotEmpty { path: out.to_path_buf() });
            }
            Ok(())
        }
        Ok(_) => Err(PackageError::NotEmpty { path: out.to_path_buf() }),
    }
}

fn decode_doc(rec: &TrustRecord) -> Result<SignedDoc> {
    let bytes = B64
        .decode(&rec.document)
        .map_err(|_| casebridge_core::Error::IndexDamaged { what: "a stored trust document is not base64".into() })?;
    Ok(SignedDoc::parse(&bytes)?)
}

/// The agency a package of this profile is anchored to: of the `pinned` agencies, the one this
/// profile holds a credential from, else the first. The court report names it too.
pub fn package_agency(store: &Store, pinned: &[AgencyPublic]) -> Result<Option<AgencyPublic>> {
    for a in pinned {
        if store.trust_document(Table::Credentials, a.agency_id)?.is_some() {
            return Ok(Some(a.clone()));
        }
    }
    Ok(pinned.first().cloned())
}

/// The agency whose public file goes into the package ([`package_agency`]), with the highest
/// revocation list held.
/// The agency whose root key a package of this store is anchored to (the one it carries in
/// `agency.json`), if any: what a front end shows before an export, so the user can tell the
/// court which fingerprint to obtain from the agency.
pub fn anchoring_agency(store: &Store) -> Result<Option<AgencyPublic>> {
    Ok(choose_agency(store)?.map(|(a, _)| a))
}

fn choose_agency(store: &Store) -> Result<Option<(AgencyPublic, AgencyPublicFile)>> {
    let pinned = profile::pinned_all(store)?;
    let Some(agency) = package_agency(store, &pinned)? else { return Ok(None) };
    let Some(pin) = store.trust_document(Table::Pins, agency.agency_id)? else { return Ok(None) };
    // Re-verified on the way out: a damaged list is an error, not a package that fails later.
    let Some((_, revocation)) = profile::held_revocation(store, &agency)? else { return Ok(None) };
    let file = AgencyPublicFile { agency: decode_doc(&pin)?, revocation };
    file.verify()?;
    Ok(Some((agency, file)))
}

/// Bundles this profile sent that carried `case`.
fn case_bundles(store: &Store, agency: &AgencyPublic, case: Uuid) -> Result<BTreeSet<Uuid>> {
    Ok(store.bundles_out(agency.agency_id)?.into_iter().filter(|b| b.case_id == Some(case)).map(|b| b.bundle_id).collect())
}

fn readme(m: &Manifest, fingerprint: &str, agency: Option<&AgencyPublic>) -> String {
    let agency_line = match agency {
        Some(a) => {
            format!("- Agency: {} ({}), root key fingerprint `{}`\n", a.name.replace(['\n', '\r'], " "), a.agency_id, a.root_fingerprint())
        }
        None => "- Agency: none (the exporter had pinned no agency; there is no agency.json)\n".into(),
    };
    let verify_command = match agency {
        Some(a) => format!("casebridge-verify DIR --agency-root {}", a.root_fingerprint()),
        None => "casebridge-verify DIR --agency-root FINGERPRINT".into(),
    };
    format!(
        r#"# Casebridge court evidence package

- Package: {package}
- Case: {case}
- Exported by member {member}, identity key fingerprint `{fp}`
{agency_line}
Compare the fingerprints above with ones obtained independently (from the agency and the
exporter, not from this package) before relying on the signatures.

## Verifying by hand

In this directory run

    sha256sum -c SHA256SUMS

Every line must say `OK`. This proves the files are the ones the exporter listed; it does not
check the signatures (the manifest is signed, and SHA256SUMS is not).

## Verifying with casebridge-verify

    {verify_command}

where the fingerprint is the agency's root key fingerprint obtained from the agency itself, out
of band (the one written above comes from this package, which anyone can rewrite: compare it,
do not trust it). `--json` gives a machine-readable report. It needs only this directory and
that fingerprint: no Casebridge store, no network, no private key. It checks (docs/FORMAT.md,
"Court evidence package"):

1. `manifest.json` is signed by the key it names, the exporter's;
2. every file has the size and SHA-256 the manifest lists, no file is missing or added, and
   `SHA256SUMS` agrees with the manifest;
3. every event is signed by its author, appears in the listed order, and each author's events
   form an unbroken, unforked hash chain;
4. every original hashes to the value recorded when it was added, and every custody entry
   names that same hash;
5. `agency.json` is signed by the root key with the given fingerprint; the revocation list,
   credentials and receipts are signed by that root key; every author of events and the
   exporter hold a credential here that binds the key they signed with and was valid when they
   signed; nothing is signed after its key was revoked.

It prints a summary and ends with `VERIFIED` (exit code 0) or `FAILED: N problem(s)`, one line
per problem (exit code 1). Without `--agency-root` it runs every check but ends with
`NOT ANCHORED: pass --agency-root <fingerprint>` (exit code 3), never `VERIFIED`: everything in
this directory can be re-signed by whoever made it, and only the agency's fingerprint, from
outside, ties it to the agency. The output is the same wherever the package is checked.

## Files

- `manifest.json`: signed document (type `court-package`): the case, the exporter, every
  event's hash in journal order, every item, and every file's size and SHA-256.
- `SHA256SUMS`: the same file hashes in `sha256sum -c` format (all files but itself and
  `manifest.json`).
- `events/NNNNNN.event`: every event of the case, numbered in journal order from 1. Each is
  the exact signed envelope: version byte (1), the author's Ed25519 public key (32 bytes), the
  signature (64 bytes), then the JSON body that was signed.
- `originals/<evidence id>`: each item's original bytes, exactly as imported.
- `agency.json`: the agency's public file: its self-signed identity and its revocation list.
- `credentials/<member id>.json`: credentials the agency issued to authors of the events (a
  member who signed with several keys, one per device, has `<member id>.<first 16 hex digits
  of the key>.json` for each).
  A credential commits to the member's name (`name_commitment`) without holding it.
- `names/<member id>.json`: name disclosures (name, salt, credential serial) of members whose
  identity may be shown for this case; each must open its credential's `name_commitment`
  (`SHA-256("casebridge-name-v1" || salt || name)`). Other authors appear in the manifest's
  `pseudonyms` under a per-case pseudonym only.
- `receipts/<bundle id>.json`: receipts the agency signed for bundles of this case.
"#,
        package = m.package_id,
        case = m.case.id,
        member = m.exporter.member_id,
        fp = fingerprint,
        verify_command = verify_command,
    )
}

/// Exports `case` as a court evidence package into `out` (a new or empty directory).
/// Records the access (`package`, with `reason`) in the case's access log first, so the package
/// carries the record of its own making; once the package is complete, custody `transferred`
/// for each item it carries (not in the package itself).
pub fn export_package(store: &mut Store, case: Uuid, out: &Path, reason: Option<String>) -> Result<PackageSummary> {
    export_package_with(store, case, out, reason, &mut |_: u64| true)
}

/// [`export_package`] with progress over the originals' bytes.
pub fn export_package_with(
    store: &mut Store,
    case: Uuid,
    out: &Path,
    reason: Option<String>,
    progress: &mut dyn Progress,
) -> Result<PackageSummary> {
    check_out(out)?;
    let detail = store.case(case)?;
    let name = out.file_name().ok_or_else(|| invalid_out("the path has no directory name".into()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(invalid_out(format!("{} is not a directory", parent.display())));
    }
    let suffix = Uuid::new_v4().simple().to_string();
    let root = parent.join(format!("{}.partial-{}", name.to_string_lossy(), &suffix[..8]));
    private_dir(&root).map_err(io_err("creating", &root))?;
    let mut staging = Staging { root, files: BTreeMap::new() };
    let result = write_package(store, case, &detail, &mut staging, reason, progress);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging.root);
            return Err(e);
        }
    };
    // rename(2) replaces an empty directory atomically.
    if let Err(e) = fs::rename(&staging.root, out) {
        let _ = fs::remove_dir_all(&staging.root);
        return Err(io_err("creating", out)(e));
    }
    sync_dir(&parent)?;
    // The package is a transfer of every item it carries (custody `transferred`), recorded
    // once it is complete; the access itself (`package`) is in the package already.
    let items: Vec<(Uuid, String)> = detail.evidence.iter().map(|e| (e.id, e.sha256.clone())).collect();
    store.record_transfer(case, &items, "package", &format!("court package {}", summary.package_id), false)?;
    Ok(PackageSummary { path: out.to_path_buf(), ..summary })
}

fn write_package(
    store: &mut Store,
    case: Uuid,
    detail: &casebridge_core::CaseDetail,
    staging: &mut Staging,
    reason: Option<String>,
    progress: &mut dyn Progress,
) -> Result<PackageSummary> {
    store.record_access(case, None, "package", reason)?;
    let events = store.case_events(case, None)?;
    let me = store.whoami().clone();
    let agency = choose_agency(store)?;

    // Events, raw, in journal order.
    staging.dir("events")?;
    let mut manifest_events = Vec::with_capacity(events.len());
    // Each author's signing keys (a member with several devices has several).
    let mut author_keys: BTreeMap<Uuid, BTreeSet<String>> = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        let file = format!("events/{:06}.event", i + 1);
        staging.write(&file, ev.envelope())?;
        manifest_events.push(ManifestEvent { file, sha256: to_hex(&ev.hash()) });
        author_keys.entry(ev.body().author).or_default().insert(ev.body().key.clone());
    }

    // Originals, streamed out of the store and re-hashed by it on the way.
    staging.dir("originals")?;
    // A deleted item has no original: its agency-signed tombstone goes in its place.
    let (gone, evidence): (Vec<_>, Vec<_>) = store.list_evidence(case)?.into_iter().partition(|e| e.deleted.is_some());
    let total: u64 = evidence.iter().map(|e| e.size).sum();
    let mut done = 0u64;
    let mut items = Vec::with_capacity(evidence.len());
    for e in &evidence {
        let file = format!("originals/{}", e.id);
        let (path, f) = staging.new_file(&file)?;
        let mut w = Counting { inner: BufWriter::with_capacity(1024 * 1024, f), n: 0 };
        let base = done;
        store.read_content(&e.sha256, e.size, &mut w, &mut |n: u64| progress.update(base + n))?;
        w.flush().map_err(io_err("writing", &path))?;
        let written = w.n;
        let f = w.inner.into_inner().map_err(|e| io_err("writing", &path)(e.into_error()))?;
        f.sync_all().map_err(io_err("syncing", &path))?;
        if written != e.size {
            return Err(casebridge_core::Error::HashMismatch.into());
        }
        done += e.size;
        staging.files.insert(file.clone(), (e.sha256.clone(), e.size));
        items.push(ManifestItem {
            evidence_id: e.id,
            file,
            sha256: e.sha256.clone(),
            size: e.size,
            media_type: e.media_type.clone(),
            original_name: e.original_name.clone(),
            derived_from: e.derived_from.as_ref().map(|p| p.original_id),
        });
    }
    debug_assert_eq!(done, total);
    let mut tombstones = Vec::with_capacity(gone.len());
    if !gone.is_empty() {
        staging.dir("tombstones")?;
    }
    for e in &gone {
        let Some(t) = store.tombstone(e.id)? else { continue };
        let file = format!("tombstones/{}.json", e.id);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&t.document)
            .map_err(|_| casebridge_core::Error::Invalid { field: "tombstone", reason: "a held tombstone is not base64".into() })?;
        staging.write(&file, &bytes)?;
        tombstones.push(ManifestTombstone { evidence_id: e.id, file });
    }

    // Trust documents: the agency's public file, credentials of authors, receipts of this case.
    let (mut credentials, mut receipts) = (0, 0);
    let mut named: BTreeSet<Uuid> = BTreeSet::new();
    if let Some((public, file)) = &agency {
        staging.write(AGENCY_FILE, &serde_json::to_vec_pretty(file).map_err(|e| io_err("writing", Path::new(AGENCY_FILE))(e.into()))?)?;
        // One credential per (member, key): a member with several devices signs with several
        // keys, and each key needs its credential. Own credentials, then other members' kept
        // from the bundles and feeds this store took.
        let disclosed: BTreeSet<Uuid> = store.disclosures(case)?.into_iter().map(|d| d.member_id).collect();
        let mut creds: BTreeMap<(Uuid, String), Vec<u8>> = BTreeMap::new();
        let mut names: BTreeMap<Uuid, Vec<u8>> = BTreeMap::new();
        let mut held = store.trust_documents(Table::Credentials)?;
        held.extend(store.trust_documents(Table::MemberCredentials)?);
        for rec in held {
            let doc = decode_doc(&rec)?;
            let Ok(cred) = casebridge_trust::Credential::verify(&doc, &public.root_key_bytes()?, public.agency_id) else { continue };
            let signed = author_keys.get(&cred.member_id).is_some_and(|keys| keys.contains(&cred.key));
            let exporter = cred.member_id == me.member_id && cred.key == me.public_key;
            if !(signed || exporter) {
                continue;
            }
            creds.insert((cred.member_id, cred.key.clone()), doc.to_bytes());
            // Police staff are named in court material; a contributor only with a disclosure
            // recorded for this case.
            let shown = cred.role != Role::Volunteer || disclosed.contains(&cred.member_id);
            if let Some(name) = profile::held_name(&rec, &cred).filter(|_| shown) {
                names
                    .insert(cred.member_id, serde_json::to_vec_pretty(&name).map_err(|e| io_err("writing", Path::new("names"))(e.into()))?);
            }
        }
        if !creds.is_empty() {
            staging.dir("credentials")?;
        }
        for ((member, key), bytes) in &creds {
            staging.write(&credential_file(*member, key, creds.keys().filter(|(m, _)| m == member).count()), bytes)?;
            credentials += 1;
        }
        if !names.is_empty() {
            staging.dir("names")?;
        }
        for (member, bytes) in &names {
            staging.write(&format!("names/{member}.json"), bytes)?;
            named.insert(*member);
        }
        let bundles = case_bundles(store, public, case)?;
        let mut held: BTreeMap<Uuid, Vec<u8>> = BTreeMap::new();
        for rec in store.trust_documents(Table::Receipts)? {
            let doc = decode_doc(&rec)?;
            let Ok(r) = Receipt::verify(&doc, &public.root_key_bytes()?, public.agency_id) else { continue };
            if bundles.contains(&r.bundle_id) {
                held.insert(r.bundle_id, doc.to_bytes());
            }
        }
        if !held.is_empty() {
            staging.dir("receipts")?;
        }
        for (bundle, bytes) in &held {
            staging.write(&format!("receipts/{bundle}.json"), bytes)?;
            receipts += 1;
        }
    }

    let mut manifest = Manifest {
        v: 1,
        package_id: Uuid::new_v4(),
        created_at: Local::now().fixed_offset(),
        case: ManifestCase { id: detail.id, reference: detail.reference.clone(), title: detail.title.clone(), status: detail.status },
        exporter: ManifestExporter { member_id: me.member_id, name: me.name.clone(), role: me.role, key: me.public_key.clone() },
        events: manifest_events,
        items,
        files: Vec::new(),
        pseudonyms: author_keys
            .keys()
            // The exporter is named by the manifest's `exporter`.
            .filter(|m| !named.contains(m) && **m != me.member_id)
            .map(|m| (*m, member_pseudonym(store, case, *m)))
            .collect(),
        tombstones,
    };
    let readme = readme(&manifest, &me.fingerprint, agency.as_ref().map(|(a, _)| a));
    staging.write(README_FILE, readme.as_bytes())?;

    // Every file but manifest.json and SHA256SUMS, sorted by path (BTreeMap order is byte order).
    manifest.files =
        staging.files.iter().map(|(p, (sha, size))| ManifestFile { path: p.clone(), sha256: sha.clone(), size: *size }).collect();
    let sums: String = manifest.files.iter().map(|f| format!("{}  {}\n", f.sha256, f.path)).collect();
    let doc = SignedDoc::sign_with(COURT_PACKAGE, &manifest, store.public_key(), |m| store.sign_detached(b"", m));
    let manifest_bytes = doc.to_bytes();
    staging.write(SUMS_FILE, sums.as_bytes())?;
    staging.write(MANIFEST_FILE, &manifest_bytes)?;
    for d in ["events", "originals", "credentials", "names", "receipts", "tombstones", ""] {
        let p = staging.root.join(d);
        if p.is_dir() {
            sync_dir(&p)?;
        }
    }
    Ok(PackageSummary {
        package_id: manifest.package_id,
        case_id: case,
        files: staging.files.len(),
        items: manifest.items.len(),
        events: manifest.events.len(),
        // Every file written, manifest.json and SHA256SUMS included.
        bytes: staging.files.values().map(|(_, s)| *s).sum(),
        credentials,
        names: named.len(),
        receipts,
        agency_id: agency.as_ref().map(|(a, _)| a.agency_id),
        agency_root_fingerprint: agency.as_ref().map(|(a, _)| a.root_fingerprint()),
        path: staging.root.clone(),
    })
}

/// The file of a member's credential in a package: `credentials/<member id>.json` when the
/// member signed with one key, else `credentials/<member id>.<first 16 hex digits of the
/// key>.json` for each of their keys (a member with several devices).
fn credential_file(member: Uuid, key: &str, keys_of_member: usize) -> String {
    if keys_of_member <= 1 {
        format!("credentials/{member}.json")
    } else {
        format!("credentials/{member}.{}.json", key.get(..16).unwrap_or(key))
    }
}
