//! The projection: current state derived deterministically from events.
//!
//! [`apply`] turns one verified event into record writes against [`Tables`]. Two
//! implementations exist: the sealed sled index (`index`) and an in-memory map used
//! by `check` (to compare the index against a fresh replay) and by tests. The rules make the
//! result independent of the order in which events arrive: fields are last-writer-wins by
//! `(hlc, author)`, collections are keyed sets, and `updated_at` is a maximum.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::{Hlc, SignedEvent};
use crate::model::{
    Area, CaseStatus, CustodyAction, EventKind, Extracted, GeoPoint, Notice, NoticeKind, ProfileEvent, ReviewDecision, Role,
};

/// The logical tables of the projection. Their names are part of each value's associated data.
/// The keys below are logical keys; the index stores each under a keyed physical key (no id,
/// time or actor in the clear, docs/FORMAT.md "Index").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// member id -> [`MemberRecord`]
    Members,
    /// case id -> [`CaseRecord`]
    Cases,
    /// evidence id -> [`EvidenceRecord`]
    Evidence,
    /// case id || note id -> [`NoteRecord`]
    Notes,
    /// evidence id || hlc || author || seq -> [`CustodyRecord`]
    Custody,
    /// case id || evidence id -> empty
    CaseEvidence,
    /// author || key (hex) || seq (BE) -> [`ChainRecord`]: every event held, for chain and fork
    /// checks. A chain belongs to one signing key: a member with several devices (keys) has one
    /// chain per key.
    Chain,
    /// agency id -> [`TrustRecord`] (pinned public identity)
    Pins,
    /// agency id -> [`TrustRecord`] (installed credential)
    Credentials,
    /// agency id -> [`TrustRecord`] (highest revocation list seen)
    Revocations,
    /// agency id || seq (BE) -> [`BundleRecord`] (bundles this profile exported)
    BundlesOut,
    /// bundle id -> [`BundleRecord`] (bundles this store imported)
    BundlesIn,
    /// sender id || agency id || sender key (hex) -> [`BundleRecord`] (the sender key's bundle to
    /// that agency with the highest sequence number, so the sequence check of an incoming bundle
    /// is one lookup, whatever the store holds). Bundle sequences are per signing key (device);
    /// a record made before keys were recorded has no key part.
    BundlesInBySender,
    /// bundle id -> [`TrustRecord`] (receipts for bundles this profile sent)
    Receipts,
    /// derivative id -> [`ProvenanceRecord`]
    Provenance,
    /// case id || hlc || author || seq -> [`AccessRecord`] (the access log)
    Access,
    /// case id || member id -> [`DisclosureRecord`]
    Disclosures,
    /// member id || key (hex) -> [`TrustRecord`] (other members' credentials, kept from bundles
    /// and feeds; one per key, so every device of a member; the key part is absent in records
    /// made before that). Scanned by member id.
    MemberCredentials,
    /// brief id -> [`BriefRecord`]
    Briefs,
    /// submission id -> [`SubmissionRecord`]
    Submissions,
    /// submission id || hlc || author || seq -> [`ReviewRecord`] (decisions, oldest first)
    Reviews,
    /// evidence id -> submission id (16 bytes): which submission brought an item
    EvidenceSubmission,
    /// agency id -> [`EndpointRecord`]
    Endpoints,
    /// evidence id -> [`TombstoneRecord`]: items deleted under an agency-signed tombstone
    Tombstones,
    /// submission id -> [`WithdrawalRecord`]: submissions their volunteer withdrew
    Withdrawals,
}

impl Table {
    /// Every projection table.
    pub const ALL: [Table; 25] = [
        Table::Members,
        Table::Cases,
        Table::Evidence,
        Table::Notes,
        Table::Custody,
        Table::CaseEvidence,
        Table::Chain,
        Table::Pins,
        Table::Credentials,
        Table::Revocations,
        Table::BundlesOut,
        Table::BundlesIn,
        Table::BundlesInBySender,
        Table::Receipts,
        Table::Provenance,
        Table::Access,
        Table::Disclosures,
        Table::MemberCredentials,
        Table::Briefs,
        Table::Submissions,
        Table::Reviews,
        Table::EvidenceSubmission,
        Table::Endpoints,
        Table::Tombstones,
        Table::Withdrawals,
    ];

    /// The sled tree name (also the associated-data label).
    pub fn name(self) -> &'static str {
        match self {
            Table::Members => "members",
            Table::Cases => "cases",
            Table::Evidence => "evidence",
            Table::Notes => "notes",
            Table::Custody => "custody",
            Table::CaseEvidence => "case_evidence",
            Table::Chain => "chain",
            Table::Pins => "pins",
            Table::Credentials => "credentials",
            Table::Revocations => "revocations",
            Table::BundlesOut => "bundles_out",
            Table::BundlesIn => "bundles_in",
            Table::BundlesInBySender => "bundles_in_by_sender",
            Table::Receipts => "receipts",
            Table::Provenance => "provenance",
            Table::Access => "access",
            Table::Disclosures => "disclosures",
            Table::MemberCredentials => "member_credentials",
            Table::Briefs => "briefs",
            Table::Submissions => "submissions",
            Table::Reviews => "reviews",
            Table::EvidenceSubmission => "evidence_submission",
            Table::Endpoints => "endpoints",
            Table::Tombstones => "tombstones",
            Table::Withdrawals => "withdrawals",
        }
    }
}

/// Storage the projection writes to. Values are plaintext JSON here; sealing is the
/// implementation's business.
pub trait Tables {
    /// Reads a value.
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Writes a value.
    fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) -> Result<()>;
}

/// An in-memory [`Tables`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemTables {
    /// All values.
    pub map: BTreeMap<(Table, Vec<u8>), Vec<u8>>,
}

impl Tables for MemTables {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.get(&(table, key.to_vec())).cloned())
    }
    fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.map.insert((table, key), value);
        Ok(())
    }
}

/// Last-writer-wins stamp: `(hlc, author)`.
pub type Stamp = (Hlc, Uuid);

