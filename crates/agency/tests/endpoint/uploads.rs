//! Uploads end to end: an investigator publishes a brief, a volunteer sees it in the feed and
//! answers it; resumable uploads, receipts, custody "received", content by hash.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{EventKind, NewBrief, NewCase, NoticeKind, Role, SignedEvent, SubmitOptions};
use casebridge_protocol::{Feed, UploadBegin, UploadOutcome, UploadState};
use casebridge_trust::{profile, Receipt, SignedDoc};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::*;

/// After the server stopped: the agency store is whole (journal, index, every object).
fn assert_agency_store_whole(env: &Env) {
    let mut store = casebridge_testkit::deployment::open_store(&env.dir);
    let report = store.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
}

/// Uploads in one go; returns the outcome.
async fn upload(env: &Env, token: &str, bundle_id: Uuid, bytes: &[u8]) -> reqwest::Response {
    let state: UploadState = ok(env.post("/v1/uploads", token, &UploadBegin { bundle_id, size: bytes.len() as u64 }).await).await;
    let put = env
        .put(&format!("/v1/uploads/{}?offset={}", state.upload_id, state.received), token, bytes[state.received as usize..].to_vec())
        .await;
    assert_eq!(put.status(), StatusCode::OK, "{}", put.text().await.unwrap_or_default());
    complete(env, token, state.upload_id).await
}

async fn feed_events(env: &Env, token: &str) -> Vec<SignedEvent> {
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let page: Feed = ok(env.get(&format!("/v1/feed?after={after}&limit=3"), token).await).await;
        out.extend(page.events.iter().map(|e| SignedEvent::from_envelope(B64.decode(e).unwrap()).unwrap()));
        assert!(page.cursor >= after);
        after = page.cursor;
        if !page.more {
            return out;
        }
    }
}

