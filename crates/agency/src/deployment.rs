//! The two deployments of one endpoint (docs/DEPLOY.md):
//!
//! - **embedded** (the default): everything in the agency directory, one `agency serve`;
//! - **cluster**: the agency directory holds the keys, the TLS certificate and `cluster.json`
//!   naming a PostgreSQL database and an S3 bucket (`s3://BUCKET[/PREFIX]`); any number of
//!   `agency serve` replicas, each with a copy of the directory, share the database (the
//!   agency journal, its records, sessions, limits, upload states) and the bucket (sealed
//!   objects, upload parts). Each replica keeps a local copy of the agency store, derived
//!   from the journal in the database (the private `follower` module); losing it loses nothing.
//!
//! `CASEBRIDGE_DATABASE_URL` overrides the URL in `cluster.json` (so a password need not be
//! in the file); the object store takes the standard `AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use casebridge_cluster::db::Db;
pub use casebridge_cluster::objects::S3Config;
use casebridge_cluster::objects::S3Objects;
use casebridge_cluster::records::ClusterRecords;
use casebridge_trust::RecordStore as _;
use serde::{Deserialize, Serialize};

use crate::error::{AgencyError, Result};

/// The cluster configuration inside a cluster agency's directory.
pub const CLUSTER_FILE: &str = "cluster.json";
/// The environment variable that gives (or overrides) the database URL.
pub const DATABASE_URL_ENV: &str = "CASEBRIDGE_DATABASE_URL";
/// The local copy of the agency store inside a replica's agency directory.
pub const REPLICA_DIR: &str = "replica";

/// What `cluster.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE` (the password may come from
    /// `CASEBRIDGE_DATABASE_URL` instead).
    pub database: String,
    /// `s3://BUCKET[/PREFIX]`.
    pub objects: String,
    /// The object store's settings given in code (never written to the file): `None` reads
    /// the standard `AWS_*` environment, as a deployment does.
    #[serde(skip)]
    pub s3: Option<S3Config>,
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
        let config: ClusterConfig = serde_json::from_slice(&bytes).map_err(|e| AgencyError::Invalid(format!("{}: {e}", path.display())))?;
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

/// `s3://BUCKET[/PREFIX]` → (bucket, prefix without slashes at either end), or a refusal
/// naming what is wrong (casebridge-cluster's `S3Location` decides).
pub fn parse_objects(location: &str) -> Result<(String, String)> {
    let l: casebridge_cluster::objects::S3Location =
        location.trim().parse().map_err(|e: casebridge_cluster::objects::ObjectsError| AgencyError::Invalid(e.to_string()))?;
    Ok((l.bucket, l.prefix))
}

/// A cluster agency's shared state, connected.
pub struct Cluster {
    /// The database.
    pub db: Db,
    /// The agency's records in it.
    pub records: Arc<ClusterRecords>,
    /// The bucket (sealed objects, upload parts).
    pub objects: Arc<S3Objects>,
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

/// Connects to the database `config` names (migrating it), on `rt`.
fn open_db(config: &ClusterConfig, rt: &tokio::runtime::Handle) -> Result<Db> {
    block_on(rt, Db::open(&config.database_url())).map_err(db_error)
}

/// The bucket `config` names, checked: reachable, the keys accepted, present.
fn open_bucket(config: &ClusterConfig) -> Result<S3Objects> {
    let bucket = match &config.s3 {
        Some(s3) => S3Objects::new(&config.objects, s3),
        None => S3Objects::from_env(&config.objects),
    }
    .map_err(|e| AgencyError::Unavailable(e.to_string()))?;
    bucket.check().map_err(|e| AgencyError::Unavailable(e.to_string()))?;
    Ok(bucket)
}

/// The database `config` names, refused unless it holds no agency and no journal yet (what a
/// new cluster agency, made or migrated, starts from).
fn empty_db(config: &ClusterConfig, rt: &tokio::runtime::Handle) -> Result<Db> {
    let db = open_db(config, rt)?;
    if let Some(row) = block_on(rt, db.agency()).map_err(db_error)? {
        return Err(AgencyError::Invalid(format!(
            "the database already holds agency {}; nothing was changed (use an empty database for a new agency)",
            row.id
        )));
    }
    if block_on(rt, db.journal_len()).map_err(db_error)? != 0 {
        return Err(AgencyError::Invalid("the database already holds an agency journal; nothing was changed".into()));
    }
    Ok(db)
}

/// Refuses an agency directory that is not the agency the database holds (its id or root key
/// differs), naming both.
fn check_agency(db: &Db, rt: &tokio::runtime::Handle, agency: &casebridge_trust::Agency) -> Result<()> {
    let row = block_on(rt, db.agency()).map_err(db_error)?.ok_or_else(|| {
        AgencyError::Invalid("the cluster database holds no agency: create it with `casebridge agency init --database ...`".into())
    })?;
    let public = agency.public();
    if row.id != public.agency_id || row.root_fingerprint != public.root_fingerprint() {
        return Err(AgencyError::Invalid(format!(
            "this agency directory is agency {} (root key {}), but the cluster database holds agency {} (root key {}): \
             copy the cluster's agency directory to this machine",
            public.agency_id,
            public.root_fingerprint(),
            row.id,
            row.root_fingerprint
        )));
    }
    Ok(())
}

impl Cluster {
    /// Connects to the database (migrating it) and the bucket of `config`, on `rt`, and
    /// checks both: a wrong URL, password, bucket or key refuses here with its own message.
    pub fn connect(dir: &Path, config: &ClusterConfig, rt: &tokio::runtime::Handle) -> Result<Cluster> {
        let db = open_db(config, rt)?;
        let objects = Arc::new(open_bucket(config)?);
        let records = Arc::new(ClusterRecords::new(db.pool().clone(), rt.clone()));
        Ok(Cluster { db, records, objects, rt: rt.clone(), replica_dir: dir.join(REPLICA_DIR) })
    }

