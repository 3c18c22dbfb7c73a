//! The cluster agency's objects in an S3-compatible bucket: [`S3Objects`], casebridge-core's
//! [`ObjectBackend`] over `object_store`'s `AmazonS3`, and the upload parts replicas share.
//!
//! ## Layout in the bucket (under `PREFIX/`, or the bucket's root without a prefix)
//! - `objects/<name>`: a sealed object, exactly the bytes the embedded store keeps in
//!   `objects/NN/REST`; `<name>` is the keyed name (HMAC of the content hash under a key of
//!   the agency's store), never the hash.
//! - `held/<name>`: an empty marker written when content is found already held
//!   ([`ObjectBackend::touch`]): S3 cannot change an object's modification time, so an
//!   object's time for collection is the later of its own and its marker's.
//! - `uploads/<upload id>/<offset, 20 digits>`: the parts of an upload in progress, as the
//!   member sent them ([`S3Objects::put_part`]), so an upload begun through one replica
//!   resumes through another.
//!
//! Deleting content (crypto-shredding under an agency's tombstone, [`ObjectBackend::shred`])
//! deletes both of its keys, the marker first, whatever their age.
//!
//! ## Runtime
//! Core's trait is synchronous. `S3Objects` owns a small tokio runtime (two workers) and runs
//! every request on it, waiting on a plain channel: so it may be called from any thread that
//! may block, a plain thread or a `spawn_blocking` thread of another runtime (the endpoint's),
//! but never from inside an async task (that would block a worker; reads panic there).
//!
//! ## What is not ordered
//! The embedded store orders collection against refreshes with a lock. Replicas share no lock:
//! a refresh landing between the collection's look at an object's times and its removal is not
//! seen. The cluster runs collection rarely, with a cutoff far behind every verification in
//! progress. Two replicas publishing the same content at once both upload; the last one stays,
//! and either is a valid sealing of that content under that name.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use casebridge_core::{Error as CoreError, ObjectBackend, ObjectEntry};
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};
use uuid::Uuid;

/// Objects up to this size go up in one request; larger ones as multipart uploads.
pub const SINGLE_PUT_MAX: u64 = 8 * 1024 * 1024;
/// The part size of multipart uploads (S3 needs at least 5 MiB for every part but the last).
pub const MULTIPART_PART: usize = 8 * 1024 * 1024;
/// Parts of one multipart upload in flight at once.
const PARTS_IN_FLIGHT: usize = 3;
/// Chunks of a read buffered ahead of the reader.
const READ_AHEAD: usize = 8;

/// What went wrong with the object store. Messages name the endpoint and bucket, never the
/// secret key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectsError {
    /// The location is not `s3://BUCKET[/PREFIX]`.
    #[error("invalid object store location '{location}': {reason} (expected s3://BUCKET or s3://BUCKET/PREFIX)")]
    Location {
        /// What was given.
        location: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A setting the object store needs is missing or unusable.
    #[error("object store settings: {what}")]
    Config {
        /// Which setting, and what to do.
        what: String,
    },

    /// No answer from the endpoint (refused, timed out, name not resolved).
    #[error(
        "the object store at {endpoint} is unreachable (bucket {bucket}): {reason}; check AWS_ENDPOINT_URL and that the server is running"
    )]
    Unreachable {
        /// The endpoint URL.
        endpoint: String,
        /// The bucket.
        bucket: String,
        /// What the connection attempt said.
        reason: String,
    },

    /// The endpoint refused the credentials.
    #[error(
        "the object store at {endpoint} refused the credentials for bucket {bucket}: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    Credentials {
        /// The endpoint URL.
        endpoint: String,
        /// The bucket.
        bucket: String,
    },

    /// The bucket does not exist.
    #[error("the object store at {endpoint} has no bucket {bucket}: create it first")]
    NoBucket {
        /// The endpoint URL.
        endpoint: String,
        /// The bucket.
        bucket: String,
    },

    /// A request failed otherwise.
    #[error("{action} {what} in the object store's bucket {bucket} at {endpoint} failed: {reason}")]
    Failed {
        /// What was being done.
        action: &'static str,
        /// On what (`object <keyed name>`, `upload <id>`, ...).
        what: String,
        /// The endpoint URL.
        endpoint: String,
        /// The bucket.
        bucket: String,
        /// The store's words.
        reason: String,
    },

    /// The parts of an upload do not form one run of bytes from offset 0.
    #[error("the parts of upload {upload} are not contiguous: {reason}")]
    Parts {
        /// The upload.
        upload: Uuid,
        /// Where the gap or overlap is.
        reason: String,
    },
}

