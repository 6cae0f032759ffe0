/**
 * `GET /metrics`: the runtime's figures in the Prometheus text format, through a prom-client
 * registry of the server's own (nothing is added to prom-client's global registry).
 *
 * Nothing here runs on the runtime's hot paths: the runtime keeps plain counters and its own
 * typed-array histograms (`src/runtime/latency-histogram.ts`, a few ns per observation, where a
 * prom-client histogram costs about 250 ns), and every metric below is filled from one
 * `runtime.inspect()` taken when the scrape starts. Counters and gauges are prom-client's, set
 * by their `collect()`; histograms are exported by {@link HistogramExport}, which hands the
 * registry the bucket series prom-client's own histograms would (`_bucket{le}`, `_sum`,
 * `_count`), read from the runtime's buckets: the `le` edges are powers of two of
 * milliseconds, which are exact edges of those buckets.
 *
 * Labels are bounded: accumulator, reactor, graph and node names come from registrations,
 * states and kinds are enumerations, and nothing is labelled per event.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { AccumulatorHealth, ReactorHealth } from '../model/health.js';
import type { LatencyHistogramView } from '../runtime/latency-histogram.js';
import type { RuntimeReport } from '../runtime/report.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Recent } from './sampler.js';

/** Histogram bucket edges: 2^-4 ms (62.5 µs) to 2^15 ms (32.8 s), doubling. */
const kEdgesMs = Array.from({ length: 20 }, (_, k) => 2 ** (k - 4));
const kLe = kEdgesMs.map((ms) => String(ms / 1000));

/** What the WebSocket endpoints count, by kind (`accumulator`, `reactor`, `dashboard`). */
export interface SocketCounts {
  readonly active: ReadonlyMap<string, number>;
  readonly messages: ReadonlyMap<string, number>;
}

type Labels = Record<string, string>;
type Series = Array<{ labels: Labels; histogram: LatencyHistogramView }>;

/** A histogram whose buckets are read from a runtime histogram at scrape time. */
class HistogramExport {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #read: () => Series;

  constructor(name: string, help: string, read: () => Series) {
    this.name = name;
    this.help = help;
    this.#read = read;
  }

