//! The engine: drives [`Upload`] machines over a [`Transport`] for the outbox, and pages the
//! feed.

use std::future::Future;
use std::io::SeekFrom;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use casebridge_protocol::{Feed, UploadOutcome, DEFAULT_CHUNK, MAX_FEED_PAGE};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use uuid::Uuid;

use crate::machine::{seeded_rng, system_rng, Action, Input, RetryPolicy, Rng, Upload};
use crate::outbox::{Outbox, Pending};
use crate::{Clock, Event, Result, SyncError, Transport};

/// Longest single sleep; the cancel flag is checked between slices.
const SLEEP_SLICE: Duration = Duration::from_millis(250);

/// How the engine uploads and pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Upload chunk size (at most `MAX_CHUNK`).
    pub chunk: usize,
    /// Backoff and give-up rules.
    pub policy: RetryPolicy,
    /// Events asked for per feed page (at most `MAX_FEED_PAGE`).
    pub feed_limit: usize,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig { chunk: DEFAULT_CHUNK, policy: RetryPolicy::DEFAULT, feed_limit: MAX_FEED_PAGE }
    }
}

/// A bundle the agency stored during [`Engine::push`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The agency's answer, with its receipt.
    pub outcome: UploadOutcome,
}

/// The sync engine over a transport `T` and a clock `C`.
pub struct Engine<T: Transport, C: Clock> {
    transport: T,
    clock: C,
    config: EngineConfig,
    seeds: Mutex<Rng>,
    cancel: Arc<AtomicBool>,
}

impl<T: Transport, C: Clock> std::fmt::Debug for Engine<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.config).field("cancelled", &self.is_cancelled()).finish_non_exhaustive()
    }
}

impl<T: Transport, C: Clock> Engine<T, C> {
    /// An engine with the default configuration, jitter seeded from the system.
    pub fn new(transport: T, clock: C) -> Engine<T, C> {
        Engine {
            transport,
            clock,
            config: EngineConfig::default(),
            seeds: Mutex::new(system_rng()),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: EngineConfig) -> Engine<T, C> {
        self.config = config;
        self
    }

    /// Makes the jitter deterministic (tests).
    pub fn with_seed(mut self, seed: u64) -> Engine<T, C> {
        self.seeds = Mutex::new(seeded_rng(seed));
        self
    }

    /// Uses `flag` as the cancel flag: once it is set, the engine stops before the next chunk,
    /// page or pause with [`SyncError::Cancelled`]. An interrupted upload resumes next time.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Engine<T, C> {
        self.cancel = flag;
        self
    }

