// The ONLY module that talks to the desktop shell: every `invoke()` and every `listen()` lives here.
// Components import these functions; tests mock this module and nothing else.
//
// Argument keys: Tauri 2 maps a Rust command parameter `case_id` to the JavaScript key `caseId` by default
// (unless the command says `rename_all = "snake_case"`), so multi-word parameters are sent in camelCase.
// The mapping lives only in this file.

import { invoke, isTauri } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { localiseError, t } from './i18n';
import type {
  AccessEntry,
  AppError,
  AppInfo,
  Area,
  BriefView,
  BundleOpened,
  BundleVerdict,
  CaseView,
  CaseSort,
  CaseStatus,
  CaseSummary,
  CustodyView,
  CourtInfo,
  Enrolled,
  EvidenceItem,
  MapTiles,
  ExportedBundle,
  FileMeta,
  GeoPoint,
  JobDone,
  JobProgress,
  Locked,
  MediaSource,
  Preview,
  Redacted,
  RedactRequest,
  ReportFormat,
  ReceiptImported,
  ReceiptView,
  ReviewDecision,
  Role,
  SearchHit,
  Strength,
  Submission,
  SyncDone,
  SyncEvent,
  SyncStatus,
  Thumbnail,
  WhoAmI,
} from './bindings';

/** Turns whatever a failed call threw into an `AppError`. */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as { code: unknown; message: unknown };
    return { code: String(o.code), message: String(o.message) };
  }
  if (typeof e === 'string') return { code: 'error', message: e };
  if (e instanceof Error) return { code: 'error', message: e.message };
  return { code: 'error', message: t('common.somethingWrong') };
}

/** Whether an unknown thrown value is an `AppError` with this code. */
export function hasCode(e: unknown, code: string): boolean {
  return toAppError(e).code === code;
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  if (!isTauri()) {
    throw { code: 'no_desktop', message: t('common.noDesktop') } satisfies AppError;
  }
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw localiseError(toAppError(e));
  }
}

// ----- profile and session ---------------------------------------------------------------------

export const appInfo = () => call<AppInfo>('app_info');
export const profileCreate = (name: string, role: Role, passphrase: string) => call<WhoAmI>('profile_create', { name, role, passphrase });
export const unlock = (passphrase: string) => call<WhoAmI>('unlock', { passphrase });
export const lock = () => call<void>('lock');
export const touch = () => call<void>('touch');
export const setIdleLock = (secs: number) => call<void>('set_idle_lock', { secs });
/** Turns the desktop notifications after a sync round on or off (shown by the desktop itself, never by the page). */
export const setNotifications = (enabled: boolean) => call<void>('set_notifications', { enabled });
/** The UI's language, which the notifications shown from Rust are written in (`en`, `de`, `nl`). */
export const setLanguage = (tag: string) => call<string>('set_language', { tag });
export const passphraseStrength = (passphrase: string) => call<Strength>('passphrase_strength', { passphrase });
export const enrol = (code: string) => call<Enrolled>('enrol', { code });

// ----- cases ---------------------------------------------------------------------------------------

export const casesList = (search: string | null, status: CaseStatus | null, sort: CaseSort) => call<CaseSummary[]>('cases_list', { search, status, sort });
/** Full-text search over what the profile holds (cases, notes, evidence, briefs, submissions), best first. */
export const search = (query: string, limit: number | null) => call<SearchHit[]>('search', { query, limit });
export const caseCreate = (title: string, summary: string | null, reference: string | null, tags: string[]) =>
  call<string>('case_create', { title, summary, reference, tags });
export const caseGet = (id: string) => call<CaseView>('case_get', { id });
/** Corrects a note the profile's member wrote (a signed amendment; the original stays in its history). */
export const noteAmend = (caseId: string, noteId: string, text: string, reason: string | null) =>
  call<void>('note_amend', { caseId, noteId, text, reason });
