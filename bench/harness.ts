/**
 * Shared pieces of the benchmarks: the machine description every result carries, timing loops,
 * a table printer and the JSON writer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, platform, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import Benchmark from 'benchmark';

/**
 * Where results go: `bench/results/` of the repository (the compiled bench runs from
 * dist/bench), unless `setResultsDir` points elsewhere (`--out`).
 */
export let resultsDir = new URL('../../bench/results/', import.meta.url);

/** Redirects results (JSON and SVG) to another directory. */
export function setResultsDir(path: string): void {
  resultsDir = pathToFileURL(path.endsWith('/') ? path : `${path}/`);
}

/** How long and how often each measurement runs. */
export interface Budget {
  /** Milliseconds per throughput measurement. */
  readonly measureMs: number;
  /** Repetitions per makespan measurement. */
  readonly runs: number;
  /** benchmark.js `maxTime` in seconds. */
  readonly maxTime: number;
  /** Scale of event counts (1 = quick mode). */
  readonly scale: number;
}

let step = 0;
let steps = 0;

/** Sets how many steps the progress indicator counts to. */
export function expectSteps(total: number): void {
  steps = total;
  step = 0;
}

/** Announces the next measurement on stderr: `[3/17] parallel: wide graph, 2 threads`. */
export function progress(label: string): void {
  step++;
  const line = `[${step}/${Math.max(step, steps)}] ${label}`;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
  else process.stderr.write(`${line}\n`);
}

/** Clears the progress line. */
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

/** A benchmark.js measurement. */
export interface OpsResult {
  /** Operations per second. */
  readonly hz: number;
  /** Relative margin of error, in percent. */
  readonly rme: number;
  readonly samples: number;
}

/** Measures an async operation with benchmark.js (deferred), `maxTime` seconds. */
export function benchOps(name: string, op: () => Promise<unknown>, maxTime: number): Promise<OpsResult> {
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(name, {
      defer: true,
      maxTime,
      minSamples: 5,
      fn: (deferred: { resolve(): void }) => {
        op().then(
          () => deferred.resolve(),
          (error: unknown) => reject(error),
        );
      },
      onComplete: () => resolve({ hz: bench.hz, rme: bench.stats.rme, samples: bench.stats.sample.length }),
      onError: (event: { target: { error: unknown } }) => reject(event.target.error),
    } as Benchmark.Options);
    bench.run({ async: true });
  });
}

/** The q-quantile of `samples` (sorted or not); NaN when empty. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The median and the 99th percentile of a latency sample. */
export interface Quantiles {
  readonly p50: number;
  readonly p99: number;
}

/** {@link Quantiles} of `samples` (sorted or not); NaN when empty. */
export function quantiles(samples: readonly number[]): Quantiles {
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

/** The median of `samples` (its 0.5-quantile). */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** The machine a result came from. */
export function machine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${platform()} ${release()}`,
    date: new Date().toISOString(),
  };
}

/** Runs `fn` back to back for `ms` milliseconds (after `warmupMs`) and returns calls per second. */
export async function rate(fn: () => Promise<unknown>, ms: number, warmupMs = Math.min(500, ms / 4)): Promise<number> {
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) await fn();
  let calls = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    await fn();
    calls++;
  }
  return calls / ((performance.now() - start) / 1000);
}

/** Like {@link rate}, with `lanes` loops in flight at once. */
export async function concurrentRate(fn: () => Promise<unknown>, lanes: number, ms: number): Promise<number> {
  await rate(fn, Math.min(300, ms / 4), 0);
  let calls = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < end) {
        await fn();
        calls++;
      }
    }),
  );
  return calls / ((performance.now() - start) / 1000);
}

/** Median wall time in ms of `runs` calls of `fn`, after one warm-up call. */
export async function medianMs(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** One printed row: a measurement, its value and unit, and how it compares. */
export interface Row {
  readonly suite: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

/** Prints rows as an aligned table. */
export function printTable(rows: readonly Row[]): void {
  const cells = rows.map((r) => [r.suite, r.metric, format(r.value), r.unit, r.note ?? '']);
  const header = ['suite', 'metric', 'value', 'unit', 'note'];
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: readonly string[]) =>
    row.map((cell, c) => (c === 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

function format(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

/** Writes `bench/results/<name>.json` with the machine and the given data. */
export function writeResult(name: string, data: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL(`${name}.json`, resultsDir);
  writeFileSync(file, `${JSON.stringify({ name, machine: machine(), ...data }, null, 2)}\n`);
  return file.pathname;
}

/** Ends a bench script refusing its command line: exit 2 with `<script>: <why>` and the usage. */
export function refuse(script: string, usage: string, message: string): never {
  console.error(`${script}: ${message}\n${usage}`);
  process.exit(2);
}

/**
 * A bench script's flags, parsed by `node:util`'s `parseArgs`. A flag the script does not know
 * is refused (see {@link refuse}), never answered with a stack trace.
 */
export function commandLine<const T extends ParseArgsConfig>(
  script: string,
  usage: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    return refuse(script, usage, error instanceof Error ? error.message : String(error));
  }
}
