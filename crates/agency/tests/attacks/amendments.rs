//! Issue 17: a note is corrected only by its author. Crafted bundles that amend another
//! member's note (sent by a supervisor, or relayed by the note's own author) or a note nobody
//! holds are refused with their own codes; the author's amendment is accepted beside them, and
//! the agency's note keeps its original under the author's amendment only.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_notes_author_may_amend_it() {
    let mut w = world().await;
    let sup = w.env.enrol(Role::Supervisor).await;
    let sup_token = w.env.login(&sup).await;
    let note = Uuid::now_v7();
    let amend =
        |note_id: Uuid, text: &str| EventKind::NoteAmended { case_id: w.case, note_id, text: text.into(), reason: Some("typo".into()) };

    // The investigator's note, as the agency holds it (an honest bundle).
    let mut b = Bundle::new(
        w.inv.id,
        &w.inv.credential,
        chain(&w.inv.store, 1000, vec![EventKind::NoteAdded { case_id: w.case, note_id: note, text: "Arrival 22:13".into() }]),
        vec![],
    );
    b.seq = 10; // a gap after the honest bundle 1: no link is checked
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.inv_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");

    // Attack: a supervisor (who may write into any case) rewrites the investigator's note.
    let (id, bytes) =
        Bundle::new(sup.id, &sup.credential, chain(&sup.store, 1, vec![amend(note, "Arrival 23:59")]), vec![]).write(&sup.store, &w.public);
    refused(upload(&w.env, &sup_token, id, &bytes).await, StatusCode::FORBIDDEN, "amendment_not_author").await;
    // Attack: the note's author relays someone else's amendment of it.
    let relayed = event(&sup.store, sup.id, 1, now_ms(), amend(note, "Arrival 00:00"));
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, vec![relayed], vec![]);
    b.seq = 20;
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    refused(upload(&w.env, &w.inv_token, id, &bytes).await, StatusCode::FORBIDDEN, "amendment_not_author").await;
    // Attack: an amendment of a note nobody holds (a placeholder to fill later).
    let (id, bytes) = Bundle::new(sup.id, &sup.credential, chain(&sup.store, 1, vec![amend(Uuid::now_v7(), "planted")]), vec![])
        .write(&sup.store, &w.public);
    refused(upload(&w.env, &sup_token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "amended_note_unknown").await;
    // Attack: a note and another member's amendment of it in one bundle.
    let fresh = Uuid::now_v7();
    let mut events = chain(&w.inv.store, 2000, vec![EventKind::NoteAdded { case_id: w.case, note_id: fresh, text: "mine".into() }]);
    events.push(event(&sup.store, sup.id, 1, now_ms(), amend(fresh, "theirs")));
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, events, vec![]);
    b.seq = 30;
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    refused(upload(&w.env, &w.inv_token, id, &bytes).await, StatusCode::FORBIDDEN, "amendment_not_author").await;

    // Control: the author's own amendment is accepted.
    let mut b = Bundle::new(w.inv.id, &w.inv.credential, chain(&w.inv.store, 3000, vec![amend(note, "Arrival 22:31")]), vec![]);
    b.seq = 40;
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.inv_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");

    w.env.stop().await;
    let store = agency_store(&w.env);
    let case = store.case(w.case).unwrap();
    let n = case.notes.iter().find(|n| n.id == note).unwrap();
    assert_eq!(n.text, "Arrival 22:31", "the author's amendment is the current text");
    assert_eq!(n.original_text.as_deref(), Some("Arrival 22:13"), "the original is kept");
    assert_eq!(n.amendments.len(), 1, "no refused amendment is stored");
    assert!(case.notes.iter().all(|n| n.id != fresh), "nothing of a refused bundle is stored");
}
