/**
 * Build-time validation (contract 2.2): every mistake rejects `build()` with a TopologyError that
 * names the graph and the node(s) at fault, in its message and in `.graph` / `.nodes`.
 */
import { tsImport } from 'tsx/esm/api';
import { describe, expect, it } from 'vitest';
import {
  CloacaError,
  ComputationGraphBuilder,
  ExecutorClosedError,
  GraphExecutionError,
  NodeTimeoutError,
  RoutingError,
  ConfigurationError,
  TopologyError,
  UncloneableValueError,
  WorkerExitError,
  reactor,
  type ComputationGraphOptions,
  type NodeFunction,
  type ReactorOptions,
  type Topology,
} from 'cloaca';
import { executors, fixture, rejectionOf, useGraphHarness, type ExecutorName } from './support/executors.js';

const { buildGraph } = useGraphHarness();

const id: NodeFunction = (x: unknown) => x;
const Sources = reactor({ name: 'sources', accumulators: ['alpha', 'beta'] });

/** The TopologyError `build()` rejects with; fails the test when it builds. */
async function buildError(name: string, options: ComputationGraphOptions): Promise<TopologyError> {
  const error = await rejectionOf(new ComputationGraphBuilder(name, options).build());
  expect(error).toBeInstanceOf(TopologyError);
  return error as TopologyError;
}

/** A graph of identity functions, one per topology node, plus `extra` functions. */
function functionsFor(graph: Topology, ...extra: string[]): Record<string, NodeFunction> {
  return Object.fromEntries([...Object.keys(graph), ...extra].map((name) => [name, id]));
}

/** Builds `graph` from an object of functions and returns the TopologyError. */
function topologyError(
  name: string,
  graph: Topology,
  options: Partial<ComputationGraphOptions> = {},
): Promise<TopologyError> {
  return buildError(name, { nodes: functionsFor(graph), graph, ...options });
}

/** The error names `graph` and each of `nodes`, in its message and its properties. */
function expectNames(error: TopologyError, graph: string, nodes: readonly string[]): void {
  expect(error.graph).toBe(graph);
  expect(error.nodes).toStrictEqual(nodes);
  expect(error.message).toContain(`'${graph}'`);
  for (const node of nodes) expect(error.message).toContain(`'${node}'`);
}

describe('topology validation', () => {
  it('rejects a function that is not in the topology (object of functions)', async () => {
    const graph: Topology = { a: { next: 'b' }, b: {} };
    const error = await buildError('extra_fn', { nodes: functionsFor(graph, 'stray'), graph });
    expectNames(error, 'extra_fn', ['stray']);
  });

  it('rejects a topology node without a function (object of functions)', async () => {
    const error = await buildError('missing_fn', { nodes: { a: id }, graph: { a: { next: 'b' }, b: {} } });
    expectNames(error, 'missing_fn', ['b']);
    expect(error.message).toContain('only a');
  });

  it.each([
    ['next', { a: { next: ['b', 'ghost'] }, b: {} }],
    ['routes', { a: { routes: { Yes: 'b', No: ['b', 'ghost'] } }, b: {} }],
  ] as const)('rejects an unknown %s target', async (_key, graph) => {
    const error = await topologyError('unknown_target', graph);
    expectNames(error, 'unknown_target', ['a']);
    expect(error.message).toContain("'ghost'");
  });

  it.each([
    [
      'through next',
      { d: {}, a: { next: 'b' }, b: { next: ['c', 'd'] }, c: { next: 'a' } },
      ['a', 'b', 'c'],
      'a -> b -> c -> a',
    ],
    ['through routes', { a: { next: 'b' }, b: { routes: { Back: 'a', On: 'c' } }, c: {} }, ['a', 'b'], 'a -> b -> a'],
    ['onto itself', { a: { next: 'a' } }, ['a'], 'a -> a'],
  ] as const)('rejects a cycle %s, naming the nodes on it', async (_how, graph, onCycle, path) => {
    const error = await topologyError('cyclic', graph);
    expect(error.graph).toBe('cyclic');
    expect([...error.nodes].sort()).toStrictEqual([...onCycle].sort());
    expect(error.message).toContain("'cyclic'");
    expect(error.message).toContain(path);
  });

  it('rejects a node with both next and routes', async () => {
    const error = await topologyError('both', { a: { next: 'b', routes: { V: 'b' } }, b: {} });
    expectNames(error, 'both', ['a']);
    expect(error.message).toMatch(/next.*routes/);
  });

  it('rejects an empty routes', async () => {
    const error = await topologyError('empty_routes', { a: { routes: {} } });
    expectNames(error, 'empty_routes', ['a']);
    expect(error.message).toContain('routes');
  });

  it('rejects an unknown key in a spec', async () => {
    const graph = { a: { nxt: 'b' }, b: {} } as unknown as Topology;
    const error = await topologyError('typo', graph);
    expectNames(error, 'typo', ['a']);
    expect(error.message).toContain("'nxt'");
  });

  it("rejects an input that is not one of the reactor's accumulators", async () => {
    const error = await topologyError('bad_input', { a: { inputs: ['alpha', 'delta'] } }, { reactor: Sources });
    expectNames(error, 'bad_input', ['a']);
    expect(error.message).toContain("'delta'");
    expect(error.message).toContain("'sources'");
  });

  it('rejects inputs in a trigger-less graph', async () => {
    const error = await topologyError('no_reactor', { a: { next: 'b' }, b: { inputs: ['alpha'] } });
    expectNames(error, 'no_reactor', ['b']);
    expect(error.message).toContain('no reactor');
  });

  it('rejects an empty graph', async () => {
    const error = await buildError('empty', { nodes: {}, graph: {} });
    expectNames(error, 'empty', []);
    expect(error.message).toContain('empty');
  });

  it('builds a valid declaration of the same shapes', async () => {
    const graph: Topology = { a: { inputs: ['beta'], routes: { V: ['b', 'c'] } }, b: { next: 'c' }, c: {} };
    const g = await new ComputationGraphBuilder('valid', {
      reactor: Sources,
      nodes: functionsFor(graph),
      graph,
    }).build();
    expect(g.executor).toBe('inline');
    expect(g.plan.levels).toStrictEqual([['a'], ['b'], ['c']]);
  });
});

