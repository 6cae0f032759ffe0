/**
 * The main thread's side of a batch of firings: several queued boundaries of a sequential
 * reactor sent to one worker in one message, run there one after another as whole traversals
 * (`firing-runner.ts`), and answered in one message. It is one unit in the pool's queue, with one
 * slot in the unit table; batches of several reactors or keys may share one message (a
 * `FiringsGroupRequest`), never with node units.
 *
 * What each firing becomes is told to a {@link FiringsListener}, in order: its outcome, then,
 * once, how many ran. Firings that did not run (stopped by the reactor, or never started because
 * their worker went away first) are the reactor's to fire again. When the worker dies during the
 * batch: the firing in progress fails with the pool's verdict (`WorkerExitError`,
 * naming the culprit); firings that had already ended there fail too, as units that had started
 * on that worker, since their outcomes went with it; firings after it had not started.
 */
import { performance } from 'node:perf_hooks';
import { ExecutorClosedError, WorkerExitError, type Culprit } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';
import type { ValueExtras } from '../model/value-sink.js';
import { restoreValue } from '../model/values.js';
import { fromErrorEnvelope } from './error-envelope.js';
import { nextRunSeq, nodeFailure } from './graph-run.js';
import { UnitLot, type PoolUnit } from './pool-unit.js';
import type { FiringsReply, FiringsRequest } from './protocol.js';

/** A batch's inputs: the cache before its first firing, and one boundary per firing, in order. */
export interface FiringsInput {
  readonly cache: Record<string, unknown>;
  readonly sources: readonly string[];
  /** Per firing, the source of its boundary (an index into `sources`) and its value. */
  readonly source: Uint16Array;
  readonly values: readonly unknown[];
  /** What structured clone loses of `cache` and `values`. */
  readonly extras: ValueExtras | undefined;
}

/** What a reactor hears of a batch of its firings. */
export interface FiringsListener {
  /**
   * The batch was answered: `ran` firings ran. Told before any of them is reported, so a next
   * batch can go to the worker while this thread reports them.
   */
  answered(ran: number): void;
  /**
   * Firing `k` ended: failed with `error` (a GraphExecutionError), or succeeded (`outputs(k)`
   * then makes its outputs, for whoever reads them). `firedAt` (epoch ms) and `durationMs` are
   * measured where it ran.
   */
  fired(
    k: number,
    error: unknown,
    outputs: ((k: number) => Record<string, unknown>) | undefined,
    firedAt: number,
    durationMs: number,
    nodeDurations: Float64Array | undefined,
  ): void;
  /** The batch is over: firings from `ran` on did not run. */
  ended(ran: number): void;
}

/** What a batch needs from the graph it runs. */
export interface FiringsGraph {
  readonly plan: GraphPlan;
  /** The node module's URL. */
  readonly href: string;
  /** The plan as a worker reads it (`planToText`). */
  readonly planText: string;
  /** Learns from how long each firing took where it ran. */
  observeFiring(durationMs: number): void;
}

/** A batch of firings in the pool's queue. */
export class PooledFirings implements PoolUnit {
  readonly seq = nextRunSeq();
  readonly rank = 0;
  readonly light: boolean;
  readonly lot = UnitLot.Firings;
  readonly cost: number;
  readonly timeoutMs = undefined;
  readonly cancelled = false;
  redispatched = 0;
  readonly #graph: FiringsGraph;
  readonly #input: FiringsInput;
  readonly #control: Int32Array;
  readonly #listener: FiringsListener;
  readonly #timeNodes: boolean;

  constructor(
    graph: FiringsGraph,
    input: FiringsInput,
    control: Int32Array,
    cost: number,
    listener: FiringsListener,
    timeNodes: boolean,
  ) {
    this.#graph = graph;
    this.#timeNodes = timeNodes;
    this.#input = input;
    this.#control = control;
    this.#listener = listener;
    this.cost = cost;
    this.light = cost < 1;
    Atomics.store(control, 1, -1);
  }

  request(slot: number): FiringsRequest {
    // No firing is in progress until the worker says so.
    Atomics.store(this.#control, 1, -1);
    const { cache, sources, source, values, extras } = this.#input;
    const firings = {
      module: this.#graph.href,
      plan: this.#graph.planText,
      cache,
      sources,
      source,
      values,
      slot,
      timeNodes: this.#timeNodes,
    };
    return {
      firings:
        extras === undefined ? { ...firings, control: this.#control } : { ...firings, extras, control: this.#control },
    };
  }

  /** The node at `offset` (its index in the plan: what the worker notes as running). */
  culprit(offset: number): Culprit {
    const { plan } = this.#graph;
    return { graph: plan.graph, node: plan.nodes[offset]?.name ?? plan.nodes[0]!.name };
  }

  /** Tells the listener the batch was answered; the firings are reported once the pool has started what is ready. */
  settle(reply: FiringsReply): () => void {
    if (reply.extras !== undefined) restoreValue(reply.extras);
    this.#listener.answered(reply.ran);
    return () => this.#report(reply);
  }

  #report(reply: FiringsReply): void {
    const { ran, outputs, produced, failures, startedAt, durations, nodeDurations } = reply;
    const { graph, terminals } = this.#graph.plan;
    const width = terminals.length;
    const read = (k: number): Record<string, unknown> => {
      const result: Record<string, unknown> = {};
      for (let j = 0; j < width; j++) if (produced[k * width + j] === 1) result[terminals[j]!] = outputs[k * width + j];
      return result;
    };
    let failed = 0;
    for (let k = 0; k < ran; k++) {
      const durationMs = durations[k]!;
      const firedAt = Math.floor(startedAt[k]!);
      const times = k === 0 ? nodeDurations : undefined;
      this.#graph.observeFiring(durationMs);
      const failure = failures[failed];
      if (failure !== undefined && failure.firing === k) {
        failed++;
        const error = nodeFailure(graph, failure.node, fromErrorEnvelope(failure.cause));
        this.#listener.fired(k, error, undefined, firedAt, durationMs, times);
        continue;
      }
      this.#listener.fired(k, undefined, read, firedAt, durationMs, times);
    }
    this.#listener.ended(ran);
  }

  fail(offset: number, cause: unknown): void {
    const graph = this.#graph.plan.graph;
    const node = this.culprit(offset).node;
    // The firing in progress when its worker went (none yet: the first, which never started).
    const k = Math.max(0, Atomics.load(this.#control, 1));
    const now = Math.floor(performance.timeOrigin + performance.now());
    const culprit = cause instanceof WorkerExitError ? cause.culprit : null;
    for (let done = 0; done < k; done++) {
      const lost =
        cause instanceof ExecutorClosedError
          ? cause
          : new WorkerExitError(
              culprit?.node ?? node,
              'the firing had ended there, but its outcome went with the worker',
              {
                culprit,
                cause,
              },
            );
      this.#listener.fired(done, nodeFailure(graph, node, lost), undefined, now, 0, undefined);
    }
    this.#listener.fired(k, nodeFailure(graph, node, cause), undefined, now, 0, undefined);
    this.#listener.ended(k + 1);
  }
}
