/**
 * What a reactor reports: the record of one graph in one firing, the state `getState()` shows,
 * and what a checkpoint keeps; and the one function that builds a fire record.
 */
import type { ReactorHealth } from '../model/health.js';

/** What one graph did in one firing (the payload of the runtime's `fire` event). */
export interface FireRecord {
  readonly reactor: string;
  readonly graph: string;
  readonly ok: boolean;
  /** The graph's outputs (terminal name to value), when it succeeded. */
  readonly outputs?: Record<string, unknown>;
  /** Why it failed (a `GraphExecutionError`), when it did. */
  readonly error?: unknown;
  /** True for `forceFire` and `fireWith`. */
  readonly manual: boolean;
  /**
   * The cache snapshot the graph ran on. Its values are the reactor's own, not copies (a copy per
   * source per firing would cost every listener): read them, and copy one before changing it.
   */
  readonly inputs: Record<string, unknown>;
  readonly durationMs: number;
  /** Epoch milliseconds when the firing started. */
  readonly firedAt: number;
  /** The key that fired (a keyed reactor's firings only). */
  readonly key?: string;
}

/** What `reactor.getState()` returns. */
export interface ReactorState {
  /** Source name to its current value. */
  readonly cache: Record<string, unknown>;
  /** Source name to whether it delivered since the last firing. */
  readonly dirty: Record<string, boolean>;
  readonly paused: boolean;
  /** Boundaries waiting to fire (sequential). */
  readonly queued: number;
  readonly health: ReactorHealth;
  /** Keys held (a keyed reactor only). */
  readonly keys?: number;
}

/** What `reactor.key(k).getState()` returns: that key's part of the state. */
export interface KeyState {
  /** Source name to its current value for this key (broadcast sources included). */
  readonly cache: Record<string, unknown>;
  /** The key's sources (not the broadcast ones) to whether they delivered since its last firing. */
  readonly dirty: Record<string, boolean>;
  /** This key's boundaries waiting to fire (sequential). */
  readonly queued: number;
}

/** What a checkpoint keeps of a reactor besides its queue. */
export interface ReactorSnapshot {
  readonly cache: Record<string, unknown>;
  readonly dirty: Record<string, boolean>;
  readonly paused: boolean;
}

/**
 * The record of `graph` in a firing of `reactor`: a success with `outputs` when `ok`, a failure
 * with `error` otherwise, carrying `key` when given. Firings one at a time and in batches build
 * their records here.
 */
export function fireRecord(
  reactor: string,
  graph: string,
  manual: boolean,
  inputs: Record<string, unknown>,
  ok: boolean,
  outcome: unknown,
  durationMs: number,
  firedAt: number,
  key: string | undefined,
): FireRecord {
  // One literal per shape: a keyed record built by spreading an unkeyed one cost a second object.
  if (key === undefined) {
    return ok
      ? { reactor, graph, manual, inputs, ok, outputs: outcome as Record<string, unknown>, durationMs, firedAt }
      : { reactor, graph, manual, inputs, ok, error: outcome, durationMs, firedAt };
  }
  return ok
    ? { reactor, graph, manual, inputs, ok, outputs: outcome as Record<string, unknown>, durationMs, firedAt, key }
    : { reactor, graph, manual, inputs, ok, error: outcome, durationMs, firedAt, key };
}
