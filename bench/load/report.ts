/**
 * What the load test prints and draws: a progress line per finished step, the table with one row
 * per step, and the two charts (latency percentiles against the offered rate; memory over time).
 */
import { writeChart } from '../svg.js';
import { kStallMs, type StepResult } from './driver.js';
import type { MemorySample } from './memory.js';

/** A step with where it sat in the run, on the memory sampler's clock. */
export interface StepRecord extends StepResult {
  /** The producer's window, in seconds since the run started. */
  readonly window: { readonly startS: number; readonly endS: number };
  /** Memory when the step started and when it had drained, in MiB. */
  readonly rssMiB: { readonly start: number; readonly end: number };
  readonly heapUsedMiB: { readonly start: number; readonly end: number };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string =>
  n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
const offered = (step: StepResult): string => (step.offered === null ? 'max' : int(step.offered));

/** One line for a finished step, printed while the run goes on. */
export function stepLine(step: StepRecord): string {
  return (
    `${step.label}: offered ${offered(step)}/s for ${step.seconds.toFixed(1)} s -> ${int(step.eventsPerSec)} events/s, ` +
    `${int(step.firingsPerSec)} firings/s, p50 ${ms(step.latencyMs.p50)} ms, p99 ${ms(step.latencyMs.p99)} ms, ` +
    `max ${ms(step.latencyMs.max)} ms, queue <= ${int(step.maxQueued)}, refused ${int(step.refused)}, lost ${int(step.lost)}` +
    (step.drained
      ? ''
      : `; STUCK: nothing fired for the last ${kStallMs / 1000} s of a ${(step.drainMs / 1000).toFixed(0)} s drain`)
  );
}

/** Prints the steps as one aligned table, a row per step. */
export function printSteps(steps: readonly StepRecord[]): void {
  const header = [
    'step',
    'offered/s',
    'events/s',
    'firings/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    'max queue',
    'ELD p99 ms',
    'RSS MiB',
    'refused',
    'lost',
  ];
  const rows = steps.map((s) => [
    s.label,
    offered(s),
    int(s.eventsPerSec),
    int(s.firingsPerSec),
    ms(s.latencyMs.p50),
    ms(s.latencyMs.p90),
    ms(s.latencyMs.p99),
    ms(s.latencyMs.p99_9),
    ms(s.latencyMs.max),
    int(s.maxQueued),
    ms(s.eventLoopDelayMs.p99),
    `${s.rssMiB.start.toFixed(0)} -> ${s.rssMiB.end.toFixed(0)}`,
    int(s.refused),
    int(s.lost),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  // The step name reads left to right; every other column is a number and aligns right.
  const line = (row: readonly string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/**
 * Writes `load-latency.svg` (percentiles against the offered rate, both axes logarithmic, with
 * the p99 target dashed) and `load-memory.svg` (RSS and heap over the run, the overload
 * window drawn over RSS). Returns the paths written.
 */
export function writeCharts(
  title: string,
  steps: readonly StepRecord[],
  memory: readonly MemorySample[],
  overload: StepRecord | undefined,
  p99TargetMs: number,
): string[] {
  const paced = steps
    .filter((s): s is StepRecord & { offered: number } => s.offered !== null)
    .sort((a, b) => a.offered - b.offered);
  const percentile = (name: string, key: keyof StepResult['latencyMs']) => ({
    name,
    // A log axis cannot show 0; a step with no firing has no latency to draw.
    points: paced.filter((s) => s.fired > 0).map((s) => [s.offered, s.latencyMs[key]] as const),
  });
  const rates = paced.map((s) => s.offered);
  const latency = writeChart('load-latency', {
    title: `Push -> fire latency vs offered rate (${title})`,
    xLabel: 'offered events/s',
    yLabel: 'latency (ms)',
    logX: true,
    logY: true,
    series: [
      percentile('p50', 'p50'),
      percentile('p90', 'p90'),
      percentile('p99', 'p99'),
      percentile('p99.9', 'p99_9'),
      percentile('max', 'max'),
      {
        name: `p99 target ${p99TargetMs} ms`,
        points:
          rates.length > 0
            ? [
                [Math.min(...rates), p99TargetMs],
                [Math.max(...rates), p99TargetMs],
              ]
            : [],
        dashed: true,
      },
    ],
  });
  const at = (s: MemorySample) => s.t / 1000;
  const inOverload = (s: MemorySample) =>
    overload !== undefined && at(s) >= overload.window.startS && at(s) <= overload.window.endS;
  const memoryChart = writeChart('load-memory', {
    title: `Memory over the run (${title})`,
    xLabel: 'seconds since start',
    yLabel: 'MiB',
    series: [
      { name: 'RSS', points: memory.map((s) => [at(s), s.rssMiB] as const) },
      { name: 'heap used', points: memory.map((s) => [at(s), s.heapUsedMiB] as const) },
      { name: 'RSS, overload', points: memory.filter(inOverload).map((s) => [at(s), s.rssMiB] as const) },
    ],
  });
  return [latency, memoryChart];
}
