/**
 * Accumulator kinds (contract section 6): batch flush triggers, polling cadence and failures,
 * state windows and graph feedback, passthrough drops. Where a graph is involved the test runs
 * on both executors.
 */
import { describe, expect, it } from 'vitest';
import {
  AccumulatorError,
  batchAccumulator,
  passthroughAccumulator,
  pollingAccumulator,
  reactor,
  stateAccumulator,
  type Runtime,
} from 'cloaca';
import { FireLog, deferred, executors, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph } = useRuntimes();

/** Collects the runtime's `error` events. */
function errorsOf(rt: Runtime): Error[] {
  const errors: Error[] = [];
  rt.on('error', (error) => errors.push(error));
  return errors;
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  describe('batch', () => {
    /** A batch accumulator (plus passthrough `trig`) feeding a reactor whose graph snaps both. */
    async function setup(batch: { flushInterval?: string; maxBufferSize?: number }) {
      const fills = unique('fills');
      const clock = unique('clock');
      let ticks = 0;
      let tickWaiters: Array<{ at: number; resolve: () => void }> = [];
      const trig = unique('trig');
      const name = unique('r');
      const batches: unknown[][] = [];
      const R = reactor({ name, accumulators: [trig, fills] });
      const g = await graph(unique('g'), executor, {
        reactor: R,
        graph: { fail_if: { inputs: [trig], next: 'snap' }, snap: { inputs: [fills] } },
      });
      const rt = runtime();
      rt.register(
        batchAccumulator({
          name: fills,
          ...batch,
          process: (events: unknown[]) => {
            batches.push([...events]);
            return events;
          },
        }),
        passthroughAccumulator({ name: trig }),
        // A clock that feeds nobody: lets a test wait for timer ticks without sleeping.
        pollingAccumulator({
          name: clock,
          interval: '20ms',
          poll: () => {
            ticks++;
            tickWaiters = tickWaiters.filter((w) => (ticks >= w.at ? (w.resolve(), false) : true));
            return undefined;
          },
        }),
        R,
        g,
      );
      const log = new FireLog(rt);
      await rt.start();
      /** Resolves after `count` more ticks of the 20 ms clock. */
      const ticked = (count: number) =>
        new Promise<void>((resolve) => tickWaiters.push({ at: ticks + count, resolve }));
      /** The batch each record saw. */
      const filled = () => log.records.map((r) => r.inputs[fills]);
      return { rt, fills, trig, name, batches, log, ticked, filled };
    }

    it('flushes when maxBufferSize events are buffered', async () => {
      const { rt, fills, batches, log, filled } = await setup({ maxBufferSize: 3 });
      rt.push(fills, 1);
      rt.push(fills, 2);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      expect(batches).toStrictEqual([]);
      rt.push(fills, 3);
      await rt.idle();
      expect(batches).toStrictEqual([[1, 2, 3]]);
      expect(filled()).toStrictEqual([[1, 2, 3]]);
    });

    it('flushes every flushInterval, and never with an empty batch', async () => {
      const { rt, fills, batches, log, ticked, filled } = await setup({ flushInterval: '20ms' });
      rt.push(fills, 'x');
      rt.push(fills, 'y');
      await log.until(1);
      expect(batches).toStrictEqual([['x', 'y']]);
      // The flush timer ticks on an empty buffer meanwhile: no call, no boundary.
      await ticked(3);
      expect(batches).toStrictEqual([['x', 'y']]);
      expect(log.records).toHaveLength(1);
      rt.push(fills, 'z');
      await log.until(2);
      expect(batches).toStrictEqual([['x', 'y'], ['z']]);
      expect(filled()).toStrictEqual([['x', 'y'], ['z']]);
    });

    it('flushes after each successful firing of its reactor, not after a failed one', async () => {
      const { rt, fills, trig, batches, log, filled } = await setup({});
      rt.push(fills, 1);
      rt.push(fills, 2);
      await rt.idle();
      expect(log.records).toHaveLength(0); // no size, no interval: nothing flushes by itself
      rt.push(trig, { v: 'go' });
      await rt.idle();
      // Firing 1 (trig) succeeded, so the batch flushed, which fired again with it.
      expect(batches).toStrictEqual([[1, 2]]);
      expect(filled()).toStrictEqual([undefined, [1, 2]]);
      // After the second firing the buffer was empty: process was not called again.
      rt.push(fills, 3);
      rt.push(trig, { v: 'bad', fail: true });
      await rt.idle();
      expect(log.records.at(-1)!.ok).toBe(false);
      expect(batches).toStrictEqual([[1, 2]]);
      rt.push(trig, { v: 'again' });
      await rt.idle();
      expect(batches).toStrictEqual([[1, 2], [3]]);
      expect(filled().at(-1)).toStrictEqual([3]);
      expect(batches.every((b) => b.length > 0)).toBe(true);
    });

    it('delivers its last batch at shutdown (a firing happens during shutdown)', async () => {
      const { rt, fills, batches, log, filled } = await setup({});
      rt.push(fills, 'a');
      rt.push(fills, 'b');
      await rt.idle();
      expect(log.records).toHaveLength(0);
      await rt.shutdown();
      expect(batches).toStrictEqual([['a', 'b']]);
      expect(log.records).toHaveLength(1);
      expect(log.records[0]!.ok).toBe(true);
      expect(filled()).toStrictEqual([['a', 'b']]);
    });

    it('shutdown with an empty buffer calls no process', async () => {
      const { rt, batches, log } = await setup({ maxBufferSize: 2 });
      await rt.shutdown();
      expect(batches).toStrictEqual([]);
      expect(log.records).toHaveLength(0);
    });
  });

  describe('state', () => {
    async function setup(capacity: number) {
      const st = unique('st');
      const R = reactor({ name: unique('r'), accumulators: [st], strategy: 'sequential' });
      const g = await graph(unique('g'), executor, { reactor: R, graph: { ident: { inputs: [st] } } });
      const rt = runtime();
      rt.register(stateAccumulator({ name: st, capacity }), R, g);
      const log = new FireLog(rt);
      await rt.start();
      return { rt, st, log };
    }

    it('capacity > 0 keeps the newest N; every write emits the whole window, oldest first', async () => {
      const { rt, st, log } = await setup(3);
      for (let n = 1; n <= 5; n++) rt.push(st, n);
      await rt.idle();
      expect(log.records.map((r) => r.outputs?.ident)).toStrictEqual([[1], [1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]);
    });

    it('capacity < 0 is unbounded', async () => {
      const { rt, st, log } = await setup(-1);
      for (let n = 1; n <= 40; n++) rt.push(st, n);
      await rt.idle();
      expect(log.records).toHaveLength(40);
      expect(log.records.at(-1)!.outputs?.ident).toStrictEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it('capacity 0 is a write-only sink that never emits', async () => {
      const { rt, st, log } = await setup(0);
      for (let n = 1; n <= 3; n++) expect(rt.push(st, n)).toBe(true);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      expect(rt.stats().accumulators[st]!.events).toBe(3);
    });
  });

  it("feedback writes a terminal's output into a state accumulator after each firing, which feeds another reactor", async () => {
    const input = unique('in');
    const hist = unique('hist');
    const R1 = reactor({ name: unique('r1'), accumulators: [input], strategy: 'sequential' });
    const R2 = reactor({ name: unique('r2'), accumulators: [hist], strategy: 'sequential' });
    const producer = await graph(unique('producer'), executor, {
      reactor: R1,
      graph: { fail_if: { inputs: [input], next: 'ident' }, ident: {} },
      feedback: { terminal: 'ident', accumulator: hist },
    });
    const consumer = await graph(unique('consumer'), executor, { reactor: R2, graph: { snap: { inputs: [hist] } } });
    const rt = runtime();
    rt.register(
      passthroughAccumulator({ name: input }),
      stateAccumulator({ name: hist, capacity: 2 }),
      R1,
      R2,
      producer,
      consumer,
    );
    const log = new FireLog(rt);
    await rt.start();
    rt.push(input, { v: 1 });
    rt.push(input, { v: 2, fail: true }); // a failed firing writes nothing back
    rt.push(input, { v: 3 });
    rt.push(input, { v: 4 });
    await rt.idle();
    expect(log.of(producer.name).map((r) => r.ok)).toStrictEqual([true, false, true, true]);
    expect(log.of(consumer.name).map((r) => r.outputs?.snap)).toStrictEqual([
      [[{ v: 1 }]],
      [[{ v: 1 }, { v: 3 }]],
      [[{ v: 3 }, { v: 4 }]],
    ]);
  });
});

describe('polling', () => {
  /** A polling accumulator whose poll() is `poll`, feeding a reactor with an inline graph. */
  async function setup(interval: string, poll: () => unknown) {
    const pl = unique('pl');
    const R = reactor({ name: unique('r'), accumulators: [pl] });
    const g = await graph(unique('g'), 'inline', { reactor: R, graph: { ident: { inputs: [pl] } } });
    const rt = runtime();
    rt.register(pollingAccumulator({ name: pl, interval, poll }), R, g);
    const log = new FireLog(rt);
    const errors = errorsOf(rt);
    return { rt, pl, log, errors };
  }

  it('polls first one interval after start, not at start', async () => {
    const calls: number[] = [];
    const first = deferred<number>();
    const { rt, log } = await setup('100ms', () => {
      calls.push(performance.now());
      first.resolve(performance.now());
      return calls.length;
    });
    const started = performance.now();
    await rt.start();
    await rt.idle();
    expect(calls).toHaveLength(0);
    const at = await first.promise;
    // Timers count from the event loop's cached clock, which may lag a little: half is plenty
    // to tell "one interval after start" from "at start".
    expect(at - started).toBeGreaterThanOrEqual(50);
    const [record] = await log.until(1);
    expect(record!.outputs?.ident).toBe(1);
  });

  it('undefined means no change: no boundary, no firing', async () => {
    let calls = 0;
    const fifth = deferred();
    const { rt, log } = await setup('10ms', () => {
      calls++;
      if (calls === 5) fifth.resolve();
      return calls === 3 ? 'changed' : undefined;
    });
    await rt.start();
    await fifth.promise;
    await rt.idle();
    expect(log.records.map((r) => r.outputs?.ident)).toStrictEqual(['changed']);
  });

  it("a throwing poll emits an 'error' event and keeps polling", async () => {
    let calls = 0;
    const { rt, pl, log, errors } = await setup('10ms', async () => {
      calls++;
      if (calls === 1) throw new Error('poll exploded');
      return `poll ${calls}`;
    });
    await rt.start();
    const [record] = await log.until(1);
    expect(record!.outputs?.ident).toBe('poll 2');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AccumulatorError);
    expect((errors[0] as AccumulatorError).accumulator).toBe(pl);
    expect(errors[0]!.message).toContain(pl);
    expect(errors[0]!.message).toContain('poll exploded');
    expect(rt.stats().accumulators[pl]!.failures).toBe(1);
  });
});

describe('passthrough', () => {
  async function setup(process: (event: { v: number; bad?: boolean; drop?: boolean }) => unknown) {
    const p = unique('p');
    const R = reactor({ name: unique('r'), accumulators: [p], strategy: 'sequential' });
    const g = await graph(unique('g'), 'inline', { reactor: R, graph: { ident: { inputs: [p] } } });
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: p, process }), R, g);
    const log = new FireLog(rt);
    const errors = errorsOf(rt);
    await rt.start();
    return { rt, p, log, errors };
  }

  it("a process that throws: 'error' event naming the accumulator, event dropped, later events processed", async () => {
    const { rt, p, log, errors } = await setup((e) => {
      if (e.bad) throw new Error(`bad event ${e.v}`);
      return e.v * 10;
    });
    expect(rt.push(p, { v: 1 })).toBe(true);
    expect(rt.push(p, { v: 2, bad: true })).toBe(true);
    expect(rt.push(p, { v: 3 })).toBe(true);
    await rt.idle();
    expect(log.records.map((r) => r.outputs?.ident)).toStrictEqual([10, 30]);
    expect(errors).toHaveLength(1);
    const error = errors[0] as AccumulatorError;
    expect(error).toBeInstanceOf(AccumulatorError);
    expect(error.accumulator).toBe(p);
    expect(error.message).toContain(`'${p}'`);
    expect(error.event).toStrictEqual({ v: 2, bad: true });
    expect((error.cause as Error).message).toBe('bad event 2');
    expect(rt.stats().accumulators[p]).toMatchObject({ events: 3, failures: 1 });
  });

  it('a process returning undefined drops the event silently', async () => {
    const { rt, p, log, errors } = await setup((e) => (e.drop ? undefined : e.v));
    rt.push(p, { v: 1 });
    rt.push(p, { v: 2, drop: true });
    rt.push(p, { v: 3 });
    await rt.idle();
    expect(log.records.map((r) => r.outputs?.ident)).toStrictEqual([1, 3]);
    expect(errors).toHaveLength(0);
  });

  it('a process that returns a promise is a dropped event, not a boundary', async () => {
    const { rt, p, log, errors } = await setup((e) => Promise.resolve(e.v));
    rt.push(p, { v: 1 });
    await rt.idle();
    expect(log.records).toHaveLength(0);
    expect(errors[0]).toBeInstanceOf(AccumulatorError);
  });
});
