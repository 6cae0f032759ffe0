/**
 * Batched dispatch: when several light units wait for the pool, several go to one worker in one
 * message. Every rule holds per unit inside a batch: the queue's order, value semantics (each
 * unit's values its own, extras restored), cancellation of a failed run, time limits counted from
 * each unit's own start, and the collateral rules of a worker that goes away (contract 5).
 *
 * The pools here have one thread and one task per worker, so what waits while a task is in flight
 * leaves in one batch: the batches are deterministic. Units are warmed first, so the cost model
 * knows them light (only light units are batched).
 */
import { describe, expect, it } from 'vitest';
import {
  GraphExecutionError,
  NodePool,
  NodeTimeoutError,
  WorkerExitError,
  type ComputationGraph,
  type NodePoolOptions,
  type Topology,
} from 'cloaca';
import { cells, changed, signal } from './support/cells.js';
import { fixture, rejectionOf } from './support/executors.js';
import { causeOf, usePools, warm } from './support/pools.js';

const batchNodes = fixture('batch.nodes.mjs');
const faultNodes = fixture('faults.nodes.mjs');
const harness = usePools();

/** One thread, one task at a time: whatever waits behind a task in flight goes in the next batch. */
function pool(options: NodePoolOptions = {}): NodePool {
  return harness.pool({ threads: 1, concurrentTasksPerWorker: 1, ...options });
}

function graph(name: string, on: NodePool, topology: Topology, nodes = batchNodes): Promise<ComputationGraph> {
  return harness.graph(name, on, topology, nodes);
}

describe('batched dispatch', () => {
  it('sends the units waiting together in one batch, and a lone unit on its own', async () => {
    const one = pool();
    const g = await graph('ordered', one, { order: {} });
    await warm(g, { i: 0 });
    const before = one.stats.batched;
    for (let i = 0; i < 5; i++) await g.execute({ i });
    expect(one.stats.batched).toBe(before);

    const { sab } = cells();
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => g.execute({ i, sab })));
    expect(one.stats.batched).toBeGreaterThan(before);
    // Older runs first: the order the units started in is the order they were submitted in.
    expect(runs.map((r) => r.outputs.order)).toStrictEqual(Array.from({ length: 20 }, (_, i) => ({ i, at: i })));
  });

  it('keeps the queue order inside a batch: the longer remaining path first, whatever the topology lists', async () => {
    const one = pool();
    const g = await graph('ranked', one, {
      short_branch: {},
      long_branch: { next: 'long_tail' },
      long_tail: {},
    });
    await warm(g, { i: 0 });
    // The two roots share one batch once both are estimated light and within one batch's budget.
    // On a busy machine a slow sample while warming can hold the longer one's estimate over it
    // for a few runs: the runs go on (and keep measuring) until the two leave together.
    let batched = 0;
    let outputs: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 30 && batched !== 2; attempt++) {
      const before = one.stats.batched;
      const { sab } = cells();
      ({ outputs } = await g.execute({ i: 1, sab }));
      batched = one.stats.batched - before;
    }
    expect(batched).toBe(2);
    expect(outputs).toStrictEqual({ long_tail: { i: 1, at: 0 }, short_branch: { i: 1, at: 1 } });
  });

  it('answers units that go asynchronous in a batch on their own, each with its own value', async () => {
    const one = pool();
    const g = await graph('async', one, { soon: {} });
    await warm(g, { i: 0 });
    const before = one.stats.batched;
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => g.execute({ i })));
    expect(one.stats.batched).toBeGreaterThan(before);
    expect(runs.map((r) => r.outputs.soon)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('sends nothing in batches with batchSize 1', async () => {
    const one = pool({ batchSize: 1 });
    const g = await graph('unbatched', one, { order: {} });
    await warm(g, { i: 0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => g.execute({ i })));
    expect(one.stats.batched).toBe(0);
  });
});

