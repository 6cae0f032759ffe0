/**
 * Node time limits. A limit is enforced by the pool, not with Piscina's AbortSignal (which would
 * also keep every unit with a limit off busy workers): it counts from the moment the unit started
 * on a worker, and past it the worker is terminated, unless another unit is holding that worker
 * in a synchronous part: then that one is at fault, and this one is only kept waiting.
 */
import type { PoolSlots } from './pool-slots.js';
import type { PoolUnit } from './pool-unit.js';
import { sharedNow } from './unit-table.js';

/** What the pool does with a unit past its limit: terminate worker `thread`. */
export type LimitExpired = (thread: number, unit: PoolUnit, timeoutMs: number) => void;

/** One timer per slot whose unit has a limit; the slot's release clears it. */
export class TimeLimits {
  readonly #slots: PoolSlots;
  readonly #expired: LimitExpired;

  constructor(slots: PoolSlots, expired: LimitExpired) {
    this.#slots = slots;
    this.#expired = expired;
  }

  /** Arms the limit of `unit`, just given `slot`. */
  watch(slot: number, unit: PoolUnit, timeoutMs: number): void {
    this.#arm(slot, unit, timeoutMs, timeoutMs);
  }

  /** Checks the unit's limit after `delay` ms; while it waits in a worker's queue the check is put off. */
  #arm(slot: number, unit: PoolUnit, timeoutMs: number, delay: number): void {
    const slots = this.#slots;
    const timer = setTimeout(() => {
      if (slots.unit(slot) !== unit) return;
      const thread = slots.thread(slot);
      const left = thread === 0 ? timeoutMs : timeoutMs - (sharedNow() - slots.startedAt(slot));
      // Past its limit while another unit holds the thread in a synchronous part: it is kept
      // waiting, not at fault. That unit's own limit (if it has one) replaces the worker.
      if (left > 0) this.#arm(slot, unit, timeoutMs, left);
      else if (slots.runningOn(thread, slot) !== null) this.#arm(slot, unit, timeoutMs, timeoutMs);
      else this.#expired(thread, unit, timeoutMs);
    }, delay);
    timer.unref();
    slots.setTimer(slot, timer);
  }
}