  async get() {
    const values: Array<{ metricName: string; labels: Labels; value: number }> = [];
    for (const { labels, histogram } of this.#read()) {
      const below = histogram.countsBelow(kEdgesMs);
      for (let k = 0; k < kLe.length; k++) {
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: kLe[k]! }, value: below[k]! });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: histogram.sum / 1000 });
      values.push({ metricName: `${this.name}_count`, labels, value: histogram.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class OpsMetrics {
  readonly registry = new Registry();
  readonly #runtime: Runtime;
  #report: RuntimeReport | null = null;

  constructor(runtime: Runtime, recent: () => Recent, sockets: SocketCounts) {
    this.#runtime = runtime;
    const report = (): RuntimeReport => (this.#report ??= this.#runtime.inspect());
    const registers = [this.registry];
    const counter = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (inc: (l: Labels, v: number) => void) => void,
    ) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill((labels, value) => this.inc(labels, value));
        },
      });
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (set: (l: Labels, v: number) => void) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill((labels, value) => this.set(labels, value));
        },
      });
    const histogram = (name: string, help: string, read: () => Series) =>
      this.registry.registerMetric(new HistogramExport(name, help, read) as unknown as Metric);

    // --- accumulators
    counter(
      'cloaca_accumulator_events_total',
      'Events offered to an accumulator (pushed, received, polled).',
      ['accumulator'],
      (inc) => {
        for (const a of report().accumulators) inc({ accumulator: a.name }, a.events);
      },
    );
    counter(
      'cloaca_accumulator_failures_total',
      'Events an accumulator dropped because processing threw, and stream backend failures.',
      ['accumulator'],
      (inc) => {
        for (const a of report().accumulators) inc({ accumulator: a.name }, a.failures);
      },
    );
    counter(
      'cloaca_accumulator_refused_total',
      'Pushes refused for backpressure (not accepted; the producer retries).',
      ['accumulator'],
      (inc) => {
        for (const a of report().accumulators) inc({ accumulator: a.name }, a.refused);
      },
    );
    gauge(
      'cloaca_accumulator_buffer_depth',
      "Events accepted and not yet fired: the accumulator's own buffer plus the deepest sequential queue it feeds.",
      ['accumulator'],
      (set) => {
        for (const a of report().accumulators) set({ accumulator: a.name }, a.bufferDepth);
      },
    );
    gauge(
      'cloaca_accumulator_buffer_capacity',
      'The buffer depth at which pushes are refused (bounded accumulators only).',
      ['accumulator'],
      (set) => {
        for (const a of report().accumulators)
          if (a.bufferCapacity !== null) set({ accumulator: a.name }, a.bufferCapacity);
      },
    );
    gauge(
      'cloaca_accumulator_last_event_timestamp_seconds',
      'When the accumulator last delivered a boundary (Unix time).',
      ['accumulator'],
      (set) => {
        for (const a of report().accumulators)
          if (a.lastEventAt !== null) set({ accumulator: a.name }, a.lastEventAt / 1000);
      },
    );
    gauge(
      'cloaca_stream_lag',
      "Messages published to a stream accumulator's topic and not yet received (when the backend can tell).",
      ['accumulator'],
      (set) => {
        for (const a of report().accumulators) if (a.lag !== null) set({ accumulator: a.name }, a.lag);
      },
    );

    // --- reactors and graphs
    counter(
      'cloaca_reactor_fires_total',
      "Graph runs of a reactor's firings, by outcome.",
      ['reactor', 'graph', 'ok'],
      (inc) => {
        for (const g of report().graphs) {
          inc({ reactor: g.reactor, graph: g.name, ok: 'true' }, g.fires - g.failures);
          inc({ reactor: g.reactor, graph: g.name, ok: 'false' }, g.failures);
        }
      },
    );
    histogram('cloaca_reactor_fire_duration_seconds', "From a firing's start to the end of one of its graphs.", () =>
      report().graphs.map((g) => ({ labels: { reactor: g.reactor, graph: g.name }, histogram: g.fireDuration })),
    );
    histogram(
      'cloaca_node_duration_seconds',
      "A node's run time, measured where it ran (a worker thread or the main thread).",
      () =>
        report().graphs.flatMap((g) =>
          Object.entries(g.nodeDuration).map(([node, histogram]) => ({ labels: { graph: g.name, node }, histogram })),
        ),
    );
    gauge('cloaca_reactor_queued', 'Sequential boundaries waiting to fire.', ['reactor'], (set) => {
      for (const r of report().reactors) set({ reactor: r.name }, r.queued);
    });
    gauge('cloaca_reactor_keys', 'Keys a keyed reactor holds.', ['reactor'], (set) => {
      for (const r of report().reactors) if (r.keys !== null) set({ reactor: r.name }, r.keys);
    });
    gauge('cloaca_reactor_paused', '1 while the reactor is paused.', ['reactor'], (set) => {
      for (const r of report().reactors) set({ reactor: r.name }, r.paused ? 1 : 0);
    });
    gauge(
      'cloaca_reactor_last_fire_timestamp_seconds',
      "When the reactor's last firing started (Unix time).",
      ['reactor'],
      (set) => {
        for (const r of report().reactors) if (r.lastFiredAt !== null) set({ reactor: r.name }, r.lastFiredAt / 1000);
      },
    );
    gauge(
      'cloaca_component_health',
      '1 for the state each accumulator and reactor is in, 0 for the others.',
      ['kind', 'name', 'state'],
      (set) => {
        const { accumulators, reactors } = report();
        for (const a of accumulators) {
          for (const state of Object.values(AccumulatorHealth))
            set({ kind: 'accumulator', name: a.name, state }, a.health === state ? 1 : 0);
        }
        for (const r of reactors) {
          for (const state of Object.values(ReactorHealth))
            set({ kind: 'reactor', name: r.name, state }, r.health === state ? 1 : 0);
        }
      },
    );

    // --- the pool
    gauge('cloaca_pool_threads', "Worker threads of the runtime's pool.", [], (set) => {
      const pool = report().pool;
      if (pool !== null) set({}, pool.threads);
    });
    gauge('cloaca_pool_tasks_in_flight', "Units running on the pool's threads.", [], (set) =>
      set({}, report().pool?.inFlight ?? 0),
    );
    gauge('cloaca_pool_queue_depth', 'Units ready and waiting for a thread.', [], (set) =>
      set({}, report().pool?.queued ?? 0),
    );
    counter('cloaca_pool_tasks_completed_total', 'Units the pool finished.', [], (inc) =>
      inc({}, report().pool?.completed ?? 0),
    );
    counter(
      'cloaca_pool_busy_seconds_total',
      "Time nodes spent running on the pool's threads (rate / threads = utilisation).",
      [],
      (inc) => inc({}, (report().pool?.busyMs ?? 0) / 1000),
    );
    gauge(
      'cloaca_pool_utilization',
      "Share of the pool's thread time spent running nodes over the last ten seconds, 0 to 1.",
      [],
      (set) => {
        const utilisation = recent().poolUtilisation;
        if (utilisation !== null) set({}, utilisation);
      },
    );

    // --- checkpoint, runtime, server
    histogram(
      'cloaca_checkpoint_commit_duration_seconds',
      'How long each checkpoint commit (one transaction) took.',
      () => {
        const commits = report().checkpointCommits;
        return commits === null ? [] : [{ labels: {}, histogram: commits }];
      },
    );
    gauge('cloaca_runtime_state', '1 for the state the runtime is in.', ['state'], (set) => {
      const state = report().state;
      for (const s of ['created', 'started', 'stopping', 'stopped']) set({ state: s }, s === state ? 1 : 0);
    });
    gauge('cloaca_ws_connections_active', 'Open WebSocket connections, by endpoint kind.', ['kind'], (set) => {
      for (const [kind, n] of sockets.active) set({ kind }, n);
    });
    counter('cloaca_ws_messages_total', 'WebSocket messages received, by endpoint kind.', ['kind'], (inc) => {
      for (const [kind, n] of sockets.messages) inc({ kind }, n);
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, from one fresh `runtime.inspect()`. */
  async text(): Promise<string> {
    this.#report = null;
    try {
      return await this.registry.metrics();
    } finally {
      this.#report = null;
    }
  }
}
