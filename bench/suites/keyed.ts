/**
 * Keyed suite: what keys cost and what they buy.
 *
 * - CPU-bound keys on the pool: 1,000 keys, each firing sequential 1 ms nodes, drained with 1
 *   thread and with more (up to --threads): the speed-up is how well keys spread over workers.
 * - Light nodes: the same boundaries over 1,000 keys, keyed against one unkeyed sequential
 *   reactor on the same executor (inline and pool); on the pool also against raw back-to-back
 *   Piscina round trips, which an unkeyed reactor's firings cannot beat one at a time.
 * - A quiet key's latency (push to its fire record) while another key drains a backlog of
 *   100,000, against the quiet key alone; then the same with the workers' `niceIncrement` at 10.
 * - Holding idle keys: heap per key, and `start()` restoring them from a checkpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  ComputationGraphBuilder,
  Runtime,
  passthroughAccumulator,
  reactor,
  type FireRecord,
  type ReactorOptions,
} from 'cloaca';
import { median, progress, quantiles, type Budget, type Quantiles, type Row } from '../harness.js';
import { nodesModule, rawPiscina, threadSweep, type SuiteResult } from './shared.js';

export function keyedSteps(threads: number): number {
  return threadSweep(threads).length + 9;
}

/**
 * Measured rounds per comparison: the sides of each comparison run alternately in every round,
 * on runtimes kept warm between rounds, and the median of the rounds is reported, so a machine
 * busy for a moment moves one round, not the ratio.
 */
const kRounds = 5;

type Executor = 'inline' | 'pool';

/** A started runtime: passthrough `a` -> one sequential reactor (keyed when `keyed`) -> node `node`. */
async function keyedRuntime(
  executor: Executor,
  threads: number,
  options: {
    keyed: boolean;
    node: 'wide' | 'noop';
    checkpoint?: string;
    queueCapacity?: number;
    niceIncrement?: number;
  } & Partial<ReactorOptions>,
) {
  const { keyed, node, checkpoint, queueCapacity = 1 << 20, niceIncrement, ...declared } = options;
  const R = reactor({
    name: 'keyed_bench',
    accumulators: ['a'],
    strategy: 'sequential',
    ...(keyed ? { key: 'k', ...declared } : {}),
  });
  const graph = await new ComputationGraphBuilder('keyed_bench_graph', {
    reactor: R,
    executor,
    nodes: nodesModule,
    graph: { [node]: { inputs: ['a'] } },
  }).build();
  const runtime = new Runtime({
    threads,
    queueCapacity,
    niceIncrement,
    ...(checkpoint === undefined ? {} : { checkpoint }),
  });
  runtime.register(passthroughAccumulator({ name: 'a' }), R, graph);
  await runtime.start();
  return runtime;
}

/** Pushes every event (waiting for room when refused) and resolves once all fired: seconds. */
async function drain(runtime: Runtime, events: ReadonlyArray<{ k: string; ms: number }>): Promise<number> {
  const start = performance.now();
  for (const event of events) while (!runtime.push('a', event)) await runtime.whenWritable('a');
  await runtime.idle();
  return (performance.now() - start) / 1000;
}

/** `perKey` events for each of `keys` keys, interleaved. */
function events(keys: number, perKey: number, ms: number): Array<{ k: string; ms: number }> {
  const all: Array<{ k: string; ms: number }> = [];
  for (let i = 0; i < perKey; i++) for (let k = 0; k < keys; k++) all.push({ k: `key${k}`, ms });
  return all;
}

/** Push-to-record latencies (ms) of `samples` boundaries of key `quiet`, one at a time. */
async function quietLatency(runtime: Runtime, samples: number): Promise<number[]> {
  const latencies: number[] = [];
  let waiting: ((record: FireRecord) => void) | null = null;
  const listener = (record: FireRecord): void => {
    if (record.key === 'quiet') waiting?.(record);
  };
  runtime.on('fire', listener);
  for (let i = 0; i < samples; i++) {
    const fired = new Promise<FireRecord>((resolve) => (waiting = resolve));
    const at = performance.now();
    runtime.push('a', { k: 'quiet', ms: 0 });
    await fired;
    latencies.push(performance.now() - at);
  }
  runtime.off('fire', listener);
  return latencies;
}

/** The workers' `niceIncrement` of the second quiet-key measure (the first leaves them at 0). */
const kQuietNice = 10;

interface QuietKey {
  readonly niceIncrement: number;
  readonly backlog: number;
  /** Samples per side, the rounds pooled. */
  readonly samples: number;
  /** Push-to-record latency quantiles (ms) of each side. */
  readonly alone: Quantiles;
  readonly beside: Quantiles;
  /** The fewest boundaries still queued behind the busy key when a round's samples ended. */
  readonly leftBehind: number;
}

/**
 * A quiet key's latencies on one warm pool runtime whose workers run at `niceIncrement`: alone,
 * then beside a backlog of another key, alternately for {@link kRounds} rounds.
 */
