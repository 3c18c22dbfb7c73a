//! Issued credentials, the revocation list, receipts, invites, sessions and challenges: sealed
//! records under ids or keyed digests, each with the one atomic rule replicas need.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use super::error::running;
use super::journal::JournalLock;
use super::{member_lock, to_u64, Db, DbError};

/// The advisory lock classes of a member's sessions ("CbSs") and challenges ("CbCh").
const SESSIONS_LOCK: [u8; 4] = *b"CbSs";
const CHALLENGES_LOCK: [u8; 4] = *b"CbCh";

/// Which capped table [`insert_capped`] writes.
#[derive(Clone, Copy)]
enum Capped {
    Sessions,
    Challenges,
}

impl Capped {
    /// (table, key column, lock class, what)
    fn parts(self) -> (&'static str, &'static str, [u8; 4], &'static str) {
        match self {
            Capped::Sessions => ("sessions", "digest", SESSIONS_LOCK, "the session"),
            Capped::Challenges => ("challenges", "id", CHALLENGES_LOCK, "the challenge"),
        }
    }
}

/// Inserts a row of `member` into a capped table, first deleting the member's expired rows
/// and then their oldest (soonest to expire) until fewer than `cap` are left, all under the
/// member's advisory lock: replicas inserting for one member at once cannot pass the cap
/// together. Returns how many live rows were ended to make room.
#[allow(clippy::too_many_arguments)]
async fn insert_capped<K>(
    pool: &sqlx::PgPool,
    which: Capped,
    key: K,
    member: &[u8],
    sealed: &[u8],
    expires_at: DateTime<Utc>,
    cap: u32,
    now: DateTime<Utc>,
) -> Result<u64, DbError>
where
    K: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
{
    let (table, column, class, what) = which.parts();
    if cap == 0 {
        return Err(DbError::Invalid { what: "a cap of zero" });
    }
    let mut tx = pool.begin().await.map_err(|e| running(e, what))?;
    let (class, lock) = member_lock(class, member);
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)").bind(class).bind(lock).execute(&mut *tx).await.map_err(|e| running(e, what))?;
    sqlx::query(&format!("DELETE FROM {table} WHERE member = $1 AND expires_at <= $2"))
        .bind(member)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| running(e, what))?;
    // Keep the member's newest cap - 1; this one makes cap.
    let ended = sqlx::query(&format!(
        "DELETE FROM {table} WHERE {column} IN
           (SELECT {column} FROM {table} WHERE member = $1 ORDER BY expires_at DESC, {column} OFFSET $2)"
    ))
    .bind(member)
    .bind(i64::from(cap) - 1)
    .execute(&mut *tx)
    .await
    .map_err(|e| running(e, what))?
    .rows_affected();
    sqlx::query(&format!("INSERT INTO {table} ({column}, sealed, expires_at, member) VALUES ($1, $2, $3, $4)"))
        .bind(key)
        .bind(sealed)
        .bind(expires_at)
        .bind(member)
        .execute(&mut *tx)
        .await
        .map_err(|e| running(e, what))?;
    tx.commit().await.map_err(|e| running(e, what))?;
    Ok(ended)
}

/// A credential the agency issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The credential's serial.
    pub serial: Uuid,
    /// The sealed credential record.
    pub sealed: Vec<u8>,
    /// When it was recorded.
    pub issued_at: DateTime<Utc>,
}

/// The current signed revocation list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// How many times it was set (1 for the first); what [`Db::set_revocation`] compares.
    pub version: u64,
    /// The signed document.
    pub doc: Vec<u8>,
}

/// An invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    /// The invite's id.
    pub id: Uuid,
    /// The sealed invite record.
    pub sealed: Vec<u8>,
    /// The keyed digest of its secret, when it has one.
    pub lookup: Option<Vec<u8>>,
    /// Whether it was used (single use).
    pub used: bool,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

fn invite(r: &PgRow) -> Result<Invite, sqlx::Error> {
    Ok(Invite { id: r.try_get(0)?, sealed: r.try_get(1)?, lookup: r.try_get(2)?, used: r.try_get(3)?, created_at: r.try_get(4)? })
}

const INVITE_COLUMNS: &str = "id, sealed, lookup, used, created_at";

impl Db {
    // ---- issued credentials ----

    /// Records an issued credential. Refuses with [`DbError::Conflict`] when the serial is
    /// already recorded.
    pub async fn insert_issued(&self, serial: Uuid, sealed: &[u8]) -> Result<(), DbError> {
        sqlx::query("INSERT INTO issued (serial, sealed) VALUES ($1, $2)")
            .bind(serial)
            .bind(sealed)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the credential's serial"))?;
        Ok(())
    }