export const noteAdd = (caseId: string, text: string) => call<string>('note_add', { caseId, text });
export const evidenceList = (caseId: string) => call<EvidenceItem[]>('evidence_list', { caseId });
export const evidenceCustody = (id: string) => call<CustodyView[]>('evidence_custody', { id });
export const evidenceImport = (caseId: string, paths: string[]) => call<string>('evidence_import', { caseId, paths });
export const jobCancel = (job: string) => call<void>('job_cancel', { job });
export const evidencePreview = (id: string, maxBytes: number) => call<Preview>('evidence_preview', { id, maxBytes });
/**
 * Opens an item for the viewer: a `cbmedia://localhost/<token>` URL the webview streams it from
 * (HTTP ranges: video and audio seek, pdf.js reads page by page), valid until the profile locks.
 * Police staff's view is logged once per open.
 */
export const evidenceOpen = (id: string) => call<MediaSource>('evidence_open', { id });
/** Bytes `begin .. end` of an item opened with `evidenceOpen`, by its URL (for when the webview refuses page script a fetch from the scheme). */
export const mediaRange = (url: string, begin: number, end: number) => call<ArrayBuffer>('media_range', { url, begin, end });
/** Sets (or with null clears) the map tile server; the desktop's CSP allows images from its origin from the next start. */
export const setTileServer = (template: string | null) => call<void>('set_tile_server', { template });
/** Sets (or with null clears) the street map's PMTiles file; a file that is not PMTiles v3 vector tiles is refused with its code. */
export const setMapTiles = (path: string | null) => call<MapTiles | null>('set_map_tiles', { path });
/** The street map's PMTiles file (Settings', else the agency's shipped one), checked; null when there is none. */
export const mapTiles = () => call<MapTiles | null>('map_tiles');
/** Raw bytes of the street map's file for the map's PMTiles reader (fewer at the file's end). */
export const mapTilesRange = (offset: number, length: number) => call<ArrayBuffer>('map_tiles_range', { offset, length });
/** A small downscaled copy of an image item (JPEG/PNG up to 16 MiB), at most `maxPx` on its longer side. */
export const evidenceThumbnail = (id: string, maxPx: number) => call<Thumbnail>('evidence_thumbnail', { id, maxPx });
/** Replaces a case's tags (an empty list removes them all). */
export const caseSetTags = (caseId: string, tags: string[]) => call<void>('case_set_tags', { caseId, tags });
export const caseSetStatus = (caseId: string, status: CaseStatus) => call<void>('case_set_status', { caseId, status });
/** Starts exporting the whole case as a sealed bundle to `path` (must not exist); returns the job id (job-progress / job-done). */
export const caseExport = (caseId: string, path: string) => call<string>('case_export', { caseId, path });
/** The access log (supervisors' screen): filters are optional; oldest first, each with its chain status. */
export const accessLog = (caseRef: string | null, member: string | null, since: string | null) =>
  call<AccessEntry[]>('access_log', { case: caseRef, member, since });
/** Writes the signed access entries (whole chains) to the new file `path`; returns how many. */
export const accessLogExport = (caseRef: string | null, member: string | null, path: string) =>
  call<number>('access_log_export', { case: caseRef, member, path });
/** The native "save file" dialog for an access-log export (JSON). */
export const chooseAccessLogPath = (defaultPath: string) =>
  call<string | null>('plugin:dialog|save', {
    options: { title: t('dialog.accessLogTitle'), defaultPath, filters: [{ name: t('dialog.accessLogFilter'), extensions: ['json'] }] },
  });
/**
 * A redacted copy of an image item (regions in natural pixels blurred or filled, metadata stripped),
 * added as a new item with signed provenance; the original is never changed. Police staff only.
 */
export const evidenceRedact = (id: string, request: RedactRequest) => call<Redacted>('evidence_redact', { id, request });
/** The agency court packages are anchored to (name, root key fingerprint). */
export const courtInfo = () => call<CourtInfo>('court_info');
/** Starts writing the court report of a case to `path` (must not exist); returns the job id (job-progress / job-done). */
export const courtReport = (caseId: string, path: string, format: ReportFormat, reason: string | null) =>
  call<string>('court_report', { caseId, path, format, reason });