describe.each(executors)('node modules on the %s executor', (executor: ExecutorName) => {
  it('rejects a topology node the module does not export, listing what it exports', async () => {
    const error = (await rejectionOf(
      buildGraph('missing_export', executor, {
        nodes: fixture('semantics.nodes.mjs'),
        graph: { rec_a: { next: 'not_exported' }, not_exported: {} },
      }),
    )) as TopologyError;
    expect(error).toBeInstanceOf(TopologyError);
    expectNames(error, 'missing_export', ['not_exported']);
    expect(error.message).toContain('semantics.nodes.mjs');
    for (const name of ['rec_a', 'src_one', 'route_by', 'throws_custom']) expect(error.message).toContain(name);
  });

  it('rejects a module that fails to import, with the import error as cause', async () => {
    const error = (await rejectionOf(
      buildGraph('broken', executor, { nodes: fixture('broken.nodes.mjs'), graph: { never_loaded: {} } }),
    )) as TopologyError;
    expect(error).toBeInstanceOf(TopologyError);
    expect(error.graph).toBe('broken');
    expect(error.message).toContain("'broken'");
    expect(error.message).toContain('broken.nodes.mjs');
    expect(error.message).toContain('fixture exploded at import');
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).message).toBe('fixture exploded at import');
  });

  it('rejects a module path that does not exist', async () => {
    const error = (await rejectionOf(
      buildGraph('nowhere', executor, { nodes: fixture('does-not-exist.mjs'), graph: { a: {} } }),
    )) as TopologyError;
    expect(error).toBeInstanceOf(TopologyError);
    expect(error.message).toContain('does-not-exist.mjs');
    expect(error.cause).toBeDefined();
  });
});