    /// The cancel flag (set it to stop the engine).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn check_cancel(&self) -> Result<()> {
        if self.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        Ok(())
    }

    fn fresh_rng(&self) -> Rng {
        let seed = {
            let mut seeds = self.seeds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            (*seeds)()
        };
        seeded_rng(seed)
    }

    /// Sleeps in slices, stopping early when cancelled.
    async fn pause(&self, duration: Duration) -> Result<()> {
        let mut left = duration;
        loop {
            self.check_cancel()?;
            if left.is_zero() {
                return Ok(());
            }
            let slice = left.min(SLEEP_SLICE);
            self.clock.sleep(slice).await;
            left -= slice;
        }
    }

    /// Uploads every pending bundle of `outbox`, oldest first, and moves each into `sent/`
    /// once the agency has answered `Done`.
    ///
    /// A bundle the agency refuses for good ([`SyncError::is_refusal`]: e.g. 403 because the
    /// brief it answers was withdrawn, 422 because it does not verify) is set aside with
    /// [`Outbox::refuse`], reported as [`Event::Refused`], and the push goes on with the next
    /// bundle (the agency accepts a gap in a sender's sequence; sending it again would only
    /// be refused again). Any other failure stops the push at that bundle (bundles are
    /// sequenced: a later one stored first would get the stuck one refused as a rollback);
    /// it and the rest stay pending and the error is [`SyncError::Bundle`] naming it (or
    /// [`SyncError::Cancelled`]). Returns the bundles stored.
    pub async fn push(&self, outbox: &Outbox, on_event: &mut (dyn FnMut(Event) + Send)) -> Result<Vec<Pushed>> {
        let mut pushed = Vec::new();
        for pending in outbox.pending()? {
            self.check_cancel()?;
            let outcome = match self.upload(&pending, on_event).await {
                Ok(outcome) => outcome,
                Err(SyncError::Cancelled) => return Err(SyncError::Cancelled),
                Err(e) if e.is_refusal() => {
                    let refused = outbox.refuse(&pending, &e, self.clock.now())?;
                    tracing::info!(bundle = %pending.bundle_id, status = refused.status, code = %refused.code, "bundle refused by the agency; set aside");
                    on_event(Event::Refused {
                        bundle_id: pending.bundle_id,
                        status: refused.status,
                        code: refused.code,
                        message: refused.message,
                    });
                    continue;
                }
                Err(e) => return Err(SyncError::Bundle { bundle_id: pending.bundle_id, error: Box::new(e) }),
            };
            outbox.mark_sent(pending.bundle_id)?;
            on_event(Event::Uploaded { bundle_id: pending.bundle_id, outcome: outcome.clone() });
            pushed.push(Pushed { bundle_id: pending.bundle_id, outcome });
        }
        Ok(pushed)
    }

    /// Uploads one bundle file, resuming where the server stands.
    pub async fn upload(&self, pending: &Pending, on_event: &mut (dyn FnMut(Event) + Send)) -> Result<UploadOutcome> {
        let mut file = tokio::fs::File::open(&pending.path).await.map_err(|e| SyncError::io("open", &pending.path, e))?;
        let mut machine = Upload::new(pending.bundle_id, pending.size, self.config.chunk, self.config.policy, self.fresh_rng());
        let mut action = machine.start();
        loop {
            for event in machine.take_events() {
                on_event(event);
            }
            action = match action {
                Action::Begin(begin) => {
                    self.check_cancel()?;
                    machine.handle(self.transport.begin(begin).await.into())
                }
                Action::Put { upload_id, offset, len } => {
                    self.check_cancel()?;
                    let chunk = read_chunk(&mut file, pending, offset, len).await?;
                    machine.handle(self.transport.put(upload_id, offset, chunk).await.into())
                }
                Action::Complete { upload_id } => machine.handle(self.transport.complete(upload_id).await.into()),
                Action::Wait(duration) => {
                    self.pause(duration).await?;
                    machine.handle(Input::Waited)
                }
                Action::Done(outcome) => return Ok(outcome),
                Action::Failed(e) => return Err(e),
            };
        }
    }

    /// Pages the feed from `after`, handing each page to `on_page` (which imports it and
    /// persists the page's cursor), with retries and backoff per page. Returns the final cursor.
    /// If `on_page` fails, its error is returned and later pages are not fetched.
    pub async fn pull<E: From<SyncError>>(
        &self,
        after: u64,
        on_page: &mut (dyn FnMut(Feed) -> Result<(), E> + Send),
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<u64, E> {
        let limit = self.config.feed_limit.clamp(1, MAX_FEED_PAGE);
        let mut cursor = after;
        loop {
            self.check_cancel()?;
            let at = cursor;
            let feed = self.retrying(on_event, || self.transport.feed(at, limit)).await?;
            if feed.cursor < cursor {
                return Err(SyncError::protocol(format!("the feed went back from cursor {cursor} to {}", feed.cursor)).into());
            }
            // A volunteer's page carries notices in place of events; tombstones count too.
            let (events, next, more) = (feed.events.len() + feed.notices.len() + feed.tombstones.len(), feed.cursor, feed.more);
            if more && events == 0 && next == cursor {
                return Err(SyncError::protocol(format!("the feed says more follows cursor {cursor} but sent nothing")).into());
            }
            on_page(feed)?;
            cursor = next;
            on_event(Event::Pulled { events, cursor });
            if !more {
                return Ok(cursor);
            }
        }
    }

    /// Runs `call` until it succeeds, retrying retryable failures with backoff.
    async fn retrying<R, F, Fut>(&self, on_event: &mut (dyn FnMut(Event) + Send), mut call: F) -> Result<R>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let policy = self.config.policy;
        let mut rng = self.fresh_rng();
        let mut failures = 0u32;
        loop {
            self.check_cancel()?;
            match call().await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() => {
                    failures = failures.saturating_add(1);
                    if failures >= policy.max_attempts.max(1) {
                        return Err(SyncError::GaveUp { attempts: failures, last: Box::new(e) });
                    }
                    let after = policy.delay(failures, &mut rng);
                    on_event(Event::Retrying { bundle_id: None, attempt: failures, after, error: e.to_string() });
                    self.pause(after).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

async fn read_chunk(file: &mut tokio::fs::File, pending: &Pending, offset: u64, len: u64) -> Result<Bytes> {
    let len = usize::try_from(len).map_err(|_| SyncError::protocol("chunk larger than memory"))?;
    file.seek(SeekFrom::Start(offset)).await.map_err(|e| SyncError::io("seek in", &pending.path, e))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf).await.map_err(|e| SyncError::io("read", &pending.path, e))?;
    Ok(Bytes::from(buf))
}
