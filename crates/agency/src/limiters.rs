//! The endpoint's limits on enrolment failures and on requests without a session: in memory
//! for the embedded agency, in the database for a cluster agency, so a limit counts every
//! replica's requests (an attacker gains nothing by spreading attempts over the replicas).

use std::sync::Mutex;

use chrono::{DateTime, FixedOffset};
use uuid::Uuid;

use crate::api::ApiError;
use crate::limits::Limits;
use crate::state::{lock, FailureLimiter, RequestLimiter};

/// What a failure limit counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counted {
    /// Refused enrolments from a source address.
    EnrolSource(std::net::IpAddr),
    /// Refused enrolments with one invite.
    EnrolInvite(Uuid),
}

/// Where the limits are kept.
pub(crate) enum Limiters {
    /// In this process.
    Memory {
        /// Wrong invite codes and refused enrolments, by source address.
        by_source: Mutex<FailureLimiter<std::net::IpAddr>>,
        /// Refused enrolments with a valid code, by invite.
        by_invite: Mutex<FailureLimiter<Uuid>>,
        /// Requests without a session, by source address.
        unauthenticated: Mutex<RequestLimiter>,
    },
}

impl Limiters {
    /// Limits kept in this process.
    pub(crate) fn memory(limits: &Limits) -> Limiters {
        Limiters::Memory {
            by_source: Mutex::new(FailureLimiter::new(limits.enrol_failures_per_source, limits.enrol_window_secs)),
            by_invite: Mutex::new(FailureLimiter::new(limits.enrol_failures_per_invite, limits.enrol_window_secs)),
            unauthenticated: Mutex::new(RequestLimiter::new(limits.unauthenticated_per_source_per_min)),
        }
    }

    /// Seconds until `what` may try again, when locked.
    pub(crate) async fn locked(&self, what: Counted, now: DateTime<FixedOffset>) -> Result<Option<i64>, ApiError> {
        match self {
            Limiters::Memory { by_source, by_invite, .. } => Ok(match what {
                Counted::EnrolSource(ip) => lock(by_source).locked(&ip, now),
                Counted::EnrolInvite(id) => lock(by_invite).locked(&id, now),
            }),
        }
    }

    /// Counts a failure of `what`.
    pub(crate) async fn failure(&self, what: Counted, now: DateTime<FixedOffset>) -> Result<(), ApiError> {
        match self {
            Limiters::Memory { by_source, by_invite, .. } => {
                match what {
                    Counted::EnrolSource(ip) => lock(by_source).failure(ip, now),
                    Counted::EnrolInvite(id) => lock(by_invite).failure(id, now),
                }
                Ok(())
            }
        }
    }

    /// Takes one of `source`'s requests without a session: `Err(seconds)` until the next one
    /// is there.
    pub(crate) async fn take(&self, source: std::net::IpAddr, now: DateTime<FixedOffset>) -> Result<Result<(), i64>, ApiError> {
        match self {
            Limiters::Memory { unauthenticated, .. } => Ok(lock(unauthenticated).take(source, now)),
        }
    }
}
