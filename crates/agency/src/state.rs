//! The endpoint's state: the unlocked agency, its case store, the issued credentials and
//! revocation list in memory, challenges and sessions, the per-source limiters.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use casebridge_core::{KdfParams, Passphrase, Role, Store};
use casebridge_trust::{Agency, AgencyPublic, Credential, RevocationList, SignedDoc};
use chrono::{DateTime, Duration, FixedOffset};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

use crate::api::{ApiError, LogMember};
use crate::clock::{Clock, SystemClock};
use crate::error::{AgencyError, Result};

/// Folder of the endpoint's case store inside the agency directory.
pub const STORE_DIR: &str = "store";
/// How long a challenge may be answered.
pub const CHALLENGE_TTL_SECS: i64 = 60;
/// How long a session token is accepted.
pub const SESSION_TTL_SECS: i64 = 15 * 60;

/// Options for [`AppState::open`].
pub struct StateOptions {
    /// Argon2 parameters for a store created on first start (production: `KdfParams::INTERACTIVE`).
    pub store_kdf: KdfParams,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The address put into invite codes by default (`https://HOST:PORT`).
    pub url: String,
    /// The endpoint's limits.
    pub limits: crate::limits::Limits,
    /// A cluster agency's object-store settings given in code (`None`: the `AWS_*`
    /// environment, as a deployment does).
    pub s3: Option<casebridge_cluster::objects::S3Config>,
}

impl StateOptions {
    /// Production options: interactive KDF, system clock.
    pub fn new(url: impl Into<String>) -> StateOptions {
        StateOptions {
            store_kdf: KdfParams::INTERACTIVE,
            clock: Arc::new(SystemClock),
            url: url.into(),
            limits: crate::limits::Limits::default(),
            s3: None,
        }
    }
}

/// Failures counted per key (a source address, an invite): a key with `max` failures within
/// `window` is locked for `window`. Keys without recent failures are forgotten, so an attacker
/// with many addresses grows the table only for as long as their failures count.
pub(crate) struct FailureLimiter<K> {
    max: usize,
    window: Duration,
    entries: HashMap<K, Failures>,
}

#[derive(Default)]
struct Failures {
    at: VecDeque<DateTime<FixedOffset>>,
    locked_until: Option<DateTime<FixedOffset>>,
}

impl<K: std::hash::Hash + Eq + Clone> FailureLimiter<K> {
    pub(crate) fn new(max: u32, window_secs: u64) -> FailureLimiter<K> {
        FailureLimiter {
            max: usize::try_from(max).unwrap_or(usize::MAX),
            window: Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX / 1000)),
            entries: HashMap::new(),
        }
    }

    /// Seconds until `key` may try again, when locked.
    pub(crate) fn locked(&mut self, key: &K, now: DateTime<FixedOffset>) -> Option<i64> {
        let until = self.entries.get(key)?.locked_until?;
        (now < until).then(|| (until - now).num_seconds().max(1))
    }

    /// Counts a failure of `key`.
    pub(crate) fn failure(&mut self, key: K, now: DateTime<FixedOffset>) {
        if self.entries.len() >= 4096 {
            let window = self.window;
            self.entries.retain(|_, f| f.locked_until.is_some_and(|u| now < u) || f.at.back().is_some_and(|t| now - *t < window));
        }
        let window = self.window;
        let f = self.entries.entry(key).or_default();
        f.at.retain(|t| now - *t < window);
        f.at.push_back(now);
        if f.at.len() >= self.max {
            f.at.clear();
            f.locked_until = Some(now + window);
        }
    }
}

/// Requests without a session, per source address: a token bucket of
/// `unauthenticated_per_source_per_min` tokens refilled over a minute.
pub(crate) struct RequestLimiter {
    per_min: f64,
    buckets: HashMap<std::net::IpAddr, (f64, DateTime<FixedOffset>)>,
}

impl RequestLimiter {
    pub(crate) fn new(per_min: u32) -> RequestLimiter {
        RequestLimiter { per_min: f64::from(per_min), buckets: HashMap::new() }
    }

