/**
 * `ComputationGraphBuilder`: declare a graph (name, topology, node functions, reactor, executor)
 * and `build()` it into a {@link ComputationGraph}. Every mistake in the declaration surfaces
 * from `build()` as a TopologyError naming the graph and the node(s) at fault.
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe } from '../model/describe.js';
import { TopologyError } from '../model/errors.js';
import { CostModel } from '../exec/cost-model.js';
import { ExecutorKind } from '../exec/executor.js';
import { InlineExecutor } from '../exec/inline-executor.js';
import { importNodeModule, nodeFunctions } from '../exec/module-loader.js';
import { NodePool } from '../exec/node-pool.js';
import { resolveNodePoolOptions, type NodePoolOptions } from '../exec/node-pool-options.js';
import { toReactorDeclaration, type ReactorDeclaration, type ReactorLike } from '../model/reactor-declaration.js';
import { ComputationGraph, type GraphFeedback } from './computation-graph.js';
import { compilePlan } from '../model/plan.js';
import { PoolBinding } from '../exec/pool-binding.js';
import type { NodeFunction, NormalizedNode, Topology } from '../model/topology.js';
import type { GraphInput, GraphOutputs } from '../model/graph-types.js';
import { validateTopology } from '../model/validate.js';
import type { NodeModule } from './node-module.js';

/**
 * The options of a {@link ComputationGraphBuilder}. `N` is the node functions' type (inferred from
 * `nodes`) and `G` the topology's literal type (inferred from `graph`); together they type the
 * built graph's input and outputs.
 */
export interface ComputationGraphOptions<N = Readonly<Record<string, NodeFunction>>, G extends Topology = Topology> {
  /** The reactor that fires this graph; omit for a trigger-less graph run with `execute(context)`. */
  readonly reactor?: ReactorLike;
  /**
   * The node functions: a module path (absolute or relative to the working directory, or a
   * `file:` URL) whose exports are named after the nodes, or an object of functions (inline
   * executor only). `.ts` modules load through tsx (an optional peer dependency). A path made by
   * `nodeModule<typeof import('./nodes.js')>(path)` carries the module's type.
   */
  readonly nodes: string | URL | NodeModule<N> | N | Readonly<Record<string, NodeFunction>>;
  /** The topology dict: node name to `{ inputs?, next?, routes?, timeoutMs? }`. */
  readonly graph: G;
  /** `'pool'` (default for a module path) or `'inline'` (default, and required, for an object). */
  readonly executor?: ExecutorKind;
  /**
   * The pool executor's worker pool: a {@link NodePool} to share (the graph never closes it), or
   * options for a pool of the graph's own (closed by `graph.close()`). Default: one pool shared
   * by every graph of the process that names none, closed when the last of them closes.
   */
  readonly pool?: NodePool | NodePoolOptions;
  /** Run linear chains as one unit: one worker task on the pool, one step of the walk inline; default true. */
  readonly fuse?: boolean;
  /**
   * Hand values to the nodes without copying them (inline executor only). Every node then
   * promises never to mutate an argument, nor a value it returned: a mutation would reach the
   * reactor's cache, the fire record, other nodes and the caller. Values are still checked, so a
   * value that could not cross a thread is refused as before; only the copies are saved.
   *
   * @default false
   * @example
   * new ComputationGraphBuilder('pricing', { nodes, graph, executor: 'inline', sharedValues: true })
   */
  readonly sharedValues?: boolean;
  /**
   * After each successful firing in a Runtime, write this terminal's output (when it ran) into
   * this state accumulator.
   */
  readonly feedback?: GraphFeedback;
}

const kOptionKeys = new Set(['reactor', 'nodes', 'graph', 'executor', 'pool', 'fuse', 'sharedValues', 'feedback']);

