//! The HTTPS transport against a real TLS server on 127.0.0.1:0 (rustls + a small axum agency
//! that follows the `/v1` routes): pinning, authentication, uploads, the feed and content.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use casebridge_protocol::{
    auth_message, Challenge, ChallengeRequest, ChunkQuery, Document, ErrorBody, Feed, FeedQuery, Health, Role, Session, SessionRequest,
    UploadBegin, UploadOutcome, UploadState, AUTH_CONTEXT,
};
use casebridge_sync::{health, Auth, Engine, EngineConfig, HttpTransport, Outbox, RetryPolicy, SyncError, SystemClock, Transport};
use chrono::Utc;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use uuid::Uuid;

#[derive(Default)]
struct Agency {
    agency_id: Uuid,
    member_id: Uuid,
    member_key: Vec<u8>,
    challenges: HashMap<Uuid, Vec<u8>>,
    tokens: HashSet<String>,
    sessions: u32,
    /// upload id → (bundle id, data, size, outcome)
    uploads: HashMap<Uuid, (Uuid, Vec<u8>, u64, Option<UploadOutcome>)>,
    by_bundle: HashMap<Uuid, Uuid>,
    /// PUTs to answer with 503 before taking one.
    unavailable_puts: u32,
    events: Vec<String>,
    content: HashMap<String, Vec<u8>>,
    forbid_feed: bool,
    /// Answer the session request with 403 (a role that may not use the endpoint).
    forbid_sessions: bool,
}

type Shared = Arc<Mutex<Agency>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

fn authorised(agency: &Agency, headers: &HeaderMap) -> bool {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    token.is_some_and(|t| agency.tokens.contains(t))
}

fn unauthenticated() -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in again")
}

