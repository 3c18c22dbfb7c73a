//! The access log (LED 2016/680 Art. 25): every view, export, report and redaction of case
//! material by police staff is recorded as a signed `access_recorded` event before the
//! material is shown. Here: the rule of who is logged, reading the log with names, and
//! recording that a contributor's identity may be disclosed in court material.
//!
//! Volunteers' views are not logged: they only ever see their own material.

use casebridge_core::{AccessRecord, MemberRecord, Role, Store};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
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

/// One access-log entry with the actor's name, when this store knows it.
#[derive(Clone, Debug, Serialize)]
pub struct AccessEntry {
    /// When.
    pub at: DateTime<FixedOffset>,
    /// Who.
    pub actor: Uuid,
    /// Their name.
    pub actor_name: Option<String>,
    /// From which device.
    pub device: Uuid,
    /// What (`viewed`, `exported`, ...).
    pub action: String,
    /// The case.
    pub case_id: Uuid,
    /// The item, when the access was to one.
    pub evidence_id: Option<Uuid>,
    /// Why, as given.
    pub reason: Option<String>,
}

fn entry(store: &Store, a: AccessRecord) -> Result<AccessEntry> {
    let actor_name = store.member(a.actor)?.map(|m| m.name);
    Ok(AccessEntry {
        at: a.at,
        actor: a.actor,
        actor_name,
        device: a.device,
        action: a.action,
        case_id: a.case_id,
        evidence_id: a.evidence_id,
        reason: a.reason,
    })
}

/// The access log of a case (id, unique id prefix or reference): who, when, what, which item,
/// why; oldest first.
pub fn access_log(store: &Store, case: &str) -> Result<Vec<AccessEntry>> {
    let case = store.resolve_case(case)?;
    store.access_log(case)?.into_iter().map(|r| entry(store, r)).collect()
}

/// What [`access_log_filtered`] keeps.
#[derive(Clone, Debug, Default)]
pub struct AccessFilter {
    /// One case (id, unique id prefix or reference); every case this store holds otherwise.
    pub case: Option<String>,
    /// Only entries by this member.
    pub member: Option<Uuid>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<FixedOffset>>,
}

/// The access log across the cases this store holds (or one), oldest first, filtered by
/// member and time: what a data-protection officer reads. Police staff only: a volunteer's
/// store holds no access log.
pub fn access_log_filtered(store: &Store, filter: &AccessFilter) -> Result<Vec<AccessEntry>> {
    if !is_police_staff(store) {
        return Err(casebridge_core::Error::NotAllowed {
            what: "the access log is for police staff; a volunteer's device holds none".into(),
        }
        .into());
    }
    let cases = match &filter.case {
        Some(c) => vec![store.resolve_case(c)?],
        None => store.list_cases(&Default::default())?.into_iter().map(|c| c.id).collect(),
    };
    let mut out = Vec::new();
    for case in cases {
        for r in store.access_log(case)? {
            if filter.member.is_some_and(|m| m != r.actor) || filter.since.is_some_and(|t| r.at < t) {
                continue;
            }
            out.push(entry(store, r)?);
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
