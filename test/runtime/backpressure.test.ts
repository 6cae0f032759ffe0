/**
 * Backpressure (contract section 6): queues are bounded; past the bound `push` returns false
 * (the event was not accepted), `whenWritable()` and the `drain` event say when to retry, memory
 * stays flat and nothing is silently dropped.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { batchAccumulator, memoryBroker, passthroughAccumulator, reactor, streamAccumulator } from 'cloaca';
import { Control, FireLog, executors, turn, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph } = useRuntimes();

setFlagsFromString('--expose-gc');
/** A full garbage collection, so heap readings show what is retained. */
const collectGarbage = runInNewContext('gc') as () => void;

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  async function setup(node: string, queueCapacity = 100) {
    const a = unique('a');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a], strategy: 'sequential' });
    const g = await graph(unique('g'), executor, { reactor: R, graph: { [node]: { inputs: [a] } } });
    const rt = runtime({ queueCapacity });
    rt.register(passthroughAccumulator({ name: a }), R, g);
    const log = new FireLog(rt);
    await rt.start();
    return { rt, a, name, log, handle: rt.reactor(name) };
  }

  it('push returns false past the bound; whenWritable() and drain resolve once the queue drains', async () => {
    const { rt, a, handle, log } = await setup('gated');
    const control = new Control();
    const drains: string[] = [];
    rt.on('drain', (name) => drains.push(name));
    expect(rt.push(a, control.tag(0))).toBe(true);
    await control.entered(1); // the first boundary is firing (held), so no longer queued
    let accepted = 1;
    while (rt.push(a, control.tag(accepted))) accepted++;
    expect(accepted).toBe(101);
    expect(handle.getState().queued).toBe(100);
    expect(rt.push(a, control.tag(-1))).toBe(false);
    expect(handle.getState().queued).toBe(100);
    expect(rt.stats()).toMatchObject({ pushed: 101, refused: 2 });

    let writable = false;
    const whenWritable = rt.whenWritable(a).then(() => {
      writable = true;
    });
    for (let i = 0; i < 3; i++) await turn();
    expect(writable).toBe(false);
    expect(drains).toStrictEqual([]);
    control.open();
    await whenWritable;
    expect(drains).toStrictEqual([a]);
    expect(rt.push(a, control.tag(accepted++))).toBe(true);
    await rt.idle();
    // Every accepted event fired once, in order; the refused ones never did.
    expect(log.records.map((r) => (r.outputs?.gated as number[])[0])).toStrictEqual(
      Array.from({ length: accepted }, (_, i) => i),
    );
  });

  const attempts = executor === 'inline' ? 200_000 : 20_000;
  it(`${attempts} push attempts against a bound of 100: the queue never exceeds it, memory stays flat, accepted == fired`, async () => {
    const { rt, a, handle, log } = await setup('later');
    log.stop(); // keep no records: the heap must show only what the runtime holds
    let fired = 0;
    let last: unknown;
    let maxQueued = 0;
    rt.on('fire', (record) => {
      fired++;
      last = record.outputs?.later;
      maxQueued = Math.max(maxQueued, handle.getState().queued);
    });
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = 0;
    let accepted = 0;
    let refused = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (rt.push(a, accepted)) {
        accepted++;
        if ((accepted & 63) === 0) maxQueued = Math.max(maxQueued, handle.getState().queued);
      } else {
        refused++;
        maxQueued = Math.max(maxQueued, handle.getState().queued);
        await rt.whenWritable(a);
      }
      if (attempt % (attempts / 4) === 0) {
        collectGarbage();
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed - heapBefore);
      }
    }
    await rt.idle();
    expect(refused).toBeGreaterThan(0);
    expect(accepted + refused).toBe(attempts);
    expect(maxQueued).toBe(100);
    expect(fired).toBe(accepted);
    expect(last).toBe(accepted - 1);
    expect(rt.stats().reactors[handle.name]!.fires).toBe(accepted);
    // An unbounded queue holding 200,000 boundaries measures about 12 MB here; bounded, under 1 MB.
    expect(heapPeak).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('other bounded queues', () => {
  it('a batch without maxBufferSize buffers at most queueCapacity events; a flush makes it writable again', async () => {
    const b = unique('b');
    const name = unique('r');
    const R = reactor({ name, accumulators: [b] });
    const g = await graph(unique('g'), 'inline', { reactor: R, graph: { ident: { inputs: [b] } } });
    const rt = runtime({ queueCapacity: 5 });
    rt.register(batchAccumulator({ name: b }), R, g);
    const log = new FireLog(rt);
    const drains: string[] = [];
    rt.on('drain', (n) => drains.push(n));
    await rt.start();
    for (let n = 1; n <= 5; n++) expect(rt.push(b, n)).toBe(true);
    expect(rt.push(b, 6)).toBe(false);
    const writable = rt.whenWritable(b);
    // Nothing flushes by itself; a successful firing of the reactor does.
    await rt.reactor(name).forceFire();
    await writable;
    expect(drains).toStrictEqual([b]);
    expect(rt.push(b, 6)).toBe(true);
    await rt.shutdown();
    expect(log.records.map((r) => r.outputs?.ident)).toStrictEqual([undefined, [1, 2, 3, 4, 5], [6]]);
  });

  it('shutdown does not wait for a stream blocked on a paused, full reactor; what it did not take stays on the topic', async () => {
    const topic = memoryBroker.topic(unique('topic'));
    const group = unique('group');
    const s = unique('s');
    const start = async () => {
      const R = reactor({ name: unique('r'), accumulators: [s], strategy: 'sequential' });
      const g = await graph(unique('g'), 'inline', { reactor: R, graph: { ident: { inputs: [s] } } });
      const rt = runtime({ queueCapacity: 5 });
      rt.register(streamAccumulator({ name: s, type: 'memory', topic: topic.name, group }), R, g);
      const log = new FireLog(rt);
      return { rt, log, handle: rt.reactor(R.name) };
    };
    const first = await start();
    await first.rt.start();
    first.handle.pause();
    for (let n = 0; n < 20; n++) topic.publish(n);
    while (first.handle.getState().queued < 5) await turn();
    await first.rt.shutdown();
    expect(first.log.records).toHaveLength(0);
    expect(topic.committed(group)).toBe(5);
    // The next consumer of the group starts after the last commit.
    const second = await start();
    await second.rt.start();
    await second.log.until(15);
    expect(second.log.records.map((r) => r.outputs?.ident)).toStrictEqual(Array.from({ length: 15 }, (_, i) => i + 5));
  });

  it('a stream stops receiving while its sequential reactor is full, and loses nothing', async () => {
    const topic = memoryBroker.topic(unique('topic'));
    const s = unique('s');
    const name = unique('r');
    const R = reactor({ name, accumulators: [s], strategy: 'sequential' });
    const g = await graph(unique('g'), 'inline', { reactor: R, graph: { gated: { inputs: [s] } } });
    const rt = runtime({ queueCapacity: 10 });
    rt.register(streamAccumulator({ name: s, type: 'memory', topic: topic.name }), R, g);
    const log = new FireLog(rt);
    const handle = rt.reactor(name);
    const control = new Control();
    let maxQueued = 0;
    rt.on('fire', () => (maxQueued = Math.max(maxQueued, handle.getState().queued)));
    await rt.start();
    for (let n = 0; n < 60; n++) expect(topic.publish(control.tag(n))).toBe(true);
    await control.entered(1);
    while (handle.getState().queued < 10) await turn();
    // Full: the stream stops receiving (1 firing + 10 queued taken off the topic) and waits.
    for (let i = 0; i < 5; i++) await turn();
    expect(handle.getState().queued).toBe(10);
    expect(rt.stats().accumulators[s]!.events).toBe(11);
    control.open();
    await log.until(60);
    await rt.idle();
    expect(maxQueued).toBeLessThanOrEqual(10);
    expect(log.records.map((r) => (r.outputs?.gated as number[])[0])).toStrictEqual(
      Array.from({ length: 60 }, (_, i) => i),
    );
  });
});

