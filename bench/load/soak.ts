/**
 * `npm run load -- --soak [--minutes 10] [--rate 2000] [--executor pool|inline]
 * [--strategy sequential|latest] [--threads N] [--malloc-arenas N] [--out DIR]`
 *
 * Does memory level off under a long, steady load? Runs the load test's pipeline at a fixed
 * rate for `--minutes` in a child process, then, for the same time in another child, its peer:
 * raw Piscina running the same three-node chain as one task per event, one at a time, on a pool
 * set up as cloaca's. Each child samples its memory every 10 s (RSS, heap used, the live heap
 * after a forced full GC, external and array buffers). Reported per run: the curve, the RSS
 * slope over the first and the last third (MiB per minute), and whether it levelled off (the
 * last third's slope under a tenth of the first's, or under 0.5 MiB/min). If the peer's RSS moves
 * the same way as cloaca's, the growth belongs to V8, Piscina or the allocator, not to cloaca;
 * `--malloc-arenas N` sets glibc's MALLOC_ARENA_MAX in both children to test the allocator.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { writeResult } from '../harness.js';
import { LoadDriver, type Strategy } from './driver.js';
import { liveHeapMiB } from './memory.js';
import { writeChart } from '../svg.js';

/** What a soak child measures. */
interface SoakSample {
  /** Minutes since the load started. */
  readonly minute: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly liveHeapMiB: number;
  readonly externalMiB: number;
  readonly arrayBuffersMiB: number;
  /** Events handled since the previous sample. */
  readonly events: number;
}

export interface SoakOptions {
  readonly minutes: number;
  readonly rate: number;
  readonly executor: 'pool' | 'inline';
  readonly strategy: Strategy;
  readonly threads: number;
  readonly mallocArenas: number | undefined;
}

const kSampleMs = 10_000;
const kMiB = 2 ** 20;

function sample(start: number, events: number): SoakSample {
  const live = liveHeapMiB();
  const m = process.memoryUsage();
  return {
    minute: (performance.now() - start) / 60_000,
    rssMiB: m.rss / kMiB,
    heapUsedMiB: m.heapUsed / kMiB,
    liveHeapMiB: live,
    externalMiB: m.external / kMiB,
    arrayBuffersMiB: m.arrayBuffers / kMiB,
    events,
  };
}

/** The child side: runs one subject and prints its samples as JSON on the last line of stdout. */
export async function soakChild(subject: 'cloaca' | 'piscina', options: SoakOptions): Promise<void> {
  const samples: SoakSample[] = [];
  const windows = Math.max(1, Math.round((options.minutes * 60_000) / kSampleMs));
  if (subject === 'cloaca') {
    const driver = await LoadDriver.start({ ...options, queueCapacity: 10_000 });
    const start = performance.now();
    samples.push(sample(start, 0));
    for (let w = 0; w < windows; w++) {
      const step = await driver.run({ label: `soak ${w}`, rate: options.rate, durationMs: kSampleMs });
      if (step.lost !== 0 || step.failed !== 0)
        throw new Error(`soak window ${w}: ${step.lost} lost, ${step.failed} failed`);
      samples.push(sample(start, step.fired));
    }
    await driver.shutdown();
  } else {
    const pool = new Piscina({
      filename: new URL('../nodes/chain-worker.js', import.meta.url).href,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 4,
      atomics: 'disabled',
      recordTiming: false,
    });
    const start = performance.now();
    samples.push(sample(start, 0));
    let done = 0;
    for (let w = 0; w < windows; w++) {
      const windowStart = performance.now();
      const total = Math.floor((options.rate * kSampleMs) / 1000);
      let n = 0;
      // One task at a time, paced: the serial round trips of a sequential reactor on the pool.
      while (n < total) {
        const due = Math.min(total, Math.floor(((performance.now() - windowStart) / 1000) * options.rate));
        if (n >= due) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        await pool.run(n++);
        done++;
      }
      samples.push(sample(start, done));
      done = 0;
    }
    await pool.destroy();
  }
  console.log(JSON.stringify(samples));
}

