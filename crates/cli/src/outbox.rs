//! The outbox: signed, sealed bundles waiting to be uploaded to the agency endpoint
//! (`STORE/outbox/*.cbb`). Sync exports into it whatever this profile recorded since its last
//! export, one bundle per case, and uploads it in order.

use std::fs;
use std::path::PathBuf;

use casebridge_core::Store;
use casebridge_trust::bundle::{self, ExportOptions, ExportSummary};
use casebridge_trust::{now, profile, AgencyPublic, SignedDoc};
use uuid::Uuid;

use crate::credential::status;
use crate::error::{CliError, Result};
use crate::output;

/// The outbox directory of a store.
pub fn dir(store: &Store) -> PathBuf {
    crate::sync_cmd::sync_dir(store.dir()).join(casebridge_sync::OUTBOX_DIR)
}

/// The agency this profile syncs with (the one whose endpoint it enrolled at), its endpoint
/// record, and this profile's credential, which must be valid now.
pub fn agency(store: &Store) -> Result<(AgencyPublic, casebridge_core::EndpointRecord, SignedDoc)> {
    let endpoints = store.endpoints()?;
    let endpoint = match endpoints.as_slice() {
        [] => return Err(CliError::NotEnrolled),
        [one] => one.clone(),
        _ => return Err(CliError::Usage("this profile is enrolled at more than one agency; sync supports one".into())),
    };
    let agency = profile::pinned(store, endpoint.agency_id)?.ok_or(CliError::NotEnrolled)?;
    let Some((cred, cred_doc)) = profile::credential(store, &agency)? else {
        return Err(CliError::NoCredential { agency: agency.name.clone(), agency_id: agency.agency_id });
    };
    let list = profile::held_revocation(store, &agency)?.map(|(l, _)| l);
    let why = match status(&cred, list.as_ref(), now()) {
        "valid" => None,
        "revoked" => Some("is revoked".to_string()),
        s => Some(format!("is {s}: it is valid from {} to {}", output::time(&cred.not_before), output::time(&cred.not_after))),
    };
    if let Some(why) = why {
        return Err(CliError::CredentialNotValid { agency: agency.name.clone(), why });
    }
    Ok((agency, endpoint, cred_doc))
}

/// Exports into the outbox, one sealed bundle per case, every event this profile recorded
/// since its last export to `agency`. Files are named by a time-ordered id so that the outbox
/// uploads in sequence order.
pub fn export_pending(store: &mut Store, agency: &AgencyPublic, credential: &SignedDoc) -> Result<Vec<ExportSummary>> {
    let since = store.bundles_out(agency.agency_id)?.iter().filter_map(|b| b.upto).max().unwrap_or(0);
    let cases = store.cases_changed_since(since)?;
    let dir = dir(store);
    fs::create_dir_all(&dir).map_err(|e| CliError::WriteFile { path: dir.clone(), reason: e.to_string() })?;
    let mut done = Vec::new();
    for case in cases {
        let id = Uuid::now_v7();
        let out = dir.join(format!("{id}.{}", casebridge_sync::BUNDLE_EXTENSION));
        let opts = ExportOptions { case, since: Some(since), agency, credential, seal: true, own_only: true, bundle_id: Some(id) };
        done.push(bundle::export(store, &opts, &out, &mut |_| true)?);
    }
    Ok(done)
}
