//! The agency's signed, versioned revocation list. Versions only go up: a holder refuses a
//! list older than the newest it has seen (no rollback), and treats an expired list as stale
//! for privileged decisions (no indefinite freeze by withholding new lists).

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doc::SignedDoc;
use crate::error::{Reason, Result, TrustError};

/// Document type.
pub const REVOCATION_LIST: &str = "revocation-list";
/// How long a list is fresh after it is signed.
pub const LIST_VALIDITY_DAYS: i64 = 30;

/// One revoked member key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// Member id.
    pub member_id: Uuid,
    /// Member public key, hex.
    pub key: String,
    /// When revoked.
    pub revoked_at: DateTime<FixedOffset>,
    /// Why.
    pub reason: Option<String>,
}

/// The list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// Agency.
    pub agency_id: Uuid,
    /// Strictly increasing version.
    pub version: u64,
    /// When signed.
    pub issued_at: DateTime<FixedOffset>,
    /// Stale after.
    pub expires_at: DateTime<FixedOffset>,
    /// Revoked keys.
    pub entries: Vec<Revoked>,
}

impl RevocationList {
    /// Opens a list document signed by `agency_root` for `agency_id`.
    pub fn verify(doc: &SignedDoc, agency_root: &[u8], agency_id: Uuid) -> Result<RevocationList> {
        let l: RevocationList = doc.open(REVOCATION_LIST, Some(agency_root))?;
        if l.agency_id != agency_id {
            return Err(TrustError::new(Reason::UnknownSigner, "the revocation list belongs to another agency"));
        }
        Ok(l)
    }

    /// The entry revoking `key` (hex), if any. An entry revokes one key: revoking a member
    /// lists every key issued to them, and a member re-admitted through an invite made for them
    /// (`agency invite --member`) enrols a new key that no entry names. (`_member` is not
    /// needed: the agency binds a key to one member id.)
    pub fn find(&self, _member: Uuid, key_hex: &str) -> Option<&Revoked> {
        self.entries.iter().find(|r| r.key == key_hex)
    }

    /// Refuses a list older than `highest_seen`.
    pub fn check_not_rolled_back(&self, highest_seen: Option<u64>) -> Result<()> {
        match highest_seen {
            Some(h) if self.version < h => Err(TrustError::new(
                Reason::RevocationRollback,
                format!("revocation list version {} is older than version {h} already seen; refusing to roll back", self.version),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a stale list for a privileged decision.
    pub fn check_fresh(&self, now: DateTime<FixedOffset>) -> Result<()> {
        if now > self.expires_at {
            return Err(TrustError::new(
                Reason::RevocationListExpired,
                format!(
                    "revocation list version {} expired at {}; get a current one from the agency",
                    self.version,
                    self.expires_at.to_rfc3339()
                ),
            ));
        }
        Ok(())
    }
}