    /// Refuses a replica whose agency directory is not the agency this database holds (its
    /// id or root key differs), naming both.
    pub fn check_agency(&self, agency: &casebridge_trust::Agency) -> Result<()> {
        check_agency(&self.db, &self.rt, agency)
    }

    /// The bucket as the store's object backend.
    pub fn object_backend(&self) -> Arc<dyn casebridge_core::ObjectBackend> {
        self.objects.clone()
    }

    /// Runs `f` on the cluster's runtime from synchronous code.
    pub fn block_on<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        block_on(&self.rt, f)
    }
}

pub use casebridge_cluster::block_on;

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

/// The runtime the command line's cluster calls run on (one per process, made on first use):
/// admin commands on a cluster agency reach the database without a running endpoint.
pub(crate) fn command_runtime() -> Result<&'static tokio::runtime::Runtime> {
    // Made inside the cell's initialiser: threads that ask at once wait for one runtime (a
    // runtime made and then dropped by the loser of a race would panic on an async thread).
    static RT: std::sync::OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| AgencyError::Internal(format!("starting a runtime: {e}")))
}

/// The records of the agency in `dir`, whichever its deployment: its files, or (a cluster
/// agency) its database, connected for this command. No passphrase needed.
pub fn records(dir: &Path) -> Result<Arc<dyn casebridge_trust::RecordStore>> {
    match ClusterConfig::load(dir)? {
        None => Ok(Arc::new(casebridge_trust::LocalRecords::new(dir))),
        Some(config) => {
            let rt = command_runtime()?.handle();
            let db = open_db(&config, rt)?;
            Ok(Arc::new(ClusterRecords::new(db.pool().clone(), rt.clone())))
        }
    }
}

/// The agency's own case store in `dir`, whichever its deployment, for an offline tool (no
/// endpoint may serve an embedded agency meanwhile): the embedded agency's `store/`, or a
/// cluster agency's local copy in `replica/`, made or caught up from the database first.
/// `s3` gives the object store's settings in code (`None`: the `AWS_*` environment).
pub fn open_store(dir: &Path, passphrase: &casebridge_core::Passphrase, s3: Option<S3Config>) -> Result<casebridge_core::Store> {
    match ClusterConfig::load(dir)? {
        None => Ok(casebridge_core::Store::open(&dir.join(crate::STORE_DIR), passphrase)?),
        Some(mut config) => {
            if s3.is_some() {
                config.s3 = s3;
            }
            let cluster = Cluster::connect(dir, &config, command_runtime()?.handle())?;
            crate::follower::open(&cluster, passphrase)
        }
    }
}

/// Unlocks the agency in `dir` for an admin command, whichever its deployment: the embedded
/// agency with its directory's lock (fails while an endpoint serves it), a cluster agency
/// with its database's records (a replica may serve meanwhile: the records are shared), after
/// checking that the database holds this agency.
pub fn open_agency(dir: &Path, passphrase: &casebridge_core::Passphrase) -> Result<casebridge_trust::Agency> {
    match ClusterConfig::load(dir)? {
        None => Ok(casebridge_trust::Agency::open(dir, passphrase)?),
        Some(config) => {
            let rt = command_runtime()?.handle();
            let db = open_db(&config, rt)?;
            let records = Arc::new(ClusterRecords::new(db.pool().clone(), rt.clone()));
            let agency = casebridge_trust::Agency::open_shared(dir, passphrase, records)?;
            check_agency(&db, rt, &agency)?;
            Ok(agency)
        }
    }
}

