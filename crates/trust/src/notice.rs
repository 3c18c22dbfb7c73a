//! Notices: what an agency tells one volunteer, signed with the agency's root key (a signed
//! document of type [`NOTICE`]; the body is a [`casebridge_core::Notice`]). A volunteer learns
//! of a brief addressed to it, its withdrawal, the decisions on its submissions and their
//! custody only this way, so it never reads an investigator's or another volunteer's member
//! id, key or device, nor a brief's audience: the agency is the publisher, and "addressed to
//! you" is the notice's `to`.
//!
//! The volunteer's client verifies each notice against the agency key it pinned at enrolment
//! and that it is addressed to this profile *before* keeping it (as `notice_stored` in its
//! journal, [`crate::profile::store_notices`]).

use casebridge_core::{sha256, EventKind, Notice, NoticeKind, SignedEvent};
use uuid::Uuid;

use crate::agency::AgencyPublic;
use crate::doc::SignedDoc;
use crate::error::{Reason, Result, TrustError};

/// Document type.
pub const NOTICE: &str = "notice";

/// The notice `to` is sent for case event `ev`, recorded by the agency's store, when there is
/// one ([`NoticeKind::of_event`]). Its id is derived from the event and the recipient, so the
/// same event always gives the same notice.
pub fn notice_of(agency_id: Uuid, to: Uuid, ev: &SignedEvent) -> Option<Notice> {
    let kind = NoticeKind::of_event(&ev.body().kind)?;
    let mut input = b"casebridge/v1/notice-id\0".to_vec();
    input.extend_from_slice(&ev.hash());
    input.extend_from_slice(to.as_bytes());
    let digest = sha256(&input);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    Some(Notice { id: uuid::Builder::from_random_bytes(id).into_uuid(), agency_id, to, at: ev.body().at, kind })
}

/// Whether a case event is one a volunteer is told of by notice (never sent as the event).
pub fn is_noticed(kind: &EventKind) -> bool {
    NoticeKind::of_event(kind).is_some()
}

/// Opens a notice: signed by `agency`'s root key (checked before the body is parsed), for
/// that agency, and addressed to `me`.
///
/// Refusals: a notice signed by any other key or naming another agency is
/// [`Reason::NoticeNotFromAgency`]; one addressed to another member is
/// [`Reason::NoticeNotForYou`]; a signature that does not verify is [`Reason::BadSignature`].
pub fn verify_notice(doc: &SignedDoc, agency: &AgencyPublic, me: Uuid) -> Result<Notice> {
    let root = agency.root_key_bytes()?;
    if doc.doc_type == NOTICE && doc.signer()? != root {
        return Err(TrustError::new(
            Reason::NoticeNotFromAgency,
            format!("a notice is not signed by the key of agency {} pinned at enrolment", agency.agency_id),
        ));
    }
    let n: Notice = doc.open(NOTICE, Some(&root))?;
    if n.agency_id != agency.agency_id {
        return Err(TrustError::new(
            Reason::NoticeNotFromAgency,
            format!("a notice names agency {}, not agency {} that signed it", n.agency_id, agency.agency_id),
        ));
    }
    if n.to != me {
        return Err(TrustError::new(
            Reason::NoticeNotForYou,
            format!("notice {} is addressed to another member, not to this profile", n.id),
        ));
    }
    Ok(n)
}
