//! The red-team suite: one test per attack of issue 12 ("Trust that survives an attacker"),
//! each run against a real endpoint on 127.0.0.1:0 with requests and bundles that the honest
//! client never sends (crafted by [`forge`]). Each asserts the refusal's reason code and that
//! nothing was stored, next to a control where the honest variant of the same request is
//! accepted, so a test cannot pass because everything is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../endpoint/harness.rs"]
mod harness;

mod amendments;
mod forge;
mod metadata;
mod notices;
mod quotas;
mod retention;
mod teams;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{
    CustodyAction, EventKind, EvidenceOptions, Extracted, NewBrief, NewCase, ObjectRef, ReviewDecision, Role, SignedEvent, Store,
};
use casebridge_protocol::{
    EnrolRequest, EnrolResponse, Feed, InviteCode, InviteRequest, InviteResponse, OldKeys, UploadBegin, UploadOutcome, UploadState,
};
use casebridge_trust::bundle::{self, Anchor};
use casebridge_trust::{Agency, AgencyPublic, CredentialRequest, SignedDoc, CREDENTIAL_REQUEST};
use reqwest::StatusCode;
use uuid::Uuid;

use forge::{chain, chain_after, event, now_ms, Bundle};
use harness::*;

/// The staff-only file every scenario starts with.
const STAFF_FILE: &[u8] = b"staff-only: statement of the informant, not for volunteers";

/// An agency with an investigator (a case, a staff-only file, a brief to every volunteer,
/// all uploaded honestly) and an enrolled, logged-in volunteer who has pulled the brief.
struct World {
    env: Env,
    inv: Member,
    inv_token: String,
    vol: Member,
    vol_token: String,
    case: Uuid,
    brief: Uuid,
    staff_evidence: Uuid,
    staff_sha: String,
    public: AgencyPublic,
}

async fn world() -> World {
    let mut env = Env::start().await;
    let mut inv = env.enrol(Role::Investigator).await;
    let inv_token = env.login(&inv).await;
    let mut vol = env.enrol(Role::Volunteer).await;
    let vol_token = env.login(&vol).await;
    let case = inv.store.create_case(NewCase { title: "Arson, Hafenstrasse".into(), ..Default::default() }).unwrap();
    let file = env.tmp.path().join("informant.txt");
    std::fs::write(&file, STAFF_FILE).unwrap();
    let added = inv.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let brief = inv
        .store
        .publish_brief(NewBrief { case, title: "Photos of the harbour".into(), text: "Last night".into(), ..Default::default() })
        .unwrap();
    let (public, _) = Agency::read_public(&env.dir).unwrap();
    let (id, bytes) = export_case(&env, &mut inv, case, true, "inv.cbb");
    let done: UploadOutcome = ok(upload(&env, &inv_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    // A volunteer is sent no events, only the agency's notices (issue 12).
    assert!(feed(&env, &vol_token).await.is_empty(), "a volunteer is sent no events");
    let notices = feed_docs(&env, &vol_token, None).await;
    casebridge_trust::profile::store_notices(&mut vol.store, &public, &notices).unwrap();
    World { env, inv, inv_token, vol, vol_token, case, brief, staff_evidence: added.id, staff_sha: added.sha256, public }
}

/// Begin, one chunk, complete: the endpoint's answer to complete (or to the chunk, when the
/// chunk is refused).
async fn upload(env: &Env, token: &str, bundle_id: Uuid, bytes: &[u8]) -> reqwest::Response {
    let state: UploadState = ok(env.post("/v1/uploads", token, &UploadBegin { bundle_id, size: bytes.len() as u64 }).await).await;
    let put = env.put(&format!("/v1/uploads/{}?offset=0", state.upload_id), token, bytes.to_vec()).await;
    if put.status() != StatusCode::OK {
        return put;
    }
    complete(env, token, state.upload_id).await
}

async fn feed(env: &Env, token: &str) -> Vec<SignedEvent> {
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let page: Feed = ok(env.get(&format!("/v1/feed?after={after}"), token).await).await;
        out.extend(page.events.iter().map(|e| SignedEvent::from_envelope(B64.decode(e).unwrap()).unwrap()));
        after = page.cursor;
        if !page.more {
            return out;
        }
    }
}

/// A volunteer's submission of one item: `evidence_added` (naming `sha`/`size`), custody
/// "submitted" and `submission_made` listing `items`.
fn submission(w: &World, evidence: Uuid, sha: &str, size: u64, items: Vec<Uuid>, submission_id: Uuid) -> Vec<EventKind> {
    vec![
        EventKind::EvidenceAdded {
            evidence_id: evidence,
            case_id: w.case,
            object: ObjectRef { sha256: sha.into(), size },
            media_type: "text/plain".into(),
            original_name: "photo.txt".into(),
            claimed_captured_at: None,
            claimed_location: None,
            extracted: Extracted::default(),
            description: None,
        },
        EventKind::CustodyRecorded {
            evidence_id: evidence,
            action: CustodyAction::Submitted,
            reason: None,
            sha256: sha.into(),
            observed: None,
        },
        EventKind::SubmissionMade { case_id: w.case, brief_id: w.brief, submission_id, items, description: None },
    ]
}

fn sha(bytes: &[u8]) -> String {
    casebridge_core::to_hex(&casebridge_core::sha256(bytes))
}

/// Asserts the JSON error's code and returns its message.
async fn refused(resp: reqwest::Response, status: StatusCode, code: &str) -> String {
    let got = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    let body: casebridge_protocol::ErrorBody = serde_json::from_str(&text).unwrap();
    assert_eq!(body.error.code, code, "{text}");
    body.error.message
}

/// After the server stopped: the agency's store is whole and holds no orphan object (a
/// refused bundle stored nothing); returns it.
fn agency_store(env: &Env) -> Store {
    let mut store = casebridge_testkit::deployment::open_store(&env.dir);
    let report = store.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.orphan_objects, 0, "a refused bundle left content behind");
    store
}

