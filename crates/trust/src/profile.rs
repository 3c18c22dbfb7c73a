//! The member's side: pinning an agency, requesting and installing a credential, holding
//! revocation lists (no rollback), receipts and the agency's notices, in the profile's own
//! store.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agency::{verify_identity, AgencyPublic, AgencyPublicFile};
use crate::credential::{now, Credential, CredentialRequest, NameDisclosure, CREDENTIAL_REQUEST};
use crate::doc::SignedDoc;
use crate::error::{Reason, Result, TrustError};
use crate::receipt::Receipt;
use crate::revocation::RevocationList;
use casebridge_core::{ProfileEvent, Store, Table};

/// A signed request for a credential, made with the profile's identity key.
pub fn request_credential(store: &Store) -> SignedDoc {
    request_credential_as(store, store.whoami().member_id)
}

/// A signed request for a credential naming `member` (with this profile's key): what a new
/// device of an existing member sends with an invite made for that member, before it adopts
/// the id ([`Store::adopt_member_id`]) once the agency has answered.
pub fn request_credential_as(store: &Store, member: Uuid) -> SignedDoc {
    let me = store.whoami();
    let req = CredentialRequest { member_id: member, name: me.name.clone(), role: me.role, key: me.public_key.clone(), created_at: now() };
    SignedDoc::sign_with(CREDENTIAL_REQUEST, &req, store.public_key(), |m| store.sign_detached(b"", m))
}

fn decode_doc(rec: &casebridge_core::TrustRecord) -> Result<SignedDoc> {
    let bytes = B64.decode(&rec.document).map_err(|_| TrustError::new(Reason::Store, "a stored trust document is malformed"))?;
    SignedDoc::parse(&bytes)
}

/// The pinned agency, if any.
pub fn pinned(store: &Store, agency: Uuid) -> Result<Option<AgencyPublic>> {
    match store.trust_document(Table::Pins, agency)? {
        None => Ok(None),
        Some(rec) => Ok(Some(verify_identity(&decode_doc(&rec)?)?)),
    }
}

/// Every pinned agency.
pub fn pinned_all(store: &Store) -> Result<Vec<AgencyPublic>> {
    store.trust_documents(Table::Pins)?.iter().map(|r| verify_identity(&decode_doc(r)?)).collect()
}

/// Pins an agency from its public file (or confirms the pin), and stores its revocation list
/// unless it is older than one held. Refuses a file whose agency id is pinned with another key.
pub fn pin_agency(store: &mut Store, file: &AgencyPublicFile) -> Result<(AgencyPublic, RevocationList)> {
    let (public, list) = file.verify()?;
    match pinned(store, public.agency_id)? {
        Some(p) if p.root_key != public.root_key || p.sealing_recipient != public.sealing_recipient => {
            return Err(TrustError::new(
                Reason::UnknownSigner,
                format!(
                    "agency {} is pinned with other keys (fingerprint {}); refusing the new keys",
                    public.agency_id,
                    p.root_fingerprint()
                ),
            ))
        }
        Some(_) => {}
        None => {
            store.record_local(ProfileEvent::AgencyPinned { agency_id: public.agency_id, public: B64.encode(file.agency.to_bytes()) })?;
        }
    }
    store_revocation(store, &public, &file.revocation)?;
    Ok((public, list))
}

/// The highest revocation list version held for an agency.
pub fn held_revocation(store: &Store, agency: &AgencyPublic) -> Result<Option<(RevocationList, SignedDoc)>> {
    match store.trust_document(Table::Revocations, agency.agency_id)? {
        None => Ok(None),
        Some(rec) => {
            let doc = decode_doc(&rec)?;
            Ok(Some((RevocationList::verify(&doc, &agency.root_key_bytes()?, agency.agency_id)?, doc)))
        }
    }
}

/// Stores a revocation list if it is newer than the one held; refuses an older one
/// ([`Reason::RevocationRollback`]). Returns the list.
pub fn store_revocation(store: &mut Store, agency: &AgencyPublic, doc: &SignedDoc) -> Result<RevocationList> {
    let list = RevocationList::verify(doc, &agency.root_key_bytes()?, agency.agency_id)?;
    let held = held_revocation(store, agency)?.map(|(l, _)| l.version);
    list.check_not_rolled_back(held)?;
    if held.is_none_or(|h| list.version > h) {
        store.record_local(ProfileEvent::RevocationStored {
            agency_id: agency.agency_id,
            version: list.version,
            list: B64.encode(doc.to_bytes()),
        })?;
    }
    Ok(list)
}

