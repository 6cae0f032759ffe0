/**
 * Stream accumulators (the built-in memory backend, consumer groups, custom backends that fail
 * and are retried) and health (contract section 6): reactors go starting -> warming -> live,
 * fire nothing before live and keep what arrives meanwhile; a backend that keeps failing ends
 * `disconnected` and its reactor `degraded`.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  AccumulatorError,
  batchAccumulator,
  memoryBroker,
  passthroughAccumulator,
  pollingAccumulator,
  reactor,
  stateAccumulator,
  streamAccumulator,
  type InputStrategy,
  type StreamBackend,
  type StreamMessage,
} from 'cloaca';
import {
  FireLog,
  HealthLog,
  deferred,
  executors,
  turn,
  unique,
  useRuntimes,
  type Deferred,
  type ExecutorName,
} from './support.js';

const { runtime, graph } = useRuntimes();

/**
 * A scripted backend: delivers `values` one per receive(), then either waits until closed
 * (`then: 'wait'`) or rejects (`then: 'fail'`).
 */
class ScriptedBackend implements StreamBackend {
  readonly acks: unknown[] = [];
  #offset = 0;
  #closed: Deferred<undefined> = deferred<undefined>();

  constructor(
    readonly values: unknown[],
    readonly then: 'wait' | 'fail',
  ) {}

  async receive(): Promise<StreamMessage[] | undefined> {
    if (this.#offset < this.values.length) {
      const offset = this.#offset++;
      return [{ position: offset, value: this.values[offset] }];
    }
    if (this.then === 'fail') throw new Error('scripted receive failure');
    return this.#closed.promise;
  }

  ack(positions: readonly unknown[]): void {
    this.acks.push(...positions);
  }

  close(): void {
    this.#closed.resolve(undefined);
  }
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  async function setup(
    stream: Parameters<typeof streamAccumulator>[0],
    extra: {
      strategy?: InputStrategy;
      withPassthrough?: boolean;
      register?: (rt: ReturnType<typeof runtime>) => void;
    } = {},
  ) {
    const other = unique('other');
    const sources = extra.withPassthrough ? [stream.name, other] : [stream.name];
    const name = unique('r');
    const R = reactor({ name, accumulators: sources, strategy: extra.strategy });
    const g = await graph(unique('g'), executor, { reactor: R, graph: { snap: { inputs: sources } } });
    const rt = runtime();
    extra.register?.(rt);
    rt.register(
      streamAccumulator(stream),
      ...(extra.withPassthrough ? [passthroughAccumulator({ name: other })] : []),
      R,
      g,
    );
    const log = new FireLog(rt);
    const health = new HealthLog(rt);
    const errors: Error[] = [];
    rt.on('error', (error) => errors.push(error));
    return { rt, name, other, log, health, errors, handle: rt.reactor(name) };
  }

  describe('memory backend', () => {
    it('delivers published messages, including those published before start', async () => {
      const topic = memoryBroker.topic(unique('topic'));
      const s = unique('s');
      topic.publish({ px: 1 });
      const { rt, log } = await setup(
        { name: s, type: 'memory', topic: topic.name, process: (m) => (m as { px: number }).px * 2 },
        { strategy: 'sequential' },
      );
      await rt.start();
      await log.until(1);
      topic.publish({ px: 2 });
      topic.publish({ px: 3 });
      await log.until(3);
      await rt.idle();
      expect(log.records.map((r) => r.outputs?.snap)).toStrictEqual([[2], [4], [6]]);
    });

    it('commits what it delivered: a new runtime on the same group does not see those messages again', async () => {
      const topic = memoryBroker.topic(unique('topic'));
      const group = unique('group');
      const s = unique('s');
      const first = await setup({ name: s, type: 'memory', topic: topic.name, group }, { strategy: 'sequential' });
      await first.rt.start();
      for (let n = 1; n <= 3; n++) topic.publish(n);
      await first.log.until(3);
      await first.rt.shutdown();
      expect(topic.committed(group)).toBe(3);
      topic.publish(4);
      topic.publish(5);
      const second = await setup({ name: s, type: 'memory', topic: topic.name, group }, { strategy: 'sequential' });
      await second.rt.start();
      await second.log.until(2);
      await second.rt.idle();
      expect(first.log.records.map((r) => r.outputs?.snap)).toStrictEqual([[1], [2], [3]]);
      expect(second.log.records.map((r) => r.outputs?.snap)).toStrictEqual([[4], [5]]);
      // Another group reads the topic from its oldest retained message, independently.
      expect(topic.committed(unique('fresh'))).toBeUndefined();
    });
  });

