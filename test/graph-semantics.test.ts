/**
 * Graph semantics (contract sections 2 and 3), every rule on both executors: each test in the
 * `describe.each` block builds its graph from the same fixture module on the pool and inline.
 */
import { pathToFileURL } from 'node:url';
import { threadId as mainThreadId } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import {
  CloacaError,
  ExecutorClosedError,
  GraphExecutionError,
  RoutingError,
  UncloneableValueError,
  reactor,
  type GraphResult,
  type Topology,
} from 'cloaca';
import { cells, changed, signal } from './support/cells.js';
import { example, executors, fixture, rejectionOf, useGraphHarness, type ExecutorName } from './support/executors.js';

const { buildGraph, pool } = useGraphHarness();
const nodes = fixture('semantics.nodes.mjs');

const Sources = reactor({ name: 'sources', accumulators: ['alpha', 'beta', 'gamma'] });
const MarketMakerReactor = reactor({
  name: 'market_maker_reactor',
  accumulators: ['alpha', 'beta'],
  mode: 'when_any',
  strategy: 'latest',
});
const marketMakerGraph: Topology = {
  decision: { inputs: ['alpha', 'beta'], routes: { Signal: 'signal_handler', NoAction: 'audit_logger' } },
  signal_handler: {},
  audit_logger: {},
};

