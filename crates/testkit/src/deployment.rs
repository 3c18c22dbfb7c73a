//! The deployment a suite's agencies run as, chosen for the whole test process by
//! `CASEBRIDGE_TEST_DEPLOYMENT`: `embedded` (the default: an agency directory) or `cluster`
//! (a cluster agency: its own fresh PostgreSQL database and S3 bucket from [`crate::services`]
//! per agency, made by `casebridge_agency::deployment::init_cluster` as `agency init
//! --database --objects` makes it). `scripts/test` runs the endpoint's suites once per
//! deployment, so every test in them is a test of both.
//!
//! What a test reads or changes of an agency goes through the helpers here
//! ([`new_agency`], [`open_agency`]), which take the deployment's own way (files, or the
//! database), never through the agency directory's files directly.

use std::path::Path;

use casebridge_agency::deployment::{ClusterConfig, S3Config};
use casebridge_core::{KdfParams, Passphrase};
use casebridge_trust::Agency;

use crate::fixtures::AGENCY_PASS;
use crate::services;

/// The environment variable that picks the deployment for a test process.
pub const DEPLOYMENT_ENV: &str = "CASEBRIDGE_TEST_DEPLOYMENT";

/// How the agencies of this test process are deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// An agency directory (`agency init`).
    Embedded,
    /// A cluster agency (`agency init --database --objects`).
    Cluster,
}

impl Deployment {
    /// The deployment `CASEBRIDGE_TEST_DEPLOYMENT` names (unset: embedded); any other value
    /// fails the test with what is accepted.
    pub fn current() -> Deployment {
        match std::env::var(DEPLOYMENT_ENV).as_deref() {
            Err(_) | Ok("") | Ok("embedded") => Deployment::Embedded,
            Ok("cluster") => Deployment::Cluster,
            Ok(other) => panic!("{DEPLOYMENT_ENV}={other}: use `embedded` or `cluster`"),
        }
    }

    /// Whether this is the cluster deployment.
    pub fn is_cluster(self) -> bool {
        self == Deployment::Cluster
    }
}

/// The test S3 server's settings, given to a cluster agency in code (the in-process
/// endpoint and `init_cluster` never read the test process's environment).
pub fn s3_config() -> S3Config {
    let s = services::services();
    S3Config::new(Some(s.s3_endpoint.clone()), s.s3_access_key.clone(), s.s3_secret_key.clone(), None)
}

/// Whether the agency at `dir` is a cluster agency.
pub fn is_cluster_agency(dir: &Path) -> bool {
    dir.join(casebridge_agency::deployment::CLUSTER_FILE).exists()
}

/// A new agency at `dir` named `name`, sealed with [`AGENCY_PASS`] and the cheap test KDF,
/// deployed as [`Deployment::current`] says.
pub fn new_agency(dir: &Path, name: &str) -> Agency {
    match Deployment::current() {
        Deployment::Embedded => crate::fixtures::new_agency(dir, name),
        Deployment::Cluster => new_cluster_agency(dir, name),
    }
}

/// A new cluster agency at `dir` on a fresh database and a fresh bucket (prefix `agency`).
pub fn new_cluster_agency(dir: &Path, name: &str) -> Agency {
    let bucket = services::fresh_bucket();
    services::create_bucket(&bucket);
    let config = ClusterConfig { database: services::fresh_database(), objects: format!("s3://{bucket}/agency"), s3: Some(s3_config()) };
    let (agency, _) =
        casebridge_agency::deployment::init_cluster(dir, name, &Passphrase::new(AGENCY_PASS), KdfParams::INSECURE_FOR_TESTS, &config)
            .unwrap_or_else(|e| panic!("creating the cluster agency at {}: {e}", dir.display()));
    agency
}

/// The agency at `dir`, unlocked with [`AGENCY_PASS`] for what an admin command does
/// (whichever its deployment: a cluster agency's records come from its database, and a
/// replica may be serving meanwhile).
pub fn open_agency(dir: &Path) -> Agency {
    casebridge_agency::deployment::open_agency(dir, &Passphrase::new(AGENCY_PASS))
        .unwrap_or_else(|e| panic!("opening the agency at {}: {e}", dir.display()))
}

