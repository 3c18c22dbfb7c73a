//! The access log (LED 2016/680 Art. 25): every view, export, report and redaction of case
//! material by police staff is recorded as a signed `access_recorded` event before the
//! material is shown. Here: the rule of who is logged, reading the log with names, and
//! recording that a contributor's identity may be disclosed in court material.
//!
//! Volunteers' views are not logged: they only ever see their own material.

use casebridge_core::access_chain::AccessChains;
use casebridge_core::{AccessRecord, MemberRecord, Role, Store};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{AppError, ErrorCode, Result};

/// True for the roles whose accesses are logged: investigators and supervisors.
pub fn is_police_staff(store: &Store) -> bool {
    matches!(store.whoami().role, Role::Investigator | Role::Supervisor)
}

/// Records an access by police staff (`viewed`, `exported`, ...) to a case or one of its items;
/// does nothing for a volunteer. Called before material is shown, so nothing is shown
/// unlogged.
pub fn log_access(store: &mut Store, case: Uuid, evidence: Option<Uuid>, action: &str, reason: Option<&str>) -> Result<()> {
    if is_police_staff(store) {
        store.record_access(case, evidence, action, reason.map(str::to_string))?;
    }
    Ok(())
}

/// Records one list view by police staff of case `case`: the ids it showed (`items`), one entry
/// per view, not per row; does nothing for a volunteer.
pub fn log_view(store: &mut Store, case: Uuid, items: Vec<Uuid>, action: &str) -> Result<()> {
    if is_police_staff(store) {
        store.record_access_of(case, None, items, action, None)?;
    }
    Ok(())
}

/// Records a view that showed rows of several cases (`rows`: case and the id shown, in order)
/// as one entry per case it touched, each naming that case's ids once, in order: every case's
/// access chain holds what was read of it, so a court package of one case carries it.
pub fn log_view_by_case(store: &mut Store, action: &str, rows: impl IntoIterator<Item = (Uuid, Option<Uuid>)>) -> Result<()> {
    if !is_police_staff(store) {
        return Ok(());
    }
    let mut cases: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
    for (case, id) in rows {
        let at = match cases.iter().position(|(c, _)| *c == case) {
            Some(at) => at,
            None => {
                cases.push((case, Vec::new()));
                cases.len() - 1
            }
        };
        if let Some(id) = id {
            if !cases[at].1.contains(&id) {
                cases[at].1.push(id);
            }
        }
    }
    for (case, items) in cases {
        store.record_access_of(case, None, items, action, None)?;
    }
    Ok(())
}

/// Records a view of the case list by police staff: one entry of no single case (the nil case
/// id) naming the cases it showed.
pub fn log_case_list(store: &mut Store, cases: Vec<Uuid>) -> Result<()> {
    if is_police_staff(store) {
        store.record_access_of(Uuid::nil(), None, cases, "listed_cases", None)?;
    }
    Ok(())
}

/// What the access chains say of one entry (docs/FORMAT.md, "Access chains").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AccessStatus {
    /// In its (author, key, case) chain, which is whole up to it and links.
    Chained,
    /// Recorded before access chains existed: signed, but a left-out entry around it would not
    /// show.
    Unchained,
    /// Entries are missing before it in its chain: an access was left out.
    Gap,
    /// It does not link to the previous entry of its chain, or another entry holds its place.
    Broken,
}

/// One access-log entry with the actor's name, when this store knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AccessEntry {
    /// When.
    pub at: DateTime<FixedOffset>,
    /// Who.
    pub actor: Uuid,
    /// Their name.
    pub actor_name: Option<String>,
    /// From which device.
    pub device: Uuid,
    /// What (`viewed`, `exported`, `listed_evidence`, ...).
    pub action: String,
    /// The case (the nil id for the case list, which shows no single case).
    pub case_id: Uuid,
    /// The item, when the access was to one.
    pub evidence_id: Option<Uuid>,
    /// A list view: the ids it showed.
    pub item_ids: Vec<Uuid>,
    /// Why, as given.
    pub reason: Option<String>,
    /// The entry's place in its author's access chain for the case (absent before chaining).
    pub access_seq: Option<u64>,
    /// What the access chains say of it.
    pub status: AccessStatus,
}

