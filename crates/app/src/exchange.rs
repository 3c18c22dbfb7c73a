//! File exchange: bundles and receipts carried on a file or drive instead of the network, with
//! the same checks and reason codes as online (the trust layer decides, as at the endpoint).
//!
//! - Agency side (police staff holding the agency directory and its passphrase): verify a
//!   bundle file ([`verify_bundle`]: VERIFIED, or REJECTED with the trust layer's reason code,
//!   as `bundle verify`), open it into this profile's store and write the signed receipt to a
//!   new file ([`open_bundle`], as `bundle open`).
//! - Sender side: keep the receipt file an agency returned ([`import_receipt`], as
//!   `receipt import`); write the sealed bundles waiting in the outbox to a chosen folder or
//!   drive ([`export_outbox`]).
//!
//! Every refusal names its own code and records nothing. A file is never overwritten: targets
//! are created with `create_new`, and what a failed or cancelled write made is removed.
//!
//! Not here: cluster agencies (their keys open only with their database, on their servers:
//! `cluster_agency`), and the agency directory's own bookkeeping beyond what
//! [`crate::bundle::open_into`] does.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use casebridge_core::{Passphrase, Role, Store};
use casebridge_protocol::BundleOutcome;
use casebridge_trust::bundle::{self, Anchor, BlobSink, Verified};
use casebridge_trust::profile::{self, ReceiptView};
use casebridge_trust::{now, Agency, Reason, SignedDoc, TrustError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{io_reason, AppError, ErrorCode, Result};
use crate::files::check_file;
use crate::outbox;

/// Largest receipt file read (a receipt is a few hundred bytes).
pub const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

/// The file name an agency directory is recognised by.
const AGENCY_FILE: &str = "agency.json";

/// The file that marks a cluster agency's directory (`casebridge-agency`'s `CLUSTER_FILE`).
const CLUSTER_FILE: &str = "cluster.json";

/// The verdict on a bundle file, as `bundle verify --json` gives it: `verified`, or `rejected`
/// with the trust layer's reason code (then the bundle's own fields are null: nothing in a
/// rejected bundle is vouched for).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BundleVerdict {
    /// `verified` or `rejected`.
    pub verdict: Verdict,
    /// The reason code when rejected (`seal_damaged`, `sealed_to_other_agency`, ...).
    pub reason: Option<ErrorCode>,
    /// What was checked, or why it was rejected, for people.
    pub message: String,
    /// The agency whose keys checked it.
    pub agency_id: Uuid,
    /// Its name.
    pub agency_name: String,
    /// The bundle's id.
    pub bundle_id: Option<Uuid>,
    /// The sender's member id.
    pub sender: Option<Uuid>,
    /// The sender's name, when the agency's own record opens the credential's name commitment.
    pub sender_name: Option<String>,
    /// The sender's role, from their credential.
    pub role: Option<Role>,
    /// The case the manifest names.
    pub case_id: Option<Uuid>,
    /// The sender's bundle sequence number.
    pub seq: Option<u64>,
    /// SHA-256 of the manifest, hex.
    pub manifest_hash: Option<String>,
    /// Events carried.
    pub events: Option<u64>,
    /// Blobs carried.
    pub blobs: Option<u64>,
    /// Content bytes verified.
    pub bytes: Option<u64>,
    /// Whether the file was sealed to the agency.
    pub sealed: Option<bool>,
}

/// A verdict word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every signature, credential and hash checks.
    Verified,
    /// Refused, with a reason code.
    Rejected,
}

