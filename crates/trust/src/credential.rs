//! Credentials: an agency's signed statement binding a member's key, id, role, scopes,
//! validity period and a commitment to the member's name; the member's signed request for
//! one; and the name disclosure that opens the commitment.
//!
//! The name is not in the credential, so a credential can travel (court packages, feeds)
//! without telling who the member is. The credential commits to it:
//!
//! ```text
//! name_commitment = hex(SHA-256("casebridge-name-v1" || SALT || NAME))
//! ```
//! with `SALT` 32 random bytes drawn per issuance and `NAME` the name's UTF-8 bytes (the tag and
//! the salt have fixed lengths, so the concatenation is unambiguous). Without the salt the
//! commitment cannot be tested against a list of likely names. A [`NameDisclosure`] (serial,
//! member id, name, salt) opens it: anyone holding the credential can check it
//! ([`NameDisclosure::check`]).

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
/// Domain tag of a name commitment.
pub const NAME_COMMITMENT_TAG: &[u8] = b"casebridge-name-v1";
/// Bytes of a name commitment's salt.
pub const NAME_SALT_LEN: usize = 32;

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
    /// Commitment to the member's name, hex (see the module doc); opened by a
    /// [`NameDisclosure`]. Empty in credentials an older version issued (which held the name
    /// itself; it is ignored).
    #[serde(default)]
    pub name_commitment: String,
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

/// Opens a credential's name commitment: the name and the salt of the credential `serial`.
/// Whoever holds it may show the member's name; it travels only where names are allowed
/// (the member's own profile, the agency's sealed records, staff feeds, and court packages
/// of cases where the member's identity was disclosed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameDisclosure {
    /// The credential's serial.
    pub serial: Uuid,
    /// The member the credential names.
    pub member_id: Uuid,
    /// Display name.
    pub name: String,
    /// The commitment's salt, hex (32 bytes).
    pub salt: String,
}

/// A credential with the name it commits to, where the name is legitimately known (the
/// agency's own record of what it issued, `agency issued`, `GET /admin/issued`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedCredential {
    /// The credential.
    #[serde(flatten)]
    pub credential: Credential,
    /// The name, from a disclosure that opens the credential's commitment; `None` when none
    /// is held (a credential an older version issued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `hex(SHA-256("casebridge-name-v1" || salt || name))`.
pub fn name_commitment(salt: &[u8; NAME_SALT_LEN], name: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(NAME_COMMITMENT_TAG);
    ctx.update(salt);
    ctx.update(name.as_bytes());
    hex::encode(ctx.finish())
}

impl NameDisclosure {
    /// A disclosure with a fresh random salt for `name`, for the credential `serial` of
    /// `member` (the credential then carries [`NameDisclosure::commitment`]).
    pub fn new(serial: Uuid, member_id: Uuid, name: &str) -> Result<NameDisclosure> {
        let mut salt = [0u8; NAME_SALT_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
            .map_err(|_| TrustError::new(Reason::Store, "the system's random number generator failed"))?;
        Ok(NameDisclosure { serial, member_id, name: name.to_string(), salt: hex::encode(salt) })
    }

    /// The commitment this disclosure opens.
    pub fn commitment(&self) -> Result<String> {
        let salt: [u8; NAME_SALT_LEN] = hex::decode(&self.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| TrustError::new(Reason::NameMismatch, "the name disclosure's salt is not 32 bytes of hex"))?;
        Ok(name_commitment(&salt, &self.name))
    }

    /// Checks that this disclosure opens `credential`'s commitment (same serial and member,
    /// and the name and salt hash to its `name_commitment`). Refusals: [`Reason::NameMismatch`].
    pub fn check(&self, credential: &Credential) -> Result<()> {
        if self.serial != credential.serial || self.member_id != credential.member_id {
            return Err(TrustError::new(
                Reason::NameMismatch,
                format!("the name disclosure is for credential {} of member {}, not this one", self.serial, self.member_id),
            ));
        }
        if self.commitment()? != credential.name_commitment {
            return Err(TrustError::new(
                Reason::NameMismatch,
                format!("the name disclosure for credential {} does not match the credential's name commitment", self.serial),
            ));
        }
        Ok(())
    }

    /// The disclosure as stored and sent: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a name disclosure serializes")
    }

    /// Parses [`NameDisclosure::to_json`]'s output (and nothing larger than 64 KiB).
    pub fn from_json(s: &str) -> Result<NameDisclosure> {
        if s.len() > 64 * 1024 {
            return Err(TrustError::new(Reason::NameMismatch, "the name disclosure is larger than 64 KiB"));
        }
        serde_json::from_str(s).map_err(|_| TrustError::new(Reason::NameMismatch, "not a name disclosure"))
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

    fn credential(d: &NameDisclosure) -> Credential {
        Credential {
            agency_id: Uuid::nil(),
            serial: d.serial,
            member_id: d.member_id,
            name_commitment: d.commitment().unwrap(),
            role: Role::Volunteer,
            key: String::new(),
            scopes: vec![],
            not_before: now(),
            not_after: now(),
            issued_at: now(),
        }
    }

    #[test]
    fn a_disclosure_opens_only_its_commitment() {
        let d = NameDisclosure::new(Uuid::now_v7(), Uuid::now_v7(), "Vera Brandt").unwrap();
        let c = credential(&d);
        d.check(&c).unwrap();
        // The construction, byte for byte.
        let mut input = NAME_COMMITMENT_TAG.to_vec();
        input.extend_from_slice(&hex::decode(&d.salt).unwrap());
        input.extend_from_slice(b"Vera Brandt");
        assert_eq!(c.name_commitment, hex::encode(ring::digest::digest(&ring::digest::SHA256, &input)));
        // A changed name, salt, serial or member does not open it.
        let renamed = NameDisclosure { name: "Vera Brand".into(), ..d.clone() };
        assert_eq!(renamed.check(&c).unwrap_err().reason, Reason::NameMismatch);
        let resalted = NameDisclosure { salt: hex::encode([7u8; 32]), ..d.clone() };
        assert_eq!(resalted.check(&c).unwrap_err().reason, Reason::NameMismatch);
        let other = NameDisclosure { serial: Uuid::now_v7(), ..d.clone() };
        assert_eq!(other.check(&c).unwrap_err().reason, Reason::NameMismatch);
        let short = NameDisclosure { salt: "00".into(), ..d.clone() };
        assert_eq!(short.check(&c).unwrap_err().reason, Reason::NameMismatch);
        // Two issuances of one name commit differently (a fresh salt each).
        let again = NameDisclosure::new(d.serial, d.member_id, "Vera Brandt").unwrap();
        assert_ne!(again.commitment().unwrap(), c.name_commitment);
        assert_eq!(NameDisclosure::from_json(&d.to_json()).unwrap(), d);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("365d").unwrap(), Duration::days(365));
        assert_eq!(parse_duration("72h").unwrap(), Duration::hours(72));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("10y").is_err());
    }
}
