/**
 * Per-firing overhead of a 3-node chain (`step1 -> step2 -> step3`, trivial nodes), executions
 * per second back to back: inline, pool with chain fusion (one worker task), pool without.
 */
import { ComputationGraphBuilder, NodePool, type ExecutorKind } from 'cloaca';
import { progress, rate, type Budget, type Row } from '../harness.js';
import { nodesModule, type SuiteResult } from './shared.js';

export const chainSteps = 3;

export async function chainSuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const pool = new NodePool({ threads });
  const topology = { step1: { next: 'step2' }, step2: { next: 'step3' }, step3: {} };
  const variants: Array<[label: string, executor: ExecutorKind, fuse: boolean]> = [
    ['inline', 'inline', false],
    ['pool, fused', 'pool', true],
    ['pool, unfused', 'pool', false],
  ];
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  for (const [label, executor, fuse] of variants) {
    progress(`chain: 3-node chain, ${label}`);
    const graph = await new ComputationGraphBuilder('chain', { nodes: nodesModule, graph: topology, executor, pool, fuse }).build();
    const perSec = await rate(() => graph.execute(1), budget.measureMs);
    await graph.close();
    data[label] = perSec;
    rows.push({ suite: 'chain', metric: `3-node chain, ${label}`, value: perSec, unit: 'runs/s' });
  }
  await pool.close();
  rows[1] = { ...rows[1]!, note: `fusion: ${(data['pool, fused']! / data['pool, unfused']!).toFixed(2)}x unfused` };
  return { rows, data: { threads, runsPerSec: data }, charts: [] };
}
