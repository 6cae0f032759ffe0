/**
 * The executor seam. A graph run (`graph-run.ts`) decides *what* is ready; an executor decides
 * *where and when* it runs: on the main thread (`inline-executor.ts`) or in the Piscina pool
 * (`pool-executor.ts`). Both implement this interface, run a unit's nodes with the same loop
 * (`unit-loop.ts`) and report back through the same callbacks, which is what keeps their
 * semantics identical (the lage `InProcPool` pattern).
 */
import type { PlanUnit } from '../model/plan.js';

/** The executors a graph can run on. */
export const ExecutorKind = { Pool: 'pool', Inline: 'inline' } as const;
export type ExecutorKind = (typeof ExecutorKind)[keyof typeof ExecutorKind];

/** A graph run as an executor sees it: where a ready unit's outcome goes. */
export interface ExecutingRun {
  /** Submission order of the run; older runs are served first. */
  readonly seq: number;
  /** True once the run has failed; its remaining units are not started. */
  readonly done: boolean;
  /** The run's trace context, sent with its units (see `run-observer.ts`); undefined when not traced. */
  readonly traceparent: string | undefined;
  /** True when the run records a trace: an executor that may skip timing nodes must time them. */
  readonly traced: boolean;
  /**
   * A cell shared with the workers, set to 1 when the run fails, so a worker in the middle of a
   * fused chain of this run starts none of the chain's remaining nodes. Created on first use.
   */
  cancelCell(): Int32Array;
  /**
   * The unit's nodes all ran; `value` is the tail's result, `durations` one per node in ms (none
   * when the executor did not time them).
   */
  unitDone(ready: ReadyUnit, value: unknown, durations: readonly number[], threadId: number): void;
  /** Node `offset` of the unit failed with `cause`. */
  unitFailed(ready: ReadyUnit, offset: number, cause: unknown): void;
}

/**
 * A ready unit: a dispatch unit of the plan (one node, or a fused chain) whose inputs are all
 * resolved in one run, with its head's arguments (cache inputs first, then one per in-edge).
 */
export interface ReadyUnit {
  readonly run: ExecutingRun;
  readonly unit: PlanUnit;
  readonly args: unknown[];
}

/** Runs ready units. */
export interface Executor {
  readonly kind: ExecutorKind;
  /** Starts (or queues) a ready unit; the outcome goes to `ready.run`. Never throws. */
  dispatch(ready: ReadyUnit): void;
  /** Releases what the executor holds (a pool reference); later dispatches fail. */
  close(): Promise<void>;
}
