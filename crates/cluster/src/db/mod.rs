//! The cluster agency's PostgreSQL layer: one [`Db`] (a small connection pool) shared by a
//! replica's tasks, and one database shared by every replica.
//!
//! # What the database holds
//! Only what the embedded agency keeps on its disk or in memory, and only sealed: the agency
//! seals every record (age to the agency key, or AEAD) before handing it here, and this layer
//! stores the bytes as given and never logs them. Lookups go by keyed digests the agency
//! computes (an invite's lookup, a session token's SHA-256, a limit key), never by a secret,
//! a name or an address. Finding a row by such a digest is done by the database's index; the
//! digest being keyed (or a hash of a high-entropy token) is what makes the timing of that
//! lookup worthless to an attacker, as a constant-time comparison would.
//!
//! The tables (migrations/0001_cluster.sql): `agency` (one row), `journal` (records 0.. with
//! no gaps), `issued`, `revocation` (one row, compare-and-swap), `receipts` (first wins),
//! `invites` (single use, atomically), `sessions`, `challenges` (taken once), `failures`,
//! `lockouts` and `buckets` (cluster-wide limits), `uploads` (compare-and-swap on progress,
//! per-member quotas checked and counted in one step). Migration 0200 gives `sessions` and
//! `challenges` a keyed member digest, so the per-member caps hold across replicas.
//!
//! # Flow
//! ```no_run
//! # async fn demo() -> Result<(), casebridge_cluster::db::DbError> {
//! use casebridge_cluster::db::Db;
//! let db = Db::open("postgres://casebridge:PASSWORD@db.example:5432/casebridge").await?;
//! let mut lock = db.lock_journal().await?; // serialised across every replica
//! let next = lock.next_seq().await?;
//! lock.append(next, &[b"sealed record".to_vec()]).await?;
//! lock.commit().await?;
//! # Ok(()) }
//! ```
//!
//! # Time
//! Everything that expires takes the caller's `now` (the endpoint's injectable clock), so
//! tests expire sessions and lift limits without waiting; replicas' clocks are assumed to be
//! kept (NTP) to within a second or two, which is what every expiry here tolerates.
//!
//! # Not here
//! The object store (`objects`), sealing and opening records, and what the records mean: the
//! agency (crates/agency) does those.

mod error;
mod journal;
mod limits;
mod records;
mod uploads;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Row};
use uuid::Uuid;

pub use error::{redacted, DbError};
pub use journal::{JournalLock, JOURNAL_IDLE_LIMIT, JOURNAL_LOCK, JOURNAL_LOCK_WAIT};
pub use records::{Invite, Issued, Revocation};
pub use uploads::{Begun, Quota, Upload, UploadClaim, Usage};

use error::running;

/// The migrations this build knows, embedded from crates/cluster/migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many connections a replica's pool holds by default: the endpoint's requests are short
/// and the journal lock is held by one of them at a time.
pub const DEFAULT_POOL: u32 = 8;

/// How long a first connection may take before the database counts as unreachable, and how
/// long a request waits for a pooled connection before the endpoint answers 503.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The agency this database belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyRow {
    /// The agency's id.
    pub id: Uuid,
    /// The fingerprint of the agency's root key (what a replica's directory must match).
    pub root_fingerprint: String,
    /// When the cluster agency was created.
    pub created_at: DateTime<Utc>,
    /// The endpoint store's sealed header, shared by the replicas.
    pub header: Vec<u8>,
}

/// A connection pool to the cluster's database. Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's options hold the password: show nothing of them.
        f.debug_struct("Db").field("connections", &self.pool.size()).finish_non_exhaustive()
    }
}

