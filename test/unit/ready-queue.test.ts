/** The pool's ready queue (src/exec/ready-queue.ts) and its order (src/exec/pool-unit.ts). */
import { describe, expect, it } from 'vitest';
import { runsBefore } from '../../src/exec/pool-unit.js';
import { ReadyQueue } from '../../src/exec/ready-queue.js';
import { poolUnit } from './support/pool-units.js';

describe('ReadyQueue', () => {
  it('pops in comparator order whatever the push order', () => {
    const queue = new ReadyQueue<number>((a, b) => a < b);
    const values = [5, 3, 9, 1, 7, 3, 8, 2, 6, 4, 0];
    for (const v of values) queue.push(v);
    expect(queue.size).toBe(values.length);
    expect(queue.peek()).toBe(0);
    const out: number[] = [];
    while (queue.size > 0) out.push(queue.pop()!);
    expect(out).toEqual([...values].sort((a, b) => a - b));
    expect(queue.pop()).toBeUndefined();
    expect(queue.peek()).toBeUndefined();
  });

  it('keeps its order across interleaved pushes and pops', () => {
    const queue = new ReadyQueue<number>((a, b) => a < b);
    queue.push(4);
    queue.push(2);
    expect(queue.pop()).toBe(2);
    queue.push(1);
    queue.push(3);
    expect(queue.pop()).toBe(1);
    expect(queue.pop()).toBe(3);
    expect(queue.pop()).toBe(4);
    expect(queue.size).toBe(0);
  });

  it('drains everything and is empty after', () => {
    const queue = new ReadyQueue<number>((a, b) => a < b);
    for (const v of [3, 1, 2]) queue.push(v);
    expect(queue.drain().sort()).toEqual([1, 2, 3]);
    expect(queue.size).toBe(0);
  });
});

describe('runsBefore', () => {
  it('serves an older run first, then the longer remaining path', () => {
    const queue = new ReadyQueue(runsBefore);
    const late = poolUnit('late', { seq: 2, rank: 100 });
    const short = poolUnit('short', { seq: 1, rank: 1 });
    const long = poolUnit('long', { seq: 1, rank: 5 });
    for (const unit of [late, short, long]) queue.push(unit);
    expect([queue.pop(), queue.pop(), queue.pop()]).toEqual([long, short, late]);
  });
});
