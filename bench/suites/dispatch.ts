/**
 * Dispatch: what the engine costs per execution over raw Piscina. A one-node graph on the pool
 * vs `piscina.run` of the same function on an identically configured pool (4 tasks per worker,
 * raw Piscina's best setting here), back to back (rate and p50 round trip) and as a sweep of
 * runs in flight (1, 4, 16, 64), with batched dispatch on (the default) and off (`batchSize: 1`).
 * With `--full`, the 64-in-flight case is also swept over thread counts (1, 2, 4, ... the
 * machine's cores, or `--threads`), batching on and off.
 *
 * Timed with a plain loop, not benchmark.js: a deferred benchmark.js cycle adds tens of
 * microseconds of its own per operation (14.6k ops/s for a round trip that takes ~31 us), which
 * would pull both sides' rates down and the ratio toward 1.
 */
import { performance } from 'node:perf_hooks';
import { ComputationGraphBuilder, NodePool, type ComputationGraph } from 'cloaca';
import { concurrentRate, progress, quantile, rate, type Budget } from '../harness.js';
import { nodesModule, rawPiscina, threadSweep, type SuiteResult } from './shared.js';

const kLanes = [4, 16, 64];

export function dispatchSteps(threads: number, full: boolean): number {
  return 2 + kLanes.length + (full ? threadSweep(threads).length : 0);
}

interface Side {
  readonly pool: NodePool;
  readonly graph: ComputationGraph;
}

async function side(threads: number, batchSize: number): Promise<Side> {
  const pool = new NodePool({ threads, batchSize });
  const graph = await new ComputationGraphBuilder('one_node', {
    nodes: nodesModule,
    graph: { noop: {} },
    pool,
  }).build();
  // Measured light, so batching applies from the first measured call.
  for (let i = 0; i < 200; i++) await graph.execute(1);
  return { pool, graph };
}

async function close(s: Side): Promise<void> {
  await s.graph.close();
  await s.pool.close();
}

/** p50 of `count` back-to-back calls, in microseconds. */
async function p50Us(fn: () => Promise<unknown>, count: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return quantile(samples, 0.5) * 1000;
}

/** Rates of raw Piscina and of the graph with batching on and off, `lanes` in flight, interleaved. */
async function inFlight(threads: number, lanes: number, ms: number) {
  const raw = rawPiscina(threads);
  await Promise.all(Array.from({ length: threads * 4 }, () => raw.run(1)));
  const batched = await side(threads, 32);
  const unbatched = await side(threads, 1);
  const rawPerSec = await concurrentRate(() => raw.run(1), lanes, ms);
  const batchedPerSec = await concurrentRate(() => batched.graph.execute(1), lanes, ms);
  const unbatchedPerSec = await concurrentRate(() => unbatched.graph.execute(1), lanes, ms);
  await close(batched);
  await close(unbatched);
  await raw.destroy();
  return { threads, lanes, rawPerSec, batchedPerSec, unbatchedPerSec, ratio: batchedPerSec / rawPerSec };
}

