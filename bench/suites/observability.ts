/**
 * Observability suite: what the runtime's metrics cost. Two copies of the runtime suite's
 * pipeline (passthrough -> `when_any` reactor -> 3-node chain) run side by side in one process,
 * one with `metrics: true` (the default: latency histograms per graph and node, last event and
 * fire times, the recent-fires ring) and one with `metrics: false`. They take turns: a chunk of
 * events (about 20 ms of work) into one, then into the other, alternating which goes first,
 * for many rounds. Fine-grained turns put both sides under the same conditions, which matters
 * on a machine shared with other work, where rates swing by 2x within seconds.
 *
 * Reported per strategy and executor: events/s (`latest`, which collapses bursts) or firings/s
 * (`sequential`) with metrics, and its ratio to metrics off, from wall time and from CPU time
 * (`process.cpuUsage()`, every thread of the process). Target: >= 0.95x.
 */
import { performance } from 'node:perf_hooks';
import type { Runtime } from 'cloaca';
import { progress, type Budget, type Row } from '../harness.js';
import type { SuiteResult } from './shared.js';
import { firingsOf, pipeline } from './runtime.js';

/** Chunks of about 20 ms each on the 2-core machine. */
const cases = [
  { strategy: 'latest', executor: 'inline', chunk: 300_000 },
  { strategy: 'sequential', executor: 'inline', chunk: 8000 },
  { strategy: 'sequential', executor: 'pool', chunk: 500 },
] as const;

export const observabilitySteps = cases.length;

interface Side {
  readonly runtime: Runtime;
  firings: number;
  events: number;
  wallMs: number;
  cpuUs: number;
}

/** Pushes `count` events as fast as they are accepted, then waits for idle; adds to the side's totals. */
async function chunk(side: Side, count: number): Promise<void> {
  const { runtime } = side;
  const fired = firingsOf(runtime);
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    while (!runtime.push('a', { value: i })) await runtime.whenWritable('a');
  }
  await runtime.idle();
  side.wallMs += performance.now() - start;
  const used = process.cpuUsage(cpu);
  side.cpuUs += used.user + used.system;
  side.events += count;
  side.firings += firingsOf(runtime) - fired;
}

export async function observabilitySuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const rounds = Math.max(4, Math.round(200 * budget.scale));
  const rows: Row[] = [];
  const data: Record<string, unknown> = { threads, rounds };
  for (const { strategy, executor, chunk: size } of cases) {
    progress(`observability: ${strategy}, ${executor}: metrics on and off in turns, ${rounds} rounds`);
    const make = async (metrics: boolean): Promise<Side> => {
      const side: Side = {
        runtime: await pipeline(strategy, executor, threads, { metrics }),
        firings: 0,
        events: 0,
        wallMs: 0,
        cpuUs: 0,
      };
      return side;
    };
    const on = await make(true);
    const off = await make(false);
    for (const side of [on, off, on, off]) await chunk(side, size); // warm-up
    for (const side of [on, off]) Object.assign(side, { firings: 0, events: 0, wallMs: 0, cpuUs: 0 });
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? [on, off] : [off, on]) await chunk(side, size);
    }
    await on.runtime.shutdown();
    await off.runtime.shutdown();
    const unit = strategy === 'latest' ? 'events/s' : 'firings/s';
    const perSecond = (s: Side) => (strategy === 'latest' ? s.events : s.firings) / (s.wallMs / 1000);
    const perCpuSecond = (s: Side) => (strategy === 'latest' ? s.events : s.firings) / (s.cpuUs / 1e6);
    const ratio = perSecond(on) / perSecond(off);
    const cpuRatio = perCpuSecond(on) / perCpuSecond(off);
    const nsPerEvent = (s: Side) => (s.cpuUs * 1000) / s.events;
    data[`${strategy}/${executor}`] = {
      unit,
      chunk: size,
      on: { ...summary(on), perSecond: perSecond(on), cpuNsPerEvent: nsPerEvent(on) },
      off: { ...summary(off), perSecond: perSecond(off), cpuNsPerEvent: nsPerEvent(off) },
      ratio,
      cpuRatio,
    };
    rows.push({
      suite: 'observability',
      metric: `${strategy}, ${executor}: with metrics`,
      value: perSecond(on),
      unit,
      note:
        `${ratio.toFixed(3)}x of metrics off (${Math.round(perSecond(off)).toLocaleString('en-US')}/s); ` +
        `per CPU second ${cpuRatio.toFixed(3)}x (${Math.round(nsPerEvent(on))} vs ${Math.round(nsPerEvent(off))} ns/event); target >= 0.95x`,
    });
  }
  return { rows, data, charts: [] };
}

function summary(side: Side) {
  return { events: side.events, firings: side.firings, wallMs: side.wallMs, cpuUs: side.cpuUs };
}
