//! The two deployments of one endpoint (docs/DEPLOY.md):
//!
//! - **embedded** (the default): everything in the agency directory, one `agency serve`;
//! - **cluster**: the agency directory holds the keys, the TLS certificate and `cluster.json`
//!   naming a PostgreSQL database and an S3 bucket (`s3://BUCKET[/PREFIX]`); any number of
//!   `agency serve` replicas, each with a copy of the directory, share the database (the
//!   agency journal, its records, sessions, limits, upload states) and the bucket (sealed
//!   objects, upload parts). Each replica keeps a local copy of the agency store, derived
//!   from the journal in the database ([`crate::follower`]); losing it loses nothing.
//!
//! `CASEBRIDGE_DATABASE_URL` overrides the URL in `cluster.json` (so a password need not be
//! in the file); the object store takes the standard `AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use casebridge_cluster::db::Db;
use casebridge_cluster::records::ClusterRecords;
use casebridge_core::ObjectBackend;
use serde::{Deserialize, Serialize};

use crate::error::{AgencyError, Result};

/// The cluster configuration inside a cluster agency's directory.
pub const CLUSTER_FILE: &str = "cluster.json";
/// The environment variable that gives (or overrides) the database URL.
pub const DATABASE_URL_ENV: &str = "CASEBRIDGE_DATABASE_URL";
/// The local copy of the agency store inside a replica's agency directory.
pub const REPLICA_DIR: &str = "replica";

/// What `cluster.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE` (the password may come from
    /// `CASEBRIDGE_DATABASE_URL` instead).
    pub database: String,
    /// `s3://BUCKET[/PREFIX]`.
    pub objects: String,
}

impl ClusterConfig {
    /// The configuration of the agency in `dir`: `None` for an embedded agency.
    pub fn load(dir: &Path) -> Result<Option<ClusterConfig>> {
        let path = dir.join(CLUSTER_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AgencyError::io("reading", &path)(e)),
        };
        let config: ClusterConfig =
            serde_json::from_slice(&bytes).map_err(|e| AgencyError::Invalid(format!("{}: {e}", path.display())))?;
        parse_objects(&config.objects)?;
        Ok(Some(config))
    }

    /// Writes `cluster.json` (owner-only: the URL may hold a password).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| AgencyError::Internal(e.to_string()))?;
        crate::fsutil::write_atomic(&dir.join(CLUSTER_FILE), &bytes)
    }

    /// The database URL to connect with: `CASEBRIDGE_DATABASE_URL` when set, else the file's.
    pub fn database_url(&self) -> String {
        std::env::var(DATABASE_URL_ENV).ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| self.database.clone())
    }
}

/// `s3://BUCKET[/PREFIX]` → (bucket, prefix without slashes at either end).
pub fn parse_objects(location: &str) -> Result<(String, String)> {
    let bad = || AgencyError::Invalid(format!("the object store {location:?} is not s3://BUCKET or s3://BUCKET/PREFIX"));
    let rest = location.trim().strip_prefix("s3://").ok_or_else(bad)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !valid_bucket {
        return Err(bad());
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
        return Err(bad());
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// A cluster agency's shared state, connected.
pub struct Cluster {
    /// The database.
    pub db: Db,
    /// The agency's records in it.
    pub records: Arc<ClusterRecords>,
    /// The bucket.
    pub objects: Arc<dyn ObjectBackend>,
    /// The runtime the synchronous calls (records, objects) run on.
    pub rt: tokio::runtime::Handle,
    /// This replica's local copy of the agency store.
    pub replica_dir: PathBuf,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("replica_dir", &self.replica_dir).finish_non_exhaustive()
    }
}

/// A database failure as the agency's error (the message never holds the password).
pub fn db_error(e: casebridge_cluster::db::DbError) -> AgencyError {
    AgencyError::Unavailable(e.to_string())
}

impl Cluster {
    /// Connects to the database (migrating it) and the bucket of `config`, on `rt`, and
    /// checks both: a wrong URL, password, bucket or key refuses here with its own message.
    pub fn connect(dir: &Path, config: &ClusterConfig, rt: &tokio::runtime::Handle) -> Result<Cluster> {
        let db = block_on(rt, Db::open(&config.database_url())).map_err(db_error)?;
        let objects = crate::objects::open(&config.objects, rt)?;
        let records = Arc::new(ClusterRecords::new(db.pool().clone(), rt.clone()));
        Ok(Cluster { db, records, objects, rt: rt.clone(), replica_dir: dir.join(REPLICA_DIR) })
    }

    /// Runs `f` on the cluster's runtime from synchronous code.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        block_on(&self.rt, f)
    }
}

/// Runs `f` on `rt` from synchronous code: a plain thread, a blocking-pool thread, or a worker
/// of a multi-thread runtime (which is let block meanwhile).
pub fn block_on<F: std::future::Future>(rt: &tokio::runtime::Handle, f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| rt.block_on(f)),
        _ => rt.block_on(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_locations_are_checked() {
        assert_eq!(parse_objects("s3://evidence").unwrap(), ("evidence".into(), String::new()));
        assert_eq!(parse_objects("s3://evidence-1/agency/a/").unwrap(), ("evidence-1".into(), "agency/a".into()));
        for bad in ["evidence", "s3://", "s3://Ev", "s3://ab", "s3://-abc", "s3://abc/../x", "https://abc", "s3://abc//x"] {
            assert!(parse_objects(bad).is_err(), "{bad} is refused");
        }
    }
}
