// Background sync as the UI sees it: the shell's status, per-bundle progress, recent events.
// Nothing here waits on sync; events update the state as they arrive.
import * as api from './api';
import type { SyncDone, SyncEvent, SyncStatus } from './bindings';
import { t } from './i18n';
import { toast } from './session.svelte';

export interface SyncItem {
  bundle_id: string;
  done: number;
  total: number;
  state: 'uploading' | 'uploaded' | 'retrying' | 'refused';
  note: string;
}

export const sync = $state({
  status: null as SyncStatus | null,
  items: [] as SyncItem[],
  /** Human-readable lines, newest first (at most 30). */
  log: [] as { at: string; text: string; kind: 'info' | 'error' }[],
  /** True from "Sync now" until `sync-done`. */
  running: false,
  lastDoneError: null as string | null,
  statusError: null as string | null,
});

function logLine(text: string, kind: 'info' | 'error' = 'info') {
  sync.log.unshift({ at: new Date().toISOString(), text, kind });
  if (sync.log.length > 30) sync.log.length = 30;
}

function item(bundle_id: string): SyncItem {
  let it = sync.items.find((i) => i.bundle_id === bundle_id);
  if (!it) {
    sync.items.push({ bundle_id, done: 0, total: 0, state: 'uploading', note: '' });
    it = sync.items[sync.items.length - 1];
  }
  return it;
}

/** Applies one `sync-event`. */
export function applySyncEvent(e: SyncEvent): void {
  switch (e.event) {
    case 'progress': {
      const it = item(e.bundle_id);
      it.done = e.done;
      it.total = e.total;
      it.state = 'uploading';
      it.note = '';
      break;
    }
    case 'uploaded': {
      const it = item(e.bundle_id);
      it.state = 'uploaded';
      if (it.total > 0) it.done = it.total;
      it.note = e.outcome?.outcome === 'duplicate' ? t('sync.noteDuplicate') : t('sync.noteReceived');
      logLine(t('sync.logDelivered', { id: e.bundle_id.slice(0, 8), outcome: e.outcome?.outcome ?? 'accepted' }));
      break;
    }
    case 'refused': {
      const it = item(e.bundle_id);
      it.state = 'refused';
      it.note = t('sync.noteRefused', { message: e.message });
      logLine(t('sync.logRefused', { id: e.bundle_id.slice(0, 8), message: e.message }), 'error');
      break;
    }
    case 'retrying': {
      if (e.bundle_id) {
        const it = item(e.bundle_id);
        it.state = 'retrying';
        it.note = t('sync.noteRetry', { attempt: e.attempt, secs: Math.round(e.after_ms / 1000), error: e.error });
      }
      logLine(t('sync.logRetry', { attempt: e.attempt, secs: Math.round(e.after_ms / 1000), error: e.error }), 'error');
      break;
    }
    case 'pulled':
      logLine(t('sync.logPulled', { n: e.events }));
      break;
  }
}

/** Applies `sync-done`. */
export function applySyncDone(d: SyncDone): void {
  sync.running = false;
  sync.lastDoneError = d.ok ? null : (d.error?.message ?? t('sync.failed'));
  logLine(d.ok ? t('sync.logFinished') : t('sync.logFailed', { error: sync.lastDoneError ?? '' }), d.ok ? 'info' : 'error');
  // Issue 16: taken off a case's team, the member is told at the sync that brought it; the case
  // list and the case say so from then on.
  const removed = d.report?.removed_from_teams ?? [];
  if (removed.length > 0) {
    const text = t('sync.offTeam', { n: removed.length, cases: removed.map((c) => `“${c}”`).join(', ') });
    logLine(text);
    toast(text, 'info', 15_000);
  }
  // Delivered and refused items leave the list (refused ones are listed from the status);
  // failed ones stay visible.
  sync.items = sync.items.filter((i) => i.state !== 'uploaded' && i.state !== 'refused');
  void refreshSyncStatus();
}

export async function refreshSyncStatus(): Promise<void> {
  try {
    sync.status = await api.syncStatus();
    sync.statusError = null;
    if (sync.status.running) sync.running = true;
  } catch (e) {
    sync.statusError = api.toAppError(e).message;
  }
}

/** Starts a background sync; returns at once. */
export async function startSync(): Promise<void> {
  if (sync.running) return;
  sync.running = true;
  sync.lastDoneError = null;
  logLine(t('sync.logStarted'));
  try {
    await api.syncNow();
  } catch (e) {
    sync.running = false;
    const err = api.toAppError(e);
    sync.lastDoneError = err.message;
    logLine(t('sync.logCouldNotStart', { error: err.message }), 'error');
  }
}

/** Subscribes to sync events and polls the status; returns the unsubscribe. */
export function startSyncWatch(pollMs = 20_000): () => void {
  const offs = [api.onSyncEvent(applySyncEvent), api.onSyncDone(applySyncDone)];
  void refreshSyncStatus();
  const timer = setInterval(() => void refreshSyncStatus(), pollMs);
  return () => {
    offs.forEach((o) => o());
    clearInterval(timer);
  };
}

export function resetSync(): void {
  sync.status = null;
  sync.items = [];
  sync.log = [];
  sync.running = false;
  sync.lastDoneError = null;
  sync.statusError = null;
}