/// A member known from events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Member id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Public key, hex.
    pub key: String,
}

/// A case as projected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Case id.
    pub id: Uuid,
    /// True once the `case_created` event is known.
    pub created: bool,
    /// Agency reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: Option<String>,
    /// Status.
    pub status: CaseStatus,
    /// Tags.
    pub tags: Vec<String>,
    /// Creator.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Latest change.
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Per-field LWW stamps (`team:<member id>` for each member's place on the team).
    pub stamps: BTreeMap<String, Stamp>,
    /// The case's team, its opener (the lead) first, then in the order members were assigned:
    /// who the agency serves the case to, besides supervisors (`team_assigned`,
    /// `team_unassigned`).
    #[serde(default)]
    pub team: Vec<Uuid>,
    /// The legal hold on the case, while one is placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldRecord>,
    /// The case's category (retention rules are set per category); omitted when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// An item deleted under an agency-signed tombstone, as projected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TombstoneRecord {
    /// The tombstone as signed.
    pub tombstone: crate::model::Tombstone,
    /// The signed document, base64.
    pub document: String,
}

/// A volunteer's withdrawal of a submission, as projected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalRecord {
    /// The submission.
    pub submission_id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// Who withdrew it (the event's author).
    pub by: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
    /// Why, as given.
    pub reason: Option<String>,
}

/// A legal hold as projected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// Why.
    pub reason: String,
    /// The supervisor who placed it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
}

impl CaseRecord {
    /// The case's lead: its opener.
    pub fn lead(&self) -> Option<Uuid> {
        self.created_by
    }

    /// True when `member` is on the case's team.
    pub fn on_team(&self, member: Uuid) -> bool {
        self.team.contains(&member)
    }

    /// True when `member`, with `role`, may change the case's team: a supervisor, or the
    /// case's lead.
    pub fn may_manage_team(&self, member: Uuid, role: Role) -> bool {
        role == Role::Supervisor || self.lead() == Some(member)
    }
}

/// An evidence item as projected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// Evidence id.
    pub id: Uuid,
    /// Case id.
    pub case_id: Uuid,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// Original file name.
    pub original_name: String,
    /// Claimed capture time.
    pub claimed_captured_at: Option<DateTime<FixedOffset>>,
    /// Claimed place.
    pub claimed_location: Option<GeoPoint>,
    /// Extracted metadata.
    pub extracted: Extracted,
    /// Description.
    pub description: Option<String>,
    /// Contributor.
    pub contributor: Uuid,
    /// When it was added.
    pub added_at: DateTime<FixedOffset>,
}

/// A note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteRecord {
    /// Note id.
    pub id: Uuid,
    /// Case id.
    pub case_id: Uuid,
    /// Text.
    pub text: String,
    /// Author.
    pub author: Uuid,
    /// Time.
    pub at: DateTime<FixedOffset>,
    /// False for a placeholder: an amendment arrived before the note itself.
    #[serde(default = "yes")]
    pub added: bool,
    /// The amendments (`note_amended`), in stamp order `(hlc, author)`: each replaces the text
    /// before it. Those whose author is not the note's are kept here but never shown (import
    /// refuses them: `amendment_not_author`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<NoteAmendmentRecord>,
}

fn yes() -> bool {
    true
}

/// One amendment of a note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteAmendmentRecord {
    /// The text from then on.
    pub text: String,
    /// Why.
    pub reason: Option<String>,
    /// Who amended (the note's author for every amendment that counts).
    pub author: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
    /// The event's stamp, the order of amendments.
    pub stamp: Stamp,
}

impl NoteRecord {
    /// The amendments that count: those by the note's author, in order.
    pub fn valid_amendments(&self) -> impl Iterator<Item = &NoteAmendmentRecord> {
        self.amendments.iter().filter(move |a| a.author == self.author)
    }

    /// The note's current text: its last valid amendment's, else its own.
    pub fn current_text(&self) -> &str {
        self.valid_amendments().last().map(|a| a.text.as_str()).unwrap_or(&self.text)
    }
}

/// A custody entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustodyRecord {
    /// Evidence id.
    pub evidence_id: Uuid,
    /// Action.
    pub action: CustodyAction,
    /// Reason.
    pub reason: Option<String>,
    /// Hash at that moment.
    pub sha256: String,
    /// Actor (event author).
    pub actor: Uuid,
    /// Device.
    pub device: Uuid,
    /// Time with timezone.
    pub at: DateTime<FixedOffset>,
    /// Author sequence number of the event.
    pub seq: u64,
    /// SHA-256 of the signed event body, hex.
    pub event_hash: String,
    /// Custody `received` only: what the recipient read from the content it held (absent in
    /// records written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<crate::model::Observed>,
}

/// One event held, by author and sequence number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainRecord {
    /// SHA-256 of the body, hex.
    pub hash: String,
    /// The `prev` the event names, hex.
    pub prev: String,
}

/// A stored trust document (pinned identity, credential, revocation list, receipt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrustRecord {
    /// The document, base64 (its own format says how to verify it).
    pub document: String,
    /// Version (revocation lists), else 0.
    pub version: u64,
    /// Member id the document names (credentials), if any.
    pub member_id: Option<Uuid>,
    /// Credentials only: the name disclosure opening the credential's name commitment, as
    /// held (JSON), when this store was given it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was stored.
    pub at: DateTime<FixedOffset>,
    /// LWW stamp.
    pub stamp: Stamp,
}

/// A bundle sent or received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleRecord {
    /// Bundle id.
    pub bundle_id: Uuid,
    /// Agency.
    pub agency_id: Uuid,
    /// Sender.
    pub sender: Uuid,
    /// Sender's per-agency sequence.
    pub seq: u64,
    /// SHA-256 of the manifest, hex.
    pub manifest_hash: String,
    /// Case carried (exports).
    pub case_id: Option<Uuid>,
    /// Events added (imports).
    pub events_added: u64,
    /// Blobs carried (imports).
    pub blobs: u64,
    /// When.
    pub at: DateTime<FixedOffset>,
    /// Exports: journal records before this index were considered.
    #[serde(default)]
    pub upto: Option<u64>,
    /// Imports: the key (hex) that signed the bundle; its sequence is that key's. `None` in
    /// records made before bundle sequences were per key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_key: Option<String>,
}

