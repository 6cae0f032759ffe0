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
 *   up to `threads * concurrentTasksPerWorker` tasks, so tiny nodes pipeline instead of
 *   ping-ponging.
 *
 * Batches. When a light unit may go and more light units wait behind it, it takes them along:
 * up to `batchSize` units in one message to one worker, answered in one message, while their
 * estimated cost stays under {@link kBatchBudgetMs} (so a finished unit never waits long for its
 * batch to be answered). What waits is shared among the task slots still free, so every worker
 * gets some; a unit alone in the queue still goes at once, on its own. Inside a batch the queue's
 * order holds (the worker runs the units in the order they left the queue), and every rule below
 * holds per unit: each has its own slot in the unit table, so it is timed from its own start,
 * blamed, failed or dispatched again on its own. A unit with a time limit only ever heads a
 * batch, so no finished unit is lost with a worker terminated for another unit's limit. A unit
 * that goes asynchronous answers on its own when it settles (a late reply, on the worker's parent
 * port), and is followed by its slot until then: if its worker goes away first, it is failed like
 * any unit that had started there.
 *
 * Faults. Units share workers (pipelined, or async), so a worker that dies takes more than its
 * culprit with it. Piscina says only that a task failed; the unit table (`unit-table.ts`) says
 * whether each unit had started, on which worker, and which node was inside its synchronous
 * part. So when a worker dies or is terminated:
 * - the unit that caused it fails with `NodeTimeoutError` (it ran past its limit) or
 *   `WorkerExitError` (it ended the worker);
 * - units that had started on that worker fail with `WorkerExitError` naming the culprit;
 * - units that had not started yet are dispatched again.
 * A time limit is enforced here, not with Piscina's AbortSignal (which would also keep every
 * unit with a limit off busy workers): it counts from the moment the unit started on a worker,
 * and past it the pool terminates that worker (`piscina.threads` gives the Worker by threadId),
 * unless another unit is holding that worker in a synchronous part: then that one is at fault.
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
import { Piscina } from 'piscina';
import { ExecutorClosedError, NodeTimeoutError, WorkerExitError, type Culprit } from '../model/errors.js';
import type {
  BatchReply,
  BatchRequest,
  FiringsReply,
  FiringsRequest,
  LateReply,
  ListExportsReply,
  UnitReply,
  UnitRequest,
} from './protocol.js';
import { resolveNodePoolOptions, type NodePoolOptions } from './node-pool-options.js';
import { ReadyQueue } from './ready-queue.js';
import { kHostChannelKey } from './host-channel.js';
import { kUnitTableKey, sharedNow, UnitTable } from './unit-table.js';

/** A ready unit as the pool runs it (made by the pool executor). */
export interface PoolUnit {
  /** Older runs first. */
  readonly seq: number;
  /** Longer remaining path first. */
  readonly rank: number;
  /** Measured cheap: may be pipelined behind other light work. */
  readonly light: boolean;
  /** Goes in a task of its own, never in a batch of units (a batch of firings). */
  readonly alone: boolean;
  /** Estimated cost in ms (NaN until measured): bounds what one batch carries. */
  readonly cost: number;
  /** The node's time limit (units with one are never fused). */
  readonly timeoutMs: number | undefined;
  /** True once the run failed: the unit is dropped instead of started. */
  readonly cancelled: boolean;
  /** Times the unit went back to the queue because its worker died before it started. */
  redispatched: number;
  /** The worker message, for the unit table's `slot`; `token` tells this dispatch's late reply apart. */
  request(slot: number, token?: number): UnitRequest | FiringsRequest;
  /** Node `offset` of the unit, as errors name it. */
  culprit(offset: number): Culprit;
  /**
   * Takes the unit's reply; may return what is left to do once the pool has started what is
   * ready (a batch of firings reports its firings then, with the next batch already sent).
   */
  settle(reply: UnitReply | FiringsReply): void | (() => void);
  /** Node `offset` failed with `cause` (closed pool, timeout, worker death). */
  fail(offset: number, cause: unknown): void;
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
  /** Units sent to a worker in one message together with others. */
  readonly batched: number;
  /** Units dispatched again because the worker they waited on died before starting them. */
  readonly redispatched: number;
  /** Workers terminated because a node ran past its time limit. */
  readonly terminated: number;
}

