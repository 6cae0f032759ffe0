/**
 * A latency histogram cheap enough for the per-firing and per-node paths: a fixed array of
 * buckets, eight per doubling, from 2^-10 ms (about 1 µs) to 2^26 ms (about 18 h). A value's
 * bucket is read straight from its IEEE-754 bits (the exponent and the top three bits of the
 * mantissa), so recording costs a typed-array store, a shift and three additions, about 3 ns,
 * and allocates nothing (`Math.log2` alone costs more).
 *
 * Within a doubling [2^e, 2^(e+1)) the eight buckets are equal slices, each at most 12.5% of
 * the value, so a quantile read from the bucket's middle is within about 6% of the true value.
 * Every power of two of milliseconds is a bucket edge, so the count of values below 2^k ms is
 * exact: that is what the Prometheus exposition reads ({@link LatencyHistogram.countsBelow}).
 */
import { endianness } from 'node:os';

/** Buckets per doubling: the top three bits of the mantissa. */
const kMantissaBits = 3;
/** The smallest value with a bucket of its own: 2^-10 ms; everything below shares bucket 0. */
const kMinExponent = -10;
const kMaxExponent = 26;
/** Shifting a float's high 32 bits right by this leaves its exponent and top mantissa bits. */
const kShift = 20 - kMantissaBits;
const kBaseCode = (1023 + kMinExponent) << kMantissaBits;
const kBuckets = ((kMaxExponent - kMinExponent) << kMantissaBits) + 2;
const kLast = kBuckets - 1;
const kMinMs = 2 ** kMinExponent;

const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);
/** Which of the two words holds the sign, exponent and top of the mantissa. */
const kHigh = endianness() === 'LE' ? 1 : 0;

/** Lower edge, in ms, of bucket `i` (0 for the first). */
function lowerEdgeMs(i: number): number {
  if (i <= 0) return 0;
  const code = kBaseCode + i - 1;
  const exponent = (code >> kMantissaBits) - 1023;
  return 2 ** exponent * (1 + (code & ((1 << kMantissaBits) - 1)) / (1 << kMantissaBits));
}

/** A read-only view of a histogram, as the runtime's reports hand it out. */
export interface LatencyHistogramView {
  /** Values recorded. */
  readonly count: number;
  /** Sum of the values recorded, in ms. */
  readonly sum: number;
  /** The value (ms) at quantile `q` (0..1), NaN when empty; within about 6% of the true value. */
  quantile(q: number): number;
  /**
   * For each edge (ms, ascending), the values recorded below it: exact when the edge is a power
   * of two of milliseconds (a value exactly on an edge counts above it).
   */
  countsBelow(edgesMs: readonly number[]): number[];
  /** A copy of the bucket counts, for {@link LatencyHistogramView.quantileSince}. */
  snapshot(): Float64Array;
  /** Quantile `q` of what was recorded since `earlier` (a {@link snapshot} of this histogram). */
  quantileSince(earlier: Float64Array, q: number): number;
}

/** Latencies in ms, in log buckets. */
export class LatencyHistogram implements LatencyHistogramView {
  readonly #counts = new Float64Array(kBuckets);
  count = 0;
  sum = 0;

  /** Records one latency in ms. */
  record(ms: number): void {
    let i = 0;
    // NaN, negatives, zero and anything under the smallest edge land in bucket 0.
    if (ms >= kMinMs) {
      float[0] = ms;
      i = (words[kHigh]! >>> kShift) - kBaseCode + 1;
      if (i > kLast) i = kLast;
    }
    this.#counts[i]!++;
    this.count++;
    if (ms > 0) this.sum += ms;
  }

  quantile(q: number): number {
    return quantileOf(this.#counts, this.count, q);
  }

  countsBelow(edgesMs: readonly number[]): number[] {
    const out: number[] = [];
    let total = 0;
    let i = 0;
    for (const edge of edgesMs) {
      for (; i < kLast && lowerEdgeMs(i + 1) <= edge; i++) total += this.#counts[i]!;
      out.push(total);
    }
    return out;
  }

  snapshot(): Float64Array {
    return this.#counts.slice();
  }

  quantileSince(earlier: Float64Array, q: number): number {
    const delta = new Float64Array(kBuckets);
    let count = 0;
    for (let i = 0; i < kBuckets; i++) {
      delta[i] = this.#counts[i]! - (earlier[i] ?? 0);
      count += delta[i]!;
    }
    return quantileOf(delta, count, q);
  }
}

/** The middle of the bucket holding quantile `q` (the last bucket reads as its lower edge). */
function quantileOf(counts: Float64Array, count: number, q: number): number {
  if (count <= 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let i = 0; i < kLast; i++) {
    seen += counts[i]!;
    if (seen >= rank) return (lowerEdgeMs(i) + lowerEdgeMs(i + 1)) / 2;
  }
  return lowerEdgeMs(kLast);
}
