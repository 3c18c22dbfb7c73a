//! `casebridge retention run [--dry-run]`: deletes what the agency's retention rules and its
//! volunteers' withdrawals say must go, in its own store, with a tombstone signed by the
//! agency's root key for each item (crypto-shredding: the item's sealed object, which holds its
//! wrapped key, is destroyed; members' devices do the same when their feed brings the
//! tombstone). A case under legal hold is skipped and reported as held.
//!
//! What goes (each item once, the first that applies):
//! 1. items of a submission its volunteer withdrew (rule `withdrawn`, at once) unless one of
//!    its items was accepted (the agency refused such a withdrawal when it arrived);
//! 2. a volunteer's item whose outcome has a `submissions` rule (`rejected`: rejected and never
//!    accepted; `pending`: never decided) once it is `after_days` old;
//! 3. any other item of a case whose category has a rule, once it is `after_days` old.
//!
//! Age is counted from the item's `evidence_added` time, in whole days.
//!
//! Runs through the running endpoint (`POST /admin/retention`, under the store's write lock) or,
//! when none runs, directly ([`run_offline`]). Each tombstone the run signs is verified against
//! the agency's root key before it is recorded, like one from anywhere else ([`apply_offline`]).
//!
//! Deleting is two steps: the tombstones are recorded (durable), then the content of every
//! deleted item still held is destroyed. A run interrupted between the two leaves the content
//! (and its key): the next run destroys it first (`unfinished` in its report) and
//! `agency check` reports it meanwhile (`deleted_content_held`).
//!
//! On a cluster agency both steps go through the database's journal lock (the one every
//! replica's appends take), from any replica or from a machine with only the agency directory:
//! the tombstones are appended to the shared journal, so every replica's copy of the store
//! takes them up at its next read (shredding its index records of the items) and every
//! replica's feed carries them to members; then, after that commit, the items' keys in the
//! bucket (`objects/NAME` and `held/NAME`) are deleted, still under the lock, so no replica
//! records a new item naming that content meanwhile.

use std::path::Path;
use std::sync::Arc;

use casebridge_core::{Passphrase, ReviewDecision, ReviewState, Store, Tombstone};
use casebridge_trust::{Agency, AgencyPublic, RetentionRules, SignedDoc, SubmissionOutcome, WITHDRAWN_RULE};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::SystemClock;
use crate::deployment::{Cluster, S3Config};
use crate::error::{AgencyError, Result};
use crate::state::{write, AppState, StateOptions};

/// One item that goes (or, under hold, would go).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// The item.
    pub evidence_id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// The volunteer submission it came in, if any.
    pub submission_id: Option<Uuid>,
    /// The rule (`withdrawn` for a withdrawal).
    pub rule: String,
    /// Its age in whole days.
    pub age_days: i64,
    /// Why, in words.
    pub reason: String,
}

/// What a run did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// The version of the rules applied (`None`: no rules set; withdrawals still apply).
    pub rules_version: Option<u64>,
    /// Items deleted (with `dry_run`: that would be).
    pub deleted: Vec<Deletion>,
    /// Items due but kept because their case is under legal hold.
    pub held: Vec<Deletion>,
    /// Content of items deleted earlier that was still held (a run interrupted between its
    /// tombstones and the destruction of their content): destroyed by this run (with
    /// `dry_run`: that would be).
    #[serde(default)]
    pub unfinished: usize,
}

/// The body of `POST /admin/retention`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RetentionRequest {
    /// Say what would go; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What is due in `store` under `rules` at `now`: (due, held). Pure: changes nothing.
pub fn plan(
    store: &Store,
    rules: Option<&RetentionRules>,
    now: DateTime<FixedOffset>,
) -> casebridge_core::Result<(Vec<Deletion>, Vec<Deletion>)> {
    let records = store.records();
    let (mut due, mut held) = (Vec::new(), Vec::new());
    for e in store.all_evidence()? {
        if store.tombstone(e.id)?.is_some() {
            continue;
        }
        let age_days = (now - e.added_at).num_days();
        let sub = records.submission_of(e.id)?;
        let mut found: Option<(String, String)> = None;
        if let Some(s) = &sub {
            let view = store.submission(s.id)?;
            let state = view.items.iter().find(|i| i.evidence_id == e.id).map(|i| i.state).unwrap_or(ReviewState::Pending);
            let ever_accepted =
                view.decisions.iter().any(|d| d.decision == ReviewDecision::Accepted && (d.items.is_empty() || d.items.contains(&e.id)));
            let any_accepted = view.items.iter().any(|i| i.state == ReviewState::Accepted);
            if let Some(w) = store.withdrawal(s.id)? {
                if !any_accepted {
                    found = Some((WITHDRAWN_RULE.to_string(), format!("withdrawn by its volunteer on {}", w.at.format("%Y-%m-%d"))));
                }
            }
            if found.is_none() && !ever_accepted {
                for o in [SubmissionOutcome::Rejected, SubmissionOutcome::Pending] {
                    if let Some(r) = rules.and_then(|r| r.for_outcome(o)) {
                        if o.matches(state) && age_days >= i64::from(r.after_days) {
                            let what = if o == SubmissionOutcome::Rejected { "rejected, never accepted" } else { "never decided" };
                            found = Some((r.id.clone(), format!("{what}, {age_days} days old (rule: after {} days)", r.after_days)));
                        }
                    }
                }
            }
        }
        let case = records.case(e.case_id)?;
        if found.is_none() {
            if let Some(r) = case.as_ref().and_then(|c| c.category.as_deref()).and_then(|c| rules.and_then(|r| r.for_category(c))) {
                if age_days >= i64::from(r.after_days) {
                    let category = r.category.clone().unwrap_or_default();
                    found =
                        Some((r.id.clone(), format!("case category {category}, {age_days} days old (rule: after {} days)", r.after_days)));
                }
            }
        }
        let Some((rule, reason)) = found else { continue };
        let d = Deletion { evidence_id: e.id, case_id: e.case_id, submission_id: sub.map(|s| s.id), rule, age_days, reason };
        if case.is_some_and(|c| c.hold.is_some()) {
            held.push(d);
        } else {
            due.push(d);
        }
    }
    Ok((due, held))
}