  describe('failing backends', () => {
    it('backs off and, when its retries run out, is disconnected for good and its reactor degraded', async () => {
      const type = unique('flaky');
      const s = unique('s');
      let connects = 0;
      const { rt, name, other, health, errors, log, handle } = await setup(
        { name: s, type, topic: 't', retry: { baseMs: 5, maxRetries: 2 } },
        {
          withPassthrough: true,
          register: (rt) =>
            rt.registerStreamBackend(type, () => {
              connects++;
              throw new Error(`connect refused #${connects}`);
            }),
        },
      );
      await rt.start();
      await health.reach(name, 'degraded');
      expect(health.of(s)).toStrictEqual(['connecting', 'disconnected']);
      expect(health.of(name)).toStrictEqual(['warming', 'degraded']);
      expect(connects).toBe(3);
      expect(errors).toHaveLength(3);
      for (const [i, error] of errors.entries()) {
        expect(error).toBeInstanceOf(AccumulatorError);
        expect((error as AccumulatorError).accumulator).toBe(s);
        expect(error.message).toContain(`connect refused #${i + 1}`);
      }
      expect(errors[2]!.message).toMatch(/giving up/);
      expect(handle.getState().health).toBe('degraded');
      expect(rt.stats().accumulators[s]!.health).toBe('disconnected');
      // A degraded reactor still fires on what its other accumulators deliver.
      rt.push(other, 'still here');
      await rt.idle();
      expect(log.records.map((r) => r.outputs?.snap)).toStrictEqual([[undefined, 'still here']]);
      expect(connects).toBe(3);
    });

    it('a backend whose receive() answers no batch is reported, naming the accumulator and the backend type, and disconnected', async () => {
      const type = unique('shapeless');
      const s = unique('s');
      let receives = 0;
      const { rt, name, health, errors, log } = await setup(
        { name: s, type, topic: 't' },
        {
          register: (rt) =>
            rt.registerStreamBackend(type, () => ({
              receive: async () => {
                receives++;
                return { position: 0, value: 'one message, not a batch' } as never;
              },
              ack: () => {},
              close: () => {},
            })),
        },
      );
      await rt.start();
      await health.reach(s, 'disconnected');
      expect(health.of(name)).toContain('degraded');
      expect(receives).toBe(1);
      expect(errors).toHaveLength(1);
      const error = errors[0] as AccumulatorError;
      expect(error).toBeInstanceOf(AccumulatorError);
      expect(error.accumulator).toBe(s);
      expect(error.message).toContain(`accumulator '${s}'`);
      expect(error.message).toContain(`stream backend '${type}'`);
      expect(error.message).toContain('receive() must resolve to an array of messages');
      expect(error.message).toContain('giving up');
      expect((error.cause as { code?: string }).code).toBe('CLOACA_ERR_CONFIGURATION');
      expect(rt.stats().accumulators[s]!.health).toBe('disconnected');
      expect(log.records).toHaveLength(0);
    });

    it('a success resets the count of consecutive failures', async () => {
      const type = unique('flaky');
      const s = unique('s');
      let connects = 0;
      const backends: ScriptedBackend[] = [];
      // fail, fail, ok (1 message, then receive fails), fail, ok (1 message, then waits).
      // Without the reset that is 3 failures in a row, one more than maxRetries 2 allows.
      const script = (n: number): ScriptedBackend => {
        if (n === 3) return new ScriptedBackend(['first'], 'fail');
        if (n === 5) return new ScriptedBackend(['second'], 'wait');
        throw new Error(`connect refused #${n}`);
      };
      const { rt, health, errors, log } = await setup(
        { name: s, type, topic: 't', retry: { baseMs: 5, maxRetries: 2 } },
        {
          strategy: 'sequential',
          register: (rt) =>
            rt.registerStreamBackend(type, async () => {
              const backend = script(++connects);
              backends.push(backend);
              return backend;
            }),
        },
      );
      await rt.start();
      await log.until(2);
      await rt.idle();
      expect(log.records.map((r) => r.outputs?.snap)).toStrictEqual([['first'], ['second']]);
      expect(connects).toBe(5);
      expect(errors).toHaveLength(4);
      expect(health.of(s)).not.toContain('disconnected');
      expect(rt.stats().accumulators[s]!.health).toBe('live');
      expect(backends.map((b) => b.acks)).toStrictEqual([[0], [0]]);
    });
  });

