//! Uploads in progress, shared by the replicas so that an upload begun on one resumes and
//! completes on another. Progress moves only by compare-and-swap ([`Db::advance_upload`]),
//! and so does the state ([`Db::set_upload_state`]), so two replicas cannot both append the
//! same range or both complete the same upload.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use super::error::running;
use super::journal::JournalLock;
use super::{to_i64, to_u64, Db, DbError};

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
        .execute(&self.pool)
        .await
        .map_err(|e| running(e, WHAT))?;
        Ok(())
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

async fn delete_upload(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<bool, DbError> {
    let n = sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(conn).await.map_err(|e| running(e, WHAT))?.rows_affected();
    Ok(n == 1)
}
