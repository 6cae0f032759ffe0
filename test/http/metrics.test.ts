/**
 * `GET /metrics`: the Prometheus names of contract section 9 and the operator's extras (node
 * durations per graph and node, pool queue depth and utilisation, checkpoint commit latency,
 * refused pushes, stream lag), histogram series that add up, bounded labels; and the runtime's
 * own latency histogram, read through `runtime.inspect()`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchAccumulator, passthroughAccumulator, reactor, streamAccumulator, type Runtime } from 'cloaca';
import { LatencyHistogram } from '../../dist/src/runtime/latency-histogram.js';
import { executors, unique, useRuntimes, type ExecutorName } from '../runtime/support.js';
import { Client, http, useServers, wsUrl } from './support.js';

const nodes = fileURLToPath(new URL('./fixtures/ops.nodes.mjs', import.meta.url));
const { runtime, graph, tmp } = useRuntimes();
const ops = useServers();

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The samples of an exposition, and the TYPE of each metric family. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { samples, types };
}

async function scrape(url: string) {
  const answer = await http(url, 'GET', '/metrics');
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(answer.text);
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** passthrough `a` + stream `s` -> sequential reactor -> decide -> big | small; optional checkpoint. */
async function pipeline(
  executor: ExecutorName,
  checkpoint?: string,
): Promise<{ rt: Runtime; a: string; s: string; topic: string; name: string; g: string }> {
  const a = unique('a');
  const s = unique('s');
  const topic = unique('topic');
  const name = unique('r');
  const R = reactor({ name, accumulators: [a, s], strategy: 'sequential' });
  // On the default pool, which the runtime replaces with its own: the pool it reports on.
  const built = await graph(
    unique('g'),
    executor,
    {
      nodes,
      reactor: R,
      graph: { decide: { inputs: [a, s], routes: { Big: 'big', Small: 'small' } }, big: {}, small: {} },
    },
    { sharedPool: true },
  );
  const rt = runtime({ queueCapacity: 50, ...(checkpoint === undefined ? {} : { checkpoint }) });
  rt.register(
    passthroughAccumulator({ name: a }),
    streamAccumulator({ name: s, type: 'memory', topic, group: 'metrics' }),
    R,
    built,
  );
  await rt.start();
  return { rt, a, s, topic, name, g: built.name };
}

