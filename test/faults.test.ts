/**
 * Faults (contract sections 4 and 5), injected for real: nodes that spin, hang, exit their
 * worker thread, move buffers; parallelism read from what the nodes report; a script that
 * never calls close() exits by itself.
 *
 * The pool tests share this file's two-thread pool and run in order: the parallelism test comes
 * first, while both workers are up, before later tests make the pool replace workers.
 */
import { spawn } from 'node:child_process';
import { threadId as mainThreadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { GraphExecutionError, NodeTimeoutError, WorkerExitError } from 'cloaca';
import { cells, changed, signal } from './support/cells.js';
import { executors, fixture, rejectionOf, useGraphHarness, type ExecutorName } from './support/executors.js';

const { buildGraph } = useGraphHarness();
const nodes = fixture('faults.nodes.mjs');

interface SpinReport {
  readonly threadId: number;
  readonly start: number;
  readonly end: number;
  readonly sawPeer: boolean;
}

describe('pool executor faults', () => {
  it('runs independent CPU-bound nodes of one level in parallel', async () => {
    const g = await buildGraph('parallel', 'pool', {
      nodes,
      graph: { spin_a: { next: 'collect' }, spin_b: { next: 'collect' }, collect: {} },
    });
    expect(g.plan.levels).toStrictEqual([['spin_a', 'spin_b'], ['collect']]);
    // Twice: once unmeasured, once with the cost model's estimates in place.
    for (let round = 0; round < 2; round++) {
      const { sab } = cells();
      const { outputs } = await g.execute({ sab });
      const [a, b] = outputs.collect as [SpinReport, SpinReport];
      // Each spinner saw the other arrive while it was still busy: they overlapped.
      expect(a.sawPeer).toBe(true);
      expect(b.sawPeer).toBe(true);
      expect(a.start).toBeLessThan(b.end);
      expect(b.start).toBeLessThan(a.end);
      expect(a.threadId).not.toBe(b.threadId);
      expect([a.threadId, b.threadId]).not.toContain(mainThreadId);
    }
  });

  it('fails only the run whose node exits its worker, names the node, and replaces the worker', async () => {
    const held = await buildGraph('held', 'pool', { nodes, graph: { hold: {} } });
    const exiting = await buildGraph('exiting', 'pool', {
      nodes,
      graph: { exit_now: { next: 'where_next' }, where_next: {} },
    });

    // A run of another graph is in flight (holding a worker, without blocking it) meanwhile.
    const hold = cells();
    const heldRun = held.execute({ sab: hold.sab });
    await changed(hold.view, 1);

    const exit = cells();
    const error = await rejectionOf(exiting.execute({ exit: true, sab: exit.sab }));
    expect(error).toBeInstanceOf(GraphExecutionError);
    const e = error as GraphExecutionError;
    expect(e.graph).toBe('exiting');
    expect(e.node).toBe('exit_now');
    expect(e.message).toContain("'exit_now'");
    expect(e.cause).toBeInstanceOf(WorkerExitError);
    expect((e.cause as WorkerExitError).node).toBe('exit_now');
    expect((e.cause as WorkerExitError).message).toMatch(/code:? 3/);
    const dead = Atomics.load(exit.view, 0);
    expect(dead).toBeGreaterThan(0);

    // The concurrent run, on the other worker, is unaffected.
    signal(hold.view, 0);
    const { outputs } = await heldRun;
    const report = outputs.hold as { held: boolean; threadId: number };
    expect(report.held).toBe(true);
    expect(report.threadId).not.toBe(dead);

    // Later runs succeed, and the dead thread never answers again.
    for (let i = 0; i < 4; i++) {
      const next = await exiting.execute({ exit: false });
      const value = next.outputs.where_next as { before: { alive: boolean; threadId: number }; threadId: number };
      expect(value.before.alive).toBe(true);
      expect(value.threadId).not.toBe(dead);
    }
  });

  it('times out a node stuck in a synchronous loop, replaces its worker, and later runs succeed', async () => {
    const g = await buildGraph('stuck', 'pool', { nodes, graph: { spin_forever: { timeoutMs: 300 } } });
    const stuck = cells();
    const error = await rejectionOf(g.execute({ hang: true, sab: stuck.sab }));
    expect(error).toBeInstanceOf(GraphExecutionError);
    const e = error as GraphExecutionError;
    expect(e.node).toBe('spin_forever');
    expect(e.cause).toBeInstanceOf(NodeTimeoutError);
    expect((e.cause as NodeTimeoutError).node).toBe('spin_forever');
    expect((e.cause as NodeTimeoutError).timeoutMs).toBe(300);
    expect(e.message).toContain('300 ms');
    const stuckThread = Atomics.load(stuck.view, 0);
    expect(stuckThread).toBeGreaterThan(0);

    for (let i = 0; i < 4; i++) {
      const { outputs } = await g.execute({ hang: false });
      const value = outputs.spin_forever as { done: boolean; threadId: number };
      expect(value.done).toBe(true);
      expect(value.threadId).not.toBe(stuckThread);
    }
  });
});

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  it('times out an async node that never settles, and later runs succeed', async () => {
    const g = await buildGraph('never', executor, { nodes, graph: { never_resolves: { timeoutMs: 100 } } });
    const error = await rejectionOf(g.execute({ hang: true }));
    expect(error).toBeInstanceOf(GraphExecutionError);
    const e = error as GraphExecutionError;
    expect(e.node).toBe('never_resolves');
    expect(e.cause).toBeInstanceOf(NodeTimeoutError);
    expect((e.cause as NodeTimeoutError).node).toBe('never_resolves');
    expect((e.cause as NodeTimeoutError).timeoutMs).toBe(100);
    expect((await g.execute({ hang: false })).outputs).toStrictEqual({ never_resolves: 'resolved' });
  });

  it('delivers buffers marked with move() deep in a result intact', async () => {
    const g = await buildGraph('moves', executor, { nodes, graph: { make_samples: {} } });
    const watch = cells();
    const { outputs } = await g.execute({ n: 5, sab: watch.sab });
    const value = outputs.make_samples as {
      meta: { n: number };
      nested: [{ samples: Float64Array }, { raw: ArrayBuffer }];
      kept: Float64Array;
    };
    expect(value.meta).toStrictEqual({ n: 5 });
    expect(value.nested[0].samples).toBeInstanceOf(Float64Array);
    expect(Array.from(value.nested[0].samples)).toStrictEqual([0, 1.5, 3, 4.5, 6]);
    expect(value.nested[1].raw).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Uint8Array(value.nested[1].raw))).toStrictEqual([1, 2, 3, 4]);
    expect(value.kept).toBeInstanceOf(Float64Array);
    expect(Array.from(value.kept)).toStrictEqual([9, 8]);
    if (executor === 'pool') {
      // In the worker, the marked buffers were detached (moved, not copied); the unmarked one was copied.
      expect(await changed(watch.view, 0)).toBe(1);
      expect(Atomics.load(watch.view, 1)).toBe(1);
    }
  });

  it('passes moved buffers on to downstream nodes', async () => {
    const g = await buildGraph('moves_on', executor, {
      nodes,
      graph: { make_samples: { next: ['sum_samples', 'samples_type'] }, sum_samples: {}, samples_type: {} },
    });
    expect((await g.execute({ n: 5 })).outputs).toStrictEqual({
      sum_samples: 15,
      samples_type: '[object Float64Array]',
    });
  });
});