/// Plans at `now` and, unless `dry_run`, signs a tombstone with the agency's root key for
/// each item due: the report (its `unfinished` not yet counted) and the signed documents.
fn plan_signed(
    store: &Store,
    agency: &Agency,
    dry_run: bool,
    now: DateTime<FixedOffset>,
) -> Result<(RetentionReport, Vec<casebridge_trust::SignedDoc>)> {
    let rules = Agency::retention_in(agency.records(), agency.public())?.map(|(r, _)| r);
    let (due, held) = plan(store, rules.as_ref(), now)?;
    let mut signed = Vec::new();
    if !dry_run {
        let records = store.records();
        for d in &due {
            let sha256 = records.evidence(d.evidence_id)?.map(|e| e.sha256).unwrap_or_default();
            let t = Tombstone {
                id: casebridge_trust::tombstone_id(agency.public().agency_id, d.evidence_id),
                agency_id: agency.public().agency_id,
                evidence_id: d.evidence_id,
                case_id: d.case_id,
                sha256,
                rule: d.rule.clone(),
                reason: Some(d.reason.clone()),
                deleted_at: now,
            };
            signed.push(agency.sign_tombstone(&t));
        }
    }
    let report = RetentionReport { dry_run, rules_version: rules.map(|r| r.version), deleted: due, held, unfinished: 0 };
    Ok((report, signed))
}

/// Records tombstone documents in `store`, all or none, destroying no content yet: each is
/// verified against the agency's root key before anything of it is read
/// ([`casebridge_trust::verify_tombstone`]: `tombstone_not_from_agency`), then checked against
/// what the store holds ([`Store::record_tombstones`]: `tombstone_unknown_item`,
/// `tombstone_mismatch`, `case_on_hold`); one already applied is skipped (a replay deletes
/// nothing twice). Returns the items deleted now.
fn record_signed(store: &mut Store, public: &AgencyPublic, docs: &[SignedDoc]) -> Result<Vec<Uuid>> {
    use base64::Engine as _;
    let mut items = Vec::with_capacity(docs.len());
    for doc in docs {
        let t = casebridge_trust::verify_tombstone(doc, public)?;
        items.push((t, base64::engine::general_purpose::STANDARD.encode(doc.to_bytes())));
    }
    Ok(store.record_tombstones(items)?)
}

/// The run on one store (the embedded agency's): plans, and unless `dry_run` signs a tombstone
/// for each item due, records them in one append, then destroys the content of every deleted
/// item still held (this run's, and any an interrupted run left: `unfinished`).
pub fn run_on(store: &mut Store, agency: &Agency, dry_run: bool, now: DateTime<FixedOffset>) -> Result<RetentionReport> {
    let unfinished = store.deleted_content_held()?.len();
    let (mut report, docs) = plan_signed(store, agency, dry_run, now)?;
    report.unfinished = unfinished;
    if !dry_run {
        record_signed(store, agency.public(), &docs)?;
        store.shred_deleted()?;
    }
    Ok(report)
}

/// The run over an open endpoint state (the store's write lock held meanwhile): on a cluster
/// agency, through the cluster's journal ([`run_cluster`]).
pub(crate) fn run(st: &AppState, dry_run: bool) -> Result<RetentionReport> {
    let mut store = write(&st.store);
    let report = match &st.cluster {
        None => run_on(&mut store, &st.agency, dry_run, st.now())?,
        Some(c) => run_cluster(st, c, &mut store, dry_run)?,
    };
    if !report.deleted.is_empty() && !dry_run {
        tracing::info!(deleted = report.deleted.len(), held = report.held.len(), unfinished = report.unfinished, "retention run");
    }
    Ok(report)
}

