//! Credentials: an agency's signed statement binding a member's key, id, name, role, scopes
//! and validity period; and the member's signed request for one.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doc::SignedDoc;
use crate::error::{Reason, Result, TrustError};
use crate::revocation::RevocationList;
use casebridge_core::Role;

/// Document type of a credential.
pub const CREDENTIAL: &str = "credential";
/// Document type of a credential request.
pub const CREDENTIAL_REQUEST: &str = "credential-request";

/// What a member asks for: proof that they hold the key (the request is signed by it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CredentialRequest {
    /// Member id.
    pub member_id: Uuid,
    /// Display name.
    pub name: String,
    /// The role the profile was created with.
    pub role: Role,
    /// Member public key, hex.
    pub key: String,
    /// When the request was made.
    pub created_at: DateTime<FixedOffset>,
}

/// A credential's standing at a moment (see [`Credential::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CredentialStatus {
    /// Within its validity and not revoked.
    #[serde(rename = "valid")]
    Valid,
    /// On the agency's revocation list.
    #[serde(rename = "revoked")]
    Revoked,
    /// Before its `not_before`.
    #[serde(rename = "not yet valid")]
    NotYetValid,
    /// After its `not_after`.
    #[serde(rename = "expired")]
    Expired,
}

impl CredentialStatus {
    /// The words shown to people and in JSON: `valid`, `revoked`, `not yet valid`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Valid => "valid",
            CredentialStatus::Revoked => "revoked",
            CredentialStatus::NotYetValid => "not yet valid",
            CredentialStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for CredentialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The agency's statement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// Issuing agency.
    pub agency_id: Uuid,
    /// Serial number.
    pub serial: Uuid,
    /// Member id.
    pub member_id: Uuid,
    /// Display name.
    pub name: String,
    /// Role granted.
    pub role: Role,
    /// Member public key, hex.
    pub key: String,
    /// What the member may do.
    pub scopes: Vec<String>,
    /// Valid from.
    pub not_before: DateTime<FixedOffset>,
    /// Valid until.
    pub not_after: DateTime<FixedOffset>,
    /// When issued.
    pub issued_at: DateTime<FixedOffset>,
}

impl Credential {
    /// The credential's standing at `t` against the agency's revocation list, when one is held.
    pub fn status(&self, list: Option<&RevocationList>, t: DateTime<FixedOffset>) -> CredentialStatus {
        if list.is_some_and(|l| l.find(self.member_id, &self.key).is_some()) {
            CredentialStatus::Revoked
        } else if t < self.not_before {
            CredentialStatus::NotYetValid
        } else if t > self.not_after {
            CredentialStatus::Expired
        } else {
            CredentialStatus::Valid
        }
    }

    /// True when valid at `t`.
    pub fn valid_at(&self, t: DateTime<FixedOffset>) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// Default scopes of a role.
    pub fn scopes_for(role: Role) -> Vec<String> {
        match role {
            Role::Volunteer => vec!["briefs:read".into(), "evidence:submit".into()],
            Role::Investigator => vec!["cases:write".into(), "evidence:review".into(), "briefs:publish".into()],
            Role::Supervisor => vec!["cases:write".into(), "evidence:review".into(), "briefs:publish".into(), "members:admin".into()],
            _ => vec![],
        }
    }

    /// Opens a credential document, checking it was signed by `agency_root`.
    pub fn verify(doc: &SignedDoc, agency_root: &[u8], agency_id: Uuid) -> Result<Credential> {
        let c: Credential = doc.open(CREDENTIAL, Some(agency_root))?;
        if c.agency_id != agency_id {
            return Err(TrustError::new(Reason::UnknownSigner, "the credential was issued by another agency"));
        }
        Ok(c)
    }
}

/// Parses `365d`, `72h`, `30m`, `2w`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let bad = || TrustError::new(Reason::ManifestInvalid, format!("'{s}' is not a duration such as 365d, 72h, 30m or 2w"));
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n <= 0 || n > 100_000 {
        return Err(bad());
    }
    match unit {
        "w" => Ok(Duration::weeks(n)),
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "m" => Ok(Duration::minutes(n)),
        "s" => Ok(Duration::seconds(n)),
        _ => Err(bad()),
    }
}

/// Now, in UTC with an explicit offset.
pub fn now() -> DateTime<FixedOffset> {
    Utc::now().fixed_offset()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("365d").unwrap(), Duration::days(365));
        assert_eq!(parse_duration("72h").unwrap(), Duration::hours(72));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("10y").is_err());
    }
}
