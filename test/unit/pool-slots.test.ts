/** The pool's table of units in flight (src/exec/pool-slots.ts). */
import { describe, expect, it, vi } from 'vitest';
import { PoolSlots } from '../../src/exec/pool-slots.js';
import { UnitTable } from '../../src/exec/unit-table.js';
import { poolUnit } from './support/pool-units.js';

/** A unit table whose cells the test sets, as workers would. */
class ScriptedTable extends UnitTable {
  readonly threads = new Map<number, number>();
  readonly runnings = new Map<number, number>();
  override thread(slot: number): number {
    return this.threads.get(slot) ?? 0;
  }
  override running(slot: number): number {
    return this.runnings.get(slot) ?? 0;
  }
}

describe('PoolSlots', () => {
  it('hands out distinct slots and takes a released one back', () => {
    const slots = new PoolSlots(2);
    const a = poolUnit('a');
    const b = poolUnit('b');
    const sa = slots.take(a);
    const sb = slots.take(b);
    expect(sa).not.toBe(sb);
    expect(slots.unit(sa)).toBe(a);
    expect(slots.unit(sb)).toBe(b);
    expect(slots.release(sa)).toBe(a);
    expect(slots.unit(sa)).toBeUndefined();
    expect(slots.take(poolUnit('c'))).toBe(sa);
  });

  it('gives each dispatch through a slot a new token, so an earlier late reply is ignored', () => {
    const slots = new PoolSlots(1);
    const a = poolUnit('a');
    const slot = slots.take(a);
    const first = slots.token(slot);
    expect(slots.holds(slot, a, first)).toBe(true);
    expect(slots.claim(slot, first)).toBe(a);
    slots.release(slot);
    expect(slots.claim(slot, first)).toBeUndefined();
    slots.take(a);
    const second = slots.token(slot);
    expect(second).not.toBe(first);
    expect(slots.holds(slot, a, first)).toBe(false);
    expect(slots.claim(slot, first)).toBeUndefined();
    expect(slots.claim(slot, second)).toBe(a);
    expect(slots.claim(99, second)).toBeUndefined();
    expect(slots.holds(slot, poolUnit('b'), second)).toBe(false);
  });

  it('lists the late slots until they are released', () => {
    const slots = new PoolSlots(3);
    const x = slots.take(poolUnit('x'));
    slots.take(poolUnit('y'));
    const z = slots.take(poolUnit('z'));
    slots.markLate(x);
    slots.markLate(z);
    expect([...slots.late()].sort()).toEqual([x, z].sort());
    slots.release(z);
    expect([...slots.late()]).toEqual([x]);
    expect(slots.take(poolUnit('w'))).toBe(z);
    expect([...slots.late()]).toEqual([x]);
  });

  it('checks each late slot as iteration reaches it, so one released meanwhile is skipped', () => {
    const slots = new PoolSlots(2);
    const s0 = slots.take(poolUnit('a'));
    const s1 = slots.take(poolUnit('b'));
    slots.markLate(s0);
    slots.markLate(s1);
    const seen: number[] = [];
    for (const slot of slots.late()) {
      seen.push(slot);
      slots.release(s0);
      slots.release(s1);
      break;
    }
    expect(seen).toHaveLength(1);
    expect([...slots.late()]).toEqual([]);
  });

  it('clears the time-limit timer when the slot is released', () => {
    vi.useFakeTimers();
    try {
      const slots = new PoolSlots(1);
      const fired = vi.fn();
      const slot = slots.take(poolUnit('a'));
      slots.setTimer(slot, setTimeout(fired, 10));
      slots.release(slot);
      vi.advanceTimersByTime(20);
      expect(fired).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it('finds the unit inside a synchronous part on a worker, leaving out the given slot', () => {
    const table = new ScriptedTable(4);
    const slots = new PoolSlots(4, table);
    const a = poolUnit('a');
    const b = poolUnit('b');
    const c = poolUnit('c');
    const sa = slots.take(a);
    const sb = slots.take(b);
    const sc = slots.take(c);
    table.threads.set(sa, 7).set(sb, 7).set(sc, 8);
    table.runnings.set(sb, 3).set(sc, 1);
    expect(slots.runningOn(7)).toEqual({ unit: b, offset: 2 });
    expect(slots.runningOn(7, sb)).toBeNull();
    expect(slots.runningOn(8)).toEqual({ unit: c, offset: 0 });
    expect(slots.runningOn(9)).toBeNull();
    // A released slot is no one's, whatever its cells still say.
    slots.release(sb);
    expect(slots.runningOn(7)).toBeNull();
  });

  it('reads a slot of a fresh table as not started', () => {
    const slots = new PoolSlots(1);
    const slot = slots.take(poolUnit('a'));
    expect(slots.thread(slot)).toBe(0);
    expect(slots.running(slot)).toBe(0);
    expect(slots.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});
