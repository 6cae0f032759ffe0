/**
 * `niceIncrement` lowers the scheduling priority of the pool's worker threads and leaves the
 * main thread's alone, for a NodePool and for a Runtime's pool. Read from /proc by a node that
 * answers the nice value of the thread it runs on (Linux only: elsewhere threads share one).
 */
import { describe, expect, it } from 'vitest';
import {
  ComputationGraphBuilder,
  NodePool,
  Runtime,
  passthroughAccumulator,
  reactor,
  type ComputationGraph,
  type FireRecord,
} from 'cloaca';
import { fixture } from './support/executors.js';

const nodes = fixture('priority.nodes.mjs');
const { nice: niceOfThisThread } = (await import(nodes)) as { nice: () => number };

/** The nice value a worker started with `increment` should have: the kernel stops at 19. */
function expected(increment: number): number {
  return Math.min(19, niceOfThisThread() + increment);
}

async function niceOfWorker(pool: NodePool): Promise<number> {
  const graph: ComputationGraph = await new ComputationGraphBuilder('priority', {
    nodes,
    executor: 'pool',
    pool,
    graph: { nice: {} },
  }).build();
  try {
    return (await graph.execute(null)).outputs.nice as number;
  } finally {
    await graph.close();
  }
}

describe.runIf(process.platform === 'linux')('worker priority', () => {
  it('a NodePool with niceIncrement: 7 runs nodes at nice + 7; the main thread keeps its own', async () => {
    const before = niceOfThisThread();
    const pool = new NodePool({ threads: 1, niceIncrement: 7 });
    try {
      expect(await niceOfWorker(pool)).toBe(expected(7));
    } finally {
      await pool.close();
    }
    expect(niceOfThisThread()).toBe(before);
  });

  it('a NodePool without the option leaves its workers at the main thread’s priority', async () => {
    const pool = new NodePool({ threads: 1 });
    try {
      expect(await niceOfWorker(pool)).toBe(niceOfThisThread());
    } finally {
      await pool.close();
    }
  });

  it('a Runtime passes niceIncrement to its pool', async () => {
    const R = reactor({ name: 'priority_reactor', accumulators: ['tick'] });
    const graph = await new ComputationGraphBuilder('priority_graph', {
      nodes,
      reactor: R,
      graph: { nice: { inputs: ['tick'] } },
    }).build();
    const runtime = new Runtime({ threads: 1, niceIncrement: 5 });
    const records: FireRecord[] = [];
    runtime.on('fire', (record) => records.push(record));
    runtime.register(passthroughAccumulator({ name: 'tick' }), R, graph);
    await runtime.start();
    try {
      runtime.push('tick', 1);
      await runtime.idle();
    } finally {
      await runtime.shutdown();
    }
    expect(records.map((r) => [r.ok, r.outputs?.nice])).toStrictEqual([[true, expected(5)]]);
  });
});
