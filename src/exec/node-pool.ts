/**
 * A Piscina pool of node workers with its own ready queue in front. Ready units wait in the
 * queue in {@link runsBefore} order and go to Piscina, alone or batched, only as the dispatch
 * gate (`dispatch-gate.ts`) allows. Every unit in flight has its own slot (`pool-slots.ts`), also
 * inside a batch, so it is timed from its own start (`time-limits.ts`), blamed, failed or
 * dispatched again on its own (`worker-fault.ts`).
 *
 * Piscina settings, chosen for this workload (numbers from `npm run bench`):
 * - `minThreads = maxThreads = threads`: workers and their loaded modules stay warm; no spawn
 *   latency in the middle of a burst. Idle workers are unref'd, so scripts still exit.
 * - `idleTimeout: Infinity`: irrelevant with min = max, set so nothing ever tears a worker down.
 * - `concurrentTasksPerWorker: 4`: pipelining light units raises raw Piscina from 41k to 86k
 *   tasks/s with 64 in flight on two threads (measured here, atomics either way), and async
 *   (I/O) nodes overlap instead of waiting one at a time. Heavy units never share a worker
 *   because of the gate.
 * - `atomics: 'disabled'`: 'sync' freezes an idle worker's event loop, so timers a node leaves
 *   behind never run and a port to the main thread stops answering while idle. It bought
 *   nothing here: 14.9k vs 15.0k back-to-back round trips/s, 87k vs 85k with 64 in flight.
 * - `recordTiming: false`: the pool's own histograms cost on every task; runs are timed here.
 * - `niceIncrement`: the pool option, 0 by default: a lower worker priority only matters with
 *   more busy threads than cores, and a thread's priority cannot be raised again.
 */
import { Piscina } from 'piscina';
import { ExecutorClosedError } from '../model/errors.js';
import { DispatchGate } from './dispatch-gate.js';
import { kHostChannelKey } from './host-channel.js';
import { resolveNodePoolOptions, type NodePoolOptions } from './node-pool-options.js';
import { PoolSlots } from './pool-slots.js';
import { runsBefore, UnitLot, type PoolUnit } from './pool-unit.js';
import type {
  BatchReply,
  BatchRequest,
  FiringsGroupReply,
  FiringsGroupRequest,
  FiringsReply,
  FiringsRequest,
  LateReply,
  ListExportsReply,
  UnitReply,
  UnitRequest,
} from './protocol.js';
import { ReadyQueue } from './ready-queue.js';
import { TimeLimits } from './time-limits.js';
import { kUnitTableKey } from './unit-table.js';
import { DeathLog, decideFault, timeoutDeath, workerDeath, type WorkerDeath } from './worker-fault.js';

/** Counters of a {@link NodePool}. */
export interface NodePoolStats {
  readonly threads: number;
  /** Units running or handed to Piscina. */
  readonly inFlight: number;
  /** Units ready and waiting for a thread. */
  readonly queued: number;
  /** Units finished since the pool started. */
  readonly completed: number;
  /** Node units sent to a worker in one message together with others. */
  readonly batched: number;
  /**
   * Batches of queued firings sent to a worker in one message together with other batches (of
   * other keys of a keyed reactor, or of other reactors).
   */
  readonly grouped: number;
  /** Units dispatched again because the worker they waited on died before starting them. */
  readonly redispatched: number;
  /** Workers terminated because a node ran past its time limit. */
  readonly terminated: number;
}

