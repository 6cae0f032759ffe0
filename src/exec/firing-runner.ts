/**
 * The worker's side of a batch of firings (`FiringsRequest`): a sequential reactor's queued
 * boundaries, each fired as one whole traversal of the graph's plan, one after another, in this
 * thread. The traversal is the one the main thread runs (`GraphRun`) over the inline executor,
 * so arguments and results follow the value rules exactly as on the pool: each node gets its own
 * copy of what others keep, every result is copied when it returns.
 *
 * - Firings never overlap: firing k+1 starts once firing k has ended (a node that awaits holds
 *   the batch, as it would hold the reactor).
 * - Each firing runs on its own input; a failure ends its own traversal only, and the next
 *   firing runs.
 * - Before each firing the control cell is read: once the main thread set it (pause, a manual
 *   command, health), the batch ends there and the firings left are answered as not run.
 * - The unit table's slot says, for the pool, whether the batch started and which node is inside
 *   its synchronous part; control[1] which firing is in progress.
 */
import { performance } from 'node:perf_hooks';
import type { GraphExecutionError } from '../model/errors.js';
import { planFromText, type GraphPlan } from '../model/plan.js';
import type { NodeFunction } from '../model/topology.js';
import { inspectValue, restoreValue, ValueSink, type ValueExtras } from '../model/values.js';
import { CostModel } from './cost-model.js';
import { toErrorEnvelope } from './error-envelope.js';
import { GraphRun, type GraphResult, type RunContext, type RunOptions } from './graph-run.js';
import type { ExecutingRun } from './executor.js';
import { InlineExecutor } from './inline-executor.js';
import { moveRegistry } from './move.js';
import type { FiringOutcome, FiringsReply, FiringsRequest } from './protocol.js';
import { sharedNow, type UnitTableWriter } from './unit-table.js';

const moves = moveRegistry();
const kUntimed: RunOptions = { timed: false };

/** Plans parsed in this worker, with an executor over the module's functions: per module URL, per plan text. */
const compiled = new Map<string, Map<string, RunContext>>();
/** The unit table slot of the batch each traversal belongs to (batches may interleave while nodes await). */
const slotOf = new WeakMap<ExecutingRun, number>();

/** The reply, and the buffers marked with move() in its outputs, to transfer with it. */
export interface FiringsResult {
  readonly reply: FiringsReply;
  readonly transfers: ArrayBuffer[] | null;
}

/** Runs a batch of firings with the node module's `functions`; synchronous while every node is. */
export function runFirings(
  request: FiringsRequest['firings'],
  functions: ReadonlyMap<string, NodeFunction>,
  table: UnitTableWriter,
  threadId: number,
): FiringsResult | Promise<FiringsResult> {
  const ctx = compile(request.module, request.plan, functions, table);
  table.start(request.slot);
  for (const extras of request.extras) if (extras !== undefined) restoreValue(extras);
  const batch = new Batch(ctx, request, threadId);
  return batch.run(0) ? batch.result() : batch.settled;
}

function compile(
  module: string,
  text: string,
  functions: ReadonlyMap<string, NodeFunction>,
  table: UnitTableWriter,
): RunContext {
  let plans = compiled.get(module);
  if (plans === undefined) compiled.set(module, (plans = new Map()));
  let ctx = plans.get(text);
  if (ctx === undefined) {
    const plan: GraphPlan = planFromText(text);
    const executor = new InlineExecutor(plan, functions, {
      enter: (run, node) => table.running(slotOf.get(run)!, node),
      leave: (run) => table.leave(slotOf.get(run)!),
    });
    ctx = { plan, costs: new CostModel(plan), executor, triggerless: false };
    plans.set(text, ctx);
  }
  return ctx;
}

/** One batch in progress. */
class Batch {
  readonly #ctx: RunContext;
  readonly #request: FiringsRequest['firings'];
  readonly #threadId: number;
  readonly #outcomes: FiringOutcome[] = [];
  #transfers: ArrayBuffer[] | null = null;
  /** The firing in progress: its start, and whether it is still inside `run`'s loop. */
  #startedAt = 0;
  #began = 0;
  #inLoop = false;
  #resolve: ((result: FiringsResult) => void) | null = null;
  /** Resolves once a batch that went asynchronous has ended. */
  readonly settled: Promise<FiringsResult>;

  constructor(ctx: RunContext, request: FiringsRequest['firings'], threadId: number) {
    this.#ctx = ctx;
    this.#request = request;
    this.#threadId = threadId;
    this.settled = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Runs firings from `k` on; true when the batch ended synchronously. */
  run(k: number): boolean {
    const { inputs, control } = this.#request;
    for (; k < inputs.length; k++) {
      if (Atomics.load(control, 0) !== 0) break;
      Atomics.store(control, 1, k);
      this.#startedAt = sharedNow();
      this.#began = performance.now();
      const before = this.#outcomes.length;
      this.#inLoop = true;
      const run = new GraphRun(this.#ctx, inputs[k], kUntimed, this.#ended);
      slotOf.set(run, this.#request.slot);
      run.start();
      this.#inLoop = false;
      // A node awaits: the firing's end continues the batch.
      if (this.#outcomes.length === before) return false;
    }
    return true;
  }

  result(): FiringsResult {
    return { reply: { outcomes: this.#outcomes, thread: this.#threadId }, transfers: this.#transfers };
  }

  readonly #ended = (error: unknown, result: GraphResult | undefined): void => {
    const durationMs = performance.now() - this.#began;
    this.#outcomes.push(this.#outcome(error, result, durationMs));
    if (this.#inLoop) return;
    if (this.run(this.#outcomes.length)) this.#resolve!(this.result());
  };

  #outcome(error: unknown, result: GraphResult | undefined, durationMs: number): FiringOutcome {
    const startedAt = this.#startedAt;
    if (result !== undefined) {
      // Every output is already a copy made by the rules; only what clone loses is noted.
      const sink = new ValueSink(moves.used ? moves.marked : null);
      inspectValue(result.outputs, 'value', sink);
      if (sink.transfers !== null && sink.transfers.size > 0) (this.#transfers ??= []).push(...sink.transfers);
      return withExtras({ ok: true, outputs: result.outputs, startedAt, durationMs }, sink.extras());
    }
    const failure = error as GraphExecutionError;
    const cause = toErrorEnvelope(failure.cause);
    const sink = new ValueSink();
    inspectValue(cause, 'value', sink);
    return withExtras({ ok: false, node: failure.node, cause, startedAt, durationMs }, sink.extras());
  }
}

function withExtras<T extends FiringOutcome>(outcome: T, extras: ValueExtras | undefined): T {
  return extras === undefined ? outcome : { ...outcome, extras };
}
