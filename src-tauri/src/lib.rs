//! # casebridge-desktop
//!
//! The desktop shell: a Tauri 2 window around the web UI (`ui/dist`, embedded at build time).
//! Every command is a one-line adapter onto [`casebridge_app::Session`], the use-case layer
//! the CLI shares, so nothing is implemented twice and everything is tested without a window.
//!
//! - Errors cross to the UI as `AppError { code, message }`.
//! - Background work reports through events: `job-progress`, `job-done` (imports),
//!   `sync-event`, `sync-done` (sync) and `locked` (manual or idle lock); each payload is a
//!   type in `ui/src/lib/bindings/`.
//! - Desktop notifications (new submissions, decisions, briefs after a sync round, decided in
//!   `casebridge_app::notify`) are shown from here, natively, through the Tauri notification
//!   plugin; the page gets no notification permission and never sees them.
//! - Commands run off the main thread (`async`, blocking work on the blocking pool), so an
//!   unlock's key derivation or an import never freezes the window.
//! - The app binds no network port: the UI is served from the binary through Tauri's own
//!   protocol, and the only network traffic is sync's HTTPS to the enrolled agency endpoint.
//!
//! ## Not here
//! Any logic: it lives in `casebridge-app`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use casebridge_app::{
    cases, court, AppError, AppEvent, AppInfo, Area, BriefInput, BriefView, CaseSort, CaseStatus, CaseSummary, CaseView, CustodyView,
    Emitter, Enrolled, EvidenceItem, FileMeta, GeoPoint, Preview, ReceiptView, ReviewDecision, Role, Session, Strength, Submission,
    SubmitInput, SyncStatus, Thumbnail, WhoAmI,
};
use tauri::{Emitter as _, Manager, Runtime, State};

/// How often the idle lock is checked.
const IDLE_TICK: Duration = Duration::from_secs(5);

/// The state every command reaches: the session.
pub struct AppState {
    /// The profile's session.
    pub session: Arc<Session>,
}

type Res<T> = Result<T, AppError>;

/// Runs blocking use-case work on the blocking thread pool (key derivation, store I/O), so
/// neither the window's main thread nor the async workers wait on it.
async fn blocking<T: Send + 'static>(state: &State<'_, AppState>, f: impl FnOnce(&Arc<Session>) -> Res<T> + Send + 'static) -> Res<T> {
    let session = Arc::clone(&state.session);
    tauri::async_runtime::spawn_blocking(move || f(&session))
        .await
        .map_err(|e| AppError::internal(format!("the command stopped unexpectedly: {e}")))?
}

// ----- profile and session -------------------------------------------------------------------------

#[tauri::command]
async fn app_info(state: State<'_, AppState>) -> Res<AppInfo> {
    blocking(&state, |s| s.app_info()).await
}

#[tauri::command]
async fn profile_create(state: State<'_, AppState>, name: String, role: Role, passphrase: String) -> Res<WhoAmI> {
    blocking(&state, move |s| s.profile_create(&name, role, passphrase)).await
}

#[tauri::command]
async fn unlock(state: State<'_, AppState>, passphrase: String) -> Res<WhoAmI> {
    blocking(&state, move |s| s.unlock(passphrase)).await
}

#[tauri::command]
async fn lock(state: State<'_, AppState>) -> Res<()> {
    blocking(&state, |s| {
        s.lock();
        Ok(())
    })
    .await
}

#[tauri::command]
async fn touch(state: State<'_, AppState>) -> Res<()> {
    blocking(&state, |s| {
        s.touch();
        Ok(())
    })
    .await
}

#[tauri::command]
async fn set_idle_lock(state: State<'_, AppState>, secs: u64) -> Res<()> {
    blocking(&state, move |s| s.set_idle_lock(secs)).await
}

#[tauri::command]
async fn passphrase_strength(state: State<'_, AppState>, passphrase: String) -> Res<Strength> {
    let passphrase = zeroize::Zeroizing::new(passphrase);
    blocking(&state, move |s| Ok(s.passphrase_strength(&passphrase))).await
}

