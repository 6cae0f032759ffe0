/**
 * `graph.map()` over many inputs, against the loop a user would write without it: a sliding
 * window of `piscina.run` promises over an identically configured raw Piscina pool, consumed in
 * order, with the same number in flight.
 *
 * - memory: one million inputs (quick and full mode) of a light node through `graph.map()` on the
 *   pool; the process's RSS is sampled while it runs, and its growth over the warmed-up baseline
 *   is reported (target < 50 MiB: the source is read only as results are consumed);
 * - throughput: map vs the raw window, at map's default concurrency (twice the threads) and at
 *   64, in interleaved rounds so drift on a shared machine hits both alike (target >= 1.2x);
 * - CPU-bound: inputs of a node that busy-loops `kBurnMs`; efficiency is the work done per thread
 *   over the wall time (1.0 = every thread busy all the time; target >= 0.9), with the raw window
 *   running the same function as the peer.
 */
import { performance } from 'node:perf_hooks';
import type { Piscina } from 'piscina';
import { ComputationGraphBuilder, NodePool, type ComputationGraph } from 'cloaca';
import { progress, type Budget, type Row } from '../harness.js';
import { nodesModule, rawPiscina, type SuiteResult } from './shared.js';

export const mapSteps = 7;

const kBurnMs = 5;
const kSampleEvery = 16_384;
const MiB = 2 ** 20;

