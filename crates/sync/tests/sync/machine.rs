//! The upload machine, driven synchronously against the in-memory agency: no clock, no
//! network, every run deterministic.

use std::time::Duration;

use casebridge_protocol::{UploadOutcome, UploadState};
use casebridge_sync::{seeded_rng, Action, Event, Input, RetryPolicy, Rng, SyncError, Upload};
use uuid::Uuid;

use crate::fake::{FakeAgency, Fault, Op};

const CHUNK: usize = 1000;

struct Run {
    result: Result<UploadOutcome, SyncError>,
    waits: Vec<Duration>,
    events: Vec<Event>,
    /// Every PUT the machine asked for: (offset, len), whether or not it reached the server.
    puts: Vec<(u64, u64)>,
}

fn bundle(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 251) as u8).collect()
}

/// The rng that always draws the top of the range: every pause equals its ceiling.
fn max_rng() -> Rng {
    Box::new(|| u64::MAX)
}

fn drive(m: &mut Upload, agency: &FakeAgency, data: &[u8]) -> Run {
    let mut waits = Vec::new();
    let mut events = Vec::new();
    let mut puts_asked = Vec::new();
    let mut action = m.start();
    for _ in 0..10_000 {
        events.extend(m.take_events());
        action = match action {
            Action::Begin(b) => m.handle(agency.begin_sync(b).into()),
            Action::Put { upload_id, offset, len } => {
                puts_asked.push((offset, len));
                let chunk = &data[offset as usize..(offset + len) as usize];
                m.handle(agency.put_sync(upload_id, offset, chunk).into())
            }
            Action::Complete { upload_id } => m.handle(agency.complete_sync(upload_id).into()),
            Action::Wait(d) => {
                waits.push(d);
                m.handle(Input::Waited)
            }
            Action::Done(outcome) => return Run { result: Ok(outcome), waits, events, puts: puts_asked },
            Action::Failed(e) => return Run { result: Err(e), waits, events, puts: puts_asked },
            other => panic!("unknown action {other:?}"),
        };
    }
    panic!("the machine did not finish in 10,000 steps");
}

fn machine(size: usize, policy: RetryPolicy, rng: Rng) -> Upload {
    Upload::new(Uuid::now_v7(), size as u64, CHUNK, policy, rng)
}

