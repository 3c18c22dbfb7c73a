/**
 * Calls `fn` at most once per `intervalMs`: the first call goes through at once, later calls inside the
 * interval are dropped (activity pings need no trailing call: the next real activity sends one).
 */
export function throttle(fn: () => void, intervalMs: number, now: () => number = Date.now): () => void {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const t = now();
    if (t - last >= intervalMs) {
      last = t;
      fn();
    }
  };
}

/** Delays `fn` until `waitMs` passed without another call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, waitMs: number): ((...args: A) => void) & { cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const d = (...args: A) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, waitMs);
  };
  d.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return d;
}
