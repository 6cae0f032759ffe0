/**
 * Nodes talking back to the runtime (contract section 6): `host` of `cloaca/worker` feeds any
 * accumulator of the runtime running the node, from a pool worker (a comlink proxy) and inline
 * (the runtime itself); outside a runtime it rejects with a clear error.
 *
 * Pool graphs here are built WITHOUT a `pool` option: the runtime moves them onto its own pool,
 * whose workers know the channel back to it.
 */
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { GraphExecutionError, UncloneableValueError, passthroughAccumulator, reactor, stateAccumulator } from 'cloaca';
import { FireLog, executors, rejectionOf, unique, useRuntimes, type ExecutorName } from './support.js';

const { runtime, graph } = useRuntimes();

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  /** Reactor R1 (source `in`) runs `node`; reactor R2 (source `out`) records what reaches it. */
  async function setup(
    node: string,
    options: { out?: 'passthrough' | 'state'; log?: (...args: unknown[]) => void; listen?: string } = {},
  ) {
    const input = unique('in');
    const out = unique('out');
    const R1 = reactor({ name: unique('r1'), accumulators: [input], strategy: 'sequential' });
    const R2 = reactor({ name: unique('r2'), accumulators: [out], strategy: 'sequential' });
    const talker = await graph(
      unique('talker'),
      executor,
      { reactor: R1, graph: { [node]: { inputs: [input] } } },
      { sharedPool: true },
    );
    const listener = await graph(unique('listener'), 'inline', {
      reactor: R2,
      graph: { [options.listen ?? 'snap']: { inputs: [out] } },
    });
    const rt = runtime(options.log ? { log: options.log } : {});
    rt.register(
      passthroughAccumulator({ name: input }),
      options.out === 'state' ? stateAccumulator({ name: out, capacity: -1 }) : passthroughAccumulator({ name: out }),
      R1,
      R2,
      talker,
      listener,
    );
    const log = new FireLog(rt);
    await rt.start();
    return { rt, input, out, log, talker: talker.name, listener: listener.name };
  }

  it('a node feeds another reactor of the runtime with `await host.push(name, value)`', async () => {
    const { rt, input, out, log, talker, listener } = await setup('forward');
    for (let n = 1; n <= 3; n++) rt.push(input, { to: out, value: { n } });
    await rt.idle();
    expect(log.of(talker).map((r) => r.outputs?.forward)).toStrictEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(log.of(listener).map((r) => r.outputs?.snap)).toStrictEqual([[{ n: 1 }], [{ n: 2 }], [{ n: 3 }]]);
  });

  it(executor === 'pool' ? 'works from a worker thread' : 'works on the main thread', async () => {
    const { rt, input, out, log, talker, listener } = await setup('forward_from_thread');
    rt.push(input, { to: out, value: 'hi' });
    await rt.idle();
    const thread = log.of(talker)[0]!.outputs?.forward_from_thread;
    if (executor === 'pool') expect(thread).not.toBe(threadId);
    else expect(thread).toBe(threadId);
    expect(log.of(listener).map((r) => r.outputs?.snap)).toStrictEqual([['hi']]);
  });

  it('a pushed Buffer arrives as a Buffer and an Error keeps its class and own properties', async () => {
    const { rt, input, out, log, listener } = await setup('push_buffer', { listen: 'inspect_pushed' });
    rt.push(input, { to: out, text: 'hello' });
    await rt.idle();
    expect(log.of(listener).map((r) => r.outputs?.inspect_pushed)).toStrictEqual([
      { buffer: true, text: 'hello', error: 'RangeError', code: 'E_R', isRangeError: true },
    ]);
  });

  it('host.push of an event with a function fails the firing with UncloneableValueError naming the accumulator and path', async () => {
    const { rt, input, out, log, talker, listener } = await setup('push_function');
    rt.push(input, { to: out });
    await rt.idle();
    const [record] = log.of(talker);
    expect(record!.ok).toBe(false);
    const cause = (record!.error as GraphExecutionError).cause as UncloneableValueError;
    expect(cause).toBeInstanceOf(UncloneableValueError);
    expect(cause.accumulator).toBe(out);
    expect(cause.path).toBe('event.cb');
    expect(log.of(listener)).toHaveLength(0);
  });

  it('a node can write a state window through host.push', async () => {
    const { rt, input, out, log, listener } = await setup('forward', { out: 'state' });
    rt.push(input, { to: out, value: 'x' });
    rt.push(input, { to: out, value: 'y' });
    await rt.idle();
    expect(log.of(listener).map((r) => r.outputs?.snap)).toStrictEqual([[['x']], [['x', 'y']]]);
  });

  it("host.log goes to the runtime's logger", async () => {
    const lines: unknown[][] = [];
    const { rt, input } = await setup('log_it', { log: (...args) => lines.push(args) });
    rt.push(input, { hello: 'world' });
    await rt.idle();
    expect(lines).toContainEqual(['log_it', { hello: 'world' }]);
  });

  it('host.push to an unknown accumulator fails the firing with an error naming it', async () => {
    const { rt, input, log, talker } = await setup('forward');
    rt.push(input, { to: 'no_such_accumulator', value: 1 });
    await rt.idle();
    const [record] = log.of(talker);
    expect(record!.ok).toBe(false);
    expect(record!.error).toBeInstanceOf(GraphExecutionError);
    expect((record!.error as GraphExecutionError).node).toBe('forward');
    expect(((record!.error as Error).cause as Error).message).toContain("'no_such_accumulator'");
  });

  it('a host.push still waiting for room when shutdown starts rejects, failing its firing, instead of hanging shutdown', async () => {
    const input = unique('in');
    const out = unique('out');
    const R1 = reactor({ name: unique('r1'), accumulators: [input], strategy: 'sequential' });
    const R2 = reactor({ name: unique('r2'), accumulators: [out], strategy: 'sequential' });
    const talker = await graph(
      unique('talker'),
      executor,
      { reactor: R1, graph: { forward: { inputs: [input] } } },
      { sharedPool: true },
    );
    const rt = runtime({ queueCapacity: 2 });
    rt.register(passthroughAccumulator({ name: input }), passthroughAccumulator({ name: out }), R1, R2, talker);
    const log = new FireLog(rt);
    await rt.start();
    rt.reactor(R2.name).pause(); // R2 never makes room
    for (let n = 1; n <= 3; n++) rt.push(input, { to: out, value: n });
    await log.until(2); // the third firing is now waiting in host.push
    expect(rt.reactor(R2.name).getState().queued).toBe(2);
    await rt.shutdown();
    expect(log.records.map((r) => r.ok)).toStrictEqual([true, true, false]);
    const error = log.records[2]!.error as GraphExecutionError;
    expect(error).toBeInstanceOf(GraphExecutionError);
    expect((error.cause as Error).message).toContain(`host.push('${out}'): the runtime is stopping`);
  });

  it('outside a runtime, a bare graph.execute fails: host.push rejects saying no runtime is running it', async () => {
    const R = reactor({ name: unique('r'), accumulators: ['in'] });
    const g = await graph(unique('bare'), executor, { reactor: R, graph: { forward: { inputs: ['in'] } } });
    const error = await rejectionOf(g.execute({ in: { to: 'anything', value: 1 } }));
    expect(error).toBeInstanceOf(GraphExecutionError);
    expect((error as GraphExecutionError).node).toBe('forward');
    const cause = (error as Error).cause as Error;
    expect(cause.message).toMatch(/^host: /);
    expect(cause.message).toMatch(/host\.push and host\.log work only in nodes run by a started Runtime/);
  });
});
