/**
 * `StreamAccumulator.lag()`, for metrics: entries the group has not read yet, and entries this
 * consumer received and has not acknowledged. Driven through a host of the test's own, which
 * makes room in the reactors when the test says so.
 */
import { expect, it } from 'vitest';
// The accumulator itself is not public API: it is reached in the built package.
import { instantiate, type AccumulatorHost } from '../../dist/src/accumulators/accumulator.js';
import { connectRedisStream } from '../../dist/src/accumulators/redis-stream.js';
import { streamAccumulator, type StreamAccumulator } from '../../dist/src/accumulators/stream.js';
import { unique } from '../runtime/support.js';
import { describeWithRedis, useRedisServer } from '../support/redis-server.js';

const server = useRedisServer();

/** A host whose reactors take `room` boundaries, then none until `makeRoom()`; awaitable progress. */
class TestHost implements AccumulatorHost {
  readonly emitted: unknown[] = [];
  readonly errors: Error[] = [];
  room: number;
  #roomWaiters: Array<() => void> = [];
  #progressWaiters: Array<() => void> = [];

  constructor(room: number) {
    this.room = room;
  }

  emit(value: unknown): boolean {
    this.emitted.push(value);
    this.room--;
    return true;
  }
  keyOf(): undefined {
    return undefined;
  }
  fail(error: Error): void {
    this.errors.push(error);
  }
  setHealth(): void {}
  save(): void {}
  canEmit(): boolean {
    return this.room > 0;
  }
  whenCanEmit(): Promise<void> {
    return this.canEmit() ? Promise.resolve() : new Promise((resolve) => this.#roomWaiters.push(resolve));
  }
  progressed(): void {
    for (const wake of this.#progressWaiters.splice(0)) wake();
  }
  durable(): Promise<void> {
    return Promise.resolve();
  }
  readonly queueCapacity = 10_000;
  readonly runtimeId = undefined;
  streamBackend(): typeof connectRedisStream {
    return connectRedisStream;
  }

  makeRoom(room: number): void {
    this.room = room;
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /** Resolves once `ready()` holds, checked at every progress report. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((resolve) => this.#progressWaiters.push(resolve));
  }
}

describeWithRedis('stream lag', () => {
  it('counts entries not read by the group and entries received but not acknowledged', async () => {
    const client = await server().client();
    const stream = unique('stream');
    const group = unique('group');
    await client.xGroupCreate(stream, group, '$', { MKSTREAM: true });
    await Promise.all(Array.from({ length: 250 }, (_, n) => client.xAdd(stream, '*', { data: String(n) })));

    const accumulator = instantiate(
      streamAccumulator({ name: unique('s'), type: 'redis', topic: stream, group, options: { url: server().url } }),
    ) as StreamAccumulator;
    const host = new TestHost(30);
    accumulator.attach(host);
    accumulator.start();
    try {
      // One batch of 100 read, 30 delivered and acknowledged, 70 waiting for room.
      await host.until(() => host.emitted.length === 30 && accumulator.lag().unacknowledged === 70);
      expect(accumulator.lag()).toStrictEqual({ unread: 150, unacknowledged: 70 });
      expect((await client.xPending(stream, group)).pending).toBe(70);

      host.makeRoom(Number.POSITIVE_INFINITY);
      await host.until(() => host.emitted.length === 250 && accumulator.lag().unacknowledged === 0);
      await host.until(() => accumulator.lag().unread === 0);
      expect(accumulator.lag()).toStrictEqual({ unread: 0, unacknowledged: 0 });
      expect(host.emitted).toStrictEqual(Array.from({ length: 250 }, (_, n) => n));
      expect(host.errors).toStrictEqual([]);
    } finally {
      await accumulator.stop();
    }
  });
});