#[tauri::command]
async fn enrol(state: State<'_, AppState>, code: String) -> Res<Enrolled> {
    state.session.enrol(&code).await
}

// ----- cases -------------------------------------------------------------------------------------------

#[tauri::command]
async fn cases_list(
    state: State<'_, AppState>,
    search: Option<String>,
    status: Option<String>,
    sort: Option<CaseSort>,
) -> Res<Vec<CaseSummary>> {
    blocking(&state, move |s| s.cases_list(search.as_deref(), cases::parse_status(status.as_deref())?, sort.unwrap_or_default())).await
}

/// Full-text search over what the profile holds (the in-memory index), best first.
#[tauri::command]
async fn search(state: State<'_, AppState>, query: String, limit: Option<usize>) -> Res<Vec<casebridge_app::search::SearchHit>> {
    blocking(&state, move |s| s.search(&query, limit)).await
}

#[tauri::command]
async fn case_create(
    state: State<'_, AppState>,
    title: String,
    summary: Option<String>,
    reference: Option<String>,
    tags: Option<Vec<String>>,
) -> Res<String> {
    blocking(&state, move |s| s.case_create(&title, summary, reference, tags.unwrap_or_default())).await
}

#[tauri::command]
async fn case_get(state: State<'_, AppState>, id: String) -> Res<CaseView> {
    blocking(&state, move |s| s.case_get(&id)).await
}

#[tauri::command]
async fn case_set_tags(state: State<'_, AppState>, case_id: String, tags: Vec<String>) -> Res<()> {
    blocking(&state, move |s| s.case_set_tags(&case_id, tags)).await
}

#[tauri::command]
async fn case_set_status(state: State<'_, AppState>, case_id: String, status: CaseStatus) -> Res<()> {
    blocking(&state, move |s| s.case_set_status(&case_id, status)).await
}

#[tauri::command]
async fn case_export(state: State<'_, AppState>, case_id: String, path: String) -> Res<String> {
    blocking(&state, move |s| s.case_export(&case_id, &path)).await
}

#[tauri::command]
async fn access_log(
    state: State<'_, AppState>,
    case: Option<String>,
    member: Option<String>,
    since: Option<String>,
) -> Res<Vec<casebridge_app::access::AccessEntry>> {
    blocking(&state, move |s| s.access_log(case.as_deref(), member.as_deref(), since.as_deref())).await
}

#[tauri::command]
async fn access_log_export(state: State<'_, AppState>, case: Option<String>, member: Option<String>, path: String) -> Res<u64> {
    blocking(&state, move |s| s.access_log_export(case.as_deref(), member.as_deref(), &path)).await
}

#[tauri::command]
async fn court_info(state: State<'_, AppState>) -> Res<court::CourtInfo> {
    blocking(&state, |s| s.court_info()).await
}

#[tauri::command]
async fn court_report(
    state: State<'_, AppState>,
    case_id: String,
    path: String,
    format: court::ReportFormat,
    reason: Option<String>,
) -> Res<String> {
    blocking(&state, move |s| s.court_report(&case_id, &path, format, reason)).await
}

#[tauri::command]
async fn court_package(state: State<'_, AppState>, case_id: String, dir: String, reason: Option<String>) -> Res<String> {
    blocking(&state, move |s| s.court_package(&case_id, &dir, reason)).await
}

/// A redacted copy of an image item (regions blurred or filled, metadata stripped), added with
/// its provenance.
#[tauri::command]
async fn evidence_redact(state: State<'_, AppState>, id: String, request: court::RedactRequest) -> Res<court::Redacted> {
    blocking(&state, move |s| s.evidence_redact(&id, &request)).await
}

#[tauri::command]
async fn note_amend(state: State<'_, AppState>, case_id: String, note_id: String, text: String, reason: Option<String>) -> Res<()> {
    blocking(&state, move |s| s.note_amend(&case_id, &note_id, &text, reason)).await
}

#[tauri::command]
async fn note_add(state: State<'_, AppState>, case_id: String, text: String) -> Res<String> {
    blocking(&state, move |s| s.note_add(&case_id, &text)).await
}

