/**
 * Parallel graph execution: how well the pool uses the cores, against the DAG runners a user
 * would otherwise reach for. Two graphs of CPU-bound nodes (busy loops, so a node holds a core
 * for its whole length):
 *
 * - wide: 2 x (largest thread count) independent 20 ms nodes;
 * - unbalanced: root -> { chain of 4 x 20 ms, 6 x 10 ms } -> join.
 *
 * Each runs on the pool at every thread count from 1 to the machine's cores, and once through
 * `async.auto` and `p-graph` (single-threaded by design: same functions, same dependencies).
 * Reported: makespan, speedup over one thread, efficiency (speedup / threads), and the ratio to
 * the lower bound max(critical path, total work / threads).
 */
import asyncLib from 'async';
import { PGraph } from 'p-graph';
import { ComputationGraphBuilder, NodePool, type ComputationGraph } from 'cloaca';
import { medianMs, progress, type Budget, type Row } from '../harness.js';
import { burn } from '../nodes/work.nodes.js';
import { nodesModule, threadSweep, type SuiteResult } from './shared.js';

const kNodeMs = 20;
const kChainMs = 20;
const kSideMs = 10;
const kSides = ['s1', 's2', 's3', 's4', 's5', 's6'];

export function parallelSteps(cores: number): number {
  return threadSweep(cores).length * 2 + 4;
}

/** Node name -> [upstream names, cost in ms]. */
type Dag = Record<string, readonly [deps: readonly string[], ms: number]>;

function wideDag(width: number): Dag {
  return Object.fromEntries(Array.from({ length: width }, (_, i) => [`w${i}`, [[], kNodeMs] as const]));
}

const unbalancedDag: Dag = {
  root: [[], 0],
  c1: [['root'], kChainMs],
  c2: [['c1'], kChainMs],
  c3: [['c2'], kChainMs],
  c4: [['c3'], kChainMs],
  ...Object.fromEntries(kSides.map((s) => [s, [['root'], kSideMs] as const])),
  join: [['c4', ...kSides], 0],
};

/** The topology dict of a DAG (edges from each node to its dependents). */
function topologyOf(dag: Dag): Record<string, { next?: string[] }> {
  const next: Record<string, string[]> = Object.fromEntries(Object.keys(dag).map((n) => [n, []]));
  for (const [name, [deps]] of Object.entries(dag)) for (const d of deps) next[d]!.push(name);
  return Object.fromEntries(
    Object.entries(next).map(([n, targets]) => [n, targets.length > 0 ? { next: targets } : {}]),
  );
}

function lowerBound(dag: Dag, threads: number): number {
  const finish = new Map<string, number>();
  const at = (n: string): number =>
    finish.get(n) ?? (finish.set(n, dag[n]![1] + Math.max(0, ...dag[n]![0].map(at))), finish.get(n)!);
  const critical = Math.max(...Object.keys(dag).map(at));
  const work = Object.values(dag).reduce((sum, [, ms]) => sum + ms, 0);
  return Math.max(critical, work / threads);
}

function runAsyncAuto(dag: Dag): Promise<unknown> {
  const tasks = Object.fromEntries(
    Object.entries(dag).map(([name, [deps, ms]]) => [
      name,
      [...deps, (_results: unknown, done: (e: null) => void) => (burn(ms), done(null))],
    ]),
  );
  // async.auto also takes a bare function for a task without dependencies.
  for (const [name, [deps, ms]] of Object.entries(dag))
    if (deps.length === 0) tasks[name] = ((done: (e: null) => void) => (burn(ms), done(null))) as never;
  return asyncLib.auto(tasks as never);
}

function runPGraph(dag: Dag): Promise<void> {
  const nodes = new Map(Object.entries(dag).map(([name, [, ms]]) => [name, { run: async () => void burn(ms) }]));
  const deps = Object.entries(dag).flatMap(([name, [up]]) => up.map((d) => [d, name] as [string, string]));
  return new PGraph(nodes, deps).run();
}