/** Why a worker went away, kept until every unit it held has been failed or re-dispatched. */
interface Death {
  readonly thread: number;
  /** The unit (and its node) that caused it, when known. */
  readonly unit: PoolUnit | null;
  readonly offset: number;
  /** A timeout (this pool terminated the worker) or the worker's own end. */
  readonly timeout: boolean;
  readonly detail: string;
}

const kWorkerFile = new URL('../../workers/node-worker.js', import.meta.url);

/** A unit whose workers keep dying before it starts is failed after this many dispatches. */
const kMaxDispatches = 8;
/** Deaths remembered for units whose failure is still on its way. */
const kDeathsKept = 64;
/**
 * Most estimated work (ms) one batch carries: a unit finished early in a batch waits for the
 * rest before its answer leaves the worker.
 */
const kBatchBudgetMs = 0.5;

const before = (a: PoolUnit, b: PoolUnit): boolean => (a.seq !== b.seq ? a.seq < b.seq : a.rank > b.rank);

/**
 * A pool of node workers, for graphs that should share threads outside a runtime
 * (`pool: new NodePool({ threads })`); yours to close.
 *
 * @example
 * const pool = new NodePool({ threads: 4 });
 * const graph = await new ComputationGraphBuilder('g', { nodes, graph, pool }).build();
 */
export class NodePool {
  /** Worker threads, started with the pool and kept for its life. */
  readonly threads: number;
  /** Most Piscina tasks in flight: `threads * concurrentTasksPerWorker`. */
  readonly #capacity: number;
  readonly #batchSize: number;
  /** Most units in flight (the unit table's size): every task a full batch. */
  readonly #unitCapacity: number;
  readonly #piscina: Piscina;
  readonly #queue = new ReadyQueue<PoolUnit>(before);
  readonly #table: UnitTable;
  /** The unit in each slot of the table, or undefined. */
  readonly #slots: Array<PoolUnit | undefined>;
  readonly #timers: Array<NodeJS.Timeout | undefined>;
  /** Per slot: counts its dispatches, so a late reply for an earlier occupant is recognised. */
  readonly #tokens: number[];
  /** Per slot: 1 while its unit went asynchronous in a batch already answered (its reply comes alone). */
  readonly #late: Uint8Array;
  readonly #deaths = new Map<number, Death>();
  /** Units in flight (late ones included), the heavy ones, and Piscina tasks in flight. */
  #inFlight = 0;
  #inFlightHeavy = 0;
  #tasks = 0;
  #completed = 0;
  #batched = 0;
  #redispatched = 0;
  #terminated = 0;
  #closed = false;
  #pumpQueued = false;