#[tauri::command]
async fn evidence_list(state: State<'_, AppState>, case_id: String) -> Res<Vec<EvidenceItem>> {
    blocking(&state, move |s| s.evidence_list(&case_id)).await
}

#[tauri::command]
async fn evidence_custody(state: State<'_, AppState>, id: String) -> Res<Vec<CustodyView>> {
    blocking(&state, move |s| s.evidence_custody(&id)).await
}

#[tauri::command]
async fn evidence_import(state: State<'_, AppState>, case_id: String, paths: Vec<String>) -> Res<String> {
    blocking(&state, move |s| s.evidence_import(&case_id, paths)).await
}

#[tauri::command]
async fn job_cancel(state: State<'_, AppState>, job: String) -> Res<()> {
    blocking(&state, move |s| s.job_cancel(&job)).await
}

#[tauri::command]
async fn evidence_preview(state: State<'_, AppState>, id: String, max_bytes: u64) -> Res<Preview> {
    blocking(&state, move |s| s.evidence_preview(&id, max_bytes)).await
}

#[tauri::command]
async fn evidence_open(state: State<'_, AppState>, id: String) -> Res<casebridge_app::media::MediaSource> {
    blocking(&state, move |s| s.evidence_open(&id)).await
}

#[tauri::command]
async fn media_range(state: State<'_, AppState>, url: String, begin: u64, end: u64) -> Res<tauri::ipc::Response> {
    blocking(&state, move |s| s.media_range(&url, begin, end).map(tauri::ipc::Response::new)).await
}

#[tauri::command]
async fn set_notifications(state: State<'_, AppState>, enabled: bool) -> Res<()> {
    blocking(&state, move |s| s.set_notifications(enabled)).await
}

/// The UI's language (`en`, `de`, `nl`), which the notifications shown from Rust are written in.
#[tauri::command]
async fn set_language(state: State<'_, AppState>, tag: String) -> Res<casebridge_app::notify::Language> {
    blocking(&state, move |s| s.set_language(&tag)).await
}

#[tauri::command]
async fn set_tile_server(state: State<'_, AppState>, template: Option<String>) -> Res<()> {
    blocking(&state, move |s| s.set_tile_server(template)).await
}

#[tauri::command]
async fn set_map_tiles(state: State<'_, AppState>, path: Option<String>) -> Res<Option<casebridge_app::map_tiles::MapTiles>> {
    blocking(&state, move |s| s.set_map_tiles(path)).await
}

#[tauri::command]
async fn map_tiles(state: State<'_, AppState>) -> Res<Option<casebridge_app::map_tiles::MapTiles>> {
    blocking(&state, |s| s.map_tiles()).await
}

/// Raw bytes of the street map's PMTiles file for the map's reader (an `ArrayBuffer` in the
/// webview, no JSON): the file is read here, never fetched by the webview.
#[tauri::command]
async fn map_tiles_range(state: State<'_, AppState>, offset: u64, length: u64) -> Res<tauri::ipc::Response> {
    blocking(&state, move |s| s.map_tiles_range(offset, length).map(tauri::ipc::Response::new)).await
}

#[tauri::command]
async fn evidence_thumbnail(state: State<'_, AppState>, id: String, max_px: u32) -> Res<Thumbnail> {
    blocking(&state, move |s| s.evidence_thumbnail(&id, max_px)).await
}

#[tauri::command]
async fn file_metadata(state: State<'_, AppState>, paths: Vec<String>) -> Res<Vec<FileMeta>> {
    blocking(&state, move |s| s.file_metadata(&paths)).await
}

// ----- file exchange (bundles and receipts on files and drives) ------------------------------------

/// Agency side: verifies a bundle file with the agency in `agency_dir` (its passphrase for this call).
#[tauri::command]
async fn bundle_verify(
    state: State<'_, AppState>,
    agency_dir: String,
    agency_passphrase: String,
    path: String,
) -> Res<casebridge_app::exchange::BundleVerdict> {
    blocking(&state, move |s| s.bundle_verify(&agency_dir, agency_passphrase, &path)).await
}

