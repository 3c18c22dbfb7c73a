//! The nouns of Casebridge (DESIGN.md §3) as they appear in events and in the projection.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role: the wire vocabulary's one definition (credentials and the endpoint use the
/// same type), re-exported here because signed events and the store name it too.
pub use casebridge_protocol::Role;

impl From<casebridge_protocol::UnknownRole> for crate::Error {
    fn from(e: casebridge_protocol::UnknownRole) -> crate::Error {
        crate::Error::invalid("role", e.to_string())
    }
}

/// A case's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Opened, not yet worked.
    Open,
    /// Being worked.
    Active,
    /// On hold.
    Suspended,
    /// Closed.
    Closed,
}

impl CaseStatus {
    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Active => "active",
            CaseStatus::Suspended => "suspended",
            CaseStatus::Closed => "closed",
        }
    }
}

impl std::str::FromStr for CaseStatus {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "open" => Ok(CaseStatus::Open),
            "active" => Ok(CaseStatus::Active),
            "suspended" => Ok(CaseStatus::Suspended),
            "closed" => Ok(CaseStatus::Closed),
            _ => Err(crate::Error::invalid("status", format!("'{s}' is not one of open, active, suspended, closed"))),
        }
    }
}

/// A point on Earth (WGS 84 degrees).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GeoPoint {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl GeoPoint {
    /// Validates ranges.
    pub fn new(lat: f64, lon: f64) -> crate::Result<Self> {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(crate::Error::invalid("location", format!("latitude {lat} is outside -90..90")));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(crate::Error::invalid("location", format!("longitude {lon} is outside -180..180")));
        }
        Ok(GeoPoint { lat, lon })
    }
}

impl std::str::FromStr for GeoPoint {
    type Err = crate::Error;
    /// Parses `LAT,LON`.
    fn from_str(s: &str) -> crate::Result<Self> {
        let (a, b) = s
            .split_once(',')
            .ok_or_else(|| crate::Error::invalid("location", format!("'{s}' is not LAT,LON (for example 52.52,13.405)")))?;
        let lat: f64 = a.trim().parse().map_err(|_| crate::Error::invalid("location", format!("'{a}' is not a number")))?;
        let lon: f64 = b.trim().parse().map_err(|_| crate::Error::invalid("location", format!("'{b}' is not a number")))?;
        GeoPoint::new(lat, lon)
    }
}

/// A circular area on Earth: where a brief asks volunteers to look.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Area {
    /// Centre latitude, -90..=90.
    pub lat: f64,
    /// Centre longitude, -180..=180.
    pub lon: f64,
    /// Radius in metres, > 0 and at most 1,000 km.
    pub radius_m: f64,
}

impl std::str::FromStr for Area {
    type Err = crate::Error;
    /// Parses `LAT,LON,RADIUS_M`.
    fn from_str(s: &str) -> crate::Result<Self> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [lat, lon, r] = parts.as_slice() else {
            return Err(crate::Error::invalid("area", format!("'{s}' is not LAT,LON,RADIUS_M (for example 52.52,13.405,500)")));
        };
        let p: GeoPoint = format!("{lat},{lon}").parse().map_err(|e: crate::Error| crate::Error::invalid("area", e.to_string()))?;
        let radius_m: f64 = r.parse().map_err(|_| crate::Error::invalid("area", format!("radius '{r}' is not a number of metres")))?;
        Area::new(p.lat, p.lon, radius_m)
    }
}

impl Area {
    /// Validates ranges: the centre as [`GeoPoint::new`], the radius > 0 and at most 1,000 km.
    pub fn new(lat: f64, lon: f64, radius_m: f64) -> crate::Result<Self> {
        let p = GeoPoint::new(lat, lon).map_err(|e| crate::Error::invalid("area", e.to_string()))?;
        if !(radius_m.is_finite() && radius_m > 0.0 && radius_m <= 1_000_000.0) {
            return Err(crate::Error::invalid("area", format!("radius {radius_m} m is outside 0..1,000,000 m")));
        }
        Ok(Area { lat: p.lat, lon: p.lon, radius_m })
    }
}

/// An investigator's decision on submitted evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// The evidence joins the case.
    Accepted,
    /// The evidence is not used.
    Rejected,
    /// The volunteer is asked for more information.
    InfoRequested,
}

