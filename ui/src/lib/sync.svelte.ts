// Background sync as the UI sees it: the shell's status, per-bundle progress, recent events.
// Nothing here waits on sync; events update the state as they arrive.
import * as api from './api';
import type { SyncDone, SyncEvent, SyncStatus } from './bindings';

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
      it.note = e.outcome?.outcome === 'duplicate' ? 'already held by the agency' : 'received, receipt kept';
      logLine(`Bundle ${e.bundle_id.slice(0, 8)} delivered (${e.outcome?.outcome ?? 'accepted'})`);
      break;
    }
    case 'refused': {
      const it = item(e.bundle_id);
      it.state = 'refused';
      it.note = `refused by the agency: ${e.message}`;
      logLine(`Bundle ${e.bundle_id.slice(0, 8)} refused by the agency and set aside: ${e.message}`, 'error');
      break;
    }
    case 'retrying': {
      if (e.bundle_id) {
        const it = item(e.bundle_id);
        it.state = 'retrying';
        it.note = `retry ${e.attempt} in ${Math.round(e.after_ms / 1000)} s: ${e.error}`;
      }
      logLine(`Retrying in ${Math.round(e.after_ms / 1000)} s (attempt ${e.attempt}): ${e.error}`, 'error');
      break;
    }
    case 'pulled':
      logLine(`Received ${e.events} ${e.events === 1 ? 'update' : 'updates'} from the agency`);
      break;
  }
}

/** Applies `sync-done`. */
export function applySyncDone(d: SyncDone): void {
  sync.running = false;
  sync.lastDoneError = d.ok ? null : (d.error?.message ?? 'Sync failed.');
  logLine(d.ok ? 'Sync finished' : `Sync failed: ${sync.lastDoneError}`, d.ok ? 'info' : 'error');
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
  logLine('Sync started');
  try {
    await api.syncNow();
  } catch (e) {
    sync.running = false;
    const err = api.toAppError(e);
    sync.lastDoneError = err.message;
    logLine(`Sync could not start: ${err.message}`, 'error');
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
