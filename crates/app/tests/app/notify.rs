//! Issue 17, notifications, through real sessions and a real agency endpoint on 127.0.0.1:0:
//! what each sync round brings in becomes at most one counted notification per kind; every
//! string of the case, its briefs, the volunteer's files and the reviewer's reasons holds a
//! marker, and none reaches a volunteer's notification; an investigator off the case's team
//! hears nothing of it; the setting off silences a round that does bring something in.
//! And what a round tells the desktop of a removal from a case's team (`removed_from_teams`).

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use casebridge_agency::serve;
use casebridge_app::notify::{Notification, NotificationKind};
use casebridge_app::{AppEvent, BriefInput, ReviewDecision, Role, Session, SubmitInput};
use casebridge_testkit::endpoint::serve_config;
use casebridge_testkit::fixtures::new_agency;

use crate::{file, unlocked, wait_for};

const MARK: &str = "zqxmark";

/// Runs a sync round; returns the notifications it emitted (the round must succeed).
fn sync(session: &Arc<Session>, events: &Receiver<AppEvent>) -> Vec<Notification> {
    session.sync_now().unwrap();
    let mut shown = Vec::new();
    let done = wait_for(events, |e| match e {
        AppEvent::Notification(n) => {
            shown.push(n);
            None
        }
        AppEvent::SyncDone(d) => Some(d),
        _ => None,
    });
    assert!(done.ok, "sync failed: {:?}", done.error);
    shown
}

fn kinds(ns: &[Notification]) -> Vec<(NotificationKind, usize, String)> {
    ns.iter().map(|n| (n.kind, n.count, n.body.clone())).collect()
}

fn assert_no_marker(ns: &[Notification]) {
    for n in ns {
        let all = format!("{} {} {:?}", n.title, n.body, n).to_lowercase();
        assert!(!all.contains(MARK), "a notification shows case content: {n:?}");
    }
}

#[test]
fn sync_rounds_notify_counted_without_case_content_and_only_whom_the_case_concerns() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let lead = unlocked(Role::Investigator);
    let other = unlocked(Role::Investigator);
    let vol = unlocked(Role::Volunteer);
    let agency_dir = lead.tmp.path().join("agency");
    drop(new_agency(&agency_dir, "Test Police"));
    let _server = rt.block_on(serve(serve_config(&agency_dir))).unwrap();
    for (env, role) in [
        (&lead, casebridge_protocol::Role::Investigator),
        (&other, casebridge_protocol::Role::Investigator),
        (&vol, casebridge_protocol::Role::Volunteer),
    ] {
        let code = rt.block_on(casebridge_testkit::endpoint::invite(&agency_dir, role, 3600)).code;
        rt.block_on(env.session.enrol(&code)).unwrap();
        assert!(env.session.app_info().unwrap().notifications, "notifications are on by default");
    }

    // A case whose every field holds the marker, and two briefs on it.
    let case = lead
        .session
        .case_create("ZQXMARK case title", Some("ZQXMARK summary".into()), Some("ZQXMARK-REF-1".into()), vec!["zqxmark-tag".into()])
        .unwrap();
    let brief = |n: u32| BriefInput {
        case_id: case.clone(),
        title: format!("ZQXMARK brief title {n}"),
        body: format!("ZQXMARK brief text {n}"),
        area: Some(casebridge_app::Area { lat: 52.52, lon: 13.405, radius_m: 500.0 }),
        audience: vec!["all".into()],
        ..Default::default()
    };
    let first = lead.session.brief_publish(brief(1)).unwrap();
    lead.session.brief_publish(brief(2)).unwrap();
    assert!(sync(&lead.session, &lead.events).is_empty(), "nobody is told of their own briefs");

    // The volunteer: one notification for two briefs, without a word of them.
    let shown = sync(&vol.session, &vol.events);
    assert_eq!(kinds(&shown), [(NotificationKind::Briefs, 2, "2 new requests for help".to_string())]);
    assert_no_marker(&shown);
    assert!(sync(&vol.session, &vol.events).is_empty(), "a round that brings nothing new shows nothing");
    // The investigator off the team hears nothing of the case.
    assert!(sync(&other.session, &other.events).is_empty());

    // Three submissions with marked file names and descriptions.
    for i in 0..3u64 {
        let photo = file(vol.tmp.path(), &format!("ZQXMARK-evidence-{i}.mp4"), 4_000, i);
        vol.session
            .submit(SubmitInput {
                brief_id: first.clone(),
                paths: vec![photo],
                description: Some(format!("ZQXMARK description {i}")),
                captured_at: None,
                location: Some(casebridge_app::GeoPoint { lat: 52.52, lon: 13.41 }),
            })
            .unwrap();
    }
    assert!(sync(&vol.session, &vol.events).is_empty(), "sending one's own submissions shows nothing");

    // The lead: one counted notification naming no case, brief or volunteer.
    let shown = sync(&lead.session, &lead.events);
    assert_eq!(kinds(&shown), [(NotificationKind::Submissions, 3, "3 new submissions to review".to_string())]);
    assert_no_marker(&shown);
    assert!(sync(&other.session, &other.events).is_empty(), "off the team: nothing");

    // Decisions with marked reasons: the volunteer is told that, and how many, nothing more.
    for s in lead.session.submissions_list().unwrap() {
        lead.session.review_decide(&s.id.to_string(), ReviewDecision::Rejected, &[], Some("ZQXMARK reviewer reason".into())).unwrap();
    }
    assert!(sync(&lead.session, &lead.events).is_empty(), "one's own decisions show nothing");
    let shown = sync(&vol.session, &vol.events);
    assert_eq!(kinds(&shown), [(NotificationKind::Decisions, 3, "3 submissions were reviewed".to_string())]);
    assert_no_marker(&shown);
    assert!(vol.session.submissions_list().unwrap().iter().all(|s| s.decisions.len() == 1), "the round did bring the decisions");

    // The setting off: a round that brings a new brief shows nothing.
    vol.session.set_notifications(false).unwrap();
    assert!(!vol.session.app_info().unwrap().notifications);
    lead.session.brief_publish(brief(3)).unwrap();
    sync(&lead.session, &lead.events);
    assert!(sync(&vol.session, &vol.events).is_empty());
    assert_eq!(vol.session.briefs_list(false).unwrap().len(), 3, "the round did bring the brief");
    // On again: the next new brief is announced.
    vol.session.set_notifications(true).unwrap();
    lead.session.brief_publish(brief(4)).unwrap();
    sync(&lead.session, &lead.events);
    let shown = sync(&vol.session, &vol.events);
    assert_eq!(kinds(&shown), [(NotificationKind::Briefs, 1, "A new request for help".to_string())]);
    assert_no_marker(&shown);

    // The UI in German: the next one is written in German, still naming nothing; a language
    // notifications are not written in is refused and changes nothing.
    assert_eq!(vol.session.set_language("de-AT").unwrap(), casebridge_app::notify::Language::De);
    assert_eq!(vol.session.set_language("fr").unwrap_err().code.as_str(), "invalid_input");
    lead.session.brief_publish(brief(5)).unwrap();
    sync(&lead.session, &lead.events);
    let shown = sync(&vol.session, &vol.events);
    assert_eq!(kinds(&shown), [(NotificationKind::Briefs, 1, "Eine neue Bitte um Hilfe".to_string())]);
    assert_no_marker(&shown);
}