/// The notices in a member's whole feed, each checked to be signed by the agency's root key.
async fn feed_notices(env: &Env, token: &str) -> Vec<casebridge_core::Notice> {
    let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
    let root = public.root_key_bytes().unwrap();
    feed_docs(env, token, Some(3)).await.iter().map(|d| d.open(casebridge_trust::NOTICE, Some(&root)).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_completes_once_and_answers_a_receipt() {
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Bike thefts".into(), ..Default::default() }).unwrap();
    inv.store.add_note(case, "white van seen twice").unwrap();
    let (bundle_id, bytes) = export_case(&env, &mut inv, case, false, "b1.cbb");
    let size = bytes.len() as u64;
    let half = bytes.len() / 2;

    let begun: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size }).await).await;
    assert_eq!((begun.received, begun.size, begun.complete), (0, size, false));
    let id = begun.upload_id;
    let put: UploadState = ok(env.put(&format!("/v1/uploads/{id}?offset=0"), &token, bytes[..half].to_vec()).await).await;
    assert_eq!(put.received, half as u64);

    // The connection drops; the client begins again and learns where to resume.
    let resumed: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size }).await).await;
    assert_eq!((resumed.upload_id, resumed.received), (id, half as u64));
    let state: UploadState = ok(env.get(&format!("/v1/uploads/{id}"), &token).await).await;
    assert_eq!(state.received, half as u64);
    // A chunk at the wrong offset changes nothing.
    let code = expect_error(env.put(&format!("/v1/uploads/{id}?offset=0"), &token, bytes[..10].to_vec()).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "offset_mismatch");
    // Completing early is refused.
    let early = complete(&env, &token, id).await;
    assert_eq!(expect_error(early, StatusCode::CONFLICT).await, "upload_incomplete");

    let put: UploadState = ok(env.put(&format!("/v1/uploads/{id}?offset={half}"), &token, bytes[half..].to_vec()).await).await;
    assert_eq!(put.received, size);
    let done: UploadOutcome = ok(complete(&env, &token, id).await).await;
    assert_eq!(done.bundle_id, bundle_id);
    assert_eq!(done.outcome.as_str(), "accepted");
    assert!(done.events_added >= 2);
    assert!(!env.dir.join("uploads").join(format!("{id}.part")).exists(), "the part file is gone once complete");

    // The receipt verifies and the member keeps it.
    let receipt_doc = SignedDoc::parse(&B64.decode(&done.receipt).unwrap()).unwrap();
    let r = profile::store_receipt(&mut inv.store, &receipt_doc).unwrap();
    assert_eq!((r.bundle_id, r.sender, r.outcome.as_str()), (bundle_id, inv.id, "accepted"));
    let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
    Receipt::verify(&receipt_doc, &public.root_key_bytes().unwrap(), public.agency_id).unwrap();

    // Completing again, and beginning again, give the same receipt.
    let again: UploadOutcome = ok(complete(&env, &token, id).await).await;
    assert_eq!(again, done);
    let state: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size }).await).await;
    assert!(state.complete);
    assert_eq!(state.receipt.as_deref(), Some(done.receipt.as_str()));
    let code = expect_error(env.put(&format!("/v1/uploads/{id}?offset={size}"), &token, vec![1]).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "upload_complete");

    // A supervisor sees the case in the feed; an investigator off its team does not (issue
    // 16); the uploader is not sent its own events.
    let other = env.enrol(Role::Supervisor).await;
    let other_token = env.login(&other).await;
    let events = feed_events(&env, &other_token).await;
    assert!(events.iter().any(|e| matches!(e.body().kind, EventKind::CaseCreated { .. })), "case events are in the feed");
    let off_team = env.enrol(Role::Investigator).await;
    let off_token = env.login(&off_team).await;
    let events = feed_events(&env, &off_token).await;
    assert!(events.iter().all(|e| e.body().kind.case_id().is_none()), "no case event for an investigator off the team");
    assert!(feed_events(&env, &token).await.iter().all(|e| e.body().author != inv.id));

    // Another member cannot see this upload.
    assert_eq!(expect_error(env.get(&format!("/v1/uploads/{id}"), &other_token).await, StatusCode::NOT_FOUND).await, "not_found");
    let put = env.put(&format!("/v1/uploads/{id}?offset=0"), &other_token, vec![1]).await;
    assert_eq!(expect_error(put, StatusCode::NOT_FOUND).await, "not_found");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteer_answers_a_brief_through_the_endpoint() {
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let inv_token = env.login(&inv).await;
    let mut vol = env.enrol(Role::Volunteer).await;
    let vol_token = env.login(&vol).await;
    let mut nosy = env.enrol(Role::Volunteer).await;
    let nosy_token = env.login(&nosy).await;

    // The investigator publishes a brief addressed to everyone and uploads it.
    let case = inv.store.create_case(NewCase { title: "Graffiti, Mitte".into(), ..Default::default() }).unwrap();
    inv.store.add_note(case, "internal: suspect named").unwrap();
    let brief = inv
        .store
        .publish_brief(NewBrief {
            case,
            title: "Photos of the bridge".into(),
            text: "Anything from last night".into(),
            ..Default::default()
        })
        .unwrap();
    let (b1, bytes) = export_case(&env, &mut inv, case, false, "inv1.cbb");
    let done: UploadOutcome = ok(upload(&env, &inv_token, b1, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");

    // The volunteer's feed holds the brief, as the agency's notice, and nothing internal.
    assert!(feed_events(&env, &vol_token).await.is_empty(), "a volunteer is sent no events, only notices");
    let notices = feed_notices(&env, &vol_token).await;
    assert!(notices.iter().any(|n| matches!(&n.kind, NoticeKind::BriefPublished { brief_id, .. } if *brief_id == brief)));
    assert!(notices.iter().all(|n| matches!(n.kind, NoticeKind::BriefPublished { .. })), "only the brief reaches a volunteer");
    let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
    profile::store_notices(&mut vol.store, &public, &feed_docs(&env, &vol_token, Some(3)).await).unwrap();

    // The volunteer answers it.
    let photo = env.tmp.path().join("photo.jpg");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&photo, &content).unwrap();
    let submission = vol.store.submit(brief, &[photo], &SubmitOptions::default(), &mut |_| true).unwrap();
    let sha = submission.items[0].sha256.clone();
    let (b2, bytes) = export_case(&env, &mut vol, case, true, "vol1.cbb");
    let done: UploadOutcome = ok(upload(&env, &vol_token, b2, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");

    // Content by hash: the submitter and staff may fetch it; another volunteer may not
    // (and learns nothing about whether it exists).
    let got = env.get(&format!("/v1/content/{sha}"), &vol_token).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.bytes().await.unwrap().as_ref(), content.as_slice());
    let got = env.get(&format!("/v1/content/{}", sha.to_uppercase()), &inv_token).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), content.as_slice());
    assert_eq!(expect_error(env.get(&format!("/v1/content/{sha}"), &nosy_token).await, StatusCode::NOT_FOUND).await, "not_found");
    let absent = "ab".repeat(32);
    assert_eq!(expect_error(env.get(&format!("/v1/content/{absent}"), &inv_token).await, StatusCode::NOT_FOUND).await, "not_found");

    // The investigator's feed has the submission and custody "received".
    let events = feed_events(&env, &inv_token).await;
    assert!(events.iter().any(|e| matches!(e.body().kind, EventKind::SubmissionMade { .. })));
    assert!(events
        .iter()
        .any(|e| matches!(&e.body().kind, EventKind::CustodyRecorded { action: casebridge_core::CustodyAction::Received, .. })));
    // The other volunteer sees the brief only.
    assert!(feed_events(&env, &nosy_token).await.is_empty());
    let notices = feed_notices(&env, &nosy_token).await;
    assert!(notices.iter().any(|n| matches!(&n.kind, NoticeKind::BriefPublished { brief_id, .. } if *brief_id == brief)));
    assert!(notices.iter().all(|n| matches!(n.kind, NoticeKind::BriefPublished { .. })));

    // A volunteer may not upload a case of their own making.
    let own = nosy.store.create_case(NewCase { title: "My own case".into(), ..Default::default() }).unwrap();
    let (b3, bytes) = export_case(&env, &mut nosy, own, true, "nosy.cbb");
    assert_eq!(expect_error(upload(&env, &nosy_token, b3, &bytes).await, StatusCode::FORBIDDEN).await, "forbidden");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_that_fails_verification_is_refused_and_discarded() {
    let mut env = Env::start().await;
    let inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    // Bytes that are not sealed to the agency are refused at the first chunk, nothing kept.
    let plain = vec![7u8; 5000];
    let state: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id: Uuid::now_v7(), size: 5000 }).await).await;
    let put = env.put(&format!("/v1/uploads/{}?offset=0", state.upload_id), &token, plain).await;
    assert_eq!(expect_error(put, StatusCode::UNPROCESSABLE_ENTITY).await, "not_sealed");
    assert!(!env.dir.join("uploads").join(format!("{}.part", state.upload_id)).exists());
    // Sealed-looking junk is kept as upload bytes, refused at complete, and discarded.
    let garbage = sealed_junk(5000);
    let bundle_id = Uuid::now_v7();
    let state: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: garbage.len() as u64 }).await).await;
    assert_eq!(expect_error(upload(&env, &token, bundle_id, &garbage).await, StatusCode::UNPROCESSABLE_ENTITY).await, "seal_damaged");
    assert!(!env.dir.join("uploads").join(format!("{}.part", state.upload_id)).exists());
    let code = expect_error(env.get(&format!("/v1/uploads/{}", state.upload_id), &token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    // Beginning again starts from zero.
    let again: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: 10 }).await).await;
    assert_eq!(again.received, 0);
    env.stop().await;
}

