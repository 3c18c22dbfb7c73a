import { describe, it, expect, vi } from 'vitest';
import { throttle } from '../lib/throttle';
import { bytes, localInputToRfc3339, shortHash, splitPaths, stateLabel, parseCoord } from '../lib/format';
import { applySyncEvent, applySyncDone, sync, resetSync } from '../lib/sync.svelte';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));

describe('throttle', () => {
  it('lets one call a minute through', () => {
    let t = 0;
    const fn = vi.fn();
    const th = throttle(fn, 60_000, () => t);
    th();
    th();
    t = 59_999;
    th();
    expect(fn).toHaveBeenCalledTimes(1);
    t = 60_000;
    th();
    expect(fn).toHaveBeenCalledTimes(2);
  });
});

describe('format', () => {
  it('formats sizes, hashes, states and paths', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(1536)).toBe('1.5 KiB');
    expect(bytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(shortHash('a'.repeat(64))).toBe('aaaaaaaaaa…aaaa');
    expect(stateLabel('info_requested')).toBe('Information requested');
    expect(splitPaths(' /a.jpg \n\n/b c.png\r\n')).toEqual(['/a.jpg', '/b c.png']);
    expect(parseCoord('', 90)).toBeNull();
    expect(parseCoord('91', 90)).toBeNaN();
    expect(parseCoord('-33.5', 90)).toBe(-33.5);
  });

  it('turns a local datetime into RFC 3339 with an offset', () => {
    const s = localInputToRfc3339('2026-03-01T14:30');
    expect(s).toMatch(/^2026-03-01T14:30:00[+-]\d\d:\d\d$/);
    expect(new Date(s as string).getTime()).toBe(new Date('2026-03-01T14:30').getTime());
    expect(localInputToRfc3339('')).toBeNull();
  });
});

describe('sync state', () => {
  it('tracks per-bundle progress from sync events', () => {
    resetSync();
    applySyncEvent({ event: 'progress', bundle_id: 'b1', done: 10, total: 100 });
    applySyncEvent({ event: 'retrying', bundle_id: 'b1', attempt: 1, after_ms: 2000, error: 'connection reset' });
    expect(sync.items[0]).toMatchObject({ done: 10, total: 100, state: 'retrying' });
    applySyncEvent({ event: 'uploaded', bundle_id: 'b1', outcome: { bundle_id: 'b1', outcome: 'accepted', events_added: 2, receipt: '' } });
    expect(sync.items[0]).toMatchObject({ done: 100, state: 'uploaded' });
    applySyncDone({ ok: true, error: null, report: null });
    expect(sync.items).toHaveLength(0);
    expect(sync.running).toBe(false);
  });

  it('marks a bundle the agency refused and logs the reason', () => {
    resetSync();
    applySyncEvent({ event: 'progress', bundle_id: 'b2', done: 100, total: 100 });
    applySyncEvent({ event: 'refused', bundle_id: 'b2', status: 403, code: 'forbidden', message: 'brief x was withdrawn' });
    expect(sync.items[0]).toMatchObject({ state: 'refused' });
    expect(sync.items[0].note).toContain('brief x was withdrawn');
    expect(sync.log[0]).toMatchObject({ kind: 'error' });
    expect(sync.log[0].text).toContain('set aside');
    applySyncDone({ ok: true, error: null, report: null });
    expect(sync.items).toHaveLength(0);
  });
});

describe('search highlights', () => {
  it('cuts a snippet at UTF-16 ranges and ignores bad ones', async () => {
    const { highlightParts } = await import('../lib/format');
    const text = 'a 👀 van and a car';
    const van = text.indexOf('van');
    expect(highlightParts(text, [{ start: van, end: van + 3 }])).toEqual([
      { text: 'a 👀 ', hit: false },
      { text: 'van', hit: true },
      { text: ' and a car', hit: false },
    ]);
    // Out of bounds, empty, reversed and overlapping ranges never repeat or drop text.
    const parts = highlightParts(text, [
      { start: 15, end: 99 },
      { start: 3, end: 3 },
      { start: 9, end: 2 },
      { start: 14, end: 16 },
    ]);
    expect(parts.map((p) => p.text).join('')).toBe(text);
    expect(parts.filter((p) => p.hit).map((p) => p.text)).toEqual([' c', 'ar']);
    expect(highlightParts('', [{ start: 0, end: 4 }])).toEqual([]);
  });
});