#[test]
fn uploads_in_chunks_and_reports_progress_after_each() {
    let data = bundle(3500);
    let agency = FakeAgency::default();
    let mut m = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(1));
    let run = drive(&mut m, &agency, &data);
    let outcome = run.result.unwrap();
    assert_eq!(outcome.outcome.as_str(), "accepted");
    assert_eq!(agency.data_of(m.bundle_id()), data);
    assert_eq!(agency.puts(), [(0, 1000), (1000, 1000), (2000, 1000), (3000, 500)]);
    let done: Vec<u64> = run
        .events
        .iter()
        .map(|e| match e {
            Event::Progress { done, total, .. } => {
                assert_eq!(*total, 3500);
                *done
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(done, [1000, 2000, 3000, 3500]);
    assert!(run.waits.is_empty());
}

#[test]
fn resumes_from_the_server_offset_after_cuts_resending_at_most_the_chunk_in_flight() {
    let data = bundle(9500);
    let agency = FakeAgency::default();
    let mut m = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(2));
    // The 4th PUT (offset 3000) is cut before the server sees it, so that chunk must go again;
    // the first BEGIN after it is cut too; the 8th PUT (offset 6000) is cut after the server
    // stored it, so nothing is sent twice.
    let cut_before = Some(Fault::CutBefore);
    let puts = [None, None, None, cut_before, None, None, None, Some(Fault::CutAfter)];
    let run = drive_scripted(&mut m, &agency, &data, &puts, &[cut_before]);
    let outcome = run.result.unwrap();
    assert_eq!(outcome.bundle_id, m.bundle_id());
    assert_eq!(agency.data_of(m.bundle_id()), data, "the agency holds exactly the bundle");

    let puts = run.puts;
    let sent: u64 = puts.iter().map(|(_, len)| len).sum();
    let cuts = 2u64;
    assert!(sent - data.len() as u64 <= cuts * CHUNK as u64, "re-sent {} bytes for {cuts} cuts", sent - data.len() as u64);
    // The cut-before chunk went twice (at the same offset); the cut-after one only once.
    assert_eq!(puts.iter().filter(|(o, _)| *o == 3000).count(), 2, "{puts:?}");
    assert_eq!(puts.iter().filter(|(o, _)| *o == 6000).count(), 1, "{puts:?}");
    // Each cut was followed by a pause, then a begin that asked the server where it stands.
    assert_eq!(run.waits.len(), 3, "two put cuts and one begin cut");
    assert_eq!(agency.0.lock().unwrap().begins, 3, "the first, one after each put cut (the cut begin never arrived)");
}

/// Drives with faults placed by position: `puts[i]` is the fault for the i-th PUT, `begins[i]`
/// for the i-th BEGIN after the first.
fn drive_scripted(m: &mut Upload, agency: &FakeAgency, data: &[u8], puts: &[Option<Fault>], begins: &[Option<Fault>]) -> Run {
    let mut waits = Vec::new();
    let mut events = Vec::new();
    let mut puts_asked = Vec::new();
    let (mut put_no, mut begin_no) = (0usize, 0usize);
    let mut action = m.start();
    for _ in 0..10_000 {
        events.extend(m.take_events());
        action = match action {
            Action::Begin(b) => {
                if begin_no > 0 {
                    if let Some(Some(f)) = begins.get(begin_no - 1) {
                        agency.fault(Op::Begin, *f);
                    }
                }
                begin_no += 1;
                m.handle(agency.begin_sync(b).into())
            }
            Action::Put { upload_id, offset, len } => {
                puts_asked.push((offset, len));
                if let Some(Some(f)) = puts.get(put_no) {
                    agency.fault(Op::Put, *f);
                }
                put_no += 1;
                m.handle(agency.put_sync(upload_id, offset, &data[offset as usize..(offset + len) as usize]).into())
            }
            Action::Complete { upload_id } => m.handle(agency.complete_sync(upload_id).into()),
            Action::Wait(d) => {
                waits.push(d);
                m.handle(Input::Waited)
            }
            Action::Done(outcome) => return Run { result: Ok(outcome), waits, events, puts: puts_asked },
            Action::Failed(e) => return Run { result: Err(e), waits, events, puts: puts_asked },
            other => panic!("unknown action {other:?}"),
        };
    }
    panic!("the machine did not finish");
}

#[test]
fn a_409_resyncs_from_the_state_in_the_answer() {
    let id = Uuid::now_v7();
    let upload_id = Uuid::new_v4();
    let state = |received| UploadState { upload_id, received, size: 5000, complete: false, receipt: None };
    let mut m = Upload::new(id, 5000, CHUNK, RetryPolicy::DEFAULT, max_rng());
    assert!(matches!(m.start(), Action::Begin(b) if b.bundle_id == id && b.size == 5000));
    assert!(matches!(m.handle(Input::State(state(0))), Action::Put { offset: 0, len: 1000, .. }));
    // Another run of this client already sent more: the server says so in its 409.
    let conflict = SyncError::Conflict { code: "offset_mismatch".into(), message: "m".into(), state: Some(state(3000)) };
    assert!(matches!(m.handle(Input::Error(conflict)), Action::Put { offset: 3000, len: 1000, .. }));
    assert_eq!(m.received(), 3000);
    assert_eq!(m.failures(), 0, "the conflict moved us forward: that is progress");
    // A 409 without a state: ask the server (begin again), no pause.
    let bare = SyncError::Conflict { code: "offset_mismatch".into(), message: "m".into(), state: None };
    assert!(matches!(m.handle(Input::Error(bare)), Action::Begin(_)));
    assert!(matches!(m.handle(Input::State(state(4000))), Action::Put { offset: 4000, len: 1000, .. }));
    // The server says it is all there: complete.
    let conflict = SyncError::Conflict { code: "offset_mismatch".into(), message: "m".into(), state: Some(state(5000)) };
    assert!(matches!(m.handle(Input::Error(conflict)), Action::Complete { upload_id: u } if u == upload_id));
}

#[test]
fn a_409_against_the_real_fake_server_resyncs_and_finishes() {
    // The server already holds 2,500 bytes from an earlier run; this machine starts at the
    // beginning but is told otherwise by the first answer, and again on a stale put.
    let data = bundle(5000);
    let agency = FakeAgency::default();
    let mut first = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(3));
    let id = first.bundle_id();
    let Action::Begin(b) = first.start() else { panic!() };
    let st = agency.begin_sync(b).unwrap();
    agency.put_sync(st.upload_id, 0, &data[..2500]).unwrap();
    let mut m = Upload::new(id, 5000, CHUNK, RetryPolicy::DEFAULT, seeded_rng(3));
    let run = drive(&mut m, &agency, &data);
    run.result.unwrap();
    assert_eq!(agency.data_of(id), data);
    assert_eq!(agency.puts()[1..], [(2500, 1000), (3500, 1000), (4500, 500)]);
}