/** Node name -> status, from a traced result. */
function statuses(result: GraphResult): Record<string, string> {
  expect(result.trace).toBeDefined();
  return Object.fromEntries(result.trace!.map((t) => [t.node, t.status]));
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  const build = (name: string, graph: Topology, extra: { reactor?: typeof Sources; fuse?: boolean } = {}) =>
    buildGraph(name, executor, { nodes, graph, ...extra });

  describe('edges', () => {
    it.each([true, false])('runs a linear chain (fuse: %s)', async (fuse) => {
      const g = await build(
        'chain',
        { add_one: { next: 'times_two' }, times_two: { next: 'to_text' }, to_text: {} },
        { fuse },
      );
      expect((await g.execute(5)).outputs).toStrictEqual({ to_text: 'value=12' });
      expect((await g.execute(0)).outputs).toStrictEqual({ to_text: 'value=2' });
    });

    it('fans out through next: [...]: every target gets the same value', async () => {
      const g = await build('fan_out', {
        src_one: { next: ['rec_a', 'rec_b', 'rec_c'] },
        rec_a: {},
        rec_b: {},
        rec_c: {},
      });
      const sent = { from: 'one', args: [{ k: 1 }] };
      expect((await g.execute({ k: 1 })).outputs).toStrictEqual({ rec_a: [sent], rec_b: [sent], rec_c: [sent] });
    });

    it('passes fan-in arguments in topology order of the upstream nodes, not completion, level or name order', async () => {
      // rec_a is declared before its upstreams. Upstreams in topology order: src_late (async,
      // finishes last), pass_a (level 1, behind src_two), src_one (level 0, synchronous).
      const g = await build('fan_in', {
        rec_a: {},
        src_late: { next: ['rec_b', 'rec_a'] },
        src_two: { next: 'pass_a' },
        pass_a: { next: 'rec_a' },
        src_one: { next: 'rec_a' },
        rec_b: {},
      });
      const { outputs } = await g.execute('ctx');
      expect(outputs.rec_a).toStrictEqual([
        { from: 'late', args: ['ctx'] },
        { from: 'two', args: ['ctx'] },
        { from: 'one', args: ['ctx'] },
      ]);
      expect(outputs.rec_b).toStrictEqual([{ from: 'late', args: ['ctx'] }]);
    });

    it('runs a diamond and exposes its levels', async () => {
      const g = await build('diamond', {
        pass_a: { next: ['add_one', 'times_ten'] },
        add_one: { next: 'pair' },
        times_ten: { next: 'pair' },
        pair: {},
      });
      expect(g.plan.levels).toStrictEqual([['pass_a'], ['add_one', 'times_ten'], ['pair']]);
      expect((await g.execute(3)).outputs).toStrictEqual({ pair: { left: 4, right: 30 } });
    });

    it('levels an unbalanced DAG by the longest path from a root', async () => {
      const g = await build('unbalanced', {
        pass_a: { next: ['add_one', 'rec_a'] },
        add_one: { next: 'times_two' },
        times_two: { next: 'rec_a' },
        pass_b: { next: 'rec_b' },
        rec_b: {},
        rec_c: {},
        rec_a: {},
      });
      expect(g.plan.levels).toStrictEqual([
        ['pass_a', 'pass_b', 'rec_c'],
        ['add_one', 'rec_b'],
        ['times_two'],
        ['rec_a'],
      ]);
      expect((await g.execute(2)).outputs).toStrictEqual({ rec_a: [2, 6], rec_b: [2], rec_c: [2] });
    });

    it('keeps a terminal that returned undefined in the outputs', async () => {
      const g = await build('undefined_out', { pass_a: { next: 'returns_undefined' }, returns_undefined: {} });
      const { outputs } = await g.execute(1);
      expect(Object.keys(outputs)).toStrictEqual(['returns_undefined']);
      expect(outputs.returns_undefined).toBeUndefined();
    });

    it('runs async nodes', async () => {
      const g = await build('async', { async_add_one: { next: 'add_one' }, add_one: { next: 'rec_a' }, rec_a: {} });
      expect((await g.execute(1)).outputs).toStrictEqual({ rec_a: [3] });
    });
  });

  describe('routing and skipping', () => {
    it('routes to every target of the chosen variant (routes: {V: [...]})', async () => {
      const g = await build('route_fan_out', {
        route_by: { routes: { Many: ['rec_a', 'rec_b', 'rec_c'], One: 'rec_d' } },
        rec_a: {},
        rec_b: {},
        rec_c: {},
        rec_d: {},
      });
      expect((await g.execute({ variant: 'Many', value: { v: 1 } })).outputs).toStrictEqual({
        rec_a: [{ v: 1 }],
        rec_b: [{ v: 1 }],
        rec_c: [{ v: 1 }],
      });
      expect((await g.execute({ variant: 'One', value: 'x' })).outputs).toStrictEqual({ rec_d: ['x'] });
    });

    it('runs a fan-in after routing with undefined in the dead in-edge position', async () => {
      const g = await build('route_fan_in', {
        route_by: { routes: { Left: 'add_one', Right: 'times_ten' } },
        add_one: { next: 'rec_a' },
        times_ten: { next: 'rec_a' },
        rec_a: {},
      });
      const left = await g.execute({ variant: 'Left', value: 1 }, { trace: true });
      expect(left.outputs).toStrictEqual({ rec_a: [2, undefined] });
      expect(statuses(left)).toStrictEqual({ route_by: 'ran', add_one: 'ran', times_ten: 'skipped', rec_a: 'ran' });
      expect((await g.execute({ variant: 'Right', value: 1 })).outputs).toStrictEqual({ rec_a: [undefined, 10] });
    });

    it('orders several routing edges from one upstream by declaration, then later upstreams', async () => {
      const g = await build('route_edges', {
        route_by: { routes: { A: 'rec_a', B: ['pass_a', 'rec_a'] } },
        pass_a: { next: 'rec_a' },
        rec_a: {},
      });
      expect((await g.execute({ variant: 'A', value: 7 })).outputs).toStrictEqual({ rec_a: [7, undefined, undefined] });
      expect((await g.execute({ variant: 'B', value: 7 })).outputs).toStrictEqual({ rec_a: [undefined, 7, 7] });
    });

    it('skips a node whose in-edges are all dead, propagates the skip, and leaves skipped terminals out', async () => {
      const g = await build('skipping', {
        route_by: { routes: { Go: 'rec_a', Stop: 'pass_a' } },
        pass_a: { next: ['pass_b', 'rec_c', 'rec_d'] },
        pass_b: { next: ['rec_b', 'rec_d'] },
        rec_b: {},
        rec_c: {},
        rec_d: {},
        rec_a: {},
      });
      const go = await g.execute({ variant: 'Go', value: 1 }, { trace: true });
      expect(go.outputs).toStrictEqual({ rec_a: [1] });
      expect(statuses(go)).toStrictEqual({
        route_by: 'ran',
        pass_a: 'skipped',
        pass_b: 'skipped',
        rec_b: 'skipped',
        rec_c: 'skipped',
        rec_d: 'skipped',
        rec_a: 'ran',
      });
      const stop = await g.execute({ variant: 'Stop', value: 2 }, { trace: true });
      expect(stop.outputs).toStrictEqual({ rec_b: [2], rec_c: [2], rec_d: [2, 2] });
      expect(statuses(stop).rec_a).toBe('skipped');
    });

    it.each([
      ['a non-array', 'not an array', 'string'],
      ['undefined', undefined, 'undefined'],
      ['a wrong-length array', ['Yes'], 'an array of length 1'],
      ['a non-string variant', [42, 'x'], 'an array of length 2'],
      ['an unknown variant', ['Maybe', 1], 'Maybe'],
    ])('fails the run when a router returns %s', async (_what, ret, received) => {
      // pass_a -> route_raw is a linear chain (fused on the pool): the router is the chain's tail.
      const g = await build('bad_router', {
        pass_a: { next: 'route_raw' },
        route_raw: { routes: { Yes: 'rec_a', No: 'rec_b' } },
        rec_a: {},
        rec_b: {},
      });
      const error = await rejectionOf(g.execute({ ret }));
      expect(error).toBeInstanceOf(GraphExecutionError);
      const e = error as GraphExecutionError;
      expect(e.node).toBe('route_raw');
      expect(e.graph).toBe('bad_router');
      expect(e.cause).toBeInstanceOf(RoutingError);
      const cause = e.cause as RoutingError;
      expect(cause.node).toBe('route_raw');
      expect(cause.received).toBe(received);
      expect(cause.variants).toStrictEqual(['Yes', 'No']);
      expect(e.message).toContain('route_raw');
      expect(e.message).toContain(received);
      // The graph is still usable.
      expect((await g.execute({ ret: ['No', 5] })).outputs).toStrictEqual({ rec_b: [5] });
    });
  });

  describe('inputs and context', () => {
    it('calls entry nodes with their inputs in inputs order; a missing source is undefined', async () => {
      const g = await build('entry', { rec_a: { inputs: ['gamma', 'alpha', 'beta'] } }, { reactor: Sources });
      expect((await g.execute({ alpha: 1, gamma: { g: 3 }, other: 'ignored' })).outputs).toStrictEqual({
        rec_a: [{ g: 3 }, 1, undefined],
      });
      expect((await g.execute({})).outputs).toStrictEqual({ rec_a: [undefined, undefined, undefined] });
      expect((await g.execute()).outputs).toStrictEqual({ rec_a: [undefined, undefined, undefined] });
    });

    it('gives a node with inputs and upstream edges its cache inputs first', async () => {
      const g = await build(
        'inputs_and_edges',
        {
          src_one: { inputs: ['alpha'], next: 'rec_b' },
          src_two: { inputs: ['beta'], next: 'rec_b' },
          rec_b: { inputs: ['gamma', 'alpha'] },
        },
        { reactor: Sources },
      );
      expect((await g.execute({ alpha: 'A', beta: 'B', gamma: 'G' })).outputs).toStrictEqual({
        rec_b: ['G', 'A', { from: 'one', args: ['A'] }, { from: 'two', args: ['B'] }],
      });
    });

    it('passes execute(context) as the sole argument of every root of a trigger-less graph', async () => {
      const g = await build('triggerless', {
        src_one: { next: 'rec_b' },
        src_two: {},
        rec_a: {},
        rec_b: {},
      });
      const context = { id: 7, nested: { list: [1, 2] } };
      expect((await g.execute(context)).outputs).toStrictEqual({
        src_two: { from: 'two', args: [context] },
        rec_a: [context],
        rec_b: [{ from: 'one', args: [context] }],
      });
      expect((await g.execute()).outputs.rec_a).toStrictEqual([undefined]);
    });
  });

  describe('failures', () => {
    it('fails with a GraphExecutionError whose cause keeps the thrown error (name, message, stack, own properties)', async () => {
      // pass_a -> throws_custom is a fused chain on the pool: the error must still name its node.
      const g = await build('throws', { pass_a: { next: 'throws_custom' }, throws_custom: {} });
      const error = await rejectionOf(g.execute({ symbol: 'ABC' }));
      expect(error).toBeInstanceOf(GraphExecutionError);
      expect(error).toBeInstanceOf(CloacaError);
      const e = error as GraphExecutionError;
      expect(e.name).toBe('GraphExecutionError');
      expect(e.node).toBe('throws_custom');
      expect(e.graph).toBe('throws');
      expect(e.message).toContain("'throws_custom'");
      expect(e.message).toContain('bad quote for ABC');

      const cause = e.cause as Error & { code?: unknown; details?: unknown; cause?: unknown };
      expect(cause).toBeInstanceOf(Error);
      expect(cause.name).toBe('QuoteError');
      expect(cause.message).toBe('bad quote for ABC');
      expect(cause.stack).toContain('QuoteError: bad quote for ABC');
      expect(cause.stack).toContain('throws_custom');
      expect(Object.keys(cause)).toEqual(expect.arrayContaining(['code', 'details']));
      expect(cause.code).toBe('E_QUOTE');
      expect(cause.details).toStrictEqual({ symbol: 'ABC', levels: [1, 2, 3] });
      expect(cause.cause).toBeInstanceOf(RangeError);
      expect((cause.cause as Error).message).toBe('spread out of range');
    });

    it('fails the same way when an async node rejects', async () => {
      const g = await build('rejects', { rejects_custom: {} });
      const e = (await rejectionOf(g.execute({ symbol: 'XYZ' }))) as GraphExecutionError;
      expect(e).toBeInstanceOf(GraphExecutionError);
      expect(e.node).toBe('rejects_custom');
      const cause = e.cause as Error & { code?: unknown; details?: unknown };
      expect(cause.name).toBe('QuoteError');
      expect(cause.message).toBe('late bad quote for XYZ');
      expect(cause.code).toBe('E_LATE');
      expect(cause.details).toStrictEqual({ symbol: 'XYZ' });
    });

    it('keeps a thrown non-Error value as the cause', async () => {
      const g = await build('throws_string', { throws_string: {} });
      const e = (await rejectionOf(g.execute())) as GraphExecutionError;
      expect(e).toBeInstanceOf(GraphExecutionError);
      expect(e.node).toBe('throws_string');
      expect(e.cause).toBe('a plain string');
    });

    // gate is running when boom fails the run; what comes after gate must then never start,
    // whether it follows gate in a linear chain (one fused task on the pool) or by fan-out.
    it.each([
      ['a linear chain', { gate: { next: 'after_gate' }, boom: {}, after_gate: {} }],
      ['a fan-out', { gate: { next: ['after_gate', 'after_gate_2'] }, boom: {}, after_gate: {}, after_gate_2: {} }],
    ] as const)('does not start nodes after a failure (%s)', async (_shape, graph) => {
      const g = await build('not_started', graph);
      const { sab, view } = cells();
      const error = await rejectionOf(g.execute({ sab, fail: true }));
      expect(error).toBeInstanceOf(GraphExecutionError);
      expect((error as GraphExecutionError).node).toBe('boom');

      // Let gate finish, and wait until everything it could have set off has settled.
      signal(view, 0);
      expect(await changed(view, 2)).toBe(1);
      if (executor === 'pool') await vi.waitFor(() => expect(pool().stats).toMatchObject({ inFlight: 0, queued: 0 }));
      expect(Atomics.load(view, 1)).toBe(0);

      // Control: in a run that does not fail, the same nodes do run and are counted.
      const ok = cells();
      Atomics.store(ok.view, 0, 1);
      const { outputs } = await g.execute({ sab: ok.sab, fail: false });
      expect(outputs.after_gate).toBe('ran');
      expect(Atomics.load(ok.view, 1)).toBe(Object.keys(graph).length - 2);
    });

    it.each([
      [
        'a function, mid-chain',
        { returns_function: { next: 'rec_a' }, rec_a: {} },
        'returns_function',
        'function',
        'value.handler',
      ],
      ['a symbol, as a terminal', { returns_symbol: {} }, 'returns_symbol', 'symbol', 'value[1]'],
    ] as const)(
      'fails the run when a node returns %s, and the next run succeeds',
      async (_what, graph, node, type, path) => {
        const g = await build('uncloneable', graph);
        const error = await rejectionOf(g.execute({ bad: true }));
        expect(error).toBeInstanceOf(GraphExecutionError);
        const e = error as GraphExecutionError;
        expect(e.node).toBe(node);
        expect(e.message).toContain(node);
        expect(e.message).toContain(type);
        expect(e.cause).toBeInstanceOf(UncloneableValueError);
        const cause = e.cause as UncloneableValueError;
        expect(cause.node).toBe(node);
        expect(cause.valueType).toBe(type);
        expect(cause.path).toBe(path);

        const { outputs } = await g.execute({ bad: false });
        expect(Object.keys(outputs)).toHaveLength(1);
        expect(Object.values(outputs)[0]).toStrictEqual(node === 'returns_symbol' ? [1, 'tag'] : [{ ok: true }]);
      },
    );

    it('rejects execute() after close() with ExecutorClosedError', async () => {
      const g = await build('closed', { pass_a: {} });
      expect((await g.execute(1)).outputs).toStrictEqual({ pass_a: 1 });
      await g.close();
      const error = await rejectionOf(g.execute(1));
      expect(error).toBeInstanceOf(ExecutorClosedError);
      expect((error as ExecutorClosedError).graph).toBe('closed');
    });
  });

  describe('plans, traces, modules', () => {
    it('executes the market-maker graph of the API example (both branches)', async () => {
      const g = await buildGraph('market_maker', executor, {
        reactor: MarketMakerReactor,
        nodes: pathToFileURL(example('market-maker.nodes.js')),
        graph: marketMakerGraph,
      });
      expect(g.plan.levels).toStrictEqual([['decision'], ['signal_handler', 'audit_logger']]);
      expect((await g.execute({ alpha: { value: 5 }, beta: { estimate: 7 } })).outputs).toStrictEqual({
        signal_handler: { published: true },
      });
      expect((await g.execute({ alpha: { value: 1 }, beta: { estimate: 2 } })).outputs).toStrictEqual({
        audit_logger: { logged: true },
      });
      expect((await g.execute({ beta: { estimate: 11 } })).outputs).toStrictEqual({
        signal_handler: { published: true },
      });
    });

    it('loads a TypeScript node module', async () => {
      const g = await buildGraph('typed', executor, {
        nodes: fixture('typed.nodes.ts'),
        graph: { make_point: { next: 'norm' }, norm: { next: 'classify' }, classify: {} },
      });
      expect((await g.execute({ x: 3 })).outputs).toStrictEqual({
        classify: { length: Math.hypot(3, 6), size: 'small' },
      });
      expect((await g.execute({ x: 10 })).outputs).toStrictEqual({
        classify: { length: Math.hypot(10, 20), size: 'big' },
      });
    });

    it('records a trace on request: status, duration and thread of every node', async () => {
      const g = await build('traced', {
        route_by: { routes: { Go: 'add_one', Stop: 'times_ten' } },
        add_one: { next: 'rec_a' },
        times_ten: { next: 'rec_a' },
        rec_a: {},
      });
      const untraced = await g.execute({ variant: 'Go', value: 1 });
      expect(untraced.trace).toBeUndefined();
      expect(untraced.durationMs).toBeGreaterThanOrEqual(0);

      const result = await g.execute({ variant: 'Go', value: 1 }, { trace: true });
      expect(result.outputs).toStrictEqual({ rec_a: [2, undefined] });
      expect(statuses(result)).toStrictEqual({ route_by: 'ran', add_one: 'ran', times_ten: 'skipped', rec_a: 'ran' });
      expect(result.trace).toHaveLength(4);
      for (const entry of result.trace!) {
        if (entry.status === 'skipped') {
          expect(entry.durationMs).toBeUndefined();
          expect(entry.threadId).toBeUndefined();
          continue;
        }
        expect(entry.durationMs).toBeGreaterThanOrEqual(0);
        expect(typeof entry.threadId).toBe('number');
        if (executor === 'inline') expect(entry.threadId).toBe(mainThreadId);
        else expect(entry.threadId).not.toBe(mainThreadId);
      }
    });
  });
});

