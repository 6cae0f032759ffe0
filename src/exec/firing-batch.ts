/**
 * The main thread's side of a batch of firings: several queued boundaries of a sequential
 * reactor sent to one worker in one message, run there one after another as whole traversals
 * (`firing-runner.ts`), and answered in one message. It is one unit in the pool's queue, with one
 * slot in the unit table, always in a task of its own.
 *
 * What each firing becomes is told to a {@link FiringsListener}, in order: its outcome, then,
 * once, how many ran. Firings that did not run (stopped by the reactor, or never started because
 * their worker went away first) are the reactor's to fire again. When the worker dies during the
 * batch (contract 5): the firing in progress fails with the pool's verdict (`WorkerExitError`,
 * naming the culprit); firings that had already ended there fail too, as units that had started
 * on that worker, since their outcomes went with it; firings after it had not started.
 */
import { ExecutorClosedError, WorkerExitError, type Culprit } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';
import { restoreValue, type ValueExtras } from '../model/values.js';
import { fromErrorEnvelope } from './error-envelope.js';
import { nextRunSeq, nodeFailure } from './graph-run.js';
import type { PoolUnit } from './node-pool.js';
import type { FiringOutcome, FiringsReply, FiringsRequest } from './protocol.js';

/** What a reactor hears of a batch of its firings. */
export interface FiringsListener {
  /**
   * Firing `k` ended: failed with `error` (a GraphExecutionError), or gave `outputs`. `firedAt`
   * (epoch ms) and `durationMs` are measured where it ran.
   */
  fired(
    k: number,
    error: unknown,
    outputs: Record<string, unknown> | undefined,
    firedAt: number,
    durationMs: number,
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
  readonly alone = true;
  readonly cost: number;
  readonly timeoutMs = undefined;
  readonly cancelled = false;
  redispatched = 0;
  readonly #graph: FiringsGraph;
  readonly #inputs: readonly unknown[];
  readonly #extras: ReadonlyArray<ValueExtras | undefined>;
  readonly #control: Int32Array;
  readonly #listener: FiringsListener;

  constructor(
    graph: FiringsGraph,
    inputs: readonly unknown[],
    extras: ReadonlyArray<ValueExtras | undefined>,
    control: Int32Array,
    cost: number,
    listener: FiringsListener,
  ) {
    this.#graph = graph;
    this.#inputs = inputs;
    this.#extras = extras;
    this.#control = control;
    this.#listener = listener;
    this.cost = cost;
    this.light = cost < 1;
    Atomics.store(control, 1, -1);
  }

  request(slot: number): FiringsRequest {
    // No firing is in progress until the worker says so.
    Atomics.store(this.#control, 1, -1);
    return {
      firings: {
        module: this.#graph.href,
        plan: this.#graph.planText,
        inputs: this.#inputs,
        extras: this.#extras,
        slot,
        control: this.#control,
      },
    };
  }

  /** The node at `offset` (its index in the plan: what the worker notes as running). */
  culprit(offset: number): Culprit {
    const { plan } = this.#graph;
    return { graph: plan.graph, node: plan.nodes[offset]?.name ?? plan.nodes[0]!.name };
  }

  settle(reply: FiringsReply): void {
    const { outcomes } = reply;
    for (let k = 0; k < outcomes.length; k++) {
      const outcome = outcomes[k]!;
      this.#graph.observeFiring(outcome.durationMs);
      this.#tell(k, outcome);
    }
    this.#listener.ended(outcomes.length);
  }

  fail(offset: number, cause: unknown): void {
    const graph = this.#graph.plan.graph;
    const node = this.culprit(offset).node;
    // The firing in progress when its worker went (none yet: the first, which never started).
    const k = Math.max(0, Atomics.load(this.#control, 1));
    const now = Date.now();
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
      this.#listener.fired(done, nodeFailure(graph, node, lost), undefined, now, 0);
    }
    this.#listener.fired(k, nodeFailure(graph, node, cause), undefined, now, 0);
    this.#listener.ended(k + 1);
  }

  #tell(k: number, outcome: FiringOutcome): void {
    if (outcome.extras !== undefined) restoreValue(outcome.extras);
    const firedAt = Math.round(outcome.startedAt);
    if (outcome.ok) {
      this.#listener.fired(k, undefined, outcome.outputs, firedAt, outcome.durationMs);
    } else {
      const error = nodeFailure(this.#graph.plan.graph, outcome.node, fromErrorEnvelope(outcome.cause));
      this.#listener.fired(k, error, undefined, firedAt, outcome.durationMs);
    }
  }
}
