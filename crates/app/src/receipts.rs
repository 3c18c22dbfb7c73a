//! Receipts: an agency's signed statements that it received bundles this profile sent. The
//! sender keeps them as proof of delivery; each is verified when kept and again when listed.
//!
//! These return the trust layer's own error, whose message ends with its reason code.

use casebridge_core::Store;
use casebridge_trust::profile::{self, ReceiptView};
use casebridge_trust::{Receipt, Result, SignedDoc};
use uuid::Uuid;

/// Keeps a receipt (verified against a pinned agency, for a bundle this profile sent); returns
/// it with the name of the agency that signed it.
pub fn keep(store: &mut Store, doc: &SignedDoc) -> Result<(Receipt, String)> {
    let r = profile::store_receipt(store, doc)?;
    let name = profile::pinned(store, r.agency_id)?.map(|p| p.name).unwrap_or_default();
    Ok((r, name))
}

/// The receipts this profile keeps, each verified again.
pub fn held(store: &Store) -> Result<Vec<ReceiptView>> {
    profile::receipts(store)
}

/// The name of each pinned agency, by id.
pub fn agency_names(store: &Store) -> Result<Vec<(Uuid, String)>> {
    Ok(profile::pinned_all(store)?.into_iter().map(|p| (p.agency_id, p.name)).collect())
}
