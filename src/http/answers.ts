/**
 * The JSON shapes of the REST answers: snake_case field names, the way
 * the reference server writes them; times are Unix epoch milliseconds, null when never.
 */
import type { KeySummary } from '../reactor/keyed-reactor.js';
import type { FireRecord } from '../reactor/records.js';
import type { FireSummary } from '../runtime/fire-ring.js';
import type { AccumulatorReport, GraphReport, ReactorReport, RuntimeReport } from '../runtime/report.js';

/** A list answer. */
export function list<T>(items: readonly T[]): { items: readonly T[]; total: number } {
  return { items, total: items.length };
}

export function accumulatorItem(a: AccumulatorReport) {
  return {
    name: a.name,
    kind: a.kind,
    state: a.health,
    reactors: a.reactors,
    events_total: a.events,
    failures_total: a.failures,
    refused_total: a.refused,
    buffer_depth: a.bufferDepth,
    buffer_capacity: a.bufferCapacity,
    last_event_at: a.lastEventAt,
    lag: a.lag,
  };
}

export function reactorItem(r: ReactorReport) {
  return {
    name: r.name,
    health: r.health,
    accumulators: r.accumulators,
    reaction_mode: r.mode,
    input_strategy: r.strategy,
    bound_graphs: r.graphs,
    paused: r.paused,
    fires: r.fires,
    failures: r.failures,
    queued: r.queued,
    queue_capacity: r.queueCapacity,
    last_fired_at: r.lastFiredAt,
    keyed: r.keyed,
    keys: r.keys,
  };
}

/** A key of a keyed reactor as `GET .../keys` lists it. */
export function keyItem(k: KeySummary) {
  return { key: k.key, queued: k.queued, last_fired_at: k.lastFiredAt };
}

export function graphItem(g: GraphReport) {
  return {
    name: g.name,
    reactor: g.reactor,
    executor: g.executor,
    levels: g.levels,
    topology: g.topology,
    fires: g.fires,
    failures: g.failures,
    last_fired_at: g.lastFiredAt,
    duration_ms: {
      count: g.fireDuration.count,
      p50: finite(g.fireDuration.quantile(0.5)),
      p99: finite(g.fireDuration.quantile(0.99)),
    },
  };
}

export function fireItem(f: FireSummary) {
  return {
    fired_at: f.firedAt,
    ok: f.ok,
    error: f.error,
    // null for a failure outside the timed sample (see RuntimeOptions.metrics).
    duration_ms: finite(f.durationMs),
    manual: f.manual,
    graph: f.graph,
  };
}

/** A fire record as `POST .../fire` and the reactor WebSocket's `fired` answer carry it. */
export function fireRecord(record: FireRecord) {
  return {
    reactor: record.reactor,
    graph: record.graph,
    ok: record.ok,
    manual: record.manual,
    fired_at: record.firedAt,
    duration_ms: record.durationMs,
    inputs: record.inputs,
    outputs: record.outputs ?? null,
    error: record.ok ? null : record.error instanceof Error ? record.error.message : String(record.error),
    ...(record.key === undefined ? {} : { key: record.key }),
  };
}

/** Why the runtime is not ready, or null when it is: started, and every reactor `live`. */
export function notReady(report: RuntimeReport): string | null {
  // A standby is waiting for its checkpoint's id, at start or after losing it.
  if (report.ownership === 'standby') return 'standby';
  if (report.ownership === 'lost') return 'the runtime lost the ownership of its checkpoint';
  if (report.state !== 'started') return `the runtime is ${report.state}`;
  const waiting = report.reactors.filter((r) => r.health !== 'live');
  if (waiting.length === 0) return null;
  return waiting.map((r) => `reactor '${r.name}' is ${r.health}`).join('; ');
}

/** A quantile for JSON: null instead of NaN (no data). */
export function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
