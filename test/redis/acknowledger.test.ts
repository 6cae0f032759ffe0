/**
 * Acknowledgement rounds of a stream consumer: a round waits for durability, then acknowledges
 * everything added before it in one call; what is added meanwhile goes in the next round, in
 * order; a failed commit keeps its positions for a later round; a failed acknowledgement is
 * reported and dropped (the backend delivers those messages again).
 */
import { describe, expect, it } from 'vitest';
// Internal: reached in the built package.
import { Acknowledger } from '../../dist/src/accumulators/stream-acks.js';
import type { StreamBackend } from '../../dist/src/accumulators/stream-backend.js';
import { deferred, type Deferred } from '../runtime/support.js';

/** A backend that records acknowledgement calls; each call settles when the test says. */
class Recording implements Pick<StreamBackend, 'ack'> {
  readonly calls: unknown[][] = [];
  readonly answers: Array<Deferred<void>> = [];
  #waiters: Array<{ n: number; resolve: () => void }> = [];

  ack(positions: readonly unknown[]): Promise<void> {
    this.calls.push([...positions]);
    const answer = deferred();
    this.answers.push(answer);
    this.#waiters = this.#waiters.filter((w) => (this.calls.length >= w.n ? (w.resolve(), false) : true));
    return answer.promise;
  }

  /** Resolves once ack() has been called `n` times. */
  called(n: number): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

function setup(durable: () => Promise<void> = () => Promise.resolve()) {
  const backend = new Recording();
  const failures: Array<{ error: unknown; count: number }> = [];
  let settled = deferred();
  const acks = new Acknowledger(backend as unknown as StreamBackend, {
    durable,
    failed: (error, count) => failures.push({ error, count }),
    settled: () => settled.resolve(),
  });
  const nextSettled = (): Promise<void> => {
    const current = settled.promise;
    return current.then(() => {
      settled = deferred();
    });
  };
  return { backend, failures, acks, nextSettled };
}

describe('Acknowledger', () => {
  it('acknowledges what was added in one call per round; what comes meanwhile goes in the next, in order', async () => {
    const { backend, acks, nextSettled } = setup();
    for (const p of [1, 2, 3]) acks.add(p);
    acks.flush();
    expect(acks.busy).toBe(true);
    await backend.called(1);
    for (const p of [4, 5]) acks.add(p);
    acks.flush(); // a round runs: the next one takes them
    expect(acks.pending).toBe(5);
    backend.answers[0]!.resolve();
    await backend.called(2);
    expect(acks.pending).toBe(2);
    backend.answers[1]!.resolve();
    await nextSettled();
    expect(backend.calls).toStrictEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(acks.pending).toBe(0);
    expect(acks.busy).toBe(false);
  });

  it('waits for durability first; a failed commit keeps the positions for a later round, ahead of new ones', async () => {
    let commits = 0;
    const { backend, acks, nextSettled } = setup(() =>
      ++commits === 1 ? Promise.reject(new Error('disk full')) : Promise.resolve(),
    );
    acks.add('a');
    acks.add('b');
    acks.flush();
    await nextSettled();
    expect(backend.calls).toStrictEqual([]);
    expect(acks.pending).toBe(2);
    expect(acks.busy).toBe(false);
    acks.add('c');
    acks.flush();
    await backend.called(1);
    backend.answers[0]!.resolve();
    await nextSettled();
    expect(backend.calls).toStrictEqual([['a', 'b', 'c']]);
    expect(acks.pending).toBe(0);
  });

  it('a failed acknowledgement is reported with its count and not retried', async () => {
    const { backend, acks, failures, nextSettled } = setup();
    acks.add(1);
    acks.add(2);
    acks.flush();
    await backend.called(1);
    backend.answers[0]!.reject(new Error('connection lost'));
    await nextSettled();
    expect(failures).toHaveLength(1);
    expect(failures[0]!.count).toBe(2);
    expect((failures[0]!.error as Error).message).toBe('connection lost');
    expect(acks.pending).toBe(0);
  });

  it('drain() acknowledges everything added so far and resolves when done', async () => {
    const { backend, acks } = setup();
    acks.add(1);
    const drained = acks.drain();
    await backend.called(1);
    backend.answers[0]!.resolve();
    await drained;
    expect(backend.calls).toStrictEqual([[1]]);
    expect(acks.pending).toBe(0);
  });
  it('acknowledges nothing more once discarded, not even a round waiting for durability', async () => {
    const durable = deferred();
    const { backend, acks, nextSettled } = setup(() => durable.promise);
    for (const p of [1, 2]) acks.add(p);
    acks.flush();
    acks.discard();
    acks.add(3);
    durable.resolve();
    await nextSettled();
    acks.flush();
    await acks.drain();
    expect(backend.calls).toStrictEqual([]);
    expect(acks.pending).toBe(0);
  });
});