/**
 * Declares a computation graph.
 *
 * The built graph is typed when the builder knows the node functions' types: `nodes` given as an
 * object of functions or as `nodeModule<typeof import('./nodes.js')>(path)`, with the topology
 * written in place (or as a constant `as const`). Then `execute()` takes the input cache typed by
 * the entry nodes' parameters (or, trigger-less, the roots' first parameter), and `outputs` maps
 * each terminal to its function's awaited return type (optional when a routing edge may skip it).
 * Both can also be given explicitly: `new ComputationGraphBuilder<typeof import('./nodes.js'),
 * typeof topology>(...)`. Otherwise the graph takes `unknown` and its outputs are
 * `Record<string, unknown>`.
 *
 * @example
 * const graph = await new ComputationGraphBuilder('market_maker', {
 *   reactor: MarketMakerReactor,
 *   nodes: new URL('./market_maker.nodes.js', import.meta.url),
 *   graph: {
 *     decision: { inputs: ['alpha', 'beta'], routes: { Signal: 'signal_handler', NoAction: 'audit_logger' } },
 *     signal_handler: {},
 *     audit_logger: {},
 *   },
 * }).build();
 */
export class ComputationGraphBuilder<N = Readonly<Record<string, NodeFunction>>, const G extends Topology = Topology> {
  readonly name: string;
  readonly options: ComputationGraphOptions<N, G>;

  constructor(name: string, options: ComputationGraphOptions<N, G>) {
    this.name = name;
    this.options = options;
  }

  /** Validates the declaration, loads the node functions, compiles the plan. */
  async build(): Promise<ComputationGraph<GraphInput<N, G>, GraphOutputs<N, G>>> {
    const name = this.name;
    if (typeof name !== 'string' || name === '') {
      throw new TopologyError(
        '',
        [],
        `ComputationGraphBuilder: the graph name must be a non-empty string, got ${describe(name)}`,
      );
    }
    const fail = (detail: string, cause?: unknown): never => {
      throw new TopologyError(name, [], `graph '${name}': ${detail}`, cause === undefined ? undefined : { cause });
    };
    const options = this.options;
    if (typeof options !== 'object' || options === null) fail(`expected an options object, got ${describe(options)}`);
    for (const key of Object.keys(options)) {
      if (!kOptionKeys.has(key)) fail(`unknown option '${key}' (expected ${[...kOptionKeys].join(', ')})`);
    }

    let reactor: ReactorDeclaration | null = null;
    if (options.reactor !== undefined) {
      try {
        reactor = toReactorDeclaration(options.reactor);
      } catch (error) {
        fail((error as Error).message, error);
      }
    }
    const normalized = validateTopology(name, options.graph, reactor);

    const { nodes } = options;
    const fromModule = typeof nodes === 'string' || nodes instanceof URL;
    if (!fromModule && (typeof nodes !== 'object' || nodes === null)) {
      fail(`'nodes' must be a module path, a file URL or an object of functions, got ${describe(nodes)}`);
    }
    const kind = options.executor ?? (fromModule ? ExecutorKind.Pool : ExecutorKind.Inline);
    if (kind !== ExecutorKind.Pool && kind !== ExecutorKind.Inline) {
      fail(`unknown executor ${describe(kind)}, expected 'pool' or 'inline'`);
    }
    if (kind === ExecutorKind.Pool && !fromModule) {
      fail(
        `the pool executor loads nodes in worker threads by module path; pass 'nodes' as a path or file URL, or use executor: 'inline'`,
      );
    }
    if (options.fuse !== undefined && typeof options.fuse !== 'boolean')
      fail(`'fuse' must be a boolean, got ${describe(options.fuse)}`);
    const shared = options.sharedValues ?? false;
    if (typeof shared !== 'boolean') fail(`'sharedValues' must be a boolean, got ${describe(shared)}`);
    if (shared && kind === ExecutorKind.Pool) {
      fail(`'sharedValues' applies to the inline executor only: on the pool every value crosses a thread`);
    }

    const feedback = validateFeedback(options.feedback, normalized, fail);
    const wanted = normalized.map((n) => n.name);
    const inline = (
      table: ReadonlyMap<string, NodeFunction>,
    ): ComputationGraph<GraphInput<N, G>, GraphOutputs<N, G>> => {
      // Inline, a fused chain is one step of the walk instead of one per node.
      const plan = compilePlan(name, normalized, options.fuse ?? true);
      return new ComputationGraph(
        name,
        reactor,
        plan,
        new CostModel(plan),
        new InlineExecutor(plan, table, { shared }),
        feedback,
      );
    };
    if (!fromModule) {
      const table = new Map<string, NodeFunction>();
      for (const [key, value] of Object.entries(nodes as Record<string, unknown>)) {
        if (!wanted.includes(key)) {
          throw new TopologyError(
            name,
            [key],
            `graph '${name}': function '${key}' is not a node of the topology (nodes: ${wanted.join(', ')})`,
          );
        }
        if (typeof value !== 'function') {
          throw new TopologyError(
            name,
            [key],
            `graph '${name}': node '${key}' must be a function, got ${describe(value)}`,
          );
        }
        table.set(key, value as NodeFunction);
      }
      requireFunctions(name, wanted, [...table.keys()], 'the nodes object');
      return inline(table);
    }

    const href = moduleHref(nodes as string | URL, fail);
    // The module is imported here, on the main thread, to check its exports; a pool graph's
    // workers import it again when the graph binds to a pool (see pool-binding.ts).
    let table: Map<string, NodeFunction>;
    try {
      table = nodeFunctions(await importNodeModule(href));
    } catch (error) {
      return fail(`node module ${href} failed to import: ${(error as Error)?.message ?? String(error)}`, error);
    }
    requireFunctions(name, wanted, [...table.keys()], `module ${href}`);
    if (kind === ExecutorKind.Inline) return inline(table);

    if (options.pool !== undefined && !(options.pool instanceof NodePool)) {
      try {
        resolveNodePoolOptions(options.pool);
      } catch (error) {
        fail((error as Error).message, error);
      }
    }
    const plan = compilePlan(name, normalized, options.fuse ?? true);
    const costs = new CostModel(plan);
    return new ComputationGraph<GraphInput<N, G>, GraphOutputs<N, G>>(
      name,
      reactor,
      plan,
      costs,
      new PoolBinding(plan, costs, href, options.pool),
      feedback,
    );
  }
}

