//! The real [`Transport`]: HTTPS with reqwest and rustls, pinned to the agency's certificate.
//!
//! - Only `https://` addresses; the TLS configuration trusts exactly the certificate whose
//!   SHA-256 fingerprint came with the invite code (see `pin.rs`).
//! - Members authenticate with their key: `POST /v1/auth/challenge`, then `POST
//!   /v1/auth/session` with the signature over `AUTH_CONTEXT || agency_id || nonce`. The bearer
//!   token is cached until shortly before it expires; a 401 re-authenticates once. An error
//!   answer while signing in becomes [`SyncError::Authentication`].
//! - Error answers `{"error": {code, message}}` become [`SyncError::Server`] (or
//!   [`SyncError::Conflict`] for 409, with the upload state when the answer carries one);
//!   connection failures become [`SyncError::Connection`].
//! - Timeouts: 10 s to connect, 120 s per request (content downloads: 120 s without data).
//! - The token is never logged, printed or put in an error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use casebridge_protocol::{
    auth_message, Challenge, ChallengeRequest, Document, EnrolRequest, EnrolResponse, ErrorBody, Feed, Health, Session, SessionRequest,
    UploadBegin, UploadOutcome, UploadState, AUTH_CONTEXT, MAX_FEED_PAGE,
};
use chrono::{DateTime, Utc};
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::pin;
use crate::{Result, SyncError, Transport};

/// How long an idle connection is kept for reuse (below the endpoint's idle timeout).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one request, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// A session token is renewed this long before the server says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);
/// Largest JSON answer read (a feed page of [`MAX_FEED_PAGE`] envelopes fits many times over).
const MAX_JSON_ANSWER: usize = 64 * 1024 * 1024;
/// Largest error answer read.
const MAX_ERROR_ANSWER: usize = 64 * 1024;
/// Content downloads may take long; they fail only when no data arrives for [`REQUEST_TIMEOUT`].
const CONTENT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Signs `context || message` with the member's key (the CLI wraps `Store::sign_detached`).
pub type Signer = Arc<dyn Fn(&[u8], &[u8]) -> [u8; 64] + Send + Sync>;

/// Who the client is: the member's ids and public key, and a way to sign with the private key
/// (which never enters this crate).
#[derive(Clone)]
pub struct Auth {
    /// The agency the member belongs to (goes into the signed message).
    pub agency_id: Uuid,
    /// The member.
    pub member_id: Uuid,
    /// The member's Ed25519 public key, hex.
    pub key_hex: String,
    /// Signs `context || message`.
    pub signer: Signer,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("agency_id", &self.agency_id).field("member_id", &self.member_id).finish_non_exhaustive()
    }
}

/// A bearer token and when it stops working. Not `Debug`, wiped on drop.
struct Token {
    value: Zeroizing<String>,
    expires_at: DateTime<Utc>,
}

/// A reqwest client pinned to one endpoint.
#[derive(Clone)]
struct Pinned {
    http: reqwest::Client,
    /// `https://host:port` (no trailing slash).
    base: String,
}

