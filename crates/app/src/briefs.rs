//! Briefs, submissions, reviews and receipts: the loop between investigators and volunteers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use casebridge_core::{NewBrief, ReviewState, Store, SubmitOptions};
use casebridge_trust::bundle::ExportSummary;
use casebridge_trust::AgencyPublic;
use chrono::{DateTime, FixedOffset};
use uuid::Uuid;

use crate::cases::parse_id;
use crate::error::{AppError, Result};
use crate::files::Checked;
use crate::outbox;
use crate::views::{AgencyRefusal, Area, BriefView, GeoPoint, ReceiptView, ReviewDecision, Submission};

/// Parses an RFC 3339 time with an offset (`field` names it in the error).
pub fn parse_time(field: &str, s: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map_err(|_| AppError::invalid(field, format!("'{s}' is not a time such as 2026-03-14T09:30:00+01:00 (RFC 3339 with an offset)")))
}

fn parse_opt_time(field: &str, s: Option<&str>) -> Result<Option<DateTime<FixedOffset>>> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(|s| parse_time(field, s)).transpose()
}

/// Parses an audience: empty or `["all"]` for every volunteer of the agency, else member ids.
pub fn parse_audience(values: &[String]) -> Result<Vec<Uuid>> {
    let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    if values.iter().any(|v| v.eq_ignore_ascii_case("all")) {
        if values.len() > 1 {
            return Err(AppError::invalid("audience", "give either `all` or member ids, not both"));
        }
        return Ok(Vec::new());
    }
    values.iter().map(|v| parse_id("audience member id", v)).collect()
}

/// The briefs this profile holds (volunteers: those addressed to them), newest first.
pub fn list(store: &Store, include_withdrawn: bool) -> Result<Vec<BriefView>> {
    Ok(store.briefs(include_withdrawn)?)
}

/// One brief (id or unique id prefix).
pub fn show(store: &Store, id: &str) -> Result<BriefView> {
    Ok(store.brief(store.resolve_brief(id.trim())?)?)
}

/// What a new brief says.
#[derive(Clone, Debug, Default)]
pub struct BriefInput {
    /// The case (id or unique id prefix).
    pub case_id: String,
    /// Title volunteers see.
    pub title: String,
    /// What volunteers are asked to look for.
    pub body: String,
    /// Where.
    pub area: Option<Area>,
    /// Start of the time window asked about (RFC 3339).
    pub from: Option<String>,
    /// End of the time window asked about (RFC 3339).
    pub until: Option<String>,
    /// `[]` / `["all"]` for every volunteer, else member ids.
    pub audience: Vec<String>,
}

/// Publishes a brief on a case (investigators); returns its id. Every input is checked before
/// anything is recorded. Sync sends it.
pub fn publish(store: &mut Store, b: BriefInput) -> Result<Uuid> {
    let area = b.area.map(|a| Area::new(a.lat, a.lon, a.radius_m)).transpose()?;
    let from = parse_opt_time("from", b.from.as_deref())?;
    let until = parse_opt_time("until", b.until.as_deref())?;
    let audience = parse_audience(&b.audience)?;
    publish_on(store, &b.case_id, NewBrief { case: Uuid::nil(), title: b.title, text: b.body, area, from, until, audience })
}

/// [`publish`] with its inputs parsed: publishes `brief` on `case` (id, unique id prefix or
/// reference), which replaces `brief.case`; returns its id.
pub fn publish_on(store: &mut Store, case: &str, brief: NewBrief) -> Result<Uuid> {
    let case = store.resolve_case(case.trim())?;
    Ok(store.publish_brief(NewBrief { case, ..brief })?)
}

/// Withdraws a brief (investigators); volunteers stop seeing it after their next sync.
/// Returns its id.
pub fn withdraw(store: &mut Store, id: &str) -> Result<Uuid> {
    let id = store.resolve_brief(id.trim())?;
    store.withdraw_brief(id)?;
    Ok(id)
}

/// Submissions, newest first (volunteers: their own). A submission whose bundle the agency
/// refused for good is marked so (state `refused`, with the agency's reason in `refused`).
///
/// Police staff's view is recorded: one access entry per case shown, naming its submissions.
pub fn submissions(store: &mut Store) -> Result<Vec<Submission>> {
    submissions_where(store, |_| true)
}

/// A volunteer withdraws one of their submissions (id or unique id prefix): signs
/// `submission_withdrawn`, which the next sync carries to the agency; the agency then deletes
/// its items (unless one was accepted or the case is under legal hold, which it refuses).
/// Refused here for another member's submission (`not_your_submission`), one with an accepted
/// item (`submission_accepted`) and one withdrawn already (`already_withdrawn`).
pub fn withdraw_submission(store: &mut Store, id: &str, reason: Option<String>) -> Result<Submission> {
    let id = store.resolve_submission(id.trim())?;
    store.withdraw_submission(id, reason)?;
    let view = store.submission(id)?;
    Ok(mark(view, &mut outbox::refused_submissions(store.dir())?))
}

/// The submissions [`submissions`] lists that `keep` keeps; the access entries name only those.
pub fn submissions_where(store: &mut Store, keep: impl Fn(&Submission) -> bool) -> Result<Vec<Submission>> {
    let mut refusals = outbox::refused_submissions(store.dir())?;
    let subs: Vec<Submission> = store.submissions()?.into_iter().map(|view| mark(view, &mut refusals)).filter(|s| keep(s)).collect();
    crate::access::log_view_by_case(store, "listed_submissions", subs.iter().map(|s| (s.submission.case_id, Some(s.submission.id))))?;
    Ok(subs)
}