function validateFeedback(
  feedback: unknown,
  nodes: readonly NormalizedNode[],
  fail: (detail: string) => never,
): GraphFeedback | null {
  if (feedback === undefined) return null;
  const { terminal, accumulator } = (feedback ?? {}) as Partial<GraphFeedback>;
  if (typeof terminal !== 'string' || typeof accumulator !== 'string' || accumulator === '') {
    fail(
      `'feedback' must be { terminal: <node name>, accumulator: <state accumulator name> }, got ${describe(feedback)}`,
    );
  }
  const node = nodes.find((n) => n.name === terminal);
  if (node === undefined || node.next.length > 0 || node.routes !== null) {
    fail(`feedback terminal '${terminal as string}' is not a terminal node of the topology`);
  }
  return Object.freeze({ terminal: terminal as string, accumulator: accumulator as string });
}

/** Throws when a topology node has no function; the message lists what there is. */
function requireFunctions(graph: string, wanted: readonly string[], available: readonly string[], where: string): void {
  const have = new Set(available);
  const missing = wanted.filter((n) => !have.has(n));
  if (missing.length === 0) return;
  const list = available.length === 0 ? 'no functions' : `only ${available.join(', ')}`;
  throw new TopologyError(
    graph,
    missing,
    `graph '${graph}': ${where} has no function for node${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} (it exports ${list})`,
  );
}

function moduleHref(nodes: string | URL, fail: (detail: string) => never): string {
  if (nodes instanceof URL || nodes.startsWith('file:')) {
    const url = new URL(nodes);
    if (url.protocol !== 'file:') fail(`'nodes' must be a file: URL, got ${url.href}`);
    return url.href;
  }
  return pathToFileURL(resolvePath(nodes)).href;
}
