//! What the store's queries return: the public view types.

use super::*;

/// Who this profile is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WhoAmI {
    /// Member id.
    pub member_id: Uuid,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// SHA-256 of the identity public key, hex.
    pub fingerprint: String,
    /// This device's id.
    pub device_id: Uuid,
    /// Identity public key, hex.
    pub public_key: String,
}

/// A new case.
#[derive(Clone, Debug, Default)]
pub struct NewCase {
    /// Title (required, non-empty).
    pub title: String,
    /// Summary.
    pub summary: Option<String>,
    /// Agency reference.
    pub reference: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Category (retention rules are set per category).
    pub category: Option<String>,
}

/// Changes to a case; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct CaseEdit {
    /// New title.
    pub title: Option<String>,
    /// New summary.
    pub summary: Option<String>,
    /// New status.
    pub status: Option<CaseStatus>,
    /// New reference.
    pub reference: Option<String>,
    /// New category.
    pub category: Option<String>,
    /// New tags, replacing all of them (`Some(vec![])` clears them).
    pub tags: Option<Vec<String>>,
}

/// Filters for [`Store::list_cases`].
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Case-insensitive text in title, summary, reference or tags.
    pub search: Option<String>,
}

/// One line of the case list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CaseSummary {
    /// Case id.
    pub id: Uuid,
    /// Agency reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Status.
    pub status: CaseStatus,
    /// Latest change.
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Evidence items.
    pub evidence_count: usize,
    /// This profile's member is on the case's team (issue 16). False on a device whose member
    /// was removed from it (the agency no longer sends the case's news), and on a supervisor's
    /// for cases they are not on (supervisors get every case).
    pub on_team: bool,
}

/// An evidence item as shown to the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EvidenceView {
    /// Evidence id.
    pub id: Uuid,
    /// Case id.
    pub case_id: Uuid,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Media type (sniffed).
    pub media_type: String,
    /// Original file name.
    pub original_name: String,
    /// Capture time: the contributor's claim, else EXIF.
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Place: the contributor's claim, else EXIF GPS.
    pub location: Option<GeoPoint>,
    /// Camera from EXIF.
    pub camera: Option<crate::model::Camera>,
    /// Description.
    pub description: Option<String>,
    /// What the contributor claimed.
    pub claimed: Claimed,
    /// What the content says (EXIF).
    pub extracted: crate::model::Extracted,
    /// Contributor member id.
    pub contributor: Uuid,
    /// Contributor name, when known.
    pub contributor_name: Option<String>,
    /// When it was added.
    pub added_at: DateTime<FixedOffset>,
    /// For a derivative (e.g. a redacted copy): its provenance.
    pub derived_from: Option<projection::ProvenanceRecord>,
    /// Deleted under an agency's retention rule or a withdrawal: its content is destroyed
    /// (absent while the item is held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub deleted: Option<DeletedView>,
}

/// How an item was deleted, as shown instead of its content ("deleted under rule R on DATE").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeletedView {
    /// The retention rule (`withdrawn` for a volunteer's withdrawal).
    pub rule: String,
    /// Why, in words.
    pub reason: Option<String>,
    /// When the agency deleted it.
    pub deleted_at: DateTime<FixedOffset>,
}

/// A contributor's claims about an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Claimed {
    /// Claimed capture time.
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Claimed place.
    pub location: Option<GeoPoint>,
}

/// A note as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NoteView {
    /// Note id.
    pub id: Uuid,
    /// Text.
    pub text: String,
    /// Author member id.
    pub author: Uuid,
    /// Author name.
    pub author_name: Option<String>,
    /// Time.
    pub at: DateTime<FixedOffset>,
    /// The text as first written, when the note was amended since (`text` is the current
    /// text); None for a note never amended.
    pub original_text: Option<String>,
    /// Its amendments (`note_amended`), oldest first: each replaced the text before it.
    pub amendments: Vec<NoteAmendmentView>,
}

/// One amendment of a note, as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NoteAmendmentView {
    /// The text from then on.
    pub text: String,
    /// Why it was corrected.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<FixedOffset>,
}

/// A member of a case's team as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamMemberView {
    /// Member id.
    pub id: Uuid,
    /// Name, when this store knows it.
    pub name: Option<String>,
    /// The case's lead (its opener).
    pub lead: bool,
}

/// A case's legal hold as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HoldView {
    /// Why (the proceedings or order).
    pub reason: String,
    /// The supervisor who placed it.
    pub by: Uuid,
    /// Their name, when this store knows it.
    pub by_name: Option<String>,
    /// When.
    pub at: DateTime<FixedOffset>,
}