/// Where an agency's endpoint is, and its pinned certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// Agency.
    pub agency_id: Uuid,
    /// `https://HOST:PORT`.
    pub url: String,
    /// SHA-256 of the certificate (DER), hex.
    pub cert_sha256: String,
}

/// Provenance of a derivative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "Provenance"))]
pub struct ProvenanceRecord {
    /// Derivative id.
    pub evidence_id: Uuid,
    /// Original id.
    pub original_id: Uuid,
    /// Original SHA-256, hex.
    pub original_sha256: String,
    /// Derivative SHA-256, hex.
    pub sha256: String,
    /// Operations.
    pub operations: Vec<String>,
    /// Who made it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
    /// SHA-256 of the signed event, hex.
    pub event_hash: String,
}

/// One access-log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// Case.
    pub case_id: Uuid,
    /// Item.
    pub evidence_id: Option<Uuid>,
    /// Action.
    pub action: String,
    /// Reason.
    pub reason: Option<String>,
    /// Who.
    pub actor: Uuid,
    /// Device.
    pub device: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
    /// A list view: the ids it showed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub item_ids: Vec<Uuid>,
    /// Place in the (author, key, case) access chain; absent on entries from before chaining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_seq: Option<u64>,
    /// The signing key (hex) of a chained entry: the chain is per author key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// SHA-256 of a chained entry's event body, hex: the next entry's `access_prev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_hash: Option<String>,
    /// A chained entry's `access_prev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_prev: Option<String>,
}

/// A recorded disclosure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisclosureRecord {
    /// Case.
    pub case_id: Uuid,
    /// Contributor.
    pub member_id: Uuid,
    /// Why.
    pub reason: String,
    /// Recorded by.
    pub by: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
}

/// A brief. A withdrawal may arrive before the publication (any arrival order gives the same
/// state): `published` says whether the publication is held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BriefRecord {
    /// Brief id.
    pub id: Uuid,
    /// Case.
    pub case_id: Uuid,
    /// Whether the publication event is held.
    pub published: bool,
    /// Title.
    pub title: String,
    /// Text.
    pub text: String,
    /// Area.
    pub area: Option<Area>,
    /// Window start.
    pub from: Option<DateTime<FixedOffset>>,
    /// Window end.
    pub until: Option<DateTime<FixedOffset>>,
    /// Addressed volunteers (empty: all).
    pub audience: Vec<Uuid>,
    /// Published by.
    pub published_by: Option<Uuid>,
    /// Published at.
    pub published_at: Option<DateTime<FixedOffset>>,
    /// Withdrawn (final).
    pub withdrawn: bool,
    /// Known from the agency's notice (a volunteer's store): the agency is the publisher
    /// (`published_by` is the agency id) and `audience` names only this profile.
    #[serde(default)]
    pub from_agency: bool,
}

impl BriefRecord {
    /// Whether the brief, published, asks `member`: its audience names them or is everyone.
    pub fn is_addressed_to(&self, member: Uuid) -> bool {
        self.published && (self.audience.is_empty() || self.audience.contains(&member))
    }
}

/// A submission (its decisions are in [`Table::Reviews`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmissionRecord {
    /// Submission id.
    pub id: Uuid,
    /// The brief answered.
    pub brief_id: Uuid,
    /// Case.
    pub case_id: Uuid,
    /// The volunteer.
    pub submitter: Uuid,
    /// When.
    pub submitted_at: DateTime<FixedOffset>,
    /// Evidence ids.
    pub items: Vec<Uuid>,
    /// Description.
    pub description: Option<String>,
}

/// One review decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "Decision"))]
pub struct ReviewRecord {
    /// Submission.
    pub submission_id: Uuid,
    /// Items decided (empty: all).
    pub items: Vec<Uuid>,
    /// Decision.
    pub decision: ReviewDecision,
    /// Reason.
    pub reason: Option<String>,
    /// Decided by.
    pub by: Uuid,
    /// When.
    pub at: DateTime<FixedOffset>,
}

