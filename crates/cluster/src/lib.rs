//! # casebridge-cluster
//!
//! The cluster agency's shared state (docs/DEPLOY.md): any number of `agency serve` replicas
//! on any number of machines share one PostgreSQL database and one S3-compatible bucket.
//!
//! What each holds is what the embedded agency holds on its disk, no more: the database holds
//! the agency journal's sealed records, sealed member and upload records, session digests and
//! limit counters; the bucket holds sealed objects under keyed names. No plaintext case data,
//! names or content hashes.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod db;
pub mod objects;
pub mod records;

/// Runs `f` on `rt` from synchronous code: a plain thread, a blocking-pool thread, a worker
/// of a multi-thread runtime, or a current-thread runtime's thread ([`blocking`] says how).
/// What the agency's synchronous seams (its records, its store's copy) use to reach the
/// database.
pub fn block_on<F>(rt: &tokio::runtime::Handle, f: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    blocking(|| rt.block_on(f))
}

/// Runs `f`, which blocks its thread, from anywhere: directly on a thread that no runtime
/// drives; on a multi-thread runtime's worker, which is let block meanwhile
/// (`block_in_place`); on a current-thread runtime's thread, which cannot block in place, on a
/// scoped thread of its own.
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}

/// What went wrong with the database, for a message: the kind of failure and the server's
/// words, never the connection string (it may hold a password).
pub fn describe_sqlx(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => format!("the database refused: {}", d.message()),
        sqlx::Error::Io(io) => format!("the database could not be reached: {io}"),
        sqlx::Error::PoolTimedOut => "no database connection was free in time (the database is slow or down)".into(),
        sqlx::Error::PoolClosed => "the database connection pool is closed".into(),
        sqlx::Error::Tls(t) => format!("TLS to the database failed: {t}"),
        other => format!("database error: {other}"),
    }
}