#[test]
fn backoff_grows_is_capped_and_resets_after_progress() {
    let policy = RetryPolicy { max_attempts: 20, ..RetryPolicy::DEFAULT };
    let upload_id = Uuid::new_v4();
    let mut m = Upload::new(Uuid::now_v7(), 5000, CHUNK, policy, max_rng());
    m.start();
    let mut waits = Vec::new();
    for _ in 0..11 {
        match m.handle(Input::Error(SyncError::Connection { message: "cut".into() })) {
            Action::Wait(d) => waits.push(d.as_millis()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(m.handle(Input::Waited), Action::Begin(_)));
    }
    assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
    // Progress: the server took a chunk. The next failure starts from the base again.
    let state = UploadState { upload_id, received: 1000, size: 5000, complete: false, receipt: None };
    assert!(matches!(m.handle(Input::State(state)), Action::Put { offset: 1000, .. }));
    assert_eq!(m.failures(), 0);
    match m.handle(Input::Error(SyncError::Server { status: 503, code: "unavailable".into(), message: "m".into() })) {
        Action::Wait(d) => assert_eq!(d, Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    let events = m.take_events();
    assert!(matches!(events.last(), Some(Event::Retrying { attempt: 1, .. })), "{events:?}");
}

#[test]
fn jitter_stays_within_the_ceiling_and_is_deterministic_per_seed() {
    let policy = RetryPolicy { max_attempts: 50, ..RetryPolicy::DEFAULT };
    let waits = |seed| {
        let mut m = Upload::new(Uuid::nil(), 10, CHUNK, policy, seeded_rng(seed));
        m.start();
        let mut out = Vec::new();
        for attempt in 1..40 {
            let Action::Wait(d) = m.handle(Input::Error(SyncError::Connection { message: "cut".into() })) else { panic!() };
            assert!(d <= policy.ceiling(attempt), "attempt {attempt}: {d:?} above {:?}", policy.ceiling(attempt));
            out.push(d);
            m.handle(Input::Waited);
        }
        out
    };
    let a = waits(11);
    assert_eq!(a, waits(11), "same seed, same pauses");
    assert_ne!(a, waits(12));
    // Full jitter: the capped pauses are spread, not pinned at the cap.
    assert!(a[10..].iter().any(|d| *d < Duration::from_secs(15)));
}

#[test]
fn gives_up_after_max_attempts_without_progress() {
    let mut m = Upload::new(Uuid::nil(), 10, CHUNK, RetryPolicy::DEFAULT, seeded_rng(5));
    m.start();
    let mut waits = 0;
    loop {
        match m.handle(Input::Error(SyncError::Server { status: 502, code: "bad_gateway".into(), message: "m".into() })) {
            Action::Wait(_) => {
                waits += 1;
                m.handle(Input::Waited);
            }
            Action::Failed(SyncError::GaveUp { attempts, last }) => {
                assert_eq!(attempts, 8);
                assert_eq!(last.status(), Some(502));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, 7, "seven pauses, then the eighth failure gives up");
    assert!(matches!(m.handle(Input::Waited), Action::Failed(SyncError::Protocol { .. })), "a finished machine stays finished");
}

#[test]
fn a_server_that_keeps_cutting_is_abandoned_even_mid_upload() {
    let data = bundle(4000);
    let agency = FakeAgency::default();
    agency.faults(Op::Put, [Fault::CutBefore; 20]);
    let mut m = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(6));
    let run = drive(&mut m, &agency, &data);
    assert!(matches!(run.result, Err(SyncError::GaveUp { attempts: 8, .. })), "{:?}", run.result.err());
    assert_eq!(run.waits.len(), 7);
}

#[test]
fn fatal_answers_fail_at_once() {
    for (op, status) in [(Op::Put, 403), (Op::Complete, 422), (Op::Begin, 413), (Op::Put, 400)] {
        let data = bundle(2500);
        let agency = FakeAgency::default();
        agency.fault(op, Fault::Status(status));
        let mut m = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(7));
        let run = drive(&mut m, &agency, &data);
        match run.result {
            Err(SyncError::Server { status: s, .. }) => assert_eq!(s, status),
            other => panic!("{op:?} {status}: {other:?}"),
        }
        assert!(run.waits.is_empty(), "{status} is not retried");
    }
}

#[test]
fn retryable_statuses_are_retried() {
    for status in [429, 500, 503] {
        let data = bundle(2500);
        let agency = FakeAgency::default();
        agency.fault(Op::Complete, Fault::Status(status));
        let mut m = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(8));
        let run = drive(&mut m, &agency, &data);
        run.result.unwrap();
        assert_eq!(run.waits.len(), 1);
    }
}

#[test]
fn a_lost_complete_answer_ends_as_done_with_the_first_receipt() {
    let data = bundle(1500);
    let agency = FakeAgency::default();
    agency.fault(Op::Complete, Fault::CutAfter);
    let mut m = machine(data.len(), RetryPolicy::DEFAULT, seeded_rng(9));
    let run = drive(&mut m, &agency, &data);
    let outcome = run.result.unwrap();
    assert_eq!(outcome.outcome.as_str(), "duplicate", "the begin after the cut found it complete");
    assert_eq!(outcome.receipt, format!("receipt-{}", m.bundle_id()));
    assert_eq!(agency.puts().len(), 2, "nothing re-sent");
}

#[test]
fn a_forgotten_upload_id_begins_again() {
    let upload_id = Uuid::new_v4();
    let mut m = Upload::new(Uuid::nil(), 3000, CHUNK, RetryPolicy::DEFAULT, max_rng());
    m.start();
    let state = UploadState { upload_id, received: 0, size: 3000, complete: false, receipt: None };
    assert!(matches!(m.handle(Input::State(state)), Action::Put { .. }));
    let not_found = SyncError::Server { status: 404, code: "not_found".into(), message: "no such upload".into() };
    assert!(matches!(m.handle(Input::Error(not_found)), Action::Begin(_)));
}

#[test]
fn answers_that_contradict_the_bundle_fail_clearly() {
    let upload_id = Uuid::new_v4();
    let mut m = Upload::new(Uuid::nil(), 3000, CHUNK, RetryPolicy::DEFAULT, max_rng());
    m.start();
    let wrong = UploadState { upload_id, received: 0, size: 2999, complete: false, receipt: None };
    match m.handle(Input::State(wrong)) {
        Action::Failed(SyncError::Protocol { message }) => assert!(message.contains("2999") && message.contains("3000"), "{message}"),
        other => panic!("{other:?}"),
    }
    let mut m = Upload::new(Uuid::nil(), 3000, CHUNK, RetryPolicy::DEFAULT, max_rng());
    m.start();
    let state = UploadState { upload_id, received: 0, size: 3000, complete: false, receipt: None };
    m.handle(Input::State(state));
    let other = UploadOutcome {
        bundle_id: Uuid::new_v4(),
        outcome: casebridge_protocol::BundleOutcome::Accepted,
        events_added: 1,
        receipt: "r".into(),
    };
    assert!(matches!(m.handle(Input::Outcome(other)), Action::Failed(SyncError::Protocol { .. })), "an outcome while putting");
}

#[test]
fn an_empty_bundle_goes_straight_to_complete() {
    let agency = FakeAgency::default();
    let mut m = machine(0, RetryPolicy::DEFAULT, seeded_rng(10));
    let run = drive(&mut m, &agency, &[]);
    run.result.unwrap();
    assert!(agency.puts().is_empty());
}