/// Installs a credential: it must be signed by a pinned agency (pin it first, or pass its
/// public file) and name this profile's member id and key.
pub fn install_credential(store: &mut Store, cred_doc: &SignedDoc, agency_file: Option<&AgencyPublicFile>) -> Result<Credential> {
    install_credential_named(store, cred_doc, agency_file, None)
}

/// [`install_credential`] with the name disclosure the agency gave with it (an endpoint's
/// enrolment answer), which must open the credential's name commitment
/// ([`Reason::NameMismatch`]); it is kept with the credential.
pub fn install_credential_named(
    store: &mut Store,
    cred_doc: &SignedDoc,
    agency_file: Option<&AgencyPublicFile>,
    name: Option<&NameDisclosure>,
) -> Result<Credential> {
    if let Some(f) = agency_file {
        pin_agency(store, f)?;
    }
    // Which agency? Read the unverified body only to find the pinned key to verify with.
    let key = cred_doc.signer()?;
    let agency = pinned_all(store)?.into_iter().find(|a| a.root_key_bytes().map(|k| k == key).unwrap_or(false)).ok_or_else(|| {
        TrustError::new(Reason::UnknownSigner, "the credential is not signed by a pinned agency: give the agency's public file with it")
    })?;
    let cred = Credential::verify(cred_doc, &agency.root_key_bytes()?, agency.agency_id)?;
    let me = store.whoami();
    if cred.key != me.public_key || cred.member_id != me.member_id {
        return Err(TrustError::new(Reason::WrongHolder, "the credential was issued to another profile (member id or key differs)"));
    }
    if let Some(d) = name {
        d.check(&cred)?;
    }
    store.record_local(ProfileEvent::CredentialInstalled {
        agency_id: agency.agency_id,
        member_id: cred.member_id,
        credential: B64.encode(cred_doc.to_bytes()),
        name: name.map(NameDisclosure::to_json),
    })?;
    Ok(cred)
}

/// Keeps other members' credentials from `agency` (a staff feed sends those of the authors it
/// serves), each verified against the pinned agency's root first; documents already held are
/// skipped and the rest recorded as `member_credential_stored`. Returns how many were new.
/// A court package built from this store then carries every author's credential. The name
/// disclosures `names` the feed sent with them are kept with the credential each opens (one
/// that opens none is ignored), so staff see who each author is.
pub fn store_member_credentials(store: &mut Store, agency: &AgencyPublic, docs: &[SignedDoc], names: &[NameDisclosure]) -> Result<usize> {
    let root = agency.root_key_bytes()?;
    let mut added = 0;
    for doc in docs {
        let cred = Credential::verify(doc, &root, agency.agency_id)?;
        let encoded = B64.encode(doc.to_bytes());
        let held = store.member_credentials(cred.member_id)?.into_iter().find(|r| r.document == encoded);
        let name = names.iter().find(|d| d.check(&cred).is_ok()).map(NameDisclosure::to_json);
        if held.as_ref().is_some_and(|r| name.is_none() || r.name == name) {
            continue;
        }
        // A name already held for this very credential is kept.
        let name = name.or_else(|| held.and_then(|r| r.name));
        store.record_local(ProfileEvent::MemberCredentialStored {
            agency_id: agency.agency_id,
            member_id: cred.member_id,
            credential: encoded,
            member_key: Some(cred.key.clone()),
            name,
        })?;
        added += 1;
    }
    Ok(added)
}

/// The name disclosure held with a credential record, when it opens that credential's
/// commitment (a stored disclosure that does not is ignored, never shown).
pub fn held_name(rec: &casebridge_core::TrustRecord, credential: &Credential) -> Option<NameDisclosure> {
    let d = NameDisclosure::from_json(rec.name.as_deref()?).ok()?;
    d.check(credential).ok().map(|()| d)
}

/// A credential held, its signed document, and the name disclosure held for it.
pub type HeldCredential = (Credential, SignedDoc, Option<NameDisclosure>);

/// Every credential this store holds (its own, then other members' kept from bundles and
/// feeds) that verifies against `agency`, with the name disclosure held for it, by member id
/// (for a member with several keys, one whose name is held when there is one).
pub fn held_credentials(store: &Store, agency: &AgencyPublic) -> Result<std::collections::BTreeMap<Uuid, HeldCredential>> {
    let root = agency.root_key_bytes()?;
    let mut out = std::collections::BTreeMap::new();
    let mut held = store.trust_documents(Table::MemberCredentials)?;
    held.extend(store.trust_documents(Table::Credentials)?);
    for rec in held {
        let Ok(doc) = decode_doc(&rec) else { continue };
        let Ok(cred) = Credential::verify(&doc, &root, agency.agency_id) else { continue };
        let name = held_name(&rec, &cred);
        // A member with several devices holds a credential per key: the one whose name is
        // held stands for the member (the others would hide the name behind a pseudonym).
        let named: Option<&HeldCredential> = out.get(&cred.member_id);
        if named.is_some_and(|(_, _, n)| n.is_some()) && name.is_none() {
            continue;
        }
        out.insert(cred.member_id, (cred, doc, name));
    }
    Ok(out)
}

