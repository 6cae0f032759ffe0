/**
 * The market-maker pipeline: a built-in event generator feeds three accumulators (a passthrough
 * of alpha ticks, a stream of order-book estimates on an in-process `memory` topic, a batch of
 * fills), a `when_any`/`latest` reactor fires the market-maker graph of Cloacina's API example on the worker pool,
 * and the runtime checkpoints to a local SQLite file. Prints a status line every second and a
 * summary at the end, also when stopped early with Ctrl-C or SIGTERM (the runtime drains,
 * delivers the last batch of fills, persists and closes before the process exits).
 *
 *     npm start -- [--duration 10] [--rate 3000] [--executor pool|inline] [--threads N]
 *                  [--checkpoint FILE] [--port 8080] [--no-serve]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import {
  ComputationGraphBuilder,
  Runtime,
  batchAccumulator,
  memoryBroker,
  passthroughAccumulator,
  reactor,
  streamAccumulator,
  type FireRecord,
} from 'cloaca';
import { serve } from 'cloaca/http';
import type { FillSummary } from './market-maker.nodes.js';

const usage = `usage: npm start -- [options]

Runs the market-maker pipeline on generated events and serves its dashboard.

options:
  --duration SECONDS      how long to run                                   default 10
  --rate EVENTS_PER_S     events generated per second                       default 3000
  --executor pool|inline  where the graph's nodes run                       default pool
  --threads N             worker threads of the pool                        default: all cores
  --checkpoint FILE       SQLite checkpoint file                            default market-maker.db
  --port N                ops server and dashboard port (0: a free one)     default 8080
  --no-serve              run without the ops server
  -h, --help              this help`;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '10' },
        rate: { type: 'string', default: '3000' },
        executor: { type: 'string', default: 'pool' },
        threads: { type: 'string' },
        checkpoint: { type: 'string', default: 'market-maker.db' },
        port: { type: 'string', default: '8080' },
        'no-serve': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const durationS = Number(values.duration);
const rate = Number(values.rate);
const executor = values.executor;
const port = Number(values.port);
if (
  !(durationS > 0) ||
  !(rate > 0) ||
  (executor !== 'pool' && executor !== 'inline') ||
  !Number.isInteger(port) ||
  port < 0 ||
  port > 65535
) {
  console.error(usage);
  process.exit(2);
}

/** Epoch milliseconds with sub-millisecond precision, comparable across threads. */
const now = (): number => performance.timeOrigin + performance.now();

const MarketMakerReactor = reactor({
  name: 'market_maker_reactor',
  accumulators: ['alpha', 'beta', 'fills'],
  mode: 'when_any',
  strategy: 'latest',
});

const graph = await new ComputationGraphBuilder('market_maker', {
  reactor: MarketMakerReactor,
  nodes: new URL('./market-maker.nodes.js', import.meta.url),
  graph: {
    decision: { inputs: ['alpha', 'beta', 'fills'], routes: { Signal: 'signal_handler', NoAction: 'audit_logger' } },
    signal_handler: {},
    audit_logger: {},
  },
  executor,
}).build();

const topic = memoryBroker.topic('orderbook');
const runtime = new Runtime({
  checkpoint: values.checkpoint,
  ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
});
runtime.register(
  passthroughAccumulator({ name: 'alpha' }),
  streamAccumulator({ name: 'beta', type: 'memory', topic: 'orderbook', group: 'market_maker' }),
  batchAccumulator<{ qty: number; at: number }, FillSummary>({
    name: 'fills',
    flushInterval: '250ms',
    maxBufferSize: 100,
    process: (fills) => ({
      count: fills.length,
      net: fills.reduce((sum, f) => sum + f.qty, 0),
      at: fills[fills.length - 1]!.at,
    }),
  }),
  MarketMakerReactor,
  graph,
);

