//! Administration: making invites and revoking members, both in-process (no endpoint running:
//! the CLI calls [`create_invite`] and [`revoke`] directly) and through the running endpoint's
//! Unix socket `AGENCY/admin.sock` (mode 0600, same user only), which [`call`] reaches.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `POST /admin/invite` | [`InviteRequest`] | [`InviteResponse`] |
//! | `POST /admin/revoke` | [`RevokeRequest`] | [`RevokeResponse`] |
//! | `GET /admin/status` | | [`AdminStatus`] |
//! | `GET /admin/issued` | | every credential issued (sealed at rest: read by the unlocked endpoint) |
//! | `POST /admin/gc` | | [`crate::GcReport`]: one cleanup now (expired uploads, orphan objects) |
//! | `POST /admin/check` | [`CheckRequest`] | [`crate::AgencyCheck`]: the whole agency checked (store write lock held meanwhile) |
//! | `POST /admin/retention` | [`crate::retention::RetentionRequest`] | [`crate::RetentionReport`]: the retention run (store write lock held meanwhile) |
//! | `POST /admin/retention/rules` | `casebridge_trust::RulesFile` | `casebridge_trust::RetentionRules`: the rules signed as the next version (422 `retention_rules_invalid`) |
//! | `GET /admin/access-log` | | [`crate::endpoint_log::AccessLogReport`]: the endpoint's own access log, verified |
//!
//! A revoke through the socket updates the endpoint's revocation list in memory, so it takes
//! effect on the next request.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Method, Request};
use axum::routing::{get, post};
use axum::{Json, Router};
use casebridge_core::Passphrase;
use casebridge_protocol::{ErrorBody, InviteRequest, InviteResponse, RevokeRequest, RevokeResponse, MAX_JSON_BODY};
use casebridge_trust::RevocationList;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{self, ApiError, ApiJson, ApiResult};
use crate::clock::{Clock, SystemClock};
use crate::error::{AgencyError, Result};
use crate::invites;
use crate::state::{blocking, read, AppState};

/// The admin socket inside the agency directory.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// Longest revocation reason accepted.
pub const MAX_REASON_CHARS: usize = 500;

/// `GET /admin/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminStatus {
    /// The agency.
    pub agency_id: Uuid,
    /// Its name.
    pub name: String,
    /// The endpoint's address.
    pub url: String,
    /// The serving process.
    pub pid: u32,
    /// SHA-256 of the TLS certificate, hex.
    pub cert_fp: String,
    /// Current revocation list version.
    pub revocation_version: u64,
    /// Credentials issued.
    pub credentials: usize,
    /// Sessions open now.
    pub sessions: usize,
    /// TLS connections open now.
    #[serde(default)]
    pub connections: usize,
    /// Of them, connections that have not carried an authenticated request.
    #[serde(default)]
    pub connections_unauthenticated: usize,
}

/// Makes an invite without a running endpoint (the TLS certificate must exist). `url_default`
/// goes into the code when the request names no URL.
pub fn create_invite(dir: &Path, req: &InviteRequest, url_default: &str) -> Result<InviteResponse> {
    let cert_fp = crate::tls::cert_fingerprint(dir)?;
    let records = crate::deployment::records(dir)?;
    invites::create(dir, records.as_ref(), req, url_default, &cert_fp, SystemClock.now())
}

/// Revokes a member without a running endpoint (unlocks the agency: fails while it serves).
pub fn revoke(dir: &Path, passphrase: &Passphrase, req: &RevokeRequest) -> Result<RevokeResponse> {
    check_reason(req)?;
    let agency = crate::deployment::open_agency(dir, passphrase)?;
    let list = agency.revoke(req.member_id, req.reason.clone())?;
    Ok(revoke_response(&list))
}

fn check_reason(req: &RevokeRequest) -> Result<()> {
    match &req.reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(AgencyError::Invalid(format!("the reason is longer than {MAX_REASON_CHARS} characters")))
        }
        _ => Ok(()),
    }
}

fn revoke_response(list: &RevocationList) -> RevokeResponse {
    let members: BTreeSet<Uuid> = list.entries.iter().map(|e| e.member_id).collect();
    RevokeResponse { version: list.version, revoked: members.len() }
}

/// The admin router served on the Unix socket.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/admin/invite", post(invite_route))
        .route("/admin/revoke", post(revoke_route))
        .route("/admin/status", get(status_route))
        .route("/admin/issued", get(issued_route))
        .route("/admin/gc", post(gc_route))
        .route("/admin/check", post(check_route))
        .route("/admin/retention", post(retention_route))
        .route("/admin/retention/rules", post(retention_rules_route))
        .route("/admin/access-log", get(access_log_route))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn(api::access_log))
        .with_state(state)
}

async fn invite_route(State(st): State<Arc<AppState>>, ApiJson(req): ApiJson<InviteRequest>) -> ApiResult<Json<InviteResponse>> {
    blocking(move || Ok(invites::create(&st.dir, st.agency.records(), &req, &st.url(), &st.cert_fp, st.now())?)).await.map(Json)
}