/// Verifies the notices an agency sent this profile and keeps them (`notice_stored`), in the
/// order given, in one append. Every notice is checked first ([`crate::verify_notice`]: signed by the pinned
/// `agency`'s key, for that agency, addressed to this profile), so one refused notice stores
/// none of them. Returns how many were kept.
pub fn store_notices(store: &mut Store, agency: &AgencyPublic, docs: &[SignedDoc]) -> Result<usize> {
    let me = store.whoami().member_id;
    let mut notices = Vec::with_capacity(docs.len());
    for doc in docs {
        notices.push((crate::notice::verify_notice(doc, agency, me)?, B64.encode(doc.to_bytes())));
    }
    let kept = notices.len();
    store.record_locals(notices.into_iter().map(|(notice, document)| ProfileEvent::NoticeStored { notice, document }).collect())?;
    Ok(kept)
}

/// The installed credential for an agency.
pub fn credential(store: &Store, agency: &AgencyPublic) -> Result<Option<(Credential, SignedDoc)>> {
    match store.trust_document(Table::Credentials, agency.agency_id)? {
        None => Ok(None),
        Some(rec) => {
            let doc = decode_doc(&rec)?;
            Ok(Some((Credential::verify(&doc, &agency.root_key_bytes()?, agency.agency_id)?, doc)))
        }
    }
}

/// A receipt as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReceiptView {
    /// The receipt.
    #[serde(flatten)]
    pub receipt: Receipt,
    /// Verified against the pinned agency key just now.
    pub verified: bool,
}

/// Verifies a receipt against a pinned agency and that it is for a bundle this profile sent,
/// then keeps it.
pub fn store_receipt(store: &mut Store, doc: &SignedDoc) -> Result<Receipt> {
    let key = doc.signer()?;
    let agency = pinned_all(store)?
        .into_iter()
        .find(|a| a.root_key_bytes().map(|k| k == key).unwrap_or(false))
        .ok_or_else(|| TrustError::new(Reason::UnknownSigner, "the receipt is not signed by a pinned agency"))?;
    let r = Receipt::verify(doc, &agency.root_key_bytes()?, agency.agency_id)?;
    let me = store.whoami().member_id;
    if r.sender != me {
        return Err(TrustError::new(Reason::WrongHolder, "the receipt is for another member's bundle"));
    }
    let sent = store.bundles_out(agency.agency_id)?;
    if !sent.iter().any(|b| b.bundle_id == r.bundle_id && b.manifest_hash == r.manifest_hash && b.seq == r.seq) {
        return Err(TrustError::new(
            Reason::WrongHolder,
            "the receipt is for a bundle this profile has not sent (bundle id, sequence or manifest hash differ)",
        ));
    }
    store.record_local(ProfileEvent::ReceiptStored { bundle_id: r.bundle_id, receipt: B64.encode(doc.to_bytes()) })?;
    Ok(r)
}

/// Every receipt held, each re-verified.
pub fn receipts(store: &Store) -> Result<Vec<ReceiptView>> {
    let agencies = pinned_all(store)?;
    let mut out = Vec::new();
    for rec in store.trust_documents(Table::Receipts)? {
        let doc = decode_doc(&rec)?;
        let key = doc.signer()?;
        let agency = agencies.iter().find(|a| a.root_key_bytes().map(|k| k == key).unwrap_or(false));
        let parsed = agency.map(|a| Receipt::verify(&doc, &a.root_key_bytes().unwrap_or_default(), a.agency_id));
        match parsed {
            Some(Ok(r)) => out.push(ReceiptView { receipt: r, verified: true }),
            _ => {
                // Shown, unverified, so a damaged receipt is visible rather than silently dropped.
                let body: Option<Receipt> = B64.decode(&doc.body).ok().and_then(|b| serde_json::from_slice(&b).ok());
                if let Some(r) = body {
                    out.push(ReceiptView { receipt: r, verified: false });
                }
            }
        }
    }
    out.sort_by_key(|a| a.receipt.received_at);
    Ok(out)
}
