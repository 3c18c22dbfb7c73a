//! Cases, notes and evidence through the session: sorting and search, the import job with
//! progress and cancel, previews, custody, and the access log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use casebridge_app::import::{import_files, Checked};
use casebridge_app::{AppEvent, CaseSort, CaseStatus, JobDone, Role, Session};
use casebridge_core::EvidenceOptions;

use crate::{file, session_at, unlocked, wait_for};

#[test]
fn cases_are_created_listed_sorted_searched_and_shown() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let a = s.case_create("Bike thefts, Mitte", Some("white van".into()), Some("BER-2026-000123".into()), vec!["bikes".into()]).unwrap();
    let b = s.case_create("arson, Wedding", None, None, vec![]).unwrap();
    let c = s.case_create("Car break-ins", None, None, vec!["cars".into()]).unwrap();
    s.note_add(&a, "Witness saw a white van").unwrap();

    let ids = |sort| s.cases_list(None, None, sort).unwrap().into_iter().map(|c| c.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(CaseSort::Updated), [a.clone(), c.clone(), b.clone()], "the note made case a the latest change");
    assert_eq!(ids(CaseSort::Title), [b.clone(), a.clone(), c.clone()], "titles sort A to Z ignoring case");
    assert_eq!(ids(CaseSort::Created), [c.clone(), b.clone(), a.clone()], "newest first");

    let found = s.cases_list(Some("VAN"), None, CaseSort::Updated).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reference.as_deref(), Some("BER-2026-000123"));
    // The search is full-text: a word only in a note finds its case, ranked hits say where.
    s.note_add(&b, "The caretaker smelled petrol").unwrap();
    let found = s.cases_list(Some("petrol"), None, CaseSort::Updated).unwrap();
    assert_eq!(
        found.iter().map(|c| c.id.to_string()).collect::<Vec<_>>(),
        std::slice::from_ref(&b),
        "the index was refreshed after the note"
    );
    let hits = s.search("caretaker", Some(5)).unwrap();
    assert_eq!((hits[0].kind, hits[0].case_id.to_string()), (casebridge_app::search::HitKind::Note, b.clone()));
    assert_eq!(hits[0].matches[0].field, casebridge_app::search::SearchField::Note);
    // Tags are editable, and the index follows.
    s.case_set_tags(&c, vec!["stolen radios".into(), " ".into()]).unwrap();
    assert_eq!(s.case_get(&c).unwrap().tags, ["stolen radios"]);
    assert!(s.cases_list(Some("cars"), None, CaseSort::Updated).unwrap().is_empty(), "the old tag is gone");
    assert_eq!(s.cases_list(Some("radios"), None, CaseSort::Updated).unwrap().len(), 1);
    // The index is dropped at lock: a locked session searches nothing.
    s.lock();
    assert_eq!(s.search("van", None).unwrap_err().code, "locked");
    s.unlock(crate::PASS.into()).unwrap();
    assert_eq!(s.search("van", None).unwrap().len(), 2, "built again after unlock (case a's summary and note)");
    assert_eq!(s.cases_list(Some("  "), Some(CaseStatus::Open), CaseSort::Title).unwrap().len(), 3, "a blank search is no search");
    assert!(s.cases_list(None, Some(CaseStatus::Closed), CaseSort::Updated).unwrap().is_empty());
    assert_eq!(casebridge_app::cases::parse_status(Some("shut")).unwrap_err().code, "invalid_input");

    let detail = s.case_get(&a).unwrap();
    assert_eq!((detail.title.as_str(), detail.tags.as_slice()), ("Bike thefts, Mitte", ["bikes".to_string()].as_slice()));
    assert_eq!(detail.notes.len(), 1);
    assert_eq!(detail.notes[0].author_name.as_deref(), Some("Vera Brandt"));
    assert_eq!(s.case_get("not-an-id").unwrap_err().code, "invalid_input");
    assert_eq!(s.case_get(&uuid::Uuid::nil().to_string()).unwrap_err().code, "unknown_case");
    assert_eq!(s.case_create("  ", None, None, vec![]).unwrap_err().code, "invalid_input");

    // Viewing a case is recorded in its access log (police staff).
    let log = s.store().with(|st| Ok(st.access_log(detail.id)?)).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "viewed");
}