async fn revoke_route(State(st): State<Arc<AppState>>, ApiJson(req): ApiJson<RevokeRequest>) -> ApiResult<Json<RevokeResponse>> {
    check_reason(&req)?;
    blocking(move || {
        if !read(&st.issued).iter().any(|c| c.member_id == req.member_id) {
            return Err(ApiError::not_found(format!("no credential was issued to member {}", req.member_id)));
        }
        st.agency.revoke(req.member_id, req.reason.clone()).map_err(ApiError::internal)?;
        let current = st.agency.current_revocation().map_err(ApiError::internal)?;
        let answer = revoke_response(&current.0);
        st.set_revocation(current);
        tracing::info!(member = %req.member_id, version = answer.version, "member revoked");
        Ok(answer)
    })
    .await
    .map(Json)
}

async fn gc_route(State(st): State<Arc<AppState>>) -> ApiResult<Json<crate::gc::GcReport>> {
    blocking(move || crate::gc::collect(&st)).await.map(Json)
}

/// The body of `POST /admin/check`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CheckRequest {
    /// Re-hash every object (slow: reads all content).
    #[serde(default)]
    pub read_data: bool,
}

async fn check_route(State(st): State<Arc<AppState>>, ApiJson(req): ApiJson<CheckRequest>) -> ApiResult<Json<crate::check::AgencyCheck>> {
    blocking(move || crate::check::check(&st, req.read_data)).await.map(Json)
}

async fn retention_route(
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<crate::retention::RetentionRequest>,
) -> ApiResult<Json<crate::retention::RetentionReport>> {
    blocking(move || crate::retention::run(&st, req.dry_run).map_err(ApiError::from)).await.map(Json)
}

async fn retention_rules_route(
    State(st): State<Arc<AppState>>,
    ApiJson(rules): ApiJson<casebridge_trust::RulesFile>,
) -> ApiResult<Json<casebridge_trust::RetentionRules>> {
    blocking(move || match st.agency.set_retention(&rules) {
        Ok((signed, _)) => Ok(signed),
        Err(e) if e.reason == casebridge_trust::Reason::RetentionRulesInvalid => {
            Err(ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.reason.code(), e.message))
        }
        Err(e) => Err(crate::api::records_error(e)),
    })
    .await
    .map(Json)
}

async fn access_log_route(State(st): State<Arc<AppState>>) -> ApiResult<Json<crate::endpoint_log::AccessLogReport>> {
    blocking(move || Ok(crate::endpoint_log::report(&st.agency))).await.map(Json)
}

async fn issued_route(State(st): State<Arc<AppState>>) -> Json<Vec<casebridge_trust::NamedCredential>> {
    let names = read(&st.names);
    Json(
        read(&st.issued)
            .iter()
            .map(|c| casebridge_trust::NamedCredential { credential: c.clone(), name: names.get(&c.serial).map(|d| d.name.clone()) })
            .collect(),
    )
}

async fn status_route(State(st): State<Arc<AppState>>) -> Json<AdminStatus> {
    let (sessions, credentials) = st.counts().await.unwrap_or_default();
    let (connections, connections_unauthenticated) = st.conns.counts();
    Json(AdminStatus {
        agency_id: st.agency_id(),
        name: st.public.name.clone(),
        url: st.url(),
        pid: std::process::id(),
        cert_fp: st.cert_fp.clone(),
        revocation_version: read(&st.revocation).0.version,
        credentials,
        sessions,
        connections,
        connections_unauthenticated,
    })
}

/// Calls the running endpoint of the agency in `dir` over its admin socket: `method` and
/// `path` (e.g. `"POST"`, `"/admin/invite"`) with an optional JSON body. `Ok(None)` when no
/// endpoint is listening (then do the work in-process); an error answer is
/// [`AgencyError::Admin`].
pub async fn call(dir: &Path, method: &str, path: &str, json: Option<serde_json::Value>) -> Result<Option<serde_json::Value>> {
    let socket = dir.join(ADMIN_SOCKET);
    let stream = match tokio::net::UnixStream::connect(&socket).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => return Ok(None),
        Err(e) => return Err(AgencyError::io("connecting to", &socket)(e)),
    };
    let failed = |e: &dyn std::fmt::Display| AgencyError::Internal(format!("admin socket {}: {e}", socket.display()));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| failed(&e))?;
    let driver = tokio::spawn(conn);
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| AgencyError::Invalid(format!("{method:?} is not an HTTP method")))?;
    let builder = Request::builder().method(method).uri(path).header(header::HOST, "localhost");
    let request = match json {
        Some(v) => {
            let body = serde_json::to_vec(&v).map_err(|e| failed(&e))?;
            builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body))
        }
        None => builder.body(Body::empty()),
    }
    .map_err(|e| failed(&e))?;
    let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
    let status = response.status();
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), 16 * 1024 * 1024).await.map_err(|e| failed(&e))?;
    drop(sender);
    let _ = driver.await;
    if !status.is_success() {
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => ("unknown".to_string(), String::from_utf8_lossy(&bytes).into_owned()),
        };
        return Err(AgencyError::Admin { status: status.as_u16(), code, message });
    }
    let value = serde_json::from_slice(&bytes).map_err(|e| failed(&e))?;
    Ok(Some(value))
}
