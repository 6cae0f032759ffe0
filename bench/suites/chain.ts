/**
 * Per-firing overhead of linear chains of trivial nodes (`x + 1`), executions per second back to
 * back, for chains of 1, 2, 3, 5 and 8 nodes: inline, pool with chain fusion (the whole chain is
 * one worker task), pool without (one round trip per node).
 */
import { ComputationGraphBuilder, NodePool, type ExecutorKind } from 'cloaca';
import { progress, rate, type Budget, type Row } from '../harness.js';
import { nodesModule, type SuiteResult } from './shared.js';

const kLengths = [1, 2, 3, 5, 8];
const kVariants: Array<[label: string, executor: ExecutorKind, fuse: boolean]> = [
  ['inline', 'inline', false],
  ['pool, fused', 'pool', true],
  ['pool, unfused', 'pool', false],
];
export const chainSteps = kLengths.length;

/** `k0 -> k1 -> ... -> k(length-1)`. */
function chainTopology(length: number): Record<string, { next?: string }> {
  return Object.fromEntries(Array.from({ length }, (_, i) => [`k${i}`, i + 1 < length ? { next: `k${i + 1}` } : {}]));
}

export async function chainSuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const pool = new NodePool({ threads });
  const rows: Row[] = [];
  const sweep: Array<Record<string, number>> = [];
  for (const length of kLengths) {
    progress(`chain: ${length}-node chain, inline / pool fused / pool unfused`);
    const point: Record<string, number> = { length };
    for (const [label, executor, fuse] of kVariants) {
      const graph = await new ComputationGraphBuilder('chain', {
        nodes: nodesModule,
        graph: chainTopology(length),
        executor,
        pool,
        fuse,
      }).build();
      point[label] = await rate(() => graph.execute(0), budget.measureMs / kVariants.length);
      await graph.close();
    }
    sweep.push(point);
    if (length === 3) {
      for (const [label] of kVariants)
        rows.push({ suite: 'chain', metric: `3-node chain, ${label}`, value: point[label]!, unit: 'runs/s' });
      rows[1] = {
        ...rows[1]!,
        note: `fusion: ${(point['pool, fused']! / point['pool, unfused']!).toFixed(2)}x unfused`,
      };
    }
  }
  await pool.close();
  const eight = sweep[sweep.length - 1]!;
  rows.push({
    suite: 'chain',
    metric: '8-node chain, pool fused vs unfused',
    value: eight['pool, fused']! / eight['pool, unfused']!,
    unit: 'x',
    note: `${Math.round(eight['pool, fused']!)} vs ${Math.round(eight['pool, unfused']!)} runs/s`,
  });
  return {
    rows,
    data: { threads, sweep },
    charts: [
      {
        name: 'chain',
        chart: {
          title: 'Linear chains of trivial nodes: executions per second',
          xLabel: 'nodes in the chain',
          yLabel: 'runs per second',
          logY: true,
          series: kVariants.map(([label]) => ({
            name: label,
            points: sweep.map((p) => [p.length!, p[label]!] as const),
          })),
        },
      },
    ],
  };
}
