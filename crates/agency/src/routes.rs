//! The `/v1` handlers (docs/ENDPOINT.md).

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use base64::Engine as _;
use casebridge_core::Role;
use casebridge_protocol::{
    auth_message, BundleOutcome, Challenge, ChallengeRequest, ChunkQuery, Document, EnrolRequest, EnrolResponse, Feed, FeedQuery, Health,
    OldKeys, Session, SessionRequest, UploadBegin, UploadOutcome, UploadState, AUTH_CONTEXT, MAX_FEED_PAGE, MAX_JSON_BODY,
};
use casebridge_trust::bundle::Anchor;
use casebridge_trust::{Agency, CredentialRequest, Reason, Receipt, SignedDoc, CREDENTIAL_REQUEST};
use chrono::Duration;
use futures_util::StreamExt;
use uuid::Uuid;

use crate::api::{self, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, OctetBody};
use crate::backend;
use crate::invites;
use crate::limiters::Counted;
use crate::sessions::{Pending, SessionEntry};
use crate::state::{blocking, read, write, AppState, Member, Source, CHALLENGE_TTL_SECS, SESSION_TTL_SECS};
use crate::uploads;

/// Batches of body pieces in flight between the request and the chunk writer (each batch
/// about [`uploads::PIECES_BATCH`] bytes: the reads of the connection, typically TLS records of
/// 16 KiB, gathered so that the writer's thread is woken once per batch).
const CHUNK_PIECES: usize = 4;

/// The `/v1` router (without the access log and fallbacks, which [`crate::router`] adds).
pub(crate) fn v1() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/enrol", post(enrol))
        .route("/v1/auth/challenge", post(challenge))
        .route("/v1/auth/session", post(session))
        .route("/v1/revocation", get(revocation))
        .route("/v1/uploads", post(upload_begin))
        .route("/v1/uploads/{id}", get(upload_status).put(upload_chunk))
        .route("/v1/uploads/{id}/complete", post(upload_complete))
        .route("/v1/feed", get(feed))
        .route("/v1/content/{sha256}", get(content))
        .route("/v1/held", post(held))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
}

async fn health(State(st): State<Arc<AppState>>) -> Json<Health> {
    Json(Health { status: "ok".into(), agency_id: st.agency_id(), version: env!("CARGO_PKG_VERSION").into() })
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(casebridge_protocol::openapi())
}

// ----- enrolment ---------------------------------------------------------------------------

async fn enrol(State(st): State<Arc<AppState>>, source: Source, ApiJson(req): ApiJson<EnrolRequest>) -> ApiResult<Json<EnrolResponse>> {
    st.unauthenticated_request(source).await?;
    // One enrolment at a time in this process: attempts queued behind a wrong code see the
    // lock it may have set. (An invite is never used twice, on any replica: it is claimed
    // with a compare-and-swap before a credential is issued.)
    let _guard = st.enrol_lock.lock().await;
    enrol_limited(&st, source, req).await.map(Json)
}

/// Enrols with a valid invite. Wrong codes count against the source address; a valid code
/// refused (used, expired, a bad request, a member id that is not the requester's) counts
/// against the source and that invite: neither limit ever stops another address or invite.
async fn enrol_limited(st: &Arc<AppState>, source: Source, req: EnrolRequest) -> ApiResult<EnrolResponse> {
    let now = st.now();
    if let Some(secs) = st.limiters.locked(Counted::EnrolSource(source.0), now).await? {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "enrol_locked",
            format!("too many refused enrolments from your address; try again in {secs} seconds"),
        ));
    }
    let (st2, secret) = (st.clone(), req.invite_secret.clone());
    let found = blocking(move || Ok(invites::find_by_secret(st2.agency.records(), st2.agency.sealing_identity(), &secret)?)).await?;
    let Some(invite) = found else {
        st.limiters.failure(Counted::EnrolSource(source.0), now).await?;
        return Err(ApiError::forbidden(
            "invite_unknown",
            "this invite code is not known; check that it was copied whole, or ask for a new one",
        ));
    };
    let invite_id = invite.record.invite_id;
    if let Some(secs) = st.limiters.locked(Counted::EnrolInvite(invite_id), now).await? {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invite_locked",
            format!("too many refused enrolments with this invite; try again in {secs} seconds"),
        ));
    }
    let st2 = st.clone();
    let result = blocking(move || enrol_with(&st2, invite, req, now)).await;
    if let Err(e) = &result {
        if e.status().is_client_error() {
            st.limiters.failure(Counted::EnrolSource(source.0), now).await?;
            st.limiters.failure(Counted::EnrolInvite(invite_id), now).await?;
        }
    }
    result
}

