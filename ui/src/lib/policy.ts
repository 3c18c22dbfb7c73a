/** The minimum passphrase length core enforces (error code "passphrase_too_short"). */
export const MIN_PASSPHRASE = 10;

/** Characters (code points), as core counts them. */
export function charCount(s: string): number {
  return [...s].length;
}

/** Default idle time before the app locks itself (seconds). */
export const DEFAULT_IDLE_LOCK_SECS = 900;

/** How often activity is reported to the shell at most (ms). */
export const TOUCH_INTERVAL_MS = 60_000;