describe.each(executors)('%s executor', (executor: ExecutorName) => {
  it('exports the contract names with their labels, and the operator extras', async () => {
    const { rt, a, s, name, g } = await pipeline(executor, join(tmp(), 'metrics.db'));
    const server = await ops(rt);
    const dashboard = new Client(wsUrl(server.url, '/v1/ws/dashboard'));
    await dashboard.next((m) => m.type === 'update');
    for (let i = 0; i < 20; i++) rt.push(a, { value: i });
    await rt.idle();
    await rt.persisted();
    rt.reactor(name).pause();
    let refused = 0;
    for (let i = 0; refused === 0; i++) if (!rt.push(a, { value: i })) refused++;

    const { samples, types } = await scrape(server.url);
    for (const family of types.keys()) expect(family).toMatch(/^cloaca_/);
    expect(value(samples, 'cloaca_accumulator_events_total', { accumulator: a })).toBe(70);
    expect(value(samples, 'cloaca_accumulator_events_total', { accumulator: s })).toBe(0);
    expect(value(samples, 'cloaca_accumulator_buffer_depth', { accumulator: a })).toBe(50);
    expect(value(samples, 'cloaca_accumulator_buffer_capacity', { accumulator: a })).toBe(50);
    expect(value(samples, 'cloaca_accumulator_refused_total', { accumulator: a })).toBe(1);
    expect(value(samples, 'cloaca_reactor_fires_total', { reactor: name, graph: g, ok: 'true' })).toBe(20);
    expect(value(samples, 'cloaca_reactor_fires_total', { reactor: name, graph: g, ok: 'false' })).toBe(0);
    expect(value(samples, 'cloaca_reactor_queued', { reactor: name })).toBe(50);
    expect(value(samples, 'cloaca_reactor_paused', { reactor: name })).toBe(1);
    expect(value(samples, 'cloaca_component_health', { kind: 'reactor', name, state: 'live' })).toBe(1);
    expect(value(samples, 'cloaca_component_health', { kind: 'reactor', name, state: 'warming' })).toBe(0);
    expect(value(samples, 'cloaca_component_health', { kind: 'accumulator', name: s, state: 'live' })).toBe(1);
    expect(value(samples, 'cloaca_component_health', { kind: 'accumulator', name: a, state: 'socket_only' })).toBe(1);
    expect(value(samples, 'cloaca_stream_lag', { accumulator: s })).toBe(0);
    expect(value(samples, 'cloaca_pool_tasks_in_flight')).toBe(0);
    expect(value(samples, 'cloaca_ws_connections_active', { kind: 'dashboard' })).toBe(1);
    expect(value(samples, 'cloaca_runtime_state', { state: 'started' })).toBe(1);
    expect(types.get('cloaca_reactor_fire_duration_seconds')).toBe('histogram');
    // Fast firings are timed in a sample (the first always); the firings timed have every node timed.
    const timed = value(samples, 'cloaca_reactor_fire_duration_seconds_count', { reactor: name, graph: g })!;
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThanOrEqual(20);
    expect(value(samples, 'cloaca_node_duration_seconds_count', { graph: g, node: 'decide' })).toBe(timed);
    const routed =
      (value(samples, 'cloaca_node_duration_seconds_count', { graph: g, node: 'big' }) ?? 0) +
      (value(samples, 'cloaca_node_duration_seconds_count', { graph: g, node: 'small' }) ?? 0);
    expect(routed).toBe(timed);
    expect(value(samples, 'cloaca_checkpoint_commit_duration_seconds_count')).toBeGreaterThan(0);
    if (executor === 'pool') {
      expect(value(samples, 'cloaca_pool_threads')).toBe(2);
      expect(value(samples, 'cloaca_pool_queue_depth')).toBe(0);
      expect(value(samples, 'cloaca_pool_tasks_completed_total')).toBeGreaterThanOrEqual(20);
      expect(value(samples, 'cloaca_pool_busy_seconds_total')).toBeGreaterThan(0);
      expect(types.get('cloaca_pool_utilization')).toBe('gauge');
    }
    dashboard.close();
  });

  it('histogram series add up: cumulative buckets, +Inf equals the count, labels stay bounded as events grow', async () => {
    const { rt, a, g } = await pipeline(executor);
    const server = await ops(rt);
    rt.push(a, { value: 1 });
    await rt.idle();
    const first = await scrape(server.url);
    for (let i = 0; i < 500; i++) {
      while (!rt.push(a, { value: i % 20 })) await rt.whenWritable(a);
    }
    await rt.idle();
    const second = await scrape(server.url);
    const series = (samples: Sample[]) => new Set(samples.map((x) => `${x.name}${JSON.stringify(x.labels)}`));
    expect(series(second.samples)).toStrictEqual(series(first.samples));

    const buckets = second.samples.filter(
      (x) => x.name === 'cloaca_node_duration_seconds_bucket' && x.labels.graph === g && x.labels.node === 'decide',
    );
    expect(buckets.length).toBe(21);
    const les = buckets.map((b) => b.labels.le!);
    expect(les.at(-1)).toBe('+Inf');
    expect(les.slice(0, -1).map(Number)).toStrictEqual([...les.slice(0, -1).map(Number)].sort((x, y) => x - y));
    for (let k = 1; k < buckets.length; k++) expect(buckets[k]!.value).toBeGreaterThanOrEqual(buckets[k - 1]!.value);
    const count = value(second.samples, 'cloaca_node_duration_seconds_count', { graph: g, node: 'decide' })!;
    expect(buckets.at(-1)!.value).toBe(count);
    // 500 firings back to back are timed in a sample; the count of firings stays exact.
    expect(count).toBeGreaterThan(1);
    expect(count).toBeLessThanOrEqual(501);
    const fires = second.samples.filter((x) => x.name === 'cloaca_reactor_fires_total' && x.labels.graph === g);
    expect(fires.reduce((sum, x) => sum + x.value, 0)).toBe(501);
    expect(value(second.samples, 'cloaca_node_duration_seconds_sum', { graph: g, node: 'decide' })).toBeGreaterThan(0);
  });
});