async function quietKey(threads: number, budget: Budget, niceIncrement: number): Promise<QuietKey> {
  const backlog = Math.max(1000, Math.round(100_000 * Math.min(1, budget.scale * 2.5)));
  // Per round, per side; the rounds' samples are pooled, so each p99 is the 1% tail of
  // kRounds * samples answers taken alternately from both sides.
  const samples = Math.max(1000, Math.round(2000 * budget.scale));
  progress(
    `keyed: quiet key alone, then beside a backlog of ${backlog}, ${kRounds} rounds, niceIncrement ${niceIncrement}`,
  );
  const runtime = await keyedRuntime('pool', threads, { keyed: true, node: 'noop', niceIncrement });
  const handle = runtime.reactor('keyed_bench');
  /** Queues `count` boundaries of key `busy` while paused, then lets them drain. */
  const queueBacklog = (count: number): void => {
    handle.pause();
    for (let i = 0; i < count; i++) runtime.push('a', { k: 'busy', ms: 0 });
    // The backlog's objects are new: collected (and promoted) before sampling, so the samples
    // measure the drain beside the quiet key, not the first scavenges of 100,000 new objects.
    global.gc?.();
    handle.resume();
  };
  // Warm-up for both sides: the first backlog a runtime drains runs code not yet optimized, and
  // on 2 cores the compiler's threads take the cores the quiet key's answers need (see
  // PERFORMANCE.md, section 13).
  await quietLatency(runtime, 50);
  queueBacklog(backlog);
  await quietLatency(runtime, samples);
  await runtime.idle();
  const alone: number[] = [];
  const beside: number[] = [];
  let leftBehind = Infinity;
  for (let round = 0; round < kRounds; round++) {
    alone.push(...(await quietLatency(runtime, samples)));
    queueBacklog(backlog);
    beside.push(...(await quietLatency(runtime, samples)));
    leftBehind = Math.min(leftBehind, handle.key('busy').getState().queued);
    await runtime.idle();
  }
  await runtime.shutdown();
  return {
    niceIncrement,
    backlog,
    samples: alone.length,
    alone: quantiles(alone),
    beside: quantiles(beside),
    leftBehind,
  };
}

function quietKeyRows({ niceIncrement, backlog, samples, alone, beside, leftBehind }: QuietKey): Row[] {
  const workers = niceIncrement === 0 ? '' : `, workers at niceIncrement ${niceIncrement}`;
  return [
    {
      suite: 'keyed',
      metric: `quiet key alone, push -> record${workers}`,
      value: alone.p99,
      unit: 'ms p99',
      note: `p50 ${alone.p50.toFixed(3)} ms; ${samples} samples over ${kRounds} rounds`,
    },
    {
      suite: 'keyed',
      metric: `quiet key beside a backlog of ${backlog.toLocaleString('en-US')}${workers}`,
      value: beside.p99,
      unit: 'ms p99',
      note: `${(beside.p99 / alone.p99).toFixed(2)}x alone; p50 ${beside.p50.toFixed(3)} ms; at least ${leftBehind.toLocaleString('en-US')} still queued after each round's samples`,
    },
  ];
}

