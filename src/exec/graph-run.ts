/**
 * One traversal of a graph: Kahn's algorithm run live over the plan. A unit is handed to the
 * executor as soon as every in-edge of its head has resolved, so a slow node holds back only its
 * own descendants.
 *
 * Edge rules (contract 3): an in-edge is live when its upstream ran and, for a routing edge,
 * chose that edge's variant. A node whose in-edges have all resolved runs if at least one is
 * live and is skipped otherwise; a skipped node resolves its own out-edges as dead. Dead edges
 * pass `undefined` in their argument position. The first failure rejects the run at once; units
 * not yet started are never started.
 */
import { performance } from 'node:perf_hooks';
import { GraphExecutionError, RoutingError } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';
import type { CostModel } from './cost-model.js';
import type { ExecutingRun, Executor, ReadyUnit } from './executor.js';
import type { RunObserver } from './run-observer.js';

/** What one node did in a traced run. */
export interface NodeTrace {
  readonly node: string;
  readonly status: 'ran' | 'skipped';
  /** How long the node's function took, in ms (absent when skipped). */
  readonly durationMs?: number;
  /** The thread that ran it (the main thread's id on the inline executor). */
  readonly threadId?: number;
}

/**
 * The result of one graph traversal. `Out` is the outputs' type: on a typed graph, each terminal
 * with its function's awaited return type (see `ComputationGraphBuilder`).
 */
export interface GraphResult<Out extends object = Record<string, unknown>> {
  /** Each terminal that ran, by name, with its return value. */
  readonly outputs: Out;
  /** Wall time of the traversal in ms. */
  readonly durationMs: number;
  /** Per-node record in completion order, when `execute(..., { trace: true })` asked for it. */
  readonly trace?: readonly NodeTrace[];
}

/** Options of one execution. */
export interface ExecuteOptions {
  /** Record what each node did (status, duration, thread) in `result.trace`. */
  readonly trace?: boolean;
}

/** What a runtime adds to a run it starts: an observer (metrics, tracing). */
export interface RunOptions extends ExecuteOptions {
  readonly observer?: RunObserver;
}

/** What a run needs from its graph. */
export interface RunContext {
  readonly plan: GraphPlan;
  readonly costs: CostModel;
  readonly executor: Executor;
  /** True for a graph without a reactor: roots then receive the `execute()` argument. */
  readonly triggerless: boolean;
}

/** Called once when a run ends: with the error that failed it, or with its result. */
export type RunCallback = (error: unknown, result: GraphResult | undefined) => void;

let sequence = 0;

/**
 * A run reports its end through a callback rather than a promise of its own, so a caller that
 * can continue synchronously (the reactor, for inline graphs of synchronous nodes) does not pay
 * a microtask per firing; `ComputationGraph.execute` wraps it in a promise.
 */
export class GraphRun implements ExecutingRun {
  readonly seq = sequence++;
  done = false;
  readonly traceparent: string | undefined;
  readonly #ctx: RunContext;
  readonly #input: unknown;
  readonly #pending: Int32Array;
  readonly #live: Uint8Array;
  readonly #args: Array<unknown[] | undefined>;
  readonly #outputs: Record<string, unknown> = {};
  readonly #trace: NodeTrace[] | null;
  readonly #started = performance.now();
  readonly #observer: RunObserver | undefined;
  #settled = 0;
  #cancelCell: Int32Array | null = null;
  readonly #complete: RunCallback;

  constructor(ctx: RunContext, input: unknown, options: RunOptions | undefined, complete: RunCallback) {
    this.#ctx = ctx;
    this.#input = input;
    const n = ctx.plan.nodes.length;
    this.#pending = ctx.plan.inDegree.slice();
    this.#live = new Uint8Array(n);
    this.#args = new Array(n);
    this.#trace = options?.trace ? [] : null;
    this.#observer = options?.observer;
    this.traceparent = this.#observer?.traceparent;
    this.#complete = complete;
  }

  /** Dispatches the roots. */
  start(): void {
    for (const root of this.#ctx.plan.roots) {
      if (this.done) break;
      this.#ready(root);
    }
  }