/** Starts writing the court evidence package of a case into `dir` (new or empty); returns the job id. */
export const courtPackage = (caseId: string, dir: string, reason: string | null) => call<string>('court_package', { caseId, dir, reason });
/** What files say about themselves (media type, size, EXIF time and place), read from their heads. */
export const fileMetadata = (paths: string[]) => call<FileMeta[]>('file_metadata', { paths });

// ----- native file dialogs (tauri-plugin-dialog's own commands; the npm wrapper is not used) --------

/** The native "open files" dialog; the chosen paths, or [] when cancelled. */
export async function chooseFiles(title?: string): Promise<string[]> {
  const r = await call<string[] | string | null>('plugin:dialog|open', { options: { multiple: true, directory: false, title } });
  if (r == null) return [];
  return Array.isArray(r) ? r : [r];
}

/** The native "save file" dialog; the chosen path, or null when cancelled. */
export const chooseSavePath = (defaultPath: string, title?: string) =>
  call<string | null>('plugin:dialog|save', {
    options: { title, defaultPath, filters: [{ name: t('dialog.bundleFilter'), extensions: ['cbb'] }] },
  });

/** The native "save file" dialog for a court report; the chosen path, or null when cancelled. */
export const chooseReportPath = (defaultPath: string, format: ReportFormat) =>
  call<string | null>('plugin:dialog|save', {
    options: { title: t('dialog.reportTitle'), defaultPath, filters: [{ name: format === 'pdf' ? 'PDF' : 'HTML', extensions: [format] }] },
  });

/** The native "choose folder" dialog; the chosen folder, or null when cancelled. */
export async function chooseFolder(title?: string): Promise<string | null> {
  const r = await call<string[] | string | null>('plugin:dialog|open', { options: { multiple: false, directory: true, title } });
  if (r == null) return null;
  return Array.isArray(r) ? (r[0] ?? null) : r;
}

// ----- file exchange (bundles and receipts on files and drives) -------------------------------------

/**
 * Agency side: verifies a bundle file with the agency in `agencyDir` (its passphrase, for this call
 * only): `verified`, or `rejected` with the reason code `casebridge bundle verify` gives. Progress
 * comes as job-progress with a job id starting `files-verify-`.
 */
export const bundleVerify = (agencyDir: string, agencyPassphrase: string, path: string) =>
  call<BundleVerdict>('bundle_verify', { agencyDir, agencyPassphrase, path });
/** Agency side: opens a bundle file into this profile and writes the signed receipt to `receiptOut` (must not exist). Job `files-open-…`. */
export const bundleOpen = (agencyDir: string, agencyPassphrase: string, path: string, receiptOut: string) =>
  call<BundleOpened>('bundle_open', { agencyDir, agencyPassphrase, path, receiptOut });
/** Sender side: keeps a receipt file the agency returned (verified against the pinned agency). */
export const receiptImport = (path: string) => call<ReceiptImported>('receipt_import', { path });
/** Writes the sealed bundles waiting in the outbox to the folder `dir` (never overwriting). Job `files-export-…`. */
export const bundlesExport = (dir: string) => call<ExportedBundle[]>('bundles_export', { dir });

/** The native "open file" dialog for one file; the chosen path, or null when cancelled. */
export async function chooseFile(title: string, name: string, extensions: string[]): Promise<string | null> {
  const r = await call<string[] | string | null>('plugin:dialog|open', {
    options: { multiple: false, directory: false, title, filters: [{ name, extensions }, { name: t('dialog.allFiles'), extensions: ['*'] }] },
  });
  if (r == null) return null;
  return Array.isArray(r) ? (r[0] ?? null) : r;
}

/** The native "save file" dialog for a receipt; the chosen path, or null when cancelled. */
export const chooseReceiptPath = (defaultPath: string) =>
  call<string | null>('plugin:dialog|save', {
    options: { title: t('dialog.receiptTitle'), defaultPath, filters: [{ name: t('dialog.receiptFilter'), extensions: ['receipt'] }] },
  });

