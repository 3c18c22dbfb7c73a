//! The two things the engine needs from the outside world: a way to talk to the endpoint
//! ([`Transport`]) and a way to wait ([`Clock`]). The engine is generic over both, so tests
//! drive it with an in-memory server and a clock that never sleeps.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use casebridge_protocol::{Document, EnrolRequest, EnrolResponse, Feed, Health, UploadBegin, UploadOutcome, UploadState};
use chrono::{DateTime, Utc};
use tokio::io::AsyncWrite;
use uuid::Uuid;

use crate::Result;

/// The `/v1` routes, one method each. [`HttpTransport`](crate::HttpTransport) is the real one.
///
/// Implementations classify failures as [`SyncError`](crate::SyncError): connection problems
/// as `Connection` (retryable), error answers as `Server` / `Conflict` with the server's code.
/// Implementors may write the methods as `async fn`; the futures must be `Send`.
pub trait Transport: Send + Sync {
    /// `GET /v1/health`.
    fn health(&self) -> impl Future<Output = Result<Health>> + Send;

    /// `POST /v1/enrol` (needs no session).
    fn enrol(&self, request: EnrolRequest) -> impl Future<Output = Result<EnrolResponse>> + Send;

    /// `GET /v1/revocation`: the current signed revocation list.
    fn revocation(&self) -> impl Future<Output = Result<Document>> + Send;

    /// `POST /v1/uploads`: begins, or resumes, the upload of a bundle.
    fn begin(&self, begin: UploadBegin) -> impl Future<Output = Result<UploadState>> + Send;

    /// `GET /v1/uploads/{id}`: where an upload stands.
    fn status(&self, upload_id: Uuid) -> impl Future<Output = Result<UploadState>> + Send;

    /// `PUT /v1/uploads/{id}?offset=N`: one chunk.
    fn put(&self, upload_id: Uuid, offset: u64, chunk: Bytes) -> impl Future<Output = Result<UploadState>> + Send;

    /// `POST /v1/uploads/{id}/complete`.
    fn complete(&self, upload_id: Uuid) -> impl Future<Output = Result<UploadOutcome>> + Send;

    /// `GET /v1/feed?after=&limit=`: one page of the feed.
    fn feed(&self, after: u64, limit: usize) -> impl Future<Output = Result<Feed>> + Send;

    /// `GET /v1/content/{sha256}`: streams the content into `out`, returns the byte count.
    /// Fails with `Protocol` if the bytes do not hash to `sha256`; the caller must then discard
    /// what was written.
    fn content(&self, sha256: &str, out: &mut (dyn AsyncWrite + Unpin + Send)) -> impl Future<Output = Result<u64>> + Send;
}

/// Time, injected.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock: `chrono::Utc::now` and `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
