// One way for a form or button to run a backend command: busy while it runs (the button shows it
// and is disabled), and the error the user reads if it fails. Every form used to write this out as
// its own busy/error pair with try/catch/finally.

import { toAppError } from './api';

export interface Action {
  /** True while `run`'s work is under way. */
  readonly busy: boolean;
  /** The message of the last failure, or a check's message set by the form itself; '' when none. */
  error: string;
  /** Clears the error and runs `work`, unless a run is already under way; a thrown error becomes `error`. */
  run(work: () => Promise<void>): Promise<void>;
}

export function action(): Action {
  let busy = $state(false);
  let error = $state('');
  return {
    get busy() {
      return busy;
    },
    get error() {
      return error;
    },
    set error(v: string) {
      error = v;
    },
    async run(work) {
      if (busy) return;
      busy = true;
      error = '';
      try {
        await work();
      } catch (e) {
        error = toAppError(e).message;
      } finally {
        busy = false;
      }
    },
  };
}