/// Agency side: opens a bundle file into this profile and writes the signed receipt to `receipt_out`.
#[tauri::command]
async fn bundle_open(
    state: State<'_, AppState>,
    agency_dir: String,
    agency_passphrase: String,
    path: String,
    receipt_out: String,
) -> Res<casebridge_app::exchange::BundleOpened> {
    blocking(&state, move |s| s.bundle_open(&agency_dir, agency_passphrase, &path, &receipt_out)).await
}

/// Sender side: keeps a receipt file the agency returned.
#[tauri::command]
async fn receipt_import(state: State<'_, AppState>, path: String) -> Res<casebridge_app::exchange::ReceiptImported> {
    blocking(&state, move |s| s.receipt_import(&path)).await
}

/// Writes the sealed outbox bundles to the folder `dir`.
#[tauri::command]
async fn bundles_export(state: State<'_, AppState>, dir: String) -> Res<Vec<casebridge_app::exchange::ExportedBundle>> {
    blocking(&state, move |s| s.bundles_export(&dir)).await
}

// ----- briefs and review -----------------------------------------------------------------------------

#[tauri::command]
async fn briefs_list(state: State<'_, AppState>, include_withdrawn: Option<bool>) -> Res<Vec<BriefView>> {
    blocking(&state, move |s| s.briefs_list(include_withdrawn.unwrap_or(false))).await
}

#[tauri::command]
#[allow(clippy::too_many_arguments)] // the contract's parameters, one each
async fn brief_publish(
    state: State<'_, AppState>,
    case_id: String,
    title: String,
    body: String,
    area: Option<Area>,
    from: Option<String>,
    until: Option<String>,
    audience: Option<Vec<String>>,
) -> Res<String> {
    let brief = BriefInput { case_id, title, body, area, from, until, audience: audience.unwrap_or_default() };
    blocking(&state, move |s| s.brief_publish(brief)).await
}

#[tauri::command]
async fn brief_withdraw(state: State<'_, AppState>, id: String) -> Res<()> {
    blocking(&state, move |s| s.brief_withdraw(&id)).await
}

#[tauri::command]
async fn submissions_list(state: State<'_, AppState>) -> Res<Vec<Submission>> {
    blocking(&state, |s| s.submissions_list()).await
}

#[tauri::command]
async fn review_decide(
    state: State<'_, AppState>,
    submission_id: String,
    decision: ReviewDecision,
    items: Option<Vec<String>>,
    reason: Option<String>,
) -> Res<Submission> {
    blocking(&state, move |s| s.review_decide(&submission_id, decision, &items.unwrap_or_default(), reason)).await
}

// ----- volunteers -------------------------------------------------------------------------------------

#[tauri::command]
async fn submission_withdraw(state: State<'_, AppState>, id: String, reason: Option<String>) -> Res<Submission> {
    blocking(&state, move |s| s.submission_withdraw(&id, reason)).await
}

#[tauri::command]
async fn submit(
    state: State<'_, AppState>,
    brief_id: String,
    paths: Vec<String>,
    description: Option<String>,
    captured_at: Option<String>,
    location: Option<GeoPoint>,
) -> Res<Submission> {
    let input = SubmitInput { brief_id, paths: paths.into_iter().map(Into::into).collect(), description, captured_at, location };
    blocking(&state, move |s| s.submit(input)).await
}

#[tauri::command]
async fn receipts_list(state: State<'_, AppState>) -> Res<Vec<ReceiptView>> {
    blocking(&state, |s| s.receipts_list()).await
}

#[tauri::command]
async fn conduct_accepted(state: State<'_, AppState>) -> Res<bool> {
    blocking(&state, |s| s.conduct_accepted()).await
}

#[tauri::command]
async fn accept_conduct(state: State<'_, AppState>) -> Res<()> {
    blocking(&state, |s| s.accept_conduct()).await
}

// ----- sync -------------------------------------------------------------------------------------------

#[tauri::command]
async fn sync_status(state: State<'_, AppState>) -> Res<SyncStatus> {
    blocking(&state, |s| s.sync_status()).await
}

#[tauri::command]
async fn sync_now(state: State<'_, AppState>) -> Res<()> {
    blocking(&state, |s| s.sync_now()).await
}

