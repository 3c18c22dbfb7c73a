//! One sync round: send what this profile recorded (sealed bundles through the outbox,
//! resumable uploads, receipts verified and kept), then fetch what the agency lets this member
//! see (the feed, with content streamed straight into the store), then refresh the revocation
//! list. The outcome is kept in the sync state file for [`status`].
//!
//! Sync always makes progress: a bundle the agency refuses for good is set aside into
//! `STORE/sync/refused/` with the reason (listed by [`status`]) and the next one goes up; a
//! push that fails otherwise still lets the feed come down before the round fails.
//!
//! The store is reached through a [`StoreHandle`], one operation at a time, so the UI keeps
//! working during a round and locking the profile stops the round between two operations.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{EventKind, SignedEvent};
use casebridge_protocol::Feed;
use casebridge_sync::{Auth, Engine, Event, HttpTransport, Outbox, SyncError, SyncState, SystemClock, Transport};
use casebridge_trust::{profile, SignedDoc};
use tokio_util::io::SyncIoBridge;

use crate::error::{AppError, ErrorCode, Result};
use crate::handle::StoreHandle;
use crate::outbox::{self, sync_dir};
use crate::views::RoundReport;

/// A multi-threaded tokio runtime for sync work (two workers: content import blocks one).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AppError::internal(format!("cannot start the async runtime: {e}")))
}

/// What `sync status` reports (reads only; no passphrase needed).
pub fn status(store_dir: &Path) -> Result<casebridge_sync::Status> {
    Ok(casebridge_sync::status(&sync_dir(store_dir))?)
}