#[test]
fn an_import_job_reports_progress_then_the_items_show_with_custody_and_preview() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, None, vec![]).unwrap();
    let one = file(env.tmp.path(), "one.bin", 3 << 20, 1);
    let two = file(env.tmp.path(), "two.txt", 1000, 2);
    let job = s.evidence_import(&case, vec![one.display().to_string(), two.display().to_string()]).unwrap();

    let mut progress = Vec::new();
    let done = wait_for(&env.events, |e| match e {
        AppEvent::JobProgress(p) => {
            assert_eq!(p.job, job);
            progress.push(p);
            None
        }
        AppEvent::JobDone(d) => Some(d),
        _ => None,
    });
    assert_eq!(done, JobDone { job: job.clone(), ok: true, error: None });
    let total = (3 << 20) + 1000;
    assert!(progress.iter().all(|p| p.total == total && p.done <= total));
    assert!(progress.windows(2).all(|w| w[0].done <= w[1].done), "progress never goes back");
    assert!(progress.iter().any(|p| p.item == 1 && p.name == "two.txt"));
    assert_eq!(progress.last().map(|p| p.done), Some(total));
    assert!(s.jobs().is_empty(), "a finished job is gone");
    assert_eq!(s.job_cancel(&job).unwrap_err().code, "unknown_job");

    let items = s.evidence_list(&case).unwrap();
    assert_eq!(items.iter().map(|e| e.original_name.as_str()).collect::<Vec<_>>(), ["one.bin", "two.txt"]);
    let small = items.iter().find(|e| e.original_name == "two.txt").unwrap();
    let custody = s.evidence_custody(&small.id.to_string()).unwrap();
    assert_eq!(custody.iter().map(|c| c.action.as_str()).collect::<Vec<_>>(), ["imported"]);

    let preview = s.evidence_preview(&small.id.to_string(), 4096).unwrap();
    assert!(!preview.too_large);
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(preview.data_base64.unwrap()).unwrap();
    assert_eq!(bytes, std::fs::read(&two).unwrap());
    let big = items.iter().find(|e| e.original_name == "one.bin").unwrap();
    let preview = s.evidence_preview(&big.id.to_string(), 4096).unwrap();
    assert!(preview.too_large && preview.data_base64.is_none());
    assert_eq!(preview.media_type, big.media_type);
    let log = s.store().with(|st| Ok(st.access_log(small.case_id)?)).unwrap();
    assert_eq!(
        log.iter().filter(|a| a.evidence_id == Some(small.id) && a.action == "viewed").count(),
        1,
        "the shown item's view is logged"
    );
    // Issue 16: so is the custody view, once, and the evidence list (one entry naming every item).
    assert_eq!(log.iter().filter(|a| a.evidence_id == Some(small.id) && a.action == "viewed_custody").count(), 1);
    assert!(log.iter().any(|a| a.action == "listed_evidence" && a.item_ids.len() == items.len()), "{log:?}");
}

#[test]
fn bad_files_are_refused_before_a_job_starts() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, None, vec![]).unwrap();
    let good = file(env.tmp.path(), "good.bin", 10, 1);
    let missing = env.tmp.path().join("missing.jpg");
    let err = s.evidence_import(&case, vec![good.display().to_string(), missing.display().to_string()]).unwrap_err();
    assert_eq!(err.code, "bad_file");
    assert!(err.message.contains("missing.jpg") && err.message.contains("nothing was imported"), "{}", err.message);
    let dir = s.evidence_import(&case, vec![env.tmp.path().display().to_string()]).unwrap_err();
    assert_eq!(dir.code, "bad_file");
    assert_eq!(s.evidence_import(&case, vec![]).unwrap_err().code, "invalid_input");
    assert_eq!(s.evidence_import("nope", vec![good.display().to_string()]).unwrap_err().code, "unknown_case");
    assert!(s.evidence_list(&case).unwrap().is_empty());
    assert!(env.events.try_recv().is_err(), "no job ran");
}

