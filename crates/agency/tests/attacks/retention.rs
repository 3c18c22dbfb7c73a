//! Issue 16, retention: withdrawals and tombstones that an honest volunteer or agency never
//! sends, each refused with its own code and deleting nothing, beside the honest variant.

use super::*;

/// A volunteer's honest submission of one photo; returns (evidence id, submission id).
async fn submit(w: &World, seq: u64, photo: &[u8]) -> (Uuid, Uuid) {
    let (ev, sub) = (Uuid::now_v7(), Uuid::now_v7());
    let events = chain(&w.vol.store, seq * 100, submission(w, ev, &sha(photo), photo.len() as u64, vec![ev], sub));
    let mut b = Bundle::new(w.vol.id, &w.vol.credential, events, vec![photo.to_vec()]);
    b.seq = seq;
    b.prev = "ab".repeat(32); // gaps between crafted bundles (never seq + 1): no link is checked
    let (id, bytes) = b.write(&w.vol.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    (ev, sub)
}

/// `kinds` from `member` (its bundle `seq`, events from `first`), uploaded with `token`.
async fn send(w: &World, member: &harness::Member, token: &str, seq: u64, first: u64, kinds: Vec<EventKind>) -> reqwest::Response {
    let mut b = Bundle::new(member.id, &member.credential, chain(&member.store, first, kinds), vec![]);
    b.seq = seq;
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&member.store, &w.public);
    upload(&w.env, token, id, &bytes).await
}

async fn retention_run(env: &Env) -> casebridge_agency::RetentionReport {
    let answer = casebridge_agency::admin::call(&env.dir, "POST", "/admin/retention", Some(serde_json::json!({"dry_run": false})))
        .await
        .unwrap()
        .expect("the endpoint is running");
    serde_json::from_value(answer).unwrap()
}

