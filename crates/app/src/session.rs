//! [`Session`]: one profile's store directory as an app sees it: locked or unlocked, the
//! failed-unlock counter and lockout, the idle lock, and the background jobs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use casebridge_core::{EvidenceOptions, KdfParams, Passphrase, Store, HEADER_FILE};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::briefs::{self, BriefInput, SubmitInput};
use crate::cases;
use crate::clock::{Clock, SystemClock};
use crate::court;
use crate::error::{AppError, ErrorCode, Result};
use crate::export;
use crate::files;
use crate::handle::StoreHandle;
use crate::import::{self, Checked};
use crate::outbox;
use crate::settings::{Settings, MAX_IDLE_LOCK_SECS, MIN_IDLE_LOCK_SECS};
use crate::strength;
use crate::sync;
use crate::views::{
    AppEvent, AppInfo, BriefView, CaseSort, CaseStatus, CaseSummary, CaseView, CustodyView, Emitter, Enrolled, EvidenceItem, FileMeta,
    JobDone, JobProgress, LockReason, Locked, Preview, ReceiptView, ReviewDecision, Role, Strength, Submission, SyncDone, SyncStatus,
    Thumbnail, WhoAmI,
};

/// Wrong passphrases in a row before unlocking is paused.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;

/// How long unlocking is paused after [`MAX_FAILED_ATTEMPTS`] wrong passphrases.
pub const LOCKOUT_MINUTES: i64 = 10;

/// The job id of the sync round (cancel it with [`Session::job_cancel`]).
pub const SYNC_JOB: &str = "sync";

/// The environment variable naming the store directory.
pub const STORE_ENV: &str = "CASEBRIDGE_STORE";

/// The store directory: `CASEBRIDGE_STORE` when set and not empty, else the platform data
/// directory + `/casebridge` (as the CLI).
pub fn default_store_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(STORE_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir().map(|d| d.join("casebridge")).ok_or_else(|| {
        AppError::new(ErrorCode::NoDataDir, "cannot find a data directory for this user: set CASEBRIDGE_STORE to a directory")
    })
}

struct Inner {
    last_activity: DateTime<Utc>,
    idle_lock_secs: u64,
    /// The last sync reached the endpoint (None: no sync in this session yet).
    online: Option<bool>,
    sync_running: bool,
    /// The UI's language, for notifications (English until the desktop says).
    language: crate::notify::Language,
}

/// One profile's store directory, as the desktop app (or any other long-lived caller) uses it.
///
/// - **Unlocking.** [`Session::unlock`] opens the store with a passphrase. After
///   [`MAX_FAILED_ATTEMPTS`] wrong passphrases in a row, unlocking is refused for
///   [`LOCKOUT_MINUTES`] minutes, even with the right one. The counter and the lockout live in
///   the store directory's `app.json`, so restarting the app does not reset them.
/// - **Idle lock.** Without [`Session::touch`] for the idle time (default 900 s), the next
///   [`Session::check_idle`] (the shell calls it every few seconds) or the next command locks
///   the profile and emits `locked`. Running jobs hold it open; the idle time counts from
///   when the last one ends.
/// - **Use cases.** One method per command of the desktop contract; each is a one-line call
///   into this crate's modules with the store held for that one operation.
/// - **Jobs.** [`Session::evidence_import`] and [`Session::sync_now`] run on their own threads,
///   report through the [`Emitter`], and stop on [`Session::job_cancel`] without damage.
pub struct Session {
    dir: PathBuf,
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    kdf: KdfParams,
    emitter: Emitter,
    inner: Mutex<Inner>,
    jobs: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Serialises unlock attempts, so concurrent tries cannot race the counter.
    unlock_gate: Mutex<()>,
    /// The viewer's open items (`cbmedia` tokens), forgotten when the profile locks.
    media: crate::media::MediaTokens,
    /// The loopback stream's origin (`http://127.0.0.1:PORT`), once the desktop runs it.
    media_stream: Mutex<Option<String>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("dir", &self.dir).field("store", &self.store).finish_non_exhaustive()
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// A locked session on the store directory `dir`, with the system clock, the production
    /// KDF for new profiles, and no one listening to events.
    pub fn new(dir: impl Into<PathBuf>) -> Session {
        let dir = dir.into();
        let idle_lock_secs = Settings::load(&dir).map(|s| s.idle_lock_secs).unwrap_or(crate::settings::DEFAULT_IDLE_LOCK_SECS);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Session {
            dir,
            store: StoreHandle::empty(),
            inner: Mutex::new(Inner {
                last_activity: clock.now(),
                idle_lock_secs,
                online: None,
                sync_running: false,
                language: Default::default(),
            }),
            clock,
            kdf: KdfParams::INTERACTIVE,
            emitter: Arc::new(|_| {}),
            jobs: Mutex::new(HashMap::new()),
            unlock_gate: Mutex::new(()),
            media: crate::media::MediaTokens::default(),
            media_stream: Mutex::new(None),
        }
    }

