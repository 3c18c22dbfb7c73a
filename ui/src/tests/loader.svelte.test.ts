import { describe, it, expect, vi } from 'vitest';
import { flushSync } from 'svelte';
import { loader, type Loader } from '../lib/loader.svelte';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('loader', () => {
  it('reads at once, shows the error of a failed read and clears it on the next success', async () => {
    const reads = [deferred<string[]>(), deferred<string[]>()];
    let n = 0;
    let l!: Loader<string[]>;
    const stop = $effect.root(() => {
      l = loader(() => reads[n++].promise, []);
    });
    flushSync();
    expect(n).toBe(1);
    expect(l.loading).toBe(true);
    expect(l.data).toEqual([]);

    reads[0].reject({ code: 'locked', message: 'The profile is locked.' });
    await settle();
    expect(l.loading).toBe(false);
    expect(l.error).toBe('The profile is locked.');

    const again = l.reload();
    expect(l.loading).toBe(true);
    reads[1].resolve(['a']);
    await again;
    expect(l.error).toBe('');
    expect(l.data).toEqual(['a']);
    expect(l.loading).toBe(false);
    stop();
  });

  it('reads again when what the fetch reads changes, and keeps only the newest answer', async () => {
    const filter = $state({ q: 'old' });
    const pending: Record<string, ReturnType<typeof deferred<string>>> = {};
    const onload = vi.fn();
    let l!: Loader<string>;
    const stop = $effect.root(() => {
      l = loader(
        () => {
          const q = filter.q;
          pending[q] = deferred<string>();
          return pending[q].promise;
        },
        '',
        { onload },
      );
    });
    flushSync();
    filter.q = 'new';
    flushSync();
    expect(Object.keys(pending).sort()).toEqual(['new', 'old']);

    pending.new.resolve('answer to new');
    await settle();
    pending.old.resolve('answer to old');
    await settle();
    expect(l.data).toBe('answer to new');
    expect(onload).toHaveBeenCalledTimes(1);
    expect(onload).toHaveBeenCalledWith('answer to new');
    stop();
  });
});