  unitDone(ready: ReadyUnit, value: unknown, durations: readonly number[], threadId: number): void {
    if (this.done) return;
    const { plan, costs } = this.#ctx;
    const members = ready.unit.nodes;
    for (let k = 0; k < members.length; k++) {
      costs.observe(members[k]!, durations[k]!);
      this.#trace?.push({ node: plan.nodes[members[k]!]!.name, status: 'ran', durationMs: durations[k]!, threadId });
    }
    this.#observer?.unit(plan, members, durations, threadId);
    const tail = plan.nodes[ready.unit.tail]!;
    let variant: string | null = null;
    if (tail.variants !== null) {
      const routed = routeOf(tail.name, tail.variants, value);
      if (routed instanceof RoutingError) return this.unitFailed(ready, members.length - 1, routed);
      variant = routed;
      value = (value as [string, unknown])[1];
    }
    this.#settled += members.length;
    if (tail.terminal) this.#outputs[tail.name] = value;
    this.#resolveOutEdges(tail.index, value, variant, true);
    if (this.#settled === plan.nodes.length) this.#finish();
  }

  cancelCell(): Int32Array {
    return (this.#cancelCell ??= new Int32Array(new SharedArrayBuffer(4)));
  }

  unitFailed(ready: ReadyUnit, offset: number, cause: unknown): void {
    if (this.done) return;
    this.done = true;
    if (this.#cancelCell !== null) Atomics.store(this.#cancelCell, 0, 1);
    const graph = this.#ctx.plan.graph;
    const node = this.#ctx.plan.nodes[ready.unit.nodes[offset]!]!.name;
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : `threw ${String(cause)}`;
    this.#complete(
      new GraphExecutionError(graph, node, `graph '${graph}': node '${node}' failed: ${what}`, { cause }),
      undefined,
    );
  }

  #ready(index: number): void {
    const { plan, executor, triggerless } = this.#ctx;
    const node = plan.nodes[index]!;
    let args: unknown[];
    if (node.inEdges.length === 0 && triggerless) {
      args = [this.#input];
    } else {
      args = this.#args[index] ?? new Array(node.inputs.length + node.inEdges.length);
      const cache = this.#input as Record<string, unknown> | null | undefined;
      for (let k = 0; k < node.inputs.length; k++) args[k] = cache?.[node.inputs[k]!];
    }
    executor.dispatch({ run: this, unit: plan.units[node.unit]!, args });
  }

  #skip(index: number): void {
    this.#settled++;
    this.#trace?.push({ node: this.#ctx.plan.nodes[index]!.name, status: 'skipped' });
    this.#resolveOutEdges(index, undefined, null, false);
  }

  #resolveOutEdges(from: number, value: unknown, variant: string | null, ran: boolean): void {
    const nodes = this.#ctx.plan.nodes;
    for (const edge of nodes[from]!.outEdges) {
      const target = nodes[edge.to]!;
      if (ran && (edge.variant === null || edge.variant === variant)) {
        const args = (this.#args[edge.to] ??= new Array(target.inputs.length + target.inEdges.length));
        args[target.inputs.length + edge.slot] = value;
        this.#live[edge.to] = 1;
      }
      if (--this.#pending[edge.to]! === 0) {
        if (this.#live[edge.to] === 1) this.#ready(edge.to);
        else this.#skip(edge.to);
        if (this.done) return;
      }
    }
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    this.#complete(
      undefined,
      this.#trace === null
        ? { outputs: this.#outputs, durationMs: performance.now() - this.#started }
        : { outputs: this.#outputs, durationMs: performance.now() - this.#started, trace: this.#trace },
    );
  }
}

/** The variant a routing node chose, or the RoutingError describing what it returned instead. */
function routeOf(node: string, variants: readonly string[], value: unknown): string | RoutingError {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string') {
    const shape = Array.isArray(value) ? `an array of length ${value.length}` : value === null ? 'null' : typeof value;
    return new RoutingError(node, variants, shape, `must return [variant, value], got ${shape}`);
  }
  if (!variants.includes(value[0])) {
    return new RoutingError(node, variants, value[0], `returned unknown variant '${value[0]}'`);
  }
  return value[0];
}
