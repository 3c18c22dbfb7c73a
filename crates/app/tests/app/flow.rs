//! The whole loop through two sessions and a real agency endpoint on 127.0.0.1:0: enrol with
//! invite codes, an investigator publishes a brief, a volunteer fetches it and submits, the
//! investigator reviews, and both see the outcome; sync runs as a background job.

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use casebridge_agency::serve;
use casebridge_app::{AppEvent, BriefInput, ReviewDecision, Role, RoundReport, Session, SubmitInput, SyncEvent};
use casebridge_testkit::endpoint::serve_config;
use casebridge_testkit::fixtures::new_agency;

use crate::{file, unlocked, wait_for};

async fn invite(dir: &std::path::Path, role: casebridge_protocol::Role) -> String {
    casebridge_testkit::endpoint::invite(dir, role, 3600).await.code
}

/// Runs a sync round through the session's job and returns its report and events.
fn sync(session: &Arc<Session>, events: &Receiver<AppEvent>) -> (RoundReport, Vec<SyncEvent>) {
    session.sync_now().unwrap();
    let mut seen = Vec::new();
    let done = wait_for(events, |e| match e {
        AppEvent::Sync(ev) => {
            seen.push(ev);
            None
        }
        AppEvent::SyncDone(d) => Some(d),
        _ => None,
    });
    assert!(done.ok, "sync failed: {:?}", done.error);
    (done.report.unwrap(), seen)
}