/// A bundle file opened into this profile's store ([`open_bundle`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BundleOpened {
    /// `accepted` (stored) or `duplicate` (already held; nothing added, no new receipt).
    pub outcome: BundleOutcome,
    /// The bundle's id.
    pub bundle_id: Uuid,
    /// The sender's member id.
    pub sender: Uuid,
    /// The sender's sequence number.
    pub seq: u64,
    /// The case it names.
    pub case_id: Option<Uuid>,
    /// Events carried.
    pub events: u64,
    /// Events new to this store.
    pub events_added: u64,
    /// Blobs carried.
    pub blobs: u64,
    /// SHA-256 of the manifest, hex.
    pub manifest_hash: String,
    /// Where the signed receipt was written (accepted bundles).
    pub receipt_path: Option<String>,
    /// Why the receipt file could not be written (the bundle is imported all the same; the
    /// agency directory keeps a copy under `receipts/`).
    pub receipt_error: Option<AppError>,
}

/// A receipt kept ([`import_receipt`]), with its agency's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReceiptImported {
    /// The receipt, verified.
    pub receipt: ReceiptView,
    /// The name of the agency that signed it.
    pub agency_name: String,
}

/// One sealed bundle written to a folder ([`export_outbox`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExportedBundle {
    /// The bundle's id.
    pub bundle_id: Uuid,
    /// The file written.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

// ----- the agency ------------------------------------------------------------------------------

/// Unlocks the agency in `dir` with its passphrase. Refused: an empty path (`invalid_input`),
/// a directory without an agency (`not_an_agency`), a cluster agency (`cluster_agency`), a
/// wrong passphrase (`wrong_agency_passphrase`).
pub fn open_agency(dir: &Path, passphrase: &Passphrase) -> Result<Agency> {
    if dir.as_os_str().is_empty() {
        return Err(AppError::invalid("agency directory", "choose the agency's directory"));
    }
    if !dir.join(AGENCY_FILE).is_file() {
        return Err(AppError::new(
            ErrorCode::NotAnAgency,
            format!("{} holds no agency (there is no {AGENCY_FILE}): choose the agency's directory", dir.display()),
        ));
    }
    if dir.join(CLUSTER_FILE).exists() {
        return Err(AppError::new(
            ErrorCode::ClusterAgency,
            "this agency runs as a cluster: its keys open only with its database, so open its bundles on the agency's servers",
        ));
    }
    Agency::open(dir, passphrase).map_err(|e| {
        // The trust layer says `store` for a wrong agency passphrase; here it is its own refusal.
        if e.reason == Reason::Store && e.message.starts_with("wrong agency passphrase") {
            AppError::new(
                ErrorCode::WrongAgencyPassphrase,
                "wrong agency passphrase: the agency keys were not unlocked; nothing was changed",
            )
        } else {
            e.into()
        }
    })
}

/// Whether a trust error is a verdict on the bundle (else a failure of the verifier's own
/// set-up: reading the file, the agency's records, a sealed bundle without the sealing key).
pub fn is_verdict(e: &TrustError) -> bool {
    !matches!(e.reason, Reason::Io | Reason::Unavailable | Reason::Store | Reason::SealingKeyRequired)
}

/// Verifies the bundle at `path` with `agency`'s keys, its current revocation list and its own
/// record of the credentials it issued, as the endpoint does; nothing is stored. `progress`
/// sees the bytes read and may return false to cancel (`cancelled`).
fn check(agency: &Agency, path: &Path, progress: &mut dyn FnMut(u64) -> bool) -> std::result::Result<Verified, TrustError> {
    let (list, _) = agency.current_revocation()?;
    let names = agency.names()?;
    let issued = agency.issued()?;
    let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity())).at(now()).issued(&issued).names(&names);
    bundle::verify(path, &anchor, BlobSink::Check, progress)
}

