/**
 * Runs units on the calling thread. Synchronous nodes complete inside `dispatch`, and units that
 * become ready meanwhile are queued and drained in a loop rather than by recursion, so a long
 * chain neither grows the stack nor pays a promise per node. Async nodes continue when they
 * settle; several of them can be in flight at once.
 *
 * Values pass by reference between nodes (no clone), but every result is checked for what a
 * thread boundary would refuse, so a graph that passes here also passes on the pool.
 *
 * A `timeoutMs` bounds async nodes only: a synchronous node that never returns blocks the main
 * thread, and nothing on that thread can interrupt it. Use the pool executor for such nodes.
 */
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { ExecutorClosedError, NodeTimeoutError, UncloneableValueError } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';
import type { NodeFunction } from '../model/topology.js';
import type { Executor, UnitJob } from './executor.js';
import { findUncloneable, isThenable } from '../model/values.js';
import { runInTrace } from './run-observer.js';

export class InlineExecutor implements Executor {
  readonly kind = 'inline' as const;
  readonly #plan: GraphPlan;
  /** Node functions by node index. */
  readonly #functions: readonly NodeFunction[];
  readonly #queue: UnitJob[] = [];
  #head = 0;
  #draining = false;
  #closed = false;

  constructor(plan: GraphPlan, functions: ReadonlyMap<string, NodeFunction>) {
    this.#plan = plan;
    this.#functions = plan.nodes.map((n) => functions.get(n.name)!);
  }

  dispatch(job: UnitJob): void {
    if (this.#closed) {
      job.run.unitFailed(job, 0, new ExecutorClosedError(this.#plan.graph));
      return;
    }
    this.#queue.push(job);
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#head < this.#queue.length) {
        const next = this.#queue[this.#head++]!;
        if (next.run.done) continue;
        const traceparent = next.run.traceparent;
        if (traceparent === undefined) this.#run(next);
        else runInTrace(traceparent, () => this.#run(next));
      }
    } finally {
      this.#queue.length = 0;
      this.#head = 0;
      this.#draining = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #run(job: UnitJob): void {
    const members = job.unit.nodes;
    const durations: number[] = [];
    let value: unknown;
    for (let k = 0; k < members.length; k++) {
      const start = performance.now();
      try {
        const fn = this.#functions[members[k]!]!;
        value = k === 0 ? fn(...job.args) : fn(value);
      } catch (error) {
        job.run.unitFailed(job, k, error);
        return;
      }
      if (isThenable(value)) {
        void this.#finishAsync(job, k, start, value, durations);
        return;
      }
      durations.push(performance.now() - start);
      if (!this.#accept(job, k, value)) return;
    }
    job.run.unitDone(job, value, durations, threadId);
  }

  async #finishAsync(
    job: UnitJob,
    from: number,
    start: number,
    pending: PromiseLike<unknown>,
    durations: number[],
  ): Promise<void> {
    const members = job.unit.nodes;
    let value: unknown;
    for (let k = from; k < members.length; k++) {
      const begin = k === from ? start : performance.now();
      const node = this.#plan.nodes[members[k]!]!;
      try {
        const result = k === from ? pending : this.#functions[node.index]!(value);
        value = await (node.timeoutMs === undefined ? result : withTimeout(result, node.name, node.timeoutMs));
      } catch (error) {
        job.run.unitFailed(job, k, error);
        return;
      }
      durations.push(performance.now() - begin);
      if (!this.#accept(job, k, value)) return;
    }
    job.run.unitDone(job, value, durations, threadId);
  }

  /** Fails the unit when node `k` returned what a worker could not send back. */
  #accept(job: UnitJob, k: number, value: unknown): boolean {
    const refused = findUncloneable(value);
    if (refused === null) return true;
    const node = this.#plan.nodes[job.unit.nodes[k]!]!.name;
    job.run.unitFailed(job, k, new UncloneableValueError(node, refused.path, refused.type));
    return false;
  }
}

function withTimeout(value: unknown, node: string, timeoutMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NodeTimeoutError(node, timeoutMs)), timeoutMs);
  });
  return Promise.race([value, expiry]).finally(() => clearTimeout(timer));
}
