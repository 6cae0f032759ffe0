/**
 * Where a pool graph's units run. Building a graph starts no thread: the graph binds to a pool
 * when it first executes, or when a Runtime starts it.
 *
 * - A graph built with `pool: aNodePool` always runs there (the pool is the caller's to close).
 * - A graph built with `pool: { threads }` gets a pool of its own on first execution, closed by
 *   `graph.close()`.
 * - Any other graph runs on the pool of the Runtime that started it while that runtime runs
 *   (one pool per runtime: `threads: N` means N workers in all), and otherwise on the process
 *   default pool (`default-pool.ts`).
 *
 * Rebinding (a graph executed on its own, then started by a runtime) gives the old pool back
 * first, so no thread outlives its use and each node module is imported once per worker of the
 * pool that runs it.
 */
import { leaseDefaultPool, type PoolLease } from './default-pool.js';
import type { Executor, ReadyUnit } from './executor.js';
import type { FiringsListener } from './firing-batch.js';
import { NodePool } from './node-pool.js';
import { resolveNodePoolOptions, type NodePoolOptions } from './node-pool-options.js';
import { PoolExecutor } from './pool-executor.js';
import type { CostModel } from './cost-model.js';
import { fromErrorEnvelope } from './error-envelope.js';
import { ExecutorClosedError, StateError, TopologyError } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';

/** A pool graph's executor: binds it to its pool on first use (see the module comment) and forwards its units there. */
export class PoolBinding implements Executor {
  readonly kind = 'pool' as const;
  /** The node module's URL. */
  readonly href: string;
  readonly #plan: GraphPlan;
  readonly #costs: CostModel;
  readonly #option: NodePool | NodePoolOptions | undefined;
  #executor: PoolExecutor | null = null;
  #lease: PoolLease | null = null;
  /** The runtime holding this graph, while one does. */
  #owner: object | null = null;
  #closed = false;

  constructor(plan: GraphPlan, costs: CostModel, href: string, option: NodePool | NodePoolOptions | undefined) {
    this.#plan = plan;
    this.#costs = costs;
    this.href = href;
    this.#option = option;
  }

  /** True when the graph names no pool of its own, so a runtime runs it on the runtime's pool. */
  get followsRuntime(): boolean {
    return this.#option === undefined;
  }

  /** Worker threads of the pool the graph runs on, or will bind to when it next executes. */
  get threads(): number {
    const option = this.#option;
    if (this.#lease !== null) return this.#lease.pool.threads;
    if (option instanceof NodePool) return option.threads;
    return resolveNodePoolOptions(option ?? {}).threads;
  }

  /** The pool the graph runs on now, or null while unbound. */
  get pool(): NodePool | null {
    return this.#lease?.pool ?? null;
  }

  dispatch(ready: ReadyUnit): void {
    if (this.#closed) {
      ready.run.unitFailed(ready, 0, new ExecutorClosedError(this.#plan.graph));
      return;
    }
    (this.#executor ?? this.#bind(this.#ownLease())).dispatch(ready);
  }

  /** How many queued firings one batch may carry now (see `PoolExecutor.firingLimit`); 1 while unbound. */
  firingLimit(): number {
    return this.#closed || this.#executor === null || this.#executor.pool.closed ? 1 : this.#executor.firingLimit();
  }

  /** Sends firings to one worker as one batch; false when they cannot go (fire them one by one). */
  runFirings(
    cache: Record<string, unknown>,
    boundaries: ReadonlyArray<{ readonly source: string; readonly value: unknown }>,
    control: Int32Array,
    listener: FiringsListener,
    timeNodes: boolean,
  ): boolean {
    return (
      !this.#closed &&
      this.#executor !== null &&
      this.#executor.runFirings(cache, boundaries, control, listener, timeNodes)
    );
  }

  /**
   * Binds the graph to a runtime's pool and loads the node module in every worker. Throws
   * StateError while another runtime holds the graph.
   */
  async attach(owner: object, pool: NodePool): Promise<void> {
    if (this.#owner !== null && this.#owner !== owner) {
      throw new StateError(
        `graph '${this.#plan.graph}'`,
        'held by another runtime',
        `graph '${this.#plan.graph}' is already run by another started Runtime; a graph belongs to one runtime at a time`,
      );
    }
    this.#owner = owner;
    if (this.#lease?.pool !== pool) {
      await this.#unbind();
      this.#bind({ pool, release: async () => {} });
    }
    const reply = await pool.listExports(this.href, pool.threads);
    if (!reply.ok) {
      const cause = fromErrorEnvelope(reply.error);
      throw new TopologyError(
        this.#plan.graph,
        [],
        `graph '${this.#plan.graph}': node module ${this.href} failed to import in a worker: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
  }

  /** Lets go of the runtime's pool; the next execution binds as if the graph were new. */
  async detach(owner: object): Promise<void> {
    if (this.#owner !== owner) return;
    this.#owner = null;
    await this.#unbind();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner = null;
    await this.#unbind();
  }

  #ownLease(): PoolLease {
    const option = this.#option;
    if (option instanceof NodePool) return { pool: option, release: async () => {} };
    if (option === undefined) return leaseDefaultPool();
    const pool = new NodePool(option);
    return { pool, release: () => pool.close() };
  }

  #bind(lease: PoolLease): PoolExecutor {
    this.#lease = lease;
    this.#executor = new PoolExecutor(this.#plan, this.#costs, lease.pool, this.href);
    return this.#executor;
  }

  async #unbind(): Promise<void> {
    const lease = this.#lease;
    this.#lease = null;
    this.#executor = null;
    await lease?.release();
  }
}