describe("values inside a batch are each unit's own", () => {
  it("gives each consumer of a fan-out its own copy when both travel in one batch: one's change is not the other's", async () => {
    const one = pool();
    const g = await graph('fan_out', one, {
      make: { next: ['mutate_arg', 'echo_arg'] },
      mutate_arg: { next: 'after_mutate' },
      after_mutate: {},
      echo_arg: {},
    });
    await warm(g, undefined);
    const before = one.stats.batched;
    const { outputs } = await g.execute(undefined);
    expect(one.stats.batched).toBe(before + 2);
    expect(outputs).toStrictEqual({ after_mutate: 'mutated', echo_arg: { n: 1, list: ['a'] } });
  });

  it('gives two runs executed with one input object their own copies in one batch', async () => {
    const one = pool();
    const g = await graph('same_input', one, { mark_ctx: {} });
    await warm(g, { i: 0 });
    const before = one.stats.batched;
    const input = { i: 1 };
    const results = await Promise.all([g.execute(input), g.execute(input), g.execute(input)]);
    expect(one.stats.batched).toBeGreaterThan(before);
    for (const r of results) expect(r.outputs.mark_ctx).toStrictEqual({ i: 1, marks: 1 });
    expect(input).toStrictEqual({ i: 1 });
  });

  it('answers two results that are one object in the worker as two objects', async () => {
    const one = pool();
    const g = await graph('constant', one, { constant: {} });
    await warm(g, undefined);
    const before = one.stats.batched;
    const [a, b, c] = await Promise.all([g.execute(undefined), g.execute(undefined), g.execute(undefined)]);
    expect(one.stats.batched).toBeGreaterThan(before);
    const first = a!.outputs.constant as { n: number; list: number[] };
    first.list.push(2);
    expect(b!.outputs.constant).toStrictEqual({ n: 1, list: [1] });
    expect(c!.outputs.constant).toStrictEqual({ n: 1, list: [1] });
    expect(b!.outputs.constant).not.toBe(c!.outputs.constant);
  });

  it('restores what clone loses per unit, in arguments and results: Buffers, errors with their codes, frozen objects', async () => {
    const one = pool();
    const g = await graph('kinds', one, { kinds: {} });
    const input = (i: number) => ({
      i,
      buf: Buffer.from('in'),
      frozen: Object.freeze({ f: i }),
      error: Object.assign(new RangeError('arg'), { code: 'E_ARG' }),
    });
    await warm(g, input(0));
    const before = one.stats.batched;
    const results = await Promise.all([1, 2, 3].map((i) => g.execute(input(i))));
    expect(one.stats.batched).toBeGreaterThan(before);
    for (const [k, r] of results.entries()) {
      const out = r.outputs.kinds as Record<string, unknown>;
      expect({ argBuffer: out.argBuffer, argFrozen: out.argFrozen, argError: out.argError }).toStrictEqual({
        argBuffer: true,
        argFrozen: true,
        argError: true,
      });
      expect(Buffer.isBuffer(out.buf) && out.buf.toString()).toBe(`b${k + 1}`);
      expect(out.error).toBeInstanceOf(TypeError);
      expect((out.error as { code: string }).code).toBe(`E${k + 1}`);
      expect(Object.isFrozen(out.frozen)).toBe(true);
    }
  });
});

describe('a failed run inside a batch', () => {
  it('starts none of its units behind the failing one in the same batch', async () => {
    const one = pool();
    const g = await graph('cancelled', one, {
      never_start: {},
      fail_first: { next: 'fail_tail' },
      fail_tail: {},
    });
    await warm(g, { fail: false });
    const before = one.stats.batched;
    const { sab, view } = cells();
    const error = await rejectionOf(g.execute({ fail: true, sab }));
    expect((error as GraphExecutionError).node).toBe('fail_first');
    expect((causeOf(error) as { code: string }).code).toBe('E_PURPOSE');
    expect(one.stats.batched).toBe(before + 2);
    expect(Atomics.load(view, 1)).toBe(0);
  });
});

