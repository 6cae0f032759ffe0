/**
 * Runs units on the calling thread. Synchronous nodes complete inside `dispatch`, and units that
 * become ready meanwhile are queued and drained in a loop rather than by recursion, so a long
 * chain neither grows the stack nor pays a promise per node. Async nodes continue when they
 * settle; several of them can be in flight at once.
 *
 * Values follow the rules of `model/values.ts` exactly as on the pool, copying only what another
 * reader could see: a node's result is copied once when it returns (that checks it, names the
 * node when it is refused, and cuts it off from the node that may keep it); that copy goes as it
 * is to a single consumer or into `outputs`, and is copied again only per consumer of a fan-out.
 * Cache inputs and the `execute()` context are copied per node, since the cache and the caller
 * keep them. Primitives and deeply frozen data cost no copy.
 *
 * A `timeoutMs` bounds async nodes only: a synchronous node that never returns blocks the main
 * thread, and nothing on that thread can interrupt it. Use the pool executor for such nodes.
 */
import { threadId } from 'node:worker_threads';
import { ExecutorClosedError, NodeTimeoutError } from '../model/errors.js';
import type { GraphPlan, PlanNode } from '../model/plan.js';
import type { NodeFunction } from '../model/topology.js';
import { isPrimitive, setOwn } from '../model/own-properties.js';
import { fastCopyAll } from '../model/value-fast.js';
import { ValueFault } from '../model/value-fault.js';
import { copyValue, inputRoot, inspectValue } from '../model/values.js';
import type { ExecutingRun, Executor, ReadyUnit } from './executor.js';
import { moveRegistry } from './move.js';
import './platform.js';
import { runUnit, type UnitRunner } from './unit-loop.js';
import { runInTrace } from './run-observer.js';

const moves = moveRegistry();

/** Told which node is inside its synchronous part (a worker running whole traversals notes it for the pool). */
export interface NodeWatch {
  /** Node `node` (its index in the plan) of `run` is about to be called. */
  enter(run: ExecutingRun, node: number): void;
  /** Its synchronous part is over. */
  leave(run: ExecutingRun): void;
}

/** How an {@link InlineExecutor} runs its nodes. */
export interface InlineExecutorOptions {
  /** Told which node is inside its synchronous part. */
  readonly watch?: NodeWatch;
  /** Hand values over without copies (the nodes promise not to mutate them); results are still checked. */
  readonly shared?: boolean;
}

export class InlineExecutor implements Executor, UnitRunner<ReadyUnit, void> {
  readonly kind = 'inline' as const;
  readonly #plan: GraphPlan;
  /** Node functions by node index. */
  readonly #functions: readonly NodeFunction[];
  /** Per node, per in-edge slot: whether the upstream value has other consumers (a fan-out). */
  readonly #fanOut: ReadonlyArray<readonly boolean[]>;
  /** Per node, the path root of each cache input (`inputs.alpha`), for refusals. */
  readonly #inputRoots: ReadonlyArray<readonly string[]>;
  readonly #watch: NodeWatch | undefined;
  readonly #shared: boolean;
  readonly #queue: ReadyUnit[] = [];
  #head = 0;
  #draining = false;
  #closed = false;

  constructor(plan: GraphPlan, functions: ReadonlyMap<string, NodeFunction>, options: InlineExecutorOptions = {}) {
    this.#plan = plan;
    this.#watch = options.watch;
    this.#shared = options.shared === true;
    this.#functions = plan.nodes.map((n) => functions.get(n.name)!);
    this.#fanOut = plan.nodes.map((n) => n.inEdges.map((e) => plan.nodes[e.from]!.outEdges.length > 1));
    this.#inputRoots = plan.nodes.map((n) => n.inputs.map(inputRoot));
  }

