/**
 * Helpers of the PostgreSQL runtime tests: what a runtime reports (its errors, its ownership
 * moves), awaitable.
 */
import { CheckpointError, type Runtime } from 'cloaca';
import { deferred } from '../runtime/support.js';

/** The errors a runtime reports, awaitable. */
export function errors(rt: Runtime) {
  const seen: unknown[] = [];
  let waiting: ((error: unknown) => void) | undefined;
  rt.on('error', (error) => {
    seen.push(error);
    waiting?.(error);
  });
  return {
    seen,
    next: (match: (error: unknown) => boolean): Promise<unknown> => {
      const found = seen.find(match);
      if (found !== undefined) return Promise.resolve(found);
      const next = deferred<unknown>();
      waiting = (error) => {
        if (match(error)) next.resolve(error);
      };
      return next.promise;
    },
  };
}

/** Resolves once `holds()` is true, checking on each turn of the event loop. */
export async function until(holds: () => boolean): Promise<void> {
  while (!holds()) await new Promise((resolve) => setImmediate(resolve));
}

export const lostSession = (error: unknown): boolean =>
  error instanceof CheckpointError && error.message.includes('lost the session');

/** Resolves once `rt` has (or had) `ownership`: its `ownership` events, heard from the start. */
export function ownerships(rt: Runtime) {
  const seen: string[] = [];
  const waiters: Array<{ ownership: string; count: number; resolve: () => void }> = [];
  rt.on('ownership', (ownership) => {
    seen.push(ownership);
    for (const w of waiters.splice(0)) {
      if (seen.filter((o) => o === w.ownership).length >= w.count) w.resolve();
      else waiters.push(w);
    }
  });
  return {
    seen,
    /** The `count`th time it became `ownership`. */
    reach(ownership: string, count = 1): Promise<void> {
      if (seen.filter((o) => o === ownership).length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ ownership, count, resolve }));
    },
  };
}
