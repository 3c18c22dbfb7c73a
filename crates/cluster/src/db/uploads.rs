//! Uploads in progress, shared by the replicas so that an upload begun on one resumes and
//! completes on another. Progress moves only by compare-and-swap ([`Db::advance_upload`]),
//! and so does the state ([`Db::set_upload_state`]), so two replicas cannot both append the
//! same range or both complete the same upload.
//!
//! A member's quotas are checked and counted in one step ([`Db::begin_upload`], under a
//! per-member advisory lock), so uploads begun at once on several replicas cannot pass them
//! together. A chunk is written under [`UploadClaim`]: the upload's row stays locked from
//! reading its progress until the progress moves, so of two replicas receiving the same
//! range one writes and the other is refused at once, before it writes a byte to the bucket.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::error::running;
use super::journal::JournalLock;
use super::{member_lock, to_i64, to_u64, Db, DbError};

const WHAT: &str = "the upload";
const COLUMNS: &str = "id, member, sealed, size, received, updated_at, state";

/// An upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The upload's id.
    pub id: Uuid,
    /// The agency's opaque key for the member who uploads (for quotas).
    pub member: Vec<u8>,
    /// The upload's sealed state (what the agency needs to resume it).
    pub sealed: Vec<u8>,
    /// The size announced.
    pub size: u64,
    /// How many bytes arrived so far.
    pub received: u64,
    /// When it last changed (the caller's clock).
    pub updated_at: DateTime<Utc>,
    /// The agency's name for its state (e.g. receiving, completing); this layer only
    /// compares it.
    pub state: String,
}

/// What a member's uploads in progress take up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// How many uploads.
    pub count: u64,
    /// Their announced sizes, summed.
    pub size: u64,
    /// Their bytes received so far, summed.
    pub received: u64,
}

/// A member's quotas on uploads in progress (the agency's `Limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Most uploads in progress at once.
    pub max_count: u64,
    /// Most bytes their announced sizes may add up to (one upload alone always fits).
    pub max_size: u64,
}

/// What [`Db::begin_upload`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Begun {
    /// The upload is recorded and counts against its member's quota.
    Recorded,
    /// Refused: the member already has [`Quota::max_count`] uploads in progress.
    TooMany(Usage),
    /// Refused: with this one, the announced sizes would pass [`Quota::max_size`].
    OverQuota(Usage),
    /// Nothing changed: an upload with this id is already in the counted state (another
    /// request began it meanwhile, on any replica); resume that one.
    InProgress,
}

/// The advisory lock class of a member's upload quota ("CbUq").
const QUOTA_LOCK: [u8; 4] = *b"CbUq";

/// One upload's progress, held: its row is locked (`FOR UPDATE`) in a transaction from
/// [`Db::claim_upload`] until [`UploadClaim::advance`] or [`UploadClaim::replace`] commits or
/// [`UploadClaim::release`] rolls back (a claim merely dropped rolls back too, but frees the
/// row only when its connection is next used). The lock is the database's own row lock, so a replica killed while holding it loses
/// its connection and releases it at once, and one frozen while holding it is ended after the
/// hold given to `claim_upload`.
pub struct UploadClaim {
    tx: Transaction<'static, Postgres>,
    upload: Upload,
}

impl std::fmt::Debug for UploadClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadClaim").field("id", &self.upload.id).field("received", &self.upload.received).finish_non_exhaustive()
    }
}

impl UploadClaim {
    /// The upload as it was when claimed (nobody can change it while the claim is held).
    pub fn upload(&self) -> &Upload {
        &self.upload
    }