  constructor(options: NodePoolOptions = {}) {
    const { threads, concurrentTasksPerWorker, atomics, batchSize, resourceLimits, hostChannel } =
      resolveNodePoolOptions(options);
    this.threads = threads;
    this.#capacity = threads * concurrentTasksPerWorker;
    this.#batchSize = batchSize;
    this.#unitCapacity = this.#capacity * batchSize;
    this.#table = new UnitTable(this.#unitCapacity);
    this.#slots = new Array(this.#unitCapacity);
    this.#timers = new Array(this.#unitCapacity);
    this.#tokens = new Array<number>(this.#unitCapacity).fill(0);
    this.#late = new Uint8Array(this.#unitCapacity);
    const workerData: Record<string, unknown> = { [kUnitTableKey]: this.#table.buffer };
    if (hostChannel) workerData[kHostChannelKey] = hostChannel;
    this.#piscina = new Piscina({
      filename: kWorkerFile.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker,
      atomics,
      recordTiming: false,
      workerData,
      ...(resourceLimits ? { resourceLimits } : {}),
    });
    // Without a listener, a worker error outside any task (a failed bootstrap, a crash while
    // idle) would be re-thrown by the EventEmitter and take the main process down.
    this.#piscina.on('error', (error: unknown) => {
      process.emitWarning(
        `cloaca: a pool worker failed outside any node call: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    this.#piscina.on('message', this.#onLateReply);
    // Late units have no task for Piscina to fail when their worker goes: fail them here, after
    // the tasks Piscina fails (it does so right after this event), so a death they name is the
    // one those tasks recorded.
    this.#piscina.on('workerDestroy', () => setImmediate(() => this.#orphaned()));
  }

  /** Current counters. */
  get stats(): NodePoolStats {
    return {
      threads: this.threads,
      inFlight: this.#inFlight,
      queued: this.#queue.size,
      completed: this.#completed,
      batched: this.#batched,
      redispatched: this.#redispatched,
      terminated: this.#terminated,
    };
  }

  /** True once `close()` was called: new units fail with ExecutorClosedError. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal Queues a ready unit; it starts as soon as the gate in the module comment allows. */
  enqueue(unit: PoolUnit): void {
    if (this.#closed) {
      unit.fail(0, new ExecutorClosedError('(pool)'));
      return;
    }
    this.#queue.push(unit);
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
   * @internal Imports a node module in the workers and lists its function exports. `copies` requests go
   * out at once, so each idle worker loads the module before the first run needs it.
   */
  async listExports(href: string, copies = 1): Promise<ListExportsReply> {
    if (this.#closed) throw new ExecutorClosedError('(pool)');
    const replies = await Promise.all(
      Array.from({ length: copies }, () => this.#piscina.run({ listExports: href }) as Promise<ListExportsReply>),
    );
    return replies.find((r) => !r.ok) ?? replies[0]!;
  }

  /** Stops the pool: queued units fail with ExecutorClosedError, running ones are aborted. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unit of this.#queue.drain()) unit.fail(0, new ExecutorClosedError('(pool)'));
    await this.#piscina.destroy();
    for (let slot = 0; slot < this.#slots.length; slot++) {
      if (this.#late[slot] === 1) this.#lost(slot, new ExecutorClosedError('(pool)'));
    }
  }

  #pump(): void {
    while (this.#queue.size > 0) {
      const unit = this.#queue.peek()!;
      if (unit.cancelled) {
        this.#queue.pop();
        continue;
      }
      if (!this.#free(unit)) return;
      this.#queue.pop();
      const batch =
        unit.light && !unit.alone && this.#batchSize > 1 && this.#queue.size > 0 ? this.#gather(unit) : null;
      if (batch === null || batch.length === 1) this.#start(unit);
      else this.#startBatch(batch);
    }
  }

  /** The gate of the module comment: may `unit` go to Piscina now? */
  #free(unit: PoolUnit): boolean {
    return (
      this.#inFlight < this.threads ||
      (unit.light && this.#inFlightHeavy === 0 && this.#tasks < this.#capacity && this.#inFlight < this.#unitCapacity)
    );
  }

  /**
   * `first` and the light units waiting right behind it, in queue order, as many as one message
   * should carry: what waits shared among the free task slots, within `batchSize`, the table's
   * room and the cost budget. Stops at a heavy unit, and at a unit with a time limit.
   */
  #gather(first: PoolUnit): PoolUnit[] {
    const units = [first];
    const free = Math.max(1, this.#capacity - this.#tasks);
    const limit = Math.min(
      this.#batchSize,
      this.#unitCapacity - this.#inFlight,
      Math.ceil((this.#queue.size + 1) / free),
    );
    let cost = first.cost;
    while (units.length < limit && this.#queue.size > 0) {
      const next = this.#queue.peek()!;
      if (next.cancelled) {
        this.#queue.pop();
        continue;
      }
      if (!next.light || next.alone || next.timeoutMs !== undefined || cost + next.cost > kBatchBudgetMs) break;
      this.#queue.pop();
      units.push(next);
      cost += next.cost;
    }
    return units;
  }

  /** Gives `unit` a slot in the unit table and counts it in flight; arms its time limit. */
  #take(unit: PoolUnit): number {
    this.#inFlight++;
    if (!unit.light) this.#inFlightHeavy++;
    const slot = this.#table.take();
    this.#slots[slot] = unit;
    this.#tokens[slot]!++;
    if (unit.timeoutMs !== undefined) this.#watch(slot, unit, unit.timeoutMs, unit.timeoutMs);
    return slot;
  }

  /** True while `slot` still holds the dispatch of `unit` that got `token`. */
  #holds(slot: number, unit: PoolUnit, token: number): boolean {
    return this.#slots[slot] === unit && this.#tokens[slot] === token;
  }

  #start(unit: PoolUnit): void {
    const slot = this.#take(unit);
    this.#tasks++;
    (this.#piscina.run(unit.request(slot)) as Promise<UnitReply | FiringsReply>).then(
      (reply) => {
        this.#tasks--;
        this.#end(slot);
        const rest = unit.settle(reply);
        this.#pump();
        if (rest !== undefined) rest();
      },
      (error: unknown) => {
        this.#tasks--;
        this.#lost(slot, error);
        this.#pump();
      },
    );
  }

  #startBatch(units: readonly PoolUnit[]): void {
    const slots = units.map((unit) => this.#take(unit));
    const tokens = slots.map((slot) => this.#tokens[slot]!);
    this.#tasks++;
    this.#batched += units.length;
    const request: BatchRequest = {
      batch: units.map((unit, k) => unit.request(slots[k]!, tokens[k]!) as UnitRequest),
    };
    (this.#piscina.run(request) as Promise<BatchReply>).then(
      (reply) => {
        this.#tasks--;
        for (let k = 0; k < units.length; k++) {
          const slot = slots[k]!;
          // A late reply may have come first, on the other channel.
          if (!this.#holds(slot, units[k]!, tokens[k]!)) continue;
          const answer = reply.replies[k]!;
          if (answer === null) {
            this.#late[slot] = 1;
            continue;
          }
          this.#end(slot);
          units[k]!.settle(answer);
        }
        this.#pump();
      },
      (error: unknown) => {
        this.#tasks--;
        for (let k = 0; k < units.length; k++) {
          if (this.#holds(slots[k]!, units[k]!, tokens[k]!)) this.#lost(slots[k]!, error);
        }
        this.#pump();
      },
    );
  }

  /** A batched unit that went asynchronous has settled: its reply, posted by the worker. */
  readonly #onLateReply = (message: unknown): void => {
    if (typeof message !== 'object' || message === null || !('late' in message)) return;
    const { late, slot, token } = message as LateReply;
    const unit = this.#slots[slot];
    if (unit === undefined || this.#tokens[slot] !== token) return;
    this.#end(slot);
    unit.settle(late);
    this.#pump();
  };

  /**
   * A worker went away: its late units have no task for Piscina to fail. (A gone worker's
   * `threadId` reads -1, so the live ones say which it was.)
   */
  #orphaned(): void {
    const live = new Set(this.#piscina.threads.map((worker) => worker.threadId));
    let any = false;
    for (let slot = 0; slot < this.#slots.length; slot++) {
      if (this.#late[slot] !== 1) continue;
      const thread = this.#table.thread(slot);
      if (live.has(thread)) continue;
      this.#lost(slot, new Error(`its worker (thread ${thread}) stopped`));
      any = true;
    }
    if (any) this.#pump();
  }

  /** The unit in `slot` was lost with its task or its worker: failed, or dispatched again. */
  #lost(slot: number, error: unknown): void {
    const unit = this.#slots[slot]!;
    // Read the slot before ending it: whether (and where) the unit started.
    const thread = this.#table.thread(slot);
    const running = this.#table.running(slot);
    const death = thread === 0 ? null : this.#deathOf(thread, error);
    this.#end(slot);
    this.#failed(unit, error, death, running);
  }

  #end(slot: number): void {
    const unit = this.#slots[slot]!;
    clearTimeout(this.#timers[slot]);
    this.#timers[slot] = undefined;
    this.#slots[slot] = undefined;
    this.#late[slot] = 0;
    this.#table.release(slot);
    this.#inFlight--;
    if (!unit.light) this.#inFlightHeavy--;
    this.#completed++;
  }

  /** Decides what a unit Piscina rejected becomes (see the module comment). */
  #failed(unit: PoolUnit, error: unknown, death: Death | null, running: number): void {
    if (this.#closed) {
      unit.fail(0, new ExecutorClosedError('(pool)'));
      return;
    }
    if (death === null) {
      // It never started: the worker it was waiting on went away. Nothing of it ran; run it again.
      if (++unit.redispatched < kMaxDispatches) {
        this.#redispatched++;
        this.#queue.push(unit);
        return;
      }
      const detail = `it was dispatched ${kMaxDispatches} times and its worker died each time before starting it: ${messageOf(error)}`;
      unit.fail(0, new WorkerExitError(unit.culprit(0).node, detail, { cause: error }));
      return;
    }
    if (death.unit === unit) {
      const self = unit.culprit(death.offset);
      if (death.timeout) unit.fail(death.offset, new NodeTimeoutError(self.node, unit.timeoutMs!));
      else unit.fail(death.offset, new WorkerExitError(self.node, death.detail, { culprit: self, cause: error }));
      return;
    }
    // A bystander that had started there: fail it, naming the node of this unit it was in.
    const offset = running > 0 ? running - 1 : 0;
    const culprit = death.unit === null ? null : death.unit.culprit(death.offset);
    unit.fail(offset, new WorkerExitError(unit.culprit(offset).node, death.detail, { culprit, cause: error }));
  }

  /**
   * Why worker `thread` went away: recorded by `#terminate` for a timeout, else worked out now,
   * while the slots of its other units still show which node was inside its synchronous part.
   */
  #deathOf(thread: number, error: unknown): Death {
    let death = this.#deaths.get(thread);
    if (death !== undefined) return death;
    let unit: PoolUnit | null = null;
    let offset = 0;
    for (let slot = 0; slot < this.#slots.length; slot++) {
      if (this.#slots[slot] === undefined || this.#table.thread(slot) !== thread) continue;
      const running = this.#table.running(slot);
      if (running > 0) {
        unit = this.#slots[slot]!;
        offset = running - 1;
        break;
      }
    }
    const detail =
      unit === null
        ? `${messageOf(error)} (no node was running on it at that moment, so none can be blamed)`
        : messageOf(error);
    death = { thread, unit, offset, timeout: false, detail };
    this.#remember(death);
    return death;
  }

  #remember(death: Death): void {
    this.#deaths.set(death.thread, death);
    if (this.#deaths.size > kDeathsKept) this.#deaths.delete(this.#deaths.keys().next().value!);
  }

  /**
   * Arms the time limit of the unit in `slot`. It counts only once the unit has started on a
   * worker: while it waits in a worker's queue the check is put off.
   */
  #watch(slot: number, unit: PoolUnit, timeoutMs: number, delay: number): void {
    const timer = setTimeout(() => {
      if (this.#slots[slot] !== unit) return;
      const thread = this.#table.thread(slot);
      const left = thread === 0 ? timeoutMs : timeoutMs - (sharedNow() - this.#table.startedAt(slot));
      // Past its limit while another unit holds the thread in a synchronous part: it is kept
      // waiting, not at fault. That unit's own limit (if it has one) replaces the worker.
      if (left > 0) this.#watch(slot, unit, timeoutMs, left);
      else if (this.#blockedBy(thread, slot)) this.#watch(slot, unit, timeoutMs, timeoutMs);
      else this.#terminate(thread, unit, timeoutMs);
    }, delay);
    timer.unref();
    this.#timers[slot] = timer;
  }

  /** True when a unit other than the one in `slot` is inside a synchronous part on `thread`. */
  #blockedBy(thread: number, slot: number): boolean {
    for (let other = 0; other < this.#slots.length; other++) {
      if (other === slot || this.#slots[other] === undefined) continue;
      if (this.#table.thread(other) === thread && this.#table.running(other) > 0) return true;
    }
    return false;
  }

  /** Terminates the worker whose unit ran past its limit; Piscina then fails what it held. */
  #terminate(thread: number, unit: PoolUnit, timeoutMs: number): void {
    const node = unit.culprit(0);
    this.#remember({
      thread,
      unit,
      offset: 0,
      timeout: true,
      detail: `node '${node.node}' of graph '${node.graph}' ran past its ${timeoutMs} ms limit and the worker was terminated`,
    });
    this.#terminated++;
    for (const worker of this.#piscina.threads) {
      if (worker.threadId === thread) {
        void worker.terminate();
        return;
      }
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'it stopped while sending a result back';
}
