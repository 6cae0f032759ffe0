/**
 * Keyed reactors (contract section 11): every rule of section 6 per key, concurrency and turns
 * across keys, KeyError, broadcast sources, maxKeys and keyIdle, the key handles and checkpoints
 * per key. Every semantic test runs on both executors; concurrency is shown with the fixture's
 * `gated` node, which waits on a SharedArrayBuffer the test releases.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  KeyError,
  batchAccumulator,
  passthroughAccumulator,
  reactor,
  stateAccumulator,
  type FireRecord,
  type ReactorOptions,
} from 'cloaca';
import { Control, FireLog, executors, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph, tmp } = useRuntimes();

/** A boundary value of key `k`. */
const ev = (k: string, n: number) => ({ k, n });

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  /**
   * A started runtime with passthrough sources `a`, `b` and the broadcast `c` feeding one keyed
   * reactor (key field `k`) whose one graph is the entry node `node` reading all three.
   */
  async function setup(
    options: Partial<Omit<ReactorOptions, 'name' | 'accumulators'>> & { node?: string; checkpoint?: string } = {},
    names = { a: unique('a'), b: unique('b'), c: unique('c'), name: unique('r'), g: unique('g') },
  ) {
    const { a, b, c, name } = names;
    const { node = 'snap', checkpoint, ...declared } = options;
    const R = reactor({ name, accumulators: [a, b, c], key: 'k', broadcast: [c], ...declared });
    const g = await graph(names.g, executor, { reactor: R, graph: { [node]: { inputs: [a, b, c] } } });
    const rt = runtime(checkpoint === undefined ? {} : { checkpoint });
    rt.register(
      passthroughAccumulator({ name: a }),
      passthroughAccumulator({ name: b }),
      passthroughAccumulator({ name: c }),
      R,
      g,
    );
    const log = new FireLog(rt);
    await rt.start();
    return { rt, a, b, c, name, handle: rt.reactor(name), log, names };
  }

  /** The `n` each record of key `key` saw from source `source`. */
  const seen = (records: FireRecord[], key: string, source: string) =>
    records.filter((r) => r.key === key).map((r) => (r.inputs[source] as { n: number } | undefined)?.n);

  it('sequential: each key fires every boundary once, in its arrival order; records carry the key', async () => {
    const { rt, a, b, log } = await setup({ strategy: 'sequential' });
    for (let i = 0; i < 40; i++) {
      rt.push(a, ev('x', i));
      rt.push(b, ev('y', i));
      if (i % 3 === 0) rt.push(a, ev('y', 100 + i));
    }
    await rt.idle();
    expect(seen(log.records, 'x', a)).toStrictEqual([...Array(40).keys()]);
    expect(seen(log.records, 'y', b)).toStrictEqual(
      log.records.filter((r) => r.key === 'y').map((r) => (r.inputs[b] as { n: number } | undefined)?.n),
    );
    expect(log.records.filter((r) => r.key === 'y')).toHaveLength(40 + 14);
    // Key y's firings each saw the boundaries of y up to their own, never those of x.
    expect(log.records.every((r) => r.key === 'x' || r.key === 'y')).toBe(true);
    for (const r of log.records) for (const v of Object.values(r.inputs)) expect((v as { k: string }).k).toBe(r.key);
    expect(rt.reactor(log.records[0]!.reactor).getState().keys).toBe(2);
  });

  it('sequential: a synchronous burst over many keys fires after the burst, each key its share in order', async () => {
    const { rt, a, log, handle } = await setup({ strategy: 'sequential' });
    const keys = ['p', 'q', 'r'];
    for (let i = 0; i < 5; i++) for (const k of keys) rt.push(a, ev(k, i));
    // Nothing fired inside the synchronous job that pushed, on either executor.
    expect(log.records).toHaveLength(0);
    expect(handle.key('p').getState().queued).toBe(5);
    await rt.idle();
    for (const k of keys) expect(seen(log.records, k, a)).toStrictEqual([0, 1, 2, 3, 4]);
    if (executor === 'inline') {
      // Served key by key: each key's five firings in a row, keys in the order they first arrived.
      expect(log.records.map((r) => r.key)).toStrictEqual(keys.flatMap((k) => Array<string>(5).fill(k)));
    }
  });

  it('latest: boundaries of a key arriving during its firing collapse into one next firing', async () => {
    const control = new Control();
    const { rt, a, log } = await setup({ node: 'gated' });
    const tag = (k: string, n: number) => ({ k, ...control.tag(n) });
    rt.push(a, tag('x', 1));
    await control.entered(1);
    rt.push(a, tag('x', 2));
    rt.push(a, tag('x', 3));
    control.open();
    await rt.idle();
    expect(log.records.map((r) => r.outputs?.gated)).toStrictEqual([
      [1, undefined, undefined],
      [3, undefined, undefined],
    ]);
  });

  it('when_all holds per key: a key fires once each of its sources delivered for it', async () => {
    const { rt, a, b, log } = await setup({ mode: 'when_all' });
    rt.push(a, ev('x', 1));
    rt.push(b, ev('y', 1));
    await rt.idle();
    expect(log.records).toHaveLength(0);
    rt.push(b, ev('x', 2));
    await rt.idle();
    expect(log.records.map((r) => r.key)).toStrictEqual(['x']);
    expect(rt.reactor(log.records[0]!.reactor).key('y').getState().dirty).toStrictEqual({ [a]: false, [b]: true });
  });

  it('different keys fire at once, up to keyConcurrency; one key never overlaps itself', async () => {
    const control = new Control();
    const { rt, a, log } = await setup({ node: 'gated', keyConcurrency: 2, strategy: 'sequential' });
    const tag = (k: string, n: number) => ({ k, ...control.tag(n) });
    for (const k of ['x', 'y', 'z']) for (let n = 0; n < 3; n++) rt.push(a, tag(k, n));
    // Two keys entered their graph while the gate is shut: they run concurrently (on the pool,
    // in two workers, each running one task at a time).
    await control.entered(2);
    expect(control.running).toBe(2);
    control.open();
    await rt.idle();
    expect(control.maxRunning).toBe(2);
    expect(log.records).toHaveLength(9);
    for (const k of ['x', 'y', 'z']) expect(seen(log.records, k, a)).toStrictEqual([0, 1, 2]);
  });

  it('keys with work are served in turn: a long queue does not hold back another key', async () => {
    // `later` settles after a macrotask, so a backlog builds up behind the busy key.
    const { rt, a, log } = await setup({ keyConcurrency: 1, strategy: 'sequential', node: 'later' });
    for (let n = 0; n < 600; n++) rt.push(a, ev('busy', n));
    rt.push(a, ev('quiet', 0));
    await rt.idle();
    const quietAt = log.records.findIndex((r) => r.key === 'quiet');
    expect(log.records).toHaveLength(601);
    // Served after the busy key's firing (or batch of firings in a worker) in progress.
    expect(quietAt).toBeGreaterThanOrEqual(1);
    expect(quietAt).toBeLessThan(300);
  });

  it('a boundary without a valid key is refused with KeyError; nothing else changes', async () => {
    const { rt, a, name, log } = await setup({ strategy: 'sequential' });
    rt.push(a, ev('x', 1));
    let error: unknown;
    try {
      rt.push(a, { n: 2 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyError);
    expect(error).toMatchObject({ code: 'CLOACA_ERR_KEY', reactor: name, source: a, value: { n: 2 } });
    expect(() => rt.push(a, { k: Number.NaN })).toThrow(KeyError);
    expect(() => rt.push(a, 7)).toThrow(/no valid key/);
    rt.push(a, { k: 42, n: 3 });
    await rt.idle();
    expect(log.records.map((r) => r.key).sort()).toStrictEqual(['42', 'x']);
  });

  it('broadcast: shared by every key, marks none dirty, fires nothing; each next firing sees the newest', async () => {
    const { rt, a, c, handle, log } = await setup();
    rt.push(c, { limit: 1 });
    await rt.idle();
    expect(log.records).toHaveLength(0);
    rt.push(a, ev('x', 1));
    await rt.idle();
    rt.push(c, { limit: 2 });
    await rt.idle();
    expect(log.records).toHaveLength(1);
    rt.push(a, ev('x', 2));
    rt.push(a, ev('y', 1));
    await rt.idle();
    // Keys x and y fire concurrently (on the pool, in either order): compare per key.
    const byKey = (key: string) => log.records.filter((r) => r.key === key).map((r) => r.inputs[c]);
    expect(byKey('x')).toStrictEqual([{ limit: 1 }, { limit: 2 }]);
    expect(byKey('y')).toStrictEqual([{ limit: 2 }]);
    expect(handle.key('x').getState().cache[c]).toStrictEqual({ limit: 2 });
    expect(handle.getState().cache).toStrictEqual({ [c]: { limit: 2 } });
  });

  it('key handles: getState, forceFire, fireWith; keys(); pause and resume apply to every key', async () => {
    const { rt, a, b, c, handle, log } = await setup({ strategy: 'sequential' });
    rt.push(c, 'shared');
    rt.push(a, ev('x', 1));
    await rt.idle();
    expect([...handle.keys()]).toStrictEqual(['x']);
    expect(handle.key('x').getState()).toStrictEqual({
      cache: { [c]: 'shared', [a]: { k: 'x', n: 1 } },
      dirty: { [a]: false, [b]: false },
      queued: 0,
    });
    // The key's state is the caller's copy: changing it reaches neither the key's cache nor its firing.
    (handle.key('x').getState().cache[a] as { n: number }).n = 9;
    const forced = await handle.key('x').forceFire();
    expect(forced).toMatchObject({ key: 'x', manual: true, inputs: { [a]: { k: 'x', n: 1 }, [c]: 'shared' } });
    const replaced = await handle.key('z').fireWith({ [b]: 5 });
    expect(replaced).toMatchObject({ key: 'z', manual: true, inputs: { [b]: 5, [c]: 'shared' } });
    handle.pause();
    rt.push(a, ev('x', 2));
    rt.push(a, ev('w', 1));
    await rt.idle();
    expect(handle.getState()).toMatchObject({ paused: true, queued: 2, keys: 3 });
    const before = log.records.length;
    handle.resume();
    await rt.idle();
    expect(
      log.records
        .slice(before)
        .map((r) => r.key)
        .sort(),
    ).toStrictEqual(['w', 'x']);
    expect(() => rt.reactor(unique('nothing'))).toThrow();
  });

  it('maxKeys: a new key beyond it is refused like backpressure; keyIdle frees room and whenWritable tells', async () => {
    const { rt, a, handle } = await setup({ maxKeys: 2, keyIdle: '50ms', strategy: 'sequential' });
    expect(rt.push(a, ev('x', 1))).toBe(true);
    expect(rt.push(a, ev('y', 1))).toBe(true);
    expect(rt.push(a, ev('x', 2))).toBe(true);
    expect(rt.push(a, ev('z', 1))).toBe(false);
    await rt.idle();
    expect(handle.getState().keys).toBe(2);
    await rt.whenWritable(a);
    expect(rt.push(a, ev('z', 1))).toBe(true);
    await rt.idle();
    expect([...handle.keys()]).toContain('z');
    expect(handle.getState().keys).toBeLessThanOrEqual(2);
  });

  it('a key forgotten after keyIdle starts again empty', async () => {
    const { rt, a, handle, log } = await setup({ keyIdle: '20ms', maxKeys: 1 });
    rt.push(a, ev('x', 1));
    await rt.idle();
    expect(rt.push(a, ev('y', 1))).toBe(false);
    await rt.whenWritable(a);
    expect([...handle.keys()]).toStrictEqual([]);
    expect(handle.key('x').getState().cache).toStrictEqual({});
    expect(rt.push(a, ev('y', 1))).toBe(true);
    await rt.idle();
    expect(log.records.map((r) => r.key)).toStrictEqual(['x', 'y']);
  });

  it('a batch accumulator buffers and flushes per key; a state accumulator keeps a window per key', async () => {
    const f = unique('fills');
    const w = unique('window');
    const name = unique('r');
    const R = reactor({ name, accumulators: [f, w], key: 'k', strategy: 'sequential' });
    const g = await graph(unique('g'), executor, { reactor: R, graph: { snap: { inputs: [f, w] } } });
    const rt = runtime();
    rt.register(
      batchAccumulator({
        name: f,
        maxBufferSize: 2,
        process: (events: Array<{ k: string; n: number }>) => events.map((e) => e.n),
      }),
      stateAccumulator({ name: w, capacity: 2 }),
      R,
      g,
    );
    const log = new FireLog(rt);
    await rt.start();
    rt.push(f, ev('x', 1));
    rt.push(f, ev('y', 1));
    rt.push(f, ev('x', 2)); // x's buffer is full: it flushes alone
    await rt.idle();
    expect(log.records.map((r) => [r.key, r.inputs[f]])).toStrictEqual([
      ['x', [1, 2]],
      ['y', [1]], // flushed after x's firing
    ]);
    expect(() => rt.push(f, { n: 3 })).toThrow(KeyError);
    for (const [k, n] of [
      ['x', 1],
      ['y', 1],
      ['x', 2],
      ['x', 3],
    ] as const)
      rt.push(w, ev(k, n));
    await rt.idle();
    expect(rt.reactor(name).key('x').getState().cache[w]).toStrictEqual([ev('x', 2), ev('x', 3)]);
    expect(rt.reactor(name).key('y').getState().cache[w]).toStrictEqual([ev('y', 1)]);
  });

  it('checkpoints keep every key: cache, flags and queue come back after a restart', async () => {
    const checkpoint = join(tmp(), 'keyed.db');
    const first = await setup({ strategy: 'sequential', checkpoint });
    first.rt.push(first.c, 'shared');
    first.rt.push(first.a, ev('x', 1));
    await first.rt.idle();
    first.handle.pause();
    for (let n = 2; n < 5; n++) first.rt.push(first.a, ev('x', n));
    first.rt.push(first.b, ev('y', 1));
    await first.rt.persisted();
    await first.rt.shutdown();

    const second = await setup({ strategy: 'sequential', checkpoint }, { ...first.names, g: unique('g') });
    expect(second.handle.getState()).toMatchObject({ paused: true, queued: 4, keys: 2 });
    expect(second.handle.key('x').getState().cache).toStrictEqual({
      [second.c]: 'shared',
      [second.a]: { k: 'x', n: 1 },
    });
    second.handle.resume();
    await second.rt.idle();
    expect(seen(second.log.records, 'x', second.a)).toStrictEqual([2, 3, 4]);
    expect(second.log.records.find((r) => r.key === 'y')?.inputs).toStrictEqual({
      [second.c]: 'shared',
      [second.b]: { k: 'y', n: 1 },
    });
  });
});

