/**
 * The runtime's lifecycle (contract section 6): start() and shutdown() are idempotent under
 * concurrency, a failed start can be retried, and shutdownOnSignals() stops a process
 * gracefully on SIGTERM (a second signal exits at once).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegistrationError, StateError, passthroughAccumulator, reactor, type Runtime } from 'cloaca';
import { spawnReporting } from '../support/child.js';
import {
  Control,
  FireLog,
  executors,
  fixture,
  rejectionOf,
  unique,
  useRuntimes,
  type ExecutorName,
} from './support.js';

const { runtime, graph, tmp } = useRuntimes();

async function setup(executor: ExecutorName, node: 'snap' | 'gated', rt: Runtime = runtime()) {
  const a = unique('a');
  const R = reactor({ name: unique('r'), accumulators: [a], strategy: 'sequential' });
  rt.register(
    passthroughAccumulator({ name: a }),
    R,
    await graph(unique('g'), executor, { reactor: R, graph: { [node]: { inputs: [a] } } }),
  );
  return { rt, a, log: new FireLog(rt) };
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  it('two concurrent start() calls return one promise and wire everything once: each push fires once', async () => {
    const { rt, a, log } = await setup(executor, 'snap');
    const first = rt.start();
    const second = rt.start();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(rt.start()).toBe(first);
    for (let n = 0; n < 10; n++) rt.push(a, n);
    await rt.idle();
    expect(log.records.map((r) => (r.outputs?.snap as number[])[0])).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a second shutdown() while the first drains returns the same promise, which waits for the drain', async () => {
    const { rt, a, log } = await setup(executor, 'gated');
    await rt.start();
    const control = new Control();
    for (let n = 0; n < 3; n++) rt.push(a, control.tag(n));
    await control.entered(1);
    const first = rt.shutdown();
    const second = rt.shutdown();
    expect(second).toBe(first);
    let settled = false;
    void second.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(rt.state).toBe('stopping');
    control.open();
    await second;
    expect(rt.state).toBe('stopped');
    expect(log.records).toHaveLength(3);
  });
});

it('shutdown() during start() waits for the start, then stops', async () => {
  const { rt } = await setup('inline', 'snap');
  const states: string[] = [];
  rt.on('state', (state) => states.push(state));
  const starting = rt.start();
  const stopping = rt.shutdown();
  await starting;
  await stopping;
  expect(states).toStrictEqual(['starting', 'started', 'stopping', 'stopped']);
});

it('shutdown() before start() stops at once; start() afterwards is a StateError', async () => {
  const { rt } = await setup('inline', 'snap');
  await rt.shutdown();
  expect(rt.state).toBe('stopped');
  const error = await rejectionOf(rt.start());
  expect(error).toBeInstanceOf(StateError);
});

it('a failed start leaves the runtime created: fix the registration and start again', async () => {
  const rt = runtime();
  const a = unique('a');
  rt.register(reactor({ name: unique('r'), accumulators: [a] }));
  expect(await rejectionOf(rt.start())).toBeInstanceOf(RegistrationError);
  expect(rt.state).toBe('created');
  rt.register(passthroughAccumulator({ name: a }));
  await rt.start();
  expect(rt.state).toBe('started');
});

describe('shutdownOnSignals()', () => {
  it('SIGTERM delivers the buffered batch, persists, closes and exits 0', async () => {
    const file = join(tmp(), 'signals.db');
    const child = spawnReporting(fixture('signal-child.mjs'), ['batch', file]);
    await child.line((l) => l === 'ready');
    child.proc.kill('SIGTERM');
    const { code, signal } = await child.exited;
    expect({ code, signal }, child.stderr()).toStrictEqual({ code: 0, signal: null });
    const lines = child.lines();
    // The batch is delivered while stopping, before the runtime is stopped.
    expect(lines.slice(lines.indexOf('ready'))).toStrictEqual([
      'ready',
      'state stopping',
      'fired [1,2,3,4,5]',
      'state stopped',
    ]);

    // Everything was committed: a restart finds no batch left to deliver.
    const again = spawnReporting(fixture('signal-child.mjs'), ['batch', file]);
    await again.line((l) => l === 'ready');
    again.proc.kill('SIGTERM');
    await again.exited;
    expect(again.lines().filter((l) => l.startsWith('fired '))).toStrictEqual(['fired [1,2,3,4,5]']);
  });

  it('a second SIGTERM during a shutdown held by a firing exits at once with 128 + 15', async () => {
    const child = spawnReporting(fixture('signal-child.mjs'), ['stuck', join(tmp(), 'stuck.db')]);
    await child.line((l) => l === 'ready');
    child.proc.kill('SIGTERM');
    await child.line((l) => l === 'state stopping');
    child.proc.kill('SIGTERM');
    const { code } = await child.exited;
    expect(code).toBe(143);
    expect(child.lines()).not.toContain('state stopped');
  });
});
