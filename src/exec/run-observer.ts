/**
 * What a runtime attaches to one graph run, for metrics and tracing: it hears each unit's
 * per-node durations as measured where the nodes ran (a worker, or the main thread), and it may
 * give the run a trace context that travels with the run's units into the workers, so that a
 * `host.push` made by a node carries it back to the runtime (see `host-client.ts`).
 *
 * The trace context is a W3C `traceparent` string; inside a node it is held in an
 * AsyncLocalStorage, so it follows the node's own awaits. The storage is process-wide (keyed by
 * `Symbol.for`) so that a node module resolving another copy of the package still sees it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { GraphPlan } from '../model/plan.js';

/** Observes one graph run. */
export interface RunObserver {
  /** The run's trace context (`00-<trace id>-<span id>-<flags>`), or undefined when not traced. */
  readonly traceparent: string | undefined;
  /**
   * A unit's nodes all ran: their plan indices, each one's duration in ms measured where it ran,
   * and the thread that ran them.
   */
  unit(plan: GraphPlan, nodes: readonly number[], durations: readonly number[], threadId: number): void;
}

const holder = globalThis as unknown as Record<symbol, AsyncLocalStorage<string> | undefined>;
const scope = (holder[Symbol.for('cloaca.trace.scope')] ??= new AsyncLocalStorage<string>());

/** Runs `fn` (a node call) with `traceparent` as the current trace context. */
export function runInTrace<T>(traceparent: string, fn: () => T): T {
  return scope.run(traceparent, fn);
}

/** The trace context of the node running now, or undefined. */
export function currentTrace(): string | undefined {
  return scope.getStore();
}
