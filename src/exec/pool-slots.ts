/**
 * The pool's units in flight, one record per slot of the unit table (`unit-table.ts`): the unit,
 * the count of dispatches through the slot (so a late reply meant for an earlier occupant is
 * recognised), whether its reply comes late, and its time-limit timer. The unit table itself,
 * shared with the workers, says whether and where each unit started and which node is inside its
 * synchronous part.
 *
 * A batched unit that goes asynchronous answers on its own when it settles (a late reply, on the
 * worker's parent port), and keeps its slot until then: if its worker goes away first, it is
 * failed like any unit that had started there.
 */
import type { PoolUnit } from './pool-unit.js';
import { UnitTable } from './unit-table.js';

interface Slot {
  unit: PoolUnit | undefined;
  /** Dispatches through this slot so far. */
  token: number;
  /** Its unit went asynchronous in a batch already answered: its reply comes alone. */
  late: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** A unit inside its synchronous part on some worker, and the offset of its node there. */
export interface RunningUnit {
  readonly unit: PoolUnit;
  readonly offset: number;
}

/** The table of units in flight. */
export class PoolSlots {
  readonly #table: UnitTable;
  readonly #slots: Slot[];

  /** `size` slots over `table` (a new unit table of that size unless given). */
  constructor(size: number, table: UnitTable = new UnitTable(size)) {
    this.#table = table;
    this.#slots = Array.from({ length: size }, () => ({ unit: undefined, token: 0, late: false, timer: undefined }));
  }

  /** The unit table's shared memory, for the workers. */
  get buffer(): SharedArrayBuffer {
    return this.#table.buffer;
  }

  /** A free slot, now holding `unit` under a new token. */
  take(unit: PoolUnit): number {
    const slot = this.#table.take();
    const record = this.#slots[slot]!;
    record.unit = unit;
    record.token++;
    return slot;
  }

  /** The token of the slot's current dispatch. */
  token(slot: number): number {
    return this.#slots[slot]!.token;
  }

  /** True while `slot` still holds the dispatch of `unit` that got `token`. */
  holds(slot: number, unit: PoolUnit, token: number): boolean {
    const record = this.#slots[slot]!;
    return record.unit === unit && record.token === token;
  }

  /** The unit of the dispatch that got `token` in `slot`, if it still holds it (a late reply's unit). */
  claim(slot: number, token: number): PoolUnit | undefined {
    const record = this.#slots[slot];
    return record === undefined || record.token !== token ? undefined : record.unit;
  }

  /** The unit in `slot`, if any. */
  unit(slot: number): PoolUnit | undefined {
    return this.#slots[slot]!.unit;
  }

  /** The slot's unit went asynchronous in a batch already answered. */
  markLate(slot: number): void {
    this.#slots[slot]!.late = true;
  }

  /** The slots whose reply comes late, each checked as the iteration reaches it. */
  *late(): Generator<number> {
    for (let slot = 0; slot < this.#slots.length; slot++) if (this.#slots[slot]!.late) yield slot;
  }

  /** Sets the slot's time-limit timer; releasing the slot clears it. */
  setTimer(slot: number, timer: NodeJS.Timeout): void {
    this.#slots[slot]!.timer = timer;
  }

  /** Frees `slot` (its timer cleared) and returns the unit it held. */
  release(slot: number): PoolUnit {
    const record = this.#slots[slot]!;
    const unit = record.unit!;
    clearTimeout(record.timer);
    record.timer = undefined;
    record.unit = undefined;
    record.late = false;
    this.#table.release(slot);
    return unit;
  }

  /** The threadId of the worker the slot's unit started on, or 0 if it has not started. */
  thread(slot: number): number {
    return this.#table.thread(slot);
  }

  /** The offset + 1 of the slot's node inside its synchronous part now, or 0. */
  running(slot: number): number {
    return this.#table.running(slot);
  }

  /** When the slot's unit started (shared clock, ms); meaningful once `thread` is set. */
  startedAt(slot: number): number {
    return this.#table.startedAt(slot);
  }

  /**
   * The unit (lowest slot first) inside a synchronous part on worker `thread`, leaving out the
   * one in slot `except`; null when none is.
   */
  runningOn(thread: number, except = -1): RunningUnit | null {
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const unit = this.#slots[slot]!.unit;
      if (slot === except || unit === undefined || this.#table.thread(slot) !== thread) continue;
      const running = this.#table.running(slot);
      if (running > 0) return { unit, offset: running - 1 };
    }
    return null;
  }
}
