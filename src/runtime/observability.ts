/**
 * What the runtime keeps about itself for operators: latency histograms (each graph's firings,
 * each node's duration as measured where it ran, checkpoint commits), counters, the last event
 * and fire times, a ring of recent fire records per reactor, and the reports that
 * `runtime.inspect()` and `runtime.recentFires()` return (read by `cloaca/http` for its REST
 * answers, its Prometheus metrics and its dashboard).
 *
 * Cost on the hot paths is a few field writes and typed-array increments per firing and per
 * node (see `latency-histogram.ts`); everything else is computed when a report is read.
 * `new Runtime({ metrics: false })` turns all of it off.
 *
 * Tracing (`tracing.ts`) rides on the same hooks: the observer of a graph run is also what gives
 * the run its span.
 */
import { performance } from 'node:perf_hooks';
import type { Accumulator } from '../accumulators/accumulator.js';
import type { RunOptions } from '../exec/graph-run.js';
import type { NodePool } from '../exec/node-pool.js';
import type { RunObserver } from '../exec/run-observer.js';
import type { ComputationGraph } from '../graph/computation-graph.js';
import type { GraphPlan } from '../model/plan.js';
import { InputStrategy } from '../model/reactor-declaration.js';
import type { LiveReactor } from '../reactor/live-reactor.js';
import type { FireRecord } from '../reactor/records.js';
import { FireRing, type FireSummary } from './fire-ring.js';
import type { AccumulatorReport, CheckpointOwnership, GraphReport, ReactorReport, RuntimeReport } from './report.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { TracedRun, Tracing } from './tracing.js';

/** What the observer reads of the runtime. */
export interface ObservedRuntime {
  readonly state: () => string;
  readonly queueCapacity: number;
  readonly accumulators: () => Iterable<{ readonly accumulator: Accumulator; readonly feeds: readonly LiveReactor[] }>;
  readonly reactors: () => Iterable<LiveReactor>;
  readonly graphs: () => Iterable<ComputationGraph>;
  readonly pool: () => NodePool | null;
  readonly checkpointed: boolean;
  readonly ownership: () => CheckpointOwnership | null;
}

/**
 * Per-accumulator figures. The last event time is not taken per event (a clock reading costs
 * about 40 ns, as much as a whole push into a `latest` reactor): once a second, and whenever a
 * report is read, an accumulator whose event count moved is stamped with the time, so it is
 * exact to the second. Times are 0 until set, never null: a field that only ever holds numbers
 * is stored unboxed, where one that also held null would box every timestamp written to it.
 */
class AccumulatorFigures {
  readonly accumulator: Accumulator;
  refused = 0;
  lastEventAt = 0;
  seen = 0;

  constructor(accumulator: Accumulator) {
    this.accumulator = accumulator;
  }
}

/** How often event counts are read for the last event times. */
const kStampMs = 1000;

/**
 * Which firings of one reactor are timed: every one while they come at least a millisecond apart;
 * when they come faster, every `every`-th, `every` doubling while timed firings are under a
 * millisecond apart and halving when they are over ten, so about a thousand a second are timed.
 */
class Sampler {
  #every = 1;
  #countdown = 1;
  #last = Number.NEGATIVE_INFINITY;

