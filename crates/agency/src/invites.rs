//! Invites: one file per invite in `AGENCY/invites/<invite_id>.inv`, holding the SHA-256 of
//! the one-time secret (never the secret), the role and name the credential will carry, the
//! expiry, and once used when and by which member. Sealed to the agency's own sealing key
//! (`casebridge_trust::seal_at_rest`: writing needs no passphrase, reading needs the agency
//! unlocked), written atomically and fsynced. Files of older versions (`.json`, in the clear)
//! are still read and are sealed when next saved.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use casebridge_core::Role;
use casebridge_protocol::{InviteCode, InviteRequest, InviteResponse, OldKeys};
use casebridge_trust::{Agency, AgencyPublic, RecordStore};
use chrono::{DateTime, Duration, FixedOffset};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AgencyError, Result};

/// Folder of the invite files inside the agency directory.
pub const INVITES_DIR: &str = "invites";
/// Longest an invite may stay open.
pub const MAX_INVITE_SECS: u64 = 30 * 24 * 3600;
/// Longest a credential may be issued for.
pub const MAX_VALIDITY_SECS: u64 = 10 * 366 * 24 * 3600;
/// Credential validity when the invite names none.
pub const DEFAULT_VALIDITY_SECS: u64 = 365 * 24 * 3600;

/// One invite, as kept on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// The invite's id (not secret).
    pub invite_id: Uuid,
    /// SHA-256 of the secret (as printed in the code), hex.
    pub secret_sha256: String,
    /// Role the credential will carry.
    pub role: Role,
    /// Name the credential will carry.
    pub name: String,
    /// When made.
    pub created_at: DateTime<FixedOffset>,
    /// Refused after this.
    pub expires_at: DateTime<FixedOffset>,
    /// Validity of the credential issued.
    pub valid_for_secs: u64,
    /// When it was used, if it was.
    pub used_at: Option<DateTime<FixedOffset>>,
    /// Who enrolled with it.
    pub member_id: Option<Uuid>,
    /// An invite for an existing member (a new device or a lost key): only this member id may
    /// enrol with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_member: Option<Uuid>,
    /// With `for_member`: what enrolment does with the member's earlier keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_keys: Option<OldKeys>,
}

/// File extension of a sealed invite.
const SEALED_EXT: &str = "inv";

fn name_of(id: Uuid) -> String {
    format!("{INVITES_DIR}/{id}.{SEALED_EXT}")
}

/// Makes an invite: writes its record and returns the code (which carries the secret; it is
/// shown once and never stored). `url_default` is used when the request names no URL.
pub(crate) fn create(
    dir: &Path,
    records: &dyn RecordStore,
    req: &InviteRequest,
    url_default: &str,
    cert_fp: &str,
    now: DateTime<FixedOffset>,
) -> Result<InviteResponse> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AgencyError::Invalid("the member's name must be 1 to 200 characters".into()));
    }
    if req.expires_in_secs == 0 || req.expires_in_secs > MAX_INVITE_SECS {
        return Err(AgencyError::Invalid(format!("an invite expires within 1 second and {} days", MAX_INVITE_SECS / 86_400)));
    }
    let valid_for_secs = req.valid_for_secs.unwrap_or(DEFAULT_VALIDITY_SECS);
    if valid_for_secs == 0 || valid_for_secs > MAX_VALIDITY_SECS {
        return Err(AgencyError::Invalid("a credential is valid for 1 second to 10 years".into()));
    }
    // Whether the member exists is checked at enrolment (issued credentials are sealed and
    // this may run without the passphrase).
    match (req.member, req.old_keys) {
        (Some(_), Some(_)) | (None, None) => {}
        (Some(_), None) => {
            return Err(AgencyError::Invalid(
                "an invite for an existing member says what happens to their earlier keys: old_keys keep or revoke".into(),
            ))
        }
        (None, Some(_)) => return Err(AgencyError::Invalid("old_keys applies only to an invite for an existing member".into())),
    }
    let url = req.url.as_deref().unwrap_or(url_default).trim().trim_end_matches('/').to_string();
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        return Err(AgencyError::Invalid(format!("the endpoint address {url:?} is not an https:// address")));
    }
    let (public, _) = Agency::read_public(dir)?;
    let mut secret = [0u8; 32];
    SystemRandom::new().fill(&mut secret).map_err(|_| AgencyError::Internal("the system random generator failed".into()))?;
    let secret = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(secret));
    let expires_at = now + Duration::seconds(i64::try_from(req.expires_in_secs).unwrap_or(i64::MAX));
    let record = InviteRecord {
        invite_id: Uuid::now_v7(),
        secret_sha256: casebridge_core::to_hex(&casebridge_core::sha256(secret.as_bytes())),
        role: req.role,
        name: name.to_string(),
        created_at: now,
        expires_at,
        valid_for_secs,
        used_at: None,
        member_id: None,
        for_member: req.member,
        old_keys: req.old_keys,
    };
    save(records, &public, &record)?;
    let code = InviteCode {
        url,
        agency_fp: public.root_fingerprint(),
        cert_fp: cert_fp.to_string(),
        secret: secret.to_string(),
        member: record.for_member,
    };
    Ok(InviteResponse { invite_id: record.invite_id, code: code.encode(), expires_at })
}