    /// Moves the progress to `new_received` (and the sealed state to `sealed`, its state name
    /// to `state`) at `now`, and releases the claim. Progress backwards or beyond the size is
    /// [`DbError::Invalid`], and nothing changes.
    pub async fn advance(mut self, new_received: u64, sealed: &[u8], state: &str, now: DateTime<Utc>) -> Result<(), DbError> {
        let checked = if new_received < self.upload.received {
            Err(DbError::Invalid { what: "upload progress going backwards" })
        } else if new_received > self.upload.size {
            Err(DbError::Invalid { what: "upload progress beyond the upload's size" })
        } else {
            to_i64(new_received, "an upload offset beyond 2^63")
                .and_then(|new| Ok((new, to_i64(self.upload.received, "an upload offset beyond 2^63")?)))
        };
        let (new, expected) = match checked {
            Ok(v) => v,
            Err(e) => {
                self.release().await;
                return Err(e);
            }
        };
        // The row is locked by this transaction: the compare cannot fail, and is kept as a
        // guard against a claim taken some other way.
        let n = sqlx::query("UPDATE uploads SET received = $3, sealed = $4, state = $5, updated_at = $6 WHERE id = $1 AND received = $2")
            .bind(self.upload.id)
            .bind(expected)
            .bind(new)
            .bind(sealed)
            .bind(state)
            .bind(now)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| running(e, WHAT))?
            .rows_affected();
        if n != 1 {
            self.release().await;
            return Err(DbError::Conflict { what: WHAT });
        }
        self.tx.commit().await.map_err(|e| running(e, WHAT))
    }

    /// Replaces the upload with `u` (every field but its id) and releases the claim: what an
    /// upload's expiry does (its progress back to 0 in a tombstone), so it cannot land over a
    /// chunk another replica is storing.
    pub async fn replace(mut self, u: &Upload) -> Result<(), DbError> {
        let checked = if u.id != self.upload.id || u.received > u.size {
            Err(DbError::Invalid { what: "a replacement of another upload, or past its size" })
        } else {
            to_i64(u.size, "an upload size beyond 2^63").and_then(|size| Ok((size, to_i64(u.received, "an upload offset beyond 2^63")?)))
        };
        let (size, received) = match checked {
            Ok(v) => v,
            Err(e) => {
                self.release().await;
                return Err(e);
            }
        };
        put_upload(&mut self.tx, u, size, received).await?;
        self.tx.commit().await.map_err(|e| running(e, WHAT))
    }

    /// Releases the claim, changing nothing. (Dropping it does too, but only once its
    /// connection is next used or returned to the pool: until then the row stays locked, so
    /// release it when the upload may be claimed again at once.)
    pub async fn release(self) {
        // A rollback that fails leaves a broken connection, which PostgreSQL ends, and its
        // transaction with it.
        let _ = self.tx.rollback().await;
    }
}

fn upload(r: &PgRow) -> Result<Upload, sqlx::Error> {
    Ok(Upload {
        id: r.try_get(0)?,
        member: r.try_get(1)?,
        sealed: r.try_get(2)?,
        size: to_u64(r.try_get(3)?),
        received: to_u64(r.try_get(4)?),
        updated_at: r.try_get(5)?,
        state: r.try_get(6)?,
    })
}

impl Db {
    /// Inserts `u`, or replaces the upload with its id (every field).
    pub async fn put_upload(&self, u: &Upload) -> Result<(), DbError> {
        let size = to_i64(u.size, "an upload size beyond 2^63")?;
        let received = to_i64(u.received, "an upload offset beyond 2^63")?;
        if received > size {
            return Err(DbError::Invalid { what: "an upload that received more than its size" });
        }
        let mut conn = self.pool.acquire().await.map_err(|e| running(e, WHAT))?;
        put_upload(&mut conn, u, size, received).await
    }

