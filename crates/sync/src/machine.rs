//! The upload state machine: no I/O, no clock, no randomness of its own.
//!
//! One [`Upload`] uploads one sealed bundle. The driver (the [`Engine`](crate::Engine) or a
//! test) performs each [`Action`] it asks for and feeds the answer back as an [`Input`]; the
//! machine decides what comes next. Because the transport, the clock and the random source are
//! outside, retries and resumption are tested deterministically.
//!
//! The rules:
//! - The server says what it already has. Every (re)start is a `Begin` for the bundle id, whose
//!   answer carries `received`; the next chunk starts there. After a cut the machine waits, then
//!   begins again, so at most the one chunk that was in flight is sent twice. (`Begin` rather
//!   than `GET /v1/uploads/{id}`: the same bundle id resumes the same upload, and it still works
//!   when the server has forgotten an upload id.)
//! - A 409 carries the server's view: the machine continues from the state in the answer (or
//!   begins again when the answer had none). A 404 for a known upload id also begins again.
//! - Retryable failures (connection cut, timeout, 5xx, 429) wait with exponential backoff and
//!   full jitter ([`RetryPolicy`]); any acknowledged progress resets the backoff. After
//!   `max_attempts` consecutive failures without progress the machine gives up.
//! - Any other 4xx is fatal.

use std::time::Duration;

use casebridge_protocol::{BundleOutcome, UploadBegin, UploadOutcome, UploadState, MAX_CHUNK};
use uuid::Uuid;

use crate::{Event, SyncError};

/// A source of uniformly distributed 64-bit numbers, used only for backoff jitter. Injected so
/// tests are deterministic; see [`seeded_rng`] and [`system_rng`].
pub type Rng = Box<dyn FnMut() -> u64 + Send>;

/// A deterministic [`Rng`] (SplitMix64) started from `seed`.
pub fn seeded_rng(seed: u64) -> Rng {
    let mut state = seed;
    Box::new(move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// An [`Rng`] seeded from the operating system's random source (falling back to the time if
/// that fails; jitter needs spread, not secrecy).
pub fn system_rng() -> Rng {
    use ring::rand::SecureRandom as _;
    let mut seed = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut seed).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        seed = (nanos as u64).to_le_bytes();
    }
    seeded_rng(u64::from_le_bytes(seed))
}

/// When to retry and when to give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The largest first pause.
    pub base: Duration,
    /// No pause is longer than this.
    pub cap: Duration,
    /// Each consecutive failure multiplies the largest pause by this.
    pub factor: u32,
    /// Consecutive failures without progress after which the machine gives up.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// Base 200 ms, cap 30 s, factor 2, give up after 8 failures without progress.
    pub const DEFAULT: RetryPolicy =
        RetryPolicy { base: Duration::from_millis(200), cap: Duration::from_secs(30), factor: 2, max_attempts: 8 };

    /// The longest pause after the `failures`-th consecutive failure (counting from 1):
    /// `min(cap, base × factor^(failures − 1))`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1);
        let mult = u128::from(self.factor).checked_pow(exp).unwrap_or(u128::MAX);
        let nanos = self.base.as_nanos().saturating_mul(mult).min(self.cap.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The pause after the `failures`-th consecutive failure, with full jitter: uniform in
    /// `[0, ceiling(failures)]`, drawn from `rng`.
    pub fn delay(&self, failures: u32, rng: &mut dyn FnMut() -> u64) -> Duration {
        let ceiling = u128::from(u64::try_from(self.ceiling(failures).as_nanos()).unwrap_or(u64::MAX));
        // Multiply-shift maps a uniform u64 onto [0, ceiling] without modulo bias worth naming.
        let nanos = (u128::from(rng()) * (ceiling + 1)) >> 64;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy::DEFAULT
    }
}

