/**
 * Values under a reactor (contract 3.1 and 5): what a node returns can fail only its own firing,
 * under both strategies and on both executors (a 10,000-deep object or a throwing getter used
 * to kill the process under `latest` and wedge a `sequential` reactor); what a node does to its
 * input reaches neither the reactor's cache nor the fire record; an event no node could receive
 * is refused by `push`, naming the accumulator and the path, and one it accepts is copied, so the
 * caller's later changes reach nothing, nor do changes to what `getState()` gave; what a node gives `host.push` is
 * handed over as a copy, as it is from a worker.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  AccumulatorError,
  GraphExecutionError,
  UncloneableValueError,
  memoryBroker,
  passthroughAccumulator,
  pollingAccumulator,
  reactor,
  streamAccumulator,
  type AccumulatorDeclaration,
  type FireRecord,
} from 'cloaca';
import { FireLog, executors, thrownBy, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph, tmp } = useRuntimes();

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  describe.each(['latest', 'sequential'] as const)('%s reactor', (strategy) => {
    async function setup(node: string) {
      const a = unique('a');
      const R = reactor({ name: unique('r'), accumulators: [a], strategy });
      const g = await graph(unique('g'), executor, { reactor: R, graph: { [node]: { inputs: [a] } } });
      const rt = runtime();
      rt.register(passthroughAccumulator({ name: a }), R, g);
      const log = new FireLog(rt);
      await rt.start();
      return { rt, a, log, handle: rt.reactor(R.name) };
    }

    const causeOf = (record: FireRecord): UncloneableValueError => {
      expect(record.ok).toBe(false);
      expect(record.error).toBeInstanceOf(GraphExecutionError);
      expect((record.error as GraphExecutionError).node).toBe('shape');
      const cause = (record.error as GraphExecutionError).cause;
      expect(cause).toBeInstanceOf(UncloneableValueError);
      return cause as UncloneableValueError;
    };

    it('a too-deep or getter-throwing result fails only its own firing; the reactor keeps going', async () => {
      const { rt, a, log, handle } = await setup('shape');
      expect(rt.push(a, { kind: 'deep' })).toBe(true);
      await log.until(1);
      expect(rt.push(a, { kind: 'getter' })).toBe(true);
      await log.until(2);
      expect(rt.push(a, { n: 3 })).toBe(true);
      const records = await log.until(3);

      expect(causeOf(records[0]!).valueType).toBe('too deep');
      const getter = causeOf(records[1]!);
      expect(getter.valueType).toBe('throwing getter');
      expect((getter.cause as Error).message).toBe('getter boom');
      expect(records[2]!.ok).toBe(true);
      expect(records[2]!.outputs).toStrictEqual({ shape: { ok: 3 } });
      await rt.idle();
      expect(handle.getState().queued).toBe(0);
      await rt.shutdown();
      expect(rt.state).toBe('stopped');
    });

    it("a node mutating its input changes neither the reactor's cache nor the fire record", async () => {
      const { rt, a, log, handle } = await setup('mutate_event');
      rt.push(a, { n: 1, list: [1] });
      const [record] = await log.until(1);
      expect(record!.outputs).toStrictEqual({ mutate_event: 'mutated' });
      expect(record!.inputs).toStrictEqual({ [a]: { n: 1, list: [1] } });
      expect(handle.getState().cache).toStrictEqual({ [a]: { n: 1, list: [1] } });
    });

    it('push keeps a copy: the caller mutating the event afterwards changes neither the cache nor the firing', async () => {
      const { rt, a, log, handle } = await setup('shape');
      const event = { n: 5, list: [1], at: new Date(7), payload: Buffer.from('ab') };
      rt.push(a, event);
      event.n = 6;
      event.list.push(2);
      event.at.setTime(8);
      event.payload[0] = 0;
      const [record] = await log.until(1);
      const kept = { n: 5, list: [1], at: new Date(7), payload: Buffer.from('ab') };
      expect(record!.outputs).toStrictEqual({ shape: { ok: 5 } });
      expect(record!.inputs).toStrictEqual({ [a]: kept });
      expect(handle.getState().cache).toStrictEqual({ [a]: kept });
    });

    it('getState() gives copies: changing them changes nothing the reactor holds or its next firing sees', async () => {
      const { rt, a, log, handle } = await setup('shape');
      rt.push(a, { n: 1, list: [1] });
      await log.until(1);
      const given = handle.getState().cache[a] as { n: number; list: number[] };
      given.n = 9;
      given.list.push(2);
      const record = await handle.forceFire();
      expect(record!.inputs).toStrictEqual({ [a]: { n: 1, list: [1] } });
      expect(record!.outputs).toStrictEqual({ shape: { ok: 1 } });
      expect(handle.getState().cache).toStrictEqual({ [a]: { n: 1, list: [1] } });
    });

    it('push refuses an event no node could receive, naming the accumulator and the path', async () => {
      const { rt, a, log } = await setup('shape');
      const error = thrownBy(() => rt.push(a, { n: 1, cb() {} }));
      expect(error).toBeInstanceOf(UncloneableValueError);
      const e = error as UncloneableValueError;
      expect({ accumulator: e.accumulator, path: e.path, valueType: e.valueType }).toStrictEqual({
        accumulator: a,
        path: 'event.cb',
        valueType: 'function',
      });
      expect(e.message).toContain(`accumulator '${a}'`);
      expect(e.message).toContain('event.cb is a function');
      expect(rt.stats().pushed).toBe(0);
      rt.push(a, { n: 2 });
      await rt.idle();
      expect(log.records.map((r) => r.outputs)).toStrictEqual([{ shape: { ok: 2 } }]);
    });
  });

  describe('what user code makes for an accumulator (a poll, a process result, a published message)', () => {
    /** A started runtime with `sources` feeding a `when_any` reactor whose graph snaps them, and its error events. */
    async function setup(
      sources: AccumulatorDeclaration[],
      options: { strategy?: 'latest' | 'sequential'; checkpoint?: string } = {},
    ) {
      const names = sources.map((source) => source.name);
      const R = reactor({ name: unique('r'), accumulators: names, strategy: options.strategy ?? 'latest' });
      const g = await graph(unique('g'), executor, { reactor: R, graph: { snap: { inputs: names } } });
      const rt = runtime(options.checkpoint === undefined ? {} : { checkpoint: options.checkpoint });
      rt.register(...sources, R, g);
      const errors: Error[] = [];
      const reported = new Promise<Error>((resolve) =>
        rt.on('error', (error) => {
          errors.push(error);
          resolve(error);
        }),
      );
      const log = new FireLog(rt);
      await rt.start();
      return { rt, log, errors, reported, handle: rt.reactor(R.name) };
    }

    /** The refusal reported for `accumulator`: an AccumulatorError whose cause names the path. */
    function refusal(error: Error | undefined, accumulator: string, what: string): void {
      expect(error).toBeInstanceOf(AccumulatorError);
      expect((error as AccumulatorError).accumulator).toBe(accumulator);
      expect(error!.message).toBe(
        `accumulator '${accumulator}': ${what} cannot be cloned: value.cb is a function; dropped`,
      );
      const cause = error!.cause as UncloneableValueError;
      expect(cause).toBeInstanceOf(UncloneableValueError);
      expect({ accumulator: cause.accumulator, path: cause.path, valueType: cause.valueType }).toStrictEqual({
        accumulator,
        path: 'value.cb',
        valueType: 'function',
      });
    }

    it('a poll result is kept as a copy, and one that cannot be cloned is reported and dropped; the source and the checkpoint keep their last value', async () => {
      const a = unique('a');
      const p = unique('p');
      const polled = { v: 1 };
      let polls = 0;
      const { rt, log, errors, reported, handle } = await setup(
        [
          passthroughAccumulator({ name: a }),
          pollingAccumulator({
            name: p,
            interval: '10ms',
            poll: () => (++polls === 1 ? polled : polls === 2 ? { cb() {} } : undefined),
          }),
        ],
        { checkpoint: join(tmp(), 'poll.db') },
      );
      await log.until(1);
      polled.v = 2;
      refusal(await reported, p, 'the value poll() returned');
      rt.push(a, { n: 1 });
      const records = await log.until(2);
      expect(records.map((r) => [r.ok, r.inputs])).toStrictEqual([
        [true, { [p]: { v: 1 } }],
        [true, { [a]: { n: 1 }, [p]: { v: 1 } }],
      ]);
      await rt.persisted();
      expect(handle.getState().cache).toStrictEqual({ [a]: { n: 1 }, [p]: { v: 1 } });
      // Only the refusal: the checkpoint wrote the reactor and the poll's value throughout.
      expect(errors).toHaveLength(1);
    });

    it('a process result is the boundary as a copy: one object reused for every event still fires each as it was; one that cannot be cloned is dropped', async () => {
      const a = unique('a');
      const reused = { n: 0 };
      const { rt, log, errors, handle } = await setup(
        [
          passthroughAccumulator({
            name: a,
            process: (e: { n: number }) => {
              if (e.n === 3) return { cb() {} };
              reused.n = e.n;
              return reused;
            },
          }),
        ],
        { strategy: 'sequential' },
      );
      handle.pause();
      for (const n of [1, 2, 3, 4]) expect(rt.push(a, { n })).toBe(true);
      refusal(errors[0], a, 'the value process() returned');
      handle.resume();
      const records = await log.until(3);
      expect(records.map((r) => r.inputs)).toStrictEqual([{ [a]: { n: 1 } }, { [a]: { n: 2 } }, { [a]: { n: 4 } }]);
      expect(records.every((r) => r.ok)).toBe(true);
      expect(errors).toHaveLength(1);
    });

    it('a published message is kept as a copy; one that cannot be cloned is reported, acknowledged and dropped', async () => {
      const s = unique('s');
      const topic = memoryBroker.topic(unique('topic'));
      const { log, reported } = await setup(
        [streamAccumulator({ name: s, type: 'memory', topic: topic.name, group: 'g' })],
        {
          strategy: 'sequential',
        },
      );
      const message = { n: 1 };
      topic.publish(message);
      message.n = 9;
      topic.publish({ cb() {} });
      topic.publish({ n: 2 });
      refusal(await reported, s, 'a received message');
      const records = await log.until(2);
      expect(records.map((r) => r.inputs)).toStrictEqual([{ [s]: { n: 1 } }, { [s]: { n: 2 } }]);
      await expect.poll(() => topic.committed('g')).toBe(3);
    });
  });

  it("what a node gives host.push is a copy: mutating it afterwards reaches no reactor's cache", async () => {
    const input = unique('in');
    const out = unique('out');
    const R1 = reactor({ name: unique('r1'), accumulators: [input], strategy: 'sequential' });
    const R2 = reactor({ name: unique('r2'), accumulators: [out] });
    // Built without a pool: the runtime's own pool is the one whose workers reach its host.
    const talker = await graph(
      unique('talker'),
      executor,
      { reactor: R1, graph: { push_then_mutate: { inputs: [input] } } },
      { sharedPool: true },
    );
    const listener = await graph(unique('listener'), 'inline', { reactor: R2, graph: { snap: { inputs: [out] } } });
    const rt = runtime();
    rt.register(
      passthroughAccumulator({ name: input }),
      passthroughAccumulator({ name: out }),
      R1,
      R2,
      talker,
      listener,
    );
    const log = new FireLog(rt);
    await rt.start();
    rt.push(input, { to: out, n: 1 });
    await rt.idle();
    expect(log.of(talker.name).map((r) => r.outputs)).toStrictEqual([{ push_then_mutate: 'pushed' }]);
    expect(rt.reactor(R2.name).getState().cache).toStrictEqual({ [out]: { n: 1, list: [1] } });
  });
});