impl ReviewDecision {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Accepted => "accepted",
            ReviewDecision::Rejected => "rejected",
            ReviewDecision::InfoRequested => "info_requested",
        }
    }
}

/// Where the review of submitted evidence stands: an item's state, or a submission's (the
/// state its items share, [`ReviewState::Mixed`] when they differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Not decided yet.
    Pending,
    /// The evidence joins the case.
    Accepted,
    /// The evidence is not used.
    Rejected,
    /// The volunteer was asked for more information.
    InfoRequested,
    /// A submission whose items are in different states.
    Mixed,
    /// The agency refused the bundle that carried it, so it never reached the agency (set by
    /// the sender's client, which holds the refusal; the store itself never computes it).
    Refused,
}

impl ReviewState {
    /// Every state, in the order [`ReviewState::as_str`] names them.
    pub const ALL: [ReviewState; 6] = [
        ReviewState::Pending,
        ReviewState::Accepted,
        ReviewState::Rejected,
        ReviewState::InfoRequested,
        ReviewState::Mixed,
        ReviewState::Refused,
    ];

    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Pending => "pending",
            ReviewState::Accepted => "accepted",
            ReviewState::Rejected => "rejected",
            ReviewState::InfoRequested => "info_requested",
            ReviewState::Mixed => "mixed",
            ReviewState::Refused => "refused",
        }
    }
}

impl From<ReviewDecision> for ReviewState {
    fn from(d: ReviewDecision) -> ReviewState {
        match d {
            ReviewDecision::Accepted => ReviewState::Accepted,
            ReviewDecision::Rejected => ReviewState::Rejected,
            ReviewDecision::InfoRequested => ReviewState::InfoRequested,
        }
    }
}

impl std::fmt::Display for ReviewState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Camera make and model from EXIF.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Camera {
    /// EXIF Make.
    pub make: Option<String>,
    /// EXIF Model.
    pub model: Option<String>,
}

/// Metadata extracted from the content at import.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Extracted {
    /// EXIF DateTimeOriginal (with OffsetTimeOriginal when present; else read as UTC).
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// EXIF GPS position.
    pub location: Option<GeoPoint>,
    /// EXIF camera.
    pub camera: Option<Camera>,
}

/// What the recipient of an item (the agency endpoint) read from the content it holds when it
/// recorded custody `received`: the media type sniffed from the bytes and, for images, the EXIF
/// metadata. Unlike `evidence_added`'s `media_type` and `extracted`, which the contributor's own
/// software computed (a claim), this is signed by the recipient, who read the bytes itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Observed {
    /// Media type sniffed from the content held.
    pub media_type: String,
    /// EXIF metadata read from the content held (empty for non-images, images without EXIF,
    /// and images larger than [`crate::metadata::OBSERVE_MAX_BYTES`]).
    pub extracted: Extracted,
}

/// A custody action (DESIGN.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustodyAction {
    /// First collected.
    Collected,
    /// Imported into a store from a file.
    Imported,
    /// Submitted to an agency.
    Submitted,
    /// Received by an agency.
    Received,
    /// Viewed.
    Viewed,
    /// Exported to a file.
    Exported,
    /// Transferred to another holder.
    Transferred,
    /// Content re-hashed and found intact.
    Verified,
    /// Accepted by review.
    Accepted,
    /// A redacted derivative was made.
    Redacted,
}

impl CustodyAction {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustodyAction::Collected => "collected",
            CustodyAction::Imported => "imported",
            CustodyAction::Submitted => "submitted",
            CustodyAction::Received => "received",
            CustodyAction::Viewed => "viewed",
            CustodyAction::Exported => "exported",
            CustodyAction::Transferred => "transferred",
            CustodyAction::Verified => "verified",
            CustodyAction::Accepted => "accepted",
            CustodyAction::Redacted => "redacted",
        }
    }
}

/// Reference to a sealed evidence object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
    /// Plaintext size in bytes.
    pub size: u64,
}