/// What the machine asks the driver to do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action {
    /// `POST /v1/uploads` with this body; answer with [`Input::State`] or [`Input::Error`].
    Begin(UploadBegin),
    /// `PUT /v1/uploads/{upload_id}?offset=` the bundle's bytes `[offset, offset + len)`;
    /// answer with [`Input::State`] or [`Input::Error`].
    Put {
        /// The upload.
        upload_id: Uuid,
        /// Where the chunk starts (the server's `received`).
        offset: u64,
        /// Chunk length.
        len: u64,
    },
    /// `POST /v1/uploads/{upload_id}/complete`; answer with [`Input::Outcome`] or [`Input::Error`].
    Complete {
        /// The upload.
        upload_id: Uuid,
    },
    /// Sleep this long, then answer [`Input::Waited`].
    Wait(Duration),
    /// The bundle is stored by the agency. Final.
    Done(UploadOutcome),
    /// The upload failed for good (fatal answer, or the retry policy gave up). Final.
    Failed(SyncError),
}

/// An answer fed back to the machine.
#[derive(Debug)]
pub enum Input {
    /// The answer to `Begin` or `Put`.
    State(UploadState),
    /// The answer to `Complete`.
    Outcome(UploadOutcome),
    /// The request failed.
    Error(SyncError),
    /// The pause asked for by [`Action::Wait`] is over.
    Waited,
}

impl From<Result<UploadState, SyncError>> for Input {
    fn from(r: Result<UploadState, SyncError>) -> Input {
        r.map_or_else(Input::Error, Input::State)
    }
}

impl From<Result<UploadOutcome, SyncError>> for Input {
    fn from(r: Result<UploadOutcome, SyncError>) -> Input {
        r.map_or_else(Input::Error, Input::Outcome)
    }
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    New,
    Beginning,
    Putting { offset: u64 },
    Completing,
    Waiting,
    Finished,
}

/// The smallest chunk the machine shrinks to when connections keep breaking mid-chunk.
pub const MIN_CHUNK: u64 = 256 * 1024;

/// The upload of one bundle of `size` bytes. The chunk adapts to the link: a connection cut
/// during a chunk halves it (down to [`MIN_CHUNK`]), so a link that breaks every few MB still
/// makes progress; each acknowledged chunk doubles it back up to the configured size.
pub struct Upload {
    bundle_id: Uuid,
    size: u64,
    chunk: u64,
    max_chunk: u64,
    policy: RetryPolicy,
    rng: Rng,
    phase: Phase,
    upload_id: Option<Uuid>,
    received: u64,
    failures: u32,
    events: Vec<Event>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("bundle_id", &self.bundle_id)
            .field("size", &self.size)
            .field("phase", &self.phase)
            .field("received", &self.received)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// A machine for the bundle `bundle_id` of `size` bytes, sending chunks of `chunk` bytes
    /// (clamped to `1..=MAX_CHUNK`).
    pub fn new(bundle_id: Uuid, size: u64, chunk: usize, policy: RetryPolicy, rng: Rng) -> Upload {
        let chunk = chunk.clamp(1, MAX_CHUNK) as u64;
        Upload {
            bundle_id,
            size,
            chunk,
            max_chunk: chunk,
            policy,
            rng,
            phase: Phase::New,
            upload_id: None,
            received: 0,
            failures: 0,
            events: Vec::new(),
        }
    }

    /// The bundle.
    pub fn bundle_id(&self) -> Uuid {
        self.bundle_id
    }

    /// The server's upload id, once a `Begin` was answered.
    pub fn upload_id(&self) -> Option<Uuid> {
        self.upload_id
    }

    /// Bytes the server last said it holds.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Consecutive failures since the last progress.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The first action: always `Begin`.
    pub fn start(&mut self) -> Action {
        self.begin()
    }

    /// Events produced since the last call ([`Event::Progress`], [`Event::Retrying`]).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Feeds the answer to the last action; returns the next action.
    pub fn handle(&mut self, input: Input) -> Action {
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        match (phase, input) {
            (Phase::Beginning, Input::State(state)) => self.on_state(state),
            (Phase::Putting { offset }, Input::State(state)) => self.on_put_answer(offset, state),
            (Phase::Completing, Input::Outcome(outcome)) => self.on_outcome(outcome),
            (Phase::Beginning | Phase::Putting { .. } | Phase::Completing, Input::Error(e)) => self.on_error(phase, e),
            (Phase::Waiting, Input::Waited) => self.begin(),
            (Phase::Finished, _) => Action::Failed(SyncError::protocol("the upload already finished")),
            (phase, input) => {
                let got = match input {
                    Input::State(_) => "an upload state",
                    Input::Outcome(_) => "an upload outcome",
                    Input::Error(_) => "an error",
                    Input::Waited => "the end of a pause",
                };
                Action::Failed(SyncError::protocol(format!("the sync driver fed {got} to an upload in phase {phase:?}")))
            }
        }
    }

