//! The endpoint's clock, injectable so tests can expire invites, challenges and sessions
//! and lift rate limits without waiting.

use chrono::{DateTime, FixedOffset, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<FixedOffset>;
}

/// The system clock (UTC).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        Utc::now().fixed_offset()
    }
}
