//! Receipts: an agency's signed statements that it received bundles this profile sent. The
//! sender keeps them as proof of delivery; each is verified when kept and again when listed.
//!
//! [`keep`] refuses, each with its own code: a receipt not signed by a pinned agency
//! (`unknown_signer`), for another member's bundle (`wrong_holder`), for a bundle this profile
//! never sent (`receipt_not_sent`), or for a bundle whose receipt is held already
//! (`receipt_held`: the first one stands). A refusal records nothing.

use casebridge_core::Store;
use casebridge_trust::profile::{self, ReceiptView};
use casebridge_trust::{Receipt, SignedDoc};
use uuid::Uuid;

use crate::error::{AppError, ErrorCode, Result};

/// Keeps a receipt (verified against a pinned agency, for a bundle this profile sent, not
/// held yet); returns it with the name of the agency that signed it.
pub fn keep(store: &mut Store, doc: &SignedDoc) -> Result<(Receipt, String)> {
    // The signature first: nothing the document says is looked at before it verifies.
    let key = doc.signer()?;
    let agency = profile::pinned_all(store)?.into_iter().find(|a| a.root_key_bytes().map(|k| k == key).unwrap_or(false));
    if let Some(agency) = agency {
        let r = Receipt::verify(doc, &agency.root_key_bytes()?, agency.agency_id)?;
        if r.sender == store.whoami().member_id {
            let sent = store.bundles_out(agency.agency_id)?;
            if !sent.iter().any(|b| b.bundle_id == r.bundle_id && b.manifest_hash == r.manifest_hash && b.seq == r.seq) {
                return Err(AppError::new(
                    ErrorCode::ReceiptNotSent,
                    format!(
                        "the receipt names bundle {} (sequence {}), which this profile never sent (bundle id, sequence or manifest hash differ); nothing was kept",
                        r.bundle_id, r.seq
                    ),
                ));
            }
            if held(store)?.iter().any(|v| v.verified && v.receipt.bundle_id == r.bundle_id) {
                return Err(AppError::new(
                    ErrorCode::ReceiptHeld,
                    format!("a receipt for bundle {} is held already; the first one stands and nothing was changed", r.bundle_id),
                ));
            }
        }
    }
    // The trust layer's own checks (a signer not pinned, another member's bundle), and the record.
    let r = profile::store_receipt(store, doc)?;
    let name = profile::pinned(store, r.agency_id)?.map(|p| p.name).unwrap_or_default();
    Ok((r, name))
}

/// The receipts this profile keeps, each verified again.
pub fn held(store: &Store) -> Result<Vec<ReceiptView>> {
    Ok(profile::receipts(store)?)
}

/// The name of each pinned agency, by id.
pub fn agency_names(store: &Store) -> Result<Vec<(Uuid, String)>> {
    Ok(profile::pinned_all(store)?.into_iter().map(|p| (p.agency_id, p.name)).collect())
}
