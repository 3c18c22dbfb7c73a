//! The agency journal: sealed records numbered 0.. with no gaps, one hash chain however many
//! replicas append at once.
//!
//! Appends are serialised in the database, not in a process: [`JournalLock`] opens a
//! transaction and takes a transaction-scoped advisory lock ([`JOURNAL_LOCK`]) that every
//! replica's appender takes, so exactly one appender at a time reads the tail, chains onto it
//! and appends. Its commit releases the lock; dropping it uncommitted (or the replica dying,
//! which drops its connection) rolls back and releases it, leaving nothing half recorded.
//! Readers never take the lock: committed records are never changed.

use std::time::Duration;

use sqlx::{Postgres, Row, Transaction};

use super::error::running;
use super::{to_i64, to_u64, Db, DbError};

/// The advisory lock key that serialises journal appends across replicas: "CbJrnl01" as a
/// big-endian integer, so it does not collide with another application's small numbers.
pub const JOURNAL_LOCK: i64 = i64::from_be_bytes(*b"CbJrnl01");

const WHAT: &str = "the journal";

/// How long [`Db::lock_journal`] waits for another replica's append before giving up with
/// [`DbError::Conflict`] (the endpoint answers "busy, retry"): an append takes milliseconds,
/// so this much waiting means the holder is stuck.
pub const JOURNAL_LOCK_WAIT: Duration = Duration::from_secs(30);

/// How long a holder of the lock may sit idle inside its transaction before PostgreSQL ends
/// its session, rolling back and releasing the lock: a replica frozen (stopped, partitioned)
/// while appending must not stop every other replica's intake. A replica killed outright
/// loses its connection, which releases the lock at once.
pub const JOURNAL_IDLE_LIMIT: Duration = Duration::from_secs(60);

/// The journal's append lock: a transaction holding [`JOURNAL_LOCK`]. Read the tail with
/// [`JournalLock::next_seq`] / [`JournalLock::after`], append with [`JournalLock::append`], then
/// [`JournalLock::commit`]. Dropped uncommitted, it rolls back.
pub struct JournalLock {
    pub(super) tx: Transaction<'static, Postgres>,
}

impl std::fmt::Debug for JournalLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JournalLock")
    }
}

impl Db {
    /// Waits for the journal's append lock (held by at most one appender in the whole
    /// cluster) and returns it.
    pub async fn lock_journal(&self) -> Result<JournalLock, DbError> {
        self.lock_journal_within(JOURNAL_LOCK_WAIT).await
    }

    /// [`Db::lock_journal`], waiting at most `wait` (at least a millisecond) for the lock;
    /// past that, [`DbError::Conflict`].
    pub async fn lock_journal_within(&self, wait: Duration) -> Result<JournalLock, DbError> {
        let mut tx = self.pool.begin().await.map_err(|e| running(e, WHAT))?;
        // SET LOCAL takes no parameters: the values are integers of milliseconds we format.
        let wait_ms = wait.as_millis().clamp(1, i32::MAX as u128);
        let idle_ms = JOURNAL_IDLE_LIMIT.as_millis();
        sqlx::query(&format!("SET LOCAL lock_timeout = {wait_ms}")).execute(&mut *tx).await.map_err(|e| running(e, WHAT))?;
        sqlx::query(&format!("SET LOCAL idle_in_transaction_session_timeout = {idle_ms}"))
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(JOURNAL_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, "the journal's append lock (another replica held it too long)"))?;
        Ok(JournalLock { tx })
    }

    /// How many records the journal holds (committed ones; the next record's number).
    pub async fn journal_len(&self) -> Result<u64, DbError> {
        len(&self.pool).await
    }

    /// Up to `max` records numbered `n` and on, in order (record `n` first).
    pub async fn journal_after(&self, n: u64, max: u64) -> Result<Vec<Vec<u8>>, DbError> {
        after(&self.pool, n, Some(max)).await
    }
}

impl JournalLock {
    /// Writes one of the agency's records (`crate::records`, table `agency_records`) in this
    /// lock's transaction: it is kept exactly when the journal records appended with it are
    /// (a bundle's receipt with the bundle's events).
    pub async fn put_record(&mut self, name: &str, value: &[u8]) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO agency_records (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| super::error::running(e, "an agency record"))?;
        Ok(())
    }

    /// The number the next record gets: how many records the journal holds, this lock's own
    /// appends included.
    pub async fn next_seq(&mut self) -> Result<u64, DbError> {
        len(&mut *self.tx).await
    }

    /// Every record numbered `n` and on, in order: what other replicas appended since this
    /// replica last looked.
    pub async fn after(&mut self, n: u64) -> Result<Vec<Vec<u8>>, DbError> {
        after(&mut *self.tx, n, None).await
    }

    /// Appends `records` as numbers `first_seq`, `first_seq + 1`, ... Refuses with
    /// [`DbError::Conflict`] unless `first_seq` is the journal's length (the caller chained
    /// onto a tail that is not the tail).
    pub async fn append(&mut self, first_seq: u64, records: &[Vec<u8>]) -> Result<(), DbError> {
        let len = self.next_seq().await?;
        if first_seq != len {
            return Err(DbError::Conflict { what: "the journal's next record number" });
        }
        if records.is_empty() {
            return Ok(());
        }
        let first = to_i64(first_seq, "a journal record number beyond 2^63")?;
        let count = to_i64(records.len() as u64, "too many journal records")?;
        let seqs: Vec<i64> = (0..count).map(|i| first + i).collect();
        sqlx::query("INSERT INTO journal (seq, record) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])")
            .bind(&seqs)
            .bind(records)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        Ok(())
    }

    /// Commits the appends and releases the lock.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await.map_err(|e| running(e, WHAT))
    }

    /// Rolls back the appends and releases the lock (what dropping it does, but awaited).
    pub async fn rollback(self) -> Result<(), DbError> {
        self.tx.rollback().await.map_err(|e| running(e, WHAT))
    }
}

async fn len<'e, E: sqlx::PgExecutor<'e>>(ex: E) -> Result<u64, DbError> {
    // The journal has no gaps, so the highest number + 1 is its length (an index lookup,
    // where count(*) would read every row).
    let n: i64 = sqlx::query_scalar("SELECT coalesce(max(seq) + 1, 0) FROM journal").fetch_one(ex).await.map_err(|e| running(e, WHAT))?;
    Ok(to_u64(n))
}

async fn after<'e, E: sqlx::PgExecutor<'e>>(ex: E, n: u64, max: Option<u64>) -> Result<Vec<Vec<u8>>, DbError> {
    let from = to_i64(n, "a journal record number beyond 2^63")?;
    let limit = max.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    let rows = sqlx::query("SELECT seq, record FROM journal WHERE seq >= $1 ORDER BY seq LIMIT $2")
        .bind(from)
        .bind(limit)
        .fetch_all(ex)
        .await
        .map_err(|e| running(e, WHAT))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let seq: i64 = row.try_get(0).map_err(|e| running(e, WHAT))?;
        // Guards the no-gap invariant the appender relies on, instead of trusting it.
        if seq != from + i as i64 {
            return Err(DbError::Other(format!("the journal has a gap before record {}", from + i as i64)));
        }
        out.push(row.try_get(1).map_err(|e| running(e, WHAT))?);
    }
    Ok(out)
}
