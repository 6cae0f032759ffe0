/**
 * Runtime suite: events through passthrough -> `when_any` reactor -> 3-node chain graph.
 *
 * - throughput: as many events as the pipeline takes (a producer that honours backpressure),
 *   for `latest` and `sequential`, on the inline and the pool executor; firings/s next to events/s
 *   (latest collapses bursts, sequential fires every event);
 * - the peer of sequential-on-the-pool: back-to-back raw `piscina.run` round trips of the same
 *   function with the same pool settings (firings of one reactor never overlap, so one round trip
 *   per firing bounds it);
 * - latency: a steady 5,000 events/s (sequential, every event fires), push -> fire record,
 *   p50/p99/max, inline and pool.
 */
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { ComputationGraphBuilder, Runtime, passthroughAccumulator, reactor, type ExecutorKind, type FireRecord } from 'cloaca';
import { rate, type Row } from '../harness.js';
import type { SuiteOptions } from './engine.js';

const nodesModule = new URL('../nodes/work.nodes.js', import.meta.url);
const rawWorker = new URL('../nodes/raw-worker.js', import.meta.url);
const chain = { step1: { inputs: ['a'], next: 'step2' }, step2: { next: 'step3' }, step3: {} };

async function pipeline(strategy: 'latest' | 'sequential', executor: ExecutorKind, threads: number) {
  const declaration = reactor({ name: 'bench_reactor', accumulators: ['a'], mode: 'when_any', strategy });
  const graph = await new ComputationGraphBuilder('bench_chain', { reactor: declaration, nodes: nodesModule, graph: chain, executor }).build();
  const runtime = new Runtime({ threads });
  runtime.register(passthroughAccumulator({ name: 'a' }), declaration, graph);
  await runtime.start();
  return runtime;
}

/** Pushes `count` events as fast as accepted; returns events/s and firings/s. */
async function throughput(runtime: Runtime, count: number): Promise<{ eventsPerSec: number; firingsPerSec: number }> {
  let firings = 0;
  runtime.on('fire', () => firings++);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    while (!runtime.push('a', i)) await runtime.whenWritable('a');
    // Let the loop breathe now and then, as a real producer would.
    if ((i & 4095) === 4095) await new Promise((resolve) => setImmediate(resolve));
  }
  await runtime.idle();
  const seconds = (performance.now() - start) / 1000;
  return { eventsPerSec: count / seconds, firingsPerSec: firings / seconds };
}

/** Pushes at a steady `perSecond` for `ms`; returns push -> result latency percentiles in ms. */
async function latency(runtime: Runtime, perSecond: number, ms: number) {
  const pushedAt: number[] = [];
  const samples: number[] = [];
  runtime.on('fire', (record: FireRecord) => {
    samples.push(performance.now() - pushedAt[record.inputs.a as number]!);
  });
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.min(Math.floor((elapsed / 1000) * perSecond), Math.floor((ms / 1000) * perSecond));
      while (pushedAt.length < due) {
        pushedAt.push(performance.now());
        runtime.push('a', pushedAt.length - 1);
      }
      if (elapsed >= ms) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await runtime.idle();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { events: pushedAt.length, fired: samples.length, p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1]! };
}

export async function runtimeSuite(options: SuiteOptions): Promise<{ rows: Row[]; data: Record<string, unknown> }> {
  const { threads, measureMs } = options;
  const rows: Row[] = [];
  const data: Record<string, unknown> = { threads };
  const scale = measureMs / 1500;

  // Raw Piscina round trips, back to back: the bound of a sequential reactor on the pool.
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
  const rawPerSec = await rate(() => raw.run(1), measureMs);
  await raw.destroy();
  rows.push({ suite: 'runtime', metric: 'raw piscina.run round trips, back to back', value: rawPerSec, unit: 'runs/s' });

  const throughputData: Record<string, unknown> = {};
  for (const strategy of ['latest', 'sequential'] as const) {
    for (const executor of ['inline', 'pool'] as const) {
      const runtime = await pipeline(strategy, executor, threads);
      const count = Math.round((executor === 'inline' ? 300_000 : 15_000) * scale);
      const result = await throughput(runtime, count);
      await runtime.shutdown();
      throughputData[`${strategy}/${executor}`] = { events: count, ...result };
      const note =
        strategy === 'sequential' && executor === 'pool'
          ? `${(result.firingsPerSec / rawPerSec).toFixed(2)}x raw round trips (target >= 0.7x)`
          : strategy === 'sequential' && executor === 'inline'
            ? 'target >= 200,000 firings/s'
            : `${Math.round(result.firingsPerSec).toLocaleString('en-US')} firings/s`;
      rows.push({ suite: 'runtime', metric: `${strategy}, ${executor}: events through`, value: result.eventsPerSec, unit: 'events/s', note });
      if (strategy === 'sequential') {
        rows.push({ suite: 'runtime', metric: `${strategy}, ${executor}: firings`, value: result.firingsPerSec, unit: 'firings/s' });
      }
    }
  }
  data.rawRoundTripsPerSec = rawPerSec;
  data.throughput = throughputData;

  const latencyData: Record<string, unknown> = {};
  for (const executor of ['inline', 'pool'] as const) {
    const runtime = await pipeline('sequential', executor, threads);
    const result = await latency(runtime, 5000, Math.max(1000, measureMs * 2));
    await runtime.shutdown();
    latencyData[executor] = result;
    const target = executor === 'inline' ? 1 : 3;
    rows.push(
      { suite: 'latency', metric: `5,000 events/s, ${executor}: p50`, value: result.p50, unit: 'ms' },
      { suite: 'latency', metric: `5,000 events/s, ${executor}: p99`, value: result.p99, unit: 'ms', note: `target <= ${target} ms; max ${result.max.toFixed(2)} ms; ${result.fired}/${result.events} fired` },
    );
  }
  data.latency = latencyData;
  return { rows, data };
}
