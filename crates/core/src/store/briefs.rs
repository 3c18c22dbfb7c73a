//! Briefs, submissions and reviews: the loop between investigators and volunteers. (Who may
//! see what at the agency endpoint is the endpoint's rule: crates/agency/src/access.rs, over
//! [`Store::records`] and [`Store::events_after`].)

use super::*;
use crate::model::{Area, ReviewDecision, ReviewState};
use crate::projection::{BriefRecord, ReviewRecord, SubmissionRecord};

/// A brief to publish.
#[derive(Clone, Debug, Default)]
pub struct NewBrief {
    /// The case it belongs to.
    pub case: Uuid,
    /// Title (required).
    pub title: String,
    /// What is asked (required).
    pub text: String,
    /// Where to look.
    pub area: Option<Area>,
    /// Window start.
    pub from: Option<DateTime<FixedOffset>>,
    /// Window end.
    pub until: Option<DateTime<FixedOffset>>,
    /// Volunteers addressed; empty for every volunteer of the agency.
    pub audience: Vec<Uuid>,
}

/// A brief as members see it. `body` is the brief's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BriefView {
    /// Brief id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// What is asked.
    pub body: String,
    /// Where to look.
    pub area: Option<Area>,
    /// Window start.
    pub from: Option<DateTime<FixedOffset>>,
    /// Window end.
    pub until: Option<DateTime<FixedOffset>>,
    /// The case (an opaque id for volunteers).
    pub case_id: Uuid,
    /// Addressed volunteers (empty: all).
    pub audience: Vec<Uuid>,
    /// Published by (member id).
    pub published_by: Option<Uuid>,
    /// Published at.
    pub published_at: Option<DateTime<FixedOffset>>,
    /// Withdrawn.
    pub withdrawn: bool,
    /// Known from the agency's signed notice (a volunteer's view): the agency published it
    /// (`published_by` is the agency id) and it is addressed to this profile (`audience`
    /// names only this profile); who wrote it and whom else it asks are not told.
    pub from_agency: bool,
}

/// What a volunteer says about a submission.
#[derive(Clone, Debug, Default)]
pub struct SubmitOptions {
    /// Description.
    pub description: Option<String>,
    /// Claimed capture time (applies to every file).
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Claimed capture place.
    pub location: Option<GeoPoint>,
}

/// One submitted item and its review state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SubmissionItem {
    /// Evidence id.
    pub evidence_id: Uuid,
    /// File name when submitted.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// `pending`, `accepted`, `rejected` or `info_requested` (`refused` when the sender's client
    /// holds the agency's refusal of the bundle that carried it).
    pub state: ReviewState,
    /// The reviewer's reason for the current state.
    pub reason: Option<String>,
    /// Whether the content is held in this store.
    pub held: bool,
    /// Deleted under an agency's retention rule or its volunteer's withdrawal: its content is
    /// destroyed, its name forgotten (absent while the item is held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub deleted: Option<super::views::DeletedView>,
}

/// A submission and where its review stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SubmissionView {
    /// Submission id.
    pub id: Uuid,
    /// The brief answered.
    pub brief_id: Uuid,
    /// The brief's title, when held.
    pub brief_title: Option<String>,
    /// Case.
    pub case_id: Uuid,
    /// The volunteer (member id).
    pub submitter: Uuid,
    /// When submitted.
    pub submitted_at: DateTime<FixedOffset>,
    /// `pending`, `accepted`, `rejected`, `info_requested`, or `mixed` when items differ.
    pub state: ReviewState,
    /// The items.
    pub items: Vec<SubmissionItem>,
    /// The volunteer's description.
    pub description: Option<String>,
    /// Decisions, oldest first.
    pub decisions: Vec<ReviewRecord>,
    /// When its volunteer withdrew it (absent while it is not withdrawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub withdrawn_at: Option<DateTime<FixedOffset>>,
}

/// Where a valid brief id is found (`NotFound`'s hint, in product words).
const BRIEF_HINT: &str = "use an id from the list of briefs";
/// Where a valid submission id is found.
const SUBMISSION_HINT: &str = "use an id from the submissions to review (investigators) or your own submissions (volunteers)";
/// Where a valid id of a submission to review is found.
const REVIEW_HINT: &str = "use an id from the submissions to review";