    fn begin(&mut self) -> Action {
        self.phase = Phase::Beginning;
        Action::Begin(UploadBegin { bundle_id: self.bundle_id, size: self.size })
    }

    /// Adopts the server's view of the upload; returns the next action.
    fn on_state(&mut self, state: UploadState) -> Action {
        if state.size != self.size {
            return self.fail(SyncError::protocol(format!(
                "the endpoint expects {} bytes for bundle {}, but the bundle file has {}",
                state.size, self.bundle_id, self.size
            )));
        }
        if state.received > state.size {
            return self.fail(SyncError::protocol(format!(
                "the endpoint says it received {} of {} bytes of bundle {}",
                state.received, state.size, self.bundle_id
            )));
        }
        self.upload_id = Some(state.upload_id);
        self.set_received(state.received);
        if state.complete {
            return match state.receipt {
                // The server finished this bundle before (our earlier run did not hear the answer).
                Some(receipt) => {
                    self.finish(UploadOutcome { bundle_id: self.bundle_id, outcome: BundleOutcome::Duplicate, events_added: 0, receipt })
                }
                None => {
                    self.fail(SyncError::protocol(format!("the endpoint says bundle {} is complete but sent no receipt", self.bundle_id)))
                }
            };
        }
        self.next(state.upload_id)
    }

    fn on_put_answer(&mut self, offset: u64, state: UploadState) -> Action {
        if state.received <= offset && !state.complete && state.size == self.size && state.received <= state.size {
            // The server took none of the chunk: not a failure of the network, but not progress
            // either; pause like a failure so a stuck server cannot spin us.
            self.upload_id = Some(state.upload_id);
            self.set_received(state.received);
            let e = SyncError::protocol(format!("the endpoint acknowledged none of the chunk at offset {offset}"));
            return self.retry_after_pause(e);
        }
        self.on_state(state)
    }

    fn on_outcome(&mut self, outcome: UploadOutcome) -> Action {
        if outcome.bundle_id != self.bundle_id {
            return self.fail(SyncError::protocol(format!(
                "the endpoint answered for bundle {} while completing bundle {}",
                outcome.bundle_id, self.bundle_id
            )));
        }
        self.set_received(self.size);
        self.finish(outcome)
    }

    fn on_error(&mut self, phase: Phase, e: SyncError) -> Action {
        match e {
            SyncError::Conflict { state: Some(state), .. } => {
                let before = self.received;
                let action = self.on_state(state);
                if self.received > before || matches!(action, Action::Done(_) | Action::Failed(_)) {
                    return action;
                }
                // A conflict that moved nothing forward counts towards giving up.
                match self.count_failure(SyncError::protocol("the endpoint keeps reporting conflicts")) {
                    Some(gave_up) => gave_up,
                    None => action,
                }
            }
            SyncError::Conflict { .. } => self.resync(e),
            SyncError::Server { status: 404, .. } if matches!(phase, Phase::Putting { .. } | Phase::Completing) => self.resync(e),
            e if e.is_retryable() => {
                if matches!(phase, Phase::Putting { .. }) {
                    self.chunk = (self.chunk / 2).max(MIN_CHUNK.min(self.max_chunk));
                }
                self.retry_after_pause(e)
            }
            e => self.fail(e),
        }
    }

    /// Begins again at once (the server's view is needed, no pause is).
    fn resync(&mut self, e: SyncError) -> Action {
        match self.count_failure(e) {
            Some(gave_up) => gave_up,
            None => self.begin(),
        }
    }

    fn retry_after_pause(&mut self, e: SyncError) -> Action {
        let error = e.to_string();
        if let Some(gave_up) = self.count_failure(e) {
            return gave_up;
        }
        let after = self.policy.delay(self.failures, &mut self.rng);
        self.events.push(Event::Retrying { bundle_id: Some(self.bundle_id), attempt: self.failures, after, error });
        self.phase = Phase::Waiting;
        Action::Wait(after)
    }

