/**
 * Batched firings: a sequential reactor whose graph runs on the pool sends its queued boundaries
 * to one worker in one message, where they fire one after another. Everything the contract says
 * of sequential firings holds per firing (section 6): every boundary fires once, in order, on
 * exactly its own snapshot; a failure in one firing fails that firing only; pause, manual
 * commands and health still act between firings; a worker that dies mid-batch follows the rules
 * of section 5. (The checkpoint watermark under SIGKILL is in batched-crash.test.ts.)
 *
 * A batch needs a graph the runtime has measured light, so each test first fires some
 * boundaries one by one.
 */
import { describe, expect, it } from 'vitest';
import {
  GraphExecutionError,
  NodePool,
  WorkerExitError,
  passthroughAccumulator,
  reactor,
  type FireRecord,
  type Runtime,
  type Topology,
} from 'cloaca';
import { Control, FireLog, fixture, unique, useRuntimes } from './support.js';

const { runtime, graph } = useRuntimes();
const nodes = fixture('batched.nodes.mjs');

/** A started runtime: sources `a` and `b` -> a sequential reactor -> `topology` on the pool. */
async function pipeline(topology: Topology, inputs: readonly string[] = ['a']) {
  const names = { a: unique('a'), b: unique('b'), r: unique('seq') };
  const sources = inputs.map((i) => (i === 'a' ? names.a : names.b));
  const R = reactor({ name: names.r, accumulators: sources, strategy: 'sequential' });
  const withInputs = Object.fromEntries(
    Object.entries(topology).map(([node, spec], k) => [node, k === 0 ? { ...spec, inputs: sources } : spec]),
  ) as Topology;
  const g = await graph(unique('batched'), 'pool', { reactor: R, nodes, graph: withInputs });
  const rt = runtime();
  rt.register(...sources.map((name) => passthroughAccumulator({ name })), R, g);
  const log = new FireLog(rt);
  await rt.start();
  const handle = rt.reactor(names.r);
  // Boundaries fired one at a time, until the graph is measured light.
  for (let n = 0; n < 30; n++) {
    rt.push(sources[0]!, { n: -1 - n });
    await rt.idle();
  }
  log.records.length = 0;
  return { rt, log, handle, a: sources[0]!, b: sources[1], graph: g.name, reactor: names.r };
}

const batchedOf = (rt: Runtime, name: string) => rt.stats().reactors[name]!.batched;