fn entry(store: &Store, a: AccessRecord, status: AccessStatus) -> Result<AccessEntry> {
    let actor_name = store.member(a.actor)?.map(|m| m.name);
    Ok(AccessEntry {
        at: a.at,
        actor: a.actor,
        actor_name,
        device: a.device,
        action: a.action,
        case_id: a.case_id,
        evidence_id: a.evidence_id,
        item_ids: a.item_ids,
        reason: a.reason,
        access_seq: a.access_seq,
        status,
    })
}

/// The status of each of `records` (one case's whole access log, as held).
fn statuses(records: &[AccessRecord]) -> Vec<AccessStatus> {
    let mut chains = AccessChains::default();
    for r in records {
        if let (Some(seq), Some(key), Some(hash)) = (r.access_seq, &r.key, &r.event_hash) {
            chains.add_entry(r.actor, key, r.case_id, seq, hash.clone(), r.access_prev.clone().unwrap_or_default());
        }
    }
    let problems = chains.finish();
    records
        .iter()
        .map(|r| match r.access_seq {
            None => AccessStatus::Unchained,
            Some(seq) => {
                let item = format!("member {} access entry {seq} of case {}", r.actor, r.case_id);
                match problems.iter().find(|p| p.item == item) {
                    None => AccessStatus::Chained,
                    Some(p) if p.code == "access_chain_gap" => AccessStatus::Gap,
                    Some(_) => AccessStatus::Broken,
                }
            }
        })
        .collect()
}

/// The whole access log of `case` as held, each entry with its status.
fn case_log(store: &Store, case: Uuid) -> Result<Vec<(AccessRecord, AccessStatus)>> {
    let records = if case.is_nil() { store.access_log_of_no_case()? } else { store.access_log(case)? };
    let st = statuses(&records);
    Ok(records.into_iter().zip(st).collect())
}

/// The access log of a case (id, unique id prefix or reference): who, when, what, which item,
/// why; oldest first.
pub fn access_log(store: &Store, case: &str) -> Result<Vec<AccessEntry>> {
    let case = store.resolve_case(case)?;
    case_log(store, case)?.into_iter().map(|(r, st)| entry(store, r, st)).collect()
}

/// What [`access_log_filtered`] keeps.
#[derive(Clone, Debug, Default)]
pub struct AccessFilter {
    /// One case (id, unique id prefix or reference); every case this store holds otherwise
    /// (and the case list's entries, which are of no single case).
    pub case: Option<String>,
    /// Only entries by this member.
    pub member: Option<Uuid>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<FixedOffset>>,
}

/// The access log across the cases this store holds (or one), oldest first, filtered by
/// member and time, each entry with what its access chain says (`status`): what a
/// data-protection officer reads, and what the desktop's "Access log" screen shows. Police
/// staff only: a volunteer's store holds no access log.
pub fn access_log_filtered(store: &Store, filter: &AccessFilter) -> Result<Vec<AccessEntry>> {
    if !is_police_staff(store) {
        return Err(casebridge_core::Error::NotAllowed {
            what: "the access log is for police staff; a volunteer's device holds none".into(),
        }
        .into());
    }
    let cases = match &filter.case {
        Some(c) => vec![store.resolve_case(c)?],
        None => std::iter::once(Uuid::nil()).chain(store.list_cases(&Default::default())?.into_iter().map(|c| c.id)).collect(),
    };
    let mut out = Vec::new();
    for case in cases {
        for (r, st) in case_log(store, case)? {
            if filter.member.is_some_and(|m| m != r.actor) || filter.since.is_some_and(|t| r.at < t) {
                continue;
            }
            out.push(entry(store, r, st)?);
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.case_id.cmp(&b.case_id)));
    Ok(out)
}