fn enrol_with(
    st: &AppState,
    found: invites::Found,
    req: EnrolRequest,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> ApiResult<EnrolResponse> {
    let mut invite = found.record.clone();
    let used = || ApiError::forbidden("invite_used", "this invite code was already used; ask the agency for a new one");
    if invite.used_at.is_some() {
        return Err(used());
    }
    if now > invite.expires_at {
        return Err(ApiError::forbidden("invite_expired", "this invite code has expired; ask the agency for a new one"));
    }
    let bytes = B64.decode(req.request.trim()).map_err(|_| ApiError::bad_request("the credential request is not base64"))?;
    let doc = SignedDoc::parse(&bytes).map_err(|e| ApiError::bad_request(format!("the credential request: {}", e.message)))?;
    let key = doc.signer().map_err(|e| ApiError::bad_request(format!("the credential request: {}", e.message)))?;
    let request: CredentialRequest =
        doc.open(CREDENTIAL_REQUEST, Some(&key)).map_err(|e| ApiError::bad_request(format!("the credential request: {}", e.message)))?;
    st.refresh_credentials(false)?;
    if read(&st.revocation).0.find(request.member_id, &request.key).is_some() {
        return Err(ApiError::forbidden("key_revoked", "this key was revoked by the agency; enrol with a new profile key"));
    }
    let valid_for = Duration::seconds(i64::try_from(invite.valid_for_secs).unwrap_or(i64::MAX));
    // The invite is claimed first: of two enrolments racing on it (on two replicas), one
    // claims it and the other is refused before any credential exists for its key.
    invite.used_at = Some(now);
    invite.member_id = Some(invite.for_member.unwrap_or(request.member_id));
    let Some(claim) = invites::claim(st.agency.records(), &st.public, &found, &invite)? else {
        return Err(used());
    };
    // A member id belongs to the first key that enrolled with it; an invite made for an
    // existing member is the only way to bind another key to it.
    let issued = match invite.for_member {
        None => st.agency.issue(&doc, invite.role, Some(&invite.name), valid_for),
        Some(member) => st.agency.issue_for_member(&doc, member, invite.role, Some(&invite.name), valid_for),
    };
    let (cred, cred_doc, name) = match issued {
        Ok(issued) => issued,
        Err(e) => {
            claim.release(st.agency.records())?;
            return Err(match e.reason {
                Reason::MemberIdTaken => ApiError::forbidden("member_id_taken", e.message),
                Reason::UnknownMember => ApiError::forbidden("unknown_member", e.message),
                Reason::KeyMismatch | Reason::ManifestInvalid | Reason::BadSignature => ApiError::bad_request(e.message),
                _ => ApiError::internal(e),
            });
        }
    };
    write(&st.issued).push(cred.clone());
    write(&st.names).insert(cred.serial, name.clone());
    if invite.old_keys == Some(OldKeys::Revoke) {
        let old: Vec<String> =
            read(&st.issued).iter().filter(|c| c.member_id == cred.member_id && c.key != cred.key).map(|c| c.key.clone()).collect();
        if !old.is_empty() {
            st.agency
                .revoke_keys(cred.member_id, old, Some("replaced by a new key (invite for this member)".into()))
                .map_err(ApiError::internal)?;
            let current = st.agency.current_revocation().map_err(ApiError::internal)?;
            st.set_revocation(current);
        }
    }
    let public = Agency::public_file_in(&st.dir, st.agency.records()).map_err(ApiError::internal)?;
    let public = serde_json::to_vec_pretty(&public).map_err(ApiError::internal)?;
    tracing::info!(member = %cred.member_id, invite = %invite.invite_id, role = cred.role.as_str(), "member enrolled");
    Ok(EnrolResponse {
        member_id: cred.member_id,
        credential: B64.encode(cred_doc.to_bytes()),
        agency: B64.encode(public),
        name: Some(B64.encode(name.to_json())),
    })
}

// ----- authentication ----------------------------------------------------------------------

const UNKNOWN_MEMBER: &str = "no valid credential for this member and key (unknown, expired or revoked)";

async fn challenge(State(st): State<Arc<AppState>>, source: Source, ApiJson(req): ApiJson<ChallengeRequest>) -> ApiResult<Json<Challenge>> {
    st.unauthenticated_request(source).await?;
    let now = st.now();
    let key_hex = req.key.trim().to_ascii_lowercase();
    let key = hex::decode(&key_hex).ok().filter(|k| k.len() == 32).ok_or_else(|| ApiError::bad_request("key is not 32 bytes of hex"))?;
    if st.cluster.is_some() {
        // Credentials issued and revoked on other replicas are taken up first.
        let (st2, member, key) = (st.clone(), req.member_id, key_hex.clone());
        blocking(move || {
            let known = read(&st2.issued).iter().any(|c| c.member_id == member && c.key == key);
            st2.refresh_credentials(!known)
        })
        .await?;
    }
    let serial = {
        let issued = read(&st.issued);
        let revocation = read(&st.revocation);
        issued
            .iter()
            .filter(|c| {
                c.member_id == req.member_id && c.key == key_hex && c.valid_at(now) && revocation.0.find(c.member_id, &c.key).is_none()
            })
            .max_by_key(|c| c.not_after)
            .map(|c| c.serial)
    };
    let serial = serial.ok_or_else(|| ApiError::unauthenticated(UNKNOWN_MEMBER))?;
    let nonce = st.random::<32>()?;
    let challenge_id = uuid::Builder::from_random_bytes(st.random::<16>()?).into_uuid();
    let expires_at = now + Duration::seconds(CHALLENGE_TTL_SECS);
    // A member's own challenges are capped (sessions.rs).
    let pending = Pending { member: req.member_id, serial, key, nonce, expires_at };
    st.sessions.put_challenge(challenge_id, pending, st.limits.challenges_per_member, now).await?;
    Ok(Json(Challenge { challenge_id, nonce: hex::encode(nonce), agency_id: st.agency_id(), expires_at }))
}

async fn session(State(st): State<Arc<AppState>>, source: Source, ApiJson(req): ApiJson<SessionRequest>) -> ApiResult<Json<Session>> {
    st.unauthenticated_request(source).await?;
    let now = st.now();
    // Single use: the challenge is gone whatever the outcome.
    let pending = st.sessions.take_challenge(req.challenge_id, now).await?;
    let pending = pending
        .filter(|p| now <= p.expires_at)
        .ok_or_else(|| ApiError::unauthenticated("the challenge is unknown, expired or already answered; ask for a new one"))?;
    let sig = hex::decode(req.signature.trim()).map_err(|_| ApiError::bad_request("signature is not hex"))?;
    let message = [AUTH_CONTEXT, &auth_message(st.agency_id(), &pending.nonce)].concat();
    let ok = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &pending.key).verify(&message, &sig).is_ok();
    if !ok {
        return Err(ApiError::unauthenticated("the signature does not verify with the member's key"));
    }
    let cred = st.usable_credential(pending.serial, now).ok_or_else(|| ApiError::unauthenticated(UNKNOWN_MEMBER))?;
    let role = cred.role;
    let token = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(st.random::<32>()?));
    let expires_at = now + Duration::seconds(SESSION_TTL_SECS);
    // A member's sessions are capped: a new one ends their oldest.
    let entry = SessionEntry { member: pending.member, serial: pending.serial, expires_at };
    st.sessions.put_session(casebridge_core::sha256(token.as_bytes()), entry, st.limits.sessions_per_member, now).await?;
    Ok(Json(Session { token: token.to_string(), role, expires_at }))
}

