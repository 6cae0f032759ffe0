/**
 * What the runtime holds of a registered reactor, keyed (`keyed-reactor.ts`) or not
 * (`reactor.ts`): its declaration, counters and health, the boundaries it is given, the
 * commands a user has over it, and what a checkpoint saves of it.
 */
import type { ComputationGraph } from '../graph/computation-graph.js';
import type { ReactorHealth } from '../model/health.js';
import type { ReactorDeclaration } from '../model/reactor-declaration.js';
import type { QueuedBoundary } from './boundary-queue.js';
import type { FireRecord, ReactorSnapshot, ReactorState } from './records.js';

/** A reactor's counters, shared by every key of a keyed reactor. */
export interface ReactorCounts {
  /** Completed firings. */
  fires: number;
  /** Failed graph runs. */
  failures: number;
  /** Firings that ran in a batch (several queued boundaries fired in one worker). */
  batched: number;
  /** Per bound graph (by its index in `graphs`): its runs, and those that failed. */
  readonly graphRuns: number[];
  readonly graphFailures: number[];
}

export interface LiveReactor {
  readonly declaration: ReactorDeclaration;
  readonly name: string;
  readonly graphs: readonly ComputationGraph[];
  readonly health: ReactorHealth;
  readonly counts: ReactorCounts;
  readonly fires: number;
  readonly paused: boolean;
  /** Boundaries waiting to fire (every key's, for a keyed reactor). */
  readonly queued: number;
  /** The registered reactor (itself, or the keyed reactor a key's reactor serves). */
  readonly owner: LiveReactor;
  /** Where its checkpoint rows are kept. */
  readonly checkpointName: string;
  /** Binds a graph: every firing runs it. */
  bind(graph: ComputationGraph): void;
  /** True while a boundary of `source` would be accepted. */
  hasRoom(source: string): boolean;
  /**
   * Whether this reactor takes `value` from `source` now (a keyed reactor reads its key: room
   * for its queue, or for a new key); throws KeyError for a value without a valid key.
   */
  admit(source: string, value: unknown, key?: string): boolean;
  /** A boundary, admitted (`key` given by an accumulator that buffers per key). */
  deliver(source: string, value: unknown, key?: string): void;
  /** The key of `value` from `source` (undefined without keys, or for a broadcast source); throws KeyError. */
  keyOf(source: string, value: unknown): string | undefined;
  /** True when nothing would fire now by itself. */
  quiescent(): boolean;
  setHealth(health: ReactorHealth): void;
  forceFire(): Promise<FireRecord | undefined>;
  fireWith(cache: Record<string, unknown>): Promise<FireRecord | undefined>;
  pause(): void;
  resume(): void;
  getState(): ReactorState;
  /** What a checkpoint stores besides the queue. */
  snapshot(): ReactorSnapshot;
  restore(snapshot: ReactorSnapshot, queue: readonly QueuedBoundary[]): void;
  /** Resolves once no firing is in flight; meant for a reactor that cannot fire now (held at `warming`). */
  halted(): Promise<void>;
  /**
   * Drops the state it holds (cache, flags, queue, keys, paused flag), as if just made, for
   * {@link restore} to apply stored state again; counters stay. Throws StateError while it fires.
   */
  reset(): void;
  /** Ends what runs by itself (a keyed reactor's idle sweep). */
  close(): void;
}
