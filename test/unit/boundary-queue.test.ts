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

  it('counts each source once a second one queues behind the first, and frees a lone source again', () => {
    const queue = new BoundaryQueue(4, () => {});
    expect(fill(queue, 'a', 2)).toBe(2);
    expect(fill(queue, 'b', 1, 2)).toBe(1);
    // Both queued: four slots shared by two sources, a already holds its two.
    expect(queue.hasRoomFor('b')).toBe(true);
    expect(queue.hasRoomFor('a')).toBe(false);
    expect([queue.shift()?.source, queue.shift()?.source, queue.shift()?.source]).toEqual(['a', 'a', 'b']);
    // a was refused and has nothing queued: it still contends, so b gets its share, not the queue.
    expect(fill(queue, 'b', 4, 3)).toBe(2);
    expect([queue.shift()?.seq, queue.shift()?.seq, queue.size]).toEqual([3, 4, 0]);
    // b was refused in turn: a, admitted again, gets its share while b contends.
    expect(fill(queue, 'a', 10, 5)).toBe(2);
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