/// Verifies the bundle file `path` with the agency's keys (as `bundle verify --agency-dir`):
/// a verdict, `verified` or `rejected` with its reason code. A file that cannot be read is an
/// error (`bad_file`), as is a cancel (`cancelled`).
pub fn verify_bundle(agency: &Agency, path: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<BundleVerdict> {
    check_file(path)?;
    let mut cancelled = false;
    let result = check(agency, path, &mut |n| {
        let go = progress(n);
        cancelled |= !go;
        go
    });
    let public = agency.public();
    match result {
        Ok(v) => Ok(verified(&v, &public.name)),
        Err(_) if cancelled => Err(AppError::cancelled("verification cancelled: nothing was decided")),
        Err(e) if is_verdict(&e) => Ok(BundleVerdict {
            verdict: Verdict::Rejected,
            reason: Some(ErrorCode::from_code(e.reason.code())),
            message: e.message,
            agency_id: public.agency_id,
            agency_name: public.name.clone(),
            bundle_id: None,
            sender: None,
            sender_name: None,
            role: None,
            case_id: None,
            seq: None,
            manifest_hash: None,
            events: None,
            blobs: None,
            bytes: None,
            sealed: None,
        }),
        Err(e) => Err(e.into()),
    }
}

fn verified(v: &Verified, agency_name: &str) -> BundleVerdict {
    let m = &v.manifest;
    BundleVerdict {
        verdict: Verdict::Verified,
        reason: None,
        message: format!(
            "signed by {} with a valid, unrevoked credential from {agency_name}; every event signature and blob hash checks",
            m.sender
        ),
        agency_id: m.recipient_agency,
        agency_name: agency_name.to_string(),
        bundle_id: Some(m.bundle_id),
        sender: Some(m.sender),
        sender_name: v.name.as_ref().map(|d| d.name.clone()),
        role: Some(v.credential.role),
        case_id: m.case_id,
        seq: Some(m.seq),
        manifest_hash: Some(v.manifest_hash.clone()),
        events: Some(m.events.len() as u64),
        blobs: Some(m.blobs.len() as u64),
        bytes: Some(v.bytes),
        sealed: Some(v.sealed),
    }
}

/// Checks that police staff hold `store` (`staff_only` otherwise): only they open an agency's
/// bundles.
pub fn require_staff(store: &Store) -> Result<()> {
    if crate::access::is_police_staff(store) {
        return Ok(());
    }
    Err(AppError::new(ErrorCode::StaffOnly, "only police staff (investigators and supervisors) open an agency's bundles"))
}

/// Checks that `out` is a new file in an existing folder: `exists` when it is there (nothing is
/// ever overwritten), `folder_missing` when its folder is not.
pub fn check_new_file(out: &Path, what: &str) -> Result<()> {
    crate::export::check_new_path(out, what, what, ErrorCode::FolderMissing)
}

/// Writes `bytes` to the new file `path`: never overwrites (`exists`), and removes what it
/// wrote if the write fails (`not_writable`).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| write_error(path, &e))?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(write_error(path, &e));
    }
    Ok(())
}

fn write_error(path: &Path, e: &std::io::Error) -> AppError {
    match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            AppError::new(ErrorCode::Exists, format!("{} already exists; casebridge never overwrites files", path.display()))
        }
        std::io::ErrorKind::NotFound => {
            AppError::new(ErrorCode::FolderMissing, format!("cannot write {}: its folder does not exist", path.display()))
        }
        _ => AppError::new(ErrorCode::NotWritable, format!("cannot write {}: {}", path.display(), io_reason(e))),
    }
}

