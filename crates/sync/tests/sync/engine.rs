//! The engine over the in-memory agency and a clock that never sleeps.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use casebridge_sync::{status, Carried, Clock as _, Engine, EngineConfig, Event, Outbox, RetryPolicy, SyncError, REFUSED_DIR};
use uuid::Uuid;

use crate::fake::{FakeAgency, FakeClock, Fault, Op};

const CHUNK: usize = 1000;

fn engine(agency: &FakeAgency, clock: &FakeClock) -> Engine<FakeAgency, FakeClock> {
    let config = EngineConfig { chunk: CHUNK, policy: RetryPolicy::DEFAULT, feed_limit: 500 };
    Engine::new(agency.clone(), clock.clone()).with_config(config).with_seed(99)
}

/// Writes `sizes.len()` bundles into the outbox; returns their ids and contents, oldest first.
fn fill(outbox: &Outbox, sizes: &[usize]) -> Vec<(Uuid, Vec<u8>)> {
    sizes
        .iter()
        .enumerate()
        .map(|(n, size)| {
            let id = Uuid::now_v7();
            let data: Vec<u8> = (0..*size).map(|i| (i + n * 31) as u8).collect();
            std::fs::write(outbox.path_of(id), &data).unwrap();
            (id, data)
        })
        .collect()
}

fn sent(dir: &Path, id: Uuid) -> bool {
    dir.join("sent").join(format!("{id}.cbb")).is_file()
}

#[tokio::test]
async fn push_uploads_every_pending_bundle_in_order_and_moves_it_to_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path().join("outbox")).unwrap();
    let bundles = fill(&outbox, &[2500, 10, 4000]);
    let (agency, clock) = (FakeAgency::default(), FakeClock::default());
    // The answer to the first chunk is lost (the server has it), and the first complete gets a 503.
    agency.faults(Op::Put, [Fault::CutAfter]);
    agency.fault(Op::Complete, Fault::Status(503));
    let mut events = Vec::new();
    let pushed = engine(&agency, &clock).push(&outbox, &mut |e| events.push(e)).await.unwrap();

    let ids: Vec<Uuid> = bundles.iter().map(|(id, _)| *id).collect();
    assert_eq!(pushed.iter().map(|p| p.bundle_id).collect::<Vec<_>>(), ids, "oldest first");
    for (id, data) in &bundles {
        assert_eq!(&agency.data_of(*id), data);
        assert!(sent(outbox.dir(), *id));
    }
    assert!(outbox.pending().unwrap().is_empty());
    let uploaded: Vec<Uuid> =
        events.iter().filter_map(|e| if let Event::Uploaded { bundle_id, .. } = e { Some(*bundle_id) } else { None }).collect();
    assert_eq!(uploaded, ids);
    let retries = events.iter().filter(|e| matches!(e, Event::Retrying { bundle_id: Some(_), .. })).count();
    assert_eq!(retries, 2);
    assert!(events.iter().any(|e| matches!(e, Event::Progress { done: 2500, total: 2500, .. })));
    assert!(clock.slept() <= std::time::Duration::from_millis(400), "two first-attempt pauses are at most 200 ms each");

    // Nothing is pending any more: a second push sends nothing.
    assert!(engine(&agency, &clock).push(&outbox, &mut |_| {}).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_bundle_is_set_aside_with_its_reason_and_later_bundles_still_go_up() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::in_sync_dir(tmp.path()).unwrap();
    let bundles = fill(&outbox, &[100, 100, 100]);
    let submission = Uuid::now_v7();
    let carried = Carried { case_id: Some(Uuid::nil()), seq: Some(2), events: 3, blobs: 1, submissions: vec![submission] };
    outbox.write_carried(bundles[1].0, &carried).unwrap();
    let agency = FakeAgency::default();
    let clock = FakeClock::default();
    // The first bundle completes; the second is refused (422: the agency could not open it).
    let mut events = Vec::new();
    let pushed = engine(&agency, &clock)
        .push(&outbox, &mut |e| {
            if let Event::Uploaded { bundle_id, .. } = &e {
                if *bundle_id == bundles[0].0 {
                    agency.fault(Op::Complete, Fault::Status(422));
                }
            }
            events.push(e);
        })
        .await
        .unwrap();
    assert_eq!(pushed.iter().map(|p| p.bundle_id).collect::<Vec<_>>(), [bundles[0].0, bundles[2].0], "the third still goes up");
    assert!(sent(outbox.dir(), bundles[0].0) && sent(outbox.dir(), bundles[2].0));
    assert!(outbox.pending().unwrap().is_empty(), "the refused bundle left the outbox");
    assert!(!outbox.carried_path(bundles[1].0).exists(), "its note went with it");
    let refused_dir = tmp.path().join(REFUSED_DIR);
    assert_eq!(outbox.refused_dir(), refused_dir);
    assert_eq!(std::fs::read(refused_dir.join(format!("{}.cbb", bundles[1].0))).unwrap(), bundles[1].1, "kept as it was");
    let refused = outbox.refused().unwrap();
    assert_eq!(refused.len(), 1);
    let r = &refused[0];
    assert_eq!((r.bundle_id, r.status, r.code.as_str(), r.message.as_str()), (bundles[1].0, 422, "status_422", "simulated"));
    assert_eq!(r.refused_at, clock.now());
    assert_eq!(r.size, 100);
    assert_eq!(r.carried, carried, "what it carried, as far as the client knows");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(refused_dir.join(format!("{}.json", bundles[1].0))).unwrap()).unwrap();
    assert_eq!(json["code"], "status_422");
    assert_eq!(json["submissions"][0], submission.to_string());
    assert_eq!(status(tmp.path()).unwrap().refused, refused, "sync status lists it");
    let reported: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Refused { .. })).collect();
    assert_eq!(
        reported,
        [&Event::Refused { bundle_id: bundles[1].0, status: 422, code: "status_422".into(), message: "simulated".into() }]
    );
    // Order held: the refusal came between the two uploads.
    let order: Vec<Uuid> = events
        .iter()
        .filter_map(|e| match e {
            Event::Uploaded { bundle_id, .. } | Event::Refused { bundle_id, .. } => Some(*bundle_id),
            _ => None,
        })
        .collect();
    assert_eq!(order, bundles.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    // Nothing is sent again: the next push has nothing to do.
    assert!(engine(&agency, &clock).push(&outbox, &mut |_| {}).await.unwrap().is_empty());
    assert_eq!(outbox.refused().unwrap().len(), 1);
}