/// Where the object store is and who we are to it: the standard AWS variables.
#[derive(Clone)]
pub struct S3Config {
    /// `AWS_ENDPOINT_URL` (none: AWS itself).
    pub endpoint: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` (never printed: see the `Debug` implementation).
    secret_access_key: String,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: String,
}

impl S3Config {
    /// Settings given directly.
    pub fn new(endpoint: Option<String>, access_key_id: String, secret_access_key: String, region: Option<String>) -> S3Config {
        S3Config { endpoint, access_key_id, secret_access_key, region: region.unwrap_or_else(|| "us-east-1".into()) }
    }

    /// Settings from `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_REGION` (`object_store`'s own `from_env` does not read the endpoint).
    pub fn from_env() -> Result<S3Config, ObjectsError> {
        let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let need = |k: &'static str| var(k).ok_or_else(|| ObjectsError::Config { what: format!("{k} is not set") });
        Ok(S3Config::new(var("AWS_ENDPOINT_URL"), need("AWS_ACCESS_KEY_ID")?, need("AWS_SECRET_ACCESS_KEY")?, var("AWS_REGION")))
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// A parsed `s3://BUCKET[/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The prefix inside it (no leading or trailing `/`; empty for the bucket's root).
    pub prefix: String,
}

impl std::str::FromStr for S3Location {
    type Err = ObjectsError;

    fn from_str(location: &str) -> Result<S3Location, ObjectsError> {
        let bad = |reason: &str| ObjectsError::Location { location: location.to_string(), reason: reason.to_string() };
        let rest = location.strip_prefix("s3://").ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the bucket name is empty"));
        }
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.as_bytes()[0].is_ascii_alphanumeric()
            && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
        if !bucket_ok {
            return Err(bad("a bucket name is 3 to 63 lowercase letters, digits, '-' or '.'"));
        }
        let prefix = prefix.trim_end_matches('/');
        for seg in prefix.split('/').filter(|_| !prefix.is_empty()) {
            let seg_ok =
                !seg.is_empty() && seg != "." && seg != ".." && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !seg_ok {
                return Err(bad("the prefix is '/'-separated names of letters, digits, '-', '_' or '.'"));
            }
        }
        Ok(S3Location { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }
}

/// Sealed objects and upload parts in an S3-compatible bucket. See the module documentation.
pub struct S3Objects {
    store: Arc<AmazonS3>,
    /// `Some` until dropped (then shut down without blocking: a store may be dropped anywhere).
    rt: Option<tokio::runtime::Runtime>,
    location: S3Location,
    endpoint: String,
    /// Only to keep it out of error messages.
    secret: String,
}

impl std::fmt::Debug for S3Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Objects").field("endpoint", &self.endpoint).field("location", &self.location).finish_non_exhaustive()
    }
}

impl Drop for S3Objects {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Whether a name is a keyed object name (64 lowercase hex digits): nothing else is ever
/// turned into a key of the bucket.
fn is_object_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A reader over a stream of bytes produced on the runtime.
struct StreamReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            let rx = &mut self.rx;
            match crate::blocking(|| rx.blocking_recv()) {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The parts of an upload read one after another ([`S3Objects::read_parts`]).
pub struct PartsReader {
    objects: Arc<PartsSource>,
    keys: std::vec::IntoIter<Path>,
    current: Option<Box<dyn Read + Send>>,
}

/// What a [`PartsReader`] needs of its [`S3Objects`] (a clone of the client and a handle of
/// the runtime, so the reader does not borrow it).
struct PartsSource {
    store: Arc<AmazonS3>,
    handle: tokio::runtime::Handle,
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(r) = self.current.as_mut() {
                let n = r.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            let Some(key) = self.keys.next() else { return Ok(0) };
            let store = Arc::clone(&self.objects.store);
            let got = run_on(&self.objects.handle, async move { store.get(&key).await })
                .map_err(std::io::Error::other)?
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            self.current = Some(Box::new(stream_reader(&self.objects.handle, got)));
        }
    }
}

/// Runs `fut` on the runtime behind `handle` and waits for it on this thread.
fn run_on<F>(handle: &tokio::runtime::Handle, fut: F) -> Result<F::Output, &'static str>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| "the object store's runtime stopped")
}

