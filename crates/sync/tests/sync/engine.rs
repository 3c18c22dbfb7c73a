//! The engine over the in-memory agency and a clock that never sleeps.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use casebridge_sync::{Engine, EngineConfig, Event, Outbox, RetryPolicy, SyncError};
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
async fn a_refused_bundle_stops_the_push_and_stays_pending_with_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let bundles = fill(&outbox, &[100, 100, 100]);
    let agency = FakeAgency::default();
    let clock = FakeClock::default();
    // The first bundle completes; the second is refused (422: the agency could not open it).
    let e = engine(&agency, &clock)
        .push(&outbox, &mut |e| {
            if let Event::Uploaded { .. } = e {
                agency.fault(Op::Complete, Fault::Status(422));
            }
        })
        .await
        .unwrap_err();
    match &e {
        SyncError::Bundle { bundle_id, error } => {
            assert_eq!(*bundle_id, bundles[1].0);
            assert_eq!(error.status(), Some(422));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(&bundles[1].0.to_string()) && e.to_string().contains("stays in the outbox"), "{e}");
    assert!(sent(tmp.path(), bundles[0].0));
    let pending: Vec<Uuid> = outbox.pending().unwrap().iter().map(|p| p.bundle_id).collect();
    assert_eq!(pending, [bundles[1].0, bundles[2].0]);
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