/// Key of an entry ordered by (hlc, author, seq) under a 16-byte prefix.
fn ordered_key(prefix: Uuid, hlc: Hlc, author: Uuid, seq: u64) -> Vec<u8> {
    let mut key = prefix.as_bytes().to_vec();
    key.extend_from_slice(&hlc.ms.to_be_bytes());
    key.extend_from_slice(&hlc.c.to_be_bytes());
    key.extend_from_slice(author.as_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn empty_brief(id: Uuid, case_id: Uuid) -> BriefRecord {
    BriefRecord {
        id,
        case_id,
        published: false,
        title: String::new(),
        text: String::new(),
        area: None,
        from: None,
        until: None,
        audience: Vec::new(),
        published_by: None,
        published_at: None,
        withdrawn: false,
        from_agency: false,
    }
}

/// Key of a chain entry: the chain is the signing key's (`key`, hex, as the event body names
/// it), so two devices of one member each have their own chain, while two events of one key
/// with one sequence number are a fork.
pub fn chain_key(author: Uuid, key: &str, seq: u64) -> Vec<u8> {
    let mut k = author.as_bytes().to_vec();
    k.extend_from_slice(key.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Key of [`Table::MemberCredentials`]: member id || key (hex), or the member id alone for a
/// credential recorded before credentials were kept per key.
pub fn member_credential_key(member: Uuid, key: Option<&str>) -> Vec<u8> {
    [member.as_bytes().as_slice(), key.unwrap_or_default().as_bytes()].concat()
}

/// Key of [`Table::BundlesInBySender`]: sender || agency || sender key (hex; absent in records
/// made before sequences were per key). The record there is the bundle with the highest
/// sequence number (ties: the larger bundle id), so the sequence check of an incoming bundle is
/// one lookup, and no sequence number is part of a key (index keys are keyed and carry no
/// order).
pub fn bundles_in_by_sender_key(sender: Uuid, agency: Uuid, sender_key: Option<&str>) -> Vec<u8> {
    [sender.as_bytes().as_slice(), agency.as_bytes(), sender_key.unwrap_or_default().as_bytes()].concat()
}

/// Keeps `rec` in [`Table::BundlesInBySender`] if it is the sender key's latest bundle to its
/// agency (a maximum: the same in any arrival order).
pub fn put_last_bundle_in(t: &mut dyn Tables, rec: &BundleRecord) -> Result<()> {
    let key = bundles_in_by_sender_key(rec.sender, rec.agency_id, rec.sender_key.as_deref());
    let cur: Option<BundleRecord> = get_json(t, Table::BundlesInBySender, &key)?;
    if cur.is_none_or(|c| (rec.seq, rec.bundle_id) > (c.seq, c.bundle_id)) {
        put_json(t, Table::BundlesInBySender, key, rec)?;
    }
    Ok(())
}

fn put_trust(t: &mut dyn Tables, table: Table, key: Vec<u8>, rec: TrustRecord, keep_higher_version: bool) -> Result<()> {
    let cur: Option<TrustRecord> = get_json(t, table, &key)?;
    let replace = match &cur {
        None => true,
        Some(c) if keep_higher_version => (rec.version, rec.stamp) > (c.version, c.stamp),
        Some(c) => rec.stamp > c.stamp,
    };
    if replace {
        put_json(t, table, key, &rec)?;
    }
    Ok(())
}

pub(crate) fn get_json<T: DeserializeOwned>(t: &mut dyn Tables, table: Table, key: &[u8]) -> Result<Option<T>> {
    match t.get(table, key)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v)
            .map(Some)
            .map_err(|_| Error::IndexDamaged { what: format!("a {} record does not parse", table.name()) }),
    }
}

fn put_json<T: Serialize>(t: &mut dyn Tables, table: Table, key: Vec<u8>, value: &T) -> Result<()> {
    t.put(table, key, serde_json::to_vec(value).expect("records serialize"))
}

/// Key of a note.
pub fn note_key(case: Uuid, note: Uuid) -> Vec<u8> {
    [case.as_bytes().as_slice(), note.as_bytes()].concat()
}

/// Key of a case/evidence link.
pub fn case_evidence_key(case: Uuid, ev: Uuid) -> Vec<u8> {
    [case.as_bytes().as_slice(), ev.as_bytes()].concat()
}

fn custody_key(ev: Uuid, hlc: Hlc, author: Uuid, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(52);
    k.extend_from_slice(ev.as_bytes());
    k.extend_from_slice(&hlc.ms.to_be_bytes());
    k.extend_from_slice(&hlc.c.to_be_bytes());
    k.extend_from_slice(author.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn max_time(a: Option<DateTime<FixedOffset>>, b: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    Some(match a {
        Some(a) if a >= b => a,
        _ => b,
    })
}

fn empty_case(id: Uuid) -> CaseRecord {
    CaseRecord {
        id,
        created: false,
        reference: None,
        title: String::new(),
        summary: None,
        status: CaseStatus::Open,
        tags: Vec::new(),
        created_by: None,
        created_at: None,
        updated_at: None,
        stamps: BTreeMap::new(),
        team: Vec::new(),
        hold: None,
        category: None,
    }
}

/// Sets `member`'s place on the case's team, last writer wins per member: `lead` puts them
/// first (the opener), otherwise an assignment appends them.
fn team_lww(c: &mut CaseRecord, member: Uuid, stamp: Stamp, on: bool, lead: bool) {
    let field = format!("team:{member}");
    if c.stamps.get(&field).is_some_and(|cur| stamp <= *cur) {
        return;
    }
    c.stamps.insert(field, stamp);
    c.team.retain(|m| *m != member);
    if on {
        if lead {
            c.team.insert(0, member);
        } else {
            c.team.push(member);
        }
    }
}

/// Sets a field when `stamp` is newer than the field's current stamp.
fn lww<T>(rec_stamps: &mut BTreeMap<String, Stamp>, field: &str, stamp: Stamp, slot: &mut T, value: T) {
    let newer = rec_stamps.get(field).is_none_or(|cur| stamp > *cur);
    if newer {
        rec_stamps.insert(field.to_string(), stamp);
        *slot = value;
    }
}

/// Applies one verified event.
/// The record an event creates, as `(what, table, key)`: records are created once, so an
/// import refuses an event whose record another event already created (see
/// [`existing_creation`]). `None` for events that only edit, link or append.
pub fn creation(kind: &EventKind) -> Option<(String, Table, Vec<u8>)> {
    Some(match kind {
        EventKind::EvidenceAdded { evidence_id, .. } => {
            (format!("evidence {evidence_id}"), Table::Evidence, evidence_id.as_bytes().to_vec())
        }
        EventKind::EvidenceDerived { evidence_id, .. } => {
            (format!("derivation of evidence {evidence_id}"), Table::Provenance, evidence_id.as_bytes().to_vec())
        }
        EventKind::SubmissionMade { submission_id, .. } => {
            (format!("submission {submission_id}"), Table::Submissions, submission_id.as_bytes().to_vec())
        }
        EventKind::BriefPublished { brief_id, .. } => (format!("brief {brief_id}"), Table::Briefs, brief_id.as_bytes().to_vec()),
        EventKind::CaseCreated { case_id, .. } => (format!("case {case_id}"), Table::Cases, case_id.as_bytes().to_vec()),
        EventKind::NoteAdded { case_id, note_id, .. } => (format!("note {note_id}"), Table::Notes, note_key(*case_id, *note_id)),
        _ => return None,
    })
}

/// When `kind` creates a record that already exists in `t` (made by another event), what it
/// is; also when a submission lists an item that already belongs to another submission.
/// Briefs and cases count as created only once their creating event was applied (a
/// withdrawal or an edit that arrived first leaves a placeholder).
pub fn existing_creation(t: &mut dyn Tables, kind: &EventKind) -> Result<Option<String>> {
    if let EventKind::SubmissionMade { items, .. } = kind {
        for item in items {
            if t.get(Table::EvidenceSubmission, item.as_bytes())?.is_some() {
                return Ok(Some(format!("evidence {item} in another submission")));
            }
        }
    }
    let Some((what, table, key)) = creation(kind) else { return Ok(None) };
    let exists = match table {
        Table::Briefs => get_json::<BriefRecord>(t, table, &key)?.is_some_and(|r| r.published),
        Table::Cases => get_json::<CaseRecord>(t, table, &key)?.is_some_and(|r| r.created),
        _ => t.get(table, &key)?.is_some(),
    };
    Ok(exists.then_some(what))
}

/// Applies an agency's notice this profile stored (`notice_stored`): the brief and review rules
/// of the case events they stand for, with the agency as publisher and reviewer and this
/// profile as the only one addressed. Reviews and custody are keyed by the notice's time and
/// id (in place of an event's clock, author and sequence), so a notice stored twice writes the
/// same record.
fn apply_notice(t: &mut dyn Tables, notice: &Notice, ev: &SignedEvent) -> Result<()> {
    let b = ev.body();
    let order = Hlc { ms: u64::try_from(notice.at.timestamp_millis()).unwrap_or(0), c: 0 };
    match &notice.kind {
        NoticeKind::BriefPublished { case_id, brief_id, title, text, area, from, until } => {
            let key = brief_id.as_bytes().to_vec();
            let mut r: BriefRecord = get_json(t, Table::Briefs, &key)?.unwrap_or_else(|| empty_brief(*brief_id, *case_id));
            // Published once: a second notice for the same brief keeps the earliest.
            if !r.published || r.published_at.is_some_and(|p| notice.at < p) {
                r.published = true;
                r.case_id = *case_id;
                r.title = title.clone();
                r.text = text.clone();
                r.area = *area;
                r.from = *from;
                r.until = *until;
                r.audience = vec![notice.to];
                r.published_by = Some(notice.agency_id);
                r.published_at = Some(notice.at);
                r.from_agency = true;
            }
            put_json(t, Table::Briefs, key, &r)?;
        }
        NoticeKind::BriefWithdrawn { case_id, brief_id } => {
            let key = brief_id.as_bytes().to_vec();
            let mut r: BriefRecord = get_json(t, Table::Briefs, &key)?.unwrap_or_else(|| empty_brief(*brief_id, *case_id));
            r.withdrawn = true;
            put_json(t, Table::Briefs, key, &r)?;
        }
        NoticeKind::ReviewDecided { submission_id, items, decision, reason, .. } => {
            let rec = ReviewRecord {
                submission_id: *submission_id,
                items: items.clone(),
                decision: *decision,
                reason: reason.clone(),
                by: notice.agency_id,
                at: notice.at,
            };
            put_json(t, Table::Reviews, ordered_key(*submission_id, order, notice.id, 0), &rec)?;
        }
        NoticeKind::CustodyRecorded { evidence_id, action, reason, sha256, observed } => {
            // The actor the volunteer sees is the agency; the entry's event is the one that
            // stored the agency's signed notice in this journal.
            let rec = CustodyRecord {
                evidence_id: *evidence_id,
                action: *action,
                reason: reason.clone(),
                sha256: sha256.clone(),
                actor: notice.agency_id,
                device: notice.agency_id,
                at: notice.at,
                seq: b.seq,
                event_hash: crate::crypto::to_hex(&ev.hash()),
                observed: observed.clone(),
            };
            put_json(t, Table::Custody, custody_key(*evidence_id, order, notice.id, 0), &rec)?;
        }
    }
    Ok(())
}

/// Applies one verified event to the tables (the rules of the module doc).
pub fn apply(t: &mut dyn Tables, ev: &SignedEvent) -> Result<()> {
    let b = ev.body();
    let stamp: Stamp = (b.hlc, b.author);
    let chain = ChainRecord { hash: crate::crypto::to_hex(&ev.hash()), prev: b.prev.clone() };
    put_json(t, Table::Chain, chain_key(b.author, &b.key, b.seq), &chain)?;
    let trust = |document: &String, version: u64, member_id: Option<Uuid>| TrustRecord {
        document: document.clone(),
        version,
        member_id,
        name: None,
        at: b.at,
        stamp,
    };
    match &b.kind {
        EventKind::EvidenceDerived { evidence_id, original_id, original_sha256, sha256, operations } => {
            let rec = ProvenanceRecord {
                evidence_id: *evidence_id,
                original_id: *original_id,
                original_sha256: original_sha256.clone(),
                sha256: sha256.clone(),
                operations: operations.clone(),
                by: b.author,
                at: b.at,
                event_hash: crate::crypto::to_hex(&ev.hash()),
            };
            put_json(t, Table::Provenance, evidence_id.as_bytes().to_vec(), &rec)?;
        }
        EventKind::AccessRecorded { case_id, evidence_id, action, reason, item_ids, access_seq, access_prev } => {
            let rec = AccessRecord {
                case_id: *case_id,
                evidence_id: *evidence_id,
                action: action.clone(),
                reason: reason.clone(),
                actor: b.author,
                device: b.device,
                at: b.at,
                item_ids: item_ids.clone(),
                access_seq: *access_seq,
                key: access_seq.map(|_| b.key.clone()),
                event_hash: access_seq.map(|_| crate::crypto::to_hex(&ev.hash())),
                access_prev: access_prev.clone(),
            };
            let mut key = case_id.as_bytes().to_vec();
            key.extend_from_slice(&b.hlc.ms.to_be_bytes());
            key.extend_from_slice(&b.hlc.c.to_be_bytes());
            key.extend_from_slice(b.author.as_bytes());
            key.extend_from_slice(&b.seq.to_be_bytes());
            put_json(t, Table::Access, key, &rec)?;
        }
        EventKind::DisclosureRecorded { case_id, member_id, reason } => {
            let rec = DisclosureRecord { case_id: *case_id, member_id: *member_id, reason: reason.clone(), by: b.author, at: b.at };
            put_json(t, Table::Disclosures, [case_id.as_bytes().as_slice(), member_id.as_bytes()].concat(), &rec)?;
        }
        EventKind::Profile(ProfileEvent::AgencyPinned { agency_id, public }) => {
            put_trust(t, Table::Pins, agency_id.as_bytes().to_vec(), trust(public, 0, None), false)?;
        }
        EventKind::Profile(ProfileEvent::CredentialInstalled { agency_id, member_id, credential, name }) => {
            let rec = TrustRecord { name: name.clone(), ..trust(credential, 0, Some(*member_id)) };
            put_trust(t, Table::Credentials, agency_id.as_bytes().to_vec(), rec, false)?;
        }
        EventKind::Profile(ProfileEvent::MemberCredentialStored { member_id, credential, member_key, name, .. }) => {
            let k = member_credential_key(*member_id, member_key.as_deref());
            let rec = TrustRecord { name: name.clone(), ..trust(credential, 0, Some(*member_id)) };
            put_trust(t, Table::MemberCredentials, k, rec, false)?;
        }
        EventKind::Profile(ProfileEvent::RevocationStored { agency_id, version, list }) => {
            put_trust(t, Table::Revocations, agency_id.as_bytes().to_vec(), trust(list, *version, None), true)?;
        }
        EventKind::Profile(ProfileEvent::ReceiptStored { bundle_id, receipt }) => {
            put_trust(t, Table::Receipts, bundle_id.as_bytes().to_vec(), trust(receipt, 0, None), false)?;
        }
        EventKind::Profile(ProfileEvent::NoticeStored { notice, .. }) => apply_notice(t, notice, ev)?,
        EventKind::Profile(ProfileEvent::TombstoneStored { tombstone, document }) => {
            let key = tombstone.evidence_id.as_bytes().to_vec();
            // The first tombstone of an item stays (a second one, never signed by this
            // software, changes nothing).
            if t.get(Table::Tombstones, &key)?.is_none() {
                put_json(t, Table::Tombstones, key.clone(), &TombstoneRecord { tombstone: tombstone.clone(), document: document.clone() })?;
            }
            if let Some(mut rec) = get_json::<EvidenceRecord>(t, Table::Evidence, &key)? {
                shred(&mut rec);
                put_json(t, Table::Evidence, key, &rec)?;
            }
        }
        EventKind::SubmissionWithdrawn { case_id, submission_id, reason } => {
            let key = submission_id.as_bytes().to_vec();
            let rec = WithdrawalRecord { submission_id: *submission_id, case_id: *case_id, by: b.author, at: b.at, reason: reason.clone() };
            // The earliest withdrawal stays, whatever the arrival order.
            let keep = get_json::<WithdrawalRecord>(t, Table::Withdrawals, &key)?.is_some_and(|cur| (cur.at, cur.by) <= (rec.at, rec.by));
            if !keep {
                put_json(t, Table::Withdrawals, key, &rec)?;
            }
        }
        EventKind::Profile(ProfileEvent::EndpointSet { agency_id, url, cert_sha256 }) => {
            let rec = EndpointRecord { agency_id: *agency_id, url: url.clone(), cert_sha256: cert_sha256.clone() };
            put_json(t, Table::Endpoints, agency_id.as_bytes().to_vec(), &rec)?;
        }
        EventKind::Profile(ProfileEvent::BundleExported { bundle_id, agency_id, bundle_seq: seq, manifest_hash, case_id, upto }) => {
            let rec = BundleRecord {
                bundle_id: *bundle_id,
                agency_id: *agency_id,
                sender: b.author,
                seq: *seq,
                manifest_hash: manifest_hash.clone(),
                case_id: *case_id,
                events_added: 0,
                blobs: 0,
                at: b.at,
                upto: *upto,
                sender_key: None,
            };
            let mut key = agency_id.as_bytes().to_vec();
            key.extend_from_slice(&seq.to_be_bytes());
            put_json(t, Table::BundlesOut, key, &rec)?;
        }
        EventKind::Profile(ProfileEvent::BundleImported {
            bundle_id,
            agency_id,
            sender,
            sender_key,
            bundle_seq: seq,
            manifest_hash,
            events_added,
            blobs,
        }) => {
            let rec = BundleRecord {
                bundle_id: *bundle_id,
                agency_id: *agency_id,
                sender: *sender,
                seq: *seq,
                manifest_hash: manifest_hash.clone(),
                case_id: None,
                events_added: *events_added,
                blobs: *blobs,
                at: b.at,
                upto: None,
                sender_key: sender_key.clone(),
            };
            put_last_bundle_in(t, &rec)?;
            put_json(t, Table::BundlesIn, bundle_id.as_bytes().to_vec(), &rec)?;
        }
        EventKind::BriefPublished { case_id, brief_id, title, text, area, from, until, audience } => {
            let key = brief_id.as_bytes().to_vec();
            let mut r: BriefRecord = get_json(t, Table::Briefs, &key)?.unwrap_or_else(|| empty_brief(*brief_id, *case_id));
            // A brief is published once; a second publication with the same id (never made by
            // this software) keeps the earliest.
            if !r.published || r.published_at.is_some_and(|p| b.at < p) {
                r.published = true;
                r.case_id = *case_id;
                r.title = title.clone();
                r.text = text.clone();
                r.area = *area;
                r.from = *from;
                r.until = *until;
                r.audience = audience.clone();
                r.published_by = Some(b.author);
                r.published_at = Some(b.at);
            }
            put_json(t, Table::Briefs, key, &r)?;
        }
        EventKind::BriefWithdrawn { case_id, brief_id } => {
            let key = brief_id.as_bytes().to_vec();
            let mut r: BriefRecord = get_json(t, Table::Briefs, &key)?.unwrap_or_else(|| empty_brief(*brief_id, *case_id));
            r.withdrawn = true;
            put_json(t, Table::Briefs, key, &r)?;
        }
        EventKind::SubmissionMade { case_id, brief_id, submission_id, items, description } => {
            let rec = SubmissionRecord {
                id: *submission_id,
                brief_id: *brief_id,
                case_id: *case_id,
                submitter: b.author,
                submitted_at: b.at,
                items: items.clone(),
                description: description.clone(),
            };
            put_json(t, Table::Submissions, submission_id.as_bytes().to_vec(), &rec)?;
            for item in items {
                t.put(Table::EvidenceSubmission, item.as_bytes().to_vec(), submission_id.as_bytes().to_vec())?;
            }
        }
        EventKind::ReviewDecided { submission_id, items, decision, reason, .. } => {
            let rec = ReviewRecord {
                submission_id: *submission_id,
                items: items.clone(),
                decision: *decision,
                reason: reason.clone(),
                by: b.author,
                at: b.at,
            };
            put_json(t, Table::Reviews, ordered_key(*submission_id, b.hlc, b.author, b.seq), &rec)?;
        }
        EventKind::ProfileCreated { name, role } => {
            let rec = MemberRecord { id: b.author, name: name.clone(), role: *role, key: b.key.clone() };
            put_json(t, Table::Members, b.author.as_bytes().to_vec(), &rec)?;
        }
        EventKind::CaseCreated { case_id, reference, title, summary, tags, status, category } => {
            let key = case_id.as_bytes().to_vec();
            let mut c: CaseRecord = get_json(t, Table::Cases, &key)?.unwrap_or_else(|| empty_case(*case_id));
            c.created = true;
            // The earliest creation wins if a case were ever created twice.
            if c.created_at.is_none_or(|cur| b.at < cur) {
                c.created_at = Some(b.at);
                c.created_by = Some(b.author);
            }
            lww(&mut c.stamps, "title", stamp, &mut c.title, title.clone());
            lww(&mut c.stamps, "summary", stamp, &mut c.summary, summary.clone());
            lww(&mut c.stamps, "reference", stamp, &mut c.reference, reference.clone());
            lww(&mut c.stamps, "status", stamp, &mut c.status, *status);
            lww(&mut c.stamps, "tags", stamp, &mut c.tags, tags.clone());
            if category.is_some() {
                lww(&mut c.stamps, "category", stamp, &mut c.category, category.clone());
            }
            if c.created_by == Some(b.author) {
                team_lww(&mut c, b.author, stamp, true, true);
            }
            c.updated_at = max_time(c.updated_at, b.at);
            put_json(t, Table::Cases, key, &c)?;
        }
        EventKind::HoldPlaced { case_id, reason } | EventKind::HoldReleased { case_id, reason } => {
            let key = case_id.as_bytes().to_vec();
            let mut c: CaseRecord = get_json(t, Table::Cases, &key)?.unwrap_or_else(|| empty_case(*case_id));
            let hold =
                matches!(b.kind, EventKind::HoldPlaced { .. }).then(|| HoldRecord { reason: reason.clone(), by: b.author, at: b.at });
            lww(&mut c.stamps, "hold", stamp, &mut c.hold, hold);
            c.updated_at = max_time(c.updated_at, b.at);
            put_json(t, Table::Cases, key, &c)?;
        }
        EventKind::TeamAssigned { case_id, member_id } | EventKind::TeamUnassigned { case_id, member_id } => {
            let key = case_id.as_bytes().to_vec();
            let mut c: CaseRecord = get_json(t, Table::Cases, &key)?.unwrap_or_else(|| empty_case(*case_id));
            let on = matches!(b.kind, EventKind::TeamAssigned { .. });
            team_lww(&mut c, *member_id, stamp, on, false);
            c.updated_at = max_time(c.updated_at, b.at);
            put_json(t, Table::Cases, key, &c)?;
        }
        EventKind::CaseEdited { case_id, title, summary, status, reference, category, tags } => {
            let key = case_id.as_bytes().to_vec();
            let mut c: CaseRecord = get_json(t, Table::Cases, &key)?.unwrap_or_else(|| empty_case(*case_id));
            if let Some(v) = title {
                lww(&mut c.stamps, "title", stamp, &mut c.title, v.clone());
            }
            if let Some(v) = summary {
                lww(&mut c.stamps, "summary", stamp, &mut c.summary, Some(v.clone()));
            }
            if let Some(v) = status {
                lww(&mut c.stamps, "status", stamp, &mut c.status, *v);
            }
            if let Some(v) = reference {
                lww(&mut c.stamps, "reference", stamp, &mut c.reference, Some(v.clone()));
            }
            if let Some(v) = category {
                lww(&mut c.stamps, "category", stamp, &mut c.category, Some(v.clone()));
            }
            if let Some(v) = tags {
                lww(&mut c.stamps, "tags", stamp, &mut c.tags, v.clone());
            }
            c.updated_at = max_time(c.updated_at, b.at);
            put_json(t, Table::Cases, key, &c)?;
        }
        EventKind::NoteAdded { case_id, note_id, text } => {
            let key = note_key(*case_id, *note_id);
            // Amendments that arrived first (a placeholder) are kept.
            let amendments = get_json::<NoteRecord>(t, Table::Notes, &key)?.map(|r| r.amendments).unwrap_or_default();
            let rec =
                NoteRecord { id: *note_id, case_id: *case_id, text: text.clone(), author: b.author, at: b.at, added: true, amendments };
            put_json(t, Table::Notes, key, &rec)?;
            touch_case(t, *case_id, b.at)?;
        }
        EventKind::NoteAmended { case_id, note_id, text, reason } => {
            let key = note_key(*case_id, *note_id);
            let mut rec = get_json::<NoteRecord>(t, Table::Notes, &key)?.unwrap_or_else(|| NoteRecord {
                id: *note_id,
                case_id: *case_id,
                text: String::new(),
                author: Uuid::nil(),
                at: b.at,
                added: false,
                amendments: Vec::new(),
            });
            let amendment = NoteAmendmentRecord { text: text.clone(), reason: reason.clone(), author: b.author, at: b.at, stamp };
            if !rec.amendments.iter().any(|a| a.stamp == stamp) {
                let at = rec.amendments.partition_point(|a| a.stamp < stamp);
                rec.amendments.insert(at, amendment);
            }
            put_json(t, Table::Notes, key, &rec)?;
            touch_case(t, *case_id, b.at)?;
        }
        EventKind::EvidenceAdded {
            evidence_id,
            case_id,
            object,
            media_type,
            original_name,
            claimed_captured_at,
            claimed_location,
            extracted,
            description,
        } => {
            let mut rec = EvidenceRecord {
                id: *evidence_id,
                case_id: *case_id,
                sha256: object.sha256.clone(),
                size: object.size,
                media_type: media_type.clone(),
                original_name: original_name.clone(),
                claimed_captured_at: *claimed_captured_at,
                claimed_location: *claimed_location,
                extracted: extracted.clone(),
                description: description.clone(),
                contributor: b.author,
                added_at: b.at,
            };
            // A tombstone applied first (a replay in another order) shreds it all the same.
            if t.get(Table::Tombstones, evidence_id.as_bytes())?.is_some() {
                shred(&mut rec);
            }
            put_json(t, Table::Evidence, evidence_id.as_bytes().to_vec(), &rec)?;
            t.put(Table::CaseEvidence, case_evidence_key(*case_id, *evidence_id), Vec::new())?;
            touch_case(t, *case_id, b.at)?;
        }
        EventKind::CustodyRecorded { evidence_id, action, reason, sha256, observed } => {
            let rec = CustodyRecord {
                evidence_id: *evidence_id,
                action: *action,
                reason: reason.clone(),
                sha256: sha256.clone(),
                actor: b.author,
                device: b.device,
                at: b.at,
                seq: b.seq,
                event_hash: crate::crypto::to_hex(&ev.hash()),
                observed: observed.clone(),
            };
            put_json(t, Table::Custody, custody_key(*evidence_id, b.hlc, b.author, b.seq), &rec)?;
        }
    }
    Ok(())
}

/// What the index keeps of a deleted item: its ids, hash, size, contributor and time (what
/// the tombstone and the signed events name anyway), never its name, description, claimed or
/// extracted time, place or camera.
fn shred(rec: &mut EvidenceRecord) {
    rec.original_name = String::new();
    rec.description = None;
    rec.claimed_captured_at = None;
    rec.claimed_location = None;
    rec.extracted = Extracted::default();
}

fn touch_case(t: &mut dyn Tables, case_id: Uuid, at: DateTime<FixedOffset>) -> Result<()> {
    let key = case_id.as_bytes().to_vec();
    let mut c: CaseRecord = get_json(t, Table::Cases, &key)?.unwrap_or_else(|| empty_case(case_id));
    c.updated_at = max_time(c.updated_at, at);
    put_json(t, Table::Cases, key, &c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::to_hex;
    use crate::event::{EventBody, Identity, BODY_VERSION};
    use proptest::prelude::*;

    fn ev(id: &Identity, author: Uuid, seq: u64, ms: u64, kind: EventKind) -> SignedEvent {
        let body = EventBody {
            v: BODY_VERSION,
            author,
            key: to_hex(id.public_key()),
            seq,
            prev: to_hex(&[0u8; 32]),
            hlc: Hlc { ms, c: 0 },
            at: DateTime::parse_from_rfc3339("2026-01-01T10:00:00+01:00").unwrap() + chrono::Duration::milliseconds(ms as i64),
            device: author,
            kind,
        };
        SignedEvent::sign(id, body).unwrap()
    }

    /// Two authors edit the same case concurrently; every arrival order of the same events
    /// must give the same state (DESIGN.md: deterministic projection).
    fn events() -> Vec<SignedEvent> {
        let (a, _) = Identity::generate().unwrap();
        let (b, _) = Identity::generate().unwrap();
        let (ua, ub) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let case = Uuid::from_u128(10);
        let edit = |title: &str, status: Option<CaseStatus>| EventKind::CaseEdited {
            case_id: case,
            title: Some(title.into()),
            summary: None,
            status,
            reference: None,
            category: None,
            tags: None,
        };
        vec![
            ev(
                &a,
                ua,
                1,
                100,
                EventKind::CaseCreated {
                    case_id: case,
                    reference: None,
                    title: "t0".into(),
                    summary: Some("s".into()),
                    tags: vec![],
                    status: CaseStatus::Open,
                    category: None,
                },
            ),
            ev(&a, ua, 2, 200, edit("from a", Some(CaseStatus::Active))),
            ev(&b, ub, 1, 200, edit("from b", None)),
            ev(&b, ub, 2, 150, edit("older b", Some(CaseStatus::Closed))),
            ev(&a, ua, 3, 300, EventKind::NoteAdded { case_id: case, note_id: Uuid::from_u128(20), text: "n".into() }),
            ev(&b, ub, 3, 310, EventKind::NoteAdded { case_id: case, note_id: Uuid::from_u128(21), text: "m".into() }),
        ]
    }

    proptest! {
        #[test]
        fn any_arrival_order_gives_the_same_state(perm in Just((0..6usize).collect::<Vec<_>>()).prop_shuffle()) {
            let evs = events();
            let mut reference = MemTables::default();
            for e in &evs {
                apply(&mut reference, e).unwrap();
            }
            let mut shuffled = MemTables::default();
            for i in perm {
                apply(&mut shuffled, &evs[i]).unwrap();
            }
            prop_assert_eq!(&reference, &shuffled);
            let c: CaseRecord = serde_json::from_slice(&reference.map[&(Table::Cases, Uuid::from_u128(10).as_bytes().to_vec())]).unwrap();
            // Same HLC (200): the larger author id wins the title; status from a (200) beats b's (150).
            prop_assert_eq!(c.title, "from b");
            prop_assert_eq!(c.status, CaseStatus::Active);
        }
    }
}
