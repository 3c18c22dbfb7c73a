// Pure formatting helpers (no I/O). Numbers, dates and words in the current UI language (lib/i18n).
import { formatLocale, t } from './i18n';

function num(v: number, digits: number): string {
  return new Intl.NumberFormat(formatLocale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
}

/** A number in the user's locale ("12,345" / "12.345"). */
export function number(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return new Intl.NumberFormat(formatLocale()).format(n);
}

/** 1536 -> "1.5 KiB" ("1,5 KiB" in German). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${num(n, 0)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${num(v, v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** An RFC 3339 time shown in the user's locale; "—" when absent; the raw text when unparseable. */
export function dateTime(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleString(formatLocale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Time of day only. */
export function timeOfDay(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleTimeString(formatLocale(), { hour: '2-digit', minute: '2-digit' });
}

/** "3 min ago" style, for the sync indicator. */
export function ago(s: string | null | undefined, now: number = Date.now()): string {
  if (!s) return t('format.never');
  const at = new Date(s).getTime();
  if (Number.isNaN(at)) return s;
  const secs = Math.max(0, Math.round((now - at) / 1000));
  if (secs < 60) return t('format.justNow');
  const mins = Math.round(secs / 60);
  if (mins < 60) return t('format.minAgo', { n: mins });
  const hours = Math.round(mins / 60);
  if (hours < 48) return t('format.hoursAgo', { n: hours });
  return dateTime(s);
}

/** First and last characters of a hex hash, for tables (the full hash is in the title and the side panel). */
export function shortHash(h: string | null | undefined, n = 10): string {
  if (!h) return '—';
  return h.length <= n + 4 ? h : `${h.slice(0, n)}…${h.slice(-4)}`;
}

const STATES = new Set([
  'pending',
  'imported',
  'derived',
  'submitted',
  'under_review',
  'accepted',
  'rejected',
  'refused',
  'info_requested',
  'mixed',
  'open',
  'active',
  'suspended',
  'closed',
  'deleted',
]);

/** A state word (`info_requested`) as people read it. */
export function stateLabel(s: string | null | undefined): string {
  if (!s) return '—';
  return STATES.has(s) ? t(`state.${s}`) : s.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

/** A class-safe token for badge colouring. */
export function stateClass(s: string | null | undefined): string {
  return (s ?? '').replace(/[^a-z_]/g, '');
}

function pad(n: number, w = 2): string {
  return String(Math.abs(n)).padStart(w, '0');
}

/** `<input type="datetime-local">` value ("2026-03-01T14:30") -> RFC 3339 with the local offset; null when empty or invalid. */
export function localInputToRfc3339(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return null;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
  );
}

/** RFC 3339 -> `<input type="datetime-local">` value in local time; "" when absent. */
export function rfc3339ToLocalInput(s: string | null | undefined): string {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Splits pasted paths (one per line) into a clean list. */
export function splitPaths(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** The last segment of a path. */
export function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** "52.52000, 13.40500". */
export function latLon(p: { lat: number; lon: number } | null | undefined): string {
  if (!p) return '—';
  return `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`;
}

/** Parses a latitude or longitude field; null when empty, NaN when not a number in range. */
export function parseCoord(v: string | number | null | undefined, limit: 90 | 180): number | null {
  if (v === null || v === undefined) return null;
  const t = String(v).trim();
  if (t === '') return null;
  const n = Number(t);
  if (!Number.isFinite(n) || Math.abs(n) > limit) return Number.NaN;
  return n;
}

/**
 * A search snippet cut into plain and matched parts. `ranges` are UTF-16 offsets into
 * `text` (as the search engine returns them); ranges out of bounds, empty or overlapping an
 * earlier one are ignored, so a bad range never hides or repeats text.
 */
export function highlightParts(text: string, ranges: { start: number; end: number }[]): { text: string; hit: boolean }[] {
  const out: { text: string; hit: boolean }[] = [];
  let at = 0;
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const start = Math.max(r.start, at);
    const end = Math.min(r.end, text.length);
    if (!(start < end)) continue;
    if (start > at) out.push({ text: text.slice(at, start), hit: false });
    out.push({ text: text.slice(start, end), hit: true });
    at = end;
  }
  if (at < text.length) out.push({ text: text.slice(at), hit: false });
  return out;
}

/** What a search field is called on screen. */
export function searchFieldLabel(field: string): string {
  return SEARCH_FIELDS.has(field) ? t(`searchField.${field}`) : field;
}

const SEARCH_FIELDS = new Set([
  'title',
  'reference',
  'tags',
  'summary',
  'note',
  'evidence_name',
  'evidence_description',
  'brief_title',
  'brief_text',
  'submission_description',
  'submission_items',
]);