#[tokio::test]
async fn every_permanent_refusal_is_set_aside_whatever_the_step() {
    for (op, status) in [(Op::Begin, 403), (Op::Begin, 413), (Op::Put, 422), (Op::Put, 400), (Op::Complete, 403), (Op::Complete, 410)] {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::in_sync_dir(tmp.path()).unwrap();
        let bundles = fill(&outbox, &[2500, 100]);
        let (agency, clock) = (FakeAgency::default(), FakeClock::default());
        agency.fault(op, Fault::Status(status));
        let pushed = engine(&agency, &clock).push(&outbox, &mut |_| {}).await.unwrap();
        assert_eq!(pushed.iter().map(|p| p.bundle_id).collect::<Vec<_>>(), [bundles[1].0], "{op:?} {status}");
        let refused = outbox.refused().unwrap();
        assert_eq!(refused.iter().map(|r| (r.bundle_id, r.status)).collect::<Vec<_>>(), [(bundles[0].0, status)], "{op:?} {status}");
        assert!(outbox.pending().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_failure_that_is_not_a_refusal_stops_the_push_and_the_rest_stays_pending() {
    // 401: who is asking; 404: no such upload or route; 408, 429, 503: try again later.
    let policy = RetryPolicy::DEFAULT.max_attempts as usize;
    for (status, times) in [(401, 1), (404, 1), (408, policy), (429, policy), (503, policy)] {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::in_sync_dir(tmp.path()).unwrap();
        let bundles = fill(&outbox, &[100, 100, 100]);
        let agency = FakeAgency::default();
        let clock = FakeClock::default();
        let e = engine(&agency, &clock)
            .push(&outbox, &mut |e| {
                if let Event::Uploaded { bundle_id, .. } = &e {
                    if *bundle_id == bundles[0].0 {
                        agency.faults(Op::Begin, vec![Fault::Status(status); times]);
                    }
                }
            })
            .await
            .unwrap_err();
        match &e {
            SyncError::Bundle { bundle_id, error } => {
                assert_eq!(*bundle_id, bundles[1].0);
                let last = match error.as_ref() {
                    SyncError::GaveUp { last, .. } => last.as_ref(),
                    e => e,
                };
                assert_eq!(last.status(), Some(status));
            }
            other => panic!("{status}: {other:?}"),
        }
        assert!(!e.is_refusal(), "{status}");
        assert!(e.to_string().contains(&bundles[1].0.to_string()) && e.to_string().contains("stays in the outbox"), "{e}");
        assert!(sent(outbox.dir(), bundles[0].0));
        let pending: Vec<Uuid> = outbox.pending().unwrap().iter().map(|p| p.bundle_id).collect();
        assert_eq!(pending, [bundles[1].0, bundles[2].0], "{status}: stopped, in order");
        assert!(outbox.refused().unwrap().is_empty(), "{status} sets nothing aside");
        assert!(!outbox.refused_dir().exists(), "{status}: no refused directory");
    }
}

#[tokio::test]
async fn cancelling_between_chunks_leaves_the_upload_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let bundles = fill(&outbox, &[5000]);
    let (agency, clock) = (FakeAgency::default(), FakeClock::default());
    let cancel = Arc::new(AtomicBool::new(false));
    let engine = engine(&agency, &clock).with_cancel(cancel.clone());
    let flag = cancel.clone();
    let err = engine
        .push(&outbox, &mut |e| {
            if matches!(e, Event::Progress { done: 2000, .. }) {
                flag.store(true, Ordering::SeqCst);
            }
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Cancelled), "{err:?}");
    assert_eq!(outbox.pending().unwrap().len(), 1, "still pending");
    assert_eq!(agency.puts().len(), 2, "stopped before the third chunk");

    cancel.store(false, Ordering::SeqCst);
    let mut progress = Vec::new();
    engine
        .push(&outbox, &mut |e| {
            if let Event::Progress { done, .. } = e {
                progress.push(done)
            }
        })
        .await
        .unwrap();
    assert_eq!(agency.data_of(bundles[0].0), bundles[0].1);
    let offsets: Vec<u64> = agency.puts().iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, [0, 1000, 2000, 3000, 4000], "resumed at the server's offset, nothing sent twice");
    assert_eq!(progress, [2000, 3000, 4000, 5000], "the resumed run reports where the server stood first");
}

#[tokio::test]
async fn cancelling_during_a_pause_stops_without_waiting_it_out() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    fill(&outbox, &[100]);
    let (agency, clock) = (FakeAgency::default(), FakeClock::default());
    agency.faults(Op::Begin, [Fault::CutBefore; 3]);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let engine = engine(&agency, &clock).with_cancel(cancel);
    let err = engine
        .push(&outbox, &mut |e| {
            if matches!(e, Event::Retrying { .. }) {
                flag.store(true, Ordering::SeqCst)
            }
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Cancelled));
    assert_eq!(clock.slept(), std::time::Duration::ZERO);
}