/// A supervisor records that the identity of `member`, a contributor, may be disclosed in
/// court material for `case` (id, unique id prefix or reference), on the legal basis
/// `reason`. Returns the case and the member. Issue 16: supervisors approve disclosure; the
/// agency refuses an investigator's or volunteer's `disclosure_recorded` (`supervisor_only`).
///
/// Errors: `not_allowed` for anyone but a supervisor, `not_found` when this store does not know
/// the member; nothing is recorded then.
pub fn disclose(store: &mut Store, case: &str, member: Uuid, reason: &str) -> Result<(Uuid, MemberRecord)> {
    if store.whoami().role != Role::Supervisor {
        return Err(casebridge_core::Error::NotAllowed {
            what: "recording a disclosure of a contributor's identity: only supervisors approve it; nothing was recorded".into(),
        }
        .into());
    }
    let case = store.resolve_case(case)?;
    let Some(who) = store.member(member)? else {
        return Err(AppError::new(ErrorCode::NotFound, format!("no member {member} is known to this store; nothing was recorded")));
    };
    store.record_disclosure(case, member, reason)?;
    Ok((case, who))
}

/// The `format` of an access-log export (docs/FORMAT.md, "Access-log export").
pub const EXPORT_FORMAT: &str = "casebridge/access-log-export";

/// An access-log export as written: the signed `access_recorded` events themselves (base64
/// envelopes, as their authors signed them), checked offline by `casebridge-verify
/// --access-log FILE`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessExport {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// 1.
    pub v: u32,
    /// When it was written.
    pub exported_at: DateTime<FixedOffset>,
    /// Who wrote it.
    pub exported_by: Uuid,
    /// The case it is limited to, if any.
    pub case: Option<Uuid>,
    /// The member it is limited to, if any.
    pub member: Option<Uuid>,
    /// The entries, oldest first: whole access chains (each from its first entry), so a
    /// left-out entry shows.
    pub entries: Vec<String>,
}

/// What [`export_log`] wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedLog {
    /// The file.
    pub path: std::path::PathBuf,
    /// Entries written.
    pub entries: usize,
}

/// Writes the access log of this store's cases (or one case, or one member's entries) to the
/// new file `out` as an [`AccessExport`]: whole chains, so no `since` (an export starting
/// mid-chain would look like a gap). Police staff only. Never overwrites.
pub fn export_log(store: &Store, case: Option<&str>, member: Option<Uuid>, out: &std::path::Path) -> Result<ExportedLog> {
    use base64::Engine as _;
    if !is_police_staff(store) {
        return Err(casebridge_core::Error::NotAllowed {
            what: "the access log is for police staff; a volunteer's device holds none".into(),
        }
        .into());
    }
    crate::export::check_out(out)?;
    let case = case.map(|c| store.resolve_case(c)).transpose()?;
    let cases = case.map(|c| std::collections::BTreeSet::from([c]));
    let events = store.access_events(cases.as_ref())?;
    let entries: Vec<String> = events
        .iter()
        .filter(|e| member.is_none_or(|m| e.body().author == m))
        .map(|e| base64::engine::general_purpose::STANDARD.encode(e.envelope()))
        .collect();
    let doc = AccessExport {
        format: EXPORT_FORMAT.into(),
        v: 1,
        exported_at: chrono::Local::now().fixed_offset(),
        exported_by: store.whoami().member_id,
        case,
        member,
        entries,
    };
    let bytes =
        serde_json::to_vec_pretty(&doc).map_err(|e| AppError::new(ErrorCode::Internal, format!("the export could not be written: {e}")))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| AppError::new(ErrorCode::BadFile, format!("{} cannot be created: {}", out.display(), e.kind())))?;
    std::io::Write::write_all(&mut f, &bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AppError::new(ErrorCode::BadFile, format!("{} could not be written: {}", out.display(), e.kind())))?;
    Ok(ExportedLog { path: out.to_path_buf(), entries: doc.entries.len() })
}
