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
//! when none runs, directly ([`run_offline`]). A cluster agency is refused
//! (`retention_unsupported`): its replicas derive their stores from the database's journal, and
//! a tombstone appended to one replica's copy would not reach the others.

use std::path::Path;
use std::sync::Arc;

use casebridge_core::{Passphrase, ReviewDecision, ReviewState, Store, Tombstone};
use casebridge_trust::{Agency, RetentionRules, SubmissionOutcome, WITHDRAWN_RULE};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ApiError;
use crate::clock::SystemClock;
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

/// Plans, and unless `dry_run` deletes: signs a tombstone for each item due and applies them
/// to `store` in one append ([`Store::apply_tombstones`]).
pub fn run_on(store: &mut Store, agency: &Agency, dry_run: bool, now: DateTime<FixedOffset>) -> Result<RetentionReport> {
    let rules = Agency::retention_in(agency.records(), agency.public())?.map(|(r, _)| r);
    let (due, held) = plan(store, rules.as_ref(), now)?;
    if !dry_run && !due.is_empty() {
        let records = store.records();
        let mut signed = Vec::with_capacity(due.len());
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
            let doc = agency.sign_tombstone(&t);
            use base64::Engine as _;
            signed.push((t, base64::engine::general_purpose::STANDARD.encode(doc.to_bytes())));
        }
        store.apply_tombstones(signed)?;
    }
    Ok(RetentionReport { dry_run, rules_version: rules.map(|r| r.version), deleted: due, held })
}

/// The run over an open endpoint state (the store's write lock held meanwhile).
pub(crate) fn run(st: &AppState, dry_run: bool) -> std::result::Result<RetentionReport, ApiError> {
    if st.cluster.is_some() {
        return Err(ApiError::conflict("retention_unsupported", unsupported().to_string()));
    }
    let mut store = write(&st.store);
    let report = run_on(&mut store, &st.agency, dry_run, st.now())?;
    if !report.deleted.is_empty() && !dry_run {
        tracing::info!(deleted = report.deleted.len(), held = report.held.len(), "retention run");
    }
    Ok(report)
}

fn unsupported() -> AgencyError {
    AgencyError::Trust(casebridge_trust::TrustError::new(
        casebridge_trust::Reason::RetentionUnsupported,
        "retention runs on an embedded agency only: a cluster agency's replicas cannot take a deletion from the command line yet",
    ))
}

/// The run without a running endpoint: unlocks the agency in `dir` (holding its locks).
pub fn run_offline(dir: &Path, passphrase: &Passphrase, dry_run: bool) -> Result<RetentionReport> {
    if crate::deployment::ClusterConfig::load(dir)?.is_some() {
        return Err(unsupported());
    }
    if !dir.join(crate::state::STORE_DIR).join(casebridge_core::HEADER_FILE).exists() {
        // An agency that never served holds nothing to delete.
        drop(Agency::open(dir, passphrase)?);
        return Ok(RetentionReport { dry_run, ..Default::default() });
    }
    let options = StateOptions {
        store_kdf: casebridge_core::KdfParams::INTERACTIVE,
        clock: Arc::new(SystemClock),
        url: String::new(),
        limits: crate::limits::Limits::load(dir)?,
        s3: None,
    };
    let state = AppState::open(dir, passphrase, options)?;
    run(&state, dry_run).map_err(|e| AgencyError::Internal(e.to_string()))
}
