//! Cluster-wide limits: lock-outs after repeated failures, and a token bucket per source.
//!
//! Keys are opaque: the agency passes a keyed digest of the IP address or invite id, never
//! the address. Both rules are exact under concurrency, not merely eventually right: a key's
//! failures are counted under its `lockouts` row lock, and a bucket is refilled and taken
//! from in one `INSERT .. ON CONFLICT DO UPDATE`, which holds the bucket's row lock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::error::running;
use super::{Db, DbError};

const WHAT: &str = "the limit";

/// Whole seconds from `now` until `until`, at least 1 (a caller told "wait 0 seconds" would
/// retry at once and be refused again).
fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(0);
    u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)
}

fn chrono_window(window: Duration) -> Result<chrono::Duration, DbError> {
    chrono::Duration::from_std(window).map_err(|_| DbError::Invalid { what: "a limit window beyond chrono's range" })
}

impl Db {
    /// Records a failure of `key` at `now`. When this makes `max` failures within `window`,
    /// the key is locked for `window` from now; returns the seconds it is locked for, if it
    /// is (including when it already was).
    pub async fn failure(&self, key: &[u8], max: u32, window: Duration, now: DateTime<Utc>) -> Result<Option<u64>, DbError> {
        let window = chrono_window(window)?;
        let since = now - window;
        let mut tx = self.pool.begin().await.map_err(|e| running(e, WHAT))?;
        // The upsert takes the key's row lock until commit: one failure of a key at a time.
        let until: Option<DateTime<Utc>> = sqlx::query_scalar(
            "INSERT INTO lockouts (key, until) VALUES ($1, NULL) ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING until",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| running(e, WHAT))?;
        sqlx::query("DELETE FROM failures WHERE key = $1 AND at <= $2")
            .bind(key)
            .bind(since)
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        sqlx::query("INSERT INTO failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM failures WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        let mut locked_until = until.filter(|u| *u > now);
        if i64::from(max) <= count {
            let new_until = now + window;
            let until = locked_until.map_or(new_until, |u| u.max(new_until));
            sqlx::query("UPDATE lockouts SET until = $2 WHERE key = $1")
                .bind(key)
                .bind(until)
                .execute(&mut *tx)
                .await
                .map_err(|e| running(e, WHAT))?;
            locked_until = Some(until);
        }
        tx.commit().await.map_err(|e| running(e, WHAT))?;
        Ok(locked_until.map(|u| seconds_until(now, u)))
    }

    /// The seconds `key` stays locked for at `now`, if it is locked.
    pub async fn locked(&self, key: &[u8], now: DateTime<Utc>) -> Result<Option<u64>, DbError> {
        let until: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT until FROM lockouts WHERE key = $1 AND until > $2")
            .bind(key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, WHAT))?
            .flatten();
        Ok(until.map(|u| seconds_until(now, u)))
    }

    /// Forgets `key`'s failures and lifts its lock-out (after a success, or by an
    /// administrator).
    pub async fn clear_failures(&self, key: &[u8]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(|e| running(e, WHAT))?;
        sqlx::query("DELETE FROM lockouts WHERE key = $1").bind(key).execute(&mut *tx).await.map_err(|e| running(e, WHAT))?;
        sqlx::query("DELETE FROM failures WHERE key = $1").bind(key).execute(&mut *tx).await.map_err(|e| running(e, WHAT))?;
        tx.commit().await.map_err(|e| running(e, WHAT))
    }

    /// Takes a token from `key`'s bucket at `now`. The bucket holds up to `per_min` tokens and
    /// refills at `per_min` a minute; a new key starts full. Returns `None` when a token was
    /// taken, or `Some(seconds)` until the next one when the bucket is empty (`per_min` 0
    /// refuses everything, for a minute at a time). One statement, so replicas taking from
    /// the same bucket at once each see the other's take.
    pub async fn take_token(&self, key: &[u8], per_min: u32, now: DateTime<Utc>) -> Result<Option<u64>, DbError> {
        if per_min == 0 {
            return Ok(Some(60));
        }
        let rate = f64::from(per_min);
        // r: the bucket refilled up to now, never beyond full, and never backwards when this
        // replica's clock is a little behind the one that took last.
        const R: &str = "least($2, b.tokens + greatest(0, extract(epoch FROM $3 - b.at)::float8) * $2 / 60.0)";
        let sql = format!(
            "INSERT INTO buckets AS b (key, tokens, at, granted) VALUES ($1, $2 - 1, $3, true)
             ON CONFLICT (key) DO UPDATE SET
               granted = {R} >= 1,
               tokens = CASE WHEN {R} >= 1 THEN {R} - 1 ELSE {R} END,
               at = greatest(b.at, $3)
             RETURNING granted, tokens"
        );
        let row = sqlx::query(&sql).bind(key).bind(rate).bind(now).fetch_one(&self.pool).await.map_err(|e| running(e, WHAT))?;
        let granted: bool = row.try_get(0).map_err(|e| running(e, WHAT))?;
        if granted {
            return Ok(None);
        }
        let tokens: f64 = row.try_get(1).map_err(|e| running(e, WHAT))?;
        let wait = ((1.0 - tokens).max(0.0) * 60.0 / rate).ceil();
        // wait is within 0..=60 (tokens >= 0, rate >= 1), so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let wait = wait as u64;
        Ok(Some(wait.max(1)))
    }

    /// Deletes limit state older than `older_than` at `now` (failures and expired lock-outs
    /// that no longer count, buckets long since full again); how many rows.
    pub async fn prune_limits(&self, older_than: Duration, now: DateTime<Utc>) -> Result<u64, DbError> {
        let before = now - chrono_window(older_than)?;
        let mut tx = self.pool.begin().await.map_err(|e| running(e, WHAT))?;
        let mut n = 0;
        n += sqlx::query("DELETE FROM failures WHERE at <= $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?
            .rows_affected();
        n += sqlx::query(
            "DELETE FROM lockouts l WHERE (until IS NULL OR until <= $1) AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.key = l.key)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(|e| running(e, WHAT))?
        .rows_affected();
        n += sqlx::query("DELETE FROM buckets WHERE at <= $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?
            .rows_affected();
        tx.commit().await.map_err(|e| running(e, WHAT))?;
        Ok(n)
    }
}