describe('faults inside a batch', () => {
  it('a hang at the head of a batch: the worker is replaced, the units behind it had not started and succeed', async () => {
    const one = pool();
    const stuck = await graph('stuck', one, { spin_forever: { timeoutMs: 300 } }, faultNodes);
    const healthy = await graph('healthy', one, { light: {} }, faultNodes);
    await warm(stuck, { hang: false });
    await warm(healthy, { i: 0 });
    const batched = one.stats.batched;

    const hang = cells();
    const hung = rejectionOf(stuck.execute({ hang: true, sab: hang.sab }));
    const behind = [1, 2, 3].map((i) => healthy.execute({ i }));

    const cause = causeOf(await hung);
    expect(cause).toBeInstanceOf(NodeTimeoutError);
    expect((cause as NodeTimeoutError).node).toBe('spin_forever');
    expect((await Promise.all(behind)).map((r) => r.outputs.light)).toStrictEqual([1, 2, 3]);
    expect(one.stats.batched).toBeGreaterThanOrEqual(batched + 4);
    expect(one.stats.redispatched).toBeGreaterThanOrEqual(3);
    expect(one.stats.terminated).toBe(1);
  });

  it('an exit inside a batch: units before it fail naming it, units after it are dispatched again', async () => {
    const one = pool();
    const healthy = await graph('healthy', one, { light: {} }, faultNodes);
    const exiting = await graph('exiting', one, { exit_now: {} }, faultNodes);
    await warm(healthy, { i: 0 });
    await warm(exiting, { exit: false });
    const batched = one.stats.batched;

    const exit = cells();
    const first = rejectionOf(healthy.execute({ i: 1 }));
    const culprit = rejectionOf(exiting.execute({ exit: true, sab: exit.sab }));
    const last = healthy.execute({ i: 2 });

    const own = causeOf(await culprit) as WorkerExitError;
    expect(own).toBeInstanceOf(WorkerExitError);
    expect(own.culprit).toStrictEqual({ graph: 'exiting', node: 'exit_now' });
    // It had run (its answer was still in the worker): it fails as a bystander, naming the culprit.
    const bystander = causeOf(await first) as WorkerExitError;
    expect(bystander).toBeInstanceOf(WorkerExitError);
    expect({ node: bystander.node, culprit: bystander.culprit }).toStrictEqual({
      node: 'light',
      culprit: { graph: 'exiting', node: 'exit_now' },
    });
    expect((await last).outputs.light).toBe(2);
    expect(one.stats.batched).toBeGreaterThanOrEqual(batched + 3);
    expect(one.stats.redispatched).toBeGreaterThanOrEqual(1);
  });

  it('a unit that goes asynchronous answers on its own: the rest of its batch is answered, and its time limit still holds', async () => {
    const one = pool();
    const never = await graph('never', one, { never_resolves: { timeoutMs: 200 } }, faultNodes);
    const healthy = await graph('healthy', one, { light: {} }, faultNodes);
    await warm(never, { hang: false });
    await warm(healthy, { i: 0 });
    const batched = one.stats.batched;

    const hung = rejectionOf(never.execute({ hang: true }));
    const behind = [1, 2, 3].map((i) => healthy.execute({ i }));
    expect((await Promise.all(behind)).map((r) => r.outputs.light)).toStrictEqual([1, 2, 3]);
    const cause = causeOf(await hung);
    expect(cause).toBeInstanceOf(NodeTimeoutError);
    expect((cause as NodeTimeoutError).node).toBe('never_resolves');
    expect(one.stats.batched).toBeGreaterThanOrEqual(batched + 4);
  });

  it('a unit still waiting after its batch was answered fails naming the node whose exit ended its worker', async () => {
    const one = pool();
    const held = await graph('held', one, { hold: {} }, faultNodes);
    const healthy = await graph('healthy', one, { light: {} }, faultNodes);
    const exiting = await graph('exiting', one, { exit_now: {} }, faultNodes);
    const opened = cells();
    signal(opened.view, 0);
    await warm(held, { sab: opened.sab });
    await warm(healthy, { i: 0 });
    await warm(exiting, { exit: false });
    const batched = one.stats.batched;

    const gate = cells();
    const heldRun = rejectionOf(held.execute({ sab: gate.sab }));
    const beside = healthy.execute({ i: 1 });
    // Its batch was answered while hold, which started there, still waits.
    expect((await beside).outputs.light).toBe(1);
    await changed(gate.view, 1);
    expect(one.stats.batched).toBe(batched + 2);

    const exit = cells();
    const own = causeOf(await rejectionOf(exiting.execute({ exit: true, sab: exit.sab }))) as WorkerExitError;
    expect(own.culprit).toStrictEqual({ graph: 'exiting', node: 'exit_now' });
    const bystander = causeOf(await heldRun) as WorkerExitError;
    expect(bystander).toBeInstanceOf(WorkerExitError);
    expect({ node: bystander.node, culprit: bystander.culprit }).toStrictEqual({
      node: 'hold',
      culprit: { graph: 'exiting', node: 'exit_now' },
    });
    expect((await exiting.execute({ exit: false })).outputs.exit_now).toMatchObject({ alive: true });
  });
});