// ----- the app ----------------------------------------------------------------------------------------

/// Wires the commands, and at start-up the session: `make` builds it given the emitter that
/// forwards its events to the window; `media_stream` (from [`casebridge_app::media_stream::bind`])
/// is served for the viewer's `<video>` and `<audio>` once the session exists. Generic over the
/// runtime so the tests run it on Tauri's mock runtime.
pub fn setup<R: Runtime>(
    builder: tauri::Builder<R>,
    media_stream: Option<std::net::TcpListener>,
    make: impl FnOnce(Emitter) -> Session + Send + 'static,
) -> tauri::Builder<R> {
    builder
        // Native open/save dialogs (the UI calls `plugin:dialog|open` and `|save`; the
        // capability grants only those two).
        .plugin(tauri_plugin_dialog::init())
        // Native notifications, shown from Rust only (`show_notification`); the capability
        // grants the page none of the plugin's commands.
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            app_info,
            profile_create,
            unlock,
            lock,
            touch,
            set_idle_lock,
            passphrase_strength,
            enrol,
            cases_list,
            search,
            case_create,
            case_get,
            case_set_status,
            case_set_tags,
            case_export,
            access_log,
            access_log_export,
            court_info,
            court_report,
            court_package,
            evidence_redact,
            note_add,
            note_amend,
            evidence_list,
            evidence_custody,
            evidence_import,
            job_cancel,
            evidence_preview,
            evidence_open,
            media_range,
            set_tile_server,
            set_map_tiles,
            map_tiles,
            map_tiles_range,
            set_notifications,
            set_language,
            evidence_thumbnail,
            file_metadata,
            bundle_verify,
            bundle_open,
            receipt_import,
            bundles_export,
            briefs_list,
            brief_publish,
            brief_withdraw,
            submissions_list,
            submission_withdraw,
            review_decide,
            submit,
            receipts_list,
            conduct_accepted,
            accept_conduct,
            sync_status,
            sync_now,
        ])
        // The viewer's evidence content (`cbmedia://localhost/<token>`, casebridge_app::media):
        // answered on the blocking pool, never on the window's thread.
        .register_asynchronous_uri_scheme_protocol(casebridge_app::media::SCHEME, |ctx, request, responder| {
            let session = ctx.app_handle().try_state::<AppState>().map(|s| Arc::clone(&s.session));
            let main_window = ctx.webview_label() == "main";
            tauri::async_runtime::spawn_blocking(move || responder.respond(media_response(session.as_deref(), main_window, &request)));
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            let emitter: Emitter = Arc::new(move |e: AppEvent| match e {
                AppEvent::Notification(n) => show_notification(&handle, &n),
                // A window that is gone cannot be told; the work itself is unaffected.
                e => {
                    let _ = handle.emit(e.name(), e.payload());
                }
            });
            let session = Arc::new(make(emitter));
            spawn_idle_ticker(Arc::downgrade(&session))?;
            if let Some(listener) = media_stream {
                start_media_stream(&session, listener)?;
            }
            app.manage(AppState { session });
            Ok(())
        })
}

/// Shows one notification natively (D-Bus on Linux). Its text is what
/// `casebridge_app::notify::decide` wrote (no case content for volunteers); it is not passed to
/// the window. A desktop without a notification service shows nothing, and nothing fails.
fn show_notification<R: Runtime>(app: &tauri::AppHandle<R>, n: &casebridge_app::notify::Notification) {
    if let Some(plugin) = app.try_state::<tauri_plugin_notification::Notification<R>>() {
        let _ = plugin.builder().title(n.title.as_str()).body(n.body.as_str()).show();
    }
}

