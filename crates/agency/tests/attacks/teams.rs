//! Issue 16, need to know: what an investigator's crafted bundle cannot do to a case's team or
//! its legal hold, each with the honest variant accepted beside it.

use super::*;

/// An investigator off the case's team writes into it, joins it, or holds it; the lead removes
/// itself. Each is refused with its own code and nothing is stored. Controls: the lead assigns
/// the other investigator, whose note is then accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_investigator_off_the_team_cannot_write_join_or_hold_a_case() {
    let mut w = world().await;
    let other = w.env.enrol(Role::Investigator).await;
    let other_token = w.env.login(&other).await;
    let note = |text: &str| EventKind::NoteAdded { case_id: w.case, note_id: Uuid::now_v7(), text: text.into() };

    // Attacks by the investigator off the team (each bundle is their first: nothing is kept).
    let attacks: [(EventKind, &str); 3] = [
        (note("planted by someone off the team"), "not_on_team"),
        (EventKind::TeamAssigned { case_id: w.case, member_id: other.id }, "team_change_forbidden"),
        (EventKind::HoldPlaced { case_id: w.case, reason: "to block its deletion".into() }, "supervisor_only"),
    ];
    for (kind, code) in attacks {
        let (id, bytes) =
            Bundle::new(other.id, &other.credential, chain(&other.store, 1, vec![kind]), vec![]).write(&other.store, &w.public);
        refused(upload(&w.env, &other_token, id, &bytes).await, StatusCode::FORBIDDEN, code).await;
    }
    // The lead may not remove itself, nor place a hold.
    for (kind, code) in [
        (EventKind::TeamUnassigned { case_id: w.case, member_id: w.inv.id }, "team_change_forbidden"),
        (EventKind::HoldPlaced { case_id: w.case, reason: "x".into() }, "supervisor_only"),
        // Issue 16: only a supervisor approves disclosing a contributor's identity.
        (EventKind::DisclosureRecorded { case_id: w.case, member_id: other.id, reason: "x".into() }, "supervisor_only"),
        // Nor move the case into a category no retention rule names (a retention change).
        (
            EventKind::CaseEdited {
                case_id: w.case,
                title: None,
                summary: None,
                status: None,
                reference: None,
                category: Some("exempt".into()),
                tags: None,
            },
            "supervisor_only",
        ),
    ] {
        let mut b = Bundle::new(w.inv.id, &w.inv.credential, chain(&w.inv.store, 1000, vec![kind]), vec![]);
        b.seq = 10; // a gap after the honest bundle 1: no link is checked
        b.prev = "ab".repeat(32);
        let (id, bytes) = b.write(&w.inv.store, &w.public);
        refused(upload(&w.env, &w.inv_token, id, &bytes).await, StatusCode::FORBIDDEN, code).await;
    }

    // Controls: the lead assigns the other investigator; then their note is accepted.
    let mut b = Bundle::new(
        w.inv.id,
        &w.inv.credential,
        chain(&w.inv.store, 1000, vec![EventKind::TeamAssigned { case_id: w.case, member_id: other.id }]),
        vec![],
    );
    b.seq = 10;
    b.prev = "ab".repeat(32);
    let (id, bytes) = b.write(&w.inv.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.inv_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    let (id, bytes) =
        Bundle::new(other.id, &other.credential, chain(&other.store, 1, vec![note("the assigned investigator's note")]), vec![])
            .write(&other.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &other_token, id, &bytes).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");

    w.env.stop().await;
    let store = agency_store(&w.env);
    let case = store.case(w.case).unwrap();
    let notes: Vec<&str> = case.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(notes, ["the assigned investigator's note"], "nothing of the refused bundles is stored");
    assert_eq!(case.team.iter().map(|m| m.id).collect::<Vec<_>>(), [w.inv.id, other.id]);
    assert!(case.hold.is_none());
    assert_eq!(case.category, None, "the category the lead tried to set is not stored");
}
