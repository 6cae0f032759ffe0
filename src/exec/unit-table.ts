/**
 * The pool's unit table: one slot per unit in flight, in memory shared with every worker. The
 * worker that runs a unit writes into its slot; the main thread reads it when a worker dies or
 * a unit runs long. It tells what Piscina does not: whether a unit had started, on which
 * worker and when, and which node was inside its synchronous part when the worker died.
 *
 * Per slot: Int32 `thread` (the worker's threadId once the unit started, else 0) and `running`
 * (the node's offset in the unit + 1 while its synchronous part runs, else 0); Float64
 * `startedAt` (epoch ms, on the clock `performance.timeOrigin + performance.now()` that every
 * thread of the process shares).
 */
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';

/** The key in Piscina's `workerData` that carries the table's memory. */
export const kUnitTableKey = 'cloacaUnitTable';

const kIntsPerSlot = 2;
const kThread = 0;
const kRunning = 1;

/** Milliseconds on the clock all threads of the process share. */
export function sharedNow(): number {
  return performance.timeOrigin + performance.now();
}

function layout(buffer: SharedArrayBuffer): { cells: Int32Array; times: Float64Array } {
  const slots = buffer.byteLength / (kIntsPerSlot * 4 + 8);
  return {
    cells: new Int32Array(buffer, 0, slots * kIntsPerSlot),
    times: new Float64Array(buffer, slots * kIntsPerSlot * 4, slots),
  };
}

/** The main thread's side: hands out slots and reads them. */
export class UnitTable {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #times: Float64Array;
  readonly #free: number[];

  /** A table of `slots` slots: as many as units can be in flight at once. */
  constructor(slots: number) {
    this.buffer = new SharedArrayBuffer(slots * (kIntsPerSlot * 4 + 8));
    ({ cells: this.#cells, times: this.#times } = layout(this.buffer));
    this.#free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }

  /** A cleared slot for a unit about to be handed to a worker. */
  take(): number {
    const slot = this.#free.pop()!;
    Atomics.store(this.#cells, slot * kIntsPerSlot + kThread, 0);
    Atomics.store(this.#cells, slot * kIntsPerSlot + kRunning, 0);
    return slot;
  }

  release(slot: number): void {
    this.#free.push(slot);
  }

  /** The threadId of the worker the slot's unit started on, or 0 if it has not started. */
  thread(slot: number): number {
    return Atomics.load(this.#cells, slot * kIntsPerSlot + kThread);
  }

  /** The offset + 1 of the slot's node inside its synchronous part now, or 0. */
  running(slot: number): number {
    return Atomics.load(this.#cells, slot * kIntsPerSlot + kRunning);
  }

  /** When the slot's unit started (shared clock, ms); meaningful once `thread` is set. */
  startedAt(slot: number): number {
    return this.#times[slot]!;
  }
}

/** The worker's side: notes what it does with the unit in a slot. */
export class UnitTableWriter {
  readonly #cells: Int32Array;
  readonly #times: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    ({ cells: this.#cells, times: this.#times } = layout(buffer));
  }

  /** Node `k` of the slot's unit is about to be called (k = 0: the unit starts here, now). */
  enter(slot: number, k: number): void {
    if (k === 0) this.start(slot);
    this.running(slot, k);
  }

  /** The slot's unit starts here, now. */
  start(slot: number): void {
    this.#times[slot] = sharedNow();
    Atomics.store(this.#cells, slot * kIntsPerSlot + kThread, threadId);
  }

  /** Node `offset` of the slot's unit is about to be called (its synchronous part begins). */
  running(slot: number, offset: number): void {
    Atomics.store(this.#cells, slot * kIntsPerSlot + kRunning, offset + 1);
  }

  /** The node's synchronous part is over. */
  leave(slot: number): void {
    Atomics.store(this.#cells, slot * kIntsPerSlot + kRunning, 0);
  }
}
