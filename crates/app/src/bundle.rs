//! Bundles at the receiving agency: opening one into an agency-side profile store, under the
//! same rules as the endpoint, and signing the receipt the sender keeps.
//!
//! These return the trust layer's own error, whose message ends with its reason code.

use std::path::Path;

use casebridge_core::Store;
use casebridge_protocol::BundleOutcome;
use casebridge_trust::bundle::{self, Anchor, Opened};
use casebridge_trust::{now, profile, Agency, AgencyPublicFile, Receipt, Result, RevocationList, SignedDoc};

/// A bundle opened into a store, and the agency's signed receipt for it (none for a duplicate:
/// the first import's receipt stands).
#[derive(Debug)]
pub struct Received {
    /// What was imported.
    pub opened: Opened,
    /// The receipt, for an accepted bundle.
    pub receipt: Option<SignedDoc>,
}

/// Verifies the bundle at `path` with `agency`'s keys and imports it into `store`, an
/// agency-side profile; `revocation` is the agency's current list (and its signed document).
///
/// The agency is pinned on `store` if it is not yet, and its list kept: a list older than one
/// this store has seen (an agency directory restored from an old copy) is refused. As at the
/// endpoint, the agency's clock and its own record of the credentials it issued decide, not
/// what the bundle embeds. `progress` sees the bytes read.
pub fn open_into(
    store: &mut Store,
    agency: &Agency,
    revocation: (&RevocationList, &SignedDoc),
    path: &Path,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Received> {
    let (list, list_doc) = revocation;
    let file = AgencyPublicFile { agency: agency.public_doc().clone(), revocation: list_doc.clone() };
    profile::pin_agency(store, &file)?;
    let all = agency.issued_with_names()?;
    let names = all.iter().filter_map(|(c, d)| d.clone().map(|d| (c.serial, d))).collect();
    let issued: Vec<_> = all.into_iter().map(|(c, _)| c).collect();
    // The sender's name disclosure is kept with their credential (the agency's staff may see it).
    let anchor = Anchor::new(agency.public(), list, Some(agency.sealing_identity())).at(now()).issued(&issued).names(&names);
    let opened = bundle::open_into(path, &anchor, store, progress)?;
    // A bundle opened is a whole case with originals read into this store: police staff's
    // opening is recorded, naming the case's items as held now.
    if let Some(case) = opened.case_id.filter(|_| crate::access::is_police_staff(store)) {
        if store.case(case).is_ok() {
            let items = store.list_evidence(case)?.into_iter().map(|e| e.id).collect();
            store.record_access_of(case, None, items, "bundle_opened", Some(format!("bundle {}", opened.bundle_id)))?;
        }
    }
    let receipt = if opened.outcome == BundleOutcome::Accepted { Some(agency.sign_receipt(&receipt_for(agency, &opened))?) } else { None };
    Ok(Received { opened, receipt })
}

/// The receipt for an opened bundle, received now.
fn receipt_for(agency: &Agency, opened: &Opened) -> Receipt {
    Receipt {
        agency_id: agency.public().agency_id,
        bundle_id: opened.bundle_id,
        manifest_hash: opened.manifest_hash.clone(),
        sender: opened.sender,
        seq: opened.seq,
        received_at: now(),
        outcome: opened.outcome,
        events: opened.events,
        blobs: opened.blobs,
    }
}
