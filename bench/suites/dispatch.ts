/**
 * Dispatch: what the engine costs per execution over raw Piscina. A one-node graph on the pool
 * vs `piscina.run` of the same function on an identically configured pool, back to back and as
 * a sweep of runs in flight (1, 4, 16, 64).
 *
 * Timed with a plain loop, not benchmark.js: a deferred benchmark.js cycle adds tens of
 * microseconds of its own per operation (14.6k ops/s for a round trip that takes ~31 us), which
 * would pull both sides' rates down and the ratio toward 1.
 */
import { ComputationGraphBuilder, NodePool } from 'cloaca';
import { concurrentRate, progress, rate, type Budget } from '../harness.js';
import { nodesModule, rawPiscina, type SuiteResult } from './shared.js';

export const dispatchSteps = 5;

export async function dispatchSuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const pool = new NodePool({ threads });
  const raw = rawPiscina(threads);
  const graph = await new ComputationGraphBuilder('one_node', {
    nodes: nodesModule,
    graph: { noop: {} },
    pool,
  }).build();
  await Promise.all(Array.from({ length: threads * 4 }, () => raw.run(1)));

  // Interleaved rounds, so drift on a shared machine hits both sides alike.
  let rawSeq = 0;
  let graphSeq = 0;
  for (let round = 0; round < 2; round++) {
    progress(`dispatch: back to back, round ${round + 1} of 2`);
    rawSeq += (await rate(() => raw.run(1), budget.measureMs / 2)) / 2;
    graphSeq += (await rate(() => graph.execute(1), budget.measureMs / 2)) / 2;
  }

  const lanes = [1, 4, 16, 64];
  const sweep: Array<{ lanes: number; rawPerSec: number; graphPerSec: number; ratio: number }> = [];
  for (const n of lanes.slice(1)) {
    progress(`dispatch: ${n} runs in flight`);
    const rawPerSec = await concurrentRate(() => raw.run(1), n, budget.measureMs);
    const graphPerSec = await concurrentRate(() => graph.execute(1), n, budget.measureMs);
    sweep.push({ lanes: n, rawPerSec, graphPerSec, ratio: graphPerSec / rawPerSec });
  }
  sweep.unshift({ lanes: 1, rawPerSec: rawSeq, graphPerSec: graphSeq, ratio: graphSeq / rawSeq });
  await graph.close();
  await pool.close();
  await raw.destroy();

  const last = sweep[sweep.length - 1]!;
  return {
    rows: [
      { suite: 'dispatch', metric: 'raw piscina.run, back to back', value: rawSeq, unit: 'runs/s' },
      {
        suite: 'dispatch',
        metric: 'one-node graph, back to back',
        value: graphSeq,
        unit: 'runs/s',
        note: `${(graphSeq / rawSeq).toFixed(2)}x raw (target >= 0.8x)`,
      },
      { suite: 'dispatch', metric: 'raw piscina.run, 64 in flight', value: last.rawPerSec, unit: 'runs/s' },
      {
        suite: 'dispatch',
        metric: 'one-node graph, 64 in flight',
        value: last.graphPerSec,
        unit: 'runs/s',
        note: `${last.ratio.toFixed(2)}x raw (target >= 0.8x)`,
      },
    ],
    data: { threads, inFlight: sweep },
    charts: [
      {
        name: 'dispatch',
        chart: {
          title: `Dispatch: one-node graph vs raw Piscina (${threads} threads)`,
          xLabel: 'runs in flight',
          yLabel: 'runs per second',
          logX: true,
          series: [
            { name: 'raw piscina.run', points: sweep.map((s) => [s.lanes, s.rawPerSec] as const) },
            { name: 'one-node graph', points: sweep.map((s) => [s.lanes, s.graphPerSec] as const) },
          ],
        },
      },
    ],
  };
}