/// Completes verify and store content side by side and take the store only to record events:
/// many volunteers completing at once each get their bundles recorded exactly once, in order,
/// with one custody "received" per item, and the agency store checks clean afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteers_completing_at_once_are_each_recorded_once() {
    const VOLUNTEERS: usize = 6;
    const BUNDLES: usize = 3;
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let inv_token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Arson, Wedding".into(), ..Default::default() }).unwrap();
    let brief =
        inv.store.publish_brief(NewBrief { case, title: "Smoke at 2am".into(), text: "Any footage".into(), ..Default::default() }).unwrap();
    let (b, bytes) = export_case(&env, &mut inv, case, false, "inv.cbb");
    assert_eq!(ok::<UploadOutcome>(upload(&env, &inv_token, b, &bytes).await).await.outcome.as_str(), "accepted");

    // Each volunteer prepares its bundles before any is uploaded: one submission per bundle.
    let mut prepared = Vec::new();
    let mut items = std::collections::BTreeSet::new();
    for v in 0..VOLUNTEERS {
        let mut vol = env.enrol(Role::Volunteer).await;
        let token = env.login(&vol).await;
        let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
        profile::store_notices(&mut vol.store, &public, &feed_docs(&env, &token, Some(3)).await).unwrap();
        let mut bundles = Vec::new();
        for n in 0..BUNDLES {
            let photo = env.tmp.path().join(format!("v{v}-{n}.jpg"));
            std::fs::write(&photo, format!("volunteer {v} photo {n}").repeat(5000)).unwrap();
            let s = vol.store.submit(brief, &[photo], &SubmitOptions::default(), &mut |_| true).unwrap();
            items.extend(s.items.iter().map(|i| i.evidence_id));
            bundles.push(export_case(&env, &mut vol, case, true, &format!("v{v}-{n}.cbb")));
        }
        prepared.push((token, bundles));
    }

    // All at once; each volunteer's own bundles in order, as the sync engine sends them.
    let env_ref = &env;
    let outcomes = futures_util::future::join_all(prepared.iter().map(|(token, bundles)| async move {
        let mut out = Vec::new();
        for (id, bytes) in bundles {
            let done: UploadOutcome = ok(upload(env_ref, token, *id, bytes).await).await;
            out.push((*id, done));
        }
        out
    }))
    .await;
    let root = casebridge_trust::Agency::read_public(&env.dir).unwrap().0.root_key_bytes().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (id, done) in outcomes.into_iter().flatten() {
        assert_eq!(done.outcome.as_str(), "accepted", "bundle {id}");
        let receipt = Receipt::verify(&SignedDoc::parse(&B64.decode(&done.receipt).unwrap()).unwrap(), &root, env.agency_id).unwrap();
        assert_eq!(receipt.bundle_id, id);
        assert!(ids.insert(id), "one receipt per bundle");
    }
    assert_eq!(ids.len(), VOLUNTEERS * BUNDLES);

    // Completing one again answers the same outcome and records nothing more.
    let (token, bundles) = &prepared[0];
    let (first_id, first_bytes) = &bundles[0];
    let state: UploadState =
        ok(env.post("/v1/uploads", token, &UploadBegin { bundle_id: *first_id, size: first_bytes.len() as u64 }).await).await;
    assert!(state.complete);
    let again = complete(&env, token, state.upload_id).await;
    let again: UploadOutcome = ok(again).await;
    assert_eq!((again.outcome.as_str(), again.bundle_id, Some(again.receipt)), ("accepted", *first_id, state.receipt));

    // The investigator sees every submission once and one custody "received" per item.
    let events = feed_events(&env, &inv_token).await;
    let submissions = events.iter().filter(|e| matches!(e.body().kind, EventKind::SubmissionMade { .. })).count();
    assert_eq!(submissions, VOLUNTEERS * BUNDLES);
    let mut received: Vec<Uuid> = events
        .iter()
        .filter_map(|e| match &e.body().kind {
            EventKind::CustodyRecorded { evidence_id, action: casebridge_core::CustodyAction::Received, .. } => Some(*evidence_id),
            _ => None,
        })
        .collect();
    received.sort();
    assert_eq!(received, items.iter().copied().collect::<Vec<_>>(), "custody 'received' once per item");

    // The agency store is whole: journal, index (with the by-sender table) and every object.
    env.stop().await;
    assert_agency_store_whole(&env);
}

