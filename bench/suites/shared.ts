/**
 * What the suites share: the node module they run, the raw Piscina peer configured exactly like
 * the engine's pool, and the result shape every suite returns.
 */
import { Piscina } from 'piscina';
import type { Row } from '../harness.js';
import type { Chart } from '../svg.js';

/** The benchmarks' node functions (bench/nodes/work.nodes.ts, compiled). */
export const nodesModule = new URL('../nodes/work.nodes.js', import.meta.url);

/** What a suite produces: table rows, the JSON it writes, and its charts. */
export interface SuiteResult {
  readonly rows: Row[];
  readonly data: Record<string, unknown>;
  readonly charts: ReadonlyArray<{ readonly name: string; readonly chart: Chart }>;
}

/**
 * A raw Piscina pool running the same `noop` the graphs run, with the settings `NodePool` uses
 * (see src/exec/node-pool.ts), so a ratio against it measures the engine and nothing else.
 */
export function rawPiscina(threads: number): Piscina {
  const pool = new Piscina({
    filename: new URL('../nodes/raw-worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: 4,
    atomics: 'disabled',
    recordTiming: false,
  });
  pool.on('error', () => {});
  return pool;
}

/** Thread counts from 1 to `cores`: powers of two, and `cores` itself. */
export function threadSweep(cores: number): number[] {
  const counts: number[] = [];
  for (let t = 1; t < cores; t *= 2) counts.push(t);
  counts.push(cores);
  return counts;
}
