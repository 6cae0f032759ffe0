/**
 * A Piscina pool of node workers with its own ready queue in front.
 *
 * Piscina's queue is FIFO, so handing it every ready unit would let a burst of cheap side
 * branches delay the critical path. Instead ready units wait here, ordered by (older run first,
 * then longest remaining path first), and go to Piscina only while a thread is free:
 *
 * - a unit not known to be light (unmeasured, or estimated >= 1 ms) is dispatched only while
 *   fewer than `threads` units are in flight, so the longest path is never queued behind others;
 * - a light unit (measured < 1 ms) may also be dispatched while only light units are in flight,
 *   up to `threads * concurrentTasksPerWorker`, so tiny nodes pipeline instead of ping-ponging.
 *
 * Piscina settings, chosen for this workload (numbers from `node20-toolchain.md` and `npm run bench`):
 * - `minThreads = maxThreads = threads`: workers and their loaded modules stay warm; no spawn
 *   latency in the middle of a burst. Idle workers are unref'd, so scripts still exit.
 * - `idleTimeout: Infinity`: irrelevant with min = max, set so nothing ever tears a worker down.
 * - `concurrentTasksPerWorker: 4`: pipelining light units raises raw Piscina from 41k to 86k
 *   tasks/s with 64 in flight on two threads (measured here, atomics either way), and async
 *   (I/O) nodes overlap instead of waiting one at a time. Heavy units never share a worker
 *   because of the gate above.
 * - `atomics: 'disabled'`: 'sync' freezes an idle worker's event loop, so timers a node leaves
 *   behind never run and a port to the main thread stops answering while idle. It bought
 *   nothing here: 14.9k vs 15.0k back-to-back round trips/s, 87k vs 85k with 64 in flight.
 * - `recordTiming: false`: the pool's own histograms cost on every task; runs are timed here.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ExecutorClosedError } from '../model/errors.js';
import { rejectUnknownKeys, requireOneOf, requireOptionsObject, requirePositiveInteger } from '../model/options.js';
import type { DescribeReply, UnitReply, UnitTask } from './protocol.js';
import { ReadyQueue } from './ready-queue.js';
import { kHostChannelKey } from './host-channel.js';

/** Options of a {@link NodePool}. */
export interface NodePoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** Units a worker may hold at once when they are light or async; default 4. */
  readonly concurrentTasksPerWorker?: number;
  /** Piscina's `atomics` mode; default `'disabled'` (see the module comment). */
  readonly atomics?: 'sync' | 'async' | 'disabled';
  /** Memory limits per worker; a worker that exceeds them dies and is replaced. */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly stackSizeMb?: number;
  };
  /** @internal Set by a Runtime: the channel its workers reach it on (`host` of `cloaca/worker`). */
  readonly hostChannel?: string;
}

/** Work the pool runs: one dispatch unit of one graph run. */
export interface PoolWork {
  /** Older runs first. */
  readonly seq: number;
  /** Longer remaining path first. */
  readonly rank: number;
  /** Measured cheap: may be pipelined behind other light work. */
  readonly light: boolean;
  readonly task: UnitTask;
  readonly timeoutMs: number | undefined;
  /** True once the run failed: the work is dropped instead of started. */
  readonly cancelled: boolean;
  settle(reply: UnitReply): void;
  /** Piscina itself rejected: the worker died, the time limit passed, or the pool closed. */
  fail(error: unknown): void;
}

/** Counters of a {@link NodePool}. */
export interface NodePoolStats {
  readonly threads: number;
  /** Units running or handed to Piscina. */
  readonly inFlight: number;
  /** Units ready and waiting for a thread. */
  readonly queued: number;
  /** Units finished since the pool started. */
  readonly completed: number;
}

const kPoolOptionKeys = ['threads', 'concurrentTasksPerWorker', 'atomics', 'resourceLimits', 'hostChannel'];

const kWorkerFile = new URL('../../workers/node-worker.js', import.meta.url);

const before = (a: PoolWork, b: PoolWork): boolean => (a.seq !== b.seq ? a.seq < b.seq : a.rank > b.rank);

export class NodePool {
  readonly threads: number;
  readonly #capacity: number;
  readonly #piscina: Piscina;
  readonly #queue = new ReadyQueue<PoolWork>(before);
  #inFlight = 0;
  #inFlightHeavy = 0;
  #completed = 0;
  #closed = false;
  #pumpQueued = false;