/// Writes the agency store in `store_dir` into an empty cluster database: its journal, record
/// for record, then the agency row with the store's seed (the row last: its presence marks a
/// complete cluster). Returns the journal records written.
fn seed_database(
    db: &Db,
    rt: &tokio::runtime::Handle,
    public: &casebridge_trust::AgencyPublic,
    store: &casebridge_core::Store,
    store_dir: &Path,
) -> Result<Vec<Vec<u8>>> {
    let journal = store.raw_records(0, usize::MAX)?;
    let seed = crate::follower::seed_of(store_dir)?;
    block_on(rt, async {
        let mut lock = db.lock_journal().await?;
        lock.append(0, &journal).await?;
        lock.commit().await?;
        db.init_agency(public.agency_id, &public.root_fingerprint(), &seed).await
    })
    .map_err(db_error)?;
    Ok(journal)
}

/// What `agency init` for a cluster made.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterInit {
    /// The database, its password replaced by `***`.
    pub database: String,
    /// `s3://BUCKET[/PREFIX]`.
    pub objects: String,
    /// The agency store's journal records written to the database.
    pub journal_records: u64,
}

/// Creates a cluster agency: checks the database (reachable, migrated, holding no agency)
/// and the bucket (reachable, the keys accepted, present) before anything is written; then
/// makes the agency's keys and certificate in `dir`, moves its revocation list into the
/// database, creates the endpoint's store (its objects in the bucket, its journal in the
/// database, its local copy in `dir/replica`) and writes `cluster.json`. On a failure after
/// the checks, `dir` is removed again (the database keeps nothing: the agency row and the
/// journal are written last, in one transaction's reach).
pub fn init_cluster(
    dir: &Path,
    name: &str,
    passphrase: &casebridge_core::Passphrase,
    kdf: casebridge_core::KdfParams,
    config: &ClusterConfig,
) -> Result<(casebridge_trust::Agency, ClusterInit)> {
    parse_objects(&config.objects)?;
    let rt = command_runtime()?.handle();
    let db = empty_db(config, rt)?;
    let objects: Arc<dyn casebridge_core::ObjectBackend> = Arc::new(open_bucket(config)?);
    let existed = dir.exists();
    let made = (|| -> Result<(casebridge_trust::Agency, u64)> {
        let local = casebridge_trust::Agency::init(dir, name, passphrase, kdf)?;
        crate::tls::ensure_certificate(dir, passphrase, kdf)?;
        let public = local.public().clone();
        let records = Arc::new(ClusterRecords::new(db.pool().clone(), rt.clone()));
        // The revocation list lives in the database from now on.
        let list = casebridge_trust::LocalRecords::new(dir)
            .read(casebridge_trust::REVOCATION_RECORD)?
            .ok_or_else(|| AgencyError::Internal("the new agency has no revocation list".into()))?;
        casebridge_trust::RecordStore::write(records.as_ref(), casebridge_trust::REVOCATION_RECORD, &list)?;
        drop(local);
        crate::fsutil::remove_if_exists(&dir.join(casebridge_trust::REVOCATION_RECORD))?;
        for folder in [casebridge_trust::ISSUED_FOLDER, casebridge_trust::RECEIPTS_FOLDER] {
            let _ = std::fs::remove_dir(dir.join(folder));
        }
        let replica = dir.join(REPLICA_DIR);
        let store_name = format!("{} endpoint", public.name);
        let store =
            casebridge_core::Store::create_with(&replica, passphrase, &store_name, casebridge_protocol::Role::Supervisor, kdf, objects)?;
        let journal = seed_database(&db, rt, &public, &store, &replica)?;
        drop(store);
        config.save(dir)?;
        let agency = casebridge_trust::Agency::open_shared(dir, passphrase, records)?;
        Ok((agency, journal.len() as u64))
    })();
    match made {
        Ok((agency, journal_records)) => Ok((
            agency,
            ClusterInit { database: casebridge_cluster::db::redacted(&config.database), objects: config.objects.clone(), journal_records },
        )),
        Err(e) => {
            if existed {
                tracing::warn!(dir = %dir.display(), "creating the cluster agency failed; the directory keeps what was made");
            } else {
                let _ = std::fs::remove_dir_all(dir);
            }
            Err(e)
        }
    }
}

/// What `agency migrate` moved.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Migrated {
    /// The database, its password replaced by `***`.
    pub database: String,
    /// `s3://BUCKET[/PREFIX]`.
    pub objects: String,
    /// Records moved (issued credentials, receipts, invites, the revocation list).
    pub records: usize,
    /// Sealed objects copied to the bucket.
    pub objects_copied: usize,
    /// Their bytes.
    pub object_bytes: u64,
    /// Journal records written to the database.
    pub journal_records: u64,
    /// Uploads in progress left behind (their members' clients begin them again).
    pub uploads_left: usize,
    /// Where the embedded agency's files were set aside (kept, no longer used).
    pub set_aside: String,
}

