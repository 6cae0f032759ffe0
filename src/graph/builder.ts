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
import { fromErrorEnvelope } from '../exec/error-envelope.js';
import { ExecutorKind, type Executor } from '../exec/executor.js';
import { InlineExecutor } from '../exec/inline-executor.js';
import { importNodeModule, nodeFunctions } from '../exec/module-loader.js';
import { acquireSharedPool, NodePool, releaseSharedPool, type NodePoolOptions } from '../exec/node-pool.js';
import { PoolExecutor } from '../exec/pool-executor.js';
import { toReactorDeclaration, type ReactorDeclaration, type ReactorLike } from '../model/reactor-declaration.js';
import { ComputationGraph, type GraphFeedback } from './computation-graph.js';
import { compilePlan } from '../model/plan.js';
import type { NodeFunction, NormalizedNode, Topology } from '../model/topology.js';
import { validateTopology } from '../model/validate.js';

/** The options of a {@link ComputationGraphBuilder}. */
export interface ComputationGraphOptions {
  /** The reactor that fires this graph; omit for a trigger-less graph run with `execute(context)`. */
  readonly reactor?: ReactorLike;
  /**
   * The node functions: a module path (absolute or relative to the working directory, or a
   * `file:` URL) whose exports are named after the nodes, or an object of functions (inline
   * executor only). `.ts` modules load through tsx (an optional peer dependency).
   */
  readonly nodes: string | URL | Readonly<Record<string, NodeFunction>>;
  /** The topology dict: node name to `{ inputs?, next?, routes?, timeoutMs? }`. */
  readonly graph: Topology;
  /** `'pool'` (default for a module path) or `'inline'` (default, and required, for an object). */
  readonly executor?: ExecutorKind;
  /**
   * The pool executor's worker pool: a {@link NodePool} to share (the graph never closes it), or
   * options for a pool of the graph's own (closed by `graph.close()`). Default: one pool shared
   * by every graph of the process that names none, closed when the last of them closes.
   */
  readonly pool?: NodePool | NodePoolOptions;
  /** Run linear chains as one worker task (pool executor); default true. */
  readonly fuse?: boolean;
  /**
   * After each successful firing in a Runtime, write this terminal's output (when it ran) into
   * this state accumulator.
   */
  readonly feedback?: GraphFeedback;
}

const kOptionKeys = new Set(['reactor', 'nodes', 'graph', 'executor', 'pool', 'fuse', 'feedback']);

/**
 * Declares a computation graph.
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
export class ComputationGraphBuilder {
  readonly name: string;
  readonly options: ComputationGraphOptions;

  constructor(name: string, options: ComputationGraphOptions) {
    this.name = name;
    this.options = options;
  }

  /** Validates the declaration, loads the node functions, compiles the plan. */
  async build(): Promise<ComputationGraph> {
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

    const feedback = validateFeedback(options.feedback, normalized, fail);
    const wanted = normalized.map((n) => n.name);
    const inline = (table: ReadonlyMap<string, NodeFunction>): ComputationGraph => {
      // Fusing saves a thread hop; inline there is none to save.
      const plan = compilePlan(name, normalized, false);
      return new ComputationGraph(name, reactor, plan, new CostModel(plan), new InlineExecutor(plan, table), feedback);
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
    if (kind === ExecutorKind.Inline) {
      let table: Map<string, NodeFunction>;
      try {
        table = nodeFunctions(await importNodeModule(href));
      } catch (error) {
        return fail(`node module ${href} failed to import: ${(error as Error)?.message ?? String(error)}`, error);
      }
      requireFunctions(name, wanted, [...table.keys()], `module ${href}`);
      return inline(table);
    }

    const { pool, shared, release } = takePool(options.pool, fail);
    let executor: Executor | undefined;
    try {
      // Every worker imports the module now, so the first run pays no import.
      const reply = await pool.listExports(href, pool.threads);
      if (!reply.ok) {
        const cause = fromErrorEnvelope(reply.error);
        fail(`node module ${href} failed to import: ${(cause as Error)?.message ?? String(cause)}`, cause);
      } else {
        requireFunctions(name, wanted, reply.exports, `module ${href}`);
      }
      const plan = compilePlan(name, normalized, options.fuse ?? true);
      const costs = new CostModel(plan);
      executor = new PoolExecutor(plan, costs, pool, href, shared, release);
      return new ComputationGraph(name, reactor, plan, costs, executor, feedback);
    } finally {
      if (executor === undefined) await release();
    }
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

function takePool(
  option: NodePool | NodePoolOptions | undefined,
  fail: (detail: string, cause?: unknown) => never,
): { pool: NodePool; shared: boolean; release: () => Promise<void> } {
  if (option instanceof NodePool) return { pool: option, shared: false, release: async () => {} };
  if (option === undefined) {
    const pool = acquireSharedPool();
    return { pool, shared: true, release: () => releaseSharedPool(pool) };
  }
  try {
    const pool = new NodePool(option);
    return { pool, shared: false, release: () => pool.close() };
  } catch (error) {
    return fail((error as Error).message, error);
  }
}
