//! The access log (LED 2016/680 Art. 25): every view, export, report and redaction of case
//! material by police staff is recorded as a signed `access_recorded` event.
//! `casebridge case access-log CASE` reads it; `casebridge case disclose CASE MEMBER` records
//! that a contributor's identity may be shown in court material.
//!
//! Volunteers' views are not logged: they only ever see their own material.

use std::io::Write;

use casebridge_core::{AccessRecord, Error, Role, Store};
use chrono::{DateTime, FixedOffset};
use clap::Args;
use serde::Serialize;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::Result;
use crate::output::{self, Table};

/// True for the roles whose accesses are logged: investigators and supervisors.
pub fn is_police_staff(store: &Store) -> bool {
    matches!(store.whoami().role, Role::Investigator | Role::Supervisor)
}

/// Records an access by police staff (`viewed`, `exported`, ...) to a case or one of its items;
/// does nothing for a volunteer. Called before the material is shown, so nothing is shown
/// unlogged.
pub fn log(store: &mut Store, case: Uuid, evidence: Option<Uuid>, action: &str, reason: Option<&str>) -> Result<()> {
    if is_police_staff(store) {
        store.record_access(case, evidence, action, reason.map(str::to_string))?;
    }
    Ok(())
}

/// Arguments of `case access-log`.
#[derive(Args, Debug)]
pub struct AccessLogArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `case disclose`.
#[derive(Args, Debug)]
pub struct DiscloseArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// The contributor's member id (the `contributor` of `casebridge evidence show ID`)
    #[arg(value_name = "MEMBER")]
    pub member: String,
    /// The legal basis for showing their identity (recorded, signed)
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
}

/// One access-log entry as printed in JSON.
#[derive(Serialize)]
struct Entry {
    at: DateTime<FixedOffset>,
    actor: Uuid,
    actor_name: Option<String>,
    device: Uuid,
    action: String,
    case_id: Uuid,
    evidence_id: Option<Uuid>,
    reason: Option<String>,
}

fn entry(store: &Store, a: AccessRecord) -> Result<Entry> {
    let actor_name = store.member(a.actor)?.map(|m| m.name);
    Ok(Entry {
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

/// `case access-log CASE`: who, when, what, which item, why; oldest first.
pub fn access_log(ctx: &mut Ctx, a: &AccessLogArgs, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let case = store.resolve_case(&a.case)?;
    let entries = store.access_log(case)?.into_iter().map(|r| entry(&store, r)).collect::<Result<Vec<_>>>()?;
    if a.json {
        return output::json(out, &entries);
    }
    if entries.is_empty() {
        writeln!(out, "no accesses recorded for this case")?;
        return Ok(());
    }
    let mut t = Table::new(&["WHEN", "WHO", "WHAT", "ITEM", "WHY"]);
    for e in &entries {
        t.row(vec![
            output::time(&e.at),
            e.actor_name.clone().unwrap_or_else(|| e.actor.to_string()),
            e.action.clone(),
            e.evidence_id.map(|id| id.to_string()).unwrap_or_else(|| "(case)".into()),
            e.reason.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.write(out)?;
    Ok(())
}

/// `case disclose CASE MEMBER --reason TEXT`: police staff record that a contributor's identity
/// may be disclosed in court material for the case.
pub fn disclose(ctx: &mut Ctx, a: &DiscloseArgs, out: &mut dyn Write) -> Result<()> {
    let member = Uuid::parse_str(a.member.trim()).map_err(|_| Error::Invalid {
        field: "member",
        reason: format!("'{}' is not a member id: use the contributor id shown by `casebridge evidence show ID`", a.member),
    })?;
    let mut store = ctx.open()?;
    if !is_police_staff(&store) {
        return Err(Error::Invalid {
            field: "role",
            reason: "only investigators and supervisors can record a disclosure; nothing was recorded".into(),
        }
        .into());
    }
    let case = store.resolve_case(&a.case)?;
    let Some(who) = store.member(member)? else {
        return Err(Error::Invalid {
            field: "member",
            reason: format!(
                "{member} is not known to this store: use the contributor id shown by `casebridge evidence show ID`; nothing was recorded"
            ),
        }
        .into());
    };
    store.record_disclosure(case, member, &a.reason)?;
    writeln!(out, "recorded: the identity of {} ({member}) may be disclosed in court material for case {case}", output::line(&who.name))?;
    Ok(())
}