  constructor(options: NodePoolOptions = {}) {
    requireOptionsObject('NodePool', options);
    rejectUnknownKeys('NodePool', options, kPoolOptionKeys);
    const { threads = availableParallelism(), concurrentTasksPerWorker = 4, atomics = 'disabled' } = options;
    requirePositiveInteger('NodePool', 'threads', threads);
    requirePositiveInteger('NodePool', 'concurrentTasksPerWorker', concurrentTasksPerWorker);
    requireOneOf('NodePool', 'atomics mode', atomics, ['sync', 'async', 'disabled'] as const);
    this.threads = threads;
    this.#capacity = threads * concurrentTasksPerWorker;
    this.#piscina = new Piscina({
      filename: kWorkerFile.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker,
      atomics,
      recordTiming: false,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      ...(options.hostChannel ? { workerData: { [kHostChannelKey]: options.hostChannel } } : {}),
    });
    // Without a listener, a worker error outside any task (a failed bootstrap, a crash while
    // idle) would be re-thrown by the EventEmitter and take the main process down.
    this.#piscina.on('error', (error: unknown) => {
      process.emitWarning(
        `cloaca: a pool worker failed outside any node call: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  /** Current counters. */
  get stats(): NodePoolStats {
    return { threads: this.threads, inFlight: this.#inFlight, queued: this.#queue.size, completed: this.#completed };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal Queues ready work; it starts as soon as the gate in the module comment allows. */
  enqueue(work: PoolWork): void {
    if (this.#closed) {
      work.fail(new ExecutorClosedError('(pool)'));
      return;
    }
    this.#queue.push(work);
    // Units made ready by one completion arrive one by one, in topology order; pumping at the end
    // of the current job lets the queue order all of them (longest path first) before any starts.
    if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(this.#queuedPump);
    }
  }

  readonly #queuedPump = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  /**
   * @internal Imports a node module in the workers and lists its function exports. `copies` describe
   * tasks go out at once, so each idle worker loads the module before the first run needs it.
   */
  async describe(href: string, copies = 1): Promise<DescribeReply> {
    if (this.#closed) throw new ExecutorClosedError('(pool)');
    const replies = await Promise.all(
      Array.from({ length: copies }, () => this.#piscina.run({ describe: href }) as Promise<DescribeReply>),
    );
    return replies.find((r) => !r.ok) ?? replies[0]!;
  }

  /** Stops the pool: queued work fails with ExecutorClosedError, running work is aborted. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const work of this.#queue.drain()) work.fail(new ExecutorClosedError('(pool)'));
    await this.#piscina.destroy();
  }

  #pump(): void {
    while (this.#queue.size > 0) {
      const work = this.#queue.peek()!;
      if (work.cancelled) {
        this.#queue.pop();
        continue;
      }
      if (!this.#free(work)) return;
      this.#queue.pop();
      this.#start(work);
    }
  }

  /** The gate of the module comment: may `work` go to Piscina now? */
  #free(work: PoolWork): boolean {
    return (
      this.#inFlight < this.threads || (work.light && this.#inFlightHeavy === 0 && this.#inFlight < this.#capacity)
    );
  }

  #start(work: PoolWork): void {
    const heavy = !work.light;
    this.#inFlight++;
    if (heavy) this.#inFlightHeavy++;
    // The time limit is armed at dispatch, not at enqueue: waiting for a thread does not count.
    const run =
      work.timeoutMs === undefined
        ? this.#piscina.run(work.task)
        : this.#piscina.run(work.task, { signal: AbortSignal.timeout(work.timeoutMs) });
    (run as Promise<UnitReply>).then(
      (reply) => {
        this.#release(heavy);
        work.settle(reply);
        this.#pump();
      },
      (error: unknown) => {
        this.#release(heavy);
        work.fail(error);
        this.#pump();
      },
    );
  }

  #release(heavy: boolean): void {
    this.#inFlight--;
    if (heavy) this.#inFlightHeavy--;
    this.#completed++;
  }
}

let shared: NodePool | null = null;
let sharedUsers = 0;

/** The process-wide pool graphs use when given none; released with {@link releaseSharedPool}. */
export function acquireSharedPool(): NodePool {
  if (shared === null || shared.closed) {
    shared = new NodePool();
    sharedUsers = 0;
  }
  sharedUsers++;
  return shared;
}

/** Drops one reference to the shared pool and closes it when none is left. */
export async function releaseSharedPool(pool: NodePool): Promise<void> {
  if (pool !== shared || --sharedUsers > 0) return;
  shared = null;
  await pool.close();
}
