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
    if is_cluster() {
        // A cluster agency does not run retention yet: refused with its own code, nothing deleted.
        let err = casebridge_agency::admin::call(&w.env.dir, "POST", "/admin/retention", Some(serde_json::json!({"dry_run": false})))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("retention_unsupported"), "{err}");
        w.env.stop().await;
        return;
    }
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

/// Tombstones: one signed by any key but the agency's root, one for an item the store does not
/// hold, another hash, and one for an item of a case under legal hold: each refused with its
/// own code, nothing deleted. Control: the agency's genuine tombstone deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unknown_and_held_tombstones_delete_nothing() {
    let mut w = world().await;
    w.env.stop().await;
    if is_cluster() {
        // The store's refusals do not depend on the deployment; a cluster agency's replica copy
        // takes no local appends (retention is refused there: the withdrawal test shows it).
        return;
    }
    let agency = open_agency(&w.env.dir);
    let mut store = agency_store(&w.env);
    let e = store.evidence(w.staff_evidence).unwrap();
    let genuine = casebridge_core::Tombstone {
        id: Uuid::now_v7(),
        agency_id: w.public.agency_id,
        evidence_id: e.id,
        case_id: e.case_id,
        sha256: e.sha256.clone(),
        rule: "burglary-5y".into(),
        reason: None,
        deleted_at: chrono::Utc::now().fixed_offset(),
    };
    let code = |r: casebridge_trust::Result<Vec<Uuid>>| r.unwrap_err().reason.code();

    // Forged: the same body signed by an attacker's key (a member's, or the endpoint's TLS key).
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let attacker = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let forged = SignedDoc::sign(casebridge_trust::TOMBSTONE, &genuine, &attacker);
    assert_eq!(code(casebridge_trust::store_tombstones(&mut store, &w.public, &[forged])), "tombstone_not_from_agency");
    // A genuine notice passed off as a tombstone is refused the same way.
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
    assert_eq!(code(casebridge_trust::store_tombstones(&mut store, &w.public, &[other_kind])), "tombstone_not_from_agency");
    // Unknown item, and another hash, signed by the agency itself.
    let unknown = casebridge_core::Tombstone { evidence_id: Uuid::now_v7(), ..genuine.clone() };
    assert_eq!(
        code(casebridge_trust::store_tombstones(&mut store, &w.public, &[agency.sign_tombstone(&unknown)])),
        "tombstone_unknown_item"
    );
    let other_hash = casebridge_core::Tombstone { sha256: "11".repeat(32), ..genuine.clone() };
    assert_eq!(
        code(casebridge_trust::store_tombstones(&mut store, &w.public, &[agency.sign_tombstone(&other_hash)])),
        "tombstone_mismatch"
    );
    // Under hold: refused even though the agency signed it (the hold as a supervisor's event
    // taken into the agency's store, as its endpoint would).
    let hold = |kind| chain(&w.inv.store, 5000, vec![kind]);
    store.import_events(&hold(EventKind::HoldPlaced { case_id: w.case, reason: "order".into() }), vec![]).unwrap();
    assert!(store.case(w.case).unwrap().hold.is_some());
    assert_eq!(code(casebridge_trust::store_tombstones(&mut store, &w.public, &[agency.sign_tombstone(&genuine)])), "case_on_hold");
    assert!(store.evidence(w.staff_evidence).unwrap().deleted.is_none(), "nothing was deleted");
    let mut out = Vec::new();
    store.read_content(&e.sha256, e.size, &mut out, &mut |_| true).unwrap();
    assert_eq!(out, STAFF_FILE);
    // Control: released, the genuine tombstone deletes.
    let release = chain(&w.inv.store, 6000, vec![EventKind::HoldReleased { case_id: w.case, reason: "closed".into() }]);
    store.import_events(&release, vec![]).unwrap();
    let deleted = casebridge_trust::store_tombstones(&mut store, &w.public, &[agency.sign_tombstone(&genuine)]).unwrap();
    assert_eq!(deleted, [w.staff_evidence]);
    assert!(store.check(true, &mut |_| {}).unwrap().ok);
}
