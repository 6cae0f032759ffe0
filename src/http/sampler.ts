/**
 * Recent figures for the dashboard and the pool utilisation gauge: once a second the sampler
 * reads `runtime.inspect()` and keeps the last few readings (counters and histogram snapshots),
 * so rates and "recent p50/p99" are differences between the newest reading and one about ten
 * seconds older. Nothing is added to the runtime's hot paths.
 */
import type { RuntimeReport } from '../runtime/report.js';
import type { Runtime } from '../runtime/runtime.js';

/** Readings kept: the window is this many intervals. */
const kWindow = 10;

interface Reading {
  readonly at: number;
  readonly report: RuntimeReport;
  readonly events: ReadonlyMap<string, number>;
  readonly fires: ReadonlyMap<string, number>;
  /** Per reactor: a snapshot of each bound graph's fire-duration histogram. */
  readonly durations: ReadonlyMap<string, ReadonlyMap<string, Float64Array>>;
  readonly busyMs: number;
}

/** Rates and latencies over the sampler's window. */
export interface Recent {
  /** Seconds the window spans (0 before the second reading). */
  readonly seconds: number;
  /** Accumulator name -> events/s. */
  readonly eventRate: ReadonlyMap<string, number>;
  /** Reactor name -> firings/s. */
  readonly fireRate: ReadonlyMap<string, number>;
  /** Reactor name -> fire record duration quantiles (ms) over the window, across its graphs. */
  readonly latency: ReadonlyMap<string, { readonly p50: number; readonly p99: number }>;
  /** Share of the pool's thread time spent running nodes, 0..1; null without a pool. */
  readonly poolUtilisation: number | null;
}

export class Sampler {
  readonly #runtime: Runtime;
  readonly #readings: Reading[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #listeners = new Set<(report: RuntimeReport, recent: Recent) => void>();

  constructor(runtime: Runtime, intervalMs: number) {
    this.#runtime = runtime;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Called after every reading (the dashboard's live feed). */
  onSample(listener: (report: RuntimeReport, recent: Recent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Takes a reading now. */
  sample(): void {
    const report = this.#runtime.inspect();
    const durations = new Map<string, Map<string, Float64Array>>();
    for (const graph of report.graphs) {
      let byGraph = durations.get(graph.reactor);
      if (byGraph === undefined) durations.set(graph.reactor, (byGraph = new Map()));
      byGraph.set(graph.name, graph.fireDuration.snapshot());
    }
    this.#readings.push({
      at: Date.now(),
      report,
      events: new Map(report.accumulators.map((a) => [a.name, a.events])),
      fires: new Map(report.reactors.map((r) => [r.name, r.fires])),
      durations,
      busyMs: report.pool?.busyMs ?? 0,
    });
    if (this.#readings.length > kWindow + 1) this.#readings.shift();
    if (this.#listeners.size === 0) return;
    const recent = this.recent();
    for (const listener of this.#listeners) listener(report, recent);
  }

  /** The newest reading's report. */
  get report(): RuntimeReport {
    return this.#readings[this.#readings.length - 1]!.report;
  }

  recent(): Recent {
    const newest = this.#readings[this.#readings.length - 1]!;
    const oldest = this.#readings[0]!;
    const seconds = (newest.at - oldest.at) / 1000;
    const per = (now: number, then: number | undefined) => (seconds > 0 ? (now - (then ?? 0)) / seconds : 0);
    const eventRate = new Map([...newest.events].map(([name, n]) => [name, per(n, oldest.events.get(name))]));
    const fireRate = new Map([...newest.fires].map(([name, n]) => [name, per(n, oldest.fires.get(name))]));
    const latency = new Map<string, { p50: number; p99: number }>();
    for (const graph of newest.report.graphs) {
      const earlier = oldest.durations.get(graph.reactor)?.get(graph.name);
      const p50 =
        earlier === undefined ? graph.fireDuration.quantile(0.5) : graph.fireDuration.quantileSince(earlier, 0.5);
      const p99 =
        earlier === undefined ? graph.fireDuration.quantile(0.99) : graph.fireDuration.quantileSince(earlier, 0.99);
      const seen = latency.get(graph.reactor);
      // Several graphs on one reactor: the slowest graph's figures stand for the reactor.
      if (seen === undefined || !(seen.p99 >= p99)) latency.set(graph.reactor, { p50, p99 });
    }
    const pool = newest.report.pool;
    const poolUtilisation =
      pool === null || seconds <= 0
        ? null
        : Math.min(1, (newest.busyMs - oldest.busyMs) / (seconds * 1000 * pool.threads));
    return { seconds, eventRate, fireRate, latency, poolUtilisation };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }
}
