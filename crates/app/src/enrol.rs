//! Enrolment: joining a profile to an agency online with a one-time invite code.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_protocol::{EnrolRequest, InviteCode};
use casebridge_trust::{profile, AgencyPublicFile, SignedDoc};

use crate::error::{AppError, ErrorCode, Result};
use crate::handle::StoreHandle;
use crate::views::Enrolled;

/// Parses an invite code (`cbinv1.…`); the error (`invalid_invite`) says what is wrong with it.
pub fn parse_invite(code: &str) -> Result<InviteCode> {
    InviteCode::decode(code).map_err(|why| AppError::new(ErrorCode::InvalidInvite, why))
}

/// Enrols the profile in `store` with an invite `code`: sends this profile's signed
/// credential request with the invite's secret, checks that the agency answering is the one
/// the code names (root key fingerprint; the TLS certificate is pinned by the connection
/// itself), installs the credential, pins the agency and remembers the endpoint. Nothing is
/// installed unless every check passes.
///
/// An invite made for an existing member (`agency invite --member ID`, a new device or a
/// replacement for a lost key) names that member: the profile must be new (no case work, no
/// credential: checked before the invite is spent, `profile_not_fresh`), its request names the
/// member, and once the agency has answered with a credential for that member and this
/// profile's key, the profile adopts the member id ([`casebridge_core::Store::adopt_member_id`]).
/// Its events then carry that member id, with this profile's own key and device, in a chain of
/// their own; the agency said in the invite whether the member's earlier keys stay valid.
///
/// The store is held only before the request and after the answer, never while waiting on
/// the network.
pub async fn enrol(store: &StoreHandle, code: &str) -> Result<Enrolled> {
    let code = parse_invite(code)?;
    let (member, request) = store.with(|s| {
        let member = match code.member {
            Some(m) if m != s.whoami().member_id => {
                if !s.can_adopt_member_id()? {
                    return Err(not_fresh(m, false));
                }
                m
            }
            _ => s.whoami().member_id,
        };
        Ok((member, profile::request_credential_as(s, member)))
    })?;
    let answer = casebridge_sync::enrol(
        &code.url,
        &code.cert_fp,
        &EnrolRequest { invite_secret: code.secret.clone(), request: B64.encode(request.to_bytes()) },
    )
    .await
    .map_err(|e| {
        let base = AppError::from(e);
        AppError::new(base.code, format!("enrolment at {} failed: {}", code.url, base.message))
    })?;
    let bad =
        |what: &str| AppError::new(ErrorCode::Protocol, format!("the endpoint's answer is not valid ({what}); nothing was installed"));
    let file_bytes = B64.decode(&answer.agency).map_err(|_| bad("agency file"))?;
    let file: AgencyPublicFile = serde_json::from_slice(&file_bytes).map_err(|_| bad("agency file"))?;
    let (public, _) = file.verify()?;
    if public.root_fingerprint() != code.agency_fp {
        return Err(AppError::new(
            ErrorCode::AgencyMismatch,
            format!(
                "the endpoint at {} answered for agency {} whose key fingerprint is not the one in the invite code; nothing was installed",
                code.url, public.name
            ),
        ));
    }
    if answer.member_id != member {
        return Err(bad("it names another member id than the one requested"));
    }
    let cred_doc = SignedDoc::parse(&B64.decode(&answer.credential).map_err(|_| bad("credential"))?)?;
    // The name disclosure opening the credential's name commitment (an older endpoint sends none).
    let name = match &answer.name {
        None => None,
        Some(n) => {
            let json = B64.decode(n).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| bad("name disclosure"))?;
            Some(casebridge_trust::NameDisclosure::from_json(&json).map_err(|_| bad("name disclosure"))?)
        }
    };
    store.with(|s| {
        if member != s.whoami().member_id {
            // Checked again: the profile was not held while the request was on its way.
            if !s.can_adopt_member_id()? {
                return Err(not_fresh(member, true));
            }
            s.adopt_member_id(member)?;
        }
        let cred = profile::install_credential_named(s, &cred_doc, Some(&file), name.as_ref())?;
        s.set_endpoint(public.agency_id, &code.url, &code.cert_fp)?;
        Ok(Enrolled {
            agency_id: public.agency_id,
            agency: public.name.clone(),
            member_id: cred.member_id,
            role: cred.role,
            endpoint: code.url.clone(),
            valid_until: cred.not_after,
        })
    })
}

/// `spent`: the agency already answered (the invite is used; a new one is needed).
fn not_fresh(member: uuid::Uuid, spent: bool) -> AppError {
    let then = if spent {
        "recorded case work while enrolling; nothing was installed: ask the agency for a new invite for this member and use it from a new profile"
    } else {
        "holds case work or a credential of its own; enrol with this invite from a new profile (the invite is still unused)"
    };
    AppError::new(ErrorCode::ProfileNotFresh, format!("this invite makes a new device of member {member}, and this profile {then}"))
}