  describe('health', () => {
    it('each accumulator kind reports its health; the reactor goes live once all are healthy', async () => {
      const n = { p: unique('p'), st: unique('st'), b: unique('b'), pl: unique('pl'), s: unique('s') };
      const name = unique('r');
      const R = reactor({ name, accumulators: Object.values(n) });
      const rt = runtime();
      rt.register(
        passthroughAccumulator({ name: n.p }),
        stateAccumulator({ name: n.st, capacity: 1 }),
        batchAccumulator({ name: n.b }),
        pollingAccumulator({ name: n.pl, interval: '1h', poll: () => undefined }),
        streamAccumulator({ name: n.s, type: 'memory', topic: unique('topic') }),
        R,
      );
      const health = new HealthLog(rt);
      await rt.start();
      await health.reach(name, 'live');
      expect(health.of(n.p)).toStrictEqual(['socket_only']);
      expect(health.of(n.st)).toStrictEqual(['socket_only']);
      expect(health.of(n.b)).toStrictEqual(['live']);
      expect(health.of(n.pl)).toStrictEqual(['live']);
      expect(health.of(n.s)).toStrictEqual(['connecting', 'live']);
      expect(health.of(name)).toStrictEqual(['warming', 'live']);
      // The reactor went live only after the last accumulator (the stream) did.
      const index = (target: string, state: string) =>
        health.events.findIndex((e) => e.name === target && e.health === state);
      expect(index(name, 'live')).toBeGreaterThan(index(n.s, 'live'));
    });

    it('a reactor goes starting -> warming -> live', async () => {
      const p = unique('p');
      const name = unique('r');
      const R = reactor({ name, accumulators: [p] });
      const g = await graph(unique('g'), executor, { reactor: R, graph: { snap: { inputs: [p] } } });
      const rt = runtime();
      rt.register(passthroughAccumulator({ name: p }), R, g);
      const health = new HealthLog(rt);
      expect(rt.reactor(name).getState().health).toBe('starting');
      await rt.start();
      expect(health.of(name)).toStrictEqual(['warming', 'live']);
      expect(health.events.filter((e) => e.name === name).map((e) => e.previous)).toStrictEqual([
        'starting',
        'warming',
      ]);
      expect(health.of(p)).toStrictEqual(['socket_only']);
      expect(rt.reactor(name).getState().health).toBe('live');
    });

    it.each(['latest', 'sequential'] as const)(
      'while a stream is still connecting the reactor stays warming, fires nothing, and keeps what arrives (%s)',
      async (strategy) => {
        const type = unique('held');
        const s = unique('s');
        const connected = deferred<StreamBackend>();
        const { rt, name, other, health, log, handle } = await setup(
          { name: s, type, topic: 't' },
          {
            strategy,
            withPassthrough: true,
            register: (rt) => rt.registerStreamBackend(type, () => connected.promise),
          },
        );
        await rt.start();
        expect(health.of(s)).toStrictEqual(['connecting']);
        expect(handle.getState().health).toBe('warming');
        rt.push(other, 1);
        rt.push(other, 2);
        await rt.idle();
        expect(log.records).toHaveLength(0);
        if (strategy === 'latest') {
          expect(handle.getState()).toMatchObject({ cache: { [other]: 2 }, dirty: { [s]: false, [other]: true } });
        } else {
          expect(handle.getState().queued).toBe(2);
        }
        connected.resolve(new ScriptedBackend([], 'wait'));
        await health.reach(name, 'live');
        await rt.idle();
        const seen = log.records.map((r) => r.outputs?.snap);
        expect(seen).toStrictEqual(
          strategy === 'latest'
            ? [[undefined, 2]]
            : [
                [undefined, 1],
                [undefined, 2],
              ],
        );
        expect(health.of(name)).toStrictEqual(['warming', 'live']);
      },
    );

    it('a forceFire issued while warming does not fire before live', async () => {
      const type = unique('held');
      const s = unique('s');
      const connected = deferred<StreamBackend>();
      const { rt, other, log, handle } = await setup(
        { name: s, type, topic: 't' },
        { withPassthrough: true, register: (rt) => rt.registerStreamBackend(type, () => connected.promise) },
      );
      await rt.start();
      rt.push(other, 'kept');
      let settled = false;
      const manual = handle.forceFire().then((record) => {
        settled = true;
        return record;
      });
      await rt.idle();
      expect(settled).toBe(false);
      expect(log.records).toHaveLength(0);
      connected.resolve(new ScriptedBackend([], 'wait'));
      expect(await manual).toMatchObject({ ok: true, manual: true, inputs: { [other]: 'kept' } });
      await rt.idle();
      expect(log.records).toHaveLength(1); // the manual firing consumed the dirty flag
    });
  });
});

