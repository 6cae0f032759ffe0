/**
 * The dashboard's live feed (`/v1/ws/dashboard`): after every sampler reading (once a second),
 * one `update` message with each accumulator's and reactor's health, counts, rates over the
 * last ten seconds and the fire latency quantiles of that window, the pool, and the newest fire
 * records, and for a keyed reactor its busiest keys. A viewer that does not keep up misses
 * updates rather than queueing them.
 */
import { WebSocket } from 'ws';
import type { RuntimeReport } from '../runtime/report.js';
import type { Runtime } from '../runtime/runtime.js';
import { accumulatorItem, finite, fireItem, keyItem, notReady, reactorItem } from './answers.js';
import { stringify } from './json.js';
import type { Recent, Sampler } from './sampler.js';
import { kMaxBuffered } from './sockets.js';

/** Fire records each update carries, newest first, across reactors. */
const kFires = 20;

/** Busiest keys each update carries per keyed reactor. */
const kBusiestKeys = 3;

/** The update message. */
export function update(runtime: Runtime, report: RuntimeReport, recent: Recent) {
  const fires = report.reactors
    .flatMap((r) => runtime.recentFires(r.name, kFires).map((f) => ({ reactor: f.reactor, ...fireItem(f) })))
    .sort((a, b) => b.fired_at - a.fired_at)
    .slice(0, kFires);
  const reason = notReady(report);
  return {
    type: 'update',
    at: Date.now(),
    runtime: { state: report.state, ready: reason === null, reason, window_s: recent.seconds },
    accumulators: report.accumulators.map((a) => ({ ...accumulatorItem(a), rate: recent.eventRate.get(a.name) ?? 0 })),
    reactors: report.reactors.map((r) => {
      const latency = recent.latency.get(r.name);
      return {
        ...reactorItem(r),
        rate: recent.fireRate.get(r.name) ?? 0,
        p50_ms: latency === undefined ? null : finite(latency.p50),
        p99_ms: latency === undefined ? null : finite(latency.p99),
        busiest_keys: r.keyed ? runtime.reactor(r.name).keyList(kBusiestKeys).map(keyItem) : null,
      };
    }),
    pool:
      report.pool === null
        ? null
        : {
            threads: report.pool.threads,
            in_flight: report.pool.inFlight,
            queued: report.pool.queued,
            utilisation: recent.poolUtilisation,
          },
    fires,
  };
}

/** Sends every sampler reading to `ws` until it closes; the first at once. */
export function feed(ws: WebSocket, runtime: Runtime, sampler: Sampler): void {
  const push = (report: RuntimeReport, recent: Recent): void => {
    if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount <= kMaxBuffered) {
      ws.send(stringify(update(runtime, report, recent)));
    }
  };
  const stop = sampler.onSample(push);
  ws.once('close', stop);
  push(runtime.inspect(), sampler.recent());
}