    /// Takes a token for `source`, or says in how many seconds one is there.
    pub(crate) fn take(&mut self, source: std::net::IpAddr, now: DateTime<FixedOffset>) -> std::result::Result<(), i64> {
        let per_min = self.per_min;
        let refill = |tokens: f64, since: DateTime<FixedOffset>| {
            let secs = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
            (tokens + secs * per_min / 60.0).min(per_min)
        };
        if self.buckets.len() >= 4096 {
            self.buckets.retain(|_, (tokens, since)| refill(*tokens, *since) < per_min);
        }
        let (tokens, since) = self.buckets.entry(source).or_insert((per_min, now));
        let available = refill(*tokens, *since);
        if available < 1.0 {
            return Err((((1.0 - available) * 60.0 / per_min).ceil() as i64).max(1));
        }
        *tokens = available - 1.0;
        *since = now;
        Ok(())
    }
}

/// Everything the handlers share. Built by [`AppState::open`] (which holds the agency and store
/// locks until dropped); [`crate::router`] serves it.
pub struct AppState {
    pub(crate) dir: PathBuf,
    pub(crate) agency: Agency,
    pub(crate) public: AgencyPublic,
    pub(crate) cert_fp: String,
    pub(crate) store: RwLock<Store>,
    pub(crate) revocation: RwLock<(RevocationList, SignedDoc)>,
    pub(crate) issued: RwLock<Vec<Credential>>,
    /// The name disclosures of the credentials issued, by serial (sealed at rest, like them).
    pub(crate) names: RwLock<std::collections::BTreeMap<uuid::Uuid, casebridge_trust::NameDisclosure>>,
    /// Challenges and sessions (in memory, or the cluster's database).
    pub(crate) sessions: crate::sessions::Sessions,
    /// Limits on refused enrolments and on requests without a session.
    pub(crate) limiters: crate::limiters::Limiters,
    /// A cluster agency's database and bucket (none for the embedded agency).
    pub(crate) cluster: Option<Arc<crate::deployment::Cluster>>,
    /// When the issued credentials were last reloaded from a cluster's records.
    pub(crate) refreshed: Mutex<Option<std::time::Instant>>,
    /// The open connections.
    pub(crate) conns: Arc<crate::conns::ConnTable>,
    /// Downloads in progress, by member.
    pub(crate) downloads: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Downloads the endpoint sends at once ([`crate::Limits::max_downloads`]).
    pub(crate) download_slots: Arc<tokio::sync::Semaphore>,
    pub(crate) enrol_lock: tokio::sync::Mutex<()>,
    pub(crate) upload_locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// The uploads known (quotas, cleanup) and the verifications in progress.
    pub(crate) uploads: crate::uploads::Tracker,
    /// The key the endpoint's own records (upload states; a cluster's sessions and challenges)
    /// are sealed with at rest ([`crate::at_rest`]), derived from the agency's sealing key.
    pub(crate) records_key: crate::at_rest::RecordKey,
    /// Completes that may verify at once ([`cpu_slots`]); more would only share the CPUs and
    /// hold more buffers.
    pub(crate) complete_slots: Arc<tokio::sync::Semaphore>,
    /// Large uploads verified while their chunks arrive.
    pub(crate) early: crate::early::Early,
    pub(crate) clock: Arc<dyn Clock>,
    /// The limits served under.
    pub(crate) limits: crate::limits::Limits,
    pub(crate) url: RwLock<String>,
    pub(crate) rng: SystemRandom,
    /// The endpoint's own access log's head (who fetched what, signed and chained).
    pub(crate) endpoint_log: crate::endpoint_log::EndpointLog,
}

/// How many bundle verifications may run at once (completes, early verifiers): one per CPU, at
/// least two so one can verify while another records its events.
pub(crate) fn cpu_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Locks a mutex; a poisoned lock (a panic elsewhere) still gives its data, which every
/// writer leaves consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The key of a cluster's limit digests: derived from the agency's sealing key, so the digests
/// in the database say nothing to anyone without the agency's keys.
fn limit_key(agency: &Agency) -> ring::hmac::Key {
    use age::secrecy::ExposeSecret;
    let secret = agency.sealing_identity().to_string();
    let digest =
        casebridge_core::sha256([b"casebridge/v1/limit-key\x00".as_slice(), secret.expose_secret().as_bytes()].concat().as_slice());
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &digest)
}