export async function dispatchSuite(threads: number, budget: Budget, full: boolean): Promise<SuiteResult> {
  const raw = rawPiscina(threads);
  const batched = await side(threads, 32);
  await Promise.all(Array.from({ length: threads * 4 }, () => raw.run(1)));

  // Interleaved rounds, so drift on a shared machine hits both sides alike.
  let rawSeq = 0;
  let graphSeq = 0;
  const p50 = { raw: [] as number[], graph: [] as number[] };
  for (let round = 0; round < 2; round++) {
    progress(`dispatch: back to back, round ${round + 1} of 2`);
    rawSeq += (await rate(() => raw.run(1), budget.measureMs / 2)) / 2;
    graphSeq += (await rate(() => batched.graph.execute(1), budget.measureMs / 2)) / 2;
    p50.raw.push(await p50Us(() => raw.run(1), 2000));
    p50.graph.push(await p50Us(() => batched.graph.execute(1), 2000));
  }
  const rawP50 = Math.min(...p50.raw);
  const graphP50 = Math.min(...p50.graph);

  // Made only now: idle threads of a third pool would share the cores during the round trips.
  const unbatched = await side(threads, 1);
  const sweep: Array<{
    lanes: number;
    rawPerSec: number;
    batchedPerSec: number;
    unbatchedPerSec: number;
    ratio: number;
  }> = [];
  for (const n of kLanes) {
    progress(`dispatch: ${n} runs in flight, batching on and off`);
    const rawPerSec = await concurrentRate(() => raw.run(1), n, budget.measureMs);
    const batchedPerSec = await concurrentRate(() => batched.graph.execute(1), n, budget.measureMs);
    const unbatchedPerSec = await concurrentRate(() => unbatched.graph.execute(1), n, budget.measureMs);
    sweep.push({ lanes: n, rawPerSec, batchedPerSec, unbatchedPerSec, ratio: batchedPerSec / rawPerSec });
  }
  sweep.unshift({
    lanes: 1,
    rawPerSec: rawSeq,
    batchedPerSec: graphSeq,
    unbatchedPerSec: graphSeq,
    ratio: graphSeq / rawSeq,
  });
  await close(batched);
  await close(unbatched);
  await raw.destroy();

  const threadsSweep: Array<Awaited<ReturnType<typeof inFlight>>> = [];
  if (full) {
    for (const t of threadSweep(threads)) {
      progress(`dispatch: 64 runs in flight on ${t} threads, batching on and off`);
      threadsSweep.push(await inFlight(t, 64, budget.measureMs));
    }
  }

  const last = sweep[sweep.length - 1]!;
  return {
    rows: [
      { suite: 'dispatch', metric: 'raw piscina.run, back to back', value: rawSeq, unit: 'runs/s' },
      {
        suite: 'dispatch',
        metric: 'one-node graph, back to back',
        value: graphSeq,
        unit: 'runs/s',
        note: `${(graphSeq / rawSeq).toFixed(2)}x raw`,
      },
      { suite: 'dispatch', metric: 'raw piscina.run, back to back: p50', value: rawP50, unit: 'us' },
      {
        suite: 'dispatch',
        metric: 'one-node graph, back to back: p50',
        value: graphP50,
        unit: 'us',
        note: `${(graphP50 / rawP50).toFixed(2)}x raw`,
      },
      { suite: 'dispatch', metric: 'raw piscina.run, 64 in flight', value: last.rawPerSec, unit: 'runs/s' },
      {
        suite: 'dispatch',
        metric: 'one-node graph, 64 in flight',
        value: last.batchedPerSec,
        unit: 'runs/s',
        note: `${last.ratio.toFixed(2)}x raw (target >= 1.5x)`,
      },
      {
        suite: 'dispatch',
        metric: 'one-node graph, 64 in flight, batching off',
        value: last.unbatchedPerSec,
        unit: 'runs/s',
        note: `${(last.unbatchedPerSec / last.rawPerSec).toFixed(2)}x raw`,
      },
      ...threadsSweep.map((t) => ({
        suite: 'dispatch',
        metric: `64 in flight, ${t.threads} threads: batching on / off`,
        value: t.batchedPerSec,
        unit: 'runs/s',
        note: `off ${Math.round(t.unbatchedPerSec).toLocaleString('en-US')}, raw ${Math.round(t.rawPerSec).toLocaleString('en-US')}: ${t.ratio.toFixed(2)}x raw`,
      })),
    ],
    data: { threads, backToBackP50Us: { raw: p50.raw, graph: p50.graph }, inFlight: sweep, threadSweep: threadsSweep },
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
            { name: 'one-node graph', points: sweep.map((s) => [s.lanes, s.batchedPerSec] as const) },
            { name: 'batching off', points: sweep.map((s) => [s.lanes, s.unbatchedPerSec] as const) },
          ],
        },
      },
    ],
  };
}