export async function keyedSuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const rows: Row[] = [];
  const keys = Math.max(50, Math.round(1000 * Math.min(1, budget.scale * 2.5)));

  // --- CPU-bound keys on the pool, by threads (every count in each round)
  const sweepThreads = threadSweep(threads);
  const cpu = events(keys, 1, 1);
  const cpuRuntimes: Runtime[] = [];
  for (const t of sweepThreads) {
    progress(`keyed: ${keys} keys of 1 ms nodes, pool, ${t} thread(s)`);
    const runtime = await keyedRuntime('pool', t, { keyed: true, node: 'wide' });
    await drain(runtime, events(Math.min(keys, 4 * t), 1, 1)); // warm the workers
    cpuRuntimes.push(runtime);
  }
  const cpuSeconds = sweepThreads.map(() => [] as number[]);
  for (let round = 0; round < kRounds; round++) {
    for (let i = 0; i < cpuRuntimes.length; i++) cpuSeconds[i]!.push(await drain(cpuRuntimes[i]!, cpu));
  }
  for (const runtime of cpuRuntimes) await runtime.shutdown();
  const sweep = sweepThreads.map((t, i) => {
    const seconds = median(cpuSeconds[i]!);
    // Per round against the 1-thread run of the same round, then the median.
    const speedup = median(cpuSeconds[i]!.map((s, round) => cpuSeconds[0]![round]! / s));
    return { threads: t, seconds, firingsPerSec: cpu.length / seconds, speedup, rounds: cpuSeconds[i]! };
  });
  for (const point of sweep) {
    rows.push({
      suite: 'keyed',
      metric: `${keys} keys, sequential 1 ms nodes, pool, ${point.threads} thread(s)`,
      value: point.firingsPerSec,
      unit: 'firings/s',
      note: `${point.speedup.toFixed(2)}x 1 thread (median of ${kRounds} rounds)`,
    });
  }

  // --- light nodes: keyed against unkeyed on the same executor, and raw round trips
  // 40,000 firings per drain in quick mode (about 40 ms inline): at 8,000, a drain took some
  // 6 ms, and one collection more or less on either side moved the ratio from 0.7x to 1.1x.
  const perKey = Math.max(2, Math.round(100 * budget.scale));
  const light = events(keys, perKey, 0);
  const trips = Math.max(200, Math.round(5000 * budget.scale));
  const raw = rawPiscina(threads);
  for (let i = 0; i < 100; i++) await raw.run(1);
  const rawRounds: number[] = [];
  const lightRates: Record<string, { keyed: number; unkeyed: number; ratio: number; rawRatio: number }> = {};
  for (const executor of ['inline', 'pool'] as const) {
    progress(`keyed: ${light.length} light firings, ${executor}, keyed and unkeyed`);
    const unkeyed = await keyedRuntime(executor, threads, { keyed: false, node: 'noop' });
    const keyed = await keyedRuntime(executor, threads, { keyed: true, node: 'noop' });
    const warm = light.slice(0, Math.min(light.length, 2000));
    await drain(unkeyed, warm);
    await drain(keyed, warm);
    const rates = { keyed: [] as number[], unkeyed: [] as number[], raw: [] as number[] };
    for (let round = 0; round < kRounds; round++) {
      rates.unkeyed.push(light.length / (await drain(unkeyed, light)));
      rates.keyed.push(light.length / (await drain(keyed, light)));
      if (executor === 'pool') {
        const start = performance.now();
        for (let i = 0; i < trips; i++) await raw.run(1);
        rates.raw.push(trips / ((performance.now() - start) / 1000));
      }
    }
    await unkeyed.shutdown();
    await keyed.shutdown();
    rawRounds.push(...rates.raw);
    lightRates[executor] = {
      keyed: median(rates.keyed),
      unkeyed: median(rates.unkeyed),
      ratio: median(rates.keyed.map((k, round) => k / rates.unkeyed[round]!)),
      rawRatio: executor === 'pool' ? median(rates.keyed.map((k, round) => k / rates.raw[round]!)) : Number.NaN,
    };
  }
  await raw.close();
  const rawPerSec = median(rawRounds);
  for (const executor of ['inline', 'pool'] as const) {
    const { keyed, unkeyed, ratio, rawRatio } = lightRates[executor]!;
    rows.push({
      suite: 'keyed',
      metric: `${keys} keys, light nodes, ${executor}, keyed`,
      value: keyed,
      unit: 'firings/s',
      note:
        `${ratio.toFixed(2)}x unkeyed sequential (${Math.round(unkeyed).toLocaleString('en-US')}/s)` +
        (executor === 'pool' ? `; ${rawRatio.toFixed(2)}x raw round trips` : ''),
    });
  }
  rows.push({ suite: 'keyed', metric: 'raw Piscina round trips, back to back', value: rawPerSec, unit: 'trips/s' });

  // --- a quiet key's latency: alone, then beside a backlog, with the workers at the main
  // thread's priority and below it
  const latency: QuietKey[] = [];
  for (const niceIncrement of [0, kQuietNice]) {
    const quiet = await quietKey(threads, budget, niceIncrement);
    latency.push(quiet);
    rows.push(...quietKeyRows(quiet));
  }

  // --- holding idle keys, and restoring them
  const idleKeys = Math.max(1000, Math.round(100_000 * Math.min(1, budget.scale * 2.5)));
  const dir = mkdtempSync(join(tmpdir(), 'cloaca-bench-keyed-'));
  try {
    progress(`keyed: holding ${idleKeys} idle keys`);
    const file = join(dir, 'keys.db');
    let runtime = await keyedRuntime('inline', 1, { keyed: true, node: 'noop', checkpoint: file });
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    await drain(runtime, events(idleKeys, 1, 0));
    await runtime.persisted();
    global.gc?.();
    const bytesPerKey = (process.memoryUsage().heapUsed - before) / idleKeys;
    await runtime.shutdown();
    progress(`keyed: restoring ${idleKeys} keys at start`);
    const start = performance.now();
    runtime = await keyedRuntime('inline', 1, { keyed: true, node: 'noop', checkpoint: file });
    const restoreMs = performance.now() - start;
    const restored = runtime.reactor('keyed_bench').getState().keys ?? 0;
    await runtime.shutdown();
    rows.push(
      {
        suite: 'keyed',
        metric: `${idleKeys.toLocaleString('en-US')} idle keys held`,
        value: bytesPerKey,
        unit: 'heap bytes/key',
        note: global.gc === undefined ? 'without --expose-gc: includes garbage' : '',
      },
      {
        suite: 'keyed',
        metric: `start() restoring ${restored.toLocaleString('en-US')} keys`,
        value: restoreMs,
        unit: 'ms',
      },
    );
    return {
      rows,
      data: {
        threads,
        keys,
        sweep,
        rounds: kRounds,
        light: { events: light.length, ...lightRates, rawPerSec },
        latency,
        idle: { keys: idleKeys, bytesPerKey, restoreMs, restored },
      },
      charts: [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