fn state_of(id: Uuid, up: &(Uuid, Vec<u8>, u64, Option<UploadOutcome>)) -> UploadState {
    UploadState {
        upload_id: id,
        received: up.1.len() as u64,
        size: up.2,
        complete: up.3.is_some(),
        receipt: up.3.as_ref().map(|o| o.receipt.clone()),
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/v1/health",
            get(|State(s): State<Shared>| async move {
                Json(Health { status: "ok".into(), agency_id: s.lock().unwrap().agency_id, version: "test".into() })
            }),
        )
        .route(
            "/v1/auth/challenge",
            post(|State(s): State<Shared>, Json(req): Json<ChallengeRequest>| async move {
                let mut a = s.lock().unwrap();
                if req.member_id != a.member_id || req.key != hex::encode(&a.member_key) {
                    return error(StatusCode::UNAUTHORIZED, "unauthenticated", "unknown member");
                }
                let (id, nonce) = (Uuid::new_v4(), Uuid::new_v4().as_bytes().repeat(2));
                a.challenges.insert(id, nonce.clone());
                let expires_at = (Utc::now() + chrono::Duration::seconds(60)).fixed_offset();
                Json(Challenge { challenge_id: id, nonce: hex::encode(nonce), agency_id: a.agency_id, expires_at }).into_response()
            }),
        )
        .route(
            "/v1/auth/session",
            post(|State(s): State<Shared>, Json(req): Json<SessionRequest>| async move {
                let mut a = s.lock().unwrap();
                let Some(nonce) = a.challenges.remove(&req.challenge_id) else {
                    return error(StatusCode::UNAUTHORIZED, "unauthenticated", "unknown challenge");
                };
                let message = [AUTH_CONTEXT, &auth_message(a.agency_id, &nonce)].concat();
                let sig = hex::decode(&req.signature).unwrap_or_default();
                if ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &a.member_key).verify(&message, &sig).is_err() {
                    return error(StatusCode::UNAUTHORIZED, "unauthenticated", "bad signature");
                }
                if a.forbid_sessions {
                    return error(StatusCode::FORBIDDEN, "forbidden", "this role cannot use the endpoint");
                }
                let token = Uuid::new_v4().to_string();
                a.tokens.insert(token.clone());
                a.sessions += 1;
                let expires_at = (Utc::now() + chrono::Duration::minutes(15)).fixed_offset();
                Json(Session { token, role: Role::Volunteer, expires_at }).into_response()
            }),
        )
        .route("/v1/revocation", get(|| async { Json(Document { document: "cmV2b2NhdGlvbg".into() }) }))
        .route(
            "/v1/uploads",
            post(|State(s): State<Shared>, headers: HeaderMap, Json(req): Json<UploadBegin>| async move {
                let mut a = s.lock().unwrap();
                if !authorised(&a, &headers) {
                    return unauthenticated();
                }
                let id = *a.by_bundle.entry(req.bundle_id).or_insert_with(Uuid::new_v4);
                let up = a.uploads.entry(id).or_insert((req.bundle_id, Vec::new(), req.size, None));
                Json(state_of(id, up)).into_response()
            }),
        )
        .route(
            "/v1/uploads/{id}",
            put(|State(s): State<Shared>, headers: HeaderMap, Path(id): Path<Uuid>, Query(q): Query<ChunkQuery>, body: Bytes| async move {
                let mut a = s.lock().unwrap();
                if !authorised(&a, &headers) {
                    return unauthenticated();
                }
                if a.unavailable_puts > 0 {
                    a.unavailable_puts -= 1;
                    return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try later");
                }
                let Some(up) = a.uploads.get_mut(&id) else { return error(StatusCode::NOT_FOUND, "not_found", "no such upload") };
                if q.offset != up.1.len() as u64 {
                    let body = serde_json::json!({"error": {"code": "offset_mismatch", "message": "offset is not received"}, "state": state_of(id, up)});
                    return (StatusCode::CONFLICT, Json(body)).into_response();
                }
                up.1.extend_from_slice(&body);
                Json(state_of(id, up)).into_response()
            })
            .get(|State(s): State<Shared>, headers: HeaderMap, Path(id): Path<Uuid>| async move {
                let a = s.lock().unwrap();
                if !authorised(&a, &headers) {
                    return unauthenticated();
                }
                match a.uploads.get(&id) {
                    Some(up) => Json(state_of(id, up)).into_response(),
                    None => error(StatusCode::NOT_FOUND, "not_found", "no such upload"),
                }
            }),
        )
        .route(
            "/v1/uploads/{id}/complete",
            post(|State(s): State<Shared>, headers: HeaderMap, Path(id): Path<Uuid>| async move {
                let mut a = s.lock().unwrap();
                if !authorised(&a, &headers) {
                    return unauthenticated();
                }
                let Some(up) = a.uploads.get_mut(&id) else { return error(StatusCode::NOT_FOUND, "not_found", "no such upload") };
                let bundle_id = up.0;
                let outcome = up.3.get_or_insert_with(|| UploadOutcome {
                    bundle_id,
                    outcome: casebridge_protocol::BundleOutcome::Accepted,
                    events_added: 2,
                    receipt: format!("receipt-{bundle_id}"),
                });
                Json(outcome.clone()).into_response()
            }),
        )
        .route(
            "/v1/feed",
            get(|State(s): State<Shared>, headers: HeaderMap, Query(q): Query<FeedQuery>| async move {
                let a = s.lock().unwrap();
                if !authorised(&a, &headers) {
                    return unauthenticated();
                }
                if a.forbid_feed {
                    return error(StatusCode::FORBIDDEN, "forbidden", "this member was revoked");
                }
                let start = (q.after.unwrap_or(0) as usize).min(a.events.len());
                let end = (start + q.limit.unwrap_or(500)).min(a.events.len());
                Json(Feed { events: a.events[start..end].to_vec(), cursor: end as u64, more: end < a.events.len(), credentials: Vec::new(), names: Vec::new(), notices: Vec::new(), tombstones: Vec::new() }).into_response()
            }),
        )
        .route(
            "/v1/content/{sha256}",
            get(|State(s): State<Shared>, headers: HeaderMap, Path(sha): Path<String>| async move {
                let a = s.lock().unwrap();
                if !authorised(&a, &headers) {
                    return unauthenticated();
                }
                match a.content.get(&sha) {
                    Some(bytes) => bytes.clone().into_response(),
                    None => error(StatusCode::NOT_FOUND, "not_found", "no such content"),
                }
            }),
        )
        .with_state(shared)
}

/// Serves `router` over TLS on 127.0.0.1:0 with a fresh self-signed certificate; returns the
/// address and the certificate's SHA-256 fingerprint.
async fn serve(router: Router) -> (SocketAddr, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let fingerprint = hex::encode(ring::digest::digest(&ring::digest::SHA256, &cert));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tls), service).await;
            });
        }
    });
    (addr, fingerprint)
}

struct Fixture {
    shared: Shared,
    url: String,
    fingerprint: String,
    auth: Auth,
}

async fn fixture() -> Fixture {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap());
    let agency = Agency {
        agency_id: Uuid::new_v4(),
        member_id: Uuid::new_v4(),
        member_key: pair.public_key().as_ref().to_vec(),
        ..Agency::default()
    };
    let auth = Auth {
        agency_id: agency.agency_id,
        member_id: agency.member_id,
        key_hex: hex::encode(&agency.member_key),
        signer: Arc::new(move |context: &[u8], message: &[u8]| {
            let sig = pair.sign(&[context, message].concat());
            let mut out = [0u8; 64];
            out.copy_from_slice(sig.as_ref());
            out
        }),
    };
    let shared = Arc::new(Mutex::new(agency));
    let (addr, fingerprint) = serve(router(shared.clone())).await;
    Fixture { shared, url: format!("https://{addr}"), fingerprint, auth }
}

