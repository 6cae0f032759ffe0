/**
 * Graph engine suite: what the engine costs over raw Piscina, and how well it uses the threads.
 *
 * - dispatch: a one-node graph on the pool vs `piscina.run` of the same function on a Piscina
 *   pool with the same settings, back to back and with 64 runs in flight;
 * - parallel: 2 x threads independent CPU-bound nodes, pool vs inline executor (speedup);
 * - unbalanced: root -> { chain of 4 x 20 ms, 6 x 10 ms } -> join, makespan vs the lower bound
 *   max(critical path, total work / threads);
 * - chain: executions/s of a 3-node chain, inline, pool with chain fusion, pool without.
 */
import { Piscina } from 'piscina';
import { ComputationGraphBuilder, NodePool, type ComputationGraph, type ExecutorKind } from 'cloaca';
import { concurrentRate, medianMs, rate, type Row } from '../harness.js';

const nodesModule = new URL('../nodes/work.nodes.js', import.meta.url);
const rawWorker = new URL('../nodes/raw-worker.js', import.meta.url);

export interface SuiteOptions {
  readonly threads: number;
  /** Milliseconds per throughput measurement. */
  readonly measureMs: number;
  /** Repetitions per makespan measurement. */
  readonly runs: number;
}

export async function engineSuite(options: SuiteOptions): Promise<{ rows: Row[]; data: Record<string, unknown> }> {
  const { threads, measureMs, runs } = options;
  const rows: Row[] = [];
  const data: Record<string, unknown> = { threads, measureMs, runs };
  const pool = new NodePool({ threads });
  const build = (name: string, graph: Record<string, object>, executor: ExecutorKind, fuse = true): Promise<ComputationGraph> =>
    new ComputationGraphBuilder(name, { nodes: nodesModule, graph, executor, pool, fuse }).build();

  // --- dispatch overhead -------------------------------------------------------------------
  const raw = new Piscina({
    filename: rawWorker.href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: 4,
    atomics: 'disabled',
    recordTiming: false,
  });
  raw.on('error', () => {});
  const one = await build('one_node', { noop: {} }, 'pool');
  await Promise.all(Array.from({ length: threads * 4 }, () => raw.run(1)));
  const rawSeq = await rate(() => raw.run(1), measureMs);
  const graphSeq = await rate(() => one.execute(1), measureMs);
  const rawConc = await concurrentRate(() => raw.run(1), 64, measureMs);
  const graphConc = await concurrentRate(() => one.execute(1), 64, measureMs);
  await raw.destroy();
  data.dispatch = {
    sequential: { rawPiscinaPerSec: rawSeq, graphPerSec: graphSeq, ratio: graphSeq / rawSeq },
    inFlight64: { rawPiscinaPerSec: rawConc, graphPerSec: graphConc, ratio: graphConc / rawConc },
  };
  rows.push(
    { suite: 'dispatch', metric: 'raw piscina.run, back to back', value: rawSeq, unit: 'runs/s' },
    { suite: 'dispatch', metric: 'one-node graph, back to back', value: graphSeq, unit: 'runs/s', note: `${(graphSeq / rawSeq).toFixed(2)}x raw (target >= 0.8x)` },
    { suite: 'dispatch', metric: 'raw piscina.run, 64 in flight', value: rawConc, unit: 'runs/s' },
    { suite: 'dispatch', metric: 'one-node graph, 64 in flight', value: graphConc, unit: 'runs/s', note: `${(graphConc / rawConc).toFixed(2)}x raw (target >= 0.8x)` },
  );

  // --- parallel speedup --------------------------------------------------------------------
  const width = 2 * threads;
  const wideTopology = Object.fromEntries(Array.from({ length: width }, (_, i) => [`w${i}`, {}]));
  const widePool = await build('wide', wideTopology, 'pool');
  const wideInline = await build('wide', wideTopology, 'inline');
  const ctx = { ms: 20 };
  const poolMs = await medianMs(() => widePool.execute(ctx), runs);
  const inlineMs = await medianMs(() => wideInline.execute(ctx), runs);
  const speedup = inlineMs / poolMs;
  data.parallel = { width, nodeMs: ctx.ms, poolMs, inlineMs, speedup, efficiency: speedup / threads };
  rows.push(
    { suite: 'parallel', metric: `${width} x ${ctx.ms} ms nodes, inline`, value: inlineMs, unit: 'ms' },
    { suite: 'parallel', metric: `${width} x ${ctx.ms} ms nodes, pool`, value: poolMs, unit: 'ms' },
    { suite: 'parallel', metric: `speedup on ${threads} threads`, value: speedup, unit: 'x', note: `efficiency ${(speedup / threads).toFixed(2)} (target >= 1.8x on 2 threads)` },
  );

  // --- unbalanced DAG ----------------------------------------------------------------------
  const sides = ['s1', 's2', 's3', 's4', 's5', 's6'];
  const unbalanced = await build(
    'unbalanced',
    {
      root: { next: ['c1', ...sides] },
      c1: { next: 'c2' },
      c2: { next: 'c3' },
      c3: { next: 'c4' },
      c4: { next: 'join' },
      ...Object.fromEntries(sides.map((s) => [s, { next: 'join' }])),
      join: {},
    },
    'pool',
  );
  const shape = { chainMs: 20, sideMs: 10 };
  const critical = 4 * shape.chainMs;
  const work = 4 * shape.chainMs + sides.length * shape.sideMs;
  const bound = Math.max(critical, work / threads);
  const firstMs = (await unbalanced.execute(shape, { trace: true })).durationMs;
  const makespan = await medianMs(() => unbalanced.execute(shape), runs);
  data.unbalanced = { criticalPathMs: critical, totalWorkMs: work, lowerBoundMs: bound, firstRunMs: firstMs, makespanMs: makespan, ratio: makespan / bound };
  rows.push(
    { suite: 'unbalanced', metric: 'lower bound max(critical path, work/threads)', value: bound, unit: 'ms' },
    { suite: 'unbalanced', metric: 'first run (costs not yet measured)', value: firstMs, unit: 'ms', note: `${(firstMs / bound).toFixed(2)}x bound` },
    { suite: 'unbalanced', metric: 'makespan (median)', value: makespan, unit: 'ms', note: `${(makespan / bound).toFixed(2)}x bound (target <= 1.10x)` },
  );

  // --- 3-node chain per-firing overhead -------------------------------------------------------
  const chainTopology = { step1: { next: 'step2' }, step2: { next: 'step3' }, step3: {} };
  const chains: Array<[string, ComputationGraph]> = [
    ['inline', await build('chain', chainTopology, 'inline')],
    ['pool, fused', await build('chain', chainTopology, 'pool', true)],
    ['pool, unfused', await build('chain', chainTopology, 'pool', false)],
  ];
  const chainData: Record<string, number> = {};
  for (const [label, graph] of chains) {
    const perSec = await rate(() => graph.execute(1), measureMs);
    chainData[label] = perSec;
    rows.push({ suite: 'chain', metric: `3-node chain, ${label}`, value: perSec, unit: 'runs/s' });
  }
  data.chain = chainData;

  await pool.close();
  return { rows, data };
}
