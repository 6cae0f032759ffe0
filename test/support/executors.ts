/**
 * Runs each semantic test on both executors. Every graph loads the same fixture module by path:
 * on `'pool'` through a NodePool shared by the whole test file (one pool per file, closed in
 * afterAll), on `'inline'` on the test's own thread.
 */
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { ComputationGraphBuilder, NodePool, type ComputationGraph, type ComputationGraphOptions } from 'cloaca';

export const executors = ['inline', 'pool'] as const;
export type ExecutorName = (typeof executors)[number];

/** Absolute path of a file under test/fixtures. */
export function fixture(file: string): string {
  return fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url));
}

/** Absolute path of a built example module (dist/examples). */
export function example(file: string): string {
  return fileURLToPath(new URL(`../../dist/examples/${file}`, import.meta.url));
}

/** Builder options minus what the harness decides (executor, pool); nodes is a module path. */
export type GraphOptions = Omit<ComputationGraphOptions, 'executor' | 'pool' | 'nodes'> & {
  readonly nodes: string | URL;
};

export interface GraphHarness {
  /** Builds a graph on `executor`; pool graphs share this file's NodePool. Closed in afterAll. */
  buildGraph(name: string, executor: ExecutorName, options: GraphOptions): Promise<ComputationGraph>;
  /** This file's pool, created on first use. */
  pool(): NodePool;
}

/**
 * Call once at the top of a test file. The pool is created lazily (a file that only builds
 * inline graphs spawns no thread) and closed, with every graph built here, after the file.
 */
export function useGraphHarness(threads = 2): GraphHarness {
  let pool: NodePool | null = null;
  const graphs: ComputationGraph[] = [];
  const getPool = (): NodePool => (pool ??= new NodePool({ threads }));

  afterAll(async () => {
    await Promise.all(graphs.map((g) => g.close()));
    await pool?.close();
  });

  return {
    pool: getPool,
    async buildGraph(name, executor, options) {
      const graph = await new ComputationGraphBuilder(
        name,
        executor === 'pool' ? { ...options, executor, pool: getPool() } : { ...options, executor },
      ).build();
      graphs.push(graph);
      return graph;
    },
  };
}

/** Rejection of `promise`, failing the test when it resolves instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