impl Store {
    fn brief_record(&self, id: Uuid) -> Result<BriefRecord> {
        let rec: Option<BriefRecord> = get_json(&mut IndexReader(&self.index), Table::Briefs, id.as_bytes())?;
        rec.filter(|b| b.published).ok_or_else(|| Error::NotFound { what: "brief", query: id.to_string(), hint: BRIEF_HINT })
    }

    fn submission_record(&self, id: Uuid) -> Result<SubmissionRecord> {
        let rec: Option<SubmissionRecord> = get_json(&mut IndexReader(&self.index), Table::Submissions, id.as_bytes())?;
        rec.ok_or_else(|| Error::NotFound { what: "submission", query: id.to_string(), hint: SUBMISSION_HINT })
    }

    fn require_staff(&self, what: &str) -> Result<()> {
        if self.me.role.is_staff() {
            Ok(())
        } else {
            Err(Error::NotAllowed { what: format!("{what}: only investigators and supervisors may do this (this profile is a volunteer)") })
        }
    }

    /// Publishes a brief on a case (investigators and supervisors).
    pub fn publish_brief(&mut self, new: NewBrief) -> Result<Uuid> {
        self.require_staff("publishing a brief")?;
        self.case_record(new.case)?;
        let title = clean_required("title", &new.title)?;
        let text = clean_required("body", &new.text)?;
        if let (Some(f), Some(u)) = (new.from, new.until) {
            if u < f {
                return Err(Error::invalid("time window", format!("it ends ({u}) before it starts ({f})")));
            }
        }
        let mut audience = new.audience.clone();
        audience.sort();
        audience.dedup();
        let id = Uuid::now_v7();
        self.record(vec![EventKind::BriefPublished {
            case_id: new.case,
            brief_id: id,
            title,
            text,
            area: new.area,
            from: new.from,
            until: new.until,
            audience,
        }])?;
        Ok(id)
    }

    /// Withdraws a brief (investigators and supervisors). Withdrawing twice is refused.
    pub fn withdraw_brief(&mut self, id: Uuid) -> Result<()> {
        self.require_staff("withdrawing a brief")?;
        let b = self.brief_record(id)?;
        if b.withdrawn {
            return Err(Error::invalid("brief", format!("brief {id} is already withdrawn")));
        }
        self.record(vec![EventKind::BriefWithdrawn { case_id: b.case_id, brief_id: id }])?;
        Ok(())
    }

    fn brief_view(b: BriefRecord) -> BriefView {
        BriefView {
            id: b.id,
            title: b.title,
            body: b.text,
            area: b.area,
            from: b.from,
            until: b.until,
            case_id: b.case_id,
            audience: b.audience,
            published_by: b.published_by,
            published_at: b.published_at,
            withdrawn: b.withdrawn,
            from_agency: b.from_agency,
        }
    }

    /// The briefs held, newest first. A volunteer's store holds only the briefs addressed to
    /// it (the endpoint filters); `include_withdrawn` keeps withdrawn ones.
    pub fn briefs(&self, include_withdrawn: bool) -> Result<Vec<BriefView>> {
        let me = self.me.member_id;
        let volunteer = !self.me.role.is_staff();
        let mut out: Vec<BriefView> = self
            .index
            .scan_json::<BriefRecord>(Table::Briefs, &[])?
            .into_iter()
            .filter(|b| b.published && (include_withdrawn || !b.withdrawn) && (!volunteer || b.is_addressed_to(me)))
            .map(Self::brief_view)
            .collect();
        out.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// One brief.
    pub fn brief(&self, id: Uuid) -> Result<BriefView> {
        Ok(Self::brief_view(self.brief_record(id)?))
    }

    fn resolve_in(&self, table: Table, what: &'static str, hint: &'static str, query: &str) -> Result<Uuid> {
        let q = query.trim().to_ascii_lowercase();
        let not_found = || Error::NotFound { what, query: query.to_string(), hint };
        if let Ok(id) = Uuid::parse_str(&q) {
            return self.index.get(table, id.as_bytes())?.map(|_| id).ok_or_else(not_found);
        }
        if q.len() < 4 || !q.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(not_found());
        }
        let matches: Vec<Uuid> =
            self.index.keys(table)?.iter().filter_map(|k| Uuid::from_slice(k).ok()).filter(|id| id.to_string().starts_with(&q)).collect();
        match matches.len() {
            1 => Ok(matches[0]),
            0 => Err(not_found()),
            n => Err(Error::invalid(what, format!("'{query}' matches {n} {what}s: give more of the id"))),
        }
    }

