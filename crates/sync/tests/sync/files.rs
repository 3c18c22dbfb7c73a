//! The outbox directory and the state file.

use casebridge_sync::{status, Carried, Outbox, SyncError, SyncState, OUTBOX_DIR, STATE_FILE};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

#[test]
fn pending_lists_bundles_in_name_order_and_ignores_partial_and_stray_files() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path().join("outbox")).unwrap();
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    // Written newest first, so directory order is not name order.
    for (n, id) in ids.iter().enumerate().rev() {
        std::fs::write(outbox.path_of(*id), vec![0u8; 100 * (n + 1)]).unwrap();
    }
    std::fs::write(outbox.dir().join(format!("{}.cbb.tmp", Uuid::now_v7())), b"partial").unwrap();
    std::fs::write(outbox.dir().join("README.txt"), b"stray").unwrap();
    std::fs::write(outbox.dir().join("not-a-uuid.cbb"), b"stray").unwrap();
    std::fs::create_dir(outbox.dir().join(format!("{}.cbb", Uuid::now_v7()))).unwrap();

    let pending = outbox.pending().unwrap();
    assert_eq!(pending.iter().map(|p| p.bundle_id).collect::<Vec<_>>(), ids);
    assert_eq!(pending.iter().map(|p| p.size).collect::<Vec<_>>(), [100, 200, 300]);
    assert_eq!(pending[0].path, outbox.path_of(ids[0]));
    assert_eq!(outbox.pending_bytes().unwrap(), 600);
}

#[test]
fn mark_sent_moves_the_bundle_out_of_the_queue_for_good() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    std::fs::write(outbox.path_of(a), b"aaaa").unwrap();
    std::fs::write(outbox.path_of(b), b"bb").unwrap();

    outbox.mark_sent(a).unwrap();
    assert_eq!(outbox.pending().unwrap().iter().map(|p| p.bundle_id).collect::<Vec<_>>(), [b]);
    assert_eq!(std::fs::read(tmp.path().join("sent").join(format!("{a}.cbb"))).unwrap(), b"aaaa");
    assert_eq!(outbox.pending_bytes().unwrap(), 2);
    outbox.mark_sent(a).unwrap(); // again: already there, fine

    let unknown = Uuid::now_v7();
    let e = outbox.mark_sent(unknown).unwrap_err();
    assert!(matches!(e, SyncError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains(&unknown.to_string()), "{e}");
}

#[test]
fn a_missing_outbox_reads_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::at(tmp.path().join("nope"));
    assert!(outbox.pending().unwrap().is_empty());
    assert_eq!(outbox.pending_bytes().unwrap(), 0);
}

#[test]
fn state_round_trips_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sync");
    assert_eq!(SyncState::load(&dir).unwrap(), SyncState::default(), "no file yet: the initial state");

    let mut state = SyncState { cursor: 42, ..SyncState::default() };
    state.record_attempt(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap());
    state.record_error(&SyncError::Connection { message: "https://127.0.0.1:1 (failed): refused".into() });
    state.save(&dir).unwrap();
    assert_eq!(SyncState::load(&dir).unwrap(), state);

    state.record_success(Utc.with_ymd_and_hms(2025, 1, 2, 3, 5, 0).unwrap());
    state.cursor = 43;
    state.save(&dir).unwrap();
    let loaded = SyncState::load(&dir).unwrap();
    assert_eq!(loaded, state);
    assert_eq!(loaded.last_error, None, "a success clears the last error");
    let names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, [STATE_FILE], "no temporary file left behind");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(STATE_FILE)).unwrap()).unwrap();
    assert_eq!(json["cursor"], 43);
    assert_eq!(json["last_success"], "2025-01-02T03:05:00Z");
}

#[test]
fn a_damaged_state_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(STATE_FILE), b"{not json").unwrap();
    let e = SyncState::load(tmp.path()).unwrap_err();
    assert!(matches!(e, SyncError::StateDamaged { .. }));
    assert!(e.to_string().contains(STATE_FILE), "{e}");
}

#[test]
fn status_reports_the_outbox_and_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let s = status(tmp.path()).unwrap();
    assert_eq!((s.pending, s.pending_bytes, s.cursor, s.last_success.is_none()), (0, 0, 0, true));

    let outbox = Outbox::open(tmp.path().join(OUTBOX_DIR)).unwrap();
    std::fs::write(outbox.path_of(Uuid::now_v7()), vec![1u8; 1234]).unwrap();
    std::fs::write(outbox.path_of(Uuid::now_v7()), vec![1u8; 766]).unwrap();
    let mut state = SyncState { cursor: 7, ..SyncState::default() };
    state.record_success(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap());
    state.save(tmp.path()).unwrap();

    let s = status(tmp.path()).unwrap();
    assert_eq!((s.pending, s.pending_bytes, s.cursor), (2, 2000, 7));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["pending"], 2);
    assert_eq!(json["pending_bytes"], 2000);
    assert_eq!(json["last_success"], "2025-06-01T12:00:00Z");
    assert!(json["last_error"].is_null());
}

#[test]
fn refused_records_are_listed_and_an_unreadable_one_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::in_sync_dir(tmp.path()).unwrap();
    assert!(outbox.refused().unwrap().is_empty(), "no refused directory yet: none");
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    std::fs::write(outbox.path_of(a), b"aaaa").unwrap();
    let pending = outbox.pending().unwrap();
    let at = Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 0).unwrap();
    let error = SyncError::Server { status: 403, code: "forbidden".into(), message: "brief x was withdrawn".into() };
    let record = outbox.refuse(&pending[0], &error, at).unwrap();
    assert_eq!((record.status, record.code.as_str(), record.refused_at, record.size), (403, "forbidden", at, 4));
    assert_eq!(record.carried, Carried::default(), "no note: nothing known of what it carried");
    // A damaged record and stray files next to it.
    std::fs::write(outbox.refused_dir().join(format!("{b}.json")), b"{not json").unwrap();
    std::fs::write(outbox.refused_dir().join("notes.txt"), b"stray").unwrap();
    std::fs::write(outbox.refused_dir().join(format!("{b}.json.tmp")), b"partial").unwrap();
    let listed = status(tmp.path()).unwrap().refused;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let damaged = listed.iter().find(|r| r.bundle_id == b).unwrap();
    assert_eq!(damaged.code, "record_unreadable");
    assert!(damaged.message.contains(&format!("{b}.json")), "{}", damaged.message);
    assert_eq!(listed.iter().find(|r| r.bundle_id == a).unwrap(), &record);
}

#[test]
fn a_bundle_that_goes_through_after_an_interrupted_refusal_loses_the_stale_record() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::in_sync_dir(tmp.path()).unwrap();
    let a = Uuid::now_v7();
    std::fs::write(outbox.path_of(a), b"aaaa").unwrap();
    outbox.write_carried(a, &Carried { events: 2, ..Carried::default() }).unwrap();
    assert_eq!(outbox.carried(a).unwrap().events, 2);
    // The record was written, then the process died before the bundle moved.
    std::fs::create_dir_all(outbox.refused_dir()).unwrap();
    let stale = outbox.refused_dir().join(format!("{a}.json"));
    std::fs::write(&stale, b"{}").unwrap();
    outbox.mark_sent(a).unwrap();
    assert!(!stale.exists(), "the agency has it now: not refused");
    assert!(outbox.dir().join("sent").join(format!("{a}.carried.json")).is_file(), "the note goes along to sent/");
    assert!(outbox.refused().unwrap().is_empty());
}
