/**
 * The runtime's events, and how its parts emit them: a listener is user code, so what it throws
 * is reported and never let into the runtime, and an `error` nobody listens for is logged
 * instead of taking the process down.
 */
import type { EventEmitter } from 'node:events';
import { ListenerError } from '../model/errors.js';
import type { HealthEvent } from '../model/health.js';
import type { FireRecord } from '../reactor/records.js';
import type { RuntimeState } from './lifecycle.js';
import type { CheckpointOwnership } from './report.js';

/** The runtime's events. */
export interface RuntimeEvents {
  /** One graph's outcome of one firing. */
  fire: [record: FireRecord];
  /**
   * Something went wrong that the runtime survived: an accumulator dropped an event, a stream
   * backend failed, a checkpoint commit failed (retried), saved state was set aside, a listener
   * threw.
   */
  error: [error: Error];
  /** A component's health moved. */
  health: [event: HealthEvent];
  /** An accumulator that refused a push accepts again. */
  drain: [accumulator: string];
  /** The runtime moved in its lifecycle. */
  state: [state: RuntimeState, previous: RuntimeState];
  /**
   * On a PostgreSQL checkpoint: whether the runtime owns its `id` moved (`previous` is null the
   * first time); see {@link CheckpointOwnership}.
   */
  ownership: [ownership: CheckpointOwnership, previous: CheckpointOwnership | null];
}

/** The events other than `error`, which goes through {@link reportError}. */
export type NotifiedEvent = Exclude<keyof RuntimeEvents, 'error'>;

/** Emits one of the runtime's events (see {@link notify}). */
export type Notify = <K extends NotifiedEvent>(event: K, ...args: RuntimeEvents[K]) => void;

/** Emits `event`; a listener that throws is reported as a ListenerError through `report`. */
export function notify<K extends NotifiedEvent>(
  emitter: EventEmitter<RuntimeEvents>,
  report: (error: unknown) => void,
  event: K,
  ...args: RuntimeEvents[K]
): void {
  try {
    (emitter.emit as (event: K, ...args: RuntimeEvents[K]) => boolean).call(emitter, event, ...args);
  } catch (error) {
    report(new ListenerError(event, { cause: error }));
  }
}

/**
 * Emits `error` (anything thrown that is not an Error is wrapped in one), or logs it when nobody
 * listens; an `error` listener that throws is logged too.
 */
export function reportError(
  emitter: EventEmitter<RuntimeEvents>,
  log: (...args: unknown[]) => void,
  error: unknown,
): void {
  const err = error instanceof Error ? error : new Error(String(error));
  // An 'error' event nobody listens to would throw and take the process down.
  if (emitter.listenerCount('error') === 0) {
    log(`error: ${err.message}`);
    return;
  }
  try {
    emitter.emit('error', err);
  } catch (thrown) {
    log(
      `error: ${err.message}; and an 'error' listener threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
    );
  }
}
