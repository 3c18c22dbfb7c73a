//! The outbox: signed, sealed bundles waiting to be uploaded to the agency endpoint
//! (`STORE/sync/outbox/*.cbb`). Sync (and a volunteer's submission) exports into it whatever
//! this profile recorded since its last export, one bundle per case, uploaded in order.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use casebridge_core::{EndpointRecord, EventKind, SignedEvent, Store};
use casebridge_sync::{Carried, Outbox};
use casebridge_trust::bundle::{self, ExportOptions, ExportSummary};
use casebridge_trust::{profile, AgencyPublic, CredentialStatus, SignedDoc};
use uuid::Uuid;

use crate::credentials::{self, Unusable};
use crate::error::{AppError, ErrorCode, Result};
use crate::views::AgencyRefusal;

/// The sync directory of a store: `STORE/sync` (state file and outbox; no secrets).
pub fn sync_dir(store_dir: &Path) -> PathBuf {
    store_dir.join("sync")
}

/// The outbox directory of a store.
pub fn outbox_dir(store_dir: &Path) -> PathBuf {
    sync_dir(store_dir).join(casebridge_sync::OUTBOX_DIR)
}

/// The directory of bundles the agency refused for good: `STORE/sync/refused`.
pub fn refused_dir(store_dir: &Path) -> PathBuf {
    sync_dir(store_dir).join(casebridge_sync::REFUSED_DIR)
}

/// The bundles of this store the agency refused for good, oldest refusal first.
pub fn refused(store_dir: &Path) -> Result<Vec<casebridge_sync::Refused>> {
    Ok(casebridge_sync::Outbox::at(outbox_dir(store_dir)).with_refused_dir(refused_dir(store_dir)).refused()?)
}

/// For each submission carried by a bundle the agency refused: that refusal.
pub fn refused_submissions(store_dir: &Path) -> Result<BTreeMap<Uuid, AgencyRefusal>> {
    let mut out = BTreeMap::new();
    for r in refused(store_dir)? {
        for id in &r.carried.submissions {
            out.insert(*id, AgencyRefusal::from(&r));
        }
    }
    Ok(out)
}

/// What the events `events` bring, noted next to their bundle.
fn carried(events: &[SignedEvent], case: Uuid) -> Carried {
    let submissions = events
        .iter()
        .filter_map(|e| match &e.body().kind {
            EventKind::SubmissionMade { submission_id, .. } => Some(*submission_id),
            _ => None,
        })
        .collect();
    Carried { case_id: Some(case), submissions, ..Carried::default() }
}

/// Removes outbox bundles this store never recorded as exported: an export killed after its
/// file was moved into place but before `bundle_exported` was recorded. Uploading one would
/// take its sequence number, and the same events, exported again with that number (the
/// export point did not move), would then be refused as a rollback on every later sync.
fn drop_unrecorded(outbox: &Outbox, recorded: &[casebridge_core::projection::BundleRecord]) -> Result<()> {
    let known: std::collections::HashSet<Uuid> = recorded.iter().map(|b| b.bundle_id).collect();
    for p in outbox.pending()? {
        if !known.contains(&p.bundle_id) {
            fs::remove_file(&p.path).map_err(|e| AppError::new(ErrorCode::Io, format!("cannot remove {}: {e}", p.path.display())))?;
            let _ = fs::remove_file(outbox.carried_path(p.bundle_id));
        }
    }
    Ok(())
}

/// The endpoint this profile enrolled at, if any (`multiple_agencies` when there are several).
pub fn endpoint(store: &Store) -> Result<Option<EndpointRecord>> {
    let endpoints = store.endpoints()?;
    match endpoints.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(AppError::new(ErrorCode::MultipleAgencies, "this profile is enrolled at more than one agency; sync supports one")),
    }
}