impl AppState {
    /// Unlocks the agency in `dir` (holding its lock), opens the endpoint's case store at
    /// `dir/store` (creating it on first start: `"<agency name> endpoint"`, supervisor), and loads
    /// the issued credentials and the current revocation list. The TLS certificate must exist
    /// ([`crate::tls::ensure_certificate`]). Blocking: run it off the async runtime.
    pub fn open(dir: &Path, passphrase: &Passphrase, options: StateOptions) -> Result<AppState> {
        let cert_fp = crate::tls::cert_fingerprint(dir)?;
        let (agency, store, cluster) = match crate::deployment::ClusterConfig::load(dir)? {
            None => {
                let agency = Agency::open(dir, passphrase)?;
                let store_dir = dir.join(STORE_DIR);
                let store = if store_dir.join(casebridge_core::HEADER_FILE).exists() {
                    Store::open(&store_dir, passphrase)?
                } else {
                    let name = format!("{} endpoint", agency.public().name);
                    Store::create(&store_dir, passphrase, &name, Role::Supervisor, options.store_kdf)?
                };
                (agency, store, None)
            }
            Some(mut config) => {
                if options.s3.is_some() {
                    config.s3 = options.s3.clone();
                }
                // The endpoint's runtime (serve opens the state on its blocking pool), or the
                // command line's own (`agency check`, `agency gc` without a running endpoint).
                let rt = match tokio::runtime::Handle::try_current() {
                    Ok(h) => h,
                    Err(_) => crate::deployment::command_runtime()?.handle().clone(),
                };
                let cluster = crate::deployment::Cluster::connect(dir, &config, &rt)?;
                let agency = Agency::open_shared(dir, passphrase, cluster.records.clone())?;
                cluster.check_agency(&agency)?;
                let store = crate::follower::open(&cluster, passphrase)?;
                (agency, store, Some(Arc::new(cluster)))
            }
        };
        let public = agency.public().clone();
        let (sessions, limiters) = match &cluster {
            None => (crate::sessions::Sessions::default(), crate::limiters::Limiters::memory(&options.limits)),
            Some(c) => (
                crate::sessions::Sessions::Cluster(Box::new(crate::sessions::ClusterSessions {
                    db: c.db.clone(),
                    key: crate::at_rest::RecordKey::new(agency.sealing_identity()),
                    identity: agency.sealing_identity().clone(),
                })),
                crate::limiters::Limiters::Cluster { db: c.db.clone(), key: limit_key(&agency), limits: options.limits.clone() },
            ),
        };
        let revocation = agency.current_revocation()?;
        let (issued, names) = split_issued(agency.issued_with_names()?);
        if cluster.is_none() {
            for sub in [crate::invites::INVITES_DIR, crate::uploads::UPLOADS_DIR] {
                crate::fsutil::private_dir(&dir.join(sub))?;
            }
        }
        let records_key = crate::at_rest::RecordKey::new(agency.sealing_identity());
        let uploads = crate::uploads::Tracker::load(&agency, &records_key, cluster.as_deref())?;
        Ok(AppState {
            dir: dir.to_path_buf(),
            agency,
            public,
            cert_fp,
            store: RwLock::new(store),
            revocation: RwLock::new(revocation),
            issued: RwLock::new(issued),
            names: RwLock::new(names),
            sessions,
            limiters,
            cluster,
            refreshed: Mutex::new(None),
            conns: crate::conns::ConnTable::new(options.limits.clone()),
            downloads: Arc::new(Mutex::new(HashMap::new())),
            download_slots: Arc::new(tokio::sync::Semaphore::new(options.limits.max_downloads)),
            enrol_lock: tokio::sync::Mutex::new(()),
            upload_locks: Mutex::new(HashMap::new()),
            uploads,
            records_key,
            complete_slots: Arc::new(tokio::sync::Semaphore::new(cpu_slots())),
            early: crate::early::Early::default(),
            clock: options.clock,
            limits: options.limits,
            url: RwLock::new(options.url),
            rng: SystemRandom::new(),
            endpoint_log: crate::endpoint_log::EndpointLog::default(),
        })
    }

    /// The agency directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The agency served.
    pub fn agency_id(&self) -> Uuid {
        self.public.agency_id
    }

    /// The address put into invite codes by default.
    pub fn url(&self) -> String {
        read(&self.url).clone()
    }