/// Sealed content objects the agency keeps (files, or keys in a cluster's bucket; objects are
/// named by a keyed hash, so only their number can be told from outside).
fn agency_objects(env: &Env) -> usize {
    casebridge_testkit::deployment::object_names(&env.dir).len()
}

/// An investigator's sealed case bundle carrying `size` bytes of evidence; returns the bundle
/// (id, bytes), the case and the content.
fn large_bundle(env: &mut Env, inv: &mut Member, size: usize, name: &str) -> (Uuid, Vec<u8>, Uuid, Vec<u8>) {
    let case = inv.store.create_case(NewCase { title: format!("Case {name}"), ..Default::default() }).unwrap();
    let content = noise(size, name.len() as u64);
    let file = env.tmp.path().join(format!("{name}.bin"));
    std::fs::write(&file, &content).unwrap();
    inv.store.add_evidence(case, &file, &Default::default(), &mut |_| true).unwrap();
    let (id, bytes) = export_case(env, inv, case, false, name);
    (id, bytes, case, content)
}

/// A large bundle is verified while its chunks arrive: its content is stored before complete
/// is asked; a wrong chunk on the way changes nothing; complete records it, and the content
/// comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_bundle_is_verified_while_it_arrives() {
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let (bundle_id, bytes, _, content) = large_bundle(&mut env, &mut inv, 20 << 20, "big.cbb");
    let sha = casebridge_core::to_hex(&casebridge_core::sha256(&content));
    let before = agency_objects(&env);
    let begun: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: bytes.len() as u64 }).await).await;
    let id = begun.upload_id;
    let half = bytes.len() / 2;
    put_range(&env, &token, id, &bytes, 0, half, 4 << 20).await;
    // A chunk at the wrong offset is refused and moves nothing.
    let code = expect_error(env.put(&format!("/v1/uploads/{id}?offset=3"), &token, vec![0; 1000]).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "offset_mismatch");
    put_range(&env, &token, id, &bytes, half, bytes.len(), 4 << 20).await;
    if is_cluster() {
        // A cluster falls back to verifying at complete (replicas share no verifier): nothing
        // is stored before, and complete verifies and stores the content whole.
        assert_eq!(agency_objects(&env), before, "a cluster stores no content before complete");
    } else {
        // The content is stored before complete: the early verifier has read every byte.
        await_early_store(&env, before).await;
    }
    let done: UploadOutcome = ok(complete(&env, &token, id).await).await;
    assert_eq!(agency_objects(&env), before + 1);
    assert_eq!((done.outcome.as_str(), done.bundle_id), ("accepted", bundle_id));
    let got = env.get(&format!("/v1/content/{sha}"), &token).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert!(got.bytes().await.unwrap().as_ref() == content.as_slice(), "the content comes back whole");
    env.stop().await;
    assert_agency_store_whole(&env);
}

