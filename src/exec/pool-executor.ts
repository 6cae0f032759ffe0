/**
 * Runs one graph's units on a {@link NodePool}: turns a ready unit into a worker request (its
 * arguments checked, with what structured clone would lose of them), and the worker's reply (or
 * the pool's verdict on a dead worker) back into the run's callbacks with errors that name the
 * node.
 */
import { ExecutorClosedError, type Culprit } from '../model/errors.js';
import { planToText, type GraphPlan } from '../model/plan.js';
import { isPrimitive } from '../model/own-properties.js';
import { ValueFault } from '../model/value-fault.js';
import { ValueSink } from '../model/value-sink.js';
import { inputRoot, inspectParts, inspectValue, restoreValue } from '../model/values.js';
import { smoothed, type CostModel } from './cost-model.js';
import { fromErrorEnvelope } from './error-envelope.js';
import { kFiringBudgetMs } from './dispatch-gate.js';
import type { Executor, ReadyUnit } from './executor.js';
import { PooledFirings, type FiringsGraph, type FiringsListener } from './firing-batch.js';
import type { NodePool } from './node-pool.js';
import { UnitLot, type PoolUnit } from './pool-unit.js';
import './platform.js';
import type { UnitReply, UnitRequest } from './protocol.js';
import type { ValueExtras } from '../model/value-sink.js';

/** Most firings one batch of firings carries. */
const kMaxFirings = 256;

/** Runs one graph's units, and batches of its firings, on a pool it does not own. */
export class PoolExecutor implements Executor, FiringsGraph {
  readonly kind = 'pool' as const;
  readonly pool: NodePool;
  /** The node module's URL. */
  readonly href: string;
  readonly #plan: GraphPlan;
  readonly #costs: CostModel;
  /** What this graph's units need to make their requests and read their replies. */
  readonly #units: UnitGraph;
  /** Per node, the path root of each cache input (`inputs.alpha`), for refusals. */
  readonly #inputRoots: ReadonlyArray<readonly string[]>;
  /** Whether two units of one run can ever be ready at once (ranks and cancel cells matter). */
  readonly #parallel: boolean;
  /** A node has a time limit: limits are kept per unit, so firings of this graph are not batched. */
  readonly #timeLimited: boolean;
  #planText: string | null = null;
  /** Moving average of a whole firing's cost where a batch ran it (ms); NaN before any batch. */
  #firingCost = Number.NaN;
  #closed = false;

  /** Runs `plan`'s units from the node module at `href` on `pool` (which it does not own). */
  constructor(plan: GraphPlan, costs: CostModel, pool: NodePool, href: string) {
    this.#plan = plan;
    this.#costs = costs;
    this.pool = pool;
    this.href = href;
    this.#units = { plan, href, names: plan.units.map((u) => u.nodes.map((i) => plan.nodes[i]!.name)) };
    this.#inputRoots = plan.nodes.map((n) => n.inputs.map(inputRoot));
    this.#parallel = plan.maxWidth > 1;
    this.#timeLimited = plan.nodes.some((n) => n.timeoutMs !== undefined);
  }

  get plan(): GraphPlan {
    return this.#plan;
  }

