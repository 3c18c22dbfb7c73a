//! The agencies this profile trusts: pinning one from its public file (its identity and
//! signed revocation list), so that its credentials, bundles and receipts can be checked.
//!
//! These return the trust layer's own error, whose message ends with its reason code.

use casebridge_core::Store;
use casebridge_trust::{profile, AgencyPublic, AgencyPublicFile, Result, RevocationList};

/// Pins the agency of `file` (or confirms the pin; another key under a pinned agency id is
/// refused) and keeps its revocation list unless a newer one is held. Returns the agency and
/// the list held now: the file's, or a newer one held before.
pub fn pin(store: &mut Store, file: &AgencyPublicFile) -> Result<(AgencyPublic, RevocationList)> {
    let (public, _) = profile::pin_agency(store, file)?;
    let held = profile::held_revocation(store, &public)?.map(|(l, _)| l);
    let list = match held {
        Some(l) => l,
        None => file.verify()?.1,
    };
    Ok((public, list))
}
