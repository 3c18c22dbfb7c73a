//! [`decide`] on crafted store views: every string a case, brief, submission, item or decision
//! carries holds a marker, and no marker may reach a volunteer's notification.

use casebridge_core::projection::ReviewRecord;
use casebridge_core::{Area, ReviewDecision, ReviewState, SubmissionItem};
use chrono::DateTime;

use super::*;

const MARK: &str = "ZQXMARK";

fn t() -> chrono::DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-14T09:14:00+01:00").unwrap()
}

fn brief(case: Uuid, by: Uuid) -> BriefView {
    BriefView {
        id: Uuid::now_v7(),
        title: format!("{MARK}-brief-title"),
        body: format!("{MARK}-brief-text"),
        area: Some(Area { lat: 52.5, lon: 13.4, radius_m: 500.0 }),
        from: Some(t()),
        until: Some(t()),
        case_id: case,
        audience: vec![],
        published_by: Some(by),
        published_at: Some(t()),
        withdrawn: false,
        from_agency: false,
    }
}

fn submission(case: Uuid, submitter: Uuid, decisions: usize) -> SubmissionView {
    let id = Uuid::now_v7();
    let item = SubmissionItem {
        evidence_id: Uuid::now_v7(),
        name: format!("{MARK}-evidence-name.mp4"),
        media_type: "video/mp4".into(),
        size: 1,
        sha256: MARK.into(),
        state: if decisions > 0 { ReviewState::Rejected } else { ReviewState::Pending },
        reason: Some(format!("{MARK}-reviewer-reason")),
        held: true,
        deleted: None,
    };
    let decision = ReviewRecord {
        submission_id: id,
        items: vec![],
        decision: ReviewDecision::Rejected,
        reason: Some(format!("{MARK}-reviewer-reason")),
        by: Uuid::now_v7(),
        at: t(),
    };
    SubmissionView {
        id,
        brief_id: Uuid::now_v7(),
        brief_title: Some(format!("{MARK}-brief-title")),
        case_id: case,
        submitter,
        submitted_at: t(),
        state: ReviewState::Pending,
        items: vec![item],
        description: Some(format!("{MARK}-description")),
        decisions: vec![decision; decisions],
        withdrawn_at: None,
    }
}

fn held(subs: &[SubmissionView], briefs: &[BriefView], role: Role, my_cases: &[Uuid]) -> Held {
    Held {
        submissions: subs.iter().map(|s| (s.id, HeldSubmission::of(s))).collect(),
        briefs: briefs.iter().map(|b| (b.id, HeldBrief::of(b, role))).collect(),
        my_cases: my_cases.iter().copied().collect(),
    }
}

