//! This profile's credentials from agencies: installing one an agency issued, listing those
//! held with their standing now, and the one check that a credential may be used to send
//! (sync, submissions and bundle exports alike).
//!
//! These return the trust layer's own error, whose message ends with its reason code.

use casebridge_core::Store;
use casebridge_core::Table;
use casebridge_trust::{
    now, profile, AgencyPublic, AgencyPublicFile, Credential, CredentialStatus, NameDisclosure, Result, SignedDoc, TrustError,
};
use serde::Serialize;

/// A credential this profile holds, with the name of the agency that issued it and its
/// standing now (`valid`, `revoked`, `not yet valid` or `expired`).
#[derive(Clone, Debug, Serialize)]
pub struct Held {
    /// The issuing agency's name.
    pub agency_name: String,
    /// The credential.
    #[serde(flatten)]
    pub credential: Credential,
    /// The name the credential commits to: from the disclosure the agency gave with it when
    /// held, else this profile's own name.
    pub name: String,
    /// Its standing now, per the revocation list held.
    pub status: CredentialStatus,
}

/// A request for a credential, signed with this profile's key, to give to an agency.
pub fn request(store: &Store) -> SignedDoc {
    profile::request_credential(store)
}

/// The standing of `cred` from `agency` now, per the revocation list this profile holds.
fn standing(store: &Store, agency: &AgencyPublic, cred: &Credential) -> Result<CredentialStatus> {
    let list = profile::held_revocation(store, agency)?.map(|(l, _)| l);
    Ok(cred.status(list.as_ref(), now()))
}

/// Installs a credential an agency issued to this profile, pinning the agency from `public`
/// first when given (needed unless it is pinned already).
pub fn install(store: &mut Store, doc: &SignedDoc, public: Option<&AgencyPublicFile>) -> Result<Held> {
    install_named(store, doc, public, None)
}

/// [`install`] with the name disclosure the agency gave with the credential (an endpoint's
/// enrolment answer), which must open the credential's name commitment.
pub fn install_named(store: &mut Store, doc: &SignedDoc, public: Option<&AgencyPublicFile>, name: Option<&NameDisclosure>) -> Result<Held> {
    let credential = profile::install_credential_named(store, doc, public, name)?;
    let (agency_name, status) = match profile::pinned(store, credential.agency_id)? {
        Some(agency) => (agency.name.clone(), standing(store, &agency, &credential)?),
        None => (String::new(), credential.status(None, now())),
    };
    let name = own_name(store, &credential);
    Ok(Held { agency_name, credential, name, status })
}

/// The name `credential` (this profile's own) commits to: the held disclosure's, else the
/// profile's own name.
fn own_name(store: &Store, credential: &Credential) -> String {
    store
        .trust_document(Table::Credentials, credential.agency_id)
        .ok()
        .flatten()
        .and_then(|rec| profile::held_name(&rec, credential))
        .map_or_else(|| store.whoami().name.clone(), |d| d.name)
}

/// The credentials this profile holds, one per pinned agency that issued one.
pub fn held(store: &Store) -> Result<Vec<Held>> {
    let mut out = Vec::new();
    for agency in profile::pinned_all(store)? {
        if let Some((credential, _)) = profile::credential(store, &agency)? {
            let status = standing(store, &agency, &credential)?;
            let name = own_name(store, &credential);
            out.push(Held { agency_name: agency.name, credential, name, status });
        }
    }
    Ok(out)
}

/// Why this profile's credential from an agency cannot be used to send now.
#[derive(Debug)]
pub enum Unusable {
    /// The profile's trust documents could not be read.
    Trust(TrustError),
    /// No credential from the agency is installed.
    Missing,
    /// The credential is `revoked`, `expired` or `not yet valid` (its `status`).
    NotValid {
        /// Its standing now.
        status: CredentialStatus,
        /// The credential.
        credential: Box<Credential>,
        /// The version of the revocation list held (0: none).
        list_version: u64,
    },
}

impl From<TrustError> for Unusable {
    fn from(e: TrustError) -> Unusable {
        Unusable::Trust(e)
    }
}

/// This profile's credential from `agency` and its signed document, when it may be used to
/// send now; else why not.
pub fn usable(store: &Store, agency: &AgencyPublic) -> std::result::Result<(Credential, SignedDoc), Unusable> {
    let Some((credential, doc)) = profile::credential(store, agency)? else {
        return Err(Unusable::Missing);
    };
    let list = profile::held_revocation(store, agency)?.map(|(l, _)| l);
    match credential.status(list.as_ref(), now()) {
        CredentialStatus::Valid => Ok((credential, doc)),
        status => Err(Unusable::NotValid { status, credential: Box::new(credential), list_version: list.map_or(0, |l| l.version) }),
    }
}