  get planText(): string {
    return (this.#planText ??= planToText(this.#plan));
  }

  /**
   * How many queued firings one batch may carry now (1: fire them one by one, their units
   * dispatched as usual). Batches need the graph measured: a whole firing estimated under a
   * millisecond, no time limit; the estimate then bounds a batch by {@link kFiringBudgetMs}.
   */
  firingLimit(): number {
    if (this.#closed || this.#timeLimited) return 1;
    const cost = this.#firingEstimate();
    if (!(cost < 1)) {
      // Firings one by one keep the units' estimates fresh: the next look starts from those.
      this.#firingCost = Number.NaN;
      return 1;
    }
    return Math.max(1, Math.min(kMaxFirings, Math.floor(kFiringBudgetMs / Math.max(cost, 0.001))));
  }

  observeFiring(durationMs: number): void {
    this.#firingCost = smoothed(this.#firingCost, durationMs);
  }

  /**
   * Sends firings to one worker as one batch (see `firing-batch.ts`): `cache` is the cache before
   * the first, and each boundary, applied to it in turn, makes one firing's snapshot. False when
   * they cannot go (the executor closed): fire them one by one.
   */
  runFirings(
    cache: Record<string, unknown>,
    boundaries: ReadonlyArray<{ readonly source: string; readonly value: unknown }>,
    control: Int32Array,
    listener: FiringsListener,
    timeNodes: boolean,
  ): boolean {
    if (this.#closed) return false;
    const sources: string[] = [];
    const source = new Uint16Array(boundaries.length);
    const values = new Array<unknown>(boundaries.length);
    for (let k = 0; k < boundaries.length; k++) {
      const boundary = boundaries[k]!;
      let i = sources.indexOf(boundary.source);
      if (i < 0) i = sources.push(boundary.source) - 1;
      source[k] = i;
      values[k] = boundary.value;
    }
    const sink = new ValueSink();
    // Cache values were checked when they were accepted; this notes what clone loses of them.
    if (inspectValue(cache, 'inputs', sink) !== null || inspectParts(values, 'inputs', sink) !== null) return false;
    const input = { cache, sources, source, values, extras: sink.extras() };
    const cost = this.#firingEstimate() * boundaries.length;
    this.pool.enqueue(new PooledFirings(this, input, control, cost, listener, timeNodes));
    return true;
  }

  /** A whole firing's estimated cost: measured by batches, or the sum of its units' estimates. */
  #firingEstimate(): number {
    if (!Number.isNaN(this.#firingCost)) return this.#firingCost;
    let cost = 0;
    for (const unit of this.#plan.units) cost += this.#costs.estimate(unit.index);
    return cost;
  }

  dispatch(ready: ReadyUnit): void {
    if (this.#closed) {
      ready.run.unitFailed(ready, 0, new ExecutorClosedError(this.#plan.graph));
      return;
    }
    const extras = this.#checkArguments(ready);
    if (extras === null) return;
    const unit = ready.unit.index;
    // A unit carries the run's cancel cell only when another unit of the same run can be running
    // beside it (and fail), so it starts nothing once the run has failed, even queued in a worker
    // or behind that unit in a batch; in a graph that is one path nothing can.
    const cancel = this.#parallel ? ready.run.cancelCell() : undefined;
    this.pool.enqueue(
      new PooledUnit(
        ready,
        this.#units,
        extras,
        cancel,
        this.#parallel ? this.#costs.rank(unit) : 0,
        this.#costs.isLight(unit),
        this.#costs.estimate(unit),
      ),
    );
  }

  /** Later dispatches fail with ExecutorClosedError; the pool is left to its owner. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /**
   * Checks the head's arguments as they will cross to a worker and notes what clone loses of
   * them. Null when one is refused (a cache input that cannot be cloned): the unit then failed.
   */
  #checkArguments(ready: ReadyUnit): ValueExtras | undefined | null {
    const args = ready.args;
    let sink: ValueSink | null = null;
    const head = this.#plan.nodes[ready.unit.head]!;
    const roots = this.#inputRoots[head.index]!;
    for (let k = 0; k < args.length; k++) {
      const arg = args[k];
      if (isPrimitive(arg)) continue;
      // A root without inputs or in-edges is given only the `execute()` context (trigger-less graphs).
      const root = k < roots.length ? roots[k]! : head.inEdges.length === 0 ? 'inputs' : 'value';
      const fault = inspectValue(arg, root, (sink ??= new ValueSink()));
      if (fault !== null) {
        ready.run.unitFailed(ready, 0, fault.toError({ node: head.name, graph: this.#plan.graph, argument: true }));
        return null;
      }
    }
    return sink?.extras();
  }
}

/** What the units of one graph share. */
interface UnitGraph {
  readonly plan: GraphPlan;
  /** The node module's URL. */
  readonly href: string;
  /** Export names per unit, head first; shared by every request of that unit. */
  readonly names: ReadonlyArray<readonly string[]>;
}

/** A ready unit of a pool graph in the pool's queue: its request, and its reply turned into the run's callbacks. */
class PooledUnit implements PoolUnit {
  readonly #ready: ReadyUnit;
  readonly #graph: UnitGraph;
  readonly #extras: ValueExtras | undefined;
  readonly #cancel: Int32Array | undefined;
  readonly rank: number;
  readonly light: boolean;
  readonly lot = UnitLot.Nodes;
  readonly cost: number;
  redispatched = 0;

  constructor(
    ready: ReadyUnit,
    graph: UnitGraph,
    extras: ValueExtras | undefined,
    cancel: Int32Array | undefined,
    rank: number,
    light: boolean,
    cost: number,
  ) {
    this.#ready = ready;
    this.#graph = graph;
    this.#extras = extras;
    this.#cancel = cancel;
    this.rank = rank;
    this.light = light;
    this.cost = cost;
  }

  get seq(): number {
    return this.#ready.run.seq;
  }

  get cancelled(): boolean {
    return this.#ready.run.done;
  }

  get timeoutMs(): number | undefined {
    return this.#graph.plan.nodes[this.#ready.unit.head]!.timeoutMs;
  }

  request(slot: number, token?: number): UnitRequest {
    const ready = this.#ready;
    const request: { -readonly [K in keyof UnitRequest]: UnitRequest[K] } = {
      module: this.#graph.href,
      nodes: this.#graph.names[ready.unit.index]!,
      args: ready.args,
      slot,
    };
    if (this.#extras !== undefined) request.extras = this.#extras;
    if (this.#cancel !== undefined) request.cancel = this.#cancel;
    const traceparent = ready.run.traceparent;
    if (traceparent !== undefined) request.traceparent = traceparent;
    if (token !== undefined) request.token = token;
    return request;
  }

  culprit(offset: number): Culprit {
    const { plan } = this.#graph;
    return { graph: plan.graph, node: plan.nodes[this.#ready.unit.nodes[offset]!]!.name };
  }

  settle(reply: UnitReply): void {
    const ready = this.#ready;
    if (reply.ok) {
      if (reply.extras !== undefined) restoreValue(reply.extras);
      ready.run.unitDone(ready, reply.value, reply.durations, reply.thread);
    } else if ('error' in reply) {
      if (reply.extras !== undefined) restoreValue(reply.extras);
      ready.run.unitFailed(ready, reply.at, fromErrorEnvelope(reply.error));
    } else if ('refused' in reply) {
      const { path, valueType, detail, cause } = reply.refused;
      const fault = new ValueFault(path, valueType, detail, cause === undefined ? undefined : fromErrorEnvelope(cause));
      ready.run.unitFailed(ready, reply.at, fault.toError(this.culprit(reply.at)));
    }
    // Otherwise the run had already failed and the worker stopped the chain: nothing to report.
  }

  fail(offset: number, cause: unknown): void {
    this.#ready.run.unitFailed(this.#ready, offset, cause);
  }
}
