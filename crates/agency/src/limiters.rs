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
    /// In the cluster's database, counted across every replica. Keys are keyed digests
    /// (HMAC-SHA-256 under a key derived from the agency's sealing key) of what is counted:
    /// the database never holds an address or an invite id.
    Cluster {
        /// The database.
        db: casebridge_cluster::db::Db,
        /// The key of the digests.
        key: ring::hmac::Key,
        /// The limits.
        limits: Limits,
    },
}

impl Counted {
    fn digest(&self, key: &ring::hmac::Key) -> Vec<u8> {
        let bytes = match self {
            Counted::EnrolSource(ip) => [b"enrol-source:".as_slice(), ip.to_string().as_bytes()].concat(),
            Counted::EnrolInvite(id) => [b"enrol-invite:".as_slice(), id.as_bytes()].concat(),
        };
        ring::hmac::sign(key, &bytes).as_ref().to_vec()
    }
}

fn db_failed(e: casebridge_cluster::db::DbError) -> ApiError {
    ApiError::unavailable(e)
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
            Limiters::Cluster { db, key, .. } => {
                let secs = db.locked(&what.digest(key), now.to_utc()).await.map_err(db_failed)?;
                Ok(secs.map(|s| i64::try_from(s).unwrap_or(i64::MAX).max(1)))
            }
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
            Limiters::Cluster { db, key, limits } => {
                let max = match what {
                    Counted::EnrolSource(_) => limits.enrol_failures_per_source,
                    Counted::EnrolInvite(_) => limits.enrol_failures_per_invite,
                };
                let window = std::time::Duration::from_secs(limits.enrol_window_secs);
                db.failure(&what.digest(key), max, window, now.to_utc()).await.map_err(db_failed)?;
                Ok(())
            }
        }
    }

    /// Takes one of `source`'s requests without a session: `Err(seconds)` until the next one
    /// is there.
    pub(crate) async fn take(&self, source: std::net::IpAddr, now: DateTime<FixedOffset>) -> Result<Result<(), i64>, ApiError> {
        match self {
            Limiters::Memory { unauthenticated, .. } => Ok(lock(unauthenticated).take(source, now)),
            Limiters::Cluster { db, key, limits } => {
                let digest = ring::hmac::sign(key, [b"session-less:".as_slice(), source.to_string().as_bytes()].concat().as_slice());
                let wait =
                    db.take_token(digest.as_ref(), limits.unauthenticated_per_source_per_min, now.to_utc()).await.map_err(db_failed)?;
                Ok(match wait {
                    None => Ok(()),
                    Some(secs) => Err(i64::try_from(secs).unwrap_or(i64::MAX).max(1)),
                })
            }
        }
    }
}
