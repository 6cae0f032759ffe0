/**
 * Memory over time for the load test: a sampler of the process's RSS and V8 heap, and the
 * flatness check of a window of samples (the overload step).
 *
 * RSS is the number that matters to an operator (it includes the pool's worker threads, which
 * live in this process, and off-heap buffers); heapUsed is kept next to it because it shows
 * the main thread's garbage sawtooth that makes single RSS readings noisy.
 *
 * Neither can see a slow leak of small objects: an unbounded queue of this test's events grows
 * by ~1 MiB a second, well inside the GC's swings. The live heap (heapUsed right after a full
 * GC) can, so the overload step also reads that a few times; forcing a GC pauses the main
 * thread for tens of milliseconds, so it is done only there.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One reading, taken every {@link MemorySampler} interval. */
export interface MemorySample {
  /** Milliseconds since the sampler started. */
  readonly t: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** The step running when it was taken ('' between steps). */
  readonly step: string;
}

const kMiB = 2 ** 20;

/** Samples `process.memoryUsage()` every `intervalMs` until stopped. */
export class MemorySampler {
  readonly samples: MemorySample[] = [];
  /** The label new samples carry; the load test sets it to the running step. */
  step = '';
  readonly #origin = performance.now();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Milliseconds since the sampler started, on the samples' clock. */
  now(): number {
    return performance.now() - this.#origin;
  }

  /** Takes a reading now (also at step edges, so every step has its start and end). */
  sample(): MemorySample {
    const { rss, heapUsed } = process.memoryUsage();
    const reading = { t: this.now(), rssMiB: rss / kMiB, heapUsedMiB: heapUsed / kMiB, step: this.step };
    this.samples.push(reading);
    return reading;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** How memory moved across a window of samples. */
export interface Growth {
  /** Samples in the window. */
  readonly samples: number;
  /** Mean RSS of the first and of the last third of the window, in MiB. */
  readonly firstThirdRssMiB: number;
  readonly lastThirdRssMiB: number;
  /** `lastThirdRssMiB - firstThirdRssMiB`. */
  readonly rssGrowthMiB: number;
  /** The same for heapUsed. */
  readonly heapGrowthMiB: number;
}

/**
 * Compares the mean of the first third of `samples` with the mean of the last third. Means of
 * thirds rather than first and last readings, because one reading can sit on a GC peak or
 * trough; a steady leak still shows as the difference of the means (two thirds of the window's
 * total growth). Undefined with fewer than three samples.
 */
export function growth(samples: readonly MemorySample[]): Growth | undefined {
  if (samples.length < 3) return undefined;
  const third = Math.floor(samples.length / 3);
  const mean = (part: readonly MemorySample[], key: 'rssMiB' | 'heapUsedMiB') =>
    part.reduce((sum, s) => sum + s[key], 0) / part.length;
  const first = samples.slice(0, third);
  const last = samples.slice(samples.length - third);
  const firstThirdRssMiB = mean(first, 'rssMiB');
  const lastThirdRssMiB = mean(last, 'rssMiB');
  return {
    samples: samples.length,
    firstThirdRssMiB,
    lastThirdRssMiB,
    rssGrowthMiB: lastThirdRssMiB - firstThirdRssMiB,
    heapGrowthMiB: mean(last, 'heapUsedMiB') - mean(first, 'heapUsedMiB'),
  };
}

/** V8's `gc()`, exposed without `--expose-gc` on the command line (the flag makes new contexts get it). */
const collect = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** The main thread's live heap in MiB: heapUsed right after a full, forced GC. */
export function liveHeapMiB(): number {
  collect();
  return process.memoryUsage().heapUsed / kMiB;
}
