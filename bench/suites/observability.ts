/**
 * Observability suite: what the runtime's metrics cost. The runtime suite's pipeline (passthrough
 * -> `when_any` reactor -> 3-node chain) runs with `metrics: true` (the default: latency
 * histograms per graph and node, last event and fire times, the recent-fires ring) and with
 * `metrics: false`, alternating in one process, several rounds, for each strategy and executor.
 * Each round measures both sides back to back (alternating which goes first) and the suite
 * reports the median of the rounds' ratios (on / off), so a machine that speeds up or slows
 * down during the run moves both sides of a ratio alike. `latest` is measured in events/s (it
 * collapses bursts into few firings), `sequential` in firings/s. Target: >= 0.95x.
 *
 * On a machine shared with other work, wall-clock rates swing by 2x between rounds; the suite
 * also reports the ratio of CPU time per event (`process.cpuUsage()`, every thread of the
 * process), which moves far less with what else runs.
 */
import { progress, type Budget, type Row } from '../harness.js';
import type { SuiteResult } from './shared.js';
import { pipeline, throughput } from './runtime.js';

const cases = [
  { strategy: 'latest', executor: 'inline', events: 300_000 },
  { strategy: 'sequential', executor: 'inline', events: 300_000 },
  { strategy: 'sequential', executor: 'pool', events: 15_000 },
] as const;

export const observabilitySteps = cases.length;

export async function observabilitySuite(threads: number, budget: Budget): Promise<SuiteResult> {
  const rounds = Math.max(3, Math.min(budget.runs + 2, 9));
  const rows: Row[] = [];
  const data: Record<string, unknown> = { threads, rounds };
  for (const { strategy, executor, events } of cases) {
    progress(`observability: ${strategy}, ${executor}: metrics on vs off, ${rounds} rounds`);
    const count = Math.round(events * budget.scale);
    const unit = strategy === 'latest' ? 'events/s' : 'firings/s';
    const on: number[] = [];
    const off: number[] = [];
    const cpuOn: number[] = [];
    const cpuOff: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which side goes first, so warming up favours neither.
      for (const metrics of round % 2 === 0 ? [true, false] : [false, true]) {
        const runtime = await pipeline(strategy, executor, threads, { metrics });
        const cpu = process.cpuUsage();
        const result = await throughput(runtime, count);
        const used = process.cpuUsage(cpu);
        await runtime.shutdown();
        (metrics ? on : off).push(strategy === 'latest' ? result.eventsPerSec : result.firingsPerSec);
        (metrics ? cpuOn : cpuOff).push(((used.user + used.system) * 1000) / count);
      }
    }
    const ratios = on.map((value, round) => value / off[round]!);
    const ratio = median(ratios);
    // Throughput per CPU second, on over off: the inverse ratio of CPU ns per event.
    const cpuRatio = median(cpuOff) / median(cpuOn);
    data[`${strategy}/${executor}`] = {
      events: count,
      unit,
      on,
      off,
      ratios,
      ratio,
      cpuNsPerEventOn: cpuOn,
      cpuNsPerEventOff: cpuOff,
      cpuRatio,
    };
    rows.push({
      suite: 'observability',
      metric: `${strategy}, ${executor}: with metrics`,
      value: median(on),
      unit,
      note:
        `${ratio.toFixed(3)}x of metrics off (median of ${rounds} paired rounds; ` +
        `off ${Math.round(median(off)).toLocaleString('en-US')}/s); per CPU second ${cpuRatio.toFixed(3)}x ` +
        `(${Math.round(median(cpuOn))} vs ${Math.round(median(cpuOff))} ns/event); target >= 0.95x`,
    });
  }
  return { rows, data, charts: [] };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
