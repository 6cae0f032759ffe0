/**
 * The messages between the main thread and the node worker (`workers/node-worker.ts`). Field
 * names are short because every dispatch clones them.
 */
import type { ErrorEnvelope } from './error-envelope.js';
import type { Uncloneable } from '../model/values.js';

/** Run a dispatch unit: call `f[0](...a)`, then each next function with the previous result. */
export interface UnitTask {
  /** Module URL (file:). */
  readonly m: string;
  /** Export names, head of the chain first. */
  readonly f: readonly string[];
  /** Arguments of the head. */
  readonly a: readonly unknown[];
  /** Fused chains only: the run's cancel cell; once it is non-zero, start no further node. */
  readonly c?: Int32Array;
  /** Traced runs only: the run's trace context, current while the nodes run (`host.push` sends it back). */
  readonly t?: string;
}

/** Load a module and list its function exports (build-time validation and warm-up). */
export interface DescribeTask {
  readonly describe: string;
}

export type WorkerTask = UnitTask | DescribeTask;

/** The outcome of a {@link UnitTask}. `w` is the worker's threadId, `d` each node's duration in ms. */
export type UnitReply =
  | { readonly ok: true; readonly v: unknown; readonly d: readonly number[]; readonly w: number }
  /** Node `i` of the chain threw. */
  | {
      readonly ok: false;
      readonly i: number;
      readonly d: readonly number[];
      readonly w: number;
      readonly e: ErrorEnvelope;
    }
  /** Node `i` of the chain returned something that cannot be cloned. */
  | {
      readonly ok: false;
      readonly i: number;
      readonly d: readonly number[];
      readonly w: number;
      readonly c: Uncloneable;
    }
  /** The run failed elsewhere; node `i` of the chain and those after it were not started. */
  | { readonly ok: false; readonly i: number; readonly d: readonly number[]; readonly w: number; readonly x: true };

/** The outcome of a {@link DescribeTask}. */
export type DescribeReply =
  { readonly ok: true; readonly exports: readonly string[] } | { readonly ok: false; readonly e: ErrorEnvelope };
