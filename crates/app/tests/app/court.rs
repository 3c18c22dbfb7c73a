//! Issue 17: court material from the desktop's session — the report and the package as jobs
//! (progress, done, cancel), checked before they start, and recorded in the access log.

use casebridge_app::court::ReportFormat;
use casebridge_app::{AppEvent, JobDone, Role};

use crate::{file, unlocked, wait_for};

fn done(rx: &std::sync::mpsc::Receiver<AppEvent>, job: &str) -> JobDone {
    wait_for(rx, |e| match e {
        AppEvent::JobDone(d) if d.job == job => Some(d),
        _ => None,
    })
}

#[test]
fn a_report_and_a_package_are_written_as_jobs_and_logged() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, Some("BER-7".into()), vec![]).unwrap();
    let photo = file(env.tmp.path(), "photo.bin", 300_000, 7);
    let job = s.evidence_import(&case, vec![photo.display().to_string()]).unwrap();
    assert!(done(&env.events, &job).ok);
    // Not enrolled: no agency to anchor to, said before the export.
    let info = s.court_info().unwrap();
    assert_eq!((info.agency_name, info.agency_root_fingerprint), (None, None));

    let pdf = env.tmp.path().join("report.pdf");
    let job = s.court_report(&case, &pdf.display().to_string(), ReportFormat::Pdf, Some("for the prosecutor".into())).unwrap();
    assert!(job.starts_with("report-"));
    let d = done(&env.events, &job);
    assert!(d.ok, "{:?}", d.error);
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));

    let pkg = env.tmp.path().join("package");
    let job = s.court_package(&case, &pkg.display().to_string(), Some("trial".into())).unwrap();
    let d = done(&env.events, &job);
    assert!(d.ok, "{:?}", d.error);
    assert!(pkg.join("SHA256SUMS").is_file() && pkg.join("manifest.json").is_file());

    // Both are in the case's access log, with their reasons.
    let log = s.with_store(|st| casebridge_app::access::access_log(st, &case)).unwrap();
    let acts: Vec<(&str, Option<&str>)> = log.iter().map(|e| (e.action.as_str(), e.reason.as_deref())).collect();
    assert!(acts.contains(&("report", Some("for the prosecutor"))), "{acts:?}");
    assert!(acts.contains(&("package", Some("trial"))), "{acts:?}");

    // Refused before a job starts, each with its own code; nothing is overwritten.
    let e = s.court_report(&case, &pdf.display().to_string(), ReportFormat::Html, None).unwrap_err();
    assert_eq!(e.code, "exists");
    let e = s.court_package(&case, &pkg.display().to_string(), None).unwrap_err();
    assert_eq!(e.code, "not_empty");
    assert_eq!(s.court_package(&case, "  ", None).unwrap_err().code, "invalid_input");
    let fresh = env.tmp.path().join("fresh").display().to_string();
    assert_eq!(s.court_package(&uuid::Uuid::nil().to_string(), &fresh, None).unwrap_err().code, "unknown_case");
    assert!(s.jobs().is_empty());
    // Cancelled (what the job's cancel flag does): code `cancelled`, nothing left behind.
    let gone = env.tmp.path().join("cancelled");
    let e = s
        .with_store(|st| {
            casebridge_app::court::package(st, &case, &gone, None, &mut |_, _| false).map_err(casebridge_app::court::package_error)
        })
        .unwrap_err();
    assert_eq!(e.code, "cancelled");
    assert!(!gone.exists() || std::fs::read_dir(&gone).unwrap().next().is_none(), "nothing is left in {}", gone.display());
    let gone = env.tmp.path().join("cancelled.pdf");
    let opts = casebridge_court::report::ReportOptions::default();
    let e = s
        .with_store(|st| {
            casebridge_app::court::report(st, &case, &gone, &opts, &mut |_, _| false).map_err(casebridge_app::court::report_error)
        })
        .unwrap_err();
    assert_eq!(e.code, "cancelled");
    assert!(std::fs::read_dir(env.tmp.path()).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with("cancelled")));
    s.lock();
    assert_eq!(s.court_report(&case, &fresh, ReportFormat::Pdf, None).unwrap_err().code, "locked");
}

/// Issue 16: the supervisor's Access log screen reads the log with the CLI's filters and exports
/// the signed entries for the data-protection officer; a used file is never overwritten.
#[test]
fn the_access_log_screen_filters_and_exports() {
    let env = unlocked(Role::Supervisor);
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, Some("BER-8".into()), vec![]).unwrap();
    s.case_get(&case).unwrap();
    s.evidence_list(&case).unwrap();
    let all = s.access_log(None, None, None).unwrap();
    assert!(all.len() >= 2, "{all:?}");
    assert!(all.iter().all(|e| e.status == casebridge_app::access::AccessStatus::Chained || e.case_id.is_nil()), "{all:?}");
    let one = s.access_log(Some("BER-8"), None, None).unwrap();
    assert!(!one.is_empty() && one.iter().all(|e| e.case_id.to_string() == case));
    assert!(s.access_log(None, None, Some("2999-01-01T00:00:00+00:00")).unwrap().is_empty());
    assert_eq!(s.access_log(None, Some("not-an-id"), None).unwrap_err().code, "invalid_input");

    let out = env.tmp.path().join("access-log.json");
    let n = s.access_log_export(None, None, &out.display().to_string()).unwrap();
    assert!(n >= 2, "{n}");
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    let before = std::fs::read(&out).unwrap();
    assert!(s.access_log_export(None, None, &out.display().to_string()).is_err(), "never overwritten");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(s.access_log_export(None, None, " ").unwrap_err().code, "invalid_input");
}