/// Streams a GET's body through a bounded channel into a blocking reader.
fn stream_reader(handle: &tokio::runtime::Handle, got: object_store::GetResult) -> StreamReader {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    handle.spawn(async move {
        let mut stream = got.into_stream();
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item.map_err(|e| e.to_string())).await.is_err() || failed {
                break;
            }
        }
    });
    StreamReader { rx, current: Bytes::new() }
}

impl S3Objects {
    /// The bucket (and prefix) of `location` (`s3://BUCKET[/PREFIX]`) at the endpoint of
    /// `config`. Makes no request: [`S3Objects::check`] says whether it can be used. Plain
    /// http is allowed only when the endpoint URL says `http://`.
    pub fn new(location: &str, config: &S3Config) -> Result<S3Objects, ObjectsError> {
        let location: S3Location = location.parse()?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_virtual_hosted_style_request(false)
            // Requests are signed (SigV4) without hashing their bodies (`UNSIGNED-PAYLOAD`):
            // hashing every byte put a second SHA-256 pass over each bundle's part and each
            // object, about 0.7 ms of a replica's CPU per MB (issue 15). What is stored keeps
            // its integrity without it: objects are sealed (AEAD, checked on every read) and a
            // part counts only once its bundle verifies at complete. Over https TLS protects
            // the body in transit; over plain http the answers to reads were never signed, so
            // a payload hash on the way in added nothing a path attacker could not undo on
            // the way out.
            .with_unsigned_payload(true)
            .with_retry(RetryConfig {
                backoff: BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(2), base: 2.0 },
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            })
            .with_client_options(ClientOptions::new().with_connect_timeout(Duration::from_secs(5)).with_timeout(Duration::from_secs(120)));
        let endpoint = match &config.endpoint {
            Some(url) => {
                let parsed =
                    url::Url::parse(url).map_err(|_| ObjectsError::Config { what: format!("AWS_ENDPOINT_URL '{url}' is not a URL") })?;
                match parsed.scheme() {
                    "http" => builder = builder.with_allow_http(true),
                    "https" => {}
                    other => {
                        return Err(ObjectsError::Config {
                            what: format!("AWS_ENDPOINT_URL '{url}' uses '{other}'; use an http:// or https:// URL"),
                        })
                    }
                }
                builder = builder.with_endpoint(url.trim_end_matches('/'));
                url.trim_end_matches('/').to_string()
            }
            None => format!("https://s3.{}.amazonaws.com", config.region),
        };
        let store = builder.build().map_err(|e| ObjectsError::Config { what: e.to_string().replace(&config.secret_access_key, "***") })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("casebridge-s3")
            .enable_all()
            .build()
            .map_err(|e| ObjectsError::Config { what: format!("starting the object store's threads: {e}") })?;
        Ok(S3Objects { store: Arc::new(store), rt: Some(rt), location, endpoint, secret: config.secret_access_key.clone() })
    }

    /// [`S3Objects::new`] with [`S3Config::from_env`].
    pub fn from_env(location: &str) -> Result<S3Objects, ObjectsError> {
        S3Objects::new(location, &S3Config::from_env()?)
    }

    /// The bucket and prefix.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the store can be used: the endpoint answers, takes the credentials, and holds
    /// the bucket (one listing request). Each failure has its own [`ObjectsError`] variant.
    pub fn check(&self) -> Result<(), ObjectsError> {
        let store = Arc::clone(&self.store);
        let prefix = self.key("objects");
        self.run(async move { store.list_with_delimiter(Some(&prefix)).await.map(|_| ()) })?
            .map_err(|e| self.classify(&e, "listing", "objects".into()))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.rt.as_ref().expect("the runtime lives until drop").handle()
    }

    fn run<F>(&self, fut: F) -> Result<F::Output, ObjectsError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        run_on(self.handle(), fut).map_err(|e| ObjectsError::Config { what: e.to_string() })
    }

    /// The key `PREFIX/rest` (or `rest` without a prefix).
    fn key(&self, rest: &str) -> Path {
        if self.location.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.location.prefix))
        }
    }

    fn object_key(&self, name: &str) -> Path {
        self.key(&format!("objects/{name}"))
    }

    fn marker_key(&self, name: &str) -> Path {
        self.key(&format!("held/{name}"))
    }

    fn upload_dir(&self, upload: Uuid) -> Path {
        self.key(&format!("uploads/{}", upload.simple()))
    }

    /// Sorts a failure into the variant that says what to do.
    fn classify(&self, e: &object_store::Error, action: &'static str, what: String) -> ObjectsError {
        let endpoint = self.endpoint.clone();
        let bucket = self.location.bucket.clone();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if !self.secret.is_empty() {
            text = text.replace(&self.secret, "***");
        }
        if text.contains("NoSuchBucket") {
            return ObjectsError::NoBucket { endpoint, bucket };
        }
        let credentials = matches!(e, object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. })
            || ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403 Forbidden"].iter().any(|w| text.contains(w));
        if credentials {
            return ObjectsError::Credentials { endpoint, bucket };
        }
        let unreachable = ["error sending request", "Connection refused", "connection refused", "timed out", "dns error", "tcp connect"]
            .iter()
            .any(|w| text.contains(w));
        if unreachable {
            return ObjectsError::Unreachable { endpoint, bucket, reason: short(&text) };
        }
        ObjectsError::Failed { action, what, endpoint, bucket, reason: short(&text) }
    }

    fn core_err(&self, e: &object_store::Error, action: &'static str, name: &str) -> CoreError {
        CoreError::objects(action, name, self.classify(e, action, format!("object {name}")))
    }

    fn checked_name(name: &str, action: &'static str) -> Result<(), CoreError> {
        if is_object_name(name) {
            Ok(())
        } else {
            Err(CoreError::objects(action, "", "a name that is not an object name was refused"))
        }
    }

    /// The time of `key`, or `None` when it is not there.
    fn head(&self, key: Path) -> Result<Option<(u64, SystemTime)>, object_store::Error> {
        let store = Arc::clone(&self.store);
        let r =
            self.run(async move { store.head(&key).await }).map_err(|e| object_store::Error::Generic { store: "S3", source: e.into() })?;
        match r {
            Ok(meta) => Ok(Some((meta.size, meta.last_modified.into()))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put_bytes(&self, key: Path, bytes: Bytes) -> Result<(), object_store::Error> {
        let store = Arc::clone(&self.store);
        self.run(async move { store.put(&key, PutPayload::from_bytes(bytes)).await.map(|_| ()) })
            .map_err(|e| object_store::Error::Generic { store: "S3", source: e.into() })?
    }

    fn delete_key(&self, key: Path) -> Result<(), object_store::Error> {
        let store = Arc::clone(&self.store);
        match self
            .run(async move { store.delete(&key).await })
            .map_err(|e| object_store::Error::Generic { store: "S3", source: e.into() })?
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every key under `dir`, with size and time.
    fn list_keys(&self, dir: Path) -> Result<Vec<object_store::ObjectMeta>, object_store::Error> {
        let store = Arc::clone(&self.store);
        self.run(async move {
            let mut out = Vec::new();
            let mut stream = store.list(Some(&dir));
            while let Some(meta) = stream.next().await {
                out.push(meta?);
            }
            Ok(out)
        })
        .map_err(|e| object_store::Error::Generic { store: "S3", source: e.into() })?
    }

    /// Uploads the file at `path` to `key`: one request up to [`SINGLE_PUT_MAX`], otherwise a
    /// multipart upload streamed from the file in [`MULTIPART_PART`] parts, a few in flight.
    fn upload_file(&self, path: &FsPath, key: Path) -> Result<(), UploadError> {
        let mut file = std::fs::File::open(path).map_err(UploadError::Local)?;
        let len = file.metadata().map_err(UploadError::Local)?.len();
        if len <= SINGLE_PUT_MAX {
            let mut buf = Vec::with_capacity(len as usize);
            file.read_to_end(&mut buf).map_err(UploadError::Local)?;
            return self.put_bytes(key, Bytes::from(buf)).map_err(UploadError::Store);
        }
        let store = Arc::clone(&self.store);
        let k = key.clone();
        let mut upload = self
            .run(async move { store.put_multipart(&k).await })
            .map_err(|e| UploadError::Store(object_store::Error::Generic { store: "S3", source: e.into() }))?
            .map_err(UploadError::Store)?;
        let result = (|| -> Result<(), UploadError> {
            let mut in_flight = std::collections::VecDeque::new();
            loop {
                let mut buf = vec![0u8; MULTIPART_PART];
                let n = casebridge_core::read_full(&mut file, &mut buf).map_err(UploadError::Local)?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                let part = upload.put_part(PutPayload::from_bytes(Bytes::from(buf)));
                in_flight.push_back(self.handle().spawn(part));
                if in_flight.len() >= PARTS_IN_FLIGHT {
                    let h = in_flight.pop_front().expect("non-empty");
                    self.wait_part(h)?;
                }
                if n < MULTIPART_PART {
                    break;
                }
            }
            while let Some(h) = in_flight.pop_front() {
                self.wait_part(h)?;
            }
            Ok(())
        })();
        let finish = self
            .run(async move {
                match result {
                    Ok(()) => upload.complete().await.map(|_| ()).map_err(UploadError::Store),
                    Err(e) => {
                        let _ = upload.abort().await;
                        Err(e)
                    }
                }
            })
            .map_err(|e| UploadError::Store(object_store::Error::Generic { store: "S3", source: e.into() }))?;
        finish
    }

    fn wait_part(&self, h: tokio::task::JoinHandle<object_store::Result<()>>) -> Result<(), UploadError> {
        let joined = self.run(h).map_err(|e| UploadError::Store(object_store::Error::Generic { store: "S3", source: e.into() }))?;
        let r = joined.map_err(|e| UploadError::Store(object_store::Error::Generic { store: "S3", source: Box::new(e) }))?;
        r.map_err(UploadError::Store)
    }

    // ----- upload parts ----------------------------------------------------------------------

    /// Stores `bytes` as the part of upload `upload` that starts at byte `offset` (a part put
    /// again at the same offset replaces the earlier one: a retry).
    pub fn put_part(&self, upload: Uuid, offset: u64, bytes: Bytes) -> Result<(), ObjectsError> {
        let key = self.key(&format!("uploads/{}/{offset:020}", upload.simple()));
        self.put_bytes(key, bytes).map_err(|e| self.classify(&e, "storing", format!("a part of upload {upload}")))
    }

    /// The parts of upload `upload`: `(offset, length)`, by offset. Keys under the upload that
    /// are not parts are ignored.
    pub fn parts(&self, upload: Uuid) -> Result<Vec<(u64, u64)>, ObjectsError> {
        Ok(self.part_keys(upload)?.into_iter().map(|(offset, len, _)| (offset, len)).collect())
    }

    fn part_keys(&self, upload: Uuid) -> Result<Vec<(u64, u64, Path)>, ObjectsError> {
        let metas = self.list_keys(self.upload_dir(upload)).map_err(|e| self.classify(&e, "listing", format!("upload {upload}")))?;
        let mut parts: Vec<(u64, u64, Path)> = metas
            .into_iter()
            .filter_map(|m| {
                let last = m.location.filename()?;
                (last.len() == 20 && last.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| last.parse::<u64>().ok())
                    .flatten()
                    .map(|offset| (offset, m.size, m.location.clone()))
            })
            .collect();
        parts.sort_by_key(|p| p.0);
        Ok(parts)
    }

    /// The parts of upload `upload` concatenated by offset, streamed. Refused when they do not
    /// form one run of bytes from offset 0 (a gap or an overlap).
    pub fn read_parts(&self, upload: Uuid) -> Result<PartsReader, ObjectsError> {
        let parts = self.part_keys(upload)?;
        let mut next = 0u64;
        for (offset, len, _) in &parts {
            if *offset != next {
                let what = if *offset > next { "a gap" } else { "an overlap" };
                return Err(ObjectsError::Parts { upload, reason: format!("{what} at byte {next} (next part starts at {offset})") });
            }
            next = offset + len;
        }
        Ok(PartsReader {
            objects: Arc::new(PartsSource { store: Arc::clone(&self.store), handle: self.handle().clone() }),
            keys: parts.into_iter().map(|(_, _, k)| k).collect::<Vec<_>>().into_iter(),
            current: None,
        })
    }

    /// Removes every part of upload `upload` (none: nothing to do).
    pub fn delete_parts(&self, upload: Uuid) -> Result<(), ObjectsError> {
        for (_, _, key) in self.part_keys(upload)? {
            self.delete_key(key).map_err(|e| self.classify(&e, "removing", format!("a part of upload {upload}")))?;
        }
        Ok(())
    }
}

enum UploadError {
    Local(std::io::Error),
    Store(object_store::Error),
}

/// The first few hundred characters of an error text (S3 error bodies can be long).
fn short(text: &str) -> String {
    let mut end = text.len().min(400);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

impl ObjectBackend for S3Objects {
    fn publish(&self, sealed: &FsPath, name: &str) -> casebridge_core::Result<bool> {
        Self::checked_name(name, "storing")?;
        if self.touch(name)? {
            std::fs::remove_file(sealed).map_err(|e| CoreError::objects("storing", name, format!("removing the temp file: {e}")))?;
            return Ok(false);
        }
        match self.upload_file(sealed, self.object_key(name)) {
            Ok(()) => {}
            Err(UploadError::Local(e)) => return Err(CoreError::objects("storing", name, format!("reading the temp file: {e}"))),
            Err(UploadError::Store(e)) => return Err(self.core_err(&e, "storing", name)),
        }
        std::fs::remove_file(sealed).map_err(|e| CoreError::objects("storing", name, format!("removing the temp file: {e}")))?;
        Ok(true)
    }

    /// A small object (one chunk of content) is sent from memory in one request: no temp
    /// file written, fsynced and read back (issue 15: the replica's CPU per bundle).
    fn publish_bytes(&self, sealed: Vec<u8>, _tmp: &FsPath, name: &str) -> casebridge_core::Result<bool> {
        Self::checked_name(name, "storing")?;
        if self.touch(name)? {
            return Ok(false);
        }
        self.put_bytes(self.object_key(name), Bytes::from(sealed)).map_err(|e| self.core_err(&e, "storing", name))?;
        Ok(true)
    }

    fn open(&self, name: &str) -> casebridge_core::Result<Option<(u64, Box<dyn Read + Send>)>> {
        Self::checked_name(name, "reading")?;
        let store = Arc::clone(&self.store);
        let key = self.object_key(name);
        let got = self.run(async move { store.get(&key).await }).map_err(|e| CoreError::objects("reading", name, e))?;
        match got {
            Ok(got) => {
                let len = got.meta.size;
                Ok(Some((len, Box::new(stream_reader(self.handle(), got)))))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.core_err(&e, "reading", name)),
        }
    }

    fn exists(&self, name: &str) -> casebridge_core::Result<bool> {
        if !is_object_name(name) {
            return Ok(false);
        }
        Ok(self.head(self.object_key(name)).map_err(|e| self.core_err(&e, "looking up", name))?.is_some())
    }

    fn touch(&self, name: &str) -> casebridge_core::Result<bool> {
        if !self.exists(name)? {
            return Ok(false);
        }
        self.put_bytes(self.marker_key(name), Bytes::new()).map_err(|e| self.core_err(&e, "refreshing", name))?;
        Ok(true)
    }

    fn list(&self) -> casebridge_core::Result<Vec<ObjectEntry>> {
        let listing = |dir: &str| {
            self.list_keys(self.key(dir)).map_err(|e| CoreError::objects("listing", "", self.classify(&e, "listing", "objects".into())))
        };
        let markers: BTreeMap<String, SystemTime> =
            listing("held")?.into_iter().filter_map(|m| Some((m.location.filename()?.to_string(), m.last_modified.into()))).collect();
        let mut out: Vec<ObjectEntry> = listing("objects")?
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                let own: SystemTime = m.last_modified.into();
                let modified = markers.get(&name).map_or(own, |t| own.max(*t));
                Some(ObjectEntry { name, size: m.size, modified })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove_if_older(&self, name: &str, cutoff: SystemTime) -> casebridge_core::Result<Option<u64>> {
        if !is_object_name(name) {
            return Ok(None);
        }
        let Some((size, own)) = self.head(self.object_key(name)).map_err(|e| self.core_err(&e, "looking up", name))? else {
            return Ok(None);
        };
        let marker = self.head(self.marker_key(name)).map_err(|e| self.core_err(&e, "looking up", name))?;
        let modified = marker.map_or(own, |(_, t)| own.max(t));
        if modified >= cutoff {
            return Ok(None);
        }
        self.delete_key(self.object_key(name)).map_err(|e| self.core_err(&e, "removing", name))?;
        self.delete_key(self.marker_key(name)).map_err(|e| self.core_err(&e, "removing", name))?;
        Ok(Some(size))
    }

    /// Crypto-shredding in a bucket: every key the content has is deleted, whatever its age:
    /// its marker first (`held/<name>`, even when the object is gone already), then the sealed
    /// object (`objects/<name>`, which holds the wrapped item key), so an interrupted shred
    /// leaves at most the object, which the store's listing still finds and a later shred
    /// destroys. S3 cannot overwrite in place: a bucket that keeps old versions keeps the key
    /// (docs/DEPLOY.md says to keep versioning off or expire noncurrent versions).
    fn shred(&self, name: &str) -> casebridge_core::Result<Option<u64>> {
        if !is_object_name(name) {
            return Ok(None);
        }
        let held = self.head(self.object_key(name)).map_err(|e| self.core_err(&e, "looking up", name))?;
        self.delete_key(self.marker_key(name)).map_err(|e| self.core_err(&e, "removing", name))?;
        self.delete_key(self.object_key(name)).map_err(|e| self.core_err(&e, "removing", name))?;
        Ok(held.map(|(size, _)| size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_what_is_wrong() {
        let ok: S3Location = "s3://evidence-bucket/agency/one/".parse().unwrap();
        assert_eq!(ok, S3Location { bucket: "evidence-bucket".into(), prefix: "agency/one".into() });
        let root: S3Location = "s3://bkt".parse().unwrap();
        assert_eq!(root.prefix, "");
        for (bad, says) in [
            ("https://bucket", "s3://"),
            ("s3://", "empty"),
            ("s3:///prefix", "empty"),
            ("s3://Bucket", "lowercase"),
            ("s3://ab", "3 to 63"),
            ("s3://bucket/../x", "prefix"),
            ("s3://bucket/a//b", "prefix"),
            ("s3://bucket/a b", "prefix"),
        ] {
            let err = bad.parse::<S3Location>().unwrap_err().to_string();
            assert!(err.contains(says) && err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn the_secret_is_never_printed() {
        let cfg = S3Config::new(Some("http://127.0.0.1:1".into()), "key-id".into(), "very-secret-value".into(), None);
        assert!(!format!("{cfg:?}").contains("very-secret-value"));
        let s3 = S3Objects::new("s3://bucket", &cfg).unwrap();
        assert!(!format!("{s3:?}").contains("very-secret-value"));
    }

    #[test]
    fn endpoints_that_are_not_http_urls_are_refused() {
        for url in ["ftp://host", "not a url"] {
            let cfg = S3Config::new(Some(url.into()), "k".into(), "s".into(), None);
            let err = S3Objects::new("s3://bucket", &cfg).unwrap_err().to_string();
            assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
        }
    }
}