#[tokio::test]
async fn the_pinned_certificate_connects() {
    let f = fixture().await;
    let h = health(&f.url, &f.fingerprint).await.unwrap();
    assert_eq!(h.status, "ok");
    assert_eq!(h.agency_id, f.shared.lock().unwrap().agency_id);
    // Upper case and colon-separated fingerprints name the same certificate.
    assert!(health(&f.url, &f.fingerprint.to_uppercase()).await.is_ok());
    let t = HttpTransport::new(&format!("{}/", f.url), &f.fingerprint, f.auth.clone()).unwrap();
    assert_eq!(t.endpoint(), f.url);
    assert_eq!(t.health().await.unwrap().version, "test");
}

#[tokio::test]
async fn another_certificate_is_refused_with_both_fingerprints_named() {
    let f = fixture().await;
    let wrong = hex::encode([0x5au8; 32]);
    let e = health(&f.url, &wrong).await.unwrap_err();
    match &e {
        SyncError::CertificateMismatch { expected, presented } => {
            assert_eq!(expected, &wrong);
            assert_eq!(presented, &f.fingerprint);
        }
        other => panic!("expected a certificate mismatch, got {other:?}"),
    }
    assert!(!e.is_retryable(), "a wrong certificate is not retried");
    assert!(e.to_string().contains("not the pinned"), "{e}");
    // The authenticated transport refuses before any credential is sent.
    let t = HttpTransport::new(&f.url, &wrong, f.auth.clone()).unwrap();
    assert!(matches!(t.feed(0, 10).await, Err(SyncError::CertificateMismatch { .. })));
    assert_eq!(f.shared.lock().unwrap().challenges.len(), 0, "no challenge was asked for");
}

#[tokio::test]
async fn plain_http_and_bad_fingerprints_are_refused_up_front() {
    let f = fixture().await;
    let http = f.url.replace("https://", "http://");
    assert!(matches!(health(&http, &f.fingerprint).await, Err(SyncError::Config { .. })));
    assert!(matches!(HttpTransport::new(&http, &f.fingerprint, f.auth.clone()), Err(SyncError::Config { .. })));
    assert!(matches!(health(&f.url, "abc").await, Err(SyncError::Config { .. })));
}