export async function parallelSuite(cores: number, budget: Budget): Promise<SuiteResult> {
  const counts = threadSweep(cores);
  const width = 2 * Math.max(...counts);
  const wide = wideDag(width);
  const rows: Row[] = [];
  const ctxWide = { ms: kNodeMs };
  const ctxUnbalanced = { chainMs: kChainMs, sideMs: kSideMs };

  progress('parallel: wide graph, async.auto and p-graph (single-threaded)');
  const peers = {
    asyncAuto: {
      wide: await medianMs(() => runAsyncAuto(wide), budget.runs),
      unbalanced: await medianMs(() => runAsyncAuto(unbalancedDag), budget.runs),
    },
    pGraph: {
      wide: await medianMs(() => runPGraph(wide), budget.runs),
      unbalanced: await medianMs(() => runPGraph(unbalancedDag), budget.runs),
    },
  };
  progress('parallel: wide graph, inline executor');
  const inlineGraph = await new ComputationGraphBuilder('wide', {
    nodes: nodesModule,
    graph: topologyOf(wide),
    executor: 'inline',
  }).build();
  const inlineWide = await medianMs(() => inlineGraph.execute(ctxWide), budget.runs);

  const sweep: Array<Record<string, number>> = [];
  for (const threads of counts) {
    const pool = new NodePool({ threads });
    const build = (name: string, dag: Dag): Promise<ComputationGraph> =>
      new ComputationGraphBuilder(name, { nodes: nodesModule, graph: topologyOf(dag), pool }).build();
    progress(`parallel: wide graph (${width} x ${kNodeMs} ms), ${threads} thread${threads > 1 ? 's' : ''}`);
    const wideGraph = await build('wide', wide);
    const wideMs = await medianMs(() => wideGraph.execute(ctxWide), budget.runs);
    progress(`parallel: unbalanced DAG, ${threads} thread${threads > 1 ? 's' : ''}`);
    const unbalancedGraph = await build('unbalanced', unbalancedDag);
    const firstMs = (await unbalancedGraph.execute(ctxUnbalanced)).durationMs;
    const unbalancedMs = await medianMs(() => unbalancedGraph.execute(ctxUnbalanced), budget.runs);
    await pool.close();
    const bound = lowerBound(unbalancedDag, threads);
    const speedup = inlineWide / wideMs;
    sweep.push({
      threads,
      wideMs,
      speedup,
      efficiency: speedup / threads,
      wideBoundMs: lowerBound(wide, threads),
      unbalancedFirstMs: firstMs,
      unbalancedMs,
      unbalancedBoundMs: bound,
      unbalancedRatio: unbalancedMs / bound,
    });
    rows.push(
      {
        suite: 'parallel',
        metric: `wide, ${threads} threads: makespan`,
        value: wideMs,
        unit: 'ms',
        note: `speedup ${speedup.toFixed(2)}x, efficiency ${(speedup / threads).toFixed(2)} (target >= 0.9)`,
      },
      {
        suite: 'parallel',
        metric: `unbalanced, ${threads} threads: makespan`,
        value: unbalancedMs,
        unit: 'ms',
        note: `${(unbalancedMs / bound).toFixed(2)}x bound ${bound} ms (target <= 1.10x); first run ${(firstMs / bound).toFixed(2)}x`,
      },
    );
  }
  rows.unshift(
    { suite: 'parallel', metric: `wide (${width} x ${kNodeMs} ms), inline executor`, value: inlineWide, unit: 'ms' },
    {
      suite: 'parallel',
      metric: 'wide, async.auto',
      value: peers.asyncAuto.wide,
      unit: 'ms',
      note: `single-threaded; pool on ${cores} threads is ${(peers.asyncAuto.wide / sweep[sweep.length - 1]!.wideMs!).toFixed(2)}x faster`,
    },
    {
      suite: 'parallel',
      metric: 'wide, p-graph',
      value: peers.pGraph.wide,
      unit: 'ms',
      note: `single-threaded; pool on ${cores} threads is ${(peers.pGraph.wide / sweep[sweep.length - 1]!.wideMs!).toFixed(2)}x faster`,
    },
    {
      suite: 'parallel',
      metric: 'unbalanced, async.auto / p-graph',
      value: peers.asyncAuto.unbalanced,
      unit: 'ms',
      note: `p-graph ${peers.pGraph.unbalanced.toFixed(1)} ms`,
    },
  );

  return {
    rows,
    data: { cores, width, nodeMs: kNodeMs, inlineWideMs: inlineWide, peers, sweep },
    charts: [
      {
        name: 'parallel-speedup',
        chart: {
          title: `Wide graph (${width} x ${kNodeMs} ms CPU-bound nodes): speedup over one thread`,
          xLabel: 'threads',
          yLabel: 'speedup vs inline executor',
          logX: true,
          series: [
            { name: 'cloaca pool', points: sweep.map((s) => [s.threads!, s.speedup!] as const) },
            { name: 'ideal', dashed: true, points: sweep.map((s) => [s.threads!, s.threads!] as const) },
            { name: 'async.auto', points: sweep.map((s) => [s.threads!, inlineWide / peers.asyncAuto.wide] as const) },
            { name: 'p-graph', points: sweep.map((s) => [s.threads!, inlineWide / peers.pGraph.wide] as const) },
          ],
        },
      },
      {
        name: 'parallel-unbalanced',
        chart: {
          title: 'Unbalanced DAG: makespan vs lower bound',
          xLabel: 'threads',
          yLabel: 'ms',
          logX: true,
          series: [
            { name: 'cloaca pool', points: sweep.map((s) => [s.threads!, s.unbalancedMs!] as const) },
            {
              name: 'lower bound',
              dashed: true,
              points: sweep.map((s) => [s.threads!, s.unbalancedBoundMs!] as const),
            },
            { name: 'async.auto', points: sweep.map((s) => [s.threads!, peers.asyncAuto.unbalanced] as const) },
          ],
        },
      },
    ],
  };
}
