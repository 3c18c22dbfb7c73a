//! `casebridge sync [--watch] [--json]` and `casebridge sync status [--json]`: send what this
//! profile recorded (sealed bundles through the outbox, resumable uploads, receipts kept),
//! then fetch what the agency lets this member see (the feed, with content streamed straight
//! into the store).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{EventKind, Passphrase, SignedEvent, Store};
use casebridge_protocol::Feed;
use casebridge_sync::{Auth, Engine, Event, HttpTransport, Outbox, SyncState, SystemClock, Transport, OUTBOX_DIR};
use casebridge_trust::{parse_duration, profile, SignedDoc};
use clap::{Args, Subcommand};
use serde::Serialize;
use tokio_util::io::SyncIoBridge;

use crate::context::Ctx;
use crate::endpoint::runtime;
use crate::error::{CliError, Result};
use crate::outbox;
use crate::output::{self, Fields};

/// Arguments of `sync`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    /// `sync status`
    #[command(subcommand)]
    pub sub: Option<SyncSub>,
    /// Keep syncing every --interval until interrupted
    #[arg(long)]
    pub watch: bool,
    /// Pause between rounds with --watch
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub interval: String,
    /// Print progress as JSON lines, then a JSON summary per round
    #[arg(long)]
    pub json: bool,
}

/// The `sync` subcommands.
#[derive(Subcommand, Debug)]
pub enum SyncSub {
    /// Show pending bundles and bytes, last success and last error (no passphrase needed)
    Status(StatusArgs),
}

/// Arguments of `sync status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// The sync directory of a store: `STORE/sync` (state file and outbox; no secrets).
pub fn sync_dir(store_dir: &Path) -> PathBuf {
    store_dir.join("sync")
}

/// What one round did.
#[derive(Serialize, Debug, Default)]
struct Round {
    event: &'static str,
    exported: usize,
    uploaded: usize,
    receipts: usize,
    pulled: usize,
    imported: u64,
    content_fetched: usize,
    cursor: u64,
}

