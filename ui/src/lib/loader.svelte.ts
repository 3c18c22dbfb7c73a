// One way for a screen to read something from the backend and show it: the data, the error the
// user reads, and whether a read is under way. Every list screen used to spell this out as its own
// `load()` with try/catch/finally and an `$effect` that calls it.

import { toAppError } from './api';

export interface Loader<T> {
  /** The last data read successfully (`initial` until the first read succeeds). Deeply reactive. */
  data: T;
  /** The message of the last read's error; '' after a read succeeds. */
  readonly error: string;
  /** True from the start of a read to its end; true before the first read. */
  readonly loading: boolean;
  /** Reads again; resolves when the read (and `onload`) is done. */
  reload(): Promise<void>;
}

export interface LoaderOptions<T> {
  /** Runs after each successful read, once `data` holds its result. */
  onload?: (data: T) => void;
}

/**
 * Reads with `fetch` now and again whenever the reactive state `fetch` reads before its first
 * `await` changes (a prop, a filter). Call it while a component initialises: it registers the
 * `$effect` that does the reading. When reads overlap, only the newest one's result is kept, so a
 * slow answer to an old filter never replaces the answer to the current one.
 */
export function loader<T>(fetch: () => Promise<T>, initial: T, options: LoaderOptions<T> = {}): Loader<T> {
  let data = $state(initial);
  let error = $state('');
  let loading = $state(true);
  let seq = 0;

  async function reload(): Promise<void> {
    const mine = ++seq;
    loading = true;
    try {
      const result = await fetch();
      if (mine !== seq) return;
      data = result;
      error = '';
      options.onload?.(data);
    } catch (e) {
      if (mine !== seq) return;
      error = toAppError(e).message;
    } finally {
      if (mine === seq) loading = false;
    }
  }

  $effect(() => {
    void reload();
  });

  return {
    get data() {
      return data;
    },
    set data(v: T) {
      data = v;
    },
    get error() {
      return error;
    },
    get loading() {
      return loading;
    },
    reload,
  };
}