/** Runs a fixture script as its own process and collects how it ended. */
async function runScript(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, {
    cwd: fixture('.'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  });
  return { code, signal, stdout, stderr };
}

describe('process lifetime', () => {
  it('a script that builds and executes pool graphs, without close(), exits by itself', async () => {
    const { code, signal, stdout, stderr } = await runScript([fixture('exits-by-itself.mjs')]);
    expect({ code, signal, stderr }).toStrictEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(stdout)).toStrictEqual({
      executors: ['pool', 'pool'],
      shared: { times_two: 10 },
      own: { times_two: 4 },
      exit: 'GraphExecutionError/WorkerExitError',
      afterExit: true,
      timeout: 'GraphExecutionError/NodeTimeoutError',
      afterTimeout: true,
    });
  });

  // On Node 20, a thread terminated while require() is loading an ES module aborts the process
  // (a failed V8 check, not an exception). Pool threads must therefore never load the worker
  // with require(): --trace-require-module reports every such load on stderr.
  it("closing pools at any moment of their threads' start never takes the process down", async () => {
    const { code, signal, stdout, stderr } = await runScript([
      '--trace-require-module=all',
      fixture('closes-while-starting.mjs'),
      '40',
    ]);
    expect({ code, signal, stderr }).toStrictEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(stdout)).toStrictEqual({ closed: 40 });
  });

  // The same abort awaits a CommonJS node module's `require('cloaca/worker')` if that require
  // loads the ES module: so pool threads load `cloaca/worker` first, and the require only takes
  // its namespace. Node's loader says which (NODE_DEBUG=esm): the module's job is `undefined`
  // when the require has to load it.
  it("a CommonJS node module's require('cloaca/worker') in a pool thread finds it already loaded", async () => {
    const { code, signal, stdout } = await runScript([fixture('requires-worker.mjs')], { NODE_DEBUG: 'esm' });
    expect({ code, signal }).toStrictEqual({ code: 0, signal: null });
    const { outputs, requires } = JSON.parse(stdout) as { outputs: unknown; requires: string[] };
    expect(outputs).toStrictEqual({ one: 2 });
    // The main thread's (it checks the module's exports, on a thread nobody terminates), then the pool thread's.
    expect(requires).toHaveLength(2);
    expect(requires[1]).toMatch(/dist\/src\/worker\.js ModuleJob \{$/);
  });
});