impl Db {
    /// Connects with a pool of [`DEFAULT_POOL`] connections, without migrating.
    ///
    /// One connection is made first, on its own, so that a wrong address, user, password or
    /// database name is reported as such ([`DbError::Unreachable`], [`DbError::Auth`],
    /// [`DbError::NoDatabase`]) at once, instead of as a pool timeout.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        Db::connect_with(url, DEFAULT_POOL).await
    }

    /// [`Db::connect`] with a pool of `max_connections` (at least 1).
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Db, DbError> {
        let opts = PgConnectOptions::from_str(url).map_err(|_| DbError::BadUrl { url: redacted(url) })?;
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(&opts))
            .await
            .map_err(|_| DbError::Unreachable { host_port: format!("{}:{}", opts.get_host(), opts.get_port()) })?
            .map_err(|e| error::connecting(e, &opts))?;
        // Closing the probe is a courtesy; a failure to say goodbye changes nothing.
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(CONNECT_TIMEOUT)
            .test_before_acquire(true)
            .connect_lazy_with(opts);
        Ok(Db { pool })
    }

    /// The pool (for the agency's records, `crate::records`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// [`Db::connect`], then [`Db::migrate`]: what a replica does at start.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations this build has and the database lacks (each in its own
    /// transaction; replicas starting at once are serialised by sqlx's advisory lock).
    /// Refuses with [`DbError::NewerSchema`], changing nothing, when the database holds a
    /// migration this build does not know: a newer replica migrated it.
    pub async fn migrate(&self) -> Result<(), DbError> {
        if let Some(version) = self.unknown_migration().await? {
            return Err(DbError::NewerSchema { version });
        }
        match MIGRATOR.run(&self.pool).await {
            Ok(()) => Ok(()),
            // A newer replica migrated between our check and our run.
            Err(sqlx::migrate::MigrateError::VersionMissing(version)) => Err(DbError::NewerSchema { version }),
            Err(sqlx::migrate::MigrateError::Execute(e)) => Err(running(e, "migrating")),
            Err(e) => Err(DbError::Other(e.to_string())),
        }
    }

    /// The newest migration the database holds that this build does not know.
    async fn unknown_migration(&self) -> Result<Option<i64>, DbError> {
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| running(e, "migrating"))?;
        if exists.is_none() {
            return Ok(None);
        }
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| running(e, "migrating"))?;
        Ok(applied.into_iter().filter(|v| !MIGRATOR.iter().any(|m| m.version == *v)).max())
    }

    /// The newest migration this build knows (what `agency show` can print).
    pub fn schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Closes the pool: waits for connections in use to come back, then closes them all.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records the agency this database belongs to. Refuses with
    /// [`DbError::AlreadyInitialised`] when it already holds one (even the same one), so an
    /// `agency init` or `agency migrate` never lands on another agency's state.
    pub async fn init_agency(&self, id: Uuid, root_fingerprint: &str, header: &[u8]) -> Result<(), DbError> {
        let inserted = sqlx::query("INSERT INTO agency (id, root_fingerprint, header) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(root_fingerprint)
            .bind(header)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the agency"))?
            .rows_affected();
        if inserted == 1 {
            return Ok(());
        }
        match self.agency().await? {
            Some(existing) => Err(DbError::AlreadyInitialised { agency: existing.id }),
            None => Err(DbError::Conflict { what: "the agency" }),
        }
    }

    /// The agency this database belongs to, if any.
    pub async fn agency(&self) -> Result<Option<AgencyRow>, DbError> {
        let row = sqlx::query("SELECT id, root_fingerprint, created_at, header FROM agency")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| running(e, "the agency"))?;
        row.map(|r| -> Result<AgencyRow, sqlx::Error> {
            Ok(AgencyRow { id: r.try_get(0)?, root_fingerprint: r.try_get(1)?, created_at: r.try_get(2)?, header: r.try_get(3)? })
        })
        .transpose()
        .map_err(|e| running(e, "the agency"))
    }

    /// Replaces the shared sealed header. Refuses with [`DbError::NotFound`] before
    /// [`Db::init_agency`].
    pub async fn set_agency_header(&self, header: &[u8]) -> Result<(), DbError> {
        let n = sqlx::query("UPDATE agency SET header = $1")
            .bind(header)
            .execute(&self.pool)
            .await
            .map_err(|e| running(e, "the agency"))?
            .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(DbError::NotFound { what: "agency" })
        }
    }
}

/// A count or offset as PostgreSQL's `bigint`, refusing what does not fit.
fn to_i64(n: u64, what: &'static str) -> Result<i64, DbError> {
    i64::try_from(n).map_err(|_| DbError::Invalid { what })
}

/// A transaction-scoped advisory lock key for one member: `class` names what is counted (a
/// four-letter tag), the member digest's first four bytes the member. Two members sharing
/// those bytes only wait for each other; PostgreSQL keeps these two-part keys apart from the
/// one-part [`JOURNAL_LOCK`].
fn member_lock(class: [u8; 4], member: &[u8]) -> (i32, i32) {
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(member) {
        *d = *s;
    }
    (i32::from_be_bytes(class), i32::from_be_bytes(b))
}

/// A `bigint` the schema keeps non-negative, as a count.
fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
