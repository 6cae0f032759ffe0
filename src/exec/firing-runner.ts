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
import { setOwn } from '../model/own-properties.js';
import { ValueSink } from '../model/value-sink.js';
import { inspectParts, inspectValue, restoreValue } from '../model/values.js';
import { CostModel } from './cost-model.js';
import { toErrorEnvelope } from './error-envelope.js';
import { GraphRun, type GraphResult, type RunContext, type RunOptions } from './graph-run.js';
import type { ExecutingRun } from './executor.js';
import { InlineExecutor } from './inline-executor.js';
import { moveRegistry } from './move.js';
import type { FiringFailure, FiringsReply, FiringsRequest } from './protocol.js';
import { sharedNow, type UnitTableWriter } from './unit-table.js';

const moves = moveRegistry();
const kUntimed: RunOptions = { timed: false };

/** Plans parsed in this worker, with an executor over the module's functions: per module URL, per plan text. */
const compiled = new Map<string, Map<string, RunContext>>();
/**
 * The unit table slot of the batch a traversal belongs to. The traversal starting now is noted
 * in two variables; one that goes on after a node awaited (batches may interleave then) is
 * looked up in `slotOf`, where it is put only once it awaits: a weak map entry per firing would
 * be work for every garbage collection of this thread.
 */
let startingRun: ExecutingRun | null = null;
let startingSlot = 0;
const slotOf = new WeakMap<ExecutingRun, number>();

function slotOfRun(run: ExecutingRun): number {
  return run === startingRun ? startingSlot : slotOf.get(run)!;
}

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
  if (request.extras !== undefined) restoreValue(request.extras);
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
      watch: {
        enter: (run, node) => table.running(slotOfRun(run), node),
        leave: (run) => table.leave(slotOfRun(run)),
      },
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
  /** The plan's terminals, in `plan.terminals` order, by name. */
  readonly #terminals: readonly string[];
  /** The cache as the boundaries are applied to it, one per firing. */
  readonly #cache: Record<string, unknown>;
  #ran = 0;
  readonly #outputs: unknown[] = [];
  readonly #produced: Uint8Array;
  readonly #failures: FiringFailure[] = [];
  readonly #startedAt: Float64Array;
  readonly #durations: Float64Array;
  /** The first firing's node durations (NaN for a node that did not run); null unless asked for. */
  readonly #nodeDurations: Float64Array | null;
  /** The first firing's run options (the others run untimed). */
  readonly #firstOptions: RunOptions;
  #began = 0;
  /** True while `run` starts a firing: its end returns there, not into the next firing. */
  #starting = false;
  #resolve: ((result: FiringsResult) => void) | null = null;
  /** Resolves once a batch that went asynchronous has ended. */
  readonly settled: Promise<FiringsResult>;

  constructor(ctx: RunContext, request: FiringsRequest['firings'], threadId: number) {
    this.#ctx = ctx;
    this.#request = request;
    this.#threadId = threadId;
    this.#terminals = ctx.plan.terminals;
    this.#cache = { ...request.cache };
    const n = request.values.length;
    this.#produced = new Uint8Array(n * this.#terminals.length);
    this.#startedAt = new Float64Array(n);
    this.#durations = new Float64Array(n);
    const nodeDurations = request.timeNodes === true ? new Float64Array(ctx.plan.nodes.length).fill(Number.NaN) : null;
    this.#nodeDurations = nodeDurations;
    // Only the first firing's nodes are timed, when asked: an observer makes the run time them.
    this.#firstOptions =
      nodeDurations === null
        ? kUntimed
        : {
            timed: false,
            observer: {
              traceparent: undefined,
              unit: (_plan, members, durations) => {
                for (let m = 0; m < members.length; m++) nodeDurations[members[m]!] = durations[m]!;
              },
            },
          };
    this.settled = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Runs firings from `k` on; true when the batch ended synchronously. */
  run(k: number): boolean {
    const { values, source, sources, control, slot } = this.#request;
    for (; k < values.length; k++) {
      if (Atomics.load(control, 0) !== 0) break;
      Atomics.store(control, 1, k);
      setOwn(this.#cache, sources[source[k]!]!, values[k]);
      this.#startedAt[k] = sharedNow();
      this.#began = performance.now();
      this.#starting = true;
      const run = new GraphRun(this.#ctx, { ...this.#cache }, k === 0 ? this.#firstOptions : kUntimed, this.#ended);
      startingRun = run;
      startingSlot = slot;
      run.start();
      startingRun = null;
      this.#starting = false;
      // A node awaits: the firing's end continues the batch.
      if (this.#ran === k) {
        slotOf.set(run, slot);
        return false;
      }
    }
    return true;
  }

  result(): FiringsResult {
    const sink = new ValueSink(moves.used ? moves.marked : null);
    // Every output is already a copy made by the rules; only what clone loses is noted.
    inspectParts(this.#outputs, 'value', sink);
    inspectValue(this.#failures, 'value', sink);
    const reply: { -readonly [K in keyof FiringsReply]: FiringsReply[K] } = {
      ran: this.#ran,
      outputs: this.#outputs,
      produced: this.#produced.subarray(0, this.#ran * this.#terminals.length),
      failures: this.#failures,
      startedAt: this.#startedAt.subarray(0, this.#ran),
      durations: this.#durations.subarray(0, this.#ran),
      thread: this.#threadId,
    };
    if (this.#nodeDurations !== null && this.#ran > 0) reply.nodeDurations = this.#nodeDurations;
    const extras = sink.extras();
    if (extras !== undefined) reply.extras = extras;
    const transfers = sink.transfers !== null && sink.transfers.size > 0 ? [...sink.transfers] : null;
    return { reply, transfers };
  }

  readonly #ended = (error: unknown, result: GraphResult | undefined): void => {
    const k = this.#ran++;
    this.#durations[k] = performance.now() - this.#began;
    const terminals = this.#terminals;
    if (result !== undefined) {
      const outputs = result.outputs;
      for (let j = 0; j < terminals.length; j++) {
        const name = terminals[j]!;
        if (!Object.hasOwn(outputs, name)) continue;
        this.#outputs[k * terminals.length + j] = outputs[name];
        this.#produced[k * terminals.length + j] = 1;
      }
    } else {
      const failure = error as GraphExecutionError;
      this.#failures.push({ firing: k, node: failure.node, cause: toErrorEnvelope(failure.cause) });
    }
    if (this.#starting) return;
    if (this.run(this.#ran)) this.#resolve!(this.result());
  };
}