/// The folder an embedded agency's files are set aside in by [`migrate`].
pub const MIGRATED_DIR: &str = "embedded-before-migration";

/// Moves the embedded agency in `dir` into a cluster: its records into the database, every
/// sealed object into the bucket (same keyed names), the store's journal into the database
/// (same records: members' feed cursors and every receipt stay valid), then `cluster.json`; the
/// embedded files are set aside in `dir/embedded-before-migration/`. Refused, with nothing
/// written, when the directory is already a cluster agency, an endpoint serves it (its lock),
/// or the database already holds an agency or a journal. Uploads in progress are not moved:
/// their clients begin them again.
pub fn migrate(dir: &Path, passphrase: &casebridge_core::Passphrase, config: &ClusterConfig) -> Result<Migrated> {
    if ClusterConfig::load(dir)?.is_some() {
        return Err(AgencyError::Invalid(format!("{} is already a cluster agency; nothing was changed", dir.display())));
    }
    parse_objects(&config.objects)?;
    let agency = casebridge_trust::Agency::open(dir, passphrase)?;
    let store_dir = dir.join(crate::state::STORE_DIR);
    let rt = command_runtime()?.handle();
    let db = empty_db(config, rt)?;
    let bucket = open_bucket(config)?;
    // An agency that never served has no store yet: it is made as the first start would.
    let store = if store_dir.join(casebridge_core::HEADER_FILE).exists() {
        casebridge_core::Store::open(&store_dir, passphrase)?
    } else {
        let name = format!("{} endpoint", agency.public().name);
        casebridge_core::Store::create(
            &store_dir,
            passphrase,
            &name,
            casebridge_protocol::Role::Supervisor,
            casebridge_core::KdfParams::INTERACTIVE,
        )?
    };
    let mut report = Migrated {
        database: casebridge_cluster::db::redacted(&config.database),
        objects: config.objects.clone(),
        set_aside: dir.join(MIGRATED_DIR).display().to_string(),
        ..Migrated::default()
    };

    // The records, byte for byte (sealed as they are).
    let local = casebridge_trust::LocalRecords::new(dir);
    let records = ClusterRecords::new(db.pool().clone(), rt.clone());
    let mut names = vec![casebridge_trust::REVOCATION_RECORD.to_string()];
    for folder in [
        casebridge_trust::ISSUED_FOLDER,
        casebridge_trust::RECEIPTS_FOLDER,
        crate::invites::INVITES_DIR,
        crate::endpoint_log::ACCESS_LOG_FOLDER,
    ] {
        names.extend(local.list(folder)?.into_iter().map(|n| format!("{folder}/{n}")));
    }
    for name in &names {
        if let Some(bytes) = local.read(name)? {
            records.write(name, &bytes)?;
            report.records += 1;
        }
    }
    report.uploads_left = local.list(crate::uploads::UPLOADS_DIR)?.iter().filter(|n| n.ends_with(".state")).count();

    // Every sealed object, under the same keyed name.
    let from = casebridge_core::FileObjects::new(&store_dir);
    let tmp = dir.join(".migrate-tmp");
    crate::fsutil::private_dir(&tmp)?;
    for entry in casebridge_core::ObjectBackend::list(&from)? {
        let Some((len, mut reader)) = casebridge_core::ObjectBackend::open(&from, &entry.name)? else { continue };
        let path = tmp.join(&entry.name);
        let mut file = std::fs::File::create(&path).map_err(AgencyError::io("writing", &path))?;
        std::io::copy(&mut reader, &mut file).map_err(AgencyError::io("copying", &path))?;
        drop(file);
        casebridge_core::ObjectBackend::publish(&bucket, &path, &entry.name)?;
        report.objects_copied += 1;
        report.object_bytes += len;
    }
    let _ = std::fs::remove_dir_all(&tmp);

    // The journal, record for record, and the agency row last.
    let journal = seed_database(&db, rt, agency.public(), &store, &store_dir)?;
    report.journal_records = journal.len() as u64;
    drop(store);
    drop(agency);

    // From here the directory is a cluster agency's: its embedded files are set aside.
    config.save(dir)?;
    let aside = dir.join(MIGRATED_DIR);
    crate::fsutil::private_dir(&aside)?;
    for name in
        [crate::state::STORE_DIR, "issued", "receipts", "invites", "uploads", "revocation.json", crate::endpoint_log::ACCESS_LOG_FOLDER]
    {
        let from = dir.join(name);
        if from.exists() {
            std::fs::rename(&from, aside.join(name)).map_err(AgencyError::io("setting aside", &from))?;
        }
    }
    Ok(report)
}