    /// The upload `id`.
    pub async fn upload(&self, id: Uuid) -> Result<Option<Upload>, DbError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, WHAT))?;
        row.as_ref().map(upload).transpose().map_err(|e| running(e, WHAT))
    }

    /// Every upload in progress, least recently changed first (what cleanup expires).
    pub async fn list_uploads(&self) -> Result<Vec<Upload>, DbError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads ORDER BY updated_at, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| running(e, "uploads"))?;
        rows.iter().map(upload).collect::<Result<_, _>>().map_err(|e| running(e, "uploads"))
    }

    /// What `member`'s uploads in progress take up (for quotas).
    pub async fn upload_usage(&self, member: &[u8]) -> Result<Usage, DbError> {
        let row = sqlx::query(
            "SELECT count(*), coalesce(sum(size), 0)::bigint, coalesce(sum(received), 0)::bigint FROM uploads WHERE member = $1",
        )
        .bind(member)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| running(e, "uploads"))?;
        let get = |i: usize| row.try_get::<i64, _>(i).map(to_u64).map_err(|e| running(e, "uploads"));
        Ok(Usage { count: get(0)?, size: get(1)?, received: get(2)? })
    }

    /// Records the new upload `u` (or replaces the one with its id when that one is not in
    /// state `counted`: a tombstone, a completed upload) if its member's quota allows it: the member's other uploads in state `counted` changed since `active_since`
    /// (older ones have expired, whether or not anyone has removed them yet) must number
    /// fewer than [`Quota::max_count`], and, when there are any, their sizes and `u`'s must
    /// not pass [`Quota::max_size`]. Check and record are one step under the member's
    /// advisory lock, so uploads begun at once on several replicas cannot pass together.
    pub async fn begin_upload(&self, u: &Upload, counted: &str, active_since: DateTime<Utc>, quota: Quota) -> Result<Begun, DbError> {
        let size = to_i64(u.size, "an upload size beyond 2^63")?;
        let received = to_i64(u.received, "an upload offset beyond 2^63")?;
        if received > size {
            return Err(DbError::Invalid { what: "an upload that received more than its size" });
        }
        let mut tx = self.pool.begin().await.map_err(|e| running(e, WHAT))?;
        let (class, key) = member_lock(QUOTA_LOCK, &u.member);
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(class)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, "the member's upload quota"))?;
        // Every begin of this id is under this member's lock: a row in progress seen here stays.
        let existing: Option<String> = sqlx::query_scalar("SELECT state FROM uploads WHERE id = $1")
            .bind(u.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        if existing.as_deref() == Some(counted) {
            return Ok(Begun::InProgress);
        }
        let row = sqlx::query(
            "SELECT count(*), coalesce(sum(size), 0)::bigint, coalesce(sum(received), 0)::bigint FROM uploads
             WHERE member = $1 AND state = $2 AND updated_at >= $3 AND id <> $4",
        )
        .bind(&u.member)
        .bind(counted)
        .bind(active_since)
        .bind(u.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| running(e, "uploads"))?;
        let get = |i: usize| row.try_get::<i64, _>(i).map(to_u64).map_err(|e| running(e, "uploads"));
        let usage = Usage { count: get(0)?, size: get(1)?, received: get(2)? };
        if usage.count >= quota.max_count {
            return Ok(Begun::TooMany(usage));
        }
        if usage.count > 0 && usage.size.saturating_add(u.size) > quota.max_size {
            return Ok(Begun::OverQuota(usage));
        }
        put_upload(&mut tx, u, size, received).await?;
        tx.commit().await.map_err(|e| running(e, WHAT))?;
        Ok(Begun::Recorded)
    }

    /// Claims upload `id` to move its progress (see [`UploadClaim`]), without waiting:
    /// [`DbError::Conflict`] when another request (on any replica) holds it, and
    /// [`DbError::NotFound`] for an unknown id. PostgreSQL ends a claim left idle for `hold`
    /// (a replica frozen mid-chunk), rolling it back.
    pub async fn claim_upload(&self, id: Uuid, hold: Duration) -> Result<UploadClaim, DbError> {
        let mut tx = self.pool.begin().await.map_err(|e| running(e, WHAT))?;
        // SET LOCAL takes no parameters: the value is an integer of milliseconds we format.
        let hold_ms = hold.as_millis().clamp(1, i32::MAX as u128);
        sqlx::query(&format!("SET LOCAL idle_in_transaction_session_timeout = {hold_ms}"))
            .execute(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        // NOWAIT: a row another transaction holds is SQLSTATE 55P03, a Conflict.
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1 FOR UPDATE NOWAIT"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| running(e, WHAT))?;
        let row = row.ok_or(DbError::NotFound { what: "upload" })?;
        let upload = upload(&row).map_err(|e| running(e, WHAT))?;
        Ok(UploadClaim { tx, upload })
    }

    /// Deletes the upload `id`; whether it existed.
    pub async fn delete_upload(&self, id: Uuid) -> Result<bool, DbError> {
        let mut conn = self.pool.acquire().await.map_err(|e| running(e, WHAT))?;
        delete_upload(&mut conn, id).await
    }

    /// Moves the upload's progress from `expected_received` to `new_received` (and its
    /// sealed state to `sealed`) at `now`, only if it is still at `expected_received`: of two
    /// replicas appending the same range, one wins and the other gets
    /// [`DbError::Conflict`]. An unknown id is [`DbError::NotFound`]; progress backwards or
    /// beyond the size is [`DbError::Invalid`].
    pub async fn advance_upload(
        &self,
        id: Uuid,
        expected_received: u64,
        new_received: u64,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        if new_received < expected_received {
            return Err(DbError::Invalid { what: "upload progress going backwards" });
        }
        let expected = to_i64(expected_received, "an upload offset beyond 2^63")?;
        let new = to_i64(new_received, "an upload offset beyond 2^63")?;
        let row = sqlx::query(
            "WITH cur AS (SELECT received, size FROM uploads WHERE id = $1),
                  upd AS (UPDATE uploads SET received = $3, sealed = $4, updated_at = $5
                          WHERE id = $1 AND received = $2 AND $3 <= size RETURNING 1)
             SELECT (SELECT count(*) FROM upd), (SELECT size FROM cur), (SELECT received FROM cur)",
        )
        .bind(id)
        .bind(expected)
        .bind(new)
        .bind(sealed)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| running(e, WHAT))?;
        let updated: i64 = row.try_get(0).map_err(|e| running(e, WHAT))?;
        let size: Option<i64> = row.try_get(1).map_err(|e| running(e, WHAT))?;
        match (updated, size) {
            (1, _) => Ok(()),
            (_, None) => Err(DbError::NotFound { what: "upload" }),
            (_, Some(size)) if new > size => Err(DbError::Invalid { what: "upload progress beyond the upload's size" }),
            _ => Err(DbError::Conflict { what: WHAT }),
        }
    }

    /// Moves the upload's state from `from` to `to` at `now`, only if it is still `from`:
    /// of two replicas completing the same upload, one wins and the other gets
    /// [`DbError::Conflict`]. An unknown id is [`DbError::NotFound`].
    pub async fn set_upload_state(&self, id: Uuid, from: &str, to: &str, now: DateTime<Utc>) -> Result<(), DbError> {
        let n = sqlx::query("UPDATE uploads SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2")
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, WHAT))?
            .rows_affected();
        if n == 1 {
            return Ok(());
        }
        match self.upload(id).await? {
            Some(_) => Err(DbError::Conflict { what: WHAT }),
            None => Err(DbError::NotFound { what: "upload" }),
        }
    }
}

impl JournalLock {
    /// [`Db::delete_upload`] inside the journal's transaction: the upload is gone if and only
    /// if the appends commit (a completed upload is recorded and forgotten at once, or not at
    /// all).
    pub async fn delete_upload(&mut self, id: Uuid) -> Result<bool, DbError> {
        delete_upload(&mut self.tx, id).await
    }
}

async fn put_upload(conn: &mut sqlx::PgConnection, u: &Upload, size: i64, received: i64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO uploads (id, member, sealed, size, received, updated_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET member = EXCLUDED.member, sealed = EXCLUDED.sealed, size = EXCLUDED.size,
           received = EXCLUDED.received, updated_at = EXCLUDED.updated_at, state = EXCLUDED.state",
    )
    .bind(u.id)
    .bind(&u.member)
    .bind(&u.sealed)
    .bind(size)
    .bind(received)
    .bind(u.updated_at)
    .bind(&u.state)
    .execute(conn)
    .await
    .map_err(|e| running(e, WHAT))?;
    Ok(())
}

async fn delete_upload(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<bool, DbError> {
    let n = sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(conn).await.map_err(|e| running(e, WHAT))?.rows_affected();
    Ok(n == 1)
}