describe('the runtime keeps its own figures', () => {
  it('inspect() reports per-graph and per-node histograms, last times and buffer depths; metrics: false keeps none', async () => {
    const a = unique('a');
    const name = unique('r');
    const R = reactor({ name, accumulators: [a] });
    const g = await graph(unique('g'), 'inline', { nodes, reactor: R, graph: { seen: { inputs: [a] } } });
    const rt = runtime();
    rt.register(batchAccumulator({ name: a, maxBufferSize: 3 }), R, g);
    await rt.start();
    rt.push(a, { n: 1 });
    let report = rt.inspect();
    expect(report.accumulators[0]).toMatchObject({ kind: 'batch', bufferDepth: 1, bufferCapacity: 3 });
    // Stamped (to the second) once the accumulator's event count moved.
    expect(report.accumulators[0]!.lastEventAt).toBeGreaterThan(Date.now() - 60_000);
    rt.push(a, { n: 2 });
    rt.push(a, { n: 3 }); // the third flushes the batch
    await rt.idle();
    report = rt.inspect();
    expect(report.metrics).toBe(true);
    expect(report.accumulators[0]!.bufferDepth).toBe(0);
    expect(report.accumulators[0]!.lastEventAt).toBeGreaterThan(Date.now() - 60_000);
    expect(report.graphs[0]!.fireDuration.count).toBe(1);
    expect(report.graphs[0]!.nodeDuration.seen!.count).toBe(1);
    expect(report.reactors[0]!.lastFiredAt).toBe(report.graphs[0]!.lastFiredAt);
    expect(rt.recentFires(name)).toStrictEqual([
      {
        reactor: name,
        graph: g.name,
        ok: true,
        error: null,
        manual: false,
        durationMs: expect.any(Number),
        firedAt: expect.any(Number),
      },
    ]);
    expect(() => rt.recentFires('nope')).toThrow(/no reactor named 'nope'/);

    const quiet = runtime({ metrics: false });
    const b = unique('b');
    const Q = reactor({ name: unique('q'), accumulators: [b] });
    quiet.register(
      passthroughAccumulator({ name: b }),
      Q,
      await graph(unique('g'), 'inline', { nodes, reactor: Q, graph: { seen: { inputs: [b] } } }),
    );
    await quiet.start();
    quiet.push(b, { n: 1 });
    await quiet.idle();
    const silent = quiet.inspect();
    expect(silent.metrics).toBe(false);
    expect(silent.graphs[0]!.fireDuration.count).toBe(0);
    expect(silent.accumulators[0]!.lastEventAt).toBeNull();
    expect(quiet.recentFires(Q.name)).toStrictEqual([]);
    expect(silent.reactors[0]!.fires).toBe(1);
  });

  it('LatencyHistogram: quantiles within 6% of the truth, exact counts below powers of two, deltas since a snapshot', () => {
    const histogram = new LatencyHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => 0.01 * 1.001 ** i); // 0.01 ms .. ~220 ms
    for (const v of values) histogram.record(v);
    const sorted = [...values].sort((x, y) => x - y);
    for (const q of [0.01, 0.5, 0.9, 0.99, 0.999]) {
      const truth = sorted[Math.ceil(q * sorted.length) - 1]!;
      expect(Math.abs(histogram.quantile(q) - truth) / truth).toBeLessThan(0.0625);
    }
    const edges = [0.0625, 1, 2, 64, 128];
    expect(histogram.countsBelow(edges)).toStrictEqual(edges.map((e) => values.filter((v) => v < e).length));
    expect(histogram.count).toBe(10_000);
    expect(histogram.sum).toBeCloseTo(
      values.reduce((x, y) => x + y, 0),
      6,
    );

    const before = histogram.snapshot();
    for (let i = 0; i < 100; i++) histogram.record(500);
    expect(Math.abs(histogram.quantileSince(before, 0.5) - 500) / 500).toBeLessThan(0.0625);
    expect(Number.isNaN(new LatencyHistogram().quantile(0.5))).toBe(true);
    const edge = new LatencyHistogram();
    for (const v of [0, -1, Number.NaN, 1e-9, 1e12]) edge.record(v);
    expect(edge.count).toBe(5);
    expect(edge.countsBelow([2 ** -10])).toStrictEqual([4]);
  });
});
