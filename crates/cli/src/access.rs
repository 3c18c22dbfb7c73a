//! The access log (LED 2016/680 Art. 25): every view, export, report and redaction of case
//! material by police staff is recorded as a signed `access_recorded` event.
//! `casebridge case access-log CASE` reads it; `casebridge case disclose CASE MEMBER` records
//! that a contributor's identity may be shown in court material.
//!
//! Volunteers' views are not logged: they only ever see their own material.

use std::io::Write;

use casebridge_app::access;
use casebridge_core::Error;
use clap::Args;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::output::{self, Table};

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

/// Arguments of `access-log`.
#[derive(Args, Debug)]
pub struct AccessLogAllArgs {
    /// Only this case (id, unique id prefix, or agency reference)
    #[arg(long, value_name = "CASE")]
    pub case: Option<String>,
    /// Only accesses by this member id
    #[arg(long, value_name = "MEMBER")]
    pub member: Option<String>,
    /// Only accesses at or after this time, RFC 3339 with offset, e.g. 2026-03-01T00:00:00+01:00
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Write the signed entries (whole access chains) to this new file for the data-protection
    /// officer; `casebridge-verify --access-log FILE` checks it offline
    #[arg(long, value_name = "FILE", conflicts_with = "since")]
    pub out: Option<std::path::PathBuf>,
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

/// `case access-log CASE`: who, when, what, which item, why; oldest first.
pub fn access_log(ctx: &mut Ctx, a: &AccessLogArgs, out: &mut dyn Write) -> Result<()> {
    let entries = access::access_log(&ctx.open()?, &a.case)?;
    write_log(&entries, a.json, false, "no accesses recorded for this case", out)
}

/// `access-log [--case CASE] [--member M] [--since T] [--json]`: the access log of every case
/// this store holds, or one, oldest first.
pub fn access_log_all(ctx: &mut Ctx, a: &AccessLogAllArgs, out: &mut dyn Write) -> Result<()> {
    let member = match &a.member {
        Some(m) => {
            Some(Uuid::parse_str(m.trim()).map_err(|_| Error::Invalid { field: "member", reason: format!("'{m}' is not a member id") })?)
        }
        None => None,
    };
    let since = match &a.since {
        Some(t) => Some(chrono::DateTime::parse_from_rfc3339(t.trim()).map_err(|_| Error::Invalid {
            field: "since",
            reason: format!("'{t}' is not an RFC 3339 time with offset, e.g. 2026-03-01T00:00:00+01:00"),
        })?),
        None => None,
    };
    if let Some(path) = &a.out {
        let done = access::export_log(&ctx.open()?, a.case.as_deref(), member, path)?;
        if a.json {
            return output::json(out, &done);
        }
        writeln!(out, "wrote {} access entries to {}", done.entries, done.path.display())?;
        writeln!(out, "check it offline with: casebridge-verify --access-log {}", done.path.display())?;
        return Ok(());
    }
    let filter = access::AccessFilter { case: a.case.clone(), member, since };
    let entries = access::access_log_filtered(&ctx.open()?, &filter)?;
    write_log(&entries, a.json, true, "no accesses recorded that match", out)
}

fn write_log(entries: &[access::AccessEntry], json: bool, with_case: bool, none: &str, out: &mut dyn Write) -> Result<()> {
    if json {
        return output::json(out, &entries);
    }
    if entries.is_empty() {
        writeln!(out, "{none}")?;
        return Ok(());
    }
    let mut head = vec!["WHEN", "WHO", "WHAT", "ITEM", "WHY"];
    if with_case {
        head.insert(1, "CASE");
    }
    let mut t = Table::new(&head);
    for e in entries {
        let mut row = vec![
            output::time(&e.at),
            e.actor_name.clone().unwrap_or_else(|| e.actor.to_string()),
            e.action.clone(),
            match (e.evidence_id, e.item_ids.len()) {
                (Some(id), _) => id.to_string(),
                (None, 0) => "(case)".into(),
                (None, n) => format!("{n} item(s)"),
            },
            e.reason.clone().unwrap_or_else(|| "-".into()),
        ];
        if with_case {
            row.insert(1, e.case_id.to_string());
        }
        t.row(row);
    }
    t.write(out)?;
    let bad = entries.iter().filter(|e| matches!(e.status, access::AccessStatus::Gap | access::AccessStatus::Broken)).count();
    if bad > 0 {
        writeln!(out, "WARNING: {bad} entr(ies) follow a gap in or do not link into their author's access chain; run `casebridge check`")?;
    }
    Ok(())
}

/// `case disclose CASE MEMBER --reason TEXT`: a supervisor approves that a contributor's
/// identity may be disclosed in court material for the case.
pub fn disclose(ctx: &mut Ctx, a: &DiscloseArgs, out: &mut dyn Write) -> Result<()> {
    let member = Uuid::parse_str(a.member.trim()).map_err(|_| Error::Invalid {
        field: "member",
        reason: format!("'{}' is not a member id: use the contributor id shown by `casebridge evidence show ID`", a.member),
    })?;
    let mut store = ctx.open()?;
    let (case, who) = access::disclose(&mut store, &a.case, member, &a.reason).map_err(|e| match e.code.as_str() {
        // The only record disclose looks up by id (the case it resolves reports `unknown_case`).
        "not_found" => CliError::from(Error::Invalid {
            field: "member",
            reason: format!(
                "{member} is not known to this store: use the contributor id shown by `casebridge evidence show ID`; nothing was recorded"
            ),
        }),
        _ => e.into(),
    })?;
    writeln!(out, "recorded: the identity of {} ({member}) may be disclosed in court material for case {case}", output::line(&who.name))?;
    Ok(())
}