/// Waits until the early verifier has stored the content (one object more than `before`).
async fn await_early_store(env: &Env, before: usize) {
    let mut waited = 0;
    while agency_objects(env) == before && waited < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(agency_objects(env), before + 1, "the content was stored while the upload arrived");
}

/// A large bundle altered in transit fails when verified early just as it would at complete:
/// 422, the upload discarded, nothing recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_bundle_altered_in_transit_is_refused() {
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let (bundle_id, mut bytes, case, _) = large_bundle(&mut env, &mut inv, 18 << 20, "altered.cbb");
    let at = bytes.len() * 2 / 3;
    bytes[at] ^= 0x40;
    let begun: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: bytes.len() as u64 }).await).await;
    put_range(&env, &token, begun.upload_id, &bytes, 0, bytes.len(), 4 << 20).await;
    let resp = complete(&env, &token, begun.upload_id).await;
    assert_eq!(expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY).await, "seal_damaged");
    assert!(!env.dir.join("uploads").join(format!("{}.part", begun.upload_id)).exists());
    let events = feed_events(&env, &token).await;
    assert!(events.iter().all(|e| e.body().kind.case_id() != Some(case)), "nothing of the case was recorded");
    env.stop().await;
}

/// Shutting down while a large upload is half verified lets go of the store at once; after a
/// restart the upload resumes and completes (verified from the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_verified_upload_survives_a_restart() {
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let (bundle_id, bytes, _, _) = large_bundle(&mut env, &mut inv, 20 << 20, "restart.cbb");
    let begun: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: bytes.len() as u64 }).await).await;
    let half = bytes.len() / 2;
    put_range(&env, &token, begun.upload_id, &bytes, 0, half, 4 << 20).await;
    // The verifier must let go of the store at shutdown, or this restart finds it in use.
    env.stop().await;
    let server = start_server(&env.dir, env.clock.clone()).await;
    env.url = server.url().to_string();
    env.server = Some(server);
    let token = env.login(&inv).await;
    let resumed: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: bytes.len() as u64 }).await).await;
    assert_eq!(resumed.received, half as u64);
    put_range(&env, &token, begun.upload_id, &bytes, half, bytes.len(), 4 << 20).await;
    let resp = complete(&env, &token, begun.upload_id).await;
    assert_eq!(ok::<UploadOutcome>(resp).await.outcome.as_str(), "accepted");
    env.stop().await;
}