    /// Counts a failure without progress; the final action when the policy gives up.
    fn count_failure(&mut self, e: SyncError) -> Option<Action> {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.policy.max_attempts.max(1) {
            return Some(self.fail(SyncError::GaveUp { attempts: self.failures, last: Box::new(e) }));
        }
        None
    }

    fn set_received(&mut self, received: u64) {
        if received > self.received {
            self.failures = 0;
            self.chunk = (self.chunk * 2).min(self.max_chunk);
            self.events.push(Event::Progress { bundle_id: self.bundle_id, done: received, total: self.size });
        }
        self.received = received;
    }

    fn next(&mut self, upload_id: Uuid) -> Action {
        if self.received >= self.size {
            self.phase = Phase::Completing;
            return Action::Complete { upload_id };
        }
        let offset = self.received;
        let len = self.chunk.min(self.size - offset);
        self.phase = Phase::Putting { offset };
        Action::Put { upload_id, offset, len }
    }

    fn finish(&mut self, outcome: UploadOutcome) -> Action {
        self.phase = Phase::Finished;
        Action::Done(outcome)
    }

    fn fail(&mut self, e: SyncError) -> Action {
        self.phase = Phase::Finished;
        Action::Failed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_base_and_stops_at_cap() {
        let p = RetryPolicy::DEFAULT;
        let ms: Vec<u128> = (1..=10).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(30), "huge exponents saturate at the cap");
    }

    #[test]
    fn delay_is_full_jitter_within_the_ceiling() {
        let p = RetryPolicy::DEFAULT;
        let mut rng = seeded_rng(7);
        for failures in 1..12 {
            let ceiling = p.ceiling(failures);
            let draws: Vec<Duration> = (0..200).map(|_| p.delay(failures, &mut rng)).collect();
            assert!(draws.iter().all(|d| *d <= ceiling));
            // Full jitter spreads over the whole range, not just near the ceiling.
            assert!(draws.iter().any(|d| *d < ceiling / 4) && draws.iter().any(|d| *d > ceiling * 3 / 4));
        }
        assert_eq!(p.delay(3, &mut || u64::MAX), p.ceiling(3));
        assert_eq!(p.delay(3, &mut || 0), Duration::ZERO);
    }

    #[test]
    fn seeded_rng_repeats() {
        let (mut a, mut b) = (seeded_rng(42), seeded_rng(42));
        let xs: Vec<u64> = (0..5).map(|_| a()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
    }

    #[test]
    fn the_chunk_halves_on_cuts_and_grows_back_on_progress() {
        let id = Uuid::from_u128(1);
        let size = 64 * 1024 * 1024;
        let mut m = Upload::new(id, size, 4 * 1024 * 1024, RetryPolicy::DEFAULT, seeded_rng(1));
        let state = |received: u64| UploadState { upload_id: id, received, size, complete: false, receipt: None };
        assert!(matches!(m.start(), Action::Begin(_)));
        let len_of = |a: Action| match a {
            Action::Put { len, .. } => len,
            other => panic!("expected a put, got {other:?}"),
        };
        assert_eq!(len_of(m.handle(Input::State(state(0)))), 4 * 1024 * 1024);
        let mut lens = Vec::new();
        for _ in 0..5 {
            let cut = SyncError::Connection { message: "cut".into() };
            assert!(matches!(m.handle(Input::Error(cut)), Action::Wait(_)));
            assert!(matches!(m.handle(Input::Waited), Action::Begin(_)));
            lens.push(len_of(m.handle(Input::State(state(0)))));
        }
        assert_eq!(lens, [2 << 20, 1 << 20, 512 << 10, 256 << 10, 256 << 10], "halves down to MIN_CHUNK");
        // Each acknowledged chunk doubles it back.
        assert_eq!(len_of(m.handle(Input::State(state(256 << 10)))), 512 << 10);
        assert_eq!(len_of(m.handle(Input::State(state(768 << 10)))), 1 << 20);
    }
}
