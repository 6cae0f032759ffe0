/**
 * The executor seam. A graph run (`graph-run.ts`) decides *what* is ready; an executor decides
 * *where and when* it runs: on the main thread (`inline-executor.ts`) or in the Piscina pool
 * (`pool-executor.ts`). Both implement this interface and report back through the same two
 * callbacks, which is what keeps their semantics identical (the lage `InProcPool` pattern).
 */
import type { PlanUnit } from '../model/plan.js';

/** The executors a graph can run on. */
export const ExecutorKind = { Pool: 'pool', Inline: 'inline' } as const;
export type ExecutorKind = (typeof ExecutorKind)[keyof typeof ExecutorKind];

/** What an executor reports a unit's outcome to. */
export interface UnitSink {
  /** Submission order of the run; older runs are served first. */
  readonly seq: number;
  /** True once the run has failed; its remaining units are not started. */
  readonly done: boolean;
  /** The run's trace context, sent with its units (see `run-observer.ts`); undefined when not traced. */
  readonly traceparent: string | undefined;
  /**
   * A cell shared with the workers, set to 1 when the run fails, so a worker in the middle of a
   * fused chain of this run starts none of the chain's remaining nodes. Created on first use.
   */
  cancelCell(): Int32Array;
  /** The unit's nodes all ran; `value` is the tail's result, `durations` one per node in ms. */
  unitDone(job: UnitJob, value: unknown, durations: readonly number[], threadId: number): void;
  /** Node `offset` of the unit failed with `cause`. */
  unitFailed(job: UnitJob, offset: number, cause: unknown): void;
}

/** A dispatch unit whose inputs are ready, with its head's arguments. */
export interface UnitJob {
  readonly run: UnitSink;
  readonly unit: PlanUnit;
  readonly args: unknown[];
}

/** Runs dispatch units. */
export interface Executor {
  readonly kind: ExecutorKind;
  /** Starts (or queues) a unit; the outcome goes to `job.run`. Never throws. */
  dispatch(job: UnitJob): void;
  /** Releases what the executor holds (a pool reference); later dispatches fail. */
  close(): Promise<void>;
}