    /// Resolves a brief by full id or unique id prefix.
    pub fn resolve_brief(&self, query: &str) -> Result<Uuid> {
        let id = self.resolve_in(Table::Briefs, "brief", BRIEF_HINT, query)?;
        self.brief_record(id)?;
        Ok(id)
    }

    /// Resolves a submission by full id or unique id prefix.
    pub fn resolve_submission(&self, query: &str) -> Result<Uuid> {
        self.resolve_in(Table::Submissions, "submission", REVIEW_HINT, query)
    }

    /// Submits files in answer to a brief (volunteers): each file becomes an evidence item of
    /// the brief's case with custody `submitted`, and a `submission_made` event lists them, all
    /// in one durable append. Nothing is recorded if any file cannot be read.
    pub fn submit(&mut self, brief: Uuid, files: &[PathBuf], opts: &SubmitOptions, progress: &mut dyn Progress) -> Result<SubmissionView> {
        if self.me.role.is_staff() {
            return Err(Error::NotAllowed {
                what: "submitting to a brief: only volunteers submit; investigators add evidence to the case itself".into(),
            });
        }
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let b = self.brief_record(brief)?;
        if b.withdrawn {
            return Err(Error::invalid("brief", format!("brief {brief} was withdrawn; it no longer takes submissions")));
        }
        if files.is_empty() {
            return Err(Error::invalid("files", "give at least one file to submit"));
        }
        for f in files {
            let meta = fs::metadata(f).map_err(Error::io("reading", f))?;
            if !meta.is_file() {
                return Err(Error::invalid("file", format!("{} is not a regular file", f.display())));
            }
        }
        let mut kinds = Vec::new();
        let mut items = Vec::new();
        for f in files {
            let head = metadata::read_head(f).map_err(Error::io("reading", f))?;
            let media_type = metadata::sniff_media_type(&head);
            let extracted = metadata::extract(f, &media_type);
            let mut file = File::open(f).map_err(Error::io("reading", f))?;
            let stored = self.objects.import(&mut file, progress)?;
            let sha = to_hex(&stored.sha256);
            let id = Uuid::now_v7();
            items.push(id);
            kinds.push(EventKind::EvidenceAdded {
                evidence_id: id,
                case_id: b.case_id,
                object: ObjectRef { sha256: sha.clone(), size: stored.size },
                media_type,
                original_name: f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                claimed_captured_at: opts.captured_at,
                claimed_location: opts.location,
                extracted,
                description: clean_optional(opts.description.clone()),
            });
            kinds.push(EventKind::CustodyRecorded {
                evidence_id: id,
                action: CustodyAction::Submitted,
                reason: None,
                sha256: sha,
                observed: None,
            });
        }
        let submission = Uuid::now_v7();
        kinds.push(EventKind::SubmissionMade {
            case_id: b.case_id,
            brief_id: brief,
            submission_id: submission,
            items,
            description: clean_optional(opts.description.clone()),
        });
        self.record(kinds)?;
        self.submission(submission)
    }

    /// Records an investigator's decision on a submission: every item, or the `items` given.
    /// Accepted items get custody `accepted`. Asking for information needs a reason.
    pub fn review(&mut self, submission: Uuid, decision: ReviewDecision, items: &[Uuid], reason: Option<String>) -> Result<SubmissionView> {
        self.require_staff("reviewing a submission")?;
        let s = self.submission_record(submission)?;
        for i in items {
            if !s.items.contains(i) {
                return Err(Error::invalid("item", format!("evidence {i} is not part of submission {submission}")));
            }
        }
        let reason = clean_optional(reason);
        if decision == ReviewDecision::InfoRequested && reason.is_none() {
            return Err(Error::invalid("reason", "say what information is needed"));
        }
        let mut kinds = vec![EventKind::ReviewDecided {
            case_id: s.case_id,
            submission_id: submission,
            items: items.to_vec(),
            decision,
            reason: reason.clone(),
        }];
        if decision == ReviewDecision::Accepted {
            let decided: Vec<Uuid> = if items.is_empty() { s.items.clone() } else { items.to_vec() };
            for i in decided {
                let e = self.evidence_record(i)?;
                kinds.push(EventKind::CustodyRecorded {
                    evidence_id: i,
                    action: CustodyAction::Accepted,
                    reason: reason.clone(),
                    sha256: e.sha256,
                    observed: None,
                });
            }
        }
        self.record(kinds)?;
        self.submission(submission)
    }