#[tokio::test]
async fn nothing_listening_is_a_retryable_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = health(&format!("https://{addr}"), &hex::encode([1u8; 32])).await.unwrap_err();
    assert!(matches!(e, SyncError::Connection { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
}

#[tokio::test]
async fn a_refusal_to_sign_in_is_not_a_refusal_of_the_bundle() {
    let f = fixture().await;
    f.shared.lock().unwrap().forbid_sessions = true;
    let transport = HttpTransport::new(&f.url, &f.fingerprint, f.auth.clone()).unwrap();
    let engine = Engine::new(transport, SystemClock);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::in_sync_dir(tmp.path()).unwrap();
    let id = Uuid::now_v7();
    std::fs::write(outbox.path_of(id), b"sealed bundle").unwrap();
    let e = engine.push(&outbox, &mut |_| {}).await.unwrap_err();
    match &e {
        SyncError::Bundle { bundle_id, error } => {
            assert_eq!(*bundle_id, id);
            assert!(matches!(error.as_ref(), SyncError::Authentication { .. }), "{error:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((e.status(), e.code()), (Some(403), "forbidden"));
    assert!(!e.is_refusal() && !e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("sign in") && e.to_string().contains("this role cannot use the endpoint"), "{e}");
    assert_eq!(outbox.pending().unwrap().len(), 1, "the bundle stays in the outbox");
    assert!(outbox.refused().unwrap().is_empty(), "nothing is set aside");
}

#[tokio::test]
async fn push_and_pull_over_https_with_authentication_retries_and_reauthentication() {
    let f = fixture().await;
    f.shared.lock().unwrap().unavailable_puts = 1;
    f.shared.lock().unwrap().events = (0..7).map(|i| format!("e{i}")).collect();
    let transport = HttpTransport::new(&f.url, &f.fingerprint, f.auth.clone()).unwrap();
    let config = EngineConfig {
        chunk: 64 * 1024,
        policy: RetryPolicy { base: std::time::Duration::from_millis(5), ..RetryPolicy::DEFAULT },
        feed_limit: 3,
    };
    let engine = Engine::new(transport, SystemClock).with_config(config);

    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let id = Uuid::now_v7();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(outbox.path_of(id), &data).unwrap();

    let mut events = Vec::new();
    let pushed = engine.push(&outbox, &mut |e| events.push(e)).await.unwrap();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].outcome.receipt, format!("receipt-{id}"));
    assert!(outbox.pending().unwrap().is_empty());
    {
        let a = f.shared.lock().unwrap();
        let up = &a.uploads[&a.by_bundle[&id]];
        assert_eq!(up.1, data, "the agency holds exactly the bundle");
        assert_eq!(a.sessions, 1, "one session served every request");
    }
    assert!(events.iter().any(|e| matches!(e, casebridge_sync::Event::Retrying { .. })), "the 503 was retried");

    // The server forgets every session: the next request gets a 401, signs in again, succeeds.
    f.shared.lock().unwrap().tokens.clear();
    let mut got = Vec::new();
    let cursor = engine
        .pull(
            0,
            &mut |page| -> Result<(), SyncError> {
                got.extend(page.events);
                Ok(())
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(cursor, 7);
    assert_eq!(got.len(), 7);
    assert_eq!(f.shared.lock().unwrap().sessions, 2);

    // A refusal keeps the server's status, code and message.
    f.shared.lock().unwrap().forbid_feed = true;
    match engine.transport().feed(7, 3).await.unwrap_err() {
        SyncError::Server { status, code, message } => {
            assert_eq!((status, code.as_str(), message.as_str()), (403, "forbidden", "this member was revoked"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stale_offset_gets_a_409_with_the_server_state() {
    let f = fixture().await;
    let t = HttpTransport::new(&f.url, &f.fingerprint, f.auth.clone()).unwrap();
    let state = t.begin(UploadBegin { bundle_id: Uuid::now_v7(), size: 10 }).await.unwrap();
    t.put(state.upload_id, 0, bytes::Bytes::from_static(b"abcd")).await.unwrap();
    match t.put(state.upload_id, 0, bytes::Bytes::from_static(b"abcd")).await.unwrap_err() {
        SyncError::Conflict { code, state: Some(s), .. } => {
            assert_eq!(code, "offset_mismatch");
            assert_eq!(s.received, 4);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(t.status(state.upload_id).await.unwrap().received, 4);
}

#[tokio::test]
async fn content_is_streamed_and_checked_against_its_hash() {
    let f = fixture().await;
    let body = b"photo bytes".to_vec();
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &body));
    let lying = hex::encode([7u8; 32]);
    f.shared.lock().unwrap().content.insert(sha.clone(), body.clone());
    f.shared.lock().unwrap().content.insert(lying.clone(), b"something else".to_vec());
    let t = HttpTransport::new(&f.url, &f.fingerprint, f.auth.clone()).unwrap();

    let mut out = Vec::new();
    assert_eq!(t.content(&sha, &mut out).await.unwrap(), body.len() as u64);
    assert_eq!(out, body);

    let mut out = Vec::new();
    let e = t.content(&lying, &mut out).await.unwrap_err();
    assert!(matches!(e, SyncError::Protocol { .. }) && e.to_string().contains("does not match"), "{e}");

    assert!(matches!(t.content("../../x", &mut Vec::new()).await, Err(SyncError::Config { .. })));
    assert_eq!(t.content(&hex::encode([9u8; 32]), &mut Vec::new()).await.unwrap_err().status(), Some(404));
    assert_eq!(t.revocation().await.unwrap().document, "cmV2b2NhdGlvbg");
}

#[tokio::test]
async fn a_member_the_endpoint_does_not_know_is_refused_without_retry() {
    let f = fixture().await;
    let auth = Auth { member_id: Uuid::new_v4(), ..f.auth.clone() };
    let t = HttpTransport::new(&f.url, &f.fingerprint, auth).unwrap();
    let e = t.feed(0, 10).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), "unauthenticated");
    assert!(!e.is_retryable());
    // And an endpoint serving another agency is not answered with this member's signature.
    let auth = Auth { agency_id: Uuid::new_v4(), ..f.auth.clone() };
    let t = HttpTransport::new(&f.url, &f.fingerprint, auth).unwrap();
    let e = t.feed(0, 10).await.unwrap_err();
    assert!(matches!(e, SyncError::Protocol { .. }) && e.to_string().contains("serves agency"), "{e}");
}

#[tokio::test]
async fn engine_runs_can_be_spawned_on_the_runtime() {
    // The desktop shell spawns sync runs: push and pull futures over HttpTransport must be Send.
    let f = fixture().await;
    let transport = HttpTransport::new(&f.url, &f.fingerprint, f.auth.clone()).unwrap();
    let engine = Arc::new(Engine::new(transport, SystemClock));
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    std::fs::write(outbox.path_of(Uuid::now_v7()), b"bundle").unwrap();
    let run = tokio::spawn(async move {
        let pushed = engine.push(&outbox, &mut |_| {}).await?;
        let cursor = engine.pull(0, &mut |_| -> Result<(), SyncError> { Ok(()) }, &mut |_| {}).await?;
        Ok::<_, SyncError>((pushed.len(), cursor))
    });
    assert_eq!(run.await.unwrap().unwrap(), (1, 0));
}