/// Opens the bundle file `path` into `store` (an agency-side profile of police staff) with
/// `agency`'s keys, as `bundle open`: verified in full, then imported under the same rules as
/// the endpoint; an accepted bundle's signed receipt is written to the new file
/// `receipt_out`, which is checked first (`exists`, `folder_missing`). A duplicate adds
/// nothing and writes no receipt (the first import's stands). A rejected bundle fails with its
/// reason code and records nothing: on an agency this profile has not pinned yet, the bundle is
/// verified before the pin is taken. `progress` sees the bytes read; false cancels.
pub fn open_bundle(
    store: &mut Store,
    agency: &Agency,
    path: &Path,
    receipt_out: &Path,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<BundleOpened> {
    require_staff(store)?;
    check_file(path)?;
    check_new_file(receipt_out, "receipt")?;
    let mut cancelled = false;
    let mut watch = |n: u64| {
        let go = progress(n);
        cancelled |= !go;
        go
    };
    if profile::pinned(store, agency.public().agency_id)?.is_none() {
        if let Err(e) = check(agency, path, &mut watch) {
            return Err(if cancelled { AppError::cancelled("opening cancelled: nothing was imported") } else { e.into() });
        }
    }
    let (list, list_doc) = agency.current_revocation()?;
    let received = match crate::bundle::open_into(store, agency, (&list, &list_doc), path, &mut watch) {
        Ok(r) => r,
        Err(_) if cancelled => return Err(AppError::cancelled("opening cancelled: nothing was imported")),
        Err(e) => return Err(e.into()),
    };
    let o = received.opened;
    let (mut receipt_path, mut receipt_error) = (None, None);
    if let Some(doc) = received.receipt {
        match write_new(receipt_out, &doc.to_bytes()) {
            Ok(()) => receipt_path = Some(receipt_out.display().to_string()),
            Err(e) => receipt_error = Some(e),
        }
    }
    Ok(BundleOpened {
        outcome: o.outcome,
        bundle_id: o.bundle_id,
        sender: o.sender,
        seq: o.seq,
        case_id: o.case_id,
        events: o.events,
        events_added: o.events_added,
        blobs: o.blobs,
        manifest_hash: o.manifest_hash,
        receipt_path,
        receipt_error,
    })
}

// ----- the sender ------------------------------------------------------------------------------

/// Reads the receipt file `path` (`bad_file` when it cannot be read, `not_a_receipt` when it
/// is too large or not a signed document) and keeps it ([`crate::receipts::keep`]: the
/// signature against a pinned agency first, then that this profile sent the bundle and holds
/// no receipt for it yet). A refusal records nothing.
pub fn import_receipt(store: &mut Store, path: &Path) -> Result<ReceiptImported> {
    let size = check_file(path)?;
    let not_a_receipt =
        |why: &str| AppError::new(ErrorCode::NotAReceipt, format!("{} is not a receipt: {why}; nothing was kept", path.display()));
    if size > MAX_RECEIPT_BYTES {
        return Err(not_a_receipt(&format!("it has {size} bytes, a receipt at most {MAX_RECEIPT_BYTES}")));
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_RECEIPT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| AppError::bad_file(path, io_reason(&e)))?;
    let doc = SignedDoc::parse(&bytes).map_err(|_| not_a_receipt("it is not a Casebridge signed document"))?;
    let (receipt, agency_name) = crate::receipts::keep(store, &doc)?;
    Ok(ReceiptImported { receipt: ReceiptView { receipt, verified: true }, agency_name })
}

/// Checks that `dir` is an existing folder this user can write to: `invalid_input` (empty),
/// `folder_missing`, `not_a_folder` (a file), `not_writable` (a probe file cannot be created;
/// it holds nothing and is removed at once).
pub fn check_folder(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(AppError::invalid("folder", "choose a folder or drive to write to"));
    }
    let meta = std::fs::metadata(dir).map_err(|_| {
        AppError::new(ErrorCode::FolderMissing, format!("the folder {} does not exist; nothing was written", dir.display()))
    })?;
    if !meta.is_dir() {
        return Err(AppError::new(ErrorCode::NotAFolder, format!("{} is a file, not a folder; nothing was written", dir.display())));
    }
    let probe = dir.join(format!(".casebridge-write-check-{}", Uuid::now_v7()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(AppError::new(
            ErrorCode::NotWritable,
            format!("the folder {} cannot be written ({}); nothing was written", dir.display(), io_reason(&e)),
        )),
    }
}

/// What [`export_outbox`] will copy: the outbox's sealed bundles and their targets in `dir`.
fn plan(store_dir: &Path, dir: &Path) -> Result<Vec<(PathBuf, PathBuf, Uuid, u64)>> {
    let pending = casebridge_sync::Outbox::at(outbox::outbox_dir(store_dir)).pending()?;
    let mut out = Vec::new();
    for p in pending {
        let target = dir.join(format!("{}.{}", p.bundle_id, casebridge_sync::BUNDLE_EXTENSION));
        if target.symlink_metadata().is_ok() {
            return Err(AppError::new(
                ErrorCode::Exists,
                format!(
                    "{} already exists; casebridge never overwrites files: choose another folder; nothing was written",
                    target.display()
                ),
            ));
        }
        out.push((p.path, target, p.bundle_id, p.size));
    }
    Ok(out)
}

/// Writes the sealed bundles waiting in the outbox (after sealing there whatever this profile
/// recorded since the last pass, as sync does: enrolment and a valid credential needed) to the
/// folder `dir` as `BUNDLE_ID.cbb`, for carrying to the agency on a drive. The bundles stay in
/// the outbox: sync still uploads them, and the agency takes the second copy as a duplicate.
///
/// Refused before anything is written: the folder checks ([`check_folder`]) and any target
/// that exists (`exists`: nothing is overwritten). `progress` sees `(done, total)` bytes and
/// may return false to cancel (`cancelled`); a cancel or a failed write removes every file
/// this call wrote. Returns the files written, in upload order (none when nothing waits).
pub fn export_outbox(store: &mut Store, dir: &Path, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<Vec<ExportedBundle>> {
    check_folder(dir)?;
    let (agency, _, cred) = outbox::agency(store)?;
    // Checked before sealing too, so a refused folder leaves the outbox as it was.
    plan(store.dir(), dir)?;
    outbox::export_pending(store, &agency, &cred, None)?;
    let todo = plan(store.dir(), dir)?;
    let total = todo.iter().map(|t| t.3).fold(0u64, u64::saturating_add);
    let mut written: Vec<ExportedBundle> = Vec::new();
    let mut done = 0u64;
    let undo = |written: &[ExportedBundle]| {
        for w in written {
            let _ = std::fs::remove_file(&w.path);
        }
    };
    for (from, to, bundle_id, _) in todo {
        match copy_new(&from, &to, &mut |n| progress(done.saturating_add(n), total)) {
            Ok(bytes) => {
                done = done.saturating_add(bytes);
                written.push(ExportedBundle { bundle_id, path: to.display().to_string(), bytes });
            }
            Err(e) => {
                undo(&written);
                return Err(e);
            }
        }
    }
    Ok(written)
}

/// Copies `from` to the new file `to` in 1 MiB chunks, synced; removes `to` on failure or
/// cancel. Returns the bytes copied.
fn copy_new(from: &Path, to: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<u64> {
    let mut src = File::open(from)
        .map_err(|e| AppError::new(ErrorCode::Io, format!("cannot read the outbox bundle {}: {}", from.display(), io_reason(&e))))?;
    let mut dst = OpenOptions::new().write(true).create_new(true).open(to).map_err(|e| write_error(to, &e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    let result = (|| {
        loop {
            if !progress(n) {
                return Err(AppError::cancelled(format!(
                    "export cancelled: {} was removed, and the other files of this export too",
                    to.display()
                )));
            }
            let got = src
                .read(&mut buf)
                .map_err(|e| AppError::new(ErrorCode::Io, format!("cannot read {}: {}", from.display(), io_reason(&e))))?;
            if got == 0 {
                break;
            }
            dst.write_all(&buf[..got]).map_err(|e| write_error(to, &e))?;
            n = n.saturating_add(got as u64);
        }
        dst.sync_all().map_err(|e| write_error(to, &e))?;
        progress(n);
        Ok(n)
    })();
    if result.is_err() {
        drop(dst);
        let _ = std::fs::remove_file(to);
    }
    result
}
