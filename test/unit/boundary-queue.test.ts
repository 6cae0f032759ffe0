/** The sequential queue (src/reactor/boundary-queue.ts): order, its bound, fairness, the room signal. */
import { describe, expect, it } from 'vitest';
import { BoundaryQueue } from '../../src/reactor/boundary-queue.js';

function fill(queue: BoundaryQueue, source: string, count: number, from = 0): number {
  let admitted = 0;
  for (let i = 0; i < count && queue.hasRoomFor(source); i++, admitted++) {
    queue.push({ seq: from + i, source, value: i });
  }
  return admitted;
}

describe('BoundaryQueue', () => {
  it('gives boundaries back in arrival order and peeks without taking', () => {
    const queue = new BoundaryQueue(10, () => {});
    fill(queue, 'a', 3);
    expect(queue.size).toBe(3);
    expect(queue.peek(1)?.seq).toBe(1);
    expect([queue.shift()?.seq, queue.shift()?.seq, queue.shift()?.seq]).toEqual([0, 1, 2]);
    expect(queue.shift()).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it('lets a lone source fill the whole queue, then refuses', () => {
    const queue = new BoundaryQueue(4, () => {});
    expect(fill(queue, 'a', 10)).toBe(4);
    expect(queue.hasRoomFor('a')).toBe(false);
  });

  it('holds a source to its share while another source contends', () => {
    const queue = new BoundaryQueue(4, () => {});
    expect(fill(queue, 'a', 4)).toBe(4);
    expect(queue.hasRoomFor('b')).toBe(false); // full: b is refused and now contends
    queue.shift();
    queue.shift();
    // Two contending sources: each may hold at most 2 of 4; a already holds 2.
    expect(queue.hasRoomFor('a')).toBe(false);
    expect(queue.hasRoomFor('b')).toBe(true);
  });

  it('signals room once, when a full queue has drained to half', () => {
    let rooms = 0;
    const queue = new BoundaryQueue(4, () => rooms++);
    fill(queue, 'a', 4);
    expect(queue.hasRoomFor('a')).toBe(false);
    queue.shift();
    expect(rooms).toBe(0);
    queue.shift();
    expect(rooms).toBe(1);
    queue.shift();
    queue.shift();
    expect(rooms).toBe(1);
  });
});