describe('batched firings of a sequential reactor on the pool', () => {
  it('fires every queued boundary once, in order, each on exactly its own snapshot', async () => {
    const { rt, log, reactor: name, a, b } = await pipeline({ seen: { next: 'passed' }, passed: {} }, ['a', 'b']);
    const before = batchedOf(rt, name);
    const expected: Array<{ a: number; b: number }> = [];
    let state = { a: -30, b: undefined as unknown as number };
    for (let n = 0; n < 300; n++) {
      const source = n % 3 === 0 ? b! : a;
      rt.push(source, { n });
      state = source === a ? { ...state, a: n } : { ...state, b: n };
      expected.push(state);
    }
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    expect(log.records.map((r) => r.ok)).toStrictEqual(expected.map(() => true));
    // What each firing's node saw, and the record's inputs, are that boundary's snapshot.
    expect(
      log.records.map((r) => ({
        a: (r.outputs!.passed as { a: number }).a,
        b: (r.outputs!.passed as { b: number }).b,
      })),
    ).toStrictEqual(expected);
    expect(
      log.records.map((r) => ({
        a: (r.inputs[a] as { n: number }).n,
        b: (r.inputs[b!] as { n: number } | undefined)?.n,
      })),
    ).toStrictEqual(expected);
    expect(rt.reactor(name).getState().queued).toBe(0);
  });

  it('a failure in one firing of a batch fails that firing only', async () => {
    const { rt, log, reactor: name, a, graph: graphName } = await pipeline({ sync_step: {} });
    const before = batchedOf(rt, name);
    for (let n = 0; n < 60; n++) rt.push(a, n === 25 ? { n, fail: true } : { n });
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    expect(log.records.map((r) => (r.ok ? r.outputs!.sync_step : 'failed'))).toStrictEqual(
      Array.from({ length: 60 }, (_, n) => (n === 25 ? 'failed' : n)),
    );
    const failed = log.records[25]!;
    expect(failed.error).toBeInstanceOf(GraphExecutionError);
    expect((failed.error as GraphExecutionError).node).toBe('sync_step');
    expect((failed.error as GraphExecutionError).graph).toBe(graphName);
    expect((failed.error as GraphExecutionError).cause).toMatchObject({ code: 'E_FIRING' });
    expect(rt.stats().reactors[name]).toMatchObject({ failures: 1 });
  });

  it('stops a batch at its next firing when the reactor is paused, and goes on from there on resume', async () => {
    const { rt, log, handle, reactor: name, a } = await pipeline({ step: {} });
    const before = batchedOf(rt, name);
    const control = new Control();
    for (let n = 0; n < 20; n++) rt.push(a, n === 3 ? { n, hold: true, sab: control.sab } : { n });
    await control.entered(1); // firing 3 runs in the worker, inside a batch
    handle.pause();
    control.open();
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    expect(log.records.map((r) => r.outputs!.step)).toStrictEqual([0, 1, 2, 3]);
    const state = handle.getState();
    expect({ paused: state.paused, queued: state.queued, a: (state.cache[a] as { n: number }).n }).toStrictEqual({
      paused: true,
      queued: 16,
      a: 3,
    });
    handle.resume();
    await rt.idle();
    expect(log.records.map((r) => r.outputs!.step)).toStrictEqual(Array.from({ length: 20 }, (_, n) => n));
  });

  it('fires a manual command after the firing in progress, before the rest of the batch', async () => {
    const { rt, log, handle, a } = await pipeline({ step: {} });
    const control = new Control();
    for (let n = 0; n < 12; n++) rt.push(a, n === 3 ? { n, hold: true, sab: control.sab } : { n });
    await control.entered(1);
    const forced = handle.forceFire();
    control.open();
    const record = (await forced)!;
    await rt.idle();
    expect({ manual: record.manual, n: record.outputs!.step }).toStrictEqual({ manual: true, n: 3 });
    expect(log.records.map((r: FireRecord) => `${r.manual ? 'manual ' : ''}${String(r.outputs!.step)}`)).toStrictEqual([
      '0',
      '1',
      '2',
      '3',
      'manual 3',
      ...Array.from({ length: 8 }, (_, k) => String(k + 4)),
    ]);
  });

  it('fireWith during a batch: its cache fires after the firing in progress, and the boundaries left apply over it', async () => {
    const { rt, log, handle, a } = await pipeline({ step: {} });
    const control = new Control();
    for (let n = 0; n < 12; n++) rt.push(a, n === 3 ? { n, hold: true, sab: control.sab } : { n });
    await control.entered(1);
    const replaced = handle.fireWith({ [a]: { n: 100 } });
    control.open();
    expect((await replaced)!.outputs!.step).toBe(100);
    await rt.idle();
    expect(log.records.map((r: FireRecord) => `${r.manual ? 'manual ' : ''}${String(r.outputs!.step)}`)).toStrictEqual([
      '0',
      '1',
      '2',
      '3',
      'manual 100',
      ...Array.from({ length: 8 }, (_, k) => String(k + 4)),
    ]);
    expect(log.records.slice(5).map((r) => r.inputs)).toStrictEqual(
      Array.from({ length: 8 }, (_, k) => ({ [a]: { n: k + 4 } })),
    );
  });

  it('a worker that exits in the middle of a batch: that firing fails naming its node, those before it fail as lost with the worker, the rest fire again', async () => {
    const { rt, log, reactor: name, a } = await pipeline({ sync_step: {} });
    const before = batchedOf(rt, name);
    for (let n = 0; n < 20; n++) rt.push(a, n === 6 ? { n, exit: true } : { n });
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    const outcome = log.records.map((r) => (r.ok ? r.outputs!.sync_step : 'failed'));
    expect(outcome).toHaveLength(20);
    const exited = log.records[6]!;
    const cause = (exited.error as GraphExecutionError).cause as WorkerExitError;
    expect(cause).toBeInstanceOf(WorkerExitError);
    expect(cause.culprit).toMatchObject({ node: 'sync_step' });
    // The firings of its batch that ended before it went with the worker; every other fired.
    const first = outcome.indexOf('failed');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(outcome).toStrictEqual(Array.from({ length: 20 }, (_, n) => (n >= first && n <= 6 ? 'failed' : n)));
    for (const lost of log.records.slice(first, 6)) {
      const why = (lost.error as GraphExecutionError).cause as WorkerExitError;
      expect(why).toBeInstanceOf(WorkerExitError);
      expect(why.culprit).toMatchObject({ node: 'sync_step' });
    }
  });

  it('a worker that exits in a node that runs after another one awaited names that node', async () => {
    const { rt, log, reactor: name, a } = await pipeline({ held: { next: 'exit_if' }, exit_if: {} });
    const before = batchedOf(rt, name);
    const control = new Control();
    for (let n = 0; n < 12; n++) rt.push(a, n === 3 ? { n, hold: true, exit: true, sab: control.sab } : { n });
    await control.entered(1); // firing 3 awaits in `held`, inside a batch
    control.open();
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    const exited = log.records.find((r) => !r.ok && (r.inputs[a] as { n: number }).n === 3)!;
    const cause = (exited.error as GraphExecutionError).cause as WorkerExitError;
    expect(cause).toBeInstanceOf(WorkerExitError);
    expect(cause.culprit).toMatchObject({ node: 'exit_if' });
    // Every boundary after it fired again, in order, on another worker.
    const after = log.records.filter((r) => r.ok).map((r) => r.outputs!.exit_if);
    expect(after.slice(-8)).toStrictEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('a node that changes its cache input changes nothing another firing of the batch sees', async () => {
    const { rt, log, reactor: name, a, b } = await pipeline({ grow: {} }, ['a', 'b']);
    rt.push(a, { items: [] });
    for (let n = 0; n < 100; n++) rt.push(b!, { n });
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(0);
    expect(log.records.slice(1).map((r) => r.outputs!.grow)).toStrictEqual(Array.from({ length: 100 }, () => 1));
    expect(log.records.slice(1).map((r) => r.inputs[a])).toStrictEqual(
      Array.from({ length: 100 }, () => ({ items: [] })),
    );
  });

  it('Buffers arrive as Buffers in a batched firing and in its outputs', async () => {
    const { rt, log, reactor: name, a } = await pipeline({ bytes: {} });
    const before = batchedOf(rt, name);
    for (let n = 0; n < 50; n++) rt.push(a, Buffer.from(`b${n}`));
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    for (const [n, record] of log.records.entries()) {
      const out = record.outputs!.bytes as { wasBuffer: boolean; out: Buffer };
      expect(out.wasBuffer).toBe(true);
      expect(Buffer.isBuffer(out.out) && out.out.toString()).toBe(`b${n}!`);
    }
  });

  it('frozen objects and errors keep what clone loses in a batched firing and in its outputs', async () => {
    const { rt, log, reactor: name, a } = await pipeline({ shapes: {} });
    const before = batchedOf(rt, name);
    for (let n = 0; n < 60; n++) {
      rt.push(a, { frozen: Object.freeze({ n }), error: Object.assign(new RangeError(`r${n}`), { code: `R${n}` }) });
    }
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    expect(log.records).toHaveLength(60);
    for (const [n, record] of log.records.entries()) {
      const out = record.outputs!.shapes as { wasFrozen: boolean; errorCode: string; frozen: object; error: Error };
      expect({ wasFrozen: out.wasFrozen, errorCode: out.errorCode }).toStrictEqual({
        wasFrozen: true,
        errorCode: `R${n}`,
      });
      expect(Object.isFrozen(out.frozen) && out.frozen).toStrictEqual({ n });
      expect(out.error).toBeInstanceOf(TypeError);
      expect([out.error.message, (out.error as Error & { code?: string }).code]).toStrictEqual([`e${n}`, `E${n}`]);
    }
  });

  it('a pause from a fire listener while the next batch is in the worker: each boundary fires once, in order, around it', async () => {
    const { rt, log, handle, reactor: name, a } = await pipeline({ sync_step: {} });
    const before = batchedOf(rt, name);
    let pausedAt = -1;
    rt.on('fire', (record) => {
      if (record.outputs?.sync_step === 100) {
        handle.pause();
        pausedAt = log.records.length;
      }
    });
    for (let n = 0; n < 600; n++) rt.push(a, { n });
    await rt.idle();
    expect(batchedOf(rt, name)).toBeGreaterThan(before);
    expect(pausedAt).toBeGreaterThan(0);
    const fired = log.records.length;
    expect(handle.getState()).toMatchObject({ paused: true, queued: 600 - fired });
    expect((handle.getState().cache[a] as { n: number }).n).toBe(fired - 1);
    handle.resume();
    await rt.idle();
    expect(log.records.map((r) => r.outputs!.sync_step)).toStrictEqual(Array.from({ length: 600 }, (_, n) => n));
  });

  it('never batches the firings of a graph with a time limit', async () => {
    const { rt, log, reactor: name, a } = await pipeline({ sync_step: { timeoutMs: 5000 } });
    for (let n = 0; n < 40; n++) rt.push(a, { n });
    await rt.idle();
    expect(batchedOf(rt, name)).toBe(0);
    expect(log.records.map((r) => r.outputs!.sync_step)).toStrictEqual(Array.from({ length: 40 }, (_, n) => n));
  });
});

describe('batched firings of a keyed reactor on the pool', () => {
  /** Sources `a` -> a sequential reactor keyed by `k` -> `sync_step`, on a pool of its own (one thread). */
  async function keyedPipeline() {
    const names = { a: unique('a'), r: unique('keyed_seq') };
    const pool = new NodePool({ threads: 1 });
    const R = reactor({ name: names.r, accumulators: [names.a], strategy: 'sequential', key: 'k' });
    const g = await graph(
      unique('keyed_batched'),
      'pool',
      { reactor: R, nodes, graph: { sync_step: { inputs: [names.a] } } },
      { pool },
    );
    const rt = runtime();
    rt.register(passthroughAccumulator({ name: names.a }), R, g);
    const log = new FireLog(rt);
    await rt.start();
    // One key at a time until the graph is measured light.
    for (let n = 0; n < 30; n++) {
      rt.push(names.a, { k: 'warm', n: -1 - n });
      await rt.idle();
    }
    log.records.length = 0;
    return { rt, log, pool, a: names.a, reactor: names.r };
  }

  /** Per key, the `n` of each record, in record order. */
  const byKey = (records: FireRecord[]) => {
    const keys = new Map<string, unknown[]>();
    for (const r of records) keys.set(r.key!, [...(keys.get(r.key!) ?? []), r.ok ? r.outputs!.sync_step : 'failed']);
    return keys;
  };

  it('queued firings of several keys share a worker message; each key fires every boundary once, in order', async () => {
    const { rt, log, pool, a } = await keyedPipeline();
    try {
      const before = pool.stats.grouped;
      for (let n = 0; n < 8; n++) for (let key = 0; key < 48; key++) rt.push(a, { k: `key${key}`, n });
      await rt.idle();
      expect(pool.stats.grouped).toBeGreaterThan(before);
      expect(log.records.every((r) => r.ok)).toBe(true);
      const keys = byKey(log.records);
      expect(keys.size).toBe(48);
      for (const seen of keys.values()) expect(seen).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await rt.shutdown();
      await pool.close();
    }
  });

  it('a worker that exits inside a group: its firing fails naming the node, no boundary of any key fires twice or is lost', async () => {
    const { rt, log, pool, a } = await keyedPipeline();
    try {
      const before = pool.stats.grouped;
      for (let n = 0; n < 6; n++) {
        for (let key = 0; key < 32; key++)
          rt.push(a, { k: `key${key}`, n, ...(key === 20 && n === 3 ? { exit: true } : {}) });
      }
      await rt.idle();
      expect(pool.stats.grouped).toBeGreaterThan(before);
      const exited = log.records.find((r) => r.key === 'key20' && !r.ok && (r.inputs[a] as { n: number }).n === 3);
      expect(exited?.error).toBeInstanceOf(GraphExecutionError);
      expect((exited!.error as GraphExecutionError).cause).toBeInstanceOf(WorkerExitError);
      expect((exited!.error as GraphExecutionError).node).toBe('sync_step');
      // Every boundary has exactly one record, in its key's order; what failed, failed as lost with the worker.
      const keys = byKey(log.records);
      expect(keys.size).toBe(32);
      for (const [key, seen] of keys) {
        const ns = log.records.filter((r) => r.key === key).map((r) => (r.inputs[a] as { n: number }).n);
        expect(ns, key).toStrictEqual([0, 1, 2, 3, 4, 5]);
        seen.forEach((value, n) => expect(value === n || value === 'failed', `${key} ${n}`).toBe(true));
      }
      for (const r of log.records.filter((r) => !r.ok)) {
        expect(((r.error as GraphExecutionError).cause as Error).constructor).toBe(WorkerExitError);
      }
      // The pool goes on: a key fires after the worker was replaced.
      rt.push(a, { k: 'after', n: 1 });
      await rt.idle();
      expect(log.records.at(-1)).toMatchObject({ key: 'after', ok: true, outputs: { sync_step: 1 } });
    } finally {
      await rt.shutdown();
      await pool.close();
    }
  });
});