impl Pinned {
    fn new(url: &str, cert_fp: &str) -> Result<Pinned> {
        let base = check_url(url)?;
        let tls = pin::pinned_client_config(cert_fp)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            // Pinning makes a proxy harmless, but the endpoint is reached directly: a proxy set
            // for other traffic must not swallow the agency's address (often a LAN address).
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            // The endpoint closes a connection idle for its idle timeout (60 s by default):
            // let go of idle ones sooner, so a request is never sent on one it just closed.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .read_timeout(REQUEST_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("casebridge-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::config(format!("cannot set up the HTTPS client: {}", chain(&e))))?;
        Ok(Pinned { http, base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends; maps transport failures. The answer may be an error status.
    async fn send_raw(&self, request: RequestBuilder) -> Result<Response> {
        request.send().await.map_err(|e| self.transport_error(e))
    }

    /// Sends; maps transport failures and error statuses.
    async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let response = self.send_raw(request).await?;
        self.check(response).await
    }

    async fn check(&self, response: Response) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        // The error body is informative only: if reading it fails, the status still speaks.
        let body = self.read_limited(response, MAX_ERROR_ANSWER).await.unwrap_or_default();
        Err(error_from_answer(status, &body))
    }

    async fn json<T: DeserializeOwned>(&self, response: Response) -> Result<T> {
        let body = self.read_limited(response, MAX_JSON_ANSWER).await?;
        serde_json::from_slice(&body)
            .map_err(|e| SyncError::protocol(format!("expected a {} from {}: {e}", short_type_name::<T>(), self.base)))
    }

    async fn read_limited(&self, mut response: Response, max: usize) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > max {
                return Err(SyncError::protocol(format!("an answer from {} is larger than {max} bytes", self.base)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response = self.send(self.http.get(self.url(path))).await?;
        self.json(response).await
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let response = self.send(self.http.post(self.url(path)).json(body)).await?;
        self.json(response).await
    }

    fn transport_error(&self, e: reqwest::Error) -> SyncError {
        if let Some(m) = pin::find_mismatch(&e) {
            return SyncError::CertificateMismatch { expected: m.expected, presented: m.presented };
        }
        if e.is_builder() {
            return SyncError::config(format!("cannot build a request to {}: {}", self.base, chain(&e.without_url())));
        }
        if e.is_decode() {
            return SyncError::protocol(format!("unreadable answer from {}: {}", self.base, chain(&e.without_url())));
        }
        let what = if e.is_timeout() { "timed out" } else { "failed" };
        SyncError::Connection { message: format!("{} ({what}): {}", self.base, chain(&e.without_url())) }
    }
}

/// An error's message with its sources, `a: b: c`, repeating no part.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Checks and normalises an endpoint address: `https://host[:port]`, no trailing slash.
fn check_url(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| SyncError::config(format!("the agency address {url:?} is not a valid address ({e}); use https://HOST:PORT")))?;
    if parsed.scheme() != "https" {
        return Err(SyncError::config(format!(
            "the agency address {url:?} is not an https:// address; the endpoint is only reached over TLS"
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(SyncError::config(format!("the agency address {url:?} names no host")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SyncError::config(format!("the agency address {url:?} must be just https://HOST:PORT")));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Maps an error answer to a [`SyncError`], keeping status, code and message.
fn error_from_answer(status: StatusCode, body: &[u8]) -> SyncError {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let detail = value.as_ref().and_then(|v| serde_json::from_value::<ErrorBody>(v.clone()).ok()).map(|b| b.error);
    let (code, message) = match detail {
        Some(d) => (d.code, d.message),
        None => (
            default_code(status).to_string(),
            format!("HTTP {} {} without an error description", status.as_u16(), status.canonical_reason().unwrap_or("")),
        ),
    };
    if status == StatusCode::CONFLICT {
        let state = value.as_ref().and_then(find_state);
        return SyncError::Conflict { code, message, state };
    }
    SyncError::Server { status: status.as_u16(), code, message }
}

/// A 409 may carry the upload's state: as the whole body, or under `state` / `upload`
/// (next to `error`, or inside it).
fn find_state(v: &serde_json::Value) -> Option<UploadState> {
    [Some(v), v.get("state"), v.get("upload"), v.get("error").and_then(|e| e.get("state"))]
        .into_iter()
        .flatten()
        .find_map(|c| serde_json::from_value::<UploadState>(c.clone()).ok())
}

fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "too_large",
        422 => "unprocessable",
        429 => "rate_limited",
        500..=599 => "server_error",
        _ => "http_error",
    }
}

/// Checks a content hash before it goes into a URL.
fn check_sha256(sha256: &str) -> Result<String> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha256.to_ascii_lowercase())
    } else {
        Err(SyncError::config(format!("{sha256:?} is not a SHA-256 content hash (64 hex digits)")))
    }
}

/// `GET /v1/health` on an endpoint, without a member identity.
pub async fn health(url: &str, cert_fp: &str) -> Result<Health> {
    Pinned::new(url, cert_fp)?.get_json("/v1/health").await
}

/// `POST /v1/enrol`: sends the invite secret and the signed credential request to the endpoint
/// named by the invite code, pinned to the certificate fingerprint it carries.
pub async fn enrol(url: &str, cert_fp: &str, request: &EnrolRequest) -> Result<EnrolResponse> {
    Pinned::new(url, cert_fp)?.post_json("/v1/enrol", request).await
}

/// The HTTPS transport of an enrolled member. Cheap to clone (clones share the connection pool
/// and the session).
#[derive(Clone)]
pub struct HttpTransport {
    client: Pinned,
    auth: Arc<Auth>,
    session: Arc<tokio::sync::Mutex<Option<Token>>>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport").field("endpoint", &self.client.base).field("auth", &self.auth).finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// A transport for `url` (`https://HOST:PORT`), trusting only the certificate whose DER
    /// SHA-256 is `cert_fp` (hex), authenticating as `auth`. Nothing is sent yet.
    pub fn new(url: &str, cert_fp: &str, auth: Auth) -> Result<HttpTransport> {
        Ok(HttpTransport { client: Pinned::new(url, cert_fp)?, auth: Arc::new(auth), session: Arc::new(tokio::sync::Mutex::new(None)) })
    }

    /// The endpoint address, normalised.
    pub fn endpoint(&self) -> &str {
        &self.client.base
    }

    /// `POST /v1/held` (staff only): which of `sha256` the agency already holds, asked in
    /// batches of [`casebridge_protocol::MAX_HELD_QUERY`].
    pub async fn held(&self, sha256: &[String]) -> Result<Vec<String>> {
        let url = self.client.url("/v1/held");
        let mut held = Vec::new();
        for batch in sha256.chunks(casebridge_protocol::MAX_HELD_QUERY) {
            let req = casebridge_protocol::HeldRequest { sha256: batch.to_vec() };
            let answer: casebridge_protocol::HeldResponse = self.authed_json(|c| c.post(&url).json(&req)).await?;
            held.extend(answer.held);
        }
        Ok(held)
    }

    /// Forgets the cached session; the next request authenticates again.
    pub async fn sign_out(&self) {
        *self.session.lock().await = None;
    }

    /// A valid bearer token: the cached one, or a new session.
    async fn token(&self, renew: bool) -> Result<Zeroizing<String>> {
        let mut session = self.session.lock().await;
        let margin = chrono::Duration::from_std(TOKEN_MARGIN).unwrap_or_else(|_| chrono::Duration::zero());
        if let Some(token) = session.as_ref().filter(|t| !renew && t.expires_at - margin > Utc::now()) {
            return Ok(token.value.clone());
        }
        *session = None;
        // An answer refusing to sign in is about this member, never about what it sends: it
        // is marked so, and no bundle is set aside for it (see `SyncError::is_refusal`).
        let token = self.authenticate().await.map_err(|e| match e {
            e @ SyncError::Server { .. } => SyncError::Authentication { error: Box::new(e) },
            e => e,
        })?;
        let value = token.value.clone();
        *session = Some(token);
        Ok(value)
    }

    async fn authenticate(&self) -> Result<Token> {
        let auth = &self.auth;
        let challenge: Challenge =
            self.client.post_json("/v1/auth/challenge", &ChallengeRequest { member_id: auth.member_id, key: auth.key_hex.clone() }).await?;
        if challenge.agency_id != auth.agency_id {
            return Err(SyncError::protocol(format!(
                "the endpoint {} serves agency {}, but this member belongs to agency {}",
                self.client.base, challenge.agency_id, auth.agency_id
            )));
        }
        let nonce = hex::decode(&challenge.nonce)
            .ok()
            .filter(|n| n.len() == 32)
            .ok_or_else(|| SyncError::protocol("the authentication challenge's nonce is not 32 bytes of hex"))?;
        let signature = (auth.signer)(AUTH_CONTEXT, &auth_message(auth.agency_id, &nonce));
        let session: Session = self
            .client
            .post_json("/v1/auth/session", &SessionRequest { challenge_id: challenge.challenge_id, signature: hex::encode(signature) })
            .await?;
        tracing::debug!(endpoint = %self.client.base, role = session.role.as_str(), "authenticated");
        Ok(Token { value: Zeroizing::new(session.token), expires_at: session.expires_at.with_timezone(&Utc) })
    }

    /// Sends an authenticated request built by `build`; on a 401, authenticates again once.
    async fn authed(&self, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Result<Response> {
        let token = self.token(false).await?;
        let response = self.client.send_raw(build(&self.client.http).bearer_auth(token.as_str())).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.client.check(response).await;
        }
        drop(response);
        tracing::debug!(endpoint = %self.client.base, "session refused; authenticating again");
        let token = self.token(true).await?;
        self.client.send(build(&self.client.http).bearer_auth(token.as_str())).await
    }

    async fn authed_json<T: DeserializeOwned>(&self, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Result<T> {
        let response = self.authed(build).await?;
        self.client.json(response).await
    }
}

impl Transport for HttpTransport {
    async fn health(&self) -> Result<Health> {
        self.client.get_json("/v1/health").await
    }

    async fn enrol(&self, request: EnrolRequest) -> Result<EnrolResponse> {
        self.client.post_json("/v1/enrol", &request).await
    }

    async fn revocation(&self) -> Result<Document> {
        self.client.get_json("/v1/revocation").await
    }

    async fn begin(&self, begin: UploadBegin) -> Result<UploadState> {
        let url = self.client.url("/v1/uploads");
        self.authed_json(|c| c.post(&url).json(&begin)).await
    }

    async fn status(&self, upload_id: Uuid) -> Result<UploadState> {
        let url = self.client.url(&format!("/v1/uploads/{upload_id}"));
        self.authed_json(|c| c.get(&url)).await
    }

    async fn put(&self, upload_id: Uuid, offset: u64, chunk: Bytes) -> Result<UploadState> {
        let url = self.client.url(&format!("/v1/uploads/{upload_id}?offset={offset}"));
        self.authed_json(|c| c.put(&url).header(CONTENT_TYPE, "application/octet-stream").body(chunk.clone())).await
    }

    async fn complete(&self, upload_id: Uuid) -> Result<UploadOutcome> {
        let url = self.client.url(&format!("/v1/uploads/{upload_id}/complete"));
        self.authed_json(|c| c.post(&url)).await
    }

    async fn feed(&self, after: u64, limit: usize) -> Result<Feed> {
        let limit = limit.clamp(1, MAX_FEED_PAGE);
        let url = self.client.url(&format!("/v1/feed?after={after}&limit={limit}"));
        self.authed_json(|c| c.get(&url)).await
    }

    async fn content(&self, sha256: &str, out: &mut (dyn AsyncWrite + Unpin + Send)) -> Result<u64> {
        let sha256 = check_sha256(sha256)?;
        let url = self.client.url(&format!("/v1/content/{sha256}"));
        let mut response = self.authed(|c| c.get(&url).timeout(CONTENT_TIMEOUT)).await?;
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| self.client.transport_error(e))? {
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| SyncError::io("write", format!("content {sha256}"), e))?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(|e| SyncError::io("write", format!("content {sha256}"), e))?;
        if hex::encode(hasher.finish()) != sha256 {
            return Err(SyncError::protocol(format!("the content sent for {sha256} does not match that hash; it must be discarded")));
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_plain_https_addresses_are_accepted() {
        assert_eq!(check_url("https://127.0.0.1:8443/").unwrap(), "https://127.0.0.1:8443");
        assert_eq!(check_url(" https://agency.example ").unwrap(), "https://agency.example");
        for bad in ["http://127.0.0.1:8443", "ftp://x", "127.0.0.1:8443", "https://u:p@host", "https://host/?a=b", ""] {
            assert!(matches!(check_url(bad), Err(SyncError::Config { .. })), "{bad} must be refused");
        }
        assert!(check_url("http://x").unwrap_err().to_string().contains("not an https://"));
    }

    #[test]
    fn error_answers_keep_status_code_and_message() {
        let body = br#"{"error":{"code":"forbidden","message":"member revoked"}}"#;
        match error_from_answer(StatusCode::FORBIDDEN, body) {
            SyncError::Server { status, code, message } => {
                assert_eq!((status, code.as_str(), message.as_str()), (403, "forbidden", "member revoked"));
            }
            other => panic!("{other:?}"),
        }
        let e = error_from_answer(StatusCode::BAD_GATEWAY, b"<html>proxy</html>");
        assert!(e.is_retryable());
        assert_eq!(e.code(), "server_error");
        assert!(e.to_string().contains("502"), "{e}");
    }

    #[test]
    fn conflicts_carry_the_upload_state_when_given() {
        let id = Uuid::nil();
        let state = serde_json::json!({"upload_id": id, "received": 10, "size": 20, "complete": false, "receipt": null});
        for body in [
            serde_json::json!({"error": {"code": "offset_mismatch", "message": "m"}, "state": state}),
            serde_json::json!({"error": {"code": "offset_mismatch", "message": "m", "state": state}}),
            state.clone(),
        ] {
            match error_from_answer(StatusCode::CONFLICT, body.to_string().as_bytes()) {
                SyncError::Conflict { state: Some(s), .. } => assert_eq!(s.received, 10),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            error_from_answer(StatusCode::CONFLICT, br#"{"error":{"code":"c","message":"m"}}"#),
            SyncError::Conflict { state: None, .. }
        ));
    }

    #[test]
    fn content_hashes_are_checked_before_use() {
        assert!(check_sha256(&"A".repeat(64)).is_ok());
        assert!(check_sha256("../../etc/passwd").is_err());
        assert!(check_sha256(&"a".repeat(63)).is_err());
    }
}