it('shutdown does not wait for a backend connect that never settles, and closes one that connects late', async () => {
  const never = unique('never');
  const late = unique('late');
  const lateBackend = new ScriptedBackend([], 'wait');
  let closed = false;
  const connected = deferred<StreamBackend>();
  const rt = runtime();
  rt.registerStreamBackend(never, () => new Promise<StreamBackend>(() => {}));
  rt.registerStreamBackend(late, () => connected.promise);
  const s1 = unique('s');
  const s2 = unique('s');
  rt.register(
    streamAccumulator({ name: s1, type: never, topic: 't' }),
    streamAccumulator({ name: s2, type: late, topic: 't' }),
    reactor({ name: unique('r'), accumulators: [s1, s2] }),
  );
  await rt.start();
  await rt.shutdown();
  expect(rt.state).toBe('stopped');
  const close = lateBackend.close.bind(lateBackend);
  lateBackend.close = () => {
    closed = true;
    close();
  };
  connected.resolve(lateBackend);
  await connected.promise;
  await turn();
  expect(closed).toBe(true);
});

describe('backoff schedule (fake timers)', () => {
  /** Connect attempts, as fake-clock times, of a stream whose backend always refuses. */
  async function refusing(retry?: { maxRetries?: number }) {
    const type = unique('refusing');
    const s = unique('s');
    const name = unique('r');
    const attempts: number[] = [];
    const rt = runtime();
    rt.registerStreamBackend(type, () => {
      attempts.push(Date.now());
      throw new Error('refused');
    });
    rt.register(
      streamAccumulator({ name: s, type, topic: 't', ...(retry ? { retry } : {}) }),
      reactor({ name, accumulators: [s] }),
    );
    rt.on('error', () => {});
    const health = new HealthLog(rt);
    return { rt, s, name, attempts, health };
  }

  it('defaults: retries after 1, 2, 4, 8, 16 s; the sixth failure in a row is final', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const { rt, s, attempts, health } = await refusing();
      const t0 = Date.now();
      await rt.start();
      await vi.advanceTimersByTimeAsync(0);
      for (const wait of [1_000, 2_000, 4_000, 8_000, 16_000]) {
        const before = attempts.length;
        await vi.advanceTimersByTimeAsync(wait - 1);
        expect(attempts).toHaveLength(before);
        await vi.advanceTimersByTimeAsync(1);
        expect(attempts).toHaveLength(before + 1);
      }
      expect(attempts.map((t) => t - t0)).toStrictEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000]);
      expect(health.of(s).at(-1)).toBe('disconnected');
      await vi.advanceTimersByTimeAsync(120_000);
      expect(attempts).toHaveLength(6); // for good
      await rt.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });

  it('the backoff doubles up to a cap of 60 s', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const { rt, attempts, health, name } = await refusing({ maxRetries: 8 });
      await rt.start();
      await vi.advanceTimersByTimeAsync(0);
      await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 32_000 + 60_000 + 60_000);
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
      expect(gaps).toStrictEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
      await health.reach(name, 'degraded');
      await rt.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });
});