describe('checkpoint mismatches', () => {
  it('a keyed reactor whose strategy changed fails start(), or with set-aside starts with no keys', async () => {
    const checkpoint = join(tmp(), 'mismatch.db');
    const a = unique('a');
    const name = unique('r');
    const start = async (strategy: 'latest' | 'sequential', stateMismatch?: 'fail' | 'set-aside') => {
      const R = reactor({ name, accumulators: [a], key: 'k', strategy });
      const g = await graph(unique('g'), 'inline', { reactor: R, graph: { snap: { inputs: [a] } } });
      const rt = runtime({ checkpoint, ...(stateMismatch === undefined ? {} : { stateMismatch }) });
      rt.register(passthroughAccumulator({ name: a }), R, g);
      return { rt, started: rt.start() };
    };
    const first = await start('sequential');
    await first.started;
    first.rt.reactor(name).pause();
    first.rt.push(a, ev('x', 1));
    first.rt.push(a, ev('y', 1));
    await first.rt.shutdown();
    const failing = await start('latest');
    await expect(failing.started).rejects.toThrow(/was 'sequential' and is now 'latest'/);
    const aside = await start('latest', 'set-aside');
    await aside.started;
    expect(aside.rt.reactor(name).getState()).toMatchObject({ keys: 0, queued: 0, paused: false });
    await aside.rt.shutdown();
    // The keys' rows went aside with it: nothing of them is restored later.
    const again = await start('latest');
    await again.started;
    expect(again.rt.reactor(name).getState()).toMatchObject({ keys: 0, queued: 0 });
  });
});

describe('declaration', () => {
  it('validates the keyed options with messages that name them', () => {
    const base = { name: 'r', accumulators: ['a', 'b'] };
    expect(reactor({ ...base, key: 'k' }).keyed).toMatchObject({ field: 'k', maxKeys: 100_000 });
    expect(() => reactor({ ...base, key: 3 as unknown as string })).toThrow(/'key' must be a field name or a function/);
    expect(() => reactor({ ...base, maxKeys: 2 })).toThrow(/'maxKeys' needs 'key'/);
    expect(() => reactor({ ...base, key: 'k', broadcast: ['zz'] })).toThrow(/broadcast source 'zz'/);
    expect(() => reactor({ ...base, key: 'k', broadcast: ['a', 'b'] })).toThrow(/every source is broadcast/);
    expect(() => reactor({ ...base, key: 'k', keyConcurrency: 0 })).toThrow(
      /'keyConcurrency' must be a positive integer/,
    );
    expect(() => reactor({ ...base, key: 'k', keyIdle: '10 minutes' })).toThrow(/10 minutes/);
    expect(() => reactor({ ...base, key: 'k', keyIdle: '0s' })).toThrow(/more than zero/);
  });
});