describe('fair admission across the sources of one reactor', () => {
  it.each(executors)(
    'a producer retrying in a tight loop cannot starve a batch source feeding the same reactor (%s)',
    async (executor) => {
      const flood = unique('flood');
      const fills = unique('fills');
      const R = reactor({ name: unique('r'), accumulators: [flood, fills], strategy: 'sequential' });
      const g = await graph(unique('g'), executor, { reactor: R, graph: { later: { inputs: [flood] } } });
      const rt = runtime({ queueCapacity: 100 });
      rt.register(passthroughAccumulator({ name: flood }), batchAccumulator({ name: fills, maxBufferSize: 10 }), R, g);
      await rt.start();
      const floodEvents = 3000;
      let floodAccepted = 0;
      let floodAcceptedWhenFillsDone = -1;
      const producing = async (name: string, count: number, accepted: () => void) => {
        for (let n = 0; n < count; n++) {
          while (!rt.push(name, n)) await rt.whenWritable(name);
          accepted();
        }
      };
      await Promise.all([
        producing(flood, floodEvents, () => floodAccepted++),
        producing(fills, 200, () => undefined).then(() => (floodAcceptedWhenFillsDone = floodAccepted)),
      ]);
      await rt.idle();
      expect(rt.reactor(R.name).getState().cache[fills]).toHaveLength(10);
      // The batch source got its share while the flood went on, not after it.
      expect(floodAcceptedWhenFillsDone).toBeGreaterThanOrEqual(0);
      expect(floodAcceptedWhenFillsDone).toBeLessThan(floodEvents / 2);
    },
  );
});