  take(): boolean {
    if (--this.#countdown > 0) return false;
    const now = performance.now();
    const gap = now - this.#last;
    this.#last = now;
    if (gap < 1) this.#every = Math.min(this.#every * 2, kMaxSampleEvery);
    else if (gap > 10 && this.#every > 1) this.#every >>= 1;
    this.#countdown = this.#every;
    return true;
  }
}

/** The sparsest sample: one firing in this many. */
const kMaxSampleEvery = 4096;

/** Per-graph figures; also the observer of the graph's runs. */
class GraphFigures implements RunObserver {
  readonly graph: ComputationGraph;
  /** Its reactor, which counts its runs and failures (exact; the timing is sampled). */
  readonly reactor: LiveReactor;
  readonly options: RunOptions = { observer: this, timed: false };
  readonly fireDuration = new LatencyHistogram();
  readonly nodeDuration: LatencyHistogram[];
  /** Epoch ms, 0 before the first firing (see {@link AccumulatorFigures} for why not null). */
  lastFiredAt = 0;
  /** Runs seen at the last stamp (see `RuntimeObserver.#stamp`). */
  seen = 0;
  /** The span of the run in progress, when tracing (firings of one reactor never overlap). */
  run: TracedRun | undefined;
  /** Its trace context (a field, not a getter: every run reads it). */
  traceparent: string | undefined;
  /** Its reactor's recent fire records, and its number there. */
  readonly ring: FireRing;
  readonly ringIndex: number;
  readonly #enabled: boolean;
  readonly #pool: { busyMs: number } | null;
  readonly #tracing: Tracing | null;

  constructor(
    graph: ComputationGraph,
    reactor: LiveReactor,
    ring: FireRing,
    ringIndex: number,
    enabled: boolean,
    pool: { busyMs: number },
    tracing: Tracing | null,
  ) {
    this.graph = graph;
    this.reactor = reactor;
    this.ring = ring;
    this.ringIndex = ringIndex;
    this.nodeDuration = graph.plan.nodes.map(() => new LatencyHistogram());
    this.#enabled = enabled;
    this.#pool = graph.executor === 'pool' ? pool : null;
    this.#tracing = tracing;
  }

  /** Node durations of a whole firing (a batched one), per plan node; NaN for a node that did not run. */
  record(nodeDurations: Float64Array): void {
    if (!this.#enabled) return;
    let busy = 0;
    for (let i = 0; i < nodeDurations.length; i++) {
      const ms = nodeDurations[i]!;
      if (Number.isNaN(ms)) continue;
      this.nodeDuration[i]!.record(ms);
      busy += ms;
    }
    if (this.#pool !== null) this.#pool.busyMs += busy;
  }

  unit(plan: GraphPlan, nodes: readonly number[], durations: readonly number[], threadId: number): void {
    if (this.#enabled) {
      const histograms = this.nodeDuration;
      let busy = 0;
      for (let k = 0; k < nodes.length; k++) {
        const ms = durations[k]!;
        histograms[nodes[k]!]!.record(ms);
        busy += ms;
      }
      if (this.#pool !== null) this.#pool.busyMs += busy;
    }
    if (this.run !== undefined) this.#tracing!.nodes(this.run, plan, nodes, durations, threadId);
  }
}

export class RuntimeObserver {
  /** False with `metrics: false`: every hook returns at once. */
  readonly enabled: boolean;
  readonly #runtime: ObservedRuntime;
  readonly #ringSize: number;
  readonly #accumulators = new Map<string, AccumulatorFigures>();
  readonly #graphs = new Map<string, GraphFigures>();
  readonly #rings = new Map<string, FireRing>();
  readonly #pool = { busyMs: 0 };
  readonly #commits = new LatencyHistogram();
  #tracing: Tracing | null = null;
  /** Metrics or tracing on: the per-run hooks have something to do. */
  #active = false;
  /** The figures looked up last (see {@link RuntimeObserver.#figures}). */
  #last: GraphFigures | undefined;
  #startedAt: number | null = null;
  /** Per reactor, which of its firings are timed; and whether the firing asked about last is. */
  readonly #samplers = new Map<LiveReactor, Sampler>();
  #sampled = false;
  #lastSampled: LiveReactor | undefined;
  #lastSampler: Sampler | undefined;

  constructor(runtime: ObservedRuntime, enabled: boolean, ringSize: number) {
    this.#runtime = runtime;
    this.enabled = enabled;
    this.#ringSize = ringSize;
  }

  /** True when metrics or tracing need every fire record. */
  get active(): boolean {
    return this.#active;
  }

  /** True when firings are traced. */
  get tracing(): boolean {
    return this.#tracing !== null;
  }

  /** At start: what is registered is final; tracing, when on, is loaded. */
  started(tracing: Tracing | null): void {
    this.#tracing = tracing;
    this.#startedAt = Date.now();
    for (const { accumulator } of this.#runtime.accumulators()) {
      this.#accumulators.set(accumulator.name, new AccumulatorFigures(accumulator));
    }
    const graphs = [...this.#runtime.graphs()];
    for (const reactor of this.#runtime.reactors()) {
      const bound = graphs.filter((g) => g.reactor?.name === reactor.name);
      const ring = new FireRing(
        reactor.name,
        bound.map((g) => g.name),
        this.#ringSize,
      );
      this.#rings.set(reactor.name, ring);
      bound.forEach((graph, index) => {
        this.#graphs.set(graph.name, new GraphFigures(graph, reactor, ring, index, this.enabled, this.#pool, tracing));
      });
      this.#samplers.set(reactor, new Sampler());
    }
    this.#active = this.enabled || tracing !== null;
    if (!this.enabled) return;
    const timer = setInterval(() => {
      if (this.#runtime.state() === 'stopped') clearInterval(timer);
      else this.#stamp();
    }, kStampMs);
    timer.unref();
  }

  /** Stamps the accumulators whose event count, and the graphs whose run count, moved since the last look. */
  #stamp(): void {
    let now = 0;
    for (const figures of this.#accumulators.values()) {
      const events = figures.accumulator.events;
      if (events === figures.seen) continue;
      figures.seen = events;
      figures.lastEventAt = now ||= Date.now();
    }
    for (const figures of this.#graphs.values()) {
      const runs = figures.reactor.counts.graphRuns[figures.ringIndex] ?? 0;
      if (runs === figures.seen) continue;
      figures.seen = runs;
      figures.lastFiredAt = Math.max(figures.lastFiredAt, (now ||= Date.now()));
    }
  }

  /**
   * Whether this firing of `reactor` is timed (its record built, its graphs' nodes timed). Every
   * firing is while the reactor fires less than about a thousand times a second; above that, the
   * sample thins so that about a thousand firings a second are timed, because reading the clock
   * costs as much as a whole firing of a small inline graph. Counts stay exact (the reactor keeps
   * them); only the latency histograms and the fire history are sampled. A batch of firings in a
   * worker asks once, and its first firing is timed. With tracing, every firing is timed.
   */
  sample(reactor: LiveReactor): boolean {
    if (!this.#active) return (this.#sampled = false);
    if (this.#tracing !== null) return (this.#sampled = true);
    // Usually the same reactor fires again: its sampler is checked before the map.
    let sampler = this.#lastSampler;
    if (this.#lastSampled !== reactor) {
      sampler = this.#samplers.get(reactor);
      this.#lastSampled = reactor;
      this.#lastSampler = sampler;
    }
    return (this.#sampled = sampler !== undefined && sampler.take());
  }

  /** A batched firing of `graph` ran in a worker: its node durations (ms, per plan node, NaN when not run). */
  timed(graph: ComputationGraph, nodeDurations: Float64Array): void {
    this.#figures(graph.name)?.record(nodeDurations);
  }

  /** A push to `name` was refused for backpressure. */
  refused(name: string): void {
    const figures = this.#accumulators.get(name);
    if (figures !== undefined) figures.refused++;
  }

  /** The options a graph's run starts with: its observer, and its span when tracing. */
  starting(reactor: LiveReactor, graph: ComputationGraph, seq: number, manual: boolean): RunOptions | undefined {
    // Asked right after `sample()` for the same firing.
    if (!this.#sampled) return undefined;
    const figures = this.#figures(graph.name);
    if (figures === undefined) return undefined;
    if (this.#tracing !== null) {
      figures.run = this.#tracing.begin(reactor, graph.name, seq, manual);
      figures.traceparent = figures.run.traceparent;
    }
    return this.enabled || figures.run !== undefined ? figures.options : undefined;
  }

  /**
   * The figures of graph `name`. A run's record usually follows its start with no other graph
   * in between (always, with one graph per reactor and synchronous nodes), so the last figures
   * looked up are checked first: the names are the graph's own string, compared by identity.
   */
  #figures(name: string): GraphFigures | undefined {
    const last = this.#last;
    if (last !== undefined && last.graph.name === name) return last;
    return (this.#last = this.#graphs.get(name));
  }

  /** One graph's record of one firing. */
  recorded(record: FireRecord): void {
    if (!this.#active) return;
    const figures = this.#figures(record.graph);
    if (figures === undefined) return;
    if (figures.run !== undefined) {
      this.#tracing!.end(figures.run, record);
      figures.run = undefined;
      figures.traceparent = undefined;
    }
    if (!this.enabled) return;
    if (record.firedAt > figures.lastFiredAt) figures.lastFiredAt = record.firedAt;
    // An untimed record (a failure outside the sample) goes to the history only.
    if (!Number.isNaN(record.durationMs)) figures.fireDuration.record(record.durationMs);
    figures.ring.push(record, figures.ringIndex);
  }

  /** A host.push from a node; `traceparent` its run's trace context, if traced. */
  offer(traceparent: string | undefined, feeds: readonly LiveReactor[], offer: () => boolean): boolean {
    if (traceparent === undefined || this.#tracing === null) return offer();
    return this.#tracing.offer(traceparent, feeds, offer);
  }

  /** A sequential boundary was queued. */
  accepted(reactor: LiveReactor, seq: number): void {
    this.#tracing?.accepted(reactor, seq);
  }

  /** A checkpoint commit took `ms`. */
  committed(ms: number): void {
    if (this.enabled) this.#commits.record(ms);
  }

  /** The newest fire records of `reactor`, newest first. */
  recentFires(reactor: string, limit: number): FireSummary[] {
    return this.#rings.get(reactor)?.newest(limit) ?? [];
  }

  report(): RuntimeReport {
    if (this.enabled) this.#stamp();
    const runtime = this.#runtime;
    const reactors = [...runtime.reactors()];
    const graphs = [...runtime.graphs()];
    const pool = runtime.pool();
    return {
      state: runtime.state(),
      ownership: runtime.ownership(),
      startedAt: this.#startedAt,
      metrics: this.enabled,
      accumulators: [...runtime.accumulators()].map(({ accumulator, feeds }) =>
        this.#accumulatorReport(accumulator, feeds),
      ),
      reactors: reactors.map((reactor) => this.#reactorReport(reactor, graphs)),
      graphs: graphs.map((graph) => this.#graphReport(graph)),
      pool: pool === null ? null : { ...pool.stats, busyMs: this.#pool.busyMs },
      checkpointCommits: runtime.checkpointed ? this.#commits : null,
    };
  }

  #accumulatorReport(accumulator: Accumulator, feeds: readonly LiveReactor[]): AccumulatorReport {
    const figures = this.#accumulators.get(accumulator.name);
    const capacity = this.#runtime.queueCapacity;
    let queued = 0;
    let bounded = false;
    for (const reactor of feeds) {
      if (reactor.declaration.strategy !== InputStrategy.Sequential) continue;
      bounded = true;
      queued = Math.max(queued, reactor.queued);
    }
    const own = accumulator.bufferCapacity();
    return {
      name: accumulator.name,
      kind: accumulator.kind,
      health: accumulator.health,
      reactors: feeds.map((r) => r.name),
      events: accumulator.events,
      failures: accumulator.failures,
      refused: figures?.refused ?? 0,
      bufferDepth: accumulator.buffered() + queued,
      bufferCapacity: own === null && !bounded ? null : (own ?? 0) + (bounded ? capacity : 0),
      lastEventAt: figures === undefined || figures.lastEventAt === 0 ? null : figures.lastEventAt,
      lag: accumulator.lag?.().unread ?? null,
    };
  }

  #reactorReport(reactor: LiveReactor, graphs: readonly ComputationGraph[]): ReactorReport {
    const bound = graphs.filter((g) => g.reactor?.name === reactor.name);
    let lastFiredAt = 0;
    for (const graph of bound) lastFiredAt = Math.max(lastFiredAt, this.#graphs.get(graph.name)?.lastFiredAt ?? 0);
    const sequential = reactor.declaration.strategy === InputStrategy.Sequential;
    return {
      name: reactor.name,
      health: reactor.health,
      accumulators: reactor.declaration.accumulators,
      mode: reactor.declaration.mode,
      strategy: reactor.declaration.strategy,
      graphs: bound.map((g) => g.name),
      paused: reactor.paused,
      fires: reactor.fires,
      failures: reactor.counts.failures,
      queued: reactor.queued,
      queueCapacity: sequential ? this.#runtime.queueCapacity : null,
      lastFiredAt: lastFiredAt === 0 ? null : lastFiredAt,
      keyed: reactor.declaration.keyed !== undefined,
      keys: reactor.getState().keys ?? null,
    };
  }

  #graphReport(graph: ComputationGraph): GraphReport {
    const figures = this.#graphs.get(graph.name);
    const { plan } = graph;
    const empty = new LatencyHistogram();
    return {
      name: graph.name,
      reactor: graph.reactor?.name ?? '',
      executor: graph.executor,
      levels: plan.levels,
      topology: {
        nodes: plan.nodes.map((n) => ({ id: n.name, inputs: n.inputs, level: n.level, terminal: n.terminal })),
        edges: plan.nodes.flatMap((n) =>
          n.outEdges.map((e) => ({ from: n.name, to: plan.nodes[e.to]!.name, label: e.variant })),
        ),
      },
      fires: figures === undefined ? 0 : (figures.reactor.counts.graphRuns[figures.ringIndex] ?? 0),
      failures: figures === undefined ? 0 : (figures.reactor.counts.graphFailures[figures.ringIndex] ?? 0),
      lastFiredAt: figures === undefined || figures.lastFiredAt === 0 ? null : figures.lastFiredAt,
      fireDuration: figures?.fireDuration ?? empty,
      nodeDuration: Object.fromEntries(plan.nodes.map((n) => [n.name, figures?.nodeDuration[n.index] ?? empty])),
    };
  }
}
