/**
 * Pools and graphs for the pool tests, closed after each test, and what those tests share: warming
 * a graph until its units count as light, and the cause of a failed run.
 */
import { afterEach, expect } from 'vitest';
import {
  ComputationGraphBuilder,
  GraphExecutionError,
  NodePool,
  type ComputationGraph,
  type NodePoolOptions,
  type Topology,
} from 'cloaca';

export interface PoolHarness {
  /** A pool closed after the test. */
  pool(options: NodePoolOptions): NodePool;
  /** A graph of `nodes` on pool `on`, closed after the test (before its pool). */
  graph(name: string, on: NodePool, topology: Topology, nodes: string): Promise<ComputationGraph>;
}

/** Call once at the top of a test file. */
export function usePools(): PoolHarness {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const closable of open.splice(0).reverse()) await closable.close();
  });
  return {
    pool(options) {
      const created = new NodePool(options);
      open.push(created);
      return created;
    },
    async graph(name, on, topology, nodes) {
      const built = await new ComputationGraphBuilder(name, { nodes, graph: topology, pool: on }).build();
      open.push(built);
      return built;
    },
  };
}

/**
 * Runs `g` with `input` until the cost model's moving average has forgotten the first, slow
 * calls, so its units count as light (pipelined, and batched).
 */
export async function warm(g: ComputationGraph, input: unknown): Promise<void> {
  for (let i = 0; i < 30; i++) await g.execute(input);
}

/** The cause of a run that failed with a GraphExecutionError. */
export function causeOf(error: unknown): unknown {
  expect(error).toBeInstanceOf(GraphExecutionError);
  return (error as GraphExecutionError).cause;
}
