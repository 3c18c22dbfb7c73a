// Shared factory for `vi.mock('../lib/api', mockApi)`: every command becomes a vi.fn(), every
// event subscription a vi.fn() returning an unsubscribe; the pure helpers stay real.
import { vi } from 'vitest';

export async function mockApi(importOriginal: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const actual = (await importOriginal()) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(actual)) {
    if (typeof v !== 'function' || k === 'toAppError' || k === 'hasCode') out[k] = v;
    else if (/^on[A-Z]/.test(k)) out[k] = vi.fn(() => () => {});
    else out[k] = vi.fn(() => Promise.reject({ code: 'unmocked', message: `${k} was not mocked in this test` }));
  }
  return out;
}
