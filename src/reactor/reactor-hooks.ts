/**
 * What a reactor (`reactor.ts`) and the runtime say to each other: the questions it asks around
 * its firings, the events it reports, the hooks the runtime gives it, and what a reactor serving
 * one key of a keyed reactor (`keyed-reactor.ts`) shares with it.
 */
import type { RunOptions } from '../exec/graph-run.js';
import type { ComputationGraph } from '../graph/computation-graph.js';
import type { QueuedBoundary } from './boundary-queue.js';
import type { KeyGate } from './key-gate.js';
import type { LiveReactor, ReactorCounts } from './live-reactor.js';
import type { FireRecord } from './records.js';

/** The questions a reactor asks the runtime around its firings. */
export interface ReactorQuestions {
  /**
   * True when something reads every fire record (a `fire` listener, a feedback graph). Asked
   * once per firing (once per batch); when neither this nor {@link sampling} holds (and no
   * manual command waits), no record is built and no clock read.
   */
  observing(reactor: LiveReactor): boolean;
  /**
   * Whether this firing is timed for the metrics (a sample of the firings under load). Asked
   * once per firing, before {@link starting}; once per batch, whose first firing is then timed.
   */
  sampling(reactor: LiveReactor): boolean;
  /**
   * Whether queued firings may run in batches in a worker. Not while firings are traced: a
   * batched firing runs as a whole in the worker, without a span per node.
   */
  batchable(reactor: LiveReactor): boolean;
  /**
   * A graph's run is about to start for a firing (`seq` its sequential boundary, or -1): the
   * options to run it with (the runtime's metrics and tracing observer), or undefined.
   */
  starting(reactor: LiveReactor, graph: ComputationGraph, seq: number, manual: boolean): RunOptions | undefined;
}

/** What a reactor reports to the runtime as it goes. */
export interface ReactorEvents {
  /**
   * Each graph's record, as soon as that graph finishes: every one while `observing` or
   * `sampling`, and every failure (untimed when neither held: its end as `firedAt`, `durationMs`
   * NaN).
   */
  recorded(reactor: LiveReactor, record: FireRecord): void;
  /** A firing ended (every graph finished); `ok` when every graph succeeded. */
  fired(reactor: LiveReactor, ok: boolean): void;
  /** A sequential boundary was queued. */
  accepted(reactor: LiveReactor, boundary: QueuedBoundary): void;
  /** Sequential boundaries up to `seq` are done (fired, or applied without firing). */
  consumed(reactor: LiveReactor, seq: number): void;
  /** The cache, the dirty flags or the paused flag changed. */
  changed(reactor: LiveReactor): void;
  /** A batch of firings stopped before all of them fired: the loop moves on (to idle, often) without a firing. */
  stopped(reactor: LiveReactor): void;
  /** The queue, after refusing a boundary, has room again. */
  room(reactor: LiveReactor): void;
  /** The node durations (ms, per plan node, NaN when it did not run) of a batch's first firing, when sampled. */
  timed(reactor: LiveReactor, graph: ComputationGraph, nodeDurations: Float64Array): void;
}

/** What the runtime gives a reactor: its queue bound, the answers to its questions, and ears for its events. */
export interface ReactorHooks {
  /** Most boundaries a sequential queue holds. */
  readonly queueCapacity: number;
  readonly questions: ReactorQuestions;
  readonly events: ReactorEvents;
}

/** What a reactor serving one key of a keyed reactor shares with it. */
export interface KeyLane {
  readonly key: string;
  /** The keyed reactor: the runtime's observer and tracing see it, not the key. */
  readonly owner: LiveReactor;
  /** The key's own sources (the broadcast ones only write its cache). */
  readonly sources: readonly string[];
  readonly graphs: ComputationGraph[];
  readonly counts: ReactorCounts;
  /** The keyed reactor's next sequential number: unique across its keys. */
  readonly sequence: { next: number };
  readonly gate: KeyGate;
  /** Where its checkpoint rows are kept. */
  readonly checkpointName: string;
}