async fn revocation(State(st): State<Arc<AppState>>) -> ApiResult<Json<Document>> {
    let now = st.now();
    let stale = now > read(&st.revocation).0.expires_at;
    if stale {
        // An expired list is re-signed (same entries, next version) before it is served.
        let st2 = st.clone();
        blocking(move || {
            let fresh = st2.agency.current_revocation().map_err(ApiError::internal)?;
            st2.set_revocation(fresh);
            Ok(())
        })
        .await?;
    }
    Ok(Json(Document { document: B64.encode(read(&st.revocation).1.to_bytes()) }))
}

// ----- uploads -----------------------------------------------------------------------------

async fn upload_begin(State(st): State<Arc<AppState>>, member: Member, ApiJson(req): ApiJson<UploadBegin>) -> ApiResult<Json<UploadState>> {
    let id = uploads::upload_id(member.id, req.bundle_id);
    let lock = st.upload_lock(id);
    let _g = lock.lock().await;
    blocking(move || uploads::begin(&st, member.id, req.bundle_id, req.size)).await.map(Json)
}

async fn upload_status(State(st): State<Arc<AppState>>, member: Member, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<UploadState>> {
    blocking(move || uploads::peek(&st, id, member.id).map(|m| m.state())).await.map(Json)
}

async fn upload_chunk(
    State(st): State<Arc<AppState>>,
    member: Member,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ChunkQuery>,
    OctetBody(body): OctetBody,
) -> ApiResult<Json<UploadState>> {
    let lock = st.upload_lock(id);
    let _g = lock.lock().await;
    // The body streams through a small channel to a blocking writer: receiving and writing
    // overlap, and no chunk is ever held whole in memory.
    let (tx, mut rx) = tokio::sync::mpsc::channel(CHUNK_PIECES);
    let st2 = Arc::clone(&st);
    let writer = tokio::task::spawn_blocking(move || {
        let state = uploads::put_chunk(&st2, member.id, id, q.offset, &mut rx)?;
        // Early verification follows a part file on this machine; a cluster's chunks may
        // arrive at any replica, so its uploads are verified whole at complete.
        if st2.cluster.is_none() {
            st2.early.chunk_received(&st2, member.id, id, q.offset, state.received, state.size);
        }
        Ok(state)
    });
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let mut refused = None;
    let (mut batch, mut batched) = (Vec::new(), 0usize);
    // A chunk must keep coming (a piece every idle timeout) and arrive whole at the minimum rate.
    let deadline = tokio::time::Instant::now() + st.limits.transfer_deadline(OctetBody::LIMIT as u64);
    let idle = st.limits.idle_timeout();
    loop {
        let next = tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + idle), stream.next()).await;
        let piece = match next {
            Ok(Some(piece)) => piece,
            Ok(None) => {
                // The body's end: hand over what is gathered.
                if !batch.is_empty() {
                    let _ = tx.send(uploads::Piece::Data(std::mem::take(&mut batch))).await;
                }
                break;
            }
            Err(_) => {
                refused = Some(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the chunk arrived too slowly; send it again on a faster connection or in smaller chunks",
                ));
                break;
            }
        };
        let piece = match piece {
            Ok(b) => b,
            Err(_) => {
                refused = Some(ApiError::bad_request("the chunk's body could not be read whole; send it again"));
                break;
            }
        };
        read = read.saturating_add(piece.len());
        if read > OctetBody::LIMIT {
            refused = Some(OctetBody::too_large());
            api::drain(&mut stream, OctetBody::LIMIT).await;
            break;
        }
        batched += piece.len();
        batch.push(piece);
        // The first piece goes alone (an unsealed body is refused at its first bytes), the
        // rest in batches.
        if batched < uploads::PIECES_BATCH && read != batched {
            continue;
        }
        batched = 0;
        if tx.send(uploads::Piece::Data(std::mem::take(&mut batch))).await.is_err() {
            // The writer refused the chunk (its answer says why): read no further than a
            // chunk's worth, so the client gets to read that answer.
            api::drain(&mut stream, OctetBody::LIMIT).await;
            break;
        }
    }
    if refused.is_some() {
        // The writer may already have refused; either way nothing of this chunk is kept.
        let _ = tx.send(uploads::Piece::Abort).await;
    }
    drop(tx);
    let written = writer.await?;
    match refused {
        Some(e) => Err(e),
        None => written.map(Json),
    }
}