    /// Sets the address put into invite codes (once the listening port is known).
    pub fn set_url(&self, url: impl Into<String>) {
        *write(&self.url) = url.into();
    }

    /// SHA-256 of the TLS certificate, hex.
    pub fn cert_fingerprint(&self) -> &str {
        &self.cert_fp
    }

    /// Records a fetch in the endpoint's own access log (see [`crate::endpoint_log`]).
    pub(crate) fn log_fetch(
        &self,
        member: Uuid,
        role: casebridge_core::Role,
        action: &str,
        (items, cases): (Vec<Uuid>, Vec<Uuid>),
        sha256: Option<String>,
        served: u64,
    ) -> Result<(), crate::api::ApiError> {
        let entry = crate::endpoint_log::EndpointAccess {
            agency_id: self.agency_id(),
            seq: 0,
            prev: String::new(),
            at: self.now(),
            member,
            role,
            action: action.to_string(),
            items,
            cases,
            sha256,
            served,
        };
        self.endpoint_log.append(&self.agency, self.cluster.is_none(), entry)
    }

    pub(crate) fn now(&self) -> DateTime<FixedOffset> {
        self.clock.now()
    }

    /// The agency store for reading; a cluster replica's copy is caught up with the cluster's
    /// journal first. Blocking.
    pub(crate) fn store_read(&self) -> std::result::Result<RwLockReadGuard<'_, Store>, ApiError> {
        if let Some(c) = &self.cluster {
            crate::follower::catch_up_shared(c, &self.store)?;
        }
        Ok(read(&self.store))
    }

    /// A cluster agency: takes up what other replicas changed in the credentials issued (at
    /// most once a second unless `force`) and, always, the current revocation list (a
    /// revocation applies on every replica at the next request). Nothing for the embedded
    /// agency, whose process makes every change itself. Blocking.
    pub(crate) fn refresh_credentials(&self, force: bool) -> std::result::Result<(), ApiError> {
        if self.cluster.is_none() {
            return Ok(());
        }
        let list = self.agency.current_revocation().map_err(crate::api::records_error)?;
        if list.1.to_bytes() != read(&self.revocation).1.to_bytes() {
            self.set_revocation(list);
        }
        let due = {
            let mut at = lock(&self.refreshed);
            let due = force || at.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1));
            if due {
                *at = Some(std::time::Instant::now());
            }
            due
        };
        if due {
            let (issued, names) = split_issued(self.agency.issued_with_names().map_err(crate::api::records_error)?);
            *write(&self.issued) = issued;
            *write(&self.names) = names;
        }
        Ok(())
    }

    pub(crate) fn random<const N: usize>(&self) -> std::result::Result<[u8; N], ApiError> {
        let mut b = [0u8; N];
        self.rng.fill(&mut b).map_err(|_| ApiError::internal("the system random generator failed"))?;
        Ok(b)
    }

    /// The credential with `serial` when it is valid at `now` and not revoked on the current list.
    pub(crate) fn usable_credential(&self, serial: Uuid, now: DateTime<FixedOffset>) -> Option<Credential> {
        let issued = read(&self.issued);
        let cred = issued.iter().find(|c| c.serial == serial)?;
        let revocation = read(&self.revocation);
        (cred.valid_at(now) && revocation.0.find(cred.member_id, &cred.key).is_none()).then(|| cred.clone())
    }

    /// Replaces the in-memory revocation list (after a revoke) and ends the sessions opened
    /// with a revoked key.
    pub(crate) fn set_revocation(&self, list: (RevocationList, SignedDoc)) {
        let revoked: Vec<Uuid> = {
            let issued = read(&self.issued);
            issued.iter().filter(|c| list.0.find(c.member_id, &c.key).is_some()).map(|c| c.serial).collect()
        };
        *write(&self.revocation) = list;
        self.sessions.end_of(&revoked);
    }

    /// The per-upload lock (uploads of one id are handled one request at a time).
    pub(crate) fn upload_lock(&self, id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.upload_locks).entry(id).or_default().clone()
    }

    /// Sessions open and credentials issued (for `GET /admin/status`).
    pub(crate) async fn counts(&self) -> Result<(usize, usize), ApiError> {
        Ok((self.sessions.count(self.now()).await?, read(&self.issued).len()))
    }
}