    /// Records that the endpoint received submitted items (custody `received`), each with what
    /// this store reads from the content it holds (see [`ContentImporter::observe`]).
    pub fn record_received(&mut self, items: &[(Uuid, String)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let observed: BTreeMap<String, crate::model::Observed> = items
            .iter()
            .filter_map(|(id, sha)| {
                let size = self.evidence_record(*id).ok()?.size;
                Some((sha.clone(), self.observe_content(sha, size).ok()?))
            })
            .collect();
        self.record(received_custody(items, &observed).collect())?;
        Ok(())
    }

    /// One submission with its review state.
    pub fn submission(&self, id: Uuid) -> Result<SubmissionView> {
        let s = self.submission_record(id)?;
        let decisions: Vec<ReviewRecord> = self.index.scan_json(Table::Reviews, id.as_bytes())?;
        let mut items = Vec::new();
        for item in &s.items {
            let (state, reason) = decisions
                .iter()
                .rev()
                .find(|d| d.items.is_empty() || d.items.contains(item))
                .map(|d| (ReviewState::from(d.decision), d.reason.clone()))
                .unwrap_or((ReviewState::Pending, None));
            let deleted = self.tombstone(*item)?.map(|t| super::views::DeletedView {
                rule: t.tombstone.rule,
                reason: t.tombstone.reason,
                deleted_at: t.tombstone.deleted_at,
            });
            match self.evidence_record(*item) {
                Ok(e) => items.push(SubmissionItem {
                    deleted,
                    evidence_id: *item,
                    name: e.original_name,
                    media_type: e.media_type,
                    held: self.has_content(&e.sha256),
                    size: e.size,
                    sha256: e.sha256,
                    state,
                    reason,
                }),
                Err(_) => items.push(SubmissionItem {
                    evidence_id: *item,
                    name: String::new(),
                    media_type: String::new(),
                    size: 0,
                    sha256: String::new(),
                    state,
                    reason,
                    held: false,
                    deleted,
                }),
            }
        }
        let mut states: Vec<ReviewState> = items.iter().map(|i| i.state).collect();
        states.sort_unstable();
        states.dedup();
        let state = match states.as_slice() {
            [] => ReviewState::Pending,
            [one] => *one,
            _ => ReviewState::Mixed,
        };
        let brief_title = self.brief_record(s.brief_id).ok().map(|b| b.title);
        Ok(SubmissionView {
            id: s.id,
            brief_id: s.brief_id,
            brief_title,
            case_id: s.case_id,
            submitter: s.submitter,
            submitted_at: s.submitted_at,
            state,
            items,
            description: s.description,
            decisions,
            withdrawn_at: self.withdrawal(id)?.map(|w| w.at),
        })
    }

    /// Every submission held, newest first (a volunteer's store holds only its own).
    pub fn submissions(&self) -> Result<Vec<SubmissionView>> {
        let ids: Vec<Uuid> = self.index.keys(Table::Submissions)?.iter().filter_map(|k| Uuid::from_slice(k).ok()).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.submission(id)?);
        }
        out.sort_by(|a, b| b.submitted_at.cmp(&a.submitted_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }
}

/// Custody `received` by this profile for submitted items (evidence id, SHA-256 hex), with what
/// this profile read from each content (by SHA-256 hex) when it did.
pub(super) fn received_custody<'a>(
    items: &'a [(Uuid, String)],
    observed: &'a BTreeMap<String, crate::model::Observed>,
) -> impl Iterator<Item = EventKind> + 'a {
    items.iter().map(|(id, sha)| EventKind::CustodyRecorded {
        evidence_id: *id,
        action: CustodyAction::Received,
        reason: None,
        sha256: sha.clone(),
        observed: observed.get(sha).cloned(),
    })
}