    /// Every issued credential, oldest first.
    pub async fn list_issued(&self) -> Result<Vec<Issued>, DbError> {
        let rows = sqlx::query("SELECT serial, sealed, issued_at FROM issued ORDER BY issued_at, serial")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| running(e, "issued credentials"))?;
        rows.iter()
            .map(|r| Ok(Issued { serial: r.try_get(0)?, sealed: r.try_get(1)?, issued_at: r.try_get(2)? }))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| running(e, "issued credentials"))
    }

    // ---- the revocation list ----

    /// The current revocation list, if one was ever set.
    pub async fn revocation(&self) -> Result<Option<Revocation>, DbError> {
        let row = sqlx::query("SELECT version, doc FROM revocation")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the revocation list"))?;
        row.map(|r| -> Result<Revocation, sqlx::Error> { Ok(Revocation { version: to_u64(r.try_get(0)?), doc: r.try_get(1)? }) })
            .transpose()
            .map_err(|e| running(e, "the revocation list"))
    }

    /// Replaces the revocation list with `doc` if its version is still `expected_version`
    /// (0: none was set yet) and returns the new version. Refuses with
    /// [`DbError::Conflict`] when another replica set it meanwhile: read it again, merge,
    /// retry.
    pub async fn set_revocation(&self, expected_version: u64, doc: &[u8]) -> Result<u64, DbError> {
        const WHAT: &str = "the revocation list";
        let expected = super::to_i64(expected_version, "a revocation list version beyond 2^63")?;
        let changed = if expected == 0 {
            sqlx::query("INSERT INTO revocation (version, doc) VALUES (1, $1) ON CONFLICT DO NOTHING").bind(doc).execute(&self.pool).await
        } else {
            sqlx::query("UPDATE revocation SET version = version + 1, doc = $2 WHERE version = $1")
                .bind(expected)
                .bind(doc)
                .execute(&self.pool)
                .await
        }
        .map_err(|e| running(e, WHAT))?
        .rows_affected();
        if changed == 1 {
            Ok(expected_version + 1)
        } else {
            Err(DbError::Conflict { what: WHAT })
        }
    }

    // ---- receipts ----

    /// Stores `doc` as the receipt for `bundle_id` unless one is stored already, and returns
    /// the stored one: the first receipt for a bundle wins, and every replica hands out that
    /// one.
    pub async fn insert_receipt(&self, bundle_id: Uuid, doc: &[u8]) -> Result<Vec<u8>, DbError> {
        let mut conn = self.pool.acquire().await.map_err(|e| running(e, "the receipt"))?;
        insert_receipt(&mut conn, bundle_id, doc).await
    }

    /// The receipt for `bundle_id`.
    pub async fn receipt(&self, bundle_id: Uuid) -> Result<Option<Vec<u8>>, DbError> {
        sqlx::query_scalar("SELECT doc FROM receipts WHERE bundle_id = $1")
            .bind(bundle_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the receipt"))
    }

    // ---- invites ----

    /// Records an invite. Refuses with [`DbError::Conflict`] when its id or lookup digest is
    /// already recorded.
    pub async fn insert_invite(&self, id: Uuid, sealed: &[u8], lookup: Option<&[u8]>) -> Result<(), DbError> {
        sqlx::query("INSERT INTO invites (id, sealed, lookup) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(sealed)
            .bind(lookup)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the invite's id or secret"))?;
        Ok(())
    }

    /// Every invite, oldest first.
    pub async fn list_invites(&self) -> Result<Vec<Invite>, DbError> {
        let rows = sqlx::query(&format!("SELECT {INVITE_COLUMNS} FROM invites ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| running(e, "invites"))?;
        rows.iter().map(invite).collect::<Result<_, _>>().map_err(|e| running(e, "invites"))
    }

    /// The invite whose secret has the keyed digest `lookup`.
    pub async fn find_invite(&self, lookup: &[u8]) -> Result<Option<Invite>, DbError> {
        let row = sqlx::query(&format!("SELECT {INVITE_COLUMNS} FROM invites WHERE lookup = $1"))
            .bind(lookup)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the invite"))?;
        row.as_ref().map(invite).transpose().map_err(|e| running(e, "the invite"))
    }

    /// The invite with id `id`.
    pub async fn invite(&self, id: Uuid) -> Result<Option<Invite>, DbError> {
        let row = sqlx::query(&format!("SELECT {INVITE_COLUMNS} FROM invites WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the invite"))?;
        row.as_ref().map(invite).transpose().map_err(|e| running(e, "the invite"))
    }

    /// Marks the invite used, atomically: of two replicas enrolling with the same invite at
    /// once exactly one succeeds; the other gets [`DbError::Conflict`]. An unknown id is
    /// [`DbError::NotFound`].
    pub async fn mark_invite_used(&self, id: Uuid) -> Result<(), DbError> {
        let n = sqlx::query("UPDATE invites SET used = true WHERE id = $1 AND NOT used")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the invite"))?
            .rows_affected();
        if n == 1 {
            return Ok(());
        }
        match self.invite(id).await? {
            Some(_) => Err(DbError::Conflict { what: "the invite" }),
            None => Err(DbError::NotFound { what: "invite" }),
        }
    }

    /// Deletes an invite (withdrawn or expired); whether it existed.
    pub async fn delete_invite(&self, id: Uuid) -> Result<bool, DbError> {
        let n = sqlx::query("DELETE FROM invites WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the invite"))?
            .rows_affected();
        Ok(n == 1)
    }

    // ---- sessions ----

    /// Records a session under `digest` (the SHA-256 of its token), valid until
    /// `expires_at`. Refuses with [`DbError::Conflict`] when the digest is taken.
    pub async fn insert_session(&self, digest: &[u8], sealed: &[u8], expires_at: DateTime<Utc>) -> Result<(), DbError> {
        sqlx::query("INSERT INTO sessions (digest, sealed, expires_at) VALUES ($1, $2, $3)")
            .bind(digest)
            .bind(sealed)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the session"))?;
        Ok(())
    }

    /// [`Db::insert_session`] for `member` (the agency's keyed digest of the member), who may
    /// hold at most `cap` sessions across the cluster: their expired sessions go, then their
    /// oldest until this one makes `cap`. Returns how many live sessions were ended.
    pub async fn insert_session_capped(
        &self,
        digest: &[u8],
        member: &[u8],
        sealed: &[u8],
        expires_at: DateTime<Utc>,
        cap: u32,
        now: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        insert_capped(&self.pool, Capped::Sessions, digest, member, sealed, expires_at, cap, now).await
    }

    /// The session under `digest`, unless it expired at `now` (an expired one is as good as
    /// absent, whether or not it was cleaned up yet).
    pub async fn session(&self, digest: &[u8], now: DateTime<Utc>) -> Result<Option<Vec<u8>>, DbError> {
        sqlx::query_scalar("SELECT sealed FROM sessions WHERE digest = $1 AND expires_at > $2")
            .bind(digest)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the session"))
    }

    /// Sessions held (expired ones included until [`Db::delete_expired_sessions`]).
    pub async fn session_count(&self) -> Result<u64, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&self.pool).await.map_err(|e| running(e, "sessions"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Ends the session under `digest`; whether there was one.
    pub async fn delete_session(&self, digest: &[u8]) -> Result<bool, DbError> {
        let n = sqlx::query("DELETE FROM sessions WHERE digest = $1")
            .bind(digest)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the session"))?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes every session expired at `now`; how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, DbError> {
        let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "sessions"))?
            .rows_affected();
        Ok(n)
    }

    // ---- challenges ----

    /// Records a login challenge valid until `expires_at`. Refuses with
    /// [`DbError::Conflict`] when the id is taken.
    pub async fn insert_challenge(&self, id: Uuid, sealed: &[u8], expires_at: DateTime<Utc>) -> Result<(), DbError> {
        sqlx::query("INSERT INTO challenges (id, sealed, expires_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(sealed)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the challenge"))?;
        Ok(())
    }

    /// [`Db::insert_challenge`] for `member` (the agency's keyed digest of the member), who
    /// may have at most `cap` challenges open across the cluster: their expired ones go, then
    /// their oldest until this one makes `cap`. Returns how many live challenges were ended.
    pub async fn insert_challenge_capped(
        &self,
        id: Uuid,
        member: &[u8],
        sealed: &[u8],
        expires_at: DateTime<Utc>,
        cap: u32,
        now: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        insert_capped(&self.pool, Capped::Challenges, id, member, sealed, expires_at, cap, now).await
    }

    /// Takes the challenge `id`: deletes it and returns it unless it expired at `now`.
    /// Exactly one taker across the cluster gets it; an expired one is deleted all the same.
    pub async fn take_challenge(&self, id: Uuid, now: DateTime<Utc>) -> Result<Option<Vec<u8>>, DbError> {
        let row = sqlx::query("DELETE FROM challenges WHERE id = $1 RETURNING sealed, expires_at > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the challenge"))?;
        let Some(row) = row else { return Ok(None) };
        let live: bool = row.try_get(1).map_err(|e| running(e, "the challenge"))?;
        if live {
            Ok(Some(row.try_get(0).map_err(|e| running(e, "the challenge"))?))
        } else {
            Ok(None)
        }
    }

    /// Deletes every challenge expired at `now`; how many.
    pub async fn delete_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64, DbError> {
        let n = sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "challenges"))?
            .rows_affected();
        Ok(n)
    }
}

impl JournalLock {
    /// [`Db::insert_receipt`] inside the journal's transaction: the receipt is stored if and
    /// only if the appends commit.
    pub async fn insert_receipt(&mut self, bundle_id: Uuid, doc: &[u8]) -> Result<Vec<u8>, DbError> {
        insert_receipt(&mut self.tx, bundle_id, doc).await
    }
}

async fn insert_receipt(conn: &mut sqlx::PgConnection, bundle_id: Uuid, doc: &[u8]) -> Result<Vec<u8>, DbError> {
    const WHAT: &str = "the receipt";
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same bundle to commit or
    // roll back; the SELECT after it (a new snapshot) then sees the winner.
    let ours: Option<Vec<u8>> =
        sqlx::query_scalar("INSERT INTO receipts (bundle_id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING doc")
            .bind(bundle_id)
            .bind(doc)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| running(e, WHAT))?;
    if let Some(doc) = ours {
        return Ok(doc);
    }
    let theirs: Option<Vec<u8>> = sqlx::query_scalar("SELECT doc FROM receipts WHERE bundle_id = $1")
        .bind(bundle_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| running(e, WHAT))?;
    theirs.ok_or(DbError::Conflict { what: WHAT })
}