/// Runs a sync round; returns its report (the round must succeed).
fn round(session: &Arc<Session>, events: &Receiver<AppEvent>) -> casebridge_app::RoundReport {
    session.sync_now().unwrap();
    let done = wait_for(events, |e| match e {
        AppEvent::SyncDone(d) => Some(d),
        _ => None,
    });
    assert!(done.ok, "sync failed: {:?}", done.error);
    done.report.expect("a successful round reports")
}

/// Issue 16, "the desktop says so": the round that takes an investigator off a case's team
/// names that case (from the `team_unassigned` the agency sends the member it names); a
/// round with no removal, and a removal undone in the same round, name nothing.
#[test]
fn the_round_that_takes_an_investigator_off_a_team_names_the_case() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let lead = unlocked(Role::Investigator);
    let colleague = unlocked(Role::Investigator);
    let agency_dir = lead.tmp.path().join("agency");
    drop(new_agency(&agency_dir, "Test Police"));
    let _server = rt.block_on(serve(serve_config(&agency_dir))).unwrap();
    for env in [&lead, &colleague] {
        let code = rt.block_on(casebridge_testkit::endpoint::invite(&agency_dir, casebridge_protocol::Role::Investigator, 3600)).code;
        rt.block_on(env.session.enrol(&code)).unwrap();
    }
    let them = colleague.session.with_store(|s| Ok(s.whoami().member_id)).unwrap();
    let case = lead.session.case_create("Bike thefts, Mitte", None, None, vec![]).unwrap();
    let stay = lead.session.case_create("Garage break-in", None, None, vec![]).unwrap();
    let change = |case: &str, assign: bool| {
        lead.session
            .with_store(|s| {
                let id = s.resolve_case(case)?;
                if assign {
                    s.assign(id, them)?;
                } else {
                    s.unassign(id, them)?;
                }
                Ok(())
            })
            .unwrap();
        round(&lead.session, &lead.events);
    };
    change(&case, true);
    change(&stay, true);
    assert_eq!(round(&colleague.session, &colleague.events).removed_from_teams, None, "assigned: nothing removed");

    change(&case, false);
    // Taken off and put back before the colleague syncs: still on the team, nothing said.
    change(&stay, false);
    change(&stay, true);
    assert_eq!(round(&colleague.session, &colleague.events).removed_from_teams, Some(vec!["Bike thefts, Mitte".to_string()]));
    assert_eq!(round(&colleague.session, &colleague.events).removed_from_teams, None, "said once");
}