/** Slope of RSS (MiB per minute) by least squares over `samples`. */
function slope(samples: readonly SoakSample[]): number {
  const n = samples.length;
  const mx = samples.reduce((s, p) => s + p.minute, 0) / n;
  const my = samples.reduce((s, p) => s + p.rssMiB, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.minute - mx) * (p.rssMiB - my);
    den += (p.minute - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function summarise(samples: readonly SoakSample[]) {
  const third = Math.max(2, Math.floor(samples.length / 3));
  const first = slope(samples.slice(0, third));
  const last = slope(samples.slice(-third));
  return {
    rssStartMiB: samples[0]!.rssMiB,
    rssEndMiB: samples.at(-1)!.rssMiB,
    rssMaxMiB: Math.max(...samples.map((s) => s.rssMiB)),
    liveHeapStartMiB: samples[0]!.liveHeapMiB,
    liveHeapEndMiB: samples.at(-1)!.liveHeapMiB,
    slopeFirstThirdMiBPerMin: first,
    slopeLastThirdMiBPerMin: last,
    levelledOff: Math.abs(last) < 0.5 || Math.abs(last) < Math.abs(first) / 10,
  };
}

/** The parent side: runs both children one after the other, reports and writes JSON and a chart. */
export async function soak(options: SoakOptions, script: string): Promise<void> {
  const run = (subject: 'cloaca' | 'piscina') =>
    new Promise<SoakSample[]>((resolve, reject) => {
      const args = [
        script,
        '--soak-child',
        subject,
        '--minutes',
        String(options.minutes),
        '--rate',
        String(options.rate),
        '--executor',
        options.executor,
        '--strategy',
        options.strategy,
        '--threads',
        String(options.threads),
      ];
      const env =
        options.mallocArenas === undefined
          ? process.env
          : { ...process.env, MALLOC_ARENA_MAX: String(options.mallocArenas) };
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`soak ${subject} exited ${code}`));
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as SoakSample[]);
      });
    });
  console.log(
    `cloaca soak: ${options.rate} events/s for ${options.minutes} min each, ${options.strategy}/${options.executor}, ${options.threads} threads` +
      (options.mallocArenas === undefined ? '' : `, MALLOC_ARENA_MAX=${options.mallocArenas}`),
  );
  const cloaca = await run('cloaca');
  const piscina = await run('piscina');
  const report = { cloaca: summarise(cloaca), piscina: summarise(piscina) };
  for (const [name, s] of Object.entries(report)) {
    console.log(
      `${name.padEnd(8)} RSS ${s.rssStartMiB.toFixed(0)} -> ${s.rssEndMiB.toFixed(0)} MiB (max ${s.rssMaxMiB.toFixed(0)}), ` +
        `slope ${s.slopeFirstThirdMiBPerMin.toFixed(2)} -> ${s.slopeLastThirdMiBPerMin.toFixed(2)} MiB/min, ` +
        `live heap ${s.liveHeapStartMiB.toFixed(1)} -> ${s.liveHeapEndMiB.toFixed(1)} MiB: ${s.levelledOff ? 'levelled off' : 'STILL GROWING'}`,
    );
  }
  const file = writeResult('soak', { options, report, samples: { cloaca, piscina } });
  const chart = writeChart('soak', {
    title: `RSS over a ${options.minutes}-minute soak at ${options.rate} events/s`,
    xLabel: 'minutes',
    yLabel: 'RSS (MiB)',
    series: [
      { name: 'cloaca', points: cloaca.map((s) => [s.minute, s.rssMiB] as const) },
      { name: 'raw Piscina', points: piscina.map((s) => [s.minute, s.rssMiB] as const) },
    ],
  });
  console.log(`wrote ${file} and ${chart}`);
}