/// Withdrawals: another volunteer's, of an accepted submission, of a case under legal hold, and
/// of a submission the agency does not hold are refused with their own codes; the volunteer's
/// own withdrawal of a pending submission is accepted and its item deleted at the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_only_by_the_submitter_of_a_pending_submission_outside_a_hold() {
    let mut w = world().await;
    let other = w.env.enrol(Role::Volunteer).await;
    let other_token = w.env.login(&other).await;
    let sup = w.env.enrol(Role::Supervisor).await;
    let sup_token = w.env.login(&sup).await;
    let (pending_item, pending) = submit(&w, 10, b"pending photo, withdrawn by its volunteer").await;
    let (_, accepted) = submit(&w, 20, b"accepted photo, part of the case").await;
    let withdraw = |sub: Uuid| EventKind::SubmissionWithdrawn { case_id: w.case, submission_id: sub, reason: None };

    // Another volunteer withdraws it, with their own key.
    let resp = send(&w, &other, &other_token, 2, 1, vec![withdraw(pending)]).await;
    refused(resp, StatusCode::FORBIDDEN, "not_your_submission").await;
    // A withdrawal of a submission the agency does not hold gets the same answer (no oracle).
    let resp = send(&w, &w.vol, &w.vol_token, 30, 3000, vec![withdraw(Uuid::now_v7())]).await;
    refused(resp, StatusCode::FORBIDDEN, "not_your_submission").await;
    // The investigator accepts the second submission; its withdrawal is refused.
    let accept = EventKind::ReviewDecided {
        case_id: w.case,
        submission_id: accepted,
        items: vec![],
        decision: ReviewDecision::Accepted,
        reason: None,
    };
    let done: UploadOutcome = ok(send(&w, &w.inv, &w.inv_token, 10, 1000, vec![accept]).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    let resp = send(&w, &w.vol, &w.vol_token, 40, 4000, vec![withdraw(accepted)]).await;
    refused(resp, StatusCode::FORBIDDEN, "submission_accepted").await;

    // Control: the volunteer's own withdrawal of the pending one is accepted and deleted.
    let done: UploadOutcome = ok(send(&w, &w.vol, &w.vol_token, 50, 5000, vec![withdraw(pending)]).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    // (On a cluster agency the run appends its tombstones through the database's journal lock.)
    let report = retention_run(&w.env).await;
    let deleted: Vec<Uuid> = report.deleted.iter().map(|d| d.evidence_id).collect();
    assert_eq!(deleted, [pending_item]);
    assert_eq!(report.deleted[0].rule, "withdrawn");
    // The volunteer's feed carries the tombstone of their item (and nothing of others').
    let page: Feed = ok(w.env.get("/v1/feed?after=0", &w.vol_token).await).await;
    assert_eq!(page.tombstones.len(), 1);
    let other_page: Feed = ok(w.env.get("/v1/feed?after=0", &other_token).await).await;
    assert!(other_page.tombstones.is_empty(), "another volunteer learns nothing of the deletion");

    // Under legal hold, a withdrawal is refused.
    let (_, held) = submit(&w, 60, b"photo of a case put under hold").await;
    let hold = EventKind::HoldPlaced { case_id: w.case, reason: "12 Js 345/26".into() };
    let done: UploadOutcome = ok(send(&w, &sup, &sup_token, 2, 1, vec![hold]).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    let resp = send(&w, &w.vol, &w.vol_token, 70, 7000, vec![withdraw(held)]).await;
    refused(resp, StatusCode::FORBIDDEN, "case_on_hold").await;

    w.env.stop().await;
    let store = agency_store(&w.env);
    assert!(store.withdrawal(accepted).unwrap().is_none() && store.withdrawal(held).unwrap().is_none());
    assert!(store.evidence(pending_item).unwrap().deleted.is_some());
}

/// Tombstones: one signed by any key but the agency's root, one for an item the agency does
/// not hold, another hash, one for an item of a case under legal hold, and replays of the
/// agency's genuine tombstone (the same document, and an older one for the same item): each
/// refused with its own code (a replay: skipped), nothing recorded in the journal and no content
/// destroyed, on either deployment (a cluster agency's through its database's journal lock).
/// Control: the agency's genuine tombstone deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unknown_held_and_replayed_tombstones_delete_nothing() {
    let mut w = world().await;
    let sup = w.env.enrol(Role::Supervisor).await;
    let sup_token = w.env.login(&sup).await;
    let hold = EventKind::HoldPlaced { case_id: w.case, reason: "12 Js 345/26".into() };
    let done: UploadOutcome = ok(send(&w, &sup, &sup_token, 2, 1, vec![hold]).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    w.env.stop().await;

    let dir = w.env.dir.clone();
    let s3 = is_cluster().then(casebridge_testkit::deployment::s3_config);
    let apply = |docs: &[SignedDoc]| {
        casebridge_agency::retention::apply_offline(&dir, &casebridge_core::Passphrase::new(AGENCY_PASS), s3.clone(), docs)
    };
    let code = |r: casebridge_agency::Result<Vec<Uuid>>| match r.unwrap_err() {
        casebridge_agency::AgencyError::Trust(t) => t.reason.code().to_string(),
        casebridge_agency::AgencyError::Store(casebridge_core::Error::Refused { code, .. }) => code.to_string(),
        e => panic!("refused without a reason code: {e}"),
    };
    let e = agency_store(&w.env).evidence(w.staff_evidence).unwrap();
    let agency = open_agency(&dir);
    let genuine = casebridge_core::Tombstone {
        id: casebridge_trust::tombstone_id(w.public.agency_id, e.id),
        agency_id: w.public.agency_id,
        evidence_id: e.id,
        case_id: e.case_id,
        sha256: e.sha256.clone(),
        rule: "burglary-5y".into(),
        reason: None,
        deleted_at: chrono::Utc::now().fixed_offset(),
    };
    // Every document is made first: the embedded agency's directory is locked while it is open.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let attacker = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    // Forged: the same body signed by an attacker's key (a member's, or the endpoint's TLS key).
    let forged = SignedDoc::sign(casebridge_trust::TOMBSTONE, &genuine, &attacker);
    // A genuine document of another kind (a receipt) passed off as a tombstone.
    let other_kind = agency.sign_receipt_unfiled(&casebridge_trust::Receipt {
        agency_id: w.public.agency_id,
        bundle_id: Uuid::now_v7(),
        manifest_hash: "00".repeat(32),
        sender: w.vol.id,
        seq: 1,
        received_at: chrono::Utc::now().fixed_offset(),
        outcome: casebridge_protocol::BundleOutcome::Accepted,
        events: 0,
        blobs: 0,
    });
    // Unknown item, and another hash, signed by the agency itself.
    let unknown = agency.sign_tombstone(&casebridge_core::Tombstone { evidence_id: Uuid::now_v7(), ..genuine.clone() });
    let other_hash = agency.sign_tombstone(&casebridge_core::Tombstone { sha256: "11".repeat(32), ..genuine.clone() });
    let doc = agency.sign_tombstone(&genuine);
    // An older tombstone of the same item (another rule and time, as an earlier run would have
    // signed it).
    let older = agency.sign_tombstone(&casebridge_core::Tombstone {
        rule: "old-rule".into(),
        deleted_at: chrono::Utc::now().fixed_offset() - chrono::Duration::days(30),
        ..genuine.clone()
    });
    drop(agency);

    let before = held(&w.env, w.staff_evidence);
    assert!(before.2.is_none());
    assert_eq!(code(apply(&[forged])), "tombstone_not_from_agency");
    assert_eq!(code(apply(&[other_kind])), "tombstone_not_from_agency");
    assert_eq!(code(apply(std::slice::from_ref(&unknown))), "tombstone_unknown_item");
    assert_eq!(code(apply(&[other_hash])), "tombstone_mismatch");
    // Under hold: refused even though the agency signed it; with a tombstone of nothing held
    // beside it, all or none.
    assert_eq!(code(apply(std::slice::from_ref(&doc))), "case_on_hold");
    assert_eq!(code(apply(&[doc.clone(), unknown])), "case_on_hold");
    assert_eq!(held(&w.env, w.staff_evidence), before, "nothing was recorded or destroyed");
    let mut out = Vec::new();
    let store = agency_store(&w.env);
    store.read_content(&e.sha256, e.size, &mut out, &mut |_| true).unwrap();
    assert_eq!(out, STAFF_FILE);
    drop(store);

    // Control: released (the supervisor's bundle through the endpoint), the genuine tombstone
    // deletes: recorded once, the content gone.
    let server = start_server(&dir, w.env.clock.clone()).await;
    w.env.url = server.url().to_string();
    w.env.server = Some(server);
    // (Another supervisor: each crafted chain here starts anew.)
    let sup2 = w.env.enrol(Role::Supervisor).await;
    let sup2_token = w.env.login(&sup2).await;
    let release = EventKind::HoldReleased { case_id: w.case, reason: "closed".into() };
    let done: UploadOutcome = ok(send(&w, &sup2, &sup2_token, 2, 1, vec![release]).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    w.env.stop().await;
    let released = held(&w.env, w.staff_evidence);
    assert_eq!(apply(std::slice::from_ref(&doc)).unwrap(), [w.staff_evidence]);
    let after = held(&w.env, w.staff_evidence);
    assert_eq!(after.0, released.0 + 1, "one record: the tombstone");
    assert_eq!(after.1.len(), released.1.len() - 1, "the item's content object is gone");
    assert_eq!(after.2.as_ref().map(|d| d.rule.as_str()), Some("burglary-5y"));

    // Replays: the same document, and an older tombstone of the same item (another rule and
    // time, as a run before it would have signed): nothing recorded, nothing deleted again.
    assert_eq!(apply(&[doc]).unwrap(), Vec::<Uuid>::new());
    assert_eq!(apply(&[older]).unwrap(), Vec::<Uuid>::new());
    let replayed = held(&w.env, w.staff_evidence);
    assert_eq!(replayed, after, "a replay changes nothing");
    let mut store = agency_store(&w.env);
    assert_eq!(store.tombstone(w.staff_evidence).unwrap().unwrap().tombstone.rule, "burglary-5y", "the first tombstone stays");
    assert!(store.check(true, &mut |_| {}).unwrap().ok);
}

/// What the agency holds after its endpoint stopped: its journal's length, its content objects,
/// and whether `item` is deleted.
fn held(env: &Env, item: Uuid) -> (u64, Vec<String>, Option<casebridge_core::DeletedView>) {
    let store = agency_store(env);
    (store.journal_len(), casebridge_testkit::deployment::object_names(&env.dir), store.evidence(item).unwrap().deleted)
}
