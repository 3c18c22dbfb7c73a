//! `casebridge agency check`: is everything the agency holds whole? The agency store's journal
//! chain and signatures and its index (casebridge-core's `Store::check`), with `read_data`
//! every object re-hashed; content objects no event names (orphans: reported, never removed
//! here, `agency gc` removes them); every issued credential, the revocation list and every
//! receipt verified with the agency's root key; the endpoint's own access log (every entry's
//! signature, and its chain without gaps: `endpoint_log_forged`, `endpoint_log_gap`,
//! `endpoint_log_broken`); the content of an item deleted under a tombstone that is still
//! held (a deletion interrupted before its content was destroyed: `deleted_content_held`,
//! which the next `retention run` completes). A deleted item's missing content is expected,
//! not a problem.
//!
//! Runs through the running endpoint (`POST /admin/check`, holding the store's write lock for
//! the check, so intake waits) or, when none runs, directly ([`check_offline`]).

use std::path::Path;
use std::sync::Arc;

use casebridge_core::{CheckReport, Passphrase, Problem};
use casebridge_trust::{Agency, Receipt, SignedDoc, RECEIPTS_FOLDER};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::clock::SystemClock;
use crate::error::{AgencyError, Result};
use crate::state::{write, AppState, StateOptions};

/// What `agency check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyCheck {
    /// Nothing is wrong.
    pub ok: bool,
    /// The agency store's check (journal, signatures, index, and objects when read).
    pub store: CheckReport,
    /// Content objects no event names (`agency gc` removes the older ones).
    pub orphan_objects: usize,
    /// Their bytes.
    pub orphan_bytes: u64,
    /// Issued credentials verified with the root key.
    pub credentials: usize,
    /// Receipts verified with the root key.
    pub receipts: usize,
    /// Entries of the endpoint's own access log whose signature verified (their places and
    /// links are checked too: a gap or a broken link is a problem).
    #[serde(default)]
    pub access_log_entries: usize,
    /// Everything wrong: the store's problems and the agency's own.
    pub problems: Vec<Problem>,
}

/// The check over an open endpoint state.
pub(crate) fn check(st: &AppState, read_data: bool) -> std::result::Result<AgencyCheck, ApiError> {
    let mut out = AgencyCheck::default();
    let deleted;
    if let Some(c) = &st.cluster {
        // A replica checks the cluster's whole journal: its copy takes up every record first
        // (each checked at its position as it is appended).
        crate::follower::catch_up_shared(c, &st.store)?;
    }
    {
        let mut store = write(&st.store);
        out.store = store.check(read_data, &mut |_| {}).map_err(ApiError::internal)?;
        for o in store.orphan_objects().map_err(ApiError::internal)? {
            out.orphan_objects += 1;
            out.orphan_bytes += o.size;
        }
        deleted = store.deleted_content_held().map_err(ApiError::internal)?;
    }
    out.problems = out.store.problems.clone();
    // A deletion interrupted between its tombstone and the destruction of the content (a
    // crash, an object store that did not answer) left the item's wrapped key behind.
    for (item, _) in deleted {
        out.problems.push(problem(
            "deleted_content_held",
            &item.to_string(),
            "the item was deleted, but its sealed content (with its key) is still held: run `casebridge retention run` to destroy it",
        ));
    }
    match st.agency.issued() {
        Ok(issued) => out.credentials = issued.len(),
        Err(e) => out.problems.push(problem("credential_invalid", "issued/", &e.message)),
    }
    if let Err(e) = Agency::revocation_in(st.agency.records(), &st.public) {
        out.problems.push(problem("revocation_invalid", "revocation.json", &e.message));
    }
    check_receipts(st, &mut out);
    let (entries, log_problems) = crate::endpoint_log::read_verified(&st.agency);
    out.access_log_entries = entries.len();
    for (code, item, message) in log_problems {
        out.problems.push(problem(code, &item, &message));
    }
    out.ok = out.problems.is_empty();
    Ok(out)
}

fn problem(code: &str, item: &str, message: &str) -> Problem {
    Problem { code: code.into(), item: item.into(), message: message.into() }
}

/// Every receipt on file verifies with the root key, for this agency, and is filed under its
/// own bundle's id.
fn check_receipts(st: &AppState, out: &mut AgencyCheck) {
    let records = st.agency.records();
    let names = match records.list(RECEIPTS_FOLDER) {
        Ok(n) => n,
        Err(e) => return out.problems.push(problem("receipts_unreadable", RECEIPTS_FOLDER, &e.message)),
    };
    let root = match st.public.root_key_bytes() {
        Ok(r) => r,
        Err(e) => return out.problems.push(problem("agency_invalid", "agency.json", &e.message)),
    };
    for name in names {
        let item = format!("{RECEIPTS_FOLDER}/{name}");
        let verified = records
            .read(&item)
            .map_err(|e| e.message)
            .and_then(|b| b.ok_or_else(|| "gone while checking".to_string()))
            .and_then(|b| SignedDoc::parse(&b).map_err(|e| e.message))
            .and_then(|d| Receipt::verify(&d, &root, st.public.agency_id).map_err(|e| e.message));
        match verified {
            Ok(r) if name == format!("{}.json", r.bundle_id) => out.receipts += 1,
            Ok(r) => out.problems.push(problem("receipt_misfiled", &item, &format!("holds the receipt for bundle {}", r.bundle_id))),
            Err(m) => out.problems.push(problem("receipt_invalid", &item, &m)),
        }
    }
}

/// The check without a running endpoint: unlocks the agency in `dir` (holding its locks while
/// it checks).
pub fn check_offline(dir: &Path, passphrase: &Passphrase, read_data: bool) -> Result<AgencyCheck> {
    if !dir.join(crate::state::STORE_DIR).join(casebridge_core::HEADER_FILE).exists() {
        // An agency that never served has no store yet: its documents are still checked.
        drop(Agency::open(dir, passphrase)?);
    }
    let options = StateOptions {
        store_kdf: casebridge_core::KdfParams::INTERACTIVE,
        clock: Arc::new(SystemClock),
        url: String::new(),
        limits: crate::limits::Limits::load(dir)?,
        s3: None,
    };
    let state = AppState::open(dir, passphrase, options)?;
    check(&state, read_data).map_err(|e| AgencyError::Internal(e.to_string()))
}