#[test]
fn enrol_brief_submit_review_through_a_real_endpoint() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let inv = unlocked(Role::Investigator);
    let vol = unlocked(Role::Volunteer);
    let agency_dir = inv.tmp.path().join("agency");
    drop(new_agency(&agency_dir, "Test Police"));
    let server = rt.block_on(serve(serve_config(&agency_dir))).unwrap();

    // Sync before enrolling says what to do.
    inv.session.sync_now().unwrap();
    let done = wait_for(&inv.events, |e| if let AppEvent::SyncDone(d) = e { Some(d) } else { None });
    assert_eq!(done.error.unwrap().code, "not_enrolled");

    // Enrol both with invite codes.
    let code = rt.block_on(invite(&agency_dir, casebridge_protocol::Role::Investigator));
    let enrolled = rt.block_on(inv.session.enrol(&code)).unwrap();
    assert_eq!((enrolled.agency.as_str(), enrolled.role), ("Test Police", Role::Investigator));
    assert!(inv.session.app_info().unwrap().enrolled);
    assert_eq!(rt.block_on(vol.session.enrol(&code)).unwrap_err().code, "invite_used", "an invite works once");
    let code = rt.block_on(invite(&agency_dir, casebridge_protocol::Role::Volunteer));
    assert_eq!(rt.block_on(vol.session.enrol("cbinv1.garbage")).unwrap_err().code, "invalid_invite");
    rt.block_on(vol.session.enrol(&code)).unwrap();

    // The investigator publishes a brief; sync sends it.
    let case = inv.session.case_create("Bike thefts", Some("internal summary".into()), None, vec![]).unwrap();
    let brief = inv
        .session
        .brief_publish(BriefInput {
            case_id: case.clone(),
            title: "Footage wanted".into(),
            body: "Dashcams on Main St".into(),
            area: Some(casebridge_app::Area { lat: 52.52, lon: 13.405, radius_m: 500.0 }),
            from: Some("2026-03-14T09:00:00+01:00".into()),
            until: None,
            audience: vec!["all".into()],
        })
        .unwrap();
    let withdrawn = inv
        .session
        .brief_publish(BriefInput { case_id: case.clone(), title: "Old ask".into(), body: "no longer".into(), ..Default::default() })
        .unwrap();
    inv.session.brief_withdraw(&withdrawn).unwrap();
    assert_eq!(inv.session.briefs_list(false).unwrap().len(), 1);
    assert!(inv.session.briefs_list(true).unwrap().iter().any(|b| b.id.to_string() == withdrawn && b.withdrawn));
    let (report, events) = sync(&inv.session, &inv.events);
    assert_eq!((report.exported, report.uploaded, report.receipts), (1, 1, 1));
    assert!(events.iter().any(|e| matches!(e, SyncEvent::Uploaded { .. })), "{events:?}");
    assert_eq!(inv.session.receipts_list().unwrap().len(), 1);

    // The volunteer fetches it and submits a file; the submission is sealed into the outbox.
    sync(&vol.session, &vol.events);
    let briefs = vol.session.briefs_list(false).unwrap();
    assert_eq!(briefs.iter().map(|b| b.id.to_string()).collect::<Vec<_>>(), vec![brief.clone()]);
    assert!(vol.session.cases_list(None, None, casebridge_app::CaseSort::Updated).unwrap().is_empty(), "no case data reaches a volunteer");
    // A volunteer's search covers what they hold: the brief addressed to them, never the
    // case's title or summary, nor the withdrawn brief.
    let hits = vol.session.search("dashcams", None).unwrap();
    assert_eq!(
        hits.iter().map(|h| (h.kind, h.id.to_string())).collect::<Vec<_>>(),
        [(casebridge_app::search::HitKind::Brief, brief.clone())]
    );
    assert_eq!(hits[0].case_title, None, "the volunteer does not hold the case");
    for word in ["internal", "bike", "old ask"] {
        assert!(vol.session.search(word, None).unwrap().is_empty(), "a volunteer found '{word}'");
    }
    assert_eq!(inv.session.search("internal", None).unwrap().len(), 1, "the investigator holds the summary");
    let photo = file(vol.tmp.path(), "dashcam.mp4", 200_000, 7);
    let sub = vol
        .session
        .submit(SubmitInput {
            brief_id: brief.clone(),
            paths: vec![photo],
            description: Some("the van at 09:14".into()),
            captured_at: Some("2026-03-14T09:14:00+01:00".into()),
            location: Some(casebridge_app::GeoPoint { lat: 52.52, lon: 13.41 }),
        })
        .unwrap();
    assert_eq!((sub.state.as_str(), sub.items.len()), ("pending", 1));
    let status = vol.session.sync_status().unwrap();
    assert!(status.pending >= 1 && status.pending_bytes > 0, "{status:?}");
    let (report, _) = sync(&vol.session, &vol.events);
    assert!(report.uploaded >= 1 && report.receipts == report.uploaded, "{report:?}");
    assert!(vol.session.receipts_list().unwrap().iter().all(|r| r.verified));

    // The investigator fetches the submission with its content and accepts it.
    let (report, _) = sync(&inv.session, &inv.events);
    assert_eq!(report.content_fetched, 1, "{report:?}");
    let subs = inv.session.submissions_list().unwrap();
    assert_eq!(subs.len(), 1);
    assert!(subs[0].items[0].held);
    let decided = inv.session.review_decide(&subs[0].id.to_string(), ReviewDecision::Accepted, &[], Some("useful".into())).unwrap();
    assert_eq!(decided.state.as_str(), "accepted");

    // The evidence list carries the review state; acted_by is who acted on the case.
    let items = inv.session.evidence_list(&case).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].review_state.map(casebridge_app::ReviewState::as_str), Some("accepted"));
    let detail = inv.session.case_get(&case).unwrap();
    assert_eq!(detail.evidence[0].review_state.map(casebridge_app::ReviewState::as_str), Some("accepted"));
    let acted = |who: uuid::Uuid| detail.acted_by.iter().find(|m| m.member_id == who).map(|m| m.acted.clone()).unwrap_or_default();
    let inv_id = inv.session.app_info().unwrap().whoami.unwrap().member_id;
    assert_eq!(acted(inv_id), ["opened", "reviewed"]);
    assert_eq!(acted(subs[0].submitter), ["submitted"]);

    // The investigator exports the whole case to a file (a job with progress). What sync had
    // not yet sent (the decision) is sealed into the outbox first, so sync still delivers it.
    let out = inv.tmp.path().join("case.cbb");
    let job = inv.session.case_export(&case, &out.display().to_string()).unwrap();
    let mut last = None;
    let done = wait_for(&inv.events, |e| match e {
        AppEvent::JobProgress(p) if p.job == job => {
            assert_eq!(p.name, "case.cbb");
            last = Some((p.done, p.total));
            None
        }
        AppEvent::JobDone(d) if d.job == job => Some(d),
        _ => None,
    });
    assert!(done.ok, "{:?}", done.error);
    assert_eq!(last, Some((200_000, 200_000)), "the bar ends full");
    assert!(std::fs::metadata(&out).unwrap().len() > 200_000);
    assert!(inv.session.sync_status().unwrap().pending >= 1, "the decision waits in the outbox");
    // Issue 16: the desktop's reads are in the access log, one entry per view naming what it
    // showed, and the export wrote custody `transferred` for the item it carried.
    let item = items[0].evidence.id;
    let log = inv.session.access_log(Some(&case), None, None).unwrap();
    let exported: Vec<_> = log.iter().filter(|e| e.action == "bundle_exported").collect();
    assert_eq!(exported.len(), 1, "{log:?}");
    assert_eq!(exported[0].item_ids, [item]);
    assert!(log.iter().any(|e| e.action == "listed_submissions" && e.item_ids == [subs[0].id]), "{log:?}");
    assert!(log.iter().any(|e| e.action == "listed_evidence" && e.item_ids == [item]), "{log:?}");
    assert!(log.iter().all(|e| e.status == casebridge_app::access::AccessStatus::Chained), "{log:?}");
    let trail = inv.session.evidence_custody(&item.to_string()).unwrap();
    assert_eq!(trail.last().unwrap().action.as_str(), "transferred", "{trail:?}");
    inv.session.cases_list(None, None, casebridge_app::CaseSort::Updated).unwrap();
    let listed = inv.session.access_log(None, None, None).unwrap();
    assert!(listed.iter().any(|e| e.action == "listed_cases" && e.case_id.is_nil()), "the case list is logged too: {listed:?}");
    assert_eq!(inv.session.access_log(None, Some("nobody"), None).unwrap_err().code, "invalid_input");
    assert_eq!(inv.session.case_export(&case, &out.display().to_string()).unwrap_err().code, "exists");
    // Cancelled: no file, no partial file.
    let gone = inv.tmp.path().join("cancelled.cbb");
    let case_id: uuid::Uuid = case.parse().unwrap();
    let err = inv.session.with_store(|st| casebridge_app::export::case_bundle(st, case_id, &gone, &mut |_| false)).unwrap_err();
    assert_eq!(err.code, "cancelled");
    assert!(
        !gone.exists()
            && std::fs::read_dir(inv.tmp.path()).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().ends_with(".partial"))
    );
    sync(&inv.session, &inv.events);

    // The volunteer sees the decision.
    sync(&vol.session, &vol.events);
    let mine = vol.session.submissions_list().unwrap();
    assert_eq!(mine[0].state.as_str(), "accepted");
    assert_eq!(mine[0].decisions.len(), 1);
    let status = vol.session.sync_status().unwrap();
    assert!(status.online && !status.running && status.last_error.is_none() && status.pending == 0, "{status:?}");

    // With the endpoint gone, a round retries; cancelling it stops it without damage, and the
    // outcome is kept for `sync status`.
    rt.block_on(server.shutdown()).unwrap();
    inv.session.case_create("Another", None, None, vec![]).unwrap();
    inv.session.sync_now().unwrap();
    inv.session.sync_now().unwrap(); // a second call while one runs does nothing
    let retry = wait_for(&inv.events, |e| if let AppEvent::Sync(ev @ SyncEvent::Retrying { .. }) = e { Some(ev) } else { None });
    assert!(matches!(retry, SyncEvent::Retrying { attempt: 1, .. }), "{retry:?}");
    assert!(inv.session.sync_status().unwrap().running);
    inv.session.job_cancel(casebridge_app::SYNC_JOB).unwrap();
    let done = wait_for(&inv.events, |e| if let AppEvent::SyncDone(d) = e { Some(d) } else { None });
    assert_eq!(done.error.unwrap().code, "cancelled");
    let status = inv.session.sync_status().unwrap();
    assert!(!status.running && status.last_error.is_some() && status.pending == 1, "{status:?}");
    assert!(inv.session.jobs().is_empty());
}