/// One submission (id or unique id prefix), marked as [`submissions`] marks them. Police
/// staff's view is recorded: one access entry naming the submission and its items.
pub fn submission(store: &mut Store, id: &str) -> Result<Submission> {
    let view = store.submission(store.resolve_submission(id.trim())?)?;
    let shown: Vec<Uuid> = std::iter::once(view.id).chain(view.items.iter().map(|i| i.evidence_id)).collect();
    crate::access::log_view(store, view.case_id, shown, "viewed_submission")?;
    Ok(mark(view, &mut outbox::refused_submissions(store.dir())?))
}

fn mark(mut submission: casebridge_core::SubmissionView, refusals: &mut BTreeMap<Uuid, AgencyRefusal>) -> Submission {
    let refused = take_refusal(&mut submission, refusals);
    Submission { submission, refused }
}

/// If the agency refused the bundle that carried `view` (per `refusals`, from
/// [`outbox::refused_submissions`]), marks it `refused` (its undecided items too) and returns
/// the refusal. A submission with a decision is left alone: the agency decided on it, so it
/// has it.
pub fn take_refusal(view: &mut casebridge_core::SubmissionView, refusals: &mut BTreeMap<Uuid, AgencyRefusal>) -> Option<AgencyRefusal> {
    let refusal = refusals.remove(&view.id).filter(|_| view.state == ReviewState::Pending)?;
    view.state = ReviewState::Refused;
    for item in &mut view.items {
        if item.state == ReviewState::Pending {
            item.state = ReviewState::Refused;
        }
    }
    Some(refusal)
}

/// Decides on a submission (investigators): all its items, or only `items` (evidence ids).
pub fn decide(
    store: &mut Store,
    submission_id: &str,
    decision: ReviewDecision,
    items: &[String],
    reason: Option<String>,
) -> Result<Submission> {
    let items: Vec<Uuid> = items.iter().map(|i| parse_id("item", i)).collect::<Result<_>>()?;
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    Ok(review(store, submission_id, decision, &items, reason)?.into())
}

/// [`decide`] with its inputs parsed: decides on a submission (id or unique id prefix), all
/// its items or only `items`.
pub fn review(
    store: &mut Store,
    submission: &str,
    decision: casebridge_core::ReviewDecision,
    items: &[Uuid],
    reason: Option<String>,
) -> Result<casebridge_core::SubmissionView> {
    let id = store.resolve_submission(submission.trim())?;
    Ok(store.review(id, decision, items, reason)?)
}

/// What a volunteer says about a submission.
#[derive(Clone, Debug, Default)]
pub struct SubmitInput {
    /// The brief answered (id or unique id prefix).
    pub brief_id: String,
    /// The files.
    pub paths: Vec<PathBuf>,
    /// What they show.
    pub description: Option<String>,
    /// When captured (RFC 3339).
    pub captured_at: Option<String>,
    /// Where captured.
    pub location: Option<GeoPoint>,
}

/// A volunteer answers a brief: the files become evidence with custody `submitted`, and a
/// signed, sealed bundle goes into the outbox for sync to upload. Enrolment and every file
/// are checked before anything is recorded. `progress` sees bytes done and may return false
/// to cancel (nothing is recorded then).
pub fn submit(store: &mut Store, s: SubmitInput, progress: &mut dyn FnMut(u64) -> bool) -> Result<Submission> {
    let captured_at = parse_opt_time("captured_at", s.captured_at.as_deref())?;
    let location = s.location.map(|p| GeoPoint::new(p.lat, p.lon)).transpose()?;
    if s.paths.is_empty() {
        return Err(AppError::invalid("files", "choose at least one file to submit"));
    }
    let files = Checked::new(s.paths)?;
    let opts = SubmitOptions { description: s.description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty()), captured_at, location };
    Ok(submit_files(store, &s.brief_id, &files, &opts, progress)?.submission.into())
}

/// A submission made: the store's view of it, and the sealed bundles now in the outbox for
/// the agency this profile enrolled at.
#[derive(Debug)]
pub struct Submitted {
    /// The submission.
    pub submission: casebridge_core::SubmissionView,
    /// The bundles put into the outbox (sync uploads them).
    pub outbox: Vec<ExportSummary>,
    /// The agency they are sealed to.
    pub agency: AgencyPublic,
}

/// [`submit`] with its inputs parsed: answers `brief` (id or unique id prefix) with `files`.
/// Enrolment (a valid credential) is checked before anything is recorded.
pub fn submit_files(
    store: &mut Store,
    brief: &str,
    files: &Checked,
    opts: &SubmitOptions,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Submitted> {
    let brief = store.resolve_brief(brief.trim())?;
    let (agency, _, cred) = outbox::agency(store)?;
    let submission = store.submit(brief, &files.paths, opts, &mut |n: u64| progress(n))?;
    let outbox = outbox::export_pending(store, &agency, &cred, None)?;
    Ok(Submitted { submission, outbox, agency })
}

/// The receipts this profile keeps, each verified again.
pub fn receipts(store: &Store) -> Result<Vec<ReceiptView>> {
    crate::receipts::held(store)
}
