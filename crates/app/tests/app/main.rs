//! casebridge-app's tests: real stores in temp dirs with the cheap test KDF, a clock moved by
//! hand, events collected from a channel; `flow` runs a real agency endpoint on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod cases;
mod court;
mod exchange;
mod extras;
mod flow;
mod map;
mod media;
mod notify;
mod outbox;
mod redact;
mod session;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use casebridge_app::{AppEvent, ManualClock, Role, Session};
use casebridge_core::KdfParams;

pub use casebridge_testkit::fixtures::PASS;

/// A session on a temp store, with a hand-moved clock and its events on a channel.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub clock: Arc<ManualClock>,
    pub session: Arc<Session>,
    pub events: Receiver<AppEvent>,
}

/// A session on `dir` (existing or not) with `clock`.
pub fn session_at(dir: &Path, clock: &Arc<ManualClock>) -> (Arc<Session>, Receiver<AppEvent>) {
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    let session = Session::new(dir).with_kdf(KdfParams::INSECURE_FOR_TESTS).with_clock(clock.clone()).with_emitter(Arc::new(move |e| {
        let _ = tx.lock().unwrap().send(e);
    }));
    (Arc::new(session), rx)
}

/// A fresh, locked session with no profile yet.
pub fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    let clock = Arc::new(ManualClock::default());
    let (session, events) = session_at(&dir, &clock);
    Env { tmp, dir, clock, session, events }
}

/// A session with an unlocked profile of `role`.
pub fn unlocked(role: Role) -> Env {
    let env = env();
    env.session.profile_create("Vera Brandt", role, PASS.into()).unwrap();
    env
}

/// Waits (up to 60 s) for the first event that `pick` accepts, skipping the others.
pub fn wait_for<T>(rx: &Receiver<AppEvent>, mut pick: impl FnMut(AppEvent) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = rx.recv_timeout(left).expect("the expected event did not come within 60 s");
        if let Some(t) = pick(e) {
            return t;
        }
    }
}

/// Writes a file of `len` pseudo-random bytes (seeded) and returns its path.
pub use casebridge_testkit::bytes::write_file as file;
