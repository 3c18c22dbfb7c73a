//! The agency's small records in PostgreSQL: [`ClusterRecords`] implements
//! casebridge-trust's [`RecordStore`] over the `agency_records` table, so every replica sees
//! the same issued credentials, revocation list, receipts, invites and upload states.
//! `create` and `replace` are single statements (insert-if-absent, compare-and-swap), which
//! is what makes them safe across replicas.
//!
//! `RecordStore` is synchronous (the agency calls it from blocking threads and the command
//! line): each call runs on the runtime whose handle it was given.

use casebridge_trust::records::check_name;
use casebridge_trust::{Reason, RecordStore, TrustError};
use sqlx::postgres::PgPool;
use sqlx::Row;

/// The records of a cluster agency.
pub struct ClusterRecords {
    pool: PgPool,
    rt: tokio::runtime::Handle,
}

fn db_error(what: &str, name: &str) -> impl FnOnce(sqlx::Error) -> TrustError {
    let what = format!("{what} {name}");
    move |e| TrustError::new(Reason::Unavailable, format!("{what} in the cluster database: {}", crate::describe_sqlx(&e)))
}

impl ClusterRecords {
    /// The records in the database `pool` reaches; calls run on `rt`.
    pub fn new(pool: PgPool, rt: tokio::runtime::Handle) -> ClusterRecords {
        ClusterRecords { pool, rt }
    }

    fn run<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        crate::block_on(&self.rt, f)
    }
}

impl RecordStore for ClusterRecords {
    fn read(&self, name: &str) -> casebridge_trust::Result<Option<Vec<u8>>> {
        check_name(name)?;
        self.run(async {
            let row = sqlx::query("SELECT value FROM agency_records WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("reading", name))?;
            Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
        })
    }

    fn write(&self, name: &str, bytes: &[u8]) -> casebridge_trust::Result<()> {
        check_name(name)?;
        self.run(async {
            sqlx::query(
                "INSERT INTO agency_records (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            )
            .bind(name)
            .bind(bytes)
            .execute(&self.pool)
            .await
            .map_err(db_error("writing", name))?;
            Ok(())
        })
    }

    fn create(&self, name: &str, bytes: &[u8]) -> casebridge_trust::Result<bool> {
        check_name(name)?;
        self.run(async {
            let done = sqlx::query("INSERT INTO agency_records (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(bytes)
                .execute(&self.pool)
                .await
                .map_err(db_error("writing", name))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn replace(&self, name: &str, expected: &[u8], bytes: &[u8]) -> casebridge_trust::Result<bool> {
        check_name(name)?;
        self.run(async {
            let done = sqlx::query("UPDATE agency_records SET value = $3, updated_at = now() WHERE name = $1 AND value = $2")
                .bind(name)
                .bind(expected)
                .bind(bytes)
                .execute(&self.pool)
                .await
                .map_err(db_error("writing", name))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn remove(&self, name: &str) -> casebridge_trust::Result<()> {
        check_name(name)?;
        self.run(async {
            sqlx::query("DELETE FROM agency_records WHERE name = $1")
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(db_error("removing", name))?;
            Ok(())
        })
    }

    fn list(&self, folder: &str) -> casebridge_trust::Result<Vec<String>> {
        check_name(folder)?;
        let prefix = format!("{folder}/");
        self.run(async {
            // Names under the folder, not in folders below it. The prefix's LIKE wildcards are
            // escaped (record names never hold them, but the query stays exact if one did).
            let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let rows = sqlx::query("SELECT name FROM agency_records WHERE name LIKE $1")
                .bind(&pattern)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("listing", folder))?;
            Ok(rows
                .into_iter()
                .filter_map(|r| r.get::<String, _>(0).strip_prefix(&prefix).map(str::to_string))
                .filter(|n| !n.contains('/'))
                .collect())
        })
    }
}