/// Answers one request to the `cbmedia` scheme: the session does the work; a request from
/// another webview than the main window, or before the session exists, is refused.
pub fn media_response(
    session: Option<&Session>,
    main_window: bool,
    request: &tauri::http::Request<Vec<u8>>,
) -> tauri::http::Response<Vec<u8>> {
    use casebridge_app::media::{MediaRequest, MediaResponse};
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let resp = match session {
        Some(session) if main_window => session.media_request(&MediaRequest {
            method: request.method().as_str(),
            path: request.uri().path(),
            range: header("range"),
            origin: header("origin"),
        }),
        _ => MediaResponse {
            status: 403,
            headers: vec![("X-Casebridge-Reason", "token_unknown".into())],
            body: b"token_unknown: not served to this window".to_vec(),
        },
    };
    let mut builder = tauri::http::Response::builder().status(resp.status);
    for (name, value) in &resp.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(resp.body).unwrap_or_else(|_| {
        let mut r = tauri::http::Response::new(b"internal: the response could not be built".to_vec());
        *r.status_mut() = tauri::http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// Serves the viewer's loopback stream (`http://127.0.0.1:PORT/<token>`, see
/// casebridge_app::media_stream) on the app's runtime for as long as the session lives.
fn start_media_stream(session: &Arc<Session>, listener: std::net::TcpListener) -> std::io::Result<()> {
    use casebridge_app::media::MediaResponse;
    let port = listener.local_addr()?.port();
    let weak = Arc::downgrade(session);
    let handler: casebridge_app::media_stream::Handler = Arc::new(move |req| match weak.upgrade() {
        Some(s) => s.media_request(req),
        None => MediaResponse {
            status: 403,
            headers: vec![("X-Casebridge-Reason", "token_unknown".into())],
            body: b"token_unknown: the app is closing".to_vec(),
        },
    });
    tauri::async_runtime::spawn(async move {
        if let Err(e) = casebridge_app::media_stream::serve(listener, handler).await {
            eprintln!("casebridge: the viewer's media stream stopped: {e}");
        }
    });
    session.set_media_stream(port);
    Ok(())
}

/// Checks the idle lock every few seconds for as long as the session lives.
fn spawn_idle_ticker(session: Weak<Session>) -> std::io::Result<()> {
    std::thread::Builder::new().name("casebridge-idle".into()).spawn(move || loop {
        std::thread::sleep(IDLE_TICK);
        match session.upgrade() {
            Some(s) => {
                s.check_idle();
            }
            None => return,
        }
    })?;
    Ok(())
}

/// Runs the app on the store in `CASEBRIDGE_STORE` or the platform data directory.
pub fn run() {
    let dir = match casebridge_app::default_store_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("casebridge: {}", e.message);
            std::process::exit(1);
        }
    };
    let mut context = tauri::generate_context!();
    // A map tile server set in Settings: the CSP allows images and fetches (MapLibre fetches
    // raster tiles) from its one origin (no `https:` source otherwise).
    let tiles = casebridge_app::settings::Settings::load(&dir).ok().and_then(|s| s.tile_server);
    let origin = tiles.as_deref().and_then(|t| casebridge_app::settings::tile_origin(t).ok());
    if let (Some(origin), Some(tauri::utils::config::Csp::Policy(csp))) = (origin, context.config().app.security.csp.clone()) {
        let csp = casebridge_app::settings::csp_with_tiles(&csp, Some(&origin));
        context.config_mut().app.security.csp = Some(tauri::utils::config::Csp::Policy(csp));
    }
    // The viewer's loopback stream for video and audio (WebKitGTK cannot play them from a
    // custom scheme): bound now so the CSP names its one origin in `media-src`. Without it
    // (no loopback?) media elements fall back to the `cbmedia` URL.
    let stream = match casebridge_app::media_stream::bind() {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("casebridge: the viewer's media stream could not listen on 127.0.0.1: {e}");
            None
        }
    };
    if let (Some(port), Some(tauri::utils::config::Csp::Policy(csp))) =
        (stream.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port()), context.config().app.security.csp.clone())
    {
        let csp = casebridge_app::media_stream::csp_with_stream(&csp, port);
        context.config_mut().app.security.csp = Some(tauri::utils::config::Csp::Policy(csp));
    }
    let app = setup(tauri::Builder::default(), stream, move |emitter| Session::new(dir).with_emitter(emitter));
    if let Err(e) = app.run(context) {
        eprintln!("casebridge: the window could not start: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests;
