//! Issue 12, "Volunteers never learn other members' ids": a volunteer is told of briefs,
//! withdrawals, decisions and custody only by notices the agency signs, and its client keeps a
//! notice only when the pinned agency key signed it and it is addressed to this profile.

use super::*;
use casebridge_core::{Notice, SubmitOptions};
use casebridge_trust::{Reason, NOTICE};

/// Every form a member id (or key) could take in bytes: hyphenated, simple hex, upper case,
/// raw 16 bytes.
fn id_forms(id: Uuid) -> Vec<Vec<u8>> {
    vec![
        id.hyphenated().to_string().into_bytes(),
        id.simple().to_string().into_bytes(),
        id.hyphenated().to_string().to_uppercase().into_bytes(),
        id.as_bytes().to_vec(),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The raw bytes of a member's whole feed, and every base64 item in it decoded (events,
/// notices, credentials): an id inside a base64 string would not show in the raw bytes.
async fn feed_bytes(env: &Env, token: &str) -> Vec<u8> {
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let raw = ok_bytes(env.get(&format!("/v1/feed?after={after}&limit=2"), token).await).await;
        let page: Feed = serde_json::from_slice(&raw).unwrap();
        out.extend_from_slice(&raw);
        for item in page.events.iter().chain(&page.notices).chain(&page.credentials) {
            let doc = B64.decode(item).unwrap();
            // A signed document's body is base64 too.
            if let Ok(d) = SignedDoc::parse(&doc) {
                out.extend_from_slice(&B64.decode(&d.body).unwrap());
            }
            out.extend_from_slice(&doc);
        }
        after = page.cursor;
        if !page.more {
            return out;
        }
    }
}

async fn ok_bytes(resp: reqwest::Response) -> Vec<u8> {
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap().to_vec()
}

/// Records in a store's journal (a refusal must add none).
fn journal_len(store: &Store) -> u64 {
    store.events_after(0, 1_000_000).unwrap().cursor
}

/// Uploads everything `member` holds of `case` (the agency skips what it holds).
async fn push(env: &Env, member: &mut Member, token: &str, case: Uuid, own_only: bool, name: &str) {
    let (id, bytes) = export_case(env, member, case, own_only, name);
    let done: UploadOutcome = ok(upload(env, token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteer_learns_no_other_members_id_from_briefs_reviews_or_custody() {
    let mut w = world().await;
    let mut nosy = w.env.enrol(Role::Volunteer).await;
    let nosy_token = w.env.login(&nosy).await;
    let staff = w.env.enrol(Role::Supervisor).await; // staff who see every case (issue 16: teams)
    let staff_token = w.env.login(&staff).await;

    // The investigator addresses a brief to both volunteers by id (staff know the ids).
    let named = w
        .inv
        .store
        .publish_brief(NewBrief {
            case: w.case,
            title: "Dashcam on the ring road".into(),
            text: "Between 9 and 10".into(),
            audience: vec![w.vol.id, nosy.id],
            ..Default::default()
        })
        .unwrap();
    push(&w.env, &mut w.inv, &w.inv_token, w.case, true, "inv2.cbb").await;

    // The volunteer is told of it by the agency and answers it (the honest control).
    let notices = feed_docs(&w.env, &w.vol_token, None).await;
    casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, &notices).unwrap();
    let seen = w.vol.store.brief(named).unwrap();
    assert!(seen.from_agency, "the volunteer knows the brief from the agency's notice");
    assert_eq!(seen.published_by, Some(w.public.agency_id), "the agency, not the investigator, is its publisher");
    assert_eq!(seen.audience, vec![w.vol.id], "addressed to this volunteer, and nobody else is named");
    assert_eq!((seen.title.as_str(), seen.body.as_str()), ("Dashcam on the ring road", "Between 9 and 10"));
    let photo = w.env.tmp.path().join("dashcam.jpg");
    std::fs::write(&photo, b"a dashcam still from the ring road").unwrap();
    let sub = w.vol.store.submit(named, &[photo], &SubmitOptions::default(), &mut |_| true).unwrap();
    push(&w.env, &mut w.vol, &w.vol_token, w.case, true, "vol.cbb").await;

    // The investigator's side links the submission to the brief; it reviews, then withdraws.
    let events = feed(&w.env, &w.inv_token).await;
    assert!(events.iter().any(
        |e| matches!(&e.body().kind, EventKind::SubmissionMade { brief_id, submission_id, .. } if *brief_id == named && *submission_id == sub.id)
    ));
    let item = &sub.items[0];
    let content = ok_bytes(w.env.get(&format!("/v1/content/{}", item.sha256), &w.inv_token).await).await;
    w.inv.store.import_content(&mut content.as_slice(), &item.sha256, item.size, &mut |_| true).unwrap();
    w.inv.store.import_events(&events, vec![]).unwrap();
    assert_eq!(w.inv.store.submission(sub.id).unwrap().brief_id, named);
    w.inv.store.review(sub.id, ReviewDecision::Accepted, &[], Some("clear plate".into())).unwrap();
    w.inv.store.withdraw_brief(named).unwrap();
    push(&w.env, &mut w.inv, &w.inv_token, w.case, true, "inv3.cbb").await;

    // After the whole story: the volunteer's feed names no other member, in any form.
    let bytes = feed_bytes(&w.env, &w.vol_token).await;
    let inv_key = w.inv.store.whoami().public_key.clone();
    for (who, id) in [("the investigator", w.inv.id), ("the other volunteer", nosy.id), ("another investigator", staff.id)] {
        for form in id_forms(id) {
            assert!(!contains(&bytes, &form), "the volunteer's feed holds {who}'s member id");
        }
    }
    assert!(!contains(&bytes, inv_key.as_bytes()), "the volunteer's feed holds the investigator's key");
    assert!(!contains(&bytes, w.inv.store.whoami().device_id.to_string().as_bytes()), "… or device");
    assert!(feed(&w.env, &w.vol_token).await.is_empty(), "a volunteer is sent no events at all");

    // What the volunteer now holds: the decision, the custody trail and the withdrawal, all
    // from the agency.
    let notices = feed_docs(&w.env, &w.vol_token, None).await;
    casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, &notices).unwrap();
    let mine = w.vol.store.submission(sub.id).unwrap();
    assert_eq!(mine.state.as_str(), "accepted");
    assert_eq!(mine.items[0].reason.as_deref(), Some("clear plate"));
    assert!(mine.decisions.iter().all(|d| d.by == w.public.agency_id), "the agency decided, as the volunteer sees it");
    let custody: Vec<CustodyAction> = w.vol.store.custody(item.evidence_id).unwrap().iter().map(|c| c.action).collect();
    assert_eq!(custody, [CustodyAction::Submitted, CustodyAction::Received, CustodyAction::Accepted]);
    assert!(w.vol.store.brief(named).unwrap().withdrawn);
    // A second delivery of the same notices (a re-pulled page) changes no record.
    let before = w.vol.store.submission(sub.id).unwrap();
    casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, &notices).unwrap();
    assert_eq!(w.vol.store.submission(sub.id).unwrap(), before);
    assert_eq!(w.vol.store.custody(item.evidence_id).unwrap().len(), 3);
    let check = w.vol.store.check(true, &mut |_| {}).unwrap();
    assert!(check.ok, "{:?}", check.problems);

    // Nor does a bundle of everything the volunteer holds of the case (unsealed, so its bytes
    // can be read): notices are this profile's own bookkeeping and never travel.
    let out = w.env.tmp.path().join("vol-all.cbb");
    let opts = casebridge_trust::bundle::ExportOptions {
        case: w.case,
        since: None,
        agency: &w.public,
        credential: &w.vol.credential,
        seal: false,
        own_only: false,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    casebridge_trust::bundle::export(&mut w.vol.store, &opts, &out, &mut |_| true).unwrap();
    let bundle = std::fs::read(&out).unwrap();
    for id in [w.inv.id, nosy.id, staff.id] {
        for form in id_forms(id) {
            assert!(!contains(&bundle, &form), "the volunteer's bundle holds another member's id");
        }
    }

    // The other volunteer is told of the brief too, addressed to them alone.
    let theirs = feed_docs(&w.env, &nosy_token, None).await;
    casebridge_trust::profile::store_notices(&mut nosy.store, &w.public, &theirs).unwrap();
    assert_eq!(nosy.store.brief(named).unwrap().audience, vec![nosy.id]);
    assert!(nosy.store.submission(sub.id).is_err(), "never another volunteer's submission");

    // Staff keep the investigator's own events: author and audience.
    let events = feed(&w.env, &staff_token).await;
    let published = events.iter().find(|e| matches!(&e.body().kind, EventKind::BriefPublished { brief_id, .. } if *brief_id == named));
    let published = published.expect("staff are sent the brief's event");
    assert_eq!(published.body().author, w.inv.id);
    assert!(matches!(&published.body().kind, EventKind::BriefPublished { audience, .. } if *audience == vec![w.vol.id, nosy.id]));
    assert!(feed_docs(&w.env, &staff_token, None).await.is_empty(), "staff are sent no notices");
    drop(staff.store);
    w.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_notice_is_refused_and_nothing_is_kept() {
    let mut w = world().await;
    let mut nosy = w.env.enrol(Role::Volunteer).await;
    let nosy_token = w.env.login(&nosy).await;
    let brief = w
        .inv
        .store
        .publish_brief(NewBrief {
            case: w.case,
            title: "Only for the other volunteer".into(),
            text: "x".into(),
            audience: vec![nosy.id],
            ..Default::default()
        })
        .unwrap();
    push(&w.env, &mut w.inv, &w.inv_token, w.case, true, "inv2.cbb").await;
    let theirs = feed_docs(&w.env, &nosy_token, None).await;
    let genuine = theirs.last().unwrap().clone();
    let mut notice: Notice = genuine.open(NOTICE, None).unwrap();
    assert_eq!(notice.to, nosy.id);
    let before = journal_len(&w.vol.store);

    // 1. A genuine notice, signed by the agency, addressed to another volunteer.
    let err = casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, std::slice::from_ref(&genuine)).unwrap_err();
    assert_eq!(err.reason, Reason::NoticeNotForYou, "{err}");
    assert!(!err.message.contains(&nosy.id.to_string()), "the refusal does not tell whom it was for");

    // 2. The same notice re-addressed to this volunteer, signed by another key (an endpoint
    //    or network attacker without the agency's root key).
    notice.to = w.vol.id;
    let rogue = ring::signature::Ed25519KeyPair::from_pkcs8(
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap().as_ref(),
    )
    .unwrap();
    let forged = SignedDoc::sign(NOTICE, &notice, &rogue);
    let err = casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, std::slice::from_ref(&forged)).unwrap_err();
    assert_eq!(err.reason, Reason::NoticeNotFromAgency, "{err}");

    // 3. The agency's key named, the body altered after signing.
    let mut altered = genuine.clone();
    altered.body = B64.encode(serde_json::to_vec(&notice).unwrap());
    let err = casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, std::slice::from_ref(&altered)).unwrap_err();
    assert_eq!(err.reason, Reason::BadSignature, "{err}");

    // 4. A refused notice in a page keeps none of the page (the honest one before it too).
    let honest = feed_docs(&w.env, &w.vol_token, None).await;
    let mut page = honest.clone();
    page.push(forged);
    let err = casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, &page).unwrap_err();
    assert_eq!(err.reason, Reason::NoticeNotFromAgency, "{err}");

    assert_eq!(journal_len(&w.vol.store), before, "a refused notice stores nothing");
    assert!(w.vol.store.brief(brief).is_err(), "the volunteer never learned of another's brief");

    // Control: the notices the agency sent each volunteer are kept.
    assert_eq!(casebridge_trust::profile::store_notices(&mut w.vol.store, &w.public, &honest).unwrap(), honest.len());
    assert_eq!(casebridge_trust::profile::store_notices(&mut nosy.store, &w.public, &theirs).unwrap(), theirs.len());
    assert!(nosy.store.brief(brief).unwrap().from_agency);
    w.env.stop().await;
}
