/** The pool's dispatch gate (src/exec/dispatch-gate.ts): when units go, and what one batch carries. */
import { describe, expect, it } from 'vitest';
import { DispatchGate, kBatchBudgetMs, kFiringBudgetMs } from '../../src/exec/dispatch-gate.js';
import { UnitLot, type PoolUnit } from '../../src/exec/pool-unit.js';
import { ReadyQueue } from '../../src/exec/ready-queue.js';
import { poolUnit } from './support/pool-units.js';

const heavy = (name: string): PoolUnit => poolUnit(name, { light: false, cost: Number.NaN });

/** A queue that keeps push order (every unit of one run, equal rank). */
function queueOf(units: PoolUnit[]): ReadyQueue<PoolUnit> {
  const order = new Map(units.map((u, i) => [u, i]));
  const queue = new ReadyQueue<PoolUnit>((a, b) => order.get(a)! < order.get(b)!);
  for (const unit of units) queue.push(unit);
  return queue;
}

/** A batch of queued firings, as `firing-batch.ts` queues it. */
function firings(name: string, cost = 0.01): PoolUnit {
  return poolUnit(name, { lot: UnitLot.Firings, cost });
}

function light(n: number, cost = 0.01): PoolUnit[] {
  return Array.from({ length: n }, (_, i) => poolUnit(`l${i}`, { cost }));
}

describe('DispatchGate.admits', () => {
  it('lets heavy units go only while fewer than `threads` units are in flight', () => {
    const gate = new DispatchGate(2, 4, 32);
    expect(gate.admits(heavy('h'))).toBe(true);
    gate.entered(poolUnit('a'));
    gate.entered(poolUnit('b'));
    expect(gate.inFlight).toBe(2);
    expect(gate.admits(heavy('h'))).toBe(false);
    gate.left(poolUnit('a'));
    expect(gate.admits(heavy('h'))).toBe(true);
  });

  it('pipelines light units past `threads` while no heavy one is in flight', () => {
    const gate = new DispatchGate(1, 4, 32);
    gate.entered(poolUnit('a'));
    gate.taskSent();
    expect(gate.admits(poolUnit('b'))).toBe(true);
    gate.entered(heavy('h'));
    expect(gate.admits(poolUnit('b'))).toBe(false);
    gate.left(heavy('h'));
    expect(gate.admits(poolUnit('b'))).toBe(true);
  });

  it('stops light units at `threads * concurrentTasksPerWorker` tasks', () => {
    const gate = new DispatchGate(1, 2, 32);
    expect(gate.capacity).toBe(2);
    gate.entered(poolUnit('a'));
    gate.taskSent();
    gate.taskSent();
    expect(gate.admits(poolUnit('b'))).toBe(false);
    gate.taskEnded();
    expect(gate.admits(poolUnit('b'))).toBe(true);
  });

  it('sizes the slot table for every task a full batch', () => {
    expect(new DispatchGate(3, 4, 5).unitCapacity).toBe(60);
  });
});

describe('DispatchGate.gather', () => {
  it('sends a unit alone when it is heavy, of the other lot, unbatched or the only one waiting', () => {
    const [first, ...rest] = light(3);
    expect(new DispatchGate(1, 1, 32).gather(heavy('h'), queueOf(rest))).toHaveLength(1);
    expect(new DispatchGate(1, 1, 32).gather(firings('f'), queueOf(rest))).toHaveLength(1);
    expect(new DispatchGate(1, 1, 1).gather(first!, queueOf(rest))).toHaveLength(1);
    expect(new DispatchGate(1, 1, 32).gather(first!, queueOf([]))).toEqual([first]);
  });

  it('takes the light units behind the first, in queue order, up to `batchSize`', () => {
    const [first, ...rest] = light(10);
    const queue = queueOf(rest);
    const batch = new DispatchGate(1, 1, 4).gather(first!, queue);
    expect(batch).toEqual([first, ...rest.slice(0, 3)]);
    expect(queue.size).toBe(6);
    expect(queue.peek()).toBe(rest[3]);
  });

  it('keeps the estimated cost of a batch within the budget', () => {
    const cost = kBatchBudgetMs / 4;
    const [first, ...rest] = light(10, cost);
    expect(new DispatchGate(1, 1, 32).gather(first!, queueOf(rest))).toHaveLength(4);
  });

  it('shares what waits among the free task slots', () => {
    const [first, ...rest] = light(16);
    // 8 free tasks and 16 units waiting (the first included): 2 units per message.
    expect(new DispatchGate(2, 4, 32).gather(first!, queueOf(rest))).toHaveLength(2);
  });

  it('stops at a heavy unit, a batch of firings and a unit with a time limit', () => {
    for (const stop of [heavy('h'), firings('a'), poolUnit('t', { timeoutMs: 10 })]) {
      const [first, second, third] = light(3);
      const queue = queueOf([second!, stop, third!]);
      expect(new DispatchGate(1, 1, 32).gather(first!, queue)).toEqual([first, second]);
      expect(queue.peek()).toBe(stop);
    }
  });

  it('drops cancelled units on the way', () => {
    const [first, second, third] = light(3);
    const cancelled = poolUnit('x', { cancelled: true });
    const queue = queueOf([second!, cancelled, third!]);
    expect(new DispatchGate(1, 1, 32).gather(first!, queue)).toEqual([first, second, third]);
    expect(queue.size).toBe(0);
  });

  it('groups batches of firings with batches of firings only, within their own budget', () => {
    const cost = kFiringBudgetMs / 4;
    const batches = Array.from({ length: 6 }, (_, i) => firings(`b${i}`, cost));
    const [first, ...rest] = batches;
    const queue = queueOf(rest);
    expect(new DispatchGate(1, 1, 32).gather(first!, queue)).toEqual(batches.slice(0, 4));
    expect(queue.size).toBe(2);
    const [node] = light(1);
    const mixed = queueOf([batches[1]!, node!, batches[2]!]);
    expect(new DispatchGate(1, 1, 32).gather(first!, mixed)).toEqual([first, batches[1]]);
    expect(mixed.peek()).toBe(node);
  });

  it('leaves room in the slot table', () => {
    const gate = new DispatchGate(1, 1, 4);
    for (const unit of light(2)) gate.entered(unit);
    const [first, ...rest] = light(10);
    expect(gate.gather(first!, queueOf(rest))).toHaveLength(2);
  });
});
