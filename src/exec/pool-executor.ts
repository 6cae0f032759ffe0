/**
 * Runs one graph's units on a {@link NodePool}: turns a ready unit into a worker task, and the
 * worker's reply (or Piscina's rejection) back into the run's callbacks with errors that name
 * the node.
 */
import { ExecutorClosedError, NodeTimeoutError, UncloneableValueError, WorkerExitError } from '../model/errors.js';
import type { GraphPlan } from '../model/plan.js';
import type { CostModel } from './cost-model.js';
import { fromErrorEnvelope } from './error-envelope.js';
import type { Executor, UnitJob } from './executor.js';
import type { NodePool, PoolWork } from './node-pool.js';
import type { UnitReply, UnitTask } from './protocol.js';

export class PoolExecutor implements Executor {
  readonly kind = 'pool' as const;
  readonly pool: NodePool;
  /** The node module's URL. */
  readonly href: string;
  /** True when the pool is the process-wide default one, which a Runtime may swap for its own. */
  readonly shared: boolean;
  readonly #plan: GraphPlan;
  readonly #costs: CostModel;
  /** Export names per unit, head first; shared by every task of that unit. */
  readonly #names: ReadonlyArray<readonly string[]>;
  readonly #release: () => Promise<void>;
  /** Whether two units of one run can ever be ready at once (ranks and cancel cells matter). */
  readonly #parallel: boolean;
  #closed = false;

  /** `release` is called once by `close()`: it gives the pool back to whoever owns it. */
  constructor(
    plan: GraphPlan,
    costs: CostModel,
    pool: NodePool,
    href: string,
    shared: boolean,
    release: () => Promise<void>,
  ) {
    this.#plan = plan;
    this.#costs = costs;
    this.pool = pool;
    this.href = href;
    this.shared = shared;
    this.#names = plan.units.map((u) => u.nodes.map((i) => plan.nodes[i]!.name));
    this.#release = release;
    this.#parallel = plan.maxWidth > 1;
  }

  dispatch(job: UnitJob): void {
    if (this.#closed) {
      job.run.unitFailed(job, 0, new ExecutorClosedError(this.#plan.graph));
      return;
    }
    const unit = job.unit.index;
    const f = this.#names[unit]!;
    // A fused chain carries the run's cancel cell only when another unit of the same run can be
    // running beside it (and fail); in a graph that is one path nothing can.
    const cancellable = f.length > 1 && this.#parallel;
    const task: UnitTask = cancellable
      ? { m: this.href, f, a: job.args, c: job.run.cancelCell() }
      : { m: this.href, f, a: job.args };
    const t = job.run.traceparent;
    this.pool.enqueue(
      new UnitWork(
        job,
        this.#plan,
        t === undefined ? task : { ...task, t },
        this.#parallel ? this.#costs.rank(unit) : 0,
        this.#costs.isLight(unit),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#release();
  }
}

class UnitWork implements PoolWork {
  readonly #job: UnitJob;
  readonly #plan: GraphPlan;
  readonly task: UnitTask;
  readonly rank: number;
  readonly light: boolean;

  constructor(job: UnitJob, plan: GraphPlan, task: UnitTask, rank: number, light: boolean) {
    this.#job = job;
    this.#plan = plan;
    this.task = task;
    this.rank = rank;
    this.light = light;
  }

  get seq(): number {
    return this.#job.run.seq;
  }

  get cancelled(): boolean {
    return this.#job.run.done;
  }

  get timeoutMs(): number | undefined {
    // Units with a time limit are never fused, so the head is the node.
    return this.#plan.nodes[this.#job.unit.head]!.timeoutMs;
  }

  settle(reply: UnitReply): void {
    const job = this.#job;
    if (reply.ok) {
      job.run.unitDone(job, reply.v, reply.d, reply.w);
    } else if ('e' in reply) {
      job.run.unitFailed(job, reply.i, fromErrorEnvelope(reply.e));
    } else if ('c' in reply) {
      const node = this.#plan.nodes[job.unit.nodes[reply.i]!]!.name;
      job.run.unitFailed(job, reply.i, new UncloneableValueError(node, reply.c.path, reply.c.type));
    }
    // Otherwise the run had already failed and the worker stopped the chain: nothing to report.
  }

  fail(error: unknown): void {
    const job = this.#job;
    const head = this.#plan.nodes[job.unit.head]!;
    const timeoutMs = head.timeoutMs;
    const name = error instanceof Error ? error.name : '';
    let cause: unknown = error;
    if (name === 'AbortError' && timeoutMs !== undefined) {
      cause = new NodeTimeoutError(head.name, timeoutMs);
    } else if (!(error instanceof ExecutorClosedError)) {
      // Piscina rejects with "worker exited with code: N", "Worker terminated due to reaching
      // memory limit", or, when postMessage of a result failed and killed the worker, with {}.
      const detail = error instanceof Error ? error.message : 'it stopped while sending the result back';
      const chain =
        job.unit.nodes.length > 1
          ? ` (fused chain ${job.unit.nodes.map((i) => this.#plan.nodes[i]!.name).join(' -> ')})`
          : '';
      cause = new WorkerExitError(head.name, detail + chain, { cause: error });
    }
    job.run.unitFailed(job, 0, cause);
  }
}