/// The agency this profile syncs with (the one whose endpoint it enrolled at), its endpoint
/// record, and this profile's credential, which must be valid now.
///
/// Errors: `not_enrolled`, `multiple_agencies`, `no_credential`, `credential_not_valid`.
pub fn agency(store: &Store) -> Result<(AgencyPublic, EndpointRecord, SignedDoc)> {
    let endpoint = endpoint(store)?.ok_or_else(AppError::not_enrolled)?;
    let agency = profile::pinned(store, endpoint.agency_id)?.ok_or_else(AppError::not_enrolled)?;
    let why = match credentials::usable(store, &agency) {
        Ok((_, cred_doc)) => return Ok((agency, endpoint, cred_doc)),
        Err(Unusable::Trust(e)) => return Err(e.into()),
        Err(Unusable::Missing) => {
            return Err(AppError::new(
                ErrorCode::NoCredential,
                format!(
                    "this profile has no credential from agency {} ({}): enrol again with a new invite code from the agency",
                    agency.name, agency.agency_id
                ),
            ))
        }
        Err(Unusable::NotValid { status: CredentialStatus::Revoked, .. }) => "is revoked".to_string(),
        Err(Unusable::NotValid { status, credential: c, .. }) => {
            format!("is {status}: it is valid from {} to {}", c.not_before.to_rfc3339(), c.not_after.to_rfc3339())
        }
    };
    Err(AppError::new(
        ErrorCode::CredentialNotValid,
        format!("the credential from agency {} {why}; ask the agency for a new one", agency.name),
    ))
}

/// The contents (SHA-256, hex) that the next [`export_pending`] would carry: those named by
/// this profile's own `evidence_added` events since sync's last complete pass, held here.
/// What a staff member asks the agency about before exporting ("no byte twice").
pub fn pending_contents(store: &mut Store, agency: &AgencyPublic) -> Result<Vec<String>> {
    let recorded = store.bundles_out(agency.agency_id)?;
    let since = recorded.iter().filter_map(|b| b.upto).max().unwrap_or(0);
    let mut out = std::collections::BTreeSet::new();
    for case in store.cases_changed_since(since)? {
        for ev in store.case_events(case, Some(since))? {
            // This device's own events: the member's other devices send theirs.
            if !store.is_own(ev.body()) {
                continue;
            }
            if let casebridge_core::EventKind::EvidenceAdded { object, .. } = &ev.body().kind {
                if store.has_content(&object.sha256) {
                    out.insert(object.sha256.clone());
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Exports into the outbox, one sealed bundle per case, every event this profile recorded
/// since sync's last complete pass to `agency` (a manual `bundle export` does not count). Files are named by a time-ordered id so that the outbox
/// uploads in sequence order.
///
/// `held` names contents the agency said it holds (a staff member asks first, `POST
/// /v1/held`): the bundles name them without carrying their bytes.
pub fn export_pending(
    store: &mut Store,
    agency: &AgencyPublic,
    credential: &SignedDoc,
    held: Option<&std::collections::BTreeSet<String>>,
) -> Result<Vec<ExportSummary>> {
    let recorded = store.bundles_out(agency.agency_id)?;
    let since = recorded.iter().filter_map(|b| b.upto).max().unwrap_or(0);
    let cases = store.cases_changed_since(since)?;
    let dir = outbox_dir(store.dir());
    fs::create_dir_all(&dir)
        .map_err(|e| AppError::new(ErrorCode::Io, format!("cannot create {}: {e}; nothing was written", dir.display())))?;
    drop_unrecorded(&Outbox::at(&dir), &recorded)?;
    // The next pass starts at this pass's start, recorded only with its last bundle: a pass
    // that stops part-way (a full disk) leaves the point where it was, and redoes the rest.
    let point = store.journal_records();
    let last = cases.len().saturating_sub(1);
    let mut done = Vec::new();
    let outbox = Outbox::at(&dir);
    for (i, case) in cases.into_iter().enumerate() {
        let id = Uuid::now_v7();
        let out = dir.join(format!("{id}.{}", casebridge_sync::BUNDLE_EXTENSION));
        // What the bundle carries is noted first (its sender cannot open it once sealed), so
        // that a refusal can name the submissions it refused.
        let mine: Vec<SignedEvent> = store.case_events(case, Some(since))?.into_iter().filter(|e| store.is_own(e.body())).collect();
        let mut note = carried(&mine, case);
        let _ = outbox.write_carried(id, &note);
        let opts = ExportOptions {
            case,
            since: Some(since),
            agency,
            credential,
            seal: true,
            own_only: true,
            bundle_id: Some(id),
            sync_point: (i == last).then_some(point),
            held,
        };
        let exported = bundle::export(store, &opts, &out, &mut |_| true);
        let summary = match exported {
            Ok(summary) => summary,
            Err(e) => {
                let _ = fs::remove_file(outbox.carried_path(id));
                return Err(e.into());
            }
        };
        note.seq = Some(summary.seq);
        note.events = summary.events as u64;
        note.blobs = summary.blobs as u64;
        // The note only informs: failing to write it never fails the export.
        let _ = outbox.write_carried(id, &note);
        done.push(summary);
    }
    Ok(done)
}