fn texts(ns: &[Notification]) -> String {
    ns.iter().map(|n| format!("{}\n{}\n{:?}", n.title, n.body, n)).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_volunteers_notifications_carry_no_case_content_and_are_coalesced() {
    let me = Uuid::now_v7();
    let case = Uuid::now_v7();
    let agency = Uuid::now_v7();
    let old: Vec<SubmissionView> = (0..3).map(|_| submission(case, me, 0)).collect();
    let briefs_before = [brief(case, agency)];
    let before = held(&old, &briefs_before, Role::Volunteer, &[]);
    // After the round: all three reviewed, one already-decided one decided again, two new briefs.
    let mut decided: Vec<SubmissionView> =
        old.iter().map(|s| SubmissionView { decisions: vec![submission(case, me, 1).decisions[0].clone()], ..s.clone() }).collect();
    let briefs_after = vec![briefs_before[0].clone(), brief(case, agency), brief(Uuid::now_v7(), agency)];
    let after = held(&decided, &briefs_after, Role::Volunteer, &[]);
    let ns = decide(me, Role::Volunteer, &before, &after, true, Language::En);
    assert_eq!(ns.iter().map(|n| (n.kind, n.count)).collect::<Vec<_>>(), [(NotificationKind::Decisions, 3), (NotificationKind::Briefs, 2)]);
    assert_eq!(ns[0].body, "3 submissions were reviewed");
    assert_eq!(ns[1].body, "2 new requests for help");
    assert!(!texts(&ns).contains(MARK), "{ns:?}");
    assert!(!texts(&ns).contains(&case.to_string()));
    // The volunteer's Held never even keeps the brief title.
    assert!(after.briefs.values().all(|b| b.title.is_empty()));

    // One of each: the singular texts, still without content.
    let again = decided[0].decisions[0].clone();
    decided[0].decisions.push(again);
    let mut later_briefs = briefs_after.clone();
    later_briefs.push(brief(case, agency));
    let later = held(&decided, &later_briefs, Role::Volunteer, &[]);
    let ns = decide(me, Role::Volunteer, &after, &later, true, Language::En);
    assert_eq!(
        texts(&ns).lines().filter(|l| !l.starts_with("Notification")).collect::<Vec<_>>(),
        ["Casebridge", "A submission was reviewed", "Casebridge", "A new request for help"]
    );
    assert!(!texts(&ns).contains(MARK));

    // Nothing new: nothing shown; the setting off: nothing shown.
    assert!(decide(me, Role::Volunteer, &later, &later, true, Language::En).is_empty());
    assert!(decide(me, Role::Volunteer, &before, &later, false, Language::En).is_empty());
}

#[test]
fn staff_get_one_counted_notification_and_only_for_cases_they_may_see() {
    let me = Uuid::now_v7();
    let colleague = Uuid::now_v7();
    let volunteer = Uuid::now_v7();
    let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
    let before = held(&[], &[], Role::Investigator, &[mine]);
    let subs: Vec<SubmissionView> =
        (0..3).map(|_| submission(mine, volunteer, 0)).chain((0..2).map(|_| submission(theirs, volunteer, 0))).collect();
    let briefs = [brief(mine, colleague), brief(mine, me), brief(theirs, colleague)];
    let after = held(&subs, &briefs, Role::Investigator, &[mine]);

    // An investigator: their team's case only; never their own brief.
    let ns = decide(me, Role::Investigator, &before, &after, true, Language::En);
    assert_eq!(
        ns.iter().map(|n| (n.kind, n.count)).collect::<Vec<_>>(),
        [(NotificationKind::Submissions, 3), (NotificationKind::Briefs, 1)]
    );
    assert_eq!(ns[0].body, "3 new submissions to review");
    assert!(!ns[0].title.contains(MARK) && !ns[0].body.contains(MARK), "no content in a submission notification: {:?}", ns[0]);
    // Staff may see a brief's title: in the plain-text title line, never in the body.
    assert_eq!(ns[1].title, format!("New brief: {MARK}-brief-title"));
    assert!(!ns[1].body.contains(MARK));

    // Off the team of every case: nothing at all about them.
    let off = held(&subs, &briefs, Role::Investigator, &[]);
    assert!(decide(me, Role::Investigator, &before, &off, true, Language::En).is_empty());
    // A supervisor sees every case: 5 submissions, 2 briefs of others (coalesced, no title).
    let ns = decide(me, Role::Supervisor, &before, &off, true, Language::En);
    assert_eq!(
        ns.iter().map(|n| (n.kind, n.count)).collect::<Vec<_>>(),
        [(NotificationKind::Submissions, 5), (NotificationKind::Briefs, 2)]
    );
    assert_eq!(ns[1].body, "2 new briefs");
    assert!(!texts(&ns).contains(MARK));
    // The setting off: nothing.
    assert!(decide(me, Role::Supervisor, &before, &off, false, Language::En).is_empty());
    // A submission withdrawn before it arrived is not announced; one known already neither.
    let mut gone = subs[0].clone();
    gone.withdrawn_at = Some(t());
    let after2 = held(&[gone], &[], Role::Supervisor, &[]);
    assert!(decide(me, Role::Supervisor, &before, &after2, true, Language::En).is_empty());
    assert!(decide(me, Role::Supervisor, &off, &off, true, Language::En).is_empty());
    // Staff are not told of decisions; a volunteer is not told of submissions.
    let reviewed: Vec<SubmissionView> =
        subs.iter().map(|s| SubmissionView { decisions: submission(mine, volunteer, 1).decisions, ..s.clone() }).collect();
    assert!(decide(me, Role::Supervisor, &off, &held(&reviewed, &briefs, Role::Supervisor, &[]), true, Language::En).is_empty());
    assert!(decide(volunteer, Role::Volunteer, &before, &held(&subs, &[], Role::Volunteer, &[]), true, Language::En).is_empty());
}

#[test]
fn a_crafted_brief_title_cannot_inject_lines_or_markup() {
    assert_eq!(
        plain_title("Footage\nwanted\r\n<b>now</b> &amp; <a href=\"file:///etc/passwd\">x</a>"),
        "Footage wanted bnow/b amp; a href=\"file:///etc/passwd\"x/a"
    );
    assert_eq!(plain_title("\u{7}\u{1b}[31m  "), "[31m");
    assert_eq!(plain_title("   \n\t"), "(untitled)");
    let long = "x".repeat(500);
    let cut = plain_title(&long);
    assert_eq!(cut.chars().count(), MAX_TITLE_CHARS);
    assert!(cut.ends_with('…'));
    assert_eq!(plain_title("Ünïcödé 🚲"), "Ünïcödé 🚲");
}

#[test]
fn notifications_are_written_in_the_ui_language_and_a_volunteer_s_still_name_nothing() {
    let me = Uuid::now_v7();
    let agency = Uuid::now_v7();
    let case = Uuid::now_v7();
    let old: Vec<SubmissionView> = (0..2).map(|_| submission(case, me, 0)).collect();
    let before = held(&old, &[], Role::Volunteer, &[]);
    let decided: Vec<SubmissionView> =
        old.iter().map(|s| SubmissionView { decisions: vec![submission(case, me, 1).decisions[0].clone()], ..s.clone() }).collect();
    let after = held(&decided, &[brief(case, agency)], Role::Volunteer, &[]);
    let bodies = |lang| decide(me, Role::Volunteer, &before, &after, true, lang).into_iter().map(|n| n.body).collect::<Vec<_>>();
    assert_eq!(bodies(Language::En), ["2 submissions were reviewed", "A new request for help"]);
    assert_eq!(bodies(Language::De), ["2 Einsendungen wurden geprüft", "Eine neue Bitte um Hilfe"]);
    assert_eq!(bodies(Language::Nl), ["2 inzendingen zijn beoordeeld", "Een nieuw verzoek om hulp"]);
    for lang in [Language::De, Language::Nl] {
        let ns = decide(me, Role::Volunteer, &before, &after, true, lang);
        assert!(!texts(&ns).contains(MARK) && !texts(&ns).contains(&case.to_string()), "{ns:?}");
    }

    // Staff: the brief's title after the language's words; an empty title in that language.
    let colleague = Uuid::now_v7();
    let staff_before = held(&[], &[], Role::Supervisor, &[]);
    let mut untitled = brief(case, colleague);
    untitled.title = " \n ".into();
    let ns = decide(me, Role::Supervisor, &staff_before, &held(&[], &[brief(case, colleague)], Role::Supervisor, &[]), true, Language::De);
    assert_eq!(
        (ns[0].title.as_str(), ns[0].body.as_str()),
        (format!("Neuer Aufruf: {MARK}-brief-title").as_str(), "Ein Kollege hat einen Aufruf veröffentlicht")
    );
    let ns = decide(me, Role::Supervisor, &staff_before, &held(&[], &[untitled], Role::Supervisor, &[]), true, Language::Nl);
    assert_eq!(ns[0].title, "Nieuwe oproep: (zonder titel)");
}

#[test]
fn a_language_tag_names_its_language_or_none() {
    assert_eq!(Language::from_tag("de"), Some(Language::De));
    assert_eq!(Language::from_tag("de-AT"), Some(Language::De));
    assert_eq!(Language::from_tag("nl_BE.UTF-8"), Some(Language::Nl));
    assert_eq!(Language::from_tag("EN-gb"), Some(Language::En));
    for bad in ["", "fr", "C", "deu", "-de", "d\u{0}e"] {
        assert_eq!(Language::from_tag(bad), None, "{bad:?}");
    }
}