// ----- briefs and review ----------------------------------------------------------------------------

export const briefsList = (includeWithdrawn: boolean) => call<BriefView[]>('briefs_list', { includeWithdrawn });
export const briefPublish = (
  caseId: string,
  title: string,
  body: string,
  area: Area | null,
  from: string | null,
  until: string | null,
  audience: string[],
) => call<string>('brief_publish', { caseId, title, body, area, from, until, audience });
export const briefWithdraw = (id: string) => call<void>('brief_withdraw', { id });
export const submissionsList = () => call<Submission[]>('submissions_list');
export const submissionWithdraw = (id: string, reason: string | null) => call<Submission>('submission_withdraw', { id, reason });
export const reviewDecide = (submissionId: string, decision: ReviewDecision, items: string[], reason: string | null) =>
  call<Submission>('review_decide', { submissionId, decision, items, reason });

// ----- volunteers -------------------------------------------------------------------------------------

export const submit = (briefId: string, paths: string[], description: string | null, capturedAt: string | null, location: GeoPoint | null) =>
  call<Submission>('submit', { briefId, paths, description, capturedAt, location });
export const receiptsList = () => call<ReceiptView[]>('receipts_list');
export const conductAccepted = () => call<boolean>('conduct_accepted');
export const acceptConduct = () => call<void>('accept_conduct');

// ----- sync --------------------------------------------------------------------------------------------

export const syncStatus = () => call<SyncStatus>('sync_status');
export const syncNow = () => call<void>('sync_now');

// ----- events --------------------------------------------------------------------------------------------

/**
 * Turns Tauri's asynchronous subscription into a synchronous unsubscribe: called before the
 * subscription is in place, it unsubscribes as soon as it is. A failed subscription is silent.
 */
function unsubscriber(subscribed: Promise<UnlistenFn>): () => void {
  let unlisten: UnlistenFn | null = null;
  let gone = false;
  subscribed
    .then((u) => {
      if (gone) u();
      else unlisten = u;
    })
    .catch(() => {});
  return () => {
    gone = true;
    unlisten?.();
  };
}

function on<T>(event: string, handler: (payload: T) => void): () => void {
  if (!isTauri()) return () => {};
  return unsubscriber(listen<T>(event, (e) => handler(e.payload)));
}

export const onLocked = (handler: (e: Locked | null) => void) => on<Locked | null>('locked', handler);
// Backend errors that arrive as events are put in the UI's language here, like a failed call's.
export const onSyncEvent = (handler: (e: SyncEvent) => void) =>
  on<SyncEvent>('sync-event', (e) => handler(e.event === 'refused' ? localiseError(e) : e));
export const onSyncDone = (handler: (e: SyncDone) => void) =>
  on<SyncDone>('sync-done', (e) => handler(e.error ? { ...e, error: localiseError(e.error) } : e));
export const onJobProgress = (handler: (e: JobProgress) => void) => on<JobProgress>('job-progress', handler);
export const onJobDone = (handler: (e: JobDone) => void) =>
  on<JobDone>('job-done', (e) => handler(e.error ? { ...e, error: localiseError(e.error) } : e));

/** Files dropped on the window (the shell gives real paths); `hovering` is true while a drag is over it. */
export function onFileDrop(handlers: { drop: (paths: string[]) => void; hovering?: (over: boolean) => void }): () => void {
  if (!isTauri()) return () => {};
  return unsubscriber(
    getCurrentWebview().onDragDropEvent((e) => {
      const p = e.payload;
      if (p.type === 'enter' || p.type === 'over') handlers.hovering?.(true);
      else if (p.type === 'leave') handlers.hovering?.(false);
      else if (p.type === 'drop') {
        handlers.hovering?.(false);
        if (p.paths.length > 0) handlers.drop(p.paths);
      }
    }),
  );
}
