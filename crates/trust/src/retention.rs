//! Retention (issue 16): the agency's retention rules, signed with its root key (a signed
//! document of type [`RETENTION_RULES`], `AGENCY/retention.json`), and the tombstones it signs
//! for each item it deletes (type [`TOMBSTONE`]), which every member's device verifies against
//! the agency key it pinned before it destroys its own copy.

use casebridge_core::{sha256, ReviewState, Store, Tombstone};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agency::AgencyPublic;
use crate::doc::SignedDoc;
use crate::error::{Reason, Result, TrustError};

/// Document type of the rules.
pub const RETENTION_RULES: &str = "retention-rules";
/// Document type of a tombstone.
pub const TOMBSTONE: &str = "tombstone";
/// The agency record holding the current rules.
pub const RETENTION_RECORD: &str = "retention.json";
/// The rule every withdrawal is deleted under (built in: no configuration needed).
pub const WITHDRAWN_RULE: &str = "withdrawn";
/// Most rules in one document.
pub const MAX_RULES: usize = 256;
/// Longest retention period accepted (100 years).
pub const MAX_AFTER_DAYS: u32 = 36_500;

/// Which volunteer submissions a rule deletes, by outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionOutcome {
    /// Items rejected and never accepted.
    Rejected,
    /// Items never decided on.
    Pending,
}

impl SubmissionOutcome {
    /// Whether an item in review state `s` has this outcome.
    pub fn matches(self, s: ReviewState) -> bool {
        match self {
            SubmissionOutcome::Rejected => s == ReviewState::Rejected,
            SubmissionOutcome::Pending => s == ReviewState::Pending,
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionOutcome::Rejected => "rejected",
            SubmissionOutcome::Pending => "pending",
        }
    }
}

/// One rule: the items of the cases of one `category`, or the volunteer submissions with one
/// `submissions` outcome (exactly one of the two), are deleted `after_days` after they were
/// added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// The rule's name, shown in reports and tombstones (e.g. `rejected-30d`).
    pub id: String,
    /// A case category (as `case new --category`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A submission outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submissions: Option<SubmissionOutcome>,
    /// Days after an item was added before it is deleted.
    pub after_days: u32,
}

/// The rules as an operator writes them (`agency retention set --file rules.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The rules.
    pub rules: Vec<RetentionRule>,
}

/// The signed rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRules {
    /// Agency.
    pub agency_id: Uuid,
    /// Strictly increasing version (1 for the first rules set).
    pub version: u64,
    /// When signed.
    pub issued_at: DateTime<FixedOffset>,
    /// The rules.
    pub rules: Vec<RetentionRule>,
}

fn invalid(msg: String) -> TrustError {
    TrustError::new(Reason::RetentionRulesInvalid, msg)
}

impl RulesFile {
    /// Parses and checks an operator's rules file: every rule named once (letters, digits,
    /// `-`, `_`; not `withdrawn`, which is built in), exactly one of `category` and
    /// `submissions`, `after_days` at most [`MAX_AFTER_DAYS`], at most [`MAX_RULES`] rules,
    /// no two rules for the same category or outcome. Unknown fields are refused.
    pub fn parse(bytes: &[u8]) -> Result<RulesFile> {
        let f: RulesFile = serde_json::from_slice(bytes).map_err(|e| invalid(format!("the rules file is not valid: {e}")))?;
        f.check()?;
        Ok(f)
    }

    /// The checks of [`RulesFile::parse`].
    pub fn check(&self) -> Result<()> {
        if self.rules.len() > MAX_RULES {
            return Err(invalid(format!("{} rules; at most {MAX_RULES}", self.rules.len())));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut targets = std::collections::BTreeSet::new();
        for r in &self.rules {
            let ok = !r.id.is_empty() && r.id.len() <= 64 && r.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(invalid(format!("rule {:?}: an id is 1 to 64 letters, digits, '-' or '_'", r.id)));
            }
            if r.id == WITHDRAWN_RULE {
                return Err(invalid(format!("rule {:?}: '{WITHDRAWN_RULE}' is built in (withdrawals are always deleted)", r.id)));
            }
            if !names.insert(r.id.clone()) {
                return Err(invalid(format!("rule {:?} is named twice", r.id)));
            }
            let target = match (&r.category, r.submissions) {
                (Some(c), None) if !c.trim().is_empty() => format!("category {}", c.trim().to_lowercase()),
                (None, Some(o)) => format!("submissions {}", o.as_str()),
                _ => return Err(invalid(format!("rule {:?}: give exactly one of category and submissions", r.id))),
            };
            if !targets.insert(target.clone()) {
                return Err(invalid(format!("rule {:?}: a second rule for {target}", r.id)));
            }
            if r.after_days > MAX_AFTER_DAYS {
                return Err(invalid(format!("rule {:?}: after_days {} is more than {MAX_AFTER_DAYS}", r.id, r.after_days)));
            }
        }
        Ok(())
    }
}

