/**
 * Runtime suite: events through passthrough -> `when_any` reactor -> 3-node chain graph, on what
 * a service runs: object events (`{ value: i }`), nodes that return new objects
 * (`entry -> add10 -> publish`) and a `fire` listener that reads `outputs.publish.value`.
 *
 * - throughput: as many events as the pipeline takes (a producer that honours backpressure),
 *   for `latest` and `sequential`, on the inline and the pool executor; firings/s next to events/s
 *   (latest collapses bursts, sequential fires every event); the sequential rows again with bare
 *   numbers and no listener, for reference;
 * - the peer of sequential-on-the-pool: back-to-back raw `piscina.run` round trips of the same
 *   object with the same pool settings (firings of one reactor never overlap, so one round trip
 *   per firing bounds it);
 * - latency: a steady 5,000 events/s (sequential, every event fires), push -> fire record,
 *   p50/p99/max, inline and pool.
 */
import { performance } from 'node:perf_hooks';
import {
  ComputationGraphBuilder,
  Runtime,
  passthroughAccumulator,
  reactor,
  type ExecutorKind,
  type FireRecord,
  type RuntimeOptions,
} from 'cloaca';
import { progress, quantile, rate, type Budget, type Row } from '../harness.js';
import { nodesModule, rawPiscina, type SuiteResult } from './shared.js';

export const runtimeSteps = 10;

/** What the pipeline carries: objects with a listener reading them (the headline), or bare numbers. */
export type Payload = 'objects' | 'numbers';

const chains = {
  objects: { entry: { inputs: ['a'], next: 'add10' }, add10: { next: 'publish' }, publish: {} },
  numbers: { step1: { inputs: ['a'], next: 'step2' }, step2: { next: 'step3' }, step3: {} },
} as const;

/**
 * Fewest events of a warm-up: on the 2-core machine a sequential pool pipeline took about 30,000
 * firings to reach its steady rate (three times its first thousand firings' rate).
 */
const kWarmUpEvents = 30_000;

/** What the pipelines' listeners read, summed (reported, so the reading cannot be skipped). */
let checksum = 0;

/** The `i`-th event of a pipeline carrying `payload`. */
export function eventOf(payload: Payload): (i: number) => unknown {
  return payload === 'objects' ? (i) => ({ value: i }) : (i) => i;
}

/**
 * The suite's pipeline, started; `options` adds runtime options (the observability suite's
 * switch). With objects, a `fire` listener reads every firing's output, as a service would.
 */
export async function pipeline(
  strategy: 'latest' | 'sequential',
  executor: ExecutorKind,
  threads: number,
  options: RuntimeOptions = {},
  payload: Payload = 'objects',
) {
  const declaration = reactor({ name: 'bench_reactor', accumulators: ['a'], mode: 'when_any', strategy });
  const graph = await new ComputationGraphBuilder('bench_chain', {
    reactor: declaration,
    nodes: nodesModule,
    graph: chains[payload],
    executor,
  }).build();
  const runtime = new Runtime({ threads, ...options });
  runtime.register(passthroughAccumulator({ name: 'a' }), declaration, graph);
  await runtime.start();
  if (payload === 'objects') {
    runtime.on('fire', (record: FireRecord) => {
      checksum += (record.outputs!.publish as { value: number }).value;
    });
  }
  return runtime;
}

/**
 * Pushes `count` events as fast as accepted; returns events/s and firings/s. As many go first,
 * unmeasured (at least {@link kWarmUpEvents}), so the hot paths are compiled and a pool graph's
 * costs known (it fires in batches only once it is measured light) before the clock starts, as
 * benchmark.js does for the other suites.
 */
async function throughput(
  runtime: Runtime,
  count: number,
  payload: Payload,
): Promise<{ eventsPerSec: number; firingsPerSec: number }> {
  const event = eventOf(payload);
  await produce(runtime, 0, Math.max(count, kWarmUpEvents), event);
  await runtime.idle();
  const before = firingsOf(runtime);
  const start = performance.now();
  await produce(runtime, 0, count, event);
  await runtime.idle();
  const seconds = (performance.now() - start) / 1000;
  return { eventsPerSec: count / seconds, firingsPerSec: (firingsOf(runtime) - before) / seconds };
}

/** Completed firings of the pipeline's reactor. */
export function firingsOf(runtime: Runtime): number {
  return runtime.stats().reactors.bench_reactor!.fires;
}