/// A case with everything in it, as the store shows it.
pub type CaseDetail = CaseDetailOf<EvidenceView>;

/// A case with everything in it, each evidence item shown as `E`: the store's [`EvidenceView`]
/// ([`CaseDetail`]), or a caller's view of it with more to say (the desktop adds each item's
/// review state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CaseDetailOf<E> {
    /// Case id.
    pub id: Uuid,
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
    /// Created.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Latest change.
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Evidence count.
    pub evidence_count: usize,
    /// Evidence, oldest first.
    pub evidence: Vec<E>,
    /// Notes, oldest first.
    pub notes: Vec<NoteView>,
    /// The case's team, its lead first (issue 16: the agency serves the case only to them and
    /// to supervisors).
    pub team: Vec<TeamMemberView>,
    /// This profile's member is on the team. False on a device whose member was removed: the
    /// agency no longer sends it the case's news.
    pub on_team: bool,
    /// The legal hold on the case, while one is placed (nothing of it may be deleted).
    pub hold: Option<HoldView>,
    /// The case's category (retention rules are set per category), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub category: Option<String>,
}

impl<E> CaseDetailOf<E> {
    /// The same case with its evidence list shown as `f` makes it.
    pub fn map_evidence<F>(self, f: impl FnOnce(Vec<E>) -> Vec<F>) -> CaseDetailOf<F> {
        CaseDetailOf {
            id: self.id,
            reference: self.reference,
            title: self.title,
            summary: self.summary,
            status: self.status,
            tags: self.tags,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            evidence_count: self.evidence_count,
            evidence: f(self.evidence),
            notes: self.notes,
            team: self.team,
            on_team: self.on_team,
            hold: self.hold,
            category: self.category,
        }
    }
}

/// A custody entry as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustodyView {
    /// Time with timezone.
    pub at: DateTime<FixedOffset>,
    /// Action.
    pub action: CustodyAction,
    /// Actor member id.
    pub actor: Uuid,
    /// Actor name, when known.
    pub actor_name: Option<String>,
    /// Device id.
    pub device: Uuid,
    /// Reason.
    pub reason: Option<String>,
    /// Hash of the item at that moment.
    pub sha256: String,
    /// Hash of the signed event that records it.
    pub event_hash: String,
    /// Custody `received` only: what the recipient read from the content it held (left out
    /// of JSON when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<crate::model::Observed>,
}

/// One event in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Journal position.
    pub index: u64,
    /// Author member id.
    pub author: Uuid,
    /// Author name.
    pub author_name: Option<String>,
    /// Author sequence.
    pub seq: u64,
    /// Time.
    pub at: DateTime<FixedOffset>,
    /// Event kind.
    pub kind: String,
    /// One-line summary.
    pub summary: String,
    /// Case it belongs to.
    pub case_id: Option<Uuid>,
    /// Evidence it is about.
    pub evidence_id: Option<Uuid>,
    /// SHA-256 of the signed body.
    pub hash: String,
}

/// Options for adding evidence.
#[derive(Clone, Debug, Default)]
pub struct EvidenceOptions {
    /// Description.
    pub description: Option<String>,
    /// Claimed capture time.
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Claimed place.
    pub location: Option<GeoPoint>,
}

/// What `add_evidence` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedEvidence {
    /// New evidence id.
    pub id: Uuid,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

/// What an export reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    /// Evidence id.
    pub id: Uuid,
    /// Where it went.
    pub path: PathBuf,
    /// SHA-256 re-checked while writing.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// One problem found by `check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Machine code.
    pub code: String,
    /// The affected item (id, journal record, tree and key), never content.
    pub item: String,
    /// What is wrong.
    pub message: String,
}

/// The result of `check`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Journal records read.
    pub events: u64,
    /// Authors seen.
    pub authors: usize,
    /// Index records checked.
    pub index_records: usize,
    /// Cases.
    pub cases: usize,
    /// Evidence items.
    pub evidence: usize,
    /// Notes.
    pub notes: usize,
    /// Objects whose content was re-hashed.
    pub objects_checked: usize,
    /// Bytes re-hashed.
    pub bytes_checked: u64,
    /// Object files that no event references (left by an interrupted import; harmless).
    pub orphan_objects: usize,
    /// Items deleted under an agency's tombstone (their content is gone on purpose).
    #[serde(default)]
    pub deleted: usize,
    /// Everything wrong.
    pub problems: Vec<Problem>,
    /// True when nothing is wrong.
    pub ok: bool,
}

/// What `rebuild` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    /// Events replayed.
    pub events: u64,
    /// Cases.
    pub cases: usize,
    /// Evidence items.
    pub evidence: usize,
}
