import { describe, it, expect, vi } from 'vitest';
import { action } from '../lib/action.svelte';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));

describe('action', () => {
  it('is busy while its work runs, ignores a second run meanwhile, and shows a failure', async () => {
    const a = action();
    a.error = 'Choose a whole number of minutes from 1 to 240.';
    let finish!: () => void;
    const work = vi.fn(() => new Promise<void>((r) => (finish = r)));
    const first = a.run(work);
    expect(a.busy).toBe(true);
    expect(a.error).toBe('');
    await a.run(work);
    expect(work).toHaveBeenCalledTimes(1);
    finish();
    await first;
    expect(a.busy).toBe(false);

    await a.run(() => Promise.reject({ code: 'locked', message: 'The profile is locked.' }));
    expect(a.error).toBe('The profile is locked.');
    expect(a.busy).toBe(false);
  });
});