impl RetentionRules {
    /// Opens a rules document signed by `agency`'s root key for that agency (checked before the
    /// body is parsed), and checks the rules.
    pub fn verify(doc: &SignedDoc, agency: &AgencyPublic) -> Result<RetentionRules> {
        let root = agency.root_key_bytes()?;
        if doc.doc_type == RETENTION_RULES && doc.signer()? != root {
            return Err(TrustError::new(Reason::UnknownSigner, "the retention rules are not signed by the agency's root key"));
        }
        let r: RetentionRules = doc.open(RETENTION_RULES, Some(&root))?;
        if r.agency_id != agency.agency_id {
            return Err(TrustError::new(Reason::UnknownSigner, "the retention rules belong to another agency"));
        }
        RulesFile { rules: r.rules.clone() }.check()?;
        Ok(r)
    }

    /// The rule for case category `category`, if any.
    pub fn for_category(&self, category: &str) -> Option<&RetentionRule> {
        self.rules.iter().find(|r| r.category.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case(category)))
    }

    /// The rule for submissions with outcome `o`, if any.
    pub fn for_outcome(&self, o: SubmissionOutcome) -> Option<&RetentionRule> {
        self.rules.iter().find(|r| r.submissions == Some(o))
    }
}

/// The id of the tombstone of `evidence`: derived from the item and the agency, so a run
/// repeated after a crash signs the same tombstone.
pub fn tombstone_id(agency_id: Uuid, evidence: Uuid) -> Uuid {
    let mut input = b"casebridge/v1/tombstone-id\0".to_vec();
    input.extend_from_slice(agency_id.as_bytes());
    input.extend_from_slice(evidence.as_bytes());
    let digest = sha256(&input);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(id).into_uuid()
}

/// Opens a tombstone: signed by `agency`'s root key (checked before the body is parsed) and
/// naming that agency. Anything else is [`Reason::TombstoneNotFromAgency`]; a signature that
/// does not verify is [`Reason::BadSignature`].
pub fn verify_tombstone(doc: &SignedDoc, agency: &AgencyPublic) -> Result<Tombstone> {
    let root = agency.root_key_bytes()?;
    if doc.doc_type != TOMBSTONE || doc.signer()? != root {
        return Err(TrustError::new(
            Reason::TombstoneNotFromAgency,
            format!("a tombstone is not signed by the root key of agency {}; nothing was deleted", agency.agency_id),
        ));
    }
    let t: Tombstone = doc.open(TOMBSTONE, Some(&root))?;
    if t.agency_id != agency.agency_id {
        return Err(TrustError::new(
            Reason::TombstoneNotFromAgency,
            format!("a tombstone names agency {}, not agency {} that signed it; nothing was deleted", t.agency_id, agency.agency_id),
        ));
    }
    Ok(t)
}

/// Verifies tombstones against `agency` and applies them to `store`, all or none
/// ([`Store::apply_tombstones`]: unknown item, other content or case, and legal hold are
/// refused with their own codes). Returns the items deleted now.
pub fn store_tombstones(store: &mut Store, agency: &AgencyPublic, docs: &[SignedDoc]) -> Result<Vec<Uuid>> {
    use base64::Engine as _;
    let mut items = Vec::with_capacity(docs.len());
    for doc in docs {
        let t = verify_tombstone(doc, agency)?;
        items.push((t, base64::engine::general_purpose::STANDARD.encode(doc.to_bytes())));
    }
    Ok(store.apply_tombstones(items)?)
}