fn events(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("event-{i}")).collect()
}

#[tokio::test]
async fn pull_pages_the_feed_and_returns_the_new_cursor() {
    let (agency, clock) = (FakeAgency::default(), FakeClock::default());
    agency.0.lock().unwrap().events = events(1200);
    // The first request is cut: retried after a pause.
    agency.fault(Op::Feed, Fault::CutBefore);
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    let mut reported = Vec::new();
    let cursor = engine(&agency, &clock)
        .pull(
            0,
            &mut |page| -> Result<(), SyncError> {
                seen.extend(page.events);
                cursors.push(page.cursor);
                Ok(())
            },
            &mut |e| reported.push(e),
        )
        .await
        .unwrap();
    assert_eq!(cursor, 1200);
    assert_eq!(seen, events(1200));
    assert_eq!(cursors, [500, 1000, 1200]);
    let pulled: Vec<(usize, u64)> =
        reported.iter().filter_map(|e| if let Event::Pulled { events, cursor } = e { Some((*events, *cursor)) } else { None }).collect();
    assert_eq!(pulled, [(500, 500), (500, 1000), (200, 1200)]);
    assert!(reported.iter().any(|e| matches!(e, Event::Retrying { bundle_id: None, attempt: 1, .. })));

    // From the stored cursor: nothing new, one call, same cursor.
    let cursor = engine(&agency, &clock).pull(1200, &mut |_| -> Result<(), SyncError> { Ok(()) }, &mut |_| {}).await.unwrap();
    assert_eq!(cursor, 1200);
}

#[tokio::test]
async fn pull_stops_at_the_importers_error_and_gives_up_on_a_dead_endpoint() {
    let (agency, clock) = (FakeAgency::default(), FakeClock::default());
    agency.0.lock().unwrap().events = events(1200);
    #[derive(Debug)]
    enum ImportError {
        Refused(u64),
        Sync(#[allow(dead_code)] SyncError),
    }
    impl From<SyncError> for ImportError {
        fn from(e: SyncError) -> ImportError {
            ImportError::Sync(e)
        }
    }
    let mut pages = 0;
    let err = engine(&agency, &clock)
        .pull(
            0,
            &mut |page| {
                pages += 1;
                if page.cursor == 1000 {
                    return Err(ImportError::Refused(page.cursor));
                }
                Ok(())
            },
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Refused(1000)));
    assert_eq!(pages, 2);
    assert_eq!(agency.0.lock().unwrap().feed_calls, 2, "no page fetched after the refusal");

    agency.faults(Op::Feed, [Fault::Status(503); 10]);
    let err = engine(&agency, &clock).pull(0, &mut |_| -> Result<(), SyncError> { Ok(()) }, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, SyncError::GaveUp { attempts: 8, .. }), "{err:?}");

    agency.0.lock().unwrap().faults.clear();
    agency.fault(Op::Feed, Fault::Status(403));
    let err = engine(&agency, &clock).pull(0, &mut |_| -> Result<(), SyncError> { Ok(()) }, &mut |_| {}).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "a refusal is not retried");
}