/// Runs `sync` or `sync status`.
pub fn run(ctx: &mut Ctx, a: &SyncArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(SyncSub::Status(s)) = &a.sub {
        return status(ctx, s, out);
    }
    let interval = parse_duration(&a.interval)
        .ok()
        .and_then(|d| d.to_std().ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::Usage(format!("invalid --interval '{}': expected a duration such as 30s, 5m", a.interval)))?;
    let pass = ctx.passphrase()?;
    let rt = runtime()?;
    loop {
        let result = rt.block_on(round(ctx.dir(), &pass, a.json, out));
        match result {
            Ok(r) => {
                if a.json {
                    serde_json::to_writer(&mut *out, &r).map_err(std::io::Error::from)?;
                    writeln!(out)?;
                } else {
                    writeln!(
                        out,
                        "sync done: {} bundle(s) sent, {} event(s) received ({} new), {} item(s) of content fetched",
                        r.uploaded, r.pulled, r.imported, r.content_fetched
                    )?;
                }
                out.flush()?;
            }
            Err(e) if a.watch => {
                writeln!(std::io::stderr(), "error: {e}")?;
            }
            Err(e) => return Err(e),
        }
        if !a.watch {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// One round: export, push, pull. The outcome (success or the error) is kept in the state file
/// for `sync status`.
async fn round(store_dir: &Path, pass: &Passphrase, json: bool, out: &mut dyn Write) -> Result<Round> {
    let dir = sync_dir(store_dir);
    std::fs::create_dir_all(&dir).map_err(|e| CliError::WriteFile { path: dir.clone(), reason: e.to_string() })?;
    let mut state = SyncState::load(&dir).map_err(sync_err)?;
    state.record_attempt(chrono::Utc::now());
    state.save(&dir).map_err(sync_err)?;
    let result = round_inner(store_dir, pass, &dir, &mut state, json, out).await;
    let mut st = SyncState::load(&dir).map_err(sync_err)?;
    match &result {
        Ok(_) => st.record_success(chrono::Utc::now()),
        Err(e) => st.last_error = Some(e.to_string()),
    }
    st.save(&dir).map_err(sync_err)?;
    result
}

fn sync_err(e: casebridge_sync::SyncError) -> CliError {
    CliError::Sync(e.to_string())
}

async fn round_inner(
    store_dir: &Path,
    pass: &Passphrase,
    dir: &Path,
    state: &mut SyncState,
    json: bool,
    out: &mut dyn Write,
) -> Result<Round> {
    let store = Store::open(store_dir, pass)?;
    let (agency, endpoint, cred) = outbox::agency(&store)?;
    let store = Arc::new(Mutex::new(store));
    let mut r = Round { event: "synced", ..Default::default() };
    r.exported = outbox::export_pending(&mut lock(&store), &agency, &cred)?.len();

    let me = lock(&store).whoami().clone();
    // The signer does not borrow the store: a re-authentication can happen while a content
    // import holds it.
    let signer = lock(&store).detached_signer();
    let auth = Auth {
        agency_id: agency.agency_id,
        member_id: me.member_id,
        key_hex: me.public_key.clone(),
        signer: Arc::new(move |context: &[u8], message: &[u8]| signer.sign_detached(context, message)),
    };
    let transport = HttpTransport::new(&endpoint.url, &endpoint.cert_sha256, auth).map_err(sync_err)?;
    let engine = Engine::new(transport, SystemClock);

    // Up: the outbox, oldest first; each receipt is verified and kept.
    let outbox = Outbox::open(dir.join(OUTBOX_DIR)).map_err(sync_err)?;
    let mut receipt_error: Option<CliError> = None;
    let mut lines: Vec<String> = Vec::new();
    let receipts_store = Arc::clone(&store);
    let mut receipts = 0usize;
    let pushed = engine
        .push(&outbox, &mut |ev: Event| {
            if let Event::Uploaded { outcome, .. } = &ev {
                let kept = B64
                    .decode(&outcome.receipt)
                    .map_err(|_| CliError::Sync("the endpoint sent a receipt that is not base64".into()))
                    .and_then(|b| Ok(SignedDoc::parse(&b)?))
                    .and_then(|doc| Ok(profile::store_receipt(&mut lock(&receipts_store), &doc)?));
                match kept {
                    Ok(_) => receipts += 1,
                    Err(e) => {
                        receipt_error.get_or_insert(e);
                    }
                }
            }
            if json {
                lines.push(serde_json::to_string(&ev).unwrap_or_default());
            }
        })
        .await;
    for l in lines.drain(..) {
        writeln!(out, "{l}")?;
    }
    r.uploaded = pushed.map_err(sync_err)?.len();
    r.receipts = receipts;
    if let Some(e) = receipt_error {
        return Err(e);
    }

    // Down: the feed after the cursor; content first, then the events, then the cursor.
    let handle = tokio::runtime::Handle::current();
    let mut pulled = 0usize;
    let mut imported = 0u64;
    let mut fetched = 0usize;
    let start = state.cursor;
    let cursor = {
        let transport = engine.transport();
        let store = &store;
        let mut on_page = |feed: Feed| -> Result<()> {
            let mut events = Vec::with_capacity(feed.events.len());
            for e in &feed.events {
                let bytes = B64.decode(e).map_err(|_| CliError::Sync("the feed sent an event that is not base64".into()))?;
                events.push(SignedEvent::from_envelope(bytes)?);
            }
            for ev in &events {
                if let EventKind::EvidenceAdded { object, .. } = &ev.body().kind {
                    if !lock(store).has_content(&object.sha256) {
                        tokio::task::block_in_place(|| handle.block_on(fetch_content(transport, store, &object.sha256, object.size)))?;
                        fetched += 1;
                    }
                }
            }
            pulled += events.len();
            imported += lock(store).import_events(&events, Vec::new())?;
            state.cursor = feed.cursor;
            state.save(dir).map_err(sync_err)?;
            Ok(())
        };
        engine.pull::<CliError>(start, &mut on_page, &mut |_| {}).await?
    };
    r.pulled = pulled;
    r.imported = imported;
    r.content_fetched = fetched;
    r.cursor = cursor;

    // The newest revocation list, so this profile refuses what the agency revoked.
    if let Ok(doc) = engine.transport().revocation().await {
        if let Ok(bytes) = B64.decode(&doc.document) {
            if let Ok(doc) = SignedDoc::parse(&bytes) {
                let mut s = lock(&store);
                // A list older than one held is ignored (never rolled back).
                let _ = profile::store_revocation(&mut s, &agency, &doc);
            }
        }
    }
    Ok(r)
}

/// Streams one item's content from the endpoint straight into the store: the bytes are
/// hashed and sealed on the way and nothing is kept unless the hash matches; no temp file.
async fn fetch_content(transport: &HttpTransport, store: &Arc<Mutex<Store>>, sha256: &str, size: u64) -> Result<()> {
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let st = Arc::clone(store);
    let sha = sha256.to_string();
    let import = tokio::task::spawn_blocking(move || {
        let mut src = SyncIoBridge::new(reader);
        lock(&st).import_content(&mut src, &sha, size, &mut |_| true)
    });
    let fetched = transport.content(sha256, &mut writer).await;
    drop(writer);
    let imported = import.await.map_err(|e| CliError::Sync(format!("content import stopped: {e}")))?;
    fetched.map_err(sync_err)?;
    imported?;
    Ok(())
}

fn status(ctx: &mut Ctx, a: &StatusArgs, out: &mut dyn Write) -> Result<()> {
    ctx.require_store()?;
    let s = casebridge_sync::status(&sync_dir(ctx.dir())).map_err(sync_err)?;
    if a.json {
        return output::json(out, &s);
    }
    let when = |t: &Option<chrono::DateTime<chrono::Utc>>| t.map(|t| output::time(&t.fixed_offset())).unwrap_or_else(|| "never".into());
    let mut f = Fields::default();
    f.add("pending", format!("{} bundle(s), {}", s.pending, output::size(s.pending_bytes)));
    f.add("last success", when(&s.last_success));
    f.add("last attempt", when(&s.last_attempt));
    f.add("last error", s.last_error.as_deref().map(output::line).unwrap_or_else(|| "-".into()));
    f.add("feed cursor", s.cursor.to_string());
    f.write(out)?;
    Ok(())
}