const kWorkerFile = new URL('../../workers/piscina-entry.cjs', import.meta.url);

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
  readonly #piscina: Piscina;
  readonly #queue = new ReadyQueue<PoolUnit>(runsBefore);
  readonly #gate: DispatchGate;
  readonly #slots: PoolSlots;
  readonly #limits: TimeLimits;
  readonly #deaths = new DeathLog();
  #completed = 0;
  #batched = 0;
  #grouped = 0;
  #redispatched = 0;
  #terminated = 0;
  #closed = false;
  #pumpQueued = false;

  constructor(options: NodePoolOptions = {}) {
    const { threads, concurrentTasksPerWorker, atomics, batchSize, niceIncrement, resourceLimits, hostChannel } =
      resolveNodePoolOptions(options);
    this.threads = threads;
    this.#gate = new DispatchGate(threads, concurrentTasksPerWorker, batchSize);
    this.#slots = new PoolSlots(this.#gate.unitCapacity);
    this.#limits = new TimeLimits(this.#slots, this.#terminate);
    const workerData: Record<string, unknown> = { [kUnitTableKey]: this.#slots.buffer };
    if (hostChannel) workerData[kHostChannelKey] = hostChannel;
    this.#piscina = new Piscina({
      filename: kWorkerFile.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker,
      atomics,
      recordTiming: false,
      niceIncrement,
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
      inFlight: this.#gate.inFlight,
      queued: this.#queue.size,
      completed: this.#completed,
      batched: this.#batched,
      grouped: this.#grouped,
      redispatched: this.#redispatched,
      terminated: this.#terminated,
    };
  }

  /** True once `close()` was called: new units fail with ExecutorClosedError. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal Queues a ready unit; it starts as soon as the dispatch gate allows. */
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
    for (const slot of this.#slots.late()) this.#lost(slot, new ExecutorClosedError('(pool)'));
  }

  #pump(): void {
    while (this.#queue.size > 0) {
      const unit = this.#queue.peek()!;
      if (unit.cancelled) {
        this.#queue.pop();
        continue;
      }
      if (!this.#gate.admits(unit)) return;
      this.#queue.pop();
      const units = this.#gate.gather(unit, this.#queue);
      if (units.length === 1) this.#start(unit);
      else if (unit.lot === UnitLot.Firings) this.#startGroup(units);
      else this.#startBatch(units);
    }
  }

  /** Gives `unit` a slot and counts it in flight; arms its time limit. */
  #take(unit: PoolUnit): number {
    this.#gate.entered(unit);
    const slot = this.#slots.take(unit);
    if (unit.timeoutMs !== undefined) this.#limits.watch(slot, unit, unit.timeoutMs);
    return slot;
  }

  #start(unit: PoolUnit): void {
    const slot = this.#take(unit);
    this.#gate.taskSent();
    (this.#piscina.run(unit.request(slot)) as Promise<UnitReply | FiringsReply>).then(
      (reply) => {
        this.#gate.taskEnded();
        this.#end(slot);
        const rest = unit.settle(reply);
        this.#pump();
        if (rest !== undefined) rest();
      },
      (error: unknown) => {
        this.#gate.taskEnded();
        this.#lost(slot, error);
        this.#pump();
      },
    );
  }

  #startBatch(units: readonly PoolUnit[]): void {
    const slots = units.map((unit) => this.#take(unit));
    const tokens = slots.map((slot) => this.#slots.token(slot));
    this.#gate.taskSent();
    this.#batched += units.length;
    const request: BatchRequest = {
      batch: units.map((unit, k) => unit.request(slots[k]!, tokens[k]!) as UnitRequest),
    };
    (this.#piscina.run(request) as Promise<BatchReply>).then(
      (reply) => {
        this.#gate.taskEnded();
        for (let k = 0; k < units.length; k++) {
          const slot = slots[k]!;
          // A late reply may have come first, on the other channel.
          if (!this.#slots.holds(slot, units[k]!, tokens[k]!)) continue;
          const answer = reply.replies[k]!;
          if (answer === null) {
            this.#slots.markLate(slot);
            continue;
          }
          this.#end(slot);
          units[k]!.settle(answer);
        }
        this.#pump();
      },
      (error: unknown) => {
        this.#gate.taskEnded();
        for (let k = 0; k < units.length; k++) {
          if (this.#slots.holds(slots[k]!, units[k]!, tokens[k]!)) this.#lost(slots[k]!, error);
        }
        this.#pump();
      },
    );
  }

  /**
   * Batches of firings in one message. Each is settled in order once the message is answered;
   * what each has left to report runs after the pump, so the next batches are already on their
   * way while these records are made.
   */
  #startGroup(units: readonly PoolUnit[]): void {
    const slots = units.map((unit) => this.#take(unit));
    this.#gate.taskSent();
    this.#grouped += units.length;
    const request: FiringsGroupRequest = {
      firingsGroup: units.map((unit, k) => (unit.request(slots[k]!) as FiringsRequest).firings),
    };
    (this.#piscina.run(request) as Promise<FiringsGroupReply>).then(
      (reply) => {
        this.#gate.taskEnded();
        const rests: Array<() => void> = [];
        for (let k = 0; k < units.length; k++) {
          this.#end(slots[k]!);
          const rest = units[k]!.settle(reply.group[k]!);
          if (rest !== undefined) rests.push(rest);
        }
        this.#pump();
        for (const rest of rests) rest();
      },
      (error: unknown) => {
        this.#gate.taskEnded();
        for (const slot of slots) this.#lost(slot, error);
        this.#pump();
      },
    );
  }

  /** A batched unit that went asynchronous has settled: its reply, posted by the worker. */
  readonly #onLateReply = (message: unknown): void => {
    if (typeof message !== 'object' || message === null || !('late' in message)) return;
    const { late, slot, token } = message as LateReply;
    const unit = this.#slots.claim(slot, token);
    if (unit === undefined) return;
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
    for (const slot of this.#slots.late()) {
      const thread = this.#slots.thread(slot);
      if (live.has(thread)) continue;
      this.#lost(slot, new Error(`its worker (thread ${thread}) stopped`));
      any = true;
    }
    if (any) this.#pump();
  }

  /** The unit in `slot` was lost with its task or its worker: failed, or dispatched again. */
  #lost(slot: number, error: unknown): void {
    // Read the slot before ending it: whether (and where) the unit started.
    const thread = this.#slots.thread(slot);
    const running = this.#slots.running(slot);
    const death = thread === 0 ? null : this.#deathOf(thread, error);
    const unit = this.#end(slot);
    if (this.#closed) {
      unit.fail(0, new ExecutorClosedError('(pool)'));
      return;
    }
    const decision = decideFault(unit, error, death, running);
    if (decision.action === 'fail') {
      unit.fail(decision.offset, decision.error);
      return;
    }
    unit.redispatched++;
    this.#redispatched++;
    this.#queue.push(unit);
  }

  /** Frees `slot` and counts its unit out of flight; returns the unit. */
  #end(slot: number): PoolUnit {
    const unit = this.#slots.release(slot);
    this.#gate.left(unit);
    this.#completed++;
    return unit;
  }

  /**
   * Why worker `thread` went away: recorded by `#terminate` for a timeout, else worked out now,
   * while the slots of its other units still show which node was inside its synchronous part.
   */
  #deathOf(thread: number, error: unknown): WorkerDeath {
    let death = this.#deaths.get(thread);
    if (death !== undefined) return death;
    death = workerDeath(thread, error, this.#slots.runningOn(thread));
    this.#deaths.remember(death);
    return death;
  }

  /** Terminates the worker whose unit ran past its limit; Piscina then fails what it held. */
  readonly #terminate = (thread: number, unit: PoolUnit, timeoutMs: number): void => {
    this.#deaths.remember(timeoutDeath(thread, unit, timeoutMs));
    this.#terminated++;
    for (const worker of this.#piscina.threads) {
      if (worker.threadId === thread) {
        void worker.terminate();
        return;
      }
    }
  };
}