// --- measurements ------------------------------------------------------------------------------
let generated = 0;
let refused = 0;
let firings = 0;
let failures = 0;
const routes = { signal_handler: 0, audit_logger: 0 };
let window: number[] = [];
const all: number[] = [];
runtime.on('fire', (record: FireRecord) => {
  firings++;
  if (!record.ok) {
    failures++;
    return;
  }
  const [terminal, output] = Object.entries(record.outputs!)[0] as [keyof typeof routes, { at: number }];
  routes[terminal]++;
  const latency = now() - output.at;
  window.push(latency);
  all.push(latency);
});
runtime.on('error', (error) => console.error(`\nerror: ${error.message}`));

await runtime.start();
const ops = values['no-serve']
  ? null
  : await serve(runtime, { port }).catch(async (error: unknown) => {
      console.error(`${error instanceof Error ? error.message : String(error)} (try --port 0, or --no-serve)`);
      await runtime.shutdown();
      process.exit(1);
    });
console.log(
  `market maker: ${rate} events/s for ${durationS} s, ${executor} executor${executor === 'pool' ? ` (${runtime.threads} threads)` : ''}, checkpoint ${values.checkpoint}`,
);
if (ops !== null) console.log(`dashboard: ${ops.url}/  (metrics: ${ops.url}/metrics)`);

// --- the event generator: alpha ticks, order-book messages and fills, round robin ---------------
const started = performance.now();
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  for (; generated < due; generated++) {
    const at = now();
    const accepted =
      generated % 3 === 0
        ? runtime.push('alpha', { value: Math.round(Math.random() * 12), at })
        : generated % 3 === 1
          ? topic.publish({ estimate: Math.round(Math.random() * 6), at })
          : runtime.push('fills', { qty: Math.round(Math.random() * 20 - 10), at });
    if (!accepted) refused++;
  }
}, 1);

let lastFirings = 0;
let lastGenerated = 0;
const status = setInterval(() => {
  const health = runtime.reactor('market_maker_reactor').getState().health;
  const line =
    `t=${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s  events/s=${String(generated - lastGenerated).padStart(6)}` +
    `  firings/s=${String(firings - lastFirings).padStart(6)}  p50=${fmt(percentile(window, 0.5))}  p99=${fmt(percentile(window, 0.99))}  health=${health}`;
  lastFirings = firings;
  lastGenerated = generated;
  window = [];
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else console.log(line);
}, 1000);

// The generator stops the moment the runtime starts stopping, whether the run ended or a signal
// came: a stopping runtime accepts no more pushes.
const stopped = new Promise<void>((resolve) =>
  runtime.on('state', (state) => {
    if (state !== 'stopping') return;
    clearInterval(timer);
    clearInterval(status);
    resolve();
  }),
);
runtime.shutdownOnSignals();
const run = setTimeout(() => void runtime.shutdown(), durationS * 1000);
await stopped;
clearTimeout(run);
// The same shutdown whether the duration ran out or a signal came; the signal handler exits the
// process only after this summary is printed.
await runtime.shutdown();
const elapsed = (performance.now() - started) / 1000;

console.log(`${process.stdout.isTTY ? '\n' : ''}\nsummary`);
console.log(
  `  events generated   ${generated} (${Math.round(generated / elapsed)}/s), refused by backpressure ${refused}`,
);
console.log(
  `  firings            ${firings} (${Math.round(firings / elapsed)}/s), failed ${failures}; latest strategy collapses bursts`,
);
console.log(`  routes             signal_handler ${routes.signal_handler}, audit_logger ${routes.audit_logger}`);
console.log(
  `  latency            p50 ${fmt(percentile(all, 0.5))}  p90 ${fmt(percentile(all, 0.9))}  p99 ${fmt(percentile(all, 0.99))}  max ${fmt(percentile(all, 1))} (event generated -> graph result)`,
);
console.log(`  checkpoint         ${values.checkpoint} (cache and batch buffer restored on the next run)`);
await ops?.close();

function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? '   -   ' : `${ms.toFixed(2)}ms`;
}
