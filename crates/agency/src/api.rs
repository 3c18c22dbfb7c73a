//! The HTTP edge shared by the `/v1` and admin routers: the JSON error answer, extractors whose
//! rejections are JSON [`ErrorBody`]s, the 404/405 fallbacks and the access log.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use casebridge_protocol::ErrorBody;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// An error answered to a client: a status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub(crate) fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.into(), message: message.into() }
    }

    /// 400 `bad_request`.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthenticated`.
    pub(crate) fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403 with a code.
    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 `not_found`.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 with a code.
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 429 `rate_limited`.
    pub(crate) fn rate_limited(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    /// 500: the cause is logged, the client learns nothing about it.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the endpoint failed to answer; the failure is in its log")
    }

    /// 503 `unavailable`: the cluster's database or object store cannot be reached or refused
    /// for now (the cause is logged); nothing of the request was kept half, and the client
    /// retries (`Retry-After`).
    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "storage unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the agency's storage is unavailable for a moment: nothing of this request was kept half; try again shortly",
        )
    }

    /// 507 `insufficient_storage`: the endpoint's disk is full. The cause is logged; what the
    /// request would have stored was not kept, and what was stored before is unharmed.
    pub(crate) fn insufficient_storage(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "the disk is full");
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            "the endpoint's disk is full: nothing of this request was kept and what you sent before is safe; \
             try again later (the agency has been told in its log)",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// An extractor rejection (status and text from axum) as a JSON error. Every status axum
    /// gives for a malformed request is a 4xx; the code names the class.
    fn from_rejection(status: StatusCode, text: String) -> ApiError {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            s if s.is_server_error() => return ApiError::internal(text),
            _ => "bad_request",
        };
        // axum answers 422 for well-formed JSON of the wrong shape; for this API that is a
        // malformed request (422 is reserved for bundles that fail verification).
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
        ApiError::new(status, code, text)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody::new(self.code, self.message))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(format!("a worker task failed: {e}"))
    }
}

/// True for "no space left on device" and "disk quota exceeded".
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28 | 122))
}

/// True when an error's text carries a full disk's OS error (errors from the bundle reader
/// and the store arrive as text; on Linux they end in "(os error 28)" or "(os error 122)").
pub(crate) fn is_disk_full_text(text: &str) -> bool {
    text.contains("(os error 28)") || text.contains("(os error 122)")
}

/// An agency record store's or the bundle reader's failure (casebridge-trust's errors carry
/// I/O failures as text): a full disk is 507; a cluster's database (`Reason::Unavailable`) or
/// object store (core's object-storage errors from the bucket name "the object store") that
/// does not answer is 503, and the member retries; anything else the endpoint's own failure
/// (500).
pub(crate) fn records_error(e: casebridge_trust::TrustError) -> ApiError {
    if is_disk_full_text(&e.message) {
        ApiError::insufficient_storage(e.message)
    } else if e.reason == casebridge_trust::Reason::Unavailable || e.message.contains("the object store") {
        ApiError::unavailable(e.message)
    } else {
        ApiError::internal(e)
    }
}

/// Handler result.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// How long a JSON request body may take to arrive (a request extension the server sets from
/// its limits).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyTimeout(pub std::time::Duration);

impl Default for BodyTimeout {
    fn default() -> BodyTimeout {
        BodyTimeout(crate::limits::Limits::default().body_timeout())
    }
}

/// A JSON request body; a malformed body, a wrong content type or an oversized body is
/// answered with a JSON error.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req.extensions().get::<BodyTimeout>().copied().unwrap_or_default().0;
        match tokio::time::timeout(limit, Json::<T>::from_request(req, state)).await {
            Ok(Ok(Json(v))) => Ok(ApiJson(v)),
            Ok(Err(r)) => Err(ApiError::from_rejection(r.status(), r.body_text())),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the request body did not arrive whole within {} seconds", limit.as_secs()),
            )),
        }
    }
}

/// Path parameters; a malformed one (not a UUID...) is a JSON 400.
pub(crate) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(ApiError::from_rejection(r.status(), r.body_text())),
        }
    }
}

/// Query parameters; a malformed query is a JSON 400.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(ApiError::from_rejection(r.status(), r.body_text())),
        }
    }
}

/// The body of an upload chunk, not yet read: `Content-Type: application/octet-stream`, at most
/// `limit` bytes. The handler streams it to disk, so the endpoint never holds a whole chunk in
/// memory. A declared `Content-Length` over the limit is refused before any byte is read; a
/// body without one is counted as it streams ([`OctetBody::too_large`]).
pub(crate) struct OctetBody(pub axum::body::Body);

impl OctetBody {
    /// The largest chunk body, in bytes.
    pub(crate) const LIMIT: usize = casebridge_protocol::MAX_CHUNK;

    /// The answer for a body over [`OctetBody::LIMIT`].
    pub(crate) fn too_large() -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("a chunk is at most {} bytes; send smaller chunks", Self::LIMIT))
    }
}

impl<S: Send + Sync> FromRequest<S> for OctetBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/octet-stream") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send upload chunks with Content-Type: application/octet-stream",
            ));
        }
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(|v| v.trim().parse::<u64>());
        match declared {
            Some(Ok(n)) if n > Self::LIMIT as u64 => {
                drain(&mut req.into_body().into_data_stream(), Self::LIMIT).await;
                return Err(Self::too_large());
            }
            Some(Err(_)) => return Err(ApiError::bad_request("the Content-Length header is not a number of bytes")),
            _ => {}
        }
        Ok(OctetBody(req.into_body()))
    }
}

/// Reads and discards up to `max` bytes of a refused body, so that a client still sending it
/// gets to read the answer instead of a reset connection (the connection closes after the
/// answer when more was left).
pub(crate) async fn drain(stream: &mut axum::body::BodyDataStream, max: usize) {
    use futures_util::StreamExt;
    let mut read = 0usize;
    while read <= max {
        match stream.next().await {
            Some(Ok(b)) => read = read.saturating_add(b.len()),
            _ => return,
        }
    }
}

/// The 404 answer for unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /v1/openapi.json")
}

/// The 405 answer for a known route with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method; see /v1/openapi.json")
}

/// Where the authentication extractor leaves the member id for the access log.
#[derive(Clone, Default)]
pub(crate) struct LogMember(Arc<OnceLock<Uuid>>);

impl LogMember {
    /// Records the authenticated member of this request.
    pub(crate) fn set(&self, member: Uuid) {
        let _ = self.0.set(member);
    }
}

/// Access log: one line per request with the method, the route template (never the raw
/// path, which holds ids and hashes), the status, the latency and the member, if any. Never
/// headers, tokens, query strings or bodies.
pub(crate) async fn access_log(mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let member = LogMember::default();
    req.extensions_mut().insert(member.clone());
    let start = Instant::now();
    let response = next.run(req).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    let route = route.as_deref().unwrap_or("(no route)");
    match member.0.get() {
        Some(m) => tracing::info!(target: "casebridge_agency::access", %method, route, status, latency_ms, member = %m, "request"),
        None => tracing::info!(target: "casebridge_agency::access", %method, route, status, latency_ms, "request"),
    }
    response
}