/// Issue 13, "sync always makes progress", as the desktop sees it: the volunteer's bundle is
/// refused (the brief was withdrawn before it arrived); the round still succeeds and pulls the
/// feed, the sync status lists the refused bundle with the reason, the submission shows as
/// refused, and a new submission to the next brief goes through.
#[test]
fn a_refused_bundle_is_set_aside_and_the_desktop_shows_why() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let inv = unlocked(Role::Investigator);
    let vol = unlocked(Role::Volunteer);
    let agency_dir = inv.tmp.path().join("agency");
    drop(new_agency(&agency_dir, "Test Police"));
    let server = rt.block_on(serve(serve_config(&agency_dir))).unwrap();
    let code = rt.block_on(invite(&agency_dir, casebridge_protocol::Role::Investigator));
    rt.block_on(inv.session.enrol(&code)).unwrap();
    let code = rt.block_on(invite(&agency_dir, casebridge_protocol::Role::Volunteer));
    rt.block_on(vol.session.enrol(&code)).unwrap();

    let case = inv.session.case_create("Bike thefts", None, None, vec![]).unwrap();
    let publish = |title: &str| {
        inv.session
            .brief_publish(BriefInput { case_id: case.clone(), title: title.into(), body: "b".into(), ..Default::default() })
            .unwrap()
    };
    let brief_a = publish("Footage wanted");
    sync(&inv.session, &inv.events);
    sync(&vol.session, &vol.events);

    // The volunteer answers A; the investigator withdraws A and publishes B before the
    // volunteer syncs.
    let submit = |brief: &str, seed: u64| {
        let photo = file(vol.tmp.path(), &format!("photo{seed}.jpg"), 50_000, seed);
        vol.session.submit(SubmitInput { brief_id: brief.into(), paths: vec![photo], ..Default::default() }).unwrap()
    };
    let refused_sub = submit(&brief_a, 1);
    inv.session.brief_withdraw(&brief_a).unwrap();
    let brief_b = publish("Doorbell cameras wanted");
    sync(&inv.session, &inv.events);

    let (report, events) = sync(&vol.session, &vol.events);
    assert_eq!((report.uploaded, report.refused), (0, 1), "{report:?}");
    let refused_event = events.iter().find_map(|e| match e {
        SyncEvent::Refused { status, code, message, .. } => Some((*status, code.clone(), message.clone())),
        _ => None,
    });
    let (status, code, message) = refused_event.unwrap_or_else(|| panic!("a refused event: {events:?}"));
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(message.contains("withdrawn"), "{message}");

    let st = vol.session.sync_status().unwrap();
    assert!(st.last_error.is_none() && st.pending == 0, "{st:?}");
    assert_eq!(st.refused.len(), 1, "{st:?}");
    assert_eq!((st.refused[0].status, st.refused[0].code.as_str()), (403, "forbidden"));
    assert_eq!(st.refused[0].carried.submissions, [refused_sub.id]);
    let mine = vol.session.submissions_list().unwrap();
    let shown = mine.iter().find(|s| s.id == refused_sub.id).unwrap();
    assert_eq!(shown.state.as_str(), "refused");
    assert!(shown.items.iter().all(|i| i.state.as_str() == "refused"));
    let refusal = shown.refused.as_ref().unwrap();
    assert_eq!(refusal.bundle_id, st.refused[0].bundle_id);
    assert!(refusal.message.contains("withdrawn"), "{refusal:?}");

    // The feed was pulled: B is there; a submission to it goes through.
    let briefs: Vec<String> = vol.session.briefs_list(false).unwrap().iter().map(|b| b.id.to_string()).collect();
    assert_eq!(briefs, std::slice::from_ref(&brief_b));
    let accepted = submit(&brief_b, 2);
    let (report, _) = sync(&vol.session, &vol.events);
    assert_eq!((report.uploaded, report.refused), (1, 0), "{report:?}");
    sync(&inv.session, &inv.events);
    let ids: Vec<uuid::Uuid> = inv.session.submissions_list().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, [accepted.id]);
    assert!(inv.session.submissions_list().unwrap()[0].refused.is_none());
    rt.block_on(server.shutdown()).unwrap();
}