/// The kinds of events: the case history that travels in bundles, and this profile's own
/// bookkeeping in [`EventKind::Profile`] ([`ProfileEvent`]), which never does. Payloads carry
/// everything the projection needs. Field names must not
/// repeat those of [`crate::EventBody`] (`v`, `author`, `key`, `seq`, `prev`, `hlc`, `at`,
/// `device`): the payload is flattened into the body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The profile's first event: binds the member id to the identity key.
    ProfileCreated {
        /// Display name.
        name: String,
        /// Role.
        role: Role,
    },
    /// A case was opened.
    CaseCreated {
        /// Case id.
        case_id: Uuid,
        /// Agency reference, e.g. `BER-2026-000123`.
        reference: Option<String>,
        /// Title.
        title: String,
        /// Summary.
        summary: Option<String>,
        /// Tags.
        tags: Vec<String>,
        /// Initial status.
        status: CaseStatus,
        /// The case's category (what retention rules are set by, e.g. `burglary`); omitted
        /// when absent (cases opened before categories existed have none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// Fields of a case changed (only the fields present).
    CaseEdited {
        /// Case id.
        case_id: Uuid,
        /// New title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// New summary.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
        /// New status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<CaseStatus>,
        /// New reference.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// New category.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// New tags, replacing all of them (an empty list clears them). Absent on events
        /// recorded before tags could be edited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tags: Option<Vec<String>>,
    },
    /// A note was added to a case.
    NoteAdded {
        /// Case id.
        case_id: Uuid,
        /// Note id.
        note_id: Uuid,
        /// Text.
        text: String,
    },
    /// A note was corrected: a signed amendment that replaces the note's current text and
    /// keeps the original (and every earlier amendment) in the journal and the note's history.
    /// Only the note's author may amend it (refused at import: `amendment_not_author`).
    NoteAmended {
        /// Case id.
        case_id: Uuid,
        /// The note amended.
        note_id: Uuid,
        /// The note's new text.
        text: String,
        /// Why it was corrected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An evidence item was added to a case.
    EvidenceAdded {
        /// Evidence id.
        evidence_id: Uuid,
        /// Case id.
        case_id: Uuid,
        /// The content.
        object: ObjectRef,
        /// Media type sniffed from the content.
        media_type: String,
        /// The file's name when imported.
        original_name: String,
        /// Capture time claimed by the contributor.
        claimed_captured_at: Option<DateTime<FixedOffset>>,
        /// Capture place claimed by the contributor.
        claimed_location: Option<GeoPoint>,
        /// What the content itself says (EXIF).
        extracted: Extracted,
        /// Description.
        description: Option<String>,
    },
    /// A custody entry for an evidence item. Actor, device and time are the event's.
    CustodyRecorded {
        /// Evidence id.
        evidence_id: Uuid,
        /// What was done.
        action: CustodyAction,
        /// Why.
        reason: Option<String>,
        /// The item's SHA-256 at that moment, hex.
        sha256: String,
        /// Custody `received` only: what the recipient read from the content it holds. Absent
        /// on every other action and on events recorded before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        observed: Option<Observed>,
    },
    /// A derivative of an evidence item was made (e.g. a redacted copy for volunteers or the
    /// public). The derivative is itself added by an `evidence_added` event in the same
    /// append; the original is never modified. This is the signed provenance record.
    EvidenceDerived {
        /// The derivative's evidence id.
        evidence_id: Uuid,
        /// The original's evidence id.
        original_id: Uuid,
        /// The original's SHA-256 at that moment, hex.
        original_sha256: String,
        /// The derivative's SHA-256, hex.
        sha256: String,
        /// What was done, in order (e.g. `strip-metadata`, `blur 10,10,50,50`).
        operations: Vec<String>,
    },
    /// Police staff accessed a case or an item: the access log (who and when are the event's
    /// author and time; LED 2016/680 Art. 25).
    AccessRecorded {
        /// Case.
        case_id: Uuid,
        /// Item, if the access was to one item.
        evidence_id: Option<Uuid>,
        /// What was done (`viewed`, `exported`, `report`, `package`, `redacted`, `listed`,
        /// `bundle_exported`, `bundle_opened`, ...).
        action: String,
        /// Why, as given.
        reason: Option<String>,
        /// A list view: the ids it showed, in order (evidence items, submissions, custody
        /// entries' item, log events' case items; the case ids for the case list). One entry
        /// per view, not per row. Absent when empty and on entries recorded before it existed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        item_ids: Vec<Uuid>,
        /// The entry's place in its author's access chain for this case: chains are per
        /// (author, signing key, case), counted from 1, so a court package of one case can be
        /// checked for a left-out entry without the author's other cases (docs/FORMAT.md,
        /// "Access chains"). Absent on entries recorded before chaining.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_seq: Option<u64>,
        /// SHA-256 (hex) of the body of the same chain's previous entry; 64 zeros for the first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_prev: Option<String>,
    },
    /// A contributor's identity may be shown in court material for a case (otherwise
    /// volunteers appear under a pseudonym).
    DisclosureRecorded {
        /// Case.
        case_id: Uuid,
        /// The contributor.
        member_id: Uuid,
        /// Why (the legal basis).
        reason: String,
    },
    /// A member joined a case's team (need to know: the agency serves a case's events and
    /// content only to its team and to supervisors). The case's opener is on its team from
    /// `case_created` on; a supervisor or the case's lead (its opener) assigns the others.
    TeamAssigned {
        /// Case.
        case_id: Uuid,
        /// The member assigned.
        member_id: Uuid,
    },
    /// A member left a case's team: the agency stops serving them the case's events.
    TeamUnassigned {
        /// Case.
        case_id: Uuid,
        /// The member removed.
        member_id: Uuid,
    },
    /// A supervisor put a case under legal hold: nothing of it may be deleted until the hold
    /// is released.
    HoldPlaced {
        /// Case.
        case_id: Uuid,
        /// Why (the proceedings or order).
        reason: String,
    },
    /// A supervisor released a case's legal hold.
    HoldReleased {
        /// Case.
        case_id: Uuid,
        /// Why.
        reason: String,
    },
    /// An investigator asked volunteers for help on a case: a brief.
    BriefPublished {
        /// Case the brief belongs to.
        case_id: Uuid,
        /// Brief id.
        brief_id: Uuid,
        /// Title.
        title: String,
        /// What is asked, for volunteers.
        text: String,
        /// Where to look.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area: Option<Area>,
        /// Time window start (of what is asked for).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DateTime<FixedOffset>>,
        /// Time window end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<FixedOffset>>,
        /// The volunteers addressed; empty means every volunteer of the agency.
        audience: Vec<Uuid>,
    },
    /// A brief was withdrawn: volunteers no longer see it.
    BriefWithdrawn {
        /// Case.
        case_id: Uuid,
        /// Brief id.
        brief_id: Uuid,
    },
    /// A volunteer submitted evidence in answer to a brief. The items are added by
    /// `evidence_added` events in the same append, just before this one.
    SubmissionMade {
        /// The brief's case.
        case_id: Uuid,
        /// The brief answered.
        brief_id: Uuid,
        /// Submission id.
        submission_id: Uuid,
        /// Evidence ids submitted.
        items: Vec<Uuid>,
        /// The volunteer's description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// An investigator decided on a submission (all its items, or those listed).
    ReviewDecided {
        /// Case.
        case_id: Uuid,
        /// Submission.
        submission_id: Uuid,
        /// Items decided; empty means every item of the submission.
        items: Vec<Uuid>,
        /// The decision.
        decision: ReviewDecision,
        /// Why (shown to the volunteer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A volunteer withdrew one of their pending submissions: the agency deletes its items
    /// (crypto-shredding, with a tombstone each) unless one of them was accepted or the case
    /// is under legal hold. Only the submitter may send it.
    SubmissionWithdrawn {
        /// The submission's case.
        case_id: Uuid,
        /// The submission withdrawn.
        submission_id: Uuid,
        /// Why, as the volunteer gave it (omitted when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// This profile's own bookkeeping (its trust and exchange state), kept apart from case
    /// history: never put in a bundle. Untagged here, so each keeps its own `type` on the
    /// wire (`agency_pinned`, ...) exactly as when these were variants of this enum.
    #[serde(untagged)]
    Profile(ProfileEvent),
}

/// A profile's bookkeeping of its own trust and exchange state: pinned agencies, credentials,
/// revocation lists, endpoints, bundles sent and received, receipts. These events stay in the
/// profile's journal and are never put in a bundle; the case history is the rest of
/// [`EventKind`]. On the wire each is an event like any other (`type` = `agency_pinned`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProfileEvent {
    /// This profile pinned an agency's public identity (a signed document, base64).
    AgencyPinned {
        /// Agency id.
        agency_id: Uuid,
        /// The agency's signed public identity document, base64.
        public: String,
    },
    /// This profile installed a credential issued by an agency (signed envelope, base64).
    CredentialInstalled {
        /// Issuing agency.
        agency_id: Uuid,
        /// Member id the credential names.
        member_id: Uuid,
        /// The credential envelope, base64.
        credential: String,
        /// The name disclosure opening the credential's name commitment (JSON), when the
        /// profile was given it (enrolment through an endpoint).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// This store kept another member's credential (from a bundle it opened), so court
    /// material can show who each author was vetted as.
    MemberCredentialStored {
        /// Issuing agency.
        agency_id: Uuid,
        /// The member the credential names.
        member_id: Uuid,
        /// The credential envelope, base64.
        credential: String,
        /// The key (hex) the credential binds: a member with several devices has one
        /// credential per key, each kept. Absent in events recorded before that. (Not `key`:
        /// the event body around it has a `key` of its own.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member_key: Option<String>,
        /// The name disclosure opening the credential's name commitment (JSON), when the
        /// agency gave it (staff only: the agency's own store and staff feeds).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// This profile stored an agency revocation list (versions only go up).
    RevocationStored {
        /// Agency id.
        agency_id: Uuid,
        /// List version.
        version: u64,
        /// The signed list, base64.
        list: String,
    },
    /// This profile exported a bundle.
    BundleExported {
        /// Bundle id.
        bundle_id: Uuid,
        /// Recipient agency.
        agency_id: Uuid,
        /// The sender's per-agency bundle sequence number.
        bundle_seq: u64,
        /// SHA-256 of the manifest bytes, hex.
        manifest_hash: String,
        /// The case it carried, if any.
        case_id: Option<Uuid>,
        /// Journal records before this index were considered by the export (sync exports the
        /// events from here on next time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upto: Option<u64>,
    },
    /// This store imported a bundle.
    BundleImported {
        /// Bundle id.
        bundle_id: Uuid,
        /// Recipient agency.
        agency_id: Uuid,
        /// Sender member id.
        sender: Uuid,
        /// The key (hex) that signed the bundle: bundle sequences are per key (device).
        /// Absent in events recorded before sequences were per key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_key: Option<String>,
        /// Sender's bundle sequence number.
        bundle_seq: u64,
        /// SHA-256 of the manifest bytes, hex.
        manifest_hash: String,
        /// Events it carried (those already held were skipped).
        events_added: u64,
        /// Blobs it carried.
        blobs: u64,
    },
    /// This profile learned where an agency's endpoint is and which TLS certificate it must
    /// present (at enrolment): the address and the pinned certificate fingerprint.
    EndpointSet {
        /// Agency.
        agency_id: Uuid,
        /// `https://HOST:PORT`.
        url: String,
        /// SHA-256 of the endpoint's certificate (DER), hex.
        cert_sha256: String,
    },
    /// This profile stored a receipt an agency signed for one of its bundles (base64).
    ReceiptStored {
        /// Bundle id.
        bundle_id: Uuid,
        /// The signed receipt, base64.
        receipt: String,
    },
    /// This profile stored a notice its agency signed for it: how a volunteer learns of a
    /// brief addressed to it, its withdrawal and the decisions on its submissions, without
    /// learning who published or decided, or whom else a brief addresses. Verified against
    /// the pinned agency key, and checked to be addressed to this profile, before it is kept.
    NoticeStored {
        /// The notice as the agency signed it, parsed (what the projection applies).
        notice: Notice,
        /// The signed document (type `notice`), base64: the agency's word, kept as proof.
        document: String,
    },
    /// This store applied a tombstone its agency signed: the item's content was destroyed
    /// (its sealed object, which holds the item's key, removed) under a retention rule or a
    /// withdrawal. Verified against the agency's root key, and refused for an unknown item or
    /// an item of a case under legal hold, before it is kept.
    TombstoneStored {
        /// The tombstone as the agency signed it, parsed (what the projection applies).
        tombstone: Tombstone,
        /// The signed document (type `tombstone`), base64: the agency's word, kept as proof.
        document: String,
    },
}

/// An agency's signed statement that an evidence item was deleted (a signed document of type
/// `tombstone`, docs/FORMAT.md): which item, of which case, with which content hash, under
/// which rule and when. It stays in every journal after the content is gone, so the audit
/// trail shows what was removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The tombstone's id.
    pub id: Uuid,
    /// The agency that signed it.
    pub agency_id: Uuid,
    /// The item deleted.
    pub evidence_id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// Its content's SHA-256, hex (as its `evidence_added` named it).
    pub sha256: String,
    /// The retention rule it was deleted under (`withdrawn` for a volunteer's withdrawal).
    pub rule: String,
    /// Why, in words (e.g. `rejected, never accepted, 31 days old`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the agency deleted it.
    pub deleted_at: DateTime<FixedOffset>,
}

/// What an agency tells one volunteer, signed by the agency's root key (a signed document of
/// type `notice`, docs/FORMAT.md): the volunteer's view of a brief and of the decisions on its
/// submissions. It names the agency as the publisher and the volunteer it is addressed to,
/// never an investigator, another volunteer or a brief's audience.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The notice's id: derived by the agency from what it tells and to whom, so the same
    /// notice sent twice is the same record (a re-sent page changes nothing).
    pub id: Uuid,
    /// The agency that signed it (the publisher the volunteer sees).
    pub agency_id: Uuid,
    /// The member it is addressed to (a notice for anyone else is refused).
    pub to: Uuid,
    /// When the agency's store recorded what it tells of.
    pub at: DateTime<FixedOffset>,
    /// What it tells.
    #[serde(flatten)]
    pub kind: NoticeKind,
}

/// What a [`Notice`] tells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoticeKind {
    /// A brief addressed to this volunteer (the fields of `brief_published`, no audience).
    BriefPublished {
        /// The case (submissions name it).
        case_id: Uuid,
        /// Brief id (submissions name it).
        brief_id: Uuid,
        /// Title.
        title: String,
        /// What is asked.
        text: String,
        /// Where to look.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area: Option<Area>,
        /// Time window start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DateTime<FixedOffset>>,
        /// Time window end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<FixedOffset>>,
    },
    /// The brief was withdrawn.
    BriefWithdrawn {
        /// Case.
        case_id: Uuid,
        /// Brief id.
        brief_id: Uuid,
    },
    /// A decision on one of this volunteer's submissions (the fields of `review_decided`).
    ReviewDecided {
        /// Case.
        case_id: Uuid,
        /// The submission.
        submission_id: Uuid,
        /// Items decided; empty means every item of the submission.
        items: Vec<Uuid>,
        /// The decision.
        decision: ReviewDecision,
        /// Why (shown to the volunteer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A custody entry for one of this volunteer's items (received by the agency, accepted),
    /// recorded by the agency or an investigator; the volunteer sees the agency as its actor.
    CustodyRecorded {
        /// Evidence id.
        evidence_id: Uuid,
        /// What was done.
        action: CustodyAction,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The item's SHA-256 at that moment, hex.
        sha256: String,
        /// Custody `received` only: what the agency read from the content it holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        observed: Option<Observed>,
    },
}

impl NoticeKind {
    /// Short machine name (`brief_published`, ...): the notice's `type`.
    pub fn name(&self) -> &'static str {
        match self {
            NoticeKind::BriefPublished { .. } => "brief_published",
            NoticeKind::BriefWithdrawn { .. } => "brief_withdrawn",
            NoticeKind::ReviewDecided { .. } => "review_decided",
            NoticeKind::CustodyRecorded { .. } => "custody_recorded",
        }
    }

    /// The notice a volunteer is sent for a case event, when there is one: a brief's
    /// publication (without its audience), its withdrawal, a review decision (without the
    /// reviewer), a custody entry (without the actor). Every other event has none.
    pub fn of_event(kind: &EventKind) -> Option<NoticeKind> {
        Some(match kind.clone() {
            EventKind::BriefPublished { case_id, brief_id, title, text, area, from, until, audience: _ } => {
                NoticeKind::BriefPublished { case_id, brief_id, title, text, area, from, until }
            }
            EventKind::BriefWithdrawn { case_id, brief_id } => NoticeKind::BriefWithdrawn { case_id, brief_id },
            EventKind::ReviewDecided { case_id, submission_id, items, decision, reason } => {
                NoticeKind::ReviewDecided { case_id, submission_id, items, decision, reason }
            }
            EventKind::CustodyRecorded { evidence_id, action, reason, sha256, observed } => {
                NoticeKind::CustodyRecorded { evidence_id, action, reason, sha256, observed }
            }
            _ => return None,
        })
    }
}

impl EventKind {
    /// Short machine name (`case_created`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ProfileCreated { .. } => "profile_created",
            EventKind::CaseCreated { .. } => "case_created",
            EventKind::CaseEdited { .. } => "case_edited",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::NoteAmended { .. } => "note_amended",
            EventKind::EvidenceAdded { .. } => "evidence_added",
            EventKind::CustodyRecorded { .. } => "custody_recorded",
            EventKind::EvidenceDerived { .. } => "evidence_derived",
            EventKind::AccessRecorded { .. } => "access_recorded",
            EventKind::DisclosureRecorded { .. } => "disclosure_recorded",
            EventKind::TeamAssigned { .. } => "team_assigned",
            EventKind::TeamUnassigned { .. } => "team_unassigned",
            EventKind::HoldPlaced { .. } => "hold_placed",
            EventKind::HoldReleased { .. } => "hold_released",
            EventKind::BriefPublished { .. } => "brief_published",
            EventKind::BriefWithdrawn { .. } => "brief_withdrawn",
            EventKind::SubmissionMade { .. } => "submission_made",
            EventKind::ReviewDecided { .. } => "review_decided",
            EventKind::SubmissionWithdrawn { .. } => "submission_withdrawn",
            EventKind::Profile(p) => p.name(),
        }
    }

    /// The case this event belongs to, when the event names one directly.
    pub fn case_id(&self) -> Option<Uuid> {
        match self {
            EventKind::CaseCreated { case_id, .. }
            | EventKind::CaseEdited { case_id, .. }
            | EventKind::NoteAdded { case_id, .. }
            | EventKind::NoteAmended { case_id, .. }
            | EventKind::EvidenceAdded { case_id, .. }
            | EventKind::AccessRecorded { case_id, .. }
            | EventKind::DisclosureRecorded { case_id, .. }
            | EventKind::TeamAssigned { case_id, .. }
            | EventKind::TeamUnassigned { case_id, .. }
            | EventKind::HoldPlaced { case_id, .. }
            | EventKind::HoldReleased { case_id, .. }
            | EventKind::BriefPublished { case_id, .. }
            | EventKind::BriefWithdrawn { case_id, .. }
            | EventKind::SubmissionMade { case_id, .. }
            | EventKind::ReviewDecided { case_id, .. }
            | EventKind::SubmissionWithdrawn { case_id, .. } => Some(*case_id),
            _ => None,
        }
    }

    /// The evidence item this event is about, if any.
    pub fn evidence_id(&self) -> Option<Uuid> {
        match self {
            EventKind::EvidenceAdded { evidence_id, .. }
            | EventKind::CustodyRecorded { evidence_id, .. }
            | EventKind::EvidenceDerived { evidence_id, .. } => Some(*evidence_id),
            EventKind::AccessRecorded { evidence_id, .. } => *evidence_id,
            _ => None,
        }
    }

    /// True for this profile's own bookkeeping ([`ProfileEvent`]). Such events stay in the
    /// profile's journal and are never put in a bundle.
    pub fn is_local(&self) -> bool {
        matches!(self, EventKind::Profile(_))
    }

    /// A one-line human summary (shown by `casebridge log`, which runs after unlock).
    pub fn summary(&self) -> String {
        match self {
            EventKind::ProfileCreated { name, role } => format!("profile created for {name} ({})", role.as_str()),
            EventKind::CaseCreated { title, .. } => format!("case created: {title}"),
            EventKind::CaseEdited { title, summary, status, reference, category, tags, .. } => {
                let mut parts = Vec::new();
                if let Some(t) = title {
                    parts.push(format!("title -> {t}"));
                }
                if summary.is_some() {
                    parts.push("summary changed".to_string());
                }
                if let Some(s) = status {
                    parts.push(format!("status -> {}", s.as_str()));
                }
                if let Some(r) = reference {
                    parts.push(format!("reference -> {r}"));
                }
                if let Some(c) = category {
                    parts.push(format!("category -> {c}"));
                }
                if let Some(t) = tags {
                    parts.push(if t.is_empty() { "tags cleared".to_string() } else { format!("tags -> {}", t.join(", ")) });
                }
                format!("case edited: {}", parts.join(", "))
            }
            EventKind::NoteAdded { .. } => "note added".to_string(),
            EventKind::NoteAmended { note_id, .. } => format!("note {note_id} amended"),
            EventKind::EvidenceAdded { original_name, object, .. } => format!("evidence added: {original_name} ({} bytes)", object.size),
            EventKind::CustodyRecorded { action, .. } => format!("custody: {}", action.as_str()),
            EventKind::EvidenceDerived { original_id, operations, .. } => {
                format!("derivative of {original_id} made: {}", operations.join(", "))
            }
            EventKind::AccessRecorded { action, evidence_id, item_ids, .. } => match evidence_id {
                Some(e) => format!("access: {action} evidence {e}"),
                None if !item_ids.is_empty() => format!("access: {action} {} item(s)", item_ids.len()),
                None => format!("access: {action} case"),
            },
            EventKind::DisclosureRecorded { member_id, .. } => format!("identity of {member_id} may be disclosed"),
            EventKind::TeamAssigned { member_id, .. } => format!("{member_id} assigned to the case's team"),
            EventKind::TeamUnassigned { member_id, .. } => format!("{member_id} removed from the case's team"),
            EventKind::HoldPlaced { reason, .. } => format!("legal hold placed: {reason}"),
            EventKind::HoldReleased { reason, .. } => format!("legal hold released: {reason}"),
            EventKind::BriefPublished { title, .. } => format!("brief published: {title}"),
            EventKind::BriefWithdrawn { brief_id, .. } => format!("brief {brief_id} withdrawn"),
            EventKind::SubmissionMade { items, .. } => format!("submission of {} item(s)", items.len()),
            EventKind::ReviewDecided { decision, items, .. } => {
                if items.is_empty() {
                    format!("review: submission {}", decision.as_str())
                } else {
                    format!("review: {} item(s) {}", items.len(), decision.as_str())
                }
            }
            EventKind::SubmissionWithdrawn { submission_id, .. } => format!("submission {submission_id} withdrawn"),
            EventKind::Profile(p) => p.summary(),
        }
    }
}