describe('both executors agree', () => {
  const cases: Array<{ name: string; graph: Topology; reactor?: typeof Sources; inputs: unknown[]; nodes?: string }> = [
    {
      name: 'diamond',
      graph: {
        pass_a: { next: ['add_one', 'times_ten'] },
        add_one: { next: 'pair' },
        times_ten: { next: 'pair' },
        pair: {},
      },
      inputs: [0, 3, -1],
    },
    {
      name: 'routing_fan_in',
      graph: {
        route_by: { routes: { A: 'rec_a', B: ['pass_a', 'rec_a'], C: 'rec_b' } },
        pass_a: { next: ['rec_a', 'rec_b'] },
        rec_a: {},
        rec_b: {},
      },
      inputs: [
        { variant: 'A', value: 1 },
        { variant: 'B', value: { deep: [1, { x: null }] } },
        { variant: 'C', value: 'c' },
      ],
    },
    {
      name: 'entries',
      reactor: Sources,
      graph: {
        src_one: { inputs: ['gamma', 'alpha'], next: 'rec_a' },
        src_late: { inputs: ['beta'], next: 'rec_a' },
        rec_a: { inputs: ['alpha'] },
      },
      inputs: [{}, { alpha: 1, beta: [2], gamma: { g: 3 } }, { beta: new Date(0), gamma: new Map([[1, 'one']]) }],
    },
    {
      name: 'market_maker',
      reactor: MarketMakerReactor,
      nodes: example('market-maker.nodes.js'),
      graph: marketMakerGraph,
      inputs: [{ alpha: { value: 5 }, beta: { estimate: 7 } }, { alpha: { value: 5 } }, {}],
    },
  ];

  it.each(cases)(
    'gives identical outputs and traces for $name',
    async ({ name, graph, reactor: r, inputs, nodes: path }) => {
      const options = { nodes: path ?? nodes, graph, ...(r ? { reactor: r } : {}) };
      const inline = await buildGraph(name, 'inline', options);
      const pooled = await buildGraph(name, 'pool', options);
      expect(pooled.plan.levels).toStrictEqual(inline.plan.levels);
      for (const input of inputs) {
        const a = await inline.execute(input, { trace: true });
        const b = await pooled.execute(input, { trace: true });
        expect(b.outputs).toStrictEqual(a.outputs);
        expect(statuses(b)).toStrictEqual(statuses(a));
      }
    },
  );

  it('fails identically', async () => {
    const graph: Topology = { pass_a: { next: 'route_raw' }, route_raw: { routes: { Yes: 'rec_a' } }, rec_a: {} };
    const errors = await Promise.all(
      (['inline', 'pool'] as const).map(async (executor) => {
        const g = await buildGraph('fails_alike', executor, { nodes, graph });
        const e = (await rejectionOf(g.execute({ ret: ['No', 1] }))) as GraphExecutionError;
        return { type: e.constructor.name, node: e.node, message: e.message, cause: (e.cause as Error).name };
      }),
    );
    expect(errors[1]).toStrictEqual(errors[0]);
  });
});
