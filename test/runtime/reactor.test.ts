/**
 * Reactor semantics (contract section 6): criteria, the latest and sequential strategies,
 * pause/resume, manual fires, getState(), several graphs on one reactor, non-overlapping
 * firings and idle(). Every test runs on both executors; slow firings are held open by the
 * fixture's `gated` node, which waits on a SharedArrayBuffer the test releases.
 */
import { describe, expect, it } from 'vitest';
import {
  GraphExecutionError,
  InvalidArgumentError,
  UncloneableValueError,
  passthroughAccumulator,
  reactor,
  type ComputationGraph,
  type FireRecord,
  type ReactorOptions,
} from 'cloaca';
import { Control, FireLog, executors, rejectionOf, turn, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph } = useRuntimes();

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  /**
   * A started runtime with passthrough sources `a` and `b` feeding one reactor whose graph is
   * the single entry node `node` reading both (default `snap`, which returns its arguments).
   */
  async function setup(
    options: Partial<Pick<ReactorOptions, 'mode' | 'strategy'>> & { node?: string; graphs?: string[] } = {},
  ) {
    const a = unique('a');
    const b = unique('b');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a, b], mode: options.mode, strategy: options.strategy });
    const built: ComputationGraph[] = [];
    for (const node of options.graphs ?? [options.node ?? 'snap']) {
      built.push(await graph(unique('g'), executor, { reactor: R, graph: { [node]: { inputs: [a, b] } } }));
    }
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: a }), passthroughAccumulator({ name: b }), R, ...built);
    const log = new FireLog(rt);
    await rt.start();
    const handle = rt.reactor(name);
    return { rt, a, b, name, handle, log, graphs: built };
  }

  /** What `snap` returned in each record. */
  const snaps = (records: FireRecord[]) => records.map((r) => r.outputs?.snap);

  describe('criteria', () => {
    it('when_any fires on any source; a source that never delivered reads as undefined', async () => {
      const { rt, a, b, log } = await setup();
      rt.push(a, 1);
      await rt.idle();
      expect(snaps(log.records)).toStrictEqual([[1, undefined]]);
      expect(log.records[0]!.inputs).toStrictEqual({ [a]: 1 });
      rt.push(b, 2);
      await rt.idle();
      expect(snaps(log.records)).toStrictEqual([
        [1, undefined],
        [1, 2],
      ]);
      expect(log.records.every((r) => r.ok && !r.manual)).toBe(true);
    });

    it('a fire record is { reactor, graph, ok, outputs, manual, inputs, durationMs }', async () => {
      const { rt, a, name, graphs, log } = await setup();
      rt.push(a, 1);
      const [record] = await log.until(1);
      expect(record).toMatchObject({
        reactor: name,
        graph: graphs[0]!.name,
        ok: true,
        outputs: { snap: [1, undefined] },
        manual: false,
        inputs: { [a]: 1 },
      });
      expect(record!.error).toBeUndefined();
      expect(record!.durationMs).toBeGreaterThanOrEqual(0);
    });

    it('when_all waits for every declared source and needs all of them again after each firing', async () => {
      const { rt, a, b, handle, log } = await setup({ mode: 'when_all' });
      rt.push(a, 1);
      rt.push(a, 2);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      expect(handle.getState().dirty).toStrictEqual({ [a]: true, [b]: false });
      rt.push(b, 3);
      await rt.idle();
      expect(snaps(log.records)).toStrictEqual([[2, 3]]);
      expect(handle.getState().dirty).toStrictEqual({ [a]: false, [b]: false });
      rt.push(b, 4);
      await rt.idle();
      expect(log.records).toHaveLength(1);
      rt.push(a, 5);
      await rt.idle();
      expect(snaps(log.records)).toStrictEqual([
        [2, 3],
        [5, 4],
      ]);
    });
  });

  describe('latest', () => {
    it('a burst pushed during a slow firing collapses into ONE following firing with the newest value of each source', async () => {
      const { rt, a, b, handle, log } = await setup({ node: 'gated' });
      const control = new Control();
      rt.push(a, control.tag(0));
      await control.entered(1); // the first firing is running and held at the gate
      for (let n = 1; n <= 50; n++) rt.push(a, control.tag(n));
      for (let n = 1; n <= 30; n++) rt.push(b, control.tag(100 + n));
      expect(handle.getState().dirty).toStrictEqual({ [a]: true, [b]: true });
      expect(handle.getState().cache[a]).toMatchObject({ n: 50 });
      control.open();
      await rt.idle();
      expect(log.records.map((r) => r.outputs?.gated)).toStrictEqual([
        [0, undefined],
        [50, 130],
      ]);
      expect(control.calls).toBe(2);
      expect(handle.getState().dirty).toStrictEqual({ [a]: false, [b]: false });
    });
  });

  describe('sequential', () => {
    it('each firing sees the cache with the boundaries up to its own applied', async () => {
      const { rt, a, b, log } = await setup({ strategy: 'sequential' });
      rt.push(a, 1);
      rt.push(b, 2);
      rt.push(a, 3);
      await rt.idle();
      expect(log.records.map((r) => r.inputs)).toStrictEqual([{ [a]: 1 }, { [a]: 1, [b]: 2 }, { [a]: 3, [b]: 2 }]);
      expect(snaps(log.records)).toStrictEqual([
        [1, undefined],
        [1, 2],
        [3, 2],
      ]);
    });

    const count = executor === 'inline' ? 10_000 : 1_000;
    it(`${count} pushed events fire exactly once each, in order`, async () => {
      const { rt, a, b, log } = await setup({ strategy: 'sequential' });
      for (let i = 0; i < count; i++) expect(rt.push(i % 2 === 0 ? a : b, i)).toBe(true);
      await rt.idle();
      expect(log.records).toHaveLength(count);
      const seen = log.records.map((r, i) => (r.inputs as Record<string, number>)[i % 2 === 0 ? a : b]);
      expect(seen).toStrictEqual(Array.from({ length: count }, (_, i) => i));
      expect(log.records.every((r) => r.ok)).toBe(true);
    });

    it('a backlog built during a slow firing fires every boundary, in order', async () => {
      const { rt, a, handle, log } = await setup({ strategy: 'sequential', node: 'gated' });
      const control = new Control();
      rt.push(a, control.tag(0));
      await control.entered(1);
      for (let n = 1; n <= 20; n++) rt.push(a, control.tag(n));
      expect(handle.getState().queued).toBe(20);
      control.open();
      await rt.idle();
      expect(log.records.map((r) => (r.outputs?.gated as number[])[0])).toStrictEqual(
        Array.from({ length: 21 }, (_, i) => i),
      );
    });

    it('with when_all, boundaries before every source delivered are applied without firing; then every boundary fires', async () => {
      const { rt, a, b, handle, log } = await setup({ strategy: 'sequential', mode: 'when_all' });
      rt.push(a, 1);
      rt.push(a, 2);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      expect(handle.getState()).toMatchObject({ cache: { [a]: 2 }, queued: 0 });
      rt.push(b, 3);
      rt.push(a, 4);
      rt.push(b, 5);
      rt.push(b, 6);
      await rt.idle();
      expect(log.records.map((r) => r.inputs)).toStrictEqual([
        { [a]: 2, [b]: 3 },
        { [a]: 4, [b]: 3 },
        { [a]: 4, [b]: 5 },
        { [a]: 4, [b]: 6 },
      ]);
    });

    it('with when_all, cache keys that are not sources do not count as sources that delivered', async () => {
      const { rt, a, b, handle, log } = await setup({ strategy: 'sequential', mode: 'when_all' });
      await handle.fireWith({ unrelated: 1, another: 2 });
      rt.push(a, 3);
      await rt.idle();
      expect(log.records.map((r) => r.manual)).toStrictEqual([true]);
      rt.push(b, 4);
      await rt.idle();
      expect(log.records.map((r) => r.inputs)).toStrictEqual([
        { unrelated: 1, another: 2 },
        { unrelated: 1, another: 2, [a]: 3, [b]: 4 },
      ]);
    });
  });

  describe('pause and resume', () => {
    it('latest: nothing fires while paused, boundaries keep arriving, manual fires resolve undefined, resume fires at once', async () => {
      const { rt, a, b, handle, log } = await setup();
      handle.pause();
      rt.push(a, 1);
      rt.push(b, 2);
      await rt.idle(); // a paused reactor's pending work does not block idle()
      expect(log.records).toHaveLength(0);
      expect(handle.getState()).toMatchObject({
        paused: true,
        cache: { [a]: 1, [b]: 2 },
        dirty: { [a]: true, [b]: true },
      });
      expect(await handle.forceFire()).toBeUndefined();
      expect(await handle.fireWith({ [a]: 9 })).toBeUndefined();
      expect(handle.getState().cache).toStrictEqual({ [a]: 9 }); // replaced even though nothing fired
      await rt.idle();
      expect(log.records).toHaveLength(0);
      handle.resume();
      expect(handle.getState().paused).toBe(false);
      const [record] = await log.until(1);
      expect(record).toMatchObject({ ok: true, manual: false, inputs: { [a]: 9 } });
      await rt.idle();
      expect(log.records).toHaveLength(1);
      expect(handle.getState().dirty).toStrictEqual({ [a]: false, [b]: false });
    });

    it('latest when_all: resume does not fire while the criterion is not met', async () => {
      const { rt, a, b, handle, log } = await setup({ mode: 'when_all' });
      handle.pause();
      rt.push(a, 1);
      handle.resume();
      await rt.idle();
      expect(log.records).toHaveLength(0);
      handle.pause();
      rt.push(b, 2);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      handle.resume();
      await rt.idle();
      expect(snaps(log.records)).toStrictEqual([[1, 2]]);
    });

    it('sequential: the queue grows while paused and resume drains it in order', async () => {
      const { rt, a, b, handle, log } = await setup({ strategy: 'sequential' });
      handle.pause();
      for (let n = 1; n <= 5; n++) rt.push(a, n);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      expect(handle.getState()).toMatchObject({ paused: true, queued: 5 });
      expect(await handle.forceFire()).toBeUndefined();
      expect(await handle.fireWith({ [b]: 7 })).toBeUndefined();
      expect(handle.getState()).toMatchObject({ cache: { [b]: 7 }, queued: 5 });
      rt.push(a, 6);
      expect(handle.getState().queued).toBe(6);
      handle.resume();
      await rt.idle();
      expect(log.records.map((r) => r.inputs)).toStrictEqual([1, 2, 3, 4, 5, 6].map((n) => ({ [b]: 7, [a]: n })));
      expect(log.records.every((r) => !r.manual)).toBe(true);
      expect(handle.getState().queued).toBe(0);
    });

    it('pause() during a firing lets it finish but holds the next ones', async () => {
      const { rt, a, handle, log } = await setup({ strategy: 'sequential', node: 'gated' });
      const control = new Control();
      rt.push(a, control.tag(1));
      await control.entered(1);
      rt.push(a, control.tag(2));
      handle.pause();
      control.open();
      await rt.idle();
      expect(log.records).toHaveLength(1);
      expect(handle.getState().queued).toBe(1);
      handle.resume();
      await rt.idle();
      expect(log.records.map((r) => (r.outputs?.gated as number[])[0])).toStrictEqual([1, 2]);
    });
  });

  describe('manual fires', () => {
    it.each(['latest', 'sequential'] as const)('forceFire on an empty cache fires once (%s)', async (strategy) => {
      const { rt, handle, log } = await setup({ strategy });
      const record = await handle.forceFire();
      expect(record).toMatchObject({ ok: true, manual: true, inputs: {} });
      expect(record!.outputs).toStrictEqual({ snap: [undefined, undefined] });
      await rt.idle();
      expect(log.records).toHaveLength(1);
      expect(log.records[0]).toBe(record);
    });

    it('forceFire fires with the current cache', async () => {
      const { rt, a, b, handle, log } = await setup({ mode: 'when_all' });
      rt.push(a, 1);
      await rt.idle();
      expect(log.records).toHaveLength(0);
      const record = await handle.forceFire();
      expect(record).toMatchObject({ manual: true, inputs: { [a]: 1 }, outputs: { snap: [1, undefined] } });
      // The manual firing cleared the flags: b alone does not complete when_all.
      rt.push(b, 2);
      await rt.idle();
      expect(log.records).toHaveLength(1);
    });

    it('fireWith replaces the whole cache (absent sources removed) and fires', async () => {
      const { rt, a, b, handle, log } = await setup();
      rt.push(a, 1);
      rt.push(b, 2);
      await rt.idle();
      const before = log.records.length;
      const record = await handle.fireWith({ [a]: 5 });
      expect(record).toMatchObject({ ok: true, manual: true, inputs: { [a]: 5 }, outputs: { snap: [5, undefined] } });
      expect(record!.inputs).not.toHaveProperty(b);
      expect(handle.getState().cache).toStrictEqual({ [a]: 5 });
      await rt.idle();
      expect(log.records).toHaveLength(before + 1);
      // The replacement persists for later firings.
      rt.push(b, 6);
      await rt.idle();
      expect(log.records.at(-1)!.inputs).toStrictEqual({ [a]: 5, [b]: 6 });
    });

    it('fireWith rejects a non-object cache', async () => {
      const { handle } = await setup();
      await expect(handle.fireWith(null as unknown as Record<string, unknown>)).rejects.toThrow(InvalidArgumentError);
    });

    it('fireWith refuses a value that could not be pushed, naming the source and path, and changes nothing', async () => {
      const { a, handle, log } = await setup();
      await handle.forceFire();
      const before = handle.getState().cache;
      const error = await rejectionOf(handle.fireWith({ [a]: { cb: () => 1 } }));
      expect(error).toBeInstanceOf(UncloneableValueError);
      expect((error as UncloneableValueError).accumulator).toBe(a);
      expect((error as UncloneableValueError).path).toBe(`cache.${a}.cb`);
      expect(handle.getState().cache).toStrictEqual(before);
      expect(log.records).toHaveLength(1);
    });

    it('fireWith keeps a copy: mutating the object afterwards changes neither the cache nor the record', async () => {
      const { a, handle } = await setup();
      const value = { n: 1 };
      const record = await handle.fireWith({ [a]: value });
      value.n = 2;
      expect(record?.inputs).toStrictEqual({ [a]: { n: 1 } });
      expect(handle.getState().cache).toStrictEqual({ [a]: { n: 1 } });
    });
  });

  it('getState() returns { cache, dirty, paused, queued, health } as plain values', async () => {
    const { rt, a, b, handle } = await setup({ mode: 'when_all' });
    const initial = handle.getState();
    expect(Object.keys(initial).sort()).toStrictEqual(['cache', 'dirty', 'health', 'paused', 'queued']);
    expect(initial).toStrictEqual({
      cache: {},
      dirty: { [a]: false, [b]: false },
      paused: false,
      queued: 0,
      health: 'live',
    });
    rt.push(a, { deep: [1, 2] });
    await rt.idle();
    const state = handle.getState();
    expect(state).toStrictEqual({
      cache: { [a]: { deep: [1, 2] } },
      dirty: { [a]: true, [b]: false },
      paused: false,
      queued: 0,
      health: 'live',
    });
    // A copy: mutating it does not touch the reactor.
    delete state.cache[a];
    expect(handle.getState().cache).toHaveProperty(a);
  });

  describe('several graphs on one reactor', () => {
    it('both run on the same snapshot, each with its own fire record', async () => {
      const { rt, a, b, graphs, log } = await setup({ graphs: ['snap', 'snap_two'] });
      rt.push(a, 1);
      await rt.idle();
      rt.push(b, 2);
      await rt.idle();
      expect(log.records).toHaveLength(4);
      const [g1, g2] = graphs.map((g) => g.name);
      expect(log.of(g1).map((r) => r.outputs)).toStrictEqual([{ snap: [1, undefined] }, { snap: [1, 2] }]);
      expect(log.of(g2).map((r) => r.outputs)).toStrictEqual([{ snap_two: [1, undefined] }, { snap_two: [1, 2] }]);
      for (let i = 0; i < 2; i++) expect(log.of(g1)[i]!.inputs).toStrictEqual(log.of(g2)[i]!.inputs);
    });

    it('they run concurrently: a slow graph does not hold back the other within one firing', async () => {
      const { rt, a, graphs, log } = await setup({ graphs: ['gated', 'snap'] });
      const control = new Control();
      rt.push(a, control.tag(1));
      const [fast] = await log.until(1, (r) => r.graph === graphs[1]!.name);
      expect(log.of(graphs[0]!.name)).toHaveLength(0); // still held at the gate
      expect(fast!.outputs!.snap).toStrictEqual([control.tag(1), undefined]);
      control.open();
      await rt.idle();
      expect(log.of(graphs[0]!.name).map((r) => r.outputs)).toStrictEqual([{ gated: [1, undefined] }]);
    });

    it('one graph failing does not stop the other, nor later firings', async () => {
      const { rt, a, graphs, log } = await setup({ strategy: 'sequential', graphs: ['fail_if', 'snap'] });
      const [failing, fine] = graphs.map((g) => g.name) as [string, string];
      rt.push(a, { v: 1 });
      rt.push(a, { v: 2, fail: true });
      rt.push(a, { v: 3 });
      await rt.idle();
      expect(log.of(fine).map((r) => (r.outputs!.snap as Array<{ v: number }>)[0]!.v)).toStrictEqual([1, 2, 3]);
      expect(log.of(fine).every((r) => r.ok)).toBe(true);
      expect(log.of(failing).map((r) => r.ok)).toStrictEqual([true, false, true]);
      const failed = log.of(failing)[1]!;
      expect(failed.error).toBeInstanceOf(GraphExecutionError);
      expect((failed.error as GraphExecutionError).node).toBe('fail_if');
      expect(failed.outputs).toBeUndefined();
      expect(rt.stats().reactors[failed.reactor]).toMatchObject({ fires: 3, failures: 1 });
    });
  });

  describe('firings never overlap', () => {
    it('sequential boundaries, one firing at a time', async () => {
      const { rt, a, log } = await setup({ strategy: 'sequential', node: 'tracked' });
      const control = new Control();
      for (let n = 0; n < 12; n++) rt.push(a, control.tag(n));
      await rt.idle();
      expect(log.records).toHaveLength(12);
      expect(control.calls).toBe(12);
      expect(control.maxRunning).toBe(1);
    });

    it('concurrent manual fires and boundaries, one firing at a time', async () => {
      const { rt, a, handle, log } = await setup({ node: 'tracked' });
      const control = new Control();
      rt.push(a, control.tag(0));
      const manual = await Promise.all([
        handle.forceFire(),
        handle.forceFire(),
        handle.fireWith({ [a]: control.tag(9) }),
        handle.forceFire(),
      ]);
      rt.push(a, control.tag(1));
      await rt.idle();
      expect(manual.every((r) => r?.ok === true && r.manual)).toBe(true);
      expect(control.calls).toBe(log.records.length);
      expect(log.records.length).toBeGreaterThanOrEqual(5);
      expect(control.maxRunning).toBe(1);
    });
  });

  it('shutdown() drains the sequential backlog of a reactor that is not paused', async () => {
    const { rt, a, log } = await setup({ strategy: 'sequential', node: 'gated' });
    const control = new Control();
    for (let n = 0; n < 5; n++) rt.push(a, control.tag(n));
    await control.entered(1);
    const stopping = rt.shutdown();
    expect(() => rt.push(a, control.tag(99))).toThrow(/stopping, not started/);
    control.open();
    await stopping;
    expect(log.records.map((r) => (r.outputs?.gated as number[])[0])).toStrictEqual([0, 1, 2, 3, 4]);
  });

  describe('idle()', () => {
    it('resolves only when nothing is queued or running', async () => {
      const { rt, a, log } = await setup({ strategy: 'sequential', node: 'gated' });
      const control = new Control();
      rt.push(a, control.tag(1));
      rt.push(a, control.tag(2));
      await control.entered(1);
      let idle = false;
      const waiting = rt.idle().then(() => {
        idle = true;
      });
      for (let i = 0; i < 5; i++) await turn();
      expect(idle).toBe(false);
      control.open();
      await waiting;
      expect(log.records).toHaveLength(2);
    });

    it("a paused reactor's backlog does not block idle()", async () => {
      const { rt, a, handle } = await setup({ strategy: 'sequential' });
      handle.pause();
      for (let n = 0; n < 3; n++) rt.push(a, n);
      await rt.idle();
      expect(handle.getState().queued).toBe(3);
    });
  });
});