/// A cluster agency's run, on this replica's copy of the store, in two steps under the
/// database's journal lock (the lock every replica's appends take):
/// 1. after catching up (a hold or withdrawal recorded through another replica counts), plan,
///    sign and record the tombstones; their records go to the database's journal in the
///    lock's transaction, so every replica's copy takes them up (and shreds its index
///    records) at its next read, and members' feeds carry them from any replica;
/// 2. once that committed, destroy the content of every deleted item still held in the
///    bucket (its object and marker keys), again under the lock: no replica records an item
///    naming that content meanwhile, and one that tries later finds it gone.
///
/// Killed between the two, the tombstones are recorded and the content is still in the
/// bucket: the next run destroys it first (`unfinished`), and `agency check` reports it
/// (`deleted_content_held`) until then.
fn run_cluster(st: &AppState, c: &Cluster, store: &mut Store, dry_run: bool) -> Result<RetentionReport> {
    let now = st.now();
    if dry_run {
        crate::follower::catch_up(c, store)?;
        return run_on(store, &st.agency, true, now);
    }
    let report = crate::follower::append(
        c,
        store,
        |s| -> Result<RetentionReport> {
            let unfinished = s.deleted_content_held()?.len();
            let (mut report, docs) = plan_signed(s, &st.agency, false, now)?;
            report.unfinished = unfinished;
            record_signed(s, st.agency.public(), &docs)?;
            Ok(report)
        },
        |_| Vec::new(),
    )?;
    shred_cluster(c, store)?;
    Ok(report)
}

/// Destroys the bucket content of every deleted item still held, under the journal lock.
fn shred_cluster(c: &Cluster, store: &mut Store) -> Result<usize> {
    crate::follower::append(c, store, |s| -> Result<usize> { Ok(s.shred_deleted()?) }, |_| Vec::new())
}

/// Applies tombstone documents signed elsewhere to the agency's store, as the run applies its
/// own: each verified against the agency's root key first, all or none, through the cluster's
/// journal lock on a cluster agency, then the content destroyed. What a run does with its own
/// documents, for one that did not come from it (no command takes tombstones from outside:
/// the red-team tests use this to show what the agency refuses).
pub(crate) fn apply(st: &AppState, docs: &[SignedDoc]) -> Result<Vec<Uuid>> {
    let mut store = write(&st.store);
    match &st.cluster {
        None => {
            let deleted = record_signed(&mut store, &st.public, docs)?;
            store.shred_deleted()?;
            Ok(deleted)
        }
        Some(c) => {
            let deleted = crate::follower::append(c, &mut store, |s| record_signed(s, &st.public, docs), |_| Vec::new())?;
            shred_cluster(c, &mut store)?;
            Ok(deleted)
        }
    }
}

/// Opens the agency in `dir` without a running endpoint (holding its locks), or `None` for an
/// embedded agency that never served (it holds nothing to delete). `s3`: a cluster agency's
/// object-store settings in code (`None`: the `AWS_*` environment).
fn open_offline(dir: &Path, passphrase: &Passphrase, s3: Option<S3Config>) -> Result<Option<AppState>> {
    let cluster = crate::deployment::ClusterConfig::load(dir)?.is_some();
    if !cluster && !dir.join(crate::state::STORE_DIR).join(casebridge_core::HEADER_FILE).exists() {
        drop(Agency::open(dir, passphrase)?);
        return Ok(None);
    }
    let options = StateOptions {
        store_kdf: casebridge_core::KdfParams::INTERACTIVE,
        clock: Arc::new(SystemClock),
        url: String::new(),
        limits: crate::limits::Limits::load(dir)?,
        s3,
    };
    Ok(Some(AppState::open(dir, passphrase, options)?))
}

/// The run without a running endpoint: unlocks the agency in `dir` (holding its locks; a
/// cluster agency's replica on another machine may serve meanwhile: the run goes through the
/// database's journal lock).
pub fn run_offline(dir: &Path, passphrase: &Passphrase, dry_run: bool) -> Result<RetentionReport> {
    match open_offline(dir, passphrase, None)? {
        None => Ok(RetentionReport { dry_run, ..Default::default() }),
        Some(state) => run(&state, dry_run),
    }
}

/// Applies tombstone documents signed elsewhere to the agency in `dir` without a running
/// endpoint (`s3` as for a cluster agency's state), as the run applies its own: each verified
/// against the agency's root key first (`tombstone_not_from_agency`), then checked against what
/// the store holds (`tombstone_unknown_item`, `tombstone_mismatch`, `case_on_hold`), all or none,
/// through the database's journal lock on a cluster agency, then the content destroyed. A
/// tombstone already applied is skipped. No command takes tombstones from outside: the
/// red-team tests use this to show what the agency refuses.
pub fn apply_offline(dir: &Path, passphrase: &Passphrase, s3: Option<S3Config>, docs: &[SignedDoc]) -> Result<Vec<Uuid>> {
    match open_offline(dir, passphrase, s3)? {
        None => {
            // Signatures first, as always; then there is nothing to delete.
            let (public, _) = Agency::read_public(dir)?;
            for doc in docs {
                casebridge_trust::verify_tombstone(doc, &public)?;
            }
            Err(AgencyError::Store(casebridge_core::Error::Refused {
                code: casebridge_core::TOMBSTONE_UNKNOWN_ITEM,
                message: "the agency holds no items yet; nothing was deleted".into(),
            }))
        }
        Some(state) => apply(&state, docs),
    }
}