/// The agency's own case store at `dir` (no endpoint serving it): the embedded `store/`, or
/// a cluster agency's local copy, caught up from its database.
pub fn open_store(dir: &Path) -> casebridge_core::Store {
    let s3 = is_cluster_agency(dir).then(s3_config);
    casebridge_agency::deployment::open_store(dir, &Passphrase::new(AGENCY_PASS), s3)
        .unwrap_or_else(|e| panic!("opening the agency store at {}: {e}", dir.display()))
}

/// Every byte the agency at `dir` keeps, as (where, bytes): each file under `dir`, and for a
/// cluster agency its database (a `pg_dump` of it) and every object in its bucket. What a
/// thief with the disk or an operator with the database and bucket sees.
pub fn stored_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> =
        files_under(dir).into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    if let Some(config) = casebridge_agency::deployment::ClusterConfig::load(dir).unwrap() {
        out.push((
            format!("database {}", config.database.rsplit('/').next().unwrap_or("")),
            services::database_dump(&config.database).into_bytes(),
        ));
        let (bucket, prefix) = bucket_of(dir).unwrap();
        for (key, bytes) in services::bucket_objects(&bucket, &prefix) {
            out.push((format!("s3://{bucket}/{key}"), bytes));
        }
    }
    out
}

/// A cluster agency's bucket and prefix (`None` for an embedded agency).
pub fn bucket_of(dir: &Path) -> Option<(String, String)> {
    let config = casebridge_agency::deployment::ClusterConfig::load(dir).unwrap()?;
    Some(casebridge_agency::deployment::parse_objects(&config.objects).unwrap())
}

/// `prefix/rest` in a bucket (`rest` without a prefix).
fn key(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// The names of the sealed content objects the agency at `dir` keeps: the files under the
/// embedded store's `objects/`, or a cluster agency's keys under `objects/` in its bucket.
pub fn object_names(dir: &Path) -> Vec<String> {
    match bucket_of(dir) {
        Some((bucket, prefix)) => services::bucket_keys(&bucket, &key(&prefix, "objects/")),
        None => files_under(&dir.join(casebridge_agency::STORE_DIR).join(casebridge_core::OBJECTS_DIR))
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    }
}

/// Whether the agency at `dir` keeps received bytes of `upload`: the embedded
/// `uploads/ID.part`, or a cluster agency's parts under `uploads/ID/` in its bucket.
pub fn upload_bytes_kept(dir: &Path, upload: uuid::Uuid) -> bool {
    match bucket_of(dir) {
        Some((bucket, prefix)) => !services::bucket_keys(&bucket, &key(&prefix, &format!("uploads/{}/", upload.simple()))).is_empty(),
        None => dir.join(casebridge_agency::UPLOADS_DIR).join(format!("{upload}.part")).exists(),
    }
}

/// How many uploads' received bytes the agency at `dir` keeps: `uploads/*.part` files, or
/// the uploads with parts in a cluster agency's bucket.
pub fn uploads_with_bytes(dir: &Path) -> usize {
    match bucket_of(dir) {
        Some((bucket, prefix)) => {
            let keys = services::bucket_keys(&bucket, &key(&prefix, "uploads/"));
            let uploads: std::collections::BTreeSet<String> =
                keys.iter().filter_map(|k| k.rsplit('/').nth(1).map(str::to_string)).collect();
            uploads.len()
        }
        None => std::fs::read_dir(dir.join(casebridge_agency::UPLOADS_DIR))
            .map(|rd| rd.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "part")).count())
            .unwrap_or(0),
    }
}

/// Whether the agency at `dir` keeps a state record for `upload` (a file, or a row of a
/// cluster agency's records), read through the deployment's record store.
pub fn upload_state_kept(dir: &Path, upload: uuid::Uuid) -> bool {
    let records = casebridge_agency::deployment::records(dir).unwrap();
    records.read(&format!("{}/{upload}.state", casebridge_agency::UPLOADS_DIR)).unwrap().is_some()
}

/// Every regular file under `dir` (none when `dir` does not exist).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(files_under(&entry.path()));
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    out
}