#[test]
fn cancelling_an_import_keeps_the_finished_items_and_the_store_consistent() {
    let env = unlocked(Role::Investigator);
    let case = env.session.case_create("Bike thefts", None, None, vec![]).unwrap();
    let paths: Vec<String> = (0..3).map(|i| file(env.tmp.path(), &format!("f{i}.bin"), 2 << 20, i as u64).display().to_string()).collect();

    // A session whose listener cancels the job as soon as the second file starts.
    let clock = env.clock.clone();
    drop(env.session);
    let me: Arc<OnceLock<Arc<Session>>> = Arc::new(OnceLock::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let weak = me.clone();
    let session = Arc::new(Session::new(&env.dir).with_kdf(casebridge_core::KdfParams::INSECURE_FOR_TESTS).with_clock(clock).with_emitter(
        Arc::new(move |e| {
            if let AppEvent::JobProgress(p) = &e {
                if p.item == 1 {
                    if let Some(s) = weak.get() {
                        let _ = s.job_cancel(&p.job);
                    }
                }
            }
            let _ = tx.lock().unwrap().send(e);
        }),
    ));
    assert!(me.set(session.clone()).is_ok());
    session.unlock(crate::PASS.into()).unwrap();
    let job = session.evidence_import(&case, paths).unwrap();
    let done = wait_for(&rx, |e| match e {
        AppEvent::JobDone(d) => Some(d),
        _ => None,
    });
    assert_eq!(done.job, job);
    assert!(!done.ok);
    let err = done.error.unwrap();
    assert_eq!(err.code, "cancelled");
    assert!(err.message.contains("1 of 3 files were imported"), "{}", err.message);

    let items = session.evidence_list(&case).unwrap();
    assert_eq!(items.iter().map(|e| e.original_name.as_str()).collect::<Vec<_>>(), ["f0.bin"]);
    let report = session.store().with(|st| Ok(st.check(true, &mut |_| {})?)).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    // The profile still works: a new import runs to the end.
    let again = file(env.tmp.path(), "again.bin", 100, 9);
    session.evidence_import(&case, vec![again.display().to_string()]).unwrap();
    let done = wait_for(&rx, |e| match e {
        AppEvent::JobDone(d) => Some(d),
        _ => None,
    });
    assert!(done.ok, "{done:?}");
}

#[test]
fn the_import_library_function_stops_between_chunks_when_cancelled() {
    let env = unlocked(Role::Investigator);
    let case = env.session.case_create("Bike thefts", None, None, vec![]).unwrap();
    let case = uuid::Uuid::parse_str(&case).unwrap();
    let files = Checked::new(vec![file(env.tmp.path(), "a.bin", 4 << 20, 1), file(env.tmp.path(), "b.bin", 10, 2)]).unwrap();
    let cancel = AtomicBool::new(false);
    // Cancel in the middle of the first file: nothing is recorded.
    let err = import_files(env.session.store(), case, &files, &EvidenceOptions::default(), &cancel, &mut |p| {
        if p.done > 0 {
            cancel.store(true, Ordering::SeqCst);
        }
    })
    .unwrap_err();
    assert_eq!(err.code, "cancelled");
    assert!(err.message.contains("0 of 2"), "{}", err.message);
    assert!(env.session.evidence_list(&case.to_string()).unwrap().is_empty());

    // Locking the profile mid-import stops it with `locked` after the current item.
    let cancel = AtomicBool::new(false);
    let store = env.session.store().clone();
    let err = import_files(env.session.store(), case, &files, &EvidenceOptions::default(), &cancel, &mut |p| {
        if p.item == 1 {
            // Runs between items, while the store is not held.
            store.close();
        }
    })
    .unwrap_err();
    assert_eq!(err.code, "locked");
    assert!(err.message.contains("1 of 2 files were imported"), "{}", err.message);
    let (reopened, _events) = session_at(&env.dir, &env.clock);
    reopened.unlock(crate::PASS.into()).unwrap();
    assert_eq!(reopened.evidence_list(&case.to_string()).unwrap().len(), 1);
}