/// Runs one round for the store in `store` (whose directory is `store_dir`): export, push,
/// pull, revocation refresh. Records the attempt, then the success or the error, in the sync
/// state file. `on_event` sees the sync engine's progress events. Setting `cancel` stops the
/// round before its next step with code `cancelled`; what was done stays done (uploads resume,
/// the feed cursor is saved after each imported page).
///
/// Must run inside a multi-threaded tokio runtime (see [`runtime`]).
pub async fn round(
    store: &StoreHandle,
    store_dir: &Path,
    cancel: Arc<AtomicBool>,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<RoundReport> {
    let dir = sync_dir(store_dir);
    std::fs::create_dir_all(&dir).map_err(|e| AppError::new(ErrorCode::Io, format!("cannot create {}: {e}", dir.display())))?;
    let mut state = SyncState::load(&dir)?;
    state.record_attempt(chrono::Utc::now());
    state.save(&dir)?;
    let result = round_inner(store, &dir, &mut state, cancel, on_event).await;
    let mut st = SyncState::load(&dir)?;
    match &result {
        Ok(_) => st.record_success(chrono::Utc::now()),
        Err(e) => st.last_error = Some(e.message.clone()),
    }
    st.save(&dir)?;
    result
}

fn cancelled() -> AppError {
    AppError::from(casebridge_sync::SyncError::Cancelled)
}

async fn round_inner(
    store: &StoreHandle,
    dir: &Path,
    state: &mut SyncState,
    cancel: Arc<AtomicBool>,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<RoundReport> {
    let (agency, endpoint, cred) = store.with(|s| outbox::agency(s))?;
    let (me, signer) = store.with(|s| Ok((s.whoami().clone(), s.detached_signer())))?;
    // The signer does not borrow the store: a re-authentication can happen while a content
    // import holds it.
    let auth = Auth {
        agency_id: agency.agency_id,
        member_id: me.member_id,
        key_hex: me.public_key.clone(),
        signer: Arc::new(move |context: &[u8], message: &[u8]| signer.sign_detached(context, message)),
    };
    let transport = HttpTransport::new(&endpoint.url, &endpoint.cert_sha256, auth)?;
    // No byte twice: staff ask which of the contents they are about to send the agency
    // already holds, and their bundles name those without carrying them. (Volunteers always
    // carry their own: the agency refuses a volunteer's bundle that does not.) An agency that
    // cannot answer gets every content, as before.
    let held = if me.role.is_staff() {
        let wanted = store.with(|s| outbox::pending_contents(s, &agency))?;
        if wanted.is_empty() {
            None
        } else {
            transport.held(&wanted).await.ok().map(|h| h.into_iter().collect::<std::collections::BTreeSet<String>>())
        }
    } else {
        None
    };
    let mut r =
        RoundReport { exported: store.with(|s| outbox::export_pending(s, &agency, &cred, held.as_ref()))?.len(), ..Default::default() };
    let engine = Engine::new(transport, SystemClock).with_cancel(Arc::clone(&cancel));
    // A round refused because this device's key was revoked (a member's new device enrolled
    // with `--old-key revoke`, or the member was revoked) says so: the endpoint answers every
    // unknown, expired or revoked key alike, the agency's public revocation list tells which.
    let result: Result<RoundReport> = async {
        // Up: the outbox, oldest first; each receipt is verified and kept. A bundle the agency
        // refuses for good is set aside (STORE/sync/refused/) and the next one goes up.
        let outbox = Outbox::in_sync_dir(dir)?;
        let mut receipt_error: Option<AppError> = None;
        let mut receipts = 0usize;
        let mut refused = 0usize;
        let pushed = engine
            .push(&outbox, &mut |ev: Event| {
                if let Event::Refused { .. } = &ev {
                    refused += 1;
                }
                if let Event::Uploaded { outcome, .. } = &ev {
                    let kept = B64
                        .decode(&outcome.receipt)
                        .map_err(|_| AppError::new(ErrorCode::Protocol, "the endpoint sent a receipt that is not base64"))
                        .and_then(|b| Ok(SignedDoc::parse(&b)?))
                        .and_then(|doc| store.with(|s| Ok(profile::store_receipt(s, &doc)?)));
                    match kept {
                        Ok(_) => receipts += 1,
                        Err(e) => {
                            receipt_error.get_or_insert(e);
                        }
                    }
                }
                on_event(&ev);
            })
            .await;
        r.refused = refused;
        r.receipts = receipts;
        // A push that failed (a bundle stays in the outbox) still lets the feed come down, so
        // this profile keeps up with the agency; the round fails after the pull. Not when it was
        // cancelled, nor when the endpoint cannot be trusted or addressed at all.
        let push_error = match pushed {
            Ok(pushed) => {
                r.uploaded = pushed.len();
                None
            }
            Err(e) if !worth_pulling_after(&e) => return Err(e.into()),
            Err(e) => Some(AppError::from(e)),
        };
        if let Some(e) = push_error.or(receipt_error) {
            // The push's failure is the round's; a pull that failed as well adds nothing new.
            let _ = pull(store, dir, state, &engine, &cancel, &agency, on_event).await;
            return Err(e);
        }
        let pulled = pull(store, dir, state, &engine, &cancel, &agency, on_event).await?;
        let removed = removed_from_teams(store, &pulled.unassigned)?;
        r.removed_from_teams = (!removed.is_empty()).then_some(removed);
        r.pulled = pulled.pulled;
        r.imported = pulled.imported;
        r.content_fetched = pulled.fetched;
        r.cursor = pulled.cursor;
        r.deleted = (pulled.deleted > 0).then_some(pulled.deleted);
        r.tombstones_refused = (pulled.tombstones_refused > 0).then_some(pulled.tombstones_refused);

        // The newest revocation list, so this profile refuses what the agency revoked. A failure
        // here does not fail the round: the list is fetched again next time.
        if !cancel.load(Ordering::SeqCst) {
            if let Ok(doc) = engine.transport().revocation().await {
                if let Ok(bytes) = B64.decode(&doc.document) {
                    if let Ok(doc) = SignedDoc::parse(&bytes) {
                        // A list older than one held is refused (never rolled back); that is fine.
                        let _ = store.with(|s| Ok(profile::store_revocation(s, &agency, &doc)?));
                    }
                }
            }
        }
        Ok(r)
    }
    .await;
    match result {
        Err(e) if e.code != ErrorCode::Cancelled => Err(revoked_instead(store, engine.transport(), &agency).await.unwrap_or(e)),
        other => other,
    }
}

/// The titles of the cases among `unassigned` (those a pulled `team_unassigned` took this
/// member off) whose team this member is not on after the round (issue 16: "the desktop says
/// so"); none for a supervisor, who gets every case whatever its team. The agency always
/// sends a member the team changes that name them, so the pull names every removal.
fn removed_from_teams(store: &StoreHandle, unassigned: &std::collections::BTreeSet<uuid::Uuid>) -> Result<Vec<String>> {
    if unassigned.is_empty() {
        return Ok(Vec::new());
    }
    store.with(|s| {
        if s.whoami().role != casebridge_core::Role::Investigator {
            return Ok(Vec::new());
        }
        Ok(unassigned.iter().filter_map(|id| s.case(*id).ok()).filter(|c| !c.on_team).map(|c| c.title).collect())
    })
}

/// After a failed round: when the agency's current revocation list (public, fetched without a
/// session) revokes this device's key, the error that says so (`credential_not_valid`, "is
/// revoked"), with the list kept. `None` when the list cannot be had or does not revoke it.
async fn revoked_instead<T: Transport>(store: &StoreHandle, transport: &T, agency: &casebridge_trust::AgencyPublic) -> Option<AppError> {
    let doc = transport.revocation().await.ok()?;
    let doc = SignedDoc::parse(&B64.decode(&doc.document).ok()?).ok()?;
    // A list older than one held is refused (never rolled back); the held one then decides.
    let _ = store.with(|s| Ok(profile::store_revocation(s, agency, &doc)?));
    let revoked = store
        .with(|s| {
            Ok(matches!(
                crate::credentials::usable(s, agency),
                Err(crate::credentials::Unusable::NotValid { status: casebridge_trust::CredentialStatus::Revoked, .. })
            ))
        })
        .ok()?;
    if !revoked {
        return None;
    }
    store.with(|s| outbox::agency(s).map(|_| ())).err()
}

/// Whether the feed is still worth pulling after the push failed with `e`: always, unless the
/// round was cancelled or the endpoint cannot be trusted or addressed at all (its certificate
/// is not the pinned one, the address is unusable). A connection that broke under an upload
/// may still carry the small feed requests, so news still comes in on a poor link.
fn worth_pulling_after(e: &SyncError) -> bool {
    match e {
        SyncError::Bundle { error, .. } => worth_pulling_after(error),
        SyncError::GaveUp { last, .. } => worth_pulling_after(last),
        SyncError::Cancelled | SyncError::CertificateMismatch { .. } | SyncError::Config { .. } => false,
        _ => true,
    }
}

/// What a pull brought.
struct Pulled {
    /// Cases a pulled `team_unassigned` took this profile's member off.
    unassigned: std::collections::BTreeSet<uuid::Uuid>,
    deleted: usize,
    tombstones_refused: usize,
    pulled: usize,
    imported: u64,
    fetched: usize,
    cursor: u64,
}

/// Down: the feed after the cursor; content first, then the events, then the cursor.
async fn pull(
    store: &StoreHandle,
    dir: &Path,
    state: &mut SyncState,
    engine: &Engine<HttpTransport, SystemClock>,
    cancel: &Arc<AtomicBool>,
    agency: &casebridge_trust::AgencyPublic,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<Pulled> {
    let handle = tokio::runtime::Handle::current();
    let mut pulled = 0usize;
    let mut imported = 0u64;
    let mut fetched = 0usize;
    let mut unassigned = std::collections::BTreeSet::new();
    let me = store.with(|s| Ok(s.whoami().member_id))?;
    let (mut deleted_now, mut tombstones_refused) = (0usize, 0usize);
    let start = state.cursor;
    let cursor = {
        let transport = engine.transport();
        let mut on_page = |feed: Feed| -> Result<()> {
            let mut events = Vec::with_capacity(feed.events.len());
            for e in &feed.events {
                let bytes = B64.decode(e).map_err(|_| AppError::new(ErrorCode::Protocol, "the feed sent an event that is not base64"))?;
                events.push(SignedEvent::from_envelope(bytes)?);
            }
            // The agency's tombstones: each verified against the pinned agency key before any
            // of the page is kept (a forged one refuses the page, `tombstone_not_from_agency`).
            let mut tombstones = Vec::with_capacity(feed.tombstones.len());
            for t in &feed.tombstones {
                let bytes =
                    B64.decode(t).map_err(|_| AppError::new(ErrorCode::Protocol, "the feed sent a tombstone that is not base64"))?;
                let doc = casebridge_trust::SignedDoc::parse(&bytes)?;
                tombstones.push((casebridge_trust::verify_tombstone(&doc, agency)?, doc));
            }
            let deleted: std::collections::BTreeSet<uuid::Uuid> = tombstones.iter().map(|(t, _)| t.evidence_id).collect();
            for ev in &events {
                if let EventKind::EvidenceAdded { object, evidence_id, .. } = &ev.body().kind {
                    // Deleted at the agency: its content is gone, nothing to fetch.
                    if deleted.contains(evidence_id) {
                        continue;
                    }
                    if cancel.load(Ordering::SeqCst) {
                        return Err(cancelled());
                    }
                    if !store.with(|s| Ok(s.has_content(&object.sha256)))? {
                        tokio::task::block_in_place(|| {
                            handle.block_on(fetch_content(transport, store, &object.sha256, object.size, Arc::clone(cancel)))
                        })?;
                        fetched += 1;
                    }
                }
            }
            let mut credentials = Vec::with_capacity(feed.credentials.len());
            for c in &feed.credentials {
                let bytes =
                    B64.decode(c).map_err(|_| AppError::new(ErrorCode::Protocol, "the feed sent a credential that is not base64"))?;
                credentials.push(casebridge_trust::SignedDoc::parse(&bytes)?);
            }
            // Name disclosures that do not decode are dropped, never shown (one that does not
            // open its credential's commitment is dropped when stored).
            let names: Vec<casebridge_trust::NameDisclosure> = feed
                .names
                .iter()
                .filter_map(|n| B64.decode(n).ok().and_then(|b| String::from_utf8(b).ok()))
                .filter_map(|j| casebridge_trust::NameDisclosure::from_json(&j).ok())
                .collect();
            // What the agency tells a volunteer (briefs, withdrawals, decisions, custody): each
            // verified against the pinned agency key, and addressed to this profile, before any
            // of the page is kept.
            let mut notices = Vec::with_capacity(feed.notices.len());
            for n in &feed.notices {
                let bytes = B64.decode(n).map_err(|_| AppError::new(ErrorCode::Protocol, "the feed sent a notice that is not base64"))?;
                notices.push(casebridge_trust::SignedDoc::parse(&bytes)?);
            }
            pulled += events.len() + notices.len();
            unassigned.extend(events.iter().filter_map(|ev| match &ev.body().kind {
                EventKind::TeamUnassigned { case_id, member_id } if *member_id == me => Some(*case_id),
                _ => None,
            }));
            // An item deleted before this device first saw it comes with its tombstone and
            // without content: the tombstone is kept in the same append as its
            // `evidence_added` (the store refuses an item without content otherwise); the
            // others are applied after the import, each on its own.
            let (arriving, tombstones): (Vec<_>, Vec<_>) = {
                let added: std::collections::BTreeMap<uuid::Uuid, (uuid::Uuid, &str)> = events
                    .iter()
                    .filter_map(|ev| match &ev.body().kind {
                        EventKind::EvidenceAdded { evidence_id, case_id, object, .. } => {
                            Some((*evidence_id, (*case_id, object.sha256.as_str())))
                        }
                        _ => None,
                    })
                    .collect();
                let mut arriving = Vec::new();
                let mut rest = Vec::new();
                for (t, doc) in tombstones {
                    let new_item = added.get(&t.evidence_id).is_some_and(|(case, sha)| *case == t.case_id && *sha == t.sha256)
                        && store.with(|s| Ok(s.evidence(t.evidence_id).is_err() && !s.has_content(&t.sha256)))?;
                    if new_item {
                        arriving
                            .push(casebridge_core::ProfileEvent::TombstoneStored { tombstone: t, document: B64.encode(doc.to_bytes()) });
                    } else {
                        rest.push((t, doc));
                    }
                }
                (arriving, rest)
            };
            imported += store.with(|s| Ok(s.import_events(&events, arriving)?))?;
            imported += store.with(|s| Ok(casebridge_trust::profile::store_notices(s, agency, &notices)?))? as u64;
            store.with(|s| Ok(casebridge_trust::profile::store_member_credentials(s, agency, &credentials, &names)?))?;
            // Each tombstone on its own: one for an item this device does not hold, or of a case
            // it holds under legal hold, is refused (its code counted) and the others applied.
            for (t, doc) in tombstones {
                let encoded = B64.encode(doc.to_bytes());
                match store.with(|s| Ok(s.apply_tombstones(vec![(t, encoded)])?)) {
                    Ok(d) => deleted_now += d.len(),
                    Err(e)
                        if [
                            casebridge_core::TOMBSTONE_UNKNOWN_ITEM,
                            casebridge_core::TOMBSTONE_MISMATCH,
                            casebridge_core::CASE_ON_HOLD,
                        ]
                        .contains(&e.code.as_str()) =>
                    {
                        tombstones_refused += 1
                    }
                    Err(e) => return Err(e),
                }
            }
            state.cursor = feed.cursor;
            state.save(dir)?;
            Ok(())
        };
        engine.pull::<AppError>(start, &mut on_page, &mut |ev| on_event(&ev)).await?
    };
    Ok(Pulled { unassigned, deleted: deleted_now, tombstones_refused, pulled, imported, fetched, cursor })
}

/// Streams one item's content from the endpoint straight into the store: the bytes are
/// hashed and sealed on the way and nothing is kept unless the hash matches; no temp file.
async fn fetch_content(transport: &HttpTransport, store: &StoreHandle, sha256: &str, size: u64, cancel: Arc<AtomicBool>) -> Result<()> {
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let st = store.clone();
    let sha = sha256.to_string();
    let import = tokio::task::spawn_blocking(move || {
        let mut src = SyncIoBridge::new(reader);
        st.with(|s| Ok(s.import_content(&mut src, &sha, size, &mut |_| !cancel.load(Ordering::SeqCst))?))
    });
    let fetched = transport.content(sha256, &mut writer).await;
    drop(writer);
    let imported = import.await.map_err(|e| AppError::internal(format!("the content import stopped: {e}")))?;
    fetched?;
    imported
}