/** Integers 0..n-1, produced one at a time (never an array of a million). */
function* count(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** The hand-written peer: a window of `concurrency` `run()` promises, consumed in order. */
async function rawWindow<T>(
  run: (input: T) => Promise<unknown>,
  source: Iterable<T>,
  concurrency: number,
  consume: (result: unknown) => void,
): Promise<void> {
  const window: Array<Promise<unknown>> = [];
  for (const input of source) {
    if (window.length === concurrency) consume(await window.shift()!);
    window.push(run(input));
  }
  while (window.length > 0) consume(await window.shift()!);
}

/** Runs `pass` and returns its rate over `n` inputs, in inputs per second. */
async function timed(n: number, pass: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await pass();
  return n / ((performance.now() - start) / 1000);
}

async function mapAll(graph: ComputationGraph, source: Iterable<unknown>, concurrency?: number): Promise<void> {
  let sum = 0;
  for await (const result of graph.map(source, concurrency === undefined ? {} : { concurrency })) {
    sum += result.outputs.noop as number;
  }
  if (Number.isNaN(sum)) throw new Error('unreachable: keeps the sum live');
}

/** RSS growth while `graph.map()` runs over `n` inputs, and its rate. */
async function memoryRun(graph: ComputationGraph, n: number) {
  await mapAll(graph, count(20_000)); // warm-up: JIT, pool, cost model
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let seen = 0;
  const start = performance.now();
  for await (const result of graph.map(count(n))) {
    if (result.outputs.noop !== seen) throw new Error(`result ${seen} out of order`);
    if (++seen % kSampleEvery === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  const perSec = n / ((performance.now() - start) / 1000);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { inputs: n, perSec, baselineMiB: baseline / MiB, peakMiB: peak / MiB, growthMiB: (peak - baseline) / MiB };
}

/** Interleaved rounds of map and the raw window at one concurrency; rates in inputs per second. */
async function throughput(graph: ComputationGraph, raw: Piscina, n: number, concurrency: number) {
  let map = 0;
  let window = 0;
  const rounds = 2;
  for (let round = 0; round < rounds; round++) {
    progress(`map: ${concurrency} in flight, round ${round + 1} of ${rounds}`);
    map += (await timed(n, () => mapAll(graph, count(n), concurrency))) / rounds;
    window +=
      (await timed(n, () =>
        rawWindow(
          (i) => raw.run(i),
          count(n),
          concurrency,
          () => {},
        ),
      )) / rounds;
  }
  return { concurrency, mapPerSec: map, rawPerSec: window, ratio: map / window };
}

export async function mapSuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const pool = new NodePool({ threads });
  const raw = rawPiscina(threads);
  const light = await new ComputationGraphBuilder('map_light', {
    nodes: nodesModule,
    graph: { noop: {} },
    pool,
  }).build();
  const heavy = await new ComputationGraphBuilder('map_cpu', { nodes: nodesModule, graph: { w0: {} }, pool }).build();
  const defaultConcurrency = threads * 2;

  progress('map: warm-up');
  await rawWindow(
    (i) => raw.run(i),
    count(20_000),
    64,
    () => {},
  );

  // A million in full mode; a quarter of that keeps quick mode under a minute.
  const inputs = budget.scale >= 1 ? 1_000_000 : budget.scale >= 0.3 ? 250_000 : 20_000;
  progress(`map: ${inputs.toLocaleString('en-US')} light inputs, memory`);
  const memory = await memoryRun(light, inputs);

  const roundInputs = Math.round(100_000 * budget.scale);
  const sweep = [];
  for (const concurrency of [defaultConcurrency, 64]) {
    sweep.push(await throughput(light, raw, roundInputs, concurrency));
  }

  progress(`map: CPU-bound, ${kBurnMs} ms nodes on ${threads} threads`);
  const cpuInputs = Math.max(threads * 4, Math.round(threads * 200 * budget.scale));
  const work = { ms: kBurnMs };
  const efficiency = (perSec: number) => (perSec * kBurnMs) / 1000 / threads;
  let cpuMap = 0;
  let cpuRaw = 0;
  for (let round = 0; round < 2; round++) {
    cpuMap += (await timed(cpuInputs, () => drain(heavy.map(repeat(work, cpuInputs))))) / 2;
    cpuRaw +=
      (await timed(cpuInputs, () =>
        rawWindow(
          (w) => raw.run(w, { name: 'wide' }),
          repeat(work, cpuInputs),
          defaultConcurrency,
          () => {},
        ),
      )) / 2;
  }

  await light.close();
  await heavy.close();
  await pool.close();
  await raw.destroy();

  const [atDefault, at64] = sweep as [(typeof sweep)[0], (typeof sweep)[0]];
  const rows: Row[] = [
    {
      suite: 'map',
      metric: `${memory.inputs.toLocaleString('en-US')} light inputs, RSS growth`,
      value: memory.growthMiB,
      unit: 'MiB',
      note: `baseline ${memory.baselineMiB.toFixed(0)} MiB, peak ${memory.peakMiB.toFixed(0)} MiB (target < 50)`,
    },
    {
      suite: 'map',
      metric: `${memory.inputs.toLocaleString('en-US')} light inputs, rate`,
      value: memory.perSec,
      unit: 'runs/s',
    },
    ...[atDefault, at64].flatMap((s): Row[] => [
      { suite: 'map', metric: `raw piscina window, ${s.concurrency} in flight`, value: s.rawPerSec, unit: 'runs/s' },
      {
        suite: 'map',
        metric: `graph.map, ${s.concurrency} in flight`,
        value: s.mapPerSec,
        unit: 'runs/s',
        note: `${s.ratio.toFixed(2)}x raw (target >= 1.2x)`,
      },
    ]),
    {
      suite: 'map',
      metric: `raw piscina window, ${kBurnMs} ms CPU-bound`,
      value: efficiency(cpuRaw),
      unit: 'efficiency',
    },
    {
      suite: 'map',
      metric: `graph.map, ${kBurnMs} ms CPU-bound`,
      value: efficiency(cpuMap),
      unit: 'efficiency',
      note: `per thread, ${threads} threads (target >= 0.9)`,
    },
  ];
  return {
    rows,
    data: {
      threads,
      memory,
      throughput: sweep,
      cpuBound: {
        nodeMs: kBurnMs,
        inputs: cpuInputs,
        concurrency: defaultConcurrency,
        mapPerSec: cpuMap,
        rawPerSec: cpuRaw,
        mapEfficiency: efficiency(cpuMap),
        rawEfficiency: efficiency(cpuRaw),
      },
    },
    charts: [],
  };
}

function* repeat<T>(value: T, n: number): Generator<T> {
  for (let i = 0; i < n; i++) yield value;
}

async function drain(iteration: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iteration);
}
