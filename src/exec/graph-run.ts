/**
 * One traversal of a graph: Kahn's algorithm run live over the plan. A unit is handed to the
 * executor as soon as every in-edge of its head has resolved, so a slow node holds back only its
 * own descendants.
 *
 * Edge rules: an in-edge is live when its upstream ran and, for a routing edge,
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

/** Options of one run as the engine starts it: what a runtime adds (an observer: metrics, tracing). */
export interface RunOptions extends ExecuteOptions {
  readonly observer?: RunObserver;
  /**
   * Measure the run's wall time (`result.durationMs`). A reactor's firing times itself when
   * someone reads its record, so its runs skip the clock; their `durationMs` is 0.
   */
  readonly timed?: boolean;
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

/** The submission order of a new run (or batch of firings): older work is served first. */
export function nextRunSeq(): number {
  return sequence++;
}

/** The error that fails a run of `graph` because node `node` failed with `cause`. */
export function nodeFailure(graph: string, node: string, cause: unknown): GraphExecutionError {
  const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : `threw ${String(cause)}`;
  return new GraphExecutionError(graph, node, `graph '${graph}': node '${node}' failed: ${what}`, { cause });
}

/**
 * A run reports its end through a callback rather than a promise of its own, so a caller that
 * can continue synchronously (the reactor, for inline graphs of synchronous nodes) does not pay
 * a microtask per firing; `ComputationGraph.execute` wraps it in a promise.
 *
 * Per-run state is allocated only when the walk needs it: a graph that is one dispatch unit (a
 * single node, or a chain fused into one) never has an edge to resolve, so its run holds no
 * arrays at all; other runs use plain arrays, cheaper to make than typed ones at this size.
 */
export class GraphRun implements ExecutingRun {
  readonly seq = nextRunSeq();
  done = false;
  readonly traceparent: string | undefined;
  readonly traced: boolean;
  readonly #ctx: RunContext;
  readonly #input: unknown;
  /** Per node: in-edges not yet resolved; null until the first edge resolves. */
  #pending: number[] | null = null;
  /** Per node: 1 once an in-edge is live. */
  #live: number[] | null = null;
  /** Per node: its arguments as they are gathered. */
  #args: Array<unknown[] | undefined> | null = null;
  readonly #outputs: Record<string, unknown> = {};
  readonly #trace: NodeTrace[] | null;
  /** When the run started (performance.now()), or -1 for an untimed run. */
  readonly #started: number;
  readonly #observer: RunObserver | undefined;
  #settled = 0;
  #cancelCell: Int32Array | null = null;
  readonly #complete: RunCallback;

  constructor(ctx: RunContext, input: unknown, options: RunOptions | undefined, complete: RunCallback) {
    this.#ctx = ctx;
    this.#input = input;
    this.#observer = options?.observer;
    this.traceparent = this.#observer?.traceparent;
    // An observer records each node's duration: the nodes must be timed for it, as for a trace.
    this.traced = options?.trace === true || this.#observer !== undefined;
    this.#trace = options?.trace === true ? [] : null;
    this.#started = options?.timed === false ? -1 : performance.now();
    this.#complete = complete;
  }

  /** Dispatches the roots. */
  start(): void {
    const roots = this.#ctx.plan.roots;
    for (let k = 0; k < roots.length; k++) {
      if (this.done) break;
      this.#ready(roots[k]!);
    }
  }

  unitDone(ready: ReadyUnit, value: unknown, durations: readonly number[], threadId: number): void {
    if (this.done) return;
    const { plan, costs } = this.#ctx;
    const members = ready.unit.nodes;
    for (let k = 0; k < durations.length; k++) {
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
    if (tail.outEdges.length > 0) this.#resolveOutEdges(tail.index, value, variant, true);
    if (this.#settled === plan.nodes.length) this.#finish();
  }

  cancelCell(): Int32Array {
    return (this.#cancelCell ??= new Int32Array(new SharedArrayBuffer(4)));
  }

  unitFailed(ready: ReadyUnit, offset: number, cause: unknown): void {
    if (this.done) return;
    this.done = true;
    if (this.#cancelCell !== null) Atomics.store(this.#cancelCell, 0, 1);
    const { plan } = this.#ctx;
    this.#complete(nodeFailure(plan.graph, plan.nodes[ready.unit.nodes[offset]!]!.name, cause), undefined);
  }

  #ready(index: number): void {
    const { plan, executor, triggerless } = this.#ctx;
    const node = plan.nodes[index]!;
    let args: unknown[];
    if (node.inEdges.length === 0 && triggerless) {
      args = [this.#input];
    } else {
      const inputs = node.inputs;
      args = this.#args?.[index] ?? new Array(inputs.length + node.inEdges.length);
      const cache = this.#input as Record<string, unknown> | null | undefined;
      for (let k = 0; k < inputs.length; k++) args[k] = cache?.[inputs[k]!];
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
    if (this.#pending === null) this.#walkState();
    const pending = this.#pending!;
    const live = this.#live!;
    const allArgs = this.#args!;
    for (const edge of nodes[from]!.outEdges) {
      const target = nodes[edge.to]!;
      if (ran && (edge.variant === null || edge.variant === variant)) {
        const args = (allArgs[edge.to] ??= new Array(target.inputs.length + target.inEdges.length));
        args[target.inputs.length + edge.slot] = value;
        live[edge.to] = 1;
      }
      if (--pending[edge.to]! === 0) {
        if (live[edge.to] === 1) this.#ready(edge.to);
        else this.#skip(edge.to);
        if (this.done) return;
      }
    }
  }

  /** The walk's per-node state, made when the first edge resolves. */
  #walkState(): void {
    const inDegree = this.#ctx.plan.inDegree;
    const n = inDegree.length;
    const pending = new Array<number>(n);
    const live = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      pending[i] = inDegree[i]!;
      live[i] = 0;
    }
    this.#pending = pending;
    this.#live = live;
    this.#args = new Array(n);
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    const durationMs = this.#started < 0 ? 0 : performance.now() - this.#started;
    this.#complete(
      undefined,
      this.#trace === null
        ? { outputs: this.#outputs, durationMs }
        : { outputs: this.#outputs, durationMs, trace: this.#trace },
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
