/**
 * Typed graphs, checked by the compiler (`vitest --typecheck` runs this file; nothing here runs):
 * `execute()`, `map()` and fire records take their types from the node functions and the
 * topology, a wrong input fails to compile (`@ts-expect-error` lines), and untyped use keeps
 * the loose types it always had.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  ComputationGraphBuilder,
  Runtime,
  nodeModule,
  reactor,
  type ComputationGraph,
  type FireRecord,
  type GraphExecutionError,
  type GraphResult,
  type NodeFunction,
  type Topology,
} from 'cloaca';
import type { Point, Size } from './fixtures/typed.nodes.js';

const MarketMaker = reactor({ name: 'market_maker_reactor', accumulators: ['alpha', 'beta'] });

interface Alpha {
  readonly value: number;
}
interface Beta {
  readonly estimate: number;
}

const marketMakerNodes = {
  decision(alpha: Alpha, beta: Beta): ['Signal', { output: number }] | ['NoAction', { reason: string }] {
    const sum = alpha.value + beta.estimate;
    return sum > 10 ? ['Signal', { output: sum }] : ['NoAction', { reason: 'below threshold' }];
  },
  async signal_handler(signal: { output: number }) {
    return { published: true, size: signal.output };
  },
  audit_logger(_reason: { reason: string }) {
    return { logged: true as const };
  },
};

// Top-level awaits: this file is only type-checked, never run.
const graph = await new ComputationGraphBuilder('market_maker', {
  reactor: MarketMaker,
  nodes: marketMakerNodes,
  graph: {
    decision: { inputs: ['alpha', 'beta'], routes: { Signal: 'signal_handler', NoAction: 'audit_logger' } },
    signal_handler: {},
    audit_logger: {},
  },
}).build();

describe('an object of functions bound to a reactor', () => {
  it('types outputs from the terminals, awaited, optional behind a routing edge', async () => {
    const { outputs } = await graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 } });
    expectTypeOf(outputs).toEqualTypeOf<{
      readonly signal_handler?: { published: boolean; size: number };
      readonly audit_logger?: { logged: true };
    }>();
    // Not a terminal, so not an output.
    // @ts-expect-error decision routes; it is never in outputs
    void outputs.decision;
  });

  it('takes the input cache typed by the entry node parameters', () => {
    expectTypeOf(graph.execute).parameter(0).toEqualTypeOf<{ readonly alpha: Alpha; readonly beta: Beta }>();
    // @ts-expect-error alpha.value must be a number
    void graph.execute({ alpha: { value: '5' }, beta: { estimate: 7 } });
    // @ts-expect-error beta is required: decision's parameter does not accept undefined
    void graph.execute({ alpha: { value: 5 } });
    // @ts-expect-error gamma is not a source any node reads
    void graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 }, gamma: 1 });
    // @ts-expect-error the input cache is an object
    void graph.execute(5);
    // @ts-expect-error the input is required
    void graph.execute();
  });

  it('still takes execute options', () => {
    void graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 } }, { trace: true });
    // @ts-expect-error an unknown option
    void graph.execute({ alpha: { value: 5 }, beta: { estimate: 7 } }, { tracing: true });
  });

  it('types map(): its source and its results', async () => {
    const inputs = [{ alpha: { value: 1 }, beta: { estimate: 2 } }];
    for await (const result of graph.map(inputs, { concurrency: 4 })) {
      expectTypeOf(result.outputs.signal_handler).toEqualTypeOf<{ published: boolean; size: number } | undefined>();
    }
    async function* produce() {
      yield { alpha: { value: 1 }, beta: { estimate: 2 } };
    }
    expectTypeOf(graph.map(produce())).toEqualTypeOf<
      AsyncGenerator<
        GraphResult<{
          readonly signal_handler?: { published: boolean; size: number };
          readonly audit_logger?: { logged: true };
        }>,
        void,
        undefined
      >
    >();
    // @ts-expect-error every input must fit the cache
    void graph.map([{ alpha: { value: 1 } }]);
    // @ts-expect-error map() options are checked
    void graph.map(inputs, { concurrency: '4' });
  });

  it('narrows a fire record of this graph with owns()', () => {
    const runtime = new Runtime();
    runtime.on('fire', (record) => {
      expectTypeOf(record).toEqualTypeOf<FireRecord>();
      // The runtime's own typing is untouched: outputs are unknown values.
      expectTypeOf(record.outputs).toEqualTypeOf<Record<string, unknown> | undefined>();
      if (graph.owns(record)) {
        expectTypeOf(record.outputs?.signal_handler).toEqualTypeOf<{ published: boolean; size: number } | undefined>();
        expectTypeOf(record.reactor).toEqualTypeOf<string>();
      }
    });
  });

  it('is accepted wherever an untyped graph is (Runtime.register)', () => {
    const runtime = new Runtime();
    runtime.register(MarketMaker, graph);
    expectTypeOf(graph).toExtend<ComputationGraph>();
  });
});

const chain = {
  parse: (ctx: { readonly text: string }) => Number(ctx.text),
  square: (n: number) => n * n,
  describe: (n: number) => `squared: ${n}`,
  stamp: async (ctx: { readonly at: Date }) => ctx.at.getTime(),
};
const chainGraph = await new ComputationGraphBuilder('chain', {
  nodes: chain,
  graph: { parse: { next: 'square' }, square: { next: 'describe' }, describe: {}, stamp: {} },
}).build();

describe('a trigger-less graph', () => {
  it('takes the intersection of the roots’ first parameters as its context', () => {
    expectTypeOf(chainGraph.execute).parameter(0).toEqualTypeOf<{ readonly text: string } & { readonly at: Date }>();
    void chainGraph.execute({ text: '4', at: new Date() });
    // @ts-expect-error stamp's context needs `at`
    void chainGraph.execute({ text: '4' });
    // @ts-expect-error text must be a string
    void chainGraph.execute({ text: 4, at: new Date() });
  });

  it('makes terminals that always run required outputs', async () => {
    const { outputs } = await chainGraph.execute({ text: '4', at: new Date() });
    expectTypeOf(outputs).toEqualTypeOf<{ readonly describe: string; readonly stamp: number }>();
  });

  it('lets a context-free graph be executed with no argument', async () => {
    const free = await new ComputationGraphBuilder('free', {
      nodes: { now: () => 1 as const },
      graph: { now: {} },
    }).build();
    expectTypeOf((await free.execute()).outputs).toEqualTypeOf<{ readonly now: 1 }>();
  });
});

describe('routing and fan-in decide which outputs are optional', () => {
  it('a terminal fed through next by a node that always runs is required; one only behind routes is optional', async () => {
    const g = await new ComputationGraphBuilder('mixed', {
      nodes: {
        start: (ctx: { n: number }): ['big', number] | ['small', number] => (ctx.n > 1 ? ['big', ctx.n] : ['small', 0]),
        side: (ctx: { n: number }) => ctx.n,
        big: (n: number) => n * 10,
        after_big: (n: number) => String(n),
        join: (_fromBig: number | undefined, fromSide: number) => fromSide,
      },
      graph: {
        start: { routes: { big: 'big', small: 'join' } },
        side: { next: 'join' },
        big: { next: 'after_big' },
        after_big: {},
        join: {},
      },
    }).build();
    const { outputs } = await g.execute({ n: 3 });
    expectTypeOf(outputs).toEqualTypeOf<{ readonly join: number; readonly after_big?: string }>();
  });
});

describe('input caches', () => {
  it('makes a source optional when its parameter accepts undefined, and intersects a source read twice', async () => {
    const R = reactor({ name: 'r', accumulators: ['a', 'b'] });
    const g = await new ComputationGraphBuilder('cache', {
      reactor: R,
      nodes: {
        first: (a: { x: number }, b?: string) => `${a.x}${b ?? ''}`,
        second: (a: { y: number }) => a.y,
      },
      graph: { first: { inputs: ['a', 'b'] }, second: { inputs: ['a'] } },
    }).build();
    expectTypeOf(g.execute)
      .parameter(0)
      .toEqualTypeOf<{ readonly a: { x: number } & { y: number }; readonly b?: string | undefined }>();
    void g.execute({ a: { x: 1, y: 2 } });
    // @ts-expect-error a must satisfy both entry nodes
    void g.execute({ a: { x: 1 } });
  });

  it('lets the input be left out when every source is optional', async () => {
    const R = reactor({ name: 'r2', accumulators: ['a'] });
    const g = await new ComputationGraphBuilder('optional', {
      reactor: R,
      nodes: { only: (a?: number) => a ?? 0 },
      graph: { only: { inputs: ['a'] } },
    }).build();
    void g.execute();
    void g.execute({});
    void g.execute({ a: 1 });
  });
});

describe('a node module given with its type', () => {
  const topology = {
    make_point: { next: 'norm' },
    norm: { next: 'classify' },
    classify: {},
  } as const;

  it('nodeModule<typeof import(...)>(path) types a pool graph like an object of functions', async () => {
    const g = await new ComputationGraphBuilder('typed_module', {
      nodes: nodeModule<typeof import('./fixtures/typed.nodes.js')>(
        new URL('./fixtures/typed.nodes.ts', import.meta.url),
      ),
      graph: { make_point: { next: 'norm' }, norm: { next: 'classify' }, classify: {} },
      executor: 'pool',
    }).build();
    expectTypeOf(g.execute).parameter(0).toEqualTypeOf<{ readonly x: number }>();
    expectTypeOf((await g.execute({ x: 3 })).outputs).toEqualTypeOf<{
      readonly classify: { readonly length: number; readonly size: Size };
    }>();
    // @ts-expect-error make_point takes { x: number }
    void g.execute({ y: 3 });
  });

  it('the explicit form takes the module and the topology as type arguments', async () => {
    const g = await new ComputationGraphBuilder<typeof import('./fixtures/typed.nodes.js'), typeof topology>(
      'explicit',
      { nodes: './test/fixtures/typed.nodes.ts', graph: topology },
    ).build();
    expectTypeOf((await g.execute({ x: 1 })).outputs.classify.size).toEqualTypeOf<Size>();
  });

  it('with the module type alone, outputs are every function’s result, optional, and the input is unknown', async () => {
    const g = await new ComputationGraphBuilder<typeof import('./fixtures/typed.nodes.js')>('module_only', {
      nodes: './test/fixtures/typed.nodes.ts',
      graph: topology,
    }).build();
    const { outputs } = await g.execute('anything');
    expectTypeOf(outputs.make_point).toEqualTypeOf<Point | undefined>();
    expectTypeOf(outputs.classify).toEqualTypeOf<{ readonly length: number; readonly size: Size } | undefined>();
  });
});

describe('untyped use', () => {
  it('a module path alone gives unknown input and Record<string, unknown> outputs', async () => {
    const g = await new ComputationGraphBuilder('plain', {
      nodes: './nodes.js',
      graph: { a: { next: 'b' }, b: {} },
    }).build();
    expectTypeOf(g).toEqualTypeOf<ComputationGraph<unknown, Record<string, unknown>>>();
    void g.execute();
    void g.execute(42);
    expectTypeOf((await g.execute({ any: 'thing' })).outputs.whatever).toEqualTypeOf<unknown>();
  });

  it('a record of functions or a topology typed as Topology stays untyped', async () => {
    const functions: Record<string, NodeFunction> = { a: (x: unknown) => x };
    const topology: Topology = { a: {} };
    const g = await new ComputationGraphBuilder('loose', { nodes: functions, graph: { a: {} } }).build();
    expectTypeOf(g).toEqualTypeOf<ComputationGraph<unknown, Record<string, unknown>>>();
    const h = await new ComputationGraphBuilder('loose_topology', { nodes: './nodes.js', graph: topology }).build();
    expectTypeOf(h).toEqualTypeOf<ComputationGraph<unknown, Record<string, unknown>>>();
  });

  it('unannotated node functions take any and return what their body returns', async () => {
    const g = await new ComputationGraphBuilder('any', {
      nodes: {
        double(x) {
          return x * 2;
        },
      },
      graph: { double: {} },
    }).build();
    expectTypeOf(g.execute).parameter(0).toBeAny();
    expectTypeOf((await g.execute(1)).outputs.double).toEqualTypeOf<number>();
  });
});

describe('errors from map()', () => {
  it('GraphExecutionError.index is an optional number', () => {
    expectTypeOf<GraphExecutionError['index']>().toEqualTypeOf<number | undefined>();
  });
});