/// An authenticated member: `Authorization: Bearer TOKEN` from `/v1/auth/session`, checked on
/// every request against the current credential and revocation list.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub id: Uuid,
    pub role: Role,
}

impl FromRequestParts<Arc<AppState>> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> std::result::Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
            _ => {
                return Err(ApiError::unauthenticated(
                    "send Authorization: Bearer TOKEN; get a token from /v1/auth/challenge and /v1/auth/session",
                ))
            }
        };
        let digest = casebridge_core::sha256(token.as_bytes());
        let now = state.now();
        let session = state.sessions.session(&digest, now).await?;
        let expired = || ApiError::unauthenticated("the session is unknown or has expired; authenticate again");
        let session = session.filter(|s| now <= s.expires_at).ok_or_else(expired)?;
        if state.cluster.is_some() {
            let st = Arc::clone(state);
            let serial = session.serial;
            blocking(move || {
                let known = read(&st.issued).iter().any(|c| c.serial == serial);
                st.refresh_credentials(!known)
            })
            .await?;
        }
        let Some(cred) = state.usable_credential(session.serial, now) else {
            state.sessions.end(&digest).await?;
            return Err(ApiError::unauthenticated("the member's credential has expired or was revoked"));
        };
        if let Some(slot) = parts.extensions.get::<LogMember>() {
            slot.set(session.member);
        }
        if let Some(conn) = parts.extensions.get::<Arc<crate::conns::Conn>>() {
            conn.authenticated(&state.conns);
        }
        Ok(Member { id: session.member, role: cred.role })
    }
}

/// The address a request came from, as limits count it ([`crate::conns::source_of`]); the
/// unspecified address for a router driven without a connection (tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Source(pub std::net::IpAddr);

/// The peer of the connection a request came on (a request extension set by the server).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub std::net::SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> std::result::Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<Peer>().map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
        Ok(Source(crate::conns::source_of(ip)))
    }
}

impl AppState {
    /// Takes one of `source`'s requests without a session, or refuses with 429.
    pub(crate) async fn unauthenticated_request(&self, source: Source) -> std::result::Result<(), ApiError> {
        let taken = self.limiters.take(source.0, self.now()).await?;
        taken.map_err(|secs| {
            ApiError::rate_limited(format!("too many requests without a session from your address; try again in {secs} seconds"))
        })
    }
}

/// One of a member's downloads in progress; given back when dropped.
pub(crate) struct Download {
    member: Uuid,
    table: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl AppState {
    /// Counts a download of `member`, or refuses with 429 `too_many_downloads`.
    pub(crate) fn begin_download(&self, member: Uuid) -> std::result::Result<Download, ApiError> {
        let mut table = lock(&self.downloads);
        let n = table.entry(member).or_default();
        if *n >= self.limits.downloads_per_member {
            return Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_downloads",
                format!("you have {n} downloads in progress; finish one before starting another"),
            ));
        }
        *n += 1;
        Ok(Download { member, table: Arc::clone(&self.downloads) })
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        let mut table = lock(&self.table);
        if let Some(n) = table.get_mut(&self.member) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                table.remove(&self.member);
            }
        }
    }
}

/// Runs blocking work (file and store I/O) off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, ApiError> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

impl From<AgencyError> for ApiError {
    fn from(e: AgencyError) -> ApiError {
        match e {
            AgencyError::Invalid(m) => ApiError::bad_request(m),
            AgencyError::Io { ref source, .. } if crate::api::is_disk_full(source) => ApiError::insufficient_storage(e),
            AgencyError::Trust(t) => crate::api::records_error(t),
            AgencyError::Unavailable(m) => ApiError::unavailable(m),
            e => ApiError::internal(e),
        }
    }
}

/// The credentials issued, and their name disclosures by serial.
type IssuedNames = (Vec<Credential>, std::collections::BTreeMap<uuid::Uuid, casebridge_trust::NameDisclosure>);

fn split_issued(all: Vec<(Credential, Option<casebridge_trust::NameDisclosure>)>) -> IssuedNames {
    let names = all.iter().filter_map(|(c, d)| d.clone().map(|d| (c.serial, d))).collect();
    (all.into_iter().map(|(c, _)| c).collect(), names)
}