/** Pushes events `from`..`from + count - 1`, each retried until accepted. */
async function produce(runtime: Runtime, from: number, count: number, event: (i: number) => unknown): Promise<void> {
  for (let i = from; i < from + count; i++) {
    while (!runtime.push('a', event(i))) await runtime.whenWritable('a');
    // Let the loop breathe now and then, as a real producer would.
    if ((i & 4095) === 4095) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Pushes at a steady `perSecond` for `ms`; returns push -> result latency percentiles in ms. */
async function latency(runtime: Runtime, perSecond: number, ms: number) {
  const pushedAt: number[] = [];
  const samples: number[] = [];
  runtime.on('fire', (record: FireRecord) => {
    samples.push(performance.now() - pushedAt[(record.inputs.a as { value: number }).value]!);
  });
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.min(Math.floor((elapsed / 1000) * perSecond), Math.floor((ms / 1000) * perSecond));
      while (pushedAt.length < due) {
        pushedAt.push(performance.now());
        runtime.push('a', { value: pushedAt.length - 1 });
      }
      if (elapsed >= ms) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await runtime.idle();
  return {
    events: pushedAt.length,
    fired: samples.length,
    p50: quantile(samples, 0.5),
    p90: quantile(samples, 0.9),
    p99: quantile(samples, 0.99),
    max: quantile(samples, 1),
  };
}

export async function runtimeSuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const { measureMs, scale } = budget;
  const rows: Row[] = [];
  const data: Record<string, unknown> = { threads };

  // Raw Piscina round trips, back to back, bound a sequential reactor on the pool (its firings
  // never overlap). Round-trip rates swing with how awake the cores are, so the raw peer is
  // measured right before and right after the sequential pool run, and the ratio uses the mean.
  const raw = rawPiscina(threads);
  const rawRates: number[] = [];
  const measureRaw = async (): Promise<void> => {
    progress('runtime: raw piscina.run round trips, back to back');
    rawRates.push(await rate(() => raw.run({ value: 1 }), measureMs / 2));
  };

  const throughputData: Record<string, unknown> = {};
  const cases = [
    { strategy: 'latest', executor: 'inline', payload: 'objects' },
    { strategy: 'latest', executor: 'pool', payload: 'objects' },
    { strategy: 'sequential', executor: 'inline', payload: 'objects' },
    { strategy: 'sequential', executor: 'pool', payload: 'objects' },
    { strategy: 'sequential', executor: 'inline', payload: 'numbers' },
    { strategy: 'sequential', executor: 'pool', payload: 'numbers' },
  ] as const;
  for (const { strategy, executor, payload } of cases) {
    const peer = strategy === 'sequential' && executor === 'pool' && payload === 'objects';
    if (peer) await measureRaw();
    const label = `${strategy}, ${executor}${payload === 'numbers' ? ', numbers without a listener' : ''}`;
    progress(`runtime: ${label}: events through`);
    const runtime = await pipeline(strategy, executor, threads, {}, payload);
    const count = Math.round((executor === 'inline' ? 300_000 : 15_000) * scale);
    const result = await throughput(runtime, count, payload);
    await runtime.shutdown();
    if (peer) await measureRaw();
    throughputData[`${strategy}/${executor}/${payload}`] = { events: count, ...result };
    rows.push({
      suite: 'runtime',
      metric: `${label}: events through`,
      value: result.eventsPerSec,
      unit: 'events/s',
      note: `${Math.round(result.firingsPerSec).toLocaleString('en-US')} firings/s`,
    });
    if (strategy === 'sequential') {
      const note =
        payload === 'numbers'
          ? 'for reference'
          : peer
            ? `${(result.firingsPerSec / mean(rawRates)).toFixed(2)}x raw round trips of the same object (target >= 3x)`
            : 'target >= 1,000,000 firings/s';
      rows.push({
        suite: 'runtime',
        metric: `${label}: firings`,
        value: result.firingsPerSec,
        unit: 'firings/s',
        note,
      });
    }
  }
  await raw.destroy();
  const rawPerSec = mean(rawRates);
  rows.push({
    suite: 'runtime',
    metric: 'raw piscina.run round trips, back to back',
    value: rawPerSec,
    unit: 'runs/s',
    note: `before ${Math.round(rawRates[0]!)}, after ${Math.round(rawRates[1]!)}`,
  });
  data.rawRoundTripsPerSec = rawPerSec;
  data.checksum = checksum;
  data.throughput = throughputData;

  const latencyData: Record<string, Awaited<ReturnType<typeof latency>>> = {};
  for (const executor of ['inline', 'pool'] as const) {
    progress(`runtime: latency at 5,000 events/s, ${executor} executor`);
    const runtime = await pipeline('sequential', executor, threads);
    const result = await latency(runtime, 5000, Math.max(1000, measureMs * 2));
    await runtime.shutdown();
    latencyData[executor] = result;
    const target = executor === 'inline' ? 1 : 3;
    rows.push(
      { suite: 'latency', metric: `5,000 events/s, ${executor}: p50`, value: result.p50, unit: 'ms' },
      {
        suite: 'latency',
        metric: `5,000 events/s, ${executor}: p99`,
        value: result.p99,
        unit: 'ms',
        note: `target <= ${target} ms; max ${result.max.toFixed(2)} ms; ${result.fired}/${result.events} fired`,
      },
    );
  }
  data.latency = latencyData;
  const series = (['inline', 'pool'] as const).map((executor) => {
    const l = latencyData[executor] as Awaited<ReturnType<typeof latency>>;
    return {
      name: executor,
      points: [
        [50, l.p50],
        [90, l.p90],
        [99, l.p99],
        [100, l.max],
      ] as Array<readonly [number, number]>,
    };
  });
  return {
    rows,
    data,
    charts: [
      {
        name: 'runtime-latency',
        chart: {
          title: 'Push -> fire record latency at 5,000 events/s (sequential)',
          xLabel: 'percentile (100 = max)',
          yLabel: 'ms',
          logY: true,
          series,
        },
      },
    ],
  };
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}