impl ProfileEvent {
    /// Short machine name (`agency_pinned`, ...): the event's `type` on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ProfileEvent::AgencyPinned { .. } => "agency_pinned",
            ProfileEvent::CredentialInstalled { .. } => "credential_installed",
            ProfileEvent::MemberCredentialStored { .. } => "member_credential_stored",
            ProfileEvent::RevocationStored { .. } => "revocation_stored",
            ProfileEvent::BundleExported { .. } => "bundle_exported",
            ProfileEvent::EndpointSet { .. } => "endpoint_set",
            ProfileEvent::BundleImported { .. } => "bundle_imported",
            ProfileEvent::ReceiptStored { .. } => "receipt_stored",
            ProfileEvent::NoticeStored { .. } => "notice_stored",
            ProfileEvent::TombstoneStored { .. } => "tombstone_stored",
        }
    }

    /// A one-line human summary (shown by `casebridge log`, which runs after unlock).
    pub fn summary(&self) -> String {
        match self {
            ProfileEvent::AgencyPinned { agency_id, .. } => format!("agency {agency_id} pinned"),
            ProfileEvent::CredentialInstalled { agency_id, .. } => format!("credential from agency {agency_id} installed"),
            ProfileEvent::MemberCredentialStored { member_id, .. } => format!("credential of member {member_id} kept"),
            ProfileEvent::RevocationStored { agency_id, version, .. } => format!("revocation list v{version} of agency {agency_id} stored"),
            ProfileEvent::BundleExported { bundle_id, bundle_seq, .. } => format!("bundle {bundle_id} exported (sequence {bundle_seq})"),
            ProfileEvent::EndpointSet { url, .. } => format!("agency endpoint set to {url}"),
            ProfileEvent::BundleImported { bundle_id, events_added, blobs, .. } => {
                format!("bundle {bundle_id} imported ({events_added} events, {blobs} blobs)")
            }
            ProfileEvent::ReceiptStored { bundle_id, .. } => format!("receipt for bundle {bundle_id} stored"),
            ProfileEvent::NoticeStored { notice, .. } => format!("agency notice stored: {}", notice.kind.name().replace('_', " ")),
            ProfileEvent::TombstoneStored { tombstone, .. } => {
                format!("evidence {} deleted under rule {} (agency tombstone)", tombstone.evidence_id, tombstone.rule)
            }
        }
    }
}

impl From<ProfileEvent> for EventKind {
    fn from(p: ProfileEvent) -> EventKind {
        EventKind::Profile(p)
    }
}