describe('reactor declarations', () => {
  const bad: Array<[string, unknown, string]> = [
    ['an empty name', { name: '', accumulators: ['a'] }, 'name'],
    ['an empty accumulator list', { name: 'r', accumulators: [] }, 'accumulators'],
    ['a duplicated accumulator', { name: 'r', accumulators: ['a', 'b', 'a'] }, "'a' is listed more than once"],
    ['an unknown mode', { name: 'r', accumulators: ['a'], mode: 'sometimes' }, "'sometimes'"],
    ['an unknown strategy', { name: 'r', accumulators: ['a'], strategy: 'oldest' }, "'oldest'"],
  ];

  it.each(bad)('reactor() throws for %s', (_what, options, detail) => {
    let error: unknown;
    try {
      reactor(options as ReactorOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TopologyError);
    const e = error as TopologyError;
    expect(e.code).toBe('CLOACA_ERR_TOPOLOGY');
    expect(e.message).toContain(detail);
    expect(e.graph).toBe((options as ReactorOptions).name === '' ? '' : 'r');
    expect(e.nodes).toEqual([]);
    expect(e.cause).toBeInstanceOf(ConfigurationError);
    expect((e.cause as ConfigurationError).component).toBe(
      (options as ReactorOptions).name === '' ? 'reactor' : "reactor 'r'",
    );
    if ((options as ReactorOptions).name !== '') expect(e.message).toContain("reactor 'r'");
  });

  it.each(bad)('build() rejects a plain-object reactor with %s', async (_what, options, detail) => {
    const graph: Topology = { a: {} };
    const error = await buildError('with_bad_reactor', {
      reactor: options as never,
      nodes: functionsFor(graph),
      graph,
    });
    expectNames(error, 'with_bad_reactor', []);
    expect(error.message).toContain(detail);
    expect(error.cause).toBeInstanceOf(TopologyError);
  });

  it('build() rejects a reactor that is not a reactor at all', async () => {
    const graph: Topology = { a: {} };
    const error = await buildError('not_a_reactor', { reactor: 42 as never, nodes: functionsFor(graph), graph });
    expectNames(error, 'not_a_reactor', []);
  });

  it('accepts a plain-object reactor and fills in the defaults', async () => {
    const graph: Topology = { a: { inputs: ['x'] } };
    const g = await new ComputationGraphBuilder('plain_reactor', {
      reactor: { name: 'plain', accumulators: ['x'] } as ReactorOptions as never,
      nodes: functionsFor(graph),
      graph,
    }).build();
    expect(g.reactor).toStrictEqual({ name: 'plain', accumulators: ['x'], mode: 'when_any', strategy: 'latest' });
    expect((await g.execute({ x: 4 })).outputs).toStrictEqual({ a: 4 });
  });

  // Vitest's transform (oxc) does not lower TypeScript 5 standard decorators, so the `@reactor`
  // syntax lives in a fixture compiled by tsx (esbuild); the decorator call is also applied by hand.
  it.each([
    [
      'the @reactor syntax (TypeScript 5 decorators, compiled by tsx)',
      async () => {
        const module = (await tsImport(fixture('decorated.reactor.ts'), import.meta.url)) as {
          Decorated: abstract new () => unknown;
        };
        return module.Decorated;
      },
    ],
    [
      'reactor({...}) applied to a class by hand',
      async () =>
        reactor({ name: 'decorated', accumulators: ['left', 'right'], mode: 'when_all', strategy: 'sequential' })(
          class Decorated {},
        ),
    ],
  ] as const)('works as a class decorator accepted by the builder: %s', async (_form, declare) => {
    const Decorated = await declare();
    const statics = Decorated as unknown as Record<string, unknown>;
    expect(statics.NAME).toBe('decorated');
    expect(statics.ACCUMULATORS).toStrictEqual(['left', 'right']);
    expect(statics.REACTION_MODE).toBe('when_all');
    expect(statics.INPUT_STRATEGY).toBe('sequential');

    const g = await new ComputationGraphBuilder('decorated_graph', {
      reactor: Decorated,
      nodes: { sum: (l: number, r: number) => l + r },
      graph: { sum: { inputs: ['right', 'left'] } },
    }).build();
    expect(g.reactor).toStrictEqual({
      name: 'decorated',
      accumulators: ['left', 'right'],
      mode: 'when_all',
      strategy: 'sequential',
    });
    expect((await g.execute({ left: 1, right: 10 })).outputs).toStrictEqual({ sum: 11 });

    // The topology's inputs are checked against the decorated class's accumulators.
    const error = await buildError('decorated_bad', {
      reactor: Decorated,
      nodes: { sum: id },
      graph: { sum: { inputs: ['middle'] } },
    });
    expectNames(error, 'decorated_bad', ['sum']);
    expect(error.message).toContain("'decorated'");
  });
});

describe('error classes', () => {
  it('are CloacaErrors and Errors, with their own names', () => {
    const errors: Array<[CloacaError, string]> = [
      [new TopologyError('g', ['a'], 'm'), 'TopologyError'],
      [new GraphExecutionError('g', 'a', 'm'), 'GraphExecutionError'],
      [new NodeTimeoutError('a', 10), 'NodeTimeoutError'],
      [new WorkerExitError('a', 'exited'), 'WorkerExitError'],
      [new UncloneableValueError({ node: 'a' }, 'value', 'function', 'is a function'), 'UncloneableValueError'],
      [new RoutingError('a', ['V'], 'W', 'returned unknown variant'), 'RoutingError'],
      [new ExecutorClosedError('g'), 'ExecutorClosedError'],
    ];
    for (const [error, name] of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(CloacaError);
      expect(error.name).toBe(name);
    }
    expect(new TopologyError('g', [], 'm')).not.toBeInstanceOf(GraphExecutionError);
    expect(new NodeTimeoutError('a', 10)).not.toBeInstanceOf(WorkerExitError);
    expect(new Error('plain')).not.toBeInstanceOf(CloacaError);
  });

  it('recognise an instance made by another copy of the package by its brand', () => {
    const foreign = new Error('from another copy');
    Object.defineProperty(foreign, Symbol.for('cloaca.error.brand'), { value: 'TopologyError' });
    expect(foreign).toBeInstanceOf(TopologyError);
    expect(foreign).toBeInstanceOf(CloacaError);
    expect(foreign).not.toBeInstanceOf(GraphExecutionError);
  });
});