    /// Uses `clock` (tests move a [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Session {
        guard(&self.inner).last_activity = clock.now();
        self.clock = clock;
        self
    }

    /// Creates new profiles with `kdf` (tests pass the cheap test parameters).
    pub fn with_kdf(mut self, kdf: KdfParams) -> Session {
        self.kdf = kdf;
        self
    }

    /// Reports background work and locks to `emitter`.
    pub fn with_emitter(mut self, emitter: Emitter) -> Session {
        self.emitter = emitter;
        self
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The unlocked store (empty while locked).
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn emit(&self, e: AppEvent) {
        (self.emitter)(e)
    }

    fn profile_exists(&self) -> bool {
        self.dir.join(HEADER_FILE).exists()
    }

    /// The settings file, or, if it is damaged, a fresh one with a lockout from now (written
    /// at once, so the lockout does not restart on every read).
    fn settings(&self) -> Result<Settings> {
        if !self.profile_exists() {
            return Ok(Settings { idle_lock_secs: guard(&self.inner).idle_lock_secs, ..Settings::default() });
        }
        match Settings::load(&self.dir) {
            Ok(s) => Ok(s),
            Err(e) if e.code == ErrorCode::SettingsDamaged => {
                let s = Settings {
                    failed_attempts: MAX_FAILED_ATTEMPTS,
                    locked_out_until: Some(self.now() + Duration::minutes(LOCKOUT_MINUTES)),
                    ..Settings::default()
                };
                s.save(&self.dir)?;
                Ok(s)
            }
            Err(e) => Err(e),
        }
    }

    fn touch_now(&self) {
        guard(&self.inner).last_activity = self.now();
    }

    // ----- profile and session ---------------------------------------------------------------

    /// The app's state at a glance. Needs no passphrase.
    pub fn app_info(&self) -> Result<AppInfo> {
        self.check_idle();
        let settings = self.settings()?;
        let (whoami, enrolled) = if self.store.is_open() {
            self.store.with(|s| Ok((Some(s.whoami().clone()), outbox::endpoint(s).map(|e| e.is_some()).unwrap_or(false))))?
        } else {
            (None, false)
        };
        let locked_out_until = settings.locked_out_until.filter(|t| *t > self.now());
        Ok(AppInfo {
            store_dir: self.dir.display().to_string(),
            profile_exists: self.profile_exists(),
            unlocked: whoami.is_some(),
            whoami,
            idle_lock_secs: guard(&self.inner).idle_lock_secs,
            notifications: settings.notifications,
            // A lockout that has run out starts a fresh count at the next unlock.
            failed_attempts: if settings.locked_out_until.is_some() && locked_out_until.is_none() { 0 } else { settings.failed_attempts },
            locked_out_until,
            enrolled,
        })
    }

    /// Creates the profile (a new store) and unlocks it. The passphrase must have at least 10
    /// characters (`passphrase_too_short`).
    pub fn profile_create(&self, name: &str, role: Role, passphrase: String) -> Result<WhoAmI> {
        let pass = Passphrase::new(passphrase);
        let _gate = guard(&self.unlock_gate);
        let store = Store::create(&self.dir, &pass, name, role, self.kdf)?;
        let me = store.whoami().clone();
        self.store.put(store);
        let idle = guard(&self.inner).idle_lock_secs;
        Settings { idle_lock_secs: idle, ..Settings::default() }.save(&self.dir)?;
        self.touch_now();
        Ok(me)
    }

    /// Unlocks the profile. A wrong passphrase fails with `wrong_passphrase` (the message says
    /// how many tries are left); after [`MAX_FAILED_ATTEMPTS`] in a row, with `locked_out`
    /// until [`LOCKOUT_MINUTES`] have passed, whatever the passphrase.
    pub fn unlock(&self, passphrase: String) -> Result<WhoAmI> {
        let pass = Passphrase::new(passphrase);
        let _gate = guard(&self.unlock_gate);
        if self.store.is_open() {
            self.touch_now();
            return self.store.with(|s| Ok(s.whoami().clone()));
        }
        if !self.profile_exists() {
            return Err(casebridge_core::Error::NoStore { path: self.dir.clone() }.into());
        }
        let mut settings = self.settings()?;
        let now = self.now();
        if let Some(until) = settings.locked_out_until {
            if until > now {
                return Err(locked_out(until));
            }
            // The pause is over: a fresh count.
            settings.locked_out_until = None;
            settings.failed_attempts = 0;
            settings.save(&self.dir)?;
        }
        match Store::open(&self.dir, &pass) {
            Ok(store) => {
                if settings.failed_attempts != 0 {
                    settings.failed_attempts = 0;
                    settings.save(&self.dir)?;
                }
                let me = store.whoami().clone();
                self.store.put(store);
                self.touch_now();
                Ok(me)
            }
            Err(casebridge_core::Error::WrongPassphrase) => {
                settings.failed_attempts = settings.failed_attempts.saturating_add(1);
                if settings.failed_attempts >= MAX_FAILED_ATTEMPTS {
                    let until = now + Duration::minutes(LOCKOUT_MINUTES);
                    settings.locked_out_until = Some(until);
                    settings.save(&self.dir)?;
                    return Err(locked_out(until));
                }
                settings.save(&self.dir)?;
                let left = MAX_FAILED_ATTEMPTS - settings.failed_attempts;
                Err(AppError::new(
                    ErrorCode::WrongPassphrase,
                    format!(
                        "wrong passphrase: the profile was not unlocked. {left} {} left before unlocking is paused for {LOCKOUT_MINUTES} minutes",
                        if left == 1 { "try" } else { "tries" }
                    ),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Locks the profile now: the store is closed and its keys wiped. A running import or
    /// sync stops at its next step with `locked`.
    pub fn lock(&self) {
        self.media.clear();
        if self.store.close() {
            self.emit(AppEvent::Locked(Locked { reason: LockReason::Manual }));
        }
    }

    /// Notes user activity: the idle time starts again (unless it has already run out, in
    /// which case the profile locks now).
    pub fn touch(&self) {
        if !self.check_idle() {
            self.touch_now();
        }
    }

    /// Sets the idle time, in seconds (30 s to 8 h); kept with the profile.
    pub fn set_idle_lock(&self, secs: u64) -> Result<()> {
        if !(MIN_IDLE_LOCK_SECS..=MAX_IDLE_LOCK_SECS).contains(&secs) {
            return Err(AppError::invalid(
                "idle lock",
                format!("{secs} seconds is outside {MIN_IDLE_LOCK_SECS} to {MAX_IDLE_LOCK_SECS} seconds"),
            ));
        }
        guard(&self.inner).idle_lock_secs = secs;
        if self.profile_exists() {
            let mut s = self.settings()?;
            s.idle_lock_secs = secs;
            s.save(&self.dir)?;
        }
        self.touch();
        Ok(())
    }

    /// Sets (or with `None` clears) the map tile server, kept with the profile outside the
    /// store (it is not case data): the desktop's CSP allows images from its origin from the
    /// next start on. A template that is not https with a plain host and `{z}`, `{x}`, `{y}` is
    /// refused (`invalid_input`), nothing changed.
    pub fn set_tile_server(&self, template: Option<String>) -> Result<()> {
        let template = template.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        if let Some(t) = &template {
            crate::settings::tile_origin(t)?;
        }
        let mut s = self.settings()?;
        s.tile_server = template;
        s.save(&self.dir)
    }

    /// Sets (or with `None` clears) the street map's PMTiles file, kept with the profile. The
    /// file is checked first (see [`crate::map_tiles::check_file`]): one that is missing, not
    /// PMTiles v3, not vector tiles or damaged is refused with its own code and nothing
    /// changes. Returns the file the map now uses (with `None`, the agency's shipped file if
    /// there is one). Only an unlocked profile changes it.
    pub fn set_map_tiles(&self, path: Option<String>) -> Result<Option<crate::map_tiles::MapTiles>> {
        self.with_store(|_| Ok(()))?;
        let path = path.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        if let Some(p) = &path {
            crate::map_tiles::describe(Path::new(p), true)?;
        }
        let mut s = self.settings()?;
        s.map_tiles = path;
        s.save(&self.dir)?;
        self.touch();
        self.map_tiles()
    }

    /// The street map's tiles file (Settings', else the agency's shipped one), checked; `None`
    /// when there is none. A file that fails its check now is an error with its code (the map
    /// then says why and draws the outlines). Unlocked profiles only.
    pub fn map_tiles(&self) -> Result<Option<crate::map_tiles::MapTiles>> {
        self.with_store(|_| Ok(()))?;
        let set = self.settings()?.map_tiles;
        match crate::map_tiles::chosen(&self.dir, set.as_deref()) {
            Some((p, from_settings)) => crate::map_tiles::describe(&p, from_settings).map(Some),
            None => Ok(None),
        }
    }

    /// Bytes `offset .. offset + length` of the street map's tiles file (fewer at its end), for
    /// the map's PMTiles reader. Unlocked profiles only; `missing_file` when no file is chosen.
    pub fn map_tiles_range(&self, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.with_store(|_| Ok(()))?;
        let set = self.settings()?.map_tiles;
        let (p, _) = crate::map_tiles::chosen(&self.dir, set.as_deref())
            .ok_or_else(|| AppError::new(ErrorCode::MissingFile, "no map tiles file is set or shipped with this profile"))?;
        crate::map_tiles::read_range(&p, offset, length)
    }

    /// Turns desktop notifications after sync rounds on or off (kept with the profile; see
    /// [`crate::notify`]). Takes effect from the next round.
    pub fn set_notifications(&self, enabled: bool) -> Result<()> {
        if !self.profile_exists() {
            return Err(AppError::no_profile(&self.dir));
        }
        let mut s = self.settings()?;
        s.notifications = enabled;
        s.save(&self.dir)?;
        self.touch();
        Ok(())
    }

    /// The UI's language (`en`, `de`, `nl`, or a tag of one of them such as `de-AT`), which
    /// notifications are written in from the next round. A UI preference: needs no profile and
    /// works while locked. Another tag is refused (`invalid_input`) and changes nothing.
    pub fn set_language(&self, tag: &str) -> Result<crate::notify::Language> {
        let lang = crate::notify::Language::from_tag(tag).ok_or_else(|| {
            AppError::invalid("language", format!("{:?} is not one of en, de, nl", tag.chars().take(16).collect::<String>()))
        })?;
        guard(&self.inner).language = lang;
        Ok(lang)
    }

    /// Whether desktop notifications are on (the setting; on when it cannot be read).
    fn notifications_on(&self) -> bool {
        self.settings().map(|s| s.notifications).unwrap_or(true)
    }

    /// What [`crate::notify::decide`] compares after a round: the store read now, when
    /// notifications are on and the profile is unlocked (else `None`: nothing to show).
    fn held_for_notifications(&self, since: Option<&crate::notify::Held>) -> Option<crate::notify::Held> {
        if !self.notifications_on() {
            return None;
        }
        self.store.with(|s| crate::notify::Held::read(s, since)).ok()
    }

    /// After a round: the notifications for what it brought in, each emitted as
    /// [`AppEvent::Notification`] (none when the setting was turned off meanwhile, or the
    /// profile locked).
    fn notify_after_round(&self, before: Option<crate::notify::Held>) {
        let Some(before) = before else { return };
        let Some(after) = self.held_for_notifications(Some(&before)) else { return };
        let Ok(me) = self.store.with(|s| Ok(s.whoami().clone())) else { return };
        let lang = guard(&self.inner).language;
        for n in crate::notify::decide(me.member_id, me.role, &before, &after, true, lang) {
            self.emit(AppEvent::Notification(n));
        }
    }

    /// Locks the profile if it has been idle for the idle time and no job is running; emits
    /// `locked` and returns true when it did.
    pub fn check_idle(&self) -> bool {
        if !self.store.is_open() || !guard(&self.jobs).is_empty() {
            return false;
        }
        let expired = {
            let inner = guard(&self.inner);
            let idle = Duration::seconds(i64::try_from(inner.idle_lock_secs).unwrap_or(i64::MAX));
            self.now() - inner.last_activity >= idle
        };
        if expired {
            self.media.clear();
        }
        if expired && self.store.close() {
            self.emit(AppEvent::Locked(Locked { reason: LockReason::Idle }));
            return true;
        }
        false
    }

    /// Runs `f` on the unlocked store (`locked` otherwise), after the idle check.
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
        self.check_idle();
        self.store.with(f)
    }

    /// How strong a passphrase is (no store needed).
    pub fn passphrase_strength(&self, passphrase: &str) -> Strength {
        strength::passphrase_strength(passphrase)
    }

    /// Enrols the profile at an agency endpoint with an invite code.
    pub async fn enrol(&self, code: &str) -> Result<Enrolled> {
        self.check_idle();
        crate::enrol::enrol(&self.store, code).await
    }

    // ----- cases --------------------------------------------------------------------------------

    /// The case list.
    pub fn cases_list(&self, search: Option<&str>, status: Option<CaseStatus>, sort: CaseSort) -> Result<Vec<CaseSummary>> {
        if search.is_some_and(|s| !s.trim().is_empty()) {
            self.check_idle();
            return self.store.with_search(|s, index| cases::list_with(s, Some(index), search, status, sort));
        }
        self.with_store(|s| cases::list(s, search, status, sort))
    }

    /// Full-text search over what the store holds, best first, with snippets (at most
    /// `limit`, default [`crate::search::DEFAULT_LIMIT`]). The index lives in memory: built at
    /// the first search after unlock, brought up to date with the journal at each search,
    /// dropped at lock.
    pub fn search(&self, query: &str, limit: Option<usize>) -> Result<Vec<crate::search::SearchHit>> {
        self.check_idle();
        self.store.with_search(|_, index| crate::search::search(index, query, limit))
    }

    /// Opens a case; returns its id.
    pub fn case_create(&self, title: &str, summary: Option<String>, reference: Option<String>, tags: Vec<String>) -> Result<String> {
        self.with_store(|s| cases::create(s, title, summary, reference, tags)).map(|id| id.to_string())
    }

    /// A case with its evidence and notes (police staff's view is logged).
    pub fn case_get(&self, id: &str) -> Result<CaseView> {
        self.with_store(|s| cases::get(s, id))
    }

    /// Replaces a case's tags (an empty list removes them all).
    pub fn case_set_tags(&self, case_id: &str, tags: Vec<String>) -> Result<()> {
        self.with_store(|s| cases::set_tags(s, case_id, tags))
    }

    /// Sets a case's status.
    pub fn case_set_status(&self, case_id: &str, status: CaseStatus) -> Result<()> {
        self.with_store(|s| cases::set_status(s, case_id, status))
    }

    /// Amends a note this profile's member wrote: `text` replaces its current text, the
    /// original stays in its history.
    pub fn note_amend(&self, case_id: &str, note_id: &str, text: &str, reason: Option<String>) -> Result<()> {
        self.with_store(|s| cases::note_amend(s, case_id, note_id, text, reason))
    }

    /// Adds a note; returns its id.
    pub fn note_add(&self, case_id: &str, text: &str) -> Result<String> {
        self.with_store(|s| cases::add_note(s, case_id, text)).map(|id| id.to_string())
    }

    /// A case's evidence.
    pub fn evidence_list(&self, case_id: &str) -> Result<Vec<EvidenceItem>> {
        self.with_store(|s| cases::evidence_list(s, case_id))
    }

    /// An item's custody trail.
    pub fn evidence_custody(&self, id: &str) -> Result<Vec<CustodyView>> {
        self.with_store(|s| cases::custody(s, id))
    }

    /// An item's content for display (police staff's view is logged).
    pub fn evidence_preview(&self, id: &str, max_bytes: u64) -> Result<Preview> {
        self.with_store(|s| cases::preview(s, id, max_bytes))
    }

    /// Opens an item for the viewer: its `cbmedia` URL, valid until the profile locks (police
    /// staff's view is logged, once).
    pub fn evidence_open(&self, id: &str) -> Result<crate::media::MediaSource> {
        let mut source = self.with_store(|s| crate::media::open(s, &self.media, id))?;
        if let Some(origin) = guard(&self.media_stream).as_deref() {
            let token = source.url.rsplit('/').next().unwrap_or_default();
            source.stream_url = Some(format!("{origin}/{token}"));
        }
        Ok(source)
    }

    /// Says that the loopback stream ([`crate::media_stream`]) listens on `port`: items opened
    /// from now on carry a `stream_url` for media elements.
    pub fn set_media_stream(&self, port: u16) {
        *guard(&self.media_stream) = Some(crate::media_stream::origin(port));
    }

    /// Bytes `begin .. end` of the item a viewer URL opens (see [`crate::media::read_url`]).
    pub fn media_range(&self, url: &str, begin: u64, end: u64) -> Result<Vec<u8>> {
        self.check_idle();
        crate::media::read_url(&self.media, &self.store, url, begin, end)
    }

    /// Answers one request of the webview to the `cbmedia` scheme (see [`crate::media`]).
    pub fn media_request(&self, req: &crate::media::MediaRequest<'_>) -> crate::media::MediaResponse {
        self.check_idle();
        self.media.serve(&self.store, req)
    }

    /// A small downscaled copy of an image item for tables (police staff's view is logged).
    pub fn evidence_thumbnail(&self, id: &str, max_px: u32) -> Result<Thumbnail> {
        self.with_store(|s| cases::thumbnail(s, id, max_px))
    }

    /// What files on this computer say about themselves (media type, size, EXIF time and
    /// place), read from their heads, to prefill a form. Needs an unlocked profile; records
    /// nothing.
    pub fn file_metadata(&self, paths: &[String]) -> Result<Vec<FileMeta>> {
        self.with_store(|_| Ok(()))?;
        files::file_metadata(paths)
    }

    /// Starts exporting a whole case to the bundle file `path` (sealed to the enrolled agency,
    /// as `casebridge bundle export`) on a background thread; returns the job id. The target
    /// and the credential are checked first. Progress comes as `job-progress` (one item, the
    /// file's name), the end as `job-done`; [`Session::job_cancel`] stops it and leaves no
    /// file. The store is held while the bundle is written.
    pub fn case_export(self: &Arc<Self>, case_id: &str, path: &str) -> Result<String> {
        let out = PathBuf::from(path.trim());
        export::check_out(&out)?;
        let (case, total) = self.with_store(|s| {
            let case = s.resolve_case(case_id.trim())?;
            outbox::agency(s)?;
            Ok((case, export::case_bytes(s, case)?))
        })?;
        let job = format!("export-{}", Uuid::now_v7());
        let cancel = self.start_job(&job)?;
        let me = Arc::clone(self);
        let id = job.clone();
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let spawned = std::thread::Builder::new().name("casebridge-export".into()).spawn(move || {
            let progress = |done: u64| {
                me.emit(AppEvent::JobProgress(JobProgress { job: id.clone(), item: 0, name: name.clone(), done: done.min(total), total }))
            };
            progress(0);
            let result = me.store.with(|s| {
                export::case_bundle(s, case, &out, &mut |n| {
                    progress(n);
                    !cancel.load(Ordering::SeqCst)
                })
            });
            if result.is_ok() {
                progress(total);
            }
            me.end_job(&id);
            let error = result.err();
            me.emit(AppEvent::JobDone(JobDone { job: id, ok: error.is_none(), error }));
        });
        if let Err(e) = spawned {
            self.end_job(&job);
            return Err(AppError::internal(format!("cannot start the export: {e}")));
        }
        Ok(job)
    }

    /// The agency court packages of this profile are anchored to (name and root fingerprint),
    /// shown before an export so the user can tell the court what to check against.
    pub fn court_info(&self) -> Result<court::CourtInfo> {
        self.with_store(|s| court::info(s))
    }

    /// Starts writing the court report (PDF or HTML) of a case to the new file `path` on a
    /// background thread; returns the job id. As `casebridge report`: the making is recorded
    /// in the case's access log with `reason`; an existing file is never replaced (`exists`).
    /// Progress and the end come as `job-progress` / `job-done`; [`Session::job_cancel`] stops it
    /// and leaves no file.
    pub fn court_report(
        self: &Arc<Self>,
        case_id: &str,
        path: &str,
        format: court::ReportFormat,
        reason: Option<String>,
    ) -> Result<String> {
        let out = PathBuf::from(path.trim());
        if out.as_os_str().is_empty() {
            return Err(AppError::new(ErrorCode::InvalidInput, "choose a file to write the report to"));
        }
        if out.exists() {
            return Err(AppError::new(ErrorCode::Exists, format!("{} already exists; a report never replaces a file", out.display())));
        }
        let case = self.with_store(|s| Ok(s.resolve_case(case_id.trim())?))?;
        let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        let opts = casebridge_court::report::ReportOptions { format: format.into(), reason };
        let name = file_name(&out);
        self.court_job("report", name, move |s, progress| {
            court::report(s, &case.to_string(), &out, &opts, progress).map(|_| ()).map_err(court::report_error)
        })
    }

    /// Starts writing the court evidence package of a case into `dir` (new or empty) on a
    /// background thread; returns the job id. As `casebridge export court`: recorded in the
    /// case's access log with `reason`; a used directory is refused (`not_empty`). Progress and
    /// the end come as `job-progress` / `job-done`; [`Session::job_cancel`] stops it and leaves
    /// nothing behind.
    pub fn court_package(self: &Arc<Self>, case_id: &str, dir: &str, reason: Option<String>) -> Result<String> {
        let out = PathBuf::from(dir.trim());
        if out.as_os_str().is_empty() {
            return Err(AppError::new(ErrorCode::InvalidInput, "choose a folder to write the package to"));
        }
        if let Ok(meta) = std::fs::symlink_metadata(&out) {
            let empty_dir = meta.is_dir() && std::fs::read_dir(&out).map(|mut rd| rd.next().is_none()).unwrap_or(false);
            if !empty_dir {
                return Err(AppError::new(
                    ErrorCode::NotEmpty,
                    format!("{} exists and is not empty; a package is written only to a new or empty folder", out.display()),
                ));
            }
        }
        let case = self.with_store(|s| Ok(s.resolve_case(case_id.trim())?))?;
        let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        let name = file_name(&out);
        self.court_job("package", name, move |s, progress| {
            court::package(s, &case.to_string(), &out, reason, progress).map(|_| ()).map_err(court::package_error)
        })
    }

    /// Makes a redacted copy of the image item `id` (regions blurred or filled, metadata
    /// stripped) and adds it as a new item with signed provenance; the original is never
    /// modified. As `casebridge evidence redact`: recorded in the case's access log with the
    /// request's reason. Police staff only. See [`court::redact_for_desktop`] for the checks,
    /// each refused with its own code and nothing added.
    pub fn evidence_redact(&self, id: &str, request: &court::RedactRequest) -> Result<court::Redacted> {
        self.with_store(|s| court::redact_for_desktop(s, id.trim(), request))
    }

    /// Runs court work on a background thread as a job; progress names `name`.
    fn court_job(
        self: &Arc<Self>,
        kind: &str,
        name: String,
        work: impl FnOnce(&mut Store, &mut dyn FnMut(u64, u64) -> bool) -> Result<()> + Send + 'static,
    ) -> Result<String> {
        let job = format!("{kind}-{}", Uuid::now_v7());
        let cancel = self.start_job(&job)?;
        let me = Arc::clone(self);
        let id = job.clone();
        let spawned = std::thread::Builder::new().name(format!("casebridge-{kind}")).spawn(move || {
            let emit = |done: u64, total: u64| {
                me.emit(AppEvent::JobProgress(JobProgress { job: id.clone(), item: 0, name: name.clone(), done: done.min(total), total }))
            };
            emit(0, 0);
            let result = me.store.with(|s| {
                work(s, &mut |done, total| {
                    emit(done, total);
                    !cancel.load(Ordering::SeqCst)
                })
            });
            me.end_job(&id);
            let error = result.err();
            me.emit(AppEvent::JobDone(JobDone { job: id, ok: error.is_none(), error }));
        });
        if let Err(e) = spawned {
            self.end_job(&job);
            return Err(AppError::internal(format!("cannot start the {kind}: {e}")));
        }
        Ok(job)
    }

    /// Starts importing `paths` into a case on a background thread; returns the job id.
    /// Every file is checked first (`bad_file`), so a typo costs nothing. Progress comes as
    /// `job-progress`, the end as `job-done`; [`Session::job_cancel`] stops it between chunks.
    pub fn evidence_import(self: &Arc<Self>, case_id: &str, paths: Vec<String>) -> Result<String> {
        let case = self.with_store(|s| Ok(s.resolve_case(case_id.trim())?))?;
        let files = Checked::new(paths.into_iter().map(PathBuf::from).collect())?;
        let job = format!("import-{}", Uuid::now_v7());
        let cancel = self.start_job(&job)?;
        let me = Arc::clone(self);
        let id = job.clone();
        let spawned = std::thread::Builder::new().name("casebridge-import".into()).spawn(move || {
            let mut emit = |p: import::ImportProgress<'_>| {
                me.emit(AppEvent::JobProgress(JobProgress {
                    job: id.clone(),
                    item: p.item,
                    name: p.name.to_string(),
                    done: p.done,
                    total: p.total,
                }))
            };
            let result = import::import_files(&me.store, case, &files, &EvidenceOptions::default(), &cancel, &mut emit);
            me.end_job(&id);
            let error = result.err();
            me.emit(AppEvent::JobDone(JobDone { job: id, ok: error.is_none(), error }));
        });
        if let Err(e) = spawned {
            self.end_job(&job);
            return Err(AppError::internal(format!("cannot start the import: {e}")));
        }
        Ok(job)
    }

    fn start_job(&self, job: &str) -> Result<Arc<AtomicBool>> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut jobs = guard(&self.jobs);
        if jobs.contains_key(job) {
            return Err(AppError::new(ErrorCode::Busy, format!("job '{job}' is already running")));
        }
        jobs.insert(job.to_string(), Arc::clone(&flag));
        Ok(flag)
    }

    fn end_job(&self, job: &str) {
        guard(&self.jobs).remove(job);
        // The idle time counts from the end of the work.
        self.touch_now();
    }

    /// Asks a running job to stop (`unknown_job` when none has this id). It ends with
    /// `job-done` (or `sync-done`) carrying code `cancelled`; what it finished is kept.
    pub fn job_cancel(&self, job: &str) -> Result<()> {
        match guard(&self.jobs).get(job) {
            Some(flag) => {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            }
            None => Err(AppError::unknown_job(job)),
        }
    }

    /// The ids of the jobs running now.
    pub fn jobs(&self) -> Vec<String> {
        guard(&self.jobs).keys().cloned().collect()
    }

    // ----- file exchange -------------------------------------------------------------------------

    /// Runs `work` here as a job named `files-<kind>-<id>`: progress comes as `job-progress`
    /// (naming `name`), the end as `job-done`, and [`Session::job_cancel`] with the job id (from
    /// the first progress event) makes `work`'s progress return false. The result is returned
    /// to the caller as well. No store is held here: `work` takes it when it needs it.
    fn files_job<T>(&self, kind: &str, name: String, work: impl FnOnce(&mut dyn FnMut(u64, u64) -> bool) -> Result<T>) -> Result<T> {
        let job = format!("files-{kind}-{}", Uuid::now_v7());
        let cancel = self.start_job(&job)?;
        let emit = |done: u64, total: u64| {
            self.emit(AppEvent::JobProgress(JobProgress {
                job: job.clone(),
                item: 0,
                name: name.clone(),
                done: if total == 0 { done } else { done.min(total) },
                total,
            }))
        };
        emit(0, 0);
        let result = work(&mut |done, total| {
            emit(done, total);
            !cancel.load(Ordering::SeqCst)
        });
        self.end_job(&job);
        let error = result.as_ref().err().cloned();
        self.emit(AppEvent::JobDone(JobDone { job, ok: error.is_none(), error }));
        result
    }

    /// Police staff only (`staff_only`), checked before the agency passphrase is tried.
    fn agency_side(&self, agency_dir: &str, agency_passphrase: String) -> Result<casebridge_trust::Agency> {
        let pass = Passphrase::new(agency_passphrase);
        self.with_store(|s| crate::exchange::require_staff(s))?;
        crate::exchange::open_agency(Path::new(agency_dir.trim()), &pass)
    }

    /// Agency side: verifies the bundle file `path` with the agency in `agency_dir` (unlocked
    /// with its passphrase for this call only), as `bundle verify --agency-dir`: VERIFIED, or
    /// REJECTED with its reason code. Stores nothing. A job (`files-verify-…`) while it reads.
    pub fn bundle_verify(&self, agency_dir: &str, agency_passphrase: String, path: &str) -> Result<crate::exchange::BundleVerdict> {
        let agency = self.agency_side(agency_dir, agency_passphrase)?;
        let file = PathBuf::from(path.trim());
        let total = files::check_file(&file)?;
        self.files_job("verify", file_name(&file), |progress| crate::exchange::verify_bundle(&agency, &file, &mut |n| progress(n, total)))
    }

    /// Agency side: opens the bundle file `path` into this profile's store with the agency in
    /// `agency_dir`, as `bundle open`, and writes the signed receipt to the new file
    /// `receipt_out` ([`crate::exchange::open_bundle`]). A job (`files-open-…`) while it reads;
    /// the store is held while the bundle is imported.
    pub fn bundle_open(
        &self,
        agency_dir: &str,
        agency_passphrase: String,
        path: &str,
        receipt_out: &str,
    ) -> Result<crate::exchange::BundleOpened> {
        let agency = self.agency_side(agency_dir, agency_passphrase)?;
        let file = PathBuf::from(path.trim());
        let receipt = PathBuf::from(receipt_out.trim());
        let total = files::check_file(&file)?;
        crate::exchange::check_new_file(&receipt, "receipt")?;
        self.files_job("open", file_name(&file), |progress| {
            self.store.with(|s| crate::exchange::open_bundle(s, &agency, &file, &receipt, &mut |n| progress(n, total)))
        })
    }

    /// Sender side: keeps the receipt file `path` an agency returned, as `receipt import`
    /// ([`crate::exchange::import_receipt`]).
    pub fn receipt_import(&self, path: &str) -> Result<crate::exchange::ReceiptImported> {
        let file = PathBuf::from(path.trim());
        self.with_store(|s| crate::exchange::import_receipt(s, &file))
    }

    /// Writes the sealed bundles waiting in the outbox to the folder `dir` (a drive to carry to
    /// the agency), as [`crate::exchange::export_outbox`]. A job (`files-export-…`); the store is
    /// held while it runs.
    pub fn bundles_export(&self, dir: &str) -> Result<Vec<crate::exchange::ExportedBundle>> {
        let out = PathBuf::from(dir.trim());
        crate::exchange::check_folder(&out)?;
        self.with_store(|_| Ok(()))?;
        self.files_job("export", file_name(&out), |progress| self.store.with(|s| crate::exchange::export_outbox(s, &out, progress)))
    }

    // ----- access log ----------------------------------------------------------------------------

    /// The access log for the supervisor's "Access log" screen: every case held (or `case`: id,
    /// unique id prefix or reference), only `member`'s entries (a member id) and only those at
    /// or after `since` (RFC 3339 with offset), when given (blank is no filter); oldest first,
    /// each entry with what its access chain says (`status`). Police staff only.
    pub fn access_log(&self, case: Option<&str>, member: Option<&str>, since: Option<&str>) -> Result<Vec<crate::access::AccessEntry>> {
        let blank = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let member = blank(member).map(|m| cases::parse_id("member", &m)).transpose()?;
        let since = blank(since).map(|t| briefs::parse_time("since", &t)).transpose()?;
        let filter = crate::access::AccessFilter { case: blank(case), member, since };
        self.with_store(|s| crate::access::access_log_filtered(s, &filter))
    }

    /// Writes the signed access entries of every case held (or `case`; or only `member`'s)
    /// to the new file `path`, for the data-protection officer: whole chains, which
    /// `casebridge-verify --access-log FILE` checks offline. Returns how many entries it wrote.
    pub fn access_log_export(&self, case: Option<&str>, member: Option<&str>, path: &str) -> Result<u64> {
        let blank = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let member = blank(member).map(|m| cases::parse_id("member", &m)).transpose()?;
        let out = PathBuf::from(path.trim());
        if out.as_os_str().is_empty() {
            return Err(AppError::new(ErrorCode::InvalidInput, "choose a file to write the access log to"));
        }
        let case = blank(case);
        let done = self.with_store(|s| crate::access::export_log(s, case.as_deref(), member, &out))?;
        Ok(done.entries as u64)
    }

    // ----- briefs and review --------------------------------------------------------------------

    /// The briefs held.
    pub fn briefs_list(&self, include_withdrawn: bool) -> Result<Vec<BriefView>> {
        self.with_store(|s| briefs::list(s, include_withdrawn))
    }

    /// Publishes a brief; returns its id.
    pub fn brief_publish(&self, brief: BriefInput) -> Result<String> {
        self.with_store(|s| briefs::publish(s, brief)).map(|id| id.to_string())
    }

    /// Withdraws a brief.
    pub fn brief_withdraw(&self, id: &str) -> Result<()> {
        self.with_store(|s| briefs::withdraw(s, id)).map(|_| ())
    }

    /// Submissions, newest first.
    pub fn submissions_list(&self) -> Result<Vec<Submission>> {
        self.with_store(briefs::submissions)
    }

    /// Decides on a submission.
    pub fn review_decide(
        &self,
        submission_id: &str,
        decision: ReviewDecision,
        items: &[String],
        reason: Option<String>,
    ) -> Result<Submission> {
        self.with_store(|s| briefs::decide(s, submission_id, decision, items, reason))
    }

    // ----- volunteers ---------------------------------------------------------------------------

    /// A volunteer withdraws one of their pending submissions ([`briefs::withdraw_submission`]):
    /// the agency deletes its items once a sync has carried the withdrawal.
    pub fn submission_withdraw(&self, id: &str, reason: Option<String>) -> Result<Submission> {
        self.with_store(|s| briefs::withdraw_submission(s, id, reason))
    }

    /// A volunteer answers a brief (and a sealed bundle goes into the outbox).
    pub fn submit(&self, input: SubmitInput) -> Result<Submission> {
        self.with_store(|s| briefs::submit(s, input, &mut |_| true))
    }

    /// The receipts kept.
    pub fn receipts_list(&self) -> Result<Vec<ReceiptView>> {
        self.with_store(|s| briefs::receipts(s))
    }

    /// Whether this profile accepted the code of conduct.
    pub fn conduct_accepted(&self) -> Result<bool> {
        self.with_store(|_| Ok(()))?;
        Ok(self.settings()?.conduct_accepted_at.is_some())
    }

    /// Records that this profile accepted the code of conduct (once; later calls keep the
    /// first time).
    pub fn accept_conduct(&self) -> Result<()> {
        self.with_store(|_| Ok(()))?;
        let mut s = self.settings()?;
        if s.conduct_accepted_at.is_none() {
            s.conduct_accepted_at = Some(self.now());
            s.save(&self.dir)?;
        }
        Ok(())
    }

    // ----- sync ---------------------------------------------------------------------------------

    /// Where sync stands. Needs no passphrase.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        if !self.profile_exists() {
            return Err(AppError::no_profile(&self.dir));
        }
        let s = sync::status(&self.dir)?;
        let inner = guard(&self.inner);
        Ok(SyncStatus {
            online: inner.online.unwrap_or(s.last_error.is_none() && s.last_success.is_some()),
            running: inner.sync_running,
            status: s,
        })
    }

    /// Starts a sync round on a background thread (or does nothing when one is running).
    /// Progress comes as `sync-event`, the end as `sync-done`; cancel it with
    /// [`Session::job_cancel`]`("sync")`.
    pub fn sync_now(self: &Arc<Self>) -> Result<()> {
        self.with_store(|_| Ok(()))?;
        {
            let mut inner = guard(&self.inner);
            if inner.sync_running {
                return Ok(());
            }
            inner.sync_running = true;
        }
        let cancel = match self.start_job(SYNC_JOB) {
            Ok(c) => c,
            Err(e) => {
                guard(&self.inner).sync_running = false;
                return Err(e);
            }
        };
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("casebridge-sync".into()).spawn(move || {
            // What the store held before the round, to tell what the round brought in.
            let before = me.held_for_notifications(None);
            let result = sync::runtime().and_then(|rt| {
                rt.block_on(sync::round(&me.store, &me.dir, cancel, &mut |ev| {
                    me.emit(AppEvent::Sync(ev.clone()));
                }))
            });
            {
                let mut inner = guard(&me.inner);
                inner.sync_running = false;
                match &result {
                    Ok(_) => inner.online = Some(true),
                    Err(e) if matches!(e.code, ErrorCode::Connection | ErrorCode::GaveUp) => inner.online = Some(false),
                    // Anything else says nothing new about the network.
                    Err(_) => {}
                }
            }
            // A failed round may still have brought pages of the feed in: those are announced too.
            me.notify_after_round(before);
            me.end_job(SYNC_JOB);
            let done = match result {
                Ok(report) => SyncDone { ok: true, error: None, report: Some(report) },
                Err(error) => SyncDone { ok: false, error: Some(error), report: None },
            };
            me.emit(AppEvent::SyncDone(done));
        });
        if let Err(e) = spawned {
            guard(&self.inner).sync_running = false;
            self.end_job(SYNC_JOB);
            return Err(AppError::internal(format!("cannot start sync: {e}")));
        }
        Ok(())
    }
}

fn locked_out(until: DateTime<Utc>) -> AppError {
    AppError::new(
        ErrorCode::LockedOut,
        format!(
            "too many wrong passphrases ({MAX_FAILED_ATTEMPTS} in a row): unlocking is paused until {} UTC; then try again",
            until.format("%Y-%m-%d %H:%M:%S")
        ),
    )
}

/// The last component of `path`, for progress events.
fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