  dispatch(ready: ReadyUnit): void {
    if (this.#closed) {
      ready.run.unitFailed(ready, 0, new ExecutorClosedError(this.#plan.graph));
      return;
    }
    if (this.#draining) {
      this.#queue.push(ready);
      return;
    }
    this.#draining = true;
    try {
      this.#run(ready);
      while (this.#head < this.#queue.length) this.#run(this.#queue[this.#head++]!);
    } finally {
      if (this.#queue.length > 0) this.#queue.length = 0;
      this.#head = 0;
      this.#draining = false;
    }
  }

  #run(ready: ReadyUnit): void {
    if (ready.run.done) return;
    // Shared values: arguments were checked where they came from (a push, a result, execute()).
    if (!this.#shared && !this.#copyArguments(ready)) return;
    const traceparent = ready.run.traceparent;
    if (traceparent === undefined) void runUnit(this, ready, ready.unit.nodes.length, ready.args, ready.run.traced);
    else
      runInTrace(traceparent, () => void runUnit(this, ready, ready.unit.nodes.length, ready.args, ready.run.traced));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /**
   * Gives the head its own copies of the arguments others keep: the cache inputs (copied
   * together, so two inputs holding one object still share it, as in one message to a worker),
   * the `execute()` context, fan-out values. False when one is refused (the unit failed).
   */
  #copyArguments(ready: ReadyUnit): boolean {
    const head = this.#plan.nodes[ready.unit.head]!;
    const args = ready.args;
    const inputs = head.inputs.length;
    // A root without inputs or in-edges is given only the `execute()` context (trigger-less graphs).
    if (inputs === 0 && head.inEdges.length === 0 && args.length === 1) {
      return this.#copyInto(ready, head, args, 0, 'inputs');
    }
    if (inputs === 1) {
      if (!this.#copyInto(ready, head, args, 0, this.#inputRoots[head.index]![0]!)) return false;
    } else if (inputs > 1 && hasObject(args, inputs) && !fastCopyAll(args, inputs)) {
      const held: Record<string, unknown> = {};
      for (let k = 0; k < inputs; k++) setOwn(held, head.inputs[k]!, args[k]);
      const copied = copyValue(held, 'inputs');
      if (copied instanceof ValueFault) return this.#refuseArgument(ready, head, copied);
      for (let k = 0; k < inputs; k++) args[k] = (copied as Record<string, unknown>)[head.inputs[k]!];
    }
    const fanOut = this.#fanOut[head.index]!;
    for (let slot = 0; slot < fanOut.length; slot++) {
      if (fanOut[slot] && !this.#copyInto(ready, head, args, inputs + slot, 'value')) return false;
    }
    return true;
  }

  #copyInto(ready: ReadyUnit, head: PlanNode, args: unknown[], k: number, root: string): boolean {
    const copied = copyValue(args[k], root);
    if (copied instanceof ValueFault) return this.#refuseArgument(ready, head, copied);
    args[k] = copied;
    return true;
  }

  #refuseArgument(ready: ReadyUnit, head: PlanNode, fault: ValueFault): false {
    ready.run.unitFailed(ready, 0, fault.toError({ node: head.name, graph: this.#plan.graph, argument: true }));
    return false;
  }

  // --- UnitRunner: how the shared unit loop runs nodes here ---------------------------------

  fn(ready: ReadyUnit, k: number): NodeFunction {
    return this.#functions[ready.unit.nodes[k]!]!;
  }

  enter(ready: ReadyUnit, k: number): boolean {
    if (k > 0 && ready.run.done) return false;
    this.#watch?.enter(ready.run, ready.unit.nodes[k]!);
    return true;
  }

  leave(ready: ReadyUnit): void {
    this.#watch?.leave(ready.run);
  }

  settle(ready: ReadyUnit, k: number, pending: PromiseLike<unknown>): PromiseLike<unknown> {
    const node = this.#plan.nodes[ready.unit.nodes[k]!]!;
    return node.timeoutMs === undefined ? pending : withTimeout(pending, node.name, node.timeoutMs);
  }

  /** The node's result, copied: checked, and no longer shared with the node that returned it (only checked, when shared). */
  handoff(_ready: ReadyUnit, _k: number, value: unknown): unknown {
    if (this.#shared) return inspectValue(value, 'value') ?? value;
    return copyValue(value, 'value', moves.used ? moves.marked : null);
  }

  done(ready: ReadyUnit, value: unknown, durations: number[]): void {
    ready.run.unitDone(ready, value, durations, threadId);
  }

  failed(ready: ReadyUnit, k: number, _durations: number[], error: unknown): void {
    ready.run.unitFailed(ready, k, error);
  }

  refused(ready: ReadyUnit, k: number, _durations: number[], fault: ValueFault): void {
    const node = this.#plan.nodes[ready.unit.nodes[k]!]!.name;
    ready.run.unitFailed(ready, k, fault.toError({ node, graph: this.#plan.graph }));
  }

  stopped(): void {}
}

/** True when one of the first `count` arguments is not a primitive (primitives need no copy). */
function hasObject(args: readonly unknown[], count: number): boolean {
  for (let k = 0; k < count; k++) if (!isPrimitive(args[k])) return true;
  return false;
}

function withTimeout(value: PromiseLike<unknown>, node: string, timeoutMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NodeTimeoutError(node, timeoutMs)), timeoutMs);
  });
  return Promise.race([value, expiry]).finally(() => clearTimeout(timer));
}