/// Writes an invite record durably, sealed to the agency's sealing key.
pub(crate) fn save(records: &dyn RecordStore, public: &AgencyPublic, record: &InviteRecord) -> Result<()> {
    records.write(&name_of(record.invite_id), &seal(public, record)?)?;
    // An older version's file in the clear goes once the sealed one is durable.
    records.remove(&format!("{INVITES_DIR}/{}.json", record.invite_id))?;
    Ok(())
}

fn seal(public: &AgencyPublic, record: &InviteRecord) -> Result<Vec<u8>> {
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec(record).map_err(|e| AgencyError::Internal(format!("invite record: {e}")))?);
    Ok(casebridge_trust::seal_at_rest(&public.recipient()?, &bytes)?)
}

/// Claims `found` for an enrolment: writes `record` (its state once used) unless another
/// enrolment (on another replica) changed the invite meanwhile (`None` then, nothing written).
/// The claim comes before the credential is issued, so two enrolments racing on one invite
/// never both get a credential; [`Claim::release`] gives the invite back when issuing fails.
pub(crate) fn claim(records: &dyn RecordStore, public: &AgencyPublic, found: &Found, record: &InviteRecord) -> Result<Option<Claim>> {
    let sealed = seal(public, record)?;
    let won = if found.name.ends_with(".json") {
        // A record of an older version, in the clear: it is replaced by a sealed one.
        let won = records.create(&name_of(record.invite_id), &sealed)?;
        if won {
            records.remove(&found.name)?;
        }
        won
    } else {
        records.replace(&found.name, &found.raw, &sealed)?
    };
    Ok(won.then(|| Claim { name: name_of(record.invite_id), held: sealed, before: (found.name.clone(), found.raw.clone()) }))
}

/// An invite claimed by one enrolment.
pub(crate) struct Claim {
    name: String,
    held: Vec<u8>,
    before: (String, Vec<u8>),
}

impl Claim {
    /// Gives the invite back as it was (issuing the credential failed).
    pub(crate) fn release(self, records: &dyn RecordStore) -> Result<()> {
        if self.before.0 == self.name {
            records.replace(&self.name, &self.held, &self.before.1)?;
        } else {
            records.write(&self.before.0, &self.before.1)?;
            records.remove(&self.name)?;
        }
        Ok(())
    }
}

/// An invite as found, with the record's name and bytes as stored (for [`save_used`]).
pub(crate) struct Found {
    pub record: InviteRecord,
    name: String,
    raw: Vec<u8>,
}

/// Every invite in `records`, oldest first (records that do not open or parse are skipped
/// and logged).
pub fn list(records: &dyn RecordStore, identity: &age::x25519::Identity) -> Result<Vec<InviteRecord>> {
    let mut out: Vec<InviteRecord> = list_found(records, identity)?.into_iter().map(|f| f.record).collect();
    out.sort_by_key(|r| r.invite_id);
    Ok(out)
}

fn list_found(records: &dyn RecordStore, identity: &age::x25519::Identity) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    for file in records.list(INVITES_DIR)? {
        let name = format!("{INVITES_DIR}/{file}");
        let Some(bytes) = records.read(&name)? else { continue };
        let plain = match file.rsplit_once('.').map(|(_, ext)| ext) {
            Some(SEALED_EXT) => match casebridge_trust::open_at_rest(identity, &bytes) {
                Ok(p) => p,
                Err(_) => {
                    tracing::warn!(record = %name, "skipping an invite record that does not open with the agency key");
                    continue;
                }
            },
            Some("json") => zeroize::Zeroizing::new(bytes.clone()),
            _ => continue,
        };
        match serde_json::from_slice::<InviteRecord>(&plain) {
            Ok(record) => out.push(Found { record, name, raw: bytes }),
            Err(_) => tracing::warn!(record = %name, "skipping an invite record that does not parse"),
        }
    }
    Ok(out)
}

/// The invite whose secret is `secret`. Every record's digest is compared in constant time.
pub(crate) fn find_by_secret(records: &dyn RecordStore, identity: &age::x25519::Identity, secret: &str) -> Result<Option<Found>> {
    let digest = casebridge_core::sha256(secret.trim().as_bytes());
    let mut found = None;
    for f in list_found(records, identity)? {
        let Ok(stored) = hex::decode(&f.record.secret_sha256) else { continue };
        #[allow(deprecated)]
        let equal = ring::constant_time::verify_slices_are_equal(&stored, &digest).is_ok();
        if equal && found.is_none() {
            found = Some(f);
        }
    }
    Ok(found)
}