// ----- 1. member identity ------------------------------------------------------------------

/// A credential request for `member_id`, signed by `signer`'s key (the honest client always
/// names its own profile's id).
fn request_as(signer: &Store, member_id: Uuid) -> String {
    let req = CredentialRequest {
        member_id,
        name: "Mallory".into(),
        role: Role::Volunteer,
        key: hex::encode(signer.public_key()),
        created_at: chrono::Utc::now().fixed_offset(),
    };
    let doc = SignedDoc::sign_with(CREDENTIAL_REQUEST, &req, signer.public_key(), |m| signer.sign_detached(b"", m));
    B64.encode(doc.to_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_under_another_members_id_is_refused() {
    let mut w = world().await;
    let attacker = w.env.new_store(Role::Volunteer);
    for victim in [w.vol.id, w.inv.id] {
        let secret = w.env.invite(casebridge_protocol::Role::Volunteer, 600).await;
        let resp = w
            .env
            .client
            .post(w.env.url("/v1/enrol"))
            .json(&EnrolRequest { invite_secret: secret.clone(), request: request_as(&attacker, victim) })
            .send()
            .await
            .unwrap();
        refused(resp, StatusCode::FORBIDDEN, "member_id_taken").await;
        // Control: the same invite (unused, since the refusal kept it) enrols the attacker
        // under its own id.
        if victim == w.inv.id {
            let own = attacker.whoami().member_id;
            let resp = w
                .env
                .client
                .post(w.env.url("/v1/enrol"))
                .json(&EnrolRequest { invite_secret: secret, request: request_as(&attacker, own) })
                .send()
                .await
                .unwrap();
            let answer: EnrolResponse = ok(resp).await;
            assert_eq!(answer.member_id, own);
        }
    }
    w.env.stop().await;
    // One credential per victim id, for the victim's key only.
    let agency = open_agency(&w.env.dir);
    let issued = agency.issued().unwrap();
    for (victim, key) in [(w.vol.id, w.vol.store.public_key()), (w.inv.id, w.inv.store.public_key())] {
        let theirs: Vec<_> = issued.iter().filter(|c| c.member_id == victim).collect();
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0].key, hex::encode(key));
    }
    // Offline issuing binds ids the same way.
    let doc = SignedDoc::parse(&B64.decode(request_as(&attacker, w.vol.id)).unwrap()).unwrap();
    let err = agency.issue(&doc, Role::Volunteer, None, chrono::Duration::days(1)).unwrap_err();
    assert_eq!(err.reason.code(), "member_id_taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_for_a_member_needs_an_invite_made_for_that_member() {
    let mut w = world().await;
    let new_device = w.env.new_store(Role::Volunteer);
    let invite = |member: Option<Uuid>, old_keys: Option<OldKeys>| InviteRequest {
        role: casebridge_protocol::Role::Volunteer,
        name: "Vol, new phone".into(),
        expires_in_secs: 600,
        url: None,
        valid_for_secs: None,
        member,
        old_keys,
    };
    // Without saying what happens to the old key, no invite is made.
    let err =
        casebridge_agency::admin::call(&w.env.dir, "POST", "/admin/invite", Some(json(&invite(Some(w.vol.id), None)))).await.unwrap_err();
    assert!(err.to_string().contains("old_keys"), "{err}");
    let answer =
        casebridge_agency::admin::call(&w.env.dir, "POST", "/admin/invite", Some(json(&invite(Some(w.vol.id), Some(OldKeys::Revoke)))))
            .await
            .unwrap()
            .unwrap();
    let secret = InviteCode::decode(&serde_json::from_value::<InviteResponse>(answer).unwrap().code).unwrap().secret;
    // The invite for this member cannot be used for another id.
    let resp = w
        .env
        .client
        .post(w.env.url("/v1/enrol"))
        .json(&EnrolRequest { invite_secret: secret.clone(), request: request_as(&new_device, w.inv.id) })
        .send()
        .await
        .unwrap();
    refused(resp, StatusCode::FORBIDDEN, "member_id_taken").await;
    // It binds the new key to the member, and revokes the old key.
    let resp = w
        .env
        .client
        .post(w.env.url("/v1/enrol"))
        .json(&EnrolRequest { invite_secret: secret, request: request_as(&new_device, w.vol.id) })
        .send()
        .await
        .unwrap();
    let answer: EnrolResponse = ok(resp).await;
    assert_eq!(answer.member_id, w.vol.id);
    let resp = w.env.challenge(&w.vol).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the old key is revoked");
    assert_eq!(w.env.get("/v1/feed", &w.vol_token).await.status(), StatusCode::UNAUTHORIZED, "the old key's session ended");
    let inv_feed = w.env.get("/v1/feed", &w.inv_token).await;
    assert_eq!(inv_feed.status(), StatusCode::OK, "other members' sessions live on");
    w.env.stop().await;
}

/// A second device of the volunteer, enrolled through an invite made for them (`old_keys`
/// says what happens to the first device's key), as the honest client does it: the invite
/// code names the member, a new profile requests a credential for that member with its own
/// key, adopts the member id, and installs the credential.
async fn second_device(w: &mut World, old_keys: OldKeys) -> Member {
    let req = InviteRequest {
        role: casebridge_protocol::Role::Volunteer,
        name: "Vol, new phone".into(),
        expires_in_secs: 600,
        url: None,
        valid_for_secs: None,
        member: Some(w.vol.id),
        old_keys: Some(old_keys),
    };
    let answer = casebridge_agency::admin::call(&w.env.dir, "POST", "/admin/invite", Some(json(&req))).await.unwrap().unwrap();
    let code = InviteCode::decode(&serde_json::from_value::<InviteResponse>(answer).unwrap().code).unwrap();
    assert_eq!(code.member, Some(w.vol.id), "the invite code names the member");
    let mut store = w.env.new_store(Role::Volunteer);
    let request = B64.encode(casebridge_trust::profile::request_credential_as(&store, w.vol.id).to_bytes());
    let resp = w.env.client.post(w.env.url("/v1/enrol")).json(&EnrolRequest { invite_secret: code.secret, request }).send().await.unwrap();
    let answer: EnrolResponse = ok(resp).await;
    assert_eq!(answer.member_id, w.vol.id);
    store.adopt_member_id(w.vol.id).unwrap();
    let credential = SignedDoc::parse(&B64.decode(&answer.credential).unwrap()).unwrap();
    let file: casebridge_trust::AgencyPublicFile = serde_json::from_slice(&B64.decode(&answer.agency).unwrap()).unwrap();
    casebridge_trust::profile::install_credential(&mut store, &credential, Some(&file)).unwrap();
    Member { id: w.vol.id, store, credential }
}

/// Issue 12, a new device: chains and bundle sequences are per key. The second device's
/// first bundle is accepted although the first device already sent bundle 1 with events 100..
/// (once a `sequence_rollback` and a fork); a replayed sequence, a fork of the second device's
/// event chain, and a bundle that takes the first device's chain position with the second
/// device's key are each refused with their reason, storing nothing; the first device goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_device_has_its_own_chain_which_cannot_be_replayed_forked_or_crossed() {
    let mut w = world().await;
    let photo = |n: u8| format!("photo {n} of the harbour").into_bytes();
    // A submission of `bytes` as events `first`.. of `signer`'s chain, the first linked to `prev`.
    let submit = |w: &World, signer: &Store, first: u64, prev: &SignedEvent, bytes: &[u8]| {
        let e = Uuid::now_v7();
        let prev = casebridge_core::to_hex(&prev.hash());
        chain_after(signer, first, &prev, submission(w, e, &sha(bytes), bytes.len() as u64, vec![e], Uuid::now_v7()))
    };
    let fresh = |w: &World, signer: &Store, bytes: &[u8]| {
        let e = Uuid::now_v7();
        chain(signer, 100, submission(w, e, &sha(bytes), bytes.len() as u64, vec![e], Uuid::now_v7()))
    };
    // Device A: bundle 1, events 100..102.
    let a_events = fresh(&w, &w.vol.store, &photo(1));
    let (id, bytes) = Bundle::new(w.vol.id, &w.vol.credential, a_events.clone(), vec![photo(1)]).write(&w.vol.store, &w.public);
    let a1: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &bytes).await).await;
    assert_eq!(a1.outcome.as_str(), "accepted");

    let dev_b = second_device(&mut w, OldKeys::Keep).await;
    let b_token = w.env.login(&dev_b).await;
    // Control: device B's bundle 1, events 100..102 of its own chain.
    let b_events = fresh(&w, &dev_b.store, &photo(2));
    let (id, bytes) = Bundle::new(w.vol.id, &dev_b.credential, b_events.clone(), vec![photo(2)]).write(&dev_b.store, &w.public);
    let b1: UploadOutcome = ok(upload(&w.env, &b_token, id, &bytes).await).await;
    assert_eq!(b1.outcome.as_str(), "accepted", "a second device's first bundle is not a rollback of the first device's");
    let held_after_b1 = feed(&w.env, &w.inv_token).await.len();

    // Replay: device B's bundle 1 again under a new bundle id.
    let (id, bytes) = Bundle::new(w.vol.id, &dev_b.credential, b_events.clone(), vec![photo(2)]).write(&dev_b.store, &w.public);
    refused(upload(&w.env, &b_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "sequence_rollback").await;
    // Fork: bundle 2 of B, properly linked, whose events 100.. differ from B's held ones.
    let mut fork = Bundle::new(w.vol.id, &dev_b.credential, fresh(&w, &dev_b.store, &photo(3)), vec![photo(3)]);
    fork.seq = 2;
    fork.prev = done_manifest_hash(&w, &b1);
    let (id, bytes) = fork.write(&dev_b.store, &w.public);
    refused(upload(&w.env, &b_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "chain_conflict").await;
    // Device A's bundle position with B's key: bundle 2 linked to A's bundle 1.
    let mut crossed = Bundle::new(w.vol.id, &dev_b.credential, submit(&w, &dev_b.store, 103, &b_events[2], &photo(4)), vec![photo(4)]);
    crossed.seq = 2;
    crossed.prev = done_manifest_hash(&w, &a1);
    let (id, bytes) = crossed.write(&dev_b.store, &w.public);
    refused(upload(&w.env, &b_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "chain_broken").await;
    // Device A's event chain position with B's key: B's event 103 linked to A's event 102.
    let events = submit(&w, &dev_b.store, 103, &a_events[2], &photo(5));
    let mut crossed = Bundle::new(w.vol.id, &dev_b.credential, events, vec![photo(5)]);
    crossed.seq = 2;
    crossed.prev = done_manifest_hash(&w, &b1);
    let (id, bytes) = crossed.write(&dev_b.store, &w.public);
    refused(upload(&w.env, &b_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "chain_conflict").await;
    assert_eq!(feed(&w.env, &w.inv_token).await.len(), held_after_b1, "a refused bundle adds no event");

    // Control: each device goes on with its own bundle 2.
    let mut next = Bundle::new(w.vol.id, &dev_b.credential, submit(&w, &dev_b.store, 103, &b_events[2], &photo(6)), vec![photo(6)]);
    next.seq = 2;
    next.prev = done_manifest_hash(&w, &b1);
    let (id, bytes) = next.write(&dev_b.store, &w.public);
    assert_eq!(ok::<UploadOutcome>(upload(&w.env, &b_token, id, &bytes).await).await.outcome.as_str(), "accepted");
    let mut next = Bundle::new(w.vol.id, &w.vol.credential, submit(&w, &w.vol.store, 103, &a_events[2], &photo(7)), vec![photo(7)]);
    next.seq = 2;
    next.prev = done_manifest_hash(&w, &a1);
    let (id, bytes) = next.write(&w.vol.store, &w.public);
    assert_eq!(ok::<UploadOutcome>(upload(&w.env, &w.vol_token, id, &bytes).await).await.outcome.as_str(), "accepted");
    w.env.stop().await;
    agency_store(&w.env);
}

// ----- 2. content access -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteer_cannot_claim_held_content_without_sending_it() {
    let mut w = world().await;
    let vid = w.vol.id;
    let size = STAFF_FILE.len() as u64;
    // Attack: name the staff-only file's hash, carry no bytes.
    let ev = Uuid::now_v7();
    let events = chain(&w.vol.store, 100, submission(&w, ev, &w.staff_sha.clone(), size, vec![ev], Uuid::now_v7()));
    let (id, bytes) = Bundle::new(vid, &w.vol.credential, events, vec![]).write(&w.vol.store, &w.public);
    let held = refused(upload(&w.env, &w.vol_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "blob_missing").await;
    // The same claim on a hash the agency does not hold is refused in the same words: no oracle.
    let absent = sha(b"nothing the agency holds");
    let ev2 = Uuid::now_v7();
    let events = chain(&w.vol.store, 100, submission(&w, ev2, &absent, 24, vec![ev2], Uuid::now_v7()));
    let (id, bytes) = Bundle::new(vid, &w.vol.credential, events, vec![]).write(&w.vol.store, &w.public);
    let not_held = refused(upload(&w.env, &w.vol_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "blob_missing").await;
    assert_eq!(held, not_held);
    // And the staff-only content stays out of reach.
    refused(w.env.get(&format!("/v1/content/{}", w.staff_sha), &w.vol_token).await, StatusCode::NOT_FOUND, "not_found").await;

    // Control: a real photo with its bytes is accepted, and its sender may fetch it.
    let photo = b"a volunteer's own photo bytes".to_vec();
    let ev3 = Uuid::now_v7();
    let events = chain(&w.vol.store, 100, submission(&w, ev3, &sha(&photo), photo.len() as u64, vec![ev3], Uuid::now_v7()));
    let (id, bytes) = Bundle::new(vid, &w.vol.credential, events, vec![photo.clone()]).write(&w.vol.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &bytes).await).await;
    assert_eq!((done.outcome.as_str(), done.events_added), ("accepted", 3));
    let got = w.env.get(&format!("/v1/content/{}", sha(&photo)), &w.vol_token).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), photo.as_slice());
    w.env.stop().await;
    let store = agency_store(&w.env);
    assert!(store.evidence(ev).is_err() && store.evidence(ev2).is_err(), "nothing of the refused bundles was recorded");
    assert!(store.evidence(ev3).is_ok());
}

// ----- 4. one policy -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_may_list_only_the_senders_new_evidence() {
    let mut w = world().await;
    let photo = b"photo bytes for the submission test".to_vec();
    let mine = Uuid::now_v7();
    // Attack: the submission also lists the investigator's evidence (taking it over).
    let events =
        chain(&w.vol.store, 100, submission(&w, mine, &sha(&photo), photo.len() as u64, vec![mine, w.staff_evidence], Uuid::now_v7()));
    let (id, bytes) = Bundle::new(w.vol.id, &w.vol.credential, events, vec![photo.clone()]).write(&w.vol.store, &w.public);
    refused(upload(&w.env, &w.vol_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "submission_item_invalid").await;
    refused(w.env.get(&format!("/v1/content/{}", w.staff_sha), &w.vol_token).await, StatusCode::NOT_FOUND, "not_found").await;
    // Control.
    let events = chain(&w.vol.store, 100, submission(&w, mine, &sha(&photo), photo.len() as u64, vec![mine], Uuid::now_v7()));
    let (id, bytes) = Bundle::new(w.vol.id, &w.vol.credential, events, vec![photo]).write(&w.vol.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    // Staff get the submitter's credential with its events (court packages need it); a
    // volunteer's feed carries no one's credential.
    let page: Feed = ok(w.env.get("/v1/feed?after=0", &w.inv_token).await).await;
    let creds: Vec<SignedDoc> = page.credentials.iter().map(|c| SignedDoc::parse(&B64.decode(c).unwrap()).unwrap()).collect();
    let ids: Vec<Uuid> = creds
        .iter()
        .map(|d| casebridge_trust::Credential::verify(d, &w.public.root_key_bytes().unwrap(), w.public.agency_id).unwrap().member_id)
        .collect();
    assert!(ids.contains(&w.vol.id), "{ids:?}");
    let page: Feed = ok(w.env.get("/v1/feed?after=0", &w.vol_token).await).await;
    assert!(page.credentials.is_empty());
    w.env.stop().await;
    agency_store(&w.env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_is_created_once_per_id() {
    let mut w = world().await;
    let photo = b"photo bytes for the record test".to_vec();
    // Attack: a leaked evidence id, re-created with the volunteer's own content and hash.
    let events = chain(
        &w.vol.store,
        100,
        submission(&w, w.staff_evidence, &sha(&photo), photo.len() as u64, vec![w.staff_evidence], Uuid::now_v7()),
    );
    let (id, bytes) = Bundle::new(w.vol.id, &w.vol.credential, events, vec![photo.clone()]).write(&w.vol.store, &w.public);
    refused(upload(&w.env, &w.vol_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "record_exists").await;
    // Control, then the attack on a submission id: a second `submission_made` with the id of
    // the accepted one.
    let mine = Uuid::now_v7();
    let sub = Uuid::now_v7();
    let events = chain(&w.vol.store, 100, submission(&w, mine, &sha(&photo), photo.len() as u64, vec![mine], sub));
    let (id, bytes) = Bundle::new(w.vol.id, &w.vol.credential, events, vec![photo.clone()]).write(&w.vol.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    let other = b"other photo bytes".to_vec();
    let again = Uuid::now_v7();
    let events = chain(&w.vol.store, 200, submission(&w, again, &sha(&other), other.len() as u64, vec![again], sub));
    let mut b = Bundle::new(w.vol.id, &w.vol.credential, events, vec![other]);
    b.seq = 2;
    b.prev = done_manifest_hash(&w, &done);
    let (id, bytes) = b.write(&w.vol.store, &w.public);
    refused(upload(&w.env, &w.vol_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "record_exists").await;
    w.env.stop().await;
    let store = agency_store(&w.env);
    assert_eq!(store.evidence(w.staff_evidence).unwrap().sha256, w.staff_sha, "the first record stands");
    assert!(store.evidence(again).is_err());
}

/// The manifest hash of an accepted upload, from its receipt.
fn done_manifest_hash(w: &World, done: &UploadOutcome) -> String {
    let doc = SignedDoc::parse(&B64.decode(&done.receipt).unwrap()).unwrap();
    casebridge_trust::Receipt::verify(&doc, &w.public.root_key_bytes().unwrap(), w.public.agency_id).unwrap().manifest_hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_credential_of_an_earlier_role_carries_no_rights() {
    let mut w = world().await;
    // The investigator is made a volunteer: a new credential for the same member and key.
    let req = InviteRequest {
        role: casebridge_protocol::Role::Volunteer,
        name: "Former investigator".into(),
        expires_in_secs: 600,
        url: None,
        valid_for_secs: None,
        member: Some(w.inv.id),
        old_keys: Some(OldKeys::Keep),
    };
    let answer = casebridge_agency::admin::call(&w.env.dir, "POST", "/admin/invite", Some(json(&req))).await.unwrap().unwrap();
    let secret = InviteCode::decode(&serde_json::from_value::<InviteResponse>(answer).unwrap().code).unwrap().secret;
    let answer: EnrolResponse = ok(w.env.enrol_request(&secret, &w.inv.store).await).await;
    assert_eq!(answer.member_id, w.inv.id);
    // Attack: a bundle embedding the old investigator credential (still within its validity)
    // sends a case edit and a review decision.
    let events = chain(
        &w.inv.store,
        1000,
        vec![EventKind::CaseEdited {
            case_id: w.case,
            title: Some("taken over".into()),
            summary: None,
            status: None,
            reference: None,
            category: None,
            tags: None,
        }],
    );
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, events, vec![]);
    b.seq = 10; // a gap after the honest bundle 1: no link is checked
    b.prev = "ab".repeat(32);
    b.created_at -= chrono::Duration::days(1);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    let token = w.env.login(&w.inv).await;
    refused(upload(&w.env, &token, id, &bytes).await, StatusCode::FORBIDDEN, "forbidden").await;
    w.env.stop().await;
    let store = agency_store(&w.env);
    assert_ne!(store.case(w.case).unwrap().title, "taken over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_author_needs_a_credential_for_its_key() {
    let mut w = world().await;
    // Attack: the investigator relays an event "by the volunteer" signed with a key the agency
    // never issued to the volunteer (the investigator's own).
    let forged = event(
        &w.inv.store,
        w.vol.id,
        500,
        now_ms(),
        EventKind::NoteAdded { case_id: w.case, note_id: Uuid::now_v7(), text: "forged".into() },
    );
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, vec![forged], vec![]);
    b.seq = 10; // a gap after the honest bundle 1: no link is checked
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    refused(upload(&w.env, &w.inv_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "author_not_credentialed").await;
    // And a key that was never enrolled at all, under a made-up member id.
    let stranger = w.env.new_store(Role::Investigator);
    let forged = event(
        &stranger,
        stranger.whoami().member_id,
        1,
        now_ms(),
        EventKind::NoteAdded { case_id: w.case, note_id: Uuid::now_v7(), text: "x".into() },
    );
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, vec![forged], vec![]);
    b.seq = 10; // a gap after the honest bundle 1: no link is checked
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    refused(upload(&w.env, &w.inv_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "author_not_credentialed").await;
    w.env.stop().await;
    agency_store(&w.env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_the_far_future_is_refused() {
    let mut w = world().await;
    let note = |ms: u64| {
        event(&w.inv.store, w.inv.id, 900, ms, EventKind::NoteAdded { case_id: w.case, note_id: Uuid::now_v7(), text: "n".into() })
    };
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, vec![note(u64::MAX - 1)], vec![]);
    b.seq = 10; // a gap after the honest bundle 1: no link is checked
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    refused(upload(&w.env, &w.inv_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "clock_skew").await;
    // Control: the same note at the current time.
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, vec![note(now_ms())], vec![]);
    b.seq = 10; // a gap after the honest bundle 1: no link is checked
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.inv_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    w.env.stop().await;
    agency_store(&w.env);
}

// ----- 5. nothing readable at rest ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsealed_bundle_is_refused_before_a_byte_is_kept() {
    let mut w = world().await;
    let photo = b"plaintext evidence that must not sit on the endpoint's disk".to_vec();
    let ev = Uuid::now_v7();
    let events = chain(&w.vol.store, 100, submission(&w, ev, &sha(&photo), photo.len() as u64, vec![ev], Uuid::now_v7()));
    let mut b = Bundle::new(w.vol.id, &w.vol.credential, events, vec![photo.clone()]);
    b.seal = false;
    let (id, bytes) = b.write(&w.vol.store, &w.public);
    refused(upload(&w.env, &w.vol_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "not_sealed").await;
    for (place, data) in casebridge_testkit::deployment::stored_bytes(&w.env.dir) {
        assert!(!data.windows(photo.len()).any(|x| x == photo.as_slice()), "{place} holds the plaintext");
    }
    // Control: sealed, accepted.
    b.seal = true;
    let (id, bytes) = b.write(&w.vol.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    w.env.stop().await;
}

// ----- 4. offline open: the same policy ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_bundle_open_applies_the_endpoints_policy_and_custody() {
    let mut w = world().await;
    w.env.stop().await;
    let agency = open_agency(&w.env.dir);
    let (list, _) = agency.current_revocation().unwrap();
    let issued = agency.issued().unwrap();
    let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity())).at(chrono::Utc::now().fixed_offset()).issued(&issued);
    let mut desk = w.env.new_store(Role::Investigator);
    // The investigator's bundle first (the desk holds the case and the brief).
    let (_, inv_bytes) = export_case(&w.env, &mut w.inv, w.case, true, "inv-offline.cbb");
    let inv_path = w.env.tmp.path().join("inv-again.cbb");
    std::fs::write(&inv_path, inv_bytes).unwrap();
    // (A second export is a new bundle of the same events: sequence 2 from the investigator.)
    let opened = bundle::open_into(&inv_path, &anchor, &mut desk, &mut |_| true).unwrap();
    assert_eq!(opened.outcome.as_str(), "accepted");

    // Attack: a volunteer's USB bundle carrying a review decision on its own submission.
    let photo = b"offline photo".to_vec();
    let ev = Uuid::now_v7();
    let sub = Uuid::now_v7();
    let mut kinds = submission(&w, ev, &sha(&photo), photo.len() as u64, vec![ev], sub);
    kinds.push(EventKind::ReviewDecided {
        case_id: w.case,
        submission_id: sub,
        items: vec![ev],
        decision: ReviewDecision::Accepted,
        reason: None,
    });
    let path = w.env.tmp.path().join("vol-usb.cbb");
    let (_, bytes) =
        Bundle::new(w.vol.id, &w.vol.credential, chain(&w.vol.store, 100, kinds), vec![photo.clone()]).write(&w.vol.store, &w.public);
    std::fs::write(&path, bytes).unwrap();
    let err = bundle::open_into(&path, &anchor, &mut desk, &mut |_| true).unwrap_err();
    assert_eq!(err.reason.code(), "forbidden", "{err}");
    let report = desk.check(true, &mut |_| {}).unwrap();
    assert_eq!(report.orphan_objects, 0, "the refused bundle stored no content");

    // Control: the honest submission is accepted and custody "received" is recorded.
    let path = w.env.tmp.path().join("vol-usb-ok.cbb");
    let kinds = submission(&w, ev, &sha(&photo), photo.len() as u64, vec![ev], sub);
    let (_, bytes) = Bundle::new(w.vol.id, &w.vol.credential, chain(&w.vol.store, 100, kinds), vec![photo]).write(&w.vol.store, &w.public);
    std::fs::write(&path, bytes).unwrap();
    let opened = bundle::open_into(&path, &anchor, &mut desk, &mut |_| true).unwrap();
    assert_eq!(opened.outcome.as_str(), "accepted");
    assert_eq!(opened.received.len(), 1);
    let custody = desk.custody(ev).unwrap();
    assert!(custody.iter().any(|c| c.action == CustodyAction::Received), "{custody:?}");
}

/// Asking which content the agency holds (`POST /v1/held`, "no byte twice") is for staff:
/// a volunteer is refused `staff_only` whether or not the agency holds what it asks about (no
/// oracle for a hash), and malformed questions are `bad_request`. Control: the investigator
/// learns that the agency holds its staff file and not an unknown hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteer_cannot_ask_which_content_the_agency_holds() {
    let w = world().await;
    let unknown = sha(b"nothing the agency holds");
    for asked in [vec![w.staff_sha.clone()], vec![unknown.clone()], vec![]] {
        let resp = w.env.post("/v1/held", &w.vol_token, &casebridge_protocol::HeldRequest { sha256: asked }).await;
        refused(resp, StatusCode::FORBIDDEN, "staff_only").await;
    }
    for bad in [vec!["xyz".to_string()], vec!["0".repeat(63)], vec![unknown.clone(); casebridge_protocol::MAX_HELD_QUERY + 1]] {
        let resp = w.env.post("/v1/held", &w.inv_token, &casebridge_protocol::HeldRequest { sha256: bad }).await;
        refused(resp, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let asked = vec![unknown, w.staff_sha.to_ascii_uppercase()];
    let answer: casebridge_protocol::HeldResponse =
        ok(w.env.post("/v1/held", &w.inv_token, &casebridge_protocol::HeldRequest { sha256: asked }).await).await;
    assert_eq!(answer.held, vec![w.staff_sha.clone()]);
}
