/**
 * A worker replaced because of one run's node costs other runs nothing they did not start
 * (contract 5): units that had not started on it are dispatched again; units that had started
 * fail with a WorkerExitError naming the node that caused it, never a NodeTimeoutError of their
 * own. Faults are real: a node stuck in a synchronous loop past its limit, a node that calls
 * process.exit, mixed with many healthy light runs pipelined on the same workers.
 */
import { describe, expect, it } from 'vitest';
import { NodePool, NodeTimeoutError, WorkerExitError, type ComputationGraph, type Topology } from 'cloaca';
import { cells, changed, signal } from './support/cells.js';
import { fixture, rejectionOf } from './support/executors.js';
import { causeOf, usePools, warm } from './support/pools.js';

const nodes = fixture('faults.nodes.mjs');
const harness = usePools();

function pool(threads: number): NodePool {
  return harness.pool({ threads, concurrentTasksPerWorker: 4 });
}

function graph(name: string, on: NodePool, topology: Topology): Promise<ComputationGraph> {
  return harness.graph(name, on, topology, nodes);
}

describe('a worker replaced because of one run', () => {
  it('dispatches again the units that were waiting on it, which then succeed (a timeout)', async () => {
    const one = pool(1);
    const stuck = await graph('stuck', one, { spin_forever: { timeoutMs: 300 } });
    // Healthy units whose own limit is shorter than the time they wait behind the hang.
    const healthy = await graph('healthy', one, { light: { timeoutMs: 100 } });
    await warm(stuck, { hang: false });
    await warm(healthy, { i: 0 });

    const hang = cells();
    const hung = stuck.execute({ hang: true, sab: hang.sab });
    await changed(hang.view, 0);
    // The only worker is stuck: these are handed to it and wait there, never started.
    const waiting = Array.from({ length: 3 }, (_, i) => healthy.execute({ i: i + 1 }));

    const cause = causeOf(await rejectionOf(hung));
    expect(cause).toBeInstanceOf(NodeTimeoutError);
    expect((cause as NodeTimeoutError).node).toBe('spin_forever');
    const outputs = await Promise.all(waiting);
    expect(outputs.map((r) => r.outputs)).toStrictEqual([{ light: 1 }, { light: 2 }, { light: 3 }]);
    expect(one.stats.redispatched).toBeGreaterThanOrEqual(3);
    expect(one.stats.terminated).toBe(1);
  });

  it('fails a unit that had started on it with WorkerExitError naming the node that ended it (an exit)', async () => {
    const one = pool(1);
    const held = await graph('held', one, { hold: {} });
    const exiting = await graph('exiting', one, { exit_now: {} });
    const opened = cells();
    signal(opened.view, 0);
    await warm(held, { sab: opened.sab });
    await warm(exiting, { exit: false });

    const gate = cells();
    const heldRun = held.execute({ sab: gate.sab });
    await changed(gate.view, 1); // hold has started, and waits without blocking its worker
    const exit = cells();
    const exitError = await rejectionOf(exiting.execute({ exit: true, sab: exit.sab }));

    const own = causeOf(exitError) as WorkerExitError;
    expect(own).toBeInstanceOf(WorkerExitError);
    expect({ node: own.node, culprit: own.culprit }).toStrictEqual({
      node: 'exit_now',
      culprit: { graph: 'exiting', node: 'exit_now' },
    });
    const bystander = causeOf(await rejectionOf(heldRun)) as WorkerExitError;
    expect(bystander).toBeInstanceOf(WorkerExitError);
    expect({ node: bystander.node, culprit: bystander.culprit }).toStrictEqual({
      node: 'hold',
      culprit: { graph: 'exiting', node: 'exit_now' },
    });
    expect(bystander.message).toContain("because of node 'exit_now' of graph 'exiting'");
    // The replacement worker runs both again.
    expect((await exiting.execute({ exit: false })).outputs.exit_now).toMatchObject({ alive: true });
  });

  it('fails a unit that had started on it with WorkerExitError naming the node that timed out', async () => {
    const one = pool(1);
    const held = await graph('held', one, { hold: { timeoutMs: 100 } });
    const stuck = await graph('stuck', one, { spin_forever: { timeoutMs: 300 } });
    const opened = cells();
    signal(opened.view, 0);
    await warm(held, { sab: opened.sab });
    await warm(stuck, { hang: false });

    const gate = cells();
    const heldRun = held.execute({ sab: gate.sab });
    await changed(gate.view, 1);
    const hang = cells();
    const timeout = causeOf(await rejectionOf(stuck.execute({ hang: true, sab: hang.sab })));
    expect(timeout).toBeInstanceOf(NodeTimeoutError);
    // hold's own 100 ms passed while spin_forever held the thread: it is a bystander.
    const bystander = causeOf(await rejectionOf(heldRun)) as WorkerExitError;
    expect(bystander).toBeInstanceOf(WorkerExitError);
    expect({ node: bystander.node, culprit: bystander.culprit }).toStrictEqual({
      node: 'hold',
      culprit: { graph: 'stuck', node: 'spin_forever' },
    });
  });

  it('with real hangs and exits among many healthy light runs, fails no healthy run for a fault of its own', async () => {
    const two = pool(2);
    const healthy = await graph('healthy', two, { light: { timeoutMs: 100 } });
    const healthyAsync = await graph('healthy_async', two, { light_async: { timeoutMs: 2000 } });
    const stuck = await graph('stuck', two, { spin_forever: { timeoutMs: 300 } });
    const exiting = await graph('exiting', two, { exit_now: {} });
    await warm(healthy, { i: 0 });
    await warm(healthyAsync, { i: 0 });
    await warm(stuck, { hang: false });
    await warm(exiting, { exit: false });

    const faults: Array<Promise<unknown>> = [];
    const runs: Array<{ i: number; run: Promise<unknown> }> = [];
    for (let i = 0; i < 240; i++) {
      if (i % 40 === 20) faults.push(rejectionOf(stuck.execute({ hang: true, sab: cells().sab })));
      if (i % 40 === 30) faults.push(rejectionOf(exiting.execute({ exit: true, sab: cells().sab })));
      runs.push({ i, run: (i % 2 === 0 ? healthy : healthyAsync).execute({ i }) });
    }
    const outcomes = Promise.allSettled(runs.map((r) => r.run));

    for (const [k, fault] of (await Promise.all(faults)).entries()) {
      const cause = causeOf(fault);
      if (k % 2 === 0) {
        expect(cause).toBeInstanceOf(NodeTimeoutError);
      } else {
        expect(cause).toBeInstanceOf(WorkerExitError);
        expect((cause as WorkerExitError).culprit).toStrictEqual({ graph: 'exiting', node: 'exit_now' });
      }
    }
    const culprits = [
      { graph: 'stuck', node: 'spin_forever' },
      { graph: 'exiting', node: 'exit_now' },
    ];
    let succeeded = 0;
    for (const [k, outcome] of (await outcomes).entries()) {
      const { i } = runs[k]!;
      if (outcome.status === 'fulfilled') {
        expect(Object.values((outcome.value as { outputs: Record<string, unknown> }).outputs)).toStrictEqual([i]);
        succeeded++;
        continue;
      }
      const cause = causeOf(outcome.reason);
      expect(cause).toBeInstanceOf(WorkerExitError);
      expect(culprits).toContainEqual((cause as WorkerExitError).culprit);
    }
    // Only runs that had started on a worker that went away may fail: most succeed.
    expect(succeeded).toBeGreaterThanOrEqual(runs.length / 2);
  });
});