async fn upload_complete(State(st): State<Arc<AppState>>, member: Member, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<UploadOutcome>> {
    let lock = st.upload_lock(id);
    let _g = lock.lock().await;
    let _slot = Arc::clone(&st.complete_slots).acquire_owned().await.map_err(|_| ApiError::internal("the endpoint is shutting down"))?;
    blocking(move || complete_blocking(&st, &member, id)).await.map(Json)
}

fn complete_blocking(st: &AppState, member: &Member, id: Uuid) -> ApiResult<UploadOutcome> {
    let mut meta = uploads::live(st, id, member.id)?;
    if let Some(done) = meta.outcome() {
        return Ok(done);
    }
    if meta.received != meta.size {
        return Err(ApiError::conflict(
            "upload_incomplete",
            format!("the endpoint holds {} of {} bytes; send the rest before completing", meta.received, meta.size),
        ));
    }
    let part = uploads::part_path(&st.dir, id);
    let (list, _) = read(&st.revocation).clone();
    let issued = read(&st.issued).clone();
    let names = read(&st.names).clone();
    let anchor = Anchor::new(&st.public, &list, Some(st.agency.sealing_identity())).at(st.now()).issued(&issued).names(&names);
    // Refused: the upload is discarded. What this member may not contribute is a 403; a
    // bundle that fails verification is a 422. The endpoint's own failures keep the upload, so
    // completing again retries: a full disk is 507, a cluster's database or bucket that does
    // not answer 503, the rest 500.
    let refuse = |e: casebridge_trust::TrustError| -> ApiResult<UploadOutcome> {
        if matches!(e.reason, Reason::Io | Reason::Unavailable | Reason::Store) {
            return Err(api::records_error(e));
        }
        uploads::discard(st, id)?;
        tracing::info!(member = %member.id, upload = %id, reason = e.reason.code(), "bundle refused");
        let status = if matches!(
            e.reason,
            Reason::Forbidden
                | Reason::NotOnTeam
                | Reason::TeamChangeForbidden
                | Reason::SupervisorOnly
                | Reason::NotYourSubmission
                | Reason::SubmissionAccepted
                | Reason::CaseOnHold
                | Reason::AmendmentNotAuthor
        ) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Err(ApiError::new(status, e.reason.code(), e.message))
    };
    // Verify and store the content without the store's lock (uploads complete side by side),
    // then take the write lock only to check and record the events.
    // Registered until the events are recorded: the content stored meanwhile is named by no
    // event yet, and the orphan collection must spare it (see crate::gc).
    let _verifying = st.uploads.verifying.begin();
    let (early, _early_verifying) = st.early.take(id);
    if let Some(c) = &st.cluster {
        // The contribution policy's checks read the store: take up what other replicas
        // recorded (a brief published through another one).
        crate::follower::catch_up_shared(c, &st.store)?;
    }
    let verify = || match &st.cluster {
        None => backend::verify_upload(&part, &anchor, &st.store, member.id, meta.bundle_id),
        Some(c) => {
            // (An ObjectsError's text names the object store, so refuse answers 503.)
            let parts = c.objects.read_parts(id).map_err(|e| casebridge_trust::TrustError::new(Reason::Io, e.to_string()))?;
            let input = std::io::BufReader::with_capacity(256 * 1024, parts);
            backend::verify_upload_stream(input, &anchor, &st.store, member.id, meta.bundle_id)
        }
    };
    let verified = match early.unwrap_or_else(verify) {
        Ok(v) => v,
        Err(e) => return refuse(e),
    };
    // Only bundles sealed to this agency: an unsealed one would have sat on the endpoint's
    // disk as plaintext evidence (put_chunk refuses it at its first bytes already).
    if !verified.sealed {
        return refuse(casebridge_trust::TrustError::new(
            Reason::NotSealed,
            "the bundle is not sealed to this agency; the endpoint accepts only sealed bundles",
        ));
    }
    let (opened, receipt) = match &st.cluster {
        None => {
            let opened = match backend::import_upload(&mut write(&st.store), &verified) {
                Ok(o) => o,
                Err(e) => return refuse(e),
            };
            let receipt = first_receipt(st, &opened).unwrap_or_else(|| st.agency.sign_receipt(&receipt_of(st, &opened)));
            (opened, receipt.map_err(ApiError::internal)?)
        }
        Some(c) => {
            // The events and the receipt are recorded in one database transaction, under the
            // cluster's journal lock: a replica killed mid-complete leaves neither.
            let mut store = write(&st.store);
            let recorded = crate::follower::append(
                c,
                &mut store,
                |s| {
                    let opened = backend::import_upload(s, &verified).map_err(Failed::Refused)?;
                    let receipt = match first_receipt(st, &opened) {
                        Some(r) => r.map_err(|e| Failed::Api(ApiError::internal(e)))?,
                        None => st.agency.sign_receipt_unfiled(&receipt_of(st, &opened)),
                    };
                    Ok((opened, receipt))
                },
                |(o, r)| vec![(casebridge_trust::receipt_record(o.bundle_id), r.to_bytes())],
            );
            drop(store);
            match recorded {
                Ok(done) => done,
                Err(Failed::Refused(e)) => return refuse(e),
                Err(Failed::Api(e)) => return Err(e),
            }
        }
    };
    let o = &opened;
    meta.completed = Some(uploads::Completed {
        bundle_id: o.bundle_id,
        outcome: o.outcome,
        events_added: o.events_added,
        receipt: B64.encode(receipt.to_bytes()),
        completed_at: st.now(),
    });
    uploads::record(st, &meta)?;
    match &st.cluster {
        None => crate::fsutil::remove_if_exists(&part)?,
        Some(c) => c.objects.delete_parts(id).map_err(ApiError::unavailable)?,
    }
    tracing::info!(member = %member.id, upload = %id, bundle = %o.bundle_id, outcome = %o.outcome, events = o.events_added, "bundle received");
    meta.outcome().ok_or_else(|| ApiError::internal("upload state lost its outcome"))
}

/// Why recording a completed upload failed on a cluster: the bundle was refused, or the
/// endpoint (its database) failed.
enum Failed {
    Refused(casebridge_trust::TrustError),
    Api(ApiError),
}

impl From<crate::error::AgencyError> for Failed {
    fn from(e: crate::error::AgencyError) -> Failed {
        Failed::Api(e.into())
    }
}

/// The receipt for a bundle just opened.
fn receipt_of(st: &AppState, o: &casebridge_trust::bundle::Opened) -> Receipt {
    Receipt {
        agency_id: st.agency_id(),
        bundle_id: o.bundle_id,
        manifest_hash: o.manifest_hash.clone(),
        sender: o.sender,
        seq: o.seq,
        received_at: st.now(),
        outcome: o.outcome,
        events: o.events,
        blobs: o.blobs,
    }
}

/// For a bundle already held, the receipt signed when it first arrived (if it is on file).
fn first_receipt(st: &AppState, o: &casebridge_trust::bundle::Opened) -> Option<casebridge_trust::Result<SignedDoc>> {
    if o.outcome != BundleOutcome::Duplicate {
        return None;
    }
    let doc = st.agency.receipt_on_file(o.bundle_id).ok()??;
    let root = st.public.root_key_bytes().ok()?;
    let r = Receipt::verify(&doc, &root, st.agency_id()).ok()?;
    (r.sender == o.sender && r.manifest_hash == o.manifest_hash).then_some(Ok(doc))
}

// ----- the feed and content ----------------------------------------------------------------

async fn feed(State(st): State<Arc<AppState>>, member: Member, ApiQuery(q): ApiQuery<FeedQuery>) -> ApiResult<Json<Feed>> {
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(MAX_FEED_PAGE).clamp(1, MAX_FEED_PAGE);
    blocking(move || {
        let store = st.store_read()?;
        let page = backend::feed(&store, st.agency_id(), member.id, member.role, after, limit)?;
        let (credentials, names) =
            if member.role == Role::Volunteer { Default::default() } else { backend::author_credentials(&store, &page.events)? };
        let served = backend::served_by(&store, &page)?;
        drop(store);
        // The endpoint's own access log: a page that served anything, before it is returned.
        if page.events.len() + page.notices.len() > 0 {
            st.log_fetch(member.id, member.role, "feed_page", served, None, (page.events.len() + page.notices.len()) as u64)?;
        }
        // A volunteer is told by the agency's signed notices, never sent the events (access.rs).
        let notices = page.notices.iter().map(|n| B64.encode(st.agency.sign_notice(n).to_bytes())).collect();
        Ok(Feed {
            events: page.events.iter().map(|e| B64.encode(e.envelope())).collect(),
            cursor: page.cursor,
            more: page.more,
            credentials,
            names,
            notices,
            tombstones: page.tombstones,
        })
    })
    .await
    .map(Json)
}

/// Bytes per piece sent down the stream.
const PIECE: usize = 256 * 1024;

/// Sends content to a member. The store is held only to check access and take a handle on its
/// objects; the bytes are read and sent without it, so a slow reader delays nobody. The whole
/// response must be read within [`crate::Limits::transfer_deadline`] of its size (and the
/// connection's watchdog cuts a reader slower than the minimum rate sooner).
async fn content(State(st): State<Arc<AppState>>, member: Member, ApiPath(sha): ApiPath<String>) -> ApiResult<Response> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("the content hash must be 64 hex digits (SHA-256)"));
    }
    let sha = sha.to_ascii_lowercase();
    let st2 = st.clone();
    let sha2 = sha.clone();
    let (size, objects) = blocking(move || {
        let (allowed, objects, item) = {
            let store = st2.store_read()?;
            let allowed = backend::content_allowed(&store, &sha2, member.id, member.role)?;
            let item = if allowed.is_some() { backend::item_with_content(&store, &sha2)? } else { None };
            (allowed, store.content_importer(), item)
        };
        // Whether it is held is asked without the store's lock (a cluster asks its bucket).
        let size = match allowed {
            Some(size) if backend::content_held(&objects, &sha2)? => Some(size),
            _ => None,
        };
        // The endpoint's own access log, before a byte is sent.
        if let Some(size) = size {
            let ids = item.map(|(i, c)| (vec![i], vec![c])).unwrap_or_default();
            st2.log_fetch(member.id, member.role, "content", ids, Some(sha2.clone()), size)?;
        }
        Ok((size, objects))
    })
    .await?;
    let size = size.ok_or_else(|| ApiError::not_found("no content with this hash is available to you"))?;
    // A member's downloads are capped; the endpoint's are queued for a slot (each holds a
    // thread while it reads), waiting without holding one.
    let download = st.begin_download(member.id)?;
    let slot = Arc::clone(&st.download_slots).acquire_owned().await.map_err(|_| ApiError::internal("the endpoint is shutting down"))?;
    let deadline = tokio::time::Instant::now() + st.limits.transfer_deadline(size);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _held = (download, slot);
        let mut sink = ChannelWriter { tx: tx.clone(), handle, buf: Vec::with_capacity(PIECE), deadline };
        let result = objects
            .read_content(&sha, size, &mut sink, &mut |_| true)
            .map_err(|e| e.to_string())
            .and_then(|()| sink.flush().map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(member = %member.id, error = %e, "content download ended early");
            let _ = tx.blocking_send(Err(std::io::Error::other("the content could not be sent")));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::CONTENT_LENGTH, size.to_string())],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Which of the asked contents the agency holds, for a staff member about to export ("no
/// byte twice": their bundle then names those without carrying them, which the bundle check
/// accepts from staff only). Staff may download any content the agency holds, so the answer
/// tells them nothing they could not learn already; a volunteer is refused (`staff_only`)
/// whatever they ask, so no volunteer can probe for a hash.
async fn held(
    State(st): State<Arc<AppState>>,
    member: Member,
    ApiJson(req): ApiJson<casebridge_protocol::HeldRequest>,
) -> ApiResult<Json<casebridge_protocol::HeldResponse>> {
    if !member.role.is_staff() {
        return Err(ApiError::forbidden(
            "staff_only",
            "only staff may ask which content the agency holds; volunteers always send their own",
        ));
    }
    if req.sha256.len() > casebridge_protocol::MAX_HELD_QUERY {
        return Err(ApiError::bad_request(format!("ask about at most {} hashes at once", casebridge_protocol::MAX_HELD_QUERY)));
    }
    if let Some(bad) = req.sha256.iter().position(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::bad_request(format!("hash {bad} is not 64 hex digits (SHA-256)")));
    }
    let asked: Vec<String> = req.sha256.iter().map(|h| h.to_ascii_lowercase()).collect();
    let st2 = st.clone();
    let held = blocking(move || {
        let (allowed, objects) = {
            let store = st2.store_read()?;
            let mut allowed = Vec::new();
            for sha in asked {
                if !allowed.contains(&sha) && backend::content_allowed(&store, &sha, member.id, member.role)?.is_some() {
                    allowed.push(sha);
                }
            }
            (allowed, store.content_importer())
        };
        // Whether each is held is asked without the store's lock (a cluster asks its bucket).
        let mut held = Vec::with_capacity(allowed.len());
        for sha in allowed {
            if backend::content_held(&objects, &sha)? {
                held.push(sha);
            }
        }
        Ok(held)
    })
    .await?;
    Ok(Json(casebridge_protocol::HeldResponse { held }))
}

/// A `Write` that hands pieces to the response stream, waiting for the client no later than
/// the response's deadline.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    handle: tokio::runtime::Handle,
    buf: Vec<u8>,
    deadline: tokio::time::Instant,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        let sent = self.handle.block_on(tokio::time::timeout_at(self.deadline, self.tx.send(Ok(piece))));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client read slower than the minimum rate")),
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The full `/v1` service: routes, JSON 404/405, access log.
pub(crate) fn with_edges(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router.fallback(api::not_found).method_not_allowed_fallback(api::method_not_allowed).layer(axum::middleware::from_fn(api::access_log))
}
