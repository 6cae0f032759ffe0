/**
 * The pool's dispatch gate: when a ready unit may go to Piscina, and which units go with it in
 * one message. Piscina's own queue is FIFO, so the pool hands it a unit only while a thread is
 * free, and the order of its ready queue decides which:
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
 * order holds (the worker runs the units in the order they left the queue). A unit with a time
 * limit only ever heads a batch, so no finished unit is lost with a worker terminated for another
 * unit's limit.
 */
import { UnitLot, type PoolUnit } from './pool-unit.js';
import type { ReadyQueue } from './ready-queue.js';

/**
 * Most estimated work (ms) one batch carries: a unit finished early in a batch waits for the
 * rest before its answer leaves the worker.
 */
export const kBatchBudgetMs = 0.5;

/**
 * Most estimated work (ms) one message of firings carries, one batch alone or a group of
 * batches: a firing's record waits for its message to be answered, and grouping never makes
 * a key's firings wait longer than one full batch would.
 */
export const kFiringBudgetMs = 1;

/** Counts what is in flight and decides, from that, what may go next. */
export class DispatchGate {
  readonly threads: number;
  /** Most Piscina tasks in flight: `threads * concurrentTasksPerWorker`. */
  readonly capacity: number;
  readonly batchSize: number;
  /** Most units in flight (the size of the slot table): every task a full batch. */
  readonly unitCapacity: number;
  /** Units in flight (late ones included), the heavy ones among them, and Piscina tasks in flight. */
  #inFlight = 0;
  #inFlightHeavy = 0;
  #tasks = 0;

  constructor(threads: number, concurrentTasksPerWorker: number, batchSize: number) {
    this.threads = threads;
    this.capacity = threads * concurrentTasksPerWorker;
    this.batchSize = batchSize;
    this.unitCapacity = this.capacity * batchSize;
  }

  /** Units handed to Piscina and not yet settled or failed. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** May `unit` go to Piscina now (the rules of the module comment)? */
  admits(unit: PoolUnit): boolean {
    return (
      this.#inFlight < this.threads ||
      (unit.light && this.#inFlightHeavy === 0 && this.#tasks < this.capacity && this.#inFlight < this.unitCapacity)
    );
  }

  /**
   * `first` (just taken from `queue`) and the light units waiting right behind it, taken from the
   * queue in its order, as many as one message should carry: what waits shared among the free
   * task slots, within `batchSize`, the slot table's room and the cost budget. Stops at a heavy
   * unit and at a unit with a time limit; drops cancelled units on the way. Just `[first]` when
   * `first` may not head a batch. Only units of `first`'s lot join it.
   */
  gather(first: PoolUnit, queue: ReadyQueue<PoolUnit>): PoolUnit[] {
    const units = [first];
    if (!first.light || this.batchSize <= 1 || queue.size === 0) return units;
    const free = Math.max(1, this.capacity - this.#tasks);
    const limit = Math.min(this.batchSize, this.unitCapacity - this.#inFlight, Math.ceil((queue.size + 1) / free));
    const lot = first.lot;
    const budget = lot === UnitLot.Firings ? kFiringBudgetMs : kBatchBudgetMs;
    let cost = first.cost;
    while (units.length < limit && queue.size > 0) {
      const next = queue.peek()!;
      if (next.cancelled) {
        queue.pop();
        continue;
      }
      if (!next.light || next.lot !== lot || next.timeoutMs !== undefined || cost + next.cost > budget) break;
      queue.pop();
      units.push(next);
      cost += next.cost;
    }
    return units;
  }

  /** `unit` went in flight. */
  entered(unit: PoolUnit): void {
    this.#inFlight++;
    if (!unit.light) this.#inFlightHeavy++;
  }

  /** `unit` left flight: settled, failed or back in the queue. */
  left(unit: PoolUnit): void {
    this.#inFlight--;
    if (!unit.light) this.#inFlightHeavy--;
  }

  /** A Piscina task (one unit, or one batch of them) was sent. */
  taskSent(): void {
    this.#tasks++;
  }

  /** A Piscina task was answered or failed. */
  taskEnded(): void {
    this.#tasks--;
  }
}
