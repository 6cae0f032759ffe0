/**
 * The messages between the main thread and the node worker (`workers/node-worker.ts`). Field
 * names are words: measured against one-letter names, the longer keys cost no measurable time
 * (20 more bytes per message next to a 25-50 µs round trip).
 */
import type { ErrorEnvelope } from './error-envelope.js';
import type { ValueExtras } from '../model/value-sink.js';

/** Run a ready unit: call `nodes[0](...args)`, then each next function with the previous result. */
export interface UnitRequest {
  /** Module URL (file:). */
  readonly module: string;
  /** Export names, head of the chain first. */
  readonly nodes: readonly string[];
  /** Arguments of the head. */
  readonly args: readonly unknown[];
  /** What structured clone loses of `args` (buffers, errors, frozen objects). */
  readonly extras?: ValueExtras;
  /** The unit's slot in the pool's unit table, where the worker notes that it started it. */
  readonly slot: number;
  /** Fused chains that can run beside another unit of their run: the run's cancel cell. */
  readonly cancel?: Int32Array;
  /** Traced runs only: the run's trace context, current while the nodes run (`host.push` sends it back). */
  readonly traceparent?: string;
  /** In a batch: this dispatch's token, echoed with a late reply (a slot is reused later). */
  readonly token?: number;
}

/**
 * Several units for one worker, run one after another in order: one message instead of one per
 * unit. Each has its own slot in the unit table, so it is timed, blamed and dispatched again on
 * its own.
 */
export interface BatchRequest {
  readonly batch: readonly UnitRequest[];
}

/**
 * The outcome of a {@link BatchRequest}: one reply per unit, in order, or `null` for a unit that
 * went asynchronous: its reply comes later on its own ({@link LateReply}), so a unit that waits
 * never holds back the others.
 */
export interface BatchReply {
  readonly replies: ReadonlyArray<UnitReply | null>;
}

/** The reply of a batched unit that went asynchronous, posted by the worker when it settles. */
export interface LateReply {
  readonly late: UnitReply;
  /** The unit's slot and token, from its request. */
  readonly slot: number;
  readonly token: number;
}

/** Import a module and list its function exports (build-time validation and warm-up). */
export interface ListExportsRequest {
  readonly listExports: string;
}

/**
 * Several firings of one graph, run in the worker one after another, each a whole traversal of
 * the plan on its own input (a sequential reactor's queued boundaries: firings never overlap,
 * so nothing is lost by running them in one thread, and a round trip is saved per firing).
 *
 * The inputs travel as the cache before the first firing and the boundaries to apply to it, one
 * per firing (what makes each firing's snapshot), and the outcomes come back in columns: a
 * message of many small objects costs about a microsecond per object to clone, columns a
 * fraction of that.
 */
export interface FiringsRequest {
  readonly firings: {
    /** Module URL (file:). */
    readonly module: string;
    /** The graph's plan, as `planToText` writes it (parsed once per worker). */
    readonly plan: string;
    /** The cache before the first firing. */
    readonly cache: Record<string, unknown>;
    /** Per firing, the source its boundary updates (an index into `sources`) and the new value. */
    readonly sources: readonly string[];
    readonly source: Uint16Array;
    readonly values: readonly unknown[];
    /** What structured clone loses of `cache` and `values`. */
    readonly extras?: ValueExtras;
    /** The batch's slot in the unit table (`running` names the node in progress). */
    readonly slot: number;
    /**
     * Shared with the main thread: [0] set to stop before the next firing (pause, a manual
     * command, health), [1] the firing in progress.
     */
    readonly control: Int32Array;
    /** Time each node of the first firing: the runtime's metrics time a sample of the firings. */
    readonly timeNodes?: boolean;
  };
}

/** A failed firing of a {@link FiringsReply}: the node that failed, and why (the run error's cause). */
export interface FiringFailure {
  readonly firing: number;
  readonly node: string;
  readonly cause: ErrorEnvelope;
}

/** The outcome of a {@link FiringsRequest}, per firing that ran, in order; the rest were stopped. */
export interface FiringsReply {
  /** Firings that ran. */
  readonly ran: number;
  /**
   * Outputs: for firing k and the plan's terminal j (in `plan.terminals` order), `outputs[k * T
   * + j]`, present when `produced[k * T + j]` is 1 (the terminal ran).
   */
  readonly outputs: readonly unknown[];
  readonly produced: Uint8Array;
  /** The failed firings (their outputs are absent). */
  readonly failures: readonly FiringFailure[];
  /** What structured clone loses of `outputs` and `failures`. */
  readonly extras?: ValueExtras;
  /** Per firing: when it started (ms on the clock all threads share) and how long it took. */
  readonly startedAt: Float64Array;
  readonly durations: Float64Array;
  /**
   * With `timeNodes`, when the first firing ran: for plan node i, `nodeDurations[i]` ms, NaN for
   * a node that did not run.
   */
  readonly nodeDurations?: Float64Array;
  /** The worker's threadId. */
  readonly thread: number;
}

/**
 * Batches of firings of several reactors, or of several keys of one keyed reactor, for one
 * worker: run one after another in order and answered in one message, saving a round trip per
 * batch. Each keeps its own slot and control cell, so it is stopped, blamed and dispatched again
 * on its own; one whose nodes await holds back the ones after it, which still run in order.
 */
export interface FiringsGroupRequest {
  readonly firingsGroup: ReadonlyArray<FiringsRequest['firings']>;
}

/** The outcome of a {@link FiringsGroupRequest}: one reply per batch, in order. */
export interface FiringsGroupReply {
  readonly group: readonly FiringsReply[];
}

export type WorkerRequest = UnitRequest | BatchRequest | FiringsRequest | FiringsGroupRequest | ListExportsRequest;

/** A value the rules refused, as data (its getter's error as an envelope). */
export interface RefusedValue {
  readonly path: string;
  readonly valueType: string;
  readonly detail: string;
  readonly cause?: ErrorEnvelope;
}

interface ReplyBase {
  /** Each node's duration in ms, up to the one that ended the unit. */
  readonly durations: readonly number[];
  /** The worker's threadId. */
  readonly thread: number;
}

/** The outcome of a {@link UnitRequest}. */
export type UnitReply =
  | (ReplyBase & { readonly ok: true; readonly value: unknown; readonly extras?: ValueExtras })
  /** Node `at` of the chain threw. */
  | (ReplyBase & {
      readonly ok: false;
      readonly at: number;
      readonly error: ErrorEnvelope;
      readonly extras?: ValueExtras;
    })
  /** Node `at` of the chain returned a value the rules refuse. */
  | (ReplyBase & { readonly ok: false; readonly at: number; readonly refused: RefusedValue })
  /** The run failed elsewhere; node `at` of the chain and those after it were not started. */
  | (ReplyBase & { readonly ok: false; readonly at: number; readonly stopped: true });

/** The outcome of a {@link ListExportsRequest}. */
export type ListExportsReply =
  { readonly ok: true; readonly exports: readonly string[] } | { readonly ok: false; readonly error: ErrorEnvelope };
